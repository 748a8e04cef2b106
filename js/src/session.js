// What both widgets share: the frame around the card (progress, filters, help, prev/next/skip/undo,
// notices and errors), rows fetched from the kernel a page at a time, saving a change and showing it
// saved only after the kernel answers, undo, focus, and the one cleanup that removes every listener.
//
// A widget is a function `define(shell)` returning what differs:
//   { className, filters: [nodes], above: [nodes], filter: {…}, footer, empty, unsaved,
//     undoneText, help() → {rows, note}, doneText(row, status) → text | null,
//     card(row) → [nodes], keyAction(event, ctx) → action | null, act(action, target) }
// Buttons carry data-action (and data-value, JSON) instead of their own listeners: the root has one
// click handler, which also gives the focus back to the widget so the next key is never lost.
import { client } from "./comm.js";
import { h, helpOverlay, formatEta } from "./render.js";

export const PAGE = 20;
const FIELD_TAGS = /^(INPUT|TEXTAREA|SELECT)$/;

/** True for an element that takes typing: an input, a textarea, a select, or an editor. */
export function isField(node) {
  return Boolean(node && node.nodeType === 1 && (FIELD_TAGS.test(node.tagName) || node.isContentEditable));
}

/** Focus `root` unless someone is typing (an editor or an input has the focus): in a notebook's
 * command mode the keys then reach the widget without a first click. */
export function focusUnlessTyping(root) {
  const active = root.ownerDocument.activeElement;
  if (root.contains(active)) return active === root;
  if (isField(active) || active?.closest?.(".hl-root")) return false; // typing, or in another widget
  root.focus({ preventScroll: true });
  return true;
}

/** An action from an element's data-action / data-value attributes. */
export function actionOf(node) {
  const type = node.dataset.action;
  const raw = node.dataset.value;
  return raw === undefined ? { type } : { type, value: JSON.parse(raw) };
}

export function mount({ model, el }, define) {
  const cfg = model.get("config") || {};
  const api = client(model);
  const cleanups = [];
  const listen = (target, type, fn, capture = false) => {
    target.addEventListener(type, fn, capture);
    cleanups.push(() => target.removeEventListener(type, fn, capture));
  };
  const watch = (event, fn) => {
    model.on(event, fn);
    cleanups.push(() => model.off(event, fn));
  };
  const state = { cursor: 0, total: null, rows: new Map(), loading: null, filter: {}, status: new Map(), overlay: false, seq: 0 };

  const root = h("div", { class: "hl-root", tabindex: "0", "data-lm-suppress-shortcuts": "true" });
  const card = h("div", { class: "hl-card" });
  const notice = h("div", { class: "hl-notice", role: "status", "aria-live": "polite" });
  const errorBox = h("pre", { class: "hl-error", role: "alert", hidden: true });
  const cbError = h("pre", { class: "hl-cb-error", role: "alert", hidden: true });
  const focus = () => root.focus({ preventScroll: true });
  const say = (text) => { notice.textContent = text; };
  const showError = (msg) => { errorBox.hidden = !msg; errorBox.textContent = msg || ""; };
  const currentRow = () => state.rows.get(state.cursor);

  const shell = {
    model, cfg, api, state, root, card, listen, watch, focus, say, showError, currentRow,
    go: (i) => go(i), paint: () => paint(), save: (...a) => save(...a), badge: (row) => badge(row),
    setFilter: (f) => setFilter(f),
  };
  const w = define(shell);
  state.filter = w.filter;

  // ---- the frame around the card -----------------------------------------------------------
  const progressBar = h("div", { class: "hl-bar-fill" });
  const progressText = h("div", { class: "hl-progress-text" });
  const button = (cls, text, action) => h("button", { type: "button", class: cls, text, "data-action": action });
  const helpBtn = h("button", { type: "button", class: "hl-help-btn", title: "keyboard shortcuts (?)", text: "?", "data-action": "help" });
  const prevBtn = button("hl-prev", "← prev (k)", "prev");
  const nextBtn = button("hl-next", "next (j) →", "next");
  const position = h("span", { class: "hl-position" });
  root.classList.add(w.className);
  root.append(
    h("div", { class: "hl-top" },
      h("div", { class: "hl-progress" }, h("div", { class: "hl-bar" }, progressBar), progressText),
      h("div", { class: "hl-filters" }, ...w.filters, helpBtn)),
    ...(w.above || []),
    card,
    h("div", { class: "hl-nav" }, prevBtn, position, nextBtn, button("hl-skip", "skip (s)", "skip"), button("hl-undo", "↶ undo (u)", "undo")),
    notice, errorBox, cbError,
    h("div", { class: "hl-footer", text: w.footer }));
  el.classList.add("hl-widget");
  el.append(root);

  const paintProgress = () => {
    const p = model.get("progress") || {};
    const noun = cfg.done || "labelled";
    const done = p[noun] ?? 0;
    progressBar.style.width = `${p.total ? ((100 * done) / p.total).toFixed(2) : 0}%`;
    const parts = [`${done.toLocaleString()} of ${(p.total ?? 0).toLocaleString()} ${noun}`];
    const who = Object.entries(p.per_annotator || {});
    if (who.length) parts.push(who.map(([k, v]) => `${k} ${v.toLocaleString()}`).join(", "));
    const tally = Object.entries(p.tally || {});
    if (tally.length) parts.push(tally.map(([k, v]) => `${k} ${v}`).join(", "));
    if (p.rate_per_min) parts.push(`${p.rate_per_min.toFixed(1)}/min`);
    const eta = formatEta(p.eta_s);
    if (eta) parts.push(`~${eta} left`);
    progressText.textContent = parts.join(" · ");
  };
  const showCbError = () => {
    const t = model.get("callback_error") || "";
    cbError.hidden = !t;
    cbError.textContent = t;
  };

  // ---- rows from the kernel -----------------------------------------------------------------
  const pageKey = (start) => `${start}|${JSON.stringify(state.filter)}`;
  async function load(index) {
    const start = Math.max(0, Math.floor(index / PAGE) * PAGE);
    const key = pageKey(start);
    if (state.loading && state.loading.key === key) return state.loading.promise;
    const promise = api.request({ kind: "rows", start, count: PAGE, filter: state.filter }).then((r) => {
      if (key !== pageKey(start)) return; // the filter changed meanwhile
      state.total = r.total;
      r.rows.forEach((row, i) => state.rows.set(r.start + i, row));
    });
    state.loading = { key, promise };
    try { await promise; } finally { if (state.loading?.key === key) state.loading = null; }
  }

  async function go(index) {
    if (state.total !== null) index = Math.max(0, Math.min(index, Math.max(state.total - 1, 0)));
    state.cursor = index;
    w.leave?.();
    if (!state.rows.has(index) && (state.total === null || index < state.total)) {
      card.classList.add("hl-loading");
      try { await load(index); showError(""); } catch (err) { showError(`Could not load rows: ${err.message}`); }
      card.classList.remove("hl-loading");
    }
    if (state.cursor !== index) return;
    paint();
    // prefetch the next page a little before it is needed
    if (state.total !== null && index + 5 < state.total && !state.rows.has(index + 5)) load(index + 5).catch(() => {});
  }

  function setFilter(filter) {
    state.filter = filter;
    state.rows.clear();
    state.total = null;
    focus();
    return go(0);
  }

  function badge(row) {
    const st = state.status.get(row.pos);
    const b = h("span", { class: "hl-badge" });
    const done = w.doneText(row, st);
    if (st?.state === "saving") { b.classList.add("hl-saving"); b.textContent = "saving…"; }
    else if (st?.state === "error") { b.classList.add("hl-failed"); b.textContent = "⚠ not saved"; b.title = st.text; }
    else if (done) {
      b.classList.add("hl-saved");
      b.textContent = done;
      if (row.annotator) b.title = `by ${row.annotator}${row.labelled_at ? " at " + row.labelled_at : ""}`;
    } else { b.classList.add("hl-unlabelled"); b.textContent = w.undoneText; }
    return b;
  }

  function paint() {
    const hadFocus = card.contains(root.ownerDocument.activeElement);
    card.textContent = "";
    const total = state.total ?? 0;
    position.textContent = total ? `${(state.cursor + 1).toLocaleString()} / ${total.toLocaleString()}` : "0 / 0";
    prevBtn.disabled = state.cursor <= 0;
    nextBtn.disabled = state.cursor >= total - 1;
    const row = currentRow();
    if (!row) {
      card.append(h("div", { class: "hl-empty", text: total === 0 ? w.empty : "Loading…" }));
      root.dataset.pos = "";
    } else {
      root.dataset.pos = String(row.pos);
      card.append(...w.card(row));
    }
    // the focused button went with the old card: the widget keeps the keys
    if (hadFocus && !root.contains(root.ownerDocument.activeElement)) focus();
  }
  const paintIfCurrent = (pos) => { if (currentRow()?.pos === pos) paint(); };
  const replaceRow = (row) => { for (const [i, r] of state.rows) if (r.pos === row.pos) state.rows.set(i, row); };

  // ---- changes ------------------------------------------------------------------------------
  /** Send a change of row `pos`; it shows as saved only when the kernel says it is. */
  async function save(pos, msg, what) {
    const seq = ++state.seq;
    state.status.set(pos, { state: "saving" });
    root.dataset.saving = String(seq);
    paintIfCurrent(pos);
    try {
      const r = await api.request({ ...msg, pos });
      replaceRow(r.row);
      state.status.set(pos, { state: "saved", journaled: r.journaled });
      showError("");
      say(`✓ row ${r.index} saved${r.journaled ? " to the store" : " in the DataFrame"}: ${what}`);
      root.dataset.saved = String(seq);
      if (r.advance && currentRow()?.pos === pos && state.cursor < (state.total ?? 0) - 1) await go(state.cursor + 1);
      else paintIfCurrent(pos);
      return true;
    } catch (err) {
      state.status.set(pos, { state: "error", text: err.message });
      showError(`Not saved (${w.unsaved}): ${err.message}`);
      root.dataset.failed = String(seq);
      paintIfCurrent(pos);
      return false;
    }
  }

  async function undo() {
    try {
      const r = await api.request({ kind: "undo" });
      if (r.nothing) { say("nothing to undo"); return; }
      replaceRow(r.row);
      state.status.set(r.pos, { state: "saved", journaled: r.journaled });
      say(`↶ undid the last change on row ${r.index}`);
      for (const [i, row] of state.rows) if (row.pos === r.pos) { state.cursor = i; break; }
      w.leave?.();
      paint();
    } catch (err) { showError(`Undo failed: ${err.message}`); }
  }

  let overlay = null;
  function toggleHelp() {
    state.overlay = !state.overlay;
    if (state.overlay) {
      overlay = helpOverlay("Keyboard shortcuts", w.help());
      root.append(overlay);
    } else { overlay?.remove(); overlay = null; }
    focus();
  }

  function run(a, target) {
    const row = currentRow();
    switch (a.type) {
      case "next": return go(state.cursor + 1);
      case "prev": return go(state.cursor - 1);
      case "skip": say(row ? `skipped row ${row.index}` : ""); return go(state.cursor + 1);
      case "undo": return undo();
      case "help": return toggleHelp();
      case "escape": if (state.overlay) toggleHelp(); return;
      case "blur": target?.blur(); focus(); return;
      default: return w.act(a, target);
    }
  }

  // ---- events: one handler each, on the root; all removed on cleanup --------------------------
  listen(root, "keydown", (e) => {
    const t = e.target;
    const typing = isField(t) && t !== root;
    e.stopPropagation(); // keys inside the widget never reach the notebook's shortcuts
    const a = w.keyAction(e, { typing, target: t, overlay: state.overlay });
    if (!a) return;
    e.preventDefault();
    run(a, t);
  });
  listen(root, "click", (e) => {
    const target = e.target.closest?.("[data-action]");
    if (target && root.contains(target) && !target.disabled) run(actionOf(target), target);
    // after any button, the keys go to the widget again (unless the action opened a field)
    if (e.target.closest?.("button") && !isField(root.ownerDocument.activeElement)) focus();
  });
  listen(root, "dblclick", (e) => {
    const target = e.target.closest?.("[data-dblaction]");
    if (target && root.contains(target)) run({ type: target.dataset.dblaction, value: JSON.parse(target.dataset.value) }, target);
  });
  // A click elsewhere gives the focus back: the notebook keeps the focus the widget took on render
  // unless we let go, and Shift+Enter on the cell just clicked would be swallowed by the widget.
  listen(root.ownerDocument, "pointerdown", (e) => {
    const active = root.ownerDocument.activeElement;
    if (!root.contains(e.target) && active && root.contains(active)) active.blur();
  }, true);
  watch("change:progress", paintProgress);
  watch("change:callback_error", showCbError);
  paintProgress();
  showCbError();
  focusUnlessTyping(root);
  go(0).then(() => {
    root.dataset.ready = "1";
    focusUnlessTyping(root);
  });

  return () => {
    api.close();
    for (const undoIt of cleanups.splice(0)) undoIt();
    root.remove();
    el.classList.remove("hl-widget");
  };
}

// The annotator: one item at a time, keyboard first. Rows come from the kernel on request; a change
// shows as saved only after the kernel answers that the DataFrame and the store have it.
import css from "./style.css";
import { client } from "./comm.js";
import { annotateAction, ANNOTATE_HELP } from "./keys.js";
import { diffWords, renderDiff } from "./diff.js";
import { h, chips, textCell, promptBlock, helpOverlay, formatEta } from "./render.js";

const PAGE = 20;

export function render({ model, el }) {
  const cfg = model.get("config") || {};
  const labels = cfg.labels || [];
  const rating = cfg.rating || null;
  const api = client(model);

  const state = {
    cursor: 0, total: null, rows: new Map(), loading: null, filter: { status: "all", label: "", text: "" },
    editing: false, overlay: false, status: new Map(), // pos → {state: saving|saved|error, text}
    seq: 0,
  };

  // ---- skeleton --------------------------------------------------------------------------
  const style = h("style", { text: css });
  const progressBar = h("div", { class: "hl-bar-fill" });
  const progressText = h("div", { class: "hl-progress-text" });
  const statusSel = h("select", { class: "hl-filter-status", "aria-label": "show" },
    h("option", { value: "all", text: "all rows" }), h("option", { value: "unlabelled", text: "unlabelled" }),
    h("option", { value: "labelled", text: "labelled" }));
  const labelSel = h("select", { class: "hl-filter-label", "aria-label": "label" },
    h("option", { value: "", text: "any label" }), ...labels.map((l) => h("option", { value: l, text: l })));
  const search = h("input", { class: "hl-search", type: "search", placeholder: "search  ( / )", "aria-label": "search" });
  const helpBtn = h("button", { type: "button", class: "hl-help-btn", title: "keyboard shortcuts (?)", text: "?" });
  const top = h("div", { class: "hl-top" },
    h("div", { class: "hl-progress" }, h("div", { class: "hl-bar" }, progressBar), progressText),
    h("div", { class: "hl-filters" }, statusSel, labelSel, search, helpBtn));
  const card = h("div", { class: "hl-card" });
  const prevBtn = h("button", { type: "button", class: "hl-prev", text: "← prev (k)" });
  const skipBtn = h("button", { type: "button", class: "hl-skip", text: "skip (s)" });
  const nextBtn = h("button", { type: "button", class: "hl-next", text: "next (j) →" });
  const undoBtn = h("button", { type: "button", class: "hl-undo", text: "↶ undo (u)" });
  const position = h("span", { class: "hl-position" });
  const nav = h("div", { class: "hl-nav" }, prevBtn, position, nextBtn, skipBtn, undoBtn);
  const notice = h("div", { class: "hl-notice", role: "status", "aria-live": "polite" });
  const errorBox = h("pre", { class: "hl-error", role: "alert", hidden: true });
  const cbError = h("pre", { class: "hl-cb-error", role: "alert", hidden: true });
  const modelPanel = h("div", { class: "hl-model", hidden: true });
  const footer = h("div", { class: "hl-footer", text: cfg.store ? `store: ${cfg.store}` : "no store: labels are kept in the DataFrame only" });
  const root = h("div", { class: "hl-root hl-annotate", tabindex: "0", "data-lm-suppress-shortcuts": "true" },
    style, top, modelPanel, card, nav, notice, errorBox, cbError, footer);
  el.classList.add("hl-widget");
  el.append(root);

  // ---- helpers ---------------------------------------------------------------------------
  const showError = (msg) => {
    errorBox.hidden = !msg;
    errorBox.textContent = msg || "";
  };
  const showCbError = () => {
    const t = model.get("callback_error") || "";
    cbError.hidden = !t;
    cbError.textContent = t;
  };
  const paintProgress = () => {
    const p = model.get("progress") || {};
    const pct = p.total ? (100 * p.labelled) / p.total : 0;
    progressBar.style.width = `${pct.toFixed(2)}%`;
    const parts = [`${(p.labelled ?? 0).toLocaleString()} of ${(p.total ?? 0).toLocaleString()} labelled`];
    const who = Object.entries(p.per_annotator || {});
    if (who.length) parts.push(who.map(([k, v]) => `${k} ${v.toLocaleString()}`).join(", "));
    if (p.rate_per_min) parts.push(`${p.rate_per_min.toFixed(1)}/min`);
    const eta = formatEta(p.eta_s);
    if (eta) parts.push(`~${eta} left`);
    progressText.textContent = parts.join(" · ");
  };
  const paintModel = () => {
    const m = model.get("model_status") || {};
    modelPanel.hidden = !Object.keys(m).length;
    if (modelPanel.hidden) return;
    const parts = ["preference model"];
    if (m.accuracy !== null && m.accuracy !== undefined) {
      const ci = m.ci_low !== null && m.ci_low !== undefined ? ` (95% CI ${(100 * m.ci_low).toFixed(0)}–${(100 * m.ci_high).toFixed(0)}%)` : "";
      parts.push(`accuracy ${(100 * m.accuracy).toFixed(1)}%${ci}`);
    } else parts.push("not fitted yet");
    parts.push(`${m.n_labels ?? 0} labels in fit`, `${m.labels_since_fit ?? 0} since`);
    if (m.fitting) parts.push("refitting…");
    modelPanel.textContent = parts.join(" · ") + (m.error ? ` — ${m.error}` : "");
    modelPanel.classList.toggle("hl-model-error", Boolean(m.error));
  };
  const currentRow = () => state.rows.get(state.cursor);
  const filterMsg = () => ({ status: state.filter.status, label: state.filter.label || null, text: state.filter.text });

  async function load(index) {
    const start = Math.max(0, Math.floor(index / PAGE) * PAGE);
    const key = `${start}|${JSON.stringify(state.filter)}`;
    if (state.loading && state.loading.key === key) return state.loading.promise;
    const promise = api.request({ kind: "rows", start, count: PAGE, filter: filterMsg() }).then((r) => {
      if (key !== `${start}|${JSON.stringify(state.filter)}`) return; // filter changed meanwhile
      state.total = r.total;
      r.rows.forEach((row, i) => state.rows.set(r.start + i, row));
    });
    state.loading = { key, promise };
    try { await promise; } finally { if (state.loading?.key === key) state.loading = null; }
  }

  async function go(index) {
    if (state.total !== null) index = Math.max(0, Math.min(index, Math.max(state.total - 1, 0)));
    state.cursor = index;
    state.editing = false;
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

  function badge(row) {
    const st = state.status.get(row.pos);
    const b = h("span", { class: "hl-badge" });
    if (st?.state === "saving") { b.classList.add("hl-saving"); b.textContent = "saving…"; }
    else if (st?.state === "error") { b.classList.add("hl-failed"); b.textContent = "⚠ not saved"; b.title = st.text; }
    else if (row.label !== null || row.rating !== null || row.correction?.text !== null) {
      b.classList.add("hl-saved");
      b.textContent = st?.state === "saved" ? (st.journaled ? "✓ saved to store" : "✓ saved") : "✓ labelled";
      if (row.annotator) b.title = `by ${row.annotator}${row.labelled_at ? " at " + row.labelled_at : ""}`;
    } else { b.classList.add("hl-unlabelled"); b.textContent = "unlabelled"; }
    return b;
  }

  function paint() {
    card.textContent = "";
    const total = state.total ?? 0;
    position.textContent = total ? `${(state.cursor + 1).toLocaleString()} / ${total.toLocaleString()}` : "0 / 0";
    prevBtn.disabled = state.cursor <= 0;
    nextBtn.disabled = state.cursor >= total - 1;
    const row = currentRow();
    if (!row) {
      card.append(h("div", { class: "hl-empty", text: total === 0 ? "No rows match this filter." : "Loading…" }));
      root.dataset.pos = "";
      return;
    }
    root.dataset.pos = String(row.pos);
    const more = (field) => api.request({ kind: "cell", pos: row.pos, field });
    const head = h("div", { class: "hl-head" },
      h("span", { class: "hl-index", text: `row ${row.index}` }), chips(row.chips), badge(row));
    const completion = h("div", { class: "hl-completion" },
      h("div", { class: "hl-section", text: cfg.completion && cfg.completion !== "completion" ? cfg.completion : "Completion" }),
      textCell(row.completion, { markdown: true, field: "completion", more }));

    const labelBtns = h("div", { class: "hl-labels", role: "group", "aria-label": "labels" },
      ...labels.map((l, i) => {
        const b = h("button", { type: "button", class: "hl-label", "data-label": l, "aria-pressed": String(row.label === l) },
          h("kbd", { text: String(i + 1) }), " ", l);
        if (row.label === l) b.classList.add("hl-on");
        b.addEventListener("click", () => act({ type: "label", value: l }));
        return b;
      }));
    const controls = h("div", { class: "hl-controls" }, labelBtns);
    if (rating) {
      const stars = h("div", { class: "hl-stars", role: "group", "aria-label": "rating" });
      for (let n = 1; n <= rating; n++) {
        const s = h("button", { type: "button", class: "hl-star", "data-rating": n, title: `${n} (Shift+${n})`, text: (row.rating ?? 0) >= n ? "★" : "☆" });
        if ((row.rating ?? 0) >= n) s.classList.add("hl-on");
        s.addEventListener("click", () => act({ type: "rate", value: n }));
        stars.append(s);
      }
      controls.append(stars);
    }
    const editBtn = cfg.editable ? h("button", { type: "button", class: "hl-edit", text: "✎ edit (e)", onclick: () => act({ type: "edit" }) }) : null;
    if (editBtn) controls.append(editBtn);

    const parts = [head, promptBlock(row, { more }), completion, controls];
    if (cfg.editable) {
      if (state.editing) {
        const ta = h("textarea", { class: "hl-editor", rows: "8", "aria-label": "correction" });
        ta.value = row.correction?.text ?? row.completion?.text ?? "";
        const save = h("button", { type: "button", class: "hl-save-edit", text: "save correction (Ctrl/⌘+Enter)", onclick: () => act({ type: "save-edit" }) });
        const cancel = h("button", { type: "button", class: "hl-cancel-edit", text: "cancel (Esc)", onclick: () => act({ type: "cancel-edit" }) });
        parts.push(h("div", { class: "hl-edit-box" }, ta, h("div", { class: "hl-edit-actions" }, save, cancel)));
        queueMicrotask(() => ta.focus());
      } else if (row.correction?.text !== null && row.correction?.text !== undefined) {
        const d = h("div", { class: "hl-diff", "aria-label": "saved correction (diff)" });
        renderDiff(d, diffWords(row.completion?.text ?? "", row.correction.text));
        parts.push(h("div", { class: "hl-correction" }, h("div", { class: "hl-section", text: "Saved correction" }), d));
      }
    }
    const comment = h("input", { class: "hl-comment", type: "text", placeholder: "comment (c, Enter saves)", "aria-label": "comment" });
    comment.value = row.comment ?? "";
    parts.push(comment);
    card.append(...parts);
  }

  async function send(pos, fields, { advance = false } = {}) {
    const seq = ++state.seq;
    state.status.set(pos, { state: "saving" });
    root.dataset.saving = String(seq);
    paintIfCurrent(pos);
    try {
      const r = await api.request({ kind: "feedback", pos, fields });
      for (const [i, row] of state.rows) if (row.pos === r.row.pos) state.rows.set(i, r.row);
      state.status.set(pos, { state: "saved", journaled: r.journaled });
      model.set("progress", r.progress);
      showError("");
      notice.textContent = `✓ row ${r.index} saved${r.journaled ? " to the store" : " in the DataFrame"}: ${describe(fields)}`;
      root.dataset.saved = String(seq);
      if (advance && currentRow()?.pos === pos && state.cursor < (state.total ?? 0) - 1) await go(state.cursor + 1);
      else paintIfCurrent(pos);
      return true;
    } catch (err) {
      state.status.set(pos, { state: "error", text: err.message });
      showError(`Not saved (row stays unsaved): ${err.message}`);
      root.dataset.failed = String(seq);
      paintIfCurrent(pos);
      return false;
    }
  }
  const describe = (f) => Object.entries(f).map(([k, v]) => (v === null ? `${k} cleared` : k === "correction" ? "correction" : `${k} ${v}`)).join(", ");
  const paintIfCurrent = (pos) => { if (currentRow()?.pos === pos) paint(); };

  async function act(a) {
    const row = currentRow();
    switch (a.type) {
      case "next": return go(state.cursor + 1);
      case "prev": return go(state.cursor - 1);
      case "skip": notice.textContent = row ? `skipped row ${row.index}` : ""; return go(state.cursor + 1);
      case "label": if (row) return send(row.pos, { label: row.label === a.value ? null : a.value }, { advance: row.label !== a.value }); return;
      case "rate": if (row) return send(row.pos, { rating: a.value }); return;
      case "edit": if (row && cfg.editable) { state.editing = true; paint(); } return;
      case "cancel-edit": state.editing = false; paint(); root.focus(); return;
      case "save-edit": {
        const ta = card.querySelector(".hl-editor");
        if (!row || !ta) return;
        const text = ta.value;
        state.editing = false;
        const ok = await send(row.pos, { correction: text });
        if (!ok) { state.editing = true; paint(); card.querySelector(".hl-editor").value = text; }
        root.focus();
        return;
      }
      case "comment": card.querySelector(".hl-comment")?.focus(); return;
      case "undo": {
        try {
          const r = await api.request({ kind: "undo" });
          if (r.nothing) { notice.textContent = "nothing to undo"; return; }
          for (const [i, rw] of state.rows) if (rw.pos === r.row.pos) state.rows.set(i, r.row);
          state.status.set(r.pos, { state: "saved", journaled: r.journaled });
          model.set("progress", r.progress);
          notice.textContent = `↶ undid the last change on row ${r.index}`;
          // show the item that was undone
          for (const [i, rw] of state.rows) if (rw.pos === r.pos) { state.cursor = i; break; }
          paint();
        } catch (err) { showError(`Undo failed: ${err.message}`); }
        return;
      }
      case "filter": search.focus(); search.select(); return;
      case "help": return toggleHelp();
      case "escape": if (state.overlay) toggleHelp(); return;
      default: return;
    }
  }

  let overlayEl = null;
  function toggleHelp() {
    state.overlay = !state.overlay;
    if (state.overlay) {
      overlayEl = helpOverlay("Keyboard shortcuts", ANNOTATE_HELP, () => toggleHelp());
      root.append(overlayEl);
    } else { overlayEl?.remove(); overlayEl = null; root.focus(); }
  }

  function applyFilter() {
    state.filter = { status: statusSel.value, label: labelSel.value, text: search.value };
    state.rows.clear();
    state.total = null;
    go(0);
  }

  // ---- events ----------------------------------------------------------------------------
  const onKey = (e) => {
    const t = e.target;
    const typing = t && (t.tagName === "INPUT" || t.tagName === "SELECT" || (t.tagName === "TEXTAREA" && !t.classList.contains("hl-editor")));
    const a = annotateAction(e, { labels, rating, editing: state.editing && t?.classList?.contains("hl-editor"), typing, overlay: state.overlay, editable: cfg.editable });
    e.stopPropagation(); // keys inside the widget never reach the notebook's shortcuts
    if (!a) return;
    e.preventDefault();
    if (a.type === "blur") { t.blur(); root.focus(); return; }
    if (a.type === "submit") {
      if (t === search) { applyFilter(); root.focus(); return; }
      if (t.classList.contains("hl-comment")) {
        const row = currentRow();
        if (row) send(row.pos, { comment: t.value }).then(() => root.focus());
      }
      return;
    }
    act(a);
  };
  root.addEventListener("keydown", onKey);
  statusSel.addEventListener("change", applyFilter);
  labelSel.addEventListener("change", applyFilter);
  search.addEventListener("search", applyFilter);
  prevBtn.addEventListener("click", () => act({ type: "prev" }));
  nextBtn.addEventListener("click", () => act({ type: "next" }));
  skipBtn.addEventListener("click", () => act({ type: "skip" }));
  undoBtn.addEventListener("click", () => act({ type: "undo" }));
  helpBtn.addEventListener("click", () => act({ type: "help" }));
  model.on("change:progress", paintProgress);
  model.on("change:callback_error", showCbError);
  model.on("change:model_status", paintModel);
  paintModel();
  paintProgress();
  showCbError();
  go(0).then(() => { root.dataset.ready = "1"; });

  return () => {
    api.close();
    model.off("change:progress", paintProgress);
    model.off("change:callback_error", showCbError);
  };
}

export default { render };

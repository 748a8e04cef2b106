// Blind A/B judging. The kernel decides which column is on which side (seeded per row) and maps
// screen votes back to the original columns; the browser only ever sees "left" and "right".
import css from "./style.css";
import { client } from "./comm.js";
import { compareAction, COMPARE_HELP } from "./keys.js";
import { h, textCell, promptBlock, helpOverlay } from "./render.js";

const PAGE = 20;
const VOTE_TEXT = { left: "left is better", right: "right is better", tie: "tie", both_bad: "both bad" };

export function render({ model, el }) {
  const cfg = model.get("config") || {};
  const api = client(model);
  const state = { cursor: 0, total: null, rows: new Map(), status: new Map(), overlay: false, seq: 0, filter: "all" };

  const progressBar = h("div", { class: "hl-bar-fill" });
  const progressText = h("div", { class: "hl-progress-text" });
  const statusSel = h("select", { class: "hl-filter-status", "aria-label": "show" },
    h("option", { value: "all", text: "all pairs" }), h("option", { value: "unjudged", text: "not judged yet" }));
  const helpBtn = h("button", { type: "button", class: "hl-help-btn", title: "keyboard shortcuts (?)", text: "?" });
  const card = h("div", { class: "hl-card" });
  const prevBtn = h("button", { type: "button", class: "hl-prev", text: "← prev (k)" });
  const nextBtn = h("button", { type: "button", class: "hl-next", text: "next (j) →" });
  const undoBtn = h("button", { type: "button", class: "hl-undo", text: "↶ undo (u)" });
  const position = h("span", { class: "hl-position" });
  const notice = h("div", { class: "hl-notice", role: "status", "aria-live": "polite" });
  const errorBox = h("pre", { class: "hl-error", role: "alert", hidden: true });
  const cbError = h("pre", { class: "hl-cb-error", role: "alert", hidden: true });
  const root = h("div", { class: "hl-root hl-compare", tabindex: "0", "data-lm-suppress-shortcuts": "true" },
    h("style", { text: css }),
    h("div", { class: "hl-top" },
      h("div", { class: "hl-progress" }, h("div", { class: "hl-bar" }, progressBar), progressText),
      h("div", { class: "hl-filters" }, statusSel, helpBtn)),
    card,
    h("div", { class: "hl-nav" }, prevBtn, position, nextBtn, undoBtn),
    notice, errorBox, cbError,
    h("div", { class: "hl-footer", text: cfg.journaled ? `votes journaled to ${cfg.store}` : "votes are kept in the DataFrame (add log_id_a/log_id_b to journal them)" }));
  el.classList.add("hl-widget");
  el.append(root);

  const showError = (m) => { errorBox.hidden = !m; errorBox.textContent = m || ""; };
  const showCbError = () => { const t = model.get("callback_error") || ""; cbError.hidden = !t; cbError.textContent = t; };
  const paintProgress = () => {
    const p = model.get("progress") || {};
    progressBar.style.width = `${p.total ? ((100 * p.judged) / p.total).toFixed(2) : 0}%`;
    const tally = Object.entries(p.tally || {}).map(([k, v]) => `${k} ${v}`).join(", ");
    progressText.textContent = `${(p.judged ?? 0).toLocaleString()} of ${(p.total ?? 0).toLocaleString()} judged${tally ? " · " + tally : ""}`;
  };
  const currentRow = () => state.rows.get(state.cursor);

  async function load(index) {
    const start = Math.floor(index / PAGE) * PAGE;
    const filter = state.filter;
    const r = await api.request({ kind: "rows", start, count: PAGE, filter: { status: filter } });
    if (filter !== state.filter) return;
    state.total = r.total;
    r.rows.forEach((row, i) => state.rows.set(r.start + i, row));
  }
  async function go(index) {
    if (state.total !== null) index = Math.max(0, Math.min(index, Math.max(state.total - 1, 0)));
    state.cursor = index;
    if (!state.rows.has(index) && (state.total === null || index < state.total)) {
      try { await load(index); showError(""); } catch (err) { showError(`Could not load rows: ${err.message}`); }
    }
    if (state.cursor === index) paint();
    if (state.total !== null && index + 5 < state.total && !state.rows.has(index + 5)) load(index + 5).catch(() => {});
  }

  function side(row, which) {
    const voted = row.vote === which || row.vote === "tie" || row.vote === "both_bad";
    const box = h("div", { class: `hl-side hl-side-${which}${row.vote === which ? " hl-win" : ""}${row.vote === "both_bad" ? " hl-bad" : ""}` },
      h("div", { class: "hl-section", text: which === "left" ? "Left  (← or 1)" : "Right  (→ or 2)" }),
      textCell(row[which], { markdown: true, field: which, more: (field) => api.request({ kind: "cell", pos: row.pos, field }) }));
    box.dataset.voted = String(voted);
    box.addEventListener("dblclick", () => vote(which));
    return box;
  }

  function paint() {
    card.textContent = "";
    const total = state.total ?? 0;
    position.textContent = total ? `${state.cursor + 1} / ${total}` : "0 / 0";
    prevBtn.disabled = state.cursor <= 0;
    nextBtn.disabled = state.cursor >= total - 1;
    const row = currentRow();
    if (!row) { card.append(h("div", { class: "hl-empty", text: total === 0 ? "No pairs to judge." : "Loading…" })); return; }
    root.dataset.pos = String(row.pos);
    const st = state.status.get(row.pos);
    const badge = h("span", { class: "hl-badge" });
    if (st?.state === "saving") { badge.classList.add("hl-saving"); badge.textContent = "saving…"; }
    else if (st?.state === "error") { badge.classList.add("hl-failed"); badge.textContent = "⚠ not saved"; badge.title = st.text; }
    else if (row.vote) { badge.classList.add("hl-saved"); badge.textContent = `✓ ${VOTE_TEXT[row.vote]}`; }
    else { badge.classList.add("hl-unlabelled"); badge.textContent = "not judged"; }
    const buttons = h("div", { class: "hl-votes", role: "group", "aria-label": "vote" },
      ...["left", "tie", "both_bad", "right"].map((v) => {
        const key = { left: "←", right: "→", tie: "=", both_bad: "x" }[v];
        const b = h("button", { type: "button", class: `hl-vote hl-vote-${v}`, "data-vote": v, "aria-pressed": String(row.vote === v) }, h("kbd", { text: key }), " ", VOTE_TEXT[v]);
        if (row.vote === v) b.classList.add("hl-on");
        b.addEventListener("click", () => vote(v));
        return b;
      }));
    card.append(
      h("div", { class: "hl-head" }, h("span", { class: "hl-index", text: `row ${row.index}` }), badge),
      promptBlock(row, { more: (field) => api.request({ kind: "cell", pos: row.pos, field }) }),
      h("div", { class: "hl-sides" }, side(row, "left"), side(row, "right")),
      buttons);
  }

  async function vote(v) {
    const row = currentRow();
    if (!row) return;
    const seq = ++state.seq;
    state.status.set(row.pos, { state: "saving" });
    paint();
    try {
      const r = await api.request({ kind: "vote", pos: row.pos, vote: v });
      for (const [i, rw] of state.rows) if (rw.pos === r.row.pos) state.rows.set(i, r.row);
      state.status.set(row.pos, { state: "saved" });
      showError("");
      notice.textContent = `✓ row ${r.index}: ${VOTE_TEXT[v]} — saved${r.journaled ? " to the store" : " in the DataFrame"}`;
      root.dataset.saved = String(seq);
      if (currentRow()?.pos === row.pos && state.cursor < (state.total ?? 0) - 1) await go(state.cursor + 1);
      else paint();
    } catch (err) {
      state.status.set(row.pos, { state: "error", text: err.message });
      showError(`Not saved (pair stays unjudged): ${err.message}`);
      paint();
    }
  }

  async function undo() {
    try {
      const r = await api.request({ kind: "undo" });
      if (r.nothing) { notice.textContent = "nothing to undo"; return; }
      for (const [i, rw] of state.rows) if (rw.pos === r.row.pos) { state.rows.set(i, r.row); state.cursor = i; }
      state.status.delete(r.pos);
      notice.textContent = `↶ undid the vote on row ${r.index}`;
      paint();
    } catch (err) { showError(`Undo failed: ${err.message}`); }
  }

  let overlayEl = null;
  function toggleHelp() {
    state.overlay = !state.overlay;
    if (state.overlay) { overlayEl = helpOverlay("Keyboard shortcuts", COMPARE_HELP, toggleHelp); root.append(overlayEl); }
    else { overlayEl?.remove(); overlayEl = null; root.focus(); }
  }

  root.addEventListener("keydown", (e) => {
    const t = e.target;
    e.stopPropagation();
    if (t && (t.tagName === "SELECT" || t.tagName === "INPUT")) return;
    const a = compareAction(e, { overlay: state.overlay });
    if (!a) return;
    e.preventDefault();
    if (a.type === "vote") vote(a.value);
    else if (a.type === "next" || a.type === "skip") go(state.cursor + 1);
    else if (a.type === "prev") go(state.cursor - 1);
    else if (a.type === "undo") undo();
    else if (a.type === "help") toggleHelp();
  });
  statusSel.addEventListener("change", () => { state.filter = statusSel.value; state.rows.clear(); state.total = null; go(0); });
  prevBtn.addEventListener("click", () => go(state.cursor - 1));
  nextBtn.addEventListener("click", () => go(state.cursor + 1));
  undoBtn.addEventListener("click", undo);
  helpBtn.addEventListener("click", toggleHelp);
  model.on("change:progress", paintProgress);
  model.on("change:callback_error", showCbError);
  paintProgress();
  showCbError();
  go(0).then(() => { root.dataset.ready = "1"; });
  return () => { api.close(); model.off("change:progress", paintProgress); model.off("change:callback_error", showCbError); };
}

export default { render };

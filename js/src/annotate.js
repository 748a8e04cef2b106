// The annotator's card: one item at a time, keyboard first (the frame around it is session.js).
// Labels are {name, icon}: the name is what the kernel stores, the icon is only shown beside it.
import { annotateAction, annotateHelp } from "./keys.js";
import { diffWords, renderDiff } from "./diff.js";
import { h, chips, textCell, promptBlock } from "./render.js";

/** The config's labels as {name, icon} (a plain string is a name without an icon). */
export function labelsOf(cfg) {
  return (cfg.labels || []).map((l) => (typeof l === "string" ? { name: l, icon: null } : { name: l.name, icon: l.icon ?? null }));
}

const describe = (fields) => Object.entries(fields)
  .map(([k, v]) => (v === null ? `${k} cleared` : k === "correction" ? "correction" : `${k} ${v}`)).join(", ");

export function annotator(shell) {
  const { cfg, api } = shell;
  const labels = labelsOf(cfg);
  const names = labels.map((l) => l.name);
  const rating = cfg.rating || null;
  let editing = false;

  const statusSel = h("select", { class: "hl-filter-status", "aria-label": "show" },
    h("option", { value: "all", text: "all rows" }), h("option", { value: "unlabelled", text: "unlabelled" }),
    h("option", { value: "labelled", text: "labelled" }));
  const labelSel = h("select", { class: "hl-filter-label", "aria-label": "label" },
    h("option", { value: "", text: "any label" }),
    ...labels.map((l) => h("option", { value: l.name, text: l.icon ? `${l.icon} ${l.name}` : l.name })));
  const search = h("input", { class: "hl-search", type: "search", placeholder: "search  ( / )", "aria-label": "search" });
  const readFilter = () => ({ status: statusSel.value, label: labelSel.value || null, text: search.value });
  const applyFilter = () => shell.setFilter(readFilter());
  shell.listen(statusSel, "change", applyFilter);
  shell.listen(labelSel, "change", applyFilter);
  shell.listen(search, "search", applyFilter);

  const modelPanel = h("div", { class: "hl-model", hidden: true });
  const paintModel = () => {
    const m = shell.model.get("model_status") || {};
    modelPanel.hidden = !Object.keys(m).length;
    if (modelPanel.hidden) return;
    const parts = ["preference model"];
    const refits = "fits" in m;
    if (m.accuracy !== null && m.accuracy !== undefined) {
      const ci = m.ci_low !== null && m.ci_low !== undefined ? ` (95% CI ${(100 * m.ci_low).toFixed(0)}–${(100 * m.ci_high).toFixed(0)}%)` : "";
      parts.push(`accuracy ${(100 * m.accuracy).toFixed(1)}%${ci}`);
    } else if (refits) parts.push("not fitted yet");
    if (refits) parts.push(`${m.n_labels ?? 0} labels in fit`, `${m.labels_since_fit ?? 0} since`);
    if (m.fitting) parts.push("refitting…");
    const o = m.order;
    if (o) {
      const by = o.model === "initial" ? "the given model" : o.model;
      parts.push(o.ranking ? "re-ranking the rows ahead…" : `rows ahead: most uncertain first of ${(o.pool ?? 0).toLocaleString()} scored by ${by}`);
    }
    const error = m.error || o?.error;
    modelPanel.textContent = parts.join(" · ") + (error ? ` — ${error}` : "");
    modelPanel.classList.toggle("hl-model-error", Boolean(error));
  };
  shell.watch("change:model_status", paintModel);
  paintModel();

  const send = (row, fields) => shell.save(row.pos, { kind: "feedback", fields }, describe(fields));

  function card(row) {
    const more = (field) => api.request({ kind: "cell", pos: row.pos, field });
    const head = h("div", { class: "hl-head" },
      h("span", { class: "hl-index", text: `row ${row.index}` }), chips(row.chips), shell.badge(row));
    const completion = h("div", { class: "hl-completion" },
      h("div", { class: "hl-section", text: cfg.completion && cfg.completion !== "completion" ? cfg.completion : "Completion" }),
      textCell(row.completion, { markdown: true, field: "completion", more }));
    const labelBtns = h("div", { class: "hl-labels", role: "group", "aria-label": "labels" },
      ...labels.map((l, i) => {
        const on = row.label === l.name;
        return h("button", {
          type: "button", class: `hl-label${on ? " hl-on" : ""}`, "data-action": "label", "data-value": JSON.stringify(l.name),
          "data-label": l.name, "aria-pressed": String(on), title: `${l.name} (${i + 1})`,
        }, h("kbd", { text: String(i + 1) }), " ",
        l.icon ? h("span", { class: "hl-icon", "aria-hidden": "true", text: l.icon }) : null, l.icon ? " " : null,
        h("span", { class: "hl-name", text: l.name }));
      }));
    const controls = h("div", { class: "hl-controls" }, labelBtns);
    if (rating) {
      const stars = h("div", { class: "hl-stars", role: "group", "aria-label": "rating" });
      for (let n = 1; n <= rating; n++) {
        const on = (row.rating ?? 0) >= n;
        stars.append(h("button", {
          type: "button", class: `hl-star${on ? " hl-on" : ""}`, "data-action": "rate", "data-value": String(n),
          "data-rating": n, title: `${n} (Shift+${n})`, text: on ? "★" : "☆",
        }));
      }
      controls.append(stars);
    }
    if (cfg.editable) controls.append(h("button", { type: "button", class: "hl-edit", text: "✎ edit (e)", "data-action": "edit" }));

    const parts = [head, promptBlock(row, { more }), completion, controls];
    if (cfg.editable) {
      if (editing) {
        const ta = h("textarea", { class: "hl-editor", rows: "8", "aria-label": "correction" });
        ta.value = row.correction?.text ?? row.completion?.text ?? "";
        parts.push(h("div", { class: "hl-edit-box" }, ta, h("div", { class: "hl-edit-actions" },
          h("button", { type: "button", class: "hl-save-edit", text: "save correction (Ctrl/⌘+Enter)", "data-action": "save-edit" }),
          h("button", { type: "button", class: "hl-cancel-edit", text: "cancel (Esc)", "data-action": "cancel-edit" }))));
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
    return parts;
  }

  async function act(a, target) {
    const row = shell.currentRow();
    switch (a.type) {
      case "label": if (row) return send(row, { label: row.label === a.value ? null : a.value }); return;
      case "rate": if (row) return send(row, { rating: a.value }); return;
      case "edit": if (row && cfg.editable) { editing = true; shell.paint(); } return;
      case "cancel-edit": editing = false; shell.paint(); shell.focus(); return;
      case "save-edit": {
        const ta = shell.card.querySelector(".hl-editor");
        if (!row || !ta) return;
        const text = ta.value;
        editing = false;
        const ok = await send(row, { correction: text });
        if (!ok) { editing = true; shell.paint(); shell.card.querySelector(".hl-editor").value = text; return; }
        shell.focus();
        return;
      }
      case "comment": shell.card.querySelector(".hl-comment")?.focus(); return;
      case "filter": search.focus(); search.select(); return;
      case "submit":
        if (target === search) return applyFilter();
        if (target?.classList.contains("hl-comment") && row) { await send(row, { comment: target.value }); shell.focus(); }
        return;
      default: return;
    }
  }

  return {
    className: "hl-annotate",
    filters: [statusSel, labelSel, search],
    above: [modelPanel],
    filter: readFilter(),
    footer: cfg.store ? `store: ${cfg.store}` : "no store: labels are kept in the DataFrame only",
    empty: "No rows match this filter.",
    unsaved: "row stays unsaved",
    undoneText: "unlabelled",
    help: () => annotateHelp(cfg),
    doneText(row, st) {
      if (row.label === null && row.rating === null && (row.correction?.text ?? null) === null) return null;
      return st?.state === "saved" ? (st.journaled ? "✓ saved to store" : "✓ saved") : "✓ labelled";
    },
    card,
    leave() { editing = false; },
    keyAction(e, ctx) {
      const inEditor = editing && ctx.target?.classList?.contains("hl-editor");
      return annotateAction(e, {
        labels: names, rating, editable: cfg.editable, overlay: ctx.overlay,
        editing: inEditor, typing: ctx.typing && !inEditor,
      });
    },
    act,
  };
}

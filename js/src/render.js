// DOM helpers shared by both widgets. Text goes in with textContent; markdown through sanitize.js.
// Elements get no listeners here (but "show more", which lives and dies with its cell): the
// widgets handle clicks in one delegated handler on their root, removed on cleanup.
import { renderMarkdown } from "./sanitize.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const CHIP_NAMES = {
  model: "model", prompt_version: "prompt", tokens: "tokens", total_tokens: "tokens",
  prompt_tokens: "prompt tokens", completion_tokens: "completion tokens", latency_ms: "latency",
  latency_s: "latency", latency: "latency", cost: "cost", source: "source",
};

export function chipText(key, value) {
  let v = value;
  if (key === "latency_ms" && typeof v === "number") v = v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`;
  else if ((key === "latency_s" || key === "latency") && typeof v === "number") v = `${v.toFixed(2)} s`;
  else if (typeof v === "number" && !Number.isInteger(v)) v = v.toFixed(4).replace(/0+$/, "");
  return `${CHIP_NAMES[key] || key}: ${v}`;
}

export function chips(obj) {
  const wrap = h("div", { class: "hl-chips" });
  for (const [k, v] of Object.entries(obj || {})) wrap.append(h("span", { class: "hl-chip", title: k, text: chipText(k, v) }));
  return wrap;
}

/**
 * A text cell (markdown or plain) with "show more" when the kernel clipped it.
 * cell = {text, length, truncated}; more(field) → Promise<{text}>.
 */
export function textCell(cell, { markdown = true, field, more, className = "" } = {}) {
  const body = h("div", { class: `hl-text ${markdown ? "hl-md" : "hl-plain"} ${className}` });
  const paint = (text) => {
    if (markdown) renderMarkdown(body, text);
    else {
      body.textContent = "";
      if (text === null || text === undefined) body.append(h("span", { class: "hl-missing", text: "(missing)" }));
      else body.textContent = text;
    }
  };
  paint(cell?.text ?? null);
  const wrap = h("div", { class: "hl-cell" }, body);
  if (cell?.truncated && more) {
    const btn = h("button", {
      class: "hl-more",
      type: "button",
      text: `show more (${cell.length.toLocaleString()} characters, ${cell.text.length.toLocaleString()} shown)`,
    });
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      btn.textContent = "loading…";
      try {
        const r = await more(field);
        paint(r.text);
        btn.remove();
      } catch (err) {
        btn.disabled = false;
        btn.textContent = `could not load: ${err.message}`;
      }
    });
    wrap.append(btn);
  }
  return wrap;
}

/** The prompt as a collapsible block; chat messages as turns. */
export function promptBlock(row, { more, open = true } = {}) {
  const det = h("details", { class: "hl-prompt" });
  det.open = open;
  const nTurns = row.messages ? row.messages.length : 0;
  det.append(h("summary", { text: nTurns ? `Prompt · ${nTurns} messages` : "Prompt" }));
  if (row.messages) {
    const turns = h("div", { class: "hl-turns" });
    for (const m of row.messages) {
      turns.append(h("div", { class: `hl-turn hl-role-${String(m.role).replace(/[^a-z_-]/gi, "")}` },
        h("div", { class: "hl-role", text: m.role }),
        textCell({ text: m.content, length: (m.content || "").length, truncated: false }, { markdown: true })));
    }
    det.append(turns);
  } else {
    det.append(textCell(row.prompt, { markdown: true, field: "prompt", more }));
  }
  return det;
}

/** The key map as a dialog: rows of [keys, what they do], and a note under them. Its close
 * button carries data-action="help", so the widget's one click handler closes it. */
export function helpOverlay(title, { rows, note }) {
  const table = h("table", { class: "hl-help-table" });
  for (const [k, v] of rows) table.append(h("tr", {}, h("td", {}, h("kbd", { text: k })), h("td", { text: v })));
  return h("div", { class: "hl-overlay", role: "dialog", "aria-label": title },
    h("div", { class: "hl-help" },
      h("div", { class: "hl-help-head" }, h("strong", { text: title }),
        h("button", { type: "button", class: "hl-close", text: "×", "aria-label": "close", "data-action": "help" })),
      table,
      note ? h("p", { class: "hl-help-note", text: note }) : null));
}

export function formatEta(seconds) {
  if (seconds === null || seconds === undefined) return null;
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

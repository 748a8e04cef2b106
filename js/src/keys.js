// The keyboard maps, as pure functions of a KeyboardEvent-like object (tested in vitest).

const isMod = (e) => e.ctrlKey || e.metaKey;

/**
 * What a key does in the annotator. ctx: {labels, rating, editing, typing, overlay}.
 * Returns {type, value?} or null when the key is not ours (it then goes to the page/editor).
 */
export function annotateAction(e, ctx) {
  const key = e.key;
  if (ctx.editing) {
    if (key === "Enter" && isMod(e)) return { type: "save-edit" };
    if (key === "Escape") return { type: "cancel-edit" };
    return null;
  }
  if (ctx.typing) {
    // comment or filter box
    if (key === "Escape") return { type: "blur" };
    if (key === "Enter" && !e.shiftKey) return { type: "submit" };
    return null;
  }
  if (ctx.overlay && (key === "Escape" || key === "?")) return { type: "help" };
  if (isMod(e) || e.altKey) return null;
  const digit = /^Digit([1-9])$/.exec(e.code || "");
  if (digit && e.shiftKey && ctx.rating) {
    const n = Number(digit[1]);
    return n <= ctx.rating ? { type: "rate", value: n } : null;
  }
  if (/^[1-9]$/.test(key)) {
    const n = Number(key);
    if (ctx.labels && n <= ctx.labels.length) return { type: "label", value: ctx.labels[n - 1] };
    if (!ctx.labels?.length && ctx.rating && n <= ctx.rating) return { type: "rate", value: n };
    return null;
  }
  switch (key) {
    case "j": case "ArrowDown": case "ArrowRight": return { type: "next" };
    case "k": case "ArrowUp": case "ArrowLeft": return { type: "prev" };
    case "e": return ctx.editable === false ? null : { type: "edit" };
    case "c": return { type: "comment" };
    case "u": return { type: "undo" };
    case "s": return { type: "skip" };
    case "/": return { type: "filter" };
    case "?": return { type: "help" };
    case "Escape": return { type: "escape" };
    default: return null;
  }
}

/** What a key does in the comparer. ctx: {typing, overlay}. */
export function compareAction(e, ctx = {}) {
  const key = e.key;
  if (ctx.typing) return key === "Escape" ? { type: "blur" } : null;
  if (ctx.overlay && (key === "Escape" || key === "?")) return { type: "help" };
  if (isMod(e) || e.altKey) return null;
  switch (key) {
    case "ArrowLeft": case "a": case "1": return { type: "vote", value: "left" };
    case "ArrowRight": case "b": case "2": return { type: "vote", value: "right" };
    case "=": return { type: "vote", value: "tie" };
    case "x": return { type: "vote", value: "both_bad" };
    case "j": case "ArrowDown": return { type: "next" };
    case "k": case "ArrowUp": return { type: "prev" };
    case "u": return { type: "undo" };
    case "s": return { type: "skip" };
    case "?": return { type: "help" };
    default: return null;
  }
}

/** When the annotator moves on to the next row, in words (for the help and the docs). */
export function advanceText(advance, rating) {
  if (advance === "never") return "It stays on the row after a change: press j for the next one (advance='never').";
  if (advance === "label") {
    return rating
      ? "It moves to the next row after a label; a star rating stays on the row (advance='label')."
      : "It moves to the next row after a label (advance='label').";
  }
  return rating
    ? "It moves to the next row once the row has both a label and a rating, in either order (advance='all')."
    : "It moves to the next row after a label (advance='all').";
}

/** The annotator's key map for `?`: {rows, note}. cfg is the widget's config. */
export function annotateHelp(cfg = {}) {
  const rows = [
    ["j / ↓ / →", "next item"],
    ["k / ↑ / ←", "previous item"],
    ["1 – 9", "choose a label (saved at once; again to clear)"],
  ];
  if (cfg.rating) rows.push([`Shift + 1 – ${Math.min(cfg.rating, 9)}`, "star rating (saved at once)"]);
  if (cfg.editable !== false) rows.push(["e", "edit the completion (correction)"], ["Ctrl/⌘ + Enter", "save the correction"]);
  rows.push(
    ["Esc", "cancel the edit / close"],
    ["c", "comment (Enter saves)"],
    ["u", "undo the last change"],
    ["s", "skip (next, unlabelled)"],
    ["/", "search / filter"],
    ["?", "show or hide this help"],
  );
  return { rows, note: advanceText(cfg.advance || "all", cfg.rating) };
}

export const COMPARE_HELP = {
  rows: [
    ["← / 1", "left is better"],
    ["→ / 2", "right is better"],
    ["=", "tie"],
    ["x", "both bad"],
    ["j / ↓", "next pair"],
    ["k / ↑", "previous pair"],
    ["u", "undo the last vote"],
    ["s", "skip"],
    ["?", "show or hide this help"],
  ],
  note: "A vote is saved at once and moves to the next pair.",
};

// The comparer's card: blind A/B judging (the frame around it is session.js). The kernel decides
// which column is on which side (seeded per row) and maps screen votes back to the original columns;
// the browser only ever sees "left" and "right".
import { compareAction, COMPARE_HELP } from "./keys.js";
import { h, textCell, promptBlock } from "./render.js";

export const VOTE_TEXT = { left: "left is better", right: "right is better", tie: "tie", both_bad: "both bad" };
const VOTE_KEY = { left: "←", right: "→", tie: "=", both_bad: "x" };

export function comparer(shell) {
  const { cfg, api } = shell;
  const statusSel = h("select", { class: "hl-filter-status", "aria-label": "show" },
    h("option", { value: "all", text: "all pairs" }), h("option", { value: "unjudged", text: "not judged yet" }));
  shell.listen(statusSel, "change", () => shell.setFilter({ status: statusSel.value }));

  function side(row, which) {
    const cls = `hl-side hl-side-${which}${row.vote === which ? " hl-win" : ""}${row.vote === "both_bad" ? " hl-bad" : ""}`;
    const voted = row.vote === which || row.vote === "tie" || row.vote === "both_bad";
    return h("div", { class: cls, "data-voted": String(voted), "data-dblaction": "vote", "data-value": JSON.stringify(which) },
      h("div", { class: "hl-section", text: which === "left" ? "Left  (← or 1)" : "Right  (→ or 2)" }),
      textCell(row[which], { markdown: true, field: which, more: (field) => api.request({ kind: "cell", pos: row.pos, field }) }));
  }

  function card(row) {
    const buttons = h("div", { class: "hl-votes", role: "group", "aria-label": "vote" },
      ...["left", "tie", "both_bad", "right"].map((v) => h("button", {
        type: "button", class: `hl-vote hl-vote-${v}${row.vote === v ? " hl-on" : ""}`, "data-action": "vote",
        "data-value": JSON.stringify(v), "data-vote": v, "aria-pressed": String(row.vote === v),
      }, h("kbd", { text: VOTE_KEY[v] }), " ", VOTE_TEXT[v])));
    return [
      h("div", { class: "hl-head" }, h("span", { class: "hl-index", text: `row ${row.index}` }), shell.badge(row)),
      promptBlock(row, { more: (field) => api.request({ kind: "cell", pos: row.pos, field }) }),
      h("div", { class: "hl-sides" }, side(row, "left"), side(row, "right")),
      buttons,
    ];
  }

  return {
    className: "hl-compare",
    filters: [statusSel],
    filter: { status: "all" },
    footer: cfg.journaled ? `votes journaled to ${cfg.store}` : "votes are kept in the DataFrame (add log_id_a/log_id_b to journal them)",
    empty: "No pairs to judge.",
    unsaved: "pair stays unjudged",
    undoneText: "not judged",
    help: () => COMPARE_HELP,
    doneText: (row) => (row.vote ? `✓ ${VOTE_TEXT[row.vote]}` : null),
    card,
    keyAction: (e, ctx) => compareAction(e, ctx),
    act(a) {
      const row = shell.currentRow();
      if (a.type === "vote" && row) return shell.save(row.pos, { kind: "vote", vote: a.value }, VOTE_TEXT[a.value]);
    },
  };
}

// @vitest-environment happy-dom
import { describe, it, expect, afterEach } from "vitest";
import widget from "../src/widget.js";
import { fakeModel, settle, cell, key } from "./fake_model.js";

function comparerModel() {
  const rows = [0, 1].map((pos) => ({ pos, index: String(pos), prompt: cell(`q${pos}`), messages: null,
    left: cell(`L${pos}`), right: cell(`R${pos}`), vote: null, annotator: null }));
  return fakeModel({ config: { widget: "compare", rows: 2, done: "judged" }, progress: { judged: 0, total: 2, tally: {} } }, (msg) => {
    if (msg.kind === "rows") return { rows: rows.slice(msg.start, msg.start + msg.count), total: 2, start: msg.start };
    if (msg.kind === "vote") { rows[msg.pos].vote = msg.vote; return { kind: "saved", pos: msg.pos, index: String(msg.pos), row: { ...rows[msg.pos] }, journaled: false, advance: true }; }
    return undefined;
  });
}

let cleanup = null;
afterEach(() => { cleanup?.(); cleanup = null; document.body.textContent = ""; });
async function show(model) {
  const el = document.createElement("div");
  document.body.append(el);
  cleanup = widget.render({ model, el });
  await settle();
  return el;
}

describe("comparer", () => {
  it("shows both sides and sends screen votes for the keys", async () => {
    const model = comparerModel();
    const el = await show(model);
    expect(el.querySelector(".hl-side-left .hl-text").textContent.trim()).toBe("L0");
    expect(el.querySelector(".hl-side-right .hl-text").textContent.trim()).toBe("R0");
    const root = el.querySelector(".hl-compare");
    key(root, "ArrowRight");
    await settle();
    expect(model.sent.find((m) => m.kind === "vote")).toMatchObject({ pos: 0, vote: "right" });
    expect(root.dataset.pos).toBe("1");
    key(root, "=");
    await settle();
    expect(model.sent.filter((m) => m.kind === "vote").map((m) => m.vote)).toEqual(["right", "tie"]);
    expect(el.querySelector(".hl-badge").textContent).toBe("✓ tie");
  });

  it("votes by double click on a side and counts judged pairs from the trait", async () => {
    const model = comparerModel();
    const el = await show(model);
    el.querySelector(".hl-side-left").dispatchEvent(new MouseEvent("dblclick", { bubbles: true }));
    await settle();
    expect(model.sent.find((m) => m.kind === "vote")).toMatchObject({ pos: 0, vote: "left" });
    model.set("progress", { judged: 1, total: 2, tally: { a: 1 }, per_annotator: { bo: 1 } });
    expect(el.querySelector(".hl-progress-text").textContent).toBe("1 of 2 judged · bo 1 · a 1");
  });
});

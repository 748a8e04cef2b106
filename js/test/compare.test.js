// @vitest-environment happy-dom
import { describe, it, expect } from "vitest";
import widget from "../src/compare.js";

function fakeModel() {
  const handlers = {};
  const sent = [];
  const rows = [0, 1].map((pos) => ({ pos, index: String(pos), prompt: { text: `q${pos}`, length: 2, truncated: false }, messages: null,
    left: { text: `L${pos}`, length: 2, truncated: false }, right: { text: `R${pos}`, length: 2, truncated: false }, vote: null, annotator: null }));
  const st = { config: { rows: 2 }, progress: { judged: 0, total: 2, tally: {} }, callback_error: "" };
  const emit = (ev, ...a) => (handlers[ev] || []).forEach((f) => f(...a));
  return {
    get: (k) => st[k], set: (k, v) => { st[k] = v; emit(`change:${k}`); },
    on: (ev, f) => { (handlers[ev] ||= []).push(f); }, off: () => {}, save_changes: () => {},
    send: (msg) => {
      sent.push(msg);
      queueMicrotask(() => {
        if (msg.kind === "rows") emit("msg:custom", { kind: "rows", id: msg.id, rows: rows.slice(msg.start, msg.start + msg.count), total: 2, start: msg.start });
        if (msg.kind === "vote") { rows[msg.pos].vote = msg.vote; emit("msg:custom", { kind: "saved", id: msg.id, pos: msg.pos, index: String(msg.pos), row: { ...rows[msg.pos] }, journaled: false }); }
      });
    },
    sent,
  };
}
const tick = () => new Promise((r) => setTimeout(r, 0));

describe("comparer", () => {
  it("shows both sides and sends screen votes for the keys", async () => {
    const model = fakeModel();
    const el = document.createElement("div");
    widget.render({ model, el });
    await tick(); await tick();
    expect(el.querySelector(".hl-side-left .hl-text").textContent.trim()).toBe("L0");
    expect(el.querySelector(".hl-side-right .hl-text").textContent.trim()).toBe("R0");
    const root = el.querySelector(".hl-compare");
    root.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowRight", bubbles: true }));
    await tick(); await tick(); await tick();
    expect(model.sent.find((m) => m.kind === "vote")).toMatchObject({ pos: 0, vote: "right" });
    expect(root.dataset.pos).toBe("1");
    root.dispatchEvent(new KeyboardEvent("keydown", { key: "=", bubbles: true }));
    await tick(); await tick();
    expect(model.sent.filter((m) => m.kind === "vote").map((m) => m.vote)).toEqual(["right", "tie"]);
    expect(el.querySelector(".hl-badge").textContent).toBe("✓ tie");
  });
});

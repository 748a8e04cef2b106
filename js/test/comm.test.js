import { describe, it, expect } from "vitest";
import { client } from "../src/comm.js";

// marimo re-runs the cells using a widget only when its front end writes a trait: a reply that
// carries the kernel's `saved` count is written back (set + save_changes); other replies are not.
function fakeModel() {
  const handlers = {};
  const writes = [];
  let dirty = {};
  const model = {
    set: (k, v) => { dirty[k] = v; },
    save_changes: () => { writes.push(dirty); dirty = {}; },
    on: (ev, f) => { (handlers[ev] ||= []).push(f); },
    off: () => {},
    send: (msg) => queueMicrotask(() => (handlers["msg:custom"] || []).forEach((f) => f(model.answer(msg)))),
    writes,
  };
  return model;
}

describe("request/response client", () => {
  it("writes the kernel's saved count back after a save, and only then", async () => {
    const model = fakeModel();
    const saved = { count: 1, last: { pos: 0, label: "👍" } };
    model.answer = (msg) => (msg.kind === "feedback" ? { kind: "saved", id: msg.id, saved } : { kind: msg.kind, id: msg.id, rows: [] });
    const api = client(model);
    await api.request({ kind: "rows", start: 0, count: 5 });
    expect(model.writes).toEqual([]);
    const reply = await api.request({ kind: "feedback", pos: 0, fields: { label: "👍" } });
    expect(reply.saved).toEqual(saved);
    expect(model.writes).toEqual([{ saved }]);
    model.answer = (msg) => ({ kind: "feedback", id: msg.id, error: "disk full", saved });
    await expect(api.request({ kind: "feedback", pos: 0, fields: {} })).rejects.toThrow("disk full");
    expect(model.writes).toHaveLength(1);
  });
});

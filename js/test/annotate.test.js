// @vitest-environment happy-dom
import { describe, it, expect } from "vitest";
import widget from "../src/annotate.js";

// A stand-in for the anywidget model whose "kernel" answers requests like the Python side.
function fakeModel(rows, state = {}) {
  const handlers = {};
  const sent = [];
  const data = rows.map((r, pos) => ({ pos, index: String(pos), prompt: { text: r.prompt, length: 1, truncated: false }, messages: null,
    completion: { text: r.completion, length: (r.completion || "").length, truncated: false }, chips: r.chips || {}, label: null, rating: null,
    correction: { text: null, length: 0, truncated: false }, comment: null, annotator: null, labelled_at: null }));
  const st = { config: { labels: ["👍", "👎"], rating: null, editable: true, rows: rows.length }, progress: { labelled: 0, total: rows.length }, callback_error: "", ...state };
  const emit = (ev, ...a) => (handlers[ev] || []).forEach((f) => f(...a));
  const model = {
    get: (k) => st[k],
    set: (k, v) => { st[k] = v; emit(`change:${k}`); },
    on: (ev, f) => { (handlers[ev] ||= []).push(f); },
    off: () => {},
    save_changes: () => {},
    send: (msg) => {
      sent.push(msg);
      queueMicrotask(() => {
        if (msg.kind === "rows") emit("msg:custom", { kind: "rows", id: msg.id, rows: data.slice(msg.start, msg.start + msg.count), total: data.length, start: msg.start });
        else if (msg.kind === "feedback") {
          if (model.fail) return emit("msg:custom", { kind: "feedback", id: msg.id, error: "disk full" });
          Object.assign(data[msg.pos], msg.fields);
          emit("msg:custom", { kind: "saved", id: msg.id, pos: msg.pos, index: String(msg.pos), row: { ...data[msg.pos] }, journaled: true, progress: { labelled: 1, total: data.length } });
        }
      });
    },
    sent,
  };
  return model;
}
const tick = () => new Promise((r) => setTimeout(r, 0));

describe("annotator rendering", () => {
  it("renders a row: markdown completion, chips, NaN as missing, label buttons", async () => {
    const model = fakeModel([{ prompt: "Say hi", completion: "**hello** <img src=x onerror=alert(1)>", chips: { model: "gpt-x", latency_ms: 1234 } }, { prompt: null, completion: null }]);
    const el = document.createElement("div");
    widget.render({ model, el });
    await tick(); await tick();
    expect(el.querySelector(".hl-completion strong").textContent).toBe("hello");
    expect(el.querySelector(".hl-completion img")).toBeNull();
    expect([...el.querySelectorAll(".hl-chip")].map((c) => c.textContent)).toEqual(["model: gpt-x", "latency: 1.23 s"]);
    expect(el.querySelectorAll(".hl-label").length).toBe(2);
    expect(el.querySelector(".hl-badge").textContent).toBe("unlabelled");
    el.querySelector(".hl-next").click();
    await tick(); await tick();
    expect(el.querySelector(".hl-completion .hl-missing").textContent).toBe("(missing)");
  });
  it("shows saved only after the kernel answers, and an error when it fails", async () => {
    const model = fakeModel([{ prompt: "p", completion: "c" }, { prompt: "p2", completion: "c2" }]);
    const el = document.createElement("div");
    widget.render({ model, el });
    await tick(); await tick();
    model.fail = true;
    el.querySelector('.hl-label[data-label="👍"]').click();
    expect(el.querySelector(".hl-badge").textContent).toBe("saving…");
    await tick(); await tick();
    expect(el.querySelector(".hl-badge").textContent).toBe("⚠ not saved");
    expect(el.querySelector(".hl-error").textContent).toContain("disk full");
    model.fail = false;
    el.querySelector('.hl-label[data-label="👍"]').click();
    await tick(); await tick(); await tick();
    expect(el.querySelector(".hl-notice").textContent).toContain("saved to the store");
    el.querySelector(".hl-prev").click();
    await tick();
    expect(el.querySelector(".hl-badge").textContent).toBe("✓ saved to store");
  });
  it("shows callback errors from the kernel under the widget", async () => {
    const model = fakeModel([{ prompt: "p", completion: "c" }]);
    const el = document.createElement("div");
    widget.render({ model, el });
    model.set("callback_error", "Error in feedback callback boom");
    expect(el.querySelector(".hl-cb-error").hidden).toBe(false);
    expect(el.querySelector(".hl-cb-error").textContent).toContain("boom");
  });
});

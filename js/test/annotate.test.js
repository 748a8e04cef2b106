// @vitest-environment happy-dom
import { describe, it, expect, afterEach } from "vitest";
import widget from "../src/widget.js";
import { fakeModel, settle, cell, key } from "./fake_model.js";

// The annotator's kernel, as the Python side answers (advance: once label and rating are given).
function annotatorModel(rows, config = {}) {
  const data = rows.map((r, pos) => ({ pos, index: String(pos), prompt: cell(r.prompt), messages: null,
    completion: cell(r.completion), chips: r.chips || {}, label: null, rating: null,
    correction: cell(null), comment: null, annotator: null, labelled_at: null }));
  const cfg = { widget: "annotate", labels: [{ name: "👍", icon: null }, { name: "👎", icon: null }], rating: null, editable: true, rows: rows.length, done: "labelled", advance: "all", ...config };
  const model = fakeModel({ config: cfg, progress: { labelled: 0, total: rows.length } }, (msg, m) => {
    if (msg.kind === "rows") return { rows: data.slice(msg.start, msg.start + msg.count), total: data.length, start: msg.start };
    if (msg.kind === "feedback") {
      if (m.fail) throw new Error("disk full");
      Object.assign(data[msg.pos], msg.fields);
      const row = data[msg.pos];
      const asked = cfg.rating ? ["label", "rating"] : ["label"];
      const given = Object.keys(msg.fields).filter((k) => msg.fields[k] !== null);
      const advance = given.some((k) => asked.includes(k)) && asked.every((k) => row[k] !== null);
      return { kind: "saved", pos: msg.pos, index: String(msg.pos), row: { ...row }, journaled: true, advance };
    }
    return undefined;
  });
  return { model, data };
}

let cleanup = null;
function show(model) {
  const el = document.createElement("div");
  document.body.append(el);
  cleanup = widget.render({ model, el });
  return el;
}
afterEach(() => { cleanup?.(); cleanup = null; document.body.textContent = ""; });

describe("annotator rendering", () => {
  it("renders a row: markdown completion, chips, NaN as missing, label buttons", async () => {
    const { model } = annotatorModel([{ prompt: "Say hi", completion: "**hello** <img src=x onerror=alert(1)>", chips: { model: "gpt-x", latency_ms: 1234 } }, { prompt: null, completion: null }]);
    const el = show(model);
    await settle();
    expect(el.querySelector(".hl-completion strong").textContent).toBe("hello");
    expect(el.querySelector(".hl-completion img")).toBeNull();
    expect([...el.querySelectorAll(".hl-chip")].map((c) => c.textContent)).toEqual(["model: gpt-x", "latency: 1.23 s"]);
    expect(el.querySelectorAll(".hl-label").length).toBe(2);
    expect(el.querySelector(".hl-badge").textContent).toBe("unlabelled");
    el.querySelector(".hl-next").click();
    await settle();
    expect(el.querySelector(".hl-completion .hl-missing").textContent).toBe("(missing)");
  });

  it("shows saved only after the kernel answers, and an error when it fails", async () => {
    const { model } = annotatorModel([{ prompt: "p", completion: "c" }, { prompt: "p2", completion: "c2" }]);
    const el = show(model);
    await settle();
    model.fail = true;
    el.querySelector('.hl-label[data-label="👍"]').click();
    expect(el.querySelector(".hl-badge").textContent).toBe("saving…");
    await settle();
    expect(el.querySelector(".hl-badge").textContent).toBe("⚠ not saved");
    expect(el.querySelector(".hl-error").textContent).toContain("disk full");
    model.fail = false;
    el.querySelector('.hl-label[data-label="👍"]').click();
    await settle();
    expect(el.querySelector(".hl-notice").textContent).toContain("saved to the store");
    el.querySelector(".hl-prev").click();
    await settle();
    expect(el.querySelector(".hl-badge").textContent).toBe("✓ saved to store");
  });

  it("shows callback errors from the kernel under the widget", async () => {
    const { model } = annotatorModel([{ prompt: "p", completion: "c" }]);
    const el = show(model);
    model.set("callback_error", "Error in feedback callback boom");
    expect(el.querySelector(".hl-cb-error").hidden).toBe(false);
    expect(el.querySelector(".hl-cb-error").textContent).toContain("boom");
  });

  it("shows named labels with their icons and sends the name", async () => {
    const { model, data } = annotatorModel([{ prompt: "p", completion: "c" }, { prompt: "q", completion: "d" }],
      { labels: [{ name: "good", icon: "👍" }, { name: "bad", icon: "👎" }] });
    const el = show(model);
    await settle();
    const btn = el.querySelector('.hl-label[data-label="good"]');
    expect(btn.textContent).toBe("1 👍 good");
    expect([...el.querySelectorAll(".hl-filter-label option")].map((o) => o.textContent)).toEqual(["any label", "👍 good", "👎 bad"]);
    key(el.querySelector(".hl-root"), "2");
    await settle();
    expect(model.sent.find((m) => m.kind === "feedback")).toMatchObject({ pos: 0, fields: { label: "bad" } });
    expect(data[0].label).toBe("bad");
    const plain = annotatorModel([{ prompt: "p", completion: "c" }], { labels: ["up", "down"] });
    cleanup();
    const el2 = show(plain.model);
    await settle();
    expect(el2.querySelector('.hl-label[data-label="up"]').textContent).toBe("1 up");
  });

  it("with a rating, a label then Shift+4 land on one row, then it moves on", async () => {
    const { model, data } = annotatorModel([{ prompt: "p", completion: "c" }, { prompt: "q", completion: "d" }], { rating: 5 });
    const el = show(model);
    await settle();
    const root = el.querySelector(".hl-root");
    key(root, "1", { code: "Digit1" });
    await settle();
    expect(root.dataset.pos).toBe("0");
    key(root, "$", { code: "Digit4", shiftKey: true });
    await settle();
    expect(data[0]).toMatchObject({ label: "👍", rating: 4 });
    expect(data[1]).toMatchObject({ label: null, rating: null });
    expect(root.dataset.pos).toBe("1");
  });

  it("says in ? when it moves on", async () => {
    const { model } = annotatorModel([{ prompt: "p", completion: "c" }], { rating: 5, advance: "all" });
    const el = show(model);
    await settle();
    key(el.querySelector(".hl-root"), "?");
    const note = el.querySelector(".hl-overlay .hl-help-note").textContent;
    expect(note).toContain("both a label and a rating");
    expect(el.querySelector(".hl-overlay").textContent).toContain("Shift + 1 – 5");
    el.querySelector(".hl-overlay .hl-close").click();
    expect(el.querySelector(".hl-overlay")).toBeNull();
  });
});

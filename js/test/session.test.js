// @vitest-environment happy-dom
// The frame both widgets share (session.js), driven with a minimal widget definition.
import { describe, it, expect, afterEach } from "vitest";
import { mount, focusUnlessTyping, isField, actionOf, PAGE } from "../src/session.js";
import { h } from "../src/render.js";
import { fakeModel, settle, key } from "./fake_model.js";

// A small widget: rows have a `mark`; button/key "m" marks the row; the kernel says whether to move on.
function tiny(shell) {
  return {
    className: "hl-tiny",
    filters: [],
    filter: { status: "all" },
    footer: "tiny footer",
    empty: "nothing here",
    unsaved: "row stays unmarked",
    undoneText: "unmarked",
    help: () => ({ rows: [["m", "mark"]], note: "Marking moves on when the kernel says so." }),
    doneText: (row) => (row.mark ? `✓ ${row.mark}` : null),
    card: (row) => [shell.badge(row), h("span", { class: "t-text", text: row.text }),
      h("button", { type: "button", class: "t-mark", "data-action": "mark", "data-value": JSON.stringify("x") }, "mark")],
    keyAction: (e, ctx) => (ctx.typing ? (e.key === "Escape" ? { type: "blur" } : null)
      : { m: { type: "mark", value: "x" }, j: { type: "next" }, k: { type: "prev" }, u: { type: "undo" }, "?": { type: "help" } }[e.key] || null),
    act(a) {
      const row = shell.currentRow();
      if (a.type === "mark" && row) return shell.save(row.pos, { kind: "mark", mark: a.value }, `mark ${a.value}`);
    },
  };
}

function tinyModel(n, { advance = true } = {}) {
  const rows = Array.from({ length: n }, (_, pos) => ({ pos, index: `r${pos}`, text: `text ${pos}`, mark: null }));
  const undo = [];
  return fakeModel({ config: { widget: "tiny", done: "marked" }, progress: { marked: 0, total: n } }, (msg, m) => {
    if (msg.kind === "rows") return { rows: rows.slice(msg.start, msg.start + msg.count), total: rows.length, start: msg.start };
    if (msg.kind === "mark") {
      if (m.fail) throw new Error("store is locked");
      undo.push([msg.pos, rows[msg.pos].mark]);
      rows[msg.pos] = { ...rows[msg.pos], mark: msg.mark };
      return { kind: "saved", pos: msg.pos, index: `r${msg.pos}`, row: rows[msg.pos], journaled: false, advance };
    }
    if (msg.kind === "undo") {
      if (!undo.length) return { kind: "saved", nothing: true };
      const [pos, was] = undo.pop();
      rows[pos] = { ...rows[pos], mark: was };
      return { kind: "saved", pos, index: `r${pos}`, row: rows[pos], journaled: false, advance: false };
    }
    return undefined;
  });
}

let cleanups = [];
function show(model, define = tiny) {
  const el = document.createElement("div");
  document.body.append(el);
  cleanups.push(mount({ model, el }, define));
  return { el, root: el.querySelector(".hl-root") };
}
afterEach(() => { cleanups.forEach((c) => c()); cleanups = []; document.body.textContent = ""; });

describe("the shared session frame", () => {
  it("loads a page, paints the row, moves with keys and buttons, and prefetches", async () => {
    const model = tinyModel(45);
    const { el, root } = show(model);
    await settle();
    expect(root.classList.contains("hl-tiny")).toBe(true);
    expect(root.dataset.ready).toBe("1");
    expect(el.querySelector(".t-text").textContent).toBe("text 0");
    expect(el.querySelector(".hl-position").textContent).toBe("1 / 45");
    expect(el.querySelector(".hl-prev").disabled).toBe(true);
    expect(model.sent[0]).toMatchObject({ kind: "rows", start: 0, count: PAGE, filter: { status: "all" } });
    for (let i = 0; i < 16; i++) key(root, "j");
    await settle();
    expect(root.dataset.pos).toBe("16");
    expect(model.sent.filter((m) => m.kind === "rows").map((m) => m.start)).toEqual([0, 20]);
    el.querySelector(".hl-prev").click();
    await settle();
    expect(root.dataset.pos).toBe("15");
    expect(el.querySelector(".hl-footer").textContent).toBe("tiny footer");
  });

  it("shows saved only after the kernel answers, moves on only when the answer says so", async () => {
    const model = tinyModel(3, { advance: true });
    const { el, root } = show(model);
    await settle();
    key(root, "m");
    expect(el.querySelector(".hl-badge").textContent).toBe("saving…");
    await settle();
    expect(root.dataset.pos).toBe("1");
    expect(el.querySelector(".hl-notice").textContent).toBe("✓ row r0 saved in the DataFrame: mark x");
    const stay = tinyModel(3, { advance: false });
    const other = show(stay);
    await settle();
    key(other.root, "m");
    await settle();
    expect(other.root.dataset.pos).toBe("0");
    expect(other.el.querySelector(".hl-badge").textContent).toBe("✓ x");
  });

  it("keeps a failed change unsaved and says why", async () => {
    const model = tinyModel(2);
    model.fail = true;
    const { el, root } = show(model);
    await settle();
    key(root, "m");
    await settle();
    expect(el.querySelector(".hl-badge").textContent).toBe("⚠ not saved");
    expect(el.querySelector(".hl-error").textContent).toBe("Not saved (row stays unmarked): store is locked");
    expect(root.dataset.failed).toBe("1");
    expect(root.dataset.pos).toBe("0");
  });

  it("undoes the last change and shows the row it was on", async () => {
    const model = tinyModel(3);
    const { el, root } = show(model);
    await settle();
    key(root, "m");
    await settle();
    expect(root.dataset.pos).toBe("1");
    key(root, "u");
    await settle();
    expect(root.dataset.pos).toBe("0");
    expect(el.querySelector(".hl-badge").textContent).toBe("unmarked");
    expect(el.querySelector(".hl-notice").textContent).toContain("undid the last change on row r0");
    key(root, "u");
    await settle();
    expect(el.querySelector(".hl-notice").textContent).toBe("nothing to undo");
  });

  it("paints progress from the trait, in the config's own word", async () => {
    const model = tinyModel(4);
    const { el } = show(model);
    expect(el.querySelector(".hl-progress-text").textContent).toBe("0 of 4 marked");
    model.set("progress", { marked: 2, total: 4, per_annotator: { ada: 2 }, rate_per_min: 3, eta_s: 40 });
    expect(el.querySelector(".hl-progress-text").textContent).toBe("2 of 4 marked · ada 2 · 3.0/min · ~40 s left");
    expect(el.querySelector(".hl-bar-fill").style.width).toBe("50.00%");
  });

  it("opens and closes the help with its note", async () => {
    const { el, root } = show(tinyModel(1));
    await settle();
    key(root, "?");
    expect(el.querySelector(".hl-overlay .hl-help-note").textContent).toBe("Marking moves on when the kernel says so.");
    key(root, "?");
    expect(el.querySelector(".hl-overlay")).toBeNull();
    el.querySelector(".hl-help-btn").click();
    expect(el.querySelector(".hl-overlay")).not.toBeNull();
    expect(document.activeElement).toBe(root);
  });
});

describe("focus", () => {
  it("takes the focus on render when nobody is typing (a notebook in command mode)", async () => {
    const notebook = h("div", { tabindex: "0", class: "jp-Notebook" });
    document.body.append(notebook);
    notebook.focus();
    const { root } = show(tinyModel(2));
    expect(document.activeElement).toBe(root);
    await settle();
    key(root, "m");
    await settle();
    expect(root.dataset.saved).toBe("1");
  });

  it("never takes the focus from an editor or an input", async () => {
    const editor = h("textarea", { class: "cell-editor" });
    document.body.append(editor);
    editor.focus();
    show(tinyModel(2));
    await settle();
    expect(document.activeElement).toBe(editor);
    expect(focusUnlessTyping(h("div", { tabindex: "0" }))).toBe(false);
  });

  it("gives the focus back to the widget after a click, even when the button is repainted away", async () => {
    const model = tinyModel(3, { advance: false });
    const { el, root } = show(model);
    await settle();
    const btn = el.querySelector(".t-mark");
    btn.focus();
    btn.click();
    expect(document.activeElement).toBe(root);
    await settle();
    expect(el.contains(btn)).toBe(false); // the card was painted again
    expect(document.activeElement).toBe(root);
    key(document.activeElement, "m");
    await settle();
    expect(model.sent.filter((m) => m.kind === "mark").length).toBe(2);
  });

  it("lets go of the focus when the user clicks outside it (the notebook takes it back)", async () => {
    const prompt = h("div", { class: "jp-InputPrompt" });
    document.body.append(prompt);
    const { root } = show(tinyModel(2));
    await settle();
    expect(document.activeElement).toBe(root);
    root.dispatchEvent(new PointerEvent("pointerdown", { bubbles: true }));
    expect(document.activeElement).toBe(root);
    prompt.dispatchEvent(new PointerEvent("pointerdown", { bubbles: true }));
    expect(document.activeElement).not.toBe(root);
  });

  it("treats inputs, textareas, selects and editors as fields", () => {
    expect(isField(h("input"))).toBe(true);
    expect(isField(h("textarea"))).toBe(true);
    expect(isField(h("select"))).toBe(true);
    expect(isField(h("button"))).toBe(false);
    expect(isField(null)).toBe(false);
    expect(actionOf(h("button", { "data-action": "rate", "data-value": "4" }))).toEqual({ type: "rate", value: 4 });
    expect(actionOf(h("button", { "data-action": "next" }))).toEqual({ type: "next" });
  });
});

describe("cleanup", () => {
  it("removes every listener it added and its DOM", async () => {
    const model = tinyModel(3);
    const el = document.createElement("div");
    document.body.append(el);
    const before = model.listening();
    const cleanup = mount({ model, el }, tiny);
    await settle();
    expect(model.listening()).toBeGreaterThan(before);
    const root = el.querySelector(".hl-root");
    cleanup();
    expect(model.listening()).toBe(before);
    expect(el.querySelector(".hl-root")).toBeNull();
    const sent = model.sent.length;
    key(root, "m");
    root.querySelector(".t-mark")?.click();
    await settle();
    expect(model.sent.length).toBe(sent);
  });

  it("removes the annotator's model_status listener too", async () => {
    const { default: widget } = await import("../src/widget.js");
    const model = fakeModel({ config: { widget: "annotate", labels: [{ name: "up", icon: null }], rows: 0, done: "labelled" }, progress: {}, model_status: {} },
      (msg) => (msg.kind === "rows" ? { rows: [], total: 0, start: 0 } : undefined));
    const el = document.createElement("div");
    document.body.append(el);
    const cleanup = widget.render({ model, el });
    await settle();
    expect(model.handlers.has("change:model_status")).toBe(true);
    cleanup();
    expect(model.listening()).toBe(0);
  });

  it("shows how the rows ahead are ranked, as text", async () => {
    const { default: widget } = await import("../src/widget.js");
    const order = { ranked: 50000, pool: 50000, reranks: 1, ranking: false, error: null, model: "fit 2" };
    const model = fakeModel({ config: { widget: "annotate", labels: [{ name: "up", icon: null }], rows: 0, done: "labelled" }, progress: {},
      model_status: { fits: 2, accuracy: 0.7, ci_low: 0.6, ci_high: 0.8, n_labels: 40, labels_since_fit: 0, order } },
    (msg) => (msg.kind === "rows" ? { rows: [], total: 0, start: 0 } : undefined));
    const el = document.createElement("div");
    document.body.append(el);
    const cleanup = widget.render({ model, el });
    await settle();
    const panel = el.querySelector(".hl-model");
    expect(panel.textContent).toContain("accuracy 70.0%");
    expect(panel.textContent).toContain("rows ahead: most uncertain first of 50,000 scored by fit 2");
    model.set("model_status", { order: { ...order, ranking: true, model: "initial" } });
    expect(panel.textContent).toBe("preference model · re-ranking the rows ahead…");
    model.set("model_status", { order: { ...order, error: "re-ranking failed: RuntimeError: x" } });
    expect(panel.textContent).toContain("— re-ranking failed: RuntimeError: x");
    expect(panel.classList.contains("hl-model-error")).toBe(true);
    cleanup();
  });

  it("says so when the kernel names a widget this bundle does not have", async () => {
    const { default: widget } = await import("../src/widget.js");
    const el = document.createElement("div");
    widget.render({ model: fakeModel({ config: { widget: "plot" } }, () => undefined), el });
    expect(el.textContent).toContain('no widget "plot"');
  });
});

describe("the bundle's module", () => {
  it("exports only a default object with render (anywidget's current form, no warning)", async () => {
    const mod = await import("../src/widget.js");
    expect(mod.render).toBeUndefined();
    expect(typeof mod.default.render).toBe("function");
    expect(Object.keys(mod.WIDGETS)).toEqual(["annotate", "compare"]);
  });
});

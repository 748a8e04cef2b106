import { describe, it, expect } from "vitest";
import { annotateAction, compareAction, annotateHelp, advanceText, COMPARE_HELP } from "../src/keys.js";

const ctx = { labels: ["👍", "👎"], rating: 5, editing: false, typing: false, overlay: false, editable: true };
const k = (key, extra = {}) => ({ key, code: extra.code || "", ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, ...extra });

describe("annotator keyboard map", () => {
  it("moves with j/k and arrows", () => {
    for (const key of ["j", "ArrowDown", "ArrowRight"]) expect(annotateAction(k(key), ctx)).toEqual({ type: "next" });
    for (const key of ["k", "ArrowUp", "ArrowLeft"]) expect(annotateAction(k(key), ctx)).toEqual({ type: "prev" });
  });
  it("maps digits to labels and ignores digits beyond them", () => {
    expect(annotateAction(k("1", { code: "Digit1" }), ctx)).toEqual({ type: "label", value: "👍" });
    expect(annotateAction(k("2", { code: "Digit2" }), ctx)).toEqual({ type: "label", value: "👎" });
    expect(annotateAction(k("3", { code: "Digit3" }), ctx)).toBeNull();
  });
  it("maps Shift+digit to stars within the scale", () => {
    expect(annotateAction(k("#", { code: "Digit3", shiftKey: true }), ctx)).toEqual({ type: "rate", value: 3 });
    expect(annotateAction(k("(", { code: "Digit9", shiftKey: true }), ctx)).toBeNull();
  });
  it("has e, u, s, /, ? and Esc", () => {
    expect(annotateAction(k("e"), ctx).type).toBe("edit");
    expect(annotateAction(k("e"), { ...ctx, editable: false })).toBeNull();
    expect(annotateAction(k("u"), ctx).type).toBe("undo");
    expect(annotateAction(k("s"), ctx).type).toBe("skip");
    expect(annotateAction(k("/"), ctx).type).toBe("filter");
    expect(annotateAction(k("?"), ctx).type).toBe("help");
    expect(annotateAction(k("Escape"), { ...ctx, overlay: true }).type).toBe("help");
  });
  it("lets typing through while editing, saves on Ctrl/Cmd+Enter, cancels on Esc", () => {
    const ed = { ...ctx, editing: true };
    expect(annotateAction(k("j"), ed)).toBeNull();
    expect(annotateAction(k("1"), ed)).toBeNull();
    expect(annotateAction(k("Enter", { ctrlKey: true }), ed)).toEqual({ type: "save-edit" });
    expect(annotateAction(k("Enter", { metaKey: true }), ed)).toEqual({ type: "save-edit" });
    expect(annotateAction(k("Escape"), ed)).toEqual({ type: "cancel-edit" });
  });
  it("leaves browser shortcuts alone", () => {
    expect(annotateAction(k("j", { ctrlKey: true }), ctx)).toBeNull();
  });
});

describe("comparer keyboard map", () => {
  it("votes with arrows, = and x", () => {
    expect(compareAction(k("ArrowLeft"))).toEqual({ type: "vote", value: "left" });
    expect(compareAction(k("ArrowRight"))).toEqual({ type: "vote", value: "right" });
    expect(compareAction(k("="))).toEqual({ type: "vote", value: "tie" });
    expect(compareAction(k("x"))).toEqual({ type: "vote", value: "both_bad" });
    expect(compareAction(k("u")).type).toBe("undo");
  });
});

describe("the help says when the widget moves on", () => {
  it("names each advance setting", () => {
    expect(advanceText("all", 5)).toContain("both a label and a rating");
    expect(advanceText("all", null)).toContain("after a label");
    expect(advanceText("label", 5)).toContain("a star rating stays on the row");
    expect(advanceText("never", 5)).toContain("stays on the row");
  });
  it("lists the rating and edit keys only when the widget has them", () => {
    const plain = annotateHelp({ rating: null, editable: false, advance: "all" });
    expect(plain.rows.map(([k]) => k)).not.toContain("e");
    expect(plain.rows.some(([k]) => k.startsWith("Shift"))).toBe(false);
    const full = annotateHelp({ rating: 5, editable: true, advance: "never" });
    expect(full.rows.map(([k]) => k)).toContain("Shift + 1 – 5");
    expect(full.note).toContain("advance='never'");
    expect(COMPARE_HELP.note).toContain("moves to the next pair");
  });
  it("lets typing through in the comparer's filter", () => {
    expect(compareAction(k("x"), { typing: true })).toBeNull();
    expect(compareAction(k("Escape"), { typing: true })).toEqual({ type: "blur" });
  });
});

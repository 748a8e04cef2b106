// @vitest-environment happy-dom
import { describe, it, expect } from "vitest";
import { diffWords, renderDiff } from "../src/diff.js";

describe("word diff", () => {
  it("marks replaced words", () => {
    expect(diffWords("the cat sat", "the dog sat")).toEqual([["=", "the "], ["-", "cat"], ["+", "dog"], ["=", " sat"]]);
  });
  it("joins back to both texts", () => {
    const a = "F = G m1 m2 / r^2 and more", b = "F = G m1 m2 / r² plus more";
    const d = diffWords(a, b);
    expect(d.filter(([o]) => o !== "+").map(([, t]) => t).join("")).toBe(a);
    expect(d.filter(([o]) => o !== "-").map(([, t]) => t).join("")).toBe(b);
  });
  it("handles empty and missing text", () => {
    expect(diffWords("", "new")).toEqual([["+", "new"]]);
    expect(diffWords(null, null)).toEqual([]);
  });
  it("falls back to a block replace for huge inputs", () => {
    const a = Array.from({ length: 3000 }, (_, i) => `a${i}`).join(" ");
    const b = Array.from({ length: 3000 }, (_, i) => `b${i}`).join(" ");
    const d = diffWords(a, b, { maxCells: 1000 });
    expect(d.map(([o]) => o)).toEqual(["-", "+"]);
  });
  it("renders as text nodes, never HTML", () => {
    const el = document.createElement("div");
    renderDiff(el, diffWords("<b>x</b>", "<i>y</i>"));
    expect(el.querySelector("b")).toBeNull();
    expect(el.textContent).toContain("<i>y</i>");
  });
});

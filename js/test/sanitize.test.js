// @vitest-environment jsdom
import { describe, it, expect } from "vitest";
import { markdownToHtml, keptClass } from "../src/sanitize.js";

const PAYLOADS = [
  "<script>window.__pwned=1</script>",
  "<img src=x onerror=window.__pwned=1>",
  "<svg onload=window.__pwned=1><circle r=5/></svg>",
  "[click](javascript:window.__pwned=1)",
  '<a href="javascript:alert(1)">x</a>',
  '<iframe src="http://127.0.0.1:9/x"></iframe>',
  '<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>',
  '<meta http-equiv="refresh" content="0;url=http://127.0.0.1:9/">',
  '<div style="background:url(http://127.0.0.1:9/css)">x</div>',
  "<style>@import url(http://127.0.0.1:9/i.css)</style>",
  "![x](http://127.0.0.1:9/img.png)",
  '<object data="http://127.0.0.1:9/o"></object>',
  '<embed src="http://127.0.0.1:9/e">',
  '<form action="javascript:alert(1)"><button>go</button></form>',
  '<details open ontoggle=window.__pwned=1>',
  '<a href="data:text/html,<script>alert(1)</script>">d</a>',
  '<video><source onerror="window.__pwned=1"></video>',
  '<base href="http://127.0.0.1:9/">',
  '<link rel=stylesheet href="http://127.0.0.1:9/l.css">',
  '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
];

describe("markdown sanitizer", () => {
  it("renders markdown with code blocks", () => {
    const html = markdownToHtml("# Title\n\n```python\nprint(1)\n```\n\n**bold**");
    expect(html).toContain("<h1>Title</h1>");
    expect(html).toContain("<pre><code");
    expect(html).toContain("<strong>bold</strong>");
  });
  it.each(PAYLOADS)("neutralises %s", (payload) => {
    const tpl = document.createElement("template");
    tpl.innerHTML = markdownToHtml(payload);
    const all = [...tpl.content.querySelectorAll("*")];
    const tags = all.map((n) => n.tagName.toLowerCase());
    for (const bad of ["script", "iframe", "img", "svg", "style", "meta", "object", "embed", "form", "link", "base", "video", "source", "math"])
      expect(tags).not.toContain(bad);
    for (const n of all) {
      for (const a of n.attributes) {
        expect(a.name).not.toMatch(/^on|^(src|srcdoc|style|action|formaction|srcset|background)$/i);
        expect(a.value).not.toMatch(/^\s*(javascript|data|vbscript):/i);
      }
    }
  });
  it("keeps safe links and opens them without opener", () => {
    const html = markdownToHtml("[docs](https://example.org/a)");
    expect(html).toContain('href="https://example.org/a"');
    expect(html).toContain('rel="noopener noreferrer nofollow"');
    expect(html).toContain('target="_blank"');
  });
  it.each([
    '<span class="hl-badge hl-saved">✓ saved to store</span>',
    '<div class="hl-overlay"><div class="hl-help"><strong>Keyboard shortcuts</strong></div></div>',
    '<div class="hl-root hl-annotate" tabindex="0">nested widget</div>',
    '<code class="language-js hl-overlay">x</code>',
    '<pre class="hl-error">Not saved</pre>',
    '<p class=" hl-notice ">✓ row 0 saved to the store</p>',
    '<span CLASS="hl-saved">x</span>',
    '<code class="hl-badge">✓ saved</code>',
  ])("keeps no class of ours from %s", (payload) => {
    const tpl = document.createElement("template");
    tpl.innerHTML = markdownToHtml(payload);
    for (const n of tpl.content.querySelectorAll("*")) {
      const cls = n.getAttribute("class");
      if (cls === null) continue;
      expect(n.tagName).toBe("CODE");
      expect(cls).toMatch(/^(language-[\w+#.-]+ ?)+$/);
    }
    expect(tpl.content.querySelector("[class*='hl-']")).toBeNull();
    expect(tpl.content.querySelector("[tabindex], [role]")).toBeNull();
    expect(tpl.content.textContent.length).toBeGreaterThan(0); // the text itself still shows
  });
  it("keeps language-* on code for highlighting, and only there", () => {
    expect(markdownToHtml("```python\nprint(1)\n```")).toContain('<code class="language-python">');
    expect(keptClass("code", "language-js hl-badge")).toBe("language-js");
    expect(keptClass("code", "hl-badge")).toBeNull();
    expect(keptClass("span", "language-js")).toBeNull();
  });
  it("shows images as text, never loads them", () => {
    const html = markdownToHtml("![a cat](http://127.0.0.1:9/cat.png)");
    expect(html).toContain("[image: a cat");
    expect(html).not.toContain("<img");
  });
});

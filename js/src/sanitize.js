// Markdown → sanitized DOM. LLM output is hostile input: no script, event handler, javascript:
// URL, style, frame, form or remote resource (img/src/srcset/CSS url()) survives. Nor do our own
// class names: `class` stays only as `language-*` on <code> (code highlighting), so a completion
// cannot draw a fake "saved" badge, a fake dialog or anything else styled like the widget itself.
import { Marked } from "marked";
import createDOMPurify from "dompurify";

const escapeHtml = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

// Images never load: they render as a text placeholder naming the address (no class: see above).
const marked = new Marked({
  gfm: true,
  breaks: false,
  async: false,
  renderer: {
    image({ href, text }) {
      return `<em title="remote image not loaded">[image: ${escapeHtml(text || "")}${href ? ` — ${escapeHtml(href)}` : ""}]</em>`;
    },
  },
});

export const FORBID_TAGS = [
  "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input",
  "button", "textarea", "select", "option", "video", "audio", "source", "track", "picture", "img",
  "image", "link", "meta", "base", "svg", "math", "template", "portal", "noscript", "dialog",
  "fencedframe", "canvas", "map", "area",
];
export const FORBID_ATTR = [
  "style", "src", "srcset", "srcdoc", "poster", "background", "action", "formaction", "ping",
  "xlink:href", "lowsrc", "dynsrc", "longdesc", "usemap", "data", "codebase", "cite", "manifest",
  "profile", "classid", "archive", "autofocus", "id", "name", "form",
];
const SAFE_HREF = /^(?:https?:|mailto:|#)/i;
const LANGUAGE_CLASS = /^language-[\w+#.-]{1,40}$/;

/** The class a sanitized element may keep: `language-*` on <code>, nothing anywhere else. */
export function keptClass(tag, value) {
  if (tag !== "code") return null;
  const kept = String(value).split(/\s+/).filter((c) => LANGUAGE_CLASS.test(c));
  return kept.length ? kept.join(" ") : null;
}
const limitClass = (node) => {
  if (!node.hasAttribute || !node.hasAttribute("class")) return;
  const kept = keptClass(node.tagName.toLowerCase(), node.getAttribute("class"));
  if (kept === null) node.removeAttribute("class");
  else node.setAttribute("class", kept);
};

let purifier = null;
function purify() {
  if (purifier) return purifier;
  purifier = createDOMPurify(window);
  purifier.addHook("afterSanitizeAttributes", (node) => {
    limitClass(node);
    if (node.tagName === "A") {
      const href = node.getAttribute("href");
      if (href !== null && !SAFE_HREF.test(href.trim())) node.removeAttribute("href");
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer nofollow");
    }
    // anything else that could point at a resource goes
    for (const attr of Array.from(node.attributes || [])) {
      if (/^on/i.test(attr.name) || (attr.name !== "href" && /url\s*\(|^\s*(javascript|data|vbscript):/i.test(attr.value))) {
        node.removeAttribute(attr.name);
      }
    }
  });
  return purifier;
}

// Second line of defence after DOMPurify: an allowlist walk over an inert <template>.
const ALLOWED_TAGS = new Set([
  "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "details",
  "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "ins", "kbd", "li", "mark",
  "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary", "sup", "table",
  "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "var",
]);
const ALLOWED_ATTRS = new Set(["href", "title", "class", "colspan", "rowspan", "align", "start", "lang", "dir", "target", "rel", "open"]);

export function allowlist(html) {
  const tpl = document.createElement("template");
  tpl.innerHTML = html;
  const walk = (parent) => {
    for (const node of Array.from(parent.childNodes)) {
      if (node.nodeType === 3) continue; // text
      if (node.nodeType !== 1) { node.remove(); continue; }
      const tag = node.tagName.toLowerCase();
      if (!ALLOWED_TAGS.has(tag)) {
        // drop dangerous elements with their content; unwrap harmless unknown ones
        if (FORBID_TAGS.includes(tag) || tag.includes(":")) node.remove();
        else { walk(node); node.replaceWith(...Array.from(node.childNodes)); }
        continue;
      }
      for (const attr of Array.from(node.attributes)) {
        const name = attr.name.toLowerCase();
        const ok = ALLOWED_ATTRS.has(name) && (name !== "href" || (tag === "a" && SAFE_HREF.test(attr.value.trim())));
        if (!ok) node.removeAttribute(attr.name);
      }
      limitClass(node);
      if (tag === "a") { node.setAttribute("target", "_blank"); node.setAttribute("rel", "noopener noreferrer nofollow"); }
      walk(node);
    }
  };
  walk(tpl.content);
  return tpl.innerHTML;
}

/** Sanitize an HTML string; returns clean HTML text. */
export function sanitizeHtml(html) {
  return allowlist(purify().sanitize(html, {
    FORBID_TAGS,
    FORBID_ATTR,
    ALLOW_DATA_ATTR: false,
    ALLOW_ARIA_ATTR: true,
    ALLOW_UNKNOWN_PROTOCOLS: false,
    USE_PROFILES: { html: true },
  }));
}

/** Markdown (untrusted) → sanitized HTML text. */
export function markdownToHtml(text) {
  if (text === null || text === undefined) return "";
  let html;
  try {
    html = marked.parse(String(text));
  } catch (err) {
    html = `<pre>${escapeHtml(text)}</pre>`;
  }
  return sanitizeHtml(html);
}

/** Fill `el` with the rendered markdown. Long texts fall back to plain text (fast, still safe). */
export function renderMarkdown(el, text, { plainAbove = 300_000 } = {}) {
  el.textContent = "";
  if (text === null || text === undefined) {
    const m = document.createElement("span");
    m.className = "hl-missing";
    m.textContent = "(missing)";
    el.append(m);
    return el;
  }
  if (String(text).length > plainAbove) {
    const pre = document.createElement("pre");
    pre.className = "hl-plain";
    pre.textContent = String(text);
    el.append(pre);
    return el;
  }
  el.innerHTML = markdownToHtml(text);
  return el;
}

export { escapeHtml };

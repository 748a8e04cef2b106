// Word-level diff of the completion and its saved correction: [op, text] with op "=", "-", "+".
const tokenize = (s) => String(s ?? "").split(/(\s+)/).filter((t) => t !== "");

export function diffWords(before, after, { maxCells = 4_000_000 } = {}) {
  const a = tokenize(before), b = tokenize(after);
  // common prefix and suffix first: cheap, and most corrections are local
  let p = 0;
  while (p < a.length && p < b.length && a[p] === b[p]) p++;
  let s = 0;
  while (s < a.length - p && s < b.length - p && a[a.length - 1 - s] === b[b.length - 1 - s]) s++;
  const out = [];
  const push = (op, t) => {
    if (!t) return;
    const last = out[out.length - 1];
    if (last && last[0] === op) last[1] += t;
    else out.push([op, t]);
  };
  push("=", a.slice(0, p).join(""));
  const am = a.slice(p, a.length - s), bm = b.slice(p, b.length - s);
  if ((am.length + 1) * (bm.length + 1) > maxCells) {
    push("-", am.join(""));
    push("+", bm.join(""));
  } else {
    const n = am.length, m = bm.length;
    const L = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--)
      for (let j = m - 1; j >= 0; j--)
        L[i][j] = am[i] === bm[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
    let i = 0, j = 0;
    while (i < n && j < m) {
      if (am[i] === bm[j]) { push("=", am[i]); i++; j++; }
      else if (L[i + 1][j] >= L[i][j + 1]) { push("-", am[i]); i++; }
      else { push("+", bm[j]); j++; }
    }
    while (i < n) push("-", am[i++]);
    while (j < m) push("+", bm[j++]);
  }
  push("=", a.slice(a.length - s).join(""));
  return out;
}

/** Render a diff into `el` as text spans (never HTML). */
export function renderDiff(el, parts) {
  el.textContent = "";
  for (const [op, text] of parts) {
    const span = document.createElement(op === "=" ? "span" : op === "-" ? "del" : "ins");
    span.textContent = text;
    el.append(span);
  }
  return el;
}

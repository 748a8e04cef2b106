"""Annotation widget speed, measured in a real browser (JupyterLab 4 + Debian Chromium).

Figures, all timed inside the page with performance.now():

1. cell run → first paint: from the Shift+Enter keydown on a cell holding ``hl.annotate(df)`` to the
   widget showing its first row, for 10k / 100k / 1M rows; beside the same figure for a trivial
   anywidget (the floor any widget pays). Goal: 1M rows <= 1.5 s.
2. label round trip: keypress "1" → kernel writes the DataFrame and journals to the SQLite store →
   UI shows "saved"; beside the bare comm round trip of a trivial anywidget (send a message, the
   kernel answers at once) in the same run. Goal: median <= 1.3 x the bare round trip.
3. active learning at 1M rows: first paint and label round trip (labels alternating 1/2, so the
   model refits every 20 labels and re-ranks the rows ahead in the background) with
   ``order="uncertainty"`` and a fitted preference model, beside ``order="index"`` without one,
   interleaved in the same run. Goal: each <= 1.5 x index order.

usage: .venv/bin/python benchmarks/bench_widget.py [--reps 3] [--n 60]
(the figures go to ``benchmarks/out/bench_widget.json`` too, for ``render_readme.py``; the raw
timings to ``benchmarks/out/bench_widget_raw.json``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import figures  # noqa: E402  (benchmarks/figures.py)
from jupyter_harness import launch_chromium, require_browser_path, start_server  # noqa: E402

DEFAULTS = {"reps": 3, "n": 60}

SETUP = """\
import numpy as np, pandas as pd, anywidget, traitlets, hl_notebook as hl
frames = {}
for n in (10_000, 100_000, 1_000_000):
    frames[n] = pd.DataFrame({
        'prompt': np.array([f'Question {i}: what is {i} + {i}?' for i in range(n)], dtype=object),
        'completion': np.array([f'The answer is **{2 * i}**.' for i in range(n)], dtype=object),
        'model': 'gpt-4o-mini',
    })
store = hl.Store(STORE_PATH)
store.log_many(frames[10_000].head(2000))
logged = store.to_pandas()
sample = hl.datasets.load_sample('hh_harmless')
pm = hl.PreferenceModel(calibrate=False).fit(sample[['prompt', 'completion']], sample['label'])
big_index = frames[1_000_000].copy()
big_active = frames[1_000_000].copy()
active_store = hl.Store(STORE_PATH.replace('.sqlite', '-active.sqlite'))

class Bare(anywidget.AnyWidget):
    _esm = '''
    export default { render({ model, el }) {
      const pending = new Map(); let n = 0;
      model.on('msg:custom', (m) => { const r = pending.get(m.id); if (r) { pending.delete(m.id); r(); } });
      window.__hlBarePing = () => new Promise((res) => { const id = ++n; pending.set(id, res); model.send({ id }); });
      el.innerHTML = '<span class="bare-ready">bare widget</span>';
    } };'''
    def __init__(self):
        super().__init__()
        self.on_msg(lambda w, c, b: self.send({'id': c['id']}))
bare = Bare()
bare
"""

TIME_CELL_JS = """
([idx, selector]) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[idx];
  window.__hlT = undefined;
  let t0 = null;
  const onKey = (e) => { if (e.key === 'Enter' && e.shiftKey && t0 === null) t0 = performance.now(); };
  document.addEventListener('keydown', onKey, true);
  // a fresh output replaces the old one; wait for a widget that was not there before
  const old = new Set(cell.querySelectorAll(selector));
  const check = () => {
    const el = [...cell.querySelectorAll(selector)].find((x) => !old.has(x));
    if (t0 !== null && el) { document.removeEventListener('keydown', onKey, true); window.__hlT = performance.now() - t0; return; }
    requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
}
"""

LABEL_RTT_JS = """
async ([n, cellIndex, alternate]) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[cellIndex];
  const roots = cell.querySelectorAll('.hl-annotate');
  const root = roots[roots.length - 1];
  const out = [];
  for (let i = 0; i < n; i++) {
    const before = Number(root.dataset.saved || 0);
    const k = alternate && i % 2 ? '2' : '1';
    const t0 = performance.now();
    root.dispatchEvent(new KeyboardEvent('keydown', { key: k, code: 'Digit' + k, bubbles: true }));
    await new Promise((res) => {
      const mo = new MutationObserver(() => { if (Number(root.dataset.saved || 0) > before) { mo.disconnect(); res(); } });
      mo.observe(root, { attributes: true, attributeFilter: ['data-saved'] });
    });
    out.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 30)); // let the move to the next row settle
  }
  return out;
}
"""

BARE_RTT_JS = """
async (n) => { const out = []; for (let i = 0; i < n; i++) { const t0 = performance.now(); await window.__hlBarePing(); out.push(performance.now() - t0); await new Promise((r) => setTimeout(r, 30)); } return out; }
"""


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def timed_cell(page, idx: int, selector: str) -> float:
    page.evaluate(TIME_CELL_JS, [idx, selector])
    cell = page.locator(".jp-Notebook .jp-Cell").nth(idx)
    cell.locator(".jp-InputPrompt").first.click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_function("() => window.__hlT !== undefined", timeout=120_000)
    return float(page.evaluate("() => window.__hlT"))


def run_cell(page, server, name, idx: int) -> None:
    """Run cell ``idx`` and wait for the kernel to be idle again."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(idx)
    cell.locator(".jp-InputPrompt").first.click()
    page.keyboard.press("Shift+Enter")
    time.sleep(0.3)
    server.wait_idle(name)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--n", type=int, default=60, help="round trips per series")
    args = ap.parse_args()
    chromium = require_browser_path()
    tmp = Path(tempfile.mkdtemp(prefix="hl-bench-"))
    server = start_server(tmp)
    from playwright.sync_api import sync_playwright

    store_path = str(tmp / "bench.sqlite")
    cells = [
        SETUP.replace("STORE_PATH", repr(store_path)),
        "hl.annotate(frames[10_000])",
        "hl.annotate(frames[100_000])",
        "hl.annotate(frames[1_000_000])",
        "Bare()",
        "w = hl.annotate(logged, store=store, annotator='bench')\nw",
        "wu = hl.annotate(frames[1_000_000], order='uncertainty', model=pm)\nwu",
        "wu.session.active.wait(300)",  # the background pool scoring ends before the next figure
        "wi = hl.annotate(big_index, store=active_store, annotator='bench')\nwi",
        "wa = hl.annotate(big_active, store=active_store, annotator='bench', order='uncertainty',"
        " model=pm)\nwa",
        "wa.session.active.wait(300), wa.refitter.wait(300), wa.model_status",
    ]
    name = server.write_notebook("bench.ipynb", cells)
    results: dict = {}
    try:
        with sync_playwright() as pw:
            ctx = launch_chromium(pw, chromium)
            page = ctx.new_page()
            page.goto(server.url(name, "lab"))
            page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="visible", timeout=90_000)
            server.wait_idle(name)
            # run the setup cell only (build the frames, the store and the bare widget)
            cell = page.locator(".jp-Notebook .jp-Cell").nth(0)
            cell.locator(".jp-InputPrompt").first.click()
            page.keyboard.press("Shift+Enter")
            page.locator(".bare-ready").first.wait_for(timeout=300_000)
            time.sleep(1)
            ready = '.hl-annotate[data-ready="1"]'
            for label, idx, sel in (("bare widget", 4, ".bare-ready"), ("10k rows", 1, ready),
                                    ("100k rows", 2, ready), ("1M rows", 3, ready)):
                xs = []
                for _ in range(args.reps):
                    xs.append(timed_cell(page, idx, sel))
                    server.wait_idle(name)
                    time.sleep(0.5)
                results[f"first_paint_ms[{label}]"] = xs
            # 1M rows with order="uncertainty" and a model, interleaved with index order
            xs_i, xs_u = [], []
            for _ in range(args.reps):
                xs_i.append(timed_cell(page, 3, ready))
                server.wait_idle(name)
                time.sleep(0.5)
                xs_u.append(timed_cell(page, 6, ready))
                server.wait_idle(name)
                run_cell(page, server, name, 7)
                time.sleep(0.5)
            results["first_paint_ms[1M rows, index, interleaved]"] = xs_i
            results["first_paint_ms[1M rows, uncertainty + model]"] = xs_u
            # label round trip against the bare comm round trip, interleaved in the same run
            timed_cell(page, 5, ready)
            server.wait_idle(name)
            page.locator(".hl-annotate").last.focus()
            bare, label = [], []
            for _ in range(3):
                bare += page.evaluate(BARE_RTT_JS, args.n // 3)
                label += page.evaluate(LABEL_RTT_JS, [args.n // 3, 5, False])
            results["bare_rtt_ms"] = bare
            results["label_rtt_ms"] = label
            # 1M rows: index order vs uncertainty order with refits and re-ranks, interleaved
            timed_cell(page, 8, ready)
            server.wait_idle(name)
            timed_cell(page, 9, ready)
            server.wait_idle(name)
            li, la = [], []
            for _ in range(3):
                li += page.evaluate(LABEL_RTT_JS, [args.n // 3, 8, True])
                la += page.evaluate(LABEL_RTT_JS, [args.n // 3, 9, True])
            results["label_rtt_ms[1M, index]"] = li
            results["label_rtt_ms[1M, uncertainty + model]"] = la
            run_cell(page, server, name, 10)
            ctx.close()
    finally:
        server.proc.terminate()
        server.proc.wait(15)
    # the DataFrame and the store were really written: count the journal
    import hl_notebook as hl

    with hl.Store(store_path) as store:
        journaled = len(store.feedback_events())

    print("hl_notebook annotation widget, JupyterLab 4 + Chromium (timed in the page)")
    print(f"{'measure':34s} {'median':>9s} {'p95':>9s}   ratio to baseline")
    base_fp = statistics.median(results["first_paint_ms[bare widget]"])
    for label in ("bare widget", "10k rows", "100k rows", "1M rows"):
        xs = results[f"first_paint_ms[{label}]"]
        med = statistics.median(xs)
        print(f"{'cell run -> first paint, ' + label:34s} {med:8.0f}ms {pct(xs, .95):8.0f}ms   "
              f"{med / base_fp:5.2f}x bare widget")
    b, lab = results["bare_rtt_ms"], results["label_rtt_ms"]
    print(f"{'bare comm round trip':34s} {statistics.median(b):8.1f}ms {pct(b, .95):8.1f}ms   1.00x")
    print(f"{'label: key -> df + store -> UI':34s} {statistics.median(lab):8.1f}ms {pct(lab, .95):8.1f}ms   "
          f"{statistics.median(lab) / statistics.median(b):5.2f}x bare round trip (goal <= 1.3x)")
    fp1m = statistics.median(results["first_paint_ms[1M rows]"])
    print(f"goal 1M first paint <= 1500 ms: {'met' if fp1m <= 1500 else 'NOT met'} ({fp1m:.0f} ms)")
    print(f"feedback events journaled during the run: {journaled} (expected {len(lab)})")
    fi = statistics.median(results["first_paint_ms[1M rows, index, interleaved]"])
    fu_all = results["first_paint_ms[1M rows, uncertainty + model]"]
    fu = statistics.median(fu_all)
    li, la = results["label_rtt_ms[1M, index]"], results["label_rtt_ms[1M, uncertainty + model]"]
    print("1M rows, order='uncertainty' + a preference model, beside order='index' (interleaved):")
    print(f"{'first paint, index order':34s} {fi:8.0f}ms {'':9s}   1.00x")
    print(f"{'first paint, uncertainty + model':34s} {fu:8.0f}ms {pct(fu_all, .95):8.0f}ms   "
          f"{fu / fi:5.2f}x index order (goal <= 1.5x)")
    print(f"{'label round trip, index order':34s} {statistics.median(li):8.1f}ms {pct(li, .95):8.1f}ms   1.00x")
    print(f"{'label round trip, uncertainty':34s} {statistics.median(la):8.1f}ms {pct(la, .95):8.1f}ms   "
          f"{statistics.median(la) / statistics.median(li):5.2f}x index order (goal <= 1.5x)")
    with hl.Store(store_path.replace(".sqlite", "-active.sqlite")) as store:
        journaled_big = len(store.feedback_events())
    print(f"feedback events journaled at 1M rows: {journaled_big} (expected {len(li) + len(la)})")
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_widget_raw.json").write_text(json.dumps(results, indent=1))
    fp = results["first_paint_ms[1M rows]"]
    rtt, bare_rtt = statistics.median(lab), statistics.median(b)
    params = {"reps": args.reps, "n": args.n}
    figures.write("bench_widget.py", [
        figures.figure(
            "widget.first_paint_1m", "annotator, cell run → first paint, 1M rows",
            f"{min(fp) / 1000:.2g}–{max(fp) / 1000:.2g} s" if len(fp) > 1 else f"{fp[0] / 1000:.2g} s",
            f"{fp1m / base_fp:.1f} × a bare widget ({base_fp / 1000:.2g} s)", value=fp1m / 1000,
            unit="s (median)", baseline=base_fp / 1000,
            baseline_name="cell run -> first paint of a trivial anywidget", goal="<= 1.5 s",
            runs_s=[x / 1000 for x in fp]),
        figures.figure(
            "widget.label_round_trip", 'annotator, key → DataFrame + store → "saved"',
            f"{rtt:.0f} ms", f"{rtt / bare_rtt:.2f} × a bare widget round trip ({bare_rtt:.0f} ms)",
            value=rtt, unit="ms (median)", baseline=bare_rtt,
            baseline_name="bare comm round trip of a trivial anywidget, interleaved",
            goal="<= 1.3 x", journaled=journaled),
        figures.figure(
            "widget.first_paint_1m_uncertainty",
            'annotator, 1M rows, order="uncertainty" + model: cell run → first paint',
            f"{fu / 1000:.2g} s", f"{fu / fi:.2f} × index order ({fi / 1000:.2g} s)", value=fu / 1000,
            unit="s (median)", baseline=fi / 1000,
            baseline_name='first paint of the same 1M rows in order="index", interleaved',
            goal="<= 1.5 x", runs_s=[x / 1000 for x in fu_all]),
        figures.figure(
            "widget.label_round_trip_1m_uncertainty",
            'annotator, 1M rows, order="uncertainty" + model (refit every 20, re-rank): key → "saved"',
            f"{statistics.median(la):.0f} ms",
            f"{statistics.median(la) / statistics.median(li):.2f} × index order "
            f"({statistics.median(li):.0f} ms)",
            value=statistics.median(la), unit="ms (median)", baseline=statistics.median(li),
            baseline_name='label round trip, same 1M rows and store, order="index", interleaved',
            goal="<= 1.5 x", journaled=journaled_big),
    ], params=params, documented_size=params == DEFAULTS)


if __name__ == "__main__":
    main()

"""End to end in a real browser: JupyterLab 4 and Notebook 7, Debian Chromium, Python Playwright.

Click and type as a user does, then assert the kernel's DataFrame and the SQLite store.
"""

from __future__ import annotations

import http.server
import json
import threading

import pytest
from jupyter_harness import ARTIFACTS, cell_types, focused_in, kernel_json, open_notebook, run_cell

import hl_notebook as hl

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def annotate_cells(store_path: str) -> list[str]:
    return [
        "import json, pandas as pd, hl_notebook as hl\n"
        f"store = hl.Store({store_path!r})\n"
        "df = pd.DataFrame({\n"
        "    'prompt': ['How do I sort a list of words by length in Python?', 'Name a prime', 'Capital of France?', 'Say hi'],\n"
        "    'completion': ['Use `sorted()` with a key:\\n\\n```python\\nsorted(words, key=len)\\n```\\n\\nIt returns a **new list**; `words.sort(key=len)` sorts in place.', '9 is prime',\n"
        "                   'Paris', 'hello'],\n"
        "    'model': ['gpt-4o-mini'] * 4, 'latency_ms': [812, 640, 901, 333],\n"
        "}, index=['a', 'a', 'b', 'c'])\n"
        "w = hl.annotate(df, store=store, annotator='ada', rating=5)\n"
        "w",
        "print('KERNEL', json.dumps(df[['label', 'rating', 'correction', 'annotator', 'log_id']]"
        ".astype(object).where(df[['label', 'rating', 'correction', 'annotator', 'log_id']].notna(), None)"
        ".values.tolist(), default=str))",
    ]


# Notebook 7.6 itself logs these on page load, with or without any widget.
KNOWN_APP_ERRORS = ("Command 'filebrowser:open-path' not registered", "reading 'schema'")


def own_errors(errors: list[str]) -> list[str]:
    return [e for e in errors if not any(k in e for k in KNOWN_APP_ERRORS)]


def saved_count(page) -> int:
    return int(page.locator(".hl-annotate").get_attribute("data-saved") or 0)


def wait_saved(page, n: int) -> None:
    page.wait_for_function(
        "n => Number(document.querySelector('.hl-annotate')?.dataset.saved || 0) >= n", arg=n,
        timeout=30_000,
    )


@pytest.mark.parametrize(
    ("app", "theme"), [("lab", "JupyterLab Light"), ("nb7", "JupyterLab Dark")]
)
def test_annotate_click_keys_and_edit_land_in_dataframe_and_store(browser, jupyter, app, theme):
    from playwright.sync_api import expect

    jupyter.set_theme(theme)
    store_path = str(jupyter.root / f"annotate-{app}.sqlite")
    name = jupyter.write_notebook(f"annotate-{app}.ipynb", annotate_cells(store_path))
    console: list[str] = []
    page, errors = open_notebook(browser, jupyter, name, app, console=console)
    try:
        root = page.locator(".hl-annotate")
        root.wait_for(state="visible", timeout=60_000)
        expect(root).to_have_attribute("data-ready", "1", timeout=30_000)
        expect(root.locator(".hl-completion strong")).to_have_text("new list")  # markdown rendered
        expect(root.locator(".hl-completion pre code")).to_contain_text("sorted(words, key=len)")
        expect(root.locator(".hl-chip").first).to_have_text("model: gpt-4o-mini")
        # the footer names the store as the user knows it (the kernel runs beside it), not by an
        # absolute path that would be saved into the notebook
        expect(root.locator(".hl-footer")).to_have_text(f"store: annotate-{app}.sqlite")

        # click 👍 on row 0: saved; with rating=5 the row waits for its stars too
        root.locator('.hl-label[data-label="👍"]').click()
        wait_saved(page, 1)
        expect(root.locator(".hl-notice")).to_contain_text("saved to the store")
        expect(root).to_have_attribute("data-pos", "0")
        # no click on the widget: the key after a button click still reaches it
        page.keyboard.press("Shift+Digit4")
        wait_saved(page, 2)
        expect(root).to_have_attribute("data-pos", "1")  # label and rating given: it moves on

        # keys: 2 = 👎 on row 1 (stays: no rating yet), j to row 2, k back, j again
        page.keyboard.press("2")
        wait_saved(page, 3)
        expect(root).to_have_attribute("data-pos", "1")
        page.keyboard.press("j")
        expect(root).to_have_attribute("data-pos", "2")
        page.keyboard.press("k")
        expect(root).to_have_attribute("data-pos", "1")
        page.keyboard.press("j")
        expect(root).to_have_attribute("data-pos", "2")
        # a star click on row 2 (3 stars), then keys again without a click
        root.locator('.hl-star[data-rating="3"]').click()
        wait_saved(page, 4)
        expect(root.locator(".hl-star.hl-on")).to_have_count(3)
        assert focused_in(page, ".hl-annotate")

        # e: edit the completion, Ctrl+Enter saves the correction; the diff shows it
        page.keyboard.press("e")
        editor = root.locator(".hl-editor")
        expect(editor).to_be_focused()
        editor.fill("Paris, the capital of France.")
        page.keyboard.press("Control+Enter")
        wait_saved(page, 5)
        expect(root.locator(".hl-diff ins")).to_contain_text("capital")
        expect(root.locator(".hl-badge")).to_have_text("✓ saved to store")

        # ? shows the key map and says when the widget moves on; Esc closes it
        page.keyboard.press("?")
        expect(root.locator(".hl-overlay")).to_be_visible()
        expect(root.locator(".hl-overlay .hl-help-note")).to_contain_text("both a label and a rating")
        page.keyboard.press("Escape")
        expect(root.locator(".hl-overlay")).to_have_count(0)
        expect(root.locator(".hl-progress-text")).to_contain_text("3 of 4 labelled")
        page.screenshot(path=str(ARTIFACTS / f"annotate-{app}-{theme.split()[-1].lower()}.png"))
        root.screenshot(path=str(ARTIFACTS / f"annotate-widget-{app}.png"))

        page.keyboard.press("k")
        page.keyboard.press("k")
        expect(root).to_have_attribute("data-pos", "0")
        # README's picture: examples/annotate.png is this file from the lab run (on a machine with
        # an emoji font, Debian's fonts-noto-color-emoji)
        root.screenshot(path=str(ARTIFACTS / f"annotate-readme-{app}.png"))
        # / filters by text: only the row about France is left
        page.keyboard.press("/")
        expect(root.locator(".hl-search")).to_be_focused()
        page.keyboard.type("france")
        page.keyboard.press("Enter")
        expect(root.locator(".hl-position")).to_have_text("1 / 1")
        expect(root).to_have_attribute("data-pos", "2")
        assert cell_types(page) == ["code", "code"]  # no key went to the notebook
        got = kernel_json(page, 1, "KERNEL")
        assert [r[0] for r in got] == ["👍", "👎", None, None]
        assert [r[1] for r in got] == [4, None, 3, None]
        assert got[2][2] == "Paris, the capital of France."
        assert [r[3] for r in got[:3]] == ["ada", "ada", "ada"]

        # the store has every acknowledged change, also after a kernel restart
        jupyter.restart_kernel(name)
        with hl.Store(store_path) as store:
            latest = store.to_pandas().set_index("log_id")
            ids = [r[4] for r in got]
            assert latest.loc[ids[0], "label"] == "👍" and latest.loc[ids[1], "label"] == "👎"
            assert latest.loc[ids[0], "rating"] == 4 and latest.loc[ids[2], "rating"] == 3
            assert latest.loc[ids[2], "correction"] == "Paris, the capital of France."
            assert len(store.feedback_events()) == 5
        assert not own_errors(errors), errors
        assert not [m for m in console if "Deprecation" in m], console
    finally:
        page.close()
        jupyter.set_theme("JupyterLab Light")


@pytest.mark.parametrize("app", ["lab", "nb7"])
def test_keys_work_without_a_click_and_after_a_button(browser, jupyter, app):
    """Run the cell with Shift+Enter and type: the widget has the keys; a button click keeps them."""
    from playwright.sync_api import expect

    cells = [
        "import json, pandas as pd, hl_notebook as hl\n"
        "df = pd.DataFrame({'prompt': [f'q{i}' for i in range(5)], 'completion': [f'a{i}' for i in range(5)]})\n"
        "w = hl.Annotator(df, labels={'good': '👍', 'bad': '👎'}, annotator='cy')\n"
        "w",
        "print('KERNEL', json.dumps(df['label'].tolist()))",
    ]
    name = jupyter.write_notebook(f"focus-{app}.ipynb", cells)
    page, errors = open_notebook(browser, jupyter, name, app, run=False)
    try:
        run_cell(page, 0)  # command mode, Shift+Enter: the next cell is selected, nobody types
        root = page.locator(".hl-annotate")
        expect(root).to_have_attribute("data-ready", "1", timeout=60_000)
        page.wait_for_function("() => document.activeElement?.closest('.hl-annotate') !== null",
                               timeout=10_000)
        expect(root.locator('.hl-label[data-label="good"]')).to_have_text("1 👍 good")
        page.keyboard.press("1")  # no click anywhere
        wait_saved(page, 1)
        expect(root).to_have_attribute("data-pos", "1")
        root.locator('.hl-label[data-label="bad"]').click()
        wait_saved(page, 2)
        expect(root).to_have_attribute("data-pos", "2")
        page.keyboard.press("2")  # in JupyterLab's command mode this would make a Markdown cell
        wait_saved(page, 3)
        root.locator(".hl-prev").click()
        page.keyboard.press("1")  # after the prev button: row 2 changes from bad to good
        wait_saved(page, 4)
        expect(root).to_have_attribute("data-pos", "3")
        expect(root.locator(".hl-progress-text")).to_contain_text("3 of 5 labelled · cy 3")
        assert cell_types(page) == ["code", "code"]
        assert kernel_json(page, 1, "KERNEL") == ["good", "bad", "good", None, None]
        # with the widget focused, a click on its own cell's prompt and Shift+Enter run that cell
        root.locator(".hl-next").click()
        assert focused_in(page, ".hl-annotate")
        prompt = page.locator(".jp-Notebook .jp-Cell").nth(0).locator(".jp-InputPrompt").first
        before = prompt.inner_text()
        prompt.click()
        page.keyboard.press("Shift+Enter")
        expect(prompt).not_to_have_text(before, timeout=30_000)
        expect(prompt).not_to_have_text("[*]:", timeout=30_000)
        assert not own_errors(errors), errors
    finally:
        page.close()


def test_compare_votes_map_to_original_columns_and_journal(browser, jupyter):
    from playwright.sync_api import expect

    store_path = str(jupyter.root / "compare.sqlite")
    cells = [
        "import json, pandas as pd, hl_notebook as hl\n"
        f"store = hl.Store({store_path!r})\n"
        "x = pd.DataFrame({'prompt': [f'q{i}' for i in range(4)], 'completion': [f'first answer {i}' for i in range(4)]})\n"
        "y = pd.DataFrame({'prompt': [f'q{i}' for i in range(4)], 'completion': [f'second answer {i}' for i in range(4)]})\n"
        "x['log_id'] = [store.log(prompt=p, completion=c) for p, c in zip(x.prompt, x.completion)]\n"
        "y['log_id'] = [store.log(prompt=p, completion=c) for p, c in zip(y.prompt, y.completion)]\n"
        "pairs = hl.pair_up(x, y, on=['prompt'], names=('v1', 'v2'))\n"
        "w = hl.compare(pairs, store=store, annotator='bo')\n"
        "def strict_callback(event):\n"
        "    raise ValueError(f'callback refused {event[\"preferred\"]}')\n"
        "w.on_feedback(strict_callback)\n"
        "w",
        "print('KERNEL', json.dumps(pairs[['preferred', 'shown_left', 'log_id_a', 'log_id_b']].values.tolist()))",
    ]
    name = jupyter.write_notebook("compare.ipynb", cells)
    page, errors = open_notebook(browser, jupyter, name, "lab")
    try:
        root = page.locator(".hl-compare")
        expect(root).to_have_attribute("data-ready", "1", timeout=60_000)
        lefts = []
        root.focus()
        for i, key in enumerate(["ArrowLeft", "ArrowRight", "=", "x"]):
            expect(root).to_have_attribute("data-pos", str(i))
            lefts.append(root.locator(".hl-side-left .hl-text").inner_text().strip())
            page.keyboard.press(key)
            page.wait_for_function(
                "n => Number(document.querySelector('.hl-compare').dataset.saved || 0) >= n", arg=i + 1
            )
        expect(root.locator(".hl-progress-text")).to_contain_text("4 of 4 judged")
        # an error inside the user's callback shows under the widget; the vote is still saved
        expect(root.locator(".hl-cb-error")).to_contain_text("callback refused both_bad")
        root.screenshot(path=str(ARTIFACTS / "compare-lab.png"))
        got = kernel_json(page, 1, "KERNEL")
        left_col = ["a" if t.startswith("first") else "b" for t in lefts]
        assert [r[1] for r in got] == left_col
        other = {"a": "b", "b": "a"}
        assert [r[0] for r in got] == [left_col[0], other[left_col[1]], "tie", "both_bad"]
        jupyter.restart_kernel(name)
        with hl.Store(store_path) as store:
            latest = store.to_pandas().set_index("log_id")
            winner = got[0][2] if got[0][0] == "a" else got[0][3]
            loser = got[0][3] if got[0][0] == "a" else got[0][2]
            assert latest.loc[winner, "label"] == "👍" and latest.loc[loser, "label"] == "👎"
            assert latest.loc[got[3][2], "label"] == "👎" and latest.loc[got[3][3], "label"] == "👎"
            assert latest.loc[got[2][2], "comment"].endswith(": tie")
            assert set(store.feedback_events()["source"]) == {"compare"}
        assert not own_errors(errors), errors
    finally:
        page.close()


class _Watch(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802
        _Watch.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"window.__pwned = 'fetched'")

    do_POST = do_GET

    def log_message(self, *a):
        pass


def xss_payloads(base: str) -> list[str]:
    p = "window.__pwned=1"
    return [
        f"<script>{p}</script>",
        f"<script src='{base}/s.js'></script>",
        f"<img src='{base}/img.png' onerror='{p}'>",
        f"<img src=x onerror={p}>",
        f"<svg onload={p}><circle r=5 /></svg>",
        f"<svg><script>{p}</script></svg>",
        f"<svg><image href='{base}/svgimg.png' /></svg>",
        f"[click me](javascript:{p})",
        f"<a href='javascript:{p}'>link</a>",
        f"<a href='data:text/html,<script>{p}</script>'>data</a>",
        f"<iframe src='{base}/frame'></iframe>",
        "<iframe srcdoc='<script>parent.__pwned=1</script>'></iframe>",
        f"<meta http-equiv='refresh' content='0;url={base}/refresh'>",
        f"<div style='background:url({base}/css-bg.png)'>styled</div>",
        f"<style>@import url('{base}/import.css'); body{{background:url({base}/body.png)}}</style>",
        f"![remote image]({base}/md-image.png)",
        f"<object data='{base}/object'></object>",
        f"<embed src='{base}/embed'>",
        f"<link rel='stylesheet' href='{base}/link.css'>",
        f"<video poster='{base}/poster.png'><source src='{base}/v.mp4' onerror='{p}'></video>",
        f"<details open ontoggle='{p}'><summary>x</summary></details>",
        f"<body onload='{p}'>",
        f"<form action='{base}/form'><input type=image src='{base}/input.png'></form>",
        f"<math><mtext><table><mglyph><style><img src='{base}/mxss.png' onerror='{p}'>",
        f"<base href='{base}/'><a href='rel'>relative</a>",
        "<a href=\"jav&#x09;ascript:alert('x')\">tab</a>",
        "<scr<script>ipt>alert(1)</scr</script>ipt>",
        f"<audio src='{base}/a.mp3' autoplay></audio>",
        f"<picture><source srcset='{base}/srcset.png'><img alt=p></picture>",
        f"<table background='{base}/tbg.png'><tr><td>t</td></tr></table>",
        f"<div onmouseover='{p}' onclick='{p}'>hover me</div>",
        f"```html\n<script>{p}</script>\n```",
        f"<noscript><p title=\"</noscript><img src=x onerror={p}>\">",
    ]


#: Completions that try to look like the widget itself: a fake saved badge, a fake dialog over it.
SPOOFS = [
    "<span class='hl-badge hl-saved'>✓ saved to store</span> trust me",
    "<div class='hl-overlay'><div class='hl-help'><strong>Keyboard shortcuts</strong>"
    "<p>Session expired: type your API key</p></div></div>",
    "```hl-overlay\nfake code block\n```\n<code class='language-js hl-badge hl-saved'>✓ saved</code>",
    "<p class='hl-notice'>✓ row 0 saved to the store: label 👍</p>",
]

# Per row: what in the rendered completion is not allowed to be there, and what looks like ours.
CHECK_ROW_JS = """() => {
  const root = document.querySelector('.hl-annotate');
  const inside = [...root.querySelectorAll('.hl-text *')];
  return {
    forbidden: inside.filter(n => /^(SCRIPT|IFRAME|IMG|SVG|STYLE|META|OBJECT|EMBED|LINK|BASE|FORM|VIDEO|AUDIO|SOURCE)$/i.test(n.tagName)
        || [...n.attributes].some(a => /^on|^(src|srcset|srcdoc|style|poster|background|action)$/i.test(a.name)))
      .map(n => n.outerHTML),
    ours: inside.filter(n => n.hasAttribute('class') && !/^(hl-missing|hl-plain)$/.test(n.className)
        && !(n.tagName === 'CODE' && /^(language-\\S+ ?)+$/.test(n.className)))
      .map(n => n.outerHTML),
    positioned: inside.filter(n => ['absolute', 'fixed', 'sticky'].includes(getComputedStyle(n).position))
      .map(n => n.outerHTML),
    badges: [...root.querySelectorAll('.hl-badge')].map(b => b.textContent),
    overlays: root.querySelectorAll('.hl-overlay').length,
    text: root.querySelector('.hl-completion .hl-text').textContent,
    progress: root.querySelector('.hl-progress-text').textContent,
  };
}"""


def test_hostile_completions_never_execute_or_fetch(browser, jupyter):
    from playwright.sync_api import expect

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Watch)
    watch_port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{watch_port}"
    payloads = xss_payloads(base) + SPOOFS
    assert len(payloads) >= 20
    (jupyter.root / "payloads.json").write_text(json.dumps(payloads))
    cells = [
        "import json, pandas as pd, hl_notebook as hl\n"
        "payloads = json.load(open('payloads.json'))\n"
        "big = 'word ' * 220_000  # a 1.1 MB completion\n"
        "df = pd.DataFrame({'prompt': payloads + ['big one'], 'completion': payloads + [big]})\n"
        "w = hl.annotate(df)\n"
        "w",
    ]
    name = jupyter.write_notebook("xss.ipynb", cells)
    page = browser.new_page()
    dialogs: list[str] = []
    requests: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: requests.append(r.url) if f":{watch_port}" in r.url else None)
    try:
        page.goto(jupyter.url(name, "lab"))
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="visible", timeout=90_000)
        jupyter.wait_idle(name)
        from jupyter_harness import run_all

        run_all(page)
        root = page.locator(".hl-annotate")
        expect(root).to_have_attribute("data-ready", "1", timeout=60_000)
        root.focus()
        first_spoof = len(payloads) - len(SPOOFS)
        for i in range(len(payloads)):
            expect(root).to_have_attribute("data-pos", str(i))
            root.locator(".hl-completion").hover()
            seen = page.evaluate(CHECK_ROW_JS)
            assert seen["forbidden"] == [] and seen["ours"] == [], (i, payloads[i], seen)
            assert seen["positioned"] == [], (i, payloads[i], seen)
            if i >= first_spoof:  # it renders, but nothing of it looks like our state
                assert seen["badges"] == ["unlabelled"] and seen["overlays"] == 0, seen
                assert seen["progress"].startswith(f"0 of {len(payloads) + 1} labelled"), seen
                assert any(w in seen["text"] for w in ("saved", "Keyboard shortcuts")), seen
                if i == first_spoof:
                    root.screenshot(path=str(ARTIFACTS / "xss-spoof-badge-lab.png"))
            page.keyboard.press("j")
        page.wait_for_timeout(1500)
        root.screenshot(path=str(ARTIFACTS / "xss-lab.png"))
        assert page.evaluate("() => window.__pwned === undefined && window.parent.__pwned === undefined")
        assert dialogs == []
        assert requests == [] and _Watch.hits == []

        # the 1.1 MB cell: clipped with "show more", which loads it all
        expect(root).to_have_attribute("data-pos", str(len(payloads)))
        more = root.locator(".hl-completion .hl-more")
        expect(more).to_contain_text("1,100,000 characters")
        more.click()
        expect(more).to_have_count(0, timeout=30_000)
        length = page.evaluate("() => document.querySelector('.hl-annotate .hl-completion .hl-text').textContent.length")
        assert length == 1_100_000
        # label it, then undo with u
        root.focus()
        page.keyboard.press("1")
        expect(root.locator(".hl-badge")).to_have_text("✓ saved")
        page.keyboard.press("u")
        expect(root.locator(".hl-notice")).to_contain_text("undid")
        expect(root.locator(".hl-badge")).to_have_text("unlabelled")
    finally:
        page.close()
        server.shutdown()

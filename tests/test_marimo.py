"""The widgets in marimo: ``mo.ui.anywidget(...)`` and plain display, in a real browser.

One ``marimo run`` server and one page hold three widgets: an annotator and a compare widget
wrapped in ``mo.ui.anywidget`` (each with a cell that uses it, which marimo re-runs on every saved
change), and an annotator shown by plain display whose ``on_feedback`` sets a ``mo.state``.
Keys are pressed as a user does; the DataFrames are read from the dependent cells' outputs and the
store from its file.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from jupyter_harness import ARTIFACTS
from marimo_harness import off_machine, open_app, require_marimo, start_marimo

import hl_notebook as hl


def notebook_cells(store_path: str) -> list[str]:
    return [
        """
        import json
        import marimo as mo
        import pandas as pd
        import hl_notebook as hl
        """,
        f"""
        store = hl.Store({store_path!r})
        df = pd.DataFrame({{
            "prompt": ["Capital of France?", "2+2?", "Say hi"],
            "completion": ["Paris", "5", "hello"],
        }})
        labels_view = mo.ui.anywidget(hl.annotate(df, store=store, annotator="ada"))
        labels_view
        """,
        """
        mo.plain_text("HL-ANNOTATE " + json.dumps({
            "saved": labels_view.value["saved"]["count"],
            "labelled": len(df.dropna(subset=["label"])),
            "labels": df["label"].tolist(),
            "log_ids": df["log_id"].tolist() if "log_id" in df else [],
        }))
        """,
        """
        _ids = [store.log(prompt="Capital of France?", completion=c) for c in ("Paris", "Lyon")]
        pairs = pd.DataFrame({
            "prompt": ["Capital of France?"], "completion_a": ["Paris"], "completion_b": ["Lyon"],
            "log_id_a": [_ids[0]], "log_id_b": [_ids[1]],
        })
        votes_view = mo.ui.anywidget(hl.compare(pairs, store=store, annotator="ada"))
        votes_view
        """,
        """
        mo.plain_text("HL-COMPARE " + json.dumps({
            "saved": votes_view.value["saved"]["count"],
            "preferred": pairs["preferred"].tolist(),
            "shown_left": pairs["shown_left"].tolist(),
            "log_ids": [pairs["log_id_a"][0], pairs["log_id_b"][0]],
        }))
        """,
        "get_events, set_events = mo.state(0)",
        """
        plain_df = pd.DataFrame({"prompt": ["p0", "p1"], "completion": ["c0", "c1"]})
        plain = hl.annotate(plain_df)
        plain.on_feedback(lambda event: set_events(lambda n: n + 1))
        plain
        """,
        """
        mo.plain_text("HL-PLAIN " + json.dumps({
            "events": get_events(), "labels": plain_df["label"].tolist(),
        }))
        """,
    ]


@pytest.fixture(scope="module")
def marimo_app(browser, tmp_path_factory):
    from playwright.sync_api import expect

    require_marimo()
    tmp = tmp_path_factory.mktemp("marimo")
    store_path = tmp / "feedback.sqlite"
    server = start_marimo(tmp, notebook_cells(str(store_path)))
    page = None
    try:
        page, errors, requested = open_app(browser, server)
        for root in (page.locator(".hl-annotate").first, page.locator(".hl-compare"),
                     page.locator(".hl-annotate").nth(1)):
            expect(root).to_have_attribute("data-ready", "1", timeout=60_000)
        yield page, store_path, errors, requested
    finally:
        if page is not None:
            page.screenshot(path=str(ARTIFACTS / "marimo.png"), full_page=True)
            page.close()
        server.stop()


def output(page, marker: str, **expected) -> dict:
    """The JSON a dependent cell shows after ``marker``, once it has the ``expected`` values."""
    from playwright.sync_api import expect

    cell = page.get_by_text(marker)
    for key, value in expected.items():
        expect(cell).to_contain_text(f'"{key}": {json.dumps(value)}', timeout=30_000)
    return json.loads(cell.inner_text().split(marker, 1)[1])


def focus(root) -> None:
    """Focus the widget as a user does: a click on its row heading."""
    root.locator(".hl-index").click()


pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def test_labels_by_keyboard_rerun_the_cell_using_the_wrapped_widget(marimo_app):
    from playwright.sync_api import expect

    page, store_path, errors, requested = marimo_app
    root = page.locator(".hl-annotate").first
    assert output(page, "HL-ANNOTATE", saved=0)["labels"] == [None, None, None]
    focus(root)
    page.keyboard.press("1")  # 👍 on row 0, then the widget moves to row 1
    expect(root).to_have_attribute("data-pos", "1")
    assert output(page, "HL-ANNOTATE", saved=1)["labels"] == ["👍", None, None]
    page.keyboard.press("2")  # 👎 on row 1
    expect(root).to_have_attribute("data-pos", "2")
    assert output(page, "HL-ANNOTATE", saved=2)["labels"] == ["👍", "👎", None]
    page.keyboard.press("u")  # undo: row 1 is unlabelled again
    got = output(page, "HL-ANNOTATE", saved=3)
    assert got["labels"] == ["👍", None, None] and got["labelled"] == 1

    with hl.Store(store_path) as store:
        latest = store.to_pandas().set_index("log_id")
        assert latest.loc[got["log_ids"][0], "label"] == "👍"
        assert pd.isna(latest.loc[got["log_ids"][1], "label"])
        events = store.feedback_events()
        events = events[events["log_id"].isin(got["log_ids"])]
        assert events["label"].tolist()[:2] == ["👍", "👎"] and events["cleared"].tolist()[-1] == "label"
    assert not errors, errors
    assert not off_machine(requested), off_machine(requested)


def test_a_vote_by_keyboard_reruns_the_cell_using_the_wrapped_compare_widget(marimo_app):
    page, store_path, errors, requested = marimo_app
    root = page.locator(".hl-compare")
    focus(root)
    page.keyboard.press("ArrowLeft")  # the left side is better
    got = output(page, "HL-COMPARE", saved=1)
    assert got["preferred"] == got["shown_left"] and got["preferred"][0] in ("a", "b")
    better = got["log_ids"][0 if got["preferred"][0] == "a" else 1]
    with hl.Store(store_path) as store:
        events = store.feedback_events(better)
        assert events["label"].tolist() == ["👍"] and events["source"].tolist() == ["compare"]
    assert not errors, errors
    assert not off_machine(requested), off_machine(requested)


def test_plain_display_saves_labels_and_on_feedback_can_drive_mo_state(marimo_app):
    from playwright.sync_api import expect

    page, _, errors, requested = marimo_app
    root = page.locator(".hl-annotate").nth(1)
    focus(root)
    page.keyboard.press("1")
    expect(root).to_have_attribute("data-pos", "1")
    assert output(page, "HL-PLAIN", events=1)["labels"] == ["👍", None]
    assert not errors, errors
    assert not off_machine(requested), off_machine(requested)

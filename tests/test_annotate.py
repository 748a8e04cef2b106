"""The annotator's logic and message boundary, driven without a kernel."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pandas as pd
import pytest

import hl_notebook as hl
from hl_notebook._widgets.cells import PREVIEW_CHARS


class Wire:
    """Captures every message the widget sends to the front end, as its comm would carry them
    (trait updates and custom messages), and plays the front end's requests."""

    def __init__(self, widget):
        self.widget = widget
        self.messages: list[dict] = []
        widget._send = lambda msg, buffers=None: self.messages.append(json.loads(json.dumps(msg)))
        self.n = 0

    @property
    def sent(self) -> list[dict]:
        """The custom messages' contents (the replies)."""
        return [m["content"] for m in self.messages if m["method"] == "custom"]

    def carrying(self, name: str) -> list[dict]:
        """Every message, of any kind, that carries ``name`` (a trait or a reply field)."""
        return [m for m in self.messages
                if name in m.get("state", {}) or name in m.get("content", {})]

    def ask(self, **msg):
        self.n += 1
        msg["id"] = f"t{self.n}"
        self.widget._dispatch(self.widget, msg, [])
        reply = self.sent[-1]
        assert reply["id"] == msg["id"]
        return reply


def frame(n=5):
    return pd.DataFrame({"prompt": [f"p{i}" for i in range(n)], "completion": [f"c{i}" for i in range(n)]})


def test_label_message_writes_dataframe_and_store_before_saved_reply(store):
    df = frame()
    w = hl.annotate(df, store=store, annotator="ada")
    wire = Wire(w)
    reply = wire.ask(kind="feedback", pos=2, fields={"label": "👍"})
    assert reply["kind"] == "saved" and reply["journaled"] is True
    assert df.loc[2, "label"] == "👍" and df.loc[2, "annotator"] == "ada"
    assert pd.notna(df.loc[2, "labelled_at"])
    stored = store.to_pandas()
    assert stored.set_index("log_id").loc[df.loc[2, "log_id"], "label"] == "👍"
    assert reply["row"]["label"] == "👍"
    assert w.progress["labelled"] == 1 and w.progress["per_annotator"] == {"ada": 1}


def test_frame_with_log_ids_journals_to_default_store():
    store = hl.default_store()
    ids = [store.log(prompt="p", completion=f"c{i}") for i in range(3)]
    df = store.to_pandas()
    w = hl.annotate(df)
    Wire(w).ask(kind="feedback", pos=1, fields={"label": "👎", "comment": "rude"})
    events = store.feedback_events()
    assert events["log_id"].tolist() == [ids[1]]
    assert events["label"].tolist() == ["👎"] and events["comment"].tolist() == ["rude"]


def test_undo_restores_dataframe_and_clears_in_store(store):
    df = frame()
    w = hl.annotate(df, store=store, rating=5)
    wire = Wire(w)
    wire.ask(kind="feedback", pos=0, fields={"label": "👍"})
    wire.ask(kind="feedback", pos=0, fields={"rating": 4, "correction": "better"})
    reply = wire.ask(kind="undo")
    assert reply["undone"] is True and pd.isna(df.loc[0, "rating"]) and df.loc[0, "correction"] is None
    assert df.loc[0, "label"] == "👍"
    wire.ask(kind="undo")
    assert df.loc[0, "label"] is None and pd.isna(df.loc[0, "labelled_at"])
    latest = store.to_pandas().iloc[0]
    assert pd.isna(latest["label"]) and pd.isna(latest["rating"]) and pd.isna(latest["correction"])
    assert store.feedback_events()["cleared"].dropna().tolist() == ["rating,correction", "label"]
    assert wire.ask(kind="undo").get("nothing") is True


def test_failed_save_answers_error_and_leaves_frame_untouched(store):
    df = frame()
    w = hl.annotate(df, store=store)
    wire = Wire(w)
    reply = wire.ask(kind="feedback", pos=1, fields={"label": "🤷"})
    assert "not in the label vocabulary" in reply["error"]
    assert df.loc[1, "label"] is None and len(store.feedback_events()) == 0
    df["log_id"] = "log_not_in_this_store"
    reply = wire.ask(kind="feedback", pos=1, fields={"label": "👍"})
    assert "not in the store" in reply["error"]
    assert df.loc[1, "label"] is None and pd.isna(df.loc[1, "labelled_at"])
    assert w.progress["labelled"] == 0


def test_rows_pages_filters_and_searches():
    df = frame(50)
    w = hl.annotate(df)
    wire = Wire(w)
    page = wire.ask(kind="rows", start=10, count=5)
    assert page["total"] == 50 and [r["pos"] for r in page["rows"]] == [10, 11, 12, 13, 14]
    wire.ask(kind="feedback", pos=3, fields={"label": "👎"})
    assert wire.ask(kind="rows", start=0, count=50, filter={"status": "unlabelled"})["total"] == 49
    got = wire.ask(kind="rows", start=0, count=5, filter={"label": "👎"})
    assert [r["pos"] for r in got["rows"]] == [3]
    got = wire.ask(kind="rows", start=0, count=50, filter={"text": "C4"})
    assert sorted(r["pos"] for r in got["rows"]) == [4, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49]


def test_missing_column_error_names_it_lists_columns_and_parameter():
    df = pd.DataFrame({"prompt": ["p"], "text": ["c"]})
    with pytest.raises(hl.HLValueError, match=r"missing column 'completion'; it has \['prompt', 'text'\]\. Pass completion="):
        hl.annotate(df)


def test_nan_none_numbers_and_duplicate_non_integer_index_render():
    df = pd.DataFrame(
        {"prompt": [None, 3.5, "p", np.nan], "completion": [np.nan, 42, "c", None]},
        index=["x", "x", 2.5, (1, 2)],
    )
    w = hl.annotate(df)
    wire = Wire(w)
    rows = wire.ask(kind="rows", start=0, count=10)["rows"]
    assert rows[0]["prompt"]["text"] is None and rows[0]["completion"]["text"] is None
    assert rows[1]["prompt"]["text"] == "3.5" and rows[1]["completion"]["text"] == "42"
    assert [r["index"] for r in rows] == ["x", "x", "2.5", "(1, 2)"]
    wire.ask(kind="feedback", pos=1, fields={"label": "👍"})
    assert df["label"].tolist() == [None, "👍", None, None]


def test_megabyte_cell_is_clipped_for_display_and_never_altered():
    big = "word " * 220_000
    df = pd.DataFrame({"prompt": ["p"], "completion": [big]})
    wire = Wire(hl.annotate(df))
    row = wire.ask(kind="rows", start=0, count=1)["rows"][0]
    assert row["completion"]["truncated"] and len(row["completion"]["text"]) == PREVIEW_CHARS
    assert row["completion"]["length"] == len(big)
    full = wire.ask(kind="cell", pos=0, field="completion")
    assert full["text"] == big and df.loc[0, "completion"] == big


def test_chat_messages_and_metadata_chips():
    df = pd.DataFrame({
        "prompt": ["hi"], "completion": ["hello"], "model": ["gpt-x"], "latency_ms": [812.0],
        "messages": [[{"role": "system", "content": "be nice"}, {"role": "user", "content": "hi"}]],
        "metadata": [{"tokens": 12}],
    })
    row = Wire(hl.annotate(df)).ask(kind="rows", start=0, count=1)["rows"][0]
    assert [m["role"] for m in row["messages"]] == ["system", "user"]
    assert row["chips"] == {"model": "gpt-x", "latency_ms": 812.0, "tokens": 12}


def test_callback_runs_after_save_and_its_error_reaches_the_widget():
    df = frame()
    w = hl.annotate(df)
    seen = []
    w.on_feedback(seen.append)

    def broken(event):
        raise RuntimeError("boom in my callback")

    w.on_feedback(broken)
    reply = Wire(w).ask(kind="feedback", pos=0, fields={"label": "👍"})
    assert reply["kind"] == "saved"
    assert seen[0]["label"] == "👍" and seen[0]["index"] == 0
    assert "boom in my callback" in w.callback_error
    w.on_feedback(broken, remove=True)
    Wire(w).ask(kind="feedback", pos=1, fields={"label": "👍"})
    assert w.callback_error == ""


def test_several_annotators_are_counted_apart(store):
    df = frame()
    w = hl.annotate(df, store=store, annotator="ada")
    wire = Wire(w)
    wire.ask(kind="feedback", pos=0, fields={"label": "👍"})
    w.annotator = "bo"
    wire.ask(kind="feedback", pos=1, fields={"label": "👎"})
    assert w.progress["per_annotator"] == {"ada": 1, "bo": 1}
    assert store.feedback_events()["annotator"].tolist() == ["ada", "bo"]


def test_custom_labels_and_rating_extend_the_store_vocabulary(store):
    df = frame()
    w = hl.annotate(df, store=store, labels=("good", "bad", "unsure"), rating=7)
    wire = Wire(w)
    wire.ask(kind="feedback", pos=0, fields={"label": "unsure", "rating": 7})
    assert "unsure" in store.labels and store.rating_scale[1] >= 7
    assert "1 to 7" in wire.ask(kind="feedback", pos=0, fields={"rating": 8})["error"]


def test_orders_random_and_uncertainty():
    df = frame(100)
    s = hl.annotate(df, order="random", random_state=1).session
    assert sorted(s.order.tolist()) == list(range(100)) and s.order.tolist() != list(range(100))

    class Model:
        def predict_proba(self, X):
            p = np.linspace(0, 1, len(X))
            return np.stack([1 - p, p], axis=1)

    s = hl.annotate(df, order="uncertainty", model=Model()).session
    assert sorted(s.order.tolist()) == list(range(100))
    first = s.order[:9].tolist()
    assert sum(abs(p - 49.5) < 10 for p in first) >= 7
    with pytest.raises(hl.HLValueError, match="predict_proba"):
        hl.annotate(df, order="uncertainty")
    with pytest.raises(hl.HLValueError, match="Did you mean 'random'"):
        hl.annotate(df, order="randm")


def test_uncertainty_order_of_a_multiclass_model_uses_the_top_two_margin():
    class Three:
        def predict_proba(self, X):
            return np.array([[0.8, 0.1, 0.1], [0.4, 0.4, 0.2], [0.5, 0.3, 0.2]])[: len(X)]

    df = frame(3)
    s = hl.annotate(df, order="uncertainty", model=Three()).session
    assert s.order.tolist() == [1, 2, 0]


def test_million_rows_open_and_page_without_serialising_the_frame():
    n = 1_000_000
    df = pd.DataFrame({"prompt": np.full(n, "p", dtype=object), "completion": np.full(n, "c", dtype=object)})
    w = hl.annotate(df, order="random")
    wire = Wire(w)
    page = wire.ask(kind="rows", start=999_990, count=20)
    assert page["total"] == n and len(page["rows"]) == 10
    assert len(json.dumps(w.get_state(), default=str)) < 200_000
    wire.ask(kind="feedback", pos=123_456, fields={"label": "👍"})
    assert df["label"].notna().sum() == 1


def test_no_secret_in_widget_state(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-value")
    w = hl.annotate(frame())
    assert "sk-test-secret-value" not in json.dumps(w.get_state(), default=str)


def test_missing_bundle_error_says_how_to_build(monkeypatch, tmp_path):
    import hl_notebook._widgets.base as base

    monkeypatch.setattr(base, "STATIC", tmp_path)
    with pytest.raises(RuntimeError, match="npm run build"):
        hl.annotate(frame())


def test_bad_requests_answer_errors_not_exceptions():
    wire = Wire(hl.annotate(frame()))
    assert "row position" in wire.ask(kind="feedback", pos=99, fields={"label": "👍"})["error"]
    assert "feedback fields" in wire.ask(kind="feedback", pos=0, fields={"lable": "👍"})["error"]
    assert "unknown request" in wire.ask(kind="nope")["error"]


def test_model_refits_in_background_and_status_reaches_the_widget():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    feats = FunctionTransformer(lambda X: np.c_[X["completion"].str.len().to_numpy()])
    model = make_pipeline(feats, LogisticRegression())
    df = pd.DataFrame({"prompt": [f"p{i}" for i in range(30)],
                       "completion": ["ok" * (1 + i % 7) for i in range(30)]})
    model.fit(df, ["👍" if i % 2 else "👎" for i in range(30)])
    w = hl.annotate(df, order="uncertainty", model=model, refit_every=4)
    wire = Wire(w)
    for pos in range(12):
        wire.ask(kind="feedback", pos=pos, fields={"label": "👍" if pos % 2 else "👎"})
    w.refitter.wait(30)
    assert w.model_status["n_labels"] >= 8 and w.model_status["fits"] >= 1


def test_misspelled_keyword_is_rejected_with_a_hint():
    with pytest.raises(TypeError, match="'lables'. Did you mean labels="):
        hl.annotate(frame(), lables=("a", "b"))
    with pytest.raises(TypeError, match="Did you mean annotator="):
        hl.compare(pd.DataFrame({"prompt": ["p"], "completion_a": ["a"], "completion_b": ["b"]}), anotator="x")


def test_keyword_checks_follow_the_signature_for_function_and_class():
    # annotate() takes exactly what Annotator() takes; a new keyword needs no list kept by hand
    assert inspect.signature(hl.annotate) == inspect.signature(hl.Annotator)
    assert inspect.signature(hl.compare) == inspect.signature(hl.Comparer)
    assert "advance" in inspect.signature(hl.annotate).parameters
    with pytest.raises(TypeError, match=r"^annotate\(\) got .*'advnce'. Did you mean advance="):
        hl.annotate(frame(), advnce="never")
    with pytest.raises(TypeError, match=r"^Annotator\(\) got .*'refit_evry'. Did you mean refit_every="):
        hl.Annotator(frame(), refit_evry=5)
    with pytest.raises(TypeError, match=r"^Comparer\(\) got .*'random_sate'. Did you mean random_state="):
        hl.Comparer(pd.DataFrame({"prompt": ["p"], "completion_a": ["a"], "completion_b": ["b"]}),
                    random_sate=1)
    with pytest.raises(TypeError, match=r"'zzz'. It takes \['prompt', 'completion', 'labels'"):
        hl.annotate(frame(), zzz=1)


def test_annotator_is_constructible_directly_like_annotate(store):
    df = frame()
    w = hl.Annotator(df, store=store, annotator="ada", rating=5, labels={"good": "👍", "bad": "👎"})
    assert isinstance(w, hl.Annotator) and w.df is df and w.session.store is store
    assert w.config["widget"] == "annotate" and w.config["rating"] == 5
    Wire(w).ask(kind="feedback", pos=0, fields={"label": "good"})
    assert df.loc[0, "label"] == "good" and repr(w) == "Annotator(1/5 labelled, annotator='ada')"
    with pytest.raises(hl.HLValueError, match="annotate\\(\\) takes a pandas DataFrame"):
        hl.Annotator([1, 2])


def test_bad_count_is_an_error_in_both_sessions():
    pairs = pd.DataFrame({"prompt": ["p"] * 3, "completion_a": ["a"] * 3, "completion_b": ["b"] * 3})
    for w in (hl.annotate(frame()), hl.compare(pairs)):
        wire = Wire(w)
        for bad in ("ten", -1, None, 2.5, True):
            reply = wire.ask(kind="rows", start=0, count=bad)
            assert reply["error"].startswith("count must be a whole number >= 0; got"), reply
        assert "start must be a whole number" in wire.ask(kind="rows", start="0", count=5)["error"]
        assert len(wire.ask(kind="rows", start=0, count=2)["rows"]) == 2
        assert "offset must be a whole number" in wire.ask(kind="cell", pos=0, field="prompt", offset=-3)["error"]


def test_progress_travels_once_per_label_as_the_trait():
    w = hl.annotate(frame(), annotator="ada")
    wire = Wire(w)
    for pos in range(3):
        before = len(wire.messages)
        reply = wire.ask(kind="feedback", pos=pos, fields={"label": "👍"})
        new = wire.messages[before:]
        assert "progress" not in reply
        carrying = [m for m in new if "progress" in m.get("state", {}) or "progress" in m.get("content", {})]
        assert len(carrying) == 1 and carrying[0]["method"] == "update"
        assert carrying[0]["state"]["progress"]["labelled"] == pos + 1
        assert [m["method"] for m in new] == ["update", "custom"]  # the progress comes first
    before = len(wire.messages)
    wire.ask(kind="undo")
    assert len([m for m in wire.messages[before:] if "progress" in m.get("state", {})]) == 1
    assert w.progress["labelled"] == 2
    assert len(wire.carrying("progress")) == 4


def test_per_annotator_counts_rows_labelled_not_rows_touched(store):
    df = frame()
    w = hl.annotate(df, store=store, annotator="ada", rating=5)
    wire = Wire(w)
    wire.ask(kind="feedback", pos=0, fields={"label": "👍"})
    w.annotator = "bo"
    wire.ask(kind="feedback", pos=0, fields={"comment": "I agree"})  # a comment is not labelling
    wire.ask(kind="feedback", pos=1, fields={"comment": "unsure"})
    assert w.progress["labelled"] == 1 and w.progress["per_annotator"] == {"ada": 1}
    assert df.loc[0, "annotator"] == "ada" and df.loc[1, "annotator"] is None
    wire.ask(kind="undo")
    wire.ask(kind="undo")
    assert w.progress["per_annotator"] == {"ada": 1}
    wire.ask(kind="feedback", pos=0, fields={"label": None})  # bo clears ada's only label
    assert w.progress["labelled"] == 0 and w.progress["per_annotator"] == {}
    assert df.loc[0, "annotator"] is None and pd.isna(df.loc[0, "labelled_at"])
    wire.ask(kind="undo")  # undoing the clear gives the row back to ada
    assert w.progress["labelled"] == 1 and w.progress["per_annotator"] == {"ada": 1}
    wire.ask(kind="feedback", pos=2, fields={"rating": 3})
    assert w.progress["per_annotator"] == {"ada": 1, "bo": 1}
    # the running count always equals a count from scratch over the same frame
    fresh = hl.annotate(df, store=store)
    assert fresh.progress["per_annotator"] == w.progress["per_annotator"]
    assert fresh.progress["labelled"] == w.progress["labelled"] == 2


@pytest.mark.parametrize(
    ("advance", "rating", "steps"),
    [
        ("all", 5, [({"label": "👍"}, False), ({"rating": 4}, True)]),
        ("all", 5, [({"rating": 4}, False), ({"label": "👎"}, True)]),
        ("all", None, [({"label": "👍"}, True)]),
        ("all", 5, [({"comment": "hm"}, False), ({"label": "👍"}, False)]),
        ("label", 5, [({"rating": 4}, False), ({"label": "👍"}, True)]),
        ("never", 5, [({"label": "👍"}, False), ({"rating": 4}, False)]),
        ("all", None, [({"label": "👍"}, True), ({"label": None}, False)]),
    ],
)
def test_advance_moves_on_after_what_the_widget_asks_for(advance, rating, steps):
    w = hl.annotate(frame(), rating=rating, advance=advance)
    assert w.config["advance"] == advance
    wire = Wire(w)
    for fields, moves in steps:
        assert wire.ask(kind="feedback", pos=0, fields=fields)["advance"] is moves, fields
    assert wire.ask(kind="undo")["advance"] is False


def test_bad_advance_names_the_choices():
    with pytest.raises(hl.HLValueError, match=r"advance must be one of \['all', 'label', 'never'\]; got str 'nevr'.*Did you mean 'never'"):
        hl.annotate(frame(), advance="nevr")


def test_labels_with_names_store_the_name_and_show_the_icon(store):
    df = frame()
    w = hl.annotate(df, store=store, labels={"good": "👍", "bad": "👎"})
    assert w.config["labels"] == [{"name": "good", "icon": "👍"}, {"name": "bad", "icon": "👎"}]
    wire = Wire(w)
    wire.ask(kind="feedback", pos=0, fields={"label": "good"})
    assert df.loc[0, "label"] == "good"
    log_id = df.loc[0, "log_id"]
    assert store.to_pandas().set_index("log_id").loc[log_id, "label"] == "good"
    store.feedback(log_id, label="bad")  # the store now allows the names
    assert {"good", "bad"} <= set(store.labels)
    reply = wire.ask(kind="feedback", pos=1, fields={"label": "👍"})
    assert "the icon of the label 'good'" in reply["error"] and "label='good'" in reply["error"]
    got = wire.ask(kind="rows", start=0, count=5, filter={"label": "good"})
    assert [r["pos"] for r in got["rows"]] == [0]


def test_plain_string_labels_work_with_hl_feedback_on_the_default_store():
    store = hl.default_store()
    ids = [store.log(prompt="p", completion=f"c{i}") for i in range(2)]
    df = store.to_pandas()
    w = hl.annotate(df, labels=["up", "down"])
    assert w.config["labels"] == [{"name": "up", "icon": None}, {"name": "down", "icon": None}]
    Wire(w).ask(kind="feedback", pos=0, fields={"label": "down"})
    hl.feedback(ids[1], label="up")
    latest = store.to_pandas().set_index("log_id")
    assert latest.loc[ids[0], "label"] == "down" and latest.loc[ids[1], "label"] == "up"


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"good": ""}, r"labels\['good'\] is the icon shown for 'good' and must be a non-empty string"),
        ({"good": 1}, "must be a non-empty string"),
        ([f"l{i}" for i in range(10)], "keys 1-9 reach at most 9 labels"),
        ("good", "must be a sequence of strings"),
        (["up", "up"], "repeats"),
    ],
)
def test_bad_labels_say_what_to_pass(labels, message):
    with pytest.raises(hl.HLValueError, match=message):
        hl.annotate(frame(), labels=labels)


def test_both_widgets_load_one_bundle_and_its_css_by_path():
    """By path, as anywidget's FileContents: what ANYWIDGET_HMR=1 watches for hot reload."""
    from anywidget._file_contents import FileContents

    from hl_notebook._widgets.base import STATIC

    for cls in (hl.Annotator, hl.Comparer):
        assert isinstance(cls._esm, FileContents) and cls._esm._path == STATIC / "widget.js"
        assert isinstance(cls._css, FileContents) and cls._css._path == STATIC / "widget.css"
    a = hl.annotate(frame())
    c = hl.compare(pd.DataFrame({"prompt": ["p"], "completion_a": ["a"], "completion_b": ["b"]}))
    assert a._esm == c._esm == (STATIC / "widget.js").read_text(encoding="utf-8")
    assert a._css == c._css and ".hl-root" in a._css and "<style" not in a._esm
    assert (a.config["widget"], c.config["widget"]) == ("annotate", "compare")


def test_saved_trait_changes_once_per_saved_change_and_on_undo():
    w = hl.annotate(frame(), rating=5)
    wire = Wire(w)
    seen = []
    w.observe(lambda change: seen.append(change["new"]["count"]), names="saved")
    assert w.saved == {"count": 0, "last": None}
    reply = wire.ask(kind="feedback", pos=1, fields={"label": "👍"})
    last = {"index": "1", "pos": 1, "fields": ["label"], "label": "👍", "rating": None, "undone": False}
    assert w.saved == reply["saved"] == {"count": 1, "last": last}
    wire.ask(kind="feedback", pos=1, fields={"rating": 4, "correction": "x" * 5000})
    assert w.saved["last"] == {**last, "fields": ["correction", "rating"], "rating": 4}
    assert len(json.dumps(w.saved)) < 300  # small: never the frame, never the texts
    wire.ask(kind="rows", start=0, count=5)
    wire.ask(kind="feedback", pos=99, fields={"label": "👍"})  # an error saves nothing
    wire.ask(kind="undo")
    assert w.saved["count"] == 3 and w.saved["last"]["undone"] is True
    assert w.saved["last"]["rating"] is None and w.saved["last"]["label"] == "👍"
    wire.ask(kind="undo")
    assert w.saved["last"]["label"] is None
    assert wire.ask(kind="undo").get("nothing") is True
    assert seen == [1, 2, 3, 4]


def test_a_front_end_write_never_changes_saved():
    # marimo re-runs the cells using a widget only when the front end writes a trait, so the
    # front end writes the kernel's `saved` back after each reply; a late echo must not win.
    w = hl.annotate(frame())
    wire = Wire(w)
    wire.ask(kind="feedback", pos=0, fields={"label": "👍"})
    wire.ask(kind="feedback", pos=1, fields={"label": "👎"})
    now = dict(w.saved)
    for stale in ({"count": 1, "last": None}, {"count": 99, "last": {"label": "x"}}, {}):
        w.set_state({"saved": stale})  # what ipywidgets (Jupyter and marimo) calls on a write
        assert w.saved == now


def test_a_frame_with_duplicate_column_names_is_refused_naming_them():
    df = pd.DataFrame([["p", "c", "x"]], columns=["prompt", "completion", "prompt"])
    with pytest.raises(hl.HLValueError, match=r"annotate\(\) needs distinct column names; df has \['prompt'\]"):
        hl.annotate(df)


def test_the_footer_names_the_store_relative_to_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "team").mkdir()
    with hl.Store("team/labels.sqlite") as store:
        assert hl.annotate(frame(), store=store).config["store"] == "team/labels.sqlite"
    elsewhere = tmp_path.parent / f"{tmp_path.name}-other.sqlite"
    with hl.Store(elsewhere) as store:
        assert hl.annotate(frame(), store=store).config["store"] == str(elsewhere)

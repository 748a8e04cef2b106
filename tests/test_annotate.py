"""The annotator's logic and message boundary, driven without a kernel."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import hl_notebook as hl
from hl_notebook._widgets.annotate_session import AnnotationSession, uncertainty_positions
from hl_notebook._widgets.cells import PREVIEW_CHARS


class Wire:
    """Captures what the widget sends to the front end and plays the front end's requests."""

    def __init__(self, widget):
        self.widget = widget
        self.sent: list[dict] = []
        widget.send = lambda content, buffers=None: self.sent.append(json.loads(json.dumps(content)))
        self.n = 0

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
    assert reply["progress"]["labelled"] == 1 and reply["progress"]["per_annotator"] == {"ada": 1}
    assert w.progress["labelled"] == 1


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
    s = AnnotationSession(df, order="random", random_state=1)
    assert sorted(s.order.tolist()) == list(range(100)) and s.order.tolist() != list(range(100))

    class Model:
        def predict_proba(self, X):
            p = np.linspace(0, 1, len(X))
            return np.stack([1 - p, p], axis=1)

    s = AnnotationSession(df, order="uncertainty", model=Model())
    assert sorted(s.order.tolist()) == list(range(100))
    first = s.order[:9].tolist()
    assert sum(abs(p - 49.5) < 10 for p in first) >= 7
    with pytest.raises(hl.HLValueError, match="predict_proba"):
        AnnotationSession(df, order="uncertainty")
    with pytest.raises(hl.HLValueError, match="Did you mean 'random'"):
        AnnotationSession(df, order="randm")


def test_uncertainty_positions_mix_in_random_rows():
    proba = np.linspace(0, 1, 1000)
    order = uncertainty_positions(proba, random_fraction=0.1, random_state=0)
    assert sorted(order.tolist()) == list(range(1000))
    far = [p for p in order[:100] if abs(p - 500) > 100]
    assert 5 <= len(far) <= 15


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

"""The durable feedback store: logging, feedback, reading back, durability and bad input."""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hl_notebook as hl
from hl_notebook._store.ids import id_time_ms, new_ids
from hl_notebook._store.tables import SCHEMA_V1 as _SCHEMA_V1
from hl_notebook._store.tables import SCHEMA_VERSION


def test_log_then_feedback_reads_back_as_one_row(store):
    log_id = store.log(prompt="Equation of gravity", completion="F = G m1 m2 / r^2", model="m1")
    store.feedback(log_id, label="👍", annotator="ada")
    df = store.to_pandas()
    assert list(df.columns) == [
        "log_id", "created_at", "prompt", "completion", "model", "prompt_version", "messages",
        "inputs", "metadata", "label", "rating", "correction", "comment", "annotator", "labelled_at",
    ]
    row = df.iloc[0]
    assert (row.log_id, row.prompt, row.completion, row.model) == (
        log_id, "Equation of gravity", "F = G m1 m2 / r^2", "m1",
    )
    assert (row.label, row.annotator) == ("👍", "ada")
    assert row.labelled_at >= row.created_at
    assert str(df["created_at"].dtype) == "datetime64[us, UTC]"


def test_module_level_sdk_uses_configured_store(tmp_path):
    store = hl.configure(store=tmp_path / "sdk.sqlite")
    log_id = hl.log(prompt="Equation of gravity", completion="F = G m1 m2 / r^2")
    hl.feedback(log_id, label="👍")
    assert hl.default_store() is store
    again = hl.Store(tmp_path / "sdk.sqlite").to_pandas()
    assert again[["log_id", "label"]].values.tolist() == [[log_id, "👍"]]


def test_default_store_follows_hl_store_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("HL_STORE", str(tmp_path / "from_env.sqlite"))
    hl.log(prompt="p", completion="c")
    assert (tmp_path / "from_env.sqlite").exists()
    assert len(hl.Store(tmp_path / "from_env.sqlite")) == 1


def test_default_location_is_hl_feedback_sqlite_in_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("HL_STORE")
    monkeypatch.chdir(tmp_path)
    store = hl.Store()
    assert store.path == tmp_path / "hl_feedback.sqlite"
    store.close()


def test_ids_are_time_sortable_and_strictly_increasing(store):
    ids = [store.log(prompt="p", completion=str(i)) for i in range(50)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 50
    many = new_ids("log_", 10_000)
    assert many == sorted(many) and len(set(many)) == 10_000
    assert abs(id_time_ms(ids[0]) - pd.Timestamp.now(tz="UTC").value // 1_000_000) < 60_000


def test_feedback_events_are_appended_never_updated(store):
    log_id = store.log(prompt="p", completion="c")
    store.feedback(log_id, label="👍", annotator="ada")
    store.feedback(log_id, label="👎", annotator="bo")
    store.feedback(log_id, comment="too terse", annotator="bo")
    events = store.feedback_events()
    assert events[["annotator", "label", "comment"]].fillna("").values.tolist() == [
        ["ada", "👍", ""], ["bo", "👎", ""], ["bo", "", "too terse"],
    ]
    latest = store.to_pandas().iloc[0]
    # a later event that sets only the comment keeps the earlier label
    assert (latest.label, latest.comment, latest.annotator) == ("👎", "too terse", "bo")


def test_clear_removes_a_field_and_is_journaled(store):
    log_id = store.log(prompt="p", completion="c")
    store.feedback(log_id, label="👍", rating=4)
    store.feedback(log_id, clear=["label"], source="undo")
    row = store.to_pandas().iloc[0]
    assert pd.isna(row.label) and row.rating == 4
    assert store.feedback_events()["cleared"].tolist()[-1] == "label"
    with pytest.raises(hl.HLValueError, match="both sets and clears"):
        store.feedback(log_id, label="👍", clear=["label"])
    with pytest.raises(hl.HLValueError, match="clear names 'labels'"):
        store.feedback(log_id, clear=["labels"])


def test_unknown_log_id_names_it_and_writes_nothing(store):
    with pytest.raises(hl.UnknownLogError, match="log_id 'log_missing' is not in the store"):
        store.feedback("log_missing", label="👍")
    assert store.feedback_events().empty


def test_label_outside_vocabulary_lists_allowed_and_writes_nothing(store):
    log_id = store.log(prompt="p", completion="c")
    with pytest.raises(hl.HLValueError, match=r"allowed: \['👍', '👎'\]"):
        store.feedback(log_id, label="thumbs up")
    assert store.feedback_events().empty


def test_custom_vocabulary_is_saved_in_the_file(store_path):
    with hl.Store(store_path, labels=["good", "bad"], rating_scale=(1, 10)) as s:
        log_id = s.log(prompt="p", completion="c")
        s.feedback(log_id, label="good", rating=9)
    with hl.Store(store_path) as again:
        assert again.labels == ("👍", "👎", "good", "bad")
        assert again.rating_scale == (1, 10)


def test_vocabulary_extended_by_another_process_is_seen(store_path):
    first = hl.Store(store_path)
    log_id = first.log(prompt="p", completion="c")
    hl.Store(store_path).extend_vocabulary(labels=["meh"])
    first.feedback(log_id, label="meh")
    assert first.to_pandas().label.tolist() == ["meh"]


@pytest.mark.parametrize(
    ("rating", "message"),
    [
        (0, "outside the rating scale 1..5"),
        (6, "outside the rating scale 1..5"),
        (2.5, "must be a whole number from 1 to 5"),
        ("4", "must be a whole number"),
        (True, "must be a whole number"),
    ],
)
def test_bad_rating_is_refused(store, rating, message):
    log_id = store.log(prompt="p", completion="c")
    with pytest.raises(hl.HLValueError, match=message):
        store.feedback(log_id, rating=rating)
    assert store.feedback_events().empty


def test_whole_float_and_numpy_ratings_are_stored_as_integers(store):
    log_id = store.log(prompt="p", completion="c")
    store.feedback(log_id, rating=4.0)
    store.feedback(log_id, rating=np.int64(5))
    assert store.feedback_events()["rating"].tolist() == [4, 5]
    assert str(store.to_pandas()["rating"].dtype) == "Int64"


def test_feedback_without_any_field_is_refused(store):
    log_id = store.log(prompt="p", completion="c")
    with pytest.raises(hl.HLValueError, match="at least one of label, rating"):
        store.feedback(log_id, annotator="ada")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "'prompt' is missing \\(None\\)"),
        (float("nan"), "'prompt' is missing \\(NaN\\)"),
        (42, "must be a string; got int 42"),
        (b"bytes", "decode it first"),
        ("bad \ud800 surrogate", "lone surrogate at position 4"),
    ],
)
def test_non_string_prompt_is_refused_and_nothing_written(store, value, message):
    with pytest.raises(hl.HLValueError, match=message):
        store.log(prompt=value, completion="c")
    assert len(store) == 0


def test_duplicate_log_id_is_refused(store):
    store.log(prompt="p", completion="c", log_id="mine-1")
    with pytest.raises(hl.HLValueError, match="already in the store"):
        store.log(prompt="p", completion="c", log_id="mine-1")
    assert len(store) == 1


def test_json_fields_round_trip_and_numpy_values_are_converted(store):
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    store.log(
        prompt="hi", completion="hello", messages=messages,
        inputs={"topic": "greeting", "n": np.int64(3)}, metadata={"latency_s": np.float32(0.5)},
    )
    row = store.to_pandas().iloc[0]
    assert row.messages == messages
    assert row.inputs == {"topic": "greeting", "n": 3}
    assert row.metadata == {"latency_s": 0.5}
    with pytest.raises(hl.HLValueError, match="metadata is not JSON-serializable"):
        store.log(prompt="p", completion="c", metadata={"x": object()})
    with pytest.raises(hl.HLValueError, match="messages must be a list"):
        store.log(prompt="p", completion="c", messages="hello")


def test_created_at_accepts_datetimes_and_iso_strings(store):
    store.log(prompt="p", completion="c", created_at="2024-05-01T12:00:00Z")
    store.log(prompt="p", completion="c", created_at=pd.Timestamp("2024-05-01 14:00", tz="Europe/Paris"))
    times = store.to_pandas()["created_at"].tolist()
    assert times[0] == pd.Timestamp("2024-05-01T12:00:00Z")
    assert times[1] == pd.Timestamp("2024-05-01T12:00:00Z")
    with pytest.raises(hl.HLValueError, match="created_at must be a datetime"):
        store.log(prompt="p", completion="c", created_at="yesterday-ish")


def test_log_many_keeps_extra_columns_as_inputs_and_feedback_as_events(store):
    df = pd.DataFrame(
        {
            "prompt": ["a", "b", "c"],
            "completion": ["x", "y", "z"],
            "topic": ["maths", "poetry", None],
            "label": ["👍", None, "👎"],
            "annotator": ["ada", None, "bo"],
        },
        index=[10, 20, 30],
    )
    ids = store.log_many(df)
    out = store.to_pandas()
    assert out["log_id"].tolist() == ids
    assert out["inputs"].tolist() == [{"topic": "maths"}, {"topic": "poetry"}, {"topic": None}]
    assert out["label"].fillna("-").tolist() == ["👍", "-", "👎"]
    assert store.feedback_events()["source"].tolist() == ["import", "import"]


def test_log_many_fast_path_matches_slow_path(store):
    df = pd.DataFrame({"prompt": ["a", "b"], "completion": ["x", "y"], "model": ["m", None]})
    ids = store.log_many(df)
    out = store.to_pandas()
    assert out["log_id"].tolist() == ids
    assert out["model"].tolist()[0] == "m" and pd.isna(out["model"].tolist()[1])
    assert out["inputs"].tolist() == [None, None]


def test_log_many_bad_row_names_it_and_writes_nothing(store):
    df = pd.DataFrame({"prompt": ["ok", None, "ok too"], "completion": ["x", "y", 3]}, index=["r1", "r2", "r3"])
    with pytest.raises(hl.HLValueError) as info:
        store.log_many(df)
    text = str(info.value)
    assert "2 of 3 rows cannot be logged; nothing was written" in text
    assert "column 'prompt' at row 'r2'" in text and "column 'completion' at row 'r3'" in text
    assert len(store) == 0


def test_log_many_skip_keeps_the_good_rows_around_a_bad_one(store):
    df = pd.DataFrame({"prompt": ["ok", None, "ok too"], "completion": ["x", "y", "z"]})
    with pytest.warns(UserWarning, match="skipped 1 bad row"):
        ids = store.log_many(df, errors="skip")
    assert ids[1] is None and ids[0] and ids[2]
    assert store.to_pandas()["prompt"].tolist() == ["ok", "ok too"]


def test_log_many_missing_column_names_parameter(store):
    with pytest.raises(hl.HLValueError, match=r"missing column 'completion'; it has \['prompt', 'text'\]. Pass completion='text'"):
        store.log_many(pd.DataFrame({"prompt": ["p"], "text": ["t"]}))
    ids = store.log_many(pd.DataFrame({"prompt": ["p"], "text": ["t"]}), completion="text")
    assert store.to_pandas()["completion"].tolist() == ["t"] and len(ids) == 1


def test_log_many_if_exists_skip_makes_reimport_harmless(store):
    df = pd.DataFrame({"log_id": ["a", "b"], "prompt": ["p", "q"], "completion": ["x", "y"], "label": ["👍", None]})
    store.log_many(df)
    with pytest.raises(hl.HLValueError, match="already in the store"):
        store.log_many(df)
    assert store.log_many(df, if_exists="skip") == ["a", "b"]
    assert len(store) == 2 and len(store.feedback_events()) == 1


def test_log_many_duplicate_ids_in_frame_are_refused(store):
    df = pd.DataFrame({"log_id": ["a", "a"], "prompt": ["p", "q"], "completion": ["x", "y"]})
    with pytest.raises(hl.HLValueError, match="appears twice"):
        store.log_many(df)
    assert len(store) == 0


def test_log_many_needs_a_dataframe(store):
    with pytest.raises(hl.HLValueError, match="needs a pandas DataFrame"):
        store.log_many([{"prompt": "p", "completion": "c"}])


def test_feedback_many_is_all_or_nothing(store):
    a = store.log(prompt="p", completion="c")
    with pytest.raises(hl.UnknownLogError, match="not in the store"):
        store.feedback_many([{"log_id": a, "label": "👍"}, {"log_id": "nope", "label": "👎"}])
    with pytest.raises(hl.HLValueError, match="at row 1"):
        store.feedback_many([{"log_id": a, "label": "👍"}, {"log_id": a, "label": "?"}])
    assert store.feedback_events().empty
    store.feedback_many(pd.DataFrame({"log_id": [a, a], "label": ["👍", "👎"], "annotator": ["x", "y"]}))
    assert store.to_pandas()["label"].tolist() == ["👎"]


def test_to_pandas_filters(store):
    a = store.log(prompt="p1", completion="c")
    b = store.log(prompt="p2", completion="c")
    c = store.log(prompt="p3", completion="c")
    store.feedback(b, rating=3)
    assert store.to_pandas(labelled_only=True)["log_id"].tolist() == [b]
    assert store.to_pandas(log_ids=[c, a])["log_id"].tolist() == [c, a]
    assert store.feedback_events(b)["rating"].tolist() == [3]


def test_memory_and_file_stores_return_the_same_frame(store):
    mem = hl.Store(":memory:")
    for s in (mem, store):
        a = s.log(prompt="p", completion="c", log_id="x", created_at="2024-01-01", metadata={"k": 1})
        s.feedback(a, label="👍", rating=2, created_at="2024-01-02")
        s.log(prompt="q", completion="d", log_id="y", created_at="2024-01-03")
    left, right = mem.to_pandas(), store.to_pandas()
    pd.testing.assert_frame_equal(left, right)
    pd.testing.assert_frame_equal(
        mem.feedback_events().drop(columns="feedback_id"), store.feedback_events().drop(columns="feedback_id")
    )


def test_empty_store_reads_as_empty_frame_with_the_columns(store):
    df = store.to_pandas()
    assert df.empty and "label" in df.columns
    assert store.feedback_events().empty


# -- durability -------------------------------------------------------------------------------


def test_file_is_in_wal_mode_and_every_write_is_committed(store, store_path):
    log_id = store.log(prompt="p", completion="c")
    store.feedback(log_id, label="👍")
    raw = sqlite3.connect(store_path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("SELECT label FROM logs").fetchall() == [("👍",)]
    assert raw.execute("SELECT count(*) FROM feedback").fetchone()[0] == 1


def _writer(path: str, worker: int, count: int) -> None:
    store = hl.Store(path)
    for i in range(count):
        log_id = store.log(prompt=f"worker {worker}", completion=str(i))
        store.feedback(log_id, label="👍" if i % 2 else "👎", annotator=f"w{worker}")
    store.close()


def test_several_processes_writing_at_once_lose_nothing(store_path):
    hl.Store(store_path).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(store_path), w, 60)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    df = hl.Store(store_path).to_pandas()
    assert len(df) == 240
    assert df.groupby("prompt").size().to_dict() == {f"worker {w}": 60 for w in range(4)}
    assert df["label"].notna().all()
    assert len(hl.Store(store_path).feedback_events()) == 240


def test_several_threads_sharing_one_store_lose_nothing(store):
    def work(k: int) -> None:
        for i in range(50):
            store.feedback(store.log(prompt=f"t{k}", completion=str(i)), rating=1 + i % 5)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store) == 300 and len(store.feedback_events()) == 300


def test_a_store_used_after_fork_reopens_its_connection(store_path):
    store = hl.Store(store_path)
    store.log(prompt="parent", completion="c")
    ctx = mp.get_context("fork")
    p = ctx.Process(target=lambda: store.log(prompt="child", completion="c"))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    assert sorted(store.to_pandas()["prompt"]) == ["child", "parent"]


def test_corrupted_file_raises_an_error_naming_it(tmp_path):
    path = tmp_path / "broken.sqlite"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(hl.StoreError, match=str(path)) as info:
        hl.Store(path)
    assert "restore it from a backup" in str(info.value)
    assert path.read_bytes().startswith(b"this is not")  # left untouched


def test_damaged_pages_raise_an_error_naming_the_file(store_path):
    store = hl.Store(store_path)
    store.log_many(pd.DataFrame({"prompt": ["p" * 500] * 200, "completion": ["c" * 500] * 200}))
    store.close()
    sqlite3.connect(store_path).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    data = bytearray(store_path.read_bytes())
    data[0:100] = b"\x00" * 100  # destroy the header
    store_path.write_bytes(bytes(data))
    with pytest.raises(hl.StoreError, match=str(store_path)):
        hl.Store(store_path)


def test_foreign_sqlite_file_is_refused(tmp_path):
    path = tmp_path / "other.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE customers (id INTEGER)").connection.commit()
    with pytest.raises(hl.StoreError, match=r"not an hl_notebook store \(it has tables \['customers'\]\)"):
        hl.Store(path)


def test_newer_schema_version_is_refused_with_upgrade_hint(store_path):
    hl.Store(store_path).close()
    raw = sqlite3.connect(store_path)
    raw.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    raw.commit()
    raw.close()
    with pytest.raises(hl.StoreError, match="made by a newer hl_notebook.*pip install -U hl_notebook"):
        hl.Store(store_path)


def test_version_1_file_is_migrated_with_latest_feedback_rebuilt(store_path):
    raw = sqlite3.connect(store_path)
    raw.executescript(_SCHEMA_V1)
    raw.executemany("INSERT INTO meta VALUES (?, ?)", [
        ("application", "hl_notebook"), ("schema_version", "1"),
        ("labels", json.dumps(["👍", "👎"])), ("rating_scale", "[1, 5]"),
    ])
    raw.execute("INSERT INTO logs (log_id, created_at, prompt, completion) VALUES ('a', 0, 'p', 'c')")
    raw.executemany(
        "INSERT INTO feedback (feedback_id, log_id, label, rating, source, annotator, cleared, created_at) "
        "VALUES (?, 'a', ?, ?, 'user', ?, ?, ?)",
        [("f1", "👍", 2, "ada", None, 1), ("f2", None, None, "bo", "label", 2), ("f3", "👎", None, "cy", None, 3)],
    )
    raw.commit()
    raw.close()
    store = hl.Store(store_path)
    assert store.schema_version == SCHEMA_VERSION
    row = store.to_pandas().iloc[0]
    assert (row.label, row.rating, row.annotator) == ("👎", 2, "cy")
    assert len(store.feedback_events()) == 3


def test_postgres_url_is_not_supported_yet():
    with pytest.raises(hl.StoreError, match="Postgres stores are not supported yet"):
        hl.Store("postgresql://user@localhost/db")


def test_closed_store_says_so(store_path):
    store = hl.Store(store_path)
    store.close()
    with pytest.raises(hl.StoreError, match="is closed"):
        store.log(prompt="p", completion="c")


# -- arbitrary unicode round-trips exactly ---------------------------------------------------

text = st.text(st.characters(codec="utf-8"), max_size=200)
tricky = st.sampled_from([
    "👍🏽👨‍👩‍👧", "مرحبا بالعالم", "שלום\u200f", "zero\u200bwidth\u200d", "\ufeffbom", "nul\x00char",
    "line\r\nbreaks\n", "tab\tquote\"comma,", "",
])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prompt=st.one_of(text, tricky), completion=st.one_of(text, tricky), comment=st.one_of(text, tricky))
def test_arbitrary_unicode_round_trips_exactly(store, prompt, completion, comment):
    log_id = store.log(prompt=prompt, completion=completion, metadata={"echo": prompt})
    store.feedback(log_id, correction=completion, comment=comment)
    row = store.to_pandas(log_ids=[log_id]).iloc[0]
    assert row.prompt == prompt and row.completion == completion
    assert row.correction == completion and row.comment == comment
    assert row.metadata == {"echo": prompt}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(text, text), min_size=1, max_size=20))
def test_log_many_round_trips_arbitrary_unicode(store, rows):
    df = pd.DataFrame(rows, columns=["prompt", "completion"])
    ids = store.log_many(df)
    out = store.to_pandas(log_ids=ids)
    assert out["prompt"].tolist() == df["prompt"].tolist()
    assert out["completion"].tolist() == df["completion"].tolist()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.none(), st.integers(), st.floats(), st.binary(), st.booleans()))
def test_non_text_values_never_reach_the_file(store, value):
    before = len(store)
    with pytest.raises(hl.HLValueError):
        store.log(prompt=value, completion="c")
    assert len(store) == before


def test_one_megabyte_strings_round_trip(store):
    big = ("ünïcødé 👍 " * 100_000)[:1_000_000]
    log_id = store.log(prompt=big, completion=big[::-1])
    row = store.to_pandas(log_ids=[log_id]).iloc[0]
    assert row.prompt == big and row.completion == big[::-1]
    assert not math.isnan(len(row.prompt))


def test_repr_is_cheap_and_names_the_location(store_path):
    store = hl.Store(store_path)
    assert repr(store) == f"Store({str(store_path)!r})"
    assert Path(store.location) == store_path


def test_big_reads_through_the_arrow_reader_process_match_in_process_reads(store, monkeypatch):
    import hl_notebook._store.store as store_module

    a = store.log(prompt="p 👍", completion="c", metadata={"k": [1, 2]}, created_at="2024-01-01")
    store.feedback(a, label="👍", rating=3, comment="ok", created_at="2024-01-02")
    store.log(prompt="q", completion="d\x00e", model="m")
    in_process = store.to_pandas(), store.feedback_events()
    monkeypatch.setattr(store_module, "ARROW_READER_MIN_ROWS", 0)
    calls = []
    from hl_notebook._store import arrow_reader as _arrow_reader

    real_start = _arrow_reader.start
    monkeypatch.setattr(_arrow_reader, "start", lambda *a, **k: calls.append(a) or real_start(*a, **k))
    through_reader = store.to_pandas(), store.feedback_events()
    assert len(calls) == 2  # both reads really went through the child process
    pd.testing.assert_frame_equal(in_process[0], through_reader[0])
    pd.testing.assert_frame_equal(in_process[1], through_reader[1])


def test_arrow_reader_reads_while_another_connection_writes(store, monkeypatch):
    import hl_notebook._store.store as store_module

    monkeypatch.setattr(store_module, "ARROW_READER_MIN_ROWS", 0)
    store.log_many(pd.DataFrame({"prompt": ["p"] * 500, "completion": ["c"] * 500}))
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            store.log(prompt="w", completion="c")

    writer = threading.Thread(target=write)
    writer.start()
    try:
        sizes = [len(store.to_pandas()) for _ in range(3)]
    finally:
        stop.set()
        writer.join()
    assert sizes == sorted(sizes) and sizes[0] >= 500
    assert sqlite3.connect(store.path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_log_many_names_a_row_with_a_lone_surrogate_and_writes_nothing(store):
    df = pd.DataFrame(
        {"prompt": ["fine", "also fine", "bad \ud83d here"], "completion": ["a", "b", "c"], "model": ["m", None, "m"]},
        dtype=object,  # pandas' default string dtype cannot even hold a lone surrogate
    )
    with pytest.raises(hl.HLValueError, match=r"column 'prompt' at row 2 holds a lone surrogate at position 4"):
        store.log_many(df)
    assert len(store) == 0
    with pytest.warns(UserWarning, match="skipped 1 bad row"):
        ids = store.log_many(df, errors="skip")
    assert ids[2] is None and store.to_pandas()["prompt"].tolist() == ["fine", "also fine"]


def test_log_many_refuses_a_lone_surrogate_in_an_optional_column(store):
    df = pd.DataFrame({"prompt": ["p", "q"], "completion": ["a", "b"], "model": ["ok", "x\udc00"]}, dtype=object)
    with pytest.raises(hl.HLValueError, match=r"column 'model' at row 1 holds a lone surrogate"):
        store.log_many(df)
    assert len(store) == 0

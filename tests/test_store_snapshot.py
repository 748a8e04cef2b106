"""Every read of a store returns a state that existed, also when it is split over reader processes."""

from __future__ import annotations

import multiprocessing as mp

import pandas as pd
import pytest

import hl_notebook as hl
import hl_notebook._store.store as store_module


def _writer(path: str, ids: list[str], stop, started) -> None:
    # each transaction writes the same number on rows at both ends of the file
    with hl.Store(path) as store:
        k = 0
        while not stop.is_set():
            k += 1
            store.feedback_many([{"log_id": i, "comment": str(k)} for i in ids])
            started.set()


@pytest.fixture
def split_reads(monkeypatch):
    """Make every read of more than 2,000 rows go through the reader processes."""
    monkeypatch.setattr(store_module, "ARROW_READER_MIN_ROWS", 2_000)


def test_a_big_read_never_shows_half_a_transaction(tmp_path, split_reads):
    path = str(tmp_path / "s.sqlite")
    n = 12_000
    with hl.Store(path) as store:
        ids = store.log_many(pd.DataFrame({"prompt": [f"p{i}" for i in range(n)],
                                           "completion": [f"c{i}" for i in range(n)]}))
    ends = [ids[0], ids[n // 2], ids[-1]]
    ctx = mp.get_context("spawn")
    stop, started = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_writer, args=(path, ends, stop, started))
    proc.start()
    try:
        assert started.wait(60)
        torn = []
        seen = set()
        with hl.Store(path) as store:
            for _ in range(5):
                frame = store.to_pandas().set_index("log_id")
                values = frame.loc[ends, "comment"].tolist()
                seen.add(values[0])
                if len(set(values)) != 1:
                    torn.append(values)
                events = store.feedback_events()
                counts = events.groupby("log_id").size().reindex(ends).tolist()
                if len(set(counts)) != 1:  # the journal too: whole transactions only
                    torn.append(counts)
    finally:
        stop.set()
        proc.join(30)
    assert torn == []
    assert len(seen) > 1  # the writer really committed while we read


def test_a_split_read_equals_a_single_process_read(tmp_path, split_reads, monkeypatch):
    path = str(tmp_path / "s.sqlite")
    n = 5_000
    with hl.Store(path) as store:
        ids = store.log_many(pd.DataFrame({"prompt": [f"p{i}" for i in range(n)],
                                           "completion": [f"c{i}" for i in range(n)],
                                           "metadata": [{"i": i} for i in range(n)]}))
        store.feedback_many([{"log_id": ids[i], "label": "👍" if i % 3 else "👎", "rating": 1 + i % 5,
                              "annotator": "ada"} for i in range(0, n, 7)])
        store.feedback(ids[10], comment="only a comment")
        split = store.to_pandas()
        labelled = store.to_pandas(labelled_only=True)
        monkeypatch.setattr(store_module, "ARROW_READER_MIN_ROWS", 10**9)
        single = store.to_pandas()
        single_labelled = store.to_pandas(labelled_only=True)
    pd.testing.assert_frame_equal(split, single)
    pd.testing.assert_frame_equal(labelled, single_labelled)
    assert len(labelled) == len(range(0, n, 7)) + 1
    assert str(split["rating"].dtype) == "Int64" and split["labelled_at"].dt.tz is not None

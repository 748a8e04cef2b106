"""Export and import: exact round trips (hypothesis, arbitrary unicode), bad records by line."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hl_notebook as hl
from hl_notebook._cli.formats import EXPORT_FORMATS
from hl_notebook._store.files import import_file

COMPARED = ["log_id", "created_at", "prompt", "completion", "model", "prompt_version", "messages",
            "inputs", "metadata", "label", "rating", "correction", "comment", "annotator", "labelled_at"]

TRICKY = ["😀👍🏽", "שלום עולם", "a\u200bb\u200d", "line1\nline2\r\nline3\r", '"quoted", comma', "", " ",
          "\\n not a newline", "=cmd()", "\t tab"]
text = st.one_of(st.sampled_from(TRICKY), st.text(st.characters(blacklist_categories=["Cs"]), max_size=40))
optional = st.one_of(st.none(), text.filter(bool))


def _export(store, fmt: str) -> bytes:
    out = io.BytesIO()
    EXPORT_FORMATS[fmt].write(store.to_pandas(), out)
    return out.getvalue()


def _roundtrip(source: hl.Store, fmt: str, tmp_path) -> hl.Store:
    path = tmp_path / f"out.{fmt}"
    path.write_bytes(_export(source, fmt))
    target = hl.Store(tmp_path / f"copy-{fmt}.sqlite")
    result = import_file(path, target)
    assert result.rejected == []
    return target


def _same(a: hl.Store, b: hl.Store) -> None:
    pd.testing.assert_frame_equal(a.to_pandas()[COMPARED], b.to_pandas()[COMPARED])


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_export_then_import_gives_back_logs_and_latest_feedback(fmt, store, tmp_path):
    ids = store.log_many(hl.datasets.load_sample("hh_harmless").head(40))
    store.log(prompt="p", completion="c", model="m", prompt_version="v2",
              messages=[{"role": "user", "content": "hi, \"you\"\n"}], inputs={"x": [1, 2]},
              metadata={"latency_ms": 12.5, "ok": True})
    store.feedback(ids[0], rating=4, correction="better", comment="a, b", annotator="ada")
    store.feedback(ids[1], clear=["label"], annotator="bo")
    copy = _roundtrip(store, fmt, tmp_path)
    _same(store, copy)
    again = import_file(tmp_path / f"out.{fmt}", copy)
    assert (again.imported, again.skipped, again.rejected) == (0, 41, [])
    _same(store, copy)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.tuples(text, text, optional, optional, st.sampled_from([None, "👍", "👎"]),
                            st.one_of(st.none(), st.integers(1, 5)), optional), min_size=1, max_size=6),
    fmt=st.sampled_from(["jsonl", "csv", "parquet"]),
)
def test_round_trip_keeps_arbitrary_unicode_exactly(rows, fmt, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rt")
    source = hl.Store(tmp / "source.sqlite")
    for prompt, completion, model, comment, label, rating, note in rows:
        log_id = source.log(prompt=prompt, completion=completion, model=model,
                            metadata=None if note is None else {"note": note, "emoji": "🙂"})
        if label or rating or comment:
            source.feedback(log_id, label=label, rating=rating, comment=comment, annotator=note)
    copy = _roundtrip(source, fmt, tmp)
    _same(source, copy)
    source.close()
    copy.close()


def test_bad_jsonl_lines_are_reported_by_number_and_good_rows_kept(tmp_path, store):
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"prompt": "good 1", "completion": "c"}\n'
        "\n"
        '{"prompt": "broken", \n'
        '["not", "an", "object"]\n'
        '{"completion": "no prompt"}\n'
        '{"prompt": null, "completion": "x"}\n'
        '{"prompt": "p", "completion": 3}\n'
        '{"prompt": "p", "completion": "c", "label": "great"}\n'
        '{"prompt": "p", "completion": "c", "rating": 9}\n'
        '{"prompt": "good 2", "completion": "c", "label": "👍", "source": "web"}\n',
        encoding="utf-8",
    )
    result = import_file(path, store)
    where = [w for w, _ in result.rejected]
    assert where == ["line 3", "line 4", "line 5", "line 6", "line 7", "line 8", "line 9"]
    messages = dict(result.rejected)
    assert "not valid JSON" in messages["line 3"]
    assert "not an object" in messages["line 4"]
    assert "no 'prompt' field" in messages["line 5"]
    assert "must be a string; got int 3" in messages["line 7"]
    assert "allowed: ['👍', '👎']" in messages["line 8"]
    assert "outside the rating scale 1..5" in messages["line 9"]
    frame = store.to_pandas()
    assert frame["prompt"].tolist() == ["good 1", "good 2"]
    assert frame["inputs"].iloc[1] == {"source": "web"} and frame["label"].iloc[1] == "👍"


def test_csv_errors_name_the_physical_line_where_the_record_starts(tmp_path, store):
    path = tmp_path / "in.csv"
    path.write_text(
        'prompt,completion,rating\n'
        '"multi\nline\nprompt","ok",4\n'
        'p,c,four\n'
        '"another\n\nmulti",c,\n'
        'p,c,3,extra\n'
        'p,c,2.5\n',
        encoding="utf-8",
    )
    result = import_file(path, store)
    assert [w for w, _ in result.rejected] == ["line 5", "line 9", "line 10"]
    assert "must be a whole number" in dict(result.rejected)["line 5"]
    assert "has 4 fields but the header has 3" in dict(result.rejected)["line 9"]
    assert store.to_pandas()["prompt"].tolist() == ["multi\nline\nprompt", "another\n\nmulti"]


def test_parquet_rows_are_numbered(tmp_path, store):
    path = tmp_path / "in.parquet"
    pd.DataFrame({"prompt": ["a", None, "c"], "completion": ["x", "y", "z"]}).to_parquet(path)
    result = import_file(path, store)
    assert [w for w, _ in result.rejected] == ["row 1"]
    assert len(store) == 2


def test_repeated_log_id_in_a_file_is_rejected_once(tmp_path, store):
    path = tmp_path / "in.jsonl"
    path.write_text('{"log_id": "x1", "prompt": "a", "completion": "b"}\n' * 2, encoding="utf-8")
    result = import_file(path, store)
    assert result.imported == 1 and result.rejected[0][0] == "line 2"
    assert "repeats log_id 'x1' from line 1" in result.rejected[0][1]


def test_unknown_extension_asks_for_a_format(tmp_path, store):
    path = tmp_path / "in.txt"
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(hl.HLValueError, match="pass --format"):
        import_file(path, store)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_megabyte_texts_round_trip_exactly(fmt, store, tmp_path):
    big = ("𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \"q\", \r\n" * 80_000)[:1_000_000]
    log_id = store.log(prompt=big, completion=big[::-1])
    store.feedback(log_id, correction=big, label="👎")
    _same(store, _roundtrip(store, fmt, tmp_path))

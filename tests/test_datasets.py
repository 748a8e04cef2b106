"""The shipped samples: real rows, the documented shapes, reproducible from ../shared/data.

Three tests here check the data pipeline, not the product: that ``tests/make_sample_data.py``
rebuilds the shipped files byte for byte from their source in ``../shared/data`` (or
``$HL_SHARED_DATA``), and that every shipped row comes from it. CI has ``../shared`` beside its
clone, so they run there; on a machine without it they skip with the reason
"needs ../shared/data (the source of the shipped samples)". Everything else in the suite runs
on the shipped samples alone.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SHARED_DATA

import hl_notebook as hl

DATA = ROOT / "hl_notebook" / "data"

needs_source = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason="needs ../shared/data (the source of the shipped samples)"
)


@needs_source
def test_rebuilding_from_shared_data_reproduces_the_shipped_files_byte_for_byte(tmp_path):
    sys.path.insert(0, str(ROOT / "tests"))
    import make_sample_data

    assert make_sample_data.main([str(SHARED_DATA), str(tmp_path)]) == 0
    for name in make_sample_data.SOURCES:
        assert (tmp_path / f"{name}.jsonl.gz").read_bytes() == (DATA / f"{name}.jsonl.gz").read_bytes()


def test_shipped_files_are_small():
    assert sum(p.stat().st_size for p in DATA.iterdir()) < 1_000_000


@needs_source
def test_every_shipped_row_is_from_the_source():
    source = {json.loads(x)["prompt"] for x in (SHARED_DATA / "hh_harmless_dev.jsonl").open()}
    shipped = [json.loads(x) for x in gzip.decompress((DATA / "hh_harmless.jsonl.gz").read_bytes()).splitlines()]
    assert all(r["prompt"] in source for r in shipped)


@needs_source
def test_selection_keeps_whole_prompts():
    rows = [json.loads(x) for x in (SHARED_DATA / "pandalm_dev.jsonl").open()]
    pairs = hl.datasets.load_sample("pandalm", kind="pairs")
    for prompt in set(pairs["prompt"]):
        assert (pairs["prompt"] == prompt).sum() == sum(r["prompt"] == prompt for r in rows)


def test_hh_logs_have_one_row_per_response_labelled_from_chosen_and_rejected():
    logs = hl.datasets.load_sample("hh_harmless")
    pairs = hl.datasets.load_sample("hh_harmless", kind="pairs")
    assert list(logs.columns) == ["prompt", "completion", "label", "pair_id", "source"]
    assert list(pairs.columns) == ["prompt", "chosen", "rejected", "pair_id", "source"]
    assert len(logs) == 2 * len(pairs) == 300
    first = pairs.iloc[0]
    rows = logs[logs.pair_id == first.pair_id].set_index("label")["completion"]
    assert rows["👍"] == first.chosen and rows["👎"] == first.rejected
    assert logs["label"].value_counts().to_dict() == {"👍": 150, "👎": 150}
    assert logs["label"].head(20).tolist() != ["👍", "👎"] * 10  # order does not give labels away


def test_pandalm_pairs_and_logs_have_the_documented_columns():
    pairs = hl.datasets.load_sample("pandalm")
    assert list(pairs.columns) == [
        "prompt", "completion_a", "completion_b", "preferred", "model_a", "model_b", "votes",
        "pair_id", "source",
    ]
    assert set(pairs["preferred"]) == {"a", "b", "tie"}
    assert all(len(v) == 3 for v in pairs["votes"])
    logs = hl.datasets.load_sample("pandalm", kind="logs")
    assert list(logs.columns) == ["prompt", "completion", "model", "pair_id", "source"]
    assert len(logs) == 2 * len(pairs)
    assert logs["completion"].iloc[1] == pairs["completion_b"].iloc[0]


def test_each_call_returns_a_fresh_frame():
    a = hl.datasets.load_sample("hh_harmless")
    a.loc[0, "label"] = "changed"
    assert hl.datasets.load_sample("hh_harmless").loc[0, "label"] != "changed"


def test_unknown_name_lists_names_with_a_hint():
    with pytest.raises(hl.HLValueError, match=r"samples are \['hh_harmless', 'pandalm'\]. Did you mean 'pandalm'"):
        hl.datasets.load_sample("panda_lm")


def test_unknown_kind_gets_a_hint():
    with pytest.raises(hl.HLValueError, match="kind must be 'logs' or 'pairs'.*Did you mean 'pairs'"):
        hl.datasets.load_sample("pandalm", kind="pair")


def test_attribution_names_source_commit_and_license():
    text = hl.datasets.attribution("hh_harmless")
    assert "anthropics/hh-rlhf" in text and "354e5c3cb8960630860dd5774a6ac2a58313bf4d" in text
    assert "MIT" in text and "arXiv:2204.05862" in text
    assert "PandaLM" not in text
    assert "3871806e72b4832f815ecafd24d3503c73403f48" in hl.datasets.attribution("pandalm")
    assert hl.datasets.list_samples() == ["hh_harmless", "pandalm"]
    assert Path(DATA / "LICENSE-Apache-2.0.txt").read_text().lstrip().startswith("Apache License")

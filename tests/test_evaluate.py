"""hl.evaluate and hl.rank_versions on real data: Wilson intervals, model scores, Bradley–Terry votes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from real_data import pandalm_rows as _pandalm_rows
from real_data import pandalm_votes

import hl_notebook as hl
from hl_notebook._learn.stats import bootstrap_ci, wilson_interval
from hl_notebook._schema import HLValueError


def _pandalm_votes() -> pd.DataFrame:
    """PandaLM majority votes between real models, as compare-widget votes by model."""
    return pandalm_votes().drop(columns="votes")


def test_wilson_interval_matches_the_textbook_values():
    low, high = wilson_interval(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert wilson_interval(0, 10)[0] == 0.0
    assert np.isnan(wilson_interval(0, 0)[0])


def test_cluster_bootstrap_is_wider_than_rowwise_for_correlated_rows():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(40), 10)
    values = np.repeat(rng.integers(0, 2, 40), 10).astype(float)  # rows of a group agree
    _, lo_r, hi_r = bootstrap_ci(values, n_boot=500)
    _, lo_g, hi_g = bootstrap_ci(values, groups=groups, n_boot=500)
    assert hi_g - lo_g > 2 * (hi_r - lo_r)


def test_evaluate_reports_thumbs_up_rate_with_wilson_interval_per_model():
    rows = _pandalm_rows()
    table = hl.evaluate(rows, by="model")
    assert set(table.index) == set(rows["model"])
    llama = rows[(rows["model"] == "llama-7b") & rows["label"].notna()]
    ups = (llama["label"] == "👍").sum()
    assert table.loc["llama-7b", "n_labelled"] == len(llama)
    assert table.loc["llama-7b", "thumbs_up_rate"] == pytest.approx(ups / len(llama))
    assert (table.loc["llama-7b", "thumbs_up_low"], table.loc["llama-7b", "thumbs_up_high"]) == \
        pytest.approx(wilson_interval(ups, len(llama)))


def test_evaluate_with_model_and_baseline_adds_predicted_and_win_rate():
    rows = _pandalm_rows()
    pairs = _pandalm_votes()
    pairs = pairs[pairs["preferred"].isin(["a", "b"])]
    train = pd.DataFrame({
        "prompt": pairs["prompt"],
        "chosen": np.where(pairs["preferred"] == "a", pairs["completion_a"], pairs["completion_b"]),
        "rejected": np.where(pairs["preferred"] == "a", pairs["completion_b"], pairs["completion_a"]),
    })
    pm = hl.PreferenceModel(calibrate=False).fit_pairs(train)
    table = hl.evaluate(rows, by="model", model=pm, baseline="bloom-7b", n_boot=200)
    for col in ("predicted", "predicted_low", "predicted_high", "win_rate", "win_low", "win_high"):
        assert col in table.columns
    assert table.loc["bloom-7b", "win_rate"] == 0.5
    assert ((table["predicted_low"] <= table["predicted"]) & (table["predicted"] <= table["predicted_high"])).all()


def test_evaluate_on_compare_votes_gives_win_rates():
    table = hl.evaluate(_pandalm_votes(), by="model")
    assert {"n_votes", "win_rate", "win_low", "win_high"} <= set(table.columns)
    assert table["win_rate"].between(0, 1).all()


def test_rank_versions_orders_pandalm_models_and_gives_p_beats():
    ranked = hl.rank_versions(_pandalm_votes(), by="model", n_boot=200)
    assert ranked["strength"].is_monotonic_decreasing
    assert (ranked["strength_low"] <= ranked["strength"]).all()
    p = ranked.attrs["p_beats"]
    top, second = ranked.index[0], ranked.index[1]
    assert p.loc[top, second] == pytest.approx(ranked.loc[top, "p_beats_next"])
    assert p.loc[top, second] + p.loc[second, top] == pytest.approx(1.0, abs=0.02)
    # PandaLM's paper ranks LLaMA-7B first among these models by human votes
    assert top == "llama-7b"


def test_rank_versions_two_versions_p_v2_beats_v1():
    votes = pd.DataFrame({"prompt_version_a": ["v1"] * 30, "prompt_version_b": ["v2"] * 30,
                          "preferred": ["b"] * 20 + ["a"] * 8 + ["tie", "both_bad"]})
    ranked = hl.rank_versions(votes, n_boot=300)
    assert list(ranked.index) == ["v2", "v1"]
    assert ranked.attrs["p_beats"].loc["v2", "v1"] > 0.95


def test_bad_votes_are_rejected_with_the_row():
    votes = pd.DataFrame({"prompt_version_a": ["v1"], "prompt_version_b": ["v2"], "preferred": ["B"]})
    with pytest.raises(HLValueError, match=r"column 'preferred' at row 0 is 'B'"):
        hl.rank_versions(votes)
    with pytest.raises(HLValueError, match="missing column 'prompt_version'"):
        hl.evaluate(pd.DataFrame({"prompt": ["q"], "completion": ["a"], "prompt_versoin": ["v1"]}))

"""hl.pairs_from_feedback: corrections, 👍/👎, compare votes and ratings become (chosen, rejected) pairs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from real_data import hh_pairs, pandalm_ratings, pandalm_votes

import hl_notebook as hl
from hl_notebook._schema import HLValueError

UP, DOWN = "👍", "👎"


def _hh_rows(n: int = 30) -> pd.DataFrame:
    """Real HH pairs as one row per response with 👍 (chosen) / 👎 (rejected) labels."""
    hh = hh_pairs(n)
    rows = []
    for i, r in hh.iterrows():
        rows.append({"log_id": f"c{i}", "prompt": r["prompt"], "completion": r["chosen"], "label": UP})
        rows.append({"log_id": f"r{i}", "prompt": r["prompt"], "completion": r["rejected"], "label": DOWN})
    return pd.DataFrame(rows)


def test_thumbs_on_the_same_prompt_rebuild_the_original_pairs():
    rows = _hh_rows(30)
    pairs = hl.pairs_from_feedback(rows)
    hh = hh_pairs(30)
    assert list(pairs.columns) == ["prompt", "chosen", "rejected", "reason", "chosen_id", "rejected_id"]
    assert len(pairs) == 30
    assert (pairs["reason"] == "label").all()
    assert pairs["chosen"].tolist() == hh["chosen"].tolist()
    assert pairs["rejected"].tolist() == hh["rejected"].tolist()
    assert pairs["chosen_id"].tolist() == [f"c{i}" for i in range(30)]


def test_correction_is_preferred_over_the_original():
    df = pd.DataFrame({"log_id": ["l1"], "prompt": ["Capital of France?"], "completion": ["Lyon"],
                       "label": [DOWN], "correction": ["Paris"]})
    pairs = hl.pairs_from_feedback(df)
    assert pairs[["chosen", "rejected", "reason", "chosen_id", "rejected_id"]].values.tolist() == [
        ["Paris", "Lyon", "correction", None, "l1"]]


def test_compare_votes_become_pairs_and_ties_do_not():
    df = pandalm_votes().iloc[:40][["prompt", "completion_a", "completion_b", "preferred"]]
    pairs = hl.pairs_from_feedback(df)
    voted = df[df["preferred"] != "tie"]
    voted = voted.assign(
        chosen=np.where(voted["preferred"] == "a", voted["completion_a"], voted["completion_b"]),
        rejected=np.where(voted["preferred"] == "a", voted["completion_b"], voted["completion_a"]))
    expected = voted[voted["chosen"] != voted["rejected"]].drop_duplicates(
        subset=["prompt", "chosen", "rejected"])
    assert 0 < len(expected) < len(voted)  # PandaLM repeats some texts across model pairs
    assert (pairs["reason"] == "preferred").all()
    assert pairs["chosen"].tolist() == expected["chosen"].tolist()
    assert pairs["rejected"].tolist() == expected["rejected"].tolist()


def test_unknown_preferred_value_names_the_row():
    df = pd.DataFrame({"prompt": ["q", "q"], "completion_a": ["x", "y"], "completion_b": ["z", "w"],
                       "preferred": ["a", "left"]})
    with pytest.raises(HLValueError, match=r"column 'preferred' at row 1 is 'left'"):
        hl.pairs_from_feedback(df)


def test_rating_differences_respect_the_minimum_gap():
    # real ratings: PandaLM's three votes per pair as a 1-5 score per response (see real_data)
    df = pandalm_ratings()[["prompt", "completion", "rating"]]
    pairs = hl.pairs_from_feedback(df, min_rating_gap=1.0)
    # every (prompt, higher-rated text, lower-rated text) at least 1.0 apart, each once
    expected = {
        (p, ci, cj)
        for p, part in df.groupby("prompt", sort=False)
        for ci, ri in zip(part["completion"], part["rating"], strict=True)
        for cj, rj in zip(part["completion"], part["rating"], strict=True)
        if ri - rj >= 1.0 and ci != cj
    }
    assert len(expected) > 100
    assert len(pairs) == len(expected)
    assert set(pairs[["prompt", "chosen", "rejected"]].itertuples(index=False, name=None)) == expected
    assert (pairs["reason"] == "rating").all()
    wider = hl.pairs_from_feedback(df, min_rating_gap=2.0)
    assert 0 < len(wider) < len(pairs)
    rating = dict(zip(zip(df["prompt"], df["completion"], strict=True), df["rating"], strict=True))
    for p, c, r in wider[["prompt", "chosen", "rejected"]].itertuples(index=False):
        assert rating[(p, c)] - rating[(p, r)] >= 2.0


def test_identical_pairs_are_dropped_and_output_is_deterministic():
    df = pd.DataFrame({"prompt": ["q"] * 4, "completion": ["same", "same", "good", "bad"],
                       "label": [UP, DOWN, UP, DOWN]})
    pairs = hl.pairs_from_feedback(df)
    assert not (pairs["chosen"] == pairs["rejected"]).any()
    assert pairs.equals(hl.pairs_from_feedback(df.copy()))
    assert pairs[["chosen", "rejected"]].values.tolist() == [
        ["same", "bad"], ["good", "same"], ["good", "bad"]]


def test_sources_filter_and_misspelled_source_gets_a_hint():
    df = pd.DataFrame({"prompt": ["q", "q"], "completion": ["a", "b"], "label": [UP, DOWN],
                       "correction": ["a better", None]})
    assert set(hl.pairs_from_feedback(df, sources=["label"])["reason"]) == {"label"}
    with pytest.raises(HLValueError, match="Did you mean 'rating'"):
        hl.pairs_from_feedback(df, sources=["ratings"])


def test_pairs_feed_the_preference_model():
    pairs = hl.pairs_from_feedback(_hh_rows(60))
    pm = hl.PreferenceModel(calibrate=False).fit_pairs(pairs)
    assert pm.n_pairs_ == 60

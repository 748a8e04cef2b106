"""hl.agreement against textbook examples computed by hand, and on real store events."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import hl_notebook as hl
from hl_notebook._learn.agreement import cohen_kappa, krippendorff_alpha

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the 4-coder, 12-unit example
# with missing values; nominal alpha = 0.743 (unit 12 has one value and is not pairable).
N = None
KRIPPENDORFF = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    "C": [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
}


def test_alpha_matches_krippendorffs_worked_example():
    table = hl.agreement(pd.DataFrame(KRIPPENDORFF))
    overall = table[table.scope == "overall"].iloc[0]
    assert round(overall["alpha"], 3) == 0.743
    assert overall["n"] == 11
    counts = table[table.scope == "annotator"].set_index("annotator_a")["n"].to_dict()
    assert counts == {"A": 9, "B": 11, "C": 10, "D": 11}


def test_alpha_matches_the_two_coder_binary_example():
    # Same paper: 10 units, 2 coders; by hand n=20, o_01=o_10=4, n_0=14, n_1=6:
    # alpha = 1 - (n-1) * 8 / (2 * 14 * 6) = 1 - 19*8/168 = 0.0952
    a = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    b = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    alpha, n = krippendorff_alpha({i: [a[i], b[i]] for i in range(10)})
    assert alpha == pytest.approx(1 - 19 * 8 / 168)
    assert n == 10


def test_kappa_matches_the_textbook_two_by_two_table():
    # 50 items: both yes 20, A yes/B no 5, A no/B yes 10, both no 15: p_o = .7, p_e = .5, kappa = .4
    a = ["y"] * 25 + ["n"] * 25
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    table = hl.agreement(pd.DataFrame({"ann1": a, "ann2": b}))
    pair = table[table.scope == "pair"].iloc[0]
    assert (pair["annotator_a"], pair["annotator_b"], pair["n"]) == ("ann1", "ann2", 50)
    assert pair["kappa"] == pytest.approx(0.4)
    assert pair["observed"] == pytest.approx(0.7)


def test_kappa_agrees_with_scikit_learn_on_real_labels():
    from sklearn.metrics import cohen_kappa_score

    hh = hl.datasets.load_sample("hh_harmless").head(120)
    truth = hh["label"].tolist()
    noisy = [("👎" if x == "👍" else "👍") if i % 4 == 0 else x for i, x in enumerate(truth)]
    assert cohen_kappa(truth, noisy) == pytest.approx(cohen_kappa_score(truth, noisy))


def test_store_events_use_each_annotators_latest_label(store):
    ids = [store.log(prompt=f"p{i}", completion=f"c{i}") for i in range(4)]
    for log_id, x in zip(ids, ["👍", "👍", "👎", "👎"], strict=True):
        store.feedback(log_id, label=x, annotator="ada")
    for log_id, x in zip(ids, ["👎", "👍", "👎", "👎"], strict=True):
        store.feedback(log_id, label=x, annotator="bo")
    store.feedback(ids[0], label="👍", annotator="bo")  # bo changes their mind: now agrees
    store.feedback(ids[3], comment="unsure", annotator="bo")  # no label: does not count
    store.feedback(ids[2], clear=["label"], annotator="ada")  # ada withdraws a label
    store.feedback(ids[1], label="👍")  # no annotator: left out
    table = hl.agreement(store.feedback_events())
    pair = table[table.scope == "pair"].iloc[0]
    assert pair["n"] == 3 and pair["observed"] == 1.0
    assert table[table.scope == "annotator"]["n"].tolist() == [3, 4]


def test_long_frame_with_custom_column_names():
    long = pd.DataFrame(
        {"doc": [1, 1, 2, 2, 3], "who": ["x", "y", "x", "y", "x"], "tag": ["a", "a", "b", "a", "b"]}
    )
    table = hl.agreement(long, item="doc", annotator="who", label="tag")
    pair = table[table.scope == "pair"].iloc[0]
    assert pair["n"] == 2 and pair["observed"] == 0.5


def test_one_annotator_gets_a_clear_error():
    with pytest.raises(hl.HLValueError, match=r"at least two annotators; found only \['ada'\]"):
        hl.agreement(pd.DataFrame({"log_id": [1, 2], "annotator": "ada", "label": ["👍", "👎"]}))


def test_no_overlap_gets_a_clear_error():
    frame = pd.DataFrame({"log_id": [1, 2], "annotator": ["ada", "bo"], "label": ["👍", "👎"]})
    with pytest.raises(hl.HLValueError, match="no item was labelled by two annotators"):
        hl.agreement(frame)


def test_missing_column_names_it_and_the_parameter():
    frame = pd.DataFrame({"id": [1], "annotator": ["ada"], "label": ["👍"]})
    with pytest.raises(hl.HLValueError, match=r"missing column 'log_id'.*Pass item="):
        hl.agreement(frame)


def test_pair_without_shared_items_has_nan_kappa():
    table = hl.agreement(pd.DataFrame({"a": ["x", "y", None], "b": ["x", "y", None], "c": [None, None, "x"]}))
    pairs = table[table.scope == "pair"].set_index(["annotator_a", "annotator_b"])
    assert pairs.loc[("a", "b"), "kappa"] == 1.0
    assert pairs.loc[("a", "c"), "n"] == 0 and math.isnan(pairs.loc[("a", "c"), "kappa"])

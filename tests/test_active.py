"""Active learning logic for the annotation widget: uncertainty order and the background Refitter."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest
from real_data import hh_rows as _hh_rows
from real_data import pandalm_rows

import hl_notebook as hl
from hl_notebook._learn.active import Refitter, uncertainty_order
from hl_notebook._schema import HLValueError


@pytest.fixture(scope="module")
def model() -> hl.PreferenceModel:
    rows = _hh_rows(100)
    return hl.PreferenceModel(calibrate=False).fit(rows[["prompt", "completion"]], rows["truth"])


def test_uncertainty_order_puts_uncertain_first_and_mixes_in_ten_percent_random(model):
    # 500 real texts to order: all 300 HH replies (some seen in training) and 200 PandaLM ones
    X = pd.concat([_hh_rows()[["prompt", "completion"]],
                   pandalm_rows()[["prompt", "completion"]].iloc[:200]], ignore_index=True)
    order = uncertainty_order(X, model, random_fraction=0.1, random_state=0)
    assert sorted(order.tolist()) == list(range(len(X)))
    u = model.uncertainty(X)
    by_u = np.argsort(-u, kind="stable")
    # without the random slots the order is exactly by uncertainty
    pure = uncertainty_order(X, model, random_fraction=0)
    assert pure.tolist() == by_u.tolist()
    # with them, about 10% of the first 100 slots hold items outside the top-100 by uncertainty
    top = set(by_u[:100].tolist())
    outsiders = sum(1 for i in order[:100] if i not in top)
    assert 5 <= outsiders <= 15
    assert order[0] == by_u[0]
    assert np.array_equal(order, uncertainty_order(X, model, random_fraction=0.1, random_state=0))


def test_uncertainty_order_rejects_a_bad_fraction(model):
    with pytest.raises(HLValueError, match="random_fraction must be between 0 and 1"):
        uncertainty_order(["a"], model, random_fraction=1.5)


def test_refitter_refits_in_the_background_every_n_labels():
    rows = _hh_rows(60).sample(frac=1, random_state=0).reset_index(drop=True)
    df = rows[["prompt", "completion"]].assign(label=None)
    seen: list[dict] = []
    r = Refitter(hl.PreferenceModel(calibrate=False), every=40, min_per_class=5, cv_splits=3)
    r.on_status(seen.append)
    started = []
    for i in range(80):
        df.loc[i, "label"] = rows.loc[i, "truth"]
        t0 = time.perf_counter()
        started.append(r.update(df))
        assert time.perf_counter() - t0 < 1.0  # update never waits for a fit
    assert started[39] is True
    assert sum(started) in (1, 2)
    assert r.wait(timeout=120)
    st = r.status
    assert st["fitting"] is False and st["error"] is None
    assert st["fits"] >= 1
    assert st["n_labels"] in (40, 80)
    assert st["accuracy"] is not None and st["ci_low"] <= st["accuracy"] <= st["ci_high"]
    assert hasattr(r.model, "coef_")
    assert any(s["fitting"] for s in seen) and seen[-1]["fitting"] is False
    assert r.status["labels_since_fit"] == 80 - st["n_labels"]


def test_refitter_reports_too_few_labels_as_an_error_not_an_exception():
    rows = _hh_rows(10)
    df = rows[["prompt", "completion"]].assign(label=["👍"] * 10 + [None] * 10)
    r = Refitter(hl.PreferenceModel(), every=5, min_per_class=5)
    assert r.update(df) is True
    r.wait(timeout=30)
    assert "label at least 5 items of each class" in r.status["error"]
    assert "you have 10 👍 and 0 👎" in r.status["error"]
    assert not hasattr(r.model, "coef_")


def test_refitter_does_not_start_a_second_fit_while_one_runs():
    gate = threading.Event()

    class Slow(hl.PreferenceModel):
        def fit(self, X, y, **kw):
            gate.wait(10)
            return super().fit(X, y, **kw)

    rows = _hh_rows(20)
    df = rows[["prompt", "completion"]].assign(label=rows["truth"])
    r = Refitter(Slow(calibrate=False), every=10, cv_splits=0)
    assert r.update(df) is True
    assert r.status["fitting"] is True
    assert r.update(df, force=True) is False  # queued, not started
    gate.set()
    assert r.wait(timeout=60)
    assert r.status["fitting"] is False and r.status["fits"] >= 1

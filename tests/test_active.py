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


# -- the order of a big frame, re-ranked as the model learns ---------------------------------

class Distance:
    """Uncertainty peaks at x == centre (a model whose mind can be changed)."""

    def __init__(self, centre: float):
        self.centre = centre
        self.calls = 0

    def uncertainty(self, X):
        self.calls += 1
        return 1 / (1 + np.abs(X["x"].to_numpy(dtype=float) - self.centre))


def _active(n, model, **kw):
    from hl_notebook._learn.active import ActiveOrder

    df = pd.DataFrame({"x": np.arange(n)})
    labelled = np.zeros(n, dtype=bool)
    lock = threading.RLock()
    seen = {}
    a = ActiveOrder(df, model, open_rows=lambda: ~labelled, lock=lock,
                    on_reorder=lambda o: seen.update(order=o), random_fraction=0, **kw)
    return a, labelled, seen


def test_interleave_random_is_a_permutation_with_a_tenth_random_slots():
    from hl_notebook._learn.active import interleave_random

    ranked = np.arange(10_000)[::-1].copy()
    out = interleave_random(ranked, random_fraction=0.1, rng=np.random.default_rng(3))
    assert np.array_equal(np.sort(out), np.arange(10_000))
    # about every tenth of the first 1000 slots holds a row from outside the ranked first 1000
    outsiders = len(set(out[:1000].tolist()) - set(ranked[:1000].tolist()))
    assert 70 <= outsiders <= 130
    assert out[0] == ranked[0] or out[0] == ranked[1]


def test_a_big_frame_opens_ranked_from_a_first_pool_then_ranks_a_bigger_one_in_the_background():
    model = Distance(7_000)
    go = threading.Event()
    a, labelled, seen = _active(20_000, model, first_pool=500, pool=5_000, pause=lambda: go.wait(10))
    first = a.order.copy()
    assert np.array_equal(np.sort(first), np.arange(20_000))
    # the first 500 are the random first pool, most uncertain first
    u0 = model.uncertainty(pd.DataFrame({"x": first[:500]}))
    assert np.all(np.diff(u0) <= 0)
    a.shown(first[:30])  # the front end got the first page
    go.set()
    assert a.wait(30)
    new = seen["order"]
    assert np.array_equal(new[:30], first[:30])  # nothing shown moves
    assert np.array_equal(np.sort(new), np.arange(20_000))
    nxt = new[30:5_030]
    # a bigger pool ranked: the next rows are nearer 7000 than the first pool's best
    assert np.abs(nxt[:20] - 7_000).max() < np.abs(first[30:50] - 7_000).max()
    assert a.status["reranks"] == 1 and a.status["pool"] == 5_000 and not a.status["ranking"]


def test_a_refit_reranks_only_the_unshown_unlabelled_tail():
    a, labelled, seen = _active(1_000, Distance(100))
    assert a.order[0] == 100  # small: ranked whole at once
    a.shown(a.order[:40])
    labelled[[900, 901, 902]] = True  # labelled elsewhere (say, by a colleague)
    a.refit(Distance(900), "fit 1")
    assert a.wait(30)
    new = seen["order"]
    assert np.array_equal(new[:40], a.order[:40]) and np.array_equal(new, a.order)
    head = new[40:45].tolist()
    assert 899 in head and 903 in head and not {900, 901, 902} & set(head)
    assert a.status["model"] == "fit 1"


def test_a_newer_model_wins_over_one_still_scoring():
    gate = threading.Event()

    class Slow(Distance):
        def uncertainty(self, X):
            gate.wait(10)
            return super().uncertainty(X)

    a, labelled, seen = _active(5_000, Distance(0), first_pool=100, pool=4_000)
    a.wait(30)
    a.refit(Slow(2_000), "fit 1")
    a.refit(Distance(4_000), "fit 2")
    gate.set()
    assert a.wait(30)
    assert abs(int(seen["order"][0]) - 4_000) < 50 or abs(int(a.order[100]) - 4_000) < 50
    assert a.status["model"] == "fit 2"


def test_a_failing_model_keeps_the_order_and_says_why():
    class Broken(Distance):
        def uncertainty(self, X):
            raise RuntimeError("no features")

    a, labelled, seen = _active(300, Distance(10))
    before = a.order.copy()
    a.refit(Broken(0))
    assert a.wait(30)
    assert np.array_equal(a.order, before) and "no features" in a.status["error"]


def test_rerank_tail_refuses_rows_already_shown():
    from hl_notebook._learn.active import rerank_tail

    with pytest.raises(HLValueError, match="not yet shown"):
        rerank_tail(np.arange(5), 3, np.array([1]), np.array([0.5]))


def test_refitter_update_is_told_the_labelled_rows():
    rows = _hh_rows(20)
    df = rows[["prompt", "completion"]].assign(label=rows["truth"])
    r = Refitter(hl.PreferenceModel(calibrate=False), every=10, cv_splits=0)
    # only the rows the caller says are labelled are counted and fitted
    good = df.index[df["label"] == "👍"][:6].tolist()
    bad = df.index[df["label"] == "👎"][:6].tolist()
    assert r.update(df, labelled=set(good[:5] + bad[:4])) is False
    assert r.status["labels_since_fit"] == 9
    assert r.update(df, labelled=set(good + bad)) is True
    assert r.wait(60) and r.status["n_labels"] == 12 and r.status["error"] is None


def test_the_annotator_reranks_after_each_refit_and_shows_it(tmp_path):
    rows = _hh_rows(60).sample(frac=1, random_state=1).reset_index(drop=True)
    df = rows[["prompt", "completion"]].copy()
    model = hl.PreferenceModel(calibrate=False).fit(rows[["prompt", "completion"]].head(20),
                                                    rows["truth"].head(20))
    w = hl.annotate(df, order="uncertainty", model=model, refit_every=10)
    s = w.session
    shown = s.rows(0, 12)["rows"]
    first12 = [r["pos"] for r in shown]
    for r in shown[:11]:
        w._on_feedback({"pos": r["pos"], "fields": {"label": rows.loc[r["pos"], "truth"]}})
    assert len(s.labelled_rows) == 11
    assert w.refitter.wait(60)
    assert s.active.wait(60)
    st = w.model_status
    assert st["fits"] >= 1 and st["order"]["model"].startswith("fit ") and st["order"]["reranks"] >= 1
    assert s.order[:12].tolist() == first12  # what was shown stays
    assert sorted(s.order.tolist()) == list(range(len(df)))
    # the tail is ranked by the refitted model's uncertainty
    tail = s.order[12:]
    u = w.refitter.model.uncertainty(df.iloc[tail])
    ranked_part = u[[i for i in range(len(tail)) if (i + 1) % 10]]  # around the random slots
    assert np.corrcoef(np.arange(len(ranked_part)), ranked_part)[0, 1] < -0.5

"""Prediction-powered estimates: the same numbers as ppi_py, closed forms by hand, valid coverage,
a fallback to human-only when the predictor is useless, and clear errors for bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

import hl_notebook as hl
from hl_notebook._learn.ppi import ppi_mean_weighted


def _population(seed: int, n_total: int = 4000, rate: float = 0.3, noise: float = 0.15):
    """Known truth: 0/1 labels at ``rate`` and a predictor that is right about 80% of the time."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n_total) < rate).astype(float)
    f = np.clip(0.15 + 0.7 * y + rng.normal(0, noise, n_total), 0, 1)
    return y, f


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("lam", [None, 1.0, 0.3])
def test_matches_ppi_py_on_the_same_inputs(seed, lam):
    import ppi_py  # the dev extra has it: the reference implementation by the method's authors
    y, f = _population(seed)
    n = 60 + 40 * seed
    est = hl.ppi_mean(y[:n], f[:n], f[n:], confidence=0.9, lam=lam)
    low, high = ppi_py.ppi_mean_ci(y[:n], f[:n], f[n:], alpha=0.1, lam=lam)
    point = ppi_py.ppi_mean_pointestimate(y[:n], f[:n], f[n:], lam=lam)
    assert est.estimate == pytest.approx(float(np.ravel(point)[0]), abs=1e-12)
    assert est.low == pytest.approx(float(np.ravel(low)[0]), abs=1e-12)
    assert est.high == pytest.approx(float(np.ravel(high)[0]), abs=1e-12)


def test_ppi_py_default_alpha_is_a_90_percent_interval_so_ours_is_wider_at_95():
    import ppi_py  # the dev extra has it: the reference implementation by the method's authors
    y, f = _population(3)
    ours = hl.ppi_mean(y[:80], f[:80], f[80:])  # 95% by default
    low, high = ppi_py.ppi_mean_ci(y[:80], f[:80], f[80:])  # alpha=0.1 by default
    ratio = (ours.high - ours.low) / float(np.ravel(high - low)[0])
    assert ratio == pytest.approx(norm.ppf(0.975) / norm.ppf(0.95), rel=1e-9)


def test_lam_zero_is_the_human_only_normal_interval_by_hand():
    y = np.array([1, 0, 1, 1, 0, 1, 1, 0, 1, 1], dtype=float)
    est = hl.ppi_mean(y, np.full(10, 0.9), np.full(50, 0.9), lam=0)
    se = y.std() / math.sqrt(10)
    z = norm.ppf(0.975)
    assert (est.estimate, est.low, est.high) == pytest.approx((0.7, 0.7 - z * se, 0.7 + z * se))
    assert est.method == "human-only"


def test_a_constant_predictor_gets_no_weight():
    y = np.array([1, 0, 1, 1, 0, 1], dtype=float)
    est = hl.ppi_mean(y, np.full(6, 0.5), np.full(100, 0.5))
    assert est.lam == 0.0 and est.estimate == pytest.approx(y.mean())


def test_plain_ppi_by_hand():
    y = np.array([1.0, 0.0, 1.0, 1.0])
    f = np.array([0.8, 0.2, 0.6, 0.9])
    f_u = np.array([0.5, 0.7, 0.1, 0.9, 0.3])
    est = hl.ppi_mean(y, f, f_u, lam=1.0)
    rect = y - f
    assert est.estimate == pytest.approx(f_u.mean() + rect.mean())
    se = math.sqrt(rect.var() / 4 + f_u.var() / 5)
    assert est.std_error == pytest.approx(se)
    assert est.high - est.estimate == pytest.approx(norm.ppf(0.975) * se)


def test_the_result_unpacks_as_estimate_low_high_and_carries_details():
    y, f = _population(4)
    est, low, high = hl.ppi_mean(y[:100], f[:100], f[100:])
    out = hl.ppi_mean(y[:100], f[:100], f[100:])
    assert low < est < high and out.n == 100 and out.N == len(f) - 100 and 0 < out.lam <= 1
    assert out.half_width == pytest.approx((high - low) / 2)


def test_nominal_95_percent_intervals_cover_the_truth_about_95_percent_of_the_time():
    covered_ppi = covered_human = covered_naive = 0
    runs = 600
    for seed in range(runs):
        y, f = _population(seed, n_total=2000)
        truth = 0.3  # the population rate the labels are drawn at
        n = 100
        ppi = hl.ppi_mean(y[:n], f[:n], f[n:])
        human = hl.ppi_mean(y[:n], f[:n], f[n:], lam=0)
        naive = f.mean()  # predictions only: biased (the predictor's mean is not the label rate)
        se_naive = f.std() / math.sqrt(len(f))
        covered_ppi += ppi.low <= truth <= ppi.high
        covered_human += human.low <= truth <= human.high
        covered_naive += abs(naive - truth) <= 1.96 * se_naive
    assert 0.93 <= covered_ppi / runs <= 0.97
    assert 0.92 <= covered_human / runs <= 0.97
    assert covered_naive / runs < 0.5


def test_a_good_predictor_narrows_the_interval_and_a_random_one_does_not_widen_it():
    rng = np.random.default_rng(7)
    ratios_good, ratios_random = [], []
    for seed in range(200):
        y, f = _population(seed, n_total=3000, noise=0.1)
        n = 100
        human = hl.ppi_mean(y[:n], f[:n], f[n:], lam=0)
        good = hl.ppi_mean(y[:n], f[:n], f[n:])
        junk = rng.random(len(f))
        random_pred = hl.ppi_mean(y[:n], junk[:n], junk[n:])
        ratios_good.append(good.half_width / human.half_width)
        ratios_random.append(random_pred.half_width / human.half_width)
    assert np.median(ratios_good) < 0.8
    assert np.median(ratios_random) <= 1.01 and max(ratios_random) <= 1.05


def test_paired_difference_is_ppi_on_the_differences():
    rng = np.random.default_rng(11)
    n, big_n = 80, 800
    y_a = (rng.random(n) < 0.4).astype(float)
    y_b = (rng.random(n) < 0.6).astype(float)
    f_a, f_b = np.clip(y_a * 0.6 + 0.2, 0, 1), np.clip(y_b * 0.6 + 0.2, 0, 1)
    fu_a, fu_b = rng.random(big_n), rng.random(big_n)
    diff = hl.ppi_mean_diff(y_a, y_b, f_a, f_b, fu_a, fu_b)
    direct = hl.ppi_mean(y_b - y_a, f_b - f_a, fu_b - fu_a)
    assert tuple(diff) == pytest.approx(tuple(direct))
    assert "paired" in diff.method


def test_win_rates_take_ties_as_one_half():
    z = np.array([1, 0, 0.5, 1, 1, 0.5, 0, 1], dtype=float)  # B won, A won, tie, ...
    p = np.array([0.8, 0.3, 0.5, 0.7, 0.9, 0.4, 0.2, 0.6])
    est = hl.ppi_mean(z, p, np.array([0.6, 0.55, 0.7, 0.4]))
    assert 0 <= est.estimate <= 1 and est.low < est.estimate < est.high


def test_weighted_estimate_is_unbiased_when_a_policy_chose_the_labels():
    covered = covered_unweighted = 0
    estimates = []
    runs = 400
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        y = (rng.random(3000) < 0.4).astype(float)
        f = np.clip(0.2 + 0.6 * y + rng.normal(0, 0.15, 3000), 0, 1)
        pi = np.where(np.abs(f - 0.5) < 0.15, 0.25, 0.02)  # uncertain items chosen far more often
        chosen = rng.random(3000) < pi
        est = ppi_mean_weighted(y[chosen], f[chosen], pi[chosen], f[~chosen])
        flat = hl.ppi_mean(y[chosen], f[chosen], f[~chosen])  # wrongly assumes uniform choice
        estimates.append(est.estimate)
        covered += est.low <= 0.4 <= est.high
        covered_unweighted += flat.low <= 0.4 <= flat.high
    assert abs(np.mean(estimates) - 0.4) < 0.01
    assert 0.93 <= covered / runs <= 0.975
    assert covered_unweighted / runs < 0.9


def test_label_budget_by_hand_and_with_predictions():
    y = np.array([1, 0, 1, 1, 0, 1, 0, 1, 1, 0], dtype=float)
    plan = hl.label_budget(y, half_width=0.05)
    z = norm.ppf(0.975)
    assert plan["human_only"] == math.ceil(y.var() / (0.05 / z) ** 2)
    assert plan["more_human_only"] == plan["human_only"] - 10 and plan["with_predictions"] is None
    yy, f = _population(5, n_total=20000, noise=0.08)
    with_pred = hl.label_budget(yy[:200], f[:200], f[200:], half_width=0.02)
    assert with_pred["with_predictions"] < with_pred["human_only"]
    # planning to tell an estimate of ~0.3 from 0.5 needs far fewer labels than a ±2 point interval
    apart = hl.label_budget(yy[:200], f[:200], f[200:], null=0.5)
    assert apart["human_only"] < with_pred["human_only"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: hl.ppi_mean([1, 0, 1], [0.5, 0.5], [0.3]), "y has 3 values but yhat has 2"),
        (lambda: hl.ppi_mean([1, float("nan"), 1], [0.5] * 3, [0.3]), "y has a missing or infinite value at position 1"),
        (lambda: hl.ppi_mean([1], [0.5], [0.3, 0.2]), "at least 2 labelled items"),
        (lambda: hl.ppi_mean([1, 0], [0.5, 0.4], [], confidence=0.95), "yhat_unlabelled is empty"),
        (lambda: hl.ppi_mean([1, 0], [0.5, 0.4], [0.3], confidence=95), "confidence must be a number between 0 and 1"),
        (lambda: hl.ppi_mean(["a", "b"], [0.5, 0.4], [0.3]), "y must be a sequence of numbers"),
        (lambda: ppi_mean_weighted([1, 0], [0.5, 0.4], [0.5, 0.0], [0.3]), "selection_probability at position 1 is 0.0"),
        (lambda: hl.label_budget([1, 0, 1]), "give exactly one of half_width"),
        (lambda: hl.label_budget([1, 0, 1], [0.5] * 3, half_width=0.1), "give both yhat and yhat_unlabelled"),
        (lambda: hl.ppi_mean_diff([1, 0], [1], [0.5, 0.4], [0.5, 0.4], [0.3], [0.3]), "y_a has 2 values but y_b has 1"),
    ],
)
def test_bad_input_gets_a_clear_error(call, message):
    with pytest.raises(hl.HLValueError, match=message):
        call()

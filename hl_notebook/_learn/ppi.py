"""Prediction-powered inference: a few human labels and many model predictions, combined into an
unbiased estimate with a valid confidence interval.

A predictor ``f`` (an LLM judge, the preference model) scores every item; people label only ``n``
of them. The mean of the predictions alone is biased whenever ``f`` is wrong; the mean of the human
labels alone is unbiased but wide. PPI (Angelopoulos et al., Science 2023) corrects the
predictions' mean by the error measured where both exist::

    θ̂ = λ · mean(f(unlabelled)) + mean(y − λ · f(labelled))

which is unbiased for any λ. PPI++ (Angelopoulos, Duchi and Zrnic, arXiv:2311.01453) picks the λ
that minimises the variance, ``λ = Cov(y, f) / ((1 + n/N) · Var(f))`` clipped to [0, 1], so a
useless predictor gets λ ≈ 0 and the interval falls back to the human-only one. The interval is
the normal one from the two variances, ``Var(y − λf)/n + λ² Var(f)/N``.

When the labelled items were chosen by a policy (say, most uncertain first) rather than at random,
the labelled sample is not representative. With each labelled item's selection probability ``π``
(the chance it had of being chosen), the inverse-probability-weighted form stays unbiased::

    θ̂ = mean over all N items of [λ f_i + (ξ_i / π_i) (y_i − λ f_i)]      (ξ_i = 1 if labelled)

Everything here is plain numpy: `hl.evaluate` and `hl.label_budget` call these functions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import norm

from .._schema import HLValueError, describe

__all__ = ["Interval", "label_budget", "ppi_mean", "ppi_mean_diff", "ppi_mean_weighted"]


class Interval(tuple):
    """``(estimate, low, high)``, unpacking as a 3-tuple, with the details as attributes.

    Attributes: ``estimate``, ``low``, ``high``, ``std_error``, ``lam`` (the power-tuning weight;
    0 means the predictions were not used), ``n`` (human labels), ``N`` (items with predictions
    only), ``confidence`` and ``method``.
    """

    estimate: float
    low: float
    high: float
    std_error: float
    lam: float
    n: int
    N: int
    confidence: float
    method: str

    def __new__(cls, estimate: float, low: float, high: float, **details: Any) -> Interval:
        self = super().__new__(cls, (float(estimate), float(low), float(high)))
        self.estimate, self.low, self.high = float(estimate), float(low), float(high)
        for key, value in details.items():
            setattr(self, key, value)
        return self

    @property
    def half_width(self) -> float:
        """Half the interval's width."""
        return (self.high - self.low) / 2

    def __repr__(self) -> str:
        return (f"Interval(estimate={self.estimate:.4g}, low={self.low:.4g}, high={self.high:.4g}, "
                f"method={getattr(self, 'method', '?')!r}, n={getattr(self, 'n', '?')}, "
                f"N={getattr(self, 'N', '?')}, lam={getattr(self, 'lam', float('nan')):.3g})")

    def __reduce__(self):  # pickling keeps the details
        return (_rebuild, (tuple(self), dict(self.__dict__)))


def _rebuild(values: tuple[float, float, float], details: dict[str, Any]) -> Interval:
    details = {k: v for k, v in details.items() if k not in ("estimate", "low", "high")}
    return Interval(*values, **details)


def _vector(value: Any, name: str, *, allow_empty: bool = False) -> np.ndarray:
    """A 1-d float array of finite values, or an error naming the argument and the bad position."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise HLValueError(
            f"{name} must be a sequence of numbers (labels as 0/1, ratings, or probabilities); got "
            f"{describe(value)}."
        ) from None
    if arr.ndim != 1:
        raise HLValueError(f"{name} must be one-dimensional; got shape {arr.shape}.")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.argmax(bad))
        raise HLValueError(
            f"{name} has a missing or infinite value at position {i} ({float(arr[i])!r}); drop such items "
            "first, or leave them out of the labelled set."
        )
    if not allow_empty and arr.size == 0:
        raise HLValueError(f"{name} is empty; give at least one value.")
    return arr


def _check_confidence(confidence: Any) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise HLValueError(f"confidence must be a number between 0 and 1, e.g. 0.95; got {describe(confidence)}.")
    return float(confidence)


def _z(confidence: float) -> float:
    return float(norm.ppf(0.5 + confidence / 2))


def _optimal_lam(y: np.ndarray, f: np.ndarray, f_u: np.ndarray) -> float:
    """PPI++'s variance-minimising λ for a mean, clipped to [0, 1] (0 when f does not vary)."""
    n, big_n = len(y), len(f_u)
    cov = float(np.mean((y - y.mean()) * (f - f.mean())))
    var_f = float(np.var(np.concatenate([f, f_u]), ddof=1)) if n + big_n > 1 else 0.0
    if not var_f > 0:
        return 0.0
    return float(np.clip(cov / ((1 + n / big_n) * var_f), 0.0, 1.0))


def ppi_mean(
    y: Sequence[float] | np.ndarray,
    yhat: Sequence[float] | np.ndarray,
    yhat_unlabelled: Sequence[float] | np.ndarray,
    *,
    confidence: float = 0.95,
    lam: float | None = None,
) -> Interval:
    """The prediction-powered estimate of a mean, with its confidence interval.

    Parameters
    ----------
    y
        Human labels of the ``n`` labelled items (1 for 👍 and 0 for 👎, a rating, or a blind A/B
        outcome: 1 if B won, 0 if A won, 0.5 for a tie).
    yhat
        The predictor's value for the same ``n`` items, on the same scale (a probability of 👍, a
        predicted rating, a predicted chance that B wins).
    yhat_unlabelled
        The predictor's value for the ``N`` items nobody labelled (drawn from the same population).
    confidence
        The interval's coverage, 0.95 by default. (``ppi_py``'s ``alpha`` is ``1 - confidence``;
        note its default alpha of 0.1 is a 90% interval.)
    lam
        The power-tuning weight; None (default) picks PPI++'s optimum from the data. 1 is plain
        PPI; 0 ignores the predictions (the human-only normal interval).

    Returns
    -------
    Interval
        ``(estimate, low, high)``; attributes ``std_error``, ``lam``, ``n``, ``N``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.random(2000) < 0.3                      # 30% of completions are good
    >>> judge = np.clip(truth * 0.8 + rng.normal(0.1, 0.1, 2000), 0, 1)   # a decent judge
    >>> est, low, high = ppi_mean(truth[:100], judge[:100], judge[100:])
    >>> low < 0.3 < high
    True
    """
    confidence = _check_confidence(confidence)
    y = _vector(y, "y")
    f = _vector(yhat, "yhat")
    f_u = _vector(yhat_unlabelled, "yhat_unlabelled")
    if len(y) != len(f):
        raise HLValueError(
            f"y has {len(y)} values but yhat has {len(f)}; yhat must hold the predictions for the "
            "same labelled items, in the same order."
        )
    n, big_n = len(y), len(f_u)
    if n < 2:
        raise HLValueError(f"y has {n} label(s); an interval needs at least 2 labelled items.")
    if lam is None:
        lam = _optimal_lam(y, f, f_u)
    elif isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam):
        raise HLValueError(f"lam must be a number (usually in [0, 1]) or None; got {describe(lam)}.")
    lam = float(lam)
    estimate = lam * float(f_u.mean()) + float(np.mean(y - lam * f))
    var = float(np.var(y - lam * f)) / n + lam**2 * float(np.var(f_u)) / big_n
    se = math.sqrt(max(var, 0.0))
    z = _z(confidence)
    return Interval(estimate, estimate - z * se, estimate + z * se, std_error=se, lam=lam, n=n,
                    N=big_n, confidence=confidence, method="ppi++" if lam else "human-only")


def ppi_mean_diff(
    y_a: Sequence[float] | np.ndarray,
    y_b: Sequence[float] | np.ndarray,
    yhat_a: Sequence[float] | np.ndarray,
    yhat_b: Sequence[float] | np.ndarray,
    yhat_unlabelled_a: Sequence[float] | np.ndarray,
    yhat_unlabelled_b: Sequence[float] | np.ndarray,
    *,
    confidence: float = 0.95,
    lam: float | None = None,
) -> Interval:
    """Is B better than A? The prediction-powered estimate of ``mean(B) − mean(A)`` on paired items.

    Each position is one prompt answered by both A and B: ``y_a[i]`` and ``y_b[i]`` are the human
    labels of its two completions (labelled prompts), ``yhat_*`` the predictor's values for them,
    and ``yhat_unlabelled_*`` the predictor's values on the prompts nobody labelled. Pairing removes
    the prompt-to-prompt variation, so the interval is narrower than comparing two separate means.

    Examples
    --------
    >>> low, high = ppi_mean_diff([1, 0, 1, 1], [1, 1, 1, 1], [.8, .3, .7, .9], [.9, .6, .8, .9],
    ...                           [.2, .5, .7], [.4, .6, .9])[1:]
    >>> low < high
    True
    """
    arrays = {}
    for name, value in (("y_a", y_a), ("y_b", y_b), ("yhat_a", yhat_a), ("yhat_b", yhat_b),
                        ("yhat_unlabelled_a", yhat_unlabelled_a), ("yhat_unlabelled_b", yhat_unlabelled_b)):
        arrays[name] = _vector(value, name)
    for a, b in (("y_a", "y_b"), ("y_a", "yhat_a"), ("yhat_a", "yhat_b"),
                 ("yhat_unlabelled_a", "yhat_unlabelled_b")):
        if len(arrays[a]) != len(arrays[b]):
            raise HLValueError(
                f"{a} has {len(arrays[a])} values but {b} has {len(arrays[b])}; the two sides are "
                "paired by position (one prompt per position), so they must have the same length."
            )
    out = ppi_mean(arrays["y_b"] - arrays["y_a"], arrays["yhat_b"] - arrays["yhat_a"],
                   arrays["yhat_unlabelled_b"] - arrays["yhat_unlabelled_a"],
                   confidence=confidence, lam=lam)
    out.method = out.method + " (paired difference)"
    return out


def ppi_mean_weighted(
    y: Sequence[float] | np.ndarray,
    yhat: Sequence[float] | np.ndarray,
    selection_probability: Sequence[float] | np.ndarray,
    yhat_unlabelled: Sequence[float] | np.ndarray,
    *,
    confidence: float = 0.95,
    lam: float | None = None,
) -> Interval:
    """The prediction-powered mean when the labelled items were chosen with known probabilities.

    Use this when a policy (uncertainty order, stratified sampling) chose what people labelled:
    labelled item ``i`` had probability ``selection_probability[i]`` of being chosen, each item
    independently; ``yhat_unlabelled`` holds the predictions for every item that was not chosen.
    The estimate is the inverse-probability-weighted PPI mean over all ``n + N`` items, unbiased
    whatever the policy as long as every item had a probability above zero; its standard error is
    the sample standard deviation of the per-item terms over ``sqrt(n + N)`` (active inference,
    Zrnic and Candès 2024).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(2)
    >>> truth = (rng.random(5000) < 0.4).astype(float)
    >>> pred = np.clip(truth * 0.7 + rng.normal(0.15, 0.1, 5000), 0, 1)
    >>> pi = np.where(np.abs(pred - 0.5) < 0.2, 0.2, 0.02)      # uncertain items sampled 10x more
    >>> chosen = rng.random(5000) < pi
    >>> est, low, high = ppi_mean_weighted(truth[chosen], pred[chosen], pi[chosen], pred[~chosen])
    >>> low < 0.4 < high
    True
    """
    confidence = _check_confidence(confidence)
    y = _vector(y, "y")
    f = _vector(yhat, "yhat")
    pi = _vector(selection_probability, "selection_probability")
    f_u = _vector(yhat_unlabelled, "yhat_unlabelled", allow_empty=True)
    if not len(y) == len(f) == len(pi):
        raise HLValueError(
            f"y, yhat and selection_probability must have one value per labelled item; got lengths "
            f"{len(y)}, {len(f)} and {len(pi)}."
        )
    bad = (pi <= 0) | (pi > 1)
    if bad.any():
        i = int(np.argmax(bad))
        raise HLValueError(
            f"selection_probability at position {i} is {float(pi[i])!r}; it must be in (0, 1]. An item that "
            "could never be chosen cannot be weighted: estimate from the uniform audit share instead."
        )
    n, big_n = len(y), len(f_u)
    if n < 2:
        raise HLValueError(f"y has {n} label(s); an interval needs at least 2 labelled items.")
    w = 1.0 / pi
    if lam is None:
        # the weighted analogue of PPI++'s λ: the population covariance of y and f over Var(f)
        mu_y = float(np.sum(w * y) / np.sum(w))
        mu_f = float(np.sum(w * f) / np.sum(w))
        cov = float(np.sum(w * (y - mu_y) * (f - mu_f)) / np.sum(w))
        var_f = float(np.var(np.concatenate([f, f_u]), ddof=1))
        lam = float(np.clip(cov / var_f, 0.0, 1.0)) if var_f > 0 else 0.0
    elif isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam):
        raise HLValueError(f"lam must be a number (usually in [0, 1]) or None; got {describe(lam)}.")
    lam = float(lam)
    terms = np.concatenate([lam * f + w * (y - lam * f), lam * f_u])
    estimate = float(terms.mean())
    se = float(np.std(terms, ddof=1)) / math.sqrt(len(terms))
    z = _z(confidence)
    return Interval(estimate, estimate - z * se, estimate + z * se, std_error=se, lam=lam, n=n,
                    N=big_n, confidence=confidence, method="ppi++ (inverse-probability weighted)")


def label_budget(
    y: Sequence[float] | np.ndarray,
    yhat: Sequence[float] | np.ndarray | None = None,
    yhat_unlabelled: Sequence[float] | np.ndarray | None = None,
    *,
    half_width: float | None = None,
    null: float | None = None,
    confidence: float = 0.95,
    power: float = 0.8,
) -> dict[str, Any]:
    """How many more human labels to reach a CI half-width (or to tell the estimate from ``null``).

    The variances are measured on the labels so far (and the predictions, when given); the answer
    assumes they stay the same, which is the usual planning approximation.

    Parameters
    ----------
    y, yhat, yhat_unlabelled
        As in `ppi_mean`; without predictions only the human-only figure is given.
    half_width
        The interval half-width wanted (e.g. 0.03 for ±3 points of a 👍 rate).
    null
        Instead of a half-width: the value to tell the estimate apart from (0 for "is B better than
        A" on differences, 0.5 for a blind win rate), with probability ``power`` at the estimate
        measured so far.
    confidence, power
        The interval's coverage, and the chance of telling apart when ``null`` is given.

    Returns
    -------
    dict
        ``labels_now``, ``human_only`` (labels needed in total without predictions),
        ``with_predictions`` (in total with them; None without predictions or when the
        unlabelled pool alone is too small), ``more_human_only`` and ``more_with_predictions``
        (beyond ``labels_now``), the ``target_half_width`` and the current ``estimate``.

    Examples
    --------
    >>> plan = label_budget([1, 0, 1, 1, 0, 1, 0, 1], half_width=0.05)
    >>> plan["human_only"] > 300
    True
    """
    confidence = _check_confidence(confidence)
    y = _vector(y, "y")
    if len(y) < 2:
        raise HLValueError("label_budget needs at least 2 labels to measure a variance; label a few first.")
    if (half_width is None) == (null is None):
        raise HLValueError("give exactly one of half_width=... (a target precision) or null=... (a value to tell apart).")
    z = _z(confidence)
    if (yhat is None) != (yhat_unlabelled is None):
        raise HLValueError("give both yhat and yhat_unlabelled, or neither.")
    with_pred = yhat is not None and yhat_unlabelled is not None
    if yhat is not None and yhat_unlabelled is not None:
        est = ppi_mean(y, yhat, yhat_unlabelled, confidence=confidence)
        f = _vector(yhat, "yhat")
        f_u = _vector(yhat_unlabelled, "yhat_unlabelled")
        lam = est.lam
        var_rect = float(np.var(y - lam * f))
        var_imputed = lam**2 * float(np.var(f_u)) / len(f_u)
        estimate = est.estimate
    else:
        estimate = float(y.mean())
        var_rect = var_imputed = 0.0
    var_y = float(np.var(y))
    if half_width is not None:
        if isinstance(half_width, bool) or not isinstance(half_width, (int, float)) or not half_width > 0:
            raise HLValueError(f"half_width must be a positive number such as 0.03; got {describe(half_width)}.")
        target = float(half_width)
    else:
        if isinstance(power, bool) or not isinstance(power, (int, float)) or not 0 < power < 1:
            raise HLValueError(f"power must be between 0 and 1, e.g. 0.8; got {describe(power)}.")
        gap = abs(estimate - float(null))  # type: ignore[arg-type]
        # the interval must exclude null with probability `power`: z_(1-a/2) + z_power standard errors
        target = gap * z / (z + float(norm.ppf(power))) if gap > 0 else 0.0

    def needed(var_per_label: float, fixed: float) -> int | None:
        room = (target / z) ** 2 - fixed
        if target <= 0 or room <= 0:
            return None
        return max(2, math.ceil(var_per_label / room)) if var_per_label > 0 else 2

    human = needed(var_y, 0.0)
    predicted = needed(var_rect, var_imputed) if with_pred else None
    now = len(y)
    return {
        "labels_now": now,
        "estimate": estimate,
        "target_half_width": target,
        "human_only": human,
        "with_predictions": predicted,
        "more_human_only": None if human is None else max(0, human - now),
        "more_with_predictions": None if predicted is None else max(0, predicted - now),
    }

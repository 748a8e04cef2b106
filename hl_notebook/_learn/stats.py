"""Small statistics used across hl_notebook: Wilson intervals for proportions and (cluster)
bootstrap confidence intervals."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["bootstrap_ci", "wilson_interval"]


def wilson_interval(successes: float, n: float, *, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for a proportion ``successes / n``.

    Unlike the normal approximation it stays inside [0, 1] and behaves at 0 and n successes.
    Returns ``(nan, nan)`` when ``n == 0``.

    Examples
    --------
    >>> low, high = wilson_interval(8, 10)
    >>> round(low, 3), round(high, 3)
    (0.49, 0.943)
    """
    from scipy.stats import norm

    if n <= 0:
        return (float("nan"), float("nan"))
    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (float(max(0.0, centre - half)), float(min(1.0, centre + half)))


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    *,
    groups: Sequence[Any] | np.ndarray | None = None,
    statistic: Callable[[np.ndarray], float] = np.mean,
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> tuple[float, float, float]:
    """The statistic of ``values`` with a percentile bootstrap interval: ``(estimate, low, high)``.

    With ``groups`` the bootstrap resamples whole groups (a cluster bootstrap): rows that share a
    prompt are not independent, and resampling them one by one gives intervals that are too narrow.

    Examples
    --------
    >>> est, low, high = bootstrap_ci([1, 0, 1, 1, 0, 1, 1, 1], n_boot=200)
    >>> est, low <= est <= high
    (0.75, True)
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return (float("nan"), float("nan"), float("nan"))
    estimate = float(statistic(x))
    if x.size == 1:
        return (estimate, float("nan"), float("nan"))
    rng = np.random.default_rng(random_state)
    stats = np.empty(n_boot)
    if groups is None:
        for i in range(n_boot):
            stats[i] = statistic(x[rng.integers(0, x.size, x.size)])
    else:
        codes, _ = pd.factorize(pd.Series(list(groups) if not isinstance(groups, np.ndarray) else groups))
        order = np.argsort(codes, kind="stable")
        counts = np.bincount(codes)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        members = [order[s : s + c] for s, c in zip(starts, counts, strict=True)]
        k = len(members)
        for i in range(n_boot):
            pick = rng.integers(0, k, k)
            stats[i] = statistic(x[np.concatenate([members[j] for j in pick])])
    alpha = (1 - confidence) / 2
    low, high = np.nanquantile(stats, [alpha, 1 - alpha])
    return (estimate, float(low), float(high))

"""Plots: the model improvement graph, the learning curve and the calibration curve.

Every function looks like matplotlib: data positional, ``ax=None`` draws on a new figure, the
Axes is returned, and nothing calls ``show()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._schema import DEFAULT_LABELS, HLValueError, check_columns, is_missing, suggest
from .evaluate import evaluate

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_calibration", "plot_improvement", "plot_learning_curve"]

_METRICS = {
    "thumbs_up_rate": ("thumbs_up_low", "thumbs_up_high", "human thumbs-up rate"),
    "predicted": ("predicted_low", "predicted_high", "predicted P(thumbs-up)"),
    "win_rate": ("win_low", "win_high", "win rate vs baseline"),
}


def _axes(ax: Axes | None, figsize: tuple[float, float] = (6.4, 4.0)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def plot_improvement(
    df: pd.DataFrame,
    *,
    by: str = "prompt_version",
    metric: str = "thumbs_up_rate",
    model: Any = None,
    baseline: Any = None,
    freq: str | None = None,
    order: list[Any] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """The model improvement graph: a metric per prompt version, model or time period, with CIs.

    Parameters
    ----------
    df : DataFrame
        Feedback rows (e.g. ``store.to_pandas()``), or a frame already returned by `evaluate`.
    by : str
        ``"prompt_version"``, ``"model"``, any column, or ``"time"`` (buckets ``created_at``
        by ``freq``, default weekly ``"W"``).
    metric : str
        ``"thumbs_up_rate"`` (human labels, Wilson interval), ``"predicted"`` (needs ``model``)
        or ``"win_rate"`` (needs ``baseline`` and a model or compare votes).
    order : list, optional
        The order of the versions on the x axis (default: sorted; time is always in order).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> df = pd.DataFrame({"prompt": ["q"] * 4, "completion": list("abcd"),
    ...                    "prompt_version": ["v1", "v1", "v2", "v2"], "label": ["👎", "👍", "👍", "👍"]})
    >>> plot_improvement(df).get_ylabel()
    'human thumbs-up rate'
    """
    if metric not in _METRICS:
        close = suggest(metric, _METRICS)
        hint = f" Did you mean {close!r}?" if close else ""
        raise HLValueError(f"metric={metric!r} is not known; use one of {list(_METRICS)}.{hint}")
    low_col, high_col, ylabel = _METRICS[metric]
    if metric == "win_rate":
        ylabel = f"win rate vs {baseline}" if baseline is not None else "win rate vs the others"
    if metric in df.columns and low_col in df.columns:
        table = df
        x_name = df.index.name or by
    else:
        data = df
        x_name = by
        if by == "time":
            check_columns(df.columns, [("created_at", "by")])
            stamps = pd.to_datetime(df["created_at"], utc=True, errors="coerce")
            data = df.assign(time=stamps.dt.tz_localize(None).dt.to_period(freq or "W").dt.start_time)
        if metric == "predicted" and model is None:
            raise HLValueError("metric='predicted' needs a fitted model: pass model=pm.")
        table = evaluate(data, by=by, model=model, baseline=baseline)
        if metric not in table.columns:
            raise HLValueError(
                f"metric {metric!r} is not available for this data; evaluate() gave "
                f"{list(table.columns)}. A win rate needs baseline=... and a model or compare votes."
            )
    if order is not None:
        missing = [v for v in order if v not in table.index]
        if missing:
            raise HLValueError(f"order names {missing}, which are not in {list(table.index)}.")
        table = table.loc[order]
    ax = _axes(ax)
    labels = [str(v.date()) if isinstance(v, pd.Timestamp) else str(v) for v in table.index]
    x = np.arange(len(table))
    y = table[metric].to_numpy(dtype=float)
    lo = table[low_col].to_numpy(dtype=float)
    hi = table[high_col].to_numpy(dtype=float)
    color = "C0"
    ax.fill_between(x, lo, hi, color=color, alpha=0.18, linewidth=0, label="95% CI")
    ax.errorbar(x, y, yerr=[np.nan_to_num(y - lo), np.nan_to_num(hi - y)], fmt="o-", color=color,
                capsize=4, linewidth=2, markersize=7, label=ylabel)
    n_col = "n_labelled" if "n_labelled" in table.columns else "n_votes" if "n_votes" in table.columns else "n"
    if n_col in table.columns:
        for xi, yi, n in zip(x, y, table[n_col].to_numpy(), strict=True):
            if np.isfinite(yi):
                ax.annotate(f"n={int(n)}", (xi, yi), textcoords="offset points", xytext=(8, -4),
                            fontsize=8, color="0.35")
    if metric == "win_rate":
        ax.axhline(0.5, color="0.5", linestyle=":", linewidth=1)
    ax.set_xticks(x, labels, rotation=0 if max((len(s) for s in labels), default=0) < 12 else 30)
    ax.set_xlim(-0.5, len(x) - 0.5)
    ax.set_ylim(0, 1)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(str(x_name))
    ax.set_title(f"{ylabel} by {x_name}")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    return ax


def learning_curve_table(
    data: pd.DataFrame,
    y: Any = None,
    *,
    model: Any = None,
    sizes: Any = None,
    n_splits: int = 5,
    n_boot: int = 300,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Grouped-CV accuracy at growing numbers of training labels (or pairs).

    For each size, every grouped fold trains on a random subset of that many training items
    (whole prompts) and is scored on its full held-out fold. Returns ``n_train``, ``accuracy``,
    ``ci_low``, ``ci_high`` (prompt-clustered bootstrap over held-out items).
    """
    from sklearn.base import clone
    from sklearn.model_selection import GroupKFold

    from .crossval import _is_pairs
    from .model import PreferenceModel, _pair_frame
    from .stats import bootstrap_ci

    base = PreferenceModel() if model is None else clone(model)
    if "calibrate" in base.get_params():
        base.set_params(calibrate=False)  # accuracy does not depend on the probability scale
    pairwise = _is_pairs(data)
    if pairwise:
        frame = _pair_frame(data)
    else:
        check_columns(data.columns, [("completion", "completion"), ("prompt", "prompt")])
        if y is None:
            check_columns(data.columns, [("label", "y")])
            keep = [not is_missing(v) for v in data["label"]]
            data = data[keep]
            y = data["label"].tolist()
        frame = data.reset_index(drop=True)
        y = np.asarray(list(y), dtype=object)
    groups = frame["prompt"].to_numpy(dtype=object)
    n_groups = len(pd.unique(groups))
    if n_groups < 3:
        raise HLValueError(f"a learning curve needs items from at least 3 prompts; got {n_groups}.")
    k = min(n_splits, n_groups)
    folds = list(GroupKFold(n_splits=k).split(frame, groups=groups))
    max_train = min(len(tr) for tr, _ in folds)
    if sizes is None:
        lo = min(max_train, 20 if not pairwise else 30)
        sizes = np.unique(np.geomspace(lo, max_train, num=6).round().astype(int))
    sizes = [int(s) for s in sizes if 2 <= int(s) <= max_train]
    if not sizes:
        raise HLValueError(f"no usable sizes; each fold trains on at most {max_train} items.")
    rng = np.random.default_rng(random_state)
    rows = []
    for size in sizes:
        correct = np.full(len(frame), np.nan)
        for train, test in folds:
            # whole prompts, shuffled, until `size` items
            g_train = pd.unique(groups[train])
            rng.shuffle(g_train)
            counts = pd.Series(groups[train]).value_counts()
            chosen, total = [], 0
            for g in g_train:
                if total >= size:
                    break
                chosen.append(g)
                total += int(counts[g])
            sub = train[np.isin(groups[train], chosen)][:size]
            m = clone(base)
            try:
                if pairwise:
                    m.fit_pairs(frame.iloc[sub])
                    te = frame.iloc[test]
                    p = m.prefer(te["prompt"].tolist(), te["chosen"].tolist(), te["rejected"].tolist())
                    correct[test] = np.where(p > 0.5, 1.0, np.where(p == 0.5, 0.5, 0.0))
                else:
                    m.fit(frame.iloc[sub], list(y[sub]))
                    pred = m.predict(frame.iloc[test])
                    correct[test] = (pred == y[test]).astype(float)
            except HLValueError:
                continue  # e.g. a small subset with one class: this fold says nothing at this size
        ok = ~np.isnan(correct)
        if ok.sum() == 0:
            continue
        est, low, high = bootstrap_ci(correct[ok], groups=groups[ok], n_boot=n_boot,
                                      random_state=random_state)
        rows.append({"n_train": size, "accuracy": est, "ci_low": low, "ci_high": high,
                     "n_test": int(ok.sum())})
    return pd.DataFrame(rows)


def plot_learning_curve(
    data: pd.DataFrame,
    y: Any = None,
    *,
    model: Any = None,
    sizes: Any = None,
    n_splits: int = 5,
    extrapolate_to: int | None = None,
    ax: Axes | None = None,
    random_state: int | None = 0,
) -> Axes:
    """Accuracy against the number of labels: "how much data do I need?".

    Each point is grouped-by-prompt cross-validated accuracy when training on that many items,
    with a 95% bootstrap band. Nothing is drawn past the data unless ``extrapolate_to`` is
    given: then a dashed power-law fit ``acc = a − b·n^(−c)`` continues to that size, labelled
    as an extrapolation. The measured table is attached as ``ax.learning_curve_``.

    Parameters
    ----------
    data : DataFrame
        Pairs (``prompt``, ``chosen``, ``rejected``) or labelled rows (``prompt``, ``completion``,
        ``label``).
    y : sequence, optional
        Labels for pointwise rows (default: the ``label`` column).
    model : PreferenceModel, optional
        The model to evaluate (cloned); default ``PreferenceModel()``.
    sizes : sequence of int, optional
        Training sizes; default six sizes spaced evenly on a log scale.
    extrapolate_to : int, optional
        Draw a dashed, labelled extrapolation up to this many items.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> pairs = pd.DataFrame({"prompt": [f"q{i}" for i in range(60)],
    ...     "chosen": [f"A clear, complete answer {i}." for i in range(60)],
    ...     "rejected": [f"idk {i}" for i in range(60)]})
    >>> plot_learning_curve(pairs, n_splits=3).get_xlabel()
    'training pairs'
    """
    table = learning_curve_table(data, y, model=model, sizes=sizes, n_splits=n_splits,
                                 random_state=random_state)
    from .crossval import _is_pairs

    unit = "pairs" if _is_pairs(data) else "labels"
    ax = _axes(ax)
    x = table["n_train"].to_numpy(dtype=float)
    acc = table["accuracy"].to_numpy(dtype=float)
    ax.fill_between(x, table["ci_low"], table["ci_high"], color="C0", alpha=0.2, linewidth=0,
                    label="95% CI")
    ax.plot(x, acc, "o-", color="C0", linewidth=2, label="grouped-CV accuracy (measured)")
    chance = 0.5
    ax.axhline(chance, color="0.5", linestyle=":", linewidth=1, label="chance")
    if extrapolate_to is not None:
        if extrapolate_to <= x.max():
            raise HLValueError(
                f"extrapolate_to={extrapolate_to} is within the data (up to {int(x.max())}); "
                "give a larger size or leave it out."
            )
        fit = _power_law_fit(x, acc)
        if fit is not None:
            xs = np.geomspace(x.max(), extrapolate_to, 50)
            ys = fit(xs)
            ax.plot(xs, ys, "--", color="C1", linewidth=1.5,
                    label=f"extrapolation (power-law fit, not measured): {ys[-1]:.2f} at "
                          f"{extrapolate_to:,}")
            ax.axvline(x.max(), color="0.6", linewidth=0.8)
            ax.text(x.max(), 0.03, " data ends", transform=ax.get_xaxis_transform(),
                    fontsize=8, color="0.4", va="bottom")
    ax.set_xscale("log")
    ax.set_xlabel(f"training {unit}")
    ax.set_ylabel("accuracy on held-out prompts")
    ax.set_title("Learning curve (cross-validated, grouped by prompt)")
    lo = np.nanmin(table["ci_low"].to_numpy(dtype=float)) if len(table) else 0.4
    ax.set_ylim(min(0.4, lo - 0.02), 1.0)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    # the measured table rides on the Axes (documented above); Axes declares no such attribute
    ax.learning_curve_ = table  # type: ignore[attr-defined]
    return ax


def _power_law_fit(x: np.ndarray, y: np.ndarray):
    """Fit acc = a - b * n^-c (c > 0, a <= 1) to the measured points; None if it does not fit."""
    from scipy.optimize import curve_fit

    if len(x) < 3:
        return None

    def f(n, a, b, c):
        return a - b * np.power(n, -c)

    try:
        params, _ = curve_fit(f, x, y, p0=(min(0.95, y.max() + 0.05), 1.0, 0.5),
                              bounds=([0.0, -10.0, 0.01], [1.0, 100.0, 3.0]), maxfev=5000)
    except (RuntimeError, ValueError):
        return None
    return lambda n: f(np.asarray(n, dtype=float), *params)


def plot_calibration(
    model: Any, X: Any, y: Any, *, n_bins: int = 10, ax: Axes | None = None
) -> Axes:
    """Reliability diagram: predicted probability against the observed share of positives.

    ``X``/``y`` should be data the model was not fitted on. Pairs are accepted too (a frame with
    ``prompt``, ``chosen``, ``rejected`` and ``y=None``): each pair is scored in a random
    orientation, so the curve shows how well ``prefer`` is calibrated.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from hl_notebook import PreferenceModel
    >>> X = pd.DataFrame({"prompt": ["q"] * 40, "completion": [f"answer {i} " * (i % 4 + 1)
    ...                   for i in range(40)]})
    >>> y = ["👍" if i % 4 > 1 else "👎" for i in range(40)]
    >>> plot_calibration(PreferenceModel().fit(X, y), X, y).get_xlabel()
    'predicted probability'
    """
    from sklearn.utils.validation import check_is_fitted

    from .crossval import _is_pairs
    from .model import _pair_frame

    check_is_fitted(model)
    if y is None and _is_pairs(X):
        pairs = _pair_frame(X)
        flip = np.random.default_rng(0).random(len(pairs)) < 0.5
        a = np.where(flip, pairs["rejected"], pairs["chosen"])
        b = np.where(flip, pairs["chosen"], pairs["rejected"])
        p = np.asarray(model.prefer(pairs["prompt"].tolist(), list(a), list(b)))
        truth = (~flip).astype(float)
        what = "P(a preferred)"
    else:
        if y is None:
            raise HLValueError("plot_calibration needs y (the true labels) for pointwise X.")
        p = np.asarray(model.positive_proba(X))
        pos = getattr(model, "positive_label_", DEFAULT_LABELS[0])
        y = list(y)
        if len(y) != len(p):
            raise HLValueError(f"X has {len(p)} rows but y has {len(y)} labels.")
        truth = np.array([1.0 if v == pos else 0.0 for v in y])
        what = "P(positive label)" if not str(pos).isascii() else f"P({pos})"
    edges = np.linspace(0, 1, n_bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, n_bins - 1)
    ax = _axes(ax, figsize=(4.8, 4.8))
    ax.plot([0, 1], [0, 1], ":", color="0.5", label="perfectly calibrated")
    xs, ys, ns = [], [], []
    for k in range(n_bins):
        m = which == k
        if m.any():
            xs.append(p[m].mean())
            ys.append(truth[m].mean())
            ns.append(int(m.sum()))
    from .stats import wilson_interval

    ci = np.array([wilson_interval(yy * n, n) for yy, n in zip(ys, ns, strict=True)])
    ys_arr = np.array(ys)
    yerr = [np.clip(ys_arr - ci[:, 0], 0, None), np.clip(ci[:, 1] - ys_arr, 0, None)]
    ax.errorbar(xs, ys, yerr=yerr, fmt="o-",
                color="C0", capsize=3, label=f"model ({what})")
    for xx, yy, n in zip(xs, ys, ns, strict=True):
        ax.annotate(str(n), (xx, yy), xytext=(5, -10), textcoords="offset points", fontsize=7,
                    color="0.4")
    brier = float(np.mean((p - truth) ** 2))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed frequency")
    ax.set_title(f"Calibration (Brier {brier:.3f}, n={len(p)})")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    return ax

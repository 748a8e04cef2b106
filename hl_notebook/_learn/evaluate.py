"""Evaluate prompt versions and models: human 👍 rates, predicted preference, win rates, A/B rankings.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._schema import (
    DEFAULT_LABELS,
    HLValueError,
    check_columns,
    check_preferred,
    is_missing,
    suggest,
)

__all__ = ["evaluate", "rank_versions"]


from .stats import bootstrap_ci, wilson_interval

# ----------------------------------------------------------------------------------------------
# evaluate
# ----------------------------------------------------------------------------------------------


def evaluate(
    df: pd.DataFrame,
    *,
    by: str = "prompt_version",
    model: Any = None,
    baseline: Any = None,
    positive: str = DEFAULT_LABELS[0],
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Summarise feedback per prompt version (or model, or any column): one row per value of ``by``.

    Columns: ``n`` (rows), ``n_labelled``, ``thumbs_up_rate`` with a Wilson interval
    (``thumbs_up_low``, ``thumbs_up_high``) from the human labels; with a fitted
    `PreferenceModel`, ``predicted`` (mean predicted probability of 👍) with a prompt-clustered
    bootstrap interval; with ``baseline`` (a value of ``by``), ``win_rate`` against it with an
    interval: from compare votes when ``df`` has them (columns ``completion_a``, ``completion_b``,
    ``preferred`` and ``{by}_a``/``{by}_b``), otherwise from the model, comparing the two versions'
    completions of the same prompt (ties count half).

    Parameters
    ----------
    df : DataFrame
        Logged completions with feedback, e.g. ``store.to_pandas()``.
    by : str
        The column to group by: ``"prompt_version"``, ``"model"``, or any other column.
    model : PreferenceModel, optional
        A fitted model to score completions that people have not labelled.
    baseline : optional
        The value of ``by`` the others are compared with.
    positive : str
        The label counted as a success (default 👍).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"prompt": ["q1", "q2", "q1", "q2"], "completion": ["a", "b", "c", "d"],
    ...                    "prompt_version": ["v1", "v1", "v2", "v2"], "label": ["👎", "👍", "👍", "👍"]})
    >>> evaluate(df)["thumbs_up_rate"].to_dict()
    {'v1': 0.5, 'v2': 1.0}
    """
    if not isinstance(df, pd.DataFrame):
        raise HLValueError(f"evaluate expects a DataFrame; got {type(df).__name__}. Try store.to_pandas().")
    compare = {"completion_a", "completion_b", "preferred"} <= set(df.columns)
    if not compare:
        check_columns(df.columns, [(by, "by")])
        check_columns(df.columns, [("completion", "completion")])
    if compare and by not in df.columns and not {f"{by}_a", f"{by}_b"} <= set(df.columns):
        close = suggest(by, df.columns)
        hint = f" Pass by={close!r}." if close else ""
        raise HLValueError(
            f"df has compare votes but no column {by!r} or {by + '_a'!r}/{by + '_b'!r}; it has "
            f"{[str(c) for c in df.columns]}.{hint}"
        )
    if model is not None:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(model)

    if compare and {f"{by}_a", f"{by}_b"} <= set(df.columns):
        return _evaluate_votes(df, by=by, baseline=baseline, confidence=confidence)

    rows = []
    groups = df[by].astype(object).where(df[by].notna(), "(none)")
    scores = None
    if model is not None:
        scores = model.positive_proba(df)
    for value, idx in groups.groupby(groups, sort=True).groups.items():
        part = df.loc[idx]
        labels = part["label"] if "label" in part.columns else pd.Series([], dtype=object)
        labelled = labels[[not is_missing(x) for x in labels]]
        ups = int((labelled == positive).sum())
        low, high = wilson_interval(ups, len(labelled), confidence=confidence)
        row: dict[str, Any] = {
            by: value,
            "n": len(part),
            "n_labelled": len(labelled),
            "thumbs_up_rate": ups / len(labelled) if len(labelled) else float("nan"),
            "thumbs_up_low": low,
            "thumbs_up_high": high,
        }
        if scores is not None:
            pos = df.index.get_indexer(idx)
            grp = part["prompt"].to_numpy() if "prompt" in part.columns else None
            est, lo, hi = bootstrap_ci(
                scores[pos], groups=grp, n_boot=n_boot, confidence=confidence,
                random_state=random_state,
            )
            row.update(predicted=est, predicted_low=lo, predicted_high=hi)
        rows.append(row)
    out = pd.DataFrame(rows).set_index(by)
    if baseline is not None:
        if baseline not in out.index:
            raise HLValueError(
                f"baseline {baseline!r} is not a value of column {by!r}; it has {list(out.index)}."
            )
        if model is None:
            raise HLValueError(
                "a win rate against the baseline needs compare votes (columns completion_a, "
                f"completion_b, preferred, {by}_a, {by}_b) or a fitted model: pass "
                "model=hl.PreferenceModel().fit(...)."
            )
        out = out.join(_model_win_rates(df, by=by, baseline=baseline, model=model,
                                        n_boot=n_boot, confidence=confidence,
                                        random_state=random_state))
    return out


def _model_win_rates(df, *, by, baseline, model, n_boot, confidence, random_state) -> pd.DataFrame:
    check_columns(df.columns, [("prompt", "prompt")])
    scores = model.decision_function(df)
    frame = pd.DataFrame({"prompt": df["prompt"].to_numpy(), "v": df[by].to_numpy(), "s": scores})
    base = frame[frame["v"] == baseline].groupby("prompt")["s"].mean()
    rows = []
    for value, part in frame.groupby("v", sort=True):
        if value == baseline:
            rows.append({by: value, "win_rate": 0.5, "win_low": float("nan"),
                         "win_high": float("nan"), "n_pairs": 0})
            continue
        mine = part.groupby("prompt")["s"].mean()
        common = mine.index.intersection(base.index)
        if len(common) == 0:
            rows.append({by: value, "win_rate": float("nan"), "win_low": float("nan"),
                         "win_high": float("nan"), "n_pairs": 0})
            continue
        diff = mine[common].to_numpy() - base[common].to_numpy()
        wins = np.where(diff > 0, 1.0, np.where(diff < 0, 0.0, 0.5))
        est, lo, hi = bootstrap_ci(wins, n_boot=n_boot, confidence=confidence,
                                   random_state=random_state)
        rows.append({by: value, "win_rate": est, "win_low": lo, "win_high": hi,
                     "n_pairs": len(common)})
    return pd.DataFrame(rows).set_index(by)


def _evaluate_votes(df, *, by, baseline, confidence) -> pd.DataFrame:
    votes = _votes(df, by=by)
    values = sorted(set(votes["a"]) | set(votes["b"]), key=str)
    rows = []
    for value in values:
        mine = votes[(votes["a"] == value) | (votes["b"] == value)]
        if baseline is not None and value != baseline:
            mine = mine[(mine["a"] == baseline) | (mine["b"] == baseline)]
        won = np.where(mine["winner"] == value, 1.0,
                       np.where(mine["winner"] == "tie", 0.5, 0.0))
        bad = (mine["winner"] == "both_bad").sum()
        n = len(mine)
        low, high = wilson_interval(float(won.sum()), n, confidence=confidence)
        rows.append({by: value, "n_votes": n, "win_rate": won.mean() if n else float("nan"),
                     "win_low": low, "win_high": high, "both_bad": int(bad)})
    return pd.DataFrame(rows).set_index(by)


def _votes(df: pd.DataFrame, *, by: str) -> pd.DataFrame:
    """Normalise compare votes to columns a, b (the two versions) and winner (a version, tie, both_bad)."""
    check_columns(df.columns, [(f"{by}_a", "by"), (f"{by}_b", "by"), ("preferred", "preferred")])
    out = []
    for row_id, (a, b, pref) in enumerate(zip(df[f"{by}_a"], df[f"{by}_b"], df["preferred"], strict=True)):
        if check_preferred(pref, row=df.index[row_id]) is None:
            continue
        if is_missing(a) or is_missing(b):
            raise HLValueError(
                f"columns {by + '_a'!r}/{by + '_b'!r} at row {df.index[row_id]!r} are missing; "
                "each vote needs both versions named."
            )
        winner = a if pref == "a" else b if pref == "b" else pref
        out.append((a, b, winner))
    return pd.DataFrame(out, columns=["a", "b", "winner"])


# ----------------------------------------------------------------------------------------------
# rank_versions: Bradley-Terry on A/B votes
# ----------------------------------------------------------------------------------------------


def _bradley_terry(a: np.ndarray, b: np.ndarray, wa: np.ndarray, k: int, *,
                   l2: float = 1e-2) -> np.ndarray:
    """Strengths (log scale, mean 0) from comparisons; ``wa`` is the score of a (1 win, .5 tie).

    Maximum likelihood with a small ridge penalty (so a version that never lost stays finite).
    """
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        d = theta[a] - theta[b]
        nll = -np.sum(wa * log_expit(d) + (1 - wa) * log_expit(-d)) + 0.5 * l2 * theta @ theta
        g = expit(d) - wa
        grad = np.bincount(a, g, k) - np.bincount(b, g, k) + l2 * theta
        return float(nll), grad

    res = minimize(loss, np.zeros(k), jac=True, method="L-BFGS-B")
    theta = res.x
    return theta - theta.mean()


def rank_versions(
    df: pd.DataFrame,
    *,
    by: str = "prompt_version",
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Rank versions from A/B votes with a Bradley–Terry model (as Chatbot Arena does).

    ``df`` holds one vote per row: ``{by}_a``, ``{by}_b`` and ``preferred`` (``a``, ``b``, ``tie``
    or ``both_bad``; ties and both-bad votes count half a win each way). Returns one row per
    version, best first: ``strength`` (log-odds scale, mean 0) with a bootstrap interval,
    ``p_beats_next`` (bootstrap probability that this version is stronger than the next one
    down); ``attrs["p_beats"]`` holds the matrix of P(row beats column), so
    ``ranked.attrs["p_beats"].loc["v2", "v1"]`` is P(v2 beats v1).

    Examples
    --------
    >>> import pandas as pd
    >>> votes = pd.DataFrame({"prompt_version_a": ["v1"] * 6, "prompt_version_b": ["v2"] * 6,
    ...                       "preferred": ["b", "b", "b", "a", "b", "tie"]})
    >>> ranked = rank_versions(votes, n_boot=200)
    >>> list(ranked.index), bool(ranked.attrs["p_beats"].loc["v2", "v1"] > 0.5)
    (['v2', 'v1'], True)
    """
    if not isinstance(df, pd.DataFrame):
        raise HLValueError(f"rank_versions expects a DataFrame of votes; got {type(df).__name__}.")
    votes = _votes(df, by=by)
    if votes.empty:
        raise HLValueError("rank_versions found no votes; column 'preferred' is empty. Vote first.")
    names = sorted(set(votes["a"]) | set(votes["b"]), key=str)
    if len(names) < 2:
        raise HLValueError(f"rank_versions needs votes between at least two versions; got {names}.")
    index = {n: i for i, n in enumerate(names)}
    a = votes["a"].map(index).to_numpy()
    b = votes["b"].map(index).to_numpy()
    winner = votes["winner"].to_numpy()
    wa = np.where(winner == votes["a"].to_numpy(), 1.0,
                  np.where(winner == votes["b"].to_numpy(), 0.0, 0.5))
    keep = a != b
    a, b, wa = a[keep], b[keep], wa[keep]
    k = len(names)
    theta = _bradley_terry(a, b, wa, k)
    rng = np.random.default_rng(random_state)
    boots = np.empty((n_boot, k))
    for i in range(n_boot):
        pick = rng.integers(0, len(a), len(a))
        boots[i] = _bradley_terry(a[pick], b[pick], wa[pick], k)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(boots, [alpha, 1 - alpha], axis=0)
    wins = np.zeros(k)
    games = np.zeros(k)
    np.add.at(wins, a, wa)
    np.add.at(wins, b, 1 - wa)
    np.add.at(games, a, 1)
    np.add.at(games, b, 1)
    p_beats = pd.DataFrame(
        [[float((boots[:, i] > boots[:, j]).mean()) if i != j else float("nan") for j in range(k)]
         for i in range(k)],
        index=names, columns=names,
    )
    out = pd.DataFrame({by: names, "strength": theta, "strength_low": low, "strength_high": high,
                        "n_votes": games.astype(int), "win_rate": wins / np.maximum(games, 1)})
    out = out.sort_values("strength", ascending=False).set_index(by)
    order = list(out.index)
    out["p_beats_next"] = [p_beats.loc[order[i], order[i + 1]] if i + 1 < len(order) else float("nan")
                           for i in range(len(order))]
    out.attrs["p_beats"] = p_beats
    return out

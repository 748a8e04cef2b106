"""Build preference pairs (chosen ≻ rejected) from everything the widgets collect.

The result feeds `PreferenceModel.fit_pairs` and the DPO export. The output is deterministic:
the same input frame gives the same pairs in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from .._schema import (
    DEFAULT_LABELS,
    HLValueError,
    check_columns,
    check_preferred,
    is_missing,
    suggest,
)

__all__ = ["PAIR_COLUMNS", "pairs_from_feedback"]

#: The columns of the frame `pairs_from_feedback` returns.
PAIR_COLUMNS: tuple[str, ...] = ("prompt", "chosen", "rejected", "reason", "chosen_id", "rejected_id")

_REASONS = ("correction", "label", "preferred", "rating")


def _text(v: Any) -> str | None:
    if is_missing(v):
        return None
    return v if isinstance(v, str) else None


def pairs_from_feedback(
    df: pd.DataFrame,
    *,
    sources: Sequence[str] = _REASONS,
    labels: Sequence[str] = DEFAULT_LABELS,
    min_rating_gap: float = 1.0,
    max_pairs_per_prompt: int | None = None,
    id_column: str = "log_id",
) -> pd.DataFrame:
    """Turn feedback into preference pairs: ``prompt, chosen, rejected, reason, chosen_id, rejected_id``.

    Where pairs come from (``reason``):

    - ``"correction"``: a human correction is preferred over the completion it corrects.
    - ``"label"``: on the same prompt, every 👍 completion is preferred over every 👎 one (the
      first label of ``labels`` is the good one, the second the bad one).
    - ``"preferred"``: compare-widget votes (columns ``completion_a``, ``completion_b``,
      ``preferred`` in ``a``/``b``/``tie``/``both_bad``); ties and both-bad give no pair.
    - ``"rating"``: on the same prompt, a completion rated at least ``min_rating_gap`` higher is
      preferred over the lower-rated one.

    Pairs whose chosen and rejected texts are identical are dropped, and each (prompt, chosen,
    rejected) triple appears once (the first reason in ``sources`` order wins). Rows are ordered
    by reason, then by first appearance in ``df``. ``chosen_id`` / ``rejected_id`` hold the
    ``log_id`` of the rows involved where known (a correction has no id of its own: None).

    Parameters
    ----------
    df : DataFrame
        Feedback, e.g. ``store.to_pandas()`` or an annotated frame from the widgets.
    sources : sequence of str
        Which reasons to use, from ``("correction", "label", "preferred", "rating")``.
    labels : (good, bad)
        The label vocabulary; only its first two labels make pairs.
    min_rating_gap : float
        The smallest rating difference that makes a pair.
    max_pairs_per_prompt : int, optional
        Cap the label and rating pairs of one prompt (the first ones in row order are kept), so
        a prompt with many completions does not dominate.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"prompt": ["2+2?", "2+2?"], "completion": ["4", "5"],
    ...                    "label": ["👍", "👎"], "correction": [None, "4, of course"]})
    >>> pairs_from_feedback(df)[["chosen", "rejected", "reason"]]
             chosen rejected      reason
    0  4, of course        5  correction
    1             4        5       label
    """
    if not isinstance(df, pd.DataFrame):
        raise HLValueError(
            f"pairs_from_feedback expects a DataFrame; got {type(df).__name__}. Try store.to_pandas()."
        )
    if isinstance(sources, str):
        sources = (sources,)
    for s in sources:
        if s not in _REASONS:
            close = suggest(s, _REASONS)
            hint = f" Did you mean {close!r}?" if close else ""
            raise HLValueError(f"sources holds {s!r}; allowed: {list(_REASONS)}.{hint}")
    if not isinstance(min_rating_gap, (int, float)) or isinstance(min_rating_gap, bool) or min_rating_gap <= 0:
        raise HLValueError(f"min_rating_gap must be a positive number; got {min_rating_gap!r}.")
    labels = tuple(labels)
    if len(labels) < 2:
        raise HLValueError(f"labels needs a good and a bad label, e.g. ('👍', '👎'); got {labels}.")
    good, bad = labels[0], labels[1]
    compare = {"completion_a", "completion_b", "preferred"} <= set(df.columns)
    if not compare:
        check_columns(df.columns, [("completion", "completion")])
    check_columns(df.columns, [("prompt", "prompt")])
    ids = df[id_column].tolist() if id_column in df.columns else [None] * len(df)
    prompts = df["prompt"].tolist()
    out: list[tuple] = []

    def col(name: str) -> list:
        return df[name].tolist() if name in df.columns else [None] * len(df)

    for reason in _REASONS:
        if reason not in sources:
            continue
        if reason == "correction" and "completion" in df.columns:
            for p, c, corr, i in zip(prompts, col("completion"), col("correction"), ids, strict=True):
                c, corr = _text(c), _text(corr)
                if is_missing(p) or c is None or corr is None or not corr.strip():
                    continue  # a blank correction is no correction
                out.append((p, corr, c, "correction", None, _id(i)))
        elif reason == "label" and "completion" in df.columns and "label" in df.columns:
            by_prompt: dict[Any, tuple[list, list]] = {}
            for p, c, lab, i in zip(prompts, col("completion"), col("label"), ids, strict=True):
                c = _text(c)
                if c is None or is_missing(p) or is_missing(lab):
                    continue
                ups, downs = by_prompt.setdefault(p, ([], []))
                if lab == good:
                    ups.append((c, i))
                elif lab == bad:
                    downs.append((c, i))
            for p, (ups, downs) in by_prompt.items():
                made = 0
                for cu, iu in ups:
                    for cd, idn in downs:
                        if max_pairs_per_prompt is not None and made >= max_pairs_per_prompt:
                            break
                        out.append((p, cu, cd, "label", _id(iu), _id(idn)))
                        made += 1
        elif reason == "preferred" and compare:
            ida = col("log_id_a")
            idb = col("log_id_b")
            for row, (p, a, b, pref, ia, ib) in enumerate(
                zip(prompts, col("completion_a"), col("completion_b"), col("preferred"), ida, idb, strict=True)
            ):
                if check_preferred(pref, row=df.index[row]) is None:
                    continue
                a, b = _text(a), _text(b)
                if pref not in ("a", "b") or a is None or b is None or is_missing(p):
                    continue
                if pref == "a":
                    out.append((p, a, b, "preferred", _id(ia), _id(ib)))
                else:
                    out.append((p, b, a, "preferred", _id(ib), _id(ia)))
        elif reason == "rating" and "completion" in df.columns and "rating" in df.columns:
            by_prompt_r: dict[Any, list] = {}
            for p, c, r, i in zip(prompts, col("completion"), col("rating"), ids, strict=True):
                c = _text(c)
                if c is None or is_missing(p) or is_missing(r):
                    continue
                by_prompt_r.setdefault(p, []).append((c, float(r), i))
            for p, items in by_prompt_r.items():
                made = 0
                for ci, ri, ii in items:
                    for cj, rj, ij in items:
                        if ri - rj >= min_rating_gap:
                            if max_pairs_per_prompt is not None and made >= max_pairs_per_prompt:
                                break
                            out.append((p, ci, cj, "rating", _id(ii), _id(ij)))
                            made += 1
    pairs = pd.DataFrame(out, columns=list(PAIR_COLUMNS))
    if pairs.empty:
        return pairs.astype(object)
    pairs = pairs[pairs["chosen"] != pairs["rejected"]]
    pairs = pairs.drop_duplicates(subset=["prompt", "chosen", "rejected"], keep="first")
    return pairs.reset_index(drop=True)


def _id(value: Any) -> Any:
    return None if is_missing(value) else value

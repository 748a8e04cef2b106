"""Agreement between annotators: Cohen's kappa per pair, Krippendorff's alpha (nominal) overall.

Labels are compared as categories (nominal). An item counts for a pair when both annotators
labelled it; for alpha, every item with at least two labels counts.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping
from itertools import combinations
from typing import TYPE_CHECKING, Any

from .._schema import HLValueError, check_columns, describe, is_missing

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["agreement", "cohen_kappa", "krippendorff_alpha"]

#: The columns of the frame `agreement` returns.
AGREEMENT_COLUMNS = ("scope", "annotator_a", "annotator_b", "n", "observed", "kappa", "alpha")


def cohen_kappa(a: list[Hashable], b: list[Hashable]) -> float:
    """Cohen's kappa of two equally long label lists (NaN when chance agreement is 1).

    Examples
    --------
    >>> cohen_kappa(["y", "y", "n", "n"], ["y", "n", "n", "n"])
    0.5
    """
    n = len(a)
    if n == 0 or n != len(b):
        return math.nan
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb.get(k, 0) for k in ca) / (n * n)
    if expected >= 1:
        return math.nan
    return (observed - expected) / (1 - expected)


def krippendorff_alpha(units: Mapping[Any, list[Hashable]]) -> tuple[float, int]:
    """Krippendorff's alpha (nominal) of ``{unit: [values from different coders]}``.

    Returns ``(alpha, pairable units)``; alpha is NaN when fewer than two values are pairable or
    every pairable value is the same (no expected disagreement).

    Examples
    --------
    >>> round(krippendorff_alpha({1: ["a", "a"], 2: ["a", "b"], 3: ["b", "b"]})[0], 3)
    0.444
    """
    # coincidences are weighted by 1 / (m - 1): floats, not counts
    coincidence: defaultdict[tuple[Hashable, Hashable], float] = defaultdict(float)
    pairable = 0
    for values in units.values():
        m = len(values)
        if m < 2:
            continue
        pairable += 1
        counts = Counter(values)
        for c, nc in counts.items():
            for k, nk in counts.items():
                pairs = nc * (nk - 1) if c == k else nc * nk
                if pairs:
                    coincidence[(c, k)] += pairs / (m - 1)
    totals: defaultdict[Hashable, float] = defaultdict(float)
    for (c, _), o in coincidence.items():
        totals[c] += o
    n = sum(totals.values())
    if n <= 1:
        return math.nan, pairable
    disagree = sum(o for (c, k), o in coincidence.items() if c != k)
    expected = (n * n - sum(v * v for v in totals.values())) / (n - 1)
    if expected == 0:
        return math.nan, pairable
    return 1.0 - disagree / expected, pairable


def _long_from_input(
    data: Any, *, item: str, annotator: str, label: str
) -> pd.DataFrame:
    """A frame with columns item, annotator, label: each annotator's latest label per item."""
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise HLValueError(
            f"agreement needs a DataFrame (store.feedback_events(), or one row per label with "
            f"{item!r}, {annotator!r} and {label!r}, or one column per annotator); got "
            f"{describe(data)}."
        )
    columns = [str(c) for c in data.columns]
    if annotator in columns or label in columns:
        check_columns(
            data.columns,
            [(item, "item"), (annotator, "annotator"), (label, "label")],
            frame="events_or_df",
        )
        frame = data[[item, annotator, label] + (["cleared"] if "cleared" in columns else [])]
        frame = frame.reset_index(drop=True)
        if "cleared" in columns:  # store events: an event that cleared the label ends it
            cleared = frame["cleared"].map(lambda v: isinstance(v, str) and label in v.split(","))
            frame = frame[frame[label].notna() | cleared]
        frame = frame[frame[annotator].map(lambda v: not is_missing(v))]
        latest = frame.drop_duplicates([item, annotator], keep="last")
        latest = latest[latest[label].map(lambda v: not is_missing(v))]
        return pd.DataFrame(
            {
                "item": latest[item].tolist(),
                "annotator": latest[annotator].map(str).tolist(),
                "label": latest[label].tolist(),
            }
        )
    # wide: one row per item, one column per annotator
    wide = data.set_index(item) if item in columns else data
    rows = []
    for name in wide.columns:
        for key, value in zip(wide.index, wide[name].tolist(), strict=True):
            if not is_missing(value):
                rows.append((key, str(name), value))
    return pd.DataFrame(rows, columns=["item", "annotator", "label"])


def agreement(
    events_or_df: pd.DataFrame,
    *,
    item: str = "log_id",
    annotator: str = "annotator",
    label: str = "label",
) -> pd.DataFrame:
    """How much annotators agree: Cohen's kappa per pair, Krippendorff's alpha overall, counts.

    Parameters
    ----------
    events_or_df
        ``store.feedback_events()`` (each annotator's latest label per log is used; an event that
        cleared the label removes it; events without an annotator are left out), any frame with
        one row per label (columns ``item``, ``annotator``, ``label``; the last row of an
        annotator for an item wins), or a wide frame with one row per item and one column per
        annotator (missing = not labelled; ``item`` is used as the index when it is a column).
    item, annotator, label
        The column names in a long frame.

    Returns
    -------
    pandas.DataFrame
        One row per ``scope``: ``"overall"`` (``n`` items with two or more labels, ``observed``
        share of agreeing pairs, Krippendorff's ``alpha``), ``"pair"`` (for each two annotators:
        ``n`` items both labelled, ``observed`` agreement and Cohen's ``kappa``; NaN when they
        share no item or chance agreement is 1) and ``"annotator"`` (``n`` items labelled).

    Examples
    --------
    >>> import pandas as pd
    >>> import hl_notebook as hl
    >>> votes = pd.DataFrame({"ada": ["👍", "👍", "👎", "👎"], "bo": ["👍", "👎", "👎", "👎"]})
    >>> table = hl.agreement(votes)
    >>> table.loc[table.scope == "pair", "kappa"].round(2).tolist()
    [0.5]
    """
    import pandas as pd

    for name, value in (("item", item), ("annotator", annotator), ("label", label)):
        if not isinstance(value, str):
            raise HLValueError(f"{name} must be a column name (a string); got {describe(value)}.")
    long = _long_from_input(events_or_df, item=item, annotator=annotator, label=label)
    names = sorted(set(long["annotator"]))
    if len(names) < 2:
        who = f"only {names}" if names else "no named annotator"
        raise HLValueError(
            f"agreement needs labels from at least two annotators; found {who} "
            f"({len(long)} labels). Have a second person label the same items, e.g. "
            "hl.annotate(df, annotator='bo'), or pass annotator='<column>' naming who labelled."
        )
    by_item: dict[Any, dict[str, Any]] = {}
    for key, who, value in zip(long["item"], long["annotator"], long["label"], strict=True):
        by_item.setdefault(key, {})[who] = value
    units = {k: list(v.values()) for k, v in by_item.items() if len(v) >= 2}
    if not units:
        raise HLValueError(
            f"no item was labelled by two annotators (annotators {names}, {len(by_item)} items); "
            "agreement compares labels on the same items. Have them label an overlapping set."
        )
    alpha, pairable = krippendorff_alpha(units)
    agree_pairs = total_pairs = 0
    for values in units.values():
        counts = Counter(values)
        m = len(values)
        total_pairs += m * (m - 1) // 2
        agree_pairs += sum(c * (c - 1) // 2 for c in counts.values())
    rows: list[dict[str, Any]] = [
        {
            "scope": "overall",
            "annotator_a": None,
            "annotator_b": None,
            "n": pairable,
            "observed": agree_pairs / total_pairs,
            "kappa": math.nan,
            "alpha": alpha,
        }
    ]
    for a, b in combinations(names, 2):
        shared = [(v[a], v[b]) for v in by_item.values() if a in v and b in v]
        la = [x for x, _ in shared]
        lb = [y for _, y in shared]
        rows.append(
            {
                "scope": "pair",
                "annotator_a": a,
                "annotator_b": b,
                "n": len(shared),
                "observed": (sum(x == y for x, y in shared) / len(shared)) if shared else math.nan,
                "kappa": cohen_kappa(la, lb),
                "alpha": math.nan,
            }
        )
    labelled = Counter(long["annotator"])
    for who in names:
        rows.append(
            {
                "scope": "annotator",
                "annotator_a": who,
                "annotator_b": None,
                "n": labelled[who],
                "observed": math.nan,
                "kappa": math.nan,
                "alpha": math.nan,
            }
        )
    out = pd.DataFrame(rows, columns=list(AGREEMENT_COLUMNS))
    out["n"] = out["n"].astype("int64")
    for c in ("observed", "kappa", "alpha"):
        out[c] = out[c].astype("float64")
    return out

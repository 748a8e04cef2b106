"""The column contract shared by every part of hl_notebook, and the validation helpers.

Every frame hl_notebook reads or writes uses these names. A validation error always says what was
expected, what arrived, where (argument, column, row or line) and what to do next.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

__all__ = [
    "DEFAULT_LABELS",
    "DEFAULT_RATING_SCALE",
    "EVENT_COLUMNS",
    "FEEDBACK_COLUMNS",
    "FEEDBACK_FIELDS",
    "JSON_COLUMNS",
    "LOG_COLUMNS",
    "OPTIONAL_LOG_COLUMNS",
    "PREFERRED_VALUES",
    "REQUIRED_LOG_COLUMNS",
    "STORE_COLUMNS",
    "HLValueError",
    "check_columns",
    "check_label",
    "check_labels",
    "check_preferred",
    "check_rating",
    "check_rating_scale",
    "check_text",
    "describe",
    "is_missing",
    "message_list",
    "suggest",
    "where",
]

#: The default label vocabulary; the first label is the positive one.
DEFAULT_LABELS: tuple[str, ...] = ("👍", "👎")
#: Ratings are integers in this inclusive range unless a store or widget says otherwise.
DEFAULT_RATING_SCALE: tuple[int, int] = (1, 5)

#: Columns a frame must have to be logged.
REQUIRED_LOG_COLUMNS: tuple[str, ...] = ("prompt", "completion")
#: Optional columns of a log.
OPTIONAL_LOG_COLUMNS: tuple[str, ...] = (
    "log_id",
    "created_at",
    "model",
    "prompt_version",
    "messages",
    "inputs",
    "metadata",
)
#: The columns of a log, in the order `Store.to_pandas` returns them.
LOG_COLUMNS: tuple[str, ...] = (
    "log_id",
    "created_at",
    "prompt",
    "completion",
    "model",
    "prompt_version",
    "messages",
    "inputs",
    "metadata",
)
#: Columns holding JSON-compatible Python objects (lists or dicts), stored as JSON text.
JSON_COLUMNS: tuple[str, ...] = ("messages", "inputs", "metadata")
#: The fields one feedback event may set.
FEEDBACK_FIELDS: tuple[str, ...] = ("label", "rating", "correction", "comment")
#: The latest feedback of a log, as `Store.to_pandas` and the widgets write it.
FEEDBACK_COLUMNS: tuple[str, ...] = (
    "label",
    "rating",
    "correction",
    "comment",
    "annotator",
    "labelled_at",
)
#: One row per log: what `Store.to_pandas` returns.
STORE_COLUMNS: tuple[str, ...] = LOG_COLUMNS + FEEDBACK_COLUMNS
#: One row per feedback event: what `Store.feedback_events` returns.
EVENT_COLUMNS: tuple[str, ...] = (
    "feedback_id",
    "log_id",
    "label",
    "rating",
    "correction",
    "comment",
    "annotator",
    "source",
    "cleared",
    "created_at",
)
#: What the compare widget writes into ``preferred``, in terms of the original columns.
PREFERRED_VALUES: tuple[str, ...] = ("a", "b", "tie", "both_bad")

Preferred = Literal["a", "b", "tie", "both_bad"]


class HLValueError(ValueError):
    """A value that hl_notebook cannot accept; the message says where and what to do."""


def is_missing(value: Any) -> bool:
    """True for None, NaN and pandas' missing markers (NA, NaT)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    try:
        import pandas as pd

        return value is pd.NA or value is pd.NaT
    except ImportError:  # pragma: no cover - pandas is a dependency
        return False


def describe(value: Any) -> str:
    """A short description of a value for an error message."""
    if value is None:
        return "None"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if is_missing(value):
        return repr(value)
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def where(*, name: str, row: Any = None, line: int | None = None) -> str:
    """Say where a value sits: ``"column 'prompt' at row 3"``, ``"'label' on line 7"``."""
    if line is not None:
        return f"{name!r} on line {line}"
    if row is not None:
        return f"column {name!r} at row {row!r}"
    return f"{name!r}"


def check_text(
    value: Any,
    *,
    name: str,
    row: Any = None,
    line: int | None = None,
    allow_missing: bool = False,
) -> str | None:
    """Return ``value`` if it is a string of valid unicode; otherwise raise `HLValueError`.

    Examples
    --------
    >>> check_text("F = G m1 m2 / r^2", name="completion")
    'F = G m1 m2 / r^2'
    """
    if is_missing(value):
        if allow_missing:
            return None
        raise HLValueError(
            f"{where(name=name, row=row, line=line)} is missing ({describe(value)}); it must be a "
            f"string. Fill it, or drop such rows first, e.g. df.dropna(subset=[{name!r}])."
        )
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise HLValueError(
                f"{where(name=name, row=row, line=line)} holds a lone surrogate at position "
                f"{exc.start}, which is not valid unicode; decode the source text with "
                "errors='replace' or remove the character."
            ) from None
        return value
    hint = (
        "decode it first, e.g. value.decode('utf-8')"
        if isinstance(value, (bytes, bytearray))
        else f"convert it if that is what you meant, e.g. df[{name!r}].astype(str)"
    )
    raise HLValueError(
        f"{where(name=name, row=row, line=line)} must be a string; got {describe(value)}; {hint}."
    )


def check_labels(labels: Any, *, name: str = "labels") -> tuple[str, ...]:
    """Validate a label vocabulary: a non-empty sequence of distinct non-empty strings."""
    if isinstance(labels, str) or not isinstance(labels, Iterable):
        raise HLValueError(
            f"{name} must be a sequence of strings such as ('👍', '👎'); got {describe(labels)}."
        )
    out = tuple(labels)
    if not out:
        raise HLValueError(f"{name} is empty; give at least one label, e.g. ('👍', '👎').")
    for item in out:
        if not isinstance(item, str) or not item.strip():
            raise HLValueError(f"{name} must hold non-empty strings; got {describe(item)}.")
    if len(set(out)) != len(out):
        dupes = sorted({x for x in out if out.count(x) > 1})
        raise HLValueError(f"{name} repeats {dupes}; give each label once.")
    return out


def check_label(
    value: Any,
    labels: Sequence[str] = DEFAULT_LABELS,
    *,
    name: str = "label",
    row: Any = None,
    line: int | None = None,
) -> str:
    """Return ``value`` if it is one of ``labels``; the error lists the allowed ones.

    Examples
    --------
    >>> check_label("👍")
    '👍'
    """
    if isinstance(value, str) and value in labels:
        return value
    close = suggest(value, labels) if isinstance(value, str) else None
    hint = f" Did you mean {close!r}?" if close else ""
    raise HLValueError(
        f"{where(name=name, row=row, line=line)} is {describe(value)}, which is not in the label "
        f"vocabulary; allowed: {list(labels)}.{hint} To use other labels, create the store with "
        "Store(..., labels=[...]) or call store.extend_vocabulary(labels=[...])."
    )


def check_rating_scale(scale: Any, *, name: str = "rating_scale") -> tuple[int, int]:
    """Validate an inclusive integer rating scale ``(low, high)`` with ``low < high``."""
    try:
        low, high = scale
    except (TypeError, ValueError):
        raise HLValueError(
            f"{name} must be a pair of integers (low, high) such as (1, 5); got {describe(scale)}."
        ) from None
    for v in (low, high):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise HLValueError(f"{name} must hold integers; got {describe(v)}.")
    if not low < high:
        raise HLValueError(f"{name} must have low < high; got ({low}, {high}).")
    return int(low), int(high)


def check_rating(
    value: Any,
    scale: tuple[int, int] = DEFAULT_RATING_SCALE,
    *,
    name: str = "rating",
    row: Any = None,
    line: int | None = None,
) -> int:
    """Return ``value`` as an int if it is a whole number inside ``scale`` (inclusive).

    Examples
    --------
    >>> check_rating(4)
    4
    """
    low, high = scale
    ok = False
    if not isinstance(value, bool) and isinstance(value, numbers.Integral):
        ok = True
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        ok = math.isfinite(float(value)) and float(value).is_integer()
    if not ok:
        raise HLValueError(
            f"{where(name=name, row=row, line=line)} must be a whole number from {low} to {high}; "
            f"got {describe(value)}. Ratings are integers; round them first if they are means."
        )
    rating = int(value)
    if not low <= rating <= high:
        raise HLValueError(
            f"{where(name=name, row=row, line=line)} is {rating}, outside the rating scale "
            f"{low}..{high}. Give a rating from {low} to {high}, or widen the scale with "
            f"store.extend_vocabulary(rating_scale=({min(low, rating)}, {max(high, rating)}))."
        )
    return rating


def check_preferred(value: Any, *, row: Any = None) -> str | None:
    """A compare vote: one of ``PREFERRED_VALUES``, or None for a row without a vote.

    Examples
    --------
    >>> check_preferred("tie")
    'tie'
    """
    if is_missing(value):
        return None
    if isinstance(value, str) and value in PREFERRED_VALUES:
        return value
    shown = repr(value) if isinstance(value, str) else describe(value)
    raise HLValueError(
        f"{where(name='preferred', row=row)} is {shown}; allowed: "
        f"{', '.join(map(repr, PREFERRED_VALUES))} (or missing for rows without a vote)."
    )


def check_columns(
    columns: Iterable[Any], required: Iterable[tuple[str, str]], *, frame: str = "df"
) -> None:
    """Check that each ``(column, parameter)`` in ``required`` names a present column.

    The error names the missing column, lists the columns present and the parameter to pass.

    Examples
    --------
    >>> check_columns(["prompt", "text"], [("prompt", "prompt")])
    """
    present = [str(c) for c in columns]
    required = list(required)
    claimed = {column for column, _ in required}
    unclaimed = [c for c in present if c not in claimed]
    for column, parameter in required:
        if column in present:
            continue
        close = suggest(column, present) or (unclaimed[0] if len(unclaimed) == 1 else None)
        hint = f" Pass {parameter}={close!r}." if close else f" Pass {parameter}='<column name>'."
        raise HLValueError(
            f"{frame} is missing column {column!r}; it has {present}.{hint}"
        )


def message_list(value: Any) -> list[Any] | None:
    """A ``messages`` cell as a non-empty list of message dicts, or None when it isn't one.

    Accepts a list, a tuple, a numpy array (as parquet gives) or JSON text of a list.

    Examples
    --------
    >>> message_list('[{"role": "user", "content": "hi"}]')
    [{'role': 'user', 'content': 'hi'}]
    """
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith("["):
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None
    if hasattr(value, "tolist") and not isinstance(value, (list, tuple)):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or not value:
        return None
    if not all(isinstance(m, Mapping) and "role" in m for m in value):
        return None
    return list(value)


def suggest(word: Any, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to ``word`` for a 'did you mean' hint, or None."""
    import difflib

    if not isinstance(word, str):
        return None
    choices = [str(c) for c in choices]
    lowered = {c.lower(): c for c in choices}
    if word.lower() in lowered:
        return lowered[word.lower()]
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return match[0] if match else None

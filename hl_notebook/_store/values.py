"""Checking and converting the values of a log or an event for SQLite: times, JSON, text."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._schema import (
    HLValueError,
    check_text,
    describe,
    is_missing,
)

if TYPE_CHECKING:
    pass

__all__ = ["check_optional_text", "dump_json", "json_default", "now_us", "to_us"]

def now_us() -> int:
    return int(_dt.datetime.now(_dt.timezone.utc).timestamp() * 1_000_000)


def to_us(value: Any, *, name: str = "created_at", row: Any = None) -> int:
    """Microseconds since the epoch (UTC) from a datetime, Timestamp, ISO string or None (now)."""
    if is_missing(value):
        return now_us()
    import pandas as pd

    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        at = f" at row {row!r}" if row is not None else ""
        raise HLValueError(
            f"{name}{at} must be a datetime or an ISO-8601 string; got {describe(value)}."
        ) from None
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return int(ts.value // 1000)


def json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dump_json(value: Any, *, name: str, row: Any = None) -> str | None:
    if value is None or (isinstance(value, float) and is_missing(value)):
        return None
    expected = list if name == "messages" else dict
    if not isinstance(value, (list, tuple) if expected is list else Mapping):
        at = f" at row {row!r}" if row is not None else ""
        shape = "a list of {'role': ..., 'content': ...} dicts" if expected is list else "a dict"
        raise HLValueError(f"{name}{at} must be {shape}; got {describe(value)}.")
    try:
        return json.dumps(value, ensure_ascii=False, default=json_default)
    except (TypeError, ValueError) as exc:
        at = f" at row {row!r}" if row is not None else ""
        raise HLValueError(
            f"{name}{at} is not JSON-serializable ({exc}); keep it to strings, numbers, lists "
            "and dicts."
        ) from None


def check_optional_text(value: Any, *, name: str, row: Any = None, line: int | None = None):
    return check_text(value, name=name, row=row, line=line, allow_missing=True)

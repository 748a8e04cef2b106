"""One cell of a frame as the widgets send it to the browser: display text, clipped previews,
chat turns, JSON-safe chips; and the columns the widgets write into a frame."""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .._schema import (
    is_missing,
    message_list,
)

if TYPE_CHECKING:
    import pandas as pd


__all__ = ["FULL_CHARS", "MAX_PAGE", "PREVIEW_CHARS", "clip", "ensure_column", "index_label",
           "jsonable", "messages_of", "text_of"]

#: Characters of one text cell sent to the front end before "show more".
PREVIEW_CHARS = 20_000
#: Largest piece of one cell the front end may ask for at once ("show more").
FULL_CHARS = 4_000_000
#: Most rows one page request may return.
MAX_PAGE = 200
def text_of(value: Any) -> str | None:
    """A cell as display text: None for missing values, str() for numbers and other objects."""
    if is_missing(value):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, (list, dict)):
        try:
            return json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            return str(value)
    return str(value)


def clip(text: str | None, limit: int = PREVIEW_CHARS) -> dict[str, Any]:
    """``{"text", "length", "truncated"}`` for a cell: at most ``limit`` characters go to the UI."""
    if text is None:
        return {"text": None, "length": 0, "truncated": False}
    if len(text) <= limit:
        return {"text": text, "length": len(text), "truncated": False}
    return {"text": text[:limit], "length": len(text), "truncated": True}


def jsonable(value: Any) -> Any:
    """A JSON-safe version of a scalar for a chip or a message (NaN and NA become None)."""
    if is_missing(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def messages_of(value: Any) -> list[dict[str, str]] | None:
    """Chat ``messages`` as a list of ``{"role", "content"}`` turns, or None when not a chat."""
    value = message_list(value)
    if value is None:
        return None
    turns = []
    for item in value:
        content = item.get("content")
        if isinstance(content, list):  # content parts: keep the text ones
            content = "\n".join(
                str(p.get("text", "")) for p in content if isinstance(p, Mapping)
            )
        turns.append({"role": str(item["role"]), "content": clip(text_of(content))["text"] or ""})
    return turns


def index_label(value: Any) -> str:
    """The DataFrame index value as short text for the UI."""
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."

def ensure_column(df: pd.DataFrame, name: str, kind: str) -> None:
    """Create ``df[name]`` when missing, with a dtype that can hold what the widget writes."""
    import pandas as pd

    if name in df.columns:
        col = df[name]
        if kind == "rating" and not isinstance(col.dtype, pd.Int64Dtype):
            if col.isna().all() or pd.api.types.is_numeric_dtype(col.dtype):
                try:
                    df[name] = col.astype("Int64")
                except (TypeError, ValueError):
                    df[name] = col.astype(object)
            else:
                df[name] = col.astype(object)
        elif kind == "time" and not isinstance(col.dtype, pd.DatetimeTZDtype):
            df[name] = pd.to_datetime(col, utc=True, errors="coerce")
        elif kind == "text" and col.dtype != object:
            df[name] = col.astype(object).where(col.notna(), None)
        return
    n = len(df)
    if kind == "rating":
        values = pd.arrays.IntegerArray(np.zeros(n, dtype="int64"), np.ones(n, dtype=bool))
        df[name] = pd.Series(values, index=df.index)
    elif kind == "time":
        df[name] = pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns, UTC]")
    else:
        df[name] = pd.Series(np.full(n, None, dtype=object), index=df.index, dtype=object)

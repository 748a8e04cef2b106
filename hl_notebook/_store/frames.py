"""Rows and Arrow tables of a store read into pandas frames with the store's column types."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._schema import (
    JSON_COLUMNS,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["arrow_from_rows", "frame_from_arrow"]

_INT_COLUMNS = frozenset({"created_at", "labelled_at", "rating"})
_TIME_COLUMNS = frozenset({"created_at", "labelled_at"})


def _arrow_type(name: str):
    import pyarrow as pa

    return pa.int64() if name in _INT_COLUMNS else pa.string()


def arrow_from_rows(rows: list[tuple], columns: Sequence[str]):
    import pyarrow as pa

    data = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    return pa.table(
        {c: pa.array(v, type=pa.int64() if c in _INT_COLUMNS else pa.string()) for c, v in zip(columns, data, strict=True)}
    )


def frame_from_arrow(tables: Sequence[Any], columns: Sequence[str]) -> pd.DataFrame:
    """One frame from Arrow tables of the same columns (types may differ where a part was all NULL)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    fixed = []
    for name in columns:
        target = _arrow_type(name)
        col = pa.chunked_array(
            [chunk for t in tables for chunk in pc.cast(t.column(name), target).chunks], type=target
        )
        if name in _TIME_COLUMNS:
            col = pc.cast(col, pa.timestamp("us", tz="UTC"))
        fixed.append(col)
    json_columns = {}
    for k, name in enumerate(columns):
        if name in JSON_COLUMNS:
            col = fixed[k]
            if col.null_count == len(col):
                json_columns[name] = np.full(len(col), None, dtype=object)
            else:
                json_columns[name] = np.array(
                    [None if v is None else json.loads(v) for v in col.to_pylist()] + [None],
                    dtype=object,
                )[:-1]
            fixed[k] = pa.nulls(len(col), pa.string())
    table = pa.table(dict(zip(columns, fixed, strict=True)))
    frame = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    for name, values in json_columns.items():
        frame[name] = pd.Series(values, dtype=object, index=frame.index)
    return frame

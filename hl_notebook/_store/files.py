"""Export a store to JSONL, CSV or Parquet, and import such files back, line by line.

Export writes one row per log with its latest feedback (the columns of `Store.to_pandas`). Times are
ISO-8601 strings in UTC with microseconds (Parquet: timestamps); ``messages``, ``inputs`` and
``metadata`` are JSON values in JSONL and JSON text in CSV and Parquet. Importing such a file into
another store gives back the same logs and latest feedback; importing it twice changes nothing.

The writers are `write_jsonl`, `write_csv` and `write_parquet` (the command line's registry of
export formats names them); readers are registered in `IMPORT_FORMATS`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .._schema import (
    FEEDBACK_COLUMNS,
    FEEDBACK_FIELDS,
    JSON_COLUMNS,
    STORE_COLUMNS,
    HLValueError,
    describe,
    is_missing,
)
from .store import Store

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "IMPORT_FORMATS",
    "ImportFormat",
    "ImportResult",
    "write_csv",
    "write_jsonl",
    "write_parquet",
    "import_file",
]

_TIME_COLUMNS = ("created_at", "labelled_at")
_CSV_FIELD_LIMIT = 2**31 - 1
#: Optional text columns: an empty CSV field reads back as missing.
_OPTIONAL_TEXT = ("log_id", "model", "prompt_version", "correction", "comment", "annotator")


# -- export ---------------------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    import pandas as pd

    if value is pd.NaT:
        return None
    return pd.Timestamp(value).isoformat()


def _plain(value: Any) -> Any:
    """A JSON-ready Python value: None for missing, int for ratings."""
    if value is None:
        return None
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        return value.item()
    return value


def _records(frame: pd.DataFrame, *, json_as_text: bool) -> Iterator[dict[str, Any]]:
    columns = [c for c in STORE_COLUMNS if c in frame.columns]
    data = {c: frame[c].tolist() for c in columns}
    for i in range(len(frame)):
        out: dict[str, Any] = {}
        for c in columns:
            v = data[c][i]
            if c in _TIME_COLUMNS:
                out[c] = _iso(v)
            elif c in JSON_COLUMNS:
                v = None if v is None or (isinstance(v, float) and math.isnan(v)) else v
                out[c] = json.dumps(v, ensure_ascii=False) if (json_as_text and v is not None) else v
            else:
                out[c] = _plain(v)
        yield out


def write_jsonl(frame: pd.DataFrame, out: IO[bytes]) -> None:
    for record in _records(frame, json_as_text=False):
        out.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))


def write_csv(frame: pd.DataFrame, out: IO[bytes]) -> None:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        writer = csv.writer(text, lineterminator="\r\n")  # RFC 4180; quotes any \r or \n
        columns = [c for c in STORE_COLUMNS if c in frame.columns]
        writer.writerow(columns)
        for record in _records(frame, json_as_text=True):
            writer.writerow(["" if record[c] is None else record[c] for c in columns])
        text.flush()
    finally:
        text.detach()


def write_parquet(frame: pd.DataFrame, out: IO[bytes]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = [c for c in STORE_COLUMNS if c in frame.columns]
    arrays = {}
    for c in columns:
        values = frame[c].tolist()
        if c in _TIME_COLUMNS:
            arrays[c] = pa.array(
                [None if _plain(v) is None else v for v in values], type=pa.timestamp("us", tz="UTC")
            )
        elif c == "rating":
            arrays[c] = pa.array([_plain(v) for v in values], type=pa.int64())
        elif c in JSON_COLUMNS:
            arrays[c] = pa.array(
                [None if _plain(v) is None else json.dumps(v, ensure_ascii=False) for v in values],
                type=pa.string(),
            )
        else:
            arrays[c] = pa.array([_plain(v) for v in values], type=pa.string())
    pq.write_table(pa.table(arrays), out)


# -- import ---------------------------------------------------------------------------------


class RowProblem(Exception):
    """A record that cannot be imported; the message says why and what to do."""


#: What a reader yields for each record: (where, record) or (where, RowProblem).
Item = tuple[str, "dict[str, Any] | RowProblem"]


@dataclass(frozen=True)
class ImportFormat:
    """How to read a file into records, each with where it sits (``"line 7"``, ``"row 3"``)."""

    read: Callable[[IO[bytes]], Iterator[Item]]
    help: str
    suffixes: tuple[str, ...] = ()


def _read_jsonl(stream: IO[bytes]) -> Iterator[Item]:
    for number, raw in enumerate(stream, start=1):
        where = f"line {number}"
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield where, RowProblem(
                f"is not valid UTF-8 (byte {exc.start + 1}); save the file as UTF-8."
            )
            continue
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            yield where, RowProblem(
                f"is not valid JSON ({exc.msg} at column {exc.colno}); each line must be one "
                'JSON object such as {"prompt": "...", "completion": "..."}.'
            )
            continue
        if not isinstance(record, dict):
            yield where, RowProblem(
                f"holds a JSON {type(record).__name__}, not an object; each line must be one "
                'JSON object such as {"prompt": "...", "completion": "..."}.'
            )
            continue
        yield where, record


def _csv_value(column: str, text: str) -> Any:
    if column in ("prompt", "completion"):
        return text
    if text == "":
        return None
    if column in JSON_COLUMNS:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise RowProblem(
                f"column {column!r} is not valid JSON ({exc.msg}); write it as JSON text, e.g. "
                f'{{"key": "value"}}.'
            ) from None
    if column == "rating":
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
        return text  # rejected by the rating check with a clear message
    return text


def _read_csv(stream: IO[bytes]) -> Iterator[Item]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:  # completions can be megabytes long
        csv.field_size_limit(_CSV_FIELD_LIMIT)
    try:
        yield from _csv_items(csv.reader(text))
    finally:
        text.detach()


def _csv_items(reader: Any) -> Iterator[Item]:
    try:
        header = next(reader)
    except StopIteration:
        return
    except (csv.Error, UnicodeDecodeError) as exc:
        yield "line 1", RowProblem(f"is not a readable CSV header ({exc}).")
        return
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            yield f"line {start}", RowProblem(
                f"is not valid UTF-8 ({exc.reason}); save the file as UTF-8. Reading stopped here."
            )
            return
        except csv.Error as exc:  # the reader cannot resynchronise after this: stop
            yield f"line {start}", RowProblem(
                f"is not valid CSV ({exc}); fix it (check the quoting). Reading stopped here; "
                "the records before it were checked as usual."
            )
            return
        if not values:
            continue
        where = f"line {start}"
        if len(values) != len(header):
            yield where, RowProblem(
                f"has {len(values)} fields but the header has {len(header)}; check for an "
                "unquoted comma or quote, or a missing field."
            )
            continue
        try:
            yield where, {c: _csv_value(c, v) for c, v in zip(header, values, strict=False)}
        except RowProblem as problem:
            yield where, problem


def _read_parquet(stream: IO[bytes]) -> Iterator[Item]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(stream)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise HLValueError(f"the file is not readable Parquet ({exc}).") from None
    for number, record in enumerate(table.to_pylist()):
        where = f"row {number}"
        item: dict[str, Any] | RowProblem = record
        for column in JSON_COLUMNS:
            value = record.get(column)
            if isinstance(value, str):
                try:
                    record[column] = json.loads(value)
                except json.JSONDecodeError as exc:
                    item = RowProblem(f"column {column!r} is not valid JSON text ({exc.msg}).")
                    break
        yield where, item


#: Import formats by name. Add one with ``IMPORT_FORMATS["name"] = ImportFormat(read, help)``.
IMPORT_FORMATS: dict[str, ImportFormat] = {
    "jsonl": ImportFormat(_read_jsonl, "one JSON object per line", (".jsonl", ".ndjson", ".json")),
    "csv": ImportFormat(_read_csv, "CSV with a header row", (".csv",)),
    "parquet": ImportFormat(_read_parquet, "Apache Parquet", (".parquet", ".pq")),
}


def format_for(path: str | Path, *, given: str | None = None) -> str:
    """The import format for ``path``: ``given``, else from the file's extension."""
    if given is not None:
        if given not in IMPORT_FORMATS:
            raise HLValueError(
                f"unknown import format {given!r}; choose one of {sorted(IMPORT_FORMATS)}."
            )
        return given
    name = str(path).lower()
    for fmt, spec in IMPORT_FORMATS.items():
        if name.endswith(spec.suffixes):
            return fmt
    raise HLValueError(
        f"cannot tell the format of {str(path)!r} from its extension; name it .jsonl, .csv or "
        "parquet, or pass --format jsonl|csv|parquet."
    )


@dataclass
class ImportResult:
    """What an import did: rows written, rows already present, and each rejected record."""

    imported: int = 0
    skipped: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"imported {self.imported}, skipped {self.skipped} already present, "
            f"rejected {len(self.rejected)}"
        )


_KNOWN = set(STORE_COLUMNS)


def _check_record(store: Store, record: dict[str, Any]) -> dict[str, Any]:
    """The record as the store will log it (other fields moved into ``inputs``); else RowProblem."""
    missing = [c for c in ("prompt", "completion") if c not in record]
    if missing:
        raise RowProblem(
            f"has no {' or '.join(repr(c) for c in missing)} field; every record needs 'prompt' "
            f"and 'completion' (it has {sorted(record)[:10]})."
        )
    values = {c: record.get(c) for c in STORE_COLUMNS if c in record}
    extras = {k: v for k, v in record.items() if k not in _KNOWN}
    if extras:
        inputs = values.get("inputs")
        if inputs is not None and not isinstance(inputs, dict):
            raise RowProblem(f"'inputs' must be a JSON object; got {describe(inputs)}.")
        values["inputs"] = {**(inputs or {}), **extras}
    try:
        store._log_row(values, row=None)
        store._event_from_columns({c: [values.get(c)] for c in FEEDBACK_COLUMNS}, 0, row=None)
    except HLValueError as exc:
        raise RowProblem(str(exc)) from None
    return values


def import_records(
    store: Store, items: Iterable[Item], *, source: str = "import", batch: int = 20_000
) -> ImportResult:
    """Check each record and log the good ones (in batches); bad ones are listed, never written."""
    import pandas as pd

    result = ImportResult()
    seen: dict[str, str] = {}
    good: list[dict[str, Any]] = []

    def flush() -> None:
        if not good:
            return
        ids = [r.get("log_id") for r in good if isinstance(r.get("log_id"), str)]
        with store._lock:
            present = store._existing(store._db, ids) if ids else set()
            new_ids = store.log_many(pd.DataFrame(good), errors="raise", if_exists="skip", source=source)
            # a log whose feedback was all cleared still has who cleared it, and when
            cleared = [
                {"log_id": i, "clear": list(FEEDBACK_FIELDS), "annotator": r.get("annotator"),
                 "created_at": r.get("labelled_at")}
                for i, r in zip(new_ids, good, strict=True)
                if i not in present and all(is_missing(r.get(f)) for f in FEEDBACK_FIELDS)
                and not (is_missing(r.get("annotator")) and is_missing(r.get("labelled_at")))
            ]
            if cleared:
                store.feedback_many(cleared, source=source)
        result.skipped += len(present)
        result.imported += len(good) - len(present)
        good.clear()

    store._refresh_vocabulary()
    for where, record in items:
        if isinstance(record, RowProblem):
            result.rejected.append((where, str(record)))
            continue
        if isinstance(record.get("log_id"), str) and record["log_id"] == "":
            record["log_id"] = None
        try:
            record = _check_record(store, record)
        except RowProblem as problem:
            result.rejected.append((where, str(problem)))
            continue
        log_id = record.get("log_id")
        if isinstance(log_id, str):
            if log_id in seen:
                result.rejected.append(
                    (where, f"repeats log_id {log_id!r} from {seen[log_id]}; each log once.")
                )
                continue
            seen[log_id] = where
        good.append(record)
        if len(good) >= batch:
            flush()
    flush()
    return result


def import_file(
    path: str | Path,
    store: Store,
    *,
    format: str | None = None,
    stream: IO[bytes] | None = None,
) -> ImportResult:
    """Import a JSONL, CSV or Parquet file into ``store``; good records are kept, bad ones listed.

    Examples
    --------
    >>> import hl_notebook as hl, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "logs.jsonl"
    >>> _ = path.write_text('{"prompt": "p", "completion": "c", "label": "👍"}\\nnot json\\n')
    >>> result = import_file(path, hl.Store(":memory:"))
    >>> result.summary(), result.rejected[0][0]
    ('imported 1, skipped 0 already present, rejected 1', 'line 2')
    """
    fmt = format_for(path, given=format)
    reader = IMPORT_FORMATS[fmt].read
    if stream is not None:
        return import_records(store, reader(stream))
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        raise HLValueError(f"{str(path)!r} does not exist; check the path.") from None
    except IsADirectoryError:
        raise HLValueError(f"{str(path)!r} is a directory; pass a file.") from None
    with fh:
        return import_records(store, reader(fh))


def stdout_binary() -> IO[bytes]:
    """The process's stdout as a binary stream."""
    return sys.stdout.buffer


def group_counts(store: Store, column: str) -> list[tuple[Any, int]]:
    """(value, count) of the logs by one column of the latest feedback or the log, biggest first."""
    return [
        (v, int(n))
        for v, n in store._read(
            f"SELECT {column}, count(*) AS n FROM logs GROUP BY {column} ORDER BY n DESC, {column}"
        )
    ]


def annotator_counts(store: Store) -> list[tuple[Any, int, int]]:
    """(annotator, events, distinct logs) over every feedback event, most events first."""
    return [
        (a, int(e), int(n))
        for a, e, n in store._read(
            "SELECT annotator, count(*) AS e, count(DISTINCT log_id) FROM feedback "
            "GROUP BY annotator ORDER BY e DESC, annotator"
        )
    ]


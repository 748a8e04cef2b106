"""The durable feedback store: logs and an append-only journal of feedback events, in SQLite
(the tables are described in `tables`).

Every write runs in its own ``BEGIN IMMEDIATE`` transaction and is committed (with
``synchronous=FULL`` in WAL mode) before the call returns, so several threads and processes can write
to one file at once and an acknowledged write survives a crash.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .._schema import (
    DEFAULT_LABELS,
    DEFAULT_RATING_SCALE,
    EVENT_COLUMNS,
    FEEDBACK_COLUMNS,
    FEEDBACK_FIELDS,
    JSON_COLUMNS,
    LOG_COLUMNS,
    OPTIONAL_LOG_COLUMNS,
    STORE_COLUMNS,
    HLValueError,
    check_columns,
    check_label,
    check_labels,
    check_rating,
    check_rating_scale,
    check_text,
    describe,
    is_missing,
)
from .frames import arrow_from_rows, frame_from_arrow
from .ids import new_id, new_ids
from .tables import MIGRATIONS, SCHEMA_V1, SCHEMA_VERSION, UPDATE_LATEST, latest_params
from .values import check_optional_text, dump_json, json_default, now_us, to_us

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "SCHEMA_VERSION",
    "Store",
    "StoreError",
    "UnknownLogError",
]
#: Reads of at least this many rows from a file go through the Arrow reader process (4x faster).
ARROW_READER_MIN_ROWS = 200_000
#: Columns a write may change after a row is written (every other column is written once).
MUTABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "logs": ("label", "rating", "correction", "comment", "annotator", "labelled_at"),
}
_logger = logging.getLogger("hl_notebook")
APPLICATION = "hl_notebook"
DEFAULT_FILENAME = "hl_feedback.sqlite"
_BUSY_TIMEOUT_MS = 60_000


class StoreError(RuntimeError):
    """The store file cannot be used (corrupted, foreign, too new) or the location is unsupported."""


class UnknownLogError(HLValueError, LookupError):
    """Feedback named a log id that is not in the store."""

class Store:
    """A durable store of completions and the feedback people give them.

    Parameters
    ----------
    location
        A path to a SQLite file (created when missing), ``":memory:"``, or None for the default:
        the ``HL_STORE`` environment variable, else ``hl_feedback.sqlite`` in the working directory.
    labels
        Labels to allow besides those the file already allows (default ``("👍", "👎")``).
    rating_scale
        The inclusive integer rating scale (default ``(1, 5)``); widened, never narrowed.

    Examples
    --------
    >>> store = Store(":memory:")
    >>> log_id = store.log(prompt="Equation of gravity", completion="F = G m1 m2 / r^2")
    >>> _ = store.feedback(log_id, label="👍")
    >>> store.to_pandas()[["prompt", "label"]].values.tolist()
    [['Equation of gravity', '👍']]
    """

    def __init__(
        self,
        location: str | os.PathLike[str] | None = None,
        *,
        labels: Sequence[str] | None = None,
        rating_scale: tuple[int, int] | None = None,
    ) -> None:
        if location is None:
            location = os.environ.get("HL_STORE") or DEFAULT_FILENAME
        text = os.fspath(location)
        if text.startswith(("postgresql://", "postgres://", "postgresql+")):
            raise StoreError(
                "Postgres stores are not supported yet; "
                "use a SQLite file for now, e.g. hl.Store('feedback.sqlite')."
            )
        if "://" in text:
            raise StoreError(
                f"{text!r} is not a supported store location; pass a file path or ':memory:'."
            )
        self.location = text
        self.path: Path | None = None if text == ":memory:" else Path(text).expanduser().resolve()
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._labels: tuple[str, ...] = DEFAULT_LABELS
        self._rating_scale: tuple[int, int] = DEFAULT_RATING_SCALE
        self._open()
        if labels is not None or rating_scale is not None:
            self.extend_vocabulary(labels=labels or (), rating_scale=rating_scale)

    # -- connection -------------------------------------------------------------------------

    def _name(self) -> str:
        return str(self.path) if self.path else ":memory:"

    def _open(self) -> None:
        if self.path is not None:
            if self.path.is_dir():
                raise StoreError(f"{self.path} is a directory; pass a file path for the store.")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(
                self._name(), timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            if self.path is not None:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":  # pragma: no cover - e.g. some network filesystems
                    warnings.warn(
                        f"{self.path}: SQLite refused WAL mode ({mode}); concurrent writers will "
                        "wait for each other.",
                        stacklevel=3,
                    )
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._conn = conn
            self._init_schema()
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            raise StoreError(
                f"{self._name()} is not a usable hl_notebook store: {exc}. If the file is "
                "corrupted, restore it from a backup or move it aside and start a new store; "
                "hl-notebook export can recover rows from a readable copy."
            ) from exc

    def _close_quietly(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:  # pragma: no cover
                pass
            self._conn = None

    @property
    def _db(self) -> sqlite3.Connection:
        if os.getpid() != self._pid:  # forked: a SQLite connection must not cross a fork
            self._conn = None
            self._pid = os.getpid()
            self._lock = threading.RLock()
            self._open()
        if self._conn is None:
            raise StoreError(f"the store {self._name()} is closed; open a new hl.Store.")
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._db
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def _read(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _query_frame(
        self,
        columns: Sequence[str],
        table: str,
        *,
        where: str = "",
        params: Sequence[Any] = (),
    ) -> pd.DataFrame:
        """``SELECT columns FROM table [WHERE where] ORDER BY rowid`` as a frame, from one snapshot.

        Big reads of a file run in Arrow reader processes, split by rowid, one part per core.
        Each process would see the file at its own moment, so the read is pinned to one: this
        connection opens a read transaction and takes the last rowid; the children read only
        rows up to it and only columns that never change once written (rows are appended in
        commit order and never deleted), and the columns that do change (a log's latest
        feedback) are read here, inside that same transaction.
        """
        select = f"SELECT {', '.join(columns)} FROM {table}"
        condition = f"({where})" if where else "1"
        if self.path is not None and not params and not where:
            with self._lock:
                conn = self._db
                conn.execute("BEGIN")  # deferred: the snapshot starts at the first read
                try:
                    last = conn.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0
                    if last >= ARROW_READER_MIN_ROWS:
                        frame = self._split_read(conn, columns, table, last)
                        if frame is not None:
                            return frame
                finally:
                    conn.execute("COMMIT")
        rows = self._read(f"{select} WHERE {condition} ORDER BY rowid", params)
        return frame_from_arrow([arrow_from_rows(rows, columns)], columns)

    def _split_read(
        self, conn: sqlite3.Connection, columns: Sequence[str], table: str, last: int
    ) -> pd.DataFrame | None:
        """The rows up to ``last`` read by reader processes, the mutable columns by ``conn``
        (inside its open read transaction); None when the reader processes are unavailable."""
        import numpy as np
        import pyarrow as pa

        from . import arrow_reader as _arrow_reader

        mutable = [c for c in columns if c in MUTABLE_COLUMNS.get(table, ())]
        fixed = [c for c in columns if c not in mutable]
        parts = max(1, min(os.cpu_count() or 1, 4))
        bounds = [last * k // parts for k in range(parts + 1)]
        sqls = [
            f"SELECT rowid AS _rowid, {', '.join(fixed)} FROM {table} "
            f"WHERE rowid > {lo} AND rowid <= {hi} ORDER BY rowid"
            for lo, hi in zip(bounds, bounds[1:], strict=False)
        ]
        try:
            assert self.path is not None
            readers = _arrow_reader.start(self.path, sqls)
        except OSError as exc:
            _logger.info("Arrow reader unavailable, reading in-process: %s", exc)
            return None
        try:
            changed: list[tuple] = []
            if mutable:  # meanwhile, here, in this snapshot: the rows whose latest feedback is set
                any_set = " OR ".join(f"{c} IS NOT NULL" for c in mutable)
                changed = conn.execute(
                    f"SELECT rowid, {', '.join(mutable)} FROM {table} "
                    f"WHERE rowid <= ? AND ({any_set}) ORDER BY rowid", (last,)
                ).fetchall()
            tables = readers.collect()
        except RuntimeError as exc:
            _logger.info("Arrow reader failed, reading in-process: %s", exc)
            return None
        finally:
            readers.close()
        if not mutable:
            return frame_from_arrow(tables, columns)
        got_rowids = np.fromiter((r[0] for r in changed), dtype=np.int64, count=len(changed))
        got = arrow_from_rows([r[1:] for r in changed], mutable)
        out = []
        for t in tables:
            rowids = t.column("_rowid").to_numpy()
            take = np.full(len(rowids), -1, dtype=np.int64)
            if len(rowids):
                lo, hi = np.searchsorted(got_rowids, [rowids[0], rowids[-1] + 1])
                take[np.searchsorted(rowids, got_rowids[lo:hi])] = np.arange(lo, hi, dtype=np.int64)
            index = pa.array(take, mask=take < 0)
            for c in mutable:
                t = t.append_column(c, got.column(c).take(index))
            out.append(t)
        return frame_from_arrow(out, columns)

    def close(self) -> None:
        """Close the connection; the file stays as it is."""
        with self._lock:
            self._close_quietly()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.location!r})"

    # -- schema -----------------------------------------------------------------------------

    def _init_schema(self) -> None:
        conn = self._conn
        assert conn is not None
        with self._lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                if not tables:
                    for statement in SCHEMA_V1.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    self._set_meta(conn, "application", APPLICATION)
                    self._set_meta(conn, "schema_version", "1")
                    self._set_meta(conn, "labels", json.dumps(list(DEFAULT_LABELS), ensure_ascii=False))
                    self._set_meta(conn, "rating_scale", json.dumps(list(DEFAULT_RATING_SCALE)))
                    tables = {"meta", "logs", "feedback"}
                if "meta" not in tables:
                    raise StoreError(
                        f"{self._name()} is a SQLite database but not an hl_notebook store (it has "
                        f"tables {sorted(tables)}). Pass the path of a new or existing store file."
                    )
                meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
                if meta.get("application") != APPLICATION:
                    raise StoreError(
                        f"{self._name()} is a SQLite database made by another program "
                        f"(application={meta.get('application')!r}); pass the path of a new or "
                        "existing hl_notebook store."
                    )
                version = int(meta.get("schema_version", "0"))
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self._name()} has schema version {version}, made by a newer hl_notebook "
                        f"(this one reads up to {SCHEMA_VERSION}); upgrade with "
                        "pip install -U hl_notebook."
                    )
                while version < SCHEMA_VERSION:
                    MIGRATIONS[version](conn)
                    version += 1
                    self._set_meta(conn, "schema_version", str(version))
                self._labels = tuple(json.loads(meta.get("labels", "null")) or DEFAULT_LABELS)
                self._rating_scale = tuple(
                    json.loads(meta.get("rating_scale", "null")) or DEFAULT_RATING_SCALE
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    @staticmethod
    def _set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    @property
    def schema_version(self) -> int:
        """The schema version of the file."""
        return int(self._read("SELECT value FROM meta WHERE key='schema_version'")[0][0])

    @property
    def labels(self) -> tuple[str, ...]:
        """The label vocabulary this store accepts."""
        return self._labels

    @property
    def rating_scale(self) -> tuple[int, int]:
        """The inclusive integer rating scale this store accepts."""
        return self._rating_scale

    def extend_vocabulary(
        self, *, labels: Iterable[str] = (), rating_scale: tuple[int, int] | None = None
    ) -> None:
        """Allow more labels, or a wider rating scale, in this store (saved in the file).

        Examples
        --------
        >>> store = Store(":memory:")
        >>> store.extend_vocabulary(labels=["🤷"], rating_scale=(1, 10))
        >>> store.labels, store.rating_scale
        (('👍', '👎', '🤷'), (1, 10))
        """
        new_labels = check_labels(labels) if list(labels) else ()
        scale = check_rating_scale(rating_scale) if rating_scale is not None else None
        with self._write() as conn:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            current = tuple(json.loads(meta["labels"]))
            merged = current + tuple(x for x in new_labels if x not in current)
            low, high = json.loads(meta["rating_scale"])
            if scale is not None:
                low, high = min(low, scale[0]), max(high, scale[1])
            self._set_meta(conn, "labels", json.dumps(list(merged), ensure_ascii=False))
            self._set_meta(conn, "rating_scale", json.dumps([low, high]))
        self._labels, self._rating_scale = merged, (low, high)

    def _refresh_vocabulary(self) -> None:
        meta = dict(self._read("SELECT key, value FROM meta WHERE key IN ('labels','rating_scale')"))
        self._labels = tuple(json.loads(meta["labels"]))
        self._rating_scale = tuple(json.loads(meta["rating_scale"]))

    # -- logging ----------------------------------------------------------------------------

    def log(
        self,
        *,
        prompt: str,
        completion: str,
        model: str | None = None,
        prompt_version: str | None = None,
        messages: list[dict[str, Any]] | None = None,
        inputs: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        log_id: str | None = None,
        created_at: Any = None,
    ) -> str:
        """Log one completion and return its new time-sortable id.

        Examples
        --------
        >>> store = Store(":memory:")
        >>> store.log(prompt="2+2?", completion="4", model="gpt-4o-mini").startswith("log_")
        True
        """
        row = self._log_row(
            {
                "prompt": prompt,
                "completion": completion,
                "model": model,
                "prompt_version": prompt_version,
                "messages": messages,
                "inputs": inputs,
                "metadata": metadata,
                "log_id": log_id,
                "created_at": created_at,
            },
            row=None,
        )
        if row[0] is None:
            row = (new_id("log_"),) + row[1:]
        try:
            with self._write() as conn:
                conn.execute(_INSERT_LOG, row)
        except sqlite3.IntegrityError:
            raise HLValueError(
                f"log_id {row[0]!r} is already in the store; leave log_id unset to get a new id."
            ) from None
        return row[0]

    def _log_row(self, values: Mapping[str, Any], *, row: Any) -> tuple:
        log_id = values.get("log_id")
        if is_missing(log_id):
            log_id = None
        elif not isinstance(log_id, str) or not log_id.strip():
            at = f" at row {row!r}" if row is not None else ""
            raise HLValueError(f"log_id{at} must be a non-empty string; got {describe(log_id)}.")
        out = [log_id, to_us(values.get("created_at"), row=row)]
        out.append(check_text(values.get("prompt"), name="prompt", row=row))
        out.append(check_text(values.get("completion"), name="completion", row=row))
        for name in ("model", "prompt_version"):
            out.append(check_optional_text(values.get(name), name=name, row=row))
        for name in JSON_COLUMNS:
            out.append(dump_json(values.get(name), name=name, row=row))
        return tuple(out)

    def log_many(
        self,
        df: pd.DataFrame,
        *,
        prompt: str = "prompt",
        completion: str = "completion",
        errors: Literal["raise", "skip"] = "raise",
        if_exists: Literal["raise", "skip"] = "raise",
        source: str = "import",
        _fast: bool = True,
    ) -> list[str | None]:
        """Log every row of a DataFrame in one transaction; return the ids in row order.

        ``df`` needs ``prompt`` and ``completion`` columns (or name others with ``prompt=`` and
        ``completion=``); ``log_id``, ``created_at``, ``model``, ``prompt_version``, ``messages``,
        ``inputs`` and ``metadata`` are used when present, and any other column is kept in
        ``inputs``. Feedback columns (``label``, ``rating``, ``correction``, ``comment``,
        ``annotator``, ``labelled_at``) become feedback events.

        With ``errors="raise"`` a bad row raises an error naming it and nothing is written; with
        ``errors="skip"`` good rows are written and bad rows get ``None`` (and a warning). With
        ``if_exists="skip"`` rows whose ``log_id`` is already stored are left alone (their id is
        returned), which makes re-importing the same file harmless.

        Examples
        --------
        >>> import pandas as pd
        >>> store = Store(":memory:")
        >>> ids = store.log_many(pd.DataFrame({"prompt": ["a", "b"], "completion": ["x", "y"]}))
        >>> len(ids), len(store)
        (2, 2)
        """
        import pandas as pd

        if not isinstance(df, pd.DataFrame):
            raise HLValueError(
                f"log_many needs a pandas DataFrame; got {describe(df)}. "
                "Wrap records with pd.DataFrame(records)."
            )
        if errors not in ("raise", "skip"):
            raise HLValueError(f"errors must be 'raise' or 'skip'; got {errors!r}.")
        if if_exists not in ("raise", "skip"):
            raise HLValueError(f"if_exists must be 'raise' or 'skip'; got {if_exists!r}.")
        check_columns(df.columns, [(prompt, "prompt"), (completion, "completion")])
        frame = df.rename(columns={prompt: "prompt", completion: "completion"})
        if frame.columns.duplicated().any():
            dupes = sorted(set(frame.columns[frame.columns.duplicated()].astype(str)))
            raise HLValueError(f"df has duplicate column names {dupes}; rename them first.")
        known = set(LOG_COLUMNS) | set(FEEDBACK_COLUMNS)
        extras = [c for c in frame.columns if c not in known]
        n = len(frame)
        index = list(frame.index)
        columns = {c: frame[c].tolist() for c in frame.columns if c in known}
        extra_values = {str(c): frame[c].tolist() for c in extras}
        rows: list[tuple | None] = [None] * n
        events: list[tuple[int, dict[str, Any]]] = []
        problems: list[tuple[Any, str]] = []
        fast = None if extra_values or not _fast else _fast_rows(columns, n)
        has_feedback = any(f in columns for f in FEEDBACK_FIELDS)
        self._refresh_vocabulary()
        for i in range(n):
            try:
                if fast is not None:
                    rows[i] = fast[i]
                else:
                    values = {c: columns[c][i] for c in OPTIONAL_LOG_COLUMNS + ("prompt", "completion") if c in columns}
                    if extra_values:
                        merged = dict(values.get("inputs") or {}) if not is_missing(values.get("inputs")) else {}
                        for name, col in extra_values.items():
                            v = col[i]
                            merged[name] = None if is_missing(v) else v
                        values["inputs"] = merged
                    rows[i] = self._log_row(values, row=index[i])
                if has_feedback:
                    event = self._event_from_columns(columns, i, row=index[i])
                    if event is not None:
                        events.append((i, event))
            except HLValueError as exc:
                problems.append((index[i], str(exc)))
        if problems and errors == "raise":
            shown = "\n  ".join(msg for _, msg in problems[:5])
            more = f"\n  ... and {len(problems) - 5} more" if len(problems) > 5 else ""
            raise HLValueError(
                f"{len(problems)} of {n} rows cannot be logged; nothing was written:\n  {shown}{more}\n"
                "Fix these rows, or pass errors='skip' to log the good rows and skip the bad ones."
            )
        bad = {i for i, r in enumerate(rows) if r is None}
        missing_ids = [i for i, r in enumerate(rows) if r is not None and r[0] is None]
        generated = set(missing_ids)
        for i, fresh in zip(missing_ids, new_ids("log_", len(missing_ids)), strict=True):
            row = rows[i]
            assert row is not None  # missing_ids holds good rows only
            rows[i] = (fresh,) + row[1:]
        ids: list[str | None] = [None if r is None else r[0] for r in rows]
        seen: dict[str, int] = {}
        for i, log_id in enumerate(ids):
            if log_id is None:
                continue
            if log_id in seen:
                raise HLValueError(
                    f"log_id {log_id!r} appears twice in df (rows {index[seen[log_id]]!r} and "
                    f"{index[i]!r}); nothing was written. Drop duplicates first, e.g. "
                    "df.drop_duplicates('log_id')."
                )
            seen[log_id] = i
        given = [ids[i] for i in range(n) if i not in bad and i not in generated]
        try:
            with self._write() as conn:
                existing = self._existing(conn, given) if given else set()
                if existing and if_exists == "raise":
                    first = sorted(existing)[:5]
                    raise HLValueError(
                        f"{len(existing)} log_id(s) are already in the store, e.g. {first}; nothing "
                        "was written. Pass if_exists='skip' to leave those rows alone."
                    )
                write = [r for r in rows if r is not None and r[0] not in existing]
                conn.executemany(_INSERT_LOG, write)
                if events:
                    ev_rows = [
                        (log_id, e)
                        for i, e in events
                        if (log_id := ids[i]) is not None and log_id not in existing
                    ]
                    self._insert_events(conn, ev_rows, source=source)
        except UnicodeEncodeError:
            if fast is None:
                raise
            # A lone surrogate, which the bulk path leaves to SQLite's binding to find: the
            # transaction was rolled back; validate row by row to name the row (or skip it).
            return self.log_many(
                df, prompt=prompt, completion=completion, errors=errors, if_exists=if_exists,
                source=source, _fast=False,
            )
        if problems:
            shown = "; ".join(f"row {r!r}" for r, _ in problems[:10])
            warnings.warn(
                f"log_many skipped {len(problems)} bad row(s) ({shown}); the first: "
                f"{problems[0][1]}",
                stacklevel=2,
            )
        return ids

    def _event_from_columns(
        self, columns: Mapping[str, list], i: int, *, row: Any
    ) -> dict[str, Any] | None:
        values = {f: columns[f][i] for f in FEEDBACK_COLUMNS if f in columns}
        if all(is_missing(values.get(f)) for f in FEEDBACK_FIELDS):
            return None
        return self._check_event(
            label=values.get("label"),
            rating=values.get("rating"),
            correction=values.get("correction"),
            comment=values.get("comment"),
            annotator=values.get("annotator"),
            created_at=values.get("labelled_at"),
            row=row,
        )

    @staticmethod
    def _existing(conn: sqlite3.Connection, ids: Sequence[str | None]) -> set[str]:
        found: set[str] = set()
        chunk = 500
        clean = [i for i in ids if i is not None]
        for start in range(0, len(clean), chunk):
            part = clean[start : start + chunk]
            marks = ",".join("?" * len(part))
            found.update(
                r[0] for r in conn.execute(f"SELECT log_id FROM logs WHERE log_id IN ({marks})", part)
            )
        return found

    # -- feedback ---------------------------------------------------------------------------

    def _check_event(
        self,
        *,
        label: Any = None,
        rating: Any = None,
        correction: Any = None,
        comment: Any = None,
        annotator: Any = None,
        clear: Iterable[str] = (),
        created_at: Any = None,
        row: Any = None,
    ) -> dict[str, Any]:
        cleared = [clear] if isinstance(clear, str) else list(clear)
        for field in cleared:
            if field not in FEEDBACK_FIELDS:
                raise HLValueError(
                    f"clear names {field!r}; it may name {list(FEEDBACK_FIELDS)}."
                )
        event = {
            "label": None if is_missing(label) else check_label(label, self._labels, row=row),
            "rating": None if is_missing(rating) else check_rating(rating, self._rating_scale, row=row),
            "correction": check_optional_text(correction, name="correction", row=row),
            "comment": check_optional_text(comment, name="comment", row=row),
            "annotator": check_optional_text(annotator, name="annotator", row=row),
            "cleared": ",".join(f for f in FEEDBACK_FIELDS if f in cleared) or None,
            "created_at": to_us(created_at, name="labelled_at", row=row),
        }
        both = [f for f in cleared if event[f] is not None]
        if both:
            raise HLValueError(f"feedback both sets and clears {both}; do one or the other.")
        if all(event[f] is None for f in FEEDBACK_FIELDS) and not cleared:
            raise HLValueError(
                "feedback needs at least one of label, rating, correction or comment (or clear=...); "
                "got none."
            )
        return event

    def _insert_events(
        self, conn: sqlite3.Connection, events: Sequence[tuple[str, dict[str, Any]]], *, source: str
    ) -> list[str]:
        ids = new_ids("fb_", len(events))
        conn.executemany(
            "INSERT INTO feedback (feedback_id, log_id, label, rating, correction, comment, "
            "annotator, source, cleared, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    fid, log_id, e["label"], e["rating"], e["correction"], e["comment"],
                    e["annotator"], source, e["cleared"], e["created_at"],
                )
                for fid, (log_id, e) in zip(ids, events, strict=True)
            ],
        )
        conn.executemany(
            UPDATE_LATEST,
            [
                latest_params(
                    log_id, e["label"], e["rating"], e["correction"], e["comment"],
                    e["annotator"], e["cleared"], e["created_at"],
                )
                for log_id, e in events
            ],
        )
        return ids

    def feedback(
        self,
        log_id: str,
        *,
        label: str | None = None,
        rating: int | None = None,
        correction: str | None = None,
        comment: str | None = None,
        annotator: str | None = None,
        source: str = "user",
        clear: Iterable[str] = (),
        created_at: Any = None,
    ) -> str:
        """Append one feedback event to a log and return the event's id.

        Fields left as None keep their earlier value in `to_pandas`; name fields in ``clear`` to
        remove them (the widgets' undo does this). Nothing is ever updated in place: every call
        adds an event, and `feedback_events` returns them all.

        Examples
        --------
        >>> store = Store(":memory:")
        >>> log_id = store.log(prompt="Equation of gravity", completion="F = G m1 m2 / r^2")
        >>> store.feedback(log_id, label="👍", annotator="ada").startswith("fb_")
        True
        """
        if not isinstance(log_id, str):
            raise HLValueError(f"log_id must be a string such as 'log_01J…'; got {describe(log_id)}.")
        if not isinstance(source, str) or not source:
            raise HLValueError(f"source must be a non-empty string; got {describe(source)}.")
        self._refresh_vocabulary()
        event = self._check_event(
            label=label, rating=rating, correction=correction, comment=comment,
            annotator=annotator, clear=clear, created_at=created_at,
        )
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM logs WHERE log_id = ?", (log_id,)).fetchone() is None:
                raise UnknownLogError(
                    f"log_id {log_id!r} is not in the store {self._name()}; nothing was written. "
                    "Use the id that store.log() returned, or check you opened the right store."
                )
            return self._insert_events(conn, [(log_id, event)], source=source)[0]

    def feedback_many(
        self, records: pd.DataFrame | Iterable[Mapping[str, Any]], *, source: str = "user"
    ) -> list[str]:
        """Append many feedback events in one transaction; all or nothing.

        Each record has ``log_id`` and any of ``label``, ``rating``, ``correction``, ``comment``,
        ``annotator``, ``clear`` and ``created_at``.

        Examples
        --------
        >>> store = Store(":memory:")
        >>> a = store.log(prompt="p", completion="c")
        >>> len(store.feedback_many([{"log_id": a, "label": "👍"}, {"log_id": a, "rating": 4}]))
        2
        """
        import pandas as pd

        items: list[tuple[Any, Mapping[Any, Any]]]
        if isinstance(records, pd.DataFrame):
            check_columns(records.columns, [("log_id", "log_id")], frame="records")
            items = list(zip(records.index, records.to_dict("records"), strict=True))
        else:
            items = list(enumerate(records))
        self._refresh_vocabulary()
        events = []
        for row, rec in items:
            log_id = rec.get("log_id")
            if not isinstance(log_id, str):
                raise HLValueError(f"log_id at row {row!r} must be a string; got {describe(log_id)}.")
            events.append(
                (
                    log_id,
                    self._check_event(
                        label=rec.get("label"), rating=rec.get("rating"),
                        correction=rec.get("correction"), comment=rec.get("comment"),
                        annotator=rec.get("annotator"), clear=rec.get("clear") or (),
                        created_at=rec.get("created_at"), row=row,
                    ),
                )
            )
        with self._write() as conn:
            wanted = list(dict.fromkeys(e[0] for e in events))
            known = self._existing(conn, wanted)
            unknown = [i for i in wanted if i not in known]
            if unknown:
                raise UnknownLogError(
                    f"{len(unknown)} log_id(s) are not in the store, e.g. {unknown[:5]}; nothing "
                    "was written."
                )
            return self._insert_events(conn, events, source=source)

    # -- reading ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self._read("SELECT count(*) FROM logs")[0][0])

    def to_pandas(
        self, *, labelled_only: bool = False, log_ids: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """One row per log, with its latest feedback.

        Columns: ``log_id, created_at, prompt, completion, model, prompt_version, messages,
        inputs, metadata, label, rating, correction, comment, annotator, labelled_at``.

        Examples
        --------
        >>> store = Store(":memory:")
        >>> _ = store.log(prompt="p", completion="c")
        >>> list(store.to_pandas().columns[:4])
        ['log_id', 'created_at', 'prompt', 'completion']
        """
        if log_ids is not None:
            import pandas as pd

            ids = list(log_ids)
            frames = [
                self._query_frame(
                    STORE_COLUMNS, "logs",
                    where=f"log_id IN ({','.join('?' * len(ids[k : k + 500]))})",
                    params=ids[k : k + 500],
                )
                for k in range(0, len(ids), 500)
            ] or [self._query_frame(STORE_COLUMNS, "logs", where="0")]
            found = pd.concat(frames, ignore_index=True)
            order = {i: k for k, i in enumerate(ids)}
            found_ids = found["log_id"].tolist()
            found = found.iloc[sorted(range(len(found)), key=lambda k: order[found_ids[k]])]
            return found.reset_index(drop=True)
        frame = self._query_frame(STORE_COLUMNS, "logs")
        if labelled_only:
            keep = frame[["label", "rating", "correction", "comment"]].notna().any(axis=1)
            frame = frame[keep.to_numpy()].reset_index(drop=True)
        return frame

    def feedback_events(self, log_id: str | None = None) -> pd.DataFrame:
        """Every feedback event, oldest first, one row each (optionally of one log).

        Examples
        --------
        >>> store = Store(":memory:")
        >>> a = store.log(prompt="p", completion="c")
        >>> _ = store.feedback(a, label="👍", annotator="ada")
        >>> _ = store.feedback(a, label="👎", annotator="bo")
        >>> store.feedback_events()["annotator"].tolist()
        ['ada', 'bo']
        """
        if log_id is None:
            return self._query_frame(EVENT_COLUMNS, "feedback")
        return self._query_frame(EVENT_COLUMNS, "feedback", where="log_id = ?", params=[log_id])

    # -- small records for other modules ----------------------------------------------------

    def _kv_get(self, ns: str, keys: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for start in range(0, len(keys), 500):
            part = list(keys[start : start + 500])
            marks = ",".join("?" * len(part))
            for key, value in self._read(
                f"SELECT key, value FROM kv WHERE ns = ? AND key IN ({marks})", [ns, *part]
            ):
                out[key] = json.loads(value)
        return out

    def _kv_put(self, ns: str, items: Mapping[str, Any]) -> None:
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO kv(ns, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT(ns, key) DO UPDATE SET value = excluded.value",
                [(ns, k, json.dumps(v, ensure_ascii=False, default=json_default)) for k, v in items.items()],
            )


_INSERT_LOG = (
    "INSERT INTO logs (log_id, created_at, prompt, completion, model, prompt_version, messages, "
    "inputs, metadata) VALUES (?,?,?,?,?,?,?,?,?)"
)


def _fast_rows(columns: Mapping[str, list], n: int) -> list[tuple] | None:
    """Rows for the common case (plain strings, no JSON or times), validated in bulk; else None.

    Missing optional values (None, or NaN as pandas 3 gives them) become NULL. Lone surrogates are
    left for SQLite's binding to refuse (`log_many` then validates row by row).
    """
    simple = {"prompt", "completion", "model", "prompt_version"}
    feedback = set(FEEDBACK_COLUMNS)
    if any(c not in simple and c not in feedback for c in columns):
        return None
    for name in ("prompt", "completion"):
        if not all(type(v) is str for v in columns[name]):
            return None
    optional = []
    for name in ("model", "prompt_version"):
        col = columns.get(name)
        if col is None:
            optional.append([None] * n)
            continue
        if not all(type(v) is str for v in col):
            col = [None if is_missing(v) else v for v in col]
            if not all(v is None or type(v) is str for v in col):
                return None
        optional.append(col)
    now = now_us()
    nones = [None] * n
    return list(
        zip(nones, [now] * n, columns["prompt"], columns["completion"], *optional, nones, nones, nones, strict=True)
    )

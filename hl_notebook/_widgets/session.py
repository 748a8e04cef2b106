"""What both widgets' sessions share: row positions in a DataFrame, paging, the filtered view,
write-back with an undo stack, and progress (no kernel needed).

The DataFrame stays in Python and is the source of truth. The front end asks for a window of rows
(`Session.rows`); every change goes through `Session._write`, which a subclass calls after it has
journaled the change to its store, so an acknowledged change is durable. Ordering and filtering
work on numpy arrays of row positions, so a frame of a million rows opens at once.

A subclass says what differs:

- ``_credit(pos)``: who a row counts for in the progress (None while the row is not done);
- ``_done_mask()``: the same for every row at once, as a boolean array;
- ``_filter(raw)``: a filter's cache key and its row mask;
- ``row(pos)``: one row as the front end shows it; ``_cell_column(pos, field)`` for "show more";
- ``advances(change)``: whether the widget moves on to the next row after a change;
- ``_unjournal(change)``: take a change back out of the store before undo restores the frame.
"""

from __future__ import annotations

import numbers
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._schema import HLValueError, describe, is_missing
from .cells import FULL_CHARS, MAX_PAGE, ensure_column, text_of

if TYPE_CHECKING:
    import pandas as pd

    from .._store.store import Store

#: Counted for a done row whose ``annotator`` cell is empty.
NOBODY = "(none)"

#: When any widget in this process last handled a request: background work (re-ranking) waits
#: for a pause in all of them, so it never slows a label down in another widget either.
_last_activity = [0.0]


def touch() -> None:
    """Note that a widget is being used now (see `Session.wait_quiet`)."""
    _last_activity[0] = time.monotonic()


@dataclass
class Change:
    """One applied change, kept for undo: the row, the cells before and after, where it went."""

    pos: int
    before: dict[str, Any]
    after: dict[str, Any]
    fields: dict[str, Any] = field(default_factory=dict)
    log_id: str | None = None
    event_id: str | None = None
    who: str | None = None
    journaled: bool = False


@dataclass
class Progress:
    """Done rows of the total, per annotator, and this session's pace.

    ``noun`` names the done count in `as_dict` (``"labelled"`` or ``"judged"``).
    """

    noun: str = "labelled"
    done: int = 0
    total: int = 0
    per_annotator: dict[str, int] = field(default_factory=dict)
    session_count: int = 0
    started: float = field(default_factory=time.monotonic)

    def move(self, was: str | None, now: str | None) -> None:
        """Move one row's credit from ``was`` to ``now`` (None: the row is not done)."""
        if was == now:
            return
        if was is not None:
            left = self.per_annotator.get(was, 0) - 1
            if left > 0:
                self.per_annotator[was] = left
            else:
                self.per_annotator.pop(was, None)
        if now is not None:
            self.per_annotator[now] = self.per_annotator.get(now, 0) + 1
        step = (now is not None) - (was is not None)
        self.done += step
        self.session_count += step

    def as_dict(self) -> dict[str, Any]:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        # a pace needs a few rows and some seconds before it means anything
        count = self.session_count
        rate = count / elapsed * 60 if count >= 2 and elapsed >= 5 else None
        left = self.total - self.done
        eta = (left / rate * 60) if rate else None
        return {
            self.noun: int(self.done),
            "total": int(self.total),
            "per_annotator": dict(sorted(self.per_annotator.items(), key=lambda kv: -kv[1])),
            "session": int(max(count, 0)),
            "rate_per_min": None if rate is None else round(rate, 2),
            "eta_s": None if eta is None else round(eta, 1),
        }


class ViewCache:
    """Row positions in display order, filtered; recomputed only when the filter changes."""

    def __init__(self, order: np.ndarray) -> None:
        self.order = order
        self._key: str | None = None
        self.view = order

    def get(self, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        if key != self._key:
            self.view = compute()
            self._key = key
        return self.view


def whole_number(value: Any, name: str, *, low: int | None = None) -> int:
    """``value`` as an int, or an error naming ``name``, what arrived and the range."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or (low is not None and value < low)
    ):
        bound = f" >= {low}" if low is not None else ""
        raise HLValueError(f"{name} must be a whole number{bound}; got {describe(value)}.")
    return int(value)


def check_frame(df: Any, function: str) -> None:
    """An error naming ``function`` when ``df`` is not a pandas DataFrame."""
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise HLValueError(
            f"{function}() takes a pandas DataFrame; got {describe(df)}. "
            "Build one first, e.g. pd.DataFrame({'prompt': [...], 'completion': [...]})."
        )
    if df.columns.duplicated().any():
        dupes = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise HLValueError(
            f"{function}() needs distinct column names; df has {dupes} more than once. Rename or "
            "drop the copies first, e.g. df.loc[:, ~df.columns.duplicated()]."
        )


class Session:
    """The state behind a widget: a DataFrame, its order, its filtered view, changes and undo.

    Parameters
    ----------
    df
        The frame, written in place.
    function
        The public name that took ``df`` (for the error when it is not a DataFrame).
    columns
        The columns this session writes, each with its kind (``"text"``, ``"rating"`` or
        ``"time"``); created when missing.
    annotator, store
        Who is working, and the store changes are journaled to (or None).
    noun
        What the progress calls a done row: ``"labelled"`` or ``"judged"``.
    """

    def __init__(
        self,
        df: pd.DataFrame,
        *,
        function: str,
        columns: Mapping[str, str],
        annotator: str | None,
        store: Store | None,
        noun: str,
    ) -> None:
        check_frame(df, function)
        if annotator is not None and not isinstance(annotator, str):
            raise HLValueError(f"annotator must be a string such as 'ada'; got {describe(annotator)}.")
        self.df = df
        self.annotator = annotator
        self.store = store
        self._kinds = dict(columns)
        for name, kind in self._kinds.items():
            ensure_column(df, name, kind)
        # each column's position (check_frame refused duplicate names)
        self._cols: dict[str, int] = {
            c: int(k) for k, c in enumerate(df.columns) if isinstance(c, str)
        }
        self.order = np.arange(len(df), dtype=np.int64)
        self._views = ViewCache(self.order)
        #: Held while the order is read for a page or replaced (a re-rank runs in a thread).
        self.order_lock = threading.RLock()
        touch()
        self.undo_stack: list[Change] = []
        self.progress = Progress(noun=noun, total=len(df))
        self._recount()

    def _set_order(self, order: np.ndarray) -> None:
        with self.order_lock:
            self.order = order
            self._views = ViewCache(order)

    def _shown(self, positions: np.ndarray) -> None:
        """Rows about to be sent to the front end (called with `order_lock` held)."""

    @staticmethod
    def wait_quiet(quiet: float = 0.3) -> None:
        """Return once no widget in this process was asked anything for ``quiet`` seconds."""
        while (left := _last_activity[0] + quiet - time.monotonic()) > 0:
            time.sleep(min(left, 0.05) + 0.001)

    # -- what a subclass says ---------------------------------------------------------------

    def _done_mask(self) -> np.ndarray:
        raise NotImplementedError

    def _credit(self, pos: int) -> str | None:
        raise NotImplementedError

    def _filter(self, raw: Any) -> tuple[str, Callable[[], np.ndarray] | None]:
        """A filter's cache key and a function giving its row mask (None: every row)."""
        return "all", None

    def row(self, pos: int) -> dict[str, Any]:
        raise NotImplementedError

    def _cell_column(self, pos: int, field_name: Any) -> str:
        raise NotImplementedError

    def advances(self, change: Change) -> bool:
        """Whether the widget moves on to the next row after ``change``."""
        return False

    def _unjournal(self, change: Change) -> None:
        """Take ``change`` back out of the store (called by `undo` before the frame is restored)."""

    # -- cells ------------------------------------------------------------------------------

    def _get(self, pos: int, col: str) -> Any:
        return self.df.iat[pos, self._cols[col]]

    def _set(self, pos: int, col: str, value: Any) -> None:
        import pandas as pd

        if is_missing(value):
            kind = self._kinds.get(col, "text")
            value = pd.NaT if kind == "time" else (pd.NA if kind == "rating" else None)
        self.df.iat[pos, self._cols[col]] = value

    def check_pos(self, pos: Any) -> int:
        """``pos`` as a row position, or an error giving the range."""
        n = len(self.df)
        if isinstance(pos, bool) or not isinstance(pos, numbers.Integral) or not 0 <= int(pos) < n:
            raise HLValueError(f"row position must be from 0 to {n - 1}; got {describe(pos)}.")
        return int(pos)

    # -- progress ---------------------------------------------------------------------------

    def _recount(self) -> None:
        mask = self._done_mask()
        self.progress.done = int(mask.sum())
        counts = {}
        if mask.any():
            counts = self.df.loc[mask, "annotator"].fillna(NOBODY).value_counts().to_dict()
        self.progress.per_annotator = {str(k): int(v) for k, v in counts.items()}

    def progress_dict(self) -> dict[str, Any]:
        """The progress as the widget's ``progress`` trait holds it."""
        return self.progress.as_dict()

    @property
    def done(self) -> int:
        """How many rows are done (labelled or judged)."""
        return self.progress.done

    # -- reading ----------------------------------------------------------------------------

    def view(self, raw_filter: Any = None) -> np.ndarray:
        """Row positions shown under a filter, in display order."""
        key, mask = self._filter(raw_filter)
        if mask is None:
            return self.order
        return self._views.get(key, lambda: self.order[mask()[self.order]])

    def rows(self, start: Any, count: Any, raw_filter: Any = None) -> dict[str, Any]:
        """A page of the filtered view: ``{"rows", "total", "start"}`` (at most `MAX_PAGE` rows)."""
        start = whole_number(start, "start")
        count = whole_number(count, "count", low=0)
        with self.order_lock:
            view = self.view(raw_filter)
            total = len(view)
            start = max(0, min(start, max(total - 1, 0)))
            stop = min(total, start + min(count, MAX_PAGE))
            page = view[start:stop]
            self._shown(page)
        return {
            "rows": [self.row(int(p)) for p in page],
            "total": int(total),
            "start": int(start),
        }

    def cell(self, pos: Any, field_name: Any, offset: Any = 0) -> dict[str, Any]:
        """The full text of one cell ("show more"), up to `FULL_CHARS` from ``offset``."""
        pos = self.check_pos(pos)
        col = self._cell_column(pos, field_name)
        text = text_of(self._get(pos, col)) or ""
        off = whole_number(offset, "offset", low=0)
        part = text[off : off + FULL_CHARS]
        return {"pos": pos, "field": field_name, "text": part, "offset": off, "length": len(text)}

    # -- writing ----------------------------------------------------------------------------

    def _write(self, pos: int, values: Mapping[str, Any], **about: Any) -> Change:
        """Write ``values`` into row ``pos``, move its progress credit, and push it for undo."""
        was = self._credit(pos)
        before = {c: self._get(pos, c) for c in values}
        for c, v in values.items():
            self._set(pos, c, v)
        self.progress.move(was, self._credit(pos))
        change = Change(pos=pos, before=before, after=dict(values), **about)
        self.undo_stack.append(change)
        return change

    def undo(self) -> Change | None:
        """Revert the last change, in the store first and then in the DataFrame; None if none."""
        if not self.undo_stack:
            return None
        change = self.undo_stack[-1]
        self._unjournal(change)  # may raise: the change then stays, undoable later
        self.undo_stack.pop()
        was = self._credit(change.pos)
        for c, v in change.before.items():
            self._set(change.pos, c, v)
        self.progress.move(was, self._credit(change.pos))
        return change

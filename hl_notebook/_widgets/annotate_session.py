"""Row paging, ordering, filtering and write-back for the annotation widgets (no kernel needed).

The DataFrame stays in Python and is the source of truth. The front end asks for a window of rows
(`AnnotationSession.rows`); every change goes through `AnnotationSession.apply`, which journals it to
the store first (when there is one) and then writes it into the DataFrame, so an acknowledged change
is durable. Ordering and filtering work on numpy arrays of row positions, so a frame of a million
rows opens at once: nothing is ever serialised whole.
"""

from __future__ import annotations

import datetime as _dt
import json
import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .._schema import (
    DEFAULT_LABELS,
    FEEDBACK_COLUMNS,
    FEEDBACK_FIELDS,
    HLValueError,
    check_columns,
    check_label,
    check_labels,
    check_rating,
    describe,
    is_missing,
    suggest,
)
from .cells import (
    FULL_CHARS,
    MAX_PAGE,
    clip,
    ensure_column,
    index_label,
    jsonable,
    messages_of,
    text_of,
)

if TYPE_CHECKING:
    import pandas as pd

    from .._store.store import Store

Order = Literal["index", "random", "uncertainty"]
ORDERS: tuple[str, ...] = ("index", "random", "uncertainty")
#: Columns shown as metadata chips when present (also read from a ``metadata`` dict column).
CHIP_COLUMNS: tuple[str, ...] = (
    "model",
    "prompt_version",
    "tokens",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "latency_ms",
    "latency_s",
    "latency",
    "cost",
    "source",
)
#: The columns the annotator writes into the DataFrame (created when missing).
WRITE_COLUMNS: tuple[str, ...] = FEEDBACK_COLUMNS

def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)

@dataclass
class Change:
    """One applied change, kept for undo: the row position and the fields' values before it."""

    pos: int
    before: dict[str, Any]
    after: dict[str, Any]
    log_id: str | None = None
    event_id: str | None = None
    who: str | None = None


@dataclass
class Progress:
    """Labelled rows of the total, per annotator, and this session's pace."""

    labelled: int = 0
    total: int = 0
    per_annotator: dict[str, int] = field(default_factory=dict)
    session_count: int = 0
    started: float = field(default_factory=time.monotonic)

    def as_dict(self) -> dict[str, Any]:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        # a pace needs a few labels and some seconds before it means anything
        rate = self.session_count / elapsed * 60 if self.session_count >= 2 and elapsed >= 5 else None
        left = self.total - self.labelled
        eta = (left / rate * 60) if rate else None
        return {
            "labelled": int(self.labelled),
            "total": int(self.total),
            "per_annotator": dict(sorted(self.per_annotator.items(), key=lambda kv: -kv[1])),
            "session": int(self.session_count),
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


def check_order(order: Any) -> str:
    if order not in ORDERS:
        close = suggest(order, ORDERS) if isinstance(order, str) else None
        hint = f" Did you mean {close!r}?" if close else ""
        raise HLValueError(f"order must be one of {list(ORDERS)}; got {describe(order)}.{hint}")
    return order


def make_order(
    df: pd.DataFrame,
    order: str,
    *,
    model: Any = None,
    features: Callable[[pd.DataFrame], Any] | None = None,
    random_state: int | None = 0,
    random_fraction: float = 0.1,
) -> np.ndarray:
    """Row positions in the order the annotator sees them.

    ``"index"`` keeps the frame's order; ``"random"`` shuffles with ``random_state``;
    ``"uncertainty"`` puts the rows a model is least sure about first (probability closest to
    0.5 for a binary model, smallest margin between the top two classes otherwise), with about
    ``random_fraction`` of the rows drawn at random mixed in so the sample stays honest.
    """
    n = len(df)
    check_order(order)
    if order == "index":
        return np.arange(n, dtype=np.int64)
    if order == "random":
        return np.random.default_rng(random_state).permutation(n).astype(np.int64)
    if model is None or not hasattr(model, "predict_proba"):
        raise HLValueError(
            "order='uncertainty' needs a fitted model with predict_proba; pass model=... "
            f"(got {describe(model)}), e.g. a fitted hl preference model or any scikit-learn "
            "classifier fitted on the same features."
        )
    X = features(df) if features is not None else df
    from .._learn.active import uncertainty_order

    return np.asarray(
        uncertainty_order(X, model, random_fraction=random_fraction, random_state=random_state),
        dtype=np.int64,
    )


def uncertainty_positions(
    proba: Any, *, random_fraction: float = 0.1, random_state: int | None = 0
) -> np.ndarray:
    """Most uncertain rows first (smallest top-two margin), with random picks interleaved."""
    p = np.asarray(proba, dtype=float)
    if p.ndim == 1:
        p = np.stack([1 - p, p], axis=1)
    n = len(p)
    if n == 0:
        return np.arange(0, dtype=np.int64)
    top2 = np.sort(p, axis=1)[:, -2:] if p.shape[1] >= 2 else np.concatenate([1 - p, p], axis=1)
    margin = top2[:, -1] - top2[:, -2]
    ranked = np.argsort(margin, kind="stable")
    rng = np.random.default_rng(random_state)
    k = int(round(n * random_fraction))
    if k <= 0:
        return ranked.astype(np.int64)
    picks = rng.choice(n, size=k, replace=False)
    # interleave: every round(1/fraction)-th slot is a random row not already placed
    out = np.empty(n, dtype=np.int64)
    used = np.zeros(n, dtype=bool)
    step = max(int(round(1 / random_fraction)), 2)
    ri = 0
    ui = 0
    for slot in range(n):
        if slot % step == step - 1 and ri < k:
            while ri < k and used[picks[ri]]:
                ri += 1
            if ri < k:
                out[slot] = picks[ri]
                used[picks[ri]] = True
                ri += 1
                continue
        while used[ranked[ui]]:
            ui += 1
        out[slot] = ranked[ui]
        used[ranked[ui]] = True
    return out


def _parse_filter(raw: Any) -> dict[str, Any]:
    f = raw if isinstance(raw, Mapping) else {}
    status = f.get("status") or "all"
    if status not in ("all", "unlabelled", "labelled"):
        status = "all"
    label = f.get("label") or None
    text = f.get("text") or ""
    return {
        "status": status,
        "label": label if isinstance(label, str) else None,
        "text": text if isinstance(text, str) else "",
    }


class AnnotationSession:
    """The state behind an `Annotator`: a DataFrame, its order, filters, changes and undo stack.

    Parameters
    ----------
    df
        The frame to label; written in place.
    prompt, completion
        Column names of the prompt and the completion.
    labels, rating, editable, annotator, store, order, model, random_state
        As in `hl_notebook.annotate`.
    """

    def __init__(
        self,
        df: pd.DataFrame,
        *,
        prompt: str = "prompt",
        completion: str = "completion",
        labels: Sequence[str] = DEFAULT_LABELS,
        rating: int | None = None,
        editable: bool = True,
        annotator: str | None = None,
        store: Store | None = None,
        order: str = "index",
        model: Any = None,
        random_state: int | None = 0,
    ) -> None:
        import pandas as pd

        if not isinstance(df, pd.DataFrame):
            raise HLValueError(
                f"annotate() takes a pandas DataFrame; got {describe(df)}. "
                "Build one first, e.g. pd.DataFrame({'prompt': [...], 'completion': [...]})."
            )
        check_columns(df.columns, [(prompt, "prompt"), (completion, "completion")])
        self.labels = check_labels(labels)
        if len(self.labels) > 9:
            raise HLValueError(
                f"labels has {len(self.labels)} entries; keys 1-9 reach at most 9 labels."
            )
        if rating is not None and (
            isinstance(rating, bool) or not isinstance(rating, numbers.Integral) or not 2 <= rating <= 10
        ):
            raise HLValueError(f"rating must be None or a whole number from 2 to 10; got {describe(rating)}.")
        if annotator is not None and not isinstance(annotator, str):
            raise HLValueError(f"annotator must be a string such as 'ada'; got {describe(annotator)}.")
        self.df = df
        self.prompt_col = prompt
        self.completion_col = completion
        self.rating = int(rating) if rating is not None else None
        self.editable = bool(editable)
        self.annotator = annotator
        self.order_name = check_order(order)
        if store is None and "log_id" in df.columns:
            from .._store.default import default_store

            store = default_store()
        self.store = store
        if store is not None:
            missing = [x for x in self.labels if x not in store.labels]
            if missing or (self.rating and store.rating_scale[1] < self.rating):
                store.extend_vocabulary(
                    labels=missing, rating_scale=(1, self.rating) if self.rating else None
                )
        for name in WRITE_COLUMNS:
            kind = {"rating": "rating", "labelled_at": "time"}.get(name, "text")
            ensure_column(df, name, kind)
        if store is not None and "log_id" not in df.columns:
            ensure_column(df, "log_id", "text")
        self._cols = {c: df.columns.get_loc(c) for c in df.columns if isinstance(c, str)}
        self.order = make_order(df, order, model=model, random_state=random_state)
        self._views = ViewCache(self.order)
        self.chip_columns = [c for c in CHIP_COLUMNS if c in df.columns and c != completion]
        self.has_messages = "messages" in df.columns and prompt != "messages"
        self.undo_stack: list[Change] = []
        self.progress = Progress(total=len(df))
        self._recount()

    # -- helpers ----------------------------------------------------------------------------

    def _get(self, pos: int, col: str) -> Any:
        return self.df.iat[pos, self._cols[col]]

    def _set(self, pos: int, col: str, value: Any) -> None:
        import pandas as pd

        if value is None:
            value = pd.NaT if col == "labelled_at" else (pd.NA if col == "rating" else None)
        self.df.iat[pos, self._cols[col]] = value

    def _labelled_mask(self) -> np.ndarray:
        df = self.df
        return (df["label"].notna() | df["rating"].notna() | df["correction"].notna()).to_numpy(
            dtype=bool
        )

    def _recount(self) -> None:
        mask = self._labelled_mask()
        self._labelled = mask
        self.progress.labelled = int(mask.sum())
        counts = self.df.loc[mask, "annotator"].fillna("(none)").value_counts() if mask.any() else {}
        self.progress.per_annotator = {str(k): int(v) for k, v in dict(counts).items()}

    def _is_labelled(self, pos: int) -> bool:
        return any(not is_missing(self._get(pos, c)) for c in ("label", "rating", "correction"))

    def check_pos(self, pos: Any) -> int:
        if isinstance(pos, bool) or not isinstance(pos, numbers.Integral) or not 0 <= pos < len(self.df):
            raise HLValueError(f"row position must be from 0 to {len(self.df) - 1}; got {describe(pos)}.")
        return int(pos)

    # -- reading ----------------------------------------------------------------------------

    def view(self, raw_filter: Any = None) -> np.ndarray:
        """Row positions shown under a filter (``status``, ``label``, ``text``), in order."""
        f = _parse_filter(raw_filter)
        key = json.dumps(f, sort_keys=True)

        def compute() -> np.ndarray:
            if f == {"status": "all", "label": None, "text": ""}:
                return self.order
            mask = np.ones(len(self.df), dtype=bool)
            if f["status"] != "all":
                labelled = self._labelled_mask()
                mask &= labelled if f["status"] == "labelled" else ~labelled
            if f["label"] is not None:
                mask &= (self.df["label"] == f["label"]).fillna(False).to_numpy(dtype=bool)
            if f["text"]:
                needle = f["text"]
                hit = np.zeros(len(self.df), dtype=bool)
                for col in (self.prompt_col, self.completion_col):
                    s = self.df[col]
                    if s.dtype != object:
                        s = s.astype(str)
                    hit |= s.str.contains(needle, case=False, regex=False, na=False).to_numpy(
                        dtype=bool
                    )
                mask &= hit
            return self.order[mask[self.order]]

        return self._views.get(key, compute)

    def row(self, pos: int) -> dict[str, Any]:
        """One row as the front end shows it (long cells clipped to `PREVIEW_CHARS`)."""
        prompt_value = self._get(pos, self.prompt_col)
        turns = messages_of(prompt_value)
        if turns is None and self.has_messages:
            turns = messages_of(self._get(pos, "messages"))
        chips = {}
        for c in self.chip_columns:
            v = jsonable(self._get(pos, c))
            if v is not None:
                chips[c] = v
        if "metadata" in self._cols:
            meta = self._get(pos, "metadata")
            if isinstance(meta, str):
                try:
                    meta = json.loads(meta)
                except ValueError:
                    meta = None
            if isinstance(meta, Mapping):
                for k in CHIP_COLUMNS:
                    if k in meta and k not in chips and jsonable(meta[k]) is not None:
                        chips[k] = jsonable(meta[k])
        rating = self._get(pos, "rating")
        labelled_at = self._get(pos, "labelled_at")
        return {
            "pos": int(pos),
            "index": index_label(self.df.index[pos]),
            "prompt": clip(text_of(prompt_value)) if turns is None else clip(None),
            "messages": turns,
            "completion": clip(text_of(self._get(pos, self.completion_col))),
            "chips": chips,
            "label": text_of(self._get(pos, "label")),
            "rating": None if is_missing(rating) else int(rating),
            "correction": clip(text_of(self._get(pos, "correction")), FULL_CHARS),
            "comment": text_of(self._get(pos, "comment")),
            "annotator": text_of(self._get(pos, "annotator")),
            "labelled_at": None if is_missing(labelled_at) else jsonable(labelled_at),
            "log_id": text_of(self._get(pos, "log_id")) if "log_id" in self._cols else None,
        }

    def rows(self, start: Any, count: Any, raw_filter: Any = None) -> dict[str, Any]:
        """A page of the filtered view: ``{"rows", "total", "start"}``."""
        view = self.view(raw_filter)
        total = len(view)
        if isinstance(start, bool) or not isinstance(start, numbers.Integral):
            raise HLValueError(f"start must be a whole number; got {describe(start)}.")
        if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 0:
            raise HLValueError(f"count must be a whole number >= 0; got {describe(count)}.")
        start = max(0, min(int(start), max(total - 1, 0)))
        stop = min(total, start + min(int(count), MAX_PAGE))
        return {
            "rows": [self.row(int(p)) for p in view[start:stop]],
            "total": int(total),
            "start": int(start),
        }

    def cell(self, pos: Any, field_name: Any, offset: Any = 0) -> dict[str, Any]:
        """The full text of one cell ("show more"), up to `FULL_CHARS` from ``offset``."""
        pos = self.check_pos(pos)
        col = {"prompt": self.prompt_col, "completion": self.completion_col}.get(field_name)
        if col is None:
            raise HLValueError(f"field must be 'prompt' or 'completion'; got {describe(field_name)}.")
        text = text_of(self._get(pos, col)) or ""
        off = int(offset) if isinstance(offset, numbers.Integral) else 0
        part = text[off : off + FULL_CHARS]
        return {"pos": pos, "field": field_name, "text": part, "offset": off, "length": len(text)}

    # -- writing ----------------------------------------------------------------------------

    def _validate(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        unknown = [k for k in fields if k not in FEEDBACK_FIELDS]
        if unknown:
            raise HLValueError(f"feedback fields may be {list(FEEDBACK_FIELDS)}; got {unknown}.")
        out: dict[str, Any] = {}
        for k, v in fields.items():
            if v is None or (isinstance(v, str) and k in ("correction", "comment") and v == ""):
                out[k] = None
            elif k == "label":
                out[k] = check_label(v, self.labels)
            elif k == "rating":
                if self.rating is None:
                    raise HLValueError("this annotator has no rating; create it with rating=5.")
                out[k] = check_rating(v, (1, self.rating))
            else:
                if not isinstance(v, str):
                    raise HLValueError(f"{k} must be a string; got {describe(v)}.")
                out[k] = v
        if "correction" in out and not self.editable:
            raise HLValueError("this annotator was created with editable=False; corrections are off.")
        return out

    def _ensure_log_id(self, pos: int) -> str | None:
        if self.store is None:
            return None
        current = self._get(pos, "log_id")
        if isinstance(current, str) and current:
            return current
        prompt = text_of(self._get(pos, self.prompt_col)) or ""
        completion = text_of(self._get(pos, self.completion_col)) or ""
        extra = {}
        for c in ("model", "prompt_version"):
            if c in self._cols:
                v = text_of(self._get(pos, c))
                if v is not None:
                    extra[c] = v
        log_id = self.store.log(prompt=prompt, completion=completion, **extra)
        self._set(pos, "log_id", log_id)
        return log_id

    def _journal(self, pos: int, before: Mapping[str, Any], after: Mapping[str, Any], *, annotator: Any) -> tuple[str | None, str | None]:
        """Write a change to the store: set fields, or clear those set back to missing."""
        if self.store is None:
            return None, None
        log_id = self._ensure_log_id(pos)
        sets = {k: v for k, v in after.items() if v is not None}
        clears = [k for k, v in after.items() if v is None and not is_missing(before.get(k))]
        if not sets and not clears:
            return log_id, None
        event = self.store.feedback(
            log_id, **sets, annotator=annotator, source="annotate", clear=clears
        )
        return log_id, event

    def apply(self, pos: Any, fields: Mapping[str, Any], *, annotator: str | None = None) -> Change:
        """Journal a change to the store, then write it into the DataFrame; returns it for undo."""
        pos = self.check_pos(pos)
        after = self._validate(fields)
        who = annotator if annotator is not None else self.annotator
        before = {k: self._raw(pos, k) for k in after}
        before["annotator"] = self._raw(pos, "annotator")
        before["labelled_at"] = self._get(pos, "labelled_at")
        was = self._is_labelled(pos)
        log_id, event = self._journal(pos, before, after, annotator=who)
        for k, v in after.items():
            self._set(pos, k, v)
        self._set(pos, "annotator", who)
        self._set(pos, "labelled_at", _now())
        change = Change(
            pos=pos, before=before, after=dict(after), log_id=log_id, event_id=event, who=who
        )
        self.undo_stack.append(change)
        self._count(pos, was, who, +1)
        return change

    def _raw(self, pos: int, col: str) -> Any:
        v = self._get(pos, col)
        if is_missing(v):
            return None
        if col == "rating":
            return int(v)
        return v

    def _count(self, pos: int, was: bool, who: str | None, sign: int) -> None:
        now = self._is_labelled(pos)
        if now and not was:
            self.progress.labelled += 1
            key = who or "(none)"
            self.progress.per_annotator[key] = self.progress.per_annotator.get(key, 0) + 1
        elif was and not now:
            self.progress.labelled -= 1
        if sign > 0 and now:
            self.progress.session_count += 1

    def undo(self) -> Change | None:
        """Revert the last change in the store (journaled) and in the DataFrame; None if nothing."""
        if not self.undo_stack:
            return None
        change = self.undo_stack[-1]
        pos = change.pos
        was = self._is_labelled(pos)
        restore = {k: change.before.get(k) for k in change.after}
        current = {k: self._raw(pos, k) for k in restore}
        if self.store is not None and change.log_id is not None:
            sets = {k: v for k, v in restore.items() if v is not None}
            clears = [k for k, v in restore.items() if v is None and current.get(k) is not None]
            if sets or clears:
                self.store.feedback(
                    change.log_id, **sets, annotator=change.before.get("annotator") or self.annotator,
                    source="annotate-undo", clear=clears,
                )
        self.undo_stack.pop()
        for k, v in restore.items():
            self._set(pos, k, v)
        self._set(pos, "annotator", change.before.get("annotator"))
        self._set(pos, "labelled_at", change.before.get("labelled_at"))
        now = self._is_labelled(pos)
        if was and not now:
            self.progress.labelled -= 1
            key = change.who or "(none)"
            if key in self.progress.per_annotator:
                self.progress.per_annotator[key] -= 1
                if self.progress.per_annotator[key] <= 0:
                    del self.progress.per_annotator[key]
        if self.progress.session_count > 0:
            self.progress.session_count -= 1
        return change

"""The annotator's session: ordering, filtering, labels with names, and write-back (no kernel).

What both widgets share (paging, the view cache, the undo stack, progress) is in `session`. Every
change goes through `AnnotationSession.apply`, which journals it to the store first (when there is
one) and then writes it into the DataFrame, so an acknowledged change is durable.

Labels are names: ``labels=["up", "down"]`` stores ``"up"``/``"down"``; ``labels={"good": "👍",
"bad": "👎"}`` stores ``"good"``/``"bad"`` and shows the icon beside the name; the default
``("👍", "👎")`` stores the emoji, as the store's default vocabulary does. Only names are ever
written into the frame and the store, so ``hl.feedback(log_id, label="good")`` matches them.
"""

from __future__ import annotations

import datetime as _dt
import json
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from .._schema import (
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
from .cells import FULL_CHARS, clip, index_label, jsonable, messages_of, text_of
from .session import NOBODY, Change, Session, check_frame

if TYPE_CHECKING:
    import pandas as pd

    from .._learn.active import ActiveOrder
    from .._store.store import Store

Order = Literal["index", "random", "uncertainty"]
ORDERS: tuple[str, ...] = ("index", "random", "uncertainty")
Advance = Literal["all", "label", "never"]
ADVANCES: tuple[str, ...] = ("all", "label", "never")
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

def check_order(order: Any) -> str:
    if order not in ORDERS:
        close = suggest(order, ORDERS) if isinstance(order, str) else None
        hint = f" Did you mean {close!r}?" if close else ""
        raise HLValueError(f"order must be one of {list(ORDERS)}; got {describe(order)}.{hint}")
    return order


def make_order(df: pd.DataFrame, order: str, *, random_state: int | None = 0) -> np.ndarray:
    """Row positions in the order the annotator sees them, for ``"index"`` and ``"random"``.

    ``"index"`` keeps the frame's order; ``"random"`` shuffles with ``random_state``. The
    ``"uncertainty"`` order is an `ActiveOrder`, which re-ranks as the model learns.
    """
    n = len(df)
    check_order(order)
    if order == "random":
        return np.random.default_rng(random_state).permutation(n).astype(np.int64)
    return np.arange(n, dtype=np.int64)


def check_order_model(model: Any) -> None:
    if model is None or not (hasattr(model, "predict_proba") or hasattr(model, "uncertainty")):
        raise HLValueError(
            "order='uncertainty' needs a fitted model with predict_proba; pass model=... "
            f"(got {describe(model)}), e.g. a fitted hl preference model or any scikit-learn "
            "classifier fitted on the same features."
        )


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




#: The fields that make a row labelled (a comment alone does not).
LABEL_FIELDS: tuple[str, ...] = ("label", "rating", "correction")
#: The cell kinds of the columns the annotator writes.
WRITE_KINDS: dict[str, str] = {
    name: {"rating": "rating", "labelled_at": "time"}.get(name, "text") for name in WRITE_COLUMNS
}


def check_advance(advance: Any) -> str:
    if advance not in ADVANCES:
        close = suggest(advance, ADVANCES) if isinstance(advance, str) else None
        hint = f" Did you mean {close!r}?" if close else ""
        raise HLValueError(
            f"advance must be one of {list(ADVANCES)}; got {describe(advance)}.{hint} 'all' moves "
            "on once the label (and the rating, with rating=N) is given; 'label' after a label; "
            "'never' stays on the row."
        )
    return advance


def label_choices(labels: Any) -> tuple[tuple[str, ...], tuple[str | None, ...]]:
    """The label names (what is stored) and their icons (shown only) from ``labels``.

    ``labels`` is a sequence of names, or a mapping of name to icon. At most 9 (keys 1-9).

    Examples
    --------
    >>> label_choices({"good": "👍", "bad": "👎"})
    (('good', 'bad'), ('👍', '👎'))
    >>> label_choices(["up", "down"])
    (('up', 'down'), (None, None))
    """
    if isinstance(labels, Mapping):
        names = check_labels(list(labels.keys()))
        icons = tuple(labels.values())
        for name, icon in zip(names, icons, strict=True):
            if not isinstance(icon, str) or not icon.strip():
                raise HLValueError(
                    f"labels[{name!r}] is the icon shown for {name!r} and must be a non-empty "
                    f"string such as '👍'; got {describe(icon)}."
                )
    else:
        names = check_labels(labels)
        icons = (None,) * len(names)
    if len(names) > 9:
        raise HLValueError(f"labels has {len(names)} entries; keys 1-9 reach at most 9 labels.")
    return names, icons


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


class AnnotationSession(Session):
    """The state behind an `Annotator`: labels, rating, corrections and comments on a DataFrame.

    Parameters
    ----------
    df
        The frame to label; written in place.
    prompt, completion
        Column names of the prompt and the completion.
    labels, rating, editable, annotator, store, order, model, random_state, advance
        As in `hl_notebook.annotate`, which holds the defaults (sessions are built by the widget).
    """

    def __init__(
        self,
        df: pd.DataFrame,
        *,
        prompt: str,
        completion: str,
        labels: Sequence[str] | Mapping[str, str],
        rating: int | None,
        editable: bool,
        annotator: str | None,
        store: Store | None,
        order: str,
        model: Any,
        random_state: int | None,
        advance: str,
    ) -> None:
        check_frame(df, "annotate")
        check_columns(df.columns, [(prompt, "prompt"), (completion, "completion")])
        self.labels, self.label_icons = label_choices(labels)
        if rating is not None and (
            isinstance(rating, bool) or not isinstance(rating, numbers.Integral) or not 2 <= rating <= 10
        ):
            raise HLValueError(f"rating must be None or a whole number from 2 to 10; got {describe(rating)}.")
        self.prompt_col = prompt
        self.completion_col = completion
        self.rating = int(rating) if rating is not None else None
        self.editable = bool(editable)
        self.order_name = check_order(order)
        self.advance = check_advance(advance)
        if store is None and "log_id" in df.columns:
            from .._store.default import default_store

            store = default_store()
        if store is not None:
            missing = [x for x in self.labels if x not in store.labels]
            if missing or (self.rating and store.rating_scale[1] < self.rating):
                store.extend_vocabulary(
                    labels=missing, rating_scale=(1, self.rating) if self.rating else None
                )
        kinds = dict(WRITE_KINDS)
        if store is not None:
            kinds["log_id"] = "text"
        super().__init__(df, function="annotate", columns=kinds, annotator=annotator,
                         store=store, noun="labelled")
        #: Positions of the rows with a label (kept per change, so a refit check is O(1)).
        self.labelled_rows: set[int] = set(
            np.flatnonzero(df["label"].notna().to_numpy(dtype=bool)).tolist()
        )
        self.active: ActiveOrder | None = None
        if order == "uncertainty":
            from .._learn.active import ActiveOrder

            check_order_model(model)
            self.active = ActiveOrder(
                df.copy(deep=False), model, open_rows=lambda: ~self._labelled_mask(),
                lock=self.order_lock, on_reorder=self._set_order, pause=self.wait_quiet,
                random_state=random_state,
            )
            self._set_order(self.active.order)
        else:
            self._set_order(make_order(df, order, random_state=random_state))
        self.chip_columns = [c for c in CHIP_COLUMNS if c in df.columns and c != completion]
        self.has_messages = "messages" in df.columns and prompt != "messages"

    # -- what differs from the comparer ------------------------------------------------------

    def _labelled_mask(self) -> np.ndarray:
        df = self.df
        return (df["label"].notna() | df["rating"].notna() | df["correction"].notna()).to_numpy(
            dtype=bool
        )

    _done_mask = _labelled_mask

    def _is_labelled(self, pos: int) -> bool:
        return any(not is_missing(self._get(pos, c)) for c in LABEL_FIELDS)

    def _credit(self, pos: int) -> str | None:
        if not self._is_labelled(pos):
            return None
        return text_of(self._get(pos, "annotator")) or NOBODY

    def _filter(self, raw: Any) -> tuple[str, Callable[[], np.ndarray] | None]:
        f = _parse_filter(raw)
        if f == {"status": "all", "label": None, "text": ""}:
            return "all", None

        def mask() -> np.ndarray:
            out = np.ones(len(self.df), dtype=bool)
            if f["status"] != "all":
                labelled = self._labelled_mask()
                out &= labelled if f["status"] == "labelled" else ~labelled
            if f["label"] is not None:
                out &= (self.df["label"] == f["label"]).fillna(False).to_numpy(dtype=bool)
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
                out &= hit
            return out

        return json.dumps(f, sort_keys=True), mask

    def _cell_column(self, pos: int, field_name: Any) -> str:
        col = {"prompt": self.prompt_col, "completion": self.completion_col}.get(field_name)
        if col is None:
            raise HLValueError(f"field must be 'prompt' or 'completion'; got {describe(field_name)}.")
        return col

    # -- reading ----------------------------------------------------------------------------

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
                out[k] = self._check_label(v)
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

    def _check_label(self, value: Any) -> str:
        if isinstance(value, str) and value not in self.labels and value in self.label_icons:
            name = self.labels[self.label_icons.index(value)]
            raise HLValueError(
                f"label {value!r} is the icon of the label {name!r}; labels are stored by name, "
                f"so pass label={name!r}."
            )
        return check_label(value, self.labels)

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
        log_id = self.store.log(prompt=prompt, completion=completion, model=extra.get("model"),
                                prompt_version=extra.get("prompt_version"))
        self._set(pos, "log_id", log_id)
        return log_id

    def _journal(
        self, pos: int, after: Mapping[str, Any], *, annotator: Any
    ) -> tuple[str | None, str | None]:
        """Write a change to the store: set fields, or clear those set back to missing."""
        if self.store is None:
            return None, None
        log_id = self._ensure_log_id(pos)
        assert log_id is not None  # there is a store
        sets = {k: v for k, v in after.items() if v is not None}
        clears = [k for k, v in after.items() if v is None and not is_missing(self._get(pos, k))]
        if not sets and not clears:
            return log_id, None
        event = self.store.feedback(
            log_id, **sets, annotator=annotator, source="annotate", clear=clears
        )
        return log_id, event

    def apply(self, pos: Any, fields: Mapping[str, Any], *, annotator: str | None = None) -> Change:
        """Journal a change to the store, then write it into the DataFrame; returns it for undo.

        A change to the label, rating or correction also writes who made it and when
        (``annotator``, ``labelled_at``), or clears both when the row is left unlabelled; a
        comment alone leaves them as they are, so it never counts as labelling the row.
        """
        pos = self.check_pos(pos)
        after = self._validate(fields)
        who = annotator if annotator is not None else self.annotator
        log_id, event = self._journal(pos, after, annotator=who)
        values = dict(after)
        if any(k in LABEL_FIELDS for k in after):
            labelled = any(
                not is_missing(after[k] if k in after else self._get(pos, k)) for k in LABEL_FIELDS
            )
            values["annotator"] = who if labelled else None
            values["labelled_at"] = _now() if labelled else None
        return self._write(
            pos, values, fields=after, log_id=log_id, event_id=event, who=who,
            journaled=log_id is not None,
        )

    def _write(self, pos: int, values: Mapping[str, Any], **about: Any) -> Change:
        change = super()._write(pos, values, **about)
        self._track_label(pos)
        return change

    def undo(self) -> Change | None:
        """Revert the last change, in the store first and then in the DataFrame; None if none."""
        change = super().undo()
        if change is not None:
            self._track_label(change.pos)
        return change

    def _track_label(self, pos: int) -> None:
        if is_missing(self._get(pos, "label")):
            self.labelled_rows.discard(pos)
        else:
            self.labelled_rows.add(pos)

    def _shown(self, positions: np.ndarray) -> None:
        if self.active is not None:
            self.active.shown(positions)

    def advances(self, change: Change) -> bool:
        """Whether the widget moves on to the next row after ``change`` (see ``advance``)."""
        given = {k for k, v in change.fields.items() if v is not None}
        if self.advance == "never":
            return False
        if self.advance == "label":
            return "label" in given
        asked = ("label", "rating") if self.rating else ("label",)
        return bool(given.intersection(asked)) and all(
            not is_missing(self._get(change.pos, k)) for k in asked
        )

    def _unjournal(self, change: Change) -> None:
        if self.store is None or change.log_id is None:
            return
        restore = {k: change.before.get(k) for k in change.fields}
        sets = {k: v for k, v in restore.items() if not is_missing(v)}
        clears = [
            k for k, v in restore.items() if is_missing(v) and not is_missing(self._get(change.pos, k))
        ]
        if sets or clears:
            if "rating" in sets:
                sets["rating"] = int(cast(Any, sets["rating"]))
            self.store.feedback(
                change.log_id, **sets,
                annotator=text_of(change.before.get("annotator")) or self.annotator,
                source="annotate-undo", clear=clears,
            )

"""`Annotator`: label, rate, correct and comment on completions, keyboard first, bound to a DataFrame.

The widget class describes the boundary only; the logic is in `hl_notebook._rows`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import traitlets

from .._schema import DEFAULT_LABELS
from .annotate_session import AnnotationSession, Order, index_label
from .base import MessageWidget, esm, reject_unknown

if TYPE_CHECKING:
    import pandas as pd

    from .._store.store import Store

__all__ = ["Annotator", "annotate"]


class Annotator(MessageWidget):
    """A keyboard-first labelling widget bound to a DataFrame (see `annotate`).

    Rows travel to the browser on request, a few at a time; every change is journaled to the
    store (when there is one) and written into ``df`` before the UI shows it as saved.
    """

    _esm = esm("annotate.js")
    _bundle_name = "annotate.js"

    #: Labels, rating scale, editability and column names shown by the front end.
    config = traitlets.Dict({}).tag(sync=True)
    #: Labelled rows of the total, per annotator, this session's rate and the time left.
    progress = traitlets.Dict({}).tag(sync=True)
    #: The preference model's refit status when ``model=`` is given (accuracy, CI, labels, fitting).
    model_status = traitlets.Dict({}).tag(sync=True)
    #: Who is labelling; written into the ``annotator`` column and the store.
    annotator = traitlets.Unicode(None, allow_none=True).tag(sync=True)

    _handlers = {
        "rows": "_on_rows",
        "cell": "_on_cell",
        "feedback": "_on_feedback",
        "undo": "_on_undo",
    }

    def __init__(
        self, session: AnnotationSession, *, model: Any = None, refit_every: int | None = 20
    ) -> None:
        self.session = session
        store = session.store
        super().__init__(
            annotator=session.annotator,
            config={
                "labels": list(session.labels),
                "rating": session.rating,
                "editable": session.editable,
                "prompt": session.prompt_col,
                "completion": session.completion_col,
                "order": session.order_name,
                "rows": len(session.df),
                "store": None if store is None else (str(store.path) if store.path else ":memory:"),
            },
            progress=session.progress.as_dict(),
        )
        self.observe(self._sync_annotator, names="annotator")
        self.refitter = None
        if model is not None and refit_every:
            from .._learn.active import Refitter

            self.refitter = Refitter(model, every=refit_every)
            self.refitter.on_status(self._show_model_status)
            self.model_status = self.refitter.status

    def _show_model_status(self, status: dict[str, Any]) -> None:
        self.model_status = dict(status)

    def _sync_annotator(self, change: dict[str, Any]) -> None:
        self.session.annotator = change["new"] or None

    @property
    def df(self) -> pd.DataFrame:
        """The DataFrame being labelled (the same object that was passed in)."""
        return self.session.df

    def __repr__(self) -> str:
        p = self.session.progress
        return f"Annotator({p.labelled}/{p.total} labelled, annotator={self.session.annotator!r})"

    # -- requests from the front end ------------------------------------------------------

    def _on_rows(self, msg: dict[str, Any]) -> dict[str, Any]:
        return self.session.rows(msg.get("start", 0), msg.get("count", 10), msg.get("filter"))

    def _on_cell(self, msg: dict[str, Any]) -> dict[str, Any]:
        return self.session.cell(msg.get("pos"), msg.get("field"), msg.get("offset", 0))

    def _on_feedback(self, msg: dict[str, Any]) -> dict[str, Any]:
        fields = msg.get("fields")
        if not isinstance(fields, dict) or not fields:
            raise ValueError("a feedback request needs a non-empty 'fields' object")
        change = self.session.apply(msg.get("pos"), fields)
        if self.refitter is not None and "label" in fields:
            try:
                self.refitter.update(self.session.df)
            except Exception as exc:  # noqa: BLE001 - the label is saved; show why the model is not
                self.model_status = {**self.model_status, "error": f"{type(exc).__name__}: {exc}"}
        return self._saved(change, undone=False)

    def _on_undo(self, msg: dict[str, Any]) -> dict[str, Any]:
        change = self.session.undo()
        if change is None:
            return {"kind": "saved", "pos": None, "row": None, "undone": False,
                    "progress": self.session.progress.as_dict(), "nothing": True}
        return self._saved(change, undone=True)

    def _saved(self, change: Any, *, undone: bool) -> dict[str, Any]:
        s = self.session
        progress = s.progress.as_dict()
        self.progress = progress
        row = s.row(change.pos)
        event = {
            "index": s.df.index[change.pos],
            "pos": change.pos,
            "undone": undone,
            **{k: (change.before.get(k) if undone else v) for k, v in change.after.items()},
            "annotator": row["annotator"],
            "log_id": change.log_id,
        }
        index = index_label(s.df.index[change.pos])
        saved = self._count_saved({
            "index": index, "pos": int(change.pos), "fields": sorted(change.after),
            "label": row["label"], "rating": row["rating"], "undone": undone,
        })
        return {
            "kind": "saved",
            "pos": change.pos,
            "index": index,
            "row": row,
            "undone": undone,
            "journaled": change.log_id is not None,
            "progress": progress,
            "saved": saved,
            "_after": (lambda: self._notify(event)) if self._callbacks else None,
        }


def annotate(
    df: pd.DataFrame,
    *,
    prompt: str = "prompt",
    completion: str = "completion",
    labels: Sequence[str] = DEFAULT_LABELS,
    rating: int | None = None,
    editable: bool = True,
    annotator: str | None = None,
    store: Store | None = None,
    order: Order = "index",
    model: Any = None,
    random_state: int | None = 0,
    refit_every: int | None = 20,
    **unknown: Any,
) -> Annotator:
    """Label completions in a notebook, keyboard first; labels land in ``df`` and the store.

    Parameters
    ----------
    df
        Rows to label, with a prompt and a completion column. Written in place: ``label``,
        ``rating``, ``correction``, ``comment``, ``annotator`` and ``labelled_at`` (created when
        missing, and ``log_id`` when a store is used).
    prompt, completion
        The column names to show. The prompt may hold chat ``messages`` (a list of
        ``{"role", "content"}``), or the frame may have a ``messages`` column.
    labels
        Up to 9 labels, bound to keys 1-9.
    rating
        Show 1..``rating`` stars (keys are the same 1-9 with Shift), or None for no rating.
    editable
        Show the correction box (``e`` to edit, Ctrl/Cmd+Enter to save).
    annotator
        Your name, written with each label (several people can label one frame in turns).
    store
        A `Store` to journal every change to before the UI shows it saved. A frame with a
        ``log_id`` column uses the default store when none is given; without a store and without
        ``log_id`` the labels live in ``df`` only.
    order
        ``"index"``, ``"random"`` (seeded by ``random_state``) or ``"uncertainty"`` (most uncertain
        first by ``model.predict_proba(df)``, with about 10% random rows mixed in).
    model
        Any fitted object with ``predict_proba`` taking ``df``; needed by ``order="uncertainty"``.
        With a model, the widget refits a copy in the background every ``refit_every`` labels
        and shows its cross-validated accuracy (``widget.refitter.model`` is the latest fit).
    refit_every
        Labels between background refits when ``model`` is given; None turns refitting off.

    Returns
    -------
    Annotator
        Display it (last expression of a cell). Press ``?`` in it for the keys.

    Examples
    --------
    >>> import pandas as pd, hl_notebook as hl
    >>> df = pd.DataFrame({"prompt": ["2+2?"], "completion": ["4"]})
    >>> w = hl.annotate(df, annotator="ada")  # doctest: +SKIP
    >>> w  # doctest: +SKIP
    """
    reject_unknown("annotate", unknown, [
        "prompt", "completion", "labels", "rating", "editable", "annotator", "store", "order",
        "model", "random_state", "refit_every",
    ])
    session = AnnotationSession(
        df, prompt=prompt, completion=completion, labels=labels, rating=rating, editable=editable,
        annotator=annotator, store=store, order=order, model=model, random_state=random_state,
    )
    return Annotator(session, model=model, refit_every=refit_every)


"""`Annotator`: label, rate, correct and comment on completions, keyboard first, bound to a DataFrame.

The widget class describes the boundary only; the logic is in `annotate_session` (and what both
widgets share in `session`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import traitlets

from .._schema import DEFAULT_LABELS, is_missing
from .annotate_session import Advance, AnnotationSession, Order
from .base import SessionWidget, reject_unknown, same_keywords_as

if TYPE_CHECKING:
    import pandas as pd

    from .._store.store import Store
    from .session import Change

__all__ = ["Annotator", "annotate"]


class Annotator(SessionWidget):
    """A keyboard-first labelling widget bound to a DataFrame; takes what `annotate` takes.

    Rows travel to the browser on request, a few at a time; every change is journaled to the
    store (when there is one) and written into ``df`` before the UI shows it as saved.

    Examples
    --------
    >>> import pandas as pd, hl_notebook as hl
    >>> df = pd.DataFrame({"prompt": ["2+2?"], "completion": ["4"]})
    >>> hl.Annotator(df, labels={"good": "👍", "bad": "👎"})  # doctest: +SKIP
    """

    #: The preference model's refit status when ``model=`` is given (accuracy, CI, labels, fitting).
    model_status = traitlets.Dict({}).tag(sync=True)
    #: Who is labelling; written into the ``annotator`` column and the store.
    annotator = traitlets.Unicode(None, allow_none=True).tag(sync=True)

    _handlers = {**SessionWidget._handlers, "feedback": "_on_feedback"}

    def __init__(
        self,
        df: pd.DataFrame,
        *,
        prompt: str = "prompt",
        completion: str = "completion",
        labels: Sequence[str] | Mapping[str, str] = DEFAULT_LABELS,
        rating: int | None = None,
        editable: bool = True,
        annotator: str | None = None,
        store: Store | None = None,
        order: Order = "index",
        model: Any = None,
        random_state: int | None = 0,
        refit_every: int | None = 20,
        advance: Advance = "all",
        **unknown: Any,
    ) -> None:
        reject_unknown(Annotator, unknown)
        session = AnnotationSession(
            df, prompt=prompt, completion=completion, labels=labels, rating=rating,
            editable=editable, annotator=annotator, store=store, order=order, model=model,
            random_state=random_state, advance=advance,
        )
        super().__init__(
            session,
            annotator=session.annotator,
            config={
                "widget": "annotate",
                "labels": [
                    {"name": n, "icon": i} for n, i in zip(session.labels, session.label_icons, strict=True)
                ],
                "rating": session.rating,
                "editable": session.editable,
                "prompt": session.prompt_col,
                "completion": session.completion_col,
                "order": session.order_name,
                "advance": session.advance,
            },
        )
        self.observe(self._sync_annotator, names="annotator")
        self.refitter = None
        self._fits_ranked = 0
        if model is not None and refit_every:
            from .._learn.active import Refitter

            self.refitter = Refitter(model, every=refit_every, positive=session.labels[0])
            self.refitter.on_status(self._show_model_status)
            self.model_status = self.refitter.status
        if session.active is not None:
            session.active.on_status = self._show_order_status
            self._show_order_status(dict(session.active.status))

    session: AnnotationSession

    def _show_model_status(self, status: dict[str, Any]) -> None:
        # from the refit thread: a new fit re-ranks the rows not yet shown, in the background
        fits = int(status.get("fits") or 0)
        active = self.session.active
        if active is not None and self.refitter is not None and fits > self._fits_ranked:
            self._fits_ranked = fits
            active.refit(self.refitter.model, f"fit {fits}")
        self.model_status = {**dict(status), **self._order_part()}

    def _show_order_status(self, status: dict[str, Any]) -> None:
        base = self.refitter.status if self.refitter is not None else {}
        self.model_status = {**base, "order": dict(status)}

    def _order_part(self) -> dict[str, Any]:
        active = self.session.active
        return {"order": dict(active.status)} if active is not None else {}

    def _sync_annotator(self, change: dict[str, Any]) -> None:
        self.session.annotator = change["new"] or None

    def __repr__(self) -> str:
        p = self.session.progress
        return f"Annotator({p.done}/{p.total} labelled, annotator={self.session.annotator!r})"

    # -- requests from the front end ------------------------------------------------------

    def _on_feedback(self, msg: dict[str, Any]) -> dict[str, Any]:
        fields = msg.get("fields")
        if not isinstance(fields, dict) or not fields:
            raise ValueError("a feedback request needs a non-empty 'fields' object")
        change = self.session.apply(msg.get("pos"), fields)
        if self.refitter is not None and "label" in fields:
            try:
                self.refitter.update(self.session.df, labelled=self.session.labelled_rows)
            except Exception as exc:  # noqa: BLE001 - the label is saved; show why the model is not
                self.model_status = {**self.model_status, "error": f"{type(exc).__name__}: {exc}"}
        return self._saved(change, undone=False)

    def _summary(self, change: Change, row: Mapping[str, Any]) -> dict[str, Any]:
        return {"fields": sorted(change.fields), "label": row["label"], "rating": row["rating"]}

    def _event(self, change: Change, *, undone: bool) -> dict[str, Any]:
        def value(k: str) -> Any:
            v = change.before.get(k) if undone else change.fields[k]
            return None if is_missing(v) else v

        return {
            "index": self.session.df.index[change.pos],
            "pos": change.pos,
            "undone": undone,
            **{k: value(k) for k in change.fields},
            "annotator": change.who,
            "log_id": change.log_id,
        }


@same_keywords_as(Annotator)
def annotate(df: pd.DataFrame, **options: Any) -> Annotator:
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
        Up to 9 labels, bound to keys 1-9: names (``["up", "down"]``), or a mapping of name to
        icon (``{"good": "👍", "bad": "👎"}``: buttons show the icon beside the name). The name
        is what lands in ``df["label"]`` and the store, so ``hl.feedback(log_id, label="good")``
        means the same; the default ``("👍", "👎")`` stores the emoji.
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
        ``"index"``, ``"random"`` (seeded by ``random_state``) or ``"uncertainty"``: the rows the
        model is least sure about first (by ``model.uncertainty(df)`` or ``predict_proba``), with
        about 10% rows drawn at random mixed in so the labels stay a fair sample. After each
        refit the rows not yet shown are re-ranked by the new model, in the background; rows
        already on screen never move. A frame of more than 1,024 rows opens at once: a random
        1,024 are ranked first, then a random pool of up to 50,000 of the rest is scored in
        the background (while you pause) and ranked next, again after each refit.
    model
        Any fitted object with ``predict_proba`` taking ``df``; needed by ``order="uncertainty"``.
        With a model, the widget refits a copy in the background every ``refit_every`` labels
        and shows its cross-validated accuracy (``widget.refitter.model`` is the latest fit).
    refit_every
        Labels between background refits when ``model`` is given; None turns refitting off.
    advance
        When the widget moves on to the next row: ``"all"`` (default) once the row has a label
        and, with ``rating=N``, a rating too (so ``1`` then ``Shift+4`` both land on one row);
        ``"label"`` after each label; ``"never"`` (move with ``j``). Press ``?`` to see it.

    Returns
    -------
    Annotator
        Display it (last expression of a cell). Press ``?`` in it for the keys.
        ``hl.Annotator(df, ...)`` takes the same keywords.

    Examples
    --------
    >>> import pandas as pd, hl_notebook as hl
    >>> df = pd.DataFrame({"prompt": ["2+2?"], "completion": ["4"]})
    >>> w = hl.annotate(df, annotator="ada")  # doctest: +SKIP
    >>> w  # doctest: +SKIP
    """
    reject_unknown(annotate, options)
    return Annotator(df, **options)

"""`Comparer`: blind pairwise judging of two completions per row.

The widget class describes the boundary only; the logic is in `compare_session` (and what both
widgets share in `session`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .base import SessionWidget, reject_unknown, same_keywords_as
from .cells import text_of
from .compare_session import CompareSession, pair_up

if TYPE_CHECKING:
    import pandas as pd

    from .._store.store import Store
    from .session import Change

__all__ = ["Comparer", "compare", "pair_up"]


class Comparer(SessionWidget):
    """A blind A/B judging widget bound to a DataFrame; takes what `compare` takes.

    Examples
    --------
    >>> import pandas as pd, hl_notebook as hl
    >>> pairs = pd.DataFrame({"prompt": ["2+2?"], "completion_a": ["4"], "completion_b": ["5"]})
    >>> hl.Comparer(pairs, annotator="ada")  # doctest: +SKIP
    """

    _handlers = {**SessionWidget._handlers, "vote": "_on_vote"}

    def __init__(
        self,
        df: pd.DataFrame,
        *,
        a: str = "completion_a",
        b: str = "completion_b",
        prompt: str = "prompt",
        annotator: str | None = None,
        store: Store | None = None,
        random_state: int | None = 0,
        **unknown: Any,
    ) -> None:
        reject_unknown(Comparer, unknown)
        session = CompareSession(
            df, a=a, b=b, prompt=prompt, annotator=annotator, store=store,
            random_state=random_state,
        )
        super().__init__(
            session, config={"widget": "compare", "journaled": session.store is not None}
        )

    session: CompareSession

    def __repr__(self) -> str:
        return f"Comparer({self.session.done}/{len(self.session.df)} judged)"

    def _on_vote(self, msg: dict[str, Any]) -> dict[str, Any]:
        return self._saved(self.session.vote(msg.get("pos"), msg.get("vote")), undone=False)

    def _summary(self, change: Change, row: Mapping[str, Any]) -> dict[str, Any]:
        return {"preferred": text_of(self.session.df["preferred"].iloc[change.pos])}

    def _event(self, change: Change, *, undone: bool) -> dict[str, Any]:
        return {
            "index": self.session.df.index[change.pos],
            "pos": change.pos,
            "preferred": None if undone else change.after["preferred"],
            "undone": undone,
            "annotator": change.who,
        }


@same_keywords_as(Comparer)
def compare(df: pd.DataFrame, **options: Any) -> Comparer:
    """Judge two completions per row, blind: which is better, a tie, or both bad.

    The sides are shuffled per row (seeded by ``random_state``); keys: ← left is better,
    → right is better, ``=`` tie, ``x`` both bad, ``u`` undo, j/k to move. ``df["preferred"]``
    gets ``"a" | "b" | "tie" | "both_bad"`` in terms of the columns ``a`` and ``b`` (never the
    screen sides); ``df["shown_left"]`` records which column was on the left. With ``log_id_a``
    and ``log_id_b`` columns, votes are journaled to the store (see `compare_session`).

    Parameters
    ----------
    df
        One row per pair, with a prompt and two completion columns (`pair_up` builds one).
        Written in place: ``preferred``, ``shown_left``, ``annotator`` and ``judged_at``.
    a, b
        The two completion columns.
    prompt
        The prompt column (text or chat ``messages``).
    annotator
        Your name, written with each vote.
    store
        The store to journal votes to when the frame has ``log_id_a``/``log_id_b`` (the default
        store when None).
    random_state
        Seed of the per-row side shuffle.

    Returns
    -------
    Comparer
        Display it (last expression of a cell). ``hl.Comparer(df, ...)`` takes the same keywords.

    Examples
    --------
    >>> import pandas as pd, hl_notebook as hl
    >>> pairs = pd.DataFrame({"prompt": ["2+2?"], "completion_a": ["4"], "completion_b": ["5"]})
    >>> w = hl.compare(pairs, annotator="ada")  # doctest: +SKIP
    """
    reject_unknown(compare, options)
    return Comparer(df, **options)

"""`Comparer`: blind pairwise judging of two completions per row (logic in `hl_notebook._compare_session`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import traitlets

from .base import MessageWidget, esm, reject_unknown
from .cells import index_label, text_of
from .compare_session import CompareSession, pair_up

if TYPE_CHECKING:
    import pandas as pd

    from .._store.store import Store

__all__ = ["Comparer", "compare", "pair_up"]


class Comparer(MessageWidget):
    """A blind A/B judging widget bound to a DataFrame (see `compare`)."""

    _esm = esm("compare.js")
    _bundle_name = "compare.js"

    #: Column names and the number of rows, for the front end.
    config = traitlets.Dict({}).tag(sync=True)
    #: Judged rows of the total and the tally of outcomes.
    progress = traitlets.Dict({}).tag(sync=True)

    _handlers = {"rows": "_on_rows", "cell": "_on_cell", "vote": "_on_vote", "undo": "_on_undo"}

    def __init__(self, session: CompareSession) -> None:
        self.session = session
        super().__init__(
            config={
                "rows": len(session.df),
                "journaled": session.store is not None,
                "store": None if session.store is None else (
                    str(session.store.path) if session.store.path else ":memory:"
                ),
            },
            progress=self._progress(),
        )

    @property
    def df(self) -> pd.DataFrame:
        """The DataFrame being judged (the same object that was passed in)."""
        return self.session.df

    def __repr__(self) -> str:
        return f"Comparer({self.session.judged()}/{len(self.session.df)} judged)"

    def _progress(self) -> dict[str, Any]:
        col = self.session.df["preferred"]
        counts = {str(k): int(v) for k, v in col.value_counts().items()}
        return {"judged": int(col.notna().sum()), "total": len(col), "tally": counts}

    def _on_rows(self, msg: dict[str, Any]) -> dict[str, Any]:
        return self.session.rows(msg.get("start", 0), msg.get("count", 10), msg.get("filter"))

    def _on_cell(self, msg: dict[str, Any]) -> dict[str, Any]:
        return self.session.cell(msg.get("pos"), msg.get("field"))

    def _on_vote(self, msg: dict[str, Any]) -> dict[str, Any]:
        vote = self.session.vote(msg.get("pos"), msg.get("vote"))
        return self._saved(vote, undone=False)

    def _on_undo(self, msg: dict[str, Any]) -> dict[str, Any]:
        vote = self.session.undo()
        if vote is None:
            return {"kind": "saved", "pos": None, "row": None, "nothing": True,
                    "progress": self._progress()}
        return self._saved(vote, undone=True)

    def _saved(self, vote: Any, *, undone: bool) -> dict[str, Any]:
        s = self.session
        self.progress = self._progress()
        event = {
            "index": s.df.index[vote.pos],
            "pos": vote.pos,
            "preferred": None if undone else vote.preferred,
            "undone": undone,
            "annotator": s.annotator,
        }
        index = index_label(s.df.index[vote.pos])
        saved = self._count_saved({
            "index": index, "pos": int(vote.pos), "undone": undone,
            "preferred": text_of(s.df["preferred"].iloc[vote.pos]),
        })
        return {
            "kind": "saved",
            "pos": vote.pos,
            "index": index,
            "row": s.row(vote.pos),
            "undone": undone,
            "journaled": vote.journaled,
            "progress": self.progress,
            "saved": saved,
            "_after": (lambda: self._notify(event)) if self._callbacks else None,
        }


def compare(
    df: pd.DataFrame,
    *,
    a: str = "completion_a",
    b: str = "completion_b",
    prompt: str = "prompt",
    annotator: str | None = None,
    store: Store | None = None,
    random_state: int | None = 0,
    **unknown: Any,
) -> Comparer:
    """Judge two completions per row, blind: which is better, a tie, or both bad.

    The sides are shuffled per row (seeded by ``random_state``); keys: ← left is better,
    → right is better, ``=`` tie, ``x`` both bad, ``u`` undo, j/k to move. ``df["preferred"]``
    gets ``"a" | "b" | "tie" | "both_bad"`` in terms of the columns ``a`` and ``b`` (never the
    screen sides); ``df["shown_left"]`` records which column was on the left. With ``log_id_a``
    and ``log_id_b`` columns, votes are journaled to the store (see `hl_notebook._compare_session`).

    Examples
    --------
    >>> import pandas as pd, hl_notebook as hl
    >>> pairs = pd.DataFrame({"prompt": ["2+2?"], "completion_a": ["4"], "completion_b": ["5"]})
    >>> w = hl.compare(pairs, annotator="ada")  # doctest: +SKIP
    """
    reject_unknown(
        "compare", unknown, ["a", "b", "prompt", "annotator", "store", "random_state"]
    )
    session = CompareSession(
        df, a=a, b=b, prompt=prompt, annotator=annotator, store=store, random_state=random_state
    )
    return Comparer(session)


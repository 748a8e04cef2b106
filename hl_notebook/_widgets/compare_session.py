"""Blind pairwise judging (the logic behind `Comparer`) and `pair_up`.

Each row's two completions are shown in a seeded random order (``swapped[pos]`` True means
column ``b`` is on the left). Votes arrive in screen terms (``left``, ``right``, ``tie``,
``both_bad``) and are written into ``df["preferred"]`` in terms of the original columns
(``"a" | "b" | "tie" | "both_bad"``), with ``shown_left`` recording which column was on the left.

When the frame has ``log_id_a`` and ``log_id_b`` (log ids of both completions in a store), each
vote is journaled as feedback with ``source="compare"``: the winner gets the first label of the
store's vocabulary (👍) and the loser the second (👎); ``both_bad`` gives both the second; a tie
adds no label. Every vote, ties included, also gets a comment ``"compare <pair>: <outcome>"`` on
both logs so the journal alone can rebuild the preference pairs. Undo clears those fields again.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._schema import PREFERRED_VALUES, HLValueError, check_columns, describe, is_missing
from .cells import clip, index_label, messages_of, text_of
from .session import NOBODY, Change, Session, check_frame

if TYPE_CHECKING:
    import pandas as pd

    from .._store.store import Store

SCREEN_VOTES: tuple[str, ...] = ("left", "right", "tie", "both_bad")
COMPARE_COLUMNS: tuple[str, ...] = ("preferred", "shown_left", "annotator", "judged_at")


class CompareSession(Session):
    """The state behind a `Comparer`: which side each completion is on, votes, and the journal.

    Takes the keywords of `hl_notebook.compare`, which holds their defaults.
    """

    def __init__(
        self,
        df: pd.DataFrame,
        *,
        a: str,
        b: str,
        prompt: str,
        annotator: str | None,
        store: Store | None,
        random_state: int | None,
    ) -> None:
        check_frame(df, "compare")
        check_columns(df.columns, [(prompt, "prompt"), (a, "a"), (b, "b")])
        if a == b:
            raise HLValueError(f"a and b name the same column {a!r}; pass two different columns.")
        self.a, self.b, self.prompt_col = a, b, prompt
        self.random_state = random_state
        self.swapped = np.random.default_rng(random_state).random(len(df)) < 0.5
        self.has_log_ids = "log_id_a" in df.columns and "log_id_b" in df.columns
        if store is None and self.has_log_ids:
            from .._store.default import default_store

            store = default_store()
        kinds = {name: "time" if name == "judged_at" else "text" for name in COMPARE_COLUMNS}
        super().__init__(df, function="compare", columns=kinds, annotator=annotator,
                         store=store if self.has_log_ids else None, noun="judged")

    # -- what differs from the annotator -----------------------------------------------------

    def _done_mask(self) -> np.ndarray:
        return self.df["preferred"].notna().to_numpy(dtype=bool)

    def _credit(self, pos: int) -> str | None:
        if is_missing(self._get(pos, "preferred")):
            return None
        return text_of(self._get(pos, "annotator")) or NOBODY

    def _filter(self, raw: Any) -> tuple[str, Callable[[], np.ndarray] | None]:
        status = raw.get("status") if isinstance(raw, dict) else "all"
        if status == "unjudged":
            return "unjudged", lambda: ~self._done_mask()
        return "all", None

    def _cell_column(self, pos: int, field_name: Any) -> str:
        swapped = bool(self.swapped[pos])
        col = {
            "prompt": self.prompt_col,
            "left": self.b if swapped else self.a,
            "right": self.a if swapped else self.b,
        }.get(field_name)
        if col is None:
            raise HLValueError(
                f"field must be 'prompt', 'left' or 'right'; got {describe(field_name)}."
            )
        return col

    def progress_dict(self) -> dict[str, Any]:
        """The progress, with the tally of outcomes (``a``, ``b``, ``tie``, ``both_bad``)."""
        counts = self.df["preferred"].value_counts()
        return {**super().progress_dict(), "tally": {str(k): int(v) for k, v in counts.items()}}

    def judged(self) -> int:
        """How many pairs have a vote."""
        return self.done

    def row(self, pos: int) -> dict[str, Any]:
        left, right = (self.b, self.a) if self.swapped[pos] else (self.a, self.b)
        prompt_value = self._get(pos, self.prompt_col)
        turns = messages_of(prompt_value)
        preferred = text_of(self._get(pos, "preferred"))
        return {
            "pos": int(pos),
            "index": index_label(self.df.index[pos]),
            "prompt": clip(text_of(prompt_value)) if turns is None else clip(None),
            "messages": turns,
            "left": clip(text_of(self._get(pos, left))),
            "right": clip(text_of(self._get(pos, right))),
            "vote": None if preferred is None else self.to_screen(pos, preferred),
            "annotator": text_of(self._get(pos, "annotator")),
        }

    # -- votes ------------------------------------------------------------------------------

    def to_original(self, pos: int, vote: str) -> str:
        """A screen vote (left/right/tie/both_bad) as a/b/tie/both_bad."""
        if vote not in SCREEN_VOTES:
            raise HLValueError(f"vote must be one of {list(SCREEN_VOTES)}; got {describe(vote)}.")
        if vote in ("tie", "both_bad"):
            return vote
        left_is_b = bool(self.swapped[pos])
        if vote == "left":
            return "b" if left_is_b else "a"
        return "a" if left_is_b else "b"

    def to_screen(self, pos: int, preferred: str) -> str:
        if preferred in ("tie", "both_bad"):
            return preferred
        left_is_b = bool(self.swapped[pos])
        return "left" if (preferred == "b") == left_is_b else "right"

    def _journal(self, pos: int, preferred: str | None, previous: str | None) -> bool:
        if self.store is None:
            return False
        la, lb = self._get(pos, "log_id_a"), self._get(pos, "log_id_b")
        if not (isinstance(la, str) and isinstance(lb, str)):
            return False
        labels = self.store.labels
        good, bad = labels[0], labels[1] if len(labels) > 1 else labels[0]
        pair = f"{la}|{lb}"
        records = []
        if preferred is None:  # undo: clear what the vote set
            for lid in (la, lb):
                clear = ["comment"] + (["label"] if previous != "tie" else [])
                records.append({"log_id": lid, "clear": clear, "annotator": self.annotator})
        else:
            lab = {
                "a": (good, bad),
                "b": (bad, good),
                "tie": (None, None),
                "both_bad": (bad, bad),
            }[preferred]
            for lid, label in zip((la, lb), lab, strict=True):
                rec: dict[str, Any] = {
                    "log_id": lid,
                    "comment": f"compare {pair}: {preferred}",
                    "annotator": self.annotator,
                }
                if label is not None:
                    rec["label"] = label
                records.append(rec)
        self.store.feedback_many(records, source="compare")
        return True

    def vote(self, pos: Any, screen_vote: Any, *, annotator: str | None = None) -> Change:
        """Record a judgement: journal it (when log ids exist), then write it into the frame."""
        pos = self.check_pos(pos)
        preferred = self.to_original(pos, screen_vote)
        assert preferred in PREFERRED_VALUES
        who = annotator if annotator is not None else self.annotator
        journaled = self._journal(pos, preferred, None)
        values = {
            "preferred": preferred,
            "shown_left": "b" if self.swapped[pos] else "a",
            "annotator": who,
            "judged_at": _dt.datetime.now(_dt.timezone.utc),
        }
        return self._write(
            pos, values, fields={"preferred": preferred}, who=who, journaled=journaled
        )

    def advances(self, change: Change) -> bool:
        """A vote always moves on to the next pair."""
        return True

    def _unjournal(self, change: Change) -> None:
        if not change.journaled:
            return
        previous = text_of(change.before.get("preferred"))
        if previous is None:
            self._journal(change.pos, None, change.after["preferred"])
        else:
            self._journal(change.pos, previous, None)


def pair_up(
    df_x: pd.DataFrame,
    df_y: pd.DataFrame,
    *,
    on: Sequence[str] = ("prompt",),
    completion: str = "completion",
    names: tuple[str, str] = ("v1", "v2"),
) -> pd.DataFrame:
    """Pair two runs row by row (two prompt versions or models) for `compare`.

    Rows are matched on the ``on`` columns (each key must appear once per frame). The result
    has the ``on`` columns, ``completion_a`` (from ``df_x``) and ``completion_b`` (from
    ``df_y``), ``name_a``/``name_b`` from ``names``, and every other shared column suffixed
    ``_a``/``_b`` (so ``log_id`` becomes ``log_id_a``/``log_id_b`` and votes are journaled).

    Examples
    --------
    >>> import pandas as pd, hl_notebook as hl
    >>> x = pd.DataFrame({"prompt": ["p1", "p2"], "completion": ["x1", "x2"]})
    >>> y = pd.DataFrame({"prompt": ["p2", "p1"], "completion": ["y2", "y1"]})
    >>> hl.pair_up(x, y, on=["prompt"])[["prompt", "completion_a", "completion_b"]].values.tolist()
    [['p1', 'x1', 'y1'], ['p2', 'x2', 'y2']]
    """
    import pandas as pd

    for name, frame in (("df_x", df_x), ("df_y", df_y)):
        if not isinstance(frame, pd.DataFrame):
            raise HLValueError(f"pair_up() takes two DataFrames; {name} is {describe(frame)}.")
    keys = [on] if isinstance(on, str) else list(on)
    if not keys:
        raise HLValueError("on is empty; name the columns that identify a prompt, e.g. on=['prompt'].")
    if not (isinstance(names, (tuple, list)) and len(names) == 2 and all(isinstance(n, str) for n in names)):
        raise HLValueError(f"names must be two strings such as ('v1', 'v2'); got {describe(names)}.")
    for name, frame in (("df_x", df_x), ("df_y", df_y)):
        check_columns(frame.columns, [(k, "on") for k in keys] + [(completion, "completion")], frame=name)
        dup = frame.duplicated(subset=keys, keep=False)
        if dup.any():
            first = frame.loc[dup, keys].iloc[0].tolist()
            raise HLValueError(
                f"{name} has {int(dup.sum())} rows sharing their key {keys} (e.g. {first}); each key "
                "must appear once per frame to pair rows. Add a column to on=[...] or drop duplicates."
            )
    merged = df_x.reset_index(drop=True).merge(
        df_y.reset_index(drop=True), on=keys, how="inner", suffixes=("_a", "_b"), sort=False
    )
    rename = {}
    if completion + "_a" in merged.columns:
        rename = {completion + "_a": "completion_a", completion + "_b": "completion_b"}
    merged = merged.rename(columns=rename)
    merged.insert(len(keys) + 2, "name_a", names[0])
    merged.insert(len(keys) + 3, "name_b", names[1])
    first = [*keys, "completion_a", "completion_b", "name_a", "name_b"]
    return merged[first + [c for c in merged.columns if c not in first]]

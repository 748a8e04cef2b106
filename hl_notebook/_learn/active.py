"""Active learning for the annotation widget: what to label next, and refitting in the background.

Plain logic with no widget in it. The widget calls:

- `uncertainty_order(X, model)` to order rows (most uncertain first, ~10% random), or, for big
  frames, `rerank_tail` on a random pool of rows scored by a `RankWorker` in the background: the
  rows already shown never move, the rest are re-ranked after each refit;
- `Refitter(model, every=20)`; ``refitter.update(df, labelled=positions)`` after each label (O(1):
  it counts new labels and, every ``every`` of them, starts a refit in a background thread);
  ``refitter.status`` for the live panel, and ``refitter.on_status(callback)`` to hear when it
  changes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from .._schema import DEFAULT_LABELS, HLValueError, describe

__all__ = [
    "RankWorker",
    "Refitter",
    "interleave_random",
    "rerank_tail",
    "uncertainty_order",
    "uncertainty_scores",
]


def uncertainty_scores(X: Any, model: Any) -> np.ndarray:
    """How unsure ``model`` is about each row of ``X``, from 0 (sure) to 1 (even odds).

    ``model.uncertainty(X)`` when the model has it (`PreferenceModel` does), else one minus the
    margin between the two most probable classes of ``model.predict_proba(X)`` (for a binary
    model, ``1 - 2 |p - 0.5|``).

    Examples
    --------
    >>> import numpy as np
    >>> class Toy:
    ...     def predict_proba(self, X): return np.array([[0.5, 0.5], [0.9, 0.1], [0.3, 0.7]])
    >>> uncertainty_scores(["a", "b", "c"], Toy()).round(2).tolist()
    [1.0, 0.2, 0.6]
    """
    n = len(X)
    if hasattr(model, "uncertainty"):
        u = np.asarray(model.uncertainty(X), dtype=float)
    elif hasattr(model, "predict_proba"):
        p = np.asarray(model.predict_proba(X), dtype=float)
        if p.ndim == 1:
            p = np.stack([1 - p, p], axis=1)
        if p.ndim != 2 or p.shape[0] != n:
            raise HLValueError(
                f"model.predict_proba(X) returned shape {p.shape}; expected ({n}, n_classes)."
            )
        if p.shape[1] < 2:
            return np.zeros(n)
        top2 = np.partition(p, p.shape[1] - 2, axis=1)[:, -2:]
        u = 1.0 - (top2[:, 1] - top2[:, 0])
    else:
        raise HLValueError(
            f"model must have uncertainty(X) or predict_proba(X), e.g. a fitted hl.PreferenceModel; "
            f"got {describe(model)}."
        )
    if u.shape != (n,):
        raise HLValueError(f"model.uncertainty(X) returned shape {u.shape}; expected ({n},).")
    return u


def interleave_random(
    ranked: np.ndarray, *, random_fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """``ranked`` with a share ``random_fraction`` of its slots given to rows drawn at random.

    The random slots are spread evenly (with 0.1, about every tenth; never the first). The rows
    for them are drawn uniformly from all of ``ranked``, and the others keep their ranked order,
    so every row has the same chance of being a random pick. Vectorised: O(n log n).

    Examples
    --------
    >>> import numpy as np
    >>> interleave_random(np.arange(20), random_fraction=0.1, rng=np.random.default_rng(0)).tolist()
    [0, 1, 2, 3, 4, 5, 16, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17, 18, 19]
    """
    ranked = np.asarray(ranked, dtype=np.int64)
    m = len(ranked)
    k = int(round(m * random_fraction))
    if k == 0 or m < 2:
        return ranked.copy()
    slots = np.unique(np.linspace(0, m - 1, k + 2)[1:-1].round().astype(np.int64))
    if len(slots) < k:  # tiny m: the rest of the random slots from the end
        free = np.setdiff1d(np.arange(1, m, dtype=np.int64), slots)
        slots = np.sort(np.concatenate([slots, free[len(free) - (k - len(slots)):]]))
    slots = slots[:k]
    picked = rng.choice(m, size=len(slots), replace=False)
    keep = np.ones(m, dtype=bool)
    keep[picked] = False
    out = np.empty(m, dtype=np.int64)
    other = np.ones(m, dtype=bool)
    other[slots] = False
    out[slots] = ranked[picked]
    out[other] = ranked[keep]
    return out


def uncertainty_order(
    X: Any,
    model: Any,
    *,
    random_fraction: float = 0.1,
    random_state: int | None = 0,
) -> np.ndarray:
    """Positions of ``X``'s rows in labelling order: most uncertain first, some random mixed in.

    A share ``random_fraction`` of the slots (spread evenly: with 0.1 every tenth slot) is
    filled with rows drawn at random, so the labels do not all come from the model's blind
    spots and grouped-CV accuracy stays an honest estimate (see `interleave_random`).

    Parameters
    ----------
    X : DataFrame or list of str
        What the model scores (``prompt`` and ``completion`` columns, or completions).
    model : fitted PreferenceModel
        Anything with ``uncertainty(X)`` or ``predict_proba(X)`` (see `uncertainty_scores`).
    random_fraction : float
        Share of random picks, 0 to 1.
    random_state : int, optional
        Seed of the random picks.

    Returns
    -------
    ndarray of int
        A permutation of ``range(len(X))``.

    Examples
    --------
    >>> import numpy as np
    >>> class Toy:
    ...     def uncertainty(self, X): return np.array([0.1, 0.9, 0.5, 0.2])
    >>> uncertainty_order(["a", "b", "c", "d"], Toy(), random_fraction=0).tolist()
    [1, 2, 3, 0]
    """
    check_fraction(random_fraction)
    if len(X) == 0:
        return np.zeros(0, dtype=np.int64)
    u = uncertainty_scores(X, model)
    ranked = np.argsort(-u, kind="stable")  # most uncertain first; ties keep row order
    return interleave_random(
        ranked, random_fraction=random_fraction, rng=np.random.default_rng(random_state)
    )


def check_fraction(random_fraction: Any) -> float:
    if (
        isinstance(random_fraction, bool)
        or not isinstance(random_fraction, (int, float))
        or not 0 <= random_fraction <= 1
    ):
        raise HLValueError(f"random_fraction must be between 0 and 1; got {describe(random_fraction)}.")
    return float(random_fraction)


def rerank_tail(
    order: np.ndarray,
    fixed: int,
    candidates: np.ndarray,
    uncertainty: np.ndarray,
    *,
    random_fraction: float = 0.1,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """A new labelling order: ``order[:fixed]`` kept, then ``candidates`` most uncertain first.

    ``candidates`` are row positions found in ``order[fixed:]`` with their ``uncertainty``
    (scored by the latest model); they move to the front of the tail, ranked and with random
    picks interleaved, and the other rows of the tail follow in their previous order. Rows
    already shown (the first ``fixed``) never move. Vectorised: O(n).

    Examples
    --------
    >>> import numpy as np
    >>> rerank_tail(np.arange(6), 2, np.array([3, 5]), np.array([0.2, 0.9]), random_fraction=0).tolist()
    [0, 1, 5, 3, 2, 4]
    """
    order = np.asarray(order, dtype=np.int64)
    candidates = np.asarray(candidates, dtype=np.int64)
    uncertainty = np.asarray(uncertainty, dtype=float)
    if candidates.shape != uncertainty.shape:
        raise HLValueError(
            f"{len(candidates)} candidates but {len(uncertainty)} uncertainty values; give one each."
        )
    tail = order[fixed:]
    chosen = np.zeros(len(order), dtype=bool)
    chosen[candidates] = True
    if int(chosen[tail].sum()) != len(candidates):
        raise HLValueError("candidates must be distinct rows from order[fixed:] (not yet shown).")
    ranked = candidates[np.argsort(-uncertainty, kind="stable")]
    ranked = interleave_random(
        ranked, random_fraction=random_fraction, rng=rng or np.random.default_rng(0)
    )
    return np.concatenate([order[:fixed], ranked, tail[~chosen[tail]]])


class RankWorker:
    """Scores rows with the latest model in a background thread, in chunks, when the user pauses.

    `submit(model, candidates)` starts (or restarts, when a newer model arrives) scoring
    ``X.iloc[candidates]``; when every chunk is done, ``on_scores(model, candidates, u)`` is
    called from the worker thread. Before each chunk the worker calls ``pause()`` (the widget
    passes one that waits while the user is labelling), so ranking never slows a label down.
    A failure is passed to ``on_error(exc)``; the previous order stays.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> class Toy:
    ...     def uncertainty(self, X): return X["x"].to_numpy() / 10
    >>> got = []
    >>> w = RankWorker(pd.DataFrame({"x": range(10)}), on_scores=lambda m, c, u: got.append(u.tolist()))
    >>> w.submit(Toy(), np.array([2, 7])); w.wait(10)
    True
    >>> got
    [[0.2, 0.7]]
    """

    def __init__(
        self,
        X: Any,
        *,
        on_scores: Callable[[Any, np.ndarray, np.ndarray], None],
        on_error: Callable[[BaseException], None] | None = None,
        pause: Callable[[], None] | None = None,
        chunk: int = 2_000,
    ) -> None:
        self.X = X
        self.chunk = int(chunk)
        self._on_scores = on_scores
        self._on_error = on_error
        self._pause = pause
        self._lock = threading.Lock()
        self._job: tuple[Any, Any] | None = None
        self._generation = 0
        self._thread: threading.Thread | None = None

    @property
    def pending(self) -> bool:
        """True when a newer job waits to be scored."""
        with self._lock:
            return self._job is not None

    @property
    def busy(self) -> bool:
        """True while a model's scores are being computed."""
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    def submit(self, model: Any, candidates: np.ndarray | Callable[[], np.ndarray]) -> None:
        """Score ``candidates`` with ``model``; a job still running is abandoned for this one.

        ``candidates`` may be a function returning them, called in the worker thread (after
        the first pause), so whatever it costs never delays the caller.
        """
        with self._lock:
            self._job = (model, candidates)
            self._generation += 1
            if self._thread is not None and self._thread.is_alive():
                return  # the running loop picks the new job up at its next chunk
            self._thread = threading.Thread(target=self._run, daemon=True, name="hl-rank")
            self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until idle (for tests and scripts); True if idle."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                t = self._thread
            if t is None:
                return True
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if t.is_alive():
                return False
            with self._lock:
                if self._thread is t:
                    return True

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._job is None:
                    self._thread = None
                    return
                model, candidates = self._job
                generation = self._generation
                self._job = None
            try:
                if callable(candidates):
                    if self._pause is not None:
                        self._pause()
                    candidates = candidates()
                candidates = np.asarray(candidates, dtype=np.int64)
                parts = []
                stale = False
                for start in range(0, len(candidates), self.chunk):
                    if self._pause is not None:
                        self._pause()
                    with self._lock:
                        stale = self._generation != generation
                    if stale:
                        break
                    rows = candidates[start : start + self.chunk]
                    parts.append(uncertainty_scores(_take(self.X, rows), model))
                if stale:
                    continue
                u = np.concatenate(parts) if parts else np.zeros(0)
                with self._lock:
                    stale = self._generation != generation
                if not stale:
                    self._on_scores(model, candidates, u)
            except Exception as exc:  # noqa: BLE001 - reported; the previous order stays
                if self._on_error is not None:
                    self._on_error(exc)


#: Rows scored before an annotator first paints (a frame this small is ranked whole at once).
FIRST_POOL = 1_024
#: Rows of the unshown tail scored for each re-rank (a random pool; the whole tail when smaller).
RANK_POOL = 50_000


class ActiveOrder:
    """The labelling order of an uncertainty-ordered annotator, re-ranked as the model learns.

    A frame of up to ``first_pool`` rows is ranked whole at once. A bigger one opens at once:
    a random ``first_pool`` rows are scored and ranked first, the rest follow in random order,
    and a `RankWorker` then scores a random ``pool`` of the rest in the background and re-ranks
    them. After each refit, `refit(model)` re-ranks the unshown tail again with the new model.
    Rows the front end has been sent (`shown`) never move, so nothing on screen changes under
    the user; rows already labelled are not drawn into a pool.

    Parameters
    ----------
    X : DataFrame
        What the model scores (a shallow copy of the annotated frame is enough).
    model : fitted model
        With ``uncertainty(X)`` or ``predict_proba(X)``.
    open_rows : callable
        Returns a boolean array: True for the rows still to label.
    lock : threading lock
        Held while the order is read or replaced (the session's, shared with its row paging).
    on_reorder : callable
        ``on_reorder(new_order)``, called with ``lock`` held when the order changes.
    on_status : callable, optional
        ``on_status(status)`` after each re-rank or failure (from the worker thread).
    pause : callable, optional
        Called by the worker before each chunk (to wait while the user is labelling).

    Examples
    --------
    >>> import threading, numpy as np, pandas as pd
    >>> class Toy:
    ...     def uncertainty(self, X): return 1 - np.abs(X["x"].to_numpy() - 50) / 50
    >>> df = pd.DataFrame({"x": range(100)})
    >>> got = {}
    >>> a = ActiveOrder(df, Toy(), open_rows=lambda: np.ones(100, bool), lock=threading.Lock(),
    ...                 on_reorder=lambda o: got.update(order=o), random_fraction=0)
    >>> a.order[:3].tolist()
    [50, 49, 51]
    """

    def __init__(
        self,
        X: Any,
        model: Any,
        *,
        open_rows: Callable[[], np.ndarray],
        lock: Any,
        on_reorder: Callable[[np.ndarray], None],
        on_status: Callable[[dict[str, Any]], None] | None = None,
        pause: Callable[[], None] | None = None,
        random_fraction: float = 0.1,
        random_state: int | None = 0,
        first_pool: int = FIRST_POOL,
        pool: int = RANK_POOL,
    ) -> None:
        self.X = X
        self.random_fraction = check_fraction(random_fraction)
        self.pool = int(pool)
        self.lock = lock
        self._open_rows = open_rows
        self._on_reorder = on_reorder
        #: ``on_status(status)`` after each re-rank or failure (may be set later).
        self.on_status = on_status
        self._rng = np.random.default_rng(random_state)
        n = len(X)
        self.fixed = 0  # order[:fixed] has been shown and never moves
        self.status: dict[str, Any] = {
            "ranked": 0, "pool": 0, "reranks": 0, "ranking": False, "error": None, "model": "initial",
        }
        if n <= first_pool:
            order = uncertainty_order(X, model, random_fraction=self.random_fraction,
                                      random_state=random_state)
            self.status.update(ranked=n, pool=n)
        else:
            base = self._rng.permutation(n).astype(np.int64)
            cand = base[:first_pool]
            u = uncertainty_scores(_take(X, cand), model)
            ranked = interleave_random(cand[np.argsort(-u, kind="stable")],
                                       random_fraction=self.random_fraction, rng=self._rng)
            base[:first_pool] = ranked  # the rest follows in random order until ranked
            order = base
            self.status.update(ranked=first_pool, pool=first_pool)
        self.order = order
        self._rank_cache: np.ndarray | None = None
        self.worker = RankWorker(X, on_scores=self._apply, on_error=self._failed, pause=pause)
        if n > first_pool:
            self._submit(model, "initial")

    # -- called by the session ------------------------------------------------------------

    def shown(self, positions: np.ndarray) -> None:
        """Row positions sent to the front end (call with ``lock`` held): they never move now."""
        if len(positions):
            rank = self._rank()
            self.fixed = max(self.fixed, int(rank[np.asarray(positions, dtype=np.int64)].max()) + 1)

    def _rank(self) -> np.ndarray:
        """Each row's place in the order (computed once per order, when first needed)."""
        if self._rank_cache is None:
            self._rank_cache = _inverse(self.order)
        return self._rank_cache

    def refit(self, model: Any, name: str = "refit") -> None:
        """Re-rank the unshown tail with ``model`` in the background (a newer call wins)."""
        self._submit(model, name)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no re-rank is running (for tests and scripts); True if idle."""
        return self.worker.wait(timeout)

    # -- internals ------------------------------------------------------------------------

    def _submit(self, model: Any, name: str) -> None:
        self.status.update(ranking=True, model=name)
        self._emit()
        self.worker.submit(model, self._pool)

    def _pool(self) -> np.ndarray:
        """A random pool of the unshown, unlabelled rows (in the worker thread)."""
        with self.lock:
            tail = self.order[self.fixed :]
        open_mask = np.asarray(self._open_rows(), dtype=bool)
        tail = tail[open_mask[tail]]
        if len(tail) > self.pool:
            tail = tail[self._rng.permutation(len(tail))[: self.pool]]
        return tail

    def _apply(self, model: Any, candidates: np.ndarray, u: np.ndarray) -> None:
        def reorder(order: np.ndarray, rank: np.ndarray, fixed: int) -> tuple[np.ndarray, np.ndarray, int]:
            keep = rank[candidates] >= fixed  # rows shown while scoring stay put
            new = rerank_tail(order, fixed, candidates[keep], u[keep],
                              random_fraction=self.random_fraction, rng=self._rng)
            return new, _inverse(new), int(keep.sum())

        # computed outside the lock (O(n)); redone under it only if rows were shown meanwhile
        with self.lock:
            order, rank, fixed = self.order, self._rank(), self.fixed
        new, new_rank, ranked = reorder(order, rank, fixed)
        with self.lock:
            if self.order is not order or self.fixed != fixed:
                new, new_rank, ranked = reorder(self.order, self._rank(), self.fixed)
            self.order, self._rank_cache = new, new_rank
            self._on_reorder(new)
        self.status.update(ranking=self.worker.pending, ranked=ranked, pool=len(candidates),
                           reranks=self.status["reranks"] + 1, error=None)
        self._emit()

    def _failed(self, exc: BaseException) -> None:
        self.status.update(ranking=False, error=f"re-ranking failed: {type(exc).__name__}: {exc}")
        self._emit()

    def _emit(self) -> None:
        if self.on_status is not None:
            self.on_status(dict(self.status))


def _inverse(order: np.ndarray) -> np.ndarray:
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    return rank


def _take(X: Any, rows: np.ndarray) -> Any:
    if isinstance(X, pd.DataFrame):
        return X.iloc[rows]
    return [X[int(i)] for i in rows]


class Refitter:
    """Refit a preference model in a background thread every ``every`` new labels.

    The caller (the widget) is never blocked: `update` only counts labels and, when due,
    starts a thread that fits a clone of the model on the labelled rows and measures its
    grouped-CV accuracy; when it finishes, the new model replaces `model` and `status` changes.
    A refit that fails leaves the previous model in place and puts the message in
    ``status["error"]``.

    Parameters
    ----------
    model : PreferenceModel
        The model to refit (fitted or not). ``refitter.model`` is always the latest fitted one.
    every : int
        Refit after this many new labels.
    min_per_class : int
        Do not fit before each class has this many labels (``status["error"]`` says so).
    label, positive : str
        The label column and the good label; other non-missing labels count as bad.
    cv_splits : int
        Folds of the grouped CV behind ``status["accuracy"]``; 0 skips CV.

    Attributes
    ----------
    status : dict
        ``accuracy``, ``ci_low``, ``ci_high`` (grouped-CV accuracy of the latest fit, or None),
        ``n_labels`` (labels in the latest fit), ``labels_since_fit``, ``fitting`` (bool),
        ``error`` (str or None), ``fits`` (completed refits).

    Examples
    --------
    >>> import hl_notebook as hl
    >>> labelled = hl.datasets.load_sample("hh_harmless").head(40)  # 20 👍, 20 👎
    >>> r = Refitter(hl.PreferenceModel(calibrate=False), every=20, cv_splits=0)
    >>> r.update(labelled)  # after each label; returns at once, the fit runs in a thread
    True
    >>> r.wait(timeout=60), r.status["n_labels"], r.status["error"]
    (True, 40, None)
    """

    def __init__(
        self,
        model: Any,
        *,
        every: int = 20,
        min_per_class: int = 5,
        label: str = "label",
        positive: str = DEFAULT_LABELS[0],
        cv_splits: int = 3,
    ) -> None:
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise HLValueError(f"every must be a positive integer; got {describe(every)}.")
        if not isinstance(min_per_class, int) or min_per_class < 1:
            raise HLValueError(f"min_per_class must be a positive integer; got {describe(min_per_class)}.")
        self.model = model
        self.every = every
        self.min_per_class = min_per_class
        self.label = label
        self.positive = positive
        self.cv_splits = cv_splits
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[dict], None]] = []
        self._thread: threading.Thread | None = None
        self._pending: pd.DataFrame | None = None
        self._n_at_fit = 0
        self._n_seen = 0
        self._status: dict[str, Any] = {
            "accuracy": None,
            "ci_low": None,
            "ci_high": None,
            "n_labels": 0,
            "labels_since_fit": 0,
            "fitting": False,
            "error": None,
            "fits": 0,
        }

    # -- public --------------------------------------------------------------------------

    @property
    def status(self) -> dict[str, Any]:
        """A copy of the current status (safe to read from any thread)."""
        with self._lock:
            return dict(self._status)

    def on_status(self, callback: Callable[[dict], None], *, remove: bool = False) -> None:
        """Call ``callback(status)`` whenever the status changes (from the refit thread too)."""
        with self._lock:
            if remove:
                self._callbacks = [c for c in self._callbacks if c is not callback]
            elif callback not in self._callbacks:
                self._callbacks.append(callback)

    def update(
        self,
        df: pd.DataFrame,
        *,
        labelled: Collection[int] | None = None,
        force: bool = False,
    ) -> bool:
        """Tell the refitter about the annotated frame; start a background refit when due.

        Counts the rows with a label; when ``every`` more than at the last fit (or ``force``),
        and no refit is running, starts one on a copy of the labelled rows. Returns at once:
        True if a refit was started.

        ``labelled`` is the positions of the rows with a label when the caller keeps them (the
        widget does), which makes an update O(1) until a refit is due; without it the label
        column is counted (vectorised, O(rows)).
        """
        if not isinstance(df, pd.DataFrame):
            raise HLValueError(f"update expects the annotated DataFrame; got {describe(df)}.")
        if self.label not in df.columns:
            raise HLValueError(
                f"df has no {self.label!r} column; it has {[str(c) for c in df.columns]}. "
                "Pass label='<column>' to Refitter."
            )
        if labelled is None:
            positions: Any = None
            n = int(df[self.label].notna().sum())
        else:
            positions = labelled
            n = len(labelled)
        with self._lock:
            self._n_seen = n
            self._status["labels_since_fit"] = max(0, n - self._n_at_fit)
            due = force or n - self._n_at_fit >= self.every
            running = self._thread is not None and self._thread.is_alive()
            start = due and not running
        snapshot = None
        if due:
            if positions is None:
                rows = np.flatnonzero(df[self.label].notna().to_numpy(dtype=bool))
            else:
                rows = np.fromiter(sorted(positions), dtype=np.int64, count=n)
            snapshot = df.iloc[rows].copy()
        with self._lock:
            if due and running:
                self._pending = snapshot  # refit again as soon as the current one ends
            if start:
                self._status["fitting"] = True
                self._thread = threading.Thread(target=self._run, args=(snapshot,), daemon=True,
                                                name="hl-refit")
        self._emit()
        if start:
            assert self._thread is not None
            self._thread.start()
        return start

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no refit is running (for tests and scripts); True if idle."""
        while True:
            with self._lock:
                t = self._thread
            if t is None:
                return True
            t.join(timeout)
            if t.is_alive():
                return False
            with self._lock:
                if self._thread is t:
                    return True

    # -- internals -----------------------------------------------------------------------

    def _emit(self) -> None:
        status = self.status
        with self._lock:
            callbacks = list(self._callbacks)
        for cb in callbacks:
            try:
                cb(status)
            except Exception as exc:  # a broken callback must not kill the refit thread
                with self._lock:
                    self._status["error"] = f"on_status callback failed: {exc!r}"

    def _run(self, first: pd.DataFrame) -> None:
        labelled: pd.DataFrame | None = first  # then whatever arrived while a fit ran
        while labelled is not None:
            n = len(labelled)
            try:
                y = labelled[self.label].tolist()
                good = sum(1 for v in y if v == self.positive)
                bad = n - good
                if min(good, bad) < self.min_per_class:
                    other = DEFAULT_LABELS[1] if self.positive == DEFAULT_LABELS[0] else "other"
                    raise HLValueError(
                        f"label at least {self.min_per_class} items of each class before the model "
                        f"can learn; you have {good} {self.positive} and {bad} {other}."
                    )
                y01 = [self.positive if v == self.positive else "__bad__" for v in y]
                if self.positive == DEFAULT_LABELS[0]:
                    y01 = [v if v == self.positive else DEFAULT_LABELS[1] for v in y01]
                new = clone(self.model).fit(labelled, y01)
                acc: tuple[float | None, float | None, float | None] = (None, None, None)
                if self.cv_splits and "prompt" in labelled.columns and labelled["prompt"].nunique() >= 2:
                    from .crossval import cross_validate

                    try:
                        cv = cross_validate(new, labelled, y01, n_splits=self.cv_splits, n_boot=300)
                        acc = (cv.accuracy, cv.ci_low, cv.ci_high)
                    except Exception:  # some fold with one class: keep the fit, skip the figure
                        acc = (None, None, None)
                with self._lock:
                    self.model = new
                    self._n_at_fit = n
                    self._status.update(
                        accuracy=acc[0], ci_low=acc[1], ci_high=acc[2], n_labels=n,
                        labels_since_fit=max(0, self._n_seen - n), error=None,
                        fits=self._status["fits"] + 1,
                    )
            except Exception as exc:
                with self._lock:
                    self._n_at_fit = n
                    self._status.update(error=str(exc),
                                        labels_since_fit=max(0, self._n_seen - n))
            with self._lock:
                labelled, self._pending = self._pending, None
                if labelled is not None and len(labelled) <= self._n_at_fit:
                    labelled = None
                if labelled is None:
                    self._status["fitting"] = False
            self._emit()

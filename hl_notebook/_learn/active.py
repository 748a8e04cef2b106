"""Active learning for the annotation widget: what to label next, and refitting in the background.

Plain logic with no widget in it. The widget calls:

- `uncertainty_order(X, model)` once, to order its rows (most uncertain first, ~10% random);
- `Refitter(model, every=20)`; ``refitter.update(df)`` after each label (cheap: it counts new
  labels and, every ``every`` of them, starts a refit in a background thread); ``refitter.status``
  for the live panel, and ``refitter.on_status(callback)`` to hear when it changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from .._schema import DEFAULT_LABELS, HLValueError, describe, is_missing

__all__ = ["Refitter", "uncertainty_order"]


def uncertainty_order(
    X: Any,
    model: Any,
    *,
    random_fraction: float = 0.1,
    random_state: int | None = 0,
) -> np.ndarray:
    """Positions of ``X``'s rows in labelling order: most uncertain first, some random mixed in.

    A share ``random_fraction`` of the slots (spread evenly: with 0.1 every tenth slot) is
    filled with rows drawn at random from the rest, so the labels do not all come from the
    model's blind spots and grouped-CV accuracy stays an honest estimate.

    Parameters
    ----------
    X : DataFrame or list of str
        What the model scores (``prompt`` and ``completion`` columns, or completions).
    model : fitted PreferenceModel
        Anything with ``uncertainty(X)`` or ``predict_proba(X)``.
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
    if not isinstance(random_fraction, (int, float)) or not 0 <= random_fraction <= 1:
        raise HLValueError(f"random_fraction must be between 0 and 1; got {describe(random_fraction)}.")
    n = len(X)
    if n == 0:
        return np.zeros(0, dtype=int)
    if hasattr(model, "uncertainty"):
        u = np.asarray(model.uncertainty(X), dtype=float)
    elif hasattr(model, "predict_proba"):
        p = np.asarray(model.predict_proba(X), dtype=float)
        p = p[:, -1] if p.ndim == 2 else p
        u = 1.0 - 2.0 * np.abs(p - 0.5)
    else:
        raise HLValueError(
            f"model must have uncertainty(X) or predict_proba(X), e.g. a fitted hl.PreferenceModel; "
            f"got {describe(model)}."
        )
    if u.shape != (n,):
        raise HLValueError(f"model.uncertainty(X) returned shape {u.shape}; expected ({n},).")
    # most uncertain first; ties keep row order (stable)
    ranked = list(np.argsort(-u, kind="stable"))
    n_random = int(round(n * random_fraction))
    if n_random == 0:
        return np.asarray(ranked, dtype=int)
    rng = np.random.default_rng(random_state)
    slots = set(np.linspace(0, n - 1, n_random + 2)[1:-1].round().astype(int).tolist())
    if len(slots) < n_random:  # tiny n: fill from the end
        slots |= set(range(n - 1, -1, -1)[: n_random - len(slots)])
    out: list[int] = []
    used: set[int] = set()
    pool = list(rng.permutation(n))
    for slot in range(n):
        if slot in slots:
            while pool and pool[-1] in used:
                pool.pop()
            pick = pool.pop() if pool else None
        else:
            while ranked and ranked[0] in used:
                ranked.pop(0)
            pick = ranked.pop(0) if ranked else None
        if pick is None:
            rest = [i for i in range(n) if i not in used]
            pick = rest[0]
        out.append(int(pick))
        used.add(int(pick))
    return np.asarray(out, dtype=int)


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

    def update(self, df: pd.DataFrame, *, force: bool = False) -> bool:
        """Tell the refitter about the annotated frame; start a background refit when due.

        Counts the rows with a label; when ``every`` more than at the last fit (or ``force``),
        and no refit is running, starts one on a copy of the labelled rows. Returns at once:
        True if a refit was started.
        """
        if not isinstance(df, pd.DataFrame):
            raise HLValueError(f"update expects the annotated DataFrame; got {describe(df)}.")
        if self.label not in df.columns:
            raise HLValueError(
                f"df has no {self.label!r} column; it has {[str(c) for c in df.columns]}. "
                "Pass label='<column>' to Refitter."
            )
        mask = np.array([not is_missing(v) for v in df[self.label]], dtype=bool)
        n = int(mask.sum())
        with self._lock:
            self._n_seen = n
            self._status["labels_since_fit"] = max(0, n - self._n_at_fit)
            due = force or n - self._n_at_fit >= self.every
            running = self._thread is not None and self._thread.is_alive()
            start = due and not running
            snapshot = df.loc[mask].copy() if (due or start) else None
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

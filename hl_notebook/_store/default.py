"""The store that `hl.log`, `hl.feedback`, the widgets and `generate` use when none is given.

``hl.configure(store=...)`` sets it; otherwise it is ``$HL_STORE``, else ``hl_feedback.sqlite`` in
the working directory, opened on first use.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import Any

from .._schema import HLValueError, describe
from .store import Store

__all__ = ["configure", "default_store", "feedback", "log", "resolve_store"]

_default: Store | None = None
_default_lock = threading.Lock()


def configure(*, store: Store | str | os.PathLike[str] | None = None) -> Store:
    """Set the store that `log`, `feedback` and the widgets use by default; return it.

    Examples
    --------
    >>> import hl_notebook as hl
    >>> store = hl.configure(store=":memory:")
    >>> hl.default_store() is store
    True
    """
    global _default
    with _default_lock:
        if store is None or isinstance(store, Store):
            _default = store
        else:
            _default = Store(store)
        return _default if _default is not None else default_store()


def default_store() -> Store:
    """The configured store; by default ``$HL_STORE`` or ``hl_feedback.sqlite`` here, opened once."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Store()
        return _default


def log(
    *,
    prompt: str,
    completion: str,
    model: str | None = None,
    prompt_version: str | None = None,
    messages: list[dict[str, Any]] | None = None,
    inputs: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    log_id: str | None = None,
    created_at: Any = None,
) -> str:
    """Log a completion in the default store and return its id.

    Examples
    --------
    >>> import hl_notebook as hl
    >>> _ = hl.configure(store=":memory:")
    >>> log_id = hl.log(prompt="Equation of gravity", completion="F = G m1 m2 / r^2")
    >>> _ = hl.feedback(log_id, label="👍")
    """
    return default_store().log(
        prompt=prompt, completion=completion, model=model, prompt_version=prompt_version,
        messages=messages, inputs=inputs, metadata=metadata, log_id=log_id, created_at=created_at,
    )


def feedback(
    log_id: str,
    *,
    label: str | None = None,
    rating: int | None = None,
    correction: str | None = None,
    comment: str | None = None,
    annotator: str | None = None,
    source: str = "user",
    clear: Iterable[str] = (),
) -> str:
    """Record feedback on a logged completion in the default store; return the event id."""
    return default_store().feedback(
        log_id, label=label, rating=rating, correction=correction, comment=comment,
        annotator=annotator, source=source, clear=clear,
    )

def resolve_store(store: Any) -> Store | None:
    """The store a ``store=`` argument names: a `Store`, a path, None or False.

    None means the configured store when there is one (``hl.configure``, ``hl.default_store()``
    or ``$HL_STORE``) and no store otherwise; False means no store.
    """
    if store is False:
        return None
    if store is None:
        if _default is not None or os.environ.get("HL_STORE"):
            return default_store()
        return None
    if isinstance(store, Store):
        return store
    if isinstance(store, (str, os.PathLike)):
        return Store(store)
    raise HLValueError(
        f"store must be a hl.Store, a path, None (the configured store) or False (do not log); got "
        f"{describe(store)}."
    )

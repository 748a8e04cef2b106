"""What the annotation and compare widgets share: loading the bundle, request/response messages,
and callbacks whose errors reach the notebook."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from .._schema import HLValueError

STATIC = Path(__file__).resolve().parents[1] / "static"


def bundle(name: str) -> Path:
    """The path of a built front-end bundle, or an error saying how to build it."""
    path = STATIC / name
    if not path.is_file() or path.stat().st_size < 200:
        raise RuntimeError(
            f"The widget front end {path} is missing or is a placeholder. Build it with "
            "`cd js && npm ci && npm run build` from the source tree (pip install . builds it too)."
        )
    return path


def reject_unknown(function: str, unknown: dict[str, Any], allowed: list[str]) -> None:
    """Raise a TypeError naming a misspelled keyword and the closest allowed one."""
    if not unknown:
        return
    from .._schema import suggest

    name = next(iter(unknown))
    close = suggest(name, allowed)
    hint = f" Did you mean {close}=?" if close else f" It takes {allowed}."
    raise TypeError(f"{function}() got an unexpected keyword argument {name!r}.{hint}")


def esm(name: str) -> Path | str:
    """The bundle's path when it exists (hot reload works), else a module explaining the problem.

    `MessageWidget.__init__` raises the build instructions in Python before anything displays;
    this fallback only keeps ``import hl_notebook`` working in a source tree without a build.
    """
    path = STATIC / name
    if path.is_file():
        return path
    return "export default { render({ el }) { el.textContent = 'hl_notebook: front end not built'; } };"


class MessageWidget(anywidget.AnyWidget):
    """An anywidget answering ``{kind, id, ...}`` requests from its front end.

    Subclasses map kinds to methods in ``_handlers``; a handler returns the reply's fields, and
    an exception becomes ``{kind, id, error}`` so the front end can show it and keep the item unsaved.
    """

    #: Text of the last error raised inside a feedback callback (shown under the widget).
    callback_error = traitlets.Unicode("").tag(sync=True)
    #: Changes saved so far and the last one, ``{"count", "last"}``: changes once per save or undo.
    saved = traitlets.Dict({"count": 0, "last": None}).tag(sync=True)

    _bundle_name = "annotate.js"

    def __init__(self, **kwargs: Any) -> None:
        bundle(self._bundle_name)  # a clear error when the front end was never built
        super().__init__(**kwargs)
        self._callbacks: list[Callable[[dict[str, Any]], Any]] = []
        self.on_msg(self._dispatch)

    _handlers: dict[str, str] = {}

    def _dispatch(self, _widget: Any, content: Any, buffers: Any) -> None:
        if not isinstance(content, dict) or "kind" not in content:
            return
        kind = content.get("kind")
        rid = content.get("id")
        method = self._handlers.get(kind)
        if method is None:
            self.send({"kind": kind, "id": rid, "error": f"unknown request kind {kind!r}"})
            return
        try:
            reply = getattr(self, method)(content)
        except HLValueError as exc:
            self.send({"kind": kind, "id": rid, "error": str(exc)})
            return
        except Exception as exc:  # noqa: BLE001 - every failure must reach the UI, unsaved
            self.send({"kind": kind, "id": rid, "error": f"{type(exc).__name__}: {exc}"})
            return
        after = reply.pop("_after", None)
        self.send({"kind": reply.pop("kind", kind), "id": rid, **reply})
        if after:
            after()

    def _count_saved(self, last: dict[str, Any]) -> dict[str, Any]:
        """Count one saved change (``last`` is small and JSON-safe); returns the new ``saved``."""
        self.saved = {"count": self.saved["count"] + 1, "last": last}
        return self.saved

    def set_state(self, sync_data: dict[str, Any]) -> None:
        # marimo re-runs the cells using a widget only when its front end writes a trait, so the
        # front end writes ``saved`` back after each reply: that write is the signal, and the
        # kernel's own count stands (a late or altered write never changes it).
        super().set_state({k: v for k, v in sync_data.items() if k != "saved"})

    def on_feedback(self, callback: Callable[[dict[str, Any]], Any], *, remove: bool = False) -> None:
        """Call ``callback(event)`` after each saved change (``remove=True`` unregisters it).

        ``event`` is a dict with the row's ``index``, ``pos``, the changed fields, ``annotator``
        and ``log_id``. An exception inside the callback is shown under the widget; the change
        itself is already saved.

        Examples
        --------
        >>> import pandas as pd, hl_notebook as hl
        >>> w = hl.annotate(pd.DataFrame({"prompt": ["p"], "completion": ["c"]}))  # doctest: +SKIP
        >>> w.on_feedback(print)  # doctest: +SKIP
        """
        if not callable(callback):
            raise HLValueError(f"on_feedback needs a callable; got {type(callback).__name__}.")
        if remove:
            if callback in self._callbacks:
                self._callbacks.remove(callback)
        elif callback not in self._callbacks:
            self._callbacks.append(callback)

    def _notify(self, event: dict[str, Any]) -> None:
        errors = []
        for cb in list(self._callbacks):
            try:
                cb(dict(event))
            except Exception:  # noqa: BLE001 - shown in the notebook, never swallowed
                errors.append(
                    f"Error in feedback callback {getattr(cb, '__name__', cb)!s}:\n"
                    + traceback.format_exc(limit=6)
                )
        self.callback_error = "\n".join(errors)

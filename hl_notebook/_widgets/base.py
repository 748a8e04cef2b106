"""What the annotation and compare widgets share: the one front-end bundle and its CSS, keyword
checks from a signature, request/response messages, callbacks whose errors reach the notebook,
and `SessionWidget`, the boundary over a `session.Session` (rows, cells, undo, progress)."""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import anywidget
import traitlets

from .._schema import HLValueError, suggest
from .cells import index_label
from .session import touch

if TYPE_CHECKING:
    import pandas as pd

    from .session import Change, Session

STATIC = Path(__file__).resolve().parents[1] / "static"
#: The one front-end bundle both widgets load (it draws the widget ``config["widget"]`` names).
BUNDLE = "widget.js"
#: Its style sheet, loaded by anywidget from ``_css`` (scoped under ``.hl-root``).
STYLE = "widget.css"


def bundle(name: str) -> Path:
    """The path of a built front-end bundle, or an error saying how to build it."""
    path = STATIC / name
    if not path.is_file() or path.stat().st_size < 200:
        raise RuntimeError(
            f"The widget front end {path} is missing or is a placeholder. Build it with "
            "`cd js && npm ci && npm run build` from the source tree (pip install . builds it too)."
        )
    return path


P = ParamSpec("P")
R = TypeVar("R")


def same_keywords_as(cls: Callable[P, R]) -> Callable[[Callable[..., R]], Callable[P, R]]:
    """Give the decorated one-call function the signature of ``cls`` (for help, IDEs, checks).

    ``hl.annotate(df, ...)`` then takes exactly what ``hl.Annotator(df, ...)`` takes, with one
    list of keywords to keep: the class's.
    """

    def give(function: Callable[..., R]) -> Callable[P, R]:
        function.__signature__ = inspect.signature(cls)  # type: ignore[attr-defined]
        return function

    return give


def reject_unknown(function: Callable[..., Any], given: Mapping[str, Any]) -> None:
    """Raise a TypeError for the first keyword in ``given`` that ``function`` does not take.

    The keywords it takes are read from its signature, so the check never drifts from it; the
    message names the closest one.
    """
    kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    allowed = [
        p.name for p in inspect.signature(function).parameters.values()
        if p.kind in kinds and p.name not in ("self", "df")
    ]
    unknown = [k for k in given if k not in allowed]
    if not unknown:
        return
    name = unknown[0]
    close = suggest(name, allowed)
    hint = f" Did you mean {close}=?" if close else f" It takes {allowed}."
    raise TypeError(
        f"{function.__name__}() got an unexpected keyword argument {name!r}.{hint}"
    )


def esm(name: str = BUNDLE) -> Path | str:
    """The bundle's path when it exists (hot reload works), else a module explaining the problem.

    `MessageWidget.__init__` raises the build instructions in Python before anything displays;
    this fallback only keeps ``import hl_notebook`` working in a source tree without a build.
    """
    path = STATIC / name
    if path.is_file():
        return path
    return "export default { render({ el }) { el.textContent = 'hl_notebook: front end not built'; } };"


def css(name: str = STYLE) -> Path | str:
    """The style sheet's path when it exists (hot reload works), else no style."""
    path = STATIC / name
    return path if path.is_file() else ""


def shown_path(path: Path | str | None) -> str:
    """A store's path as the widget shows it: relative to the working directory when inside it.

    The widget's state is saved in the notebook, so a path under the user's home folder is not
    spelled out when ``hl_feedback.sqlite`` says the same.
    """
    if not path:
        return ":memory:"
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(p)


class MessageWidget(anywidget.AnyWidget):
    """An anywidget answering ``{kind, id, ...}`` requests from its front end.

    Subclasses map kinds to methods in ``_handlers``; a handler returns the reply's fields, and
    an exception becomes ``{kind, id, error}`` so the front end can show it and keep the item unsaved.
    """

    #: Text of the last error raised inside a feedback callback (shown under the widget).
    callback_error = traitlets.Unicode("").tag(sync=True)
    #: Changes saved so far and the last one, ``{"count", "last"}``: changes once per save or undo.
    saved = traitlets.Dict({"count": 0, "last": None}).tag(sync=True)

    _bundle_name = BUNDLE

    def __init__(self, **kwargs: Any) -> None:
        bundle(self._bundle_name)  # a clear error when the front end was never built
        super().__init__(**kwargs)
        self._callbacks: list[Callable[[dict[str, Any]], Any]] = []
        self.on_msg(self._dispatch)

    _handlers: dict[str, str] = {}

    def _dispatch(self, _widget: Any, content: Any, buffers: Any) -> None:
        if not isinstance(content, dict) or "kind" not in content:
            return
        touch()  # background work waits while widgets are in use
        kind = content.get("kind")
        rid = content.get("id")
        method = self._handlers.get(kind) if isinstance(kind, str) else None
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
        touch()

    def _count_saved(self, last: dict[str, Any]) -> dict[str, Any]:
        """Count one saved change (``last`` is small and JSON-safe); returns the new ``saved``."""
        saved: dict[str, Any] = {"count": int(self.saved.get("count") or 0) + 1, "last": last}
        self.saved = saved
        return saved

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


class SessionWidget(MessageWidget):
    """The boundary over a `Session`: rows and cells on request, undo, and one progress trait.

    Subclasses add the request that changes a row (``feedback`` or ``vote``) and `_event`, the
    dict their ``on_feedback`` callbacks get.
    """

    _esm = esm()
    _css = css()

    #: What the front end draws: ``widget`` ("annotate" or "compare"), columns, rows and options.
    config = traitlets.Dict({}).tag(sync=True)
    #: Done rows of the total, per annotator, this session's pace and the time left.
    progress = traitlets.Dict({}).tag(sync=True)

    _handlers = {"rows": "_on_rows", "cell": "_on_cell", "undo": "_on_undo"}

    def __init__(self, session: Session, *, config: Mapping[str, Any], **traits: Any) -> None:
        self.session = session
        store = session.store
        super().__init__(
            config={
                **config,
                "rows": len(session.df),
                "done": session.progress.noun,
                "store": None if store is None else shown_path(store.path),
            },
            progress=session.progress_dict(),
            **traits,
        )
        touch()  # the front end is about to ask for its first rows: background work waits

    @property
    def df(self) -> pd.DataFrame:
        """The DataFrame the widget writes into (the same object that was passed in)."""
        return self.session.df

    def _on_rows(self, msg: dict[str, Any]) -> dict[str, Any]:
        return self.session.rows(msg.get("start", 0), msg.get("count", 10), msg.get("filter"))

    def _on_cell(self, msg: dict[str, Any]) -> dict[str, Any]:
        return self.session.cell(msg.get("pos"), msg.get("field"), msg.get("offset", 0))

    def _on_undo(self, msg: dict[str, Any]) -> dict[str, Any]:
        change = self.session.undo()
        if change is None:
            return {"kind": "saved", "pos": None, "row": None, "undone": False, "nothing": True}
        return self._saved(change, undone=True)

    def _event(self, change: Change, *, undone: bool) -> dict[str, Any]:
        raise NotImplementedError

    def _saved(self, change: Change, *, undone: bool) -> dict[str, Any]:
        """The reply to a change; progress and ``saved`` travel once, as one trait update, before it."""
        s = self.session
        event = self._event(change, undone=undone)
        index = index_label(s.df.index[change.pos])
        row = s.row(change.pos)
        with self.hold_sync():  # progress and the saved count travel in one update message
            self.progress = s.progress_dict()
            saved = self._count_saved(
                {"index": index, "pos": int(change.pos), "undone": undone, **self._summary(change, row)}
            )
        return {
            "kind": "saved",
            "pos": change.pos,
            "index": index,
            "row": row,
            "undone": undone,
            "journaled": change.journaled,
            "advance": not undone and s.advances(change),
            "saved": saved,
            "_after": (lambda: self._notify(event)) if self._callbacks else None,
        }

    def _summary(self, change: Change, row: Mapping[str, Any]) -> dict[str, Any]:
        """What ``saved["last"]`` says of a change besides its row (small and JSON-safe)."""
        return {}

"""What every command shares: the program's name, user errors, checking the files a command was
given, and how a command opens a store or an API client."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

PROG = "hl-notebook"

#: The one-line hint when no API client can be built (no key in the environment).
NO_API_KEY = (
    "no API key: set OPENAI_API_KEY (and OPENAI_BASE_URL for another OpenAI-compatible server; "
    "any key for one that needs none)."
)


class CLIError(Exception):
    """A user error: printed as one line, exit code 2 unless given."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def describe_os_error(exc: OSError) -> str:
    """``cannot use 'x.jsonl': Permission denied.``: the file and the OS's reason, in one line."""
    reason = exc.strerror or str(exc)
    if exc.filename is None:  # e.g. stdout on a full disk
        return f"{reason}."
    return f"cannot use {os.fsdecode(exc.filename)!r}: {reason}."


def input_file(path: str, *, what: str = "file", option: str | None = None) -> Path:
    """``path`` checked to be a readable file (not missing, not a folder); else a `CLIError`."""
    given = Path(path).expanduser()
    where = f" (check {option})" if option else ""
    if not given.exists():
        raise CLIError(f"{path!r} does not exist; check the path{where}.")
    if given.is_dir():
        raise CLIError(f"{path!r} is a directory; pass a {what}{where}.")
    try:
        with open(given, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise CLIError(f"cannot read {path!r}: {exc.strerror or exc}{where}.") from None
    return given


def _check_store_location(path: str) -> None:
    """Say plainly when the store cannot be read or written, before SQLite says something vaguer."""
    if path == ":memory:" or "://" in path:
        return  # the store says what it accepts
    file = Path(path).expanduser()
    if file.is_dir():
        raise CLIError(f"store {path!r} is a directory; pass a file path for the store (--store).")
    folder = file.parent if str(file.parent) else Path(".")
    if file.exists():
        try:
            with open(file, "rb") as fh:
                fh.read(1)
        except OSError as exc:
            raise CLIError(f"cannot read store {path!r}: {exc.strerror or exc}.") from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise CLIError(
                f"cannot use store {path!r}: its folder is not writable, and SQLite keeps its "
                "-wal and -shm files beside the store. Copy the store somewhere writable."
            )
    else:
        existing = next((p for p in [folder, *folder.parents] if p.exists()), None)
        if existing is not None and not existing.is_dir():
            raise CLIError(f"cannot create store {path!r}: {str(existing)!r} is a file, not a folder.")
        if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
            raise CLIError(f"cannot create store {path!r}: {str(existing)!r} is not writable.")


def open_store(path: str):
    from .._store.store import Store

    _check_store_location(path)
    return Store(path)


def existing_store(path: str):
    """Open a store that must already exist (export, stats): a typo must not create a new file."""
    if path != ":memory:" and not Path(path).expanduser().exists():
        raise CLIError(f"store {path!r} does not exist; check the path (or --store).")
    return open_store(path)


def api_client() -> Any:
    """The openai client from OPENAI_API_KEY / OPENAI_BASE_URL, or a one-line hint."""
    from .._client import MissingClientError, default_client

    try:
        return default_client()
    except MissingClientError:
        raise CLIError(NO_API_KEY) from None


def store_argument(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    default = os.environ.get("HL_STORE")
    parser.add_argument(
        "--store",
        metavar="PATH",
        default=default,
        required=required and default is None,
        help="the SQLite store file" + (" (default: $HL_STORE)" if default else ""),
    )

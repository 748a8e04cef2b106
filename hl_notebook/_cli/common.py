"""What every command shares: the program's name, user errors, and how a command opens a store."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

PROG = "hl-notebook"


class CLIError(Exception):
    """A user error: printed as one line, exit code 2 unless given."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def open_store(path: str):
    from .._store.store import Store

    return Store(path)


def existing_store(path: str):
    """Open a store that must already exist (export, stats): a typo must not create a new file."""
    if path != ":memory:" and not Path(path).expanduser().exists():
        raise CLIError(f"store {path!r} does not exist; check the path (or --store).")
    return open_store(path)


def store_argument(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    default = os.environ.get("HL_STORE")
    parser.add_argument(
        "--store",
        metavar="PATH",
        default=default,
        required=required and default is None,
        help="the SQLite store file" + (" (default: $HL_STORE)" if default else ""),
    )

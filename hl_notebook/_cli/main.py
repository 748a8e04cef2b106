"""The ``hl-notebook`` command line: the parser and the entry point.

Each subcommand is registered by its own small ``add_<name>(subparsers)`` function (in
`store_commands`, `demo` and `finetune_commands`), which sets ``func`` to a handler
``(args) -> int``; add a command by writing one more and listing it in `SUBCOMMANDS`. User errors
print one line on stderr and exit non-zero, without a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .._schema import HLValueError
from . import demo, finetune_commands, serve_command, store_commands
from .common import PROG, CLIError

#: The subcommands, in the order ``--help`` lists them.
SUBCOMMANDS: list[Callable[[Any], None]] = [
    store_commands.add_export, store_commands.add_import, store_commands.add_stats, demo.add_demo,
    finetune_commands.add_validate, finetune_commands.add_finetune, finetune_commands.add_jobs,
    serve_command.add_serve,
]


def build_parser() -> argparse.ArgumentParser:
    from importlib.metadata import version

    __version__ = version("hl_notebook")

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Make LLM outputs better through human feedback: manage an hl_notebook store.",
        epilog=f"Run '{PROG} COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    from .._store.store import StoreError

    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except CLIError as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return exc.code
    except (HLValueError, StoreError) as exc:
        message = " ".join(str(exc).split("\n")[0].split())
        print(f"{PROG} {args.command}: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # stdout closed early (e.g. piped into head): not an error worth a traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

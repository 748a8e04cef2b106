"""The ``hl-notebook`` command line: the parser and the entry point.

Each subcommand is registered by its own small ``add_<name>(subparsers)`` function (in
`store_commands`, `demo` and `finetune_commands`), which sets ``func`` to a handler
``(args) -> int``; add a command by writing one more and listing it in `SUBCOMMANDS`. User errors
print one line on stderr and exit non-zero, without a traceback; so do a missing or unreadable
file, a closed pipe and Ctrl+C. Everything printed goes through `output.say`, which escapes
control characters in data.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from . import demo, finetune_commands, serve_command, store_commands
from .common import PROG, CLIError, describe_os_error
from .output import HelpFormatter, warn

#: The subcommands, in the order ``--help`` lists them.
SUBCOMMANDS: list[Callable[[Any], None]] = [
    store_commands.add_export, store_commands.add_import, store_commands.add_stats, demo.add_demo,
    finetune_commands.add_validate, finetune_commands.add_finetune, finetune_commands.add_jobs,
    serve_command.add_serve,
]


class Parser(argparse.ArgumentParser):
    """argparse with its errors escaped (they quote what was typed) and help wrapped by columns."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        warn(f"{self.prog}: error: {message}")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    from importlib.metadata import version

    __version__ = version("hl_notebook")

    parser = Parser(
        prog=PROG,
        description="Make LLM outputs better through human feedback: manage an hl_notebook store.",
        epilog=f"Run '{PROG} COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(subparsers)
    return parser


def _safe_streams() -> None:
    """Text that the terminal's encoding cannot hold is shown escaped instead of failing."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def _first_line(exc: BaseException) -> str:
    return " ".join(str(exc).split("\n")[0].split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    command = PROG
    try:
        _safe_streams()
        parser = build_parser()
        args = parser.parse_args(argv)
        if getattr(args, "func", None) is None:
            parser.print_help(sys.stderr)
            return 2
        command = f"{PROG} {args.command}"
        return _run(args, command)
    except SystemExit as exc:  # argparse: --help, --version, or a usage error (printed already)
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    except KeyboardInterrupt:
        warn(f"\n{command}: interrupted")
        return 130
    except BrokenPipeError:
        # stdout closed early (e.g. piped into head): not an error worth a traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _run(args: argparse.Namespace, command: str) -> int:
    import warnings

    from .._schema import HLValueError
    from .._store.store import StoreError

    def show_warning(message: Any, category: Any, *rest: Any, **kwargs: Any) -> None:
        warn(f"{command}: warning: {message}")

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show_warning  # one escaped line, not Python's source excerpt
            return int(args.func(args) or 0)
    except CLIError as exc:
        warn(f"{command}: error: {exc}")
        return exc.code
    except (HLValueError, StoreError) as exc:
        warn(f"{command}: error: {_first_line(exc)}")
        return 2
    except BrokenPipeError:
        raise
    except OSError as exc:  # a file that cannot be read or written, a full disk...
        warn(f"{command}: error: {describe_os_error(exc)}")
        return 1


__all__ = ["build_parser", "main"]


if __name__ == "__main__":
    raise SystemExit(main())

"""The ``hl-notebook`` command line: export, import, stats and demo.

Each subcommand is registered by its own small ``_add_<name>(subparsers)`` function, which sets
``func`` to a handler ``(args) -> int``; add a command by writing one more and listing it in
`SUBCOMMANDS`. User errors print one line on stderr and exit non-zero, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .._schema import HLValueError

PROG = "hl-notebook"


class CLIError(Exception):
    """A user error: printed as one line, exit code 2 unless given."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def _open_store(path: str):
    from .._store.store import Store

    return Store(path)


def _existing_store(path: str):
    """Open a store that must already exist (export, stats): a typo must not create a new file."""
    if path != ":memory:" and not Path(path).expanduser().exists():
        raise CLIError(f"store {path!r} does not exist; check the path (or --store).")
    return _open_store(path)


def _store_argument(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    default = os.environ.get("HL_STORE")
    parser.add_argument(
        "--store",
        metavar="PATH",
        default=default,
        required=required and default is None,
        help="the SQLite store file" + (" (default: $HL_STORE)" if default else ""),
    )


# -- export ---------------------------------------------------------------------------------


def _add_export(subparsers: Any) -> None:
    from .._finetune import export as _export  # noqa: F401 - registers the fine-tuning formats (openai-sft, openai-dpo, trl)
    from .._store.files import EXPORT_FORMATS

    formats = "\n".join(f"  {name:<9} {spec.help}" for name, spec in EXPORT_FORMATS.items())
    p = subparsers.add_parser(
        "export",
        help="write every log and its latest feedback to a file or stdout",
        description=(
            "Write one row per log with its latest feedback (the columns of store.to_pandas()).\n"
            f"Formats:\n{formats}"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _store_argument(p)
    p.add_argument("--format", "-f", required=True, choices=sorted(EXPORT_FORMATS), metavar="FORMAT",
                   help=f"one of {', '.join(EXPORT_FORMATS)}")
    p.add_argument("--labelled-only", action="store_true",
                   help="only logs with feedback (a label, rating, correction or comment)")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.set_defaults(func=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    from .._store.files import EXPORT_FORMATS

    spec = EXPORT_FORMATS[args.format]
    if args.output is None and spec.binary and sys.stdout.isatty():
        raise CLIError(
            f"{args.format} is a binary format and stdout is a terminal; pass -o FILE or "
            "redirect stdout to a file."
        )
    store = _existing_store(args.store)
    try:
        frame = store.to_pandas(labelled_only=args.labelled_only)
    finally:
        store.close()
    if args.output is None:
        out = sys.stdout.buffer
        spec.write(frame, out)
        out.flush()
    else:
        target = Path(args.output)
        partial = target.with_name(target.name + ".partial")
        try:
            with open(partial, "wb") as fh:
                spec.write(frame, fh)
            os.replace(partial, target)
        except FileNotFoundError:
            raise CLIError(f"cannot write {args.output!r}: its folder does not exist.") from None
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise CLIError(f"cannot write {args.output!r}: {exc.strerror or exc}.") from None
        print(f"exported {len(frame)} logs to {target}", file=sys.stderr)
    return 0


# -- import ---------------------------------------------------------------------------------


def _add_import(subparsers: Any) -> None:
    from .._store.files import IMPORT_FORMATS

    p = subparsers.add_parser(
        "import",
        help="add the logs and feedback of a JSONL, CSV or Parquet file to a store",
        description=(
            "Add the logs (and their feedback) in FILE to the store. Each record needs 'prompt' and\n"
            "'completion'; log_id, created_at, model, prompt_version, messages, inputs, metadata,\n"
            "label, rating, correction, comment, annotator and labelled_at are used when present,\n"
            "other fields are kept in inputs. Bad records are reported by line (Parquet: row) and\n"
            "skipped; good ones are written. Records whose log_id is already stored are left alone,\n"
            "so importing the same file twice is harmless. Exit code 1 when anything was rejected."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", help="the file to import ('-' reads stdin; then pass --format)")
    _store_argument(p)
    p.add_argument("--format", "-f", choices=sorted(IMPORT_FORMATS), metavar="FORMAT",
                   help=f"one of {', '.join(IMPORT_FORMATS)} (default: from the file's extension)")
    p.add_argument("--add-label", action="append", default=[], metavar="LABEL",
                   help="allow this label in the store before importing (repeatable)")
    p.add_argument("--max-errors", type=int, default=20, metavar="N",
                   help="print at most N rejected records (default 20; all are counted)")
    p.set_defaults(func=_run_import)


def _run_import(args: argparse.Namespace) -> int:
    from .._store.files import import_file

    if args.file == "-":
        if args.format is None:
            raise CLIError("reading stdin needs --format jsonl|csv|parquet.")
        stream = sys.stdin.buffer
    else:
        if not Path(args.file).exists():
            raise CLIError(f"{args.file!r} does not exist; check the path.")
        stream = None
    store = _open_store(args.store)
    try:
        if args.add_label:
            store.extend_vocabulary(labels=args.add_label)
        result = import_file(args.file, store, format=args.format, stream=stream)
    finally:
        store.close()
    name = "<stdin>" if args.file == "-" else args.file
    for where, message in result.rejected[: max(args.max_errors, 0)]:
        if "not in the label vocabulary" in message:
            message += " Here: pass --add-label LABEL to allow it."
        print(f"{name}: {where}: {message}", file=sys.stderr)
    hidden = len(result.rejected) - max(args.max_errors, 0)
    if hidden > 0:
        print(f"{name}: ... and {hidden} more rejected records", file=sys.stderr)
    if result.rejected:
        print(
            f"{name}: fix or remove the rejected records and import the file again; records "
            "whose log_id is already in the store are skipped.",
            file=sys.stderr,
        )
    print(f"{result.summary()} ({name} -> {args.store})")
    return 1 if result.rejected else 0


# -- stats ----------------------------------------------------------------------------------


def _add_stats(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "stats",
        help="count logs by label, model and prompt version, and feedback by annotator",
        description="Count the logs by label, model and prompt_version, and feedback by annotator.",
    )
    _store_argument(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.set_defaults(func=_run_stats)


def _table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[("(none)" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[k]) for r in cells]) for k, h in enumerate(header)]

    def line(values: Sequence[str]) -> str:
        first = values[0].ljust(widths[0])
        rest = [v.rjust(w) for v, w in zip(values[1:], widths[1:], strict=False)]
        return "  ".join([first, *rest]).rstrip()

    body = [line(header), line(["-" * w for w in widths])] + [line(r) for r in cells]
    if not rows:
        body.append("(nothing yet)")
    return f"{title}\n" + "\n".join("  " + b for b in body)


def _run_stats(args: argparse.Namespace) -> int:
    from .._store.files import annotator_counts, group_counts

    store = _existing_store(args.store)
    try:
        total = len(store)
        events = int(store._read("SELECT count(*) FROM feedback")[0][0])
        labelled = int(
            store._read(
                "SELECT count(*) FROM logs WHERE label IS NOT NULL OR rating IS NOT NULL "
                "OR correction IS NOT NULL OR comment IS NOT NULL"
            )[0][0]
        )
        groups = {c: group_counts(store, c) for c in ("label", "model", "prompt_version")}
        annotators = annotator_counts(store)
    finally:
        store.close()
    if args.json:
        out = {
            "store": str(Path(args.store).expanduser().resolve()),
            "logs": total,
            "labelled": labelled,
            "feedback_events": events,
            **{c: [{c: v, "logs": n} for v, n in rows] for c, rows in groups.items()},
            "annotator": [{"annotator": a, "events": e, "logs": n} for a, e, n in annotators],
        }
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    pct = f" ({labelled / total:.0%})" if total else ""
    parts = [
        f"{args.store}: {total} logs, {labelled} with feedback{pct}, {events} feedback events",
        _table("by label (latest)", ["label", "logs"], groups["label"]),
        _table("by model", ["model", "logs"], groups["model"]),
        _table("by prompt_version", ["prompt_version", "logs"], groups["prompt_version"]),
        _table("by annotator (all events)", ["annotator", "events", "logs"], annotators),
    ]
    print("\n\n".join(parts))
    return 0


# -- demo -----------------------------------------------------------------------------------


def _add_demo(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo",
        help="load the sample data into a store and open the quickstart notebook in JupyterLab",
        description=(
            "Put the shipped sample data (real human preferences) into a store, then open\n"
            "examples/quickstart.ipynb in JupyterLab with HL_STORE set to that store. Running it\n"
            "again adds nothing twice. With --no-browser it prints the URL and serves until Ctrl+C."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--store", metavar="PATH", default=None,
                   help="the store to fill (default: $HL_STORE, else hl_feedback.sqlite here)")
    p.add_argument("--no-browser", action="store_true", help="print the URL instead of opening a browser")
    p.add_argument("--port", type=int, default=None, metavar="N", help="the port (default: a free one)")
    p.add_argument("--notebook", metavar="PATH", default=None,
                   help="the notebook to open (default: examples/quickstart.ipynb)")
    p.set_defaults(func=_run_demo)


def find_notebook(given: str | None) -> Path:
    """The notebook to open: ``given``, else examples/quickstart.ipynb near here or the checkout."""
    if given is not None:
        path = Path(given).expanduser()
        if not path.is_file():
            raise CLIError(f"notebook {given!r} does not exist; check --notebook.")
        return path.resolve()
    candidates = [
        Path.cwd() / "examples" / "quickstart.ipynb",
        Path.cwd() / "quickstart.ipynb",
        Path(__file__).resolve().parents[2] / "examples" / "quickstart.ipynb",
    ]
    for path in candidates:
        if path.is_file():
            return path.resolve()
    raise CLIError(
        "cannot find examples/quickstart.ipynb (looked in "
        + ", ".join(str(c.parent) for c in candidates)
        + "); run from the hl_notebook checkout or pass --notebook PATH."
    )


def load_demo_data(store: Any) -> int:
    """Log the shipped samples into ``store`` with fixed ids; return how many logs were new."""
    import pandas as pd

    from .. import datasets

    before = len(store)
    hh = datasets.load_sample("hh_harmless", kind="logs")
    hh_ids = [
        f"sample-{p}-{'chosen' if lab == '👍' else 'rejected'}" for p, lab in zip(hh["pair_id"], hh["label"], strict=False)
    ]
    frames = [
        pd.DataFrame(
            {
                "log_id": hh_ids,
                "prompt": hh["prompt"],
                "completion": hh["completion"],
                "label": hh["label"],
                "annotator": "hh-rlhf crowdworker",
                "metadata": [{"sample": "hh_harmless", "pair_id": p, "source": s}
                             for p, s in zip(hh["pair_id"], hh["source"], strict=False)],
            }
        )
    ]
    pl = datasets.load_sample("pandalm", kind="logs")
    side = ["a", "b"] * (len(pl) // 2)
    frames.append(
        pd.DataFrame(
            {
                "log_id": [f"sample-{p}-{s}" for p, s in zip(pl["pair_id"], side, strict=False)],
                "prompt": pl["prompt"],
                "completion": pl["completion"],
                "model": pl["model"],
                "metadata": [{"sample": "pandalm", "pair_id": p, "source": s}
                             for p, s in zip(pl["pair_id"], pl["source"], strict=False)],
            }
        )
    )
    for frame in frames:
        store.log_many(frame, if_exists="skip", source="sample")
    return len(store) - before


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(proc: subprocess.Popen, url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CLIError(f"JupyterLab exited early (code {proc.returncode}); see its messages above.")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise CLIError(f"JupyterLab did not answer within {timeout:.0f} s.")


def _run_demo(args: argparse.Namespace) -> int:
    import importlib.util

    notebook = find_notebook(args.notebook)
    if importlib.util.find_spec("jupyterlab") is None:
        raise CLIError('JupyterLab is not installed; pip install "hl_notebook[dev]" or jupyterlab.')
    location = args.store or os.environ.get("HL_STORE") or "hl_feedback.sqlite"
    store = _open_store(location)
    try:
        added = load_demo_data(store)
        total = len(store)
        path = str(store.path)
    finally:
        store.close()
    print(f"store {path}: {total} logs ({added} new from the shipped samples)", flush=True)
    port = args.port or _free_port()
    token = secrets.token_hex(24)
    root = notebook.parent
    env = {**os.environ, "HL_STORE": path}
    command = [
        sys.executable, "-m", "jupyterlab",
        f"--ServerApp.root_dir={root}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        "--log-level=WARN",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers often run as root
        command.append("--allow-root")
    if args.no_browser:
        command.append("--no-browser")
    command.append(notebook.name)
    proc = subprocess.Popen(command, env=env, cwd=root)

    def _stop(signum: int, frame: Any) -> None:  # SIGTERM: stop JupyterLab too, then exit
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, f"{base}/api/status?token={token}", timeout=120)
        print(f"JupyterLab is serving {notebook}", flush=True)
        print(f"URL: {base}/lab/tree/{notebook.name}?token={token}", flush=True)
        print("Press Ctrl+C to stop.", flush=True)
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# -- fine-tuning: validate, finetune, jobs (issue 6) ------------------------------------------


def _add_validate(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "validate",
        help="check a fine-tuning JSONL file (errors by line, token statistics, estimated cost)",
        description="Check FILE the way the fine-tuning API will; exit code 1 when it has errors.",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--method", choices=["supervised", "dpo"], default=None,
                   help="the file's format (default: from its first line)")
    p.add_argument("--model", default=None, help="the model to price and count tokens for (default gpt-4o-mini)")
    p.set_defaults(func=_run_validate)


def _run_validate(args: argparse.Namespace) -> int:
    from .._finetune.validate import validate_finetune_file

    report = validate_finetune_file(args.file, method=args.method, model=args.model)
    print(repr(report))
    return 0 if report.ok else 1


def _finetune_client():
    from .._finetune.jobs import FineTuneError, _default_client

    try:
        return _default_client()
    except FineTuneError as exc:
        raise CLIError(str(exc)) from None


def _add_finetune(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "finetune",
        help="validate FILE, upload it and start a fine-tuning job (OPENAI_API_KEY, OPENAI_BASE_URL)",
        description=(
            "Validate FILE, upload it and start a fine-tuning job on the API given by OPENAI_BASE_URL\n"
            "(default OpenAI) with OPENAI_API_KEY. An invalid file is never uploaded."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--model", required=True, help="the base model, e.g. gpt-4o-mini-2024-07-18")
    p.add_argument("--method", choices=["supervised", "dpo"], default="supervised")
    p.add_argument("--suffix", default=None, help="added to the fine-tuned model's name")
    p.add_argument("--validation-file", default=None, metavar="FILE")
    p.add_argument("--epochs", type=int, default=None, metavar="N")
    p.add_argument("--dry-run", action="store_true", help="validate and show what would be sent; upload nothing")
    p.add_argument("--wait", action="store_true", help="follow the job until it ends")
    p.set_defaults(func=_run_finetune)


def _run_finetune(args: argparse.Namespace) -> int:
    from .._finetune.jobs import FineTuneError, finetune

    client = None if args.dry_run else _finetune_client()
    hp = {"n_epochs": args.epochs} if args.epochs else None
    try:
        job = finetune(args.file, model=args.model, method=args.method, client=client, suffix=args.suffix,
                       hyperparameters=hp, validation=args.validation_file, dry_run=args.dry_run)
        if args.dry_run:
            print(job._text())
            return 0
        print(f"started {job.id} ({job.status}); follow it with: {PROG} jobs {job.id} --events")
        if args.wait:
            job.wait(poll_interval=10)
            print(f"{job.id} {job.status}: {job.fine_tuned_model}")
    except HLValueError as exc:  # an invalid file: show every listed line, not only the first
        raise CLIError(str(exc), code=1) from None
    except FineTuneError as exc:
        raise CLIError(str(exc), code=1) from None
    return 0


def _add_jobs(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "jobs",
        help="list fine-tuning jobs, or show one (OPENAI_API_KEY, OPENAI_BASE_URL)",
        description="List recent fine-tuning jobs, or show job ID (with --events, its events).",
    )
    p.add_argument("id", nargs="?", metavar="ID")
    p.add_argument("--events", action="store_true", help="print the job's events")
    p.add_argument("--limit", type=int, default=20, metavar="N", help="jobs to list (default 20)")
    p.set_defaults(func=_run_jobs)


def _run_jobs(args: argparse.Namespace) -> int:
    from .._finetune.jobs import FineTuneError, FineTuneJob

    client = _finetune_client()
    try:
        if args.id is None:
            if args.events:
                raise CLIError("--events needs a job ID.")
            rows = [(j.id, j.status, j.model, j.fine_tuned_model or "")
                    for j in client.fine_tuning.jobs.list(limit=args.limit).data]
            print(_table("fine-tuning jobs (newest first)", ["id", "status", "model", "fine_tuned_model"], rows))
            return 0
        job = FineTuneJob.attach(args.id, client=client)
        print(repr(job))
        if args.events:
            for ev in job.events().itertuples(index=False):
                print(f"  {ev.created_at:%Y-%m-%d %H:%M:%S}  {ev.level:<5}  {ev.message}")
    except FineTuneError as exc:
        raise CLIError(str(exc), code=1) from None
    return 0


# -- main -----------------------------------------------------------------------------------

#: The subcommands, in the order ``--help`` lists them.
SUBCOMMANDS: list[Callable[[Any], None]] = [
    _add_export, _add_import, _add_stats, _add_demo, _add_validate, _add_finetune, _add_jobs
]


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

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

"""``hl-notebook export``, ``import`` and ``stats``: a store's data in and out, and its counts."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from .common import CLIError, existing_store, open_store, store_argument
from .formats import EXPORT_FORMATS
from .output import table

# -- export ---------------------------------------------------------------------------------


def add_export(subparsers: Any) -> None:
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
    store_argument(p)
    p.add_argument("--format", "-f", required=True, choices=sorted(EXPORT_FORMATS), metavar="FORMAT",
                   help=f"one of {', '.join(EXPORT_FORMATS)}")
    p.add_argument("--labelled-only", action="store_true",
                   help="only logs with feedback (a label, rating, correction or comment)")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.set_defaults(func=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    spec = EXPORT_FORMATS[args.format]
    if args.output is None and spec.binary and sys.stdout.isatty():
        raise CLIError(
            f"{args.format} is a binary format and stdout is a terminal; pass -o FILE or "
            "redirect stdout to a file."
        )
    store = existing_store(args.store)
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


def add_import(subparsers: Any) -> None:
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
    store_argument(p)
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
    store = open_store(args.store)
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


def add_stats(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "stats",
        help="count logs by label, model and prompt version, and feedback by annotator",
        description="Count the logs by label, model and prompt_version, and feedback by annotator.",
    )
    store_argument(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.set_defaults(func=_run_stats)

def _run_stats(args: argparse.Namespace) -> int:
    from .._store.files import annotator_counts, group_counts

    store = existing_store(args.store)
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
        table("by label (latest)", ["label", "logs"], groups["label"]),
        table("by model", ["model", "logs"], groups["model"]),
        table("by prompt_version", ["prompt_version", "logs"], groups["prompt_version"]),
        table("by annotator (all events)", ["annotator", "events", "logs"], annotators),
    ]
    print("\n\n".join(parts))
    return 0

"""``hl-notebook export``, ``import`` and ``stats``: a store's data in and out, and its counts."""

from __future__ import annotations

import argparse
import codecs
import io
import json
import os
import sys
from pathlib import Path
from typing import IO, Any, cast

from .common import CLIError, existing_store, input_file, open_store, store_argument
from .formats import EXPORT_FORMATS
from .output import definitions, escape, say, table, warn

# -- export ---------------------------------------------------------------------------------


def add_export(subparsers: Any) -> None:
    formats = definitions((name, spec.help) for name, spec in EXPORT_FORMATS.items())
    p = subparsers.add_parser(
        "export",
        help="write every log and its latest feedback to a file or stdout",
        description=(
            "Write one row per log with its latest feedback (the columns of store.to_pandas()),\n"
            f"or fine-tuning examples made from them. Formats:\n{formats}"
        ),
    )
    store_argument(p)
    p.add_argument("--format", "-f", required=True, choices=list(EXPORT_FORMATS), metavar="FORMAT",
                   help=f"one of {', '.join(EXPORT_FORMATS)}")
    p.add_argument("--labelled-only", action="store_true",
                   help="only logs with feedback (a label, rating, correction or comment)")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.set_defaults(func=_run_export)


class _TerminalSink(io.RawIOBase):
    """A binary stream that shows UTF-8 text on a terminal with control characters escaped.

    The export formats write bytes; on a terminal those bytes are display, so an ESC in a
    completion must not reach it. Line ends (``\\n``, CSV's ``\\r\\n``) stay line ends.
    """

    def __init__(self, out: IO[str]) -> None:
        super().__init__()
        self._out = out
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        self._cr = False  # the last chunk ended in a carriage return: maybe half of CR LF

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._show(self._decoder.decode(bytes(data)))
        return len(data)

    def _show(self, text: str) -> None:
        if self._cr:
            text = "\r" + text
            self._cr = False
        if text.endswith("\r"):
            text, self._cr = text[:-1], True
        self._out.write(escape(text.replace("\r\n", "\n")))

    def close(self) -> None:
        if not self.closed:
            self._show(self._decoder.decode(b"", final=True))
            if self._cr:
                self._out.write(escape("\r"))
                self._cr = False
            self._out.flush()
        super().close()


def _run_export(args: argparse.Namespace) -> int:
    spec = EXPORT_FORMATS[args.format]
    if args.output is None and spec.binary and sys.stdout.isatty():
        raise CLIError(
            f"{args.format} is a binary format and stdout is a terminal; pass -o FILE or "
            "redirect stdout to a file."
        )
    target = None
    if args.output is not None:
        target = Path(args.output).expanduser()
        if target.is_dir():
            raise CLIError(f"-o {args.output!r} is a directory; pass a file name, e.g. "
                           f"{str(target / ('feedback' + spec.suffix))!r}.")
        if not target.parent.is_dir():
            raise CLIError(f"cannot write {args.output!r}: its folder does not exist.")
    store = existing_store(args.store)
    try:
        frame = store.to_pandas(labelled_only=args.labelled_only)
    finally:
        store.close()
    if target is None:
        if sys.stdout.isatty():
            sys.stdout.flush()
            with _TerminalSink(sys.stdout) as sink:
                written = spec.write(frame, cast(IO[bytes], sink))
        else:
            written = spec.write(frame, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        where = "stdout"
    else:
        partial = target.with_name(target.name + ".partial")
        try:
            with open(partial, "wb") as fh:
                written = spec.write(frame, fh)
            os.replace(partial, target)
        except OSError as exc:
            raise CLIError(f"cannot write {args.output!r}: {exc.strerror or exc}.") from None
        finally:
            partial.unlink(missing_ok=True)
        where = str(args.output)
    if written.report is not None:
        warn(repr(written.report).replace(str(written.report.path), where))
    source = f" (from {len(frame)} logs)" if written.unit != "logs" else ""
    warn(f"exported {written.count} {written.unit}{source} to {where}")
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
        input_file(args.file, what="JSONL, CSV or Parquet file")
        if args.format is None and _looks_like_sqlite(args.file):
            raise CLIError(
                f"{args.file!r} is an SQLite file (a store?); import reads JSONL, CSV or Parquet. "
                f"To copy a store, run: hl-notebook export --store {args.file} --format jsonl "
                "-o logs.jsonl, then import logs.jsonl."
            )
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
        warn(f"{name}: {where}: {message}")
    hidden = len(result.rejected) - max(args.max_errors, 0)
    if hidden > 0:
        warn(f"{name}: ... and {hidden} more rejected records")
    if result.rejected:
        warn(
            f"{name}: fix or remove the rejected records and import the file again; records "
            "whose log_id is already in the store are skipped."
        )
    say(f"{result.summary()} ({name} -> {args.store})")
    return 1 if result.rejected else 0


def _looks_like_sqlite(path: str) -> bool:
    with open(path, "rb") as fh:
        return fh.read(16) == b"SQLite format 3\x00"


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
        say(safe_json(out))
        return 0
    pct = f" ({labelled / total:.0%})" if total else ""
    parts = [
        f"{args.store}: {total} logs, {labelled} with feedback{pct}, {events} feedback events",
        table("by label (latest)", ["label", "logs"], groups["label"]),
        table("by model", ["model", "logs"], groups["model"]),
        table("by prompt_version", ["prompt_version", "logs"], groups["prompt_version"]),
        table("by annotator (all events)", ["annotator", "events", "logs"], annotators),
    ]
    say("\n\n".join(parts))
    return 0


def safe_json(value: Any) -> str:
    """JSON text with every character that could drive a terminal written as a ``\\u`` escape.

    The same JSON value as ``json.dumps(value, ensure_ascii=False)``: parsers read it back exact.
    """
    text = json.dumps(value, ensure_ascii=False, indent=2)
    return "".join(f"\\u{ord(c):04x}" if c != "\n" and escape(c) != c else c for c in text)

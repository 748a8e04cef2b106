"""``hl-notebook validate``, ``finetune`` and ``jobs``: fine-tuning files and jobs."""

from __future__ import annotations

import argparse
from typing import Any

from .._schema import HLValueError
from .common import PROG, CLIError
from .output import table


def add_validate(subparsers: Any) -> None:
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
    from .._client import MissingClientError, default_client

    try:
        return default_client()
    except MissingClientError as exc:
        raise CLIError(str(exc)) from None


def add_finetune(subparsers: Any) -> None:
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


def add_jobs(subparsers: Any) -> None:
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
            print(table("fine-tuning jobs (newest first)", ["id", "status", "model", "fine_tuned_model"], rows))
            return 0
        job = FineTuneJob.attach(args.id, client=client)
        print(repr(job))
        if args.events:
            for ev in job.events().itertuples(index=False):
                print(f"  {ev.created_at:%Y-%m-%d %H:%M:%S}  {ev.level:<5}  {ev.message}")
    except FineTuneError as exc:
        raise CLIError(str(exc), code=1) from None
    return 0

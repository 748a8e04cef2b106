"""``hl-notebook validate``, ``finetune`` and ``jobs``: fine-tuning files and jobs."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .common import PROG, CLIError, api_client, input_file
from .output import say, table, warn


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

    input_file(args.file, what="JSONL file (e.g. from hl-notebook export --format openai-sft)")
    report = validate_finetune_file(args.file, method=args.method, model=args.model)
    say(repr(report))
    return 0 if report.ok else 1


def add_finetune(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "finetune",
        help="validate FILE, upload it and start a fine-tuning job (OPENAI_API_KEY, OPENAI_BASE_URL)",
        description=(
            "Validate FILE, upload it and start a fine-tuning job on the API given by OPENAI_BASE_URL\n"
            "(default OpenAI) with OPENAI_API_KEY. An invalid file is never uploaded."
        ),
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--model", required=True, help="the base model, e.g. gpt-4o-mini-2024-07-18")
    p.add_argument("--method", choices=["supervised", "dpo"], default="supervised")
    p.add_argument("--suffix", default=None, help="added to the fine-tuned model's name")
    p.add_argument("--validation-file", default=None, metavar="FILE")
    p.add_argument("--epochs", type=int, default=None, metavar="N")
    p.add_argument("--dry-run", action="store_true", help="validate and show what would be sent; upload nothing")
    p.add_argument("--wait", action="store_true",
                   help="follow the job, printing its events, until it ends (Ctrl+C stops following)")
    p.add_argument("--poll", type=float, default=10.0, metavar="SECONDS",
                   help="with --wait: seconds between checks (default 10)")
    p.set_defaults(func=_run_finetune)


def _run_finetune(args: argparse.Namespace) -> int:
    from .._finetune.jobs import finetune

    input_file(args.file, what="JSONL file")
    if args.validation_file is not None:
        input_file(args.validation_file, what="JSONL file", option="--validation-file")
    if args.poll < 0:
        raise CLIError(f"--poll must be a number of seconds >= 0; got {args.poll:g}.")
    client = None if args.dry_run else api_client()
    hp = {"n_epochs": args.epochs} if args.epochs else None
    with _api_errors(client):
        job = finetune(args.file, model=args.model, method=args.method, client=client, suffix=args.suffix,
                       hyperparameters=hp, validation=args.validation_file, dry_run=args.dry_run)
    if args.dry_run:
        say(job._text())
        return 0
    if args.wait:
        return _follow(job, client, poll=args.poll)
    say(_started(job))
    return 0


def _started(job: Any) -> str:
    return f"started {job.id} ({job.status}); follow it with: {PROG} jobs {job.id} --events"


def _follow(job: Any, client: Any, *, poll: float) -> int:
    """Print the job's events as they come until it ends; Ctrl+C stops following, not the job."""
    shown = 0
    try:
        say(_started(job))
        with _api_errors(client):
            while True:
                events = job.events()
                for ev in events.iloc[shown:].itertuples(index=False):
                    say(_event_line(ev))
                shown = len(events)
                if job.done:
                    break
                time.sleep(poll)
                job.refresh()
    except KeyboardInterrupt:
        warn(f"\nstopped following {job.id}; the job keeps running on the server. Follow it again "
             f"with: {PROG} jobs {job.id} --events")
        return 130
    if job.status != "succeeded":
        message = (job.error or {}).get("message")
        raise CLIError(
            f"fine-tuning job {job.id} {job.status}" + (f": {message}" if message else "")
            + f"; its events: {PROG} jobs {job.id} --events",
            code=1,
        )
    say(f"{job.id} {job.status}: {job.fine_tuned_model}")
    return 0


def _event_line(ev: Any) -> str:
    when = ev.created_at
    stamp = when.strftime("%Y-%m-%d %H:%M:%S") if hasattr(when, "strftime") and when == when else "-"
    return f"  {stamp}  {ev.level!s:<7}  {ev.message}"


@contextmanager
def _api_errors(client: Any) -> Iterator[None]:
    """The API's errors as one `CLIError`: the job's own words, or the SDK's, key scrubbed."""
    import openai

    from .._finetune.jobs import FineTuneError
    from .._schema import HLValueError

    try:
        yield
    except (HLValueError, FineTuneError) as exc:  # an invalid file keeps every listed line
        raise CLIError(str(exc), code=1) from None
    except openai.OpenAIError as exc:
        raise CLIError(_sdk_error(exc, client), code=1) from None


def _sdk_error(exc: BaseException, client: Any) -> str:
    import openai

    from .._client import describe_error, endpoint, secret_of

    secret = secret_of(client)
    where = endpoint(client) if client is not None else "the API"
    text = describe_error(exc, secret)
    if isinstance(exc, openai.AuthenticationError):
        return f"{where} refused the API key ({text}); check OPENAI_API_KEY and OPENAI_BASE_URL."
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot reach {where} ({text}); check OPENAI_BASE_URL and that the server is up."
    return f"{where} answered: {text}"


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
    from .._finetune.jobs import FineTuneJob

    if args.id is None and args.events:
        raise CLIError("--events needs a job ID.")
    client = api_client()
    with _api_errors(client):
        if args.id is None:
            rows = [(j.id, j.status, j.model, j.fine_tuned_model or "")
                    for j in client.fine_tuning.jobs.list(limit=args.limit).data]
            say(table("fine-tuning jobs (newest first)", ["id", "status", "model", "fine_tuned_model"], rows))
            return 0
        job = FineTuneJob.attach(args.id, client=client)
        say(repr(job))
        if args.events:
            for ev in job.events().itertuples(index=False):
                say(_event_line(ev))
    return 0

"""Launch and follow fine-tuning jobs on any OpenAI-compatible API: `finetune` and `FineTuneJob`.

Only the ``openai`` SDK's public methods are used (``files.create``, ``fine_tuning.jobs.create /
retrieve / list_events / cancel``, ``fine_tuning.jobs.checkpoints.list``), so OpenAI, Azure
OpenAI (``openai.AzureOpenAI``) and compatible providers (``openai.OpenAI(base_url=...)``) all
work. The training file is validated first; an invalid file is never uploaded. The API key is
never read, stored or shown by this module: the client keeps it.
"""

from __future__ import annotations

import html
import io
import json
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .._client import default_client, endpoint, server_message
from .._schema import HLValueError, describe, suggest

if TYPE_CHECKING:
    import pandas as pd

    from .validate import ValidationReport

__all__ = ["FineTuneError", "FineTuneJob", "finetune"]

Method = Literal["supervised", "dpo"]
TERMINAL = ("succeeded", "failed", "cancelled")
HYPERPARAMETERS: dict[str, tuple[str, ...]] = {
    "supervised": ("n_epochs", "batch_size", "learning_rate_multiplier"),
    "dpo": ("n_epochs", "batch_size", "learning_rate_multiplier", "beta"),
}


class FineTuneError(RuntimeError):
    """A fine-tuning request or job that failed; ``job_id`` names the job when there is one."""

    def __init__(self, message: str, *, job_id: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.code = code


def _check_hyperparameters(hp: Any, method: str) -> dict[str, Any]:
    if hp is None:
        return {}
    if not isinstance(hp, dict):
        raise HLValueError(f"hyperparameters must be a dict such as {{'n_epochs': 3}}; got {describe(hp)}.")
    allowed = HYPERPARAMETERS[method]
    for k, v in hp.items():
        if k not in allowed:
            hint = suggest(str(k), allowed)
            raise HLValueError(
                f"hyperparameters has {k!r}, which {method} fine-tuning does not take; allowed: {list(allowed)}."
                + (f" Did you mean {hint!r}?" if hint else "")
            )
        if v != "auto" and (isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0):
            raise HLValueError(f"hyperparameters[{k!r}] must be 'auto' or a positive number; got {describe(v)}.")
        if k in ("n_epochs", "batch_size") and v != "auto" and not float(v).is_integer():
            raise HLValueError(f"hyperparameters[{k!r}] must be a whole number; got {v!r}.")
    return dict(hp)


def _as_file(data: Any, method: Method, name: str, workdir: Path | None) -> tuple[Path, Any]:
    """A path to a JSONL file for ``data`` (a path, or a DataFrame exported with `to_openai`)."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        from .export import to_openai

        folder = workdir or Path(tempfile.mkdtemp(prefix="hl-finetune-"))
        path = folder / f"{name}.jsonl"
        return path, to_openai(data, path, method=method)
    if isinstance(data, (str, os.PathLike)):
        return Path(data), None
    raise HLValueError(
        f"{name} must be a JSONL path or a DataFrame of labelled rows; got {describe(data)}."
    )


def finetune(
    data: str | os.PathLike[str] | pd.DataFrame,
    *,
    model: str,
    method: Method = "supervised",
    client: Any = None,
    suffix: str | None = None,
    hyperparameters: dict[str, Any] | None = None,
    validation: str | os.PathLike[str] | pd.DataFrame | None = None,
    seed: int | None = None,
    dry_run: bool = False,
) -> FineTuneJob:
    """Validate a training file, upload it and start a fine-tuning job.

    Parameters
    ----------
    data : path or DataFrame
        A JSONL file (e.g. from `hl.to_openai`) or labelled rows (exported with `hl.to_openai`).
    model : str
        The base model, e.g. ``"gpt-4o-mini-2024-07-18"`` (a deployment's base model on Azure).
    method : {"supervised", "dpo"}
        Sent as ``method={"type": method, method: {"hyperparameters": ...}}``.
    client : openai.OpenAI or openai.AzureOpenAI, optional
        Default: ``openai.OpenAI()`` from ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``.
    suffix : str, optional
        Up to 64 characters added to the fine-tuned model's name.
    hyperparameters : dict, optional
        ``n_epochs``, ``batch_size``, ``learning_rate_multiplier`` (and ``beta`` for dpo).
    validation : path or DataFrame, optional
        A validation file, validated and uploaded like the training file.
    seed : int, optional
        Passed to the job for reproducibility.
    dry_run : bool
        Validate and show what would be sent, without uploading anything.

    Returns
    -------
    FineTuneJob
        The started job (``status == "dry_run"`` for a dry run). Follow it with ``job.wait()``.

    Raises
    ------
    HLValueError
        The file is invalid (nothing was uploaded) or an argument is wrong.
    FineTuneError
        The API refused the upload or the job (the message has the server's text).

    Examples
    --------
    >>> import hl_notebook as hl
    >>> job = hl.finetune("train.jsonl", model="gpt-4o-mini-2024-07-18", dry_run=True)  # doctest: +SKIP
    >>> job = hl.finetune("train.jsonl", model="gpt-4o-mini-2024-07-18").wait()         # doctest: +SKIP
    >>> job.fine_tuned_model                                                             # doctest: +SKIP
    'ft:gpt-4o-mini-2024-07-18:org::abc123'
    """
    from .validate import METHODS, validate_finetune_file

    if method not in METHODS:
        hint = suggest(str(method), METHODS)
        raise HLValueError(f"method must be one of {list(METHODS)}; got {describe(method)}." + (f" Did you mean {hint!r}?" if hint else ""))
    if not isinstance(model, str) or not model.strip():
        raise HLValueError(f"model must name the base model, e.g. 'gpt-4o-mini-2024-07-18'; got {describe(model)}.")
    if suffix is not None and (not isinstance(suffix, str) or len(suffix) > 64):
        raise HLValueError(f"suffix must be a string of at most 64 characters; got {describe(suffix)}.")
    hp = _check_hyperparameters(hyperparameters, method)
    workdir = Path(tempfile.mkdtemp(prefix="hl-finetune-")) if not isinstance(data, (str, os.PathLike)) else None
    train_path, export = _as_file(data, method, "train", workdir)
    n_epochs = hp.get("n_epochs") if isinstance(hp.get("n_epochs"), int) else None
    report = validate_finetune_file(train_path, method=method, model=model, n_epochs=n_epochs)
    report.raise_if_invalid()
    valid_path, valid_report = None, None
    if validation is not None:
        valid_path, _ = _as_file(validation, method, "validation", workdir)
        valid_report = validate_finetune_file(valid_path, method=method, model=model)
        # a validation file may be small: only its format errors matter
        fatal = [e for e in valid_report.errors if e.kind != "too_few_examples"]
        if fatal:
            valid_report.raise_if_invalid()
    request: dict[str, Any] = {"model": model, "training_file": f"<upload of {train_path.name}>"}
    request["method"] = {"type": method, method: {"hyperparameters": hp}} if hp else {"type": method}
    if valid_path is not None:
        request["validation_file"] = f"<upload of {valid_path.name}>"
    if suffix is not None:
        request["suffix"] = suffix
    if seed is not None:
        request["seed"] = seed
    plan = {"train_path": str(train_path), "validation_path": None if valid_path is None else str(valid_path),
            "report": report, "validation_report": valid_report, "export": export}
    if dry_run:
        return FineTuneJob(None, client, request=request, plan=plan)
    client = client if client is not None else default_client()
    import openai

    def upload(path: Path) -> str:
        try:
            with open(path, "rb") as fh:
                return client.files.create(file=(path.name, fh, "application/jsonl"), purpose="fine-tune").id
        except openai.APIStatusError as exc:
            raise FineTuneError(f"uploading {path} to {endpoint(client)} failed: {server_message(exc)}", code=getattr(exc, "code", None)) from None
        except openai.APIConnectionError as exc:
            raise FineTuneError(f"uploading {path} failed: cannot reach {endpoint(client)} ({exc}). Nothing was started; retry when the network is back.") from None

    sent = dict(request)
    sent["training_file"] = upload(train_path)
    if valid_path is not None:
        sent["validation_file"] = upload(valid_path)
    try:
        job = client.fine_tuning.jobs.create(**sent)
    except openai.APIStatusError as exc:
        raise FineTuneError(
            f"the API refused to create a {method} fine-tuning job of {model!r} on training file "
            f"{sent['training_file']} ({train_path.name}): {server_message(exc)}",
            code=getattr(exc, "code", None),
        ) from None
    except openai.APIConnectionError as exc:
        raise FineTuneError(
            f"creating the fine-tuning job failed: cannot reach {endpoint(client)} ({exc}). The file was "
            f"uploaded as {sent['training_file']}; check client.fine_tuning.jobs.list() before retrying."
        ) from None
    return FineTuneJob(job, client, request=sent, plan=plan)


class FineTuneJob:
    """A fine-tuning job: its status, events, checkpoints and training-loss curve.

    Get one from `hl.finetune`, or re-attach after a kernel restart with
    ``FineTuneJob.attach(job_id, client=...)``.

    Examples
    --------
    >>> job = hl.FineTuneJob.attach("ftjob-abc123")        # doctest: +SKIP
    >>> job.wait(poll_interval=10).fine_tuned_model         # doctest: +SKIP
    >>> job.events().tail()                                 # doctest: +SKIP
    """

    def __init__(self, job: Any, client: Any, *, request: dict[str, Any] | None = None,
                 plan: dict[str, Any] | None = None) -> None:
        self._job = job
        self._client = client
        self.request = request or {}
        self._plan = plan or {}
        self._events: dict[str, dict[str, Any]] = {}

    # -- construction --------------------------------------------------------------------------

    @classmethod
    def attach(cls, job_id: str, *, client: Any = None) -> FineTuneJob:
        """Follow an existing job by id (e.g. after a kernel restart)."""
        import openai

        if not isinstance(job_id, str) or not job_id:
            raise HLValueError(f"job_id must be a job id such as 'ftjob-abc123'; got {describe(job_id)}.")
        client = client if client is not None else default_client()
        try:
            job = client.fine_tuning.jobs.retrieve(job_id)
        except openai.NotFoundError as exc:
            raise FineTuneError(
                f"no fine-tuning job {job_id!r} at {endpoint(client)}: {server_message(exc)}. List jobs with "
                "client.fine_tuning.jobs.list() or `hl-notebook jobs`.", job_id=job_id,
            ) from None
        except openai.APIConnectionError as exc:
            raise FineTuneError(f"cannot reach {endpoint(client)} to attach to job {job_id} ({exc}).", job_id=job_id) from None
        return cls(job, client)

    # -- state ------------------------------------------------------------------------------------

    @property
    def dry_run(self) -> bool:
        return self._job is None

    @property
    def id(self) -> str | None:
        """The job id (None for a dry run)."""
        return None if self._job is None else self._job.id

    @property
    def status(self) -> str:
        """``validating_files``, ``queued``, ``running``, ``succeeded``, ``failed``, ``cancelled`` (or ``dry_run``)."""
        return "dry_run" if self._job is None else str(self._job.status)

    @property
    def model(self) -> str:
        return self.request.get("model", "") if self._job is None else self._job.model

    @property
    def fine_tuned_model(self) -> str | None:
        """The new model's name once the job succeeded."""
        return None if self._job is None else self._job.fine_tuned_model

    @property
    def error(self) -> dict[str, Any] | None:
        """The server's error (``code``, ``message``, ``param``) for a failed job."""
        err = None if self._job is None else self._job.error
        if err is None:
            return None
        d = err.model_dump() if hasattr(err, "model_dump") else dict(err)
        return d if any(d.values()) else None

    @property
    def validation_report(self) -> ValidationReport | None:
        """The training file's `ValidationReport` (when this job was launched by `hl.finetune`)."""
        return self._plan.get("report")

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def _need_job(self, what: str) -> None:
        if self._job is None:
            raise FineTuneError(f"this is a dry run: nothing was sent, so there is no job to {what}. Call hl.finetune(..., dry_run=False).")

    def _call(self, what: str, fn, *args: Any, **kwargs: Any):
        import openai

        try:
            return fn(*args, **kwargs)
        except openai.APIConnectionError as exc:
            raise FineTuneError(
                f"lost the connection to {endpoint(self._client)} while {what} job {self.id} ({type(exc).__name__}). "
                f"The job keeps running on the server; re-attach with job = hl.FineTuneJob.attach({self.id!r}) "
                "and call job.wait().",
                job_id=self.id,
            ) from None
        except openai.APIStatusError as exc:
            raise FineTuneError(f"{what} job {self.id} failed: {server_message(exc)}", job_id=self.id,
                                code=getattr(exc, "code", None)) from None

    def refresh(self) -> FineTuneJob:
        """Fetch the job's current state from the server; returns self."""
        self._need_job("refresh")
        self._job = self._call("refreshing", self._client.fine_tuning.jobs.retrieve, self.id)
        return self

    def cancel(self) -> FineTuneJob:
        """Ask the server to cancel the job; returns self."""
        self._need_job("cancel")
        self._job = self._call("cancelling", self._client.fine_tuning.jobs.cancel, self.id)
        return self

    # -- events, metrics, checkpoints ------------------------------------------------------------

    def _fetch_events(self) -> None:
        """Fetch events newer than the ones seen (pages come newest first)."""
        self._need_job("list events of")
        new: list[dict[str, Any]] = []
        after = None
        while True:
            kwargs: dict[str, Any] = {"limit": 100}
            if after is not None:
                kwargs["after"] = after
            page = self._call("listing events of", self._client.fine_tuning.jobs.list_events, self.id, **kwargs)
            items = list(page.data)
            stop = False
            for ev in items:
                if ev.id in self._events:
                    stop = True
                    break
                new.append(ev.model_dump())
            if stop or not items or not getattr(page, "has_more", False):
                break
            after = items[-1].id
        for ev in reversed(new):
            self._events[ev["id"]] = ev

    def events(self) -> pd.DataFrame:
        """All events so far, oldest first: ``created_at, level, type, message, step, train_loss, ...``."""
        import pandas as pd

        self._fetch_events()
        rows = []
        for ev in self._events.values():
            row = {"created_at": ev.get("created_at"), "level": ev.get("level"), "type": ev.get("type"),
                   "message": ev.get("message")}
            data = ev.get("data")
            if isinstance(data, dict):
                row.update({k: v for k, v in data.items() if k not in row})
            rows.append(row)
        df = pd.DataFrame(rows, columns=None if rows else ["created_at", "level", "type", "message"])
        if len(df):
            df["created_at"] = pd.to_datetime(df["created_at"], unit="s", utc=True)
            df = df.sort_values("created_at", kind="stable").reset_index(drop=True)
        return df

    def metrics(self) -> pd.DataFrame:
        """Training metrics by step (from ``metrics`` events): ``step, train_loss, ...``."""
        import pandas as pd

        rows = [ev["data"] for ev in self._events.values()
                if ev.get("type") == "metrics" and isinstance(ev.get("data"), dict) and "step" in ev["data"]]
        if not rows:
            return pd.DataFrame(columns=["step", "train_loss"])
        return pd.DataFrame(rows).drop_duplicates("step", keep="last").sort_values("step").reset_index(drop=True)

    def checkpoints(self) -> pd.DataFrame:
        """The job's checkpoints, by step: ``step_number, fine_tuned_model_checkpoint, train_loss, ...``."""
        import pandas as pd

        self._need_job("list checkpoints of")
        page = self._call("listing checkpoints of", self._client.fine_tuning.jobs.checkpoints.list, self.id, limit=100)
        rows = []
        for ck in page:
            d = ck.model_dump()
            metrics = d.pop("metrics", None) or {}
            d.update({k: v for k, v in metrics.items() if k not in d})
            rows.append(d)
        cols = ["id", "created_at", "step_number", "fine_tuned_model_checkpoint"]
        df = pd.DataFrame(rows) if rows else pd.DataFrame(columns=cols)
        if len(df):
            df["created_at"] = pd.to_datetime(df["created_at"], unit="s", utc=True)
            df = df.sort_values("step_number").reset_index(drop=True)
        return df

    # -- waiting ------------------------------------------------------------------------------------

    def wait(
        self,
        *,
        poll_interval: float = 10.0,
        timeout: float | None = None,
        progress: bool = True,
        raise_on_failure: bool = True,
    ) -> FineTuneJob:
        """Poll until the job succeeds, fails or is cancelled, with a progress bar; returns self.

        Raises `FineTuneError` (with the job id and the server's error) when the job fails or is
        cancelled, unless ``raise_on_failure=False``; on a lost connection the error says how to
        re-attach. ``timeout`` (seconds) stops waiting, not the job.
        """
        self._need_job("wait for")
        if isinstance(poll_interval, bool) or not isinstance(poll_interval, (int, float)) or poll_interval < 0:
            raise HLValueError(f"poll_interval must be a number of seconds >= 0; got {describe(poll_interval)}.")
        from tqdm.auto import tqdm

        bar = tqdm(total=None, desc=f"{self.id} {self.status}", unit="step", disable=not progress, leave=True)
        handle = _live_display(self) if progress else None
        start = time.monotonic()
        try:
            while True:
                self.refresh()
                self._fetch_events()
                m = self.metrics()
                if len(m):
                    last = m.iloc[-1]
                    total = last.get("total_steps")
                    if total is not None and bar.total != int(total):
                        bar.total = int(total)
                    bar.n = int(last["step"])
                    if "train_loss" in m.columns:
                        bar.set_postfix(loss=f"{float(last['train_loss']):.4f}", refresh=False)
                bar.set_description(f"{self.id} {self.status}", refresh=False)
                bar.refresh()
                if handle is not None:
                    handle.update(self)
                if self.done:
                    break
                if timeout is not None and time.monotonic() - start > timeout:
                    raise FineTuneError(
                        f"stopped waiting for job {self.id} after {timeout:g} s; it is {self.status} and keeps "
                        f"going. Call job.wait() again, or re-attach with hl.FineTuneJob.attach({self.id!r}).",
                        job_id=self.id,
                    )
                time.sleep(poll_interval)
        except KeyboardInterrupt:
            import sys

            print(f"stopped waiting for job {self.id}; it keeps running on the server. Call job.wait() "
                  f"again, or after a restart job = hl.FineTuneJob.attach({self.id!r}).", file=sys.stderr)
            raise
        finally:
            bar.close()
        if raise_on_failure and self.status != "succeeded":
            raise FineTuneError(self._failure_text(), job_id=self.id,
                                code=(self.error or {}).get("code"))
        return self

    def _failure_text(self) -> str:
        if self.status == "cancelled":
            return f"fine-tuning job {self.id} was cancelled (on the server or by a user); no model was made."
        err = self.error or {}
        code = f" [{err.get('code')}]" if err.get("code") else ""
        return (f"fine-tuning job {self.id} failed{code}: {str(err.get('message') or 'no error message from the server').rstrip('.')}. "
                "See job.events() for details.")

    # -- display -------------------------------------------------------------------------------------

    def __repr__(self) -> str:
        if self._job is None:
            return f"FineTuneJob(dry_run, model={self.model!r})"
        extra = f", fine_tuned_model={self.fine_tuned_model!r}" if self.fine_tuned_model else ""
        err = f", error={self.error.get('message')!r}" if self.error else ""
        return f"FineTuneJob(id={self.id!r}, status={self.status!r}, model={self.model!r}{extra}{err})"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self) if cycle else self._text())

    def _text(self) -> str:
        lines = [repr(self)]
        if self._job is None:
            lines.append("would send: " + json.dumps(self.request, indent=2))
            report = self._plan.get("report")
            if report is not None:
                lines.append(repr(report))
            return "\n".join(lines)
        m = self.metrics()
        if len(m):
            lines.append(f"step {int(m['step'].iloc[-1])}, train_loss {float(m['train_loss'].iloc[-1]):.4f}")
        for ev in list(self._events.values())[-5:]:
            lines.append(f"  {ev.get('level', '')}: {ev.get('message', '')}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        colors = {"succeeded": "#1a7f37", "failed": "#cf222e", "cancelled": "#9a6700", "dry_run": "#57606a"}
        color = colors.get(self.status, "#0969da")
        parts = ['<div class="hl-finetune" style="font-family:var(--jp-ui-font-family,sans-serif)">',
                 "<div><b>Fine-tuning</b> " + (f"<code>{esc(self.id)}</code> " if self.id else "")
                 + f'<span style="color:{color};font-weight:600">{esc(self.status)}</span> '
                 f'base <code>{esc(self.model)}</code>'
                 + (f' → <code>{esc(self.fine_tuned_model)}</code>' if self.fine_tuned_model else "") + "</div>"]
        if self.error:
            parts.append(f'<div style="color:#cf222e">{esc(str(self.error.get("message")))}</div>')
        if self._job is None:
            parts.append("<div>would send (nothing uploaded):</div><pre>" + esc(json.dumps(self.request, indent=2)) + "</pre>")
            report = self._plan.get("report")
            if report is not None:
                parts.append(report._repr_html_())
            parts.append("</div>")
            return "".join(parts)
        svg = _loss_svg(self.metrics())
        if svg:
            parts.append(svg)
        recent = list(self._events.values())[-6:]
        if recent:
            rows = "".join(f"<tr><td>{esc(str(ev.get('level')))}</td><td>{esc(str(ev.get('message')))}</td></tr>" for ev in recent)
            parts.append(f"<table><tr><th>level</th><th>recent events</th></tr>{rows}</table>")
        parts.append("</div>")
        return "".join(parts)


def _loss_svg(metrics: pd.DataFrame) -> str | None:
    """The training-loss curve as an inline SVG (matplotlib, no pyplot state)."""
    if metrics is None or len(metrics) < 2 or "train_loss" not in metrics.columns:
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2, 2.0), dpi=72)
    ax = fig.subplots()
    ax.plot(metrics["step"], metrics["train_loss"], color="#0969da", lw=1.5, label="train loss")
    if "valid_loss" in metrics.columns and metrics["valid_loss"].notna().any():
        ax.plot(metrics["step"], metrics["valid_loss"], color="#9a6700", lw=1.2, label="validation loss")
        ax.legend(fontsize=7, frameon=False)
    ax.set_xlabel("step", fontsize=8)
    ax.set_ylabel("loss", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    text = buf.getvalue()
    return text[text.find("<svg"):]


def _live_display(job: FineTuneJob):
    """A display handle updated while waiting, inside a Jupyter kernel only."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with Jupyter
        return None
    ip = get_ipython()
    if ip is None or not hasattr(ip, "kernel"):
        return None
    return display(job, display_id=True)

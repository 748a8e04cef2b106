"""`generate(..., batch=True)` through the OpenAI Batch API, and `BatchRun` to resume by id.

A batch is uploaded as JSONL (one ``/v1/chat/completions`` request per line, ``custom_id`` =
``hl-<request number>``), created with ``completion_window="24h"``, polled with a progress bar,
and its output and error files are downloaded and parsed into the same frame `generate` returns.
When a store is used, what is needed to rebuild the frame (input rows, versions) is kept in it
under the batch id, so ``hl.BatchRun(batch_id).to_frame()`` works after a kernel restart.
"""

from __future__ import annotations

import io
import json
import time
from typing import TYPE_CHECKING, Any

from .._client import default_client
from .._schema import HLValueError, describe
from .._store.default import resolve_store
from .run import Job, Run, input_dicts
from .templates import prompt_text

if TYPE_CHECKING:  # pragma: no cover
    import openai
    import pandas as pd

    from .._store.store import Store

__all__ = ["BatchRun"]

_NS = "generate_batch"
_TERMINAL = ("completed", "failed", "expired", "cancelled")


class BatchRun:
    """A Batch API run: poll it, wait for it, read its results, cancel it.

    Parameters
    ----------
    batch_id
        The id of the batch (``batch_...``), e.g. from ``df.attrs["generate"]["batch_id"]``.
    client
        An ``openai.OpenAI`` client; default: built from the environment.
    store
        The store `generate` used (to restore input columns and prompt versions); None uses the
        configured store when there is one.

    Examples
    --------
    >>> run = hl.BatchRun("batch_abc123")            # doctest: +SKIP
    >>> run.wait(poll_interval=30)                   # doctest: +SKIP
    >>> df = run.to_frame()                          # doctest: +SKIP
    """

    def __init__(self, batch_id: str, *, client: openai.OpenAI | None = None, store: Store | None | bool = None):
        if not isinstance(batch_id, str) or not batch_id:
            raise HLValueError(f"batch_id must be a batch id string such as 'batch_abc123'; got {describe(batch_id)}.")
        self.id = batch_id
        self._client = client if client is not None else default_client()
        self._store = resolve_store(store)
        self.batch: Any = None

    def __repr__(self) -> str:
        status = self.batch.status if self.batch is not None else "unknown (call refresh())"
        return f"BatchRun(id={self.id!r}, status={status!r})"

    @property
    def status(self) -> str:
        """The batch's status as last seen (refreshes once if never seen)."""
        if self.batch is None:
            self.refresh()
        return self.batch.status

    def refresh(self) -> BatchRun:
        """Fetch the batch's current state."""
        self.batch = self._client.batches.retrieve(self.id)
        return self

    def cancel(self) -> BatchRun:
        """Ask the server to cancel the batch."""
        self.batch = self._client.batches.cancel(self.id)
        return self

    def wait(self, *, poll_interval: float | None = None, timeout: float | None = None, progress: bool = True) -> BatchRun:
        """Poll until the batch completes, fails, expires or is cancelled.

        ``poll_interval=None`` polls often at first and backs off to every 30 s. A KeyboardInterrupt
        stops waiting (the batch keeps running on the server); resume later
        with ``hl.BatchRun(batch_id).wait()``.
        """
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=None, desc=f"batch {self.id}", unit="req")
        start = time.monotonic()
        polls = 0
        try:
            while True:
                self.refresh()
                counts = self.batch.request_counts
                if bar is not None and counts is not None:
                    bar.total = counts.total or None
                    bar.n = (counts.completed or 0) + (counts.failed or 0)
                    bar.set_postfix(status=self.batch.status, failed=counts.failed or 0, refresh=False)
                    bar.refresh()
                if self.batch.status in _TERMINAL:
                    return self
                if timeout is not None and time.monotonic() - start > timeout:
                    raise TimeoutError(
                        f"batch {self.id} is still {self.batch.status!r} after {timeout:g} s; it keeps running on "
                        f"the server. Resume with hl.BatchRun({self.id!r}).wait()."
                    )
                polls += 1
                time.sleep(poll_interval if poll_interval is not None else min(30.0, 0.05 * 1.5**polls))
        finally:
            if bar is not None:
                bar.close()

    # -- results ---------------------------------------------------------------------------

    def _lines(self, file_id: str | None) -> list[dict[str, Any]]:
        if not file_id:
            return []
        text = self._client.files.content(file_id).text
        out = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"custom_id": None, "error": {"message": f"line {number} of file {file_id} is not JSON"}})
        return out

    def results(self) -> dict[str, dict[str, Any]]:
        """custom_id -> parsed result (``completions``, ``finish_reasons``, tokens) or ``error``."""
        if self.batch is None or self.batch.status not in _TERMINAL:
            self.refresh()
        if self.batch.status not in _TERMINAL:
            raise HLValueError(
                f"batch {self.id} is {self.batch.status!r}; wait for it first: hl.BatchRun({self.id!r}).wait()."
            )
        out: dict[str, dict[str, Any]] = {}
        created = float(self.batch.completed_at or time.time())
        for item in self._lines(self.batch.output_file_id) + self._lines(self.batch.error_file_id):
            cid = item.get("custom_id")
            if cid is None:
                continue
            resp = item.get("response") or {}
            body = resp.get("body") if isinstance(resp, dict) else None
            if item.get("error") or resp.get("status_code") != 200 or not isinstance(body, dict):
                err = item.get("error") or (body or {}).get("error") or {}
                message = err.get("message") if isinstance(err, dict) else str(err)
                out[cid] = {"error": f"HTTP {resp.get('status_code', '?')}: {message}"}
                continue
            try:
                choices = sorted(body["choices"], key=lambda c: c["index"])
                usage = body.get("usage") or {}
                out[cid] = {
                    "completions": [c["message"].get("content") or c["message"].get("refusal") or "" for c in choices],
                    "finish_reasons": [c.get("finish_reason") for c in choices],
                    "prompt_tokens": usage.get("prompt_tokens"),
                    "completion_tokens": usage.get("completion_tokens"),
                    "latency_s": float("nan"),
                    "created_at": created,
                }
            except (KeyError, TypeError, AttributeError) as exc:
                out[cid] = {"error": f"malformed response in the batch output: {type(exc).__name__}: {exc}"}
        return out

    def to_frame(self) -> pd.DataFrame:
        """The frame `generate` would have returned, rebuilt from the batch's files (and the store)."""
        import pandas as pd

        if self.batch is None:
            self.refresh()
        spec = self._store._kv_get(_NS, [self.id]).get(self.id) if self._store is not None else None
        requests = self._lines(self.batch.input_file_id)
        # the Batch API requires a custom_id on every request line
        bodies: dict[str, dict[str, Any]] = {
            r["custom_id"]: r.get("body") or {} for r in requests if isinstance(r.get("custom_id"), str)
        }
        if not bodies:
            raise HLValueError(f"batch {self.id} has no requests in its input file {self.batch.input_file_id}.")
        first = next(iter(bodies.values()))
        model: str = first.get("model") or ""
        n = int(first.get("n") or 1)
        params = {k: v for k, v in first.items() if k not in ("model", "messages", "n")}
        if spec is not None:
            inputs = spec["inputs"]
            df = pd.DataFrame(inputs)
            meta = {cid: (row, version) for cid, row, version in spec["jobs"]}
        else:
            df = pd.DataFrame(index=range(len(bodies)))
            inputs = [{} for _ in range(len(bodies))]
            meta = {cid: (i, None) for i, cid in enumerate(bodies)}
        jobs: list[Job] = []
        for cid, body in bodies.items():
            row, version = meta.get(cid, (0, None))
            messages = body.get("messages") or []
            jobs.append(Job(len(jobs), row, version, messages, prompt_text(messages) if messages else "", cid))
        state = Run(jobs, n=n, model=model, params=params, secret=None, store=None, use_cache=False,
                     inputs=inputs or input_dicts([]))
        _apply(state, jobs, self.results(), custom_ids=list(bodies))
        out = state.frame(df)
        out.attrs["generate"] = {"batch_id": self.id, "status": self.batch.status}
        return out


def _apply(state: Run, jobs: list[Job], results: dict[str, dict[str, Any]], *, custom_ids: list[str]) -> None:
    for job, cid in zip(jobs, custom_ids, strict=True):
        job.done = True
        r = results.get(cid)
        if r is None:
            job.error = "no result in the batch output (the batch was cancelled, failed or expired first)"
        elif "error" in r:
            job.error = r["error"]
        elif len(r["completions"]) != state.n:
            job.error = f"malformed response: {len(r['completions'])} choices for n={state.n}"
        else:
            job.result = r
        if job.error is not None:
            state.errors += 1


def run_batch(state: Run, todo: list[Job], *, client: Any, progress: bool, poll_interval: float | None = None) -> None:
    """Send ``todo`` as one batch, wait for it and put the results on the jobs."""
    if not todo:
        return
    lines = []
    custom_ids = []
    for job in todo:
        cid = f"hl-{job.index}"
        custom_ids.append(cid)
        body = {"model": state.model, "messages": job.messages, "n": state.n}
        body.update({k: v for k, v in state.params.items() if k not in ("extra_query", "extra_body", "timeout")})
        body.update(state.params.get("extra_body") or {})
        lines.append(json.dumps({"custom_id": cid, "method": "POST", "url": "/v1/chat/completions", "body": body},
                                ensure_ascii=False))
    data = ("\n".join(lines) + "\n").encode("utf-8")
    upload = client.files.create(file=("hl_generate_batch.jsonl", io.BytesIO(data), "application/jsonl"), purpose="batch")
    batch = client.batches.create(
        input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h",
        metadata={"created_by": "hl_notebook.generate", "model": state.model},
    )
    state.batch_id = batch.id
    if state.store is not None:
        state.store._kv_put(_NS, {batch.id: {
            "inputs": state.inputs,
            "jobs": [[cid, job.row, job.version] for cid, job in zip(custom_ids, todo, strict=True)],
        }})
    run = BatchRun(batch.id, client=client, store=False)
    run.batch = batch
    try:
        run.wait(poll_interval=poll_interval, progress=progress)
    except KeyboardInterrupt:
        state.interrupted = True
        return
    _apply(state, todo, run.results(), custom_ids=custom_ids)
    state.requests += len(todo)

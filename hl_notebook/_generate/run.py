"""One `generate` run: its jobs, requests on worker threads with retries, the cache, logging to the
store, and the output frame.

Requests run on ``concurrency`` worker threads using the synchronous ``openai.OpenAI`` client, so no
event loop is touched (it works the same in a script and inside Jupyter's running loop). A row
waiting for its retry does not hold a concurrency slot.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import math
import threading
import time
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from .._client import describe_error
from .._schema import is_missing
from .._store.ids import new_ids
from .prices import cost_usd as _cost
from .retries import retry_delay

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd
    from pandas.api.extensions import ExtensionArray

    from .._store.store import Store

__all__ = ["CACHE_NS", "OUTPUT_COLUMNS", "GenerationError", "Job", "Run", "input_dicts"]


#: Columns `generate` adds to the input columns, in order.
OUTPUT_COLUMNS: tuple[str, ...] = (
    "log_id",
    "prompt",
    "messages",
    "completion",
    "model",
    "prompt_version",
    "params",
    "latency_s",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "finish_reason",
    "error",
    "created_at",
    "cached",
)
CACHE_NS = "generate"


class GenerationError(RuntimeError):
    """A run that had to stop (e.g. the API rejected the key).

    ``partial`` holds the frame `generate` would have returned: finished rows filled in, the rest
    with their ``error`` set. Finished rows were logged to the store (when one is used).
    """

    def __init__(self, message: str, partial: pd.DataFrame):
        super().__init__(message)
        self.partial = partial


class Job:
    """One request: a rendered prompt for one input row and version, and what came back."""

    __slots__ = ("index", "row", "version", "messages", "prompt", "key", "result", "error", "cached", "done")

    def __init__(self, index: int, row: int, version: str | None, messages: list, prompt: str, key: str):
        self.index, self.row, self.version = index, row, version
        self.messages, self.prompt, self.key = messages, prompt, key
        self.result: dict[str, Any] | None = None
        self.error: str | None = None
        self.cached = False
        self.done = False


class Run:
    """The bookkeeping of one `generate` call."""

    def __init__(self, jobs: list[Job], *, n: int, model: str, params: dict, secret: str | None,
                 store: Store | None, use_cache: bool, inputs: list[dict[str, Any]]):
        self.inputs = inputs
        self.jobs, self.n, self.model, self.params = jobs, n, model, params
        self.secret, self.store, self.use_cache = secret, store, use_cache
        self.errors = 0
        self.fatal: str | None = None
        self.interrupted = False
        self.requests = 0
        self.batch_id: str | None = None  # set when the requests went as one Batch API batch
        self._logged: set[int] = set()

    # -- cache -----------------------------------------------------------------------------

    def load_cache(self) -> None:
        assert self.store is not None
        keyed = [j for j in self.jobs if not j.done and j.key]
        entries = self.store._kv_get(CACHE_NS, sorted({j.key for j in keyed}))
        if not entries:
            return
        ids = [i for e in entries.values() for i in e.get("log_ids", [])]
        logs = self.store.to_pandas(log_ids=ids)
        completion = dict(zip(logs["log_id"], logs["completion"], strict=True))
        created = dict(zip(logs["log_id"], logs["created_at"], strict=True))
        for job in keyed:
            entry = entries.get(job.key)
            if not entry or any(i not in completion for i in entry["log_ids"]):
                continue
            job.result = {
                "log_ids": list(entry["log_ids"]),
                "completions": [completion[i] for i in entry["log_ids"]],
                "finish_reasons": entry.get("finish_reasons") or [None] * self.n,
                "prompt_tokens": entry.get("prompt_tokens"),
                "completion_tokens": entry.get("completion_tokens"),
                "latency_s": entry.get("latency_s"),
                "created_at": created[entry["log_ids"][0]],
            }
            job.cached = job.done = True
            self._logged.add(job.index)

    # -- requests in threads -----------------------------------------------------------------

    def call(self, client: Any, job: Job, attempt: int = 0, max_retries: int = 0) -> float | None:
        """Send one request (in a worker thread) and store its result or error on the job.

        Returns the seconds to wait before retrying, or None when the job is finished.
        """
        import openai

        if self.fatal is not None:
            job.error = f"not sent: {self.fatal}"
            return None
        t0 = time.perf_counter()
        try:
            resp = client.chat.completions.create(model=self.model, messages=job.messages, n=self.n, **self.params)
            latency = time.perf_counter() - t0
            choices = sorted(resp.choices, key=lambda c: c.index)
            if len(choices) != self.n:
                raise ValueError(f"the server returned {len(choices)} choices for n={self.n}")
            usage = resp.usage
            job.result = {
                "completions": [c.message.content if c.message.content is not None else (c.message.refusal or "")
                                for c in choices],
                "finish_reasons": [c.finish_reason for c in choices],
                "prompt_tokens": getattr(usage, "prompt_tokens", None),
                "completion_tokens": getattr(usage, "completion_tokens", None),
                "latency_s": latency,
                "created_at": time.time(),
                "retries": attempt,
            }
        except openai.AuthenticationError as exc:
            message = describe_error(exc, self.secret)
            job.error = message
            if self.fatal is None:
                self.fatal = f"stopped after the API rejected the key ({message})"
        except Exception as exc:  # noqa: BLE001 - every other failure is this row's error
            delay = retry_delay(exc, attempt) if attempt < max_retries else None
            if delay is not None:
                return delay
            tries = f" (after {attempt + 1} attempts)" if attempt else ""
            job.error = describe_error(exc, self.secret) + tries
        return None

    def _complete(self, job: Job) -> None:
        """Mark a job done (from its worker thread) unless the run was already closed."""
        with self._lock:
            if self._closed:
                return
            job.done = True
            self.requests += 1
            self._completed += 1
            if job.error is not None:
                self.errors += 1
            if self._completed >= self._total or self.fatal is not None:
                self._wake.set()

    def _next(self) -> tuple[Job, int] | None:
        """The next job to send (retries whose wait is over first), waiting as needed; None: stop."""
        q = self._queue
        with q:
            while True:
                if self._stop:
                    return None
                now = time.monotonic()
                if self._delayed and self._delayed[0][0] <= now:
                    _, _, job, attempt = heapq.heappop(self._delayed)
                    return job, attempt
                if self._ready:
                    return self._ready.popleft(), 0
                if not self._delayed and self._in_flight == 0:
                    return None
                q.wait(self._delayed[0][0] - now if self._delayed else None)

    def _worker(self, client: Any, max_retries: int) -> None:
        q = self._queue
        while True:
            item = self._next()
            if item is None:
                return
            job, attempt = item
            with q:
                self._in_flight += 1
            delay = None
            try:
                delay = self.call(client, job, attempt, max_retries)
            finally:
                with q:
                    self._in_flight -= 1
                    if delay is not None:
                        # The wait does not hold a slot: other rows use it meanwhile.
                        heapq.heappush(self._delayed, (time.monotonic() + delay, next(self._seq), job, attempt + 1))
                    q.notify_all()
            if delay is None:
                self._complete(job)

    def run_threads(self, todo: list[Job], *, client: Any, concurrency: int, progress: bool,
                    max_retries: int) -> None:
        """Send ``todo`` from ``concurrency`` worker threads, retrying with backoff.

        A row waiting to be retried does not hold one of the ``concurrency`` slots. The calling
        thread only sleeps and refreshes the progress bar a few times a second.
        """
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._completed = 0
        self._total = len(todo)
        self._queue = threading.Condition()
        self._ready = collections.deque(todo)
        self._delayed: list[tuple[float, int, Job, int]] = []
        self._seq = itertools.count()
        self._in_flight = 0
        self._stop = False
        bar = _progress_bar(len(todo), progress=progress, cached=len(self.jobs) - len(todo))
        threads = [
            threading.Thread(target=self._worker, args=(client, max_retries), name=f"hl-generate-{i}", daemon=True)
            for i in range(min(concurrency, len(todo)))
        ]
        last_flush = time.monotonic()
        shown = shown_errors = 0
        try:
            for t in threads:
                t.start()
            while True:
                finished = self._wake.wait(0.1)
                with self._lock:
                    completed, errors = self._completed, self.errors
                if bar is not None:
                    if errors != shown_errors:
                        bar.set_postfix(errors=errors, cached=len(self.jobs) - len(todo), refresh=False)
                        shown_errors = errors
                    bar.update(completed - shown)
                shown = completed
                if finished:
                    break
                if time.monotonic() - last_flush > 2.0:
                    self.flush()
                    last_flush = time.monotonic()
        except KeyboardInterrupt:
            self.interrupted = True
        finally:
            with self._queue:
                self._stop = True
                self._queue.notify_all()
            if self.fatal is not None:
                # Requests already in flight end quickly (they get the same 401); wait briefly.
                deadline = time.monotonic() + 5
                for t in threads:
                    t.join(max(0.0, deadline - time.monotonic()))
            with self._lock:
                self._closed = True
            if bar is not None:
                bar.close()

    # -- results -----------------------------------------------------------------------------

    def finished(self, job: Job) -> bool:
        return job.done and job.result is not None and job.error is None

    def flush(self) -> None:
        """Give finished rows their log ids; log them to the store and record them in the cache."""
        ready = [j for j in self.jobs if j.index not in self._logged and j.done and self.finished(j)]
        if not ready:
            return
        import pandas as pd

        ids = new_ids("log_", len(ready) * self.n)
        rows = []
        cache: dict[str, Any] = {}
        for k, job in enumerate(ready):
            r = job.result
            assert r is not None
            r["log_ids"] = ids[k * self.n : (k + 1) * self.n]
            shares = self._shares(r)
            for s in range(self.n):
                rows.append(
                    {
                        "log_id": r["log_ids"][s],
                        "created_at": _utc(r["created_at"]),
                        "prompt": job.prompt,
                        "completion": r["completions"][s],
                        "model": self.model,
                        "prompt_version": job.version,
                        "messages": job.messages,
                        "inputs": self.inputs[job.row],
                        "metadata": {
                            "source": "hl.generate",
                            "params": self.params,
                            "n": self.n,
                            "sample": s,
                            "prompt_tokens": shares[0],
                            "completion_tokens": shares[1],
                            "latency_s": r["latency_s"],
                            "cost_usd": None if math.isnan(shares[2]) else shares[2],
                            "finish_reason": r["finish_reasons"][s],
                            "retries": r.get("retries", 0),
                            "cache_key": job.key,
                        },
                    }
                )
            cache[job.key] = {
                "log_ids": r["log_ids"],
                "finish_reasons": r["finish_reasons"],
                "prompt_tokens": r["prompt_tokens"],
                "completion_tokens": r["completion_tokens"],
                "latency_s": r["latency_s"],
            }
        if self.store is not None:
            self.store.log_many(pd.DataFrame(rows), source="generate")
        if self.use_cache and self.store is not None:
            self.store._kv_put(CACHE_NS, cache)
        self._logged.update(j.index for j in ready)

    def _shares(self, r: dict[str, Any]) -> tuple[Any, Any, float]:
        pt, ct = r.get("prompt_tokens"), r.get("completion_tokens")
        cost = _cost(self.model, pt, ct)
        if self.n == 1:
            return pt, ct, cost
        share = lambda v: None if v is None else v / self.n  # noqa: E731
        return share(pt), share(ct), cost / self.n

    def finish(self, df: pd.DataFrame, started: float) -> pd.DataFrame:
        import pandas as pd

        try:
            self.flush()
        finally:
            out = self.frame(df)
        paid = pd.Series(out.loc[~out["cached"] & out["completion"].notna(), "cost_usd"], dtype="float64")
        spent = 0.0 if paid.empty else float(paid.sum(min_count=1))  # NaN: a price is unknown
        out.attrs["generate"] = {
            "model": self.model,
            "rows": len(out),
            "requests": self.requests,
            "errors": int(out["error"].notna().sum()),
            "cached": int(out["cached"].sum()),
            "spent_usd": spent,
            "seconds": round(time.perf_counter() - started, 3),
            "interrupted": self.interrupted,
        }
        if self.batch_id:
            out.attrs["generate"]["batch_id"] = self.batch_id
        if self.fatal is not None:
            done = int(out["completion"].notna().sum())
            raise GenerationError(
                f"generate {self.fatal}. {done} of {len(out)} rows finished before it stopped; they are in "
                "err.partial (and in the store when one is used). Set a valid key (OPENAI_API_KEY, or "
                "client=openai.OpenAI(api_key=...)) and re-run: finished rows come from the cache.",
                out,
            )
        if self.interrupted:
            left = int((out["error"] == "interrupted").sum())
            batch_id = self.batch_id
            how = (f"The batch keeps running on the server: resume with hl.BatchRun({batch_id!r}).wait(), then "
                   ".to_frame()." if batch_id else
                   "Re-run the cell to finish them (finished rows come from the cache).")
            warnings.warn(
                f"generate was interrupted: {len(out) - left} of {len(out)} rows finished; the other {left} have "
                f"error='interrupted'. {how}",
                stacklevel=4,
            )
        return out

    def frame(self, df: pd.DataFrame) -> pd.DataFrame:
        import numpy as np
        import pandas as pd

        n = self.n
        cols: dict[str, list] = {c: [] for c in OUTPUT_COLUMNS}
        rows: list[int] = []
        for job in self.jobs:
            r = job.result if self.finished(job) else None
            error = job.error
            if r is None and error is None:
                error = "interrupted" if self.interrupted or not job.done else f"not sent: {self.fatal}"
                if self.fatal is not None:
                    error = f"not sent: {self.fatal}"
            shares = self._shares(r) if r is not None else (None, None, math.nan)
            for s in range(n):
                rows.append(job.row)
                cols["log_id"].append(r["log_ids"][s] if r is not None and "log_ids" in r else None)
                cols["prompt"].append(job.prompt)
                cols["messages"].append(job.messages)
                cols["completion"].append(r["completions"][s] if r is not None else None)
                cols["model"].append(self.model)
                cols["prompt_version"].append(job.version)
                cols["params"].append(self.params)
                cols["latency_s"].append(r["latency_s"] if r is not None else math.nan)
                cols["prompt_tokens"].append(shares[0])
                cols["completion_tokens"].append(shares[1])
                cols["cost_usd"].append(shares[2])
                cols["finish_reason"].append(r["finish_reasons"][s] if r is not None else None)
                cols["error"].append(error)
                cols["created_at"].append(r["created_at"] if r is not None else None)
                cols["cached"].append(job.cached)
        taken = df.iloc[rows]
        rename = {c: f"input_{c}" for c in taken.columns if str(c) in OUTPUT_COLUMNS}
        out = taken.rename(columns=rename).copy()
        dtype_tokens: Literal["Int64", "Float64"] = "Int64" if n == 1 else "Float64"
        for name, values in cols.items():
            series: ExtensionArray | np.ndarray | pd.DatetimeIndex
            if name in ("prompt_tokens", "completion_tokens"):
                series = pd.array(values, dtype=dtype_tokens)
            elif name in ("latency_s", "cost_usd"):
                series = np.asarray(values, dtype="float64")
            elif name == "created_at":
                series = _timestamps(values)
            elif name == "cached":
                series = np.asarray(values, dtype=bool)
            else:
                series = pd.array(values, dtype=object)
            out[name] = series
        return out


def _utc(value: Any) -> Any:
    import datetime as dt

    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, tz=dt.timezone.utc)
    return value


def _timestamps(values: Sequence[Any]) -> pd.DatetimeIndex:
    import pandas as pd

    out: list[pd.Timestamp | None] = []  # None becomes NaT in the index
    for v in values:
        if v is None:
            out.append(None)
        elif isinstance(v, (int, float)):
            out.append(pd.Timestamp(v, unit="s", tz="UTC"))
        else:
            ts = pd.Timestamp(v)
            out.append(ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC"))
    return pd.DatetimeIndex(out, dtype="datetime64[us, UTC]") if out else pd.DatetimeIndex([], dtype="datetime64[us, UTC]")


def input_dicts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for rec in records:
        out.append({str(k): (None if is_missing(v) else v) for k, v in rec.items() if _jsonable(v)})
    return out


def _jsonable(v: Any) -> bool:
    import numpy as np

    return v is None or isinstance(v, (str, int, float, bool, np.generic, list, dict)) or is_missing(v)


def _progress_bar(total: int, *, progress: bool, cached: int = 0):
    if not progress:
        return None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc="generate", unit="req", smoothing=0.1, mininterval=0.2)
    bar.set_postfix(errors=0, cached=cached, refresh=False)
    return bar

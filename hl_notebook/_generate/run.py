"""Generate completions over a DataFrame with the openai SDK (any OpenAI-compatible endpoint).

Design (measured in ``benchmarks/bench_generate.py``):

- Requests run on ``concurrency`` worker threads using the synchronous ``openai.OpenAI`` client.
  No event loop is touched, so it works the same in a script and inside Jupyter's running loop.
- Retries are ours (the SDK's are turned off with ``client.with_options(max_retries=0)``): the same
  rules as the SDK (408/409/429/5xx, timeouts and dropped connections; ``retry-after-ms`` and
  ``Retry-After`` honoured, else exponential backoff with jitter), but a row waiting for its retry
  does not hold a concurrency slot, so one slow retry does not idle a worker (measured: with 5 %
  429s and 5 % 500s at 500 ms latency, the SDK's in-thread sleeps gave 0.83 of the bound). A 401
  is never retried: the run stops at once and raises `GenerationError` whose ``partial``
  attribute holds every row (finished ones filled, the rest marked).
- KeyboardInterrupt returns the finished rows; the rest get ``error="interrupted"``. Finished rows
  are logged and cached, so re-running the cell only pays for the rest.
"""

from __future__ import annotations

import collections
import hashlib
import heapq
import itertools
import json
import math
import os
import random
import string
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._schema import HLValueError, describe, is_missing, suggest
from .._store.ids import new_ids
from .prices import cost_usd as _cost

if TYPE_CHECKING:  # pragma: no cover
    import openai
    import pandas as pd

    from .._store.store import Store

__all__ = ["OUTPUT_COLUMNS", "GenerationError", "generate"]

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

#: Keyword arguments of ``client.chat.completions.create`` that `generate` passes through.
CHAT_PARAMS: frozenset[str] = frozenset(
    {
        "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs",
        "max_completion_tokens", "max_tokens", "metadata", "modalities", "parallel_tool_calls",
        "prediction", "presence_penalty", "prompt_cache_key", "reasoning_effort", "response_format",
        "safety_identifier", "seed", "service_tier", "stop", "temperature", "tool_choice", "tools",
        "top_logprobs", "top_p", "user", "verbosity", "web_search_options", "extra_headers",
        "extra_query", "extra_body", "timeout",
    }
)
_OWN_KEYWORDS = ("model", "n", "system", "client", "concurrency", "max_retries", "store", "cache", "batch", "progress")
_ROLES = ("system", "developer", "user", "assistant", "tool")
_CACHE_NS = "generate"


class GenerationError(RuntimeError):
    """A run that had to stop (e.g. the API rejected the key).

    ``partial`` holds the frame `generate` would have returned: finished rows filled in, the rest
    with their ``error`` set. Finished rows were logged to the store (when one is used).
    """

    def __init__(self, message: str, partial: pd.DataFrame):
        super().__init__(message)
        self.partial = partial


# -- templates -------------------------------------------------------------------------------


def _fields(text: str, *, where: str) -> list[str]:
    """The column names a format string uses; raises on malformed braces or positional fields."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise HLValueError(
            f"{where} is not a valid template ({exc}): {text[:80]!r}. Fields look like {{column}}; "
            "write a literal brace as {{ or }}."
        ) from None
    out = []
    for _, field, spec, _ in parsed:
        if field is None:
            continue
        root = field.split(".", 1)[0].split("[", 1)[0]
        if not root or root.isdigit():
            raise HLValueError(
                f"{where} has a positional field {{{field}}} in {text[:80]!r}; name a column instead, "
                "e.g. {text}, or write a literal brace as {{ or }}."
            )
        out.append(root)
        if spec:
            out.extend(_fields(spec, where=where))
    return out


def _normalize_template(template: Any, *, system: str | None, version: str | None) -> list[dict[str, str]]:
    where = "template" if version is None else f"template {version!r}"
    if isinstance(template, str):
        messages = [{"role": "user", "content": template}]
    elif isinstance(template, (list, tuple)) and template:
        messages = []
        for i, m in enumerate(template):
            if not isinstance(m, Mapping) or not isinstance(m.get("content"), str) or m.get("role") not in _ROLES:
                raise HLValueError(
                    f"{where}[{i}] must be a dict like {{'role': 'user', 'content': '...'}} with role in "
                    f"{list(_ROLES)} and string content; got {describe(m)}."
                )
            extra = set(m) - {"role", "content", "name"}
            if extra:
                raise HLValueError(f"{where}[{i}] has unknown keys {sorted(extra)}; use role, content and name.")
            messages.append(dict(m))
    else:
        raise HLValueError(
            f"{where} must be a format string ('Fix the grammar: {{text}}'), a list of chat messages "
            "([{'role': 'user', 'content': '...'}]) or a dict of versions {'v1': ..., 'v2': ...}; "
            f"got {describe(template)}."
        )
    if system is not None:
        if not isinstance(system, str):
            raise HLValueError(f"system must be a string; got {describe(system)}.")
        messages.insert(0, {"role": "system", "content": system})
    return messages


def _render(messages: list[dict[str, str]], values: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{**m, "content": m["content"].format_map(values)} for m in messages]


def _prompt_text(messages: list[dict[str, str]]) -> str:
    users = [m["content"] for m in messages if m["role"] == "user"]
    return users[-1] if users else messages[-1]["content"]


# -- helpers ---------------------------------------------------------------------------------


def _check_params(params: dict[str, Any]) -> None:
    for key in params:
        if key in CHAT_PARAMS:
            continue
        close = suggest(key, list(_OWN_KEYWORDS) + sorted(CHAT_PARAMS))
        hint = f" Did you mean {close}=?" if close else ""
        raise HLValueError(
            f"generate() got an unexpected keyword {key!r}.{hint} Parameters of "
            "client.chat.completions.create pass through (temperature, max_completion_tokens, seed, "
            "response_format, ...); send provider-specific ones with extra_body={...}."
        )


def _default_client() -> openai.OpenAI:
    import openai

    try:
        return openai.OpenAI()
    except openai.OpenAIError as exc:
        raise HLValueError(
            f"Could not build an OpenAI client from the environment ({exc}). Set OPENAI_API_KEY (and "
            "OPENAI_BASE_URL for another endpoint), or pass client=openai.OpenAI(api_key=..., base_url=...)."
        ) from None


def _secret(client: Any) -> str | None:
    key = getattr(client, "api_key", None)
    return key if isinstance(key, str) and len(key) >= 4 else None


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def _describe_error(exc: BaseException, secret: str | None) -> str:
    import openai

    if isinstance(exc, openai.APIStatusError):
        body = exc.body
        msg = None
        if isinstance(body, Mapping):
            inner = body.get("error", body)
            msg = inner.get("message") if isinstance(inner, Mapping) else None
        text = f"HTTP {exc.status_code}: {msg or exc.message}"
    elif isinstance(exc, openai.APITimeoutError):
        text = "timeout: the request timed out on every attempt"
    elif isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        text = f"connection error: {exc}" + (f" ({type(cause).__name__}: {cause})" if cause else "")
    elif isinstance(exc, (openai.APIResponseValidationError, ValueError)):
        text = f"malformed response: {type(exc).__name__}: {exc}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return _scrub(text[:1000], secret)


_MAX_RETRY_AFTER_S = 60.0


def _retry_delay(exc: BaseException, attempt: int) -> float | None:
    """Seconds to wait before retry number ``attempt + 1``, or None when ``exc`` is not retried.

    Retried: 408, 409, 429 and 5xx answers, timeouts and dropped connections. The server's
    ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date) wins when it is at most a
    minute; otherwise exponential backoff from 0.5 s up to 8 s with up to 25 % jitter (as the
    SDK does). A longer ``Retry-After`` is not waited for: the row reports the error.
    """
    import email.utils

    import openai

    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        headers = exc.response.headers
        if headers.get("x-should-retry") == "false":
            return None
        if not (status in (408, 409, 429) or status >= 500 or headers.get("x-should-retry") == "true"):
            return None
        for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
            value = headers.get(name)
            if value is None:
                continue
            try:
                wait = float(value) / scale
            except ValueError:
                parsed = email.utils.parsedate_tz(value)
                wait = email.utils.mktime_tz(parsed) - time.time() if parsed else math.nan
            if 0 <= wait <= _MAX_RETRY_AFTER_S:
                return wait
            if wait > _MAX_RETRY_AFTER_S:
                return None
    elif not isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError)):
        return None
    return min(0.5 * 2.0**attempt, 8.0) * (1 - 0.25 * random.random())


def _cache_key(base_url: str, model: str, messages: list, params: dict, n: int) -> str:
    payload = json.dumps([base_url, model, messages, params, n], sort_keys=True, ensure_ascii=False, default=str)
    return "gen1:" + hashlib.sha256(payload.encode()).hexdigest()


def _resolve_store(store: Any) -> Store | None:
    from .._store import store as _store
    from .._store.store import Store

    if store is False:
        return None
    if store is None:
        if _store._default is not None or os.environ.get("HL_STORE"):
            return _store.default_store()
        return None
    if isinstance(store, Store):
        return store
    if isinstance(store, (str, os.PathLike)):
        return Store(store)
    raise HLValueError(
        f"store must be a hl.Store, a path, None (the configured store) or False (do not log); got {describe(store)}."
    )


class _Job:
    __slots__ = ("index", "row", "version", "messages", "prompt", "key", "result", "error", "cached", "done")

    def __init__(self, index: int, row: int, version: str | None, messages: list, prompt: str, key: str):
        self.index, self.row, self.version = index, row, version
        self.messages, self.prompt, self.key = messages, prompt, key
        self.result: dict[str, Any] | None = None
        self.error: str | None = None
        self.cached = False
        self.done = False


# -- the call --------------------------------------------------------------------------------


def generate(
    df: pd.DataFrame,
    template: str | list[dict[str, str]] | dict[str, str | list[dict[str, str]]],
    *,
    model: str,
    n: int = 1,
    system: str | None = None,
    client: openai.OpenAI | None = None,
    concurrency: int = 16,
    max_retries: int = 6,
    store: Store | str | os.PathLike[str] | None | bool = None,
    cache: bool = True,
    batch: bool = False,
    progress: bool = True,
    **params: Any,
) -> pd.DataFrame:
    """Run a prompt template over every row of a DataFrame and return the completions.

    Parameters
    ----------
    df
        The inputs, one row per prompt. Its columns are kept in the result; a column whose name is
        one of the output columns is kept as ``input_<name>``.
    template
        A format string over the columns (``"Fix the grammar: {text}"``; a literal brace is ``{{``),
        a list of chat message templates (``[{"role": "system", "content": "..."}, {"role": "user",
        "content": "{text}"}]``), or a dict ``{"v1": template, "v2": template}`` to run several prompt
        versions at once (the key goes into ``prompt_version``).
    model
        The model id, e.g. ``"gpt-4o-mini"``.
    n
        Completions per prompt (one request with the API's ``n``; one output row per completion).
    system
        A system message put before the template's messages.
    client
        An ``openai.OpenAI`` (or ``AzureOpenAI``) client; default: built from the environment
        (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``), so any OpenAI-compatible server works.
    concurrency
        Requests in flight at once.
    max_retries
        Retries per request on 408/409/429, 5xx, timeouts and dropped connections, honouring
        ``retry-after-ms``/``Retry-After`` (up to a minute), else exponential backoff with jitter;
        a row waiting for its retry frees its slot for other rows. A 401 is never retried.
    store
        Where rows are logged: a `Store` or path; None logs to the configured store when there is
        one (``hl.configure(...)``, ``hl.default_store()`` or ``$HL_STORE``) and to nothing
        otherwise; False logs nothing (and turns the cache off). Rows are logged as they finish
        (every few seconds) and at the end, failed rows are not logged. (OpenAI's own ``store=``
        request flag is sent with ``extra_body={"store": True}``.)
    cache
        Serve identical requests (endpoint, model, messages, params and n) from the store instead
        of paying again; those rows have ``cached=True``. Needs a store.
    batch
        Use the Batch API (upload JSONL, create, poll, download); see `BatchRun`.
    progress
        Show a progress bar (``tqdm.auto``) with the rate, time left and error count.
    **params
        Passed to ``client.chat.completions.create`` (``temperature``, ``max_completion_tokens``,
        ``seed``, ``response_format``, ``extra_body``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per input row x version x n (versions outer, input order kept, the input index
        repeated): the input columns, then ``log_id, prompt, messages, completion, model,
        prompt_version, params, latency_s, prompt_tokens, completion_tokens, cost_usd,
        finish_reason, error, created_at, cached``. A row that failed has ``completion`` None and
        its ``error`` filled; every row is returned. With ``n > 1`` the request's tokens and cost
        are shared evenly by its rows, so sums stay true. ``df.attrs["generate"]`` summarises the
        run (requests, errors, cached, spent_usd, seconds).

    Raises
    ------
    GenerationError
        When the API rejects the key (401): the run stops at once; ``err.partial`` holds the rows.

    Examples
    --------
    >>> import pandas as pd, hl_notebook as hl                       # doctest: +SKIP
    >>> rows = pd.DataFrame({"text": ["i has a apple", "she go home"]})  # doctest: +SKIP
    >>> out = hl.generate(rows, {"v1": "Fix: {text}", "v2": "Fix the grammar: {text}"},
    ...                   model="gpt-4o-mini", temperature=0)        # doctest: +SKIP
    >>> out[["text", "prompt_version", "completion", "cost_usd"]]    # doctest: +SKIP
    """
    import pandas as pd

    # -- validate everything before any request --------------------------------------------
    if not isinstance(df, pd.DataFrame):
        raise HLValueError(
            f"generate() needs a pandas DataFrame of inputs; got {describe(df)}. "
            "Wrap records with pd.DataFrame(records), e.g. pd.DataFrame({'text': texts})."
        )
    if not isinstance(model, str) or not model.strip():
        raise HLValueError(f"model must be a model id such as 'gpt-4o-mini'; got {describe(model)}.")
    for name, value, low in (("n", n, 1), ("concurrency", concurrency, 1), ("max_retries", max_retries, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise HLValueError(f"{name} must be an integer >= {low}; got {describe(value)}.")
    _check_params(params)
    if isinstance(template, Mapping):
        if not template:
            raise HLValueError("template is an empty dict; give at least one version, e.g. {'v1': '...'}.")
        bad = [k for k in template if not isinstance(k, str) or not k]
        if bad:
            raise HLValueError(f"prompt version names must be non-empty strings; got {bad!r}.")
        versions = {k: _normalize_template(t, system=system, version=k) for k, t in template.items()}
    else:
        versions = {None: _normalize_template(template, system=system, version=None)}
    columns = [str(c) for c in df.columns]
    for version, messages in versions.items():
        where = "template" if version is None else f"template {version!r}"
        for i, m in enumerate(messages):
            for field in _fields(m["content"], where=where if len(messages) == 1 else f"{where}[{i}]"):
                if field not in columns:
                    close = suggest(field, columns)
                    hint = f" Did you mean {{{close}}}?" if close else ""
                    raise HLValueError(
                        f"{where} uses {{{field}}}, but df has no column {field!r}; it has {columns}.{hint} "
                        "Rename a column or fix the template (a literal brace is written {{ or }})."
                    )
    if len(df) == 0:
        raise HLValueError("df is empty (0 rows); there is nothing to generate. Pass a frame with at least one row.")
    if df.columns.duplicated().any():
        dupes = sorted(set(df.columns[df.columns.duplicated()].astype(str)))
        raise HLValueError(f"df has duplicate column names {dupes}; rename them first.")
    if client is None:
        client = _default_client()
    secret = _secret(client)
    base_url = str(getattr(client, "base_url", ""))
    log_store = _resolve_store(store)
    opened = log_store is not None and isinstance(store, (str, os.PathLike))
    use_cache = bool(cache) and log_store is not None

    # -- render every request ------------------------------------------------------------------
    records = df.to_dict("records")
    fields_of = {v: sorted({f for m in msgs for f in _fields(m["content"], where="template")})
                 for v, msgs in versions.items()}
    # Recorded (frame, store, cache key) without transport options: headers may carry credentials.
    sent_params = {k: v for k, v in params.items() if k not in ("extra_headers", "extra_query", "timeout")}
    jobs: list[_Job] = []
    for version, messages in versions.items():
        for row, values in enumerate(records):
            missing = [f for f in fields_of[version] if is_missing(values.get(f))]
            if missing:
                rendered = messages
                job = _Job(len(jobs), row, version, [dict(m) for m in rendered], "", "")
                job.error = f"not sent: column {missing[0]!r} is missing in this row; fill it or drop the row"
                job.done = True
            else:
                try:
                    rendered = _render(messages, values)
                except (KeyError, IndexError, AttributeError, ValueError, TypeError) as exc:
                    raise HLValueError(
                        f"template could not be filled for row {df.index[row]!r}: {type(exc).__name__}: {exc}. "
                        "Check the fields and format specs; a literal brace is written {{ or }}."
                    ) from None
                key = _cache_key(base_url, model, rendered, sent_params, n)
                job = _Job(len(jobs), row, version, rendered, _prompt_text(rendered), key)
            jobs.append(job)

    try:
        if params.keys() - sent_params.keys():
            client = client.with_options(**{k: params[k] for k in ("timeout",) if k in params})
            if "extra_headers" in params or "extra_query" in params:
                client = client.with_options(default_headers=params.get("extra_headers") or None,
                                             default_query=params.get("extra_query") or None)
        return _execute(df, jobs, client=client, model=model, n=n, params=sent_params, secret=secret,
                        store=log_store, use_cache=use_cache, records=records, batch=batch,
                        max_retries=max_retries, concurrency=concurrency, progress=progress)
    finally:
        if opened:
            log_store.close()


def _execute(df, jobs, *, client, model, n, params, secret, store, use_cache, records, batch, max_retries,
             concurrency, progress):
    started = time.perf_counter()
    state = _Run(jobs, n=n, model=model, params=params, secret=secret, store=store, use_cache=use_cache,
                 inputs=_input_dicts(records))
    if use_cache:
        state.load_cache()
    todo = [j for j in jobs if not j.done]
    if batch:
        from .batch import run_batch

        run_batch(state, todo, client=client, progress=progress)
    elif todo:
        state.run_threads(todo, client=client.with_options(max_retries=0), concurrency=concurrency,
                          progress=progress, max_retries=max_retries)
    return state.finish(df, started)


class _Run:
    """The bookkeeping of one `generate` call."""

    def __init__(self, jobs: list[_Job], *, n: int, model: str, params: dict, secret: str | None,
                 store: Store | None, use_cache: bool, inputs: list[dict[str, Any]]):
        self.inputs = inputs
        self.jobs, self.n, self.model, self.params = jobs, n, model, params
        self.secret, self.store, self.use_cache = secret, store, use_cache
        self.errors = 0
        self.fatal: str | None = None
        self.interrupted = False
        self.requests = 0
        self._logged: set[int] = set()

    # -- cache -----------------------------------------------------------------------------

    def load_cache(self) -> None:
        assert self.store is not None
        keyed = [j for j in self.jobs if not j.done and j.key]
        entries = self.store._kv_get(_CACHE_NS, sorted({j.key for j in keyed}))
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

    def call(self, client: Any, job: _Job, attempt: int = 0, max_retries: int = 0) -> float | None:
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
            message = _describe_error(exc, self.secret)
            job.error = message
            if self.fatal is None:
                self.fatal = f"stopped after the API rejected the key ({message})"
        except Exception as exc:  # noqa: BLE001 - every other failure is this row's error
            delay = _retry_delay(exc, attempt) if attempt < max_retries else None
            if delay is not None:
                return delay
            tries = f" (after {attempt + 1} attempts)" if attempt else ""
            job.error = _describe_error(exc, self.secret) + tries
        return None

    def _complete(self, job: _Job) -> None:
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

    def _next(self) -> tuple[_Job, int] | None:
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

    def run_threads(self, todo: list[_Job], *, client: Any, concurrency: int, progress: bool,
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
        self._delayed: list[tuple[float, int, _Job, int]] = []
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

    def finished(self, job: _Job) -> bool:
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
            self.store._kv_put(_CACHE_NS, cache)
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
        if getattr(self, "batch_id", None):
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
            batch_id = getattr(self, "batch_id", None)
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
        dtype_tokens = "Int64" if n == 1 else "Float64"
        for name, values in cols.items():
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


def _timestamps(values: Sequence[Any]):
    import pandas as pd

    out = []
    for v in values:
        if v is None:
            out.append(pd.NaT)
        elif isinstance(v, (int, float)):
            out.append(pd.Timestamp(v, unit="s", tz="UTC"))
        else:
            ts = pd.Timestamp(v)
            out.append(ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC"))
    return pd.DatetimeIndex(out, dtype="datetime64[us, UTC]") if out else pd.DatetimeIndex([], dtype="datetime64[us, UTC]")


def _input_dicts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
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


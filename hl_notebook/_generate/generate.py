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

import hashlib
import json
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._client import default_client, secret_of
from .._schema import HLValueError, describe, is_missing, suggest
from .._store.default import resolve_store
from .run import GenerationError, Job, Run, input_dicts
from .templates import fields, normalize_template, prompt_text, render

if TYPE_CHECKING:  # pragma: no cover
    import openai
    import pandas as pd

    from .._store.store import Store

__all__ = ["CHAT_PARAMS", "GenerationError", "generate"]

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


# -- checks ---------------------------------------------------------------------------------


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


def _cache_key(base_url: str, model: str, messages: list, params: dict, n: int) -> str:
    payload = json.dumps([base_url, model, messages, params, n], sort_keys=True, ensure_ascii=False, default=str)
    return "gen1:" + hashlib.sha256(payload.encode()).hexdigest()


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
    versions: dict[str | None, list[dict[str, str]]]
    if isinstance(template, Mapping):
        if not template:
            raise HLValueError("template is an empty dict; give at least one version, e.g. {'v1': '...'}.")
        bad = [k for k in template if not isinstance(k, str) or not k]
        if bad:
            raise HLValueError(f"prompt version names must be non-empty strings; got {bad!r}.")
        versions = {k: normalize_template(t, system=system, version=k) for k, t in template.items()}
    else:
        versions = {None: normalize_template(template, system=system, version=None)}
    columns = [str(c) for c in df.columns]
    for version, messages in versions.items():
        where = "template" if version is None else f"template {version!r}"
        for i, m in enumerate(messages):
            for field in fields(m["content"], where=where if len(messages) == 1 else f"{where}[{i}]"):
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
        client = default_client()
    secret = secret_of(client)
    base_url = str(getattr(client, "base_url", ""))
    log_store = resolve_store(store)
    opened = log_store is not None and isinstance(store, (str, os.PathLike))
    use_cache = bool(cache) and log_store is not None

    # -- render every request ------------------------------------------------------------------
    records = df.to_dict("records")
    fields_of = {v: sorted({f for m in msgs for f in fields(m["content"], where="template")})
                 for v, msgs in versions.items()}
    # Recorded (frame, store, cache key) without transport options: headers may carry credentials.
    sent_params = {k: v for k, v in params.items() if k not in ("extra_headers", "extra_query", "timeout")}
    jobs: list[Job] = []
    for version, messages in versions.items():
        for row, values in enumerate(records):
            missing = [f for f in fields_of[version] if is_missing(values.get(f))]
            if missing:
                rendered = messages
                job = Job(len(jobs), row, version, [dict(m) for m in rendered], "", "")
                job.error = f"not sent: column {missing[0]!r} is missing in this row; fill it or drop the row"
                job.done = True
            else:
                try:
                    rendered = render(messages, values)
                except (KeyError, IndexError, AttributeError, ValueError, TypeError) as exc:
                    raise HLValueError(
                        f"template could not be filled for row {df.index[row]!r}: {type(exc).__name__}: {exc}. "
                        "Check the fields and format specs; a literal brace is written {{ or }}."
                    ) from None
                key = _cache_key(base_url, model, rendered, sent_params, n)
                job = Job(len(jobs), row, version, rendered, prompt_text(rendered), key)
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
        if opened and log_store is not None:
            log_store.close()


def _execute(df, jobs, *, client, model, n, params, secret, store, use_cache, records, batch, max_retries,
             concurrency, progress):
    started = time.perf_counter()
    state = Run(jobs, n=n, model=model, params=params, secret=secret, store=store, use_cache=use_cache,
                 inputs=input_dicts(records))
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

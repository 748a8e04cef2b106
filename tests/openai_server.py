"""A loopback OpenAI-compatible HTTP server for tests, benchmarks and offline notebooks.

The official ``openai`` SDK is pointed at it with ``base_url``; nothing in the SDK is patched. Shapes
follow the OpenAI API reference and the SDK's own response models (``openai.types``), and
``tests/test_openai_server.py`` proves every endpoint parses through the real SDK.

How to use it (generation, fine-tuning, notebooks)
---------------------------------------------------
In a test module::

    from openai_server import LoopbackOpenAI, expected_completion, openai_server_fixture

    openai_server = openai_server_fixture()       # or openai_server_fixture(finetune={...})

    def test_something(openai_server):            # a started server, stopped after the test
        client = openai_server.client()            # openai.OpenAI(base_url=..., api_key=...)
        ...
        assert openai_server.count("POST", "/v1/files") == 0   # e.g. "nothing was uploaded"

    with LoopbackOpenAI(latency=0.2, finetune={"step_s": 0.01}) as server:   # context manager
        ...

Fine-tuning (issue 6): upload with ``client.files.create(file=..., purpose="fine-tune")`` then
``client.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=..., method=...)``.
A job moves through ``validating_files -> queued -> running -> succeeded`` on the server's clock:
``validate_s`` and ``queue_s`` seconds, then ``steps`` steps of ``step_s`` seconds each, emitting a
``metrics`` event per step (``data={"step", "train_loss", "total_steps", ...}``) and a checkpoint per
epoch. On success ``fine_tuned_model`` is ``ft:<base>:<suffix or 'loopback'>:<job id>`` and that model
answers chat completions. The training file is checked (JSON lines; ``messages`` for supervised,
``input``/``preferred_output``/``non_preferred_output`` for dpo); a bad file fails the job in
``validating_files`` with ``error.code == "invalid_training_file"`` naming the line. Configure with
``LoopbackOpenAI(finetune={...})`` or ``server.finetune.update(...)`` before creating a job (the
settings are captured per job): ``fail_at`` (``"validating_files"`` or ``"running"``), ``error``
(``{"code", "message", "param"}``), ``cancel_at_step`` (server-side cancellation), ``steps``,
``validate_s``, ``queue_s``, ``step_s``. Jobs can be paused and resumed (status ``"paused"``).

Fault injection (per route: ``"chat"``, ``"files"``, ``"batches"``, ``"fine_tuning"``, ``"models"`` or
``"*"``)::

    server.inject("chat", latency=0.5)                       # seconds, (lo, hi), or callable(i)
    server.inject("chat", rates={"429": 0.1}, retry_after_ms=50, seed=1)
    server.inject("chat", schedule=["429", "500", "ok"])     # per request, in order, then "ok"

Latency applies to every answer except injected 429s and 401s, which come at once (as from a
rate limiter in front of the model). Fault kinds: ``"429"`` (with ``retry-after-ms`` and/or ``Retry-After``), ``"500"``, ``"garbage"``
(HTTP 200 with malformed JSON), ``"close"`` (the connection is closed without a response),
``"timeout"`` (sleeps ``timeout_s`` before answering, past a short client timeout), ``"401"``.
A request whose ``Authorization: Bearer`` does not match ``server.api_key`` gets a 401 in OpenAI's
error shape. Every request is recorded in ``server.requests`` (method, path, query, JSON body, body
size, headers other than ``authorization``) so tests can assert what was sent.

Standalone: ``python tests/openai_server.py --port 8765 [--latency 0.5] [--rate-429 0.1]`` prints its
base URL and serves until interrupted (the quickstart notebook and the benchmarks use this).
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import json
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

try:  # pytest is optional for standalone use
    import pytest
except ImportError:  # pragma: no cover
    pytest = None  # type: ignore[assignment]

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_MODELS",
    "LoopbackOpenAI",
    "expected_completion",
    "openai_server",
    "openai_server_fixture",
]

DEFAULT_API_KEY = "sk-loopback-0000"
DEFAULT_MODELS = (
    "gpt-4o-mini",
    "gpt-4o-mini-2024-07-18",
    "gpt-4o",
    "gpt-4o-2024-08-06",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "gpt-3.5-turbo",
)
FAULT_KINDS = ("ok", "429", "500", "garbage", "close", "timeout", "401")
ROUTES = ("chat", "files", "batches", "fine_tuning", "models")


# -- deterministic completions -------------------------------------------------------------


def _words(text: str) -> int:
    return len(text.split())


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def expected_completion(
    messages: list[dict[str, Any]], *, model: str = "gpt-4o-mini", seed: int | None = None, index: int = 0
) -> str:
    """The completion the server returns for these messages (before any ``max_tokens`` cut).

    It is ``"<tag>: <last user message>"`` where ``tag`` is 8 hex characters of a hash of the model,
    the messages, the seed and the choice index, so tests can assert exactly what came back.
    """
    last_user = ""
    for m in messages:
        if m.get("role") == "user":
            last_user = _message_text(m.get("content"))
    key = json.dumps([model, messages, seed, index], sort_keys=True, ensure_ascii=False)
    tag = hashlib.sha256(key.encode()).hexdigest()[:8]
    return f"{tag}: {last_user}"


def _prompt_tokens(messages: list[dict[str, Any]]) -> int:
    return sum(3 + _words(_message_text(m.get("content"))) for m in messages) + 3


def _now() -> int:
    return int(time.time())


def _error(message: str, type_: str = "invalid_request_error", code: str | None = None, param: str | None = None):
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class _Reply(Exception):
    """Raised inside a handler to answer with a status and a JSON body."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


# -- fault plans -----------------------------------------------------------------------------


class _Faults:
    def __init__(self) -> None:
        self.latency: float | tuple[float, float] | Callable[[int], float] = 0.0
        self.rates: dict[str, float] = {}
        self.schedule: list[str] = []
        self.retry_after_ms: float | None = 20
        self.retry_after_s: float | None = None
        self.timeout_s = 2.0
        self.rng = random.Random(0)
        self.count = 0

    def next(self) -> tuple[str, float]:
        i = self.count
        self.count += 1
        if callable(self.latency):
            delay = float(self.latency(i))
        elif isinstance(self.latency, tuple):
            delay = self.rng.uniform(*self.latency)
        else:
            delay = float(self.latency)
        if self.schedule:
            return self.schedule.pop(0), delay
        draw = self.rng.random()
        edge = 0.0
        for kind, rate in self.rates.items():
            edge += rate
            if draw < edge:
                return kind, delay
        return "ok", delay


# -- the server ------------------------------------------------------------------------------


class LoopbackOpenAI:
    """An OpenAI-compatible server on 127.0.0.1 in a background thread.

    Parameters
    ----------
    api_key
        The key the server accepts (``Authorization: Bearer <api_key>``); anything else gets a 401.
    port
        0 picks a free port.
    latency
        Seconds every chat completion waits before answering (see `inject` for other forms).
    models
        Model ids served besides fine-tuned ones; others get a 404 ``model_not_found``.
    batch_phase_s
        Seconds a batch spends in each of ``validating``, ``in_progress`` and ``finalizing``.
    finetune
        Fine-tuning settings (see the module docstring).
    record
        Keep a record of every request in `requests`.
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        port: int = 0,
        latency: float = 0.0,
        models: tuple[str, ...] = DEFAULT_MODELS,
        batch_phase_s: float = 0.05,
        finetune: dict[str, Any] | None = None,
        record: bool = True,
    ) -> None:
        self.api_key = api_key
        self.models = set(models)
        self.batch_phase_s = batch_phase_s
        self.finetune: dict[str, Any] = {
            "validate_s": 0.05,
            "queue_s": 0.05,
            "step_s": 0.02,
            "steps": 12,
            "fail_at": None,
            "error": None,
            "cancel_at_step": None,
        }
        self.finetune.update(finetune or {})
        self.record = record
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._faults: dict[str, _Faults] = {r: _Faults() for r in ROUTES}
        self._faults["chat"].latency = latency
        self._files: dict[str, dict[str, Any]] = {}
        self._file_bytes: dict[str, bytes] = {}
        self._batches: dict[str, dict[str, Any]] = {}
        self._jobs: dict[str, dict[str, Any]] = {}
        self._created_models: dict[str, int] = {}
        self._port = port
        self._httpd: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> LoopbackOpenAI:
        server = self

        class Handler(_Handler):
            owner = server

        class HTTPD(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256
            allow_reuse_address = True

            def handle_error(self, request, client_address):  # a client that gave up is not news
                import sys

                if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                    super().handle_error(request, client_address)

        self._httpd = HTTPD(("127.0.0.1", self._port), Handler)
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="loopback-openai",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> LoopbackOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    def client(self, **kwargs: Any):
        """An ``openai.OpenAI`` client pointed at this server (keyword arguments pass through)."""
        import openai

        kwargs.setdefault("api_key", self.api_key)
        kwargs.setdefault("base_url", self.base_url)
        return openai.OpenAI(**kwargs)

    def __repr__(self) -> str:
        return f"LoopbackOpenAI(base_url={self.base_url!r})"

    # -- faults and records ----------------------------------------------------------------

    def inject(
        self,
        route: str = "chat",
        *,
        latency: float | tuple[float, float] | Callable[[int], float] | None = None,
        rates: dict[str, float] | None = None,
        schedule: list[str] | None = None,
        retry_after_ms: float | None | str = "keep",
        retry_after_s: float | None | str = "keep",
        timeout_s: float | None = None,
        seed: int | None = None,
    ) -> None:
        """Set faults for a route (``"chat"``, ``"files"``, ``"batches"``, ``"fine_tuning"``,
        ``"models"`` or ``"*"`` for all). ``rates`` maps fault kinds to fractions of requests,
        ``schedule`` lists the outcome of the next requests in order."""
        targets = ROUTES if route == "*" else (route,)
        for r in targets:
            if r not in self._faults:
                raise ValueError(f"unknown route {r!r}; use one of {ROUTES} or '*'")
            f = self._faults[r]
            for kind in list(rates or {}) + list(schedule or []):
                if kind not in FAULT_KINDS:
                    raise ValueError(f"unknown fault {kind!r}; use one of {FAULT_KINDS}")
            with self._lock:
                if latency is not None:
                    f.latency = latency
                if rates is not None:
                    f.rates = dict(rates)
                if schedule is not None:
                    f.schedule = list(schedule)
                if retry_after_ms != "keep":
                    f.retry_after_ms = retry_after_ms  # type: ignore[assignment]
                if retry_after_s != "keep":
                    f.retry_after_s = retry_after_s  # type: ignore[assignment]
                if timeout_s is not None:
                    f.timeout_s = timeout_s
                if seed is not None:
                    f.rng = random.Random(seed)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults = {r: _Faults() for r in ROUTES}

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """How many recorded requests match ``method`` and start with ``path``."""
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (method is None or r["method"] == method) and (path is None or r["path"].startswith(path))
            )

    def reset_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def _next_fault(self, route: str) -> tuple[str, float, _Faults]:
        with self._lock:
            f = self._faults[route]
            kind, delay = f.next()
            return kind, delay, f

    # -- chat ------------------------------------------------------------------------------

    def _model_known(self, model: Any) -> bool:
        return isinstance(model, str) and (model in self.models or model in self._created_models)

    def chat(self, body: Any) -> dict[str, Any]:
        """Answer one chat completion request body (also used by batches)."""
        if not isinstance(body, dict):
            raise _Reply(400, _error("The request body must be a JSON object."))
        model = body.get("model")
        messages = body.get("messages")
        if not isinstance(model, str) or not model:
            raise _Reply(400, _error("you must provide a model parameter", param="model"))
        if not isinstance(messages, list) or not messages:
            raise _Reply(400, _error("'messages' must be a non-empty array.", param="messages"))
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in ("system", "developer", "user", "assistant", "tool"):
                raise _Reply(400, _error(f"Invalid value for 'messages[{i}].role'.", param=f"messages[{i}].role"))
        if not self._model_known(model):
            raise _Reply(
                404,
                _error(
                    f"The model `{model}` does not exist or you do not have access to it.",
                    code="model_not_found",
                ),
            )
        n = body.get("n") or 1
        if not isinstance(n, int) or n < 1 or n > 128:
            raise _Reply(400, _error(f"{n!r} is not valid for 'n': it must be an integer from 1 to 128.", param="n"))
        seed = body.get("seed")
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        fmt = body.get("response_format") or {}
        choices = []
        completion_tokens = 0
        for index in range(n):
            text = expected_completion(messages, model=model, seed=seed, index=index)
            finish = "stop"
            if isinstance(limit, int) and _words(text) > limit:
                text = " ".join(text.split()[:limit])
                finish = "length"
            if isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"):
                text = json.dumps({"answer": text}, ensure_ascii=False)
            completion_tokens += _words(text)
            choices.append(
                {
                    "index": index,
                    "message": {"role": "assistant", "content": text, "refusal": None, "annotations": []},
                    "logprobs": None,
                    "finish_reason": finish,
                }
            )
        prompt_tokens = _prompt_tokens(messages)
        return {
            "id": "chatcmpl-" + uuid.uuid4().hex[:24],
            "object": "chat.completion",
            "created": _now(),
            "model": model,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "service_tier": "default",
            "system_fingerprint": "fp_loopback",
        }

    # -- files -----------------------------------------------------------------------------

    def _add_file(self, data: bytes, filename: str, purpose: str) -> dict[str, Any]:
        fid = "file-" + uuid.uuid4().hex[:24]
        obj = {
            "id": fid,
            "object": "file",
            "bytes": len(data),
            "created_at": _now(),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "status_details": None,
            "expires_at": None,
        }
        with self._lock:
            self._files[fid] = obj
            self._file_bytes[fid] = data
        return obj

    def _file(self, fid: str) -> dict[str, Any]:
        obj = self._files.get(fid)
        if obj is None:
            raise _Reply(404, _error(f"No such File object: {fid}", param="id"))
        return obj

    # -- batches ---------------------------------------------------------------------------

    def _batch_view(self, b: dict[str, Any]) -> dict[str, Any]:
        """Advance a batch along its timeline and return its public object."""
        with self._lock:
            if b["status"] in ("completed", "cancelled", "failed", "expired"):
                return dict(b)
            if b["status"] == "cancelling":
                b["status"], b["cancelled_at"] = "cancelled", _now()
                return dict(b)
            elapsed = time.monotonic() - b["_t0"]
            phase = self.batch_phase_s
            if elapsed >= phase and b["in_progress_at"] is None:
                b["status"], b["in_progress_at"] = "in_progress", _now()
            if elapsed >= 2 * phase and b["finalizing_at"] is None:
                b["status"], b["finalizing_at"] = "finalizing", _now()
            done = elapsed >= 3 * phase
        if done:
            self._finish_batch(b)
        return {k: v for k, v in b.items() if not k.startswith("_")}

    def _finish_batch(self, b: dict[str, Any]) -> None:
        with self._lock:
            if b.get("_finishing"):
                return
            b["_finishing"] = True
        out_lines, err_lines = [], []
        data = self._file_bytes.get(b["input_file_id"], b"")
        for line in data.decode("utf-8", "replace").splitlines():
            if not line.strip():
                continue
            req_id = "batch_req_" + uuid.uuid4().hex[:24]
            try:
                item = json.loads(line)
                custom_id = item.get("custom_id")
                body = self.chat(item.get("body"))
                out_lines.append(
                    {"id": req_id, "custom_id": custom_id,
                     "response": {"status_code": 200, "request_id": uuid.uuid4().hex, "body": body}, "error": None}
                )
            except _Reply as reply:
                err_lines.append(
                    {"id": req_id, "custom_id": locals().get("custom_id"),
                     "response": {"status_code": reply.status, "request_id": uuid.uuid4().hex, "body": reply.body},
                     "error": None}
                )
            except (ValueError, AttributeError):
                err_lines.append(
                    {"id": req_id, "custom_id": None, "response": None,
                     "error": {"code": "invalid_json_line", "message": "This line is not valid JSON."}}
                )
        dump = lambda rows: "".join(json.dumps(r) + "\n" for r in rows).encode()  # noqa: E731
        out = self._add_file(dump(out_lines), "batch_output.jsonl", "batch_output")
        err = self._add_file(dump(err_lines), "batch_errors.jsonl", "batch_output") if err_lines else None
        with self._lock:
            b.update(
                status="completed",
                completed_at=_now(),
                output_file_id=out["id"],
                error_file_id=err["id"] if err else None,
                request_counts={
                    "total": len(out_lines) + len(err_lines),
                    "completed": len(out_lines),
                    "failed": len(err_lines),
                },
            )

    # -- fine-tuning -----------------------------------------------------------------------

    def _check_training(self, fid: str, method: str) -> tuple[int, str | None]:
        data = self._file_bytes.get(fid, b"").decode("utf-8", "replace")
        lines = [ln for ln in data.splitlines() if ln.strip()]
        for i, line in enumerate(lines, 1):
            try:
                item = json.loads(line)
            except ValueError:
                return len(lines), f"Invalid file format. Line {i} is not valid JSON."
            if not isinstance(item, dict):
                return len(lines), f"Invalid file format. Line {i} is not a JSON object."
            if method == "dpo":
                if not all(k in item for k in ("input", "preferred_output", "non_preferred_output")):
                    return len(lines), (
                        f"Invalid file format. Line {i} needs input, preferred_output and non_preferred_output."
                    )
            elif not isinstance(item.get("messages"), list) or not item["messages"]:
                return len(lines), f"Invalid file format. Line {i}, key \"messages\": empty or missing."
        if len(lines) < 10:
            return len(lines), f"Training file has {len(lines)} example(s), but must have at least 10 examples."
        return len(lines), None

    def _event(self, job: dict[str, Any], message: str, *, type_: str = "message", data: Any = None,
               level: str = "info") -> None:
        job["_events"].append(
            {
                "id": f"ftevent-{job['id'][8:]}-{len(job['_events']):05d}",
                "object": "fine_tuning.job.event",
                "created_at": _now(),
                "level": level,
                "message": message,
                "data": data,
                "type": type_,
            }
        )

    def _job_view(self, job: dict[str, Any]) -> dict[str, Any]:
        """Advance a job along its timeline and return its public object."""
        with self._lock:
            self._advance_job(job)
            return {k: v for k, v in job.items() if not k.startswith("_")}

    def _advance_job(self, job: dict[str, Any]) -> None:
        cfg = job["_cfg"]
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return
        if job["status"] == "paused":
            return
        clock = time.monotonic() - job["_t0"] - job["_paused_total"]
        t_valid, t_queue, step_s, steps = cfg["validate_s"], cfg["queue_s"], cfg["step_s"], job["_steps"]
        if job["status"] == "validating_files" and clock >= t_valid:
            problem = job["_file_problem"]
            if problem or cfg["fail_at"] == "validating_files":
                err = cfg["error"] or {"code": "invalid_training_file", "message": problem, "param": "training_file"}
                self._fail(job, err)
                return
            job["status"] = "queued"
            self._event(job, "Files validated, moving job to queued state")
        if job["status"] == "queued" and clock >= t_valid + t_queue:
            job["status"] = "running"
            self._event(job, "Fine-tuning job started")
        if job["status"] == "running":
            reached = min(steps, int((clock - t_valid - t_queue) / step_s))
            per_epoch = max(1, steps // job["_epochs"])
            while job["_step"] < reached:
                job["_step"] += 1
                s = job["_step"]
                loss = round(2.0 * 0.8 ** (s / per_epoch) + 0.05 * ((s * 7919) % 13) / 13, 4)
                acc = round(min(0.99, 0.5 + 0.4 * s / steps), 4)
                job["_losses"].append(loss)
                self._event(
                    job,
                    f"Step {s}/{steps}: training loss={loss:.4f}",
                    type_="metrics",
                    data={"step": s, "train_loss": loss, "train_mean_token_accuracy": acc, "total_steps": steps},
                )
                if cfg["cancel_at_step"] is not None and s >= cfg["cancel_at_step"]:
                    job.update(status="cancelled", finished_at=_now())
                    self._event(job, "Fine-tuning job cancelled", level="warn")
                    return
                if cfg["fail_at"] == "running" and s >= max(1, steps // 2):
                    err = cfg["error"] or {"code": "server_error", "message": "The job failed due to an internal error.", "param": None}
                    self._fail(job, err)
                    return
                if s % per_epoch == 0 or s == steps:
                    epoch = min(job["_epochs"], -(-s // per_epoch))
                    job["_checkpoints"].append(
                        {
                            "id": f"ftckpt_{uuid.uuid4().hex[:24]}",
                            "object": "fine_tuning.job.checkpoint",
                            "created_at": _now(),
                            "fine_tuned_model_checkpoint": f"{job['_model_name']}:ckpt-step-{s}",
                            "fine_tuning_job_id": job["id"],
                            "step_number": s,
                            "metrics": {"step": float(s), "train_loss": loss, "train_mean_token_accuracy": acc,
                                        "valid_loss": round(loss * 1.1, 4) if job["validation_file"] else None,
                                        "full_valid_loss": None, "full_valid_mean_token_accuracy": None,
                                        "valid_mean_token_accuracy": None},
                        }
                    )
                    self._event(job, f"Checkpoint created at step {s} (epoch {epoch})")
            if job["_step"] >= steps:
                name = job["_model_name"]
                self._created_models[name] = _now()
                job.update(status="succeeded", fine_tuned_model=name, finished_at=_now(),
                           trained_tokens=job["_examples"] * 50 * job["_epochs"],
                           result_files=[self._add_file_locked(job)])
                self._event(job, f"New fine-tuned model created: {name}")
                self._event(job, "The job has successfully completed")

    def _add_file_locked(self, job: dict[str, Any]) -> str:
        fid = "file-" + uuid.uuid4().hex[:24]
        rows = "step,train_loss\n" + "".join(f"{i + 1},{v}\n" for i, v in enumerate(job["_losses"]))
        data = rows.encode()
        self._files[fid] = {"id": fid, "object": "file", "bytes": len(data), "created_at": _now(),
                            "filename": "step_metrics.csv", "purpose": "fine-tune-results",
                            "status": "processed", "status_details": None, "expires_at": None}
        self._file_bytes[fid] = data
        return fid

    def _fail(self, job: dict[str, Any], err: dict[str, Any]) -> None:
        job.update(status="failed", finished_at=_now(), error=dict(err))
        self._event(job, f"Fine-tuning job failed: {err.get('message')}", level="error")

    def _job(self, jid: str) -> dict[str, Any]:
        job = self._jobs.get(jid)
        if job is None:
            raise _Reply(404, _error(f"Could not find fine-tune job: {jid}", code="fine_tune_not_found", param="id"))
        return job

    def _create_job(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _Reply(400, _error("The request body must be a JSON object."))
        model, training_file = body.get("model"), body.get("training_file")
        if not isinstance(model, str) or not self._model_known(model):
            raise _Reply(400, _error(f"Model {model!r} is not available for fine-tuning or does not exist.",
                                     code="model_not_available", param="model"))
        if training_file not in self._files:
            raise _Reply(400, _error(f"invalid training_file: {training_file}", code="invalid_training_file",
                                     param="training_file"))
        if self._files[training_file]["purpose"] != "fine-tune":
            raise _Reply(400, _error(f"File {training_file} has purpose {self._files[training_file]['purpose']!r}; "
                                     "it must be 'fine-tune'.", param="training_file"))
        validation_file = body.get("validation_file")
        if validation_file is not None and validation_file not in self._files:
            raise _Reply(400, _error(f"invalid validation_file: {validation_file}", param="validation_file"))
        method = body.get("method") or {"type": "supervised"}
        mtype = method.get("type") if isinstance(method, dict) else None
        if mtype not in ("supervised", "dpo", "reinforcement"):
            raise _Reply(400, _error(f"Invalid method type {mtype!r}; use 'supervised' or 'dpo'.", param="method.type"))
        hp = dict((method.get(mtype) or {}).get("hyperparameters") or body.get("hyperparameters") or {})
        suffix = body.get("suffix")
        if suffix is not None and (not isinstance(suffix, str) or len(suffix) > 64):
            raise _Reply(400, _error("suffix must be a string of at most 64 characters.", param="suffix"))
        examples, problem = self._check_training(training_file, mtype)
        epochs = hp.get("n_epochs", "auto")
        n_epochs = epochs if isinstance(epochs, int) and epochs > 0 else 3
        hp_out = {"batch_size": hp.get("batch_size", 1) if hp.get("batch_size") != "auto" else 1,
                  "learning_rate_multiplier": hp.get("learning_rate_multiplier", 1.8)
                  if hp.get("learning_rate_multiplier") != "auto" else 1.8,
                  "n_epochs": n_epochs}
        if mtype == "dpo":
            hp_out["beta"] = hp.get("beta", 0.1) if hp.get("beta") != "auto" else 0.1
        jid = "ftjob-" + uuid.uuid4().hex[:24]
        base = model.split(":")[1] if model.startswith("ft:") else model
        job = {
            "id": jid,
            "object": "fine_tuning.job",
            "created_at": _now(),
            "error": None,
            "fine_tuned_model": None,
            "finished_at": None,
            "hyperparameters": {k: v for k, v in hp_out.items() if k != "beta"},
            "model": model,
            "organization_id": "org-loopback",
            "result_files": [],
            "seed": body.get("seed") if isinstance(body.get("seed"), int) else 42,
            "status": "validating_files",
            "trained_tokens": None,
            "training_file": training_file,
            "validation_file": validation_file,
            "estimated_finish": None,
            "integrations": body.get("integrations") or None,
            "metadata": body.get("metadata"),
            "user_provided_suffix": suffix,
            "method": {"type": mtype, mtype: {"hyperparameters": hp_out}},
            "_cfg": dict(self.finetune),
            "_t0": time.monotonic(),
            "_paused_total": 0.0,
            "_paused_at": None,
            "_step": 0,
            "_steps": int(self.finetune["steps"]),
            "_epochs": n_epochs,
            "_examples": examples,
            "_file_problem": problem,
            "_losses": [],
            "_events": [],
            "_checkpoints": [],
            "_model_name": f"ft:{base}:{suffix or 'loopback'}:{jid[6:14]}",
        }
        self._event(job, f"Created fine-tuning job: {jid}")
        self._event(job, f"Validating training file: {training_file}")
        with self._lock:
            self._jobs[jid] = job
        return self._job_view(job)


def _page(items: list[dict[str, Any]], query: dict[str, list[str]], *, default_limit: int = 20) -> dict[str, Any]:
    """A cursor page: ``after`` is the id of the last item already seen; newest first."""
    try:
        limit = max(1, min(10_000, int(query.get("limit", [default_limit])[0])))
    except ValueError:
        raise _Reply(400, _error("limit must be an integer.", param="limit")) from None
    after = query.get("after", [None])[0]
    start = 0
    if after is not None:
        ids = [i["id"] for i in items]
        if after not in ids:
            raise _Reply(400, _error(f"No such object for 'after': {after}", param="after"))
        start = ids.index(after) + 1
    chunk = items[start : start + limit]
    return {
        "object": "list",
        "data": chunk,
        "has_more": start + limit < len(items),
        "first_id": chunk[0]["id"] if chunk else None,
        "last_id": chunk[-1]["id"] if chunk else None,
    }


def _parse_multipart(body: bytes, content_type: str) -> dict[str, tuple[str | None, bytes]]:
    """Fields of a multipart/form-data body: name -> (filename or None, bytes)."""
    boundary = None
    for part in content_type.split(";"):
        part = part.strip()
        if part.startswith("boundary="):
            boundary = part[len("boundary=") :].strip('"')
    if not boundary:
        raise _Reply(400, _error("Expected multipart/form-data with a boundary."))
    out: dict[str, tuple[str | None, bytes]] = {}
    for chunk in body.split(b"--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.lstrip(b"\r\n").partition(b"\r\n\r\n")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        name = filename = None
        for line in head.decode("utf-8", "replace").split("\r\n"):
            if line.lower().startswith("content-disposition"):
                for item in line.split(";"):
                    key, _, value = item.strip().partition("=")
                    if key == "name":
                        name = value.strip('"')
                    elif key == "filename":
                        filename = value.strip('"')
        if name:
            out[name] = (filename, data)
    return out


class _Handler(http.server.BaseHTTPRequestHandler):
    owner: LoopbackOpenAI
    protocol_version = "HTTP/1.1"
    server_version = "LoopbackOpenAI/1.0"
    # Headers and body go out in separate writes; with Nagle's algorithm on, the body waits for the
    # client's delayed ACK (~40 ms per request, measured). Real API servers do not add that.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing --------------------------------------------------------------------------

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None, *, raw: bytes | None = None,
              content_type: str = "application/json") -> None:
        data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", "req_" + uuid.uuid4().hex[:16])
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self, method: str) -> None:
        owner = self.owner
        url = urlsplit(self.path)
        path = url.path.rstrip("/")
        query = parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        ctype = self.headers.get("Content-Type", "")
        body: Any = None
        if raw and ctype.startswith("application/json"):
            try:
                body = json.loads(raw)
            except ValueError:
                self._send(400, _error("We could not parse the JSON body of your request."))
                return
        if owner.record:
            rec = {
                "method": method,
                "path": path,
                "query": {k: v[0] for k, v in query.items()},
                "json": body,
                "body_size": len(raw),
                "headers": {k.lower(): v for k, v in self.headers.items() if k.lower() != "authorization"},
                "time": time.time(),
            }
            with owner._lock:
                owner.requests.append(rec)
        route = self._route_name(path)
        try:
            auth = self.headers.get("Authorization", "")
            if auth != f"Bearer {owner.api_key}":
                shown = auth[7:] if auth.startswith("Bearer ") else ""
                masked = (shown[:3] + "*" * 8 + shown[-2:]) if len(shown) > 8 else "***"
                raise _Reply(401, _error(
                    f"Incorrect API key provided: {masked}. You can find your API key in your provider's dashboard.",
                    code="invalid_api_key"))
            if route is not None:
                kind, delay, faults = owner._next_fault(route)
                # A rate limiter or an auth check answers before any work: no latency for those.
                if delay > 0 and kind not in ("429", "401"):
                    time.sleep(delay)
                if kind != "ok" and self._fault(kind, faults):
                    return
            status, out = self._handle(method, path, query, body, raw, ctype)
        except _Reply as reply:
            self._send(reply.status, reply.body, reply.headers)
            return
        if isinstance(out, bytes):
            self._send(status, None, raw=out, content_type="application/octet-stream")
        else:
            self._send(status, out)

    @staticmethod
    def _route_name(path: str) -> str | None:
        for prefix, name in (("/v1/chat/completions", "chat"), ("/v1/files", "files"), ("/v1/batches", "batches"),
                             ("/v1/fine_tuning", "fine_tuning"), ("/v1/models", "models")):
            if path.startswith(prefix):
                return name
        return None

    def _fault(self, kind: str, f: _Faults) -> bool:
        """Answer with an injected fault; True when the request is done."""
        if kind == "429":
            headers = {}
            if f.retry_after_ms is not None:
                headers["retry-after-ms"] = str(f.retry_after_ms)
            if f.retry_after_s is not None:
                headers["Retry-After"] = str(f.retry_after_s)
            self._send(429, _error("Rate limit reached for requests. Please try again shortly.",
                                   type_="requests", code="rate_limit_exceeded"), headers)
            return True
        if kind == "500":
            self._send(500, _error("The server had an error while processing your request.", type_="server_error"))
            return True
        if kind == "401":
            self._send(401, _error("Your authentication token has expired. Please try signing in again.",
                                   code="invalid_api_key"))
            return True
        if kind == "garbage":
            self._send(200, None, raw=b'{"id": "chatcmpl-broken", "choices": [{"mess')
            return True
        if kind == "close":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return True
        if kind == "timeout":
            time.sleep(f.timeout_s)
            return False
        return False

    def _handle(self, method: str, path: str, query: dict[str, list[str]], body: Any, raw: bytes,
                ctype: str) -> tuple[int, Any]:
        owner = self.owner
        parts = path.split("/")[2:]  # after "/v1"
        if path == "/v1/chat/completions" and method == "POST":
            return 200, owner.chat(body)
        if parts[:1] == ["models"]:
            if len(parts) == 1 and method == "GET":
                ids = sorted(owner.models) + sorted(owner._created_models)
                return 200, {"object": "list", "data": [
                    {"id": m, "object": "model", "created": owner._created_models.get(m, 1_700_000_000),
                     "owned_by": "user" if m.startswith("ft:") else "system"} for m in ids]}
            if len(parts) == 2 and method == "GET":
                m = parts[1]
                if not owner._model_known(m):
                    raise _Reply(404, _error(f"The model '{m}' does not exist", code="model_not_found", param="model"))
                return 200, {"id": m, "object": "model", "created": 1_700_000_000, "owned_by": "system"}
        if parts[:1] == ["files"]:
            return self._files_route(method, parts[1:], query, raw, ctype)
        if parts[:1] == ["batches"]:
            return self._batches_route(method, parts[1:], query, body)
        if parts[:2] == ["fine_tuning", "jobs"]:
            return self._jobs_route(method, parts[2:], query, body)
        raise _Reply(404, _error(f"Invalid URL ({method} {path})"))

    def _files_route(self, method: str, rest: list[str], query: dict[str, list[str]], raw: bytes,
                     ctype: str) -> tuple[int, Any]:
        owner = self.owner
        if not rest and method == "POST":
            fields = _parse_multipart(raw, ctype)
            if "file" not in fields:
                raise _Reply(400, _error("Missing the 'file' field.", param="file"))
            purpose = fields.get("purpose", (None, b""))[1].decode()
            if purpose not in ("fine-tune", "batch", "assistants", "vision", "user_data", "evals"):
                raise _Reply(400, _error(f"Invalid purpose {purpose!r}.", param="purpose"))
            filename, data = fields["file"]
            return 200, owner._add_file(data, filename or "upload", purpose)
        if not rest and method == "GET":
            with owner._lock:
                items = sorted(owner._files.values(), key=lambda f: f["id"], reverse=True)
                items = sorted(items, key=lambda f: f["created_at"], reverse=query.get("order", ["desc"])[0] != "asc")
            purpose = query.get("purpose", [None])[0]
            if purpose:
                items = [f for f in items if f["purpose"] == purpose]
            return 200, _page(items, query, default_limit=10_000)
        if len(rest) == 1 and method == "GET":
            return 200, owner._file(rest[0])
        if len(rest) == 1 and method == "DELETE":
            owner._file(rest[0])
            with owner._lock:
                owner._files.pop(rest[0], None)
                owner._file_bytes.pop(rest[0], None)
            return 200, {"id": rest[0], "object": "file", "deleted": True}
        if len(rest) == 2 and rest[1] == "content" and method == "GET":
            owner._file(rest[0])
            return 200, owner._file_bytes[rest[0]]
        raise _Reply(404, _error("Invalid URL"))

    def _batches_route(self, method: str, rest: list[str], query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        owner = self.owner
        if not rest and method == "POST":
            if not isinstance(body, dict):
                raise _Reply(400, _error("The request body must be a JSON object."))
            fid = body.get("input_file_id")
            f = owner._file(fid) if isinstance(fid, str) else None
            if f is None or f["purpose"] != "batch":
                raise _Reply(400, _error(f"input_file_id {fid!r} must be a file with purpose 'batch'.",
                                         param="input_file_id"))
            if body.get("endpoint") != "/v1/chat/completions":
                raise _Reply(400, _error("This server runs batches for /v1/chat/completions only.", param="endpoint"))
            if body.get("completion_window") != "24h":
                raise _Reply(400, _error("completion_window must be '24h'.", param="completion_window"))
            bid = "batch_" + uuid.uuid4().hex[:24]
            b = {
                "id": bid, "object": "batch", "endpoint": body["endpoint"], "errors": None,
                "input_file_id": fid, "completion_window": "24h", "status": "validating",
                "output_file_id": None, "error_file_id": None, "created_at": _now(),
                "in_progress_at": None, "expires_at": _now() + 86400, "finalizing_at": None,
                "completed_at": None, "failed_at": None, "expired_at": None, "cancelling_at": None,
                "cancelled_at": None, "request_counts": {"total": 0, "completed": 0, "failed": 0},
                "metadata": body.get("metadata"), "_t0": time.monotonic(),
            }
            with owner._lock:
                owner._batches[bid] = b
            return 200, owner._batch_view(b)
        if not rest and method == "GET":
            with owner._lock:
                items = list(owner._batches.values())[::-1]
            return 200, _page([owner._batch_view(b) for b in items], query)
        b = owner._batches.get(rest[0])
        if b is None:
            raise _Reply(404, _error(f"No batch found with id '{rest[0]}'.", param="batch_id"))
        if len(rest) == 1 and method == "GET":
            return 200, owner._batch_view(b)
        if len(rest) == 2 and rest[1] == "cancel" and method == "POST":
            with owner._lock:
                if b["status"] in ("validating", "in_progress", "finalizing"):
                    b["status"], b["cancelling_at"] = "cancelling", _now()
                    view = {k: v for k, v in b.items() if not k.startswith("_")}
                    return 200, view
            return 200, owner._batch_view(b)
        raise _Reply(404, _error("Invalid URL"))

    def _jobs_route(self, method: str, rest: list[str], query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        owner = self.owner
        if not rest and method == "POST":
            return 200, owner._create_job(body)
        if not rest and method == "GET":
            with owner._lock:
                items = list(owner._jobs.values())[::-1]
            return 200, _page([owner._job_view(j) for j in items], query)
        job = owner._job(rest[0])
        if len(rest) == 1 and method == "GET":
            return 200, owner._job_view(job)
        action = rest[1] if len(rest) == 2 else None
        if action == "events" and method == "GET":
            owner._job_view(job)
            with owner._lock:
                events = list(job["_events"])[::-1]
            return 200, _page(events, query)
        if action == "checkpoints" and method == "GET":
            owner._job_view(job)
            with owner._lock:
                ckpts = list(job["_checkpoints"])[::-1]
            return 200, _page(ckpts, query, default_limit=10)
        if action in ("cancel", "pause", "resume") and method == "POST":
            with owner._lock:
                owner._advance_job(job)
                status = job["status"]
                if action == "cancel":
                    if status in ("succeeded", "failed", "cancelled"):
                        raise _Reply(400, _error(f"Job {job['id']} has already {status}; it cannot be cancelled.",
                                                 code="invalid_state"))
                    job.update(status="cancelled", finished_at=_now())
                    owner._event(job, "Fine-tuning job cancelled")
                elif action == "pause":
                    if status != "running":
                        raise _Reply(400, _error(f"Job {job['id']} is {status}; only running jobs can be paused.",
                                                 code="invalid_state"))
                    job.update(status="paused", _paused_at=time.monotonic())
                    owner._event(job, "Fine-tuning job paused")
                else:
                    if status != "paused":
                        raise _Reply(400, _error(f"Job {job['id']} is {status}; only paused jobs can be resumed.",
                                                 code="invalid_state"))
                    job["_paused_total"] += time.monotonic() - job["_paused_at"]
                    job.update(status="running", _paused_at=None)
                    owner._event(job, "Fine-tuning job resumed")
            return 200, owner._job_view(job)
        raise _Reply(404, _error("Invalid URL"))


def openai_server_fixture(**kwargs: Any):
    """A pytest fixture yielding a started `LoopbackOpenAI(**kwargs)`, stopped after each test.

    In a test module: ``openai_server = openai_server_fixture()`` (or with settings, e.g.
    ``finetune={"step_s": 0.01}``); tests then take ``openai_server`` as an argument.
    """
    if pytest is None:  # pragma: no cover
        raise RuntimeError("openai_server_fixture needs pytest")

    @pytest.fixture
    def _fixture() -> Iterator[LoopbackOpenAI]:
        with LoopbackOpenAI(**kwargs) as server:
            yield server

    return _fixture


if pytest is not None:
    #: A started loopback server with default settings (``from openai_server import openai_server``).
    openai_server = openai_server_fixture()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a loopback OpenAI-compatible API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per chat completion")
    parser.add_argument("--rate-429", type=float, default=0.0, help="fraction of chat requests answered 429")
    parser.add_argument("--rate-500", type=float, default=0.0, help="fraction of chat requests answered 500")
    parser.add_argument("--retry-after-ms", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-phase-s", type=float, default=0.5)
    parser.add_argument("--step-s", type=float, default=0.2, help="seconds per fine-tuning step")
    args = parser.parse_args(argv)
    server = LoopbackOpenAI(api_key=args.api_key, port=args.port, latency=args.latency,
                            batch_phase_s=args.batch_phase_s, finetune={"step_s": args.step_s})
    rates = {k: v for k, v in (("429", args.rate_429), ("500", args.rate_500)) if v > 0}
    server.inject("chat", rates=rates, retry_after_ms=args.retry_after_ms, seed=args.seed)
    server.start()
    print(server.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()

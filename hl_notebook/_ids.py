"""Time-sortable identifiers: a prefix, then 48 bits of milliseconds and 80 bits of randomness.

The 26 characters after the prefix use Crockford's base32 alphabet, whose ASCII order matches the
numeric order, so sorting ids as strings sorts them by creation time. Within one process ids are
strictly increasing, even when many are made in the same millisecond.
"""

from __future__ import annotations

import base64
import os
import threading
import time

_STD = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_CROCKFORD = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TABLE = bytes.maketrans(_STD, _CROCKFORD)
_RANDOM_MAX = (1 << 80) - 1

_lock = threading.Lock()
_last_ms = 0
_last_rand = 0


def _encode(ms: int, rand: int) -> str:
    raw = ms.to_bytes(6, "big") + rand.to_bytes(10, "big")
    return base64.b32encode(raw).translate(_TABLE)[:26].decode("ascii")


def new_ids(prefix: str, count: int) -> list[str]:
    """``count`` new ids, strictly increasing, all starting with ``prefix``."""
    global _last_ms, _last_rand
    out = []
    with _lock:
        ms = int(time.time() * 1000)
        if ms > _last_ms:
            _last_ms, _last_rand = ms, int.from_bytes(os.urandom(10), "big") >> 1
        for _ in range(count):
            _last_rand += 1
            if _last_rand > _RANDOM_MAX:  # pragma: no cover - needs 2**79 ids in one ms
                _last_ms += 1
                _last_rand = 0
            out.append(prefix + _encode(_last_ms, _last_rand))
    return out


def new_id(prefix: str) -> str:
    """One new id starting with ``prefix``.

    Examples
    --------
    >>> new_id("log_").startswith("log_")
    True
    """
    return new_ids(prefix, 1)[0]


def id_time_ms(identifier: str) -> int:
    """The millisecond timestamp inside an id made by `new_id`."""
    body = identifier[-26:].encode("ascii").translate(bytes.maketrans(_CROCKFORD, _STD))
    raw = base64.b32decode(body + b"======")
    return int.from_bytes(raw[:6], "big")

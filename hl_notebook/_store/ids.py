"""Time-sortable identifiers: a prefix, then 10 characters of milliseconds and 16 of randomness.

The 26 characters after the prefix use Crockford's base32 alphabet, whose ASCII order matches the
numeric order, so sorting ids as strings sorts them by creation time (the layout of a ULID). Within
one process ids are strictly increasing, even when many are made in the same millisecond: the
random part of the first id of a millisecond is drawn at random, and later ones count up from it.
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUES = {c: i for i, c in enumerate(_ALPHABET)}
#: every 10-bit number as two base32 characters
_PAIRS = [_ALPHABET[i >> 5] + _ALPHABET[i & 31] for i in range(1024)]
_RANDOM_BITS = 80

_lock = threading.Lock()
_last_ms = 0
_last_rand = 0


def _encode(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        chars.append(_ALPHABET[number & 31])
        number >>= 5
    return "".join(reversed(chars))


def new_ids(prefix: str, count: int) -> list[str]:
    """``count`` new ids, strictly increasing, all starting with ``prefix``."""
    global _last_ms, _last_rand
    with _lock:
        ms = int(time.time() * 1000)
        if ms > _last_ms:
            # one bit of headroom, so counting up within a millisecond never overflows in practice
            _last_ms, _last_rand = ms, int.from_bytes(os.urandom(10), "big") >> 1
        start = _last_rand + 1
        if start + count >= 1 << _RANDOM_BITS:  # pragma: no cover - 2**79 ids in one millisecond
            _last_ms += 1
            start = 0
        _last_rand = start + count - 1
        ms = _last_ms
    head = prefix + _encode(ms, 10)
    out = []
    high = -1
    stem = ""
    for rand in range(start, start + count):
        if rand >> 20 != high:  # the first 12 random characters change once every 2**20 ids
            high = rand >> 20
            stem = head + _encode(high, 12)
        out.append(stem + _PAIRS[(rand >> 10) & 1023] + _PAIRS[rand & 1023])
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
    ms = 0
    for char in identifier[-26:-16]:
        ms = ms * 32 + _VALUES[char]
    return ms

"""Identifiers: a type prefix, then 26 Crockford base-32 characters.

The first 10 characters are the creation time in milliseconds, so ids sort by creation time
(which keeps B-tree inserts at the right edge) and cursor pagination can order by id alone.
The other 16 carry 80 random bits. Within one process ids strictly increase: an id made in
the same millisecond as the previous one (or after the clock stepped back) takes the previous
id's time and random part plus one, so two objects created in one millisecond still list in
the order they were made.
"""

from __future__ import annotations

import secrets
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
ID_PREFIX_LENGTH_MAX = 8


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, index = divmod(value, 32)
        chars.append(_ALPHABET[index])
    return "".join(reversed(chars))


_RANDOM_BITS = 80
_lock = threading.Lock()
_last = (0, 0)


def _next_stamp() -> tuple[int, int]:
    global _last
    millis = time.time_ns() // 1_000_000
    with _lock:
        last_millis, last_random = _last
        if millis > last_millis:
            _last = (millis, secrets.randbits(_RANDOM_BITS))
        elif last_random + 1 < 2**_RANDOM_BITS:
            _last = (last_millis, last_random + 1)
        else:  # 2**80 ids in one millisecond: move to the next one
            _last = (last_millis + 1, secrets.randbits(_RANDOM_BITS))
        return _last


def new_id(prefix: str) -> str:
    """A new sortable id such as ``mch_01jf3...``."""
    if not prefix.isalpha() or len(prefix) > ID_PREFIX_LENGTH_MAX:
        raise ValueError(f"bad id prefix {prefix!r}")
    millis, random_part = _next_stamp()
    return f"{prefix}_{_encode(millis, 10)}{_encode(random_part, 16)}"

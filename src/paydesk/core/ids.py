"""Identifiers: a type prefix, then 26 Crockford base-32 characters.

The first 10 characters are the creation time in milliseconds, so ids sort by creation time
(which keeps B-tree inserts at the right edge) and cursor pagination can order by id alone.
The other 16 carry 80 random bits.
"""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
ID_PREFIX_LENGTH_MAX = 8


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, index = divmod(value, 32)
        chars.append(_ALPHABET[index])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """A new sortable id such as ``mch_01jf3...``."""
    if not prefix.isalpha() or len(prefix) > ID_PREFIX_LENGTH_MAX:
        raise ValueError(f"bad id prefix {prefix!r}")
    millis = time.time_ns() // 1_000_000
    return f"{prefix}_{_encode(millis, 10)}{_encode(secrets.randbits(80), 16)}"

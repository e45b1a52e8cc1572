"""API secret keys: their shape, generation and hashing. Pure: no database.

A key reads ``pd_test_sk_<40 random chars>``, ``pd_live_sk_...`` or ``pd_admin_sk_...``: the
prefix tells the mode (and platform administration) at a glance, in logs and in secret
scanners. Keys carry 238 bits of randomness, so a fast SHA-256 is a safe way to store them
(a slow password hash guards low-entropy secrets; these are not), and lookups stay one
indexed equality.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from dataclasses import dataclass

from paydesk.merchants.models import KeyMode, KeyRole

KEY_RANDOM_LENGTH = 40
KEY_DISPLAY_RANDOM_LENGTH = 4
KEY_LENGTH_MAX = 64
_ALPHABET = string.ascii_letters + string.digits
_KEY_PATTERN = re.compile(rf"^pd_(test|live|admin)_sk_[A-Za-z0-9]{{{KEY_RANDOM_LENGTH}}}$")


@dataclass(frozen=True, slots=True)
class NewKey:
    secret: str
    """The whole key: shown to its owner once, then only its hash is kept."""
    key_hash: str
    display_prefix: str


def key_prefix(role: KeyRole, mode: KeyMode) -> str:
    return "pd_admin_sk_" if role is KeyRole.ADMIN else f"pd_{mode.value}_sk_"


def generate_key(role: KeyRole, mode: KeyMode) -> NewKey:
    """A fresh random key for ``role`` in ``mode``."""
    random_part = "".join(secrets.choice(_ALPHABET) for _ in range(KEY_RANDOM_LENGTH))
    prefix = key_prefix(role, mode)
    secret = prefix + random_part
    return NewKey(
        secret=secret,
        key_hash=hash_key(secret),
        display_prefix=prefix + random_part[:KEY_DISPLAY_RANDOM_LENGTH],
    )


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def is_well_formed(secret: str) -> bool:
    """Cheap shape check before any database lookup."""
    return len(secret) <= KEY_LENGTH_MAX and bool(_KEY_PATTERN.match(secret))

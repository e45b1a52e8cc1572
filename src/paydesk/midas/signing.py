"""Midas request signatures, pure: ``sig`` (keyed with the AppKey) and ``mp_sig`` (keyed with
the user's session key), both lowercase hex HMAC-SHA256.

The signed text is the request's parameters as sorted ``k=v`` pairs joined by ``&``, followed
by ``&org_loc=<URI>&method=POST`` and the key itself (``&secret=<AppKey>`` for ``sig``,
``&session_key=<key>`` for ``mp_sig``). ``sig`` covers the body parameters without ``sig``,
``mp_sig`` and ``access_token``; ``mp_sig`` covers every parameter, ``access_token`` (from the
query string) and ``sig`` included, without ``mp_sig``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

METHOD = "POST"
SIG = "sig"
MP_SIG = "mp_sig"
ACCESS_TOKEN = "access_token"  # noqa: S105 - a parameter name, not a secret

ParamValue = str | int


def _text(value: ParamValue) -> str:
    # JSON integers (ts, amt) are signed as their decimal digits, as clients write them.
    if isinstance(value, bool):
        raise TypeError("booleans are not signable Midas parameters")
    return str(value)


def signed_text(params: Mapping[str, ParamValue], org_loc: str, key_name: str, key: str) -> str:
    """The text that is HMAC-ed: sorted pairs, then the location, method and key."""
    pairs = "&".join(f"{name}={_text(params[name])}" for name in sorted(params))
    return f"{pairs}&org_loc={org_loc}&method={METHOD}&{key_name}={key}"


def _hmac(key: str, text: str) -> str:
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


def sig(params: Mapping[str, ParamValue], org_loc: str, app_key: str) -> str:
    """The ``sig`` of a request's body parameters (``sig``, ``mp_sig``, ``access_token`` are
    left out whether or not they are given)."""
    signed = {k: v for k, v in params.items() if k not in {SIG, MP_SIG, ACCESS_TOKEN}}
    return _hmac(app_key, signed_text(signed, org_loc, "secret", app_key))


def mp_sig(params: Mapping[str, ParamValue], org_loc: str, session_key: str) -> str:
    """The ``mp_sig`` over every parameter; ``params`` must include ``access_token`` and
    ``sig`` (``mp_sig`` is left out if given)."""
    signed = {k: v for k, v in params.items() if k != MP_SIG}
    return _hmac(session_key, signed_text(signed, org_loc, "session_key", session_key))


def matches(expected: str, given: str) -> bool:
    """Constant-time comparison of a computed signature with the one a client sent (hex case
    does not matter)."""
    return hmac.compare_digest(expected.encode(), given.lower().encode("utf-8", "replace"))

"""QQ Wallet signatures: the merchant API's ``sign``, the app SDK's ``sig``, the operator
password. Pure functions (sources in :mod:`.connector`'s docstring).

**``sign``** (requests, answers, notifications): take every field except ``sign`` whose value
is not empty (a value of only spaces counts as empty, as QQ Wallet's PHP demo and WeChat Pay
v2's Java SDK read it), sort by field name (byte order), join ``name=value`` with ``&``
(values raw: no URL encoding), append ``&key=<API key>``; then

- ``MD5``: the upper-case hex MD5 of that text (UTF-8);
- ``HMAC-SHA256``: the upper-case hex HMAC-SHA256 of that same text, keyed with the API key.

``sign_type`` itself, when sent, is a field like any other and so is signed. A signature is
compared in constant time and without regard to case.

**``sig``** (QQ_APP, the parameters of the QQ app SDK's ``PayApi``): the text
``appId=..&bargainorId=..&nonce=..&pubAcc=..&tokenId=..`` (these five keys in this order, which
is their sorted order; an empty value stays as ``key=``), HMAC-SHA1 keyed with the app's
open-platform AppKey followed by ``&``, base64. Published check: appId 100619284, bargainorId
1900000109, nonce ksjfwierwfjk, tokenId 1000000002, pubAcc empty, AppKey
d139ae6fb0175e5659dce2a7c1fe84d5 give ``c6xXw0tNABhOMc869h1bfxTp9Mk=``.

**``op_user_passwd``** (refunds): the lower-case hex MD5 of the operator's password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

from paydesk.channels.qqwallet.config import SignType

SIGN = "sign"
BLANK = " \t\r\n\x0b\x0c\x00"
"""Characters a value may consist of and still count as empty (not signed)."""
APP_SIG_TYPE = "HMAC-SHA1"


def signed_text(fields: Mapping[str, str], api_key: str) -> str:
    """The text that ``sign`` is computed over."""
    pairs = sorted(
        (name, value) for name, value in fields.items() if name != SIGN and value.strip(BLANK) != ""
    )
    return "&".join(f"{name}={value}" for name, value in pairs) + f"&key={api_key}"


def sign(fields: Mapping[str, str], api_key: str, sign_type: SignType) -> str:
    """The ``sign`` of ``fields`` (any ``sign`` among them is left out)."""
    text = signed_text(fields, api_key).encode()
    if sign_type is SignType.HMAC_SHA256:
        digest = hmac.new(api_key.encode(), text, hashlib.sha256).hexdigest()
    else:
        digest = hashlib.md5(text, usedforsecurity=False).hexdigest()
    return digest.upper()


def verify(fields: Mapping[str, str], api_key: str, sign_type: SignType) -> bool:
    """Whether ``fields["sign"]`` is the signature of the other fields."""
    given = fields.get(SIGN, "")
    if not given:
        return False
    return hmac.compare_digest(given.upper().encode(), sign(fields, api_key, sign_type).encode())


def with_sign(fields: Mapping[str, str], api_key: str, sign_type: SignType) -> dict[str, str]:
    """``fields`` and their ``sign``."""
    return {**fields, SIGN: sign(fields, api_key, sign_type)}


def app_sig(
    app_id: str, bargainor_id: str, nonce: str, token_id: str, app_key: str, pub_acc: str = ""
) -> str:
    """The QQ app SDK's ``sig`` (HMAC-SHA1, base64) over its five signed parameters."""
    text = (
        f"appId={app_id}&bargainorId={bargainor_id}&nonce={nonce}"
        f"&pubAcc={pub_acc}&tokenId={token_id}"
    )
    digest = hmac.new(f"{app_key}&".encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def operator_password_md5(password: str) -> str:
    """``op_user_passwd``: the MD5 of the operator's password, lower-case hex."""
    return hashlib.md5(password.encode(), usedforsecurity=False).hexdigest()

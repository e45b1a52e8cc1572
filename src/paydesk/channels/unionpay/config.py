"""One merchant at the UnionPay online gateway (全渠道, ACP 5.1.0): :class:`UnionPayConfig`.

What the merchant needs (UnionPay's 《网关支付产品接口规范》 and the acp SDK's
``acp_sdk.properties``):

- ``merId``, the 15-character merchant number UnionPay assigned;
- its signing key and the decimal serial number of the signing certificate issued for it
  (``certId``); the SDK reads both from a PKCS#12 file, here they are PEM text and a number;
- the root and intermediate certificates (``acpsdk.rootCert.path``, ``acpsdk.middleCert.path``)
  that UnionPay's signing certificate, sent in every answer as ``signPubKeyCert``, must chain
  to;
- the gateway: ``https://gateway.95516.com`` with ``/gateway/api/<name>.do`` below it, and the
  statement download at ``https://filedownload.95516.com/`` (UnionPay's API page of the
  file-transfer transaction). A simulator serves every path under its own base URL, statement
  download included (``/gateway/api/fileTransfer.do``), so any other ``gateway_url`` is used for
  all of them unless ``file_transfer_url`` says otherwise.

The signing key is a secret: :meth:`UnionPayConfig.__repr__` shows none of the PEM texts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UNIONPAY_GATEWAY_URL = "https://gateway.95516.com"
"""The production gateway (``acpsdk.frontTransUrl`` and the others live below it)."""
UNIONPAY_FILE_TRANSFER_URL = "https://filedownload.95516.com/"
"""The production statement download (``acpsdk.fileTransUrl``)."""
FRONT_TRANS_PATH = "/gateway/api/frontTransReq.do"
BACK_TRANS_PATH = "/gateway/api/backTransReq.do"
QUERY_TRANS_PATH = "/gateway/api/queryTrans.do"
FILE_TRANSFER_PATH = "/gateway/api/fileTransfer.do"
"""Where a simulator serves the statement download (the real one is its own host)."""

TIMEOUT_S_DEFAULT = 10.0
TIMEOUT_S_MAX = 120.0
STATEMENT_BYTES_MAX_DEFAULT = 200 * 1024 * 1024
"""Largest statement ZIP we accept once inflated: a busy merchant's day is tens of MB."""
MER_ID = re.compile(r"[0-9A-Za-z]{15}")
CERT_ID = re.compile(r"[0-9]{1,40}")


@dataclass(frozen=True, slots=True, repr=False)
class UnionPayConfig:
    """A merchant of the UnionPay online gateway, signing with signMethod 01 (RSA)."""

    mer_id: str
    """The merchant number (``merId``, 15 characters)."""
    sign_cert_id: str
    """``certId``: the decimal serial number of the merchant's signing certificate."""
    sign_private_key_pem: str
    """Secret. The merchant's RSA signing key (PEM, PKCS#8 or PKCS#1)."""
    root_cert_pem: str
    """UnionPay's root certificate (PEM): the anchor of ``signPubKeyCert``'s chain."""
    middle_cert_pem: str
    """UnionPay's intermediate certificate (PEM) that issues its signing certificates."""
    gateway_url: str = UNIONPAY_GATEWAY_URL
    file_transfer_url: str | None = None
    """The statement download; None: the real one for the real gateway, else
    ``<gateway_url>/gateway/api/fileTransfer.do``."""
    timeout_s: float = TIMEOUT_S_DEFAULT
    """Seconds to connect, then for each read or write (httpx's per-operation time-outs)."""
    validate_cn_name: bool = True
    """As ``acpsdk.ifValidateCNName``: True accepts only a ``signPubKeyCert`` whose CN names
    中国银联股份有限公司; False also accepts UnionPay's test environment (``00040000:SIGN``)."""
    statement_bytes_max: int = STATEMENT_BYTES_MAX_DEFAULT

    def __post_init__(self) -> None:
        if not MER_ID.fullmatch(self.mer_id):
            raise ValueError("mer_id must be 15 letters or digits")
        if not CERT_ID.fullmatch(self.sign_cert_id):
            raise ValueError("sign_cert_id must be the certificate's decimal serial number")
        if not self.sign_private_key_pem or not self.root_cert_pem or not self.middle_cert_pem:
            raise ValueError("the signing key and the root and middle certificates are required")
        for url in (self.gateway_url, self.file_transfer_url or self.gateway_url):
            if not url.startswith(("https://", "http://")) or "?" in url:
                raise ValueError("gateway URLs must be http(s) URLs without a query string")
        if not 0 < self.timeout_s <= TIMEOUT_S_MAX:
            raise ValueError(f"timeout_s must be within (0, {TIMEOUT_S_MAX}]")
        if self.statement_bytes_max <= 0:
            raise ValueError("statement_bytes_max must be positive")

    def __repr__(self) -> str:
        return (
            f"UnionPayConfig(mer_id={self.mer_id!r}, sign_cert_id={self.sign_cert_id!r}, "
            f"gateway_url={self.gateway_url!r}, timeout_s={self.timeout_s!r})"
        )

    def url(self, path: str) -> str:
        """``path`` (``/gateway/api/...``) below the gateway."""
        return self.gateway_url.rstrip("/") + path

    @property
    def statement_url(self) -> str:
        if self.file_transfer_url is not None:
            return self.file_transfer_url
        if self.gateway_url.rstrip("/") == UNIONPAY_GATEWAY_URL:
            return UNIONPAY_FILE_TRANSFER_URL
        return self.url(FILE_TRANSFER_PATH)

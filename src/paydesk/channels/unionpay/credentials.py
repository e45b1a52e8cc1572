"""The credentials of a UnionPay online-gateway merchant: :class:`UnionPayCredentials`.

Checked before anything is stored (``ChannelCredentials``: unknown fields are refused): the
merchant number has UnionPay's 15 digits, ``sign_cert_id`` is a decimal serial number, the
signing key is an unprotected RSA key of 2048 bits or more, and the root and middle
certificates parse as X.509 with the middle one issued by the root. The signing key and the
PEM texts are left out of ``repr``.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from paydesk.channels.accounts.credentials import (
    PEM_LENGTH_MAX,
    ChannelCredentials,
    rsa_private_pem,
)
from paydesk.channels.base import Connector
from paydesk.channels.unionpay import signing
from paydesk.channels.unionpay.config import (
    TIMEOUT_S_DEFAULT,
    UNIONPAY_GATEWAY_URL,
    UnionPayConfig,
)
from paydesk.channels.unionpay.connector import UnionPayConnector


def x509_pem(value: str) -> str:
    """A PEM certificate (the check shared by the root and middle fields)."""
    try:
        signing.load_certificate(value)
    except ValueError:
        raise ValueError("not a PEM X.509 certificate") from None
    return value


class UnionPayCredentials(ChannelCredentials):
    """A merchant of the UnionPay online gateway (ACP 5.1.0, signMethod 01)."""

    mer_id: str = Field(pattern=r"^[0-9]{15}$", description="The merchant number (merId).")
    sign_cert_id: str = Field(
        pattern=r"^[0-9]{1,40}$",
        description="certId: the decimal serial number of the signing certificate.",
    )
    sign_private_key_pem: str = Field(
        max_length=PEM_LENGTH_MAX, repr=False, description="Secret. The RSA signing key (PEM)."
    )
    root_cert_pem: str = Field(
        max_length=PEM_LENGTH_MAX, repr=False, description="UnionPay's root certificate (PEM)."
    )
    middle_cert_pem: str = Field(
        max_length=PEM_LENGTH_MAX,
        repr=False,
        description="UnionPay's intermediate certificate (PEM).",
    )

    check_private_key = field_validator("sign_private_key_pem")(rsa_private_pem)
    check_root = field_validator("root_cert_pem")(x509_pem)
    check_middle = field_validator("middle_cert_pem")(x509_pem)

    @model_validator(mode="after")
    def check_chain(self) -> UnionPayCredentials:
        signing.CertificateChain(self.root_cert_pem, self.middle_cert_pem)
        return self

    def connector(
        self, gateway_url: str | None, timeout_s: float | None = None, *, sandbox: bool = False
    ) -> Connector:
        """``gateway_url`` None: UnionPay itself (:data:`UNIONPAY_GATEWAY_URL`). No network.
        ``sandbox`` changes nothing: the UnionPay simulator speaks the real protocol."""
        config = UnionPayConfig(
            mer_id=self.mer_id,
            sign_cert_id=self.sign_cert_id,
            sign_private_key_pem=self.sign_private_key_pem,
            root_cert_pem=self.root_cert_pem,
            middle_cert_pem=self.middle_cert_pem,
            gateway_url=gateway_url or UNIONPAY_GATEWAY_URL,
            timeout_s=timeout_s or TIMEOUT_S_DEFAULT,
        )
        return UnionPayConnector(config)

"""The base of every channel's credential model, and the checks its fields share.

A channel package defines its credentials by subclassing :class:`ChannelCredentials` (with
``connector()``) in its own ``credentials.py`` or beside its connector; the registry
(:mod:`paydesk.channels.accounts.registry`) names it in one ``ChannelSpec``.
"""

from __future__ import annotations

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import BaseModel, ConfigDict

from paydesk.channels.base import Connector

RSA_KEY_BITS_MIN = 2048
PEM_LENGTH_MAX = 10_000
"""A 4096-bit private key is about 3,300 characters of PEM."""


def rsa_private_pem(value: str) -> str:
    try:
        key = serialization.load_pem_private_key(value.encode(), password=None)
    except TypeError:
        raise ValueError("the private key must not be protected by a password") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError("not a PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    if key.key_size < RSA_KEY_BITS_MIN:
        raise ValueError(f"the RSA key must have at least {RSA_KEY_BITS_MIN} bits")
    return value


def rsa_public_pem(value: str) -> str:
    try:
        key = serialization.load_pem_public_key(value.encode())
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError("not a PEM public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    if key.key_size < RSA_KEY_BITS_MIN:
        raise ValueError(f"the RSA key must have at least {RSA_KEY_BITS_MIN} bits")
    return value


class ChannelCredentials(BaseModel):
    """One channel's credentials; a subclass per channel. Secret and PEM fields are left
    out of ``repr``, so credentials in a log line or a traceback show no key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def connector(
        self, gateway_url: str | None, timeout_s: float | None = None, *, sandbox: bool = False
    ) -> Connector:
        """The connector of these credentials; ``gateway_url`` None: the real gateway;
        ``timeout_s`` None: the connector's default time-out; ``sandbox``: the gateway is
        the sandbox's stand-in for the channel (a channel whose stand-in speaks a dialect of
        its own, such as localstripe, adapts to it)."""
        raise NotImplementedError

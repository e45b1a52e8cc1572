"""Who is calling: the authenticated API key and what it may touch."""

from __future__ import annotations

from dataclasses import dataclass

from paydesk.core.errors import InvalidRequest
from paydesk.merchants.errors import AdminRequired, MerchantNotFound
from paydesk.merchants.models import KeyMode, KeyRole


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    merchant_id: str
    """The merchant the key belongs to (the platform root for admin keys)."""
    role: KeyRole
    mode: KeyMode
    app_id: str | None

    @property
    def is_admin(self) -> bool:
        return self.role is KeyRole.ADMIN

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}"

    def require_admin(self) -> None:
        if not self.is_admin:
            raise AdminRequired("this operation needs a platform admin key")

    def scope(self, merchant_id: str | None = None) -> str | None:
        """The merchant whose data a query may see: the caller's own, or for an admin the one
        asked for (``None``: every merchant)."""
        if self.is_admin:
            return merchant_id
        return self.merchant_id

    def target(self, merchant_id: str | None) -> str:
        """The merchant a change applies to. A merchant key acts on its own merchant only
        (naming another one is "not found", so existence does not leak); an admin key must
        name the merchant."""
        if self.is_admin:
            if merchant_id is None:
                raise InvalidRequest("an admin key must name the merchant_id", param="merchant_id")
            return merchant_id
        if merchant_id is not None and merchant_id != self.merchant_id:
            raise MerchantNotFound("no such merchant", param="merchant_id")
        return self.merchant_id

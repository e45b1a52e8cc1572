"""Wallet errors."""

from __future__ import annotations

from paydesk.core.errors import Conflict, InvalidRequest, NotFound


class InvalidUser(InvalidRequest):
    code = "invalid_user"


class OperationNotSupported(InvalidRequest):
    code = "operation_not_supported"


class WalletNotFound(NotFound):
    code = "wallet_not_found"


class CardNotFound(NotFound):
    code = "card_not_found"


class CardNotUsable(Conflict):
    code = "card_not_usable"

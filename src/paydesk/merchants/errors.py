"""Errors of the merchants module."""

from __future__ import annotations

from paydesk.core.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
)


class MerchantNotFound(NotFound):
    code = "merchant_not_found"


class AppNotFound(NotFound):
    code = "app_not_found"


class KeyNotFound(NotFound):
    code = "api_key_not_found"


class MissingKey(AuthenticationFailed):
    code = "missing_api_key"


class InvalidKey(AuthenticationFailed):
    code = "invalid_api_key"


class RevokedKey(AuthenticationFailed):
    code = "api_key_revoked"


class MerchantSuspended(PermissionDenied):
    code = "merchant_suspended"


class AdminRequired(PermissionDenied):
    code = "admin_required"


class ModeNotAllowed(PermissionDenied):
    code = "mode_not_allowed"


class HierarchyTooDeep(InvalidRequest):
    code = "hierarchy_too_deep"


class InvalidParent(InvalidRequest):
    code = "invalid_parent"


class KeyAlreadyRevoked(Conflict):
    code = "api_key_already_revoked"


class CurrencyExists(Conflict):
    code = "currency_exists"

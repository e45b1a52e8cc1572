"""Midas errors.

Two families. Merchant-side setup through ``/v1`` fails like every Paydesk API call::

    PaydeskError
    ├── InvalidRequest (400)  midas_invalid_config, midas_currency_invalid
    ├── NotFound (404)        midas_not_configured
    └── Conflict (409)        midas_appid_taken

The WeChat-facing ``/cgi-bin`` endpoints answer HTTP 200 with ``{"errcode", "errmsg"}``, as
WeChat does; each failure there is a :class:`MidasError` with its errcode. They are checked in
a fixed order (token, fields, permission, sig, session, mp_sig, ts), so the first rule broken
names the answer. ``transient`` marks the ones a retry of the same request can get past.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from paydesk.core.errors import Conflict, InvalidRequest, NotFound, PaydeskError
from paydesk.ledger.errors import (
    AccountFrozen,
    AlreadyReversed,
    ExceedsFloor,
    JournalKeyReused,
)
from paydesk.wallet.errors import WalletNotFound


class MidasConfigInvalid(InvalidRequest):
    code = "midas_invalid_config"


class MidasCurrencyInvalid(InvalidRequest):
    code = "midas_currency_invalid"


class MidasNotConfigured(NotFound):
    code = "midas_not_configured"


class MidasAppidTaken(Conflict):
    code = "midas_appid_taken"


class MidasError(PaydeskError):
    """A failure answered in WeChat shape: HTTP 200, ``errcode`` and ``errmsg``."""

    status = 200
    code = "midas_error"
    errcode: int = -1
    errmsg: str = "system busy"

    def __init__(self, detail: str = "") -> None:
        super().__init__(f"{self.errmsg}: {detail}" if detail else self.errmsg)

    def answer(self) -> dict[str, int | str]:
        return {"errcode": self.errcode, "errmsg": self.message}


class SystemBusy(MidasError):
    code, errcode, errmsg = "midas_system_busy", -1, "system busy"
    transient = True


# --- /cgi-bin/token ---------------------------------------------------------------------------
class InvalidGrantType(MidasError):
    code, errcode, errmsg = "midas_invalid_grant_type", 40002, "invalid grant_type"


class InvalidAppid(MidasError):
    code, errcode, errmsg = "midas_invalid_appid", 40013, "invalid appid"


class InvalidAppSecret(MidasError):
    code, errcode, errmsg = "midas_invalid_secret", 40125, "invalid appsecret"


# --- /cgi-bin/midas/* -------------------------------------------------------------------------
class InvalidToken(MidasError):
    code, errcode = "midas_invalid_token", 40001
    errmsg = "invalid credential, access_token is invalid or not latest"


class ExpiredToken(MidasError):
    code, errcode, errmsg = "midas_expired_token", 42001, "access_token expired"


class BadMpSig(MidasError):
    code, errcode, errmsg = "midas_bad_mp_sig", 90009, "mp_sig invalid"


class SessionExpired(MidasError):
    code, errcode, errmsg = "midas_session_expired", 90010, "session key expired or unknown"


class BadSig(MidasError):
    code, errcode, errmsg = "midas_bad_sig", 90011, "sig invalid"


class OrderExists(MidasError):
    code, errcode, errmsg = "midas_order_exists", 90012, "order exists with different content"


class BalanceTooLow(MidasError):
    code, errcode, errmsg = "midas_balance_too_low", 90013, "balance not enough"
    transient = True


class AlreadyRolledBack(MidasError):
    code, errcode, errmsg = "midas_already_rolled_back", 90015, "already rolled back"


class Processing(MidasError):
    code, errcode, errmsg = "midas_processing", 90016, "order is being processed, retry"
    transient = True


class NoPermission(MidasError):
    code, errcode, errmsg = "midas_no_permission", 90017, "no permission"


class BadParameter(MidasError):
    code, errcode, errmsg = "midas_bad_parameter", 90018, "invalid parameter"


def translate(exc: Exception) -> MidasError | None:
    """The Midas answer to an error raised by the wallet or the ledger; ``None`` for an
    error that is not the caller's doing (answered ``-1 system busy`` and logged)."""
    if isinstance(exc, MidasError):
        return exc
    if isinstance(exc, JournalKeyReused):
        return OrderExists("bill_no was used for another request")
    if isinstance(exc, ExceedsFloor | WalletNotFound):
        # A user who never received this currency simply has nothing to spend.
        return BalanceTooLow()
    if isinstance(exc, AlreadyReversed):
        return AlreadyRolledBack("the payment was already cancelled")
    if isinstance(exc, AccountFrozen):
        return NoPermission("the wallet is frozen")
    if isinstance(exc, IntegrityError):
        return Processing("a concurrent request with this bill_no is in progress")
    if isinstance(exc, NotFound):
        return NoPermission(exc.message)
    if isinstance(exc, InvalidRequest):
        return BadParameter(exc.message)
    return None

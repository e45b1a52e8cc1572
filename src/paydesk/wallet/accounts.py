"""Which ledger account holds what: a user's parts of a currency, a merchant's counterparts.

A user wallet is identified by merchant, app, the app's own user id (an openid, say) and an
optional zone (a game's server partition). Per currency it holds:

* money (ISO 4217): one ``cash`` account;
* coins (virtual currency of kind ``coins``): ``coins_paid`` and ``coins_gifted`` accounts;
* points (virtual currency of kind ``points``): one ``points`` account.

Every movement has a merchant-side counterpart account per app and currency, spread over
slots because every user's operations touch it: ``funding`` (where recharges come from until
payments credit them), ``promotion`` (presents), ``revenue`` and ``revenue_gifted``
(consumption of paid and of gifted value), ``payouts`` (withdrawals), ``expired`` (value that
expired), ``prepaid`` (prepaid card issuance).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session

from paydesk.core.currencies import UnknownCurrency, is_iso_code, iso_currency
from paydesk.ledger import repository as ledger_repo
from paydesk.ledger.accounts import AccountSpec, account_id, ensure_account
from paydesk.ledger.models import FloorRule, LedgerAccount
from paydesk.merchants import repository as merchants_repo
from paydesk.merchants.models import VirtualKind
from paydesk.merchants.service import check_app
from paydesk.wallet.errors import InvalidUser, WalletNotFound

USER_ID_PATTERN = re.compile(r"^[\x21-\x7e]{1,128}$")
ZONE_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{0,40}$")
MERCHANT_SLOTS = 8
"""Slots of each merchant-side account: enough that concurrent wallet operations of one app
rarely meet on a row."""


class CurrencyKind(StrEnum):
    MONEY = "money"
    COINS = "coins"
    POINTS = "points"


class Part(StrEnum):
    """User-side account kinds."""

    CASH = "cash"
    PAID = "coins_paid"
    GIFTED = "coins_gifted"
    POINTS = "points"


class Counterpart(StrEnum):
    """Merchant-side account kinds."""

    FUNDING = "funding"
    PROMOTION = "promotion"
    REVENUE = "revenue"
    REVENUE_GIFTED = "revenue_gifted"
    PAYOUTS = "payouts"
    EXPIRED = "expired"
    PREPAID = "prepaid"


_UNBOUNDED = {Counterpart.FUNDING, Counterpart.PROMOTION, Counterpart.PAYOUTS, Counterpart.PREPAID}


@dataclass(frozen=True, slots=True)
class WalletRef:
    """Whose wallet: a user of a merchant's app, in a zone."""

    merchant_id: str
    app_id: str
    user_id: str
    zone: str = ""


@dataclass(frozen=True, slots=True)
class WalletCurrency:
    code: str
    exponent: int
    kind: CurrencyKind

    @property
    def parts(self) -> tuple[Part, ...]:
        if self.kind is CurrencyKind.MONEY:
            return (Part.CASH,)
        if self.kind is CurrencyKind.POINTS:
            return (Part.POINTS,)
        return (Part.PAID, Part.GIFTED)


def check_ref(session: Session, ref: WalletRef) -> WalletRef:
    """Validate the user id and zone, and that the app is the merchant's."""
    if not USER_ID_PATTERN.match(ref.user_id):
        raise InvalidUser("user_id must be 1 to 128 printable ASCII characters", param="user_id")
    if not ZONE_PATTERN.match(ref.zone):
        raise InvalidUser("zone is up to 40 of A-Z a-z 0-9 _ . : -", param="zone")
    check_app(session, ref.merchant_id, ref.app_id)
    return ref


def resolve_currency(session: Session, app_id: str, code: str) -> WalletCurrency:
    """An ISO 4217 currency, or a virtual currency registered for the app."""
    if is_iso_code(code):
        currency = iso_currency(code)
        return WalletCurrency(currency.code, currency.exponent, CurrencyKind.MONEY)
    virtual = merchants_repo.virtual_currency(session, app_id, code)
    if virtual is None:
        raise UnknownCurrency(
            f"{code!r} is neither an ISO 4217 currency nor registered for this app",
            param="currency",
        )
    kind = CurrencyKind.POINTS if virtual.kind == VirtualKind.POINTS else CurrencyKind.COINS
    return WalletCurrency(virtual.code, virtual.exponent, kind)


def existing_user_account(
    session: Session, ref: WalletRef, part: Part, currency: WalletCurrency
) -> LedgerAccount:
    """The user's account to debit: a user who never received this currency is unknown."""
    found = ledger_repo.account_by_key(session, _user_spec(ref, part, currency).key())
    if found is None:
        raise WalletNotFound(
            f"user {ref.user_id!r} has no {currency.code} wallet in this app", param="user_id"
        )
    return found


def existing_user_account_id(
    session: Session, ref: WalletRef, part: Part, currency: WalletCurrency
) -> str:
    """:func:`existing_user_account`'s id, read once per process."""
    found = account_id(session, _user_spec(ref, part, currency), create=False)
    if found is None:
        raise WalletNotFound(
            f"user {ref.user_id!r} has no {currency.code} wallet in this app", param="user_id"
        )
    return found


def user_account(
    session: Session, ref: WalletRef, part: Part, currency: WalletCurrency
) -> LedgerAccount:
    """The user's account to credit, opened on first use."""
    return ensure_account(session, _user_spec(ref, part, currency))


def _user_spec(ref: WalletRef, part: Part, currency: WalletCurrency) -> AccountSpec:
    return AccountSpec(
        merchant_id=ref.merchant_id,
        owner_type="user",
        owner_id=ref.user_id,
        kind=part.value,
        currency=currency.code,
        app_id=ref.app_id,
        zone=ref.zone,
    )


def merchant_account_id(
    session: Session, merchant_id: str, app_id: str, kind: Counterpart, currency: str
) -> str:
    """:func:`merchant_account`'s id, read once per process."""
    spec, floor = _merchant_spec(merchant_id, app_id, kind, currency)
    found = account_id(session, spec, create=True, floor_rule=floor, slots=MERCHANT_SLOTS)
    assert found is not None
    return found


def _merchant_spec(
    merchant_id: str, app_id: str, kind: Counterpart, currency: str
) -> tuple[AccountSpec, FloorRule]:
    spec = AccountSpec(
        merchant_id=merchant_id,
        owner_type="merchant",
        owner_id=merchant_id,
        kind=kind.value,
        currency=currency,
        app_id=app_id,
    )
    return spec, FloorRule.UNBOUNDED if kind in _UNBOUNDED else FloorRule.NON_NEGATIVE


def merchant_account(
    session: Session, merchant_id: str, app_id: str, kind: Counterpart, currency: str
) -> LedgerAccount:
    spec, floor = _merchant_spec(merchant_id, app_id, kind, currency)
    return ensure_account(session, spec, floor_rule=floor, slots=MERCHANT_SLOTS)

"""The Midas calls as wallet operations: authenticate, check, then getbalance, pay, cancelpay
or present on the user's wallet in the config's coins currency.

Sandbox calls use the wallet zone ``sandbox:<zone_id>`` and the reference
``sandbox:<bill_no>``: sandbox balances and orders never meet live ones, while both stay in
the same ledger (and the merchant can fund sandbox wallets with the ordinary wallet API).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.ledger import repository as ledger_repo
from paydesk.midas import setup, signing, tokens
from paydesk.midas.errors import (
    AlreadyRolledBack,
    BadMpSig,
    BadSig,
    NoPermission,
    SessionExpired,
)
from paydesk.midas.models import MidasConfig
from paydesk.midas.wire import Action, MidasCall, check_ts, parse
from paydesk.wallet import operations, queries
from paydesk.wallet.accounts import WalletRef

SANDBOX_PREFIX = "sandbox:"
OK: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}


def org_loc(action: Action, sandbox: bool) -> str:
    """The request URI that signatures cover."""
    return f"/cgi-bin/midas/{'sandbox/' if sandbox else ''}{action.value}"


def handle(
    session: Session,
    *,
    server_secret: str,
    action: Action,
    sandbox: bool,
    access_token: str | None,
    body: bytes,
) -> dict[str, Any]:
    """The answer to one Midas call. Checks run in a fixed order, so the first rule broken
    names the error: token, fields, permission, sig, session key, mp_sig, ts."""
    config = tokens.authenticate(session, access_token)
    call = parse(action, body)
    if call.appid != config.appid or call.offer_id != config.offer_id:
        raise NoPermission("appid or offer_id does not match the access token")
    location = org_loc(action, sandbox)
    _verify_signatures(session, server_secret, config, call, location, access_token or "")
    check_ts(call, clock.now())

    zone = f"{SANDBOX_PREFIX}{call.zone_id}" if sandbox else call.zone_id
    ref = WalletRef(config.merchant_id, config.app_id, call.openid, zone)
    if action is Action.GETBALANCE:
        return getbalance(session, ref, config.currency)
    assert call.bill_no is not None  # parse requires it for every other action
    reference = f"{SANDBOX_PREFIX}{call.bill_no}" if sandbox else call.bill_no
    if action is Action.PAY:
        assert call.amount is not None
        return pay(session, ref, config.currency, call.amount, call.bill_no, reference)
    if action is Action.CANCELPAY:
        return cancelpay(session, ref, call.bill_no, reference)
    assert call.amount is not None
    return present(session, ref, config.currency, call.amount, call.bill_no, reference)


def _verify_signatures(
    session: Session,
    server_secret: str,
    config: MidasConfig,
    call: MidasCall,
    location: str,
    access_token: str,
) -> None:
    expected = signing.sig(call.params, location, setup.app_key(config, server_secret))
    if not signing.matches(expected, call.sig):
        raise BadSig()
    key = setup.session_key(session, config, call.openid, server_secret)
    if key is None:
        raise SessionExpired("no session key is registered for this openid")
    everything = {**call.params, signing.ACCESS_TOKEN: access_token}
    if not signing.matches(signing.mp_sig(everything, location, key), call.mp_sig):
        raise BadMpSig()


def getbalance(session: Session, ref: WalletRef, currency: str) -> dict[str, Any]:
    """Balances and lifetime sums. ``save_amt`` is the coins bought (recharged, paid part);
    ``save_sum`` all coins ever received, bought plus presented; ``cost_sum`` the coins spent
    net of cancelled payments; ``first_save`` 1 while the user has never bought any."""
    line = queries.balance_of(session, ref, currency)
    found = [t for t in queries.totals(session, ref) if t.currency == currency]
    saved = found[0].saved if found else 0
    spent = found[0].spent if found else 0
    presented = found[0].presented if found else 0
    return {
        **OK,
        "balance": line.paid + line.gifted,
        "gen_balance": line.gifted,
        "first_save": 1 if saved == 0 else 0,
        "save_amt": saved,
        "save_sum": saved + presented,
        "cost_sum": spent,
        "present_sum": presented,
    }


def pay(
    session: Session, ref: WalletRef, currency: str, amount: int, bill_no: str, reference: str
) -> dict[str, Any]:
    """Consume ``amount``, the gifted part first unless the app's wallet settings say
    otherwise. A repeated bill_no replays (current balance, original split); one that was
    cancelled since answers 90015 rather than pretend the payment stands."""
    outcome = operations.consume(session, ref, currency, amount, reference, memo="midas pay")
    if outcome.replayed and ledger_repo.reversal_of(session, outcome.journal.id) is not None:
        raise AlreadyRolledBack("this bill_no was paid, then cancelled")
    line = queries.balance_of(session, ref, currency)
    return {
        **OK,
        "bill_no": bill_no,
        "balance": line.paid + line.gifted,
        "used_gen_amt": outcome.parts.get("gifted", 0),
    }


def cancelpay(session: Session, ref: WalletRef, bill_no: str, reference: str) -> dict[str, Any]:
    """Reverse the payment ``bill_no`` exactly once; repeating the cancel replays success.
    The wallet only finds a payment of this user in this app and zone (``consume_not_found``,
    answered 90018, otherwise)."""
    operations.cancel_consume(session, ref, consume_reference=reference, reference=reference)
    return {**OK, "bill_no": bill_no}


def present(
    session: Session, ref: WalletRef, currency: str, amount: int, bill_no: str, reference: str
) -> dict[str, Any]:
    """Give ``amount`` gifted coins; a repeated bill_no replays."""
    operations.present(session, ref, currency, amount, reference, memo="midas present")
    line = queries.balance_of(session, ref, currency)
    return {**OK, "bill_no": bill_no, "balance": line.paid + line.gifted}

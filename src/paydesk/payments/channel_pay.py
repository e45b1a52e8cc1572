"""Opening a payment attempt at a channel, in three steps around one network call:

1. :func:`open_attempt` (the request's transaction, committed before step 2): lock the order,
   choose the channel account, write the attempt ``created``, move the order to ``paying`` and
   enqueue the order centre's first query of the attempt. From here on, whatever happens to
   this process, the order centre finds the attempt and asks the channel about it.
2. :func:`call_channel` (no transaction): the connector creates the payment at the channel.
3. :func:`record_opening` (a new transaction): the attempt becomes ``pending`` with what the
   payer needs, ``unknown`` when the call timed out or the channel was unreachable (the order
   centre queries it), or ``failed`` when the channel refused it. If the channel's notification
   arrived first (the payer paid within the call), the attempt has moved on and stays as it is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paydesk.channels.accounts import service as channel_accounts
from paydesk.channels.accounts.models import (
    ChannelAccount,
    ChannelAccountMode,
    ChannelAccountStatus,
)
from paydesk.channels.base import (
    ChannelError,
    ChannelRejected,
    Connector,
    Method,
    PaymentAction,
    PaymentNotFound,
    PaymentRequest,
)
from paydesk.core import clock
from paydesk.core.errors import InvalidRequest
from paydesk.core.settings import Settings
from paydesk.payments import schedule, settle
from paydesk.payments.connectors import notify_url
from paydesk.payments.methods import CHANNEL_OF_METHOD, PayInput
from paydesk.payments.models import Order, PaymentAttempt
from paydesk.payments.orders import get_order
from paydesk.payments.paying import check_payable, new_attempt
from paydesk.payments.states import AttemptStatus, OrderStatus, order_to


class NoChannelAccount(InvalidRequest):
    code = "no_channel_account"


class ChannelAccountRequired(InvalidRequest):
    code = "channel_account_required"


@dataclass(frozen=True, slots=True)
class Opened:
    """An attempt written and committed, ready for the channel call."""

    attempt_id: str
    order_id: str
    connector: Connector
    request: PaymentRequest


def choose_account(
    session: Session, merchant_id: str, livemode: bool, channel: str, account_id: str | None
) -> ChannelAccount:
    """The channel account to pay through: the one asked for, or the merchant's only active
    account of ``channel`` in the key's mode (live keys: live accounts; test keys: sandbox)."""
    mode = ChannelAccountMode.LIVE if livemode else ChannelAccountMode.SANDBOX
    if account_id is not None:
        account = channel_accounts.get_account(session, merchant_id, account_id)
        if account.channel != channel or account.mode != mode:
            raise NoChannelAccount(
                f"channel account {account_id} is not a {mode.value} {channel} account",
                param="channel_account_id",
            )
        return account
    candidates = session.scalars(
        sa.select(ChannelAccount)
        .where(
            ChannelAccount.merchant_id == merchant_id,
            ChannelAccount.channel == channel,
            ChannelAccount.mode == mode.value,
            ChannelAccount.status == ChannelAccountStatus.ACTIVE.value,
        )
        .limit(2)
    ).all()
    if not candidates:
        raise NoChannelAccount(
            f"no active {mode.value} {channel} channel account: add one with "
            "POST /v1/channel-accounts",
            param="method",
        )
    if len(candidates) > 1:
        raise ChannelAccountRequired(
            f"several {mode.value} {channel} accounts: name one in channel_account_id",
            param="channel_account_id",
        )
    return candidates[0]


def open_attempt(
    session: Session,
    *,
    merchant_id: str,
    livemode: bool,
    order_id: str,
    method: Method,
    pay: PayInput,
    settings: Settings,
    secret: str,
) -> Opened:
    order = get_order(session, merchant_id, livemode, order_id, lock=True)
    check_payable(order)
    channel = CHANNEL_OF_METHOD[method]
    account = choose_account(session, merchant_id, livemode, channel, pay.channel_account_id)
    connector = channel_accounts.load_connector(
        session,
        merchant_id,
        account.id,
        secret=secret,
        sandbox_base_url=settings.sandbox_base_url,
        timeout_s=settings.channel_timeout_s,
    )
    attempt = new_attempt(order, method.value, channel, account.id)
    if pay.payer_id:
        attempt.meta = {"payer_id": pay.payer_id}
    session.add(attempt)
    order.status = order_to(OrderStatus(order.status), OrderStatus.PAYING).value
    order.updated_at = clock.now()
    if pay.user_id and order.user_id is None:
        order.user_id = pay.user_id
    session.flush()
    schedule.schedule_query(session, attempt)
    request = PaymentRequest(
        out_trade_no=attempt.out_trade_no,
        amount_minor=order.amount_minor,
        currency=order.currency,
        subject=order.subject,
        method=method,
        notify_url=notify_url(settings, channel, account.id),
        expires_at=order.expires_at,
        payer_id=pay.payer_id,
        client_ip=pay.client_ip,
        return_url=pay.return_url,
        payment_token=pay.payment_token,
    )
    return Opened(attempt.id, order.id, connector, request)


def call_channel(opened: Opened) -> PaymentAction | ChannelError:
    """Create the payment at the channel; its failure is returned, not raised."""
    try:
        return opened.connector.create_payment(opened.request)
    except ChannelError as exc:
        return exc


def record_opening(
    session: Session, opened: Opened, result: PaymentAction | ChannelError
) -> tuple[Order, PaymentAttempt]:
    attempt = settle.lock_attempt(session, opened.attempt_id)
    created = attempt.status == AttemptStatus.CREATED
    now = clock.now()
    if isinstance(result, PaymentAction):
        attempt.action = {
            key: (dict(value) if key in {"sdk_params", "form_fields"} else value)
            for key, value in asdict(result).items()
            if key != "channel_trade_no"
        }
        attempt.channel_trade_no = result.channel_trade_no or attempt.channel_trade_no
        attempt.updated_at = now
        if created:
            attempt.status = AttemptStatus.PENDING.value
    elif (
        created and isinstance(result, ChannelRejected) and not isinstance(result, PaymentNotFound)
    ):
        attempt.failure_message = result.message[:300]
        settle.end_attempt(session, attempt, AttemptStatus.FAILED, result.code)
    elif created:
        # Timed out or unreachable: it may exist at the channel. The order centre's query
        # (already scheduled) finds out.
        attempt.status = AttemptStatus.UNKNOWN.value
        attempt.failure_message = result.message[:300]
        attempt.updated_at = now
    session.flush()
    order = session.get(Order, attempt.order_id)
    assert order is not None
    session.refresh(order)
    return order, attempt

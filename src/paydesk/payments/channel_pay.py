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

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass

from sqlalchemy.orm import Session

from paydesk.channels.accounts import service as channel_accounts
from paydesk.channels.accounts.models import (
    ChannelAccount,
    ChannelAccountMode,
)
from paydesk.channels.accounts.registry import channels_serving
from paydesk.channels.base import (
    ChannelError,
    ChannelRejected,
    ChannelTimeout,
    ChannelUnavailable,
    Connector,
    Method,
    PaymentAction,
    PaymentNotFound,
    PaymentRequest,
)
from paydesk.channels.router import service as router
from paydesk.channels.router.policy import RoutingPolicy
from paydesk.channels.router.service import NoChannelAccount, NoChannelAvailable
from paydesk.core import clock
from paydesk.core.settings import Settings
from paydesk.payments import schedule, settle
from paydesk.payments.connectors import notify_url
from paydesk.payments.methods import PayInput
from paydesk.payments.models import Order, PaymentAttempt
from paydesk.payments.orders import get_order
from paydesk.payments.paying import check_payable, new_attempt
from paydesk.payments.routing import route_payment
from paydesk.payments.states import AttemptStatus, OrderStatus, order_to


@dataclass(frozen=True, slots=True)
class Opened:
    """An attempt written and committed, ready for the channel call."""

    attempt_id: str
    order_id: str
    account_id: str
    connector: Connector
    request: PaymentRequest
    policy: RoutingPolicy
    """The merchant's routing policy: its breaker settings and failover budget."""
    routed: bool
    """False when the payer named the account (``channel_account_id``): no failover."""


def named_account(
    session: Session, order: Order, method: Method, account_id: str
) -> ChannelAccount:
    """The account the pay request names, if it can take ``method`` in the order's mode and
    currency."""
    mode = ChannelAccountMode.LIVE if order.livemode else ChannelAccountMode.SANDBOX
    account = channel_accounts.get_account(session, order.merchant_id, account_id)
    serving = channels_serving(method, order.currency)
    if account.channel not in serving or account.mode != mode:
        raise NoChannelAccount(
            f"channel account {account_id} is not a {mode.value} account serving "
            f"{method.value} in {order.currency}",
            param="channel_account_id",
        )
    return account


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
    exclude: frozenset[str] = frozenset(),
    failover_from: str | None = None,
) -> Opened:
    """Step 1. Without ``channel_account_id`` the router chooses the account (``exclude``:
    those already tried by this request) and its decision is kept with the attempt."""
    order = get_order(session, merchant_id, livemode, order_id, lock=True)
    check_payable(order)
    routed = None
    if pay.channel_account_id is not None:
        account = named_account(session, order, method, pay.channel_account_id)
        policy = router.get_policy(session, merchant_id)[0]
    else:
        routed = route_payment(session, order, method, user_id=pay.user_id, exclude=exclude)
        account = channel_accounts.get_account(session, merchant_id, routed.account_id)
        policy = routed.policy
    channel = account.channel
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
    if routed is not None:
        attempt.routing = router.decision_document(
            routed, method=method.value, failover_from=failover_from
        )
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
    return Opened(
        attempt_id=attempt.id,
        order_id=order.id,
        account_id=account.id,
        connector=connector,
        request=request,
        policy=policy,
        routed=routed is not None,
    )


def call_channel(opened: Opened) -> PaymentAction | ChannelError:
    """Create the payment at the channel; its failure is returned, not raised. The account's
    circuit breaker learns whether the channel answered (a refusal is an answer)."""
    try:
        result: PaymentAction | ChannelError = opened.connector.create_payment(opened.request)
    except ChannelError as exc:
        result = exc
    answered = isinstance(result, PaymentAction | ChannelRejected)
    router.observe(opened.account_id, opened.policy, ok=answered)
    return result


def fails_over(
    opened: Opened, result: PaymentAction | ChannelError, attempt: PaymentAttempt, tried: int
) -> bool:
    """Whether the request tries the payment at the next account of the routing decision:
    the router chose this one, the policy's ``failover_max`` is not spent, and the channel
    was unreachable or silent, so the payer has nothing to pay with. A time-out of a card
    confirmed with a token may have charged the card: that waits for the order centre."""
    if not opened.routed or tried >= opened.policy.failover_max:
        return False
    if attempt.status != AttemptStatus.UNKNOWN:
        return False  # answered, or a notification already moved it on
    if isinstance(result, ChannelUnavailable):
        return True
    return isinstance(result, ChannelTimeout) and opened.request.payment_token is None


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


def pay_through_channel(
    session: Session,
    *,
    commit: Callable[[], None],
    outside: Callable[[], AbstractContextManager[object]],
    merchant_id: str,
    livemode: bool,
    order_id: str,
    method: Method,
    pay: PayInput,
    settings: Settings,
    secret: str,
) -> tuple[Order, PaymentAttempt, PaymentAction | ChannelError]:
    """The three steps, with failover: open the attempt at the account the router chose,
    ``commit`` it, call the channel within ``outside()`` (no transaction open; the API gives
    its admission slot up meanwhile), record the answer; while :func:`fails_over` says so,
    commit and try the next account. Returns the order, the last attempt and what its
    channel said; the caller commits the last record."""
    tried: list[str] = []
    last: tuple[Order, PaymentAttempt, PaymentAction | ChannelError] | None = None
    while True:
        try:
            opened = open_attempt(
                session,
                merchant_id=merchant_id,
                livemode=livemode,
                order_id=order_id,
                method=method,
                pay=pay,
                settings=settings,
                secret=secret,
                exclude=frozenset(tried),
                failover_from=tried[-1] if tried else None,
            )
        except NoChannelAvailable:
            if last is None:
                raise
            return last  # nowhere else to go: what the last account said
        commit()
        with outside():
            result = call_channel(opened)
        order, attempt = record_opening(session, opened, result)
        last = (order, attempt, result)
        if not fails_over(opened, result, attempt, len(tried)):
            return last
        commit()
        tried.append(opened.account_id)

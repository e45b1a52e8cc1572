"""``POST /notify/{channel}/{account_id}``: where channels send their notifications.

The connector of the account verifies and reads the notification (signature, decryption);
a forged or tampered one is answered with the channel's "retry" and changes nothing. A genuine
one is applied like any other word of the channel (:mod:`paydesk.payments.settle`), in one
transaction: duplicates and notifications that overtake the synchronous answer are harmless.
If the amount or currency it carries is not the attempt's, nothing is applied and the channel
is told to retry (an operator sees the error in the logs).
"""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from paydesk.api.routing import Services, services
from paydesk.channels.accounts import repository as channel_account_repo
from paydesk.channels.accounts import service as channel_accounts
from paydesk.channels.base import ChannelError, Connector, InvalidNotification
from paydesk.core.errors import PaydeskError
from paydesk.db.uow import unit_of_work
from paydesk.payments import refunds, settle

log = structlog.get_logger("paydesk.notifications")

router = APIRouter(tags=["channel notifications"], include_in_schema=False)

NOTIFICATION_BYTES_MAX = 64 * 1024


class _Rejected(Exception):
    def __init__(self, connector: Connector | None) -> None:
        self.connector = connector


def _answer(connector: Connector | None, accepted: bool) -> Response:
    if connector is None:
        return Response(status_code=404)
    ack = connector.acknowledge(accepted)
    return Response(content=ack.body, status_code=ack.status_code, media_type=ack.media_type)


def handle(
    found: Services, channel: str, account_id: str, headers: dict[str, str], body: bytes
) -> Response:
    connector: Connector | None = None
    try:
        with unit_of_work(found.db) as session:
            account = channel_account_repo.account(session, None, account_id)
            if account is None or account.channel != channel:
                raise _Rejected(None)
            connector = channel_accounts.load_connector(
                session,
                account.merchant_id,
                account.id,
                secret=found.secret,
                sandbox_base_url=found.settings.sandbox_base_url,
            )
            note = connector.parse_notification(headers, body)
            if note.payment is not None:
                attempt = settle.attempt_by_trade_no(session, channel, note.payment.out_trade_no)
                if attempt.channel_account_id != account.id:
                    raise settle.AttemptNotFound("the payment belongs to another account")
                settle.apply_payment(session, attempt, note.payment)
            if note.refund is not None:
                refund = refunds.refund_by_number(session, note.refund.out_refund_no)
                if refund.channel_account_id != account.id:
                    raise refunds.RefundNotFound("the refund belongs to another account")
                refunds.apply_refund(session, refund, note.refund)
            log.info(
                "notification_applied",
                channel=channel,
                account_id=account_id,
                notification_id=note.notification_id,
            )
    except _Rejected as rejected:
        return _answer(rejected.connector, False)
    except InvalidNotification as exc:
        log.warning(
            "notification_rejected", channel=channel, account_id=account_id, error=exc.message
        )
        return _answer(connector, False)
    except (PaydeskError, ChannelError) as exc:
        log.error(
            "notification_not_applied",
            channel=channel,
            account_id=account_id,
            code=exc.code,
            error=exc.message,
        )
        return _answer(connector, False)
    return _answer(connector, True)


@router.post("/notify/{channel}/{account_id}")
async def notify(channel: str, account_id: str, request: Request) -> Response:
    body = await request.body()
    if len(body) > NOTIFICATION_BYTES_MAX:
        return Response(status_code=413)
    headers = {name.lower(): value for name, value in request.headers.items()}
    return await run_in_threadpool(handle, services(request), channel, account_id, headers, body)

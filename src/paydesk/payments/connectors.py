"""The connector of an attempt's channel account, and the notification URL channels call."""

from __future__ import annotations

from sqlalchemy.orm import Session

from paydesk.channels.accounts import service as channel_accounts
from paydesk.channels.base import Connector
from paydesk.core.settings import Settings
from paydesk.jobs.registry import PermanentJobError
from paydesk.payments.models import PaymentAttempt


def notify_url(settings: Settings, channel: str, account_id: str) -> str:
    """Where the channel sends its notifications for this account."""
    return f"{settings.public_url}/notify/{channel}/{account_id}"


def connector_of(session: Session, settings: Settings | None, attempt: PaymentAttempt) -> Connector:
    """For jobs: the connector of the account ``attempt`` went through."""
    if settings is None or attempt.channel_account_id is None:
        raise PermanentJobError("a channel job needs the worker's settings and an account")
    return channel_accounts.load_connector(
        session,
        attempt.merchant_id,
        attempt.channel_account_id,
        secret=settings.secret(),
        sandbox_base_url=settings.sandbox_base_url,
        timeout_s=settings.channel_timeout_s,
    )

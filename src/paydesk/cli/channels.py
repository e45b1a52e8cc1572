"""``paydesk channels``: the operator's commands for merchants' channel accounts.

Credentials come from a JSON file (never from the command line, where they would stay in the
shell history and the process list) and are never printed back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from paydesk.channels.accounts import service
from paydesk.channels.accounts.models import ChannelAccountMode, ChannelAccountStatus
from paydesk.cli.common import (
    clear_errors,
    console,
    database,
    fail,
    read_json_object,
    settings_or_exit,
)
from paydesk.db.uow import unit_of_work
from paydesk.sandbox import credentials as sandbox_credentials
from paydesk.sandbox.accounts import DEFAULT_NAMES, ensure_sandbox_account

ACTOR = "cli"
CREDENTIALS_FILE_BYTES_MAX = 64 * 1024

channels_app = typer.Typer(
    help="Add, list and disable merchants' channel accounts.", no_args_is_help=True
)


def _read_credentials(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``. Error messages name the file, never its content."""
    return read_json_object(path, CREDENTIALS_FILE_BYTES_MAX)


@channels_app.command("add")
@clear_errors
def channels_add(
    merchant: str = typer.Option(..., help="The merchant the account belongs to."),
    channel: str = typer.Option(..., help="wechatpay or alipay."),
    name: str = typer.Option(..., help="A name, unique for the merchant."),
    mode: ChannelAccountMode = typer.Option(ChannelAccountMode.SANDBOX, help="sandbox or live."),
    credentials_file: Path = typer.Option(
        ..., "--credentials-file", help="A JSON object of the channel's credential fields."
    ),
) -> None:
    """Add a channel account; its credentials are stored encrypted and never shown."""
    credentials = _read_credentials(credentials_file)
    secret = settings_or_exit().secret()
    with unit_of_work(database()) as session:
        account = service.create_account(
            session,
            merchant,
            channel=channel,
            name=name,
            mode=mode,
            credentials=credentials,
            secret=secret,
            actor=ACTOR,
        )
        summary = service.describe(account)
    console.print(
        f"created {summary.channel} {summary.mode} account {summary.id} ({summary.name}) "
        f"for {summary.merchant_id}"
    )
    shown = ", ".join(f"{k}={v}" for k, v in summary.public_fields.items())
    console.print(f"  {shown}", markup=False, highlight=False)
    console.print(
        f"  secrets stored encrypted: {', '.join(summary.secret_fields_set)}; "
        f"fingerprint {summary.credentials_fingerprint}"
    )


@channels_app.command("list")
@clear_errors
def channels_list(
    merchant: str = typer.Option(None, help="Only this merchant's accounts."),
    channel: str = typer.Option(None, help="Only this channel's accounts."),
    limit: int = typer.Option(50, help="At most this many (1-100)."),
    after: str = typer.Option(None, help="Continue after this id."),
) -> None:
    """List channel accounts: public fields and fingerprints, never secrets."""
    with unit_of_work(database(), read_only=True) as session:
        page = service.list_accounts(
            session, merchant, channel=channel, after_id=after, limit=limit
        )
        summaries = [service.describe(account) for account in page.items]
    # One line per account, not a table: ids and merchant numbers must survive a narrow
    # terminal whole, to be copied into the next command.
    for summary in summaries:
        shown = " ".join(f"{k}={v}" for k, v in summary.public_fields.items())
        console.print(
            f"{summary.id}  {summary.merchant_id}  {summary.channel}  {summary.mode}  "
            f"{summary.status}  {summary.name!r}  {shown}  "
            f"fingerprint={summary.credentials_fingerprint}",
            markup=False,
            highlight=False,
        )
    if not summaries:
        console.print("no channel accounts")
    if page.has_more:
        console.print(f"more: --after {page.items[-1].id}")


@channels_app.command("sandbox-account")
@clear_errors
def channels_sandbox_account(
    merchant: str = typer.Option(..., help="The merchant the account belongs to."),
    channel: str = typer.Option(..., help="wechatpay or alipay."),
    name: str = typer.Option(
        None, help="Default: 'WeChat Pay sandbox' or 'Alipay sandbox'. Unique for the merchant."
    ),
) -> None:
    """Give a merchant a sandbox account at the simulators served by this Paydesk (same
    credentials for every merchant); an existing one of that name is reused, and takes the
    current sandbox keys if they changed."""
    if channel not in DEFAULT_NAMES:
        raise fail(f"--channel: one of {', '.join(DEFAULT_NAMES)}")
    settings = settings_or_exit()
    if not settings.sandbox_enabled:
        raise fail("the sandbox is disabled on this server (PAYDESK_SANDBOX_ENABLED=false)")
    try:
        keys = sandbox_credentials.load_or_create(settings.data_dir)
    except sandbox_credentials.SandboxCredentialsError as exc:
        raise fail(str(exc)) from None
    with unit_of_work(database()) as session:
        ensured = ensure_sandbox_account(
            session,
            merchant,
            channel,
            keys=keys,
            secret=settings.secret(),
            actor=ACTOR,
            name=name,
        )
        summary = service.describe(ensured.account)
    console.print(
        f"{ensured.outcome} sandbox {summary.channel} account {summary.id} ({summary.name}) "
        f"for {summary.merchant_id}, status {summary.status}",
        markup=False,
        highlight=False,
    )
    shown = ", ".join(f"{k}={v}" for k, v in summary.public_fields.items())
    console.print(f"  {shown}", markup=False, highlight=False)
    console.print(f"  simulators at {settings.sandbox_base_url}", markup=False, highlight=False)


def _set_status(account_id: str, status: ChannelAccountStatus) -> None:
    with unit_of_work(database()) as session:
        account = service.set_status(session, None, account_id, status, actor=ACTOR)
    console.print(f"{account.id} is {account.status}")


@channels_app.command("disable")
@clear_errors
def channels_disable(account_id: str) -> None:
    """Disable a channel account: no payment goes through it until it is enabled."""
    _set_status(account_id, ChannelAccountStatus.DISABLED)


@channels_app.command("enable")
@clear_errors
def channels_enable(account_id: str) -> None:
    """Enable a disabled channel account again."""
    _set_status(account_id, ChannelAccountStatus.ACTIVE)

"""``paydesk wallet``: an operator's wallet operations, the same use cases as ``/v1/wallets``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from paydesk.cli.common import clear_errors, console, database
from paydesk.db.uow import unit_of_work
from paydesk.ledger import accounts as ledger_accounts
from paydesk.ledger import holds as ledger_holds
from paydesk.merchants.service import get_app
from paydesk.wallet import operations, queries
from paydesk.wallet.accounts import WalletRef

wallet_app = typer.Typer(help="See and move users' wallet balances.", no_args_is_help=True)
ledger_app = typer.Typer(help="Read ledger accounts.", no_args_is_help=True)

APP = typer.Option(..., "--app", help="The app the user belongs to (it names the merchant).")
ZONE = typer.Option("", "--zone", help="A partition of the user's balances (game zone).")


def _ref(session: Session, app_id: str, user_id: str, zone: str) -> WalletRef:
    app = get_app(session, None, app_id)
    return WalletRef(app.merchant_id, app.id, user_id, zone)


def _print_balances(session: Session, ref: WalletRef) -> None:
    table = Table("currency", "balance", "available", "pending", "paid", "gifted", "frozen")
    for line in queries.balances(session, ref):
        table.add_row(
            line.currency,
            str(line.balance),
            str(line.available),
            str(line.pending),
            str(line.paid),
            str(line.gifted),
            "yes" if line.frozen else "",
        )
    console.print(table)


@wallet_app.command("balance")
@clear_errors
def balance(user_id: str, app_id: str = APP, zone: str = ZONE) -> None:
    """A user's balances by currency and part, with lifetime totals."""
    with unit_of_work(database(), read_only=True) as session:
        ref = _ref(session, app_id, user_id, zone)
        _print_balances(session, ref)
        table = Table("currency", "saved", "spent", "presented", "expired", "withdrawn")
        for line in queries.totals(session, ref):
            table.add_row(
                line.currency,
                *(
                    str(v)
                    for v in (line.saved, line.spent, line.presented, line.expired, line.withdrawn)
                ),
            )
        console.print(table)


def _movement(name: str, run: Callable[..., operations.Outcome], help_text: str) -> None:
    @wallet_app.command(name, help=help_text)
    @clear_errors
    def command(
        user_id: str,
        currency: str,
        amount: int,
        reference: str = typer.Option(..., help="Your id for this operation; repeats replay."),
        app_id: str = APP,
        zone: str = ZONE,
        memo: str = typer.Option("", help="A note kept on the journal."),
    ) -> None:
        with unit_of_work(database()) as session:
            ref = _ref(session, app_id, user_id, zone)
            outcome = run(session, ref, currency, amount, reference, memo)
            state = "replayed" if outcome.replayed else "posted"
            console.print(f"{state} journal {outcome.journal.id} {outcome.parts}")
            _print_balances(session, ref)


_movement("recharge", operations.recharge, "Credit money or paid coins to a user.")
_movement("present", operations.present, "Gift coins, points or money to a user.")
_movement("consume", operations.consume, "Spend from a user's wallet.")


@wallet_app.command("transfer")
@clear_errors
def transfer(
    user_id: str,
    to_user_id: str,
    currency: str,
    amount: int,
    reference: str = typer.Option(..., help="Your id for this operation; repeats replay."),
    app_id: str = APP,
    zone: str = ZONE,
) -> None:
    """Move money or points from USER_ID to TO_USER_ID."""
    with unit_of_work(database()) as session:
        ref = _ref(session, app_id, user_id, zone)
        outcome = operations.transfer(session, ref, to_user_id, currency, amount, reference)
        state = "replayed" if outcome.replayed else "posted"
        console.print(f"{state} journal {outcome.journal.id}")
        _print_balances(session, ref)


@wallet_app.command("withdraw")
@clear_errors
def withdraw(
    user_id: str,
    currency: str,
    amount: int,
    reference: str = typer.Option(..., help="Your id for this payout; repeats replay."),
    app_id: str = APP,
    zone: str = ZONE,
) -> None:
    """Reserve money for a payout (a hold); settle it with `wallet payout HOLD_ID`."""
    with unit_of_work(database()) as session:
        ref = _ref(session, app_id, user_id, zone)
        hold, replayed = operations.withdraw(session, ref, currency, amount, reference)
        console.print(f"{'found' if replayed else 'reserved'} hold {hold.id}: {hold.amount}")


@wallet_app.command("payout")
@clear_errors
def payout(
    hold_id: str,
    failed: bool = typer.Option(False, "--failed", help="The payout failed: release the money."),
) -> None:
    """Settle a withdrawal: post its hold (paid out) or void it (--failed)."""
    with unit_of_work(database()) as session:
        hold = ledger_holds.get_hold(session, None, hold_id)
        if failed:
            operations.fail_withdrawal(session, hold.merchant_id, hold.id)
            console.print(f"released hold {hold.id}")
        else:
            posted = operations.complete_withdrawal(session, hold.merchant_id, hold.id)
            console.print(f"posted hold {hold.id} as journal {posted.journal.id}")


@wallet_app.command("freeze")
@clear_errors
def freeze(
    user_id: str,
    app_id: str = APP,
    zone: str = ZONE,
    currency: str = typer.Option(None, help="Only this currency (default: all)."),
    undo: bool = typer.Option(False, "--undo", help="Unfreeze instead."),
) -> None:
    """Freeze a user's wallet (no debits), or unfreeze it with --undo."""
    with unit_of_work(database()) as session:
        ref = _ref(session, app_id, user_id, zone)
        changed = operations.set_frozen(session, ref, not undo, currency)
        console.print(f"{'unfroze' if undo else 'froze'} {len(changed)} account(s)")


@ledger_app.command("balance")
@clear_errors
def account_balance(
    account_id: str,
    as_of: datetime = typer.Option(None, "--as-of", help="A past moment (ISO 8601, UTC)."),
) -> None:
    """An account's balance now, or as of a past moment."""
    with unit_of_work(database(), read_only=True) as session:
        if as_of is not None:
            moment = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
            posted = ledger_accounts.balance_as_of(session, None, account_id, moment)
            console.print(f"{account_id} as of {moment.isoformat()}: {posted}")
            return
        found = ledger_accounts.balance(session, None, account_id)
        console.print(
            f"{account_id}: balance {found.balance} {found.currency}, pending "
            f"{found.pending_debit}, available {found.available}"
        )

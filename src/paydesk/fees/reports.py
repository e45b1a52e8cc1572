"""Fee income, channel cost and margin over a period, grouped by day, channel account,
merchant or scenario, per currency; as rows or CSV (docs/fees.md).

Income is the merchant fees posted, adjusted by recomputations, less those given back; cost
is the channel costs the platform bears, accrued, adjusted, less those given back; margin is
income less cost. Costs a remittance rule passes through to the merchant (``payer:
merchant``) are shown apart (``passed_through``): they are not the platform's.
Only ``posted`` charges count; unmatched ones are counted apart (``unmatched``) so a gap in
the agreements shows in the report.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paydesk.core.errors import InvalidRequest
from paydesk.fees.records import FeeCharge
from paydesk.fees.service import (
    ADJUSTMENT_SUFFIX,
    CHANNEL_COST,
    MERCHANT_FEE,
    PERIOD_CLOSE_SUFFIX,
    RETURN_SUFFIX,
)

PERIOD_DAYS_MAX = 400
COLUMNS = (
    "group",
    "currency",
    "fee_income",
    "channel_cost",
    "margin",
    "passed_through",
    "charges",
    "unmatched",
)


class GroupBy(StrEnum):
    DAY = "day"
    CHANNEL = "channel"
    """The channel account."""
    MERCHANT = "merchant"
    SCENARIO = "scenario"


@dataclass(frozen=True, slots=True)
class ReportRow:
    group: str
    currency: str
    fee_income: int
    channel_cost: int
    margin: int
    passed_through: int
    charges: int
    unmatched: int


def _group_expression(session: Session, by: GroupBy) -> sa.ColumnElement[str]:
    if by is GroupBy.DAY:
        if session.get_bind().dialect.name == "postgresql":
            return sa.func.to_char(sa.func.timezone("UTC", FeeCharge.created_at), "YYYY-MM-DD")
        return sa.func.substr(sa.cast(FeeCharge.created_at, sa.String), 1, 10)
    if by is GroupBy.CHANNEL:
        return sa.func.coalesce(FeeCharge.channel_account_id, "-")
    if by is GroupBy.MERCHANT:
        return sa.cast(FeeCharge.merchant_id, sa.String)
    return sa.cast(FeeCharge.scenario, sa.String)


def report(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    by: GroupBy,
    merchant_id: str | None = None,
) -> list[ReportRow]:
    """Charges created in ``[start, end)``; ``merchant_id`` None: every merchant (admins)."""
    if end <= start:
        raise InvalidRequest("to must be after from", param="to")
    if (end - start).days > PERIOD_DAYS_MAX:
        raise InvalidRequest(f"a report covers at most {PERIOD_DAYS_MAX} days", param="to")

    def signed(kind: str, borne_by: str = "platform") -> sa.ColumnElement[int]:
        posted = (FeeCharge.status == "posted") & (FeeCharge.borne_by == borne_by)
        return sa.func.coalesce(
            sa.func.sum(
                sa.case(
                    (posted & (FeeCharge.kind == kind), FeeCharge.amount_minor),
                    (posted & (FeeCharge.kind == kind + RETURN_SUFFIX), -FeeCharge.amount_minor),
                    # adjustments are signed: a recomputation may lower a fee
                    (posted & (FeeCharge.kind == kind + ADJUSTMENT_SUFFIX), FeeCharge.amount_minor),
                    (
                        posted & (FeeCharge.kind == kind + PERIOD_CLOSE_SUFFIX),
                        FeeCharge.amount_minor,
                    ),
                    else_=0,
                )
            ),
            0,
        )

    group = _group_expression(session, by).label("grp")
    unmatched = sa.func.sum(sa.case((FeeCharge.status == "unmatched", 1), else_=0))
    query = (
        sa.select(
            group,
            FeeCharge.currency,
            signed(MERCHANT_FEE),
            signed(CHANNEL_COST),
            signed(CHANNEL_COST, "merchant"),
            sa.func.count(),
            unmatched,
        )
        .where(FeeCharge.created_at >= start, FeeCharge.created_at < end)
        .group_by(group, FeeCharge.currency)
        .order_by(group, FeeCharge.currency)
    )
    if merchant_id is not None:
        query = query.where(FeeCharge.merchant_id == merchant_id)
    rows = []
    for key, currency, income, cost, passed, count, missing in session.execute(query):
        income, cost = int(income), int(cost)
        rows.append(
            ReportRow(
                str(key),
                currency,
                income,
                cost,
                income - cost,
                int(passed),
                int(count),
                int(missing or 0),
            )
        )
    return rows


def to_csv(rows: list[ReportRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(
            (
                row.group,
                row.currency,
                row.fee_income,
                row.channel_cost,
                row.margin,
                row.passed_through,
                row.charges,
                row.unmatched,
            )
        )
    return out.getvalue()

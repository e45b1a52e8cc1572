"""The trade bill (交易账单) of one merchant and one Beijing day, as WeChat Pay v3 serves it.

Format (CHANNELS.md, "Trade bill file"): UTF-8 CSV; a header line, then one row per event,
then a totals header and one totals row. Every value is prefixed with a backtick (so
spreadsheets keep ids as text); header lines are not. Amounts are yuan with two decimals. The 27
columns are :data:`COLUMNS`, the totals :data:`TOTALS_COLUMNS`. Lines end ``\\r\\n``; a value
holding a comma or a quote is quoted by CSV rules.

Rows: a payment on the day it succeeded (``交易状态`` SUCCESS, its amount in ``应结订单金额`` and
``订单金额``, its fee in ``手续费``); a refund on the day it succeeded (``交易状态`` REFUND, the
order's ids, the amount in ``退款金额`` and ``申请退款金额``, payment amounts 0.00 and the fee
given back as a negative ``手续费``), so every totals column is the sum of its column.
``bill_type`` SUCCESS keeps the payments, REFUND the refunds, ALL both.

The fee is the merchant's ``fee_rate_bps`` of the amount, rounded half up to the fen
(:func:`fee_fen`), the same rule for a payment and for the part a refund gives back.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime

from paydesk.simulators.wechatpay.state import Order, Refund

COLUMNS = (
    "交易时间",
    "公众账号ID",
    "商户号",
    "特约商户号",
    "设备号",
    "微信订单号",
    "商户订单号",
    "用户标识",
    "交易类型",
    "交易状态",
    "付款银行",
    "货币种类",
    "应结订单金额",
    "代金券金额",
    "微信退款单号",
    "商户退款单号",
    "退款金额",
    "充值券退款金额",
    "退款类型",
    "退款状态",
    "商品名称",
    "商户数据包",
    "手续费",
    "费率",
    "订单金额",
    "申请退款金额",
    "费率备注",
)
TOTALS_COLUMNS = (
    "总交易单数",
    "应结订单总金额",
    "退款总金额",
    "充值券退款总金额",
    "手续费总金额",
    "订单总金额",
    "申请退款总金额",
)
BILL_TYPES = ("ALL", "SUCCESS", "REFUND")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
ZERO = "0.00"


def yuan(fen: int) -> str:
    """Fen as yuan with two decimals: ``12345`` → ``123.45``, ``-5`` → ``-0.05``."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def fee_fen(amount_fen: int, rate_bps: int) -> int:
    """The channel fee on an amount, rounded half up to the fen (amount and rate >= 0)."""
    if amount_fen < 0 or rate_bps < 0:
        raise ValueError("fee_fen takes a non-negative amount and rate")
    return (amount_fen * rate_bps + 5_000) // 10_000


def rate_text(rate_bps: int) -> str:
    """Basis points as WeChat writes the rate: ``60`` → ``0.60%``."""
    return f"{rate_bps // 100}.{rate_bps % 100:02d}%"


def _when(moment: datetime | None) -> str:
    assert moment is not None  # bill rows are made of succeeded events only
    return moment.strftime(TIME_FORMAT)


def payment_row(order: Order, rate_bps: int) -> list[str]:
    """One payment's row (raw values, no backticks yet)."""
    request = order.request
    total = yuan(request.amount_total)
    return [
        _when(order.success_time),
        request.appid,
        request.mchid,
        "0",
        "",
        order.transaction_id or "",
        request.out_trade_no,
        order.payer_openid or "",
        str(request.trade_type),
        "SUCCESS",
        order.bank_type or "OTHERS",
        request.currency,
        total,
        ZERO,
        "0",
        "0",
        ZERO,
        ZERO,
        "",
        "",
        request.description,
        request.attach or "",
        yuan(fee_fen(request.amount_total, rate_bps)),
        rate_text(rate_bps),
        total,
        ZERO,
        "",
    ]


def refund_row(order: Order, refund: Refund, rate_bps: int) -> list[str]:
    """One refund's row (raw values, no backticks yet)."""
    request = order.request
    amount = refund.request.amount_refund
    return [
        _when(refund.success_time),
        request.appid,
        request.mchid,
        "0",
        "",
        refund.transaction_id,
        refund.out_trade_no,
        order.payer_openid or "",
        str(request.trade_type),
        "REFUND",
        order.bank_type or "OTHERS",
        request.currency,
        ZERO,
        ZERO,
        refund.refund_id,
        refund.request.out_refund_no,
        yuan(amount),
        ZERO,
        "ORIGINAL",
        str(refund.status),
        request.description,
        request.attach or "",
        yuan(-fee_fen(amount, rate_bps)),
        rate_text(rate_bps),
        ZERO,
        yuan(amount),
        "",
    ]


def _fen_of(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    whole, _, cents = text.lstrip("-").partition(".")
    return sign * (int(whole) * 100 + int(cents))


def totals_row(rows: Sequence[Sequence[str]]) -> list[str]:
    """Row count and the sums of the amount columns the totals name."""

    def column_sum(name: str) -> str:
        index = COLUMNS.index(name)
        return yuan(sum(_fen_of(row[index]) for row in rows))

    return [
        str(len(rows)),
        column_sum("应结订单金额"),
        column_sum("退款金额"),
        column_sum("充值券退款金额"),
        column_sum("手续费"),
        column_sum("订单金额"),
        column_sum("申请退款金额"),
    ]


def _backticked(values: Iterable[str]) -> list[str]:
    return ["`" + value for value in values]


def trade_bill(
    paid: Iterable[Order],
    refunds: Iterable[tuple[Order, Refund]],
    rate_bps: int,
    bill_type: str = "ALL",
) -> bytes:
    """The bill file: header, event rows, totals header, totals row; UTF-8."""
    if bill_type not in BILL_TYPES:
        raise ValueError(f"bill_type must be one of {', '.join(BILL_TYPES)}")
    rows: list[list[str]] = []
    if bill_type in {"ALL", "SUCCESS"}:
        rows += [payment_row(order, rate_bps) for order in paid]
    if bill_type in {"ALL", "REFUND"}:
        rows += [refund_row(order, refund, rate_bps) for order, refund in refunds]
    rows.sort(key=lambda row: row[0])  # by event time; sort is stable within a second
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(_backticked(row) for row in rows)
    writer.writerow(TOTALS_COLUMNS)
    writer.writerow(_backticked(totals_row(rows)))
    return buffer.getvalue().encode("utf-8")

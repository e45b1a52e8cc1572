"""The trade statement (对账单) of one merchant and one Beijing day, as the simulator serves it.

Layout: UTF-8 text, lines ending ``\\r\\n``; a header line of :data:`COLUMNS`, one row per
event, then a header line of :data:`TOTALS_COLUMNS` and one totals row. Every value in the rows
is prefixed with a backtick (so spreadsheets keep long ids as text); header lines are not. A
value holding a comma or a quote is quoted by CSV rules. Amounts are yuan with two decimals.

This is WeChat Pay v2's trade bill with 微信 read as QQ钱包: QQ Wallet's statement page could
not be read in full, and its merchant API follows v2 field for field. The connector does not
depend on the columns (it returns the file as downloaded).

Rows: a payment on the day it was paid (``交易状态`` SUCCESS, its amount in ``总金额``, its
fee in ``手续费``); a refund on the day it succeeded (``交易状态`` REFUND, the order's ids, the
amount in ``退款金额``, ``总金额`` 0.00 and the fee given back as a negative ``手续费``), so
every total is the sum of its column. ``bill_type`` SUCCESS keeps the payments, REFUND the
refunds, ALL both; RECHARGE_REFUND (refunds of top-up money) has no rows here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from paydesk.simulators.qqwallet.state import Order, Refund

COLUMNS = (
    "交易时间",
    "公众账号ID",
    "商户号",
    "子商户号",
    "设备号",
    "QQ钱包订单号",
    "商户订单号",
    "用户标识",
    "交易类型",
    "交易状态",
    "付款银行",
    "货币种类",
    "总金额",
    "代金券或立减优惠金额",
    "QQ钱包退款单号",
    "商户退款单号",
    "退款金额",
    "代金券或立减优惠退款金额",
    "退款类型",
    "退款状态",
    "商品名称",
    "商户数据包",
    "手续费",
    "费率",
)
TOTALS_COLUMNS = (
    "总交易单数",
    "总交易额",
    "总退款金额",
    "总代金券或立减优惠退款金额",
    "手续费总金额",
)
BILL_TYPES = ("ALL", "SUCCESS", "REFUND", "RECHARGE_REFUND")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
ZERO = "0.00"


def yuan(fen: int) -> str:
    """Fen as yuan with two decimals: ``12345`` → ``123.45``, ``-5`` → ``-0.05``."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def fee_fen(amount_fen: int, rate_bps: int) -> int:
    """The channel fee on an amount, rounded half up to the fen."""
    if amount_fen < 0 or rate_bps < 0:
        raise ValueError("fee_fen takes a non-negative amount and rate")
    return (amount_fen * rate_bps + 5_000) // 10_000


def rate_text(rate_bps: int) -> str:
    return f"{rate_bps // 100}.{rate_bps % 100:02d}%"


def payment_row(order: Order, rate_bps: int) -> list[str]:
    request = order.request
    assert order.time_end is not None  # a paid order has its time
    return [
        order.time_end.strftime(TIME_FORMAT),
        request.appid or "",
        request.mch_id,
        "",
        "",
        order.transaction_id or "",
        request.out_trade_no,
        order.openid or "",
        request.trade_type.value,
        "SUCCESS",
        order.bank_type or "",
        request.fee_type,
        yuan(request.total_fee),
        ZERO,
        "",
        "",
        ZERO,
        ZERO,
        "",
        "",
        request.body,
        request.attach or "",
        yuan(fee_fen(request.total_fee, rate_bps)),
        rate_text(rate_bps),
    ]


def refund_row(order: Order, refund: Refund, rate_bps: int) -> list[str]:
    request = order.request
    amount = refund.request.refund_fee
    assert refund.success_time is not None  # only succeeded refunds are listed
    return [
        refund.success_time.strftime(TIME_FORMAT),
        request.appid or "",
        request.mch_id,
        "",
        "",
        order.transaction_id or "",
        request.out_trade_no,
        order.openid or "",
        request.trade_type.value,
        "REFUND",
        order.bank_type or "",
        request.fee_type,
        ZERO,
        ZERO,
        refund.refund_id,
        refund.request.out_refund_no,
        yuan(amount),
        ZERO,
        "ORIGINAL",
        refund.status.value,
        request.body,
        request.attach or "",
        yuan(-fee_fen(amount, rate_bps)),
        rate_text(rate_bps),
    ]


def _fen_of(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    whole, _, cents = text.lstrip("-").partition(".")
    return sign * (int(whole) * 100 + int(cents))


def totals_row(rows: Sequence[Sequence[str]]) -> list[str]:
    def column_sum(name: str) -> str:
        index = COLUMNS.index(name)
        return yuan(sum(_fen_of(row[index]) for row in rows))

    return [
        str(len(rows)),
        column_sum("总金额"),
        column_sum("退款金额"),
        column_sum("代金券或立减优惠退款金额"),
        column_sum("手续费"),
    ]


def statement(
    paid: Iterable[Order],
    refunds: Iterable[tuple[Order, Refund]],
    rate_bps: int,
    bill_type: str = "ALL",
) -> bytes:
    """The file: header, event rows by time, totals header, totals row; UTF-8."""
    if bill_type not in BILL_TYPES:
        raise ValueError(f"bill_type must be one of {', '.join(BILL_TYPES)}")
    rows: list[list[str]] = []
    if bill_type in {"ALL", "SUCCESS"}:
        rows += [payment_row(order, rate_bps) for order in paid]
    if bill_type in {"ALL", "REFUND"}:
        rows += [refund_row(order, refund, rate_bps) for order, refund in refunds]
    rows.sort(key=lambda row: (row[0], row[6], row[15]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(["`" + value for value in row] for row in rows)
    writer.writerow(TOTALS_COLUMNS)
    writer.writerow(["`" + value for value in totals_row(rows)])
    return buffer.getvalue().encode("utf-8")

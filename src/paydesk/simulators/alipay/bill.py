# ruff: noqa: RUF001 - the bill format is written with full-width punctuation
"""Trade bills (``bill_type=trade``), as ``alipay.data.dataservice.bill.downloadurl.query``
points to them (CHANNELS.md, "Statements").

The download is a ZIP named ``<account>_<yyyyMMdd>.csv.zip`` (account = seller id + ``0156``)
holding two GBK CSV files, ``<account>_<date>_业务明细.csv`` and ``..._业务明细(汇总).csv``.
As in real bills the member names are GBK bytes without the ZIP UTF-8 flag (read them with
``zipfile.ZipFile(..., metadata_encoding="gbk")``) and lines end with CRLF.

The detail file: ``#`` comment lines (title, account, period), the 25-column table between
the ``业务明细列表`` and ``业务明细列表结束`` markers, then ``#交易合计`` / ``#退款合计`` /
``#导出时间`` lines. One row per payment (业务类型 交易) and per refund (退款, amounts
negative, 退款批次号/请求号 set) that completed in the period. Identifier and name cells end
with a tab, as Alipay writes them so that spreadsheets keep long numbers as text; times and
amounts do not. Fields with a comma are quoted (RFC 4180). The summary file has the same
header lines and, between the ``业务汇总列表`` markers, one row per store and a ``合计`` row.
Characters GBK cannot encode are written as ``?``.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from paydesk.simulators.alipay import wire
from paydesk.simulators.alipay.trades import Trade

DETAIL_HEADER = (
    "支付宝交易号",
    "商户订单号",
    "业务类型",
    "商品名称",
    "创建时间",
    "完成时间",
    "门店编号",
    "门店名称",
    "操作员",
    "终端号",
    "对方账户",
    "订单金额（元）",
    "商家实收（元）",
    "支付宝红包（元）",
    "集分宝（元）",
    "支付宝优惠（元）",
    "商家优惠（元）",
    "券核销金额（元）",
    "券名称",
    "商家红包消费金额（元）",
    "卡消费金额（元）",
    "退款批次号/请求号",
    "服务费（元）",
    "分润（元）",
    "备注",
)
SUMMARY_HEADER = (
    "门店编号",
    "门店名称",
    "交易订单总笔数",
    "退款订单总笔数",
    "订单金额（元）",
    "商家实收（元）",
    "支付宝优惠（元）",
    "商家优惠（元）",
    "卡消费金额（元）",
    "服务费（元）",
    "分润（元）",
    "实收净额（元）",
)
DETAIL_BEGIN = "#" + "-" * 41 + "业务明细列表" + "-" * 40
DETAIL_END = "#" + "-" * 41 + "业务明细列表结束" + "-" * 36
SUMMARY_BEGIN = "#" + "-" * 41 + "业务汇总列表" + "-" * 40
SUMMARY_END = "#" + "-" * 40 + "业务汇总列表结束" + "-" * 37
# Columns whose cells Alipay ends with a tab (0-based, in DETAIL_HEADER).
TAB_COLUMNS = frozenset({0, 1, 2, 6, 7, 8, 9, 10, 19, 21})
ZERO = "0.00"


@dataclass(frozen=True)
class BillEntry:
    """One row of the detail table; amounts signed from the merchant's side, fen."""

    trade: Trade
    kind: str
    """交易 (a payment) or 退款 (a refund)."""
    completed_at: datetime
    amount_fen: int
    """Order amount of the row: positive for a payment, minus the refund for a refund."""
    fee_fen: int
    """Service fee of the row: negative when paid, positive when returned."""
    out_request_no: str = ""


def entries(
    trades: Iterable[Trade], start: datetime, end: datetime, now: datetime
) -> list[BillEntry]:
    """The payments and refunds completed in ``[start, end)`` by ``now``, in time order."""
    rows: list[BillEntry] = []
    for trade in trades:
        if trade.paid_at is not None and start <= trade.paid_at < end:
            rows.append(BillEntry(trade, "交易", trade.paid_at, trade.total_fen, -trade.fee_fen))
        for refund in trade.refunds.values():
            if start <= refund.effective_at < end and refund.effective(now):
                rows.append(
                    BillEntry(
                        trade,
                        "退款",
                        refund.effective_at,
                        -refund.amount_fen,
                        refund.fee_returned_fen,
                        refund.out_request_no,
                    )
                )
    rows.sort(key=lambda row: row.completed_at)
    return rows


def _detail_row(entry: BillEntry) -> list[str]:
    trade = entry.trade
    amount = wire.format_yuan(entry.amount_fen)
    cells = [
        trade.trade_no,
        trade.out_trade_no,
        entry.kind,
        trade.subject,
        wire.format_time(trade.created_at),
        wire.format_time(entry.completed_at),
        trade.store_id,
        trade.store_id,  # 门店名称: the simulator knows stores by their number only
        trade.operator_id,
        trade.terminal_id,
        f"*沙箱({trade.buyer_logon_id})",
        amount,
        amount,
        ZERO,
        ZERO,
        ZERO,
        ZERO,
        ZERO,
        "",
        ZERO,
        ZERO,
        entry.out_request_no,
        wire.format_yuan(entry.fee_fen),
        ZERO,
        trade.body,
    ]
    return [f"{cell}\t" if index in TAB_COLUMNS else cell for index, cell in enumerate(cells)]


def _period_lines(title: str, account: str, start: datetime, end: datetime) -> list[str]:
    stamp = "%Y年%m月%d日 %H:%M:%S"
    return [
        f"#{title}",
        f"#账号：[{account}]",
        f"#起始日期：[{start.strftime(stamp)}]   终止日期：[{end.strftime(stamp)}]",
    ]


def _csv(lines: list[str | Sequence[str]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    for line in lines:
        if isinstance(line, str):
            out.write(line + "\r\n")
        else:
            writer.writerow(line)
    return out.getvalue().encode("gbk", errors="replace")


def detail_file(
    rows: list[BillEntry], account: str, start: datetime, end: datetime, now: datetime
) -> bytes:
    """The ``业务明细`` CSV, GBK."""
    payments = [row for row in rows if row.kind == "交易"]
    refunds = [row for row in rows if row.kind == "退款"]
    paid = wire.format_yuan(sum(row.amount_fen for row in payments))
    refunded = wire.format_yuan(sum(row.amount_fen for row in refunds))
    lines: list[str | Sequence[str]] = [
        *_period_lines("支付宝业务明细查询", account, start, end),
        DETAIL_BEGIN,
        DETAIL_HEADER,
        *(_detail_row(row) for row in rows),
        DETAIL_END,
        f"#交易合计：{len(payments)}笔，商家实收共{paid}元，商家优惠共0.00元",
        f"#退款合计：{len(refunds)}笔，商家实收退款共{refunded}元，商家优惠退款共0.00元",
        f"#导出时间：[{now.strftime('%Y年%m月%d日 %H:%M:%S')}]",
    ]
    return _csv(lines)


def _summary_row(label: str, name: str, rows: list[BillEntry]) -> list[str]:
    amount = sum(row.amount_fen for row in rows)
    fee = sum(row.fee_fen for row in rows)
    return [
        label,
        name,
        str(sum(1 for row in rows if row.kind == "交易")),
        str(sum(1 for row in rows if row.kind == "退款")),
        wire.format_yuan(amount),
        wire.format_yuan(amount),
        ZERO,
        ZERO,
        ZERO,
        wire.format_yuan(fee),
        ZERO,
        wire.format_yuan(amount + fee),
    ]


def summary_file(
    rows: list[BillEntry], account: str, start: datetime, end: datetime, now: datetime
) -> bytes:
    """The ``业务明细(汇总)`` CSV, GBK."""
    stores = sorted({row.trade.store_id for row in rows})
    per_store = [
        _summary_row(f"{store}\t", f"{store}\t", [r for r in rows if r.trade.store_id == store])
        for store in stores
    ]
    lines: list[str | Sequence[str]] = [
        *_period_lines("支付宝业务汇总查询", account, start, end),
        SUMMARY_BEGIN,
        SUMMARY_HEADER,
        *per_store,
        _summary_row("合计", "", rows),
        SUMMARY_END,
        f"#导出时间：[{now.strftime('%Y年%m月%d日 %H:%M:%S')}]",
    ]
    return _csv(lines)


class _GbkName(zipfile.ZipInfo):
    """A member whose name is stored as GBK bytes, without the UTF-8 flag, as Alipay's are."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # overrides zipfile's
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


def bill_zip(
    rows: list[BillEntry], account: str, period: str, start: datetime, end: datetime, now: datetime
) -> tuple[str, bytes]:
    """The file name and bytes of the bill of ``period`` (``yyyyMMdd`` or ``yyyyMM``)."""
    prefix = f"{account}_{period}"
    members = (
        (f"{prefix}_业务明细.csv", detail_file(rows, account, start, end, now)),
        (f"{prefix}_业务明细(汇总).csv", summary_file(rows, account, start, end, now)),
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            info = _GbkName(name, date_time=now.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return f"{prefix}.csv.zip", out.getvalue()

# ruff: noqa: RUF002 - field names in UnionPay's own Chinese
"""The statement a ``fileTransfer`` answers: one ZIP with the general transaction file (ZM).

Format, as far as public material shows it (the acp SDK demos' ``parseZMFile`` and
``deCodeFileContent``, and the sample names ``802310048993424_20150905.zip`` /
``INN15090588ZM_802310048993424`` they refer to):

- ``fileName`` ``<merId>_<yyyyMMdd>.zip``; ``fileContent`` the ZIP deflated with a zlib header
  (Java's ``Deflater``) and then base64.
- Inside, ``INN<yyMMdd>88ZM_<merId>``: GBK text, CRLF line ends, one line per payment or
  refund completed that Beijing day; each line 42 fixed-width fields (widths in bytes, left
  aligned and padded with spaces, numbers padded with zeros) separated by one space: 交易代码 3,
  代理机构标识码 11, 发送机构标识码 11, 系统跟踪号 6, 交易传输时间 10 (MMDDhhmmss), 帐号 19,
  交易金额 12, 商户类别 4, 终端类型 2, 查询流水号 21, 支付方式（旧）2, 商户订单号 32,
  支付卡类型 2, 原始交易的系统跟踪号 6, 原始交易日期时间 10, 商户手续费 13, 结算金额 13,
  支付方式 4, 集团商户代码 15, 交易类型 2, 交易子类 2, 业务类型 6, 帐号类型 2, 账单类型 4,
  账单号码 32, 交互方式 1, 原交易查询流水号 21, 商户代码 15, 分账入账方式 1, 二级商户代码 15,
  二级商户简称 32, 二级商户分账入账金额 13, 清算净额 13, 终端号 8, 商户自定义域 32,
  优惠金额 13, 发票金额 13, 分期付款附加手续费 12, 分期付款期数 2, 交易介质 1,
  原始交易订单号 32, 保留使用 98.
- Signed amounts are ``C`` (credit to the merchant) or ``D`` (debit) and the digits. The
  simulator charges no fee. 交易代码 is written ``S22`` for a payment and ``S30`` for a refund,
  values we could not confirm: read 交易类型/交易子类 (the ACP ``txnType``/``txnSubType``)
  instead. Fields the simulator has nothing for are blanks or zeros.
"""

from __future__ import annotations

import base64
import io
import zipfile
import zlib
from datetime import date, datetime

from paydesk.simulators.unionpay.trades import Record, Trade

ENCODING = "gbk"
WIDTHS = (
    3, 11, 11, 6, 10, 19, 12, 4, 2, 21, 2, 32, 2, 6, 10, 13, 13, 4, 15, 2, 2, 6, 2, 4, 32, 1,
    21, 15, 1, 15, 32, 13, 13, 8, 32, 13, 13, 12, 2, 1, 32, 98,
)  # fmt: skip
MASKED_CARD = "6216********0018"


def _cell(value: str, width: int) -> bytes:
    raw = value.encode(ENCODING, errors="replace")[:width]
    return raw.ljust(width, b" ")


def _signed(fen: int, width: int = 13) -> str:
    return ("C" if fen >= 0 else "D") + str(abs(fen)).zfill(width - 1)


def _line(cells: list[str]) -> bytes:
    assert len(cells) == len(WIDTHS)
    return b" ".join(_cell(cell, width) for cell, width in zip(cells, WIDTHS, strict=True))


def _row(record: Record) -> bytes:
    if isinstance(record, Trade):
        code, sign, txn_type, sub_type = "S22", 1, "01", "01"
        orig_trace_no = orig_trace_time = orig_query_id = orig_order_id = ""
        channel_type, trace_no, trace_time = record.channel_type, record.trace_no, record.trace_time
    else:
        code, sign, txn_type, sub_type = "S30", -1, "04", "00"
        orig_trace_no, orig_trace_time = record.orig_trace_no, record.orig_trace_time
        orig_query_id, orig_order_id = record.orig_query_id, record.orig_order_id
        channel_type, trace_no, trace_time = "07", record.trace_no, record.trace_time
    amount = record.amount_fen
    return _line(
        [
            code,
            "00000000000",
            "00000000000",
            trace_no,
            trace_time,
            MASKED_CARD,
            str(amount).zfill(12),
            "5311",
            channel_type,
            record.query_id,
            "00",
            record.order_id,
            "01",
            orig_trace_no,
            orig_trace_time,
            _signed(0),
            _signed(sign * amount),
            "0001",
            "",
            txn_type,
            sub_type,
            "000201",
            "01",
            "",
            "",
            "",
            orig_query_id,
            record.mer_id,
            "",
            "",
            "",
            _signed(0),
            _signed(sign * amount),
            "",
            "",
            _signed(0),
            _signed(0),
            _signed(0, 12),
            "00",
            "",
            orig_order_id,
            "",
        ]
    )


def zm_file(records: list[Record]) -> bytes:
    return b"".join(_row(record) + b"\r\n" for record in records)


def statement(mer_id: str, day: date, records: list[Record], now: datetime) -> tuple[str, bytes]:
    """``fileName`` and the ZIP of ``day``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(f"INN{day:%y%m%d}88ZM_{mer_id}", date_time=now.timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, zm_file(records))
    return f"{mer_id}_{day:%Y%m%d}.zip", out.getvalue()


def file_content(archive: bytes) -> str:
    """``fileContent``: zlib-deflated, then base64."""
    return base64.b64encode(zlib.compress(archive)).decode("ascii")

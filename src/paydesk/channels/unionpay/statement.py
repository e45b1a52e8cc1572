# ruff: noqa: RUF001 - field names in UnionPay's own Chinese
"""UnionPay's statement (对账文件): the file-transfer answer and the ZIP in it. Pure functions.

Rules (UnionPay's API page of the file-transfer transaction; the acp SDK's
``AcpService.deCodeFileContent`` and its demos' ``parseZMFile``; 《全渠道平台接入接口规范 第3部分
文件接口》 as those demos cite it):

- ``fileTransfer`` (``txnType=76, fileType=00, settleDate=MMDD``) answers ``respCode`` 00 with
  ``fileName`` (the ZIP's name, ``<merId>_<yyyyMMdd>.zip``) and ``fileContent``: the ZIP,
  deflated with a zlib wrapper (Java's ``Deflater``/``Inflater(false)``) and then base64.
  ``respCode`` 98 (文件不存在) means there is no file for that day (yet).
- The :class:`~paydesk.channels.base.Statement` is **the ZIP as UnionPay made it**; the
  ``file_name`` is ``fileName``. Inflating is bounded by ``statement_bytes_max``; a
  ``fileContent`` that is not base64, not zlib or not a ZIP is a :class:`ChannelError`.
- Inside, the general transaction file (一般交易流水, the "ZM" file) is named
  ``INN<yyMMdd>88ZM_<merId>``: GBK text, one line per transaction, CRLF; each line is 42
  fixed-width fields separated by one space (:data:`ZM_FIELDS`, widths in bytes).
  :func:`zm_records` reads it, fields trimmed of padding. Amounts are fen: ``txnAmt`` 12
  digits; the signed ones (``merFee``, ``settleAmt``, ``settleNetAmt``, ...) a ``C`` (credit)
  or ``D`` (debit) and 12 digits.
"""

from __future__ import annotations

import base64
import binascii
import io
import zipfile
import zlib
from collections.abc import Mapping

from paydesk.channels.base import ChannelError

ZM_MARKER = "ZM_"
ZM_ENCODING = "gb18030"
"""Decodes GBK (GB18030 is its superset)."""
ZM_FIELDS: tuple[tuple[str, int, str], ...] = (
    ("txnCode", 3, "交易代码"),
    ("acqInsCode", 11, "代理机构标识码"),
    ("sendInsCode", 11, "发送机构标识码"),
    ("traceNo", 6, "系统跟踪号"),
    ("traceTime", 10, "交易传输时间"),
    ("accNo", 19, "帐号"),
    ("txnAmt", 12, "交易金额"),
    ("merCatCode", 4, "商户类别"),
    ("termType", 2, "终端类型"),
    ("queryId", 21, "查询流水号"),
    ("oldPayType", 2, "支付方式（旧）"),
    ("orderId", 32, "商户订单号"),
    ("payCardType", 2, "支付卡类型"),
    ("origTraceNo", 6, "原始交易的系统跟踪号"),
    ("origTraceTime", 10, "原始交易日期时间"),
    ("merFee", 13, "商户手续费"),
    ("settleAmt", 13, "结算金额"),
    ("payType", 4, "支付方式"),
    ("groupMerId", 15, "集团商户代码"),
    ("txnType", 2, "交易类型"),
    ("txnSubType", 2, "交易子类"),
    ("bizType", 6, "业务类型"),
    ("accType", 2, "帐号类型"),
    ("billType", 4, "账单类型"),
    ("billNo", 32, "账单号码"),
    ("interactMode", 1, "交互方式"),
    ("origQryId", 21, "原交易查询流水号"),
    ("merId", 15, "商户代码"),
    ("splitType", 1, "分账入账方式"),
    ("subMerId", 15, "二级商户代码"),
    ("subMerAbbr", 32, "二级商户简称"),
    ("subMerAmt", 13, "二级商户分账入账金额"),
    ("settleNetAmt", 13, "清算净额"),
    ("termId", 8, "终端号"),
    ("merReserved", 32, "商户自定义域"),
    ("discountAmt", 13, "优惠金额"),
    ("invoiceAmt", 13, "发票金额"),
    ("installmentFee", 12, "分期付款附加手续费"),
    ("installmentCount", 2, "分期付款期数"),
    ("txnMedium", 1, "交易介质"),
    ("origOrderId", 32, "原始交易订单号"),
    ("reserved", 98, "保留使用"),
)
ZM_LINE_BYTES = sum(width for _, width, _ in ZM_FIELDS) + len(ZM_FIELDS) - 1


def zip_bytes(answer: Mapping[str, str], bytes_max: int) -> tuple[str, bytes]:
    """``fileName`` and the ZIP of a successful file-transfer answer."""
    name = answer.get("fileName", "")
    content = answer.get("fileContent", "")
    if not name or not content:
        raise ChannelError("UnionPay fileTransfer: fileName or fileContent is missing")
    try:
        deflated = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise ChannelError("UnionPay fileTransfer: fileContent is not base64") from None
    inflater = zlib.decompressobj()
    try:
        archive = inflater.decompress(deflated, bytes_max + 1)
    except zlib.error:
        raise ChannelError("UnionPay fileTransfer: fileContent is not deflated data") from None
    if len(archive) > bytes_max or inflater.unconsumed_tail:
        raise ChannelError(f"UnionPay fileTransfer: the statement inflates past {bytes_max} bytes")
    if not inflater.eof:
        raise ChannelError("UnionPay fileTransfer: fileContent is truncated")
    if not zipfile.is_zipfile(io.BytesIO(archive)):
        raise ChannelError("UnionPay fileTransfer: fileContent is not a ZIP")
    return name.rsplit("/", 1)[-1], archive


def _zm_member(archive: zipfile.ZipFile) -> zipfile.ZipInfo:
    found = [
        info
        for info in archive.infolist()
        if not info.is_dir() and ZM_MARKER in info.filename.rsplit("/", 1)[-1]
    ]
    if len(found) != 1:
        names = [info.filename for info in archive.infolist()]
        raise ChannelError(f"UnionPay statement: expected one ZM file, found {names}")
    return found[0]


def parse_zm_line(line: bytes) -> dict[str, str]:
    """One ZM line (bytes, without its line end) as named fields, padding trimmed."""
    if len(line) < ZM_LINE_BYTES - ZM_FIELDS[-1][1]:
        raise ChannelError(f"UnionPay statement: a ZM line of {len(line)} bytes is too short")
    record: dict[str, str] = {}
    offset = 0
    for name, width, _ in ZM_FIELDS:
        cell = line[offset : offset + width]
        try:
            record[name] = cell.decode(ZM_ENCODING).strip()
        except UnicodeDecodeError:
            raise ChannelError(f"UnionPay statement: {name} is not GBK text") from None
        offset += width + 1
    return record


def zm_records(archive_bytes: bytes, bytes_max: int = 200 * 1024 * 1024) -> list[dict[str, str]]:
    """Every line of the ZM file of a statement ZIP."""
    try:
        with zipfile.ZipFile(io.BytesIO(archive_bytes)) as archive:
            info = _zm_member(archive)
            with archive.open(info) as member:
                raw = member.read(bytes_max + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as error:
        raise ChannelError(f"UnionPay statement: not a readable ZIP ({error})") from None
    if len(raw) > bytes_max:
        raise ChannelError(f"UnionPay statement: the ZM file is over {bytes_max} bytes")
    return [parse_zm_line(line) for line in raw.splitlines() if line.strip()]


def signed_fen(text: str) -> int:
    """A ``C``/``D`` amount (``C000000001000``) as signed fen: credit positive."""
    if len(text) < 2 or text[0] not in "CD" or not text[1:].isdigit():
        raise ChannelError(f"UnionPay statement: {text!r} is not a C/D amount")
    value = int(text[1:])
    return value if text[0] == "C" else -value

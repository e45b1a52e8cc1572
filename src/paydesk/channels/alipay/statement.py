"""Alipay's trade bill: the download-URL call and the ZIP it points at. Pure functions.

Rules (CHANNELS.md "Statements", docs/simulators-alipay.md "Bills"):

- ``alipay.data.dataservice.bill.downloadurl.query`` with ``bill_type=trade`` and
  ``bill_date=yyyy-MM-dd`` (the Beijing day) answers ``bill_download_url``, a short-lived URL
  (30 s) of a ZIP. A bill appears the next morning (after about 09:00 Beijing time); before
  that, and for a day without one, the answer is ``isp.bill_not_exist``, a ChannelRejected
  (as WeChat's NO_STATEMENT_EXIST): ask for a day once it is over and its bill published.
- The ZIP holds ``<account>_<yyyyMMdd>_业务明细.csv`` (the detail) and ``..._业务明细(汇总).csv``
  (the summary), GBK text with member names in GBK and no UTF-8 flag
  (``metadata_encoding="gbk"``).
- The :class:`~paydesk.channels.base.Statement` is the **detail file only, re-encoded from GBK
  to UTF-8**, byte for byte otherwise (``#`` comment lines, the 25-column table between the
  ``业务明细列表`` markers, CRLF line ends and the tabs ending identifier cells are kept): the
  reconciliation parser reads one encoding for every channel and nothing is lost. GBK is
  decoded as GB18030, its superset, so any byte sequence the bill may hold reads the same.
  ``file_name`` is the detail member's name.
- A ZIP that is not one, holds no or several detail files, or inflates past the configured
  limit is a :class:`ChannelError`.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Mapping
from datetime import date
from typing import Any

from paydesk.channels.base import ChannelError

BILL_API = "alipay.data.dataservice.bill.downloadurl.query"
BILL_TYPE = "trade"
DETAIL_SUFFIX = "_业务明细.csv"
BILL_ENCODING = "gb18030"
"""Decodes GBK (GB18030 is its superset)."""


def bill_fields(day: date) -> dict[str, str]:
    """The business fields asking for the trade bill of ``day``."""
    return {"bill_type": BILL_TYPE, "bill_date": day.isoformat()}


def bill_download_url(answer: Mapping[str, Any]) -> str:
    """The ``bill_download_url`` of a successful answer."""
    url = answer.get("bill_download_url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise ChannelError(f"Alipay {BILL_API}: bill_download_url is missing or not a URL")
    return url


def detail_csv(archive: bytes, bytes_max: int) -> tuple[str, bytes]:
    """The detail file's name and its text as UTF-8, from the bill ZIP."""
    try:
        with zipfile.ZipFile(io.BytesIO(archive), metadata_encoding="gbk") as bill:
            details = [
                info
                for info in bill.infolist()
                if not info.is_dir() and info.filename.endswith(DETAIL_SUFFIX)
            ]
            if len(details) != 1:
                names = [info.filename for info in bill.infolist()]
                raise ChannelError(f"Alipay bill: expected one *{DETAIL_SUFFIX}, found {names}")
            (info,) = details
            if info.file_size > bytes_max:
                raise ChannelError(f"Alipay bill: {info.filename} is over {bytes_max} bytes")
            with bill.open(info) as member:
                raw = member.read(bytes_max + 1)  # the header's size may lie: read bounded
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        NotImplementedError,
        ValueError,
    ) as error:
        raise ChannelError(f"Alipay bill: not a readable ZIP ({error})") from None
    if len(raw) > bytes_max:
        raise ChannelError(f"Alipay bill: {info.filename} inflates past {bytes_max} bytes")
    try:
        text = raw.decode(BILL_ENCODING)
    except UnicodeDecodeError:
        raise ChannelError(f"Alipay bill: {info.filename} is not GBK text") from None
    return info.filename.rsplit("/", 1)[-1], text.encode("utf-8")

# ruff: noqa: RUF001 - Alipay's bill text uses full-width punctuation
"""Bills of the Alipay simulator: the URL from ``alipay.data.dataservice.bill.downloadurl.query``
(asked through the unmodified SDK) serves a ZIP of GBK CSV files, parsed back here."""

from __future__ import annotations

import csv
import io
import time
import zipfile
from datetime import datetime

import httpx

from paydesk.simulators.alipay import create_simulator, generate_test_credentials
from paydesk.simulators.alipay.config import BEIJING
from tests.simulators.alipay_support import FixedClock, pay, sdk
from tests.support.server import serving


def test_bill_download_is_a_zip_of_gbk_csv_files() -> None:
    creds = generate_test_credentials()
    moment = datetime(2024, 5, 5, 10, 0, 0, tzinfo=BEIJING)
    config = creds.simulator_config(clock=FixedClock(moment), fee_bps=60, bill_url_ttl_s=0.5)
    with serving(create_simulator(config)) as url:
        client = sdk(creds, f"{url}/gateway.do")
        client.api_alipay_trade_precreate("大额, 商品", "B1", "100.00", store_id="S01")
        client.api_alipay_trade_precreate("小额😀", "B2", "0.99", store_id="S01")
        client.api_alipay_trade_precreate("未付", "B3", "5.00", store_id="S01")
        pay(url, "B1")
        pay(url, "B2")
        assert client.api_alipay_trade_refund("0.50", "B2", out_request_no="BR1")["code"] == "10000"

        def bill_url(bill_date: str) -> dict[str, str]:
            return client.server_api(
                "alipay.data.dataservice.bill.downloadurl.query",
                {"bill_type": "trade", "bill_date": bill_date},
            )

        daily = bill_url("2024-05-05")
        assert bill_url("2024-05")["code"] == "10000"
        assert bill_url("2024-05-06")["sub_code"] == "isp.bill_not_exist"
        downloaded = httpx.get(daily["bill_download_url"])
        assert downloaded.status_code == 200
        time.sleep(0.6)
        assert httpx.get(daily["bill_download_url"]).status_code == 404

    account = f"{creds.seller_id}0156"
    archive = zipfile.ZipFile(io.BytesIO(downloaded.content), metadata_encoding="gbk")
    detail_name = f"{account}_20240505_业务明细.csv"
    assert archive.namelist() == [detail_name, f"{account}_20240505_业务明细(汇总).csv"]
    text = archive.read(detail_name).decode("gbk")
    lines = text.split("\r\n")
    assert lines[0] == "#支付宝业务明细查询" and lines[1] == f"#账号：[{account}]"
    assert lines[2].startswith("#起始日期：[2024年05月05日 00:00:00]")
    begin = next(i for i, line in enumerate(lines) if "业务明细列表-" in line)
    end = next(i for i, line in enumerate(lines) if "业务明细列表结束" in line)
    table = list(csv.reader(lines[begin + 1 : end]))
    header, rows = table[0], table[1:]
    assert (
        len(header) == 25 and header[11] == "订单金额（元）" and header[21] == "退款批次号/请求号"
    )
    assert all(len(row) == 25 for row in rows)
    assert all(row[0].endswith("\t") and row[1].endswith("\t") for row in rows)
    cells = [[cell.strip() for cell in row] for row in rows]
    assert [(c[1], c[2], c[11], c[12], c[21], c[22]) for c in cells] == [
        ("B1", "交易", "100.00", "100.00", "", "-0.60"),
        ("B2", "交易", "0.99", "0.99", "", "-0.01"),
        ("B2", "退款", "-0.50", "-0.50", "BR1", "0.00"),
    ]
    assert cells[0][3] == "大额, 商品" and cells[1][3] == "小额?" and cells[0][6] == "S01"
    totals = lines[end + 1 : end + 4]
    assert totals[0] == "#交易合计：2笔，商家实收共100.99元，商家优惠共0.00元"
    assert totals[1] == "#退款合计：1笔，商家实收退款共-0.50元，商家优惠退款共0.00元"
    assert totals[2].startswith("#导出时间：[")

    summary = archive.read(f"{account}_20240505_业务明细(汇总).csv").decode("gbk").split("\r\n")
    total_row = next(row for row in csv.reader(summary) if row and row[0] == "合计")
    assert total_row[2:6] == ["2", "1", "100.49", "100.49"]
    assert (total_row[9], total_row[11]) == ("-0.61", "99.88")

# ruff: noqa: RUF001 - messages in the gateway's own Chinese, full-width punctuation
"""The gateway's refusals, each with the respCode of UnionPay's response-code appendix
(《平台接入接口规范-第5部分-附录》, as the acp SDK demos list it).

Every refusal of a server-to-server call is answered HTTP 200 with a signed ``respCode`` /
``respMsg`` answer; a refused consume form is an HTML page for the payer's browser.

    GatewayError
    ├── FormatError          10  报文格式错误 (a field has the wrong form)
    ├── BadSignature         11  验证签名失败 (unknown certId, or the signature does not verify)
    ├── Duplicate            12  重复交易 (an orderId used again that day)
    ├── MissingField         13  报文交易要素缺失
    ├── Busy                 06  系统繁忙 (the ``fail_next_n`` fault; transient)
    ├── NoPermission         32  无此交易权限 (a transaction type the simulator does not serve)
    ├── AmountExceeded       33  交易金额超限 (refunds over what is left)
    ├── NotFound             34  查无此交易
    ├── OriginalNotFound     35  原交易不存在或状态不正确
    ├── PayTimeout           39  交易不在受理时间范围内 (the order's payTimeout has passed)
    └── FileNotFound         98  文件不存在
"""

from __future__ import annotations


class GatewayError(Exception):
    resp_code = "99"
    resp_msg = "通用错误"

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        message = f"{self.resp_msg}[{detail}]" if detail else self.resp_msg
        super().__init__(f"{self.resp_code} {message}")
        self.message = message


class FormatError(GatewayError):
    resp_code = "10"
    resp_msg = "报文格式错误"


class BadSignature(GatewayError):
    resp_code = "11"
    resp_msg = "验证签名失败"


class Duplicate(GatewayError):
    resp_code = "12"
    resp_msg = "重复交易"


class MissingField(GatewayError):
    resp_code = "13"
    resp_msg = "报文交易要素缺失"


class Busy(GatewayError):
    resp_code = "06"
    resp_msg = "系统繁忙，请稍后再试"


class NoPermission(GatewayError):
    resp_code = "32"
    resp_msg = "无此交易权限"


class AmountExceeded(GatewayError):
    resp_code = "33"
    resp_msg = "交易金额超限"


class NotFound(GatewayError):
    resp_code = "34"
    resp_msg = "查无此交易"


class OriginalNotFound(GatewayError):
    resp_code = "35"
    resp_msg = "原交易不存在或状态不正确"


class PayTimeout(GatewayError):
    resp_code = "39"
    resp_msg = "交易不在受理时间范围内"


class FileNotFound(GatewayError):
    resp_code = "98"
    resp_msg = "文件不存在"

# ruff: noqa: RUF001 - messages in the gateway's own Chinese, full-width punctuation
"""The gateway's failures, each with the public code and sub_code the real gateway answers.

Every failure is answered with HTTP 200 and a signed ``<method>_response`` object
``{"code", "msg", "sub_code", "sub_msg", ...}`` (CHANNELS.md: business failures are signed
too). Public codes: 20000 the service failed (retry), 40001 a common parameter is missing,
40002 a common parameter is invalid (including the signature), 40004 the business rule
refused. Sub-codes follow the gateway's documentation and Alipay's own write-up of refunds:
without ``out_request_no`` only a full refund is accepted (ACQ.REFUND_AMT_NOT_EQUAL_TOTAL);
with one, more than the refundable remainder is ACQ.REASON_TRADE_REFUND_FEE_ERR.

    GatewayError
    ├── MissingArgument        40001  isv.missing-<param>
    ├── InvalidArgument        40002  isv.invalid-<what>, isv.invalid-signature
    ├── ServiceUnavailable     20000  ACQ.SYSTEM_ERROR (transient)
    └── BusinessFailed         40004  ACQ.TRADE_NOT_EXIST, ACQ.TRADE_HAS_CLOSE, ...
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    """A failure the gateway answers; ``extra`` fields are sent beside the codes."""

    code = "40004"
    msg = "Business Failed"
    sub_code = "ACQ.SYSTEM_ERROR"
    sub_msg = ""
    transient = False

    def __init__(self, sub_msg: str | None = None, *, sub_code: str | None = None) -> None:
        if sub_code is not None:
            self.sub_code = sub_code
        if sub_msg is not None:
            self.sub_msg = sub_msg
        super().__init__(f"{self.code} {self.sub_code}: {self.sub_msg}")
        self.extra: dict[str, Any] = {}

    def body(self) -> dict[str, Any]:
        """The inner response object."""
        return {
            "code": self.code,
            "msg": self.msg,
            "sub_code": self.sub_code,
            "sub_msg": self.sub_msg,
            **self.extra,
        }


class MissingArgument(GatewayError):
    code = "40001"
    msg = "Missing Required Arguments"

    def __init__(self, param: str) -> None:
        super().__init__(f"缺少必选参数 {param}", sub_code=f"isv.missing-{param}")


class InvalidArgument(GatewayError):
    code = "40002"
    msg = "Invalid Arguments"

    def __init__(self, what: str, sub_msg: str) -> None:
        super().__init__(sub_msg, sub_code=f"isv.invalid-{what}")


class InvalidSignature(InvalidArgument):
    def __init__(self) -> None:
        super().__init__("signature", "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配")


class ServiceUnavailable(GatewayError):
    code = "20000"
    msg = "Service Currently Unavailable"
    sub_code = "ACQ.SYSTEM_ERROR"
    sub_msg = "系统错误"
    transient = True


class BusinessFailed(GatewayError):
    code = "40004"
    msg = "Business Failed"


class InvalidParameter(BusinessFailed):
    sub_code = "ACQ.INVALID_PARAMETER"
    sub_msg = "参数无效"


class TradeNotExist(BusinessFailed):
    sub_code = "ACQ.TRADE_NOT_EXIST"
    sub_msg = "交易不存在"


class TradeHasSuccess(BusinessFailed):
    sub_code = "ACQ.TRADE_HAS_SUCCESS"
    sub_msg = "交易已被支付"


class TradeHasClose(BusinessFailed):
    sub_code = "ACQ.TRADE_HAS_CLOSE"
    sub_msg = "交易已经关闭"


class TradeHasFinished(BusinessFailed):
    sub_code = "ACQ.TRADE_HAS_FINISHED"
    sub_msg = "交易已完结"


class TradeStatusError(BusinessFailed):
    sub_code = "ACQ.TRADE_STATUS_ERROR"
    sub_msg = "交易状态不合法"


class ContextInconsistent(BusinessFailed):
    sub_code = "ACQ.CONTEXT_INCONSISTENT"
    sub_msg = "交易信息被篡改"


class RefundAmountNotEqualTotal(BusinessFailed):
    sub_code = "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"
    sub_msg = "撤销或退款金额与订单金额不一致"


class RefundFeeError(BusinessFailed):
    sub_code = "ACQ.REASON_TRADE_REFUND_FEE_ERR"
    sub_msg = "退款金额无效"


class BillNotExist(BusinessFailed):
    sub_code = "isp.bill_not_exist"
    sub_msg = "账单不存在"

"""Refusals of the simulated QQ Wallet API, answered as QQ Wallet answers them.

QQ Wallet has two levels of failure, both in an XML answer with HTTP 200:

- ``return_code`` FAIL with ``return_msg``: the request was not understood or not authentic
  (malformed XML, unknown merchant, a sign that does not verify). Such an answer is **not
  signed**: the caller has not shown it knows the key.
- ``result_code`` FAIL with ``err_code`` and ``err_code_des``: the request was authentic and
  the business call refused. The answer is signed like a success.

Each is a :class:`QPayError` (a :class:`~paydesk.core.errors.PaydeskError`)::

    QPayError
    ├── CommunicationFailure   return_code FAIL (unsigned)
    │   ├── XmlFormatError         XML_FORMAT_ERROR  not flat XML, a DTD, too large
    │   ├── MerchantUnknown        MCHID_NOT_EXIST   no such mch_id here
    │   ├── SignError              SIGNERROR         the sign is missing or wrong
    │   └── NoBill                 No Bill Exist     no statement for that day
    └── BusinessFailure        result_code FAIL (signed)
        ├── LackParams             LACK_PARAMS       a required field is missing
        ├── ParamError             PARAM_ERROR       a field is malformed or wrong
        ├── OutTradeNoUsed         OUT_TRADE_NO_USED the number exists with other content
        ├── OrderPaid              ORDERPAID
        ├── OrderClosed            ORDERCLOSED
        ├── OrderNotExist          ORDERNOTEXIST
        ├── TradeStateError        TRADE_STATE_ERROR only paid orders refund
        ├── RefundNotExist         REFUNDNOTEXIST
        └── SystemFailure          SYSTEMERROR       transient (``fail_next_n`` makes these)

The stored QQ Wallet pages were cut before their error tables: the codes are WeChat Pay v2's
names for the same refusals (QQ Wallet's merchant API mirrors v2), ORDERNOTEXIST among them.
"""

from __future__ import annotations

from paydesk.core.errors import PaydeskError


class QPayError(PaydeskError):
    """A refusal answered in QQ Wallet's XML shape."""

    code = "PARAM_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class CommunicationFailure(QPayError):
    """``return_code`` FAIL: answered unsigned."""

    def fields(self) -> dict[str, str]:
        return {"return_code": "FAIL", "return_msg": f"{self.code}: {self.message}"}


class XmlFormatError(CommunicationFailure):
    code = "XML_FORMAT_ERROR"


class MerchantUnknown(CommunicationFailure):
    code = "MCHID_NOT_EXIST"


class SignError(CommunicationFailure):
    code = "SIGNERROR"


class NoBill(CommunicationFailure):
    code = "No Bill Exist"

    def fields(self) -> dict[str, str]:
        return {"return_code": "FAIL", "return_msg": self.code}


class BusinessFailure(QPayError):
    """``result_code`` FAIL: answered signed once the caller is authenticated."""

    def fields(self) -> dict[str, str]:
        return {"result_code": "FAIL", "err_code": self.code, "err_code_des": self.message}


class LackParams(BusinessFailure):
    code = "LACK_PARAMS"


class ParamError(BusinessFailure):
    code = "PARAM_ERROR"


class OutTradeNoUsed(BusinessFailure):
    code = "OUT_TRADE_NO_USED"


class OrderPaid(BusinessFailure):
    code = "ORDERPAID"


class OrderClosed(BusinessFailure):
    code = "ORDERCLOSED"


class OrderNotExist(BusinessFailure):
    code = "ORDERNOTEXIST"


class TradeStateError(BusinessFailure):
    code = "TRADE_STATE_ERROR"


class RefundNotExist(BusinessFailure):
    code = "REFUNDNOTEXIST"


class SystemFailure(BusinessFailure):
    code = "SYSTEMERROR"
    transient = True

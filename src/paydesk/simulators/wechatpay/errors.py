"""Errors of the simulated WeChat Pay API, answered as v3 answers them.

WeChat Pay v3 reports a failure with an HTTP status and a body ``{"code": ..., "message": ...}``
(``code`` is a stable upper-case name, ``message`` is for people). Each error here is a
:class:`WeChatPayError` (a :class:`~paydesk.core.errors.PaydeskError`, so the one Paydesk error
base holds) carrying WeChat's code and status::

    WeChatPayError
    ├── ParamError          400 PARAM_ERROR          a field is missing or malformed
    ├── InvalidRequest      400 INVALID_REQUEST      well-formed, but the rules forbid it
    ├── OrderPaid           400 ORDERPAID            the order is paid already
    ├── OrderClosed         400 ORDER_CLOSED         the order is closed
    ├── NoStatement         400 NO_STATEMENT_EXIST   no bill for that day
    ├── SignError           401 SIGN_ERROR           the request signature does not hold
    ├── OrderNotExist       404 ORDER_NOT_EXIST      no such order for this merchant
    ├── ResourceNotExists   404 RESOURCE_NOT_EXISTS  no such refund or bill
    └── SystemFailure       500 SYSTEM_ERROR         transient (``fail_next_n`` makes these)
"""

from __future__ import annotations

from paydesk.core.errors import PaydeskError


class WeChatPayError(PaydeskError):
    """A failure answered in WeChat Pay v3 shape."""

    status = 400
    code = "INVALID_REQUEST"

    def __init__(self, message: str) -> None:
        super().__init__(message)

    def answer(self) -> dict[str, str]:
        """The v3 error body."""
        return {"code": self.code, "message": self.message}


class ParamError(WeChatPayError):
    code = "PARAM_ERROR"


class InvalidRequest(WeChatPayError):
    code = "INVALID_REQUEST"


class OrderPaid(WeChatPayError):
    code = "ORDERPAID"


class OrderClosed(WeChatPayError):
    code = "ORDER_CLOSED"


class NoStatement(WeChatPayError):
    code = "NO_STATEMENT_EXIST"


class SignError(WeChatPayError):
    status, code = 401, "SIGN_ERROR"


class OrderNotExist(WeChatPayError):
    status, code = 404, "ORDER_NOT_EXIST"


class ResourceNotExists(WeChatPayError):
    status, code = 404, "RESOURCE_NOT_EXISTS"


class SystemFailure(WeChatPayError):
    status, code = 500, "SYSTEM_ERROR"
    transient = True

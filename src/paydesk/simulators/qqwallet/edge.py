"""The HTTP edge of the merchant API: who is calling (the request's ``sign``), how to answer
(signed XML), and the faults that act on calls and answers.

Every ``/cgi-bin`` call is checked in this order, the first failure answering: the body is at
most 64 KiB of flat XML without DTD or entities (``return_code`` FAIL
``XML_FORMAT_ERROR``); ``mch_id`` is a merchant of this platform (FAIL ``MCHID_NOT_EXIST``);
``sign_type`` is absent (MD5), ``MD5`` or ``HMAC-SHA256`` and the ``sign`` holds under the
merchant's API key (FAIL ``SIGNERROR``). These answers are unsigned. From here on the caller
is authenticated and every answer is signed with its key and algorithm (echoing
``sign_type`` when it was sent): ``nonce_str`` must be present (``LACK_PARAMS``), an
``appid`` must be the merchant's (``PARAM_ERROR``); then the ``fail_next_n`` fault may answer
``SYSTEMERROR``.

Answers to authenticated calls carry ``return_code`` SUCCESS, ``return_msg`` OK, ``mch_id``,
``appid`` (when the request named one), a fresh ``nonce_str``, ``result_code`` and the call's
fields, then ``sign``. The ``timeout_next_n``, ``delay_s`` and ``forge_answer`` faults act
here, after the call's work is done.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass

from fastapi import Request, Response

from paydesk.simulators.qqwallet import wire
from paydesk.simulators.qqwallet.config import MerchantConfig
from paydesk.simulators.qqwallet.errors import (
    BusinessFailure,
    CommunicationFailure,
    LackParams,
    MerchantUnknown,
    ParamError,
    QPayError,
    SignError,
    SystemFailure,
    XmlFormatError,
)
from paydesk.simulators.qqwallet.service import Simulator

XML_MEDIA_TYPE = "text/xml; charset=utf-8"
HOLD_POLL_S = 0.05


@dataclass(frozen=True)
class Caller:
    """An authenticated request: the merchant that signed it, and how."""

    merchant: MerchantConfig
    fields: dict[str, str]
    sign_type: str
    sign_type_named: bool
    """The request carried ``sign_type`` (answers then name it too)."""

    @property
    def mch_id(self) -> str:
        return self.merchant.mch_id


def simulator_of(request: Request) -> Simulator:
    simulator = request.app.state.simulator
    assert isinstance(simulator, Simulator)
    return simulator


def base_url(request: Request) -> str:
    """Where payers reach this simulator: the configured URL, or the request's origin plus
    the prefix the simulator is mounted under."""
    configured = simulator_of(request).config.public_base_url
    if configured:
        return configured.rstrip("/")
    root_path = request.scope.get("root_path", "")
    return f"{request.url.scheme}://{request.url.netloc}{root_path}"


async def _body(request: Request) -> bytes:
    length = request.headers.get("content-length", "0")
    if not length.isdigit() or int(length) > wire.BODY_BYTES_MAX:
        raise XmlFormatError(f"the body must be at most {wire.BODY_BYTES_MAX} bytes")
    return await request.body()


async def authenticate(request: Request) -> Caller:
    """Check the request's ``sign`` (and fail the call on purpose under ``fail_next_n``)."""
    simulator = simulator_of(request)
    fields = wire.from_xml(await _body(request))
    merchant = simulator.config.merchants.get(fields.get("mch_id", ""))
    if merchant is None:
        raise MerchantUnknown("商户号不存在 (mch_id is not a merchant of this platform)")
    named = fields.get("sign_type", "")
    sign_type = named or wire.MD5
    if sign_type not in wire.SIGN_TYPES:
        raise SignError(f"sign_type must be one of {', '.join(wire.SIGN_TYPES)}")
    if not wire.sign_holds(fields, merchant.api_key, sign_type):
        raise SignError("签名失败 (the sign is missing or does not verify)")
    caller = Caller(merchant, fields, sign_type, bool(named))
    request.state.caller = caller
    wire.required(fields, "nonce_str", 32)
    appid = fields.get("appid")
    if appid and merchant.appid is not None and appid != merchant.appid:
        raise ParamError("appid和mch_id不匹配 (appid is not the merchant's)")
    if simulator.faults.take(merchant.mch_id, "fail_next_n"):
        raise SystemFailure("系统错误 (an injected failure: fail_next_n)")
    return caller


def _answer(request: Request, caller: Caller, fields: dict[str, str]) -> Response:
    common = {"return_code": "SUCCESS", "return_msg": "OK", "mch_id": caller.mch_id}
    if caller.fields.get("appid"):
        common["appid"] = caller.fields["appid"]
    common["nonce_str"] = secrets.token_hex(16)
    if caller.sign_type_named:
        common["sign_type"] = caller.sign_type
    forge = simulator_of(request).faults.take(caller.mch_id, "forge_answer")
    body = wire.to_xml(
        wire.signed({**common, **fields}, caller.merchant.api_key, caller.sign_type, forge=forge)
    )
    return Response(body, media_type=XML_MEDIA_TYPE)


async def hold_back(request: Request, caller: Caller) -> None:
    """The answer-time faults: hold until the caller hangs up (``timeout_next_n``), then wait
    ``delay_s``."""
    simulator = simulator_of(request)
    if simulator.faults.take(caller.mch_id, "timeout_next_n"):
        deadline = time.monotonic() + simulator.config.hold_s_max
        while time.monotonic() < deadline and not await request.is_disconnected():
            await asyncio.sleep(HOLD_POLL_S)
    delay_s = simulator.faults.duration_s(caller.mch_id, "delay_s")
    if delay_s > 0:
        await asyncio.sleep(delay_s)


async def respond(request: Request, caller: Caller, fields: dict[str, str]) -> Response:
    """The signed success answer to an authenticated call, after the answer-time faults."""
    await hold_back(request, caller)
    return _answer(request, caller, {"result_code": "SUCCESS", **fields})


async def qpay_error_handler(request: Request, exc: Exception) -> Response:
    """A :class:`QPayError` as QQ Wallet answers it: a business refusal to an authenticated
    caller signed, anything else unsigned ``return_code`` FAIL."""
    assert isinstance(exc, QPayError)
    caller = getattr(request.state, "caller", None)
    if isinstance(exc, BusinessFailure) and isinstance(caller, Caller):
        return _answer(request, caller, exc.fields())
    if isinstance(exc, CommunicationFailure):
        fields = exc.fields()
    else:
        fields = {"return_code": "FAIL", "return_msg": f"{exc.code}: {exc.message}"}
    return Response(wire.to_xml(fields), media_type=XML_MEDIA_TYPE)


def required_param(fields: dict[str, str], *names: str) -> str:
    """The first of ``names`` that is present (QQ Wallet's "one of" parameters)."""
    for name in names:
        if fields.get(name, "").strip():
            return name
    raise LackParams(f"one of {', '.join(names)} is required")

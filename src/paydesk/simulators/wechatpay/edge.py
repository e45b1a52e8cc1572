"""The HTTP edge of the v3 API: who is calling (request signatures), how to answer (signed).

Every ``/v3`` call is checked in this order, the first failure answering: the
``Authorization`` header parses (401 ``SIGN_ERROR``); its ``mchid`` is a known merchant and
``serial_no`` that merchant's certificate serial (401); ``timestamp`` is within
``timestamp_tolerance_s`` (five minutes) of the platform clock (401); the signature holds over
``METHOD\\nTARGET\\nTIMESTAMP\\nNONCE\\nBODY\\n`` (401); a ``Wechatpay-Serial`` header, when sent,
names the platform public key (400). Then the ``fail_next_n`` fault may answer 500
``SYSTEM_ERROR``.

The target is the path the client addressed (without the prefix the simulator is mounted
under) with its raw query string; the path as received and the percent-decoded path are tried
as well, so a client that signs the decoded form of a non-ASCII order number still verifies.

Answers (2xx and errors alike, once the caller is authenticated) are signed with the
platform key; a 401 is not, as WeChat leaves it unsigned. The ``delay_s`` fault holds an answer
back after its work is done.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from paydesk.simulators.wechatpay.errors import (
    InvalidRequest,
    ParamError,
    SignError,
    SystemFailure,
    WeChatPayError,
)
from paydesk.simulators.wechatpay.service import Simulator
from paydesk.simulators.wechatpay.signing import (
    AuthorizationMalformed,
    parse_authorization,
    signature_headers,
    verify_request,
)

BODY_BYTES_MAX = 64 * 1024


@dataclass(frozen=True)
class Caller:
    """An authenticated request: the merchant that signed it and the body it signed."""

    mchid: str
    body: bytes


def simulator_of(request: Request) -> Simulator:
    simulator = request.app.state.simulator
    assert isinstance(simulator, Simulator)
    return simulator


def base_url(request: Request) -> str:
    """Where this simulator is reached: the configured public URL, or the request's origin
    plus the prefix the simulator is mounted under."""
    configured = simulator_of(request).config.public_base_url
    if configured:
        return configured.rstrip("/")
    root_path = request.scope.get("root_path", "")
    return f"{request.url.scheme}://{request.url.netloc}{root_path}"


def request_targets(request: Request) -> list[str]:
    """The ways the request target may have been written when it was signed."""
    scope = request.scope
    raw_path = scope.get("raw_path") or scope["path"].encode()
    path = raw_path.decode("latin-1")
    root_path = scope.get("root_path", "")
    own_path = path.removeprefix(root_path) if root_path else path
    query = scope.get("query_string", b"").decode("latin-1")
    candidates: list[str] = []
    for each_path, each_query in ((own_path, query), (path, query)):
        candidates.append(each_path + (f"?{each_query}" if each_query else ""))
    decoded_query = unquote(query)
    candidates.append(unquote(own_path) + (f"?{decoded_query}" if decoded_query else ""))
    return list(dict.fromkeys(candidates))


async def authenticate(request: Request) -> Caller:
    """Check the request signature (and fail it on purpose under ``fail_next_n``)."""
    simulator = simulator_of(request)
    config = simulator.config
    try:
        authorization = parse_authorization(request.headers.get("authorization"))
    except AuthorizationMalformed as exc:
        raise SignError(str(exc)) from None
    merchant = config.merchants.get(authorization.mchid)
    if merchant is None:
        raise SignError(f"mchid {authorization.mchid} is not a merchant of this platform")
    if authorization.serial_no.upper() != merchant.cert_serial_no.upper():
        raise SignError("serial_no is not the serial of the merchant's API certificate")
    try:
        timestamp = int(authorization.timestamp)
    except ValueError:
        raise SignError("timestamp must be whole seconds since the epoch") from None
    if abs(config.clock() - timestamp) > config.timestamp_tolerance_s:
        raise SignError("timestamp is more than five minutes away from the platform's clock")
    length = request.headers.get("content-length", "0")
    if not length.isdigit() or int(length) > BODY_BYTES_MAX:
        raise ParamError(f"the body must be at most {BODY_BYTES_MAX} bytes")
    body = await request.body()
    if len(body) > BODY_BYTES_MAX:
        raise ParamError(f"the body must be at most {BODY_BYTES_MAX} bytes")
    public_key = simulator.merchant_keys[merchant.mchid]
    if not verify_request(
        public_key, authorization, request.method, request_targets(request), body
    ):
        raise SignError("签名错误 (the request signature does not verify)")
    caller = Caller(merchant.mchid, body)
    request.state.caller = caller
    platform_serial = request.headers.get("wechatpay-serial")
    if platform_serial is not None and platform_serial != config.public_key_id:
        raise InvalidRequest("Wechatpay-Serial is not the platform public key id")
    if simulator.faults.take(caller.mchid, "fail_next_n"):
        raise SystemFailure("系统错误 (an injected failure: fail_next_n)")
    return caller


def _encode(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def signed(simulator: Simulator, status: int, payload: Any | None) -> Response:
    """A response signed with the platform key; ``None`` is an empty body (e.g. 204)."""
    body = b"" if payload is None else _encode(payload)
    headers = signature_headers(
        simulator.private_key, simulator.config.public_key_id, int(simulator.config.clock()), body
    )
    if payload is None:
        return Response(status_code=status, headers=headers)
    return Response(body, status_code=status, headers=headers, media_type="application/json")


async def hold_back(request: Request, caller: Caller) -> None:
    """Wait out the ``delay_s`` fault in force for the caller."""
    delay_s = simulator_of(request).faults.duration_s(caller.mchid, "delay_s")
    if delay_s > 0:
        await asyncio.sleep(delay_s)


async def respond(request: Request, caller: Caller, status: int, payload: Any | None) -> Response:
    """The signed answer to an authenticated call, held back by the ``delay_s`` fault."""
    await hold_back(request, caller)
    return signed(simulator_of(request), status, payload)


async def wechatpay_error_handler(request: Request, exc: Exception) -> Response:
    """A :class:`WeChatPayError` as its v3 body; signed once the caller is authenticated."""
    assert isinstance(exc, WeChatPayError)
    if getattr(request.state, "caller", None) is not None and exc.status != 401:
        return signed(simulator_of(request), exc.status, exc.answer())
    return JSONResponse(exc.answer(), status_code=exc.status)

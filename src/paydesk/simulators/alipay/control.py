"""Routes that are not Alipay's: the bill download and the simulator's control API.

- ``GET /bill/download?token=...&downloadFileName=...``: the ZIP a ``bill_download_url``
  points at, while the URL is valid (404 afterwards, as an expired real URL fails).
- ``POST /simulator/pay {"out_trade_no", "app_id"?}``: the buyer pays (as the Pay button);
  404 ``trade_not_exist``, 409 ``trade_has_close`` / ``trade_has_success``.
- ``POST /simulator/finish {"out_trade_no", "app_id"?}``: the refund window ends
  (TRADE_FINISHED).
- ``GET /simulator/faults``; ``POST /simulator/faults {"app_id"?, fault fields}`` puts a plan
  in force (replacing the previous one of that scope); ``DELETE /simulator/faults[?app_id=]``.
- ``GET /simulator/notifications``: the delivery log (attempts and outcomes).

Errors here are ``{"code", "message"}`` with an HTTP status.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from paydesk.simulators.alipay import errors, faults
from paydesk.simulators.alipay.faults import FaultPlan
from paydesk.simulators.alipay.simulator import AlipaySimulator


class TradeRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    out_trade_no: str = Field(min_length=1, max_length=64)
    app_id: str | None = Field(default=None, max_length=32)


class FaultPlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    app_id: str | None = Field(default=None, max_length=32)
    fail_next_n: int = Field(default=0, ge=0, le=faults.FAIL_NEXT_N_MAX)
    delay_s: float = Field(default=0.0, ge=0, le=faults.DELAY_S_MAX)
    drop_notifications: bool = False
    duplicate_notifications: bool = False
    reorder: bool = False
    forge_notification: bool = False
    refund_delay_s: float = Field(default=0.0, ge=0, le=faults.REFUND_DELAY_S_MAX)


def _refusal(error: errors.GatewayError) -> JSONResponse:
    status = 404 if isinstance(error, errors.TradeNotExist) else 409
    code = error.sub_code.removeprefix("ACQ.").lower()
    return JSONResponse({"code": code, "message": error.sub_msg}, status_code=status)


def router(sim: AlipaySimulator) -> APIRouter:
    """The bill download and ``/simulator/*`` routes."""
    routes = APIRouter()

    @routes.get("/bill/download")
    def download_bill(token: str = "") -> Response:
        issued = sim.bill(token)
        if issued is None:
            return PlainTextResponse("bill not found or download URL expired", status_code=404)
        disposition = f"attachment; filename*=UTF-8''{quote(issued.file_name)}"
        return Response(
            issued.data,
            media_type="application/zip",
            headers={"Content-Disposition": disposition},
        )

    @routes.post("/simulator/pay", response_model=None)
    def pay(ref: TradeRef) -> dict[str, Any] | JSONResponse:
        try:
            trade = sim.pay(ref.out_trade_no, ref.app_id)
        except errors.GatewayError as refused:
            return _refusal(refused)
        return {
            "app_id": trade.app_id,
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "trade_status": str(trade.status),
        }

    @routes.post("/simulator/finish", response_model=None)
    def finish(ref: TradeRef) -> dict[str, Any] | JSONResponse:
        try:
            sim.finish(ref.out_trade_no, ref.app_id)
        except errors.GatewayError as refused:
            return _refusal(refused)
        return {"out_trade_no": ref.out_trade_no, "trade_status": "TRADE_FINISHED"}

    @routes.get("/simulator/faults")
    def show_faults() -> dict[str, Any]:
        return sim.faults.to_dict()

    @routes.post("/simulator/faults")
    def set_faults(plan: FaultPlanIn) -> dict[str, Any]:
        fields = plan.model_dump(exclude={"app_id"})
        sim.set_faults(FaultPlan(**fields), plan.app_id)
        return sim.faults.to_dict()

    @routes.delete("/simulator/faults")
    def clear_faults(app_id: str | None = None) -> dict[str, Any]:
        sim.clear_faults(app_id)
        return sim.faults.to_dict()

    @routes.get("/simulator/notifications")
    def notifications() -> list[dict[str, Any]]:
        return sim.notifier.deliveries()

    return routes

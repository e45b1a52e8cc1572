"""The simulator's control API (not UnionPay's): pay or fail a payment, inject faults, read
the notification log. Errors are ``{"code", "message"}`` with an HTTP status.

- ``POST /simulator/trades/{orderId}/pay`` ``{"mer_id"?, "txn_time"?}``: the payer pays (as the
  Pay button; the payment must have been posted to ``frontTransReq.do``); 404 ``not_found``,
  409 ``not_payable`` (paid, failed, or past its payTimeout).
- ``POST /simulator/trades/{orderId}/fail`` ``{"mer_id"?, "txn_time"?, "resp_code"?,
  "resp_msg"?}``: the issuer declines (default respCode 30); queries then report it.
- ``GET /simulator/trades/{orderId}``: the payment's state.
- ``GET /simulator/faults``; ``POST /simulator/faults {"mer_id"?, fault fields}`` puts a plan in
  force (replacing the previous one of that scope); ``DELETE /simulator/faults[?mer_id=]``.
- ``GET /simulator/notifications``: the delivery log (attempts and outcomes).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from paydesk.simulators.unionpay import errors, faults
from paydesk.simulators.unionpay.faults import FaultPlan
from paydesk.simulators.unionpay.simulator import DECLINED, UnionPaySimulator
from paydesk.simulators.unionpay.trades import Trade


class TradeRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mer_id: str | None = Field(default=None, max_length=15)
    txn_time: str | None = Field(default=None, pattern=r"^[0-9]{14}$")


class Failure(TradeRef):
    resp_code: str = Field(default=DECLINED[0], pattern=r"^[0-9A-Z]{2}$")
    resp_msg: str = Field(default=DECLINED[1], max_length=200)


class FaultPlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mer_id: str | None = Field(default=None, max_length=15)
    fail_next_n: int = Field(default=0, ge=0, le=faults.COUNT_MAX)
    fail_status: int = 200
    delay_s: float = Field(default=0.0, ge=0, le=faults.DELAY_S_MAX)
    timeout_next_n: int = Field(default=0, ge=0, le=faults.COUNT_MAX)
    corrupt_signature: bool = False
    drop_notifications: bool = False
    duplicate_notifications: bool = False
    reorder: bool = False
    forge_notification: bool = False


def _state(trade: Trade) -> dict[str, Any]:
    return {
        "mer_id": trade.mer_id,
        "order_id": trade.order_id,
        "txn_time": trade.txn_time,
        "txn_amt": trade.amount_fen,
        "status": str(trade.status),
        "query_id": trade.query_id,
        "resp_code": trade.resp_code,
        "refunded_fen": trade.refunded_fen,
    }


def _refusal(error: errors.GatewayError) -> JSONResponse:
    if isinstance(error, errors.NotFound):
        return JSONResponse({"code": "not_found", "message": error.message}, status_code=404)
    return JSONResponse({"code": "not_payable", "message": error.message}, status_code=409)


def router(sim: UnionPaySimulator) -> APIRouter:
    routes = APIRouter()

    @routes.post("/simulator/trades/{order_id}/pay", response_model=None)
    def pay(order_id: str, ref: TradeRef | None = None) -> dict[str, Any] | JSONResponse:
        ref = ref or TradeRef()
        try:
            trade = sim.pay(order_id, ref.mer_id, ref.txn_time)
        except errors.GatewayError as refused:
            return _refusal(refused)
        return _state(trade)

    @routes.post("/simulator/trades/{order_id}/fail", response_model=None)
    def fail(order_id: str, failure: Failure | None = None) -> dict[str, Any] | JSONResponse:
        failure = failure or Failure()
        try:
            trade = sim.fail(
                order_id, failure.mer_id, failure.txn_time, failure.resp_code, failure.resp_msg
            )
        except errors.GatewayError as refused:
            return _refusal(refused)
        return _state(trade)

    @routes.get("/simulator/trades/{order_id}", response_model=None)
    def show(
        order_id: str, mer_id: str | None = None, txn_time: str | None = None
    ) -> dict[str, Any] | JSONResponse:
        try:
            return _state(sim.store.locate(order_id, mer_id, txn_time))
        except errors.GatewayError as refused:
            return _refusal(refused)

    @routes.get("/simulator/faults")
    def show_faults() -> dict[str, Any]:
        return sim.faults.to_dict()

    @routes.post("/simulator/faults", response_model=None)
    def set_faults(plan: FaultPlanIn) -> dict[str, Any] | JSONResponse:
        try:
            fault_plan = FaultPlan(**plan.model_dump(exclude={"mer_id"}))
        except ValueError as error:
            return JSONResponse({"code": "invalid", "message": str(error)}, status_code=422)
        sim.set_faults(fault_plan, plan.mer_id)
        return sim.faults.to_dict()

    @routes.delete("/simulator/faults")
    def clear_faults(mer_id: str | None = None) -> dict[str, Any]:
        sim.clear_faults(mer_id)
        return sim.faults.to_dict()

    @routes.get("/simulator/notifications")
    def notifications() -> list[dict[str, Any]]:
        return sim.notifier.deliveries()

    return routes

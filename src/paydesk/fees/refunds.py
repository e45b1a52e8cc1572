"""Refund policies: what part of the fee charged on an order a refund gives back.

* ``none``: fees are kept, whatever is refunded.
* ``proportional``: each refund brings the fee returned so far to the fee's share of everything
  refunded so far (``fee x refunded / order``, rounded with the policy's ``rounding``), so
  rounding never accumulates over repeated refunds; the refund that completes the order returns
  exactly what is left of the fee.
* ``full_on_full_refund``: nothing until the order is refunded in full; that refund returns
  what is left of the fee (all of it).

Under every policy a refund returns 0 or more and the total returned never exceeds the fee.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

from pydantic import model_validator

from paydesk.core.errors import InvalidRequest
from paydesk.core.money import AMOUNT_MINOR_MAX, Rounding, apply_rounding
from paydesk.fees.explain import StrictModel, exact_text

REFUNDS_MAX = 1_000


class InvalidRefund(InvalidRequest):
    code = "invalid_refund"


class RefundPolicyKind(StrEnum):
    NONE = "none"
    """Fees are kept."""
    PROPORTIONAL = "proportional"
    """The fee is returned in proportion to the amount refunded."""
    FULL_ON_FULL_REFUND = "full_on_full_refund"
    """The whole fee is returned only when the order is refunded in full."""


class RefundPolicy(StrictModel):
    """An agreement's refund policy; written ``"proportional"`` or as an object."""

    kind: RefundPolicyKind
    rounding: Rounding = Rounding.HALF_UP
    """For ``proportional``: how the fee's share is rounded to minor units."""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"kind": value} if isinstance(value, str) else value


@dataclass(frozen=True, slots=True)
class FeeReturn:
    returned_minor: int
    """Fee given back by this refund, in minor units; 0 or more."""
    returned_total_minor: int
    """Fee given back by this and every earlier refund of the order."""
    fee_left_minor: int
    """Fee still kept after this refund."""
    refunded_total_minor: int
    """Order amount refunded so far, this refund included."""
    fully_refunded: bool
    currency: str
    policy: RefundPolicyKind
    exact: str | None
    """The exact share before rounding (``proportional`` before the last refund), else None."""
    text: str


def _check(value: int, param: str, *, minimum: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRefund(f"{param} is an integer of minor units", param=param)
    if not minimum <= value <= AMOUNT_MINOR_MAX:
        raise InvalidRefund(f"{param} is from {minimum} to {AMOUNT_MINOR_MAX}", param=param)


def return_fee(
    policy: RefundPolicy,
    *,
    fee_minor: int,
    order_amount_minor: int,
    refund_minor: int,
    currency: str,
    refunded_before_minor: int = 0,
    returned_before_minor: int = 0,
) -> FeeReturn:
    """The fee ``refund_minor`` gives back, when ``refunded_before_minor`` of the order was
    already refunded and ``returned_before_minor`` of its ``fee_minor`` already given back."""
    _check(fee_minor, "fee_minor")
    _check(order_amount_minor, "order_amount_minor", minimum=1)
    _check(refund_minor, "refund_minor", minimum=1)
    _check(refunded_before_minor, "refunded_before_minor")
    _check(returned_before_minor, "returned_before_minor")
    if refunded_before_minor + refund_minor > order_amount_minor:
        left = order_amount_minor - refunded_before_minor
        raise InvalidRefund(
            f"refund of {refund_minor} is more than the {left} left of the order",
            param="refund_minor" if left >= 0 else "refunded_before_minor",
        )
    if returned_before_minor > fee_minor:
        raise InvalidRefund(
            f"{returned_before_minor} returned before is more than the fee {fee_minor}",
            param="returned_before_minor",
        )

    refunded = refunded_before_minor + refund_minor
    full = refunded == order_amount_minor
    left = fee_minor - returned_before_minor
    progress = f"{refunded} of {order_amount_minor}"
    exact: str | None = None
    if policy.kind is RefundPolicyKind.NONE:
        returned = 0
        text = f"none: fees are kept; {progress} refunded -> return 0"
    elif full:
        returned = left
        text = (
            f"{policy.kind.value}: fully refunded ({progress}), the fee left: "
            f"{fee_minor} - {returned_before_minor} returned before -> return {returned}"
        )
    elif policy.kind is RefundPolicyKind.FULL_ON_FULL_REFUND:
        returned = 0
        text = f"full_on_full_refund: {progress} refunded, not fully refunded -> return 0"
    else:
        share = Fraction(fee_minor * refunded, order_amount_minor)
        due = min(apply_rounding(share, policy.rounding), fee_minor)
        # Returned before by some other means may be above the share now due: return nothing
        # rather than take back.
        returned = min(max(0, due - returned_before_minor), left)
        exact = exact_text(share)
        text = (
            f"proportional: {progress} refunded so far, {fee_minor} x "
            f"{refunded}/{order_amount_minor} = {exact} -> {due} ({policy.rounding.value}); "
            f"{returned_before_minor} returned before -> return {returned}"
        )
    return FeeReturn(
        returned_minor=returned,
        returned_total_minor=returned_before_minor + returned,
        fee_left_minor=left - returned,
        refunded_total_minor=refunded,
        fully_refunded=full,
        currency=currency,
        policy=policy.kind,
        exact=exact,
        text=text,
    )


def return_fees(
    policy: RefundPolicy,
    *,
    fee_minor: int,
    order_amount_minor: int,
    refunds: Sequence[int],
    currency: str,
) -> tuple[FeeReturn, ...]:
    """Each of ``refunds`` (in the order they happened) with the fee it gives back."""
    if len(refunds) > REFUNDS_MAX:
        raise InvalidRefund(f"at most {REFUNDS_MAX} refunds of one order", param="refunds")
    results: list[FeeReturn] = []
    refunded = returned = 0
    for refund in refunds:
        result = return_fee(
            policy,
            fee_minor=fee_minor,
            order_amount_minor=order_amount_minor,
            refund_minor=refund,
            currency=currency,
            refunded_before_minor=refunded,
            returned_before_minor=returned,
        )
        results.append(result)
        refunded, returned = result.refunded_total_minor, result.returned_total_minor
    return tuple(results)

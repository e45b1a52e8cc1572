"""Billing rule entries and agreements: which entry prices a transaction, under which agreement.

An agreement (with a channel, or with a merchant for merchant fees) is valid from
``valid_from`` (inclusive) to ``valid_to`` (exclusive; none: open-ended). It holds interfaces
(the channel accounts or products it covers), each with billing rule entries::

    {"id": "debit-cross", "priority": 100,
     "when": {"scenario": "collection", "card_type": "debit", "bank_relation": "cross_bank",
              "amount_min": 1, "amount_max": 5000000, "attributes": {"mcc": "5812"}},
     "fee": {"kind": "percentage", "rate_bps": 45, "min_minor": 10}}

An entry matches when every condition it sets holds: a list matches any of its values, the
amount bounds are inclusive, an attribute must be equal in value and type. Of the entries that
match, the lowest ``priority`` wins; then the most specific (most conditions set: each field
counts one, the amount range one, each attribute one); then the smallest entry id, so the
result never depends on the order entries are listed in. No entry matching is an error
(``no_matching_entry``), never a zero fee.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Literal, Self

from pydantic import Field, ValidationError, field_validator, model_validator

from paydesk.core.errors import InvalidRequest
from paydesk.core.money import AMOUNT_MINOR_MAX, CurrencyMismatch
from paydesk.fees.explain import FeeResult, PeriodClose, StrictModel, config_error, plural
from paydesk.fees.fee_calculators import calculate
from paydesk.fees.fee_calculators import close_period as close_model_period
from paydesk.fees.fee_models import FEE_KINDS, FeeModel, GraduatedFee, VolumeFee
from paydesk.fees.refunds import RefundPolicy
from paydesk.fees.remittance_rules import RemittanceRule
from paydesk.fees.transaction import (
    CURRENCY_PATTERN,
    AttributeValue,
    BankRelation,
    CardType,
    FeeTransaction,
)

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
VALUES_MAX = 100
ATTRIBUTE_CONDITIONS_MAX = 20
ENTRIES_MAX = 500
INTERFACES_MAX = 100
CHECKS_IN_MESSAGE_MAX = 10
VALUE_FIELDS = (
    "scenario",
    "business_type",
    "method",
    "card_type",
    "bank_relation",
    "region",
    "currency",
)


_MISSING = object()
"""An attribute the transaction does not have."""


class InvalidAgreement(InvalidRequest):
    code = "invalid_fee_agreement"


class NoValidAgreement(InvalidRequest):
    code = "no_valid_agreement"


class Conditions(StrictModel):
    """Every condition set must hold; none set matches every transaction."""

    scenario: tuple[str, ...] | None = None
    business_type: tuple[str, ...] | None = None
    method: tuple[str, ...] | None = None
    card_type: tuple[CardType, ...] | None = None
    bank_relation: tuple[BankRelation, ...] | None = None
    region: tuple[str, ...] | None = None
    currency: tuple[str, ...] | None = None
    amount_min: int | None = Field(default=None, ge=0, le=AMOUNT_MINOR_MAX)
    amount_max: int | None = Field(default=None, ge=0, le=AMOUNT_MINOR_MAX)
    attributes: dict[str, AttributeValue] = Field(
        default_factory=dict, max_length=ATTRIBUTE_CONDITIONS_MAX
    )

    @field_validator(*VALUE_FIELDS, mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator(*VALUE_FIELDS)
    @classmethod
    def _some(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and not 0 < len(value) <= VALUES_MAX:
            raise ValueError(f"give 1 to {VALUES_MAX} values, or leave the condition out")
        return value

    @model_validator(mode="after")
    def _range(self) -> Self:
        low, high = self.amount_min, self.amount_max
        if low is not None and high is not None and low > high:
            raise ValueError("amount_min: must not be above amount_max")
        return self

    @cached_property
    def specificity(self) -> int:
        fields = sum(getattr(self, name) is not None for name in VALUE_FIELDS)
        ranged = self.amount_min is not None or self.amount_max is not None
        return fields + int(ranged) + len(self.attributes)

    @cached_property
    def _set_conditions(self) -> tuple[tuple[str, frozenset[str]], ...]:
        """The value conditions that are set, as (field, accepted values): what
        :meth:`matches` tests, computed once per entry."""
        return tuple(
            (name, frozenset(wanted))
            for name in VALUE_FIELDS
            if (wanted := getattr(self, name)) is not None
        )

    def matches(self, txn: FeeTransaction) -> bool:
        """Whether ``txn`` meets every condition: :meth:`failures` is empty, without writing
        the reasons (the batch path)."""
        for name, wanted in self._set_conditions:
            if getattr(txn, name) not in wanted:
                return False
        amount = txn.amount_minor
        if self.amount_min is not None and amount < self.amount_min:
            return False
        if self.amount_max is not None and amount > self.amount_max:
            return False
        for key, want in self.attributes.items():
            have = txn.attributes.get(key, _MISSING)
            if have is _MISSING or type(have) is not type(want) or have != want:
                return False
        return True

    def failures(self, txn: FeeTransaction) -> list[str]:
        """Why ``txn`` does not match: one reason per failing condition; empty: it matches."""
        reasons: list[str] = []
        for name in VALUE_FIELDS:
            wanted = getattr(self, name)
            actual = getattr(txn, name)
            if wanted is not None and actual not in wanted:
                shown = "not set" if actual is None else actual
                needs = wanted[0] if len(wanted) == 1 else f"one of {', '.join(wanted)}"
                reasons.append(f"{name} is {shown}, needs {needs}")
        if self.amount_min is not None and txn.amount_minor < self.amount_min:
            reasons.append(f"amount {txn.amount_minor} is below amount_min {self.amount_min}")
        if self.amount_max is not None and txn.amount_minor > self.amount_max:
            reasons.append(f"amount {txn.amount_minor} is above amount_max {self.amount_max}")
        for key, want in self.attributes.items():
            if key not in txn.attributes:
                reasons.append(f"attributes.{key} is not set, needs {want!r}")
                continue
            have = txn.attributes[key]
            # True == 1 in Python; a condition on a flag must not match a count.
            if type(have) is not type(want) or have != want:
                reasons.append(f"attributes.{key} is {have!r}, needs {want!r}")
        return reasons

    def describe(self) -> str:
        parts: list[str] = []
        for name in VALUE_FIELDS:
            wanted = getattr(self, name)
            if wanted is not None:
                shown = wanted[0] if len(wanted) == 1 else f"[{', '.join(wanted)}]"
                parts.append(f"{name}={shown}" if len(wanted) == 1 else f"{name} in {shown}")
        low, high = self.amount_min, self.amount_max
        if low is not None and high is not None:
            parts.append(f"amount in [{low}, {high}]")
        elif low is not None or high is not None:
            parts.append(f"amount >= {low}" if low is not None else f"amount <= {high}")
        parts.extend(f"attributes.{key}={want!r}" for key, want in self.attributes.items())
        return ", ".join(parts) if parts else "any transaction (no conditions)"


class RuleEntry(StrictModel):
    id: str = Field(pattern=ID_PATTERN)
    priority: int = Field(default=100, ge=0, le=1_000_000, description="Lower wins.")
    when: Conditions = Field(default_factory=Conditions)
    fee: FeeModel
    description: str | None = Field(default=None, max_length=200)


@dataclass(frozen=True, slots=True)
class EntryCheck:
    entry_id: str
    matched: bool
    priority: int
    specificity: int
    reason: str
    """``matches scenario=collection, ...`` or every condition that failed."""


@dataclass(frozen=True, slots=True)
class MatchResult:
    entry: RuleEntry
    entries: tuple[RuleEntry, ...]
    txn: FeeTransaction
    reason: str
    """Why the winner won over the next best match."""

    @property
    def checks(self) -> tuple[EntryCheck, ...]:
        """Every entry, in the order given, with why it matched or not (written on demand:
        pricing a batch does not need them)."""
        return _checks(self.entries, self.txn)


def _checks(entries: Sequence[RuleEntry], txn: FeeTransaction) -> tuple[EntryCheck, ...]:
    checks = []
    for entry in entries:
        failures = entry.when.failures(txn)
        reason = "; ".join(failures) if failures else f"matches {entry.when.describe()}"
        checks.append(
            EntryCheck(entry.id, not failures, entry.priority, entry.when.specificity, reason)
        )
    return tuple(checks)


class NoMatchingEntry(InvalidRequest):
    code = "no_matching_entry"

    def __init__(self, txn: FeeTransaction, checks: Sequence[EntryCheck]) -> None:
        listed = "; ".join(f"{c.entry_id}: {c.reason}" for c in checks[:CHECKS_IN_MESSAGE_MAX])
        if len(checks) > CHECKS_IN_MESSAGE_MAX:
            listed += f"; and {len(checks) - CHECKS_IN_MESSAGE_MAX} more"
        super().__init__(
            f"transaction {txn.id} ({txn.scenario}, {txn.amount_minor} {txn.currency}) "
            f"matches no billing rule entry: {listed or 'there are no entries'}",
            param="transaction",
        )
        self.transaction_id = txn.id
        self.checks = tuple(checks)


def rank_key(entry: RuleEntry) -> tuple[int, int, str]:
    """How ``match()`` orders entries: priority, then the most specific, then id."""
    return entry.priority, -entry.when.specificity, entry.id


def _why(ranked: Sequence[RuleEntry]) -> str:
    win = ranked[0]
    priority, specificity = win.priority, win.when.specificity
    if len(ranked) == 1:
        return (
            f"entry {win.id!r} is the only match (priority {priority}, specificity {specificity})"
        )
    other = ranked[1]
    if other.priority != priority:
        return (
            f"entry {win.id!r} wins by priority: {priority} before {other.priority} ({other.id!r})"
        )
    if other.when.specificity != specificity:
        return (
            f"entry {win.id!r} wins by specificity at priority {priority}: "
            f"{plural(specificity, 'condition')} against {other.when.specificity} ({other.id!r})"
        )
    return (
        f"entry {win.id!r} wins by id at priority {priority} and specificity {specificity}: "
        f"{win.id!r} before {other.id!r}"
    )


def match(entries: Sequence[RuleEntry], txn: FeeTransaction) -> MatchResult:
    """The entry that prices ``txn``: lowest priority, then most specific, then smallest id."""
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise InvalidRequest(
                f"entry id {entry.id!r} is used twice", code="duplicate_entry_id", param="entries"
            )
        seen.add(entry.id)
    matched = [entry for entry in entries if entry.when.matches(txn)]
    if not matched:
        raise NoMatchingEntry(txn, _checks(entries, txn))
    ranked = sorted(matched, key=rank_key)
    return MatchResult(ranked[0], tuple(entries), txn, _why(ranked))


# --- agreements -----------------------------------------------------------------------------


class Interface(StrictModel):
    id: str = Field(pattern=ID_PATTERN, description="The channel account or product.")
    description: str | None = Field(default=None, max_length=200)
    entries: list[RuleEntry] = Field(default_factory=list, max_length=ENTRIES_MAX)


class Agreement(StrictModel):
    id: str = Field(pattern=ID_PATTERN)
    party: str = Field(min_length=1, max_length=100, description="The channel or merchant.")
    party_type: Literal["channel", "merchant"]
    currency: str = Field(pattern=CURRENCY_PATTERN.pattern, description="Fees are billed in it.")
    valid_from: datetime = Field(description="Inclusive, with a UTC offset.")
    valid_to: datetime | None = Field(default=None, description="Exclusive; none: open-ended.")
    settlement_terms: str | None = Field(
        default=None, max_length=200, description="As agreed (e.g. 'T+1'); not read here."
    )
    refund_policy: RefundPolicy
    remittance: RemittanceRule | None = Field(
        default=None, description="Channel agreements: who pays the costs, to whom, when."
    )
    interfaces: list[Interface] = Field(min_length=1, max_length=INTERFACES_MAX)

    @field_validator("valid_from", "valid_to")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("needs a UTC offset, e.g. 2026-01-01T00:00:00+08:00")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError("valid_to: must be after valid_from")
        if self.remittance is not None and self.party_type != "channel":
            raise ValueError("remittance: only a channel agreement's costs are remitted")
        interfaces: set[str] = set()
        entries: set[str] = set()
        for i, interface in enumerate(self.interfaces):
            if interface.id in interfaces:
                raise ValueError(f"interfaces.{i}.id: {interface.id!r} is used twice")
            interfaces.add(interface.id)
            for j, entry in enumerate(interface.entries):
                if entry.id in entries:
                    raise ValueError(f"interfaces.{i}.entries.{j}.id: {entry.id!r} is used twice")
                entries.add(entry.id)
        return self

    def is_valid_at(self, at: datetime) -> bool:
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)


def parse_agreement(document: Mapping[str, Any]) -> Agreement:
    """Check an agreement document; :class:`InvalidAgreement` names the field at fault."""
    try:
        return Agreement.model_validate(dict(document))
    except ValidationError as exc:
        raise config_error(exc, InvalidAgreement, FEE_KINDS) from None


def agreement_at(agreements: Sequence[Agreement], at: datetime) -> Agreement:
    """The one agreement valid at ``at``; none, or more than one, is an error."""
    valid = [agreement for agreement in agreements if agreement.is_valid_at(at)]
    if not valid:
        raise NoValidAgreement(f"no agreement is valid at {at.isoformat()}", param="occurred_at")
    if len(valid) > 1:
        names = ", ".join(sorted(agreement.id for agreement in valid))
        raise InvalidRequest(
            f"agreements {names} are all valid at {at.isoformat()}",
            code="overlapping_agreements",
            param="agreements",
        )
    return valid[0]


@dataclass(frozen=True, slots=True)
class PricedFee:
    transaction_id: str
    agreement_id: str
    interface_id: str
    entry_id: str
    match: MatchResult
    fee: FeeResult
    text: str
    """``agreement 'a', interface 'i', entry 'e': <the fee's explanation>``."""


def price(agreements: Sequence[Agreement], txn: FeeTransaction) -> PricedFee:
    """The fee of ``txn`` under the agreement valid when it occurred: the entry that matches
    among the interface's (the transaction's ``interface_id``, or every interface)."""
    agreement = agreement_at(agreements, txn.occurred_at)
    if txn.currency != agreement.currency:
        raise CurrencyMismatch(
            f"transaction {txn.id} is in {txn.currency}; "
            f"agreement {agreement.id} bills in {agreement.currency}"
        )
    interfaces = [
        interface
        for interface in agreement.interfaces
        if txn.interface_id is None or interface.id == txn.interface_id
    ]
    if not interfaces:
        raise InvalidRequest(
            f"agreement {agreement.id} has no interface {txn.interface_id!r}",
            code="unknown_interface",
            param="interface_id",
        )
    owner = {entry.id: interface.id for interface in interfaces for entry in interface.entries}
    result = match([entry for interface in interfaces for entry in interface.entries], txn)
    entry = result.entry
    fee = calculate(entry.fee, txn, entry_id=entry.id)
    text = (
        f"agreement {agreement.id!r}, interface {owner[entry.id]!r}, entry {entry.id!r}: "
        f"{fee.explanation.text}"
    )
    return PricedFee(txn.id, agreement.id, owner[entry.id], entry.id, result, fee, text)


def close_periods(
    agreements: Sequence[Agreement], transactions: Sequence[FeeTransaction]
) -> dict[tuple[str, str], PeriodClose]:
    """Close a period's graduated and volume entries: each transaction is priced under the
    agreement valid at its time, and each (agreement id, entry id) closes over its own
    transactions against the provisional fees they were charged. Other entries are left out."""
    groups: dict[tuple[str, str], tuple[GraduatedFee | VolumeFee, list[FeeTransaction], list[int]]]
    groups = {}
    for txn in sorted(transactions, key=lambda txn: (txn.occurred_at, txn.id)):
        priced = price(agreements, txn)
        model = priced.match.entry.fee
        if not isinstance(model, GraduatedFee | VolumeFee):
            continue
        _, members, provisional = groups.setdefault(
            (priced.agreement_id, priced.entry_id), (model, [], [])
        )
        members.append(txn)
        provisional.append(priced.fee.amount_minor)
    return {
        key: close_model_period(
            model,
            members,
            currency=members[0].currency,
            entry_id=key[1],
            provisional_minor=sum(provisional),
        )
        for key, (model, members, provisional) in groups.items()
    }

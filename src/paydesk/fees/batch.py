"""A compiled batch pricer: the same fee as :func:`~paydesk.fees.matching.price`, without the
explanation, at a microsecond or two a transaction.

``price()`` checks and explains every entry with exact fractions: right for one quote, too slow
for a million stored rows. :class:`BatchPricer` compiles the agreements once:

* time: the agreements' bounds cut time into segments, each with its one valid agreement (or
  none when zero or several are valid). A row bisects the bounds written in its own time zone
  (datetimes of one tzinfo compare fast); near a bound, in a zone with daylight saving, it
  compares instants;
* entries: ranked once as ``match()`` ranks them (priority, most specific, id). Per agreement a
  memo maps the row's discrete fields (interface, scenario, method, business type, card type,
  bank relation, region) to the chain of entries whose value conditions hold, in that order;
  along it a row only checks amount ranges and attributes, and the first entry that holds
  wins. Consecutive entries testing one attribute form a group: one look-up of the row's value;
* fees: integer arithmetic (``divmod``-style rounding for every policy), no ``Fraction``.

The result is ``(agreement_id, interface_id, entry_id, fee_minor)``, exactly what ``price()``
gives. Whenever anything is unusual (no or overlapping agreements, another currency, an unknown
interface, no entry matching, a per-call fee without items, a lump sum outside its period) the
row goes to ``price()`` with a real :class:`FeeTransaction`, which validates it and raises the
very same error. Rows are otherwise assumed valid, as stored transactions are: ``occurred_at``
is aware (or, with ``naive_utc=True``, naive UTC as SQLite returns it; the other kind raises
``TypeError``), amounts, items and days are in range, attributes are strings, integers or
booleans. Call ``price()`` for the rows whose explanation you need.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType

from paydesk.core.money import AMOUNT_MINOR_MAX, Rounding
from paydesk.fees.fee_calculators import lump_sum_schedule
from paydesk.fees.fee_models import (
    FeeModel,
    FixedFee,
    GraduatedFee,
    InterestFee,
    LadderFee,
    LumpSumFee,
    PerCallFee,
    PercentageFee,
    Tier,
    VolumeFee,
)
from paydesk.fees.matching import VALUE_FIELDS, Agreement, price, rank_key
from paydesk.fees.transaction import AttributeValue, BankRelation, CardType, FeeTransaction

MEMO_MAX = 100_000
"""Keys memoized per agreement; the memo is cleared when full, so it never grows unbounded."""
ZONES_MAX = 64
"""Time zones (tzinfo objects) whose wall-time bounds are kept, likewise."""
_MARGIN = timedelta(hours=48)
"""More than two UTC offsets can differ: a wall time this far from another in the same zone is
on the same side of it as its instant."""
_KEY_FIELDS = (
    "interface_id", "scenario", "method", "business_type", "card_type", "bank_relation", "region",
)  # fmt: skip
_NO_MAX = 1 << 128

Priced = tuple[str, str, str, int]
"""(agreement id, interface id, entry id, fee in minor units)."""
FeeFunction = Callable[[int, datetime, int, int], int]
"""(amount, occurred_at, verified_items, holding_days) -> fee; raises _Fallback."""
Fee = tuple[int, int, int, int, int, int, FeeFunction | None]
"""A compiled fee model, see :func:`_compile_fee`."""
Win = tuple[int, int, int, int, int, int, FeeFunction | None, str, str, str]
"""What a candidate charges: its Fee, then agreement, interface and entry ids."""
Attribute = tuple[str, AttributeValue, type]
Candidate = tuple[int, int, tuple[Attribute, ...], Win]
"""(amount_min, amount_max, attributes wanted as (name, value, type), what it charges)."""
Member = tuple[type, int, int, tuple[Attribute, ...], Win]
"""A candidate wanting one value of a group's attribute: (its type, amount_min, amount_max, any
more attributes wanted, what it charges)."""
Chain = tuple[str | None, int, int, dict[AttributeValue, Member], Win, "Chain | None"]
"""The candidates of a key best first, walked without allocating an iterator: either one
without attributes, ``(None, amount_min, amount_max, {}, what it charges, rest)``, or a group
of consecutive ones testing the same first attribute, each another value of it,
``(name, 0, 0, {value: Member}, _NO_WIN, rest)``: at most the one wanting the row's value can
match, so the group costs one look-up."""
_Zone = tuple[list[datetime], list[tuple[datetime, datetime, "_Compiled | None"]]]
"""Bounds as wall times of one zone; per segment the lowest and above the highest wall time
surely in it, and its agreement."""

_CALL = (0, 0, 1, 0, 0, 0)
_NO_ATTRIBUTES: Mapping[str, AttributeValue] = MappingProxyType({})
_NO_MEMBERS: dict[AttributeValue, Member] = {}
_NO_WIN: Win = (*_CALL, None, "", "", "")


class _Fallback(Exception):
    """The compiled path cannot decide: ``price()`` decides (and raises its error)."""


def _has(attributes: Mapping[str, AttributeValue], wanted: tuple[Attribute, ...]) -> bool:
    """Every wanted attribute is there, equal in value and type (``True`` is not ``1``)."""
    for name, want, kind in wanted:
        have = attributes.get(name)
        if have != want or type(have) is not kind:
            return False
    return True


def _constant(fee: int) -> Callable[[int], int]:
    return lambda amount: fee


def _scaled(rate: Fraction, rounding: Rounding) -> Callable[[int], int]:
    """``value -> round(value * rate)`` in integers, for ``value >= 0``."""
    num, den = rate.numerator, rate.denominator
    if rounding is Rounding.HALF_EVEN:

        def half_even(value: int) -> int:
            quotient, remainder = divmod(value * num, den)
            twice = 2 * remainder
            return quotient + (twice > den or (twice == den and quotient & 1))

        return half_even
    n, add, d = _linear_terms(num, den, rounding)
    return lambda value: (value * n + add) // d


def _linear_terms(num: int, den: int, rounding: Rounding) -> tuple[int, int, int]:
    """``round(v * num / den) == (v * n + add) // d`` for ``v >= 0`` (not for half_even)."""
    if rounding in (Rounding.DOWN, Rounding.FLOOR):
        return num, 0, den
    if rounding in (Rounding.UP, Rounding.CEILING):
        return num, den - 1, den
    assert rounding is Rounding.HALF_UP
    return 2 * num, den, 2 * den  # floor(v * num / den + 1/2)


def _rate(tier: Tier | PercentageFee) -> Fraction:
    rate = tier.rate_exact
    assert rate is not None
    return rate


def _tiers(tiers: Sequence[Tier], inclusive: bool) -> list[tuple[int, Tier]]:
    """Each tier with the highest value it takes, as ``_tier_ranges`` reads the bounds."""
    out = []
    for tier in tiers:
        up_to = tier.up_to
        out.append((_NO_MAX if up_to is None else up_to if inclusive else up_to - 1, tier))
    return out


def _compile_fee(model: FeeModel) -> Fee:
    """The fee of ``model`` in integers: ``(n, add, d, fixed, min, max, None)`` for a fee
    ``(amount * n + add) // d + fixed`` then the min or max (fixed, and percentage but
    half_even), else ``(0, 0, 1, 0, 0, 0, function)``."""
    if isinstance(model, GraduatedFee | VolumeFee):
        return _compile_fee(model.provisional)  # per transaction: the provisional fee
    if isinstance(model, FixedFee):
        return (0, 0, 1, model.amount_minor, -1, _NO_MAX, None)
    if isinstance(model, PercentageFee):
        rate, plus = _rate(model), model.fixed_minor
        low = -1 if model.min_minor is None else model.min_minor
        high = _NO_MAX if model.max_minor is None else model.max_minor
        if model.rounding is not Rounding.HALF_EVEN:
            n, add, d = _linear_terms(rate.numerator, rate.denominator, model.rounding)
            return (n, add, d, plus, low, high, None)
        scaled = _scaled(rate, model.rounding)

        def percentage(amount: int, at: datetime, items: int, days: int) -> int:
            fee = scaled(amount) + plus
            return low if fee < low else high if fee > high else fee

        return (*_CALL, percentage)
    if isinstance(model, LadderFee):
        steps: list[tuple[int, Callable[[int], int]]] = []
        for high, tier in _tiers(model.tiers, model.up_to_inclusive):
            if tier.fee_minor is not None:
                steps.append((high, _constant(tier.fee_minor)))
            else:
                steps.append((high, _scaled(_rate(tier), model.rounding)))

        def ladder(amount: int, at: datetime, items: int, days: int) -> int:
            for high, fee in steps:
                if amount <= high:
                    return fee(amount)
            raise _Fallback  # above every bound: not a valid amount

        return (*_CALL, ladder)
    if isinstance(model, PerCallFee):
        per_item = [
            (high, tier.fee_minor or 0) for high, tier in _tiers(model.tiers, model.up_to_inclusive)
        ]
        call = model.call_fee_minor

        def per_call(amount: int, at: datetime, items: int, days: int) -> int:
            if items >= 1:
                for high, fee in per_item:
                    if items <= high:
                        return items * fee + call
            raise _Fallback  # no items: price() refuses the transaction

        return (*_CALL, per_call)
    if isinstance(model, InterestFee):
        if model.rate_per_day is not None:
            daily = Fraction(Decimal(model.rate_per_day))
        else:
            assert model.rate_per_year is not None and model.days_per_year is not None
            daily = Fraction(Decimal(model.rate_per_year)) / model.days_per_year
        interest = _scaled(daily, model.rounding)
        return (*_CALL, lambda amount, at, items, days: interest(amount * days))
    assert isinstance(model, LumpSumFee)
    schedule = lump_sum_schedule(model)
    year, month = (int(part) for part in model.first_month.split("-"))
    start = year * 12 + month

    def lump_sum(amount: int, at: datetime, items: int, days: int) -> int:
        index = at.year * 12 + at.month - start  # in the transaction's own offset
        if 0 <= index < len(schedule):
            return schedule[index]
        raise _Fallback  # outside the period: price() raises outside_fee_period

    return (*_CALL, lump_sum)


class _Compiled:
    """One agreement: its entries ranked and compiled, and the memo of candidates by key."""

    def __init__(self, agreement: Agreement, memo_max: int) -> None:
        self.id, self.currency, self.memo_max = agreement.id, agreement.currency, memo_max
        self.interfaces = {interface.id for interface in agreement.interfaces}
        self.memo: dict[tuple[str | None, ...], Chain | None] = {}
        owned = [(i.id, e) for i in agreement.interfaces for e in i.entries]
        owned.sort(key=lambda pair: rank_key(pair[1]))  # match()'s order: the first match wins
        self.ranked: list[tuple[str, list[tuple[int, frozenset[str]]], Candidate]] = []
        for owner, entry in owned:
            when = entry.when
            if when.currency is not None and agreement.currency not in when.currency:
                continue  # a row in another currency never gets this far
            tests = [
                (_KEY_FIELDS.index(name), frozenset(wanted))
                for name in VALUE_FIELDS
                if name != "currency" and (wanted := getattr(when, name)) is not None
            ]
            low = 0 if when.amount_min is None else when.amount_min
            high = AMOUNT_MINOR_MAX if when.amount_max is None else when.amount_max
            attributes = tuple((k, v, type(v)) for k, v in when.attributes.items())
            win: Win = (*_compile_fee(entry.fee), agreement.id, owner, entry.id)
            candidate: Candidate = (low, high, attributes, win)
            self.ranked.append((owner, tests, candidate))

    def candidates(self, key: tuple[str | None, ...]) -> Chain | None:
        """The entries whose value conditions ``key`` meets, best first; None: none can match
        (or the interface is unknown). Memoized."""
        interface = key[0]
        found: list[Candidate] = []
        if interface is None or interface in self.interfaces:
            for owner, tests, candidate in self.ranked:
                if interface is not None and owner != interface:
                    continue
                for index, wanted in tests:
                    if key[index] not in wanted:
                        break
                else:
                    found.append(candidate)
                    if candidate[:3] == (0, AMOUNT_MINOR_MAX, ()):
                        break  # matches every valid row: nothing after it can win
        nodes: list[tuple[str | None, int, int, dict[AttributeValue, Member], Win]] = []
        for low, high, attributes, win in found:
            if not attributes:
                nodes.append((None, low, high, _NO_MEMBERS, win))
                continue
            (name, want, kind), *more = attributes
            member = (kind, low, high, tuple(more), win)
            if nodes and nodes[-1][0] == name and want not in nodes[-1][3]:
                nodes[-1][3][want] = member  # True == 1: those two never share a group
            else:
                nodes.append((name, 0, 0, {want: member}, _NO_WIN))
        chain: Chain | None = None
        for node in reversed(nodes):
            chain = (*node, chain)
        if len(self.memo) >= self.memo_max:
            self.memo.clear()
        self.memo[key] = chain
        return chain


class BatchPricer:
    """Prices many transactions under ``agreements`` exactly as ``price()`` does, without the
    explanation. See the module docstring for what it assumes of its inputs.

    ``naive_utc``: every ``occurred_at`` given is naive and means UTC (as SQLite returns stored
    times), which saves making each aware; an aware one then raises ``TypeError``.
    """

    def __init__(
        self,
        agreements: Sequence[Agreement],
        *,
        naive_utc: bool = False,
        memo_max: int = MEMO_MAX,
    ) -> None:
        self.agreements, self.naive_utc = tuple(agreements), naive_utc
        self.compiled = [_Compiled(agreement, memo_max) for agreement in self.agreements]
        bounds = {a.valid_from for a in self.agreements}
        bounds |= {a.valid_to for a in self.agreements if a.valid_to is not None}
        self.starts = sorted(bound.astimezone(UTC) for bound in bounds)
        # Segment i is [starts[i-1], starts[i]): its one valid agreement, or None.
        self.segments: list[_Compiled | None] = [None]
        for start in self.starts:
            valid = [
                c for a, c in zip(agreements, self.compiled, strict=True) if a.is_valid_at(start)
            ]
            self.segments.append(valid[0] if len(valid) == 1 else None)
        self.bounds = (
            [start.replace(tzinfo=None) for start in self.starts] if naive_utc else self.starts
        )
        self.zones: dict[tzinfo | None, _Zone] = {}

    def _zone(self, tz: tzinfo | None) -> _Zone:
        """The bounds as wall times of ``tz`` (naive UTC for None): a row compares with them
        field by field, much faster than across zones. And per segment the wall times surely
        inside it: a fixed offset keeps the order of instants; other zones (daylight saving)
        only ``_MARGIN`` away from either bound, else the row compares instants."""
        if (tz is None) != self.naive_utc:
            wanted = "naive UTC (naive_utc=True)" if self.naive_utc else "aware"
            raise TypeError(f"occurred_at must be {wanted} for this pricer")
        margin = timedelta(0) if tz is None or isinstance(tz, timezone) else _MARGIN
        low, high = datetime.min.replace(tzinfo=tz), datetime.max.replace(tzinfo=tz)
        try:
            walls = [
                start.replace(tzinfo=None) if tz is None else start.astimezone(tz)
                for start in self.starts
            ]
            lows = [low] + [wall + margin for wall in walls]
            highs = [wall - margin for wall in walls] + [high]
            zone: _Zone = walls, list(zip(lows, highs, self.segments, strict=True))
        except OverflowError:  # a bound near the ends of time: always compare instants
            zone = [], [(high, low, None)]
        if len(self.zones) >= ZONES_MAX:
            self.zones.clear()
        self.zones[tz] = zone
        return zone

    @property
    def memo_size(self) -> int:
        """Keys memoized, over every agreement."""
        return sum(len(compiled.memo) for compiled in self.compiled)

    def price_fields(
        self,
        txn_id: str,
        scenario: str,
        amount_minor: int,
        currency: str,
        occurred_at: datetime,
        business_type: str | None = None,
        method: str | None = None,
        card_type: CardType | None = None,
        bank_relation: BankRelation | None = None,
        region: str | None = None,
        interface_id: str | None = None,
        verified_items: int = 0,
        holding_days: int = 0,
        attributes: Mapping[str, AttributeValue] = _NO_ATTRIBUTES,
    ) -> Priced:
        """(agreement id, interface id, entry id, fee) of one transaction given by its fields
        (in ``FeeTransaction``'s order); raises what ``price()`` raises."""
        try:
            walls, segments = self.zones[occurred_at.tzinfo]
        except KeyError:
            walls, segments = self._zone(occurred_at.tzinfo)
        since, until, agreement = segments[bisect_right(walls, occurred_at)]
        if not since <= occurred_at < until:  # near a bound: compare instants
            agreement = self.segments[bisect_right(self.bounds, occurred_at)]
        if agreement is not None and currency == agreement.currency:
            key = (interface_id, scenario, method, business_type, card_type, bank_relation, region)
            try:
                chain = agreement.memo[key]
            except KeyError:
                chain = agreement.candidates(key)
            while chain is not None:
                name, low, high, members, win, chain = chain
                if name is not None:  # a group: its member wanting the row's value, if any
                    have = attributes.get(name)
                    member = members.get(have)  # type: ignore[arg-type]
                    if member is None:
                        continue
                    kind, low, high, more, win = member
                    if type(have) is not kind:  # equal in value and type: True is not 1
                        continue
                    if more and not _has(attributes, more):
                        continue
                if not low <= amount_minor <= high:
                    continue
                n, add, d, fixed, minimum, maximum, function, a_id, i_id, e_id = win
                if function is None:
                    fee = (amount_minor * n + add) // d + fixed
                    fee = minimum if fee < minimum else maximum if fee > maximum else fee
                    return a_id, i_id, e_id, fee
                try:
                    fee = function(amount_minor, occurred_at, verified_items, holding_days)
                except _Fallback:
                    break
                return a_id, i_id, e_id, fee
        if self.naive_utc:
            occurred_at = occurred_at.replace(tzinfo=UTC)
        txn = FeeTransaction(
            txn_id, scenario, amount_minor, currency, occurred_at, business_type, method,
            card_type, bank_relation, region, interface_id, verified_items, holding_days,
            attributes,
        )  # fmt: skip
        return self.price_txn_explained(txn)

    def price_txn(self, txn: FeeTransaction) -> Priced:
        """:meth:`price_fields` of a transaction."""
        at = txn.occurred_at
        if self.naive_utc:
            if at.utcoffset():  # a lump sum reads the month in the transaction's own offset
                return self.price_txn_explained(txn)
            at = at.replace(tzinfo=None)
        return self.price_fields(
            txn.id, txn.scenario, txn.amount_minor, txn.currency, at,
            txn.business_type, txn.method, txn.card_type, txn.bank_relation, txn.region,
            txn.interface_id, txn.verified_items, txn.holding_days, txn.attributes,
        )  # fmt: skip

    def price_txn_explained(self, txn: FeeTransaction) -> Priced:
        """The full path (``price()``), as a tuple: what the compiled path falls back to."""
        priced = price(self.agreements, txn)
        return priced.agreement_id, priced.interface_id, priced.entry_id, priced.fee.amount_minor

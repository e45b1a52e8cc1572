"""Known features, their defaults, and whether one is on for a merchant or a user.

A feature with no row is at its default. A row turns it on for everyone
(``enabled_for_all``) or only for its whitelisted merchants and users: the gray release of a
new behaviour before everyone gets it. Services never commit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.core.errors import InvalidRequest, NotFound
from paydesk.features.models import FeatureFlag
from paydesk.merchants.models import Merchant

LIST_MAX = 1000
ID_LENGTH_MAX = 128


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    default: bool
    description: str


FEATURES: Mapping[str, Feature] = {
    feature.name: feature
    for feature in (
        Feature(
            "hosted_cashier",
            True,
            "The hosted cashier (/cashier/{order}, GET /v1/orders/{id}/cashier).",
        ),
        Feature(
            "fx_settlement",
            True,
            "Channel payments converted into the merchant's settlement currency.",
        ),
        Feature(
            "sandbox_mode",
            False,
            "The merchant is in sandbox mode: everything it does goes to the simulators; its "
            "live-mode orders are refused until it leaves sandbox mode.",
        ),
    )
}


class UnknownFeature(NotFound):
    code = "unknown_feature"


class FeatureDisabled(InvalidRequest):
    code = "feature_disabled"
    status = 403


@dataclass(frozen=True, slots=True)
class FlagView:
    name: str
    description: str
    default: bool
    enabled_for_all: bool
    merchants: list[str]
    users: list[str]


@dataclass(frozen=True, slots=True)
class _Flag:
    enabled_for_all: bool
    merchants: frozenset[str]
    users: frozenset[str]


FLAG_TTL_S = 5.0
"""How long a process reuses a flag it read: flags are read on hot paths (every live order),
and change rarely; the process that changes one forgets its copy at once."""


class _FlagCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, _Flag | None]] = {}

    def get(self, name: str, now: float) -> tuple[bool, _Flag | None]:
        with self._lock:
            found = self._entries.get(name)
        if found is None or now - found[0] > FLAG_TTL_S:
            return False, None
        return True, found[1]

    def put(self, name: str, now: float, flag: _Flag | None) -> None:
        with self._lock:
            self._entries[name] = (now, flag)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


FLAG_CACHE = _FlagCache()


def _flag(session: Session, name: str) -> _Flag | None:
    now = time.monotonic()
    known, flag = FLAG_CACHE.get(name, now)
    if known:
        return flag
    row = session.get(FeatureFlag, name)
    flag = (
        None
        if row is None
        else _Flag(row.enabled_for_all, frozenset(row.merchants), frozenset(row.users))
    )
    FLAG_CACHE.put(name, now, flag)
    return flag


def _feature(name: str) -> Feature:
    feature = FEATURES.get(name)
    if feature is None:
        raise UnknownFeature(
            f"no feature {name!r}; one of: {', '.join(sorted(FEATURES))}", param="name"
        )
    return feature


def is_enabled(
    session: Session,
    name: str,
    *,
    merchant_ids: tuple[str, ...] = (),
    user_id: str | None = None,
) -> bool:
    """Whether ``name`` is on for the merchant (give it and its ancestors in
    ``merchant_ids``, so a whitelisted agent covers its sub-merchants) or the user."""
    feature = _feature(name)
    flag = _flag(session, name)
    if flag is None:
        return feature.default
    if flag.enabled_for_all:
        return True
    if any(merchant in flag.merchants for merchant in merchant_ids):
        return True
    return user_id is not None and user_id in flag.users


def enabled_for(session: Session, name: str, merchant_id: str, user_id: str | None = None) -> bool:
    """:func:`is_enabled` for a merchant (its ancestors' whitelisting counts) or a user."""
    flag = _flag(session, name)
    if flag is None or flag.enabled_for_all or not (flag.merchants or flag.users):
        return is_enabled(session, name)
    merchant = session.get(Merchant, merchant_id)
    lineage = tuple(part for part in (merchant.path if merchant else "").split("/") if part)
    return is_enabled(session, name, merchant_ids=lineage or (merchant_id,), user_id=user_id)


def require(session: Session, name: str, merchant_id: str) -> None:
    if not enabled_for(session, name, merchant_id):
        raise FeatureDisabled(f"{name} is not enabled for this merchant")


def view(session: Session, name: str) -> FlagView:
    feature = _feature(name)
    flag = session.get(FeatureFlag, name)
    return FlagView(
        name=name,
        description=feature.description,
        default=feature.default,
        enabled_for_all=feature.default if flag is None else flag.enabled_for_all,
        merchants=[] if flag is None else list(flag.merchants),
        users=[] if flag is None else list(flag.users),
    )


def _ids(values: list[str], param: str) -> list[str]:
    cleaned = sorted(set(values))
    if len(cleaned) > LIST_MAX:
        raise InvalidRequest(f"at most {LIST_MAX} {param}", param=param)
    if any(not value or len(value) > ID_LENGTH_MAX for value in cleaned):
        raise InvalidRequest(f"{param} are 1 to {ID_LENGTH_MAX} characters", param=param)
    return cleaned


def set_flag(
    session: Session,
    name: str,
    *,
    enabled_for_all: bool,
    merchants: list[str],
    users: list[str],
) -> FlagView:
    _feature(name)
    flag = session.get(FeatureFlag, name, with_for_update=True)
    if flag is None:
        flag = FeatureFlag(name=name)
        session.add(flag)
    flag.enabled_for_all = enabled_for_all
    flag.merchants = _ids(merchants, "merchants")
    flag.users = _ids(users, "users")
    flag.updated_at = clock.now()
    session.flush()
    FLAG_CACHE.clear()
    return view(session, name)


def all_flags(session: Session) -> list[FlagView]:
    return [view(session, name) for name in sorted(FEATURES)]

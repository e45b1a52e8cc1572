"""Use cases on merchants, apps and virtual currencies. Services never commit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.core.currencies import virtual_currency
from paydesk.core.errors import InvalidRequest
from paydesk.core.ids import new_id
from paydesk.core.pagination import PageResult, page_size, trim
from paydesk.db.committed_memory import CommittedMemory
from paydesk.merchants import key_cache
from paydesk.merchants import repository as repo
from paydesk.merchants.errors import (
    AppNotFound,
    CurrencyExists,
    HierarchyTooDeep,
    InvalidParent,
    MerchantNotFound,
)
from paydesk.merchants.models import (
    App,
    AuditEvent,
    Merchant,
    MerchantKind,
    MerchantStatus,
    VirtualCurrency,
    VirtualKind,
)

MERCHANT_DEPTH_MAX = 16
"""Platform, agents, merchants, sub-merchants, stores: 16 levels leave room for any real
organisation while keeping the materialized path short."""
NAME_LENGTH_MAX = 200
PLATFORM_NAME = "Platform"


def _check_name(name: str, param: str = "name") -> str:
    name = name.strip()
    if not name or len(name) > NAME_LENGTH_MAX:
        raise InvalidRequest(f"{param} must be 1 to {NAME_LENGTH_MAX} characters", param=param)
    return name


def audit(session: Session, merchant_id: str, actor: str, action: str, target_id: str) -> None:
    """Record an administrative change in the audit log (same transaction as the change)."""
    repo.add(
        session,
        AuditEvent(
            id=new_id("aud"),
            merchant_id=merchant_id,
            actor=actor,
            action=action,
            target_id=target_id,
            created_at=clock.now(),
        ),
    )


def ensure_platform(session: Session) -> Merchant:
    """The platform root merchant, created on first use."""
    existing = repo.platform(session)
    if existing is not None:
        return existing
    now = clock.now()
    merchant_id = new_id("mch")
    root = Merchant(
        id=merchant_id,
        parent_id=None,
        kind=MerchantKind.PLATFORM,
        name=PLATFORM_NAME,
        status=MerchantStatus.ACTIVE,
        path=f"/{merchant_id}/",
        depth=0,
        created_at=now,
        updated_at=now,
    )
    repo.add(session, root)
    return root


def create_merchant(
    session: Session,
    *,
    name: str,
    kind: MerchantKind,
    parent_id: str | None,
    actor: str,
) -> Merchant:
    """A new merchant under ``parent_id`` (default: directly under the platform)."""
    name = _check_name(name)
    if kind is MerchantKind.PLATFORM:
        raise InvalidRequest("there is only one platform", code="invalid_kind", param="kind")
    parent = ensure_platform(session) if parent_id is None else repo.merchant(session, parent_id)
    if parent is None:
        raise InvalidParent(f"no merchant {parent_id}", param="parent_id")
    if parent.status != MerchantStatus.ACTIVE:
        raise InvalidParent("the parent merchant is suspended", param="parent_id")
    if parent.depth + 1 > MERCHANT_DEPTH_MAX:
        raise HierarchyTooDeep(
            f"a merchant hierarchy is at most {MERCHANT_DEPTH_MAX} levels deep", param="parent_id"
        )
    now = clock.now()
    merchant_id = new_id("mch")
    merchant = Merchant(
        id=merchant_id,
        parent_id=parent.id,
        kind=kind,
        name=name,
        status=MerchantStatus.ACTIVE,
        path=f"{parent.path}{merchant_id}/",
        depth=parent.depth + 1,
        created_at=now,
        updated_at=now,
    )
    repo.add(session, merchant)
    audit(session, merchant_id, actor, "merchant.created", merchant_id)
    return merchant


def get_merchant(session: Session, merchant_id: str) -> Merchant:
    merchant = repo.merchant(session, merchant_id)
    if merchant is None:
        raise MerchantNotFound(f"no merchant {merchant_id}")
    return merchant


def list_merchants(
    session: Session,
    *,
    parent_id: str | None = None,
    subtree_of: str | None = None,
    after_id: str | None = None,
    limit: int = 50,
) -> PageResult[Merchant]:
    root = get_merchant(session, subtree_of) if subtree_of is not None else None
    rows = repo.merchants(
        session, parent_id=parent_id, subtree_of=root, after_id=after_id, limit=page_size(limit) + 1
    )
    return trim(rows, limit)


def set_merchant_status(
    session: Session, merchant_id: str, status: MerchantStatus, *, actor: str
) -> Merchant:
    merchant = get_merchant(session, merchant_id)
    if merchant.kind == MerchantKind.PLATFORM:
        raise InvalidRequest("the platform cannot be suspended", code="invalid_kind")
    if merchant.status != status:
        merchant.status = status
        merchant.updated_at = clock.now()
        session.flush()
        key_cache.forget_on_commit(session)
        audit(session, merchant_id, actor, f"merchant.{status.value}", merchant_id)
    return merchant


def create_app(session: Session, merchant_id: str, name: str, *, actor: str) -> App:
    merchant = get_merchant(session, merchant_id)
    now = clock.now()
    app = App(
        id=new_id("app"),
        merchant_id=merchant.id,
        name=_check_name(name),
        created_at=now,
        updated_at=now,
    )
    repo.add(session, app)
    audit(session, merchant.id, actor, "app.created", app.id)
    return app


def get_app(session: Session, merchant_id: str | None, app_id: str) -> App:
    """An app of ``merchant_id`` (``None``: of any merchant, for admins)."""
    app = repo.app(session, merchant_id, app_id)
    if app is None:
        raise AppNotFound(f"no app {app_id}")
    return app


_APPS_KNOWN: CommittedMemory[tuple[str, str], bool] = CommittedMemory("apps", entries_max=100_000)
"""(merchant, app) pairs: an app never changes merchant and is never deleted."""


def check_app(session: Session, merchant_id: str, app_id: str) -> None:
    """That ``app_id`` is an app of ``merchant_id`` (:class:`AppNotFound` otherwise), read
    from the database once per process."""
    if _APPS_KNOWN.recall((merchant_id, app_id)):
        return
    get_app(session, merchant_id, app_id)
    _APPS_KNOWN.learn(session, (merchant_id, app_id), True)


def list_apps(
    session: Session, merchant_id: str | None, *, after_id: str | None = None, limit: int = 50
) -> PageResult[App]:
    rows = repo.apps(session, merchant_id, after_id=after_id, limit=page_size(limit) + 1)
    return trim(rows, limit)


def rename_app(
    session: Session, merchant_id: str | None, app_id: str, name: str, *, actor: str
) -> App:
    app = get_app(session, merchant_id, app_id)
    app.name = _check_name(name)
    app.updated_at = clock.now()
    session.flush()
    audit(session, app.merchant_id, actor, "app.renamed", app.id)
    return app


def register_virtual_currency(
    session: Session,
    merchant_id: str | None,
    app_id: str,
    *,
    code: str,
    exponent: int,
    name: str,
    actor: str,
    kind: VirtualKind = VirtualKind.COINS,
) -> VirtualCurrency:
    """Register a currency the app issues (game coins, points) with its own exponent."""
    app = get_app(session, merchant_id, app_id)
    currency = virtual_currency(code, exponent, name)
    if repo.virtual_currency(session, app.id, currency.code) is not None:
        raise CurrencyExists(f"{currency.code} is already registered for this app", param="code")
    row = VirtualCurrency(
        id=new_id("vcy"),
        merchant_id=app.merchant_id,
        app_id=app.id,
        code=currency.code,
        exponent=currency.exponent,
        name=currency.name,
        kind=kind.value,
        created_at=clock.now(),
    )
    repo.add(session, row)
    audit(session, app.merchant_id, actor, "virtual_currency.registered", row.id)
    return row


def list_virtual_currencies(
    session: Session, merchant_id: str | None, app_id: str
) -> Sequence[VirtualCurrency]:
    app = get_app(session, merchant_id, app_id)
    return repo.virtual_currencies(session, app.merchant_id, app.id)

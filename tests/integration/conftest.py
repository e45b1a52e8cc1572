"""An API client on each backend, with a platform admin and two merchants A and B."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from paydesk.api.app import create_app
from paydesk.core.settings import load_settings
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.merchants import auth, service
from paydesk.merchants.models import KeyMode, MerchantKind


@dataclass(frozen=True)
class Tenant:
    merchant_id: str
    app_id: str
    key: str
    """A test-mode merchant key."""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass(frozen=True)
class World:
    admin_key: str
    a: Tenant
    b: Tenant

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}


def _tenant(db: Database, name: str) -> Tenant:
    with unit_of_work(db) as session:
        merchant = service.create_merchant(
            session, name=name, kind=MerchantKind.MERCHANT, parent_id=None, actor="test"
        )
        app = service.create_app(session, merchant.id, f"{name} app", actor="test")
        issued = auth.issue_key(
            session, merchant_id=merchant.id, mode=KeyMode.TEST, app_id=app.id, actor="test"
        )
    return Tenant(merchant_id=merchant.id, app_id=app.id, key=issued.secret)


@pytest.fixture
def world(db: Database) -> World:
    with unit_of_work(db) as session:
        admin = auth.issue_admin_key(session, actor="test")
    return World(admin_key=admin.secret, a=_tenant(db, "Merchant A"), b=_tenant(db, "Merchant B"))


@pytest.fixture
def client(db: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = load_settings(
        database_url=db.url, data_dir=tmp_path_factory.mktemp("data"), embedded_worker=False
    )
    app = create_app(settings, db, run_worker=False)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client

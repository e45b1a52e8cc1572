"""Concurrent writers over real HTTP: every request succeeds, none sees "database is locked"."""

from __future__ import annotations

import threading

import httpx
import pytest
import sqlalchemy as sa

from paydesk.api.app import create_app
from paydesk.core.settings import load_settings
from paydesk.db.engine import Database
from paydesk.merchants.models import App
from tests.integration.conftest import World
from tests.support.server import serving

THREADS = 8
REQUESTS_PER_THREAD = 15


def test_concurrent_writers_all_succeed(
    db: Database, world: World, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = load_settings(database_url=db.url, data_dir=tmp_path_factory.mktemp("d"))
    app = create_app(settings, db, run_worker=False)
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    with serving(app) as base_url:

        def write(thread_index: int) -> None:
            with httpx.Client(base_url=base_url, timeout=60, headers=world.a.headers) as http:
                barrier.wait()
                for index in range(REQUESTS_PER_THREAD):
                    response = http.post("/v1/apps", json={"name": f"load {thread_index}-{index}"})
                    with lock:
                        statuses.append(response.status_code)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

    assert statuses == [201] * (THREADS * REQUESTS_PER_THREAD)
    with db.engine.connect() as connection:
        count = connection.execute(
            sa.select(sa.func.count()).select_from(App).where(App.name.like("load %"))
        ).scalar_one()
    assert count == THREADS * REQUESTS_PER_THREAD

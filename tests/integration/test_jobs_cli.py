"""``paydesk jobs list|retry`` and ``paydesk worker --once``, driven through Typer."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from paydesk.cli.jobs import jobs_app, worker_command
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.jobs.models import JobStatus
from paydesk.jobs.service import enqueue
from tests.support.jobs import HANDLERS_MODULE, app_count, insert_merchant, load_job

runner = CliRunner()


@pytest.fixture(autouse=True)
def cli_env(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAYDESK_CONFIG_FILE", raising=False)
    monkeypatch.setenv("PAYDESK_DATABASE_URL", db.url)
    monkeypatch.setenv("PAYDESK_JOB_MODULES", HANDLERS_MODULE)
    monkeypatch.setenv("COLUMNS", "250")


def _worker_app() -> typer.Typer:
    app = typer.Typer()
    app.command("worker")(worker_command)
    return app


def test_worker_once_then_list_and_retry(db: Database) -> None:
    merchant_id = insert_merchant(db)
    other_id = insert_merchant(db, "Other")
    with unit_of_work(db) as session:
        ok = enqueue(session, "test.effect", {"name": "cli"}, merchant_id=merchant_id).id
        dead = enqueue(session, "test.fail", {}, merchant_id=merchant_id, attempts_max=1).id
        other = enqueue(session, "test.fail", {}, merchant_id=other_id, attempts_max=1).id

    result = runner.invoke(_worker_app(), ["--once"])
    assert result.exit_code == 0, result.output
    assert load_job(db, ok).status == JobStatus.SUCCEEDED
    assert app_count(db, "cli") == 1

    result = runner.invoke(jobs_app, ["list", "--status", "dead", "--merchant", merchant_id])
    assert result.exit_code == 0, result.output
    assert dead in result.output and "RuntimeError: boom" in result.output
    assert ok not in result.output and other not in result.output

    result = runner.invoke(jobs_app, ["list", "--kind", "test.effect", "--limit", "1"])
    assert result.exit_code == 0, result.output
    assert ok in result.output

    result = runner.invoke(jobs_app, ["retry", dead])
    assert result.exit_code == 0, result.output
    assert load_job(db, dead).status == JobStatus.PENDING


@pytest.mark.parametrize("target", ["unknown", "succeeded"])
def test_retry_fails_clearly(db: Database, target: str) -> None:
    job_id = "job_doesnotexist"
    code = "job_not_found"
    if target == "succeeded":
        merchant_id = insert_merchant(db)
        with unit_of_work(db) as session:
            job_id = enqueue(session, "test.effect", {"name": "x"}, merchant_id=merchant_id).id
        assert runner.invoke(_worker_app(), ["--once"]).exit_code == 0
        code = "job_not_retryable"
    result = runner.invoke(jobs_app, ["retry", job_id])
    assert result.exit_code == 1
    assert code in result.output
    assert "Traceback" not in result.output


def test_worker_reports_a_module_it_cannot_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYDESK_JOB_MODULES", "tests.support.no_such_module")
    result = runner.invoke(_worker_app(), ["--once"])
    assert result.exit_code == 2
    assert "cannot import 'tests.support.no_such_module'" in result.output

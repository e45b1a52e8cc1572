"""``/v1/jobs``: see jobs (dead letters above all) and retry them. Merchants see their own."""

from __future__ import annotations

from fastapi import APIRouter, Query

from paydesk.api.pagination import Page, to_page
from paydesk.api.routing import ApiRoute, PrincipalDep, SessionDep
from paydesk.core.pagination import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from paydesk.jobs import service
from paydesk.jobs.models import JobStatus
from paydesk.jobs.schemas import JobOut

router = APIRouter(route_class=ApiRoute, tags=["jobs"])


@router.get("/jobs", summary="List jobs, e.g. the dead letters with status=dead")
def list_jobs(
    session: SessionDep,
    principal: PrincipalDep,
    status: JobStatus | None = None,
    kind: str | None = None,
    merchant_id: str | None = None,
    after: str | None = None,
    limit: int = Query(PAGE_SIZE_DEFAULT, ge=1, le=PAGE_SIZE_MAX),
) -> Page[JobOut]:
    result = service.list_jobs(
        session,
        status=status,
        kind=kind,
        merchant_id=principal.scope(merchant_id),
        after_id=after,
        limit=limit,
    )
    return to_page(result, JobOut.model_validate)


@router.get("/jobs/{job_id}", summary="Get a job")
def get_job(job_id: str, session: SessionDep, principal: PrincipalDep) -> JobOut:
    return JobOut.model_validate(service.get_job(session, job_id, principal.scope()))


@router.post("/jobs/{job_id}/retry", summary="Retry a dead job now")
def retry_job(job_id: str, session: SessionDep, principal: PrincipalDep) -> JobOut:
    return JobOut.model_validate(service.retry_job(session, job_id, principal.scope()))

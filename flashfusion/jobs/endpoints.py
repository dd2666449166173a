import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import Conflict, NotPermitted, ResourceNotFound, error_responses
from flashfusion.jobs.auth import JobsRead, JobsWrite
from flashfusion.jobs.schemas import Job as JobSchema
from flashfusion.jobs.schemas import JobDetail
from flashfusion.jobs.service import job as job_service
from flashfusion.kit.pagination import ListResource
from flashfusion.kit.routing import ObjectID, PaginationParamsDep

router = APIRouter(prefix="/jobs", tags=["jobs"])

JobStatus = Literal[
    "ENQUEUED", "PENDING", "SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"
]


@router.get(
    "",
    response_model=ListResource[JobSchema],
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def list(
    auth_subject: JobsRead,
    pagination: PaginationParamsDep,
    session: AsyncSessionDep,
    organization_id: Annotated[uuid.UUID | None, Query(description="Only this workspace.")] = None,
    status: Annotated[JobStatus | None, Query(description="Only runs in this status.")] = None,
    kind: Annotated[str | None, Query(max_length=64, description="Only this job kind.")] = None,
) -> ListResource[JobSchema]:
    """List background jobs, newest first."""
    results, count = await job_service.list(
        session,
        auth_subject,
        organization_id=organization_id,
        status=status,
        kind=kind,
        pagination=pagination,
    )
    return ListResource.build(results, count, pagination)


@router.get("/{id}", response_model=JobDetail, responses=error_responses(ResourceNotFound))
async def get(id: ObjectID, auth_subject: JobsRead, session: AsyncSessionDep) -> JobDetail:
    """Get a job with its steps, timings and error."""
    return await job_service.get(session, auth_subject, id)


_action_errors = error_responses(ResourceNotFound, NotPermitted, Conflict)


@router.post("/{id}/cancel", response_model=JobDetail, responses=_action_errors)
async def cancel(id: ObjectID, auth_subject: JobsWrite, session: AsyncSessionDep) -> JobDetail:
    """Cancel a queued or running job (it stops at its next step)."""
    return await job_service.cancel(session, auth_subject, id)


@router.post("/{id}/resume", response_model=JobDetail, responses=_action_errors)
async def resume(id: ObjectID, auth_subject: JobsWrite, session: AsyncSessionDep) -> JobDetail:
    """Resume a cancelled or stuck job from its last finished step."""
    return await job_service.resume(session, auth_subject, id)


@router.post("/{id}/retry", response_model=JobDetail, status_code=201, responses=_action_errors)
async def retry(id: ObjectID, auth_subject: JobsWrite, session: AsyncSessionDep) -> JobDetail:
    """Start a new run of a failed or cancelled job; returns the new job."""
    return await job_service.retry(session, auth_subject, id)

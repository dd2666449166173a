"""An organization's view of its jobs, and admin actions on them."""

import builtins
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.audit.service import audit as audit_service
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.authz.permission import Permission
from flashfusion.authz.service import authz
from flashfusion.exceptions import Conflict, ResourceNotFound
from flashfusion.jobs.enqueue import enqueue
from flashfusion.jobs.registry import get_kind
from flashfusion.jobs.repository import JobRepository, JobRun, JobStep
from flashfusion.jobs.schemas import Job as JobSchema
from flashfusion.jobs.schemas import JobDetail
from flashfusion.jobs.schemas import JobStep as JobStepSchema
from flashfusion.kit.pagination import PaginationParams

CANCELLABLE = {"ENQUEUED", "PENDING", "DELAYED"}
RESUMABLE = {"CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"}
RETRYABLE = {"ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"}


def to_schema(run: JobRun) -> JobSchema:
    kind = get_kind(run.job.kind)
    duration = None
    if run.completed_at:
        # From enqueue to finish: a run recovered after a crash spans several pick-ups, and the
        # last pick-up time alone would under-report it.
        duration = round((run.completed_at - run.job.created_at).total_seconds(), 3)
    return JobSchema(
        id=run.job.id,
        organization_id=run.job.organization_id,
        kind=run.job.kind,
        label=kind.label if kind else run.job.kind,
        summary=run.job.summary,
        status=run.status,
        created_at=run.job.created_at,
        started_at=run.started_at,
        updated_at=run.updated_at,
        completed_at=run.completed_at,
        duration_seconds=duration,
        executor_id=run.executor_id,
        queue=run.queue_name,
        recovery_attempts=run.recovery_attempts,
        retry_of_job_id=run.job.retry_of_job_id,
        can_cancel=run.status in CANCELLABLE,
        can_resume=run.status in RESUMABLE,
        can_retry=run.status in RETRYABLE and bool(kind and kind.retryable),
    )


def to_detail(run: JobRun, steps: list[JobStep]) -> JobDetail:
    return JobDetail(
        **to_schema(run).model_dump(),
        error=run.error,
        steps=[
            JobStepSchema(
                number=step.number,
                name=step.name,
                started_at=step.started_at,
                completed_at=step.completed_at,
                error=step.error,
            )
            for step in steps
        ],
    )


class JobService:
    async def list(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID | None,
        status: str | None,
        kind: str | None,
        pagination: PaginationParams,
    ) -> tuple[builtins.list[JobSchema], int]:
        readable = await authz.get_readable_org_ids(
            session,
            auth_subject,
            Permission.jobs_read,
            organization_id=organization_id,
            action="job.list",
        )
        runs, total = await JobRepository.from_session(session).list_runs(
            organization_ids=set(readable), status=status, kind=kind, pagination=pagination
        )
        return [to_schema(run) for run in runs], total

    async def list_all(
        self, session: AsyncSession, *, status: str | None, pagination: PaginationParams
    ) -> tuple[builtins.list[JobSchema], int]:
        """Every run on the instance: for operators (CLI), never reachable over HTTP."""
        runs, total = await JobRepository.from_session(session).list_runs(
            organization_ids=None, status=status, kind=None, pagination=pagination
        )
        return [to_schema(run) for run in runs], total

    async def _get_run(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        id: uuid.UUID,
        permission: Permission,
        action: str,
    ) -> JobRun:
        ids = set(await authz.get_accessible_org_ids(session, auth_subject))
        run = await JobRepository.from_session(session).get_run(id, ids)
        if run is None or run.job.organization_id is None:
            raise ResourceNotFound("Job")
        await authz.require(
            session,
            auth_subject,
            run.job.organization_id,
            permission,
            action=action,
            target_type="job",
            target_id=run.job.id,
        )
        return run

    async def get(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], id: uuid.UUID
    ) -> JobDetail:
        run = await self._get_run(session, auth_subject, id, Permission.jobs_read, "job.read")
        steps = await JobRepository.from_session(session).list_steps(run.job.workflow_id)
        return to_detail(run, steps)

    async def _detail(self, session: AsyncSession, id: uuid.UUID) -> JobDetail:
        """A run's current detail; callers have checked access already."""
        repository = JobRepository.from_session(session)
        run = await repository.get_run(id, None)
        assert run is not None
        return to_detail(run, await repository.list_steps(run.job.workflow_id))

    async def cancel(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], id: uuid.UUID
    ) -> JobDetail:
        run = await self._get_run(
            session, auth_subject, id, Permission.jobs_manage, "job.cancelled"
        )
        if run.status not in CANCELLABLE or not await JobRepository.from_session(session).cancel(
            run.job.workflow_id
        ):
            raise Conflict(
                f"This job is {run.status}; only queued or running jobs can be cancelled."
            )
        await self._audit(session, auth_subject, run, "job.cancelled")
        return await self._detail(session, id)

    async def resume(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], id: uuid.UUID
    ) -> JobDetail:
        run = await self._get_run(session, auth_subject, id, Permission.jobs_manage, "job.resumed")
        if run.status not in RESUMABLE or not await JobRepository.from_session(session).resume(
            run.job.workflow_id
        ):
            raise Conflict(
                f"This job is {run.status}; only cancelled jobs or jobs that exhausted their "
                "recovery attempts can be resumed. Use retry for a failed job."
            )
        await self._audit(session, auth_subject, run, "job.resumed")
        return await self._detail(session, id)

    async def retry(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], id: uuid.UUID
    ) -> JobDetail:
        """Enqueue a new run of the same kind with the same arguments."""
        run = await self._get_run(session, auth_subject, id, Permission.jobs_manage, "job.retried")
        kind = get_kind(run.job.kind)
        if run.status not in RETRYABLE or kind is None or not kind.retryable:
            raise Conflict(
                f"This job is {run.status}; only failed or cancelled jobs can be retried."
            )
        new_job = await enqueue(
            session,
            run.job.kind,
            *[str(a) for a in run.job.arguments],
            organization_id=run.job.organization_id,
            summary=run.job.summary,
            created_by=auth_subject,
            retry_of=run.job,
        )
        await self._audit(
            session, auth_subject, run, "job.retried", {"new_job_id": str(new_job.id)}
        )
        return await self._detail(session, new_job.id)

    async def _audit(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        run: JobRun,
        action: str,
        details: dict[str, str] | None = None,
    ) -> None:
        await audit_service.record(
            session,
            auth_subject,
            action=action,
            organization_id=run.job.organization_id,
            target_type="job",
            target_id=run.job.id,
            details={"kind": run.job.kind, **(details or {})},
        )


job = JobService()

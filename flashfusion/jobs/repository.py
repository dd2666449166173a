"""Jobs joined with DBOS's own workflow tables, read and changed through our session.

Reading DBOS's tables in the request's own transaction keeps a job and its status consistent
with the rows that created it. The writes below (cancel, resume) are the same statements DBOS
3.4 issues in `SystemDatabase.cancel_workflows` / `resume_workflows`; DBOS is pinned to 3.4.*
and tests run real workflows through them (tests/jobs/test_durability.py).
"""

import time
import uuid
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from dbos._schemas import SCHEMA_PLACEHOLDER
from dbos._schemas.system_database import SystemSchema
from dbos._serialization import DefaultSerializer, safe_deserialize
from sqlalchemy import Select, func, select

from flashfusion.jobs.engine import DBOS_SCHEMA
from flashfusion.kit.pagination import PaginationParams
from flashfusion.kit.repository import Repository
from flashfusion.models import Job

_status = SystemSchema.workflow_status
_output = SystemSchema.workflow_output
_steps = SystemSchema.operation_outputs

# DBOS's internal queue, on which resumed workflows are re-enqueued.
INTERNAL_QUEUE_NAME = "_dbos_internal_queue"
FINISHED = ("SUCCESS", "ERROR")


@dataclass
class JobRun:
    job: Job
    status: str
    executor_id: str | None
    queue_name: str | None
    recovery_attempts: int
    started_at: datetime | None
    updated_at: datetime | None
    completed_at: datetime | None
    error: str | None = None


@dataclass
class JobStep:
    number: int
    name: str
    started_at: datetime | None
    completed_at: datetime | None
    error: str | None
    child_workflow_id: str | None


def _ms(value: int | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def _error_text(workflow_id: str, serialization: str | None, raw: str | None) -> str | None:
    if raw is None:
        return None
    _, _, exception = safe_deserialize(
        DefaultSerializer(),
        serialization,
        workflow_id,
        serialized_input=None,
        serialized_output=None,
        serialized_exception=raw,
    )
    if exception is None:
        return None
    return f"{type(exception).__name__}: {exception}"


class JobRepository(Repository[Job]):
    model = Job

    def _schema_options(self) -> dict[str, Any]:
        schema = None if self.session.get_bind().dialect.name == "sqlite" else DBOS_SCHEMA
        return {"schema_translate_map": {SCHEMA_PLACEHOLDER: schema}}

    def _run_statement(self) -> Select[Any]:
        return (
            select(
                Job,
                func.coalesce(_status.c.status, "UNKNOWN"),
                _status.c.executor_id,
                _status.c.queue_name,
                _status.c.recovery_attempts,
                _status.c.started_at_epoch_ms,
                _status.c.updated_at,
                _status.c.completed_at,
            )
            .select_from(Job)
            .outerjoin(_status, _status.c.workflow_uuid == Job.workflow_id)
            .where(Job.deleted_at.is_(None))
        )

    @staticmethod
    def _to_run(row: Any) -> JobRun:
        return JobRun(
            job=row[0],
            status=row[1],
            executor_id=row[2],
            queue_name=row[3],
            recovery_attempts=int(row[4] or 0),
            started_at=_ms(row[5]),
            updated_at=_ms(row[6]),
            completed_at=_ms(row[7]),
        )

    async def list_runs(
        self,
        *,
        organization_ids: AbstractSet[uuid.UUID] | None,
        status: str | None,
        kind: str | None,
        pagination: PaginationParams,
    ) -> tuple[list[JobRun], int]:
        """Runs of the given organizations (None: every run, for operators), newest first."""
        statement = self._run_statement()
        if organization_ids is not None:
            statement = statement.where(Job.organization_id.in_(organization_ids))
        if status:
            statement = statement.where(_status.c.status == status)
        if kind:
            statement = statement.where(Job.kind == kind)
        options = self._schema_options()
        count = select(func.count()).select_from(statement.order_by(None).subquery())
        total = (await self.session.execute(count, execution_options=options)).scalar_one()
        statement = (
            statement.order_by(Job.created_at.desc(), Job.id.desc())
            .limit(pagination.limit)
            .offset((pagination.page - 1) * pagination.limit)
        )
        rows = (await self.session.execute(statement, execution_options=options)).all()
        return [self._to_run(row) for row in rows], total

    async def get_run(
        self, job_id: uuid.UUID, organization_ids: AbstractSet[uuid.UUID] | None
    ) -> JobRun | None:
        statement = self._run_statement().where(Job.id == job_id)
        if organization_ids is not None:
            statement = statement.where(Job.organization_id.in_(organization_ids))
        statement = statement.add_columns(
            func.coalesce(_output.c.error, _status.c.error), _status.c.serialization
        ).outerjoin(_output, _output.c.workflow_uuid == _status.c.workflow_uuid)
        row = (
            await self.session.execute(statement, execution_options=self._schema_options())
        ).one_or_none()
        if row is None:
            return None
        run = self._to_run(row)
        run.error = _error_text(run.job.workflow_id, row[9], row[8])
        return run

    async def list_steps(self, workflow_id: str) -> list[JobStep]:
        statement = (
            select(
                _steps.c.function_id,
                _steps.c.function_name,
                _steps.c.started_at_epoch_ms,
                _steps.c.completed_at_epoch_ms,
                _steps.c.error,
                _steps.c.serialization,
                _steps.c.child_workflow_id,
            )
            .where(_steps.c.workflow_uuid == workflow_id)
            .order_by(_steps.c.function_id)
        )
        rows = (
            await self.session.execute(statement, execution_options=self._schema_options())
        ).all()
        return [
            JobStep(
                number=row[0],
                name=row[1],
                started_at=_ms(row[2]),
                completed_at=_ms(row[3]),
                error=_error_text(workflow_id, row[5], row[4]),
                child_workflow_id=row[6],
            )
            for row in rows
        ]

    async def cancel(self, workflow_id: str) -> bool:
        """Mark a workflow CANCELLED unless it already finished; True if a row changed.

        The executor notices the new status at its next step boundary and stops.
        """
        now = int(time.time() * 1000)
        statement = (
            sa.update(_status)
            .where(_status.c.workflow_uuid == workflow_id)
            .where(_status.c.status.notin_(FINISHED + ("CANCELLED",)))
            .values(
                status="CANCELLED",
                owner_xid=None,
                queue_name=None,
                deduplication_id=None,
                started_at_epoch_ms=None,
                updated_at=now,
                completed_at=now,
            )
        )
        result = await self.session.execute(statement, execution_options=self._schema_options())
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def resume(self, workflow_id: str) -> bool:
        """Re-enqueue a cancelled or stuck workflow; it continues after its last finished step."""
        now = int(time.time() * 1000)
        statement = (
            sa.update(_status)
            .where(_status.c.workflow_uuid == workflow_id)
            .where(_status.c.status.notin_(FINISHED))
            .values(
                status="ENQUEUED",
                owner_xid=None,
                queue_name=INTERNAL_QUEUE_NAME,
                recovery_attempts=0,
                workflow_deadline_epoch_ms=None,
                deduplication_id=None,
                started_at_epoch_ms=None,
                updated_at=now,
                completed_at=None,
            )
        )
        result = await self.session.execute(statement, execution_options=self._schema_options())
        return bool(result.rowcount)  # type: ignore[attr-defined]

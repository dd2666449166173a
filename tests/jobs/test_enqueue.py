"""A job is enqueued in the same transaction as the row that asks for it."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.db import unit_of_work
from flashfusion.jobs.enqueue import enqueue
from flashfusion.jobs.repository import JobRepository
from flashfusion.models import Job
from tests.conftest import count_rows


def _status_table(session: AsyncSession) -> str:
    return (
        "workflow_status" if session.get_bind().dialect.name == "sqlite" else "dbos.workflow_status"
    )


async def test_rolled_back_transaction_leaves_no_job(session: AsyncSession) -> None:
    workflow_id = None
    try:
        async with unit_of_work() as uow:
            job = await enqueue(
                uow, "diagnostics.selftest", "1", "0", organization_id=None, summary="rollback test"
            )
            workflow_id = job.workflow_id
            assert (
                await count_rows(uow, _status_table(uow), "workflow_uuid = :w", w=workflow_id) == 1
            )
            raise RuntimeError("business rule failed after enqueue")
    except RuntimeError:
        pass
    assert workflow_id is not None
    assert await count_rows(session, "jobs", "workflow_id = :w", w=workflow_id) == 0
    assert (
        await count_rows(session, _status_table(session), "workflow_uuid = :w", w=workflow_id) == 0
    )


async def test_committed_job_is_enqueued_with_ids_only(session: AsyncSession) -> None:
    async with unit_of_work() as uow:
        job = await enqueue(
            uow, "diagnostics.selftest", "2", "0.5", organization_id=None, summary="commit test"
        )
    row = (
        await session.execute(
            text(
                f"SELECT status, queue_name, name, application_version FROM {_status_table(session)} "
                "WHERE workflow_uuid = :w"
            ),
            {"w": job.workflow_id},
        )
    ).one()
    assert tuple(row) == ("ENQUEUED", "default", "diagnostics.selftest", "ff-1")
    stored = await session.get(Job, job.id)
    assert stored is not None
    assert stored.arguments == ["2", "0.5"]
    assert stored.workflow_id == f"diagnostics.selftest:{job.id}"
    run = await JobRepository.from_session(session).get_run(job.id, None)
    assert run is not None
    assert run.status == "ENQUEUED"


async def test_arguments_must_be_string_ids(session: AsyncSession) -> None:
    import pytest

    with pytest.raises(TypeError):
        await enqueue(session, "diagnostics.selftest", 3, organization_id=None, summary="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown job kind"):
        await enqueue(session, "no.such.kind", organization_id=None, summary="x")

"""The durable import job: enqueued with the import row, its steps called directly as the
workflow would (DBOS is not launched in tests), progress and summary on the row, the re-screen
job enqueued only when marks were inserted or changed."""

from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.jobs.registry import JOB_KINDS, JobKind, get_kind
from flashfusion.models import ImportStatus, Job, TrademarkImport
from flashfusion.safeguard.trademark import tasks
from flashfusion.safeguard.trademark.imports import IMPORT_JOB, RESCREEN_JOB, ImportFailed
from flashfusion.safeguard.trademark.imports import trademark_import as import_service
from flashfusion.safeguard.trademark.types import Office

DATA = Path(__file__).parent / "data"


def status_table(session: AsyncSession) -> str:
    sqlite = session.get_bind().dialect.name == "sqlite"
    return "workflow_status" if sqlite else "dbos.workflow_status"


async def queued(session: AsyncSession, name: str = "uspto_daily_sample.xml") -> TrademarkImport:
    row = await import_service.create(session, path=DATA / name, office=Office.uspto)
    await import_service.enqueue(session, row)
    await session.commit()
    return row


async def test_the_import_job_is_registered_on_its_queue() -> None:
    kind = get_kind(IMPORT_JOB)
    assert kind is not None
    assert (kind.queue, kind.label) == ("trademark_import", "Import a trademark register file")


async def test_enqueue_writes_the_job_with_the_import_row(session: AsyncSession) -> None:
    row = await queued(session)

    job = await session.get(Job, row.job_id)
    assert job is not None
    assert (job.kind, job.arguments, job.organization_id) == (IMPORT_JOB, [str(row.id)], None)
    assert job.summary == "Import uspto daily file uspto_daily_sample.xml"
    status = await session.execute(
        text(f"SELECT status, queue_name FROM {status_table(session)} WHERE workflow_uuid = :w"),
        {"w": job.workflow_id},
    )
    assert tuple(status.one()) == ("ENQUEUED", "trademark_import")
    assert row.status == ImportStatus.queued


async def test_the_step_imports_and_returns_the_summary(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(JOB_KINDS, RESCREEN_JOB, raising=False)
    row = await queued(session)

    summary = await tasks.run_import(str(row.id))

    assert summary == {
        "id": str(row.id),
        "status": "done",
        "records_read": 7,
        "inserted": 5,
        "updated": 0,
        "unchanged": 0,
        "changed": 5,
        "deleted": 0,
        "skipped": 2,
        "unverified_status": 1,
        "skip_reasons": {
            "no word mark (<mark-identification> empty)": 1,
            "missing <serial-number>": 1,
        },
        "error": None,
        # No re-screen job kind registered: nothing to enqueue.
        "rescreen_job_id": None,
    }
    await session.refresh(row)
    assert (row.status, row.bytes_done, row.records_done) == (
        ImportStatus.done,
        row.bytes_total,
        7,
    )
    # A re-run of the step (DBOS recovery) does no work twice.
    assert await tasks.run_import(str(row.id)) == summary


async def test_a_changing_import_enqueues_the_rescreen(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stands in for the safeguard pipeline's job kind when it is not registered yet.
    kind = JOB_KINDS.get(RESCREEN_JOB) or JobKind(RESCREEN_JOB, "Re-screen", "safeguard")
    monkeypatch.setitem(JOB_KINDS, RESCREEN_JOB, kind)
    row = await queued(session)

    summary = await tasks.run_import(str(row.id))

    await session.refresh(row)
    assert summary["rescreen_job_id"] == str(row.rescreen_job_id)
    job = await session.get(Job, row.rescreen_job_id)
    assert job is not None
    assert (job.kind, job.arguments, job.organization_id) == (RESCREEN_JOB, [str(row.id)], None)
    assert job.summary == (
        "Re-screen listings after uspto import uspto_daily_sample.xml (5 new or changed marks)"
    )

    # The same file again changes nothing: no second re-screen.
    again = await queued(session)
    assert (await tasks.run_import(str(again.id)))["rescreen_job_id"] is None
    jobs = await session.execute(select(Job.id).where(Job.kind == RESCREEN_JOB))
    assert len(jobs.all()) == 1


async def test_a_bad_file_fails_the_job_and_the_row(session: AsyncSession) -> None:
    row = await queued(session, "uspto_truncated_sample.xml")

    with pytest.raises(ImportFailed, match="line 32, column 43"):
        await tasks.import_steps(str(row.id))

    await session.refresh(row)
    assert row.status == ImportStatus.failed
    assert row.error is not None
    assert row.error.startswith("uspto_truncated_sample.xml: malformed XML at line 32")


async def test_an_unexpected_error_is_recorded_on_the_row(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    row = await queued(session)

    async def broken(*args: object, **kwargs: object) -> object:
        raise OSError("disk full")

    monkeypatch.setattr(import_service, "run", broken)
    with pytest.raises(OSError, match="disk full"):
        await tasks.import_steps(str(row.id))

    await session.refresh(row)
    assert row.status == ImportStatus.failed
    assert row.error == (
        "The import stopped (OSError: disk full). What was committed stays; retry the job to "
        "continue from there."
    )

"""The audit-log CSV export job."""

import csv
import io
import uuid

from dbos import DBOS

from flashfusion.audit.log import CSV_COLUMNS, event_row, parse_filters
from flashfusion.audit.repository import AuditEventRepository
from flashfusion.db import unit_of_work
from flashfusion.jobs.registry import job
from flashfusion.models import AuditEvent, AuditExport, ExportStatus, utc_now

BATCH_SIZE = 500


@DBOS.step(name="audit.write_export")
async def write_export(export_id: str) -> int:
    """Count, then write the CSV in batches, publishing progress after each batch.

    Re-running the step (after a crash) starts the file over; it never appends twice.
    """
    async with unit_of_work() as session:
        export = await session.get(AuditExport, uuid.UUID(export_id))
        if export is None or export.status == ExportStatus.done:
            return export.rows_written if export else 0
        repository = AuditEventRepository.from_session(session)
        # Rows logged after the export was requested are left out, so that paging by offset
        # stays stable while new events arrive.
        statement = repository.statement_for_organizations(
            {export.organization_id}, parse_filters(export.filters)
        ).where(AuditEvent.created_at <= export.created_at)
        total = await repository.count(statement)
        export.status = ExportStatus.running
        export.rows_total = total
        export.rows_written = 0

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    written = 0
    while True:
        async with unit_of_work() as session:
            repository = AuditEventRepository.from_session(session)
            batch = await repository.get_all(statement.limit(BATCH_SIZE).offset(written))
            for event in batch:
                writer.writerow(event_row(event))
            written += len(batch)
            export = await session.get(AuditExport, uuid.UUID(export_id))
            assert export is not None
            export.rows_written = written
        if len(batch) < BATCH_SIZE:
            break

    content = buffer.getvalue().encode()
    async with unit_of_work() as session:
        export = await session.get(AuditExport, uuid.UUID(export_id))
        assert export is not None
        export.content = content
        export.byte_size = len(content)
        export.status = ExportStatus.done
        export.completed_at = utc_now()
    return written


@DBOS.step(name="audit.fail_export")
async def fail_export(export_id: str, message: str) -> None:
    async with unit_of_work() as session:
        export = await session.get(AuditExport, uuid.UUID(export_id))
        if export is not None:
            export.status = ExportStatus.failed
            export.error = message[:1000]
            export.completed_at = utc_now()


@job("audit.export", label="Audit log export", queue="export")
async def export_audit_log(export_id: str) -> int:
    """Write an organization's audit log, filtered, to CSV."""
    try:
        return await write_export(export_id)
    except Exception as e:
        await fail_export(export_id, f"{type(e).__name__}: {e}")
        raise

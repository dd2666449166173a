"""Register imports: a bulk file (USPTO daily / annual XML, EUIPO full / differential) read into
the marks database in committed batches, with progress, a summary and a re-screen afterwards.

`create` checks the file and records an import; `run` does the work and is what both the
durable job (`tasks.py`) and `flashfusion trademarks import` call. `run` is restartable: every
batch commits together with the import's counters and `records_done`, so a run after a crash
skips exactly the records already written and never writes a batch twice or half. A malformed
file fails the import at the record it breaks on: the committed batches stay (what was valid is
kept), the batch in progress is not written, and the error names the line.
"""

import asyncio
import hashlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.db import unit_of_work
from flashfusion.exceptions import AppError, ResourceNotFound
from flashfusion.jobs.enqueue import enqueue
from flashfusion.jobs.registry import get_kind
from flashfusion.models import ImportKind, ImportStatus, Job, TrademarkImport, utc_now
from flashfusion.safeguard.trademark.importers import (
    ImportFileError,
    Parsed,
    ParsedMark,
    Skipped,
    Source,
    document_element,
    euipo,
    open_source,
    uspto,
)
from flashfusion.safeguard.trademark.repository import (
    TrademarkImportRepository,
    TrademarkRepository,
)
from flashfusion.safeguard.trademark.types import Office

IMPORT_JOB = "trademark.import"
# Defined by the safeguard pipeline (safeguard/tasks.py); enqueued only once it is registered.
RESCREEN_JOB = "safeguard.rescreen_import"
BATCH_SIZE = 1000
# Skipped records kept as examples on the import row (the counts per reason are complete).
MAX_SKIP_EXAMPLES = 50

KINDS: dict[Office, tuple[ImportKind, ...]] = {
    Office.uspto: (ImportKind.daily, ImportKind.annual),
    Office.euipo: (ImportKind.euipo_full, ImportKind.euipo_diff),
}
PARSERS: dict[Office, Callable[[Source], Iterator[Parsed]]] = {
    Office.uspto: uspto.parse,
    Office.euipo: euipo.parse,
}


class InvalidImport(AppError):
    """The file or the options cannot be imported; the message says why and what to do."""

    status_code = 422


class ImportFailed(AppError):
    """The import ran and failed on the file's content (the import row says where)."""

    status_code = 422


@dataclass(frozen=True)
class Progress:
    """Where a running import is, after each committed batch."""

    bytes_done: int
    bytes_total: int
    records_done: int
    inserted: int
    updated: int
    unchanged: int
    skipped: int


@dataclass(frozen=True)
class ImportSummary:
    id: uuid.UUID
    status: ImportStatus
    records_read: int
    inserted: int
    updated: int
    unchanged: int
    changed: int
    deleted: int
    skipped: int
    unverified_status: int
    skip_reasons: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    rescreen_job_id: uuid.UUID | None = None

    @classmethod
    def of(cls, row: TrademarkImport) -> "ImportSummary":
        return cls(
            id=row.id,
            status=row.status,
            records_read=row.records_read,
            inserted=row.inserted,
            updated=row.updated,
            unchanged=row.unchanged,
            changed=row.changed,
            deleted=row.deleted,
            skipped=row.skipped,
            unverified_status=row.unverified_status,
            skip_reasons=dict(row.skip_reasons),
            error=row.error,
            rescreen_job_id=row.rescreen_job_id,
        )

    def describe(self) -> str:
        return (
            f"{self.records_read} records: {self.inserted} new, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.deleted} deleted, {self.skipped} skipped"
        )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_format(path: Path, office: Office) -> int:
    """Raise ImportFileError unless `path` looks like a bulk file of `office`; the size of its
    XML (uncompressed) on success."""
    root = document_element(path)
    if office is Office.uspto and root != uspto.ROOT:
        raise ImportFileError(
            f"{path.name}: not a USPTO trademark applications file (document element <{root}>, "
            f"expected <{uspto.ROOT}>)."
            + (" It looks like an EUIPO file: use --office euipo." if root == "Transaction" else "")
        )
    if office is Office.euipo and root == uspto.ROOT:
        raise ImportFileError(
            f"{path.name}: this is a USPTO trademark applications file, not an EUIPO one; "
            "use --office uspto."
        )
    source = open_source(path)
    source.close()
    return source.size


def _take(iterator: Iterator[Parsed], count: int) -> list[Parsed]:
    return list(islice(iterator, count))


class TrademarkImportService:
    async def create(
        self,
        session: AsyncSession,
        *,
        path: Path,
        office: Office,
        kind: ImportKind | None = None,
        user_id: uuid.UUID | None = None,
    ) -> TrademarkImport:
        """Check the file (exists, right format for the office) and record a queued import."""
        kind = kind or KINDS[office][0]
        if kind not in KINDS[office]:
            allowed = ", ".join(k.value for k in KINDS[office])
            raise InvalidImport(
                f"kind: {kind.value} is not a {office.value} file kind; use {allowed}."
            )
        path = path.expanduser().resolve()
        try:
            size = await asyncio.to_thread(check_format, path, office)
            digest = await asyncio.to_thread(file_sha256, path)
        except ImportFileError as e:
            raise InvalidImport(str(e)) from e
        row = TrademarkImport(
            office=office,
            kind=kind,
            file_name=path.name[:255],
            file_path=str(path),
            file_sha256=digest,
            file_size=path.stat().st_size,
            status=ImportStatus.queued,
            bytes_total=size,
            skip_reasons={},
            skip_examples=[],
            created_by_user_id=user_id,
        )
        session.add(row)
        await session.flush()
        return row

    async def enqueue(self, session: AsyncSession, row: TrademarkImport) -> Job:
        """Queue the durable import job for `row`, in the caller's transaction."""
        job = await enqueue(
            session,
            IMPORT_JOB,
            str(row.id),
            organization_id=None,
            summary=f"Import {row.office.value} {row.kind.value} file {row.file_name}",
        )
        row.job_id = job.id
        return job

    async def run(
        self,
        import_id: uuid.UUID,
        *,
        batch_size: int = BATCH_SIZE,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> ImportSummary:
        """Import the file of `import_id` (resuming after the committed batches)."""
        async with unit_of_work() as session:
            row = await TrademarkImportRepository.from_session(session).get(import_id)
            if row is None:
                raise ResourceNotFound("Trademark import")
            if row.status == ImportStatus.done:
                return ImportSummary.of(row)
            path, office, resume = Path(row.file_path), row.office, row.records_done
            expected_sha = row.file_sha256
            row.status = ImportStatus.running
            row.started_at = row.started_at or utc_now()
            row.error = None
        try:
            if resume:
                # Skipping by position is only right for the very same file.
                sha = await asyncio.to_thread(file_sha256, path)
                if sha != expected_sha:
                    raise ImportFileError(
                        f"{path.name}: the file changed since this import started "
                        f"({resume} records were imported from the earlier file); start a new "
                        "import of the new file."
                    )
            source = await asyncio.to_thread(open_source, path)
        except ImportFileError as e:
            await self._fail(import_id, str(e))
            raise ImportFailed(str(e)) from e
        try:
            return await self._run(import_id, source, office, resume, batch_size, on_progress)
        finally:
            source.close()

    async def _run(
        self,
        import_id: uuid.UUID,
        source: Source,
        office: Office,
        resume: int,
        batch_size: int,
        on_progress: Callable[[Progress], None] | None,
    ) -> ImportSummary:
        records = PARSERS[office](source)
        position = 0
        while True:
            try:
                batch = await asyncio.to_thread(_take, records, batch_size)
            except ImportFileError as e:
                # The batch in progress is dropped; the committed ones stay.
                async with unit_of_work(read_only=True) as session:
                    row = await TrademarkImportRepository.from_session(session).get(import_id)
                    done = row.records_done if row else 0
                message = (
                    f"{e}. Import stopped there: {done} records before it were imported, the "
                    "batch in progress was not written. Download the file again (it may be "
                    "truncated) and import it again."
                )
                await self._fail(import_id, message)
                raise ImportFailed(message) from e
            if not batch:
                break
            first = position
            position += len(batch)
            if position <= resume:
                continue
            todo = batch[max(0, resume - first) :]
            progress = await self._write_batch(import_id, todo, source.position)
            if on_progress is not None:
                on_progress(progress)
        return await self._finish(import_id)

    async def _write_batch(
        self, import_id: uuid.UUID, batch: list[Parsed], bytes_done: int
    ) -> Progress:
        marks = [p for p in batch if isinstance(p, ParsedMark)]
        skipped = [p for p in batch if isinstance(p, Skipped)]
        now = utc_now()
        async with unit_of_work() as session:
            row = await TrademarkImportRepository.from_session(session).get(import_id)
            assert row is not None
            result = await TrademarkRepository.from_session(session).upsert_batch(
                import_id, marks, now=now
            )
            skipped.extend(result.skipped)
            reasons: dict[str, Any] = dict(row.skip_reasons)
            examples: list[Any] = list(row.skip_examples)
            for skip in sorted(skipped, key=lambda s: s.line):
                reasons[skip.reason] = reasons.get(skip.reason, 0) + 1
                if len(examples) < MAX_SKIP_EXAMPLES:
                    examples.append(
                        {"line": skip.line, "serial": skip.serial_number, "reason": skip.reason}
                    )
            row.records_read += len(batch)
            row.records_done += len(batch)
            row.inserted += result.inserted
            row.updated += result.updated
            row.unchanged += result.unchanged
            row.changed += result.changed
            row.deleted += result.deleted
            row.skipped += len(skipped)
            row.unverified_status += sum(
                1 for m in marks if not m.status_verified and not m.deleted
            )
            row.skip_reasons = reasons
            row.skip_examples = examples
            row.bytes_done = min(bytes_done, row.bytes_total) if row.bytes_total else bytes_done
            return Progress(
                bytes_done=row.bytes_done,
                bytes_total=row.bytes_total,
                records_done=row.records_done,
                inserted=row.inserted,
                updated=row.updated,
                unchanged=row.unchanged,
                skipped=row.skipped,
            )

    async def _finish(self, import_id: uuid.UUID) -> ImportSummary:
        async with unit_of_work() as session:
            row = await TrademarkImportRepository.from_session(session).get(import_id)
            assert row is not None
            row.status = ImportStatus.done
            row.finished_at = utc_now()
            row.bytes_done = row.bytes_total
            # Listings screened before may now match a new or changed mark. The re-screen job
            # belongs to the safeguard pipeline; until it is registered there is nothing to run.
            if row.changed and row.rescreen_job_id is None and get_kind(RESCREEN_JOB) is not None:
                job = await enqueue(
                    session,
                    RESCREEN_JOB,
                    str(row.id),
                    organization_id=None,
                    summary=(
                        f"Re-screen listings after {row.office.value} import {row.file_name} "
                        f"({row.changed} new or changed marks)"
                    ),
                )
                row.rescreen_job_id = job.id
            return ImportSummary.of(row)

    async def _fail(self, import_id: uuid.UUID, message: str) -> None:
        async with unit_of_work() as session:
            row = await TrademarkImportRepository.from_session(session).get(import_id)
            if row is not None:
                row.status = ImportStatus.failed
                row.error = message[:4000]
                row.finished_at = utc_now()

    async def fail(self, import_id: uuid.UUID, message: str) -> None:
        """Mark an import failed for a reason outside the file (the job wrapper's last word)."""
        await self._fail(import_id, message)


trademark_import = TrademarkImportService()

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import JSONType, RecordModel, StringEnum
from flashfusion.safeguard.trademark.types import Office


class ImportKind(StrEnum):
    # USPTO Trademark Daily XML (TDXF) applications file: the day's changed case files.
    daily = "daily"
    # USPTO annual applications back file: one part of the full snapshot.
    annual = "annual"
    # EUIPO open data: the full trade mark set, or a differential (changes) file.
    euipo_full = "euipo_full"
    euipo_diff = "euipo_diff"


class ImportStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class TrademarkImport(RecordModel):
    """One register bulk file read into `trademark_marks`, as a durable, restartable job.

    Rows are written in batches, each committed together with `records_done` (records of the
    file fully handled, skipped ones included), so a restarted import skips what was committed
    and never writes a batch twice or half.
    """

    __tablename__ = "trademark_imports"

    office: Mapped[Office] = mapped_column(StringEnum(Office, 16), nullable=False)
    kind: Mapped[ImportKind] = mapped_column(StringEnum(ImportKind, 16), nullable=False)
    file_name: Mapped[str] = mapped_column(String(255), nullable=False)
    # Where the job reads the file: a path the executors can open (a local or shared disk).
    file_path: Mapped[str] = mapped_column(Text, nullable=False)
    file_sha256: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    file_size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    status: Mapped[ImportStatus] = mapped_column(StringEnum(ImportStatus, 16), nullable=False)
    # Progress: bytes of the (uncompressed) XML read, of how many.
    bytes_total: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    bytes_done: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    records_done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Summary counts; `changed` = inserted + updated in text, status or classes.
    records_read: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    inserted: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    changed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    deleted: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    skipped: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Marks imported with a status the sourced tables do not settle (treated as pending).
    unverified_status: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # reason -> count, and the first few skipped records as {"line", "serial", "reason"}.
    skip_reasons: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    skip_examples: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    job_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("jobs.id", ondelete="set null"), nullable=True
    )
    # The re-screen job this import enqueued (None: nothing changed, or no re-screen job kind).
    rescreen_job_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("jobs.id", ondelete="set null"), nullable=True
    )
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="set null"), nullable=True
    )

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import JSONType, RecordModel, StringEnum


class ExportStatus(StrEnum):
    pending = "pending"
    running = "running"
    done = "done"
    failed = "failed"


class AuditExport(RecordModel):
    """A CSV export of an organization's audit log, produced by a background job."""

    __tablename__ = "audit_exports"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    requested_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="set null"), nullable=True
    )
    requested_by_api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("api_keys.id", ondelete="set null"), nullable=True
    )
    filters: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    status: Mapped[ExportStatus] = mapped_column(StringEnum(ExportStatus, 16), nullable=False)
    rows_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rows_written: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # The CSV itself lives in the database so that any server of a cluster can hand it out.
    content: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    byte_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)

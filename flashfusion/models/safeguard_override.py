import uuid

from sqlalchemy import ForeignKey, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import RecordModel


class SafeguardOverride(RecordModel):
    """An owner's or admin's decision to publish despite a BLOCK or WARN report: who, when
    (`created_at`) and why. One per report; a changed product needs a new screen and a new
    decision."""

    __tablename__ = "safeguard_overrides"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    report_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("safeguard_reports.id", ondelete="cascade"), nullable=False, unique=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="set null"), nullable=True
    )
    reason: Mapped[str] = mapped_column(Text, nullable=False)

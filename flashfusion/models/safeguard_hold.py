import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import JSONType, RecordModel, TZDateTime


class SafeguardHold(RecordModel):
    """A product paused from publishing because a newly imported mark matched it (the
    workspace chose `pause_on_new_mark`). One row per product, the latest hold; it is released
    by a screen that no longer finds those marks or by an override, and `released_at` says
    when."""

    __tablename__ = "safeguard_holds"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    product_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("products.id", ondelete="cascade"), nullable=False, unique=True
    )
    report_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("safeguard_reports.id", ondelete="set null"), nullable=True
    )
    import_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The marks that caused it: [{"mark": …, "serial_number": …, "office": …}]
    marks: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)
    released_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    released_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="set null"), nullable=True
    )
    release_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)

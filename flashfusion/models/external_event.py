import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import JSONType, RecordModel, TZDateTime


class ExternalEvent(RecordModel):
    """One verified webhook delivery from a platform, stored once per platform event id
    (`ON CONFLICT (connection_id, event_id) DO NOTHING`): a replayed or duplicated delivery
    finds its row and does nothing more. The `webhooks.process_event` job handles it and sets
    `handled_at`; each try counts in `attempts`, and the last failure stays in `error`."""

    __tablename__ = "external_events"
    __table_args__ = (
        UniqueConstraint("connection_id", "event_id"),
        Index(None, "organization_id", "received_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    connection_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("platform_connections.id", ondelete="cascade"), nullable=False
    )
    platform: Mapped[str] = mapped_column(String(32), nullable=False)
    # The platform's own event id: the dedupe key.
    event_id: Mapped[str] = mapped_column(String(200), nullable=False)
    topic: Mapped[str] = mapped_column(String(100), nullable=False)
    resource_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resource_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    occurred_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    received_at: Mapped[datetime] = mapped_column(TZDateTime, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    handled_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

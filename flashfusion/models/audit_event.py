import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import IDModel, JSONType, StringEnum, utc_now


class ActorType(StrEnum):
    user = "user"
    api_key = "api_key"
    system = "system"
    anonymous = "anonymous"


class Outcome(StrEnum):
    success = "success"
    denied = "denied"
    failure = "failure"


class AuditEvent(IDModel):
    """Append-only: database triggers reject UPDATE and DELETE on this table."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index(None, "organization_id", "created_at"),
        Index(None, "user_id", "created_at"),
    )

    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utc_now)
    # No foreign keys: the log outlives what it mentions, and an append-only table cannot
    # take part in ON DELETE actions.
    # Null for account-level events (login, 2FA); those show on the user's security page.
    organization_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    # The account the event is about (the actor for most events).
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    actor_type: Mapped[ActorType] = mapped_column(StringEnum(ActorType, 16), nullable=False)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    # Snapshot (email or key name) so the log stays readable after the actor is gone.
    actor_label: Mapped[str] = mapped_column(String(320), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    target_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    target_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outcome: Mapped[Outcome] = mapped_column(StringEnum(Outcome, 16), nullable=False)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(512), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)

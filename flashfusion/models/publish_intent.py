import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import RecordModel, StringEnum


class IntentAction(StrEnum):
    publish = "publish"
    update = "update"
    unpublish = "unpublish"


class IntentState(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    needs_action = "needs_action"


class PublishIntent(RecordModel):
    """The publish ledger: one row per (listing, action, version), written before any call
    to the platform, under a unique key, so a version is acted on at most once whatever
    retries and crashes happen. `job_id` is the run currently responsible for it."""

    __tablename__ = "publish_intents"
    __table_args__ = (UniqueConstraint("listing_id", "action", "version"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    listing_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("channel_listings.id", ondelete="cascade"), nullable=False, index=True
    )
    action: Mapped[IntentAction] = mapped_column(StringEnum(IntentAction, 16), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # SHA-256 of the canonical payload (image bytes left out: their hashes stand in).
    payload_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    state: Mapped[IntentState] = mapped_column(StringEnum(IntentState, 16), nullable=False)
    remote_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error_code: Mapped[str | None] = mapped_column(String(80), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_action: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
    job_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("jobs.id", ondelete="set null"), nullable=True
    )

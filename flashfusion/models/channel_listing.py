import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import JSONType, RecordModel, StringEnum


class ListingState(StrEnum):
    queued = "queued"  # an intent waits for its job
    publishing = "publishing"  # a job is creating or updating it on the platform
    published = "published"  # live on the channel at `published_version`
    failed = "failed"  # the platform refused it: `error_action` says how to fix it
    needs_action = "needs_action"  # the creator must act (reconnect), then retry
    unpublishing = "unpublishing"
    unpublished = "unpublished"


class ChannelListing(RecordModel):
    """A product on one channel (one platform connection): what FlashFusion wants there
    (`desired_version`), what is there (`published_version`, `remote_id`) and its state.

    `external_id` (`ff-<id hex>`) never changes: it is the marker/SKU prefix a publish looks
    the item up by on the platform before it creates anything."""

    __tablename__ = "channel_listings"
    __table_args__ = (
        UniqueConstraint("product_id", "connection_id"),
        Index(None, "connection_id", "state"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    product_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("products.id", ondelete="cascade"), nullable=False
    )
    connection_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("platform_connections.id", ondelete="cascade"), nullable=False
    )
    platform: Mapped[str] = mapped_column(String(32), nullable=False)
    external_id: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    state: Mapped[ListingState] = mapped_column(StringEnum(ListingState, 16), nullable=False)
    remote_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    remote_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    published_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    desired_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # SHA-256 of the canonical payload of `desired_version`: an unchanged payload is never
    # published twice.
    payload_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(80), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_action: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Differences found by the last drift check ({"message", "state", "missing_skus", ...});
    # None when the platform matches.
    drift: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
    # When a create was first sent for this listing while its remote id was unknown: only
    # then can an item without our marker on the platform be ours (a create whose answer was
    # lost). Connectors get it as payload option `create_sent_at`.
    create_sent_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)

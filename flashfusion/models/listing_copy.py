import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import JSONType, RecordModel, StringEnum


class ListingCopyStatus(StrEnum):
    draft = "draft"  # breaks a platform rule, or not reviewed
    ready = "ready"  # obeys every hard limit of its platform


class ListingCopy(RecordModel):
    """Listing copy of one product (or bare idea) for one platform in one language."""

    __tablename__ = "listing_copies"
    # `subject` is the product id, or `idea:<hash>` for copy written from a bare idea, so that
    # regenerating adds a version to the same copy instead of a second copy.
    __table_args__ = (UniqueConstraint("organization_id", "subject", "platform", "language"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    subject: Mapped[str] = mapped_column(String(80), nullable=False)
    product_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("products.id", ondelete="cascade"), nullable=True, index=True
    )
    idea: Mapped[str] = mapped_column(String(200), nullable=False)
    product_type: Mapped[str] = mapped_column(String(64), nullable=False)
    platform: Mapped[str] = mapped_column(String(32), nullable=False)
    language: Mapped[str] = mapped_column(String(8), nullable=False)
    status: Mapped[ListingCopyStatus] = mapped_column(
        StringEnum(ListingCopyStatus, 16), nullable=False
    )
    latest_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    brand_voice_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("brand_voices.id", ondelete="set null"), nullable=True
    )
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="set null"), nullable=True
    )


class ListingCopyVersion(RecordModel):
    """One saved state of a listing copy. Never changed; reverting saves a copy as the newest."""

    __tablename__ = "listing_copy_versions"
    __table_args__ = (UniqueConstraint("listing_copy_id", "version"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    listing_copy_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("listing_copies.id", ondelete="cascade"), nullable=False, index=True
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # The ListingDraft fields.
    fields: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)  # generated|edited|reverted
    violations: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)
    fixes: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)
    seo_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    voice_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    provider: Mapped[str | None] = mapped_column(String(32), nullable=True)
    generation_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("ai_generations.id", ondelete="set null"), nullable=True
    )
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="set null"), nullable=True
    )

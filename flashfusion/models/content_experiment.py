import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import JSONType, RecordModel


class ContentExperiment(RecordModel):
    """An A/B test of a listing's title or description; analytics fills the outcome fields."""

    __tablename__ = "content_experiments"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    listing_copy_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("listing_copies.id", ondelete="cascade"), nullable=False, index=True
    )
    field: Mapped[str] = mapped_column(String(16), nullable=False)  # title | description
    # [{key: "A", version: 3, text: "…", traffic_percent: 50,
    #   impressions: null, clicks: null, orders: null}]
    variants: Mapped[list[Any]] = mapped_column(JSONType, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="draft")
    winner: Mapped[str | None] = mapped_column(String(8), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="set null"), nullable=True
    )

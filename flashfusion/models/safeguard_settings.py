import uuid
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import JSONType, RecordModel


class SafeguardSettings(RecordModel):
    """A workspace's screening thresholds and what happens when a new mark matches a live
    product. A workspace without a row uses the defaults (`safeguard/service.py`)."""

    __tablename__ = "safeguard_settings"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, unique=True
    )
    # Overrides of the trademark matcher's Thresholds fields (name -> value); missing: default.
    trademark_thresholds: Mapped[dict[str, Any]] = mapped_column(
        JSONType, nullable=False, default=dict
    )
    # A quality score below this is a WARN finding.
    quality_warn_below: Mapped[int] = mapped_column(Integer, nullable=False)
    # Similarity (0..1) from which a near-duplicate of the workspace's own copy is a WARN.
    plagiarism_threshold: Mapped[float] = mapped_column(Float, nullable=False)
    # Hold a product from publishing when a newly imported mark matches it.
    pause_on_new_mark: Mapped[bool] = mapped_column(nullable=False, default=False)
    # Treat WARN like BLOCK at the publishing gate (an override still lets it through).
    block_on_warn: Mapped[bool] = mapped_column(nullable=False, default=False)
    modified_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="set null"), nullable=True
    )

import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import JSONType, RecordModel, StringEnum
from flashfusion.safeguard.types import Verdict


class ScreenTrigger(StrEnum):
    manual = "manual"  # a member pressed "screen now"
    change = "change"  # the product, its design or its listing copy changed
    import_ = "import"  # a trademark register import added or changed marks
    publish = "publish"  # the publishing gate found no current report
    api = "api"  # an API call asked for a screen


class SafeguardReport(RecordModel):
    """One screen of one product version: the verdict, every finding with its evidence, and
    what was checked. Never changed after it is written (an override is a row of its own);
    the newest report of a product is the one publishing obeys."""

    __tablename__ = "safeguard_reports"
    __table_args__ = (
        Index(None, "product_id", "created_at"),
        Index(None, "organization_id", "created_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    product_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("products.id", ondelete="cascade"), nullable=True
    )
    # SHA-256 of the screened text fields, product type and platforms: "this product version".
    subject_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    # What was screened (fields, product type, Nice classes, platforms, language), so the
    # report shows its spans in the text they point into and later imports can re-match it.
    subject: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    verdict: Mapped[Verdict] = mapped_column(StringEnum(Verdict, 8), nullable=False)
    findings: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)
    # {"category": {"pass": n, "warn": n, "block": n}, …, "total": {…}}
    counts: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    quality_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Rule pack versions, starter set version, marks looked at, thresholds used, checks skipped.
    checks: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    trigger: Mapped[ScreenTrigger] = mapped_column(StringEnum(ScreenTrigger, 16), nullable=False)
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="set null"), nullable=True
    )

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import JSONType, RecordModel, StringEnum


class RenderStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class Render(RecordModel):
    """Print files and mockups of one design version for a set of product types (a job)."""

    __tablename__ = "renders"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    design_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("designs.id", ondelete="cascade"), nullable=False, index=True
    )
    design_version_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("design_versions.id", ondelete="cascade"), nullable=False, index=True
    )
    # Product type key -> selected variant keys (empty list: every variant).
    selection: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    mockups: Mapped[bool] = mapped_column(nullable=False, default=True)
    status: Mapped[RenderStatus] = mapped_column(StringEnum(RenderStatus, 16), nullable=False)
    progress_done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Validation issues found while rendering, as dicts (see studio.validation.Issue).
    issues: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    catalog_version: Mapped[str] = mapped_column(String(32), nullable=False)
    job_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("jobs.id", ondelete="set null"), nullable=True
    )
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="set null"), nullable=True
    )
    completed_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)


class RenderFileKind(StrEnum):
    print_file = "print_file"
    mockup = "mockup"


class RenderFile(RecordModel):
    """One file a render produced: a print file for an area, or a listing image."""

    __tablename__ = "render_files"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    render_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("renders.id", ondelete="cascade"), nullable=False, index=True
    )
    media_asset_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("media_assets.id", ondelete="cascade"), nullable=False
    )
    kind: Mapped[RenderFileKind] = mapped_column(StringEnum(RenderFileKind, 16), nullable=False)
    product_type: Mapped[str] = mapped_column(String(64), nullable=False)
    area_key: Mapped[str | None] = mapped_column(String(40), nullable=True)
    variant_keys: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)
    view: Mapped[str | None] = mapped_column(String(20), nullable=True)
    colour_hex: Mapped[str | None] = mapped_column(String(9), nullable=True)
    label: Mapped[str] = mapped_column(String(120), nullable=False, default="")
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    dpi: Mapped[int | None] = mapped_column(Integer, nullable=True)

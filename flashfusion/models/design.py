import uuid
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import JSONType, RecordModel


class Design(RecordModel):
    """A creator's design; its content lives in immutable versions (every save is one)."""

    __tablename__ = "designs"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    phrase: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    preset: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # Number of the newest version; versions are numbered 1, 2, … per design.
    latest_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="set null"), nullable=True
    )


class DesignVersion(RecordModel):
    """One saved state of a design: the document as the renderer draws it. Never changed."""

    __tablename__ = "design_versions"
    __table_args__ = (UniqueConstraint("design_id", "number"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    design_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("designs.id", ondelete="cascade"), nullable=False, index=True
    )
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    document: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    note: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    # Set when this version was made by reverting to an earlier one.
    reverted_from: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="set null"), nullable=True
    )

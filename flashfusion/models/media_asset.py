import uuid
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import RecordModel, StringEnum


class MediaKind(StrEnum):
    upload = "upload"
    print_file = "print_file"
    mockup = "mockup"


class MediaAsset(RecordModel):
    """A stored file of a workspace (an upload, a print file, a mockup); bytes in MediaStorage."""

    __tablename__ = "media_assets"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    kind: Mapped[MediaKind] = mapped_column(StringEnum(MediaKind, 16), nullable=False)
    # Where the bytes are in the media storage; never derived from user input.
    storage_key: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    content_type: Mapped[str] = mapped_column(String(64), nullable=False)
    byte_size: Mapped[int] = mapped_column(Integer, nullable=False)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    dpi: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    # Sanitised, for display only.
    filename: Mapped[str] = mapped_column(String(120), nullable=False, default="")
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="set null"), nullable=True
    )

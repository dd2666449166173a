import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import IDModel, Model, TZDateTime, utc_now


class ContentFingerprint(IDModel):
    """The MinHash fingerprint of one field of a workspace's listing copy, for duplicate and
    near-duplicate detection (`safeguard/plagiarism/`). One row per (listing copy, field): a new
    version of the copy replaces it. The text itself is never stored here."""

    __tablename__ = "content_fingerprints"
    __table_args__ = (UniqueConstraint("listing_copy_id", "field"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    listing_copy_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("listing_copies.id", ondelete="cascade"), nullable=False
    )
    listing_copy_version: Mapped[int] = mapped_column(Integer, nullable=False)
    # The screened field's name ("title", "description", ...), see safeguard.types.TextField.
    field: Mapped[str] = mapped_column(String(64), nullable=False)
    # SHA-256 (hex) of the normalised text: equal means an exact duplicate.
    text_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    # The MinHash signature: 128 unsigned 32-bit values, little-endian (512 bytes).
    signature: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, nullable=False, default=utc_now)


class ContentFingerprintBand(Model):
    """One LSH band of a fingerprint: fingerprints sharing a (band, bucket) are candidates."""

    __tablename__ = "content_fingerprint_bands"
    __table_args__ = (Index(None, "band", "bucket"),)

    fingerprint_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("content_fingerprints.id", ondelete="cascade"), primary_key=True
    )
    band: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    # A signed 64-bit hash of the band's rows.
    bucket: Mapped[int] = mapped_column(BigInteger, nullable=False)

import uuid

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import RecordModel


class AICredential(RecordModel):
    """A workspace's API key for one AI provider, AES-GCM encrypted and bound to this row."""

    __tablename__ = "ai_credentials"
    __table_args__ = (UniqueConstraint("organization_id", "provider"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    encrypted_api_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # The last four characters, to tell keys apart in the UI (never more).
    key_hint: Mapped[str | None] = mapped_column(String(8), nullable=True)
    base_url: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="set null"), nullable=True
    )

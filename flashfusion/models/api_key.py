import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flashfusion.models.base import JSONType, RecordModel, utc_now

if TYPE_CHECKING:
    from flashfusion.models.user import User


class APIKey(RecordModel):
    """An organization API key. Its power is its scopes intersected with its creator's role."""

    __tablename__ = "api_keys"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    created_by_user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="cascade"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    # HMAC-SHA256 of the full key; the key is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    # First characters, to recognise a key in lists ("ffk_AbC…").
    display_prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    scopes: Mapped[list[str]] = mapped_column(JSONType, nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
    last_used_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)

    created_by: Mapped["User"] = relationship(lazy="raise")

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= utc_now():
            return "expired"
        return "active"

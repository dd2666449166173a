import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import RecordModel, StringEnum


class UserTokenPurpose(StrEnum):
    verify_email = "verify_email"
    reset_password = "reset_password"


class UserToken(RecordModel):
    """A single-use token mailed to a user (email verification, password reset)."""

    __tablename__ = "user_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="cascade"), nullable=False, index=True
    )
    purpose: Mapped[UserTokenPurpose] = mapped_column(
        StringEnum(UserTokenPurpose, 32), nullable=False
    )
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    # Kept encrypted only until the email job has sent it; then cleared.
    token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    expires_at: Mapped[datetime] = mapped_column(nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)

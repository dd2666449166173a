import uuid
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flashfusion.models.base import RecordModel, StringEnum

if TYPE_CHECKING:
    from flashfusion.models.user import User


class SessionState(StrEnum):
    # Password checked, second factor still owed; grants nothing but the 2FA form.
    mfa_pending = "mfa_pending"
    active = "active"


class UserSession(RecordModel):
    __tablename__ = "user_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="cascade"), nullable=False, index=True
    )
    # SHA-256 of the 256-bit random cookie value; the cookie itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    state: Mapped[SessionState] = mapped_column(StringEnum(SessionState, 16), nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(nullable=False)
    expires_at: Mapped[datetime] = mapped_column(nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(512), nullable=True)
    current_organization_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="set null"), nullable=True
    )

    user: Mapped["User"] = relationship(lazy="raise")

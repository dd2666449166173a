import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flashfusion.models.base import RecordModel, StringEnum
from flashfusion.models.member import Role

if TYPE_CHECKING:
    from flashfusion.models.organization import Organization


class Invitation(RecordModel):
    __tablename__ = "invitations"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    role: Mapped[Role] = mapped_column(StringEnum(Role, 16), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    invited_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="set null"), nullable=True
    )
    expires_at: Mapped[datetime] = mapped_column(nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
    accepted_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
    accepted_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="set null"), nullable=True
    )
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)

    organization: Mapped["Organization"] = relationship(lazy="raise")

    @property
    def status(self) -> str:
        from flashfusion.models.base import utc_now

        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= utc_now():
            return "expired"
        return "pending"

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import IDModel, utc_now


class LoginAttempt(IDModel):
    """Every password or second-factor check, for throttling and the security log."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index(None, "account_key", "created_at"),
        Index(None, "ip", "created_at"),
    )

    # HMAC of the normalized email: throttles unknown accounts too, without storing the address.
    account_key: Mapped[str] = mapped_column(String(64), nullable=False)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="cascade"), nullable=True
    )
    ip: Mapped[str] = mapped_column(String(64), nullable=False)
    # Nonce of a valid device cookie presented with the attempt (OWASP "device cookies").
    device_nonce: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    factor: Mapped[str] = mapped_column(String(16), nullable=False)  # password | totp
    success: Mapped[bool] = mapped_column(nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utc_now)

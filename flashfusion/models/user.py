from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import RecordModel


class User(RecordModel):
    __tablename__ = "users"

    # Stored lower-cased; uniqueness is case-insensitive.
    email: Mapped[str] = mapped_column(String(320), nullable=False, unique=True)
    email_verified_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    password_changed_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
    # TOTP secret, AES-GCM encrypted and bound to this row.
    totp_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
    # Highest TOTP time step accepted so far: a code is usable once.
    totp_last_used_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Secret shown during enrolment, promoted to totp_secret_encrypted on confirmation.
    totp_pending_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
    # Operators run the instance (CLI `jobs list`, all runs); not a workspace role.
    is_operator: Mapped[bool] = mapped_column(nullable=False, default=False)

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def has_2fa(self) -> bool:
        return self.totp_enabled_at is not None

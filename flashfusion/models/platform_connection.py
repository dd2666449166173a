import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import JSONType, RecordModel, StringEnum, TZDateTime


class ConnectionStatus(StrEnum):
    active = "active"
    needs_reconnect = "needs_reconnect"  # the grant is dead (revoked, invalid_grant): reconnect
    error = "error"  # something else keeps failing; `problem_*` says what
    disconnected = "disconnected"  # credentials wiped by the creator


class PlatformConnection(RecordModel):
    """A workspace's account on a platform (a Printify shop, a Printful store, an Etsy shop),
    live or in sandbox mode. The credentials are one JSON object, AES-GCM encrypted and bound
    to this row (`platform_connections:encrypted_credentials:<id>`); only `credential_hint`
    (the last four characters of the token) is ever shown. One row per account: reconnecting
    the same account updates it."""

    __tablename__ = "platform_connections"
    __table_args__ = (UniqueConstraint("organization_id", "platform", "account_id", "sandbox"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    platform: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    status: Mapped[ConnectionStatus] = mapped_column(
        StringEnum(ConnectionStatus, 16), nullable=False, default=ConnectionStatus.active
    )
    sandbox: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # None: the platform's base URL setting, else its documented default.
    base_url: Mapped[str | None] = mapped_column(String(300), nullable=True)
    account_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    account_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    account: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    encrypted_credentials: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    credential_hint: Mapped[str | None] = mapped_column(String(8), nullable=True)
    token_expires_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    # Incremented by every credential change: a worker that waited for the refresh lock sees
    # that another one already rotated the token.
    token_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    encrypted_webhook_secret: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    webhook_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    problem_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    problem_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    problem_action: Mapped[str | None] = mapped_column(Text, nullable=True)
    problem_notified_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    last_refreshed_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    linked_connection_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("platform_connections.id", ondelete="set null"), nullable=True
    )
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="set null"), nullable=True
    )

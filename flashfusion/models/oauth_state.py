import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import RecordModel, TZDateTime


class OAuthState(RecordModel):
    """One OAuth authorization in progress (connect or reconnect). The `state` sent to the
    platform is stored only as a keyed hash; the PKCE code verifier is AES-GCM encrypted and
    bound to this row. Single use (`used_at`), valid for ten minutes (`expires_at`)."""

    __tablename__ = "oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="cascade"), nullable=True
    )
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("api_keys.id", ondelete="cascade"), nullable=True
    )
    platform: Mapped[str] = mapped_column(String(32), nullable=False)
    sandbox: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Set for a reconnect: the connection the new grant replaces.
    connection_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("platform_connections.id", ondelete="cascade"), nullable=True
    )
    encrypted_code_verifier: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    redirect_uri: Mapped[str] = mapped_column(String(500), nullable=False)
    # Where the browser goes after the callback (web flows); None: the callback answers JSON.
    return_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(TZDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)

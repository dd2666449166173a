import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, Strict

from flashfusion.auth.scope import Scope
from flashfusion.kit.schemas import Name, Schema, TimestampedSchema


class APIKey(TimestampedSchema):
    organization_id: uuid.UUID = Field(description="Workspace the key acts on.")
    name: str = Field(description="Label to recognise the key.")
    display_prefix: str = Field(description="First characters of the key, e.g. `ffk_AbCd`.")
    scopes: list[Scope] = Field(description="What the key may do (within its creator's role).")
    status: Literal["active", "revoked", "expired"] = Field(description="Whether it works.")
    expires_at: datetime | None = Field(description="Expiry (UTC), or null for none.")
    revoked_at: datetime | None = Field(description="When it was revoked (UTC).")
    last_used_at: datetime | None = Field(description="Last authenticated use (UTC, to a minute).")
    created_by_user_id: uuid.UUID = Field(description="Member whose role bounds the key.")


class APIKeyCreated(APIKey):
    token: str = Field(description="The key itself. Shown only in this response: store it now.")


class APIKeyCreate(Schema):
    name: Name = Field(description="Label, 1-100 characters.")
    scopes: list[Annotated[Scope, Strict(False)]] = Field(
        min_length=1, description="Scopes to grant."
    )
    expires_in_days: int | None = Field(
        default=None, ge=1, le=3650, description="Days until the key expires; omit for none."
    )
    organization_id: uuid.UUID | None = Field(
        default=None,
        strict=False,
        description="Workspace; defaults to the calling API key's workspace.",
    )

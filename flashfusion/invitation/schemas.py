import uuid
from datetime import datetime
from typing import Literal

from pydantic import EmailStr, Field

from flashfusion.kit.schemas import Schema, TimestampedSchema
from flashfusion.models import Role


class Invitation(TimestampedSchema):
    organization_id: uuid.UUID = Field(description="Workspace id.")
    email: str = Field(description="Invited address.")
    role: Role = Field(description="Role the invitee gets on accepting.")
    status: Literal["pending", "accepted", "revoked", "expired"] = Field(
        description="Where the invitation stands."
    )
    expires_at: datetime = Field(description="When the link stops working (UTC).")


class InvitationCreate(Schema):
    email: EmailStr = Field(description="Address to invite.")
    role: Literal["admin", "editor", "viewer"] = Field(description="Role to grant.")
    organization_id: uuid.UUID | None = Field(
        default=None,
        strict=False,
        description="Workspace to invite to; defaults to the API key's workspace.",
    )

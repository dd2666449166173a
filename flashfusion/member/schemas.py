import uuid
from typing import Literal

from pydantic import Field

from flashfusion.kit.schemas import Schema, TimestampedSchema
from flashfusion.models import Role


class MemberUser(Schema):
    id: uuid.UUID = Field(description="User id.")
    email: str = Field(description="The member's email address.")


class Member(TimestampedSchema):
    organization_id: uuid.UUID = Field(description="Workspace id.")
    role: Role = Field(description="owner, admin, editor or viewer.")
    user: MemberUser = Field(description="The member's account.")


class MemberUpdate(Schema):
    role: Literal["admin", "editor", "viewer"] = Field(
        description="New role. Ownership changes only by transfer, in the web app."
    )

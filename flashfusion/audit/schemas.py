import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from flashfusion.kit.schemas import IDSchema, Schema, TimestampedSchema


class AuditEvent(IDSchema):
    created_at: datetime = Field(description="When it happened (UTC).")
    organization_id: uuid.UUID | None = Field(description="Workspace, if any.")
    actor_type: Literal["user", "api_key", "system", "anonymous"] = Field(
        description="Kind of actor."
    )
    actor_id: uuid.UUID | None = Field(description="User or API key id.")
    actor_label: str = Field(description="Actor's email or key name at the time.")
    action: str = Field(description="What was attempted, `domain.verb`.")
    target_type: str | None = Field(description="Kind of object acted on.")
    target_id: str | None = Field(description="Id of the object acted on.")
    outcome: Literal["success", "denied", "failure"] = Field(description="How it ended.")
    ip: str | None = Field(description="Client address.")
    user_agent: str | None = Field(description="Client software.")
    request_id: str | None = Field(description="Request id, also in the server logs.")
    details: dict[str, Any] = Field(description="Action-specific facts.")


class AuditExport(TimestampedSchema):
    organization_id: uuid.UUID = Field(description="Workspace.")
    status: Literal["pending", "running", "done", "failed"] = Field(description="Progress.")
    filters: dict[str, str] = Field(description="Filters the export applies.")
    rows_total: int | None = Field(description="Rows to write, once counted.")
    rows_written: int = Field(description="Rows written so far.")
    byte_size: int | None = Field(description="Size of the finished CSV in bytes.")
    error: str | None = Field(description="Why it failed, if it did.")
    completed_at: datetime | None = Field(description="When it finished (UTC).")


class AuditExportCreate(Schema):
    action: str | None = Field(default=None, max_length=64, description="Action prefix filter.")
    actor: str | None = Field(default=None, max_length=320, description="Actor text filter.")
    outcome: Literal["success", "denied", "failure"] | None = Field(
        default=None, description="Outcome filter."
    )
    since: datetime | None = Field(
        default=None, strict=False, description="From this time (inclusive)."
    )
    until: datetime | None = Field(
        default=None, strict=False, description="Up to this time (exclusive)."
    )
    organization_id: uuid.UUID | None = Field(
        default=None, strict=False, description="Workspace; defaults to the API key's workspace."
    )

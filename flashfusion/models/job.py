import uuid
from typing import Any

from sqlalchemy import ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import JSONType, RecordModel


class Job(RecordModel):
    """Our record of a durable DBOS workflow: who asked for it, for which workspace.

    Status, steps and errors live in DBOS's own tables and are joined in on read.
    """

    __tablename__ = "jobs"

    # Null for instance-level jobs (diagnostics), which only operators see.
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=True, index=True
    )
    workflow_id: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    # Ids only, never secrets: the workflow's own arguments, kept to enqueue a retry.
    arguments: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)
    summary: Mapped[str] = mapped_column(String(200), nullable=False)
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="set null"), nullable=True
    )
    created_by_api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("api_keys.id", ondelete="set null"), nullable=True
    )
    retry_of_job_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("jobs.id", ondelete="set null"), nullable=True
    )

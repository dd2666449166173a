import uuid
from datetime import datetime

from pydantic import Field

from flashfusion.kit.schemas import ReadSchema


class JobStep(ReadSchema):
    number: int = Field(description="Step number within the run, from 1.")
    name: str = Field(description="Step name.")
    started_at: datetime | None = Field(description="When the step started (UTC).")
    completed_at: datetime | None = Field(description="When it finished (UTC).")
    error: str | None = Field(description="The step's error, if it failed.")


class Job(ReadSchema):
    id: uuid.UUID = Field(description="Job id.")
    organization_id: uuid.UUID | None = Field(description="Workspace.")
    kind: str = Field(description="Job kind, e.g. `audit.export`.")
    label: str = Field(description="Human name of the kind.")
    summary: str = Field(description="What this run does.")
    status: str = Field(
        description="ENQUEUED, PENDING (running), SUCCESS, ERROR, CANCELLED or "
        "MAX_RECOVERY_ATTEMPTS_EXCEEDED."
    )
    created_at: datetime = Field(description="When it was enqueued (UTC).")
    started_at: datetime | None = Field(description="When an executor picked it up (UTC).")
    updated_at: datetime | None = Field(description="Last status change (UTC).")
    completed_at: datetime | None = Field(description="When it finished (UTC).")
    duration_seconds: float | None = Field(
        description="Seconds from enqueue to finish (queue wait included), once finished."
    )
    executor_id: str | None = Field(description="Executor (FLASHFUSION_WORKER_ID) running it.")
    queue: str | None = Field(description="Queue it waits in.")
    recovery_attempts: int = Field(description="Times it was recovered after a crash.")
    retry_of_job_id: uuid.UUID | None = Field(description="The failed job this one retries.")
    can_cancel: bool = Field(description="Whether cancel applies now.")
    can_resume: bool = Field(description="Whether resume applies now.")
    can_retry: bool = Field(description="Whether retry applies now.")


class JobDetail(Job):
    error: str | None = Field(description="Why the run failed, if it did.")
    steps: list[JobStep] = Field(description="Checkpointed steps, in order.")

"""Enqueue a job in the same transaction as the row that asks for it."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.jobs import engine
from flashfusion.jobs.registry import get_kind
from flashfusion.models import APIKey, Job, User


async def enqueue(
    session: AsyncSession,
    kind: str,
    *arguments: str,
    organization_id: uuid.UUID | None,
    summary: str,
    created_by: AuthSubject[Subject] | None = None,
    retry_of: Job | None = None,
) -> Job:
    """Write the Job row and DBOS's ENQUEUED row through the caller's connection.

    Both commit or roll back with the caller's unit of work: a rollback leaves no job behind,
    and a commit means the job survives any crash that follows.
    """
    job_kind = get_kind(kind)
    if job_kind is None:
        raise ValueError(f"unknown job kind {kind!r}")
    for argument in arguments:
        if not isinstance(argument, str):
            raise TypeError("job arguments are ids passed as strings")
    job = Job(
        id=uuid.uuid4(),
        organization_id=organization_id,
        kind=kind,
        arguments=list(arguments),
        summary=summary[:200],
        retry_of_job_id=retry_of.id if retry_of else None,
    )
    if created_by is not None:
        if isinstance(created_by.subject, User):
            job.created_by_user_id = created_by.subject.id
        elif isinstance(created_by.subject, APIKey):
            job.created_by_api_key_id = created_by.subject.id
            job.created_by_user_id = created_by.subject.created_by_user_id
    job.workflow_id = f"{kind}:{job.id}"
    session.add(job)
    await session.flush()

    url = engine.system_database_url()
    options = {
        "workflow_name": kind,
        "queue_name": job_kind.queue,
        "workflow_id": job.workflow_id,
        "app_version": engine.APPLICATION_VERSION,
    }
    connection = await session.connection()
    await connection.run_sync(
        lambda sync_connection: engine.client(url).enqueue_in_transaction(
            sync_connection,
            options,  # type: ignore[arg-type]
            *arguments,
        )
    )
    return job

"""Enqueue a job in the same transaction as the row that asks for it."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.jobs import engine
from flashfusion.jobs.registry import get_kind
from flashfusion.models import APIKey, Job, User


@dataclass(frozen=True)
class JobRequest:
    """One job of `enqueue_many`: the arguments of `enqueue`."""

    kind: str
    arguments: tuple[str, ...]
    organization_id: uuid.UUID | None
    summary: str


def _job(
    kind: str,
    arguments: Sequence[str],
    *,
    organization_id: uuid.UUID | None,
    summary: str,
    created_by: AuthSubject[Subject] | None,
    retry_of: Job | None,
) -> tuple[Job, dict[str, Any]]:
    """The Job row and DBOS's enqueue options for it (nothing written yet)."""
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
    options = {
        "workflow_name": kind,
        "queue_name": job_kind.queue,
        "workflow_id": job.workflow_id,
        "app_version": engine.APPLICATION_VERSION,
    }
    return job, options


async def _write(session: AsyncSession, jobs: Sequence[tuple[Job, dict[str, Any]]]) -> None:
    """The Job rows (one flush) and DBOS's ENQUEUED rows (one hop to the sync connection)."""
    session.add_all([job for job, _ in jobs])
    await session.flush()
    url = engine.system_database_url()
    connection = await session.connection()

    def write(sync_connection: Any) -> None:
        client = engine.client(url)
        for job, options in jobs:
            client.enqueue_in_transaction(
                sync_connection,
                options,  # type: ignore[arg-type]
                *job.arguments,
            )

    await connection.run_sync(write)


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
    job, options = _job(
        kind,
        arguments,
        organization_id=organization_id,
        summary=summary,
        created_by=created_by,
        retry_of=retry_of,
    )
    await _write(session, [(job, options)])
    return job


async def enqueue_many(
    session: AsyncSession,
    requests: Sequence[JobRequest],
    *,
    created_by: AuthSubject[Subject] | None = None,
) -> list[Job]:
    """`enqueue` for many jobs at once, in their order (a bulk request): the same rows, in
    one flush and one pass through the connection instead of one of each per job. Every
    request is checked before anything is written."""
    jobs = [
        _job(
            r.kind,
            r.arguments,
            organization_id=r.organization_id,
            summary=r.summary,
            created_by=created_by,
            retry_of=None,
        )
        for r in requests
    ]
    if jobs:
        await _write(session, jobs)
    return [job for job, _ in jobs]

"""JobService and the /api/v1/jobs endpoints, in-process inside the rolled-back test transaction.

No executor runs here: jobs stay ENQUEUED unless a test changes them, so every status below is
the direct result of the service call under test. Real runs (steps, errors, crash recovery)
are covered by tests/jobs/test_durability.py.
"""

import uuid

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject
from flashfusion.auth.scope import Scope
from flashfusion.authz.permission import ROLE_PERMISSIONS, Permission
from flashfusion.exceptions import Conflict, NotPermitted, ResourceNotFound
from flashfusion.jobs.enqueue import enqueue
from flashfusion.jobs.repository import INTERNAL_QUEUE_NAME
from flashfusion.jobs.service import job as job_service
from flashfusion.kit.pagination import PaginationParams
from flashfusion.models import AuditEvent, Job, Organization, Role, User
from tests.fixtures.objects import Tenant, bearer, create_api_key

SELFTEST = "diagnostics.selftest"
PAGE = PaginationParams(1, 20)


def _status_table(session: AsyncSession) -> str:
    return (
        "workflow_status" if session.get_bind().dialect.name == "sqlite" else "dbos.workflow_status"
    )


async def workflow_row(session: AsyncSession, job: Job) -> tuple[str, str | None]:
    row = (
        await session.execute(
            text(
                f"SELECT status, queue_name FROM {_status_table(session)} WHERE workflow_uuid = :w"
            ),
            {"w": job.workflow_id},
        )
    ).one()
    return row[0], row[1]


async def enqueue_for(
    session: AsyncSession,
    organization: Organization | None,
    *arguments: str,
    summary: str = "Self-test",
) -> Job:
    return await enqueue(
        session,
        SELFTEST,
        *(arguments or ("3", "0.5")),
        organization_id=organization.id if organization else None,
        summary=summary,
    )


async def audit_events(session: AsyncSession, job: Job) -> list[AuditEvent]:
    result = await session.execute(
        select(AuditEvent)
        .where(AuditEvent.target_type == "job", AuditEvent.target_id == str(job.id))
        .order_by(AuditEvent.created_at)
    )
    return list(result.scalars().all())


def as_user(user: User) -> AuthSubject[User]:
    return AuthSubject(user)


# --- JobService ---------------------------------------------------------------------------


async def test_list_shows_only_the_organizations_own_jobs(
    session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    first = await enqueue_for(session, tenant.organization, summary="first")
    second = await enqueue_for(session, tenant.organization, "1", "0", summary="second")
    await enqueue_for(session, other_tenant.organization, summary="foreign")
    await enqueue_for(session, None, summary="instance-level")

    runs, total = await job_service.list(
        session,
        as_user(tenant.owner),
        organization_id=None,
        status=None,
        kind=None,
        pagination=PAGE,
    )

    assert total == 2
    assert {run.id for run in runs} == {first.id, second.id}
    by_id = {run.id: run for run in runs}
    run = by_id[first.id]
    assert run.organization_id == tenant.organization.id
    assert (run.kind, run.label, run.summary) == (SELFTEST, "Job engine self-test", "first")
    assert (run.status, run.queue) == ("ENQUEUED", "default")
    assert (run.started_at, run.completed_at, run.duration_seconds) == (None, None, None)
    assert run.recovery_attempts == 0
    assert (run.can_cancel, run.can_resume, run.can_retry) == (True, False, False)
    assert by_id[second.id].summary == "second"


async def test_list_filters_by_organization_status_and_kind(
    session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = await enqueue_for(session, tenant.organization)
    await enqueue_for(session, other_tenant.organization)
    owner = as_user(tenant.owner)

    async def ids(**filters: object) -> set[uuid.UUID]:
        arguments: dict[str, object] = {"organization_id": None, "status": None, "kind": None}
        arguments.update(filters)
        runs, total = await job_service.list(session, owner, pagination=PAGE, **arguments)  # type: ignore[arg-type]
        assert total == len(runs)
        return {run.id for run in runs}

    assert await ids(organization_id=tenant.organization.id) == {mine.id}
    # A workspace one is not a member of does not exist, as far as this caller can tell.
    with pytest.raises(ResourceNotFound, match="Organization not found"):
        await ids(organization_id=other_tenant.organization.id)
    assert await ids(status="ENQUEUED") == {mine.id}
    assert await ids(status="SUCCESS") == set()
    assert await ids(kind=SELFTEST) == {mine.id}
    assert await ids(kind="audit.export") == set()


async def test_get_of_a_job_not_yet_run_has_no_steps_and_no_error(
    session: AsyncSession, tenant: Tenant
) -> None:
    job = await enqueue_for(session, tenant.organization)

    detail = await job_service.get(session, as_user(tenant.owner), job.id)

    assert detail.id == job.id
    assert detail.status == "ENQUEUED"
    assert detail.steps == []
    assert detail.error is None
    assert detail.retry_of_job_id is None


async def test_get_of_another_tenants_job_is_not_found(
    session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    foreign = await enqueue_for(session, other_tenant.organization)
    instance_level = await enqueue_for(session, None)

    for job_id in (foreign.id, instance_level.id, uuid.uuid4()):
        with pytest.raises(ResourceNotFound) as raised:
            await job_service.get(session, as_user(tenant.owner), job_id)
        assert raised.value.detail == "Job not found."


async def test_cancel_an_enqueued_job_then_cancel_again_conflicts(
    session: AsyncSession, tenant: Tenant
) -> None:
    job = await enqueue_for(session, tenant.organization)
    owner = as_user(tenant.owner)

    detail = await job_service.cancel(session, owner, job.id)

    assert detail.status == "CANCELLED"
    assert detail.queue is None
    assert detail.completed_at is not None
    assert (detail.can_cancel, detail.can_resume, detail.can_retry) == (False, True, True)
    assert await workflow_row(session, job) == ("CANCELLED", None)
    [event] = await audit_events(session, job)
    assert event.action == "job.cancelled"
    assert event.outcome == "success"
    assert event.organization_id == tenant.organization.id
    assert (event.actor_type, event.actor_id) == ("user", tenant.owner.id)
    assert event.details == {"kind": SELFTEST}

    with pytest.raises(Conflict) as raised:
        await job_service.cancel(session, owner, job.id)
    assert raised.value.detail == (
        "This job is CANCELLED; only queued or running jobs can be cancelled."
    )
    assert await workflow_row(session, job) == ("CANCELLED", None)
    assert [e.action for e in await audit_events(session, job)] == ["job.cancelled"]


async def test_resume_a_cancelled_job_enqueues_it_on_the_internal_queue(
    session: AsyncSession, tenant: Tenant
) -> None:
    job = await enqueue_for(session, tenant.organization)
    owner = as_user(tenant.owner)
    await job_service.cancel(session, owner, job.id)

    detail = await job_service.resume(session, owner, job.id)

    assert detail.status == "ENQUEUED"
    assert detail.queue == INTERNAL_QUEUE_NAME == "_dbos_internal_queue"
    assert detail.completed_at is None
    assert (detail.can_cancel, detail.can_resume, detail.can_retry) == (True, False, False)
    assert await workflow_row(session, job) == ("ENQUEUED", "_dbos_internal_queue")
    assert [e.action for e in await audit_events(session, job)] == [
        "job.cancelled",
        "job.resumed",
    ]

    with pytest.raises(Conflict, match="This job is ENQUEUED; only cancelled jobs"):
        await job_service.resume(session, owner, job.id)


async def test_resume_of_an_enqueued_job_conflicts(session: AsyncSession, tenant: Tenant) -> None:
    job = await enqueue_for(session, tenant.organization)

    with pytest.raises(Conflict):
        await job_service.resume(session, as_user(tenant.owner), job.id)

    assert await workflow_row(session, job) == ("ENQUEUED", "default")
    assert await audit_events(session, job) == []


async def test_retry_creates_a_new_job_with_the_same_arguments(
    session: AsyncSession, tenant: Tenant
) -> None:
    job = await enqueue_for(session, tenant.organization, "7", "0.25", summary="original")
    owner = as_user(tenant.owner)
    await job_service.cancel(session, owner, job.id)

    detail = await job_service.retry(session, owner, job.id)

    assert detail.id != job.id
    assert detail.retry_of_job_id == job.id
    assert (detail.kind, detail.summary, detail.status, detail.queue) == (
        SELFTEST,
        "original",
        "ENQUEUED",
        "default",
    )
    new_job = await session.get(Job, detail.id)
    assert new_job is not None
    assert new_job.arguments == ["7", "0.25"]
    assert new_job.organization_id == tenant.organization.id
    assert new_job.created_by_user_id == tenant.owner.id
    assert new_job.workflow_id == f"{SELFTEST}:{new_job.id}"
    assert await workflow_row(session, new_job) == ("ENQUEUED", "default")
    # The original stays as it was.
    assert await workflow_row(session, job) == ("CANCELLED", None)
    retried = [e for e in await audit_events(session, job) if e.action == "job.retried"]
    assert [e.details for e in retried] == [{"kind": SELFTEST, "new_job_id": str(new_job.id)}]


async def test_retry_of_an_enqueued_job_conflicts(session: AsyncSession, tenant: Tenant) -> None:
    job = await enqueue_for(session, tenant.organization)

    with pytest.raises(Conflict) as raised:
        await job_service.retry(session, as_user(tenant.owner), job.id)

    assert raised.value.status_code == 409
    assert raised.value.detail == (
        "This job is ENQUEUED; only failed or cancelled jobs can be retried."
    )
    count = await session.execute(
        select(Job.id).where(Job.organization_id == tenant.organization.id)
    )
    assert list(count.scalars()) == [job.id]


def test_role_permissions_for_jobs() -> None:
    """The table the checks below rely on: editors see jobs, only admins and owners act."""
    assert {
        role: (Permission.jobs_read in perms, Permission.jobs_manage in perms)
        for role, perms in ROLE_PERMISSIONS.items()
    } == {
        Role.owner: (True, True),
        Role.admin: (True, True),
        Role.editor: (True, False),
        Role.viewer: (False, False),
    }


@pytest.mark.parametrize(
    ("role", "can_read", "can_manage"),
    [
        (Role.owner, True, True),
        (Role.admin, True, True),
        (Role.editor, True, False),
        (Role.viewer, False, False),
    ],
)
async def test_service_permissions_per_role(
    session: AsyncSession, tenant: Tenant, role: Role, can_read: bool, can_manage: bool
) -> None:
    job = await enqueue_for(session, tenant.organization)
    subject = as_user(tenant.users[role])

    if can_read:
        runs, _ = await job_service.list(
            session, subject, organization_id=None, status=None, kind=None, pagination=PAGE
        )
        assert [run.id for run in runs] == [job.id]
        assert (await job_service.get(session, subject, job.id)).id == job.id
    else:
        # Not allowed to read jobs in any of its workspaces: an explicit 403, not an empty list.
        with pytest.raises(NotPermitted, match="jobs:read"):
            await job_service.list(
                session, subject, organization_id=None, status=None, kind=None, pagination=PAGE
            )
        with pytest.raises(NotPermitted, match="jobs:read"):
            await job_service.get(session, subject, job.id)
    if can_manage:
        assert (await job_service.cancel(session, subject, job.id)).status == "CANCELLED"
    else:
        with pytest.raises(NotPermitted) as raised:
            await job_service.cancel(session, subject, job.id)
        assert raised.value.detail == (
            "Your role does not allow 'jobs:manage'; ask a workspace owner or admin."
        )
        assert await workflow_row(session, job) == ("ENQUEUED", "default")


# --- API ----------------------------------------------------------------------------------


async def test_api_list_and_get(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    job = await enqueue_for(session, tenant.organization, summary="via API")
    headers = bearer(tenant.tokens[Role.owner])

    listed = await client.get("/api/v1/jobs", headers=headers)
    assert listed.status_code == 200
    body = listed.json()
    assert body["pagination"] == {"total_count": 1, "max_page": 1}
    [item] = body["items"]
    assert (item["id"], item["status"], item["summary"], item["queue"]) == (
        str(job.id),
        "ENQUEUED",
        "via API",
        "default",
    )

    detail = await client.get(f"/api/v1/jobs/{job.id}", headers=headers)
    assert detail.status_code == 200
    assert detail.json()["steps"] == []
    assert detail.json()["error"] is None

    filtered = await client.get("/api/v1/jobs", params={"status": "SUCCESS"}, headers=headers)
    assert filtered.json()["items"] == []
    invalid = await client.get("/api/v1/jobs", params={"status": "DONE"}, headers=headers)
    assert invalid.status_code == 422


async def test_api_anonymous_is_401(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    job = await enqueue_for(session, tenant.organization)

    for method, url in (
        ("GET", "/api/v1/jobs"),
        ("GET", f"/api/v1/jobs/{job.id}"),
        ("POST", f"/api/v1/jobs/{job.id}/cancel"),
    ):
        response = await client.request(method, url)
        assert response.status_code == 401, url
        assert response.json()["error"] == "Unauthorized"
    assert await workflow_row(session, job) == ("ENQUEUED", "default")


async def test_api_other_tenants_job_is_404_like_a_missing_one(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    foreign = await enqueue_for(session, other_tenant.organization)
    headers = bearer(tenant.tokens[Role.owner])

    for action in ("", "/cancel", "/resume", "/retry"):
        method = "GET" if not action else "POST"
        response = await client.request(
            method, f"/api/v1/jobs/{foreign.id}{action}", headers=headers
        )
        missing = await client.request(
            method, f"/api/v1/jobs/{uuid.uuid4()}{action}", headers=headers
        )
        assert response.status_code == missing.status_code == 404
        assert (
            response.json()
            == missing.json()
            == {"error": "ResourceNotFound", "detail": "Job not found."}
        )
    assert await workflow_row(session, foreign) == ("ENQUEUED", "default")


async def test_api_missing_scope_is_403(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    job = await enqueue_for(session, tenant.organization)
    _, read_only = await create_api_key(
        session, organization=tenant.organization, user=tenant.owner, scopes={Scope.jobs_read}
    )
    _, no_jobs = await create_api_key(
        session, organization=tenant.organization, user=tenant.owner, scopes={Scope.members_read}
    )

    listed = await client.get("/api/v1/jobs", headers=bearer(no_jobs))
    assert listed.status_code == 403
    assert listed.json() == {
        "error": "InsufficientScope",
        "detail": "This API key lacks the scope jobs:read; create a key that has it.",
    }
    assert (
        await client.get(f"/api/v1/jobs/{job.id}", headers=bearer(read_only))
    ).status_code == 200
    cancel = await client.post(f"/api/v1/jobs/{job.id}/cancel", headers=bearer(read_only))
    assert cancel.status_code == 403
    assert cancel.json()["error"] == "InsufficientScope"
    assert "jobs:write" in cancel.json()["detail"]
    assert await workflow_row(session, job) == ("ENQUEUED", "default")


async def test_api_editor_can_read_but_not_cancel(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    job = await enqueue_for(session, tenant.organization)
    headers = bearer(tenant.tokens[Role.editor])

    assert (await client.get(f"/api/v1/jobs/{job.id}", headers=headers)).status_code == 200
    for action in ("cancel", "resume", "retry"):
        response = await client.post(f"/api/v1/jobs/{job.id}/{action}", headers=headers)
        assert response.status_code == 403, action
        assert response.json()["error"] == "NotPermitted"
        assert "jobs:manage" in response.json()["detail"]

    assert await workflow_row(session, job) == ("ENQUEUED", "default")
    denied = await audit_events(session, job)
    assert [(e.action, e.outcome, e.details) for e in denied] == [
        (f"job.{verb}", "denied", {"missing_permission": "jobs:manage"})
        for verb in ("cancelled", "resumed", "retried")
    ]
    jobs = await session.execute(
        select(Job.id).where(Job.organization_id == tenant.organization.id)
    )
    assert list(jobs.scalars()) == [job.id]


async def test_api_viewer_may_not_read_jobs(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    job = await enqueue_for(session, tenant.organization)
    headers = bearer(tenant.tokens[Role.viewer])

    for url in ("/api/v1/jobs", f"/api/v1/jobs/{job.id}"):
        response = await client.get(url, headers=headers)
        assert response.status_code == 403, url
        assert response.json()["error"] == "NotPermitted"
        assert "jobs:read" in response.json()["detail"]
    denied = await session.execute(
        select(AuditEvent.action).where(
            AuditEvent.organization_id == tenant.organization.id,
            AuditEvent.outcome == "denied",
        )
    )
    assert sorted(denied.scalars()) == ["job.list", "job.read"]


async def test_api_cancel_resume_retry_round_trip(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    job = await enqueue_for(session, tenant.organization, "2", "1")
    headers = bearer(tenant.tokens[Role.admin])

    cancelled = await client.post(f"/api/v1/jobs/{job.id}/cancel", headers=headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "CANCELLED"
    again = await client.post(f"/api/v1/jobs/{job.id}/cancel", headers=headers)
    assert again.status_code == 409
    assert again.json() == {
        "error": "Conflict",
        "detail": "This job is CANCELLED; only queued or running jobs can be cancelled.",
    }

    retried = await client.post(f"/api/v1/jobs/{job.id}/retry", headers=headers)
    assert retried.status_code == 201
    new = retried.json()
    assert new["retry_of_job_id"] == str(job.id)
    assert new["status"] == "ENQUEUED"
    retry_of_retry = await client.post(f"/api/v1/jobs/{new['id']}/retry", headers=headers)
    assert retry_of_retry.status_code == 409

    resumed = await client.post(f"/api/v1/jobs/{job.id}/resume", headers=headers)
    assert resumed.status_code == 200
    assert (resumed.json()["status"], resumed.json()["queue"]) == (
        "ENQUEUED",
        "_dbos_internal_queue",
    )
    events = await audit_events(session, job)
    assert [(e.action, e.actor_type) for e in events] == [
        ("job.cancelled", "api_key"),
        ("job.retried", "api_key"),
        ("job.resumed", "api_key"),
    ]
    assert all(e.user_id == tenant.users[Role.admin].id for e in events)

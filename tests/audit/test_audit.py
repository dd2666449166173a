"""Audit log: denials survive rollbacks, filters, CSV export (content, order, formula
injection), download only when done, account-level events only for their user."""

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.audit import tasks as audit_tasks
from flashfusion.audit.log import CSV_COLUMNS, csv_safe
from flashfusion.audit.log import audit_log as audit_log_service
from flashfusion.audit.repository import AuditFilters
from flashfusion.audit.service import audit as audit_service
from flashfusion.audit.tasks import write_export
from flashfusion.auth.models import AuthSubject
from flashfusion.db import unit_of_work
from flashfusion.exceptions import Conflict, NotPermitted
from flashfusion.kit.pagination import PaginationParams
from flashfusion.kit.request_context import RequestContext, set_request_context
from flashfusion.models import (
    ActorType,
    AuditEvent,
    AuditExport,
    ExportStatus,
    Organization,
    Outcome,
    Role,
    User,
    utc_now,
)
from tests.fixtures.objects import Tenant, bearer, create_organization, create_user

BASE = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)


def event(
    organization: Organization | None,
    *,
    action: str,
    at: datetime,
    actor: str = "alice@example.com",
    outcome: Outcome = Outcome.success,
    user_id: uuid.UUID | None = None,
    **extra: object,
) -> AuditEvent:
    return AuditEvent(
        id=uuid.uuid4(),
        created_at=at,
        organization_id=organization.id if organization else None,
        user_id=user_id,
        actor_type=ActorType.user,
        actor_id=user_id,
        actor_label=actor,
        action=action,
        outcome=outcome,
        details=extra.pop("details", {}),
        **extra,
    )


async def count(session: AsyncSession, *where: object) -> int:
    result = await session.execute(select(func.count()).select_from(AuditEvent).where(*where))
    return int(result.scalar_one())


# --- recording ------------------------------------------------------------------------------


async def test_a_denial_is_kept_when_the_request_rolls_back(session: AsyncSession) -> None:
    organization = await create_organization(session)
    user = await create_user(session)
    subject = AuthSubject(user)

    async def failing_request() -> None:
        async with unit_of_work() as uow:
            await audit_service.record(
                uow, subject, action="member.removed", organization_id=organization.id
            )
            audit_service.record_denied(
                uow,
                subject,
                action="organization.updated",
                organization_id=organization.id,
                target_type="organization",
                target_id=organization.id,
                details={"missing_permission": "organization:manage"},
            )
            raise RuntimeError("the request failed after the check")

    set_request_context(RequestContext(request_id="req-audit-0001", ip="198.51.100.5"))
    try:
        with pytest.raises(RuntimeError, match="the request failed after the check"):
            await failing_request()
    finally:
        set_request_context(RequestContext())
    rows = (await session.execute(select(AuditEvent))).scalars().all()
    # The success event of the failed unit of work is gone; the denial stayed.
    assert len(rows) == 1
    denial = rows[0]
    assert (denial.action, denial.outcome, denial.organization_id) == (
        "organization.updated",
        Outcome.denied,
        organization.id,
    )
    assert (denial.actor_type, denial.actor_id, denial.actor_label, denial.user_id) == (
        ActorType.user,
        user.id,
        user.email,
        user.id,
    )
    assert (denial.target_type, denial.target_id) == ("organization", str(organization.id))
    assert (denial.ip, denial.request_id) == ("198.51.100.5", "req-audit-0001")
    assert denial.details == {"missing_permission": "organization:manage"}


async def test_a_denial_is_kept_when_the_request_succeeds_too(session: AsyncSession) -> None:
    organization = await create_organization(session)
    async with unit_of_work() as uow:
        audit_service.record_denied(
            uow, None, action="api_key.authenticate", organization_id=organization.id
        )
        await audit_service.record(uow, None, action="job.cancelled")
    actions = (await session.execute(select(AuditEvent.action, AuditEvent.actor_type))).all()
    assert sorted((a, str(t)) for a, t in actions) == [
        ("api_key.authenticate", "system"),
        ("job.cancelled", "system"),
    ]


async def test_api_denial_is_audited_and_changes_nothing(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    organization = tenant.organization
    response = await client.patch(
        f"/api/v1/organizations/{organization.id}",
        json={"name": "Hijacked"},
        headers=bearer(tenant.tokens[Role.viewer]),
    )
    assert response.status_code == 403
    assert response.json() == {
        "error": "NotPermitted",
        "detail": "This API key acts with the role of the member who created it (viewer), "
        "which does not allow 'organization:manage'; ask a workspace admin.",
    }
    await session.refresh(organization)
    assert organization.name == "Tenant A"
    denial = (
        await session.execute(select(AuditEvent).where(AuditEvent.outcome == Outcome.denied))
    ).scalar_one()
    assert (denial.action, denial.actor_type, denial.organization_id, denial.ip) == (
        "organization.updated",
        ActorType.api_key,
        organization.id,
        "203.0.113.7",
    )
    assert denial.user_id == tenant.users[Role.viewer].id
    assert denial.details == {"missing_permission": "organization:manage"}
    # The only success recorded is the key's first use, kept although the call failed.
    successes = (
        (await session.execute(select(AuditEvent).where(AuditEvent.outcome == Outcome.success)))
        .scalars()
        .all()
    )
    assert [(e.action, e.details) for e in successes] == [
        ("api_key.used", {"request": f"PATCH /api/v1/organizations/{organization.id}"})
    ]


async def test_audit_events_are_append_only(session: AsyncSession) -> None:
    organization = await create_organization(session)
    session.add(event(organization, action="member.removed", at=BASE))
    await session.flush()
    for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="audit_events is append-only"):
            async with session.begin_nested():
                await session.execute(text(statement))
    assert await count(session, AuditEvent.action == "member.removed") == 1


# --- filters --------------------------------------------------------------------------------


@pytest.fixture
async def logged(session: AsyncSession, tenant: Tenant) -> list[AuditEvent]:
    """Five events in tenant A, oldest first, plus noise elsewhere."""
    org = tenant.organization
    events = [
        event(org, action="member.role_changed", at=BASE, actor="alice@example.com"),
        event(org, action="member.removed", at=BASE + timedelta(hours=1), actor="BOB@example.com"),
        event(
            org,
            action="api_key.created",
            at=BASE + timedelta(days=1),
            actor="API key ci (ffk_AbCd…)",
            outcome=Outcome.denied,
        ),
        event(
            org,
            action="organization.updated",
            at=BASE + timedelta(days=2),
            actor="alice@example.com",
        ),
        event(
            org,
            action="member.removed",
            at=BASE + timedelta(days=3),
            actor="carol@example.com",
            outcome=Outcome.failure,
        ),
    ]
    other = await create_organization(session)
    noise = [
        event(other, action="member.removed", at=BASE, actor="alice@example.com"),
        event(None, action="user.login", at=BASE, actor="alice@example.com"),
    ]
    session.add_all(events + noise)
    await session.flush()
    return events


async def listed(session: AsyncSession, tenant: Tenant, **filters: object) -> tuple[list[str], int]:
    results, total = await audit_log_service.list(
        session,
        AuthSubject(tenant.owner),
        organization_id=tenant.organization.id,
        filters=AuditFilters(**filters),  # type: ignore[arg-type]
        pagination=PaginationParams(1, 50),
    )
    return [f"{e.action}@{e.created_at:%d %H}" for e in results], total


async def test_log_is_newest_first_and_only_this_workspace(
    session: AsyncSession, tenant: Tenant, logged: list[AuditEvent]
) -> None:
    assert await listed(session, tenant) == (
        [
            "member.removed@23 12",
            "organization.updated@22 12",
            "api_key.created@21 12",
            "member.removed@20 13",
            "member.role_changed@20 12",
        ],
        5,
    )


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (
            {"action": "member."},
            ["member.removed@23 12", "member.removed@20 13", "member.role_changed@20 12"],
        ),
        ({"action": "member.removed"}, ["member.removed@23 12", "member.removed@20 13"]),
        ({"action": "removed"}, []),  # a prefix, not a substring
        ({"actor": "bob"}, ["member.removed@20 13"]),  # case-insensitive substring
        ({"actor": "ALICE"}, ["organization.updated@22 12", "member.role_changed@20 12"]),
        ({"actor": "ffk_abcd"}, ["api_key.created@21 12"]),
        ({"outcome": "denied"}, ["api_key.created@21 12"]),
        ({"outcome": "failure"}, ["member.removed@23 12"]),
        (
            {"since": BASE + timedelta(days=1)},  # inclusive
            ["member.removed@23 12", "organization.updated@22 12", "api_key.created@21 12"],
        ),
        (
            {"until": BASE + timedelta(days=1)},  # exclusive
            ["member.removed@20 13", "member.role_changed@20 12"],
        ),
        (
            {
                "action": "member.",
                "since": BASE + timedelta(minutes=30),
                "until": BASE + timedelta(days=5),
            },
            ["member.removed@23 12", "member.removed@20 13"],
        ),
    ],
)
async def test_filters(
    session: AsyncSession,
    tenant: Tenant,
    logged: list[AuditEvent],
    filters: dict[str, object],
    expected: list[str],
) -> None:
    assert await listed(session, tenant, **filters) == (expected, len(expected))


async def test_reading_the_log_needs_audit_read(
    session: AsyncSession, tenant: Tenant, logged: list[AuditEvent]
) -> None:
    with pytest.raises(NotPermitted):
        await audit_log_service.list(
            session,
            AuthSubject(tenant.users[Role.editor]),
            organization_id=tenant.organization.id,
            filters=AuditFilters(),
            pagination=PaginationParams(1, 50),
        )
    results, total = await audit_log_service.list(
        session,
        AuthSubject(tenant.users[Role.admin]),
        organization_id=tenant.organization.id,
        filters=AuditFilters(),
        pagination=PaginationParams(2, 2),
    )
    assert total == 5
    assert [e.id for e in results] == [logged[2].id, logged[1].id]


async def test_api_lists_the_log_with_filters(
    client: httpx.AsyncClient, tenant: Tenant, logged: list[AuditEvent]
) -> None:
    response = await client.get(
        "/api/v1/audit_events",
        params={"action": "member.removed", "outcome": "failure"},
        headers=bearer(tenant.tokens[Role.owner]),
    )
    assert response.status_code == 200
    target = logged[4]
    assert response.json() == {
        "items": [
            {
                "id": str(target.id),
                "created_at": "2026-11-23T12:00:00Z",
                "organization_id": str(tenant.organization.id),
                "actor_type": "user",
                "actor_id": None,
                "actor_label": "carol@example.com",
                "action": "member.removed",
                "target_type": None,
                "target_id": None,
                "outcome": "failure",
                "ip": None,
                "user_agent": None,
                "request_id": None,
                "details": {},
            }
        ],
        "pagination": {"total_count": 1, "max_page": 1},
    }


# --- account-level events ---------------------------------------------------------------


async def test_account_events_are_visible_only_to_their_user(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    alice = tenant.owner
    bob = await create_user(session)
    session.add_all(
        [
            event(None, action="user.login", at=BASE, user_id=alice.id, actor=alice.email),
            event(None, action="user.2fa_enabled", at=BASE + timedelta(hours=1), user_id=alice.id),
            event(None, action="user.login", at=BASE, user_id=bob.id, actor=bob.email),
            # An organization event about Alice belongs to the workspace log, not her page.
            event(tenant.organization, action="member.role_changed", at=BASE, user_id=alice.id),
        ]
    )
    await session.flush()
    mine, total = await audit_log_service.list_for_user(session, alice, PaginationParams(1, 15))
    assert ([e.action for e in mine], total) == (["user.2fa_enabled", "user.login"], 2)
    theirs, _ = await audit_log_service.list_for_user(session, bob, PaginationParams(1, 15))
    assert [(e.action, e.user_id) for e in theirs] == [("user.login", bob.id)]
    # Account-level events never show in a workspace's log.
    response = await client.get("/api/v1/audit_events", headers=bearer(tenant.tokens[Role.owner]))
    assert [item["action"] for item in response.json()["items"]] == ["member.role_changed"]


# --- CSV export -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("a=1", "a=1"),
        ("alice@example.com", "alice@example.com"),
        ("", ""),
        (None, ""),
        (42, "42"),
    ],
)
def test_csv_safe(value: object, expected: str) -> None:
    assert csv_safe(value) == expected


async def create_export(
    session: AsyncSession, tenant: Tenant, filters: AuditFilters | None = None
) -> AuditExport:
    return await audit_log_service.create_export(
        session,
        AuthSubject(tenant.owner),
        organization_id=tenant.organization.id,
        filters=filters or AuditFilters(),
    )


async def test_write_export_produces_the_csv(session: AsyncSession, tenant: Tenant) -> None:
    org = tenant.organization
    first = event(
        org,
        action="member.role_changed",
        at=BASE,
        user_id=tenant.owner.id,
        actor=tenant.owner.email,
        target_type="member",
        target_id="m-1",
        ip="198.51.100.1",
        user_agent="Firefox, 140",
        request_id="req-1",
        details={"to": "viewer", "from": "editor"},
    )
    second = event(
        org,
        action="api_key.created",
        at=BASE + timedelta(minutes=5),
        actor="API key ci (ffk_AbCd…)",
        outcome=Outcome.denied,
        details={"scopes": ["audit:read"]},
    )
    session.add_all([first, second])
    await session.flush()
    export = await create_export(session, tenant)
    assert export.status == ExportStatus.pending
    # Logged after the export was requested: left out of it.
    session.add(event(org, action="member.removed", at=utc_now() + timedelta(seconds=5)))
    await session.flush()

    # The two events; the export's own "audit.exported" event came after the request.
    assert await write_export(str(export.id)) == 2
    stored = (
        await session.execute(
            select(AuditExport)
            .where(AuditExport.id == export.id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    await session.refresh(stored, ["content"])
    assert stored.status == ExportStatus.done
    assert (stored.rows_total, stored.rows_written) == (2, 2)
    assert stored.completed_at is not None
    assert stored.content is not None
    assert stored.byte_size == len(stored.content)
    rows = list(csv.reader(io.StringIO(stored.content.decode())))
    assert (
        rows[0]
        == CSV_COLUMNS
        == [
            "created_at",
            "action",
            "outcome",
            "actor_type",
            "actor_label",
            "actor_id",
            "target_type",
            "target_id",
            "ip",
            "user_agent",
            "request_id",
            "details",
        ]
    )
    assert [row[1] for row in rows[1:]] == ["api_key.created", "member.role_changed"]
    assert rows[1] == [
        "2026-11-20T12:05:00+00:00",
        "api_key.created",
        "denied",
        "user",
        "API key ci (ffk_AbCd…)",
        "",
        "",
        "",
        "",
        "",
        "",
        '{"scopes": ["audit:read"]}',
    ]
    assert rows[2] == [
        "2026-11-20T12:00:00+00:00",
        "member.role_changed",
        "success",
        "user",
        tenant.owner.email,
        str(tenant.owner.id),
        "member",
        "m-1",
        "198.51.100.1",
        "Firefox, 140",
        "req-1",
        '{"from": "editor", "to": "viewer"}',  # keys sorted
    ]
    # Running the step again (a retry after a crash) does not write the file twice.
    assert await write_export(str(export.id)) == 2


async def test_export_applies_its_filters(session: AsyncSession, tenant: Tenant) -> None:
    org = tenant.organization
    session.add_all(
        [
            event(org, action="member.removed", at=BASE, outcome=Outcome.denied),
            event(org, action="member.removed", at=BASE + timedelta(hours=1)),
            event(org, action="api_key.created", at=BASE, outcome=Outcome.denied),
        ]
    )
    await session.flush()
    export = await create_export(
        session,
        tenant,
        AuditFilters(action="member.", outcome="denied", since=BASE - timedelta(days=1)),
    )
    assert export.filters == {
        "action": "member.",
        "outcome": "denied",
        "since": "2026-11-19T12:00:00+00:00",
    }
    assert await write_export(str(export.id)) == 1
    export = await audit_log_service.get_export(
        session, AuthSubject(tenant.owner), export.id, with_content=True
    )
    rows = list(csv.reader(io.StringIO((export.content or b"").decode())))
    assert [(r[1], r[2]) for r in rows[1:]] == [("member.removed", "denied")]


async def test_export_pages_through_many_rows_without_gaps(
    session: AsyncSession, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_tasks, "BATCH_SIZE", 2)
    org = tenant.organization
    session.add_all(
        [event(org, action=f"test.event{i}", at=BASE + timedelta(minutes=i)) for i in range(7)]
    )
    await session.flush()
    export = await create_export(session, tenant, AuditFilters(action="test."))
    assert await write_export(str(export.id)) == 7
    export = await audit_log_service.get_export(
        session, AuthSubject(tenant.owner), export.id, with_content=True
    )
    rows = list(csv.reader(io.StringIO((export.content or b"").decode())))
    assert [r[1] for r in rows[1:]] == [f"test.event{i}" for i in range(6, -1, -1)]


async def test_spreadsheet_formulas_are_neutralised_in_the_export(
    session: AsyncSession, tenant: Tenant
) -> None:
    org = tenant.organization
    session.add(
        event(
            org,
            action="member.removed",
            at=BASE,
            actor='=HYPERLINK("http://evil.example","click")',
            target_type="+cmd",
            target_id="-2+3",
            user_agent="@SUM(A1:A9)",
            request_id="\tinjected",
            ip="\r=1",
        )
    )
    await session.flush()
    export = await create_export(session, tenant, AuditFilters(action="member."))
    await write_export(str(export.id))
    export = await audit_log_service.get_export(
        session, AuthSubject(tenant.owner), export.id, with_content=True
    )
    [header, row] = list(csv.reader(io.StringIO((export.content or b"").decode())))
    values = dict(zip(header, row, strict=True))
    assert values["actor_label"] == '\'=HYPERLINK("http://evil.example","click")'
    assert values["target_type"] == "'+cmd"
    assert values["target_id"] == "'-2+3"
    assert values["user_agent"] == "'@SUM(A1:A9)"
    assert values["request_id"] == "'\tinjected"
    assert values["ip"] == "'\r=1"
    for value in row:
        assert value == "" or value[0] not in "=+-@\t\r"


async def test_export_download_is_409_until_done(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    headers = bearer(tenant.tokens[Role.owner])
    session.add(event(tenant.organization, action="audit.read", at=BASE, details={"note": "=1+1"}))
    await session.flush()
    created = await client.post(
        "/api/v1/audit_events/exports", json={"action": "audit."}, headers=headers
    )
    assert created.status_code == 202
    body = created.json()
    export_id = body["id"]
    assert body["status"] == "pending"
    assert body["organization_id"] == str(tenant.organization.id)
    assert body["filters"] == {"action": "audit."}
    assert (body["rows_total"], body["rows_written"], body["byte_size"]) == (None, 0, None)

    pending = await client.get(
        f"/api/v1/audit_events/exports/{export_id}/download", headers=headers
    )
    assert pending.status_code == 409
    assert pending.json() == {
        "error": "Conflict",
        "detail": "The export is pending; download it once it is done.",
    }
    export = await session.get(AuditExport, uuid.UUID(export_id))
    assert export is not None
    export.status = ExportStatus.running
    await session.flush()
    running = await client.get(
        f"/api/v1/audit_events/exports/{export_id}/download", headers=headers
    )
    assert running.status_code == 409
    assert running.json()["detail"] == "The export is running; download it once it is done."
    export.status = ExportStatus.pending
    await session.flush()

    assert await write_export(export_id) == 1
    progress = await client.get(f"/api/v1/audit_events/exports/{export_id}", headers=headers)
    assert progress.json()["status"] == "done"
    assert progress.json()["rows_written"] == 1
    done = await client.get(f"/api/v1/audit_events/exports/{export_id}/download", headers=headers)
    assert done.status_code == 200
    assert done.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(done.text)))
    assert rows[0] == CSV_COLUMNS
    assert [(r[0], r[1], r[2]) for r in rows[1:]] == [
        ("2026-11-20T12:00:00+00:00", "audit.read", "success")
    ]
    assert json.loads(rows[1][11]) == {"note": "=1+1"}
    assert progress.json()["byte_size"] == len(done.content)


async def test_failed_export_cannot_be_downloaded(session: AsyncSession, tenant: Tenant) -> None:
    export = await create_export(session, tenant)
    await audit_tasks.fail_export(str(export.id), "OperationalError: disk full")
    session.expunge(export)  # the job wrote through its own session
    with pytest.raises(Conflict, match="The export is failed"):
        await audit_log_service.download(session, AuthSubject(tenant.owner), export.id)
    stored = await audit_log_service.get_export(session, AuthSubject(tenant.owner), export.id)
    await session.refresh(stored)
    assert (stored.status, stored.error) == (ExportStatus.failed, "OperationalError: disk full")


async def test_exports_of_another_workspace_are_not_found(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    export = await create_export(session, other_tenant)
    for path in (f"/{export.id}", f"/{export.id}/download"):
        response = await client.get(
            f"/api/v1/audit_events/exports{path}", headers=bearer(tenant.tokens[Role.owner])
        )
        assert response.status_code == 404
        assert response.json() == {"error": "ResourceNotFound", "detail": "Export not found."}


async def test_creating_an_export_needs_audit_read_and_is_audited(
    session: AsyncSession, tenant: Tenant
) -> None:
    with pytest.raises(NotPermitted):
        await audit_log_service.create_export(
            session,
            AuthSubject(tenant.users[Role.editor]),
            organization_id=tenant.organization.id,
            filters=AuditFilters(),
        )
    assert await session.scalar(select(func.count()).select_from(AuditExport)) == 0
    export = await create_export(session, tenant, AuditFilters(outcome="denied"))
    recorded = (
        await session.execute(select(AuditEvent).where(AuditEvent.action == "audit.exported"))
    ).scalar_one()
    assert (recorded.target_type, recorded.target_id, recorded.details) == (
        "audit_export",
        str(export.id),
        {"filters": {"outcome": "denied"}},
    )
    users = (await session.execute(select(User.id))).scalars().all()
    assert export.requested_by_user_id in users

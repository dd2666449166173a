"""Token health: an expiring OAuth token is refreshed exactly once however many workers see it
at the same moment (each on its own session and connection); a dead grant marks the connection
`needs_reconnect` and emails the owner and admins once; a refresh answer without a refresh token
keeps the stored one; a transient failure is retryable and changes nothing; a refresh survives
its caller's rollback."""

import asyncio
import email
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from flashfusion import db
from flashfusion.connector import token as token_health
from flashfusion.connector.base import ConnectorAuthError, RetryableConnectorError, TokenSet
from flashfusion.connector.service import connection as connection_service
from flashfusion.models import ConnectionStatus, Job, Organization, PlatformConnection, Role
from tests.connector import OAUTH_PLATFORM, FakePlatform, fake_platform
from tests.fixtures.objects import Tenant, create_organization

__all__ = ["fake_platform"]


def connection_row(
    organization_id: uuid.UUID, platform: FakePlatform, *, expires_in: float
) -> tuple[PlatformConnection, str, str]:
    access, refresh = platform.issue("shop-1")
    row = PlatformConnection(
        id=uuid.uuid4(),
        organization_id=organization_id,
        platform=OAUTH_PLATFORM,
        name="Etsy shop",
        status=ConnectionStatus.active,
        sandbox=False,
        account_id="shop-1",
        account_name="My Shop",
        account={},
        token_version=0,
    )
    token_health.store_tokens(
        row, {}, TokenSet(access, refresh, datetime.now(UTC) + timedelta(seconds=expires_in))
    )
    return row, access, refresh


async def expiring(
    session: AsyncSession, tenant: Tenant, platform: FakePlatform, expires_in: float = 60
) -> tuple[PlatformConnection, str, str]:
    row, access, refresh = connection_row(tenant.organization.id, platform, expires_in=expires_in)
    session.add(row)
    await session.flush()
    return row, access, refresh


def slow_refreshes(platform: FakePlatform, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every token call takes 50 ms, so that concurrent workers really overlap."""
    from flashfusion.connector import http as connector_http
    from flashfusion.connector import registry

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            await asyncio.sleep(0.05)
        return platform.handler(request)

    def client_for(connection: Any, connector: Any = None) -> httpx.AsyncClient:
        connector = connector or registry.get_connector(connection.platform)
        return httpx.AsyncClient(
            transport=httpx.MockTransport(handler), base_url=connector.default_base_url
        )

    monkeypatch.setattr(connector_http, "client_for", client_for)


# --- exactly one refresh ---------------------------------------------------------------------


@pytest.fixture
async def committed(fake_platform: FakePlatform) -> AsyncIterator[PlatformConnection]:
    """A committed workspace and expiring connection (workers see only committed rows)."""
    async with db.unit_of_work() as session:
        organization = await create_organization(session)
        row, _, _ = connection_row(organization.id, fake_platform, expires_in=30)
        session.add(row)
    try:
        yield row
    finally:
        async with db.unit_of_work() as session:
            await session.execute(delete(Job).where(Job.organization_id == organization.id))
            await session.execute(delete(PlatformConnection).where(PlatformConnection.id == row.id))
            await session.execute(delete(Organization).where(Organization.id == organization.id))
        await db.dispose_engines()


async def test_ten_concurrent_workers_cause_exactly_one_refresh(
    committed: PlatformConnection,
    fake_platform: FakePlatform,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow_refreshes(fake_platform, monkeypatch)
    # Ten workers, each with its own engine (its own database connection, as separate
    # processes have), each holding the connection as it read it: expiring.
    engines: list[AsyncEngine] = [db.create_engine() for _ in range(10)]
    sessions = [AsyncSession(engine, expire_on_commit=False) for engine in engines]
    rows = []
    for session in sessions:
        row = await session.get(PlatformConnection, committed.id)
        assert row is not None
        assert token_health.needs_refresh(row)
        rows.append(row)
        await session.commit()

    async def worker(session: AsyncSession, row: PlatformConnection) -> str:
        fresh = await token_health.ensure_fresh(session, row)
        await session.commit()
        return token_health.read_credentials(fresh)["access_token"]

    try:
        tokens = await asyncio.gather(*(worker(s, r) for s, r in zip(sessions, rows, strict=True)))
    finally:
        for session in sessions:
            await session.close()
        for engine in engines:
            await engine.dispose()
    assert fake_platform.calls["refresh"] == 1
    assert len(set(tokens)) == 1
    assert tokens[0] in fake_platform.tokens
    async with db.unit_of_work(read_only=True) as session:
        stored = await session.get(PlatformConnection, committed.id)
        assert stored is not None
        assert stored.token_version == committed.token_version + 1
        assert not token_health.needs_refresh(stored)
        credentials = token_health.read_credentials(stored)
    assert credentials["access_token"] == tokens[0]
    assert credentials["refresh_token"] in fake_platform.refresh_tokens  # the rotated one


async def test_workers_reading_inside_their_transactions_also_refresh_once(
    committed: PlatformConnection,
    fake_platform: FakePlatform,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow_refreshes(fake_platform, monkeypatch)

    async def worker() -> str:
        async with db.unit_of_work() as session:
            row = await connection_service.get_for_worker(session, committed.id)
            assert row is not None
            async with connection_service.open_context(session, row) as ctx:
                return ctx.credentials["access_token"]

    tokens = await asyncio.gather(*(worker() for _ in range(10)))
    assert fake_platform.calls["refresh"] == 1
    assert len(set(tokens)) == 1


class Boom(Exception):
    """The caller's own work fails after the refresh: its unit of work rolls back."""


async def refresh_then_fail(connection_id: uuid.UUID) -> None:
    async with db.unit_of_work() as session:
        row = await connection_service.get_for_worker(session, connection_id)
        assert row is not None
        await token_health.ensure_fresh(session, row)
        raise Boom


async def test_a_refresh_survives_the_callers_rollback(
    committed: PlatformConnection,
    fake_platform: FakePlatform,
) -> None:
    with pytest.raises(Boom):
        await refresh_then_fail(committed.id)
    assert fake_platform.calls["refresh"] == 1
    async with db.unit_of_work(read_only=True) as session:
        stored = await session.get(PlatformConnection, committed.id)
        assert stored is not None
        credentials = token_health.read_credentials(stored)
    # The platform rotated the refresh token: the new one is the one that counts.
    assert credentials["refresh_token"] in fake_platform.refresh_tokens
    assert not token_health.needs_refresh(stored)


async def test_a_rolled_back_refresh_is_not_repeated_by_the_next_worker(
    committed: PlatformConnection,
    fake_platform: FakePlatform,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Worker A refreshes (the platform rotates the refresh token) and its work rolls back;
    worker B gets the write lock before A's tokens are written again. B must not send the
    rotated-away refresh token (the grant would be reported dead): it uses A's tokens."""
    slow_refreshes(fake_platform, monkeypatch)

    async def use() -> tuple[str, ConnectionStatus]:
        async with db.unit_of_work() as session:
            row = await connection_service.get_for_worker(session, committed.id)
            assert row is not None
            fresh = await token_health.ensure_fresh(session, row)
            return token_health.read_credentials(fresh)["access_token"], fresh.status

    failed, used = await asyncio.gather(
        refresh_then_fail(committed.id), use(), return_exceptions=True
    )
    assert isinstance(failed, Boom)
    assert not isinstance(used, BaseException), used
    token, status = used
    assert fake_platform.calls["refresh"] == 1
    assert status == ConnectionStatus.active
    assert token in fake_platform.tokens
    async with db.unit_of_work(read_only=True) as session:
        stored = await session.get(PlatformConnection, committed.id)
        assert stored is not None
        assert (stored.status, stored.token_version) == (ConnectionStatus.active, 2)
        credentials = token_health.read_credentials(stored)
    assert credentials["access_token"] == token
    assert credentials["refresh_token"] in fake_platform.refresh_tokens


async def test_a_dead_grant_is_recorded_and_notified_once_when_the_callers_roll_back(
    committed: PlatformConnection,
    fake_platform: FakePlatform,
) -> None:
    fake_platform.refresh_mode = "invalid_grant"

    async def worker() -> None:
        # The auth error propagates: the caller's unit of work rolls back.
        async with db.unit_of_work() as session:
            row = await connection_service.get_for_worker(session, committed.id)
            assert row is not None
            await token_health.ensure_fresh(session, row)

    outcomes = await asyncio.gather(*(worker() for _ in range(3)), return_exceptions=True)
    assert all(isinstance(o, ConnectorAuthError) and o.needs_reconnect for o in outcomes)
    for _ in range(2):
        with pytest.raises(ConnectorAuthError):
            await worker()
    assert fake_platform.calls["refresh"] == 1
    async with db.unit_of_work(read_only=True) as session:
        stored = await session.get(PlatformConnection, committed.id)
        assert stored is not None
        assert (stored.status, stored.problem_code, stored.problem_message) == (
            ConnectionStatus.needs_reconnect,
            "invalid_grant",
            "grant revoked",
        )
        assert stored.problem_notified_at is not None
        notices = (
            (await session.execute(select(Job).where(Job.kind == token_health.NOTICE_JOB)))
            .scalars()
            .all()
        )
    assert [n.arguments for n in notices] == [[str(committed.id)]]


# --- what a refresh answer changes ------------------------------------------------------------


async def test_an_answer_without_a_refresh_token_keeps_the_stored_one(
    session: AsyncSession,
    tenant: Tenant,
    fake_platform: FakePlatform,
) -> None:
    fake_platform.refresh_mode = "no_refresh_token"
    row, access, refresh = await expiring(session, tenant, fake_platform)
    version = row.token_version
    fresh = await token_health.ensure_fresh(session, row)
    credentials = token_health.read_credentials(fresh)
    assert credentials["refresh_token"] == refresh
    assert credentials["access_token"] != access
    assert credentials["access_token"] in fake_platform.tokens
    assert fresh.token_version == version + 1
    assert fresh.last_refreshed_at is not None
    assert fresh.credential_hint == credentials["access_token"][-4:]


async def test_a_token_far_from_expiry_is_not_refreshed(
    session: AsyncSession,
    tenant: Tenant,
    fake_platform: FakePlatform,
) -> None:
    row, access, _ = await expiring(session, tenant, fake_platform, expires_in=3600)
    fresh = await token_health.ensure_fresh(session, row)
    assert token_health.read_credentials(fresh)["access_token"] == access
    assert fake_platform.calls["refresh"] == 0


async def test_a_transient_failure_is_retryable_and_changes_nothing(
    session: AsyncSession,
    tenant: Tenant,
    fake_platform: FakePlatform,
) -> None:
    fake_platform.refresh_mode = "unavailable"
    row, access, refresh = await expiring(session, tenant, fake_platform)
    before = (row.token_version, row.encrypted_credentials, row.token_expires_at)
    with pytest.raises(RetryableConnectorError) as raised:
        await token_health.ensure_fresh(session, row)
    assert raised.value.code == "server_error"
    await session.refresh(row)
    assert row.status == ConnectionStatus.active
    assert row.problem_code is None
    assert (row.token_version, row.encrypted_credentials, row.token_expires_at) == before
    assert await session.scalar(select(Job.id).where(Job.kind == token_health.NOTICE_JOB)) is None


# --- a dead grant ------------------------------------------------------------------------------


async def test_invalid_grant_needs_reconnect_and_emails_once(
    session: AsyncSession,
    tenant: Tenant,
    fake_platform: FakePlatform,
    mail_dir: Path,
) -> None:
    from flashfusion.connector import tasks

    fake_platform.refresh_mode = "invalid_grant"
    row, _, _ = await expiring(session, tenant, fake_platform)
    queued = Job(
        id=uuid.uuid4(),
        organization_id=tenant.organization.id,
        kind="publish.listing",
        arguments=["x"],
        summary="queued work",
        workflow_id=f"x:{uuid.uuid4()}",
    )
    session.add(queued)
    await session.flush()

    for _ in range(3):
        with pytest.raises(ConnectorAuthError) as raised:
            await token_health.ensure_fresh(session, row)
        assert raised.value.needs_reconnect is True
    await connection_service.record_auth_failure(
        session, row, ConnectorAuthError("invalid_grant", "Reconnect.", needs_reconnect=True)
    )
    await session.refresh(row)
    assert fake_platform.calls["refresh"] == 1  # the dead grant is not tried again
    assert row.status == ConnectionStatus.needs_reconnect
    assert row.problem_code == "invalid_grant"
    assert row.problem_message == "grant revoked"
    assert row.problem_action == "Reconnect the shop."
    assert row.encrypted_credentials is not None  # nothing wiped: a reconnect replaces it
    notices = (
        (await session.execute(select(Job).where(Job.kind == token_health.NOTICE_JOB)))
        .scalars()
        .all()
    )
    assert [n.arguments for n in notices] == [[str(row.id)]]
    assert await session.get(Job, queued.id) is not None  # queued work untouched

    before = set(mail_dir.glob("*.eml")) if mail_dir.exists() else set()
    assert await tasks._send_problem_notice(str(row.id)) == "sent to 2"
    sent = sorted(set(mail_dir.glob("*.eml")) - before)
    messages = [email.message_from_bytes(path.read_bytes()) for path in sent]
    assert sorted(m["To"] for m in messages) == sorted(
        [tenant.owner.email, tenant.users[Role.admin].email]
    )
    body = messages[0].get_payload()
    link = f"http://testserver/orgs/{tenant.organization.id}/connections/{row.id}"
    assert link in body
    assert "grant revoked" in body
    assert "Reconnect the shop." in body

    # Fixed (a reconnect clears it), then a new problem is announced again.
    token_health.clear_problem(row)
    assert row.status == ConnectionStatus.active
    assert await token_health.set_problem(
        session, row, code="auth_failed", message="401", action="Reconnect."
    )
    assert not await token_health.set_problem(
        session, row, code="auth_failed", message="401 again", action="Reconnect."
    )
    count = len(
        (await session.execute(select(Job).where(Job.kind == token_health.NOTICE_JOB)))
        .scalars()
        .all()
    )
    assert count == 2


async def test_an_expired_token_refused_by_the_platform_is_refreshed_next_time(
    session: AsyncSession,
    tenant: Tenant,
    fake_platform: FakePlatform,
) -> None:
    row, _, _ = await expiring(session, tenant, fake_platform, expires_in=3600)
    await connection_service.record_auth_failure(
        session, row, ConnectorAuthError("token_expired", "Refresh.", needs_reconnect=False)
    )
    assert row.status == ConnectionStatus.active
    assert token_health.needs_refresh(row)
    await token_health.ensure_fresh(session, row)
    assert fake_platform.calls["refresh"] == 1


async def test_the_schedule_refreshes_only_what_expires_soon(
    session: AsyncSession,
    tenant: Tenant,
    fake_platform: FakePlatform,
) -> None:
    from flashfusion.connector import tasks

    soon, _, _ = await expiring(session, tenant, fake_platform, expires_in=10 * 60)
    fake_platform.accounts["shop-2"] = "Second"
    later, _, _ = connection_row(tenant.organization.id, fake_platform, expires_in=2 * 3600)
    later.account_id = "shop-2"
    session.add(later)
    await session.flush()
    assert await tasks.refresh_expiring() == {"refreshed": 1, "needs_reconnect": 0, "failed": 0}
    assert fake_platform.calls["refresh"] == 1
    await session.refresh(soon)
    await session.refresh(later)
    assert soon.token_version == 2
    assert later.token_version == 1
    assert await tasks.refresh_expiring() == {"refreshed": 0, "needs_reconnect": 0, "failed": 0}

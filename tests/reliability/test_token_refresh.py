"""Token health with the real Etsy twin (in-process, its token endpoint and rotating refresh
tokens) and the real connector/token.py: 10 concurrent workers (10 tasks, each with its own
unit of work) hitting an expired token cause exactly one refresh at the twin and all go on with
the new token; a revoked grant marks the connection needs_reconnect.

Rows are committed (the workers need to see each other's commits), and removed afterwards.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete

from flashfusion.connector import token as token_health
from flashfusion.connector.base import ConnectorAuthError, TokenSet
from flashfusion.connector.service import connection as connection_service
from flashfusion.db import unit_of_work
from flashfusion.models import ConnectionStatus, Organization, PlatformConnection
from flashfusion.sandbox import runtime
from tests.fixtures.objects import create_organization
from tests.reliability.twins import ETSY_SCOPES

WORKERS = 10


@pytest.fixture
async def etsy() -> AsyncIterator[tuple[uuid.UUID, Any]]:
    """A committed sandbox Etsy connection holding a grant of the in-process twin."""
    runtime.reset()
    twin = runtime.app_for("etsy").state.sandbox
    keystring = runtime.credentials_for("etsy")["keystring"]
    issued = twin.issue_tokens(twin.default_user_id, keystring, frozenset(ETSY_SCOPES))
    async with unit_of_work() as session:
        organization = await create_organization(session, name="Token health")
        row = PlatformConnection(
            id=uuid.uuid4(),
            organization_id=organization.id,
            platform="etsy",
            name="Etsy shop",
            sandbox=True,
            account_id=str(twin.shop_of(twin.default_user_id)),
            account={"shop_id": twin.shop_of(twin.default_user_id)},
            token_version=0,
        )
        token_health.store_tokens(
            row,
            {},
            TokenSet(
                issued["access_token"],
                issued["refresh_token"],
                datetime.now(UTC) + timedelta(hours=1),
            ),
        )
        session.add(row)
        org_id, row_id = organization.id, row.id
    try:
        yield row_id, twin
    finally:
        async with unit_of_work() as session:
            await session.execute(delete(Organization).where(Organization.id == org_id))
        runtime.reset()


async def expire(row_id: uuid.UUID, twin: Any) -> None:
    """The twin's tokens expire, and FlashFusion knows it (as after a 401)."""
    twin.expire_access_tokens()
    async with unit_of_work() as session:
        row = await session.get(PlatformConnection, row_id)
        assert row is not None
        row.token_expires_at = datetime.now(UTC) - timedelta(seconds=1)


async def call_me(row_id: uuid.UUID) -> tuple[int, int]:
    """One worker: open the connection and call Etsy's getMe; (status, token_version)."""
    async with unit_of_work() as session:
        row = await session.get(PlatformConnection, row_id)
        assert row is not None
        async with connection_service.open_context(session, row) as ctx:
            response = await ctx.request("GET", "/v3/application/users/me")
        return response.status_code, row.token_version


async def test_ten_concurrent_workers_on_an_expired_token_refresh_it_once(
    etsy: tuple[uuid.UUID, Any],
) -> None:
    row_id, twin = etsy
    assert (await call_me(row_id))[0] == 200
    await expire(row_id, twin)
    results = await asyncio.gather(*(call_me(row_id) for _ in range(WORKERS)))
    assert twin.refresh_calls == 1
    assert [status for status, _ in results] == [200] * WORKERS
    assert {version for _, version in results} == {2}
    async with unit_of_work() as session:
        row = await session.get(PlatformConnection, row_id)
        assert row is not None
        assert (row.status, row.token_version) == (ConnectionStatus.active, 2)
        stored = token_health.read_credentials(row)
    assert stored["access_token"] in twin.access_tokens
    assert stored["refresh_token"] in twin.refresh_tokens


async def call_me_caught(row_id: uuid.UUID) -> Any:
    """As the publish job does: an auth failure is caught inside the unit of work, which
    then commits (publishing/tasks.py `_opened`)."""
    async with unit_of_work() as session:
        row = await session.get(PlatformConnection, row_id)
        assert row is not None
        try:
            async with connection_service.open_context(session, row) as ctx:
                return (await ctx.request("GET", "/v3/application/users/me")).status_code
        except ConnectorAuthError as e:
            return e


async def revoked_case(etsy: tuple[uuid.UUID, Any], worker: Any) -> None:
    row_id, twin = etsy
    twin.revoke_grant(twin.default_user_id)
    await expire(row_id, twin)
    outcomes = await asyncio.gather(*(worker(row_id) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(o, ConnectorAuthError) and o.needs_reconnect for o in outcomes), outcomes
    # One refresh tried (refused: invalid_grant); the others saw the status and did not ask.
    assert twin.refresh_calls == 1
    async with unit_of_work() as session:
        row = await session.get(PlatformConnection, row_id)
        assert row is not None
        assert (row.status, row.problem_code) == (
            ConnectionStatus.needs_reconnect,
            "etsy.invalid_grant",
        )
        stored = token_health.read_credentials(row)
    # The dead refresh token is kept (never overwritten with nothing).
    assert stored["refresh_token"]


async def test_a_revoked_grant_marks_the_connection_needs_reconnect(
    etsy: tuple[uuid.UUID, Any],
) -> None:
    await revoked_case(etsy, call_me_caught)


async def test_a_revoked_grant_is_recorded_even_when_the_callers_work_rolls_back(
    etsy: tuple[uuid.UUID, Any],
) -> None:
    await revoked_case(etsy, call_me)

"""connector/breaker.py through the request function: closed -> open -> half-open -> closed."""

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.connector import breaker
from flashfusion.connector.base import ConnectorError, RetryableConnectorError
from flashfusion.connector.http import build_request
from flashfusion.models.connector_breaker import BreakerState
from flashfusion.models.platform_connection import PlatformConnection
from tests.conftest import count_rows
from tests.connector.test_http import TOKEN, FakeConnector
from tests.fixtures.objects import Tenant


@pytest.fixture(autouse=True)
def _fast_breaker(monkeypatch: pytest.MonkeyPatch) -> None:
    # Short cool-downs and no read cache, so the test sees every transition at once.
    monkeypatch.setattr(breaker, "BASE_COOLDOWN_SECONDS", 0.3)
    monkeypatch.setattr(breaker, "CACHE_SECONDS", 0.0)
    breaker.breaker.reset()


@pytest.fixture
async def platform_connection(session: AsyncSession, tenant: Tenant) -> PlatformConnection:
    row = PlatformConnection(
        organization_id=tenant.organization.id, platform="fakeplat", name="Fake shop"
    )
    session.add(row)
    await session.flush()
    return row


class Platform:
    """A MockTransport platform whose answer the test sets; counts what it received."""

    def __init__(self) -> None:
        self.status = 500
        self.calls = 0
        self.gate: asyncio.Event | None = None

    async def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        return httpx.Response(self.status)


def _request(platform: Platform, connection: PlatformConnection) -> tuple[Any, httpx.AsyncClient]:
    client = httpx.AsyncClient(
        transport=httpx.MockTransport(platform.handler), base_url="https://api.t"
    )
    request = build_request(
        FakeConnector(),
        connection_id=connection.id,
        account_key=uuid.uuid4().hex,
        credentials={"access_token": TOKEN},
        client=client,
    )
    return request, client


async def _fail(request: Any) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        await request("GET", "/a")
    return caught.value


async def test_opens_after_five_failures_then_half_open_then_closes(
    session: AsyncSession, platform_connection: PlatformConnection
) -> None:
    platform = Platform()
    request, client = _request(platform, platform_connection)
    async with client:
        for _ in range(4):
            assert (await _fail(request)).code == "server_error"
        status = await breaker.state(platform_connection.id)
        assert (status.state, status.consecutive_failures) == (BreakerState.closed, 4)
        assert (await _fail(request)).code == "server_error"  # the fifth opens it
        status = await breaker.state(platform_connection.id)
        assert (status.state, status.consecutive_failures, status.cooldown_seconds) == (
            BreakerState.open,
            5,
            0.3,
        )
        assert await count_rows(session, "connector_breakers", "state = 'open'") == 1

        # Open: refused without calling the platform, retry_after = time to half-open.
        error = await _fail(request)
        assert type(error) is RetryableConnectorError
        assert error.code == "circuit_open"
        assert error.retry_after is not None
        assert 0.0 < error.retry_after <= 0.3
        assert platform.calls == 5

        # Half-open after the cool-down: one trial; it fails -> open, cool-down doubled.
        await asyncio.sleep(0.32)
        assert (await breaker.state(platform_connection.id)).state == BreakerState.half_open
        assert (await _fail(request)).code == "server_error"
        assert platform.calls == 6
        status = await breaker.state(platform_connection.id)
        assert (status.state, status.cooldown_seconds) == (BreakerState.open, 0.6)
        assert (await _fail(request)).code == "circuit_open"
        assert platform.calls == 6

        # The next trial succeeds: closed, counters and cool-down reset.
        await asyncio.sleep(0.62)
        platform.status = 200
        response = await request("GET", "/a")
        assert response.status_code == 200
        assert platform.calls == 7
        status = await breaker.state(platform_connection.id)
        assert (status.state, status.consecutive_failures, status.cooldown_seconds) == (
            BreakerState.closed,
            0,
            0.3,
        )
        assert (await request("GET", "/a")).status_code == 200


async def test_only_one_trial_call_while_half_open(platform_connection: PlatformConnection) -> None:
    platform = Platform()
    request, client = _request(platform, platform_connection)
    async with client:
        for _ in range(5):
            await _fail(request)
        await asyncio.sleep(0.32)
        platform.status = 200
        platform.gate = asyncio.Event()
        trial = asyncio.create_task(request("GET", "/a"))
        while platform.calls < 6:
            await asyncio.sleep(0.01)
        # While the trial is in flight, others are refused without a call.
        error = await _fail(request)
        assert (error.code, error.retry_after) == ("circuit_open", 5.0)
        assert platform.calls == 6
        platform.gate.set()
        assert (await trial).status_code == 200
        assert (await breaker.state(platform_connection.id)).state == BreakerState.closed


async def test_terminal_4xx_does_not_count(platform_connection: PlatformConnection) -> None:
    platform = Platform()
    request, client = _request(platform, platform_connection)
    async with client:
        for _ in range(4):
            await _fail(request)
        platform.status = 400
        assert (await _fail(request)).code == "fake.invalid"
        platform.status = 500
        for _ in range(4):
            await _fail(request)
        status = await breaker.state(platform_connection.id)
        # The 400 proved the platform up: the count restarted, and 4 < 5 keeps it closed.
        assert (status.state, status.consecutive_failures) == (BreakerState.closed, 4)


async def test_network_failures_count(platform_connection: PlatformConnection) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="https://api.t")
    request = build_request(
        FakeConnector(),
        connection_id=platform_connection.id,
        account_key=uuid.uuid4().hex,
        credentials={"access_token": TOKEN},
        client=client,
    )
    async with client:
        for _ in range(5):
            assert (await _fail(request)).code == "network"
        assert (await _fail(request)).code == "circuit_open"
    assert (await breaker.state(platform_connection.id)).state == BreakerState.open


async def test_unknown_connection_never_opens() -> None:
    platform = Platform()
    ghost = PlatformConnection(id=uuid.uuid4())
    request, client = _request(platform, ghost)
    async with client:
        for _ in range(6):
            assert (await _fail(request)).code == "server_error"
    assert platform.calls == 6
    assert (await breaker.state(ghost.id)).state == BreakerState.closed

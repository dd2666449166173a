"""connector/http.py: the request function (classification, Retry-After, logs) and client_for."""

import asyncio
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from flashfusion.connector import breaker, ratelimit
from flashfusion.connector.base import (
    AccountInfo,
    AuthKind,
    Capability,
    ConnectionContext,
    ConnectorAuthError,
    ConnectorError,
    PlatformConnector,
    RateLimit,
    RetryableConnectorError,
    TerminalConnectorError,
)
from flashfusion.connector.http import (
    DEFAULT_TIMEOUT,
    USER_AGENT,
    build_request,
    client_for,
    parse_retry_after,
)
from flashfusion.sandbox import runtime

TOKEN = "tok-" + uuid.uuid4().hex


class FakeConnector(PlatformConnector):
    name = "fakeplat"
    label = "Fake"
    auth_kind = AuthKind.api_token
    capabilities = frozenset({Capability.publish})
    rate_limits = (RateLimit("global", 1000, 1.0, "test figure"),)
    default_base_url = "https://api.fake.example"
    base_url_setting = "PRINTIFY_BASE_URL"
    sandbox_service = "uspto_tsdr"

    def translate_error(self, response: httpx.Response) -> ConnectorError:
        if response.status_code == 503:
            return RetryableConnectorError("fake.maintenance", "Wait for maintenance to end.")
        if response.status_code == 401:
            return ConnectorAuthError("fake.unauthorized", "Reconnect.", needs_reconnect=True)
        return TerminalConnectorError(
            "fake.invalid", "Fix the title.", platform_message=response.text
        )

    async def verify(self, ctx: ConnectionContext) -> AccountInfo:
        raise NotImplementedError


Handler = Any


def make_request(
    handler: Handler, *, connector: PlatformConnector | None = None, account_key: str = ""
) -> tuple[Any, httpx.AsyncClient]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="https://api.t")
    request = build_request(
        connector or FakeConnector(),
        connection_id=uuid.uuid4(),
        account_key=account_key or uuid.uuid4().hex,
        credentials={"access_token": TOKEN},
        client=client,
    )
    return request, client


@pytest.fixture(autouse=True)
async def _isolated(session: Any) -> Any:
    # Every unit of work (the breaker's) runs in the test's rolled-back transaction.
    breaker.breaker.reset()
    yield
    await breaker.breaker.drain()


async def _error_of(request: Any, *args: Any, **kwargs: Any) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        await request(*args, **kwargs)
    return caught.value


async def test_success_sends_auth_user_agent_and_explicit_timeouts() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, json={"ok": True})

    request, client = make_request(handler)
    async with client:
        response = await request("POST", "/v1/items.json", json={"a": 1}, headers={"X-A": "b"})
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    sent = seen[0]
    assert sent.url == "https://api.t/v1/items.json"
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["user-agent"] == USER_AGENT == "FlashFusion/0.1.0"
    assert sent.headers["x-a"] == "b"
    assert sent.extensions["timeout"] == {"connect": 5.0, "read": 30.0, "write": 30.0, "pool": 5.0}


async def test_redirect_is_returned() -> None:
    request, client = make_request(lambda req: httpx.Response(302, headers={"Location": "/x"}))
    async with client:
        response = await request("GET", "/a")
    assert response.status_code == 302


async def test_timeout_is_retryable() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=req)

    request, client = make_request(handler)
    async with client:
        error = await _error_of(request, "GET", "/a")
    assert type(error) is RetryableConnectorError
    assert (error.code, error.status, error.retry_after) == ("timeout", None, None)
    assert error.platform_message == "ReadTimeout"


@pytest.mark.parametrize(
    ("exception", "name"),
    [
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), "drop"),
        (httpx.ConnectError("connection refused"), "refused"),
        (httpx.ReadError("reset by peer"), "reset"),
    ],
)
async def test_network_errors_are_retryable(exception: Exception, name: str) -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        raise exception

    request, client = make_request(handler)
    async with client:
        error = await _error_of(request, "GET", "/a")
    assert type(error) is RetryableConnectorError
    assert error.code == "network"
    assert error.platform_message == type(exception).__name__


async def test_429_retry_after_seconds_pauses_the_account() -> None:
    sent_at: list[float] = []

    def handler(req: httpx.Request) -> httpx.Response:
        sent_at.append(time.monotonic())
        if len(sent_at) == 1:
            return httpx.Response(429, headers={"Retry-After": "1"})
        return httpx.Response(200)

    request, client = make_request(handler)
    async with client:
        error = await _error_of(request, "GET", "/a")
        assert type(error) is RetryableConnectorError
        assert (error.code, error.status, error.retry_after) == ("rate_limited", 429, 1.0)
        await request("GET", "/a")
    # The next caller waited for the Retry-After (on the shared limiter too).
    assert sent_at[1] - sent_at[0] >= 1.0


async def test_429_pause_holds_a_new_process_limiter() -> None:
    """The pause is in the shared store: a fresh limiter (another process) waits too."""
    connector = FakeConnector()
    key = uuid.uuid4().hex
    await ratelimit.pause(connector, key, 1.0)
    other = ratelimit.RateLimiter(ratelimit.get_limiter().store)
    started = time.monotonic()
    await other.acquire(connector, key, "default")
    assert time.monotonic() - started >= 0.9
    # ... and the pause does not outlast its Retry-After by more than the polling slack.
    assert time.monotonic() - started < 1.6


async def test_429_retry_after_http_date() -> None:
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=120)
    request, client = make_request(
        lambda req: httpx.Response(429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    )
    async with client:
        error = await _error_of(request, "GET", "/a")
    assert error.code == "rate_limited"
    assert error.retry_after is not None
    assert 118.0 < error.retry_after <= 120.0


def test_parse_retry_after_exact() -> None:
    now = datetime(2026, 12, 2, 15, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 02 Dec 2026 15:01:30 GMT", now=now) == 90.0
    assert parse_retry_after("Wed, 02 Dec 2026 14:59:00 GMT", now=now) == 0.0
    assert parse_retry_after("7", now=now) == 7.0
    assert parse_retry_after("0.5", now=now) == 0.5
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after("", now=now) is None
    assert parse_retry_after(None, now=now) is None


async def test_429_printful_reset_header_when_no_retry_after() -> None:
    request, client = make_request(
        lambda req: httpx.Response(429, headers={"X-Ratelimit-Reset": "0.5"})
    )
    async with client:
        error = await _error_of(request, "GET", "/a")
    assert (error.code, error.retry_after) == ("rate_limited", 0.5)


async def test_500_generic_retryable_when_translation_is_terminal() -> None:
    request, client = make_request(lambda req: httpx.Response(500, text="boom"))
    async with client:
        error = await _error_of(request, "GET", "/a")
    assert type(error) is RetryableConnectorError
    assert (error.code, error.status, error.platform_message) == ("server_error", 500, "HTTP 500")


async def test_503_uses_the_connectors_retryable_translation() -> None:
    request, client = make_request(lambda req: httpx.Response(503))
    async with client:
        error = await _error_of(request, "GET", "/a")
    assert type(error) is RetryableConnectorError
    assert (error.code, error.status, error.action) == (
        "fake.maintenance",
        503,
        "Wait for maintenance to end.",
    )


async def test_400_is_translated() -> None:
    request, client = make_request(lambda req: httpx.Response(400, text="title too long"))
    async with client:
        error = await _error_of(request, "POST", "/a")
    assert type(error) is TerminalConnectorError
    assert (error.code, error.status, error.platform_message, error.action) == (
        "fake.invalid",
        400,
        "title too long",
        "Fix the title.",
    )


async def test_401_is_translated_to_auth() -> None:
    request, client = make_request(lambda req: httpx.Response(401))
    async with client:
        error = await _error_of(request, "GET", "/a")
    assert isinstance(error, ConnectorAuthError)
    assert (error.code, error.status, error.needs_reconnect) == ("fake.unauthorized", 401, True)


async def test_logs_carry_no_secret_and_no_query_string() -> None:
    request, client = make_request(lambda req: httpx.Response(200))
    async with client:
        with capture_logs() as logs:
            await request("GET", "/v1/shops.json?api_key=SECRET123&page=2")
    assert logs == [
        {
            "event": "connector.http",
            "log_level": "info",
            "platform": "fakeplat",
            "method": "GET",
            "path": "/v1/shops.json",
            "status": 200,
            "duration_ms": logs[0]["duration_ms"],
        }
    ]
    assert "SECRET123" not in repr(logs)
    assert TOKEN not in repr(logs)


async def test_waits_for_the_rate_limit_instead_of_failing() -> None:
    class Tight(FakeConnector):
        rate_limits = (RateLimit("tight", 2, 0.5, "test figure"),)

    sent_at: list[float] = []

    def handler(req: httpx.Request) -> httpx.Response:
        sent_at.append(time.monotonic())
        return httpx.Response(200)

    request, client = make_request(handler, connector=Tight())
    async with client:
        await asyncio.gather(*(request("GET", "/a") for _ in range(4)))
    sent_at.sort()
    assert len(sent_at) == 4
    # Calls 3 and 4 waited one window (0.5 s plus the safety margin) after calls 1 and 2.
    assert sent_at[2] - sent_at[0] >= 0.5


# --- client_for --------------------------------------------------------------------------


def _connection(**overrides: Any) -> Any:
    values: Mapping[str, Any] = {"platform": "fakeplat", "sandbox": False, "base_url": None}
    return SimpleNamespace(**(dict(values) | overrides))


async def test_client_for_live_connection_uses_the_default_base_url() -> None:
    async with client_for(_connection(), FakeConnector()) as client:
        assert str(client.base_url) == "https://api.fake.example"
        assert client.timeout == DEFAULT_TIMEOUT
        assert client.headers["user-agent"] == USER_AGENT
        assert not isinstance(client._transport, httpx.ASGITransport)


async def test_client_for_prefers_connection_base_url_then_setting(monkeypatch: Any) -> None:
    from flashfusion.config import get_settings

    async with client_for(_connection(base_url="http://127.0.0.1:9/p"), FakeConnector()) as c:
        assert str(c.base_url) == "http://127.0.0.1:9/p/"
    monkeypatch.setattr(get_settings(), "PRINTIFY_BASE_URL", "http://127.0.0.1:8/s")
    async with client_for(_connection(), FakeConnector()) as c:
        # A live connection without a base URL of its own goes where the setting says.
        assert str(c.base_url) == "http://127.0.0.1:8/s/"
        assert not isinstance(c._transport, httpx.ASGITransport)


async def test_a_sandbox_connection_ignores_the_live_setting_and_follows_its_own_base_url(
    monkeypatch: Any,
) -> None:
    from flashfusion.config import get_settings

    monkeypatch.setattr(get_settings(), "PRINTIFY_BASE_URL", "http://127.0.0.1:8/s")
    runtime.reset()
    try:
        async with client_for(_connection(sandbox=True), FakeConnector()) as c:
            # The setting is meant for live connections: the sandbox one stays in-process.
            assert str(c.base_url) == "http://uspto_tsdr.sandbox"
            assert isinstance(c._transport, httpx.ASGITransport)
    finally:
        runtime.reset()
    served = _connection(sandbox=True, base_url="http://127.0.0.1:7/twin")
    async with client_for(served, FakeConnector()) as c:
        # Its own base URL (a `flashfusion sandbox serve` port) is followed.
        assert str(c.base_url) == "http://127.0.0.1:7/twin/"
        assert not isinstance(c._transport, httpx.ASGITransport)


async def test_client_for_sandbox_connection_uses_the_in_process_twin() -> None:
    runtime.reset()
    try:
        async with client_for(_connection(sandbox=True), FakeConnector()) as client:
            assert str(client.base_url) == "http://uspto_tsdr.sandbox"
            assert isinstance(client._transport, httpx.ASGITransport)
            key = runtime.credentials_for("uspto_tsdr")["api_key"]
            response = await client.get(
                "/ts/cd/casestatus/sn99999999/info", headers={"USPTO-API-KEY": key}
            )
            # The twin knows the key (404: no such case) and refuses another one (401).
            assert response.status_code == 404
            refused = await client.get(
                "/ts/cd/casestatus/sn99999999/info", headers={"USPTO-API-KEY": "nope"}
            )
            assert refused.status_code == 401
    finally:
        runtime.reset()

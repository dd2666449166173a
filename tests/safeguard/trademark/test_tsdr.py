"""The USPTO TSDR case-status client against its sandbox twin: a case as a MarkRecord, the API
key header, 401, 404, 429 with Retry-After after 60 calls a minute, 5xx, timeouts, bad bodies."""

import secrets
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest

from flashfusion.safeguard.trademark.tsdr import (
    RateLimiter,
    TSDRAuthError,
    TSDRBadResponse,
    TSDRClient,
    TSDRNotFound,
    TSDRRateLimited,
    TSDRServerError,
    parse_case,
)
from flashfusion.safeguard.trademark.types import MarkRecord, MarkStatus, Office
from flashfusion.sandbox.uspto_tsdr import TSDRSandboxState, case_json, create_app

BASE = "http://tsdr.test/ts/cd"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def key() -> str:
    return secrets.token_hex(16)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def twin(key: str, clock: Clock) -> Any:
    app = create_app(api_keys={key})
    state: TSDRSandboxState = app.state.sandbox
    state.clock = clock
    # Fictional cases.
    state.add_case(
        "97123456",
        "SUNNY  FOX BREW",
        "700",
        registration_number="7000001",
        filing_date="2024-01-15",
        registration_date="2025-06-10",
        status_date="2025-06-10",
        description="Registered.",
        owner="Sunny Fox Trading LLC",
        classes=("025", "021"),
    )
    state.add_case("97000002", "OLD MILL ROAD", "602", filing_date="2019-08-20")
    return app


def state(app: Any) -> TSDRSandboxState:
    sandbox: TSDRSandboxState = app.state.sandbox
    return sandbox


@pytest.fixture
async def http(twin: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=twin)) as client:
        yield client


def client(http: httpx.AsyncClient, key: str, clock: Clock, **options: Any) -> TSDRClient:
    options.setdefault("limiter", RateLimiter(clock=clock, sleep=clock.sleep))
    return TSDRClient(http, api_key=key, base_url=BASE, **options)


async def test_case_status_as_mark_record(
    http: httpx.AsyncClient, key: str, clock: Clock, twin: Any
) -> None:
    record = await client(http, key, clock).case_status("97123456")

    assert record == MarkRecord(
        office=Office.uspto,
        mark_text="SUNNY FOX BREW",
        status=MarkStatus.live,
        nice_classes=frozenset({21, 25}),
        serial_number="97123456",
        registration_number="7000001",
        status_code="700",
        owner="Sunny Fox Trading LLC",
        filing_date=date(2024, 1, 15),
        registration_date=date(2025, 6, 10),
        source="https://tsdr.uspto.gov/statusview/sn97123456",
    )
    dead = await client(http, key, clock).case_status("97000002")
    assert (dead.status, dead.status_code, dead.owner, dead.registration_number) == (
        MarkStatus.dead,
        "602",
        None,
        None,
    )
    assert state(twin).requests["casestatus"] == 2


async def test_api_key_header_and_path(key: str, clock: Clock) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=case_json("97123456", "FOX", "630"))

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        record = await TSDRClient(
            http, api_key=key, limiter=RateLimiter(clock=clock, sleep=clock.sleep)
        ).case_status(" 97123456 ")

    assert record.status == MarkStatus.pending
    (request,) = seen
    assert str(request.url) == "https://tsdrapi.uspto.gov/ts/cd/casestatus/sn97123456/info"
    assert request.headers["USPTO-API-KEY"] == key
    assert request.headers["Accept"] == "application/json"
    assert request.extensions["timeout"] == {
        "connect": 10.0,
        "read": 10.0,
        "write": 10.0,
        "pool": 10.0,
    }


async def test_bad_key_is_an_auth_error(http: httpx.AsyncClient, clock: Clock, twin: Any) -> None:
    with pytest.raises(TSDRAuthError) as raised:
        await client(http, "not-a-key", clock).case_status("97123456")

    assert raised.value.status == 401
    assert not raised.value.retryable
    assert "check FLASHFUSION_USPTO_TSDR_API_KEY" in str(raised.value)
    assert state(twin).errors["401"] == 1
    with pytest.raises(ValueError, match="API key is required"):
        TSDRClient(http, api_key="")


async def test_unknown_serial_is_not_found(http: httpx.AsyncClient, key: str, clock: Clock) -> None:
    with pytest.raises(TSDRNotFound, match="no case for serial number 99999999") as raised:
        await client(http, key, clock).case_status("99999999")
    assert raised.value.status == 404
    with pytest.raises(ValueError, match="give the 8 digits"):
        await client(http, key, clock).case_status("12-34")


async def test_sixty_calls_a_minute_then_429_with_retry_after(
    http: httpx.AsyncClient, key: str, clock: Clock, twin: Any
) -> None:
    # No client-side spacing: the twin enforces USPTO's 60 per minute per key.
    unlimited = client(http, key, clock, limiter=RateLimiter(calls=1000, clock=clock))
    for _ in range(60):
        clock.now += 0.5
        await unlimited.case_status("97123456")

    with pytest.raises(TSDRRateLimited) as raised:
        await unlimited.case_status("97123456")

    # The first of the 60 was sent 29.5 s ago: it leaves the window in 30.5 s -> 31.
    assert raised.value.retry_after == 31.0
    assert raised.value.retryable
    assert str(raised.value) == (
        "TSDR rate limit reached (60 calls a minute per key); try again in 31 s."
    )
    clock.now += 31
    assert (await unlimited.case_status("97123456")).serial_number == "97123456"
    assert state(twin).errors["429"] == 1


async def test_client_spaces_calls_to_stay_under_the_limit(
    http: httpx.AsyncClient, key: str, clock: Clock, twin: Any
) -> None:
    spaced = client(http, key, clock)
    for _ in range(61):
        await spaced.case_status("97000002")

    # The 61st call waited for the first to be 60 s old; the twin never answered 429.
    assert clock.slept == [60.0]
    assert state(twin).errors["429"] == 0
    assert state(twin).requests["casestatus"] == 61


async def test_rate_limit_fault_and_server_errors(
    http: httpx.AsyncClient, key: str, clock: Clock, twin: Any
) -> None:
    state(twin).faults.rate_limit = 1
    with pytest.raises(TSDRRateLimited) as limited:
        await client(http, key, clock).case_status("97123456")
    assert limited.value.retry_after == 30.0

    state(twin).faults.server_error = 1
    state(twin).faults.server_error_status = 503
    with pytest.raises(TSDRServerError, match=r"HTTP 503") as failed:
        await client(http, key, clock).case_status("97123456")
    assert failed.value.retryable


async def test_timeouts_and_network_errors_are_retryable(key: str, clock: Clock) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    for handler, message in ((slow, "did not answer"), (down, "could not be reached")):
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            with pytest.raises(TSDRServerError, match=message) as raised:
                await TSDRClient(http, api_key=key, limiter=limiter).case_status("97123456")
            assert raised.value.retryable


async def test_retry_after_as_http_date(key: str, clock: Clock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        with pytest.raises(TSDRRateLimited) as raised:
            await TSDRClient(
                http, api_key=key, limiter=RateLimiter(clock=clock, sleep=clock.sleep)
            ).case_status("97123456")
    assert raised.value.retry_after == 0.0  # a date in the past: retry now


def test_bad_bodies() -> None:
    with pytest.raises(TSDRBadResponse, match="without a 'trademarks' list"):
        parse_case({"error": "x"}, "97123456")
    with pytest.raises(TSDRNotFound):
        parse_case({"trademarks": []}, "97123456")
    with pytest.raises(TSDRBadResponse, match="without trademarks\\[0\\].status"):
        parse_case({"trademarks": [{}]}, "97123456")
    with pytest.raises(TSDRBadResponse, match="no word mark"):
        parse_case(case_json("97123456", "", "700"), "97123456")
    unknown = parse_case(case_json("97123456", "FOX", "999"), "97123456")
    assert (unknown.status, unknown.status_code) == (MarkStatus.pending, "999")

"""connector/ratelimit.py: shared buckets (SQLite file or PostgreSQL), precision across tasks
and processes, Retry-After pauses, usage and the ETA estimate."""

import asyncio
import json
import os
import sys
import time
import uuid

import pytest

from flashfusion.config import get_settings
from flashfusion.connector import ratelimit
from flashfusion.connector.base import RateLimit
from flashfusion.connector.ratelimit import QuotaUsage, estimate_seconds, window_ms
from tests.connector.test_http import FakeConnector

# 10 per 0.5 s: the brief's "10 per second" scaled up so the tests stay short.
LIMIT, PERIOD = 10, 0.5


class Burst(FakeConnector):
    name = "burst"
    rate_limits = (RateLimit("burst", LIMIT, PERIOD, "test figure"),)


class PrintifyLike(FakeConnector):
    # The documented Printify figures (research/platform-apis.md section 1), for the ETA.
    name = "printifylike"
    rate_limits = (
        RateLimit("global", 600, 60.0, "research/platform-apis.md section 1"),
        RateLimit("publish", 200, 1800.0, "research/platform-apis.md section 1", frozenset({"publish"})),
    )  # fmt: skip


def max_in_window(stamps: list[float], window: float) -> int:
    """The most timestamps inside any half-open window of `window` seconds."""
    stamps = sorted(stamps)
    best, start = 0, 0
    for end, stamp in enumerate(stamps):
        while stamp - stamps[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_max_in_window() -> None:
    assert max_in_window([0.0, 0.1, 0.49, 0.5, 0.6], 0.5) == 3
    assert max_in_window([], 0.5) == 0


def test_store_follows_the_database(database_kind: str) -> None:
    store = ratelimit.get_limiter().store
    expected = "_PostgresStore" if database_kind == "postgresql" else "_SQLiteStore"
    assert type(store).__name__ == expected
    if database_kind == "sqlite":
        assert store.path == get_settings().home / "ratelimit.sqlite"  # type: ignore[attr-defined]


async def test_three_tasks_never_exceed_the_limit() -> None:
    connector, key = Burst(), uuid.uuid4().hex
    stamps: list[float] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            await ratelimit.acquire(connector, key, "default")
            stamps.append(time.monotonic())

    started = time.monotonic()
    await asyncio.gather(worker(9), worker(8), worker(8))
    assert len(stamps) == 25
    assert max_in_window(stamps, PERIOD) == LIMIT
    # 25 calls at 10 per window: the 21st..25th wait two windows, and not much longer.
    elapsed = time.monotonic() - started
    assert 2 * PERIOD <= elapsed < 2 * PERIOD + 1.0


_CHILD = """
import asyncio, json, sys, time
from flashfusion.connector import ratelimit
from flashfusion.connector.base import AuthKind, PlatformConnector, RateLimit

class Burst(PlatformConnector):
    name = "burst"; label = "Burst"; auth_kind = AuthKind.api_token
    capabilities = frozenset(); default_base_url = "https://x"
    base_url_setting = "PRINTIFY_BASE_URL"; sandbox_service = "x"
    rate_limits = (RateLimit("burst", {limit}, {period}, "test figure"),)
    def translate_error(self, response): raise NotImplementedError
    async def verify(self, ctx): raise NotImplementedError

async def main():
    print("ready", flush=True)
    start = float(sys.stdin.readline())
    while time.monotonic() < start:
        await asyncio.sleep(0.001)
    stamps = []
    for _ in range({count}):
        await ratelimit.acquire(Burst(), "{key}", "default")
        stamps.append(time.monotonic())
    print(json.dumps(stamps), flush=True)

asyncio.run(main())
"""


async def test_two_processes_share_the_limit() -> None:
    connector, key = Burst(), uuid.uuid4().hex
    ratelimit.get_limiter()  # the store (tables, schema) exists before the child starts
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CHILD.format(limit=LIMIT, period=PERIOD, count=12, key=key),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env=dict(os.environ),
    )
    assert child.stdin is not None
    assert child.stdout is not None
    assert (await asyncio.wait_for(child.stdout.readline(), 60)).strip() == b"ready"
    start = time.monotonic() + 0.2
    child.stdin.write(f"{start}\n".encode())
    await child.stdin.drain()
    while time.monotonic() < start:
        await asyncio.sleep(0.001)
    stamps: list[float] = []
    for _ in range(13):
        await ratelimit.acquire(connector, key, "default")
        stamps.append(time.monotonic())
    theirs = json.loads(await asyncio.wait_for(child.stdout.readline(), 60))
    assert await child.wait() == 0
    assert len(theirs) == 12
    both = stamps + theirs
    assert len(both) == 25
    assert max_in_window(both, PERIOD) == LIMIT


async def test_usage_counts_the_current_window() -> None:
    connector, key = PrintifyLike(), uuid.uuid4().hex
    for _ in range(3):
        await ratelimit.acquire(connector, key, "publish")
    await ratelimit.acquire(connector, key, "default")
    assert await ratelimit.usage(connector, None, key) == [
        QuotaUsage("global", 4, 600, 60.0),
        QuotaUsage("publish", 3, 200, 1800.0),
    ]
    connection_id = uuid.uuid4()
    assert await ratelimit.usage(connector, connection_id) == [
        QuotaUsage("global", 0, 600, 60.0),
        QuotaUsage("publish", 0, 200, 1800.0),
    ]


async def test_pause_fills_the_window_until_retry_after() -> None:
    connector, key = Burst(), uuid.uuid4().hex
    # The pause runs from the moment it is set: measure from just before it.
    started = time.monotonic()
    await ratelimit.pause(connector, key, 0.4)
    assert await ratelimit.usage(connector, None, key) == [QuotaUsage("burst", 10, 10, 0.5)]
    await ratelimit.acquire(connector, key, "default")
    assert 0.4 <= time.monotonic() - started < 1.0


def test_window_includes_the_safety_margin() -> None:
    limit = RateLimit("publish", 200, 1800.0, "x")
    assert window_ms(limit) == 1_836_100  # 1,800,000 ms + 2 % + 100 ms
    assert window_ms(limit, time_scale=60) == 30_700  # 30,000 ms + 2 % + 100 ms


def test_estimate_300_printify_publishes() -> None:
    connector = PrintifyLike()
    # 200 go at once; the second batch of 100 waits one publish window (30 min + margin).
    assert estimate_seconds(connector, {"publish": 300}) == 1836.1
    assert estimate_seconds(connector, {"publish": 200}) == 0.0
    assert estimate_seconds(connector, {"publish": 201}) == 1836.1
    assert estimate_seconds(connector, {"publish": 401}) == 2 * 1836.1
    # 150 already used this window: 50 more fit, the 51st waits.
    assert estimate_seconds(connector, {"publish": 50}, now_used={"publish": 150}) == 0.0
    assert estimate_seconds(connector, {"publish": 51}, now_used={"publish": 150}) == 1836.1
    # Sandbox time scale divides the windows as the twins do.
    assert estimate_seconds(connector, {"publish": 300}, time_scale=60) == 30.7
    # 1,300 ordinary calls: the 600-per-minute limit dominates (two more windows).
    assert estimate_seconds(connector, {"default": 1300}) == 2 * 61.3
    assert estimate_seconds(connector, {}) == 0.0


@pytest.mark.parametrize("seconds", [0.0, -1.0])
async def test_pause_of_nothing_is_ignored(seconds: float) -> None:
    connector, key = Burst(), uuid.uuid4().hex
    await ratelimit.pause(connector, key, seconds)
    assert await ratelimit.usage(connector, None, key) == [QuotaUsage("burst", 0, 10, 0.5)]

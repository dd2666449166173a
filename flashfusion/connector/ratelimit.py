"""Per-account platform rate limits, shared by every FlashFusion process through a database.

Each documented limit of a connector (`PlatformConnector.rate_limits`) is one pyrate-limiter
bucket per platform account: one bucket per (platform, account key, limit name, window). A call
in operation group `g` waits on every limit that `applies_to(g)` -- longest window first, so a
call held back by Printify's 200-publishes-per-30-minutes limit does not also hold a token of the
600-per-minute one while it waits -- and is then sent. Waiting, never failing: callers stay
inside the quotas and see no 429 in normal operation.

Storage follows the app database (research/job-engine.md, "Configuration for both modes"):

- SQLite (the embedded default): `SQLiteBucket`s in `<FLASHFUSION_HOME>/ratelimit.sqlite` (WAL),
  each check-and-insert under an exclusive lock on `ratelimit.sqlite.lock` (`fcntl.flock`), so
  the serve process and worker processes on this machine share the quotas exactly. The lock is
  FlashFusion's own (pyrate-limiter's `use_file_lock` needs the `filelock` package, which is
  not a dependency).
- PostgreSQL: `PostgresBucket`s on the app database, in a schema of their own
  (`flashfusion_ratelimit`, so the migrated schema holds only migrated tables), through a small
  `psycopg_pool.ConnectionPool`. The bucket locks its table for each check-and-insert and uses
  the database clock, so every machine shares the quotas exactly.

Windows are sliding logs (pyrate-limiter's default `SlidingWindowLog`): a call is admitted when
fewer than `limit` calls were admitted in the last `period` seconds. Each window is lengthened by
a FlashFusion safety margin (2 % + 100 ms): the platform counts calls when they arrive, a little
after we admit them, and without the margin the jitter between two processes could put
`limit + 1` arrivals inside one platform window. The fixed part is for that jitter (the event
loop, the network, a busy machine), which does not shrink with the sandbox time scale: 20 ms
let 11 arrivals into a twin's 33 ms Etsy window on a busy 2-core machine (the exactly-once
reliability test, time scale 30). Sandbox connections divide every window by
`settings.SANDBOX_TIME_SCALE`, exactly as the twins do.

A 429's `Retry-After` pauses the account (`pause`): the account's shortest global window is
filled until the pause ends (rows timestamped so that they age out exactly then), which holds
every process's next calls, and this process also remembers the pause without a query.
"""

import asyncio
import fcntl
import hashlib
import math
import os
import re
import sqlite3
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from pyrate_limiter import (
    AbstractBucket,
    BucketFactory,
    Limiter,
    PostgresBucket,
    Rate,
    RateItem,
    SQLiteBucket,
)

from flashfusion.config import get_settings, sync_database_url
from flashfusion.connector import limits_repository
from flashfusion.connector.base import PlatformConnector, RateLimit

log = structlog.get_logger(__name__)

# FlashFusion safety margin on every window (see the module docstring).
WINDOW_MARGIN_RATIO = 0.02
WINDOW_MARGIN_MS = 100
POSTGRES_SCHEMA = "flashfusion_ratelimit"
SQLITE_FILE = "ratelimit.sqlite"


@dataclass(frozen=True)
class QuotaUsage:
    """How much of one limit an account has used in its current window."""

    name: str
    used: int
    limit: int
    period_seconds: float


def window_ms(limit: RateLimit, time_scale: float = 1.0) -> int:
    """The window the limiter enforces for `limit`, in milliseconds, margin included."""
    base = limit.period_seconds * 1000.0 / time_scale
    return math.ceil(base * (1 + WINDOW_MARGIN_RATIO)) + WINDOW_MARGIN_MS


def _ident(value: str, length: int) -> str:
    return re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")[:length] or "x"


def bucket_table(platform: str, account_key: str, limit: RateLimit, interval_ms: int) -> str:
    """A stable table name per bucket (the account key hashed: it may be any string)."""
    digest = hashlib.sha256(f"{account_key}\0{limit.limit}\0{interval_ms}".encode()).hexdigest()
    return f"{_ident(platform, 12)}_{_ident(limit.name, 16)}_{digest[:16]}"


# --- storage ---------------------------------------------------------------------------------


class _FileLock:
    """An exclusive lock shared by every process on this machine (flock on a lock file),
    re-entrant within a process and safe across its threads."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if not self._thread_lock.acquire(blocking, timeout):
            return False
        if self._depth == 0:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()

    def __enter__(self) -> "_FileLock":
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


class _Store(ABC):
    """Creates buckets and runs the few queries pyrate-limiter has no API for."""

    @abstractmethod
    def bucket(self, table: str, rate: Rate) -> AbstractBucket: ...

    @abstractmethod
    def fill(self, bucket: AbstractBucket, count: int, timestamp_ms: int) -> None: ...

    @abstractmethod
    def close(self) -> None: ...


class _SQLiteStore(_Store):
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lock = _FileLock(path.with_name(path.name + ".lock"))
        with self.lock:
            self.conn = sqlite3.connect(path, isolation_level="DEFERRED", check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA busy_timeout=30000")

    def bucket(self, table: str, rate: Rate) -> AbstractBucket:
        with self.lock:
            limits_repository.sqlite_create_bucket_table(self.conn, table)
        return SQLiteBucket([rate], self.conn, table, lock=self.lock)

    def fill(self, bucket: AbstractBucket, count: int, timestamp_ms: int) -> None:
        assert isinstance(bucket, SQLiteBucket)
        with self.lock:
            limits_repository.sqlite_fill(self.conn, bucket.table, count, timestamp_ms)

    def close(self) -> None:
        with self.lock:
            self.conn.close()


class _PostgresStore(_Store):
    def __init__(self, url: str) -> None:
        from psycopg_pool import ConnectionPool

        limits_repository.postgres_create_schema(url, POSTGRES_SCHEMA)
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=4,
            kwargs={"options": f"-c search_path={POSTGRES_SCHEMA}"},
            open=True,
        )

    def bucket(self, table: str, rate: Rate) -> AbstractBucket:
        return PostgresBucket(self.pool, table, [rate])

    def fill(self, bucket: AbstractBucket, count: int, timestamp_ms: int) -> None:
        assert isinstance(bucket, PostgresBucket)
        limits_repository.postgres_fill(self.pool, bucket._full_tbl, count, timestamp_ms)

    def close(self) -> None:
        self.pool.close()


class _AccountBuckets(BucketFactory):
    """Every bucket of this process, by table name; one leak thread cleans them all."""

    def __init__(self, store: _Store) -> None:
        self.store = store
        self.buckets: dict[str, AbstractBucket] = {}
        self._lock = threading.Lock()

    def ensure(self, table: str, rate: Rate) -> AbstractBucket:
        with self._lock:
            bucket = self.buckets.get(table)
            if bucket is None:
                bucket = self.buckets[table] = self.store.bucket(table, rate)
                self.schedule_leak(bucket)
            return bucket

    def wrap_item(self, name: str, weight: int = 1) -> Any:
        now = self.buckets[name].now()
        if asyncio.iscoroutine(now):

            async def wrap() -> RateItem:
                return RateItem(name, await now, weight=weight)

            return wrap()
        return RateItem(name, now, weight=weight)

    def get(self, item: RateItem) -> AbstractBucket:
        return self.buckets[item.name]

    def owned_buckets(self) -> list[AbstractBucket]:
        return list(self.buckets.values())


class RateLimiter:
    """The process's limiter: one pyrate `Limiter` per bucket (each has its own async lock, so
    a long wait on one account never delays another), all on one store."""

    def __init__(self, store: _Store) -> None:
        self.factory = _AccountBuckets(store)
        self.store = store
        self._limiters: dict[str, Limiter] = {}
        self._paused_until: dict[tuple[str, str], float] = {}

    def _limiter(self, table: str, rate: Rate) -> Limiter:
        self.factory.ensure(table, rate)
        limiter = self._limiters.get(table)
        if limiter is None:
            limiter = self._limiters[table] = Limiter(self.factory)
        return limiter

    def _bucket_for(
        self, platform: str, account_key: str, limit: RateLimit, time_scale: float
    ) -> tuple[str, Rate]:
        interval = window_ms(limit, time_scale)
        return bucket_table(platform, account_key, limit, interval), Rate(limit.limit, interval)

    async def acquire(
        self,
        connector: PlatformConnector,
        account_key: str,
        group: str,
        *,
        time_scale: float = 1.0,
    ) -> None:
        until = self._paused_until.get((connector.name, account_key), 0.0)
        delay = until - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        limits = sorted(
            (limit for limit in connector.rate_limits if limit.applies_to(group)),
            key=lambda limit: limit.period_seconds,
            reverse=True,
        )
        for limit in limits:
            table, rate = self._bucket_for(connector.name, account_key, limit, time_scale)
            admitted = await self._limiter(table, rate).try_acquire_async(table)
            if not admitted:  # only when a weight of 1 can never fit: a limit of 0
                raise ValueError(f"rate limit {limit.name!r} of {connector.name} admits nothing")

    async def pause(
        self,
        connector: PlatformConnector,
        account_key: str,
        seconds: float,
        *,
        time_scale: float = 1.0,
    ) -> None:
        if seconds <= 0:
            return
        key = (connector.name, account_key)
        self._paused_until[key] = max(self._paused_until.get(key, 0.0), time.monotonic() + seconds)
        limit = _pause_limit(connector)
        if limit is None:
            return
        table, rate = self._bucket_for(connector.name, account_key, limit, time_scale)
        bucket = self.factory.ensure(table, rate)
        now = bucket.now()
        if asyncio.iscoroutine(now):
            now = await now
        assert isinstance(now, int)
        # Rows stamped `interval` before the pause's end stay in the window until exactly then.
        stamp = now + math.ceil(seconds * 1000) - rate.interval
        self.store.fill(bucket, limit.limit, stamp)

    async def usage(
        self,
        connector: PlatformConnector,
        account_key: str,
        *,
        time_scale: float = 1.0,
    ) -> list[QuotaUsage]:
        found = []
        for limit in connector.rate_limits:
            table, rate = self._bucket_for(connector.name, account_key, limit, time_scale)
            bucket = self.factory.ensure(table, rate)
            now = bucket.now()
            if asyncio.iscoroutine(now):
                now = await now
            assert isinstance(now, int)
            leaked = bucket.leak(now)
            if asyncio.iscoroutine(leaked):
                await leaked
            used = bucket.count()
            if asyncio.iscoroutine(used):
                used = await used
            assert isinstance(used, int)
            found.append(
                QuotaUsage(limit.name, min(used, limit.limit), limit.limit, limit.period_seconds)
            )
        return found

    def close(self) -> None:
        self.factory.close()
        self._limiters.clear()
        self._paused_until.clear()


def _pause_limit(connector: PlatformConnector) -> RateLimit | None:
    """The limit whose bucket carries a pause: the shortest one every call waits on."""
    everywhere = [limit for limit in connector.rate_limits if limit.groups is None]
    candidates = everywhere or list(connector.rate_limits)
    return min(candidates, key=lambda limit: limit.period_seconds, default=None)


# --- the process's limiter -----------------------------------------------------------------

_limiter: RateLimiter | None = None
_limiter_lock = threading.Lock()


def get_limiter() -> RateLimiter:
    """The limiter of this process, on the store that matches the app database."""
    global _limiter
    with _limiter_lock:
        if _limiter is None:
            settings = get_settings()
            if settings.is_sqlite:
                store: _Store = _SQLiteStore(settings.home / SQLITE_FILE)
            else:
                store = _PostgresStore(sync_database_url(settings.database_url))
            _limiter = RateLimiter(store)
        return _limiter


def reset() -> None:
    """Close the process's limiter (tests; the next call opens a new one)."""
    global _limiter
    with _limiter_lock:
        if _limiter is not None:
            _limiter.close()
        _limiter = None


def _key(connection_id: uuid.UUID | None, account_key: str | None) -> str:
    if account_key:
        return account_key
    if connection_id is None:
        raise ValueError("an account key or a connection id is needed")
    return str(connection_id)


async def acquire(
    connector: PlatformConnector, account_key: str, group: str, *, time_scale: float = 1.0
) -> None:
    """Wait until one call of `group` fits every limit of this account."""
    await get_limiter().acquire(connector, account_key, group, time_scale=time_scale)


async def pause(
    connector: PlatformConnector | str,
    account_key: str,
    seconds: float,
    *,
    time_scale: float = 1.0,
) -> None:
    """Hold every call of this account, in every process, for `seconds` (a Retry-After)."""
    if isinstance(connector, str):
        from flashfusion.connector.registry import get_connector

        connector = get_connector(connector)
    await get_limiter().pause(connector, account_key, seconds, time_scale=time_scale)


async def usage(
    connector: PlatformConnector,
    connection_id: uuid.UUID | None,
    account_key: str | None = None,
    *,
    time_scale: float = 1.0,
) -> list[QuotaUsage]:
    """What the account has used of each limit in its current window (for the UI). The key
    is `account_key` (the platform account id), else the connection id, as in http.py."""
    return await get_limiter().usage(
        connector, _key(connection_id, account_key), time_scale=time_scale
    )


def estimate_seconds(
    connector: PlatformConnector,
    counts: Mapping[str, int],
    *,
    now_used: Mapping[str, int] | None = None,
    time_scale: float = 1.0,
) -> float:
    """How long `counts` calls per operation group take inside the limits (the ETA).

    Sliding windows are modelled as the limiter enforces them: with `used` calls already in a
    limit's window (counted as if made just now: we do not know when they were) the k-th of
    the `used + n` calls can go at `floor((k - 1) / limit)` windows, so the last one goes at
    `floor((used + n - 1) / limit) * window`. The estimate is the slowest limit's; the calls'
    own durations are not counted. E.g. 300 Printify publishes: 200 go at once, the other 100
    wait one 30-minute publish window, so 1,800 s (plus the safety margin).
    """
    used = now_used or {}
    slowest = 0.0
    for limit in connector.rate_limits:
        n = sum(count for group, count in counts.items() if limit.applies_to(group))
        if n <= 0:
            continue
        total = used.get(limit.name, 0) + n
        windows = (total - 1) // limit.limit
        slowest = max(slowest, windows * window_ms(limit, time_scale) / 1000.0)
    return slowest

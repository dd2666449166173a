"""A circuit breaker per platform connection, shared by every process through the database.

    closed --N consecutive retryable failures--> open --cool-down--> half-open
    half-open --the one trial call succeeds--> closed
    half-open --it fails--> open again, with the cool-down doubled (capped)

Only retryable failures count (network, timeout, 429, 5xx: connector/http.py decides); a
terminal 4xx means the platform is up and refused our data, so it counts as a success. While
open, calls are not sent: `before_call` raises `RetryableConnectorError("circuit_open")` with
`retry_after` = seconds until the circuit turns half-open. Exactly one caller (across processes:
an atomic UPDATE claims it) sends the trial call; a trial that never reports back (its process
died) is superseded after `TRIAL_TIMEOUT_SECONDS`.

State lives in `connector_breakers` (no row: closed, no failures). Reads are cached in the
process for `CACHE_SECONDS`: another process's state change is seen at most that late, so up to
a second of calls may still go out after another process opened the circuit, and a success is
written only when the cached state shows failures or an open circuit.

On SQLite, a caller may already hold a session (the app engine's one connection per event
loop) or the write transaction while it calls the platform (a publish step). So the breaker
reads and writes through an engine of its own there, and a write from an event loop whose
writer is busy is deferred until that writer finishes (a background task; this process's cache
carries the new state meanwhile; `drain()` waits for such writes). With such a deferred write,
the half-open trial is claimed for this process only.
"""

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from flashfusion import db
from flashfusion.config import get_settings
from flashfusion.connector.base import RetryableConnectorError
from flashfusion.connector.limits_repository import BreakerRepository, BreakerSnapshot
from flashfusion.models.base import utc_now
from flashfusion.models.connector_breaker import BreakerState

log = structlog.get_logger(__name__)

# FlashFusion defaults (not platform figures).
FAILURE_THRESHOLD = 5  # consecutive retryable failures that open the circuit
BASE_COOLDOWN_SECONDS = 30.0  # the first cool-down; doubles after each failed trial
MAX_COOLDOWN_SECONDS = 600.0  # ... up to 10 minutes
TRIAL_TIMEOUT_SECONDS = 120.0  # a trial unreported for this long is replaced by another
TRIAL_PENDING_RETRY_SECONDS = 5.0  # retry_after told to callers while a trial is in flight
CACHE_SECONDS = 1.0  # how stale this process's view of another process's state may be

ACTION_CIRCUIT_OPEN = (
    "The platform failed several times in a row; FlashFusion pauses calls to it and tries "
    "again after a cool-down."
)


@dataclass(frozen=True)
class BreakerStatus:
    """The circuit of one connection, for the UI. `state` is half_open once the cool-down has
    passed even if no call has tried yet."""

    state: BreakerState
    consecutive_failures: int
    retry_at: datetime | None
    cooldown_seconds: float


class CircuitBreaker:
    def __init__(self) -> None:
        self._cache: dict[uuid.UUID, tuple[BreakerSnapshot | None, float]] = {}
        self._trials: set[uuid.UUID] = set()  # trials this process has in flight
        self._pending: set[asyncio.Task[None]] = set()
        self._locks: dict[tuple[int, uuid.UUID], asyncio.Lock] = {}
        self._engines: dict[int, AsyncEngine] = {}

    # --- database access --------------------------------------------------------------

    @asynccontextmanager
    async def _unit(self, *, read_only: bool) -> AsyncIterator[AsyncSession]:
        """A transaction of the breaker's own. On SQLite outside tests it runs on an engine of
        its own: the app's engine has one connection per event loop, which the caller's open
        session may hold while it calls the platform."""
        if db._override_factory is not None or not get_settings().is_sqlite:
            async with db.unit_of_work(read_only=read_only) as session:
                yield session
            return
        loop_id = id(asyncio.get_running_loop())
        engine = self._engines.get(loop_id)
        if engine is None:
            engine = self._engines[loop_id] = db.create_engine()
        if read_only:
            engine = engine.execution_options(**{db.READ_ONLY_OPTION: True})
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            yield session

    async def _deferred(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `work` once this event loop's SQLite writer (the caller) has finished."""
        lock = db._write_lock(False)
        if lock is None:
            await work()
            return
        async with lock:
            await work()

    def _lock(self, connection_id: uuid.UUID) -> asyncio.Lock:
        """One database access at a time per connection in this event loop: concurrent calls
        share one refresh of the cache instead of one query each."""
        key = (id(asyncio.get_running_loop()), connection_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def _maybe_lock(
        self, connection_id: uuid.UUID, locked: bool
    ) -> "asyncio.Lock | contextlib.nullcontext[None]":
        return self._lock(connection_id) if locked else contextlib.nullcontext()

    async def _load(
        self, connection_id: uuid.UUID, *, fresh: bool = False
    ) -> BreakerSnapshot | None:
        requested = time.monotonic()
        async with self._lock(connection_id):
            cached = self._cache.get(connection_id)
            if cached is not None and (
                (not fresh and requested - cached[1] < CACHE_SECONDS) or cached[1] >= requested
            ):
                return cached[0]
            async with self._unit(read_only=True) as session:
                snapshot = await BreakerRepository.from_session(session).get(connection_id)
            self._remember(connection_id, snapshot)
            return snapshot

    def _remember(self, connection_id: uuid.UUID, snapshot: BreakerSnapshot | None) -> None:
        self._cache[connection_id] = (snapshot, time.monotonic())

    @staticmethod
    def _must_defer() -> bool:
        lock = db._write_lock(False)
        return lock is not None and lock.locked()

    def _defer(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def drain(self) -> None:
        """Wait for deferred breaker writes (tests; shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    # --- the request path ---------------------------------------------------------------

    async def before_call(self, connection_id: uuid.UUID) -> None:
        """Return if a call may go now; raise `circuit_open` if not."""
        snapshot = await self._load(connection_id)
        if snapshot is None or snapshot.state == BreakerState.closed:
            return
        now = utc_now()
        if snapshot.state == BreakerState.open and snapshot.retry_at and now < snapshot.retry_at:
            raise _open_error((snapshot.retry_at - now).total_seconds())
        if connection_id in self._trials:
            raise _open_error(TRIAL_PENDING_RETRY_SECONDS)
        if await self._claim_trial(connection_id, now):
            self._trials.add(connection_id)
            return
        raise _open_error(TRIAL_PENDING_RETRY_SECONDS)

    async def _claim_trial(self, connection_id: uuid.UUID, now: datetime) -> bool:
        stale = now - timedelta(seconds=TRIAL_TIMEOUT_SECONDS)
        if self._must_defer():
            # Only this process can be asked; the claim is written when the lock is free.
            cached = self._cache.get(connection_id)
            snapshot = cached[0] if cached else None
            if snapshot is not None:
                self._remember(
                    connection_id,
                    replace(snapshot, state=BreakerState.half_open, trial_started_at=now),
                )
            self._defer(
                self._deferred(lambda: self._write_claim(connection_id, now, stale, locked=False))
            )
            return True
        claimed = await self._write_claim_now(connection_id, now, stale)
        await self._load(connection_id, fresh=True)
        return claimed

    async def _write_claim_now(
        self, connection_id: uuid.UUID, now: datetime, stale: datetime, *, locked: bool = True
    ) -> bool:
        async with self._maybe_lock(connection_id, locked), self._unit(read_only=False) as session:
            return await BreakerRepository.from_session(session).claim_trial(
                connection_id, now=now, stale_before=stale
            )

    async def _write_claim(
        self, connection_id: uuid.UUID, now: datetime, stale: datetime, *, locked: bool
    ) -> None:
        await self._write_claim_now(connection_id, now, stale, locked=locked)

    async def record_success(self, connection_id: uuid.UUID) -> None:
        self._trials.discard(connection_id)
        snapshot = await self._load(connection_id)
        if snapshot is None or (
            snapshot.state == BreakerState.closed and snapshot.consecutive_failures == 0
        ):
            return
        self._remember(
            connection_id,
            BreakerSnapshot(BreakerState.closed, 0, BASE_COOLDOWN_SECONDS, None, None),
        )
        if self._must_defer():
            self._defer(self._deferred(lambda: self._write_success(connection_id, locked=False)))
        else:
            await self._write_success(connection_id)
            log.info("connector.breaker_closed", connection_id=str(connection_id))

    async def _write_success(self, connection_id: uuid.UUID, *, locked: bool = True) -> None:
        async with self._maybe_lock(connection_id, locked), self._unit(read_only=False) as session:
            await BreakerRepository.from_session(session).close(
                connection_id, base_cooldown=BASE_COOLDOWN_SECONDS, now=utc_now()
            )

    async def record_failure(self, connection_id: uuid.UUID) -> None:
        was_trial = connection_id in self._trials
        self._trials.discard(connection_id)
        if self._must_defer():
            cached = self._cache.get(connection_id)
            current = cached[0] if cached else None
            self._remember(
                connection_id,
                _after_failure(current, utc_now(), counted=False, was_trial=was_trial),
            )
            self._defer(
                self._deferred(lambda: self._write_failure(connection_id, was_trial, locked=False))
            )
        else:
            await self._write_failure(connection_id, was_trial)

    async def _write_failure(
        self, connection_id: uuid.UUID, was_trial: bool, *, locked: bool = True
    ) -> None:
        now = utc_now()
        async with self._maybe_lock(connection_id, locked), self._unit(read_only=False) as session:
            repository = BreakerRepository.from_session(session)
            snapshot = await repository.add_failure(
                connection_id, base_cooldown=BASE_COOLDOWN_SECONDS, now=now
            )
            if snapshot is None:
                self._remember(connection_id, None)
                return
            opened = _after_failure(snapshot, now, counted=True, was_trial=was_trial)
            if opened.state == BreakerState.open and snapshot.state != BreakerState.open:
                snapshot = (
                    await repository.set_open(
                        connection_id, cooldown=opened.cooldown_seconds, now=now
                    )
                    or snapshot
                )
                log.warning(
                    "connector.breaker_opened",
                    connection_id=str(connection_id),
                    failures=snapshot.consecutive_failures,
                    cooldown_seconds=snapshot.cooldown_seconds,
                )
        self._remember(connection_id, snapshot)

    # --- the UI ------------------------------------------------------------------------

    async def state(self, connection_id: uuid.UUID) -> BreakerStatus:
        snapshot = await self._load(connection_id, fresh=True)
        if snapshot is None:
            return BreakerStatus(BreakerState.closed, 0, None, BASE_COOLDOWN_SECONDS)
        state = snapshot.state
        if state == BreakerState.open and snapshot.retry_at and snapshot.retry_at <= utc_now():
            state = BreakerState.half_open
        return BreakerStatus(
            state, snapshot.consecutive_failures, snapshot.retry_at, snapshot.cooldown_seconds
        )

    def reset(self) -> None:
        """Forget the process's cache and trials (tests)."""
        self._cache.clear()
        self._trials.clear()
        self._locks.clear()


def _after_failure(
    snapshot: BreakerSnapshot | None, now: datetime, *, counted: bool, was_trial: bool
) -> BreakerSnapshot:
    """The state after one more retryable failure. `counted`: the snapshot already includes
    it (read back from the database after the increment), else it is this process's cache."""
    if snapshot is None:
        snapshot = BreakerSnapshot(BreakerState.closed, 0, BASE_COOLDOWN_SECONDS, None, None)
    failures = snapshot.consecutive_failures + (0 if counted else 1)
    if snapshot.state == BreakerState.half_open and was_trial:
        cooldown = min(snapshot.cooldown_seconds * 2, MAX_COOLDOWN_SECONDS)
        return BreakerSnapshot(
            BreakerState.open, failures, cooldown, now + timedelta(seconds=cooldown), None
        )
    if snapshot.state == BreakerState.closed and failures >= FAILURE_THRESHOLD:
        cooldown = BASE_COOLDOWN_SECONDS
        return BreakerSnapshot(
            BreakerState.open, failures, cooldown, now + timedelta(seconds=cooldown), None
        )
    return replace(snapshot, consecutive_failures=failures)


def _open_error(retry_after: float) -> RetryableConnectorError:
    return RetryableConnectorError(
        "circuit_open",
        ACTION_CIRCUIT_OPEN,
        platform_message="circuit open: calls to this connection are paused",
        retry_after=max(0.0, retry_after),
    )


breaker = CircuitBreaker()


async def before_call(connection_id: uuid.UUID) -> None:
    """Raise RetryableConnectorError("circuit_open") unless a call may go now."""
    await breaker.before_call(connection_id)


async def record_success(connection_id: uuid.UUID) -> None:
    await breaker.record_success(connection_id)


async def record_failure(connection_id: uuid.UUID) -> None:
    await breaker.record_failure(connection_id)


async def state(connection_id: uuid.UUID) -> BreakerStatus:
    """The circuit of `connection_id` now (for the UI)."""
    return await breaker.state(connection_id)

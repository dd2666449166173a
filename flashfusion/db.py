"""Database engines and the unit of work.

One async engine per event loop: the web server and DBOS's background loop each get their own
pool, because aiosqlite and psycopg connections belong to the loop that opened them.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session

from flashfusion.config import get_settings

SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY_OPTION = "flashfusion_read_only"

_engines: dict[int, AsyncEngine] = {}
_write_locks: dict[int, asyncio.Lock] = {}
_override_factory: Callable[[], AsyncSession] | None = None


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        # Let SQLAlchemy emit BEGIN itself so that transactions are explicit (pysqlite quirk).
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY_OPTION):
            # A reader in WAL mode takes no lock and is never blocked by the writer.
            conn.exec_driver_sql("BEGIN")
        else:
            # IMMEDIATE takes the write lock up front: a transaction that read first and then
            # writes could otherwise fail with SQLITE_BUSY_SNAPSHOT when another commit came
            # in between.
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str | None = None, **kwargs: Any) -> AsyncEngine:
    settings = get_settings()
    url = url or settings.database_url
    if url.startswith("sqlite"):
        settings.home.mkdir(parents=True, exist_ok=True)
        # One connection per event loop. aiosqlite runs each connection on a thread of its own,
        # and several would only trade GIL hand-offs for no real parallelism (measured: more
        # CPU per request). Waiting for the pool is first come, first served, unlike SQLite's
        # busy handler, which sleeps and retries. Writers also take turns on an asyncio lock
        # (see unit_of_work), so a reader never waits behind a writer polling for the file lock.
        engine = create_async_engine(url, pool_size=1, max_overflow=0, **kwargs)
        _configure_sqlite(engine.sync_engine)
        return engine
    return create_async_engine(
        url, pool_size=10, max_overflow=10, pool_pre_ping=True, pool_recycle=1800, **kwargs
    )


def get_engine() -> AsyncEngine:
    """The engine for the running event loop."""
    loop = asyncio.get_running_loop()
    engine = _engines.get(id(loop))
    if engine is None:
        engine = _engines[id(loop)] = create_engine()
    return engine


async def dispose_engines() -> None:
    loop_id = id(asyncio.get_running_loop())
    _write_locks.pop(loop_id, None)
    for read_only in (False, True):
        _sessionmakers.pop((loop_id, read_only), None)
    engine = _engines.pop(loop_id, None)
    if engine is not None:
        await engine.dispose()


class ReadOnlyViolation(RuntimeError):
    """A read-only unit of work (a GET request) tried to write."""


def _refuse_writes(session: Session, *_: Any) -> None:
    if session.info.get(READ_ONLY_OPTION) and (session.new or session.dirty or session.deleted):
        raise ReadOnlyViolation(
            "a read-only unit of work tried to write; use persist_always() for bookkeeping"
        )


def _refuse_dml(state: ORMExecuteState) -> None:
    if state.session.info.get(READ_ONLY_OPTION) and (
        state.is_update or state.is_delete or state.is_insert
    ):
        raise ReadOnlyViolation(
            "a read-only unit of work tried to write; use persist_always() for bookkeeping"
        )


# Registered once on the Session class: per-session listeners would cost every request.
event.listen(Session, "before_flush", _refuse_writes)
event.listen(Session, "do_orm_execute", _refuse_dml)

_sessionmakers: dict[tuple[int, bool], async_sessionmaker[AsyncSession]] = {}


def new_session(*, read_only: bool = False) -> AsyncSession:
    if _override_factory is not None:
        session = _override_factory()
    else:
        key = (id(asyncio.get_running_loop()), read_only)
        maker = _sessionmakers.get(key)
        if maker is None:
            engine = get_engine()
            if read_only:
                engine = engine.execution_options(**{READ_ONLY_OPTION: True})
            maker = _sessionmakers[key] = async_sessionmaker(engine, expire_on_commit=False)
        session = maker()
    if read_only:
        session.info[READ_ONLY_OPTION] = True
    return session


def _write_lock(read_only: bool) -> asyncio.Lock | None:
    """In-process FIFO turn-taking for SQLite writers (None where it isn't needed)."""
    if read_only or _override_factory is not None:
        return None
    engine = get_engine()
    if engine.dialect.name != "sqlite":
        return None
    loop_id = id(asyncio.get_running_loop())
    lock = _write_locks.get(loop_id)
    if lock is None:
        lock = _write_locks[loop_id] = asyncio.Lock()
    return lock


def set_session_factory(factory: Callable[[], AsyncSession] | None) -> None:
    """Tests route every unit of work through one connection held in a rolled-back transaction."""
    global _override_factory
    _override_factory = factory


AfterCommit = Callable[[], Awaitable[None]]
AfterRollback = Callable[[AsyncSession], Awaitable[None]]


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once the session commits; dropped if it rolls back."""
    session.info.setdefault("after_commit", []).append(callback)


def persist_always(session: AsyncSession, callback: AfterRollback) -> None:
    """Write something whether the unit of work commits or fails: the audit row of a denial,
    the last-used time of an API key, the idle clock of a session.

    The callback runs after the unit of work ends, in a transaction of its own: a read-only
    request stays read-only, and a failed one keeps the record of what was refused.
    """
    session.info.setdefault("persist_always", []).append(callback)


async def _run_durable(callbacks: list[AfterRollback]) -> None:
    try:
        async with unit_of_work() as session:
            for callback in callbacks:
                await callback(session)
    except Exception:  # never mask the request's own outcome with a bookkeeping failure
        logging.getLogger(__name__).exception("persist_always failed")


@asynccontextmanager
async def unit_of_work(*, read_only: bool = False) -> AsyncIterator[AsyncSession]:
    """One transaction: commit on success, roll back on error, then run the matching hooks.

    `read_only` units (GET requests) take no write lock on SQLite and refuse to write.
    """
    lock = _write_lock(read_only)
    if lock is not None:
        await lock.acquire()
    session = new_session(read_only=read_only)
    committed = False
    try:
        yield session
    except BaseException:
        # Rolling back expires every loaded object; detach them first so that what the request
        # already read (the signed-in user, the workspace) stays readable for the error page.
        session.expunge_all()
        await session.rollback()
        raise
    else:
        await session.commit()
        committed = True
    finally:
        durable: list[AfterRollback] = session.info.pop("persist_always", [])
        after: list[AfterCommit] = session.info.pop("after_commit", [])
        await session.close()
        if lock is not None:
            lock.release()
        if durable:
            await _run_durable(durable)
        if committed:
            for callback in after:
                await callback()


async def get_db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """FastAPI dependency (scope="function"): commits before the response is sent.

    GET and HEAD never change state, so their unit of work is read-only.
    """
    async with unit_of_work(read_only=request.method in ("GET", "HEAD")) as session:
        yield session


# Use in endpoints: `session: AsyncSessionDep`. One session per request, committed before the
# response is sent (scope="function"), shared by every dependency of the request.
AsyncSessionDep = Annotated[AsyncSession, Depends(get_db_session, scope="function")]

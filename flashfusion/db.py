"""Database engines and the unit of work.

One async engine per event loop: the web server and DBOS's background loop each get their own
pool, because aiosqlite and psycopg connections belong to the loop that opened them.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from flashfusion.config import get_settings

# A read-only path takes this alias; it is the same class, the name documents intent.
AsyncReadSession = AsyncSession

SQLITE_BUSY_TIMEOUT_MS = 30_000

_engines: dict[int, AsyncEngine] = {}
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
        # IMMEDIATE takes the write lock up front: no deadlock between two readers upgrading.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str | None = None, **kwargs: Any) -> AsyncEngine:
    settings = get_settings()
    url = url or settings.database_url
    if url.startswith("sqlite"):
        settings.home.mkdir(parents=True, exist_ok=True)
        # One connection per event loop: every transaction is BEGIN IMMEDIATE, so a second
        # connection could only wait in SQLite's busy handler, which sleeps and retries (up to
        # 100 ms a time) and, under load, starves some requests for seconds. Waiting on the pool
        # instead is first come, first served, and wakes the moment the connection is free.
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
    engine = _engines.pop(loop_id, None)
    if engine is not None:
        await engine.dispose()


def forget_engines() -> None:
    """Drop cached engines (after settings change in tests or CLI)."""
    _engines.clear()


def new_session() -> AsyncSession:
    if _override_factory is not None:
        return _override_factory()
    return async_sessionmaker(get_engine(), expire_on_commit=False)()


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
    """Write something whether the unit of work commits or fails (e.g. the audit row of a denial).

    On success the callback runs inside the transaction, before the commit; on failure it runs
    after the rollback, in a fresh transaction on the same session.
    """
    session.info.setdefault("persist_always", []).append(callback)


@asynccontextmanager
async def unit_of_work() -> AsyncIterator[AsyncSession]:
    """One transaction: commit on success, roll back on error, then run the matching hooks."""
    session = new_session()
    try:
        yield session
        for callback in session.info.pop("persist_always", []):
            await callback(session)
    except BaseException:
        # Rolling back expires every loaded object; detach them first so that what the request
        # already read (the signed-in user, the workspace) stays readable for the error page.
        session.expunge_all()
        await session.rollback()
        callbacks: list[AfterRollback] = session.info.pop("persist_always", [])
        session.info.pop("after_commit", None)
        if callbacks:
            for callback in callbacks:
                await callback(session)
            await session.commit()
        raise
    else:
        await session.commit()
        for commit_callback in session.info.pop("after_commit", []):
            await commit_callback()
    finally:
        await session.close()


async def get_db_session() -> AsyncIterator[AsyncSession]:
    """FastAPI dependency (scope="function"): commits before the response is sent."""
    async with unit_of_work() as session:
        yield session


def is_sqlite(session: AsyncSession) -> bool:
    bind = session.get_bind()
    return bind.dialect.name == "sqlite"


# Use in endpoints: `session: AsyncSessionDep`. One session per request, committed before the
# response is sent (scope="function"), shared by every dependency of the request.
AsyncSessionDep = Annotated[AsyncSession, Depends(get_db_session, scope="function")]

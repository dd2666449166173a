"""Test harness: a real database (SQLite, or PostgreSQL when FLASHFUSION_TEST_DATABASE_URL is
set), migrated once per run; every test runs inside a transaction that is rolled back."""

import atexit
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# Settings come from the environment: set them before anything imports flashfusion.config.
_HOME = Path(tempfile.mkdtemp(prefix="flashfusion-test-"))
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
os.environ["FLASHFUSION_ENV"] = "test"
os.environ["FLASHFUSION_HOME"] = str(_HOME)
# A fresh random secret per run; nothing secret is written into the repository.
os.environ["FLASHFUSION_SECRET_KEY"] = secrets.token_urlsafe(48)
os.environ["FLASHFUSION_EMAIL_BACKEND"] = "file"
os.environ["FLASHFUSION_BASE_URL"] = "http://testserver"
# OWASP's minimum argon2id cost keeps the suite fast without going below the policy floor.
os.environ["FLASHFUSION_PASSWORD_HASH_MEMORY_KIB"] = "19456"
os.environ["FLASHFUSION_PASSWORD_HASH_TIME_COST"] = "2"
os.environ["FLASHFUSION_PASSWORD_HASH_PARALLELISM"] = "1"
os.environ["FLASHFUSION_LOG_LEVEL"] = "WARNING"
TEST_DATABASE_URL = os.environ.get("FLASHFUSION_TEST_DATABASE_URL", "")
if TEST_DATABASE_URL:
    os.environ["FLASHFUSION_DATABASE_URL"] = TEST_DATABASE_URL
else:
    os.environ.pop("FLASHFUSION_DATABASE_URL", None)

import httpx  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession  # noqa: E402

from flashfusion import db  # noqa: E402
from flashfusion.config import get_settings, sync_database_url  # noqa: E402

pytest_plugins = ["tests.fixtures.objects"]


def _reset_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(sync_database_url(url).replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS dbos CASCADE")
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture(scope="session", autouse=True)
def migrated_database() -> None:
    """Migrate once per run, before any event loop exists (Alembic runs its own)."""
    from flashfusion import migrate

    settings = get_settings()
    if TEST_DATABASE_URL:
        _reset_postgres(settings.database_url)
    migrate.upgrade(settings=settings)


@pytest.fixture(scope="session")
def database_kind() -> str:
    return "postgresql" if TEST_DATABASE_URL else "sqlite"


@pytest.fixture
async def connection() -> AsyncIterator[AsyncConnection]:
    engine = db.get_engine()
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            yield connection
        finally:
            await transaction.rollback()


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """The test's own session; every unit of work of the app shares its connection and
    transaction (as savepoints), and everything is rolled back after the test."""

    def factory() -> AsyncSession:
        return AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )

    db.set_session_factory(factory)
    test_session = factory()
    try:
        yield test_session
    finally:
        await test_session.close()
        db.set_session_factory(None)


@pytest.fixture
async def app(session: AsyncSession):  # type: ignore[no-untyped-def]
    from flashfusion.app import create_app

    return create_app(run_jobs=False)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def mail_dir() -> Path:
    return get_settings().home / "mail"


async def count_rows(
    session: AsyncSession, table: str, where: str = "1=1", **params: object
) -> int:
    result = await session.execute(text(f"SELECT count(*) FROM {table} WHERE {where}"), params)
    return int(result.scalar_one())

"""Schema migrations: Alembic for our tables, DBOS's own migrations for its system tables."""

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from flashfusion.config import Settings, get_settings
from flashfusion.jobs import engine as job_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(settings: Settings | None = None) -> Config:
    settings = settings or get_settings()
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    config.set_main_option(
        "file_template",
        "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-%%(slug)s",
    )
    return config


def upgrade(revision: str = "head", settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    if settings.is_sqlite:
        settings.home.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings), revision)
    job_engine.migrate(settings)


def downgrade(revision: str, settings: Settings | None = None) -> None:
    command.downgrade(alembic_config(settings), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current_revision(settings: Settings | None = None) -> str | None:
    from flashfusion.db import create_engine

    settings = settings or get_settings()
    engine = create_engine(settings.database_url)

    def _read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_read)
    finally:
        await engine.dispose()


def current_revision_sync(settings: Settings | None = None) -> str | None:
    return asyncio.run(current_revision(settings))

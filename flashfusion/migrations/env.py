"""Alembic environment: runs against the configured database (async driver)."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

import flashfusion.models  # noqa: F401  (populate the metadata)
from flashfusion.db import create_engine
from flashfusion.models.base import Model

target_metadata = Model.metadata


def _include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    # DBOS owns its system tables (PostgreSQL schema `dbos`; plain tables in SQLite).
    if type_ == "table" and reflected and compare_to is None:
        return False
    return True


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=_include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    engine = create_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


asyncio.run(_main())

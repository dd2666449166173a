"""All SQL of the rate limiter (the few statements pyrate-limiter has no API for) and of the
circuit breakers (`connector_breakers`)."""

import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.kit.repository import dialect_insert
from flashfusion.models.connector_breaker import BreakerState, ConnectorBreaker

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

# --- rate-limit buckets ----------------------------------------------------------------------


def sqlite_create_bucket_table(conn: sqlite3.Connection, table: str) -> None:
    """The table `SQLiteBucket` reads (the columns of pyrate-limiter's own CREATE TABLE)."""
    conn.execute(f'CREATE TABLE IF NOT EXISTS "{table}" (name VARCHAR, item_timestamp INTEGER)')
    conn.execute(
        f'CREATE INDEX IF NOT EXISTS "idx_{table}_rate_item_timestamp" ON "{table}" '
        "(item_timestamp)"
    )
    conn.commit()


def sqlite_fill(conn: sqlite3.Connection, table: str, count: int, timestamp_ms: int) -> None:
    """`count` admitted calls stamped `timestamp_ms` (a Retry-After pause)."""
    conn.executemany(
        f'INSERT INTO "{table}" (name, item_timestamp) VALUES (?, ?)',
        [(table, timestamp_ms)] * count,
    ).close()
    conn.commit()


def postgres_create_schema(url: str, schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


def postgres_fill(pool: "ConnectionPool[Any]", table: str, count: int, timestamp_ms: int) -> None:
    """`count` admitted calls stamped `timestamp_ms` in a `PostgresBucket` table (its columns:
    name, weight, item_timestamp TIMESTAMP set with TO_TIMESTAMP, as the bucket writes them)."""
    from psycopg import sql

    statement = sql.SQL(
        "INSERT INTO {} (name, weight, item_timestamp) "
        "SELECT %s, 1, TO_TIMESTAMP(%s) FROM generate_series(1, %s)"
    ).format(sql.Identifier(table))
    with pool.connection() as conn:
        conn.execute(statement, (table, timestamp_ms / 1000, count))


# --- circuit breakers ------------------------------------------------------------------------


@dataclass(frozen=True)
class BreakerSnapshot:
    state: BreakerState
    consecutive_failures: int
    cooldown_seconds: float
    retry_at: datetime | None
    trial_started_at: datetime | None

    @classmethod
    def of(cls, row: ConnectorBreaker) -> Self:
        return cls(
            state=row.state,
            consecutive_failures=row.consecutive_failures,
            cooldown_seconds=row.cooldown_seconds,
            retry_at=row.retry_at,
            trial_started_at=row.trial_started_at,
        )


class BreakerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> Self:
        return cls(session)

    async def get(self, connection_id: uuid.UUID) -> BreakerSnapshot | None:
        row = await self.session.get(ConnectorBreaker, connection_id, populate_existing=True)
        return None if row is None else BreakerSnapshot.of(row)

    async def add_failure(
        self, connection_id: uuid.UUID, *, base_cooldown: float, now: datetime
    ) -> BreakerSnapshot | None:
        """consecutive_failures + 1 (the row made on the first failure, with the connection's
        organization). None when the connection no longer exists."""
        from flashfusion.models.platform_connection import PlatformConnection

        organization_id = (
            await self.session.execute(
                select(PlatformConnection.organization_id).where(
                    PlatformConnection.id == connection_id
                )
            )
        ).scalar_one_or_none()
        if organization_id is None:
            return None
        statement = dialect_insert(self.session, ConnectorBreaker).values(
            connection_id=connection_id,
            organization_id=organization_id,
            state=BreakerState.closed,
            consecutive_failures=1,
            cooldown_seconds=base_cooldown,
            modified_at=now,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[ConnectorBreaker.connection_id],
            set_={
                "consecutive_failures": ConnectorBreaker.consecutive_failures + 1,
                "modified_at": now,
            },
        )
        await self.session.execute(statement)
        return await self.get(connection_id)

    async def set_open(
        self, connection_id: uuid.UUID, *, cooldown: float, now: datetime
    ) -> BreakerSnapshot | None:
        await self.session.execute(
            update(ConnectorBreaker)
            .where(ConnectorBreaker.connection_id == connection_id)
            .values(
                state=BreakerState.open,
                cooldown_seconds=cooldown,
                opened_at=now,
                retry_at=now + timedelta(seconds=cooldown),
                trial_started_at=None,
                modified_at=now,
            )
        )
        return await self.get(connection_id)

    async def claim_trial(
        self, connection_id: uuid.UUID, *, now: datetime, stale_before: datetime
    ) -> bool:
        """Make this call the one trial of a half-open circuit: True for exactly one caller
        (an open circuit past its retry time, or a trial that never reported back)."""
        result = await self.session.execute(
            update(ConnectorBreaker)
            .where(
                ConnectorBreaker.connection_id == connection_id,
                ((ConnectorBreaker.state == BreakerState.open) & (ConnectorBreaker.retry_at <= now))
                | (
                    (ConnectorBreaker.state == BreakerState.half_open)
                    & (ConnectorBreaker.trial_started_at < stale_before)
                ),
            )
            .values(state=BreakerState.half_open, trial_started_at=now, modified_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def close(self, connection_id: uuid.UUID, *, base_cooldown: float, now: datetime) -> None:
        await self.session.execute(
            update(ConnectorBreaker)
            .where(ConnectorBreaker.connection_id == connection_id)
            .values(
                state=BreakerState.closed,
                consecutive_failures=0,
                cooldown_seconds=base_cooldown,
                opened_at=None,
                retry_at=None,
                trial_started_at=None,
                modified_at=now,
            )
            .execution_options(synchronize_session=False)
        )

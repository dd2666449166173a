"""SQL of inbound webhook events."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import update

from flashfusion.kit.repository import Repository, dialect_insert
from flashfusion.models import ExternalEvent


class ExternalEventRepository(Repository[ExternalEvent]):
    model = ExternalEvent

    async def insert_once(self, values: dict[str, Any]) -> uuid.UUID | None:
        """Insert the event unless this connection already has one with its event id; the new
        row's id, or None for a duplicate (race-free: ON CONFLICT DO NOTHING)."""
        statement = (
            dialect_insert(self.session, ExternalEvent)
            .values(id=uuid.uuid4(), **values)
            .on_conflict_do_nothing(index_elements=["connection_id", "event_id"])
            .returning(ExternalEvent.id)
        )
        result = await self.session.execute(statement)
        return result.scalar_one_or_none()

    async def count_attempt(self, id: uuid.UUID) -> None:
        """One more try of the event (`attempts = attempts + 1`, in SQL)."""
        await self.session.execute(
            update(ExternalEvent)
            .where(ExternalEvent.id == id)
            .values(attempts=ExternalEvent.attempts + 1)
        )

    async def mark_handled(self, id: uuid.UUID, *, at: datetime, note: str | None) -> None:
        await self.session.execute(
            update(ExternalEvent).where(ExternalEvent.id == id).values(handled_at=at, error=note)
        )

    async def record_error(self, id: uuid.UUID, error: str) -> None:
        await self.session.execute(
            update(ExternalEvent).where(ExternalEvent.id == id).values(error=error)
        )

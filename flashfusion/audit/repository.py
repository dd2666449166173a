import uuid
from collections.abc import AsyncIterator, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime

from sqlalchemy import Select, func, select

from flashfusion.kit.repository import Repository
from flashfusion.models import AuditEvent, AuditExport


class AuditFilters:
    def __init__(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> None:
        self.action = action
        self.actor = actor
        self.outcome = outcome
        self.since = since
        self.until = until

    def as_dict(self) -> dict[str, str]:
        values = {
            "action": self.action,
            "actor": self.actor,
            "outcome": self.outcome,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }
        return {k: v for k, v in values.items() if v}


class AuditEventRepository(Repository[AuditEvent]):
    model = AuditEvent

    def statement_for_organizations(
        self, organization_ids: AbstractSet[uuid.UUID], filters: AuditFilters
    ) -> Select[AuditEvent]:
        statement = select(AuditEvent).where(AuditEvent.organization_id.in_(organization_ids))
        return self._apply(statement, filters).order_by(
            AuditEvent.created_at.desc(), AuditEvent.id.desc()
        )

    def statement_for_user(self, user_id: uuid.UUID) -> Select[AuditEvent]:
        return (
            select(AuditEvent)
            .where(AuditEvent.user_id == user_id, AuditEvent.organization_id.is_(None))
            .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        )

    def _apply(self, statement: Select[AuditEvent], filters: AuditFilters) -> Select[AuditEvent]:
        if filters.action:
            statement = statement.where(
                AuditEvent.action.startswith(filters.action, autoescape=True)
            )
        if filters.actor:
            statement = statement.where(
                func.lower(AuditEvent.actor_label).contains(filters.actor.lower(), autoescape=True)
            )
        if filters.outcome:
            statement = statement.where(AuditEvent.outcome == filters.outcome)
        if filters.since:
            statement = statement.where(AuditEvent.created_at >= filters.since)
        if filters.until:
            statement = statement.where(AuditEvent.created_at < filters.until)
        return statement

    async def exists_for_user(self, user_id: uuid.UUID, *, action: str, since: datetime) -> bool:
        statement = (
            select(AuditEvent.id)
            .where(
                AuditEvent.user_id == user_id,
                AuditEvent.action == action,
                AuditEvent.created_at >= since,
            )
            .limit(1)
        )
        return (await self.session.execute(statement)).first() is not None

    async def count(self, statement: Select[AuditEvent]) -> int:
        count = select(func.count()).select_from(statement.order_by(None).subquery())
        return (await self.session.execute(count)).scalar_one()

    async def stream(
        self, statement: Select[AuditEvent], batch_size: int = 500
    ) -> AsyncIterator[Sequence[AuditEvent]]:
        offset = 0
        while True:
            batch = await self.get_all(statement.limit(batch_size).offset(offset))
            if not batch:
                return
            yield batch
            offset += len(batch)


class AuditExportRepository(Repository[AuditExport]):
    model = AuditExport

    def statement_for_organizations(
        self, organization_ids: AbstractSet[uuid.UUID]
    ) -> Select[AuditExport]:
        return (
            self.get_base_statement()
            .where(AuditExport.organization_id.in_(organization_ids))
            .order_by(AuditExport.created_at.desc())
        )

import uuid
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Select, Table, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.kit.repository import Repository, TenantRepository, dialect_insert
from flashfusion.models import AICacheEntry, AICredential, AIGeneration, AISettings

# The tables themselves, for Core statements that skip the ORM's per-row work.
GENERATIONS = cast(Table, AIGeneration.__table__)

# The columns a workspace's settings row is created with (the rest are the row's own).
SETTINGS_COLUMNS = (
    "organization_id",
    "chains",
    "models",
    "plan_tier",
    "monthly_cap_microusd",
    "soft_warning_percent",
    "hard_stop",
    "offline_fallback",
    "cache_ttl_seconds",
)


Row = TypeVar("Row", AISettings, AICredential)


async def _ensure(
    session: AsyncSession, model: type[Row], keys: dict[str, Any], values: dict[str, Any]
) -> Row:
    """The row of `model` whose unique `keys` are these, inserted with `values` if there is
    none: an insert that does nothing on conflict, then a read (never check-then-insert)."""
    await session.execute(
        dialect_insert(session, model)
        .values(id=uuid.uuid4(), created_at=datetime.now(UTC), **keys, **values)
        .on_conflict_do_nothing(index_elements=list(keys))
    )
    statement = select(model).where(*(getattr(model, k) == v for k, v in keys.items()))
    return (await session.execute(statement.execution_options(populate_existing=True))).scalar_one()


class AISettingsRepository(TenantRepository[AISettings]):
    model = AISettings

    async def for_organization(self, organization_id: uuid.UUID) -> AISettings | None:
        return await self.get_one_or_none(
            self.get_base_statement().where(AISettings.organization_id == organization_id)
        )

    async def ensure(self, defaults: AISettings) -> AISettings:
        """The workspace's row, inserted with the values of `defaults` (an unsaved row) if it
        has none (race-free)."""
        values = {column: getattr(defaults, column) for column in SETTINGS_COLUMNS}
        keys = {"organization_id": values.pop("organization_id")}
        return await _ensure(self.session, AISettings, keys, values)


class AICredentialRepository(TenantRepository[AICredential]):
    model = AICredential

    async def for_organization(self, organization_id: uuid.UUID) -> Sequence[AICredential]:
        return await self.get_all(
            self.get_base_statement()
            .where(AICredential.organization_id == organization_id)
            .order_by(AICredential.provider)
        )

    async def get_provider(self, organization_id: uuid.UUID, provider: str) -> AICredential | None:
        return await self.get_one_or_none(
            self.get_base_statement().where(
                AICredential.organization_id == organization_id, AICredential.provider == provider
            )
        )

    async def ensure(
        self, organization_id: uuid.UUID, provider: str, user_id: uuid.UUID | None
    ) -> AICredential:
        """The workspace's row for `provider`, inserted empty if it has none (race-free)."""
        return await _ensure(
            self.session,
            AICredential,
            {"organization_id": organization_id, "provider": provider},
            {"created_by_user_id": user_id},
        )

    async def remove(self, organization_id: uuid.UUID, provider: str) -> bool:
        # A secret is deleted for real, not soft-deleted: nothing of it stays in the table.
        result = await self.session.execute(
            delete(AICredential).where(
                AICredential.organization_id == organization_id,
                AICredential.provider == provider,
            )
        )
        return bool(getattr(result, "rowcount", 0))


class AIGenerationRepository(TenantRepository[AIGeneration]):
    model = AIGeneration

    def search_statement(
        self,
        organization_ids: AbstractSet[uuid.UUID],
        *,
        task: str | None,
        provider: str | None,
        product_id: uuid.UUID | None,
    ) -> Select[AIGeneration]:
        statement = self.statement_for_organizations(organization_ids)
        if task:
            statement = statement.where(AIGeneration.task == task)
        if provider:
            statement = statement.where(AIGeneration.provider == provider)
        if product_id is not None:
            statement = statement.where(AIGeneration.product_id == product_id)
        return statement.order_by(AIGeneration.created_at.desc(), AIGeneration.id)

    async def spent_since(self, organization_id: uuid.UUID, since: datetime) -> int:
        result = await self.session.execute(
            select(func.coalesce(func.sum(AIGeneration.cost_microusd), 0)).where(
                AIGeneration.organization_id == organization_id,
                AIGeneration.created_at >= since,
            )
        )
        return int(result.scalar_one() or 0)

    async def totals_by(
        self, organization_id: uuid.UUID, column: str, since: datetime
    ) -> list[dict[str, Any]]:
        """Generations, tokens and cost grouped by one column (provider, task, product_id …)."""
        key = getattr(AIGeneration, column)
        result = await self.session.execute(
            select(
                key,
                func.count(),
                func.coalesce(func.sum(AIGeneration.cost_microusd), 0),
                func.coalesce(func.sum(AIGeneration.input_tokens), 0),
                func.coalesce(func.sum(AIGeneration.output_tokens), 0),
                func.count(AIGeneration.id).filter(AIGeneration.cache_hit.is_(True)),
                func.count(AIGeneration.id).filter(AIGeneration.cost_microusd.is_(None)),
            )
            .where(
                AIGeneration.organization_id == organization_id, AIGeneration.created_at >= since
            )
            .group_by(key)
            .order_by(func.coalesce(func.sum(AIGeneration.cost_microusd), 0).desc())
        )
        return [
            {
                "key": row[0],
                "generations": row[1],
                "cost_microusd": int(row[2]),
                "input_tokens": int(row[3]),
                "output_tokens": int(row[4]),
                "cache_hits": int(row[5] or 0),
                "unpriced": int(row[6]),
            }
            for row in result.all()
        ]

    async def insert_many(self, records: Sequence[AIGeneration]) -> None:
        """Write many ledger rows in one INSERT (executemany). The records are not added to the
        session: each must carry every column (id and created_at included), as `settle` makes
        them."""
        if not records:
            return
        columns = [c.key for c in GENERATIONS.columns]
        await self.session.execute(
            insert(GENERATIONS),
            [{column: getattr(record, column) for column in columns} for record in records],
        )

    async def cost_for_copies(self, copy_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        if not copy_ids:
            return {}
        result = await self.session.execute(
            select(
                AIGeneration.listing_copy_id,
                func.coalesce(func.sum(AIGeneration.cost_microusd), 0),
            )
            .where(AIGeneration.listing_copy_id.in_(copy_ids))
            .group_by(AIGeneration.listing_copy_id)
        )
        return {row[0]: int(row[1] or 0) for row in result.all() if row[0] is not None}


class AICacheRepository(Repository[AICacheEntry]):
    model = AICacheEntry

    async def lookup(
        self, organization_id: uuid.UUID, key: str, now: datetime
    ) -> AICacheEntry | None:
        return await self.get_one_or_none(
            select(AICacheEntry).where(
                AICacheEntry.organization_id == organization_id,
                AICacheEntry.key == key,
                AICacheEntry.expires_at > now,
            )
        )

    async def lookup_many(
        self, organization_id: uuid.UUID, keys: Sequence[str], now: datetime
    ) -> Sequence[AICacheEntry]:
        """The live entries of one workspace among `keys`, in one query."""
        if not keys:
            return []
        return await self.get_all(
            select(AICacheEntry).where(
                AICacheEntry.organization_id == organization_id,
                AICacheEntry.key.in_(list(keys)),
                AICacheEntry.expires_at > now,
            )
        )

    def _upsert_statement(self) -> Any:
        statement = dialect_insert(self.session, AICacheEntry)
        return statement.on_conflict_do_update(
            index_elements=["organization_id", "key"],
            set_={
                "response": statement.excluded.response,
                "expires_at": statement.excluded.expires_at,
                "created_at": statement.excluded.created_at,
            },
        )

    async def upsert_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """`upsert` for many entries in one statement (executemany); each (organization, key)
        at most once, which the caller ensures."""
        if rows:
            await self.session.execute(
                self._upsert_statement(), [{"id": uuid.uuid4(), **row} for row in rows]
            )

    async def upsert(self, values: dict[str, Any]) -> None:
        statement = dialect_insert(self.session, AICacheEntry).values(id=uuid.uuid4(), **values)
        statement = statement.on_conflict_do_update(
            index_elements=["organization_id", "key"],
            set_={
                "response": statement.excluded.response,
                "expires_at": statement.excluded.expires_at,
                "created_at": statement.excluded.created_at,
            },
        )
        await self.session.execute(statement)

    async def purge_expired(self, now: datetime) -> int:
        result = await self.session.execute(
            delete(AICacheEntry).where(AICacheEntry.expires_at <= now)
        )
        return int(getattr(result, "rowcount", 0) or 0)

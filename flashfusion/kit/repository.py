"""Repository base: every SQL statement of a domain lives in its repository."""

import uuid
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from typing import Any, Generic, Self, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.kit.pagination import PaginationParams
from flashfusion.models.base import IDModel

M = TypeVar("M", bound=IDModel)


def dialect_insert(session: AsyncSession, model: type[Any]) -> Any:
    """An INSERT with ON CONFLICT support (race-free upserts), in the session's dialect."""
    dialect = session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(model)


class Repository(Generic[M]):
    model: type[M]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> Self:
        return cls(session)

    def get_base_statement(self) -> Select[M]:
        statement = select(self.model)
        if hasattr(self.model, "deleted_at"):
            statement = statement.where(self.model.deleted_at.is_(None))  # type: ignore[attr-defined]
        return statement

    async def get_by_id(self, id: uuid.UUID) -> M | None:
        statement = self.get_base_statement().where(self.model.id == id)
        return await self.get_one_or_none(statement)

    async def get_one_or_none(self, statement: Select[M]) -> M | None:
        result = await self.session.execute(statement)
        return result.unique().scalar_one_or_none()

    async def get_all(self, statement: Select[M]) -> Sequence[M]:
        result = await self.session.execute(statement)
        return result.unique().scalars().all()

    async def paginate(
        self, statement: Select[M], pagination: PaginationParams
    ) -> tuple[list[M], int]:
        offset = (pagination.page - 1) * pagination.limit
        items = list(await self.get_all(statement.limit(pagination.limit).offset(offset)))
        if 0 < len(items) < pagination.limit or (offset == 0 and not items):
            # A page that isn't full is the last one: the total needs no second query.
            return items, offset + len(items)
        count_statement = select(func.count()).select_from(statement.order_by(None).subquery())
        total = (await self.session.execute(count_statement)).scalar_one()
        return items, total

    async def create(self, obj: M, *, flush: bool = True) -> M:
        self.session.add(obj)
        if flush:
            await self.session.flush()
        return obj

    async def update(self, obj: M, *, values: dict[str, Any], flush: bool = True) -> M:
        for key, value in values.items():
            setattr(obj, key, value)
        if flush:
            await self.session.flush()
        return obj


class TenantRepository(Repository[M]):
    """A repository of a tenant-owned table: every read is filtered by organization ids
    that came from `authz` (STYLE.md §4)."""

    def statement_for_organizations(self, organization_ids: AbstractSet[uuid.UUID]) -> Select[M]:
        column = self.model.organization_id  # type: ignore[attr-defined]
        return self.get_base_statement().where(column.in_(organization_ids))

    async def get_for_organizations(
        self, id: uuid.UUID, organization_ids: AbstractSet[uuid.UUID]
    ) -> M | None:
        return await self.get_one_or_none(
            self.statement_for_organizations(organization_ids).where(self.model.id == id)
        )

"""The unit of work: commit/rollback, read-only units, and writes that outlive a failure."""

import uuid

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.db import ReadOnlyViolation, after_commit, persist_always, unit_of_work
from flashfusion.models import Organization
from tests.fixtures.objects import create_organization


async def _names(session: AsyncSession) -> set[str]:
    return set((await session.execute(select(Organization.name))).scalars())


async def test_commit_and_rollback(session: AsyncSession) -> None:
    async with unit_of_work() as uow:
        uow.add(Organization(name="kept", slug=f"kept-{uuid.uuid4().hex[:8]}"))

    async def failing() -> None:
        async with unit_of_work() as uow:
            uow.add(Organization(name="dropped", slug=f"dropped-{uuid.uuid4().hex[:8]}"))
            await uow.flush()
            raise RuntimeError("business rule")

    with pytest.raises(RuntimeError):
        await failing()
    names = await _names(session)
    assert "kept" in names
    assert "dropped" not in names


async def test_read_only_unit_refuses_orm_and_core_writes(session: AsyncSession) -> None:
    organization = await create_organization(session, name="before")

    async def orm_write() -> None:
        async with unit_of_work(read_only=True) as uow:
            uow.add(Organization(name="sneaky", slug=f"sneaky-{uuid.uuid4().hex[:8]}"))
            await uow.flush()

    async def core_write() -> None:
        async with unit_of_work(read_only=True) as uow:
            await uow.execute(
                update(Organization).where(Organization.id == organization.id).values(name="after")
            )

    with pytest.raises(ReadOnlyViolation):
        await orm_write()
    with pytest.raises(ReadOnlyViolation):
        await core_write()
    assert await _names(session) >= {"before"}
    assert "sneaky" not in await _names(session)
    async with unit_of_work(read_only=True) as uow:
        assert (await uow.get(Organization, organization.id)) is not None


async def test_persist_always_runs_after_success_and_after_failure(session: AsyncSession) -> None:
    slugs = [f"durable-{i}-{uuid.uuid4().hex[:8]}" for i in range(3)]

    def durable(slug: str):  # type: ignore[no-untyped-def]
        async def _write(persist_session: AsyncSession) -> None:
            persist_session.add(Organization(name=slug, slug=slug))

        return _write

    # From a read-only unit: the bookkeeping write happens after it, in a unit of its own.
    async with unit_of_work(read_only=True) as uow:
        persist_always(uow, durable(slugs[0]))

    # From a failed unit: the business write is rolled back, the durable one is kept.
    async def failing() -> None:
        async with unit_of_work() as uow:
            uow.add(Organization(name="rolled-back", slug=f"rb-{uuid.uuid4().hex[:8]}"))
            persist_always(uow, durable(slugs[1]))
            raise RuntimeError("denied")

    with pytest.raises(RuntimeError):
        await failing()
    async with unit_of_work() as uow:
        persist_always(uow, durable(slugs[2]))
    names = await _names(session)
    assert set(slugs) <= names
    assert "rolled-back" not in names


async def test_after_commit_runs_only_on_commit(session: AsyncSession) -> None:
    calls: list[str] = []

    async def record(label: str) -> None:
        calls.append(label)

    async with unit_of_work() as uow:
        after_commit(uow, lambda: record("committed"))

    async def failing() -> None:
        async with unit_of_work() as uow:
            after_commit(uow, lambda: record("rolled back"))
            raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        await failing()
    assert calls == ["committed"]

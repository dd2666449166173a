"""Depth-first creates (publishing/tasks.py CREATE_SLOTS_PER_CONNECTION): a publish attempt
holds one of its connection's create slots from before it reads its work until the platform
returns the new item's id (`ctx.created`), or until the attempt ends; updates take none."""

import asyncio
import weakref
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject
from flashfusion.connector.base import RetryableConnectorError
from flashfusion.models import ChannelListing, PublishIntent, Role
from flashfusion.publishing import tasks
from flashfusion.publishing.service import publishing
from tests.fixtures.objects import Tenant
from tests.publishing.fakes import (
    FakeClock,
    FakeConnector,
    World,
    create_connection,
    publishable,
    run_jobs,
    world,
)
from tests.safeguard.pipeline_fakes import FakeChecks, add_copy, fake_checks

__all__ = ["fake_checks", "world"]


@pytest.fixture(autouse=True)
def one_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks, "CREATE_SLOTS_PER_CONNECTION", 1)
    monkeypatch.setattr(tasks, "_create_slots", weakref.WeakKeyDictionary())


@dataclass
class Started:
    connection_id: Any
    intent_id: str


@pytest.fixture
async def started(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> Started:
    """An Etsy connection and a started publish intent of one product on it."""
    etsy = await create_connection(session, tenant.organization.id)
    product = await publishable(session, tenant.organization)
    await publishing.publish(
        session, AuthSubject(tenant.users[Role.owner]), product_ids=[product.id],
        connection_ids=[etsy.id],
    )  # fmt: skip
    [intent] = (await session.execute(select(PublishIntent))).scalars()
    assert (await tasks.start(str(intent.id)))["status"] == "run"
    return Started(etsy.id, str(intent.id))


async def test_the_slot_is_held_until_the_platform_returns_the_id(
    started: Started, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.platform.report_created = True
    seen: list[tuple[str, bool]] = []
    create = FakeConnector.create_listing

    async def create_listing(self: FakeConnector, ctx: Any, payload: Any) -> Any:
        seen.append(("before the id", tasks.create_slots(started.connection_id).locked()))
        created = ctx.created

        async def created_then_look(remote_id: str) -> None:
            await created(remote_id)
            seen.append(("after the id", tasks.create_slots(started.connection_id).locked()))

        ctx.created = created_then_look
        return await create(self, ctx, payload)

    monkeypatch.setattr(FakeConnector, "create_listing", create_listing)
    outcome = await tasks.attempt(started.intent_id)
    assert outcome["status"] == "done"
    assert seen == [("before the id", True), ("after the id", False)]
    assert not tasks.create_slots(started.connection_id).locked()


async def test_a_second_attempt_waits_for_the_first_ones_id(started: Started, world: World) -> None:
    slots = tasks.create_slots(started.connection_id)
    await slots.acquire()  # another attempt on this connection, before its item's id
    waiting = asyncio.ensure_future(tasks.attempt(started.intent_id))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    assert world.platform.calls == []
    slots.release()
    assert (await waiting)["status"] == "done"
    assert world.platform.calls == ["create"]


async def test_a_failed_create_frees_its_slot(started: Started, world: World) -> None:
    world.platform.fail["create"] = [RetryableConnectorError("network", "Check the network.")]
    outcome = await tasks.attempt(started.intent_id)
    assert (outcome["status"], outcome["code"]) == ("retry", "network")
    assert not tasks.create_slots(started.connection_id).locked()


async def test_an_update_takes_no_slot(
    session: AsyncSession,
    tenant: Tenant,
    world: World,
    fake_checks: FakeChecks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    etsy = await create_connection(session, tenant.organization.id)
    product = await publishable(session, tenant.organization)
    owner = AuthSubject(tenant.users[Role.owner])
    await publishing.publish(session, owner, product_ids=[product.id], connection_ids=[etsy.id])
    assert await run_jobs(session, FakeClock()) == ["succeeded"]
    await add_copy(
        session,
        product,
        versions=[{"title": "Sunrise tee, now softer", "description": "Softer.", "tags": []}],
        language="de",
    )
    listing = (
        await session.execute(select(ChannelListing).where(ChannelListing.connection_id == etsy.id))
    ).scalar_one()
    outcome, intent = await publishing.update(session, owner, listing.id)
    assert outcome == "queued"
    assert intent is not None
    slots = tasks.create_slots(etsy.id)
    await slots.acquire()  # every create slot taken: an update must not wait for one
    try:
        assert await asyncio.wait_for(run_jobs(session, FakeClock()), 5) == ["succeeded"]
    finally:
        slots.release()
    assert world.platform.calls == ["create", "get", "update"]

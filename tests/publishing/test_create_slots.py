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
from flashfusion.models import (
    ChannelListing,
    IntentState,
    Product,
    PublishIntent,
    Role,
)
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
class Queued:
    connection_id: Any
    product: Product
    owner: AuthSubject[Any]
    intent: PublishIntent


@pytest.fixture
async def queued(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> Queued:
    """An Etsy connection and a queued publish intent of one product on it."""
    etsy = await create_connection(session, tenant.organization.id)
    product = await publishable(session, tenant.organization)
    owner = AuthSubject(tenant.users[Role.owner])
    await publishing.publish(session, owner, product_ids=[product.id], connection_ids=[etsy.id])
    [intent] = (await session.execute(select(PublishIntent))).scalars()
    return Queued(etsy.id, product, owner, intent)


@dataclass
class Started:
    connection_id: Any
    intent_id: str


@pytest.fixture
async def started(queued: Queued) -> Started:
    """`queued`, started."""
    assert (await tasks.start(str(queued.intent.id)))["status"] == "run"
    return Started(queued.connection_id, str(queued.intent.id))


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


async def test_a_run_waiting_for_its_turn_holds_no_slot_and_fails_when_stuck(
    session: AsyncSession, queued: Queued, world: World
) -> None:
    older = queued.intent
    assert (await tasks.start(str(older.id)))["status"] == "run"  # the older one is running
    await add_copy(
        session,
        queued.product,
        versions=[{"title": "Sunrise tee, now softer", "description": "Softer.", "tags": []}],
        language="de",
    )
    await publishing.publish(
        session, queued.owner, product_ids=[queued.product.id],
        connection_ids=[queued.connection_id],
    )  # fmt: skip
    [newer] = (
        await session.execute(select(PublishIntent).where(PublishIntent.id != older.id))
    ).scalars()
    slots = tasks.create_slots(queued.connection_id)
    locked_while_waiting: list[bool] = []

    async def look() -> None:
        locked_while_waiting.append(slots.locked())

    clock = FakeClock(on_sleep=look)
    assert await tasks.run(str(newer.id), clock) == "failed"  # stuck behind the older one
    assert locked_while_waiting == [False] * tasks.TURN_POLLS
    assert world.platform.calls == []
    assert not slots.locked()
    await session.refresh(newer)
    await session.refresh(older)
    # The stuck intent fails with what to do (not left queued); the older one is untouched.
    assert (newer.state, newer.error_code, newer.error_kind) == (
        IntentState.failed,
        "stuck_behind",
        "retryable",
    )
    assert newer.error_action == "Retry once the earlier publish has finished."
    assert older.state == IntentState.running

"""Find-before-create is skipped only when nothing of the listing can be on the platform
(publishing/tasks.py `_first_create`): a first attempt of a listing's only intent, never sent a
create, with no sibling listing of the product on the same platform. Everything else looks
first, so no second item is ever made."""

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject
from flashfusion.connector.base import RetryableConnectorError
from flashfusion.models import ChannelListing, IntentState, ListingState, PublishIntent, Role
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
from tests.safeguard.pipeline_fakes import FakeChecks, fake_checks

__all__ = ["fake_checks", "world"]


async def _listing(session: AsyncSession, connection_id: object) -> ChannelListing:
    result = await session.execute(
        select(ChannelListing)
        .where(ChannelListing.connection_id == connection_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one()


async def test_a_first_publish_creates_without_a_look_up_and_marks_the_create_first(
    session: AsyncSession,
    tenant: Tenant,
    world: World,
    fake_checks: FakeChecks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    product = await publishable(session, tenant.organization)
    etsy = await create_connection(session, tenant.organization.id)
    seen: list[object] = []
    create = FakeConnector.create_listing

    async def create_listing(self: FakeConnector, ctx: Any, payload: Any) -> Any:
        # create_sent_at was committed with the attempt's count, before the create.
        seen.append((await _listing(session, etsy.id)).create_sent_at)
        return await create(self, ctx, payload)

    monkeypatch.setattr(FakeConnector, "create_listing", create_listing)
    await publishing.publish(
        session, AuthSubject(tenant.users[Role.owner]), product_ids=[product.id],
        connection_ids=[etsy.id],
    )  # fmt: skip
    listing = await _listing(session, etsy.id)
    assert listing.create_sent_at is None
    assert await run_jobs(session, FakeClock()) == ["succeeded"]
    listing = await _listing(session, etsy.id)
    assert world.platform.calls == ["create"]
    assert seen == [listing.create_sent_at]
    assert listing.create_sent_at is not None
    assert world.platform.find_options == []
    assert listing.state == ListingState.published


async def test_a_second_connection_of_the_platform_looks_first_and_makes_no_second_item(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    # Two connections of one platform (say, the same shop connected twice): the product's item
    # made through the first carries the product's SKUs, so the second must find it.
    product = await publishable(session, tenant.organization)
    first = await create_connection(session, tenant.organization.id, name="Shop A")
    second = await create_connection(session, tenant.organization.id, name="Shop A again")
    owner = AuthSubject(tenant.users[Role.owner])
    await publishing.publish(session, owner, product_ids=[product.id], connection_ids=[first.id])
    assert await run_jobs(session, FakeClock()) == ["succeeded"]
    assert world.platform.calls == ["create"]
    await publishing.publish(session, owner, product_ids=[product.id], connection_ids=[second.id])
    assert await run_jobs(session, FakeClock()) == ["succeeded"]
    assert world.platform.calls == ["create", "find", "update"]
    assert world.platform.created["etsy"] == 1
    assert (await _listing(session, second.id)).remote_id == (
        await _listing(session, first.id)
    ).remote_id


async def test_a_create_cut_off_after_its_mark_is_looked_for_on_the_next_try(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    # The step marked create_sent_at and sent the create, which Etsy committed; the answer
    # was lost and no id reported. DBOS runs the step again: a second attempt, which looks.
    product = await publishable(session, tenant.organization)
    etsy = await create_connection(session, tenant.organization.id)
    world.platform.commit_then_timeout = 1
    await publishing.publish(
        session, AuthSubject(tenant.users[Role.owner]), product_ids=[product.id],
        connection_ids=[etsy.id],
    )  # fmt: skip
    [intent] = (await session.execute(select(PublishIntent))).scalars()
    assert (await tasks.start(str(intent.id)))["status"] == "run"
    first = await tasks.attempt(str(intent.id))
    assert (first["status"], first["code"]) == ("retry", "timeout")
    listing = await _listing(session, etsy.id)
    assert listing.create_sent_at is not None
    assert listing.remote_id is None
    second = await tasks.attempt(str(intent.id))
    assert second["status"] == "done"
    assert world.platform.calls == ["create", "find", "update"]
    assert world.platform.created["etsy"] == 1
    assert [o.get("create_sent_at") for o in world.platform.find_options] == [
        listing.create_sent_at.timestamp()
    ]


async def test_a_retry_of_a_failed_intent_looks_first(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    product = await publishable(session, tenant.organization)
    etsy = await create_connection(session, tenant.organization.id)
    down = RetryableConnectorError("server_error", "The platform is having trouble.")
    world.platform.fail["create"] = [down] * tasks.MAX_ATTEMPTS
    owner = AuthSubject(tenant.users[Role.owner])
    await publishing.publish(session, owner, product_ids=[product.id], connection_ids=[etsy.id])
    assert await run_jobs(session, FakeClock()) == ["failed"]
    # Only the first of the 14 tries went without a look-up.
    assert world.platform.calls.count("find") == tasks.MAX_ATTEMPTS - 1
    world.platform.calls.clear()
    listing = await _listing(session, etsy.id)
    outcome, intent = await publishing.retry(session, owner, listing.id)
    assert outcome == "queued"
    assert intent is not None
    assert await run_jobs(session, FakeClock()) == ["succeeded"]
    assert world.platform.calls == ["find", "create"]
    assert intent.state in (IntentState.queued, IntentState.succeeded)
    assert world.platform.created["etsy"] == 1

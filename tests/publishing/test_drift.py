"""Listing drift: the check compares every published listing of a connection with the platform
and writes what differs (state, missing SKUs, prices, quantities) with a message on the
listing, clears it when the platform matches again, says a missing item is gone, leaves the
last finding alone when the platform cannot be read; the hourly schedule enqueues one check per
active connection with published listings. Against the in-memory platform of `fakes.py` and,
end to end, against the in-process Etsy sandbox twin."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from croniter import croniter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.testing import capture_logs

from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.connector import registry
from flashfusion.connector.base import ConnectorAuthError
from flashfusion.connector.service import connection as connection_service
from flashfusion.jobs import engine
from flashfusion.jobs.registry import get_kind
from flashfusion.models import (
    ChannelListing,
    ConnectionStatus,
    Job,
    ListingState,
    PlatformConnection,
    PriceSource,
    Product,
    ProductVariant,
    Role,
)
from flashfusion.publishing import tasks
from flashfusion.publishing.service import (
    DRIFT_CHECKS_PER_DAY,
    DRIFT_JOB,
    drift_budget,
    publishing,
)
from flashfusion.sandbox import runtime
from tests.connector.test_sandbox_connections import consent, finish
from tests.fixtures.objects import Tenant
from tests.publishing.fakes import (
    TIMEOUT,
    Item,
    World,
    create_connection,
    publishable,
    run_jobs,
    world,
)
from tests.safeguard.pipeline_fakes import FakeChecks, fake_checks

__all__ = ["fake_checks", "world"]

UPDATE_HINT = "Update the listing to put FlashFusion's version back."


def owner(tenant: Tenant) -> AuthSubject[Subject]:
    return AuthSubject(tenant.users[Role.owner])


async def fresh(session: AsyncSession, listing_id: uuid.UUID) -> ChannelListing:
    result = await session.execute(
        select(ChannelListing)
        .where(ChannelListing.id == listing_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one()


async def publish(
    session: AsyncSession, tenant: Tenant, product: Product, connection: PlatformConnection
) -> ChannelListing:
    """Publish `product` on `connection` through the ledger and the workflow; its listing."""
    result = await publishing.publish(
        session, owner(tenant), product_ids=[product.id], connection_ids=[connection.id]
    )
    assert [i.outcome for i in result.items] == ["queued"]
    assert await run_jobs(session) == ["succeeded"]
    listing = (
        await session.execute(
            select(ChannelListing)
            .where(
                ChannelListing.product_id == product.id,
                ChannelListing.connection_id == connection.id,
            )
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    assert listing.state == ListingState.published
    assert listing.remote_id is not None
    return listing


async def two_variant_product(
    session: AsyncSession, tenant: Tenant, title: str = "Sunrise tee"
) -> Product:
    """A publishable tee in White M (the fixture's variant) and Black L."""
    product = await publishable(session, tenant.organization, title=title)
    session.add(
        ProductVariant(
            organization_id=product.organization_id,
            product_id=product.id,
            variant_key="black-l",
            sku=f"FF-TSHIRT-BLACK-L-{product.id.hex[:8].upper()}",
            size="L",
            colour="Black",
            cost=1300,
            shipping=475,
            price=3199,
            price_source=PriceSource.manual,
        )
    )
    await session.flush()
    return product


async def published_on_fake(
    session: AsyncSession, tenant: Tenant, world: World, **connection: Any
) -> tuple[PlatformConnection, ChannelListing, Item]:
    """A product published on a fake Etsy connection: the connection, listing and item."""
    product = await two_variant_product(session, tenant)
    etsy = await create_connection(session, tenant.organization.id, **connection)
    listing = await publish(session, tenant, product, etsy)
    assert listing.remote_id is not None
    item = world.platform.items[listing.remote_id]
    assert len(item.skus) >= 2, "the drift cases need a product with two variants"
    world.platform.calls.clear()
    return etsy, listing, item


def record_reads(
    monkeypatch: pytest.MonkeyPatch, world: World, failing: str | None = None
) -> list[str | None]:
    """The remote ids the fake channel's `get_listing` is asked for from now on; reading
    `failing` times out."""
    read: list[str | None] = []
    original = world.channel.get_listing

    async def get_listing(ctx: Any, remote_id: str) -> Any:
        read.append(remote_id)
        if failing is not None and remote_id == failing:
            raise TIMEOUT
        return await original(ctx, remote_id)

    monkeypatch.setattr(world.channel, "get_listing", get_listing)
    return read


# --- the check against the in-memory platform ------------------------------------------------------


async def test_a_changed_price_state_and_sku_set_is_drift_and_clears_when_it_matches_again(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    etsy, listing, item = await published_on_fake(session, tenant, world)
    assert (listing.drift, listing.checked_at) == (None, None)
    assert await publishing.check_drift(session, etsy.id) == []
    listing = await fresh(session, listing.id)
    assert listing.drift is None
    first_check = listing.checked_at
    assert first_check is not None
    assert world.platform.calls == ["get"]

    kept, dropped = item.skus[0], item.skus[1]
    wanted_price, wanted_quantity = item.prices[kept], item.quantities[kept]
    original = (list(item.skus), dict(item.prices), dict(item.quantities), item.state)
    # Someone changed the item on the platform itself: deactivated it, deleted a variant and
    # changed the price of another.
    item.state = "inactive"
    item.skus.remove(dropped)
    del item.prices[dropped], item.quantities[dropped]
    item.prices[kept] = wanted_price + 500

    drifted = await publishing.check_drift(session, etsy.id)

    assert [d.id for d in drifted] == [listing.id]
    listing = await fresh(session, listing.id)
    assert listing.drift == {
        "state": "inactive",
        "missing_skus": [dropped],
        "prices": {kept: {"expected": wanted_price, "actual": wanted_price + 500}},
        "message": "The listing on Etsy differs from FlashFusion: it is inactive on Etsy; "
        f"1 variant(s) are missing; 1 price(s) differ. {UPDATE_HINT}",
    }
    assert listing.checked_at is not None
    assert listing.checked_at >= first_check

    # Only the quantity differs now.
    item.skus, item.prices, item.quantities, item.state = (
        list(original[0]),
        dict(original[1]),
        dict(original[2]),
        original[3],
    )
    item.quantities[kept] = wanted_quantity + 3
    await publishing.check_drift(session, etsy.id)
    assert (await fresh(session, listing.id)).drift == {
        "quantities": {kept: {"expected": wanted_quantity, "actual": wanted_quantity + 3}},
        "message": f"The listing on Etsy differs from FlashFusion: 1 quantit(ies) differ. "
        f"{UPDATE_HINT}",
    }

    # Put back as FlashFusion published it: the drift clears.
    item.quantities[kept] = wanted_quantity
    assert await publishing.check_drift(session, etsy.id) == []
    listing = await fresh(session, listing.id)
    assert listing.drift is None
    assert listing.state == ListingState.published


async def test_an_item_missing_on_the_platform_is_gone(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    etsy, listing, item = await published_on_fake(session, tenant, world)
    del world.platform.items[item.remote_id]

    drifted = await publishing.check_drift(session, etsy.id)

    assert [d.id for d in drifted] == [listing.id]
    assert (await fresh(session, listing.id)).drift == {
        "message": "The listing is gone from Etsy: publish the product again.",
        "state": "missing",
    }


async def test_a_platform_error_leaves_the_last_finding_logs_and_checks_the_rest(
    session: AsyncSession,
    tenant: Tenant,
    world: World,
    fake_checks: FakeChecks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    etsy, first, item = await published_on_fake(session, tenant, world)
    other = await publish(
        session, tenant, await publishable(session, tenant.organization, title="Moon tee"), etsy
    )
    item.prices[item.skus[0]] += 100
    assert [d.id for d in await publishing.check_drift(session, etsy.id)] == [first.id]
    before = await fresh(session, first.id)
    finding, checked = before.drift, before.checked_at
    assert finding is not None
    assert finding["message"] == (
        f"The listing on Etsy differs from FlashFusion: 1 price(s) differ. {UPDATE_HINT}"
    )
    assert other.remote_id is not None
    del world.platform.items[other.remote_id]
    # The platform cannot be read for the first listing (whichever order they are read in).
    read = record_reads(monkeypatch, world, failing=first.remote_id)

    with capture_logs() as logs:
        drifted = await publishing.check_drift(session, etsy.id)

    assert sorted(read) == sorted([first.remote_id, other.remote_id])
    assert [d.id for d in drifted] == [other.id]
    assert [entry for entry in logs if entry["event"] == "publishing.drift_check_failed"] == [
        {
            "event": "publishing.drift_check_failed",
            "log_level": "warning",
            "listing_id": str(first.id),
            "error_code": "timeout",
        }
    ]
    after = await fresh(session, first.id)
    assert (after.drift, after.checked_at) == (finding, checked)
    assert (await fresh(session, other.id)).drift == {
        "message": "The listing is gone from Etsy: publish the product again.",
        "state": "missing",
    }


REVOKED = ConnectorAuthError(
    "invalid_grant",
    "Reconnect Etsy on the Connections page.",
    needs_reconnect=True,
    platform_message="The token was revoked.",
)


async def connection_row(session: AsyncSession, connection_id: uuid.UUID) -> PlatformConnection:
    result = await session.execute(
        select(PlatformConnection)
        .where(PlatformConnection.id == connection_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one()


async def test_a_connection_that_cannot_be_opened_is_recorded_and_the_job_ends_cleanly(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    etsy, listing, item = await published_on_fake(session, tenant, world)
    item.prices[item.skus[0]] += 100  # drift the check would find if it ran
    world.connections.open_error = REVOKED

    with capture_logs() as logs:
        assert await tasks.drift_step(str(etsy.id)) == 0

    assert world.platform.calls == []
    assert world.connections.auth_failures == [(etsy.id, "invalid_grant")]
    assert (await connection_row(session, etsy.id)).status == ConnectionStatus.needs_reconnect
    after = await fresh(session, listing.id)
    assert (after.drift, after.checked_at) == (None, None)
    assert [e for e in logs if e["event"].startswith("publishing.drift_check")] == [
        {
            "event": "publishing.drift_check_refused",
            "log_level": "warning",
            "connection_id": str(etsy.id),
            "error_code": "invalid_grant",
        }
    ]


async def test_a_connection_that_cannot_be_opened_for_now_is_left_for_the_next_check(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    etsy, listing, item = await published_on_fake(session, tenant, world)
    item.prices[item.skus[0]] += 100
    world.connections.open_error = TIMEOUT  # e.g. the token endpoint did not answer

    with capture_logs() as logs:
        assert await publishing.check_drift(session, etsy.id) == []

    assert world.platform.calls == []
    assert world.connections.auth_failures == []
    assert (await connection_row(session, etsy.id)).status == ConnectionStatus.active
    after = await fresh(session, listing.id)
    assert (after.drift, after.checked_at) == (None, None)
    assert [e for e in logs if e["event"].startswith("publishing.drift_check")] == [
        {
            "event": "publishing.drift_check_skipped",
            "log_level": "warning",
            "connection_id": str(etsy.id),
            "error_code": "timeout",
        }
    ]


async def test_a_token_refused_by_the_platform_stops_the_check_and_asks_for_a_reconnect(
    session: AsyncSession,
    tenant: Tenant,
    world: World,
    fake_checks: FakeChecks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    etsy, first, item = await published_on_fake(session, tenant, world)
    other = await publish(
        session, tenant, await publishable(session, tenant.organization, title="Moon tee"), etsy
    )
    assert other.remote_id is not None
    world.platform.calls.clear()
    # Both listings drifted: a check that went on after the refusal would record the other.
    item.prices[item.skus[0]] += 100
    world.platform.items[other.remote_id].state = "inactive"
    world.platform.fail["get"] = [REVOKED]
    # The connection's problem recorded for real (connector/token.py), not by the fake.
    monkeypatch.setattr(
        world.connections, "record_auth_failure", connection_service.record_auth_failure
    )

    with capture_logs() as logs:
        assert await publishing.check_drift(session, etsy.id) == []

    assert world.platform.calls == ["get"]
    row = await connection_row(session, etsy.id)
    assert (row.status, row.problem_code, row.problem_message) == (
        ConnectionStatus.needs_reconnect,
        "invalid_grant",
        "The token was revoked.",
    )
    notices = (
        (await session.execute(select(Job).where(Job.kind == "connection.problem_notice")))
        .scalars()
        .all()
    )
    assert [n.arguments for n in notices] == [[str(etsy.id)]]
    for listing in (first, other):
        after = await fresh(session, listing.id)
        assert (after.drift, after.checked_at) == (None, None)
    assert [e["event"] for e in logs if e["event"].startswith("publishing.drift_check")] == [
        "publishing.drift_check_refused"
    ]
    # The next check finds a connection needing a reconnect and calls nothing.
    assert await publishing.check_drift(session, etsy.id) == []
    assert world.platform.calls == ["get"]


async def test_an_inactive_or_unknown_connection_is_not_checked(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    etsy, listing, item = await published_on_fake(session, tenant, world)
    del world.platform.items[item.remote_id]
    for status in (
        ConnectionStatus.needs_reconnect,
        ConnectionStatus.error,
        ConnectionStatus.disconnected,
    ):
        etsy.status = status
        await session.flush()
        assert await publishing.check_drift(session, etsy.id) == []
    assert await publishing.check_drift(session, uuid.uuid4()) == []
    assert world.platform.calls == []
    listing = await fresh(session, listing.id)
    assert (listing.drift, listing.checked_at) == (None, None)


async def test_the_job_step_reports_how_many_drifted(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    etsy, listing, item = await published_on_fake(session, tenant, world)
    assert await tasks.drift_step(str(etsy.id)) == 0
    item.state = "inactive"
    assert await tasks.drift_step(str(etsy.id)) == 1
    assert (await fresh(session, listing.id)).drift == {
        "state": "inactive",
        "message": f"The listing on Etsy differs from FlashFusion: it is inactive on Etsy. "
        f"{UPDATE_HINT}",
    }


# --- the share of the daily quota ------------------------------------------------------------------


def test_a_check_reads_at_most_a_fifth_of_a_daily_quota_spread_over_the_day() -> None:
    # Etsy: 10,000 calls a day x 0.2 / 24 checks a day / 2 calls a listing = 41.67.
    assert drift_budget(registry.get_connector("etsy")) == 41
    # No quota of a day or longer: every listing, every hour.
    assert drift_budget(registry.get_connector("printify")) is None
    assert drift_budget(registry.get_connector("printful")) is None


def test_the_checks_per_day_are_the_schedules() -> None:
    start = datetime(2026, 12, 6, tzinfo=UTC)
    ticks = croniter(tasks.DRIFT_EVERY, start)
    n = 0
    while ticks.get_next(datetime) <= start.replace(day=7):
        n += 1
    assert n == DRIFT_CHECKS_PER_DAY


async def test_each_check_reads_its_budget_the_least_recently_checked_first(
    session: AsyncSession,
    tenant: Tenant,
    world: World,
    fake_checks: FakeChecks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    etsy, first, _ = await published_on_fake(session, tenant, world)
    others = [
        await publish(
            session, tenant, await publishable(session, tenant.organization, title=t), etsy
        )
        for t in ("Moon tee", "Star tee")
    ]
    # 10,000 a day x 0.2 / 24 / 40 calls a listing = 2.08: two listings a check.
    monkeypatch.setattr(world.channel, "listing_read_calls", 40)
    assert drift_budget(world.channel) == 2
    read = record_reads(monkeypatch, world)
    by_id = sorted([first, *others], key=lambda listing: listing.id)
    await publishing.check_drift(session, etsy.id)
    assert read == [by_id[0].remote_id, by_id[1].remote_id]  # never checked, by id
    assert (await fresh(session, by_id[2].id)).checked_at is None
    read.clear()
    await publishing.check_drift(session, etsy.id)
    # The one never checked, then the one checked longest ago.
    assert read == [by_id[2].remote_id, by_id[0].remote_id]
    assert all([(await fresh(session, listing.id)).checked_at for listing in by_id])


# --- the hourly fan-out ----------------------------------------------------------------------------


async def add_listing(
    session: AsyncSession,
    product: Product,
    connection: PlatformConnection,
    state: ListingState,
    remote_id: str | None,
) -> ChannelListing:
    listing_id = uuid.uuid4()
    listing = ChannelListing(
        id=listing_id,
        organization_id=connection.organization_id,
        product_id=product.id,
        connection_id=connection.id,
        platform=connection.platform,
        external_id=f"ff-{listing_id.hex}",
        state=state,
        desired_version=1,
        published_version=1 if remote_id else None,
        remote_id=remote_id,
    )
    session.add(listing)
    await session.flush()
    return listing


async def drift_jobs(session: AsyncSession) -> list[Job]:
    rows = await session.execute(
        select(Job).where(Job.kind == DRIFT_JOB).execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def fan_out(session: AsyncSession, via: str) -> int:
    """The scheduled tick's fan-out: through the task (its own unit of work), or the service
    method it calls with the caller's session."""
    if via == "task":
        return await tasks.enqueue_drift_checks()
    return await publishing.enqueue_drift_checks(session)


@pytest.mark.parametrize("via", ["task", "service"])
async def test_the_fan_out_enqueues_one_check_per_connection_with_published_listings(
    session: AsyncSession, tenant: Tenant, other_tenant: Tenant, world: World, via: str
) -> None:
    org = tenant.organization
    alpha = await publishable(session, org, title="Alpha tee")
    beta = await publishable(session, org, title="Beta tee")
    theirs = await publishable(session, other_tenant.organization, title="Their tee")

    async def connection(
        tenant: Tenant, name: str, status: ConnectionStatus = ConnectionStatus.active
    ) -> PlatformConnection:
        return await create_connection(session, tenant.organization.id, status=status, name=name)

    two_live = await connection(tenant, "Two live")
    one_live = await connection(tenant, "One live")
    other_workspace = await connection(other_tenant, "Other workspace")
    reconnect = await connection(tenant, "Needs reconnect", ConnectionStatus.needs_reconnect)
    broken = await connection(tenant, "Broken", ConnectionStatus.error)
    never_published = await connection(tenant, "Never published")
    taken_down = await connection(tenant, "Taken down")
    no_remote_id = await connection(tenant, "No remote id")
    removed = await connection(tenant, "Removed")
    await connection(tenant, "Empty")

    await add_listing(session, alpha, two_live, ListingState.published, "r-1")
    await add_listing(session, beta, two_live, ListingState.published, "r-2")
    await add_listing(session, alpha, one_live, ListingState.published, "r-3")
    await add_listing(session, beta, one_live, ListingState.failed, None)
    await add_listing(session, theirs, other_workspace, ListingState.published, "r-4")
    await add_listing(session, alpha, reconnect, ListingState.published, "r-5")
    await add_listing(session, alpha, broken, ListingState.published, "r-6")
    await add_listing(session, alpha, never_published, ListingState.failed, None)
    await add_listing(session, beta, never_published, ListingState.queued, None)
    await add_listing(session, alpha, taken_down, ListingState.unpublished, "r-7")
    await add_listing(session, alpha, no_remote_id, ListingState.published, None)
    gone = await add_listing(session, alpha, removed, ListingState.published, "r-8")
    gone.set_deleted_at()
    await session.flush()

    assert await fan_out(session, via) == 3

    jobs = await drift_jobs(session)
    assert sorted((j.arguments, j.organization_id, j.summary) for j in jobs) == sorted(
        [
            ([str(two_live.id)], org.id, "Check listings on Two live"),
            ([str(one_live.id)], org.id, "Check listings on One live"),
            (
                [str(other_workspace.id)],
                other_tenant.organization.id,
                "Check listings on Other workspace",
            ),
        ]
    )
    assert {j.workflow_id for j in jobs} == {f"{DRIFT_JOB}:{j.id}" for j in jobs}
    kind = get_kind(DRIFT_JOB)
    assert kind is not None
    assert kind.queue == "sync"

    # Each tick enqueues afresh (one job per connection per tick).
    assert await fan_out(session, via) == 3
    assert len(await drift_jobs(session)) == 6


@pytest.mark.parametrize("via", ["task", "service"])
async def test_a_deleted_connection_is_not_enqueued(
    session: AsyncSession, tenant: Tenant, world: World, via: str
) -> None:
    product = await publishable(session, tenant.organization)
    etsy = await create_connection(session, tenant.organization.id)
    await add_listing(session, product, etsy, ListingState.published, "r-1")
    etsy.set_deleted_at()
    await session.flush()
    assert await fan_out(session, via) == 0
    assert await drift_jobs(session) == []


def test_the_schedule_is_hourly_and_dbos_accepts_it() -> None:
    assert tasks.DRIFT_SCHEDULE == "publishing.check_drift_all"
    assert tasks.DRIFT_EVERY == "0 * * * *"
    # DBOS.apply_schedules validates the expression this way (dbos 3.4 `_dbos.py`).
    assert croniter.is_valid(tasks.DRIFT_EVERY, second_at_beginning=True)
    ticks = croniter(tasks.DRIFT_EVERY, datetime(2026, 12, 2, 10, 17, tzinfo=UTC))
    assert [ticks.get_next(datetime) for _ in range(2)] == [
        datetime(2026, 12, 2, 11, 0, tzinfo=UTC),
        datetime(2026, 12, 2, 12, 0, tzinfo=UTC),
    ]


class FakeDBOS:
    """DBOS as `engine.launch` and the `install_schedules` functions use it."""

    schedules: list[dict[str, Any]] = []
    queues: list[str] = []

    def __init__(self, config: Any) -> None:
        pass

    @classmethod
    def launch(cls) -> None:
        pass

    @classmethod
    def register_queue(cls, name: str, **options: Any) -> None:
        cls.queues.append(name)

    @classmethod
    def apply_schedules(cls, schedules: list[dict[str, Any]]) -> None:
        cls.schedules.extend(schedules)


@pytest.fixture
def fake_dbos(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeDBOS]]:
    from flashfusion.connector import tasks as connector_tasks
    from flashfusion.order import tasks as order_tasks

    FakeDBOS.schedules, FakeDBOS.queues = [], []
    for module in (engine, tasks, order_tasks, connector_tasks):
        monkeypatch.setattr(module, "DBOS", FakeDBOS)
    monkeypatch.setattr(engine, "_launched", False)
    yield FakeDBOS
    monkeypatch.setattr(engine, "_launched", False)


def test_launch_installs_the_drift_schedule_next_to_the_order_sync(
    fake_dbos: type[FakeDBOS],
) -> None:
    engine.launch()

    by_name = {s["schedule_name"]: s for s in fake_dbos.schedules}
    assert list(by_name) == [
        "orders.sync_all",
        "publishing.check_drift_all",
        "connections.refresh_expiring",
    ]
    assert by_name["publishing.check_drift_all"] == {
        "schedule_name": "publishing.check_drift_all",
        "workflow_fn": tasks.check_drift_all,
        "schedule": "0 * * * *",
        "queue_name": "sync",
    }
    assert "sync" in fake_dbos.queues


def test_the_tick_is_a_registered_workflow() -> None:
    from dbos._dbos import _get_or_create_dbos_registry
    from dbos._registrations import get_dbos_func_name

    # What DBOS.apply_schedules checks before it accepts a schedule.
    name = get_dbos_func_name(tasks.check_drift_all)
    assert name == "publishing.check_drift_all"
    assert name in _get_or_create_dbos_registry().workflow_info_map


# --- end to end against the Etsy sandbox twin ------------------------------------------------------


@pytest.fixture
def builtin_connectors() -> Iterator[None]:
    registry.reset()
    runtime.reset()
    yield
    runtime.reset()
    registry.reset()


async def sandbox_etsy(session: AsyncSession, tenant: Tenant) -> PlatformConnection:
    """A sandbox Etsy connection made the way a creator makes one (OAuth PKCE through the
    service, the twin's consent auto-approved), with the `who_made` answer Etsy needs."""
    url = await connection_service.start_oauth(
        session, owner(tenant), organization_id=tenant.organization.id, platform="etsy",
        sandbox=True,
    )  # fmt: skip
    connection = await finish(session, await consent(url))
    row = await session.get(PlatformConnection, connection.id)
    assert row is not None
    row.account = {**(row.account or {}), "listing_defaults": {"who_made": "i_did"}}
    await session.flush()
    return row


async def test_a_price_changed_on_the_etsy_twin_is_found_by_the_drift_check(
    session: AsyncSession, tenant: Tenant, builtin_connectors: None, fake_checks: FakeChecks
) -> None:
    etsy = await sandbox_etsy(session, tenant)
    product = await two_variant_product(session, tenant)
    listing = await publish(session, tenant, product, etsy)
    twin = runtime.app_for("etsy").state.sandbox
    assert listing.remote_id is not None
    remote = twin.listings[int(listing.remote_id)]
    assert remote["state"] == "active"

    # Published as FlashFusion sent it: no drift.
    assert await tasks.drift_step(str(etsy.id)) == 0
    listing = await fresh(session, listing.id)
    assert listing.drift is None
    assert listing.checked_at is not None

    # The seller changes a variant's price on Etsy itself.
    first = remote["inventory"]["products"][0]
    sku, offering = first["sku"], first["offerings"][0]
    wanted = offering["price"]["amount"]
    offering["price"]["amount"] = wanted + 250

    assert await tasks.drift_step(str(etsy.id)) == 1

    listing = await fresh(session, listing.id)
    assert listing.drift == {
        "prices": {sku: {"expected": wanted, "actual": wanted + 250}},
        "message": f"The listing on Etsy differs from FlashFusion: 1 price(s) differ. "
        f"{UPDATE_HINT}",
    }

    # Deleted on Etsy: gone.
    del twin.listings[int(listing.remote_id or 0)]
    assert await tasks.drift_step(str(etsy.id)) == 1
    assert (await fresh(session, listing.id)).drift == {
        "message": "The listing is gone from Etsy: publish the product again.",
        "state": "missing",
    }

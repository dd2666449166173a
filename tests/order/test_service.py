"""Order import: the upsert (one row per platform order, an older state never overwrites a
newer one, line items replaced), SKU matching to products and channel listings, and the
connection sync (orders changed since the newest held, minus the overlap)."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.connector.base import RemoteLineItem, RetryableConnectorError
from flashfusion.jobs.registry import get_kind
from flashfusion.models import (
    ConnectionStatus,
    Job,
    Order,
    OrderLineItem,
    OrderStatus,
    PlatformConnection,
)
from flashfusion.order import tasks as order_tasks
from flashfusion.order.service import SYNC_OVERLAP, InvalidRemoteOrder
from flashfusion.order.service import order as order_service
from tests.external_event.fakes import FakeConnector, create_connection, fake_connector
from tests.fixtures.objects import Tenant
from tests.order.helpers import T0, listed_product, remote_order

__all__ = ["fake_connector"]


@pytest.fixture
async def shop(
    session: AsyncSession, tenant: Tenant, fake_connector: FakeConnector
) -> PlatformConnection:
    return await create_connection(session, tenant.organization)


async def lines_of(session: AsyncSession, order: Order) -> list[tuple[object, ...]]:
    rows = await session.execute(
        select(
            OrderLineItem.remote_id,
            OrderLineItem.sku,
            OrderLineItem.title,
            OrderLineItem.quantity,
            OrderLineItem.unit_price,
            OrderLineItem.listing_id,
            OrderLineItem.product_id,
        )
        .where(OrderLineItem.order_id == order.id)
        .order_by(OrderLineItem.remote_id)
    )
    return [tuple(r) for r in rows.all()]


async def count(session: AsyncSession, model: type) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_an_order_is_stored_with_every_field(
    session: AsyncSession, shop: PlatformConnection
) -> None:
    order = await order_service.upsert_remote(session, shop, remote_order())
    assert (
        order.organization_id,
        order.connection_id,
        order.platform,
        order.remote_id,
        order.status,
        order.platform_status,
        order.placed_at,
        order.remote_updated_at,
        order.currency,
        order.total,
        order.subtotal,
        order.shipping,
        order.customer_name,
        order.customer_email,
        order.ship_country,
    ) == (
        shop.organization_id,
        shop.id,
        "fakeshop",
        "1001",
        OrderStatus.paid,
        "platform-paid",
        T0,
        T0.replace(hour=10),
        "USD",
        2599,
        None,
        None,
        "Ada Lovelace",
        "ada@example.com",
        "GB",
    )
    assert await lines_of(session, order) == [("L1", None, "Mug", 1, 1500, None, None)]


async def test_a_duplicate_is_one_row_and_a_newer_state_replaces_the_old(
    session: AsyncSession, shop: PlatformConnection
) -> None:
    first = await order_service.upsert_remote(session, shop, remote_order())
    again = await order_service.upsert_remote(session, shop, remote_order())
    assert again.id == first.id
    newer = remote_order(
        status="shipped",
        updated_at=T0.replace(hour=12),
        lines=[
            RemoteLineItem("L2", None, "Tee", 2, 1000),
            RemoteLineItem("L3", None, "Cap", 1, 900),
        ],
    )
    shipped = await order_service.upsert_remote(session, shop, newer)
    assert (shipped.id, shipped.status, shipped.remote_updated_at) == (
        first.id,
        OrderStatus.shipped,
        T0.replace(hour=12),
    )
    # The platform's lines replace ours: L1 is gone.
    assert [line[0] for line in await lines_of(session, shipped)] == ["L2", "L3"]
    assert (await count(session, Order), await count(session, OrderLineItem)) == (1, 2)


async def test_an_older_state_never_overwrites_a_newer_one(
    session: AsyncSession, shop: PlatformConnection
) -> None:
    await order_service.upsert_remote(
        session, shop, remote_order(status="delivered", updated_at=T0.replace(hour=15))
    )
    stale = remote_order(
        status="paid",
        updated_at=T0.replace(hour=10),
        lines=[RemoteLineItem("OLD", None, "x", 9, 1)],
    )
    order = await order_service.upsert_remote(session, shop, stale)
    assert (order.status, order.remote_updated_at) == (OrderStatus.delivered, T0.replace(hour=15))
    assert [line[0] for line in await lines_of(session, order)] == ["L1"]
    # An undated state does not replace a dated one either.
    undated = remote_order(status="canceled")
    undated.updated_at = None
    order = await order_service.upsert_remote(session, shop, undated)
    assert order.status == OrderStatus.delivered


async def test_on_the_same_update_time_the_status_further_along_wins(
    session: AsyncSession, shop: PlatformConnection
) -> None:
    """Platforms stamp in whole seconds and a Printify cancel moves no stamp: a stale fetch
    written after a newer one of the same time does not undo it; a later one of that time
    replaces it (and its line items)."""
    await order_service.upsert_remote(session, shop, remote_order(status="canceled"))
    order = await order_service.upsert_remote(
        session, shop, remote_order(status="paid", lines=[RemoteLineItem("OLD", None, "x", 9, 1)])
    )
    assert (order.status, order.platform_status) == (OrderStatus.canceled, "platform-canceled")
    assert [line[0] for line in await lines_of(session, order)] == ["L1"]
    order = await order_service.upsert_remote(
        session,
        shop,
        remote_order(status="refunded", lines=[RemoteLineItem("L9", None, "x", 1, 1)]),
    )
    assert order.status == OrderStatus.refunded
    assert [line[0] for line in await lines_of(session, order)] == ["L9"]
    # The same status again (an address corrected in the same second) is written.
    order = await order_service.upsert_remote(
        session, shop, remote_order(status="refunded", customer_name="Ada King")
    )
    assert (order.status, order.customer_name) == (OrderStatus.refunded, "Ada King")


async def test_the_same_remote_id_on_two_connections_is_two_orders(
    session: AsyncSession, tenant: Tenant, shop: PlatformConnection
) -> None:
    other = await create_connection(session, tenant.organization, account_id="shop-2")
    a = await order_service.upsert_remote(session, shop, remote_order())
    b = await order_service.upsert_remote(session, other, remote_order())
    assert a.id != b.id
    assert await count(session, Order) == 2


async def test_line_items_are_matched_to_products_and_listings_by_sku(
    session: AsyncSession, tenant: Tenant, other_tenant: Tenant, shop: PlatformConnection
) -> None:
    listed = await listed_product(session, tenant.organization, shop)
    # Another workspace's product with the same SKU never matches.
    other_shop = await create_connection(session, other_tenant.organization)
    foreign = await listed_product(session, other_tenant.organization, other_shop)
    lines = [
        RemoteLineItem("L1", listed.sku, "Cat tee, white M", 2, 2999),
        RemoteLineItem("L2", f"{listed.listing.external_id}-v3", "Cat tee via marker", 1, 2999),
        RemoteLineItem("L3", foreign.sku, "Someone else's", 1, 100),
        RemoteLineItem("L4", "NOT-OURS", "A mug", 1, 1500),
        RemoteLineItem("L5", None, "No SKU", 1, None),
    ]
    order = await order_service.upsert_remote(session, shop, remote_order(lines=lines))
    assert await lines_of(session, order) == [
        ("L1", listed.sku, "Cat tee, white M", 2, 2999, listed.listing.id, listed.product.id),
        (
            "L2",
            f"{listed.listing.external_id}-v3",
            "Cat tee via marker",
            1,
            2999,
            listed.listing.id,
            listed.product.id,
        ),
        ("L3", foreign.sku, "Someone else's", 1, 100, None, None),
        ("L4", "NOT-OURS", "A mug", 1, 1500, None, None),
        ("L5", None, "No SKU", 1, None, None, None),
    ]


async def test_a_product_listed_on_another_connection_matches_the_product_only(
    session: AsyncSession, tenant: Tenant, shop: PlatformConnection
) -> None:
    elsewhere = await create_connection(session, tenant.organization, account_id="shop-9")
    listed = await listed_product(session, tenant.organization, elsewhere)
    order = await order_service.upsert_remote(
        session, shop, remote_order(lines=[RemoteLineItem("L1", listed.sku, "Cat tee", 1, 2999)])
    )
    assert await lines_of(session, order) == [
        ("L1", listed.sku, "Cat tee", 1, 2999, None, listed.product.id)
    ]


async def test_an_unknown_status_is_refused_by_name(
    session: AsyncSession, shop: PlatformConnection
) -> None:
    with pytest.raises(InvalidRemoteOrder, match="status 'lost' is not one of pending, paid"):
        await order_service.upsert_remote(session, shop, remote_order(status="lost"))
    assert await count(session, Order) == 0


async def test_sync_imports_changed_orders_since_the_newest_minus_the_overlap(
    session: AsyncSession, shop: PlatformConnection, fake_connector: FakeConnector
) -> None:
    fake_connector.orders = {
        "1": remote_order("1", updated_at=T0.replace(hour=10)),
        "2": remote_order("2", status="shipped", updated_at=T0.replace(hour=11)),
        "3": remote_order("3", status="lost", updated_at=T0.replace(hour=11)),
    }
    result = await order_service.sync_connection(session, shop.id)
    assert (result.fetched, result.written, result.skipped, result.since, result.reason) == (
        3,
        2,
        1,
        None,
        None,
    )
    assert sorted(o for o in (await session.execute(select(Order.remote_id))).scalars()) == [
        "1",
        "2",
    ]
    fake_connector.orders["1"] = remote_order(
        "1", status="refunded", updated_at=T0.replace(hour=13)
    )
    result = await order_service.sync_connection(session, shop.id)
    assert result.since == T0.replace(hour=11) - SYNC_OVERLAP
    assert fake_connector.list_calls == [None, T0.replace(hour=11) - timedelta(minutes=10)]
    assert (result.fetched, result.written, result.skipped) == (3, 2, 1)
    status = await session.scalar(select(Order.status).where(Order.remote_id == "1"))
    assert status == OrderStatus.refunded


async def test_sync_skips_inactive_and_missing_connections(
    session: AsyncSession, tenant: Tenant, shop: PlatformConnection, fake_connector: FakeConnector
) -> None:
    import uuid

    broken = await create_connection(
        session, tenant.organization, status=ConnectionStatus.needs_reconnect, account_id="s3"
    )
    assert (await order_service.sync_connection(session, broken.id)).reason == (
        "connection is needs_reconnect"
    )
    assert (
        await order_service.sync_connection(session, uuid.uuid4())
    ).reason == "connection removed"
    assert fake_connector.list_calls == []


async def test_a_failing_platform_raises_and_writes_nothing(
    session: AsyncSession, shop: PlatformConnection, fake_connector: FakeConnector
) -> None:
    fake_connector.orders = {"1": remote_order("1")}
    fake_connector.fail_with = RetryableConnectorError("server_error", "Try later.", status=502)
    with pytest.raises(RetryableConnectorError):
        await order_service.sync_connection(session, shop.id)
    assert await count(session, Order) == 0


async def test_the_scheduled_sync_enqueues_one_job_per_active_order_connection(
    session: AsyncSession, tenant: Tenant, shop: PlatformConnection
) -> None:
    await create_connection(
        session, tenant.organization, status=ConnectionStatus.disconnected, account_id="gone"
    )
    assert await order_tasks.enqueue_all() == 1
    jobs = (
        await session.execute(select(Job).where(Job.kind == "orders.sync_connection"))
    ).scalars()
    mine = [j for j in jobs if j.arguments == [str(shop.id)]]
    assert [(j.summary, j.organization_id) for j in mine] == [
        ("Import orders from My fake shop", tenant.organization.id)
    ]
    kind = get_kind("orders.sync_connection")
    assert kind is not None
    assert kind.queue == "sync"
    assert order_tasks.SYNC_EVERY == "*/15 * * * *"


async def test_the_sync_job_step_reports_what_it_did(
    session: AsyncSession, shop: PlatformConnection, fake_connector: FakeConnector
) -> None:
    fake_connector.orders = {"1": remote_order("1")}
    assert await order_tasks.sync(str(shop.id)) == {
        "fetched": 1,
        "written": 1,
        "skipped": 0,
        "since": None,
        "reason": None,
    }

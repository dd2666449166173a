"""The `webhooks.process_event` job: order events import the order (fetched fresh), listing
events go to the publishing service, other topics are noted; a handled event is skipped; a
failure undoes the handler's writes, keeps the error and the attempt count, and raises so the
job retries; a terminal platform error is not retried."""

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.connector.base import (
    RemoteLineItem,
    RemoteOrder,
    RetryableConnectorError,
    TerminalConnectorError,
    WebhookEvent,
)
from flashfusion.external_event import tasks
from flashfusion.jobs.registry import get_kind
from flashfusion.models import ExternalEvent, Order, OrderStatus, PlatformConnection
from tests.external_event.fakes import (
    PLATFORM,
    Delivery,
    FakeConnector,
    create_connection,
    fake_connector,
    with_order_routes,
)
from tests.fixtures.objects import Tenant

__all__ = ["fake_connector"]

SECRET = "whsec-test-secret-1"
T1 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def remote(remote_id: str = "1001", status: str = "paid", updated_at: datetime = T1) -> RemoteOrder:
    return RemoteOrder(
        remote_id=remote_id,
        status=status,
        platform_status=f"platform-{status}",
        placed_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        updated_at=updated_at,
        currency="usd",
        total=2599,
        customer_name="Ada Lovelace",
        customer_email="ada@example.com",
        ship_country="gb",
        line_items=[RemoteLineItem("L1", "SKU-NOPE", "Cat tee", 1, 2599)],
    )


@pytest.fixture
async def shop(
    session: AsyncSession, tenant: Tenant, fake_connector: FakeConnector
) -> PlatformConnection:
    return await create_connection(session, tenant.organization, secret=SECRET)


async def deliver(app: Any, shop: PlatformConnection, delivery: Delivery) -> ExternalEvent:
    transport = httpx.ASGITransport(app=with_order_routes(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post(
            f"/webhooks/{PLATFORM}/{shop.id}",
            content=delivery.body(),
            headers=delivery.headers(SECRET),
        )
    assert response.status_code == 200, response.text
    return await event_of(shop, delivery.event_id)


async def event_of(shop: PlatformConnection, event_id: str) -> ExternalEvent:
    from flashfusion.db import unit_of_work

    async with unit_of_work() as session:
        row = await session.scalar(
            select(ExternalEvent).where(
                ExternalEvent.connection_id == shop.id, ExternalEvent.event_id == event_id
            )
        )
    assert row is not None
    return row


async def orders(session: AsyncSession) -> list[Order]:
    return list((await session.execute(select(Order).order_by(Order.remote_id))).scalars())


def test_the_job_is_registered_on_the_sync_queue() -> None:
    kind = get_kind("webhooks.process_event")
    assert kind is not None
    assert (kind.label, kind.queue) == ("Process a platform event", "sync")


@pytest.mark.parametrize(
    ("topic", "resource_type", "kind"),
    [
        ("order:updated", "order", "order"),
        ("order:shipment:created", None, "order"),
        ("package_shipped", None, "order"),
        ("ORDER_PAID", "receipt", "order"),
        ("product:publish:started", "product", "listing"),
        ("product_updated", None, "listing"),
        ("shop:disconnected", "shop", None),
        ("mockup_task_finished", None, None),
    ],
)
def test_topics_go_to_their_handler(
    topic: str, resource_type: str | None, kind: str | None
) -> None:
    assert tasks.kind_of(topic, resource_type) == kind


async def test_an_order_event_imports_the_order_fetched_fresh(
    app: Any, session: AsyncSession, shop: PlatformConnection, fake_connector: FakeConnector
) -> None:
    fake_connector.orders["1001"] = remote(status="paid")
    event = await deliver(app, shop, Delivery("evt-1", resource_id="1001"))
    assert await tasks.process(str(event.id)) == "order"
    assert fake_connector.get_calls == ["1001"]
    [order] = await orders(session)
    assert (order.remote_id, order.status, order.platform_status, order.total) == (
        "1001",
        OrderStatus.paid,
        "platform-paid",
        2599,
    )
    event = await event_of(shop, "evt-1")
    assert event.handled_at is not None
    assert (event.attempts, event.error) == (1, None)
    # Run again (a retry after a crash): nothing more happens.
    assert await tasks.process(str(event.id)) == "already handled"
    assert fake_connector.get_calls == ["1001"]
    assert (await event_of(shop, "evt-1")).attempts == 1


async def test_a_listing_event_goes_to_the_publishing_service(
    app: Any, session: AsyncSession, shop: PlatformConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[uuid.UUID, WebhookEvent]] = []

    async def handle(
        session: AsyncSession, connection: PlatformConnection, event: WebhookEvent
    ) -> None:
        seen.append((connection.id, event))

    monkeypatch.setattr(tasks, "listing_handler", lambda: handle)
    delivery = Delivery(
        "evt-pub", topic="product:publish:started", resource_type="product", resource_id="p-9"
    )
    event = await deliver(app, shop, delivery)
    assert await tasks.process(str(event.id)) == "listing"
    [(connection_id, handled)] = seen
    assert connection_id == shop.id
    assert (handled.event_id, handled.topic, handled.resource_type, handled.resource_id) == (
        "evt-pub",
        "product:publish:started",
        "product",
        "p-9",
    )
    assert handled.occurred_at == delivery.created_at
    assert handled.payload["resource"] == {"type": "product", "id": "p-9"}
    assert (await event_of(shop, "evt-pub")).handled_at is not None


async def test_an_unknown_topic_is_handled_and_noted(
    app: Any, session: AsyncSession, shop: PlatformConnection, fake_connector: FakeConnector
) -> None:
    event = await deliver(
        app, shop, Delivery("evt-odd", topic="shop:renamed", resource_type="shop")
    )
    assert await tasks.process(str(event.id)) == "ignored"
    event = await event_of(shop, "evt-odd")
    assert event.handled_at is not None
    assert event.error == "no handler for topic 'shop:renamed': noted, nothing done"
    assert fake_connector.get_calls == []


async def test_a_failure_is_recorded_undone_and_raised_then_a_retry_succeeds(
    app: Any, session: AsyncSession, shop: PlatformConnection, fake_connector: FakeConnector
) -> None:
    fake_connector.orders["1001"] = remote()
    fake_connector.fail_with = RetryableConnectorError("rate_limited", "Wait.", status=429)
    event = await deliver(app, shop, Delivery("evt-fail"))
    with pytest.raises(RetryableConnectorError):
        await tasks.process(str(event.id))
    failed = await event_of(shop, "evt-fail")
    assert (failed.handled_at, failed.attempts) == (None, 1)
    assert failed.error == "RetryableConnectorError: rate_limited: Wait."
    assert await orders(session) == []
    assert tasks._should_retry(RetryableConnectorError("x", "y")) is True
    assert tasks._should_retry(TerminalConnectorError("x", "y")) is False

    fake_connector.fail_with = None
    assert await tasks.process(str(event.id)) == "order"
    done = await event_of(shop, "evt-fail")
    assert done.handled_at is not None
    assert (done.attempts, done.error) == (2, None)
    assert [o.remote_id for o in await orders(session)] == ["1001"]


async def test_an_order_event_without_an_order_id_fails_clearly(
    app: Any, session: AsyncSession, shop: PlatformConnection, fake_connector: FakeConnector
) -> None:
    event = await deliver(app, shop, Delivery("evt-noid", resource_id=None))
    with pytest.raises(ValueError, match="names no order"):
        await tasks.process(str(event.id))
    assert (await event_of(shop, "evt-noid")).error == (
        "InvalidRemoteOrder: event 'evt-noid' (order:updated) names no order"
    )


async def test_duplicate_and_out_of_order_deliveries_give_one_order_in_its_final_state(
    app: Any, session: AsyncSession, shop: PlatformConnection, fake_connector: FakeConnector
) -> None:
    """The platform moved the order paid (T1) -> in production (T2) -> shipped (T3); the
    events arrive shipped first, then paid twice, then in production; a lagging read returns
    the T1 state while the T3 one is stored."""
    t2, t3 = T1.replace(hour=11), T1.replace(hour=12)
    states = iter([remote(status="shipped", updated_at=t3), remote(status="paid", updated_at=T1)])
    original = fake_connector.get_order

    async def lagging(ctx: Any, remote_id: str) -> RemoteOrder | None:
        await original(ctx, remote_id)
        return next(states, remote(status="shipped", updated_at=t3))

    fake_connector.get_order = lagging  # type: ignore[method-assign]
    for event_id, stamp in (
        ("evt-shipped", t3),
        ("evt-paid", T1),
        ("evt-paid", T1),
        ("evt-prod", t2),
    ):
        event = await deliver(app, shop, Delivery(event_id, created_at=stamp))
        await tasks.process(str(event.id))
    [order] = await orders(session)
    assert (order.status, order.remote_updated_at) == (OrderStatus.shipped, t3)
    # The duplicate was one row and one job, so three fetches for three distinct events.
    assert fake_connector.get_calls == ["1001", "1001", "1001"]
    events = (
        await session.execute(select(ExternalEvent.event_id).order_by(ExternalEvent.event_id))
    ).scalars()
    assert list(events) == ["evt-paid", "evt-prod", "evt-shipped"]

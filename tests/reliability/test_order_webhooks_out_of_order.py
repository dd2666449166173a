"""Duplicate and out-of-order order webhooks give one effect and the right final state (issue 6,
"Reliability tests"; DESIGN.md §5 invariant 2, STYLE.md §9).

The Printify, Printful and Etsy sandbox twins are served on local ports (threads of this
process, tests/reliability/_support.py) and a real `flashfusion serve` (web and job executor)
runs on the test database. A workspace connects the three through the API (Etsy through its
OAuth flow), so FlashFusion registers its own webhook URL and signing secret with each twin.
Then, per platform, an order is placed on the twin and moved on through that platform's own
statuses (the twins' `create_order` / `update_order` / `create_receipt`), and the signed
deliveries the twin emits are captured from its outbox (nothing is delivered by the twin
itself) and posted to FlashFusion's webhook URL -- the raw bytes and headers exactly as the
twin signed them -- newest first, every one twice at the same moment, then all again in a
shuffled order (and, where the platform re-sends a failed delivery with changed bytes, that
re-send too: Printful's `retries` + 1, Etsy's new `webhook-timestamp`).

Checked once the server's jobs have handled every event: each delivery answered 200, the first
of each event `duplicate: false` and every other one `duplicate: true`; one stored event and one
`webhooks.process_event` job per event; one order row per platform order, its line items once
each; and the final status the newest one.

What FlashFusion orders states by (order/service.py, order/repository.py): never the event's
time nor the order deliveries arrive in. The job fetches the order fresh from the platform and
upserts it under (connection, remote id), unless the stored `remote_updated_at` is newer (the
platform's own update time: Printify's latest milestone stamp, Printful's `updated`, Etsy's
`updated_timestamp`, all in whole seconds). That gives the newest state for any delivery order,
since each fetch sees the platform's current state. When two handlers of one order race and
their fetches straddle a change that leaves the update time as it was (a Printify order
cancelled: no milestone stamp moves; or two Etsy changes in one second), the status further
along wins (order/repository.py STATUS_RANK), so the stale fetch written last does not undo
the cancel. The last test shows it.

Rows the run commits are removed afterwards (tests/reliability/_support.py `untouched`).
"""

import asyncio
import base64
import json
import os
import random
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from flashfusion.config import get_settings
from flashfusion.connector.registry import get_connector
from flashfusion.connector.service import connection as connection_service
from flashfusion.db import unit_of_work
from flashfusion.external_event.service import PROCESS_JOB
from flashfusion.models import (
    ExternalEvent,
    Job,
    Order,
    OrderLineItem,
    OrderStatus,
    PlatformConnection,
    Role,
)
from flashfusion.order.service import order as order_service
from flashfusion.sandbox import etsy as etsy_twin
from flashfusion.sandbox import printful as printful_twin
from flashfusion.sandbox import printify as printify_twin
from tests.fixtures.objects import bearer, create_tenant
from tests.fixtures.processes import Process, start_server
from tests.reliability._support import Served, eventually, served, untouched
from tests.reliability.test_no_plaintext_secrets import _connect_etsy
from tests.reliability.twins import ETSY_SCOPES
from tests.sandbox.test_etsy_twin import draft_form
from tests.sandbox.test_printful_twin import product as printful_product
from tests.sandbox.test_printify_twin import SHOP as PRINTIFY_SHOP
from tests.sandbox.test_printify_twin import png, product_body

pytestmark = pytest.mark.slow

SETTLE_TIMEOUT = 45.0


@dataclass
class World:
    base_url: str
    server: Process
    twins: dict[str, Served]
    connections: dict[str, uuid.UUID]
    organization_id: uuid.UUID
    printify_token: str
    printful_token: str
    etsy_key: str


@dataclass
class Captured:
    """One delivery as the twin signed it."""

    url: str
    headers: dict[str, str]
    body: bytes


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    settings = get_settings()
    logs = tmp_path_factory.mktemp("order-webhooks")
    printify_token = "pfy-" + secrets.token_urlsafe(24)
    printful_token = "pfl-" + secrets.token_urlsafe(24)
    keystring, shared_secret = "etsykey" + secrets.token_hex(8), "etsysecret" + secrets.token_hex(8)
    webhook_secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    # deliver=None: the twins queue their signed deliveries in their outbox, where the tests
    # take them from.
    apps = {
        "printify": printify_twin.create_app(tokens={printify_token}),
        "printful": printful_twin.create_app(tokens={printful_token}),
        "etsy": etsy_twin.create_app(
            apps={keystring: shared_secret}, webhook_secret=webhook_secret
        ),
    }
    with served(apps) as twins, untouched():
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHFUSION_TEST_")}
        env.update(
            {
                "FLASHFUSION_PRINTIFY_BASE_URL": twins["printify"].url,
                "FLASHFUSION_PRINTFUL_BASE_URL": twins["printful"].url,
                "FLASHFUSION_ETSY_BASE_URL": twins["etsy"].url,
                "FLASHFUSION_ETSY_OAUTH_URL": twins["etsy"].url + "/oauth/connect",
                "FLASHFUSION_ETSY_TOKEN_URL": twins["etsy"].url + "/v3/public/oauth/token",
                "FLASHFUSION_ETSY_KEYSTRING": keystring,
                "FLASHFUSION_ETSY_SHARED_SECRET": shared_secret,
                "FLASHFUSION_ETSY_WEBHOOK_SECRET": webhook_secret,
                "FLASHFUSION_LOG_LEVEL": "WARNING",
                "FLASHFUSION_WORKER_ID": f"orders-{uuid.uuid4().hex[:6]}",
                "PYTHONUNBUFFERED": "1",
            }
        )
        monkeypatch = pytest.MonkeyPatch()
        server: Process | None = None
        try:
            # This process opens the connections too (the race test), as the server does.
            for name, value in (
                ("PRINTIFY_BASE_URL", twins["printify"].url),
                ("PRINTFUL_BASE_URL", twins["printful"].url),
                ("ETSY_BASE_URL", twins["etsy"].url),
                ("ETSY_KEYSTRING", keystring),
            ):
                monkeypatch.setattr(settings, name, value)
            monkeypatch.setattr(settings, "ETSY_SHARED_SECRET", SecretStr(shared_secret))
            monkeypatch.setattr(settings, "ETSY_WEBHOOK_SECRET", SecretStr(webhook_secret))
            async with unit_of_work() as session:
                tenant = await create_tenant(session, "Orders")
                org = tenant.organization.id
            headers = bearer(tenant.tokens[Role.owner])
            server, base_url = start_server(logs, env, jobs=True)
            connections: dict[str, uuid.UUID] = {}
            async with httpx.AsyncClient(base_url=base_url, timeout=60) as api:
                for platform, token in (("printify", printify_token), ("printful", printful_token)):
                    response = await api.post(
                        "/api/v1/connections",
                        json={
                            "organization_id": str(org),
                            "platform": platform,
                            "credentials": {"access_token": token},
                        },
                        headers=headers,
                    )
                    assert response.status_code == 201, response.text
                    connections[platform] = uuid.UUID(response.json()["id"])
                etsy, _ = await _connect_etsy(api, headers, org)
                connections["etsy"] = uuid.UUID(etsy["id"])
            yield World(
                base_url,
                server,
                twins,
                connections,
                org,
                printify_token,
                printful_token,
                keystring + ":" + shared_secret,
            )
        finally:
            if server is not None:
                server.stop()
            monkeypatch.undo()


# --- placing orders on the twins (through their own APIs and test helpers) -----------------------


async def printify_order(world: World) -> tuple[dict[str, Any], list[str]]:
    """An order of two variants, moved on-hold -> in-production -> fulfilled (a shipment) ->
    delivered; the order as the twin holds it and the FlashFusion statuses on the way."""
    twin = world.twins["printify"]
    auth = bearer(world.printify_token)
    async with httpx.AsyncClient(base_url=twin.url, headers=auth, timeout=30) as http:
        upload = await http.post(
            "/v1/uploads/images.json", json={"file_name": "d.png", "contents": png()}
        )
        assert upload.status_code == 200, upload.text
        skus = (f"ord-{uuid.uuid4().hex[:8]}-s", f"ord-{uuid.uuid4().hex[:8]}-m")
        created = await http.post(
            f"/v1/shops/{PRINTIFY_SHOP}/products.json",
            json=product_body(upload.json()["id"], skus=skus, title="Order tee"),
        )
        assert created.status_code == 200, created.text
    state = twin.state
    order = state.create_order(
        PRINTIFY_SHOP,
        line_items=[{"sku": skus[0], "quantity": 2}, {"sku": skus[1], "quantity": 1}],
    )
    state.update_order(PRINTIFY_SHOP, order["id"], status="in-production")
    shipment = {"carrier": "usps", "number": "9400100000000000000001", "url": "https://t.invalid"}
    state.update_order(PRINTIFY_SHOP, order["id"], status="fulfilled", shipment=shipment)
    final = state.update_order(PRINTIFY_SHOP, order["id"], delivered=True)
    return final, ["paid", "in_production", "shipped", "delivered"]


async def printful_order(world: World) -> tuple[dict[str, Any], list[str]]:
    """An order moved pending -> inprocess -> fulfilled (with tracking)."""
    twin = world.twins["printful"]
    sku = f"pf-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(
        base_url=twin.url, headers=bearer(world.printful_token), timeout=30
    ) as http:
        created = await http.post(
            "/store/products", json=printful_product(external_id=f"ext-{sku}", sku=sku)
        )
        assert created.status_code == 200, created.text
    state = twin.state
    order = state.create_order(items=[{"external_variant_id": sku, "quantity": 3}])
    state.update_order(order["id"], status="inprocess")
    final = state.update_order(order["id"], status="fulfilled", tracking_number="PF123456")
    return final, ["paid", "in_production", "shipped"]


def etsy_listing(world: World) -> tuple[int, int, str]:
    """(shop id, listing id, SKU): a draft created through the twin's API, with a SKU."""
    state = world.twins["etsy"].state
    shop_id = state.shop_of(state.default_user_id)
    grant = state.issue_tokens(
        state.default_user_id, world.etsy_key.split(":")[0], frozenset(ETSY_SCOPES)
    )
    response = httpx.post(
        f"{world.twins['etsy'].url}{etsy_twin.API}/shops/{shop_id}/listings",
        data=draft_form(state),
        headers={"x-api-key": world.etsy_key, "Authorization": f"Bearer {grant['access_token']}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    listing_id = int(response.json()["listing_id"])
    sku = f"etsy-{uuid.uuid4().hex[:8]}"
    # As tests/sandbox/test_etsy_twin.py gives a draft its SKU.
    state.listings[listing_id]["inventory"]["products"][0]["sku"] = sku
    return shop_id, listing_id, sku


def ship_receipt(state: Any, receipt_id: int) -> dict[str, Any]:
    """The seller marks the receipt shipped on Etsy: `status` completed, `is_shipped`, a
    shipment, `updated_timestamp` moved on (spec ShopReceipt fields). The twin has no helper
    for it, and Etsy sends no webhook for it (only ORDER_PAID is documented: research §3)."""
    receipt: dict[str, Any] = state.receipts[receipt_id]
    now = max(int(state.clock()), receipt["updated_timestamp"] + 1)
    receipt.update(
        status="completed",
        is_shipped=True,
        update_timestamp=now,
        updated_timestamp=now,
        shipments=[
            {
                "receipt_shipping_id": 9_000_000 + receipt_id % 1000,
                "shipment_notification_timestamp": now,
                "carrier_name": "usps",
                "tracking_code": "9400100000000000000002",
            }
        ],
    )
    return receipt


def take_outbox(twin: Served) -> list[Captured]:
    """The twin's queued deliveries (its outbox emptied), as it signed them."""
    state = twin.state
    items, state.outbox = list(state.outbox), []
    found = []
    for item in items:
        if isinstance(item, dict):
            found.append(Captured(item["url"], dict(item["headers"]), item["body"]))
        else:
            found.append(Captured(item.url, dict(item.headers), item.body))
    return found


# --- delivering ----------------------------------------------------------------------------------


async def post(http: httpx.AsyncClient, delivery: Captured) -> tuple[int, dict[str, Any]]:
    response = await http.post(delivery.url, content=delivery.body, headers=delivery.headers)
    return response.status_code, response.json()


async def deliver_out_of_order(deliveries: list[Captured], seed: int) -> list[list[Any]]:
    """Newest first, each twice at once; then all again shuffled. The answers, per pass."""
    async with httpx.AsyncClient(timeout=30) as http:
        pairs = []
        for delivery in reversed(deliveries):
            pairs.append(await asyncio.gather(post(http, delivery), post(http, delivery)))
        again = list(deliveries)
        random.Random(seed).shuffle(again)
        rest = [await post(http, delivery) for delivery in again]
    return [pairs, rest]


def event_ids(platform: str, deliveries: list[Captured]) -> list[str]:
    connector = get_connector(platform)
    return [connector.parse_webhook(d.headers, d.body).event_id for d in deliveries]


async def settled_events(connection_id: uuid.UUID, count: int) -> list[ExternalEvent] | None:
    async with unit_of_work(read_only=True) as session:
        rows = list(
            (
                await session.execute(
                    sa.select(ExternalEvent).where(ExternalEvent.connection_id == connection_id)
                )
            ).scalars()
        )
    if len(rows) != count or any(r.handled_at is None for r in rows):
        return None
    return rows


async def stored_orders(connection_id: uuid.UUID) -> list[tuple[Order, list[OrderLineItem]]]:
    async with unit_of_work(read_only=True) as session:
        orders = list(
            (
                await session.execute(sa.select(Order).where(Order.connection_id == connection_id))
            ).scalars()
        )
        found = []
        for order in orders:
            lines = await session.execute(
                sa.select(OrderLineItem)
                .where(OrderLineItem.order_id == order.id)
                .order_by(OrderLineItem.remote_id)
            )
            found.append((order, list(lines.scalars())))
    return found


async def process_jobs(organization_id: uuid.UUID, event_rows: list[ExternalEvent]) -> int:
    ids = {str(e.id) for e in event_rows}
    async with unit_of_work(read_only=True) as session:
        jobs = (
            await session.execute(
                sa.select(Job).where(
                    Job.kind == PROCESS_JOB, Job.organization_id == organization_id
                )
            )
        ).scalars()
        return sum(1 for job in jobs if job.arguments and job.arguments[0] in ids)


async def check_one_effect(
    world: World, platform: str, deliveries: list[Captured], answers: list[list[Any]]
) -> list[ExternalEvent]:
    """Every answer 200; one `duplicate: false` per event; one stored event and one job each."""
    connection_id = world.connections[platform]
    assert {d.url for d in deliveries} == {f"{world.base_url}/webhooks/{platform}/{connection_id}"}
    pairs, rest = answers
    ids = event_ids(platform, deliveries)
    distinct = sorted(set(ids))
    firsts: dict[str, int] = {}
    for event_id, pair in zip(reversed(ids), pairs, strict=True):
        assert [status for status, _ in pair] == [200, 200], pair
        # Of two identical deliveries sent at once, at most one is new.
        assert sorted(body["duplicate"] for _, body in pair) in ([False, True], [True, True])
        firsts[event_id] = firsts.get(event_id, 0) + sum(not b["duplicate"] for _, b in pair)
    # Exactly one new delivery per event, whichever of its deliveries came first.
    assert firsts == dict.fromkeys(distinct, 1)
    assert [(status, body) for status, body in rest] == [
        (200, {"received": True, "duplicate": True})
    ] * len(rest)

    async def probe() -> list[ExternalEvent] | None:
        if not world.server.alive():
            raise AssertionError(f"the server exited:\n{world.server.log()[-4000:]}")
        return await settled_events(connection_id, len(distinct))

    try:
        rows = await eventually(probe, f"{platform} events handled", SETTLE_TIMEOUT)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{world.server.log()[-4000:]}") from None
    assert sorted(r.event_id for r in rows) == distinct
    assert [r.error for r in rows] == [None] * len(rows)
    assert await process_jobs(world.organization_id, rows) == len(distinct)
    return rows


# --- the tests -----------------------------------------------------------------------------------


async def test_printify_order_events_duplicated_and_reversed(world: World) -> None:
    twin = world.twins["printify"]
    order, statuses = await printify_order(world)
    deliveries = take_outbox(twin)
    topics = [json.loads(d.body)["type"] for d in deliveries]
    assert topics == [
        "order:created",
        "order:updated",
        "order:updated",
        "order:shipment:created",
        "order:updated",
    ]
    assert all(d.headers["X-Pfy-Signature"].startswith("sha256=") for d in deliveries)
    answers = await deliver_out_of_order(deliveries, seed=1)
    await check_one_effect(world, "printify", deliveries, answers)

    [(stored, lines)] = await stored_orders(world.connections["printify"])
    assert (stored.remote_id, stored.status, stored.platform_status) == (
        order["id"],
        OrderStatus(statuses[-1]),
        "fulfilled",
    )
    assert [(line.remote_id, line.quantity) for line in lines] == sorted(
        (f"{item['product_id']}:{item['variant_id']}", item["quantity"])
        for item in order["line_items"]
    )
    assert sorted(line.sku or "" for line in lines) == sorted(
        item["metadata"]["sku"] for item in order["line_items"]
    )


async def test_printful_order_events_and_redeliveries_duplicated_and_reversed(
    world: World,
) -> None:
    twin = world.twins["printful"]
    order, statuses = await printful_order(world)
    # Every delivery refused once (503): Printful re-sends a delivery not answered 2xx, with
    # `retries` + 1 (research §2) -- the twin's own retry, signed by the twin: other bytes,
    # the same event.
    state = twin.state
    refused: list[Captured] = []

    async def refuse(url: str, headers: dict[str, str], body: bytes) -> int:
        refused.append(Captured(url, dict(headers), body))
        return 503

    state.deliver = refuse
    try:
        assert await state.flush_webhooks() == 0
    finally:
        state.deliver = None
    deliveries, resent = refused, take_outbox(twin)
    assert [json.loads(d.body)["type"] for d in deliveries] == [
        "order_created",
        "order_updated",
        "order_updated",
        "shipment_sent",
    ]
    assert [json.loads(d.body)["retries"] for d in deliveries] == [0] * len(deliveries)
    assert [json.loads(d.body)["retries"] for d in resent] == [1] * len(deliveries)
    assert event_ids("printful", resent) == event_ids("printful", deliveries)
    assert all(r.body != d.body for r, d in zip(resent, deliveries, strict=True))

    answers = await deliver_out_of_order(deliveries + resent, seed=2)
    await check_one_effect(world, "printful", deliveries + resent, answers)

    [(stored, lines)] = await stored_orders(world.connections["printful"])
    assert (stored.remote_id, stored.status, stored.platform_status) == (
        str(order["id"]),
        OrderStatus(statuses[-1]),
        "fulfilled",
    )
    assert [(line.remote_id, line.quantity) for line in lines] == [
        (str(item["id"]), item["quantity"]) for item in order["items"]
    ]


async def test_etsy_order_paid_events_duplicated_reversed_and_resent(world: World) -> None:
    twin = world.twins["etsy"]
    state = twin.state
    shop_id, listing_id, sku = etsy_listing(world)
    first = state.create_receipt(shop_id, listing_id, sku, 2)
    second = state.create_receipt(shop_id, listing_id, sku, 1)
    deliveries = take_outbox(twin)
    assert [json.loads(d.body)["event_type"] for d in deliveries] == ["ORDER_PAID"] * 2
    # The second order is shipped before any delivery arrives: its (late) ORDER_PAID must
    # not take it back to paid.
    ship_receipt(state, second["receipt_id"])
    # Etsy's retry of the first delivery: the same message id and body, signed again with a
    # new timestamp (the twin's own signature).
    original = deliveries[0]
    later = int(original.headers["webhook-timestamp"]) + 5
    resent = Captured(
        original.url,
        original.headers
        | {
            "webhook-timestamp": str(later),
            "webhook-signature": state.sign(original.headers["webhook-id"], later, original.body),
        },
        original.body,
    )
    answers = await deliver_out_of_order([*deliveries, resent], seed=3)
    await check_one_effect(world, "etsy", [*deliveries, resent], answers)

    stored = sorted(await stored_orders(world.connections["etsy"]), key=lambda o: o[0].remote_id)
    assert [(o.remote_id, o.status, o.platform_status) for o, _ in stored] == sorted(
        [
            (str(first["receipt_id"]), OrderStatus.paid, "paid"),
            (str(second["receipt_id"]), OrderStatus.shipped, "completed"),
        ]
    )
    for (_, lines), receipt in zip(
        stored, sorted([first, second], key=lambda r: str(r["receipt_id"])), strict=True
    ):
        assert [(line.remote_id, line.sku, line.quantity) for line in lines] == [
            (str(t["transaction_id"]), sku, t["quantity"]) for t in receipt["transactions"]
        ]


async def test_two_handlers_racing_over_a_cancel_keep_the_newest_state(world: World) -> None:
    """What two `webhooks.process_event` jobs of one Printify order do when their fetches
    straddle a cancel and the earlier fetch is written last (queue `sync` runs 4 at once per
    worker): the real connector against the twin, the real upsert, in that order."""
    twin = world.twins["printify"]
    order = await printify_order_on_hold(world)
    take_outbox(twin)
    connector = get_connector("printify")
    async with unit_of_work() as session:
        connection = await session.get(PlatformConnection, world.connections["printify"])
        assert connection is not None
        async with connection_service.open_context(session, connection) as ctx:
            before = await connector.get_order(ctx, order["id"])
            twin.state.update_order(PRINTIFY_SHOP, order["id"], status="canceled")
            after = await connector.get_order(ctx, order["id"])
        assert before is not None
        assert after is not None
        assert (before.status, after.status) == ("paid", "canceled")
        assert before.updated_at == after.updated_at  # Printify's stamps did not move
        await order_service.upsert_remote(session, connection, after)
        stored = await order_service.upsert_remote(session, connection, before)
        final = stored.status
    take_outbox(twin)
    assert final == OrderStatus.canceled


async def printify_order_on_hold(world: World) -> dict[str, Any]:
    """A one-line order, on hold (FlashFusion: paid)."""
    twin = world.twins["printify"]
    async with httpx.AsyncClient(
        base_url=twin.url, headers=bearer(world.printify_token), timeout=30
    ) as http:
        upload = await http.post(
            "/v1/uploads/images.json", json={"file_name": "d.png", "contents": png()}
        )
        sku = f"race-{uuid.uuid4().hex[:8]}"
        created = await http.post(
            f"/v1/shops/{PRINTIFY_SHOP}/products.json",
            json=product_body(upload.json()["id"], skus=(sku,), title="Race tee"),
        )
        assert created.status_code == 200, created.text
    order: dict[str, Any] = twin.state.create_order(
        PRINTIFY_SHOP, line_items=[{"sku": sku, "quantity": 1}]
    )
    return order

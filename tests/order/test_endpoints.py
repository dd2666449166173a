"""The orders API: list (filters, pagination), get with line items, and POST /orders/sync.
Anonymous → 401, a key without the scope → 403, a role without the permission → 403,
another tenant → 404, and a valid call; nothing changes after a refusal."""

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.scope import ALL_SCOPES, Scope
from flashfusion.connector.base import RemoteLineItem
from flashfusion.models import Job, PlatformConnection, Role
from flashfusion.order.service import order as order_service
from tests.external_event.fakes import (
    FakeConnector,
    create_connection,
    fake_connector,
    with_order_routes,
)
from tests.fixtures.objects import Tenant, bearer, create_api_key
from tests.order.helpers import T0, listed_product, remote_order

__all__ = ["fake_connector"]

API = "/api/v1/orders"


@pytest.fixture
async def api(app: Any) -> Any:
    transport = httpx.ASGITransport(app=with_order_routes(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def shop(
    session: AsyncSession, tenant: Tenant, fake_connector: FakeConnector
) -> PlatformConnection:
    return await create_connection(session, tenant.organization)


async def jobs(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(Job).where(Job.kind == "orders.sync_connection")
        )
        or 0
    )


async def test_list_filters_and_pages(
    api: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    other_tenant: Tenant,
    shop: PlatformConnection,
) -> None:
    other_shop = await create_connection(session, other_tenant.organization)
    for number, (status, name) in enumerate(
        [("paid", "Ada Lovelace"), ("shipped", "Grace Hopper"), ("paid", "Alan Turing")]
    ):
        placed = remote_order(f"R-{number}", status=status, customer_name=name)
        placed.placed_at = T0.replace(hour=number)
        await order_service.upsert_remote(session, shop, placed)
    await order_service.upsert_remote(
        session, other_shop, remote_order("R-X", customer_name="Ada B")
    )
    headers = bearer(tenant.tokens[Role.editor])

    response = await api.get(API, headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert [o["remote_id"] for o in body["items"]] == ["R-2", "R-1", "R-0"]
    assert body["pagination"] == {"total_count": 3, "max_page": 1}
    first = body["items"][2]
    assert {k: first[k] for k in ("status", "platform", "customer_name", "total", "currency")} == {
        "status": "paid",
        "platform": "fakeshop",
        "customer_name": "Ada Lovelace",
        "total": 2599,
        "currency": "USD",
    }
    assert "line_items" not in first

    async def remote_ids(**params: str) -> list[str]:
        answer = await api.get(API, headers=headers, params=params)
        assert answer.status_code == 200, answer.text
        return [o["remote_id"] for o in answer.json()["items"]]

    assert await remote_ids(status="paid") == ["R-2", "R-0"]
    assert await remote_ids(q="ada") == ["R-0"]
    assert await remote_ids(q="r-1") == ["R-1"]
    assert await remote_ids(q="%") == []
    assert await remote_ids(platform="etsy") == []
    assert await remote_ids(connection_id=str(shop.id)) == ["R-2", "R-1", "R-0"]
    assert await remote_ids(limit="2", page="2") == ["R-0"]
    response = await api.get(API, headers=headers, params={"status": "lost"})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("query.status:")
    response = await api.get(
        API, headers=headers, params={"organization_id": str(other_tenant.organization.id)}
    )
    assert response.status_code == 404


async def test_list_and_get_refusals(
    api: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    other_tenant: Tenant,
    shop: PlatformConnection,
) -> None:
    order = await order_service.upsert_remote(session, shop, remote_order())
    assert (await api.get(API)).status_code == 401
    assert (await api.get(f"{API}/{order.id}")).status_code == 401
    _, no_scope = await create_api_key(
        session,
        organization=tenant.organization,
        user=tenant.owner,
        scopes=ALL_SCOPES - {Scope.orders_read},
    )
    for path in (API, f"{API}/{order.id}"):
        response = await api.get(path, headers=bearer(no_scope))
        assert response.status_code == 403
        assert response.json()["error"] == "InsufficientScope"
        # Viewers hold no orders:read: orders carry customers' names and addresses.
        response = await api.get(path, headers=bearer(tenant.tokens[Role.viewer]))
        assert response.status_code == 403, path
        assert response.json()["error"] == "NotPermitted"
    response = await api.get(f"{API}/{order.id}", headers=bearer(other_tenant.tokens[Role.owner]))
    assert response.status_code == 404
    assert response.json() == {"error": "ResourceNotFound", "detail": "Order not found."}
    response = await api.get(API, headers=bearer(other_tenant.tokens[Role.owner]))
    assert response.json()["items"] == []


async def test_get_returns_the_order_with_its_line_items(
    api: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, shop: PlatformConnection
) -> None:
    listed = await listed_product(session, tenant.organization, shop)
    order = await order_service.upsert_remote(
        session,
        shop,
        remote_order(
            lines=[
                RemoteLineItem("L1", listed.sku, "Cat tee", 2, 2999),
                RemoteLineItem("L2", None, "Mug", 1, 1500),
            ]
        ),
    )
    response = await api.get(f"{API}/{order.id}", headers=bearer(tenant.tokens[Role.editor]))
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["remote_id"], body["status"], body["platform_status"]) == (
        str(order.id),
        "1001",
        "paid",
        "platform-paid",
    )
    assert (body["customer_email"], body["ship_country"], body["placed_at"]) == (
        "ada@example.com",
        "GB",
        "2026-12-01T09:00:00Z",
    )
    assert [
        (i["remote_id"], i["sku"], i["quantity"], i["unit_price"], i["listing_id"], i["product_id"])
        for i in body["line_items"]
    ] == [
        ("L1", listed.sku, 2, 2999, str(listed.listing.id), str(listed.product.id)),
        ("L2", None, 1, 1500, None, None),
    ]


async def test_sync_enqueues_an_import(
    api: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    other_tenant: Tenant,
    shop: PlatformConnection,
) -> None:
    body = {"connection_id": str(shop.id)}
    assert (await api.post(f"{API}/sync", json=body)).status_code == 401
    _, no_scope = await create_api_key(
        session, organization=tenant.organization, user=tenant.owner, scopes={Scope.orders_read}
    )
    assert (await api.post(f"{API}/sync", json=body, headers=bearer(no_scope))).status_code == 403
    response = await api.post(f"{API}/sync", json=body, headers=bearer(tenant.tokens[Role.viewer]))
    assert (response.status_code, response.json()["error"]) == (403, "NotPermitted")
    response = await api.post(
        f"{API}/sync", json=body, headers=bearer(other_tenant.tokens[Role.owner])
    )
    assert (response.status_code, response.json()["detail"]) == (404, "Connection not found.")
    response = await api.post(
        f"{API}/sync", json={"connection_id": "nope"}, headers=bearer(tenant.tokens[Role.editor])
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("connection_id:")
    assert await jobs(session) == 0

    response = await api.post(f"{API}/sync", json=body, headers=bearer(tenant.tokens[Role.editor]))
    assert response.status_code == 202
    job = await session.scalar(select(Job).where(Job.kind == "orders.sync_connection"))
    assert job is not None
    assert response.json() == {"job_id": str(job.id), "connection_id": str(shop.id)}
    assert job.arguments == [str(shop.id)]
    assert job.created_by_user_id == tenant.users[Role.editor].id


async def test_sync_of_a_platform_without_orders_is_422(
    api: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    fake_connector: FakeConnector,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shop = await create_connection(session, tenant.organization)
    monkeypatch.setattr(type(fake_connector), "capabilities", frozenset())
    response = await api.post(
        f"{API}/sync",
        json={"connection_id": str(shop.id)},
        headers=bearer(tenant.tokens[Role.owner]),
    )
    assert response.status_code == 422
    assert response.json() == {
        "error": "OrdersNotSupported",
        "detail": "connection_id: fakeshop connections do not import orders.",
    }
    assert await jobs(session) == 0

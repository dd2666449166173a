"""Order pages: the list with its filters and the detail with line items, customer, status,
times, and the product and channel listing a SKU matched; viewers get 403, other workspaces
the same 404."""

import html
import re
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.connector.base import RemoteLineItem
from flashfusion.models import Role
from flashfusion.order.service import order as order_service
from flashfusion.web.views_orders import money
from tests.external_event.fakes import (
    FakeConnector,
    create_connection,
    fake_connector,
    with_order_routes,
)
from tests.fixtures.objects import Tenant
from tests.order.helpers import T0, listed_product, remote_order
from tests.web.test_org_views import sign_in

__all__ = ["fake_connector"]


@pytest.fixture
async def browser(app: Any) -> Any:
    transport = httpx.ASGITransport(app=with_order_routes(app), client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def rows(page: str) -> list[str]:
    return re.findall(r'<tr data-order="([^"]+)">', page)


def text_of(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page, re.S)
    assert match, element_id
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip()


def test_money_is_shown_in_major_units() -> None:
    assert money(2599, "USD") == "USD 25.99"
    assert money(123456789, "EUR") == "EUR 1,234,567.89"
    assert money(-50, "GBP") == "GBP -0.50"
    assert money(1500, "JPY") == "JPY 1,500"
    assert money(None, "USD") == "—"


async def test_the_list_shows_and_filters_orders(
    browser: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    fake_connector: FakeConnector,
) -> None:
    shop = await create_connection(session, tenant.organization, name="Cat shop")
    other = await create_connection(session, tenant.organization, name="Dog shop", account_id="s2")
    paid = remote_order("R-1", customer_name="Ada Lovelace")
    shipped = remote_order("R-2", status="in_production", customer_name="Grace <b>Hopper</b>")
    shipped.placed_at = T0.replace(hour=11)
    a = await order_service.upsert_remote(session, shop, paid)
    b = await order_service.upsert_remote(session, other, shipped)
    await sign_in(browser, session, tenant.users[Role.editor])
    base = f"/orgs/{tenant.organization.id}/orders"

    response = await browser.get(base)
    assert response.status_code == 200
    page = response.text
    assert rows(page) == [str(b.id), str(a.id)]
    assert text_of(page, "order-total") == "2 order(s)"
    row = page.split(f'data-order="{a.id}"')[1].split("</tr>")[0]
    assert f'href="{base}/{a.id}">fakeshop #R-1</a>' in row
    assert "<td>2026-12-01 09:00:00 UTC</td>" in row
    assert "<td>Ada Lovelace</td>" in row
    assert 'data-status="paid">paid</span>' in row
    assert '<td class="money">USD 25.99</td>' in row
    assert "<td>Cat shop</td>" in row
    # Customer data is escaped.
    assert "Grace &lt;b&gt;Hopper&lt;/b&gt;" in page
    assert "<b>Hopper</b>" not in page
    assert 'data-status="in_production">in production</span>' in page

    assert rows((await browser.get(base, params={"status": "paid"})).text) == [str(a.id)]
    assert rows((await browser.get(base, params={"connection": str(other.id)})).text) == [str(b.id)]
    assert rows((await browser.get(base, params={"q": "grace"})).text) == [str(b.id)]
    empty = (await browser.get(base, params={"q": "nobody"})).text
    assert rows(empty) == []
    assert text_of(empty, "no-orders") == "No orders match these filters."
    bad = await browser.get(base, params={"status": "lost"})
    assert bad.status_code == 400
    assert "status: choose pending, paid, in_production" in html.unescape(bad.text)


async def test_the_detail_shows_lines_customer_status_and_links(
    browser: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    fake_connector: FakeConnector,
) -> None:
    shop = await create_connection(session, tenant.organization, name="Cat shop")
    listed = await listed_product(session, tenant.organization, shop)
    listed.listing.remote_url = "https://example.com/listing/1"
    await session.flush()
    order = await order_service.upsert_remote(
        session,
        shop,
        remote_order(
            "R-9",
            status="shipped",
            lines=[
                RemoteLineItem("L1", listed.sku, "Cat tee, white M", 2, 2999),
                RemoteLineItem("L2", "OTHER-SKU", "A mug", 1, 1500),
            ],
        ),
    )
    await sign_in(browser, session, tenant.users[Role.editor])
    base = f"/orgs/{tenant.organization.id}"
    response = await browser.get(f"{base}/orders/{order.id}")
    assert response.status_code == 200
    page = response.text
    assert "Order fakeshop #R-9" in page
    assert 'data-status="shipped">shipped</span>' in page
    assert text_of(page, "placed-at") == "2026-12-01 09:00:00 UTC"
    assert text_of(page, "platform-status") == "platform-shipped"
    assert text_of(page, "remote-updated-at") == "2026-12-01 10:00:00 UTC"
    assert text_of(page, "last-synced-at") == order.last_synced_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert text_of(page, "connection") == "Cat shop (fakeshop)"
    assert text_of(page, "total") == "USD 25.99"
    assert text_of(page, "customer-name") == "Ada Lovelace"
    assert text_of(page, "customer-email") == "ada@example.com"
    assert text_of(page, "ship-country") == "GB"
    line = page.split('data-line="L1"')[1].split("</tr>")[0]
    assert "<td>Cat tee, white M</td>" in line
    assert f"<code>{listed.sku}</code>" in line
    assert "<td>2</td>" in line
    assert '<td class="money">USD 29.99</td>' in line
    assert f'<a href="{base}/products/{listed.product.id}">Cat tee</a>' in line
    assert 'href="https://example.com/listing/1"' in line
    assert "fakeshop listing remote-listing-1</a>" in line
    assert ">published</span>" in line
    other = page.split('data-line="L2"')[1].split("</tr>")[0]
    assert "not a FlashFusion product" in other


async def test_viewers_get_403_and_other_workspaces_404(
    browser: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    other_tenant: Tenant,
    fake_connector: FakeConnector,
) -> None:
    shop = await create_connection(session, tenant.organization)
    order = await order_service.upsert_remote(session, shop, remote_order())
    base = f"/orgs/{tenant.organization.id}/orders"
    anonymous = await browser.get(base)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login")

    await sign_in(browser, session, tenant.users[Role.viewer])
    assert (await browser.get(base)).status_code == 403
    assert (await browser.get(f"{base}/{order.id}")).status_code == 403

    await sign_in(browser, session, other_tenant.owner)
    assert (await browser.get(base)).status_code == 404
    own = f"/orgs/{other_tenant.organization.id}/orders"
    missing = await browser.get(f"{own}/{uuid.uuid4()}")
    foreign = await browser.get(f"{own}/{order.id}")
    assert missing.status_code == foreign.status_code == 404
    assert "Order not found." in foreign.text

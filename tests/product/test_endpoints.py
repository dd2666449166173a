"""Products and pricing rules over the API: a product from a design version, a product type and
variants; prices from the workspace's rule (exactly what `pricing.price_variant` gives for the
stored cost) or typed in; the price table after channel fees; the rules (admins only)."""

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.scope import Scope
from flashfusion.models import (
    PricingRule,
    Product,
    ProductVariant,
    Render,
    RenderStatus,
    Role,
)
from flashfusion.product import pricing
from flashfusion.product.pricing_rule_service import STARTER_RULE
from tests.conftest import count_rows
from tests.fixtures.objects import Tenant, bearer
from tests.fixtures.studio import (
    assert_refused,
    create_design,
    create_pricing_rule,
    create_product,
    create_render,
    studio_rows,
)

API = "/api/v1"
READ, WRITE = Scope.products_read, Scope.products_write
ETSY = pricing.load_fee_schedule("etsy")
OWN_COST = {
    "product_types": {
        "tshirt": {
            "variants": {
                "white-m": {
                    "offers": [
                        {"provider": "printful", "base_cost": {"amount": 1250, "currency": "USD"}}
                    ]
                }
            }
        }
    }
}


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def rule_of(**values: Any) -> pricing.PricingRule:
    return pricing.PricingRule(**{**STARTER_RULE, **values})


async def reload(session: AsyncSession, model: type, id: uuid.UUID) -> Any:
    result = await session.execute(
        select(model).where(model.id == id).execution_options(populate_existing=True)  # type: ignore[attr-defined]
    )
    return result.scalar_one()


async def variants_of(session: AsyncSession, product_id: uuid.UUID) -> dict[str, ProductVariant]:
    rows = await session.execute(
        select(ProductVariant)
        .where(ProductVariant.product_id == product_id)
        .execution_options(populate_existing=True)
    )
    return {v.variant_key: v for v in rows.scalars()}


def variant_body(v: ProductVariant) -> dict[str, Any]:
    return {
        "id": str(v.id),
        "variant_key": v.variant_key,
        "sku": v.sku,
        "size": v.size,
        "colour": v.colour,
        "cost": v.cost,
        "shipping": v.shipping,
        "price": v.price,
        "price_source": v.price_source.value,
    }


def product_body(p: Product, variants: list[ProductVariant] | None = None) -> dict[str, Any]:
    body = {
        "id": str(p.id),
        "created_at": iso(p.created_at),
        "modified_at": iso(p.modified_at),
        "organization_id": str(p.organization_id),
        "design_id": str(p.design_id),
        "design_version_id": str(p.design_version_id),
        "product_type": p.product_type,
        "title": p.title,
        "status": p.status.value,
        "provider": p.provider,
        "channel": p.channel,
        "currency": p.currency,
        "pricing_rule_id": str(p.pricing_rule_id) if p.pricing_rule_id else None,
        "render_id": str(p.render_id) if p.render_id else None,
    }
    if variants is not None:
        body["variants"] = [variant_body(v) for v in sorted(variants, key=lambda v: v.sku)]
    return body


def owner(tenant: Tenant) -> dict[str, str]:
    return bearer(tenant.tokens[Role.owner])


async def set_override(client: httpx.AsyncClient, tenant: Tenant, document: dict[str, Any]) -> None:
    response = await client.put(f"{API}/catalog/override", json=document, headers=owner(tenant))
    assert response.status_code == 200, response.text


# --- products -----------------------------------------------------------------------------------


async def test_create_a_product_priced_by_the_rule(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    await set_override(client, tenant, OWN_COST)
    design, version = await create_design(session, tenant.organization)
    rule = await create_pricing_rule(
        session,
        tenant.organization,
        name="Etsy 35%",
        is_default=True,
        target_bps=3500,
        rounding="95",
        min_profit=400,
    )
    body = {
        "design_id": str(design.id),
        "product_type": "tshirt",
        "variant_keys": ["white-m", "black-l"],
        "render": False,
    }
    await assert_refused(
        client, session, tenant, other_tenant, "POST", f"{API}/products", scope=WRITE, json=body
    )
    response = await client.post(
        f"{API}/products", json=body, headers=bearer(tenant.tokens[Role.viewer])
    )
    assert response.status_code == 403
    assert await count_rows(session, "products") == 0

    response = await client.post(
        f"{API}/products", json=body, headers=bearer(tenant.tokens[Role.editor])
    )
    assert response.status_code == 201, response.text
    product = await reload(session, Product, uuid.UUID(response.json()["id"]))
    variants = await variants_of(session, product.id)
    assert response.json() == product_body(product, list(variants.values()))
    assert (product.title, product.status.value, product.provider, product.channel) == (
        "Stay Wild — Unisex t-shirt",
        "draft",
        "printful",
        "etsy",
    )
    assert (product.design_version_id, product.pricing_rule_id, product.render_id) == (
        version.id,
        rule.id,
        None,
    )
    white, black = variants["white-m"], variants["black-l"]
    # The workspace's own cost from its override; shipping from the bundled catalog.
    assert (white.cost, white.shipping, white.price_source.value) == (1250, 475, "rule")
    expected = pricing.price_variant(
        cost=1250,
        shipping=475,
        currency="USD",
        rule=rule_of(target_bps=3500, rounding="95", min_profit=400),
        fees=ETSY,
    )
    assert white.price == expected.price
    assert white.price % 100 == 95
    # No verified cost: no price, and the creator is told why (in the price table below).
    assert (black.cost, black.price) == (None, None)
    assert white.sku == f"FF-TSHIRT-WHITE-M-{product.id.hex[:8].upper()}"
    assert (white.size, white.colour, black.size, black.colour) == ("M", "White", "L", "Black")

    # The price table: cost, each fee, price, profit, margin.
    url = f"{API}/products/{product.id}/prices"
    await assert_refused(client, session, tenant, other_tenant, "GET", url, scope=READ)
    response = await client.get(url, headers=bearer(tenant.tokens[Role.viewer]))
    assert response.status_code == 200
    line = pricing.evaluate_price(
        price=white.price,
        cost=1250,
        shipping=475,
        currency="USD",
        rule=rule_of(target_bps=3500, rounding="95", min_profit=400),
        fees=ETSY,
    )
    assert (line.profit, line.margin_bps) == (expected.profit, expected.margin_bps)
    rows = {r["variant_key"]: r for r in response.json()["rows"]}
    assert response.json()["product_id"] == str(product.id)
    assert (response.json()["channel"], response.json()["fee_schedule"]) == ("etsy", ETSY.version)
    assert response.json()["currency"] == "USD"
    assert rows["white-m"] == {
        "variant_key": "white-m",
        "size": "M",
        "colour": "White",
        "cost": 1250,
        "shipping": 475,
        "fees": [
            {"name": name, "label": line.fee_labels[name], "amount": amount}
            for name, amount in line.fee_lines
        ],
        "fees_total": line.fees_total,
        "price": white.price,
        "profit": line.profit,
        "margin_bps": line.margin_bps,
        "price_source": "rule",
        "warning": None,
    }
    assert [f["name"] for f in rows["white-m"]["fees"]] == [
        "listing_fee",
        "transaction_fee",
        "payment_processing",
    ]
    assert rows["white-m"]["fees_total"] == sum(f["amount"] for f in rows["white-m"]["fees"])
    # The arithmetic, by hand: profit = price + shipping charged − cost − shipping − fees.
    assert line.profit == white.price + 475 - 1250 - 475 - line.fees_total
    assert line.margin_bps >= 3500
    assert rows["black-l"] == {
        "variant_key": "black-l",
        "size": "L",
        "colour": "Black",
        "cost": None,
        "shipping": 475,
        "fees": [],
        "fees_total": None,
        "price": None,
        "profit": None,
        "margin_bps": None,
        "price_source": "rule",
        "warning": "No verified base cost in the catalog: enter your provider cost.",
    }


async def test_the_starter_rule_prices_a_workspace_without_rules(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    await set_override(client, tenant, OWN_COST)
    design, _ = await create_design(session, tenant.organization)
    response = await client.post(
        f"{API}/products",
        json={"design_id": str(design.id), "product_type": "tshirt", "variant_keys": ["white-m"]},
        headers=owner(tenant),
    )
    assert response.status_code == 201, response.text
    [variant] = response.json()["variants"]
    assert (
        variant["price"]
        == pricing.price_variant(
            cost=1250, shipping=475, currency="USD", rule=rule_of(), fees=ETSY
        ).price
    )
    assert response.json()["pricing_rule_id"] is None
    # `render` defaults to true: the print files and mockups are on their way.
    render = await reload(session, Render, uuid.UUID(response.json()["render_id"]))
    assert (render.status, render.selection) == (RenderStatus.queued, {"tshirt": ["white-m"]})


@pytest.mark.parametrize(
    ("change", "status", "detail"),
    [
        (
            {"variant_keys": ["white-m", "purple-xxl"]},
            422,
            "variant_keys: purple-xxl not in Unisex t-shirt; choose from white-s, white-m,",
        ),
        (
            {"product_type": "spaceship"},
            422,
            "product_type: unknown product type 'spaceship'",
        ),
        ({"version": 7}, 404, "Design version not found."),
        ({"design_id": str(uuid.uuid4())}, 404, "Design not found."),
        ({"pricing_rule_id": str(uuid.uuid4())}, 422, "pricing_rule_id: no such pricing rule"),
        ({"channel": "ebay"}, 422, "channel: channel: no fee schedule for 'ebay'."),
        ({"provider": "gooten"}, 422, "provider: Input should be 'printful' or 'printify'"),
    ],
    ids=[
        "unknown variant",
        "unknown product type",
        "unknown version",
        "unknown design",
        "unknown rule",
        "unknown channel",
        "unknown provider",
    ],
)
async def test_a_bad_product_saves_nothing(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    change: dict[str, Any],
    status: int,
    detail: str,
) -> None:
    design, _ = await create_design(session, tenant.organization)
    before = await studio_rows(session, tenant.organization.id)
    body = {"design_id": str(design.id), "product_type": "tshirt", **change}
    response = await client.post(f"{API}/products", json=body, headers=owner(tenant))
    assert response.status_code == status, response.text
    assert response.json()["detail"].startswith(detail), response.json()["detail"]
    assert await studio_rows(session, tenant.organization.id) == before
    assert await count_rows(session, "product_variants") == 0


async def test_list_get_rename_and_delete_products(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    design, version = await create_design(session, tenant.organization)
    tee = await create_product(session, design, version, title="Wild tee")
    mug = await create_product(
        session,
        design,
        version,
        title="Wild mug",
        product_type="mug-11oz",
        variants={"white": (600, None, 1499)},
    )
    other_design, other_version = await create_design(session, other_tenant.organization)
    await create_product(session, other_design, other_version, title="Their tee")
    await assert_refused(
        client,
        session,
        tenant,
        other_tenant,
        "GET",
        f"{API}/products",
        scope=READ,
        foreign={"params": {"organization_id": str(tenant.organization.id)}},
    )
    viewer = bearer(tenant.tokens[Role.viewer])
    listed = (await client.get(f"{API}/products", headers=viewer)).json()
    assert sorted(i["id"] for i in listed["items"]) == sorted([str(tee.id), str(mug.id)])
    assert listed["pagination"] == {"total_count": 2, "max_page": 1}
    only_mugs = await client.get(
        f"{API}/products", params={"product_type": "mug-11oz"}, headers=viewer
    )
    assert [i["id"] for i in only_mugs.json()["items"]] == [str(mug.id)]
    searched = await client.get(f"{API}/products", params={"q": "TEE"}, headers=viewer)
    assert [i["id"] for i in searched.json()["items"]] == [str(tee.id)]

    url = f"{API}/products/{tee.id}"
    await assert_refused(client, session, tenant, other_tenant, "GET", url, scope=READ)
    await assert_refused(
        client, session, tenant, other_tenant, "PATCH", url, scope=WRITE, json={"title": "X"}
    )
    await assert_refused(client, session, tenant, other_tenant, "DELETE", url, scope=WRITE)
    response = await client.get(url, headers=viewer)
    assert response.json() == product_body(tee, list((await variants_of(session, tee.id)).values()))

    response = await client.patch(url, json={"title": "Renamed"}, headers=viewer)
    assert response.status_code == 403
    response = await client.patch(
        url, json={"title": " Wild tee, soft "}, headers=bearer(tenant.tokens[Role.editor])
    )
    assert response.status_code == 200, response.text
    assert (await reload(session, Product, tee.id)).title == "Wild tee, soft"

    response = await client.delete(url, headers=bearer(tenant.tokens[Role.editor]))
    assert response.status_code == 200
    assert (await reload(session, Product, tee.id)).deleted_at is not None
    assert (await client.get(url, headers=viewer)).status_code == 404


async def test_manual_prices_and_back_to_the_rule(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    design, version = await create_design(session, tenant.organization)
    product = await create_product(
        session, design, version, variants={"white-m": (None, 475, None)}
    )
    url = f"{API}/products/{product.id}/variants/white-m"
    await assert_refused(
        client, session, tenant, other_tenant, "PATCH", url, scope=WRITE, json={"price": 2999}
    )
    response = await client.patch(
        url, json={"price": 2999}, headers=bearer(tenant.tokens[Role.viewer])
    )
    assert response.status_code == 403

    response = await client.patch(
        url, json={"cost": 1400, "price": 3299}, headers=bearer(tenant.tokens[Role.editor])
    )
    assert response.status_code == 200, response.text
    variant = (await variants_of(session, product.id))["white-m"]
    assert response.json() == variant_body(variant)
    assert (variant.cost, variant.price, variant.price_source.value) == (1400, 3299, "manual")

    table = (await client.get(f"{API}/products/{product.id}/prices", headers=owner(tenant))).json()
    line = pricing.evaluate_price(
        price=3299, cost=1400, shipping=475, currency="USD", rule=rule_of(), fees=ETSY
    )
    [row] = table["rows"]
    assert (row["price"], row["profit"], row["margin_bps"], row["fees_total"]) == (
        3299,
        line.profit,
        line.margin_bps,
        line.fees_total,
    )
    assert (row["price_source"], row["warning"]) == ("manual", None)

    # A price that loses money is kept (it is the creator's call) and flagged.
    response = await client.patch(url, json={"price": 1500}, headers=owner(tenant))
    assert response.status_code == 200
    [row] = (await client.get(f"{API}/products/{product.id}/prices", headers=owner(tenant))).json()[
        "rows"
    ]
    assert row["profit"] < 0
    assert row["warning"] == "This price loses money after fees; raise it."

    response = await client.patch(url, json={"use_rule": True}, headers=owner(tenant))
    assert response.status_code == 200
    assert (
        response.json()["price"]
        == pricing.price_variant(
            cost=1400, shipping=475, currency="USD", rule=rule_of(), fees=ETSY
        ).price
    )
    assert response.json()["price_source"] == "rule"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"price": -100}, "price: Input should be greater than or equal to 1"),
        ({"price": 0}, "price: Input should be greater than or equal to 1"),
        ({"price": 1_000_000_000}, "price: Input should be less than or equal to 100000000"),
        ({"cost": -1}, "cost: Input should be greater than or equal to 0"),
        ({"shipping": 10**12}, "shipping: Input should be less than or equal to 100000000"),
        ({"price": 12.99}, "price: Input should be a valid integer"),
        ({"price": "1299"}, "price: Input should be a valid integer"),
        ({"price": 1299, "use_rule": True}, "price: send either a manual price or use_rule"),
    ],
    ids=[
        "negative",
        "zero",
        "absurd",
        "negative cost",
        "absurd shipping",
        "float",
        "string",
        "both",
    ],
)
async def test_bad_prices_are_refused(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    body: dict[str, Any],
    detail: str,
) -> None:
    design, version = await create_design(session, tenant.organization)
    product = await create_product(session, design, version)
    before = await studio_rows(session, tenant.organization.id)
    response = await client.patch(
        f"{API}/products/{product.id}/variants/white-m", json=body, headers=owner(tenant)
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail), response.json()["detail"]
    assert await studio_rows(session, tenant.organization.id) == before


async def test_an_unknown_variant_of_a_product_is_404(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    design, version = await create_design(session, tenant.organization)
    product = await create_product(session, design, version)
    response = await client.patch(
        f"{API}/products/{product.id}/variants/black-s", json={"price": 2000}, headers=owner(tenant)
    )
    assert response.status_code == 404
    assert response.json() == {"error": "ResourceNotFound", "detail": "Variant not found."}


async def test_ready_needs_prices_and_finished_print_files(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    design, version = await create_design(session, tenant.organization)
    product = await create_product(
        session,
        design,
        version,
        variants={"white-m": (1200, 475, 2999), "black-m": (None, 475, None)},
    )
    url = f"{API}/products/{product.id}"

    async def make_ready() -> httpx.Response:
        return await client.patch(url, json={"status": "ready"}, headers=owner(tenant))

    response = await make_ready()
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "status: 1 variant(s) have no price (black-m); enter their cost or a price first."
    )
    await client.patch(f"{url}/variants/black-m", json={"price": 2999}, headers=owner(tenant))
    response = await make_ready()
    assert response.json()["detail"] == "status: render the print files first."

    queued = await create_render(session, design, version, status=RenderStatus.queued)
    product.render_id = queued.id
    await session.flush()
    response = await make_ready()
    assert response.json()["detail"] == "status: wait for the print files to finish rendering."
    assert (await reload(session, Product, product.id)).status.value == "draft"

    done = await create_render(session, design, version)
    product.render_id = done.id
    await session.flush()
    response = await make_ready()
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready"
    assert (await reload(session, Product, product.id)).status.value == "ready"


# --- pricing rules ------------------------------------------------------------------------------


def rule_body(rule: PricingRule) -> dict[str, Any]:
    return {
        "id": str(rule.id),
        "created_at": iso(rule.created_at),
        "modified_at": iso(rule.modified_at),
        "organization_id": str(rule.organization_id),
        "name": rule.name,
        "mode": rule.mode,
        "target_bps": rule.target_bps,
        "rounding": rule.rounding,
        "min_profit": rule.min_profit,
        "currency": rule.currency,
        "include_shipping": rule.include_shipping,
        "channel": rule.channel,
        "is_default": rule.is_default,
    }


async def test_pricing_rules_crud(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    body = {
        "name": "Etsy 35%",
        "mode": "margin",
        "target_bps": 3500,
        "rounding": "99",
        "min_profit": 400,
        "channel": "etsy",
        "is_default": True,
    }
    base = f"{API}/pricing_rules"
    await assert_refused(
        client,
        session,
        tenant,
        other_tenant,
        "POST",
        base,
        scope=WRITE,
        json=body,
        foreign={"json": {**body, "organization_id": str(tenant.organization.id)}},
    )
    for role in (Role.viewer, Role.editor):
        response = await client.post(base, json=body, headers=bearer(tenant.tokens[role]))
        assert response.status_code == 403, role
        assert response.json()["error"] == "NotPermitted"
    assert await count_rows(session, "pricing_rules") == 0

    response = await client.post(base, json=body, headers=bearer(tenant.tokens[Role.admin]))
    assert response.status_code == 201, response.text
    first = await reload(session, PricingRule, uuid.UUID(response.json()["id"]))
    assert response.json() == rule_body(first)
    assert (first.currency, first.include_shipping, first.is_default) == ("USD", False, True)

    second = await client.post(
        base,
        json={
            "name": "Shopify markup",
            "mode": "markup",
            "target_bps": 10000,
            "rounding": "00",
            "channel": "shopify",
            "is_default": True,
        },
        headers=owner(tenant),
    )
    assert second.status_code == 201, second.text
    # One default per workspace: the new default takes over.
    assert (await reload(session, PricingRule, first.id)).is_default is False
    second_rule = await reload(session, PricingRule, uuid.UUID(second.json()["id"]))

    viewer = bearer(tenant.tokens[Role.viewer])
    await assert_refused(
        client,
        session,
        tenant,
        other_tenant,
        "GET",
        base,
        scope=READ,
        foreign={"params": {"organization_id": str(tenant.organization.id)}},
    )
    listed = (await client.get(base, headers=viewer)).json()
    assert listed["items"] == [
        rule_body(second_rule),
        rule_body(await reload(session, PricingRule, first.id)),
    ]

    url = f"{base}/{first.id}"
    await assert_refused(client, session, tenant, other_tenant, "GET", url, scope=READ)
    await assert_refused(
        client, session, tenant, other_tenant, "PATCH", url, scope=WRITE, json={"target_bps": 1}
    )
    await assert_refused(client, session, tenant, other_tenant, "DELETE", url, scope=WRITE)
    assert (await client.get(url, headers=viewer)).json() == rule_body(
        await reload(session, PricingRule, first.id)
    )
    response = await client.patch(
        url, json={"target_bps": 4200}, headers=bearer(tenant.tokens[Role.editor])
    )
    assert response.status_code == 403
    response = await client.patch(
        url,
        json={"target_bps": 4200, "is_default": True},
        headers=bearer(tenant.tokens[Role.admin]),
    )
    assert response.status_code == 200, response.text
    updated = await reload(session, PricingRule, first.id)
    assert (updated.target_bps, updated.is_default) == (4200, True)
    assert response.json() == rule_body(updated)
    assert (await reload(session, PricingRule, second_rule.id)).is_default is False

    response = await client.delete(url, headers=bearer(tenant.tokens[Role.editor]))
    assert response.status_code == 403
    response = await client.delete(url, headers=bearer(tenant.tokens[Role.admin]))
    assert response.status_code == 200
    assert (await client.get(url, headers=viewer)).status_code == 404
    deleted = await reload(session, PricingRule, first.id)
    assert (deleted.deleted_at is not None, deleted.is_default) == (True, False)


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"target_bps": 10000}, "target_bps: a margin of 100.00% is impossible"),
        ({"target_bps": -1}, "target_bps: Input should be greater than or equal to 0"),
        ({"mode": "markup", "target_bps": 100_001}, "target_bps: Input should be less than or"),
        ({"min_profit": -5}, "min_profit: Input should be greater than or equal to 0"),
        ({"currency": "usd"}, "currency: String should match pattern"),
        ({"currency": "XYZ"}, "currency: 'XYZ' is not a supported ISO 4217 code"),
        ({"currency": "EUR"}, "currency: etsy fees are in USD; use USD or another channel."),
        ({"channel": "ebay"}, "channel: no fee schedule for 'ebay'."),
        ({"rounding": "50"}, "rounding: Input should be 'none', '99', '95' or '00'"),
        ({"name": ""}, "name: String should have at least 1 character"),
    ],
    ids=[
        "impossible margin",
        "negative target",
        "absurd markup",
        "negative minimum",
        "lower-case currency",
        "unknown currency",
        "currency of another channel",
        "unknown channel",
        "unknown rounding",
        "no name",
    ],
)
async def test_bad_pricing_rules_are_refused(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    change: dict[str, Any],
    detail: str,
) -> None:
    body = {"name": "Rule", "target_bps": 3000, **change}
    response = await client.post(
        f"{API}/pricing_rules", json=body, headers=bearer(tenant.tokens[Role.admin])
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(detail), response.json()["detail"]
    assert await count_rows(session, "pricing_rules") == 0
    rule = await create_pricing_rule(session, tenant.organization)
    if "name" not in change:
        response = await client.patch(
            f"{API}/pricing_rules/{rule.id}", json=change, headers=bearer(tenant.tokens[Role.admin])
        )
        assert response.status_code == 422, response.text
        assert response.json()["detail"].startswith(detail), response.json()["detail"]
        assert rule_body(await reload(session, PricingRule, rule.id)) == rule_body(rule)


async def test_changing_the_rule_reprices_rule_priced_variants(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    design, version = await create_design(session, tenant.organization)
    product = await create_product(
        session,
        design,
        version,
        variants={"white-m": (1200, 475, None), "black-m": (1200, 475, 4444)},
    )
    rule = await create_pricing_rule(
        session, tenant.organization, name="High", target_bps=5000, rounding="00"
    )
    response = await client.patch(
        f"{API}/products/{product.id}",
        json={"pricing_rule_id": str(rule.id)},
        headers=owner(tenant),
    )
    assert response.status_code == 200, response.text
    prices = {
        v["variant_key"]: (v["price"], v["price_source"]) for v in response.json()["variants"]
    }
    assert prices == {
        "white-m": (
            pricing.price_variant(
                cost=1200,
                shipping=475,
                currency="USD",
                rule=rule_of(target_bps=5000, rounding="00", min_profit=500),
                fees=ETSY,
            ).price,
            "rule",
        ),
        # A manual price stays what the creator typed.
        "black-m": (4444, "manual"),
    }

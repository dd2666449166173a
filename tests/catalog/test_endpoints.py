"""Catalog API: the product types a workspace sees (bundled catalog + its override), one type in
full, and the override document (admins only; a bad one is refused naming its path)."""

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.scope import Scope
from flashfusion.catalog.registry import get_catalog, get_product_type
from flashfusion.models import Role
from tests.conftest import count_rows
from tests.fixtures.objects import Tenant, bearer
from tests.fixtures.studio import assert_refused, studio_rows

API = "/api/v1"
COST_OVERRIDE: dict[str, Any] = {
    "product_types": {
        "tshirt": {
            "variants": {
                "white-m": {
                    "offers": [
                        {"provider": "printful", "base_cost": {"amount": 1250, "currency": "USD"}}
                    ]
                },
                "black-2xl": {"enabled": False},
            }
        },
        "mug-15oz": {"enabled": False},
    }
}


def summary(key: str) -> dict[str, Any]:
    t = get_product_type(key)
    return {
        "key": t.key,
        "name": t.name,
        "category": t.category,
        "mockup": t.mockup,
        "nice_classes": t.nice_classes,
        "print_areas": [a.key for a in t.print_areas],
        "variant_count": len(t.variants),
        "costed": all(any(o.base_cost is not None for o in v.offers) for v in t.variants),
    }


def as_org(tenant: Tenant) -> dict[str, Any]:
    return {"params": {"organization_id": str(tenant.organization.id)}}


async def test_list_the_catalog(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    url = f"{API}/catalog"
    await assert_refused(
        client,
        session,
        tenant,
        other_tenant,
        "GET",
        url,
        scope=Scope.products_read,
        foreign=as_org(tenant),
    )
    response = await client.get(url, headers=bearer(tenant.tokens[Role.viewer]))
    assert response.status_code == 200
    catalog = get_catalog()
    body = response.json()
    assert body["version"] == catalog.version == "2026.12.1"
    assert [t["key"] for t in body["product_types"]] == list(catalog.product_types)
    assert len(body["product_types"]) >= 31
    assert body["product_types"][0] == summary("tshirt")
    assert body["product_types"][0]["print_areas"] == [
        "front",
        "back",
        "sleeve_left",
        "sleeve_right",
    ]

    response = await client.get(
        url, params={"category": "drinkware"}, headers=bearer(tenant.tokens[Role.viewer])
    )
    assert [t["key"] for t in response.json()["product_types"]] == [
        k for k, t in catalog.product_types.items() if t.category == "drinkware"
    ]
    assert "mug-11oz" in [t["key"] for t in response.json()["product_types"]]


async def test_get_a_product_type(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    url = f"{API}/catalog/product_types/mug"
    await assert_refused(
        client,
        session,
        tenant,
        other_tenant,
        "GET",
        url,
        scope=Scope.products_read,
        foreign=as_org(tenant),
    )
    response = await client.get(url, headers=bearer(tenant.tokens[Role.viewer]))
    assert response.status_code == 200
    # The alias resolves to the catalog key; every figure comes with its source.
    assert response.json() == get_product_type("mug-11oz").model_dump(mode="json")
    assert response.json()["variants"][0]["print_files"]["default"]["width_px"] == 2700

    response = await client.get(
        f"{API}/catalog/product_types/t-shrit", headers=bearer(tenant.tokens[Role.viewer])
    )
    assert response.status_code == 422
    assert response.json() == {
        "error": "UnknownProductTypeError",
        "detail": "key: unknown product type 't-shrit'; did you mean 'tshirt'?",
    }


async def test_the_override_changes_what_the_workspace_sees(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    url = f"{API}/catalog/override"
    await assert_refused(
        client,
        session,
        tenant,
        other_tenant,
        "GET",
        url,
        scope=Scope.products_read,
        foreign=as_org(tenant),
    )
    await assert_refused(
        client,
        session,
        tenant,
        other_tenant,
        "PUT",
        url,
        scope=Scope.products_write,
        json=COST_OVERRIDE,
        foreign=as_org(tenant),
    )
    response = await client.get(url, headers=bearer(tenant.tokens[Role.viewer]))
    assert (response.status_code, response.json()) == (200, {})

    before = await studio_rows(session, tenant.organization.id)
    response = await client.put(url, json=COST_OVERRIDE, headers=bearer(tenant.tokens[Role.editor]))
    assert response.status_code == 403
    assert response.json()["error"] == "NotPermitted"
    assert await studio_rows(session, tenant.organization.id) == before

    response = await client.put(url, json=COST_OVERRIDE, headers=bearer(tenant.tokens[Role.admin]))
    assert response.status_code == 200, response.text
    assert response.json() == COST_OVERRIDE
    assert (await client.get(url, headers=bearer(tenant.tokens[Role.viewer]))).json() == (
        COST_OVERRIDE
    )
    assert await count_rows(session, "catalog_overrides") == 1

    viewer = bearer(tenant.tokens[Role.viewer])
    tshirt = (await client.get(f"{API}/catalog/product_types/tshirt", headers=viewer)).json()
    keys = [v["key"] for v in tshirt["variants"]]
    assert "black-2xl" not in keys
    assert len(keys) == len(get_product_type("tshirt").variants) - 1
    [white_m] = [v for v in tshirt["variants"] if v["key"] == "white-m"]
    assert white_m["offers"][0]["base_cost"] == {"amount": 1250, "currency": "USD"}
    # Verified needs the shipping too, and the bundled shipping figure is not verified.
    assert white_m["offers"][0]["verified"] is False
    assert white_m["offers"][0]["source"].endswith("organization override: base_cost")
    listed = (await client.get(f"{API}/catalog", headers=viewer)).json()["product_types"]
    assert "mug-15oz" not in [t["key"] for t in listed]
    response = await client.get(f"{API}/catalog/product_types/mug-15oz", headers=viewer)
    assert response.status_code == 422

    # The other workspace still sees the bundled catalog.
    theirs = await client.get(
        f"{API}/catalog/product_types/tshirt", headers=bearer(other_tenant.tokens[Role.viewer])
    )
    assert theirs.json() == get_product_type("tshirt").model_dump(mode="json")

    # Replacing the document replaces it; an empty one restores the bundled catalog.
    response = await client.put(url, json={}, headers=bearer(tenant.tokens[Role.owner]))
    assert (response.status_code, response.json()) == (200, {})
    tshirt = (await client.get(f"{API}/catalog/product_types/tshirt", headers=viewer)).json()
    assert tshirt == get_product_type("tshirt").model_dump(mode="json")
    assert await count_rows(session, "catalog_overrides") == 1


@pytest.mark.parametrize(
    ("document", "detail"),
    [
        (
            {"product_types": {"tshirt": {"variants": {"purple-m": {"enabled": False}}}}},
            "product_types.tshirt.variants.purple-m: unknown variant; ",
        ),
        (
            {
                "product_types": {
                    "tshirt": {
                        "variants": {
                            "white-m": {
                                "offers": [
                                    {
                                        "provider": "printful",
                                        "base_cost": {"amount": -5, "currency": "USD"},
                                    }
                                ]
                            }
                        }
                    }
                }
            },
            "product_types.tshirt.variants.white-m.offers[0].base_cost.amount: "
            "Input should be greater than or equal to 0",
        ),
        (
            {"product_types": {"spaceship": {"enabled": False}}},
            "product_types.spaceship: unknown product type 'spaceship'",
        ),
        (
            {"product_types": {"poster": {"print_areas": {"default": {"safe_margin_px": 5000}}}}},
            "product_types.poster.print_areas.default.safe_margin_px: 5000 px leaves no safe area",
        ),
        ({"products": {}}, "products: Extra inputs are not permitted"),
    ],
    ids=["unknown variant", "negative cost", "unknown product type", "margin too wide", "typo"],
)
async def test_a_bad_override_is_refused_naming_the_path(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    document: dict[str, Any],
    detail: str,
) -> None:
    response = await client.put(
        f"{API}/catalog/override", json=document, headers=bearer(tenant.tokens[Role.admin])
    )
    assert response.status_code == 422
    assert response.json()["error"] == "InvalidCatalogOverride"
    assert response.json()["detail"].startswith(detail), response.json()["detail"]
    assert await count_rows(session, "catalog_overrides") == 0
    assert await count_rows(session, "audit_events", "action = 'catalog.override_updated'") == 0

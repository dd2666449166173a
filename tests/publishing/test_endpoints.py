"""The publishing API: anonymous → 401, a key without the scope → 403, another workspace's
ids → 404, business refusals → 409/422 naming the fix; valid calls answer with the ledger.
A refused call changes no row of either workspace. And the ETA for known limits."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject
from flashfusion.auth.scope import ALL_SCOPES, Scope
from flashfusion.connector import ratelimit
from flashfusion.models import ConnectionStatus, Role
from flashfusion.publishing.endpoints import router
from flashfusion.publishing.service import calls_per_publish, publishing
from tests.fixtures.objects import Tenant, bearer, create_api_key
from tests.publishing.fakes import World, create_connection, publishable, run_jobs, world
from tests.safeguard.pipeline_fakes import FakeChecks, fake_checks

__all__ = ["fake_checks", "world"]

TABLES = ("channel_listings", "publish_intents", "jobs", "safeguard_reports", "audit_events")


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    app.include_router(router, prefix="/api/v1")
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def rows(session: AsyncSession, organization_id: uuid.UUID) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for table in TABLES:
        where = "organization_id = :org"
        if table == "audit_events":  # denials and key use are audited on purpose
            where += " AND outcome = 'success' AND action LIKE 'publishing.%'"
        result = await session.execute(
            text(f"SELECT * FROM {table} WHERE {where} ORDER BY id").bindparams(
                bindparam("org", type_=Uuid())
            ),
            {"org": organization_id},
        )
        found[table] = [tuple(r) for r in result.all()]
    return found


async def assert_denied(
    api: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    other: Tenant,
    method: str,
    url: str,
    *,
    scope: Scope,
    json: Any = None,
) -> None:
    before = (
        await rows(session, tenant.organization.id),
        await rows(session, other.organization.id),
    )
    _, no_scope = await create_api_key(
        session, organization=tenant.organization, user=tenant.owner, scopes=ALL_SCOPES - {scope}
    )
    for name, headers, status, error in (
        ("anonymous", {}, 401, "Unauthorized"),
        ("key without the scope", bearer(no_scope), 403, "InsufficientScope"),
        ("the other tenant", bearer(other.tokens[Role.owner]), 404, "ResourceNotFound"),
    ):
        response = await api.request(method, url, headers=headers, json=json)
        assert (response.status_code, response.json()["error"]) == (status, error), name
        after = (
            await rows(session, tenant.organization.id),
            await rows(session, other.organization.id),
        )
        assert after == before, f"{method} {url} as {name} changed something"


async def test_publish_and_read_through_the_api(
    api: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    other_tenant: Tenant,
    world: World,
    fake_checks: FakeChecks,
) -> None:
    product = await publishable(session, tenant.organization)
    etsy = await create_connection(session, tenant.organization.id)
    body = {"product_ids": [str(product.id)], "connection_ids": [str(etsy.id)]}
    await assert_denied(
        api,
        session,
        tenant,
        other_tenant,
        "POST",
        "/api/v1/publishing/publish",
        scope=Scope.publishing_write,
        json=body,
    )

    response = await api.post(
        "/api/v1/publishing/publish", json=body, headers=bearer(tenant.tokens[Role.editor])
    )

    assert response.status_code == 202, response.text
    data = response.json()
    [item] = data["items"]
    assert (item["outcome"], item["listing"]["state"], item["intent"]["action"]) == (
        "queued",
        "queued",
        "publish",
    )
    # 1 publish on a 10/s + 10,000/day account: 4 calls + 3 uploads fit in the first second.
    assert data["eta_seconds"] == 0.0
    assert data["estimates"] == [
        {
            "connection_id": str(etsy.id),
            "platform": "etsy",
            "calls": {"default": 4, "upload": 3},
            "seconds": 0.0,
        }
    ]
    listing_id = item["listing"]["id"]

    # A viewer reads; only writers publish.
    viewer = bearer(tenant.tokens[Role.viewer])
    refused = await api.post("/api/v1/publishing/publish", json=body, headers=viewer)
    assert (refused.status_code, refused.json()["error"]) == (403, "NotPermitted")
    listed = await api.get("/api/v1/publishing/listings", headers=viewer)
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["items"]] == [listing_id]
    assert listed.json()["pagination"] == {"total_count": 1, "max_page": 1}
    filtered = await api.get(
        "/api/v1/publishing/listings", params={"state": "published"}, headers=viewer
    )
    assert filtered.json()["items"] == []

    await run_jobs(session)
    detail = await api.get(f"/api/v1/publishing/listings/{listing_id}", headers=viewer)
    assert detail.status_code == 200
    got = detail.json()
    assert (got["state"], got["published_version"], [i["state"] for i in got["intents"]]) == (
        "published",
        1,
        ["succeeded"],
    )
    await assert_denied(
        api,
        session,
        tenant,
        other_tenant,
        "GET",
        f"/api/v1/publishing/listings/{listing_id}",
        scope=Scope.publishing_read,
    )
    missing = await api.get(
        f"/api/v1/publishing/listings/{uuid.uuid4()}", headers=bearer(tenant.tokens[Role.owner])
    )
    assert (missing.status_code, missing.json()["detail"]) == (404, "Listing not found.")

    # Nothing failed: nothing to retry. Unpublish through the API.
    owner = bearer(tenant.tokens[Role.owner])
    nothing = await api.post(f"/api/v1/publishing/listings/{listing_id}/retry", headers=owner)
    assert (nothing.status_code, nothing.json()["error"]) == (409, "NothingToRetry")
    for action in ("retry", "update", "unpublish"):
        await assert_denied(
            api,
            session,
            tenant,
            other_tenant,
            "POST",
            f"/api/v1/publishing/listings/{listing_id}/{action}",
            scope=Scope.publishing_write,
        )
    same = await api.post(f"/api/v1/publishing/listings/{listing_id}/update", headers=owner)
    assert (same.status_code, same.json()["outcome"]) == (202, "already_published")
    down = await api.post(f"/api/v1/publishing/listings/{listing_id}/unpublish", headers=owner)
    assert down.status_code == 202
    assert (down.json()["outcome"], down.json()["intent"]["action"]) == ("queued", "unpublish")


async def test_bad_requests_name_the_problem_and_write_nothing(
    api: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    world: World,
    fake_checks: FakeChecks,
) -> None:
    product = await publishable(session, tenant.organization)
    dead = await create_connection(
        session, tenant.organization.id, status=ConnectionStatus.needs_reconnect
    )
    owner = bearer(tenant.tokens[Role.owner])
    before = await rows(session, tenant.organization.id)

    empty = await api.post(
        "/api/v1/publishing/publish",
        json={"product_ids": [], "connection_ids": [str(dead.id)]},
        headers=owner,
    )
    assert empty.status_code == 422
    assert "product_ids" in empty.json()["detail"]
    reconnect = await api.post(
        "/api/v1/publishing/publish",
        json={"product_ids": [str(product.id)], "connection_ids": [str(dead.id)]},
        headers=owner,
    )
    assert (reconnect.status_code, reconnect.json()) == (
        409,
        {
            "error": "ConnectionNotActive",
            "detail": "Reconnect Etsy (My etsy shop) first: the connection is needs reconnect.",
        },
    )
    unknown = await api.post(
        "/api/v1/publishing/publish",
        json={"product_ids": [str(uuid.uuid4())], "connection_ids": [str(dead.id)]},
        headers=owner,
    )
    assert (unknown.status_code, unknown.json()["detail"]) == (404, "Product not found.")
    assert await rows(session, tenant.organization.id) == before


async def test_the_eta_follows_the_documented_limits(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    # Printify-like limits: 200 publishes per 30 minutes is the slowest for 300 products.
    assert calls_per_publish("printify", 1) == {"default": 3, "publish": 1, "upload": 1}
    counts = {"default": 900, "publish": 300, "upload": 300}
    window = ratelimit.window_ms(world.provider.rate_limits[1]) / 1000.0
    assert window == 1836.1  # 1,800 s plus the limiter's 2 % + 100 ms margin
    assert ratelimit.estimate_seconds(world.provider, counts) == window
    # Already 150 used this window: 450 in all, the last goes two windows later.
    assert ratelimit.estimate_seconds(world.provider, counts, now_used={"publishes": 150}) == (
        2 * window
    )

    products = [await publishable(session, tenant.organization, title=f"Tee {n}") for n in range(3)]
    etsy = await create_connection(session, tenant.organization.id, "etsy")
    printify = await create_connection(session, tenant.organization.id, "printify", linked=etsy)
    estimate = await publishing.estimate(
        session,
        AuthSubject(tenant.owner),
        product_ids=[p.id for p in products],
        connection_ids=[printify.id],
    )
    # Each Printify publish also lists the product on its linked Etsy shop.
    assert [(e.platform, e.calls) for e in estimate.estimates] == [
        ("printify", {"default": 9, "publish": 3, "upload": 9}),
        ("etsy", {"default": 12, "upload": 9}),
    ]
    # 30 Etsy calls at 10/s: the last goes in the third second.
    per_second = ratelimit.window_ms(world.channel.rate_limits[0]) / 1000.0
    assert estimate.eta_seconds == 2 * per_second
    assert estimate.items == []

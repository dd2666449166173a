"""A product is created or its screened text changes → its safeguard screen is queued: once per unit of work for
a listing edit (one screen covers every platform and language), once per product for a batch
(whose bulk save bypasses the writer), never for a copy without a product or for a script."""

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject
from flashfusion.content.batch_service import BatchItemInput, content_batch
from flashfusion.content.service import content as content_service
from flashfusion.content.writer import writer
from flashfusion.models import Job, ListingCopy, Role
from tests.content.test_batch import run_job
from tests.content.test_endpoints import create_listing_copy
from tests.fixtures.objects import Tenant, bearer
from tests.fixtures.studio import create_design
from tests.safeguard.pipeline_fakes import make_product


async def screens_queued(session: AsyncSession) -> list[list[str]]:
    rows = await session.execute(
        select(Job.arguments)
        .where(Job.kind == "safeguard.screen_product")
        .order_by(Job.created_at, Job.id)
    )
    return [list(arguments) for arguments in rows.scalars()]


async def test_editing_a_products_listing_queues_one_screen(
    session: AsyncSession, tenant: Tenant
) -> None:
    product, _, _ = await make_product(session, tenant.organization)
    copy = await create_listing_copy(session, tenant.organization, product_id=product.id)
    other = await create_listing_copy(
        session, tenant.organization, product_id=product.id, language="de"
    )
    assert await screens_queued(session) == []

    owner = AuthSubject(tenant.owner)
    await content_service.edit(session, owner, copy, {"title": "Sunrise Tee"}, note=None)
    await content_service.edit(session, owner, other, {"title": "Sonnenaufgang"}, note=None)

    assert await screens_queued(session) == [[str(product.id), "change"]]


async def test_a_copy_without_a_product_or_a_script_queues_nothing(
    session: AsyncSession, tenant: Tenant
) -> None:
    product, _, _ = await make_product(session, tenant.organization)
    idea_copy = await create_listing_copy(session, tenant.organization)
    script = await create_listing_copy(
        session, tenant.organization, product_id=product.id, platform="script:tiktok"
    )
    owner = AuthSubject(tenant.owner)
    await content_service.edit(session, owner, idea_copy, {"title": "Coffee Tee"}, note=None)
    await writer.add_version(
        session,
        script,
        fields=dict((await content_service.version(session, script)).fields),
        source="edited",
        checked=None,
        provider=None,
        generation_id=None,
        user_id=tenant.owner.id,
    )

    assert await screens_queued(session) == []


async def test_a_batch_for_products_queues_one_screen_per_product(
    session: AsyncSession, tenant: Tenant
) -> None:
    first, _, _ = await make_product(session, tenant.organization, title="Sunrise tee")
    second, _, _ = await make_product(session, tenant.organization, title="Moon mug")
    batch = await content_batch.create(
        session,
        AuthSubject(tenant.owner),
        organization_id=tenant.organization.id,
        items=[
            BatchItemInput(product_id=first.id),
            BatchItemInput(product_id=second.id),
            BatchItemInput(product_id=first.id),
            BatchItemInput(idea="Plant mom", product_type="tshirt"),
        ],
        platforms=["etsy"],
        languages=["en", "de"],
        brand_voice_id=None,
    )

    assert await run_job(batch.id) == 4

    copies = await session.execute(
        select(ListingCopy.product_id).where(ListingCopy.product_id.is_not(None)).distinct()
    )
    assert {p for p in copies.scalars()} == {first.id, second.id}
    queued = await screens_queued(session)
    assert sorted(queued) == sorted([[str(first.id), "change"], [str(second.id), "change"]])


async def test_creating_a_product_queues_its_first_screen(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    design, _ = await create_design(session, tenant.organization)
    body = {
        "design_id": str(design.id),
        "product_type": "tshirt",
        "variant_keys": ["white-m"],
        "render": False,
    }
    response = await client.post(
        "/api/v1/products", json=body, headers=bearer(tenant.tokens[Role.editor])
    )
    assert response.status_code == 201, response.text

    assert await screens_queued(session) == [[response.json()["id"], "change"]]

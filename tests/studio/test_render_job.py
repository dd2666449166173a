"""The render job, step by step (DBOS is not launched in tests: the steps are called directly,
as the workflow would): print files at each product's exact pixel size with its DPI in the PNG,
listing images, progress, status; a re-run replaces what it made; a failure is recorded."""

import io
import uuid
from typing import Any

import httpx
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.catalog.registry import get_product_type
from flashfusion.models import MediaAsset, MediaKind, Render, RenderFile, RenderStatus, Role
from flashfusion.studio import tasks
from flashfusion.studio.media import get_storage
from tests.fixtures.objects import Tenant, bearer
from tests.fixtures.studio import create_design, stored_files, text_document

API = "/api/v1"


async def reload(session: AsyncSession, model: type, id: uuid.UUID) -> Any:
    result = await session.execute(
        select(model).where(model.id == id).execution_options(populate_existing=True)  # type: ignore[attr-defined]
    )
    return result.scalar_one()


async def files_of(session: AsyncSession, render_id: uuid.UUID) -> list[RenderFile]:
    rows = await session.execute(
        select(RenderFile)
        .where(RenderFile.render_id == render_id)
        .order_by(RenderFile.kind, RenderFile.product_type, RenderFile.label)
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def start_render(
    client: httpx.AsyncClient, tenant: Tenant, design_id: uuid.UUID, selection: dict[str, Any]
) -> uuid.UUID:
    response = await client.post(
        f"{API}/designs/{design_id}/renders",
        json={"product_types": selection},
        headers=bearer(tenant.tokens[Role.editor]),
    )
    assert response.status_code == 202, response.text
    return uuid.UUID(response.json()["id"])


async def test_the_render_job_makes_exact_print_files_and_mockups(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    design, _ = await create_design(
        session, tenant.organization, document=text_document("Stay Wild", width=1500, height=1500)
    )
    render_id = await start_render(
        client, tenant, design.id, {"tshirt": ["white-m", "black-m"], "mug": []}
    )
    render = await reload(session, Render, render_id)
    assert (render.status, render.progress_done, render.progress_total) == (
        RenderStatus.queued,
        0,
        4,
    )

    keys = await tasks.start(str(render_id))
    assert keys == ["tshirt", "mug-11oz"]
    assert (await reload(session, Render, render_id)).status == RenderStatus.running
    produced = 0
    for key in keys:
        produced += await tasks.render_product_type(str(render_id), key)
    await tasks.finish(str(render_id), None)

    render = await reload(session, Render, render_id)
    assert render.status == RenderStatus.succeeded
    assert render.progress_done == render.progress_total == 4
    assert render.error is None
    assert render.completed_at is not None

    files = await files_of(session, render_id)
    assert len(files) == produced
    prints = [f for f in files if f.kind.value == "print_file"]
    mockups = [f for f in files if f.kind.value == "mockup"]
    # Both shirts share one front print file; the mug has its wrap. The catalog says the sizes.
    tshirt_front = get_product_type("tshirt").variant("white-m").print_files["front"]  # type: ignore[union-attr]
    mug_wrap = get_product_type("mug-11oz").variants[0].print_files["default"]
    assert sorted(
        (f.product_type, f.area_key, f.variant_keys, f.width, f.height, f.dpi) for f in prints
    ) == [
        ("mug-11oz", "default", ["white"], mug_wrap.width_px, mug_wrap.height_px, mug_wrap.dpi),
        ("tshirt", "front", ["white-m", "black-m"], 1800, 2400, 150),
    ]
    assert (tshirt_front.width_px, tshirt_front.height_px, tshirt_front.dpi) == (1800, 2400, 150)
    assert (mug_wrap.width_px, mug_wrap.height_px, mug_wrap.dpi) == (2700, 1050, 300)
    storage = get_storage()
    for file in prints:
        asset = await reload(session, MediaAsset, file.media_asset_id)
        data = await storage.get(asset.storage_key)
        image = Image.open(io.BytesIO(data))
        assert image.format == "PNG"
        assert image.mode == "RGBA"
        assert image.size == (file.width, file.height)
        # pHYs stores dots per metre: Pillow reads back the DPI within rounding.
        assert tuple(round(v) for v in image.info["dpi"]) == (file.dpi, file.dpi)
        assert (asset.kind, asset.content_type, asset.byte_size, asset.dpi) == (
            MediaKind.print_file,
            "image/png",
            len(data),
            file.dpi,
        )
        assert (asset.width, asset.height) == (file.width, file.height)
        # Transparent background, something painted.
        assert image.getpixel((0, 0))[3] == 0
        assert image.getbbox() is not None

    assert {f.product_type for f in mockups} == {"tshirt", "mug-11oz"}
    assert {f.colour_hex for f in mockups if f.product_type == "tshirt"} == {"#ffffff", "#000000"}
    for file in mockups:
        asset = await reload(session, MediaAsset, file.media_asset_id)
        data = await storage.get(asset.storage_key)
        image = Image.open(io.BytesIO(data))
        assert image.size == (file.width, file.height) == (asset.width, asset.height)
        assert asset.kind == MediaKind.mockup
        assert asset.content_type == Image.MIME[image.format]  # type: ignore[index]
        assert file.width >= 2000 or file.height >= 2000  # Etsy wants 2000 px and up
    assert len([f for f in mockups if f.product_type == "tshirt"]) <= 10  # Etsy's cap

    # The API shows the same files.
    response = await client.get(
        f"{API}/renders/{render_id}", headers=bearer(tenant.tokens[Role.viewer])
    )
    body = response.json()
    assert (body["status"], body["progress_done"], body["progress_total"]) == ("succeeded", 4, 4)
    assert sorted(f["id"] for f in body["files"]) == sorted(str(f.id) for f in files)


async def test_a_rerun_replaces_what_the_step_made(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    design, _ = await create_design(session, tenant.organization)
    render_id = await start_render(client, tenant, design.id, {"sticker": []})
    render = await reload(session, Render, render_id)
    assert render.mockups is True
    await tasks.start(str(render_id))
    first = await tasks.render_product_type(str(render_id), "sticker-kiss-cut")
    first_files = await files_of(session, render_id)
    first_stored = stored_files()
    # A crash after the step stored its files, before DBOS recorded it: the step runs again.
    second = await tasks.render_product_type(str(render_id), "sticker-kiss-cut")
    second_files = await files_of(session, render_id)
    assert first == second == len(second_files) == len(first_files)
    assert {f.id for f in first_files}.isdisjoint({f.id for f in second_files})
    old_assets = [f.media_asset_id for f in first_files]
    rows = await session.execute(select(MediaAsset.id).where(MediaAsset.id.in_(old_assets)))
    assert rows.all() == []
    # The first run's bytes are gone from storage too; only the second run's remain.
    assert len(stored_files()) == len(first_stored)
    sticker = get_product_type("sticker-kiss-cut")
    sizes = {
        (v.print_files["default"].width_px, v.print_files["default"].height_px)
        for v in sticker.variants
    }
    assert {(f.width, f.height) for f in second_files if f.kind.value == "print_file"} == sizes
    render = await reload(session, Render, render_id)
    assert render.progress_done == render.progress_total


async def test_a_failed_render_says_why(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    design, _ = await create_design(session, tenant.organization)
    render_id = await start_render(client, tenant, design.id, {"poster": ["5x7"]})
    await tasks.start(str(render_id))
    await tasks.finish(str(render_id), "Rendering failed (MemoryError: ). Retry the render.")
    render = await reload(session, Render, render_id)
    assert (render.status, render.error, render.progress_done) == (
        RenderStatus.failed,
        "Rendering failed (MemoryError: ). Retry the render.",
        0,
    )
    assert render.completed_at is not None
    # Steps for a render that is gone do nothing (a deleted design cascades its renders).
    assert await tasks.start(str(uuid.uuid4())) == []
    assert await tasks.render_product_type(str(uuid.uuid4()), "poster") == 0

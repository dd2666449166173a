"""The render job: print files and mockups of one design version, one product type per step."""

import asyncio
import uuid

from dbos import DBOS
from sqlalchemy import delete

from flashfusion.catalog.service import catalog as catalog_service
from flashfusion.config import get_settings
from flashfusion.db import unit_of_work
from flashfusion.jobs.registry import job
from flashfusion.models import (
    DesignVersion,
    MediaAsset,
    MediaKind,
    Render,
    RenderFile,
    RenderFileKind,
    RenderStatus,
    utc_now,
)
from flashfusion.studio import pipeline
from flashfusion.studio.document import DesignDocument
from flashfusion.studio.media import media as media_service
from flashfusion.studio.render_service import RENDER_JOB, tasks_for
from flashfusion.studio.repository import RenderFileRepository
from flashfusion.studio.service import media_ids_of


@DBOS.step(name="studio.render_start")
async def start(render_id: str) -> list[str]:
    """Mark the render running; the product types to render, in order."""
    async with unit_of_work() as session:
        render = await session.get(Render, uuid.UUID(render_id))
        if render is None:
            return []
        render.status = RenderStatus.running
        return list(render.selection)


@DBOS.step(name="studio.render_product_type")
async def render_product_type(render_id: str, product_type_key: str) -> int:
    """Render and store one product type's files. Safe to run twice: a re-run after a crash
    first removes what the interrupted run stored for this product type."""
    async with unit_of_work() as session:
        render = await session.get(Render, uuid.UUID(render_id))
        if render is None:
            return 0
        version = await session.get(DesignVersion, render.design_version_id)
        assert version is not None
        document = DesignDocument.model_validate(version.document)
        catalog = await catalog_service.effective(session, render.organization_id)
        task = tasks_for(catalog, {product_type_key: render.selection[product_type_key]})[0]
        loader = await media_service.loader(session, render.organization_id, media_ids_of(document))
        stale = [
            f.media_asset_id
            for f in await RenderFileRepository.from_session(session).for_render(render)
            if f.product_type == product_type_key
        ]
        stale_keys: list[str] = []
        if stale:
            stale_keys = await media_service.storage_keys(session, stale)
            await session.execute(delete(RenderFile).where(RenderFile.media_asset_id.in_(stale)))
            await session.execute(delete(MediaAsset).where(MediaAsset.id.in_(stale)))
        organization_id, mockups = render.organization_id, render.mockups
    threads = get_settings().RENDER_THREADS
    # The rows are gone (committed): now their bytes can go too.
    await media_service.delete_files(stale_keys)

    # CPU-bound: off the event loop, so the executor keeps heartbeating and serving.
    files = await asyncio.to_thread(
        lambda: list(pipeline.run(document, [task], media=loader, mockups=mockups, threads=threads))
    )
    async with unit_of_work() as session:
        for output in files:
            asset = await media_service.store(
                session,
                organization_id=organization_id,
                kind=MediaKind.print_file if output.kind == "print_file" else MediaKind.mockup,
                data=output.data,
                content_type=output.content_type,
                width=output.width,
                height=output.height,
                dpi=output.dpi,
                filename=f"{output.label}",
            )
            session.add(
                RenderFile(
                    organization_id=organization_id,
                    render_id=uuid.UUID(render_id),
                    media_asset_id=asset.id,
                    kind=RenderFileKind(output.kind),
                    product_type=output.product_type,
                    area_key=output.area_key,
                    variant_keys=output.variant_keys,
                    view=output.view,
                    colour_hex=output.colour_hex,
                    label=output.label[:120],
                    width=output.width,
                    height=output.height,
                    dpi=output.dpi,
                )
            )
        render = await session.get(Render, uuid.UUID(render_id))
        assert render is not None
        render.progress_done = min(
            render.progress_total,
            render.progress_done + pipeline.print_file_count(task) + (1 if mockups else 0),
        )
    return len(files)


@DBOS.step(name="studio.render_finish")
async def finish(render_id: str, error: str | None) -> None:
    async with unit_of_work() as session:
        render = await session.get(Render, uuid.UUID(render_id))
        if render is None:
            return
        render.status = RenderStatus.failed if error else RenderStatus.succeeded
        render.error = error
        if not error:
            render.progress_done = render.progress_total
        render.completed_at = utc_now()


@job(RENDER_JOB, label="Render print files and mockups", queue="render")
async def render_design(render_id: str) -> int:
    """Render every selected product type; a failure marks the render failed with the reason."""
    produced = 0
    try:
        for key in await start(render_id):
            produced += await render_product_type(render_id, key)
    except Exception as e:
        await finish(
            render_id,
            f"Rendering failed ({type(e).__name__}: {e}). Retry the render; if it fails again, "
            "simplify the design (fewer layers or smaller images) and tell us the render id.",
        )
        raise
    await finish(render_id, None)
    return produced

"""The batch job: listing copy for every item of a batch, a chunk of items per durable step.

Within a step, items run concurrently and each provider gets at most CONCURRENCY calls at once.
No database connection is held while a provider thinks: a chunk is prepared in one unit of work,
the calls run outside any, and each item is saved in a unit of work of its own as it finishes.
A step re-run after a crash skips the items already saved, so the job is safe to run twice.
"""

import asyncio
import uuid
from dataclasses import dataclass, field

from dbos import DBOS
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.ai.providers import PROVIDER_NAMES
from flashfusion.ai.router import AllProvidersFailed, RouterResult
from flashfusion.ai.service import Prepared
from flashfusion.ai.service import ai as ai_service
from flashfusion.ai.types import TaskType
from flashfusion.catalog.service import catalog as catalog_service
from flashfusion.content import rules as platform_rules
from flashfusion.content.batch_service import BATCH_JOB
from flashfusion.content.draft import ListingBrief, ListingDraft, Platform
from flashfusion.content.repository import ContentBatchItemRepository, ContentBatchRepository
from flashfusion.content.writer import brief_for, profile_of, writer
from flashfusion.db import unit_of_work
from flashfusion.exceptions import AppError
from flashfusion.jobs.registry import job
from flashfusion.models import (
    BatchItemStatus,
    BatchStatus,
    BrandVoice,
    ContentBatch,
    ContentBatchItem,
    ListingCopy,
    utc_now,
)

# A multiple of CONCURRENCY, so a chunk ends with every slot busy.
CHUNK = 25 * 8
# Calls in flight per provider within one batch step (the sandbox benchmark's limit).
CONCURRENCY = 8


@dataclass
class ItemWork:
    item_id: uuid.UUID
    targets: list[tuple[uuid.UUID, ListingBrief, Prepared]] = field(default_factory=list)
    error: str | None = None
    # Copies this item already wrote (a retry of a partly failed item redoes only the rest).
    kept: list[str] = field(default_factory=list)
    kept_cost: int | None = 0


@DBOS.step(name="content.batch_start")
async def start(batch_id: str) -> list[list[str]]:
    """Mark the batch running; the pending items' ids, in chunks."""
    async with unit_of_work() as session:
        batch = await session.get(ContentBatch, uuid.UUID(batch_id))
        if batch is None:
            return []
        batch.status = BatchStatus.running
        ids = await ContentBatchItemRepository.from_session(session).pending_ids(batch.id)
        pending = [str(i) for i in ids]
    return [pending[i : i + CHUNK] for i in range(0, len(pending), CHUNK)]


async def _prepare(batch_id: uuid.UUID, item_ids: list[uuid.UUID]) -> list[ItemWork]:
    # One gate per provider, made on this event loop: the chain wraps each provider in its own.
    limits = {name: asyncio.Semaphore(CONCURRENCY) for name in PROVIDER_NAMES}
    works: list[ItemWork] = []
    async with unit_of_work() as session:
        batch = await session.get(ContentBatch, batch_id)
        assert batch is not None
        items = await ContentBatchItemRepository.from_session(session).pending_among(item_ids)
        catalog = await catalog_service.effective(session, batch.organization_id)
        voice = (
            await session.get(BrandVoice, batch.brand_voice_id) if batch.brand_voice_id else None
        )
        profile = profile_of(voice)
        resolved = None
        for item in items:
            work = ItemWork(
                item.id,
                kept=list(item.listing_copy_ids),
                kept_cost=item.cost_microusd if item.listing_copy_ids else 0,
            )
            works.append(work)
            try:
                if resolved is None:
                    resolved = await ai_service.resolve(
                        session, batch.organization_id, TaskType.listing_copy, limits=limits
                    )
                for platform in batch.platforms:
                    for language in batch.languages:
                        brief = brief_for(
                            catalog,
                            idea=item.idea,
                            product_type_key=item.product_type,
                            platform=Platform(platform),
                            language=language,
                            brand_voice=profile,
                            keywords=list(item.keywords),
                            audience=None,
                            occasion=None,
                        )
                        copy = await writer.upsert_copy(
                            session,
                            organization_id=batch.organization_id,
                            brief=brief,
                            product_id=item.product_id,
                            brand_voice_id=batch.brand_voice_id,
                            user_id=batch.created_by_user_id,
                        )
                        if str(copy.id) in work.kept:
                            continue
                        request, template = writer.request_for(
                            brief, platform_rules.get_rules(brief.platform)
                        )
                        prepared = ai_service.prepared(
                            resolved,
                            organization_id=batch.organization_id,
                            user_id=batch.created_by_user_id,
                            request=request,
                            output=ListingDraft,
                            prompt=template,
                            product_id=item.product_id,
                            listing_copy_id=copy.id,
                            use_cache=True,
                        )
                        await ai_service.lookup(session, prepared)
                        work.targets.append((copy.id, brief, prepared))
            except AppError as e:
                work.error = e.detail
    return works


Outcomes = list[tuple[RouterResult | None, AllProvidersFailed | None]]
# Finished items saved in one unit of work at most (group commit: one commit, not one per item).
SAVE_GROUP = 50


async def _call_item(work: ItemWork, gate: asyncio.Semaphore) -> Outcomes:
    outcomes: Outcomes = []
    if work.error is None:
        for _, _, prepared in work.targets:
            if prepared.cached is not None:
                outcomes.append((None, None))
                continue
            # Wait for a slot here, outside the router: a request's timeout starts when it is
            # sent, not while it queues behind the batch's other items.
            async with gate:
                outcomes.append(await ai_service.call(prepared))
    return outcomes


async def _save_item(
    session: AsyncSession, batch_id: uuid.UUID, work: ItemWork, outcomes: Outcomes
) -> bool:
    """Record one item's generations and copy; its own savepoint, so one bad item never takes
    the rest of its group down with it."""
    error = work.error
    copy_ids: list[str] = list(work.kept)
    cost: int | None = work.kept_cost
    try:
        async with session.begin_nested():
            if error is None:
                for (copy_id, brief, prepared), (result, failure) in zip(
                    work.targets, outcomes, strict=True
                ):
                    try:
                        generation = await ai_service.finish(session, prepared, result, failure)
                    except AppError as e:  # the failed generation's ledger row stays
                        error = e.detail
                        continue
                    copy = await session.get(ListingCopy, copy_id)
                    assert copy is not None
                    await writer.save(session, copy, brief, generation, user_id=prepared.user_id)
                    copy_ids.append(str(copy_id))
                    if cost is not None:
                        spent = generation.record.cost_microusd
                        cost = None if spent is None else cost + spent
    except Exception as e:  # noqa: BLE001 -- recorded on the item, which can be retried
        error = f"Saving failed ({type(e).__name__}); retry the failed items."
        copy_ids, cost = list(work.kept), None
    item = await session.get(ContentBatchItem, work.item_id)
    assert item is not None
    item.attempts += 1
    item.listing_copy_ids = copy_ids
    item.cost_microusd = cost
    item.status = BatchItemStatus.failed if error else BatchItemStatus.succeeded
    item.error = error
    await ContentBatchRepository.from_session(session).count_item(batch_id, failed=bool(error))
    return error is None


@DBOS.step(name="content.batch_chunk")
async def run_chunk(batch_id: str, item_ids: list[str]) -> int:
    """Generate a chunk of items concurrently; the number that succeeded. Items are saved as
    they finish, in groups, by one writer (SQLite has one writer; PostgreSQL saves commits)."""
    batch = uuid.UUID(batch_id)
    works = await _prepare(batch, [uuid.UUID(i) for i in item_ids])
    gate = asyncio.Semaphore(CONCURRENCY)
    finished: asyncio.Queue[tuple[ItemWork, Outcomes]] = asyncio.Queue()

    async def call(work: ItemWork) -> None:
        await finished.put((work, await _call_item(work, gate)))

    calls = [asyncio.create_task(call(w)) for w in works]
    succeeded = saved = 0
    try:
        while saved < len(works):
            group = [await finished.get()]
            while not finished.empty() and len(group) < SAVE_GROUP:
                group.append(finished.get_nowait())
            async with unit_of_work() as session:
                for work, outcomes in group:
                    succeeded += await _save_item(session, batch, work, outcomes)
            saved += len(group)
    finally:
        for task in calls:
            task.cancel()
    return succeeded


@DBOS.step(name="content.batch_finish")
async def finish(batch_id: str, error: str | None) -> None:
    async with unit_of_work() as session:
        batch = await session.get(ContentBatch, uuid.UUID(batch_id))
        if batch is None:
            return
        if error or batch.failed == batch.total:
            batch.status = BatchStatus.failed
        elif batch.failed:
            batch.status = BatchStatus.partial
        else:
            batch.status = BatchStatus.succeeded
        batch.completed_at = utc_now()


@job(BATCH_JOB, label="Generate listing copy for a batch", queue="content")
async def generate_batch(batch_id: str) -> int:
    """Every pending item of the batch; failed items keep their error for a retry."""
    succeeded = 0
    try:
        for chunk in await start(batch_id):
            succeeded += await run_chunk(batch_id, chunk)
    except Exception as e:
        await finish(batch_id, f"{type(e).__name__}: {e}")
        raise
    await finish(batch_id, None)
    return succeeded

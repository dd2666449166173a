"""The batch job: listing copy for every item of a batch, a chunk of items per durable step.

Within a step, items run concurrently and each provider gets at most CONCURRENCY calls at once.
No database connection is held while a provider thinks: a chunk is prepared in one unit of work
(one multi-row upsert of its copies, one cache read), the calls run outside any, and finished
items are saved in groups, one unit of work per group with one INSERT of its ledger rows and
one of its versions. A step re-run after a crash skips the items already saved, so the job is
safe to run twice.
"""

import asyncio
import json
import logging
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from dbos import DBOS
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.ai.providers import PROVIDER_NAMES
from flashfusion.ai.router import AllProvidersFailed, RouterResult
from flashfusion.ai.service import Generation, Prepared, Settled
from flashfusion.ai.service import ai as ai_service
from flashfusion.ai.types import TaskType
from flashfusion.catalog.service import catalog as catalog_service
from flashfusion.content import rules as platform_rules
from flashfusion.content.batch_service import BATCH_JOB
from flashfusion.content.draft import ListingBrief, ListingDraft, Platform
from flashfusion.content.repository import (
    ContentBatchItemRepository,
    ContentBatchRepository,
    ListingCopyRepository,
    ListingCopyVersionRepository,
)
from flashfusion.content.writer import brief_for, check, profile_of, subject_of, writer
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
    ListingCopyStatus,
    utc_now,
)

logger = logging.getLogger(__name__)

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
        if not items:
            return works
        # Read once per chunk: the catalog, the brand voice, the settings, budget and chain.
        catalog = await catalog_service.effective(session, batch.organization_id)
        voice = (
            await session.get(BrandVoice, batch.brand_voice_id) if batch.brand_voice_id else None
        )
        profile = profile_of(voice)
        resolved = None
        refused: str | None = None
        try:
            resolved = await ai_service.resolve(
                session, batch.organization_id, TaskType.listing_copy, limits=limits
            )
        except AppError as e:  # no provider, or the budget is used up: every item says why
            refused = e.detail
        planned: list[tuple[ItemWork, ContentBatchItem, list[ListingBrief]]] = []
        for item in items:
            work = ItemWork(
                item.id,
                kept=list(item.listing_copy_ids),
                kept_cost=item.cost_microusd if item.listing_copy_ids else 0,
            )
            works.append(work)
            if refused is not None:
                work.error = refused
                continue
            try:
                briefs = [
                    brief_for(
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
                    for platform in batch.platforms
                    for language in batch.languages
                ]
            except AppError as e:
                work.error = e.detail
                continue
            planned.append((work, item, briefs))
        if resolved is None:
            return works
        # Every copy of the chunk in one upsert (what writer.upsert_copy does for one).
        copies = await ListingCopyRepository.from_session(session).upsert_many(
            batch.organization_id,
            [
                {
                    "subject": subject_of(item.product_id, brief.idea, brief.product_type),
                    "platform": brief.platform.value,
                    "language": brief.language,
                    "product_id": item.product_id,
                    "idea": brief.idea,
                    "product_type": brief.product_type,
                    "brand_voice_id": batch.brand_voice_id,
                    "created_by_user_id": batch.created_by_user_id,
                }
                for _, item, briefs in planned
                for brief in briefs
            ],
        )
        pending: list[Prepared] = []
        for work, item, briefs in planned:
            for brief in briefs:
                copy_id = copies[
                    (
                        subject_of(item.product_id, brief.idea, brief.product_type),
                        brief.platform.value,
                        brief.language,
                    )
                ]
                if str(copy_id) in work.kept:
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
                    listing_copy_id=copy_id,
                    use_cache=True,
                )
                pending.append(prepared)
                work.targets.append((copy_id, brief, prepared))
        await ai_service.lookup_many(session, pending)
    return works


class CheckMemo:
    """Checks of drafts already checked, by (brief, draft) in their exact JSON form.

    `writer.check` is a pure function of the draft, the brief and the platform's rules (which are
    code, fixed for the life of the process), so a draft the cache answers again is checked the
    same as when it was first saved: the stored result is that check's, not an approximation.
    Kept as JSON, so no saved version shares a mutable object with another."""

    def __init__(self, max_entries: int = 2048) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], str] = OrderedDict()

    def checked(self, brief: ListingBrief, draft: ListingDraft) -> dict[str, Any]:
        """The version columns that `check` gives for this draft: fields, fixes, violations,
        seo_score, voice_score."""
        key = (brief.model_dump_json(), draft.model_dump_json())
        stored = self._entries.get(key)
        if stored is not None:
            self._entries.move_to_end(key)
            return dict(json.loads(stored))
        result = check(draft, brief, platform_rules.get_rules(brief.platform))
        columns = {
            "fields": result.draft.model_dump(mode="json"),
            "fixes": result.fixes,
            "violations": result.violations,
            "seo_score": result.seo_score,
            "voice_score": result.voice_score,
        }
        encoded = json.dumps(columns)
        self._entries[key] = encoded
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return dict(json.loads(encoded))


check_memo = CheckMemo()


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


@dataclass
class _Version:
    """A version to write: its copy, its checked columns and the generation it came from."""

    copy_id: uuid.UUID
    columns: dict[str, Any]
    generation: Generation
    user_id: uuid.UUID | None

    @property
    def status(self) -> ListingCopyStatus:
        return ListingCopyStatus.draft if self.columns["violations"] else ListingCopyStatus.ready


async def _number(session: AsyncSession, versions: list[_Version]) -> list[int]:
    """Version numbers for `versions`, race-free, in as few UPDATEs as there are statuses; a
    copy that appears twice in the group (the same idea twice) is numbered in a second round."""
    repository = ListingCopyRepository.from_session(session)
    numbers = [0] * len(versions)
    remaining = list(range(len(versions)))
    while remaining:
        seen: set[uuid.UUID] = set()
        now: list[int] = []
        later: list[int] = []
        for i in remaining:
            (later if versions[i].copy_id in seen else now).append(i)
            seen.add(versions[i].copy_id)
        for status in (ListingCopyStatus.ready, ListingCopyStatus.draft):
            chosen = [i for i in now if versions[i].status == status]
            got = await repository.bump_versions([versions[i].copy_id for i in chosen], status)
            if len(got) != len(chosen):
                raise LookupError("a listing copy of this group no longer exists")
            for i in chosen:
                numbers[i] = got[versions[i].copy_id]
        remaining = later
    return numbers


async def _save_group(
    session: AsyncSession, batch_id: uuid.UUID, group: list[tuple[ItemWork, Outcomes]]
) -> int:
    """Record a group of finished items: one INSERT of their ledger rows, race-free version
    numbers in one UPDATE, one INSERT of their versions, one UPDATE of their items and one of
    the batch's counters. Same rows as `_save_item` for each; the number that succeeded."""
    organization_id: uuid.UUID | None = None
    settled: list[tuple[Prepared, Settled]] = []
    versions: list[_Version] = []
    outcomes: list[dict[str, Any]] = []
    for work, results in group:
        error = work.error
        copy_ids: list[str] = list(work.kept)
        cost: int | None = work.kept_cost
        mine: list[tuple[Prepared, Settled]] = []
        written: list[_Version] = []
        try:
            if error is None:
                for (copy_id, brief, prepared), (result, failure) in zip(
                    work.targets, results, strict=True
                ):
                    organization_id = prepared.organization_id
                    one = ai_service.settle(prepared, result, failure)
                    mine.append((prepared, one))
                    if one.error is not None:  # the failed generation's ledger row stays
                        error = one.error.detail
                        continue
                    generation = one.generation
                    assert generation is not None
                    assert isinstance(generation.parsed, ListingDraft)
                    columns = check_memo.checked(brief, generation.parsed)
                    written.append(_Version(copy_id, columns, generation, prepared.user_id))
                    copy_ids.append(str(copy_id))
                    if cost is not None:
                        spent = generation.record.cost_microusd
                        cost = None if spent is None else cost + spent
        except Exception as e:  # noqa: BLE001 -- recorded on the item, which can be retried
            error = f"Saving failed ({type(e).__name__}); retry the failed items."
            copy_ids, cost, mine, written = list(work.kept), None, [], []
        settled += mine
        versions += written
        outcomes.append(
            {
                "item_id": work.item_id,
                "copy_ids": copy_ids,
                "cost": cost,
                "item_status": BatchItemStatus.failed if error else BatchItemStatus.succeeded,
                "item_error": error,
            }
        )
    await ai_service.record_many(session, settled)
    numbers = await _number(session, versions)
    now = utc_now()
    await ListingCopyVersionRepository.from_session(session).insert_many(
        [
            {
                "id": uuid.uuid4(),
                "created_at": now,
                "modified_at": None,
                "deleted_at": None,
                "organization_id": organization_id,
                "listing_copy_id": version.copy_id,
                "version": number,
                **version.columns,
                "source": "generated",
                "provider": version.generation.response.provider,
                "generation_id": version.generation.record.id,
                "note": None,
                "created_by_user_id": version.user_id,
            }
            for version, number in zip(versions, numbers, strict=True)
        ]
    )
    await ContentBatchItemRepository.from_session(session).record_outcomes(outcomes)
    failed = sum(1 for o in outcomes if o["item_error"])
    await ContentBatchRepository.from_session(session).count_items(
        batch_id, done=len(outcomes) - failed, failed=failed
    )
    return len(outcomes) - failed


async def _save(
    session: AsyncSession, batch_id: uuid.UUID, group: list[tuple[ItemWork, Outcomes]]
) -> int:
    """The group in bulk; if the database refuses that (a copy deleted meanwhile, …), item by
    item, each in its own savepoint, so one bad item never takes the rest down with it."""
    try:
        async with session.begin_nested():
            return await _save_group(session, batch_id, group)
    except Exception:  # noqa: BLE001 -- the items are saved one by one below
        logger.warning("batch %s: group save failed, saving item by item", batch_id, exc_info=True)
    succeeded = 0
    for work, outcomes in group:
        succeeded += await _save_item(session, batch_id, work, outcomes)
    return succeeded


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
                succeeded += await _save(session, batch, group)
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
        # The bulk save writes versions without the writer: screen the products it wrote for.
        from flashfusion.safeguard.service import safeguard as safeguard_service  # cycle

        for product_id in await ContentBatchItemRepository.from_session(
            session
        ).succeeded_product_ids(batch.id):
            await safeguard_service.enqueue_screen_once(session, product_id, batch.organization_id)


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

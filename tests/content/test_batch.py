"""Listing-copy batches: created with `content_batch.create` and run by calling the job's DBOS
steps (start, run_chunk, finish) directly, as the workflow would (DBOS is not launched in
tests). Offline batches succeed item by item; with an OpenAI twin that fails every request the
errors are kept, the batch ends partial or failed, and retrying re-runs only the failed items; a
re-run step changes nothing; bad input names the item or row and writes nothing."""

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject
from flashfusion.catalog.registry import get_catalog
from flashfusion.content import tasks
from flashfusion.content.batch_service import (
    BATCH_JOB,
    MAX_BATCH_ITEMS,
    BatchItemInput,
    content_batch,
    parse_csv,
)
from flashfusion.content.draft import BrandVoiceProfile, Platform
from flashfusion.content.service import content as content_service
from flashfusion.content.writer import InvalidContentRequest, brief_for, subject_of
from flashfusion.exceptions import Conflict, NotPermitted, UnprocessableEntity
from flashfusion.kit.pagination import PaginationParams
from flashfusion.models import (
    AIGeneration,
    BatchItemStatus,
    BatchStatus,
    ContentBatch,
    ContentBatchItem,
    Job,
    ListingCopy,
    ListingCopyStatus,
    ListingCopyVersion,
    Organization,
    Role,
)
from tests.ai.test_service import OPENAI_MODEL, Twins, twins, use_twins
from tests.content.test_endpoints import offline_copy
from tests.fixtures.objects import Tenant

__all__ = ["twins"]  # the fixture, imported so that the tests here can use it

IDEAS = [
    BatchItemInput(idea="Coffee first", product_type="mug", keywords=("coffee mug", "gift")),
    BatchItemInput(idea="Plant mom", product_type="tshirt"),
    BatchItemInput(idea="  Dog   dad ", product_type="hoodie", keywords=("dog lover",)),
]
FAILED_PREFIX = "No AI provider could produce an answer.\n- openai (gpt-5.4-nano) "
FAILED_ADVICE = "\nWhat to do: Retry in a few minutes: the failures look temporary."


async def reload(session: AsyncSession, model: Any, id: uuid.UUID | None) -> Any:
    result: Any = await session.execute(
        select(model).where(model.id == id).execution_options(populate_existing=True)
    )
    return result.scalar_one()


async def items_of(session: AsyncSession, batch_id: uuid.UUID) -> list[ContentBatchItem]:
    rows = await session.execute(
        select(ContentBatchItem)
        .where(ContentBatchItem.batch_id == batch_id)
        .order_by(ContentBatchItem.position)
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def count(session: AsyncSession, model: Any, organization: Organization) -> int:
    result = await session.execute(
        select(func.count()).select_from(model).where(model.organization_id == organization.id)
    )
    return int(result.scalar_one())


async def batch_rows(session: AsyncSession, organization: Organization) -> dict[str, int]:
    return {
        model.__tablename__: await count(session, model, organization)
        for model in (
            ContentBatch,
            ContentBatchItem,
            Job,
            ListingCopy,
            ListingCopyVersion,
            AIGeneration,
        )
    }


async def create_batch(
    session: AsyncSession,
    tenant: Tenant,
    items: list[BatchItemInput] | None = None,
    *,
    platforms: list[str] | None = None,
    languages: list[str] | None = None,
) -> ContentBatch:
    return await content_batch.create(
        session,
        AuthSubject(tenant.owner),
        organization_id=tenant.organization.id,
        items=items if items is not None else IDEAS,
        platforms=platforms or ["etsy"],
        languages=languages or ["en"],
        brand_voice_id=None,
    )


async def run_job(batch_id: uuid.UUID) -> int:
    """The workflow's steps in order, as `generate_batch` runs them."""
    succeeded = 0
    for chunk in await tasks.start(str(batch_id)):
        succeeded += await tasks.run_chunk(str(batch_id), chunk)
    await tasks.finish(str(batch_id), None)
    return succeeded


def copy_subject(idea: str, product_type: str) -> str:
    return subject_of(None, idea, product_type)


# --- offline ------------------------------------------------------------------------------------


async def test_a_batch_of_ideas_is_written_offline_item_by_item(
    session: AsyncSession, tenant: Tenant
) -> None:
    batch = await create_batch(session, tenant, languages=["en", "de"])
    assert (batch.status, batch.total, batch.done, batch.failed) == (BatchStatus.queued, 3, 0, 0)
    assert (batch.platforms, batch.languages) == (["etsy"], ["en", "de"])
    job = await reload(session, Job, batch.job_id)
    assert (job.kind, job.arguments, job.organization_id) == (
        BATCH_JOB,
        [str(batch.id)],
        tenant.organization.id,
    )
    items = await items_of(session, batch.id)
    assert [(i.position, i.idea, i.product_type, i.keywords, i.status) for i in items] == [
        (0, "Coffee first", "mug-11oz", ["coffee mug", "gift"], BatchItemStatus.pending),
        (1, "Plant mom", "tshirt", [], BatchItemStatus.pending),
        (2, "Dog dad", "hoodie", ["dog lover"], BatchItemStatus.pending),
    ]

    chunks = await tasks.start(str(batch.id))
    assert chunks == [[str(i.id) for i in items]]
    assert (await reload(session, ContentBatch, batch.id)).status == BatchStatus.running
    assert await tasks.run_chunk(str(batch.id), chunks[0]) == 3
    await tasks.finish(str(batch.id), None)

    batch = await reload(session, ContentBatch, batch.id)
    assert (batch.status, batch.done, batch.failed) == (BatchStatus.succeeded, 3, 0)
    assert batch.completed_at is not None
    catalog = get_catalog()
    for item in await items_of(session, batch.id):
        assert (item.status, item.error, item.attempts, item.cost_microusd) == (
            BatchItemStatus.succeeded,
            None,
            1,
            0,
        )
        copies = [await reload(session, ListingCopy, uuid.UUID(i)) for i in item.listing_copy_ids]
        # One copy per platform × language, in that order, each with exactly one version.
        assert [(c.platform, c.language) for c in copies] == [("etsy", "en"), ("etsy", "de")]
        for copy in copies:
            assert (copy.idea, copy.product_type, copy.subject) == (
                item.idea,
                item.product_type,
                copy_subject(item.idea, item.product_type),
            )
            assert (copy.status, copy.latest_version) == (ListingCopyStatus.ready, 1)
            assert copy.created_by_user_id == tenant.owner.id
            [version] = (
                await session.execute(
                    select(ListingCopyVersion).where(ListingCopyVersion.listing_copy_id == copy.id)
                )
            ).scalars()
            brief = brief_for(
                catalog,
                idea=item.idea,
                product_type_key=item.product_type,
                platform=Platform.etsy,
                language=copy.language,
                brand_voice=BrandVoiceProfile(),
                keywords=list(item.keywords),
                audience=None,
                occasion=None,
            )
            assert (version.source, version.provider, version.violations) == (
                "generated",
                "offline",
                [],
            )
            assert version.fields == offline_copy(brief)
            generation = await reload(session, AIGeneration, version.generation_id)
            assert (generation.provider, generation.cost_microusd, generation.listing_copy_id) == (
                "offline",
                0,
                copy.id,
            )
    assert await batch_rows(session, tenant.organization) == {
        "content_batches": 1,
        "content_batch_items": 3,
        "jobs": 1,
        "listing_copies": 6,
        "listing_copy_versions": 6,
        "ai_generations": 6,
    }


async def test_re_running_a_step_for_saved_items_does_nothing(
    session: AsyncSession, tenant: Tenant
) -> None:
    batch = await create_batch(session, tenant)
    [chunk] = await tasks.start(str(batch.id))
    assert await tasks.run_chunk(str(batch.id), chunk) == 3
    before = await batch_rows(session, tenant.organization)
    items_before = [
        (i.status, i.attempts, i.listing_copy_ids) for i in await items_of(session, batch.id)
    ]

    # DBOS re-runs a step whose result it did not record (a crash right after the step).
    assert await tasks.run_chunk(str(batch.id), chunk) == 0
    await tasks.finish(str(batch.id), None)

    assert await batch_rows(session, tenant.organization) == before
    assert [
        (i.status, i.attempts, i.listing_copy_ids) for i in await items_of(session, batch.id)
    ] == items_before
    batch = await reload(session, ContentBatch, batch.id)
    assert (batch.status, batch.done, batch.failed) == (BatchStatus.succeeded, 3, 0)
    latest = (
        await session.execute(
            select(ListingCopy.latest_version).where(
                ListingCopy.organization_id == tenant.organization.id
            )
        )
    ).scalars()
    assert list(latest) == [1, 1, 1]


# --- a failing provider ---------------------------------------------------------------------------


async def test_every_item_fails_on_a_failing_provider_then_a_retry_succeeds(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    await use_twins(session, tenant.organization, twins, ["openai"])
    twins.state("openai").faults.server_error = 10**6
    batch = await create_batch(session, tenant)

    assert await run_job(batch.id) == 0

    batch = await reload(session, ContentBatch, batch.id)
    assert (batch.status, batch.done, batch.failed) == (BatchStatus.failed, 0, 3)
    failed = await items_of(session, batch.id)
    for item in failed:
        assert (item.status, item.attempts, item.listing_copy_ids) == (
            BatchItemStatus.failed,
            1,
            [],
        )
        assert item.error is not None
        assert item.error.startswith(FAILED_PREFIX), item.error
        assert item.error.endswith(FAILED_ADVICE), item.error
    # Each failure is on the ledger with the same explanation.
    ledger = (
        await session.execute(
            select(AIGeneration).where(AIGeneration.organization_id == tenant.organization.id)
        )
    ).scalars()
    assert sorted((g.status, g.provider, g.error) for g in ledger) == sorted(
        ("failed", "openai", item.error) for item in failed
    )
    assert await count(session, ListingCopyVersion, tenant.organization) == 0

    # The provider recovers (and its circuit resets): retry the failed items.
    twins.state("openai").faults.server_error = 0
    twins.clock.advance(30)
    twins.reset_breakers()
    requests = twins.requests("openai")
    batch = await content_batch.retry_failed(session, AuthSubject(tenant.owner), batch)
    assert (batch.status, batch.done, batch.failed) == (BatchStatus.queued, 0, 0)
    assert [(i.status, i.error) for i in await items_of(session, batch.id)] == [
        (BatchItemStatus.pending, None)
    ] * 3

    assert await run_job(batch.id) == 3

    batch = await reload(session, ContentBatch, batch.id)
    assert (batch.status, batch.done, batch.failed) == (BatchStatus.succeeded, 3, 0)
    assert twins.requests("openai") == requests + 3
    for item in await items_of(session, batch.id):
        assert (item.status, item.error, item.attempts) == (BatchItemStatus.succeeded, None, 2)
        [copy_id] = item.listing_copy_ids
        copy = await reload(session, ListingCopy, uuid.UUID(copy_id))
        assert (copy.status, copy.latest_version) == (ListingCopyStatus.ready, 1)
        version = (
            await session.execute(
                select(ListingCopyVersion).where(ListingCopyVersion.listing_copy_id == copy.id)
            )
        ).scalar_one()
        assert version.provider == "openai"
        generation = await reload(session, AIGeneration, version.generation_id)
        assert generation.model == OPENAI_MODEL
        assert item.cost_microusd == generation.cost_microusd
        assert generation.cost_microusd is not None
        assert generation.cost_microusd > 0


async def test_a_partial_batch_retries_only_its_failed_items(
    session: AsyncSession, tenant: Tenant, twins: Twins, monkeypatch: pytest.MonkeyPatch
) -> None:
    await use_twins(session, tenant.organization, twins, ["openai"])
    monkeypatch.setattr(tasks, "CHUNK", 2)  # two durable steps: items 1–2, then item 3
    batch = await create_batch(session, tenant)
    first, second = await tasks.start(str(batch.id))
    assert (len(first), len(second)) == (2, 1)

    twins.state("openai").faults.server_error = 10**6
    assert await tasks.run_chunk(str(batch.id), first) == 0
    # The provider comes back before the second step.
    twins.state("openai").faults.server_error = 0
    twins.clock.advance(30)
    assert await tasks.run_chunk(str(batch.id), second) == 1
    await tasks.finish(str(batch.id), None)

    batch = await reload(session, ContentBatch, batch.id)
    assert (batch.status, batch.done, batch.failed) == (BatchStatus.partial, 1, 2)
    items = await items_of(session, batch.id)
    assert [i.status for i in items] == [
        BatchItemStatus.failed,
        BatchItemStatus.failed,
        BatchItemStatus.succeeded,
    ]
    assert all(i.error and i.error.startswith(FAILED_PREFIX) for i in items[:2])
    [kept] = items[2].listing_copy_ids
    kept_version = (
        await session.execute(
            select(ListingCopyVersion).where(ListingCopyVersion.listing_copy_id == uuid.UUID(kept))
        )
    ).scalar_one()

    batch = await content_batch.retry_failed(session, AuthSubject(tenant.owner), batch)
    assert (batch.status, batch.done, batch.failed) == (BatchStatus.queued, 1, 0)
    chunks = await tasks.start(str(batch.id))
    assert chunks == [[str(items[0].id), str(items[1].id)]]  # only the failed ones
    requests = twins.requests("openai")
    assert await tasks.run_chunk(str(batch.id), chunks[0]) == 2
    await tasks.finish(str(batch.id), None)

    assert twins.requests("openai") == requests + 2
    batch = await reload(session, ContentBatch, batch.id)
    assert (batch.status, batch.done, batch.failed) == (BatchStatus.succeeded, 3, 0)
    items = await items_of(session, batch.id)
    assert [(i.status, i.attempts) for i in items] == [
        (BatchItemStatus.succeeded, 2),
        (BatchItemStatus.succeeded, 2),
        (BatchItemStatus.succeeded, 1),
    ]
    # The item that had succeeded was not written again.
    assert items[2].listing_copy_ids == [kept]
    assert [
        v.id
        for v in (
            await session.execute(
                select(ListingCopyVersion).where(
                    ListingCopyVersion.listing_copy_id == uuid.UUID(kept)
                )
            )
        ).scalars()
    ] == [kept_version.id]

    # Nothing failed is left to retry.
    with pytest.raises(Conflict) as nothing:
        await content_batch.retry_failed(session, AuthSubject(tenant.owner), batch)
    assert nothing.value.detail == "The batch has no failed items to retry."


async def test_a_running_batch_cannot_be_retried(session: AsyncSession, tenant: Tenant) -> None:
    batch = await create_batch(session, tenant)
    await tasks.start(str(batch.id))
    batch = await reload(session, ContentBatch, batch.id)
    with pytest.raises(Conflict) as running:
        await content_batch.retry_failed(session, AuthSubject(tenant.owner), batch)
    assert running.value.detail == (
        "The batch is still running; retry its failed items when it ends."
    )


async def test_a_failed_item_leaves_no_empty_listing_copy_behind(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    await use_twins(session, tenant.organization, twins, ["openai"])
    twins.state("openai").faults.server_error = 10**6
    batch = await create_batch(session, tenant, IDEAS[:1])
    await run_job(batch.id)
    assert (await reload(session, ContentBatch, batch.id)).status == BatchStatus.failed

    # What the listings endpoint does: every listed copy must have a newest version.
    copies, _ = await content_service.list(
        session,
        AuthSubject(tenant.owner),
        organization_id=tenant.organization.id,
        product_id=None,
        platform=None,
        language=None,
        pagination=PaginationParams(page=1, limit=100),
    )
    latest = await content_service.latest_versions(session, copies)
    assert [(c.latest_version, c.id in latest) for c in copies] == []


async def test_a_retry_does_not_rewrite_the_targets_of_an_item_that_succeeded(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    await use_twins(session, tenant.organization, twins, ["openai"])
    # One item, two targets called in order (en, then de): en's three tries fail, de answers.
    twins.state("openai").faults.server_error = 3
    batch = await create_batch(session, tenant, IDEAS[:1], languages=["en", "de"])
    await run_job(batch.id)
    [item] = await items_of(session, batch.id)
    assert item.status == BatchItemStatus.failed
    [german] = item.listing_copy_ids
    assert (await reload(session, ListingCopy, uuid.UUID(german))).language == "de"

    batch = await reload(session, ContentBatch, batch.id)
    await content_batch.retry_failed(session, AuthSubject(tenant.owner), batch)
    requests = twins.requests("openai")
    await run_job(batch.id)

    [item] = await items_of(session, batch.id)
    assert item.status == BatchItemStatus.succeeded
    assert (await reload(session, ListingCopy, uuid.UUID(german))).latest_version == 1
    assert twins.requests("openai") == requests + 1  # only the English listing


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (
            [IDEAS[0], BatchItemInput(idea="   ", product_type="tshirt")],
            "items[1].idea: is empty; type the phrase or idea the listing is about "
            "(e.g. 'Coffee first').",
        ),
        (
            [*IDEAS, BatchItemInput(idea="Moon child", product_type="spaceship")],
            "items[3].product_type: unknown product type 'spaceship'; list them with "
            "`GET /api/v1/catalog` or `flashfusion studio catalog`",
        ),
        (
            [IDEAS[0], BatchItemInput(idea="Moon child", product_type=None)],
            "items[1].product_type: say which product the idea goes on (e.g. 'mug').",
        ),
        (
            [BatchItemInput(idea="x" * 201, product_type="mug")],
            "items[0].idea: is 201 characters; keep it to 200 or fewer.",
        ),
        (
            [BatchItemInput(idea=f"Idea {n}", product_type="mug") for n in range(1001)],
            "items: 1001 items; a batch takes at most 1000, so split it.",
        ),
        ([], "items: give at least one idea or product."),
        (
            [BatchItemInput(product_id=uuid.uuid4())],
            "items[0].product_id: no such product in this workspace.",
        ),
    ],
    ids=["empty idea", "unknown type", "no type", "long idea", "too many", "none", "no product"],
)
async def test_bad_items_are_refused_and_nothing_is_written(
    session: AsyncSession, tenant: Tenant, items: list[BatchItemInput], message: str
) -> None:
    before = await batch_rows(session, tenant.organization)

    # UnprocessableEntity: InvalidContentRequest, or the catalog's UnknownProductTypeError.
    with pytest.raises(UnprocessableEntity) as refused:
        await create_batch(session, tenant, items)

    assert (refused.value.status_code, refused.value.detail) == (422, message)
    assert await batch_rows(session, tenant.organization) == before


async def test_a_batch_of_exactly_the_limit_is_accepted(
    session: AsyncSession, tenant: Tenant
) -> None:
    items = [BatchItemInput(idea=f"Idea {n}", product_type="mug") for n in range(MAX_BATCH_ITEMS)]
    batch = await create_batch(session, tenant, items)
    assert (batch.total, await count(session, ContentBatchItem, tenant.organization)) == (
        1000,
        1000,
    )


@pytest.mark.parametrize(
    ("platforms", "languages", "message"),
    [
        (
            ["etsy", "ebay"],
            ["en"],
            "platforms: 'ebay' is not a platform; use one of etsy, amazon, shopify, tiktok_shop, "
            "pinterest, instagram, facebook",
        ),
        (
            ["etsy"],
            ["en", "xx"],
            "languages: 'xx' is not a supported language; use one of en, es, fr, de, it, pt, nl, "
            "ja, ko, zh",
        ),
    ],
)
async def test_bad_targets_are_refused_and_nothing_is_written(
    session: AsyncSession, tenant: Tenant, platforms: list[str], languages: list[str], message: str
) -> None:
    before = await batch_rows(session, tenant.organization)
    with pytest.raises(InvalidContentRequest) as refused:
        await create_batch(session, tenant, platforms=platforms, languages=languages)
    assert refused.value.detail == message
    assert await batch_rows(session, tenant.organization) == before


async def test_a_viewer_cannot_create_or_retry_a_batch(
    session: AsyncSession, tenant: Tenant
) -> None:
    before = await batch_rows(session, tenant.organization)
    with pytest.raises(NotPermitted):
        await content_batch.create(
            session,
            AuthSubject(tenant.users[Role.viewer]),
            organization_id=tenant.organization.id,
            items=IDEAS,
            platforms=["etsy"],
            languages=["en"],
            brand_voice_id=None,
        )
    assert await batch_rows(session, tenant.organization) == before


def test_parse_csv_reads_rows_with_or_without_a_header() -> None:
    text = (
        "idea,product_type,keywords\n"
        "Coffee first,mug,coffee mug;gift for her\n"
        "\n"
        '"Plant mom, always",tshirt, plants | green \n'
        "Dog dad,hoodie\n"
    )
    assert parse_csv(text) == [
        BatchItemInput(
            idea="Coffee first",
            product_type="mug",
            keywords=("coffee mug", "gift for her"),
            row=2,
        ),
        BatchItemInput(
            idea="Plant mom, always", product_type="tshirt", keywords=("plants", "green"), row=4
        ),
        BatchItemInput(idea="Dog dad", product_type="hoodie", keywords=(), row=5),
    ]
    assert parse_csv("Coffee first,mug\n") == [
        BatchItemInput(idea="Coffee first", product_type="mug", row=1)
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "idea,product_type\nCoffee first,mug\nPlant mom\n",
            "row 3: needs two columns, idea and product_type (e.g. 'Coffee first,mug').",
        ),
        (
            "Coffee first,mug\nPlant mom,  \n",
            "row 2: needs two columns, idea and product_type (e.g. 'Coffee first,mug').",
        ),
        (
            "Coffee first,mug\n\nDog dad\n",
            "row 3: needs two columns, idea and product_type (e.g. 'Coffee first,mug').",
        ),
        (
            "idea,product_type\n\n",
            "file: no rows; write one idea per line as 'idea,product_type' "
            "(e.g. 'Coffee first,mug').",
        ),
        (
            "",
            "file: no rows; write one idea per line as 'idea,product_type' "
            "(e.g. 'Coffee first,mug').",
        ),
    ],
)
def test_parse_csv_errors_name_the_row(text: str, message: str) -> None:
    with pytest.raises(InvalidContentRequest) as refused:
        parse_csv(text)
    assert refused.value.detail == message


# --- how a group is saved -------------------------------------------------------------------------


async def versions_of(session: AsyncSession, organization: Organization) -> list[dict[str, Any]]:
    """Every version of the workspace, as the columns a save decides (not ids or times)."""
    rows = (
        await session.execute(
            select(ListingCopyVersion, ListingCopy.idea, ListingCopy.language)
            .join(ListingCopy, ListingCopy.id == ListingCopyVersion.listing_copy_id)
            .where(ListingCopyVersion.organization_id == organization.id)
            .order_by(ListingCopy.idea, ListingCopy.language, ListingCopyVersion.version)
            .execution_options(populate_existing=True)
        )
    ).all()
    return [
        {
            "idea": idea,
            "language": language,
            "version": v.version,
            "fields": v.fields,
            "source": v.source,
            "violations": v.violations,
            "fixes": v.fixes,
            "seo_score": v.seo_score,
            "voice_score": v.voice_score,
            "provider": v.provider,
            "note": v.note,
            "created_by_user_id": v.created_by_user_id,
        }
        for v, idea, language in rows
    ]


async def ledger_of(session: AsyncSession, organization: Organization) -> list[dict[str, Any]]:
    rows = (
        await session.execute(
            select(AIGeneration, ListingCopy.idea, ListingCopy.language)
            .join(ListingCopy, ListingCopy.id == AIGeneration.listing_copy_id)
            .where(AIGeneration.organization_id == organization.id)
            .order_by(ListingCopy.idea, ListingCopy.language, AIGeneration.cache_hit)
            .execution_options(populate_existing=True)
        )
    ).all()
    return [
        {
            "idea": idea,
            "language": language,
            **{
                column: getattr(g, column)
                for column in (
                    "user_id",
                    "task",
                    "provider",
                    "model",
                    "status",
                    "input_tokens",
                    "output_tokens",
                    "images",
                    "cost_microusd",
                    "price_version",
                    "cache_hit",
                    "repaired",
                    "prompt_name",
                    "prompt_version",
                    "prompt_sha256",
                    "product_id",
                    "error",
                )
            },
            # The timings are the run's own; everything else about each attempt is decided.
            "fallback_path": [
                {k: v for k, v in a.items() if k != "latency_ms"} for a in g.fallback_path
            ],
        }
        for g, idea, language in rows
    ]


async def items_summary(session: AsyncSession, batch_id: uuid.UUID) -> list[tuple[Any, ...]]:
    return [
        (i.position, i.status, i.error, i.attempts, i.cost_microusd, len(i.listing_copy_ids))
        for i in await items_of(session, batch_id)
    ]


async def test_a_group_saved_in_bulk_writes_the_rows_of_the_item_by_item_save(
    session: AsyncSession,
    tenant: Tenant,
    other_tenant: Tenant,
    twins: Twins,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same two batches (the second a cached repeat) in two workspaces: one saved by the
    bulk path, one with the bulk path refused so that every item is saved on its own."""
    outcomes: dict[str, Any] = {}
    for label, workspace, bulk in (("bulk", tenant, True), ("single", other_tenant, False)):
        if not bulk:

            async def refuse(*args: Any) -> int:
                raise RuntimeError("bulk save disabled for this test")

            monkeypatch.setattr(tasks, "_save_group", refuse)
        await use_twins(session, workspace.organization, twins, ["openai"])
        first = await create_batch(session, workspace, languages=["en", "de"])
        assert await run_job(first.id) == 3
        again = await create_batch(session, workspace, languages=["en", "de"])
        assert await run_job(again.id) == 3
        outcomes[label] = {
            "versions": await versions_of(session, workspace.organization),
            "ledger": await ledger_of(session, workspace.organization),
            "items": [
                await items_summary(session, first.id),
                await items_summary(session, again.id),
            ],
            "batches": [
                (b.status, b.done, b.failed)
                for b in [
                    await reload(session, ContentBatch, first.id),
                    await reload(session, ContentBatch, again.id),
                ]
            ],
            "cache": await count_cache(session, workspace.organization),
        }
    bulk, single = outcomes["bulk"], outcomes["single"]
    # The owners differ (each batch's creator); everything else is the same.
    for outcome, workspace in ((bulk, tenant), (single, other_tenant)):
        assert {v.pop("created_by_user_id") for v in outcome["versions"]} == {workspace.owner.id}
        assert {g.pop("user_id") for g in outcome["ledger"]} == {workspace.owner.id}
    assert bulk == single
    assert [(v["idea"], v["language"], v["version"]) for v in bulk["versions"]] == [
        (idea, language, number)
        for idea in ("Coffee first", "Dog dad", "Plant mom")
        for language in ("de", "en")
        for number in (1, 2)
    ]
    # The repeat came from the cache: the same copy, checked the same, at no cost.
    assert [g["cache_hit"] for g in bulk["ledger"]] == [False, True] * 6
    assert [g["cost_microusd"] == 0 for g in bulk["ledger"]] == [False, True] * 6
    for first_version, repeat in zip(bulk["versions"][::2], bulk["versions"][1::2], strict=True):
        assert {k: v for k, v in repeat.items() if k != "version"} == {
            k: v for k, v in first_version.items() if k != "version"
        }
    assert bulk["batches"] == [(BatchStatus.succeeded, 3, 0)] * 2
    assert bulk["cache"] == 6


async def count_cache(session: AsyncSession, organization: Organization) -> int:
    from flashfusion.models import AICacheEntry

    result = await session.execute(
        select(func.count()).where(AICacheEntry.organization_id == organization.id)
    )
    return int(result.scalar_one())


async def test_a_cached_repeat_is_not_checked_again(
    session: AsyncSession, tenant: Tenant, twins: Twins, monkeypatch: pytest.MonkeyPatch
) -> None:
    await use_twins(session, tenant.organization, twins, ["openai"])
    checks: list[str] = []
    real_check = tasks.check

    def counted(draft: Any, brief: Any, rules: Any) -> Any:
        checks.append(brief.idea)
        return real_check(draft, brief, rules)

    monkeypatch.setattr(tasks, "check", counted)
    monkeypatch.setattr(tasks, "check_memo", tasks.CheckMemo())
    assert await run_job((await create_batch(session, tenant)).id) == 3
    assert sorted(checks) == ["Coffee first", "Dog dad", "Plant mom"]
    requests = twins.requests("openai")
    assert await run_job((await create_batch(session, tenant)).id) == 3
    assert (twins.requests("openai"), len(checks)) == (requests, 3)
    assert [v["version"] for v in await versions_of(session, tenant.organization)] == [1, 2] * 3


def test_the_check_memo_gives_what_check_gives_in_copies_of_its_own() -> None:
    from flashfusion.content import rules as platform_rules
    from flashfusion.content.draft import ListingDraft
    from flashfusion.content.writer import check

    catalog = get_catalog()
    brief = brief_for(
        catalog,
        idea="Coffee first",
        product_type_key="mug-11oz",
        platform=Platform.etsy,
        language="en",
        brand_voice=BrandVoiceProfile(tone=["warm"], banned_words=["cheap"]),
        keywords=["coffee mug"],
        audience=None,
        occasion=None,
    )
    # Too many tags and a banned word: the check fixes and reports something.
    draft = ListingDraft(
        title="Cheap coffee first mug",
        description="A mug for coffee.",
        tags=[f"tag {n}" for n in range(20)],
    )
    expected = check(draft, brief, platform_rules.get_rules(Platform.etsy))
    memo = tasks.CheckMemo(max_entries=1)
    first = memo.checked(brief, draft)
    assert first == {
        "fields": expected.draft.model_dump(),
        "fixes": expected.fixes,
        "violations": expected.violations,
        "seo_score": expected.seo_score,
        "voice_score": expected.voice_score,
    }
    assert expected.fixes  # the example does exercise the fixer
    first["fields"]["tags"].clear()
    assert memo.checked(brief, draft) == {**first, "fields": expected.draft.model_dump()}
    # Another brief is another entry, and the memo keeps one: the first is checked anew.
    other = brief.model_copy(update={"language": "de"})
    memo.checked(other, draft)
    assert len(memo._entries) == 1


async def test_the_same_idea_twice_in_a_batch_gives_one_copy_two_versions(
    session: AsyncSession, tenant: Tenant
) -> None:
    batch = await create_batch(session, tenant, [IDEAS[1], IDEAS[1]])
    assert await run_job(batch.id) == 2
    first, second = await items_of(session, batch.id)
    assert first.listing_copy_ids == second.listing_copy_ids
    copy = await reload(session, ListingCopy, uuid.UUID(first.listing_copy_ids[0]))
    assert (copy.latest_version, copy.status) == (2, ListingCopyStatus.ready)
    numbers = (
        await session.execute(
            select(ListingCopyVersion.version).where(ListingCopyVersion.listing_copy_id == copy.id)
        )
    ).scalars()
    assert sorted(numbers) == [1, 2]


async def test_a_group_the_database_refuses_is_saved_item_by_item(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    """A copy deleted while its provider thinks: the bulk insert breaks its foreign key, so the
    group is saved one item at a time; that item fails (and is retryable), the others stand."""
    import asyncio

    from sqlalchemy import delete

    from flashfusion.db import unit_of_work

    await use_twins(session, tenant.organization, twins, ["openai"])
    batch = await create_batch(session, tenant)
    [chunk] = await tasks.start(str(batch.id))
    works = await tasks._prepare(batch.id, [uuid.UUID(i) for i in chunk])
    gone = works[1].targets[0][0]
    gate = asyncio.Semaphore(tasks.CONCURRENCY)
    group = [(work, await tasks._call_item(work, gate)) for work in works]
    await session.execute(delete(ListingCopy).where(ListingCopy.id == gone))

    async with unit_of_work() as saving:
        assert await tasks._save(saving, batch.id, group) == 2

    summary = await items_summary(session, batch.id)
    assert [s[:4] for s in summary] == [
        (0, BatchItemStatus.succeeded, None, 1),
        (1, BatchItemStatus.failed, "Saving failed (IntegrityError); retry the failed items.", 1),
        (2, BatchItemStatus.succeeded, None, 1),
    ]
    assert [s[5] for s in summary] == [1, 0, 1]
    assert summary[1][4] is None
    await tasks.finish(str(batch.id), None)
    batch = await reload(session, ContentBatch, batch.id)
    assert (batch.status, batch.done, batch.failed) == (BatchStatus.partial, 2, 1)
    # Nothing of the failed item was written: no ledger row, no version.
    assert await count(session, AIGeneration, tenant.organization) == 2
    assert await count(session, ListingCopyVersion, tenant.organization) == 2

    await content_batch.retry_failed(session, AuthSubject(tenant.owner), batch)
    assert await run_job(batch.id) == 1
    summary = await items_summary(session, batch.id)
    assert [s[1:4] for s in summary] == [
        (BatchItemStatus.succeeded, None, 1),
        (BatchItemStatus.succeeded, None, 2),
        (BatchItemStatus.succeeded, None, 1),
    ]
    assert await count(session, ListingCopyVersion, tenant.organization) == 3

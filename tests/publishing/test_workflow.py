"""The publish ledger and workflow against an in-memory platform: each product version is
published once per channel whatever retries, timeouts after the platform committed and auth
failures happen; updates and unpublishes go through the same ledger; the Printify handshake
publishes to the linked channel through its own listing and tells Printify where it went."""

import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.connector.base import (
    ConnectorAuthError,
    RetryableConnectorError,
    TerminalConnectorError,
)
from flashfusion.models import (
    AuditEvent,
    ChannelListing,
    ConnectionStatus,
    IntentAction,
    IntentState,
    Job,
    ListingState,
    PublishIntent,
    Role,
    SafeguardReport,
)
from flashfusion.models.base import utc_now
from flashfusion.publishing import tasks
from flashfusion.publishing.service import PUBLISH_STARTED_TOPIC, publishing
from flashfusion.publishing.state import IllegalTransition, move_intent, move_listing
from flashfusion.safeguard.service import safeguard as safeguard_service
from tests.fixtures.objects import Tenant
from tests.publishing.fakes import (
    FakeClock,
    World,
    create_connection,
    publishable,
    run_jobs,
    world,
)
from tests.safeguard.pipeline_fakes import FakeChecks, FakeMark, add_copy, fake_checks

__all__ = ["fake_checks", "world"]


def owner(tenant: Tenant, role: Role = Role.owner) -> AuthSubject[Subject]:
    return AuthSubject(tenant.users[role])


async def reload(session: AsyncSession, model: type, id: uuid.UUID) -> object:
    result = await session.execute(
        select(model).where(model.id == id).execution_options(populate_existing=True)  # type: ignore[attr-defined]
    )
    return result.scalar_one()


async def listing_of(
    session: AsyncSession, product_id: uuid.UUID, connection_id: uuid.UUID
) -> ChannelListing:
    result = await session.execute(
        select(ChannelListing)
        .where(
            ChannelListing.product_id == product_id, ChannelListing.connection_id == connection_id
        )
        .execution_options(populate_existing=True)
    )
    return result.scalar_one()


async def intents_of(session: AsyncSession, listing_id: uuid.UUID) -> list[PublishIntent]:
    result = await session.execute(
        select(PublishIntent)
        .where(PublishIntent.listing_id == listing_id)
        .order_by(PublishIntent.created_at)
        .execution_options(populate_existing=True)
    )
    return list(result.scalars())


async def count(session: AsyncSession, model: type) -> int:
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_a_publish_is_queued_run_and_recorded_once(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    product = await publishable(session, tenant.organization)
    etsy = await create_connection(session, tenant.organization.id)

    result = await publishing.publish(
        session, owner(tenant), product_ids=[product.id], connection_ids=[etsy.id]
    )

    [item] = result.items
    assert (item.outcome, item.message) == ("queued", None)
    listing = await listing_of(session, product.id, etsy.id)
    assert (listing.state, listing.desired_version, listing.published_version) == (
        ListingState.queued,
        1,
        None,
    )
    assert listing.external_id == f"ff-{listing.id.hex}"
    [intent] = await intents_of(session, listing.id)
    assert (intent.action, intent.version, intent.state, intent.payload_hash) == (
        IntentAction.publish,
        1,
        IntentState.queued,
        listing.payload_hash,
    )
    job = await session.get(Job, intent.job_id)
    assert job is not None
    assert (job.kind, job.arguments, job.organization_id) == (
        "publishing.run_intent",
        [str(intent.id)],
        tenant.organization.id,
    )
    assert await run_jobs(session) == ["succeeded"]

    listing = await listing_of(session, product.id, etsy.id)
    [remote] = world.platform.items.values()
    assert (listing.state, listing.published_version, listing.remote_id, listing.remote_url) == (
        ListingState.published,
        1,
        remote.remote_id,
        remote.url,
    )
    assert remote.title == "Sunrise tee for Etsy"
    assert remote.external_id == listing.external_id
    [intent] = await intents_of(session, listing.id)
    assert (intent.state, intent.remote_id, intent.attempts) == (
        IntentState.succeeded,
        remote.remote_id,
        1,
    )
    # A first publish of a new listing cannot have an item on the platform yet: it creates
    # without a look-up (publishing/tasks.py `_first_create`), create_sent_at marked first.
    assert world.platform.calls == ["create"]
    assert listing.create_sent_at is not None
    audit = (
        await session.execute(select(AuditEvent).where(AuditEvent.action == "publishing.publish"))
    ).scalar_one()
    assert audit.details["outcomes"] == {"queued": 1}

    # The same content again: nothing new is queued and nothing is published twice.
    again = await publishing.publish(
        session, owner(tenant), product_ids=[product.id], connection_ids=[etsy.id]
    )
    assert [i.outcome for i in again.items] == ["already_published"]
    assert len(await intents_of(session, listing.id)) == 1
    assert await run_jobs(session) == []
    assert world.platform.created["etsy"] == 1


async def test_a_timeout_after_the_platform_committed_is_retried_without_a_duplicate(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    product = await publishable(session, tenant.organization)
    etsy = await create_connection(session, tenant.organization.id)
    world.platform.commit_then_timeout = 1
    await publishing.publish(
        session, owner(tenant), product_ids=[product.id], connection_ids=[etsy.id]
    )

    clock = FakeClock()
    assert await run_jobs(session, clock) == ["succeeded"]

    assert world.platform.created["etsy"] == 1
    assert len(world.platform.items) == 1
    # The retry waited the first backoff (2 s), found the item by our external id and made it
    # match instead of creating a second one.
    assert clock.sleeps == [2.0]
    # The first try created without looking (nothing could be there); the retry, with
    # create_sent_at set, looks first.
    assert world.platform.calls == ["create", "find", "update"]
    listing = await listing_of(session, product.id, etsy.id)
    assert (listing.state, listing.remote_id) == (
        ListingState.published,
        next(iter(world.platform.items)),
    )
    [intent] = await intents_of(session, listing.id)
    assert intent.attempts == 2


async def test_a_step_run_twice_changes_nothing(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    product = await publishable(session, tenant.organization)
    etsy = await create_connection(session, tenant.organization.id)
    await publishing.publish(
        session, owner(tenant), product_ids=[product.id], connection_ids=[etsy.id]
    )
    listing = await listing_of(session, product.id, etsy.id)
    [intent] = await intents_of(session, listing.id)

    # DBOS re-runs a step whose checkpoint it did not write: each step again, in turn.
    assert (await tasks.start(str(intent.id)))["status"] == "run"
    assert (await tasks.start(str(intent.id)))["status"] == "run"
    first = await tasks.attempt(str(intent.id))
    second = await tasks.attempt(str(intent.id))
    assert (first["status"], second["status"]) == ("done", "done")
    assert first["remote_id"] == second["remote_id"]
    assert await tasks.finish(str(intent.id), second) == "succeeded"
    assert await tasks.finish(str(intent.id), second) == "succeeded"
    # A whole stale run of a finished intent stops at once.
    assert await tasks.run(str(intent.id), FakeClock()) == "succeeded"
    assert world.platform.created["etsy"] == 1
    # The re-run of `attempt` counts a second try: it reads the item recorded by the first.
    assert world.platform.calls == ["create", "get", "update"]


async def test_retryable_failures_back_off_then_fail_with_the_fix(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    product = await publishable(session, tenant.organization)
    etsy = await create_connection(session, tenant.organization.id)
    down = RetryableConnectorError(
        "server_error", "The platform is having trouble; try again later.", retry_after=30.0
    )
    world.platform.fail["create"] = [down] * 14
    await publishing.publish(
        session, owner(tenant), product_ids=[product.id], connection_ids=[etsy.id]
    )

    clock = FakeClock()
    assert await run_jobs(session, clock) == ["failed"]

    # max(Retry-After 30 s, backoff 2, 4, 8, … s capped at 600), 13 waits between 14 tries.
    assert clock.sleeps == [30.0] * 4 + [32.0, 64.0, 128.0, 256.0, 512.0] + [600.0] * 4
    listing = await listing_of(session, product.id, etsy.id)
    assert (listing.state, listing.error_code, listing.error_kind) == (
        ListingState.failed,
        "server_error",
        "retryable",
    )
    assert listing.error_action == (
        "The platform is having trouble; try again later. FlashFusion tried 14 times; retry later."
    )
    assert world.platform.created["etsy"] == 0

    # A retry is a new job for the same intent; this time the platform answers.
    outcome, intent = await publishing.retry(session, owner(tenant), listing.id)
    assert outcome == "queued"
    assert intent is not None
    assert (intent.state, intent.error_code) == (IntentState.queued, None)
    jobs = (await session.execute(select(Job).where(Job.kind == "publishing.run_intent"))).scalars()
    assert len(list(jobs)) == 2
    assert await run_jobs(session) == ["succeeded"]
    listing = await listing_of(session, product.id, etsy.id)
    assert (listing.state, listing.error_code, listing.published_version) == (
        ListingState.published,
        None,
        1,
    )
    assert world.platform.created["etsy"] == 1


@pytest.mark.parametrize("reported", [False, True])
async def test_a_lost_create_answer_is_resumed_from_what_was_recorded(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks, reported: bool
) -> None:
    product = await publishable(session, tenant.organization)
    etsy = await create_connection(session, tenant.organization.id)
    world.platform.commit_then_timeout = 1
    world.platform.report_created = reported
    before = utc_now()
    await publishing.publish(
        session, owner(tenant), product_ids=[product.id], connection_ids=[etsy.id]
    )
    assert await run_jobs(session, FakeClock()) == ["succeeded"]
    listing = await listing_of(session, product.id, etsy.id)
    assert listing.create_sent_at is not None
    assert before <= listing.create_sent_at <= utc_now()
    assert world.platform.created["etsy"] == 1
    if reported:
        # The id came with ctx.created before the answer was lost: the retry reads that item.
        assert world.platform.calls == ["create", "get", "update"]
        assert world.platform.find_options == []
    else:
        # No id: the retry looks again, told when the lost create was sent.
        assert world.platform.calls == ["create", "find", "update"]
        assert [o.get("create_sent_at") for o in world.platform.find_options] == [
            listing.create_sent_at.timestamp(),
        ]


async def test_waiting_for_quota_is_not_a_failed_try(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    product = await publishable(session, tenant.organization)
    etsy = await create_connection(session, tenant.organization.id)
    busy = RetryableConnectorError(
        "rate_limited", "The platform asked FlashFusion to slow down.", retry_after=3.0
    )
    down = RetryableConnectorError("server_error", "The platform is having trouble.")
    # 20 quota waits and 13 failed tries: one short of giving up, so it publishes.
    world.platform.fail["create"] = [busy] * 20 + [down] * 13
    await publishing.publish(
        session, owner(tenant), product_ids=[product.id], connection_ids=[etsy.id]
    )

    clock = FakeClock()
    assert await run_jobs(session, clock) == ["succeeded"]
    # Retry-After as asked for each 429; the failed tries back off 2, 4, … s on their own.
    assert (
        clock.sleeps
        == [3.0] * 20 + [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0] + [600.0] * 4
    )
    assert world.platform.created["etsy"] == 1
    [intent] = await intents_of(session, (await listing_of(session, product.id, etsy.id)).id)
    assert intent.attempts == 34


async def test_a_refusal_fails_with_the_platforms_reason_and_fix(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    product = await publishable(session, tenant.organization)
    etsy = await create_connection(session, tenant.organization.id)
    world.platform.fail["create"] = [
        TerminalConnectorError(
            "etsy.shipping_profile_missing",
            "Create a shipping profile in Etsy and choose it in the connection's settings.",
            platform_message="shipping_profile_id is required",
            status=400,
        )
    ]
    await publishing.publish(
        session, owner(tenant), product_ids=[product.id], connection_ids=[etsy.id]
    )

    clock = FakeClock()
    assert await run_jobs(session, clock) == ["failed"]

    assert clock.sleeps == []
    listing = await listing_of(session, product.id, etsy.id)
    assert (
        listing.state,
        listing.error_code,
        listing.error_message,
        listing.error_action,
        listing.error_kind,
    ) == (
        ListingState.failed,
        "etsy.shipping_profile_missing",
        "shipping_profile_id is required",
        "Create a shipping profile in Etsy and choose it in the connection's settings.",
        "terminal",
    )
    [cell] = await publishing.status_board(
        session, owner(tenant), organization_id=tenant.organization.id
    )
    assert (cell.state, cell.error_action, cell.retryable, cell.connection_name) == (
        "failed",
        listing.error_action,
        True,
        "My etsy shop",
    )


async def test_an_auth_failure_needs_a_reconnect_and_loses_nothing(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    first = await publishable(session, tenant.organization, title="Sunrise tee")
    second = await publishable(session, tenant.organization, title="Sunset tee")
    etsy = await create_connection(session, tenant.organization.id)
    world.connections.open_error = ConnectorAuthError(
        "invalid_grant", "The grant was revoked.", needs_reconnect=True
    )
    await publishing.publish(
        session, owner(tenant), product_ids=[first.id, second.id], connection_ids=[etsy.id]
    )

    assert await run_jobs(session) == ["needs_action", "needs_action"]

    assert world.connections.auth_failures == [(etsy.id, "invalid_grant")]
    refreshed = await reload(session, type(etsy), etsy.id)
    assert refreshed.status == ConnectionStatus.needs_reconnect  # type: ignore[attr-defined]
    # One batch: whichever runs first meets the revoked grant, the other the inactive connection.
    codes = []
    for product in (first, second):
        listing = await listing_of(session, product.id, etsy.id)
        assert (listing.state, listing.error_action) == (
            ListingState.needs_action,
            "Reconnect Etsy on the Connections page, then retry: the work stays queued.",
        )
        codes.append(listing.error_code)
        [intent] = await intents_of(session, listing.id)
        assert intent.state == IntentState.needs_action
    assert sorted(codes) == ["connection_not_active", "invalid_grant"]
    assert world.platform.calls == []

    # Reconnected: the retries publish both, once each.
    refreshed.status = ConnectionStatus.active  # type: ignore[attr-defined]
    world.connections.open_error = None
    for product in (first, second):
        listing = await listing_of(session, product.id, etsy.id)
        assert (await publishing.retry(session, owner(tenant), listing.id))[0] == "queued"
    assert await run_jobs(session) == ["succeeded", "succeeded"]
    assert world.platform.created["etsy"] == 2


async def test_a_block_is_refused_with_its_report_kept_and_an_override_lets_it_through(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    fake_checks.marks = [FakeMark("good morning")]
    blocked = await publishable(session, tenant.organization, title="Good Morning tee")
    fine = await publishable(session, tenant.organization, title="Sunrise tee")
    etsy = await create_connection(session, tenant.organization.id)

    result = await publishing.publish(
        session, owner(tenant), product_ids=[blocked.id, fine.id], connection_ids=[etsy.id]
    )

    refused, queued = result.items
    assert (refused.product_id, refused.outcome, refused.findings, refused.listing) == (
        blocked.id,
        "refused",
        3,
        None,
    )
    assert refused.message is not None
    assert refused.message.startswith("Publishing refused: the safeguard report is BLOCK")
    assert (queued.product_id, queued.outcome) == (fine.id, "queued")
    reports = (
        await session.execute(
            select(SafeguardReport).where(SafeguardReport.product_id == blocked.id)
        )
    ).scalars()
    [report] = list(reports)
    assert (
        await session.execute(
            select(func.count())
            .select_from(ChannelListing)
            .where(ChannelListing.product_id == blocked.id)
        )
    ).scalar_one() == 0

    await safeguard_service.override(
        session, owner(tenant, Role.admin), report.id, "Licensed from the owner, contract 2026-114."
    )
    again = await publishing.publish(
        session, owner(tenant), product_ids=[blocked.id], connection_ids=[etsy.id]
    )
    assert [i.outcome for i in again.items] == ["queued"]


async def test_missing_copy_or_render_is_refused_naming_what_to_do(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    no_copy = await publishable(session, tenant.organization, title="Plain tee", copy=False)
    no_photo = await publishable(session, tenant.organization, title="Bare tee", mockups=False)
    etsy = await create_connection(session, tenant.organization.id)

    result = await publishing.publish(
        session, owner(tenant), product_ids=[no_copy.id, no_photo.id], connection_ids=[etsy.id]
    )

    assert [(i.outcome, i.message) for i in result.items] == [
        (
            "refused",
            "Generate listing copy for Etsy first: product 'Plain tee' has none to publish on "
            "Etsy.",
        ),
        (
            "refused",
            "Render mockups first: Etsy needs at least one listing photo of product 'Bare tee'.",
        ),
    ]
    assert await count(session, ChannelListing) == 0
    assert await count(session, PublishIntent) == 0


async def test_changed_content_is_published_as_an_update_of_the_same_listing(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    product = await publishable(session, tenant.organization)
    etsy = await create_connection(session, tenant.organization.id)
    await publishing.publish(
        session, owner(tenant), product_ids=[product.id], connection_ids=[etsy.id]
    )
    await run_jobs(session)
    listing = await listing_of(session, product.id, etsy.id)
    assert (await publishing.update(session, owner(tenant), listing.id))[0] == "already_published"

    await add_copy(
        session,
        product,
        versions=[{"title": "Sunrise tee, now softer", "description": "Softer.", "tags": []}],
        language="de",
    )
    outcome, intent = await publishing.update(session, owner(tenant), listing.id)

    assert outcome == "queued"
    assert intent is not None
    assert (intent.action, intent.version) == (IntentAction.update, 2)
    # Asking again while it is queued joins it.
    again = await publishing.publish(
        session, owner(tenant), product_ids=[product.id], connection_ids=[etsy.id]
    )
    assert [(i.outcome, i.intent.id if i.intent else None) for i in again.items] == [
        ("already_queued", intent.id)
    ]
    assert await run_jobs(session) == ["succeeded"]
    listing = await listing_of(session, product.id, etsy.id)
    assert (listing.state, listing.published_version, listing.desired_version) == (
        ListingState.published,
        2,
        2,
    )
    [remote] = world.platform.items.values()
    assert remote.title == "Sunrise tee, now softer"
    assert world.platform.created["etsy"] == 1


async def test_unpublish_takes_it_down_and_a_new_publish_puts_it_back_once(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    product = await publishable(session, tenant.organization)
    etsy = await create_connection(session, tenant.organization.id)
    await publishing.publish(
        session, owner(tenant), product_ids=[product.id], connection_ids=[etsy.id]
    )
    await run_jobs(session)
    listing = await listing_of(session, product.id, etsy.id)

    outcome, intent = await publishing.unpublish(session, owner(tenant), listing.id)
    assert outcome == "queued"
    assert intent is not None
    assert (intent.action, intent.version) == (IntentAction.unpublish, 1)
    assert (await publishing.unpublish(session, owner(tenant), listing.id))[0] == "already_queued"
    assert await run_jobs(session) == ["succeeded"]

    listing = await listing_of(session, product.id, etsy.id)
    [remote] = world.platform.items.values()
    assert (listing.state, listing.published_version, remote.state) == (
        ListingState.unpublished,
        None,
        "inactive",
    )
    assert (await publishing.unpublish(session, owner(tenant), listing.id))[0] == (
        "already_unpublished"
    )

    again = await publishing.publish(
        session, owner(tenant), product_ids=[product.id], connection_ids=[etsy.id]
    )
    assert [i.outcome for i in again.items] == ["queued"]
    assert await run_jobs(session) == ["succeeded"]
    listing = await listing_of(session, product.id, etsy.id)
    assert (listing.state, listing.published_version) == (ListingState.published, 2)
    assert world.platform.created["etsy"] == 1
    assert world.platform.calls[-2:] == ["get", "update"]


async def test_the_printify_handshake_publishes_to_the_linked_channel_once(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    product = await publishable(session, tenant.organization)
    etsy = await create_connection(session, tenant.organization.id, "etsy")
    printify = await create_connection(session, tenant.organization.id, "printify", linked=etsy)

    result = await publishing.publish(
        session, owner(tenant), product_ids=[product.id], connection_ids=[printify.id]
    )
    assert [i.outcome for i in result.items] == ["queued"]
    [intent] = await intents_of(session, (await listing_of(session, product.id, printify.id)).id)

    # The webhook arrives while the workflow waits: it is told, by its job's workflow id.
    assert await tasks.start(str(intent.id)) == {"status": "run", "action": "publish"}
    pending = await tasks.attempt(str(intent.id))
    assert pending["status"] == "pending"
    from flashfusion.connector.base import WebhookEvent

    await publishing.handle_event(
        session,
        printify,
        WebhookEvent(
            event_id="evt-1",
            topic="product:publish:started",
            occurred_at=None,
            resource_type="product",
            resource_id=pending["remote_id"],
            payload={},
        ),
    )
    job = await session.get(Job, intent.job_id)
    assert job is not None
    topic = f"{PUBLISH_STARTED_TOPIC}:{intent.id}"
    assert world.notified == [
        (job.workflow_id, {"event_id": "evt-1", "remote_id": pending["remote_id"]}, topic)
    ]

    clock = FakeClock(messages={topic: world.notified[0][1]})

    async def run_channel_jobs() -> None:
        await run_jobs(session, FakeClock())

    clock.on_sleep = run_channel_jobs
    outcome = await tasks.handshake(str(intent.id), pending, clock)
    assert outcome["status"] == "done"
    assert await tasks.finish(str(intent.id), outcome) == "succeeded"

    etsy_listing = await listing_of(session, product.id, etsy.id)
    printify_listing = await listing_of(session, product.id, printify.id)
    assert (etsy_listing.state, printify_listing.state) == (
        ListingState.published,
        ListingState.published,
    )
    assert world.platform.created == {"printify": 1, "etsy": 1}
    assert world.platform.completed == [
        (printify_listing.remote_id, etsy_listing.remote_id, etsy_listing.remote_url)
    ]
    assert printify_listing.remote_url == etsy_listing.remote_url
    assert clock.received == [topic]

    # Published again (changed content): Etsy is updated, never listed twice.
    await add_copy(
        session,
        product,
        versions=[{"title": "New title", "description": "D.", "tags": []}],
        language="fr",
    )
    again = await publishing.publish(
        session, owner(tenant), product_ids=[product.id], connection_ids=[printify.id]
    )
    assert [i.outcome for i in again.items] == ["queued"]
    second = FakeClock(on_sleep=run_channel_jobs)  # no webhook: it asks Printify instead
    assert await run_jobs(session, second) == ["succeeded"]
    assert world.platform.created == {"printify": 1, "etsy": 1}
    assert len(world.platform.completed) == 2
    etsy_listing = await listing_of(session, product.id, etsy.id)
    assert etsy_listing.published_version == 2


async def test_a_failed_channel_fails_the_handshake_and_unlocks_printify(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    product = await publishable(session, tenant.organization)
    etsy = await create_connection(session, tenant.organization.id, "etsy")
    printify = await create_connection(session, tenant.organization.id, "printify", linked=etsy)
    # Printify creates its product; only the Etsy listing is refused.
    original = world.channel.create_listing

    async def failing(ctx, payload):  # type: ignore[no-untyped-def]
        raise TerminalConnectorError("etsy.taxonomy_missing", "Choose an Etsy category.")

    world.channel.create_listing = failing  # type: ignore[method-assign]
    await publishing.publish(
        session, owner(tenant), product_ids=[product.id], connection_ids=[printify.id]
    )

    async def run_channel_jobs() -> None:
        await run_jobs(session, FakeClock())

    assert await run_jobs(session, FakeClock(on_sleep=run_channel_jobs)) == ["failed"]
    printify_listing = await listing_of(session, product.id, printify.id)
    assert (printify_listing.state, printify_listing.error_code, printify_listing.error_action) == (
        ListingState.failed,
        "etsy.taxonomy_missing",
        "Choose an Etsy category.",
    )
    assert world.platform.failed == [
        (printify_listing.remote_id, "Etsy: etsy.taxonomy_missing: Choose an Etsy category.")
    ]
    world.channel.create_listing = original  # type: ignore[method-assign]


def test_only_the_allowed_transitions_exist() -> None:
    listing = ChannelListing(state=ListingState.queued)
    for target in (ListingState.published, ListingState.unpublished, ListingState.failed):
        with pytest.raises(IllegalTransition):
            move_listing(listing, target)
    move_listing(listing, ListingState.publishing)
    move_listing(listing, ListingState.publishing)  # a step run twice
    with pytest.raises(IllegalTransition, match="cannot go from publishing to queued"):
        move_listing(listing, ListingState.queued)
    move_listing(listing, ListingState.published)
    move_listing(listing, ListingState.unpublishing)
    move_listing(listing, ListingState.unpublished)
    with pytest.raises(IllegalTransition):
        move_listing(listing, ListingState.published)
    move_listing(listing, ListingState.queued)
    assert listing.state == ListingState.queued

    intent = PublishIntent(state=IntentState.succeeded)
    for target in (IntentState.queued, IntentState.running, IntentState.failed):
        with pytest.raises(IllegalTransition):
            move_intent(intent, target)
    failed = PublishIntent(state=IntentState.failed)
    move_intent(failed, IntentState.queued)
    with pytest.raises(IllegalTransition):
        move_intent(failed, IntentState.succeeded)


async def test_two_requests_racing_for_one_version_leave_one_intent(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    """The interleaving of two requests that both read the listing before either wrote:
    both get-or-create the listing and insert the same (listing, action, version) intent;
    the unique keys (INSERT … ON CONFLICT DO NOTHING) leave one of each."""
    from flashfusion.publishing.repository import ChannelListingRepository, PublishIntentRepository

    product = await publishable(session, tenant.organization)
    etsy = await create_connection(session, tenant.organization.id)
    listings = ChannelListingRepository.from_session(session)
    values = {
        "organization_id": tenant.organization.id,
        "product_id": product.id,
        "connection_id": etsy.id,
        "platform": "etsy",
    }
    (first, made_first), (second, made_second) = (
        await listings.get_or_create(**values),
        await listings.get_or_create(**values),
    )
    assert (first.id, made_first, made_second) == (second.id, True, False)
    intents = PublishIntentRepository.from_session(session)
    key = {
        "organization_id": tenant.organization.id,
        "listing_id": first.id,
        "action": IntentAction.publish,
        "version": 1,
        "payload_hash": "a" * 64,
    }
    (one, created_one), (two, created_two) = (
        await intents.insert_once(**key),
        await intents.insert_once(**{**key, "payload_hash": "b" * 64}),
    )
    assert (one.id, created_one, created_two, two.payload_hash) == (two.id, True, False, "a" * 64)
    assert await count(session, PublishIntent) == 1

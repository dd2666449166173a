"""The Printify handshake's waits: the webhook's wake-up message is written in the webhook
job's own transaction (committed with it, never from a second connection while that transaction
holds the database), the wait for the linked channel ends when the channel's workflow announces
its outcome (with a time-scaled, backing-off look at the intent in case that is missed), and
handshake runs live on a queue of their own so they never hold a slot the channel needs."""

import uuid
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject
from flashfusion.config import get_settings
from flashfusion.connector.base import WebhookEvent
from flashfusion.db import unit_of_work
from flashfusion.jobs import engine
from flashfusion.jobs.registry import get_kind
from flashfusion.models import ChannelListing, Job, ListingState, PublishIntent
from flashfusion.publishing import tasks
from flashfusion.publishing.service import (
    HANDSHAKE_JOB,
    PUBLISH_STARTED_TOPIC,
    RUN_JOB,
    SETTLED_EVENT,
    dbos_notify,
    publishing,
)
from tests.fixtures.objects import Tenant
from tests.publishing.fakes import FakeClock, World, create_connection, publishable, run_jobs, world
from tests.safeguard.pipeline_fakes import FakeChecks, fake_checks

__all__ = ["fake_checks", "world"]


class Rollback(Exception):
    """Raised to roll a unit of work back."""


def started(remote_id: str, event_id: str = "evt-1") -> WebhookEvent:
    return WebhookEvent(
        event_id=event_id,
        topic="product:publish:started",
        occurred_at=None,
        resource_type="product",
        resource_id=remote_id,
        payload={},
    )


async def notifications(session: AsyncSession, database_kind: str, workflow_id: str) -> list[Any]:
    table = "dbos.notifications" if database_kind == "postgresql" else "notifications"
    rows = await session.execute(
        text(f"SELECT topic, message_uuid FROM {table} WHERE destination_uuid = :id"),
        {"id": workflow_id},
    )
    return [tuple(row) for row in rows]


async def printify_pending(
    session: AsyncSession, tenant: Tenant
) -> tuple[Any, Any, PublishIntent, dict[str, Any]]:
    """A product published to a Printify connection linked to Etsy, its run waiting for the
    `product:publish:started` webhook."""
    product = await publishable(session, tenant.organization)
    etsy = await create_connection(session, tenant.organization.id, "etsy")
    printify = await create_connection(session, tenant.organization.id, "printify", linked=etsy)
    await publishing.publish(
        session,
        AuthSubject(tenant.owner),
        product_ids=[product.id],
        connection_ids=[printify.id],
    )
    found = (await session.execute(select(PublishIntent))).scalar_one()
    assert (await tasks.start(str(found.id)))["status"] == "run"
    pending = await tasks.attempt(str(found.id))
    assert pending["status"] == "pending"
    return product, printify, found, pending


async def test_the_wake_up_is_written_in_the_webhook_transaction_and_only_once(
    session: AsyncSession,
    tenant: Tenant,
    world: World,
    fake_checks: FakeChecks,
    monkeypatch: pytest.MonkeyPatch,
    database_kind: str,
) -> None:
    # The real DBOS message through the unit of work's own connection (not the test fake).
    monkeypatch.setattr(publishing, "notify", dbos_notify)
    product, printify, intent, pending = await printify_pending(session, tenant)
    job = await session.get(Job, intent.job_id)
    assert job is not None
    assert job.kind == HANDSHAKE_JOB
    topic = f"{PUBLISH_STARTED_TOPIC}:{intent.id}"

    # Handled, then rolled back (the webhook job failed later): no message is left behind.
    seen: list[Any] = []

    async def handled_then_failed() -> None:
        async with unit_of_work() as unit:
            await publishing.handle_event(unit, printify, started(pending["remote_id"]))
            seen.extend(await notifications(unit, database_kind, job.workflow_id))
            raise Rollback

    with pytest.raises(Rollback):
        await handled_then_failed()
    assert seen == [(topic, f"webhook:{printify.id}:evt-1::{job.workflow_id}")]
    assert await notifications(session, database_kind, job.workflow_id) == []

    # Committed: exactly one message, however often the (at-least-once) step runs.
    for _ in range(2):
        async with unit_of_work() as unit:
            await publishing.handle_event(unit, printify, started(pending["remote_id"]))
    assert await notifications(session, database_kind, job.workflow_id) == [
        (topic, f"webhook:{printify.id}:evt-1::{job.workflow_id}")
    ]


async def test_a_wake_up_for_a_vanished_run_leaves_the_event_handled(
    session: AsyncSession,
    tenant: Tenant,
    world: World,
    fake_checks: FakeChecks,
    monkeypatch: pytest.MonkeyPatch,
    database_kind: str,
) -> None:
    monkeypatch.setattr(publishing, "notify", dbos_notify)
    _, printify, intent, pending = await printify_pending(session, tenant)
    job = await session.get(Job, intent.job_id)
    assert job is not None
    job.workflow_id = f"{HANDSHAKE_JOB}:{uuid.uuid4()}"  # no such DBOS workflow
    await session.flush()
    async with unit_of_work() as unit:
        await publishing.handle_event(unit, printify, started(pending["remote_id"]))
        listing = await unit.get(ChannelListing, intent.listing_id)
        assert listing is not None
        listing.error_message = "still writable"  # the transaction survived the refusal
    assert await notifications(session, database_kind, job.workflow_id) == []
    listing = await session.get(ChannelListing, intent.listing_id)
    assert listing is not None
    await session.refresh(listing)
    assert listing.error_message == "still writable"


async def test_the_handshake_wakes_on_the_channels_event_and_backs_off_otherwise(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    product, printify, intent, pending = await printify_pending(session, tenant)
    channel = await tasks.link_channel(str(intent.id))
    etsy_intent = await session.get(PublishIntent, uuid.UUID(channel["intent_id"]))
    assert etsy_intent is not None
    etsy_job = await session.get(Job, etsy_intent.job_id)
    assert etsy_job is not None
    # The channel's own publish is an ordinary run on the `publish` queue.
    assert etsy_job.kind == RUN_JOB
    assert channel == {
        "status": "wait",
        "intent_id": str(etsy_intent.id),
        "workflow_id": etsy_job.workflow_id,
        "time_scale": 1.0,
    }

    # Nothing happens on the channel: it looks at the intent after 2 s, 4 s, 8 s, ... (each a
    # wait on the channel workflow's event), at most 60 s apart, and gives up after two hours.
    idle = FakeClock()
    outcome = await tasks.wait_for_channel(channel, idle)
    waits = [seconds for _, _, seconds in idle.events]
    assert waits[:7] == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert sum(waits) >= tasks.CHANNEL_WAIT_SECONDS > sum(waits[:-1])
    assert {(w, k) for w, k, _ in idle.events} == {(etsy_job.workflow_id, SETTLED_EVENT)}
    assert idle.sleeps == []
    assert outcome["status"] == "wait"

    # The channel's run settles during the first wait: one wait, then the Etsy listing is used.
    async def channel_runs() -> None:
        assert await run_jobs(session) == ["succeeded"]

    woken = FakeClock(on_sleep=channel_runs)
    outcome = await tasks.wait_for_channel(channel, woken)
    assert [seconds for _, _, seconds in woken.events] == [2.0]
    etsy_listing = await session.get(ChannelListing, etsy_intent.listing_id)
    assert etsy_listing is not None
    await session.refresh(etsy_listing)
    assert etsy_listing.state == ListingState.published
    assert outcome == {
        "status": "use",
        "remote_id": etsy_listing.remote_id,
        "url": etsy_listing.remote_url,
    }


async def test_sandbox_waits_are_time_scaled(
    session: AsyncSession,
    tenant: Tenant,
    world: World,
    fake_checks: FakeChecks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "SANDBOX_TIME_SCALE", 60.0)
    _, printify, intent, _ = await printify_pending(session, tenant)
    printify.sandbox = True
    await session.flush()
    channel = await tasks.link_channel(str(intent.id))
    assert channel["time_scale"] == 60.0
    clock = FakeClock()
    await tasks.wait_for_channel(channel, clock)
    waits = [seconds for _, _, seconds in clock.events]
    # 2 s / 60 is below the 0.25 s floor; 60 s / 60 = 1 s apart at most; 7,200 s / 60 in all.
    assert waits[:4] == [0.25, 0.5, 1.0, 1.0]
    assert sum(waits) >= 120.0 > sum(waits[:-1])


def test_handshake_runs_have_their_own_queue_with_room_for_a_publish_window() -> None:
    run, handshake = get_kind(RUN_JOB), get_kind(HANDSHAKE_JOB)
    assert run is not None
    assert handshake is not None
    assert (run.queue, handshake.queue) == ("publish", "publish_handshake")
    # Printify's 200 publishes per 30 minutes can all be in flight at once.
    assert engine.QUEUES["publish_handshake"]["worker_concurrency"] == 200
    for name in ("publish", "publish_handshake", "sync", "render"):
        assert engine.QUEUES[name]["polling_interval_sec"] == engine.QUICK_POLL_SECONDS == 0.2

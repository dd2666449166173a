"""A bulk publish: every (product, connection) gets the outcome a one-item request would give
(queued, already queued, already published, refused with the reason), and the request's own
SQL does not grow with the number of products (listings, intents, version bumps and jobs are
written in bulk; the payload reads are preloaded). Against the in-memory platform of
`fakes.py`."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.catalog.service import catalog as catalog_service
from flashfusion.models import (
    AuditEvent,
    ChannelListing,
    Job,
    PlatformConnection,
    Product,
    PublishIntent,
    Role,
)
from flashfusion.publishing.service import HANDSHAKE_JOB, RUN_JOB, PublishResult, publishing
from flashfusion.safeguard.service import safeguard as safeguard_service
from tests.fixtures.objects import Tenant
from tests.publishing.fakes import World, create_connection, publishable, run_jobs, world
from tests.safeguard.pipeline_fakes import FakeChecks, FakeMark, fake_checks

__all__ = ["fake_checks", "world"]


def owner(tenant: Tenant) -> AuthSubject[Subject]:
    return AuthSubject(tenant.users[Role.owner])


async def linked_pair(
    session: AsyncSession, tenant: Tenant
) -> tuple[PlatformConnection, PlatformConnection]:
    """Printify linked to Etsy, as the benchmark publishes: (printify, etsy)."""
    etsy = await create_connection(session, tenant.organization.id)
    printify = await create_connection(session, tenant.organization.id, "printify", linked=etsy)
    return printify, etsy


# DBOS's own rows of one enqueued workflow, written through our connection (so that they
# commit with the intent): dbos 3.4's `enqueue_in_transaction` takes one workflow a call
# (`init_workflow_with_connection`: workflow_status, workflow_input); its batch insert
# (`init_workflows`) opens a transaction of its own, which would break "enqueued in the same
# transaction as the row that asks for it".
DBOS_TABLES = ("workflow_status", "workflow_input")


class Statements:
    """SQL statements sent on the test's connection, except those made inside the safeguard
    gate (a batch, but it screens each product whose report is missing, as here on a first
    publish; tests/safeguard/test_gate_many.py holds its own statements) and the catalog
    lookup (one at a time; its own tests hold its queries); DBOS's enqueue rows are counted
    apart."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self.dbos = 0
        self.paused = 0
        self.texts: list[str] = []
        self._wrap(monkeypatch, safeguard_service, "gate_many")
        self._wrap(monkeypatch, catalog_service, "effective")

    def _wrap(self, monkeypatch: pytest.MonkeyPatch, target: Any, name: str) -> None:
        original = getattr(target, name)

        async def paused(*args: Any, **kwargs: Any) -> Any:
            self.paused += 1
            try:
                return await original(*args, **kwargs)
            finally:
                self.paused -= 1

        monkeypatch.setattr(target, name, paused)

    def _seen(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.paused:
            return
        text = " ".join(statement.split()[:3])
        if any(table in text for table in DBOS_TABLES):
            self.dbos += 1
        else:
            self.count += 1
            self.texts.append(text)

    @contextmanager
    def counting(self, session: AsyncSession) -> Iterator[None]:
        engine = session.get_bind()
        self.count, self.dbos, self.texts = 0, 0, []
        event.listen(engine, "before_cursor_execute", self._seen)
        try:
            yield
        finally:
            event.remove(engine, "before_cursor_execute", self._seen)


async def counted_publish(
    session: AsyncSession,
    tenant: Tenant,
    statements: Statements,
    products: list[Product],
    connections: list[PlatformConnection],
) -> tuple[PublishResult, int]:
    with statements.counting(session):
        result = await publishing.publish(
            session,
            owner(tenant),
            product_ids=[p.id for p in products],
            connection_ids=[c.id for c in connections],
        )
        await session.flush()  # the audit record, still pending
    queued = sum(1 for i in result.items if i.outcome == "queued")
    assert statements.dbos == 2 * queued
    return result, statements.count


async def test_the_requests_own_statements_do_not_grow_with_the_products(
    session: AsyncSession,
    tenant: Tenant,
    world: World,
    fake_checks: FakeChecks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    printify, etsy = await linked_pair(session, tenant)
    few = [await publishable(session, tenant.organization, title=f"Few {i}") for i in range(3)]
    many = [await publishable(session, tenant.organization, title=f"Many {i}") for i in range(12)]
    statements = Statements(monkeypatch)

    first_few, n_few = await counted_publish(session, tenant, statements, few, [printify, etsy])
    few_texts = list(statements.texts)
    first_many, n_many = await counted_publish(session, tenant, statements, many, [printify, etsy])

    assert [i.outcome for i in first_few.items] == ["queued"] * 6
    assert [i.outcome for i in first_many.items] == ["queued"] * 24
    # The same statements whatever the number of products (a per-item query would add 9+).
    assert n_many == n_few, "\n".join(few_texts) + "\n----\n" + "\n".join(statements.texts)
    assert n_few <= 30, few_texts

    # Asked again: nothing new, and again no statement per item.
    again_few, n_again_few = await counted_publish(session, tenant, statements, few, [printify])
    again_many, n_again_many = await counted_publish(session, tenant, statements, many, [printify])
    assert [i.outcome for i in again_few.items] == ["already_queued"] * 3
    assert [i.outcome for i in again_many.items] == ["already_queued"] * 12
    assert n_again_many == n_again_few, statements.texts

    jobs = (await session.execute(select(Job).order_by(Job.created_at))).scalars().all()
    intents = {i.id: i for i in (await session.execute(select(PublishIntent))).scalars()}
    assert len(jobs) == len(intents) == 30
    for job in jobs:
        intent = intents[uuid.UUID(job.arguments[0])]
        assert intent.job_id == job.id
        assert job.workflow_id == f"{job.kind}:{job.id}"
    kinds = sorted(j.kind for j in jobs)
    assert kinds == sorted([HANDSHAKE_JOB] * 15 + [RUN_JOB] * 15)


async def test_a_mixed_bulk_publish_gives_each_item_its_own_outcome(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    fake_checks.marks = [FakeMark("good morning")]
    printify, etsy = await linked_pair(session, tenant)
    org = tenant.organization
    new = await publishable(session, org, title="New tee")
    queued = await publishable(session, org, title="Queued tee")
    live = await publishable(session, org, title="Live tee")
    bare = await publishable(session, org, title="Bare tee", mockups=False)
    blocked = await publishable(session, org, title="Good Morning tee")

    earlier = await publishing.publish(
        session, owner(tenant), product_ids=[live.id], connection_ids=[etsy.id]
    )
    assert [i.outcome for i in earlier.items] == ["queued"]
    assert await run_jobs(session) == ["succeeded"]
    waiting = await publishing.publish(
        session, owner(tenant), product_ids=[queued.id], connection_ids=[printify.id, etsy.id]
    )
    assert [i.outcome for i in waiting.items] == ["queued", "queued"]
    published_intent = earlier.items[0].intent
    assert published_intent is not None

    result = await publishing.publish(
        session,
        owner(tenant),
        product_ids=[new.id, queued.id, live.id, bare.id, blocked.id],
        connection_ids=[printify.id, etsy.id],
    )

    no_photo = "Render mockups first: Etsy needs at least one listing photo of product 'Bare tee'."
    got = [(i.product_id, i.connection_id, i.outcome, i.message) for i in result.items]
    assert got[:8] == [
        (new.id, printify.id, "queued", None),
        (new.id, etsy.id, "queued", None),
        (queued.id, printify.id, "already_queued", None),
        (queued.id, etsy.id, "already_queued", None),
        (live.id, printify.id, "queued", None),
        (live.id, etsy.id, "already_published", None),
        # Printify's own payload is complete, but the linked Etsy listing it makes is not.
        (bare.id, printify.id, "refused", no_photo),
        (bare.id, etsy.id, "refused", no_photo),
    ]
    assert [(i.product_id, i.outcome, i.findings, i.listing) for i in result.items[8:]] == [
        (blocked.id, "refused", 3, None),
        (blocked.id, "refused", 3, None),
    ]
    assert all(
        (i.message or "").startswith("Publishing refused: the safeguard report is BLOCK")
        for i in result.items[8:]
    )
    # The already-queued items answer with the intents queued before, the published one with
    # its settled intent; every new intent has its job.
    assert [i.intent.id for i in result.items[2:4] if i.intent] == [
        i.intent.id for i in waiting.items if i.intent
    ]
    assert result.items[5].intent is not None
    assert result.items[5].intent.id == published_intent.id
    for item in (result.items[0], result.items[1], result.items[4]):
        assert item.intent is not None
        assert item.listing is not None
        assert (item.intent.listing_id, item.intent.version) == (item.listing.id, 1)
        job = await session.get(Job, item.intent.job_id)
        assert job is not None
        assert job.arguments == [str(item.intent.id)]
    listed = (
        await session.execute(
            select(func.count())
            .select_from(ChannelListing)
            .where(ChannelListing.product_id.in_([bare.id, blocked.id]))
        )
    ).scalar_one()
    assert listed == 0
    audits = (
        (await session.execute(select(AuditEvent).where(AuditEvent.action == "publishing.publish")))
        .scalars()
        .all()
    )
    [audit] = [a for a in audits if str(blocked.id) in a.details["products"]]
    assert audit.details["outcomes"] == {
        "already_published": 1,
        "already_queued": 2,
        "queued": 3,
        "refused": 4,
    }

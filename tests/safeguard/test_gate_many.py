"""The publishing gate for a batch: per product exactly what `gate` gives (the same report,
screen, override, hold and refusal, and the same rows written), read in the same statements
whatever the number of products; a product of another workspace stops the batch."""

import uuid
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.content.draft import BrandVoiceProfile
from flashfusion.exceptions import ResourceNotFound
from flashfusion.models import (
    AuditEvent,
    BrandVoice,
    Product,
    Role,
    SafeguardHold,
    SafeguardReport,
    ScreenTrigger,
    utc_now,
)
from flashfusion.safeguard.repository import SafeguardHoldRepository
from flashfusion.safeguard.service import GateResult, PublishingBlocked
from flashfusion.safeguard.service import safeguard as safeguard_service
from flashfusion.safeguard.types import Verdict
from tests.fixtures.objects import Tenant
from tests.safeguard.pipeline_fakes import FakeChecks, FakeMark, add_copy, fake_checks, make_product

__all__ = ["fake_checks"]

REASON = "Licensed from the owner, contract 2026-114."
HOLD_MARKS = [{"mark": "GOOD MORNING", "serial_number": "90000001", "office": "uspto"}]
CLEAN = (("title", "Sunrise", {}),)
MARKED = (("title", "Good Morning", {}),)


def owner(tenant: Tenant) -> AuthSubject[Subject]:
    return AuthSubject(tenant.users[Role.owner])


async def hold(session: AsyncSession, product: Product, report: SafeguardReport) -> None:
    await SafeguardHoldRepository.from_session(session).hold(
        organization_id=product.organization_id,
        product_id=product.id,
        report_id=report.id,
        import_id="imp-1",
        marks=HOLD_MARKS,
    )


def signature(outcome: GateResult | PublishingBlocked, existing: set[uuid.UUID]) -> Any:
    """An outcome as plain values; a report the gate wrote (a fresh id each run) by what it
    says."""
    report = outcome.report
    key: Any = (
        report.id
        if report.id in existing
        else ("new", report.trigger, report.verdict, report.subject_hash)
    )
    if isinstance(outcome, PublishingBlocked):
        return (
            "blocked",
            key,
            outcome.status_code,
            outcome.detail,
            [f.as_dict() for f in outcome.findings],
            outcome.hold.id if outcome.hold else None,
        )
    return ("passed", key, outcome.screened, outcome.override.id if outcome.override else None)


async def written(session: AsyncSession, existing: set[uuid.UUID]) -> Any:
    """The reports, audit events and holds as a gate leaves them (new report ids left out)."""
    reports = (await session.execute(select(SafeguardReport))).scalars().all()
    audits = (await session.execute(select(AuditEvent))).scalars().all()
    holds = (await session.execute(select(SafeguardHold))).scalars().all()
    return (
        sorted(
            (str(r.product_id), r.trigger.value, r.verdict.value, r.subject_hash)
            for r in reports
            if r.id not in existing
        ),
        sorted(
            (
                a.action,
                a.target_id or "",
                str(sorted((k, str(v)) for k, v in a.details.items() if k != "report_id")),
            )
            for a in audits
        ),
        sorted((str(h.product_id), h.released_at is None, h.release_reason or "") for h in holds),
    )


async def test_each_product_gets_what_the_one_product_gate_gives(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    fake_checks.marks = [FakeMark("good morning")]
    org = tenant.organization

    clean, _, _ = await make_product(session, org, title="Clean tee", layers=CLEAN)
    await safeguard_service.screen_product(session, owner(tenant), clean.id)
    blocked, _, _ = await make_product(session, org, title="Blocked tee", layers=MARKED)
    await safeguard_service.screen_product(session, owner(tenant), blocked.id)
    overridden, _, _ = await make_product(session, org, title="Overridden tee", layers=MARKED)
    block_report = await safeguard_service.screen_product(session, owner(tenant), overridden.id)
    override = await safeguard_service.override(session, owner(tenant), block_report.id, REASON)
    held, _, _ = await make_product(session, org, title="Held tee", layers=CLEAN)
    await hold(
        session, held, await safeguard_service.screen_product(session, owner(tenant), held.id)
    )
    stale, _, _ = await make_product(session, org, title="Stale tee", layers=CLEAN)
    await safeguard_service.screen_product(session, owner(tenant), stale.id)
    await add_copy(session, stale, versions=[{"title": "Sunrise tee, new copy"}])
    # Held for a mark its new text no longer has: the gate's screen releases the hold.
    released, _, _ = await make_product(session, org, title="Good Morning tee", layers=CLEAN)
    await hold(
        session,
        released,
        await safeguard_service.screen_product(session, owner(tenant), released.id),
    )
    released.title = "Sunrise tee"
    never, _, _ = await make_product(session, org, title="Never screened", layers=MARKED)
    # Screened again after a change: its newest report is current, an older one is not.
    again, _, _ = await make_product(session, org, title="Again tee", layers=CLEAN)
    await safeguard_service.screen_product(session, owner(tenant), again.id)
    await add_copy(session, again, versions=[{"title": "Again, new copy"}])
    newest = await safeguard_service.screen_product(session, owner(tenant), again.id)
    products = [clean, blocked, overridden, held, stale, released, never, again]
    ids = [p.id for p in products]
    await session.flush()
    existing = set((await session.execute(select(SafeguardReport.id))).scalars())

    one_by_one = await session.begin_nested()
    expected: dict[uuid.UUID, Any] = {}
    for product in products:
        try:
            outcome: GateResult | PublishingBlocked = await safeguard_service.gate(
                session, product.id, organization_id=org.id
            )
        except PublishingBlocked as refused:
            outcome = refused
        expected[product.id] = signature(outcome, existing)
    expected_rows = await written(session, existing)
    await one_by_one.rollback()

    products = list(
        (
            await session.execute(
                select(Product).where(Product.id.in_(ids)).execution_options(populate_existing=True)
            )
        ).scalars()
    )
    products.sort(key=lambda p: ids.index(p.id))
    outcomes = await safeguard_service.gate_many(session, products, organization_id=org.id)

    assert list(outcomes) == ids
    assert {i: signature(o, existing) for i, o in outcomes.items()} == expected
    assert await written(session, existing) == expected_rows
    # And what that is, product by product.
    verdict_refusal = (
        "Publishing refused: the safeguard report is BLOCK (trademark.exact 'Good Morning' in "
        "layer:title). Change the text and screen it again, or an owner or admin can override "
        "the report with a reason."
    )
    hold_refusal = (
        "Publishing refused: the product is on hold since a trademark import found GOOD MORNING "
        "in it. Change the text and screen it again, or an owner or admin can override the "
        "report with a reason."
    )
    summary = {
        i: (
            type(o).__name__,
            o.report.id in existing,
            o.detail if isinstance(o, PublishingBlocked) else o.screened,
            [f.code for f in o.findings] if isinstance(o, PublishingBlocked) else o.override,
        )
        for i, o in outcomes.items()
    }
    assert summary == {
        clean.id: ("GateResult", True, False, None),
        blocked.id: ("PublishingBlocked", True, verdict_refusal, ["trademark.exact"]),
        overridden.id: ("GateResult", True, False, override),
        held.id: ("PublishingBlocked", True, hold_refusal, []),
        stale.id: ("GateResult", False, True, None),
        released.id: ("GateResult", False, True, None),
        never.id: ("PublishingBlocked", False, verdict_refusal, ["trademark.exact"]),
        again.id: ("GateResult", True, False, None),
    }
    assert outcomes[again.id].report.id == newest.id
    assert outcomes[never.id].report.trigger == ScreenTrigger.publish
    assert outcomes[never.id].report.verdict == Verdict.block
    assert (
        await SafeguardHoldRepository.from_session(session).active_for_product(released.id) is None
    )


async def test_the_batch_reads_each_products_own_copy_and_brand_voice(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    org = tenant.organization
    voice = BrandVoice(organization_id=org.id, name="Warm", vocabulary=["snug"])
    gone = BrandVoice(organization_id=org.id, name="Gone", deleted_at=utc_now())
    session.add_all([voice, gone])
    await session.flush()
    first, _, _ = await make_product(session, org, title="First tee")
    copy = await add_copy(session, first, versions=[{"title": "Old"}, {"title": "First, new"}])
    copy.brand_voice_id = voice.id
    second, _, _ = await make_product(session, org, title="Second tee")
    amazon = await add_copy(session, second, platform="amazon", versions=[{"title": "Second"}])
    amazon.brand_voice_id = gone.id
    await add_copy(session, second, platform="etsy", language="de", versions=[{"title": "Zwei"}])
    bare, _, _ = await make_product(session, org, title="Bare tee")
    await session.flush()

    gathered = await safeguard_service._gather_many(session, [first, second, bare])

    assert {p: [f.name for f in g.subject.fields] for p, g in gathered.items()} == {
        first.id: ["title", "layer:title", "etsy:en:title"],
        second.id: ["title", "layer:title", "amazon:en:title", "etsy:de:title"],
        bare.id: ["title", "layer:title"],
    }
    assert gathered[first.id].subject.fields[2].text == "First, new"
    assert [(g.subject.platforms, g.subject.language) for g in gathered.values()] == [
        (("etsy",), "en"),
        (("amazon", "etsy"), "en"),
        (("etsy",), "en"),
    ]
    assert [
        [(li.prefix, li.version, li.brand_voice) for li in g.listings] for g in gathered.values()
    ] == [
        [("etsy:en:", 2, BrandVoiceProfile(name="Warm", vocabulary=["snug"]))],
        # A voice deleted since the copy was written still speaks for it.
        [("amazon:en:", 1, BrandVoiceProfile(name="Gone")), ("etsy:de:", 1, None)],
        [],
    ]
    for product in (first, second, bare):
        assert (await safeguard_service._gather_many(session, [product]))[product.id] == gathered[
            product.id
        ]


async def statements_of_a_gate(
    session: AsyncSession, products: list[Product], organization_id: uuid.UUID
) -> int:
    count = 0

    def seen(*args: Any) -> None:
        nonlocal count
        count += 1

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        outcomes = await safeguard_service.gate_many(
            session, products, organization_id=organization_id
        )
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert [(type(o), o.screened) for o in outcomes.values()] == [(GateResult, False)] * len(
        products
    )
    return count


async def test_the_statements_do_not_grow_with_the_batch(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    org = tenant.organization
    voice = BrandVoice(organization_id=org.id, name="Warm")
    session.add(voice)
    products = []
    for i in range(12):
        product, _, _ = await make_product(session, org, title=f"Tee {i}", layers=CLEAN)
        copy = await add_copy(session, product)
        copy.brand_voice_id = voice.id
        await safeguard_service.screen_product(session, owner(tenant), product.id)
        products.append(product)
    await session.flush()

    few = await statements_of_a_gate(session, products[:2], org.id)
    many = await statements_of_a_gate(session, products[2:], org.id)

    # Design versions, copies, copy versions, brand voices, the catalog override, reports,
    # overrides, holds, settings.
    assert (few, many) == (9, 9)


async def test_a_product_of_another_workspace_stops_the_batch_before_any_screen(
    session: AsyncSession, tenant: Tenant, other_tenant: Tenant, fake_checks: FakeChecks
) -> None:
    own, _, _ = await make_product(session, tenant.organization)
    foreign, _, _ = await make_product(session, other_tenant.organization)
    deleted, _, _ = await make_product(session, tenant.organization, title="Deleted tee")
    deleted.deleted_at = utc_now()
    await session.flush()

    for batch in ([own, foreign], [deleted]):
        with pytest.raises(ResourceNotFound, match="^Product not found.$"):
            await safeguard_service.gate_many(
                session, batch, organization_id=tenant.organization.id
            )
    count = await session.execute(select(func.count()).select_from(SafeguardReport))
    assert count.scalar_one() == 0
    assert (
        await safeguard_service.gate_many(session, [], organization_id=tenant.organization.id) == {}
    )

"""The safeguard jobs, through their DBOS steps: a product screen (a change that changes
nothing writes nothing), and the re-screen after a marks import (only products a new mark now
hits get a new report, a flag, and a hold where the workspace chose it; safe to run twice)."""

import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject
from flashfusion.jobs.registry import get_kind
from flashfusion.models import (
    AuditEvent,
    Job,
    Product,
    Role,
    SafeguardHold,
    SafeguardReport,
    ScreenTrigger,
)
from flashfusion.safeguard import tasks
from flashfusion.safeguard.service import safeguard as safeguard_service
from flashfusion.safeguard.trademark.types import MarkStatus
from flashfusion.safeguard.types import Verdict
from tests.fixtures.objects import Tenant
from tests.safeguard.pipeline_fakes import (
    FakeChecks,
    FakeMark,
    fake_checks,
    import_marks,
    make_product,
)

__all__ = ["fake_checks"]


async def reports_of(session: AsyncSession, product: Product) -> list[SafeguardReport]:
    rows = await session.execute(
        select(SafeguardReport)
        .where(SafeguardReport.product_id == product.id)
        .order_by(SafeguardReport.created_at)
    )
    return list(rows.scalars())


async def events(session: AsyncSession, action: str) -> list[AuditEvent]:
    rows = await session.execute(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.created_at)
    )
    return list(rows.scalars())


def test_the_jobs_are_registered_on_the_safeguard_queue() -> None:
    for name in ("safeguard.screen_product", "safeguard.rescreen_import"):
        kind = get_kind(name)
        assert kind is not None
        assert (kind.name, kind.queue) == (name, "safeguard")


async def test_a_screen_is_queued_with_the_product_and_why(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    product, _, _ = await make_product(session, tenant.organization)

    job = await safeguard_service.enqueue_screen(
        session, product.id, tenant.organization.id, "change"
    )

    stored = await session.get(Job, job.id)
    assert stored is not None
    assert (stored.kind, stored.arguments, stored.organization_id) == (
        "safeguard.screen_product",
        [str(product.id), "change"],
        tenant.organization.id,
    )
    with pytest.raises(ValueError, match="'sometime' is not a valid ScreenTrigger"):
        await safeguard_service.enqueue_screen(
            session, product.id, tenant.organization.id, "sometime"
        )


async def test_a_change_screens_only_when_the_product_changed(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    product, _, _ = await make_product(session, tenant.organization)

    first = await tasks.screen(str(product.id), "change")
    assert first is not None
    assert await tasks.screen(str(product.id), "change") is None
    product.title = "Sunset tee"
    await session.flush()
    second = await tasks.screen(str(product.id), "change")
    # Asked by hand, it screens even when nothing changed.
    third = await tasks.screen(str(product.id), "manual")

    reports = await reports_of(session, product)
    assert [str(r.id) for r in reports] == [first, second, third]
    assert [r.trigger for r in reports] == [
        ScreenTrigger.change,
        ScreenTrigger.change,
        ScreenTrigger.manual,
    ]
    assert await tasks.screen(str(uuid.uuid4()), "change") is None


# --- re-screening after a marks import ----------------------------------------------------------

IMPORT = str(uuid.uuid4())


async def test_an_import_flags_only_the_products_a_new_mark_now_hits(
    session: AsyncSession, tenant: Tenant, other_tenant: Tenant, fake_checks: FakeChecks
) -> None:
    hit, _, _ = await make_product(session, tenant.organization, title="Stay Wild tee")
    missed, _, _ = await make_product(session, tenant.organization, title="Sunrise tee")
    held, _, _ = await make_product(session, other_tenant.organization, title="stay wild mug")
    never_screened, _, _ = await make_product(session, tenant.organization, title="Stay Wild cap")
    for product in (hit, missed, held):
        await tasks.screen(str(product.id), "change")
    await safeguard_service.update_settings(
        session,
        AuthSubject(other_tenant.users[Role.owner]),
        other_tenant.organization.id,
        {"pause_on_new_mark": True},
    )
    # The import commits the new mark to the marks database, which the full screen reads.
    mark = FakeMark("stay wild", Verdict.block, serial="97000123")
    fake_checks.imports = {IMPORT: [mark]}
    fake_checks.marks = [mark]

    flagged = await tasks.rescreen_all(IMPORT)

    assert flagged == 2
    for product in (hit, held):
        reports = await reports_of(session, product)
        assert [(r.trigger, r.verdict) for r in reports] == [
            (ScreenTrigger.change, Verdict.passed),
            (ScreenTrigger.import_, Verdict.block),
        ]
    assert len(await reports_of(session, missed)) == 1
    assert await reports_of(session, never_screened) == []
    matches = await events(session, "safeguard.new_mark_match")
    assert sorted(e.target_id for e in matches) == sorted([str(hit.id), str(held.id)])
    by_product = {e.target_id: e for e in matches}
    assert by_product[str(hit.id)].details["held"] is False
    assert by_product[str(held.id)].details["marks"] == [
        {
            "mark": "STAY WILD",
            "serial_number": "97000123",
            "registration_number": None,
            "office": "uspto",
            "status": "live",
        }
    ]
    assert by_product[str(held.id)].details["import_id"] == IMPORT
    # Only the workspace that chose it holds its product.
    [hold] = (await session.execute(select(SafeguardHold))).scalars()
    assert (hold.product_id, hold.import_id, hold.released_at) == (held.id, IMPORT, None)
    assert hold.report_id == (await reports_of(session, held))[-1].id

    # Run twice (a crash and a retry): nothing more happens.
    assert await tasks.rescreen_all(IMPORT) == 0
    assert len(await reports_of(session, hit)) == 2
    assert len(await events(session, "safeguard.new_mark_match")) == 2


async def test_the_re_screen_streams_the_reports_a_page_at_a_time(
    session: AsyncSession,
    tenant: Tenant,
    fake_checks: FakeChecks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    products = [
        (await make_product(session, tenant.organization, title=f"Stay Wild {n}"))[0]
        for n in range(3)
    ]
    for product in products:
        await tasks.screen(str(product.id), "change")
    fake_checks.imports = {IMPORT: [FakeMark("stay wild")]}
    fake_checks.marks = list(fake_checks.imports[IMPORT])
    monkeypatch.setattr(tasks, "PAGE", 2)

    ordered = sorted(p.id for p in products)
    after, flagged = await tasks.rescreen_page(IMPORT, None)
    assert (after, flagged) == (str(ordered[1]), 2)
    after, flagged = await tasks.rescreen_page(IMPORT, after)
    assert (after, flagged) == (None, 1)


async def test_an_import_without_live_marks_does_nothing(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    product, _, _ = await make_product(session, tenant.organization, title="Stay Wild tee")
    await tasks.screen(str(product.id), "change")
    # A dead mark is informational: it never flags a product.
    fake_checks.imports = {IMPORT: [FakeMark("stay wild", Verdict.passed, status="dead")]}

    assert await tasks.rescreen_page(IMPORT, None) == (None, 0)
    assert await tasks.rescreen_page(str(uuid.uuid4()), None) == (None, 0)
    assert len(await reports_of(session, product)) == 1


async def test_a_product_that_already_showed_the_mark_is_not_flagged_again(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    mark = FakeMark("stay wild")
    fake_checks.marks = [mark]
    product, _, _ = await make_product(session, tenant.organization, title="Stay Wild tee")
    await tasks.screen(str(product.id), "change")
    # The import only changed the mark's owner, say: the product matched it already.
    fake_checks.imports = {IMPORT: [mark]}

    assert await tasks.rescreen_page(IMPORT, None) == (None, 0)
    assert len(await reports_of(session, product)) == 1
    count = await session.execute(select(func.count()).select_from(SafeguardHold))
    assert count.scalar_one() == 0


async def test_a_real_register_import_flags_the_product_it_now_hits(
    session: AsyncSession, tenant: Tenant
) -> None:
    hit, _, _ = await make_product(
        session, tenant.organization, layers=(("title", "Moonlight Paws", {}),)
    )
    missed, _, _ = await make_product(session, tenant.organization)
    for product in (hit, missed):
        assert await tasks.screen(str(product.id), "change") is not None
    assert [r.verdict for r in await reports_of(session, hit)] == [Verdict.passed]

    import_id = await import_marks(
        session,
        [
            ("97111222", "MOONLIGHT PAWS", MarkStatus.live),
            ("97111223", "OLD LANTERN", MarkStatus.dead),
        ],
    )
    assert await tasks.rescreen_all(str(import_id)) == 1

    reports = await reports_of(session, hit)
    assert [(r.trigger, r.verdict) for r in reports] == [
        (ScreenTrigger.change, Verdict.passed),
        (ScreenTrigger.import_, Verdict.block),
    ]
    [finding] = [f for f in reports[1].findings if f["category"] == "trademark"]
    assert (finding["evidence"]["serial_number"], finding["span"]) == (
        "97111222",
        {"field": "layer:title", "start": 0, "end": 14, "text": "Moonlight Paws"},
    )
    assert len(await reports_of(session, missed)) == 1
    [event] = await events(session, "safeguard.new_mark_match")
    assert (event.target_id, event.details["import_id"]) == (str(hit.id), str(import_id))
    assert await tasks.rescreen_all(str(import_id)) == 0


async def test_a_big_import_is_matched_through_the_marks_database(
    session: AsyncSession, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "IN_MEMORY_MARKS", 0)
    hit, _, _ = await make_product(
        session, tenant.organization, layers=(("title", "Velvet Otter Club", {}),)
    )
    old_mark = await import_marks(session, [("97111300", "SUNRISE TEE", MarkStatus.live)])
    assert await tasks.screen(str(hit.id), "change") is not None

    # The product showed the first import's mark already: nothing new. The second one's is.
    assert await tasks.rescreen_all(str(old_mark)) == 0
    import_id = await import_marks(session, [("97111301", "VELVET OTTER", MarkStatus.pending)])
    assert await tasks.rescreen_all(str(import_id)) == 1

    reports = await reports_of(session, hit)
    assert [r.trigger for r in reports] == [ScreenTrigger.change, ScreenTrigger.import_]
    marks = [
        [f["evidence"]["mark"] for f in r.findings if f["category"] == "trademark"] for r in reports
    ]
    assert marks == [["SUNRISE TEE"], ["SUNRISE TEE", "VELVET OTTER"]]

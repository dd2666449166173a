"""The publishing gate: it screens a product whose newest report is missing or stale, refuses
a BLOCK without an override (or a held product) with a 409 that says what blocks and who can
override, and lets everything else through."""

import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.exceptions import ResourceNotFound
from flashfusion.models import Product, Role, SafeguardHold, SafeguardReport, ScreenTrigger
from flashfusion.safeguard.repository import SafeguardHoldRepository
from flashfusion.safeguard.service import PublishingBlocked
from flashfusion.safeguard.service import safeguard as safeguard_service
from flashfusion.safeguard.types import Verdict
from tests.fixtures.objects import Tenant
from tests.safeguard.pipeline_fakes import FakeChecks, FakeMark, add_copy, fake_checks, make_product

__all__ = ["fake_checks"]

REASON = "Licensed from the owner, contract 2026-114."


def owner(tenant: Tenant, role: Role = Role.owner) -> AuthSubject[Subject]:
    return AuthSubject(tenant.users[role])


async def reports_of(session: AsyncSession, product: Product) -> list[SafeguardReport]:
    rows = await session.execute(
        select(SafeguardReport)
        .where(SafeguardReport.product_id == product.id)
        .order_by(SafeguardReport.created_at)
    )
    return list(rows.scalars())


async def test_a_never_screened_product_is_screened_and_a_pass_goes_through(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    product, _, _ = await make_product(session, tenant.organization)

    result = await safeguard_service.gate(
        session, product.id, organization_id=tenant.organization.id
    )

    [report] = await reports_of(session, product)
    assert (result.report.id, result.screened, result.override, result.verdict) == (
        report.id,
        True,
        None,
        Verdict.passed,
    )
    assert (report.trigger, report.created_by_user_id) == (ScreenTrigger.publish, None)

    again = await safeguard_service.gate(
        session, product.id, organization_id=tenant.organization.id
    )
    assert (again.report.id, again.screened) == (report.id, False)
    assert len(await reports_of(session, product)) == 1


async def test_a_block_stops_publishing_until_an_owner_or_admin_overrides_it(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    fake_checks.marks = [FakeMark("good morning")]
    product, _, _ = await make_product(session, tenant.organization)

    with pytest.raises(PublishingBlocked) as refused:
        await safeguard_service.gate(session, product.id, organization_id=tenant.organization.id)

    assert refused.value.status_code == 409
    assert refused.value.detail == (
        "Publishing refused: the safeguard report is BLOCK (trademark.exact 'Good Morning' in "
        "layer:title). Change the text and screen it again, or an owner or admin can override "
        "the report with a reason."
    )
    [report] = await reports_of(session, product)
    assert refused.value.report.id == report.id
    assert [f.code for f in refused.value.findings] == ["trademark.exact"]

    override = await safeguard_service.override(
        session, owner(tenant, Role.admin), report.id, REASON
    )
    result = await safeguard_service.gate(
        session, product.id, organization_id=tenant.organization.id
    )
    assert (result.report.id, result.screened, result.override) == (report.id, False, override)


async def test_a_changed_product_is_screened_again_and_an_old_override_does_not_carry(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    fake_checks.marks = [FakeMark("good morning")]
    product, _, _ = await make_product(session, tenant.organization)
    first = await safeguard_service.screen_product(session, owner(tenant), product.id)
    await safeguard_service.override(session, owner(tenant), first.id, REASON)
    # New listing copy repeats the mark: a new product version, a new decision.
    await add_copy(session, product, versions=[{"title": "Good Morning tee"}])

    with pytest.raises(PublishingBlocked) as refused:
        await safeguard_service.gate(session, product.id, organization_id=tenant.organization.id)

    reports = await reports_of(session, product)
    assert [r.trigger for r in reports] == [ScreenTrigger.manual, ScreenTrigger.publish]
    assert refused.value.report.id == reports[1].id
    assert "and 1 more" not in refused.value.detail
    assert [f.span.field for f in refused.value.findings if f.span] == [
        "layer:title",
        "etsy:en:title",
    ]


async def test_new_rule_packs_make_a_report_stale(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    product, _, _ = await make_product(session, tenant.organization)
    first = await safeguard_service.screen_product(session, owner(tenant), product.id)
    fake_checks.versions = {**fake_checks.versions, "rule_packs": {"generic": "2027.01.1"}}

    result = await safeguard_service.gate(
        session, product.id, organization_id=tenant.organization.id
    )

    assert result.screened is True
    assert result.report.id != first.id
    assert result.report.checks["versions"]["rule_packs"] == {"generic": "2027.01.1"}


async def test_a_warning_passes_unless_the_workspace_blocks_on_warnings(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    fake_checks.marks = [FakeMark("good morning", Verdict.warn)]
    product, _, _ = await make_product(session, tenant.organization)
    result = await safeguard_service.gate(
        session, product.id, organization_id=tenant.organization.id
    )
    assert result.verdict == Verdict.warn

    await safeguard_service.update_settings(
        session, owner(tenant), tenant.organization.id, {"block_on_warn": True}
    )
    with pytest.raises(PublishingBlocked, match="the safeguard report is WARN"):
        await safeguard_service.gate(session, product.id, organization_id=tenant.organization.id)
    await safeguard_service.override(session, owner(tenant), result.report.id, REASON)
    assert (
        await safeguard_service.gate(session, product.id, organization_id=tenant.organization.id)
    ).override is not None


async def test_a_held_product_is_refused_until_a_screen_no_longer_finds_the_mark(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    mark = FakeMark("good morning", Verdict.warn)
    fake_checks.marks = [mark]
    product, _, _ = await make_product(session, tenant.organization)
    report = await safeguard_service.screen_product(session, owner(tenant), product.id)
    await SafeguardHoldRepository.from_session(session).hold(
        organization_id=tenant.organization.id,
        product_id=product.id,
        report_id=report.id,
        import_id="imp-1",
        marks=[{"mark": "GOOD MORNING", "serial_number": mark.serial, "office": "uspto"}],
    )

    with pytest.raises(PublishingBlocked) as refused:
        await safeguard_service.gate(session, product.id, organization_id=tenant.organization.id)
    assert refused.value.detail.startswith(
        "Publishing refused: the product is on hold since a trademark import found GOOD MORNING"
    )
    assert refused.value.hold is not None

    # The creator changes the product (a new version) and the mark is no longer found in it.
    fake_checks.marks = []
    product.title = "Sunrise shirt"
    await session.flush()
    result = await safeguard_service.gate(
        session, product.id, organization_id=tenant.organization.id
    )
    assert (result.screened, result.verdict) == (True, Verdict.passed)
    hold = (await session.execute(select(SafeguardHold))).scalar_one()
    assert hold.released_at is not None
    assert hold.release_reason == "A new screen no longer finds the marks."


async def test_a_screen_that_still_finds_the_mark_keeps_the_hold(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    mark = FakeMark("good morning", Verdict.warn)
    fake_checks.marks = [mark]
    product, _, _ = await make_product(session, tenant.organization)
    report = await safeguard_service.screen_product(session, owner(tenant), product.id)
    await SafeguardHoldRepository.from_session(session).hold(
        organization_id=tenant.organization.id,
        product_id=product.id,
        report_id=report.id,
        import_id="imp-1",
        marks=[{"mark": "GOOD MORNING", "serial_number": mark.serial, "office": "uspto"}],
    )
    await safeguard_service.screen_product(session, owner(tenant), product.id)
    assert await SafeguardHoldRepository.from_session(session).active_for_product(product.id)


async def test_the_gate_finds_only_the_named_workspaces_products(
    session: AsyncSession, tenant: Tenant, other_tenant: Tenant, fake_checks: FakeChecks
) -> None:
    product, _, _ = await make_product(session, other_tenant.organization)
    for product_id in (product.id, uuid.uuid4()):
        with pytest.raises(ResourceNotFound, match="^Product not found.$"):
            await safeguard_service.gate(
                session, product_id, organization_id=tenant.organization.id
            )
    count = await session.execute(select(func.count()).select_from(SafeguardReport))
    assert count.scalar_one() == 0

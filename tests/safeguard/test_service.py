"""The safeguard service: what a product is screened on, the report every screen keeps, text
screens, reading reports, overrides and settings. The checks are stand-ins
(`pipeline_fakes.py`) that find exactly what a test sets up."""

import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.auth.scope import ALL_SCOPES
from flashfusion.exceptions import NotPermitted, ResourceNotFound
from flashfusion.kit.pagination import PaginationParams
from flashfusion.models import (
    APIKey,
    AuditEvent,
    Role,
    SafeguardHold,
    SafeguardOverride,
    SafeguardReport,
    SafeguardSettings,
    ScreenTrigger,
)
from flashfusion.safeguard.pipeline import InvalidScreen, ScreenSettings, subject_hash
from flashfusion.safeguard.repository import SafeguardHoldRepository
from flashfusion.safeguard.service import (
    InvalidOverride,
    InvalidSafeguardSettings,
    NothingToOverride,
)
from flashfusion.safeguard.service import safeguard as safeguard_service
from flashfusion.safeguard.trademark.types import MarkStatus
from flashfusion.safeguard.types import ScreenSubject, TextField, Verdict
from tests.fixtures.objects import Tenant
from tests.safeguard.pipeline_fakes import (
    FakeChecks,
    FakeMark,
    add_copy,
    fake_checks,
    import_marks,
    make_product,
)

__all__ = ["fake_checks"]


def as_member(tenant: Tenant, role: Role = Role.owner) -> AuthSubject[Subject]:
    return AuthSubject(tenant.users[role])


async def audit_actions(session: AsyncSession, organization_id: uuid.UUID) -> list[str]:
    rows = await session.execute(
        select(AuditEvent.action)
        .where(AuditEvent.organization_id == organization_id, AuditEvent.outcome == "success")
        .order_by(AuditEvent.created_at)
    )
    return [a for a in rows.scalars() if a.startswith("safeguard.")]


async def count(session: AsyncSession, model: type) -> int:
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


# --- the subject of a product --------------------------------------------------------------------


async def test_a_product_is_screened_on_its_title_design_text_and_newest_listing_copy(
    session: AsyncSession, tenant: Tenant
) -> None:
    product, _, _ = await make_product(
        session,
        tenant.organization,
        title="Sunrise tee",
        layers=(
            ("top", "Good Morning", {}),
            ("hidden", "Never printed", {"visible": False}),
            ("cut", "Knockout", {"blend": "erase"}),
        ),
    )
    await add_copy(
        session,
        product,
        versions=[
            {"title": "Old title", "description": "Old."},
            {
                "title": "Sunrise Tee",
                "description": "Soft cotton.",
                "tags": ["sunrise", "morning"],
                "bullets": ["Soft", "", "Warm"],
            },
        ],
    )
    await add_copy(
        session,
        product,
        platform="amazon",
        versions=[{"title": "Sunrise T-Shirt", "bullets": ["Cotton"], "seo_title": "Sunrise"}],
    )

    subject = await safeguard_service.subject_for_product(session, product)

    assert subject.fields == (
        TextField("title", "Sunrise tee"),
        TextField("layer:top", "Good Morning"),
        TextField("layer:cut", "Knockout"),
        TextField("amazon:en:title", "Sunrise T-Shirt"),
        TextField("amazon:en:bullet:1", "Cotton"),
        TextField("amazon:en:seo_title", "Sunrise"),
        TextField("etsy:en:title", "Sunrise Tee"),
        TextField("etsy:en:description", "Soft cotton."),
        TextField("etsy:en:tags", "sunrise, morning"),
        TextField("etsy:en:bullet:1", "Soft"),
        TextField("etsy:en:bullet:3", "Warm"),
    )
    assert (subject.product_type, subject.nice_classes) == ("tshirt", frozenset({25}))
    # The copies' platforms and the product's own channel (etsy).
    assert (subject.platforms, subject.language) == (("amazon", "etsy"), "en")


async def test_a_product_without_copy_is_screened_on_its_title_and_design(
    session: AsyncSession, tenant: Tenant
) -> None:
    product, _, _ = await make_product(session, tenant.organization, product_type="mug-11oz")

    subject = await safeguard_service.subject_for_product(session, product)

    assert subject.fields == (
        TextField("title", "Sunrise tee"),
        TextField("layer:title", "Good Morning"),
    )
    assert (subject.nice_classes, subject.platforms) == (frozenset({21}), ("etsy",))


# --- screening a product -------------------------------------------------------------------------


async def test_a_screen_keeps_a_report_with_the_verdict_and_every_finding(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    fake_checks.marks = [FakeMark("good morning", Verdict.warn)]
    fake_checks.rules = {"cures": Verdict.block}
    product, _, _ = await make_product(session, tenant.organization, title="Tee that cures")

    report = await safeguard_service.screen_product(
        session, as_member(tenant, Role.editor), product.id
    )

    subject = await safeguard_service.subject_for_product(session, product)
    assert report.subject_hash == subject_hash(subject)
    assert (report.verdict, report.trigger, report.quality_score) == (
        Verdict.block,
        ScreenTrigger.manual,
        90,
    )
    assert report.created_by_user_id == tenant.users[Role.editor].id
    assert [(f["code"], f["verdict"], f["span"]) for f in report.findings] == [
        ("claims.medical", "block", {"field": "title", "start": 9, "end": 14, "text": "cures"}),
        (
            "trademark.exact",
            "warn",
            {"field": "layer:title", "start": 0, "end": 12, "text": "Good Morning"},
        ),
    ]
    assert report.counts["total"] == {"pass": 0, "warn": 1, "block": 1}
    assert report.counts["claims"] == {"pass": 0, "warn": 0, "block": 1}
    assert report.counts["trademark"] == {"pass": 0, "warn": 1, "block": 0}
    assert report.checks["versions"] == fake_checks.versions
    assert report.checks["workspace_checks"] is True
    assert report.subject["fields"] == [
        {"name": "title", "text": "Tee that cures"},
        {"name": "layer:title", "text": "Good Morning"},
    ]
    # Every check ran, the workspace ones too.
    assert fake_checks.calls == ["trademark", "policy", "quality", "plagiarism", "ai_moderation"]
    # A BLOCK is audited, with what blocks.
    event = (
        await session.execute(select(AuditEvent).where(AuditEvent.action == "safeguard.screened"))
    ).scalar_one()
    assert (event.target_id, event.details["verdict"], event.details["blocking"]) == (
        str(product.id),
        "block",
        ["claims.medical"],
    )


async def test_a_screen_is_kept_every_time_but_only_a_block_is_audited(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    fake_checks.marks = [FakeMark("good morning", Verdict.warn)]
    product, _, _ = await make_product(session, tenant.organization)

    first = await safeguard_service.screen_product(session, as_member(tenant), product.id)
    second = await safeguard_service.screen_product(session, as_member(tenant), product.id)

    assert first.id != second.id
    assert (first.verdict, second.verdict) == (Verdict.warn, Verdict.warn)
    assert await count(session, SafeguardReport) == 2
    assert await audit_actions(session, tenant.organization.id) == []
    latest = await safeguard_service.latest_report(
        session, as_member(tenant, Role.viewer), product.id
    )
    assert latest is not None
    assert latest.id == second.id


async def test_a_check_that_fails_is_a_warning_not_a_silent_pass(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    fake_checks.failing = {"trademark", "ai_moderation"}
    product, _, _ = await make_product(session, tenant.organization)

    report = await safeguard_service.screen_product(session, as_member(tenant), product.id)

    assert report.verdict == Verdict.warn
    assert [(f["code"], f["verdict"]) for f in report.findings] == [
        ("trademark.check_failed", "warn")
    ]
    assert report.checks["errors"] == {
        "trademark": "RuntimeError: trademark is down",
        "ai_moderation": "RuntimeError: ai_moderation is down",
    }


async def test_a_low_quality_score_warns_below_the_workspace_threshold(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    fake_checks.quality_score = 40
    product, _, _ = await make_product(session, tenant.organization)

    report = await safeguard_service.screen_product(session, as_member(tenant), product.id)
    assert (report.verdict, report.quality_score) == (Verdict.warn, 40)
    assert [f["code"] for f in report.findings] == ["quality.low_score"]

    await safeguard_service.update_settings(
        session, as_member(tenant, Role.admin), tenant.organization.id, {"quality_warn_below": 30}
    )
    report = await safeguard_service.screen_product(session, as_member(tenant), product.id)
    assert (report.verdict, report.findings) == (Verdict.passed, [])


async def test_the_workspace_thresholds_reach_the_trademark_check(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    product, _, _ = await make_product(session, tenant.organization)
    await safeguard_service.update_settings(
        session,
        as_member(tenant, Role.owner),
        tenant.organization.id,
        {"trademark_thresholds": {"fuzzy_warn": 0.8}},
    )

    await safeguard_service.screen_product(session, as_member(tenant), product.id)

    assert fake_checks.thresholds_seen == [{"fuzzy_warn": 0.8}]


@pytest.mark.parametrize("role", [Role.viewer])
async def test_a_viewer_cannot_screen_a_product_and_nothing_is_kept(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks, role: Role
) -> None:
    product, _, _ = await make_product(session, tenant.organization)

    with pytest.raises(NotPermitted, match="safeguards:manage"):
        await safeguard_service.screen_product(session, as_member(tenant, role), product.id)

    assert await count(session, SafeguardReport) == 0
    assert fake_checks.calls == []


async def test_another_workspaces_product_is_not_found(
    session: AsyncSession, tenant: Tenant, other_tenant: Tenant, fake_checks: FakeChecks
) -> None:
    product, _, _ = await make_product(session, other_tenant.organization)

    for call in (
        safeguard_service.screen_product(session, as_member(tenant), product.id),
        safeguard_service.latest_report(session, as_member(tenant), product.id),
        safeguard_service.screen_product(session, as_member(tenant), uuid.uuid4()),
    ):
        with pytest.raises(ResourceNotFound, match="^Product not found.$"):
            await call
    assert await count(session, SafeguardReport) == 0


# --- screening a text ----------------------------------------------------------------------------


async def test_a_text_screen_returns_the_findings_and_keeps_nothing(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    fake_checks.marks = [FakeMark("stay wild")]

    result = await safeguard_service.screen_text(
        session,
        as_member(tenant, Role.viewer),
        organization_id=tenant.organization.id,
        text="Stay Wild, stay free",
        product_type="tshirt",
        platforms=["Etsy", "etsy"],
    )

    assert result.verdict == Verdict.block
    [finding] = result.findings
    assert (finding.code, finding.span) == (
        "trademark.exact",
        finding.span.__class__("phrase", 0, 9, "Stay Wild"),
    )
    assert result.counts["total"] == {"pass": 0, "warn": 0, "block": 1}
    assert await count(session, SafeguardReport) == 0


async def test_a_text_screen_without_a_workspace_skips_the_workspace_checks(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    result = await safeguard_service.screen_text(
        session,
        as_member(tenant),
        organization_id=None,
        text="Hello",
        product_type="mug",
        platforms=[],
    )
    assert (result.verdict, result.checks["workspace_checks"]) == (Verdict.passed, False)
    assert fake_checks.calls == ["trademark", "policy", "quality"]


@pytest.mark.parametrize(
    ("text", "product_type", "platforms", "message"),
    [
        ("   \n ", "tshirt", [], "text: is empty; give the text to screen."),
        (
            "x" * 20_001,
            "tshirt",
            [],
            "text: is 20,001 characters; screen at most 20,000 at a time.",
        ),
        ("Hi", "etsy", ["etsy"], "product_type: unknown product type 'etsy'; "),
        ("Hi", "", [], "product_type: say which product the text goes on; valid ids: "),
        ("Hi", "tshirt", ["myspace"], "platforms: 'myspace' is not a platform; use one of etsy, "),
    ],
    ids=["empty", "huge", "unknown product type", "no product type", "unknown platform"],
)
async def test_bad_text_screens_are_refused_naming_the_field(
    session: AsyncSession,
    tenant: Tenant,
    fake_checks: FakeChecks,
    text: str,
    product_type: str,
    platforms: list[str],
    message: str,
) -> None:
    with pytest.raises(InvalidScreen) as refused:
        await safeguard_service.screen_text(
            session,
            as_member(tenant),
            organization_id=tenant.organization.id,
            text=text,
            product_type=product_type,
            platforms=platforms,
        )
    assert refused.value.detail.startswith(message), refused.value.detail
    if product_type in ("etsy", ""):
        # The valid ids are listed.
        assert "tshirt" in refused.value.detail
        assert "mug-11oz" in refused.value.detail
    assert fake_checks.calls == []


async def test_a_text_screen_in_a_foreign_workspace_is_not_found(
    session: AsyncSession, tenant: Tenant, other_tenant: Tenant, fake_checks: FakeChecks
) -> None:
    with pytest.raises(ResourceNotFound, match="^Organization not found.$"):
        await safeguard_service.screen_text(
            session,
            as_member(tenant),
            organization_id=other_tenant.organization.id,
            text="Hello",
            product_type="tshirt",
            platforms=[],
        )


async def test_a_subject_of_only_empty_fields_is_refused(
    session: AsyncSession, fake_checks: FakeChecks
) -> None:
    subject = ScreenSubject(fields=(TextField("title", ""),))
    with pytest.raises(InvalidScreen, match="^text: is empty"):
        await safeguard_service.screen_subject(
            session, subject, organization_id=None, settings=ScreenSettings()
        )


# --- reading reports -----------------------------------------------------------------------------


async def test_reports_are_listed_newest_first_per_workspace_with_filters(
    session: AsyncSession, tenant: Tenant, other_tenant: Tenant, fake_checks: FakeChecks
) -> None:
    fake_checks.marks = [FakeMark("blocked words")]
    product, _, _ = await make_product(session, tenant.organization)
    blocked, _, _ = await make_product(session, tenant.organization, title="blocked words tee")
    foreign, _, _ = await make_product(session, other_tenant.organization)
    first = await safeguard_service.screen_product(session, as_member(tenant), product.id)
    second = await safeguard_service.screen_product(session, as_member(tenant), blocked.id)
    await safeguard_service.screen_product(session, as_member(other_tenant), foreign.id)
    page = PaginationParams(1, 20)

    reports, total = await safeguard_service.list_reports(
        session, as_member(tenant, Role.viewer), pagination=page
    )
    assert ([r.id for r in reports], total) == ([second.id, first.id], 2)
    reports, total = await safeguard_service.list_reports(
        session, as_member(tenant), verdict=Verdict.block, pagination=page
    )
    assert ([r.id for r in reports], total) == ([second.id], 1)
    reports, total = await safeguard_service.list_reports(
        session, as_member(tenant), product_id=product.id, pagination=page
    )
    assert ([r.id for r in reports], total) == ([first.id], 1)
    with pytest.raises(ResourceNotFound):
        await safeguard_service.list_reports(
            session,
            as_member(tenant),
            organization_id=other_tenant.organization.id,
            pagination=page,
        )
    got = await safeguard_service.get_report(session, as_member(tenant, Role.viewer), first.id)
    assert got.id == first.id
    with pytest.raises(ResourceNotFound, match="^Safeguard report not found.$"):
        await safeguard_service.get_report(session, as_member(other_tenant), first.id)


# --- overrides -----------------------------------------------------------------------------------

REASON = "We own this mark: registration 1234567."


async def blocked_report(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> SafeguardReport:
    fake_checks.marks = [FakeMark("good morning")]
    product, _, _ = await make_product(session, tenant.organization)
    return await safeguard_service.screen_product(session, as_member(tenant), product.id)


async def test_an_admin_overrides_a_block_with_a_reason_that_is_audited(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    report = await blocked_report(session, tenant, fake_checks)

    override = await safeguard_service.override(
        session, as_member(tenant, Role.admin), report.id, f"  {REASON}  "
    )

    assert (override.report_id, override.user_id, override.reason) == (
        report.id,
        tenant.users[Role.admin].id,
        REASON,
    )
    event = (
        await session.execute(select(AuditEvent).where(AuditEvent.action == "safeguard.overridden"))
    ).scalar_one()
    assert (event.user_id, event.target_id) == (tenant.users[Role.admin].id, str(report.id))
    assert event.details == {
        "product_id": str(report.product_id),
        "verdict": "block",
        "reason": REASON,
        "findings": ["trademark.exact"],
    }
    with pytest.raises(NothingToOverride, match="^This report is overridden already.$"):
        await safeguard_service.override(session, as_member(tenant, Role.owner), report.id, REASON)
    assert await count(session, SafeguardOverride) == 1


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("too short", "reason: write at least 10 characters saying why publishing is safe"),
        ("          \n", "reason: write at least 10 characters"),
        ("x" * 1001, "reason: keep it to 1000 characters."),
    ],
    ids=["short", "blank", "long"],
)
async def test_an_override_needs_a_real_reason(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks, reason: str, message: str
) -> None:
    report = await blocked_report(session, tenant, fake_checks)
    with pytest.raises(InvalidOverride) as refused:
        await safeguard_service.override(session, as_member(tenant), report.id, reason)
    assert refused.value.detail.startswith(message)
    assert await count(session, SafeguardOverride) == 0


async def test_only_owners_and_admins_override_and_never_an_api_key(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    report = await blocked_report(session, tenant, fake_checks)
    for role in (Role.editor, Role.viewer):
        with pytest.raises(NotPermitted, match="safeguards:override"):
            await safeguard_service.override(session, as_member(tenant, role), report.id, REASON)
    key = (
        await session.execute(select(APIKey).where(APIKey.created_by_user_id == tenant.owner.id))
    ).scalar_one()
    key_subject = AuthSubject(key, scopes=ALL_SCOPES, api_key_role=Role.owner)
    with pytest.raises(NotPermitted, match="not available to API keys"):
        await safeguard_service.override(session, key_subject, report.id, REASON)
    assert await count(session, SafeguardOverride) == 0


async def test_a_pass_or_an_older_report_cannot_be_overridden(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    report = await blocked_report(session, tenant, fake_checks)
    fake_checks.marks = []
    assert report.product_id is not None
    newer = await safeguard_service.screen_product(session, as_member(tenant), report.product_id)
    assert newer.verdict == Verdict.passed

    with pytest.raises(NothingToOverride, match="A newer report of this product exists"):
        await safeguard_service.override(session, as_member(tenant), report.id, REASON)
    with pytest.raises(NothingToOverride, match="This report passed"):
        await safeguard_service.override(session, as_member(tenant), newer.id, REASON)
    assert await count(session, SafeguardOverride) == 0


async def test_an_override_releases_the_products_hold(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    report = await blocked_report(session, tenant, fake_checks)
    assert report.product_id is not None
    holds = SafeguardHoldRepository.from_session(session)
    await holds.hold(
        organization_id=tenant.organization.id,
        product_id=report.product_id,
        report_id=report.id,
        import_id=None,
        marks=[{"mark": "GOOD MORNING", "serial_number": "90000001", "office": "uspto"}],
    )

    await safeguard_service.override(session, as_member(tenant, Role.admin), report.id, REASON)

    hold = (await session.execute(select(SafeguardHold))).scalar_one()
    assert (hold.released_by_user_id, hold.release_reason) == (
        tenant.users[Role.admin].id,
        "Overridden.",
    )
    assert await holds.active_for_product(report.product_id) is None
    assert await audit_actions(session, tenant.organization.id) == [
        "safeguard.screened",
        "safeguard.overridden",
        "safeguard.hold_released",
    ]


# --- settings ------------------------------------------------------------------------------------


async def test_settings_default_until_an_admin_changes_them(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    defaults = await safeguard_service.get_settings(
        session, as_member(tenant, Role.viewer), tenant.organization.id
    )
    assert (
        defaults.trademark_thresholds,
        defaults.quality_warn_below,
        defaults.plagiarism_threshold,
        defaults.pause_on_new_mark,
        defaults.block_on_warn,
    ) == ({}, 50, 0.8, False, False)
    assert await count(session, SafeguardSettings) == 0

    changed = await safeguard_service.update_settings(
        session,
        as_member(tenant, Role.admin),
        tenant.organization.id,
        {"pause_on_new_mark": True, "trademark_thresholds": {"fuzzy_block": 0.97}},
    )
    assert (changed.pause_on_new_mark, changed.trademark_thresholds) == (
        True,
        {"fuzzy_block": 0.97},
    )
    assert changed.modified_by_user_id == tenant.users[Role.admin].id
    # A null threshold returns it to the default; other fields stay.
    changed = await safeguard_service.update_settings(
        session,
        as_member(tenant, Role.owner),
        tenant.organization.id,
        {"trademark_thresholds": {"fuzzy_block": None}, "block_on_warn": True},
    )
    assert (changed.pause_on_new_mark, changed.block_on_warn, changed.trademark_thresholds) == (
        True,
        True,
        {},
    )
    assert await count(session, SafeguardSettings) == 1
    assert await audit_actions(session, tenant.organization.id) == [
        "safeguard.settings_updated",
        "safeguard.settings_updated",
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"quality_warn_below": 101}, "quality_warn_below: choose a score from 0"),
        ({"quality_warn_below": None}, "quality_warn_below: choose a score from 0"),
        ({"plagiarism_threshold": 0.2}, "plagiarism_threshold: choose a similarity from 0.5"),
        ({"pause_on_new_mark": None}, "pause_on_new_mark: send true or false."),
        (
            {"trademark_thresholds": {"bogus": 1}},
            "trademark_thresholds.bogus: not a threshold; use",
        ),
        (
            {"trademark_thresholds": {"fuzzy_warn": 1.5}},
            "trademark_thresholds: trademark threshold fuzzy_warn must be a number in (0, 1]",
        ),
        (
            {"trademark_thresholds": {"fuzzy_warn": "x"}},
            "trademark_thresholds: trademark threshold fuzzy_warn must be a number in (0, 1]",
        ),
        (
            {"trademark_thresholds": {"fuzzy_warn": 0.99}},
            "trademark_thresholds: trademark threshold fuzzy_warn must not be above fuzzy_block",
        ),
        (
            {"trademark_thresholds": {"min_fuzzy_length": 0}},
            "trademark_thresholds: trademark threshold min_fuzzy_length must be an integer 1-50",
        ),
        ({"trademark_thresholds": None}, "trademark_thresholds: send an object"),
    ],
)
async def test_bad_settings_are_refused_naming_the_field(
    session: AsyncSession,
    tenant: Tenant,
    fake_checks: FakeChecks,
    changes: dict[str, object],
    message: str,
) -> None:
    with pytest.raises(InvalidSafeguardSettings) as refused:
        await safeguard_service.update_settings(
            session, as_member(tenant), tenant.organization.id, changes
        )
    assert refused.value.detail.startswith(message), refused.value.detail
    assert await count(session, SafeguardSettings) == 0


async def test_an_editor_cannot_change_settings(
    session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    with pytest.raises(NotPermitted, match="safeguards:configure"):
        await safeguard_service.update_settings(
            session, as_member(tenant, Role.editor), tenant.organization.id, {"block_on_warn": True}
        )
    assert await count(session, SafeguardSettings) == 0


# --- the real checks -----------------------------------------------------------------------------


async def test_the_real_checks_block_a_starter_mark_and_find_a_register_mark(
    session: AsyncSession, tenant: Tenant
) -> None:
    await import_marks(session, [("91000004", "MOONLIGHT PAWS", MarkStatus.live)])
    product, _, _ = await make_product(
        session, tenant.organization, layers=(("title", "Just Do It", {}),)
    )
    await add_copy(
        session,
        product,
        versions=[
            {
                "title": "Sunrise tee",
                "description": "A soft cotton tee for early runners.",
                "tags": ["running", "moonlight paws"],
            }
        ],
    )

    report = await safeguard_service.screen_product(session, as_member(tenant), product.id)

    assert report.verdict == Verdict.block
    found = {
        (f["code"], f["span"]["field"], f["span"]["text"], f["evidence"].get("mark"))
        for f in report.findings
        if f["category"] == "trademark"
    }
    assert found == {
        ("trademark.exact", "layer:title", "Just Do It", "JUST DO IT"),
        ("trademark.exact", "etsy:en:tags", "moonlight paws", "MOONLIGHT PAWS"),
    }
    register = next(f for f in report.findings if f["evidence"].get("mark") == "MOONLIGHT PAWS")
    assert (register["verdict"], register["evidence"]["serial_number"]) == ("block", "91000004")
    assert report.checks["trademark"]["from_database"] == 1
    assert report.checks["versions"]["starter_set"] == "2026.12.1"
    assert set(report.checks["versions"]["rule_packs"]) >= {"generic", "ip", "claims", "etsy"}


async def test_the_real_checks_find_a_listing_copied_within_the_workspace(
    session: AsyncSession, tenant: Tenant
) -> None:
    description = (
        "Hand drawn sunrise over quiet hills, printed on a soft ringspun cotton tee that "
        "gets better with every wash and every early morning walk."
    )
    first, _, _ = await make_product(session, tenant.organization, title="Hills tee")
    first_copy = await add_copy(session, first, versions=[{"description": description}])
    second, _, _ = await make_product(session, tenant.organization, title="Dawn tee")
    await add_copy(session, second, versions=[{"description": description}])
    # The product's own copy for another platform repeats it on purpose: not a finding.
    await add_copy(session, second, platform="shopify", versions=[{"description": description}])

    await safeguard_service.screen_product(session, as_member(tenant), first.id)
    report = await safeguard_service.screen_product(session, as_member(tenant), second.id)

    copied = [f for f in report.findings if f["category"] == "plagiarism"]
    assert [(f["code"], f["verdict"], f["span"]["field"]) for f in copied] == [
        ("plagiarism.duplicate", "warn", "etsy:en:description"),
        ("plagiarism.duplicate", "warn", "shopify:en:description"),
    ]
    assert {f["evidence"]["listing_copy_id"] for f in copied} == {str(first_copy.id)}
    assert report.verdict == Verdict.warn


async def test_the_real_checks_read_each_listing_with_its_own_platform(
    session: AsyncSession, tenant: Tenant
) -> None:
    product, _, _ = await make_product(session, tenant.organization, title="Wellness mug")
    await add_copy(
        session,
        product,
        versions=[{"title": "Wellness mug", "description": "This tea mug cures cancer."}],
    )

    report = await safeguard_service.screen_product(session, as_member(tenant), product.id)

    claims = [f for f in report.findings if f["category"] == "claims"]
    assert [(f["code"], f["verdict"], f["span"]) for f in claims] == [
        (
            "claims.medical",
            "block",
            {"field": "etsy:en:description", "start": 13, "end": 25, "text": "cures cancer"},
        )
    ]
    assert report.quality_score == report.checks["quality"]["scores"]["etsy:en"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            (TextField("etsy:en:tags", "x" * 100_001),),
            "text: etsy:en:tags is 100,001 characters; screen at most 100,000 per field.",
        ),
        (
            tuple(TextField(f"f{n}", "x" * 90_000) for n in range(6)),
            "text: 540,000 characters in all; screen at most 500,000.",
        ),
        (
            tuple(TextField(f"f{n}", "x") for n in range(2_001)),
            "text: 2001 text fields; screen at most 2000.",
        ),
    ],
    ids=["huge field", "huge subject", "too many fields"],
)
async def test_a_subject_beyond_the_bounds_is_refused_naming_it(
    session: AsyncSession, fake_checks: FakeChecks, fields: tuple[TextField, ...], message: str
) -> None:
    with pytest.raises(InvalidScreen) as refused:
        await safeguard_service.screen_subject(
            session, ScreenSubject(fields=fields), organization_id=None, settings=ScreenSettings()
        )
    assert refused.value.detail == message
    assert fake_checks.calls == []

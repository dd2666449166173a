"""Safeguard pages: the highlight helper, the reports list and phrase check, a report with its
findings, overrides, re-screening, safe-rewrite suggestions, the product page panel and settings;
what a viewer, an editor and an admin each see; other workspaces get the same 404."""

import html
import re
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject
from flashfusion.models import (
    AIGeneration,
    AuditEvent,
    ListingCopy,
    ListingCopyStatus,
    ListingCopyVersion,
    Product,
    Role,
    SafeguardOverride,
    SafeguardReport,
    SafeguardSettings,
    ScreenTrigger,
)
from flashfusion.safeguard.checks import threshold_fields
from flashfusion.safeguard.service import safeguard as safeguard_service
from flashfusion.safeguard.types import Verdict, worst
from flashfusion.sandbox.ai_common import synthesize
from flashfusion.web.safeguard_markup import Mark, highlight, offline_rewrites
from tests.ai.test_service import Twins, twins, use_twins
from tests.fixtures.objects import Tenant
from tests.fixtures.studio import create_design, create_product, text_document
from tests.web.test_org_views import follow, post, sign_in

__all__ = ["twins"]  # the fixture, imported so that the tests here can use it


# --- the highlight helper ---------------------------------------------------------------------

TAG = re.compile(r"</?mark[^>]*>")


def visible_text(markup: str) -> str:
    """What a reader sees: the markup without its <mark> tags, unescaped."""
    return html.unescape(TAG.sub("", markup))


@st.composite
def text_and_marks(draw: st.DrawFn) -> tuple[str, list[Mark]]:
    text = draw(st.text(max_size=60))
    bound = st.integers(min_value=-3, max_value=len(text) + 3)
    marks = [
        Mark(
            start=draw(bound),
            end=draw(bound),
            verdict=draw(st.sampled_from(["pass", "warn", "block", "odd"])),
            code=draw(st.sampled_from(["trademark.exact", "ip.quote", 'x"><script>'])),
            ref=index,
        )
        for index in range(draw(st.integers(min_value=0, max_value=5)))
    ]
    return text, marks


@given(text_and_marks())
def test_highlight_keeps_the_text_and_escapes_everything(case: tuple[str, list[Mark]]) -> None:
    text, marks = case
    markup = str(highlight(text, marks))
    assert visible_text(markup) == text
    # Only our own tags remain: no character of the input can open a tag or an attribute.
    assert "<" not in TAG.sub("", markup)
    assert "<mark" not in "".join(re.findall(r"<mark[^>]*>([^<]*)</mark>", markup))
    for opening in re.findall(r"<mark[^>]*>", markup):
        assert re.fullmatch(
            r'<mark class="finding finding-(pass|warn|block)" data-code="[^"<>]*" '
            r'data-finding="[0-9 ]*" title="[^"<>]*">',
            opening,
        ), opening


@given(text_and_marks())
def test_every_character_inside_a_span_is_marked_with_the_worst_verdict(
    case: tuple[str, list[Mark]],
) -> None:
    text, marks = case
    markup = str(highlight(text, marks))
    rank = {"pass": 0, "warn": 1, "odd": 1, "block": 2}
    # Walk the markup and recover, per character, the verdict it was marked with (or None).
    seen: list[str | None] = []
    for verdict, inside, outside in re.findall(
        r'<mark class="finding finding-(\w+)"[^>]*>([^<]*)</mark>|([^<]+)', markup
    ):
        if verdict:
            seen.extend([verdict] * len(html.unescape(inside)))
        else:
            seen.extend([None] * len(html.unescape(outside)))
    assert len(seen) == len(text)
    for position in range(len(text)):
        covering = [m for m in marks if m.start <= position < m.end and m.start >= 0]
        if not covering:
            assert seen[position] is None, position
            continue
        worst = max(covering, key=lambda m: rank[m.verdict]).verdict
        assert seen[position] == ("warn" if worst == "odd" else worst), position


def test_highlight_cuts_overlaps_without_nesting() -> None:
    text = "Just <do> it & co"
    marks = [
        Mark(start=0, end=9, verdict="warn", code="ip.quote", ref=1),
        Mark(start=5, end=12, verdict="block", code="trademark.exact", ref=0),
    ]
    assert str(highlight(text, marks)) == (
        '<mark class="finding finding-warn" data-code="ip.quote" data-finding="1" '
        'title="ip.quote">Just </mark>'
        '<mark class="finding finding-block" data-code="ip.quote trademark.exact" '
        'data-finding="1 0" title="ip.quote trademark.exact">&lt;do&gt;</mark>'
        '<mark class="finding finding-block" data-code="trademark.exact" data-finding="0" '
        'title="trademark.exact"> it</mark> &amp; co'
    )


def test_highlight_without_marks_only_escapes() -> None:
    assert str(highlight('<b>"Tom & Jerry"</b>', [])) == (
        "&lt;b&gt;&#34;Tom &amp; Jerry&#34;&lt;/b&gt;"
    )
    # A span past the end of an edited text is clipped; an empty one is dropped.
    assert (
        str(highlight("Nike", [Mark(2, 40, "block", "t", 0), Mark(1, 1, "warn", "u", 1)]))
        == 'Ni<mark class="finding finding-block" data-code="t" data-finding="0" title="t">ke</mark>'
    )


def test_offline_rewrites_remove_the_span_or_put_a_neutral_word() -> None:
    text = "Just Do It Nike tee, gift"
    assert offline_rewrites(text, 11, 15, "trademark") == [
        "Just Do It tee, gift",
        "Just Do It original tee, gift",
    ]
    # Claims and policy spans are only removed: softening "cures" would still be a claim.
    assert offline_rewrites("This tee cures anxiety", 9, 14, "claims") == ["This tee anxiety"]
    assert offline_rewrites("Nike, tee", 0, 4, "policy") == ["tee"]
    # A span that is the whole text leaves nothing to suggest.
    assert offline_rewrites("Nike", 0, 4, "policy") == []


# --- fixtures ---------------------------------------------------------------------------------

# Test data only: a made-up mark and owner, so no assertion depends on the bundled starter set.
MARK_SOURCE = "https://register.example.org/marks/9999999"
LAYER_TEXT = "Zorblax mama & <co>"
LISTING_TITLE = "Zorblax tee that cures anxiety"


def report_findings() -> list[dict[str, Any]]:
    return [
        {
            "category": "trademark",
            "code": "trademark.exact",
            "verdict": "block",
            "message": "'Zorblax' is the mark ZORBLAX: remove or replace it.",
            "span": {"field": "etsy:en:title", "start": 0, "end": 7, "text": "Zorblax"},
            "evidence": {
                "mark": "ZORBLAX",
                "serial_number": "99999999",
                "registration_number": "9999999",
                "status": "live",
                "classes": [25],
                "owner": "Zorblax Ltd.",
                "office": "uspto",
                "match_type": "exact",
                "score": 1.0,
                "relevant_class": True,
                "register_url": MARK_SOURCE,
            },
            "source": "https://facts.example.org/zorblax",
            "score": 1.0,
        },
        {
            "category": "claims",
            "code": "claims.medical",
            "verdict": "warn",
            "message": "“cures anxiety” claims the product cures a condition: remove it.",
            "span": {"field": "etsy:en:title", "start": 17, "end": 30, "text": "cures anxiety"},
            "evidence": {
                "pack": "claims",
                "pack_version": "1.0.0",
                "rule": "claims.disease",
                "title": "Claims to cure or treat a condition",
                "matched": "cures anxiety",
            },
            "source": "javascript:alert(1)",
            "score": None,
        },
        {
            "category": "ip",
            "code": "ip.character",
            "verdict": "warn",
            "message": "“Zorblax mama” is a character: use your own.",
            "span": {"field": "layer:slogan", "start": 0, "end": 12, "text": "Zorblax mama"},
            "evidence": {"pack": "ip", "pack_version": "1.0.0", "rule": "ip.character.zorblax"},
            "source": None,
            "score": None,
        },
        {
            "category": "plagiarism",
            "code": "plagiarism.near_duplicate",
            "verdict": "warn",
            "message": "This description is 93 % similar to one on another workspace.",
            "span": None,
            "evidence": {"similarity": 0.93, "scope": "other_workspace"},
            "source": None,
            "score": 0.93,
        },
    ]


def report_subject() -> dict[str, Any]:
    return {
        "fields": [
            {"name": "title", "text": "Zorblax tee"},
            {"name": "layer:slogan", "text": LAYER_TEXT},
            {"name": "etsy:en:title", "text": LISTING_TITLE},
            {"name": "etsy:en:tags", "text": "mama, gift"},
        ],
        "product_type": "tshirt",
        "nice_classes": [25],
        "platforms": ["etsy"],
        "language": "en",
    }


@dataclass
class Screened:
    product: Product
    copy: ListingCopy
    report: SafeguardReport


async def create_listing(session: AsyncSession, product: Product) -> ListingCopy:
    copy = ListingCopy(
        id=uuid.uuid4(),
        organization_id=product.organization_id,
        subject=str(product.id),
        product_id=product.id,
        idea="Zorblax mama",
        product_type=product.product_type,
        platform="etsy",
        language="en",
        status=ListingCopyStatus.ready,
        latest_version=1,
    )
    session.add(copy)
    await session.flush()
    session.add(
        ListingCopyVersion(
            organization_id=product.organization_id,
            listing_copy_id=copy.id,
            version=1,
            fields={"title": LISTING_TITLE, "description": "A soft tee.", "tags": ["mama"]},
            source="edited",
        )
    )
    await session.flush()
    return copy


async def create_report(
    session: AsyncSession,
    product: Product,
    *,
    verdict: Verdict = Verdict.block,
    findings: list[dict[str, Any]] | None = None,
    trigger: ScreenTrigger = ScreenTrigger.change,
) -> SafeguardReport:
    report = SafeguardReport(
        id=uuid.uuid4(),
        organization_id=product.organization_id,
        product_id=product.id,
        subject_hash="0" * 64,
        subject=report_subject(),
        verdict=verdict,
        findings=report_findings() if findings is None else findings,
        counts={"total": {"pass": 0, "warn": 3, "block": 1}},
        quality_score=72,
        checks={"versions": {"starter_set": "test"}},
        trigger=trigger,
    )
    session.add(report)
    await session.flush()
    return report


async def screened_product(session: AsyncSession, tenant: Tenant) -> Screened:
    document = text_document(LAYER_TEXT)
    document["layers"][0].update({"id": "slogan", "name": "Slogan"})
    design, version = await create_design(session, tenant.organization, document=document)
    product = await create_product(session, design, version, title="Zorblax tee")
    copy = await create_listing(session, product)
    return Screened(product, copy, await create_report(session, product))


@pytest.fixture
async def screened(session: AsyncSession, tenant: Tenant) -> Screened:
    return await screened_product(session, tenant)


async def overrides_of(session: AsyncSession, report: SafeguardReport) -> list[SafeguardOverride]:
    rows = await session.execute(
        select(SafeguardOverride).where(SafeguardOverride.report_id == report.id)
    )
    return list(rows.scalars())


async def events(session: AsyncSession, action: str) -> list[AuditEvent]:
    rows = await session.execute(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.created_at)
    )
    return list(rows.scalars())


def report_url(tenant: Tenant, report: SafeguardReport) -> str:
    return f"/orgs/{tenant.organization.id}/safeguards/reports/{report.id}"


# --- the reports list -------------------------------------------------------------------------


async def test_reports_list_shows_verdicts_and_filters_by_verdict(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, screened: Screened
) -> None:
    passed = await create_report(
        session, screened.product, verdict=Verdict.passed, findings=[], trigger=ScreenTrigger.manual
    )
    session.add(
        SafeguardOverride(
            organization_id=tenant.organization.id,
            report_id=screened.report.id,
            user_id=tenant.owner.id,
            reason="We own the Zorblax mark.",
        )
    )
    await session.flush()
    org = tenant.organization.id
    await sign_in(client, session, tenant.users[Role.viewer])

    page = await client.get(f"/orgs/{org}/safeguards")
    assert page.status_code == 200
    text = html.unescape(page.text)
    rows = re.findall(r'<tr data-report="([0-9a-f-]+)">(.*?)</tr>', text, re.S)
    assert {uuid.UUID(r) for r, _ in rows} == {screened.report.id, passed.id}
    by_id = {uuid.UUID(r): body for r, body in rows}
    block_row = by_id[screened.report.id]
    assert 'data-verdict="block">BLOCK</span>' in block_row
    assert f'<a href="/orgs/{org}/products/{screened.product.id}">Zorblax tee</a>' in block_row
    assert "1 block · 3 warn" in block_row
    assert "<td>change</td>" in block_row
    assert 'title="We own the Zorblax mark.">overridden</span>' in block_row
    assert 'data-verdict="pass">PASS</span>' in by_id[passed.id]
    assert "<td>manual</td>" in by_id[passed.id]
    # A viewer may check phrases but not change settings.
    assert 'id="check-form"' in text
    assert f"/orgs/{org}/safeguards/settings" not in text

    only_block = await client.get(f"/orgs/{org}/safeguards", params={"verdict": "block"})
    assert re.findall(r'<tr data-report="([0-9a-f-]+)">', only_block.text) == [
        str(screened.report.id)
    ]
    none_warn = await client.get(f"/orgs/{org}/safeguards", params={"verdict": "warn"})
    assert '<p class="empty muted" id="no-reports">No WARN reports.</p>' in none_warn.text
    bad = await client.get(f"/orgs/{org}/safeguards", params={"verdict": "red"})
    assert bad.status_code == 400
    assert "verdict: choose pass, warn or block" in bad.text


async def test_admin_sees_the_settings_link(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    org = tenant.organization.id
    await sign_in(client, session, tenant.users[Role.admin])
    page = await client.get(f"/orgs/{org}/safeguards")
    assert f'<a href="/orgs/{org}/safeguards/settings">Settings</a>' in page.text
    assert '<p class="empty muted" id="no-reports">No reports yet' in page.text


async def test_another_workspace_gets_the_same_404(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    other_tenant: Tenant,
    screened: Screened,
) -> None:
    await sign_in(client, session, other_tenant.owner)
    mine = other_tenant.organization.id
    for url in (
        f"/orgs/{tenant.organization.id}/safeguards",
        f"/orgs/{mine}/safeguards/reports/{screened.report.id}",
        f"/orgs/{mine}/safeguards/reports/{uuid.uuid4()}",
        f"/orgs/{mine}/products/{screened.product.id}/safeguard",
    ):
        response = await client.get(url)
        assert response.status_code == 404, url
        assert "Zorblax" not in response.text
    listed = await client.get(f"/orgs/{mine}/safeguards")
    assert str(screened.report.id) not in listed.text
    # Nor can the other workspace act on it: override, re-screen, rewrite.
    for path, missing in (
        (f"/orgs/{mine}/safeguards/reports/{screened.report.id}/override", "Safeguard report"),
        (f"/orgs/{mine}/safeguards/products/{screened.product.id}/screen", "Product"),
        (
            f"/orgs/{mine}/safeguards/reports/{screened.report.id}/findings/0/rewrite",
            "Safeguard report",
        ),
    ):
        response = await post(client, path, {"reason": "Because I say so, really."})
        assert f"<span>{missing} not found.</span>" in await follow(client, response), path
    assert await overrides_of(session, screened.report) == []
    assert await report_count(session, screened.product) == 1


async def report_count(session: AsyncSession, product: Product) -> int:
    result = await session.execute(
        select(func.count())
        .select_from(SafeguardReport)
        .where(SafeguardReport.product_id == product.id)
    )
    return int(result.scalar_one())


# --- one report -------------------------------------------------------------------------------


def between(page: str, start: str, end: str) -> str:
    assert start in page, start
    return page.split(start, 1)[1].split(end, 1)[0]


def screened_text(page: str, field: str) -> str:
    match = re.search(rf'<p class="screened-text" data-field="{re.escape(field)}">(.*?)</p>', page)
    assert match, field
    return match.group(1)


def facts(page: str, finding: int) -> list[tuple[str, str]]:
    item = between(page, f'id="finding-{finding}"', "</li>")
    return [
        (html.unescape(label), html.unescape(value))
        for label, value in re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", item)
    ]


async def test_report_page_highlights_every_field_and_shows_the_evidence(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, screened: Screened
) -> None:
    org = tenant.organization.id
    product = screened.product
    await sign_in(client, session, tenant.users[Role.viewer])
    page = (await client.get(report_url(tenant, screened.report))).text

    assert 'data-verdict="block">BLOCK</span></h1>' in page
    assert "· quality 72/100" in page
    # The listing title: the mark and the claim, each marked with its verdict, the rest plain.
    assert screened_text(page, "etsy:en:title") == (
        '<mark class="finding finding-block" data-code="trademark.exact" data-finding="0" '
        'title="trademark.exact">Zorblax</mark> tee that '
        '<mark class="finding finding-warn" data-code="claims.medical" data-finding="1" '
        'title="claims.medical">cures anxiety</mark>'
    )
    # The design's text layer, named by its layer name, escaped.
    assert screened_text(page, "layer:slogan") == (
        '<mark class="finding finding-warn" data-code="ip.character" data-finding="2" '
        'title="ip.character">Zorblax mama</mark> &amp; &lt;co&gt;'
    )
    assert '<p class="small muted">Layer “Slogan”</p>' in page
    assert screened_text(page, "title") == "Zorblax tee"
    assert screened_text(page, "etsy:en:tags") == "mama, gift"
    # Where each is edited; a viewer (content:read only) gets no edit links.
    assert f'href="/orgs/{org}/listings/{screened.copy.id}"' not in page

    # Findings grouped by category, in the report's category order.
    assert re.findall(r'<section class="finding-group" id="category-(\w+)">', page) == [
        "trademark",
        "ip",
        "claims",
        "plagiarism",
    ]
    assert facts(page, 0) == [
        ("Mark", "ZORBLAX"),
        (
            "Serial number",
            f'<a href="{MARK_SOURCE}" rel="noopener noreferrer" target="_blank">99999999</a>',
        ),
        ("Registration number", "9999999"),
        ("Status", "live"),
        ("Office", "USPTO"),
        ("Owner", "Zorblax Ltd."),
        ("Nice classes", "25"),
        ("Match type", "exact"),
        ("In this product's classes", "yes"),
        ("Score", "1.00"),
        (
            "Source",
            '<a href="https://facts.example.org/zorblax" rel="noopener noreferrer" '
            'target="_blank">facts.example.org</a>',
        ),
    ]
    assert "in etsy listing (en) · title</p>" in between(page, 'id="finding-0"', "</li>")
    # A rule finding names its pack and rule; a source that is not http(s) is never linked.
    assert facts(page, 1) == [
        ("Rule pack", "claims v1.0.0"),
        ("Rule", "claims.disease — Claims to cure or treat a condition"),
        ("Matched", "cures anxiety"),
    ]
    assert "javascript:" not in page
    assert "in design layer “Slogan”</p>" in between(page, 'id="finding-2"', "</li>")
    # Duplication: the similarity, never the other workspace's listing.
    assert facts(page, 3) == [
        ("Similarity", "93 %"),
        ("Matched", "a listing in another workspace (not shown)"),
    ]
    # A viewer reads; it cannot re-screen, override or ask for rewrites.
    for control in ('id="rescreen-form"', 'id="override-form"', "Suggest a safe rewrite"):
        assert control not in page, control
    assert '<p id="publishing">Publishing: <strong class="error">refused</strong>' in page
    # The report's text no longer matches the product's: the page says to screen again.
    assert 'id="stale-report"' in page
    assert f'<a href="/orgs/{org}/products/{product.id}">Zorblax tee</a>' in page


async def test_what_an_editor_and_an_admin_see_on_a_report(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, screened: Screened
) -> None:
    org = tenant.organization.id
    await sign_in(client, session, tenant.users[Role.editor])
    editor = (await client.get(report_url(tenant, screened.report))).text
    assert 'id="rescreen-form"' in editor
    assert 'id="override-form"' not in editor
    # A rewrite button on every finding with a span that is not a PASS (not on duplication).
    assert re.findall(r'<div id="rewrite-(\d+)">', editor) == ["0", "2", "1"]
    assert (
        f'<a href="/orgs/{org}/listings/{screened.copy.id}">Edit in the listing editor</a>'
        in editor
    )
    assert (
        f'<a href="/orgs/{org}/studio/designs/{screened.product.design_id}">Edit the design</a>'
        in editor
    )

    await sign_in(client, session, tenant.users[Role.admin])
    admin = (await client.get(report_url(tenant, screened.report))).text
    assert 'id="override-form"' in admin
    assert 'id="rescreen-form"' in admin


async def test_an_older_report_points_to_the_newest_and_cannot_be_overridden(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, screened: Screened
) -> None:
    newer = await create_report(session, screened.product)
    # Reports created in the same transaction share created_at; the newest is decided by id then.
    newest = max((screened.report, newer), key=lambda r: (r.created_at, r.id))
    older = screened.report if newest is newer else newer
    await sign_in(client, session, tenant.owner)
    page = (await client.get(report_url(tenant, older))).text
    assert (
        f'A newer report of this product exists: <a href="/orgs/{tenant.organization.id}'
        f'/safeguards/reports/{newest.id}">open it</a>'
    ) in page
    assert 'id="override-form"' not in page


# --- overrides and re-screening ---------------------------------------------------------------


async def test_override_needs_a_reason_and_then_shows_who_when_and_why(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, screened: Screened
) -> None:
    admin = tenant.users[Role.admin]
    url = report_url(tenant, screened.report)
    await sign_in(client, session, admin)

    for reason in ("", "   ", "too short"):
        refused = await post(client, f"{url}/override", {"reason": reason})
        assert refused.headers["location"] == url
        page = await follow(client, refused)
        assert (
            "reason: write at least 10 characters saying why publishing is safe "
            "(e.g. 'we own this mark, registration 1234567')." in page
        )
    assert await overrides_of(session, screened.report) == []
    assert await events(session, "safeguard.overridden") == []

    reason = "We own the Zorblax mark, registration 9999999."
    done = await post(client, f"{url}/override", {"reason": reason})
    page = await follow(client, done)
    assert "Overridden: publishing may go ahead on this report." in page
    [override] = await overrides_of(session, screened.report)
    assert (override.user_id, override.reason) == (admin.id, reason)
    section = between(page, '<section id="override">', "</section>")
    assert f"By <strong>{admin.email}</strong> on {override.created_at:%Y-%m-%d %H:%M:%S} UTC" in (
        section
    )
    assert f'<blockquote id="override-reason">{reason}</blockquote>' in section
    assert 'id="override-form"' not in page
    [event] = await events(session, "safeguard.overridden")
    assert (event.actor_id, event.organization_id, event.target_id) == (
        admin.id,
        tenant.organization.id,
        str(screened.report.id),
    )
    assert event.details["reason"] == reason
    assert event.details["verdict"] == "block"

    # A second decision on the same report is refused and changes nothing.
    again = await post(client, f"{url}/override", {"reason": "Another reason, long enough."})
    assert "This report is overridden already." in await follow(client, again)
    assert len(await overrides_of(session, screened.report)) == 1
    listed = await client.get(f"/orgs/{tenant.organization.id}/safeguards")
    assert f'title="{reason}">overridden</span>' in html.unescape(listed.text)


async def test_an_editor_cannot_override_and_the_denial_is_audited(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, screened: Screened
) -> None:
    editor = tenant.users[Role.editor]
    await sign_in(client, session, editor)
    url = report_url(tenant, screened.report)
    refused = await post(client, f"{url}/override", {"reason": "I think it is fine, honestly."})
    assert (
        "Your role does not allow 'safeguards:override'; ask a workspace owner or admin."
        in await follow(client, refused)
    )
    assert await overrides_of(session, screened.report) == []
    [denial] = [e for e in await events(session, "safeguard.overridden") if e.outcome == "denied"]
    assert (denial.actor_id, denial.details) == (
        editor.id,
        {"missing_permission": "safeguards:override"},
    )


async def test_rescreen_now_writes_a_new_report_and_opens_it(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, screened: Screened
) -> None:
    org = tenant.organization.id
    await sign_in(client, session, tenant.users[Role.viewer])
    refused = await post(
        client, f"/orgs/{org}/safeguards/products/{screened.product.id}/screen", {}
    )
    assert "Your role does not allow 'safeguards:manage'" in await follow(client, refused)
    assert await report_count(session, screened.product) == 1

    await sign_in(client, session, tenant.users[Role.editor])
    done = await post(client, f"/orgs/{org}/safeguards/products/{screened.product.id}/screen", {})
    assert await report_count(session, screened.product) == 2
    new = (
        await session.execute(
            select(SafeguardReport)
            .where(SafeguardReport.product_id == screened.product.id)
            .where(SafeguardReport.id != screened.report.id)
        )
    ).scalar_one()
    assert new.trigger == ScreenTrigger.manual
    assert done.headers["location"] == report_url(tenant, new)
    page = await follow(client, done)
    to_look_at = sum(1 for f in new.findings if f["verdict"] != "pass")
    assert f"Screened: {new.verdict.value.upper()}, {to_look_at} finding(s) to look at." in page
    # The new report is the product as it is: current, and every span it found is highlighted.
    assert 'id="stale-report"' not in page
    for finding in new.findings:
        if finding["span"]:
            assert f'data-code="{finding["code"]}"' in page
    fields = {f["name"] for f in new.subject["fields"]}
    assert {"title", "layer:slogan", "etsy:en:title"} <= fields


# --- the phrase check -------------------------------------------------------------------------


def marks_in(markup: str) -> list[tuple[str, str, str]]:
    """(verdict, codes, text) of every <mark class="finding …"> in a highlighted text."""
    return [
        (verdict, codes, html.unescape(text))
        for verdict, codes, text in re.findall(
            r'<mark class="finding finding-(\w+)" data-code="([^"]*)"[^>]*>([^<]*)</mark>', markup
        )
    ]


async def test_check_a_phrase_returns_the_findings_highlighted(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    org = tenant.organization.id
    await sign_in(client, session, tenant.users[Role.viewer])
    page = await client.get(f"/orgs/{org}/safeguards")
    assert (
        f'hx-post="/orgs/{org}/safeguards/check" hx-target="#phrase-check" hx-swap="outerHTML"'
        in page.text
    )
    assert '<option value="tshirt" selected>' in page.text
    assert '<option value="mug-11oz"' in page.text

    phrase = "Soft <tee> that cures anxiety"
    response = await post(
        client,
        f"/orgs/{org}/safeguards/check",
        [("text", phrase), ("product_type", "tshirt"), ("platforms", "etsy")],
    )
    assert response.status_code == 200
    fragment = response.text
    assert fragment.startswith('<div id="phrase-check">')
    expected = await safeguard_service.screen_text(
        session,
        AuthSubject(tenant.users[Role.viewer]),
        organization_id=org,
        text=phrase,
        product_type="tshirt",
        platforms=["etsy"],
    )
    [claim] = [f for f in expected.findings if f.span and f.span.text == "cures anxiety"]
    assert claim.category == "claims"
    text = between(fragment, '<p class="screened-text" id="check-text">', "</p>")
    assert visible_text(text) == phrase
    assert (claim.verdict.value, claim.code, "cures anxiety") in marks_in(text)
    assert "&lt;tee&gt;" in text
    assert f'data-verdict="{expected.verdict.value}">{expected.verdict.value.upper()}</span>' in (
        between(fragment, '<p id="check-verdict">', "</p>")
    )
    assert f"{len(expected.findings)} finding(s)" in fragment
    for finding in expected.findings:
        assert f'data-code="{finding.code}"' in fragment
    # A phrase check has no report, so nothing to rewrite and nothing saved.
    assert "Suggest a safe rewrite" not in fragment
    assert "Nothing was saved." in fragment


async def test_check_a_phrase_explains_bad_input(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    org = tenant.organization.id
    await sign_in(client, session, tenant.users[Role.viewer])
    cases = [
        ([("text", "   "), ("product_type", "tshirt")], "text: is empty; give the text to screen."),
        ([("text", "Stay wild"), ("product_type", "spaceship")], "product_type: "),
        (
            [("text", "Stay wild"), ("product_type", "tshirt"), ("platforms", "myspace")],
            "platforms: 'myspace' is not a platform; use one of ",
        ),
        (
            [("text", "a" * 20_001), ("product_type", "tshirt")],
            "text: is 20,001 characters; screen at most 20,000 at a time.",
        ),
    ]
    for form, message in cases:
        response = await post(client, f"/orgs/{org}/safeguards/check", form)
        assert response.status_code == 200, form
        error = between(response.text, '<p class="flash flash-error" role="alert">', "</p>")
        assert html.unescape(error).startswith(message), error
        assert 'id="check-text"' not in response.text


# --- safe rewrites ----------------------------------------------------------------------------


def suggestions_in(fragment: str) -> list[tuple[str, str | None]]:
    """(suggested text, its screen verdict) of each suggestion in a rewrite fragment."""
    items = re.findall(r'<li data-suggestion="\d+">(.*?)</li>', fragment, re.S)
    found = []
    for item in items:
        text = re.search(r'<span id="rewrite-\d+-\d+">(.*?)</span>', item)
        verdict = re.search(r'data-verdict="(\w+)"', item)
        assert text, item
        found.append((html.unescape(text.group(1)), verdict.group(1) if verdict else None))
    return found


async def expected_verdict(session: AsyncSession, tenant: Tenant, text: str) -> str:
    """A suggestion's verdict as the page computes it: the product's checks, minus
    duplication (a rewrite of a listing resembles that listing)."""
    result = await safeguard_service.screen_text(
        session,
        AuthSubject(tenant.owner),
        organization_id=tenant.organization.id,
        text=text,
        product_type="tshirt",
        platforms=["etsy"],
    )
    return worst([f.verdict for f in result.findings if f.category != "plagiarism"]).value


async def ai_rows(session: AsyncSession, tenant: Tenant) -> list[AIGeneration]:
    rows = await session.execute(
        select(AIGeneration).where(AIGeneration.organization_id == tenant.organization.id)
    )
    return list(rows.scalars())


async def listing_versions(session: AsyncSession, copy: ListingCopy) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(ListingCopyVersion.fields).where(ListingCopyVersion.listing_copy_id == copy.id)
    )
    return list(rows.scalars())


async def test_offline_rewrites_are_labelled_screened_and_never_saved(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, screened: Screened
) -> None:
    org = tenant.organization.id
    url = report_url(tenant, screened.report)
    await sign_in(client, session, tenant.users[Role.editor])

    response = await post(client, f"{url}/findings/0/rewrite", {})
    assert response.status_code == 200
    fragment = response.text
    assert fragment.startswith('<div id="rewrite-0" class="rewrite">')
    assert '<span class="badge badge-muted" title="Made without an AI provider' in fragment
    assert ">offline</span>" in fragment
    assert "etsy listing (en) · title" in fragment
    removed, neutral = "tee that cures anxiety", "original tee that cures anxiety"
    assert suggestions_in(fragment) == [
        (removed, await expected_verdict(session, tenant, removed)),
        (neutral, await expected_verdict(session, tenant, neutral)),
    ]
    assert 'data-copy="#rewrite-0-0"' in fragment
    # Applying one goes through the listing editor, which saves a version and re-screens.
    assert f'<a href="/orgs/{org}/listings/{screened.copy.id}">edit in the listing editor</a>' in (
        fragment
    )
    # A claim is removed, never softened: one suggestion only.
    claim = await post(client, f"{url}/findings/1/rewrite", {})
    assert [text for text, _ in suggestions_in(claim.text)] == ["Zorblax tee that"]
    # Nothing was saved and no provider was asked.
    assert await listing_versions(session, screened.copy) == [
        {"title": LISTING_TITLE, "description": "A soft tee.", "tags": ["mama"]}
    ]
    assert await ai_rows(session, tenant) == []


async def test_rewrites_are_refused_without_a_span_or_the_permission(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, screened: Screened
) -> None:
    url = report_url(tenant, screened.report)
    await sign_in(client, session, tenant.users[Role.editor])
    for index in (3, 4, 99):  # 3 is the duplication finding: it has no span
        missing = await post(client, f"{url}/findings/{index}/rewrite", {})
        assert "<span>Finding not found.</span>" in await follow(client, missing), index

    viewer = tenant.users[Role.viewer]
    await sign_in(client, session, viewer)
    refused = await post(client, f"{url}/findings/0/rewrite", {})
    assert "Your role does not allow 'safeguards:manage'" in await follow(client, refused)
    [denial] = await events(session, "safeguard.rewrite_suggested")
    assert (denial.actor_id, denial.outcome, denial.target_id) == (
        viewer.id,
        "denied",
        str(screened.report.id),
    )


async def test_a_workspace_provider_writes_the_rewrites(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    screened: Screened,
    twins: Twins,
) -> None:
    await use_twins(session, tenant.organization, twins, ["openai", "offline"])
    url = report_url(tenant, screened.report)
    await sign_in(client, session, tenant.users[Role.editor])

    response = await post(client, f"{url}/findings/1/rewrite", {})
    assert response.status_code == 200
    fragment = response.text
    assert "written by <strong>openai</strong>" in fragment
    assert ">offline</span>" not in fragment
    assert twins.requests("openai") == 1
    # (The suggestions' own screens send moderation requests too: pick the chat completion.)
    [body] = [b for b in twins.state("openai").bodies if "messages" in b]
    system, user = (m["content"] for m in body["messages"])
    assert "never add a claim" in system
    assert f'Text: """{LISTING_TITLE}"""' in user
    assert 'Flagged words: "cures anxiety"' in user
    assert "Why they were flagged: “cures anxiety” claims the product cures a condition" in user
    # The twin answers from the schema it was sent; the page shows those rewrites, screened.
    answer = synthesize(
        body["response_format"]["json_schema"]["schema"],
        "\n".join(m["content"] for m in body["messages"]),
    )
    texts = list(dict.fromkeys(t.strip() for t in answer["rewrites"] if t.strip()))
    assert len(texts) >= 1
    assert suggestions_in(fragment) == [
        (t, await expected_verdict(session, tenant, t)) for t in texts if t != LISTING_TITLE
    ]
    [generation] = await ai_rows(session, tenant)
    assert (generation.provider, generation.prompt_name, generation.task) == (
        "openai",
        "safe_rewrite",
        "listing_copy",
    )
    assert generation.product_id == screened.product.id
    assert await listing_versions(session, screened.copy) == [
        {"title": LISTING_TITLE, "description": "A soft tee.", "tags": ["mama"]}
    ]


# --- the product page panel -------------------------------------------------------------------


async def test_the_product_page_loads_the_safeguard_panel(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    org = tenant.organization.id
    design, version = await create_design(session, tenant.organization)
    product = await create_product(session, design, version)
    panel_url = f"/orgs/{org}/products/{product.id}/safeguard"
    await sign_in(client, session, tenant.users[Role.viewer])

    page = await client.get(f"/orgs/{org}/products/{product.id}")
    assert "<h2>Safeguards</h2>" in page.text
    assert f'<div hx-get="{panel_url}" hx-trigger="load" hx-swap="outerHTML">' in page.text
    empty = (await client.get(panel_url)).text
    assert '<p class="muted" id="safeguard-none">Not screened yet.</p>' in empty
    assert "Screen now" not in empty  # a viewer cannot screen

    await sign_in(client, session, tenant.users[Role.editor])
    editor = (await client.get(panel_url)).text
    assert f'action="/orgs/{org}/safeguards/products/{product.id}/screen"' in editor
    assert ">Screen now</button>" in editor

    report = await create_report(session, product)
    panel = (await client.get(panel_url)).text
    assert 'data-verdict="block">BLOCK</span>' in panel
    assert (
        f'<a href="/orgs/{org}/safeguards/reports/{report.id}" id="safeguard-report-link">'
        "Safeguard report</a>"
    ) in panel
    assert '<p class="muted small" id="safeguard-stale">' in panel
    assert 'Publishing: <strong class="error">refused</strong>.' in panel
    assert ">Re-screen now</button>" in panel


async def test_the_panel_of_a_passing_current_product_allows_publishing(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    design, version = await create_design(session, tenant.organization, name="Sunny days")
    product = await create_product(session, design, version, title="Sunny days tee")
    report = await safeguard_service.screen_product(
        session, AuthSubject(tenant.owner), product.id, trigger="manual"
    )
    await sign_in(client, session, tenant.users[Role.viewer])
    panel = (
        await client.get(f"/orgs/{tenant.organization.id}/products/{product.id}/safeguard")
    ).text
    assert f'data-verdict="{report.verdict.value}"' in panel
    assert 'id="safeguard-stale"' not in panel
    publishing = "allowed" if report.verdict == Verdict.passed else '<strong class="error">refused'
    assert f'<p class="small" id="safeguard-publishing">Publishing: {publishing}' in panel


# --- settings ---------------------------------------------------------------------------------


async def test_settings_are_for_owners_and_admins(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    url = f"/orgs/{tenant.organization.id}/safeguards/settings"
    for role in (Role.viewer, Role.editor):
        await sign_in(client, session, tenant.users[role])
        page = await client.get(url)
        assert page.status_code == 403, role
        assert "Your role does not allow &#39;safeguards:configure&#39;" in page.text
        refused = await post(client, url, {"block_on_warn": "1"})
        assert "Your role does not allow 'safeguards:configure'" in await follow(client, refused)
    assert await settings_rows(session, tenant) == []


async def settings_rows(session: AsyncSession, tenant: Tenant) -> list[SafeguardSettings]:
    rows = await session.execute(
        select(SafeguardSettings)
        .where(SafeguardSettings.organization_id == tenant.organization.id)
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def test_an_admin_changes_thresholds_and_the_pause_on_a_new_mark(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    url = f"/orgs/{tenant.organization.id}/safeguards/settings"
    admin = tenant.users[Role.admin]
    await sign_in(client, session, admin)
    page = (await client.get(url)).text
    defaults = threshold_fields()
    for name, default in defaults.items():
        if isinstance(default, bool):
            checked = "checked" if default else ""
            assert f'name="threshold_{name}" value="1" {checked}>' in page
        else:
            assert (
                f'name="threshold_{name}" inputmode="decimal" value="" placeholder="{default}"'
                in page
            )
    assert 'name="pause_on_new_mark" value="1" >' in page

    bad = await post(client, url, {"quality_warn_below": "lots"})
    assert "quality_warn_below: 'lots' is not a number; type it like 0." in await follow(
        client, bad
    )
    out_of_range = await post(client, url, {"plagiarism_threshold": "0.2"})
    assert "plagiarism_threshold: choose a similarity from 0.5 to 1.0" in await follow(
        client, out_of_range
    )
    name = "phonetic_warn"
    assert isinstance(defaults[name], float)
    bad_threshold = await post(client, url, {f"threshold_{name}": "7"})
    assert (
        f"trademark_thresholds: trademark threshold {name} must be a number in (0, 1]"
        in await follow(client, bad_threshold)
    )
    assert await settings_rows(session, tenant) == []

    saved = await post(
        client,
        url,
        {
            "pause_on_new_mark": "1",
            "quality_warn_below": "60",
            "plagiarism_threshold": "0.9",
            f"threshold_{name}": "0.5",
            "threshold_block_unknown_class": "1",
        },
    )
    page = await follow(client, saved)
    assert "Safeguard settings saved; they apply from the next screen." in page
    [row] = await settings_rows(session, tenant)
    assert (row.pause_on_new_mark, row.block_on_warn) == (True, False)
    assert (row.quality_warn_below, row.plagiarism_threshold) == (60, 0.9)
    # report_informational (on by default) was left unticked: switched off.
    assert row.trademark_thresholds == {
        name: 0.5,
        "block_unknown_class": True,
        "report_informational": False,
    }
    assert row.modified_by_user_id == admin.id
    assert f'name="threshold_{name}" inputmode="decimal" value="0.5"' in page
    assert 'name="pause_on_new_mark" value="1" checked>' in page
    [event] = await events(session, "safeguard.settings_updated")
    assert event.actor_id == admin.id
    assert event.details["pause_on_new_mark"] is True

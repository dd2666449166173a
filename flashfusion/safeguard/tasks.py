"""Safeguard jobs: screening products, re-screening live listings after a marks import.

`safeguard.screen_product` screens one product: a screen asked for by a change writes a report
only when the product's text (or the rule packs) differ from its newest report's, so a burst of
edits queues cheap no-ops after the first. `safeguard.rescreen_import` streams the newest report
of every product, a page per durable step, re-matches its stored text against the marks the
import added or changed (from memory for a daily file, through the marks database for a big
one), and screens again only the products such a mark now hits: those get a new report (trigger
`import`), an audit event, and a hold when their workspace chose that. A page step re-run after
a crash finds the products it already screened matching already, and skips them.
"""

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from dbos import DBOS
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.audit.service import audit as audit_service
from flashfusion.db import unit_of_work
from flashfusion.jobs.registry import job
from flashfusion.models import Product, SafeguardReport, ScreenTrigger
from flashfusion.product.repository import ProductRepository
from flashfusion.safeguard import checks
from flashfusion.safeguard.pipeline import ScreenSettings, subject_from_json
from flashfusion.safeguard.repository import (
    SafeguardHoldRepository,
    SafeguardReportRepository,
    SafeguardSettingsRepository,
)
from flashfusion.safeguard.service import RESCREEN_JOB, SCREEN_JOB
from flashfusion.safeguard.service import safeguard as safeguard_service
from flashfusion.safeguard.subject import flagged_marks, report_findings
from flashfusion.safeguard.types import ScreenSubject, Verdict

# Newest reports re-matched per durable step.
PAGE = 200


async def _product(session: AsyncSession, product_id: uuid.UUID) -> Product | None:
    # A system job: the id came from a tenant-checked enqueue, so no tenant filter here.
    return await ProductRepository.from_session(session).get_by_id(product_id)


@DBOS.step(name="safeguard.screen")
async def screen(product_id: str, trigger: str) -> str | None:
    """Screen the product; the new report's id, or None (gone, or unchanged since its newest
    report and not asked for by hand)."""
    async with unit_of_work() as session:
        product = await _product(session, uuid.UUID(product_id))
        if product is None:
            return None
        kind = ScreenTrigger(trigger)
        if kind == ScreenTrigger.change:
            latest = await SafeguardReportRepository.from_session(session).latest_for_product(
                product.id
            )
            subject = await safeguard_service.subject_for_product(session, product)
            if latest is not None and safeguard_service.is_current(latest, subject):
                return None
        report = await safeguard_service.store_screen(session, product, trigger=kind)
        return str(report.id)


@job(SCREEN_JOB, label="Screen a product (safeguards)", queue="safeguard")
async def screen_product(product_id: str, trigger: str = "change") -> str | None:
    """Screen one product and keep the report."""
    return await screen(product_id, trigger)


# --- re-screening after a marks import ----------------------------------------------------------

# FlashFusion's limit: an import that changed at most this many marks is matched from memory
# (its marks indexed once per process, like the starter set); a bigger one (an annual back
# file) through each product's own candidates in the marks database.
IN_MEMORY_MARKS = 20_000
_indexes: dict[str, tuple[Any, set[str]]] = {}

Hits = Callable[[ScreenSubject, ScreenSettings], Awaitable[set[str]]]


async def _hits_from_memory(session: AsyncSession, import_id: str) -> Hits:
    """Match against the import's own marks, indexed once per process."""
    if import_id not in _indexes:
        marks = await checks.changed_marks(session, import_id)
        _indexes.clear()  # one import at a time: the queue runs them in turn
        _indexes[import_id] = (checks.mark_index(marks), checks.mark_keys_of(marks))
    index, keys = _indexes[import_id]

    async def hits(subject: ScreenSubject, settings: ScreenSettings) -> set[str]:
        found = checks.match_marks(subject, index, settings.trademark_thresholds)
        return set(flagged_marks(found)) & keys

    return hits


def _hits_from_database(session: AsyncSession, import_id: str) -> Hits:
    """Match against the subject's candidates in the marks database; keep the marks this
    import added or changed."""

    async def hits(subject: ScreenSubject, settings: ScreenSettings) -> set[str]:
        found, _ = await checks.trademark(session, subject, settings.trademark_thresholds)
        by_row = {
            str(f.evidence["mark_id"]): f
            for f in found
            if f.evidence.get("mark_id") and f.verdict != Verdict.passed
        }
        changed = await checks.changed_among(session, import_id, set(by_row))
        return set(flagged_marks([by_row[i] for i in changed]))

    return hits


async def _rescreen(
    session: AsyncSession,
    report: SafeguardReport,
    *,
    import_id: str,
    hits: Hits,
    settings: ScreenSettings,
) -> bool:
    """Screen the report's product again if a changed mark now hits its text; True if the
    product newly matches (flagged, and held if its workspace chose that)."""
    before = set(flagged_marks(report_findings(report)))
    new = await hits(subject_from_json(report.subject), settings)
    if not new - before:
        return False
    assert report.product_id is not None
    product = await _product(session, report.product_id)
    if product is None:
        return False
    fresh = await safeguard_service.store_screen(
        session, product, trigger=ScreenTrigger.import_, import_id=import_id
    )
    found = flagged_marks(report_findings(fresh))
    newly = {k: v for k, v in found.items() if k in new and k not in before}
    if not newly:
        return False
    marks = list(newly.values())
    await audit_service.record(
        session,
        None,
        action="safeguard.new_mark_match",
        organization_id=product.organization_id,
        target_type="product",
        target_id=product.id,
        details={
            "report_id": str(fresh.id),
            "import_id": import_id,
            "verdict": fresh.verdict.value,
            "marks": marks,
            "held": settings.pause_on_new_mark,
        },
    )
    if settings.pause_on_new_mark:
        await SafeguardHoldRepository.from_session(session).hold(
            organization_id=product.organization_id,
            product_id=product.id,
            report_id=fresh.id,
            import_id=import_id,
            marks=marks,
        )
    return True


@DBOS.step(name="safeguard.rescreen_page")
async def rescreen_page(import_id: str, after: str | None) -> tuple[str | None, int]:
    """One page of newest reports from product id `after`; the next page's start (None: done)
    and how many products newly match a changed mark."""
    async with unit_of_work() as session:
        changed = await checks.changed_count(session, import_id)
        if not changed:
            return None, 0
        hits = (
            await _hits_from_memory(session, import_id)
            if changed <= IN_MEMORY_MARKS
            else _hits_from_database(session, import_id)
        )
        reports = await SafeguardReportRepository.from_session(session).latest_page(
            after_product_id=uuid.UUID(after) if after else None, limit=PAGE
        )
        settings_rows = await SafeguardSettingsRepository.from_session(session).for_organizations(
            {r.organization_id for r in reports}
        )
        flagged = 0
        for report in reports:
            settings = ScreenSettings.of(settings_rows.get(report.organization_id))
            flagged += await _rescreen(
                session, report, import_id=import_id, hits=hits, settings=settings
            )
        if len(reports) < PAGE:
            return None, flagged
        return str(reports[-1].product_id), flagged


async def rescreen_all(import_id: str) -> int:
    """The workflow's body: every page in turn (each a durable step)."""
    flagged = 0
    after: str | None = None
    while True:
        after, found = await rescreen_page(import_id, after)
        flagged += found
        if after is None:
            return flagged


@job(RESCREEN_JOB, label="Re-screen products after a trademark import", queue="safeguard")
async def rescreen_import(import_id: str) -> int:
    """Every screened product against the marks an import added or changed; how many newly
    match (each flagged with a new report, held where the workspace chose that)."""
    return await rescreen_all(import_id)

"""Safeguards: screen a product (or a bare text) with every check, keep a report per product
version, refuse publishing on BLOCK, and record an owner's or admin's override with its reason.

A report is never changed once written. The newest report of a product is the one publishing
obeys; it is *current* while the product's text, type and platforms hash to its `subject_hash`
and the rule packs and starter set are the versions it was made with. An override belongs to
one report, so a changed product needs a new screen (and, if it still blocks, a new decision).
"""

import builtins
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.audit.service import audit as audit_service
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.authz.permission import Permission
from flashfusion.authz.service import authz
from flashfusion.authz.types import AccessibleOrganizationID
from flashfusion.catalog.registry import get_catalog
from flashfusion.catalog.service import catalog as catalog_service
from flashfusion.content.draft import Platform
from flashfusion.content.repository import ListingCopyVersionRepository
from flashfusion.content.writer import profile_of
from flashfusion.exceptions import AppError, Conflict, ResourceNotFound, UnprocessableEntity
from flashfusion.jobs.enqueue import enqueue
from flashfusion.kit.pagination import PaginationParams
from flashfusion.models import (
    Job,
    ListingCopyVersion,
    Product,
    SafeguardHold,
    SafeguardOverride,
    SafeguardReport,
    SafeguardSettings,
    ScreenTrigger,
    utc_now,
)
from flashfusion.product.repository import ProductRepository
from flashfusion.safeguard import checks
from flashfusion.safeguard.pipeline import (
    DEFAULT_PLAGIARISM_THRESHOLD,
    DEFAULT_QUALITY_WARN_BELOW,
    ListingContext,
    ScreenResult,
    ScreenSettings,
    check_subject,
    mark_key,
    run_checks,
    subject_hash,
    subject_to_json,
)
from flashfusion.safeguard.repository import (
    ProductCopyRepository,
    SafeguardHoldRepository,
    SafeguardOverrideRepository,
    SafeguardReportRepository,
    SafeguardSettingsRepository,
    ScreenSourceRepository,
)
from flashfusion.safeguard.subject import (
    ProductSubject,
    blocking_findings,
    describe_findings,
    design_fields,
    flagged_marks,
    listing_fields,
    report_findings,
    text_subject,
)
from flashfusion.safeguard.trademark.classes import nice_classes_for
from flashfusion.safeguard.types import Finding, ScreenSubject, TextField, Verdict
from flashfusion.studio.media import _creator_id

SCREEN_JOB = "safeguard.screen_product"
RESCREEN_JOB = "safeguard.rescreen_import"
MIN_REASON, MAX_REASON = 10, 1000


class InvalidOverride(UnprocessableEntity):
    """The override's reason is missing, too short or too long."""


class NothingToOverride(Conflict):
    """The report passed, or a newer report of the product exists, or it is overridden."""


class InvalidSafeguardSettings(UnprocessableEntity):
    """A threshold or setting is out of range; the message names the field."""


class PublishingBlocked(AppError):
    """The product's newest safeguard report blocks publishing (or the product is on hold)."""

    status_code = 409

    def __init__(
        self,
        detail: str,
        *,
        report: SafeguardReport,
        findings: builtins.list[Finding],
        hold: SafeguardHold | None,
    ) -> None:
        super().__init__(detail)
        self.report = report
        self.findings = findings
        self.hold = hold


@dataclass
class GateResult:
    """What the publishing gate found: the report publishing goes ahead on, whether the gate
    had to screen first, and the override that lets a BLOCK or WARN through (if any)."""

    report: SafeguardReport
    screened: bool
    override: SafeguardOverride | None

    @property
    def verdict(self) -> Verdict:
        return self.report.verdict


@dataclass
class SafeguardStatus:
    """A product's standing, for its page: its newest report, whether that is still current,
    its override and hold, and whether publishing would go ahead."""

    report: SafeguardReport
    current: bool
    override: SafeguardOverride | None
    hold: SafeguardHold | None
    blocking: builtins.list[Finding] = field(default_factory=list)

    @property
    def publishable(self) -> bool:
        return self.hold is None and (not self.blocking or self.override is not None)


class SafeguardService:
    # --- what a product is screened on -------------------------------------------------------

    async def _gather(self, session: AsyncSession, product: Product) -> ProductSubject:
        return (await self._gather_many(session, [product]))[product.id]

    async def _gather_many(
        self, session: AsyncSession, products: Sequence[Product]
    ) -> dict[uuid.UUID, ProductSubject]:
        """What each product is screened on (see `subject_for_product`), by product id: one
        statement per kind of row whatever the number of products, one catalog per workspace."""
        organizations = {p.organization_id for p in products}
        sources = ScreenSourceRepository.from_session(session)
        versions = await sources.design_versions(
            {p.design_version_id for p in products}, organizations
        )
        copies_of = await ProductCopyRepository.from_session(session).for_products(products)
        every_copy = [c for copies in copies_of.values() for c in copies]
        latest: dict[
            uuid.UUID, ListingCopyVersion
        ] = await ListingCopyVersionRepository.from_session(session).latest_for(every_copy)
        voices = await sources.brand_voices(
            {c.brand_voice_id for c in every_copy if c.brand_voice_id is not None}, organizations
        )
        catalogs = {o: await catalog_service.effective(session, o) for o in organizations}
        gathered: dict[uuid.UUID, ProductSubject] = {}
        for product in products:
            fields: builtins.list[TextField] = [TextField("title", product.title)]
            version = versions.get(product.design_version_id)
            if version is not None:
                fields += design_fields(version.document)
            copies = [c for c in copies_of[product.id] if c.id in latest]
            listings: builtins.list[ListingContext] = []
            for copy in copies:
                copy_version = latest[copy.id]
                prefix = f"{copy.platform}:{copy.language}:"
                fields += listing_fields(prefix, copy_version.fields)
                listings.append(
                    ListingContext(
                        prefix=prefix,
                        platform=copy.platform,
                        language=copy.language,
                        listing_copy_id=copy.id,
                        version=copy_version.version,
                        keywords=tuple(copy_version.fields.get("tags") or ()),
                        # A copy naming a voice row that no longer exists: the default one.
                        brand_voice=None
                        if copy.brand_voice_id is None
                        else profile_of(voices.get(copy.brand_voice_id)),
                    )
                )
            platforms = [c.platform for c in copies]
            if product.channel in {p.value for p in Platform}:
                platforms.append(product.channel)
            languages = [c.language for c in copies]
            subject = ScreenSubject(
                fields=tuple(fields),
                product_type=product.product_type,
                nice_classes=nice_classes_for(
                    product.product_type, catalog=catalogs[product.organization_id]
                ),
                platforms=tuple(sorted(set(platforms))),
                language="en" if not languages or "en" in languages else languages[0],
            )
            gathered[product.id] = ProductSubject(subject, tuple(listings))
        return gathered

    async def subject_for_product(self, session: AsyncSession, product: Product) -> ScreenSubject:
        """What a screen of `product` reads: its title, every text layer of its design version,
        the newest version of each listing copy written for it (fields prefixed
        `<platform>:<language>:`), its platforms and its type's Nice classes."""
        return (await self._gather(session, product)).subject

    async def settings_for(
        self, session: AsyncSession, organization_id: uuid.UUID
    ) -> ScreenSettings:
        row = await SafeguardSettingsRepository.from_session(session).for_organization(
            organization_id
        )
        return ScreenSettings.of(row)

    # --- screening ------------------------------------------------------------------------------

    async def screen_subject(
        self,
        session: AsyncSession | None,
        subject: ScreenSubject,
        *,
        organization_id: AccessibleOrganizationID | None,
        settings: ScreenSettings,
        listings: tuple[ListingContext, ...] = (),
    ) -> ScreenResult:
        """Every check on `subject`; plagiarism and AI moderation only for a workspace."""
        check_subject(subject)
        return await run_checks(
            session, subject, organization_id=organization_id, settings=settings, listings=listings
        )

    def is_current(self, report: SafeguardReport, subject: ScreenSubject) -> bool:
        """The report still describes the product: same text, type and platforms, and the same
        rule packs and starter set."""
        if report.subject_hash != subject_hash(subject):
            return False
        try:
            return bool(report.checks.get("versions") == checks.versions())
        except Exception:  # noqa: BLE001 -- versions unknown: the text decides
            return True

    async def _product(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        product_id: uuid.UUID,
        permission: Permission,
        action: str,
    ) -> Product:
        ids = await authz.get_accessible_org_ids(session, auth_subject)
        product = await ProductRepository.from_session(session).get_for_organizations(
            product_id, ids
        )
        if product is None:
            raise ResourceNotFound("Product")
        await authz.require(
            session,
            auth_subject,
            product.organization_id,
            permission,
            action=action,
            target_type="product",
            target_id=product.id,
        )
        return product

    async def screen_product(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        product_id: uuid.UUID,
        *,
        trigger: str = "manual",
    ) -> SafeguardReport:
        """Screen the product as it is now and keep the report (every time)."""
        product = await self._product(
            session, auth_subject, product_id, Permission.safeguards_manage, "safeguard.screened"
        )
        return await self.store_screen(
            session, product, trigger=ScreenTrigger(trigger), auth_subject=auth_subject
        )

    async def store_screen(
        self,
        session: AsyncSession,
        product: Product,
        *,
        trigger: ScreenTrigger,
        auth_subject: AuthSubject[Subject] | None = None,
        gathered: ProductSubject | None = None,
        import_id: str | None = None,
    ) -> SafeguardReport:
        """Screen `product` and write its report (callers have checked access). A BLOCK is
        audited; an active hold whose marks the new screen no longer finds is released."""
        gathered = gathered or await self._gather(session, product)
        settings = await self.settings_for(session, product.organization_id)
        result = await self.screen_subject(
            session,
            gathered.subject,
            organization_id=AccessibleOrganizationID(product.organization_id),
            settings=settings,
            listings=gathered.listings,
        )
        report = SafeguardReport(
            id=uuid.uuid4(),
            organization_id=product.organization_id,
            product_id=product.id,
            subject_hash=subject_hash(gathered.subject),
            subject=subject_to_json(gathered.subject),
            verdict=result.verdict,
            findings=[f.as_dict() for f in result.findings],
            counts=result.counts,
            quality_score=result.quality_score,
            checks=result.checks,
            trigger=trigger,
            created_by_user_id=_creator_id(auth_subject),
        )
        await SafeguardReportRepository.from_session(session).create(report)
        if result.verdict == Verdict.block:
            await audit_service.record(
                session,
                auth_subject,
                action="safeguard.screened",
                organization_id=product.organization_id,
                target_type="product",
                target_id=product.id,
                details={
                    "report_id": str(report.id),
                    "verdict": result.verdict.value,
                    "trigger": trigger.value,
                    "blocking": sorted({f.code for f in result.blocking()}),
                    **({"import_id": import_id} if import_id else {}),
                },
            )
        await self._maybe_release(session, product, report, result.findings, auth_subject)
        return report

    async def _maybe_release(
        self,
        session: AsyncSession,
        product: Product,
        report: SafeguardReport,
        findings: builtins.list[Finding],
        auth_subject: AuthSubject[Subject] | None,
    ) -> None:
        holds = SafeguardHoldRepository.from_session(session)
        hold = await holds.active_for_product(product.id)
        if hold is None or hold.report_id == report.id:
            return
        still = set(flagged_marks(findings))
        held = {mark_key(m) for m in hold.marks}
        if still & held:
            return
        await holds.release(
            product.id,
            at=utc_now(),
            user_id=_creator_id(auth_subject),
            reason="A new screen no longer finds the marks.",
        )
        await audit_service.record(
            session,
            auth_subject,
            action="safeguard.hold_released",
            organization_id=product.organization_id,
            target_type="product",
            target_id=product.id,
            details={"report_id": str(report.id), "reason": "screen no longer finds the marks"},
        )

    async def screen_text(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID | None,
        text: str,
        product_type: str,
        platforms: builtins.list[str],
    ) -> ScreenResult:
        """Screen a bare text on a product type (nothing is stored): a phrase before it
        becomes a design, or a draft before it is saved."""
        accessible: AccessibleOrganizationID | None = None
        catalog = get_catalog()
        settings = ScreenSettings()
        if organization_id is not None:
            await authz.accessible_organization(
                session,
                auth_subject,
                organization_id,
                Permission.safeguards_read,
                action="safeguard.text_screened",
            )
            accessible = AccessibleOrganizationID(organization_id)
            catalog = await catalog_service.effective(session, organization_id)
            settings = await self.settings_for(session, organization_id)
        subject = text_subject(catalog, text=text, product_type=product_type, platforms=platforms)
        return await self.screen_subject(
            session, subject, organization_id=accessible, settings=settings
        )

    # --- reading reports ------------------------------------------------------------------------

    async def latest_report(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], product_id: uuid.UUID
    ) -> SafeguardReport | None:
        product = await self._product(
            session, auth_subject, product_id, Permission.safeguards_read, "safeguard.read"
        )
        return await SafeguardReportRepository.from_session(session).latest_for_product(product.id)

    async def status(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], product_id: uuid.UUID
    ) -> SafeguardStatus | None:
        """The product's newest report with its override and hold, whether it is current, and
        what would stop publishing now; None if it was never screened."""
        product = await self._product(
            session, auth_subject, product_id, Permission.safeguards_read, "safeguard.read"
        )
        return await self._status(session, product)

    async def _status(self, session: AsyncSession, product: Product) -> SafeguardStatus | None:
        report = await SafeguardReportRepository.from_session(session).latest_for_product(
            product.id
        )
        if report is None:
            return None
        gathered = await self._gather(session, product)
        settings = await self.settings_for(session, product.organization_id)
        return SafeguardStatus(
            report=report,
            current=self.is_current(report, gathered.subject),
            override=await SafeguardOverrideRepository.from_session(session).for_report(report.id),
            hold=await SafeguardHoldRepository.from_session(session).active_for_product(product.id),
            blocking=blocking_findings(report, settings),
        )

    async def list_reports(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID | None = None,
        product_id: uuid.UUID | None = None,
        verdict: Verdict | None = None,
        trigger: str | None = None,
        pagination: PaginationParams,
    ) -> tuple[builtins.list[SafeguardReport], int]:
        readable = await authz.get_readable_org_ids(
            session,
            auth_subject,
            Permission.safeguards_read,
            organization_id=organization_id,
            action="safeguard.list",
        )
        repository = SafeguardReportRepository.from_session(session)
        statement = repository.search_statement(
            readable, product_id=product_id, verdict=verdict, trigger=trigger
        )
        return await repository.paginate(statement, pagination)

    async def get_report(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        report_id: uuid.UUID,
        *,
        permission: Permission = Permission.safeguards_read,
        action: str = "safeguard.read",
    ) -> SafeguardReport:
        ids = await authz.get_accessible_org_ids(session, auth_subject)
        report = await SafeguardReportRepository.from_session(session).get_for_organizations(
            report_id, ids
        )
        if report is None:
            raise ResourceNotFound("Safeguard report")
        await authz.require(
            session,
            auth_subject,
            report.organization_id,
            permission,
            action=action,
            target_type="safeguard_report",
            target_id=report.id,
        )
        return report

    async def overrides_for(
        self, session: AsyncSession, reports: builtins.list[SafeguardReport]
    ) -> dict[uuid.UUID, SafeguardOverride]:
        """The override of each report that has one (callers have read the reports)."""
        return await SafeguardOverrideRepository.from_session(session).for_reports(
            [r.id for r in reports]
        )

    # --- overrides ------------------------------------------------------------------------------

    async def override(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        report_id: uuid.UUID,
        reason: str,
    ) -> SafeguardOverride:
        """An owner's or admin's decision to publish despite the report, with why."""
        report = await self.get_report(
            session,
            auth_subject,
            report_id,
            permission=Permission.safeguards_override,
            action="safeguard.overridden",
        )
        if report.verdict == Verdict.passed:
            raise NothingToOverride("This report passed: there is nothing to override.")
        if report.product_id is not None:
            latest = await SafeguardReportRepository.from_session(session).latest_for_product(
                report.product_id
            )
            if latest is not None and latest.id != report.id:
                raise NothingToOverride(
                    "A newer report of this product exists; open it and override that one."
                )
        text = (reason or "").strip()
        if len(text) < MIN_REASON:
            raise InvalidOverride(
                f"reason: write at least {MIN_REASON} characters saying why publishing is "
                "safe (e.g. 'we own this mark, registration 1234567')."
            )
        if len(text) > MAX_REASON:
            raise InvalidOverride(f"reason: keep it to {MAX_REASON} characters.")
        override = await SafeguardOverrideRepository.from_session(session).insert_once(
            organization_id=report.organization_id,
            report_id=report.id,
            user_id=_creator_id(auth_subject),
            reason=text,
        )
        if override is None:
            raise NothingToOverride("This report is overridden already.")
        findings = report_findings(report)
        await audit_service.record(
            session,
            auth_subject,
            action="safeguard.overridden",
            organization_id=report.organization_id,
            target_type="safeguard_report",
            target_id=report.id,
            details={
                "product_id": str(report.product_id) if report.product_id else None,
                "verdict": report.verdict.value,
                "reason": text,
                "findings": sorted({f.code for f in findings if f.verdict != Verdict.passed}),
            },
        )
        if report.product_id is not None:
            released = await SafeguardHoldRepository.from_session(session).release(
                report.product_id,
                at=utc_now(),
                user_id=_creator_id(auth_subject),
                reason="Overridden.",
            )
            if released:
                await audit_service.record(
                    session,
                    auth_subject,
                    action="safeguard.hold_released",
                    organization_id=report.organization_id,
                    target_type="product",
                    target_id=report.product_id,
                    details={"report_id": str(report.id), "reason": "overridden"},
                )
        return override

    # --- the publishing gate --------------------------------------------------------------------

    async def gate(
        self,
        session: AsyncSession,
        product_id: uuid.UUID,
        *,
        organization_id: AccessibleOrganizationID | uuid.UUID,
    ) -> GateResult:
        """For publishing: screen the product if its newest report is missing or stale, then
        raise PublishingBlocked if that report blocks without an override or the product is on
        hold. The report a gate writes is part of the caller's unit of work."""
        product = await ProductRepository.from_session(session).get_for_organizations(
            product_id, {organization_id}
        )
        if product is None:
            raise ResourceNotFound("Product")
        outcome = (await self.gate_many(session, [product], organization_id=organization_id))[
            product.id
        ]
        if isinstance(outcome, PublishingBlocked):
            raise outcome
        return outcome

    async def gate_many(
        self,
        session: AsyncSession,
        products: Sequence[Product],
        *,
        organization_id: AccessibleOrganizationID | uuid.UUID,
    ) -> dict[uuid.UUID, GateResult | PublishingBlocked]:
        """`gate` for products the caller has loaded and authorized: by product id, the
        GateResult or the PublishingBlocked that `gate` would raise. A product that is not a
        live one of `organization_id` is a 404 for the whole batch, before anything is read.
        The products whose report is missing or stale are screened one by one, in order; every
        other read is one statement for the batch."""
        batch = builtins.list({p.id: p for p in products}.values())
        if any(p.organization_id != organization_id or p.deleted_at is not None for p in batch):
            raise ResourceNotFound("Product")
        if not batch:
            return {}
        gathered = await self._gather_many(session, batch)
        latest = await SafeguardReportRepository.from_session(session).latest_for_products(
            [p.id for p in batch]
        )
        reports: dict[uuid.UUID, SafeguardReport] = {}
        screened: set[uuid.UUID] = set()
        for product in batch:
            report = latest.get(product.id)
            if report is None or not self.is_current(report, gathered[product.id].subject):
                report = await self.store_screen(
                    session, product, trigger=ScreenTrigger.publish, gathered=gathered[product.id]
                )
                screened.add(product.id)
            reports[product.id] = report
        # Read after the screens: a screen releases a hold whose marks it no longer finds.
        overrides = await SafeguardOverrideRepository.from_session(session).for_reports(
            [r.id for r in reports.values()]
        )
        holds = await SafeguardHoldRepository.from_session(session).active_for_products(
            [p.id for p in batch]
        )
        settings = await self.settings_for(session, organization_id)
        return {
            p.id: self._gate_outcome(
                reports[p.id],
                screened=p.id in screened,
                override=overrides.get(reports[p.id].id),
                hold=holds.get(p.id),
                settings=settings,
            )
            for p in batch
        }

    @staticmethod
    def _gate_outcome(
        report: SafeguardReport,
        *,
        screened: bool,
        override: SafeguardOverride | None,
        hold: SafeguardHold | None,
        settings: ScreenSettings,
    ) -> GateResult | PublishingBlocked:
        stops = blocking_findings(report, settings)
        if hold is not None and override is None:
            marks = ", ".join(str(m.get("mark")) for m in hold.marks[:3]) or "a new mark"
            return PublishingBlocked(
                f"Publishing refused: the product is on hold since a trademark import found "
                f"{marks} in it. Change the text and screen it again, or an owner or admin can "
                "override the report with a reason.",
                report=report,
                findings=stops,
                hold=hold,
            )
        if stops and override is None:
            return PublishingBlocked(
                f"Publishing refused: the safeguard report is {report.verdict.value.upper()} "
                f"({describe_findings(stops)}). Change the text and screen it again, or an owner "
                "or admin can override the report with a reason.",
                report=report,
                findings=stops,
                hold=None,
            )
        return GateResult(report=report, screened=screened, override=override)

    # --- settings -------------------------------------------------------------------------------

    async def get_settings(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        organization_id: uuid.UUID,
    ) -> SafeguardSettings:
        """The stored settings, or the defaults (not saved) for a workspace that has none."""
        await authz.accessible_organization(
            session,
            auth_subject,
            organization_id,
            Permission.safeguards_read,
            action="safeguard.settings_read",
        )
        row = await SafeguardSettingsRepository.from_session(session).for_organization(
            organization_id
        )
        return row or SafeguardSettings(organization_id=organization_id, **default_values())

    async def update_settings(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        organization_id: uuid.UUID,
        changes: dict[str, Any],
    ) -> SafeguardSettings:
        """Change thresholds and what a new mark does; fields left out stay."""
        await authz.accessible_organization(
            session,
            auth_subject,
            organization_id,
            Permission.safeguards_configure,
            action="safeguard.settings_updated",
        )
        repository = SafeguardSettingsRepository.from_session(session)
        current = await repository.for_organization(organization_id)
        values = check_settings(changes, current.trademark_thresholds if current else {})
        row = current or await repository.ensure(organization_id, default_values())
        values["modified_by_user_id"] = _creator_id(auth_subject)
        await repository.update(row, values=values)
        await audit_service.record(
            session,
            auth_subject,
            action="safeguard.settings_updated",
            organization_id=organization_id,
            target_type="organization",
            target_id=organization_id,
            details={k: v for k, v in changes.items()},
        )
        return row

    # --- jobs -----------------------------------------------------------------------------------

    async def enqueue_screen(
        self,
        session: AsyncSession,
        product_id: uuid.UUID,
        organization_id: uuid.UUID,
        trigger: str = "change",
        *,
        created_by: AuthSubject[Subject] | None = None,
    ) -> Job:
        """Queue a screen of the product in the caller's transaction (hooks call this when a
        product, its design or its listing copy changes). A screen for an unchanged product
        only writes a report when asked by hand, so queuing one per edit is cheap."""
        return await enqueue(
            session,
            SCREEN_JOB,
            str(product_id),
            ScreenTrigger(trigger).value,
            organization_id=organization_id,
            summary=f"Safeguard screen ({trigger}) of product {product_id}",
            created_by=created_by,
        )

    async def enqueue_screen_once(
        self, session: AsyncSession, product_id: uuid.UUID, organization_id: uuid.UUID
    ) -> None:
        """`enqueue_screen` with trigger "change", at most once per product per unit of work:
        one generation writes a version per platform and language, one screen covers them."""
        queued: set[uuid.UUID] = session.info.setdefault("safeguard_screens_queued", set())
        if product_id in queued:
            return
        queued.add(product_id)
        await self.enqueue_screen(session, product_id, organization_id, "change")


def default_values() -> dict[str, Any]:
    return {
        "trademark_thresholds": {},
        "quality_warn_below": DEFAULT_QUALITY_WARN_BELOW,
        "plagiarism_threshold": DEFAULT_PLAGIARISM_THRESHOLD,
        "pause_on_new_mark": False,
        "block_on_warn": False,
    }


def check_settings(changes: dict[str, Any], thresholds: dict[str, Any]) -> dict[str, Any]:
    """Validate a settings change (`thresholds`: the workspace's current threshold overrides);
    errors name the field."""
    values: dict[str, Any] = {}
    for flag in ("pause_on_new_mark", "block_on_warn"):
        if flag in changes:
            if not isinstance(changes[flag], bool):
                raise InvalidSafeguardSettings(f"{flag}: send true or false.")
            values[flag] = changes[flag]
    if "quality_warn_below" in changes:
        value = changes["quality_warn_below"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            raise InvalidSafeguardSettings(
                "quality_warn_below: choose a score from 0 (never warn) to 100."
            )
        values["quality_warn_below"] = value
    if "plagiarism_threshold" in changes:
        value = changes["plagiarism_threshold"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.5 <= value <= 1:
            raise InvalidSafeguardSettings(
                "plagiarism_threshold: choose a similarity from 0.5 to 1.0 (1.0: exact "
                "duplicates only)."
            )
        values["plagiarism_threshold"] = float(value)
    if "trademark_thresholds" in changes:
        values["trademark_thresholds"] = check_thresholds(
            changes["trademark_thresholds"], thresholds
        )
    return values


def check_thresholds(overrides: Any, current: dict[str, Any]) -> dict[str, Any]:
    """The workspace's threshold overrides after `overrides` (a null value returns one to its
    default), checked by the matcher's own rules."""
    if not isinstance(overrides, dict):
        raise InvalidSafeguardSettings(
            "trademark_thresholds: send an object of threshold names and values."
        )
    defaults = checks.threshold_fields()
    for name in overrides:
        if name not in defaults:
            raise InvalidSafeguardSettings(
                f"trademark_thresholds.{name}: not a threshold; use one of "
                f"{', '.join(sorted(defaults))}."
            )
    merged = {k: v for k, v in {**current, **overrides}.items() if v is not None}
    try:
        checks.thresholds_of(merged)
    except checks.InvalidThresholds as e:
        raise InvalidSafeguardSettings(f"trademark_thresholds: {e.detail}") from None
    return merged


safeguard = SafeguardService()

"""Safeguard pages: the reports list, a phrase check, one report with its findings highlighted in
the text and the design's text layers, overrides, re-screening, safe-rewrite suggestions, the
product page's safeguard panel and the workspace's safeguard settings."""

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from flashfusion.ai import prompts
from flashfusion.ai.service import GenerationFailed
from flashfusion.ai.service import ai as ai_service
from flashfusion.ai.types import AIRequest, TaskType
from flashfusion.authz.permission import Permission
from flashfusion.authz.service import authz
from flashfusion.catalog.service import catalog as catalog_service
from flashfusion.content.draft import Platform
from flashfusion.content.service import content as content_service
from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import AppError, BadRequest, ResourceNotFound
from flashfusion.kit.pagination import PaginationParams
from flashfusion.member.service import member as member_service
from flashfusion.models import Product, SafeguardReport
from flashfusion.product.service import product as product_service
from flashfusion.safeguard import checks
from flashfusion.safeguard.service import safeguard as safeguard_service
from flashfusion.safeguard.types import Category, Verdict, worst
from flashfusion.studio.media import _creator_id
from flashfusion.studio.service import design as design_service
from flashfusion.web.deps import OrgContext, OrgDep
from flashfusion.web.safeguard_markup import (
    FieldGroup,
    evidence_rows,
    field_groups,
    field_label,
    group_findings,
    highlight,
    marks_by_field,
    offline_rewrites,
)
from flashfusion.web.security import redirect
from flashfusion.web.templating import render

router = APIRouter()
PageQuery = Annotated[int, Query(ge=1, le=10_000)]
PAGE_SIZE = 50
REWRITE_COUNT = 3

# --- safe rewrites ----------------------------------------------------------------------------


class SafeRewriteDraft(BaseModel):
    """What the safe_rewrite prompt asks a provider for."""

    rewrites: list[str] = Field(
        min_length=1,
        max_length=REWRITE_COUNT,
        description="Versions of the whole field text without the flagged words, each a "
        "drop-in replacement for it.",
    )


@dataclass
class Suggestion:
    text: str
    verdict: str | None  # the suggestion's own screen (None: it could not be screened)


@dataclass
class Rewrites:
    suggestions: list[Suggestion]
    provider: str  # "offline", or the provider that wrote them
    notice: str | None = None


async def _ai_rewrites(
    session: AsyncSessionDep,
    ctx: OrgContext,
    report: SafeguardReport,
    *,
    label: str,
    text: str,
    finding: Mapping[str, Any],
) -> tuple[list[str], str, str | None] | None:
    """Rewrites from the workspace's listing-copy chain without its offline step (the offline
    composer writes listings, not rewrites); None when no other provider is there."""
    resolved = await ai_service.resolve(session, report.organization_id, TaskType.listing_copy)
    steps = [s for s in resolved.steps if s.provider.name != "offline"]
    if not steps:
        return None
    template = prompts.load("safe_rewrite")
    span = finding["span"]
    variables = {
        "field": label,
        "product_type": report.subject.get("product_type"),
        "platforms": list(report.subject.get("platforms") or []),
        "text": text,
        "span": span["text"],
        "reason": finding.get("message", ""),
        "count": REWRITE_COUNT,
    }
    request = AIRequest(
        task=TaskType.listing_copy,
        messages=template.render(variables),
        context={"purpose": "safe_rewrite", "finding": finding.get("code")},
        max_output_tokens=800,
        timeout_seconds=30.0,
    )
    prepared = ai_service.prepared(
        dataclasses.replace(resolved, steps=steps),
        organization_id=report.organization_id,
        user_id=_creator_id(ctx.subject),
        request=request,
        output=SafeRewriteDraft,
        prompt=template,
        product_id=report.product_id,
        listing_copy_id=None,
        use_cache=True,
    )
    await ai_service.lookup(session, prepared)
    result, failure = (None, None) if prepared.cached else await ai_service.call(prepared)
    generation = await ai_service.finish(session, prepared, result, failure)
    assert isinstance(generation.parsed, SafeRewriteDraft)
    return generation.parsed.rewrites, generation.response.provider, generation.budget_warning


async def _screened(
    session: AsyncSessionDep, ctx: OrgContext, report: SafeguardReport, texts: list[str]
) -> list[Suggestion]:
    """Each suggestion screened as the report's product would be. Duplication is left out:
    a rewrite of this listing's own text is bound to resemble this listing."""
    product_type = report.subject.get("product_type")
    suggestions = []
    for text in texts:
        verdict: str | None = None
        if product_type:
            try:
                result = await safeguard_service.screen_text(
                    session,
                    ctx.subject,
                    organization_id=report.organization_id,
                    text=text,
                    product_type=str(product_type),
                    platforms=list(report.subject.get("platforms") or []),
                )
            except AppError:
                verdict = None
            else:
                relevant = [f.verdict for f in result.findings if f.category != Category.plagiarism]
                verdict = worst(relevant).value
        suggestions.append(Suggestion(text, verdict))
    return suggestions


async def suggest_rewrites(
    session: AsyncSessionDep,
    ctx: OrgContext,
    report: SafeguardReport,
    *,
    label: str,
    text: str,
    finding: Mapping[str, Any],
) -> Rewrites:
    """AI rewrites where the workspace has a provider for listing copy, else (or when every
    provider fails) the deterministic offline ones. Nothing is saved."""
    span = finding["span"]
    offline = offline_rewrites(text, int(span["start"]), int(span["end"]), finding["category"])
    try:
        written = await _ai_rewrites(session, ctx, report, label=label, text=text, finding=finding)
    except GenerationFailed as e:
        notice = f"The AI providers could not write a rewrite ({e.detail}); offline suggestions."
        return Rewrites(await _screened(session, ctx, report, offline), "offline", notice)
    except AppError as e:  # the budget is used up, or no provider can do listing copy
        return Rewrites(await _screened(session, ctx, report, offline), "offline", e.detail)
    if written is None:
        return Rewrites(await _screened(session, ctx, report, offline), "offline")
    rewrites, provider, warning = written
    texts = [t.strip() for t in dict.fromkeys(rewrites) if t.strip() and t.strip() != text.strip()]
    if not texts:
        notice = "The AI's rewrites were empty or unchanged; offline suggestions instead."
        return Rewrites(await _screened(session, ctx, report, offline), "offline", notice)
    return Rewrites(await _screened(session, ctx, report, texts), provider, warning)


# --- pages: reports and the phrase check -------------------------------------------------------


def _base(ctx: OrgContext) -> str:
    return f"/orgs/{ctx.organization.id}"


async def _product_or_none(
    session: AsyncSessionDep, ctx: OrgContext, product_id: uuid.UUID | None
) -> Product | None:
    if product_id is None:
        return None
    try:
        return await product_service.get(session, ctx.subject, product_id)
    except ResourceNotFound:
        return None  # deleted since the screen: the report stays readable


async def _product_types(session: AsyncSessionDep, ctx: OrgContext) -> list[Any]:
    catalog = await catalog_service.effective(session, ctx.organization.id)
    return sorted(catalog.product_types.values(), key=lambda t: (t.category, t.name))


@router.get("/orgs/{org_id}/safeguards")
async def reports_page(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    page: PageQuery = 1,
    verdict: Annotated[str, Query(max_length=8)] = "",
) -> Response:
    """The workspace's safeguard reports, newest first, and the phrase check."""
    if verdict and verdict not in {v.value for v in Verdict}:
        raise BadRequest("verdict: choose pass, warn or block (or leave it empty for all).")
    reports, total = await safeguard_service.list_reports(
        session,
        ctx.subject,
        organization_id=ctx.organization.id,
        verdict=Verdict(verdict) if verdict else None,
        pagination=PaginationParams(page, PAGE_SIZE),
    )
    products: dict[uuid.UUID, Product | None] = {}
    for report in reports:
        if report.product_id is not None and report.product_id not in products:
            products[report.product_id] = await _product_or_none(session, ctx, report.product_id)
    return render(
        request,
        "safeguard/index.html",
        {
            "reports": reports,
            "products": products,
            "overrides": await safeguard_service.overrides_for(session, reports),
            "total": total,
            "page": page,
            "max_page": max(1, -(-total // PAGE_SIZE)),
            "verdict": verdict,
            "verdicts": [v.value for v in Verdict],
            "product_types": await _product_types(session, ctx),
            "platforms": [p.value for p in Platform],
        },
    )


@router.post("/orgs/{org_id}/safeguards/check")
async def check_phrase(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    # No form limit below the service's own: its error says how much is too much.
    text: Annotated[str, Form()] = "",
    product_type: Annotated[str, Form(max_length=64)] = "",
    platforms: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """HTMX: screen a phrase on a product type (nothing is stored); the findings, highlighted."""
    context: dict[str, Any] = {"text": text, "product_type": product_type, "base": _base(ctx)}
    try:
        result = await safeguard_service.screen_text(
            session,
            ctx.subject,
            organization_id=ctx.organization.id,
            text=text,
            product_type=product_type,
            platforms=platforms or [],
        )
    except AppError as e:
        # 200: htmx swaps in only 2xx answers, and the fragment carries the error.
        return render(request, "safeguard/_check.html", {**context, "error": e.detail})
    findings = [f.as_dict() for f in result.findings]
    return render(
        request,
        "safeguard/_check.html",
        {
            **context,
            "result": result,
            "findings": findings,
            "groups": group_findings(findings),
            "markup": highlight(text, marks_by_field(findings).get("phrase", [])),
            "evidence_rows": evidence_rows,
            "field_label": lambda name: field_label(name, {}),
        },
    )


@dataclass
class EditPlaces:
    """Where the report's text is edited today: the product, its listings, its design's layers."""

    product: Product | None
    copies: dict[tuple[str, str], Any]
    layer_names: dict[str, str]

    def groups(self, report: SafeguardReport, base: str) -> list[FieldGroup]:
        return field_groups(
            report.subject,
            report.findings,
            base=base,
            product=self.product,
            copies=self.copies,
            layer_names=self.layer_names,
        )

    def label(self, name: str) -> str:
        return field_label(name, self.layer_names)


async def _edit_places(
    session: AsyncSessionDep, ctx: OrgContext, report: SafeguardReport
) -> EditPlaces:
    product = await _product_or_none(session, ctx, report.product_id)
    if product is None:
        return EditPlaces(None, {}, {})
    listed, _ = await content_service.list(
        session,
        ctx.subject,
        organization_id=product.organization_id,
        product_id=product.id,
        platform=None,
        language=None,
        pagination=PaginationParams(1, 100),
    )
    layer_names: dict[str, str] = {}
    try:
        design = await design_service.get(session, ctx.subject, product.design_id)
        version = await design_service.get_version(session, design, None)
    except ResourceNotFound:
        pass  # the design is gone: layers are named by their ids
    else:
        layer_names = {
            str(layer["id"]): str(layer.get("name") or "")
            for layer in version.document.get("layers", [])
        }
    return EditPlaces(product, {(c.platform, c.language): c for c in listed}, layer_names)


async def _report_context(
    session: AsyncSessionDep, ctx: OrgContext, report: SafeguardReport
) -> dict[str, Any]:
    base = _base(ctx)
    places = await _edit_places(session, ctx, report)
    status = None
    if places.product is not None:
        status = await safeguard_service.status(session, ctx.subject, places.product.id)
    newest = status is None or status.report.id == report.id
    members, _ = await member_service.list(
        session,
        ctx.subject,
        organization_id=ctx.organization.id,
        pagination=PaginationParams(1, 100),
    )
    findings = list(report.findings)
    return {
        "report": report,
        "product": places.product,
        "newest": newest,
        "status": status if newest else None,
        "newest_id": status.report.id if status is not None else None,
        "override": (await safeguard_service.overrides_for(session, [report])).get(report.id),
        "emails": {m.user_id: m.user.email for m in members},
        "findings": findings,
        "groups": group_findings(findings),
        "field_groups": places.groups(report, base),
        "evidence_rows": evidence_rows,
        "field_label": places.label,
        "base": base,
    }


@router.get("/orgs/{org_id}/safeguards/reports/{report_id}")
async def report_page(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, report_id: uuid.UUID
) -> Response:
    """One report: the screened text with every finding highlighted, and the evidence."""
    report = await safeguard_service.get_report(session, ctx.subject, report_id)
    return render(request, "safeguard/report.html", await _report_context(session, ctx, report))


@router.post("/orgs/{org_id}/safeguards/reports/{report_id}/override")
async def override_report(
    session: AsyncSessionDep,
    ctx: OrgDep,
    report_id: uuid.UUID,
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """An owner's or admin's decision to publish despite the report, with the reason."""
    report = await safeguard_service.get_report(session, ctx.subject, report_id)
    back = f"{_base(ctx)}/safeguards/reports/{report.id}"
    try:
        await safeguard_service.override(session, ctx.subject, report.id, reason)
    except AppError as e:
        return redirect(back, e.detail, "error")
    return redirect(back, "Overridden: publishing may go ahead on this report.")


@router.post("/orgs/{org_id}/safeguards/products/{product_id}/screen")
async def screen_product(session: AsyncSessionDep, ctx: OrgDep, product_id: uuid.UUID) -> Response:
    """Screen the product as it is now (every check, a new report) and open the report."""
    report = await safeguard_service.screen_product(
        session, ctx.subject, product_id, trigger="manual"
    )
    found = sum(1 for f in report.findings if f.get("verdict") != Verdict.passed.value)
    return redirect(
        f"{_base(ctx)}/safeguards/reports/{report.id}",
        f"Screened: {report.verdict.value.upper()}, {found} finding(s) to look at.",
        "error" if report.verdict == Verdict.block else "success",
    )


@router.post("/orgs/{org_id}/safeguards/reports/{report_id}/findings/{index}/rewrite")
async def rewrite_finding(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    report_id: uuid.UUID,
    index: int,
) -> Response:
    """HTMX: safe rewrites of the field a finding sits in (suggestions only, never saved)."""
    report = await safeguard_service.get_report(session, ctx.subject, report_id)
    await authz.require(
        session,
        ctx.subject,
        report.organization_id,
        Permission.safeguards_manage,
        action="safeguard.rewrite_suggested",
        target_type="safeguard_report",
        target_id=report.id,
    )
    findings = list(report.findings)
    if not 0 <= index < len(findings) or not findings[index].get("span"):
        raise ResourceNotFound("Finding")
    finding = findings[index]
    span = finding["span"]
    fields = {str(f.get("name")): str(f.get("text", "")) for f in report.subject.get("fields", [])}
    text = fields.get(str(span["field"]))
    if text is None:
        raise ResourceNotFound("Finding")
    places = await _edit_places(session, ctx, report)
    edit = next(
        (
            g
            for g in places.groups(report, _base(ctx))
            if any(name == span["field"] for name, _, _ in g.fields)
        ),
        None,
    )
    label = places.label(str(span["field"]))
    rewrites = await suggest_rewrites(session, ctx, report, label=label, text=text, finding=finding)
    return render(
        request,
        "safeguard/_rewrite.html",
        {"index": index, "rewrites": rewrites, "edit": edit, "label": label, "original": text},
    )


# --- the product page's panel ----------------------------------------------------------------


@router.get("/orgs/{org_id}/products/{product_id}/safeguard")
async def product_panel(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, product_id: uuid.UUID
) -> Response:
    """HTMX: the product's newest safeguard verdict, whether it still holds, and its report."""
    status = await safeguard_service.status(session, ctx.subject, product_id)
    return render(
        request,
        "safeguard/_panel.html",
        {"status": status, "product_id": product_id, "base": _base(ctx)},
    )


# --- settings ---------------------------------------------------------------------------------


def _number(raw: str, field: str, default: float) -> float | int | None:
    """A threshold typed in a form: empty → None (the default); the error names the field."""
    raw = raw.strip().replace(",", ".")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError as e:
        raise BadRequest(f"{field}: {raw!r} is not a number; type it like {default}.") from e
    if isinstance(default, int) and not isinstance(default, bool):
        if not value.is_integer():
            raise BadRequest(f"{field}: use a whole number, like {default}.")
        return int(value)
    return value


def threshold_forms() -> tuple[dict[str, Any], dict[str, bool]]:
    """The matcher's thresholds with their defaults, split into numbers (a text field each)
    and switches (a checkbox each)."""
    defaults = checks.threshold_fields()
    numbers = {k: v for k, v in defaults.items() if not isinstance(v, bool)}
    switches = {k: v for k, v in defaults.items() if isinstance(v, bool)}
    return numbers, switches


async def _require_configure(session: AsyncSessionDep, ctx: OrgContext, action: str) -> None:
    await authz.require(
        session,
        ctx.subject,
        ctx.organization.id,
        Permission.safeguards_configure,
        action=action,
        target_type="organization",
        target_id=ctx.organization.id,
    )


@router.get("/orgs/{org_id}/safeguards/settings")
async def settings_page(request: Request, session: AsyncSessionDep, ctx: OrgDep) -> Response:
    """The workspace's thresholds and what a newly imported mark does (owners and admins)."""
    await _require_configure(session, ctx, "safeguard.settings_read")
    row = await safeguard_service.get_settings(session, ctx.subject, ctx.organization.id)
    numbers, switches = threshold_forms()
    return render(
        request,
        "safeguard/settings.html",
        {"settings": row, "thresholds": numbers, "switches": switches},
    )


@router.post("/orgs/{org_id}/safeguards/settings")
async def update_settings(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    quality_warn_below: Annotated[str, Form(max_length=10)] = "",
    plagiarism_threshold: Annotated[str, Form(max_length=10)] = "",
    pause_on_new_mark: Annotated[str, Form(max_length=5)] = "",
    block_on_warn: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    back = f"{_base(ctx)}/safeguards/settings"
    await _require_configure(session, ctx, "safeguard.settings_updated")
    form = await request.form()
    numbers, switches = threshold_forms()
    thresholds: dict[str, Any] = {
        name: _number(str(form.get(f"threshold_{name}") or ""), f"trademark_thresholds.{name}", d)
        for name, d in numbers.items()
    }
    for name, default in switches.items():
        # A switch left at its default is stored as no override (None), so it follows the
        # default if FlashFusion changes it.
        chosen = bool(form.get(f"threshold_{name}"))
        thresholds[name] = None if chosen == default else chosen
    changes: dict[str, Any] = {
        "trademark_thresholds": thresholds,
        "pause_on_new_mark": bool(pause_on_new_mark),
        "block_on_warn": bool(block_on_warn),
    }
    quality = _number(quality_warn_below, "quality_warn_below", 0)
    if quality is not None:
        changes["quality_warn_below"] = quality
    similarity = _number(plagiarism_threshold, "plagiarism_threshold", 0.5)
    if similarity is not None:
        changes["plagiarism_threshold"] = similarity
    try:
        await safeguard_service.update_settings(session, ctx.subject, ctx.organization.id, changes)
    except AppError as e:
        return redirect(back, e.detail, "error")
    return redirect(back, "Safeguard settings saved; they apply from the next screen.")

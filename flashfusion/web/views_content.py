"""Listing copy on the product page (generate, stream, edit, revert), video scripts (library,
generate, edit, revert), batches, and AI costs."""

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.ai import budget
from flashfusion.ai.providers import PROVIDER_LABELS
from flashfusion.ai.service import ai as ai_service
from flashfusion.ai.service import policy_of
from flashfusion.ai.settings_service import ai_settings as ai_settings_service
from flashfusion.ai.settings_service import effective_chains
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.authz.permission import Permission
from flashfusion.authz.service import authz
from flashfusion.catalog.service import catalog as catalog_service
from flashfusion.content.batch_service import content_batch, parse_csv
from flashfusion.content.draft import LANGUAGES, Platform
from flashfusion.content.script_service import (
    VIDEO_PLATFORMS,
    seconds_of,
    video_platform,
)
from flashfusion.content.script_service import script as script_service
from flashfusion.content.service import content as content_service
from flashfusion.content.writer import (
    InvalidContentRequest,
    brief_for,
    check_language,
    check_platform,
    profile_of,
    stream_listing,
)
from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import AppError
from flashfusion.kit.pagination import PaginationParams
from flashfusion.models import ListingCopy, ListingCopyVersion
from flashfusion.product.service import product as product_service
from flashfusion.studio.media import _creator_id
from flashfusion.web.deps import OrgDep
from flashfusion.web.security import redirect
from flashfusion.web.templating import render

router = APIRouter()
PLATFORMS = [p.value for p in Platform]


async def _listings_context(
    session: AsyncSessionDep, ctx: OrgDep, product_id: uuid.UUID
) -> dict[str, Any]:
    product = await product_service.get(session, ctx.subject, product_id)
    copies, _ = await content_service.list(
        session,
        ctx.subject,
        organization_id=product.organization_id,
        product_id=product.id,
        platform=None,
        language=None,
        pagination=PaginationParams(page=1, limit=100),
    )
    latest = await content_service.latest_versions(session, copies)
    costs = await ai_settings_service.listing_costs(session, [c.id for c in copies])
    return {
        "product": product,
        "copies": copies,
        "latest": latest,
        "costs": costs,
        "platforms": PLATFORMS,
        "languages": LANGUAGES,
    }


@router.get("/orgs/{org_id}/products/{product_id}/listings")
async def product_listings(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, product_id: uuid.UUID
) -> Response:
    """HTMX: the product's listing copy per platform and language, with cost per listing."""
    context = await _listings_context(session, ctx, product_id)
    return render(request, "content/_listings.html", context)


@router.post("/orgs/{org_id}/products/{product_id}/listings")
async def generate_listings(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    product_id: uuid.UUID,
    platforms: Annotated[list[str] | None, Form()] = None,
    languages: Annotated[list[str] | None, Form()] = None,
    keywords: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Write listing copy for the chosen platforms and languages (without streaming)."""
    product = await product_service.get(session, ctx.subject, product_id)
    try:
        written = await content_service.generate(
            session,
            ctx.subject,
            organization_id=product.organization_id,
            product=product,
            idea=None,
            product_type=None,
            platforms=platforms or [],
            languages=languages or ["en"],
            brand_voice_id=None,
            keywords=[k.strip() for k in keywords.split(",") if k.strip()],
            audience=None,
            occasion=None,
        )
    except AppError as e:
        context = await _listings_context(session, ctx, product_id)
        context["error"] = e.detail
        # 200: htmx swaps in only 2xx answers, and the fragment carries the error.
        return render(request, "content/_listings.html", context)
    context = await _listings_context(session, ctx, product_id)
    warnings = {w.budget_warning for w in written if w.budget_warning}
    context["notice"] = f"Wrote {len(written)} listing(s)." + "".join(f" {w}" for w in warnings)
    return render(request, "content/_listings.html", context)


@router.post("/orgs/{org_id}/products/{product_id}/listings/stream")
async def stream_listings(
    session: AsyncSessionDep,
    ctx: OrgDep,
    product_id: uuid.UUID,
    platform: Annotated[str, Form(max_length=32)] = "etsy",
    language: Annotated[str, Form(max_length=8)] = "en",
) -> Response:
    """Server-sent events: the listing as the provider writes it, then `done`."""
    product = await product_service.get(session, ctx.subject, product_id)
    await authz.require(
        session,
        ctx.subject,
        product.organization_id,
        Permission.content_manage,
        action="content.generated",
        target_type="product",
        target_id=product.id,
    )
    try:
        chosen = check_platform(platform, field="platform")
        code = check_language(language, field="language")
        catalog = await catalog_service.effective(session, product.organization_id)
        voice = await content_service.brand_voice(session, product.organization_id, None)
        brief = brief_for(
            catalog,
            idea=await content_service.product_idea(session, product),
            product_type_key=product.product_type,
            platform=chosen,
            language=code,
            brand_voice=profile_of(voice),
            keywords=[],
            audience=None,
            occasion=None,
        )
    except AppError as e:
        return Response(e.detail, status_code=e.status_code, media_type="text/plain")
    organization_id, user_id = product.organization_id, _creator_id(ctx.subject)
    voice_id = voice.id if voice else None

    async def events() -> AsyncIterator[bytes]:
        async for name, data in stream_listing(
            organization_id=organization_id,
            user_id=user_id,
            brief=brief,
            product_id=product_id,
            brand_voice_id=voice_id,
        ):
            yield f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


Revert = Callable[
    [AsyncSession, AuthSubject[Subject], ListingCopy, int], Awaitable[ListingCopyVersion]
]


async def _reverted(
    revert: Revert,
    session: AsyncSessionDep,
    ctx: OrgDep,
    copy: ListingCopy,
    version: int,
    back: str,
) -> Response:
    """Save `version` of a listing or script again as its newest; back to its page."""
    try:
        await revert(session, ctx.subject, copy, version)
    except AppError as e:
        return redirect(back, e.detail, "error")
    return redirect(back, f"Reverted to version {version} (saved as a new version).")


def _saved(back: str, version: ListingCopyVersion, rules: str, ready: str) -> Response:
    """Back to the page after an edit: `ready`, or which `rules` rule(s) keep it a draft."""
    if version.violations:
        return redirect(
            back,
            f"Saved as version {version.version}, but it breaks {len(version.violations)} "
            f"{rules} rule(s), so it stays a draft: fix what is listed below.",
            "error",
        )
    return redirect(back, ready)


@router.post("/orgs/{org_id}/listings/{copy_id}/revert")
async def revert_listing(
    session: AsyncSessionDep,
    ctx: OrgDep,
    copy_id: uuid.UUID,
    version: Annotated[int, Form(ge=1)],
) -> Response:
    copy = await content_service.get(session, ctx.subject, copy_id)
    back = f"/orgs/{ctx.organization.id}/listings/{copy.id}"
    return await _reverted(content_service.revert, session, ctx, copy, version, back)


@router.post("/orgs/{org_id}/listings/{copy_id}")
async def edit_listing(
    session: AsyncSessionDep,
    ctx: OrgDep,
    copy_id: uuid.UUID,
    title: Annotated[str, Form(max_length=2000)] = "",
    description: Annotated[str, Form(max_length=20000)] = "",
    tags: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    copy = await content_service.get(session, ctx.subject, copy_id)
    back = f"/orgs/{ctx.organization.id}/listings/{copy.id}"
    changes: dict[str, Any] = {"title": title, "description": description}
    if copy.platform in ("etsy", "shopify"):
        changes["tags"] = [t.strip() for t in tags.split(",") if t.strip()]
    try:
        version = await content_service.edit(session, ctx.subject, copy, changes, note=None)
    except AppError as e:
        return redirect(back, e.detail, "error")
    return _saved(
        back, version, "platform", f"Saved as version {version.version}; ready to publish."
    )


@router.get("/orgs/{org_id}/listings/{copy_id}")
async def listing_page(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, copy_id: uuid.UUID
) -> Response:
    copy = await content_service.get(session, ctx.subject, copy_id)
    versions = await content_service.versions(session, copy)
    current = versions[0] if versions else None
    diff = (
        await content_service.diff(session, copy, versions[1].version, versions[0].version)
        if len(versions) > 1
        else []
    )
    return render(
        request,
        "content/listing.html",
        {"copy": copy, "versions": versions, "current": current, "diff": diff},
    )


# --- video scripts ------------------------------------------------------------------------------


def _optional(value: str) -> str | None:
    return value.strip() or None


@router.get("/orgs/{org_id}/content/scripts")
async def scripts_page(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    platform: str = "",
    language: str = "",
) -> Response:
    """The script library, filtered by video platform and language, and a form to write one."""
    error = None
    try:
        scripts, total = await script_service.list(
            session,
            ctx.subject,
            organization_id=ctx.organization.id,
            product_id=None,
            platform=_optional(platform),
            language=_optional(language),
            pagination=PaginationParams(page=1, limit=100),
        )
    except InvalidContentRequest as e:
        scripts, total, error = [], 0, e.detail
    catalog = await catalog_service.effective(session, ctx.organization.id)
    return render(
        request,
        "content/scripts.html",
        {
            "scripts": scripts,
            "total": total,
            "latest": await script_service.latest_versions(session, scripts),
            "seconds_of": seconds_of,
            "video_platform": video_platform,
            "video_platforms": VIDEO_PLATFORMS,
            "languages": LANGUAGES,
            "product_types": sorted(catalog.product_types),
            "filters": {"platform": platform, "language": language},
            "error": error,
        },
    )


@router.post("/orgs/{org_id}/content/scripts")
async def generate_script(
    session: AsyncSessionDep,
    ctx: OrgDep,
    idea: Annotated[str, Form(max_length=1000)] = "",
    product_type: Annotated[str, Form(max_length=64)] = "",
    platform: Annotated[str, Form(max_length=32)] = "tiktok",
    seconds: Annotated[int, Form(ge=1, le=10_000)] = 30,
    language: Annotated[str, Form(max_length=8)] = "en",
) -> Response:
    """Write a script and save it in the library (a new version if it was written before)."""
    back = f"/orgs/{ctx.organization.id}/content/scripts"
    try:
        written = await script_service.generate(
            session,
            ctx.subject,
            organization_id=ctx.organization.id,
            product=None,
            idea=idea,
            product_type=product_type,
            platform=platform,
            seconds=seconds,
            language=language,
            brand_voice_id=None,
        )
    except AppError as e:
        return redirect(back, e.detail, "error")
    return redirect(
        f"/orgs/{ctx.organization.id}/scripts/{written.copy.id}",
        f"Saved as version {written.version.version}.",
    )


def _scene_rows(text: str) -> list[dict[str, Any]]:
    """Scenes from the edit form: one a line, `seconds | shot | voice-over | on-screen text`."""
    scenes = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|")]
        seconds = parts[0].removesuffix("s").strip() if parts else ""
        if len(parts) != 4 or not seconds.isdigit():
            raise InvalidContentRequest(
                f"scenes: line {number} needs four parts, 'seconds | shot | voice-over | "
                "on-screen text' (e.g. '3s | Close-up of the mug | Coffee first. | Coffee first')."
            )
        scenes.append(
            {"seconds": int(seconds), "shot": parts[1], "voice_over": parts[2],
             "on_screen_text": parts[3]}
        )  # fmt: skip
    return scenes


@router.post("/orgs/{org_id}/scripts/{script_id}")
async def edit_script(
    session: AsyncSessionDep,
    ctx: OrgDep,
    script_id: uuid.UUID,
    hook: Annotated[str, Form(max_length=1000)] = "",
    scenes: Annotated[str, Form(max_length=20_000)] = "",
    call_to_action: Annotated[str, Form(max_length=1000)] = "",
    hashtags: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    copy = await script_service.get(session, ctx.subject, script_id)
    back = f"/orgs/{ctx.organization.id}/scripts/{copy.id}"
    try:
        changes: dict[str, Any] = {
            "hook": hook,
            "scenes": _scene_rows(scenes),
            "call_to_action": call_to_action,
            "hashtags": [h.strip().lstrip("#") for h in hashtags.split(",") if h.strip()],
        }
        version = await script_service.edit(session, ctx.subject, copy, changes, note=None)
    except AppError as e:
        return redirect(back, e.detail, "error")
    return _saved(back, version, "script", f"Saved as version {version.version}.")


@router.post("/orgs/{org_id}/scripts/{script_id}/revert")
async def revert_script(
    session: AsyncSessionDep,
    ctx: OrgDep,
    script_id: uuid.UUID,
    version: Annotated[int, Form(ge=1)],
) -> Response:
    copy = await script_service.get(session, ctx.subject, script_id)
    back = f"/orgs/{ctx.organization.id}/scripts/{copy.id}"
    return await _reverted(script_service.revert, session, ctx, copy, version, back)


@router.get("/orgs/{org_id}/scripts/{script_id}")
async def script_page(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, script_id: uuid.UUID
) -> Response:
    """One script: its newest version, an edit form, what changed last, and its history."""
    copy = await script_service.get(session, ctx.subject, script_id)
    versions = await script_service.versions(session, copy)
    current = versions[0]
    diff = (
        await script_service.diff(session, copy, versions[1].version, current.version)
        if len(versions) > 1
        else []
    )
    return render(
        request,
        "content/script.html",
        {
            "copy": copy,
            "platform": video_platform(copy),
            "versions": versions,
            "current": current,
            "seconds": seconds_of(current.fields),
            "seconds_of": seconds_of,
            "diff": diff,
        },
    )


# --- batches ----------------------------------------------------------------------------------


@router.get("/orgs/{org_id}/content/batches")
async def batches_page(request: Request, session: AsyncSessionDep, ctx: OrgDep) -> Response:
    batches, _ = await content_batch.list(
        session,
        ctx.subject,
        organization_id=ctx.organization.id,
        pagination=PaginationParams(page=1, limit=50),
    )
    return render(
        request,
        "content/batches.html",
        {"batches": batches, "platforms": PLATFORMS, "languages": LANGUAGES},
    )


@router.post("/orgs/{org_id}/content/batches")
async def create_batch(
    session: AsyncSessionDep,
    ctx: OrgDep,
    ideas: Annotated[str, Form(max_length=200_000)] = "",
    platforms: Annotated[list[str] | None, Form()] = None,
    languages: Annotated[list[str] | None, Form()] = None,
) -> Response:
    back = f"/orgs/{ctx.organization.id}/content/batches"
    try:
        batch = await content_batch.create(
            session,
            ctx.subject,
            organization_id=ctx.organization.id,
            items=parse_csv(ideas),
            platforms=platforms or [],
            languages=languages or ["en"],
            brand_voice_id=None,
        )
    except AppError as e:
        return redirect(back, e.detail, "error")
    return redirect(f"{back}/{batch.id}", f"Batch of {batch.total} queued.")


async def _batch_context(session: AsyncSessionDep, ctx: OrgDep, batch_id: uuid.UUID) -> Any:
    batch = await content_batch.get(session, ctx.subject, batch_id)
    return {"batch": batch, "items": await content_batch.items(session, batch)}


@router.get("/orgs/{org_id}/content/batches/{batch_id}")
async def batch_page(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, batch_id: uuid.UUID
) -> Response:
    return render(request, "content/batch.html", await _batch_context(session, ctx, batch_id))


@router.get("/orgs/{org_id}/content/batches/{batch_id}/progress")
async def batch_progress(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, batch_id: uuid.UUID
) -> Response:
    """HTMX: the batch's progress bar and items (polled while it runs)."""
    return render(request, "content/_batch.html", await _batch_context(session, ctx, batch_id))


@router.post("/orgs/{org_id}/content/batches/{batch_id}/retry")
async def retry_batch(session: AsyncSessionDep, ctx: OrgDep, batch_id: uuid.UUID) -> Response:
    batch = await content_batch.get(session, ctx.subject, batch_id)
    back = f"/orgs/{ctx.organization.id}/content/batches/{batch.id}"
    try:
        await content_batch.retry_failed(session, ctx.subject, batch)
    except AppError as e:
        return redirect(back, e.detail, "error")
    return redirect(back, "Failed items queued again.")


# --- AI costs -----------------------------------------------------------------------------------


@router.get("/orgs/{org_id}/ai")
async def ai_page(request: Request, session: AsyncSessionDep, ctx: OrgDep) -> Response:
    """The cost dashboard: this month's spend against the budget, by provider, task, product."""
    organization_id = ctx.organization.id
    await authz.require(
        session, ctx.subject, organization_id, Permission.ai_usage_read, action="ai.costs"
    )
    since = budget.month_start(datetime.now(UTC))
    settings = await ai_service.settings_for(session, organization_id)
    usage = await ai_settings_service.usage(session, organization_id, since)
    decision = budget.decide(policy_of(settings), usage["spent"])
    configured = await ai_service.configured(session, organization_id)
    chains = {
        task: [(n, configured.get(n, ("none", None, None))[0]) for n in names]
        for task, names in effective_chains(settings).items()
    }
    return render(
        request,
        "content/ai.html",
        {
            **usage,
            "decision": decision,
            "settings": settings,
            "chains": chains,
            "labels": PROVIDER_LABELS,
            "breakers": ai_service.breakers.snapshot(),
            "usd": budget.usd,
        },
    )

import builtins
import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.authz.permission import Permission
from flashfusion.content import rules as platform_rules
from flashfusion.content import seo
from flashfusion.content.auth import ContentRead, ContentWrite
from flashfusion.content.brand_voice_service import brand_voice as brand_voice_service
from flashfusion.content.draft import ListingDraft
from flashfusion.content.endpoint_helpers import (
    GENERATION_ERRORS,
    VersionNumber,
    diff_range,
    generation_target,
    org_of,
    version_page,
)
from flashfusion.content.experiment_service import experiment as experiment_service
from flashfusion.content.schemas import BrandVoice as BrandVoiceSchema
from flashfusion.content.schemas import (
    BrandVoiceCreate,
    BrandVoiceUpdate,
    ExperimentCreate,
    ExperimentOutcome,
    ExperimentStop,
    GeneratedListing,
    ListingCopyDetail,
    ListingCopyUpdate,
    ListingDiff,
    ListingGenerate,
    ListingRevert,
    ListingTranslate,
    SeoReport,
    SeoRequest,
)
from flashfusion.content.schemas import Experiment as ExperimentSchema
from flashfusion.content.schemas import ListingCopy as ListingCopySchema
from flashfusion.content.schemas import ListingCopyVersion as ListingCopyVersionSchema
from flashfusion.content.script_endpoints import router as script_router
from flashfusion.content.service import content as content_service
from flashfusion.content.writer import Written
from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import (
    Conflict,
    NotPermitted,
    ResourceNotFound,
    UnprocessableEntity,
    error_responses,
)
from flashfusion.kit.pagination import ListResource
from flashfusion.kit.routing import ObjectID, PaginationParamsDep
from flashfusion.models import ListingCopy, ListingCopyVersion

router = APIRouter(tags=["content"])


def _with_latest(copy: ListingCopy, version: ListingCopyVersion) -> ListingCopyDetail:
    return ListingCopyDetail.model_validate(
        {
            **ListingCopySchema.model_validate(copy).model_dump(),
            "latest": ListingCopyVersionSchema.model_validate(version),
        }
    )


async def _detail(session: AsyncSession, copy: ListingCopy) -> ListingCopyDetail:
    return _with_latest(copy, await content_service.version(session, copy))


def _generated(written: Written) -> GeneratedListing:
    return GeneratedListing.model_validate(
        {
            **_with_latest(written.copy, written.version).model_dump(),
            "cost_microusd": written.cost_microusd,
            "cache_hit": written.cache_hit,
            "budget_warning": written.budget_warning,
        }
    )


# --- listing copy --------------------------------------------------------------------------


@router.post(
    "/content/listings/generate",
    response_model=builtins.list[GeneratedListing],
    status_code=201,
    responses=error_responses(*GENERATION_ERRORS),
)
async def generate(
    body: ListingGenerate, auth_subject: ContentWrite, session: AsyncSessionDep
) -> object:
    """Write listing copy for a product or an idea, for each platform and language."""
    product, organization_id = await generation_target(
        session, auth_subject, body.product_id, body.organization_id, action="content.generated"
    )
    written = await content_service.generate(
        session,
        auth_subject,
        organization_id=organization_id,
        product=product,
        idea=body.idea,
        product_type=body.product_type,
        platforms=builtins.list(body.platforms),
        languages=builtins.list(body.languages),
        brand_voice_id=body.brand_voice_id,
        keywords=builtins.list(body.keywords),
        audience=body.audience,
        occasion=body.occasion,
        seed=body.seed,
    )
    return [_generated(w) for w in written]


@router.get(
    "/content/listings",
    response_model=ListResource[ListingCopyDetail],
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def list(
    auth_subject: ContentRead,
    pagination: PaginationParamsDep,
    session: AsyncSessionDep,
    organization_id: Annotated[uuid.UUID | None, Query(description="Only this workspace.")] = None,
    product_id: Annotated[uuid.UUID | None, Query(description="Only this product's.")] = None,
    platform: Annotated[str | None, Query(max_length=32, description="Only this platform.")] = None,
    language: Annotated[
        str | None, Query(max_length=8, description="Only this language code.")
    ] = None,
) -> ListResource[ListingCopyDetail]:
    """The content library: listing copy with its newest version, newest first."""
    results, count = await content_service.list(
        session,
        auth_subject,
        organization_id=organization_id,
        product_id=product_id,
        platform=platform,
        language=language,
        pagination=pagination,
    )
    latest = await content_service.latest_versions(session, results)
    return ListResource.build(
        [_with_latest(copy, latest[copy.id]) for copy in results], count, pagination
    )


@router.get(
    "/content/listings/{id}",
    response_model=ListingCopyDetail,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def get(id: ObjectID, auth_subject: ContentRead, session: AsyncSessionDep) -> object:
    """Get listing copy with its newest version."""
    copy = await content_service.get(session, auth_subject, id)
    return await _detail(session, copy)


@router.patch(
    "/content/listings/{id}",
    response_model=ListingCopyDetail,
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def update(
    id: ObjectID, body: ListingCopyUpdate, auth_subject: ContentWrite, session: AsyncSessionDep
) -> object:
    """Edit the copy: saved as a new version, `ready` only if it obeys every platform limit."""
    copy = await content_service.get(
        session, auth_subject, id, permission=Permission.content_manage, action="content.edited"
    )
    changes = body.model_dump(exclude={"note"}, exclude_none=True)
    version = await content_service.edit(session, auth_subject, copy, changes, note=body.note)
    return _with_latest(copy, version)


@router.get(
    "/content/listings/{id}/versions",
    response_model=ListResource[ListingCopyVersionSchema],
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def list_versions(
    id: ObjectID,
    auth_subject: ContentRead,
    pagination: PaginationParamsDep,
    session: AsyncSessionDep,
) -> ListResource[ListingCopyVersionSchema]:
    """Every saved version of the copy, newest first."""
    copy = await content_service.get(session, auth_subject, id)
    versions = await content_service.versions(session, copy)
    return version_page(versions, pagination, ListingCopyVersionSchema.model_validate)


@router.get(
    "/content/listings/{id}/versions/{number}",
    response_model=ListingCopyVersionSchema,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def get_version(
    id: ObjectID, number: VersionNumber, auth_subject: ContentRead, session: AsyncSessionDep
) -> object:
    """Get one saved version of the copy."""
    copy = await content_service.get(session, auth_subject, id)
    return await content_service.version(session, copy, number)


@router.post(
    "/content/listings/{id}/revert",
    response_model=ListingCopyDetail,
    status_code=201,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def revert(
    id: ObjectID, body: ListingRevert, auth_subject: ContentWrite, session: AsyncSessionDep
) -> object:
    """Save an older version again as the newest (history is kept)."""
    copy = await content_service.get(
        session, auth_subject, id, permission=Permission.content_manage, action="content.reverted"
    )
    version = await content_service.revert(session, auth_subject, copy, body.version)
    return _with_latest(copy, version)


@router.get(
    "/content/listings/{id}/diff",
    response_model=ListingDiff,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def diff(
    id: ObjectID,
    auth_subject: ContentRead,
    session: AsyncSessionDep,
    a: Annotated[
        int | None, Query(ge=1, le=1_000_000, description="Older version; default: b − 1.")
    ] = None,
    b: Annotated[
        int | None, Query(ge=1, le=1_000_000, description="Newer version; default: the newest.")
    ] = None,
) -> ListingDiff:
    """What changed between two versions, field by field."""
    copy = await content_service.get(session, auth_subject, id)
    older, newer = diff_range(copy, a, b)
    changes = await content_service.diff(session, copy, older, newer)
    return ListingDiff.model_validate(
        {"listing_copy_id": copy.id, "a": older, "b": newer, "changes": changes}
    )


@router.post(
    "/content/listings/{id}/translate",
    response_model=builtins.list[GeneratedListing],
    status_code=201,
    responses=error_responses(*GENERATION_ERRORS),
)
async def translate(
    id: ObjectID, body: ListingTranslate, auth_subject: ContentWrite, session: AsyncSessionDep
) -> object:
    """Write the copy in other languages, each with that language's rules."""
    copy = await content_service.get(
        session,
        auth_subject,
        id,
        permission=Permission.content_manage,
        action="content.translated",
    )
    written = await content_service.translate(
        session, auth_subject, copy, builtins.list(body.languages)
    )
    return [_generated(w) for w in written]


@router.post(
    "/content/listings/{id}/seo",
    response_model=SeoReport,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def seo_report(
    id: ObjectID, body: SeoRequest, auth_subject: ContentRead, session: AsyncSessionDep
) -> SeoReport:
    """SEO report of the newest version: keyword placement, length, readability, suggestions."""
    copy = await content_service.get(session, auth_subject, id)
    version = await content_service.version(session, copy)
    draft = ListingDraft.model_validate(version.fields)
    keywords = [k.strip() for k in (body.keywords or draft.tags or [copy.idea]) if k.strip()]
    report = seo.analyse(
        draft,
        keywords=keywords,
        rules=platform_rules.get_rules(copy.platform),
        language=copy.language,
    )
    return SeoReport.model_validate(
        {
            "listing_copy_id": copy.id,
            "version": version.version,
            "keywords": keywords,
            **report.model_dump(),
        }
    )


# --- brand voices --------------------------------------------------------------------------


@router.get(
    "/brand-voices",
    response_model=ListResource[BrandVoiceSchema],
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def list_brand_voices(
    auth_subject: ContentRead,
    pagination: PaginationParamsDep,
    session: AsyncSessionDep,
    organization_id: Annotated[uuid.UUID | None, Query(description="Only this workspace.")] = None,
) -> ListResource[BrandVoiceSchema]:
    """List brand voices (the default first)."""
    results, count = await brand_voice_service.list(
        session, auth_subject, organization_id=organization_id, pagination=pagination
    )
    return ListResource.build(
        [BrandVoiceSchema.model_validate(r) for r in results], count, pagination
    )


@router.post(
    "/brand-voices",
    response_model=BrandVoiceSchema,
    status_code=201,
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def create_brand_voice(
    body: BrandVoiceCreate, auth_subject: ContentWrite, session: AsyncSessionDep
) -> object:
    """Create a brand voice: tone, audience, words to use and never to use."""
    return await brand_voice_service.create(
        session,
        auth_subject,
        org_of(auth_subject, body.organization_id),
        body.model_dump(exclude={"organization_id"}),
    )


@router.get(
    "/brand-voices/{id}",
    response_model=BrandVoiceSchema,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def get_brand_voice(
    id: ObjectID, auth_subject: ContentRead, session: AsyncSessionDep
) -> object:
    """Get a brand voice."""
    return await brand_voice_service.get(session, auth_subject, id)


@router.patch(
    "/brand-voices/{id}",
    response_model=BrandVoiceSchema,
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def update_brand_voice(
    id: ObjectID, body: BrandVoiceUpdate, auth_subject: ContentWrite, session: AsyncSessionDep
) -> object:
    """Change a brand voice (new copy follows it; saved copy stays as written)."""
    voice = await brand_voice_service.get(
        session,
        auth_subject,
        id,
        permission=Permission.content_manage,
        action="brand_voice.updated",
    )
    return await brand_voice_service.update(
        session, auth_subject, voice, body.model_dump(exclude_unset=True)
    )


@router.delete(
    "/brand-voices/{id}",
    response_model=BrandVoiceSchema,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def delete_brand_voice(
    id: ObjectID, auth_subject: ContentWrite, session: AsyncSessionDep
) -> object:
    """Delete a brand voice."""
    voice = await brand_voice_service.get(
        session,
        auth_subject,
        id,
        permission=Permission.content_manage,
        action="brand_voice.deleted",
    )
    return await brand_voice_service.delete(session, auth_subject, voice)


# --- experiments ---------------------------------------------------------------------------


@router.post(
    "/content/experiments",
    response_model=ExperimentSchema,
    status_code=201,
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def create_experiment(
    body: ExperimentCreate, auth_subject: ContentWrite, session: AsyncSessionDep
) -> object:
    """Set up an A/B test of a listing's title or description from 2–4 of its versions."""
    copy = await content_service.get(
        session,
        auth_subject,
        body.listing_copy_id,
        permission=Permission.content_manage,
        action="content_experiment.created",
    )
    return await experiment_service.create(
        session,
        auth_subject,
        copy,
        body.field,
        builtins.list(body.versions),
        builtins.list(body.traffic) if body.traffic is not None else None,
    )


@router.get(
    "/content/experiments",
    response_model=ListResource[ExperimentSchema],
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def list_experiments(
    auth_subject: ContentRead,
    pagination: PaginationParamsDep,
    session: AsyncSessionDep,
    organization_id: Annotated[uuid.UUID | None, Query(description="Only this workspace.")] = None,
    listing_copy_id: Annotated[
        uuid.UUID | None, Query(description="Only this listing copy's.")
    ] = None,
    status: Annotated[
        str | None, Query(max_length=16, description="draft, running or stopped.")
    ] = None,
) -> ListResource[ExperimentSchema]:
    """List A/B experiments, newest first."""
    results, count = await experiment_service.list(
        session,
        auth_subject,
        organization_id=organization_id,
        listing_copy_id=listing_copy_id,
        status=status,
        pagination=pagination,
    )
    return ListResource.build(
        [ExperimentSchema.model_validate(r) for r in results], count, pagination
    )


@router.get(
    "/content/experiments/{id}",
    response_model=ExperimentSchema,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def get_experiment(
    id: ObjectID, auth_subject: ContentRead, session: AsyncSessionDep
) -> object:
    """Get an A/B experiment with each variant's outcome so far."""
    return await experiment_service.get(session, auth_subject, id)


@router.post(
    "/content/experiments/{id}/start",
    response_model=ExperimentSchema,
    responses=error_responses(ResourceNotFound, NotPermitted, Conflict),
)
async def start_experiment(
    id: ObjectID, auth_subject: ContentWrite, session: AsyncSessionDep
) -> object:
    """Start a draft experiment."""
    found = await experiment_service.get(
        session,
        auth_subject,
        id,
        permission=Permission.content_manage,
        action="content_experiment.started",
    )
    return await experiment_service.start(session, auth_subject, found)


@router.post(
    "/content/experiments/{id}/stop",
    response_model=ExperimentSchema,
    responses=error_responses(ResourceNotFound, NotPermitted, Conflict, UnprocessableEntity),
)
async def stop_experiment(
    id: ObjectID, body: ExperimentStop, auth_subject: ContentWrite, session: AsyncSessionDep
) -> object:
    """Stop a running experiment, naming the winning variant (or none)."""
    found = await experiment_service.get(
        session,
        auth_subject,
        id,
        permission=Permission.content_manage,
        action="content_experiment.stopped",
    )
    return await experiment_service.stop(session, auth_subject, found, body.winner)


@router.post(
    "/content/experiments/{id}/outcome",
    response_model=ExperimentSchema,
    responses=error_responses(ResourceNotFound, NotPermitted, Conflict, UnprocessableEntity),
)
async def record_outcome(
    id: ObjectID, body: ExperimentOutcome, auth_subject: ContentWrite, session: AsyncSessionDep
) -> object:
    """Record a variant's impressions, clicks and orders so far (totals, as analytics counts)."""
    found = await experiment_service.get(
        session,
        auth_subject,
        id,
        permission=Permission.content_manage,
        action="content_experiment.outcome_recorded",
    )
    return await experiment_service.record_outcome(
        session, auth_subject, found, body.variant, body.impressions, body.clicks, body.orders
    )


# Video scripts share the library's tables; their routes live in their own module.
router.include_router(script_router)

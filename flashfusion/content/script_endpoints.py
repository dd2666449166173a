"""Short-video scripts: generate (each saved as a version in the library), list, edit, revert,
diff. Included in the content router (`content/endpoints.py`)."""

import builtins
import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from flashfusion.authz.permission import Permission
from flashfusion.content.auth import ContentRead, ContentWrite
from flashfusion.content.endpoint_helpers import (
    GENERATION_ERRORS,
    VersionNumber,
    diff_range,
    generation_target,
    version_page,
)
from flashfusion.content.schemas import (
    ListingRevert,
    Script,
    ScriptDetail,
    ScriptDiff,
    ScriptRequest,
    ScriptUpdate,
    ScriptVersion,
    VideoScript,
)
from flashfusion.content.script_service import WrittenScript, seconds_of, video_platform
from flashfusion.content.script_service import script as script_service
from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import (
    NotPermitted,
    ResourceNotFound,
    UnprocessableEntity,
    error_responses,
)
from flashfusion.kit.pagination import ListResource
from flashfusion.kit.routing import ObjectID, PaginationParamsDep
from flashfusion.models import ListingCopy, ListingCopyVersion

router = APIRouter(tags=["content"])


def version_body(version: ListingCopyVersion) -> ScriptVersion:
    return ScriptVersion.model_validate(
        {
            "id": version.id,
            "created_at": version.created_at,
            "modified_at": version.modified_at,
            "organization_id": version.organization_id,
            "script_id": version.listing_copy_id,
            "version": version.version,
            "fields": version.fields,
            "seconds": seconds_of(version.fields),
            "source": version.source,
            "violations": version.violations,
            "provider": version.provider,
            "generation_id": version.generation_id,
            "note": version.note,
        }
    )


def detail_body(copy: ListingCopy, version: ListingCopyVersion) -> ScriptDetail:
    return ScriptDetail.model_validate(
        {
            **Script.model_validate(copy).model_dump(),
            "platform": video_platform(copy),
            "latest": version_body(version),
        }
    )


def generated_body(written: WrittenScript) -> VideoScript:
    generation = written.generation
    return VideoScript.model_validate(
        {
            **written.script.model_dump(),
            "script_id": written.copy.id,
            "version": written.version.version,
            "status": written.copy.status.value,
            "violations": written.version.violations,
            "organization_id": written.copy.organization_id,
            "product_id": written.copy.product_id,
            "platform": video_platform(written.copy),
            "language": written.copy.language,
            "seconds": sum(s.seconds for s in written.script.scenes),
            "provider": generation.response.provider,
            "generation_id": generation.record.id,
            "cost_microusd": generation.record.cost_microusd,
            "cache_hit": generation.cache_hit,
            "budget_warning": generation.budget_warning,
        }
    )


@router.post(
    "/content/scripts",
    response_model=VideoScript,
    responses=error_responses(*GENERATION_ERRORS),
)
async def script(
    body: ScriptRequest, auth_subject: ContentWrite, session: AsyncSessionDep
) -> object:
    """A short-video script (hook, timed scenes, call to action), saved as a new version."""
    product, organization_id = await generation_target(
        session, auth_subject, body.product_id, body.organization_id, action="content.script"
    )
    written = await script_service.generate(
        session,
        auth_subject,
        organization_id=organization_id,
        product=product,
        idea=body.idea,
        product_type=body.product_type,
        platform=body.platform,
        seconds=body.seconds,
        language=body.language,
        brand_voice_id=body.brand_voice_id,
    )
    return generated_body(written)


@router.get(
    "/content/scripts",
    response_model=ListResource[ScriptDetail],
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def list_scripts(
    auth_subject: ContentRead,
    pagination: PaginationParamsDep,
    session: AsyncSessionDep,
    organization_id: Annotated[uuid.UUID | None, Query(description="Only this workspace.")] = None,
    product_id: Annotated[uuid.UUID | None, Query(description="Only this product's.")] = None,
    platform: Annotated[
        str | None, Query(max_length=32, description="Only this video platform.")
    ] = None,
    language: Annotated[
        str | None, Query(max_length=8, description="Only this language code.")
    ] = None,
) -> ListResource[ScriptDetail]:
    """The script library: video scripts with their newest version, newest first."""
    results, count = await script_service.list(
        session,
        auth_subject,
        organization_id=organization_id,
        product_id=product_id,
        platform=platform,
        language=language,
        pagination=pagination,
    )
    latest = await script_service.latest_versions(session, results)
    return ListResource.build(
        [detail_body(copy, latest[copy.id]) for copy in results], count, pagination
    )


@router.get(
    "/content/scripts/{id}",
    response_model=ScriptDetail,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def get_script(id: ObjectID, auth_subject: ContentRead, session: AsyncSessionDep) -> object:
    """Get a script with its newest version."""
    copy = await script_service.get(session, auth_subject, id)
    return detail_body(copy, await script_service.version(session, copy))


@router.patch(
    "/content/scripts/{id}",
    response_model=ScriptDetail,
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def update_script(
    id: ObjectID, body: ScriptUpdate, auth_subject: ContentWrite, session: AsyncSessionDep
) -> object:
    """Edit the script: saved as a new version, a draft if it breaks a script rule."""
    copy = await script_service.get(
        session,
        auth_subject,
        id,
        permission=Permission.content_manage,
        action="content.script_edited",
    )
    changes = body.model_dump(exclude={"note"}, exclude_none=True)
    version = await script_service.edit(session, auth_subject, copy, changes, note=body.note)
    return detail_body(copy, version)


@router.get(
    "/content/scripts/{id}/versions",
    response_model=ListResource[ScriptVersion],
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def list_script_versions(
    id: ObjectID,
    auth_subject: ContentRead,
    pagination: PaginationParamsDep,
    session: AsyncSessionDep,
) -> ListResource[ScriptVersion]:
    """Every saved version of the script, newest first."""
    copy = await script_service.get(session, auth_subject, id)
    versions = await script_service.versions(session, copy)
    return version_page(versions, pagination, version_body)


@router.get(
    "/content/scripts/{id}/versions/{number}",
    response_model=ScriptVersion,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def get_script_version(
    id: ObjectID, number: VersionNumber, auth_subject: ContentRead, session: AsyncSessionDep
) -> object:
    """Get one saved version of the script."""
    copy = await script_service.get(session, auth_subject, id)
    return version_body(await script_service.version(session, copy, number))


@router.post(
    "/content/scripts/{id}/revert",
    response_model=ScriptDetail,
    status_code=201,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def revert_script(
    id: ObjectID, body: ListingRevert, auth_subject: ContentWrite, session: AsyncSessionDep
) -> object:
    """Save an older version of the script again as the newest (history is kept)."""
    copy = await script_service.get(
        session,
        auth_subject,
        id,
        permission=Permission.content_manage,
        action="content.script_reverted",
    )
    version = await script_service.revert(session, auth_subject, copy, body.version)
    return detail_body(copy, version)


@router.get(
    "/content/scripts/{id}/diff",
    response_model=ScriptDiff,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def diff_script(
    id: ObjectID,
    auth_subject: ContentRead,
    session: AsyncSessionDep,
    a: Annotated[
        int | None, Query(ge=1, le=1_000_000, description="Older version; default: b − 1.")
    ] = None,
    b: Annotated[
        int | None, Query(ge=1, le=1_000_000, description="Newer version; default: the newest.")
    ] = None,
) -> ScriptDiff:
    """What changed between two versions of the script, field by field."""
    copy = await script_service.get(session, auth_subject, id)
    older, newer = diff_range(copy, a, b)
    changes = await script_service.diff(session, copy, older, newer)
    return ScriptDiff.model_validate(
        {"script_id": copy.id, "a": older, "b": newer, "changes": builtins.list(changes)}
    )

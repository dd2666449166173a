import builtins
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, UploadFile
from fastapi.responses import Response

from flashfusion.authz.permission import Permission
from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import (
    BadRequest,
    NotPermitted,
    ResourceNotFound,
    UnprocessableEntity,
    error_responses,
)
from flashfusion.kit.pagination import ListResource
from flashfusion.kit.routing import ObjectID, PaginationParamsDep
from flashfusion.models import APIKey
from flashfusion.studio import fonts as font_registry
from flashfusion.studio import presets as preset_registry
from flashfusion.studio.auth import DesignsRead, DesignsWrite
from flashfusion.studio.media import UploadTooLarge, upload_limits
from flashfusion.studio.media import media as media_service
from flashfusion.studio.render_service import render_service
from flashfusion.studio.schemas import Design as DesignSchema
from flashfusion.studio.schemas import (
    DesignCreate,
    DesignUpdate,
    DesignVersionCreate,
    FixRequest,
    FontInfo,
    PresetInfo,
    PreviewRequest,
    RenderCreate,
    RenderDetail,
    ValidateRequest,
    ValidationIssue,
)
from flashfusion.studio.schemas import DesignVersion as DesignVersionSchema
from flashfusion.studio.schemas import MediaAsset as MediaAssetSchema
from flashfusion.studio.schemas import Render as RenderSchema
from flashfusion.studio.schemas import RenderFile as RenderFileSchema
from flashfusion.studio.service import design as design_service

router = APIRouter(tags=["studio"])
VersionNumber = Annotated[int, Path(ge=1, le=1_000_000, description="Version number, from 1.")]
PNG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}}, "description": "The image."}
}


def _org(auth_subject: DesignsRead, organization_id: uuid.UUID | None) -> uuid.UUID:
    subject = auth_subject.subject
    assert isinstance(subject, APIKey)
    return organization_id or subject.organization_id


@router.get("/presets", response_model=list[PresetInfo])
async def list_presets(auth_subject: DesignsRead) -> builtins.list[PresetInfo]:
    """List the style presets a design can start from."""
    return [
        PresetInfo(key=p.key, name=p.name, description=p.description)
        for p in preset_registry.PRESETS.values()
    ]


@router.get("/fonts", response_model=list[FontInfo])
async def list_fonts(auth_subject: DesignsRead) -> builtins.list[FontInfo]:
    """List the bundled fonts text layers can use."""
    return [
        FontInfo(key=f.key, name=f"{f.family} {f.style}".strip(), licence=f.licence)
        for f in font_registry.FONTS.values()
    ]


@router.get(
    "/designs",
    response_model=ListResource[DesignSchema],
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def list(
    auth_subject: DesignsRead,
    pagination: PaginationParamsDep,
    session: AsyncSessionDep,
    organization_id: Annotated[uuid.UUID | None, Query(description="Only this workspace.")] = None,
    q: Annotated[str | None, Query(max_length=100, description="Search name and phrase.")] = None,
) -> ListResource[DesignSchema]:
    """List and search designs."""
    results, count = await design_service.list(
        session, auth_subject, organization_id=organization_id, query=q, pagination=pagination
    )
    return ListResource.build([DesignSchema.model_validate(r) for r in results], count, pagination)


@router.post(
    "/designs",
    response_model=DesignSchema,
    status_code=201,
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def create(
    body: DesignCreate, auth_subject: DesignsWrite, session: AsyncSessionDep
) -> object:
    """Create a design from a phrase and a style preset, or from a full document."""
    design, _ = await design_service.create(
        session,
        auth_subject,
        organization_id=_org(auth_subject, body.organization_id),
        name=body.name,
        phrase=body.phrase,
        preset=body.preset,
        document=body.document,
    )
    return design


@router.post(
    "/designs/preview",
    response_class=Response,
    responses={**PNG, **error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity)},
)
async def preview(
    body: PreviewRequest, auth_subject: DesignsRead, session: AsyncSessionDep
) -> Response:
    """Render a document (saved or not) at preview size, as PNG."""
    png = await design_service.preview(
        session, auth_subject, _org(auth_subject, None), body.document, size=body.size
    )
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get(
    "/designs/{id}",
    response_model=DesignSchema,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def get(id: ObjectID, auth_subject: DesignsRead, session: AsyncSessionDep) -> object:
    """Get a design."""
    return await design_service.get(session, auth_subject, id)


@router.patch(
    "/designs/{id}",
    response_model=DesignSchema,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def update(
    id: ObjectID, body: DesignUpdate, auth_subject: DesignsWrite, session: AsyncSessionDep
) -> object:
    """Rename a design."""
    design = await design_service.get(
        session, auth_subject, id, permission=Permission.designs_manage, action="design.updated"
    )
    if body.name is None:
        return design
    return await design_service.rename(session, auth_subject, design, body.name)


@router.delete(
    "/designs/{id}",
    response_model=DesignSchema,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def delete(id: ObjectID, auth_subject: DesignsWrite, session: AsyncSessionDep) -> object:
    """Delete a design (its products keep the versions they were made from)."""
    design = await design_service.get(
        session, auth_subject, id, permission=Permission.designs_manage, action="design.deleted"
    )
    return await design_service.delete(session, auth_subject, design)


@router.get(
    "/designs/{id}/versions",
    response_model=ListResource[DesignVersionSchema],
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def list_versions(
    id: ObjectID,
    auth_subject: DesignsRead,
    pagination: PaginationParamsDep,
    session: AsyncSessionDep,
) -> ListResource[DesignVersionSchema]:
    """List a design's versions, newest first."""
    design = await design_service.get(session, auth_subject, id)
    results, count = await design_service.list_versions(session, design, pagination)
    return ListResource.build(
        [DesignVersionSchema.model_validate(r) for r in results], count, pagination
    )


@router.post(
    "/designs/{id}/versions",
    response_model=DesignVersionSchema,
    status_code=201,
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def create_version(
    id: ObjectID, body: DesignVersionCreate, auth_subject: DesignsWrite, session: AsyncSessionDep
) -> object:
    """Save a new version of a design."""
    design = await design_service.get(
        session,
        auth_subject,
        id,
        permission=Permission.designs_manage,
        action="design.version_saved",
    )
    return await design_service.save_version(
        session, auth_subject, design, body.document, note=body.note
    )


@router.get(
    "/designs/{id}/versions/{number}",
    response_model=DesignVersionSchema,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def get_version(
    id: ObjectID, number: VersionNumber, auth_subject: DesignsRead, session: AsyncSessionDep
) -> object:
    """Get one version of a design."""
    design = await design_service.get(session, auth_subject, id)
    return await design_service.get_version(session, design, number)


@router.post(
    "/designs/{id}/versions/{number}/revert",
    response_model=DesignVersionSchema,
    status_code=201,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def revert(
    id: ObjectID, number: VersionNumber, auth_subject: DesignsWrite, session: AsyncSessionDep
) -> object:
    """Restore an earlier version (saved as a new version; history is kept)."""
    design = await design_service.get(
        session, auth_subject, id, permission=Permission.designs_manage, action="design.reverted"
    )
    return await design_service.revert(session, auth_subject, design, number)


@router.get(
    "/designs/{id}/versions/{number}/preview",
    response_class=Response,
    responses={**PNG, **error_responses(ResourceNotFound, NotPermitted)},
)
async def preview_version(
    id: ObjectID,
    number: VersionNumber,
    auth_subject: DesignsRead,
    session: AsyncSessionDep,
    size: Annotated[int, Query(ge=64, le=1200)] = 600,
) -> Response:
    """A saved version rendered at preview size, as PNG."""
    from flashfusion.studio.document import DesignDocument

    design = await design_service.get(session, auth_subject, id)
    version = await design_service.get_version(session, design, number)
    png = await design_service.preview_png(
        session, design.organization_id, DesignDocument.model_validate(version.document), size=size
    )
    return Response(png, media_type="image/png")


@router.post(
    "/designs/{id}/validate",
    response_model=builtins.list[ValidationIssue],
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def validate(
    id: ObjectID, body: ValidateRequest, auth_subject: DesignsRead, session: AsyncSessionDep
) -> object:
    """Check a version against product types: DPI, safe area, strokes, text size, limits."""
    design = await design_service.get(session, auth_subject, id)
    version = await design_service.get_version(session, design, body.version)
    return await design_service.validate(session, design, version, dict(body.product_types))


@router.post(
    "/designs/{id}/fixes",
    response_model=DesignVersionSchema,
    status_code=201,
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def apply_fix(
    id: ObjectID, body: FixRequest, auth_subject: DesignsWrite, session: AsyncSessionDep
) -> object:
    """Apply a validation issue's automatic fix; the result is saved as a new version."""
    design = await design_service.get(
        session,
        auth_subject,
        id,
        permission=Permission.designs_manage,
        action="design.version_saved",
    )
    version = await design_service.get_version(session, design, body.version)
    return await design_service.fix(
        session,
        auth_subject,
        design,
        version,
        product_type_key=body.product_type,
        code=body.code,
        area_key=body.area_key,
        layer_id=body.layer_id,
    )


@router.post(
    "/designs/{id}/renders",
    response_model=RenderSchema,
    status_code=202,
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def create_render(
    id: ObjectID, body: RenderCreate, auth_subject: DesignsWrite, session: AsyncSessionDep
) -> object:
    """Start rendering print files (and mockups) for product types; poll the render."""
    design = await design_service.get(
        session, auth_subject, id, permission=Permission.designs_manage, action="render.created"
    )
    version = await design_service.get_version(session, design, body.version)
    return await render_service.create(
        session, auth_subject, design, version, dict(body.product_types), mockups=body.mockups
    )


@router.get(
    "/designs/{id}/renders",
    response_model=ListResource[RenderSchema],
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def list_renders(
    id: ObjectID,
    auth_subject: DesignsRead,
    pagination: PaginationParamsDep,
    session: AsyncSessionDep,
) -> ListResource[RenderSchema]:
    """List a design's renders, newest first."""
    design = await design_service.get(session, auth_subject, id)
    results, count = await render_service.list_for_design(session, design, pagination)
    return ListResource.build([RenderSchema.model_validate(r) for r in results], count, pagination)


@router.get(
    "/renders/{id}",
    response_model=RenderDetail,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def get_render(id: ObjectID, auth_subject: DesignsRead, session: AsyncSessionDep) -> object:
    """Get a render: progress, validation issues and the files it produced."""
    render = await render_service.get(session, auth_subject, id)
    files = await render_service.files(session, render)
    return RenderDetail.model_validate(
        {
            **RenderSchema.model_validate(render).model_dump(),
            "files": [RenderFileSchema.model_validate(f) for f in files],
        }
    )


@router.post(
    "/media",
    response_model=MediaAssetSchema,
    status_code=201,
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity, UploadTooLarge),
)
async def upload(
    request: Request,
    file: UploadFile,
    auth_subject: DesignsWrite,
    session: AsyncSessionDep,
    organization_id: Annotated[uuid.UUID | None, Query(description="Workspace.")] = None,
) -> object:
    """Upload an image (PNG, JPEG or WebP) for image layers; it is checked and cleaned."""
    limit = upload_limits().max_bytes
    data = await file.read(limit + 1)
    if not data:
        raise BadRequest("file: the upload is empty; choose an image file.")
    return await media_service.upload(
        session,
        auth_subject,
        organization_id=_org(auth_subject, organization_id),
        data=data,
        filename=file.filename,
    )


@router.get(
    "/media/{id}",
    response_model=MediaAssetSchema,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def get_media(id: ObjectID, auth_subject: DesignsRead, session: AsyncSessionDep) -> object:
    """Get a media file's details."""
    return await media_service.get(session, auth_subject, id)


@router.get(
    "/media/{id}/content",
    response_class=Response,
    responses={**PNG, **error_responses(ResourceNotFound, NotPermitted)},
)
async def get_media_content(
    id: ObjectID, auth_subject: DesignsRead, session: AsyncSessionDep
) -> Response:
    """Download a media file (upload, print file or mockup)."""
    asset = await media_service.get(session, auth_subject, id)
    content = await media_service.content(asset)
    return Response(
        content,
        media_type=asset.content_type,
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from flashfusion.audit.auth import AuditRead
from flashfusion.audit.log import audit_log as audit_log_service
from flashfusion.audit.repository import AuditFilters
from flashfusion.audit.schemas import AuditEvent as AuditEventSchema
from flashfusion.audit.schemas import AuditExport as AuditExportSchema
from flashfusion.audit.schemas import AuditExportCreate
from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import Conflict, NotPermitted, ResourceNotFound, error_responses
from flashfusion.kit.pagination import ListResource
from flashfusion.kit.routing import ObjectID, PaginationParamsDep
from flashfusion.models import APIKey

router = APIRouter(prefix="/audit_events", tags=["audit"])


@router.get(
    "",
    response_model=ListResource[AuditEventSchema],
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def list(
    auth_subject: AuditRead,
    pagination: PaginationParamsDep,
    session: AsyncSessionDep,
    organization_id: Annotated[uuid.UUID | None, Query(description="Only this workspace.")] = None,
    action: Annotated[str | None, Query(max_length=64, description="Action prefix.")] = None,
    actor: Annotated[str | None, Query(max_length=320, description="Actor text.")] = None,
    outcome: Annotated[
        Literal["success", "denied", "failure"] | None, Query(description="Outcome.")
    ] = None,
    since: Annotated[datetime | None, Query(description="From this time.")] = None,
    until: Annotated[datetime | None, Query(description="Before this time.")] = None,
) -> ListResource[AuditEventSchema]:
    """Read the audit log, newest first."""
    filters = AuditFilters(action=action, actor=actor, outcome=outcome, since=since, until=until)
    results, count = await audit_log_service.list(
        session,
        auth_subject,
        organization_id=organization_id,
        filters=filters,
        pagination=pagination,
    )
    return ListResource.build(
        [AuditEventSchema.model_validate(r) for r in results], count, pagination
    )


@router.post(
    "/exports",
    response_model=AuditExportSchema,
    status_code=202,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def create_export(
    body: AuditExportCreate, auth_subject: AuditRead, session: AsyncSessionDep
) -> object:
    """Start a CSV export of the audit log; poll it, then download it."""
    subject = auth_subject.subject
    assert isinstance(subject, APIKey)
    filters = AuditFilters(
        action=body.action,
        actor=body.actor,
        outcome=body.outcome,
        since=body.since,
        until=body.until,
    )
    return await audit_log_service.create_export(
        session,
        auth_subject,
        organization_id=body.organization_id or subject.organization_id,
        filters=filters,
    )


@router.get(
    "/exports/{id}",
    response_model=AuditExportSchema,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def get_export(id: ObjectID, auth_subject: AuditRead, session: AsyncSessionDep) -> object:
    """Get an export's progress."""
    return await audit_log_service.get_export(session, auth_subject, id)


@router.get(
    "/exports/{id}/download",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "The CSV file."},
        **error_responses(ResourceNotFound, NotPermitted, Conflict),
    },
)
async def download_export(
    id: ObjectID, auth_subject: AuditRead, session: AsyncSessionDep
) -> Response:
    """Download a finished export as CSV."""
    export, content = await audit_log_service.download(session, auth_subject, id)
    filename = f"audit-log-{export.created_at:%Y%m%d-%H%M%S}.csv"
    return Response(
        content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )

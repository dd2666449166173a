import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import Conflict, NotPermitted, ResourceNotFound, error_responses
from flashfusion.invitation.schemas import Invitation as InvitationSchema
from flashfusion.invitation.schemas import InvitationCreate
from flashfusion.invitation.service import invitation as invitation_service
from flashfusion.kit.pagination import ListResource
from flashfusion.kit.routing import ObjectID, PaginationParamsDep
from flashfusion.member.auth import MembersRead, MembersWrite
from flashfusion.models import APIKey, Role

router = APIRouter(prefix="/invitations", tags=["invitations"])


@router.get(
    "",
    response_model=ListResource[InvitationSchema],
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def list(
    auth_subject: MembersRead,
    pagination: PaginationParamsDep,
    session: AsyncSessionDep,
    organization_id: Annotated[uuid.UUID | None, Query(description="Only this workspace.")] = None,
    pending: Annotated[bool, Query(description="Only pending invitations.")] = False,
) -> ListResource[InvitationSchema]:
    """List invitations."""
    results, count = await invitation_service.list(
        session,
        auth_subject,
        organization_id=organization_id,
        pending_only=pending,
        pagination=pagination,
    )
    return ListResource.build(
        [InvitationSchema.model_validate(r) for r in results], count, pagination
    )


@router.post(
    "",
    response_model=InvitationSchema,
    status_code=201,
    responses=error_responses(ResourceNotFound, NotPermitted, Conflict),
)
async def create(
    body: InvitationCreate, auth_subject: MembersWrite, session: AsyncSessionDep
) -> object:
    """Invite someone by email; they get a link that expires."""
    subject = auth_subject.subject
    assert isinstance(subject, APIKey)
    return await invitation_service.create(
        session,
        auth_subject,
        organization_id=body.organization_id or subject.organization_id,
        email=str(body.email),
        role=Role(body.role),
    )


@router.delete(
    "/{id}",
    response_model=InvitationSchema,
    responses=error_responses(ResourceNotFound, NotPermitted, Conflict),
)
async def delete(id: ObjectID, auth_subject: MembersWrite, session: AsyncSessionDep) -> object:
    """Revoke a pending invitation."""
    invitation = await invitation_service.get(session, auth_subject, id)
    return await invitation_service.revoke(session, auth_subject, invitation)

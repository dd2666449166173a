import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from flashfusion.authz.permission import Permission
from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import NotPermitted, ResourceNotFound, error_responses
from flashfusion.kit.pagination import ListResource
from flashfusion.kit.routing import ObjectID, PaginationParamsDep
from flashfusion.member.auth import MembersRead, MembersWrite
from flashfusion.member.schemas import Member as MemberSchema
from flashfusion.member.schemas import MemberUpdate
from flashfusion.member.service import member as member_service
from flashfusion.models import Role

router = APIRouter(prefix="/members", tags=["members"])

OrganizationFilter = Annotated[
    uuid.UUID | None, Query(description="Only this workspace's members.")
]


@router.get(
    "",
    response_model=ListResource[MemberSchema],
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def list(
    auth_subject: MembersRead,
    pagination: PaginationParamsDep,
    session: AsyncSessionDep,
    organization_id: OrganizationFilter = None,
) -> ListResource[MemberSchema]:
    """List workspace members."""
    results, count = await member_service.list(
        session, auth_subject, organization_id=organization_id, pagination=pagination
    )
    return ListResource.build([MemberSchema.model_validate(r) for r in results], count, pagination)


@router.get("/{id}", response_model=MemberSchema, responses=error_responses(ResourceNotFound))
async def get(id: ObjectID, auth_subject: MembersRead, session: AsyncSessionDep) -> object:
    """Get a member."""
    return await member_service.get(session, auth_subject, id)


@router.patch(
    "/{id}",
    response_model=MemberSchema,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def update(
    id: ObjectID, body: MemberUpdate, auth_subject: MembersWrite, session: AsyncSessionDep
) -> object:
    """Change a member's role (to a role no higher than the caller's)."""
    member = await member_service.get(
        session,
        auth_subject,
        id,
        permission=Permission.members_manage,
        action="member.role_changed",
    )
    return await member_service.update_role(session, auth_subject, member, Role(body.role))


@router.delete("/{id}", status_code=204, responses=error_responses(ResourceNotFound, NotPermitted))
async def delete(id: ObjectID, auth_subject: MembersWrite, session: AsyncSessionDep) -> Response:
    """Remove a member from the workspace; their API keys stop working."""
    member = await member_service.get(
        session, auth_subject, id, permission=Permission.members_manage, action="member.removed"
    )
    await member_service.remove(session, auth_subject, member)
    return Response(status_code=204)

from fastapi import APIRouter

from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import NotPermitted, ResourceNotFound, error_responses
from flashfusion.kit.pagination import ListResource
from flashfusion.kit.routing import ObjectID, PaginationParamsDep
from flashfusion.organization.auth import OrganizationsRead, OrganizationsWrite
from flashfusion.organization.schemas import Organization as OrganizationSchema
from flashfusion.organization.schemas import OrganizationUpdate
from flashfusion.organization.service import organization as organization_service

router = APIRouter(prefix="/organizations", tags=["organizations"])


@router.get("", response_model=ListResource[OrganizationSchema])
async def list(
    auth_subject: OrganizationsRead, pagination: PaginationParamsDep, session: AsyncSessionDep
) -> ListResource[OrganizationSchema]:
    """List the workspaces the caller can see."""
    results, count = await organization_service.list(session, auth_subject, pagination)
    return ListResource.build(
        [OrganizationSchema.model_validate(r) for r in results], count, pagination
    )


@router.get("/{id}", response_model=OrganizationSchema, responses=error_responses(ResourceNotFound))
async def get(id: ObjectID, auth_subject: OrganizationsRead, session: AsyncSessionDep) -> object:
    """Get a workspace."""
    return await organization_service.get(session, auth_subject, id)


@router.patch(
    "/{id}",
    response_model=OrganizationSchema,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def update(
    id: ObjectID,
    body: OrganizationUpdate,
    auth_subject: OrganizationsWrite,
    session: AsyncSessionDep,
) -> object:
    """Rename a workspace."""
    organization = await organization_service.get(session, auth_subject, id)
    return await organization_service.update(session, auth_subject, organization, body)

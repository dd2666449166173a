import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from flashfusion.api_key.auth import APIKeysRead, APIKeysWrite
from flashfusion.api_key.schemas import APIKey as APIKeySchema
from flashfusion.api_key.schemas import APIKeyCreate, APIKeyCreated
from flashfusion.api_key.service import api_key as api_key_service
from flashfusion.authz.permission import Permission
from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import Conflict, NotPermitted, ResourceNotFound, error_responses
from flashfusion.kit.pagination import ListResource
from flashfusion.kit.routing import ObjectID, PaginationParamsDep
from flashfusion.models import APIKey

router = APIRouter(prefix="/api_keys", tags=["api_keys"])


@router.get(
    "",
    response_model=ListResource[APIKeySchema],
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def list(
    auth_subject: APIKeysRead,
    pagination: PaginationParamsDep,
    session: AsyncSessionDep,
    organization_id: Annotated[uuid.UUID | None, Query(description="Only this workspace.")] = None,
) -> ListResource[APIKeySchema]:
    """List API keys (never their secret values)."""
    results, count = await api_key_service.list(
        session, auth_subject, organization_id=organization_id, pagination=pagination
    )
    return ListResource.build([APIKeySchema.model_validate(r) for r in results], count, pagination)


@router.post(
    "",
    response_model=APIKeyCreated,
    status_code=201,
    responses=error_responses(ResourceNotFound, NotPermitted, Conflict),
)
async def create(
    body: APIKeyCreate, auth_subject: APIKeysWrite, session: AsyncSessionDep
) -> object:
    """Create an API key. The response holds the key once; it cannot be shown again."""
    subject = auth_subject.subject
    assert isinstance(subject, APIKey)
    key, token = await api_key_service.create(
        session,
        auth_subject,
        organization_id=body.organization_id or subject.organization_id,
        name=body.name,
        scopes=set(body.scopes),
        expires_in_days=body.expires_in_days,
    )
    return APIKeyCreated.model_validate(
        {**APIKeySchema.model_validate(key).model_dump(), "token": token}
    )


@router.get("/{id}", response_model=APIKeySchema, responses=error_responses(ResourceNotFound))
async def get(id: ObjectID, auth_subject: APIKeysRead, session: AsyncSessionDep) -> object:
    """Get an API key's details."""
    return await api_key_service.get(session, auth_subject, id)


@router.delete(
    "/{id}",
    response_model=APIKeySchema,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def delete(id: ObjectID, auth_subject: APIKeysWrite, session: AsyncSessionDep) -> object:
    """Revoke an API key; it stops working immediately."""
    key = await api_key_service.get(
        session, auth_subject, id, permission=Permission.api_keys_manage, action="api_key.revoked"
    )
    return await api_key_service.revoke(session, auth_subject, key)

import uuid

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from flashfusion.auth.dependencies import Authenticator
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.auth.scope import Scope
from flashfusion.authz.permission import PERMISSION_SCOPE, ROLE_PERMISSIONS
from flashfusion.models import APIKey

router = APIRouter(tags=["auth"])


class Me(BaseModel):
    api_key_id: uuid.UUID = Field(description="The calling key.")
    organization_id: uuid.UUID = Field(description="Workspace the key acts on.")
    role: str = Field(description="Current role of the member who created the key.")
    scopes: list[Scope] = Field(description="Scopes the key holds.")
    effective_permissions: list[str] = Field(
        description="What the key can actually do: its scopes intersected with the role."
    )


@router.get("/me", response_model=Me)
async def me(auth_subject: AuthSubject[Subject] = Depends(Authenticator())) -> Me:
    """Describe the calling API key and what it may do."""
    key = auth_subject.subject
    assert isinstance(key, APIKey)
    assert auth_subject.api_key_role is not None
    role = auth_subject.api_key_role
    effective = sorted(
        permission.value
        for permission in ROLE_PERMISSIONS[role]
        if (scope := PERMISSION_SCOPE[permission]) is not None and scope in auth_subject.scopes
    )
    return Me(
        api_key_id=key.id,
        organization_id=key.organization_id,
        role=role.value,
        scopes=sorted(auth_subject.scopes),
        effective_permissions=effective,
    )

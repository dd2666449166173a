"""FastAPI dependencies that authenticate API calls (Bearer API keys)."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from flashfusion.api_key.service import api_key as api_key_service
from flashfusion.audit.service import audit as audit_service
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.auth.scope import Scope
from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import InsufficientScope, Unauthorized

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="api_key",
    description="An organization API key: `Authorization: Bearer ffk_…`.",
)


class Authenticator:
    """Authenticate a request's API key and check that it carries `required_scopes`."""

    def __init__(self, *, required_scopes: set[Scope] | None = None) -> None:
        self.required_scopes = frozenset(required_scopes or ())

    async def __call__(
        self,
        request: Request,
        session: AsyncSessionDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> AuthSubject[Subject]:
        if credentials is None:
            header = request.headers.get("authorization")
            if header:
                raise Unauthorized(
                    "The Authorization header must be `Bearer ffk_…` with an API key."
                )
            raise Unauthorized(
                "Authentication required: send `Authorization: Bearer ffk_…` with an API key "
                "(create one under Settings > API keys)."
            )
        auth_subject = await api_key_service.authenticate(session, credentials.credentials.strip())
        missing = self.required_scopes - auth_subject.scopes
        if missing:
            names = ", ".join(sorted(s.value for s in missing))
            audit_service.record_denied(
                session,
                auth_subject,
                action="api.request",
                organization_id=auth_subject.subject.organization_id,
                details={
                    "reason": "missing scope",
                    "scopes": sorted(s.value for s in missing),
                    "route": f"{request.method} {request.url.path}",
                },
            )
            raise InsufficientScope(
                f"This API key lacks the scope {names}; create a key that has it."
            )
        request.state.auth_subject = auth_subject
        return auth_subject


def authenticated(*scopes: Scope) -> object:
    """`Depends(...)` for an endpoint that needs an API key holding `scopes`."""
    return Depends(Authenticator(required_scopes=set(scopes)))

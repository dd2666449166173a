"""Page dependencies: the signed-in user and the workspace in the URL."""

import uuid
from typing import Annotated

from fastapi import Depends, Request

from flashfusion.auth.models import AuthSubject
from flashfusion.auth.service import auth as auth_service
from flashfusion.authz.service import authz
from flashfusion.db import AsyncSessionDep
from flashfusion.models import Organization, Role, User, UserSession
from flashfusion.organization.service import organization as organization_service
from flashfusion.web.errors import LoginRequired
from flashfusion.web.security import SESSION_COOKIE, read_cookie


async def optional_user(request: Request, session: AsyncSessionDep) -> User | None:
    token = read_cookie(request, SESSION_COOKIE)
    if not token:
        return None
    found = await auth_service.authenticate(session, token)
    if found is None:
        return None
    user_session, user = found
    request.state.user = user
    request.state.user_session = user_session
    return user


async def require_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise LoginRequired()
    return user


CurrentUser = Annotated[User, Depends(require_user)]
OptionalUser = Annotated[User | None, Depends(optional_user)]


def web_subject(user: User, request: Request) -> AuthSubject[User]:
    return AuthSubject(user, session=getattr(request.state, "user_session", None))


async def load_user_organizations(request: Request, session: AsyncSessionDep, user: User) -> None:
    from flashfusion.kit.pagination import PaginationParams

    organizations, _ = await organization_service.list(
        session, web_subject(user, request), PaginationParams(1, 100)
    )
    request.state.organizations = organizations


class OrgContext:
    def __init__(self, organization: Organization, role: Role, subject: AuthSubject[User]):
        self.organization = organization
        self.role = role
        self.subject = subject


async def require_org(
    org_id: uuid.UUID, request: Request, session: AsyncSessionDep, user: CurrentUser
) -> OrgContext:
    """The workspace in the URL, if the user belongs to it (404 otherwise)."""
    subject = web_subject(user, request)
    organization = await organization_service.get(session, subject, org_id)
    role = await authz.get_role(session, subject, organization.id)
    assert role is not None
    request.state.organization = organization
    request.state.role = role
    await load_user_organizations(request, session, user)
    user_session: UserSession | None = getattr(request.state, "user_session", None)
    if user_session is not None and user_session.current_organization_id != organization.id:
        # Remember the workspace for the next visit to "/", outside the (read-only) request.
        await auth_service.remember_organization(session, user_session, organization.id)
    return OrgContext(organization, role, subject)


OrgDep = Annotated[OrgContext, Depends(require_org)]

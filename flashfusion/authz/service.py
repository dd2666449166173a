"""Tenancy and permission checks: the only place that turns a subject into organization ids."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.audit.service import audit as audit_service
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.authz.permission import PERMISSION_SCOPE, Permission, role_has
from flashfusion.authz.types import AccessibleOrganizationID
from flashfusion.exceptions import NotPermitted, ResourceNotFound
from flashfusion.member.repository import MemberRepository
from flashfusion.models import APIKey, Role, User


class AuthzService:
    async def get_accessible_org_ids(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject]
    ) -> set[AccessibleOrganizationID]:
        """Organizations the subject belongs to (any role). Everything else is invisible."""
        subject = auth_subject.subject
        if isinstance(subject, APIKey):
            return {AccessibleOrganizationID(subject.organization_id)}
        if isinstance(subject, User):
            repository = MemberRepository.from_session(session)
            ids = await repository.get_organization_ids_of_user(subject.id)
            return {AccessibleOrganizationID(i) for i in ids}
        return set()

    async def get_role(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], organization_id: uuid.UUID
    ) -> Role | None:
        subject = auth_subject.subject
        if isinstance(subject, APIKey):
            if subject.organization_id != organization_id:
                return None
            return auth_subject.api_key_role
        if isinstance(subject, User):
            repository = MemberRepository.from_session(session)
            member = await repository.get_membership(organization_id, subject.id)
            return member.role if member else None
        return None

    async def has_permission(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        organization_id: uuid.UUID,
        permission: Permission,
    ) -> bool:
        role = await self.get_role(session, auth_subject, organization_id)
        if role is None or not role_has(role, permission):
            return False
        if isinstance(auth_subject.subject, APIKey):
            # Scopes intersect with the role: a key can never do more than its creator.
            scope = PERMISSION_SCOPE[permission]
            return scope is not None and scope in auth_subject.scopes
        return True

    async def require(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        organization_id: uuid.UUID,
        permission: Permission,
        *,
        action: str,
        target_type: str | None = None,
        target_id: uuid.UUID | str | None = None,
    ) -> Role:
        """Raise NotPermitted (and audit the denial) unless the subject holds `permission`."""
        if await self.has_permission(session, auth_subject, organization_id, permission):
            role = await self.get_role(session, auth_subject, organization_id)
            assert role is not None
            return role
        audit_service.record_denied(
            session,
            auth_subject,
            action=action,
            organization_id=organization_id,
            target_type=target_type,
            target_id=target_id,
            details={"missing_permission": permission.value},
        )
        raise NotPermitted(self.explain(auth_subject, permission))

    async def accessible_organization(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        organization_id: uuid.UUID,
        permission: Permission,
        *,
        action: str,
    ) -> Role:
        """The subject's role in `organization_id` if it belongs to it (else ResourceNotFound,
        404) and holds `permission` (else NotPermitted, 403, audited): the check before acting
        on a workspace itself rather than on one of its objects."""
        if organization_id not in await self.get_accessible_org_ids(session, auth_subject):
            raise ResourceNotFound("Organization")
        return await self.require(
            session,
            auth_subject,
            organization_id,
            permission,
            action=action,
            target_type="organization",
            target_id=organization_id,
        )

    async def get_readable_org_ids(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        permission: Permission,
        *,
        organization_id: uuid.UUID | None,
        action: str,
    ) -> set[AccessibleOrganizationID]:
        """Organizations whose objects a list operation may return.

        A requested organization the subject doesn't belong to is a 404; one it belongs to
        without `permission` is a 403 (audited), as is asking without a filter when the subject
        holds `permission` in none of its organizations.
        """
        ids = await self.get_accessible_org_ids(session, auth_subject)
        if organization_id is not None:
            if organization_id not in ids:
                raise ResourceNotFound("Organization")
            await self.require(session, auth_subject, organization_id, permission, action=action)
            return {AccessibleOrganizationID(organization_id)}
        readable = {
            i for i in ids if await self.has_permission(session, auth_subject, i, permission)
        }
        if ids and not readable:
            await self.require(
                session, auth_subject, next(iter(sorted(ids))), permission, action=action
            )
        return readable

    @staticmethod
    def explain(auth_subject: AuthSubject[Subject], permission: Permission) -> str:
        if isinstance(auth_subject.subject, APIKey):
            scope = PERMISSION_SCOPE[permission]
            if scope is None:
                return (
                    f"'{permission.value}' is not available to API keys; "
                    "do this in the web app as the workspace owner."
                )
            if scope not in auth_subject.scopes:
                return f"This API key lacks the '{scope.value}' scope; create a key with it."
            role = auth_subject.api_key_role
            return (
                f"This API key acts with the role of the member who created it ({role}), "
                f"which does not allow '{permission.value}'; ask a workspace admin."
            )
        return f"Your role does not allow '{permission.value}'; ask a workspace owner or admin."


authz = AuthzService()

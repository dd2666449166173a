import re
import secrets
import unicodedata
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.audit.service import audit as audit_service
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.authz.permission import Permission
from flashfusion.authz.service import authz
from flashfusion.exceptions import BadRequest, Conflict, NotPermitted, ResourceNotFound
from flashfusion.kit.pagination import PaginationParams
from flashfusion.member.repository import MemberRepository
from flashfusion.models import Member, Organization, Role, User
from flashfusion.organization.repository import OrganizationRepository
from flashfusion.organization.schemas import OrganizationUpdate

MAX_ORGANIZATIONS_PER_USER = 50


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:48] or "workspace"


class OrganizationService:
    async def list(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        pagination: PaginationParams,
    ) -> tuple[list[Organization], int]:
        ids = await authz.get_accessible_org_ids(session, auth_subject)
        repository = OrganizationRepository.from_session(session)
        return await repository.paginate(repository.statement_for_ids(set(ids)), pagination)

    async def get(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], id: uuid.UUID
    ) -> Organization:
        """The organization if the subject belongs to it; 404 otherwise (missing or foreign)."""
        ids = await authz.get_accessible_org_ids(session, auth_subject)
        if id not in ids:
            raise ResourceNotFound("Organization")
        organization = await OrganizationRepository.from_session(session).get_by_id(id)
        if organization is None:
            raise ResourceNotFound("Organization")
        return organization

    async def create(
        self, session: AsyncSession, auth_subject: AuthSubject[User], *, name: str
    ) -> Organization:
        user = auth_subject.subject
        name = name.strip()
        if not name:
            raise BadRequest("name: give the workspace a name.")
        members = MemberRepository.from_session(session)
        if len(await members.get_organization_ids_of_user(user.id)) >= MAX_ORGANIZATIONS_PER_USER:
            raise Conflict(
                f"You belong to {MAX_ORGANIZATIONS_PER_USER} workspaces, the most allowed; "
                "leave one first."
            )
        repository = OrganizationRepository.from_session(session)
        slug = slugify(name)
        if await repository.get_by_slug(slug) is not None:
            slug = f"{slug[:40]}-{secrets.token_hex(3)}"
        organization = await repository.create(Organization(name=name, slug=slug))
        await members.create(
            Member(organization_id=organization.id, user_id=user.id, role=Role.owner)
        )
        await audit_service.record(
            session,
            auth_subject,
            action="organization.created",
            organization_id=organization.id,
            target_type="organization",
            target_id=organization.id,
            details={"name": name},
        )
        return organization

    async def update(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        organization: Organization,
        update: OrganizationUpdate,
    ) -> Organization:
        await authz.require(
            session,
            auth_subject,
            organization.id,
            Permission.organization_manage,
            action="organization.updated",
            target_type="organization",
            target_id=organization.id,
        )
        changes = update.model_dump(exclude_unset=True, exclude_none=True)
        if changes:
            before = {k: getattr(organization, k) for k in changes}
            await OrganizationRepository.from_session(session).update(organization, values=changes)
            await audit_service.record(
                session,
                auth_subject,
                action="organization.updated",
                organization_id=organization.id,
                target_type="organization",
                target_id=organization.id,
                details={"before": before, "after": changes},
            )
        return organization

    async def transfer_ownership(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[User],
        organization: Organization,
        *,
        new_owner_member_id: uuid.UUID,
    ) -> Member:
        """Make another member the owner; the previous owner becomes an admin."""
        await authz.require(
            session,
            auth_subject,
            organization.id,
            Permission.organization_transfer,
            action="organization.ownership_transferred",
            target_type="organization",
            target_id=organization.id,
        )
        members = MemberRepository.from_session(session)
        target = await members.get_with_user(new_owner_member_id, {organization.id})
        if target is None:
            raise ResourceNotFound("Member")
        current = await members.get_owner(organization.id)
        if current is None or current.user_id != auth_subject.subject.id:
            raise NotPermitted("Only the current owner can transfer ownership.")
        if target.id == current.id:
            raise Conflict("You are already the owner.")
        # Demote first: the partial unique index allows one owner at a time.
        await members.set_role(current, Role.admin)
        await session.flush()
        await members.set_role(target, Role.owner)
        await session.flush()
        await audit_service.record(
            session,
            auth_subject,
            action="organization.ownership_transferred",
            organization_id=organization.id,
            target_type="member",
            target_id=target.id,
            details={"new_owner": target.user.email},
        )
        return target


organization = OrganizationService()

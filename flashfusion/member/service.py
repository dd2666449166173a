import uuid

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.audit.service import audit as audit_service
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.authz.permission import Permission, can_assign, can_manage
from flashfusion.authz.service import authz
from flashfusion.exceptions import Conflict, NotPermitted, ResourceNotFound
from flashfusion.kit.pagination import PaginationParams
from flashfusion.member.repository import MemberRepository
from flashfusion.models import APIKey, Member, Role, User, utc_now


class MemberService:
    async def list(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID | None,
        pagination: PaginationParams,
    ) -> tuple[list[Member], int]:
        readable = await authz.get_readable_org_ids(
            session,
            auth_subject,
            Permission.members_read,
            organization_id=organization_id,
            action="member.list",
        )
        repository = MemberRepository.from_session(session)
        return await repository.paginate(repository.statement_with_users(readable), pagination)

    async def get(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        id: uuid.UUID,
        *,
        permission: Permission = Permission.members_read,
        action: str = "member.read",
    ) -> Member:
        """The member (404 if missing or foreign), if the subject holds `permission` (403).

        Write paths pass their own permission: a key with only `members:write` may change a
        member it was not allowed to read separately.
        """
        ids = set(await authz.get_accessible_org_ids(session, auth_subject))
        member = await MemberRepository.from_session(session).get_with_user(id, ids)
        if member is None:
            raise ResourceNotFound("Member")
        await authz.require(
            session,
            auth_subject,
            member.organization_id,
            permission,
            action=action,
            target_type="member",
            target_id=member.id,
        )
        return member

    async def _require_manage(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], member: Member, action: str
    ) -> Role:
        actor_role = await authz.require(
            session,
            auth_subject,
            member.organization_id,
            Permission.members_manage,
            action=action,
            target_type="member",
            target_id=member.id,
        )
        if not can_manage(actor_role, Role(member.role)):
            audit_service.record_denied(
                session,
                auth_subject,
                action=action,
                organization_id=member.organization_id,
                target_type="member",
                target_id=member.id,
                details={"reason": f"{actor_role} cannot manage {member.role}"},
            )
            if member.role == Role.owner:
                raise NotPermitted(
                    "The owner can't be changed or removed; the owner can transfer ownership."
                )
            raise NotPermitted(f"As {actor_role} you can only manage members with a lower role.")
        return actor_role

    async def update_role(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        member: Member,
        role: Role,
    ) -> Member:
        actor_role = await self._require_manage(
            session, auth_subject, member, "member.role_changed"
        )
        if not can_assign(actor_role, role):
            audit_service.record_denied(
                session,
                auth_subject,
                action="member.role_changed",
                organization_id=member.organization_id,
                target_type="member",
                target_id=member.id,
                details={"reason": f"{actor_role} cannot grant {role}"},
            )
            raise NotPermitted(
                "Ownership moves only by transfer."
                if role == Role.owner
                else f"As {actor_role} you can't grant the {role} role."
            )
        previous = member.role
        if previous != role:
            await MemberRepository.from_session(session).set_role(member, role)
            await audit_service.record(
                session,
                auth_subject,
                action="member.role_changed",
                organization_id=member.organization_id,
                target_type="member",
                target_id=member.id,
                details={"email": member.user.email, "from": previous, "to": role},
            )
        return member

    async def remove(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], member: Member
    ) -> None:
        await self._require_manage(session, auth_subject, member, "member.removed")
        await self._delete(session, member)
        await audit_service.record(
            session,
            auth_subject,
            action="member.removed",
            organization_id=member.organization_id,
            target_type="member",
            target_id=member.id,
            details={"email": member.user.email, "role": member.role},
        )

    async def leave(
        self, session: AsyncSession, auth_subject: AuthSubject[User], organization_id: uuid.UUID
    ) -> None:
        repository = MemberRepository.from_session(session)
        member = await repository.get_membership(organization_id, auth_subject.subject.id)
        if member is None:
            raise ResourceNotFound("Organization")
        if member.role == Role.owner:
            raise Conflict(
                "The owner can't leave the workspace. Transfer ownership to another member first."
            )
        await self._delete(session, member)
        await audit_service.record(
            session,
            auth_subject,
            action="member.left",
            organization_id=organization_id,
            target_type="member",
            target_id=member.id,
        )

    async def _delete(self, session: AsyncSession, member: Member) -> None:
        # A removed member's API keys stop working at once.
        await session.execute(
            update(APIKey)
            .where(
                APIKey.organization_id == member.organization_id,
                APIKey.created_by_user_id == member.user_id,
                APIKey.revoked_at.is_(None),
            )
            .values(revoked_at=utc_now())
        )
        await MemberRepository.from_session(session).delete(member)


member = MemberService()

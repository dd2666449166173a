import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.audit.service import audit as audit_service
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.authz.permission import Permission, can_assign
from flashfusion.authz.service import authz
from flashfusion.config import get_settings
from flashfusion.exceptions import Conflict, Gone, NotPermitted, ResourceNotFound
from flashfusion.invitation.repository import InvitationRepository
from flashfusion.jobs.enqueue import enqueue
from flashfusion.kit import encryption
from flashfusion.kit.crypto import random_token, sha256_hex
from flashfusion.kit.pagination import PaginationParams
from flashfusion.member.repository import MemberRepository
from flashfusion.models import Invitation, Member, Organization, Role, User, utc_now
from flashfusion.organization.repository import OrganizationRepository
from flashfusion.user.repository import UserRepository

MAX_PENDING_INVITATIONS = 100


class InvitationService:
    async def list(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID | None,
        pending_only: bool,
        pagination: PaginationParams,
    ) -> tuple[list[Invitation], int]:
        readable = await authz.get_readable_org_ids(
            session,
            auth_subject,
            Permission.members_read,
            organization_id=organization_id,
            action="invitation.list",
        )
        repository = InvitationRepository.from_session(session)
        statement = repository.statement_for_organizations(readable, pending_only=pending_only)
        return await repository.paginate(statement, pagination)

    async def create(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID,
        email: str,
        role: Role,
    ) -> Invitation:
        actor_role = await authz.accessible_organization(
            session,
            auth_subject,
            organization_id,
            Permission.members_manage,
            action="invitation.created",
        )
        if not can_assign(actor_role, role):
            audit_service.record_denied(
                session,
                auth_subject,
                action="invitation.created",
                organization_id=organization_id,
                details={"reason": f"{actor_role} cannot grant {role}"},
            )
            raise NotPermitted(f"As {actor_role} you can't invite someone as {role}.")
        email = email.strip().lower()
        repository = InvitationRepository.from_session(session)
        existing_user = await UserRepository.from_session(session).get_by_email(email)
        if existing_user is not None:
            membership = await MemberRepository.from_session(session).get_membership(
                organization_id, existing_user.id
            )
            if membership is not None:
                raise Conflict(f"{email} is already a member of this workspace.")
        if await repository.get_pending_for_email(organization_id, email) is not None:
            raise Conflict(
                f"{email} already has a pending invitation; revoke it to send a new one."
            )
        _, pending = await repository.paginate(
            repository.statement_for_organizations({organization_id}, pending_only=True),
            PaginationParams(1, 1),
        )
        if pending >= MAX_PENDING_INVITATIONS:
            raise Conflict(
                f"This workspace has {MAX_PENDING_INVITATIONS} pending invitations; revoke some "
                "first."
            )
        secret = random_token()
        invitation = Invitation(
            id=uuid.uuid4(),
            organization_id=organization_id,
            email=email,
            role=role,
            token_hash=sha256_hex(secret),
            expires_at=utc_now() + timedelta(seconds=get_settings().INVITATION_TTL_SECONDS),
        )
        if isinstance(auth_subject.subject, User):
            invitation.invited_by_user_id = auth_subject.subject.id
        else:
            invitation.invited_by_user_id = getattr(
                auth_subject.subject, "created_by_user_id", None
            )
        invitation.token_encrypted = encryption.encrypt(
            secret, aad=encryption.bound_to("invitations", "token_encrypted", invitation.id)
        )
        await repository.create(invitation)
        await enqueue(
            session,
            "email.invitation",
            str(invitation.id),
            organization_id=organization_id,
            summary=f"Invitation email to {email}",
            created_by=auth_subject,
        )
        await audit_service.record(
            session,
            auth_subject,
            action="invitation.created",
            organization_id=organization_id,
            target_type="invitation",
            target_id=invitation.id,
            details={"email": email, "role": role},
        )
        return invitation

    async def get(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], id: uuid.UUID
    ) -> Invitation:
        ids = set(await authz.get_accessible_org_ids(session, auth_subject))
        invitation = await InvitationRepository.from_session(session).get_for_organizations(id, ids)
        if invitation is None:
            raise ResourceNotFound("Invitation")
        return invitation

    async def revoke(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], invitation: Invitation
    ) -> Invitation:
        await authz.require(
            session,
            auth_subject,
            invitation.organization_id,
            Permission.members_manage,
            action="invitation.revoked",
            target_type="invitation",
            target_id=invitation.id,
        )
        if invitation.status != "pending":
            raise Conflict(f"This invitation is already {invitation.status}.")
        invitation.revoked_at = utc_now()
        invitation.token_encrypted = None
        await session.flush()
        await audit_service.record(
            session,
            auth_subject,
            action="invitation.revoked",
            organization_id=invitation.organization_id,
            target_type="invitation",
            target_id=invitation.id,
            details={"email": invitation.email},
        )
        return invitation

    async def get_by_token(
        self, session: AsyncSession, secret: str
    ) -> tuple[Invitation, Organization]:
        """The pending invitation behind a link, for the accept page."""
        repository = InvitationRepository.from_session(session)
        invitation = await repository.get_by_token_hash(sha256_hex(secret.strip()))
        if invitation is None or invitation.status != "pending":
            raise Gone(
                "This invitation link is invalid, expired, revoked or already used. Ask the "
                "workspace admin for a new one."
            )
        organization = await OrganizationRepository.from_session(session).get_by_id(
            invitation.organization_id
        )
        if organization is None:
            raise Gone("The workspace of this invitation no longer exists.")
        return invitation, organization

    async def accept(
        self, session: AsyncSession, auth_subject: AuthSubject[User], secret: str
    ) -> Member:
        user = auth_subject.subject
        invitation, organization = await self.get_by_token(session, secret)
        if invitation.email != user.email:
            audit_service.record_denied(
                session,
                auth_subject,
                action="invitation.accepted",
                organization_id=invitation.organization_id,
                target_type="invitation",
                target_id=invitation.id,
                details={"reason": "signed in as a different address"},
            )
            raise NotPermitted(
                f"This invitation was sent to {invitation.email}. Sign in with that address "
                "to accept it."
            )
        members = MemberRepository.from_session(session)
        if await members.get_membership(organization.id, user.id) is not None:
            raise Conflict("You are already a member of this workspace.")
        if not await InvitationRepository.from_session(session).claim(invitation, user.id):
            raise Gone("This invitation was already used.")
        member = await members.create(
            Member(organization_id=organization.id, user_id=user.id, role=invitation.role)
        )
        await audit_service.record(
            session,
            auth_subject,
            action="invitation.accepted",
            organization_id=organization.id,
            target_type="member",
            target_id=member.id,
            details={"role": invitation.role},
        )
        return member


invitation = InvitationService()

import uuid
from collections.abc import Set as AbstractSet

from sqlalchemy import ScalarSelect, Select, SQLColumnExpression, select, update
from sqlalchemy.orm import contains_eager

from flashfusion.kit.repository import Repository
from flashfusion.models import Member, Role, User


class MemberRepository(Repository[Member]):
    model = Member

    async def get_membership(self, organization_id: uuid.UUID, user_id: uuid.UUID) -> Member | None:
        statement = self.get_base_statement().where(
            Member.organization_id == organization_id, Member.user_id == user_id
        )
        return await self.get_one_or_none(statement)

    @staticmethod
    def role_in(
        organization_id: SQLColumnExpression[uuid.UUID], user_id: SQLColumnExpression[uuid.UUID]
    ) -> ScalarSelect[Role]:
        """The user's current role in the organization (NULL if not a member) as a correlated
        subquery, so that a caller reads the membership in its own statement."""
        return (
            select(Member.role)
            .where(
                Member.organization_id == organization_id,
                Member.user_id == user_id,
                Member.deleted_at.is_(None),
            )
            .scalar_subquery()
        )

    async def get_organization_ids_of_user(self, user_id: uuid.UUID) -> list[uuid.UUID]:
        statement = select(Member.organization_id).where(
            Member.user_id == user_id, Member.deleted_at.is_(None)
        )
        return list((await self.session.execute(statement)).scalars().all())

    def statement_with_users(self, organization_ids: AbstractSet[uuid.UUID]) -> Select[Member]:
        return (
            self.get_base_statement()
            .join(Member.user)
            # Only what member listings show: never password hashes or 2FA secrets.
            .options(contains_eager(Member.user).load_only(User.id, User.email))
            .where(Member.organization_id.in_(organization_ids))
            .order_by(Member.created_at, Member.id)
        )

    async def get_with_user(
        self, member_id: uuid.UUID, organization_ids: AbstractSet[uuid.UUID]
    ) -> Member | None:
        statement = self.statement_with_users(organization_ids).where(Member.id == member_id)
        return await self.get_one_or_none(statement)

    async def emails_of_roles(
        self, organization_id: uuid.UUID, roles: AbstractSet[Role]
    ) -> list[str]:
        """Emails of the workspace's current members with one of `roles`, sorted."""
        result = await self.session.execute(
            select(User.email)
            .join(Member, Member.user_id == User.id)
            .where(
                Member.organization_id == organization_id,
                Member.role.in_(list(roles)),
                Member.deleted_at.is_(None),
                User.deleted_at.is_(None),
            )
            .order_by(User.email)
        )
        return list(result.scalars().all())

    async def get_owner(self, organization_id: uuid.UUID) -> Member | None:
        statement = self.get_base_statement().where(
            Member.organization_id == organization_id, Member.role == Role.owner
        )
        return await self.get_one_or_none(statement)

    async def set_role(self, member: Member, role: Role) -> None:
        await self.session.execute(update(Member).where(Member.id == member.id).values(role=role))
        member.role = role

    async def delete(self, member: Member) -> None:
        await self.session.delete(member)
        await self.session.flush()

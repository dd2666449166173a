import uuid
from collections.abc import Set as AbstractSet

from sqlalchemy import Select, update

from flashfusion.kit.repository import Repository
from flashfusion.models import Invitation, utc_now


class InvitationRepository(Repository[Invitation]):
    model = Invitation

    def statement_for_organizations(
        self, organization_ids: AbstractSet[uuid.UUID], *, pending_only: bool
    ) -> Select[Invitation]:
        statement = self.get_base_statement().where(
            Invitation.organization_id.in_(organization_ids)
        )
        if pending_only:
            statement = statement.where(
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > utc_now(),
            )
        return statement.order_by(Invitation.created_at.desc(), Invitation.id)

    async def get_for_organizations(
        self, id: uuid.UUID, organization_ids: AbstractSet[uuid.UUID]
    ) -> Invitation | None:
        return await self.get_one_or_none(
            self.get_base_statement().where(
                Invitation.id == id, Invitation.organization_id.in_(organization_ids)
            )
        )

    async def get_by_token_hash(self, token_hash: str) -> Invitation | None:
        return await self.get_one_or_none(
            self.get_base_statement().where(Invitation.token_hash == token_hash)
        )

    async def get_pending_for_email(
        self, organization_id: uuid.UUID, email: str
    ) -> Invitation | None:
        statement = self.statement_for_organizations({organization_id}, pending_only=True).where(
            Invitation.email == email
        )
        return await self.get_one_or_none(statement.limit(1))

    async def claim(self, invitation: Invitation, user_id: uuid.UUID) -> bool:
        result = await self.session.execute(
            update(Invitation)
            .where(
                Invitation.id == invitation.id,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
            )
            .values(accepted_at=utc_now(), accepted_by_user_id=user_id, token_encrypted=None)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

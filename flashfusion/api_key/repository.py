import uuid
from collections.abc import Set as AbstractSet
from datetime import datetime

from sqlalchemy import Select, update

from flashfusion.kit.repository import Repository
from flashfusion.member.repository import MemberRepository
from flashfusion.models import APIKey, Role


class APIKeyRepository(Repository[APIKey]):
    model = APIKey

    def statement_for_organizations(
        self, organization_ids: AbstractSet[uuid.UUID]
    ) -> Select[APIKey]:
        return (
            self.get_base_statement()
            .where(APIKey.organization_id.in_(organization_ids))
            .order_by(APIKey.created_at.desc(), APIKey.id)
        )

    async def get_for_organizations(
        self, id: uuid.UUID, organization_ids: AbstractSet[uuid.UUID]
    ) -> APIKey | None:
        return await self.get_one_or_none(
            self.get_base_statement().where(
                APIKey.id == id, APIKey.organization_id.in_(organization_ids)
            )
        )

    async def get_by_token_hash_with_creator_role(
        self, token_hash: str
    ) -> tuple[APIKey, Role | None] | None:
        """The key and its creator's current role in the key's workspace (None: they left).

        One statement instead of two: it runs on every API request."""
        creator_role = MemberRepository.role_in(APIKey.organization_id, APIKey.created_by_user_id)
        statement = (
            self.get_base_statement()
            .add_columns(creator_role)
            .where(APIKey.token_hash == token_hash)
        )
        row = (await self.session.execute(statement)).one_or_none()
        return None if row is None else (row[0], row[1])

    async def mark_used(self, key_id: uuid.UUID, when: datetime, ip: str | None) -> None:
        await self.session.execute(
            update(APIKey)
            .where(APIKey.id == key_id)
            # Usage bookkeeping, not a modification: modified_at keeps its value.
            .values(last_used_at=when, last_used_ip=ip, modified_at=APIKey.modified_at)
        )

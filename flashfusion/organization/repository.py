import uuid
from collections.abc import Set as AbstractSet

from sqlalchemy import Select

from flashfusion.kit.repository import Repository
from flashfusion.models import Organization


class OrganizationRepository(Repository[Organization]):
    model = Organization

    def statement_for_ids(self, organization_ids: AbstractSet[uuid.UUID]) -> Select[Organization]:
        return (
            self.get_base_statement()
            .where(Organization.id.in_(organization_ids))
            .order_by(Organization.name, Organization.id)
        )

    async def get_by_slug(self, slug: str) -> Organization | None:
        return await self.get_one_or_none(
            self.get_base_statement().where(Organization.slug == slug)
        )

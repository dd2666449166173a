import uuid

from flashfusion.kit.repository import TenantRepository
from flashfusion.models import CatalogOverride


class CatalogOverrideRepository(TenantRepository[CatalogOverride]):
    model = CatalogOverride

    async def for_organization(self, organization_id: uuid.UUID) -> CatalogOverride | None:
        return await self.get_one_or_none(self.statement_for_organizations({organization_id}))

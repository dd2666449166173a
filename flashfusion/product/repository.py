import uuid
from collections.abc import Sequence
from collections.abc import Set as AbstractSet

from sqlalchemy import Select, func, update

from flashfusion.kit.repository import TenantRepository
from flashfusion.models import PricingRule, Product, ProductVariant


class ProductRepository(TenantRepository[Product]):
    model = Product

    def search_statement(
        self,
        organization_ids: AbstractSet[uuid.UUID],
        *,
        query: str | None,
        design_id: uuid.UUID | None,
        product_type: str | None,
    ) -> Select[Product]:
        statement = self.statement_for_organizations(organization_ids)
        if query:
            statement = statement.where(func.lower(Product.title).like(f"%{query.lower()}%"))
        if design_id is not None:
            statement = statement.where(Product.design_id == design_id)
        if product_type:
            statement = statement.where(Product.product_type == product_type)
        return statement.order_by(Product.created_at.desc(), Product.id)


class ProductVariantRepository(TenantRepository[ProductVariant]):
    model = ProductVariant

    async def for_product(self, product: Product) -> Sequence[ProductVariant]:
        return await self.get_all(
            self.get_base_statement()
            .where(
                ProductVariant.product_id == product.id,
                ProductVariant.organization_id == product.organization_id,
            )
            .order_by(ProductVariant.sku)
        )


class PricingRuleRepository(TenantRepository[PricingRule]):
    model = PricingRule

    def ordered(self, organization_ids: AbstractSet[uuid.UUID]) -> Select[PricingRule]:
        return self.statement_for_organizations(organization_ids).order_by(
            PricingRule.is_default.desc(), PricingRule.name, PricingRule.id
        )

    async def default_for(self, organization_id: uuid.UUID) -> PricingRule | None:
        return await self.get_one_or_none(
            self.statement_for_organizations({organization_id}).where(PricingRule.is_default)
        )

    async def clear_default(self, organization_id: uuid.UUID) -> None:
        await self.session.execute(
            update(PricingRule)
            .where(PricingRule.organization_id == organization_id, PricingRule.is_default)
            .values(is_default=False)
        )

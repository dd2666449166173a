"""Products: a design version on a product type with its variants, costs and prices."""

import builtins
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.audit.service import audit as audit_service
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.authz.permission import Permission
from flashfusion.authz.service import authz
from flashfusion.catalog.schemas import ProductType, Variant
from flashfusion.catalog.service import catalog as catalog_service
from flashfusion.exceptions import ResourceNotFound, UnprocessableEntity
from flashfusion.kit.pagination import PaginationParams
from flashfusion.models import (
    Design,
    PriceSource,
    Product,
    ProductStatus,
    ProductVariant,
    RenderStatus,
)
from flashfusion.product import pricing
from flashfusion.product.pricing_rule_service import pricing_rule as pricing_rule_service
from flashfusion.product.pricing_rule_service import rule_spec
from flashfusion.product.repository import ProductRepository, ProductVariantRepository
from flashfusion.safeguard.service import safeguard as safeguard_service
from flashfusion.studio.media import _creator_id
from flashfusion.studio.render_service import render_service
from flashfusion.studio.service import design as design_service

# Amazon's referral fee category for each catalog category (and the product types that sit
# elsewhere). A FlashFusion mapping, not Amazon's word: Amazon says a product's fee category may
# differ from the category shown to buyers (fee schedule note), so check it for your listings.
AMAZON_FEE_CATEGORY = {
    "apparel": "clothing_and_accessories",
    "drinkware": "home_and_kitchen",
    "wall_art": "home_and_kitchen",
    "home": "home_and_kitchen",
    "stickers": "office_products",
    "stationery": "office_products",
    "phone_cases": "electronics_accessories",
    "bags": "backpacks_handbags_luggage",
    "accessories": "everything_else",
}
AMAZON_FEE_CATEGORY_BY_TYPE = {
    "hat": "clothing_and_accessories",
    "beanie": "clothing_and_accessories",
    "apron": "home_and_kitchen",
    "mouse-pad": "office_products",
    "jigsaw-puzzle": "toys_and_games",
}


def amazon_fee_category(product_type_key: str) -> str:
    from flashfusion.catalog.registry import get_catalog

    product_type = get_catalog().product_types.get(product_type_key)
    if product_type is None:
        return "everything_else"
    return AMAZON_FEE_CATEGORY_BY_TYPE.get(
        product_type.key, AMAZON_FEE_CATEGORY.get(product_type.category, "everything_else")
    )


class InvalidProduct(UnprocessableEntity):
    """The product, its variants or prices break a rule."""


@dataclass(frozen=True)
class PriceRowData:
    variant: ProductVariant
    line: Any | None  # pricing.PriceLine
    warning: str | None


def make_sku(product_type: str, variant_key: str, product_id: uuid.UUID) -> str:
    """Unique per product and readable on every channel: `FF-TSHIRT-WHITE-M-1A2B3C4D`."""
    base = re.sub(r"[^A-Z0-9]+", "-", f"{product_type}-{variant_key}".upper()).strip("-")
    return f"FF-{base[:45]}-{product_id.hex[:8].upper()}"


def offer_of(variant: Variant, provider: str) -> Any | None:
    return next((o for o in variant.offers if o.provider == provider), None)


class ProductService:
    async def list(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID | None,
        query: str | None,
        design_id: uuid.UUID | None,
        product_type: str | None,
        pagination: PaginationParams,
    ) -> tuple[builtins.list[Product], int]:
        readable = await authz.get_readable_org_ids(
            session,
            auth_subject,
            Permission.products_read,
            organization_id=organization_id,
            action="product.list",
        )
        repository = ProductRepository.from_session(session)
        statement = repository.search_statement(
            readable, query=query, design_id=design_id, product_type=product_type
        )
        return await repository.paginate(statement, pagination)

    async def get(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        id: uuid.UUID,
        *,
        permission: Permission = Permission.products_read,
        action: str = "product.read",
    ) -> Product:
        ids = await authz.get_accessible_org_ids(session, auth_subject)
        product = await ProductRepository.from_session(session).get_for_organizations(id, ids)
        if product is None:
            raise ResourceNotFound("Product")
        await authz.require(
            session,
            auth_subject,
            product.organization_id,
            permission,
            action=action,
            target_type="product",
            target_id=product.id,
        )
        return product

    async def variants(
        self, session: AsyncSession, product: Product
    ) -> builtins.list[ProductVariant]:
        return list(await ProductVariantRepository.from_session(session).for_product(product))

    async def create(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        design: Design,
        version_number: int | None,
        product_type_key: str,
        variant_keys: builtins.list[str],
        title: str | None,
        provider: str | None,
        pricing_rule_id: uuid.UUID | None,
        channel: str | None,
        render: bool,
    ) -> Product:
        await authz.require(
            session,
            auth_subject,
            design.organization_id,
            Permission.products_manage,
            action="product.created",
            target_type="design",
            target_id=design.id,
        )
        version = await design_service.get_version(session, design, version_number)
        catalog = await catalog_service.effective(session, design.organization_id)
        product_type = catalog_service.product_type(catalog, product_type_key)
        chosen = self._variants(product_type, variant_keys)
        provider = provider or self._default_provider(product_type, chosen)
        rule = await pricing_rule_service.resolve(session, design.organization_id, pricing_rule_id)
        channel = channel or (rule.channel if rule else pricing.DEFAULT_CHANNEL)
        spec = rule_spec(rule)
        fees = self._fees(channel, field="channel", product_type=product_type.key)
        product = Product(
            id=uuid.uuid4(),
            organization_id=design.organization_id,
            design_id=design.id,
            design_version_id=version.id,
            product_type=product_type.key,
            title=(title or f"{design.name} — {product_type.name}")[:140],
            status=ProductStatus.draft,
            provider=provider,
            channel=channel,
            currency=spec.currency,
            pricing_rule_id=rule.id if rule else None,
            created_by_user_id=_creator_id(auth_subject),
        )
        await ProductRepository.from_session(session).create(product)
        variant_repository = ProductVariantRepository.from_session(session)
        for variant in chosen:
            offer = offer_of(variant, provider)
            cost = self._amount(offer.base_cost, spec.currency) if offer else None
            shipping = self._amount(offer.shipping_first, spec.currency) if offer else None
            row = ProductVariant(
                organization_id=product.organization_id,
                product_id=product.id,
                variant_key=variant.key,
                sku=make_sku(product_type.key, variant.key, product.id),
                size=variant.size,
                colour=variant.colour,
                cost=cost,
                shipping=shipping,
                price_source=PriceSource.rule,
            )
            row.price = self._rule_price(row, spec, fees)
            await variant_repository.create(row, flush=False)
        await session.flush()
        # Its title and the design's text layers are screened text: the first report is due now.
        await safeguard_service.enqueue_screen(session, product.id, product.organization_id)
        if render:
            created = await render_service.create(
                session,
                auth_subject,
                design,
                version,
                {product_type.key: [v.key for v in chosen]},
                mockups=True,
            )
            product.render_id = created.id
            await session.flush()
        await audit_service.record(
            session,
            auth_subject,
            action="product.created",
            organization_id=product.organization_id,
            target_type="product",
            target_id=product.id,
            details={"product_type": product.product_type, "variants": len(chosen)},
        )
        return product

    @staticmethod
    def _variants(product_type: ProductType, keys: builtins.list[str]) -> builtins.list[Variant]:
        if not keys:
            return list(product_type.variants)
        known = {v.key: v for v in product_type.variants}
        unknown = [k for k in keys if k not in known]
        if unknown:
            raise InvalidProduct(
                f"variant_keys: {', '.join(unknown)} not in {product_type.name}; choose from "
                + ", ".join(list(known)[:15])
            )
        return [known[k] for k in dict.fromkeys(keys)]

    @staticmethod
    def _default_provider(product_type: ProductType, variants: builtins.list[Variant]) -> str:
        for variant in variants:
            for offer in variant.offers:
                return offer.provider
        raise InvalidProduct(
            f"product_type: no provider makes {product_type.name} in the catalog; "
            "choose another product type."
        )

    @staticmethod
    def _amount(money: Any, currency: str) -> int | None:
        if money is None or money.currency != currency:
            # A cost in another currency is not converted silently: the creator enters it.
            return None
        return int(money.amount)

    @staticmethod
    def _fees(channel: str, *, field: str, product_type: str | None = None) -> Any:
        try:
            fees = pricing.load_fee_schedule(channel)
            if "category" in fees.options and product_type is not None:
                # Amazon's referral rate depends on the fee category of the product.
                fees = fees.with_options(category=amazon_fee_category(product_type))
            return fees
        except (LookupError, ValueError) as e:
            raise InvalidProduct(f"{field}: {e}") from e

    @staticmethod
    def _rule_price(row: ProductVariant, spec: Any, fees: Any) -> int | None:
        if row.cost is None:
            return None
        try:
            line = pricing.price_variant(
                cost=row.cost,
                shipping=row.shipping or 0,
                currency=spec.currency,
                rule=spec,
                fees=fees,
            )
        except ValueError as e:
            # PricingError names the field (`target_bps: no price … earns …`); a fee schedule
            # that needs an option (Amazon's category) says which.
            raise InvalidProduct(f"variant {row.variant_key}: {e}") from e
        return int(line.price)

    async def update(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        product: Product,
        *,
        title: str | None,
        status: str | None,
        pricing_rule_id: uuid.UUID | None,
        channel: str | None,
    ) -> Product:
        changes: dict[str, Any] = {}
        if title is not None:
            changes["title"] = title
        reprice = False
        if pricing_rule_id is not None:
            rule = await pricing_rule_service.resolve(
                session, product.organization_id, pricing_rule_id
            )
            changes["pricing_rule_id"] = pricing_rule_id
            changes["currency"] = rule_spec(rule).currency
            reprice = True
        if channel is not None:
            self._fees(channel, field="channel", product_type=product.product_type)
            changes["channel"] = channel
            reprice = True
        if status is not None:
            if status == ProductStatus.ready:
                await self._check_ready(session, product)
            changes["status"] = ProductStatus(status)
        await ProductRepository.from_session(session).update(product, values=changes)
        if "title" in changes:  # the title is screened text: screen the new product version
            await safeguard_service.enqueue_screen(session, product.id, product.organization_id)
        if reprice:
            await self.reprice(session, product)
        await audit_service.record(
            session,
            auth_subject,
            action="product.updated",
            organization_id=product.organization_id,
            target_type="product",
            target_id=product.id,
            details={k: str(v) for k, v in changes.items()},
        )
        return product

    async def _check_ready(self, session: AsyncSession, product: Product) -> None:
        """Ready means sellable: every variant priced, print files rendered, no errors."""
        unpriced = [v.variant_key for v in await self.variants(session, product) if not v.price]
        if unpriced:
            raise InvalidProduct(
                f"status: {len(unpriced)} variant(s) have no price ({', '.join(unpriced[:5])}); "
                "enter their cost or a price first."
            )
        if product.render_id is None:
            raise InvalidProduct("status: render the print files first.")
        render = await render_service.get_by_id(session, product.render_id)
        if render is None or render.status != RenderStatus.succeeded:
            raise InvalidProduct("status: wait for the print files to finish rendering.")
        errors = [i for i in render.issues if i.get("severity") == "error"]
        if errors:
            raise InvalidProduct(
                f"status: the design has {len(errors)} print error(s): {errors[0]['message']}"
            )

    async def reprice(self, session: AsyncSession, product: Product) -> None:
        """Recompute every rule-priced variant (manual prices stay as the creator set them)."""
        rule = await pricing_rule_service.resolve(
            session, product.organization_id, product.pricing_rule_id, strict=False
        )
        spec = rule_spec(rule)
        fees = self._fees(product.channel, field="channel", product_type=product.product_type)
        for variant in await self.variants(session, product):
            if variant.price_source == PriceSource.rule:
                variant.price = self._rule_price(variant, spec, fees)
        await session.flush()

    async def update_variant(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        product: Product,
        variant_key: str,
        *,
        cost: int | None,
        shipping: int | None,
        price: int | None,
        use_rule: bool,
    ) -> ProductVariant:
        variant = next(
            (v for v in await self.variants(session, product) if v.variant_key == variant_key),
            None,
        )
        if variant is None:
            raise ResourceNotFound("Variant")
        if price is not None and use_rule:
            raise InvalidProduct("price: send either a manual price or use_rule, not both.")
        if cost is not None:
            variant.cost = cost
        if shipping is not None:
            variant.shipping = shipping
        if price is not None:
            variant.price = price
            variant.price_source = PriceSource.manual
        elif use_rule:
            variant.price_source = PriceSource.rule
        if variant.price_source == PriceSource.rule:
            rule = await pricing_rule_service.resolve(
                session, product.organization_id, product.pricing_rule_id, strict=False
            )
            variant.price = self._rule_price(
                variant,
                rule_spec(rule),
                self._fees(product.channel, field="channel", product_type=product.product_type),
            )
        await session.flush()
        await audit_service.record(
            session,
            auth_subject,
            action="product.variant_updated",
            organization_id=product.organization_id,
            target_type="product",
            target_id=product.id,
            details={
                "variant": variant_key,
                "cost": variant.cost,
                "price": variant.price,
                "price_source": variant.price_source.value,
            },
        )
        return variant

    async def set_costs(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        product: Product,
        *,
        cost: int,
        shipping: int | None,
    ) -> builtins.list[ProductVariant]:
        """One provider cost (and shipping) for every variant; rule prices follow."""
        rule = await pricing_rule_service.resolve(
            session, product.organization_id, product.pricing_rule_id, strict=False
        )
        spec = rule_spec(rule)
        fees = self._fees(product.channel, field="channel", product_type=product.product_type)
        variants = await self.variants(session, product)
        for variant in variants:
            variant.cost = cost
            if shipping is not None:
                variant.shipping = shipping
            if variant.price_source == PriceSource.rule:
                variant.price = self._rule_price(variant, spec, fees)
        await session.flush()
        await audit_service.record(
            session,
            auth_subject,
            action="product.costs_updated",
            organization_id=product.organization_id,
            target_type="product",
            target_id=product.id,
            details={"cost": cost, "shipping": shipping, "variants": len(variants)},
        )
        return variants

    async def price_table(
        self, session: AsyncSession, product: Product, *, channel: str | None = None
    ) -> tuple[Any, builtins.list[PriceRowData]]:
        """Cost, fees, price, profit and margin of each variant on a channel."""
        rule = await pricing_rule_service.resolve(
            session, product.organization_id, product.pricing_rule_id, strict=False
        )
        spec = rule_spec(rule)
        fees = self._fees(
            channel or product.channel, field="channel", product_type=product.product_type
        )
        rows: list[PriceRowData] = []
        for variant in await self.variants(session, product):
            if variant.cost is None:
                rows.append(
                    PriceRowData(
                        variant,
                        None,
                        "No verified base cost in the catalog: enter your provider cost.",
                    )
                )
                continue
            if variant.price is None:
                rows.append(PriceRowData(variant, None, "No price yet."))
                continue
            try:
                line = pricing.evaluate_price(
                    price=variant.price,
                    cost=variant.cost,
                    shipping=variant.shipping or 0,
                    currency=spec.currency,
                    rule=spec,
                    fees=fees,
                )
            except ValueError as e:
                raise InvalidProduct(f"variant {variant.variant_key}: {e}") from e
            warning = None
            if line.profit < 0:
                warning = "This price loses money after fees; raise it."
            elif line.profit < spec.min_profit:
                warning = "Profit is below the rule's minimum."
            rows.append(PriceRowData(variant, line, warning))
        return fees, rows

    async def delete(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], product: Product
    ) -> Product:
        product.set_deleted_at()
        await session.flush()
        await audit_service.record(
            session,
            auth_subject,
            action="product.deleted",
            organization_id=product.organization_id,
            target_type="product",
            target_id=product.id,
        )
        return product


product = ProductService()

import builtins
import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.authz.permission import Permission
from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import (
    NotPermitted,
    ResourceNotFound,
    UnprocessableEntity,
    error_responses,
)
from flashfusion.kit.pagination import ListResource
from flashfusion.kit.routing import ObjectID, PaginationParamsDep
from flashfusion.models import APIKey, Product
from flashfusion.product.auth import ProductsRead, ProductsWrite
from flashfusion.product.pricing_rule_service import pricing_rule as pricing_rule_service
from flashfusion.product.schemas import (
    FeeLine,
    PriceRow,
    PriceTable,
    PricingRuleCreate,
    PricingRuleUpdate,
    ProductCreate,
    ProductDetail,
    ProductUpdate,
    VariantUpdate,
)
from flashfusion.product.schemas import PricingRule as PricingRuleSchema
from flashfusion.product.schemas import Product as ProductSchema
from flashfusion.product.schemas import ProductVariant as ProductVariantSchema
from flashfusion.product.service import product as product_service
from flashfusion.studio.service import design as design_service

router = APIRouter(tags=["products"])


async def _detail(session: AsyncSession, product: Product) -> ProductDetail:
    variants = await product_service.variants(session, product)
    return ProductDetail.model_validate(
        {
            **ProductSchema.model_validate(product).model_dump(),
            "variants": [ProductVariantSchema.model_validate(v) for v in variants],
        }
    )


@router.get(
    "/products",
    response_model=ListResource[ProductSchema],
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def list(
    auth_subject: ProductsRead,
    pagination: PaginationParamsDep,
    session: AsyncSessionDep,
    organization_id: Annotated[uuid.UUID | None, Query(description="Only this workspace.")] = None,
    q: Annotated[str | None, Query(max_length=100, description="Search titles.")] = None,
    design_id: Annotated[uuid.UUID | None, Query(description="Only this design's.")] = None,
    product_type: Annotated[str | None, Query(max_length=64, description="Catalog key.")] = None,
) -> ListResource[ProductSchema]:
    """List and search products."""
    results, count = await product_service.list(
        session,
        auth_subject,
        organization_id=organization_id,
        query=q,
        design_id=design_id,
        product_type=product_type,
        pagination=pagination,
    )
    return ListResource.build([ProductSchema.model_validate(r) for r in results], count, pagination)


@router.post(
    "/products",
    response_model=ProductDetail,
    status_code=201,
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def create(
    body: ProductCreate, auth_subject: ProductsWrite, session: AsyncSessionDep
) -> object:
    """Make a product from a design version, a product type and variants; prices follow the rule."""
    design = await design_service.get(session, auth_subject, body.design_id)
    product = await product_service.create(
        session,
        auth_subject,
        design=design,
        version_number=body.version,
        product_type_key=body.product_type,
        variant_keys=builtins.list(body.variant_keys),
        title=body.title,
        provider=body.provider,
        pricing_rule_id=body.pricing_rule_id,
        channel=body.channel,
        render=body.render,
    )
    return await _detail(session, product)


@router.get(
    "/products/{id}",
    response_model=ProductDetail,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def get(id: ObjectID, auth_subject: ProductsRead, session: AsyncSessionDep) -> object:
    """Get a product with its variants and prices."""
    product = await product_service.get(session, auth_subject, id)
    return await _detail(session, product)


@router.patch(
    "/products/{id}",
    response_model=ProductDetail,
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def update(
    id: ObjectID, body: ProductUpdate, auth_subject: ProductsWrite, session: AsyncSessionDep
) -> object:
    """Change a product's title, status, pricing rule or channel (prices follow)."""
    product = await product_service.get(
        session, auth_subject, id, permission=Permission.products_manage, action="product.updated"
    )
    product = await product_service.update(
        session,
        auth_subject,
        product,
        title=body.title,
        status=body.status,
        pricing_rule_id=body.pricing_rule_id,
        channel=body.channel,
    )
    return await _detail(session, product)


@router.delete(
    "/products/{id}",
    response_model=ProductSchema,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def delete(id: ObjectID, auth_subject: ProductsWrite, session: AsyncSessionDep) -> object:
    """Delete a product."""
    product = await product_service.get(
        session, auth_subject, id, permission=Permission.products_manage, action="product.deleted"
    )
    return await product_service.delete(session, auth_subject, product)


@router.patch(
    "/products/{id}/variants/{variant_key}",
    response_model=ProductVariantSchema,
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def update_variant(
    id: ObjectID,
    variant_key: str,
    body: VariantUpdate,
    auth_subject: ProductsWrite,
    session: AsyncSessionDep,
) -> object:
    """Set a variant's cost or a manual price, or return it to the pricing rule."""
    product = await product_service.get(
        session,
        auth_subject,
        id,
        permission=Permission.products_manage,
        action="product.variant_updated",
    )
    return await product_service.update_variant(
        session,
        auth_subject,
        product,
        variant_key,
        cost=body.cost,
        shipping=body.shipping,
        price=body.price,
        use_rule=body.use_rule,
    )


@router.get(
    "/products/{id}/prices",
    response_model=PriceTable,
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def price_table(
    id: ObjectID,
    auth_subject: ProductsRead,
    session: AsyncSessionDep,
    channel: Annotated[
        str | None, Query(max_length=32, description="Another channel's fees.")
    ] = None,
) -> PriceTable:
    """Cost, fees, price, profit and margin of every variant, after the channel's fees."""
    product = await product_service.get(session, auth_subject, id)
    fees, rows = await product_service.price_table(session, product, channel=channel)
    return PriceTable(
        product_id=product.id,
        channel=fees.channel,
        fee_schedule=fees.version,
        currency=product.currency,
        rows=[
            PriceRow(
                variant_key=r.variant.variant_key,
                size=r.variant.size,
                colour=r.variant.colour,
                cost=r.variant.cost,
                shipping=r.variant.shipping,
                fees=[
                    FeeLine(name=name, label=r.line.fee_labels.get(name, name), amount=amount)
                    for name, amount in r.line.fee_lines
                ]
                if r.line
                else [],
                fees_total=r.line.fees_total if r.line else None,
                price=r.variant.price,
                profit=r.line.profit if r.line else None,
                margin_bps=r.line.margin_bps if r.line else None,
                price_source=r.variant.price_source.value,
                warning=r.warning,
            )
            for r in rows
        ],
    )


@router.get(
    "/pricing_rules",
    response_model=ListResource[PricingRuleSchema],
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def list_pricing_rules(
    auth_subject: ProductsRead,
    pagination: PaginationParamsDep,
    session: AsyncSessionDep,
    organization_id: Annotated[uuid.UUID | None, Query(description="Only this workspace.")] = None,
) -> ListResource[PricingRuleSchema]:
    """List pricing rules (the default first)."""
    results, count = await pricing_rule_service.list(
        session, auth_subject, organization_id=organization_id, pagination=pagination
    )
    return ListResource.build(
        [PricingRuleSchema.model_validate(r) for r in results], count, pagination
    )


@router.post(
    "/pricing_rules",
    response_model=PricingRuleSchema,
    status_code=201,
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def create_pricing_rule(
    body: PricingRuleCreate, auth_subject: ProductsWrite, session: AsyncSessionDep
) -> object:
    """Create a pricing rule (admins and owners)."""
    subject = auth_subject.subject
    assert isinstance(subject, APIKey)
    return await pricing_rule_service.create(
        session, auth_subject, body.organization_id or subject.organization_id, body
    )


@router.get(
    "/pricing_rules/{id}",
    response_model=PricingRuleSchema,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def get_pricing_rule(
    id: ObjectID, auth_subject: ProductsRead, session: AsyncSessionDep
) -> object:
    """Get a pricing rule."""
    return await pricing_rule_service.get(session, auth_subject, id)


@router.patch(
    "/pricing_rules/{id}",
    response_model=PricingRuleSchema,
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def update_pricing_rule(
    id: ObjectID, body: PricingRuleUpdate, auth_subject: ProductsWrite, session: AsyncSessionDep
) -> object:
    """Change a pricing rule (existing products keep their prices until repriced)."""
    rule = await pricing_rule_service.get(
        session,
        auth_subject,
        id,
        permission=Permission.pricing_manage,
        action="pricing_rule.updated",
    )
    return await pricing_rule_service.update(session, auth_subject, rule, body)


@router.delete(
    "/pricing_rules/{id}",
    response_model=PricingRuleSchema,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def delete_pricing_rule(
    id: ObjectID, auth_subject: ProductsWrite, session: AsyncSessionDep
) -> object:
    """Delete a pricing rule."""
    rule = await pricing_rule_service.get(
        session,
        auth_subject,
        id,
        permission=Permission.pricing_manage,
        action="pricing_rule.deleted",
    )
    return await pricing_rule_service.delete(session, auth_subject, rule)

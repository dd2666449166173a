import builtins
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, Field

from flashfusion.catalog.schemas import ProductType
from flashfusion.catalog.service import catalog as catalog_service
from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import (
    NotPermitted,
    ResourceNotFound,
    UnprocessableEntity,
    error_responses,
)
from flashfusion.models import APIKey
from flashfusion.product.auth import ProductsRead, ProductsWrite

router = APIRouter(prefix="/catalog", tags=["catalog"])


class ProductTypeSummary(BaseModel):
    key: str = Field(description="Product type key.")
    name: str
    category: str
    mockup: str = Field(description="Mockup template.")
    nice_classes: list[int] = Field(description="Nice classes (trademark screening).")
    print_areas: list[str] = Field(description="Print area keys.")
    variant_count: int
    costed: bool = Field(description="Every variant has a verified base cost.")


class CatalogPage(BaseModel):
    version: str = Field(description="Catalog data version.")
    product_types: list[ProductTypeSummary]


def _org(auth_subject: ProductsRead, organization_id: uuid.UUID | None) -> uuid.UUID:
    subject = auth_subject.subject
    assert isinstance(subject, APIKey)
    return organization_id or subject.organization_id


@router.get(
    "", response_model=CatalogPage, responses=error_responses(ResourceNotFound, NotPermitted)
)
async def list(
    auth_subject: ProductsRead,
    session: AsyncSessionDep,
    organization_id: Annotated[uuid.UUID | None, Query(description="Workspace.")] = None,
    category: Annotated[str | None, Query(max_length=32, description="Only this category.")] = None,
) -> CatalogPage:
    """List the product types, with the workspace's overrides applied."""
    catalog = await catalog_service.for_subject(
        session, auth_subject, _org(auth_subject, organization_id)
    )
    types = [
        t for t in catalog.product_types.values() if category is None or t.category == category
    ]
    return CatalogPage(
        version=catalog.version,
        product_types=[
            ProductTypeSummary(
                key=t.key,
                name=t.name,
                category=t.category,
                mockup=t.mockup,
                nice_classes=builtins.list(t.nice_classes),
                print_areas=[a.key for a in t.print_areas],
                variant_count=len(t.variants),
                costed=all(any(o.base_cost is not None for o in v.offers) for v in t.variants),
            )
            for t in types
        ],
    )


@router.get(
    "/product_types/{key}",
    response_model=ProductType,
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def get(
    key: str,
    auth_subject: ProductsRead,
    session: AsyncSessionDep,
    organization_id: Annotated[uuid.UUID | None, Query(description="Workspace.")] = None,
) -> object:
    """Get a product type: print areas, variants with print-file sizes, costs and sources."""
    catalog = await catalog_service.for_subject(
        session, auth_subject, _org(auth_subject, organization_id)
    )
    return catalog_service.product_type(catalog, key, field="key")


@router.get(
    "/override",
    response_model=dict[str, Any],
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def get_override(
    auth_subject: ProductsRead,
    session: AsyncSessionDep,
    organization_id: Annotated[uuid.UUID | None, Query(description="Workspace.")] = None,
) -> object:
    """The workspace's catalog override document ({} when none)."""
    return await catalog_service.get_override(
        session, auth_subject, _org(auth_subject, organization_id)
    )


@router.put(
    "/override",
    response_model=dict[str, Any],
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def set_override(
    auth_subject: ProductsWrite,
    session: AsyncSessionDep,
    document: Annotated[dict[str, Any], Body(description="Override document.")],
    organization_id: Annotated[uuid.UUID | None, Query(description="Workspace.")] = None,
) -> object:
    """Replace the workspace's catalog override (own costs, disabled variants, margins)."""
    return await catalog_service.set_override(
        session, auth_subject, _org(auth_subject, organization_id), document
    )

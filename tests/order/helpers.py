"""Orders for tests: remote orders as a connector returns them, stored ones, and a product with
a channel listing whose SKUs order lines can match."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.connector.base import RemoteLineItem, RemoteOrder
from flashfusion.models import Organization, PlatformConnection, Product, ProductVariant
from flashfusion.models.channel_listing import ChannelListing, ListingState
from tests.fixtures.studio import create_design, create_product

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def remote_order(
    remote_id: str = "1001",
    *,
    status: str = "paid",
    updated_at: datetime | None = None,
    lines: list[RemoteLineItem] | None = None,
    customer_name: str | None = "Ada Lovelace",
    total: int | None = 2599,
) -> RemoteOrder:
    return RemoteOrder(
        remote_id=remote_id,
        status=status,
        platform_status=f"platform-{status}",
        placed_at=T0,
        updated_at=updated_at or T0.replace(hour=10),
        currency="usd",
        total=total,
        customer_name=customer_name,
        customer_email="ada@example.com",
        ship_country="gb",
        line_items=lines if lines is not None else [RemoteLineItem("L1", None, "Mug", 1, 1500)],
    )


@dataclass
class Listed:
    product: Product
    sku: str
    listing: ChannelListing


async def listed_product(
    session: AsyncSession, organization: Organization, connection: PlatformConnection
) -> Listed:
    design, version = await create_design(session, organization)
    product = await create_product(session, design, version, title="Cat tee")
    sku = await session.scalar(
        select(ProductVariant.sku).where(ProductVariant.product_id == product.id)
    )
    assert sku is not None
    listing = ChannelListing(
        id=uuid.uuid4(),
        organization_id=organization.id,
        product_id=product.id,
        connection_id=connection.id,
        platform=connection.platform,
        external_id=f"ff-{uuid.uuid4().hex}",
        state=ListingState.published,
        remote_id="remote-listing-1",
        desired_version=1,
        published_version=1,
    )
    session.add(listing)
    await session.flush()
    return Listed(product, sku, listing)

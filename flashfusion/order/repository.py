"""SQL of orders and their line items."""

import uuid
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, delete, func, or_, select

from flashfusion.kit.repository import Repository, TenantRepository, dialect_insert
from flashfusion.models import (
    ConnectionStatus,
    Order,
    OrderLineItem,
    OrderStatus,
    PlatformConnection,
    Product,
    ProductVariant,
)
from flashfusion.models.channel_listing import ChannelListing

# The fields a newer state of an order replaces (everything but its identity).
ORDER_FIELDS = (
    "status",
    "platform_status",
    "placed_at",
    "remote_updated_at",
    "currency",
    "total",
    "subtotal",
    "shipping",
    "customer_name",
    "customer_email",
    "ship_country",
    "last_synced_at",
)
# How far along an order is, for two states of one update time (platforms stamp in whole
# seconds, and a Printify cancel moves no stamp): the later one in this order wins. Canceled
# and refunded are terminal; a refund can follow a cancel. (FlashFusion's rule.)
STATUS_RANK = {
    OrderStatus.pending: 0,
    OrderStatus.paid: 1,
    OrderStatus.in_production: 2,
    OrderStatus.shipped: 3,
    OrderStatus.delivered: 4,
    OrderStatus.canceled: 5,
    OrderStatus.refunded: 6,
}
LINE_FIELDS = ("sku", "title", "quantity", "unit_price", "listing_id", "product_id")


def _rank(status: Any) -> ColumnElement[int]:
    return case({s.value: r for s, r in STATUS_RANK.items()}, value=status, else_=0)


class OrderRepository(TenantRepository[Order]):
    model = Order

    async def upsert(self, values: dict[str, Any], *, now: datetime) -> uuid.UUID | None:
        """Insert the order or update it under (connection_id, remote_id), unless the stored
        state is newer: a later `remote_updated_at`, or the same one with a status further
        along (STATUS_RANK); the row's id when it was written, None when the stored state won.
        One statement: two deliveries racing cannot both insert, and a stale fetch written
        last cannot undo a cancel."""
        statement = dialect_insert(self.session, Order).values(id=uuid.uuid4(), **values)
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=["connection_id", "remote_id"],
            set_={**{f: excluded[f] for f in ORDER_FIELDS}, "modified_at": now},
            # NULL > x is not true: an undated state never replaces a dated one.
            where=or_(
                Order.remote_updated_at.is_(None),
                excluded.remote_updated_at > Order.remote_updated_at,
                and_(
                    excluded.remote_updated_at == Order.remote_updated_at,
                    _rank(excluded.status) >= _rank(Order.status),
                ),
            ),
        ).returning(Order.id)
        result = await self.session.execute(statement)
        return result.scalar_one_or_none()

    async def get_by_remote(self, connection_id: uuid.UUID, remote_id: str) -> Order | None:
        return await self.get_one_or_none(
            select(Order).where(Order.connection_id == connection_id, Order.remote_id == remote_id)
        )

    async def newest_update(self, connection_id: uuid.UUID) -> datetime | None:
        result = await self.session.execute(
            select(func.max(Order.remote_updated_at)).where(Order.connection_id == connection_id)
        )
        value: datetime | None = result.scalar_one_or_none()
        if value is not None and value.tzinfo is None:
            # An aggregate bypasses the column type on SQLite: the stored value is naive UTC.
            value = value.replace(tzinfo=UTC)
        return value

    def filtered(
        self,
        organization_ids: AbstractSet[uuid.UUID],
        *,
        status: OrderStatus | None = None,
        platform: str | None = None,
        connection_id: uuid.UUID | None = None,
        q: str | None = None,
    ) -> Select[Order]:
        statement = self.statement_for_organizations(organization_ids)
        if status is not None:
            statement = statement.where(Order.status == status)
        if platform:
            statement = statement.where(Order.platform == platform)
        if connection_id is not None:
            statement = statement.where(Order.connection_id == connection_id)
        if q:
            pattern = (
                "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            )
            statement = statement.where(
                or_(
                    func.lower(Order.customer_name).like(pattern, escape="\\"),
                    func.lower(Order.remote_id).like(pattern, escape="\\"),
                )
            )
        # Newest first; orders without a date last, then a stable tie-break.
        return statement.order_by(
            Order.placed_at.is_(None), Order.placed_at.desc(), Order.id.desc()
        )


class OrderLineItemRepository(Repository[OrderLineItem]):
    model = OrderLineItem

    async def upsert(self, values: dict[str, Any], *, now: datetime) -> None:
        statement = dialect_insert(self.session, OrderLineItem).values(id=uuid.uuid4(), **values)
        excluded = statement.excluded
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=["order_id", "remote_id"],
                set_={**{f: excluded[f] for f in LINE_FIELDS}, "modified_at": now},
            )
        )

    async def delete_others(self, order_id: uuid.UUID, keep: Iterable[str]) -> None:
        """Drop the lines the platform no longer lists on the order."""
        await self.session.execute(
            delete(OrderLineItem).where(
                OrderLineItem.order_id == order_id, OrderLineItem.remote_id.not_in(list(keep))
            )
        )

    async def for_order(self, order_id: uuid.UUID) -> Sequence[OrderLineItem]:
        return await self.get_all(
            select(OrderLineItem)
            .where(OrderLineItem.order_id == order_id)
            .order_by(OrderLineItem.remote_id)
        )


class LinkedRepository(Repository[ProductVariant]):
    """The products and channel listings an order's lines point at (for its page)."""

    model = ProductVariant

    async def products(
        self, ids: AbstractSet[uuid.UUID], organization_ids: AbstractSet[uuid.UUID]
    ) -> dict[uuid.UUID, Product]:
        if not ids:
            return {}
        rows = await self.session.execute(
            select(Product).where(
                Product.id.in_(sorted(ids)),
                Product.organization_id.in_(organization_ids),
                Product.deleted_at.is_(None),
            )
        )
        return {p.id: p for p in rows.scalars()}

    async def listings(
        self, ids: AbstractSet[uuid.UUID], organization_ids: AbstractSet[uuid.UUID]
    ) -> dict[uuid.UUID, ChannelListing]:
        if not ids:
            return {}
        rows = await self.session.execute(
            select(ChannelListing).where(
                ChannelListing.id.in_(sorted(ids)),
                ChannelListing.organization_id.in_(organization_ids),
                ChannelListing.deleted_at.is_(None),
            )
        )
        return {row.id: row for row in rows.scalars()}


class SkuMatchRepository(Repository[ProductVariant]):
    """Which FlashFusion product and channel listing an order line's SKU belongs to."""

    model = ProductVariant

    async def products_by_sku(
        self, organization_id: uuid.UUID, skus: AbstractSet[str]
    ) -> dict[str, uuid.UUID]:
        if not skus:
            return {}
        rows = await self.session.execute(
            select(ProductVariant.sku, ProductVariant.product_id).where(
                ProductVariant.organization_id == organization_id,
                ProductVariant.sku.in_(sorted(skus)),
                ProductVariant.deleted_at.is_(None),
            )
        )
        return {sku: product_id for sku, product_id in rows.all()}

    async def listings_of_products(
        self, connection_id: uuid.UUID, product_ids: AbstractSet[uuid.UUID]
    ) -> dict[uuid.UUID, uuid.UUID]:
        """product id -> its channel listing on this connection."""
        if not product_ids:
            return {}
        rows = await self.session.execute(
            select(ChannelListing.product_id, ChannelListing.id).where(
                ChannelListing.connection_id == connection_id,
                ChannelListing.product_id.in_(sorted(product_ids)),
                ChannelListing.deleted_at.is_(None),
            )
        )
        return {product_id: listing_id for product_id, listing_id in rows.all()}

    async def listings_by_external_id(
        self, organization_id: uuid.UUID, external_ids: AbstractSet[str]
    ) -> dict[str, tuple[uuid.UUID, uuid.UUID]]:
        """external id -> (listing id, product id)."""
        if not external_ids:
            return {}
        rows = await self.session.execute(
            select(ChannelListing.external_id, ChannelListing.id, ChannelListing.product_id).where(
                ChannelListing.organization_id == organization_id,
                ChannelListing.external_id.in_(sorted(external_ids)),
                ChannelListing.deleted_at.is_(None),
            )
        )
        return {external_id: (id, product_id) for external_id, id, product_id in rows.all()}


class OrderConnectionRepository(TenantRepository[PlatformConnection]):
    """Connections, as the order pages and the scheduled sync need them."""

    model = PlatformConnection

    async def syncable(self) -> Sequence[PlatformConnection]:
        """Every active connection (the caller keeps those whose platform imports orders)."""
        return await self.get_all(
            self.get_base_statement()
            .where(PlatformConnection.status == ConnectionStatus.active)
            .order_by(PlatformConnection.id)
        )

    async def for_organizations(
        self, organization_ids: AbstractSet[uuid.UUID]
    ) -> Sequence[PlatformConnection]:
        return await self.get_all(
            self.statement_for_organizations(organization_ids).order_by(PlatformConnection.name)
        )

"""Orders: imported from a connection's platform by webhook (one order, fetched fresh) and by a
periodic sync (every order changed since the newest one we hold), kept in one row per
(connection, platform order id) by upsert.

Deliveries come twice and out of order. The upsert makes a duplicate one row with one effect,
and a state older than the stored one (the platform's `updated_at`) never overwrites it, so the
final state is the newest whatever order events and syncs land in. A webhook's order is
fetched from the platform rather than read from the event's payload: the platform's current
state is the truth, and a failed fetch raises so the job retries (no fallback to a payload
that may be stale).
"""

import builtins
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.authz.permission import Permission
from flashfusion.authz.service import authz
from flashfusion.authz.types import AccessibleOrganizationID
from flashfusion.connector import registry
from flashfusion.connector.base import Capability, RemoteLineItem, RemoteOrder, WebhookEvent
from flashfusion.connector.service import connection as connection_service
from flashfusion.exceptions import ResourceNotFound, UnprocessableEntity
from flashfusion.jobs.enqueue import enqueue
from flashfusion.kit.pagination import PaginationParams
from flashfusion.models import (
    ConnectionStatus,
    Job,
    Order,
    OrderLineItem,
    OrderStatus,
    PlatformConnection,
    Product,
    utc_now,
)
from flashfusion.models.channel_listing import ChannelListing
from flashfusion.order.repository import (
    LinkedRepository,
    OrderConnectionRepository,
    OrderLineItemRepository,
    OrderRepository,
    SkuMatchRepository,
)

log = structlog.get_logger(__name__)

SYNC_JOB = "orders.sync_connection"
# FlashFusion default: a sync asks for orders changed since the newest one held, minus this
# much, so an order updated while the previous sync was running is not missed.
SYNC_OVERLAP = timedelta(minutes=10)
# SKU prefix our channel listings carry (`ff-<listing id hex>`, models/channel_listing.py).
EXTERNAL_ID_LENGTH = len("ff-") + 32


class InvalidRemoteOrder(ValueError):
    """A connector returned an order FlashFusion cannot store (e.g. an unknown status)."""


class OrdersNotSupported(UnprocessableEntity):
    """The connection's platform does not import orders, or the connection is not active."""


def _connection_service() -> Any:
    from flashfusion.connector.service import connection as connection_service

    return connection_service


async def _worker_connection(
    session: AsyncSession, connection_id: uuid.UUID
) -> PlatformConnection | None:
    connection: PlatformConnection | None = await _connection_service().get_for_worker(
        session, connection_id
    )
    return connection


def _clip(value: str | None, length: int) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value[:length] or None


def _status(remote: RemoteOrder) -> OrderStatus:
    try:
        return OrderStatus(remote.status)
    except ValueError:
        raise InvalidRemoteOrder(
            f"order {remote.remote_id!r}: status {remote.status!r} is not one of "
            + ", ".join(s.value for s in OrderStatus)
        ) from None


@dataclass
class SyncResult:
    connection_id: uuid.UUID
    fetched: int = 0
    written: int = 0  # inserted or changed (an older or identical state is still "written")
    skipped: int = 0  # orders the connector returned that could not be stored
    since: datetime | None = None
    reason: str | None = None  # why nothing was asked (connection gone, not active, no orders)


@dataclass
class OrderDetail:
    order: Order
    line_items: builtins.list[OrderLineItem]
    connection: PlatformConnection | None
    products: dict[uuid.UUID, Product] = field(default_factory=dict)
    listings: dict[uuid.UUID, ChannelListing] = field(default_factory=dict)


class OrderService:
    # --- import ---------------------------------------------------------------------------------

    async def _matches(
        self,
        session: AsyncSession,
        connection: PlatformConnection,
        lines: Sequence[RemoteLineItem],
    ) -> dict[str, tuple[uuid.UUID | None, uuid.UUID | None]]:
        """SKU -> (listing id, product id): a product variant's SKU first, then a SKU that is
        (or starts with) one of our channel listings' external ids."""
        repository = SkuMatchRepository.from_session(session)
        skus = {line.sku for line in lines if line.sku}
        products = await repository.products_by_sku(connection.organization_id, skus)
        listings = await repository.listings_of_products(connection.id, set(products.values()))
        found: dict[str, tuple[uuid.UUID | None, uuid.UUID | None]] = {
            sku: (listings.get(product_id), product_id) for sku, product_id in products.items()
        }
        prefixes = {
            sku[:EXTERNAL_ID_LENGTH].lower(): sku
            for sku in skus - set(found)
            if sku.lower().startswith("ff-")
        }
        by_external = await repository.listings_by_external_id(
            connection.organization_id, set(prefixes)
        )
        for sku in skus - set(found):
            hit = by_external.get(sku[:EXTERNAL_ID_LENGTH].lower())
            if hit is not None and (
                len(sku) == EXTERNAL_ID_LENGTH or sku[EXTERNAL_ID_LENGTH] in "-_"
            ):
                found[sku] = hit
        return found

    async def upsert_remote(
        self, session: AsyncSession, connection: PlatformConnection, remote: RemoteOrder
    ) -> Order:
        """Store the platform's order (insert or update under its unique key; an older state
        than the stored one is ignored) and its line items; the order as stored now."""
        now = utc_now()
        values = {
            "organization_id": connection.organization_id,
            "connection_id": connection.id,
            "platform": connection.platform,
            "remote_id": remote.remote_id[:100],
            "status": _status(remote),
            "platform_status": (remote.platform_status or remote.status)[:64],
            "placed_at": remote.placed_at,
            "remote_updated_at": remote.updated_at,
            "currency": (remote.currency or "").upper()[:3],
            "total": remote.total,
            # RemoteOrder (connector/base.py) carries only the total: subtotal and shipping
            # stay null until the contract gives them.
            "subtotal": None,
            "shipping": None,
            "customer_name": _clip(remote.customer_name, 200),
            "customer_email": _clip(remote.customer_email, 320),
            "ship_country": (_clip(remote.ship_country, 2) or "").upper() or None,
            "last_synced_at": now,
        }
        orders = OrderRepository.from_session(session)
        written = await orders.upsert(values, now=now)
        if written is not None:
            lines = OrderLineItemRepository.from_session(session)
            matches = await self._matches(session, connection, remote.line_items)
            for line in remote.line_items:
                listing_id, product_id = matches.get(line.sku or "", (None, None))
                await lines.upsert(
                    {
                        "organization_id": connection.organization_id,
                        "order_id": written,
                        "remote_id": line.remote_id[:100],
                        "sku": _clip(line.sku, 100),
                        "title": (line.title or "")[:300],
                        "quantity": line.quantity,
                        "unit_price": line.unit_price,
                        "listing_id": listing_id,
                        "product_id": product_id,
                    },
                    now=now,
                )
            await lines.delete_others(written, [line.remote_id[:100] for line in remote.line_items])
        else:
            log.info(
                "order.stale_state_ignored",
                connection_id=str(connection.id),
                remote_id=remote.remote_id,
            )
        order = await orders.get_by_remote(connection.id, remote.remote_id[:100])
        assert order is not None
        # The upsert bypassed the session: what it holds of the row may be old.
        await session.refresh(order)
        return order

    async def fetch_and_store(
        self, session: AsyncSession, connection: PlatformConnection, remote_id: str
    ) -> Order | None:
        """The order fetched fresh from the platform, stored; None when the platform has none."""
        connector = registry.get_connector(connection.platform)
        async with _connection_service().open_context(session, connection) as ctx:
            remote = await connector.get_order(ctx, remote_id)
        if remote is None:
            return None
        return await self.upsert_remote(session, connection, remote)

    async def handle_event(
        self, session: AsyncSession, connection: PlatformConnection, event: WebhookEvent
    ) -> Order | None:
        """An order event: the order it names, fetched from the platform and stored (platform
        errors propagate, so the job retries a retryable one)."""
        if not event.resource_id:
            raise InvalidRemoteOrder(f"event {event.event_id!r} ({event.topic}) names no order")
        return await self.fetch_and_store(session, connection, event.resource_id)

    async def sync_connection(self, session: AsyncSession, connection_id: uuid.UUID) -> SyncResult:
        """Every order the platform changed since the newest one we hold (minus an overlap)."""
        result = SyncResult(connection_id)
        connection = await _worker_connection(session, connection_id)
        if connection is None:
            result.reason = "connection removed"
            return result
        if connection.status != ConnectionStatus.active:
            result.reason = f"connection is {connection.status.value}"
            return result
        connector = registry.get_connector(connection.platform)
        if Capability.orders not in connector.capabilities:
            result.reason = f"{connector.label} does not import orders"
            return result
        newest = await OrderRepository.from_session(session).newest_update(connection.id)
        result.since = newest - SYNC_OVERLAP if newest is not None else None
        async with _connection_service().open_context(session, connection) as ctx:
            remotes = await connector.list_orders(ctx, updated_since=result.since)
        result.fetched = len(remotes)
        for remote in remotes:
            try:
                await self.upsert_remote(session, connection, remote)
            except InvalidRemoteOrder as e:
                result.skipped += 1
                log.warning("order.skipped", connection_id=str(connection.id), reason=str(e))
                continue
            result.written += 1
        return result

    async def syncable_connections(self, session: AsyncSession) -> list[PlatformConnection]:
        """Active connections whose platform imports orders (for the scheduled sync)."""
        connectors = registry.all_connectors()
        return [
            c
            for c in await OrderConnectionRepository.from_session(session).syncable()
            if c.platform in connectors and Capability.orders in connectors[c.platform].capabilities
        ]

    async def enqueue_sync(
        self,
        session: AsyncSession,
        connection: PlatformConnection,
        *,
        created_by: AuthSubject[Subject] | None = None,
    ) -> Job:
        return await enqueue(
            session,
            SYNC_JOB,
            str(connection.id),
            organization_id=connection.organization_id,
            summary=f"Import orders from {connection.name}"[:200],
            created_by=created_by,
        )

    # --- reading (API and web) ----------------------------------------------------------------

    async def list(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID | None = None,
        status: OrderStatus | None = None,
        platform: str | None = None,
        connection_id: uuid.UUID | None = None,
        q: str | None = None,
        pagination: PaginationParams,
    ) -> tuple[builtins.list[Order], int]:
        ids = await authz.get_readable_org_ids(
            session,
            auth_subject,
            Permission.orders_read,
            organization_id=organization_id,
            action="orders.list",
        )
        repository = OrderRepository.from_session(session)
        statement = repository.filtered(
            ids, status=status, platform=platform, connection_id=connection_id, q=q
        )
        return await repository.paginate(statement, pagination)

    async def get(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], id: uuid.UUID
    ) -> OrderDetail:
        """The order with its line items and connection (404 outside the subject's
        workspaces, 403 without `orders:read`)."""
        ids = await authz.get_accessible_org_ids(session, auth_subject)
        order = await OrderRepository.from_session(session).get_for_organizations(id, ids)
        if order is None:
            raise ResourceNotFound("Order")
        await authz.require(
            session,
            auth_subject,
            order.organization_id,
            Permission.orders_read,
            action="orders.get",
            target_type="order",
            target_id=order.id,
        )
        lines = await OrderLineItemRepository.from_session(session).for_order(order.id)
        connection = await OrderConnectionRepository.from_session(session).get_for_organizations(
            order.connection_id, ids
        )
        linked = LinkedRepository.from_session(session)
        scope = {AccessibleOrganizationID(order.organization_id)}
        products = await linked.products({i.product_id for i in lines if i.product_id}, scope)
        listings = await linked.listings({i.listing_id for i in lines if i.listing_id}, scope)
        return OrderDetail(order, builtins.list(lines), connection, products, listings)

    async def connections(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], organization_id: uuid.UUID
    ) -> builtins.list[PlatformConnection]:
        """The workspace's connections (for the orders page's filter)."""
        ids = await authz.get_accessible_org_ids(session, auth_subject)
        if organization_id not in ids:
            raise ResourceNotFound("Organization")
        rows = await OrderConnectionRepository.from_session(session).for_organizations(
            {organization_id}
        )
        return builtins.list(rows)

    async def request_sync(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], connection_id: uuid.UUID
    ) -> Job:
        """Enqueue an order import for the connection.

        Needs `publishing:manage` (editors and up): it changes no connection settings (so not
        the admins' `connections:manage`), but it spends the account's platform quota, which a
        read-only `orders:read` should not be able to do."""
        connection = await connection_service.get(
            session,
            auth_subject,
            connection_id,
            permission=Permission.publishing_manage,
            action="orders.sync",
        )
        try:
            connector = registry.get_connector(connection.platform)
        except registry.UnknownPlatform:
            connector = None
        if connector is None or Capability.orders not in connector.capabilities:
            raise OrdersNotSupported(
                f"connection_id: {connection.platform} connections do not import orders."
            )
        if connection.status != ConnectionStatus.active:
            raise OrdersNotSupported(
                f"connection_id: the connection is {connection.status.value}; reconnect it "
                "first, then import its orders."
            )
        return await self.enqueue_sync(session, connection, created_by=auth_subject)


order = OrderService()

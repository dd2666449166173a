import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import RecordModel, StringEnum, TZDateTime


class OrderStatus(StrEnum):
    """FlashFusion's status of an order, whatever the platform calls it (`platform_status`)."""

    pending = "pending"
    paid = "paid"
    in_production = "in_production"
    shipped = "shipped"
    delivered = "delivered"
    canceled = "canceled"
    refunded = "refunded"


class Order(RecordModel):
    """An order (Etsy receipt, Printify or Printful order) imported from a connection.

    One row per (connection, platform order id), written only by upsert; a state older than
    the stored one (`remote_updated_at`) never overwrites it. Money in minor units of
    `currency`; the amounts a platform does not give stay null."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("connection_id", "remote_id"),
        Index(None, "organization_id", "placed_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    connection_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("platform_connections.id", ondelete="cascade"), nullable=False
    )
    platform: Mapped[str] = mapped_column(String(32), nullable=False)
    remote_id: Mapped[str] = mapped_column(String(100), nullable=False)
    status: Mapped[OrderStatus] = mapped_column(StringEnum(OrderStatus, 16), nullable=False)
    platform_status: Mapped[str] = mapped_column(String(64), nullable=False)
    placed_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    remote_updated_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    subtotal: Mapped[int | None] = mapped_column(Integer, nullable=True)
    shipping: Mapped[int | None] = mapped_column(Integer, nullable=True)
    customer_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    customer_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    ship_country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    last_synced_at: Mapped[datetime] = mapped_column(TZDateTime, nullable=False)

import uuid

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import RecordModel


class OrderLineItem(RecordModel):
    """A line of an order. `product_id` and `listing_id` are FlashFusion's product and channel
    listing whose SKU the line carries, when one matches (else null: an item sold on the
    platform that FlashFusion did not publish)."""

    __tablename__ = "order_line_items"
    __table_args__ = (UniqueConstraint("order_id", "remote_id"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    order_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("orders.id", ondelete="cascade"), nullable=False
    )
    remote_id: Mapped[str] = mapped_column(String(100), nullable=False)
    sku: Mapped[str | None] = mapped_column(String(100), nullable=True)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    unit_price: Mapped[int | None] = mapped_column(Integer, nullable=True)
    listing_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("channel_listings.id", ondelete="set null"), nullable=True, index=True
    )
    product_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("products.id", ondelete="set null"), nullable=True, index=True
    )

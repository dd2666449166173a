import uuid
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import RecordModel, StringEnum


class ProductStatus(StrEnum):
    draft = "draft"
    ready = "ready"


class Product(RecordModel):
    """A design version on a product type with selected variants (channel listings come later)."""

    __tablename__ = "products"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    design_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("designs.id", ondelete="restrict"), nullable=False, index=True
    )
    design_version_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("design_versions.id", ondelete="restrict"), nullable=False
    )
    product_type: Mapped[str] = mapped_column(String(64), nullable=False)
    title: Mapped[str] = mapped_column(String(140), nullable=False)
    status: Mapped[ProductStatus] = mapped_column(StringEnum(ProductStatus, 16), nullable=False)
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    channel: Mapped[str] = mapped_column(String(32), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    pricing_rule_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("pricing_rules.id", ondelete="set null"), nullable=True
    )
    render_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("renders.id", ondelete="set null"), nullable=True
    )
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="set null"), nullable=True
    )


class PriceSource(StrEnum):
    rule = "rule"
    manual = "manual"


class ProductVariant(RecordModel):
    """A selected catalog variant of a product, with its cost and price (minor units)."""

    __tablename__ = "product_variants"
    __table_args__ = (UniqueConstraint("product_id", "variant_key"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    product_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("products.id", ondelete="cascade"), nullable=False, index=True
    )
    variant_key: Mapped[str] = mapped_column(String(64), nullable=False)
    sku: Mapped[str] = mapped_column(String(64), nullable=False)
    size: Mapped[str | None] = mapped_column(String(40), nullable=True)
    colour: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # Null when the catalog has no verified cost and the creator has not entered one.
    cost: Mapped[int | None] = mapped_column(Integer, nullable=True)
    shipping: Mapped[int | None] = mapped_column(Integer, nullable=True)
    price: Mapped[int | None] = mapped_column(Integer, nullable=True)
    price_source: Mapped[PriceSource] = mapped_column(StringEnum(PriceSource, 16), nullable=False)

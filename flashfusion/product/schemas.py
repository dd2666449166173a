import uuid
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from flashfusion.kit.schemas import ReadSchema, Schema, TimestampedSchema

Key = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=140)]
# Prices above this are refused as a typo, not a price (1,000,000.00 in minor units).
MAX_AMOUNT = 100_000_000


class PricingRule(TimestampedSchema):
    organization_id: uuid.UUID
    name: str
    mode: Literal["margin", "markup"] = Field(
        description="`margin`: profit ÷ price; `markup`: profit ÷ cost."
    )
    target_bps: int = Field(description="Target in basis points (3000 = 30 %).")
    rounding: Literal["none", "99", "95", "00"] = Field(
        description="Round up to .99, .95 or a whole unit (still meeting the target)."
    )
    min_profit: int = Field(description="Least profit per item, minor units.")
    currency: str
    include_shipping: bool = Field(description="The price absorbs shipping (free shipping).")
    channel: str = Field(description="Whose fees the price covers: etsy, shopify, amazon, …")
    is_default: bool = Field(description="Used for new products of the workspace.")


class PricingRuleCreate(Schema):
    organization_id: Annotated[uuid.UUID | None, Field(strict=False)] = Field(
        default=None, description="Workspace (defaults to the API key's)."
    )
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    mode: Literal["margin", "markup"] = "margin"
    target_bps: int = Field(ge=0, le=100_000, description="Target, basis points.")
    rounding: Literal["none", "99", "95", "00"] = "99"
    min_profit: int = Field(default=0, ge=0, le=MAX_AMOUNT)
    currency: Currency = "USD"
    include_shipping: bool = False
    channel: Key = "etsy"
    is_default: bool = False


class PricingRuleUpdate(Schema):
    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
        | None
    ) = None
    mode: Literal["margin", "markup"] | None = None
    target_bps: int | None = Field(default=None, ge=0, le=100_000)
    rounding: Literal["none", "99", "95", "00"] | None = None
    min_profit: int | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    currency: Currency | None = None
    include_shipping: bool | None = None
    channel: Key | None = None
    is_default: bool | None = None


class ProductVariant(ReadSchema):
    id: uuid.UUID
    variant_key: str = Field(description="Catalog variant key.")
    sku: str = Field(description="Our SKU for it (used to find it on every channel).")
    size: str | None
    colour: str | None
    cost: int | None = Field(description="Provider base cost, minor units; null: unknown.")
    shipping: int | None = Field(description="Provider shipping of one item, minor units.")
    price: int | None = Field(description="Selling price, minor units; null until costed.")
    price_source: str = Field(description="`rule` (from the pricing rule) or `manual`.")


class Product(TimestampedSchema):
    organization_id: uuid.UUID
    design_id: uuid.UUID
    design_version_id: uuid.UUID
    product_type: str = Field(description="Catalog product type key.")
    title: str
    status: str = Field(description="`draft` or `ready`.")
    provider: str = Field(description="Who makes it: printful or printify.")
    channel: str = Field(description="Channel whose fees the prices cover.")
    currency: str
    pricing_rule_id: uuid.UUID | None
    render_id: uuid.UUID | None = Field(description="Render with its print files and mockups.")


class ProductDetail(Product):
    variants: list[ProductVariant]


class ProductCreate(Schema):
    design_id: Annotated[uuid.UUID, Field(strict=False)]
    version: int | None = Field(default=None, ge=1, description="Design version; default latest.")
    product_type: Key = Field(description="Catalog product type key (`GET /api/v1/catalog`).")
    variant_keys: list[Key] = Field(
        default_factory=list, max_length=500, description="Variants to sell; empty: all."
    )
    title: Title | None = Field(default=None, description="Defaults to design + product name.")
    provider: Literal["printful", "printify"] | None = Field(
        default=None, description="Default: the first provider the catalog lists for it."
    )
    pricing_rule_id: Annotated[uuid.UUID | None, Field(strict=False)] = Field(
        default=None, description="Default: the workspace's default rule."
    )
    channel: Key | None = Field(default=None, description="Default: the rule's channel.")
    render: bool = Field(default=True, description="Start rendering print files and mockups.")


class ProductUpdate(Schema):
    title: Title | None = None
    status: Literal["draft", "ready"] | None = None
    pricing_rule_id: Annotated[uuid.UUID | None, Field(strict=False)] = None
    channel: Key | None = None


class VariantUpdate(Schema):
    cost: int | None = Field(
        default=None, ge=0, le=MAX_AMOUNT, description="Your cost, minor units."
    )
    shipping: int | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    price: int | None = Field(
        default=None, ge=1, le=MAX_AMOUNT, description="A manual price, minor units."
    )
    use_rule: bool = Field(default=False, description="Go back to the pricing rule's price.")


class FeeLine(ReadSchema):
    name: str = Field(description="Fee component key, e.g. `transaction_fee`.")
    label: str = Field(description="Shown to the creator.")
    amount: int = Field(description="Minor units.")


class PriceRow(ReadSchema):
    variant_key: str
    size: str | None
    colour: str | None
    cost: int | None
    shipping: int | None
    fees: list[FeeLine]
    fees_total: int | None
    price: int | None
    profit: int | None
    margin_bps: int | None = Field(description="Profit ÷ price, basis points.")
    price_source: str
    warning: str | None = Field(description="What needs attention (no cost, below minimum…).")


class PriceTable(ReadSchema):
    product_id: uuid.UUID
    channel: str
    fee_schedule: str = Field(description="Fee schedule version applied.")
    currency: str
    rows: list[PriceRow]

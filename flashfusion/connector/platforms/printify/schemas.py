"""Pydantic models of the Printify API v1 payloads the connector reads.

Fields follow the developers.printify.com examples as copied in research/platform-apis.md
section 1 and the printify-nodejs SDK types (Mainostoimisto-Seven-1/printify-nodejs
src/types/*.ts). Every model ignores fields it does not name, so additions on Printify's side
do not break parsing; fields no source confirms are optional.
"""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Shop(_Model):
    id: int
    title: str
    sales_channel: str | None = None


class Blueprint(_Model):
    id: int
    title: str
    description: str | None = None
    brand: str | None = None
    model: str | None = None


class PrintProvider(_Model):
    id: int
    title: str


class CatalogPlaceholder(_Model):
    position: str
    width: int
    height: int


class CatalogVariant(_Model):
    id: int
    title: str
    options: dict[str, Any] = Field(default_factory=dict)
    placeholders: list[CatalogPlaceholder] = Field(default_factory=list)


class ProviderVariants(_Model):
    """GET /v1/catalog/blueprints/{bp}/print_providers/{pp}/variants.json"""

    id: int
    title: str
    variants: list[CatalogVariant]


class Upload(_Model):
    """POST /v1/uploads/images.json"""

    id: str
    file_name: str
    height: int | None = None
    width: int | None = None
    size: int | None = None
    mime_type: str | None = None
    preview_url: str | None = None
    upload_time: str | None = None


class ProductVariant(_Model):
    id: int
    sku: str | None = None
    price: int
    title: str | None = None
    is_enabled: bool = True
    is_available: bool | None = None


class ProductExternal(_Model):
    """Set by `publishing_succeeded.json` (`{"external": {"id", "handle"}}`)."""

    id: str
    handle: str | None = None


class PrintAreaImage(_Model):
    id: str
    name: str | None = None


class PrintAreaPlaceholder(_Model):
    position: str
    images: list[PrintAreaImage] = Field(default_factory=list)


class PrintArea(_Model):
    variant_ids: list[int]
    placeholders: list[PrintAreaPlaceholder] = Field(default_factory=list)


class Product(_Model):
    id: str
    title: str
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    variants: list[ProductVariant] = Field(default_factory=list)
    print_areas: list[PrintArea] = Field(default_factory=list)
    blueprint_id: int
    print_provider_id: int
    is_locked: bool = False
    visible: bool | None = None
    external: ProductExternal | None = None

    @field_validator("external", mode="before")
    @classmethod
    def _empty_external(cls, value: Any) -> Any:
        # An unpublished product may carry an empty object or list (UNVERIFIED).
        return value or None


class ProductPage(_Model):
    """Printify pagination (developers.printify.com "API pagination")."""

    current_page: int
    last_page: int | None = None
    next_page_url: str | None = None
    data: list[Product]


class Address(_Model):
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    country: str | None = None


class LineItemMetadata(_Model):
    title: str | None = None
    price: int | None = None
    variant_label: str | None = None
    sku: str | None = None


class OrderLineItem(_Model):
    product_id: str | None = None
    variant_id: int | None = None
    quantity: int
    metadata: LineItemMetadata = Field(default_factory=LineItemMetadata)


class Shipment(_Model):
    carrier: str | None = None
    number: str | None = None
    url: str | None = None
    delivered_at: datetime | None = None


class Order(_Model):
    id: str
    status: str
    created_at: datetime | None = None
    sent_to_production_at: datetime | None = None
    fulfilled_at: datetime | None = None
    total_price: int | None = None
    total_shipping: int | None = None
    total_tax: int | None = None
    address_to: Address = Field(default_factory=Address)
    line_items: list[OrderLineItem] = Field(default_factory=list)
    shipments: list[Shipment] = Field(default_factory=list)
    external_id: str | None = None


class OrderPage(_Model):
    current_page: int
    last_page: int | None = None
    next_page_url: str | None = None
    data: list[Order]


class Webhook(_Model):
    id: str
    topic: str
    url: str


class EventResource(_Model):
    id: str | int
    type: str | None = None
    data: Any = None


class Event(_Model):
    """A webhook delivery body: `{id, type, created_at, resource: {id, type, data}}`."""

    id: str = Field(min_length=1)
    type: str = Field(min_length=1)
    created_at: datetime | None = None
    resource: EventResource | None = None


class ErrorBody(_Model):
    """Printify's error body. UNVERIFIED: no source documents it; this reads the shape
    `{"status": "error", "code", "message", "errors": {"reason", "code"}}` the research notes
    as seen in practice, and tolerates anything else."""

    status: str | None = None
    code: int | str | None = None
    message: str | None = None
    error: str | None = None
    errors: dict[str, Any] | list[Any] | str | None = None

    def text(self) -> str:
        """Everything the body says, in one line (never a secret: Printify echoes no token)."""
        parts = [p for p in (self.message, self.error) if p]
        errors = self.errors
        if isinstance(errors, dict):
            reason = errors.get("reason")
            if reason:
                parts.append(str(reason))
            else:
                parts.extend(f"{k}: {v}" for k, v in errors.items() if k != "code")
        elif isinstance(errors, list):
            parts.extend(str(e) for e in errors)
        elif errors:
            parts.append(errors)
        return " — ".join(dict.fromkeys(parts))

"""Etsy payloads as the connector reads them (subsets of the spec's schemas: `Money`,
`ShopListing`, `ListingInventory`, `ShopReceipt`, the OAuth token response, the webhook
envelope). Unknown fields are ignored, so a new Etsy field never breaks a call."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EtsyModel(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Money(EtsyModel):
    """spec `Money`: `amount / divisor` in `currency_code`."""

    amount: int
    divisor: int = 100
    currency_code: str = "USD"


class Self(EtsyModel):
    user_id: int
    shop_id: int | None = None


class Shop(EtsyModel):
    shop_id: int
    shop_name: str
    currency_code: str | None = None
    url: str | None = None


class ShippingProfile(EtsyModel):
    shipping_profile_id: int
    title: str | None = None


class ProcessingProfile(EtsyModel):
    readiness_state_id: int
    readiness_state: str | None = None


class PropertyValue(EtsyModel):
    property_id: int
    property_name: str | None = None
    value_ids: list[int] = Field(default_factory=list)
    values: list[str] = Field(default_factory=list)


class Offering(EtsyModel):
    offering_id: int | None = None
    quantity: int = 0
    is_enabled: bool = True
    price: Money | None = None
    readiness_state_id: int | None = None


class InventoryProduct(EtsyModel):
    product_id: int | None = None
    sku: str | None = None
    offerings: list[Offering] = Field(default_factory=list)
    property_values: list[PropertyValue] = Field(default_factory=list)


class ListingInventory(EtsyModel):
    products: list[InventoryProduct] = Field(default_factory=list)


class ListingImage(EtsyModel):
    listing_image_id: int
    rank: int | None = None


class Listing(EtsyModel):
    listing_id: int
    shop_id: int | None = None
    title: str = ""
    state: str = ""
    url: str | None = None
    quantity: int | None = None
    price: Money | None = None
    skus: list[str] = Field(default_factory=list)
    created_timestamp: int | None = None
    inventory: ListingInventory | None = None

    def all_skus(self) -> set[str]:
        found = {sku for sku in self.skus if sku}
        if self.inventory is not None:
            found |= {p.sku for p in self.inventory.products if p.sku}
        return found


class Page(EtsyModel):
    count: int = 0
    results: list[dict[str, Any]] = Field(default_factory=list)


class Transaction(EtsyModel):
    transaction_id: int
    title: str | None = None
    sku: str | None = None
    quantity: int = 0
    price: Money | None = None


class Receipt(EtsyModel):
    receipt_id: int
    status: str = ""
    is_paid: bool = False
    is_shipped: bool = False
    name: str | None = None
    buyer_email: str | None = None
    country_iso: str | None = None
    created_timestamp: int | None = None
    updated_timestamp: int | None = None
    grandtotal: Money | None = None
    transactions: list[Transaction] = Field(default_factory=list)


class TokenResponse(EtsyModel):
    """POST /v3/public/oauth/token answer (developers.etsy.com "Authentication")."""

    access_token: str
    token_type: str = "Bearer"
    expires_in: int | None = None
    refresh_token: str | None = None
    scope: str | None = None


class WebhookEnvelope(EtsyModel):
    """developers.etsy.com "Webhooks": event_type, event_id, created_at, data; apis.io
    AsyncAPI: resource_url, shop_id. `created_at`'s format is UNVERIFIED (int or ISO)."""

    event_type: str
    event_id: str | None = None
    created_at: int | float | str | None = None
    data: dict[str, Any] | None = None
    resource_url: str | None = None
    shop_id: int | str | None = None

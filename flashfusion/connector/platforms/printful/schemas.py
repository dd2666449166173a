"""Printful payloads the connector sends and reads (pydantic), after the published specs.

v1 = `../shared/specs/printful/printfulapi.json`, v2 = `../shared/specs/printful/openapi.json`.
Models keep unknown fields (`extra="allow"`) when reading, so a new Printful field never breaks
parsing; requests are dumped with `exclude_none=True` (the v1 request schemas type these fields
as plain strings/integers, not nullable).
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Read(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Write(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- requests ----------------------------------------------------------------------------------


class FileRef(_Write):
    # v1 schema File: `url` required; `type` is the placement ("default" may be omitted).
    type: str | None = None
    url: str
    filename: str | None = None


class SyncVariantIn(_Write):
    # v1 SyncVariant (POST/PUT /store/products): `variant_id` and `files` required.
    id: int | None = None  # an existing sync variant on PUT (omitted ones are deleted)
    external_id: str | None = None
    variant_id: int
    retail_price: str | None = None  # decimal string, e.g. "24.99"
    sku: str | None = None
    files: list[FileRef]


class SyncProductIn(_Write):
    # v1 SyncProduct: `name` required; thumbnail maxLength 250.
    name: str
    external_id: str | None = None
    thumbnail: str | None = Field(default=None, max_length=250)


class SyncProductRequest(_Write):
    sync_product: SyncProductIn
    sync_variants: list[SyncVariantIn] = Field(min_length=1, max_length=100)


class AddFileRequest(_Write):
    # v1 POST /files: `url` required.
    type: str | None = None
    url: str
    filename: str | None = None
    visible: bool | None = None


class MockupLayer(_Write):
    type: str = "file"
    url: str


class MockupPlacement(_Write):
    placement: str
    technique: str
    layers: list[MockupLayer]


class MockupProduct(_Write):
    source: str = "catalog"
    catalog_product_id: int
    catalog_variant_ids: list[int]
    placements: list[MockupPlacement]


class MockupTaskRequest(_Write):
    # v2 POST /v2/mockup-tasks: `products` required.
    format: str = "jpg"
    products: list[MockupProduct]


class WebhookEventConfig(_Write):
    type: str
    url: str | None = None


class WebhookRequest(_Write):
    # v2 POST /v2/webhooks: `events` required; URLs HTTPS-only.
    default_url: str
    expires_at: str | None = None
    events: list[WebhookEventConfig]


# --- responses ---------------------------------------------------------------------------------


class Store(_Read):
    id: int
    name: str = ""
    type: str | None = None


class SyncProduct(_Read):
    id: int
    external_id: str | None = None
    name: str
    variants: int | None = None
    synced: int | None = None


class SyncVariant(_Read):
    id: int
    external_id: str | None = None
    variant_id: int | None = None
    retail_price: str | None = None
    currency: str | None = None
    sku: str | None = None
    synced: bool | None = None


class SyncProductFull(_Read):
    sync_product: SyncProduct
    sync_variants: list[SyncVariant] = Field(default_factory=list)


class FileInfo(_Read):
    id: int | None = None
    url: str | None = None
    status: str | None = None


class MockupItem(_Read):
    placement: str
    mockup_url: str


class VariantMockups(_Read):
    catalog_variant_id: int
    mockups: list[MockupItem] = Field(default_factory=list)


class MockupTask(_Read):
    id: int
    status: str  # completed | pending | failed (v2 MockupGeneratorTask)
    catalog_variant_mockups: list[VariantMockups] = Field(default_factory=list)
    failure_reasons: list[dict[str, Any]] = Field(default_factory=list)


class Recipient(_Read):
    name: str | None = None
    email: str | None = None
    country_code: str | None = None


class OrderItem(_Read):
    id: int | None = None
    external_id: str | None = None
    sync_variant_id: int | None = None
    external_variant_id: str | None = None
    quantity: int = 1
    retail_price: str | None = None
    price: str | None = None
    name: str | None = None
    sku: str | None = None


class Costs(_Read):
    currency: str | None = None
    total: str | None = None


class Order(_Read):
    id: int
    external_id: str | None = None
    status: str
    created: int | None = None
    updated: int | None = None
    recipient: Recipient = Field(default_factory=Recipient)
    items: list[OrderItem] = Field(default_factory=list)
    costs: Costs | None = None
    retail_costs: Costs | None = None


class WebhookCreated(_Read):
    secret_key: str
    public_key: str | None = None
    default_url: str | None = None


class WebhookBody(_Read):
    # v2 x-webhooks: type, occurred_at, retries, store_id required; data.
    type: str
    occurred_at: str | None = None
    retries: int | None = None
    store_id: int | None = None
    data: dict[str, Any] = Field(default_factory=dict)

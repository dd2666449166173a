import uuid
from datetime import datetime

from pydantic import Field

from flashfusion.kit.schemas import ReadSchema, Schema, TimestampedSchema

STATUS_DOC = "`pending`, `paid`, `in_production`, `shipped`, `delivered`, `canceled` or `refunded`"


class OrderLineItem(TimestampedSchema):
    remote_id: str = Field(description="The line's id on the platform.")
    sku: str | None = Field(description="The SKU the platform sold (ours when we published it).")
    title: str = Field(description="The item's title on the platform.")
    quantity: int = Field(description="Units ordered.")
    unit_price: int | None = Field(description="Price of one unit, in minor units of `currency`.")
    listing_id: uuid.UUID | None = Field(
        description="Our channel listing this SKU belongs to, when one matches."
    )
    product_id: uuid.UUID | None = Field(
        description="Our product this SKU belongs to, when one matches."
    )


class Order(TimestampedSchema):
    organization_id: uuid.UUID = Field(description="Workspace.")
    connection_id: uuid.UUID = Field(description="The platform connection it came from.")
    platform: str = Field(description="`printify`, `printful`, `etsy`, …")
    remote_id: str = Field(description="The order's id on the platform.")
    status: str = Field(description=f"FlashFusion's status: {STATUS_DOC}.")
    platform_status: str = Field(description="The platform's own word for the status.")
    placed_at: datetime | None = Field(description="When the customer ordered (UTC).")
    remote_updated_at: datetime | None = Field(
        description="When the platform last changed the order (UTC): a state older than this "
        "never replaces it."
    )
    currency: str = Field(description="ISO 4217 code of the amounts.")
    total: int | None = Field(description="Order total in minor units (null: not given).")
    subtotal: int | None = Field(description="Items subtotal in minor units (null: not given).")
    shipping: int | None = Field(description="Shipping in minor units (null: not given).")
    customer_name: str | None = Field(description="Buyer's name.")
    customer_email: str | None = Field(description="Buyer's email, when the platform shares it.")
    ship_country: str | None = Field(description="ISO 3166-1 alpha-2 shipping country.")
    last_synced_at: datetime = Field(description="When FlashFusion last wrote it (UTC).")


class OrderDetail(Order):
    line_items: list[OrderLineItem] = Field(description="What was ordered.")


class OrderSyncRequest(Schema):
    connection_id: uuid.UUID = Field(strict=False, description="The connection to import from.")


class OrderSyncRequested(ReadSchema):
    job_id: uuid.UUID = Field(description="The import job (see `/api/v1/jobs/{id}`).")
    connection_id: uuid.UUID = Field(description="The connection being imported.")

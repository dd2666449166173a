import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, Strict

from flashfusion.kit.schemas import ReadSchema, Schema, TimestampedSchema
from flashfusion.models.channel_listing import ListingState
from flashfusion.models.publish_intent import IntentAction, IntentState
from flashfusion.publishing.service import MAX_CONNECTIONS, MAX_PRODUCTS

ID = Annotated[uuid.UUID, Strict(False)]


class PublishRequest(Schema):
    product_ids: list[ID] = Field(
        min_length=1, max_length=MAX_PRODUCTS, description="The products to publish."
    )
    connection_ids: list[ID] = Field(
        min_length=1,
        max_length=MAX_CONNECTIONS,
        description="The platform connections (channels) to publish every product to.",
    )


class PublishIntent(TimestampedSchema):
    """One entry of the publish ledger: one action on one version of a listing."""

    listing_id: uuid.UUID = Field(description="The channel listing it acts on.")
    action: IntentAction = Field(description="`publish`, `update` or `unpublish`.")
    version: int = Field(description="The listing version it carries.")
    payload_hash: str = Field(description="SHA-256 of the canonical payload of that version.")
    state: IntentState = Field(description="`queued`, `running`, `succeeded`, `failed`, …")
    remote_id: str | None = Field(description="The item's id on the platform, once known.")
    attempts: int = Field(description="Calls made to the platform for it so far.")
    error_code: str | None = Field(description="Stable error code of the last failure.")
    error_message: str | None = Field(description="The platform's own words.")
    error_action: str | None = Field(description="What fixes it.")
    error_kind: str | None = Field(description="`retryable`, `terminal` or `auth`.")
    started_at: datetime | None = Field(description="When its first run started.")
    finished_at: datetime | None = Field(description="When it last finished.")
    job_id: uuid.UUID | None = Field(description="The job (run) responsible for it now.")


class ChannelListing(TimestampedSchema):
    """A product on one channel: its state there and what to do when it failed."""

    organization_id: uuid.UUID = Field(description="The workspace.")
    product_id: uuid.UUID = Field(description="The product.")
    connection_id: uuid.UUID = Field(description="The platform connection (channel).")
    platform: str = Field(description="`printify`, `printful`, `etsy`, …")
    external_id: str = Field(
        description="FlashFusion's stable id for it (`ff-…`), also its marker/SKU prefix."
    )
    state: ListingState = Field(
        description="`queued`, `publishing`, `published`, `failed`, `needs_action`, "
        "`unpublishing` or `unpublished`."
    )
    remote_id: str | None = Field(description="The item's id on the platform.")
    remote_url: str | None = Field(description="Where buyers see it.")
    published_version: int | None = Field(description="The version live on the channel.")
    desired_version: int = Field(description="The newest version asked for.")
    error_code: str | None = Field(description="Stable error code of the last failure.")
    error_message: str | None = Field(description="The platform's own words.")
    error_action: str | None = Field(description="What fixes it.")
    error_kind: str | None = Field(description="`retryable`, `terminal` or `auth`.")
    drift: dict[str, Any] | None = Field(
        description="How the platform's item differs from FlashFusion's (null: it matches)."
    )
    checked_at: datetime | None = Field(description="Last drift check.")


class ChannelListingDetail(ChannelListing):
    intents: list[PublishIntent] = Field(description="Its publish ledger, newest first.")


class PublishItem(ReadSchema):
    product_id: uuid.UUID = Field(description="The product.")
    connection_id: uuid.UUID = Field(description="The connection.")
    outcome: str = Field(
        description="`queued` (a new publish or update was queued), `already_queued`, "
        "`already_published` (unchanged content is never published twice) or `refused`."
    )
    listing: ChannelListing | None = Field(description="The channel listing.")
    intent: PublishIntent | None = Field(description="The ledger entry acting on it.")
    message: str | None = Field(description="Why it was refused and what to do.")
    findings: int | None = Field(description="Safeguard findings that block it (refusals).")


class ConnectionEstimate(ReadSchema):
    connection_id: uuid.UUID = Field(description="The connection.")
    platform: str = Field(description="Its platform.")
    calls: dict[str, int] = Field(
        description="Platform calls the batch makes on it, per operation group (FlashFusion's "
        "estimate of each platform's call sequence)."
    )
    seconds: float = Field(
        description="How long those calls take within the connection's documented rate "
        "limits, counting what the account already used in each window (the slowest limit)."
    )


class PublishResult(ReadSchema):
    items: list[PublishItem] = Field(description="Per product and connection, what happened.")
    estimates: list[ConnectionEstimate] = Field(description="Per connection, its share.")
    eta_seconds: float = Field(
        description="The batch's ETA: connections run in parallel, each within its own quotas, "
        "so it is the largest per-connection estimate. The calls' own durations are not counted."
    )


class ListingActionResult(ReadSchema):
    outcome: str = Field(
        description="`queued`, `already_queued`, `already_published` or `already_unpublished`."
    )
    listing: ChannelListing = Field(description="The listing.")
    intent: PublishIntent | None = Field(description="The ledger entry acting on it.")

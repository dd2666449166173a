"""Connection schemas. None carries a secret: a token is only ever shown as its last four
characters (`credential_hint`)."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from flashfusion.kit.schemas import Schema, TimestampedSchema
from flashfusion.models import ConnectionStatus

OptionalID = Annotated[uuid.UUID | None, Field(strict=False)]
PlatformName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
ConnectionName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]
CredentialValue = Annotated[str, StringConstraints(max_length=4096)]


class Connection(TimestampedSchema):
    organization_id: uuid.UUID = Field(description="The workspace it belongs to.")
    platform: str = Field(description="`printify`, `printful`, `etsy`, or a plug-in's name.")
    name: str = Field(description="Its name in FlashFusion.")
    status: ConnectionStatus = Field(
        description="`active`, `needs_reconnect` (the grant is dead: reconnect), `error` or "
        "`disconnected`."
    )
    sandbox: bool = Field(description="True: connected to the platform's sandbox twin.")
    account_id: str | None = Field(description="The platform's shop or store id.")
    account_name: str | None = Field(description="The shop or store name on the platform.")
    account: dict[str, Any] = Field(description="Platform account details (ids, currency).")
    credential_hint: str | None = Field(
        description="The last four characters of the token (never more)."
    )
    token_expires_at: datetime | None = Field(
        description="When the OAuth access token expires (refreshed before); null for tokens "
        "that do not expire."
    )
    last_refreshed_at: datetime | None = Field(description="Last OAuth token refresh.")
    webhook_url: str | None = Field(description="Where the platform sends its events.")
    problem_code: str | None = Field(description="What is wrong, as a stable code.")
    problem_message: str | None = Field(description="What is wrong, in words.")
    problem_action: str | None = Field(description="What fixes it.")
    linked_connection_id: uuid.UUID | None = Field(
        description="For a Printify shop: the Etsy connection it publishes to."
    )


class ConnectionCreate(Schema):
    organization_id: Annotated[uuid.UUID, Field(strict=False)] = Field(
        description="The workspace to connect the account to."
    )
    platform: PlatformName = Field(description="An API-token platform: `printify`, `printful`.")
    name: ConnectionName | None = Field(
        default=None, description="A name for it (default: the shop's name)."
    )
    sandbox: bool = Field(
        default=False,
        description="Connect to the platform's sandbox twin instead (no credentials needed).",
    )
    credentials: dict[str, CredentialValue] = Field(
        default_factory=dict,
        description="The fields of the platform's connect form (e.g. `access_token`).",
    )


class OAuthStart(Schema):
    organization_id: Annotated[uuid.UUID, Field(strict=False)] = Field(
        description="The workspace to connect the account to."
    )
    platform: PlatformName = Field(description="An OAuth platform: `etsy`.")
    sandbox: bool = Field(default=False, description="Use the platform's sandbox twin.")


class OAuthAuthorize(Schema):
    authorize_url: str = Field(
        description="Send the creator's browser here; the platform redirects back to "
        "`/api/v1/connections/oauth/callback` (valid for 10 minutes, once)."
    )


class ConnectionReconnect(Schema):
    credentials: dict[str, CredentialValue] = Field(
        default_factory=dict,
        description="API-token platforms: the new token's fields. OAuth platforms: leave out; "
        "the answer has an `authorize_url`.",
    )


class ReconnectResult(Schema):
    connection: Connection | None = Field(
        default=None, description="The connection with its new token (API-token platforms)."
    )
    authorize_url: str | None = Field(
        default=None, description="OAuth platforms: where to send the creator's browser."
    )


class ConnectionLink(Schema):
    linked_connection_id: OptionalID = Field(
        description="The Etsy connection this Printify shop publishes to; null to unlink."
    )


class QuotaUse(Schema):
    name: str = Field(description="The limit's name, e.g. `publish` or `per_minute`.")
    used: int = Field(description="Calls counted in the current window.")
    limit: int = Field(description="The documented limit per window.")
    period_seconds: float = Field(description="The window's length.")


class ConnectionHealth(Schema):
    connection_id: uuid.UUID = Field(description="The connection.")
    status: ConnectionStatus = Field(description="Its status.")
    problem_code: str | None = Field(description="What is wrong, as a stable code.")
    problem_message: str | None = Field(description="What is wrong, in words.")
    problem_action: str | None = Field(description="What fixes it.")
    token_expires_at: datetime | None = Field(description="When the access token expires.")
    last_refreshed_at: datetime | None = Field(description="Last token refresh.")
    quotas: list[QuotaUse] = Field(description="Quota use per documented rate limit.")


# --- listing defaults ---------------------------------------------------------------------------
#
# What a platform needs on every listing that FlashFusion cannot learn from the product: the
# creator chooses it once per connection, and publishing passes it into `PublishPayload.options`
# (publishing/payload.py merges `account["listing_defaults"]` into the options as they are).

LISTING_DEFAULTS = "listing_defaults"
# Printify's per-product-type choice: {product type key: {"blueprint_id", "print_provider_id"}}
# (connector/platforms/printify/mapper.py `catalog_options` reads it).
PRINTIFY_PRODUCTS = "printify_products"

# specs/etsy/baseline.json, createDraftListing request body: `who_made` and `when_made` enums
# and descriptions (tests/connector/test_connections.py compares these with the spec).
ETSY_WHO_MADE = ("i_did", "someone_else", "collective")
ETSY_WHEN_MADE = (
    "made_to_order",
    "2020_2026",
    "2010_2019",
    "2007_2009",
    "before_2007",
    "2000_2006",
    "1990s",
    "1980s",
    "1970s",
    "1960s",
    "1950s",
    "1940s",
    "1930s",
    "1920s",
    "1910s",
    "1900s",
    "1800s",
    "1700s",
    "before_1700",
)
ETSY_WHO_MADE_HELP = (
    "An enumerated string indicating who made the product. Helps buyers locate the listing "
    "under the Handmade heading. Requires 'is_supply' and 'when_made'."
)
ETSY_WHEN_MADE_HELP = (
    "An enumerated string for the era in which the maker made the product in this listing. "
    "Helps buyers locate the listing under the Vintage heading. Requires 'is_supply' and "
    "'who_made'."
)
# specs/printful/openapi.json, components.schemas.TechniqueEnum.
PRINTFUL_TECHNIQUES = ("dtg", "digital", "cut-sew", "uv", "embroidery", "sublimation", "dtfilm")


@dataclass(frozen=True)
class SettingSpec:
    """One listing default of a platform: a choice among `choices`, or a platform id."""

    name: str
    label: str
    help: str
    choices: tuple[str, ...] = ()
    # For a choice: where the allowed values come from, said in the 422 ("Etsy's
    # createDraftListing enum"). For an id: what the id is ("an Etsy shipping profile id").
    source: str = ""
    # Publishing is refused until it is set (and nothing resolves it from the account).
    required: bool = False
    default: str | None = None


SETTINGS: dict[str, tuple[SettingSpec, ...]] = {
    "etsy": (
        SettingSpec(
            "who_made",
            "Who made",
            ETSY_WHO_MADE_HELP,
            ETSY_WHO_MADE,
            "Etsy's createDraftListing enum",
            required=True,
        ),
        SettingSpec(
            "when_made",
            "When it was made",
            ETSY_WHEN_MADE_HELP + " Print-on-demand items are made to order.",
            ETSY_WHEN_MADE,
            "Etsy's createDraftListing enum",
            default="made_to_order",
        ),
        SettingSpec(
            "shipping_profile_id",
            "Shipping profile",
            "The shipping profile of every listing (empty: the shop's first one).",
            source="an Etsy shipping profile id",
        ),
        SettingSpec(
            "readiness_state_id",
            "Processing profile",
            "The processing profile (readiness state) of every offering (empty: the shop's "
            "first one).",
            source="an Etsy processing profile (readiness_state_id)",
        ),
        SettingSpec(
            "taxonomy_id",
            "Etsy category",
            "The seller-taxonomy category of every listing published through this connection "
            "(empty: the product type's category in the catalog, else the Etsy category "
            "whose name matches the product type).",
            source="an Etsy seller-taxonomy id",
        ),
    ),
    "printful": (
        SettingSpec(
            "printful_technique",
            "Print technique",
            "How Printful prints the products of this store (empty: DTG for apparel; other "
            "products need one).",
            PRINTFUL_TECHNIQUES,
            "Printful's TechniqueEnum",
        ),
    ),
    "printify": (
        SettingSpec(
            PRINTIFY_PRODUCTS,
            "Blueprint and print provider per product type",
            "Per product type: the Printify blueprint and print provider (empty: the blueprint "
            "whose title names the product type, and its first print provider).",
        ),
    ),
}


class ConnectionSettingsUpdate(Schema):
    listing_defaults: dict[str, Any] = Field(
        description="The listing defaults to change; a key left out is kept, `null` clears it. "
        "Etsy: `who_made` (i_did | someone_else | collective), `when_made` (default "
        "made_to_order), `shipping_profile_id`, `readiness_state_id`, `taxonomy_id` (positive "
        "integers). Printful: `printful_technique`. Printify: `printify_products`, "
        '`{"<product type>": {"blueprint_id": 5, "print_provider_id": 50}}` (`null` for a '
        "product type clears it)."
    )


class MissingSetting(Schema):
    name: str = Field(description="The listing default that is not set, e.g. `who_made`.")
    message: str = Field(description="What publishing needs, and where to set it.")


class ConnectionSettings(Schema):
    connection_id: uuid.UUID = Field(description="The connection.")
    platform: str = Field(description="Its platform.")
    listing_defaults: dict[str, Any] = Field(
        description="What every listing published through this connection gets (publishing "
        "passes them to the platform)."
    )
    missing: list[MissingSetting] = Field(
        description="Required listing defaults that are not set: publishing is refused until "
        "they are."
    )

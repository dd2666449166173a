"""The contract every platform connector implements, and the types that cross it.

A connector is a `PlatformConnector` subclass registered under the Python entry-point group
`flashfusion.connectors` (connector/registry.py), so a third party can ship one as a package.
It declares what it can do (`capabilities`), its documented rate limits (`rate_limits`, with
their sources) and how it authenticates; publishing, token health, webhooks and order sync talk
to platforms only through these methods.

Connectors never see the database. They get a `ConnectionContext`: the account ids, the
decrypted credentials (in memory only; never logged, never in job inputs) and `ctx.request`,
which applies the per-account rate limits, the circuit breaker, `Retry-After` and timeouts, and
turns failures into the three `ConnectorError` kinds (connector/http.py builds it).
"""

import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

import httpx


class Capability(StrEnum):
    publish = "publish"
    update = "update"
    unpublish = "unpublish"
    inventory = "inventory"
    orders = "orders"
    webhooks = "webhooks"
    catalog = "catalog"


class AuthKind(StrEnum):
    # A token the creator pastes (Printify personal access token, Printful private token).
    api_token = "api_token"
    # OAuth 2.0 authorization code with PKCE S256 and rotating refresh tokens (Etsy).
    oauth_pkce = "oauth_pkce"


@dataclass(frozen=True)
class RateLimit:
    """One documented limit per platform account. `groups` are the operation groups it applies
    to (None: every call). `source` says where the figure comes from."""

    name: str
    limit: int
    period_seconds: float
    source: str
    groups: frozenset[str] | None = None

    def applies_to(self, group: str) -> bool:
        return self.groups is None or group in self.groups


@dataclass(frozen=True)
class CredentialField:
    """A field of an API-token connect form."""

    name: str
    label: str
    help: str
    secret: bool = True


# --- errors ----------------------------------------------------------------------------------


class ErrorKind(StrEnum):
    retryable = "retryable"  # network, timeout, 429, 5xx: try again later (Retry-After honoured)
    terminal = "terminal"  # the platform refused the data: retrying will not help; fix it
    auth = "auth"  # the credentials no longer work: reconnect


class ConnectorError(Exception):
    """A failed platform call, classified, with what the creator should do about it.

    `code` is a stable FlashFusion code ("etsy.shipping_profile_missing", "rate_limited", ...),
    `platform_message` the platform's own words (never containing a secret), `action` one
    sentence saying what fixes it."""

    kind: ClassVar[ErrorKind]

    def __init__(
        self,
        code: str,
        action: str,
        *,
        platform_message: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{code}: {platform_message or action}")
        self.code = code
        self.action = action
        self.platform_message = platform_message
        self.status = status
        self.retry_after = retry_after


class RetryableConnectorError(ConnectorError):
    kind = ErrorKind.retryable


class TerminalConnectorError(ConnectorError):
    kind = ErrorKind.terminal


class ConnectorAuthError(ConnectorError):
    """The token is expired (refreshable) or dead (`needs_reconnect`: invalid_grant, revoked)."""

    kind = ErrorKind.auth

    def __init__(self, code: str, action: str, *, needs_reconnect: bool, **kwargs: Any) -> None:
        super().__init__(code, action, **kwargs)
        self.needs_reconnect = needs_reconnect


class WebhookRejected(Exception):
    """A delivery that fails verification: bad or missing signature, wrong secret, stale."""


# --- what crosses the contract ----------------------------------------------------------------


@dataclass
class TokenSet:
    """OAuth tokens as the platform returned them. `refresh_token` is None when the response
    had none: the stored refresh token must then be kept, never overwritten with nothing."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    scope: str | None = None


@dataclass
class AccountInfo:
    """Who a connection is connected to: `account_id` is the platform's shop/store id."""

    account_id: str
    name: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class VariantPayload:
    sku: str  # our SKU, unique per variant; find-before-create looks it up
    price: int  # minor units of PublishPayload.currency
    quantity: int
    size: str | None = None
    colour: str | None = None
    # The platform's catalog variant id where it has one (Printify variant id, Printful
    # catalog variant id), filled by the mapper from the catalog.
    catalog_variant_id: str | None = None
    enabled: bool = True


@dataclass
class ImagePayload:
    url: str | None  # a URL the platform can fetch
    content: bytes | None  # or the bytes (multipart / base64 uploads)
    filename: str
    alt_text: str = ""
    role: str = "mockup"  # "print_file" (design to print) or "mockup" (listing photo)
    placement: str = "front"


# The payload option (set by publishing/tasks.py `_first_create`) that tells a connector's
# `create_listing` that no item of this listing can be on the platform yet, so it may create
# without looking for one first.
FIRST_CREATE_OPTION = "first_create"


@dataclass
class PublishPayload:
    """One listing, as FlashFusion wants it on the channel (built by publishing/payload.py)."""

    external_id: str  # our stable id for this listing (`ff-<listing uuid>`), used as marker/SKU
    title: str
    description: str
    tags: list[str]
    currency: str
    product_type: str
    variants: list[VariantPayload]
    images: list[ImagePayload]
    # Platform settings chosen for this listing: Printify blueprint_id / print_provider_id,
    # Etsy taxonomy_id / shipping_profile_id / readiness_state_id / who_made / when_made, ...
    # Set by publishing, not part of the payload hash: `remote_id_hint` (the item publishing
    # recorded for this listing) and `create_sent_at` (epoch seconds of the first create sent
    # for this listing while its id was unknown; absent when none was ever sent, so an item
    # without our marker can be ours only when this is set: a create whose answer was lost),
    # and `first_create` (True: the ledger shows nothing of this listing can be on the
    # platform, publishing/tasks.py `_first_create`; the connector may create without looking
    # the item up first).
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class RemoteListing:
    """The item on the platform. `pending` is True while the platform has not finished (e.g.
    Printify's publish handshake); `state` is the platform's own word ("draft", "active")."""

    remote_id: str
    url: str | None
    state: str
    pending: bool = False
    skus: list[str] = field(default_factory=list)
    # SKU -> quantity and SKU -> price (minor units) as the platform has them, for drift checks.
    quantities: dict[str, int] = field(default_factory=dict)
    prices: dict[str, int] = field(default_factory=dict)
    title: str | None = None


@dataclass
class RemoteLineItem:
    remote_id: str
    sku: str | None
    title: str
    quantity: int
    unit_price: int | None  # minor units


@dataclass
class RemoteOrder:
    remote_id: str
    status: str  # normalised: pending, paid, in_production, shipped, delivered, canceled, refunded
    platform_status: str
    placed_at: datetime | None
    updated_at: datetime | None
    currency: str
    total: int | None
    customer_name: str | None
    customer_email: str | None
    ship_country: str | None
    line_items: list[RemoteLineItem]


@dataclass
class WebhookEvent:
    """A verified delivery, parsed. `event_id` is the platform's own id (the dedupe key)."""

    event_id: str
    topic: str
    occurred_at: datetime | None
    resource_type: str | None
    resource_id: str | None
    payload: dict[str, Any]


@dataclass
class ConnectionContext:
    """What a connector gets for one call: never the ORM row, never the database."""

    connection_id: uuid.UUID
    platform: str
    account_id: str | None
    account: Mapping[str, Any]
    credentials: Mapping[str, str]
    base_url: str
    # request(method, path_or_url, *, group="default", **httpx kwargs) -> httpx.Response.
    # Raises ConnectorError subclasses; returns only 2xx/3xx responses.
    request: Callable[..., Awaitable[httpx.Response]]
    # Set by publishing: records a new item's id in the ledger (its own commit). None elsewhere.
    on_created: Callable[[str], Awaitable[None]] | None = None

    async def created(self, remote_id: str) -> None:
        """Call the moment the platform returns a new item's id, before finishing the item:
        a crash or a lost answer after this resumes that item instead of creating another."""
        if self.on_created is not None:
            await self.on_created(remote_id)


class PlatformConnector(ABC):
    """A platform. Subclasses set the class attributes and implement the methods their
    `capabilities` name; the rest raise NotImplementedError."""

    name: ClassVar[str]  # "printify", "printful", "etsy"
    label: ClassVar[str]
    auth_kind: ClassVar[AuthKind]
    capabilities: ClassVar[frozenset[Capability]]
    rate_limits: ClassVar[tuple[RateLimit, ...]]
    default_base_url: ClassVar[str]
    # The base URL setting (config.Settings) and the sandbox twin (sandbox.SERVICES key).
    base_url_setting: ClassVar[str]
    sandbox_service: ClassVar[str]
    credential_fields: ClassVar[tuple[CredentialField, ...]] = ()
    # Signature header(s) a webhook delivery must carry, for docs and the UI.
    webhook_signature: ClassVar[str] = ""
    # API calls one `get_listing` makes (the drift check's budget counts them).
    listing_read_calls: ClassVar[int] = 1

    def auth_headers(self, credentials: Mapping[str, str]) -> dict[str, str]:
        """Headers that authenticate a call (e.g. Bearer token; Etsy also x-api-key)."""
        return {"Authorization": f"Bearer {credentials['access_token']}"}

    @abstractmethod
    def translate_error(self, response: httpx.Response) -> ConnectorError:
        """A 4xx/5xx answer (other than those ctx.request already classifies) as an error
        saying what to do."""

    @abstractmethod
    async def verify(self, ctx: ConnectionContext) -> AccountInfo:
        """Check the credentials and say which account they belong to (run on connect)."""

    async def find_listing(
        self, ctx: ConnectionContext, payload: PublishPayload
    ) -> RemoteListing | None:
        """Look the item up on the platform by our external id / SKUs (find-before-create)."""
        raise NotImplementedError

    async def create_listing(
        self, ctx: ConnectionContext, payload: PublishPayload
    ) -> RemoteListing:
        raise NotImplementedError

    async def update_listing(
        self, ctx: ConnectionContext, remote_id: str, payload: PublishPayload
    ) -> RemoteListing:
        """Price, inventory, content and images: the listing made to match the payload."""
        raise NotImplementedError

    async def unpublish_listing(self, ctx: ConnectionContext, remote_id: str) -> None:
        raise NotImplementedError

    async def get_listing(self, ctx: ConnectionContext, remote_id: str) -> RemoteListing | None:
        """The listing as the platform has it now (None: gone), for drift detection."""
        raise NotImplementedError

    async def list_orders(
        self, ctx: ConnectionContext, *, updated_since: datetime | None
    ) -> list[RemoteOrder]:
        raise NotImplementedError

    async def get_order(self, ctx: ConnectionContext, remote_id: str) -> RemoteOrder | None:
        raise NotImplementedError

    async def register_webhooks(self, ctx: ConnectionContext, url: str) -> str | None:
        """Subscribe `url` to the platform's events; return the signing secret to store
        (None: the platform's secret is app-wide and comes from settings, as with Etsy)."""
        raise NotImplementedError

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, secret: str, *, now: datetime
    ) -> None:
        """Raise WebhookRejected unless `body` is signed with `secret` (and fresh, where the
        platform signs a timestamp)."""
        raise NotImplementedError

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        raise NotImplementedError

    # --- OAuth (auth_kind == oauth_pkce) ----------------------------------------------------

    def authorization_url(
        self, *, redirect_uri: str, state: str, code_challenge: str, scopes: list[str]
    ) -> str:
        raise NotImplementedError

    async def exchange_code(
        self, http: httpx.AsyncClient, *, code: str, code_verifier: str, redirect_uri: str
    ) -> TokenSet:
        raise NotImplementedError

    async def refresh(self, http: httpx.AsyncClient, *, refresh_token: str) -> TokenSet:
        """Raise ConnectorAuthError(needs_reconnect=True) on invalid_grant; Retryable on a
        transient failure."""
        raise NotImplementedError

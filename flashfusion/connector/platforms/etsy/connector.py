"""Etsy Open API v3 (spec `../shared/specs/etsy/baseline.json`; research/platform-apis.md §3).

A listing is four kinds of call (research §11 fact 3): createDraftListing (form) ->
updateListingInventory (JSON, our SKUs) -> uploadListingImage (multipart, <= 10) ->
updateListing `state=active`. The inventory goes right after the draft (the issue lists images
first; Etsy does not care about the order) because the SKUs are how the next attempt finds the
listing: Etsy has no SKU filter on any listing endpoint (the spec has none). `find_listing`
first checks the listing publishing already knows (`options["remote_id_hint"]`: two calls);
else it pages through the shop's drafts, then active, then inactive listings (where an item of
ours can be without a known id), newest first, reading each one's SKUs and stopping at the
first of ours. A new draft's id is reported to publishing the moment Etsy returns it
(`ctx.created`), so a crash before its inventory was set resumes it by that id. A draft whose
create answer was lost has no SKU and no known id: it is taken as ours only when publishing says
a create of this listing was sent (`options["create_sent_at"]`), by its exact title, among the
SKU-less drafts created since then; never by title alone. The create that follows a
find in the same context reuses its answer instead of paging again. Every step is idempotent
(inventory is a full replace, images are counted before uploading, activation is a state), so
an interrupted create is resumed, never repeated.

When publishing knows no item of the listing can be on Etsy yet (`options["first_create"]`: no
create was ever sent for it, publishing/tasks.py `_first_create`), `create_listing` creates
without looking, does not count the new draft's images (it has none) and builds its answer from
the updateListing and updateListingInventory answers (spec: the ShopListing and the
ListingInventory) instead of reading them back: four kinds of call in all.

`find_listing` answers None for a listing of ours still in `draft`: it is an interrupted create,
and `create_listing` (which looks it up again) completes it instead of creating another.
"""

import time
import uuid
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

import httpx

from flashfusion.config import get_settings
from flashfusion.connector.base import (
    FIRST_CREATE_OPTION,
    AccountInfo,
    AuthKind,
    Capability,
    ConnectionContext,
    ConnectorAuthError,
    ConnectorError,
    ImagePayload,
    PlatformConnector,
    PublishPayload,
    RateLimit,
    RemoteLineItem,
    RemoteListing,
    RemoteOrder,
    RetryableConnectorError,
    TerminalConnectorError,
    TokenSet,
    WebhookEvent,
)
from flashfusion.connector.platforms.etsy import mapper, webhooks
from flashfusion.connector.platforms.etsy.schemas import (
    Listing,
    ListingInventory,
    Page,
    Receipt,
    Self,
    Shop,
    TokenResponse,
    WebhookEnvelope,
)

API = "/v3/application"
# developers.etsy.com "Authentication": authorize at www.etsy.com/oauth/connect, tokens at
# api.etsy.com/v3/public/oauth/token (the spec's tokenUrl says openapi.etsy.com; both are used).
AUTHORIZE_URL = "https://www.etsy.com/oauth/connect"
TOKEN_URL = "https://api.etsy.com/v3/public/oauth/token"
TOKEN_PATH = "/v3/public/oauth/token"
# Where the lead mounts the in-process twin on the FlashFusion app, so a browser can reach its
# consent page for sandbox connections (see the report: `app.mount(SANDBOX_MOUNT, twin)`).
SANDBOX_MOUNT = "/sandbox/etsy"
SANDBOX_WEBHOOKS_PATH = "/v3/sandbox/webhook-endpoints"  # twin only (sandbox/etsy.py)
# The scopes the connector's calls need (spec `security` of each operation it uses).
SCOPES = ["listings_r", "listings_w", "listings_d", "shops_r", "transactions_r"]
PAGE = 100  # spec: limit maximum 100
MAX_IMAGES = 10  # issue 6: "image upload (multipart, <= 10 images)"
# spec ShopListing.state: active, inactive, sold_out, draft, expired. Where an item of ours can be
# without publishing knowing its id: a create interrupted before (draft) or after (active) its
# activation; an unpublished one (inactive), when an older ledger lost its id. A sold-out or
# expired listing was published, so publishing has its id (`remote_id_hint`).
FIND_STATES = ("draft", "active", "inactive")
# find_listing's answer is reused by the create_listing that follows it in the same context
# within this many seconds (FlashFusion's choice: one publish attempt's duration).
LOOKUP_REUSE_SECONDS = 60.0
# spec ShopReceipts min_last_modified: minimum 946684800.
EARLIEST = 946_684_800
# Our normalisation of Etsy's receipt statuses (spec ShopReceipt.status enum).
ORDER_STATUS = {
    "open": "pending",
    "payment processing": "pending",
    "paid": "paid",
    "completed": "shipped",
    "canceled": "canceled",
    "fully refunded": "refunded",
    "partially refunded": "paid",
}
TAXONOMY_TTL_SECONDS = 86_400.0

ACTION_RECONNECT = "Reconnect your Etsy shop in FlashFusion → Connections."
ACTION_APP_KEYS = (
    "Check FLASHFUSION_ETSY_KEYSTRING and FLASHFUSION_ETSY_SHARED_SECRET: Etsy requires "
    "x-api-key as keystring:shared_secret (Etsy → Your Apps)."
)


def _now() -> datetime:
    return datetime.now(UTC)


# How far Etsy's clock may be behind ours when a lost create's draft is matched by its
# created_timestamp (FlashFusion default, not an Etsy figure).
CLOCK_SKEW_SECONDS = 300


def _orphans_since(payload: PublishPayload) -> int | None:
    """The earliest created_timestamp a draft from this listing's lost create can have; None
    when no create was ever sent for it (then no SKU-less draft is ours)."""
    sent = payload.options.get("create_sent_at")
    if sent is None:
        return None
    return int(float(sent)) - CLOCK_SKEW_SECONDS


class EtsyConnector(PlatformConnector):
    name = "etsy"
    label = "Etsy"
    auth_kind = AuthKind.oauth_pkce
    capabilities = frozenset(
        {
            Capability.publish,
            Capability.update,
            Capability.unpublish,
            Capability.inventory,
            Capability.orders,
            Capability.webhooks,
            Capability.catalog,
        }
    )
    rate_limits = (
        RateLimit(
            "per_second",
            10,
            1,
            "research/platform-apis.md §3: default 10 QPS per new app "
            "(developer.etsy.com/documentation/essentials/rate-limits)",
        ),
        RateLimit(
            "per_day",
            10_000,
            86_400,
            "research/platform-apis.md §3: default 10,000 QPD, sliding 24 h window "
            "(developer.etsy.com/documentation/essentials/rate-limits)",
        ),
    )
    default_base_url = "https://openapi.etsy.com"
    base_url_setting = "ETSY_BASE_URL"
    sandbox_service = "etsy"
    webhook_signature: ClassVar[str] = "webhook-id, webhook-timestamp, webhook-signature"
    # getListing, then getListingInventory (the SKUs, prices and quantities).
    listing_read_calls: ClassVar[int] = 2

    def __init__(self) -> None:
        self._taxonomy: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._properties: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self._looked_up: dict[
            tuple[uuid.UUID, str], tuple[weakref.ref[ConnectionContext], float, Listing | None]
        ] = {}

    # --- auth ----------------------------------------------------------------------------

    def app_keys(
        self, credentials: Mapping[str, str] | None = None, *, sandbox: bool = False
    ) -> tuple[str, str]:
        """(keystring, shared secret): the connection's own (sandbox connections carry the
        twin's), else the sandbox runtime's for a sandbox client, else the settings."""
        if credentials and credentials.get("keystring"):
            return credentials["keystring"], credentials.get("shared_secret", "")
        if sandbox:
            from flashfusion.sandbox import runtime

            found = runtime.credentials_for(self.sandbox_service)
            return found["keystring"], found["shared_secret"]
        settings = get_settings()
        secret = settings.ETSY_SHARED_SECRET
        return settings.ETSY_KEYSTRING, secret.get_secret_value() if secret else ""

    def auth_headers(self, credentials: Mapping[str, str]) -> dict[str, str]:
        keystring, secret = self.app_keys(credentials)
        # spec securitySchemes.api_key: "keystring:shared_secret".
        headers = {"x-api-key": f"{keystring}:{secret}"}
        if credentials.get("access_token"):
            headers["Authorization"] = f"Bearer {credentials['access_token']}"
        return headers

    def _is_sandbox_client(self, http: httpx.AsyncClient) -> bool:
        from flashfusion.connector.http import sandbox_base_url

        return str(http.base_url).rstrip("/") == sandbox_base_url(self.sandbox_service)

    def _token_url(self, http: httpx.AsyncClient) -> str:
        base = str(http.base_url).rstrip("/")
        if self._is_sandbox_client(http):
            # The in-process twin: ETSY_TOKEN_URL is for live (or served) connections.
            return base + TOKEN_PATH
        configured = get_settings().ETSY_TOKEN_URL
        if configured:
            return configured
        if base and base != self.default_base_url:
            return base + TOKEN_PATH  # a twin (in-process or served) answers at its own root
        return TOKEN_URL

    def authorization_url(
        self,
        *,
        redirect_uri: str,
        state: str,
        code_challenge: str,
        scopes: list[str],
        sandbox: bool = False,
    ) -> str:
        """Etsy's consent page (developers.etsy.com "Authentication", step 1), or the one
        ETSY_OAUTH_URL names. `sandbox`: the in-process twin's page, mounted on FlashFusion at
        SANDBOX_MOUNT, with the twin's keystring (ETSY_OAUTH_URL is for live connections)."""
        settings = get_settings()
        if sandbox:
            base = settings.BASE_URL.rstrip("/") + SANDBOX_MOUNT + "/oauth/connect"
        else:
            base = settings.ETSY_OAUTH_URL or AUTHORIZE_URL
        keystring, _ = self.app_keys(sandbox=sandbox)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": keystring,
                "redirect_uri": redirect_uri,
                "scope": " ".join(scopes or SCOPES),
                "state": state,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            },
            quote_via=quote,  # scopes space-separated, URL-encoded as %20 (Etsy's example)
        )
        return f"{base}?{query}"

    async def _token_call(self, http: httpx.AsyncClient, form: dict[str, str]) -> TokenSet:
        try:
            response = await http.post(self._token_url(http), data=form)
        except httpx.TransportError as e:
            raise RetryableConnectorError(
                "etsy.token_unreachable",
                "FlashFusion could not reach Etsy to refresh access; it will try again shortly.",
                platform_message=type(e).__name__,
            ) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise RetryableConnectorError(
                "etsy.token_unavailable",
                "Etsy's sign-in service had a temporary problem; FlashFusion will try again.",
                platform_message=f"HTTP {response.status_code}",
                status=response.status_code,
            )
        body = _json(response)
        if response.status_code >= 400:
            error = str(body.get("error", ""))
            description = str(body.get("error_description", ""))
            if error == "invalid_grant":
                # etsy/open-api#519: {"error": "invalid_grant", "error_description":
                # "refresh_token is revoked"} -- the grant is dead; only a reconnect helps.
                raise ConnectorAuthError(
                    "etsy.invalid_grant",
                    ACTION_RECONNECT,
                    needs_reconnect=True,
                    platform_message=f"{error}: {description}".strip(": "),
                    status=response.status_code,
                )
            raise ConnectorAuthError(
                f"etsy.{error or 'token_error'}",
                ACTION_RECONNECT,
                needs_reconnect=True,
                platform_message=f"{error}: {description}".strip(": "),
                status=response.status_code,
            )
        tokens = TokenResponse.model_validate(body)
        expires_at = (
            datetime.fromtimestamp(time.time() + tokens.expires_in, UTC)
            if tokens.expires_in
            else None
        )
        return TokenSet(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token or None,
            expires_at=expires_at,
            scope=tokens.scope,
        )

    async def exchange_code(
        self, http: httpx.AsyncClient, *, code: str, code_verifier: str, redirect_uri: str
    ) -> TokenSet:
        keystring, _ = self.app_keys(sandbox=self._is_sandbox_client(http))
        return await self._token_call(
            http,
            {
                "grant_type": "authorization_code",
                "client_id": keystring,
                "redirect_uri": redirect_uri,
                "code": code,
                "code_verifier": code_verifier,
            },
        )

    async def refresh(self, http: httpx.AsyncClient, *, refresh_token: str) -> TokenSet:
        keystring, _ = self.app_keys(sandbox=self._is_sandbox_client(http))
        return await self._token_call(
            http,
            {"grant_type": "refresh_token", "client_id": keystring, "refresh_token": refresh_token},
        )

    # --- errors --------------------------------------------------------------------------

    def translate_error(self, response: httpx.Response) -> ConnectorError:
        status = response.status_code
        body = _json(response)
        message = str(body.get("error") or "")[:500] or f"HTTP {status}"
        if body.get("error_description"):
            message = f"{message}: {str(body['error_description'])[:300]}"
        lowered = message.lower()
        if status == 401:
            return ConnectorAuthError(
                "etsy.token_invalid",
                "Etsy refused the access token; FlashFusion refreshes it and retries.",
                needs_reconnect=False,
                platform_message=message,
                status=status,
            )
        if status == 403:
            if "insufficient_scope" in lowered:
                return ConnectorAuthError(
                    "etsy.insufficient_scope",
                    ACTION_RECONNECT + " Etsy asks again for the permissions FlashFusion needs.",
                    needs_reconnect=True,
                    platform_message=message,
                    status=status,
                )
            if "api key" in lowered or "x-api-key" in lowered or "shared secret" in lowered:
                return TerminalConnectorError(
                    "etsy.app_key_invalid", ACTION_APP_KEYS, platform_message=message, status=status
                )
            return TerminalConnectorError(
                "etsy.forbidden",
                "Etsy says this shop or listing is not the connected account's; reconnect the "
                "right shop or remove the listing link.",
                platform_message=message,
                status=status,
            )
        if status == 404:
            return TerminalConnectorError(
                "etsy.not_found",
                "The item is no longer on Etsy; publish it again to recreate it.",
                platform_message=message,
                status=status,
            )
        if status == 409:
            return RetryableConnectorError(
                "etsy.conflict",
                "Etsy was busy changing this listing; FlashFusion will try again shortly.",
                platform_message=message,
                status=status,
            )
        if status >= 500:
            return RetryableConnectorError(
                "etsy.server_error",
                "Etsy had a temporary problem; FlashFusion will try again shortly.",
                platform_message=message,
                status=status,
            )
        if status == 400:
            for needle, code, action in (
                ("shipping_profile", "etsy.shipping_profile_invalid", mapper.ACTION_SHIPPING),
                ("readiness_state", "etsy.processing_profile_invalid", mapper.ACTION_PROCESSING),
                ("taxonomy", "etsy.taxonomy_invalid", mapper.ACTION_TAXONOMY),
                ("image", "etsy.image_invalid", mapper.ACTION_IMAGES),
            ):
                if needle in lowered:
                    return TerminalConnectorError(
                        code, action, platform_message=message, status=status
                    )
            return TerminalConnectorError(
                "etsy.invalid_data",
                f"Etsy refused the listing data ({message}); fix that field and publish again.",
                platform_message=message,
                status=status,
            )
        return TerminalConnectorError(
            f"etsy.http_{status}",
            "Etsy refused the request; check the product and publish again.",
            platform_message=message,
            status=status,
        )

    # --- account ---------------------------------------------------------------------------

    async def verify(self, ctx: ConnectionContext) -> AccountInfo:
        me = Self.model_validate((await ctx.request("GET", f"{API}/users/me")).json())
        if me.shop_id is None:
            raise TerminalConnectorError(
                "etsy.no_shop", "Open an Etsy shop with this account, then connect again."
            )
        shop = Shop.model_validate((await ctx.request("GET", f"{API}/shops/{me.shop_id}")).json())
        shipping = await self._first(
            ctx, f"{API}/shops/{me.shop_id}/shipping-profiles", "shipping_profile_id"
        )
        readiness = await self._first(
            ctx, f"{API}/shops/{me.shop_id}/readiness-state-definitions", "readiness_state_id"
        )
        return AccountInfo(
            account_id=str(shop.shop_id),
            name=shop.shop_name,
            details={
                "shop_id": shop.shop_id,
                "user_id": me.user_id,
                "shipping_profile_id": shipping,
                "readiness_state_id": readiness,
                "currency_code": shop.currency_code,
            },
        )

    async def _first(self, ctx: ConnectionContext, path: str, key: str) -> int | None:
        page = Page.model_validate((await ctx.request("GET", path)).json())
        return int(page.results[0][key]) if page.results else None

    def _shop_id(self, ctx: ConnectionContext) -> str:
        shop_id = ctx.account_id or ctx.account.get("shop_id")
        if not shop_id:
            raise TerminalConnectorError("etsy.no_shop", ACTION_RECONNECT)
        return str(shop_id)

    # --- catalog: taxonomy and profiles ------------------------------------------------------

    async def taxonomy(self, ctx: ConnectionContext) -> list[dict[str, Any]]:
        cached = self._taxonomy.get(ctx.base_url)
        if cached and time.monotonic() - cached[0] < TAXONOMY_TTL_SECONDS:
            return cached[1]
        page = Page.model_validate(
            (await ctx.request("GET", f"{API}/seller-taxonomy/nodes", group="catalog")).json()
        )
        self._taxonomy[ctx.base_url] = (time.monotonic(), page.results)
        return page.results

    async def properties(self, ctx: ConnectionContext, taxonomy_id: int) -> list[dict[str, Any]]:
        key = (ctx.base_url, taxonomy_id)
        if key not in self._properties:
            response = await ctx.request(
                "GET", f"{API}/seller-taxonomy/nodes/{taxonomy_id}/properties", group="catalog"
            )
            self._properties[key] = Page.model_validate(response.json()).results
        return self._properties[key]

    async def _settings(
        self, ctx: ConnectionContext, payload: PublishPayload
    ) -> mapper.ListingSettings:
        account = ctx.account
        who, when = mapper.who_and_when(payload, account)
        taxonomy_id = mapper.chosen_taxonomy(payload, account)
        if taxonomy_id is None:
            taxonomy_id = mapper.match_taxonomy(await self.taxonomy(ctx), payload.product_type)
        if taxonomy_id is None:
            raise TerminalConnectorError(
                "etsy.taxonomy_missing",
                mapper.ACTION_TAXONOMY,
                platform_message=f"no Etsy category matches {payload.product_type!r}",
            )
        shop_id = self._shop_id(ctx)
        shipping = mapper.pick("shipping_profile_id", payload, account) or await self._first(
            ctx, f"{API}/shops/{shop_id}/shipping-profiles", "shipping_profile_id"
        )
        if shipping is None:
            raise TerminalConnectorError("etsy.shipping_profile_missing", mapper.ACTION_SHIPPING)
        readiness = mapper.pick("readiness_state_id", payload, account) or await self._first(
            ctx, f"{API}/shops/{shop_id}/readiness-state-definitions", "readiness_state_id"
        )
        if readiness is None:
            raise TerminalConnectorError(
                "etsy.processing_profile_missing", mapper.ACTION_PROCESSING
            )
        return mapper.ListingSettings(int(taxonomy_id), int(shipping), int(readiness), who, when)

    # --- listings ----------------------------------------------------------------------------

    async def _find(self, ctx: ConnectionContext, payload: PublishPayload) -> Listing | None:
        """Ours on Etsy: the listing publishing already knows (`remote_id_hint`), else a
        listing with one of our SKUs among the states an item of ours can be in, newest first,
        stopping at the first one found; else, only when a create of this listing was sent
        and its answer lost (`create_sent_at`), a SKU-less draft of our exact title created
        since then. Title alone never makes a draft ours: another product with the same
        title, publishing at the same moment, has drafts like that too."""
        skus = {v.sku for v in payload.variants}
        hinted = await self._hinted(ctx, payload, skus)
        if hinted is not None:
            return hinted
        title = mapper.clean_title(payload.title)
        shop_id = self._shop_id(ctx)
        orphans_since = _orphans_since(payload)
        orphan: Listing | None = None
        for state in FIND_STATES:
            offset = 0
            while True:
                response = await ctx.request(
                    "GET",
                    f"{API}/shops/{shop_id}/listings",
                    params={
                        "state": state,
                        "limit": PAGE,
                        "offset": offset,
                        "includes": "Inventory",
                        # spec getListingsByShop: created, desc are the defaults; said anyway,
                        # since an interrupted create of ours is among the newest.
                        "sort_on": "created",
                        "sort_order": "desc",
                    },
                )
                page = Page.model_validate(response.json())
                for raw in page.results:
                    listing = Listing.model_validate(raw)
                    found = listing.all_skus()
                    if found & skus:
                        return listing
                    if (
                        orphan is None
                        and orphans_since is not None
                        and state == "draft"
                        and not found
                        and listing.title == title
                        and (listing.created_timestamp or 0) >= orphans_since
                    ):
                        orphan = listing
                offset += len(page.results)
                if not page.results or offset >= page.count:
                    break
            if orphan is not None:
                # A create of ours interrupted before its inventory: never two drafts of one
                # listing exist (the next attempt resumes this one), so nothing else to find.
                return orphan
        return None

    async def _hinted(
        self, ctx: ConnectionContext, payload: PublishPayload, skus: set[str]
    ) -> Listing | None:
        """The listing publishing passed as `options["remote_id_hint"]`, if it is still ours
        (this shop, one of our SKUs): two calls instead of a scan of the shop."""
        hint = str(payload.options.get("remote_id_hint") or "").strip()
        if not hint.isdigit():
            return None
        try:
            listing = Listing.model_validate(
                (await ctx.request("GET", f"{API}/listings/{hint}")).json()
            )
            if listing.shop_id is not None and str(listing.shop_id) != self._shop_id(ctx):
                return None
            listing.inventory = ListingInventory.model_validate(
                (await ctx.request("GET", f"{API}/listings/{hint}/inventory")).json()
            )
        except TerminalConnectorError as e:
            if e.code in ("etsy.not_found", "etsy.forbidden"):
                return None  # deleted, or another shop's: look for ours the long way
            raise
        found = listing.all_skus()
        if found & skus:
            return listing
        # A draft publishing recorded from our create's answer (ctx.created) before its
        # inventory (and so its SKUs) was set.
        return listing if listing.state == "draft" and not found else None

    async def find_listing(
        self, ctx: ConnectionContext, payload: PublishPayload
    ) -> RemoteListing | None:
        found = await self._find(ctx, payload)
        if found is None or found.state == "draft":
            # Nothing, or a draft of ours (an interrupted create: create_listing resumes it).
            # The create that follows in this context uses this answer instead of asking again.
            self._looked_up[(ctx.connection_id, payload.external_id)] = (
                weakref.ref(ctx),
                time.monotonic(),
                found,
            )
            return None
        return self._remote(found, found.inventory)

    async def _find_for_create(
        self, ctx: ConnectionContext, payload: PublishPayload
    ) -> Listing | None:
        """What find_listing just answered in this same context (moments ago), else a new
        look-up. Used once: a retried create looks again."""
        key = (ctx.connection_id, payload.external_id)
        looked = self._looked_up.pop(key, None)
        if looked is not None:
            owner, when, found = looked
            if owner() is ctx and time.monotonic() - when < LOOKUP_REUSE_SECONDS:
                return found
        return await self._find(ctx, payload)

    async def create_listing(
        self, ctx: ConnectionContext, payload: PublishPayload
    ) -> RemoteListing:
        if payload.options.get(FIRST_CREATE_OPTION):
            # Publishing knows no item of this listing can be on Etsy yet (no create was ever
            # sent for it: publishing/tasks.py `_first_create`): nothing to find or resume.
            found = None
        else:
            found = await self._find_for_create(ctx, payload)
        if found is not None and found.state != "draft":
            return self._remote(found, found.inventory)  # never a second one
        settings = await self._settings(ctx, payload)
        photos = mapper.listing_images(payload)
        properties = await self._variation_properties(ctx, payload, settings.taxonomy_id)
        inventory = mapper.inventory_body(payload, settings.readiness_state_id, properties)
        shop_id = self._shop_id(ctx)
        if found is None:
            quantity, price = mapper.totals(payload)
            response = await ctx.request(
                "POST",
                f"{API}/shops/{shop_id}/listings",
                data=mapper.draft_form(payload, settings, quantity=quantity, price_minor=price),
                group="publish",
            )
            listing_id = int(response.json()["listing_id"])
            await ctx.created(str(listing_id))
            have_images: int | None = 0  # a draft made just now has no image
        else:
            have_images = None
            listing_id = found.listing_id
            if not found.all_skus():
                # A draft of ours whose create answer was lost: give it this version's
                # content, whatever the interrupted create sent.
                await ctx.request(
                    "PATCH",
                    f"{API}/shops/{shop_id}/listings/{listing_id}",
                    data=mapper.content_form(payload),
                )
        stored = await ctx.request("PUT", f"{API}/listings/{listing_id}/inventory", json=inventory)
        await self._upload_missing(ctx, shop_id, listing_id, photos, have=have_images)
        response = await ctx.request(
            "PATCH", f"{API}/shops/{shop_id}/listings/{listing_id}", data={"state": "active"}
        )
        # spec: updateListing answers the ShopListing and updateListingInventory the
        # ListingInventory, as they now are: no need to read them back.
        return self._remote(
            Listing.model_validate(response.json()),
            ListingInventory.model_validate(stored.json()),
        )

    async def _variation_properties(
        self, ctx: ConnectionContext, payload: PublishPayload, taxonomy_id: int
    ) -> dict[str, mapper.VariationProperty]:
        if not mapper.varying_dimensions(payload.variants):
            return {}
        return mapper.variation_properties(await self.properties(ctx, taxonomy_id))

    async def _upload_missing(
        self,
        ctx: ConnectionContext,
        shop_id: str,
        listing_id: int,
        photos: list[ImagePayload],
        *,
        have: int | None = None,
    ) -> None:
        """Upload the photos the listing does not have yet (counted first: a retried upload
        that Etsy had committed is not repeated). `have`: the count when known without asking
        (a draft this very call created has none)."""
        if have is None:
            response = await ctx.request("GET", f"{API}/listings/{listing_id}/images")
            have = len(Page.model_validate(response.json()).results)
        wanted = photos[:MAX_IMAGES]
        for rank, image in enumerate(wanted[have:], start=have + 1):
            content = image.content if image.content is not None else await _download(image)
            data = {"rank": str(rank)}
            if image.alt_text:
                data["alt_text"] = image.alt_text[:500]  # spec: alt_text max 500 characters
            await ctx.request(
                "POST",
                f"{API}/shops/{shop_id}/listings/{listing_id}/images",
                data=data,
                files={"image": (image.filename, content)},
                group="upload",
            )

    async def update_listing(
        self, ctx: ConnectionContext, remote_id: str, payload: PublishPayload
    ) -> RemoteListing:
        shop_id = self._shop_id(ctx)
        settings = await self._settings(ctx, payload)
        properties = await self._variation_properties(ctx, payload, settings.taxonomy_id)
        inventory = mapper.inventory_body(payload, settings.readiness_state_id, properties)
        await ctx.request(
            "PATCH",
            f"{API}/shops/{shop_id}/listings/{remote_id}",
            data=mapper.content_form(payload),
        )
        await ctx.request("PUT", f"{API}/listings/{remote_id}/inventory", json=inventory)
        await self._upload_missing(ctx, shop_id, int(remote_id), mapper.listing_images(payload))
        remote = await self.get_listing(ctx, remote_id)
        if remote is None:
            raise TerminalConnectorError(
                "etsy.not_found", "The item is no longer on Etsy; publish it again to recreate it."
            )
        return remote

    async def unpublish_listing(self, ctx: ConnectionContext, remote_id: str) -> None:
        try:
            await ctx.request(
                "PATCH",
                f"{API}/shops/{self._shop_id(ctx)}/listings/{remote_id}",
                data={"state": "inactive"},
            )
        except TerminalConnectorError as e:
            if e.code != "etsy.not_found":
                raise  # gone already is unpublished

    async def get_listing(self, ctx: ConnectionContext, remote_id: str) -> RemoteListing | None:
        try:
            listing = Listing.model_validate(
                (await ctx.request("GET", f"{API}/listings/{remote_id}")).json()
            )
            inventory = ListingInventory.model_validate(
                (await ctx.request("GET", f"{API}/listings/{remote_id}/inventory")).json()
            )
        except TerminalConnectorError as e:
            if e.code == "etsy.not_found":
                return None
            raise
        return self._remote(listing, inventory)

    def _remote(self, listing: Listing, inventory: ListingInventory | None) -> RemoteListing:
        skus: list[str] = []
        quantities: dict[str, int] = {}
        prices: dict[str, int] = {}
        for product in inventory.products if inventory else []:
            if not product.sku:
                continue
            skus.append(product.sku)
            if product.offerings:
                offering = product.offerings[0]
                quantities[product.sku] = offering.quantity
                if offering.price is not None:
                    prices[product.sku] = mapper.money_minor(offering.price)
        return RemoteListing(
            remote_id=str(listing.listing_id),
            url=listing.url,
            state=listing.state,
            pending=False,
            skus=skus or sorted(listing.skus),
            quantities=quantities,
            prices=prices,
            title=listing.title,
        )

    # --- orders ------------------------------------------------------------------------------

    async def list_orders(
        self, ctx: ConnectionContext, *, updated_since: datetime | None
    ) -> list[RemoteOrder]:
        shop_id = self._shop_id(ctx)
        params: dict[str, Any] = {"limit": PAGE, "sort_on": "updated", "sort_order": "asc"}
        if updated_since is not None:
            params["min_last_modified"] = max(EARLIEST, int(updated_since.timestamp()))
        orders: list[RemoteOrder] = []
        offset = 0
        while True:
            response = await ctx.request(
                "GET", f"{API}/shops/{shop_id}/receipts", params=params | {"offset": offset}
            )
            page = Page.model_validate(response.json())
            orders.extend(_order(Receipt.model_validate(r)) for r in page.results)
            offset += len(page.results)
            if not page.results or offset >= page.count:
                return orders

    async def get_order(self, ctx: ConnectionContext, remote_id: str) -> RemoteOrder | None:
        try:
            response = await ctx.request(
                "GET", f"{API}/shops/{self._shop_id(ctx)}/receipts/{remote_id}"
            )
        except TerminalConnectorError as e:
            if e.code == "etsy.not_found":
                return None
            raise
        return _order(Receipt.model_validate(response.json()))

    # --- webhooks ----------------------------------------------------------------------------

    async def register_webhooks(self, ctx: ConnectionContext, url: str) -> str | None:
        """Etsy's webhook endpoints are set in its developer portal ("Webhook portal"), one
        signing secret per app (settings.ETSY_WEBHOOK_SECRET): nothing to call on Etsy. The
        sandbox twin takes the URL per shop, so sandbox orders reach this connection."""
        if ctx.base_url.rstrip("/") != self.default_base_url:
            try:
                await ctx.request("POST", SANDBOX_WEBHOOKS_PATH, data={"url": url})
            except TerminalConnectorError as e:
                if e.code != "etsy.not_found":
                    raise
        return None

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, secret: str, *, now: datetime
    ) -> None:
        webhooks.verify(headers, body, secret, now=now)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        try:
            envelope = WebhookEnvelope.model_validate_json(body)
        except ValueError:
            from flashfusion.connector.base import WebhookRejected

            raise WebhookRejected("the body is not an Etsy webhook envelope") from None
        lowered = {k.lower(): v for k, v in headers.items()}
        data = envelope.data or {}
        resource_id = data.get("receipt_id")
        if resource_id is None and envelope.resource_url:
            tail = envelope.resource_url.rstrip("/").rsplit("/", 1)[-1]
            resource_id = tail if tail.isdigit() else None
        return WebhookEvent(
            event_id=str(envelope.event_id or lowered.get("webhook-id", "")),
            topic=envelope.event_type,
            occurred_at=_when(envelope.created_at),
            resource_type="receipt" if envelope.event_type.upper().startswith("ORDER") else None,
            resource_id=None if resource_id is None else str(resource_id),
            payload=envelope.model_dump(),
        )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _when(value: int | float | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _order(receipt: Receipt) -> RemoteOrder:
    status = ORDER_STATUS.get(receipt.status, "pending")
    if status == "paid" and receipt.is_shipped:
        status = "shipped"
    currency = receipt.grandtotal.currency_code if receipt.grandtotal else "USD"
    return RemoteOrder(
        remote_id=str(receipt.receipt_id),
        status=status,
        platform_status=receipt.status,
        placed_at=_when(receipt.created_timestamp),
        updated_at=_when(receipt.updated_timestamp),
        currency=currency,
        total=mapper.money_minor(receipt.grandtotal) if receipt.grandtotal else None,
        customer_name=receipt.name,
        customer_email=receipt.buyer_email,
        ship_country=receipt.country_iso,
        line_items=[
            RemoteLineItem(
                remote_id=str(t.transaction_id),
                sku=t.sku or None,
                title=t.title or "",
                quantity=t.quantity,
                unit_price=mapper.money_minor(t.price) if t.price else None,
            )
            for t in receipt.transactions
        ],
    )


async def _download(image: ImagePayload) -> bytes:
    """The bytes of an image given by URL (Etsy takes uploads, not URLs). A plain client: the
    Etsy credentials must never go to another host."""
    if not image.url:
        raise TerminalConnectorError("etsy.image_missing", mapper.ACTION_IMAGES)
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0)) as client:
            response = await client.get(image.url, follow_redirects=True)
    except httpx.TransportError as e:
        raise RetryableConnectorError(
            "etsy.image_unreachable",
            "FlashFusion could not fetch the product image; it will try again shortly.",
            platform_message=type(e).__name__,
        ) from None
    if response.status_code >= 400:
        raise TerminalConnectorError(
            "etsy.image_unreachable",
            "The product image could not be fetched; regenerate the mockups, then publish again.",
            platform_message=f"HTTP {response.status_code}",
        )
    return response.content

"""Etsy Open API v3 sandbox twin: the endpoints FlashFusion's Etsy connector uses, as published.

Sources: the spec `../shared/specs/etsy/baseline.json` (Etsy's own OpenAPI 3.0 file: paths,
parameters, form vs JSON vs multipart bodies, enums, response shapes, `ErrorSchema`
`{"error": "..."}`) and `../shared/research/platform-apis.md` section 3 (auth, limits, webhooks).

Modelled:

- every call needs `x-api-key: keystring:shared_secret` (spec `securitySchemes.api_key`: "must
  include this data in the format keystring:shared_secret"); missing or wrong -> 403. Private
  endpoints (those with an `oauth2` scope in the spec) also need `Authorization: Bearer <token>`
  -> 401 `{"error": "invalid_token", "error_description": "access token is expired"}` (that body
  as reported in etsy/open-api#519); a token without the operation's scope -> 403.
- OAuth 2.0 authorization code with PKCE S256 (research section 3; developers.etsy.com
  "Authentication"): `GET /oauth/connect` (a consent page; `auto_approve=1` or `POST` with
  `decision=allow` redirects to `redirect_uri?code=&state=`) and `POST /v3/public/oauth/token`
  (form-encoded). Access tokens live 3600 s (etsy/open-api#116) and, like Etsy's, are prefixed
  with the user id: `<user_id>.<random>` (cmd-not-found/etsy-oauthapi-node README shows
  `"access_token":"12345678.…"`; the refresh token in etsy/open-api#519 is `53888612.…`).
  Refresh tokens rotate on every refresh (etsy/open-api#353): the old one dies on use; a
  reused or revoked one -> 400 `{"error": "invalid_grant", "error_description": "refresh_token
  is revoked"}` (etsy/open-api#519).
- Rate limits (research section 3, developer.etsy.com "Rate limits"): 10 requests per second and
  10,000 per day per app by default, QPS evaluated first, then QPD; the day is a sliding window.
  Successful answers carry `x-limit-per-second`, `x-remaining-this-second`, `x-limit-per-day`,
  `x-remaining-today`; over a limit -> 429 without them. `Retry-After` on the 429 is the twin's
  choice (Etsy's is UNVERIFIED): the seconds until a slot frees. Windows are divided by
  `time_scale`. The token endpoint and consent page are not counted (UNVERIFIED).
- Listings: createDraftListing (form-urlencoded only: a JSON body -> 400, the twin's decision,
  since the spec lists only `application/x-www-form-urlencoded`), uploadListingImage (multipart;
  at most 10 images per listing as issue 6 states, while createDraftListing's `image_ids` takes
  "up to 20 images" as the spec says), get/updateListingInventory (JSON; full replace),
  updateListing (PATCH form; `state=active` "requires that the listing have an image set" -- spec,
  `state` description), getListing, getListingsByShop, deleteListing.
- Shop, user, seller taxonomy (a small FICTIONAL tree: sandbox data, not Etsy's ids), shipping
  profiles and processing profiles (readiness-state definitions), receipts.
- Webhooks: `state.create_receipt(...)` emits `ORDER_PAID`. Headers `webhook-id`,
  `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`
  with the secret `whsec_<base64 key>`. Etsy documents the three headers and HMAC-SHA256 with a
  signing secret; the exact signed string and secret format are INFERRED from the Standard
  Webhooks scheme those headers belong to (research section 3), not confirmed by Etsy.
  Payload `{event_type, event_id, created_at, data, resource_url, shop_id}` (developers.etsy.com
  "Webhooks": event_type, event_id, created_at, data; apis.io AsyncAPI: resource_url, shop_id).
  `created_at` as unix seconds and the `data` fields are UNVERIFIED.

Error messages are the twin's own words in Etsy's `{"error": ...}` shape, always naming the field.

Faults (`app.state.sandbox.faults`) and counters:

    faults.error_rate = 0.2          # seeded dice: that share of requests -> 500
    faults.rate_limit = 3            # next 3 requests -> 429
    faults.latency = 0.05            # every request waits first
    faults.hang = 1                  # next request never answers
    faults.commit_then_timeout = 1   # next mutating request commits, then the client times out
    faults.drop_connection = 1       # next request: connection dropped before it is processed
    faults.operations = {"createDraftListing"}   # one-shot faults only for these operations
    state.requests["createDraftListing"], state.errors["429"], state.created["listing"]
    state.duplicates(), state.max_rate_seen["per_second"], state.outbox
    await state.flush_webhooks()

In-process (`httpx.ASGITransport`, which re-raises app exceptions) a timeout or dropped connection
reaches the client as `httpx.ReadTimeout` / `httpx.RemoteProtocolError` (both
`httpx.TransportError`); served on a port, the server turns them into a 500 instead.
"""

import asyncio
import base64
import hashlib
import hmac
import json
import math
import random
import secrets
import time
import unicodedata
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from starlette.applications import Starlette
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

API = "/v3/application"
TOKEN_PATH = "/v3/public/oauth/token"
CONNECT_PATH = "/oauth/connect"
SANDBOX_WEBHOOKS_PATH = "/v3/sandbox/webhook-endpoints"

# research/platform-apis.md section 3: default for a new app.
LIMIT_PER_SECOND = 10
LIMIT_PER_DAY = 10_000
DAY_SECONDS = 86_400.0
# etsy/open-api#116: "The access token is only good for 1 hour (3600 seconds)".
ACCESS_TOKEN_SECONDS = 3600
# Authorization codes: RFC 6749 section 4.1.2 recommends at most 10 minutes (Etsy's: UNVERIFIED).
CODE_SECONDS = 600
# Issue 6: "image upload (multipart, <= 10 images)"; spec: alt_text "Max length 500 characters".
MAX_IMAGES = 10
MAX_IMAGE_IDS = 20  # spec, createDraftListing image_ids: "can include up to 20 images"
MAX_ALT_TEXT = 500
MAX_PAGE = 100  # spec: limit minimum 1, maximum 100, default 25

# Spec enums (createDraftListing / updateListing request bodies).
WHO_MADE = ("i_did", "someone_else", "collective")
WHEN_MADE = (
    "made_to_order", "2020_2026", "2010_2019", "2007_2009", "before_2007", "2000_2006", "1990s",
    "1980s", "1970s", "1960s", "1950s", "1940s", "1930s", "1920s", "1910s", "1900s", "1800s",
    "1700s", "before_1700",
)  # fmt: skip
LISTING_TYPES = ("physical", "download", "both")
LISTING_STATES = ("active", "inactive", "sold_out", "draft", "expired")
SORT_ORDERS = ("asc", "ascending", "desc", "descending", "up", "down")
READINESS_STATES = ("ready_to_ship", "made_to_order")
SCOPES = (
    "address_r", "address_w", "email_r", "listings_d", "listings_r", "listings_w", "profile_r",
    "profile_w", "shops_r", "shops_w", "transactions_r", "transactions_w",
)  # fmt: skip
# Receipt statuses (spec ShopReceipt.status enum).
RECEIPT_STATUSES = (
    "paid", "completed", "open", "payment processing", "canceled", "fully refunded",
    "partially refunded",
)  # fmt: skip

# A small FICTIONAL seller taxonomy (sandbox data: names echo FlashFusion product types; ids are
# in a range Etsy does not publish, so nobody mistakes them for Etsy's).
TAXONOMY: tuple[tuple[int, int | None, str], ...] = (
    (90001, None, "Clothing"),
    (90011, 90001, "Shirts & Tees"),
    (90111, 90011, "T-shirts"),
    (90112, 90011, "Hoodies & Sweatshirts"),
    (90002, None, "Home & Living"),
    (90021, 90002, "Kitchen & Dining"),
    (90211, 90021, "Mugs"),
    (90022, 90002, "Home Decor"),
    (90221, 90022, "Posters"),
    (90222, 90022, "Canvas Prints"),
    (90003, None, "Accessories"),
    (90031, 90003, "Bags & Purses"),
    (90311, 90031, "Tote Bags"),
    (90032, 90003, "Phone Cases"),
    (90004, None, "Paper & Party Supplies"),
    (90041, 90004, "Stickers"),
)
# Variation properties of the fictional taxonomy (property id, name, values).
PROPERTY_SIZE = (99100, "Size", ("XS", "S", "M", "L", "XL", "2XL", "3XL"))
PROPERTY_COLOR = (99200, "Primary color", ("Black", "White", "Navy", "Red", "Grey", "Blue"))
PROPERTY_DIMENSIONS = (99300, "Dimensions", ('8"x10"', '12"x16"', '18"x24"', '24"x36"'))
TAXONOMY_PROPERTIES: dict[int, tuple[tuple[int, str, tuple[str, ...]], ...]] = {
    90111: (PROPERTY_SIZE, PROPERTY_COLOR),
    90112: (PROPERTY_SIZE, PROPERTY_COLOR),
    90211: (PROPERTY_COLOR,),
    90221: (PROPERTY_DIMENSIONS,),
    90222: (PROPERTY_DIMENSIONS,),
    90311: (PROPERTY_COLOR,),
}


def _value_id(property_id: int, index: int) -> int:
    return property_id * 100 + index + 1


class SimulatedTimeout(httpx.ReadTimeout):
    """The twin committed the change, then the answer never arrived."""


class DroppedConnection(httpx.RemoteProtocolError):
    """The connection closed before the twin processed the request."""


class EtsyError(Exception):
    def __init__(self, status: int, message: str, **extra: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


@dataclass
class EtsyFaults:
    error_rate: float = 0.0  # share of requests answered 500 (dice seeded by `seed`)
    rate_limit: int = 0  # burst: that many next requests -> 429
    retry_after: float = 1.0  # Retry-After of a `rate_limit` burst 429
    latency: float = 0.0  # seconds before every answer
    hang: int = 0  # that many next requests never answer
    commit_then_timeout: int = 0  # that many next mutating requests: commit, then time out
    drop_connection: int = 0  # that many next requests: dropped before processing
    operations: set[str] = field(default_factory=set)  # one-shot faults only for these (empty: all)
    seed: int = 0

    def take(self, name: str, operation: str) -> bool:
        if self.operations and operation not in self.operations:
            return False
        left = getattr(self, name)
        if left > 0:
            setattr(self, name, left - 1)
            return True
        return False


@dataclass
class Token:
    user_id: int
    client_id: str
    scopes: frozenset[str]
    expires_at: float


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    challenge: str
    user_id: int
    scopes: frozenset[str]
    expires_at: float


def _money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "divisor": 100, "currency_code": currency}


def _minor(price: float) -> int:
    return int(round(price * 100))


class EtsySandboxState:
    """Everything the twin knows; tests read and steer it (`app.state.sandbox`)."""

    def __init__(
        self,
        *,
        apps: dict[str, str],
        time_scale: float,
        deliver: Callable[[str, dict[str, str], bytes], Awaitable[Any]] | None,
        webhook_secret: str | None,
        webhook_url: str | None,
        seed: int,
    ) -> None:
        self.apps = dict(apps)
        self.time_scale = time_scale
        self.deliver = deliver
        self.webhook_url = webhook_url
        rng = random.Random(seed)
        self.webhook_secret = webhook_secret or (
            "whsec_" + base64.b64encode(rng.randbytes(24)).decode()
        )
        self.faults = EtsyFaults(seed=seed)
        self._dice = random.Random(seed)
        self._rng = rng
        self.clock: Callable[[], float] = time.time
        self.requests: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.created: Counter[str] = Counter()
        self.max_rate_seen: dict[str, int] = {"per_second": 0, "per_day": 0}
        self.refresh_calls = 0
        self.outbox: list[dict[str, Any]] = []
        self.delivered: list[dict[str, Any]] = []
        # Etsy configures webhook endpoints in its developer portal; the twin takes them per shop
        # (`POST /v3/sandbox/webhook-endpoints`, sandbox only) or as the default `webhook_url`.
        self.webhook_urls: dict[int, str] = {}
        self._second: dict[str, deque[float]] = {}
        self._day: dict[str, deque[float]] = {}
        self._ids = 1_000
        self.users: dict[int, dict[str, Any]] = {}
        self.shops: dict[int, dict[str, Any]] = {}
        self.shipping_profiles: dict[int, dict[str, Any]] = {}
        self.readiness: dict[int, dict[str, Any]] = {}
        self.listings: dict[int, dict[str, Any]] = {}
        self.images: dict[int, bytes] = {}
        self.receipts: dict[int, dict[str, Any]] = {}
        self.codes: dict[str, AuthCode] = {}
        self.access_tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, Token] = {}
        self.default_user_id = self.add_seller("FlashFusionSandbox")["user_id"]

    # --- setup ---------------------------------------------------------------------------

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    def add_seller(
        self, shop_name: str, *, with_profiles: bool = True, currency: str = "USD"
    ) -> dict[str, Any]:
        """A user with a shop (and, by default, one shipping and one processing profile)."""
        user_id = 5_000_000 + self.next_id()
        shop_id = 7_000_000 + self.next_id()
        now = int(self.clock())
        self.users[user_id] = {
            "user_id": user_id,
            "shop_id": shop_id,
            "primary_email": f"{shop_name.lower()}@sandbox.invalid",
        }
        self.shops[shop_id] = {
            "shop_id": shop_id,
            "user_id": user_id,
            "shop_name": shop_name,
            "create_date": now,
            "created_timestamp": now,
            "update_date": now,
            "updated_timestamp": now,
            "title": f"{shop_name} (sandbox)",
            "currency_code": currency,
            "is_vacation": False,
            "url": f"https://www.etsy.com/shop/{shop_name}",
            "login_name": shop_name.lower(),
            "listing_active_count": 0,
            "languages": ["en-US"],
            "shop_location_country_iso": "US",
            "shipping_from_country_iso": "US",
        }
        if with_profiles:
            self.add_shipping_profile(shop_id, "Standard shipping")
            self.add_readiness_state(shop_id, "made_to_order", 1, 3)
        return self.users[user_id]

    def add_shipping_profile(
        self, shop_id: int, title: str, *, origin_country_iso: str = "US"
    ) -> dict[str, Any]:
        profile_id = 3_000_000 + self.next_id()
        self.shipping_profiles[profile_id] = {
            "shipping_profile_id": profile_id,
            "title": title,
            "user_id": self.shops[shop_id]["user_id"],
            "shop_id": shop_id,
            "origin_country_iso": origin_country_iso,
            "is_deleted": False,
            "shipping_profile_destinations": [],
            "shipping_profile_upgrades": [],
            "origin_postal_code": None,
            "profile_type": "manual",
            "domestic_handling_fee": 0.0,
            "international_handling_fee": 0.0,
        }
        self.created["shipping_profile"] += 1
        return self.shipping_profiles[profile_id]

    def add_readiness_state(
        self, shop_id: int, readiness_state: str, min_days: int, max_days: int
    ) -> dict[str, Any]:
        readiness_id = 4_000_000 + self.next_id()
        self.readiness[readiness_id] = {
            "shop_id": shop_id,
            "readiness_state_id": readiness_id,
            "readiness_state": readiness_state,
            "min_processing_days": min_days,
            "max_processing_days": max_days,
            "processing_days_display_label": f"{min_days}-{max_days} days",
        }
        self.created["readiness_state"] += 1
        return self.readiness[readiness_id]

    def shop_of(self, user_id: int) -> int:
        return int(self.users[user_id]["shop_id"])

    # --- OAuth knobs ---------------------------------------------------------------------

    def issue_tokens(self, user_id: int, client_id: str, scopes: frozenset[str]) -> dict[str, Any]:
        access = f"{user_id}.{secrets.token_urlsafe(32)}"
        refresh = f"{user_id}.{secrets.token_urlsafe(32)}"
        now = self.clock()
        self.access_tokens[access] = Token(user_id, client_id, scopes, now + ACCESS_TOKEN_SECONDS)
        self.refresh_tokens[refresh] = Token(user_id, client_id, scopes, math.inf)
        self.created["token"] += 1
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
            "refresh_token": refresh,
        }

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is now expired (refresh tokens still work)."""
        past = self.clock() - 1
        for token in self.access_tokens.values():
            token.expires_at = past

    def revoke_grant(self, user_id: int) -> None:
        """The user revoked the app (or changed their password): every token of theirs dies."""
        for tokens in (self.access_tokens, self.refresh_tokens):
            for key in [k for k, t in tokens.items() if t.user_id == user_id]:
                del tokens[key]

    # --- rate limits -----------------------------------------------------------------------

    def admit(self, app_key: str) -> float | None:
        """Count a request of `app_key`; None when admitted, else seconds until one would be."""
        now = self.clock()
        second_window = 1.0 / self.time_scale
        day_window = DAY_SECONDS / self.time_scale
        second = self._second.setdefault(app_key, deque())
        day = self._day.setdefault(app_key, deque())
        while second and now - second[0] >= second_window:
            second.popleft()
        while day and now - day[0] >= day_window:
            day.popleft()
        if len(second) >= LIMIT_PER_SECOND:  # QPS first (research section 3)
            return max(0.001, second_window - (now - second[0]))
        if len(day) >= LIMIT_PER_DAY:
            return max(0.001, day_window - (now - day[0]))
        second.append(now)
        day.append(now)
        self.max_rate_seen["per_second"] = max(self.max_rate_seen["per_second"], len(second))
        self.max_rate_seen["per_day"] = max(self.max_rate_seen["per_day"], len(day))
        return None

    def remaining(self, app_key: str) -> tuple[int, int]:
        second = self._second.get(app_key, deque())
        day = self._day.get(app_key, deque())
        return max(0, LIMIT_PER_SECOND - len(second)), max(0, LIMIT_PER_DAY - len(day))

    def roll_error(self) -> bool:
        return self.faults.error_rate > 0 and self._dice.random() < self.faults.error_rate

    # --- checks for tests ------------------------------------------------------------------

    def duplicates(self) -> dict[str, list[int]]:
        """Listings that duplicate each other: live listings sharing a SKU, and a SKU-less
        listing (an abandoned draft) with the same title as another live listing."""
        by_key: dict[str, list[int]] = {}
        live = list(self.listings.values())
        for listing in live:
            for sku in set(_skus(listing)):
                by_key.setdefault(sku, []).append(listing["listing_id"])
        for listing in live:
            if not _skus(listing):
                same = [o["listing_id"] for o in live if o["title"] == listing["title"]]
                if len(same) > 1:
                    by_key[f"title:{listing['title']}"] = sorted(same)
        return {key: ids for key, ids in by_key.items() if len(ids) > 1}

    # --- receipts and webhooks -------------------------------------------------------------

    def create_receipt(
        self,
        shop_id: int,
        listing_id: int,
        sku: str,
        quantity: int = 1,
        *,
        buyer_name: str = "Sandbox Buyer",
        buyer_email: str = "buyer@sandbox.invalid",
        country_iso: str = "US",
        shipping: int = 499,
        status: str = "paid",
    ) -> dict[str, Any]:
        """A paid order for `quantity` of `sku`; emits ORDER_PAID into the outbox."""
        listing = self.listings[listing_id]
        product = next(p for p in listing["inventory"]["products"] if p["sku"] == sku)
        unit = product["offerings"][0]["price"]["amount"]
        currency = self.shops[shop_id]["currency_code"]
        now = int(self.clock())
        receipt_id = 2_000_000 + self.next_id()
        buyer_user_id = 6_000_000 + self.next_id()
        subtotal = unit * quantity
        seller_user = self.shops[shop_id]["user_id"]
        transaction = {
            "transaction_id": 8_000_000 + self.next_id(),
            "title": listing["title"],
            "description": listing["description"],
            "seller_user_id": seller_user,
            "buyer_user_id": buyer_user_id,
            "create_timestamp": now,
            "created_timestamp": now,
            "paid_timestamp": now,
            "shipped_timestamp": None,
            "quantity": quantity,
            "listing_image_id": None,
            "receipt_id": receipt_id,
            "is_digital": False,
            "file_data": "",
            "listing_id": listing_id,
            "transaction_type": "listing",
            "product_id": product["product_id"],
            "sku": sku,
            "price": _money(unit, currency),
            "shipping_cost": _money(shipping, currency),
            "variations": [],
            "product_data": product["property_values"],
            "shipping_profile_id": listing["shipping_profile_id"],
            "min_processing_days": None,
            "max_processing_days": None,
            "shipping_method": None,
            "shipping_upgrade": None,
            "expected_ship_date": None,
            "buyer_coupon": 0.0,
            "shop_coupon": 0.0,
        }
        receipt = {
            "receipt_id": receipt_id,
            "receipt_type": 0,
            "seller_user_id": seller_user,
            "seller_email": self.users[seller_user]["primary_email"],
            "buyer_user_id": buyer_user_id,
            "buyer_email": buyer_email,
            "name": buyer_name,
            "first_line": "1 Sandbox Street",
            "second_line": None,
            "city": "Sandbox City",
            "state": None,
            "zip": "00000",
            "status": status,
            "formatted_address": f"{buyer_name}\n1 Sandbox Street\nSandbox City 00000",
            "country_iso": country_iso,
            "payment_method": "cc",
            "payment_email": None,
            "message_from_seller": None,
            "message_from_buyer": None,
            "message_from_payment": None,
            "is_paid": status in ("paid", "completed"),
            "is_shipped": False,
            "create_timestamp": now,
            "created_timestamp": now,
            "update_timestamp": now,
            "updated_timestamp": now,
            "is_gift": False,
            "gift_message": "",
            "gift_sender": "",
            "grandtotal": _money(subtotal + shipping, currency),
            "subtotal": _money(subtotal, currency),
            "total_price": _money(subtotal, currency),
            "total_shipping_cost": _money(shipping, currency),
            "total_tax_cost": _money(0, currency),
            "total_vat_cost": _money(0, currency),
            "discount_amt": _money(0, currency),
            "gift_wrap_price": _money(0, currency),
            "shipments": [],
            "transactions": [transaction],
            "refunds": [],
        }
        self.receipts[receipt_id] = receipt
        self.created["receipt"] += 1
        if receipt["is_paid"]:
            self.emit(
                "ORDER_PAID",
                shop_id,
                {"receipt_id": receipt_id, "shop_id": shop_id, "status": status},
                f"https://openapi.etsy.com{API}/shops/{shop_id}/receipts/{receipt_id}",
            )
        return receipt

    def sign(self, webhook_id: str, timestamp: int, body: bytes) -> str:
        """`v1,<base64 HMAC-SHA256>` over "{id}.{timestamp}.{body}" (INFERRED, see module doc)."""
        key = base64.b64decode(self.webhook_secret.removeprefix("whsec_"))
        signed = f"{webhook_id}.{timestamp}.".encode() + body
        return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()

    def emit(self, event_type: str, shop_id: int, data: dict[str, Any], resource_url: str) -> None:
        now = int(self.clock())
        event_id = f"evt_{secrets.token_hex(12)}"
        body = json.dumps(
            {
                "event_type": event_type,
                "event_id": event_id,
                "created_at": now,
                "data": data,
                "resource_url": resource_url,
                "shop_id": shop_id,
            }
        ).encode()
        webhook_id = f"msg_{secrets.token_hex(12)}"
        headers = {
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(now),
            "webhook-signature": self.sign(webhook_id, now, body),
        }
        url = self.webhook_urls.get(shop_id, self.webhook_url)
        self.outbox.append({"url": url, "headers": headers, "body": body})

    async def flush_webhooks(self) -> list[dict[str, Any]]:
        """Deliver the outbox now through `deliver` (None: they stay in the outbox)."""
        if self.deliver is None:
            return []
        sent, self.outbox = self.outbox, []
        for item in sent:
            await self.deliver(item["url"] or "", item["headers"], item["body"])
            self.delivered.append(item)
        return sent


def _skus(listing: dict[str, Any]) -> list[str]:
    return [p["sku"] for p in listing["inventory"]["products"] if p.get("sku")]


# --- validation helpers ---------------------------------------------------------------------


def _title_ok(value: str) -> bool:
    # spec, title: /[^\p{L}\p{Nd}\p{P}\p{Sm}\p{Zs}™©®]/u is forbidden; %, :, & and + once each.
    for ch in value:
        cat = unicodedata.category(ch)
        if not (cat[0] in "LP" or cat in ("Nd", "Sm", "Zs") or ch in "™©®"):
            return False
    return all(value.count(ch) <= 1 for ch in "%:&+")


def _tag_ok(value: str) -> bool:
    # spec, tags: /[^\p{L}\p{Nd}\p{Zs}\-'™©®]/u is forbidden.
    return all(
        unicodedata.category(ch)[0] == "L"
        or unicodedata.category(ch) in ("Nd", "Zs")
        or ch in "-'™©®"
        for ch in value
    )


def _material_ok(value: str) -> bool:
    # spec, materials: /[^\p{L}\p{Nd}\p{Zs}]/u is forbidden.
    return all(
        unicodedata.category(ch)[0] == "L" or unicodedata.category(ch) in ("Nd", "Zs")
        for ch in value
    )


def _form_list(form: FormData, name: str) -> list[str] | None:
    """An array form field: repeated keys, or one comma-separated value (spec, tags:
    "A comma-separated list of tag strings")."""
    values = [v for v in form.getlist(name) if isinstance(v, str)]
    if not values:
        return None
    out: list[str] = []
    for value in values:
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return out


def _int(form: Any, name: str, *, required: bool = False, minimum: int | None = None) -> int | None:
    raw = form.get(name)
    if raw is None or raw == "":
        if required:
            raise EtsyError(400, f"{name} is required.")
        return None
    try:
        value = int(str(raw))
    except ValueError:
        raise EtsyError(400, f"Expected {name} to be an integer; got {str(raw)[:40]!r}.") from None
    if minimum is not None and value < minimum:
        raise EtsyError(400, f"{name} must be at least {minimum}.")
    return value


def _float(form: Any, name: str, *, required: bool = False) -> float | None:
    raw = form.get(name)
    if raw is None or raw == "":
        if required:
            raise EtsyError(400, f"{name} is required.")
        return None
    try:
        value = float(str(raw))
    except ValueError:
        raise EtsyError(400, f"Expected {name} to be a number; got {str(raw)[:40]!r}.") from None
    if not math.isfinite(value):
        raise EtsyError(400, f"{name} must be a finite number.")
    return value


def _bool(form: Any, name: str) -> bool | None:
    raw = form.get(name)
    if raw is None or raw == "":
        return None
    text = str(raw).lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise EtsyError(400, f"Expected {name} to be a boolean (true or false).")


def _enum(form: Any, name: str, allowed: tuple[str, ...], *, required: bool = False) -> str | None:
    raw = form.get(name)
    if raw is None or raw == "":
        if required:
            raise EtsyError(400, f"{name} is required.")
        return None
    if raw not in allowed:
        raise EtsyError(400, f"{name} must be one of: {', '.join(allowed)}.")
    return str(raw)


def _media(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _form(request: Request, operation: str) -> FormData:
    if _media(request) != "application/x-www-form-urlencoded":
        raise EtsyError(
            400,
            f"{operation} takes an application/x-www-form-urlencoded body "
            f"(got {_media(request) or 'no content type'}).",
        )
    return await request.form()


async def _json(request: Request, operation: str) -> Any:
    if _media(request) != "application/json":
        raise EtsyError(
            400, f"{operation} takes an application/json body (got {_media(request) or 'none'})."
        )
    try:
        return json.loads(await request.body())
    except ValueError:
        raise EtsyError(400, f"{operation}: the body is not valid JSON.") from None


def _page(request: Request) -> tuple[int, int]:
    limit = _int(request.query_params, "limit", minimum=1)
    offset = _int(request.query_params, "offset", minimum=0)
    if limit is not None and limit > MAX_PAGE:
        raise EtsyError(400, f"limit must be at most {MAX_PAGE}.")
    return (25 if limit is None else limit), (offset or 0)


# --- rendering ------------------------------------------------------------------------------


def _node(state: EtsySandboxState, node_id: int) -> dict[str, Any]:
    by_id = {n[0]: n for n in TAXONOMY}
    path: list[int] = []
    cursor: int | None = node_id
    while cursor is not None:
        path.insert(0, cursor)
        cursor = by_id[cursor][1]
    return {
        "id": node_id,
        "level": len(path) - 1,
        "name": by_id[node_id][2],
        "parent_id": by_id[node_id][1],
        "children": [_node(state, n[0]) for n in TAXONOMY if n[1] == node_id],
        "full_path_taxonomy_ids": path,
    }


def _image_json(state: EtsySandboxState, listing_id: int, image: dict[str, Any]) -> dict[str, Any]:
    base = f"https://sandbox.etsy.invalid/images/{image['listing_image_id']}"
    return {
        "listing_id": listing_id,
        "listing_image_id": image["listing_image_id"],
        "hex_code": None,
        "red": None,
        "green": None,
        "blue": None,
        "hue": None,
        "saturation": None,
        "brightness": None,
        "is_black_and_white": None,
        "creation_tsz": image["created"],
        "created_timestamp": image["created"],
        "rank": image["rank"],
        "url_75x75": f"{base}/75x75",
        "url_170x135": f"{base}/170x135",
        "url_570xN": f"{base}/570xN",
        "url_fullxfull": f"{base}/fullxfull",
        # spec note: colours and size may be null right after upload (async processing).
        "full_height": None,
        "full_width": None,
        "alt_text": image["alt_text"] or None,
    }


def _listing_json(
    state: EtsySandboxState,
    listing: dict[str, Any],
    *,
    owner: bool,
    includes: frozenset[str] | set[str] = frozenset(),
) -> dict[str, Any]:
    body = {k: v for k, v in listing.items() if k not in ("inventory", "images", "price_minor")}
    currency = state.shops[listing["shop_id"]]["currency_code"]
    body["price"] = _money(listing["price_minor"], currency)
    body["skus"] = _skus(listing) if owner else []
    # spec: readiness_state_id is "Returned only when the listing is active and of type physical".
    if not (listing["state"] == "active" and listing["listing_type"] == "physical"):
        body["readiness_state_id"] = None
    if "Images" in includes:
        body["images"] = [_image_json(state, listing["listing_id"], i) for i in listing["images"]]
    if "Inventory" in includes:
        body["inventory"] = _inventory_json(state, listing)
    return body


def _inventory_json(state: EtsySandboxState, listing: dict[str, Any]) -> dict[str, Any]:
    currency = state.shops[listing["shop_id"]]["currency_code"]
    inventory = listing["inventory"]
    return {
        "products": [
            {
                "product_id": p["product_id"],
                "sku": p["sku"],
                "is_deleted": False,
                "offerings": [
                    {
                        "offering_id": o["offering_id"],
                        "quantity": o["quantity"],
                        "is_enabled": o["is_enabled"],
                        "is_deleted": False,
                        "price": _money(o["price"]["amount"], currency),
                        "readiness_state_id": o["readiness_state_id"],
                    }
                    for o in p["offerings"]
                ],
                "property_values": p["property_values"],
            }
            for p in inventory["products"]
        ],
        "price_on_property": inventory["price_on_property"],
        "quantity_on_property": inventory["quantity_on_property"],
        "sku_on_property": inventory["sku_on_property"],
        "readiness_state_on_property": inventory["readiness_state_on_property"],
    }


# --- the app --------------------------------------------------------------------------------


Handler = Callable[[Request, "Caller"], Awaitable[Response]]


@dataclass
class Caller:
    app_key: str
    token: Token | None


def create_app(
    *,
    apps: dict[str, str] | None = None,
    api_keys: set[str] | None = None,
    time_scale: float = 1.0,
    deliver: Callable[[str, dict[str, str], bytes], Awaitable[Any]] | None = None,
    webhook_secret: str | None = None,
    webhook_url: str | None = None,
    seed: int = 0,
) -> Starlette:
    """The twin; its state is `app.state.sandbox` (an `EtsySandboxState`).

    `apps` maps each accepted keystring to its shared secret. `api_keys` (the generic twin
    signature, sandbox/__init__.py) takes "keystring:shared_secret" strings instead."""
    accepted = dict(apps or {})
    for key in api_keys or ():
        keystring, _, secret = key.partition(":")
        accepted[keystring] = secret
    if time_scale <= 0:
        raise ValueError("time_scale must be positive")
    state = EtsySandboxState(
        apps=accepted,
        time_scale=time_scale,
        deliver=deliver,
        webhook_secret=webhook_secret,
        webhook_url=webhook_url,
        seed=seed,
    )

    def error(
        status: int, message: str, headers: dict[str, str] | None = None, **extra: str
    ) -> JSONResponse:
        state.errors[str(status)] += 1
        return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)

    def endpoint(
        operation: str, *, scope: str | None, mutating: bool = False
    ) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
        """Wrap a handler with the API key, rate limit, OAuth and fault checks, in Etsy's order."""

        def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
            async def run(request: Request) -> Response:
                state.requests[operation] += 1
                faults = state.faults
                if faults.take("hang", operation):
                    await asyncio.sleep(3600)
                if faults.latency:
                    await asyncio.sleep(faults.latency)
                if faults.take("drop_connection", operation):
                    state.errors["dropped"] += 1
                    raise DroppedConnection("Server disconnected without sending a response.")
                keystring, _, secret = request.headers.get("x-api-key", "").partition(":")
                if not keystring:
                    return error(403, "Missing x-api-key header.")
                if keystring not in state.apps:
                    return error(403, "Invalid API key.")
                if not secret:
                    # git.plexultra.com commit 4333b1c (research section 3).
                    return error(403, "Shared secret is required in x-api-key header")
                if not hmac.compare_digest(secret, state.apps[keystring]):
                    return error(403, "Invalid shared secret in x-api-key header.")
                wait = state.admit(keystring)
                if wait is None and faults.take("rate_limit", operation):
                    wait = faults.retry_after
                if wait is not None:
                    retry = str(math.ceil(wait)) if time_scale == 1.0 else f"{wait:.3f}"
                    return error(429, "Rate limit exceeded.", {"Retry-After": retry})
                token: Token | None = None
                authorization = request.headers.get("authorization", "")
                if authorization.lower().startswith("bearer "):
                    token = state.access_tokens.get(authorization[7:].strip())
                    if token is None or token.expires_at <= state.clock():
                        if scope is not None:
                            return error(
                                401, "invalid_token", error_description="access token is expired"
                            )
                        token = None
                    elif token.client_id != keystring:
                        return error(
                            401,
                            "invalid_token",
                            error_description="access token was issued to another app",
                        )
                if scope is not None:
                    if token is None:
                        return error(
                            401,
                            "invalid_token",
                            error_description="an OAuth access token is required",
                        )
                    if scope not in token.scopes:
                        return error(
                            403, f"insufficient_scope: {operation} needs the {scope} scope"
                        )
                if state.roll_error():
                    return error(500, "Internal server error (sandbox fault injection).")
                try:
                    response = await handler(request, Caller(keystring, token))
                except EtsyError as e:
                    return error(e.status, e.message, None, **e.extra)
                if (
                    mutating
                    and response.status_code < 300
                    and faults.take("commit_then_timeout", operation)
                ):
                    state.errors["timeout_after_commit"] += 1
                    raise SimulatedTimeout("The sandbox committed, then the answer timed out.")
                per_second, per_day = state.remaining(keystring)
                response.headers["x-limit-per-second"] = str(LIMIT_PER_SECOND)
                response.headers["x-remaining-this-second"] = str(per_second)
                response.headers["x-limit-per-day"] = str(LIMIT_PER_DAY)
                response.headers["x-remaining-today"] = str(per_day)
                return response

            return run

        return wrap

    def owned_shop(request: Request, caller: Caller) -> dict[str, Any]:
        shop_id = int(request.path_params["shop_id"])
        shop = state.shops.get(shop_id)
        if shop is None:
            raise EtsyError(404, f"Shop {shop_id} does not exist.")
        if caller.token is None or shop["user_id"] != caller.token.user_id:
            raise EtsyError(403, f"The access token's user does not own shop {shop_id}.")
        return shop

    def listing_of(listing_id: int, shop: dict[str, Any] | None = None) -> dict[str, Any]:
        listing = state.listings.get(listing_id)
        if listing is None or (shop is not None and listing["shop_id"] != shop["shop_id"]):
            raise EtsyError(404, f"Listing {listing_id} does not exist in this shop.")
        return listing

    def owned_listing(request: Request, caller: Caller) -> dict[str, Any]:
        listing = listing_of(int(request.path_params["listing_id"]))
        if caller.token is None or listing["user_id"] != caller.token.user_id:
            raise EtsyError(403, "The access token's user does not own this listing.")
        return listing

    def is_owner(caller: Caller, listing: dict[str, Any]) -> bool:
        return caller.token is not None and caller.token.user_id == listing["user_id"]

    def check_profiles(
        shop: dict[str, Any], shipping_id: int | None, readiness_id: int | None
    ) -> None:
        if shipping_id is not None:
            profile = state.shipping_profiles.get(shipping_id)
            if profile is None or profile["shop_id"] != shop["shop_id"]:
                raise EtsyError(
                    400,
                    f"shipping_profile_id {shipping_id} is not a shipping profile of this shop.",
                )
        if readiness_id is not None:
            ready = state.readiness.get(readiness_id)
            if ready is None or ready["shop_id"] != shop["shop_id"]:
                raise EtsyError(
                    400,
                    f"readiness_state_id {readiness_id} is not a processing profile of this shop.",
                )

    def text_fields(form: FormData, listing: dict[str, Any], *, creating: bool) -> None:
        title = form.get("title")
        if isinstance(title, str):
            if not title.strip():
                raise EtsyError(400, "title must not be empty.")
            if not _title_ok(title):
                raise EtsyError(
                    400,
                    "title may contain only letters, numbers, punctuation, mathematical symbols, "
                    "spaces, ™, © and ®, and %, :, & and + once each.",
                )
            listing["title"] = title
        elif creating:
            raise EtsyError(400, "title is required.")
        description = form.get("description")
        if isinstance(description, str):
            listing["description"] = description
        elif creating:
            raise EtsyError(400, "description is required.")
        tags = _form_list(form, "tags")
        if tags is not None:
            for tag in tags:
                if not _tag_ok(tag):
                    raise EtsyError(
                        400,
                        f"tags: {tag!r} may contain only letters, numbers, spaces, "
                        "-, ', ™, © and ®.",
                    )
            listing["tags"] = tags
        materials = _form_list(form, "materials")
        if materials is not None:
            for material in materials:
                if not _material_ok(material):
                    raise EtsyError(
                        400,
                        f"materials: {material!r} may contain only letters, numbers and spaces.",
                    )
            listing["materials"] = materials
        who_made = _enum(form, "who_made", WHO_MADE, required=creating)
        if who_made:
            listing["who_made"] = who_made
        when_made = _enum(form, "when_made", WHEN_MADE, required=creating)
        if when_made:
            listing["when_made"] = when_made
        taxonomy_id = _int(form, "taxonomy_id", required=creating, minimum=1)
        if taxonomy_id is not None:
            if taxonomy_id not in {n[0] for n in TAXONOMY}:
                raise EtsyError(400, f"taxonomy_id {taxonomy_id} is not a seller taxonomy node.")
            listing["taxonomy_id"] = taxonomy_id
        for flag in (
            "is_supply",
            "should_auto_renew",
            "is_taxable",
            "is_personalizable",
            "is_customizable",
        ):
            value = _bool(form, flag)
            if value is not None:
                listing[flag] = value

    # --- OAuth ---------------------------------------------------------------------------

    def oauth_page(message: str, status: int) -> HTMLResponse:
        state.errors[str(status)] += 1
        return HTMLResponse(
            f"<!doctype html><title>Etsy sandbox</title><p>{_html(message)}</p>", status_code=status
        )

    async def connect(request: Request) -> Response:
        state.requests["oauth_connect"] += 1
        params: dict[str, str] = dict(request.query_params)
        if request.method == "POST":
            params |= {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        for name in (
            "response_type",
            "client_id",
            "redirect_uri",
            "scope",
            "state",
            "code_challenge",
            "code_challenge_method",
        ):
            if not params.get(name):
                return oauth_page(f"The authorization request is missing {name}.", 400)
        if params["response_type"] != "code":
            return oauth_page("response_type must be code.", 400)
        if params["client_id"] not in state.apps:
            return oauth_page("client_id is not a known app keystring.", 400)
        if params["code_challenge_method"] != "S256":
            return oauth_page("code_challenge_method must be S256.", 400)
        scopes = frozenset(params["scope"].split())
        unknown = sorted(scopes - set(SCOPES))
        if unknown:
            return oauth_page(f"Unknown scope: {', '.join(unknown)}.", 400)
        decision = params.get("decision") or (
            "allow" if params.get("auto_approve") in ("1", "true") else ""
        )
        redirect = params["redirect_uri"]
        joiner = "&" if "?" in redirect else "?"
        if decision == "deny":
            # RFC 6749 section 4.1.2.1.
            return RedirectResponse(
                redirect + joiner + urlencode({"error": "access_denied", "state": params["state"]}),
                status_code=302,
            )
        if decision == "allow":
            user_id = int(params.get("user_id") or state.default_user_id)
            if user_id not in state.users:
                return oauth_page(f"No sandbox user {user_id}.", 400)
            code = secrets.token_urlsafe(24)
            state.codes[code] = AuthCode(
                params["client_id"],
                redirect,
                params["code_challenge"],
                user_id,
                scopes,
                state.clock() + CODE_SECONDS,
            )
            return RedirectResponse(
                redirect + joiner + urlencode({"code": code, "state": params["state"]}),
                status_code=302,
            )
        shop = state.shops[state.shop_of(state.default_user_id)]
        hidden = "".join(
            f'<input type="hidden" name="{_html(k)}" value="{_html(v)}">'
            for k, v in params.items()
            if k != "decision"
        )
        page = (
            "<!doctype html><html><head><title>Etsy sandbox: allow access</title></head><body>"
            f"<h1>Allow access to {_html(shop['shop_name'])}?</h1>"
            "<p>This is the FlashFusion Etsy sandbox. The app asks for: "
            f"{_html(', '.join(sorted(scopes)))}.</p>"
            f'<form method="post">{hidden}'
            '<button name="decision" value="allow">Allow</button> '
            '<button name="decision" value="deny">Deny</button></form></body></html>'
        )
        return HTMLResponse(page)

    def grant_error(description: str, kind: str = "invalid_grant") -> JSONResponse:
        state.errors["400"] += 1
        return JSONResponse({"error": kind, "error_description": description}, status_code=400)

    async def token(request: Request) -> Response:
        state.requests["oauth_token"] += 1
        if _media(request) != "application/x-www-form-urlencoded":
            return grant_error(
                "the token request must be application/x-www-form-urlencoded", "invalid_request"
            )
        form = await request.form()
        grant = form.get("grant_type")
        client_id = str(form.get("client_id") or "")
        if grant == "refresh_token":
            state.refresh_calls += 1
        if client_id not in state.apps:
            return grant_error("client_id is not a known app keystring", "invalid_client")
        if grant == "authorization_code":
            code = state.codes.pop(str(form.get("code") or ""), None)
            if code is None or code.expires_at <= state.clock() or code.client_id != client_id:
                return grant_error("code is invalid or expired")
            if form.get("redirect_uri") != code.redirect_uri:
                return grant_error("redirect_uri does not match the authorization request")
            verifier = str(form.get("code_verifier") or "")
            digest = hashlib.sha256(verifier.encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if not hmac.compare_digest(challenge, code.challenge):
                return grant_error("code_verifier does not match the code_challenge")
            return JSONResponse(state.issue_tokens(code.user_id, client_id, code.scopes))
        if grant == "refresh_token":
            old = state.refresh_tokens.pop(str(form.get("refresh_token") or ""), None)
            if old is None or old.client_id != client_id:
                return grant_error("refresh_token is revoked")
            return JSONResponse(state.issue_tokens(old.user_id, client_id, old.scopes))
        return grant_error(
            "grant_type must be authorization_code or refresh_token", "unsupported_grant_type"
        )

    # --- users, shops, taxonomy, profiles ------------------------------------------------

    @endpoint("ping", scope=None)
    async def ping(request: Request, caller: Caller) -> Response:
        return JSONResponse({"application_id": abs(hash(caller.app_key)) % 10**9 + 1})

    @endpoint("getMe", scope="shops_r")
    async def get_me(request: Request, caller: Caller) -> Response:
        assert caller.token is not None
        user = state.users[caller.token.user_id]
        return JSONResponse({"user_id": user["user_id"], "shop_id": user["shop_id"]})

    @endpoint("getShop", scope=None)
    async def get_shop(request: Request, caller: Caller) -> Response:
        shop_id = int(request.path_params["shop_id"])
        shop = state.shops.get(shop_id)
        if shop is None:
            raise EtsyError(404, f"Shop {shop_id} does not exist.")
        active = sum(
            1
            for lst in state.listings.values()
            if lst["shop_id"] == shop_id and lst["state"] == "active"
        )
        return JSONResponse(shop | {"listing_active_count": active})

    @endpoint("getSellerTaxonomyNodes", scope=None)
    async def taxonomy_nodes(request: Request, caller: Caller) -> Response:
        roots = [_node(state, n[0]) for n in TAXONOMY if n[1] is None]
        return JSONResponse({"count": len(roots), "results": roots})

    @endpoint("getPropertiesByTaxonomyId", scope=None)
    async def taxonomy_properties(request: Request, caller: Caller) -> Response:
        taxonomy_id = int(request.path_params["taxonomy_id"])
        if taxonomy_id not in {n[0] for n in TAXONOMY}:
            raise EtsyError(404, f"taxonomy_id {taxonomy_id} is not a seller taxonomy node.")
        results: list[dict[str, Any]] = [
            {
                "property_id": pid,
                "name": name,
                "display_name": name,
                "scales": [],
                "is_required": False,
                "supports_attributes": True,
                "supports_variations": True,
                "is_multivalued": False,
                "max_values_allowed": None,
                "possible_values": [
                    {"value_id": _value_id(pid, i), "name": v, "scale_id": None, "equal_to": []}
                    for i, v in enumerate(values)
                ],
                "selected_values": [],
            }
            for pid, name, values in TAXONOMY_PROPERTIES.get(taxonomy_id, ())
        ]
        return JSONResponse({"count": len(results), "results": results})

    @endpoint("getShopShippingProfiles", scope="shops_r")
    async def shipping_profiles(request: Request, caller: Caller) -> Response:
        shop = owned_shop(request, caller)
        results = [
            {k: v for k, v in p.items() if k != "shop_id"}
            for p in state.shipping_profiles.values()
            if p["shop_id"] == shop["shop_id"] and not p["is_deleted"]
        ]
        return JSONResponse({"count": len(results), "results": results})

    @endpoint("createShopShippingProfile", scope="shops_w", mutating=True)
    async def create_shipping_profile(request: Request, caller: Caller) -> Response:
        shop = owned_shop(request, caller)
        form = await _form(request, "createShopShippingProfile")
        title = form.get("title")
        if not isinstance(title, str) or not title.strip():
            raise EtsyError(400, "title is required.")
        origin = form.get("origin_country_iso")
        if not isinstance(origin, str) or len(origin) != 2 or not origin.isalpha():
            raise EtsyError(400, "origin_country_iso is required: an ISO 3166-1 alpha-2 code.")
        for name in ("primary_cost", "secondary_cost"):
            value = _float(form, name, required=True)
            if value is not None and value < 0:
                raise EtsyError(400, f"{name} must be at least 0.")
        profile = state.add_shipping_profile(
            shop["shop_id"], title, origin_country_iso=origin.upper()
        )
        # spec: createShopShippingProfile answers 200 with the ShopShippingProfile.
        return JSONResponse({k: v for k, v in profile.items() if k != "shop_id"})

    @endpoint("getShopReadinessStateDefinitions", scope="shops_r")
    async def readiness_list(request: Request, caller: Caller) -> Response:
        shop = owned_shop(request, caller)
        limit, offset = _page(request)
        found = [r for r in state.readiness.values() if r["shop_id"] == shop["shop_id"]]
        return JSONResponse({"count": len(found), "results": found[offset : offset + limit]})

    @endpoint("createShopReadinessStateDefinition", scope="shops_w", mutating=True)
    async def readiness_create(request: Request, caller: Caller) -> Response:
        shop = owned_shop(request, caller)
        form = await _form(request, "createShopReadinessStateDefinition")
        readiness_state = _enum(form, "readiness_state", READINESS_STATES, required=True)
        low = _int(form, "min_processing_time", required=True, minimum=1)
        high = _int(form, "max_processing_time", required=True, minimum=1)
        assert readiness_state is not None
        assert low is not None
        assert high is not None
        # spec: min/max_processing_time minimum 1, maximum 10.
        if low > 10 or high > 10:
            raise EtsyError(400, "min_processing_time and max_processing_time must be at most 10.")
        if low > high:
            raise EtsyError(400, "min_processing_time must not exceed max_processing_time.")
        made = state.add_readiness_state(shop["shop_id"], readiness_state, low, high)
        return JSONResponse(made, status_code=201)

    # --- listings --------------------------------------------------------------------------

    @endpoint("createDraftListing", scope="listings_w", mutating=True)
    async def create_draft(request: Request, caller: Caller) -> Response:
        shop = owned_shop(request, caller)
        form = await _form(request, "createDraftListing")
        quantity = _int(form, "quantity", required=True)
        assert quantity is not None
        if quantity < 1:
            raise EtsyError(400, "quantity must be a positive non-zero integer.")
        price = _float(form, "price", required=True)
        assert price is not None
        if price <= 0:
            raise EtsyError(400, "price must be a positive non-zero number.")
        listing_type = _enum(form, "type", LISTING_TYPES) or "physical"
        shipping_id = _int(form, "shipping_profile_id", minimum=1)
        readiness_id = _int(form, "readiness_state_id", minimum=1)
        now = int(state.clock())
        listing: dict[str, Any] = {
            "listing_id": 0,
            "user_id": shop["user_id"],
            "shop_id": shop["shop_id"],
            "title": "",
            "description": "",
            "rich_description": None,
            "state": "draft",
            "creation_timestamp": now,
            "created_timestamp": now,
            "ending_timestamp": now + 120 * 86400,
            "original_creation_timestamp": now,
            "last_modified_timestamp": now,
            "updated_timestamp": now,
            "state_timestamp": now,
            "quantity": quantity,
            "shop_section_id": None,
            "featured_rank": -1,
            "url": "",
            "num_favorers": 0,
            "non_taxable": False,
            "is_taxable": True,
            "is_customizable": False,
            "is_personalizable": False,
            "listing_type": listing_type,
            "tags": [],
            "materials": [],
            "shipping_profile_id": shipping_id,
            "return_policy_id": None,
            "processing_min": None,
            "processing_max": None,
            "who_made": "",
            "when_made": "",
            "is_supply": False,
            "item_weight": None,
            "item_weight_unit": None,
            "item_length": None,
            "item_width": None,
            "item_height": None,
            "item_dimensions_unit": None,
            "is_private": False,
            "style": [],
            "file_data": None,
            "has_variations": False,
            "should_auto_renew": False,
            "language": "en-US",
            "price_minor": _minor(price),
            "taxonomy_id": None,
            "readiness_state_id": readiness_id,
            "suggested_title": None,
            "images": [],
            "inventory": {
                "products": [],
                "price_on_property": [],
                "quantity_on_property": [],
                "sku_on_property": [],
                "readiness_state_on_property": [],
            },
        }
        text_fields(form, listing, creating=True)
        if listing_type == "physical":
            # spec: shipping_profile_id "Required when listing type is physical"; research
            # section 3: readiness_state_id (processing profile) needed for physical listings.
            if shipping_id is None:
                raise EtsyError(400, "shipping_profile_id is required for a physical listing.")
            if readiness_id is None:
                raise EtsyError(400, "readiness_state_id is required for a physical listing.")
        check_profiles(shop, shipping_id, readiness_id)
        image_ids = _form_list(form, "image_ids") or []
        if len(image_ids) > MAX_IMAGE_IDS:
            raise EtsyError(400, f"image_ids can include up to {MAX_IMAGE_IDS} images.")
        if image_ids:
            raise EtsyError(
                400,
                "image_ids: the sandbox has no images to assign; "
                "upload them with uploadListingImage.",
            )
        listing_id = 1_500_000_000 + state.next_id()
        listing["listing_id"] = listing_id
        listing["url"] = f"https://www.etsy.com/listing/{listing_id}"
        # One product (no SKU) until the inventory is set, as Etsy shows a new listing.
        product_id = 9_000_000_000 + state.next_id()
        listing["inventory"]["products"] = [
            {
                "product_id": product_id,
                "sku": "",
                "property_values": [],
                "offerings": [
                    {
                        "offering_id": product_id + 1,
                        "quantity": quantity,
                        "is_enabled": True,
                        "price": {"amount": _minor(price)},
                        "readiness_state_id": readiness_id,
                    }
                ],
            }
        ]
        state.listings[listing_id] = listing
        state.created["listing"] += 1
        return JSONResponse(_listing_json(state, listing, owner=True), status_code=201)

    @endpoint("getListing", scope=None)
    async def get_listing(request: Request, caller: Caller) -> Response:
        listing = listing_of(int(request.path_params["listing_id"]))
        includes = set(request.query_params.getlist("includes"))
        return JSONResponse(
            _listing_json(state, listing, owner=is_owner(caller, listing), includes=includes)
        )

    @endpoint("getListingsByShop", scope="listings_r")
    async def listings_by_shop(request: Request, caller: Caller) -> Response:
        shop = owned_shop(request, caller)
        wanted = _enum(request.query_params, "state", LISTING_STATES) or "active"
        _enum(request.query_params, "sort_order", SORT_ORDERS)
        _enum(request.query_params, "sort_on", ("created", "price", "updated", "score"))
        limit, offset = _page(request)
        includes = set(request.query_params.getlist("includes"))
        found = sorted(
            (
                lst
                for lst in state.listings.values()
                if lst["shop_id"] == shop["shop_id"] and lst["state"] == wanted
            ),
            key=lambda lst: (-lst["created_timestamp"], -lst["listing_id"]),
        )
        return JSONResponse(
            {
                "count": len(found),
                "results": [
                    _listing_json(state, lst, owner=True, includes=includes)
                    for lst in found[offset : offset + limit]
                ],
            }
        )

    @endpoint("updateListing", scope="listings_w", mutating=True)
    async def update_listing(request: Request, caller: Caller) -> Response:
        shop = owned_shop(request, caller)
        listing = listing_of(int(request.path_params["listing_id"]), shop)
        form = await _form(request, "updateListing")
        changed = dict(listing)
        text_fields(form, changed, creating=False)
        shipping_id = _int(form, "shipping_profile_id", minimum=1)
        if shipping_id is not None:
            check_profiles(shop, shipping_id, None)
            changed["shipping_profile_id"] = shipping_id
        new_state = _enum(form, "state", ("active", "inactive"))
        if new_state == "active":
            if not listing["images"]:
                # spec, state: "Setting a draft listing to active ... requires that the listing
                # have an image set".
                raise EtsyError(
                    400, "state: a listing needs at least one image before it can be active."
                )
            if changed["listing_type"] == "physical" and changed["shipping_profile_id"] is None:
                raise EtsyError(
                    400,
                    "state: a physical listing needs a shipping_profile_id "
                    "before it can be active.",
                )
        if new_state is not None and new_state != listing["state"]:
            changed["state"] = new_state
            changed["state_timestamp"] = int(state.clock())
        changed["last_modified_timestamp"] = changed["updated_timestamp"] = int(state.clock())
        listing.update(changed)
        return JSONResponse(_listing_json(state, listing, owner=True))

    @endpoint("deleteListing", scope="listings_d", mutating=True)
    async def delete_listing(request: Request, caller: Caller) -> Response:
        listing = owned_listing(request, caller)
        del state.listings[listing["listing_id"]]
        state.created["listing_deleted"] += 1
        return Response(status_code=204)

    @endpoint("getListingImages", scope=None)
    async def listing_images(request: Request, caller: Caller) -> Response:
        listing = listing_of(int(request.path_params["listing_id"]))
        results = [_image_json(state, listing["listing_id"], i) for i in listing["images"]]
        return JSONResponse({"count": len(results), "results": results})

    @endpoint("uploadListingImage", scope="listings_w", mutating=True)
    async def upload_image(request: Request, caller: Caller) -> Response:
        shop = owned_shop(request, caller)
        listing = listing_of(int(request.path_params["listing_id"]), shop)
        if _media(request) != "multipart/form-data":
            raise EtsyError(
                400,
                "uploadListingImage takes a multipart/form-data body "
                f"(got {_media(request) or 'none'}).",
            )
        form = await request.form()
        image = form.get("image")
        if not isinstance(image, UploadFile):
            raise EtsyError(400, "image is required: the image file as a multipart file part.")
        content = await image.read()
        if not content:
            raise EtsyError(400, "image: the uploaded file is empty.")
        alt_text = form.get("alt_text")
        alt = alt_text if isinstance(alt_text, str) else ""
        if len(alt) > MAX_ALT_TEXT:
            raise EtsyError(400, f"alt_text is limited to {MAX_ALT_TEXT} characters.")
        rank = _int(form, "rank", minimum=1)
        overwrite = bool(_bool(form, "overwrite"))
        images: list[dict[str, Any]] = listing["images"]
        replacing = overwrite and rank is not None and any(i["rank"] == rank for i in images)
        if not replacing and len(images) >= MAX_IMAGES:
            raise EtsyError(400, f"image: a listing can have at most {MAX_IMAGES} images.")
        image_id = 6_000_000_000 + state.next_id()
        entry = {
            "listing_image_id": image_id,
            "rank": 0,
            "alt_text": alt,
            "created": int(state.clock()),
        }
        state.images[image_id] = content
        if replacing:
            index = next(n for n, i in enumerate(images) if i["rank"] == rank)
            images[index] = entry
        else:
            position = len(images) if rank is None else min(rank - 1, len(images))
            images.insert(position, entry)
        for n, item in enumerate(images, start=1):
            item["rank"] = n
        state.created["image"] += 1
        return JSONResponse(_image_json(state, listing["listing_id"], entry), status_code=201)

    @endpoint("getListingInventory", scope="listings_r")
    async def get_inventory(request: Request, caller: Caller) -> Response:
        listing = owned_listing(request, caller)
        return JSONResponse(_inventory_json(state, listing))

    @endpoint("updateListingInventory", scope="listings_w", mutating=True)
    async def update_inventory(request: Request, caller: Caller) -> Response:
        listing = owned_listing(request, caller)
        body = await _json(request, "updateListingInventory")
        shop = state.shops[listing["shop_id"]]
        inventory = _validate_inventory(body, shop, listing)
        products: list[dict[str, Any]] = []
        for product in inventory["products"]:
            product_id = 9_000_000_000 + state.next_id()
            offerings = [
                {
                    "offering_id": product_id + 1 + n,
                    "quantity": o["quantity"],
                    "is_enabled": o["is_enabled"],
                    "price": {"amount": _minor(o["price"])},
                    "readiness_state_id": o.get("readiness_state_id"),
                }
                for n, o in enumerate(product["offerings"])
            ]
            products.append(
                {
                    "product_id": product_id,
                    "sku": product.get("sku") or "",
                    "property_values": [
                        {
                            "property_id": v["property_id"],
                            "property_name": v.get("property_name"),
                            "scale_id": v.get("scale_id"),
                            "scale_name": None,
                            "value_ids": v["value_ids"],
                            "values": v["values"],
                        }
                        for v in product.get("property_values") or []
                    ],
                    "offerings": offerings,
                }
            )
        listing["inventory"] = {
            "products": products,
            "price_on_property": inventory.get("price_on_property") or [],
            "quantity_on_property": inventory.get("quantity_on_property") or [],
            "sku_on_property": inventory.get("sku_on_property") or [],
            "readiness_state_on_property": inventory.get("readiness_state_on_property") or [],
        }
        offerings_all = [o for p in products for o in p["offerings"] if o["is_enabled"]]
        listing["quantity"] = sum(o["quantity"] for o in offerings_all)
        if offerings_all:
            listing["price_minor"] = min(o["price"]["amount"] for o in offerings_all)
        listing["has_variations"] = any(p["property_values"] for p in products)
        listing["last_modified_timestamp"] = listing["updated_timestamp"] = int(state.clock())
        return JSONResponse(_inventory_json(state, listing))

    def _validate_inventory(
        body: Any, shop: dict[str, Any], listing: dict[str, Any]
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise EtsyError(400, "The body must be a JSON object with products.")
        products = body.get("products")
        if not isinstance(products, list) or not products:
            raise EtsyError(400, "products is required: a non-empty array.")
        combos: set[tuple[Any, ...]] = set()
        skus: set[str] = set()
        used_properties: set[int] = set()
        for n, product in enumerate(products):
            where = f"products[{n}]"
            if not isinstance(product, dict):
                raise EtsyError(400, f"{where} must be an object.")
            sku = product.get("sku")
            if sku is not None and not isinstance(sku, str):
                raise EtsyError(400, f"{where}.sku must be a string.")
            if sku:
                if sku in skus:
                    raise EtsyError(400, f"{where}.sku {sku!r} is used by two products.")
                skus.add(sku)
            values = product.get("property_values") or []
            if not isinstance(values, list):
                raise EtsyError(400, f"{where}.property_values must be an array.")
            combo = []
            for m, value in enumerate(values):
                at = f"{where}.property_values[{m}]"
                if not isinstance(value, dict):
                    raise EtsyError(400, f"{at} must be an object.")
                for key in ("property_id", "value_ids", "values"):  # spec: required
                    if key not in value:
                        raise EtsyError(400, f"{at}.{key} is required.")
                if not isinstance(value["property_id"], int) or value["property_id"] < 1:
                    raise EtsyError(400, f"{at}.property_id must be a positive integer.")
                if not isinstance(value["values"], list) or not all(
                    isinstance(v, str) for v in value["values"]
                ):
                    raise EtsyError(400, f"{at}.values must be an array of strings.")
                if not isinstance(value["value_ids"], list) or not all(
                    isinstance(v, int) for v in value["value_ids"]
                ):
                    raise EtsyError(400, f"{at}.value_ids must be an array of integers.")
                if any(c in v for v in value["values"] for c in "()"):
                    # spec: "parenthesis characters (( and )) are not allowed".
                    raise EtsyError(400, f"{at}.values: parenthesis characters are not allowed.")
                used_properties.add(value["property_id"])
                combo.append((value["property_id"], tuple(value["values"])))
            combo_key = tuple(sorted(combo))
            if combo_key in combos:
                raise EtsyError(
                    400,
                    f"{where}.property_values repeat another product's; "
                    "each product needs its own.",
                )
            combos.add(combo_key)
            offerings = product.get("offerings")
            if not isinstance(offerings, list) or not offerings:
                raise EtsyError(400, f"{where}.offerings is required: a non-empty array.")
            for m, offering in enumerate(offerings):
                at = f"{where}.offerings[{m}]"
                if not isinstance(offering, dict):
                    raise EtsyError(400, f"{at} must be an object.")
                for key_name in (
                    "price",
                    "quantity",
                    "is_enabled",
                    "readiness_state_id",
                ):  # spec: required
                    if key_name not in offering:
                        raise EtsyError(400, f"{at}.{key_name} is required.")
                price = offering["price"]
                if isinstance(price, bool) or not isinstance(price, int | float) or price <= 0:
                    raise EtsyError(
                        400, f"{at}.price must be a positive number (amount / divisor)."
                    )
                quantity = offering["quantity"]
                if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
                    raise EtsyError(400, f"{at}.quantity must be a non-negative integer.")
                if not isinstance(offering["is_enabled"], bool):
                    raise EtsyError(400, f"{at}.is_enabled must be a boolean.")
                ready = offering["readiness_state_id"]
                if ready is not None:
                    if not isinstance(ready, int):
                        raise EtsyError(400, f"{at}.readiness_state_id must be an integer or null.")
                    check_profiles(shop, None, ready)
        for name in (
            "price_on_property",
            "quantity_on_property",
            "sku_on_property",
            "readiness_state_on_property",
        ):
            ids = body.get(name) or []
            if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
                raise EtsyError(400, f"{name} must be an array of property ids.")
            stray = sorted(set(ids) - used_properties)
            if stray:
                raise EtsyError(400, f"{name} names property {stray[0]}, which no product has.")
        # spec: "The update fails if the supplied values for product sku, offering quantity,
        # price ... are incompatible with values in *_on_property fields": a value that differs
        # between products needs the property it varies on.
        if len(products) > 1:
            checks = (
                ("price_on_property", lambda p: p["offerings"][0]["price"]),
                ("quantity_on_property", lambda p: p["offerings"][0]["quantity"]),
                ("sku_on_property", lambda p: p.get("sku") or ""),
            )
            for name, pick in checks:
                if len({pick(p) for p in products}) > 1 and not body.get(name):
                    raise EtsyError(
                        400, f"{name} is required when products differ in {name.split('_')[0]}."
                    )
        return body

    # --- receipts --------------------------------------------------------------------------

    @endpoint("getShopReceipts", scope="transactions_r")
    async def receipts(request: Request, caller: Caller) -> Response:
        shop = owned_shop(request, caller)
        query = request.query_params
        limit, offset = _page(request)
        bounds = {}
        for name in ("min_created", "max_created", "min_last_modified", "max_last_modified"):
            # spec: minimum 946684800 (2000-01-01).
            bounds[name] = _int(query, name, minimum=946_684_800)
        sort_on = _enum(query, "sort_on", ("created", "updated", "receipt_id")) or "created"
        order = _enum(query, "sort_order", SORT_ORDERS) or "desc"
        flags = {
            name: _bool(query, name)
            for name in ("was_paid", "was_shipped", "was_delivered", "was_canceled")
        }
        found = []
        for receipt in state.receipts.values():
            if receipt["seller_user_id"] != shop["user_id"]:
                continue
            created, updated = receipt["created_timestamp"], receipt["updated_timestamp"]
            if bounds["min_created"] is not None and created < bounds["min_created"]:
                continue
            if bounds["max_created"] is not None and created > bounds["max_created"]:
                continue
            if bounds["min_last_modified"] is not None and updated < bounds["min_last_modified"]:
                continue
            if bounds["max_last_modified"] is not None and updated > bounds["max_last_modified"]:
                continue
            if flags["was_paid"] is not None and receipt["is_paid"] != flags["was_paid"]:
                continue
            if flags["was_shipped"] is not None and receipt["is_shipped"] != flags["was_shipped"]:
                continue
            if (
                flags["was_canceled"] is not None
                and (receipt["status"] == "canceled") != flags["was_canceled"]
            ):
                continue
            found.append(receipt)
        field_name = {
            "created": "created_timestamp",
            "updated": "updated_timestamp",
            "receipt_id": "receipt_id",
        }[sort_on]
        found.sort(
            key=lambda r: (r[field_name], r["receipt_id"]),
            reverse=order in ("desc", "descending", "down"),
        )
        return JSONResponse({"count": len(found), "results": found[offset : offset + limit]})

    @endpoint("getShopReceipt", scope="transactions_r")
    async def receipt(request: Request, caller: Caller) -> Response:
        shop = owned_shop(request, caller)
        receipt_id = int(request.path_params["receipt_id"])
        found = state.receipts.get(receipt_id)
        if found is None or found["seller_user_id"] != shop["user_id"]:
            raise EtsyError(404, f"Receipt {receipt_id} does not exist in this shop.")
        return JSONResponse(found)

    @endpoint("sandboxRegisterWebhook", scope="shops_r", mutating=True)
    async def register_webhook(request: Request, caller: Caller) -> Response:
        """Sandbox only (Etsy has no such endpoint: its webhooks are set in the developer
        portal): deliver this shop's events to `url`."""
        assert caller.token is not None
        form = await _form(request, "sandboxRegisterWebhook")
        url = form.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise EtsyError(400, "url is required: an http(s) URL.")
        shop_id = state.shop_of(caller.token.user_id)
        state.webhook_urls[shop_id] = url
        return JSONResponse({"shop_id": shop_id, "url": url}, status_code=201)

    async def unknown(request: Request) -> Response:
        return error(404, f"No such endpoint: {request.method} {request.url.path}")

    shop = f"{API}/shops/{{shop_id:int}}"
    listing = f"{API}/listings/{{listing_id:int}}"
    app = Starlette(
        routes=[
            Route(CONNECT_PATH, connect, methods=["GET", "POST"]),
            Route(TOKEN_PATH, token, methods=["POST"]),
            Route(f"{API}/openapi-ping", ping, methods=["GET"]),
            Route(SANDBOX_WEBHOOKS_PATH, register_webhook, methods=["POST"]),
            Route(f"{API}/users/me", get_me, methods=["GET"]),
            Route(f"{API}/seller-taxonomy/nodes", taxonomy_nodes, methods=["GET"]),
            Route(
                f"{API}/seller-taxonomy/nodes/{{taxonomy_id:int}}/properties",
                taxonomy_properties,
                methods=["GET"],
            ),
            Route(shop, get_shop, methods=["GET"]),
            Route(f"{shop}/shipping-profiles", shipping_profiles, methods=["GET"]),
            Route(f"{shop}/shipping-profiles", create_shipping_profile, methods=["POST"]),
            Route(f"{shop}/readiness-state-definitions", readiness_list, methods=["GET"]),
            Route(f"{shop}/readiness-state-definitions", readiness_create, methods=["POST"]),
            Route(f"{shop}/listings", listings_by_shop, methods=["GET"]),
            Route(f"{shop}/listings", create_draft, methods=["POST"]),
            Route(f"{shop}/listings/{{listing_id:int}}", update_listing, methods=["PATCH"]),
            Route(f"{shop}/listings/{{listing_id:int}}/images", upload_image, methods=["POST"]),
            Route(f"{shop}/receipts", receipts, methods=["GET"]),
            Route(f"{shop}/receipts/{{receipt_id:int}}", receipt, methods=["GET"]),
            Route(listing, get_listing, methods=["GET"]),
            Route(listing, delete_listing, methods=["DELETE"]),
            Route(f"{listing}/images", listing_images, methods=["GET"]),
            Route(f"{listing}/inventory", get_inventory, methods=["GET"]),
            Route(f"{listing}/inventory", update_inventory, methods=["PUT"]),
            Route("/{path:path}", unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]
    )
    app.state.sandbox = state
    return app


def _html(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def parse_query(url: str) -> dict[str, str]:
    """The query parameters of a redirect URL (for tests and the demo)."""
    return dict(parse_qsl(url.partition("?")[2]))

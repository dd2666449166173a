"""Printify sandbox twin: the Printify Public API v1 as the printify connector speaks it.

Everything here follows `../shared/research/platform-apis.md` section 1 (Printify) and the
sources cited beside each fact; what no source confirms is marked UNVERIFIED and is the twin's
own choice, kept consistent so clients can rely on it in tests only.

    GET  /v1/shops.json
    GET  /v1/catalog/blueprints.json, /v1/catalog/blueprints/{id}.json,
         /v1/catalog/blueprints/{bp}/print_providers.json,
         /v1/catalog/blueprints/{bp}/print_providers/{pp}/variants.json, .../shipping.json
    POST /v1/uploads/images.json                    {file_name, url} | {file_name, contents}
    GET|POST /v1/shops/{shop}/products.json         (paged ?page=&limit=)
    GET|PUT|DELETE /v1/shops/{shop}/products/{id}.json
    POST /v1/shops/{shop}/products/{id}/publish.json | publishing_succeeded.json |
         publishing_failed.json | unpublish.json
    GET  /v1/shops/{shop}/orders.json (paged), /v1/shops/{shop}/orders/{id}.json
    GET|POST /v1/shops/{shop}/webhooks.json, PUT|DELETE /v1/shops/{shop}/webhooks/{id}.json

Modelled:

- `Authorization: Bearer <token>`; a missing or unknown token -> 401 (research section 1).
- The publish handshake (research section 1 and 11.2): `publish.json` locks the product
  (`is_locked: true`) and emits `product:publish:started` to the shop's webhooks;
  `publishing_succeeded.json {"external": {"id", "handle"}}` sets `external` and unlocks;
  `publishing_failed.json {"reason"}` unlocks. UNVERIFIED: what Printify answers to a second
  publish, an update or a delete while the product is locked; the twin answers 400 with the
  reason "Product is locked ..." (the connector retries those later).
- Rate limits (developers.printify.com, API Usage Guidelines): 600 requests per minute per
  account, catalog endpoints 100 per minute (in addition), the publishing endpoint 200 per
  30 minutes. Sliding windows, each divided by `time_scale`. Over -> 429. Printify documents
  no rate-limit headers (research section 1): the `Retry-After` header (whole seconds until a
  request ages out of the window) is the twin's choice.
- Pagination (developers.printify.com "API pagination", as copied in
  Mainostoimisto-Seven-1/printify-nodejs src/types/paginated-response.ts and
  kore4lyf/printify-api-test docs/PRINTIFY_DOC.md): `{current_page, data, first_page_url,
  prev_page_url, next_page_url, last_page_url, last_page, total, per_page, from, to}`.
  UNVERIFIED: the largest `limit` (the twin takes 50 for products, 10 for orders) and the URL
  format of the `*_url` fields.
- Webhooks: topics as listed by printify-nodejs src/types/events.ts and kore4lyf's docs copy;
  the body `{id, type, created_at, resource: {id, type, data}}` (developers.printify.com event
  example); signature `X-Pfy-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>` when the
  subscription has a secret (research section 1 and 11.1). Printify signs no timestamp.
  UNVERIFIED: `secret` on PUT (the twin accepts it), the retry policy (the twin keeps a failed
  delivery in the outbox).
- Errors: UNVERIFIED. Printify's error body is not documented in any source read; the twin
  always answers `{"status": "error", "code": <HTTP status>, "message": ..., "errors":
  {"reason": ..., "code": <HTTP status>}}` (the shape the research notes as "seen in practice,
  unconfirmed"), with `reason` naming the field at fault. Clients must go by the status code.
- Variant SKUs: Printify generates a numeric SKU per variant (developers.printify.com product
  example: `"sku": "866375988"`). Whether the create call accepts a `sku` of the caller's is
  UNVERIFIED (help.printify.com "How can I set my own custom SKU numbers" says custom SKUs are
  a feature Printify enables per account); the twin keeps a given `sku`, else generates one.

Catalog data comes from `sandbox/data/printify_catalog.json`: fictional, labelled as such.

Faults and counters live on `app.state.sandbox` (a `PrintifySandbox`):

    faults.error_rate = 0.2          # each request: 20 % chance of a 500 (RNG seeded by `seed`)
    faults.rate_limit = 2            # next 2 requests: 429
    faults.latency = 0.05            # every request waits 50 ms first
    faults.hang = 1                  # next request never answers
    faults.commit_then_timeout = 1   # next mutating request: done, then never answered
    faults.drop_connection = 1       # next request: done, then the connection closes
    faults.target = "products.create"  # the one-shot faults above hit only that operation
    requests["products.create"], errors["429"], created["product"], duplicates(),
    max_rate_seen["publish"], outbox, await flush_webhooks()

"Never answers": in-process (httpx.ASGITransport, which applies no timeouts) the twin waits
`faults.hang_seconds` and then raises `httpx.ReadTimeout`, what a client with that read timeout
would see; a dropped connection raises `httpx.RemoteProtocolError` ("Server disconnected
without sending a response."), which ASGITransport passes to the caller as a transport error.
Served by uvicorn, both end as uvicorn's own 500 (an ASGI app cannot close the socket itself).
"""

import asyncio
import base64
import binascii
import hashlib
import hmac
import io
import json
import math
import random
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any, TypeVar

import httpx
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

# developers.printify.com, API Usage Guidelines: "600 requests per minute" (global, per
# account); "All Catalog API endpoints have a separate rate limit of 100 requests per minute
# per integration (per account, not per access token)"; "The product publishing endpoint has a
# limit of 200 requests per 30 minutes".
LIMITS: tuple[tuple[str, int, float, str | None], ...] = (
    ("requests", 600, 60.0, None),
    ("catalog", 100, 60.0, "catalog"),
    ("publish", 200, 1800.0, "publish"),
)

# printify-nodejs src/types/events.ts and kore4lyf/printify-api-test docs/PRINTIFY_DOC.md.
TOPICS = frozenset(
    {
        "shop:disconnected",
        "product:deleted",
        "product:publish:started",
        "order:created",
        "order:updated",
        "order:sent-to-production",
        "order:shipment:created",
        "order:shipment:delivered",
    }
)

# UNVERIFIED page-size maxima (see the module docstring).
PRODUCTS_MAX_LIMIT = 50
ORDERS_MAX_LIMIT = 10
SIGNATURE_HEADER = "X-Pfy-Signature"
# A host under the reserved .invalid TLD: the twin's preview/mockup URLs lead nowhere.
ASSET_HOST = "https://sandbox-printify.invalid"

Deliver = Callable[[str, dict[str, str], bytes], Awaitable[Any]]


def load_catalog() -> dict[str, Any]:
    """The fictional sandbox catalog shipped with the twin."""
    text = resources.files("flashfusion.sandbox").joinpath("data/printify_catalog.json")
    catalog: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return catalog


def printify_time(moment: datetime) -> str:
    """Printify's timestamp format (developers.printify.com: `2019-07-25 13:40:41+00:00`)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00:00")


@dataclass
class PrintifyFaults:
    error_rate: float = 0.0
    rate_limit: int = 0
    retry_after: int = 30
    latency: float = 0.0
    hang: int = 0
    hang_seconds: float = 3600.0
    commit_then_timeout: int = 0
    drop_connection: int = 0
    # When set, the one-shot faults (hang, rate_limit, commit_then_timeout, drop_connection)
    # fire only on requests of this operation ("products.create", "products.publish", ...).
    target: str | None = None

    def take(self, name: str, operation: str | None = None) -> bool:
        if self.target is not None and operation != self.target:
            return False
        left = getattr(self, name)
        if left > 0:
            setattr(self, name, left - 1)
            return True
        return False


@dataclass
class Delivery:
    """One webhook delivery waiting in the outbox."""

    url: str
    headers: dict[str, str]
    body: bytes
    topic: str
    event_id: str


class TwinError(Exception):
    """A request the twin refuses: becomes a Printify-shaped error answer."""

    def __init__(self, status: int, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason or message


def _validation(reason: str) -> TwinError:
    return TwinError(400, "Validation failed.", reason)


def _reason(error: ValidationError) -> str:
    """The first problem of a Pydantic error as `field.path: message`."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


# --- request bodies --------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class UploadBody(_Body):
    file_name: str = Field(min_length=1)
    url: str | None = None
    contents: str | None = None


class ImagePlacement(_Body):
    id: str = Field(min_length=1)
    x: float = 0.5
    y: float = 0.5
    scale: float = 1.0
    angle: int = 0


class Placeholder(_Body):
    position: str = Field(min_length=1)
    images: list[ImagePlacement] = Field(min_length=1)


class PrintArea(_Body):
    variant_ids: list[int] = Field(min_length=1)
    placeholders: list[Placeholder] = Field(min_length=1)
    background: str | None = None


class VariantIn(_Body):
    id: int
    price: int = Field(ge=0)
    is_enabled: bool = True
    sku: str | None = Field(default=None, min_length=1)


class ProductCreate(_Body):
    title: str = Field(min_length=1)
    description: str
    blueprint_id: int
    print_provider_id: int
    variants: list[VariantIn] = Field(min_length=1)
    print_areas: list[PrintArea] = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)


class ProductUpdate(_Body):
    title: str | None = Field(default=None, min_length=1)
    description: str | None = None
    tags: list[str] | None = None
    variants: list[VariantIn] | None = None
    print_areas: list[PrintArea] | None = None


class External(_Body):
    id: str = Field(min_length=1)
    handle: str = Field(min_length=1)


class PublishingSucceeded(_Body):
    external: External


class PublishingFailed(_Body):
    reason: str = Field(min_length=1)


class WebhookCreate(_Body):
    topic: str
    url: str = Field(min_length=1)
    secret: str | None = None


class WebhookUpdate(_Body):
    url: str | None = Field(default=None, min_length=1)
    secret: str | None = None


# --- state -----------------------------------------------------------------------------------


@dataclass
class PrintifySandbox:
    tokens: set[str]
    time_scale: float = 1.0
    deliver: Deliver | None = None
    seed: int = 0
    fetch: Callable[[str], Awaitable[bytes]] | None = None
    shops: dict[int, dict[str, Any]] = field(default_factory=dict)
    catalog: dict[str, Any] = field(default_factory=load_catalog)
    products: dict[int, dict[str, dict[str, Any]]] = field(default_factory=dict)
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: dict[int, dict[str, dict[str, Any]]] = field(default_factory=dict)
    webhooks: dict[int, dict[str, dict[str, Any]]] = field(default_factory=dict)
    faults: PrintifyFaults = field(default_factory=PrintifyFaults)
    requests: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    created: Counter[str] = field(default_factory=Counter)
    max_rate_seen: Counter[str] = field(default_factory=Counter)
    outbox: list[Delivery] = field(default_factory=list)
    delivered: list[Delivery] = field(default_factory=list)
    delivery_failures: int = 0
    clock: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    _seen: dict[str, deque[float]] = field(default_factory=dict)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _flush_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        if self.time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.rng = random.Random(self.seed)
        self._ids = random.Random(f"printify-ids-{self.seed}")
        for shop_id in self.shops:
            self.products.setdefault(shop_id, {})
            self.orders.setdefault(shop_id, {})
            self.webhooks.setdefault(shop_id, {})

    # ids and time ---------------------------------------------------------------------------

    def new_id(self) -> str:
        """A 24-hex id like Printify's product/upload/order ids."""
        return f"{self._ids.getrandbits(96):024x}"

    def new_sku(self) -> str:
        return str(self._ids.randrange(100_000_000, 999_999_999))

    def timestamp(self) -> str:
        return printify_time(self.now())

    # rate limits ----------------------------------------------------------------------------

    def admit(self, kind: str | None) -> tuple[str, int] | None:
        """Count a request of `kind` ("catalog", "publish" or None) in every window it falls
        in; the (limit name, Retry-After seconds) of the first window it would exceed."""
        now = self.clock()
        windows = [
            (name, limit, period / self.time_scale)
            for name, limit, period, applies in LIMITS
            if applies is None or applies == kind
        ]
        for name, limit, period in windows:
            seen = self._seen.setdefault(name, deque())
            while seen and now - seen[0] >= period:
                seen.popleft()
            if len(seen) >= limit:
                return name, max(1, math.ceil(period - (now - seen[0])))
        for name, _, _ in windows:
            seen = self._seen[name]
            seen.append(now)
            self.max_rate_seen[name] = max(self.max_rate_seen[name], len(seen))
        return None

    # catalog --------------------------------------------------------------------------------

    def blueprint(self, blueprint_id: int) -> dict[str, Any] | None:
        return next((b for b in self.catalog["blueprints"] if b["id"] == blueprint_id), None)

    def providers(self, blueprint_id: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.catalog["providers"].get(str(blueprint_id), [])
        return found

    def provider(self, blueprint_id: int, provider_id: int) -> dict[str, Any] | None:
        return next((p for p in self.providers(blueprint_id) if p["id"] == provider_id), None)

    # products -------------------------------------------------------------------------------

    def shop_products(self, shop_id: int) -> dict[str, dict[str, Any]]:
        return self.products[shop_id]

    def duplicate_groups(self) -> list[list[str]]:
        """Groups of product ids that are the same listing: one SKU set, or one title with
        one `external.id`."""
        groups: dict[tuple[Any, ...], list[str]] = {}
        for shop_id, products in self.products.items():
            for product in products.values():
                skus = frozenset(v["sku"] for v in product["variants"] if v.get("sku"))
                if skus:
                    groups.setdefault(("skus", shop_id, skus), []).append(product["id"])
                external = product.get("external")
                if external:
                    key = ("external", shop_id, product["title"], external["id"])
                    groups.setdefault(key, []).append(product["id"])
        # Merge groups sharing a product so one duplicate is counted once.
        merged: list[set[str]] = []
        for ids in groups.values():
            if len(ids) < 2:
                continue
            group = set(ids)
            for other in [m for m in merged if m & group]:
                group |= other
                merged.remove(other)
            merged.append(group)
        return [sorted(group) for group in merged]

    def duplicates(self) -> int:
        """How many products are extra copies of another one (0: no duplicate listing)."""
        return sum(len(group) - 1 for group in self.duplicate_groups())

    # orders ---------------------------------------------------------------------------------

    def _find_variant(
        self, shop_id: int, item: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        products = self.products.get(shop_id, {})
        if "sku" in item:
            for product in products.values():
                for variant in product["variants"]:
                    if variant.get("sku") == item["sku"]:
                        return product, variant
            raise ValueError(f"no product variant with SKU {item['sku']!r} in shop {shop_id}")
        found = products.get(str(item.get("product_id")))
        if found is None:
            raise ValueError(f"no product {item.get('product_id')!r} in shop {shop_id}")
        product = found
        variant = next((v for v in product["variants"] if v["id"] == item.get("variant_id")), None)
        if variant is None:
            raise ValueError(f"product {product['id']} has no variant {item.get('variant_id')!r}")
        return product, variant

    def create_order(
        self,
        shop_id: int,
        *,
        line_items: list[dict[str, Any]],
        address_to: dict[str, Any] | None = None,
        status: str = "on-hold",
        external_id: str | None = None,
        shipping_method: int = 1,
    ) -> dict[str, Any]:
        """Place an order as if a customer bought on the shop's channel (test/demo helper);
        emits `order:created`. Line items: `{sku, quantity}` or `{product_id, variant_id,
        quantity}`."""
        if shop_id not in self.shops:
            raise ValueError(f"unknown shop {shop_id}")
        if not line_items:
            raise ValueError("an order needs at least one line item")
        address = address_to or {
            "first_name": "Sandy",
            "last_name": "Box",
            "email": "sandy.box@example.com",
            "phone": "",
            "country": "US",
            "region": "NY",
            "address1": "1 Sandbox Street",
            "city": "New York",
            "zip": "10001",
        }
        items = []
        total_price = 0
        for item in line_items:
            product, variant = self._find_variant(shop_id, item)
            quantity = int(item.get("quantity", 1))
            if quantity < 1:
                raise ValueError("quantity must be at least 1")
            total_price += variant["price"] * quantity
            items.append(
                {
                    "product_id": product["id"],
                    "variant_id": variant["id"],
                    "quantity": quantity,
                    "print_provider_id": product["print_provider_id"],
                    "status": "pending",
                    "metadata": {
                        "title": product["title"],
                        "price": variant["price"],
                        "variant_label": variant["title"],
                        "sku": variant.get("sku"),
                        "country": address.get("country"),
                    },
                }
            )
        shipping = self.catalog["shipping"]
        total_items = sum(i["quantity"] for i in items)
        total_shipping = shipping["first_item"]["cost"] + shipping["additional_items"]["cost"] * (
            total_items - 1
        )
        order = {
            "id": self.new_id(),
            "address_to": address,
            "line_items": items,
            "metadata": {
                "order_type": "external",
                "shop_order_id": self._ids.randrange(10**6, 10**7),
            },
            "total_price": total_price,
            "total_shipping": total_shipping,
            "total_tax": 0,
            "status": status,
            "shipping_method": shipping_method,
            "shipments": [],
            "created_at": self.timestamp(),
        }
        if external_id is not None:
            order["external_id"] = external_id
        self.orders.setdefault(shop_id, {})[order["id"]] = order
        self.created["order"] += 1
        self.emit(
            shop_id, "order:created", order["id"], "order", {"shop_id": shop_id, "status": status}
        )
        return order

    def update_order(
        self,
        shop_id: int,
        order_id: str,
        *,
        status: str | None = None,
        shipment: dict[str, Any] | None = None,
        delivered: bool = False,
    ) -> dict[str, Any]:
        """Move an order on (test/demo helper): emits `order:updated`, plus
        `order:shipment:created` for a new `shipment` ({carrier, number, url})."""
        order = self.orders.get(shop_id, {}).get(order_id)
        if order is None:
            raise ValueError(f"no order {order_id!r} in shop {shop_id}")
        stamp = self.timestamp()
        if status is not None:
            order["status"] = status
            if status == "in-production":
                order["sent_to_production_at"] = stamp
            if status == "fulfilled":
                order["fulfilled_at"] = stamp
        if shipment is not None:
            order["shipments"].append(dict(shipment))
        if delivered:
            for entry in order["shipments"]:
                entry.setdefault("delivered_at", stamp)
        self.emit(
            shop_id,
            "order:updated",
            order_id,
            "order",
            {"shop_id": shop_id, "status": order["status"]},
        )
        if shipment is not None:
            skus = [i["metadata"]["sku"] for i in order["line_items"]]
            data = {
                "shop_id": shop_id,
                "shipped_at": stamp,
                "carrier": {
                    "code": shipment.get("carrier", ""),
                    "tracking_number": shipment.get("number", ""),
                },
                "skus": skus,
            }
            self.emit(shop_id, "order:shipment:created", order_id, "order", data)
        return order

    # webhooks -------------------------------------------------------------------------------

    def emit(
        self, shop_id: int, topic: str, resource_id: str | int, resource_type: str, data: Any
    ) -> list[Delivery]:
        """Queue `topic` for every subscription of the shop; signed when it has a secret."""
        queued = []
        for hook in self.webhooks.get(shop_id, {}).values():
            if hook["topic"] != topic:
                continue
            event_id = self.new_id()
            event = {
                "id": event_id,
                "type": topic,
                "created_at": self.timestamp(),
                "resource": {"id": resource_id, "type": resource_type, "data": data},
            }
            body = json.dumps(event, separators=(",", ":")).encode()
            headers = {"Content-Type": "application/json"}
            if hook.get("secret"):
                digest = hmac.new(hook["secret"].encode(), body, hashlib.sha256).hexdigest()
                headers[SIGNATURE_HEADER] = f"sha256={digest}"
            delivery = Delivery(hook["url"], headers, body, topic, event_id)
            self.outbox.append(delivery)
            queued.append(delivery)
        if queued and self.deliver is not None:
            self._schedule_flush()
        return queued

    def _schedule_flush(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a sync test helper call): flush_webhooks() delivers later
        task = loop.create_task(self.flush_webhooks())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush_webhooks(self) -> int:
        """Deliver the outbox now through `deliver`; how many were delivered. A delivery whose
        `deliver` call raises stays in the outbox (counted in `delivery_failures`)."""
        if self.deliver is None:
            return 0
        sent = 0
        async with self._flush_lock:
            pending, self.outbox = self.outbox, []
            kept = []
            for delivery in pending:
                try:
                    await self.deliver(delivery.url, dict(delivery.headers), delivery.body)
                except Exception:  # noqa: BLE001 - any failure keeps it for the next flush
                    self.delivery_failures += 1
                    kept.append(delivery)
                    continue
                self.delivered.append(delivery)
                sent += 1
            self.outbox = kept + self.outbox
        return sent


# --- HTTP plumbing ---------------------------------------------------------------------------


def _error(
    state: PrintifySandbox, error: TwinError, headers: dict[str, str] | None = None
) -> Response:
    state.errors[str(error.status)] += 1
    body = {
        "status": "error",
        "code": error.status,
        "message": error.message,
        "errors": {"reason": error.reason, "code": error.status},
    }
    return JSONResponse(body, status_code=error.status, headers=headers)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise _validation("body: a JSON body is required")
    try:
        return json.loads(raw)
    except ValueError as e:
        raise _validation("body: not valid JSON") from e


M = TypeVar("M", bound=BaseModel)


async def _parse(request: Request, model: type[M]) -> M:
    data = await _json_body(request)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise _validation(_reason(e)) from e


def _paginate(request: Request, items: list[dict[str, Any]], *, max_limit: int) -> dict[str, Any]:
    try:
        page = int(request.query_params.get("page", "1"))
        limit = int(request.query_params.get("limit", "10"))
    except ValueError as e:
        raise _validation("page, limit: must be integers") from e
    if page < 1:
        raise _validation("page: must be 1 or more")
    if not 1 <= limit <= max_limit:
        raise _validation(f"limit: must be between 1 and {max_limit}")
    total = len(items)
    last_page = max(1, math.ceil(total / limit))
    start = (page - 1) * limit
    data = items[start : start + limit]
    return {
        "current_page": page,
        "data": data,
        "first_page_url": "/?page=1",
        "prev_page_url": f"/?page={page - 1}" if page > 1 else None,
        "next_page_url": f"/?page={page + 1}" if page < last_page else None,
        "last_page_url": f"/?page={last_page}",
        "last_page": last_page,
        "total": total,
        "per_page": limit,
        "from": start + 1 if data else None,
        "to": start + len(data) if data else None,
    }


_FLAGS = "printify.twin"
Handler = Callable[[Request], Awaitable[Any]]


class PrintifyTwin:
    """The twin's ASGI app: the Starlette app inside an outer layer that swallows the answer
    of a request the faults say never arrives, then raises what the client would see.
    `twin.state.sandbox` is the `PrintifySandbox`."""

    def __init__(self, app: Starlette, sandbox: PrintifySandbox) -> None:
        self.app = app
        self.state = app.state
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        flags: dict[str, Any] = {}
        scope[_FLAGS] = flags

        async def guarded(message: Message) -> None:
            if flags.get("outcome") is None:
                await send(message)

        await self.app(scope, receive, guarded)
        outcome = flags.get("outcome")
        if outcome == "timeout":
            await asyncio.sleep(self.sandbox.faults.hang_seconds)
            raise httpx.ReadTimeout("The sandbox Printify twin never answered (injected fault).")
        if outcome == "drop":
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")


def _operation(
    state: PrintifySandbox,
    name: str,
    handler: Handler,
    *,
    mutating: bool = False,
    kind: str | None = None,
    status: int = 200,
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        state.requests[name] += 1
        flags: dict[str, Any] = request.scope.setdefault(_FLAGS, {})
        if state.faults.latency:
            await asyncio.sleep(state.faults.latency)
        if state.faults.take("hang", name):
            flags["outcome"] = "timeout"
            return Response(status_code=204)
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token.strip() not in state.tokens:
            return _error(
                state,
                TwinError(
                    401, "Unauthenticated.", "Authorization: a valid Bearer token is required"
                ),
            )
        limited = state.admit(kind)
        if limited is None and state.faults.take("rate_limit", name):
            limited = ("injected", state.faults.retry_after)
        if limited is not None:
            window, retry_after = limited
            error = TwinError(429, "Too Many Requests", f"rate limit exceeded: {window}")
            return _error(state, error, {"Retry-After": str(retry_after)})
        if state.faults.error_rate and state.rng.random() < state.faults.error_rate:
            return _error(state, TwinError(500, "Internal Server Error", "injected fault"))
        try:
            result = await handler(request)
        except TwinError as e:
            return _error(state, e)
        if mutating and state.faults.take("commit_then_timeout", name):
            flags["outcome"] = "timeout"
        elif state.faults.take("drop_connection", name):
            flags["outcome"] = "drop"
        return JSONResponse(result, status_code=status)

    return endpoint


def create_app(
    *,
    tokens: Iterable[str] | None = None,
    api_keys: Iterable[str] | None = None,
    time_scale: float = 1.0,
    deliver: Deliver | None = None,
    shops: list[dict[str, Any]] | None = None,
    seed: int = 0,
    fetch: Callable[[str], Awaitable[bytes]] | None = None,
) -> PrintifyTwin:
    """The twin as an ASGI app; its state is `app.state.sandbox` (a `PrintifySandbox`).

    `tokens` (or `api_keys`, the name `sandbox.Service` passes) are the accepted personal access
    tokens; `shops` the account's shops (`{id, title, sales_channel}`; default one fictional
    shop); `fetch(url) -> bytes` lets URL uploads read the image (without it the twin cannot
    download and records width and height 0)."""
    accepted = set(tokens or ()) | set(api_keys or ())
    shop_list = shops or [
        {"id": 424242, "title": "FlashFusion Sandbox Shop", "sales_channel": "custom_integration"}
    ]
    state = PrintifySandbox(
        tokens=accepted,
        time_scale=time_scale,
        deliver=deliver,
        seed=seed,
        fetch=fetch,
        shops={int(s["id"]): dict(s) for s in shop_list},
    )

    def shop_of(request: Request) -> int:
        shop_id = int(request.path_params["shop_id"])
        if shop_id not in state.shops:
            raise TwinError(404, "Not found.", f"shop_id: shop {shop_id} not found")
        return shop_id

    def product_of(request: Request) -> tuple[int, dict[str, Any]]:
        shop_id = shop_of(request)
        product_id = request.path_params["product_id"]
        product = state.products[shop_id].get(product_id)
        if product is None:
            raise TwinError(404, "Not found.", f"product_id: product {product_id} not found")
        return shop_id, product

    def unlocked(product: dict[str, Any]) -> None:
        if product["is_locked"]:
            raise TwinError(
                400,
                "Product is locked.",
                "Product is locked while publishing is in progress; try again after "
                "publishing_succeeded or publishing_failed",
            )

    # shops and catalog -----------------------------------------------------------------------

    async def list_shops(request: Request) -> Any:
        return list(state.shops.values())

    async def list_blueprints(request: Request) -> Any:
        return state.catalog["blueprints"]

    def blueprint_of(request: Request) -> dict[str, Any]:
        blueprint = state.blueprint(int(request.path_params["blueprint_id"]))
        if blueprint is None:
            raise TwinError(404, "Not found.", "blueprint_id: blueprint not found")
        return blueprint

    def provider_of(request: Request) -> dict[str, Any]:
        blueprint = blueprint_of(request)
        provider = state.provider(blueprint["id"], int(request.path_params["provider_id"]))
        if provider is None:
            raise TwinError(
                404, "Not found.", "print_provider_id: print provider not found for this blueprint"
            )
        return provider

    async def get_blueprint(request: Request) -> Any:
        return blueprint_of(request)

    async def list_providers(request: Request) -> Any:
        blueprint = blueprint_of(request)
        return [{"id": p["id"], "title": p["title"]} for p in state.providers(blueprint["id"])]

    async def list_variants(request: Request) -> Any:
        provider = provider_of(request)
        return {"id": provider["id"], "title": provider["title"], "variants": provider["variants"]}

    async def shipping(request: Request) -> Any:
        provider = provider_of(request)
        fixture = state.catalog["shipping"]
        return {
            "handling_time": fixture["handling_time"],
            "profiles": [
                {
                    "variant_ids": [v["id"] for v in provider["variants"]],
                    "first_item": fixture["first_item"],
                    "additional_items": fixture["additional_items"],
                    "countries": fixture["countries"],
                }
            ],
        }

    # uploads -----------------------------------------------------------------------------------

    async def upload_image(request: Request) -> Any:
        body = await _parse(request, UploadBody)
        if (body.url is None) == (body.contents is None):
            raise _validation("url, contents: give exactly one of url or contents")
        width = height = 0
        mime_type = "image/png"
        size = 0
        data: bytes | None = None
        if body.contents is not None:
            try:
                data = base64.b64decode(body.contents, validate=True)
            except (binascii.Error, ValueError) as e:
                raise _validation("contents: not valid base64") from e
        elif state.fetch is not None and body.url is not None:
            data = await state.fetch(body.url)
        if data is not None:
            try:
                with Image.open(io.BytesIO(data)) as image:
                    width, height = image.size
                    mime_type = Image.MIME.get(image.format or "", "application/octet-stream")
            except (UnidentifiedImageError, OSError) as e:
                raise _validation("contents: not an image Printify can read") from e
            size = len(data)
        upload_id = state.new_id()
        record = {
            "id": upload_id,
            "file_name": body.file_name,
            "height": height,
            "width": width,
            "size": size,
            "mime_type": mime_type,
            "preview_url": body.url or f"{ASSET_HOST}/uploads/{upload_id}",
            "upload_time": printify_time(state.now()).removesuffix("+00:00"),
        }
        state.uploads[upload_id] = record
        state.created["upload"] += 1
        return record

    # products ----------------------------------------------------------------------------------

    def build_print_areas(
        areas: list[PrintArea], provider: dict[str, Any], variant_ids: set[int]
    ) -> list[dict[str, Any]]:
        catalog_variants = {v["id"]: v for v in provider["variants"]}
        built = []
        for index, area in enumerate(areas):
            for variant_id in area.variant_ids:
                if variant_id not in variant_ids:
                    raise _validation(
                        f"print_areas.{index}.variant_ids: variant {variant_id} "
                        "is not in the product's variants"
                    )
            placeholders = []
            for p_index, placeholder in enumerate(area.placeholders):
                for variant_id in area.variant_ids:
                    positions = {
                        p["position"] for p in catalog_variants[variant_id]["placeholders"]
                    }
                    if placeholder.position not in positions:
                        raise _validation(
                            f"print_areas.{index}.placeholders.{p_index}.position: "
                            f"{placeholder.position!r} is not a print position "
                            f"of variant {variant_id}"
                        )
                images = []
                for i_index, image in enumerate(placeholder.images):
                    upload = state.uploads.get(image.id)
                    if upload is None:
                        raise _validation(
                            f"print_areas.{index}.placeholders.{p_index}.images.{i_index}.id: "
                            f"no uploaded image {image.id}"
                        )
                    images.append(
                        {
                            "id": image.id,
                            "name": upload["file_name"],
                            "type": upload["mime_type"],
                            "height": upload["height"],
                            "width": upload["width"],
                            "x": image.x,
                            "y": image.y,
                            "scale": image.scale,
                            "angle": image.angle,
                        }
                    )
                placeholders.append({"position": placeholder.position, "images": images})
            built.append(
                {
                    "variant_ids": list(area.variant_ids),
                    "placeholders": placeholders,
                    "background": area.background or "#ffffff",
                }
            )
        return built

    def build_variants(variants: list[VariantIn], provider: dict[str, Any]) -> list[dict[str, Any]]:
        catalog_variants = {v["id"]: v for v in provider["variants"]}
        seen: set[int] = set()
        built = []
        for index, variant in enumerate(variants):
            source = catalog_variants.get(variant.id)
            if source is None:
                raise _validation(
                    f"variants.{index}.id: variant {variant.id} "
                    f"is not offered by print provider {provider['id']}"
                )
            if variant.id in seen:
                raise _validation(f"variants.{index}.id: variant {variant.id} is listed twice")
            seen.add(variant.id)
            built.append(
                {
                    "id": variant.id,
                    "sku": variant.sku or state.new_sku(),
                    "price": variant.price,
                    "title": source["title"],
                    "grams": 0,
                    "is_enabled": variant.is_enabled,
                    "is_default": index == 0,
                    "is_available": True,
                    "options": list(source.get("options", {}).values()),
                }
            )
        return built

    def mockups(product: dict[str, Any]) -> list[dict[str, Any]]:
        positions = sorted(
            {p["position"] for area in product["print_areas"] for p in area["placeholders"]}
        )
        return [
            {
                "src": f"{ASSET_HOST}/mockup/{product['id']}/{position}.jpg",
                "variant_ids": [v["id"] for v in product["variants"]],
                "position": position,
                "is_default": index == 0,
            }
            for index, position in enumerate(positions)
        ]

    async def list_products(request: Request) -> Any:
        shop_id = shop_of(request)
        products = list(state.products[shop_id].values())
        return _paginate(request, products, max_limit=PRODUCTS_MAX_LIMIT)

    async def create_product(request: Request) -> Any:
        shop_id = shop_of(request)
        body = await _parse(request, ProductCreate)
        if state.blueprint(body.blueprint_id) is None:
            raise _validation(f"blueprint_id: blueprint {body.blueprint_id} not found")
        provider = state.provider(body.blueprint_id, body.print_provider_id)
        if provider is None:
            raise _validation(
                f"print_provider_id: provider {body.print_provider_id} "
                f"does not offer blueprint {body.blueprint_id}"
            )
        variants = build_variants(body.variants, provider)
        print_areas = build_print_areas(body.print_areas, provider, {v["id"] for v in variants})
        stamp = state.timestamp()
        product: dict[str, Any] = {
            "id": state.new_id(),
            "title": body.title,
            "description": body.description,
            "tags": list(body.tags),
            "options": [],
            "variants": variants,
            "images": [],
            "created_at": stamp,
            "updated_at": stamp,
            "visible": True,
            "is_locked": False,
            "blueprint_id": body.blueprint_id,
            "user_id": 1,
            "shop_id": shop_id,
            "print_provider_id": body.print_provider_id,
            "print_areas": print_areas,
            "sales_channel_properties": [],
        }
        product["images"] = mockups(product)
        state.products[shop_id][product["id"]] = product
        state.created["product"] += 1
        return product

    async def get_product(request: Request) -> Any:
        return product_of(request)[1]

    async def update_product(request: Request) -> Any:
        shop_id, product = product_of(request)
        body = await _parse(request, ProductUpdate)
        unlocked(product)
        provider = state.provider(product["blueprint_id"], product["print_provider_id"])
        assert provider is not None
        if body.variants is not None:
            given = {v.id for v in body.variants}
            missing = sorted({v["id"] for v in product["variants"]} - given)
            if missing:
                # printify-nodejs types/products.ts, citing developers.printify.com#products:
                # "When updating variants, you must include all variants in the request."
                raise _validation(
                    f"variants: every variant of the product must be included (missing {missing})"
                )
            old_skus = {v["id"]: v["sku"] for v in product["variants"]}
            for variant in body.variants:
                if variant.sku is None and variant.id in old_skus:
                    variant.sku = old_skus[variant.id]
            product["variants"] = build_variants(body.variants, provider)
        if body.print_areas is not None:
            product["print_areas"] = build_print_areas(
                body.print_areas, provider, {v["id"] for v in product["variants"]}
            )
        for name in ("title", "description", "tags"):
            value = getattr(body, name)
            if value is not None:
                product[name] = value
        product["images"] = mockups(product)
        product["updated_at"] = state.timestamp()
        return product

    async def delete_product(request: Request) -> Any:
        shop_id, product = product_of(request)
        unlocked(product)
        del state.products[shop_id][product["id"]]
        state.emit(shop_id, "product:deleted", product["id"], "product", {"shop_id": shop_id})
        return {}

    async def publish(request: Request) -> Any:
        shop_id, product = product_of(request)
        raw = await request.body()
        details = json.loads(raw) if raw.strip() else {}
        if not isinstance(details, dict):
            raise _validation("body: must be a JSON object of publish flags")
        unlocked(product)
        product["is_locked"] = True
        data = {"shop_id": shop_id, "publish_details": details, "action": "create"}
        state.emit(shop_id, "product:publish:started", product["id"], "product", data)
        return {}

    async def publishing_succeeded(request: Request) -> Any:
        _, product = product_of(request)
        body = await _parse(request, PublishingSucceeded)
        product["external"] = {"id": body.external.id, "handle": body.external.handle}
        product["is_locked"] = False
        product["updated_at"] = state.timestamp()
        return {}

    async def publishing_failed(request: Request) -> Any:
        _, product = product_of(request)
        await _parse(request, PublishingFailed)
        product["is_locked"] = False
        product["updated_at"] = state.timestamp()
        return {}

    async def unpublish(request: Request) -> Any:
        _, product = product_of(request)
        product.pop("external", None)
        product["is_locked"] = False
        product["updated_at"] = state.timestamp()
        return {}

    # orders ------------------------------------------------------------------------------------

    async def list_orders(request: Request) -> Any:
        shop_id = shop_of(request)
        orders = sorted(state.orders[shop_id].values(), key=lambda o: o["created_at"], reverse=True)
        status = request.query_params.get("status")
        if status:
            orders = [o for o in orders if o["status"] == status]
        return _paginate(request, orders, max_limit=ORDERS_MAX_LIMIT)

    async def get_order(request: Request) -> Any:
        shop_id = shop_of(request)
        order = state.orders[shop_id].get(request.path_params["order_id"])
        if order is None:
            raise TwinError(404, "Not found.", "order_id: order not found")
        return order

    # webhooks ----------------------------------------------------------------------------------

    def public_hook(hook: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in hook.items() if k != "secret"}

    def check_url(url: str) -> None:
        if not url.startswith(("https://", "http://")):
            raise _validation("url: must be an http(s) URL")

    async def list_webhooks(request: Request) -> Any:
        shop_id = shop_of(request)
        return [public_hook(h) for h in state.webhooks[shop_id].values()]

    async def create_webhook(request: Request) -> Any:
        shop_id = shop_of(request)
        body = await _parse(request, WebhookCreate)
        if body.topic not in TOPICS:
            raise _validation(f"topic: unknown topic {body.topic!r}")
        check_url(body.url)
        hook_id = state.new_id()
        hook: dict[str, Any] = {"id": hook_id, "topic": body.topic, "url": body.url}
        hook["shop_id"] = shop_id
        if body.secret:
            hook["secret"] = body.secret
        state.webhooks[shop_id][hook_id] = hook
        state.created["webhook"] += 1
        return public_hook(hook)

    def hook_of(request: Request) -> tuple[int, dict[str, Any]]:
        shop_id = shop_of(request)
        hook = state.webhooks[shop_id].get(request.path_params["webhook_id"])
        if hook is None:
            raise TwinError(404, "Not found.", "webhook_id: webhook not found")
        return shop_id, hook

    async def update_webhook(request: Request) -> Any:
        _, hook = hook_of(request)
        body = await _parse(request, WebhookUpdate)
        if body.url is not None:
            check_url(body.url)
            hook["url"] = body.url
        if body.secret is not None:
            hook["secret"] = body.secret
        return public_hook(hook)

    async def delete_webhook(request: Request) -> Any:
        shop_id, hook = hook_of(request)
        del state.webhooks[shop_id][hook["id"]]
        return {"id": hook["id"]}

    async def unknown(request: Request) -> Response:
        state.requests["unknown"] += 1
        return _error(state, TwinError(404, "Not found.", f"{request.method} {request.url.path}"))

    def route(
        path: str,
        name: str,
        handler: Handler,
        method: str = "GET",
        **options: Any,
    ) -> Route:
        mutating = method in {"POST", "PUT", "DELETE"}
        return Route(
            path,
            _operation(state, name, handler, mutating=mutating, **options),
            methods=[method],
        )

    shop = "/v1/shops/{shop_id:int}"
    product_path = shop + "/products/{product_id}"
    bp = "/v1/catalog/blueprints/{blueprint_id:int}"
    pp = bp + "/print_providers/{provider_id:int}"
    routes = [
        route("/v1/shops.json", "shops.list", list_shops),
        route("/v1/catalog/blueprints.json", "catalog.blueprints", list_blueprints, kind="catalog"),
        route(bp + ".json", "catalog.blueprint", get_blueprint, kind="catalog"),
        route(bp + "/print_providers.json", "catalog.providers", list_providers, kind="catalog"),
        route(pp + "/variants.json", "catalog.variants", list_variants, kind="catalog"),
        route(pp + "/shipping.json", "catalog.shipping", shipping, kind="catalog"),
        route("/v1/uploads/images.json", "uploads.create", upload_image, "POST"),
        route(shop + "/products.json", "products.list", list_products),
        route(shop + "/products.json", "products.create", create_product, "POST"),
        route(product_path + ".json", "products.get", get_product),
        route(product_path + ".json", "products.update", update_product, "PUT"),
        route(product_path + ".json", "products.delete", delete_product, "DELETE"),
        route(product_path + "/publish.json", "products.publish", publish, "POST", kind="publish"),
        route(
            product_path + "/publishing_succeeded.json",
            "products.publishing_succeeded",
            publishing_succeeded,
            "POST",
        ),
        route(
            product_path + "/publishing_failed.json",
            "products.publishing_failed",
            publishing_failed,
            "POST",
        ),
        route(product_path + "/unpublish.json", "products.unpublish", unpublish, "POST"),
        route(shop + "/orders.json", "orders.list", list_orders),
        route(shop + "/orders/{order_id}.json", "orders.get", get_order),
        route(shop + "/webhooks.json", "webhooks.list", list_webhooks),
        route(shop + "/webhooks.json", "webhooks.create", create_webhook, "POST"),
        route(shop + "/webhooks/{webhook_id}.json", "webhooks.update", update_webhook, "PUT"),
        route(shop + "/webhooks/{webhook_id}.json", "webhooks.delete", delete_webhook, "DELETE"),
        Route("/{path:path}", unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]
    app = Starlette(routes=routes)
    app.state.sandbox = state
    return PrintifyTwin(app, state)

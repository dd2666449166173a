"""Printful sandbox twin: the v1 and v2 endpoints FlashFusion's Printful connector speaks.

Sources (`../shared/specs/printful/printfulapi.json` = v1 spec, `openapi.json` = v2 beta spec,
`../shared/research/platform-apis.md` section 2):

- auth: `Authorization: Bearer <token>` (v1 tag "Authorization"); tokens are store-level when
  the twin has one store; with several stores they are account-level and store endpoints need
  `X-PF-Store-Id` (v1 parameter `StoreId`: "required only for account level token").
- envelopes: v1 `{"code":200,"result":...,"paging":{total,offset,limit}}`, v1 errors
  `{"code":N,"result":"<message>","error":{"reason","message"}}` (v1 spec response schemas);
  v2 `{"data":...,"paging","_links"}`. v2 4xx answers use the v1 error body and 5XX use the
  problem shape `{type,status,title,details,instance}` (v2 spec responses of /v2/mockup-tasks,
  /v2/files, /v2/webhooks, /v2/stores).
- endpoints: `GET /stores`, `GET /v2/stores`; catalog `GET /products`, `/products/{id}`,
  `/products/variant/{id}`, `/mockup-generator/printfiles/{id}` (from the bundled catalog
  `flashfusion/catalog/data/catalog.json`: Printful product/variant ids and print files);
  `POST /files`; sync products `GET/POST /store/products`, `GET/PUT/DELETE
  /store/products/{id}` where `{id}` may be `@<external_id>` (v1 parameter `SyncProductId`:
  "Sync Product ID (integer) or External ID (if prefixed with @)"), at most 100 sync variants
  (v1 tag "Products API"), PUT replaces the variant list (variants without `id` are created,
  omitted ones deleted: v1 PUT description); orders `GET /orders`, `GET /orders/{id}` (v1);
  mockups `POST /v2/mockup-tasks` -> pending, `GET /v2/mockup-tasks?id=...` and the
  `mockup_task_finished` webhook; webhooks v2 `POST/GET/DELETE /v2/webhooks` (one configuration
  per token: creating one replaces the previous, v2 createWebhook description; `secret_key` hex
  shown once).
- files (POST /files, and sync variant `files[].url`): a file "is saved with the status
  `waiting` and downloaded and processed later. Afterward, the status is changed to `ok` if
  the file was loaded successfully and was a valid image file or `failed` if the process did
  not succeed"; a file with the URL of an existing one is that one, not refreshed (v1 tag "File
  Library API"); a URL that is not http(s) is `FL-2 INVALID_FILE_URL` (v1 tag "Errors"). The
  twin downloads the waiting files before it handles its next request (and in
  `await process_files()`), with `fetch`: by default a URL of the FlashFusion app
  (`settings.BASE_URL`) goes to the app in-process when a webhook target is set
  (sandbox/runtime.py), a loopback URL over the network (a FlashFusion on this machine), and
  any other URL is not fetched (the twin reaches no internet; the file stays `waiting`).
  `ok` needs a 2xx answer whose body Pillow opens as PNG or JPEG; `state.downloads` records
  each attempt (file id, HTTP status, outcome, SHA-256 of the bytes).
- deliveries: body `{type, occurred_at, retries, store_id, data}`, headers
  `x-pf-webhook-public-key` and `x-pf-webhook-signature: hex(HMAC-SHA256(hex_decode(secret_key),
  raw body))` (v2 tag "Webhook v2", "Event example").
- rate limits: 120 requests per 60 s (v1 and v2 "Rate Limiting" tag); PUT /store/products/{id}
  10 per 60 s (v1 PUT description); mockup tasks 10 per 60 s (v1 create-task description for
  established stores; applied to v2 /v2/mockup-tasks: UNVERIFIED for v2). The twin counts a
  sliding window (stricter than Printful's fixed v1 window or v2 token bucket, so a client that
  never sees a 429 here stays inside the real limits). Success headers `X-Ratelimit-Policy:
  120;w=60;`, `X-Ratelimit-Limit`, `X-Ratelimit-Remaining`, `X-Ratelimit-Reset` (v2 tag); 429
  with `retry-after`. Every window is divided by `time_scale`.

UNVERIFIED, the twin's own choice: the wording of error messages; where Printful puts domain
codes such as `PR-1` (the twin puts them at the start of `error.message` and `result`); that
duplicate external ids are accepted on sync products (the twin accepts them, so `duplicates()`
can tell a client that creates twice); mockup URLs and durations; ids (fictional counters).

Faults and counters live on `app.state.sandbox` (see `PrintfulFaults`): `error_rate` (seeded
random 500/502/503), `rate_limit` (next N requests answer 429), `latency`, `hang` (next N
requests wait `hang_seconds` then fail as a read timeout), `commit_then_timeout` (next N writes
commit, then the client gets a read timeout), `drop_connection` (next N requests fail with
`httpx.RemoteProtocolError`: through `httpx.ASGITransport`, whose default
`raise_app_exceptions=True` re-raises the app's exception to the client, these are real
`httpx.TransportError`s; served by uvicorn they become a 500). Counters: `requests` per
operation, `errors` per status, `created` per resource kind, `max_rate_seen` per limit window,
`outbox` of webhook deliveries, `await flush_webhooks()`.
"""

import asyncio
import base64
import contextlib
import hashlib
import hmac
import io
import json
import math
import random
import re
import secrets
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# Sources: see the module docstring.
GENERAL_LIMIT = 120
GENERAL_WINDOW = 60.0
MOCKUP_LIMIT = 10
MOCKUP_WINDOW = 60.0
PRODUCT_UPDATE_LIMIT = 10
PRODUCT_UPDATE_WINDOW = 60.0
MAX_SYNC_VARIANTS = 100  # v1 tag "Products API"
MAX_PAGE = 100  # v2 components.parameters.Limit maximum; v1 offset/limit (research section 2)
DEFAULT_PAGE = 20  # v2 components.parameters.Limit default
# Fictional: how long a mockup task stays pending in the twin (before time_scale).
MOCKUP_SECONDS = 10.0
# v2 x-webhooks event types (research section 2).
WEBHOOK_EVENTS = frozenset(
    {
        "shipment_sent", "shipment_returned", "shipment_out_of_stock", "shipment_put_hold",
        "shipment_put_hold_approval", "shipment_remove_hold", "order_created", "order_updated",
        "order_failed", "order_canceled", "order_put_hold", "order_put_hold_approval",
        "order_remove_hold", "order_refunded", "catalog_stock_updated", "catalog_price_changed",
        "mockup_task_finished", "product_synced", "product_updated", "product_deleted",
    }
)  # fmt: skip
# v1 order statuses (v1 tag "Orders API", "Order life cycle and statuses").
ORDER_STATUSES = frozenset(
    {"draft", "pending", "failed", "canceled", "inprocess", "onhold", "partial", "fulfilled",
     "archived"}
)  # fmt: skip
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "testserver")

Deliver = Callable[[str, dict[str, str], bytes], Awaitable[Any]]
# GET one file URL: the response, or None when the twin cannot reach that host at all.
Fetch = Callable[[str], Awaitable[httpx.Response | None]]
# Printful's print-file image limit is 50 MB (v1 tag "Mockup Generator", research section 10);
# the twin reads at most this much of a download.
MAX_FILE_BYTES = 50_000_000
FETCH_TIMEOUT_SECONDS = 30.0  # the twin's choice
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
_IMAGE_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg"}


async def fetch_file(url: str) -> httpx.Response | None:
    """The default `fetch`: the FlashFusion app's own URLs in-process (when the runtime has a
    webhook target, i.e. the app), loopback URLs over the network, nothing else."""
    from flashfusion.config import get_settings
    from flashfusion.sandbox import runtime

    parts = urlsplit(url)
    app = urlsplit(get_settings().BASE_URL)
    # The runtime keeps the app it posts webhooks to; the twin fetches through the same app.
    target = runtime.webhook_target()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if target is not None and (parts.scheme, parts.netloc) == (app.scheme, app.netloc):
        transport: httpx.AsyncBaseTransport = httpx.ASGITransport(app=target)
    elif (parts.hostname or "") in _LOOPBACK_HOSTS or (parts.hostname or "").endswith(".localhost"):
        transport = httpx.AsyncHTTPTransport()
    else:
        return None

    async def get() -> httpx.Response:
        # The transport, not a client: a client logs each request's URL ("HTTP Request: GET
        # ...?token=..."), and a file URL is a bearer capability that must stay out of logs.
        request = httpx.Request(
            "GET",
            f"{parts.scheme}://{parts.netloc}{path}",
            extensions={"timeout": httpx.Timeout(FETCH_TIMEOUT_SECONDS).as_dict()},
        )
        async with transport:
            response = await transport.handle_async_request(request)
            await response.aread()
            return response

    return await asyncio.create_task(get())


class _Answer(Exception):
    """Raised inside a handler: answer this response now."""

    def __init__(self, response: Response) -> None:
        self.response = response


@dataclass
class PrintfulFaults:
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503)
    rate_limit: int = 0
    retry_after: int = 60
    latency: float = 0.0
    hang: int = 0
    hang_seconds: float = 3600.0
    commit_then_timeout: int = 0
    drop_connection: int = 0

    def take(self, name: str) -> bool:
        left = getattr(self, name)
        if left > 0:
            setattr(self, name, left - 1)
            return True
        return False


@dataclass
class Delivery:
    url: str
    headers: dict[str, str]
    body: bytes
    event: dict[str, Any]
    secret_key: str
    public_key: str


@dataclass
class _Window:
    limit: int
    seconds: float
    seen: dict[int, deque[float]] = field(default_factory=dict)


@dataclass
class StoreData:
    id: int
    name: str
    type: str = "native"
    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    files: dict[int, dict[str, Any]] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    mockup_tasks: dict[int, dict[str, Any]] = field(default_factory=dict)
    webhook: dict[str, Any] | None = None


def _catalog() -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
    """Printful products and variants known to the bundled catalog (ids are Printful's)."""
    from flashfusion.catalog.registry import get_catalog

    products: dict[int, dict[str, Any]] = {}
    variants: dict[int, dict[str, Any]] = {}
    for product_type in get_catalog().product_types.values():
        for variant in product_type.variants:
            for offer in variant.offers:
                if str(offer.provider) != "printful" or not offer.product_id:
                    continue
                product_id = int(offer.product_id)
                product = products.setdefault(
                    product_id,
                    {
                        "id": product_id,
                        "title": product_type.name,
                        "type_name": product_type.name,
                        "placements": {},
                        "printfiles": {},
                        "variant_printfiles": {},
                        "variants": [],
                    },
                )
                for area in product_type.print_areas:
                    product["placements"].setdefault(area.key, area.name)
                if not offer.variant_id:
                    continue
                variant_id = int(offer.variant_id)
                placements: dict[str, int] = {}
                for placement, pf in variant.print_files.items():
                    if pf.printfile_id is None:
                        continue
                    product["printfiles"][pf.printfile_id] = {
                        "printfile_id": pf.printfile_id,
                        "width": pf.width_px,
                        "height": pf.height_px,
                        "dpi": pf.dpi,
                        "fill_mode": str(pf.fill_mode),
                        "can_rotate": pf.can_rotate,
                    }
                    placements[placement] = pf.printfile_id
                product["variant_printfiles"][variant_id] = placements
                row = {
                    "id": variant_id,
                    "product_id": product_id,
                    "name": product_type.name
                    + " ("
                    + " / ".join(filter(None, [variant.colour, variant.size]))
                    + ")",
                    "size": variant.size or "",
                    "color": variant.colour or "",
                    "color_code": variant.colour_hex or "",
                    "in_stock": True,
                }
                product["variants"].append(row)
                variants[variant_id] = row
    return products, variants


def _money(value: Any) -> str | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or amount < 0:
        return None
    return f"{amount:.2f}"


def _present(row: dict[str, Any], *nullable: str) -> dict[str, Any]:
    """`row` without the None values the spec types as non-nullable strings/ints."""
    return {k: v for k, v in row.items() if v is not None or k in nullable}


_FILE_FIELDS = ("id", "type", "url", "filename", "status", "options", "hash", "mime_type", "size",
                "width", "height", "dpi")  # fmt: skip


def _file_view(row: dict[str, Any]) -> dict[str, Any]:
    """A library file as a sync variant shows it (v1 schema File; unknown fields omitted)."""
    return {k: row[k] for k in _FILE_FIELDS if row.get(k) is not None}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class PrintfulSandboxState:
    tokens: set[str]
    stores: dict[int, StoreData]
    time_scale: float = 1.0
    deliver: Deliver | None = None
    fetch: Fetch | None = None
    faults: PrintfulFaults = field(default_factory=PrintfulFaults)
    requests: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    created: Counter[str] = field(default_factory=Counter)
    max_rate_seen: dict[str, int] = field(default_factory=dict)
    outbox: list[Delivery] = field(default_factory=list)
    delivered: list[Delivery] = field(default_factory=list)
    # Files waiting to be downloaded, as (store id, file id), and every download tried.
    waiting_files: list[tuple[int, int]] = field(default_factory=list)
    downloads: list[dict[str, Any]] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)
    catalog_products: dict[int, dict[str, Any]] = field(default_factory=dict)
    catalog_variants: dict[int, dict[str, Any]] = field(default_factory=dict)
    _ids: Counter[str] = field(default_factory=Counter)
    _windows: dict[str, _Window] = field(default_factory=dict)

    def __post_init__(self) -> None:
        scale = self.time_scale if self.time_scale > 0 else 1.0
        self._windows = {
            "requests": _Window(GENERAL_LIMIT, GENERAL_WINDOW / scale),
            "mockups": _Window(MOCKUP_LIMIT, MOCKUP_WINDOW / scale),
            "product_updates": _Window(PRODUCT_UPDATE_LIMIT, PRODUCT_UPDATE_WINDOW / scale),
        }

    # --- ids, limits -------------------------------------------------------------------------

    def next_id(self, kind: str, start: int) -> int:
        self._ids[kind] += 1
        return start + self._ids[kind]

    def window_seconds(self, name: str) -> float:
        return self._windows[name].seconds

    def admit(self, name: str, store_id: int) -> float | None:
        """Count a request in window `name`; seconds to wait when it is over the limit."""
        window = self._windows[name]
        now = self.clock()
        seen = window.seen.setdefault(store_id, deque())
        while seen and now - seen[0] >= window.seconds:
            seen.popleft()
        if len(seen) >= window.limit:
            return max(0.001, window.seconds - (now - seen[0]))
        seen.append(now)
        self.max_rate_seen[name] = max(self.max_rate_seen.get(name, 0), len(seen))
        return None

    def rate_headers(self, store_id: int) -> dict[str, str]:
        window = self._windows["requests"]
        now = self.clock()
        seen = window.seen.get(store_id, deque())
        live = [t for t in seen if now - t < window.seconds]
        reset = (window.seconds - (now - live[0])) if live else 0.0
        return {
            "X-Ratelimit-Policy": f"{GENERAL_LIMIT};w={int(GENERAL_WINDOW)};",
            "X-Ratelimit-Limit": str(GENERAL_LIMIT),
            "X-Ratelimit-Remaining": str(max(0, window.limit - len(live))),
            "X-Ratelimit-Reset": f"{max(0.0, reset):.3f}".rstrip("0").rstrip(".") or "0",
        }

    # --- test helpers ------------------------------------------------------------------------

    def store(self, store_id: int | None = None) -> StoreData:
        if store_id is None:
            return next(iter(self.stores.values()))
        return self.stores[store_id]

    def duplicates(self) -> list[str]:
        """Values shared by several sync products of one store: "external_id:<v>" / "sku:<v>"."""
        found: list[str] = []
        for store in self.stores.values():
            owners: dict[str, set[int]] = {}
            for product in store.products.values():
                external = product["sync_product"].get("external_id")
                if external:
                    owners.setdefault(f"external_id:{external}", set()).add(product["id"])
                for variant in product["sync_variants"]:
                    if variant.get("sku"):
                        owners.setdefault(f"sku:{variant['sku']}", set()).add(product["id"])
            found += sorted(key for key, ids in owners.items() if len(ids) > 1)
        return found

    def create_order(
        self,
        *,
        items: list[dict[str, Any]],
        recipient: dict[str, Any] | None = None,
        external_id: str | None = None,
        status: str = "pending",
        store_id: int | None = None,
    ) -> dict[str, Any]:
        """A customer order in the store (items: `{"sync_variant_id"|"external_variant_id",
        "quantity"}`), as Printful would record it; queues `order_created`."""
        store = self.store(store_id)
        if status not in ORDER_STATUSES:
            raise ValueError(f"status must be one of {sorted(ORDER_STATUSES)}")
        lines: list[dict[str, Any]] = []
        subtotal = Decimal("0")
        currency = "USD"
        for item in items:
            variant = self._find_sync_variant(store, item)
            quantity = int(item.get("quantity", 1))
            price = Decimal(variant["retail_price"] or "0")
            subtotal += price * quantity
            currency = variant.get("currency", currency)
            lines.append(
                _present(
                    {
                        "id": self.next_id("order_item", 5000000),
                        "external_id": item.get("external_id"),
                        "variant_id": variant["variant_id"],
                        "sync_variant_id": variant["id"],
                        "external_variant_id": variant.get("external_id"),
                        "quantity": quantity,
                        "retail_price": f"{price:.2f}",
                        "name": variant["name"],
                        "sku": variant.get("sku"),
                        "files": variant["files"],
                        "options": variant.get("options", []),
                    }
                )
            )
        now = int(self.wall_clock())
        order_id = self.next_id("order", 90000000)
        order = {
            "id": order_id,
            "external_id": external_id,
            "store": store.id,
            "status": status,
            "shipping": "STANDARD",
            "shipping_service_name": "Flat Rate (Estimated delivery: fictional)",
            "created": now,
            "updated": now,
            "recipient": recipient
            or {"name": "Sandbox Customer", "country_code": "US", "email": "buyer@example.com"},
            "items": lines,
            "retail_costs": {"currency": currency, "subtotal": f"{subtotal:.2f}",
                             "total": f"{subtotal:.2f}"},
            "shipments": [],
            "dashboard_url": f"https://www.printful.com/dashboard?order_id={order_id}",
        }  # fmt: skip
        if external_id is None:
            del order["external_id"]
        store.orders[order_id] = order
        self.created["order"] += 1
        self.emit(store, "order_created", {"order": self._webhook_order(store, order)})
        return order

    def update_order(
        self,
        order_id: int,
        *,
        status: str | None = None,
        tracking_number: str | None = None,
        store_id: int | None = None,
    ) -> dict[str, Any]:
        """Change an order's status; queues `order_updated` (and `shipment_sent` with a
        tracking number, as the v2 x-webhooks name it)."""
        store = self.store(store_id)
        order = store.orders[order_id]
        if status is not None:
            if status not in ORDER_STATUSES:
                raise ValueError(f"status must be one of {sorted(ORDER_STATUSES)}")
            order["status"] = status
        order["updated"] = max(int(self.wall_clock()), order["updated"] + 1)
        self.emit(store, "order_updated", {"order": self._webhook_order(store, order)})
        if tracking_number is not None:
            shipment = {
                "id": self.next_id("shipment", 7000000),
                "status": "shipped",
                "store_id": store.id,
                "tracking_number": tracking_number,
                "tracking_url": f"https://tracking.example/{tracking_number}",
                "created_at": _iso(order["updated"]),
                "ship_date": _iso(order["updated"])[:10],
                "shipped_at": _iso(order["updated"]),
                "reshipment": False,
            }
            order["shipments"].append(shipment)
            self.emit(
                store,
                "shipment_sent",
                {"shipment": shipment, "order": self._webhook_order(store, order)},
            )
        return order

    def _find_sync_variant(self, store: StoreData, item: dict[str, Any]) -> dict[str, Any]:
        for product in store.products.values():
            for variant in product["sync_variants"]:
                if variant["id"] == item.get("sync_variant_id") or (
                    item.get("external_variant_id")
                    and variant.get("external_id") == item.get("external_variant_id")
                ):
                    return variant
        raise KeyError(f"no sync variant matches {item}")

    def _webhook_order(self, store: StoreData, order: dict[str, Any]) -> dict[str, Any]:
        # v2 WebhookOrderData (x-webhooks order_created).
        return {
            "id": order["id"],
            # Required string in the schema (its "Event example" shows null): the twin
            # follows the schema and sends "" for an order without one.
            "external_id": order.get("external_id") or "",
            "status": order["status"],
            "store_id": store.id,
            "dashboard_url": order["dashboard_url"],
            "created_at": _iso(order["created"]),
            "updated_at": _iso(order["updated"]),
        }

    # --- webhooks ----------------------------------------------------------------------------

    def emit(self, store: StoreData, event_type: str, data: dict[str, Any]) -> None:
        config = store.webhook
        if config is None:
            return
        if (
            config["expires_at_epoch"] is not None
            and self.wall_clock() > config["expires_at_epoch"]
        ):
            return
        url = None
        for event in config["events"]:
            if event["type"] == event_type:
                url = event.get("url") or config["default_url"]
        if not url:
            return
        event = {
            "type": event_type,
            "occurred_at": _iso(self.wall_clock()),
            "retries": 0,
            "store_id": store.id,
            "data": data,
        }
        self.outbox.append(self._signed(url, event, config["secret_key"], config["public_key"]))

    @staticmethod
    def _signed(url: str, event: dict[str, Any], secret_key: str, public_key: str) -> Delivery:
        body = json.dumps(event, separators=(",", ":")).encode()
        signature = hmac.new(bytes.fromhex(secret_key), body, hashlib.sha256).hexdigest()
        headers = {
            "content-type": "application/json",
            "x-pf-webhook-public-key": public_key,
            "x-pf-webhook-signature": signature,
        }
        return Delivery(url, headers, body, event, secret_key, public_key)

    async def flush_webhooks(self) -> int:
        """Deliver the outbox through `deliver(url, headers, body)`; a delivery that raises or
        answers a non-2xx status goes back with `retries` + 1 (Printful retries non-2xx:
        research section 2). Returns how many were accepted."""
        self.tick()
        if self.deliver is None:
            return 0
        pending, self.outbox = self.outbox, []
        accepted = 0
        for delivery in pending:
            try:
                answer = await self.deliver(delivery.url, dict(delivery.headers), delivery.body)
            except Exception:
                answer = 599
            status = getattr(answer, "status_code", answer)
            if isinstance(status, int) and not 200 <= status < 300:
                event = dict(delivery.event, retries=delivery.event["retries"] + 1)
                self.outbox.append(
                    self._signed(delivery.url, event, delivery.secret_key, delivery.public_key)
                )
                continue
            self.delivered.append(delivery)
            accepted += 1
        return accepted

    # --- files -------------------------------------------------------------------------------

    async def process_files(self) -> int:
        """Download every waiting file and set its status (`ok`, `failed`, or still `waiting`
        when the twin cannot reach the host); the number of files processed."""
        queue, self.waiting_files = self.waiting_files, []
        for store_id, file_id in queue:
            row = self.stores[store_id].files.get(file_id)
            if row is not None and row["status"] == "waiting":
                await self._download(row)
        return len(queue)

    async def _download(self, row: dict[str, Any]) -> None:
        attempt: dict[str, Any] = {"file_id": row["id"], "status_code": None, "sha256": None}
        self.downloads.append(attempt)
        try:
            response = await (self.fetch or fetch_file)(row["url"])
        except httpx.HTTPError as e:
            attempt["outcome"] = f"failed: {type(e).__name__}"
            row["status"] = "failed"
            return
        if response is None:
            attempt["outcome"] = "not fetched: the twin cannot reach this host"
            return
        attempt["status_code"] = response.status_code
        content = response.content[: MAX_FILE_BYTES + 1]
        if not response.is_success or len(content) > MAX_FILE_BYTES:
            attempt["outcome"] = "failed: download"
            row["status"] = "failed"
            return
        from PIL import Image

        try:
            with Image.open(io.BytesIO(content)) as image:
                kind, (width, height) = image.format or "", image.size
                dpi = image.info.get("dpi")
        except (OSError, ValueError, Image.DecompressionBombError):
            kind = ""
        if kind not in _IMAGE_FORMATS:
            attempt["outcome"] = "failed: not a PNG or JPEG image"
            row["status"] = "failed"
            return
        attempt["sha256"] = hashlib.sha256(content).hexdigest()
        attempt["outcome"] = "ok"
        row.update(
            status="ok",
            hash=hashlib.md5(content, usedforsecurity=False).hexdigest(),
            mime_type=_IMAGE_FORMATS[kind],
            size=len(content),
            width=width,
            height=height,
            # The twin's stand-ins for Printful's CDN previews (fictional host).
            preview_url=f"https://files.sandbox.printful.invalid/{row['id']}_preview.png",
            thumbnail_url=f"https://files.sandbox.printful.invalid/{row['id']}_thumb.png",
        )
        if dpi:
            with contextlib.suppress(TypeError, ValueError, IndexError):
                row["dpi"] = round(float(dpi[0]))

    # --- mockups -----------------------------------------------------------------------------

    def tick(self) -> None:
        """Finish the mockup tasks whose time has come (and queue their webhooks)."""
        now = self.clock()
        for store in self.stores.values():
            for task in store.mockup_tasks.values():
                if task["status"] == "pending" and now >= task["_done_at"]:
                    task["status"] = "completed"
                    task["catalog_variant_mockups"] = [
                        {
                            "catalog_variant_id": variant_id,
                            "mockups": [
                                {
                                    "placement": placement["placement"],
                                    "display_name": placement["placement"]
                                    .replace("_", " ")
                                    .title(),
                                    "technique": placement["technique"],
                                    "style_id": 1,
                                    "mockup_url": (
                                        "https://sandbox.printful.invalid/mockups/"
                                        f"{task['id']}/{variant_id}-{placement['placement']}.png"
                                    ),
                                }
                                for placement in task["_placements"]
                            ],
                        }
                        for variant_id in task["_variant_ids"]
                    ]
                    self.emit(store, "mockup_task_finished", public_task(task))


def public_task(task: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in task.items() if key not in _TASK_INTERNAL}


_TASK_INTERNAL = frozenset({"_done_at", "_variant_ids", "_placements"})


# --- responses ---------------------------------------------------------------------------------


def _v1(result: Any, *, paging: dict[str, int] | None = None, status: int = 200) -> dict[str, Any]:
    body: dict[str, Any] = {"code": status, "result": result}
    if paging is not None:
        body["paging"] = paging
    return body


_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    429: "TooManyRequests",
    430: "InvalidJson",
    431: "InvalidParameter",
}


def create_app(
    *,
    tokens: set[str],
    time_scale: float = 1.0,
    deliver: Deliver | None = None,
    stores: list[dict[str, Any]] | None = None,
    seed: int = 0,
    fetch: Fetch | None = None,
) -> Starlette:
    """The twin as an ASGI app; its state is `app.state.sandbox` (a `PrintfulSandboxState`).
    `stores`: `[{"id": int, "name": str, "type"?: str}]` (default: one fictional store).
    `fetch`: how the twin downloads file URLs (default `fetch_file`)."""
    rows = stores or [{"id": 10001, "name": "FlashFusion sandbox store", "type": "native"}]
    state = PrintfulSandboxState(
        tokens=set(tokens),
        stores={
            int(s["id"]): StoreData(int(s["id"]), str(s["name"]), str(s.get("type", "native")))
            for s in rows
        },
        time_scale=time_scale,
        deliver=deliver,
        fetch=fetch,
        rng=random.Random(seed),
    )
    state.catalog_products, state.catalog_variants = _catalog()
    account_level = len(state.stores) > 1

    def error(
        status: int, message: str, *, v2: bool = False, headers: dict[str, str] | None = None
    ) -> Response:
        state.errors[str(status)] += 1
        if v2 and status >= 500:
            body: dict[str, Any] = {
                "type": "https://developers.printful.com/docs/v2-beta/#tag/Errors",
                "status": status,
                "title": "Internal Server Error",
                "details": message,
                "instance": "urn:sandbox:" + secrets.token_hex(4),
            }
            return JSONResponse(
                body, status, headers=headers, media_type="application/problem+json"
            )
        body = {
            "code": status,
            "result": message,
            "error": {"reason": _REASONS.get(status, "Error"), "message": message},
        }
        return JSONResponse(body, status, headers=headers)

    def fail(status: int, message: str, **kwargs: Any) -> _Answer:
        return _Answer(error(status, message, **kwargs))

    async def json_body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            raise fail(430, "Invalid JSON: the request body could not be parsed.") from None
        if not isinstance(body, dict):
            raise fail(400, "The request body must be a JSON object.")
        return body

    def paging(request: Request) -> tuple[int, int]:
        try:
            offset = int(request.query_params.get("offset", "0"))
            limit = int(request.query_params.get("limit", str(DEFAULT_PAGE)))
        except ValueError:
            raise fail(431, "Parameter offset/limit must be an integer.") from None
        if offset < 0:
            raise fail(400, "Parameter offset must be 0 or more.")
        if not 1 <= limit <= MAX_PAGE:
            raise fail(400, f"Parameter limit must be between 1 and {MAX_PAGE}.")
        return offset, limit

    # --- handlers ------------------------------------------------------------------------------

    async def get_stores(request: Request, store: StoreData | None) -> Response:
        rows = [{"id": s.id, "type": s.type, "name": s.name} for s in state.stores.values()]
        if store is not None:
            rows = [r for r in rows if r["id"] == store.id]
        return JSONResponse(_v1(rows, paging={"total": len(rows), "offset": 0, "limit": MAX_PAGE}))

    async def get_stores_v2(request: Request, store: StoreData | None) -> Response:
        rows = [{"id": s.id, "type": s.type, "name": s.name} for s in state.stores.values()]
        if store is not None:
            rows = [r for r in rows if r["id"] == store.id]
        return JSONResponse(
            {
                "data": rows,
                "paging": {"total": len(rows), "offset": 0, "limit": MAX_PAGE},
                "_links": {"self": {"href": str(request.url)}},
            }
        )

    def product_info(product: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": product["id"],
            "type_name": product["type_name"],
            "title": product["title"],
            "variant_count": len(product["variants"]),
            "currency": "USD",
            "files": [
                {"id": key, "type": key, "title": name, "additional_price": None}
                for key, name in product["placements"].items()
            ],
            "options": [],
            "is_discontinued": False,
        }

    async def list_products(request: Request, store: StoreData | None) -> Response:
        rows = [product_info(p) for p in state.catalog_products.values()]
        return JSONResponse(_v1(rows))

    def catalog_product(raw: str) -> dict[str, Any]:
        if not raw.isdigit() or int(raw) not in state.catalog_products:
            raise fail(404, f"Product {raw} not found.")
        return state.catalog_products[int(raw)]

    async def get_product(request: Request, store: StoreData | None, product_id: str) -> Response:
        product = catalog_product(product_id)
        return JSONResponse(
            _v1({"product": product_info(product), "variants": product["variants"]})
        )

    async def get_variant(request: Request, store: StoreData | None, variant_id: str) -> Response:
        if not variant_id.isdigit() or int(variant_id) not in state.catalog_variants:
            raise fail(404, f"Variant {variant_id} not found.")
        variant = state.catalog_variants[int(variant_id)]
        product = state.catalog_products[variant["product_id"]]
        return JSONResponse(_v1({"variant": variant, "product": product_info(product)}))

    async def get_printfiles(
        request: Request, store: StoreData | None, product_id: str
    ) -> Response:
        product = catalog_product(product_id)
        return JSONResponse(
            _v1(
                {
                    "product_id": product["id"],
                    "available_placements": dict(product["placements"]),
                    "printfiles": list(product["printfiles"].values()),
                    "variant_printfiles": [
                        {"variant_id": vid, "placements": placements}
                        for vid, placements in product["variant_printfiles"].items()
                    ],
                    "option_groups": [],
                    "options": [],
                }
            )
        )

    def check_url(value: Any, field_name: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise fail(400, f"Field {field_name} is required.")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            # FL-2 INVALID_FILE_URL (v1 tag "Errors", File Library API)
            raise fail(400, f"FL-2: The file URL provided is invalid ({field_name}).")
        return value

    def add_file(store: StoreData, body: dict[str, Any], field_name: str = "url") -> dict[str, Any]:
        url = check_url(body.get("url"), field_name)
        for existing in store.files.values():
            # "If a file with the same URL already exists, it will be reused" (v1 Products API)
            if existing["url"] == url and existing["type"] == body.get("type", "default"):
                return existing
        file_id = state.next_id("file", 300000000)
        row = {
            "id": file_id,
            "type": str(body.get("type") or "default"),
            "url": url,
            "filename": str(body.get("filename") or urlsplit(url).path.rsplit("/", 1)[-1]),
            "options": body.get("options") or [],
            # Downloaded and processed later (v1 tag "File Library API"): see process_files.
            "status": "waiting",
            "created": int(state.wall_clock()),
            "visible": bool(body.get("visible", True)),
        }
        store.files[file_id] = row
        state.waiting_files.append((store.id, file_id))
        state.created["file"] += 1
        return row

    async def post_file(request: Request, store: StoreData | None) -> Response:
        assert store is not None
        body = await json_body(request)
        return JSONResponse(_v1(add_file(store, body)))

    def sync_product_row(product: dict[str, Any]) -> dict[str, Any]:
        variants = product["sync_variants"]
        return _present(
            {
                "id": product["id"],
                "external_id": product["sync_product"].get("external_id"),
                "name": product["sync_product"]["name"],
                "variants": len(variants),
                "synced": sum(1 for v in variants if v["synced"]),
                "thumbnail_url": product["sync_product"].get("thumbnail"),
                "is_ignored": bool(product["sync_product"].get("is_ignored", False)),
            }
        )

    def full_product(store: StoreData, product: dict[str, Any]) -> dict[str, Any]:
        # A variant's files as the library has them now (their status changes once processed).
        variants = [
            {
                **variant,
                "files": [
                    {**file, **_file_view(store.files.get(file["id"], file))}
                    for file in variant["files"]
                ],
            }
            for variant in product["sync_variants"]
        ]
        return {"sync_product": sync_product_row(product), "sync_variants": variants}

    def find_product(store: StoreData, raw: str) -> dict[str, Any]:
        if raw.startswith("@"):
            external = raw[1:]
            for product in store.products.values():
                if product["sync_product"].get("external_id") == external:
                    return product
        elif raw.isdigit() and int(raw) in store.products:
            return store.products[int(raw)]
        raise fail(404, f"Sync product {raw} not found.")

    def build_variant(
        store: StoreData, product_id: int, raw: Any, index: int, existing: dict[int, dict[str, Any]]
    ) -> dict[str, Any]:
        where = f"sync_variants[{index}]"
        if not isinstance(raw, dict):
            raise fail(400, f"{where} must be an object.")
        if raw.get("id") is not None:
            if raw["id"] not in existing:
                raise fail(400, f"{where}.id {raw['id']} is not a variant of this product.")
            merged = dict(existing[raw["id"]])
            merged.update({k: v for k, v in raw.items() if k != "id"})
            raw = merged
        if raw.get("variant_id") is None:
            # PR-1 MISSING_VARIANT_ID (v1 tag "Errors", Products API)
            raise fail(400, f"PR-1: The required field {where}.variant_id must be present.")
        if not isinstance(raw["variant_id"], int) or isinstance(raw["variant_id"], bool):
            raise fail(431, f"Parameter {where}.variant_id must be an integer.")
        catalog = state.catalog_variants.get(raw["variant_id"])
        if catalog is None:
            raise fail(
                400, f"{where}.variant_id {raw['variant_id']} is not a Printful catalog variant."
            )
        price = raw.get("retail_price")
        if price is not None and (not isinstance(price, str) or _money(price) is None):
            raise fail(400, f'{where}.retail_price must be a decimal string such as "24.99".')
        files = raw.get("files")
        if not isinstance(files, list) or not files:
            raise fail(400, f"Field {where}.files is required: at least one print file.")
        placements = state.catalog_products[catalog["product_id"]]["placements"]
        stored_files = []
        for j, file in enumerate(files):
            if not isinstance(file, dict):
                raise fail(400, f"{where}.files[{j}] must be an object.")
            ftype = str(file.get("type") or "default")
            if ftype not in placements and ftype not in ("default", "preview"):
                raise fail(
                    400,
                    f"{where}.files[{j}].type {ftype!r} is not a placement of product "
                    f"{catalog['product_id']}.",
                )
            if file.get("id") is not None and file.get("url") is None:
                if file["id"] not in store.files:
                    raise fail(400, f"FL-3: {where}.files[{j}].id {file['id']} was not found.")
                stored_files.append(store.files[file["id"]])
            else:
                stored_files.append(
                    add_file(store, {**file, "type": ftype}, f"{where}.files[{j}].url")
                )
        for name in ("sku", "external_id"):
            if raw.get(name) is not None and not isinstance(raw[name], str):
                raise fail(400, f"{where}.{name} must be a string.")
        variant_id = raw.get("id") or state.next_id("sync_variant", 4000000000)
        return _present(
            {
                "id": variant_id,
                "external_id": raw.get("external_id"),
                "sync_product_id": product_id,
                "name": catalog["name"],
                "synced": True,
                "variant_id": raw["variant_id"],
                "retail_price": _money(price) if price is not None else None,
                "currency": "USD",
                "is_ignored": bool(raw.get("is_ignored", False)),
                "sku": raw.get("sku"),
                "product": {
                    "variant_id": catalog["id"],
                    "product_id": catalog["product_id"],
                    "image": "",
                    "name": catalog["name"],
                },
                "files": [_file_view(f) for f in stored_files],
                "options": raw.get("options") or [],
                "size": catalog["size"] or None,
                "color": catalog["color"] or None,
                "availability_status": "active",
            },
            "sku",
            "size",
            "color",
        )

    def check_sync_product(body: dict[str, Any], *, partial: bool) -> dict[str, Any]:
        product = body.get("sync_product")
        if product is None and partial:
            return {}
        if not isinstance(product, dict):
            raise fail(400, "Field sync_product is required.")
        if not partial or "name" in product:
            name = product.get("name")
            if not isinstance(name, str) or not name.strip():
                raise fail(400, "Field sync_product.name is required.")
        thumbnail = product.get("thumbnail")
        if thumbnail is not None and (not isinstance(thumbnail, str) or len(thumbnail) > 250):
            # maxLength 250 (v1 schema SyncProduct.thumbnail)
            raise fail(400, "Field sync_product.thumbnail must be a URL of at most 250 characters.")
        external = product.get("external_id")
        if external is not None and not isinstance(external, str):
            raise fail(400, "Field sync_product.external_id must be a string.")
        return product

    async def list_sync_products(request: Request, store: StoreData | None) -> Response:
        assert store is not None
        status = request.query_params.get("status")
        valid = {"all", "synced", "unsynced", "ignored", "imported", "discontinued", "out_of_stock"}
        if status is not None and status not in valid:
            # PR-6 INVALID_FILTER_STATUS (v1 tag "Errors")
            raise fail(
                400,
                "PR-6: The provided status is not a valid filter. Must be one of: "
                + ", ".join(sorted(valid))
                + ".",
            )
        offset, limit = paging(request)
        rows = [sync_product_row(p) for p in store.products.values()]
        return JSONResponse(
            _v1(
                rows[offset : offset + limit],
                paging={"total": len(rows), "offset": offset, "limit": limit},
            )
        )

    async def create_sync_product(request: Request, store: StoreData | None) -> Response:
        assert store is not None
        body = await json_body(request)
        product = check_sync_product(body, partial=False)
        variants = body.get("sync_variants")
        if not isinstance(variants, list) or not variants:
            raise fail(400, "Field sync_variants is required: at least one sync variant.")
        if len(variants) > MAX_SYNC_VARIANTS:
            raise fail(
                400,
                f"Field sync_variants: at most {MAX_SYNC_VARIANTS} sync variants per sync product.",
            )
        product_id = state.next_id("sync_product", 300000000)
        built = [build_variant(store, product_id, v, i, {}) for i, v in enumerate(variants)]
        row = {
            "id": product_id,
            "sync_product": {
                "name": product["name"],
                "external_id": product.get("external_id"),
                "thumbnail": product.get("thumbnail"),
                "is_ignored": bool(product.get("is_ignored", False)),
            },
            "sync_variants": built,
        }
        store.products[product_id] = row
        state.created["sync_product"] += 1
        state.created["sync_variant"] += len(built)
        return JSONResponse(_v1(sync_product_row(row)))

    async def get_sync_product(request: Request, store: StoreData | None, raw: str) -> Response:
        assert store is not None
        return JSONResponse(_v1(full_product(store, find_product(store, raw))))

    async def update_sync_product(request: Request, store: StoreData | None, raw: str) -> Response:
        assert store is not None
        product = find_product(store, raw)
        body = await json_body(request)
        changes = check_sync_product(body, partial=True)
        built = None
        if "sync_variants" in body:
            variants = body["sync_variants"]
            if not isinstance(variants, list) or not variants:
                raise fail(400, "Field sync_variants must list at least one sync variant.")
            if len(variants) > MAX_SYNC_VARIANTS:
                raise fail(
                    400,
                    f"Field sync_variants: at most {MAX_SYNC_VARIANTS} sync variants per "
                    "sync product.",
                )
            existing = {v["id"]: v for v in product["sync_variants"]}
            built = [
                build_variant(store, product["id"], v, i, existing) for i, v in enumerate(variants)
            ]
        for key in ("name", "external_id", "thumbnail", "is_ignored"):
            if key in changes:
                product["sync_product"][key] = changes[key]
        if built is not None:
            product["sync_variants"] = built
        return JSONResponse(_v1(sync_product_row(product)))

    async def delete_sync_product(request: Request, store: StoreData | None, raw: str) -> Response:
        assert store is not None
        product = find_product(store, raw)
        del store.products[product["id"]]
        return JSONResponse(_v1(full_product(store, product)))

    async def list_orders(request: Request, store: StoreData | None) -> Response:
        assert store is not None
        offset, limit = paging(request)
        status = request.query_params.get("status")
        rows = [o for o in store.orders.values() if status is None or o["status"] == status]
        rows.sort(key=lambda o: o["id"], reverse=True)
        return JSONResponse(
            _v1(
                rows[offset : offset + limit],
                paging={"total": len(rows), "offset": offset, "limit": limit},
            )
        )

    async def get_order(request: Request, store: StoreData | None, raw: str) -> Response:
        assert store is not None
        for order in store.orders.values():
            if (raw.isdigit() and order["id"] == int(raw)) or (
                raw.startswith("@") and order.get("external_id") == raw[1:]
            ):
                return JSONResponse(_v1(order))
        raise fail(404, f"Order {raw} not found.")

    async def create_mockup_task(request: Request, store: StoreData | None) -> Response:
        assert store is not None
        body = await json_body(request)
        fmt = body.get("format", "jpg")
        if fmt not in ("jpg", "png"):
            raise fail(400, "Field format must be one of: jpg, png.")
        products = body.get("products")
        if not isinstance(products, list) or not products:
            raise fail(400, "Field products is required: at least one product.")
        tasks = []
        for i, item in enumerate(products):
            where = f"products[{i}]"
            if not isinstance(item, dict):
                raise fail(400, f"{where} must be an object.")
            if item.get("source") != "catalog":
                raise fail(400, f'Field {where}.source is required ("catalog").')
            product_id = item.get("catalog_product_id")
            if not isinstance(product_id, int) or product_id not in state.catalog_products:
                raise fail(
                    400, f"Field {where}.catalog_product_id must be a Printful catalog product id."
                )
            catalog = state.catalog_products[product_id]
            variant_ids = item.get("catalog_variant_ids") or [v["id"] for v in catalog["variants"]]
            for vid in variant_ids:
                if vid not in catalog["variant_printfiles"]:
                    raise fail(
                        400,
                        f"Field {where}.catalog_variant_ids: {vid} is not a variant of "
                        f"product {product_id}.",
                    )
            placements = item.get("placements")
            if not isinstance(placements, list) or not placements:
                raise fail(400, f"Field {where}.placements is required.")
            for j, placement in enumerate(placements):
                at = f"{where}.placements[{j}]"
                if not isinstance(placement, dict):
                    raise fail(400, f"{at} must be an object.")
                for name in ("placement", "technique"):
                    if not isinstance(placement.get(name), str) or not placement[name]:
                        raise fail(400, f"Field {at}.{name} is required.")
                if placement["placement"] not in catalog["placements"]:
                    raise fail(
                        400,
                        f"Field {at}.placement {placement['placement']!r} is not a placement "
                        f"of product {product_id}.",
                    )
                layers = placement.get("layers")
                if not isinstance(layers, list) or not layers:
                    raise fail(400, f"Field {at}.layers is required.")
                for k, layer in enumerate(layers):
                    if not isinstance(layer, dict) or layer.get("type") != "file":
                        raise fail(400, f'Field {at}.layers[{k}].type must be "file".')
                    check_url(layer.get("url"), f"{at}.layers[{k}].url")
            task_id = state.next_id("mockup_task", 1000)
            task = {
                "id": task_id,
                "status": "pending",
                "catalog_variant_mockups": [],
                # `items` is required by the v2 MockupGeneratorTask schema but has no
                # properties there; the twin echoes the requested product (UNVERIFIED).
                "items": [item],
                "failure_reasons": [],
                "_links": {"self": {"href": f"{request.base_url}v2/mockup-tasks?id={task_id}"}},
                "_done_at": state.clock() + MOCKUP_SECONDS / (time_scale or 1.0),
                "_variant_ids": list(variant_ids),
                "_placements": placements,
            }
            store.mockup_tasks[task_id] = task
            state.created["mockup_task"] += 1
            tasks.append(public_task(task))
        return JSONResponse({"data": tasks, "_links": {"self": {"href": str(request.url)}}})

    async def get_mockup_tasks(request: Request, store: StoreData | None) -> Response:
        assert store is not None
        raw = request.query_params.get("id")
        if not raw:
            raise fail(400, "Parameter id is required.")
        offset, limit = paging(request)
        rows = []
        for part in raw.split(","):
            if not part.strip().isdigit() or int(part) not in store.mockup_tasks:
                raise fail(404, f"Mockup task {part} not found.")
            rows.append(public_task(store.mockup_tasks[int(part)]))
        return JSONResponse(
            {
                "data": rows[offset : offset + limit],
                "paging": {"total": len(rows), "offset": offset, "limit": limit},
                "_links": {"self": {"href": str(request.url)}},
            }
        )

    def webhook_info(config: dict[str, Any]) -> dict[str, Any]:
        return {
            "default_url": config["default_url"],
            "expires_at": config["expires_at"],
            "events": config["events"],
            "public_key": config["public_key"],
        }

    def check_hook_url(value: Any, where: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise fail(400, f"Field {where} must be a URL.")
        parts = urlsplit(value)
        local = (parts.hostname or "") in _LOCAL_HOSTS or (parts.hostname or "").endswith(
            ".localhost"
        )
        # "Webhook URL (HTTPS-only)" (v2 WebhookInfo.default_url); the twin also accepts plain
        # http for loopback hosts so a local FlashFusion can receive its deliveries.
        if not parts.netloc or not (parts.scheme == "https" or (parts.scheme == "http" and local)):
            raise fail(400, f"Field {where} must be an HTTPS URL.")
        return value

    async def create_webhook(request: Request, store: StoreData | None) -> Response:
        assert store is not None
        body = await json_body(request)
        default_url = check_hook_url(body.get("default_url"), "default_url")
        events = body.get("events")
        if not isinstance(events, list) or not events:
            raise fail(400, "Field events is required: at least one event type.")
        rows = []
        for i, event in enumerate(events):
            if not isinstance(event, dict) or event.get("type") not in WEBHOOK_EVENTS:
                raise fail(400, f"Field events[{i}].type must be a webhook event type.")
            url = check_hook_url(event.get("url"), f"events[{i}].url")
            if url is None and default_url is None:
                raise fail(400, f"Field events[{i}].url is required when default_url is not set.")
            if event["type"] == "catalog_stock_updated" and not event.get("params"):
                raise fail(400, f"Field events[{i}].params is required for catalog_stock_updated.")
            rows.append({"type": event["type"], "url": url, "params": event.get("params") or []})
        expires_at = body.get("expires_at")
        expires_epoch = None
        if expires_at is not None:
            try:
                expires_epoch = datetime.fromisoformat(
                    str(expires_at).replace("Z", "+00:00")
                ).timestamp()
            except ValueError:
                raise fail(400, "Field expires_at must be an ISO 8601 date-time.") from None
        # Only one configuration per token: this replaces the previous one (v2 createWebhook).
        config = {
            "default_url": default_url,
            "expires_at": expires_at,
            "expires_at_epoch": expires_epoch,
            "events": rows,
            # 64 random bytes as hex, like the v2 example's 128 characters (length UNVERIFIED).
            "secret_key": secrets.token_hex(64),
            "public_key": base64.b64encode(secrets.token_bytes(9)).decode(),
        }
        store.webhook = config
        state.created["webhook"] += 1
        return JSONResponse(_v1({**webhook_info(config), "secret_key": config["secret_key"]}))

    async def get_webhook(request: Request, store: StoreData | None) -> Response:
        assert store is not None
        config = store.webhook
        show_expired = request.query_params.get("show_expired") in ("true", "1")
        expired = (
            config is not None
            and config["expires_at_epoch"] is not None
            and state.wall_clock() > config["expires_at_epoch"]
        )
        if config is None or (expired and not show_expired):
            raise fail(404, "Webhook configuration not found.")
        return JSONResponse(_v1(webhook_info(config)))

    async def delete_webhook(request: Request, store: StoreData | None) -> Response:
        assert store is not None
        if store.webhook is None:
            raise fail(404, "Webhook configuration not found.")
        store.webhook = None
        return Response(status_code=204)

    # (method, regex, operation name, handler, needs store, writes, limit window)
    routes: list[tuple[str, re.Pattern[str], str, Any, bool, bool, str | None]] = []

    def route(method: str, pattern: str, name: str, handler: Any, *, store: bool = True,
              writes: bool = False, window: str | None = None) -> None:  # fmt: skip
        routes.append((method, re.compile(f"^{pattern}$"), name, handler, store, writes, window))

    route("GET", "/stores", "stores.list", get_stores, store=False)
    route("GET", "/v2/stores", "stores.list_v2", get_stores_v2, store=False)
    route("GET", "/products", "catalog.products", list_products, store=False)
    route("GET", r"/products/variant/([^/]+)", "catalog.variant", get_variant, store=False)
    route("GET", r"/products/([^/]+)", "catalog.product", get_product, store=False)
    route(
        "GET",
        r"/mockup-generator/printfiles/([^/]+)",
        "catalog.printfiles",
        get_printfiles,
        store=False,
    )
    route("POST", "/files", "files.create", post_file, writes=True)
    route("GET", "/store/products", "sync_products.list", list_sync_products)
    route("POST", "/store/products", "sync_products.create", create_sync_product, writes=True)
    route("GET", r"/store/products/([^/]+)", "sync_products.get", get_sync_product)
    route("PUT", r"/store/products/([^/]+)", "sync_products.update", update_sync_product,
          writes=True, window="product_updates")  # fmt: skip
    route(
        "DELETE",
        r"/store/products/([^/]+)",
        "sync_products.delete",
        delete_sync_product,
        writes=True,
    )
    route("GET", "/orders", "orders.list", list_orders)
    route("GET", r"/orders/([^/]+)", "orders.get", get_order)
    route("POST", "/v2/mockup-tasks", "mockup_tasks.create", create_mockup_task, writes=True,
          window="mockups")  # fmt: skip
    route("GET", "/v2/mockup-tasks", "mockup_tasks.get", get_mockup_tasks)
    route("POST", "/v2/webhooks", "webhooks.create", create_webhook, writes=True)
    route("GET", "/v2/webhooks", "webhooks.get", get_webhook)
    route("DELETE", "/v2/webhooks", "webhooks.delete", delete_webhook, writes=True)

    def resolve_store(request: Request, v2: bool) -> StoreData:
        raw = request.headers.get("x-pf-store-id")
        if raw is None:
            if account_level:
                raise fail(
                    400, "Header X-PF-Store-Id is required for an account level token.", v2=v2
                )
            return state.store()
        if not raw.strip().isdigit() or int(raw) not in state.stores:
            raise fail(404, f"Store {raw} not found (X-PF-Store-Id).", v2=v2)
        return state.stores[int(raw)]

    def limited(name: str, store_id: int) -> Response | None:
        wait = state.admit(name, store_id)
        if wait is None:
            return None
        seconds = max(1, math.ceil(wait))
        return error(
            429,
            f"Too Many Requests: the {name} limit allows "
            f"{state._windows[name].limit} per {int(state._windows[name].seconds) or 1} s.",
            headers={"retry-after": str(seconds), **state.rate_headers(store_id)},
        )

    async def dispatch(request: Request) -> Response:
        path = "/" + request.path_params["path"].strip("/")
        v2 = path.startswith("/v2/")
        state.tick()
        await state.process_files()
        match = None
        for method, pattern, name, handler, needs_store, writes, window in routes:
            found = pattern.match(path)
            if found and method == request.method:
                match = (name, handler, needs_store, writes, window, found.groups())
                break
        operation = match[0] if match else f"unknown {request.method} {path}"
        state.requests[operation] += 1
        if state.faults.take("drop_connection"):
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        if state.faults.take("hang"):
            await asyncio.sleep(state.faults.hang_seconds)
            raise httpx.ReadTimeout("The sandbox twin did not answer (hang fault).")
        if state.faults.latency:
            await asyncio.sleep(state.faults.latency)
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or token.strip() not in state.tokens:
            return error(
                401, "Unauthorized: a valid Authorization: Bearer <token> header is required."
            )
        if match is None:
            if any(p.match(path) for _, p, *_ in routes):
                return error(405, f"Method {request.method} is not allowed for {path}.", v2=v2)
            return error(404, f"Not found: {request.method} {path}", v2=v2)
        name, handler, needs_store, writes, window, groups = match
        try:
            store = (
                resolve_store(request, v2)
                if needs_store or request.headers.get("x-pf-store-id")
                else None
            )
            store_key = store.id if store is not None else 0
            if state.faults.take("rate_limit"):
                return error(
                    429,
                    "Too Many Requests (fault).",
                    headers={"retry-after": str(state.faults.retry_after)},
                )
            answer = limited("requests", store_key)
            if answer is None and window is not None:
                answer = limited(window, store_key)
            if answer is not None:
                return answer
            if state.faults.error_rate and state.rng.random() < state.faults.error_rate:
                status = state.rng.choice(state.faults.error_statuses)
                return error(status, "Internal error (injected fault).", v2=v2)
            response: Response = await handler(request, store, *groups)
        except _Answer as answer_:
            return answer_.response
        if writes and response.status_code < 300 and state.faults.take("commit_then_timeout"):
            raise httpx.ReadTimeout("The sandbox twin committed, then timed out (fault).")
        response.headers.update(state.rate_headers(store_key))
        return response

    app = Starlette(
        routes=[Route("/{path:path}", dispatch, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])]
    )
    app.state.sandbox = state
    return app

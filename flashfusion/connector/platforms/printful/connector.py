"""The Printful connector: stores, catalog print files, file library, sync products, mockup
tasks, orders and v2 signed webhooks.

Specs: v1 `../shared/specs/printful/printfulapi.json`, v2 beta `../shared/specs/printful/
openapi.json`; research `../shared/research/platform-apis.md` section 2. Sync products exist
only in v1 ("Product management ... is not available in version 2 of the API yet", v2 spec), so
products and orders use v1; mockup tasks and webhooks use v2 (v2 webhooks are signed, v1 are
not).

Find-before-create: Printful documents no idempotency key (research section 2), so every sync
product carries our `external_id` and is looked up with `GET /store/products/@{external_id}`
(v1 parameter SyncProductId: "External ID (if prefixed with @)") before any create.
"""

import asyncio
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import httpx
from pydantic import ValidationError

from flashfusion.connector.base import (
    AccountInfo,
    AuthKind,
    Capability,
    ConnectionContext,
    ConnectorAuthError,
    ConnectorError,
    CredentialField,
    PlatformConnector,
    PublishPayload,
    RateLimit,
    RemoteListing,
    RemoteOrder,
    RetryableConnectorError,
    TerminalConnectorError,
    WebhookEvent,
)
from flashfusion.connector.platforms.printful import mapper, schemas, webhooks

# v1 `limit` maximum (research section 2: "v1 ?offset=&limit= (max 100)").
PAGE_SIZE = 100
# A bound on order pages read in one sync (FlashFusion choice: 10,000 orders).
MAX_ORDER_PAGES = 100
# v1 tag "Mockup Generator": "The first request for a result should not be sooner than 10
# seconds" (a v1 figure; FlashFusion applies it to v2 tasks too: UNVERIFIED for v2).
FIRST_POLL_SECONDS = 10.0
POLL_SECONDS = 5.0
MOCKUP_TIMEOUT_SECONDS = 300.0  # FlashFusion choice

# Domain error codes (v1 tag "Errors") -> (FlashFusion code, action). Where Printful puts
# them in an error body is UNVERIFIED: the connector looks for them in error.message,
# error.reason and result.
DOMAIN_ERRORS: dict[str, tuple[str, str]] = {
    "PR-1": (
        "printful.variant_missing",
        "A variant has no Printful catalog variant id; map every variant in the catalog.",
    ),
    "PR-5": (
        "printful.product_soft_deleted",
        "The Printful product has no variants left; publish it again to recreate it.",
    ),
    "PR-6": ("printful.invalid_filter", "FlashFusion sent an invalid status filter; report it."),
    "FL-1": (
        "printful.file_format",
        "Printful cannot read the print file's format; export the design as PNG or JPG.",
    ),
    "FL-2": (
        "printful.file_url",
        "Printful refused the print-file URL; set FLASHFUSION_BASE_URL to this FlashFusion's "
        "public http(s) address and publish again.",
    ),
    "FL-3": ("printful.file_unknown", "The print file is not in Printful's file library."),
    "FL-7": (
        "printful.file_data",
        "The print file holds no valid image data; upload the design again.",
    ),
    "OR-13": (
        "printful.external_id_in_use",
        "An order with this external id already exists at Printful.",
    ),
}


class PrintfulConnector(PlatformConnector):
    name: ClassVar[str] = "printful"
    label: ClassVar[str] = "Printful"
    auth_kind: ClassVar[AuthKind] = AuthKind.api_token
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.publish,
            Capability.update,
            Capability.unpublish,
            Capability.orders,
            Capability.webhooks,
            Capability.catalog,
        }
    )
    rate_limits: ClassVar[tuple[RateLimit, ...]] = (
        RateLimit(
            "requests",
            120,
            60,
            source="Printful v1 spec tag 'Rate Limiting' (120 per minute) and v2 spec "
            "X-Ratelimit-Policy '120;w=60;' (research/platform-apis.md section 2)",
        ),
        RateLimit(
            "mockups",
            10,
            60,
            groups=frozenset({"mockup"}),
            source="Printful v1 spec POST /mockup-generator/create-task: 10 requests per 60 s "
            "for established stores (2 for new stores); applied to v2 mockup tasks (UNVERIFIED)",
        ),
        RateLimit(
            "product_updates",
            10,
            60,
            groups=frozenset({"product_update"}),
            source="Printful v1 spec PUT /store/products/{id}: 'Up to 10 requests per 60 "
            "seconds. A 60 seconds lockout is applied'",
        ),
    )
    default_base_url: ClassVar[str] = "https://api.printful.com"
    base_url_setting: ClassVar[str] = "PRINTFUL_BASE_URL"
    sandbox_service: ClassVar[str] = "printful"
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField(
            "access_token",
            "Private token",
            "Create a private token in the Printful Developer Portal (developers.printful.com/"
            "tokens) for your Manual order / API store, with the scopes sync_products, "
            "file_library, orders and webhooks.",
        ),
    )
    webhook_signature: ClassVar[str] = "x-pf-webhook-signature (hex HMAC-SHA256 of the body)"

    # --- plumbing --------------------------------------------------------------------------

    def _headers(self, ctx: ConnectionContext) -> dict[str, str]:
        store_id = ctx.account.get("store_id") or ctx.account_id
        # "required only for account level token" (v1 parameter StoreId); harmless otherwise.
        return {"X-PF-Store-Id": str(store_id)} if store_id else {}

    async def _call(
        self, ctx: ConnectionContext, method: str, path: str, *, group: str = "default", **kw: Any
    ) -> Any:
        headers = {**self._headers(ctx), **kw.pop("headers", {})}
        response = await ctx.request(method, path, group=group, headers=headers, **kw)
        if response.status_code == 204:
            return None
        try:
            body = response.json()
        except ValueError:
            raise RetryableConnectorError(
                "printful.bad_response",
                "Printful answered something unreadable; FlashFusion will try again.",
                status=response.status_code,
            ) from None
        if isinstance(body, dict) and "result" in body:
            return body["result"]
        return body

    async def _result(
        self, ctx: ConnectionContext, method: str, path: str, model: Any, **kw: Any
    ) -> Any:
        found = await self._call(ctx, method, path, **kw)
        try:
            return model.model_validate(found)
        except ValidationError:
            raise RetryableConnectorError(
                "printful.bad_response",
                "Printful answered in an unexpected shape; FlashFusion will try again.",
            ) from None

    # --- errors ----------------------------------------------------------------------------

    def translate_error(self, response: httpx.Response) -> ConnectorError:
        status = response.status_code
        message, reason = _error_text(response)
        text = message or reason or f"HTTP {status}"
        for code, (ff_code, action) in DOMAIN_ERRORS.items():
            if code in message or code in reason:
                return TerminalConnectorError(ff_code, action, platform_message=text, status=status)
        if status == 401:
            return ConnectorAuthError(
                "printful.unauthorized",
                "Printful refused the private token (expired or deleted); create a new token "
                "in the Printful Developer Portal and reconnect.",
                needs_reconnect=True,
                platform_message=text,
                status=status,
            )
        if status == 403:
            return ConnectorAuthError(
                "printful.forbidden",
                "The Printful token lacks a needed scope (sync_products, file_library, orders, "
                "webhooks); create a token with these scopes and reconnect.",
                needs_reconnect=True,
                platform_message=text,
                status=status,
            )
        if status in (419, 429):
            # 419 RATE LIMITED WARNING, 429 TOO MANY REQUESTS (v1 tag "Errors").
            from flashfusion.connector.http import retry_after_of

            return RetryableConnectorError(
                "rate_limited",
                "Printful asked FlashFusion to slow down; the call is retried once its quota "
                "allows.",
                platform_message=text,
                status=status,
                retry_after=retry_after_of(response),
            )
        if status == 404:
            return TerminalConnectorError(
                "printful.not_found",
                "The item is no longer on Printful (deleted there); publish it again to "
                "recreate it.",
                platform_message=text,
                status=status,
            )
        if status == 430:
            return TerminalConnectorError(
                "printful.invalid_json",
                "Printful could not read FlashFusion's request; report this problem.",
                platform_message=text,
                status=status,
            )
        if status == 431:
            return TerminalConnectorError(
                "printful.invalid_parameter",
                f"Printful rejected a value FlashFusion sent ({text}); check the product's "
                "variants and prices.",
                platform_message=text,
                status=status,
            )
        if status >= 500:
            return RetryableConnectorError(
                "server_error",
                "Printful had a temporary problem; FlashFusion will try again shortly.",
                platform_message=text,
                status=status,
            )
        return TerminalConnectorError(
            "printful.rejected",
            f"Printful refused the request: {text}. Fix the product and publish again.",
            platform_message=text,
            status=status,
        )

    # --- account ---------------------------------------------------------------------------

    async def verify(self, ctx: ConnectionContext) -> AccountInfo:
        found = await self._call(ctx, "GET", "/stores")
        stores = [schemas.Store.model_validate(row) for row in found or []]
        wanted = ctx.account.get("store_id") or ctx.account_id
        if wanted:
            stores = [s for s in stores if str(s.id) == str(wanted)]
        if not stores:
            raise TerminalConnectorError(
                "printful.no_store",
                "The token gives access to no Printful store; create a Manual order / API "
                "store and a token for it.",
            )
        if len(stores) > 1:
            raise TerminalConnectorError(
                "printful.store_ambiguous",
                "The token is an account-level token with several stores; create a token for "
                "the one store FlashFusion should publish to.",
            )
        store = stores[0]
        return AccountInfo(
            account_id=str(store.id),
            name=store.name,
            details={"store_id": store.id, "store_type": store.type},
        )

    # --- listings --------------------------------------------------------------------------

    async def _get_full(self, ctx: ConnectionContext, ref: str) -> schemas.SyncProductFull | None:
        try:
            return await self._result(ctx, "GET", f"/store/products/{ref}", schemas.SyncProductFull)
        except ConnectorError as e:
            if e.status == 404:
                return None
            raise

    async def find_listing(
        self, ctx: ConnectionContext, payload: PublishPayload
    ) -> RemoteListing | None:
        full = await self._get_full(ctx, "@" + payload.external_id)
        return mapper.listing_from_full(full, payload.currency) if full else None

    async def _upload_files(self, ctx: ConnectionContext, payload: PublishPayload) -> None:
        """Add the print files to the store's file library (v1 POST /files): Printful checks
        each URL here, and sync variants then reuse the file with the same URL (v1 tag
        "Products API": "If a file with the same URL already exists, it will be reused")."""
        seen: set[tuple[str, str]] = set()
        for image in mapper.print_files(payload):
            if not image.url or (image.placement, image.url) in seen:
                continue
            seen.add((image.placement, image.url))
            body = schemas.AddFileRequest(
                type=image.placement, url=image.url, filename=image.filename
            )
            await self._call(
                ctx, "POST", "/files", group="upload", json=body.model_dump(exclude_none=True)
            )

    async def create_listing(
        self, ctx: ConnectionContext, payload: PublishPayload
    ) -> RemoteListing:
        request = mapper.sync_product_request(payload)
        await self._upload_files(ctx, payload)
        product = await self._result(
            ctx,
            "POST",
            "/store/products",
            schemas.SyncProduct,
            group="publish",
            json=request.model_dump(exclude_none=True),
        )
        return mapper.listing_from_created(product, payload)

    async def update_listing(
        self, ctx: ConnectionContext, remote_id: str, payload: PublishPayload
    ) -> RemoteListing:
        mapper.sync_product_request(payload)  # refuse bad data before any call
        full = await self._get_full(ctx, remote_id)
        if full is None:
            raise TerminalConnectorError(
                "printful.not_found",
                "The product is no longer on Printful (deleted there); publish it again to "
                "recreate it.",
                status=404,
            )
        existing = {v.external_id or v.sku or "": v.id for v in full.sync_variants}
        request = mapper.sync_product_request(payload, existing)
        await self._upload_files(ctx, payload)
        product = await self._result(
            ctx,
            "PUT",
            f"/store/products/{remote_id}",
            schemas.SyncProduct,
            group="product_update",
            json=request.model_dump(exclude_none=True),
        )
        return mapper.listing_from_created(product, payload)

    async def unpublish_listing(self, ctx: ConnectionContext, remote_id: str) -> None:
        try:
            await self._call(ctx, "DELETE", f"/store/products/{remote_id}")
        except ConnectorError as e:
            if e.status != 404:  # already gone: the goal is reached
                raise

    async def get_listing(self, ctx: ConnectionContext, remote_id: str) -> RemoteListing | None:
        full = await self._get_full(ctx, remote_id)
        return mapper.listing_from_full(full) if full else None

    # --- mockups ---------------------------------------------------------------------------

    async def generate_mockups(
        self,
        ctx: ConnectionContext,
        payload: PublishPayload,
        *,
        technique: str | None = None,
        first_poll_after: float = FIRST_POLL_SECONDS,
        poll_every: float = POLL_SECONDS,
        timeout: float = MOCKUP_TIMEOUT_SECONDS,
    ) -> dict[int, list[str]]:
        """Mockup URLs per Printful catalog variant id, through v2 mockup tasks (create in the
        "mockup" group, then poll `GET /v2/mockup-tasks?id=`). Mockup URLs are temporary
        (72 h, v1 tag "Mockup Generator"): store the images, not the URLs. Sandbox callers
        pass the poll delays divided by the time scale."""
        chosen = (
            technique or payload.options.get("printful_technique") or _default_technique(payload)
        )
        request = mapper.mockup_task_request(payload, technique=chosen)
        created = await self._call(
            ctx,
            "POST",
            "/v2/mockup-tasks",
            group="mockup",
            json=request.model_dump(exclude_none=True),
        )
        ids = [str(row["id"]) for row in (created or {}).get("data", [])]
        if not ids:
            raise RetryableConnectorError(
                "printful.bad_response", "Printful created no mockup task; try again."
            )
        deadline = time.monotonic() + timeout
        await asyncio.sleep(first_poll_after)
        while True:
            found = await self._call(ctx, "GET", "/v2/mockup-tasks", params={"id": ",".join(ids)})
            tasks = [schemas.MockupTask.model_validate(row) for row in found.get("data", [])]
            failed = [t for t in tasks if t.status == "failed"]
            if failed:
                detail = "; ".join(
                    str(r.get("detail", "")) for t in failed for r in t.failure_reasons
                )
                raise TerminalConnectorError(
                    "printful.mockup_failed",
                    "Printful could not draw the mockups; check the print file fits the "
                    "product's print area and try again.",
                    platform_message=detail,
                )
            if tasks and all(t.status == "completed" for t in tasks):
                result: dict[int, list[str]] = {}
                for task in tasks:
                    for variant in task.catalog_variant_mockups:
                        result.setdefault(variant.catalog_variant_id, []).extend(
                            m.mockup_url for m in variant.mockups
                        )
                return result
            if time.monotonic() + poll_every > deadline:
                raise RetryableConnectorError(
                    "printful.mockup_timeout",
                    "Printful is still drawing the mockups; FlashFusion will check again later.",
                )
            await asyncio.sleep(poll_every)

    # --- orders ----------------------------------------------------------------------------

    async def list_orders(
        self, ctx: ConnectionContext, *, updated_since: datetime | None
    ) -> list[RemoteOrder]:
        # v1 GET /orders filters by status only (parameters status, offset, limit): the
        # `updated_since` cut is applied here.
        orders: list[RemoteOrder] = []
        offset = 0
        for _ in range(MAX_ORDER_PAGES):
            response = await ctx.request(
                "GET",
                "/orders",
                headers=self._headers(ctx),
                params={"offset": offset, "limit": PAGE_SIZE},
            )
            body = response.json()
            rows = body.get("result") or []
            for row in rows:
                order = mapper.order(schemas.Order.model_validate(row))
                if updated_since is None or (
                    order.updated_at is not None and order.updated_at >= updated_since
                ):
                    orders.append(order)
            total = (body.get("paging") or {}).get("total", 0)
            offset += len(rows)
            if not rows or offset >= total:
                break
        return orders

    async def get_order(self, ctx: ConnectionContext, remote_id: str) -> RemoteOrder | None:
        try:
            row = await self._result(ctx, "GET", f"/orders/{remote_id}", schemas.Order)
        except ConnectorError as e:
            if e.status == 404:
                return None
            raise
        return mapper.order(row)

    # --- webhooks --------------------------------------------------------------------------

    async def register_webhooks(self, ctx: ConnectionContext, url: str) -> str | None:
        """Set the store's v2 webhook configuration to `url` and return its `secret_key`.

        Printful keeps one configuration per token and "calling this method will disable the
        previous webhook configuration" (v2 createWebhook), and the secret is "visible only
        once upon configuration set-up" (v2 WebhookCreated): so registering again always
        creates a fresh configuration and a new secret, which the caller must store (the old
        secret stops being used at once)."""
        body = schemas.WebhookRequest(
            default_url=url, events=[schemas.WebhookEventConfig(type=t) for t in webhooks.EVENTS]
        )
        created = await self._result(
            ctx,
            "POST",
            "/v2/webhooks",
            schemas.WebhookCreated,
            json=body.model_dump(exclude_none=True),
        )
        return str(created.secret_key)

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, secret: str, *, now: datetime
    ) -> None:
        # Printful signs no timestamp: `now` cannot be checked (see webhooks.py).
        webhooks.verify(headers, body, secret)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        return webhooks.parse(body)


def _default_technique(payload: PublishPayload) -> str:
    """Apparel prints DTG (v2 spec mockup-task examples use "dtg" for product 71, and v1
    catalog examples list `dtg` as the default technique of apparel); other products need
    `options["printful_technique"]`."""
    from flashfusion.catalog.registry import UnknownProductType, get_product_type

    try:
        category = str(get_product_type(payload.product_type).category)
    except UnknownProductType:
        category = ""
    if category == "apparel":
        return "dtg"
    raise TerminalConnectorError(
        "printful.technique_required",
        "Choose the Printful print technique for this product (options.printful_technique) "
        "before generating mockups.",
    )


def _error_text(response: httpx.Response) -> tuple[str, str]:
    """(message, reason) from a v1 error `{code, result, error:{reason, message}}` or a v2
    problem `{type, status, title, detail|details}` (v2 spec responses)."""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    error = body.get("error")
    if isinstance(error, dict):
        message = str(error.get("message") or body.get("result") or "")
        return message, str(error.get("reason") or "")
    detail = body.get("detail") or body.get("details") or body.get("title") or ""
    if isinstance(body.get("result"), str) and not detail:
        detail = body["result"]
    return str(detail), str(body.get("title") or "")

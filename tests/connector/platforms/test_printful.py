"""The Printful connector against its sandbox twin, in-process through httpx.ASGITransport and
`connector.http.build_request` (the helpers at the top are reused by the contract test)."""

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from flashfusion.connector.base import (
    ConnectionContext,
    ConnectorAuthError,
    ConnectorError,
    ErrorKind,
    ImagePayload,
    PublishPayload,
    RetryableConnectorError,
    TerminalConnectorError,
    VariantPayload,
    WebhookRejected,
)
from flashfusion.connector.http import build_request
from flashfusion.connector.platforms.printful import PrintfulConnector
from flashfusion.sandbox.printful import create_app

TOKEN = "pf-sandbox-token-" + uuid.uuid4().hex
BASE = "http://printful.sandbox"
PRINT_URL = "https://media.example.com/designs/cat-front.png"
MOCKUP_URL = "https://media.example.com/mockups/cat-white.png"


class Recording(httpx.AsyncBaseTransport):
    """Wraps a transport and keeps every (request, response) it carried."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        kept = httpx.Response(response.status_code, headers=response.headers, content=content)
        self.exchanges.append((request, kept))
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )


def twin(**options: Any) -> Any:
    return create_app(tokens={TOKEN}, **options)


def context(
    app: Any, *, token: str = TOKEN, account_id: str | None = None
) -> tuple[ConnectionContext, Recording]:
    recording = Recording(httpx.ASGITransport(app=app))
    client = httpx.AsyncClient(transport=recording, base_url=BASE)
    connection_id = uuid.uuid4()
    credentials = {"access_token": token}
    request = build_request(
        PrintfulConnector(), connection_id=connection_id, credentials=credentials, client=client
    )
    ctx = ConnectionContext(
        connection_id=connection_id,
        platform="printful",
        account_id=account_id,
        account={},
        credentials=credentials,
        base_url=BASE,
        request=request,
    )
    return ctx, recording


def payload(
    external_id: str = "ff-0001", *, price: int = 2499, images: bool = True
) -> PublishPayload:
    return PublishPayload(
        external_id=external_id,
        title="Cat astronaut tee",
        description="A cat in space.",
        tags=["cat", "space"],
        currency="USD",
        product_type="tshirt",
        variants=[
            VariantPayload(
                sku=f"{external_id}-white-s", price=price, quantity=100, size="S",
                colour="White", catalog_variant_id="4011",
            ),
            VariantPayload(
                sku=f"{external_id}-white-m", price=price + 100, quantity=100, size="M",
                colour="White", catalog_variant_id="4012",
            ),
        ],
        images=(
            [
                ImagePayload(url=PRINT_URL, content=None, filename="cat-front.png",
                             role="print_file", placement="front"),
                ImagePayload(url=MOCKUP_URL, content=None, filename="cat-white.png"),
            ]
            if images
            else [ImagePayload(url=MOCKUP_URL, content=None, filename="cat-white.png")]
        ),
    )  # fmt: skip


# --- tests ------------------------------------------------------------------------------------

CONNECTOR = PrintfulConnector()
NOW = datetime(2026, 12, 2, tzinfo=UTC)


async def test_verify_returns_the_store() -> None:
    app = twin()
    ctx, _ = context(app)
    info = await CONNECTOR.verify(ctx)
    assert (info.account_id, info.name) == ("10001", "FlashFusion sandbox store")
    assert info.details == {"store_id": 10001, "store_type": "native"}


async def test_verify_with_a_bad_token_is_an_auth_error() -> None:
    ctx, _ = context(twin(), token="wrong")
    with pytest.raises(ConnectorAuthError) as caught:
        await CONNECTOR.verify(ctx)
    assert caught.value.code == "printful.unauthorized"
    assert caught.value.needs_reconnect is True


async def test_account_level_token_needs_the_store_id() -> None:
    app = twin(stores=[{"id": 1, "name": "One"}, {"id": 2, "name": "Two"}])
    ctx, _ = context(app)
    with pytest.raises(TerminalConnectorError) as caught:
        await CONNECTOR.verify(ctx)
    assert caught.value.code == "printful.store_ambiguous"
    ctx, recording = context(app, account_id="2")
    info = await CONNECTOR.verify(ctx)
    assert (info.account_id, info.name) == ("2", "Two")
    assert recording.exchanges[0][0].headers["x-pf-store-id"] == "2"


async def test_create_then_find_and_get() -> None:
    app = twin()
    state = app.state.sandbox
    ctx, recording = context(app)
    assert await CONNECTOR.find_listing(ctx, payload()) is None
    created = await CONNECTOR.create_listing(ctx, payload())
    assert created.state == "synced"
    assert created.pending is False
    assert created.skus == ["ff-0001-white-s", "ff-0001-white-m"]
    assert created.prices == {"ff-0001-white-s": 2499, "ff-0001-white-m": 2599}
    product = state.store().products[int(created.remote_id)]
    assert product["sync_product"]["external_id"] == "ff-0001"
    assert product["sync_product"]["thumbnail"] == MOCKUP_URL
    assert [(v["variant_id"], v["retail_price"], v["sku"], v["external_id"])
            for v in product["sync_variants"]] == [
        (4011, "24.99", "ff-0001-white-s", "ff-0001-white-s"),
        (4012, "25.99", "ff-0001-white-m", "ff-0001-white-m"),
    ]  # fmt: skip
    assert product["sync_variants"][0]["files"][0]["url"] == PRINT_URL
    assert product["sync_variants"][0]["files"][0]["type"] == "front"
    found = await CONNECTOR.find_listing(ctx, payload())
    assert found is not None
    assert found.remote_id == created.remote_id
    assert found.prices == created.prices
    got = await CONNECTOR.get_listing(ctx, created.remote_id)
    assert got is not None
    assert got.skus == created.skus
    assert got.title == "Cat astronaut tee"
    assert state.created["sync_product"] == 1
    assert state.created["file"] == 1
    paths = [(r.method, r.url.path) for r, _ in recording.exchanges]
    assert paths == [
        ("GET", "/store/products/@ff-0001"),
        ("POST", "/files"),
        ("POST", "/store/products"),
        ("GET", "/store/products/@ff-0001"),
        ("GET", f"/store/products/{created.remote_id}"),
    ]


async def test_find_before_create_after_commit_then_timeout_makes_no_duplicate() -> None:
    app = twin()
    state = app.state.sandbox
    ctx, _ = context(app)
    state.faults.commit_then_timeout = 2  # POST /files commits and times out, then the create
    codes = []
    for _ in range(3):
        try:
            if await CONNECTOR.find_listing(ctx, payload()) is None:
                await CONNECTOR.create_listing(ctx, payload())
            break
        except RetryableConnectorError as e:
            codes.append(e.code)
    assert codes == ["timeout", "timeout"]
    assert state.created["sync_product"] == 1
    assert state.duplicates() == []
    assert await CONNECTOR.find_listing(ctx, payload()) is not None


async def test_dropped_connection_is_retryable() -> None:
    app = twin()
    app.state.sandbox.faults.drop_connection = 1
    ctx, _ = context(app)
    with pytest.raises(RetryableConnectorError) as caught:
        await CONNECTOR.verify(ctx)
    assert caught.value.code == "network"


async def test_payload_without_print_file_is_terminal_with_an_action() -> None:
    ctx, recording = context(twin())
    with pytest.raises(TerminalConnectorError) as caught:
        await CONNECTOR.create_listing(ctx, payload(images=False))
    assert caught.value.code == "printful.print_file_missing"
    assert "print-file design" in caught.value.action
    assert recording.exchanges == []


async def test_update_keeps_variant_ids_and_changes_prices() -> None:
    app = twin()
    state = app.state.sandbox
    ctx, recording = context(app)
    created = await CONNECTOR.create_listing(ctx, payload())
    before = [v["id"] for v in state.store().products[int(created.remote_id)]["sync_variants"]]
    changed = payload(price=2999)
    changed.title = "Cat astronaut tee v2"
    updated = await CONNECTOR.update_listing(ctx, created.remote_id, changed)
    assert updated.prices == {"ff-0001-white-s": 2999, "ff-0001-white-m": 3099}
    product = state.store().products[int(created.remote_id)]
    assert [v["id"] for v in product["sync_variants"]] == before
    assert [v["retail_price"] for v in product["sync_variants"]] == ["29.99", "30.99"]
    assert product["sync_product"]["name"] == "Cat astronaut tee v2"
    put = [r for r, _ in recording.exchanges if r.method == "PUT"][0]
    assert [v["id"] for v in json.loads(put.content)["sync_variants"]] == before


async def test_unpublish_deletes_and_is_idempotent() -> None:
    app = twin()
    ctx, _ = context(app)
    created = await CONNECTOR.create_listing(ctx, payload())
    await CONNECTOR.unpublish_listing(ctx, created.remote_id)
    assert app.state.sandbox.store().products == {}
    await CONNECTOR.unpublish_listing(ctx, created.remote_id)  # already gone: no error
    assert await CONNECTOR.get_listing(ctx, created.remote_id) is None


async def test_mockup_task_completes_and_emits_its_webhook() -> None:
    app = twin(time_scale=1000.0)  # 10 s pending -> 10 ms
    state = app.state.sandbox
    ctx, recording = context(app)
    await CONNECTOR.register_webhooks(ctx, "https://flashfusion.example/webhooks/printful/x")
    mockups = await CONNECTOR.generate_mockups(
        ctx, payload(), first_poll_after=0.02, poll_every=0.01, timeout=5
    )
    assert sorted(mockups) == [4011, 4012]
    assert mockups[4011][0].endswith("/4011-front.png")
    posted = [r for r, _ in recording.exchanges if r.url.path == "/v2/mockup-tasks"][0]
    body = json.loads(posted.content)
    assert body["products"][0]["catalog_product_id"] == 71
    assert body["products"][0]["placements"][0]["technique"] == "dtg"
    assert [d.event["type"] for d in state.outbox] == ["mockup_task_finished"]


async def test_orders_are_listed_and_normalised() -> None:
    app = twin()
    state = app.state.sandbox
    ctx, _ = context(app)
    created = await CONNECTOR.create_listing(ctx, payload())
    variant = state.store().products[int(created.remote_id)]["sync_variants"][0]
    order = state.create_order(
        items=[{"sync_variant_id": variant["id"], "quantity": 2}],
        recipient={"name": "Ada Buyer", "email": "ada@example.com", "country_code": "GB"},
    )
    orders = await CONNECTOR.list_orders(ctx, updated_since=None)
    assert len(orders) == 1
    got = orders[0]
    assert (got.remote_id, got.status, got.platform_status) == (str(order["id"]), "paid", "pending")
    assert (got.total, got.currency, got.customer_name, got.ship_country) == (
        4998,
        "USD",
        "Ada Buyer",
        "GB",
    )
    assert [(li.sku, li.quantity, li.unit_price) for li in got.line_items] == [
        ("ff-0001-white-s", 2, 2499)
    ]
    state.update_order(order["id"], status="fulfilled", tracking_number="TRACK1")
    one = await CONNECTOR.get_order(ctx, str(order["id"]))
    assert one is not None
    assert (one.status, one.platform_status) == ("shipped", "fulfilled")
    assert await CONNECTOR.get_order(ctx, "424242") is None
    future = datetime(2999, 1, 1, tzinfo=UTC)
    assert await CONNECTOR.list_orders(ctx, updated_since=future) == []


async def test_webhooks_signed_deliveries_verify_and_parse() -> None:
    app = twin()
    state = app.state.sandbox
    ctx, _ = context(app)
    secret = await CONNECTOR.register_webhooks(ctx, "https://flashfusion.example/wh")
    assert secret is not None
    assert bytes.fromhex(secret)
    created = await CONNECTOR.create_listing(ctx, payload())
    variant = state.store().products[int(created.remote_id)]["sync_variants"][0]
    order = state.create_order(items=[{"sync_variant_id": variant["id"]}])
    delivery = state.outbox[0]
    CONNECTOR.verify_webhook(delivery.headers, delivery.body, secret, now=NOW)
    event = CONNECTOR.parse_webhook(delivery.headers, delivery.body)
    assert (event.topic, event.resource_type, event.resource_id) == (
        "order_created", "order", str(order["id"]),
    )  # fmt: skip
    assert event.event_id.startswith("pf-")
    assert len(event.event_id) == 67
    # a redelivery (retries + 1) keeps the event id
    again = json.loads(delivery.body) | {"retries": 1}
    assert CONNECTOR.parse_webhook({}, json.dumps(again).encode()).event_id == event.event_id
    forged = delivery.body.replace(b"order_created", b"order_canceled")
    with pytest.raises(WebhookRejected):
        CONNECTOR.verify_webhook(delivery.headers, forged, secret, now=NOW)
    with pytest.raises(WebhookRejected):
        CONNECTOR.verify_webhook(delivery.headers, delivery.body, "ab" * 64, now=NOW)
    with pytest.raises(WebhookRejected):
        CONNECTOR.verify_webhook({}, delivery.body, secret, now=NOW)
    with pytest.raises(WebhookRejected):
        CONNECTOR.verify_webhook(delivery.headers, delivery.body, "not-hex", now=NOW)
    # re-registering issues a new secret: the old one no longer verifies new deliveries
    second = await CONNECTOR.register_webhooks(ctx, "https://flashfusion.example/wh")
    assert second != secret
    state.update_order(order["id"], status="inprocess")
    newest = state.outbox[-1]
    CONNECTOR.verify_webhook(newest.headers, newest.body, second or "", now=NOW)
    with pytest.raises(WebhookRejected):
        CONNECTOR.verify_webhook(newest.headers, newest.body, secret, now=NOW)


async def test_429_carries_retry_after() -> None:
    app = twin()
    app.state.sandbox.faults.rate_limit = 1
    app.state.sandbox.faults.retry_after = 0
    ctx, _ = context(app)
    with pytest.raises(RetryableConnectorError) as caught:
        await CONNECTOR.verify(ctx)
    assert (caught.value.code, caught.value.status, caught.value.retry_after) == (
        "rate_limited", 429, 0.0,
    )  # fmt: skip
    assert (await CONNECTOR.verify(ctx)).account_id == "10001"


def _response(status: int, body: dict[str, object], **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def _v1_error(status: int, message: str, reason: str = "BadRequest") -> httpx.Response:
    return _response(status, {"code": status, "result": message,
                              "error": {"reason": reason, "message": message}})  # fmt: skip


@pytest.mark.parametrize(
    ("status", "message", "code", "kind"),
    [
        (401, "Unauthorized", "printful.unauthorized", ErrorKind.auth),
        (403, "Forbidden", "printful.forbidden", ErrorKind.auth),
        (404, "Not Found", "printful.not_found", ErrorKind.terminal),
        (419, "Rate limited warning", "rate_limited", ErrorKind.retryable),
        (429, "Too Many Requests", "rate_limited", ErrorKind.retryable),
        (430, "Invalid JSON", "printful.invalid_json", ErrorKind.terminal),
        (431, "Invalid parameter", "printful.invalid_parameter", ErrorKind.terminal),
        (400, "PR-1: The required field variant_id must be present", "printful.variant_missing",
         ErrorKind.terminal),
        (400, "FL-2: The file URL provided is invalid", "printful.file_url", ErrorKind.terminal),
        (400, "Something else", "printful.rejected", ErrorKind.terminal),
        (500, "Internal", "server_error", ErrorKind.retryable),
    ],
)  # fmt: skip
def test_translate_error(status: int, message: str, code: str, kind: ErrorKind) -> None:
    error = CONNECTOR.translate_error(_v1_error(status, message))
    assert isinstance(error, ConnectorError)
    assert (error.code, error.kind, error.status) == (code, kind, status)
    assert error.action
    assert error.platform_message == message


def test_translate_error_reads_retry_after_and_v2_problems() -> None:
    error = CONNECTOR.translate_error(
        _response(429, {"code": 429, "result": "slow"}, **{"retry-after": "7"})
    )
    assert error.retry_after == 7.0
    problem = _response(503, {"type": "about:blank", "status": 503, "title": "Unavailable",
                              "details": "maintenance", "instance": "x"})  # fmt: skip
    error = CONNECTOR.translate_error(problem)
    assert (error.code, error.kind, error.platform_message) == (
        "server_error", ErrorKind.retryable, "maintenance",
    )  # fmt: skip


def test_signature_matches_the_documented_scheme() -> None:
    secret = "0f" * 32
    body = b'{"type":"order_created"}'
    signature = hmac.new(bytes.fromhex(secret), body, hashlib.sha256).hexdigest()
    CONNECTOR.verify_webhook({"X-PF-Webhook-Signature": signature}, body, secret, now=NOW)

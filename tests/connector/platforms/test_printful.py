"""The Printful connector against its sandbox twin, in-process through httpx.ASGITransport and
`connector.http.build_request` (the helpers at the top are reused by the contract test); and a
publish end to end, the twin downloading the print file from the app's signed URL."""

import hashlib
import hmac
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject
from flashfusion.connector import registry
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
from flashfusion.connector.service import connection as connection_service
from flashfusion.models import MediaAsset, RenderFile, RenderFileKind, Role
from flashfusion.public_file.service import verify
from flashfusion.publishing.service import publishing
from flashfusion.sandbox import runtime
from flashfusion.sandbox.printful import create_app
from flashfusion.studio.media import get_storage
from tests.fixtures.objects import Tenant
from tests.publishing.fakes import publishable, run_jobs

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


async def test_a_print_file_without_url_is_terminal_and_sends_nothing() -> None:
    """publishing/payload.py always gives Printful images a URL; if one lacks it anyway the
    connector refuses before any call, with what to set."""
    ctx, recording = context(twin())
    bad = payload()
    bad.images[0].url = None
    with pytest.raises(TerminalConnectorError) as caught:
        await CONNECTOR.create_listing(ctx, bad)
    assert (caught.value.code, caught.value.action) == (
        "printful.print_file_url_missing",
        "FlashFusion sent the print file 'cat-front.png' without the URL Printful downloads it "
        "from; set FLASHFUSION_BASE_URL to this FlashFusion's public address and publish again, "
        "and report this problem if it persists.",
    )
    assert recording.exchanges == []


async def test_the_sync_variant_files_carry_the_url_and_filename() -> None:
    app = twin()
    ctx, recording = context(app)
    await CONNECTOR.create_listing(ctx, payload("ff-files"))
    [create] = [r for r, _ in recording.exchanges if r.url.path == "/store/products"]
    body = json.loads(create.content)
    assert [v["files"] for v in body["sync_variants"]] == [
        [{"type": "front", "url": PRINT_URL, "filename": "cat-front.png"}]
    ] * 2
    assert body["sync_product"]["thumbnail"] == MOCKUP_URL


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


# --- end to end: FlashFusion publishes to the in-process twin, which downloads the files ------


@pytest.fixture
def builtin_connectors() -> Iterator[None]:
    registry.reset()
    runtime.reset()
    yield
    runtime.reset()
    registry.reset()


async def test_publish_to_the_twin_sends_signed_file_urls_the_twin_downloads_from_the_app(
    session: AsyncSession, tenant: Tenant, app: Any, builtin_connectors: None
) -> None:
    runtime.set_webhook_target(app)
    owner = AuthSubject(tenant.users[Role.owner])
    connection = await connection_service.connect_token(
        session, owner, organization_id=tenant.organization.id, platform="printful",
        credentials=None, sandbox=True,
    )  # fmt: skip
    product = await publishable(session, tenant.organization)
    result = await publishing.publish(
        session, owner, product_ids=[product.id], connection_ids=[connection.id]
    )
    assert [i.outcome for i in result.items] == ["queued"]
    assert await run_jobs(session) == ["succeeded"]

    rows = await session.execute(
        select(RenderFile, MediaAsset)
        .join(MediaAsset, MediaAsset.id == RenderFile.media_asset_id)
        .where(RenderFile.render_id == product.render_id)
    )
    files = {render_file.kind: (render_file, asset) for render_file, asset in rows.all()}
    print_file, print_asset = files[RenderFileKind.print_file]
    mockup, _ = files[RenderFileKind.mockup]
    twin = runtime.app_for("printful").state.sandbox
    store = twin.store()
    listing = result.items[0].listing
    assert listing is not None
    [remote] = store.products.values()
    assert remote["sync_product"]["external_id"] == listing.external_id

    # The sync variants' print file is the app's signed URL of the print file...
    [variant] = remote["sync_variants"]
    [file] = variant["files"]
    url = urlsplit(file["url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"http://testserver/files/{print_file.id}"
    assert verify(str(print_file.id), parse_qs(url.query)["token"][0]) == print_file.id
    # ...which the twin downloaded through the app, once, and found a PNG of those bytes.
    assert twin.downloads == [
        {"file_id": file["id"], "status_code": 200, "sha256": print_asset.sha256, "outcome": "ok"}
    ]
    content = await get_storage().get(print_asset.storage_key)
    assert store.files[file["id"]] | {"url": "-"} == {
        "id": file["id"], "type": "front", "url": "-", "filename": "print_file.png",
        "options": [], "status": "ok", "created": store.files[file["id"]]["created"],
        "visible": True, "hash": hashlib.md5(content, usedforsecurity=False).hexdigest(),
        "mime_type": "image/png", "size": len(content), "width": print_asset.width,
        "height": print_asset.height, "dpi": 150,
        "preview_url": f"https://files.sandbox.printful.invalid/{file['id']}_preview.png",
        "thumbnail_url": f"https://files.sandbox.printful.invalid/{file['id']}_thumb.png",
    }  # fmt: skip
    assert variant["files"][0]["status"] == "ok"
    # The thumbnail is the mockup's signed URL (Printful's sync_product.thumbnail).
    thumbnail = urlsplit(remote["sync_product"]["thumbnail"])
    assert thumbnail.path == f"/files/{mockup.id}"
    assert verify(str(mockup.id), parse_qs(thumbnail.query)["token"][0]) == mockup.id


# --- the twin's file downloads -------------------------------------------------------------------


async def test_the_twin_marks_an_unusable_download_failed_and_an_unreachable_host_waiting() -> None:
    answers = {
        "https://ff.example/ok.png": httpx.Response(200, content=_png()),
        "https://ff.example/text": httpx.Response(200, content=b"<html>login</html>"),
        "https://ff.example/gone": httpx.Response(404, json={"error": "x"}),
    }

    async def fetch(url: str) -> httpx.Response | None:
        if url == "https://ff.example/down":
            raise httpx.ConnectError("refused")
        return answers.get(url)

    app = twin(fetch=fetch)
    state = app.state.sandbox
    ctx, _ = context(app)
    for url in [*answers, "https://ff.example/down", "https://elsewhere.example/x.png"]:
        added = await CONNECTOR._call(ctx, "POST", "/files", json={"url": url})
        assert added["status"] == "waiting"
        assert "hash" not in added
    # Each file was downloaded before the twin's next request; the last one is still waiting.
    assert len(state.downloads) == 4
    assert await state.process_files() == 1
    assert {row["url"]: row["status"] for row in state.store().files.values()} == {
        "https://ff.example/ok.png": "ok",
        "https://ff.example/text": "failed",
        "https://ff.example/gone": "failed",
        "https://ff.example/down": "failed",
        "https://elsewhere.example/x.png": "waiting",
    }
    assert [d["outcome"] for d in state.downloads] == [
        "ok", "failed: not a PNG or JPEG image", "failed: download", "failed: ConnectError",
        "not fetched: the twin cannot reach this host",
    ]  # fmt: skip
    # Processed once: a later request downloads nothing again.
    await CONNECTOR._call(ctx, "GET", "/stores")
    assert len(state.downloads) == 5


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 3), "white").save(out, format="PNG")
    return out.getvalue()


async def test_the_twin_fetches_app_urls_in_process_and_fails_a_file_the_app_refuses(
    app: Any, builtin_connectors: None
) -> None:
    """The default fetch: a URL of the app (BASE_URL) goes to the app in-process; a forged
    token gets the app's 404, so the file is `failed`, as Printful marks a file it cannot
    download; another host is not fetched at all."""
    runtime.set_webhook_target(app)
    pf = twin()
    ctx, _ = context(pf)
    forged = f"http://testserver/files/{uuid.uuid4()}?token=1999999999.{'A' * 43}"
    await CONNECTOR._call(ctx, "POST", "/files", json={"url": forged})
    await CONNECTOR._call(ctx, "POST", "/files", json={"url": "https://elsewhere.example/a.png"})
    await pf.state.sandbox.process_files()
    assert [(d["status_code"], d["outcome"]) for d in pf.state.sandbox.downloads] == [
        (404, "failed: download"),
        (None, "not fetched: the twin cannot reach this host"),
    ]
    assert [f["status"] for f in pf.state.sandbox.store().files.values()] == ["failed", "waiting"]

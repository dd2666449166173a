"""The Etsy connector against the Etsy twin in-process (and shared helpers for the contract test)."""

import base64
import hashlib
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from flashfusion.config import get_settings
from flashfusion.connector import breaker
from flashfusion.connector.base import (
    ConnectionContext,
    ConnectorAuthError,
    ImagePayload,
    PublishPayload,
    RetryableConnectorError,
    TerminalConnectorError,
    TokenSet,
    VariantPayload,
    WebhookRejected,
)
from flashfusion.connector.http import build_request, sandbox_base_url
from flashfusion.connector.platforms.etsy import EtsyConnector, webhooks
from flashfusion.sandbox import runtime
from flashfusion.sandbox.etsy import EtsySandboxState, create_app

BASE = sandbox_base_url("etsy")  # the in-process twin's origin, as connector/http.py uses it
REDIRECT = "https://flashfusion.test/connections/etsy/callback"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SCALE = 50.0  # quota windows divided by this in the twin and in FlashFusion's limiter


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


def app_keys() -> dict[str, str]:
    return runtime.credentials_for("etsy")


def twin(**options: Any) -> Any:
    keys = app_keys()
    options.setdefault("time_scale", SCALE)
    return create_app(apps={keys["keystring"]: keys["shared_secret"]}, **options)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


async def authorize(http: httpx.AsyncClient, connector: EtsyConnector, challenge: str) -> str:
    """Follow the connector's authorization URL on the twin with auto-approval; the code."""
    url = connector.authorization_url(
        redirect_uri=REDIRECT, state="st-1", code_challenge=challenge, scopes=[], sandbox=True
    )
    query = dict(parse_qsl(urlsplit(url).query))
    response = await http.get("/oauth/connect", params=query | {"auto_approve": "1"})
    assert response.status_code == 302
    back = dict(parse_qsl(urlsplit(response.headers["location"]).query))
    assert back["state"] == "st-1"
    return back["code"]


async def connect(http: httpx.AsyncClient, connector: EtsyConnector) -> TokenSet:
    verifier, challenge = pkce()
    code = await authorize(http, connector, challenge)
    return await connector.exchange_code(
        http, code=code, code_verifier=verifier, redirect_uri=REDIRECT
    )


def context(
    app: Any,
    tokens: TokenSet,
    *,
    account: dict[str, Any] | None = None,
    connection_id: uuid.UUID | None = None,
) -> tuple[ConnectionContext, Recording]:
    """A context; give `connection_id` for a second context of the same connection (it then
    shares that connection's rate-limit buckets, as two workers of one account do)."""
    recording = Recording(httpx.ASGITransport(app=app))
    client = httpx.AsyncClient(transport=recording, base_url=BASE)
    connection_id = connection_id or uuid.uuid4()
    credentials = {"access_token": tokens.access_token, **app_keys()}
    state = app.state.sandbox
    shop_id = state.shop_of(state.default_user_id)
    request = build_request(
        EtsyConnector(),
        connection_id=connection_id,
        credentials=credentials,
        client=client,
        account_key=f"etsy-test-{connection_id}",
        sandbox=True,
    )
    ctx = ConnectionContext(
        connection_id=connection_id,
        platform="etsy",
        account_id=str(shop_id),
        account=account if account is not None else {"shop_id": shop_id},
        credentials=credentials,
        base_url=BASE,
        request=request,
    )
    return ctx, recording


def payload(
    external_id: str = "ff-0001", *, price: int = 2499, images: int = 2, **options: Any
) -> PublishPayload:
    return PublishPayload(
        external_id=external_id,
        title="Cat astronaut tee 🚀",
        description="A cat in space.",
        tags=["cat", "space!", "astronaut"],
        currency="USD",
        product_type="t-shirt",
        variants=[
            VariantPayload(sku=f"{external_id}-black-s", price=price, quantity=20, size="S",
                           colour="Black"),
            VariantPayload(sku=f"{external_id}-black-m", price=price + 200, quantity=30,
                           size="M", colour="Black"),
        ],
        images=[
            ImagePayload(url=None, content=PNG, filename=f"mockup-{n}.png", alt_text=f"View {n}")
            for n in range(1, images + 1)
        ]
        + [ImagePayload(url=None, content=PNG, filename="print.png", role="print_file")],
        options={"who_made": "i_did", **options},
    )  # fmt: skip


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
async def _isolated(session: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    # The breaker's units of work run in the test's rolled-back transaction; quota windows
    # are time-scaled in FlashFusion's limiter as in the twin.
    monkeypatch.setattr(get_settings(), "SANDBOX_TIME_SCALE", SCALE)
    breaker.breaker.reset()
    yield
    await breaker.breaker.drain()


@pytest.fixture
def app() -> Any:
    return twin()


@pytest.fixture
def state(app: Any) -> EtsySandboxState:
    sandbox: EtsySandboxState = app.state.sandbox
    return sandbox


@pytest.fixture
async def http(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        yield client


@pytest.fixture
def connector() -> EtsyConnector:
    return EtsyConnector()


@pytest.fixture
async def ctx(app: Any, http: httpx.AsyncClient, connector: EtsyConnector) -> ConnectionContext:
    tokens = await connect(http, connector)
    return context(app, tokens)[0]


# --- OAuth -----------------------------------------------------------------------------------


async def test_pkce_round_trip_gives_user_prefixed_tokens(
    http: httpx.AsyncClient, connector: EtsyConnector, state: EtsySandboxState
) -> None:
    before = datetime.now(UTC)
    tokens = await connect(http, connector)
    assert tokens.access_token.startswith(f"{state.default_user_id}.")
    assert tokens.refresh_token is not None
    assert tokens.refresh_token.startswith(f"{state.default_user_id}.")
    assert tokens.expires_at is not None
    assert 3599 <= (tokens.expires_at - before).total_seconds() <= 3601


async def test_authorization_url_carries_pkce_and_scopes(connector: EtsyConnector) -> None:
    url = connector.authorization_url(
        redirect_uri=REDIRECT, state="s", code_challenge="abc", scopes=[]
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://www.etsy.com/oauth/connect"
    assert "scope=listings_r%20listings_w%20listings_d%20shops_r%20transactions_r" in url
    query = dict(parse_qsl(parts.query))
    assert query["code_challenge_method"] == "S256"
    assert query["response_type"] == "code"
    assert (query["code_challenge"], query["state"], query["redirect_uri"]) == (
        "abc",
        "s",
        REDIRECT,
    )


async def test_wrong_verifier_is_invalid_grant(
    http: httpx.AsyncClient, connector: EtsyConnector
) -> None:
    _, challenge = pkce()
    code = await authorize(http, connector, challenge)
    with pytest.raises(ConnectorAuthError) as caught:
        await connector.exchange_code(
            http, code=code, code_verifier="not-the-verifier" * 3, redirect_uri=REDIRECT
        )
    assert caught.value.code == "etsy.invalid_grant"
    assert caught.value.needs_reconnect is True
    assert caught.value.status == 400


async def test_refresh_rotates_and_the_old_token_dies(
    http: httpx.AsyncClient, connector: EtsyConnector, state: EtsySandboxState
) -> None:
    first = await connect(http, connector)
    assert first.refresh_token is not None
    second = await connector.refresh(http, refresh_token=first.refresh_token)
    assert second.refresh_token not in (None, first.refresh_token)
    assert second.access_token != first.access_token
    with pytest.raises(ConnectorAuthError) as caught:
        await connector.refresh(http, refresh_token=first.refresh_token)
    assert caught.value.needs_reconnect is True
    assert caught.value.platform_message == "invalid_grant: refresh_token is revoked"
    assert state.refresh_calls == 2


async def test_revoked_grant_needs_reconnect(
    http: httpx.AsyncClient, connector: EtsyConnector, state: EtsySandboxState
) -> None:
    tokens = await connect(http, connector)
    assert tokens.refresh_token is not None
    state.revoke_grant(state.default_user_id)
    with pytest.raises(ConnectorAuthError) as caught:
        await connector.refresh(http, refresh_token=tokens.refresh_token)
    assert (caught.value.code, caught.value.needs_reconnect) == ("etsy.invalid_grant", True)


async def test_refresh_transient_failures_are_retryable(connector: EtsyConnector) -> None:
    def failing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": "Server Error"})

    def dropped(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    for handler in (failing, dropped):
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            with pytest.raises(RetryableConnectorError):
                await connector.refresh(client, refresh_token="1.x")


async def test_refresh_without_refresh_token_keeps_none(connector: EtsyConnector) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"access_token": "1.new", "token_type": "Bearer", "expires_in": 3600}
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        tokens = await connector.refresh(client, refresh_token="1.old")
    assert (tokens.access_token, tokens.refresh_token) == ("1.new", None)
    assert str(seen[0].url) == "https://api.etsy.com/v3/public/oauth/token"
    assert dict(parse_qsl(seen[0].content.decode()))["grant_type"] == "refresh_token"


async def test_expired_access_token_is_a_refreshable_auth_error(
    ctx: ConnectionContext, connector: EtsyConnector, state: EtsySandboxState
) -> None:
    state.expire_access_tokens()
    with pytest.raises(ConnectorAuthError) as caught:
        await connector.verify(ctx)
    assert (caught.value.code, caught.value.needs_reconnect) == ("etsy.token_invalid", False)


# --- account ---------------------------------------------------------------------------------


async def test_verify_reports_shop_user_and_profiles(
    ctx: ConnectionContext, connector: EtsyConnector, state: EtsySandboxState
) -> None:
    info = await connector.verify(ctx)
    shop_id = state.shop_of(state.default_user_id)
    profile = next(iter(state.shipping_profiles.values()))
    ready = next(iter(state.readiness.values()))
    assert info.account_id == str(shop_id)
    assert info.name == "FlashFusionSandbox"
    assert info.details == {
        "shop_id": shop_id,
        "user_id": state.default_user_id,
        "shipping_profile_id": profile["shipping_profile_id"],
        "readiness_state_id": ready["readiness_state_id"],
        "currency_code": "USD",
    }


async def test_missing_shared_secret_is_translated(
    app: Any, http: httpx.AsyncClient, connector: EtsyConnector
) -> None:
    tokens = await connect(http, connector)
    ctx, _ = context(app, tokens)
    credentials = dict(ctx.credentials) | {"shared_secret": ""}
    ctx.credentials = credentials
    bare = build_request(
        connector, connection_id=ctx.connection_id, credentials=credentials,
        client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE),
        account_key=f"bare-{ctx.connection_id}", sandbox=True,
    )  # fmt: skip
    ctx.request = bare
    with pytest.raises(TerminalConnectorError) as caught:
        await connector.verify(ctx)
    assert caught.value.code == "etsy.app_key_invalid"
    assert caught.value.platform_message == "Shared secret is required in x-api-key header"
    assert caught.value.status == 403


# --- listings --------------------------------------------------------------------------------


async def test_create_listing_draft_inventory_images_activate(
    ctx: ConnectionContext, connector: EtsyConnector, state: EtsySandboxState
) -> None:
    remote = await connector.create_listing(ctx, payload())
    listing = state.listings[int(remote.remote_id)]
    assert listing["state"] == "active" == remote.state
    assert listing["title"] == "Cat astronaut tee" == remote.title
    assert listing["tags"] == ["cat", "space", "astronaut"]
    assert listing["taxonomy_id"] == 90111  # "T-shirts", matched from product_type "t-shirt"
    assert (listing["who_made"], listing["when_made"]) == ("i_did", "made_to_order")
    assert [i["alt_text"] for i in listing["images"]] == ["View 1", "View 2"]
    assert remote.skus == ["ff-0001-black-s", "ff-0001-black-m"]
    assert remote.prices == {"ff-0001-black-s": 2499, "ff-0001-black-m": 2699}
    assert remote.quantities == {"ff-0001-black-s": 20, "ff-0001-black-m": 30}
    assert listing["quantity"] == 50
    products = listing["inventory"]["products"]
    assert [p["property_values"][0]["values"] for p in products] == [["S"], ["M"]]
    assert listing["inventory"]["price_on_property"] == [99100]  # only size varies
    assert remote.url == f"https://www.etsy.com/listing/{remote.remote_id}"
    # Find-before-create finds it, and creating again makes nothing new.
    found = await connector.find_listing(ctx, payload())
    assert found is not None
    assert found.remote_id == remote.remote_id
    again = await connector.create_listing(ctx, payload())
    assert again.remote_id == remote.remote_id
    assert state.created["listing"] == 1
    assert state.created["image"] == 2
    assert state.duplicates() == {}
    assert state.max_rate_seen["per_second"] <= 10


async def test_a_first_create_sends_four_kinds_of_call_and_reads_nothing_back(
    ctx: ConnectionContext, connector: EtsyConnector, state: EtsySandboxState
) -> None:
    # Another product of the shop, live already: a look-up would have to page past it.
    await connector.create_listing(ctx, payload("ff-0009"))
    state.requests.clear()
    # Publishing says no item of this listing can be on Etsy yet (publishing/tasks.py
    # `_first_create`): no look-up, no image count of the new draft, no read-back.
    remote = await connector.create_listing(ctx, payload(first_create=True))
    assert dict(state.requests) == {
        # This test's account has no profile ids (a verified connection's has: verify).
        "getShopShippingProfiles": 1,
        "getShopReadinessStateDefinitions": 1,
        "createDraftListing": 1,
        "updateListingInventory": 1,
        "uploadListingImage": 2,
        "updateListing": 1,
    }
    # What it answers is what Etsy holds (built from the PATCH and PUT answers).
    assert remote == await connector.get_listing(ctx, remote.remote_id)
    assert (remote.state, remote.skus) == ("active", ["ff-0001-black-s", "ff-0001-black-m"])
    assert remote.url == f"https://www.etsy.com/listing/{remote.remote_id}"
    assert state.created["listing"] == 2
    # Without the option the same create looks first, and finds it: nothing new.
    state.requests.clear()
    again = await connector.create_listing(ctx, payload())
    assert again.remote_id == remote.remote_id
    assert state.requests["getListingsByShop"] == 2  # drafts (none), then active: found
    assert state.requests["createDraftListing"] == 0
    assert state.created["listing"] == 2


@pytest.mark.parametrize(
    "operation",
    ["createDraftListing", "updateListingInventory", "uploadListingImage", "updateListing"],
)
async def test_resume_after_commit_then_timeout(
    ctx: ConnectionContext, connector: EtsyConnector, state: EtsySandboxState, operation: str
) -> None:
    state.faults.operations = {operation}
    state.faults.commit_then_timeout = 1
    sent_at = datetime.now(UTC).timestamp()  # what publishing records before the create
    with pytest.raises(RetryableConnectorError) as caught:
        await connector.create_listing(ctx, payload())
    assert caught.value.code == "timeout"
    assert state.errors["timeout_after_commit"] == 1
    retry = payload(create_sent_at=sent_at)
    assert await connector.find_listing(ctx, retry) is None or operation == "updateListing"
    remote = await connector.create_listing(ctx, retry)
    assert remote.state == "active"
    assert state.created["listing"] == 1
    assert state.created["image"] == 2
    assert len(state.listings) == 1
    assert state.duplicates() == {}


async def test_a_same_title_draft_is_never_taken_without_a_lost_create(
    ctx: ConnectionContext, connector: EtsyConnector, state: EtsySandboxState
) -> None:
    # Another product with the same title is half-way through its create: a draft, no SKUs.
    state.faults.operations = {"updateListingInventory"}
    state.faults.drop_connection = 1
    with pytest.raises(RetryableConnectorError):
        await connector.create_listing(ctx, payload("ff-0001"))
    [theirs] = state.listings
    assert state.listings[theirs]["state"] == "draft"
    # This product never sent a create: the draft is not its.
    assert await connector.find_listing(ctx, payload("ff-0002")) is None
    mine = await connector.create_listing(ctx, payload("ff-0002"))
    assert int(mine.remote_id) != theirs
    assert mine.skus == ["ff-0002-black-s", "ff-0002-black-m"]
    # Nor is it when this product's own create was sent after that draft was made.
    later = datetime.now(UTC).timestamp() + 3600
    assert await connector.find_listing(ctx, payload("ff-0003", create_sent_at=later)) is None
    assert state.listings[theirs]["state"] == "draft"
    assert state.created["listing"] == 2


async def test_a_new_drafts_id_is_reported_before_it_is_finished(
    ctx: ConnectionContext, connector: EtsyConnector, state: EtsySandboxState
) -> None:
    recorded: list[str] = []

    async def record(remote_id: str) -> None:
        recorded.append(remote_id)

    ctx.on_created = record
    state.faults.operations = {"updateListingInventory"}
    state.faults.drop_connection = 1
    with pytest.raises(RetryableConnectorError):
        await connector.create_listing(ctx, payload())
    [draft_id] = state.listings
    assert recorded == [str(draft_id)]
    # The next try starts from that id (publishing's hint): one read, no scan of the shop,
    # and the draft gets this version's content before it goes live.
    state.listings[draft_id]["title"] = "Stale title"
    state.requests.clear()
    remote = await connector.create_listing(ctx, payload(remote_id_hint=str(draft_id)))
    assert (remote.remote_id, remote.state, remote.title) == (
        str(draft_id),
        "active",
        "Cat astronaut tee",
    )
    assert state.requests["getListingsByShop"] == 0
    assert recorded == [str(draft_id)]
    assert state.created["listing"] == 1


async def test_dropped_connection_is_retryable_and_then_completes(
    ctx: ConnectionContext, connector: EtsyConnector, state: EtsySandboxState
) -> None:
    state.faults.operations = {"uploadListingImage"}
    state.faults.drop_connection = 1
    with pytest.raises(RetryableConnectorError) as caught:
        await connector.create_listing(ctx, payload())
    assert caught.value.code == "network"
    remote = await connector.create_listing(ctx, payload())
    assert remote.state == "active"
    assert (state.created["listing"], state.created["image"]) == (1, 2)


async def test_update_changes_price_inventory_and_content(
    ctx: ConnectionContext, connector: EtsyConnector, state: EtsySandboxState
) -> None:
    remote = await connector.create_listing(ctx, payload())
    changed = payload(price=2999)
    changed.title = "Cat astronaut tee, new"
    changed.variants[1].quantity = 5
    updated = await connector.update_listing(ctx, remote.remote_id, changed)
    assert updated.prices == {"ff-0001-black-s": 2999, "ff-0001-black-m": 3199}
    assert updated.quantities == {"ff-0001-black-s": 20, "ff-0001-black-m": 5}
    assert updated.title == "Cat astronaut tee, new"
    assert state.listings[int(remote.remote_id)]["quantity"] == 25
    assert state.created["image"] == 2  # images already there are not uploaded again


async def test_unpublish_deactivates_and_gone_is_fine(
    ctx: ConnectionContext, connector: EtsyConnector, state: EtsySandboxState
) -> None:
    remote = await connector.create_listing(ctx, payload())
    await connector.unpublish_listing(ctx, remote.remote_id)
    assert state.listings[int(remote.remote_id)]["state"] == "inactive"
    seen = await connector.get_listing(ctx, remote.remote_id)
    assert seen is not None
    assert seen.state == "inactive"
    del state.listings[int(remote.remote_id)]
    await connector.unpublish_listing(ctx, remote.remote_id)
    assert await connector.get_listing(ctx, remote.remote_id) is None


async def test_missing_shipping_profile_says_what_to_do(
    app: Any, http: httpx.AsyncClient, connector: EtsyConnector, state: EtsySandboxState
) -> None:
    tokens = await connect(http, connector)
    ctx, _ = context(app, tokens)
    state.shipping_profiles.clear()
    with pytest.raises(TerminalConnectorError) as caught:
        await connector.create_listing(ctx, payload())
    assert caught.value.code == "etsy.shipping_profile_missing"
    assert (
        caught.value.action
        == "Create a shipping profile in Etsy → Settings → Shipping, then retry."
    )
    assert state.created["listing"] == 0


async def test_unmatched_product_type_and_missing_who_made(
    ctx: ConnectionContext, connector: EtsyConnector
) -> None:
    odd = payload()
    odd.product_type = "spaceship"
    with pytest.raises(TerminalConnectorError) as caught:
        await connector.create_listing(ctx, odd)
    assert caught.value.code == "etsy.taxonomy_missing"
    nobody = payload()
    nobody.options = {}
    with pytest.raises(TerminalConnectorError) as caught:
        await connector.create_listing(ctx, nobody)
    assert caught.value.code == "etsy.who_made_missing"


async def test_variation_without_a_property_is_refused(
    ctx: ConnectionContext, connector: EtsyConnector, state: EtsySandboxState
) -> None:
    mug = payload(taxonomy_id=90211)  # "Mugs": colour only, in the twin's taxonomy
    with pytest.raises(TerminalConnectorError) as caught:
        await connector.create_listing(ctx, mug)
    assert caught.value.code == "etsy.variation_property_missing"
    assert caught.value.platform_message == "the Etsy category has no size variation"
    assert state.created["listing"] == 0


# --- orders ----------------------------------------------------------------------------------


async def test_receipts_become_orders(
    ctx: ConnectionContext, connector: EtsyConnector, state: EtsySandboxState
) -> None:
    remote = await connector.create_listing(ctx, payload())
    shop_id = state.shop_of(state.default_user_id)
    receipt = state.create_receipt(
        shop_id, int(remote.remote_id), "ff-0001-black-m", 2,
        buyer_name="Ada Buyer", buyer_email="ada@example.com", country_iso="DE",
    )  # fmt: skip
    orders = await connector.list_orders(ctx, updated_since=datetime.now(UTC) - timedelta(hours=1))
    assert len(orders) == 1
    order = orders[0]
    assert order.remote_id == str(receipt["receipt_id"])
    assert (order.status, order.platform_status, order.currency) == ("paid", "paid", "USD")
    assert order.total == 2 * 2699 + 499
    assert (order.customer_name, order.customer_email, order.ship_country) == (
        "Ada Buyer", "ada@example.com", "DE",
    )  # fmt: skip
    item = order.line_items[0]
    assert (item.sku, item.quantity, item.unit_price) == ("ff-0001-black-m", 2, 2699)
    later = await connector.list_orders(ctx, updated_since=datetime.now(UTC) + timedelta(hours=1))
    assert later == []
    single = await connector.get_order(ctx, str(receipt["receipt_id"]))
    assert single == order
    assert await connector.get_order(ctx, "999999999") is None


# --- webhooks --------------------------------------------------------------------------------


async def test_order_paid_webhook_verifies_and_parses(
    ctx: ConnectionContext, connector: EtsyConnector, state: EtsySandboxState
) -> None:
    remote = await connector.create_listing(ctx, payload())
    shop_id = state.shop_of(state.default_user_id)
    receipt = state.create_receipt(shop_id, int(remote.remote_id), "ff-0001-black-s")
    delivery = state.outbox[-1]
    headers, body = delivery["headers"], delivery["body"]
    now = datetime.now(UTC)
    connector.verify_webhook(headers, body, state.webhook_secret, now=now)
    event = connector.parse_webhook(headers, body)
    assert event.topic == "ORDER_PAID"
    assert (event.resource_type, event.resource_id) == ("receipt", str(receipt["receipt_id"]))
    assert event.event_id == json.loads(body)["event_id"]
    assert event.occurred_at is not None

    with pytest.raises(WebhookRejected, match="no webhook-signature matches"):
        connector.verify_webhook(headers, body + b" ", state.webhook_secret, now=now)
    other = "whsec_" + base64.b64encode(b"another secret of 24 by").decode()
    with pytest.raises(WebhookRejected, match="no webhook-signature matches"):
        connector.verify_webhook(headers, body, other, now=now)
    with pytest.raises(WebhookRejected, match="older than 5 minutes"):
        connector.verify_webhook(
            headers, body, state.webhook_secret, now=now + timedelta(minutes=6)
        )
    with pytest.raises(WebhookRejected, match="in the future"):
        connector.verify_webhook(
            headers, body, state.webhook_secret, now=now - timedelta(minutes=6)
        )
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        partial = {k: v for k, v in headers.items() if k != name}
        with pytest.raises(WebhookRejected, match=f"missing header\\(s\\): {name}"):
            connector.verify_webhook(partial, body, state.webhook_secret, now=now)
    # Several signatures (secret rotation): one valid among them is enough.
    several = dict(headers) | {"webhook-signature": "v1,AAAA " + headers["webhook-signature"]}
    connector.verify_webhook(several, body, state.webhook_secret, now=now)
    forged = dict(headers) | {
        "webhook-signature": webhooks.sign(
            other, headers["webhook-id"], int(headers["webhook-timestamp"]), body
        )
    }
    with pytest.raises(WebhookRejected):
        connector.verify_webhook(forged, body, state.webhook_secret, now=now)


async def test_register_webhooks_points_the_twin_at_the_connection(
    ctx: ConnectionContext, connector: EtsyConnector, state: EtsySandboxState
) -> None:
    url = "https://flashfusion.test/webhooks/etsy/abc"
    assert await connector.register_webhooks(ctx, url) is None
    shop_id = state.shop_of(state.default_user_id)
    assert state.webhook_urls == {shop_id: url}


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (400, {"error": "shipping_profile_id 5 is not a shipping profile"}, TerminalConnectorError, "etsy.shipping_profile_invalid"),
        (400, {"error": "quantity must be positive"}, TerminalConnectorError, "etsy.invalid_data"),
        (401, {"error": "invalid_token", "error_description": "access token is expired"}, ConnectorAuthError, "etsy.token_invalid"),
        (403, {"error": "insufficient_scope: needs listings_w"}, ConnectorAuthError, "etsy.insufficient_scope"),
        (403, {"error": "Invalid API key."}, TerminalConnectorError, "etsy.app_key_invalid"),
        (404, {"error": "Listing 1 does not exist"}, TerminalConnectorError, "etsy.not_found"),
        (409, {"error": "conflict"}, RetryableConnectorError, "etsy.conflict"),
        (500, {"error": "Server Error"}, RetryableConnectorError, "etsy.server_error"),
    ],
)  # fmt: skip
def test_translate_error(
    connector: EtsyConnector, status: int, body: dict[str, str], kind: type, code: str
) -> None:
    error = connector.translate_error(httpx.Response(status, json=body))
    assert type(error) is kind
    assert error.code == code
    assert error.action
    assert error.status == status


# --- the Etsy category ---------------------------------------------------------------------


async def test_the_category_is_the_connection_default_then_the_catalogs_then_the_name(
    ctx: ConnectionContext, connector: EtsyConnector, state: EtsySandboxState
) -> None:
    # publishing/payload.py passes the catalog's category of the product type as
    # etsy_taxonomy_id: used when the product type's name matches no Etsy category.
    odd = payload("ff-0101", etsy_taxonomy_id=90112)
    odd.product_type = "spaceship"
    remote = await connector.create_listing(ctx, odd)
    assert state.listings[int(remote.remote_id)]["taxonomy_id"] == 90112
    # The creator's connection-wide default (taxonomy_id) wins over the catalog's.
    both = payload("ff-0102", etsy_taxonomy_id=90112, taxonomy_id=90111)
    remote = await connector.create_listing(ctx, both)
    assert state.listings[int(remote.remote_id)]["taxonomy_id"] == 90111
    # Neither: the name-based match ("t-shirt" -> "T-shirts").
    remote = await connector.create_listing(ctx, payload("ff-0103"))
    assert state.listings[int(remote.remote_id)]["taxonomy_id"] == 90111
    assert state.created["listing"] == 3


async def test_a_category_that_is_no_id_says_what_to_do(
    ctx: ConnectionContext, connector: EtsyConnector, state: EtsySandboxState
) -> None:
    with pytest.raises(TerminalConnectorError) as caught:
        await connector.create_listing(ctx, payload("ff-0104", etsy_taxonomy_id="tees"))
    assert caught.value.code == "etsy.taxonomy_invalid"
    assert (
        caught.value.platform_message == "etsy_taxonomy_id='tees' is not an Etsy seller-taxonomy id"
    )
    assert state.created["listing"] == 0


# --- find-before-create: what it costs -----------------------------------------------------


def crowd(state: EtsySandboxState, model: dict[str, Any], counts: dict[str, int]) -> None:
    """Fill the shop with other listings (not ours: other SKUs), older than ours."""
    import copy

    next_id = max(state.listings) + 1
    for listing_state, count in counts.items():
        for _ in range(count):
            other = copy.deepcopy(model)
            other["listing_id"] = next_id
            other["state"] = listing_state
            other["title"] = f"Someone else's item {next_id}"
            other["created_timestamp"] = model["created_timestamp"] - 10_000 - next_id
            for i, product in enumerate(other["inventory"]["products"]):
                product["sku"] = f"other-{next_id}-{i}"
            state.listings[next_id] = other
            next_id += 1


async def seeded_shop(
    ctx: ConnectionContext, connector: EtsyConnector, state: EtsySandboxState
) -> str:
    """A shop of 250 active, 20 draft, 60 inactive, 80 sold-out and 80 expired listings of
    others, plus one of ours (ff-0001, active); its remote id."""
    ours = await connector.create_listing(ctx, payload())
    model = state.listings[int(ours.remote_id)]
    crowd(
        state,
        model,
        {"active": 250, "draft": 20, "inactive": 60, "sold_out": 80, "expired": 80},
    )
    state.requests.clear()
    return ours.remote_id


async def test_a_new_listing_scans_drafts_active_and_inactive_once(
    ctx: ConnectionContext, connector: EtsyConnector, state: EtsySandboxState
) -> None:
    await seeded_shop(ctx, connector, state)
    fresh = payload("ff-0002")
    assert await connector.find_listing(ctx, fresh) is None
    remote = await connector.create_listing(ctx, fresh)
    assert remote.state == "active"
    # draft: 1 page (20); active: 3 pages (251 at 100 a page); inactive: 1 page (60). Sold-out
    # and expired listings are never read, and the create reuses the find's answer.
    assert state.requests["getListingsByShop"] == 5
    assert state.created["listing"] == 2


async def test_an_existing_listing_is_found_at_the_first_match(
    ctx: ConnectionContext, connector: EtsyConnector, state: EtsySandboxState
) -> None:
    remote_id = await seeded_shop(ctx, connector, state)
    found = await connector.find_listing(ctx, payload())
    assert found is not None
    assert found.remote_id == remote_id
    # One page of drafts, then the first page of active listings (ours is the newest).
    assert state.requests["getListingsByShop"] == 2


async def test_a_remote_id_hint_is_checked_with_one_listing_read(
    ctx: ConnectionContext, connector: EtsyConnector, state: EtsySandboxState
) -> None:
    remote_id = await seeded_shop(ctx, connector, state)
    found = await connector.find_listing(ctx, payload(remote_id_hint=remote_id))
    assert found is not None
    assert found.remote_id == remote_id
    assert state.requests["getListingsByShop"] == 0
    assert (state.requests["getListing"], state.requests["getListingInventory"]) == (1, 1)
    # create_listing with the hint makes nothing new either.
    again = await connector.create_listing(ctx, payload(remote_id_hint=remote_id))
    assert again.remote_id == remote_id
    assert state.requests["getListingsByShop"] == 0
    assert state.created["listing"] == 1


async def test_a_hint_that_is_not_ours_or_gone_falls_back_to_the_scan(
    ctx: ConnectionContext, connector: EtsyConnector, state: EtsySandboxState
) -> None:
    remote_id = await seeded_shop(ctx, connector, state)
    others = [i for i, listing in state.listings.items() if listing["state"] == "active"]
    foreign = str(next(i for i in others if str(i) != remote_id))
    found = await connector.find_listing(ctx, payload(remote_id_hint=foreign))
    assert found is not None
    assert found.remote_id == remote_id
    assert state.requests["getListingsByShop"] == 2
    state.requests.clear()
    gone = await connector.find_listing(ctx, payload(remote_id_hint="999999999"))
    assert gone is not None
    assert gone.remote_id == remote_id
    assert state.requests["getListing"] == 1
    assert state.requests["getListingsByShop"] == 2


async def test_a_create_in_another_context_looks_again(
    app: Any, http: httpx.AsyncClient, ctx: ConnectionContext, connector: EtsyConnector,
    state: EtsySandboxState,
) -> None:  # fmt: skip
    """The find's answer is reused only by the create that follows it in the same context:
    another worker (or a retry in a new context) may have created the listing since."""
    fresh = payload("ff-0003")
    assert await connector.find_listing(ctx, fresh) is None
    other, _ = context(app, await connect(http, connector), connection_id=ctx.connection_id)
    made = await connector.create_listing(other, fresh)
    again = await connector.create_listing(ctx, fresh)
    assert again.remote_id == made.remote_id
    assert state.created["listing"] == 1

"""The Printify connector against the Printify twin, in process (httpx.ASGITransport), through
the real request function of connector/http.py."""

import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from PIL import Image

from flashfusion.catalog.registry import get_product_type
from flashfusion.connector.base import (
    ConnectionContext,
    ConnectorAuthError,
    ImagePayload,
    PublishPayload,
    RetryableConnectorError,
    TerminalConnectorError,
    VariantPayload,
    WebhookRejected,
)
from flashfusion.connector.http import build_request
from flashfusion.connector.platforms.printify import connector as printify_connector
from flashfusion.connector.platforms.printify import mapper, webhooks
from flashfusion.connector.platforms.printify.connector import ACTION_TOKEN, PrintifyConnector
from flashfusion.connector.platforms.printify.schemas import CatalogVariant
from flashfusion.sandbox.printify import PrintifySandbox, PrintifyTwin, create_app

TOKEN = "pfy-sandbox-" + uuid.uuid4().hex
BASE = "http://printify.sandbox"
SHOP = 424242
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
CONNECTOR = PrintifyConnector()


def png(width: int = 40, height: int = 30) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, "PNG")
    return buffer.getvalue()


def twin(**options: Any) -> PrintifyTwin:
    app = create_app(tokens={TOKEN}, **options)
    app.sandbox.faults.hang_seconds = 0.05
    return app


def sandbox(app: PrintifyTwin) -> PrintifySandbox:
    return app.sandbox


def context(
    app: PrintifyTwin, *, token: str = TOKEN, account: dict[str, Any] | None = None
) -> ConnectionContext:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
    connection_id = uuid.uuid4()
    credentials = {"access_token": token}
    request = build_request(
        CONNECTOR,
        connection_id=connection_id,
        credentials=credentials,
        client=client,
        account_key=uuid.uuid4().hex,
    )
    account = {"shop_id": SHOP} if account is None else account
    return ConnectionContext(
        connection_id=connection_id,
        platform="printify",
        account_id=str(account["shop_id"]) if "shop_id" in account else None,
        account=account,
        credentials=credentials,
        base_url=BASE,
        request=request,
    )


def payload(
    external_id: str = "ff-0001",
    *,
    price: int = 2499,
    product_type: str = "Unisex t-shirt",
    options: dict[str, Any] | None = None,
    placement: str = "front",
) -> PublishPayload:
    return PublishPayload(
        external_id=external_id,
        title="Cat astronaut tee",
        description="A cat in space.",
        tags=["cat", "space"],
        currency="USD",
        product_type=product_type,
        variants=[
            VariantPayload(
                sku=f"{external_id}-white-m", price=price, quantity=1, size="M", colour="White"
            ),
            VariantPayload(
                sku=f"{external_id}-black-l",
                price=price + 100,
                quantity=1,
                size="L",
                colour="Black",
            ),
        ],
        images=[
            ImagePayload(
                url=None,
                content=png(),
                filename="cat-front.png",
                role="print_file",
                placement=placement,
            ),
            ImagePayload(
                url="https://media.example.com/mockup.png", content=None, filename="mock.png"
            ),
        ],
        options=dict(options or {}),
    )


@pytest.fixture(autouse=True)
def _fresh_catalog() -> None:
    # CONNECTOR is shared by the tests, each with a twin of its own: no catalog answer of one
    # test's twin may serve another's.
    CONNECTOR._catalog.clear()


def event_of(app: PrintifyTwin, topic: str) -> tuple[dict[str, str], bytes]:
    delivery = next(d for d in sandbox(app).outbox if d.topic == topic)
    return delivery.headers, delivery.body


# --- verify ----------------------------------------------------------------------------------


async def test_verify_returns_the_first_shop() -> None:
    app = twin(
        shops=[
            {"id": 11, "title": "First", "sales_channel": "custom_integration"},
            {"id": 22, "title": "Second", "sales_channel": "etsy"},
        ]
    )
    info = await CONNECTOR.verify(context(app, account={}))
    assert (info.account_id, info.name) == ("11", "First")
    assert info.details == {"sales_channel": "custom_integration", "shop_id": 11}


async def test_verify_picks_the_chosen_shop_and_refuses_an_unknown_one() -> None:
    app = twin(
        shops=[
            {"id": 11, "title": "First", "sales_channel": "a"},
            {"id": 22, "title": "Second", "sales_channel": "b"},
        ]
    )
    info = await CONNECTOR.verify(context(app, account={"shop_id": 22}))
    assert (info.account_id, info.name, info.details["sales_channel"]) == ("22", "Second", "b")
    with pytest.raises(TerminalConnectorError) as caught:
        await CONNECTOR.verify(context(app, account={"shop_id": 33}))
    assert caught.value.code == "printify.shop_not_found"


async def test_verify_with_a_revoked_token_needs_reconnect() -> None:
    app = twin()
    with pytest.raises(ConnectorAuthError) as caught:
        await CONNECTOR.verify(context(app, token="revoked"))
    assert caught.value.code == "printify.token_invalid"
    assert caught.value.needs_reconnect is True
    assert caught.value.action == ACTION_TOKEN
    assert caught.value.status == 401
    assert sandbox(app).errors["401"] == 1


# --- catalog ---------------------------------------------------------------------------------


async def test_create_resolves_blueprint_provider_and_variants_from_the_catalog() -> None:
    app = twin()
    listing = await CONNECTOR.create_listing(context(app), payload())
    product = sandbox(app).products[SHOP][listing.remote_id]
    assert (product["blueprint_id"], product["print_provider_id"]) == (90001, 801)
    # White / M and Black / L of the fixture's provider 801 (ids 700100 + colour*4 + size).
    assert [(v["id"], v["sku"], v["price"]) for v in product["variants"]] == [
        (700101, "ff-0001-white-m", 2499),
        (700106, "ff-0001-black-l", 2599),
    ]
    requests = sandbox(app).requests
    assert (
        requests["catalog.blueprints"],
        requests["catalog.providers"],
        requests["catalog.variants"],
    ) == (1, 1, 1)


async def test_a_first_create_neither_pages_the_shop_nor_asks_the_catalog_again() -> None:
    app = twin()
    ctx = context(app)
    await CONNECTOR.create_listing(ctx, payload("ff-0009"))
    state = sandbox(app)
    state.requests.clear()
    # Publishing says no product of this listing can be on Printify yet (publishing/tasks.py
    # `_first_create`); the catalog answers are the ones the first create read.
    listing = await CONNECTOR.create_listing(ctx, payload(options={"first_create": True}))
    assert dict(state.requests) == {
        "uploads.create": 1,
        "products.create": 1,
        "products.publish": 1,
    }
    assert (listing.state, listing.pending) == ("publishing", True)
    assert listing.skus == ["ff-0001-white-m", "ff-0001-black-l"]
    # Without it, create looks first (the shop's products page) and makes nothing new.
    state.requests.clear()
    again = await CONNECTOR.create_listing(ctx, payload())
    assert again.remote_id == listing.remote_id
    assert state.requests["products.list"] == 1
    assert state.requests["products.create"] == 0
    assert state.created["product"] == 2
    # The catalog cache lasts CATALOG_TTL_SECONDS, then the catalog is asked again.
    for key, (when, data) in list(CONNECTOR._catalog.items()):
        CONNECTOR._catalog[key] = (when - printify_connector.CATALOG_TTL_SECONDS, data)
    state.requests.clear()
    await CONNECTOR.create_listing(ctx, payload("ff-0010", options={"first_create": True}))
    assert (
        state.requests["catalog.blueprints"],
        state.requests["catalog.providers"],
        state.requests["catalog.variants"],
    ) == (1, 1, 1)


async def test_create_uses_the_blueprint_and_provider_options() -> None:
    app = twin()
    chosen = payload(
        options={"blueprint_id": 90001, "print_provider_id": 802}, product_type="anything"
    )
    chosen.variants = [
        VariantPayload(sku="ff-0001-s", price=1500, quantity=1, catalog_variant_id="700200")
    ]
    listing = await CONNECTOR.create_listing(context(app), chosen)
    product = sandbox(app).products[SHOP][listing.remote_id]
    assert (product["blueprint_id"], product["print_provider_id"]) == (90001, 802)
    assert [v["id"] for v in product["variants"]] == [700200]
    assert sandbox(app).requests["catalog.blueprints"] == 0


async def test_an_unknown_product_type_asks_for_a_blueprint() -> None:
    app = twin()
    with pytest.raises(TerminalConnectorError) as caught:
        await CONNECTOR.create_listing(context(app), payload(product_type="Gizmo"))
    assert caught.value.code == "printify.blueprint_not_found"
    assert (
        caught.value.action == "Pick the Printify blueprint for Gizmo in the connection's settings"
    )
    assert sandbox(app).created["product"] == 0


async def test_a_variant_the_provider_lacks_is_terminal_before_any_upload() -> None:
    app = twin()
    bad = payload()
    bad.variants[0].size = "5XL"
    with pytest.raises(TerminalConnectorError) as caught:
        await CONNECTOR.create_listing(context(app), bad)
    assert caught.value.code == "printify.variant_not_found"
    assert sandbox(app).created == {}


async def test_a_print_area_the_product_lacks_is_terminal_before_any_upload() -> None:
    app = twin()
    with pytest.raises(TerminalConnectorError) as caught:
        await CONNECTOR.create_listing(context(app), payload(placement="sleeve_left"))
    assert caught.value.code == "printify.placement_unknown"
    assert (
        caught.value.action
        == "Move the design to a print area this Printify product has (back, front)"
    )
    assert sandbox(app).created == {}


# --- variants matched by what the provider's variants have --------------------------------


def catalog_payload(product_type: str, variant_keys: list[str]) -> PublishPayload:
    """A payload with the FlashFusion catalog's own variants of `product_type` (their size and
    colour as the catalog spells them), printed on its first print area."""
    kind = get_product_type(product_type)
    chosen = [v for v in kind.variants if v.key in variant_keys]
    assert [v.key for v in chosen] == variant_keys
    built = payload(f"ff-{product_type}", product_type=product_type, placement="default")
    built.variants = [
        VariantPayload(
            sku=f"ff-{product_type}-{v.key}", price=1800, quantity=1, size=v.size, colour=v.colour
        )
        for v in chosen
    ]
    return built


async def test_a_white_mug_matches_the_providers_colourless_variant_end_to_end() -> None:
    app = twin()
    ctx = context(app)
    mug = catalog_payload("mug-11oz", ["white"])
    assert (mug.variants[0].size, mug.variants[0].colour) == ("11 oz", "White")
    listing = await CONNECTOR.create_listing(ctx, mug)
    product = sandbox(app).products[SHOP][listing.remote_id]
    assert (product["blueprint_id"], product["print_provider_id"]) == (90003, 803)
    assert [(v["id"], v["sku"]) for v in product["variants"]] == [(700400, "ff-mug-11oz-white")]
    assert product["print_areas"][0]["placeholders"][0]["position"] == "front"
    await CONNECTOR.complete_publish(
        ctx, listing.remote_id, external_id="etsy-9", handle="https://www.etsy.com/listing/9"
    )
    done = await CONNECTOR.get_listing(ctx, listing.remote_id)
    assert done is not None
    assert (done.state, done.pending, done.skus) == ("published", False, ["ff-mug-11oz-white"])
    assert sandbox(app).duplicates() == 0


async def test_posters_match_sizes_however_they_are_spelled_end_to_end() -> None:
    app = twin()
    ctx = context(app)
    poster = catalog_payload("poster", ["8x10", "11x14"])
    assert [(v.size, v.colour) for v in poster.variants] == [("8×10 in", None), ("11×14 in", None)]
    listing = await CONNECTOR.create_listing(ctx, poster)
    product = sandbox(app).products[SHOP][listing.remote_id]
    assert (product["blueprint_id"], product["print_provider_id"]) == (90004, 804)
    assert [(v["id"], v["title"]) for v in product["variants"]] == [
        (700500, "8″ × 10″"),
        (700501, "11″ × 14″"),
    ]
    await CONNECTOR.complete_publish(
        ctx, listing.remote_id, external_id="etsy-10", handle="https://www.etsy.com/listing/10"
    )
    done = await CONNECTOR.get_listing(ctx, listing.remote_id)
    assert done is not None
    assert (done.state, done.url) == ("published", "https://www.etsy.com/listing/10")


async def test_a_size_the_mug_provider_lacks_is_not_found() -> None:
    app = twin()
    mug = catalog_payload("mug-11oz", ["white"])
    mug.variants[0].size = "15 oz"
    with pytest.raises(TerminalConnectorError) as caught:
        await CONNECTOR.create_listing(context(app), mug)
    assert caught.value.code == "printify.variant_not_found"
    assert caught.value.platform_message == (
        "variant ff-mug-11oz-white (White / 15 oz) is not offered by the print provider"
    )
    assert sandbox(app).created == {}


async def test_a_colour_the_tee_provider_lacks_is_not_found() -> None:
    app = twin()
    bad = payload()
    bad.variants[0].colour = "Red"
    with pytest.raises(TerminalConnectorError) as caught:
        await CONNECTOR.create_listing(context(app), bad)
    assert caught.value.code == "printify.variant_not_found"
    assert "(Red / M)" in (caught.value.platform_message or "")


async def test_an_ambiguous_variant_names_the_candidates_before_any_upload() -> None:
    app = twin()
    vague = payload()
    vague.variants[0].colour = None  # size M comes in White and Black
    with pytest.raises(TerminalConnectorError) as caught:
        await CONNECTOR.create_listing(context(app), vague)
    assert caught.value.code == "printify.variant_ambiguous"
    assert caught.value.action == (
        "Give variant ff-0001-white-m a size and colour that pick one Printify variant "
        "(candidates: 700101 (White / M), 700105 (Black / M)), or choose the print provider's "
        "variant for it in the catalog"
    )
    assert caught.value.platform_message == (
        "variant ff-0001-white-m (M) matches 2 variants of the print provider: "
        "700101 (White / M), 700105 (Black / M)"
    )
    assert sandbox(app).created == {}


def variant(id: int, title: str, **options: str) -> CatalogVariant:
    return CatalogVariant(id=id, title=title, options=options)


def test_the_variant_matching_more_of_ours_wins() -> None:
    catalog = [
        variant(1, "11oz", size="11oz"),
        variant(2, "White / 11oz", size="11oz", color="White"),
    ]
    ours = VariantPayload(sku="a", price=1, quantity=1, size="11 oz", colour="White")
    assert [found.id for _, found in mapper.match_variants([ours], catalog)] == [2]
    black = VariantPayload(sku="b", price=1, quantity=1, size="11 oz", colour="Black")
    assert [found.id for _, found in mapper.match_variants([black], catalog)] == [1]


def test_colour_only_and_optionless_variants() -> None:
    colours = [variant(1, "Red", color="Red"), variant(2, "Blue", color="Blue")]
    blue = VariantPayload(sku="c", price=1, quantity=1, size="One size", colour="Blue")
    assert [found.id for _, found in mapper.match_variants([blue], colours)] == [2]
    single = [variant(9, "Default")]
    anything = VariantPayload(sku="d", price=1, quantity=1, size="M", colour="Red")
    assert [found.id for _, found in mapper.match_variants([anything], single)] == [9]
    with pytest.raises(TerminalConnectorError) as caught:
        mapper.match_variants([anything], [*single, variant(10, "Other")])
    assert caught.value.code == "printify.variant_ambiguous"


def test_catalog_options_take_the_product_types_blueprint_and_provider() -> None:
    chosen = {"printify_products": {"poster": {"blueprint_id": 90004, "print_provider_id": 804}}}
    assert mapper.catalog_options(chosen, "poster") == {
        **chosen,
        "blueprint_id": 90004,
        "print_provider_id": 804,
    }
    assert mapper.catalog_options(chosen, "mug-11oz") == chosen
    explicit = {**chosen, "blueprint_id": 90001}
    assert mapper.catalog_options(explicit, "poster")["blueprint_id"] == 90001
    assert mapper.catalog_options(explicit, "poster").get("print_provider_id") is None
    only_blueprint = {"printify_products": {"poster": {"blueprint_id": 90004}}}
    assert mapper.catalog_options(only_blueprint, "poster")["print_provider_id"] is None


async def test_the_chosen_blueprint_reaches_printify() -> None:
    """What the connector does with a product type's choice (`_catalog_variants` reading
    `mapper.catalog_options`): the blueprint and provider given, no blueprint search."""
    app = twin()
    poster = catalog_payload("poster", ["12x16"])
    poster.product_type = "wall-art-of-my-own"  # no blueprint title names it
    chosen = {"blueprint_id": 90004, "print_provider_id": 804}
    poster.options = mapper.catalog_options(
        {"printify_products": {"wall-art-of-my-own": chosen}}, "wall-art-of-my-own"
    )
    listing = await CONNECTOR.create_listing(context(app), poster)
    product = sandbox(app).products[SHOP][listing.remote_id]
    assert (product["blueprint_id"], product["print_provider_id"]) == (90004, 804)
    assert [v["id"] for v in product["variants"]] == [700502]
    assert sandbox(app).requests["catalog.blueprints"] == 0


# --- the publish handshake -------------------------------------------------------------------


async def test_upload_create_publish_handshake_end_to_end() -> None:
    app = twin()
    ctx = context(app)
    secret = await CONNECTOR.register_webhooks(ctx, "https://ff.example/webhooks/printify/c1")
    assert secret is not None

    listing = await CONNECTOR.create_listing(ctx, payload())
    assert (listing.state, listing.pending, listing.url) == ("publishing", True, None)
    assert listing.skus == ["ff-0001-white-m", "ff-0001-black-l"]
    assert listing.prices == {"ff-0001-white-m": 2499, "ff-0001-black-l": 2599}
    state = sandbox(app)
    product = state.products[SHOP][listing.remote_id]
    assert product["is_locked"] is True
    upload = state.uploads[product["print_areas"][0]["placeholders"][0]["images"][0]["id"]]
    assert (upload["file_name"], upload["width"], upload["height"], upload["mime_type"]) == (
        "cat-front.png",
        40,
        30,
        "image/png",
    )
    assert state.created["upload"] == 1  # the mockup is not uploaded: Printify renders its own

    headers, body = event_of(app, "product:publish:started")
    CONNECTOR.verify_webhook(headers, body, secret, now=NOW)
    event = CONNECTOR.parse_webhook(headers, body)
    assert (event.topic, event.resource_type, event.resource_id) == (
        "product:publish:started",
        "product",
        listing.remote_id,
    )
    assert event.payload["resource"]["data"]["shop_id"] == SHOP
    assert event.payload["resource"]["data"]["action"] == "create"

    gotten = await CONNECTOR.get_listing(ctx, listing.remote_id)
    assert gotten is not None
    assert (gotten.state, gotten.pending) == ("publishing", True)

    await CONNECTOR.complete_publish(
        ctx, listing.remote_id, external_id="etsy-777", handle="https://www.etsy.com/listing/777"
    )
    done = await CONNECTOR.get_listing(ctx, listing.remote_id)
    assert done is not None
    assert (done.state, done.pending, done.url) == (
        "published",
        False,
        "https://www.etsy.com/listing/777",
    )
    assert product["external"] == {"id": "etsy-777", "handle": "https://www.etsy.com/listing/777"}
    assert product["is_locked"] is False
    assert state.requests["products.publish"] == 1
    assert state.requests["products.create"] == 1
    assert state.duplicates() == 0


async def test_fail_publish_unlocks_the_product_as_a_draft() -> None:
    app = twin()
    ctx = context(app)
    listing = await CONNECTOR.create_listing(ctx, payload())
    await CONNECTOR.fail_publish(ctx, listing.remote_id, "Etsy refused the listing")
    gotten = await CONNECTOR.get_listing(ctx, listing.remote_id)
    assert gotten is not None
    assert (gotten.state, gotten.pending) == ("draft", False)


async def test_find_before_create_after_a_create_committed_but_never_answered() -> None:
    app = twin()
    ctx = context(app)
    state = sandbox(app)
    assert await CONNECTOR.find_listing(ctx, payload()) is None
    state.faults.target = "products.create"
    state.faults.commit_then_timeout = 1
    with pytest.raises(RetryableConnectorError) as caught:
        await CONNECTOR.create_listing(ctx, payload())
    assert caught.value.code == "timeout"
    assert state.created["product"] == 1  # Printify committed it
    found = await CONNECTOR.find_listing(ctx, payload())
    assert found is not None
    assert (found.state, found.pending) == ("draft", False)
    assert found.skus == ["ff-0001-white-m", "ff-0001-black-l"]

    retried = await CONNECTOR.create_listing(ctx, payload())
    assert retried.remote_id == found.remote_id
    assert (retried.state, retried.pending) == ("publishing", True)
    assert state.created["product"] == 1
    assert state.requests["products.create"] == 1
    assert state.requests["products.publish"] == 1
    assert state.duplicates() == 0


async def test_a_dropped_publish_is_found_locked_and_not_published_twice() -> None:
    app = twin()
    ctx = context(app)
    state = sandbox(app)
    state.faults.target = "products.publish"
    state.faults.drop_connection = 1
    with pytest.raises(RetryableConnectorError) as caught:
        await CONNECTOR.create_listing(ctx, payload())
    assert caught.value.code == "network"
    retried = await CONNECTOR.create_listing(ctx, payload())
    assert (retried.state, retried.pending) == ("publishing", True)
    assert state.requests["products.publish"] == 1
    assert state.created["product"] == 1
    assert state.duplicates() == 0


# --- update, unpublish -----------------------------------------------------------------------


async def published(app: PrintifyTwin, ctx: ConnectionContext) -> str:
    listing = await CONNECTOR.create_listing(ctx, payload())
    await CONNECTOR.complete_publish(
        ctx, listing.remote_id, external_id="etsy-1", handle="https://www.etsy.com/listing/1"
    )
    return listing.remote_id


async def test_update_price_reaches_printify_and_republishes() -> None:
    app = twin()
    ctx = context(app)
    remote_id = await published(app, ctx)
    listing = await CONNECTOR.update_listing(ctx, remote_id, payload(price=2999))
    assert (listing.state, listing.pending) == ("publishing", True)
    assert listing.prices == {"ff-0001-white-m": 2999, "ff-0001-black-l": 3099}
    product = sandbox(app).products[SHOP][remote_id]
    assert [v["price"] for v in product["variants"]] == [2999, 3099]
    assert sandbox(app).requests["products.publish"] == 2
    assert sandbox(app).created["upload"] == 1  # the same print file is not uploaded again


async def test_update_while_publishing_is_retryable_product_locked() -> None:
    app = twin()
    ctx = context(app)
    listing = await CONNECTOR.create_listing(ctx, payload())
    with pytest.raises(RetryableConnectorError) as caught:
        await CONNECTOR.update_listing(ctx, listing.remote_id, payload(price=2999))
    assert caught.value.code == "printify.product_locked"
    assert caught.value.retry_after == 60.0
    assert caught.value.status == 400


async def test_update_with_a_new_variant_and_print_file() -> None:
    app = twin()
    ctx = context(app)
    remote_id = await published(app, ctx)
    changed = payload()
    changed.variants.append(
        VariantPayload(sku="ff-0001-white-xl", price=2799, quantity=1, size="XL", colour="White")
    )
    changed.images[0] = ImagePayload(
        url=None, content=png(50, 60), filename="cat-front-v2.png", role="print_file"
    )
    listing = await CONNECTOR.update_listing(ctx, remote_id, changed)
    product = sandbox(app).products[SHOP][remote_id]
    assert [v["sku"] for v in product["variants"]] == [
        "ff-0001-white-m",
        "ff-0001-black-l",
        "ff-0001-white-xl",
    ]
    assert product["print_areas"][0]["placeholders"][0]["images"][0]["name"] == "cat-front-v2.png"
    assert listing.skus == ["ff-0001-white-m", "ff-0001-black-l", "ff-0001-white-xl"]
    assert sandbox(app).created["upload"] == 2


async def test_unpublish_clears_external() -> None:
    app = twin()
    ctx = context(app)
    remote_id = await published(app, ctx)
    await CONNECTOR.unpublish_listing(ctx, remote_id)
    gotten = await CONNECTOR.get_listing(ctx, remote_id)
    assert gotten is not None
    assert (gotten.state, gotten.url) == ("draft", None)
    assert "external" not in sandbox(app).products[SHOP][remote_id]


async def test_get_listing_of_a_deleted_product_is_none() -> None:
    app = twin()
    assert await CONNECTOR.get_listing(context(app), "0123456789abcdef01234567") is None


# --- orders ----------------------------------------------------------------------------------


async def test_orders_are_listed_and_normalised() -> None:
    app = twin()
    ctx = context(app)
    await published(app, ctx)
    state = sandbox(app)
    order = state.create_order(
        SHOP,
        line_items=[
            {"sku": "ff-0001-white-m", "quantity": 2},
            {"sku": "ff-0001-black-l", "quantity": 1},
        ],
    )
    orders = await CONNECTOR.list_orders(ctx, updated_since=None)
    assert len(orders) == 1
    remote = orders[0]
    assert (remote.remote_id, remote.status, remote.platform_status) == (
        order["id"],
        "paid",
        "on-hold",
    )
    assert (remote.currency, remote.total) == ("USD", 2499 * 2 + 2599 + 400 + 200 * 2)
    assert (remote.customer_name, remote.customer_email, remote.ship_country) == (
        "Sandy Box",
        "sandy.box@example.com",
        "US",
    )
    assert [(i.sku, i.quantity, i.unit_price, i.title) for i in remote.line_items] == [
        ("ff-0001-white-m", 2, 2499, "Cat astronaut tee"),
        ("ff-0001-black-l", 1, 2599, "Cat astronaut tee"),
    ]
    assert remote.placed_at is not None
    assert remote.placed_at.tzinfo is not None

    state.update_order(
        SHOP,
        order["id"],
        status="fulfilled",
        shipment={"carrier": "usps", "number": "9400", "url": "https://t.example/9400"},
        delivered=True,
    )
    again = await CONNECTOR.get_order(ctx, order["id"])
    assert again is not None
    assert (again.status, again.platform_status) == ("delivered", "fulfilled")
    assert await CONNECTOR.get_order(ctx, "0123456789abcdef01234567") is None
    future = datetime.now(UTC) + timedelta(days=1)
    assert await CONNECTOR.list_orders(ctx, updated_since=future) == []


async def test_orders_are_paged() -> None:
    app = twin()
    ctx = context(app)
    await published(app, ctx)
    for _ in range(12):
        sandbox(app).create_order(SHOP, line_items=[{"sku": "ff-0001-white-m", "quantity": 1}])
    orders = await CONNECTOR.list_orders(ctx, updated_since=None)
    assert len({o.remote_id for o in orders}) == 12
    assert sandbox(app).requests["orders.list"] == 2


# --- webhooks --------------------------------------------------------------------------------


async def test_register_webhooks_is_idempotent_and_rotates_the_secret() -> None:
    app = twin()
    ctx = context(app)
    url = "https://ff.example/webhooks/printify/c1"
    first = await CONNECTOR.register_webhooks(ctx, url)
    hooks = sandbox(app).webhooks[SHOP]
    assert sorted(h["topic"] for h in hooks.values()) == sorted(webhooks.TOPICS)
    assert {h["secret"] for h in hooks.values()} == {first}
    second = await CONNECTOR.register_webhooks(ctx, url)
    assert second != first
    assert second is not None
    assert len(second) == 64
    assert len(hooks) == len(webhooks.TOPICS) == 8
    assert {h["secret"] for h in hooks.values()} == {second}
    assert sandbox(app).created["webhook"] == 8


async def test_verify_webhook_accepts_good_and_rejects_forged_wrong_secret_missing() -> None:
    app = twin()
    ctx = context(app)
    secret = await CONNECTOR.register_webhooks(ctx, "https://ff.example/hook")
    assert secret is not None
    await CONNECTOR.create_listing(ctx, payload())
    headers, body = event_of(app, "product:publish:started")
    assert headers["X-Pfy-Signature"] == webhooks.sign(secret, body)
    CONNECTOR.verify_webhook({k.lower(): v for k, v in headers.items()}, body, secret, now=NOW)

    forged = body.replace(b"product:publish:started", b"product:deleted")
    with pytest.raises(WebhookRejected, match="does not match"):
        CONNECTOR.verify_webhook(headers, forged, secret, now=NOW)
    with pytest.raises(WebhookRejected, match="does not match"):
        CONNECTOR.verify_webhook(headers, body, "another-secret", now=NOW)
    with pytest.raises(WebhookRejected, match="missing X-Pfy-Signature"):
        CONNECTOR.verify_webhook({"Content-Type": "application/json"}, body, secret, now=NOW)
    with pytest.raises(WebhookRejected, match="sha256="):
        CONNECTOR.verify_webhook({"X-Pfy-Signature": "md5=abc"}, body, secret, now=NOW)


def test_parse_webhook_reads_the_event_and_rejects_garbage() -> None:
    body = json.dumps(
        {
            "id": "653b6be8",
            "type": "order:updated",
            "created_at": "2026-12-02 10:00:00+00:00",
            "resource": {
                "id": "5a96f649",
                "type": "order",
                "data": {"shop_id": 1, "status": "fulfilled"},
            },
        }
    ).encode()
    event = CONNECTOR.parse_webhook({}, body)
    assert (event.event_id, event.topic, event.resource_type, event.resource_id) == (
        "653b6be8",
        "order:updated",
        "order",
        "5a96f649",
    )
    assert event.occurred_at == datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    with pytest.raises(WebhookRejected):
        CONNECTOR.parse_webhook({}, b"not json")
    with pytest.raises(WebhookRejected):
        CONNECTOR.parse_webhook({}, b'{"type": "order:updated"}')


# --- errors ----------------------------------------------------------------------------------


def response(
    status: int, body: Any = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    content = json.dumps(body).encode() if body is not None else b""
    return httpx.Response(status, content=content, headers=headers)


def printify_error(status: int, message: str, reason: str) -> dict[str, Any]:
    return {
        "status": "error",
        "code": status,
        "message": message,
        "errors": {"reason": reason, "code": status},
    }


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (
            401,
            printify_error(401, "Unauthenticated.", "token"),
            ConnectorAuthError,
            "printify.token_invalid",
        ),
        (
            403,
            printify_error(403, "Forbidden.", "scope"),
            ConnectorAuthError,
            "printify.token_scope",
        ),
        (
            404,
            printify_error(404, "Not found.", "product_id: product not found"),
            TerminalConnectorError,
            "printify.not_found",
        ),
        (
            400,
            printify_error(400, "Validation failed.", "title: Field required"),
            TerminalConnectorError,
            "printify.validation_failed",
        ),
        (422, {"message": "Unprocessable"}, TerminalConnectorError, "printify.validation_failed"),
        (
            400,
            printify_error(400, "Product is locked.", "publishing in progress"),
            RetryableConnectorError,
            "printify.product_locked",
        ),
        (413, None, TerminalConnectorError, "printify.file_too_large"),
        (409, {"error": "conflict"}, TerminalConnectorError, "printify.request_rejected"),
        (
            429,
            printify_error(429, "Too Many Requests", "limit"),
            RetryableConnectorError,
            "rate_limited",
        ),
        (500, None, RetryableConnectorError, "printify.unavailable"),
        (503, {"message": "down"}, RetryableConnectorError, "printify.unavailable"),
    ],
)
def test_translate_error(status: int, body: Any, kind: type, code: str) -> None:
    error = CONNECTOR.translate_error(response(status, body, {"Retry-After": "7"}))
    assert type(error) is kind
    assert (error.code, error.status) == (code, status)
    assert error.action.endswith(".") is False
    assert len(error.action) > 20
    if status == 401:
        assert error.action == ACTION_TOKEN
        assert isinstance(error, ConnectorAuthError)
        assert error.needs_reconnect is True
    if status in (429, 500, 503):
        assert error.retry_after == 7.0


def test_translate_error_keeps_printifys_words() -> None:
    error = CONNECTOR.translate_error(
        response(
            400, printify_error(400, "Validation failed.", "variants.0.price: must be an integer")
        )
    )
    assert error.platform_message == "Validation failed. — variants.0.price: must be an integer"


async def test_validation_errors_come_back_terminal_naming_the_field() -> None:
    app = twin()
    ctx = context(app)
    with pytest.raises(TerminalConnectorError) as caught:
        await ctx.request("POST", f"/v1/shops/{SHOP}/products.json", json={"title": "x"})
    assert caught.value.code == "printify.validation_failed"
    assert caught.value.platform_message == "Validation failed. — description: Field required"


async def test_a_rate_limited_call_is_retryable_with_retry_after() -> None:
    app = twin()
    sandbox(app).faults.rate_limit = 1
    sandbox(app).faults.retry_after = 1
    with pytest.raises(RetryableConnectorError) as caught:
        await CONNECTOR.verify(context(app))
    assert (caught.value.code, caught.value.retry_after, caught.value.status) == (
        "rate_limited",
        1.0,
        429,
    )


def test_declares_the_documented_limits() -> None:
    limits = {(r.name, r.limit, r.period_seconds, r.groups) for r in CONNECTOR.rate_limits}
    assert limits == {
        ("requests", 600, 60, None),
        ("publish", 200, 1800, frozenset({"publish"})),
        ("catalog", 100, 60, frozenset({"catalog"})),
    }
    assert all(r.source.startswith("developers.printify.com") for r in CONNECTOR.rate_limits)
    assert [f.name for f in CONNECTOR.credential_fields] == ["access_token"]

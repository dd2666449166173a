"""The Printify twin: auth, validation errors, pagination, the publish handshake, webhook
signatures, rate limits, faults and counters."""

import asyncio
import base64
import hashlib
import hmac
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from PIL import Image

from flashfusion.sandbox.printify import PrintifySandbox, PrintifyTwin, create_app

TOKEN = "twin-token"
SHOP = 424242
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def png(width: int = 64, height: int = 48) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture
def app() -> PrintifyTwin:
    twin = create_app(tokens={TOKEN}, seed=7)
    twin.sandbox.faults.hang_seconds = 0.05
    return twin


@pytest.fixture
async def http(app: PrintifyTwin) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://printify.sandbox", headers=AUTH
    ) as client:
        yield client


def state(app: PrintifyTwin) -> PrintifySandbox:
    sandbox: PrintifySandbox = app.state.sandbox
    return sandbox


async def upload(http: httpx.AsyncClient) -> str:
    response = await http.post(
        "/v1/uploads/images.json", json={"file_name": "d.png", "contents": png()}
    )
    assert response.status_code == 200
    upload_id: str = response.json()["id"]
    return upload_id


def product_body(
    upload_id: str, *, skus: tuple[str, ...] = ("s-1",), title: str = "Tee"
) -> dict[str, Any]:
    ids = [700100 + i for i in range(len(skus))]
    return {
        "title": title,
        "description": "d",
        "blueprint_id": 90001,
        "print_provider_id": 801,
        "variants": [
            {"id": i, "price": 2000, "is_enabled": True, "sku": s}
            for i, s in zip(ids, skus, strict=True)
        ],
        "print_areas": [
            {
                "variant_ids": ids,
                "placeholders": [
                    {
                        "position": "front",
                        "images": [{"id": upload_id, "x": 0.5, "y": 0.5, "scale": 1, "angle": 0}],
                    }
                ],
            }
        ],
    }


async def create_product(http: httpx.AsyncClient, **options: Any) -> dict[str, Any]:
    response = await http.post(
        f"/v1/shops/{SHOP}/products.json", json=product_body(await upload(http), **options)
    )
    assert response.status_code == 200, response.text
    product: dict[str, Any] = response.json()
    return product


# --- auth and errors -------------------------------------------------------------------------


async def test_missing_or_unknown_token_is_401_in_printifys_error_shape(
    http: httpx.AsyncClient, app: PrintifyTwin
) -> None:
    for headers in (
        {"Authorization": ""},
        {"Authorization": "Bearer nope"},
        {"Authorization": f"Basic {TOKEN}"},
    ):
        response = await http.get("/v1/shops.json", headers=headers)
        assert response.status_code == 401
        assert response.json() == {
            "status": "error",
            "code": 401,
            "message": "Unauthenticated.",
            "errors": {"reason": "Authorization: a valid Bearer token is required", "code": 401},
        }
    assert state(app).errors["401"] == 3
    assert state(app).requests["shops.list"] == 3


async def test_shops(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/shops.json")
    assert response.json() == [
        {"id": SHOP, "title": "FlashFusion Sandbox Shop", "sales_channel": "custom_integration"}
    ]


async def test_unknown_shop_product_and_path_are_404(http: httpx.AsyncClient) -> None:
    assert (await http.get("/v1/shops/1/products.json")).json()["errors"][
        "reason"
    ] == "shop_id: shop 1 not found"
    missing = await http.get(f"/v1/shops/{SHOP}/products/abc.json")
    assert (missing.status_code, missing.json()["errors"]["reason"]) == (
        404,
        "product_id: product abc not found",
    )
    assert (await http.get("/v2/nothing.json")).status_code == 404


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"description": "d"}, "title: Field required"),
        (
            {
                "title": "t",
                "description": "d",
                "blueprint_id": 90001,
                "print_provider_id": 801,
                "variants": [],
                "print_areas": [],
            },
            "variants: List should have at least 1 item after validation, not 0",
        ),
        (
            {
                "title": "t",
                "description": "d",
                "blueprint_id": 1,
                "print_provider_id": 801,
                "variants": [{"id": 1, "price": 1}],
                "print_areas": [
                    {
                        "variant_ids": [1],
                        "placeholders": [{"position": "front", "images": [{"id": "x"}]}],
                    }
                ],
            },
            "blueprint_id: blueprint 1 not found",
        ),
        (
            {
                "title": "t",
                "description": "d",
                "blueprint_id": 90001,
                "print_provider_id": 801,
                "variants": [{"id": 5, "price": 1}],
                "print_areas": [
                    {
                        "variant_ids": [5],
                        "placeholders": [{"position": "front", "images": [{"id": "x"}]}],
                    }
                ],
            },
            "variants.0.id: variant 5 is not offered by print provider 801",
        ),
        (
            {
                "title": "t",
                "description": "d",
                "blueprint_id": 90001,
                "print_provider_id": 801,
                "variants": [{"id": 700100, "price": "cheap"}],
                "print_areas": [],
            },
            "variants.0.price: Input should be a valid integer, unable to parse string as an integer",
        ),
        (
            {
                "title": "t",
                "description": "d",
                "blueprint_id": 90001,
                "print_provider_id": 801,
                "variants": [{"id": 700100, "price": 1}],
                "print_areas": [
                    {
                        "variant_ids": [700100],
                        "placeholders": [{"position": "front", "images": [{"id": "nope"}]}],
                    }
                ],
            },
            "print_areas.0.placeholders.0.images.0.id: no uploaded image nope",
        ),
        (
            {
                "title": "t",
                "description": "d",
                "blueprint_id": 90001,
                "print_provider_id": 801,
                "variants": [{"id": 700100, "price": 1}],
                "print_areas": [
                    {
                        "variant_ids": [700100],
                        "placeholders": [{"position": "sleeve", "images": [{"id": "nope"}]}],
                    }
                ],
            },
            "print_areas.0.placeholders.0.position: 'sleeve' is not a print position of variant 700100",
        ),
    ],
)
async def test_product_validation_names_the_field(
    http: httpx.AsyncClient, app: PrintifyTwin, body: dict[str, Any], reason: str
) -> None:
    response = await http.post(f"/v1/shops/{SHOP}/products.json", json=body)
    assert response.status_code == 400
    assert response.json() == {
        "status": "error",
        "code": 400,
        "message": "Validation failed.",
        "errors": {"reason": reason, "code": 400},
    }
    assert state(app).products[SHOP] == {}


async def test_upload_reads_the_image_and_refuses_bad_base64(
    http: httpx.AsyncClient, app: PrintifyTwin
) -> None:
    good = await http.post(
        "/v1/uploads/images.json", json={"file_name": "d.png", "contents": png(64, 48)}
    )
    body = good.json()
    assert (body["width"], body["height"], body["mime_type"], body["file_name"]) == (
        64,
        48,
        "image/png",
        "d.png",
    )
    assert set(body) == {
        "id",
        "file_name",
        "height",
        "width",
        "size",
        "mime_type",
        "preview_url",
        "upload_time",
    }
    bad = await http.post(
        "/v1/uploads/images.json", json={"file_name": "d.png", "contents": "!!not base64!!"}
    )
    assert (bad.status_code, bad.json()["errors"]["reason"]) == (400, "contents: not valid base64")
    not_image = await http.post(
        "/v1/uploads/images.json",
        json={"file_name": "d.png", "contents": base64.b64encode(b"hello").decode()},
    )
    assert not_image.json()["errors"]["reason"] == "contents: not an image Printify can read"
    neither = await http.post("/v1/uploads/images.json", json={"file_name": "d.png"})
    assert (
        neither.json()["errors"]["reason"] == "url, contents: give exactly one of url or contents"
    )
    by_url = await http.post(
        "/v1/uploads/images.json",
        json={"file_name": "u.png", "url": "https://media.example.com/u.png"},
    )
    assert (by_url.status_code, by_url.json()["preview_url"]) == (
        200,
        "https://media.example.com/u.png",
    )
    assert state(app).created["upload"] == 2


async def test_catalog(http: httpx.AsyncClient) -> None:
    blueprints = (await http.get("/v1/catalog/blueprints.json")).json()
    assert [b["id"] for b in blueprints] == [90001, 90002, 90003, 90004]
    assert (await http.get("/v1/catalog/blueprints/90003.json")).json()[
        "title"
    ] == "Sandbox White Glossy Mug 11oz"
    providers = (await http.get("/v1/catalog/blueprints/90001/print_providers.json")).json()
    assert [p["id"] for p in providers] == [801, 802]
    variants = (
        await http.get("/v1/catalog/blueprints/90001/print_providers/801/variants.json")
    ).json()
    assert variants["variants"][0] == {
        "id": 700100,
        "title": "White / S",
        "options": {"color": "White", "size": "S"},
        "placeholders": [
            {"position": "front", "width": 3600, "height": 4800},
            {"position": "back", "width": 3600, "height": 4800},
        ],
    }
    # A single-colour mug and a poster have size options only (no `color`).
    mug = (await http.get("/v1/catalog/blueprints/90003/print_providers/803/variants.json")).json()
    assert [(v["id"], v["options"]) for v in mug["variants"]] == [(700400, {"size": "11oz"})]
    poster = (
        await http.get("/v1/catalog/blueprints/90004/print_providers/804/variants.json")
    ).json()
    assert poster["title"] == "Sandbox Paper Mill (fictional)"
    assert [(v["id"], v["options"]) for v in poster["variants"]] == [
        (700500, {"size": "8″ × 10″"}),
        (700501, {"size": "11″ × 14″"}),
        (700502, {"size": "12″ × 16″"}),
        (700503, {"size": "18″ × 24″"}),
    ]
    assert [p["position"] for p in poster["variants"][0]["placeholders"]] == ["front"]
    shipping = (
        await http.get("/v1/catalog/blueprints/90001/print_providers/802/shipping.json")
    ).json()
    assert shipping["profiles"][0]["variant_ids"] == [700200, 700201, 700202]
    assert (
        await http.get("/v1/catalog/blueprints/90001/print_providers/999/variants.json")
    ).status_code == 404


# --- products and pagination -----------------------------------------------------------------


async def test_products_are_paged(http: httpx.AsyncClient) -> None:
    for n in range(3):
        await create_product(http, skus=(f"p{n}",))
    page = (
        await http.get(f"/v1/shops/{SHOP}/products.json", params={"page": 2, "limit": 2})
    ).json()
    assert {k: v for k, v in page.items() if k != "data"} == {
        "current_page": 2,
        "first_page_url": "/?page=1",
        "prev_page_url": "/?page=1",
        "next_page_url": None,
        "last_page_url": "/?page=2",
        "last_page": 2,
        "total": 3,
        "per_page": 2,
        "from": 3,
        "to": 3,
    }
    assert [v["sku"] for v in page["data"][0]["variants"]] == ["p2"]
    too_many = await http.get(f"/v1/shops/{SHOP}/products.json", params={"limit": 51})
    assert too_many.json()["errors"]["reason"] == "limit: must be between 1 and 50"


async def test_update_needs_every_variant_and_keeps_skus(http: httpx.AsyncClient) -> None:
    product = await create_product(http, skus=("a", "b"))
    path = f"/v1/shops/{SHOP}/products/{product['id']}.json"
    partial = await http.put(path, json={"variants": [{"id": 700100, "price": 1}]})
    assert (
        partial.json()["errors"]["reason"]
        == "variants: every variant of the product must be included (missing [700101])"
    )
    full = await http.put(
        path,
        json={
            "title": "New",
            "variants": [
                {"id": 700100, "price": 1},
                {"id": 700101, "price": 2, "is_enabled": False},
            ],
        },
    )
    assert full.status_code == 200
    assert full.json()["title"] == "New"
    assert [(v["sku"], v["price"], v["is_enabled"]) for v in full.json()["variants"]] == [
        ("a", 1, True),
        ("b", 2, False),
    ]


async def test_generated_skus_when_none_given(http: httpx.AsyncClient) -> None:
    upload_id = await upload(http)
    body = product_body(upload_id)
    del body["variants"][0]["sku"]
    product = (await http.post(f"/v1/shops/{SHOP}/products.json", json=body)).json()
    assert product["variants"][0]["sku"].isdigit()
    assert len(product["variants"][0]["sku"]) == 9


# --- the publish handshake and webhooks ------------------------------------------------------


async def test_publish_handshake_locks_emits_signed_event_and_unlocks(
    http: httpx.AsyncClient, app: PrintifyTwin
) -> None:
    hook = await http.post(
        f"/v1/shops/{SHOP}/webhooks.json",
        json={
            "topic": "product:publish:started",
            "url": "https://ff.example/h",
            "secret": "s3cret",
        },
    )
    assert set(hook.json()) == {"id", "topic", "url", "shop_id"}  # the secret is never echoed
    await http.post(
        f"/v1/shops/{SHOP}/webhooks.json",
        json={"topic": "order:created", "url": "https://ff.example/h"},
    )
    product = await create_product(http)
    path = f"/v1/shops/{SHOP}/products/{product['id']}"
    assert (await http.post(path + "/publish.json", json={"title": True})).json() == {}
    stored = state(app).products[SHOP][product["id"]]
    assert stored["is_locked"] is True

    [delivery] = state(app).outbox
    expected = "sha256=" + hmac.new(b"s3cret", delivery.body, hashlib.sha256).hexdigest()
    assert delivery.headers["X-Pfy-Signature"] == expected
    event = json.loads(delivery.body)
    assert set(event) == {"id", "type", "created_at", "resource"}
    assert event["resource"] == {
        "id": product["id"],
        "type": "product",
        "data": {"shop_id": SHOP, "publish_details": {"title": True}, "action": "create"},
    }

    again = await http.post(path + "/publish.json", json={})
    assert (again.status_code, again.json()["message"]) == (400, "Product is locked.")
    assert (await http.put(path + ".json", json={"title": "x"})).status_code == 400
    assert (await http.delete(path + ".json")).status_code == 400

    bad = await http.post(path + "/publishing_succeeded.json", json={"external": {"id": "1"}})
    assert bad.json()["errors"]["reason"] == "external.handle: Field required"
    ok = await http.post(
        path + "/publishing_succeeded.json",
        json={"external": {"id": "etsy-1", "handle": "https://e/1"}},
    )
    assert ok.status_code == 200
    assert (stored["is_locked"], stored["external"]) == (
        False,
        {"id": "etsy-1", "handle": "https://e/1"},
    )

    await http.post(path + "/publish.json", json={})
    failed = await http.post(path + "/publishing_failed.json", json={"reason": "Etsy said no"})
    assert (failed.status_code, stored["is_locked"]) == (200, False)
    await http.post(path + "/unpublish.json")
    assert "external" not in stored
    assert state(app).requests["products.publish"] == 3


async def test_webhook_crud_and_topic_validation(
    http: httpx.AsyncClient, app: PrintifyTwin
) -> None:
    bad = await http.post(
        f"/v1/shops/{SHOP}/webhooks.json", json={"topic": "order:exploded", "url": "https://x/y"}
    )
    assert bad.json()["errors"]["reason"] == "topic: unknown topic 'order:exploded'"
    created = (
        await http.post(
            f"/v1/shops/{SHOP}/webhooks.json", json={"topic": "order:created", "url": "https://x/y"}
        )
    ).json()
    updated = await http.put(
        f"/v1/shops/{SHOP}/webhooks/{created['id']}.json",
        json={"url": "https://x/z", "secret": "k"},
    )
    assert updated.json()["url"] == "https://x/z"
    assert state(app).webhooks[SHOP][created["id"]]["secret"] == "k"
    assert [h["url"] for h in (await http.get(f"/v1/shops/{SHOP}/webhooks.json")).json()] == [
        "https://x/z"
    ]
    assert (await http.delete(f"/v1/shops/{SHOP}/webhooks/{created['id']}.json")).json() == {
        "id": created["id"]
    }
    assert state(app).webhooks[SHOP] == {}


async def test_orders_emit_events_and_are_listed(
    http: httpx.AsyncClient, app: PrintifyTwin
) -> None:
    await http.post(
        f"/v1/shops/{SHOP}/webhooks.json",
        json={"topic": "order:created", "url": "https://ff.example/h"},
    )
    await http.post(
        f"/v1/shops/{SHOP}/webhooks.json",
        json={"topic": "order:updated", "url": "https://ff.example/h"},
    )
    product = await create_product(http, skus=("sku-a",))
    order = state(app).create_order(
        SHOP, line_items=[{"product_id": product["id"], "variant_id": 700100, "quantity": 3}]
    )
    assert (order["total_price"], order["total_shipping"], order["status"]) == (
        6000,
        800,
        "on-hold",
    )
    state(app).update_order(SHOP, order["id"], status="in-production")
    assert [d.topic for d in state(app).outbox] == ["order:created", "order:updated"]
    assert "X-Pfy-Signature" not in state(app).outbox[0].headers  # no secret, no signature
    listed = (await http.get(f"/v1/shops/{SHOP}/orders.json")).json()
    assert [o["id"] for o in listed["data"]] == [order["id"]]
    assert (await http.get(f"/v1/shops/{SHOP}/orders/{order['id']}.json")).json()[
        "status"
    ] == "in-production"
    with pytest.raises(ValueError, match="no product variant with SKU 'nope'"):
        state(app).create_order(SHOP, line_items=[{"sku": "nope", "quantity": 1}])


async def test_flush_webhooks_delivers_and_keeps_failures() -> None:
    received: list[tuple[str, dict[str, str], bytes]] = []
    fail = {"on": True}

    async def deliver(url: str, headers: dict[str, str], body: bytes) -> None:
        if fail["on"]:
            raise httpx.ConnectError("down")
        received.append((url, headers, body))

    twin = create_app(tokens={TOKEN}, deliver=deliver)
    sandbox = twin.sandbox
    sandbox.webhooks[SHOP]["h"] = {
        "id": "h",
        "topic": "order:created",
        "url": "https://ff.example/h",
        "secret": "k",
    }
    sandbox.emit(SHOP, "order:created", "o1", "order", {"shop_id": SHOP})
    await asyncio.gather(*sandbox._tasks)
    assert (len(sandbox.outbox), sandbox.delivery_failures) == (1, 1)
    fail["on"] = False
    assert await sandbox.flush_webhooks() == 1
    assert sandbox.outbox == []
    [(url, headers, body)] = received
    assert url == "https://ff.example/h"
    assert (
        headers["X-Pfy-Signature"] == "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
    )


# --- counters, rate limits, faults -----------------------------------------------------------


async def test_duplicates_count_same_sku_sets_and_same_title_external(
    http: httpx.AsyncClient, app: PrintifyTwin
) -> None:
    await create_product(http, skus=("x1", "x2"))
    assert state(app).duplicates() == 0
    await create_product(http, skus=("x1", "x2"))
    await create_product(http, skus=("y1",), title="Other")
    assert state(app).duplicates() == 1
    third = await create_product(http, skus=("z1",), title="Other")
    for product_id in (
        third["id"],
        next(p for p, v in state(app).products[SHOP].items() if v["variants"][0]["sku"] == "y1"),
    ):
        await http.post(
            f"/v1/shops/{SHOP}/products/{product_id}/publishing_succeeded.json",
            json={"external": {"id": "e1", "handle": "h"}},
        )
    assert state(app).duplicates() == 2
    assert state(app).created["product"] == 4


async def test_catalog_limit_is_100_per_scaled_minute() -> None:
    clock = {"now": 0.0}
    twin = create_app(tokens={TOKEN}, time_scale=60)
    twin.sandbox.clock = lambda: clock["now"]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=twin), base_url="http://p", headers=AUTH
    ) as http:
        for _ in range(100):
            assert (await http.get("/v1/catalog/blueprints.json")).status_code == 200
        limited = await http.get("/v1/catalog/blueprints.json")
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "1"  # 60 s / 60
        assert limited.json()["errors"]["reason"] == "rate limit exceeded: catalog"
        assert (await http.get("/v1/shops.json")).status_code == 200  # the global limit has room
        clock["now"] = 1.0
        assert (await http.get("/v1/catalog/blueprints.json")).status_code == 200
    assert twin.sandbox.max_rate_seen["catalog"] == 100
    assert twin.sandbox.max_rate_seen["requests"] == 101
    assert twin.sandbox.errors["429"] == 1


async def test_publish_limit_is_200_per_scaled_half_hour() -> None:
    clock = {"now": 0.0}
    twin = create_app(tokens={TOKEN}, time_scale=1800)
    twin.sandbox.clock = lambda: clock["now"]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=twin), base_url="http://p", headers=AUTH
    ) as http:
        product = await create_product(http)
        path = f"/v1/shops/{SHOP}/products/{product['id']}/publish.json"
        statuses = []
        for n in range(201):
            clock["now"] = (
                n * 0.004
            )  # 0.8 s: inside the 1 s publish window, 600/0.033 s is never reached
            statuses.append((await http.post(path, json={})).status_code)
    assert statuses[0] == 200
    assert statuses[1:200] == [400] * 199  # locked, but counted
    assert statuses[200] == 429
    assert twin.sandbox.max_rate_seen["publish"] == 200


async def test_global_limit_is_600_per_scaled_minute() -> None:
    clock = {"now": 0.0}
    twin = create_app(tokens={TOKEN}, time_scale=60)
    twin.sandbox.clock = lambda: clock["now"]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=twin), base_url="http://p", headers=AUTH
    ) as http:
        for _ in range(600):
            await http.get("/v1/shops.json")
        over = await http.get("/v1/shops.json")
    assert (over.status_code, over.json()["errors"]["reason"]) == (
        429,
        "rate limit exceeded: requests",
    )
    assert twin.sandbox.max_rate_seen["requests"] == 600


async def test_error_rate_is_seeded(http: httpx.AsyncClient, app: PrintifyTwin) -> None:
    state(app).faults.error_rate = 0.5
    statuses = [(await http.get("/v1/shops.json")).status_code for _ in range(20)]
    again = create_app(tokens={TOKEN}, seed=7)
    again.sandbox.faults.error_rate = 0.5
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=again), base_url="http://p", headers=AUTH
    ) as other:
        replay = [(await other.get("/v1/shops.json")).status_code for _ in range(20)]
    assert statuses == replay
    assert state(app).errors["500"] == statuses.count(500)
    assert 0 < statuses.count(500) < 20


async def test_injected_rate_limit_hang_drop_and_commit_then_timeout(
    http: httpx.AsyncClient, app: PrintifyTwin
) -> None:
    faults = state(app).faults
    faults.rate_limit = 2
    faults.retry_after = 9
    first = await http.get("/v1/shops.json")
    assert (first.status_code, first.headers["Retry-After"]) == (429, "9")
    assert (await http.get("/v1/shops.json")).status_code == 429
    assert (await http.get("/v1/shops.json")).status_code == 200

    upload_id = await upload(http)
    faults.hang = 1
    with pytest.raises(httpx.ReadTimeout):
        await http.post(f"/v1/shops/{SHOP}/products.json", json=product_body(upload_id))
    assert state(app).created["product"] == 0  # a hang happens before any work

    faults.commit_then_timeout = 1
    with pytest.raises(httpx.ReadTimeout):
        await http.post(f"/v1/shops/{SHOP}/products.json", json=product_body(upload_id))
    assert state(app).created["product"] == 1  # committed, never answered

    faults.target = "webhooks.create"
    faults.drop_connection = 1
    assert (await http.get("/v1/shops.json")).status_code == 200  # not the target
    with pytest.raises(httpx.RemoteProtocolError):
        await http.post(
            f"/v1/shops/{SHOP}/webhooks.json", json={"topic": "order:created", "url": "https://x/y"}
        )
    assert len(state(app).webhooks[SHOP]) == 1  # done, then dropped
    assert faults.drop_connection == 0
    assert state(app).requests["products.create"] == 2


async def test_time_scale_must_be_positive() -> None:
    with pytest.raises(ValueError, match="time_scale must be positive"):
        create_app(tokens={TOKEN}, time_scale=0)

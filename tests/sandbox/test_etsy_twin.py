"""The Etsy twin on the wire: app keys, OAuth pages, rate limits, form vs JSON, field rules,
image limits, inventory rules, receipts, webhook signatures and faults."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from flashfusion.connector.platforms.etsy import webhooks
from flashfusion.sandbox.etsy import API, EtsySandboxState, create_app

KEY, SECRET = "twin-keystring", "twin-shared-secret"
BASE = "http://etsy.test"
REDIRECT = "https://app.test/callback"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def app() -> Any:
    # Windows / 1000: the tests below send faster than 10 per real second; the rate-limit tests
    # drive the twin's clock instead.
    return create_app(apps={KEY: SECRET}, time_scale=1000.0)


@pytest.fixture
def state(app: Any) -> EtsySandboxState:
    sandbox: EtsySandboxState = app.state.sandbox
    return sandbox


@pytest.fixture
async def http(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        yield client


def headers(
    state: EtsySandboxState,
    scopes: str = "listings_r listings_w listings_d shops_r shops_w transactions_r",
) -> dict[str, str]:
    tokens = state.issue_tokens(state.default_user_id, KEY, frozenset(scopes.split()))
    return {"x-api-key": f"{KEY}:{SECRET}", "Authorization": f"Bearer {tokens['access_token']}"}


def shop(state: EtsySandboxState) -> int:
    return state.shop_of(state.default_user_id)


def draft_form(state: EtsySandboxState, **changes: str) -> dict[str, str]:
    shop_id = shop(state)
    form = {
        "quantity": "5", "title": "Cat mug", "description": "A mug.", "price": "12.50",
        "who_made": "i_did", "when_made": "made_to_order", "taxonomy_id": "90211",
        "shipping_profile_id": str(next(p for p in state.shipping_profiles.values() if p["shop_id"] == shop_id)["shipping_profile_id"]),
        "readiness_state_id": str(next(r for r in state.readiness.values() if r["shop_id"] == shop_id)["readiness_state_id"]),
    }  # fmt: skip
    form.update(changes)
    return {k: v for k, v in form.items() if v != ""}


async def create_draft(
    http: httpx.AsyncClient, state: EtsySandboxState, auth: dict[str, str], **changes: str
) -> httpx.Response:
    return await http.post(
        f"{API}/shops/{shop(state)}/listings", data=draft_form(state, **changes), headers=auth
    )


async def test_app_key_must_carry_the_shared_secret(
    http: httpx.AsyncClient, state: EtsySandboxState
) -> None:
    none = await http.get(f"{API}/seller-taxonomy/nodes")
    assert (none.status_code, none.json()) == (403, {"error": "Missing x-api-key header."})
    bare = await http.get(f"{API}/seller-taxonomy/nodes", headers={"x-api-key": KEY})
    assert (bare.status_code, bare.json()) == (
        403,
        {"error": "Shared secret is required in x-api-key header"},
    )
    wrong = await http.get(f"{API}/seller-taxonomy/nodes", headers={"x-api-key": f"{KEY}:nope"})
    assert wrong.status_code == 403
    good = await http.get(f"{API}/seller-taxonomy/nodes", headers={"x-api-key": f"{KEY}:{SECRET}"})
    assert good.status_code == 200
    names = [
        n["name"]
        for root in good.json()["results"]
        for c in root["children"]
        for n in [c, *c["children"]]
    ]
    assert {"T-shirts", "Mugs", "Posters"} <= set(names)
    assert good.headers["x-limit-per-second"] == "10"
    assert good.headers["x-limit-per-day"] == "10000"
    assert good.headers["x-remaining-this-second"] == "9"  # refused keys are not counted
    assert state.errors["403"] == 3


async def test_private_endpoint_needs_a_valid_token_with_scope(
    http: httpx.AsyncClient, state: EtsySandboxState
) -> None:
    key = {"x-api-key": f"{KEY}:{SECRET}"}
    missing = await http.get(f"{API}/users/me", headers=key)
    assert missing.status_code == 401
    assert missing.json()["error"] == "invalid_token"
    narrow = await http.get(f"{API}/users/me", headers=headers(state, "listings_r"))
    assert narrow.status_code == 403
    assert narrow.json() == {"error": "insufficient_scope: getMe needs the shops_r scope"}
    auth = headers(state)
    state.expire_access_tokens()
    expired = await http.get(f"{API}/users/me", headers=auth)
    assert expired.json() == {
        "error": "invalid_token",
        "error_description": "access token is expired",
    }


async def test_consent_page_and_allow_button(
    http: httpx.AsyncClient, state: EtsySandboxState
) -> None:
    query = {
        "response_type": "code", "client_id": KEY, "redirect_uri": REDIRECT, "scope": "shops_r listings_w",
        "state": "xyz", "code_challenge": "c" * 43, "code_challenge_method": "S256",
    }  # fmt: skip
    page = await http.get("/oauth/connect", params=query)
    assert page.status_code == 200
    assert "Allow access to FlashFusionSandbox?" in page.text
    assert '<button name="decision" value="allow">Allow</button>' in page.text
    allowed = await http.post("/oauth/connect", params=query, data={"decision": "allow"})
    assert allowed.status_code == 302
    back = dict(parse_qsl(urlsplit(allowed.headers["location"]).query))
    assert back["state"] == "xyz"
    assert back["code"] in state.codes
    denied = await http.post("/oauth/connect", params=query, data={"decision": "deny"})
    assert denied.headers["location"] == f"{REDIRECT}?error=access_denied&state=xyz"
    plain = await http.get("/oauth/connect", params=query | {"code_challenge_method": "plain"})
    assert (plain.status_code, "code_challenge_method must be S256" in plain.text) == (400, True)


async def test_token_endpoint_wants_a_form(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/v3/public/oauth/token",
        json={"grant_type": "refresh_token", "client_id": KEY, "refresh_token": "x"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_rate_limit_per_second_is_time_scaled(
    http: httpx.AsyncClient, state: EtsySandboxState
) -> None:
    clock = Clock()
    state.clock = clock
    key = {"x-api-key": f"{KEY}:{SECRET}"}
    statuses = [
        (await http.get(f"{API}/seller-taxonomy/nodes", headers=key)).status_code for _ in range(11)
    ]
    assert statuses == [200] * 10 + [429]
    limited = await http.get(f"{API}/seller-taxonomy/nodes", headers=key)
    assert limited.headers["retry-after"] == "0.001"  # a 1 s window at time_scale 1000
    assert "x-remaining-this-second" not in limited.headers
    assert limited.json() == {"error": "Rate limit exceeded."}
    clock.now += 0.002  # the scaled second has passed
    assert (await http.get(f"{API}/seller-taxonomy/nodes", headers=key)).status_code == 200
    assert state.max_rate_seen["per_second"] == 10
    assert state.errors["429"] == 2


async def test_rate_limit_per_day_after_per_second() -> None:
    state: EtsySandboxState = create_app(apps={KEY: SECRET}).state.sandbox
    clock = Clock()
    state.clock = clock
    start = clock.now
    for n in range(10_000):
        clock.now += 0.2  # 5 per second: never over QPS
        assert state.admit("k") is None, n
    clock.now += 0.2
    wait = state.admit("k")
    assert wait is not None
    # The sliding day frees its first slot 86,400 s after the first admitted call.
    assert wait == pytest.approx(86_400 - (clock.now - (start + 0.2)), abs=0.01)
    assert state.max_rate_seen == {"per_second": 5, "per_day": 10_000}


async def test_create_draft_is_form_only_and_names_fields(
    http: httpx.AsyncClient, state: EtsySandboxState
) -> None:
    auth = headers(state)
    as_json = await http.post(
        f"{API}/shops/{shop(state)}/listings", json=draft_form(state), headers=auth
    )
    assert as_json.status_code == 400
    assert as_json.json() == {
        "error": "createDraftListing takes an application/x-www-form-urlencoded body (got application/json)."
    }
    for field_name in (
        "quantity",
        "title",
        "description",
        "price",
        "who_made",
        "when_made",
        "taxonomy_id",
    ):
        missing = await create_draft(http, state, auth, **{field_name: ""})
        assert missing.status_code == 400, field_name
        assert missing.json() == {"error": f"{field_name} is required."}
    enum = await create_draft(http, state, auth, who_made="robot")
    assert enum.json() == {"error": "who_made must be one of: i_did, someone_else, collective."}
    tag = await create_draft(http, state, auth, tags="good,bad!")
    assert tag.json()["error"].startswith("tags: 'bad!' may contain only")
    title = await create_draft(http, state, auth, title="50% off: 100% cat")
    assert title.status_code == 400
    assert (await create_draft(http, state, auth, shipping_profile_id="")).json() == {
        "error": "shipping_profile_id is required for a physical listing."
    }
    assert (await create_draft(http, state, auth, readiness_state_id="")).json() == {
        "error": "readiness_state_id is required for a physical listing."
    }
    assert (await create_draft(http, state, auth, price="0")).json() == {
        "error": "price must be a positive non-zero number."
    }
    assert state.created["listing"] == 0
    made = await create_draft(http, state, auth, tags="cat,mug")
    assert made.status_code == 201
    body = made.json()
    assert (body["state"], body["price"], body["tags"], body["quantity"]) == (
        "draft",
        {"amount": 1250, "divisor": 100, "currency_code": "USD"},
        ["cat", "mug"],
        5,
    )


async def test_images_limit_alt_text_and_activation(
    http: httpx.AsyncClient, state: EtsySandboxState
) -> None:
    auth = headers(state)
    listing_id = (await create_draft(http, state, auth)).json()["listing_id"]
    images = f"{API}/shops/{shop(state)}/listings/{listing_id}/images"
    listing_url = f"{API}/shops/{shop(state)}/listings/{listing_id}"
    early = await http.patch(listing_url, data={"state": "active"}, headers=auth)
    assert early.json() == {
        "error": "state: a listing needs at least one image before it can be active."
    }
    long_alt = await http.post(
        images, files={"image": ("a.png", b"png")}, data={"alt_text": "x" * 501}, headers=auth
    )
    assert long_alt.json() == {"error": "alt_text is limited to 500 characters."}
    no_file = await http.post(images, data={"rank": "1"}, headers=auth)
    assert no_file.status_code == 400
    for n in range(10):
        made = await http.post(
            images, files={"image": (f"{n}.png", b"png")}, data={"alt_text": f"n{n}"}, headers=auth
        )
        assert made.status_code == 201
        assert made.json()["rank"] == n + 1
    eleventh = await http.post(images, files={"image": ("x.png", b"png")}, headers=auth)
    assert eleventh.json() == {"error": "image: a listing can have at most 10 images."}
    listed = (await http.get(f"{API}/listings/{listing_id}/images", headers=auth)).json()
    assert listed["count"] == 10
    active = await http.patch(listing_url, data={"state": "active"}, headers=auth)
    assert (active.status_code, active.json()["state"]) == (200, "active")
    as_json = await http.patch(listing_url, json={"state": "inactive"}, headers=auth)
    assert as_json.status_code == 400


async def test_inventory_rules(http: httpx.AsyncClient, state: EtsySandboxState) -> None:
    auth = headers(state)
    listing_id = (await create_draft(http, state, auth, taxonomy_id="90111")).json()["listing_id"]
    url = f"{API}/listings/{listing_id}/inventory"

    def product(sku: str, size: str, price: float) -> dict[str, Any]:
        return {
            "sku": sku,
            "property_values": [{"property_id": 99100, "value_ids": [], "values": [size]}],
            "offerings": [
                {"price": price, "quantity": 3, "is_enabled": True, "readiness_state_id": None}
            ],
        }

    form = await http.put(url, data={"products": "[]"}, headers=auth)
    assert form.status_code == 400
    differing = {"products": [product("a", "S", 10.0), product("b", "M", 12.0)]}
    missing_on = await http.put(url, json=differing, headers=auth)
    assert missing_on.json() == {
        "error": "price_on_property is required when products differ in price."
    }
    same = {
        "products": [product("a", "S", 10.0), product("b", "S", 10.0)],
        "price_on_property": [99100],
        "sku_on_property": [99100],
    }
    assert (
        (await http.put(url, json=same, headers=auth))
        .json()["error"]
        .startswith("products[1].property_values repeat")
    )
    no_ready = {
        "products": [{"sku": "a", "offerings": [{"price": 1.0, "quantity": 1, "is_enabled": True}]}]
    }
    assert (await http.put(url, json=no_ready, headers=auth)).json() == {
        "error": "products[0].offerings[0].readiness_state_id is required."
    }
    good = differing | {"price_on_property": [99100], "sku_on_property": [99100]}
    done = await http.put(url, json=good, headers=auth)
    assert done.status_code == 200
    assert [(p["sku"], p["offerings"][0]["price"]["amount"]) for p in done.json()["products"]] == [
        ("a", 1000),
        ("b", 1200),
    ]
    listing = (await http.get(f"{API}/listings/{listing_id}", headers=auth)).json()
    assert (listing["quantity"], listing["price"]["amount"], listing["skus"]) == (
        6,
        1000,
        ["a", "b"],
    )


async def test_listings_by_shop_pages_and_state_filter(
    http: httpx.AsyncClient, state: EtsySandboxState
) -> None:
    auth = headers(state)
    for _ in range(3):
        await create_draft(http, state, auth)
    url = f"{API}/shops/{shop(state)}/listings"
    assert (await http.get(url, headers=auth)).json() == {
        "count": 0,
        "results": [],
    }  # default: active
    page = (
        await http.get(url, params={"state": "draft", "limit": 2, "offset": 2}, headers=auth)
    ).json()
    assert (page["count"], len(page["results"])) == (3, 1)
    too_many = await http.get(url, params={"state": "draft", "limit": 101}, headers=auth)
    assert too_many.json() == {"error": "limit must be at most 100."}


async def test_receipt_emits_signed_order_paid(
    http: httpx.AsyncClient, state: EtsySandboxState
) -> None:
    delivered: list[tuple[str, dict[str, str], bytes]] = []

    async def deliver(url: str, headers_: dict[str, str], body: bytes) -> None:
        delivered.append((url, headers_, body))

    auth = headers(state)
    listing_id = (await create_draft(http, state, auth)).json()["listing_id"]
    state.listings[listing_id]["inventory"]["products"][0]["sku"] = "sku-1"
    state.webhook_url = "https://flashfusion.test/webhooks/etsy/1"
    receipt = state.create_receipt(shop(state), listing_id, "sku-1", 3)
    assert receipt["grandtotal"] == {
        "amount": 3 * 1250 + 499,
        "divisor": 100,
        "currency_code": "USD",
    }
    assert len(state.outbox) == 1
    item = state.outbox[0]
    webhooks.verify(item["headers"], item["body"], state.webhook_secret, now=datetime.now(UTC))
    assert state.webhook_secret.startswith("whsec_")
    assert await state.flush_webhooks() == []  # no deliver: they stay
    state.deliver = deliver
    await state.flush_webhooks()
    assert [d[0] for d in delivered] == ["https://flashfusion.test/webhooks/etsy/1"]
    assert state.outbox == []
    listed = (
        await http.get(
            f"{API}/shops/{shop(state)}/receipts",
            params={"min_last_modified": receipt["updated_timestamp"]},
            headers=auth,
        )
    ).json()
    assert [r["receipt_id"] for r in listed["results"]] == [receipt["receipt_id"]]
    after = (
        await http.get(
            f"{API}/shops/{shop(state)}/receipts",
            params={"min_last_modified": receipt["updated_timestamp"] + 1},
            headers=auth,
        )
    ).json()
    assert after == {"count": 0, "results": []}


async def test_faults_are_seeded_and_counted(state: EtsySandboxState) -> None:
    other = create_app(apps={KEY: SECRET}, seed=7).state.sandbox
    again = create_app(apps={KEY: SECRET}, seed=7).state.sandbox
    other.faults.error_rate = again.faults.error_rate = 0.5
    assert [other.roll_error() for _ in range(20)] == [again.roll_error() for _ in range(20)]


async def test_drop_connection_and_commit_then_timeout_reach_the_client(
    http: httpx.AsyncClient, state: EtsySandboxState
) -> None:
    auth = headers(state)
    state.faults.drop_connection = 1
    with pytest.raises(httpx.RemoteProtocolError):
        await http.get(f"{API}/users/me", headers=auth)
    state.faults.commit_then_timeout = 1
    with pytest.raises(httpx.ReadTimeout):
        await create_draft(http, state, auth)
    assert state.created["listing"] == 1  # committed before the timeout
    assert (state.errors["dropped"], state.errors["timeout_after_commit"]) == (1, 1)
    state.faults.rate_limit = 1
    limited = await http.get(f"{API}/users/me", headers=auth)
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "1.000")
    assert state.requests["getMe"] == 2

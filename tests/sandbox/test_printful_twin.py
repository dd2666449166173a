"""The Printful twin on the wire: envelopes, errors naming the field, rate limits, faults,
counters and signed webhook deliveries."""

import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest

from flashfusion.sandbox.printful import create_app

TOKEN = "pf-twin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FILE = {"type": "front", "url": "https://media.example.com/front.png"}


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pf")


def product(external_id: str = "ff-1", sku: str = "sku-1", **variant: Any) -> dict[str, Any]:
    row = {"variant_id": 4011, "retail_price": "24.99", "sku": sku, "external_id": sku,
           "files": [FILE]} | variant  # fmt: skip
    return {"sync_product": {"name": "Tee", "external_id": external_id}, "sync_variants": [row]}


async def test_auth_envelope_and_rate_headers() -> None:
    app = create_app(tokens={TOKEN})
    async with client(app) as c:
        r = await c.get("/stores")
        assert r.status_code == 401
        assert r.json()["error"]["reason"] == "Unauthorized"
        r = await c.get("/stores", headers=AUTH)
        assert r.json() == {
            "code": 200,
            "result": [{"id": 10001, "type": "native", "name": "FlashFusion sandbox store"}],
            "paging": {"total": 1, "offset": 0, "limit": 100},
        }
        assert r.headers["x-ratelimit-policy"] == "120;w=60;"
        assert r.headers["x-ratelimit-limit"] == "120"
        assert r.headers["x-ratelimit-remaining"] == "119"
    assert app.state.sandbox.requests["stores.list"] == 2
    assert app.state.sandbox.errors["401"] == 1


async def test_errors_name_the_field() -> None:
    app = create_app(tokens={TOKEN})
    async with client(app) as c:
        bad = product()
        del bad["sync_variants"][0]["variant_id"]
        r = await c.post("/store/products", headers=AUTH, json=bad)
        assert r.status_code == 400
        assert r.json()["error"]["message"] == (
            "PR-1: The required field sync_variants[0].variant_id must be present."
        )
        r = await c.post("/store/products", headers=AUTH, json=product(retail_price=24.99))
        assert "sync_variants[0].retail_price" in r.json()["result"]
        r = await c.post("/store/products", headers=AUTH, json=product(files=[]))
        assert "sync_variants[0].files" in r.json()["result"]
        r = await c.post("/store/products", headers=AUTH, content=b"{nope")
        assert (r.status_code, r.json()["error"]["reason"]) == (430, "InvalidJson")
        many = product()
        many["sync_variants"] = many["sync_variants"] * 101
        r = await c.post("/store/products", headers=AUTH, json=many)
        assert "at most 100 sync variants" in r.json()["result"]
        r = await c.post("/v2/webhooks", headers=AUTH,
                         json={"default_url": "http://evil.example/x", "events": [{"type": "order_created"}]})  # fmt: skip
        assert r.json()["result"] == "Field default_url must be an HTTPS URL."
    assert app.state.sandbox.created["sync_product"] == 0


async def test_external_id_lookup_duplicates_and_delete() -> None:
    app = create_app(tokens={TOKEN})
    state = app.state.sandbox
    async with client(app) as c:
        first = (await c.post("/store/products", headers=AUTH, json=product())).json()["result"]
        r = await c.get("/store/products/@ff-1", headers=AUTH)
        assert r.json()["result"]["sync_product"]["id"] == first["id"]
        assert (await c.get("/store/products/@nope", headers=AUTH)).status_code == 404
        assert state.duplicates() == []
        await c.post("/store/products", headers=AUTH, json=product())
        assert state.duplicates() == ["external_id:ff-1", "sku:sku-1"]
        r = await c.delete(f"/store/products/{first['id']}", headers=AUTH)
        assert r.json()["result"]["sync_product"]["id"] == first["id"]
        assert state.duplicates() == []


async def test_general_limit_with_time_scale_and_retry_after() -> None:
    app = create_app(tokens={TOKEN}, time_scale=60.0)  # 60 s window -> 1 s
    state = app.state.sandbox
    async with client(app) as c:
        statuses = [(await c.get("/stores", headers=AUTH)).status_code for _ in range(121)]
        assert statuses.count(200) == 120
        assert statuses[-1] == 429
        r = await c.get("/stores", headers=AUTH)
        assert r.headers["retry-after"] == "1"
        assert r.json()["error"]["reason"] == "TooManyRequests"
    assert state.max_rate_seen["requests"] == 120
    assert state.errors["429"] == 2


async def test_put_and_mockup_windows() -> None:
    app = create_app(tokens={TOKEN})
    async with client(app) as c:
        pid = (await c.post("/store/products", headers=AUTH, json=product())).json()["result"]["id"]
        body = {"sync_product": {"name": "Renamed"}}
        codes = [(await c.put(f"/store/products/{pid}", headers=AUTH, json=body)).status_code
                 for _ in range(11)]  # fmt: skip
        assert codes == [200] * 10 + [429]
        task = {"products": [{"source": "catalog", "catalog_product_id": 71,
                              "catalog_variant_ids": [4011],
                              "placements": [{"placement": "front", "technique": "dtg",
                                              "layers": [{"type": "file", "url": FILE["url"]}]}]}]}  # fmt: skip
        codes = [(await c.post("/v2/mockup-tasks", headers=AUTH, json=task)).status_code
                 for _ in range(11)]  # fmt: skip
        assert codes == [200] * 10 + [429]
    assert app.state.sandbox.max_rate_seen["mockups"] == 10


async def test_faults_are_seeded_and_counted() -> None:
    async def run(seed: int) -> list[int]:
        app = create_app(tokens={TOKEN}, seed=seed)
        app.state.sandbox.faults.error_rate = 0.5
        async with client(app) as c:
            return [(await c.get("/products/71", headers=AUTH)).status_code for _ in range(20)]

    first = await run(7)
    assert first == await run(7)
    assert 0 < sum(1 for s in first if s >= 500) < 20
    app = create_app(tokens={TOKEN})
    app.state.sandbox.faults.hang = 1
    app.state.sandbox.faults.hang_seconds = 0.01
    async with client(app) as c:
        with pytest.raises(httpx.ReadTimeout):
            await c.get("/stores", headers=AUTH)
        app.state.sandbox.faults.drop_connection = 1
        with pytest.raises(httpx.TransportError):
            await c.get("/stores", headers=AUTH)
        app.state.sandbox.faults.commit_then_timeout = 1
        with pytest.raises(httpx.ReadTimeout):
            await c.post("/store/products", headers=AUTH, json=product())
    assert app.state.sandbox.created["sync_product"] == 1


async def test_catalog_from_the_bundled_catalog() -> None:
    app = create_app(tokens={TOKEN})
    async with client(app) as c:
        variant = (await c.get("/products/variant/4011", headers=AUTH)).json()["result"]
        assert (variant["variant"]["product_id"], variant["variant"]["size"]) == (71, "S")
        files = (await c.get("/mockup-generator/printfiles/19", headers=AUTH)).json()["result"]
        sizes = {
            p["printfile_id"]: (p["width"], p["height"], p["dpi"]) for p in files["printfiles"]
        }
        assert sizes[43] == (2700, 1050, 300)
        placements = {v["variant_id"]: v["placements"] for v in files["variant_printfiles"]}
        assert placements[1320] == {"default": 43}
        assert (await c.get("/products/999999", headers=AUTH)).status_code == 404


async def test_webhook_deliveries_are_signed_and_retried() -> None:
    seen: list[tuple[str, dict[str, str], bytes]] = []
    answers = [500, 200]

    async def deliver(url: str, headers: dict[str, str], body: bytes) -> int:
        seen.append((url, headers, body))
        return answers.pop(0)

    app = create_app(tokens={TOKEN}, deliver=deliver)
    state = app.state.sandbox
    async with client(app) as c:
        r = await c.post("/v2/webhooks", headers=AUTH, json={
            "default_url": "https://ff.example/wh", "events": [{"type": "order_created"}]})  # fmt: skip
        created = r.json()["result"]
        assert set(created) == {"default_url", "expires_at", "events", "public_key", "secret_key"}
        got = (await c.get("/v2/webhooks", headers=AUTH)).json()["result"]
        assert "secret_key" not in got
        assert got["public_key"] == created["public_key"]
        sku = (await c.post("/store/products", headers=AUTH, json=product())).json()["result"]
    order = state.create_order(items=[{"external_variant_id": "sku-1"}])
    assert sku["id"] > 0
    assert await state.flush_webhooks() == 0  # first delivery answered 500: kept, retries + 1
    assert await state.flush_webhooks() == 1
    assert state.outbox == []
    url, headers, body = seen[1]
    event = json.loads(body)
    assert (url, event["type"], event["retries"], event["data"]["order"]["id"]) == (
        "https://ff.example/wh", "order_created", 1, order["id"],
    )  # fmt: skip
    key = bytes.fromhex(created["secret_key"])
    assert headers["x-pf-webhook-signature"] == hmac.new(key, body, hashlib.sha256).hexdigest()
    assert headers["x-pf-webhook-public-key"] == created["public_key"]

"""sandbox/runtime.py: in-process twins for sandbox connections, their credentials, and
webhook delivery to the FlashFusion app."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flashfusion.config import get_settings
from flashfusion.sandbox import runtime


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    runtime.reset()
    yield
    runtime.reset()


def _client(service: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=runtime.app_for(service)),
        base_url=f"http://{service}.sandbox",
    )


def test_credentials_are_random_stable_per_process_and_per_service() -> None:
    printify = runtime.credentials_for("printify")
    assert set(printify) == {"access_token"}
    assert len(printify["access_token"]) == 43  # 32 random bytes, URL-safe base64
    assert runtime.credentials_for("printify") == printify
    assert runtime.credentials_for("printful")["access_token"] != printify["access_token"]
    etsy = runtime.credentials_for("etsy")
    assert set(etsy) == {"keystring", "shared_secret", "webhook_secret"}
    assert len(etsy["keystring"]) == 24
    assert len(etsy["shared_secret"]) == 20
    assert etsy["webhook_secret"].startswith("whsec_")
    runtime.reset()
    assert runtime.credentials_for("printify") != printify


def test_one_app_per_service_per_process() -> None:
    assert runtime.app_for("printify") is runtime.app_for("printify")
    assert runtime.app_for("printful") is not runtime.app_for("printify")


def test_twins_get_the_sandbox_time_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "SANDBOX_TIME_SCALE", 60.0)
    app: Any = runtime.app_for("printify")
    assert app.state.sandbox.time_scale == 60.0


async def test_printify_twin_accepts_its_token_only() -> None:
    token = runtime.credentials_for("printify")["access_token"]
    async with _client("printify") as client:
        ok = await client.get("/v1/shops.json", headers={"Authorization": f"Bearer {token}"})
        refused = await client.get("/v1/shops.json", headers={"Authorization": "Bearer nope"})
    assert ok.status_code == 200
    assert refused.status_code == 401


async def test_printful_twin_accepts_its_token_only() -> None:
    token = runtime.credentials_for("printful")["access_token"]
    async with _client("printful") as client:
        ok = await client.get("/stores", headers={"Authorization": f"Bearer {token}"})
        refused = await client.get("/stores", headers={"Authorization": "Bearer nope"})
    assert ok.status_code == 200
    assert refused.status_code == 401


async def test_etsy_twin_accepts_its_app_key_only() -> None:
    etsy = runtime.credentials_for("etsy")
    key = f"{etsy['keystring']}:{etsy['shared_secret']}"
    async with _client("etsy") as client:
        ok = await client.get("/v3/application/openapi-ping", headers={"x-api-key": key})
        refused = await client.get(
            "/v3/application/openapi-ping", headers={"x-api-key": f"{etsy['keystring']}:x"}
        )
    assert ok.status_code == 200
    assert refused.status_code in (401, 403)


def test_unknown_service_is_a_clear_error() -> None:
    with pytest.raises(runtime.UnknownSandboxService, match="no sandbox twin named 'nosuch'"):
        runtime.app_for("nosuch")


def test_registered_services_are_built_from_sandbox_services() -> None:
    app: Any = runtime.app_for("uspto_tsdr")  # in SERVICES, takes api_keys=
    assert app.state.sandbox.api_keys == {runtime.credentials_for("uspto_tsdr")["api_key"]}


def _target() -> tuple[Starlette, list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    async def hook(request: Request) -> Response:
        received.append(
            {
                "path": request.url.path,
                "query": request.url.query,
                "signature": request.headers.get("x-pfy-signature"),
                "body": await request.body(),
            }
        )
        status = 500 if request.url.path.endswith("/broken") else 200
        return JSONResponse({"ok": status == 200}, status_code=status)

    app = Starlette(routes=[Route("/webhooks/{rest:path}", hook, methods=["POST"])])
    return app, received


async def test_deliver_posts_the_path_to_the_app() -> None:
    app, received = _target()
    runtime.set_webhook_target(app)
    response = await runtime.deliver(
        "https://public.example.com/webhooks/printify/abc?x=1",
        {"X-Pfy-Signature": "sha256=00", "Content-Type": "application/json"},
        b'{"id": "e1"}',
    )
    assert response.status_code == 200
    assert received == [
        {
            "path": "/webhooks/printify/abc",
            "query": "x=1",
            "signature": "sha256=00",
            "body": b'{"id": "e1"}',
        }
    ]


async def test_deliver_fails_without_target_or_on_error_status() -> None:
    with pytest.raises(runtime.WebhookNotDelivered, match="no webhook target"):
        await runtime.deliver("https://x/webhooks/a", {}, b"{}")
    app, _ = _target()
    runtime.set_webhook_target(app)
    with pytest.raises(runtime.WebhookNotDelivered, match="answered 500"):
        await runtime.deliver("https://x/webhooks/broken", {}, b"{}")


@pytest.mark.parametrize("service", ["printful", "etsy"])
def test_twins_are_built_with_runtime_deliver(service: str) -> None:
    twin: Any = runtime.app_for(service)
    assert twin.state.sandbox.deliver is runtime.deliver

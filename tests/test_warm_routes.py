"""`warm_routes` (kit/routing.py): every route is resolved at start-up, so no request (a
first webhook in the middle of a batch) pays for building FastAPI's route contexts."""

from typing import Any

import fastapi.routing
import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from flashfusion.demo import webhook_receiver
from flashfusion.kit.routing import warm_routes

_CONTEXT = getattr(fastapi.routing, "_EffectiveRouteContext", None)
pytestmark = pytest.mark.skipif(
    _CONTEXT is None or not hasattr(_CONTEXT, "from_api_route"),
    reason="this FastAPI builds no route contexts lazily "
    "(fastapi.routing._EffectiveRouteContext.from_api_route): nothing to warm",
)


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the route contexts FastAPI builds from now on."""
    assert _CONTEXT is not None
    paths: list[str] = []
    original = _CONTEXT.from_api_route.__func__  # type: ignore[attr-defined]

    def counting(cls: Any, *args: Any, **kwargs: Any) -> Any:
        paths.append(kwargs["original_route"].path)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(_CONTEXT, "from_api_route", classmethod(counting))
    return paths


class Note(BaseModel):
    text: str


def _app() -> FastAPI:
    inner = APIRouter(prefix="/inner")

    @inner.post("/notes")
    async def add(note: Note) -> dict[str, str]:
        return {"text": note.text}

    outer = APIRouter(prefix="/outer")

    @outer.get("/ping")
    async def ping() -> dict[str, str]:
        return {"ok": "yes"}

    outer.include_router(inner)
    app = FastAPI()
    app.include_router(outer)
    return app


async def _post(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        return await client.post("/outer/inner/notes", json={"text": "hi"})


async def test_a_cold_app_builds_route_contexts_on_its_first_request(built: list[str]) -> None:
    app = _app()
    response = await _post(app)
    assert (response.status_code, response.json()) == (200, {"text": "hi"})
    assert "/inner/notes" in built  # the request paid for it


async def test_after_warming_no_request_builds_a_route_context(built: list[str]) -> None:
    app = _app()
    warm_routes(app)
    assert set(built) == {"/inner/notes", "/outer/ping"}
    built.clear()
    response = await _post(app)
    assert (response.status_code, response.json()) == (200, {"text": "hi"})
    assert built == []


async def test_the_demos_webhook_receiver_is_warm(built: list[str]) -> None:
    app = webhook_receiver()
    assert built  # warmed while it was built
    built.clear()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        response = await client.get("/webhooks/printify/not-a-uuid")
    assert response.status_code == 405  # POST only; routed without building anything
    assert built == []

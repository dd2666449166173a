"""`POST /webhooks/{platform}/{connection_id}`: a signed delivery is stored once and its job
enqueued once; a forged, wrongly keyed, unsigned or stale one is a 401 that stores nothing and
says nothing about why; an unknown connection is a 404, a body over 1 MiB a 413, malformed
JSON under a valid signature a 400; a replay is a 200 duplicate with one row and one job."""

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.connector.base import WebhookRejected
from flashfusion.external_event.service import MAX_BODY_BYTES, WEBHOOKS_RECEIVED
from flashfusion.models import ExternalEvent, Job, PlatformConnection
from tests.external_event.fakes import (
    PLATFORM,
    Delivery,
    FakeConnector,
    create_connection,
    fake_connector,
    sign,
    with_order_routes,
)
from tests.fixtures.objects import Tenant

__all__ = ["fake_connector"]

SECRET = "whsec-test-secret-1"
REJECTED = {"error": "WebhookRejected", "detail": "Signature verification failed."}


@pytest.fixture
async def hooks(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    # No cookies, no API key: a platform posting from outside.
    transport = httpx.ASGITransport(app=with_order_routes(app), client=("198.51.100.9", 443))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def shop(
    session: AsyncSession, tenant: Tenant, fake_connector: FakeConnector
) -> PlatformConnection:
    return await create_connection(session, tenant.organization, secret=SECRET)


def url(connection: PlatformConnection, platform: str = PLATFORM) -> str:
    return f"/webhooks/{platform}/{connection.id}"


async def stored(session: AsyncSession) -> list[ExternalEvent]:
    rows = await session.execute(select(ExternalEvent).order_by(ExternalEvent.received_at))
    return list(rows.scalars())


async def jobs(session: AsyncSession) -> list[Job]:
    rows = await session.execute(select(Job).where(Job.kind == "webhooks.process_event"))
    return list(rows.scalars())


def rejected_count() -> float:
    return WEBHOOKS_RECEIVED.labels(PLATFORM, "rejected")._value.get()


async def test_a_signed_delivery_is_stored_and_its_job_enqueued(
    hooks: httpx.AsyncClient, session: AsyncSession, shop: PlatformConnection
) -> None:
    delivery = Delivery("evt-1", resource_id="1001")
    response = await hooks.post(
        url(shop), content=delivery.body(), headers=delivery.headers(SECRET)
    )
    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False}
    [event] = await stored(session)
    assert (event.organization_id, event.connection_id, event.platform) == (
        shop.organization_id,
        shop.id,
        PLATFORM,
    )
    assert (event.event_id, event.topic, event.resource_type, event.resource_id) == (
        "evt-1",
        "order:updated",
        "order",
        "1001",
    )
    assert event.occurred_at == delivery.created_at
    assert event.payload == json.loads(delivery.body())
    assert (event.handled_at, event.attempts, event.error) == (None, 0, None)
    [job] = await jobs(session)
    assert job.arguments == [str(event.id)]
    assert job.organization_id == shop.organization_id
    assert job.summary == "Process fakeshop event order:updated"
    assert job.workflow_id == f"webhooks.process_event:{job.id}"


async def test_a_replayed_delivery_is_a_duplicate_with_one_row_and_one_job(
    hooks: httpx.AsyncClient, session: AsyncSession, shop: PlatformConnection
) -> None:
    delivery = Delivery("evt-replay")
    answers = []
    for _ in range(3):
        response = await hooks.post(
            url(shop), content=delivery.body(), headers=delivery.headers(SECRET)
        )
        answers.append((response.status_code, response.json()))
    assert answers == [
        (200, {"received": True, "duplicate": False}),
        (200, {"received": True, "duplicate": True}),
        (200, {"received": True, "duplicate": True}),
    ]
    assert [e.event_id for e in await stored(session)] == ["evt-replay"]
    assert len(await jobs(session)) == 1


async def test_the_same_event_id_on_another_connection_is_another_event(
    hooks: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, shop: PlatformConnection
) -> None:
    second = await create_connection(
        session, tenant.organization, secret=SECRET, account_id="shop-2"
    )
    delivery = Delivery("evt-shared")
    for target in (shop, second):
        response = await hooks.post(
            url(target), content=delivery.body(), headers=delivery.headers(SECRET)
        )
        assert response.json() == {"received": True, "duplicate": False}
    assert sorted(str(e.connection_id) for e in await stored(session)) == sorted(
        [str(shop.id), str(second.id)]
    )
    assert len(await jobs(session)) == 2


@pytest.mark.parametrize(
    "case",
    ["forged", "wrong_secret", "no_signature", "no_timestamp", "stale", "future", "body_changed"],
)
async def test_bad_signatures_are_401_and_store_nothing(
    hooks: httpx.AsyncClient,
    session: AsyncSession,
    shop: PlatformConnection,
    case: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    delivery = Delivery("evt-bad", extra={"customer": "Ada Lovelace"})
    body = delivery.body()
    now = int(time.time())
    headers = delivery.headers(SECRET)
    if case == "forged":
        headers["x-fake-signature"] = "0" * 64
    elif case == "wrong_secret":
        headers = delivery.headers("another-secret")
    elif case == "no_signature":
        del headers["x-fake-signature"]
    elif case == "no_timestamp":
        del headers["x-fake-timestamp"]
    elif case == "stale":
        headers = delivery.headers(SECRET, timestamp=now - 310)
    elif case == "future":
        headers = delivery.headers(SECRET, timestamp=now + 310)
    elif case == "body_changed":
        body = body.replace(b"Ada", b"Eve")
    before = rejected_count()
    response = await hooks.post(url(shop), content=body, headers=headers)
    assert response.status_code == 401
    # The same words whatever failed: nothing that helps a forger.
    assert response.json() == REJECTED
    assert await stored(session) == []
    assert await jobs(session) == []
    assert rejected_count() == before + 1
    assert "Ada" not in caplog.text
    assert "Eve" not in caplog.text


async def test_a_connection_without_a_secret_rejects_every_delivery(
    hooks: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, fake_connector: FakeConnector
) -> None:
    unsigned = await create_connection(session, tenant.organization, secret=None)
    delivery = Delivery("evt-nosecret")
    # Signed with the empty key: still refused, never verified against "".
    response = await hooks.post(
        url(unsigned), content=delivery.body(), headers=delivery.headers("")
    )
    assert (response.status_code, response.json()) == (401, REJECTED)
    assert await stored(session) == []


async def test_unknown_connection_or_platform_is_404(
    hooks: httpx.AsyncClient, session: AsyncSession, shop: PlatformConnection
) -> None:
    delivery = Delivery("evt-404")
    body, headers = delivery.body(), delivery.headers(SECRET)
    for path in (
        f"/webhooks/{PLATFORM}/{uuid.uuid4()}",
        f"/webhooks/{PLATFORM}/not-a-uuid",
        f"/webhooks/printify/{shop.id}",  # the connection is not a Printify one
        f"/webhooks/nosuchplatform/{shop.id}",
    ):
        response = await hooks.post(path, content=body, headers=headers)
        assert response.status_code == 404, path
        assert response.json()["error"] == "WebhookConnectionNotFound", path
    assert await stored(session) == []


async def test_a_deleted_connection_is_404(
    hooks: httpx.AsyncClient, session: AsyncSession, shop: PlatformConnection
) -> None:
    shop.set_deleted_at()
    await session.flush()
    delivery = Delivery("evt-deleted")
    response = await hooks.post(
        url(shop), content=delivery.body(), headers=delivery.headers(SECRET)
    )
    assert response.status_code == 404
    assert await stored(session) == []


async def test_a_body_over_the_limit_is_413(
    hooks: httpx.AsyncClient, session: AsyncSession, shop: PlatformConnection
) -> None:
    delivery = Delivery("evt-big", extra={"padding": "x" * MAX_BODY_BYTES})
    body = delivery.body()
    assert len(body) > MAX_BODY_BYTES
    response = await hooks.post(url(shop), content=body, headers=delivery.headers(SECRET))
    assert response.status_code == 413
    assert response.json() == {
        "error": "WebhookBodyTooLarge",
        "detail": f"The body is larger than {MAX_BODY_BYTES} bytes.",
    }

    # Streamed without a Content-Length: counted as it arrives.
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    response = await hooks.post(url(shop), content=chunks(), headers=delivery.headers(SECRET))
    assert response.status_code == 413
    assert await stored(session) == []


async def test_a_body_at_the_limit_is_accepted(
    hooks: httpx.AsyncClient, session: AsyncSession, shop: PlatformConnection
) -> None:
    delivery = Delivery("evt-limit")
    padding = MAX_BODY_BYTES - len(Delivery("evt-limit", extra={"padding": ""}).body())
    delivery.extra = {"padding": "x" * padding}
    assert len(delivery.body()) == MAX_BODY_BYTES
    response = await hooks.post(
        url(shop), content=delivery.body(), headers=delivery.headers(SECRET)
    )
    assert response.status_code == 200
    assert len(await stored(session)) == 1


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"", b"\xff\xfe"])
async def test_malformed_json_under_a_valid_signature_is_400_and_stores_nothing(
    hooks: httpx.AsyncClient, session: AsyncSession, shop: PlatformConnection, body: bytes
) -> None:
    stamp = int(time.time())
    headers = {"x-fake-timestamp": str(stamp), "x-fake-signature": sign(SECRET, body, stamp)}
    response = await hooks.post(url(shop), content=body, headers=headers)
    assert response.status_code == 400
    assert response.json() == {
        "error": "MalformedWebhook",
        "detail": "The body is not a JSON object.",
    }
    assert await stored(session) == []
    assert await jobs(session) == []


async def test_json_the_connector_cannot_parse_is_400(
    hooks: httpx.AsyncClient, session: AsyncSession, shop: PlatformConnection
) -> None:
    body = b'{"id": "evt-x", "type": "order:updated"}'  # no "resource"
    stamp = int(time.time())
    headers = {"x-fake-timestamp": str(stamp), "x-fake-signature": sign(SECRET, body, stamp)}
    response = await hooks.post(url(shop), content=body, headers=headers)
    assert response.status_code == 400
    assert response.json() == {
        "error": "MalformedWebhook",
        "detail": "The body is not a fakeshop event FlashFusion can read.",
    }
    assert await stored(session) == []


async def test_a_signed_object_the_parser_rejects_is_400_not_500(
    hooks: httpx.AsyncClient,
    session: AsyncSession,
    shop: PlatformConnection,
    fake_connector: FakeConnector,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The platform parsers (Printify, Printful, Etsy) raise WebhookRejected for a signed JSON
    object that is not one of their events, e.g. {"hello": 1}."""

    def refuse(headers: object, body: bytes) -> None:
        raise WebhookRejected("not a platform event")

    monkeypatch.setattr(fake_connector, "parse_webhook", refuse)
    body = b'{"hello": 1}'
    stamp = int(time.time())
    headers = {"x-fake-timestamp": str(stamp), "x-fake-signature": sign(SECRET, body, stamp)}
    response = await hooks.post(url(shop), content=body, headers=headers)
    assert response.status_code == 400
    assert response.json() == {
        "error": "MalformedWebhook",
        "detail": "The body is not a fakeshop event FlashFusion can read.",
    }
    assert await stored(session) == []
    assert await jobs(session) == []


async def test_no_session_cookie_or_csrf_token_is_needed_and_get_is_refused(
    hooks: httpx.AsyncClient, session: AsyncSession, shop: PlatformConnection
) -> None:
    delivery = Delivery("evt-origin")
    headers = {**delivery.headers(SECRET), "origin": "https://evil.example"}
    response = await hooks.post(url(shop), content=delivery.body(), headers=headers)
    assert response.status_code == 200
    response = await hooks.get(url(shop))
    assert response.status_code == 405
    count = await session.scalar(select(func.count()).select_from(ExternalEvent))
    assert count == 1

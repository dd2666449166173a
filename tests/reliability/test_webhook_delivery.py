"""Webhooks through the real app (ASGI) and the real connectors' signature checks, signed the
way the sandbox twins sign (sandbox/printify.py `emit`: `X-Pfy-Signature: sha256=<hex>`;
sandbox/etsy.py `sign`: Standard Webhooks `v1,<base64>` over "{id}.{timestamp}.{body}"):
forged, wrong-secret, unsigned and stale deliveries are refused and store nothing; a replay
of the same event id is stored once with one job.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.config import get_settings
from flashfusion.connector.service import connection as connection_service
from flashfusion.external_event.endpoints import router as webhooks_router
from flashfusion.models import ExternalEvent, Job, PlatformConnection
from tests.fixtures.objects import Tenant

PRINTIFY_SECRET = secrets.token_urlsafe(24)
ETSY_SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
REJECTED = {"error": "WebhookRejected", "detail": "Signature verification failed."}


@pytest.fixture
async def hooks(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    app.include_router(webhooks_router)
    transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 443))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def connection(
    session: AsyncSession, tenant: Tenant, platform: str, secret: str | None
) -> PlatformConnection:
    row = PlatformConnection(
        id=uuid.uuid4(),
        organization_id=tenant.organization.id,
        platform=platform,
        name=f"{platform} shop",
        sandbox=False,
        account_id=str(424242 if platform == "printify" else 7001002),
        account={"shop_id": 424242 if platform == "printify" else 7001002},
        token_version=0,
    )
    connection_service.store_webhook_secret(row, secret)
    session.add(row)
    await session.flush()
    return row


def printify_delivery(
    secret: str, event_id: str, topic: str = "order:created"
) -> tuple[bytes, dict[str, str]]:
    event = {
        "id": event_id,
        "type": topic,
        "created_at": "2026-12-02 15:00:00+00:00",
        "resource": {
            "id": "5a96f649b2439217d070f507",
            "type": "order",
            "data": {"shop_id": 424242},
        },
    }
    body = json.dumps(event, separators=(",", ":")).encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-Pfy-Signature": f"sha256={digest}"}


def etsy_delivery(
    secret: str, event_id: str, *, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    now = int(time.time()) if timestamp is None else timestamp
    body = json.dumps(
        {
            "event_type": "ORDER_PAID",
            "event_id": event_id,
            "created_at": now,
            "data": {"receipt_id": 2001005, "shop_id": 7001002, "status": "paid"},
            "resource_url": "https://openapi.etsy.com/v3/application/shops/7001002/receipts/2001005",
            "shop_id": 7001002,
        }
    ).encode()
    webhook_id = f"msg_{secrets.token_hex(12)}"
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{webhook_id}.{now}.".encode() + body
    signature = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return body, {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(now),
        "webhook-signature": signature,
    }


async def stored(session: AsyncSession) -> list[tuple[str, str]]:
    rows = await session.execute(
        select(ExternalEvent.platform, ExternalEvent.event_id).order_by(ExternalEvent.received_at)
    )
    return [tuple(r) for r in rows.all()]  # type: ignore[misc]


async def event_jobs(session: AsyncSession) -> int:
    rows = await session.execute(select(Job).where(Job.kind == "webhooks.process_event"))
    return len(list(rows.scalars()))


async def test_printify_forged_wrong_secret_unsigned_refused_and_replay_stored_once(
    hooks: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    shop = await connection(session, tenant, "printify", PRINTIFY_SECRET)
    url = f"/webhooks/printify/{shop.id}"

    body, headers = printify_delivery(PRINTIFY_SECRET, "evt-printify-1")
    forged = body.replace(b"order:created", b"order:updated")
    response = await hooks.post(url, content=forged, headers=headers)
    assert (response.status_code, response.json()) == (401, REJECTED)
    _, wrong = printify_delivery("not-the-secret", "evt-printify-1")
    response = await hooks.post(url, content=body, headers=wrong)
    assert (response.status_code, response.json()) == (401, REJECTED)
    unsigned = {"Content-Type": "application/json"}
    response = await hooks.post(url, content=body, headers=unsigned)
    assert (response.status_code, response.json()) == (401, REJECTED)
    assert await stored(session) == []
    assert await event_jobs(session) == 0

    first = await hooks.post(url, content=body, headers=headers)
    assert (first.status_code, first.json()) == (200, {"received": True, "duplicate": False})
    replay = await hooks.post(url, content=body, headers=headers)
    assert (replay.status_code, replay.json()) == (200, {"received": True, "duplicate": True})
    assert await stored(session) == [("printify", "evt-printify-1")]
    assert await event_jobs(session) == 1


async def test_etsy_stale_forged_wrong_secret_refused_and_replay_stored_once(
    hooks: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Etsy signs with one app-wide secret (settings), not one per connection.
    monkeypatch.setattr(get_settings(), "ETSY_WEBHOOK_SECRET", SecretStr(ETSY_SECRET))
    shop = await connection(session, tenant, "etsy", None)
    url = f"/webhooks/etsy/{shop.id}"

    # connector/platforms/etsy/webhooks.py TOLERANCE_SECONDS = 300.
    body, stale = etsy_delivery(ETSY_SECRET, "evt-etsy-1", timestamp=int(time.time()) - 301)
    response = await hooks.post(url, content=body, headers=stale)
    assert (response.status_code, response.json()) == (401, REJECTED)
    body, future = etsy_delivery(ETSY_SECRET, "evt-etsy-1", timestamp=int(time.time()) + 301)
    response = await hooks.post(url, content=body, headers=future)
    assert (response.status_code, response.json()) == (401, REJECTED)
    wrong_key = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    body, wrong = etsy_delivery(wrong_key, "evt-etsy-1")
    response = await hooks.post(url, content=body, headers=wrong)
    assert (response.status_code, response.json()) == (401, REJECTED)
    body, headers = etsy_delivery(ETSY_SECRET, "evt-etsy-1")
    response = await hooks.post(url, content=body.replace(b"paid", b"open"), headers=headers)
    assert (response.status_code, response.json()) == (401, REJECTED)
    # A valid signature moved to another delivery id (the id is part of the signed string).
    moved = {**headers, "webhook-id": "msg_other"}
    response = await hooks.post(url, content=body, headers=moved)
    assert (response.status_code, response.json()) == (401, REJECTED)
    assert await stored(session) == []

    first = await hooks.post(url, content=body, headers=headers)
    assert (first.status_code, first.json()) == (200, {"received": True, "duplicate": False})
    # The same event re-sent by the platform (a new delivery id and timestamp, same event id).
    again_body, again = etsy_delivery(ETSY_SECRET, "evt-etsy-1")
    replay = await hooks.post(url, content=again_body, headers=again)
    assert (replay.status_code, replay.json()) == (200, {"received": True, "duplicate": True})
    assert await stored(session) == [("etsy", "evt-etsy-1")]
    assert await event_jobs(session) == 1


async def test_a_delivery_for_another_platforms_connection_is_not_found(
    hooks: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    shop = await connection(session, tenant, "printify", PRINTIFY_SECRET)
    body, headers = printify_delivery(PRINTIFY_SECRET, "evt-x")
    response = await hooks.post(f"/webhooks/etsy/{shop.id}", content=body, headers=headers)
    assert response.status_code == 404
    assert await stored(session) == []

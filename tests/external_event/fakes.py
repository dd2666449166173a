"""A platform connector for tests of webhooks and orders: HMAC-SHA256 signatures over
"{timestamp}.{body}" with a 5-minute tolerance, orders held in memory, plus the helpers that
make a connection to it and an app with the webhook and order routers."""

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

# Registers the job kinds before anything enqueues them (until flashfusion/tasks.py does).
import flashfusion.external_event.tasks  # noqa: F401, E402, I001
import flashfusion.order.tasks  # noqa: F401, E402, I001
from flashfusion.connector import registry
from flashfusion.connector import token as token_health
from flashfusion.connector.base import (
    AccountInfo,
    AuthKind,
    Capability,
    ConnectionContext,
    ConnectorError,
    PlatformConnector,
    RemoteOrder,
    TerminalConnectorError,
    WebhookEvent,
    WebhookRejected,
)
from flashfusion.connector.service import connection as connection_service
from flashfusion.models import ConnectionStatus, Organization, PlatformConnection

PLATFORM = "fakeshop"
TOLERANCE = 300


def sign(secret: str, body: bytes, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


class FakeConnector(PlatformConnector):
    name: ClassVar[str] = PLATFORM
    label: ClassVar[str] = "Fake Shop"
    auth_kind: ClassVar[AuthKind] = AuthKind.api_token
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.orders, Capability.webhooks}
    )
    rate_limits = ()
    default_base_url: ClassVar[str] = "http://fakeshop.invalid"
    base_url_setting: ClassVar[str] = "PRINTIFY_BASE_URL"
    sandbox_service: ClassVar[str] = PLATFORM
    webhook_signature: ClassVar[str] = "X-Fake-Signature"

    def __init__(self) -> None:
        self.orders: dict[str, RemoteOrder] = {}
        self.get_calls: list[str] = []
        self.list_calls: list[datetime | None] = []
        self.fail_with: ConnectorError | None = None

    def translate_error(self, response: httpx.Response) -> ConnectorError:
        return TerminalConnectorError("fake.refused", "Fix it.", status=response.status_code)

    async def verify(self, ctx: ConnectionContext) -> AccountInfo:
        return AccountInfo(account_id="shop-1", name="Fake shop")

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, secret: str, *, now: datetime
    ) -> None:
        signature = headers.get("x-fake-signature")
        stamp = headers.get("x-fake-timestamp")
        if not signature or not stamp or not stamp.isdigit():
            raise WebhookRejected("missing signature headers")
        if abs(now.timestamp() - int(stamp)) > TOLERANCE:
            raise WebhookRejected("stale")
        if not hmac.compare_digest(signature, sign(secret, body, int(stamp))):
            raise WebhookRejected("bad signature")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        document = json.loads(body)
        resource = document["resource"]
        return WebhookEvent(
            event_id=str(document["id"]),
            topic=str(document["type"]),
            occurred_at=datetime.fromisoformat(document["created_at"]),
            resource_type=resource.get("type"),
            resource_id=resource.get("id"),
            payload=document,
        )

    async def get_order(self, ctx: ConnectionContext, remote_id: str) -> RemoteOrder | None:
        assert ctx.credentials == {"access_token": "fake-token"}
        self.get_calls.append(remote_id)
        if self.fail_with is not None:
            raise self.fail_with
        return self.orders.get(remote_id)

    async def list_orders(
        self, ctx: ConnectionContext, *, updated_since: datetime | None
    ) -> list[RemoteOrder]:
        self.list_calls.append(updated_since)
        if self.fail_with is not None:
            raise self.fail_with
        return [
            o
            for o in self.orders.values()
            if updated_since is None or (o.updated_at is not None and o.updated_at >= updated_since)
        ]


@pytest.fixture
def fake_connector(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeConnector]:
    """The fake platform, registered alongside the real connectors."""
    connector = FakeConnector()
    real = registry.all_connectors()
    monkeypatch.setattr(registry, "all_connectors", lambda: {**real, PLATFORM: connector})
    return connector


async def create_connection(
    session: AsyncSession,
    organization: Organization,
    *,
    platform: str = PLATFORM,
    secret: str | None = "whsec-test-secret-1",
    status: ConnectionStatus = ConnectionStatus.active,
    sandbox: bool = False,
    name: str = "My fake shop",
    account: dict[str, Any] | None = None,
    account_id: str = "shop-1",
) -> PlatformConnection:
    connection = PlatformConnection(
        id=uuid.uuid4(),
        organization_id=organization.id,
        platform=platform,
        name=name,
        status=status,
        sandbox=sandbox,
        account_id=account_id,
        account_name="Fake shop",
        account=account or {},
    )
    connection.encrypted_credentials = token_health.seal_credentials(
        connection.id, {"access_token": "fake-token"}
    )
    connection_service.store_webhook_secret(connection, secret)
    session.add(connection)
    await session.flush()
    return connection


@dataclass
class Delivery:
    """One signed delivery of the fake platform."""

    event_id: str
    topic: str = "order:updated"
    resource_type: str | None = "order"
    resource_id: str | None = "1001"
    created_at: datetime = field(default_factory=lambda: datetime(2026, 12, 1, 12, tzinfo=UTC))
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self) -> bytes:
        return json.dumps(
            {
                "id": self.event_id,
                "type": self.topic,
                "created_at": self.created_at.isoformat(),
                "resource": {"type": self.resource_type, "id": self.resource_id},
                **self.extra,
            }
        ).encode()

    def headers(self, secret: str, *, timestamp: int | None = None) -> dict[str, str]:
        stamp = int(time.time()) if timestamp is None else timestamp
        return {
            "content-type": "application/json",
            "x-fake-timestamp": str(stamp),
            "x-fake-signature": sign(secret, self.body(), stamp),
        }


def with_order_routes(app: FastAPI) -> FastAPI:
    """The app with the webhook and order routers, unless the lead has wired them already."""
    from flashfusion.exceptions import api_error_responses
    from flashfusion.external_event.endpoints import router as webhook_router
    from flashfusion.order.endpoints import router as order_router
    from flashfusion.web.views_orders import router as order_pages

    paths = {getattr(r, "path", None) for r in app.router.routes}
    if "/webhooks/{platform}/{connection_id}" not in paths:
        app.include_router(webhook_router)
    if "/api/v1/orders" not in paths:
        app.include_router(order_router, prefix="/api/v1", responses=api_error_responses())
    if "/orgs/{org_id}/orders" not in paths:
        app.include_router(order_pages, include_in_schema=False)
    # Routes are matched in order: the web UI's catch-alls must not shadow the new ones.
    app.router.routes.sort(
        key=lambda r: (
            0
            if str(getattr(r, "path", "")).startswith(
                ("/webhooks/", "/api/v1/orders", "/orgs/{org_id}/orders")
            )
            else 1
        )
    )
    return app

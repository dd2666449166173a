"""An in-memory platform and connectors for publishing tests: a channel (named `etsy`, so the
payload takes Etsy listing copy and needs a photo) and a provider with Printify's publish
handshake (named `printify`), both backed by one `FakePlatform` per test that counts what it
made and can be told to fail, including after it committed (the "timeout after commit")."""

import contextlib
import itertools
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.connector import registry
from flashfusion.connector.base import (
    AccountInfo,
    AuthKind,
    Capability,
    ConnectionContext,
    ConnectorAuthError,
    ConnectorError,
    PlatformConnector,
    PublishPayload,
    RateLimit,
    RemoteListing,
    RetryableConnectorError,
)
from flashfusion.models import (
    ConnectionStatus,
    IntentState,
    MediaKind,
    PlatformConnection,
    Product,
    PublishIntent,
    Render,
    RenderFile,
    RenderFileKind,
    RenderStatus,
    utc_now,
)
from flashfusion.publishing import tasks
from flashfusion.publishing.service import publishing as publishing_service
from flashfusion.studio.media import media as media_service
from tests.fixtures.studio import png_bytes
from tests.safeguard.pipeline_fakes import add_copy, make_product


@dataclass
class Item:
    remote_id: str
    external_id: str
    title: str
    skus: list[str]
    prices: dict[str, int]
    quantities: dict[str, int]
    state: str
    url: str | None = None
    pending: bool = False


@dataclass
class FakePlatform:
    items: dict[str, Item] = field(default_factory=dict)
    created: Counter[str] = field(default_factory=Counter)
    calls: list[str] = field(default_factory=list)
    # Errors to raise on the next calls of an operation ("create", "update", ...), in order.
    fail: dict[str, list[ConnectorError]] = field(default_factory=dict)
    # Creates that commit the item and then time out (the caller never hears back).
    commit_then_timeout: int = 0
    # Options each find_listing was given, and whether creates report their id at once
    # (ctx.created) the way the Etsy and Printify connectors do.
    find_options: list[dict[str, Any]] = field(default_factory=list)
    report_created: bool = False
    completed: list[tuple[str, str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    ids: Any = field(default_factory=lambda: itertools.count(1001))

    def check(self, operation: str) -> None:
        self.calls.append(operation)
        queue = self.fail.get(operation)
        if queue:
            raise queue.pop(0)

    def remote(self, item: Item) -> RemoteListing:
        return RemoteListing(
            remote_id=item.remote_id,
            url=item.url,
            state=item.state,
            pending=item.pending,
            skus=list(item.skus),
            quantities=dict(item.quantities),
            prices=dict(item.prices),
            title=item.title,
        )

    def live(self, platform: str) -> list[Item]:
        return [i for i in self.items.values() if i.remote_id.startswith(platform)]


TIMEOUT = RetryableConnectorError(
    "timeout", "The platform did not answer in time; FlashFusion will try again shortly."
)


class FakeConnector(PlatformConnector):
    label: ClassVar[str]
    auth_kind = AuthKind.api_token
    capabilities = frozenset(
        {Capability.publish, Capability.update, Capability.unpublish, Capability.orders}
    )
    default_base_url = "https://fake.invalid"
    base_url_setting = "FAKE_BASE_URL"
    sandbox_service = "fake"
    pending_on_create: ClassVar[bool] = False
    live_state: ClassVar[str] = "active"

    def __init__(self, platform: FakePlatform) -> None:
        self.platform = platform

    def translate_error(self, response: httpx.Response) -> ConnectorError:
        raise NotImplementedError

    async def verify(self, ctx: ConnectionContext) -> AccountInfo:
        return AccountInfo(account_id="1", name="Fake")

    def _item(self, remote_id: str, payload: PublishPayload, state: str) -> Item:
        return Item(
            remote_id=remote_id,
            external_id=payload.external_id,
            title=payload.title,
            skus=[v.sku for v in payload.variants],
            prices={v.sku: v.price for v in payload.variants},
            quantities={v.sku: v.quantity for v in payload.variants},
            state=state,
            url=f"https://{self.name}.example/listing/{remote_id}",
        )

    async def find_listing(
        self, ctx: ConnectionContext, payload: PublishPayload
    ) -> RemoteListing | None:
        self.platform.check("find")
        self.platform.find_options.append(dict(payload.options))
        skus = {v.sku for v in payload.variants}
        for item in self.platform.live(self.name):
            if item.external_id == payload.external_id or skus & set(item.skus):
                return self.platform.remote(item)
        return None

    async def create_listing(
        self, ctx: ConnectionContext, payload: PublishPayload
    ) -> RemoteListing:
        self.platform.check("create")
        remote_id = f"{self.name}-{next(self.platform.ids)}"
        item = self._item(remote_id, payload, self.live_state)
        if self.pending_on_create:
            item.state, item.pending, item.url = "publishing", True, None
        self.platform.items[remote_id] = item
        self.platform.created[self.name] += 1
        if self.platform.report_created:
            await ctx.created(remote_id)
        if self.platform.commit_then_timeout > 0:
            self.platform.commit_then_timeout -= 1
            raise TIMEOUT
        return self.platform.remote(item)

    async def update_listing(
        self, ctx: ConnectionContext, remote_id: str, payload: PublishPayload
    ) -> RemoteListing:
        self.platform.check("update")
        item = self.platform.items[remote_id]
        fresh = self._item(remote_id, payload, item.state)
        fresh.url, fresh.pending = item.url, item.pending
        self.platform.items[remote_id] = fresh
        return self.platform.remote(fresh)

    async def unpublish_listing(self, ctx: ConnectionContext, remote_id: str) -> None:
        self.platform.check("unpublish")
        self.platform.items[remote_id].state = "inactive"

    async def get_listing(self, ctx: ConnectionContext, remote_id: str) -> RemoteListing | None:
        self.platform.check("get")
        item = self.platform.items.get(remote_id)
        return self.platform.remote(item) if item else None


class FakeChannel(FakeConnector):
    name = "etsy"
    label = "Etsy"
    rate_limits = (
        RateLimit("per_second", 10, 1.0, source="test figure"),
        RateLimit("per_day", 10_000, 86_400.0, source="test figure"),
    )


class FakeProvider(FakeConnector):
    """Printify's handshake: create → `pending` until told where the product went."""

    name = "printify"
    label = "Printify"
    pending_on_create = True
    live_state = "published"
    rate_limits = (
        RateLimit("per_minute", 600, 60.0, source="test figure"),
        RateLimit("publishes", 200, 1800.0, source="test figure", groups=frozenset({"publish"})),
    )

    async def update_listing(
        self, ctx: ConnectionContext, remote_id: str, payload: PublishPayload
    ) -> RemoteListing:
        remote = await super().update_listing(ctx, remote_id, payload)
        item = self.platform.items[remote_id]
        if item.state == "published":
            # As Printify: a published product's changes reach the channel by a new handshake.
            item.state, item.pending = "publishing", True
            return self.platform.remote(item)
        return remote

    async def complete_publish(
        self, ctx: ConnectionContext, remote_id: str, *, external_id: str, handle: str
    ) -> None:
        self.platform.check("complete")
        item = self.platform.items[remote_id]
        item.state, item.pending, item.url = "published", False, handle
        self.platform.completed.append((remote_id, external_id, handle))

    async def fail_publish(self, ctx: ConnectionContext, remote_id: str, reason: str) -> None:
        self.platform.check("fail_publish")
        item = self.platform.items[remote_id]
        item.state, item.pending = "draft", False
        self.platform.failed.append((remote_id, reason))


@dataclass
class FakeConnections:
    """The connection service as the workflow uses it."""

    auth_failures: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    # Raised when a context is opened (a dead token found by token health).
    open_error: ConnectorError | None = None

    @contextlib.asynccontextmanager
    async def open_context(
        self, session: AsyncSession, connection: PlatformConnection
    ) -> AsyncIterator[ConnectionContext]:
        if self.open_error is not None:
            raise self.open_error

        async def request(*args: Any, **kwargs: Any) -> httpx.Response:
            raise AssertionError("fake connectors make no HTTP calls")

        yield ConnectionContext(
            connection_id=connection.id,
            platform=connection.platform,
            account_id=connection.account_id,
            account=dict(connection.account or {}),
            credentials={},
            base_url="https://fake.invalid",
            request=request,
        )

    async def record_auth_failure(
        self, session: AsyncSession, connection: PlatformConnection, error: ConnectorAuthError
    ) -> None:
        self.auth_failures.append((connection.id, error.code))
        row = await session.get(PlatformConnection, connection.id)
        assert row is not None
        if error.needs_reconnect:
            row.status = ConnectionStatus.needs_reconnect


@dataclass
class FakeClock:
    sleeps: list[float] = field(default_factory=list)
    messages: dict[str, Any] = field(default_factory=dict)
    received: list[str] = field(default_factory=list)
    events: list[tuple[str, str, float]] = field(default_factory=list)
    on_sleep: Callable[[], Awaitable[None]] | None = None

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.on_sleep is not None:
            await self.on_sleep()

    async def recv(self, topic: str, timeout_seconds: float) -> Any:
        self.received.append(topic)
        return self.messages.pop(topic, None)

    async def get_event(self, workflow_id: str, key: str, timeout_seconds: float) -> Any:
        """A wait for another workflow's event: recorded, and a turn for `on_sleep` (which
        runs the jobs the executor would run meanwhile)."""
        self.events.append((workflow_id, key, timeout_seconds))
        if self.on_sleep is not None:
            await self.on_sleep()
        return None


@dataclass
class World:
    platform: FakePlatform
    channel: FakeChannel
    provider: FakeProvider
    connections: FakeConnections
    notified: list[tuple[str, Any, str]]


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    platform = FakePlatform()
    channel, provider = FakeChannel(platform), FakeProvider(platform)
    connections = FakeConnections()
    notified: list[tuple[str, Any, str]] = []

    async def notify(
        session: AsyncSession, workflow_id: str, message: Any, topic: str, key: str
    ) -> None:
        notified.append((workflow_id, message, topic))

    monkeypatch.setattr(registry, "all_connectors", lambda: {"etsy": channel, "printify": provider})
    monkeypatch.setattr(tasks, "connection_service", lambda: connections)
    monkeypatch.setattr(publishing_service, "notify", notify)
    return World(platform, channel, provider, connections, notified)


# --- rows -----------------------------------------------------------------------------------------


async def create_connection(
    session: AsyncSession,
    organization_id: uuid.UUID,
    platform: str = "etsy",
    *,
    status: ConnectionStatus = ConnectionStatus.active,
    linked: PlatformConnection | None = None,
    name: str | None = None,
) -> PlatformConnection:
    connection = PlatformConnection(
        id=uuid.uuid4(),
        organization_id=organization_id,
        platform=platform,
        name=name or f"My {platform} shop",
        status=status,
        sandbox=False,
        account_id=f"acct-{uuid.uuid4().hex[:6]}",
        account={},
        linked_connection_id=linked.id if linked else None,
    )
    session.add(connection)
    await session.flush()
    return connection


async def add_render(session: AsyncSession, product: Product, *, mockups: bool = True) -> Render:
    """A finished render of the product with a print file and (optionally) a mockup."""
    render = Render(
        id=uuid.uuid4(),
        organization_id=product.organization_id,
        design_id=product.design_id,
        design_version_id=product.design_version_id,
        selection={product.product_type: []},
        mockups=mockups,
        status=RenderStatus.succeeded,
        progress_done=1,
        progress_total=1,
        issues=[],
        catalog_version="2026.12.1",
        completed_at=utc_now(),
    )
    session.add(render)
    await session.flush()
    kinds = [RenderFileKind.print_file] + ([RenderFileKind.mockup] if mockups else [])
    for number, kind in enumerate(kinds):
        asset = await media_service.store(
            session,
            organization_id=product.organization_id,
            kind=MediaKind(kind.value),
            data=png_bytes((18 + number, 24), dpi=(150, 150)),
            content_type="image/png",
            width=18 + number,
            height=24,
            dpi=150,
            filename=f"{kind.value}.png",
        )
        session.add(
            RenderFile(
                organization_id=product.organization_id,
                render_id=render.id,
                media_asset_id=asset.id,
                kind=kind,
                product_type=product.product_type,
                area_key="front" if kind == RenderFileKind.print_file else None,
                variant_keys=[],
                label=kind.value,
                width=18 + number,
                height=24,
                dpi=150,
            )
        )
    product.render_id = render.id
    await session.flush()
    return render


async def publishable(
    session: AsyncSession,
    organization: Any,
    *,
    title: str = "Sunrise tee",
    copy: bool = True,
    mockups: bool = True,
) -> Product:
    product, _, _ = await make_product(
        session, organization, title=title, layers=(("title", title, {}),)
    )
    if copy:
        await add_copy(
            session,
            product,
            versions=[
                {"title": f"{title} for Etsy", "description": "A soft tee.", "tags": ["tee"]}
            ],
        )
    await add_render(session, product, mockups=mockups)
    return product


# --- running the jobs the way the executor would ----------------------------------------------------


async def queued_intents(session: AsyncSession) -> list[PublishIntent]:
    rows = await session.execute(
        select(PublishIntent)
        .where(PublishIntent.state == IntentState.queued)
        .order_by(PublishIntent.created_at, PublishIntent.version)
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def run_jobs(session: AsyncSession, clock: FakeClock | None = None) -> list[str]:
    """Run every queued intent's workflow body (DBOS is not launched in tests), in order."""
    results = []
    clock = clock or FakeClock()
    while True:
        pending = await queued_intents(session)
        if not pending:
            return results
        results.append(await tasks.run(str(pending[0].id), clock))

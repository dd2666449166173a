"""Publishing: put products on channels exactly once, keep them updated, take them down.

A request writes the ledger and nothing else happens on the platform in it: per (product,
connection) a `ChannelListing` (one per pair, made race-free), and per new version of its
content a `PublishIntent` under the unique key (listing, action, version), with its job
enqueued in the same transaction. An unchanged payload that is already published (or already
queued) makes no new intent, so a product version is never published twice; the job
(`publishing/tasks.py`) looks the item up on the platform before it creates anything.
"""

import builtins
import math
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import structlog
from dbos import error as dbos_error
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.audit.service import audit as audit_service
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.authz.permission import Permission
from flashfusion.authz.service import authz
from flashfusion.config import get_settings
from flashfusion.connector import ratelimit, registry
from flashfusion.connector.base import (
    Capability,
    ConnectionContext,
    ConnectorAuthError,
    ConnectorError,
    PlatformConnector,
    RemoteListing,
    WebhookEvent,
)
from flashfusion.exceptions import Conflict, ResourceNotFound, UnprocessableEntity
from flashfusion.jobs.enqueue import JobRequest, enqueue_many
from flashfusion.kit.pagination import PaginationParams
from flashfusion.models import Product, utc_now
from flashfusion.models.channel_listing import ChannelListing, ListingState
from flashfusion.models.platform_connection import ConnectionStatus, PlatformConnection
from flashfusion.models.publish_intent import IntentAction, IntentState, PublishIntent
from flashfusion.publishing.payload import (
    PROVIDERS,
    BuiltPayload,
    PayloadIncomplete,
    build_payload,
    copy_platform,
)
from flashfusion.publishing.repository import (
    ChannelListingRepository,
    PublishIntentRepository,
    PublishSourceRepository,
)
from flashfusion.publishing.state import (
    OPEN_INTENT_STATES,
    RETRYABLE_INTENT_STATES,
    move_intent,
    move_listing,
)
from flashfusion.safeguard.service import PublishingBlocked
from flashfusion.safeguard.service import safeguard as safeguard_service

log = structlog.get_logger(__name__)

RUN_JOB = "publishing.run_intent"
# The same workflow for intents on a platform with a publish handshake (Printify): its own
# queue, `publish_handshake` (flashfusion/jobs/engine.py), because such a run waits -- for the
# platform's webhook, for its publish quota, for the linked channel's own intent -- and a run
# that waits must never hold a slot that the work it waits for needs (see publishing/tasks.py).
HANDSHAKE_JOB = "publishing.run_handshake"
DRIFT_JOB = "publishing.check_drift"
# FlashFusion defaults (not platform figures): the drift checks, one per connection every hour
# (DRIFT_EVERY in publishing/tasks.py, 24 a day), may use at most this share of a connection's
# daily quota, so that checking never starves publishing. Etsy's 10,000 calls a day
# (developer.etsy.com "Rate limits", research/platform-apis.md §3) at 2 calls a listing: 41
# listings an hour, so a shop of 300 listings has each checked about every 7 hours; platforms
# without a daily quota (Printify, Printful) have every listing checked each hour.
DRIFT_QUOTA_SHARE = 0.2
DRIFT_CHECKS_PER_DAY = 24
DAY_SECONDS = 86_400.0
# DBOS event every publish workflow sets when its intent has settled (its final state): a
# provider's handshake waiting on its linked channel's intent wakes on it (publishing/tasks.py).
SETTLED_EVENT = "publishing.settled"
# DBOS message topic: Printify announced `product:publish:started` for this intent's product.
PUBLISH_STARTED_TOPIC = "publishing.publish_started"
# Printify's webhook topic (research/platform-apis.md §1 "Publishing flow", SDK docs quoting
# Printify).
PRINTIFY_PUBLISH_STARTED = "product:publish:started"
# FlashFusion's limits on one bulk request (the ETA and the request stay small enough to answer
# at once).
MAX_PRODUCTS = 500
MAX_CONNECTIONS = 10
# Platform states that mean "live" for drift checks (Etsy `active`; the connectors' normalised
# word for a published item otherwise).
LIVE_STATES = frozenset({"active", "published", "live"})


class ConnectionNotActive(Conflict):
    """The connection cannot be used until it is reconnected."""


class PlatformCannotPublish(UnprocessableEntity):
    """The platform's connector does not support this action."""


class MixedWorkspaces(UnprocessableEntity):
    """Products and connections of one request must belong to one workspace."""


class NothingToRetry(Conflict):
    """The listing has no failed or needs-action intent."""


class NotPublished(Conflict):
    """The listing is not live on its channel."""


# --- results -------------------------------------------------------------------------------------


@dataclass
class ItemOutcome:
    """What a request did for one (product, connection): `queued` (a new intent and job),
    `already_queued`, `already_published` (unchanged content is never published twice) or
    `refused` (`message` says why; `findings` counts the safeguard findings that block)."""

    product_id: uuid.UUID
    connection_id: uuid.UUID
    outcome: str
    listing: ChannelListing | None = None
    intent: PublishIntent | None = None
    message: str | None = None
    findings: int | None = None


@dataclass
class ConnectionEstimate:
    connection_id: uuid.UUID
    platform: str
    calls: dict[str, int]
    seconds: float


@dataclass
class PublishResult:
    items: builtins.list[ItemOutcome]
    estimates: builtins.list[ConnectionEstimate]

    @property
    def eta_seconds(self) -> float:
        # Connections run in parallel (each its own quotas): the batch takes the slowest.
        return max((e.seconds for e in self.estimates), default=0.0)


@dataclass
class BoardCell:
    product_id: uuid.UUID
    connection_id: uuid.UUID
    platform: str
    connection_name: str
    state: str
    listing_id: uuid.UUID
    remote_url: str | None
    error_code: str | None
    error_message: str | None
    error_action: str | None
    retryable: bool
    drift: dict[str, Any] | None


@dataclass
class ListingDetail:
    listing: ChannelListing
    intents: builtins.list[PublishIntent] = field(default_factory=list)


def calls_per_publish(platform: str, images: int) -> dict[str, int]:
    """Platform calls one publish makes, per operation group: FlashFusion's estimate from the
    connectors' call sequences (not a platform figure), used only for the ETA."""
    if platform == "printify":
        # find, create product, publish.json ("publish" group), publishing_succeeded; uploads.
        return {"default": 3, "publish": 1, "upload": images}
    if platform == "etsy":
        # find, createDraftListing, updateListingInventory, activate; one upload per image.
        return {"default": 4, "upload": images}
    if platform == "printful":
        # find, create sync product; one file per image.
        return {"default": 2, "upload": images}
    return {"default": 2 + images}


def time_scale(connection: PlatformConnection) -> float:
    """How much faster than real time a connection's quotas (and waits) run: the sandbox
    twins' time scale for a sandbox connection, else 1."""
    return get_settings().SANDBOX_TIME_SCALE if connection.sandbox else 1.0


def _label(platform: str) -> str:
    connector = registry.all_connectors().get(platform)
    return connector.label if connector is not None else platform.title()


@runtime_checkable
class PublishHandshake(Protocol):
    """Printify's extra calls: tell it where the product was published, or why it was not."""

    async def complete_publish(
        self, ctx: ConnectionContext, remote_id: str, *, external_id: str, handle: str
    ) -> None: ...

    async def fail_publish(self, ctx: ConnectionContext, remote_id: str, reason: str) -> None: ...


def has_handshake(platform: str) -> bool:
    """Does publishing to `platform` go through a handshake (a run that waits)?"""
    return isinstance(registry.all_connectors().get(platform), PublishHandshake)


Notifier = Callable[[AsyncSession, str, Any, str, str], Awaitable[None]]


async def dbos_notify(
    session: AsyncSession, workflow_id: str, message: Any, topic: str, idempotency_key: str
) -> None:
    """Wake a waiting workflow: a DBOS message written through the caller's own connection.

    The message row commits or rolls back with the caller's transaction (the webhook job's,
    which marks the event handled in the same commit), so no message is sent for a change that
    was undone and none is lost by a crash between the commit and a later send. It also needs no
    second connection: sending through one while this transaction holds SQLite's write lock
    waited for that very transaction ("database is locked") until the handshake's timeout.
    No DBOS context is involved, so the caller's step or workflow being over cannot refuse it.
    `idempotency_key` makes a re-run of the caller (steps run at least once) send it once.
    The system tables are in the app database (jobs/engine.py), as for enqueue_in_transaction.
    """
    from flashfusion.jobs import engine

    url = engine.system_database_url()
    connection = await session.connection()
    await connection.run_sync(
        lambda sync_connection: engine.client(url).send_in_transaction(
            sync_connection, workflow_id, message, topic, idempotency_key
        )
    )


def _unchanged(listing: ChannelListing, digest: str) -> bool:
    """Is this payload what the listing already shows (published, at its desired version)?"""
    return (
        listing.state == ListingState.published
        and listing.published_version == listing.desired_version
        and listing.payload_hash == digest
    )


def _reusable(current: PublishIntent | None, digest: str) -> bool:
    """Does the listing's open intent already ask for this payload?"""
    return (
        current is not None
        and current.payload_hash == digest
        and current.action != IntentAction.unpublish
    )


def _next_action(listing: ChannelListing) -> IntentAction:
    """A publish request on this listing: an update when it is live, else a publish."""
    live = listing.published_version is not None and listing.remote_id is not None
    if live and listing.state in (
        ListingState.published,
        ListingState.failed,
        ListingState.needs_action,
    ):
        return IntentAction.update
    return IntentAction.publish


def _requeue(listing: ChannelListing) -> None:
    """A new intent puts a failed, stuck or taken-down listing back in the queue."""
    if listing.state in (ListingState.failed, ListingState.needs_action, ListingState.unpublished):
        move_listing(listing, ListingState.queued)


def _job_request(intent: PublishIntent, listing: ChannelListing, product: Product) -> JobRequest:
    handshake = intent.action != IntentAction.unpublish and has_handshake(listing.platform)
    return JobRequest(
        kind=HANDSHAKE_JOB if handshake else RUN_JOB,
        arguments=(str(intent.id),),
        organization_id=intent.organization_id,
        summary=f"{intent.action.value.title()} {product.title!r} on "
        f"{_label(listing.platform)} (version {intent.version})",
    )


class PublishingService:
    # A seam for tests; the workflow also falls back to asking the platform when no message
    # comes.
    notify: Notifier = staticmethod(dbos_notify)

    # --- loading and checks ------------------------------------------------------------------

    async def _batch(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        product_ids: Sequence[uuid.UUID],
        connection_ids: Sequence[uuid.UUID],
        *,
        action: str,
        capability: Capability = Capability.publish,
    ) -> tuple[uuid.UUID, builtins.list[Product], builtins.list[PlatformConnection]]:
        """The products and connections (404 if any is missing or foreign), of one workspace,
        with `publishing:manage` there (403), every connection active (409) and able to
        publish (422). Nothing is written before all of this holds."""
        ids = await authz.get_accessible_org_ids(session, auth_subject)
        sources = PublishSourceRepository.from_session(session)
        products = await sources.products(list(dict.fromkeys(product_ids)), ids)
        if any(i not in products for i in product_ids):
            raise ResourceNotFound("Product")
        connections = await sources.connections(list(dict.fromkeys(connection_ids)), ids)
        if any(i not in connections for i in connection_ids):
            raise ResourceNotFound("Connection")
        organizations = {p.organization_id for p in products.values()} | {
            c.organization_id for c in connections.values()
        }
        if len(organizations) != 1:
            raise MixedWorkspaces(
                "Publish products to connections of the same workspace: these products and "
                "connections belong to different workspaces."
            )
        organization_id = organizations.pop()
        await authz.require(
            session,
            auth_subject,
            organization_id,
            Permission.publishing_manage,
            action=action,
            target_type="organization",
            target_id=organization_id,
        )
        for connection in connections.values():
            self._check_connection(connection, capability)
        return (
            organization_id,
            [products[i] for i in dict.fromkeys(product_ids)],
            [connections[i] for i in dict.fromkeys(connection_ids)],
        )

    def _check_connection(self, connection: PlatformConnection, capability: Capability) -> None:
        label = _label(connection.platform)
        if connection.status != ConnectionStatus.active:
            raise ConnectionNotActive(
                f"Reconnect {label} ({connection.name}) first: the connection is "
                f"{ConnectionStatus(connection.status).value.replace('_', ' ')}."
            )
        connector = registry.get_connector(connection.platform)
        if capability not in connector.capabilities:
            raise PlatformCannotPublish(
                f"{label} does not support {capability.value} through FlashFusion: "
                f"choose another connection."
            )

    async def _linked(
        self, session: AsyncSession, connection: PlatformConnection
    ) -> PlatformConnection | None:
        if connection.linked_connection_id is None:
            return None
        linked = await PublishSourceRepository.from_session(session).connection(
            connection.linked_connection_id
        )
        if linked is None or linked.organization_id != connection.organization_id:
            return None
        return linked

    # --- publish -------------------------------------------------------------------------------

    async def publish(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        product_ids: Sequence[uuid.UUID],
        connection_ids: Sequence[uuid.UUID],
    ) -> PublishResult:
        """Queue every product on every connection; per item what happened, and the ETA."""
        organization_id, products, connections = await self._batch(
            session, auth_subject, product_ids, connection_ids, action="publishing.publish"
        )
        linked = {c.id: await self._linked(session, c) for c in connections}
        outcomes: dict[tuple[uuid.UUID, uuid.UUID], ItemOutcome] = {}
        # One safeguard gate for the batch: its reads do not grow with the products.
        gated = await safeguard_service.gate_many(
            session, products, organization_id=organization_id
        )
        passed: builtins.list[Product] = []
        for product in products:
            blocked = gated[product.id]
            if isinstance(blocked, PublishingBlocked):
                for c in connections:
                    outcomes[(product.id, c.id)] = ItemOutcome(
                        product.id,
                        c.id,
                        "refused",
                        message=blocked.detail,
                        findings=len(blocked.findings),
                    )
                continue
            passed.append(product)
        # Checked before any listing row exists: a refused item writes nothing. Each
        # (product, connection, linked) payload is built once: a linked channel's completeness
        # check and that channel's own item (when the request names it too) are the same one.
        wanted: builtins.list[tuple[Product, PlatformConnection, BuiltPayload]] = []
        platforms = {copy_platform(c, linked[c.id]) for c in connections} | {
            copy_platform(other, None) for other in linked.values() if other is not None
        }
        built: dict[tuple[uuid.UUID, uuid.UUID, uuid.UUID | None], BuiltPayload | PayloadIncomplete]
        built = {}
        sources = PublishSourceRepository.from_session(session)
        async with sources.preloaded(passed, {p for p in platforms if p is not None}):
            for product in passed:
                for connection in connections:
                    other = linked[connection.id]
                    try:
                        payload = await self._build_once(built, session, product, connection, other)
                        if other is not None:
                            # The linked channel's listing is made by this publish's handshake:
                            # its payload must be complete too.
                            await self._build_once(built, session, product, other, None)
                    except PayloadIncomplete as e:
                        outcomes[(product.id, connection.id)] = ItemOutcome(
                            product.id, connection.id, "refused", message=e.detail
                        )
                        continue
                    wanted.append((product, connection, payload))
        outcomes.update(await self._request_many(session, auth_subject, wanted))
        items = [outcomes[(p.id, c.id)] for p in products for c in connections]
        estimates = await self._estimates(connections, linked, items)
        await audit_service.record(
            session,
            auth_subject,
            action="publishing.publish",
            organization_id=organization_id,
            target_type="organization",
            target_id=organization_id,
            details={
                "products": [str(p.id) for p in products],
                "connections": [str(c.id) for c in connections],
                "outcomes": {
                    o: sum(1 for i in items if i.outcome == o)
                    for o in sorted({i.outcome for i in items})
                },
            },
        )
        return PublishResult(items=items, estimates=estimates)

    @staticmethod
    async def _build_once(
        built: dict[
            tuple[uuid.UUID, uuid.UUID, uuid.UUID | None], BuiltPayload | PayloadIncomplete
        ],
        session: AsyncSession,
        product: Product,
        connection: PlatformConnection,
        linked: PlatformConnection | None,
    ) -> BuiltPayload:
        """`build_payload` (external id not yet known), remembered in `built` with its
        PayloadIncomplete, for the rest of the request."""
        key = (product.id, connection.id, linked.id if linked is not None else None)
        if key not in built:
            try:
                built[key] = await build_payload(
                    session, product, connection, external_id="", linked=linked
                )
            except PayloadIncomplete as e:
                built[key] = e
        found = built[key]
        if isinstance(found, PayloadIncomplete):
            raise found
        return found

    async def _request_many(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject] | None,
        wanted: Sequence[tuple[Product, PlatformConnection, BuiltPayload]],
    ) -> dict[tuple[uuid.UUID, uuid.UUID], ItemOutcome]:
        """`request` (action: publish, or update when live) for every (product, connection,
        payload) of a bulk publish, with the same outcomes, in a fixed number of statements:
        the listings made and locked at once, their open intents read at once, then one
        version bump, one intent insert and one enqueue for all that need a new intent."""
        if not wanted:
            return {}
        listings = await ChannelListingRepository.from_session(session).get_or_create_many(
            [(p.organization_id, p.id, c.id, c.platform) for p, c, _ in wanted]
        )
        intents = PublishIntentRepository.from_session(session)
        current = await intents.open_for_many([listing.id for listing in listings.values()])
        results: dict[tuple[uuid.UUID, uuid.UUID], ItemOutcome] = {}
        unchanged: builtins.list[tuple[Product, PlatformConnection, ChannelListing]] = []
        new: builtins.list[tuple[Product, PlatformConnection, ChannelListing, str, IntentAction]]
        new = []
        for product, connection, built in wanted:
            listing = listings[(product.id, connection.id)]
            built.payload.external_id = listing.external_id
            digest = built.hash
            if _unchanged(listing, digest):
                unchanged.append((product, connection, listing))
                continue
            open_intent = current.get(listing.id)
            if _reusable(open_intent, digest):
                results[(product.id, connection.id)] = ItemOutcome(
                    product.id, connection.id, "already_queued", listing=listing, intent=open_intent
                )
                continue
            new.append((product, connection, listing, digest, _next_action(listing)))
        if unchanged:
            newest = await intents.newest_many([listing.id for _, _, listing in unchanged])
            for product, connection, listing in unchanged:
                results[(product.id, connection.id)] = ItemOutcome(
                    product.id,
                    connection.id,
                    "already_published",
                    listing=listing,
                    intent=newest.get(listing.id),
                )
        if not new:
            return results
        bumped = await ChannelListingRepository.from_session(session).bump_desired_many(
            [(listing, digest) for _, _, listing, digest, _ in new]
        )
        if not bumped:  # the rows are locked: only a bug gets here
            raise Conflict("The listing changed meanwhile; try again.")
        made = await intents.insert_many(
            [
                (listing.organization_id, listing.id, action, listing.desired_version, digest)
                for _, _, listing, digest, action in new
            ]
        )
        queued: builtins.list[tuple[PublishIntent, ChannelListing, Product]] = []
        for (product, connection, listing, _, _), (intent, created) in zip(new, made, strict=True):
            results[(product.id, connection.id)] = ItemOutcome(
                product.id,
                connection.id,
                "queued" if created else "already_queued",
                listing=listing,
                intent=intent,
            )
            if created:
                _requeue(listing)
                queued.append((intent, listing, product))
        await self._enqueue_many(session, queued, auth_subject)
        return results

    async def request(
        self,
        session: AsyncSession,
        listing: ChannelListing,
        built: BuiltPayload,
        *,
        action: IntentAction | None,
        auth_subject: AuthSubject[Subject] | None,
        product: Product,
    ) -> tuple[str, PublishIntent | None]:
        """Ask for `built` on the (locked) listing: the outcome and the intent. `action` None
        means publish, or update when the listing is live."""
        intents = PublishIntentRepository.from_session(session)
        digest = built.hash
        if _unchanged(listing, digest):
            return "already_published", await intents.newest(listing.id)
        current = await intents.open_for(listing.id)
        if _reusable(current, digest):
            return "already_queued", current
        if action is None:
            action = _next_action(listing)
        version = await ChannelListingRepository.from_session(session).bump_desired(listing, digest)
        if version is None:  # the row is locked: only a bug gets here
            raise Conflict("The listing changed meanwhile; try again.")
        intent, created = await intents.insert_once(
            organization_id=listing.organization_id,
            listing_id=listing.id,
            action=action,
            version=version,
            payload_hash=digest,
        )
        if not created:
            return "already_queued", intent
        _requeue(listing)
        await self._enqueue(session, intent, listing, product, auth_subject)
        return "queued", intent

    async def _enqueue(
        self,
        session: AsyncSession,
        intent: PublishIntent,
        listing: ChannelListing,
        product: Product,
        auth_subject: AuthSubject[Subject] | None,
    ) -> None:
        await self._enqueue_many(session, [(intent, listing, product)], auth_subject)

    async def _enqueue_many(
        self,
        session: AsyncSession,
        queued: Sequence[tuple[PublishIntent, ChannelListing, Product]],
        auth_subject: AuthSubject[Subject] | None,
    ) -> None:
        """`_enqueue` for many intents: the same jobs, written together."""
        if not queued:
            return
        jobs = await enqueue_many(
            session,
            [_job_request(intent, listing, product) for intent, listing, product in queued],
            created_by=auth_subject,
        )
        for (intent, _, _), job in zip(queued, jobs, strict=True):
            intent.job_id = job.id
        await session.flush()

    async def _estimates(
        self,
        connections: Sequence[PlatformConnection],
        linked: dict[uuid.UUID, PlatformConnection | None],
        items: Sequence[ItemOutcome],
    ) -> builtins.list[ConnectionEstimate]:
        counts: dict[uuid.UUID, dict[str, int]] = {c.id: {} for c in connections}
        by_id = {c.id: c for c in connections}
        for other in linked.values():
            if other is not None:
                by_id.setdefault(other.id, other)
                counts.setdefault(other.id, {})
        for item in items:
            if item.outcome != "queued":
                continue
            connection = by_id[item.connection_id]
            images = 3  # FlashFusion's typical render: one print file and two mockups
            targets = [connection]
            extra = linked.get(connection.id)
            if extra is not None:
                targets.append(extra)
            for target in targets:
                for group, n in calls_per_publish(target.platform, images).items():
                    counts[target.id][group] = counts[target.id].get(group, 0) + n
        estimates: builtins.list[ConnectionEstimate] = []
        for connection_id, calls in counts.items():
            connection = by_id[connection_id]
            estimates.append(await self._estimate(connection, calls))
        return estimates

    async def _estimate(
        self, connection: PlatformConnection, calls: dict[str, int]
    ) -> ConnectionEstimate:
        connector = registry.get_connector(connection.platform)
        scale = time_scale(connection)
        try:
            used = {
                u.name: u.used
                for u in await ratelimit.usage(
                    connector, connection.id, connection.account_id, time_scale=scale
                )
            }
        except Exception:  # noqa: BLE001 -- the ETA is advice: unknown use counts as none
            log.warning("publishing.usage_unavailable", connection_id=str(connection.id))
            used = {}
        seconds = ratelimit.estimate_seconds(connector, calls, now_used=used, time_scale=scale)
        return ConnectionEstimate(connection.id, connection.platform, calls, seconds)

    async def estimate(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        product_ids: Sequence[uuid.UUID],
        connection_ids: Sequence[uuid.UUID],
    ) -> PublishResult:
        """The ETA of a publish without publishing (for the publish dialog): every item is
        counted as if it were queued; nothing is written."""
        _, products, connections = await self._batch(
            session, auth_subject, product_ids, connection_ids, action="publishing.estimate"
        )
        linked = {c.id: await self._linked(session, c) for c in connections}
        items = [ItemOutcome(p.id, c.id, "queued") for p in products for c in connections]
        return PublishResult(items=[], estimates=await self._estimates(connections, linked, items))

    # --- one listing ---------------------------------------------------------------------------

    async def get_listing(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        id: uuid.UUID,
        *,
        permission: Permission = Permission.publishing_read,
        action: str = "publishing.listing_read",
        lock: bool = False,
    ) -> ChannelListing:
        ids = await authz.get_accessible_org_ids(session, auth_subject)
        repository = ChannelListingRepository.from_session(session)
        listing = await repository.get_for_organizations(id, ids)
        if listing is None:
            raise ResourceNotFound("Listing")
        await authz.require(
            session,
            auth_subject,
            listing.organization_id,
            permission,
            action=action,
            target_type="channel_listing",
            target_id=listing.id,
        )
        if lock:
            locked = await repository.lock(listing.id)
            assert locked is not None
            return locked
        return listing

    async def listing_detail(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], id: uuid.UUID
    ) -> ListingDetail:
        """The listing and its intents, newest first."""
        listing = await self.get_listing(session, auth_subject, id)
        history = await PublishIntentRepository.from_session(session).history(listing.id)
        return ListingDetail(listing, list(history))

    async def list_listings(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID | None,
        product_id: uuid.UUID | None,
        connection_id: uuid.UUID | None,
        state: ListingState | None,
        pagination: PaginationParams,
    ) -> tuple[builtins.list[ChannelListing], int]:
        readable = await authz.get_readable_org_ids(
            session,
            auth_subject,
            Permission.publishing_read,
            organization_id=organization_id,
            action="publishing.listing_list",
        )
        repository = ChannelListingRepository.from_session(session)
        statement = repository.search_statement(
            readable, product_id=product_id, connection_id=connection_id, state=state
        )
        return await repository.paginate(statement, pagination)

    async def _writable(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        listing_id: uuid.UUID,
        *,
        action: str,
        capability: Capability,
    ) -> tuple[ChannelListing, Product, PlatformConnection]:
        listing = await self.get_listing(
            session,
            auth_subject,
            listing_id,
            permission=Permission.publishing_manage,
            action=action,
            lock=True,
        )
        sources = PublishSourceRepository.from_session(session)
        product = await sources.product(listing.product_id)
        connection = await sources.connection(listing.connection_id)
        if product is None or connection is None:
            raise ResourceNotFound("Listing")
        self._check_connection(connection, capability)
        return listing, product, connection

    async def update(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], listing_id: uuid.UUID
    ) -> tuple[str, PublishIntent | None]:
        """Bring a live listing in line with the product as it is now (price, inventory,
        content, images); `already_published` if nothing changed."""
        listing, product, connection = await self._writable(
            session,
            auth_subject,
            listing_id,
            action="publishing.update",
            capability=Capability.update,
        )
        if listing.published_version is None or listing.remote_id is None:
            raise NotPublished(
                "The listing is not live on its channel yet: publish it (or retry it) instead."
            )
        if listing.state in (ListingState.unpublishing, ListingState.unpublished):
            raise NotPublished("The listing was taken down: publish the product again instead.")
        linked = await self._linked(session, connection)
        built = await build_payload(
            session, product, connection, external_id=listing.external_id, linked=linked
        )
        outcome, intent = await self.request(
            session,
            listing,
            built,
            action=IntentAction.update,
            auth_subject=auth_subject,
            product=product,
        )
        await self._audit(session, auth_subject, "publishing.update", listing, outcome, intent)
        return outcome, intent

    async def unpublish(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], listing_id: uuid.UUID
    ) -> tuple[str, PublishIntent | None]:
        """Take the listing down from its channel (`already_unpublished` if it is down)."""
        listing, product, connection = await self._writable(
            session,
            auth_subject,
            listing_id,
            action="publishing.unpublish",
            capability=Capability.unpublish,
        )
        intents = PublishIntentRepository.from_session(session)
        if listing.state == ListingState.unpublished:
            return "already_unpublished", await intents.newest(listing.id)
        current = await intents.open_for(listing.id, IntentAction.unpublish)
        if current is not None:
            return "already_queued", current
        if listing.remote_id is None and listing.published_version is None:
            raise NotPublished("The listing was never published: there is nothing to take down.")
        intent, created = await intents.insert_once(
            organization_id=listing.organization_id,
            listing_id=listing.id,
            action=IntentAction.unpublish,
            version=listing.desired_version,
            payload_hash=listing.payload_hash or "",
        )
        if not created:
            if intent.state in RETRYABLE_INTENT_STATES:
                return await self._retry_intent(session, auth_subject, listing, product, intent)
            return "already_queued", intent
        await self._enqueue(session, intent, listing, product, auth_subject)
        await self._audit(session, auth_subject, "publishing.unpublish", listing, "queued", intent)
        return "queued", intent

    async def retry(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], listing_id: uuid.UUID
    ) -> tuple[str, PublishIntent | None]:
        """Run the listing's failed (or needs-action) intent again, in a new job: the job
        looks the item up on the platform first, so a retry never makes a second one."""
        listing, product, _ = await self._writable(
            session,
            auth_subject,
            listing_id,
            action="publishing.retry",
            capability=Capability.publish,
        )
        intent = await PublishIntentRepository.from_session(session).newest(listing.id)
        if intent is None or intent.state not in RETRYABLE_INTENT_STATES:
            raise NothingToRetry(
                "Nothing to retry: the listing's last publish did not fail."
                if intent is None or intent.state not in OPEN_INTENT_STATES
                else "The listing's publish is still queued or running."
            )
        return await self._retry_intent(session, auth_subject, listing, product, intent)

    async def _retry_intent(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        listing: ChannelListing,
        product: Product,
        intent: PublishIntent,
    ) -> tuple[str, PublishIntent]:
        locked = await PublishIntentRepository.from_session(session).lock(intent.id)
        assert locked is not None
        move_intent(locked, IntentState.queued)
        locked.error_code = locked.error_message = locked.error_action = None
        locked.error_kind = None
        locked.finished_at = None
        if listing.state in (ListingState.failed, ListingState.needs_action):
            move_listing(listing, ListingState.queued)
            listing.error_code = listing.error_message = listing.error_action = None
            listing.error_kind = None
        await self._enqueue(session, locked, listing, product, auth_subject)
        await self._audit(session, auth_subject, "publishing.retry", listing, "queued", locked)
        return "queued", locked

    async def _audit(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        action: str,
        listing: ChannelListing,
        outcome: str,
        intent: PublishIntent | None,
    ) -> None:
        await audit_service.record(
            session,
            auth_subject,
            action=action,
            organization_id=listing.organization_id,
            target_type="channel_listing",
            target_id=listing.id,
            details={
                "outcome": outcome,
                "intent_id": str(intent.id) if intent else None,
                "version": intent.version if intent else None,
            },
        )

    # --- status board --------------------------------------------------------------------------

    async def status_board(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID,
        product_ids: Sequence[uuid.UUID] | None = None,
    ) -> builtins.list[BoardCell]:
        """Per product × channel: state, the translated error with its fix, and whether a
        retry is possible (for the web status board)."""
        await authz.accessible_organization(
            session,
            auth_subject,
            organization_id,
            Permission.publishing_read,
            action="publishing.status_board",
        )
        listings = await ChannelListingRepository.from_session(session).for_products(
            organization_id, product_ids
        )
        connections = await PublishSourceRepository.from_session(session).connections_of(
            organization_id
        )
        latest = await PublishIntentRepository.from_session(session).latest_for(
            [listing.id for listing in listings]
        )
        cells: builtins.list[BoardCell] = []
        for listing in listings:
            connection = connections.get(listing.connection_id)
            intent = latest.get(listing.id)
            cells.append(
                BoardCell(
                    product_id=listing.product_id,
                    connection_id=listing.connection_id,
                    platform=listing.platform,
                    connection_name=connection.name if connection else "",
                    state=ListingState(listing.state).value,
                    listing_id=listing.id,
                    remote_url=listing.remote_url,
                    error_code=listing.error_code,
                    error_message=listing.error_message,
                    error_action=listing.error_action,
                    retryable=intent is not None and intent.state in RETRYABLE_INTENT_STATES,
                    drift=listing.drift,
                )
            )
        return cells

    # --- webhooks and drift ----------------------------------------------------------------------

    async def handle_event(
        self, session: AsyncSession, connection: PlatformConnection, event: WebhookEvent
    ) -> None:
        """A listing/product event from the platform. Printify's `product:publish:started`
        wakes the workflow waiting for it; a deleted or unpublished item marks its listing."""
        if event.resource_id is None:
            return
        listing = await ChannelListingRepository.from_session(session).by_remote_id(
            connection.id, str(event.resource_id)
        )
        if listing is None:
            return
        intents = PublishIntentRepository.from_session(session)
        if event.topic == PRINTIFY_PUBLISH_STARTED:
            intent = await intents.open_for(listing.id, IntentAction.publish) or (
                await intents.open_for(listing.id, IntentAction.update)
            )
            if intent is None or intent.state != IntentState.running:
                return
            workflow_id = await intents.workflow_id(intent)
            if workflow_id is not None:
                try:
                    # A savepoint of its own: a refused send (its workflow row is gone) must
                    # not undo the event's handling; the workflow then asks Printify itself.
                    async with session.begin_nested():
                        await self.notify(
                            session,
                            workflow_id,
                            {"event_id": event.event_id, "remote_id": event.resource_id},
                            f"{PUBLISH_STARTED_TOPIC}:{intent.id}",
                            f"webhook:{listing.connection_id}:{event.event_id}",
                        )
                except dbos_error.DBOSNonExistentWorkflowError:
                    log.warning("publishing.wake_missing_workflow", intent_id=str(intent.id))
            return
        gone = event.topic in ("product:deleted", "listing.deleted", "product_deleted")
        if gone and listing.state == ListingState.published:
            listing.drift = {
                "message": f"The item was deleted on {_label(listing.platform)}: publish the "
                "product again to put it back.",
                "state": "deleted",
                "event_id": event.event_id,
            }
            listing.checked_at = utc_now()

    async def check_drift(
        self, session: AsyncSession, connection_id: uuid.UUID
    ) -> builtins.list[ChannelListing]:
        """Compare the connection's published listings with the platform (state, missing
        SKUs, prices, quantities); differences go in `listing.drift` with a message, and a
        listing that matches again is cleared. Returns the listings that drifted. A platform
        with a daily quota has only `drift_budget` listings read per check, the least recently
        checked first, so the checks take turns through the shop.

        The platform not answering for one listing leaves that listing's last finding and
        goes on. A connection that cannot be used -- its token refused (the platform's answer
        or the token refresh's) -- is recorded on the connection as every publish records it
        (`record_auth_failure`: a reconnect is asked for, or the token is refreshed next time)
        and ends the check: no further call goes to a platform that refuses them. A connection
        that cannot be opened for now (a retryable refresh failure) is left for the next check.
        """
        from flashfusion.publishing.tasks import connection_service

        sources = PublishSourceRepository.from_session(session)
        connection = await sources.connection(connection_id)
        if connection is None or connection.status != ConnectionStatus.active:
            return []
        connector = registry.get_connector(connection.platform)
        listings = await ChannelListingRepository.from_session(session).published_on(
            connection.id, limit=drift_budget(connector)
        )
        linked = await self._linked(session, connection)
        drifted: builtins.list[ChannelListing] = []
        service = connection_service()
        refused: ConnectorAuthError | None = None
        try:
            async with service.open_context(session, connection) as ctx:
                for listing in listings:
                    product = await sources.product(listing.product_id)
                    if product is None:
                        continue
                    try:
                        built = await build_payload(
                            session,
                            product,
                            connection,
                            external_id=listing.external_id,
                            linked=linked,
                        )
                    except PayloadIncomplete:
                        built = None
                    try:
                        assert listing.remote_id is not None
                        remote = await connector.get_listing(ctx, listing.remote_id)
                    except ConnectorAuthError as e:
                        refused = e
                        break
                    except ConnectorError as e:
                        log.warning(
                            "publishing.drift_check_failed",
                            listing_id=str(listing.id),
                            error_code=e.code,
                        )
                        continue
                    listing.drift = drift_of(connector, remote, built)
                    listing.checked_at = utc_now()
                    if listing.drift is not None:
                        drifted.append(listing)
        except ConnectorAuthError as e:
            refused = e
        except ConnectorError as e:
            log.warning(
                "publishing.drift_check_skipped",
                connection_id=str(connection.id),
                error_code=e.code,
            )
        if refused is not None:
            log.warning(
                "publishing.drift_check_refused",
                connection_id=str(connection.id),
                error_code=refused.code,
            )
            await service.record_auth_failure(session, connection, refused)
        await session.flush()
        return drifted

    async def enqueue_drift_checks(self, session: AsyncSession) -> int:
        """A drift check job for every active connection, of any workspace, with published
        listings (the scheduled tick's fan-out, a worker's call with no subject); how many."""
        connections = await PublishSourceRepository.from_session(
            session
        ).connections_with_published()
        await enqueue_many(
            session,
            [
                JobRequest(
                    kind=DRIFT_JOB,
                    arguments=(str(connection.id),),
                    organization_id=connection.organization_id,
                    summary=f"Check listings on {connection.name}",
                )
                for connection in connections
            ],
        )
        return len(connections)


def drift_budget(connector: PlatformConnector) -> int | None:
    """How many listings one drift check of a connection may read within DRIFT_QUOTA_SHARE of
    its daily quotas (at least 1); None when it has no quota of a day or longer."""
    budgets = [
        math.floor(
            limit.limit
            * (DAY_SECONDS / limit.period_seconds)
            * DRIFT_QUOTA_SHARE
            / DRIFT_CHECKS_PER_DAY
            / connector.listing_read_calls
        )
        for limit in connector.rate_limits
        if limit.period_seconds >= DAY_SECONDS and limit.applies_to("default")
    ]
    return max(1, min(budgets)) if budgets else None


def drift_of(
    connector: PlatformConnector, remote: RemoteListing | None, built: BuiltPayload | None
) -> dict[str, Any] | None:
    """What differs between the platform's item and what FlashFusion published (None: nothing)."""
    label = connector.label
    if remote is None:
        return {
            "message": f"The listing is gone from {label}: publish the product again.",
            "state": "missing",
        }
    drift: dict[str, Any] = {}
    problems: builtins.list[str] = []
    if remote.state and remote.state.lower() not in LIVE_STATES and not remote.pending:
        drift["state"] = remote.state
        problems.append(f"it is {remote.state} on {label}")
    if built is not None:
        wanted = {v.sku: v for v in built.payload.variants}
        if remote.skus:
            missing = sorted(set(wanted) - set(remote.skus))
            if missing:
                drift["missing_skus"] = missing
                problems.append(f"{len(missing)} variant(s) are missing")
        prices = {
            sku: {"expected": v.price, "actual": remote.prices[sku]}
            for sku, v in wanted.items()
            if sku in remote.prices and remote.prices[sku] != v.price
        }
        if prices:
            drift["prices"] = prices
            problems.append(f"{len(prices)} price(s) differ")
        quantities = {
            sku: {"expected": v.quantity, "actual": remote.quantities[sku]}
            for sku, v in wanted.items()
            if sku in remote.quantities and remote.quantities[sku] != v.quantity
        }
        if quantities:
            drift["quantities"] = quantities
            problems.append(f"{len(quantities)} quantit(ies) differ")
    if not problems:
        return None
    drift["message"] = (
        f"The listing on {label} differs from FlashFusion: {'; '.join(problems)}. "
        "Update the listing to put FlashFusion's version back."
    )
    return drift


publishing = PublishingService()

__all__ = ["PROVIDERS", "publishing"]

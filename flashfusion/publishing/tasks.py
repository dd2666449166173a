"""The publish workflow: one DBOS workflow run per publish intent (publish, update, unpublish).

DBOS steps run at least once (research/job-engine.md, "Problems seen" 1): a step cut off after
its platform call and before its checkpoint runs again. Every step here is safe to repeat:

- `start` marks the intent running (a finished intent makes the run stop at once); an older
  open intent of the same listing goes first, and a newer one makes this one superseded;
- `attempt` looks the item up on the platform (by the id it stored earlier, else by our
  external id / SKUs) before it creates anything, and stores the remote id in its own commit
  the moment the platform confirms it;
- `finish` writes the outcome (state changes to the state already held are no-ops).

Retryable failures wait with a durable `DBOS.sleep` (Retry-After or exponential backoff) and
try again; an auth failure leaves the intent needing action (reconnect) and a refusal fails it
with the platform's reason and the fix. Printify's publish is a handshake: after `publish.json`
the workflow waits for `product:publish:started` (`DBOS.recv`; on timeout it asks Printify),
publishes the product to the linked channel through the same ledger (its own listing and
intent, run by its own workflow on the `publish` queue, which wakes this one with the
SETTLED_EVENT DBOS event when it settles), then tells Printify where it went
(`publishing_succeeded`) or why not. Handshake runs are on a queue of their own
(`publish_handshake`): see `run_handshake` for why.
"""

import asyncio
import contextlib
import uuid
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from dbos import DBOS

from flashfusion.connector import registry
from flashfusion.connector.base import (
    FIRST_CREATE_OPTION,
    ConnectionContext,
    ConnectorAuthError,
    ConnectorError,
    PlatformConnector,
    PublishPayload,
    RemoteListing,
    RetryableConnectorError,
)
from flashfusion.db import unit_of_work
from flashfusion.jobs.registry import job
from flashfusion.models import Product, utc_now
from flashfusion.models.channel_listing import ChannelListing, ListingState
from flashfusion.models.platform_connection import ConnectionStatus, PlatformConnection
from flashfusion.models.publish_intent import IntentAction, IntentState, PublishIntent
from flashfusion.publishing.payload import PayloadIncomplete, build_payload, product_url
from flashfusion.publishing.repository import (
    ChannelListingRepository,
    PublishIntentRepository,
    PublishSourceRepository,
)
from flashfusion.publishing.service import (
    DRIFT_JOB,
    HANDSHAKE_JOB,
    PUBLISH_STARTED_TOPIC,
    RUN_JOB,
    SETTLED_EVENT,
    PublishHandshake,
    time_scale,
)
from flashfusion.publishing.service import publishing as publishing_service
from flashfusion.publishing.state import (
    OPEN_INTENT_STATES,
    can_move,
    move_intent,
    move_listing,
)

log = structlog.get_logger(__name__)

# FlashFusion defaults (not platform figures): 14 failed tries, waiting 2 s, 4 s, … capped at
# 10 minutes between them (or the platform's Retry-After when it asks for longer), so about
# an hour of trying before the creator is asked to retry. Waiting for quota (a 429, an open
# circuit) is not a failed try: up to MAX_QUOTA_WAITS of those, each as long as asked.
MAX_ATTEMPTS = 14
MAX_QUOTA_WAITS = 100
QUOTA_CODES = frozenset({"rate_limited", "circuit_open"})
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 600.0
# How long to wait for Printify's `product:publish:started` before asking Printify instead
# (webhooks cannot reach a laptop). FlashFusion default.
HANDSHAKE_TIMEOUT_SECONDS = 120.0
# An older intent of the same listing still running: look again this often, this many times.
TURN_POLL_SECONDS = 5.0
TURN_POLLS = 720  # one hour
# The error code of a run whose listing's older intent was still running after TURN_POLLS.
STUCK_BEHIND = "stuck_behind"
# The linked channel's own publish (FlashFusion defaults): the channel's workflow wakes the
# handshake the moment its intent settles (the SETTLED_EVENT DBOS event); in case that is
# missed (a retry of the channel intent runs under a new workflow), the handshake also looks at
# the intent after 2 s, 4 s, 8 s, ... at most 60 s apart, for at most two hours. Sandbox
# connections divide these by the sandbox time scale, as their quotas are (no wait below
# CHANNEL_MIN_CHECK_SECONDS: a shorter one would cost more queries than it could save).
CHANNEL_FIRST_CHECK_SECONDS = 2.0
CHANNEL_MAX_CHECK_SECONDS = 60.0
CHANNEL_WAIT_SECONDS = 7200.0
CHANNEL_MIN_CHECK_SECONDS = 0.25
# Depth-first creates. A publish attempt makes several calls before the platform has its item
# (uploads, then the create); a bulk publish starts hundreds of runs at once, and first come,
# first served at the database and the account's limiter, they all advance together: no run
# reaches its publish call until most have made their uploads. Printify's publish quota is a
# sliding window (200 per 30 minutes, developers.printify.com "API Usage Guidelines" via
# research/platform-apis.md §1), so a late first publish delays the next window's
# publishes as much (docs/benchmarks.md, publishing throughput). So on each connection at most
# this many attempts of this process are before their item's id; a slot is freed the moment
# the platform returns the id (`ConnectionContext.created`), before any wait for the publish
# quota, or when the attempt ends. FlashFusion's choice of number, far below the hundreds a
# batch starts: in the benchmark at time scale 10, 32 slots gave 0.886 and 8 gave 0.879.
CREATE_SLOTS_PER_CONNECTION = 32
# Per event loop (a semaphore belongs to the loop it first waits on), dropped with the loop.
_create_slots: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[uuid.UUID, asyncio.Semaphore]
] = weakref.WeakKeyDictionary()

Outcome = dict[str, Any]


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based)."""
    return float(min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)))


def connection_service() -> Any:
    """The connection service (its `open_context` and `record_auth_failure`); a seam for tests."""
    from flashfusion.connector.service import connection

    return connection


class Clock(Protocol):
    async def sleep(self, seconds: float) -> None: ...

    async def recv(self, topic: str, timeout_seconds: float) -> Any: ...

    async def get_event(self, workflow_id: str, key: str, timeout_seconds: float) -> Any: ...


class DurableClock:
    """DBOS's durable sleep, messages and events: a restart resumes a wait instead of starting
    over."""

    async def sleep(self, seconds: float) -> None:
        await DBOS.sleep_async(seconds)

    async def recv(self, topic: str, timeout_seconds: float) -> Any:
        return await DBOS.recv_async(topic, timeout_seconds)

    async def get_event(self, workflow_id: str, key: str, timeout_seconds: float) -> Any:
        return await DBOS.get_event_async(workflow_id, key, timeout_seconds)


def _label(platform: str) -> str:
    connector = registry.all_connectors().get(platform)
    return connector.label if connector is not None else platform.title()


def _error(status: str, error: ConnectorError | None = None, **values: Any) -> Outcome:
    outcome: Outcome = {"status": status}
    if error is not None:
        outcome.update(
            code=error.code,
            message=error.platform_message or str(error),
            action=error.action,
            kind=error.kind.value,
            retry_after=error.retry_after,
        )
    outcome.update(values)
    return outcome


# --- steps ---------------------------------------------------------------------------------------


async def _listing_and_intent(
    session: Any, intent_id: str
) -> tuple[PublishIntent, ChannelListing] | None:
    intent = await PublishIntentRepository.from_session(session).lock(uuid.UUID(intent_id))
    if intent is None:
        return None
    listing = await ChannelListingRepository.from_session(session).lock(intent.listing_id)
    if listing is None:
        return None
    return intent, listing


@DBOS.step(name="publishing.start")
async def start(intent_id: str) -> Outcome:
    """Mark the intent running and its listing publishing/unpublishing. `run`: go on;
    `wait`: an older intent of the listing is still open; anything else: nothing to do."""
    async with unit_of_work() as session:
        found = await _listing_and_intent(session, intent_id)
        if found is None:
            return {"status": "gone"}
        intent, listing = found
        if intent.state not in OPEN_INTENT_STATES:
            return {"status": IntentState(intent.state).value}
        others = [
            i
            for i in await PublishIntentRepository.from_session(session).history(listing.id)
            if i.id != intent.id
        ]
        mine = (intent.created_at, intent.version)
        if any((i.created_at, i.version) > mine for i in others):
            # A newer request replaced this one before it ran: acting on it would put older
            # content (or a stale unpublish) over the newer one.
            move_intent(intent, IntentState.running)
            move_intent(intent, IntentState.succeeded)
            intent.error_code = "superseded"
            intent.error_message = "A newer request for this listing replaced this one."
            intent.finished_at = utc_now()
            return {"status": "superseded"}
        if any((i.created_at, i.version) < mine and i.state == IntentState.running for i in others):
            return {"status": "wait"}
        move_intent(intent, IntentState.running)
        if intent.started_at is None:
            intent.started_at = utc_now()
        target = (
            ListingState.unpublishing
            if intent.action == IntentAction.unpublish
            else ListingState.publishing
        )
        if not can_move(ListingState(listing.state), target):
            move_listing(listing, ListingState.queued)
        move_listing(listing, target)
        return {"status": "run", "action": IntentAction(intent.action).value}


@dataclass
class Work:
    intent_id: uuid.UUID
    action: IntentAction
    listing_id: uuid.UUID
    external_id: str
    remote_id: str | None
    connection: PlatformConnection
    connector: PlatformConnector
    payload: PublishPayload | None
    # No item of this listing can be on the platform yet (see `_first_create`): the create
    # goes without a look-up first, and `create_sent_at` is already committed.
    first_create: bool = False
    # The id `ctx.created` stored in this attempt (so the create's answer need not store it
    # again).
    recorded: list[str] = field(default_factory=list)


async def _first_create(
    session: Any, intent: PublishIntent, listing: ChannelListing, connection: PlatformConnection
) -> bool:
    """True when no item of this listing can be on the platform, so find-before-create has
    nothing to find and is skipped (on Etsy and Printify it pages through the whole shop,
    which grows with every product published).

    Why that holds. Every create this ledger sends for a listing is preceded by a commit of
    `listing.create_sent_at` (`_mark_create_sent`, or the commit below): so while it is unset,
    no create of this listing was ever sent, by any attempt, process or earlier intent -- and a
    crash anywhere after it is set (before the create, during it, after the platform committed
    but before `ctx.created` stored the id) leaves it set, and the next try looks first. The
    remaining ways an item with our SKUs (the product's variant SKUs) could be there are ruled
    out as well, conservatively: this intent is the listing's only one (no earlier publish,
    unpublish or superseded intent, e.g. from before `create_sent_at` existed) and on its first
    attempt (a step re-run after a crash counts again: `attempts` is committed before any
    call), the listing has no remote id, and no other listing of this product is on a
    connection of the same platform (a second connection to the same shop, whose item would
    carry the same SKUs). Two intents of one listing never act at once (`start`)."""
    if intent.action != IntentAction.publish or intent.attempts != 1:
        return False
    if intent.remote_id or listing.remote_id or listing.create_sent_at is not None:
        return False
    history = await PublishIntentRepository.from_session(session).history(listing.id)
    if [i.id for i in history] != [intent.id]:
        return False
    siblings = await ChannelListingRepository.from_session(session).for_products(
        listing.organization_id, [listing.product_id]
    )
    return not any(
        other.id != listing.id and other.platform == connection.platform for other in siblings
    )


async def _store_remote(intent_id: uuid.UUID, remote: RemoteListing) -> None:
    """Record the platform's id at once, in a commit of its own: a crash after this point
    finds the item by this id instead of creating another."""
    await _store_remote_id(intent_id, remote.remote_id, remote.url)


async def _store_remote_id(intent_id: uuid.UUID, remote_id: str, url: str | None = None) -> None:
    async with unit_of_work() as session:
        intent = await PublishIntentRepository.from_session(session).lock(intent_id)
        if intent is None:
            return
        intent.remote_id = remote_id
        listing = await ChannelListingRepository.from_session(session).lock(intent.listing_id)
        if listing is not None:
            listing.remote_id = remote_id
            if url:
                listing.remote_url = url


def _recorder(intent_id: uuid.UUID, recorded: list[str], slot: "CreateSlot") -> Any:
    """The connection context's `on_created`: a new item's id, stored before it is finished
    (and noted in `recorded`); the attempt's create slot is freed then."""

    async def record(remote_id: str) -> None:
        await _store_remote_id(intent_id, remote_id)
        recorded.append(remote_id)
        slot.release()

    return record


class CreateSlot:
    """One attempt's place among its connection's CREATE_SLOTS_PER_CONNECTION (or none, for
    an update or unpublish); released once."""

    def __init__(self, semaphore: asyncio.Semaphore | None = None) -> None:
        self._semaphore = semaphore

    def release(self) -> None:
        if self._semaphore is not None:
            self._semaphore.release()
            self._semaphore = None


def create_slots(connection_id: uuid.UUID) -> asyncio.Semaphore:
    """The connection's create slots on the running event loop."""
    on_loop = _create_slots.setdefault(asyncio.get_running_loop(), {})
    slots = on_loop.get(connection_id)
    if slots is None:
        slots = on_loop[connection_id] = asyncio.Semaphore(CREATE_SLOTS_PER_CONNECTION)
    return slots


async def _create_slot(intent_id: str) -> CreateSlot:
    """Wait for a create slot on the intent's connection (a publish intent only)."""
    async with unit_of_work(read_only=True) as session:
        connection_id = await PublishIntentRepository.from_session(session).creating_connection(
            uuid.UUID(intent_id)
        )
    if connection_id is None:
        return CreateSlot()
    slots = create_slots(connection_id)
    await slots.acquire()
    return CreateSlot(slots)


async def _mark_create_sent(listing_id: uuid.UUID) -> None:
    """Note, in a commit of its own and before the platform is asked, that a create is being
    sent for this listing (the first time only): find-before-create may then count an
    unmarked item made since as ours, should the create's answer be lost."""
    async with unit_of_work() as session:
        listing = await ChannelListingRepository.from_session(session).lock(listing_id)
        if listing is not None and listing.create_sent_at is None:
            listing.create_sent_at = utc_now()


async def _store_new(work: Work, remote: RemoteListing) -> None:
    """After a create: its id is stored unless `ctx.created` stored that very id moments ago
    (the URL is written with the outcome by `finish`)."""
    if remote.remote_id not in work.recorded:
        await _store_remote(work.intent_id, remote)


def _retry(error: RetryableConnectorError, connection: PlatformConnection) -> Outcome:
    """A retryable failure, with the connection's time scale for the backoff."""
    return _error("retry", error, time_scale=time_scale(connection))


async def _record_auth_failure(connection_id: uuid.UUID, error: ConnectorAuthError) -> None:
    async with unit_of_work() as session:
        connection = await PublishSourceRepository.from_session(session).connection(connection_id)
        if connection is not None:
            await connection_service().record_auth_failure(session, connection, error)


def _needs_reconnect(platform: str, error: ConnectorAuthError | None = None) -> Outcome:
    label = _label(platform)
    action = f"Reconnect {label} on the Connections page, then retry: the work stays queued."
    if error is not None:
        return _error("needs_action", error, action=action)
    return {
        "status": "needs_action",
        "code": "connection_not_active",
        "message": f"The {label} connection is not active.",
        "action": action,
        "kind": "auth",
    }


@contextlib.asynccontextmanager
async def _opened(
    intent_id: str,
    *,
    count: bool = False,
    with_payload: bool = True,
    slot: CreateSlot | None = None,
) -> AsyncIterator[tuple[Work, ConnectionContext] | Outcome]:
    """The intent's work (payload with image bytes, unless `with_payload` is False: the
    handshake's calls on a known item need none, and building it reads every image) and an
    open connection context; or the outcome that ends the attempt without calling the
    platform. The database session is closed before the platform is called: no transaction
    waits on a platform."""
    stack = contextlib.AsyncExitStack()
    async with stack:
        async with unit_of_work() as session:
            intents = PublishIntentRepository.from_session(session)
            intent = await intents.lock(uuid.UUID(intent_id))
            if intent is None:
                yield {"status": "failed", "code": "gone", "message": "The intent is gone."}
                return
            if count:
                intent.attempts += 1
            sources = PublishSourceRepository.from_session(session)
            listing = await ChannelListingRepository.from_session(session).lock(intent.listing_id)
            assert listing is not None
            connection = await sources.connection(listing.connection_id)
            product = await sources.product(listing.product_id)
            if connection is None or product is None:
                yield {
                    "status": "failed",
                    "code": "gone",
                    "message": "The product or the connection was deleted.",
                    "action": "Nothing to do: the listing is no longer wanted.",
                    "kind": "terminal",
                }
                return
            if connection.status != ConnectionStatus.active:
                yield _needs_reconnect(connection.platform)
                return
            connector = registry.get_connector(connection.platform)
            payload = None
            if with_payload and (
                intent.action != IntentAction.unpublish or listing.remote_id is None
            ):
                linked = (
                    await sources.connection(connection.linked_connection_id)
                    if connection.linked_connection_id
                    else None
                )
                try:
                    built = await build_payload(
                        session,
                        product,
                        connection,
                        external_id=listing.external_id,
                        linked=linked,
                        with_content=True,
                    )
                    payload = built.payload
                    if listing.remote_id:
                        # Not part of the payload hash: lets find-before-create check the
                        # known item with one read instead of scanning the shop.
                        payload.options["remote_id_hint"] = listing.remote_id
                    if listing.create_sent_at is not None:
                        payload.options["create_sent_at"] = listing.create_sent_at.timestamp()
                except PayloadIncomplete as e:
                    yield {
                        "status": "failed",
                        "code": "payload_incomplete",
                        "message": e.detail,
                        "action": e.detail,
                        "kind": "terminal",
                    }
                    return
            first_create = (
                count
                and payload is not None
                and await _first_create(session, intent, listing, connection)
            )
            if first_create:
                assert payload is not None
                # The create this attempt is about to send, marked in the commit that counts
                # the attempt (one commit fewer than `_mark_create_sent`): see `_first_create`.
                listing.create_sent_at = utc_now()
                payload.options[FIRST_CREATE_OPTION] = True
            work = Work(
                intent_id=intent.id,
                action=IntentAction(intent.action),
                listing_id=listing.id,
                external_id=listing.external_id,
                remote_id=intent.remote_id or listing.remote_id,
                connection=connection,
                connector=connector,
                payload=payload,
                first_create=first_create,
            )
            try:
                ctx = await stack.enter_async_context(
                    connection_service().open_context(session, connection)
                )
            except ConnectorAuthError as e:
                auth_error: ConnectorAuthError | None = e
            except RetryableConnectorError as e:
                yield _retry(e, connection)
                return
            except ConnectorError as e:
                yield _error("failed", e)
                return
            else:
                auth_error = None
                ctx.on_created = _recorder(intent.id, work.recorded, slot or CreateSlot())
        if auth_error is not None:
            await _record_auth_failure(connection.id, auth_error)
            yield _auth(work, auth_error)
            return
        yield work, ctx


def _auth(work: Work, error: ConnectorAuthError) -> Outcome:
    return _needs_reconnect(work.connection.platform, error)


async def _act(work: Work, ctx: ConnectionContext) -> Outcome:
    connector = work.connector
    if work.action == IntentAction.unpublish:
        remote_id = work.remote_id
        if remote_id is None:
            assert work.payload is not None
            found = await connector.find_listing(ctx, work.payload)
            if found is None:
                return {"status": "done", "remote_id": None, "url": None}
            remote_id = found.remote_id
        await connector.unpublish_listing(ctx, remote_id)
        return {"status": "done", "remote_id": remote_id, "url": None}

    assert work.payload is not None
    remote: RemoteListing | None = None
    if work.remote_id is not None:
        remote = await connector.get_listing(ctx, work.remote_id)
    if work.action == IntentAction.update:
        if remote is None:
            return {
                "status": "failed",
                "code": "remote_missing",
                "message": f"The listing is gone from {connector.label}.",
                "action": "Publish the product again to put it back.",
                "kind": "terminal",
            }
        remote = await connector.update_listing(ctx, remote.remote_id, work.payload)
        await _store_remote(work.intent_id, remote)
    else:
        # A first create (`_first_create`): nothing of this listing can be on the platform
        # yet, and its create_sent_at was committed with this attempt's count.
        if remote is None and not work.first_create:
            remote = await connector.find_listing(ctx, work.payload)
        if remote is None:
            if not work.first_create:
                await _mark_create_sent(work.listing_id)
            remote = await connector.create_listing(ctx, work.payload)
            await _store_new(work, remote)
        else:
            await _store_remote(work.intent_id, remote)
            if remote.state == "draft" and not remote.pending:
                # Ours, created but never made live (a crash, or a failed handshake): the
                # connector's create finishes an existing draft of ours instead of adding one
                # (marked first all the same: no create is sent without create_sent_at, which
                # `_first_create` relies on).
                await _mark_create_sent(work.listing_id)
                remote = await connector.create_listing(ctx, work.payload)
                await _store_remote(work.intent_id, remote)
            elif not remote.pending:
                # Live already (a re-run after the platform committed, or an older version of
                # this listing): make it match this version instead of creating a second one.
                remote = await connector.update_listing(ctx, remote.remote_id, work.payload)
                await _store_remote(work.intent_id, remote)
    status = "pending" if remote.pending else "done"
    return {"status": status, "remote_id": remote.remote_id, "url": remote.url}


@DBOS.step(name="publishing.attempt")
async def attempt(intent_id: str) -> Outcome:
    """One try at the platform: `done`, `pending` (Printify's handshake), `retry`,
    `failed` or `needs_action`, with the translated error."""
    slot = await _create_slot(intent_id)
    try:
        return await _attempt(intent_id, slot)
    finally:
        slot.release()


async def _attempt(intent_id: str, slot: CreateSlot) -> Outcome:
    async with _opened(intent_id, count=True, slot=slot) as opened:
        if isinstance(opened, dict):
            return opened
        work, ctx = opened
        try:
            return await _act(work, ctx)
        except ConnectorAuthError as e:
            await _record_auth_failure(work.connection.id, e)
            return _auth(work, e)
        except RetryableConnectorError as e:
            return _retry(e, work.connection)
        except ConnectorError as e:
            return _error("failed", e)
        except NotImplementedError:
            return {
                "status": "failed",
                "code": "not_supported",
                "message": f"{work.connector.label} cannot {work.action.value} through "
                "FlashFusion.",
                "action": "Choose another channel for this product.",
                "kind": "terminal",
            }
    raise AssertionError("unreachable")  # pragma: no cover


@DBOS.step(name="publishing.confirm_pending")
async def confirm_pending(intent_id: str) -> Outcome:
    """No `product:publish:started` came (webhooks unreachable): ask the platform. `pending`:
    carry on with the handshake; `done`: it is already complete; `failed`: it is gone."""
    async with _opened(intent_id, with_payload=False) as opened:
        if isinstance(opened, dict):
            return opened
        work, ctx = opened
        if work.remote_id is None:
            return {"status": "failed", "code": "remote_missing", "kind": "terminal"}
        try:
            remote = await work.connector.get_listing(ctx, work.remote_id)
        except ConnectorAuthError as e:
            await _record_auth_failure(work.connection.id, e)
            return _auth(work, e)
        except RetryableConnectorError as e:
            return _retry(e, work.connection)
        except ConnectorError as e:
            return _error("failed", e)
        if remote is None:
            return {
                "status": "failed",
                "code": "remote_missing",
                "message": f"The product disappeared from {work.connector.label} while publishing.",
                "action": "Publish the product again.",
                "kind": "terminal",
            }
        if remote.state == "published" and remote.url:
            return {"status": "done", "remote_id": remote.remote_id, "url": remote.url}
        return {"status": "pending", "remote_id": remote.remote_id, "url": remote.url}
    raise AssertionError("unreachable")  # pragma: no cover


@DBOS.step(name="publishing.link_channel")
async def link_channel(intent_id: str) -> Outcome:
    """The provider's linked channel for the handshake: `none` (publish with our own id),
    `use` (the product is already live there: its id, never a second listing) or `wait` for
    the channel's own intent (queued here if it did not exist)."""
    async with unit_of_work() as session:
        found = await _listing_and_intent(session, intent_id)
        if found is None:
            return {"status": "none"}
        _, listing = found
        sources = PublishSourceRepository.from_session(session)
        connection = await sources.connection(listing.connection_id)
        product = await sources.product(listing.product_id)
        if connection is None or product is None or connection.linked_connection_id is None:
            return {"status": "none"}
        linked = await sources.connection(connection.linked_connection_id)
        if linked is None or linked.organization_id != connection.organization_id:
            return {"status": "none"}
        channel, _ = await ChannelListingRepository.from_session(session).get_or_create(
            organization_id=listing.organization_id,
            product_id=product.id,
            connection_id=linked.id,
            platform=linked.platform,
        )
        try:
            built = await build_payload(session, product, linked, external_id=channel.external_id)
        except PayloadIncomplete as e:
            return {
                "status": "failed",
                "code": "payload_incomplete",
                "message": e.detail,
                "action": e.detail,
                "kind": "terminal",
            }
        outcome, channel_intent = await publishing_service.request(
            session, channel, built, action=None, auth_subject=None, product=product
        )
        if outcome == "already_published":
            return {"status": "use", "remote_id": channel.remote_id, "url": channel.remote_url}
        assert channel_intent is not None
        return {
            "status": "wait",
            "intent_id": str(channel_intent.id),
            # The channel intent's job, enqueued in this transaction when it is new.
            "workflow_id": await PublishIntentRepository.from_session(session).workflow_id(
                channel_intent
            ),
            "time_scale": time_scale(connection),
        }


@DBOS.step(name="publishing.channel_state")
async def channel_state(intent_id: str) -> Outcome:
    """Where the linked channel's intent stands: `wait` (with the workflow now running it),
    `use` (its remote id and URL) or `failed` with its error."""
    async with unit_of_work(read_only=True) as session:
        intents = PublishIntentRepository.from_session(session)
        intent = await intents.get_by_id(uuid.UUID(intent_id))
        if intent is None:
            return {"status": "failed", "code": "gone", "kind": "terminal"}
        if intent.state in OPEN_INTENT_STATES:
            return {
                "status": "wait",
                "intent_id": intent_id,
                "workflow_id": await intents.workflow_id(intent),
            }
        listing = await ChannelListingRepository.from_session(session).get_by_id(intent.listing_id)
        assert listing is not None
        if intent.state == IntentState.succeeded and listing.remote_id:
            return {"status": "use", "remote_id": listing.remote_id, "url": listing.remote_url}
        return {
            "status": "failed",
            "code": intent.error_code or "channel_failed",
            "message": intent.error_message or "",
            "action": intent.error_action or "Retry the listing on its channel.",
            "kind": intent.error_kind or "terminal",
            "platform": listing.platform,
        }


@DBOS.step(name="publishing.complete")
async def complete(intent_id: str, external_id: str, handle: str) -> Outcome:
    """Tell Printify where the product went (`publishing_succeeded`): `done`, or an error."""
    async with _opened(intent_id, with_payload=False) as opened:
        if isinstance(opened, dict):
            return opened
        work, ctx = opened
        connector = work.connector
        if work.remote_id is None or not isinstance(connector, PublishHandshake):
            return {"status": "done", "remote_id": work.remote_id, "url": handle}
        try:
            await connector.complete_publish(
                ctx, work.remote_id, external_id=external_id, handle=handle
            )
        except ConnectorAuthError as e:
            await _record_auth_failure(work.connection.id, e)
            return _auth(work, e)
        except RetryableConnectorError as e:
            return _retry(e, work.connection)
        except ConnectorError as e:
            return _error("failed", e)
        return {"status": "done", "remote_id": work.remote_id, "url": handle}
    raise AssertionError("unreachable")  # pragma: no cover


@DBOS.step(name="publishing.fail_handshake")
async def fail_handshake(intent_id: str, reason: str) -> None:
    """Tell Printify the publish failed (`publishing_failed`), which unlocks the product."""
    async with _opened(intent_id, with_payload=False) as opened:
        if isinstance(opened, dict):
            return
        work, ctx = opened
        if work.remote_id is None or not isinstance(work.connector, PublishHandshake):
            return
        try:
            await work.connector.fail_publish(ctx, work.remote_id, reason[:500])
        except ConnectorError as e:
            log.warning("publishing.fail_publish_failed", error_code=e.code)


@DBOS.step(name="publishing.product_url")
async def own_handle(intent_id: str) -> tuple[str, str]:
    """Our external id and the product's FlashFusion page (a provider with no channel)."""
    async with unit_of_work(read_only=True) as session:
        intent = await PublishIntentRepository.from_session(session).get_by_id(uuid.UUID(intent_id))
        assert intent is not None
        listing = await ChannelListingRepository.from_session(session).get_by_id(intent.listing_id)
        assert listing is not None
        product = await session.get(Product, listing.product_id)
        assert product is not None
        return listing.external_id, product_url(product)


def _error_fields(outcome: Outcome) -> dict[str, str | None]:
    """The error columns an intent (and its listing) get from a failed outcome."""
    return {
        "error_code": str(outcome.get("code") or "failed")[:80],
        "error_message": outcome.get("message") or None,
        "error_action": outcome.get("action")
        or "Check the product and retry; contact support if it keeps failing.",
        "error_kind": str(outcome.get("kind") or "terminal")[:16],
    }


@DBOS.step(name="publishing.finish")
async def finish(intent_id: str, outcome: Outcome) -> str:
    """Write the outcome on the intent and its listing; the intent's final state."""
    async with unit_of_work() as session:
        found = await _listing_and_intent(session, intent_id)
        if found is None:
            return "gone"
        intent, listing = found
        if intent.state == IntentState.queued and outcome.get("code") == STUCK_BEHIND:
            # It never started: the listing is the older intent's, so only this one fails.
            move_intent(intent, IntentState.running)
            move_intent(intent, IntentState.failed)
            intent.finished_at = utc_now()
            for name, value in _error_fields(outcome).items():
                setattr(intent, name, value)
            return IntentState.failed.value
        if intent.state != IntentState.running:  # a re-run of this step
            return IntentState(intent.state).value
        now = utc_now()
        intent.finished_at = now
        status = outcome.get("status")
        if status == "done":
            move_intent(intent, IntentState.succeeded)
            intent.remote_id = outcome.get("remote_id") or intent.remote_id
            for name in ("error_code", "error_message", "error_action", "error_kind"):
                setattr(intent, name, None)
                setattr(listing, name, None)
            if intent.action == IntentAction.unpublish:
                move_listing(listing, ListingState.unpublished)
                listing.published_version = None
            else:
                move_listing(listing, ListingState.published)
                listing.published_version = max(listing.published_version or 0, intent.version)
                listing.remote_id = intent.remote_id or listing.remote_id
                if outcome.get("url"):
                    listing.remote_url = outcome["url"]
                listing.drift = None
            return IntentState.succeeded.value
        target = IntentState.needs_action if status == "needs_action" else IntentState.failed
        move_intent(intent, target)
        for name, value in _error_fields(outcome).items():
            setattr(intent, name, value)
            setattr(listing, name, value)
        move_listing(
            listing,
            ListingState.needs_action
            if target == IntentState.needs_action
            else ListingState.failed,
        )
        return target.value


# --- the workflow --------------------------------------------------------------------------------


async def attempts(intent_id: str, clock: Clock, step: Any = None) -> Outcome:
    """`step` until it stops asking to retry, waiting between tries; a retryable failure that
    outlasts MAX_ATTEMPTS fails with the platform's advice."""
    step = step or attempt
    outcome: Outcome = {}
    failed = quota_waits = 0
    while True:
        outcome = await step(intent_id)
        if outcome.get("status") != "retry":
            return outcome
        scale = max(1.0, float(outcome.get("time_scale") or 1.0))
        asked = float(outcome.get("retry_after") or 0.0)
        if outcome.get("code") in QUOTA_CODES and quota_waits < MAX_QUOTA_WAITS:
            # Waiting for quota is not a failed try. Retry-After is already on the
            # platform's (scaled) clock; without one, the first backoff step.
            quota_waits += 1
            await clock.sleep(max(asked, backoff(1) / scale))
            continue
        failed += 1
        if failed >= MAX_ATTEMPTS:
            break
        await clock.sleep(max(asked, backoff(failed) / scale))
    return {
        **outcome,
        "status": "failed",
        "action": f"{outcome.get('action') or ''} FlashFusion tried {MAX_ATTEMPTS} times; "
        "retry later.".strip(),
    }


async def wait_for_channel(channel: Outcome, clock: Clock) -> Outcome:
    """Wait for the linked channel's intent to settle; `channel` as `link_channel` says.

    The channel's workflow sets SETTLED_EVENT when it has written its outcome, which wakes this
    wait at once (DBOS events are kept: one set before this wait began is seen at once too).
    The intent's state is read after every wake-up or timeout, so a missed event only costs
    one check interval (backoff from CHANNEL_FIRST_CHECK_SECONDS to CHANNEL_MAX_CHECK_SECONDS,
    durable, time-scaled for sandbox connections); after CHANNEL_WAIT_SECONDS it is `wait`.

    No queue slot is held that the channel's run needs: this run is on `publish_handshake`
    and the channel's on `publish` (jobs/engine.py)."""
    scale = max(1.0, float(channel.get("time_scale") or 1.0))
    interval = max(CHANNEL_MIN_CHECK_SECONDS, CHANNEL_FIRST_CHECK_SECONDS / scale)
    longest = max(CHANNEL_MIN_CHECK_SECONDS, CHANNEL_MAX_CHECK_SECONDS / scale)
    budget = CHANNEL_WAIT_SECONDS / scale
    waited = 0.0
    while channel.get("status") == "wait" and waited < budget:
        workflow_id = channel.get("workflow_id")
        if workflow_id:
            await clock.get_event(str(workflow_id), SETTLED_EVENT, interval)
        else:
            await clock.sleep(interval)
        waited += interval
        interval = min(longest, interval * 2)
        channel = await channel_state(str(channel["intent_id"]))
    return channel


async def handshake(intent_id: str, pending: Outcome, clock: Clock) -> Outcome:
    """Printify's publish handshake, after `publish.json` was accepted."""
    message = await clock.recv(f"{PUBLISH_STARTED_TOPIC}:{intent_id}", HANDSHAKE_TIMEOUT_SECONDS)
    if message is None:
        checked = await attempts(intent_id, clock, confirm_pending)
        if checked.get("status") != "pending":
            return checked
    channel = await wait_for_channel(await link_channel(intent_id), clock)
    status = channel.get("status")
    if status == "wait":
        channel = {
            "status": "failed",
            "code": "channel_timeout",
            "message": "The linked channel did not finish publishing in time.",
            "action": "Retry the listing once the channel's own publish has finished.",
            "kind": "retryable",
        }
        status = "failed"
    if status == "failed":
        label = _label(str(channel.get("platform") or "the linked channel"))
        reason = f"{label}: {channel.get('message') or channel.get('code')}"
        await fail_handshake(intent_id, reason)
        return {
            **channel,
            "status": "needs_action" if channel.get("kind") == "auth" else "failed",
            "message": f"Publishing to {label} failed: {channel.get('message') or ''}".strip(),
        }
    if status == "use":
        external_id, handle = str(channel["remote_id"]), str(channel.get("url") or "")
        if not handle:
            _, handle = await own_handle(intent_id)
    else:
        external_id, handle = await own_handle(intent_id)
    return await attempts(intent_id, clock, _completer(external_id, handle))


def _completer(external_id: str, handle: str) -> Any:
    async def step(intent_id: str) -> Outcome:
        return await complete(intent_id, external_id, handle)

    return step


async def run(intent_id: str, clock: Clock) -> str:
    """The workflow's body (the job below runs it with DBOS's durable clock)."""
    started = await start(intent_id)
    polls = 0
    while started.get("status") == "wait" and polls < TURN_POLLS:
        await clock.sleep(TURN_POLL_SECONDS)
        started = await start(intent_id)
        polls += 1
    if started.get("status") == "wait":
        return await finish(
            intent_id,
            {
                "status": "failed",
                "code": STUCK_BEHIND,
                "message": "An earlier publish of this listing did not finish.",
                "action": "Retry once the earlier publish has finished.",
                "kind": "retryable",
            },
        )
    if started.get("status") != "run":
        return str(started.get("status"))
    outcome = await attempts(intent_id, clock)
    if outcome.get("status") == "pending":
        outcome = await handshake(intent_id, outcome, clock)
    return await finish(intent_id, outcome)


async def run_and_announce(intent_id: str) -> str:
    """The workflow: run the intent, then set SETTLED_EVENT (its final state) for any
    handshake waiting on it."""
    state = await run(intent_id, DurableClock())
    await DBOS.set_event_async(SETTLED_EVENT, state)
    return state


@job(RUN_JOB, label="Publish to a channel", queue="publish")
async def run_intent(intent_id: str) -> str:
    """Publish, update or unpublish one listing version exactly once; its final state."""
    return await run_and_announce(intent_id)


# Deadlock and starvation: a handshake run waits -- for Printify's webhook, for Printify's
# publish quota (200 per 30 minutes), for the linked channel's intent -- while holding its
# queue slot (DBOS frees a slot only when the workflow ends). On the `publish` queue, runs
# waiting for channel intents queued behind them could fill every slot and never be freed. So
# handshake runs have a queue of their own: the channel intents they wait for run on `publish`,
# where nothing waits on anything else, so every wait ends. Starting the channel's publish as
# a child workflow instead (outside any queue) was not chosen: the channel intent is often
# already queued (the creator published to both channels), and a second run of the same intent
# could race it on the platform; one intent, one workflow, one queue keeps exactly-once simple.
@job(HANDSHAKE_JOB, label="Publish through a provider's handshake", queue="publish_handshake")
async def run_handshake(intent_id: str) -> str:
    """`run_intent` for a platform with a publish handshake (Printify)."""
    return await run_and_announce(intent_id)


@DBOS.step(name="publishing.drift")
async def drift_step(connection_id: str) -> int:
    async with unit_of_work() as session:
        drifted = await publishing_service.check_drift(session, uuid.UUID(connection_id))
        return len(drifted)


@job(DRIFT_JOB, label="Check listings against the platform", queue="sync")
async def check_drift(connection_id: str) -> int:
    """Compare every published listing of a connection with the platform; how many drifted."""
    return await drift_step(connection_id)


# --- the scheduled drift check -------------------------------------------------------------------
# As `orders.sync_all` (flashfusion/order/tasks.py): a DBOS schedule, installed by
# `flashfusion.jobs.engine.launch`, whose tick enqueues one `publishing.check_drift` job per
# active connection with published listings.

DRIFT_SCHEDULE = "publishing.check_drift_all"
# FlashFusion default (not a platform figure): hourly, on the hour. Deletions usually arrive
# sooner by webhook (`handle_event`); the check catches edits made on the platform itself.
DRIFT_EVERY = "0 * * * *"


async def enqueue_drift_checks() -> int:
    """A drift check for every active connection with published listings; how many."""
    async with unit_of_work() as session:
        return await publishing_service.enqueue_drift_checks(session)


@DBOS.step(name="publishing.enqueue_drift_checks")
async def enqueue_drift_checks_step() -> int:
    return await enqueue_drift_checks()


@DBOS.workflow(name=DRIFT_SCHEDULE)
async def check_drift_all(scheduled_at: Any, context: Any) -> None:
    """The scheduled tick (`scheduled_at`: the tick's datetime): one drift check per
    connection with published listings."""
    count = await enqueue_drift_checks_step()
    log.info(DRIFT_SCHEDULE, scheduled_at=scheduled_at.isoformat(), connections=count)


def install_schedules() -> None:
    """Create (or replace) the drift-check schedule; call after DBOS.launch()."""
    DBOS.apply_schedules(
        [
            {
                "schedule_name": DRIFT_SCHEDULE,
                "workflow_fn": check_drift_all,
                "schedule": DRIFT_EVERY,
                "queue_name": "sync",
            }
        ]
    )

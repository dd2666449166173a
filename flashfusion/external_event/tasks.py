"""The `webhooks.process_event` job: one stored platform event, handled once.

It reloads the event (an id is its only argument), skips one already handled, and sends it by
topic: order events to the order service (which fetches the order fresh from the platform),
listing and product events to the publishing service, anything else is marked handled with a
note. The handler runs in a savepoint: when it fails, its writes are undone, the failure is kept
on the event (`error`, with `attempts` counted) and the step raises, so DBOS retries it with
backoff; a terminal platform error (the data is refused, retrying cannot help) is not retried
and leaves the job failed, to be retried by hand once fixed.
"""

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from dbos import DBOS
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.connector.base import TerminalConnectorError, WebhookEvent
from flashfusion.db import unit_of_work
from flashfusion.external_event.service import PROCESS_JOB, load_connection
from flashfusion.external_event.service import external_event as external_event_service
from flashfusion.jobs.registry import job
from flashfusion.models import ExternalEvent, PlatformConnection

log = structlog.get_logger(__name__)

Handler = Callable[[AsyncSession, PlatformConnection, WebhookEvent], Awaitable[Any]]

ORDER_RESOURCES = frozenset({"order", "orders", "receipt", "shipment", "package"})
LISTING_RESOURCES = frozenset({"product", "products", "listing", "listings"})
ORDER_WORDS = ("order", "receipt", "shipment", "package")
LISTING_WORDS = ("product", "listing")


def kind_of(topic: str, resource_type: str | None) -> str | None:
    """The kind of an event, "order" or "listing" (None: no handler), from its resource type
    and topic.

    Platforms name topics differently (Printify `order:updated`, `product:publish:started`;
    Printful `order_updated`, `package_shipped`; research/platform-apis.md §1, §2), so the
    resource type the connector parsed decides first, then the words of the topic."""
    resource = (resource_type or "").lower()
    if resource in ORDER_RESOURCES:
        return "order"
    if resource in LISTING_RESOURCES:
        return "listing"
    words = topic.lower()
    if any(w in words for w in ORDER_WORDS):
        return "order"
    if any(w in words for w in LISTING_WORDS):
        return "listing"
    return None


def order_handler() -> Handler:
    from flashfusion.order.service import order as order_service

    return order_service.handle_event


def listing_handler() -> Handler:
    # Written by the publishing domain (publishing/service.py).
    from flashfusion.publishing.service import publishing as publishing_service

    handler: Handler = publishing_service.handle_event
    return handler


def as_webhook_event(event: ExternalEvent) -> WebhookEvent:
    return WebhookEvent(
        event_id=event.event_id,
        topic=event.topic,
        occurred_at=event.occurred_at,
        resource_type=event.resource_type,
        resource_id=event.resource_id,
        payload=dict(event.payload),
    )


async def process(event_id: str) -> str:
    """Handle the event once; what was done, in a few words."""
    failure: Exception | None = None
    async with unit_of_work() as session:
        event = await external_event_service.get(session, uuid.UUID(event_id))
        if event is None:
            return "gone"
        if event.handled_at is not None:
            return "already handled"
        await external_event_service.count_attempt(session, event)
        connection = await load_connection(session, event.connection_id)
        if connection is None:
            await external_event_service.mark_handled(session, event, note="connection removed")
            return "connection removed"
        kind = kind_of(event.topic, event.resource_type)
        if kind is None:
            note = f"no handler for topic {event.topic!r}: noted, nothing done"
            await external_event_service.mark_handled(session, event, note=note)
            return "ignored"
        try:
            handler = order_handler() if kind == "order" else listing_handler()
            async with session.begin_nested():
                await handler(session, connection, as_webhook_event(event))
        except Exception as e:  # noqa: BLE001 -- recorded on the event, then raised again
            failure = e
            await external_event_service.record_error(session, event, e)
            log.warning(
                "webhook.process_failed",
                event_id=event_id,
                platform=event.platform,
                topic=event.topic,
                error=type(e).__name__,
            )
        else:
            await external_event_service.mark_handled(session, event)
    if failure is not None:
        raise failure
    return kind


def _should_retry(error: BaseException) -> bool:
    # Refused data stays refused; everything else (network, 429, 5xx, a crash) may pass later.
    return not isinstance(error, TerminalConnectorError)


# FlashFusion defaults: 5 tries, 5 s, 15 s, 45 s, 135 s apart.
@DBOS.step(
    name="webhooks.handle_event",
    retries_allowed=True,
    max_attempts=5,
    interval_seconds=5.0,
    backoff_rate=3.0,
    should_retry=_should_retry,
)
async def handle_event(event_id: str) -> str:
    return await process(event_id)


@job(PROCESS_JOB, label="Process a platform event", queue="sync")
async def process_event(event_id: str) -> str:
    """Handle one stored platform webhook event."""
    return await handle_event(event_id)

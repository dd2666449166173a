"""Inbound webhooks (STYLE.md §9): verify the delivery on its raw body with the connection's
secret, store it once per platform event id, enqueue its processing only when the row is new,
and answer at once; the platform is never called while the delivery waits.

A rejected delivery is a 401 that says nothing about why (the reason is a metric label and a
log line, never the body): telling a forger which check failed helps the forger.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.config import get_settings
from flashfusion.connector import registry
from flashfusion.connector.base import PlatformConnector, WebhookEvent, WebhookRejected
from flashfusion.exceptions import AppError, BadRequest, ResourceNotFound
from flashfusion.external_event.repository import ExternalEventRepository
from flashfusion.jobs.enqueue import enqueue
from flashfusion.models import ExternalEvent, PlatformConnection, utc_now

if TYPE_CHECKING:
    from collections.abc import Mapping

log = structlog.get_logger(__name__)

PROCESS_JOB = "webhooks.process_event"
# FlashFusion default, not a platform figure: a webhook body larger than 1 MiB is refused
# before it is read further. Order and product events are a few KiB.
MAX_BODY_BYTES = 1024 * 1024

WEBHOOKS_RECEIVED = Counter(
    "flashfusion_webhooks_received_total",
    "Inbound webhook deliveries, by platform and outcome "
    "(stored, duplicate, rejected, malformed, too_large, unknown_connection).",
    ["platform", "outcome"],
)


class WebhookSignatureInvalid(AppError):
    """The delivery's signature did not verify (missing, forged, wrong secret or stale)."""

    status_code = 401

    def __init__(self) -> None:
        # Deliberately the same words whatever failed.
        super().__init__("Signature verification failed.")

    def body(self) -> dict[str, Any]:
        return {"error": "WebhookRejected", "detail": self.detail}


class WebhookBodyTooLarge(AppError):
    """The delivery's body is larger than FlashFusion accepts."""

    status_code = 413

    def __init__(self) -> None:
        super().__init__(f"The body is larger than {MAX_BODY_BYTES} bytes.")


class MalformedWebhook(BadRequest):
    """The signed body is not an event FlashFusion can read."""


class WebhookConnectionNotFound(ResourceNotFound):
    """No connection with this id on this platform."""

    def __init__(self) -> None:
        super().__init__("Connection")


@dataclass
class Receipt:
    event_id: uuid.UUID | None  # None: a duplicate of an event already stored
    duplicate: bool


def _connection_service() -> Any:
    # The connections domain (connector/service.py) owns secrets and credentials.
    from flashfusion.connector.service import connection as connection_service

    return connection_service


async def load_connection(
    session: AsyncSession, connection_id: uuid.UUID
) -> PlatformConnection | None:
    """The connection, for a worker or a webhook (no auth subject)."""
    connection: PlatformConnection | None = await _connection_service().get_for_worker(
        session, connection_id
    )
    return connection


# Platforms that sign every delivery with one app-wide secret (from settings) instead of a
# secret per subscription: Etsy (config.py ETSY_WEBHOOK_SECRET; research/platform-apis.md §11).
APP_WIDE_SECRET_SETTINGS = {"etsy": ("ETSY_WEBHOOK_SECRET", "ETSY_BASE_URL")}


def webhook_secret_for(connection: PlatformConnection) -> str | None:
    """The secret the connection's deliveries are signed with: the one stored at subscription,
    else the platform's app-wide one (a sandbox connection served in-process: its twin's)."""
    secret: str | None = _connection_service().webhook_secret(connection)
    if secret:
        return secret
    names = APP_WIDE_SECRET_SETTINGS.get(connection.platform)
    if names is None:
        return None
    settings = get_settings()
    secret_setting, base_url_setting = names
    if connection.sandbox and not connection.base_url:
        from flashfusion.sandbox import runtime

        twin = runtime.app_for(registry.get_connector(connection.platform).sandbox_service)
        state = getattr(getattr(twin, "state", None), "sandbox", None)
        twin_secret = getattr(state, "webhook_secret", None)
        return twin_secret if isinstance(twin_secret, str) else None
    configured = getattr(settings, secret_setting)
    return configured.get_secret_value() if configured is not None else None


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:1000]


class ExternalEventService:
    async def receive(
        self,
        session: AsyncSession,
        *,
        platform: str,
        connection_id: uuid.UUID,
        headers: "Mapping[str, str]",
        body: bytes,
    ) -> Receipt:
        """Verify, store once and enqueue one delivery (raises the errors above)."""
        connection = await load_connection(session, connection_id)
        if connection is None or connection.platform != platform:
            WEBHOOKS_RECEIVED.labels(platform, "unknown_connection").inc()
            raise WebhookConnectionNotFound()
        try:
            connector = registry.get_connector(platform)
        except registry.UnknownPlatform:
            WEBHOOKS_RECEIVED.labels(platform, "unknown_connection").inc()
            raise WebhookConnectionNotFound() from None
        self._verify(connector, connection, headers, body)
        event = self._parse(connector, connection, headers, body)
        received_at = utc_now()
        new_id = await ExternalEventRepository.from_session(session).insert_once(
            {
                "organization_id": connection.organization_id,
                "connection_id": connection.id,
                "platform": platform,
                "event_id": event.event_id[:200],
                "topic": event.topic[:100],
                "resource_type": (event.resource_type or None) and event.resource_type[:64],
                "resource_id": (event.resource_id or None) and event.resource_id[:200],
                "occurred_at": event.occurred_at,
                "received_at": received_at,
                "payload": event.payload,
                "attempts": 0,
            }
        )
        if new_id is None:
            WEBHOOKS_RECEIVED.labels(platform, "duplicate").inc()
            log.info(
                "webhook.duplicate",
                platform=platform,
                connection_id=str(connection.id),
                event_id=event.event_id[:200],
            )
            return Receipt(None, duplicate=True)
        await enqueue(
            session,
            PROCESS_JOB,
            str(new_id),
            organization_id=connection.organization_id,
            summary=f"Process {platform} event {event.topic}"[:200],
        )
        WEBHOOKS_RECEIVED.labels(platform, "stored").inc()
        return Receipt(new_id, duplicate=False)

    @staticmethod
    def _verify(
        connector: PlatformConnector,
        connection: PlatformConnection,
        headers: "Mapping[str, str]",
        body: bytes,
    ) -> None:
        reason = None
        secret = webhook_secret_for(connection)
        if not secret:
            reason = "no_secret"
        else:
            try:
                connector.verify_webhook(headers, body, secret, now=utc_now())
            except WebhookRejected:
                reason = "signature"
        if reason is not None:
            WEBHOOKS_RECEIVED.labels(connection.platform, "rejected").inc()
            # Never the body nor the headers: they are whatever a forger sent.
            log.warning(
                "webhook.rejected",
                platform=connection.platform,
                connection_id=str(connection.id),
                reason=reason,
                size=len(body),
            )
            raise WebhookSignatureInvalid()

    @staticmethod
    def _parse(
        connector: PlatformConnector,
        connection: PlatformConnection,
        headers: "Mapping[str, str]",
        body: bytes,
    ) -> WebhookEvent:
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            document = None
        if not isinstance(document, dict):
            WEBHOOKS_RECEIVED.labels(connection.platform, "malformed").inc()
            raise MalformedWebhook("The body is not a JSON object.")
        try:
            event = connector.parse_webhook(headers, body)
        # The platform parsers raise WebhookRejected for a signed body that is not an event.
        except (ValueError, KeyError, TypeError, AttributeError, WebhookRejected) as e:
            WEBHOOKS_RECEIVED.labels(connection.platform, "malformed").inc()
            log.warning(
                "webhook.malformed",
                platform=connection.platform,
                connection_id=str(connection.id),
                reason=type(e).__name__,
            )
            raise MalformedWebhook(
                f"The body is not a {connection.platform} event FlashFusion can read."
            ) from None
        if not event.event_id or not event.topic:
            WEBHOOKS_RECEIVED.labels(connection.platform, "malformed").inc()
            raise MalformedWebhook("The event has no id or no type.")
        return event

    # --- the processing job --------------------------------------------------------------------

    async def get(self, session: AsyncSession, id: uuid.UUID) -> ExternalEvent | None:
        """The event, for its job (no tenant filter: the id came from our own enqueue)."""
        return await ExternalEventRepository.from_session(session).get_by_id(id)

    async def count_attempt(self, session: AsyncSession, event: ExternalEvent) -> None:
        await ExternalEventRepository.from_session(session).count_attempt(event.id)

    async def mark_handled(
        self, session: AsyncSession, event: ExternalEvent, *, note: str | None = None
    ) -> datetime:
        at = utc_now()
        await ExternalEventRepository.from_session(session).mark_handled(event.id, at=at, note=note)
        return at

    async def record_error(
        self, session: AsyncSession, event: ExternalEvent, error: Exception
    ) -> None:
        await ExternalEventRepository.from_session(session).record_error(event.id, _describe(error))


external_event = ExternalEventService()

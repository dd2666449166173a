"""Printify webhook signatures and events.

Signature: `X-Pfy-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`, sent when the
subscription was created with a `secret` (research/platform-apis.md sections 1 and 11.1: five
independent implementations agree; kore4lyf/printify-api-test docs/PRINTIFY_DOC.md "Webhook
Security" copies the same from Printify's docs). Printify signs no timestamp, so a replayed
delivery verifies: replays are deduplicated downstream by the event `id` (external_event's
unique key), not here.
"""

import hashlib
import hmac
import json
from collections.abc import Mapping

from pydantic import ValidationError

from flashfusion.connector.base import WebhookEvent, WebhookRejected
from flashfusion.connector.platforms.printify.schemas import Event

SIGNATURE_HEADER = "X-Pfy-Signature"
SIGNATURE_PREFIX = "sha256="

# The topics FlashFusion subscribes to (printify-nodejs src/types/events.ts; kore4lyf docs).
# order:sent-to-production is only in the SDK's list: UNVERIFIED against Printify's page.
TOPICS: tuple[str, ...] = (
    "product:publish:started",
    "product:deleted",
    "order:created",
    "order:updated",
    "order:sent-to-production",
    "order:shipment:created",
    "order:shipment:delivered",
    "shop:disconnected",
)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def sign(secret: str, body: bytes) -> str:
    """The header value Printify sends for `body` (tests and the twin sign the same way)."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """Raise WebhookRejected unless `body` carries a valid signature made with `secret`."""
    if not secret:
        raise WebhookRejected("no webhook secret is stored for this connection")
    value = _header(headers, SIGNATURE_HEADER)
    if not value:
        raise WebhookRejected(f"missing {SIGNATURE_HEADER} header")
    value = value.strip()
    if not value.startswith(SIGNATURE_PREFIX):
        raise WebhookRejected(f"{SIGNATURE_HEADER} is not of the form sha256=<hex>")
    if not hmac.compare_digest(value.encode(), sign(secret, body).encode()):
        raise WebhookRejected(f"{SIGNATURE_HEADER} does not match the body")


def parse(body: bytes) -> WebhookEvent:
    """A verified delivery as a WebhookEvent; WebhookRejected when it is not a Printify event."""
    try:
        raw = json.loads(body)
        event = Event.model_validate(raw)
    except (ValueError, ValidationError) as e:
        raise WebhookRejected("the body is not a Printify event") from e
    resource = event.resource
    return WebhookEvent(
        event_id=event.id,
        topic=event.type,
        occurred_at=event.created_at,
        resource_type=resource.type if resource else None,
        resource_id=str(resource.id) if resource else None,
        payload=raw,
    )

"""Printful v2 webhook deliveries: signature check and parsing.

Source: v2 spec (`../shared/specs/printful/openapi.json`) tag "Webhook v2", "Event example":
headers `x-pf-webhook-public-key` (base64 public key of the configuration) and
`x-pf-webhook-signature` (hex HMAC-SHA256 of the event body, keyed with the hex-decoded
`secret_key`); body `{type, occurred_at, retries, store_id, data}` (x-webhooks schemas).

Printful signs no timestamp (no timestamp header or tolerance is documented), so a stale
delivery cannot be told from a fresh one by its signature: replays are handled by the event id
dedupe (FlashFusion stores each event once). v1 webhooks are unsigned and are not used.

The body carries no event id. The id is derived: SHA-256 of the canonical JSON of the body
without `retries` (Printful re-sends a failed delivery with `retries` incremented, research
section 2), so the first delivery and its redeliveries share one id and dedupe.
"""

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from flashfusion.connector.base import WebhookEvent, WebhookRejected
from flashfusion.connector.platforms.printful import schemas

SIGNATURE_HEADER = "x-pf-webhook-signature"
PUBLIC_KEY_HEADER = "x-pf-webhook-public-key"

# The events FlashFusion subscribes to (v2 x-webhooks names): orders and shipments for order
# sync, mockup tasks for the mockup flow.
EVENTS = (
    "order_created",
    "order_updated",
    "order_failed",
    "order_canceled",
    "order_put_hold",
    "order_remove_hold",
    "order_refunded",
    "shipment_sent",
    "shipment_returned",
    "mockup_task_finished",
)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def sign(body: bytes, secret_key: str) -> str:
    return hmac.new(bytes.fromhex(secret_key), body, hashlib.sha256).hexdigest()


def verify(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    signature = _header(headers, SIGNATURE_HEADER)
    if not signature:
        raise WebhookRejected(f"missing {SIGNATURE_HEADER} header")
    try:
        key = bytes.fromhex(secret)
    except ValueError:
        raise WebhookRejected("the stored Printful webhook secret is not hex") from None
    if not key:
        raise WebhookRejected("no Printful webhook secret is stored")
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise WebhookRejected("the Printful webhook signature does not match")


def event_id(payload: dict[str, Any]) -> str:
    canonical = {k: v for k, v in payload.items() if k != "retries"}
    digest = hashlib.sha256(
        json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    return f"pf-{digest}"


def _resource(event_type: str, data: dict[str, Any]) -> tuple[str | None, str | None]:
    order = data.get("order")
    if isinstance(order, dict) and order.get("id") is not None:
        # order_* and shipment_* events: the order is what to resync.
        return "order", str(order["id"])
    if event_type == "mockup_task_finished" and data.get("id") is not None:
        return "mockup_task", str(data["id"])
    if event_type.startswith("catalog_"):
        return "catalog", None
    return None, None


def parse(body: bytes) -> WebhookEvent:
    try:
        raw = json.loads(body)
        parsed = schemas.WebhookBody.model_validate(raw)
    except (ValueError, ValidationError):
        raise WebhookRejected("the Printful webhook body is not a Printful event") from None
    occurred = None
    if parsed.occurred_at:
        try:
            occurred = datetime.fromisoformat(parsed.occurred_at.replace("Z", "+00:00"))
        except ValueError:
            occurred = None
    resource_type, resource_id = _resource(parsed.type, parsed.data)
    return WebhookEvent(
        event_id=event_id(raw),
        topic=parsed.type,
        occurred_at=occurred,
        resource_type=resource_type,
        resource_id=resource_id,
        payload=raw,
    )

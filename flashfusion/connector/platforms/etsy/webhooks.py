"""Etsy webhook signatures: the Standard Webhooks scheme.

Etsy documents the headers `webhook-id`, `webhook-timestamp`, `webhook-signature` and an
HMAC-SHA256 signing secret (developers.etsy.com "Webhooks"; research/platform-apis.md section 3).
The signed content `"{webhook-id}.{webhook-timestamp}.{raw body}"`, the signature list
`v1,<base64> [v1,<base64> ...]` (space-separated) and the secret `whsec_<base64 key>` are those of
Standard Webhooks, which these headers come from -- INFERRED for Etsy, not confirmed by it.
Timestamps more than 5 minutes from our clock are rejected (Standard Webhooks' tolerance, as
e.g. signatureapi.com's guide states it); replayed ids are deduplicated downstream by event id.
"""

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

from flashfusion.connector.base import WebhookRejected

TOLERANCE_SECONDS = 300
HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


def signing_key(secret: str) -> bytes:
    """The HMAC key of a signing secret: `whsec_` + base64 -> the decoded bytes; a secret
    without the prefix that is not base64 is used as its UTF-8 bytes."""
    raw = secret.strip()
    if raw.startswith("whsec_"):
        raw = raw[len("whsec_") :]
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise WebhookRejected("the Etsy webhook secret is not whsec_<base64>") from None
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return raw.encode()


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(headers: Mapping[str, str], body: bytes, secret: str, *, now: datetime) -> None:
    """Raise WebhookRejected unless `body` carries a fresh, valid v1 signature under `secret`."""
    lowered = {k.lower(): v for k, v in headers.items()}
    missing = [name for name in HEADERS if not lowered.get(name)]
    if missing:
        raise WebhookRejected(f"missing header(s): {', '.join(missing)}")
    webhook_id = lowered["webhook-id"]
    try:
        timestamp = int(lowered["webhook-timestamp"])
    except ValueError:
        raise WebhookRejected("webhook-timestamp is not a unix timestamp") from None
    age = now.timestamp() - timestamp
    if age > TOLERANCE_SECONDS:
        raise WebhookRejected("webhook-timestamp is older than 5 minutes")
    if age < -TOLERANCE_SECONDS:
        raise WebhookRejected("webhook-timestamp is in the future")
    expected = sign(secret, webhook_id, timestamp, body)
    for candidate in lowered["webhook-signature"].split():
        if candidate.startswith("v1,") and hmac.compare_digest(candidate, expected):
            return
    raise WebhookRejected("no webhook-signature matches")

"""Signed file URLs: `<BASE_URL>/files/<render file id>?token=<expires>.<signature>`.

Printful takes print files by URL and downloads them itself, later: "After you add a file, it is
saved with the status `waiting` and downloaded and processed later" (v1 spec
`../shared/specs/printful/printfulapi.json`, tag "File Library API"; schema File `url`: "Source
URL where the file is downloaded from"). FlashFusion's media storage has no public URL, so the
app serves the bytes itself, to whoever holds an unguessable URL that expires.

The token is `<expires>.<base64url HMAC-SHA256(key, "<render file id>.<expires>")>`, the key
derived from the master secret (`FLASHFUSION_SECRET_KEY`, kit/crypto.py `derive_key`) for this
purpose only: no new secret, and rotating the master secret revokes every outstanding URL.

The token rides in the query string, not in the path, because the access log
(middleware.py) records the path: the logs then name the file, never the capability.
"""

import base64
import hashlib
import hmac
import ipaddress
import math
import time
import uuid
from urllib.parse import urlsplit

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.exceptions import ResourceNotFound
from flashfusion.kit.crypto import derive_key
from flashfusion.kit.media_storage import MediaNotFound
from flashfusion.studio.repository import MediaAssetRepository, RenderFileRepository

log = structlog.get_logger(__name__)

KEY_LABEL = "hmac:public_file_url"
# How long a URL works. Printful downloads "later" (File Library API, above) and documents no
# bound on how much later; an order confirmed before its file was processed goes to `failed`
# when the file turns out to be unusable (same section), to be confirmed again by hand. Seven
# days cover its asynchronous processing and a creator fixing a failed order after a weekend,
# while a URL that leaks (a proxy log, a shared screenshot) stops working within the week.
# FlashFusion's choice; Printful keeps its own copy once processed ("your print files are stored
# in the File Library and can be reused", same section).
TTL_SECONDS = 7 * 24 * 60 * 60
# Expiry is rounded up to the next whole day, so every payload built for one file on one day
# has the same URL: Printful reuses a library file whose URL it has seen ("If you try to add a
# file that has an identical URL to an already existing file, then no new file is created",
# File Library API), instead of downloading it again on every retry. A render file's bytes never
# change (a new render makes new files, with new ids, hence new URLs).
EXPIRY_STEP_SECONDS = 24 * 60 * 60
PATH_PREFIX = "/files"
# Content types the endpoint serves as themselves; anything else goes out as bytes, so a stored
# file can never run as a page of the app's origin.
IMAGE_TYPES = frozenset({"image/png", "image/jpeg"})
_NOT_PUBLIC_NAMES = ("localhost", "testserver")
_NOT_PUBLIC_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".test")


class PublicFileNotFound(ResourceNotFound):
    """Unknown file, expired or forged token: one answer for all three (no oracle)."""

    def __init__(self) -> None:
        super().__init__("File")


def _signature(file_id: uuid.UUID, expires: int) -> str:
    digest = hmac.new(
        derive_key(KEY_LABEL), f"{file_id}.{expires}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def expiry(now: float | None = None, ttl: int = TTL_SECONDS) -> int:
    """Epoch seconds at which a URL made `now` stops working (at least `ttl` away)."""
    at = (time.time() if now is None else now) + ttl
    return math.ceil(at / EXPIRY_STEP_SECONDS) * EXPIRY_STEP_SECONDS


def sign(file_id: uuid.UUID, expires: int) -> str:
    """The token that opens render file `file_id` until `expires` (epoch seconds)."""
    return f"{expires}.{_signature(file_id, expires)}"


def verify(file_id: str, token: str, now: float | None = None) -> uuid.UUID | None:
    """The file id when `token` opens it now, else None (malformed, expired or forged)."""
    try:
        parsed = uuid.UUID(file_id)
    except ValueError:
        return None
    raw_expires, _, signature = token.partition(".")
    if not raw_expires.isdigit() or len(raw_expires) > 12 or not signature:
        return None
    expires = int(raw_expires)
    if not hmac.compare_digest(signature.encode(), _signature(parsed, expires).encode()):
        return None
    if (time.time() if now is None else now) >= expires:
        return None
    return parsed


def url_for(base_url: str, file_id: uuid.UUID, *, now: float | None = None) -> str:
    """The signed URL of render file `file_id` under `base_url` (the app's public URL)."""
    token = sign(file_id, expiry(now))
    return f"{base_url.rstrip('/')}{PATH_PREFIX}/{file_id}?token={token}"


def unreachable_reason(base_url: str) -> str | None:
    """Why a server on the internet cannot fetch from `base_url` ("names a host ..."), or None
    when it can, as far as the URL tells: a loopback, private or link-local address, or a name
    only a local network resolves."""
    host = (urlsplit(base_url).hostname or "").lower().rstrip(".")
    if not host:
        return "has no host name"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host in _NOT_PUBLIC_NAMES or host.endswith(_NOT_PUBLIC_SUFFIXES) or "." not in host:
            return f"names a host ({host}) only this machine or its network can resolve"
        return None
    if address.is_global:
        return None
    kind = (
        "loopback"
        if address.is_loopback
        else "link-local"
        if address.is_link_local
        else ("private")
    )
    return f"is a {kind} address the internet cannot reach"


class PublicFileService:
    async def open(
        self, session: AsyncSession, file_id: str, token: str, *, now: float | None = None
    ) -> tuple[str, bytes]:
        """(content type, bytes) of the render file the token opens; PublicFileNotFound for an
        unknown file and for an expired or forged token alike."""
        from flashfusion.studio.media import get_storage

        found = verify(file_id, token, now)
        if found is None:
            # The file id only (it is in the access log anyway), never the token.
            log.info("public_file.refused", file_id=file_id[:40], reason="token")
            raise PublicFileNotFound()
        # Read by id without a tenant filter: the signed token is the authorization here, as a
        # webhook signature is for inbound events.
        render_file = await RenderFileRepository.from_session(session).get_by_id(found)
        asset = (
            await MediaAssetRepository.from_session(session).get_by_id(render_file.media_asset_id)
            if render_file is not None
            else None
        )
        if (
            render_file is None
            or asset is None
            or asset.organization_id != (render_file.organization_id)
        ):
            log.info("public_file.refused", file_id=str(found), reason="gone")
            raise PublicFileNotFound()
        try:
            content = await get_storage().get(asset.storage_key)
        except MediaNotFound:
            log.warning("public_file.refused", file_id=str(found), reason="bytes missing")
            raise PublicFileNotFound() from None
        log.info("public_file.served", file_id=str(found), bytes=len(content))
        content_type = asset.content_type if asset.content_type in IMAGE_TYPES else None
        return content_type or "application/octet-stream", content


public_file = PublicFileService()

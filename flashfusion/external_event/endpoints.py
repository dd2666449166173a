"""`POST /webhooks/{platform}/{connection_id}`: where platforms deliver their events.

Outside `/api/v1` and outside the browser UI: no session, no API key and no CSRF token (the
signature on the raw body is the authentication). Every answer is JSON whatever happens,
because the platform reading it is not a browser.
"""

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import AppError
from flashfusion.external_event.service import (
    MAX_BODY_BYTES,
    WEBHOOKS_RECEIVED,
    WebhookBodyTooLarge,
    WebhookConnectionNotFound,
)
from flashfusion.external_event.service import external_event as external_event_service

router = APIRouter(tags=["webhooks"], include_in_schema=False)


class _TooLarge(Exception):
    pass


async def _read_body(request: Request) -> bytes:
    """The raw body, read once, refused past MAX_BODY_BYTES (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _TooLarge()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def _error(error: AppError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status_code, headers=error.headers)


@router.post("/webhooks/{platform}/{connection_id}")
async def receive(
    platform: str, connection_id: str, request: Request, session: AsyncSessionDep
) -> JSONResponse:
    """Receive one platform event: verify its signature, store it once, process it later."""
    try:
        connection_uuid = uuid.UUID(connection_id)
    except ValueError:
        WEBHOOKS_RECEIVED.labels(platform[:32], "unknown_connection").inc()
        return _error(WebhookConnectionNotFound())
    try:
        body = await _read_body(request)
    except _TooLarge:
        WEBHOOKS_RECEIVED.labels(platform[:32], "too_large").inc()
        return _error(WebhookBodyTooLarge())
    try:
        receipt = await external_event_service.receive(
            session,
            platform=platform,
            connection_id=connection_uuid,
            headers=request.headers,
            body=body,
        )
    except AppError as e:
        return _error(e)
    return JSONResponse({"received": True, "duplicate": receipt.duplicate})

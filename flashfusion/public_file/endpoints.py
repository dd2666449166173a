"""`GET /files/{file_id}?token=…`: a render file's bytes, for a platform that fetches by URL.

Outside `/api/v1` and the browser UI: no session and no API key, the signed token is the
authorization (public_file/service.py). Not in the OpenAPI schema: it is a URL FlashFusion
hands to platforms, not part of the API clients call.
"""

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from flashfusion.db import AsyncSessionDep
from flashfusion.public_file.service import PATH_PREFIX, PublicFileNotFound
from flashfusion.public_file.service import public_file as public_file_service

router = APIRouter(tags=["files"], include_in_schema=False)

_HEADERS = {
    # A capability URL: no shared cache keeps the bytes, no page it is opened from learns it.
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}


# `:path`: whatever follows /files/ gets the same answer (no routing-level 404 to tell apart).
@router.api_route(f"{PATH_PREFIX}/{{file_id:path}}", methods=["GET", "HEAD"])
async def get(file_id: str, session: AsyncSessionDep, token: str = Query(default="")) -> Response:
    """Serve one render file to whoever holds its signed, unexpired URL."""
    try:
        content_type, content = await public_file_service.open(session, file_id, token)
    except PublicFileNotFound as e:
        # The same JSON for an unknown file, an expired and a forged token, whoever asks.
        return JSONResponse(e.body(), status_code=e.status_code, headers=_HEADERS)
    return Response(content=content, media_type=content_type, headers=_HEADERS)

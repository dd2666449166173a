"""Errors on browser pages: a form post goes back with a flash message; a page shows an error."""

from collections.abc import Mapping
from urllib.parse import urlparse

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from flashfusion.web.security import flash


def is_web_request(request: Request) -> bool:
    path = request.url.path
    return not (
        path.startswith(("/api/", "/webhooks/"))
        or path in ("/openapi.json", "/healthz", "/readyz", "/metrics")
    )


def safe_back_url(request: Request, fallback: str = "/") -> str:
    """Where to send the user back to: the referring page on this site, never elsewhere."""
    referer = request.headers.get("referer")
    if referer:
        parsed = urlparse(referer)
        if parsed.netloc == request.url.netloc and parsed.path.startswith("/"):
            return parsed.path + (f"?{parsed.query}" if parsed.query else "")
    return fallback


class LoginRequired(Exception):
    """Raised by page dependencies when nobody is signed in."""


def render_web_error(
    request: Request,
    status_code: int,
    detail: str,
    headers: Mapping[str, str] | None = None,
    *,
    redirect_back: bool = True,
) -> Response:
    # 429 is shown in place so that its Retry-After header reaches the client.
    if redirect_back and request.method == "POST" and status_code < 500 and status_code != 429:
        response: Response = RedirectResponse(safe_back_url(request), status_code=303)
        flash(response, "error", detail)
        return response
    from flashfusion.web.templating import render

    response = render(
        request,
        "error.html",
        {"status_code": status_code, "detail": detail},
        status_code=status_code,
    )
    if headers:
        for key, value in headers.items():
            response.headers[key] = value
    return response

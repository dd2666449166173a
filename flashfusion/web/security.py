"""Cookies, CSRF tokens and flash messages for the browser UI."""

import base64
import hmac
import json
from typing import Literal

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from flashfusion.config import get_settings
from flashfusion.exceptions import AppError
from flashfusion.kit.crypto import keyed_hash, random_token


class CSRFError(AppError):
    """The form's CSRF token is missing or does not match (stale page or forged request)."""

    status_code = 403


def cookie_name(base: str) -> str:
    # `__Host-` binds the cookie to this exact host, HTTPS only, path / (no subdomain override).
    return f"__Host-{base}" if get_settings().https else base


SESSION_COOKIE = "ff_session"
MFA_COOKIE = "ff_mfa"
CSRF_COOKIE = "ff_csrf"
FLASH_COOKIE = "ff_flash"
DEVICE_COOKIE = "ff_device"


def set_cookie(response: Response, base: str, value: str, *, max_age: int | None = None) -> None:
    settings = get_settings()
    response.set_cookie(
        cookie_name(base),
        value,
        max_age=max_age,
        httponly=True,
        secure=settings.https,
        samesite="lax",
        path="/",
    )


def clear_cookie(response: Response, base: str) -> None:
    settings = get_settings()
    response.delete_cookie(
        cookie_name(base), path="/", secure=settings.https, httponly=True, samesite="lax"
    )


def read_cookie(request: Request, base: str) -> str | None:
    return request.cookies.get(cookie_name(base))


# --- CSRF: a random cookie plus a form token derived from it (HMAC) ----------------------


def csrf_cookie_value(request: Request) -> str:
    """The browser's CSRF cookie value, or a new one to set on the response."""
    existing = read_cookie(request, CSRF_COOKIE)
    if existing and 20 <= len(existing) <= 64:
        return existing
    value = getattr(request.state, "new_csrf_cookie", None)
    if value is None:
        value = random_token(24)
        request.state.new_csrf_cookie = value
    return str(value)


def csrf_token(request: Request) -> str:
    return keyed_hash(csrf_cookie_value(request), purpose="csrf")


async def verify_csrf(request: Request) -> None:
    """Reject a state-changing browser request without a matching token (and a foreign Origin)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    origin = request.headers.get("origin")
    if origin and origin != "null":
        allowed = {get_settings().BASE_URL, f"{request.url.scheme}://{request.url.netloc}"}
        if origin.rstrip("/") not in allowed:
            raise CSRFError("This form was posted from another site and was refused.")
    cookie = read_cookie(request, CSRF_COOKIE)
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not cookie or not sent or not hmac.compare_digest(sent, keyed_hash(cookie, purpose="csrf")):
        raise CSRFError(
            "Your form expired or came from somewhere else. Reload the page and try again."
        )


def persist_csrf_cookie(request: Request, response: Response) -> None:
    new = getattr(request.state, "new_csrf_cookie", None)
    if new:
        set_cookie(response, CSRF_COOKIE, new)


# --- Flash messages: a signed cookie read once by the next page -----------------------

Level = Literal["success", "error", "info"]


def _sign(payload: str) -> str:
    return keyed_hash(payload, purpose="flash")


def flash(response: Response, level: Level, text: str, *, request: Request | None = None) -> None:
    messages: list[dict[str, str]] = []
    if request is not None:
        messages = list(getattr(request.state, "pending_flashes", []))
    messages.append({"level": level, "text": text})
    if request is not None:
        request.state.pending_flashes = messages
    payload = base64.urlsafe_b64encode(json.dumps(messages).encode()).decode()
    set_cookie(response, FLASH_COOKIE, f"{payload}.{_sign(payload)}", max_age=120)


def redirect(url: str, message: str | None = None, level: Level = "success") -> Response:
    """303 to `url` (after a form post), with an optional flash message."""
    response = RedirectResponse(url, status_code=303)
    if message:
        flash(response, level, message)
    return response


def pop_flashes(request: Request) -> list[dict[str, str]]:
    raw = read_cookie(request, FLASH_COOKIE)
    if not raw or "." not in raw:
        return []
    payload, signature = raw.rsplit(".", 1)
    if not hmac.compare_digest(signature, _sign(payload)):
        return []
    try:
        messages = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except (ValueError, json.JSONDecodeError):
        return []
    request.state.clear_flash_cookie = True
    return [m for m in messages if isinstance(m, dict)][:5]

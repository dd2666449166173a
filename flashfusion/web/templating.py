"""Jinja2 rendering for pages, with the context every layout needs."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from flashfusion import __version__
from flashfusion.authz.permission import Permission, role_has
from flashfusion.config import get_settings
from flashfusion.web.security import (
    FLASH_COOKIE,
    clear_cookie,
    csrf_token,
    persist_csrf_cookie,
    pop_flashes,
)

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _ago(value: datetime | None) -> str:
    if value is None:
        return "never"
    seconds = int((datetime.now(UTC) - value).total_seconds())
    if seconds < 0:
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


templates.env.filters["ago"] = _ago
templates.env.filters["when"] = _when


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    role = getattr(request.state, "role", None)
    settings = get_settings()
    full: dict[str, Any] = {
        "csrf_token": csrf_token(request),
        "flashes": pop_flashes(request) + list(getattr(request.state, "pending_flashes", [])),
        "user": getattr(request.state, "user", None),
        "organization": getattr(request.state, "organization", None),
        "organizations": getattr(request.state, "organizations", []),
        "role": role,
        "can": (lambda permission: role is not None and role_has(role, Permission(permission))),
        "version": __version__,
        "email_mode": settings.EMAIL_BACKEND.value,
        "mail_dir": str(settings.home / "mail"),
    }
    full.update(context or {})
    response = templates.TemplateResponse(request, template, full, status_code=status_code)
    persist_csrf_cookie(request, response)
    if getattr(request.state, "clear_flash_cookie", False):
        clear_cookie(response, FLASH_COOKIE)
    return response

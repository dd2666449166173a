"""Connection pages: the workspace's platform connections with their health and quota use, a
connect form per platform (pasted token, "Connect with <platform>" for OAuth, or the sandbox),
one connection with its listing settings, reconnect, disconnect (confirmed) and the Printify →
Etsy link."""

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from flashfusion.authz.permission import Permission, role_has
from flashfusion.catalog.service import catalog as catalog_service
from flashfusion.connector.base import AuthKind
from flashfusion.connector.registry import get_connector
from flashfusion.connector.schemas import PRINTIFY_PRODUCTS, SETTINGS
from flashfusion.connector.service import LINKABLE
from flashfusion.connector.service import connection as connection_service
from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import AppError, BadRequest
from flashfusion.kit.pagination import PaginationParams
from flashfusion.models import PlatformConnection
from flashfusion.web.deps import OrgContext, OrgDep
from flashfusion.web.security import redirect
from flashfusion.web.templating import render

router = APIRouter()
CREDENTIAL_PREFIX = "cred_"
# The Printify settings form: one blueprint and one print provider input per product type.
BLUEPRINT_PREFIX = "bp__"
PROVIDER_PREFIX = "pp__"
MAX_FIELD = 4096


def _base(ctx: OrgContext) -> str:
    return f"/orgs/{ctx.organization.id}/connections"


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    values: dict[str, str] = {}
    for key, value in form.items():
        if not isinstance(value, str):
            raise BadRequest(f"{key}: send text, not a file.")
        if len(value) > MAX_FIELD:
            raise BadRequest(f"{key}: at most {MAX_FIELD} characters.")
        values[key] = value
    return values


def _credentials(form: dict[str, str]) -> dict[str, str]:
    return {
        key[len(CREDENTIAL_PREFIX) :]: value
        for key, value in form.items()
        if key.startswith(CREDENTIAL_PREFIX) and value.strip()
    }


async def _quotas(connection: PlatformConnection) -> list[Any]:
    try:
        return await connection_service.quotas(connection)
    except Exception:  # noqa: BLE001 -- the page shows the rest when the limiter is unreachable
        return []


async def _all(session: AsyncSessionDep, ctx: OrgContext) -> list[PlatformConnection]:
    items, _ = await connection_service.list(
        session,
        ctx.subject,
        organization_id=ctx.organization.id,
        pagination=PaginationParams(1, 100),
    )
    return items


@router.get("/orgs/{org_id}/connections")
async def connections_page(request: Request, session: AsyncSessionDep, ctx: OrgDep) -> Response:
    """The workspace's connections and a connect form per platform."""
    connections = await _all(session, ctx)
    return render(
        request,
        "connections/index.html",
        {
            "connections": connections,
            "quotas": {c.id: await _quotas(c) for c in connections},
            "missing": {c.id: connection_service.missing_settings(c) for c in connections},
            "platforms": list(connection_service.platforms().values()),
            "oauth": AuthKind.oauth_pkce,
            "cbase": _base(ctx),
        },
    )


@router.get("/orgs/{org_id}/connections/{connection_id}")
async def connection_page(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, connection_id: uuid.UUID
) -> Response:
    """One connection: health, problem and what fixes it, quotas, reconnect, link, disconnect."""
    connection = await connection_service.get(session, ctx.subject, connection_id)
    connector = get_connector(connection.platform)
    linkable = LINKABLE.get(connection.platform, set())
    candidates = [
        c
        for c in await _all(session, ctx)
        if c.platform in linkable and c.sandbox == connection.sandbox
    ]
    manage = role_has(ctx.role, Permission.connections_manage)
    product_types = []
    if connection.platform == "printify":
        catalog = await catalog_service.effective(session, connection.organization_id)
        product_types = list(catalog.product_types.values())
    return render(
        request,
        "connections/detail.html",
        {
            "connection": connection,
            "connector": connector,
            "settings": SETTINGS.get(connection.platform, ()),
            "defaults": connection_service.listing_defaults(connection),
            "missing": connection_service.missing_settings(connection),
            "choices": (
                await connection_service.settings_choices(session, connection)
                if manage and connection.platform in ("etsy", "printify")
                else None
            ),
            "product_types": product_types,
            "printify_products": PRINTIFY_PRODUCTS,
            "quotas": await _quotas(connection),
            "candidates": candidates,
            "linkable": linkable,
            "oauth": AuthKind.oauth_pkce,
            "cbase": _base(ctx),
        },
    )


@router.post("/orgs/{org_id}/connections")
async def connect(request: Request, session: AsyncSessionDep, ctx: OrgDep) -> Response:
    """Connect with a pasted token, or a platform's sandbox; OAuth platforms go to consent."""
    form = await _form(request)
    platform = form.get("platform", "")
    sandbox = form.get("sandbox") == "1"
    base = _base(ctx)
    try:
        connector = get_connector(platform)
        if connector.auth_kind == AuthKind.oauth_pkce:
            url = await connection_service.start_oauth(
                session,
                ctx.subject,
                organization_id=ctx.organization.id,
                platform=platform,
                sandbox=sandbox,
                return_url=base,
            )
            return redirect(url)
        connection = await connection_service.connect_token(
            session,
            ctx.subject,
            organization_id=ctx.organization.id,
            platform=platform,
            credentials=_credentials(form),
            name=form.get("name") or None,
            sandbox=sandbox,
        )
    except AppError as e:
        return redirect(base, e.detail, "error")
    message = f"Connected {connection.account_name or connection.name}."
    if connection.problem_action:
        message += f" {connection.problem_message} {connection.problem_action}"
    return redirect(f"{base}/{connection.id}", message)


@router.post("/orgs/{org_id}/connections/{connection_id}/reconnect")
async def reconnect(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, connection_id: uuid.UUID
) -> Response:
    """A new token (API-token platforms) or a new OAuth grant (the platform's consent page)."""
    form = await _form(request)
    back = f"{_base(ctx)}/{connection_id}"
    try:
        result = await connection_service.reconnect(
            session,
            ctx.subject,
            connection_id,
            credentials=_credentials(form),
            return_url=_base(ctx),
        )
    except AppError as e:
        return redirect(back, e.detail, "error")
    if result.authorize_url:
        return redirect(result.authorize_url)
    return redirect(back, "Reconnected: the new token works.")


@router.post("/orgs/{org_id}/connections/{connection_id}/disconnect")
async def disconnect(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, connection_id: uuid.UUID
) -> Response:
    """Wipe the credentials, once the creator has confirmed."""
    form = await _form(request)
    back = f"{_base(ctx)}/{connection_id}"
    if form.get("confirm") != "1":
        return redirect(back, "Tick the confirmation box to disconnect.", "error")
    try:
        connection = await connection_service.disconnect(session, ctx.subject, connection_id)
    except AppError as e:
        return redirect(back, e.detail, "error")
    return redirect(back, f"Disconnected {connection.name}; its credentials are deleted.")


@router.post("/orgs/{org_id}/connections/{connection_id}/link")
async def link(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, connection_id: uuid.UUID
) -> Response:
    """Link the shop to the channel connection it publishes to (empty: unlink)."""
    form = await _form(request)
    back = f"{_base(ctx)}/{connection_id}"
    raw = form.get("linked_connection_id", "").strip()
    try:
        linked = uuid.UUID(raw) if raw else None
    except ValueError:
        return redirect(back, "linked_connection_id: choose a connection from the list.", "error")
    try:
        await connection_service.set_link(session, ctx.subject, connection_id, linked)
    except AppError as e:
        return redirect(back, e.detail, "error")
    return redirect(back, "Linked." if linked else "Unlinked.")


def _settings_changes(platform: str, form: dict[str, str]) -> dict[str, Any]:
    """The listing defaults a settings form sends (an empty field clears its setting)."""
    changes: dict[str, Any] = {}
    for spec in SETTINGS.get(platform, ()):
        if spec.name == PRINTIFY_PRODUCTS:
            chosen: dict[str, dict[str, str | None]] = {}
            for key, value in form.items():
                for prefix, field in (
                    (BLUEPRINT_PREFIX, "blueprint_id"),
                    (PROVIDER_PREFIX, "print_provider_id"),
                ):
                    if key.startswith(prefix) and key[len(prefix) :]:
                        entry = chosen.setdefault(key[len(prefix) :], {})
                        entry[field] = value.strip() or None
            if chosen:
                changes[PRINTIFY_PRODUCTS] = chosen
        elif spec.name in form:
            changes[spec.name] = form[spec.name].strip() or None
    return changes


@router.post("/orgs/{org_id}/connections/{connection_id}/settings")
async def settings(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, connection_id: uuid.UUID
) -> Response:
    """Save the connection's listing settings (what every listing published through it gets)."""
    form = await _form(request)
    back = f"{_base(ctx)}/{connection_id}"
    try:
        connection = await connection_service.get(session, ctx.subject, connection_id)
        await connection_service.update_settings(
            session, ctx.subject, connection_id, _settings_changes(connection.platform, form)
        )
    except AppError as e:
        return redirect(f"{back}#settings", e.detail, "error")
    return redirect(f"{back}#settings", "Listing settings saved.")

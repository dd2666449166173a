"""Publishing pages: the publish dialog (channels, a live ETA, per-item outcomes), the status
board (products × channels, translated errors with what to do, one-click retry, cells that poll
while in flight), the product page's publishing panel and one listing with its intents history
(update, unpublish, retry)."""

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject
from flashfusion.authz.permission import Permission, role_has
from flashfusion.authz.service import authz
from flashfusion.config import get_settings
from flashfusion.connector import registry
from flashfusion.connector.base import Capability, PlatformConnector, RateLimit
from flashfusion.connector.service import connection as connection_service
from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import AppError, BadRequest, ResourceNotFound
from flashfusion.kit.pagination import PaginationParams
from flashfusion.models import Product, PublishIntent, User
from flashfusion.models.channel_listing import ListingState
from flashfusion.models.platform_connection import ConnectionStatus, PlatformConnection
from flashfusion.product.service import product as product_service
from flashfusion.publishing.service import (
    BoardCell,
    ConnectionEstimate,
    ItemOutcome,
    PublishResult,
)
from flashfusion.publishing.service import publishing as publishing_service
from flashfusion.safeguard.service import safeguard as safeguard_service
from flashfusion.web.deps import OrgContext, OrgDep
from flashfusion.web.security import redirect
from flashfusion.web.templating import render

router = APIRouter()
PageQuery = Annotated[int, Query(ge=1, le=10_000)]
BOARD_PAGE_SIZE = 50
PICKER_SIZE = 100
# The service's own limits on one request (publishing/service.py MAX_PRODUCTS, MAX_CONNECTIONS).
MAX_PRODUCTS = 500
MAX_CONNECTIONS = 10

STATE_LABELS = {
    ListingState.queued: "Queued",
    ListingState.publishing: "Publishing…",
    ListingState.published: "Published",
    ListingState.failed: "Failed",
    ListingState.needs_action: "Needs action",
    ListingState.unpublishing: "Unpublishing…",
    ListingState.unpublished: "Unpublished",
}
# States a job is still working on: their cells poll until they settle.
IN_FLIGHT = frozenset({ListingState.queued, ListingState.publishing, ListingState.unpublishing})
STATE_BADGES = {
    ListingState.queued: "badge-warn",
    ListingState.publishing: "badge-warn",
    ListingState.unpublishing: "badge-warn",
    ListingState.published: "badge-success",
    ListingState.failed: "badge-failure",
    ListingState.needs_action: "badge-failure",
    ListingState.unpublished: "badge-muted",
}
OUTCOME_LABELS = {
    "queued": "Queued",
    "already_queued": "Already queued",
    "already_published": "Already published",
    "refused": "Refused",
}
INTENT_STATE_LABELS = {
    "queued": "Queued",
    "running": "Running",
    "succeeded": "Succeeded",
    "failed": "Failed",
    "needs_action": "Needs action",
}
# How a limit's operation groups read in a sentence ("Printify allows 200 publishes per 30
# minutes"); the groups are the shared names of connector/base.py's ctx.request.
GROUP_NOUNS = {
    "publish": "publishes",
    "mockup": "mockup tasks",
    "catalog": "catalog requests",
    "upload": "uploads",
    "product_update": "product updates",
}


def _base(ctx: OrgContext) -> str:
    return f"/orgs/{ctx.organization.id}"


def _label(platform: str) -> str:
    connector = registry.all_connectors().get(platform)
    return connector.label if connector is not None else platform.replace("_", " ").title()


# --- ETA in words ----------------------------------------------------------------------------


def duration_words(seconds: float) -> str:
    """A wait as a person says it: "under a minute", "about 4 minutes", "about 1.5 hours"."""
    if seconds < 60:
        return "under a minute"
    if seconds < 90 * 60:
        minutes = max(1, round(seconds / 60))
        return f"about {minutes} minute{'s' if minutes != 1 else ''}"
    if seconds < 36 * 3600:
        hours = round(seconds / 1800) / 2
        return f"about {hours:g} hour{'s' if hours != 1 else ''}"
    days = round(seconds / 86400)
    return f"about {days} days"


def period_words(seconds: float) -> str:
    for unit, name in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if seconds >= unit and seconds % unit == 0:
            count = int(seconds // unit)
            return name if count == 1 else f"{count} {name}s"
    return f"{seconds:g} seconds"


def limit_words(connector: PlatformConnector, limit: RateLimit) -> str:
    """The documented limit in a sentence: "Printify allows 200 publishes per 30 minutes"."""
    if limit.groups is None:
        noun = "requests"
    else:
        noun = " and ".join(GROUP_NOUNS.get(g, f"{g} requests") for g in sorted(limit.groups))
    return (
        f"{connector.label} allows {limit.limit:,} {noun} per {period_words(limit.period_seconds)}"
    )


def binding_limit(connector: PlatformConnector, calls: dict[str, int]) -> RateLimit | None:
    """The limit that sets the pace of `calls`: the one that makes them wait longest, or (when
    none makes them wait) the one they use most of."""
    best: RateLimit | None = None
    best_key = (-1.0, -1.0)
    for limit in connector.rate_limits:
        n = sum(count for group, count in calls.items() if limit.applies_to(group))
        if n <= 0:
            continue
        key = (float((n - 1) // limit.limit) * limit.period_seconds, n / limit.limit)
        if key > best_key:
            best, best_key = limit, key
    return best


@dataclass
class EtaLine:
    connection_name: str
    platform_label: str
    seconds: float
    words: str  # "about 4 minutes: Printify allows 200 publishes per 30 minutes"
    calls: int


@dataclass
class Eta:
    words: str  # the headline: the slowest connection's line (connections run in parallel)
    seconds: float
    lines: list[EtaLine] = field(default_factory=list)


def eta_of(result: PublishResult, connections: dict[uuid.UUID, PlatformConnection]) -> Eta | None:
    """The result's ETA in words, per connection and overall (None: nothing to publish)."""
    lines: list[EtaLine] = []
    scale = get_settings().SANDBOX_TIME_SCALE
    for estimate in result.estimates:
        if sum(estimate.calls.values()) <= 0:
            continue
        lines.append(_eta_line(estimate, connections.get(estimate.connection_id), scale))
    if not lines:
        return None
    slowest = max(lines, key=lambda line: line.seconds)
    return Eta(words=slowest.words, seconds=result.eta_seconds, lines=lines)


def _eta_line(
    estimate: ConnectionEstimate, connection: PlatformConnection | None, scale: float
) -> EtaLine:
    label = _label(estimate.platform)
    words = duration_words(estimate.seconds)
    connector = registry.all_connectors().get(estimate.platform)
    limit = binding_limit(connector, estimate.calls) if connector is not None else None
    if connector is not None and limit is not None:
        words += f": {limit_words(connector, limit)}"
        if connection is not None and connection.sandbox and scale != 1:
            words += f" (sandbox: quota windows run {scale:g}× faster)"
    return EtaLine(
        connection_name=connection.name if connection is not None else label,
        platform_label=label,
        seconds=estimate.seconds,
        words=words,
        calls=sum(estimate.calls.values()),
    )


# --- channels ---------------------------------------------------------------------------------


@dataclass
class Channel:
    """A connection as the publish dialog offers it: `reason` says why it cannot be ticked."""

    connection: PlatformConnection
    label: str
    reason: str | None
    linked: PlatformConnection | None = None


def channel_reason(connection: PlatformConnection) -> str | None:
    """Why the connection cannot take a publish now (None: it can), saying what to do."""
    connector = registry.all_connectors().get(connection.platform)
    label = connector.label if connector is not None else connection.platform
    status = ConnectionStatus(connection.status)
    if status == ConnectionStatus.needs_reconnect:
        return (
            connection.problem_action
            or f"Reconnect {label} on the Connections page: its authorization no longer works."
        )
    if status == ConnectionStatus.error:
        problem = connection.problem_message or "its last calls failed"
        action = connection.problem_action or "check it on the Connections page"
        return f"Not working ({problem}): {action}"
    if status == ConnectionStatus.disconnected:
        return f"Disconnected: connect {label} again on the Connections page."
    if connector is None:
        return f"The {connection.platform} connector is not installed on this server."
    if Capability.publish not in connector.capabilities:
        return f"{label} cannot publish listings through FlashFusion."
    return None


async def _connections(session: AsyncSessionDep, ctx: OrgContext) -> list[PlatformConnection]:
    connections, _ = await connection_service.list(
        session,
        ctx.subject,
        organization_id=ctx.organization.id,
        pagination=PaginationParams(1, 100),
    )
    return list(connections)


async def _channels(session: AsyncSessionDep, ctx: OrgContext) -> list[Channel]:
    connections = await _connections(session, ctx)
    by_id = {c.id: c for c in connections}
    channels = [
        Channel(
            connection=c,
            label=_label(c.platform),
            reason=channel_reason(c),
            linked=by_id.get(c.linked_connection_id) if c.linked_connection_id else None,
        )
        for c in connections
        if c.status != ConnectionStatus.disconnected
    ]
    # Usable channels first, then by platform and name.
    return sorted(channels, key=lambda ch: (ch.reason is not None, ch.label, ch.connection.name))


# --- form values ------------------------------------------------------------------------------


def parse_ids(values: Sequence[str], field_name: str, what: str, *, limit: int) -> list[uuid.UUID]:
    """Ids ticked in a form, in order, without repeats; a bad one is a 400 naming the field."""
    ids: list[uuid.UUID] = []
    for raw in values:
        raw = raw.strip()
        if not raw:
            continue
        try:
            value = uuid.UUID(raw)
        except ValueError as e:
            raise BadRequest(f"{field_name}: {raw[:40]!r} is not {what} id.") from e
        if value not in ids:
            ids.append(value)
    if len(ids) > limit:
        raise BadRequest(f"{field_name}: choose at most {limit} at once.")
    return ids


async def _require_manage(session: AsyncSessionDep, ctx: OrgContext, action: str) -> None:
    await authz.require(
        session,
        ctx.subject,
        ctx.organization.id,
        Permission.publishing_manage,
        action=action,
        target_type="organization",
        target_id=ctx.organization.id,
    )


async def _products(
    session: AsyncSessionDep, ctx: OrgContext, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Product | None]:
    """Products by id (None: deleted since, or not readable)."""
    found: dict[uuid.UUID, Product | None] = {}
    for product_id in ids:
        if product_id in found:
            continue
        try:
            product = await product_service.get(session, ctx.subject, product_id)
        except ResourceNotFound:
            found[product_id] = None
        else:
            found[product_id] = product if product.organization_id == ctx.organization.id else None
    return found


def _dialog_url(base: str, product_ids: Sequence[uuid.UUID]) -> str:
    query = urlencode([("product_id", str(i)) for i in product_ids])
    return f"{base}/publishing/new" + (f"?{query}" if query else "")


def safe_url(url: str | None) -> str | None:
    """A platform's link, only if it is a web address (never `javascript:` and the like)."""
    if url and url.startswith(("https://", "http://")):
        return url
    return None


def _cell_context(ctx: OrgContext) -> dict[str, Any]:
    return {
        "base": _base(ctx),
        "safe_url": safe_url,
        "platform_labels": {name: c.label for name, c in registry.all_connectors().items()},
        "can_manage": role_has(ctx.role, Permission.publishing_manage),
        "state_labels": {s.value: label for s, label in STATE_LABELS.items()},
        "state_badges": {s.value: badge for s, badge in STATE_BADGES.items()},
        "in_flight": {s.value for s in IN_FLIGHT},
    }


# --- the publish dialog -------------------------------------------------------------------------


@router.get("/orgs/{org_id}/publishing/new")
async def publish_dialog(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    product_id: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI query default
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """Choose products and channels; the ETA follows the choice (HTMX)."""
    await _require_manage(session, ctx, "publishing.publish")
    chosen = parse_ids(product_id, "product_id", "a product", limit=MAX_PRODUCTS)
    products = await _products(session, ctx, chosen)
    if any(p is None for p in products.values()):
        raise ResourceNotFound("Product")
    picker: list[Product] = []
    if not chosen:
        listed, _ = await product_service.list(
            session,
            ctx.subject,
            organization_id=ctx.organization.id,
            query=q,
            design_id=None,
            product_type=None,
            pagination=PaginationParams(1, PICKER_SIZE),
        )
        picker = list(listed)
    return render(
        request,
        "publishing/new.html",
        {
            "products": [p for p in products.values() if p is not None],
            "picker": picker,
            "q": q or "",
            "channels": await _channels(session, ctx),
            **_cell_context(ctx),
        },
    )


@router.get("/orgs/{org_id}/publishing/estimate")
async def estimate_fragment(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    product_id: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI query default
    connection_id: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI query default
) -> Response:
    """HTMX: how long publishing the ticked products to the ticked channels would take."""
    context: dict[str, Any] = {"eta": None, "error": None, "hint": None}
    try:
        products = parse_ids(product_id, "product_id", "a product", limit=MAX_PRODUCTS)
        connections = parse_ids(
            connection_id, "connection_id", "a connection", limit=MAX_CONNECTIONS
        )
        if not products:
            context["hint"] = "Tick at least one product to see how long publishing takes."
        elif not connections:
            context["hint"] = "Tick at least one channel to see how long publishing takes."
        else:
            result = await publishing_service.estimate(
                session, ctx.subject, product_ids=products, connection_ids=connections
            )
            by_id = {c.id: c for c in await _connections(session, ctx)}
            context["eta"] = eta_of(result, by_id)
            context["count"] = len(products) * len(connections)
    except AppError as e:
        # 200: htmx swaps in only 2xx answers, and the fragment carries the error.
        context["error"] = e.detail
    return render(request, "publishing/_eta.html", context)


@dataclass
class OutcomeRow:
    item: ItemOutcome
    product: Product | None
    connection: PlatformConnection | None
    label: str
    cell: BoardCell | None
    report_id: uuid.UUID | None  # the safeguard report that refused it


@router.post("/orgs/{org_id}/publishing/publish")
async def publish(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    product_id: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI form default
    connection_id: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI form default
) -> Response:
    """Queue the ticked products on the ticked channels; each item's outcome and the ETA.
    Sending the form again is safe: unchanged items come back "already queued/published"."""
    await _require_manage(session, ctx, "publishing.publish")
    base = _base(ctx)
    products = parse_ids(product_id, "product_id", "a product", limit=MAX_PRODUCTS)
    connections = parse_ids(connection_id, "connection_id", "a connection", limit=MAX_CONNECTIONS)
    back = _dialog_url(base, products)
    if not products:
        return redirect(back, "product_id: tick at least one product to publish.", "error")
    if not connections:
        return redirect(back, "connection_id: tick at least one channel to publish to.", "error")
    try:
        result = await publishing_service.publish(
            session, ctx.subject, product_ids=products, connection_ids=connections
        )
    except AppError as e:
        return redirect(back, e.detail, "error")
    by_id = {c.id: c for c in await _connections(session, ctx)}
    titles = await _products(session, ctx, products)
    cells = {
        cell.listing_id: cell
        for cell in await publishing_service.status_board(
            session, ctx.subject, organization_id=ctx.organization.id, product_ids=products
        )
    }
    reports: dict[uuid.UUID, uuid.UUID | None] = {}
    rows: list[OutcomeRow] = []
    for item in result.items:
        report_id = None
        if item.outcome == "refused" and item.findings is not None:
            if item.product_id not in reports:
                status = await safeguard_service.status(session, ctx.subject, item.product_id)
                reports[item.product_id] = status.report.id if status is not None else None
            report_id = reports[item.product_id]
        connection = by_id.get(item.connection_id)
        rows.append(
            OutcomeRow(
                item=item,
                product=titles.get(item.product_id),
                connection=connection,
                label=_label(connection.platform) if connection else "",
                cell=cells.get(item.listing.id) if item.listing is not None else None,
                report_id=report_id,
            )
        )
    counts = {
        outcome: sum(1 for i in result.items if i.outcome == outcome) for outcome in OUTCOME_LABELS
    }
    return render(
        request,
        "publishing/result.html",
        {
            "rows": rows,
            "counts": counts,
            "outcome_labels": OUTCOME_LABELS,
            "eta": eta_of(result, by_id) if counts["queued"] else None,
            **_cell_context(ctx),
        },
    )


# --- the status board -----------------------------------------------------------------------


@dataclass
class BoardRow:
    product_id: uuid.UUID
    product: Product | None
    cells: dict[uuid.UUID, BoardCell]  # by connection id


def _state_filter(state: str) -> ListingState | None:
    if not state:
        return None
    try:
        return ListingState(state)
    except ValueError as e:
        choices = ", ".join(s.value for s in ListingState)
        raise BadRequest(f"state: choose one of {choices} (or leave it empty for all).") from e


@router.get("/orgs/{org_id}/publishing")
async def board_page(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    page: PageQuery = 1,
    state: Annotated[str, Query(max_length=16)] = "",
    connection_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Response:
    """Every product × channel: its state, what to do when it failed, retry; in-flight cells
    refresh themselves."""
    wanted = _state_filter(state)
    cells = await publishing_service.status_board(
        session, ctx.subject, organization_id=ctx.organization.id
    )
    connections = await _connections(session, ctx)
    if connection_id is not None and all(c.id != connection_id for c in connections):
        raise ResourceNotFound("Connection")
    with_listings = {cell.connection_id for cell in cells}
    columns = [
        c
        for c in connections
        if (connection_id is None or c.id == connection_id)
        and (c.id in with_listings or c.status != ConnectionStatus.disconnected)
    ]
    shown = [
        cell
        for cell in cells
        if (wanted is None or cell.state == wanted.value)
        and (connection_id is None or cell.connection_id == connection_id)
    ]
    by_product: dict[uuid.UUID, dict[uuid.UUID, BoardCell]] = {}
    for cell in shown:
        by_product.setdefault(cell.product_id, {})[cell.connection_id] = cell
    products = await _products(session, ctx, list(by_product))

    def title_key(product_id: uuid.UUID) -> tuple[str, str]:
        product = products[product_id]
        # Deleted products last.
        return (product.title.lower() if product is not None else "\uffff", str(product_id))

    ordered = sorted(by_product, key=title_key)
    total = len(ordered)
    start = (page - 1) * BOARD_PAGE_SIZE
    rows = [
        BoardRow(i, products[i], by_product[i]) for i in ordered[start : start + BOARD_PAGE_SIZE]
    ]
    counts = {s.value: sum(1 for c in cells if c.state == s.value) for s in ListingState}
    filters = {"state": state, "connection_id": str(connection_id) if connection_id else ""}
    return render(
        request,
        "publishing/board.html",
        {
            "rows": rows,
            "columns": columns,
            "labels": {c.id: _label(c.platform) for c in connections},
            "all_connections": connections,
            "counts": counts,
            "any_listing": bool(cells),
            "total": total,
            "page": page,
            "max_page": max(1, -(-total // BOARD_PAGE_SIZE)),
            "state": state,
            "connection_id": connection_id,
            "filters": urlencode({k: v for k, v in filters.items() if v}),
            "states": [s.value for s in ListingState],
            **_cell_context(ctx),
        },
    )


async def _cell(session: AsyncSessionDep, ctx: OrgContext, listing_id: uuid.UUID) -> BoardCell:
    """The board cell of one listing of this workspace (404 for another workspace's)."""
    listing = await publishing_service.get_listing(session, ctx.subject, listing_id)
    if listing.organization_id != ctx.organization.id:
        raise ResourceNotFound("Listing")
    cells = await publishing_service.status_board(
        session, ctx.subject, organization_id=ctx.organization.id, product_ids=[listing.product_id]
    )
    for cell in cells:
        if cell.listing_id == listing.id:
            return cell
    raise ResourceNotFound("Listing")


@router.get("/orgs/{org_id}/publishing/cells/{listing_id}")
async def cell_fragment(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, listing_id: uuid.UUID
) -> Response:
    """HTMX: one board cell, polled every 2 s while the listing is in flight (the settled
    cell carries no trigger, so polling stops)."""
    cell = await _cell(session, ctx, listing_id)
    return render(request, "publishing/_cell.html", {"cell": cell, **_cell_context(ctx)})


@router.get("/orgs/{org_id}/products/{product_id}/publishing")
async def product_panel(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, product_id: uuid.UUID
) -> Response:
    """HTMX: the product's channels and their states, for the product page."""
    product = await product_service.get(session, ctx.subject, product_id)
    if product.organization_id != ctx.organization.id:
        raise ResourceNotFound("Product")
    cells = await publishing_service.status_board(
        session, ctx.subject, organization_id=ctx.organization.id, product_ids=[product.id]
    )
    connections = {c.id: c for c in await _connections(session, ctx)}
    return render(
        request,
        "publishing/_panel.html",
        {
            "product": product,
            "cells": sorted(cells, key=lambda c: (c.platform, c.connection_name)),
            "labels": {i: _label(c.platform) for i, c in connections.items()},
            "has_connections": bool(connections),
            **_cell_context(ctx),
        },
    )


# --- one listing ------------------------------------------------------------------------------


@router.get("/orgs/{org_id}/publishing/listings/{listing_id}")
async def listing_page(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, listing_id: uuid.UUID
) -> Response:
    """A channel listing: where it is, its drift, and every publish, update and unpublish."""
    detail = await publishing_service.listing_detail(session, ctx.subject, listing_id)
    listing = detail.listing
    if listing.organization_id != ctx.organization.id:
        raise ResourceNotFound("Listing")
    cell = await _cell(session, ctx, listing.id)
    products = await _products(session, ctx, [listing.product_id])
    connections = {c.id: c for c in await _connections(session, ctx)}
    connection = connections.get(listing.connection_id)
    connector = registry.all_connectors().get(listing.platform)
    capabilities = connector.capabilities if connector is not None else frozenset()
    live = listing.remote_id is not None and listing.published_version is not None
    state = ListingState(listing.state)
    return render(
        request,
        "publishing/listing.html",
        {
            "listing": listing,
            "intents": detail.intents,
            "cell": cell,
            "product": products[listing.product_id],
            "connection": connection,
            "platform_label": _label(listing.platform),
            "can_update": live
            and Capability.update in capabilities
            and state not in (ListingState.unpublishing, ListingState.unpublished),
            "can_unpublish": live
            and Capability.unpublish in capabilities
            and state not in (ListingState.unpublishing, ListingState.unpublished),
            "intent_labels": INTENT_STATE_LABELS,
            **_cell_context(ctx),
        },
    )


def _back(ctx: OrgContext, raw: str, listing_id: uuid.UUID) -> str:
    """Where a listing action returns to: a page of this workspace, else the listing."""
    base = _base(ctx)
    if raw.startswith(base + "/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return f"{base}/publishing/listings/{listing_id}"


RETRY_MESSAGES = {
    "queued": "Retry queued: FlashFusion looks the item up on {label} first, so it is never "
    "made twice.",
}
UPDATE_MESSAGES = {
    "queued": "Update queued: {label} gets the product as it is now (content, prices, images).",
    "already_queued": "An update with these changes is already queued for {label}.",
    "already_published": "Nothing changed since the last publish: the {label} listing is up to "
    "date.",
}
UNPUBLISH_MESSAGES = {
    "queued": "Unpublish queued: the listing comes down from {label} shortly.",
    "already_queued": "Unpublishing from {label} is already queued.",
    "already_unpublished": "The listing is already down from {label}.",
}

# publishing_service.retry / update / unpublish: (session, subject, listing id) -> (outcome, …).
ListingAction = Callable[
    [AsyncSession, AuthSubject[User], uuid.UUID], Awaitable[tuple[str, PublishIntent | None]]
]


@dataclass(frozen=True)
class Replies:
    """What a listing action says: the outcome's message ({label}), else `otherwise` ({label},
    {outcome}); with `htmx_cell`, an HTMX request gets the refreshed board cell instead of a
    redirect."""

    by_outcome: Mapping[str, str]
    otherwise: str
    htmx_cell: bool = False


# A retry that does not raise has been queued.
RETRY_REPLIES = Replies(RETRY_MESSAGES, otherwise=RETRY_MESSAGES["queued"], htmx_cell=True)
UPDATE_REPLIES = Replies(UPDATE_MESSAGES, otherwise="Update: {label} answered {outcome}.")
UNPUBLISH_REPLIES = Replies(UNPUBLISH_MESSAGES, otherwise="Unpublish: {outcome}.")


async def _act_on_listing(
    request: Request,
    session: AsyncSession,
    ctx: OrgContext,
    listing_id: uuid.UUID,
    back: str,
    action: ListingAction,
    replies: Replies,
) -> Response:
    """Run one action on a listing of this workspace (404 for another's) and say how it went,
    or why it was refused, as a flash on the page the form came from (or in the cell)."""
    listing = await publishing_service.get_listing(session, ctx.subject, listing_id)
    if listing.organization_id != ctx.organization.id:
        raise ResourceNotFound("Listing")
    htmx = replies.htmx_cell and request.headers.get("hx-request") == "true"
    try:
        outcome, _ = await action(session, ctx.subject, listing.id)
    except AppError as e:
        if htmx:
            return await _cell_answer(request, session, ctx, listing.id, notice=e.detail)
        return redirect(_back(ctx, back, listing.id), e.detail, "error")
    message = replies.by_outcome.get(outcome, replies.otherwise).format(
        label=_label(listing.platform), outcome=outcome
    )
    if htmx:
        return await _cell_answer(request, session, ctx, listing.id, done=message)
    return redirect(_back(ctx, back, listing.id), message)


async def _cell_answer(
    request: Request, session: AsyncSession, ctx: OrgContext, listing_id: uuid.UUID, **say: str
) -> Response:
    """The listing's refreshed board cell carrying a `notice` (error) or `done` message."""
    cell = await _cell(session, ctx, listing_id)
    return render(request, "publishing/_cell.html", {"cell": cell, **say, **_cell_context(ctx)})


@router.post("/orgs/{org_id}/publishing/listings/{listing_id}/retry")
async def retry_listing(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    listing_id: uuid.UUID,
    back: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Run the listing's failed publish again (HTMX: answers with the refreshed cell)."""
    return await _act_on_listing(
        request, session, ctx, listing_id, back, publishing_service.retry, RETRY_REPLIES
    )


@router.post("/orgs/{org_id}/publishing/listings/{listing_id}/update")
async def update_listing(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    listing_id: uuid.UUID,
    back: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Send the product as it is now (content, prices, images) to the live listing."""
    return await _act_on_listing(
        request, session, ctx, listing_id, back, publishing_service.update, UPDATE_REPLIES
    )


@router.post("/orgs/{org_id}/publishing/listings/{listing_id}/unpublish")
async def unpublish_listing(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    listing_id: uuid.UUID,
    back: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Take the listing down from its channel (the form asks for confirmation first)."""
    return await _act_on_listing(
        request, session, ctx, listing_id, back, publishing_service.unpublish, UNPUBLISH_REPLIES
    )

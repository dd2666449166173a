"""Order pages: the workspace's imported orders with filters, and one order with its line
items, customer, status and the products and channel listings its SKUs matched."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import BadRequest, ResourceNotFound
from flashfusion.kit.pagination import PaginationParams
from flashfusion.models import OrderStatus
from flashfusion.order.service import order as order_service
from flashfusion.web.deps import OrgDep
from flashfusion.web.templating import render

router = APIRouter()
# ISO 4217 minor-unit exponent 0 (amounts are whole units); every other currency FlashFusion
# sells in has 2.
ZERO_DECIMAL = frozenset({"JPY", "KRW"})


def money(amount: int | None, currency: str) -> str:
    """An amount in minor units as the buyer saw it: "USD 25.99" ("—" when not given)."""
    if amount is None:
        return "—"
    if currency.upper() in ZERO_DECIMAL:
        return f"{currency} {amount:,}"
    sign = "-" if amount < 0 else ""
    units, cents = divmod(abs(amount), 100)
    return f"{currency} {sign}{units:,}.{cents:02d}"


PageQuery = Annotated[int, Query(ge=1, le=10_000)]
PAGE_SIZE = 50


@router.get("/orgs/{org_id}/orders")
async def orders_page(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    page: PageQuery = 1,
    status: Annotated[str, Query(max_length=16)] = "",
    connection: Annotated[str, Query(max_length=36)] = "",
    q: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    """The workspace's orders, newest first."""
    if status and status not in {s.value for s in OrderStatus}:
        raise BadRequest(
            "status: choose " + ", ".join(s.value for s in OrderStatus) + " (or leave it empty)."
        )
    try:
        connection_id = uuid.UUID(connection) if connection else None
    except ValueError:
        raise BadRequest("connection: choose a connection from the list.") from None
    orders, total = await order_service.list(
        session,
        ctx.subject,
        organization_id=ctx.organization.id,
        status=OrderStatus(status) if status else None,
        connection_id=connection_id,
        q=q.strip() or None,
        pagination=PaginationParams(page, PAGE_SIZE),
    )
    connections = await order_service.connections(session, ctx.subject, ctx.organization.id)
    return render(
        request,
        "orders/index.html",
        {
            "orders": orders,
            "total": total,
            "page": page,
            "max_page": max(1, -(-total // PAGE_SIZE)),
            "status": status,
            "statuses": [s.value for s in OrderStatus],
            "connection": connection,
            "connections": connections,
            "names": {c.id: c.name for c in connections},
            "q": q,
            "money": money,
        },
    )


@router.get("/orgs/{org_id}/orders/{order_id}")
async def order_page(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, order_id: uuid.UUID
) -> Response:
    """One order: its line items, customer and status."""
    detail = await order_service.get(session, ctx.subject, order_id)
    if detail.order.organization_id != ctx.organization.id:
        # Another of the user's workspaces: shown under its own URL only.
        raise ResourceNotFound("Order")
    return render(
        request,
        "orders/detail.html",
        {"detail": detail, "order": detail.order, "money": money},
    )

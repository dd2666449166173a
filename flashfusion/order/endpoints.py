import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import NotPermitted, ResourceNotFound, error_responses
from flashfusion.kit.pagination import ListResource
from flashfusion.kit.routing import ObjectID, PaginationParamsDep
from flashfusion.models import OrderStatus
from flashfusion.order.auth import OrdersRead, OrdersSync
from flashfusion.order.schemas import Order, OrderDetail, OrderSyncRequest, OrderSyncRequested
from flashfusion.order.service import OrdersNotSupported
from flashfusion.order.service import order as order_service

router = APIRouter(prefix="/orders", tags=["orders"])


@router.get(
    "",
    response_model=ListResource[Order],
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def list(
    auth_subject: OrdersRead,
    pagination: PaginationParamsDep,
    session: AsyncSessionDep,
    organization_id: Annotated[uuid.UUID | None, Query(description="Only this workspace.")] = None,
    status: Annotated[OrderStatus | None, Query(description="Only orders in this status.")] = None,
    platform: Annotated[
        str | None, Query(max_length=32, description="Only this platform's (e.g. `etsy`).")
    ] = None,
    connection_id: Annotated[uuid.UUID | None, Query(description="Only this connection's.")] = None,
    q: Annotated[
        str | None,
        Query(max_length=100, description="Search the customer's name and the platform order id."),
    ] = None,
) -> ListResource[Order]:
    """Orders imported from the workspace's connections, newest first."""
    orders, count = await order_service.list(
        session,
        auth_subject,
        organization_id=organization_id,
        status=status,
        platform=platform,
        connection_id=connection_id,
        q=q.strip() if q else None,
        pagination=pagination,
    )
    return ListResource.build([Order.model_validate(o) for o in orders], count, pagination)


@router.get(
    "/{id}", response_model=OrderDetail, responses=error_responses(ResourceNotFound, NotPermitted)
)
async def get(id: ObjectID, auth_subject: OrdersRead, session: AsyncSessionDep) -> OrderDetail:
    """Get one order with its line items."""
    detail = await order_service.get(session, auth_subject, id)
    return OrderDetail.model_validate(
        {
            **Order.model_validate(detail.order).model_dump(),
            "line_items": detail.line_items,
        }
    )


@router.post(
    "/sync",
    response_model=OrderSyncRequested,
    status_code=202,
    responses=error_responses(ResourceNotFound, NotPermitted, OrdersNotSupported),
)
async def sync(
    body: OrderSyncRequest, auth_subject: OrdersSync, session: AsyncSessionDep
) -> OrderSyncRequested:
    """Import the connection's changed orders now (a background job)."""
    job = await order_service.request_sync(session, auth_subject, body.connection_id)
    return OrderSyncRequested(job_id=job.id, connection_id=body.connection_id)

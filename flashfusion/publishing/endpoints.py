import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from flashfusion.authz.permission import Permission
from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import (
    Conflict,
    NotPermitted,
    ResourceNotFound,
    UnprocessableEntity,
    error_responses,
)
from flashfusion.kit.pagination import ListResource
from flashfusion.kit.routing import ObjectID, PaginationParamsDep
from flashfusion.models.channel_listing import ListingState
from flashfusion.models.publish_intent import PublishIntent as PublishIntentModel
from flashfusion.publishing.auth import PublishingRead, PublishingWrite
from flashfusion.publishing.schemas import (
    ChannelListing,
    ChannelListingDetail,
    ListingActionResult,
    PublishRequest,
    PublishResult,
)
from flashfusion.publishing.service import PublishResult as PublishResultData
from flashfusion.publishing.service import publishing as publishing_service

router = APIRouter(prefix="/publishing", tags=["publishing"])

WRITE_ERRORS = error_responses(ResourceNotFound, NotPermitted, Conflict, UnprocessableEntity)


def _result(result: PublishResultData) -> PublishResult:
    return PublishResult.model_validate(
        {
            "items": [item.__dict__ for item in result.items],
            "estimates": [e.__dict__ for e in result.estimates],
            "eta_seconds": result.eta_seconds,
        }
    )


@router.post("/publish", response_model=PublishResult, status_code=202, responses=WRITE_ERRORS)
async def publish(
    body: PublishRequest, auth_subject: PublishingWrite, session: AsyncSessionDep
) -> PublishResult:
    """Publish products to channels (each once per version), with per-item outcomes and an ETA."""
    result = await publishing_service.publish(
        session, auth_subject, product_ids=body.product_ids, connection_ids=body.connection_ids
    )
    return _result(result)


@router.post("/estimate", response_model=PublishResult, responses=WRITE_ERRORS)
async def estimate(
    body: PublishRequest, auth_subject: PublishingWrite, session: AsyncSessionDep
) -> PublishResult:
    """How long publishing these products to these channels would take (nothing is queued)."""
    result = await publishing_service.estimate(
        session, auth_subject, product_ids=body.product_ids, connection_ids=body.connection_ids
    )
    return _result(result)


@router.get(
    "/listings",
    response_model=ListResource[ChannelListing],
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def list(
    auth_subject: PublishingRead,
    pagination: PaginationParamsDep,
    session: AsyncSessionDep,
    organization_id: Annotated[uuid.UUID | None, Query(description="Only this workspace.")] = None,
    product_id: Annotated[uuid.UUID | None, Query(description="Only this product's.")] = None,
    connection_id: Annotated[
        uuid.UUID | None, Query(description="Only on this connection.")
    ] = None,
    state: Annotated[ListingState | None, Query(description="Only in this state.")] = None,
) -> ListResource[ChannelListing]:
    """Channel listings, newest first."""
    listings, count = await publishing_service.list_listings(
        session,
        auth_subject,
        organization_id=organization_id,
        product_id=product_id,
        connection_id=connection_id,
        state=state,
        pagination=pagination,
    )
    return ListResource.build(
        [ChannelListing.model_validate(listing) for listing in listings], count, pagination
    )


@router.get(
    "/listings/{id}",
    response_model=ChannelListingDetail,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def get(id: ObjectID, auth_subject: PublishingRead, session: AsyncSessionDep) -> object:
    """One channel listing with its publish history."""
    detail = await publishing_service.listing_detail(session, auth_subject, id)
    return ChannelListingDetail.model_validate(
        {
            **ChannelListing.model_validate(detail.listing).model_dump(),
            "intents": detail.intents,
        }
    )


def _action(listing: object, outcome: str, intent: PublishIntentModel | None) -> object:
    return ListingActionResult.model_validate(
        {"outcome": outcome, "listing": listing, "intent": intent}
    )


@router.post(
    "/listings/{id}/retry",
    response_model=ListingActionResult,
    status_code=202,
    responses=WRITE_ERRORS,
)
async def retry(id: ObjectID, auth_subject: PublishingWrite, session: AsyncSessionDep) -> object:
    """Run the listing's failed publish again (the item is looked up first: never twice)."""
    outcome, intent = await publishing_service.retry(session, auth_subject, id)
    # The caller may act on the listing (publishing:write): that is enough to see the result.
    listing = await publishing_service.get_listing(
        session, auth_subject, id, permission=Permission.publishing_manage
    )
    return _action(listing, outcome, intent)


@router.post(
    "/listings/{id}/update",
    response_model=ListingActionResult,
    status_code=202,
    responses=WRITE_ERRORS,
)
async def update(id: ObjectID, auth_subject: PublishingWrite, session: AsyncSessionDep) -> object:
    """Bring the live listing in line with the product (price, inventory, content, images)."""
    outcome, intent = await publishing_service.update(session, auth_subject, id)
    # The caller may act on the listing (publishing:write): that is enough to see the result.
    listing = await publishing_service.get_listing(
        session, auth_subject, id, permission=Permission.publishing_manage
    )
    return _action(listing, outcome, intent)


@router.post(
    "/listings/{id}/unpublish",
    response_model=ListingActionResult,
    status_code=202,
    responses=WRITE_ERRORS,
)
async def unpublish(
    id: ObjectID, auth_subject: PublishingWrite, session: AsyncSessionDep
) -> object:
    """Take the listing down from its channel."""
    outcome, intent = await publishing_service.unpublish(session, auth_subject, id)
    # The caller may act on the listing (publishing:write): that is enough to see the result.
    listing = await publishing_service.get_listing(
        session, auth_subject, id, permission=Permission.publishing_manage
    )
    return _action(listing, outcome, intent)

"""`/api/v1/connections`: platform connections (list, connect, OAuth, reconnect, link,
disconnect, health). Answers never contain a credential, only its last four characters."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from flashfusion.connector.auth import ConnectionsRead, ConnectionsWrite
from flashfusion.connector.schemas import (
    Connection,
    ConnectionCreate,
    ConnectionHealth,
    ConnectionLink,
    ConnectionReconnect,
    ConnectionSettings,
    ConnectionSettingsUpdate,
    MissingSetting,
    OAuthAuthorize,
    OAuthStart,
    QuotaUse,
    ReconnectResult,
)
from flashfusion.connector.service import (
    CredentialsRejected,
    InvalidConnectionInput,
    InvalidConnectionSetting,
    InvalidLink,
    InvalidOAuthState,
    PlatformUnavailable,
    WrongAccount,
)
from flashfusion.connector.service import connection as connection_service
from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import AppError, NotPermitted, ResourceNotFound, error_responses
from flashfusion.kit.pagination import ListResource
from flashfusion.kit.routing import ObjectID, PaginationParamsDep
from flashfusion.models import PlatformConnection

router = APIRouter(prefix="/connections", tags=["connections"])

CallbackParam = Annotated[str, Query(max_length=2048)]


@router.get(
    "",
    response_model=ListResource[Connection],
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def list(
    auth_subject: ConnectionsRead,
    pagination: PaginationParamsDep,
    session: AsyncSessionDep,
    organization_id: Annotated[uuid.UUID | None, Query(description="Only this workspace.")] = None,
    platform: Annotated[
        str | None, Query(max_length=32, description="Only this platform's.")
    ] = None,
) -> ListResource[Connection]:
    """The workspace's platform connections, by platform."""
    items, count = await connection_service.list(
        session,
        auth_subject,
        organization_id=organization_id,
        platform=platform,
        pagination=pagination,
    )
    return ListResource.build([Connection.model_validate(c) for c in items], count, pagination)


@router.post(
    "",
    response_model=Connection,
    status_code=201,
    responses=error_responses(
        ResourceNotFound, NotPermitted, InvalidConnectionInput, PlatformUnavailable
    ),
)
async def create(
    body: ConnectionCreate, auth_subject: ConnectionsWrite, session: AsyncSessionDep
) -> object:
    """Connect an API-token platform (Printify, Printful), or any platform's sandbox twin."""
    return await connection_service.connect_token(
        session,
        auth_subject,
        organization_id=body.organization_id,
        platform=body.platform,
        credentials=body.credentials,
        name=body.name,
        sandbox=body.sandbox,
    )


@router.post(
    "/oauth/start",
    response_model=OAuthAuthorize,
    responses=error_responses(
        ResourceNotFound, NotPermitted, InvalidConnectionInput, PlatformUnavailable
    ),
)
async def oauth_start(
    body: OAuthStart, auth_subject: ConnectionsWrite, session: AsyncSessionDep
) -> OAuthAuthorize:
    """Start connecting an OAuth platform (Etsy): where to send the creator to authorize."""
    url = await connection_service.start_oauth(
        session,
        auth_subject,
        organization_id=body.organization_id,
        platform=body.platform,
        sandbox=body.sandbox,
    )
    return OAuthAuthorize(authorize_url=url)


@router.get(
    "/oauth/callback",
    response_model=Connection,
    responses=error_responses(
        InvalidOAuthState, CredentialsRejected, WrongAccount, PlatformUnavailable
    ),
)
async def oauth_callback(
    state: CallbackParam = "",
    code: CallbackParam = "",
    error: CallbackParam = "",
) -> object:
    """The OAuth redirect URI (register `<BASE_URL>/api/v1/connections/oauth/callback` with
    the platform). The `state` authenticates it: issued by FlashFusion, valid once, for ten
    minutes. A flow started in the web app returns to its page."""
    from flashfusion.db import unit_of_work
    from flashfusion.web.security import redirect

    # The platform redirects with a GET, and GET units of work are read-only: this one
    # writes (the state is used up, the connection stored), so it opens its own.
    back: str | None = None
    try:
        async with unit_of_work() as session:
            try:
                connection, return_url = await connection_service.finish_oauth(
                    session, state=state, code=code or None, error=error or None
                )
            except AppError:
                back = await connection_service.oauth_return_url(session, state)
                raise
            result = Connection.model_validate(connection)
    except AppError as e:
        if back is None:
            raise
        return redirect(back, e.detail, "error")
    if return_url:
        return redirect(
            f"{return_url.rstrip('/')}/{result.id}",
            f"Connected {result.account_name or result.name}.",
        )
    return result


@router.get(
    "/{id}", response_model=Connection, responses=error_responses(ResourceNotFound, NotPermitted)
)
async def get(id: ObjectID, auth_subject: ConnectionsRead, session: AsyncSessionDep) -> object:
    """Get one connection (its status, account and problem; never its token)."""
    return await connection_service.get(session, auth_subject, id)


@router.get(
    "/{id}/health",
    response_model=ConnectionHealth,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def health(
    id: ObjectID, auth_subject: ConnectionsRead, session: AsyncSessionDep
) -> ConnectionHealth:
    """Status, problem, token expiry and the quota used per documented rate limit."""
    found = await connection_service.health(session, auth_subject, id)
    c = found.connection
    return ConnectionHealth(
        connection_id=c.id,
        status=c.status,
        problem_code=c.problem_code,
        problem_message=c.problem_message,
        problem_action=c.problem_action,
        token_expires_at=c.token_expires_at,
        last_refreshed_at=c.last_refreshed_at,
        quotas=[
            QuotaUse(
                name=q.name,
                used=int(q.used),
                limit=int(q.limit),
                period_seconds=float(q.period_seconds),
            )
            for q in found.quotas
        ],
    )


@router.post(
    "/{id}/reconnect",
    response_model=ReconnectResult,
    responses=error_responses(
        ResourceNotFound,
        NotPermitted,
        InvalidConnectionInput,
        WrongAccount,
        PlatformUnavailable,
    ),
)
async def reconnect(
    id: ObjectID,
    body: ConnectionReconnect,
    auth_subject: ConnectionsWrite,
    session: AsyncSessionDep,
) -> ReconnectResult:
    """Reconnect: a new token (API-token platforms) or an `authorize_url` (OAuth)."""
    result = await connection_service.reconnect(
        session, auth_subject, id, credentials=body.credentials
    )
    return ReconnectResult(
        connection=Connection.model_validate(result.connection) if result.connection else None,
        authorize_url=result.authorize_url,
    )


@router.put(
    "/{id}/link",
    response_model=Connection,
    responses=error_responses(ResourceNotFound, NotPermitted, InvalidLink),
)
async def link(
    id: ObjectID, body: ConnectionLink, auth_subject: ConnectionsWrite, session: AsyncSessionDep
) -> object:
    """Link a Printify shop to the Etsy connection it publishes to (null: unlink)."""
    return await connection_service.set_link(session, auth_subject, id, body.linked_connection_id)


def _settings(connection: PlatformConnection) -> ConnectionSettings:
    return ConnectionSettings(
        connection_id=connection.id,
        platform=connection.platform,
        listing_defaults=connection_service.listing_defaults(connection),
        missing=[
            MissingSetting(name=m.name, message=m.message)
            for m in connection_service.missing_settings(connection)
        ],
    )


@router.get(
    "/{id}/settings",
    response_model=ConnectionSettings,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def get_settings(
    id: ObjectID, auth_subject: ConnectionsRead, session: AsyncSessionDep
) -> ConnectionSettings:
    """The connection's listing defaults, and the required ones that are missing."""
    return _settings(await connection_service.get(session, auth_subject, id))


@router.patch(
    "/{id}/settings",
    response_model=ConnectionSettings,
    responses=error_responses(ResourceNotFound, NotPermitted, InvalidConnectionSetting),
)
async def update_settings(
    id: ObjectID,
    body: ConnectionSettingsUpdate,
    auth_subject: ConnectionsWrite,
    session: AsyncSessionDep,
) -> ConnectionSettings:
    """Change the listing defaults every listing of this connection gets (Etsy who made /
    when made / profiles, Printify blueprint per product type, Printful technique)."""
    connection = await connection_service.update_settings(
        session, auth_subject, id, body.listing_defaults
    )
    return _settings(connection)


@router.delete(
    "/{id}", response_model=Connection, responses=error_responses(ResourceNotFound, NotPermitted)
)
async def delete(id: ObjectID, auth_subject: ConnectionsWrite, session: AsyncSessionDep) -> object:
    """Disconnect: the credentials are wiped; listings and orders keep their history."""
    return await connection_service.disconnect(session, auth_subject, id)

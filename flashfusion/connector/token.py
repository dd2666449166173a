"""Token health: refresh an OAuth token before it expires, exactly once however many workers
see it expiring at the same moment, and tell a dead grant from a passing failure.

A refresh runs under the connection's row lock, in a transaction of its own: the worker that
gets the lock first re-reads the row, refreshes and commits the new tokens at once (Etsy rotates
refresh tokens: a new one lost to a later rollback would kill the grant); the workers that waited
see `token_version` moved on and use the new token without calling the platform. A dead grant's
mark (status, problem, the one notice) is committed the same way, so it outlives the caller's
work whatever becomes of it.

On SQLite a transaction of its own cannot start while the caller's is open (one writer per
database, one connection per event loop), but the caller's transaction then already holds the
database's write lock, so the refresh joins it, and what it wrote is written again once the
caller's unit of work ends (`persist_always`, compare-and-set on `token_version`; the problem
is claimed atomically, so its notice is queued once): neither new tokens nor a dead grant's mark
is lost to the caller's rollback. Between that rollback and the write again, another worker of
this process could take the write lock and, reading the old row, refresh with the refresh token
the platform has just rotated away (or ask again about the dead grant): `_outcomes` remembers,
per connection and per token version, what this process's last refresh found, and a worker that
finds the row still at that version uses it instead of calling the platform. (Another process
on the same SQLite file can still slip into that window: SQLite is for one host and one
writer; PostgreSQL has no such window.)
"""

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.connector.base import (
    AuthKind,
    ConnectorAuthError,
    ConnectorError,
    PlatformConnector,
    RetryableConnectorError,
    TokenSet,
)
from flashfusion.connector.registry import get_connector
from flashfusion.connector.repository import PlatformConnectionRepository
from flashfusion.db import persist_always, unit_of_work
from flashfusion.kit import encryption
from flashfusion.models import ConnectionStatus, PlatformConnection, utc_now

log = structlog.get_logger(__name__)

# FlashFusion's choice, not a platform figure: refresh a token that expires within 5 minutes,
# so that a call started now does not outlive it (Etsy access tokens last one hour --
# research/platform-apis.md section 3).
REFRESH_MARGIN = timedelta(minutes=5)
NOTICE_JOB = "connection.problem_notice"

RECONNECT_ACTION = "Reconnect the account on the Connections page; queued work waits and resumes."
CODE_NO_REFRESH_TOKEN = "no_refresh_token"
# Problems token health sets, and clears once a refresh or a reconnect works again.
AUTH_PROBLEMS = {"auth_failed", "invalid_grant", CODE_NO_REFRESH_TOKEN}


# --- credentials at rest ----------------------------------------------------------------------


def credentials_aad(connection_id: uuid.UUID) -> bytes:
    return encryption.bound_to("platform_connections", "encrypted_credentials", connection_id)


def webhook_secret_aad(connection_id: uuid.UUID) -> bytes:
    return encryption.bound_to("platform_connections", "encrypted_webhook_secret", connection_id)


def seal_credentials(connection_id: uuid.UUID, credentials: Mapping[str, str]) -> bytes:
    return encryption.encrypt(
        json.dumps(dict(credentials), sort_keys=True), aad=credentials_aad(connection_id)
    )


def read_credentials(connection: PlatformConnection) -> dict[str, str]:
    """The decrypted credentials ({} when wiped); in memory only, never logged."""
    if connection.encrypted_credentials is None:
        return {}
    value = json.loads(
        encryption.decrypt(connection.encrypted_credentials, aad=credentials_aad(connection.id))
    )
    return {str(k): str(v) for k, v in value.items()}


def hint(token: str) -> str:
    """The last four characters, to tell tokens apart (never more, never of a short one)."""
    return token[-4:] if len(token) >= 12 else ""


def store_tokens(
    connection: PlatformConnection, credentials: dict[str, str], tokens: TokenSet
) -> None:
    """Put a token set into the row. A response without a refresh token keeps the stored one:
    overwriting it with nothing would kill the grant."""
    updated = dict(credentials)
    updated["access_token"] = tokens.access_token
    if tokens.refresh_token:
        updated["refresh_token"] = tokens.refresh_token
    if tokens.scope:
        updated["scope"] = tokens.scope
    connection.encrypted_credentials = seal_credentials(connection.id, updated)
    connection.credential_hint = hint(tokens.access_token)
    connection.token_expires_at = tokens.expires_at
    connection.token_version = (connection.token_version or 0) + 1
    connection.last_refreshed_at = utc_now()


# --- problems and their one notice -------------------------------------------------------------


async def set_problem(
    session: AsyncSession,
    connection: PlatformConnection,
    *,
    code: str,
    message: str,
    action: str,
    status: ConnectionStatus | None = None,
) -> bool:
    """Record a problem on the connection; the owner and admins are emailed once per problem
    (the same problem seen again sends nothing). True when a notice was queued."""
    from flashfusion.connector import tasks  # noqa: F401  (registers the notice job)
    from flashfusion.jobs.enqueue import enqueue

    await session.flush()
    repository = PlatformConnectionRepository.from_session(session)
    claimed = await repository.claim_problem(
        connection.id,
        code=code,
        message=message[:2000],
        action=action[:2000],
        status=status.value if status is not None else None,
        now=utc_now(),
    )
    if not claimed and status is not None:
        await repository.set_status(connection.id, status.value)
    await session.refresh(connection)
    if not claimed:
        # The same problem seen again: its first description and notice stand.
        return False
    await enqueue(
        session,
        NOTICE_JOB,
        str(connection.id),
        organization_id=connection.organization_id,
        summary=f"Connection problem email: {connection.name} ({code})",
    )
    log.info(
        "connection.problem",
        connection_id=str(connection.id),
        platform=connection.platform,
        code=code,
    )
    return True


def clear_problem(connection: PlatformConnection, *, only: set[str] | None = None) -> None:
    """The problem is fixed: forget it (and its notice), so a new one is announced again."""
    if only is not None and connection.problem_code not in only:
        return
    connection.problem_code = None
    connection.problem_message = None
    connection.problem_action = None
    connection.problem_notified_at = None
    if connection.status in (ConnectionStatus.needs_reconnect, ConnectionStatus.error):
        connection.status = ConnectionStatus.active


async def mark_needs_reconnect(
    session: AsyncSession, connection: PlatformConnection, error: ConnectorError
) -> bool:
    return await set_problem(
        session,
        connection,
        code="invalid_grant" if error.code == "invalid_grant" else error.code or "auth_failed",
        message=error.platform_message or "The platform no longer accepts the connection.",
        action=error.action or RECONNECT_ACTION,
        status=ConnectionStatus.needs_reconnect,
    )


# --- refresh -------------------------------------------------------------------------------------


def needs_refresh(
    connection: PlatformConnection,
    *,
    now: datetime | None = None,
    margin: timedelta = REFRESH_MARGIN,
) -> bool:
    if connection.token_expires_at is None:
        return False
    return connection.token_expires_at - (now or utc_now()) <= margin


@dataclass
class _Outcome:
    refreshed: bool = False
    error: ConnectorError | None = None
    # The new token columns (written again after a SQLite rollback, see _backup).
    values: dict[str, Any] | None = None
    # A dead grant to record (written again after a SQLite rollback, see _mark_again).
    mark: ConnectorError | None = None


@dataclass(frozen=True)
class _Remembered:
    """What this process's last refresh of a connection found, from `from_version` on."""

    from_version: int
    values: dict[str, Any] | None = None
    dead: ConnectorError | None = None


# connection id -> the last refresh outcome of this process (see the module docstring).
_outcomes: dict[uuid.UUID, _Remembered] = {}


def _token_columns(row: PlatformConnection) -> dict[str, Any]:
    return {
        "encrypted_credentials": row.encrypted_credentials,
        "credential_hint": row.credential_hint,
        "token_expires_at": row.token_expires_at,
        "token_version": row.token_version,
        "last_refreshed_at": row.last_refreshed_at,
    }


def _apply(row: PlatformConnection, values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        setattr(row, key, value)
    clear_problem(row, only=AUTH_PROBLEMS)


async def _remembered(
    session: AsyncSession, row: PlatformConnection, connection_id: uuid.UUID
) -> _Outcome | None:
    """The outcome this process already had at this token version, re-applied (None: none)."""
    found = _outcomes.get(connection_id)
    if found is None:
        return None
    if found.from_version != row.token_version:
        _outcomes.pop(connection_id, None)  # the row moved on: what we knew is stale
        return None
    if found.values is not None:
        # Our refresh was rolled back with its caller and not written again yet: the
        # platform has rotated the refresh token we would send, so use what it gave us.
        _apply(row, found.values)
        await session.flush()
        log.info("connection.token_refresh_kept", connection_id=str(connection_id))
        return _Outcome(refreshed=True, values=found.values)
    assert found.dead is not None
    # The grant is dead (the mark was rolled back with its caller): do not ask again.
    await mark_needs_reconnect(session, row, found.dead)
    return _Outcome(error=found.dead, mark=found.dead)


async def _refresh_locked(
    session: AsyncSession,
    connection_id: uuid.UUID,
    seen_version: int,
    connector: PlatformConnector,
    margin: timedelta = REFRESH_MARGIN,
) -> _Outcome:
    """Under the row lock: refresh unless another worker already did."""
    from flashfusion.connector.http import client_for

    row = await PlatformConnectionRepository.from_session(session).lock(connection_id)
    if row is None:
        return _Outcome()
    if row.token_version != seen_version or not needs_refresh(row, margin=margin):
        return _Outcome()  # rotated by another worker while this one waited
    if row.status != ConnectionStatus.active:
        return _Outcome(
            error=ConnectorAuthError(
                row.problem_code or "needs_reconnect",
                row.problem_action or RECONNECT_ACTION,
                needs_reconnect=True,
                platform_message=row.problem_message or "",
            )
        )
    known = await _remembered(session, row, connection_id)
    if known is not None:
        return known
    credentials = read_credentials(row)
    refresh_token = credentials.get("refresh_token")
    if not refresh_token:
        error = ConnectorAuthError(
            CODE_NO_REFRESH_TOKEN,
            RECONNECT_ACTION,
            needs_reconnect=True,
            platform_message="No refresh token is stored for this connection.",
        )
        await mark_needs_reconnect(session, row, error)
        return _Outcome(error=error, mark=error)
    try:
        async with client_for(row, connector) as http:
            tokens = await connector.refresh(http, refresh_token=refresh_token)
    except ConnectorAuthError as e:
        if not e.needs_reconnect:
            return _Outcome(error=e)
        await mark_needs_reconnect(session, row, e)
        return _Outcome(error=e, mark=e)
    except ConnectorError as e:
        # Transient (or a platform fault): nothing changes; the caller retries later.
        return _Outcome(error=e)
    store_tokens(row, credentials, tokens)
    clear_problem(row, only=AUTH_PROBLEMS)
    await session.flush()
    log.info(
        "connection.token_refreshed",
        connection_id=str(row.id),
        platform=row.platform,
        version=row.token_version,
    )
    return _Outcome(refreshed=True, values=_token_columns(row))


def _backup(connection_id: uuid.UUID, seen_version: int, values: dict[str, Any]) -> Any:
    async def write_again(session: AsyncSession) -> None:
        row = await PlatformConnectionRepository.from_session(session).lock(connection_id)
        if row is None or row.token_version != seen_version:
            return  # the caller's commit kept them, or another refresh came since
        _apply(row, values)
        log.info("connection.token_refresh_kept", connection_id=str(connection_id))

    return write_again


def _mark_again(connection_id: uuid.UUID, seen_version: int, error: ConnectorError) -> Any:
    async def write_again(session: AsyncSession) -> None:
        row = await PlatformConnectionRepository.from_session(session).lock(connection_id)
        if row is None or row.token_version != seen_version:
            return  # reconnected (or refreshed) since: the grant is not the dead one
        # Kept by the caller's commit: the same problem is not claimed (nor notified) twice.
        await mark_needs_reconnect(session, row, error)

    return write_again


async def ensure_fresh(
    session: AsyncSession,
    connection: PlatformConnection,
    *,
    margin: timedelta = REFRESH_MARGIN,
) -> PlatformConnection:
    """The connection with a token valid for at least REFRESH_MARGIN (refreshed if needed).

    Raises ConnectorAuthError (needs_reconnect: the status says so, queued work is left
    alone) or RetryableConnectorError (a transient failure: the status is unchanged)."""
    connector = get_connector(connection.platform)
    if connector.auth_kind != AuthKind.oauth_pkce or not needs_refresh(connection, margin=margin):
        return connection
    seen = connection.token_version
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite" and session.in_transaction():
        outcome = await _refresh_locked(session, connection.id, seen, connector, margin)
        if outcome.refreshed and outcome.values is not None:
            _outcomes[connection.id] = _Remembered(seen, values=outcome.values)
            persist_always(session, _backup(connection.id, seen, outcome.values))
        elif outcome.mark is not None:
            _outcomes[connection.id] = _Remembered(seen, dead=outcome.mark)
            persist_always(session, _mark_again(connection.id, seen, outcome.mark))
    else:
        async with unit_of_work() as own:
            outcome = await _refresh_locked(own, connection.id, seen, connector, margin)
    # The caller's copy is re-read either way: it sees the new token, or the new status.
    await session.refresh(connection)
    if outcome.error is not None:
        raise outcome.error
    if needs_refresh(connection, margin=margin) and connection.token_version == seen:
        # Neither this worker nor another could refresh (the row is gone or its status moved).
        raise RetryableConnectorError(
            "token_not_refreshed", "FlashFusion will try to refresh the token again shortly."
        )
    return connection


async def record_auth_failure(
    session: AsyncSession, connection: PlatformConnection, error: ConnectorAuthError
) -> None:
    """A platform call was refused for its credentials. A dead grant (or any refusal of a
    token that cannot be refreshed) needs a reconnect; an expired OAuth token is refreshed on
    the next call."""
    connector = get_connector(connection.platform)
    if connector.auth_kind == AuthKind.oauth_pkce and not error.needs_reconnect:
        connection.token_expires_at = utc_now()
        await session.flush()
        return
    await mark_needs_reconnect(session, connection, error)


def is_retryable(error: ConnectorError) -> bool:
    return isinstance(error, RetryableConnectorError)

"""Connection jobs: the one email per connection problem (the owner and admins, with the link
that fixes it; inputs are connection ids, the message is built and sent inside one step), and
the `connections.refresh_expiring` schedule, which refreshes OAuth tokens before they expire
so that a connection nobody used for a while is still fresh when publishing starts.

DBOS 3.4 schedules are rows in its system database (see flashfusion/order/tasks.py):
`install_schedules` must be called once the executor is launched.
"""

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import structlog
from dbos import DBOS

from flashfusion.config import get_settings
from flashfusion.connector.repository import PlatformConnectionRepository
from flashfusion.db import unit_of_work
from flashfusion.email.sender import build_message, get_sender
from flashfusion.jobs.registry import job
from flashfusion.member.repository import MemberRepository
from flashfusion.models import Organization, Role, utc_now

log = structlog.get_logger(__name__)

REFRESH_SCHEDULE = "connections.refresh_expiring"
# FlashFusion's choices, not platform figures: every 5 minutes, refresh what expires within 15
# (Etsy access tokens live one hour -- research/platform-apis.md section 3), a page at a time.
REFRESH_EVERY = "*/5 * * * *"
PROACTIVE_WINDOW = timedelta(minutes=15)
REFRESH_PAGE = 200


def connection_url(organization_id: uuid.UUID, connection_id: uuid.UUID) -> str:
    """The connection's page (where the reconnect button is)."""
    return f"{get_settings().BASE_URL}/orgs/{organization_id}/connections/{connection_id}"


def notice_body(
    *, organization: str, connection: str, platform: str, problem: str, action: str, link: str
) -> str:
    return (
        f'The {platform} connection "{connection}" of the workspace {organization} has a '
        f"problem:\n\n  {problem}\n\nWhat to do: {action}\n\nOpen the connection:\n{link}\n\n"
        "Publishing and order sync for this connection wait until it works again; nothing "
        "queued is lost. You get this email once per problem.\n"
    )


@DBOS.step(
    name="connection.send_problem_notice",
    retries_allowed=True,
    max_attempts=6,
    interval_seconds=2.0,
)
async def _send_problem_notice(connection_id: str) -> str:
    async with unit_of_work() as session:
        repository = PlatformConnectionRepository.from_session(session)
        connection = await repository.for_worker(uuid.UUID(connection_id))
        if connection is None or connection.problem_code is None:
            return "nothing to send (the problem is fixed)"
        organization = await session.get(Organization, connection.organization_id)
        # Owners and admins: the roles that can reconnect.
        recipients = await MemberRepository.from_session(session).emails_of_roles(
            connection.organization_id, {Role.owner, Role.admin}
        )
        body = notice_body(
            organization=organization.name if organization else "",
            connection=connection.name,
            platform=connection.platform,
            problem=connection.problem_message or connection.problem_code,
            action=connection.problem_action or "Reconnect the account.",
            link=connection_url(connection.organization_id, connection.id),
        )
        subject = f"Action needed: reconnect {connection.name}"
    if not recipients:
        return "nobody to tell"
    sender = get_sender()
    sent = []
    for to in recipients:
        # SMTP is blocking I/O: off the event loop, outside any database transaction.
        sent.append(
            await asyncio.to_thread(sender.send, build_message(to=to, subject=subject, body=body))
        )
    return f"sent to {len(sent)}"


@job("connection.problem_notice", label="Connection problem email", queue="email")
async def send_problem_notice(connection_id: str) -> str:
    """Email the workspace's owner and admins that a connection needs them."""
    return await _send_problem_notice(connection_id)


async def refresh_expiring(*, window: timedelta = PROACTIVE_WINDOW) -> dict[str, int]:
    """Refresh every active OAuth connection whose token expires within `window` (each in its
    own unit of work, under the same row lock as on-demand refreshes: never twice)."""
    from flashfusion.connector import token as token_health
    from flashfusion.connector.base import AuthKind, ConnectorAuthError, ConnectorError
    from flashfusion.connector.registry import all_connectors

    platforms = {n for n, c in all_connectors().items() if c.auth_kind == AuthKind.oauth_pkce}
    counts = {"refreshed": 0, "needs_reconnect": 0, "failed": 0}
    if not platforms:
        return counts
    async with unit_of_work(read_only=True) as session:
        rows = await PlatformConnectionRepository.from_session(session).expiring_oauth(
            platforms, utc_now() + window, REFRESH_PAGE
        )
        ids = [row.id for row in rows]
    for connection_id in ids:
        try:
            async with unit_of_work() as session:
                row = await PlatformConnectionRepository.from_session(session).for_worker(
                    connection_id
                )
                if row is None:
                    continue
                version = row.token_version
                row = await token_health.ensure_fresh(session, row, margin=window)
                if row.token_version != version:
                    counts["refreshed"] += 1
        except ConnectorAuthError:
            counts["needs_reconnect"] += 1  # recorded on the connection, owner told once
        except ConnectorError as e:
            counts["failed"] += 1  # transient: the next tick (or the next call) tries again
            log.warning(
                "connection.refresh_failed", connection_id=str(connection_id), error_code=e.code
            )
    return counts


@DBOS.step(name="connections.refresh_expiring_step")
async def _refresh_expiring_step() -> dict[str, int]:
    return await refresh_expiring()


@DBOS.workflow(name=REFRESH_SCHEDULE)
async def refresh_expiring_tick(scheduled_at: datetime, context: Any) -> None:
    """The scheduled tick: refresh the tokens that would expire before the next ticks."""
    counts = await _refresh_expiring_step()
    log.info("connections.refresh_expiring", scheduled_at=scheduled_at.isoformat(), **counts)


def install_schedules() -> None:
    """Create (or replace) the proactive refresh schedule; call after DBOS.launch()."""
    DBOS.apply_schedules(
        [
            {
                "schedule_name": REFRESH_SCHEDULE,
                "workflow_fn": refresh_expiring_tick,
                "schedule": REFRESH_EVERY,
                "queue_name": "sync",
            }
        ]
    )

"""Token health across OS processes (issue 6, "Reliability tests"): 10 concurrent workers --
two processes of five concurrent tasks each, each task its own unit of work on the same
database -- hitting an expired Etsy token cause exactly one refresh at the twin, and every one
of them calls Etsy with the new access token; the stored refresh token is the rotated one. A
revoked grant seen by workers of both processes marks the connection needs_reconnect once (one
notice), and the queued publish work on it waits (needs_action, never failed).

tests/reliability/test_token_refresh.py is the same within one process (asyncio tasks); here
the only thing the workers share is the database (the row lock on PostgreSQL, the write lock
on SQLite). The Etsy twin is served on a local port from a thread of this process
(tests/reliability/_support.py), which reads its counters; the workers are small Python
processes (`WORKER` below) running the real connection code (`connection_service.open_context`,
connector/token.py) and the real publish job body (`publishing.tasks.run`), released together.

Rows the run commits are removed afterwards (tests/reliability/_support.py `untouched`).
"""

import asyncio
import hashlib
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from flashfusion.auth.models import AuthSubject
from flashfusion.config import get_settings
from flashfusion.connector import token as token_health
from flashfusion.connector.base import TokenSet
from flashfusion.db import unit_of_work
from flashfusion.models import (
    ChannelListing,
    ConnectionStatus,
    IntentState,
    Job,
    PlatformConnection,
    PublishIntent,
)
from flashfusion.publishing.service import publishing as publishing_service
from flashfusion.sandbox import etsy as etsy_twin
from tests.fixtures.objects import create_tenant
from tests.publishing.fakes import publishable
from tests.reliability._support import Served, record_issued, served, untouched
from tests.reliability.twins import ETSY_SCOPES

pytestmark = pytest.mark.slow

PROCESSES = 2
TASKS = 5  # per process: 10 workers in all
PUBLISHES = 2  # per process, of its TASKS, in the revoked-grant case
REPO = str(Path(__file__).resolve().parents[2])
START_TIMEOUT = 60.0
RUN_TIMEOUT = 60.0
TOKEN_DELAY = 1.5

# One worker process: `python -c WORKER <connection id> <tasks>`. It opens the database
# first, prints READY, waits for a line on stdin (every process is released at once; the line
# is the JSON list of the publish intents it runs), runs its tasks concurrently -- those
# publish jobs, and Etsy getMe calls for the rest -- and prints one RESULT line.
WORKER = """
import asyncio, hashlib, json, os, sys, uuid
sys.path.insert(0, os.environ["RELIABILITY_REPO"])
from sqlalchemy import text
from flashfusion.connector.base import ConnectorAuthError
from flashfusion.connector.service import connection as connection_service
from flashfusion.db import unit_of_work
from flashfusion.models import PlatformConnection

connection_id, count = uuid.UUID(sys.argv[1]), int(sys.argv[2])

def digest(token):
    return hashlib.sha256(token.encode()).hexdigest()[:16]

async def call_me():
    # As the publish job opens a connection: an auth failure is caught inside the unit of
    # work, which then commits (publishing/tasks.py `_opened`).
    async with unit_of_work() as session:
        row = await session.get(PlatformConnection, connection_id)
        seen = row.token_version
        try:
            async with connection_service.open_context(session, row) as ctx:
                response = await ctx.request("GET", "/v3/application/users/me")
                used = digest(ctx.credentials["access_token"])
        except ConnectorAuthError as e:
            return {"error": e.code, "needs_reconnect": e.needs_reconnect}
        return {"status": response.status_code, "seen": seen, "version": row.token_version, "token": used}

async def publish(intent_id):
    from flashfusion.publishing import tasks as publishing_tasks  # the publish job's body
    from tests.publishing.fakes import FakeClock  # its clock, without waiting
    return {"intent": intent_id, "state": await publishing_tasks.run(intent_id, FakeClock())}

async def main():
    async with unit_of_work(read_only=True) as session:
        await session.execute(text("SELECT 1"))
    print("READY", flush=True)
    intents = json.loads(await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline))
    work = [publish(i) for i in intents] + [call_me() for _ in range(count - len(intents))]
    results = await asyncio.gather(*work, return_exceptions=True)
    print("RESULT " + json.dumps([r if isinstance(r, dict) else repr(r) for r in results]), flush=True)

asyncio.run(main())
"""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class SlowTokenEndpoint:
    """The twin, with its token endpoint answering after TOKEN_DELAY: the one refresh is
    still in flight when every other worker, released at the same moment, reaches the
    connection (a test choice, to make the race certain rather than likely)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state = app.state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("path") == etsy_twin.TOKEN_PATH:
            await asyncio.sleep(TOKEN_DELAY)
        await self.app(scope, receive, send)


@dataclass
class Shop:
    twin: Served
    connection_id: uuid.UUID
    organization_id: uuid.UUID
    owner: Any
    issued: list[dict[str, Any]]
    env: dict[str, str]


@pytest.fixture
async def shop() -> AsyncIterator[Shop]:
    """A committed Etsy connection holding a grant of the served twin (as the consent and
    code exchange would give it: the OAuth flow itself is tested in tests/connector/)."""
    settings = get_settings()
    keystring, shared_secret = "etsykey" + secrets.token_hex(8), "etsysecret" + secrets.token_hex(8)
    app = SlowTokenEndpoint(etsy_twin.create_app(apps={keystring: shared_secret}))
    with served({"etsy": app}) as twins, untouched():
        twin = twins["etsy"]
        state = twin.state
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHFUSION_TEST_")}
        env.update(
            {
                "RELIABILITY_REPO": REPO,
                "PYTHONPATH": REPO,
                "FLASHFUSION_ETSY_BASE_URL": twin.url,
                "FLASHFUSION_ETSY_KEYSTRING": keystring,
                "FLASHFUSION_ETSY_SHARED_SECRET": shared_secret,
                "FLASHFUSION_LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
            }
        )
        monkeypatch = pytest.MonkeyPatch()
        monkeypatch.setattr(settings, "ETSY_BASE_URL", twin.url)
        monkeypatch.setattr(settings, "ETSY_KEYSTRING", keystring)
        monkeypatch.setattr(settings, "ETSY_SHARED_SECRET", SecretStr(shared_secret))
        try:
            issued = record_issued(state)
            user_id = state.default_user_id
            grant = state.issue_tokens(user_id, keystring, frozenset(ETSY_SCOPES))
            shop_id = state.shop_of(user_id)
            async with unit_of_work() as session:
                tenant = await create_tenant(session, "Refresh")
                row = PlatformConnection(
                    id=uuid.uuid4(),
                    organization_id=tenant.organization.id,
                    platform="etsy",
                    name="Etsy shop",
                    sandbox=False,
                    account_id=str(shop_id),
                    account={"shop_id": shop_id, "listing_defaults": {"who_made": "i_did"}},
                    token_version=0,
                )
                token_health.store_tokens(
                    row,
                    {},
                    TokenSet(
                        grant["access_token"],
                        grant["refresh_token"],
                        datetime.now(UTC) + timedelta(hours=1),
                    ),
                )
                session.add(row)
                org, row_id = tenant.organization.id, row.id
            yield Shop(twin, row_id, org, tenant.owner, issued, env)
        finally:
            monkeypatch.undo()


async def expire(shop: Shop) -> None:
    """The twin's access tokens expire, and FlashFusion knows it (as after a 401)."""
    shop.twin.state.expire_access_tokens()
    async with unit_of_work() as session:
        row = await session.get(PlatformConnection, shop.connection_id)
        assert row is not None
        row.token_expires_at = datetime.now(UTC) - timedelta(seconds=1)


@dataclass
class Workers:
    popens: list[subprocess.Popen[str]]
    logs: list[Path]

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in self.logs)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Any]:
    """Starts worker processes; every one started is ended afterwards."""
    started: list[subprocess.Popen[str]] = []

    def start(shop: Shop) -> Workers:
        logs, popens = [], []
        for n in range(PROCESSES):
            log = tmp_path / f"worker-{n}.err"
            args = [sys.executable, "-c", WORKER, str(shop.connection_id), str(TASKS)]
            with open(log, "w") as err:
                popen = subprocess.Popen(
                    args,
                    env=shop.env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    text=True,
                    cwd=REPO,
                )
            started.append(popen)
            popens.append(popen)
            logs.append(log)
        return Workers(popens, logs)

    yield start
    for popen in started:
        if popen.poll() is None:
            popen.kill()
            popen.wait(timeout=10)


def read_line(popen: subprocess.Popen[str], prefix: str, timeout: float, why: Workers) -> str:
    assert popen.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = popen.stdout.readline()
        if line.startswith(prefix):
            return line.removeprefix(prefix).strip()
        if not line and popen.poll() is not None:
            break
    raise AssertionError(f"no {prefix.strip()!r} line from a worker:\n{why.output()}")


async def run_all(group: Workers, intents: list[list[str]] | None = None) -> list[dict[str, Any]]:
    """Wait until every process is READY, release them together (each with its publish
    intents), gather their results."""

    def run() -> list[dict[str, Any]]:
        for popen in group.popens:
            read_line(popen, "READY", START_TIMEOUT, group)
        for n, popen in enumerate(group.popens):
            assert popen.stdin is not None
            popen.stdin.write(json.dumps(intents[n] if intents else []) + "\n")
            popen.stdin.flush()
        results: list[dict[str, Any]] = []
        for popen in group.popens:
            results += json.loads(read_line(popen, "RESULT ", RUN_TIMEOUT, group))
            popen.wait(timeout=30)
        return results

    # In a thread: the twin's server keeps answering on its own thread meanwhile.
    return await asyncio.to_thread(run)


async def connection_row(shop: Shop) -> PlatformConnection:
    async with unit_of_work(read_only=True) as session:
        row = await session.get(PlatformConnection, shop.connection_id)
        assert row is not None
        session.expunge(row)
        return row


async def notices(shop: Shop) -> int:
    async with unit_of_work(read_only=True) as session:
        jobs = (
            await session.execute(sa.select(Job).where(Job.kind == token_health.NOTICE_JOB))
        ).scalars()
        return sum(1 for job in jobs if job.arguments == [str(shop.connection_id)])


async def test_ten_workers_in_two_processes_refresh_an_expired_token_once(
    shop: Shop, workers: Any, database_kind: str
) -> None:
    state = shop.twin.state
    old = await connection_row(shop)
    old_refresh = token_health.read_credentials(old)["refresh_token"]
    group = workers(shop)
    await expire(shop)
    results = await run_all(group)
    new = shop.issued[-1]

    assert state.refresh_calls == 1
    assert len(shop.issued) == 2  # the first grant, then the one refresh
    # Every worker called Etsy with the one new access token (the old one is expired: the
    # twin would have answered 401), at token version 2.
    calls = [{k: v for k, v in r.items() if k != "seen"} for r in results]
    assert calls == [{"status": 200, "version": 2, "token": digest(new["access_token"])}] * (
        PROCESSES * TASKS
    )
    seen = [[r["seen"] for r in results[n * TASKS : (n + 1) * TASKS]] for n in range(PROCESSES)]
    if database_kind == "postgresql":
        # Workers of every process read the expired token (version 1) before the one refresh
        # committed, and waited for it on the row lock.
        assert all(1 in versions for versions in seen), seen
    else:
        # SQLite: every unit of work begins IMMEDIATE (the database's one write lock), so the
        # workers of both processes queue there: the first refreshes, the rest read version 2.
        assert sorted(v for versions in seen for v in versions) == [1] + [2] * (
            PROCESSES * TASKS - 1
        ), seen
    row = await connection_row(shop)
    assert (row.status, row.token_version, row.problem_code) == (ConnectionStatus.active, 2, None)
    stored = token_health.read_credentials(row)
    assert (stored["access_token"], stored["refresh_token"]) == (
        new["access_token"],
        new["refresh_token"],
    )
    # Etsy rotated the refresh token: the stored one is the live one, the old one died on use.
    assert stored["refresh_token"] in state.refresh_tokens
    assert old_refresh not in state.refresh_tokens
    assert await notices(shop) == 0


async def test_a_revoked_grant_seen_by_two_processes_is_marked_once_and_publish_work_waits(
    shop: Shop, workers: Any
) -> None:
    state = shop.twin.state
    # Started first: their start-up overlaps the workspace's.
    group = workers(shop)
    async with unit_of_work() as session:
        products = [
            await publishable(session, await organization(session, shop), title=f"Tee {n}")
            for n in range(PROCESSES * PUBLISHES)
        ]
        result = await publishing_service.publish(
            session,
            AuthSubject(shop.owner),
            product_ids=[p.id for p in products],
            connection_ids=[shop.connection_id],
        )
        assert sorted({i.outcome for i in result.items}) == ["queued"]
        intents = (
            await session.execute(
                sa.select(PublishIntent.id)
                .join(ChannelListing, ChannelListing.id == PublishIntent.listing_id)
                .where(ChannelListing.connection_id == shop.connection_id)
            )
        ).scalars()
        ids = sorted(str(i) for i in intents)
    assert len(ids) == PROCESSES * PUBLISHES
    state.revoke_grant(state.default_user_id)
    await expire(shop)
    results = await run_all(
        group, [ids[n * PUBLISHES : (n + 1) * PUBLISHES] for n in range(PROCESSES)]
    )

    published = sorted((r for r in results if "intent" in r), key=lambda r: r["intent"])
    called = [r for r in results if "intent" not in r]
    assert published == [{"intent": i, "state": "needs_action"} for i in ids]
    assert called == [{"error": "etsy.invalid_grant", "needs_reconnect": True}] * (
        PROCESSES * (TASKS - PUBLISHES)
    )
    # One refresh tried (refused: invalid_grant); every other worker, in either process, saw
    # the connection's status under the lock and did not ask again.
    assert state.refresh_calls == 1
    row = await connection_row(shop)
    assert (row.status, row.problem_code) == (
        ConnectionStatus.needs_reconnect,
        "etsy.invalid_grant",
    )
    assert await notices(shop) == 1
    # The dead refresh token is kept (never overwritten with nothing).
    assert token_health.read_credentials(row)["refresh_token"]
    # The queued work is not lost: every intent waits for the reconnect, none failed.
    async with unit_of_work(read_only=True) as session:
        rows = (
            await session.execute(
                sa.select(PublishIntent.state, PublishIntent.error_action, ChannelListing.state)
                .join(ChannelListing, ChannelListing.id == PublishIntent.listing_id)
                .where(ChannelListing.connection_id == shop.connection_id)
            )
        ).all()
    assert [(str(i.value), str(listing.value)) for i, _, listing in rows] == [
        (IntentState.needs_action.value, "needs_action")
    ] * len(ids)
    assert {action for _, action, _ in rows} == {
        "Reconnect Etsy on the Connections page, then retry: the work stays queued."
    }


async def organization(session: Any, shop: Shop) -> Any:
    from flashfusion.models import Organization

    found = await session.get(Organization, shop.organization_id)
    assert found is not None
    return found

"""Order import jobs: `orders.sync_connection` imports one connection's changed orders, and the
`orders.sync_all` schedule (every 15 minutes) enqueues it for every active connection whose
platform imports orders.

DBOS 3.4 has no `@DBOS.scheduled` decorator: schedules are rows in its system database,
created with `DBOS.apply_schedules` once the executor is launched (`install_schedules`, called
from `flashfusion.jobs.engine.launch`). `apply_schedules` replaces a schedule of the same name,
so every process may call it at start; DBOS fires each tick once (the workflow id is derived
from the schedule name and the tick time).
"""

import uuid
from datetime import datetime
from typing import Any

import structlog
from dbos import DBOS

from flashfusion.db import unit_of_work
from flashfusion.jobs.registry import job
from flashfusion.order.service import SYNC_JOB
from flashfusion.order.service import order as order_service

log = structlog.get_logger(__name__)

SCHEDULE_NAME = "orders.sync_all"
# FlashFusion default: every 15 minutes (webhooks bring most changes sooner; the sync catches
# what a missed or never-configured webhook did not).
SYNC_EVERY = "*/15 * * * *"


@DBOS.step(name="orders.sync", retries_allowed=True, max_attempts=3, interval_seconds=10.0)
async def sync(connection_id: str) -> dict[str, Any]:
    async with unit_of_work() as session:
        result = await order_service.sync_connection(session, uuid.UUID(connection_id))
    return {
        "fetched": result.fetched,
        "written": result.written,
        "skipped": result.skipped,
        "since": result.since.isoformat() if result.since else None,
        "reason": result.reason,
    }


@job(SYNC_JOB, label="Import orders from a connection", queue="sync")
async def sync_connection(connection_id: str) -> dict[str, Any]:
    """Import every order the platform changed since the last import."""
    return await sync(connection_id)


async def enqueue_all() -> int:
    """An import job for every active connection whose platform imports orders; how many."""
    async with unit_of_work() as session:
        connections = await order_service.syncable_connections(session)
        for connection in connections:
            await order_service.enqueue_sync(session, connection)
    return len(connections)


@DBOS.step(name="orders.enqueue_all")
async def enqueue_all_step() -> int:
    return await enqueue_all()


@DBOS.workflow(name=SCHEDULE_NAME)
async def sync_all(scheduled_at: datetime, context: Any) -> None:
    """The scheduled tick: one import job per syncable connection."""
    count = await enqueue_all_step()
    log.info("orders.sync_all", scheduled_at=scheduled_at.isoformat(), connections=count)


def install_schedules() -> None:
    """Create (or replace) the order-sync schedule; call after DBOS.launch()."""
    DBOS.apply_schedules(
        [
            {
                "schedule_name": SCHEDULE_NAME,
                "workflow_fn": sync_all,
                "schedule": SYNC_EVERY,
                "queue_name": "sync",
            }
        ]
    )

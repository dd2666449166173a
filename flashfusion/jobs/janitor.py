"""Executor heartbeats and the janitor that rescues the work of executors that died for good.

A process that restarts with the same FLASHFUSION_WORKER_ID recovers its own workflows. One that
never comes back leaves them PENDING; every executor runs this janitor, which finds executors
silent for longer than JANITOR_EXECUTOR_TIMEOUT_SECONDS and re-enqueues their PENDING workflows
so that a live executor continues them from their last finished step. The timeout must be
generous: resuming the work of an executor that is only slow runs its current step twice.
"""

import asyncio
import os
import socket
from datetime import datetime, timedelta

import structlog
from dbos import DBOS
from sqlalchemy import or_, select, update

from flashfusion.config import get_settings
from flashfusion.db import unit_of_work
from flashfusion.jobs.engine import APPLICATION_VERSION
from flashfusion.kit.crypto import random_token
from flashfusion.models import WorkerHeartbeat, utc_now

log = structlog.get_logger(__name__)

INSTANCE_NONCE = random_token(12)


class DuplicateExecutorError(RuntimeError):
    pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_other_live_process(row: WorkerHeartbeat, now: datetime, timeout: timedelta) -> bool:
    if row.hostname == socket.gethostname():
        # Same machine: ask the OS. A restart after a crash finds the old pid gone.
        return row.pid != os.getpid() and _pid_alive(row.pid)
    return now - row.last_seen_at < timeout


async def register(kind: str) -> None:
    """Record this executor; refuse to start if another live process already uses its id."""
    settings = get_settings()
    now = utc_now()
    timeout = timedelta(seconds=max(settings.HEARTBEAT_INTERVAL_SECONDS * 3, 30))
    async with unit_of_work() as session:
        row = await session.get(WorkerHeartbeat, settings.WORKER_ID, with_for_update=True)
        if row is not None and row.reaped_at is None and _is_other_live_process(row, now, timeout):
            raise DuplicateExecutorError(
                f"Another {row.kind} process (pid {row.pid} on {row.hostname}) is running with "
                f"FLASHFUSION_WORKER_ID={settings.WORKER_ID}. Give every process its own stable "
                "id, or wait 30 seconds if that process was just stopped."
            )
        if row is None:
            row = WorkerHeartbeat(executor_id=settings.WORKER_ID)
            session.add(row)
        row.kind = kind
        row.hostname = socket.gethostname()
        row.pid = os.getpid()
        row.instance_nonce = INSTANCE_NONCE
        row.application_version = APPLICATION_VERSION
        row.started_at = now
        row.last_seen_at = now
        row.reaped_at = None


async def beat() -> None:
    settings = get_settings()
    async with unit_of_work() as session:
        await session.execute(
            update(WorkerHeartbeat)
            .where(WorkerHeartbeat.executor_id == settings.WORKER_ID)
            .values(last_seen_at=utc_now(), reaped_at=None)
        )


async def reap_dead_executors() -> list[str]:
    """Resume the PENDING workflows of executors silent past the timeout; returns their ids."""
    settings = get_settings()
    timeout = timedelta(seconds=settings.JANITOR_EXECUTOR_TIMEOUT_SECONDS)
    cutoff = utc_now() - timeout
    # A claim older than the timeout may be taken again: the janitor that made it may have died
    # before resuming anything. Resuming twice is harmless: what an earlier pass resumed is no
    # longer PENDING on the dead executor.
    claimable = or_(WorkerHeartbeat.reaped_at.is_(None), WorkerHeartbeat.reaped_at < cutoff)
    async with unit_of_work() as session:
        rows = await session.execute(
            select(WorkerHeartbeat.executor_id).where(
                WorkerHeartbeat.last_seen_at < cutoff,
                claimable,
                WorkerHeartbeat.executor_id != settings.WORKER_ID,
            )
        )
        candidates = list(rows.scalars().all())
    reaped = []
    for executor_id in candidates:
        # Claim the dead executor first: of several janitors, exactly one wins.
        async with unit_of_work() as session:
            result = await session.execute(
                update(WorkerHeartbeat)
                .where(
                    WorkerHeartbeat.executor_id == executor_id,
                    claimable,
                    WorkerHeartbeat.last_seen_at < cutoff,
                )
                .values(reaped_at=utc_now())
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                continue
        workflows = await DBOS.list_workflows_async(
            status="PENDING", executor_id=executor_id, load_input=False, load_output=False
        )
        ids = [w.workflow_id for w in workflows]
        if ids:
            await DBOS.resume_workflows_async(ids)
        if ids:
            log.warning("janitor.reaped", executor_id=executor_id, resumed=len(ids))
        reaped.append(executor_id)
    return reaped


async def run_forever(kind: str) -> None:
    """Heartbeat and janitor loop for the life of the process."""
    settings = get_settings()
    next_janitor = 0.0
    loop = asyncio.get_running_loop()
    while True:
        try:
            await beat()
            if loop.time() >= next_janitor:
                await reap_dead_executors()
                next_janitor = loop.time() + settings.JANITOR_INTERVAL_SECONDS
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("janitor.error")
        await asyncio.sleep(settings.HEARTBEAT_INTERVAL_SECONDS)

"""Job durability with real processes: a committed job survives `kill -9` of any process and
completes after a restart without re-running finished steps; a job whose transaction never
committed does not exist; the janitor hands a dead executor's work to a live one.

Each test gets its own home and database (SQLite file, or a fresh PostgreSQL database when the
suite runs on PostgreSQL) and drives `flashfusion` processes the way an operator would.
"""

import re
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from dbos import DBOSClient

from flashfusion.jobs.engine import APPLICATION_NAME, DBOS_SCHEMA
from tests.fixtures.objects import DEFAULT_PASSWORD, bearer
from tests.fixtures.processes import Deployment, Process, deployment, free_port, query

pytestmark = pytest.mark.slow

T = TypeVar("T")
SELFTEST = "diagnostics.selftest"
STEP = "diagnostics.selftest_step"
SLEEP = "DBOS.sleep"
# Janitor settings short enough for a test; the heartbeat timeout of the duplicate-id check
# (3 heartbeats, at least 30 s) only matters across machines.
JANITOR_ENV = {
    "FLASHFUSION_HEARTBEAT_INTERVAL_SECONDS": "1",
    "FLASHFUSION_JANITOR_INTERVAL_SECONDS": "1",
    "FLASHFUSION_JANITOR_EXECUTOR_TIMEOUT_SECONDS": "4",
}

# Enqueue inside a unit of work and hang before the commit: killing this process is a crash
# between "the request wrote its rows" and "the transaction committed".
ENQUEUE_WITHOUT_COMMIT = """
import asyncio
from flashfusion.db import unit_of_work
from flashfusion.jobs.enqueue import enqueue

async def main():
    async with unit_of_work() as session:
        job = await enqueue(
            session, "diagnostics.selftest", "1", "0", organization_id=None, summary="uncommitted"
        )
        print("UNCOMMITTED", job.id, flush=True)
        await asyncio.sleep(3600)

asyncio.run(main())
"""

# A workspace job whose second argument is not a number: step 1 runs, then the workflow fails.
ENQUEUE_FAILING_JOB = """
import asyncio, sys, uuid
from flashfusion.db import unit_of_work
from flashfusion.jobs.enqueue import enqueue

async def main():
    async with unit_of_work() as session:
        job = await enqueue(
            session, "diagnostics.selftest", "2", "oops",
            organization_id=uuid.UUID(sys.argv[1]), summary="bad sleep",
        )
    print(job.id)

asyncio.run(main())
"""


def wait_for(
    probe: Callable[[], T | None], what: str, timeout: float = 45, interval: float = 0.1
) -> T:
    """Poll until `probe` returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Runs:
    """Read-only view of one deployment's DBOS tables and job tables, from the test process."""

    def __init__(self, database_url: str) -> None:
        self.client = DBOSClient(
            system_database_url=database_url,
            dbos_system_schema=DBOS_SCHEMA,
            application_name=APPLICATION_NAME,
        )
        self.database_url = database_url

    def close(self) -> None:
        self.client.destroy()

    def status(self, workflow_id: str) -> Any:
        found = self.client.list_workflows(workflow_ids=[workflow_id])
        return found[0] if found else None

    def steps(self, workflow_id: str) -> list[dict[str, Any]]:
        return [dict(step) for step in self.client.list_workflow_steps(workflow_id)]

    def wait_for_status(self, workflow_id: str, status: str, timeout: float = 45) -> Any:
        def probe() -> Any:
            current = self.status(workflow_id)
            if current is not None and current.status in ("SUCCESS", "ERROR", "CANCELLED"):
                assert current.status == status, (current.status, current.error)
            return current if current is not None and current.status == status else None

        return wait_for(probe, f"{workflow_id} to reach {status}", timeout)

    def rows(self, sql: str, **params: object) -> list[Any]:
        return query(self.database_url, sql, **params)


@pytest.fixture
def installation(tmp_path: Path) -> Iterator[Deployment]:
    with deployment(tmp_path / "home") as installation:
        upgrade = installation.cli("db", "upgrade")
        assert upgrade.returncode == 0, upgrade.stderr
        yield installation


@pytest.fixture
def runs(installation: Deployment) -> Iterator[Runs]:
    view = Runs(installation.database_url)
    try:
        yield view
    finally:
        view.close()


def enqueue_selftest(installation: Deployment, steps: int, seconds: float) -> str:
    """`flashfusion jobs selftest --no-wait`; returns the run's DBOS workflow id."""
    result = installation.cli(
        "jobs", "selftest", "--steps", str(steps), "--seconds", str(seconds), "--no-wait"
    )
    assert result.returncode == 0, result.stderr
    match = re.search(r"Enqueued self-test job ([0-9a-f-]{36})\.", result.stdout)
    assert match, result.stdout
    return f"{SELFTEST}:{match.group(1)}"


def step_outputs(steps: list[dict[str, Any]]) -> list[Any]:
    return [step["output"] for step in steps if step["function_name"] == STEP]


def assert_complete_selftest(steps: list[dict[str, Any]], count: int) -> None:
    """A finished self-test: each checkpointed step once, each followed by its durable sleep."""
    assert [s["function_id"] for s in steps] == list(range(1, 2 * count + 1))
    assert [s["function_name"] for s in steps] == [STEP, SLEEP] * count
    assert [s["error"] for s in steps] == [None] * (2 * count)
    assert [o["step"] for o in step_outputs(steps)] == list(range(1, count + 1))


def kill_after_first_step(worker: Process, runs: Runs, workflow_id: str) -> list[dict[str, Any]]:
    """kill -9 the worker once at least one step is checkpointed; return the steps it left."""
    wait_for(lambda: step_outputs(runs.steps(workflow_id)), "the first checkpointed step")
    worker.kill9()
    return runs.steps(workflow_id)


def test_killed_worker_resumes_after_restart_without_rerunning_steps(
    installation: Deployment, runs: Runs
) -> None:
    first = installation.start_worker("w1")
    workflow_id = enqueue_selftest(installation, steps=4, seconds=1)

    before = kill_after_first_step(first, runs, workflow_id)
    status = runs.status(workflow_id)
    assert status.status == "PENDING"
    assert status.executor_id == "w1"
    done = step_outputs(before)
    assert 1 <= len(done) < 4
    assert done == [
        {"step": n, "executor_id": "w1", "pid": first.pid} for n in range(1, len(done) + 1)
    ]

    second = installation.start_worker("w1")
    final = runs.wait_for_status(workflow_id, "SUCCESS")

    after = runs.steps(workflow_id)
    assert_complete_selftest(after, 4)
    # What was checkpointed before the crash is exactly what is there now: not run again.
    assert after[: len(before)] == before
    # Everything after it ran in the new process. A step cut off between its effect and its
    # checkpoint would run again here: steps are at-least-once, and that one was not recorded.
    rerun = [s for s in after[len(before) :] if s["function_name"] == STEP]
    assert [s["output"] for s in rerun] == [
        {"step": n, "executor_id": "w1", "pid": second.pid} for n in range(len(done) + 1, 5)
    ]
    # A sleep recorded before the crash keeps its wake-up time: the next step waited for it.
    if before[-1]["function_name"] == SLEEP:
        assert rerun[0]["started_at_epoch_ms"] >= before[-1]["completed_at_epoch_ms"]
    assert final.executor_id == "w1"
    assert final.output == step_outputs(after)


def test_enqueued_job_survives_a_crash_before_any_executor_runs(
    installation: Deployment, runs: Runs
) -> None:
    # `jobs selftest` (waiting for the result) commits the job, then polls; no executor runs.
    enqueuer = installation.start(["jobs", "selftest", "--steps", "2", "--seconds", "0.2"])
    match = wait_for(
        lambda: re.search(r"Enqueued self-test job ([0-9a-f-]{36})\.", enqueuer.log()),
        "the job to be enqueued",
    )
    enqueuer.kill9()
    job_id = match.group(1)
    workflow_id = f"{SELFTEST}:{job_id}"

    status = runs.status(workflow_id)
    assert (status.status, status.queue_name) == ("ENQUEUED", "default")
    assert runs.steps(workflow_id) == []
    jobs = runs.rows("SELECT id, kind FROM jobs WHERE workflow_id = :w", w=workflow_id)
    assert [(str(uuid.UUID(str(row[0]))), row[1]) for row in jobs] == [(job_id, SELFTEST)]

    worker = installation.start_worker("w1")
    final = runs.wait_for_status(workflow_id, "SUCCESS")
    after = runs.steps(workflow_id)
    assert_complete_selftest(after, 2)
    assert step_outputs(after) == [
        {"step": n, "executor_id": "w1", "pid": worker.pid} for n in (1, 2)
    ]
    assert final.executor_id == "w1"


def test_crash_before_commit_leaves_no_job(installation: Deployment, runs: Runs) -> None:
    hung = installation.start(["-c", ENQUEUE_WITHOUT_COMMIT], program=sys.executable)
    match = wait_for(
        lambda: re.search(r"UNCOMMITTED ([0-9a-f-]{36})", hung.log()), "the uncommitted enqueue"
    )
    hung.kill9()
    workflow_id = f"{SELFTEST}:{match.group(1)}"

    installation.start_worker("w1")
    # A committed job after it runs to completion: the executor is working and saw everything.
    committed = enqueue_selftest(installation, steps=1, seconds=0.1)
    runs.wait_for_status(committed, "SUCCESS")

    assert runs.status(workflow_id) is None
    assert runs.steps(workflow_id) == []
    assert runs.rows("SELECT id FROM jobs WHERE workflow_id = :w", w=workflow_id) == []
    assert [row[0] for row in runs.rows("SELECT workflow_id FROM jobs")] == [committed]


def test_janitor_resumes_the_work_of_an_executor_that_never_returns(
    installation: Deployment, runs: Runs
) -> None:
    first = installation.start_worker("w1", **JANITOR_ENV)
    # Long enough that w1 is still at it once w2 has started, even on a loaded machine.
    workflow_id = enqueue_selftest(installation, steps=8, seconds=1)
    wait_for(lambda: step_outputs(runs.steps(workflow_id)), "w1 to start the job")
    second = installation.start_worker("w2", **JANITOR_ENV)

    before = kill_after_first_step(first, runs, workflow_id)
    killed_at = time.time()
    status = runs.status(workflow_id)
    assert (status.status, status.executor_id) == ("PENDING", "w1")
    done = step_outputs(before)
    assert 1 <= len(done) < 8
    assert [o["executor_id"] for o in done] == ["w1"] * len(done)

    final = runs.wait_for_status(workflow_id, "SUCCESS", timeout=50)
    assert final.executor_id == "w2"
    after = runs.steps(workflow_id)
    assert_complete_selftest(after, 8)
    assert after[: len(before)] == before
    rest = [s for s in after[len(before) :] if s["function_name"] == STEP]
    assert [s["output"] for s in rest] == [
        {"step": n, "executor_id": "w2", "pid": second.pid} for n in range(len(done) + 1, 9)
    ]

    heartbeats = {
        row[0]: row[1:]
        for row in runs.rows(
            "SELECT executor_id, pid, last_seen_at, reaped_at FROM worker_heartbeats"
        )
    }
    assert set(heartbeats) == {"w1", "w2"}
    pid, last_seen, reaped = heartbeats["w1"]
    assert pid == first.pid
    assert reaped is not None
    last_seen, reaped = _as_datetime(last_seen), _as_datetime(reaped)
    # Reaped only once silent for the whole timeout, and it went silent when it was killed.
    assert (reaped - last_seen).total_seconds() >= 4
    assert last_seen.timestamp() <= killed_at + 1
    assert heartbeats["w2"][0] == second.pid
    assert heartbeats["w2"][2] is None
    # The live worker was never mistaken for a dead one.
    assert second.alive()


def _as_datetime(value: Any) -> datetime:
    # SQLite hands the column back as naive UTC text, PostgreSQL as an aware timestamp.
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def test_second_process_with_a_live_executor_id_refuses_to_start(
    installation: Deployment, runs: Runs
) -> None:
    first = installation.start_worker("w1")

    for command in (["worker"], ["serve", "--port", str(free_port())]):
        duplicate = installation.cli(*command, FLASHFUSION_WORKER_ID="w1", timeout=60)

        assert duplicate.returncode == 1, (command, duplicate.stdout, duplicate.stderr)
        assert "Traceback" not in duplicate.stderr + duplicate.stdout
        assert " ".join(duplicate.stderr.split()) == (
            f"Error: Another worker process (pid {first.pid} on {socket.gethostname()}) is "
            "running with FLASHFUSION_WORKER_ID=w1. Give every process its own stable id, or "
            "wait 30 seconds if that process was just stopped."
        )
    assert first.alive()
    rows = runs.rows("SELECT pid, reaped_at FROM worker_heartbeats WHERE executor_id = 'w1'")
    assert [tuple(r) for r in rows] == [(first.pid, None)]

    # A different id on the same database is fine, and the two share the work.
    other = installation.start_worker("w2")
    assert other.alive()


def test_finished_runs_show_their_steps_and_error_over_the_api(
    installation: Deployment, runs: Runs
) -> None:
    email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    created = installation.cli("admin", "create-user", email, input=DEFAULT_PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    org = installation.cli("admin", "create-org", "Durable", "--owner", email)
    assert org.returncode == 0, org.stderr
    org_id = org.stdout.strip()
    key = installation.cli(
        "admin", "create-api-key", "--org", org_id, "--scopes", "jobs:read,jobs:write"
    )
    assert key.returncode == 0, key.stderr
    token = key.stdout.strip()

    script = installation.start(["-c", ENQUEUE_FAILING_JOB, org_id], program=sys.executable)
    assert script.popen is not None
    assert script.popen.wait(timeout=60) == 0, script.log()
    job_id = script.log().strip().splitlines()[-1]
    workflow_id = f"{SELFTEST}:{job_id}"

    worker = installation.start_worker("w1")
    runs.wait_for_status(workflow_id, "ERROR")
    _, base_url = installation.start_server(jobs=False)
    with httpx.Client(base_url=base_url, headers=bearer(token), timeout=30) as http:
        response = http.get(f"/api/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "ERROR"
        assert body["error"] == "ValueError: could not convert string to float: 'oops'"
        assert [(s["number"], s["name"], s["error"]) for s in body["steps"]] == [(1, STEP, None)]
        step = body["steps"][0]
        assert step["started_at"] <= step["completed_at"]
        assert body["executor_id"] == "w1"
        assert body["duration_seconds"] >= 0
        assert (body["can_cancel"], body["can_resume"], body["can_retry"]) == (
            False,
            False,
            True,
        )
        assert step_outputs(runs.steps(workflow_id)) == [
            {"step": 1, "executor_id": "w1", "pid": worker.pid}
        ]

        retried = http.post(f"/api/v1/jobs/{job_id}/retry")
        assert retried.status_code == 201, retried.text
        new = retried.json()
        assert new["retry_of_job_id"] == job_id
        assert new["id"] != job_id
        # The worker runs the retry for real; same arguments, so the same failure.
        runs.wait_for_status(f"{SELFTEST}:{new['id']}", "ERROR")
        again = http.get(f"/api/v1/jobs/{new['id']}").json()
        assert again["error"] == body["error"]
        assert [s["name"] for s in again["steps"]] == [STEP]

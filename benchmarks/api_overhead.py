"""API overhead: the authenticated, tenant-scoped member list against a bare endpoint.

    .venv/bin/python benchmarks/api_overhead.py --database both

For each database (SQLite, PostgreSQL) it makes a fresh FLASHFUSION_HOME (and a fresh PostgreSQL
database, dropped afterwards), migrates, seeds one workspace with 50 members and a second
workspace with 30, creates an API key with `members:read`, and starts two servers, each a
single uvicorn process on its own free port:

- real: `flashfusion serve --no-jobs`, GET /api/v1/members?limit=20 with the API key (middleware,
  key + creator-role lookup, permission check, count + page query, ORM, Pydantic schemas);
- bare: benchmarks/bare_app.py, GET /members?limit=20 running the same count + page SQL on the
  same engine settings, with no auth and no middleware (and /members-orm, the same through the ORM
  and the API schemas, to split the overhead).

It checks that all three return the same JSON body, then measures on this machine:

1. throughput: closed loop (wrk, or benchmarks/loadgen.py when wrk is missing), a fixed number
   of connections, runs interleaved real/bare/orm then orm/bare/real, --rounds times;
2. latency: open loop at --rate requests/s for --duration seconds each (benchmarks/loadgen.py,
   latency counted from when each request was due).

Targets (the issue): real/bare throughput >= 0.7 and real p99 < 50 ms at 200 requests/s.
"""

import argparse
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
FLASHFUSION = str(Path(sys.executable).parent / "flashfusion")
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PATHS = {
    "real": "/api/v1/members?limit=20",
    "bare": "/members?limit=20",
    "orm": "/members-orm?limit=20",
}
RATIO_TARGET = 0.7
P99_TARGET_MS = 50.0
MEMBERS = 50
OTHER_TENANT_MEMBERS = 30
WARMUP_SECONDS = 3.0

WRK_SCRIPT = r"""
local authorization = os.getenv("BENCH_AUTHORIZATION")
if authorization then wrk.headers["Authorization"] = authorization end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def log(message: str = "") -> None:
    print(message, flush=True)


# --- seeding (runs in a child process with the benchmark's environment) ----------------------


def seed_main() -> None:
    """Migrate and seed the database the environment points at; print ids and the key."""
    import asyncio

    from flashfusion import migrate
    from flashfusion.config import get_settings

    migrate.upgrade(settings=get_settings())
    print("SEED " + json.dumps(asyncio.run(_seed())), flush=True)


async def _seed() -> dict[str, Any]:
    from flashfusion.api_key.service import api_key as api_key_service
    from flashfusion.auth.models import AuthSubject
    from flashfusion.auth.scope import Scope
    from flashfusion.db import dispose_engines, unit_of_work
    from flashfusion.member.repository import MemberRepository
    from flashfusion.models import Member, Role
    from flashfusion.organization.service import organization as organization_service
    from flashfusion.user.service import user as user_service

    roles = [Role.admin, Role.editor, Role.viewer]

    async def workspace(session: Any, name: str, size: int) -> Any:
        owner = await user_service.create(
            session,
            email=f"owner-{name.lower()}@bench.example.com",
            password=secrets.token_urlsafe(18),
            verified=True,
        )
        organization = await organization_service.create(session, AuthSubject(owner), name=name)
        repository = MemberRepository.from_session(session)
        for i in range(size - 1):
            user = await user_service.create(
                session,
                email=f"member-{i:03d}-{name.lower()}@bench.example.com",
                password=secrets.token_urlsafe(18),
                verified=True,
            )
            await repository.create(
                Member(organization_id=organization.id, user_id=user.id, role=roles[i % 3])
            )
        return owner, organization

    try:
        async with unit_of_work() as session:
            owner, organization = await workspace(session, "Bench", MEMBERS)
            _, other = await workspace(session, "Other", OTHER_TENANT_MEMBERS)
            _, token = await api_key_service.create(
                session,
                AuthSubject(owner),
                organization_id=organization.id,
                name="benchmark",
                scopes={Scope.members_read},
                expires_in_days=1,
            )
    finally:
        await dispose_engines()
    return {"organization_id": str(organization.id), "other_id": str(other.id), "key": token}


# --- processes --------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    ready_path: str
    port: int = field(default_factory=free_port)
    popen: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, headers: dict[str, str]) -> None:
        with open(self.log_path, "ab") as log_file:
            self.popen = subprocess.Popen(
                [*self.args, "--port", str(self.port)],
                env={**self.env, "FLASHFUSION_BASE_URL": self.base_url},
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} server exited early:\n{self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                response = httpx.get(self.base_url + self.ready_path, headers=headers, timeout=2)
                if response.status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} server not ready after 60 s:\n{self.tail()}")

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def cpu_seconds(self) -> float:
        """CPU time (user + system, all threads) the server process has used so far."""
        assert self.popen is not None
        fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""


@contextlib.contextmanager
def fresh_database(kind: str, home: Path, postgres_url: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{home / 'flashfusion.db'}"
        return
    import psycopg

    name = f"ff_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- load generators --------------------------------------------------------------------------


def ensure_wrk(choice: str) -> str:
    """'wrk' or 'python': the closed-loop generator to use."""
    if choice == "python":
        return "python"
    if shutil.which("wrk"):
        return "wrk"
    if choice == "auto" and os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk is missing: installing the Debian package with apt-get…")
        install = ["apt-get", "install", "-y", "-qq", "wrk"]
        if subprocess.run(install, capture_output=True, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, check=False)
            subprocess.run(install, capture_output=True, check=False)
    if shutil.which("wrk"):
        return "wrk"
    if choice == "wrk":
        raise SystemExit("wrk is missing: `apt-get install -y wrk`, or use --closed-loop python")
    log("wrk is not available; using the Python closed-loop generator (benchmarks/loadgen.py).")
    return "python"


def _result_line(output: str, what: str) -> dict[str, Any]:
    for line in output.splitlines():
        if line.startswith("RESULT "):
            return dict(json.loads(line[len("RESULT ") :]))
    raise RuntimeError(f"{what} printed no RESULT line:\n{output[-2000:]}")


def closed_loop(
    tool: str, url: str, authorization: str | None, connections: int, duration: float, work: Path
) -> dict[str, Any]:
    env = dict(os.environ)
    env.pop("BENCH_AUTHORIZATION", None)
    if authorization:
        env["BENCH_AUTHORIZATION"] = authorization
    if tool == "wrk":
        script = work / "report.lua"
        script.write_text(WRK_SCRIPT)
        command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s"]
        command += ["--timeout", "10s", "-s", str(script), url]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        raw = _result_line(done.stdout, "wrk")
        errors = sum(raw[k] for k in ("connect", "read", "write", "status", "timeout"))
        seconds = raw["duration_us"] / 1e6
        ok = raw["requests"] - raw["status"]
        return {
            "throughput": round(ok / seconds, 1),
            "completed": ok,
            "errors": errors,
            "p50_ms": raw["p50_us"] / 1000,
            "p99_ms": raw["p99_us"] / 1000,
            "duration_s": round(seconds, 2),
        }
    command = [sys.executable, str(HERE / "loadgen.py"), "closed", "--url", url]
    command += ["--connections", str(connections), "--duration", str(duration)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    return _result_line(done.stdout + done.stderr, "loadgen closed")


def open_loop(url: str, authorization: str | None, rate: float, duration: float) -> dict[str, Any]:
    env = dict(os.environ)
    env.pop("BENCH_AUTHORIZATION", None)
    if authorization:
        env["BENCH_AUTHORIZATION"] = authorization
    command = [sys.executable, str(HERE / "loadgen.py"), "open", "--url", url]
    command += ["--rate", str(rate), "--duration", str(duration)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    return _result_line(done.stdout + done.stderr, "loadgen open")


# --- one database -----------------------------------------------------------------------------


def base_env(home: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASHFUSION_", "BENCH_"))}
    env.update(
        {
            "FLASHFUSION_HOME": str(home),
            "FLASHFUSION_DATABASE_URL": database_url,
            "FLASHFUSION_SECRET_KEY": secrets.token_urlsafe(48),
            "FLASHFUSION_LOG_LEVEL": "WARNING",
            # Seeding hashes 80 passwords: OWASP's floor keeps it quick (nobody signs in here).
            "FLASHFUSION_PASSWORD_HASH_MEMORY_KIB": "19456",
            "FLASHFUSION_PASSWORD_HASH_TIME_COST": "2",
            "FLASHFUSION_PASSWORD_HASH_PARALLELISM": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _fmt(value: float | None, unit: str = "ms") -> str:
    return "n/a" if value is None else f"{value:.1f} {unit}"


def _difference(bodies: dict[str, Any]) -> str:
    """Where another body first differs from the real one, for the error message."""
    reference = bodies["real"]
    for name, body in bodies.items():
        if body.get("pagination") != reference.get("pagination"):
            return f"pagination: real {reference.get('pagination')} vs {name} {body['pagination']}"
        for mine, theirs in zip(reference.get("items", []), body.get("items", []), strict=False):
            if mine != theirs:
                return f"item: real {mine} vs {name} {theirs}"
        if len(body.get("items", [])) != len(reference.get("items", [])):
            return f"{name} has {len(body.get('items', []))} items"
    return f"total_count is not the seeded {MEMBERS}"


@dataclass
class Targets:
    """The three things measured, as (URL, Authorization header, serving process)."""

    urls: dict[str, str]
    auth: dict[str, str | None]
    servers: dict[str, Server]


def seed(env: dict[str, str]) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "_seed"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [x for x in done.stdout.splitlines() if x.startswith("SEED ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"seeding failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return dict(json.loads(lines[-1][len("SEED ") :]))


def check_bodies(targets: Targets) -> None:
    """All three must return the same JSON: the same data, the same tenant, the same bytes."""
    bodies = {}
    for name, url in targets.urls.items():
        authorization = targets.auth[name]
        headers = {"Authorization": authorization} if authorization else {}
        bodies[name] = httpx.get(url, headers=headers, timeout=10).json()
    same = bodies["real"] == bodies["bare"] == bodies["orm"]
    total = bodies["real"]["pagination"]["total_count"]
    log(
        f"responses: {'identical' if same else 'DIFFERENT'} JSON bodies "
        f"({len(bodies['real']['items'])} items, total_count {total} of {MEMBERS} seeded)"
    )
    if not same or total != MEMBERS:
        raise RuntimeError(f"the servers disagree: {_difference(bodies)}")


def measure_throughput(
    targets: Targets, args: argparse.Namespace, tool: str, work: Path
) -> dict[str, Any]:
    warmup = min(WARMUP_SECONDS, args.duration)
    for name in targets.urls:  # warm pools, statement caches and the page cache
        closed_loop(tool, targets.urls[name], targets.auth[name], args.connections, warmup, work)
    log(
        f"throughput: closed loop ({tool}, {args.connections} connections, "
        f"{args.duration:g} s per run), order real bare orm / orm bare real, "
        f"{args.rounds} round(s)"
    )
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in targets.urls}
    order = list(targets.urls)
    for round_number in range(args.rounds):
        for name in order if round_number % 2 == 0 else order[::-1]:
            server = targets.servers[name]
            cpu_before = server.cpu_seconds()
            result = closed_loop(
                tool, targets.urls[name], targets.auth[name], args.connections, args.duration, work
            )
            cpu = server.cpu_seconds() - cpu_before
            result["server_cpu_ms_per_request"] = round(cpu * 1000 / max(1, result["completed"]), 3)
            runs[name].append(result)
            log(
                f"  round {round_number + 1}  {name:<4}  {result['throughput']:8.1f} req/s  "
                f"p50 {_fmt(result['p50_ms'])}  p99 {_fmt(result['p99_ms'])}  "
                f"errors {result['errors']}  server CPU "
                f"{result['server_cpu_ms_per_request']:.2f} ms/request"
            )
    throughput = {
        name: sum(r["completed"] for r in rs) / sum(r["duration_s"] for r in rs)
        for name, rs in runs.items()
    }
    cpu_per_request = {
        name: sum(r["server_cpu_ms_per_request"] * r["completed"] for r in rs)
        / max(1, sum(r["completed"] for r in rs))
        for name, rs in runs.items()
    }
    ratio = throughput["real"] / throughput["bare"]
    round_ratios = [
        r["throughput"] / b["throughput"] for r, b in zip(runs["real"], runs["bare"], strict=True)
    ]
    log(
        f"  mean: real {throughput['real']:.1f} req/s, bare {throughput['bare']:.1f} req/s, "
        f"orm {throughput['orm']:.1f} req/s"
    )
    log(
        f"  ratio real/bare {ratio:.2f} (per round: "
        f"{', '.join(f'{x:.2f}' for x in round_ratios)}); real/orm "
        f"{throughput['real'] / throughput['orm']:.2f}; orm/bare "
        f"{throughput['orm'] / throughput['bare']:.2f}"
    )
    log(
        f"  server CPU per request: real {cpu_per_request['real']:.2f} ms, bare "
        f"{cpu_per_request['bare']:.2f} ms, orm {cpu_per_request['orm']:.2f} ms "
        f"(bare/real {cpu_per_request['bare'] / cpu_per_request['real']:.2f})"
    )
    return {
        "runs": runs,
        "throughput": {k: round(v, 1) for k, v in throughput.items()},
        "server_cpu_ms_per_request": {k: round(v, 3) for k, v in cpu_per_request.items()},
        "ratio": round(ratio, 3),
        "round_ratios": [round(x, 3) for x in round_ratios],
    }


def measure_latency(targets: Targets, args: argparse.Namespace) -> dict[str, Any]:
    log(f"latency: open loop, {args.rate:g} req/s for {args.duration:g} s each")
    latency: dict[str, Any] = {}
    for name in ("real", "bare"):
        result = open_loop(targets.urls[name], targets.auth[name], args.rate, args.duration)
        latency[name] = result
        log(
            f"  {name:<4}  sent {result['scheduled']}  ok {result['completed']}  "
            f"errors {result['errors']}  p50 {_fmt(result['p50_ms'])}  "
            f"p95 {_fmt(result['p95_ms'])}  p99 {_fmt(result['p99_ms'])}  "
            f"max {_fmt(result['max_ms'])}  (max send lag {_fmt(result['max_send_lag_ms'])}, "
            f"{result['max_connections']} connections, "
            f"{result['resent_on_stale_connection']} resent on a closed keep-alive connection)"
        )
    return latency


def profile(targets: Targets, args: argparse.Namespace, tool: str, work: Path, kind: str) -> None:
    """py-spy each server under closed-loop load; writes collapsed stacks to --profile."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        log("profile: py-spy is not installed (`.venv/bin/pip install py-spy`); skipped")
        return
    args.profile.mkdir(parents=True, exist_ok=True)
    for name in ("real", "bare"):
        output = args.profile / f"{kind}-{name}.txt"
        assert targets.servers[name].popen is not None
        spy = subprocess.Popen(
            [py_spy, "record", "--pid", str(targets.servers[name].popen.pid)]
            + ["--duration", str(max(1, round(args.duration))), "--rate", "200"]
            + ["--format", "raw", "--output", str(output)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        closed_loop(
            tool, targets.urls[name], targets.auth[name], args.connections, args.duration, work
        )
        spy.wait(timeout=args.duration + 30)
        log(f"profile: {name} -> {output} (collapsed stacks; flamegraph.pl or speedscope)")


def run_database(kind: str, args: argparse.Namespace, tool: str) -> dict[str, Any]:
    label = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[kind]
    log(f"\n=== {label} ===")
    home = Path(tempfile.mkdtemp(prefix=f"ff-bench-{kind}-"))
    servers: list[Server] = []
    load_before = os.getloadavg()[0]
    try:
        with fresh_database(kind, home, args.postgres_url) as database_url:
            env = base_env(home, database_url)
            seeded = seed(env)
            authorization = f"Bearer {seeded['key']}"
            log(
                f"setup: fresh {'database' if kind == 'postgresql' else 'SQLite file'}, "
                f"migrated; a workspace of {MEMBERS} members and a second one of "
                f"{OTHER_TENANT_MEMBERS}; an API key with members:read"
            )
            real = Server(
                "real", [FLASHFUSION, "serve", "--no-jobs"], env, home / "real.log", PATHS["real"]
            )
            bare = Server(
                "bare",
                [sys.executable, str(HERE / "bare_app.py")]
                + ["--organization-id", seeded["organization_id"]],
                env,
                home / "bare.log",
                PATHS["bare"],
            )
            servers += [real, bare]
            real.start({"Authorization": authorization})
            bare.start({})
            targets = Targets(
                urls={
                    name: (real if name == "real" else bare).base_url + PATHS[name]
                    for name in PATHS
                },
                auth={"real": authorization, "bare": None, "orm": None},
                servers={"real": real, "bare": bare, "orm": bare},
            )
            check_bodies(targets)
            throughput = measure_throughput(targets, args, tool, home)
            latency = measure_latency(targets, args)
            if args.profile:
                profile(targets, args, tool, home, kind)
            errors = sum(r["errors"] for rs in throughput["runs"].values() for r in rs)
            errors += sum(r["errors"] for r in latency.values())
            ratio = throughput["ratio"]
            p99 = latency["real"]["p99_ms"]
            ratio_met = ratio >= RATIO_TARGET
            p99_met = p99 is not None and p99 < P99_TARGET_MS and latency["real"]["errors"] == 0
            load_after = os.getloadavg()[0]
            log(
                f"targets: throughput ratio >= {RATIO_TARGET}: "
                f"{'MET' if ratio_met else 'MISSED'} ({ratio:.2f}); "
                f"real p99 < {P99_TARGET_MS:g} ms at {args.rate:g} req/s: "
                f"{'MET' if p99_met else 'MISSED'} ({_fmt(p99)}); errors: {errors}; "
                f"machine load {load_before:.1f} -> {load_after:.1f}"
            )
            return {
                "database": kind,
                "closed_loop_tool": tool,
                "connections": args.connections,
                "duration_s": args.duration,
                **throughput,
                "latency": latency,
                "errors": errors,
                "ratio_met": ratio_met,
                "p99_met": p99_met,
                "load_average": [round(load_before, 2), round(load_after, 2)],
            }
    finally:
        for server in servers:
            server.stop()
        if args.keep:
            log(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


def machine() -> dict[str, str]:
    import sqlite3

    import fastapi
    import pydantic
    import sqlalchemy
    import uvicorn

    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "versions": f"fastapi {fastapi.__version__}, uvicorn {uvicorn.__version__}, "
        f"sqlalchemy {sqlalchemy.__version__}, pydantic {pydantic.__version__}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Throughput and latency of GET /api/v1/members against a bare endpoint."
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--duration", type=float, default=20.0, help="seconds per measured run (default 20)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="closed-loop rounds (default 2)")
    parser.add_argument("--connections", type=int, default=8, help="closed-loop connections")
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop requests/s")
    parser.add_argument(
        "--closed-loop",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="closed-loop generator; auto installs wrk with apt-get when missing and possible",
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="server to create the throw-away benchmark database on (and drop it after)",
    )
    parser.add_argument("--profile", type=Path, help="also py-spy both servers into this folder")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary homes and logs")
    args = parser.parse_args(argv)

    info = machine()
    log(f"api_overhead · {info['date']} · {info['cpu']} · Python {info['python']}")
    log(f"{info['versions']} · SQLite {info['sqlite']}")
    tool = ensure_wrk(args.closed_loop)
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    results = [run_database(kind, args, tool) for kind in kinds]

    log("\n=== summary ===")
    for r in results:
        real, bare = r["latency"]["real"], r["latency"]["bare"]
        log(
            f"{r['database']:<10}  throughput real {r['throughput']['real']:.0f} / bare "
            f"{r['throughput']['bare']:.0f} req/s = {r['ratio']:.2f} "
            f"[{'MET' if r['ratio_met'] else 'MISSED'}]  p99 @ {args.rate:g} req/s real "
            f"{_fmt(real['p99_ms'])} / bare {_fmt(bare['p99_ms'])} "
            f"[{'MET' if r['p99_met'] else 'MISSED'}]"
        )
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": results}, indent=2) + "\n")
        log(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["_seed"]:
        seed_main()
    else:
        sys.exit(main())

"""Publishing throughput against the sandbox twins, within their documented quotas, time-scaled.

A fresh FLASHFUSION_HOME (SQLite) is migrated; the job executor runs in this process; the
Printify and Etsy twins are the in-process sandbox apps (`flashfusion.sandbox.runtime`) and post
their webhooks into the FlashFusion app. One workspace gets N products (default 300: one design
rendered once, a t-shirt with one variant each, Etsy listing copy from the offline AI provider),
a sandbox Printify connection linked to a sandbox Etsy one, and one bulk publish of every
product to both (Printify's publish handshake waits for the Etsy listing of the same product).

Time scale. The twins divide every quota window by `time_scale` and FlashFusion's limiter divides
its windows by `FLASHFUSION_SANDBOX_TIME_SCALE`; both are set to `--time-scale`. The default, 1,
is the documented quotas as they are (a run of 300 products takes some 31 minutes, most of it
Printify's publish window). At 10, Printify's "200 publishes per 30 minutes" is 200 per 3
minutes and Etsy's "10 per second" is 10 per 0.1 s. Only the quota windows shrink: the work
FlashFusion and the twins do per product does not, so a faster time scale measures this
machine's pace as much as the use of the quotas (docs/benchmarks.md has the figures at 1, 10
and 60).

The allowed rate. The quotas are the connectors' `rate_limits` (connector/platforms/*/connector.py,
each with its source; the same figures the twins enforce: sandbox/printify.py `LIMITS` from
developers.printify.com "API Usage Guidelines", sandbox/etsy.py `LIMIT_PER_SECOND` /
`LIMIT_PER_DAY` from developer.etsy.com "Rate limits" via research/platform-apis.md §3):

    Printify  requests 600 / 60 s (every call)   catalog 100 / 60 s   publish 200 / 1,800 s
    Etsy      10 / 1 s and 10,000 / 86,400 s (every call)

The calls the run made are counted by the twins per operation (`state.requests`) and put in the
connector's operation groups (Printify: `products.publish` -> "publish", `catalog.*` ->
"catalog", the rest "default"; Etsy: every API call, the OAuth pages excluded as the twin does).
For each limit, `flashfusion.connector.ratelimit.estimate_seconds` gives the shortest time those
calls can take inside it with sliding windows starting empty (the k-th call may go at
floor((k - 1) / limit) windows; windows include the limiter's safety margin of 2 % + 100 ms).
The limit with the longest time binds for its platform; connections run in parallel, so the
run's allowed time is the longest over platforms, and

    allowed rate   = N / allowed time           achieved rate = N / measured time
    ratio          = achieved / allowed          target >= 0.9
    429 responses  = errors["429"] counted by each twin            target 0

The measured time runs from the bulk publish request to the moment every listing on both
channels is settled (published or failed). With 300 products Printify's publish limit binds: 200
publishes go at once, the other 100 wait one (scaled) 30-minute window.

Then `flashfusion demo --json` runs as a subprocess on another fresh home and the time from the
process start to its first product published is printed (target < 10 s on this machine).

    .venv/bin/python benchmarks/publish_throughput.py [--products 300] [--time-scale 1]
    .venv/bin/python benchmarks/publish_throughput.py --time-scale 10   # about 10 minutes in all
    .venv/bin/python benchmarks/publish_throughput.py --quick --time-scale 60  # a smoke test
    .venv/bin/python benchmarks/publish_throughput.py --no-demo --reset-database \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test_pub   # on PostgreSQL

`--printify-only --handshake-slots 8` publishes to Printify alone with 8 handshake slots: every
Etsy listing is then made by a handshake, a run of the deadlock check (tests/test_demo.py).
"""

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

PRODUCT_TYPE = "tshirt"
VARIANT = "white-m"
# The benchmark's own sample cost and shipping in cents (not a provider's price), as the demo.
COST, SHIPPING = 1150, 475


def _groups_printify(requests: dict[str, int]) -> dict[str, int]:
    counts = {"default": 0, "catalog": 0, "publish": 0}
    for operation, n in requests.items():
        if operation == "products.publish":
            counts["publish"] += n
        elif operation.startswith("catalog."):
            counts["catalog"] += n
        else:
            counts["default"] += n
    return counts


def _groups_etsy(requests: dict[str, int]) -> dict[str, int]:
    # The twin does not count its OAuth consent page and token endpoint against the quota.
    return {
        "default": sum(
            n for op, n in requests.items() if op not in ("oauth_connect", "oauth_token")
        )
    }


def _per_limit(connector: Any, counts: dict[str, int], scale: float) -> list[tuple[str, float]]:
    from flashfusion.connector.ratelimit import estimate_seconds

    found = []
    for limit in connector.rate_limits:
        alone = SimpleNamespace(rate_limits=(limit,))
        found.append((limit.name, estimate_seconds(alone, counts, time_scale=scale)))  # type: ignore[arg-type]
    return found


async def _drain(timeout: float) -> None:
    """Wait until no job is queued or running (the products' background safeguard screens)."""
    from dbos import DBOS

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = await DBOS.list_workflows_async(status=["ENQUEUED", "PENDING"])
        if not busy:
            return
        await asyncio.sleep(0.25)
    raise RuntimeError(f"background jobs still running after {timeout:g} s")


def _prepare_postgres(url: str, *, reset: bool) -> bool:
    """True when the database is ready for a fresh migration (empty, or emptied with `reset`)."""
    import psycopg

    from flashfusion.config import sync_database_url
    from flashfusion.connector.ratelimit import POSTGRES_SCHEMA
    from flashfusion.jobs.engine import DBOS_SCHEMA

    plain = sync_database_url(url).replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema IN "
            "('public', %s, %s)",
            (DBOS_SCHEMA, POSTGRES_SCHEMA),
        ).fetchone()
        if tables and tables[0] and not reset:
            return False
        if reset:
            for schema in (DBOS_SCHEMA, POSTGRES_SCHEMA, "public"):
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            conn.execute("CREATE SCHEMA public")
    return True


async def _run(
    n: int, scale: float, timeout: float, *, printify_only: bool = False
) -> dict[str, Any]:
    from urllib.parse import parse_qs, urlsplit

    from sqlalchemy import select

    from flashfusion.auth.models import AuthSubject
    from flashfusion.config import get_settings
    from flashfusion.connector.registry import get_connector
    from flashfusion.connector.service import connection as connection_service
    from flashfusion.content.service import content as content_service
    from flashfusion.db import dispose_engines, unit_of_work
    from flashfusion.demo import _etsy_consent, register_tasks, webhook_app
    from flashfusion.jobs import engine, janitor
    from flashfusion.models import Product, Render, RenderStatus, User
    from flashfusion.models.channel_listing import ChannelListing
    from flashfusion.models.platform_connection import PlatformConnection
    from flashfusion.organization.service import organization as organization_service
    from flashfusion.product.service import product as product_service
    from flashfusion.publishing.service import publishing as publishing_service
    from flashfusion.sandbox import runtime
    from flashfusion.studio.service import design as design_service
    from flashfusion.user.service import user as user_service

    settings = get_settings()
    register_tasks()
    await janitor.register("benchmark")
    await asyncio.to_thread(engine.launch, settings)
    runtime.set_webhook_target(webhook_app())
    try:
        setup_started = time.perf_counter()
        async with unit_of_work() as session:
            user = await user_service.create(
                session,
                email=f"bench-{secrets.token_hex(4)}@bench.example.com",
                password=secrets.token_urlsafe(18),
                verified=True,
            )
            organization = await organization_service.create(
                session, AuthSubject(user), name="Publish bench"
            )
            design, version = await design_service.create(
                session,
                AuthSubject(user),
                organization_id=organization.id,
                name="Bench",
                phrase="Stay wild",
                preset="retro-sunset",
                document=None,
            )
            first = await product_service.create(
                session,
                AuthSubject(user),
                design=design,
                version_number=version.number,
                product_type_key=PRODUCT_TYPE,
                variant_keys=[VARIANT],
                title="Stay wild tee 1",
                provider="printify",
                pricing_rule_id=None,
                channel="etsy",
                render=True,
            )
            render_id, user_id, org_id = first.render_id, user.id, organization.id
        # One render serves every product: same design version, same product type.
        while True:
            async with unit_of_work(read_only=True) as session:
                render = await session.get(Render, render_id)
                assert render is not None
                status = render.status
            if status == RenderStatus.succeeded:
                break
            if status not in (RenderStatus.queued, RenderStatus.running):
                raise RuntimeError(f"the render ended {status}")
            await asyncio.sleep(0.2)
        product_ids = [first.id]
        async with unit_of_work() as session:
            owner = await session.get(User, user_id)
            assert owner is not None
            for i in range(2, n + 1):
                product = await product_service.create(
                    session,
                    AuthSubject(owner),
                    design=design,
                    version_number=version.number,
                    product_type_key=PRODUCT_TYPE,
                    variant_keys=[VARIANT],
                    title=f"Stay wild tee {i}",
                    provider="printify",
                    pricing_rule_id=None,
                    channel="etsy",
                    render=False,
                )
                product.render_id = render_id
                product_ids.append(product.id)
            for pid in product_ids:
                product = await session.get(Product, pid)
                assert product is not None
                await product_service.set_costs(
                    session, AuthSubject(owner), product, cost=COST, shipping=SHIPPING
                )
                await content_service.generate(
                    session,
                    AuthSubject(owner),
                    organization_id=org_id,
                    product=product,
                    idea=None,
                    product_type=None,
                    platforms=["etsy"],
                    languages=["en"],
                    brand_voice_id=None,
                    keywords=[],
                    audience=None,
                    occasion=None,
                )
            printify = await connection_service.connect_token(
                session,
                AuthSubject(owner),
                organization_id=org_id,
                platform="printify",
                credentials=None,
                sandbox=True,
            )
            url = await connection_service.start_oauth(
                session, AuthSubject(owner), organization_id=org_id, platform="etsy", sandbox=True
            )
            printify_id = printify.id
        query = parse_qs(urlsplit(await _etsy_consent(url)).query)
        async with unit_of_work() as session:
            etsy, _ = await connection_service.finish_oauth(
                session, state=query["state"][0], code=query["code"][0]
            )
            row = await session.get(PlatformConnection, etsy.id)
            assert row is not None
            row.account = {**(row.account or {}), "listing_defaults": {"who_made": "i_did"}}
            owner = await session.get(User, user_id)
            assert owner is not None
            await connection_service.set_link(session, AuthSubject(owner), printify_id, etsy.id)
            etsy_id = etsy.id
        await _drain(timeout)
        setup_seconds = time.perf_counter() - setup_started
        print(f"  set up in {setup_seconds:.1f} s; publishing", file=sys.stderr, flush=True)

        printify_twin = runtime.app_for("printify").state.sandbox
        etsy_twin = runtime.app_for("etsy").state.sandbox
        before = {
            "printify": dict(printify_twin.requests),
            "etsy": dict(etsy_twin.requests),
        }
        # When the Printify twin admitted each publish call (seconds from the request): with
        # sliding windows the calls beyond one window go as far apart as the first ones did.
        publish_times: list[float] = []
        admit = printify_twin.admit

        def admit_and_note(kind: str | None) -> Any:
            refused = admit(kind)
            if kind == "publish" and refused is None:
                publish_times.append(time.perf_counter() - started)
            return refused

        printify_twin.admit = admit_and_note
        started = time.perf_counter()
        async with unit_of_work() as session:
            owner = await session.get(User, user_id)
            assert owner is not None
            result = await publishing_service.publish(
                session,
                AuthSubject(owner),
                product_ids=product_ids,
                connection_ids=[printify_id] if printify_only else [printify_id, etsy_id],
            )
        queued = sum(1 for i in result.items if i.outcome == "queued")
        request_seconds = time.perf_counter() - started
        states: dict[str, int] = {}
        first_published: float | None = None
        deadline = time.monotonic() + timeout
        while True:
            async with unit_of_work(read_only=True) as session:
                rows = (
                    await session.execute(
                        select(ChannelListing.platform, ChannelListing.state).where(
                            ChannelListing.organization_id == org_id
                        )
                    )
                ).all()
            states = {}
            for platform, state in rows:
                key = f"{platform} {getattr(state, 'value', state)}"
                states[key] = states.get(key, 0) + 1
            settled = sum(
                v
                for k, v in states.items()
                if k.split()[1] in ("published", "failed", "needs_action")
            )
            if first_published is None and any(k.endswith(" published") for k in states):
                first_published = time.perf_counter() - started
            if settled >= 2 * n or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        wall = time.perf_counter() - started
        platforms = {}
        for name, twin, grouping in (
            ("printify", printify_twin, _groups_printify),
            ("etsy", etsy_twin, _groups_etsy),
        ):
            made = {
                op: count - before[name].get(op, 0)
                for op, count in twin.requests.items()
                if count - before[name].get(op, 0) > 0
            }
            counts = grouping(made)
            connector = get_connector(name)
            limits = _per_limit(connector, counts, scale)
            binding = max(limits, key=lambda item: item[1])
            platforms[name] = {
                "calls": counts,
                "limits": limits,
                "binding": binding,
                "allowed_seconds": binding[1],
                "errors_429": int(twin.errors.get("429", 0)),
                "max_rate_seen": dict(twin.max_rate_seen),
                "duplicates": twin.duplicates()
                if name == "printify"
                else sum(len(v) - 1 for v in twin.duplicates().values()),
            }
        return {
            "setup_seconds": setup_seconds,
            "request_seconds": request_seconds,
            "queued": queued,
            "eta_seconds": result.eta_seconds,
            "wall": wall,
            "first_published": first_published,
            "states": states,
            "platforms": platforms,
            "publish_times": publish_times,
        }
    finally:
        runtime.set_webhook_target(None)
        import logging

        logging.getLogger("dbos").setLevel(logging.CRITICAL)
        await asyncio.to_thread(engine.shutdown)
        await dispose_engines()


def _demo_time(timeout: float) -> dict[str, Any]:
    """`flashfusion demo --json` in a subprocess on a fresh home: time to its first product."""
    from flashfusion.cli import app

    home = Path(tempfile.mkdtemp(prefix="ff-bench-demo-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHFUSION_")}
    env.update({"FLASHFUSION_HOME": str(home), "PYTHONUNBUFFERED": "1"})
    registered = any(c.name == "demo" for c in app.registered_commands)
    if registered:
        command = [str(Path(sys.executable).parent / "flashfusion"), "demo", "--json"]
        how = "flashfusion demo --json"
    else:
        command = [
            sys.executable,
            "-c",
            "import typer; from flashfusion.demo import demo; typer.run(demo)",
            "--json",
        ]
        how = "python -c 'typer.run(flashfusion.demo.demo)' --json (demo not yet in cli.py)"
    launched = time.time()
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    ended = time.time()
    try:
        report = json.loads(done.stdout)
    except ValueError:
        report = {"ok": False, "error": (done.stdout + done.stderr)[-1500:]}
    at = report.get("first_published_at")
    return {
        "how": how,
        "returncode": done.returncode,
        "ok": report.get("ok"),
        "error": report.get("error"),
        "process_to_first": (at - launched) if at else None,
        "tour_to_first": report.get("first_published_seconds"),
        "total": ended - launched,
        "steps": report.get("steps", []),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="divide every quota window by this (default 1: the documented quotas as they are, "
        "some 31 minutes for 300 products; 10 takes about 3.5 minutes)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        help="seconds to wait for the batch (default: 600 + two Printify publish windows)",
    )
    parser.add_argument("--quick", action="store_true", help="12 products (a smoke test)")
    parser.add_argument("--no-demo", action="store_true", help="skip timing `flashfusion demo`")
    parser.add_argument(
        "--database-url",
        help="run on this PostgreSQL database instead of a fresh SQLite file, e.g. "
        "postgresql+psycopg://postgres@127.0.0.1:5432/test_pub (it must be empty, or be "
        "given with --reset-database)",
    )
    parser.add_argument(
        "--reset-database",
        action="store_true",
        help="drop every FlashFusion, DBOS and rate-limit table of --database-url first",
    )
    parser.add_argument(
        "--printify-only",
        action="store_true",
        help="publish to Printify alone: every Etsy listing is made by the handshake",
    )
    parser.add_argument(
        "--handshake-slots",
        type=int,
        help="worker_concurrency of the publish_handshake queue (default: jobs/engine.py's)",
    )
    args = parser.parse_args(argv)
    if args.time_scale <= 0:
        parser.error("--time-scale must be above 0, e.g. 1 or 10")
    n = 12 if args.quick else args.products
    home = Path(tempfile.mkdtemp(prefix="ff-bench-publish-"))
    for name in list(os.environ):
        if name.startswith("FLASHFUSION_"):
            del os.environ[name]
    if args.database_url:
        if not args.database_url.startswith("postgresql"):
            parser.error("--database-url takes a postgresql+psycopg:// URL")
        if not _prepare_postgres(args.database_url, reset=args.reset_database):
            parser.error(
                "the database is not empty: pass --reset-database to drop its tables first"
            )
        os.environ["FLASHFUSION_DATABASE_URL"] = args.database_url
    if args.handshake_slots is not None:
        from flashfusion.jobs import engine

        engine.QUEUES["publish_handshake"]["worker_concurrency"] = args.handshake_slots
    os.environ["FLASHFUSION_HOME"] = str(home)
    os.environ["FLASHFUSION_SECRET_KEY"] = secrets.token_urlsafe(48)
    os.environ["FLASHFUSION_LOG_LEVEL"] = "WARNING"
    os.environ["FLASHFUSION_SANDBOX_TIME_SCALE"] = f"{args.time_scale:g}"

    from flashfusion import migrate
    from flashfusion.config import get_settings
    from flashfusion.logging import configure

    configure(get_settings())
    migrate.upgrade()
    if args.timeout is None:
        # Two of Printify's longest quota windows (its publish window), as the run scales them.
        from flashfusion.connector.registry import get_connector

        window = max(limit.period_seconds for limit in get_connector("printify").rate_limits)
        args.timeout = 600.0 + 2 * window / args.time_scale
    result = asyncio.run(_run(n, args.time_scale, args.timeout, printify_only=args.printify_only))
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"publish_throughput: {n} products x 2 channels (Printify linked to Etsy), time scale "
        f"{args.time_scale:g} (twins and FlashFusion), {database}"
        + (", published to Printify only" if args.printify_only else "")
        + (f", {args.handshake_slots} handshake slots" if args.handshake_slots is not None else "")
    )
    print(
        f"  setup {result['setup_seconds']:.1f} s; publish request "
        f"{result['request_seconds']:.2f} s ({result['queued']} queued, "
        f"ETA {result['eta_seconds']:.1f} s)"
    )
    states = ", ".join(f"{v} {k}" for k, v in sorted(result["states"].items()))
    first = result["first_published"]
    print(
        f"  settled in {result['wall']:.2f} s: {states}; first published after "
        + (f"{first:.2f} s" if first is not None else "never")
    )
    times = result["publish_times"]
    if times:
        marks = dict.fromkeys(k for k in (1, 100, 200, 201, len(times)) if k <= len(times))
        print(
            "  Printify publish calls admitted at "
            + ", ".join(f"#{k} {times[k - 1]:.1f} s" for k in marks)
        )
    allowed = 0.0
    errors = 0
    for name, figures in result["platforms"].items():
        calls = ", ".join(f"{g} {c}" for g, c in figures["calls"].items())
        limits = ", ".join(f"{limit} {s:.2f} s" for limit, s in figures["limits"])
        print(
            f"  {name:<8} calls {calls}; minimum time per limit: {limits}; binds: "
            f"{figures['binding'][0]} ({figures['allowed_seconds']:.2f} s)"
        )
        print(
            f"  {'':<8} 429 responses {figures['errors_429']}  duplicates {figures['duplicates']}  "
            f"max seen per window {figures['max_rate_seen']}"
        )
        allowed = max(allowed, figures["allowed_seconds"])
        errors += figures["errors_429"]
    achieved_rate = n / result["wall"]
    allowed_rate = n / allowed if allowed > 0 else float("inf")
    ratio = achieved_rate / allowed_rate if allowed > 0 else 0.0
    print(
        f"  achieved {achieved_rate:.2f} products/s, allowed {allowed_rate:.2f} products/s "
        f"(allowed time {allowed:.2f} s): ratio {ratio:.3f} (target >= 0.9: "
        f"{'MET' if ratio >= 0.9 else 'MISSED'}); 429 responses {errors} (target 0: "
        f"{'MET' if errors == 0 else 'MISSED'})"
    )
    ok = (
        all(k.endswith(" published") for k in result["states"])
        and sum(result["states"].values()) == 2 * n
    )
    if not args.no_demo:
        demo = _demo_time(args.timeout)
        print(f"  demo: {demo['how']}: exit {demo['returncode']}, total {demo['total']:.1f} s")
        for step in demo["steps"]:
            print(f"    {step['name']:<40} {step['seconds']:6.2f} s")
        to_first = demo["process_to_first"]
        if to_first is None:
            print(f"  demo to first product published: none ({demo['error']})")
            ok = False
        else:
            print(
                f"  demo to first product published: {to_first:.2f} s from process start "
                f"({demo['tour_to_first']:.2f} s from the tour's start) (target < 10 s: "
                f"{'MET' if to_first < 10 else 'MISSED'})"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

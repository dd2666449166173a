"""`flashfusion demo`: a headless tour of the whole product on the sandbox platforms.

From a fresh FLASHFUSION_HOME with nothing configured it migrates the embedded database, starts
the job executor in this process, creates a demo workspace and its owner, turns one idea into a
design and products (print files and mockups rendered by the studio, listing copy written by
the offline AI provider, prices from the pricing rule), screens them, connects the sandbox
Printify (API token) and Etsy (OAuth with PKCE through the twin's auto-approved consent), links
the Printify shop to the Etsy connection, publishes every product to both (Printify's publish
handshake creates its Etsy listing through the same ledger), waits for each channel to settle,
places a sandbox Etsy order and waits for its webhook to import it. Each step prints its
duration and where to look in the web UI; `--json` prints the step timings as JSON instead
(the benchmark reads `first_published_seconds`: the time from start to the first product live
on a channel).

The order serves the first product's publish: the executor launches in a thread while the
workspace and the first product (the only render queued) are made, its copy is written and
screened and the connections are set up while it renders; it is queued the moment its files
exist, and only then are the other products made, so they render while it publishes; they are
written, screened and published after it.

Everything runs in this one process: the twins are the in-process sandbox apps of
`flashfusion.sandbox.runtime` and deliver their webhooks straight into FlashFusion's webhook
endpoint (`runtime.set_webhook_target`, `webhook_receiver`), which stores them and enqueues
their processing like any webhook from the internet.
"""

import asyncio
import contextlib
import json
import logging
import secrets
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

DEFAULT_IDEA = "retro sunset cat"
DEFAULT_PRESET = "retro-sunset"
# Product types and variants the demo makes: sizes and colours that both the catalog and the
# sandbox Printify twin's fictional catalog (sandbox/data/printify_catalog.json: blueprint
# 90001 White/Black S-XL, 90002 Black/Navy M-L) offer, so each publish can succeed; one
# colour each, so the studio renders one set of mockups per product.
DEFAULT_PRODUCTS: dict[str, list[str]] = {
    "tshirt": ["white-m", "white-l"],
    "hoodie": ["black-m", "black-l"],
}
# The demo's own sample provider costs and shipping in minor units (FlashFusion demo values,
# not any provider's price: the catalog has no verified base cost for these products, and
# publishing needs a price; the workspace's pricing rule turns them into prices).
DEMO_COSTS: dict[str, tuple[int, int]] = {"tshirt": (1150, 475), "hoodie": (2350, 799)}
# Etsy asks every listing who made it (createDraftListing `who_made`, specs/etsy/baseline.json
# enum i_did | someone_else | collective); a print-on-demand creator designed it.
ETSY_WHO_MADE = "i_did"
# The sandbox order: how many of the first variant the twin's buyer purchases.
ORDER_QUANTITY = 2
TERMINAL_STATES = frozenset({"published", "failed", "needs_action", "unpublished"})


class DemoFailed(Exception):
    """A step did not finish; `what_to_do` says how to get past it."""

    def __init__(self, step: str, message: str, what_to_do: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step
        self.message = message
        self.what_to_do = what_to_do


@dataclass
class Step:
    name: str
    seconds: float
    detail: str
    look: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    ended: float = 0.0  # seconds since the tour's start, when the step finished


@dataclass
class Tour:
    """What the tour did, for the summary, the JSON output and the tests."""

    idea: str
    started: float = field(default_factory=time.perf_counter)
    steps: list[Step] = field(default_factory=list)
    first_published_seconds: float | None = None
    first_published_at: float | None = None  # Unix time, for a caller timing the process
    organization_id: str | None = None
    email: str | None = None
    password: str | None = None
    products: list[dict[str, Any]] = field(default_factory=list)
    listings: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    ok: bool = False
    failed_step: str | None = None
    error: str | None = None
    what_to_do: str | None = None

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "idea": self.idea,
            "total_seconds": round(self.elapsed(), 3),
            "first_published_seconds": (
                round(self.first_published_seconds, 3)
                if self.first_published_seconds is not None
                else None
            ),
            "first_published_at": self.first_published_at,
            "organization_id": self.organization_id,
            "login": {"email": self.email, "password": self.password},
            "steps": [
                {
                    "name": s.name,
                    "seconds": round(s.seconds, 3),
                    "ended_seconds": round(s.ended, 3),
                    "detail": s.detail,
                    "look": s.look,
                    **({"data": s.data} if s.data else {}),
                }
                for s in self.steps
            ],
            "products": self.products,
            "listings": self.listings,
            "orders": self.orders,
            "failed_step": self.failed_step,
            "error": self.error,
            "what_to_do": self.what_to_do,
        }


class _Reporter:
    def __init__(self, tour: Tour, console: Console, base_url: str) -> None:
        self.tour = tour
        self.console = console
        self.base_url = base_url.rstrip("/")

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    @contextlib.contextmanager
    def step(self, name: str, what_to_do: str) -> Iterator[Step]:
        """Time one step; a failure inside it becomes a DemoFailed naming the step."""
        from flashfusion.exceptions import AppError

        record = Step(name=name, seconds=0.0, detail="")
        started = time.perf_counter()
        try:
            yield record
        except DemoFailed:
            raise
        except AppError as e:
            raise DemoFailed(name, e.detail, what_to_do) from e
        except Exception as e:  # noqa: BLE001 - the operator gets the step and the fix
            raise DemoFailed(name, f"{type(e).__name__}: {e}", what_to_do) from e
        record.seconds = time.perf_counter() - started
        record.ended = self.tour.elapsed()
        self.tour.steps.append(record)
        self.console.print(
            f"[green]✓[/] [bold]{name}[/] [dim]({record.seconds:.2f} s)[/] {record.detail}",
            highlight=False,
        )
        if record.look:
            self.console.print(f"    [dim]look:[/] {record.look}", highlight=False)


# --- the steps ---------------------------------------------------------------------------------


def _migrate(console: Console) -> str:
    """Migrate like `flashfusion serve` does: SQLite automatically, PostgreSQL only when asked."""
    from flashfusion import migrate
    from flashfusion.config import get_settings
    from flashfusion.jobs import engine

    settings = get_settings()
    # A fresh home has no database file yet, so no revision: skip opening one to ask.
    fresh = (
        settings.is_sqlite
        and not settings.DATABASE_URL
        and not (settings.home / "flashfusion.db").exists()
    )
    current = None if fresh else migrate.current_revision_sync(settings)
    head = migrate.head_revision()
    if current == head:
        engine.migrate(settings)
        return f"database at {head}"
    if not settings.is_sqlite:
        raise DemoFailed(
            "Database",
            f"the database is at migration {current or 'none'} but this version needs {head}",
            "Run `flashfusion db upgrade` first (back the database up before upgrading).",
        )
    with console.status("Migrating the embedded database…"):
        migrate.upgrade(settings=settings)
    return f"embedded database migrated to {head}"


def register_tasks() -> None:
    """Register the job kinds the tour runs, before the executor launches (they are in
    flashfusion/tasks.py once the publishing domain is wired in; importing twice is harmless)."""
    import flashfusion.tasks  # noqa: F401
    from flashfusion.connector import tasks as connector_tasks  # noqa: F401
    from flashfusion.external_event import tasks as external_event_tasks  # noqa: F401
    from flashfusion.order import tasks as order_tasks  # noqa: F401
    from flashfusion.publishing import tasks as publishing_tasks  # noqa: F401


def webhook_app() -> Any:
    """The FlashFusion app that receives the twins' webhooks (with the webhook endpoint even
    before flashfusion/app.py includes it)."""
    from flashfusion.app import create_app
    from flashfusion.external_event.endpoints import router as webhooks_router
    from flashfusion.kit.routing import warm_routes

    application = create_app(run_jobs=False)
    path = "/webhooks/{platform}/{connection_id}"
    if not any(getattr(route, "path", None) == path for route in application.routes):
        application.include_router(webhooks_router)
    warm_routes(application)  # as the served app's start-up does
    return application


def webhook_receiver() -> Any:
    """The part of the FlashFusion app that the twins post to: its `/webhooks` endpoint (the
    same router, behind the same request-context and security-header middleware as in
    `create_app`). The tour calls nothing else of the app, and the web UI and the public API,
    which `webhook_app` also builds, are most of the app's start-up time (some 1.5-3 s of
    imports and routes here), spent while the first product renders."""
    from fastapi import FastAPI

    from flashfusion.config import get_settings
    from flashfusion.external_event.endpoints import router as webhooks_router
    from flashfusion.kit.routing import warm_routes
    from flashfusion.middleware import RequestContextMiddleware, SecurityHeadersMiddleware

    settings = get_settings()
    application = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    application.add_middleware(SecurityHeadersMiddleware, settings=settings)
    application.add_middleware(RequestContextMiddleware, settings=settings)
    application.include_router(webhooks_router)
    warm_routes(application)
    return application


async def _etsy_consent(url: str) -> str:
    """The OAuth callback URL for `url`, the sandbox consent page FlashFusion sends a creator
    to: the Etsy twin's auto-approve path (`auto_approve=1`, sandbox/etsy.py) answers with the
    redirect a creator's "Allow" would cause. A URL that already is the callback is kept."""
    import httpx

    from flashfusion.connector.service import CALLBACK_PATH
    from flashfusion.sandbox import runtime

    parts = urlsplit(url)
    if parts.path.endswith(CALLBACK_PATH):
        return url
    query = dict(parse_qsl(parts.query))
    query["auto_approve"] = "1"
    twin = runtime.app_for("etsy")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=twin), base_url="http://etsy.sandbox"
    ) as client:
        response = await client.get("/oauth/connect", params=query, follow_redirects=False)
    location = response.headers.get("location", "")
    if not response.is_redirect or "code=" not in location:
        raise DemoFailed(
            "Connected sandbox Etsy (OAuth PKCE, auto-approved)",
            f"the Etsy twin's consent page answered HTTP {response.status_code} without a code",
            "Run the demo again; if it persists, the sandbox Etsy OAuth flow is broken "
            "(tests/sandbox/test_etsy_twin.py).",
        )
    return location


async def _wait(
    check: Callable[[], Awaitable[tuple[int, int, bool]]],
    *,
    console: Console,
    label: str,
    timeout: float,
    interval: float = 0.1,
) -> bool:
    """Poll `check() -> (done, total, finished)` under a progress bar; False on timeout."""
    deadline = time.monotonic() + timeout
    with Progress(
        TextColumn("    {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        bar = progress.add_task(label, total=None)
        while True:
            done, total, finished = await check()
            progress.update(bar, completed=done, total=total or None)
            if finished:
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(interval)


async def _tour(
    tour: Tour,
    reporter: _Reporter,
    *,
    idea: str,
    preset: str,
    products: dict[str, list[str]],
    timeout: float,
) -> None:
    """The tour; the job executor it launches is stopped by the caller, after the launch
    itself has finished (even when a step failed before waiting for it)."""
    launching: list[asyncio.Future[None]] = []
    try:
        await _steps(
            tour,
            reporter,
            launching,
            idea=idea,
            preset=preset,
            products=products,
            timeout=timeout,
        )
    finally:
        if launching and not launching[0].done():
            # A step failed while the executor was still launching: let the launch finish so
            # that the caller's shutdown stops a started executor, not a half-started one.
            with contextlib.suppress(Exception):
                await launching[0]


async def _steps(
    tour: Tour,
    reporter: _Reporter,
    launching: list[asyncio.Future[None]],
    *,
    idea: str,
    preset: str,
    products: dict[str, list[str]],
    timeout: float,
) -> None:
    """The steps, ordered for the first product's publish: it is made, rendered, written,
    screened and published first, with nothing that its publish does not need in its way (the
    connections and the webhook receiver are set up while it renders); the other products are
    made once it is queued, so they render while it publishes."""
    from flashfusion.audit.service import audit as audit_service
    from flashfusion.auth.models import AuthSubject
    from flashfusion.config import get_settings
    from flashfusion.connector.service import connection as connection_service
    from flashfusion.content.service import content as content_service
    from flashfusion.db import unit_of_work
    from flashfusion.jobs import engine, janitor
    from flashfusion.kit.pagination import PaginationParams
    from flashfusion.models import RenderStatus, User
    from flashfusion.models.platform_connection import PlatformConnection
    from flashfusion.order.service import order as order_service
    from flashfusion.organization.service import organization as organization_service
    from flashfusion.product.service import product as product_service
    from flashfusion.publishing.service import publishing as publishing_service
    from flashfusion.safeguard.service import safeguard as safeguard_service
    from flashfusion.sandbox import runtime
    from flashfusion.studio.render_service import render_service
    from flashfusion.studio.service import design as design_service
    from flashfusion.user.service import user as user_service

    console = reporter.console
    settings = get_settings()
    if not products:
        raise DemoFailed("Design and products created", "no product types", "Name one.")

    with reporter.step(
        "Job executor starting",
        "Stop any `flashfusion serve`/`worker` using this FLASHFUSION_HOME with the same "
        "FLASHFUSION_WORKER_ID, or give the demo its own FLASHFUSION_WORKER_ID.",
    ) as step:
        register_tasks()
        await janitor.register("demo")
        # The executor starts (a second or two, then its queues are polled) in a thread from
        # now on, while the workspace and the first product are made: the jobs they enqueue
        # wait in their queues until it runs. run_in_executor submits the launch at once (a
        # task made with asyncio.to_thread would start only at the loop's next turn).
        launching.append(asyncio.get_running_loop().run_in_executor(None, engine.launch, settings))
        step.detail = f"in this process, as executor {settings.WORKER_ID!r}"

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)
    with reporter.step(
        "Workspace created", "Check that the database is writable, then run the demo again."
    ) as step:
        email = f"demo-{stamp}@demo.flashfusion.invalid"
        password = secrets.token_urlsafe(15)
        async with unit_of_work() as session:
            user = await user_service.create(session, email=email, password=password, verified=True)
            await audit_service.record(
                session, None, action="user.created_by_operator", user_id=user.id
            )
            organization = await organization_service.create(
                session, AuthSubject(user), name=f"Demo {stamp}"
            )
            org_id, user_id = organization.id, user.id
        tour.organization_id, tour.email, tour.password = str(org_id), email, password
        step.detail = f"“{organization.name}”; sign in as {email} / {password} (shown once)"
        step.look = reporter.url(f"/orgs/{org_id}")

    def as_owner(session: Any) -> Awaitable[User | None]:
        return session.get(User, user_id)

    product_ids: list[uuid.UUID] = []
    kinds = list(products)
    design_id: uuid.UUID | None = None

    async def make_products(keys: list[str]) -> None:
        """Create the products of `keys` (and the design, the first time), each with its render
        queued, in one unit of work; their ids go to `product_ids` in order."""
        nonlocal design_id
        async with unit_of_work() as session:
            owner = await as_owner(session)
            assert owner is not None
            who = AuthSubject(owner)
            if design_id is None:
                design, version = await design_service.create(
                    session,
                    who,
                    organization_id=org_id,
                    name=idea[:100],
                    phrase=idea,
                    preset=preset,
                    document=None,
                )
                design_id = design.id
            else:
                design = await design_service.get(session, who, design_id)
                version = await design_service.get_version(session, design, None)
            for key in keys:
                product = await product_service.create(
                    session,
                    who,
                    design=design,
                    version_number=version.number,
                    product_type_key=key,
                    variant_keys=products[key],
                    title=None,
                    provider="printify",
                    pricing_rule_id=None,
                    channel="etsy",
                    render=True,
                )
                cost, shipping = DEMO_COSTS.get(key, (1500, 500))
                await product_service.set_costs(session, who, product, cost=cost, shipping=shipping)
                product_ids.append(product.id)

    def made(keys: list[str]) -> str:
        return ", ".join(f"{k} ({len(products[k])} variants)" for k in keys)

    with reporter.step(
        "Design and first product created",
        "Choose another --idea (1-200 characters) or --preset (see `flashfusion studio presets`).",
    ) as step:
        # The first product alone: its render is the only one queued, so it has the render
        # queue and both cores to itself until it is published (the others follow it).
        await make_products(kinds[:1])
        step.detail = f"design “{idea}” ({preset}) → {made(kinds[:1])}, render queued"
        step.look = reporter.url(f"/orgs/{org_id}/studio/designs/{design_id}")

    with reporter.step(
        "Webhook receiver ready",
        "The FlashFusion app could not be built: run `flashfusion serve` to see the error.",
    ) as step:
        # The twins post their webhooks (Printify's publish events, the order) into it, from
        # the first publish on; each is stored and its processing enqueued as in `serve`.
        runtime.set_webhook_target(webhook_receiver())
        step.detail = "the twins deliver their webhooks to FlashFusion's /webhooks endpoint"

    async def write_copy(pids: list[uuid.UUID]) -> list[str]:
        """Etsy listing copy for each product (one unit of work each: the executor's queue
        polls write to the same database meanwhile)."""
        titles = []
        for pid in pids:
            async with unit_of_work() as session:
                owner = await as_owner(session)
                assert owner is not None
                product = await product_service.get(session, AuthSubject(owner), pid)
                written = await content_service.generate(
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
                fields = written[0].version.fields if written else {}
                titles.append(str(fields.get("title", "")))
                tour.products.append(
                    {
                        "id": str(pid),
                        "product_type": product.product_type,
                        "title": product.title,
                        "listing_title": titles[-1],
                    }
                )
        return titles

    async def screen(pids: list[uuid.UUID], step: Step) -> None:
        verdicts = []
        entries = {entry["id"]: entry for entry in tour.products}
        for pid in pids:
            async with unit_of_work() as session:
                owner = await as_owner(session)
                assert owner is not None
                report = await safeguard_service.screen_product(
                    session, AuthSubject(owner), pid, trigger="manual"
                )
            entries[str(pid)]["verdict"] = report.verdict.value
            verdicts.append(report.verdict.value.upper())
        step.detail = "verdicts " + ", ".join(verdicts)
        step.look = reporter.url(f"/orgs/{org_id}/safeguards")
        if "BLOCK" in verdicts:
            raise DemoFailed(
                step.name,
                "the screen blocks publishing",
                f"Open {step.look} to see why, or choose another --idea.",
            )

    copy_fix = (
        "The offline provider needs no key; check FLASHFUSION_ settings for a broken AI chain."
    )
    screen_fix = "Change the idea's words if a trademark or policy check blocks it, then run again."
    with reporter.step("Listing copy written for the first product (offline AI)", copy_fix) as step:
        titles = await write_copy(product_ids[:1])
        step.detail = "Etsy copy: " + "; ".join(f"“{t[:60]}”" for t in titles)
        step.look = reporter.url(f"/orgs/{org_id}/products/{product_ids[0]}/listings")

    with reporter.step("Safeguard screening of the first product", screen_fix) as step:
        await screen(product_ids[:1], step)

    connections: dict[str, uuid.UUID] = {}
    with reporter.step(
        "Connected sandbox Printify",
        "The sandbox twin runs in-process: unset FLASHFUSION_PRINTIFY_BASE_URL if it points "
        "at a server that is not running.",
    ) as step:
        async with unit_of_work() as session:
            owner = await as_owner(session)
            assert owner is not None
            printify = await connection_service.connect_token(
                session,
                AuthSubject(owner),
                organization_id=org_id,
                platform="printify",
                credentials=None,
                name="Sandbox Printify",
                sandbox=True,
            )
            connections["printify"] = printify.id
            step.detail = f"shop “{printify.account_name}” ({printify.account_id}), webhooks " + (
                "subscribed" if printify.webhook_url else "NOT subscribed"
            )
        step.look = reporter.url(f"/orgs/{org_id}/connections")

    with reporter.step(
        "Connected sandbox Etsy (OAuth PKCE, auto-approved)",
        "The sandbox twin runs in-process: unset FLASHFUSION_ETSY_BASE_URL, "
        "FLASHFUSION_ETSY_OAUTH_URL and FLASHFUSION_ETSY_TOKEN_URL if they point elsewhere.",
    ) as step:
        async with unit_of_work() as session:
            owner = await as_owner(session)
            assert owner is not None
            callback = await connection_service.start_oauth(
                session,
                AuthSubject(owner),
                organization_id=org_id,
                platform="etsy",
                sandbox=True,
            )
        query = parse_qs(urlsplit(await _etsy_consent(callback)).query)
        async with unit_of_work() as session:
            etsy, _ = await connection_service.finish_oauth(
                session,
                state=query.get("state", [""])[0],
                code=query.get("code", [""])[0],
            )
            # Etsy needs `who_made` on every listing; the connection's listing defaults carry
            # the creator's answer (publishing/payload.py reads account["listing_defaults"]).
            row = await session.get(PlatformConnection, etsy.id)
            assert row is not None
            account = dict(row.account or {})
            account["listing_defaults"] = {
                **(account.get("listing_defaults") or {}),
                "who_made": ETSY_WHO_MADE,
            }
            row.account = account
            connections["etsy"] = etsy.id
            step.detail = (
                f"shop “{etsy.account_name}” ({etsy.account_id}), who_made={ETSY_WHO_MADE}"
            )
        step.look = reporter.url(f"/orgs/{org_id}/connections")

    with reporter.step(
        "Linked Printify → Etsy", "Both connections must be sandbox ones of this workspace."
    ) as step:
        async with unit_of_work() as session:
            owner = await as_owner(session)
            assert owner is not None
            await connection_service.set_link(
                session, AuthSubject(owner), connections["printify"], connections["etsy"]
            )
        step.detail = "Printify's publish handshake now creates the Etsy listing"

    with reporter.step(
        "Job executor running",
        "Run `flashfusion jobs selftest` to check the job engine on this database.",
    ) as step:
        await launching[0]
        step.detail = (
            f"renders, screens and publishes run here; sandbox twins in-process, quota time "
            f"scale {settings.SANDBOX_TIME_SCALE:g}"
        )

    channel_ids = [connections["printify"], connections["etsy"]]
    cells: list[Any] = []

    async def board() -> tuple[int, int, bool]:
        """The status board; notes the moment the first listing is live."""
        nonlocal cells
        async with unit_of_work(read_only=True) as session:
            owner = await as_owner(session)
            assert owner is not None
            cells = await publishing_service.status_board(
                session, AuthSubject(owner), organization_id=org_id
            )
        if tour.first_published_seconds is None and any(c.state == "published" for c in cells):
            tour.first_published_seconds = tour.elapsed()
            tour.first_published_at = time.time()
        settled = [c for c in cells if c.state in TERMINAL_STATES]
        expected = len(product_ids) * len(channel_ids)
        return len(settled), expected, len(settled) >= expected

    queued_for: set[uuid.UUID] = set()
    file_counts: dict[uuid.UUID, int] = {}

    async def render_and_queue(pids: list[uuid.UUID], step: Step) -> None:
        """Publish each product of `pids` the moment its print files and mockups exist."""
        etas: list[float] = []
        queued = 0
        render_of: dict[uuid.UUID, uuid.UUID] = {}
        async with unit_of_work(read_only=True) as session:
            owner = await as_owner(session)
            assert owner is not None
            for pid in pids:
                row = await product_service.get(session, AuthSubject(owner), pid)
                assert row.render_id is not None
                render_of[pid] = (
                    await render_service.get(session, AuthSubject(owner), row.render_id)
                ).id

        async def renders() -> tuple[int, int, bool]:
            nonlocal queued
            ready: list[uuid.UUID] = []
            async with unit_of_work(read_only=True) as session:
                for pid in pids:
                    if pid in queued_for:
                        continue
                    # The owner's access to each render was checked above: each poll (ten a
                    # second) reads only the render's row, leaving the cores to the render.
                    render = await render_service.get_by_id(session, render_of[pid])
                    assert render is not None
                    status = RenderStatus(render.status)
                    if status == RenderStatus.succeeded:
                        file_counts[pid] = len(await render_service.files(session, render))
                        ready.append(pid)
                    elif status not in (RenderStatus.queued, RenderStatus.running):
                        raise DemoFailed(
                            step.name,
                            f"the render of product {pid} ended {status.value}",
                            "Open the product's render page for the error, or run "
                            "`flashfusion jobs list`.",
                        )
            if ready:
                async with unit_of_work() as session:
                    owner = await as_owner(session)
                    assert owner is not None
                    result = await publishing_service.publish(
                        session, AuthSubject(owner), product_ids=ready, connection_ids=channel_ids
                    )
                refused = [i for i in result.items if i.outcome == "refused"]
                if refused:
                    raise DemoFailed(
                        step.name,
                        "; ".join(str(i.message) for i in refused),
                        "Fix what the message names, then run the demo again.",
                    )
                queued += sum(1 for i in result.items if i.outcome == "queued")
                etas.append(result.eta_seconds)
                queued_for.update(ready)
            if queued_for:
                await board()
            done = sum(1 for pid in pids if pid in queued_for)
            return done, len(pids), done == len(pids)

        if not await _wait(renders, console=console, label="rendering", timeout=timeout):
            raise DemoFailed(
                step.name,
                f"the renders did not finish within {timeout:g} s",
                "Run again with a larger --timeout, or check `flashfusion jobs list`.",
            )
        counts = [file_counts[pid] for pid in pids]
        step.detail = (
            f"{sum(counts)} files ({', '.join(str(c) for c in counts)} per product); "
            f"{queued} listings queued, ETA {max(etas, default=0.0):.1f} s from the quotas"
        )
        step.data = {"files": counts, "queued": queued, "eta_seconds": max(etas, default=0.0)}
        step.look = reporter.url(f"/orgs/{org_id}/publishing")

    render_fix = (
        "A render failed: open the product's render page or `flashfusion jobs list` for the "
        "error. A refused publish says what to fix (listing copy, price, renders)."
    )
    with reporter.step("First product rendered and queued for publishing", render_fix) as step:
        await render_and_queue(product_ids[:1], step)

    others = kinds[1:]
    with reporter.step(
        "Other products created",
        "Choose another --idea (1-200 characters) or --preset (see `flashfusion studio presets`).",
    ) as step:
        # Queued behind the first product's render, they render while it publishes.
        await make_products(others)
        step.detail = (made(others) + ", renders queued") if others else "none"
        step.look = reporter.url(f"/orgs/{org_id}/products")

    platform_of = {v: k for k, v in connections.items()}
    with reporter.step(
        "First product published",
        "Open the publishing board: each failed channel says what to do; retry it there.",
    ) as step:
        first_cells: list[Any] = []

        async def first_live() -> tuple[int, int, bool]:
            nonlocal first_cells
            await board()
            first_cells = [c for c in cells if c.product_id == product_ids[0]]
            settled = [c for c in first_cells if c.state in TERMINAL_STATES]
            live = any(c.state == "published" for c in first_cells)
            return len(settled), len(channel_ids), live or len(settled) >= len(channel_ids)

        if not await _wait(first_live, console=console, label="publishing", timeout=timeout):
            raise DemoFailed(
                step.name,
                f"the first product was not live on any channel within {timeout:g} s",
                "Run again with a larger --timeout; `flashfusion jobs list` shows the runs.",
            )
        live = sorted(
            platform_of.get(c.connection_id, c.platform)
            for c in first_cells
            if c.state == "published"
        )
        if not live:
            raise DemoFailed(
                step.name,
                "; ".join(
                    f"{platform_of.get(c.connection_id, c.platform)}: {c.error_message or c.state}"
                    for c in first_cells
                ),
                "; ".join(sorted({str(c.error_action) for c in first_cells if c.error_action}))
                or "Open the publishing board and retry the failed channel.",
            )
        step.detail = f"{tour.products[0]['product_type']} live on {', '.join(live)}"
        step.look = reporter.url(f"/orgs/{org_id}/publishing")

    rest = product_ids[1:]
    with reporter.step(
        "Listing copy written for the other products (offline AI)", copy_fix
    ) as step:
        titles = await write_copy(rest)
        step.detail = "Etsy copy: " + ("; ".join(f"“{t[:60]}”" for t in titles) or "none")

    with reporter.step("Safeguard screening of the other products", screen_fix) as step:
        await screen(rest, step)

    with reporter.step("Other products rendered and queued for publishing", render_fix) as step:
        await render_and_queue(rest, step)

    with reporter.step(
        "Published on every channel",
        "Open the publishing board: each failed channel says what to do; retry it there.",
    ) as step:
        if not await _wait(board, console=console, label="publishing", timeout=timeout):
            raise DemoFailed(
                "Published on every channel",
                f"not every channel settled within {timeout:g} s",
                "Run again with a larger --timeout; `flashfusion jobs list` shows the runs.",
            )
        for cell in sorted(cells, key=lambda c: (str(c.product_id), c.platform)):
            tour.listings.append(
                {
                    "product_id": str(cell.product_id),
                    "platform": platform_of.get(cell.connection_id, cell.platform),
                    "state": cell.state,
                    "remote_url": cell.remote_url,
                    "error": cell.error_message,
                    "action": cell.error_action,
                }
            )
        by_state: dict[str, int] = {}
        for entry in tour.listings:
            key = f"{entry['platform']} {entry['state']}"
            by_state[key] = by_state.get(key, 0) + 1
        step.detail = ", ".join(f"{n} {k}" for k, n in sorted(by_state.items()))
        step.look = reporter.url(f"/orgs/{org_id}/publishing")
        bad = [e for e in tour.listings if e["state"] != "published"]
        if bad:
            raise DemoFailed(
                "Published on every channel",
                "; ".join(f"{e['platform']}: {e['error'] or e['state']}" for e in bad),
                "; ".join(sorted({str(e["action"]) for e in bad if e["action"]}))
                or "Open the publishing board and retry the failed channel.",
            )

    with reporter.step(
        "Sandbox order received and imported",
        "The order arrives by the Etsy twin's webhook: check `flashfusion jobs list` for the "
        "`webhooks.process_event` run.",
    ) as step:
        async with unit_of_work(read_only=True) as session:
            owner = await as_owner(session)
            assert owner is not None
            etsy_row = await connection_service.get(
                session, AuthSubject(owner), connections["etsy"]
            )
            # The buyer orders the first product (the first product type) on Etsy.
            first = next(
                c
                for c in cells
                if c.connection_id == connections["etsy"] and c.product_id == product_ids[0]
            )
            ordered = await product_service.get(session, AuthSubject(owner), first.product_id)
            variants = await product_service.variants(session, ordered)
            listing = await publishing_service.get_listing(
                session, AuthSubject(owner), first.listing_id
            )
            remote_id, shop_id = listing.remote_id, etsy_row.account_id
        sku = sorted(v.sku for v in variants)[0]
        twin: Any = getattr(runtime.app_for("etsy"), "state").sandbox  # noqa: B009
        assert remote_id is not None
        assert shop_id is not None
        receipt = twin.create_receipt(int(shop_id), int(remote_id), sku, ORDER_QUANTITY)
        await twin.flush_webhooks()
        found: list[Any] = []

        async def orders() -> tuple[int, int, bool]:
            nonlocal found
            async with unit_of_work(read_only=True) as session:
                owner = await as_owner(session)
                assert owner is not None
                rows, _ = await order_service.list(
                    session,
                    AuthSubject(owner),
                    organization_id=org_id,
                    pagination=PaginationParams(1, 10),
                )
                found = [await order_service.get(session, AuthSubject(owner), r.id) for r in rows]
            return len(found), 1, len(found) >= 1

        if not await _wait(orders, console=console, label="waiting for the order", timeout=timeout):
            raise DemoFailed(
                "Sandbox order received and imported",
                f"the order did not arrive within {timeout:g} s",
                "Check `flashfusion jobs list` for a failed `webhooks.process_event` run.",
            )
        for detail in found:
            tour.orders.append(
                {
                    "id": str(detail.order.id),
                    "platform": detail.order.platform,
                    "remote_id": detail.order.remote_id,
                    "status": str(getattr(detail.order.status, "value", detail.order.status)),
                    "total": detail.order.total,
                    "currency": detail.order.currency,
                    "line_items": [
                        {
                            "sku": line.sku,
                            "quantity": line.quantity,
                            "product_id": str(line.product_id) if line.product_id else None,
                        }
                        for line in detail.line_items
                    ],
                }
            )
        order = tour.orders[0]
        step.detail = (
            f"Etsy receipt {receipt['receipt_id']}: {ORDER_QUANTITY} × {sku} → order "
            f"{order['status']}, {len(order['line_items'])} line item(s)"
        )
        step.look = reporter.url(f"/orgs/{org_id}/orders/{order['id']}")


def demo(
    idea: Annotated[str, typer.Option(help="The idea to turn into products.")] = DEFAULT_IDEA,
    preset: Annotated[
        str, typer.Option(help="Style preset (see `flashfusion studio presets`).")
    ] = DEFAULT_PRESET,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the step timings as JSON on stdout.")
    ] = False,
    timeout: Annotated[
        float, typer.Option(min=1, max=3600, help="Seconds to wait for each background step.")
    ] = 120.0,
) -> None:
    """Headless tour: a workspace, one idea into products, screened and published to the
    sandbox Printify (with its Etsy handshake) and Etsy, and a sandbox order received."""
    from flashfusion.cli import _check_settings
    from flashfusion.config import get_settings
    from flashfusion.db import dispose_engines
    from flashfusion.logging import configure

    idea = idea.strip()
    console = Console(stderr=json_output)
    err = Console(stderr=True)
    if not idea or len(idea) > 200:
        err.print(
            '[bold red]Error:[/] --idea must be 1-200 characters, e.g. --idea "retro sunset cat".'
        )
        raise typer.Exit(2)
    _check_settings()
    settings = get_settings()
    # The tour's own lines are the output; library logs only when something is wrong (unless
    # FLASHFUSION_LOG_LEVEL asks for more).
    configure(
        settings
        if "LOG_LEVEL" in settings.model_fields_set
        else settings.model_copy(update={"LOG_LEVEL": "WARNING"})
    )
    tour = Tour(idea=idea)
    reporter = _Reporter(tour, console, settings.BASE_URL)
    console.print(
        f"[bold]FlashFusion demo[/]: “{idea}” · data in "
        f"{settings.home if settings.is_sqlite else 'PostgreSQL'} · sandbox platforms",
        highlight=False,
    )
    try:
        with reporter.step(
            "Database ready", "Check FLASHFUSION_DATABASE_URL and that the home is writable."
        ) as step:
            step.detail = _migrate(console)

        async def main() -> None:
            from flashfusion.jobs import engine
            from flashfusion.sandbox import runtime

            try:
                await _tour(
                    tour,
                    reporter,
                    idea=idea,
                    preset=preset,
                    products=DEFAULT_PRODUCTS,
                    timeout=timeout,
                )
            finally:
                runtime.set_webhook_target(None)
                # DBOS's queue threads may still try to start a queued job (a safeguard
                # screen, a render) while the executor stops: that noise is not the tour's.
                logging.getLogger("dbos").setLevel(logging.CRITICAL)
                warnings.filterwarnings("ignore", message="coroutine .* was never awaited")
                await asyncio.to_thread(engine.shutdown)
                await dispose_engines()

        asyncio.run(main())
        tour.ok = True
    except DemoFailed as e:
        tour.failed_step, tour.error, tour.what_to_do = e.step, e.message, e.what_to_do
    if json_output:
        typer.echo(json.dumps(tour.as_json(), indent=2))
    if not tour.ok:
        err.print(
            f"[bold red]Demo failed at “{tour.failed_step}”:[/] {tour.error}\n"
            f"[bold]What to do:[/] {tour.what_to_do}",
            highlight=False,
        )
        raise typer.Exit(1)
    first = tour.first_published_seconds
    console.print(
        f"[bold green]Done in {tour.elapsed():.1f} s[/]; first product published "
        f"{first:.2f} s after start."
        if first is not None
        else f"[bold green]Done in {tour.elapsed():.1f} s.[/]",
        highlight=False,
    )
    console.print(
        f"Sign in at {settings.BASE_URL}/login as {tour.email} with the password above "
        "(run `flashfusion serve` on this FLASHFUSION_HOME first).",
        highlight=False,
    )

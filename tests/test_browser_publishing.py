"""The status board and the publish dialog in a real browser against a real server: a creator
opens Publishing from the workspace menu, reads a failed cell's translated error and what to do,
clicks Retry (HTMX swaps the cell, now queued and polling), and when the workflow finishes the
cell turns Published by itself and stops polling; the publish dialog shows the ETA in words as
soon as a channel is ticked. No console errors, no CSP violations, no 5xx on the way.

The server is the app as `flashfusion serve` builds it, started in its own process; the
publishing pages are included in it if `web/__init__.py` does not list them yet."""

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.fixtures.objects import DEFAULT_PASSWORD
from tests.fixtures.processes import (
    Process,
    free_port,
    isolated_database,
    process_env,
    run_cli,
    wait_until_ready,
)
from tests.test_browser import CSP_LISTENER, TIMEOUT_MS, Server, Watch, _submit, _watch, browser

__all__ = ["browser"]  # the fixture, imported so that the test here can use it
pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
FAILED_MESSAGE = "Etsy refused the listing: the shipping profile 123 does not exist."
FAILED_ACTION = "Choose a shipping profile in Etsy's shop settings, then retry."

SERVER = """
import sys

import uvicorn
from fastapi import Depends

import flashfusion.publishing.tasks  # noqa: F401 - registers the publishing jobs
from flashfusion.app import create_app
from flashfusion.web import views_publishing
from flashfusion.web.security import verify_csrf

app = create_app(run_jobs=False)
if "/orgs/{org_id}/publishing" not in {getattr(r, "path", None) for r in app.routes}:
    app.include_router(views_publishing.router, dependencies=[Depends(verify_csrf)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="info")
"""

SEED = """
import asyncio
import sys
import uuid

from flashfusion.db import unit_of_work
from flashfusion.models import (
    ChannelListing, ConnectionStatus, IntentAction, IntentState, ListingState, Organization,
    PlatformConnection, PublishIntent, utc_now,
)
from tests.fixtures.studio import create_design, create_product


async def main(org_id: str, message: str, action: str) -> None:
    async with unit_of_work() as session:
        organization = await session.get(Organization, uuid.UUID(org_id))
        design, version = await create_design(session, organization, name="Sunrise")
        product = await create_product(session, design, version, title="Sunrise tee")
        etsy = PlatformConnection(
            organization_id=organization.id, platform="etsy", name="Sunrise Etsy",
            status=ConnectionStatus.active, sandbox=True, account_id="5001", account={},
        )
        session.add(etsy)
        await session.flush()
        listing_id = uuid.uuid4()
        session.add(ChannelListing(
            id=listing_id, organization_id=organization.id, product_id=product.id,
            connection_id=etsy.id, platform="etsy", external_id=f"ff-{listing_id.hex}",
            state=ListingState.failed, desired_version=1, error_code="etsy.shipping_profile",
            error_message=message, error_action=action, error_kind="terminal",
        ))
        await session.flush()
        session.add(PublishIntent(
            organization_id=organization.id, listing_id=listing_id, action=IntentAction.publish,
            version=1, payload_hash="0" * 64, state=IntentState.failed, attempts=3,
            error_code="etsy.shipping_profile", error_message=message, error_action=action,
            started_at=utc_now(), finished_at=utc_now(),
        ))
    print(product.id, etsy.id, listing_id)


asyncio.run(main(*sys.argv[1:4]))
"""

# What the publish workflow leaves behind once the platform confirmed (the job engine is not
# running in this server: the test plays its part).
FINISH = """
import asyncio
import sys
import uuid

from sqlalchemy import update

from flashfusion.db import unit_of_work
from flashfusion.models import (
    ChannelListing, IntentState, ListingState, PublishIntent, utc_now,
)


async def main(listing_id: str) -> None:
    async with unit_of_work() as session:
        await session.execute(
            update(ChannelListing).where(ChannelListing.id == uuid.UUID(listing_id)).values(
                state=ListingState.published, remote_id="1001", published_version=1,
                remote_url="https://www.etsy.com/listing/1001",
            )
        )
        await session.execute(
            update(PublishIntent).where(PublishIntent.listing_id == uuid.UUID(listing_id)).values(
                state=IntentState.succeeded, finished_at=utc_now(),
            )
        )


asyncio.run(main(sys.argv[1]))
"""


def run_python(code: str, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def publishing_server(tmp_path: Path) -> Iterator[tuple[Server, dict[str, str], str, str]]:
    home = tmp_path / "home"
    home.mkdir()
    with isolated_database(home) as database_url:
        env = process_env(home, database_url)
        assert run_cli(["db", "upgrade"], env).returncode == 0
        email = f"maker-{uuid.uuid4().hex[:8]}@example.com"
        made = run_cli(["admin", "create-user", email], env, input=DEFAULT_PASSWORD + "\n")
        assert made.returncode == 0, made.stdout + made.stderr
        org = run_cli(["admin", "create-org", "Retro Threads", "--owner", email], env)
        assert org.returncode == 0, org.stdout + org.stderr
        organization_id = org.stdout.strip().splitlines()[-1]
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = {**env, "FLASHFUSION_BASE_URL": base_url, "PYTHONPATH": str(ROOT)}
        process = Process(
            ["-c", SERVER, str(port)], env, home / "server.log", program=sys.executable
        ).start()
        try:
            wait_until_ready(base_url, process)
            yield Server(base_url, process), env, email, organization_id
        finally:
            process.stop()
            print(f"--- server log (tail) ---\n{process.log()[-6000:]}")  # noqa: T201


def test_retry_a_failed_cell_and_watch_it_settle(
    browser: Browser, publishing_server: tuple[Server, dict[str, str], str, str]
) -> None:
    server, env, email, organization_id = publishing_server
    product_id, connection_id, listing_id = run_python(
        SEED, env, organization_id, FAILED_MESSAGE, FAILED_ACTION
    ).split()
    base = server.base_url
    watch = Watch()
    context = browser.new_context(base_url=base, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    context.expose_function("__ffReportCsp", lambda text: watch.csp_violations.append(text))
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    _watch(page, watch)

    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", DEFAULT_PASSWORD)
    _submit(page, "button[type=submit]:has-text('Sign in')")
    page.goto(f"/orgs/{organization_id}/publishing")

    cell = page.locator(f"#cell-{listing_id}")
    assert cell.get_attribute("data-state") == "failed"
    assert cell.locator(".state-label").inner_text() == "Failed"
    assert cell.locator(".cell-error").inner_text() == FAILED_MESSAGE
    assert cell.locator(".cell-action").inner_text() == f"What to do: {FAILED_ACTION}"
    # The publishing stylesheet applies (the CSP allows it): the error is dark red.
    colour = cell.locator(".cell-error").evaluate("e => getComputedStyle(e).color")
    assert colour == "rgb(127, 29, 29)"

    url_before = page.url
    cell.locator("button:has-text('Retry')").click()
    page.locator(f"#cell-{listing_id}[data-state='queued']").wait_for()
    # HTMX swapped the cell in place, now polling; the page did not change.
    assert page.url == url_before
    queued = page.locator(f"#cell-{listing_id}")
    assert queued.get_attribute("hx-trigger") == "every 2s"
    assert "Retry queued: FlashFusion looks the item up on Etsy first" in queued.inner_text()
    assert queued.locator("button:has-text('Retry')").count() == 0

    # The workflow finishes: within a poll the cell says Published, links to Etsy, and stops.
    run_python(FINISH, env, listing_id)
    page.locator(f"#cell-{listing_id}[data-state='published']").wait_for(timeout=10_000)
    published = page.locator(f"#cell-{listing_id}")
    assert published.locator(".state-label").inner_text() == "Published"
    assert published.get_attribute("hx-trigger") is None
    assert published.locator("a.live-link").get_attribute("href") == (
        "https://www.etsy.com/listing/1001"
    )
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/publishing/cells/" in r.url else None)
    time.sleep(4.5)
    assert polls == []

    # The publish dialog: ticking a channel shows the ETA in words.
    page.goto(f"/orgs/{organization_id}/publishing/new?product_id={product_id}")
    # The fragment loads with the page: the product is ticked, no channel yet.
    page.locator("#eta-text:has-text('Tick at least one channel')").wait_for()
    page.check(f"input[name=connection_id][value='{connection_id}']")
    page.locator("#eta-text:has-text('Etsy allows')").wait_for()
    assert page.inner_text("#eta-text") == "ETA under a minute: Etsy allows 10 requests per second"

    deadline = time.monotonic() + 1
    while time.monotonic() < deadline and not watch.problems:
        time.sleep(0.1)
    assert watch.csp_violations == []
    assert watch.problems == []

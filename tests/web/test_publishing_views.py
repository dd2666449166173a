"""Publishing pages: the ETA in words, the publish dialog (channels with the reason they can't
be ticked, the live ETA fragment, publishing through the form with per-item outcomes), the
status board (states, translated errors with what to do, drift, retry only where retryable,
filters, empty states), the polling cell that stops once settled, the product panel and a
listing with its history, update and unpublish; what a viewer and an editor may do; another
workspace gets the same 404."""

import html
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.connector import registry
from flashfusion.connector.platforms.etsy.connector import EtsyConnector
from flashfusion.connector.platforms.printify.connector import PrintifyConnector
from flashfusion.models import (
    ChannelListing,
    ConnectionStatus,
    IntentAction,
    IntentState,
    ListingState,
    PlatformConnection,
    Product,
    PublishIntent,
    Role,
    SafeguardReport,
)
from flashfusion.publishing.service import ConnectionEstimate, PublishResult
from flashfusion.web import views_publishing
from flashfusion.web.security import verify_csrf
from flashfusion.web.views_publishing import (
    duration_words,
    eta_of,
    limit_words,
    period_words,
)
from tests.fixtures.objects import Tenant
from tests.fixtures.web import csrf
from tests.publishing.fakes import World, create_connection, publishable, world
from tests.safeguard.pipeline_fakes import FakeChecks, FakeMark, fake_checks
from tests.web.test_org_views import follow, post, sign_in

__all__ = ["fake_checks", "world"]  # the fixtures, imported so that the tests here can use them

BOARD_PATH = "/orgs/{org_id}/publishing"


@pytest.fixture
async def app(session: AsyncSession) -> FastAPI:
    """The app with the publishing pages (included here until web/__init__.py lists them)."""
    from flashfusion.app import create_app

    application = create_app(run_jobs=False)
    paths = {getattr(route, "path", None) for route in application.routes}
    if BOARD_PATH not in paths:
        application.include_router(views_publishing.router, dependencies=[Depends(verify_csrf)])
    return application


# --- rows -------------------------------------------------------------------------------------

T0 = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


async def make_listing(
    session: AsyncSession,
    product: Product,
    connection: PlatformConnection,
    state: ListingState,
    *,
    intents: Sequence[tuple[IntentAction, int, IntentState]] = (),
    **values: Any,
) -> ChannelListing:
    """A listing as the workflow leaves it, with its intents (oldest first)."""
    listing_id = uuid.uuid4()
    listing = ChannelListing(
        id=listing_id,
        organization_id=product.organization_id,
        product_id=product.id,
        connection_id=connection.id,
        platform=connection.platform,
        external_id=f"ff-{listing_id.hex}",
        state=state,
        desired_version=max((v for _, v, _ in intents), default=0),
        **values,
    )
    session.add(listing)
    await session.flush()
    for number, (action, version, intent_state) in enumerate(intents):
        failed = intent_state in (IntentState.failed, IntentState.needs_action)
        session.add(
            PublishIntent(
                organization_id=product.organization_id,
                listing_id=listing.id,
                action=action,
                version=version,
                payload_hash=f"{version:064d}",
                state=intent_state,
                attempts=3 if failed else 1,
                error_code=values.get("error_code") if failed else None,
                error_message=values.get("error_message") if failed else None,
                error_action=values.get("error_action") if failed else None,
                created_at=T0 + timedelta(minutes=number),
                started_at=T0 + timedelta(minutes=number, seconds=5),
                finished_at=None
                if intent_state in (IntentState.queued, IntentState.running)
                else T0 + timedelta(minutes=number, seconds=9),
            )
        )
    await session.flush()
    return listing


async def count(session: AsyncSession, model: type, *where: Any) -> int:
    result = await session.execute(select(func.count()).select_from(model).where(*where))
    return int(result.scalar_one())


def cell_of(page: str, listing: ChannelListing) -> str:
    match = re.search(rf'<div class="pub-cell[^"]*" id="cell-{listing.id}".*?\n</div>', page, re.S)
    assert match, f"no cell for listing {listing.id}"
    return match.group(0)


def text_of(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


FAILED_MESSAGE = "Etsy refused the listing: the shipping profile 123 does not exist."
SAFEGUARD_REFUSAL = (
    "Publishing refused: the safeguard report is BLOCK (trademark.exact 'Zorblax' in title; "
    "trademark.exact 'Zorblax' in layer:title; trademark.exact 'Zorblax' in etsy:en:title). "
    "Change the text and screen it again, or an owner or admin can override the report with a "
    "reason."
)
FAILED_ACTION = "Choose a shipping profile in Etsy's shop settings, then retry."


# --- the ETA in words -----------------------------------------------------------------------


def test_durations_and_limits_read_as_sentences() -> None:
    assert [duration_words(s) for s in (0, 59.9, 60, 89, 240, 1836.02, 5399, 5400, 9000)] == [
        "under a minute",
        "under a minute",
        "about 1 minute",
        "about 1 minute",
        "about 4 minutes",
        "about 31 minutes",
        "about 90 minutes",
        "about 1.5 hours",
        "about 2.5 hours",
    ]
    assert duration_words(3 * 86400) == "about 3 days"
    assert [period_words(s) for s in (1, 60, 1800, 3600, 86400, 1.5)] == [
        "second",
        "minute",
        "30 minutes",
        "hour",
        "day",
        "1.5 seconds",
    ]
    # The platforms' documented limits, as the real connectors declare them.
    printify, etsy = PrintifyConnector(), EtsyConnector()
    by_name = {limit.name: limit for limit in printify.rate_limits}
    assert (
        limit_words(printify, by_name["publish"]) == "Printify allows 200 publishes per 30 minutes"
    )
    assert limit_words(printify, by_name["requests"]) == "Printify allows 600 requests per minute"
    per_day = next(limit for limit in etsy.rate_limits if limit.name == "per_day")
    assert limit_words(etsy, per_day) == "Etsy allows 10,000 requests per day"


def test_the_eta_names_the_limit_that_sets_the_pace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        registry,
        "all_connectors",
        lambda: {"printify": PrintifyConnector(), "etsy": EtsyConnector()},
    )
    shop = uuid.uuid4()
    connection = PlatformConnection(id=shop, platform="printify", name="Retro shop", sandbox=False)
    # 300 Printify publishes: 200 go now, the other 100 one 30-minute window later.
    many = PublishResult(
        items=[],
        estimates=[ConnectionEstimate(shop, "printify", {"default": 900, "publish": 300}, 1836.02)],
    )
    eta = eta_of(many, {shop: connection})
    assert eta is not None
    assert eta.words == "about 31 minutes: Printify allows 200 publishes per 30 minutes"
    assert eta.seconds == 1836.02
    # A few publishes wait for nothing: the busiest limit is named.
    few = PublishResult(
        items=[],
        estimates=[ConnectionEstimate(shop, "printify", {"default": 3, "publish": 1}, 0.0)],
    )
    assert eta_of(few, {shop: connection}).words == (  # type: ignore[union-attr]
        "under a minute: Printify allows 600 requests per minute"
    )
    assert eta_of(PublishResult(items=[], estimates=[]), {}) is None


# --- the publish dialog -------------------------------------------------------------------------


async def test_dialog_offers_usable_channels_and_says_why_others_are_not(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    world: World,
    fake_checks: FakeChecks,
) -> None:
    org = tenant.organization.id
    product = await publishable(session, tenant.organization, title="Sunrise tee")
    etsy = await create_connection(session, org, "etsy", name="Sunrise Etsy")
    printify = await create_connection(session, org, "printify", linked=etsy, name="Sunrise POD")
    dead = await create_connection(
        session, org, "etsy", status=ConnectionStatus.needs_reconnect, name="Old Etsy"
    )
    broken = await create_connection(
        session, org, "printify", status=ConnectionStatus.error, name="Flaky POD"
    )
    broken.problem_message = "Printify answered 500 five times"
    broken.problem_action = "wait a few minutes, then reconnect if it keeps failing"
    unknown = await create_connection(session, org, "printful", name="Printful store")
    gone = await create_connection(
        session, org, "etsy", status=ConnectionStatus.disconnected, name="Closed Etsy"
    )
    await session.flush()
    await sign_in(client, session, tenant.users[Role.editor])

    page = await client.get(f"/orgs/{org}/publishing/new", params={"product_id": str(product.id)})
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert f'<input type="checkbox" name="product_id" value="{product.id}" checked>' in text

    def choice(connection: PlatformConnection) -> str:
        found = re.search(
            rf'<div class="channel-choice" data-connection="{connection.id}">(.*?)</div>',
            text,
            re.S,
        )
        assert found, connection.name
        return found.group(1)

    for usable in (etsy, printify):
        assert f'<input type="checkbox" name="connection_id" value="{usable.id}">' in choice(usable)
    assert "Also lists on Etsy (Sunrise Etsy) through Printify's publish." in choice(printify)
    reasons = {
        dead.id: "Reconnect Etsy on the Connections page: its authorization no longer works.",
        broken.id: "Not working (Printify answered 500 five times): wait a few minutes, then "
        "reconnect if it keeps failing",
        unknown.id: "The printful connector is not installed on this server.",
    }
    for connection_id, reason in reasons.items():
        row = choice(await session.get(PlatformConnection, connection_id))  # type: ignore[arg-type]
        assert f'value="{connection_id}" disabled aria-describedby="reason-{connection_id}">' in row
        assert (
            f'<small class="error channel-reason" id="reason-{connection_id}">{reason} '
            f'<a href="/orgs/{org}/connections">Connections</a></small>' in row
        )
    assert str(gone.id) not in text
    # Usable channels come first.
    order = re.findall(r'class="channel-choice" data-connection="([0-9a-f-]+)"', text)
    assert {uuid.UUID(i) for i in order[:2]} == {etsy.id, printify.id}
    # The ETA follows the form, without sending the CSRF token in the URL.
    assert (
        f'<div id="eta" hx-get="/orgs/{org}/publishing/estimate" hx-trigger="load, change '
        'from:#publish-form" hx-include="#publish-form" hx-params="not csrf_token"' in text
    )
    assert "Tick products and channels to see how long publishing takes." in text


async def test_dialog_without_products_lets_you_pick_them(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    world: World,
) -> None:
    org = tenant.organization.id
    first = await publishable(session, tenant.organization, title="Alpha tee")
    second = await publishable(session, tenant.organization, title="Beta tee")
    await sign_in(client, session, tenant.users[Role.editor])
    page = await client.get(f"/orgs/{org}/publishing/new")
    for product in (first, second):
        assert f'<input type="checkbox" name="product_id" value="{product.id}"> ' in page.text
    assert 'id="no-channels"' in page.text
    assert f'<a href="/orgs/{org}/connections">Connect a platform</a>' in page.text
    assert '<button type="submit" id="publish-submit" disabled>' in page.text
    searched = await client.get(f"/orgs/{org}/publishing/new", params={"q": "Beta"})
    assert str(second.id) in searched.text
    assert str(first.id) not in searched.text
    bad = await client.get(f"/orgs/{org}/publishing/new", params={"product_id": "nope"})
    assert bad.status_code == 400
    assert "product_id: &#39;nope&#39; is not a product id." in bad.text


async def test_the_eta_fragment_in_words(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    world: World,
    fake_checks: FakeChecks,
) -> None:
    org = tenant.organization.id
    products = [await publishable(session, tenant.organization, title=f"Tee {n}") for n in range(3)]
    etsy = await create_connection(session, org, "etsy", name="Sunrise Etsy")
    printify = await create_connection(session, org, "printify", linked=etsy, name="Sunrise POD")
    dead = await create_connection(session, org, "etsy", status=ConnectionStatus.needs_reconnect)
    await sign_in(client, session, tenant.users[Role.editor])
    url = f"/orgs/{org}/publishing/estimate"
    ids = [("product_id", str(p.id)) for p in products]

    fragment = await client.get(url, params=[*ids, ("connection_id", str(printify.id))])
    assert fragment.status_code == 200
    text = html.unescape(fragment.text)
    # Each Printify publish also lists on the linked Etsy shop: 30 Etsy calls at 10/s are the
    # slowest part.
    assert '<p id="eta-text"><strong>ETA under a minute: Etsy allows 10 requests per second' in text
    assert re.findall(r"<li>(.*?)</li>", text) == [
        "Sunrise POD (Printify): under a minute: Printify allows 600 requests per minute",
        "Sunrise Etsy (Etsy): under a minute: Etsy allows 10 requests per second",
    ]
    # Nothing was written by an estimate.
    assert await count(session, ChannelListing) == 0

    hint = await client.get(url, params=ids)
    assert (
        '<p class="muted" id="eta-text">Tick at least one channel to see how long publishing '
        "takes.</p>" in hint.text
    )
    no_products = await client.get(url, params={"connection_id": str(etsy.id)})
    assert "Tick at least one product to see how long publishing takes." in no_products.text
    bad = await client.get(url, params=[*ids, ("connection_id", "nope")])
    assert (
        '<p class="error" id="eta-text">connection_id: &#39;nope&#39; is not a connection id.'
        in (bad.text)
    )
    inactive = await client.get(url, params=[*ids, ("connection_id", str(dead.id))])
    assert (
        "Reconnect Etsy (My etsy shop) first: the connection is needs reconnect."
        in html.unescape(inactive.text)
    )


async def test_publish_through_the_form_with_per_item_outcomes(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    world: World,
    fake_checks: FakeChecks,
) -> None:
    org = tenant.organization.id
    fake_checks.marks = [FakeMark("Zorblax")]
    good = await publishable(session, tenant.organization, title="Sunrise tee")
    other = await publishable(session, tenant.organization, title="Moonrise tee")
    risky = await publishable(session, tenant.organization, title="Zorblax tee")
    etsy = await create_connection(session, org, "etsy", name="Sunrise Etsy")
    await sign_in(client, session, tenant.users[Role.editor])
    form = [
        ("product_id", str(good.id)),
        ("product_id", str(risky.id)),
        ("product_id", str(other.id)),
        ("connection_id", str(etsy.id)),
    ]

    # Without the CSRF token nothing happens.
    forged = await client.post(f"/orgs/{org}/publishing/publish", data=dict(form[:1] + form[3:]))
    assert forged.status_code == 403
    assert await count(session, ChannelListing) == 0

    response = await post(client, f"/orgs/{org}/publishing/publish", form)
    assert response.status_code == 200, response.text[:500]
    text = html.unescape(response.text)
    rows = dict(
        re.findall(
            r'<tr data-product="([0-9a-f-]+)" data-connection="[0-9a-f-]+" '
            r'data-outcome="(\w+)">',
            text,
        )
    )
    assert rows == {str(good.id): "queued", str(risky.id): "refused", str(other.id): "queued"}
    assert (
        '<span class="outcome-count" data-outcome="queued">2 queued</span> · '
        '<span class="outcome-count" data-outcome="refused">1 refused</span>' in text
    )
    # The refused item says why, and links to its safeguard report; the others went ahead.
    report = (
        await session.execute(select(SafeguardReport).where(SafeguardReport.product_id == risky.id))
    ).scalar_one()
    refused_row = text.split(f'<tr data-product="{risky.id}"', 1)[1].split("</tr>", 1)[0]
    message = re.search(r'<p class="small error outcome-message">(.*?)</p>', refused_row, re.S)
    assert message
    assert message.group(1) == SAFEGUARD_REFUSAL
    assert (
        f'<a href="/orgs/{org}/safeguards/reports/{report.id}" class="report-link small">'
        "Open the safeguard report</a>" in refused_row
    )
    assert 'id="refused-note"' in text
    assert '<p id="result-eta">ETA <strong>under a minute: Etsy allows 10 requests per second' in (
        text
    )
    listings = (await session.execute(select(ChannelListing))).scalars().all()
    assert {listing.product_id for listing in listings} == {good.id, other.id}
    assert await count(session, PublishIntent) == 2
    # Each queued item's state is shown, polling until it settles.
    for listing in listings:
        cell = cell_of(text, listing)
        assert 'data-state="queued"' in cell
        assert f'hx-get="/orgs/{org}/publishing/cells/{listing.id}" hx-trigger="every 2s"' in cell

    # Sending the form again publishes nothing twice.
    again = await post(client, f"/orgs/{org}/publishing/publish", form)
    outcomes = re.findall(r'data-outcome="(\w+)">\s*<td>', again.text)
    assert sorted(outcomes) == ["already_queued", "already_queued", "refused"]
    assert await count(session, PublishIntent) == 2

    # Nothing ticked: back to the dialog with what to do.
    empty = await post(client, f"/orgs/{org}/publishing/publish", [("product_id", str(good.id))])
    assert empty.headers["location"] == f"/orgs/{org}/publishing/new?product_id={good.id}"
    assert "connection_id: tick at least one channel to publish to." in await follow(client, empty)


async def test_viewer_cannot_open_the_dialog_or_publish(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    world: World,
    fake_checks: FakeChecks,
) -> None:
    org = tenant.organization.id
    product = await publishable(session, tenant.organization)
    etsy = await create_connection(session, org, "etsy")
    await sign_in(client, session, tenant.users[Role.viewer])
    dialog = await client.get(f"/orgs/{org}/publishing/new")
    assert dialog.status_code == 403
    assert "Your role does not allow &#39;publishing:manage&#39;" in dialog.text
    response = await client.post(
        f"/orgs/{org}/publishing/publish",
        data={
            "csrf_token": await csrf(client),
            "product_id": str(product.id),
            "connection_id": str(etsy.id),
        },
        headers={"Referer": f"http://testserver/orgs/{org}/publishing"},
    )
    assert response.headers["location"] == f"/orgs/{org}/publishing"
    assert "Your role does not allow 'publishing:manage'" in await follow(client, response)
    assert await count(session, ChannelListing) == 0


# --- the status board -----------------------------------------------------------------------------


async def board_rows(
    session: AsyncSession, tenant: Tenant
) -> tuple[dict[str, ChannelListing], PlatformConnection, PlatformConnection]:
    org = tenant.organization.id
    etsy = await create_connection(session, org, "etsy", name="Sunrise Etsy")
    printify = await create_connection(session, org, "printify", name="Sunrise POD")
    live = await publishable(session, tenant.organization, title="Alpha tee")
    broken = await publishable(session, tenant.organization, title="Beta tee")
    waiting = await publishable(session, tenant.organization, title="Gamma tee")
    listings = {
        "published": await make_listing(
            session,
            live,
            etsy,
            ListingState.published,
            intents=[(IntentAction.publish, 1, IntentState.succeeded)],
            remote_id="1001",
            remote_url="https://www.etsy.com/listing/1001",
            published_version=1,
            drift={"message": "The listing on Etsy differs from FlashFusion: 1 price(s) differ."},
        ),
        "unpublished": await make_listing(
            session,
            live,
            printify,
            ListingState.unpublished,
            intents=[
                (IntentAction.publish, 1, IntentState.succeeded),
                (IntentAction.unpublish, 1, IntentState.succeeded),
            ],
            remote_id="p-1",
            published_version=1,
        ),
        "failed": await make_listing(
            session,
            broken,
            etsy,
            ListingState.failed,
            intents=[(IntentAction.publish, 1, IntentState.failed)],
            error_code="etsy.shipping_profile_missing",
            error_message=FAILED_MESSAGE,
            error_action=FAILED_ACTION,
            error_kind="terminal",
        ),
        "needs_action": await make_listing(
            session,
            broken,
            printify,
            ListingState.needs_action,
            intents=[(IntentAction.publish, 1, IntentState.needs_action)],
            error_code="auth.invalid_grant",
            error_message="Printify no longer accepts FlashFusion's token.",
            error_action="Reconnect Printify on the Connections page, then retry.",
            error_kind="auth",
        ),
        "queued": await make_listing(
            session,
            waiting,
            etsy,
            ListingState.queued,
            intents=[(IntentAction.publish, 1, IntentState.queued)],
        ),
        "publishing": await make_listing(
            session,
            waiting,
            printify,
            ListingState.publishing,
            intents=[(IntentAction.publish, 1, IntentState.running)],
        ),
    }
    return listings, etsy, printify


async def test_board_shows_each_cell_with_what_to_do_and_retry_where_it_helps(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    world: World,
) -> None:
    org = tenant.organization.id
    listings, etsy, printify = await board_rows(session, tenant)
    await sign_in(client, session, tenant.users[Role.editor])
    page = await client.get(f"/orgs/{org}/publishing")
    assert page.status_code == 200
    text = html.unescape(page.text)
    # Rows are products (by title), columns channels.
    assert re.findall(r'<tr data-product="[0-9a-f-]+">\s*<td><a [^>]*>([^<]+)</a>', text) == [
        "Alpha tee",
        "Beta tee",
        "Gamma tee",
    ]
    assert re.findall(r'<th data-connection="([0-9a-f-]+)">', text) == [
        str(etsy.id),
        str(printify.id),
    ]
    labels = {
        state: re.search(r'class="badge [\w-]+ state-label">([^<]+)</a>', cell_of(text, listing))
        for state, listing in listings.items()
    }
    assert {state: m.group(1) for state, m in labels.items() if m} == {
        "published": "Published",
        "unpublished": "Unpublished",
        "failed": "Failed",
        "needs_action": "Needs action",
        "queued": "Queued",
        "publishing": "Publishing…",
    }
    published = cell_of(text, listings["published"])
    assert (
        '<a href="https://www.etsy.com/listing/1001" class="live-link small" '
        'rel="noopener noreferrer" target="_blank">View on Etsy</a>' in published
    )
    assert "Drift: The listing on Etsy differs from FlashFusion: 1 price(s) differ." in published
    failed = cell_of(text, listings["failed"])
    assert f'<p class="cell-error small">{FAILED_MESSAGE}</p>' in failed
    assert (
        f'<p class="cell-action small"><strong>What to do:</strong> {FAILED_ACTION}</p>' in failed
    )
    assert "What to do: Reconnect Printify on the Connections page, then retry." in text_of(
        cell_of(text, listings["needs_action"])
    )
    # Retry only where it helps; polling only while in flight.
    for state, listing in listings.items():
        cell = cell_of(text, listing)
        retry = f'action="/orgs/{org}/publishing/listings/{listing.id}/retry"' in cell
        assert retry == (state in ("failed", "needs_action")), state
        polls = 'hx-trigger="every 2s"' in cell
        assert polls == (state in ("queued", "publishing")), state
    assert (
        f'hx-post="/orgs/{org}/publishing/listings/{listings["failed"].id}/retry" '
        'hx-target="closest .pub-cell" hx-swap="outerHTML"' in failed
    )
    assert '<span class="state-count" data-state="failed">1 failed</span>' in text
    assert f'<a role="button" href="/orgs/{org}/publishing/new" id="publish-link">' in text

    # Filters: by state, by channel.
    only_failed = await client.get(f"/orgs/{org}/publishing", params={"state": "failed"})
    assert re.findall(r'id="cell-([0-9a-f-]+)"', only_failed.text) == [str(listings["failed"].id)]
    on_printify = await client.get(
        f"/orgs/{org}/publishing", params={"connection_id": str(printify.id)}
    )
    assert set(re.findall(r'id="cell-([0-9a-f-]+)"', on_printify.text)) == {
        str(listings[s].id) for s in ("unpublished", "needs_action", "publishing")
    }
    assert re.findall(r'<th data-connection="([0-9a-f-]+)">', on_printify.text) == [
        str(printify.id)
    ]
    none = await client.get(
        f"/orgs/{org}/publishing", params={"state": "failed", "connection_id": str(printify.id)}
    )
    assert 'id="no-match"' in none.text
    bad = await client.get(f"/orgs/{org}/publishing", params={"state": "lost"})
    assert bad.status_code == 400
    assert (
        "state: choose one of queued, publishing, published, failed, needs_action, unpublishing, "
        "unpublished (or leave it empty for all)." in bad.text
    )
    unknown = await client.get(
        f"/orgs/{org}/publishing", params={"connection_id": str(uuid.uuid4())}
    )
    assert unknown.status_code == 404


async def test_viewer_sees_the_board_without_buttons(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, world: World
) -> None:
    org = tenant.organization.id
    listings, _, _ = await board_rows(session, tenant)
    await sign_in(client, session, tenant.users[Role.viewer])
    page = await client.get(f"/orgs/{org}/publishing")
    assert page.status_code == 200
    assert FAILED_ACTION in html.unescape(page.text)
    assert "/retry" not in page.text
    assert 'id="publish-link"' not in page.text
    detail = await client.get(f"/orgs/{org}/publishing/listings/{listings['published'].id}")
    assert detail.status_code == 200
    assert 'id="listing-actions"' not in detail.text
    # Nor can a viewer post: the app's pattern, back with the reason.
    failed = listings["failed"]
    response = await client.post(
        f"/orgs/{org}/publishing/listings/{failed.id}/retry",
        data={"csrf_token": await csrf(client)},
    )
    assert response.headers["location"] == f"/orgs/{org}/publishing/listings/{failed.id}"
    assert "Your role does not allow 'publishing:manage'" in await follow(client, response)
    await session.refresh(failed)
    assert failed.state == ListingState.failed
    assert await count(session, PublishIntent, PublishIntent.state == IntentState.queued) == 1


async def test_empty_board_explains_how_to_connect(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, world: World
) -> None:
    org = tenant.organization.id
    await sign_in(client, session, tenant.users[Role.editor])
    page = await client.get(f"/orgs/{org}/publishing")
    text = html.unescape(page.text)
    assert '<div class="empty" id="board-empty">' in text
    assert (
        f'To publish, <a href="/orgs/{org}/connections" id="connect-link">connect a platform</a> '
        "on the Connections page: Etsy, Printify, with your account or in sandbox mode" in text
    )
    await create_connection(session, org, "etsy")
    connected = html.unescape((await client.get(f"/orgs/{org}/publishing")).text)
    assert (
        f'Nothing published yet. <a href="/orgs/{org}/publishing/new">Choose products and '
        "channels</a> to publish" in connected
    )


async def test_a_polling_cell_stops_polling_once_settled(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, world: World
) -> None:
    org = tenant.organization.id
    listings, _, _ = await board_rows(session, tenant)
    listing = listings["queued"]
    await sign_in(client, session, tenant.users[Role.editor])
    url = f"/orgs/{org}/publishing/cells/{listing.id}"
    first = await client.get(url)
    assert first.status_code == 200
    assert first.text.strip().startswith(
        f'<div class="pub-cell state-queued" id="cell-{listing.id}" data-state="queued" '
        f'hx-get="{url}" hx-trigger="every 2s" hx-swap="outerHTML">'
    )
    # The workflow finishes: the next poll answers with a settled cell, which polls no more.
    listing.state = ListingState.published
    listing.remote_url = "https://www.etsy.com/listing/2002"
    await session.flush()
    settled = await client.get(url)
    assert settled.text.strip().startswith(
        f'<div class="pub-cell state-published" id="cell-{listing.id}" data-state="published">'
    )
    assert "hx-trigger" not in settled.text
    assert ">Published</a>" in settled.text
    assert 'href="https://www.etsy.com/listing/2002"' in settled.text


async def test_retry_requeues_only_what_failed(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, world: World
) -> None:
    org = tenant.organization.id
    listings, _, _ = await board_rows(session, tenant)
    failed, needs_action = listings["failed"], listings["needs_action"]
    await sign_in(client, session, tenant.users[Role.editor])

    # A plain form post: back to where it came from, with what happens next.
    response = await post(
        client,
        f"/orgs/{org}/publishing/listings/{failed.id}/retry",
        {"back": f"/orgs/{org}/publishing?state=failed"},
    )
    assert response.headers["location"] == f"/orgs/{org}/publishing?state=failed"
    assert (
        "Retry queued: FlashFusion looks the item up on Etsy first, so it is never made twice."
        in await follow(client, response)
    )
    await session.refresh(failed)
    assert (failed.state, failed.error_message, failed.error_action) == (
        ListingState.queued,
        None,
        None,
    )
    intent = (
        await session.execute(select(PublishIntent).where(PublishIntent.listing_id == failed.id))
    ).scalar_one()
    assert (intent.state, intent.error_code, intent.job_id is not None) == (
        IntentState.queued,
        None,
        True,
    )

    # Through HTMX: the refreshed cell comes back, polling.
    token = await csrf(client)
    htmx = await client.post(
        f"/orgs/{org}/publishing/listings/{needs_action.id}/retry",
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert htmx.status_code == 200
    assert htmx.text.strip().startswith(
        f'<div class="pub-cell state-queued" id="cell-{needs_action.id}" data-state="queued" '
        f'hx-get="/orgs/{org}/publishing/cells/{needs_action.id}" hx-trigger="every 2s"'
    )
    assert "Retry queued: FlashFusion looks the item up on Printify first" in htmx.text
    assert "/retry" not in htmx.text

    # A listing that did not fail has nothing to retry: the cell says so.
    published = listings["published"]
    nothing = await client.post(
        f"/orgs/{org}/publishing/listings/{published.id}/retry",
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert (
        '<p class="small error cell-notice" role="alert">Nothing to retry: the listing&#39;s last '
        "publish did not fail.</p>" in nothing.text
    )
    # Without the CSRF token, nothing.
    forged = await client.post(
        f"/orgs/{org}/publishing/listings/{published.id}/retry", headers={"HX-Request": "true"}
    )
    assert forged.status_code == 403


# --- the product panel and one listing --------------------------------------------------------------


async def test_product_panel_shows_channels_and_the_publish_button(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, world: World
) -> None:
    org = tenant.organization.id
    listings, _, _ = await board_rows(session, tenant)
    product_id = listings["failed"].product_id
    await sign_in(client, session, tenant.users[Role.editor])
    panel = await client.get(f"/orgs/{org}/products/{product_id}/publishing")
    assert panel.status_code == 200
    text = html.unescape(panel.text)
    assert text.strip().startswith('<div id="publishing-panel">')
    assert re.findall(r'<span class="pub-channel">([^<]+)</span>', text) == [
        "Etsy · Sunrise Etsy",
        "Printify · Sunrise POD",
    ]
    assert FAILED_ACTION in text
    assert (
        f'<a role="button" class="small" href="/orgs/{org}/publishing/new?product_id='
        f'{product_id}" id="publish-button">Publish…</a>' in text
    )
    assert f'<input type="hidden" name="back" value="/orgs/{org}/products/{product_id}">' in text

    fresh = await publishable(session, tenant.organization, title="Delta tee")
    empty = await client.get(f"/orgs/{org}/products/{fresh.id}/publishing")
    assert '<p class="muted" id="publishing-none">Not published on any channel yet.</p>' in (
        empty.text
    )
    await sign_in(client, session, tenant.users[Role.viewer])
    viewer = await client.get(f"/orgs/{org}/products/{product_id}/publishing")
    assert FAILED_ACTION in html.unescape(viewer.text)
    assert 'id="publish-button"' not in viewer.text
    assert "/retry" not in viewer.text


async def test_listing_detail_history_update_and_unpublish(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, world: World
) -> None:
    org = tenant.organization.id
    listings, _, printify = await board_rows(session, tenant)
    listing = listings["published"]
    await sign_in(client, session, tenant.users[Role.editor])
    url = f"/orgs/{org}/publishing/listings/{listing.id}"
    page = await client.get(url)
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert '<h1>Alpha tee <small class="muted">on Etsy · Sunrise Etsy</small></h1>' in text
    assert f"<dd><code>{listing.external_id}</code></dd>" in text
    assert '<dd id="remote-id"><code>1001</code></dd>' in text
    assert (
        '<dd id="remote-link"><a href="https://www.etsy.com/listing/1001" rel="noopener '
        'noreferrer" target="_blank">https://www.etsy.com/listing/1001</a></dd>' in text
    )
    assert '<dd id="published-version">1</dd>' in text
    assert "Drift: The listing on Etsy differs from FlashFusion: 1 price(s) differ." in text
    history = re.findall(r'<tr data-intent="[0-9a-f-]+" data-state="(\w+)">(.*?)</tr>', text, re.S)
    assert [(state, text_of(body)) for state, body in history] == [
        (
            "succeeded",
            "publish 1 Succeeded 1 — 2026-12-02 15:00:00 UTC 2026-12-02 15:00:05 UTC "
            "2026-12-02 15:00:09 UTC",
        )
    ]
    assert 'id="update-form"' in text
    assert 'id="unpublish-confirm"' in text

    updated = await post(client, f"{url}/update", {"back": url})
    assert "Update queued: Etsy gets the product as it is now (content, prices, images)." in (
        await follow(client, updated)
    )
    down = await post(client, f"{url}/unpublish", {"back": url})
    assert "Unpublish queued: the listing comes down from Etsy shortly." in await follow(
        client, down
    )
    actions = (
        (
            await session.execute(
                select(PublishIntent.action).where(
                    PublishIntent.listing_id == listing.id,
                    PublishIntent.state == IntentState.queued,
                )
            )
        )
        .scalars()
        .all()
    )
    assert sorted(actions) == [IntentAction.unpublish, IntentAction.update]

    # A failed listing's page shows the errors with what to do, and Retry; no Update.
    failed = listings["failed"]
    failed_page = html.unescape(
        (await client.get(f"/orgs/{org}/publishing/listings/{failed.id}")).text
    )
    row = re.search(
        r'<tr data-intent="[0-9a-f-]+" data-state="failed">(.*?)</tr>', failed_page, re.S
    )
    assert row
    assert text_of(row.group(1)).startswith(
        f"publish 1 Failed 3 etsy.shipping_profile_missing {FAILED_MESSAGE} What to do: "
        f"{FAILED_ACTION}"
    )
    assert f'action="/orgs/{org}/publishing/listings/{failed.id}/retry"' in failed_page
    assert 'id="update-form"' not in failed_page
    # An update of a listing that is not live names the fix.
    refused = await post(client, f"/orgs/{org}/publishing/listings/{failed.id}/update", {})
    assert (
        "The listing is not live on its channel yet: publish it (or retry it) instead."
        in await follow(client, refused)
    )
    del printify


async def test_another_workspace_gets_the_same_404(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    other_tenant: Tenant,
    world: World,
) -> None:
    listings, _, _ = await board_rows(session, tenant)
    failed = listings["failed"]
    await sign_in(client, session, other_tenant.owner)
    mine = other_tenant.organization.id
    for url in (
        f"/orgs/{tenant.organization.id}/publishing",
        f"/orgs/{mine}/publishing/listings/{failed.id}",
        f"/orgs/{mine}/publishing/listings/{uuid.uuid4()}",
        f"/orgs/{mine}/publishing/cells/{failed.id}",
        f"/orgs/{mine}/products/{failed.product_id}/publishing",
        f"/orgs/{mine}/publishing/new?product_id={failed.product_id}",
    ):
        response = await client.get(url)
        assert response.status_code == 404, url
        assert "Beta tee" not in response.text
        assert FAILED_MESSAGE not in html.unescape(response.text)
    board = await client.get(f"/orgs/{mine}/publishing")
    assert str(failed.id) not in board.text
    for action in ("retry", "update", "unpublish"):
        response = await post(client, f"/orgs/{mine}/publishing/listings/{failed.id}/{action}", {})
        assert "Listing not found." in await follow(client, response), action
    await session.refresh(failed)
    assert failed.state == ListingState.failed
    assert await count(session, PublishIntent, PublishIntent.listing_id == failed.id) == 1


def flashes_of(page: str) -> list[tuple[str, str]]:
    """(level, text) of each flash message on a page."""
    return [
        (level, html.unescape(text))
        for level, text in re.findall(
            r'<div class="flash flash-(\w+)"[^>]*>\s*<span>(.*?)</span>', page, re.S
        )
    ]


async def test_listing_actions_answer_refusals_where_they_were_asked(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, world: World
) -> None:
    org = tenant.organization.id
    listings, _, _ = await board_rows(session, tenant)
    failed, published = listings["failed"], listings["published"]
    unpublished = listings["unpublished"]
    base = f"/orgs/{org}/publishing/listings"
    board = f"/orgs/{org}/publishing"
    intents_before = await count(session, PublishIntent)
    denial = "Your role does not allow 'publishing:manage'; ask a workspace owner or admin."

    # A viewer may look, not act: the 403 as the cell's notice (HTMX) or as an error flash on
    # the page the form came from.
    await sign_in(client, session, tenant.users[Role.viewer])
    token = await csrf(client)
    htmx = await client.post(
        f"{base}/{failed.id}/retry", headers={"HX-Request": "true", "X-CSRF-Token": token}
    )
    assert htmx.status_code == 200
    assert htmx.text.strip().startswith(
        f'<div class="pub-cell state-failed" id="cell-{failed.id}" data-state="failed">'
    )
    notice = '<p class="small error cell-notice" role="alert">' + denial + "</p>"
    assert notice.replace("'", "&#39;") in htmx.text
    assert "cell-done" not in htmx.text
    for action, listing in (("retry", failed), ("update", published), ("unpublish", published)):
        response = await post(client, f"{base}/{listing.id}/{action}", {"back": board})
        assert response.headers["location"] == board, action
        assert flashes_of(await follow(client, response)) == [("error", denial)], action
    await session.refresh(failed)
    await session.refresh(published)
    assert (failed.state, published.state) == (ListingState.failed, ListingState.published)
    assert await count(session, PublishIntent) == intents_before

    # An editor's 409s name the fix; a `back` outside the workspace is not followed.
    await sign_in(client, session, tenant.users[Role.editor])
    nothing = await post(client, f"{base}/{published.id}/retry", {"back": "//evil.example/x"})
    assert nothing.headers["location"] == f"{base}/{published.id}"
    assert flashes_of(await follow(client, nothing)) == [
        ("error", "Nothing to retry: the listing's last publish did not fail.")
    ]
    never = await post(client, f"{base}/{failed.id}/unpublish", {"back": "https://evil.example"})
    assert never.headers["location"] == f"{base}/{failed.id}"
    assert flashes_of(await follow(client, never)) == [
        ("error", "The listing was never published: there is nothing to take down.")
    ]
    assert await count(session, PublishIntent) == intents_before

    # Outcomes that queue nothing new say so, as a success flash.
    down = await post(client, f"{base}/{unpublished.id}/unpublish", {"back": board})
    assert flashes_of(await follow(client, down)) == [
        ("success", "The listing is already down from Printify.")
    ]
    first = await post(client, f"{base}/{published.id}/update", {"back": board})
    assert flashes_of(await follow(client, first)) == [
        ("success", "Update queued: Etsy gets the product as it is now (content, prices, images).")
    ]
    again = await post(client, f"{base}/{published.id}/update", {"back": board})
    assert flashes_of(await follow(client, again)) == [
        ("success", "An update with these changes is already queued for Etsy.")
    ]
    unpublish = await post(client, f"{base}/{published.id}/unpublish", {"back": board})
    await follow(client, unpublish)
    twice = await post(client, f"{base}/{published.id}/unpublish", {"back": board})
    assert flashes_of(await follow(client, twice)) == [
        ("success", "Unpublishing from Etsy is already queued.")
    ]
    # Update and unpublish are forms of the listing page: HTMX or not, they answer with a
    # redirect, never a cell.
    token = await csrf(client)
    redirected = await client.post(
        f"{base}/{published.id}/unpublish", headers={"HX-Request": "true", "X-CSRF-Token": token}
    )
    assert redirected.status_code == 303
    assert redirected.headers["location"] == f"{base}/{published.id}"
    assert await count(session, PublishIntent) == intents_before + 2

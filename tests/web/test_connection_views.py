"""Connection pages: the list with mode, health, problem and quotas; connect with a token, the
sandbox, or OAuth (through consent and back to the page); reconnect; link; disconnect only when
confirmed; viewers see but cannot change; other workspaces get a 404; forms need their CSRF
token."""

import html
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.connector import registry
from flashfusion.connector import token as token_health
from flashfusion.connector.base import TokenSet
from flashfusion.connector.platforms.etsy.connector import SCOPES as ETSY_SCOPES
from flashfusion.connector.schemas import ETSY_WHO_MADE_HELP
from flashfusion.models import ConnectionStatus, PlatformConnection, Role
from flashfusion.sandbox import runtime
from flashfusion.web import views_connections
from flashfusion.web.security import verify_csrf
from tests.conftest import count_rows
from tests.connector import OAUTH_PLATFORM, TOKEN_PLATFORM, FakePlatform, fake_platform
from tests.fixtures.objects import Tenant
from tests.web.test_org_views import follow, post, sign_in

__all__ = ["fake_platform"]


@pytest.fixture
async def browser(app: Any, fake_platform: FakePlatform) -> AsyncIterator[httpx.AsyncClient]:
    from fastapi import APIRouter, Depends

    from flashfusion.connector.endpoints import router as connections_router

    web = APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)
    web.include_router(views_connections.router)
    app.include_router(web)
    app.include_router(connections_router, prefix="/api/v1")
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def base(tenant: Tenant) -> str:
    return f"/orgs/{tenant.organization.id}/connections"


async def test_connect_with_a_token_and_see_it_listed(
    browser: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, fake_platform: FakePlatform
) -> None:
    await sign_in(browser, session, tenant.users[Role.admin])
    page = await browser.get(base(tenant))
    assert page.status_code == 200
    assert 'id="no-connections"' in page.text
    assert 'name="cred_access_token"' in page.text
    assert "Connect with Fake OAuth" in page.text
    assert "Use the Fake Token sandbox" in page.text

    token, _ = fake_platform.issue()
    response = await post(
        browser,
        base(tenant),
        {"platform": TOKEN_PLATFORM, "cred_access_token": token, "name": "Main"},
    )
    detail = await follow(browser, response)
    assert "Connected My Shop." in detail
    assert f"…{token[-4:]}" in detail
    assert token not in detail
    listed = html.unescape((await browser.get(base(tenant))).text)
    assert 'data-connection="' in listed
    # The buckets outlive the test's transaction (their own store): at least this connect.
    assert re.search(r"per minute: [1-9]\d* / 600 per 1.0 min", listed)
    assert ">live<" in listed


async def test_a_rejected_token_comes_back_with_what_to_do(
    browser: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    await sign_in(browser, session, tenant.users[Role.admin])
    response = await post(
        browser, base(tenant), {"platform": TOKEN_PLATFORM, "cred_access_token": "at-wrong-000"}
    )
    page = await follow(browser, response)
    assert "Create a new token and reconnect." in page
    empty = await follow(browser, await post(browser, base(tenant), {"platform": TOKEN_PLATFORM}))
    assert "credentials.access_token: Access token is required" in empty
    assert await count_rows(session, "platform_connections") == 0


async def test_sandbox_and_oauth_connect_return_to_the_connection(
    browser: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, fake_platform: FakePlatform
) -> None:
    await sign_in(browser, session, tenant.users[Role.admin])
    sandbox = await follow(
        browser, await post(browser, base(tenant), {"platform": TOKEN_PLATFORM, "sandbox": "1"})
    )
    assert "FlashFusion's built-in copy of Fake Token" in sandbox

    start = await post(browser, base(tenant), {"platform": OAUTH_PLATFORM})
    assert start.status_code == 303
    consent = httpx.URL(start.headers["location"])
    assert consent.host == "fakeoauth.test"
    back = httpx.URL(fake_platform.handler(httpx.Request("GET", consent)).headers["location"])
    done = await browser.get(back.path, params=dict(back.params))
    assert done.status_code == 303
    assert done.headers["location"].startswith(base(tenant) + "/")
    page = html.unescape((await browser.get(done.headers["location"])).text)
    assert "Connected My Shop." in page
    assert "Reconnect with Fake OAuth" in page

    replay = await browser.get(back.path, params=dict(back.params))
    assert replay.status_code == 303
    assert replay.headers["location"] == base(tenant)


async def test_problem_reconnect_link_and_confirmed_disconnect(
    browser: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, fake_platform: FakePlatform
) -> None:
    await sign_in(browser, session, tenant.users[Role.admin])
    token, _ = fake_platform.issue()
    await post(browser, base(tenant), {"platform": TOKEN_PLATFORM, "cred_access_token": token})
    row = (await session.execute(select(PlatformConnection))).scalar_one()
    await token_health.set_problem(
        session,
        row,
        code="auth_failed",
        message="The token was revoked.",
        action="Create a new token and reconnect.",
        status=ConnectionStatus.needs_reconnect,
    )
    listed = html.unescape((await browser.get(base(tenant))).text)
    assert "The token was revoked." in listed
    assert f'href="{base(tenant)}/{row.id}#reconnect"' in listed

    url = f"{base(tenant)}/{row.id}"
    new, _ = fake_platform.issue()
    page = await follow(
        browser, await post(browser, f"{url}/reconnect", {"cred_access_token": new})
    )
    assert "Reconnected: the new token works." in page
    await session.refresh(row)
    assert row.status == ConnectionStatus.active
    assert row.problem_code is None
    assert row.credential_hint == new[-4:]

    refused = await follow(browser, await post(browser, f"{url}/disconnect", {}))
    assert "Tick the confirmation box to disconnect." in refused
    await session.refresh(row)
    assert row.encrypted_credentials is not None
    gone = await follow(browser, await post(browser, f"{url}/disconnect", {"confirm": "1"}))
    assert "its credentials are deleted" in gone
    await session.refresh(row)
    assert row.status == ConnectionStatus.disconnected
    assert row.encrypted_credentials is None


async def test_viewers_see_but_cannot_change_and_others_get_404(
    browser: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    other_tenant: Tenant,
    fake_platform: FakePlatform,
) -> None:
    await sign_in(browser, session, tenant.users[Role.admin])
    token, _ = fake_platform.issue()
    await post(browser, base(tenant), {"platform": TOKEN_PLATFORM, "cred_access_token": token})
    row = (await session.execute(select(PlatformConnection))).scalar_one()
    url = f"{base(tenant)}/{row.id}"

    browser.cookies.clear()
    await sign_in(browser, session, tenant.users[Role.viewer])
    page = await browser.get(url)
    assert page.status_code == 200
    assert 'id="disconnect"' not in page.text
    assert 'id="connect"' not in (await browser.get(base(tenant))).text
    denied = await follow(browser, await post(browser, f"{url}/disconnect", {"confirm": "1"}))
    assert "connections:manage" in denied or "not allowed" in denied.lower()
    await session.refresh(row)
    assert row.status == ConnectionStatus.active

    browser.cookies.clear()
    await sign_in(browser, session, other_tenant.users[Role.admin])
    assert (await browser.get(url)).status_code == 404
    foreign = f"/orgs/{other_tenant.organization.id}/connections/{row.id}"
    assert (await browser.get(foreign)).status_code == 404
    no_csrf = await browser.post(f"{base(other_tenant)}", data={"platform": TOKEN_PLATFORM})
    assert no_csrf.status_code == 403
    assert await count_rows(session, "platform_connections") == 1


# --- listing settings ------------------------------------------------------------------------


@pytest.fixture
async def real_browser(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The web app with the built-in connectors and this process's sandbox twins."""
    registry.reset()
    runtime.reset()
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    runtime.reset()


async def sandbox_etsy(session: AsyncSession, tenant: Tenant) -> tuple[PlatformConnection, Any]:
    """A sandbox Etsy connection holding a grant of the in-process twin (and the twin)."""
    twin = runtime.app_for("etsy").state.sandbox
    keystring = runtime.credentials_for("etsy")["keystring"]
    issued = twin.issue_tokens(twin.default_user_id, keystring, frozenset(ETSY_SCOPES))
    shop_id = twin.shop_of(twin.default_user_id)
    row = PlatformConnection(
        id=uuid.uuid4(),
        organization_id=tenant.organization.id,
        platform="etsy",
        name="Etsy shop",
        status=ConnectionStatus.active,
        sandbox=True,
        account_id=str(shop_id),
        account={"shop_id": shop_id},
        token_version=0,
    )
    token_health.store_tokens(
        row,
        {},
        TokenSet(
            issued["access_token"], issued["refresh_token"], datetime.now(UTC) + timedelta(hours=1)
        ),
    )
    session.add(row)
    await session.flush()
    return row, twin


def only(twin_rows: dict[int, dict[str, Any]], shop_id: int, key: str) -> int:
    (found,) = [r[key] for r in twin_rows.values() if r["shop_id"] == shop_id]
    return int(found)


async def test_etsy_settings_form_round_trip_with_the_shops_profiles(
    real_browser: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    row, twin = await sandbox_etsy(session, tenant)
    shop_id = int(row.account["shop_id"])
    shipping = only(twin.shipping_profiles, shop_id, "shipping_profile_id")
    processing = only(twin.readiness, shop_id, "readiness_state_id")
    await sign_in(real_browser, session, tenant.users[Role.admin])

    listed = html.unescape((await real_browser.get(base(tenant))).text)
    warning = "Etsy needs 'who made' before publishing: set it in this connection's settings."
    assert warning in listed
    assert f'href="{base(tenant)}/{row.id}#settings"' in listed

    url = f"{base(tenant)}/{row.id}"
    page = html.unescape((await real_browser.get(url)).text)
    assert 'id="settings-form"' in page
    assert warning in page
    assert '<option value="i_did" >i_did</option>' in page
    assert '<option value="">Not set — choose one</option>' in page
    assert f"Etsy: “{ETSY_WHO_MADE_HELP}”" in page
    assert '<option value="">Default: made_to_order</option>' in page
    assert f'<option value="{shipping}" >Standard shipping ({shipping})</option>' in page
    assert f'<option value="{processing}" >made to order · 1-3 days ({processing})</option>' in page
    assert (
        '<input type="number" min="1" step="1" name="taxonomy_id" id="setting-taxonomy_id" '
        'value="">'
    ) in page
    assert 'id="settings-note"' not in page

    no_csrf = await real_browser.post(f"{url}/settings", data={"who_made": "i_did"})
    assert no_csrf.status_code == 403
    await session.refresh(row)
    assert "listing_defaults" not in row.account

    bad = await follow(
        real_browser, await post(real_browser, f"{url}/settings", {"who_made": "robots"})
    )
    assert (
        "who_made must be one of i_did, someone_else, collective (Etsy's createDraftListing "
        "enum)." in bad
    )
    await session.refresh(row)
    assert "listing_defaults" not in row.account

    form = {
        "who_made": "i_did",
        "when_made": "",
        "shipping_profile_id": str(shipping),
        "readiness_state_id": "",
        "taxonomy_id": "",
    }
    saved = await post(real_browser, f"{url}/settings", form)
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{url}#settings"
    page = await follow(real_browser, saved)
    assert "Listing settings saved." in page
    await session.refresh(row)
    assert row.account == {
        "shop_id": shop_id,
        "listing_defaults": {"who_made": "i_did", "shipping_profile_id": shipping},
    }
    assert '<option value="i_did" selected>i_did</option>' in page
    assert f'<option value="{shipping}" selected>Standard shipping ({shipping})</option>' in page
    assert warning not in page
    assert warning not in html.unescape((await real_browser.get(base(tenant))).text)


async def test_the_form_falls_back_to_number_inputs_when_the_shop_cannot_be_read(
    real_browser: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    row, _ = await sandbox_etsy(session, tenant)
    row.account = {**row.account, "listing_defaults": {"shipping_profile_id": 123}}
    row.token_expires_at = datetime.now(UTC) - timedelta(minutes=1)
    await session.flush()
    await sign_in(real_browser, session, tenant.users[Role.admin])
    page = html.unescape((await real_browser.get(f"{base(tenant)}/{row.id}")).text)
    assert (
        '<input type="number" min="1" step="1" name="shipping_profile_id" '
        'id="setting-shipping_profile_id" value="123">'
    ) in page
    assert 'name="readiness_state_id" id="setting-readiness_state_id" value="">' in page
    assert "The access token is due for a refresh: enter the ids, or reload later." in page

    await token_health.set_problem(
        session,
        row,
        code="auth_failed",
        message="The grant was revoked.",
        action="Reconnect.",
        status=ConnectionStatus.needs_reconnect,
    )
    page = html.unescape((await real_browser.get(f"{base(tenant)}/{row.id}")).text)
    assert "The connection is not active: enter the ids." in page


async def test_viewers_see_the_settings_but_no_form(
    real_browser: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    row, _ = await sandbox_etsy(session, tenant)
    row.account = {**row.account, "listing_defaults": {"who_made": "collective"}}
    await session.flush()
    await sign_in(real_browser, session, tenant.users[Role.viewer])
    url = f"{base(tenant)}/{row.id}"
    page = html.unescape((await real_browser.get(url)).text)
    assert 'id="settings-values"' in page
    assert "<dt>Who made</dt><dd>collective</dd>" in page
    assert 'id="settings-form"' not in page
    denied = await follow(
        real_browser, await post(real_browser, f"{url}/settings", {"who_made": "i_did"})
    )
    assert "connections:manage" in denied or "not allowed" in denied.lower()
    await session.refresh(row)
    assert row.account["listing_defaults"] == {"who_made": "collective"}


async def test_printify_blueprint_per_product_type_form(
    real_browser: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    row = PlatformConnection(
        id=uuid.uuid4(),
        organization_id=tenant.organization.id,
        platform="printify",
        name="Printify shop",
        status=ConnectionStatus.active,
        sandbox=True,
        account_id="1",
        account={"shop_id": 1},
        token_version=0,
    )
    row.encrypted_credentials = token_health.seal_credentials(row.id, {})
    session.add(row)
    await session.flush()
    await sign_in(real_browser, session, tenant.users[Role.admin])
    url = f"{base(tenant)}/{row.id}"
    page = html.unescape((await real_browser.get(url)).text)
    assert '<tr data-product-type="mug-11oz">' in page
    assert 'name="bp__poster" value=""' in page
    assert '<option value="90004">Sandbox Matte Paper Poster</option>' in page
    assert 'list="printify-blueprints"' in page

    saved = await follow(
        real_browser,
        await post(
            real_browser,
            f"{url}/settings",
            {"bp__poster": "90004", "pp__poster": "804", "bp__mug-11oz": "", "pp__mug-11oz": ""},
        ),
    )
    assert "Listing settings saved." in saved
    assert 'name="bp__poster" value="90004"' in saved
    await session.refresh(row)
    assert row.account["listing_defaults"] == {
        "printify_products": {"poster": {"blueprint_id": 90004, "print_provider_id": 804}}
    }
    bad = await follow(
        real_browser, await post(real_browser, f"{url}/settings", {"pp__poster": "804"})
    )
    assert "printify_products.poster.blueprint_id: choose the blueprint too" in bad
    await session.refresh(row)
    assert row.account["listing_defaults"]["printify_products"]["poster"]["blueprint_id"] == 90004


# --- sandbox Etsy: OAuth through the twin's consent page ---------------------------------------


def live_etsy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings that point *live* Etsy connections at a served twin: a sandbox connection
    (in-process twin) must not follow them."""
    from flashfusion.config import get_settings

    settings = get_settings()
    monkeypatch.setattr(settings, "ETSY_OAUTH_URL", "http://127.0.0.1:9/oauth/connect")
    monkeypatch.setattr(settings, "ETSY_TOKEN_URL", "http://127.0.0.1:9/v3/public/oauth/token")
    monkeypatch.setattr(settings, "ETSY_BASE_URL", "http://127.0.0.1:9")


async def test_sandbox_etsy_connects_through_the_twins_consent_page_and_back(
    real_browser: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    live_etsy_settings(monkeypatch)
    await sign_in(real_browser, session, tenant.users[Role.admin])
    started = await post(real_browser, base(tenant), {"platform": "etsy", "sandbox": "1"})
    assert started.status_code == 303, started.text[:500]
    consent_url = httpx.URL(started.headers["location"])
    assert (consent_url.host, consent_url.path) == ("testserver", "/sandbox/etsy/oauth/connect")
    assert consent_url.params["client_id"] == runtime.credentials_for("etsy")["keystring"]

    page = await real_browser.get(started.headers["location"])
    assert page.status_code == 200, page.text[:500]
    assert "Allow access to" in page.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    fields = {k: html.unescape(v) for k, v in fields.items()}
    allowed = await real_browser.post(
        consent_url.path, data={**fields, "decision": "allow"}, follow_redirects=False
    )
    assert allowed.status_code == 302, allowed.text[:500]
    callback = httpx.URL(allowed.headers["location"])
    assert callback.path == "/api/v1/connections/oauth/callback"
    back = await real_browser.get(allowed.headers["location"], follow_redirects=False)
    assert back.status_code == 303, back.text[:500]
    (row,) = (await session.execute(select(PlatformConnection))).scalars().all()
    assert back.headers["location"].startswith(f"{base(tenant)}/{row.id}")
    landed = html.unescape((await real_browser.get(back.headers["location"])).text)
    assert f"Connected {row.account_name}." in landed
    assert (row.platform, row.sandbox, row.status, row.base_url) == (
        "etsy",
        True,
        ConnectionStatus.active,
        None,
    )
    twin = runtime.app_for("etsy").state.sandbox
    assert token_health.read_credentials(row)["access_token"] in twin.access_tokens

"""Sandbox connections with the built-in connectors and their twins: the Etsy OAuth round trip
through the service (start → the twin's consent, auto-approved → callback) however the live
Etsy settings are set; and which twin and credentials a sandbox connection uses: the
in-process twin with this process's credentials when it has no base URL of its own, its stored
credentials (the token `flashfusion sandbox serve` printed) when it has one."""

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject
from flashfusion.config import get_settings
from flashfusion.connector import http as connector_http
from flashfusion.connector import registry
from flashfusion.connector import token as token_health
from flashfusion.connector.oauth import CALLBACK_PATH
from flashfusion.connector.platforms.etsy.connector import API as ETSY_API
from flashfusion.connector.service import (
    CredentialsRejected,
    InvalidConnectionInput,
)
from flashfusion.connector.service import connection as connection_service
from flashfusion.models import ConnectionStatus, PlatformConnection, Role
from flashfusion.sandbox import printify as printify_twin
from flashfusion.sandbox import runtime
from tests.fixtures.objects import Tenant

SERVED = "http://127.0.0.1:8720"


@pytest.fixture(autouse=True)
def builtin_connectors() -> Iterator[None]:
    registry.reset()
    runtime.reset()
    yield
    runtime.reset()
    registry.reset()


@pytest.fixture
def live_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every platform setting pointed at a served twin, as for *live* connections (what
    `flashfusion sandbox serve` prints): sandbox connections without a base URL ignore them."""
    settings = get_settings()
    for name, value in {
        "ETSY_OAUTH_URL": f"{SERVED}/oauth/connect",
        "ETSY_TOKEN_URL": f"{SERVED}/v3/public/oauth/token",
        "ETSY_BASE_URL": SERVED,
        "PRINTIFY_BASE_URL": SERVED,
    }.items():
        monkeypatch.setattr(settings, name, value)


def owner(tenant: Tenant) -> AuthSubject[Any]:
    return AuthSubject(tenant.users[Role.owner])


async def consent(url: str) -> httpx.URL:
    """The creator's "Allow" on the in-process Etsy twin's page (its auto-approve path)."""
    parts = httpx.URL(url)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=runtime.app_for("etsy")), base_url="http://etsy.sandbox"
    ) as browser:
        response = await browser.get(
            parts.path.removeprefix("/sandbox/etsy"),
            params={**dict(parts.params), "auto_approve": "1"},
        )
    assert response.status_code == 302, response.text
    return httpx.URL(response.headers["location"])


async def finish(session: AsyncSession, callback: httpx.URL) -> PlatformConnection:
    assert callback.path == CALLBACK_PATH
    connection, _ = await connection_service.finish_oauth(
        session, state=callback.params["state"], code=callback.params["code"]
    )
    return connection


async def get_me(session: AsyncSession, connection: PlatformConnection) -> int:
    async with connection_service.open_context(session, connection) as ctx:
        return (await ctx.request("GET", f"{ETSY_API}/users/me")).status_code


async def test_sandbox_etsy_oauth_round_trip_through_the_service(
    session: AsyncSession, tenant: Tenant, live_settings: None
) -> None:
    url = await connection_service.start_oauth(
        session, owner(tenant), organization_id=tenant.organization.id, platform="etsy",
        sandbox=True,
    )  # fmt: skip
    parts = httpx.URL(url)
    assert (parts.host, parts.path) == ("testserver", "/sandbox/etsy/oauth/connect")
    assert parts.params["client_id"] == runtime.credentials_for("etsy")["keystring"]
    connection = await finish(session, await consent(url))
    twin = runtime.app_for("etsy").state.sandbox
    assert (connection.platform, connection.sandbox, connection.status) == (
        "etsy",
        True,
        ConnectionStatus.active,
    )
    assert connection.account_id == str(twin.shop_of(twin.default_user_id))
    assert twin.requests["oauth_token"] == 1
    assert token_health.read_credentials(connection)["access_token"] in twin.access_tokens
    assert await get_me(session, connection) == 200


async def test_a_sandbox_consent_page_off_site_is_answered_by_flashfusion_itself(
    session: AsyncSession, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connector whose sandbox consent URL is the twin's own address (no browser reaches
    it): FlashFusion asks the in-process twin itself (with the twin's keystring as
    client_id) and sends the creator straight to the callback."""
    connector = registry.get_connector("etsy")
    original = connector.authorization_url

    def twin_address(**kwargs: Any) -> str:
        url = original(**kwargs)
        return url.replace("http://testserver/sandbox/etsy", "http://etsy.sandbox")

    monkeypatch.setattr(connector, "authorization_url", twin_address)
    url = await connection_service.start_oauth(
        session, owner(tenant), organization_id=tenant.organization.id, platform="etsy",
        sandbox=True,
    )  # fmt: skip
    connection = await finish(session, httpx.URL(url))
    assert connection.status == ConnectionStatus.active
    assert runtime.app_for("etsy").state.sandbox.requests["oauth_connect"] == 1
    assert await get_me(session, connection) == 200


# --- which twin, which credentials -----------------------------------------------------------


@pytest.fixture
def served_printify(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A Printify twin "served" at SERVED (reached through an ASGI transport: no port), which
    accepts only the token it printed."""
    app = printify_twin.create_app(tokens={"served-token-0123456789"})
    real = connector_http.client_for

    def client_for(connection: Any, connector: Any = None) -> httpx.AsyncClient:
        client = real(connection, connector)
        if str(client.base_url).rstrip("/") != SERVED:
            return client
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=SERVED, headers=client.headers
        )

    monkeypatch.setattr(connector_http, "client_for", client_for)
    return app.state.sandbox


async def test_a_sandbox_connection_with_a_base_url_uses_its_stored_token(
    session: AsyncSession, tenant: Tenant, served_printify: Any
) -> None:
    connection = await connection_service.connect_token(
        session,
        owner(tenant),
        organization_id=tenant.organization.id,
        platform="printify",
        credentials={"access_token": "served-token-0123456789"},
        sandbox=True,
        base_url=SERVED + "/",
    )
    assert (connection.sandbox, connection.base_url) == (True, SERVED)
    assert token_health.read_credentials(connection) == {"access_token": "served-token-0123456789"}
    before = served_printify.requests["shops.list"]
    async with connection_service.open_context(session, connection) as ctx:
        assert ctx.base_url.rstrip("/") == SERVED
        assert ctx.credentials["access_token"] == "served-token-0123456789"
        response = await ctx.request("GET", "/v1/shops.json")
    assert response.status_code == 200
    assert served_printify.requests["shops.list"] == before + 1
    # The in-process twin was never asked.
    assert "printify" not in runtime._apps


async def test_a_served_twin_refuses_another_token_and_live_connections_take_no_base_url(
    session: AsyncSession, tenant: Tenant, served_printify: Any
) -> None:
    common: dict[str, Any] = {
        "organization_id": tenant.organization.id,
        "platform": "printify",
    }
    with pytest.raises(CredentialsRejected):
        await connection_service.connect_token(
            session, owner(tenant), credentials={"access_token": "not-the-served-token"},
            sandbox=True, base_url=SERVED, **common,
        )  # fmt: skip
    with pytest.raises(InvalidConnectionInput, match="credentials.access_token"):
        await connection_service.connect_token(
            session, owner(tenant), credentials=None, sandbox=True, base_url=SERVED, **common
        )
    with pytest.raises(InvalidConnectionInput, match="base_url: only a sandbox connection"):
        await connection_service.connect_token(
            session, owner(tenant), credentials={"access_token": "served-token-0123456789"},
            base_url=SERVED, **common,
        )  # fmt: skip
    with pytest.raises(InvalidConnectionInput, match="base_url: give the twin's URL"):
        await connection_service.connect_token(
            session, owner(tenant), credentials={"access_token": "served-token-0123456789"},
            sandbox=True, base_url="ftp://127.0.0.1", **common,
        )  # fmt: skip


async def test_a_sandbox_connection_without_a_base_url_stays_in_process(
    session: AsyncSession, tenant: Tenant, live_settings: None, served_printify: Any
) -> None:
    """PRINTIFY_BASE_URL is set (for live connections): the sandbox connection still talks to
    the in-process twin, with this process's credentials."""
    connection = await connection_service.connect_token(
        session, owner(tenant), organization_id=tenant.organization.id, platform="printify",
        credentials=None, sandbox=True,
    )  # fmt: skip
    assert connection.base_url is None
    async with connection_service.open_context(session, connection) as ctx:
        assert ctx.base_url == "http://printify.sandbox"
        assert ctx.credentials == runtime.credentials_for("printify")
        assert (await ctx.request("GET", "/v1/shops.json")).status_code == 200
    assert served_printify.requests["shops.list"] == 0
    assert runtime.app_for("printify").state.sandbox.requests["shops.list"] >= 1
    assert uuid.UUID(str(connection.id))

"""Connections through the service and the API: connect with a token, OAuth with PKCE (state
single use, ten minutes), sandbox mode, reconnect, link, disconnect, health. Every endpoint:
anonymous 401, another tenant 404, a missing scope or role 403 (nothing changed), bad input 422
naming the field. No token in plaintext in the database, the logs or job inputs."""

import json
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.scope import Scope
from flashfusion.connector import registry, schemas
from flashfusion.connector.base import PublishPayload, TerminalConnectorError
from flashfusion.connector.endpoints import router as connections_router
from flashfusion.connector.platforms.etsy import mapper as etsy_mapper
from flashfusion.connector.platforms.printify import mapper as printify_mapper
from flashfusion.connector.service import code_challenge, new_code_verifier
from flashfusion.kit import encryption
from flashfusion.kit.crypto import keyed_hash
from flashfusion.models import (
    AuditEvent,
    ConnectionStatus,
    OAuthState,
    PlatformConnection,
    Role,
    utc_now,
)
from tests.conftest import count_rows
from tests.connector import (
    CHANNEL_PLATFORM,
    OAUTH_PLATFORM,
    TOKEN_PLATFORM,
    FakePlatform,
    fake_platform,
)
from tests.fixtures.objects import Tenant, bearer, create_api_key

__all__ = ["fake_platform"]

BASE = "/api/v1/connections"


@pytest.fixture
async def api(app: Any, fake_platform: FakePlatform) -> AsyncIterator[httpx.AsyncClient]:
    app.include_router(connections_router, prefix="/api/v1")
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def admin(tenant: Tenant) -> dict[str, str]:
    return bearer(tenant.tokens[Role.admin])


async def connect(
    api: httpx.AsyncClient, tenant: Tenant, token: str, **extra: Any
) -> httpx.Response:
    body = {
        "organization_id": str(tenant.organization.id),
        "platform": TOKEN_PLATFORM,
        "credentials": {"access_token": token},
        **extra,
    }
    return await api.post(BASE, json=body, headers=admin(tenant))


async def scoped_key(session: AsyncSession, tenant: Tenant, *scopes: Scope) -> dict[str, str]:
    _, token = await create_api_key(
        session,
        organization=tenant.organization,
        user=tenant.users[Role.admin],
        scopes=set(scopes),
    )
    return bearer(token)


async def dump(session: AsyncSession) -> str:
    """Every column of every row a connection touches, as text (bytes as latin-1 too)."""
    parts = []
    for table in ("platform_connections", "oauth_states", "audit_events", "jobs"):
        for row in (await session.execute(text(f"SELECT * FROM {table}"))).all():
            for value in row:
                if isinstance(value, (bytes, memoryview)):
                    parts.append(bytes(value).decode("latin-1"))
                else:
                    parts.append(str(value))
    return "\n".join(parts)


# --- connect with a token --------------------------------------------------------------------


async def test_connect_with_a_token_stores_it_encrypted_and_bound_to_the_row(
    api: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    fake_platform: FakePlatform,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token, _ = fake_platform.issue("shop-1")
    caplog.set_level(logging.DEBUG)
    response = await connect(api, tenant, token, name="Main shop")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["platform"] == TOKEN_PLATFORM
    assert body["name"] == "Main shop"
    assert body["status"] == "active"
    assert body["sandbox"] is False
    assert body["account_id"] == "shop-1"
    assert body["account_name"] == "My Shop"
    assert body["account"] == {"shop_id": "shop-1"}
    assert body["credential_hint"] == token[-4:]
    assert body["webhook_url"] == f"http://testserver/webhooks/{TOKEN_PLATFORM}/{body['id']}"
    assert body["problem_code"] is None
    assert token not in response.text
    assert "whsec-" not in response.text
    assert fake_platform.calls["me"] == 1
    assert fake_platform.calls["webhooks"] == 1

    row = await session.get(PlatformConnection, uuid.UUID(body["id"]))
    assert row is not None
    assert row.encrypted_credentials is not None
    aad = encryption.bound_to("platform_connections", "encrypted_credentials", row.id)
    assert encryption.decrypt(row.encrypted_credentials, aad=aad) == (
        f'{{"access_token": "{token}"}}'
    )
    other = encryption.bound_to("platform_connections", "encrypted_credentials", uuid.uuid4())
    with pytest.raises(encryption.DecryptionError):
        encryption.decrypt(row.encrypted_credentials, aad=other)
    from flashfusion.connector.service import connection as connection_service

    secret = connection_service.webhook_secret(row)
    assert secret is not None
    assert secret.startswith("whsec-")

    stored = await dump(session)
    assert token not in stored
    assert secret not in stored
    assert token not in caplog.text
    logged = capsys.readouterr()
    assert "connector.http" in logged.out  # structlog writes here: the calls were logged
    assert token not in logged.out + logged.err
    assert secret not in logged.out + logged.err
    assert secret not in caplog.text
    event = (
        await session.execute(select(AuditEvent).where(AuditEvent.action == "connection.connected"))
    ).scalar_one()
    assert event.target_id == body["id"]
    assert event.details == {
        "platform": TOKEN_PLATFORM,
        "account_id": "shop-1",
        "sandbox": False,
        "webhooks": True,
    }


async def test_connecting_the_same_account_again_updates_its_row(
    api: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    fake_platform: FakePlatform,
) -> None:
    first, _ = fake_platform.issue("shop-1")
    second, _ = fake_platform.issue("shop-1")
    one = (await connect(api, tenant, first)).json()
    two = await connect(api, tenant, second)
    assert two.status_code == 201
    assert two.json()["id"] == one["id"]
    assert two.json()["credential_hint"] == second[-4:]
    assert await count_rows(session, "platform_connections") == 1


async def test_rejected_token_is_a_422_with_the_platforms_action_and_nothing_stored(
    api: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
) -> None:
    response = await connect(api, tenant, "at-not-a-real-token-0000")
    assert response.status_code == 422
    assert response.json()["error"] == "CredentialsRejected"
    assert response.json()["detail"].startswith("Create a new token and reconnect.")
    assert await count_rows(session, "platform_connections") == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"credentials": {}}, "credentials.access_token: Access token is required"),
        ({"credentials": {"access_token": "  "}}, "credentials.access_token"),
        ({"credentials": {"access_token": "a b c d e f"}}, "credentials.access_token"),
        ({"credentials": {"access_token": "x" * 20, "extra": "1"}}, "credentials.extra"),
        ({"platform": "shopify"}, "platform: Unknown platform 'shopify'"),
        ({"platform": OAUTH_PLATFORM}, "platform: Fake OAuth connects with OAuth"),
        ({"organization_id": "not-a-uuid"}, "organization_id"),
        ({"name": "x" * 101}, "name"),
        ({"sandbox": "yes"}, "sandbox"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    api: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    fake_platform: FakePlatform,
    change: dict[str, Any],
    field: str,
) -> None:
    token, _ = fake_platform.issue()
    body = {
        "organization_id": str(tenant.organization.id),
        "platform": TOKEN_PLATFORM,
        "credentials": {"access_token": token},
        **change,
    }
    response = await api.post(BASE, json=body, headers=admin(tenant))
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]
    assert await count_rows(session, "platform_connections") == 0
    assert fake_platform.calls["me"] == 0


async def test_create_denials_change_nothing(
    api: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    other_tenant: Tenant,
    fake_platform: FakePlatform,
) -> None:
    token, _ = fake_platform.issue()
    body = {
        "organization_id": str(tenant.organization.id),
        "platform": TOKEN_PLATFORM,
        "credentials": {"access_token": token},
    }
    assert (await api.post(BASE, json=body)).status_code == 401
    foreign = await api.post(BASE, json=body, headers=admin(other_tenant))
    assert foreign.status_code == 404
    assert foreign.json()["detail"] == "Organization not found."
    read_only = await scoped_key(session, tenant, Scope.connections_read)
    missing = await api.post(BASE, json=body, headers=read_only)
    assert missing.status_code == 403
    assert missing.json()["error"] == "InsufficientScope"
    editor = await api.post(BASE, json=body, headers=bearer(tenant.tokens[Role.editor]))
    assert editor.status_code == 403
    assert editor.json()["error"] == "NotPermitted"
    assert await count_rows(session, "platform_connections") == 0
    assert fake_platform.calls["me"] == 0


async def test_webhook_registration_failure_does_not_fail_the_connect(
    api: httpx.AsyncClient,
    tenant: Tenant,
    fake_platform: FakePlatform,
) -> None:
    fake_platform.webhook_mode = "fail"
    token, _ = fake_platform.issue()
    response = await connect(api, tenant, token)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "active"
    assert body["webhook_url"] is None
    assert body["problem_code"] == "webhooks_not_registered"
    assert body["problem_action"].startswith("Try again later.")


async def test_sandbox_connect_needs_no_credentials(
    api: httpx.AsyncClient,
    tenant: Tenant,
) -> None:
    response = await api.post(
        BASE,
        json={
            "organization_id": str(tenant.organization.id),
            "platform": TOKEN_PLATFORM,
            "sandbox": True,
        },
        headers=admin(tenant),
    )
    assert response.status_code == 201, response.text
    assert response.json()["sandbox"] is True
    assert response.json()["account_id"] == "shop-1"


# --- reading ------------------------------------------------------------------------------------


async def test_list_get_and_health(
    api: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    other_tenant: Tenant,
    fake_platform: FakePlatform,
) -> None:
    token, _ = fake_platform.issue()
    created = (await connect(api, tenant, token)).json()
    url = f"{BASE}/{created['id']}"
    viewer = bearer(tenant.tokens[Role.viewer])

    listed = await api.get(BASE, headers=viewer)
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json()["items"]] == [created["id"]]
    got = await api.get(url, headers=viewer)
    assert got.status_code == 200
    assert got.json() == created
    health = await api.get(f"{url}/health", headers=viewer)
    assert health.status_code == 200, health.text
    assert health.json()["status"] == "active"
    assert health.json()["token_expires_at"] is None
    assert [(q["name"], q["limit"], q["period_seconds"]) for q in health.json()["quotas"]] == [
        ("per_minute", 600, 60.0)
    ]
    # At least the webhook call (the buckets are shared by the tests: their own store).
    assert health.json()["quotas"][0]["used"] >= 1

    for path in (BASE, url, f"{url}/health"):
        assert (await api.get(path)).status_code == 401
    assert (await api.get(BASE, headers=admin(other_tenant))).json()["items"] == []
    for path in (url, f"{url}/health"):
        foreign = await api.get(path, headers=admin(other_tenant))
        assert foreign.status_code == 404
        assert foreign.json()["detail"] == "Connection not found."
    no_scope = await scoped_key(session, tenant, Scope.products_read)
    for path in (BASE, url, f"{url}/health"):
        assert (await api.get(path, headers=no_scope)).status_code == 403
    assert (await api.get(f"{BASE}/not-a-uuid", headers=viewer)).status_code == 422


# --- reconnect, link, disconnect ----------------------------------------------------------------


async def test_reconnect_replaces_the_token_of_the_same_account(
    api: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    other_tenant: Tenant,
    fake_platform: FakePlatform,
) -> None:
    old, _ = fake_platform.issue("shop-1")
    created = (await connect(api, tenant, old)).json()
    url = f"{BASE}/{created['id']}/reconnect"
    new, _ = fake_platform.issue("shop-1")
    body = {"credentials": {"access_token": new}}

    assert (await api.post(url, json=body)).status_code == 401
    assert (await api.post(url, json=body, headers=admin(other_tenant))).status_code == 404
    read_only = await scoped_key(session, tenant, Scope.connections_read)
    assert (await api.post(url, json=body, headers=read_only)).status_code == 403
    bad = await api.post(url, json={"credentials": {}}, headers=admin(tenant))
    assert bad.status_code == 422
    assert "credentials.access_token" in bad.json()["detail"]
    row = await session.get(PlatformConnection, uuid.UUID(created["id"]))
    assert row is not None
    assert row.credential_hint == old[-4:]

    done = await api.post(url, json=body, headers=admin(tenant))
    assert done.status_code == 200, done.text
    assert done.json()["authorize_url"] is None
    assert done.json()["connection"]["credential_hint"] == new[-4:]

    fake_platform.accounts["shop-2"] = "Another shop"
    stranger, _ = fake_platform.issue("shop-2")
    wrong = await api.post(
        url, json={"credentials": {"access_token": stranger}}, headers=admin(tenant)
    )
    assert wrong.status_code == 409
    assert wrong.json()["error"] == "WrongAccount"


async def test_link_a_shop_to_its_channel_connection(
    api: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    other_tenant: Tenant,
    fake_platform: FakePlatform,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flashfusion.connector import service

    monkeypatch.setattr(service, "LINKABLE", {TOKEN_PLATFORM: {CHANNEL_PLATFORM}})
    token, _ = fake_platform.issue()
    shop = (await connect(api, tenant, token)).json()
    channel = (await connect(api, tenant, token, platform=CHANNEL_PLATFORM)).json()
    theirs = (await connect(api, other_tenant, token, platform=CHANNEL_PLATFORM)).json()
    url = f"{BASE}/{shop['id']}/link"
    body = {"linked_connection_id": channel["id"]}

    assert (await api.put(url, json=body)).status_code == 401
    assert (await api.put(url, json=body, headers=admin(other_tenant))).status_code == 404
    editor = await api.put(url, json=body, headers=bearer(tenant.tokens[Role.editor]))
    assert editor.status_code == 403
    foreign = await api.put(url, json={"linked_connection_id": theirs["id"]}, headers=admin(tenant))
    assert foreign.status_code == 422
    assert foreign.json()["detail"] == (
        "linked_connection_id: no such connection in this workspace."
    )
    same = await api.put(url, json={"linked_connection_id": shop["id"]}, headers=admin(tenant))
    assert same.status_code == 422
    assert same.json()["detail"].startswith("linked_connection_id: that is a faketoken")
    bad = await api.put(url, json={"linked_connection_id": "nope"}, headers=admin(tenant))
    assert bad.status_code == 422
    assert "linked_connection_id" in bad.json()["detail"]
    row = await session.get(PlatformConnection, uuid.UUID(shop["id"]))
    assert row is not None
    assert row.linked_connection_id is None

    linked = await api.put(url, json=body, headers=admin(tenant))
    assert linked.status_code == 200
    assert linked.json()["linked_connection_id"] == channel["id"]
    unlinked = await api.put(url, json={"linked_connection_id": None}, headers=admin(tenant))
    assert unlinked.json()["linked_connection_id"] is None


async def test_disconnect_wipes_the_credentials(
    api: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    other_tenant: Tenant,
    fake_platform: FakePlatform,
) -> None:
    token, _ = fake_platform.issue()
    created = (await connect(api, tenant, token)).json()
    url = f"{BASE}/{created['id']}"
    assert (await api.delete(url)).status_code == 401
    assert (await api.delete(url, headers=admin(other_tenant))).status_code == 404
    assert (await api.delete(url, headers=bearer(tenant.tokens[Role.editor]))).status_code == 403
    row = await session.get(PlatformConnection, uuid.UUID(created["id"]))
    assert row is not None
    assert row.encrypted_credentials is not None

    response = await api.delete(url, headers=admin(tenant))
    assert response.status_code == 200
    assert response.json()["status"] == "disconnected"
    assert response.json()["credential_hint"] is None
    await session.refresh(row)
    assert row.encrypted_credentials is None
    assert row.encrypted_webhook_secret is None
    assert (
        await count_rows(
            session, "audit_events", "action = 'connection.disconnected' AND outcome = 'success'"
        )
        == 1
    )


# --- OAuth with PKCE -----------------------------------------------------------------------------


def test_pkce_verifier_and_s256_challenge() -> None:
    verifier = new_code_verifier()
    assert 43 <= len(verifier) <= 128
    assert set(verifier) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
    )
    # RFC 7636 appendix B.
    assert code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == (
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


async def authorize(api: httpx.AsyncClient, url: str) -> str:
    """The creator's browser at the platform: the consent page redirects back with a code."""
    parts = httpx.URL(url)
    async with httpx.AsyncClient(transport=httpx.MockTransport(FAKE.handler)) as browser:
        response = await browser.get(parts)
    return response.headers["location"]


FAKE = FakePlatform()


async def start(api: httpx.AsyncClient, tenant: Tenant, **extra: Any) -> httpx.Response:
    return await api.post(
        f"{BASE}/oauth/start",
        json={"organization_id": str(tenant.organization.id), "platform": OAUTH_PLATFORM, **extra},
        headers=admin(tenant),
    )


async def test_oauth_flow_with_state_and_pkce(
    api: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    fake_platform: FakePlatform,
) -> None:
    response = await start(api, tenant)
    assert response.status_code == 200, response.text
    url = httpx.URL(response.json()["authorize_url"])
    query = dict(url.params)
    assert url.host == "fakeoauth.test"
    assert url.path == "/oauth/connect"
    assert query["redirect_uri"] == "http://testserver/api/v1/connections/oauth/callback"
    assert query["code_challenge_method"] == "S256"
    assert query["scope"] == "shops_r listings_w"
    state = query["state"]
    row = (await session.execute(select(OAuthState))).scalar_one()
    assert row.state_hash == keyed_hash(state, purpose="oauth_state")
    assert state not in await dump(session)
    verifier = encryption.decrypt(
        row.encrypted_code_verifier or b"",
        aad=encryption.bound_to("oauth_states", "encrypted_code_verifier", row.id),
    )
    assert code_challenge(verifier) == query["code_challenge"]
    assert timedelta(minutes=9) < row.expires_at - utc_now() <= timedelta(minutes=10)

    consent = fake_platform.handler(httpx.Request("GET", url))
    callback = httpx.URL(consent.headers["location"])
    done = await api.get(callback.path, params=dict(callback.params))
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["platform"] == OAUTH_PLATFORM
    assert body["account_id"] == "shop-1"
    assert body["status"] == "active"
    assert body["token_expires_at"] is not None
    connection = await session.get(PlatformConnection, uuid.UUID(body["id"]))
    assert connection is not None
    stored = await dump(session)
    for secret in list(fake_platform.tokens) + list(fake_platform.refresh_tokens) + [verifier]:
        assert secret not in stored
    await session.refresh(row)
    assert row.used_at is not None
    assert row.encrypted_code_verifier is None

    again = await api.get(callback.path, params=dict(callback.params))
    assert again.status_code == 400
    assert again.json()["detail"].startswith("state: already used")
    unknown = await api.get(callback.path, params={"state": "forged", "code": "x"})
    assert unknown.status_code == 400
    assert unknown.json()["detail"].startswith("state: unknown")


async def test_expired_state_is_refused(
    api: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    fake_platform: FakePlatform,
) -> None:
    url = httpx.URL((await start(api, tenant)).json()["authorize_url"])
    await session.execute(update(OAuthState).values(expires_at=utc_now() - timedelta(seconds=1)))
    callback = httpx.URL(fake_platform.handler(httpx.Request("GET", url)).headers["location"])
    response = await api.get(callback.path, params=dict(callback.params))
    assert response.status_code == 400
    assert response.json()["detail"].startswith("state: expired")
    assert fake_platform.calls["exchange"] == 0
    assert await count_rows(session, "platform_connections") == 0


async def test_oauth_start_denials_and_bad_input(
    api: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    other_tenant: Tenant,
) -> None:
    body = {"organization_id": str(tenant.organization.id), "platform": OAUTH_PLATFORM}
    path = f"{BASE}/oauth/start"
    assert (await api.post(path, json=body)).status_code == 401
    assert (await api.post(path, json=body, headers=admin(other_tenant))).status_code == 404
    read_only = await scoped_key(session, tenant, Scope.connections_read)
    assert (await api.post(path, json=body, headers=read_only)).status_code == 403
    token_platform = await api.post(
        path, json={**body, "platform": TOKEN_PLATFORM}, headers=admin(tenant)
    )
    assert token_platform.status_code == 422
    assert token_platform.json()["detail"].startswith("platform: Fake Token connects with")
    missing = await api.post(path, json={"platform": OAUTH_PLATFORM}, headers=admin(tenant))
    assert missing.status_code == 422
    assert "organization_id" in missing.json()["detail"]
    assert await count_rows(session, "oauth_states") == 0


async def test_oauth_sandbox_goes_through_the_twins_consent(
    api: httpx.AsyncClient,
    tenant: Tenant,
    fake_platform: FakePlatform,
) -> None:
    response = await start(api, tenant, sandbox=True)
    assert response.status_code == 200, response.text
    url = httpx.URL(response.json()["authorize_url"])
    assert url.path == "/api/v1/connections/oauth/callback"
    done = await api.get(url.path, params=dict(url.params))
    assert done.status_code == 200, done.text
    assert done.json()["sandbox"] is True
    assert fake_platform.calls["exchange"] == 1


async def test_oauth_reconnect_keeps_the_row_and_refuses_another_account(
    api: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    fake_platform: FakePlatform,
) -> None:
    url = httpx.URL((await start(api, tenant)).json()["authorize_url"])
    callback = httpx.URL(fake_platform.handler(httpx.Request("GET", url)).headers["location"])
    first = (await api.get(callback.path, params=dict(callback.params))).json()

    again = await api.post(f"{BASE}/{first['id']}/reconnect", json={}, headers=admin(tenant))
    assert again.status_code == 200
    assert again.json()["connection"] is None
    url = httpx.URL(again.json()["authorize_url"])
    callback = httpx.URL(fake_platform.handler(httpx.Request("GET", url)).headers["location"])
    second = await api.get(callback.path, params=dict(callback.params))
    assert second.status_code == 200
    assert second.json()["id"] == first["id"]
    assert await count_rows(session, "platform_connections") == 1
    assert (
        await count_rows(
            session, "audit_events", "action = 'connection.reconnected' AND outcome = 'success'"
        )
        == 1
    )


async def test_oauth_sandbox_uses_the_twins_own_page_when_the_connector_serves_one(
    api: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flashfusion.connector.registry import get_connector

    connector = get_connector(OAUTH_PLATFORM)
    seen: dict[str, Any] = {}

    def authorization_url(*, sandbox: bool = False, **kwargs: Any) -> str:
        seen.update(kwargs, sandbox=sandbox)
        return "http://testserver/sandbox/fakeoauth/oauth/connect?state=" + kwargs["state"]

    monkeypatch.setattr(connector, "authorization_url", authorization_url)
    response = await start(api, tenant, sandbox=True)
    assert response.status_code == 200
    assert response.json()["authorize_url"].startswith(
        "http://testserver/sandbox/fakeoauth/oauth/connect?state="
    )
    assert seen["sandbox"] is True
    assert seen["redirect_uri"] == "http://testserver/api/v1/connections/oauth/callback"


@pytest.mark.parametrize("return_url", ["//evil.example/x", "https://evil.example", "/\\evil"])
async def test_oauth_return_url_must_be_a_path_on_this_site(
    api: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, return_url: str
) -> None:
    from flashfusion.auth.models import AuthSubject
    from flashfusion.connector.service import InvalidConnectionInput
    from flashfusion.connector.service import connection as connection_service

    with pytest.raises(InvalidConnectionInput, match="return_url: give a path on this site"):
        await connection_service.start_oauth(
            session,
            AuthSubject(tenant.users[Role.admin]),
            organization_id=tenant.organization.id,
            platform=OAUTH_PLATFORM,
            return_url=return_url,
        )
    assert await count_rows(session, "oauth_states") == 0


# --- listing defaults (settings) -------------------------------------------------------------

SPECS = Path(__file__).resolve().parents[3] / "shared" / "specs"
ETSY_FIELDS = "who_made, when_made, shipping_profile_id, readiness_state_id, taxonomy_id"


@pytest.fixture
async def real_api(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The API with the built-in connectors (Etsy, Printify, Printful) registered."""
    registry.reset()
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def add_connection(
    session: AsyncSession, tenant: Tenant, platform: str, **account: Any
) -> PlatformConnection:
    row = PlatformConnection(
        id=uuid.uuid4(),
        organization_id=tenant.organization.id,
        platform=platform,
        name=f"{platform} shop",
        status=ConnectionStatus.active,
        sandbox=True,
        account_id="7001",
        account={"shop_id": 7001, **account},
        token_version=0,
    )
    session.add(row)
    await session.flush()
    return row


async def settings_events(session: AsyncSession) -> list[AuditEvent]:
    result = await session.execute(
        select(AuditEvent)
        .where(AuditEvent.action == "connection.settings_changed")
        .where(AuditEvent.outcome == "success")
        .order_by(AuditEvent.created_at, AuditEvent.id)
    )
    return list(result.scalars())


def settings_url(row: PlatformConnection) -> str:
    return f"{BASE}/{row.id}/settings"


async def test_settings_denials_change_nothing(
    real_api: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    row = await add_connection(session, tenant, "etsy")
    url = settings_url(row)
    body = {"listing_defaults": {"who_made": "i_did"}}

    assert (await real_api.patch(url, json=body)).status_code == 401
    assert (await real_api.get(url)).status_code == 401
    foreign = await real_api.patch(url, json=body, headers=admin(other_tenant))
    assert foreign.status_code == 404
    assert foreign.json()["detail"] == "Connection not found."
    assert (await real_api.get(url, headers=admin(other_tenant))).status_code == 404
    read_only = await scoped_key(session, tenant, Scope.connections_read)
    scoped = await real_api.patch(url, json=body, headers=read_only)
    assert scoped.status_code == 403
    assert scoped.json()["error"] == "InsufficientScope"
    for role in (Role.editor, Role.viewer):
        denied = await real_api.patch(url, json=body, headers=bearer(tenant.tokens[role]))
        assert denied.status_code == 403
        assert denied.json()["error"] == "NotPermitted"
    missing = await real_api.patch(
        f"{BASE}/{uuid.uuid4()}/settings", json=body, headers=admin(tenant)
    )
    assert missing.status_code == 404

    await session.refresh(row)
    assert row.account == {"shop_id": 7001}
    assert await settings_events(session) == []
    # Viewers read the settings, and what is missing.
    read = await real_api.get(url, headers=bearer(tenant.tokens[Role.viewer]))
    assert read.status_code == 200
    assert read.json() == {
        "connection_id": str(row.id),
        "platform": "etsy",
        "listing_defaults": {},
        "missing": [
            {
                "name": "who_made",
                "message": "Etsy needs 'who made' before publishing: set it in this "
                "connection's settings.",
            }
        ],
    }


@pytest.mark.parametrize(
    ("platform", "change", "detail"),
    [
        (
            "etsy",
            {"who_made": "me"},
            "who_made must be one of i_did, someone_else, collective (Etsy's createDraftListing "
            "enum).",
        ),
        (
            "etsy",
            {"who_made": 1},
            "who_made must be one of i_did, someone_else, collective (Etsy's createDraftListing "
            "enum).",
        ),
        (
            "etsy",
            {"who_made": "i_did", "when_made": "2030"},
            "when_made must be one of made_to_order, 2020_2026, 2010_2019, 2007_2009, "
            "before_2007, 2000_2006, 1990s, 1980s, 1970s, 1960s, 1950s, 1940s, 1930s, 1920s, "
            "1910s, 1900s, 1800s, 1700s, before_1700 (Etsy's createDraftListing enum).",
        ),
        (
            "etsy",
            {"shipping_profile_id": 0},
            "shipping_profile_id must be a positive integer (an Etsy shipping profile id), or "
            "null to clear it.",
        ),
        (
            "etsy",
            {"shipping_profile_id": 1.5},
            "shipping_profile_id must be a positive integer (an Etsy shipping profile id), or "
            "null to clear it.",
        ),
        (
            "etsy",
            {"readiness_state_id": "abc"},
            "readiness_state_id must be a positive integer (an Etsy processing profile "
            "(readiness_state_id)), or null to clear it.",
        ),
        (
            "etsy",
            {"taxonomy_id": True},
            "taxonomy_id must be a positive integer (an Etsy seller-taxonomy id), or null to "
            "clear it.",
        ),
        (
            "etsy",
            {"taxonomy_id": 2**63},
            "taxonomy_id must be a positive integer (an Etsy seller-taxonomy id), or null to "
            "clear it.",
        ),
        (
            "etsy",
            {"printful_technique": "dtg"},
            "listing_defaults.printful_technique: not a listing default of Etsy connections "
            f"(they have: {ETSY_FIELDS}).",
        ),
        (
            "printful",
            {"printful_technique": "laser"},
            "printful_technique must be one of dtg, digital, cut-sew, uv, embroidery, "
            "sublimation, dtfilm (Printful's TechniqueEnum).",
        ),
        (
            "printify",
            {"printify_products": {"gizmo": {"blueprint_id": 5}}},
            "printify_products.gizmo: unknown product type 'gizmo'; list them with "
            "`GET /api/v1/catalog` or `flashfusion studio catalog`",
        ),
        (
            "printify",
            {"printify_products": {"mug": {"blueprint_id": "x"}}},
            "printify_products.mug-11oz.blueprint_id must be a positive integer (a Printify "
            "blueprint id), or null to clear it.",
        ),
        (
            "printify",
            {"printify_products": {"poster": {"blueprint_id": 7, "print_provider_id": -1}}},
            "printify_products.poster.print_provider_id must be a positive integer (a Printify "
            "print provider id), or null to clear it.",
        ),
        (
            "printify",
            {"printify_products": {"poster": {"print_provider_id": 5}}},
            "printify_products.poster.blueprint_id: choose the blueprint too; a print provider "
            "id belongs to one blueprint.",
        ),
        (
            "printify",
            {"printify_products": {"poster": {"shop": 1}}},
            "printify_products.poster.shop: not a Printify setting (blueprint_id, "
            "print_provider_id).",
        ),
        (
            "printify",
            {"printify_products": ["poster"]},
            "printify_products must be an object of product type → "
            '{"blueprint_id": …, "print_provider_id": …}.',
        ),
        (
            "printify",
            {"who_made": "i_did"},
            "listing_defaults.who_made: not a listing default of Printify connections (they "
            "have: printify_products).",
        ),
    ],
)
async def test_a_bad_setting_is_a_422_naming_the_field_and_nothing_changes(
    real_api: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    platform: str,
    change: dict[str, Any],
    detail: str,
) -> None:
    row = await add_connection(session, tenant, platform)
    response = await real_api.patch(
        settings_url(row), json={"listing_defaults": change}, headers=admin(tenant)
    )
    assert response.status_code == 422, response.text
    assert response.json() == {"error": "InvalidConnectionSetting", "detail": detail}
    await session.refresh(row)
    assert row.account == {"shop_id": 7001}
    assert await settings_events(session) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "listing_defaults"), ({"listing_defaults": {}, "other": 1}, "other")],
)
async def test_a_malformed_settings_body_is_a_422_naming_it(
    real_api: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    body: dict[str, Any],
    field: str,
) -> None:
    row = await add_connection(session, tenant, "etsy")
    response = await real_api.patch(settings_url(row), json=body, headers=admin(tenant))
    assert response.status_code == 422
    assert response.json()["error"] == "RequestValidationError"
    assert field in response.json()["detail"]


async def test_etsy_settings_are_stored_audited_and_reach_the_connector(
    real_api: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    row = await add_connection(session, tenant, "etsy")
    url = settings_url(row)
    change = {"who_made": "i_did", "shipping_profile_id": 3000002, "readiness_state_id": "4000003"}
    response = await real_api.patch(url, json={"listing_defaults": change}, headers=admin(tenant))
    assert response.status_code == 200, response.text
    stored = {"who_made": "i_did", "shipping_profile_id": 3000002, "readiness_state_id": 4000003}
    assert response.json() == {
        "connection_id": str(row.id),
        "platform": "etsy",
        "listing_defaults": stored,
        "missing": [],
    }
    await session.refresh(row)
    assert row.account == {"shop_id": 7001, "listing_defaults": stored}
    got = await real_api.get(f"{BASE}/{row.id}", headers=admin(tenant))
    assert got.json()["account"]["listing_defaults"] == stored
    (event,) = await settings_events(session)
    assert event.target_id == str(row.id)
    assert event.details == {
        "platform": "etsy",
        "changed": ["readiness_state_id", "shipping_profile_id", "who_made"],
        "before": {"readiness_state_id": None, "shipping_profile_id": None, "who_made": None},
        "after": stored,
    }

    # What publishing passes on (payload.py: options.update(listing_defaults)) is what the
    # Etsy connector reads.
    payload = PublishPayload("ff-1", "t", "d", [], "USD", "mug", [], [], options=dict(stored))
    assert etsy_mapper.who_and_when(payload, row.account) == ("i_did", "made_to_order")
    assert etsy_mapper.pick("shipping_profile_id", payload, {}) == 3000002

    cleared = await real_api.patch(
        url,
        json={"listing_defaults": {"shipping_profile_id": None, "when_made": "2020_2026"}},
        headers=admin(tenant),
    )
    assert cleared.json()["listing_defaults"] == {
        "who_made": "i_did",
        "readiness_state_id": 4000003,
        "when_made": "2020_2026",
    }
    second = (await settings_events(session))[1]
    assert second.details == {
        "platform": "etsy",
        "changed": ["shipping_profile_id", "when_made"],
        "before": {"shipping_profile_id": 3000002, "when_made": None},
        "after": {"shipping_profile_id": None, "when_made": "2020_2026"},
    }
    gone = await real_api.patch(
        url, json={"listing_defaults": {"who_made": None}}, headers=admin(tenant)
    )
    assert [m["name"] for m in gone.json()["missing"]] == ["who_made"]


async def test_printify_blueprints_per_product_type_are_merged(
    real_api: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    row = await add_connection(session, tenant, "printify")
    url = settings_url(row)
    first = await real_api.patch(
        url,
        json={
            "listing_defaults": {
                "printify_products": {
                    "mug": {"blueprint_id": 90003, "print_provider_id": "803"},
                    "poster": {"blueprint_id": 90004, "print_provider_id": None},
                }
            }
        },
        headers=admin(tenant),
    )
    assert first.status_code == 200, first.text
    assert first.json()["listing_defaults"] == {
        "printify_products": {
            "mug-11oz": {"blueprint_id": 90003, "print_provider_id": 803},
            "poster": {"blueprint_id": 90004},
        }
    }
    assert first.json()["missing"] == []
    await session.refresh(row)
    options = row.account["listing_defaults"]
    assert printify_mapper.catalog_options(options, "mug-11oz")["blueprint_id"] == 90003
    second = await real_api.patch(
        url,
        json={"listing_defaults": {"printify_products": {"mug-11oz": None}}},
        headers=admin(tenant),
    )
    assert second.json()["listing_defaults"] == {
        "printify_products": {"poster": {"blueprint_id": 90004}}
    }
    emptied = await real_api.patch(
        url,
        json={"listing_defaults": {"printify_products": {"poster": {"blueprint_id": ""}}}},
        headers=admin(tenant),
    )
    assert emptied.json()["listing_defaults"] == {}
    await session.refresh(row)
    assert row.account == {"shop_id": 7001}
    assert len(await settings_events(session)) == 3


async def test_a_reconnect_keeps_the_listing_defaults(
    api: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, fake_platform: FakePlatform
) -> None:
    old, _ = fake_platform.issue("shop-1")
    created = (await connect(api, tenant, old)).json()
    row = await session.get(PlatformConnection, uuid.UUID(created["id"]))
    assert row is not None
    row.account = {**row.account, "listing_defaults": {"who_made": "collective"}}
    await session.flush()
    new, _ = fake_platform.issue("shop-1")
    done = await api.post(
        f"{BASE}/{row.id}/reconnect",
        json={"credentials": {"access_token": new}},
        headers=admin(tenant),
    )
    assert done.status_code == 200, done.text
    assert done.json()["connection"]["account"] == {
        "shop_id": "shop-1",
        "listing_defaults": {"who_made": "collective"},
    }


def test_the_etsy_refusal_points_to_the_connection_settings() -> None:
    payload = PublishPayload("ff-1", "t", "d", [], "USD", "mug", [], [])
    with pytest.raises(TerminalConnectorError) as caught:
        etsy_mapper.who_and_when(payload, {})
    assert caught.value.code == "etsy.who_made_missing"
    assert caught.value.action == (
        "Set 'who made' (i_did, someone_else or collective) in this Etsy connection's "
        "settings: Connections → the Etsy shop → Listing settings, then retry."
    )


def test_the_allowed_values_are_the_specs() -> None:
    etsy = SPECS / "etsy" / "baseline.json"
    printful = SPECS / "printful" / "openapi.json"
    if not etsy.exists() or not printful.exists():
        pytest.skip(
            "../shared/specs/etsy/baseline.json or ../shared/specs/printful/openapi.json is "
            "absent: the enums cannot be compared with the published specs"
        )
    spec = json.loads(etsy.read_text())
    body = spec["paths"]["/v3/application/shops/{shop_id}/listings"]["post"]["requestBody"]
    fields = body["content"]["application/x-www-form-urlencoded"]["schema"]["properties"]
    assert tuple(fields["who_made"]["enum"]) == schemas.ETSY_WHO_MADE == etsy_mapper.WHO_MADE
    assert tuple(fields["when_made"]["enum"]) == schemas.ETSY_WHEN_MADE
    assert fields["who_made"]["description"] == schemas.ETSY_WHO_MADE_HELP
    assert fields["when_made"]["description"] == schemas.ETSY_WHEN_MADE_HELP
    for name in ("taxonomy_id", "shipping_profile_id", "readiness_state_id"):
        assert (fields[name]["type"], fields[name]["format"], fields[name]["minimum"]) == (
            "integer",
            "int64",
            1,
        )
    techniques = json.loads(printful.read_text())["components"]["schemas"]["TechniqueEnum"]
    assert tuple(techniques["enum"]) == schemas.PRINTFUL_TECHNIQUES

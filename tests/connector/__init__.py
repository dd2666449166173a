"""Test-only platform connectors and their fake platform (an `httpx.MockTransport`), registered
through a monkeypatched entry-point list, for the connection, token-health and web tests."""

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import EntryPoint
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import pytest

from flashfusion.connector import registry
from flashfusion.connector.base import (
    AccountInfo,
    AuthKind,
    Capability,
    ConnectionContext,
    ConnectorAuthError,
    ConnectorError,
    CredentialField,
    PlatformConnector,
    RateLimit,
    RetryableConnectorError,
    TerminalConnectorError,
    TokenSet,
)

TOKEN_PLATFORM = "faketoken"
OAUTH_PLATFORM = "fakeoauth"
CHANNEL_PLATFORM = "fakechannel"


def _translate(response: httpx.Response) -> ConnectorError:
    if response.status_code in (401, 403):
        return ConnectorAuthError(
            "auth_failed",
            "Create a new token and reconnect.",
            needs_reconnect=True,
            platform_message=response.text[:200],
            status=response.status_code,
        )
    if response.status_code >= 500:
        return RetryableConnectorError(
            "server_error", "Try again later.", status=response.status_code
        )
    return TerminalConnectorError("bad_request", "Fix the data.", status=response.status_code)


class FakeTokenConnector(PlatformConnector):
    name = TOKEN_PLATFORM
    label = "Fake Token"
    auth_kind = AuthKind.api_token
    capabilities = frozenset({Capability.publish, Capability.webhooks})
    rate_limits = (RateLimit("per_minute", 600, 60.0, "test figure"),)
    default_base_url = "https://faketoken.test"
    base_url_setting = "FAKETOKEN_BASE_URL"
    sandbox_service = TOKEN_PLATFORM
    credential_fields = (CredentialField("access_token", "Access token", "From the settings."),)

    def translate_error(self, response: httpx.Response) -> ConnectorError:
        return _translate(response)

    async def verify(self, ctx: ConnectionContext) -> AccountInfo:
        body = (await ctx.request("GET", "/me")).json()
        return AccountInfo(str(body["id"]), body["name"], {"shop_id": body["id"]})

    async def register_webhooks(self, ctx: ConnectionContext, url: str) -> str | None:
        body = (await ctx.request("POST", "/webhooks", json={"url": url})).json()
        return str(body["secret"])


class FakeChannelConnector(FakeTokenConnector):
    name = CHANNEL_PLATFORM
    label = "Fake Channel"
    capabilities = frozenset({Capability.publish})
    sandbox_service = CHANNEL_PLATFORM


class FakeOAuthConnector(PlatformConnector):
    name = OAUTH_PLATFORM
    label = "Fake OAuth"
    auth_kind = AuthKind.oauth_pkce
    capabilities = frozenset({Capability.publish})
    rate_limits = (RateLimit("per_second", 100, 1.0, "test figure"),)
    default_base_url = "https://fakeoauth.test"
    base_url_setting = "FAKEOAUTH_BASE_URL"
    sandbox_service = OAUTH_PLATFORM
    oauth_scopes = ("shops_r", "listings_w")

    def translate_error(self, response: httpx.Response) -> ConnectorError:
        return _translate(response)

    async def verify(self, ctx: ConnectionContext) -> AccountInfo:
        body = (await ctx.request("GET", "/me")).json()
        return AccountInfo(str(body["id"]), body["name"], {"shop_id": body["id"]})

    def authorization_url(
        self, *, redirect_uri: str, state: str, code_challenge: str, scopes: list[str]
    ) -> str:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": "fake",
                "redirect_uri": redirect_uri,
                "scope": " ".join(scopes),
                "state": state,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"https://fakeoauth.test/oauth/connect?{query}"

    async def _token(self, http: httpx.AsyncClient, data: dict[str, str]) -> TokenSet:
        try:
            response = await http.post("https://fakeoauth.test/oauth/token", data=data)
        except httpx.TransportError as e:
            raise RetryableConnectorError("network", "Try again.") from e
        if response.status_code >= 500:
            raise RetryableConnectorError(
                "server_error", "The platform is down; try later.", status=response.status_code
            )
        body = response.json()
        if response.status_code == 400 and body.get("error") == "invalid_grant":
            raise ConnectorAuthError(
                "invalid_grant",
                "Reconnect the shop.",
                needs_reconnect=True,
                platform_message=body.get("error_description", ""),
            )
        if response.status_code >= 400:
            raise TerminalConnectorError("oauth_error", "Start again.", platform_message=str(body))
        return TokenSet(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token"),
            expires_at=datetime.now(UTC) + timedelta(seconds=int(body["expires_in"])),
        )

    async def exchange_code(
        self, http: httpx.AsyncClient, *, code: str, code_verifier: str, redirect_uri: str
    ) -> TokenSet:
        return await self._token(
            http,
            {
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": code_verifier,
                "redirect_uri": redirect_uri,
            },
        )

    async def refresh(self, http: httpx.AsyncClient, *, refresh_token: str) -> TokenSet:
        return await self._token(
            http, {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )


@dataclass
class FakePlatform:
    """The platforms' side: accepted tokens, issued grants, counters and failure modes."""

    tokens: dict[str, str] = field(default_factory=dict)  # access token -> account id
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # refresh token -> account
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (challenge, acct)
    accounts: dict[str, str] = field(default_factory=lambda: {"shop-1": "My Shop"})
    calls: Counter[str] = field(default_factory=Counter)
    refresh_mode: str = "ok"  # ok | invalid_grant | unavailable | no_refresh_token
    webhook_mode: str = "ok"  # ok | fail
    expires_in: int = 3600
    seen: list[httpx.Request] = field(default_factory=list)

    def issue(self, account: str = "shop-1") -> tuple[str, str]:
        access, refresh = f"at-{uuid.uuid4().hex}", f"rt-{uuid.uuid4().hex}"
        self.tokens[access] = account
        self.refresh_tokens[refresh] = account
        return access, refresh

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        path = request.url.path
        if path == "/oauth/connect":
            query = parse_qs(request.url.query.decode())
            code = f"code-{uuid.uuid4().hex}"
            self.codes[code] = (query["code_challenge"][0], "shop-1")
            target = f"{query['redirect_uri'][0]}?" + urlencode(
                {"state": query["state"][0], "code": code}
            )
            return httpx.Response(302, headers={"location": target})
        if path == "/oauth/token":
            return self._token(request)
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        account = self.tokens.get(bearer)
        if account is None:
            return httpx.Response(401, json={"error": "invalid token"})
        if path == "/me":
            self.calls["me"] += 1
            return httpx.Response(200, json={"id": account, "name": self.accounts[account]})
        if path == "/webhooks":
            self.calls["webhooks"] += 1
            if self.webhook_mode == "fail":
                return httpx.Response(500, json={"error": "down"})
            return httpx.Response(200, json={"secret": "whsec-" + uuid.uuid4().hex})
        return httpx.Response(404, json={"error": "not found"})

    def _token(self, request: httpx.Request) -> httpx.Response:
        import base64
        import hashlib

        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if form.get("grant_type") == "authorization_code":
            self.calls["exchange"] += 1
            found = self.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                .decode()
                .rstrip("=")
            )
            if found is None or found[0] != challenge:
                return httpx.Response(400, json={"error": "invalid_grant"})
            access, refresh = self.issue(found[1])
            return httpx.Response(
                200,
                json={
                    "access_token": access,
                    "refresh_token": refresh,
                    "expires_in": self.expires_in,
                    "token_type": "Bearer",
                },
            )
        self.calls["refresh"] += 1
        if self.refresh_mode == "unavailable":
            return httpx.Response(503, json={"error": "temporarily_unavailable"})
        account = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
        if self.refresh_mode == "invalid_grant" or account is None:
            return httpx.Response(
                400, json={"error": "invalid_grant", "error_description": "grant revoked"}
            )
        access, refresh = self.issue(account)
        body: dict[str, Any] = {"access_token": access, "expires_in": self.expires_in}
        if self.refresh_mode == "no_refresh_token":
            self.refresh_tokens[form["refresh_token"]] = account  # the old one stays valid
            self.refresh_tokens.pop(refresh)
        else:
            body["refresh_token"] = refresh
        return httpx.Response(200, json=body)


def fake_entry_points(*classes: type) -> list[EntryPoint]:
    return [
        EntryPoint(
            name=cls.name,
            value=f"tests.connector:{cls.__name__}",  # type: ignore[attr-defined]
            group=registry.GROUP,
        )
        for cls in classes
    ]


@pytest.fixture
def fake_platform(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePlatform]:
    """The fake connectors registered, and every connector HTTP client sent to FakePlatform."""
    from flashfusion.connector import http as connector_http
    from flashfusion.sandbox import runtime

    platform = FakePlatform()
    points = fake_entry_points(FakeTokenConnector, FakeOAuthConnector, FakeChannelConnector)
    monkeypatch.setattr(registry, "BUILTIN", {})
    monkeypatch.setattr(registry, "entry_points", lambda group: points)
    registry.reset()

    def client_for(
        connection: Any, connector: PlatformConnector | None = None
    ) -> httpx.AsyncClient:
        connector = connector or registry.get_connector(connection.platform)
        return httpx.AsyncClient(
            transport=httpx.MockTransport(platform.handler),
            base_url=connection.base_url or connector.default_base_url,
        )

    # The sandbox "twins" of the fake platforms accept a token issued for this run.
    sandbox_access, _ = platform.issue("shop-1")
    monkeypatch.setattr(connector_http, "client_for", client_for)
    monkeypatch.setattr(
        runtime,
        "credentials_for",
        lambda service: {"access_token": sandbox_access} if service != OAUTH_PLATFORM else {},
    )
    yield platform
    registry.reset()

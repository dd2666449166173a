"""Platform connections: connect (API token or OAuth with PKCE), reconnect, disconnect, link a
Printify shop to its Etsy channel, read health and quotas, and open a `ConnectionContext` for
the code that talks to a platform (publishing, webhooks, order sync).

Credentials are one JSON object per connection, AES-GCM encrypted and bound to the row; they
are decrypted only in `open_context` and the connect checks, and never logged or audited.
A sandbox connection without a base URL of its own uses this process's in-process twin and
its credentials (`flashfusion.sandbox.runtime.credentials_for`), so everything can be tried
without accounts; one with a base URL (a `flashfusion sandbox serve` port) uses its stored
credentials. OAuth flows are in connector/oauth.py, listing defaults in connector/settings.py.
"""

import builtins
import contextlib
import inspect
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.audit.service import audit as audit_service
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.authz.permission import Permission
from flashfusion.authz.service import authz
from flashfusion.config import get_settings
from flashfusion.connector import oauth
from flashfusion.connector import settings as listing_settings
from flashfusion.connector import token as token_health
from flashfusion.connector.base import (
    AccountInfo,
    AuthKind,
    Capability,
    ConnectionContext,
    ConnectorAuthError,
    ConnectorError,
    PlatformConnector,
    TokenSet,
)

# The errors and OAuth names are imported from here by the endpoints, views and tests.
from flashfusion.connector.errors import (
    CredentialsRejected,
    InvalidConnectionInput,
    InvalidConnectionSetting,
    InvalidLink,
    InvalidOAuthState,
    PlatformUnavailable,
    WrongAccount,
    translated,
)
from flashfusion.connector.oauth import CALLBACK_PATH, Target, code_challenge, new_code_verifier
from flashfusion.connector.registry import UnknownPlatform, all_connectors, get_connector
from flashfusion.connector.repository import PlatformConnectionRepository
from flashfusion.connector.schemas import LISTING_DEFAULTS
from flashfusion.exceptions import ResourceNotFound
from flashfusion.kit import encryption
from flashfusion.kit.pagination import PaginationParams
from flashfusion.models import APIKey, ConnectionStatus, PlatformConnection, User

__all__ = [
    "CALLBACK_PATH",
    "ConnectionService",
    "CredentialsRejected",
    "InvalidConnectionInput",
    "InvalidConnectionSetting",
    "InvalidLink",
    "InvalidOAuthState",
    "PlatformUnavailable",
    "WrongAccount",
    "code_challenge",
    "connection",
    "new_code_verifier",
]

log = structlog.get_logger(__name__)

# Which platform a connection may be linked to: a Printify shop publishes to its Etsy channel
# through the publish handshake (research/platform-apis.md section 1, "Publishing flow").
LINKABLE = {"printify": {"etsy"}}
WEBHOOKS_NOT_REGISTERED = "webhooks_not_registered"


@dataclass
class Health:
    connection: PlatformConnection
    quotas: builtins.list[Any] = field(default_factory=builtins.list)


@dataclass
class ReconnectResult:
    connection: PlatformConnection | None = None
    authorize_url: str | None = None


def _user_id(auth_subject: AuthSubject[Subject] | None) -> uuid.UUID | None:
    if auth_subject is None:
        return None
    subject = auth_subject.subject
    if isinstance(subject, User):
        return subject.id
    if isinstance(subject, APIKey):
        return subject.created_by_user_id
    return None


def _connector_for_input(platform: str) -> PlatformConnector:
    try:
        return get_connector(platform)
    except UnknownPlatform as e:
        raise InvalidConnectionInput(f"platform: {e.detail}") from None


class ConnectionService:
    # --- reading ----------------------------------------------------------------------------------

    async def list(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID | None = None,
        platform: str | None = None,
        pagination: PaginationParams,
    ) -> tuple[builtins.list[PlatformConnection], int]:
        readable = await authz.get_readable_org_ids(
            session,
            auth_subject,
            Permission.connections_read,
            organization_id=organization_id,
            action="connection.list",
        )
        repository = PlatformConnectionRepository.from_session(session)
        statement = repository.list_statement(readable, platform=platform)
        return await repository.paginate(statement, pagination)

    async def get(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        connection_id: uuid.UUID,
        *,
        permission: Permission = Permission.connections_read,
        action: str = "connection.read",
    ) -> PlatformConnection:
        ids = await authz.get_accessible_org_ids(session, auth_subject)
        connection = await PlatformConnectionRepository.from_session(session).get_for_organizations(
            connection_id, ids
        )
        if connection is None:
            raise ResourceNotFound("Connection")
        await authz.require(
            session,
            auth_subject,
            connection.organization_id,
            permission,
            action=action,
            target_type="connection",
            target_id=connection.id,
        )
        return connection

    async def _managed(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        connection_id: uuid.UUID,
        action: str,
    ) -> PlatformConnection:
        """The connection, for a change (`connections:manage`, checked and audited as `action`)."""
        return await self.get(
            session, auth_subject, connection_id, permission=Permission.connections_manage,
            action=action,
        )  # fmt: skip

    async def get_for_worker(
        self, session: AsyncSession, connection_id: uuid.UUID
    ) -> PlatformConnection | None:
        """Any workspace's connection by id, for jobs (which act for the system)."""
        return await PlatformConnectionRepository.from_session(session).for_worker(connection_id)

    async def health(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], connection_id: uuid.UUID
    ) -> Health:
        connection = await self.get(session, auth_subject, connection_id)
        return Health(connection, await self.quotas(connection))

    async def quotas(self, connection: PlatformConnection) -> builtins.list[Any]:
        """Quota use per documented limit (connector/ratelimit.py `usage`)."""
        from flashfusion.connector import ratelimit

        connector = get_connector(connection.platform)
        scale = get_settings().SANDBOX_TIME_SCALE if connection.sandbox else 1.0
        result: Any = ratelimit.usage(
            connector, connection.id, connection.account_id, time_scale=scale
        )
        if inspect.isawaitable(result):
            result = await result
        return builtins.list(result)

    # --- the context platform code runs in -----------------------------------------------------

    def _credentials(
        self,
        connector: PlatformConnector,
        connection: PlatformConnection | Target,
        stored: Mapping[str, str],
    ) -> dict[str, str]:
        """What the connector authenticates with. A sandbox connection without a base URL of
        its own talks to this process's twin (connector/http.py `client_for`), which accepts
        this process's credentials only (made on first use). Any other connection uses its
        stored ones: a sandbox connection with a base URL points at a served twin
        (`flashfusion sandbox serve`), which accepts the token that command printed."""
        credentials = dict(stored)
        if connection.sandbox and not connection.base_url:
            from flashfusion.sandbox import runtime

            sandbox = runtime.credentials_for(connector.sandbox_service)
            if connector.auth_kind == AuthKind.oauth_pkce:
                # The OAuth tokens come from the twin's own flow; the app credentials are its.
                sandbox = {k: v for k, v in sandbox.items() if k not in credentials}
            credentials.update(sandbox)
        return credentials

    @contextlib.asynccontextmanager
    async def _context(
        self,
        connector: PlatformConnector,
        target: PlatformConnection | Target,
        *,
        connection_id: uuid.UUID,
        credentials: Mapping[str, str],
        account_id: str | None,
        account: Mapping[str, Any],
    ) -> AsyncIterator[ConnectionContext]:
        from flashfusion.connector.http import build_request, client_for

        async with client_for(target, connector) as client:
            yield ConnectionContext(
                connection_id=connection_id,
                platform=connector.name,
                account_id=account_id,
                account=dict(account),
                credentials=credentials,
                base_url=str(client.base_url),
                request=build_request(
                    connector,
                    connection_id=connection_id,
                    credentials=credentials,
                    client=client,
                    account_id=account_id,
                    sandbox=target.sandbox,
                ),
            )

    @contextlib.asynccontextmanager
    async def open_context(
        self, session: AsyncSession, connection: PlatformConnection
    ) -> AsyncIterator[ConnectionContext]:
        """The connection as a connector needs it: a fresh token (refreshed first when it
        expires soon), the decrypted credentials, and the rate-limited request function."""
        if connection.status == ConnectionStatus.disconnected:
            raise ConnectorAuthError(
                "disconnected",
                "The connection was disconnected; connect the account again.",
                needs_reconnect=True,
            )
        connector = get_connector(connection.platform)
        connection = await token_health.ensure_fresh(session, connection)
        credentials = self._credentials(
            connector, connection, token_health.read_credentials(connection)
        )
        async with self._context(
            connector,
            connection,
            connection_id=connection.id,
            credentials=credentials,
            account_id=connection.account_id,
            account=connection.account or {},
        ) as ctx:
            yield ctx

    def webhook_secret(self, connection: PlatformConnection) -> str | None:
        """The signing secret the platform returned for this connection's webhooks (None:
        the platform's secret is app-wide, in settings)."""
        if connection.encrypted_webhook_secret is None:
            return None
        return encryption.decrypt(
            connection.encrypted_webhook_secret,
            aad=token_health.webhook_secret_aad(connection.id),
        )

    def store_webhook_secret(self, connection: PlatformConnection, secret: str | None) -> None:
        connection.encrypted_webhook_secret = (
            encryption.encrypt(secret, aad=token_health.webhook_secret_aad(connection.id))
            if secret
            else None
        )

    async def record_auth_failure(
        self, session: AsyncSession, connection: PlatformConnection, error: ConnectorAuthError
    ) -> None:
        """A platform call was refused for its credentials (see connector/token.py)."""
        await token_health.record_auth_failure(session, connection, error)

    # --- connecting with an API token -----------------------------------------------------------

    async def _verify(
        self,
        connector: PlatformConnector,
        target: Target,
        connection_id: uuid.UUID,
        credentials: Mapping[str, str],
    ) -> AccountInfo:
        try:
            async with self._context(
                connector,
                target,
                connection_id=connection_id,
                credentials=self._credentials(connector, target, credentials),
                account_id=None,
                account={},
            ) as ctx:
                return await connector.verify(ctx)
        except ConnectorError as e:
            raise translated(e) from None

    async def connect_token(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID,
        platform: str,
        credentials: Mapping[str, Any] | None,
        name: str | None = None,
        sandbox: bool = False,
        base_url: str | None = None,
    ) -> PlatformConnection:
        """Connect an API-token platform (or any platform in sandbox mode): check the token
        with the platform, learn the account, store it encrypted. `base_url` (sandbox only)
        points the connection at a served twin (`flashfusion sandbox serve`): its token is
        then required, as for a live connection."""
        await authz.accessible_organization(
            session,
            auth_subject,
            organization_id,
            Permission.connections_manage,
            action="connection.connected",
        )
        connector = _connector_for_input(platform)
        if base_url is not None:
            base_url = listing_settings.served_twin_url(base_url, sandbox)
        if sandbox and connector.auth_kind == AuthKind.oauth_pkce:
            raise InvalidConnectionInput(
                f"platform: {connector.label} connects with OAuth; start it with "
                "POST /api/v1/connections/oauth/start (sandbox: true)."
            )
        if sandbox and base_url is None:
            cleaned = {}
        else:
            if connector.auth_kind != AuthKind.api_token:
                raise InvalidConnectionInput(
                    f"platform: {connector.label} connects with OAuth, not a pasted token; "
                    "start it with POST /api/v1/connections/oauth/start."
                )
            cleaned = listing_settings.check_credentials(connector, credentials or {})
        row_id = uuid.uuid4()
        return await self._save(
            session,
            auth_subject,
            connector,
            Target(connector.name, sandbox, base_url),
            organization_id=organization_id,
            credentials=cleaned,
            name=name,
            row_id=row_id,
            existing=None,
            user_id=_user_id(auth_subject),
        )

    async def _save(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject] | None,
        connector: PlatformConnector,
        target: Target,
        *,
        organization_id: uuid.UUID,
        credentials: dict[str, str],
        row_id: uuid.UUID,
        existing: PlatformConnection | None,
        user_id: uuid.UUID | None,
        tokens: TokenSet | None = None,
        name: str | None = None,
    ) -> PlatformConnection:
        """Check the credentials with the platform (learning the account), then create or
        update the connection of that account, encrypted, and audit it."""
        account = await self._verify(connector, target, row_id, credentials)
        sandbox, base_url = target.sandbox, target.base_url
        repository = PlatformConnectionRepository.from_session(session)
        account_id = str(account.account_id)
        if existing is not None and existing.account_id not in (None, account_id):
            raise WrongAccount(
                f"You authorized {connector.label} account {account.name!r} ({account_id}), "
                f"but this connection is for {existing.account_name!r} "
                f"({existing.account_id}); sign in to that account and reconnect, or connect "
                "the other account as a new connection."
            )
        connection = existing or await repository.for_account(
            organization_id, connector.name, account_id, sandbox
        )
        action = "connection.reconnected" if connection is not None else "connection.connected"
        if connection is None:
            connection = PlatformConnection(
                id=row_id,
                organization_id=organization_id,
                platform=connector.name,
                sandbox=sandbox,
                account_id=account_id,
                base_url=base_url,
                token_version=0,
                created_by_user_id=user_id,
            )
            connection.name = (name or "").strip()[:100] or account.name[:100] or connector.label
            try:
                async with session.begin_nested():
                    await repository.create(connection)
            except IntegrityError:
                # Another request connected the same account at the same moment: update it.
                found = await repository.for_account(
                    organization_id, connector.name, account_id, sandbox
                )
                assert found is not None
                connection, action = found, "connection.reconnected"
        elif name and name.strip():
            connection.name = name.strip()[:100]
        if existing is None:
            # A new connect says where the account is (a reconnect keeps it).
            connection.base_url = base_url
        connection.account_name = account.name[:200]
        details = dict(account.details)
        # A reconnect learns the account again; the creator's listing defaults stay.
        kept = (connection.account or {}).get(LISTING_DEFAULTS)
        if kept:
            details[LISTING_DEFAULTS] = kept
        connection.account = details
        connection.status = ConnectionStatus.active
        if tokens is not None:
            token_health.store_tokens(connection, credentials, tokens)
        else:
            connection.encrypted_credentials = token_health.seal_credentials(
                connection.id, credentials
            )
            connection.credential_hint = token_health.hint(next(iter(credentials.values()), ""))
            connection.token_expires_at = None
            connection.token_version = (connection.token_version or 0) + 1
        token_health.clear_problem(connection)
        await session.flush()
        await self._register_webhooks(connector, connection, credentials)
        await session.flush()
        await audit_service.record(
            session,
            auth_subject,
            action=action,
            organization_id=organization_id,
            user_id=user_id,
            target_type="connection",
            target_id=connection.id,
            details={
                "platform": connector.name,
                "account_id": account_id,
                "sandbox": sandbox,
                "webhooks": connection.webhook_url is not None,
            },
        )
        return connection

    async def _register_webhooks(
        self,
        connector: PlatformConnector,
        connection: PlatformConnection,
        credentials: Mapping[str, str],
    ) -> None:
        if Capability.webhooks not in connector.capabilities:
            return
        url = f"{get_settings().BASE_URL}/webhooks/{connector.name}/{connection.id}"
        try:
            async with self._context(
                connector,
                connection,
                connection_id=connection.id,
                credentials=self._credentials(connector, connection, credentials),
                account_id=connection.account_id,
                account=connection.account or {},
            ) as ctx:
                secret = await connector.register_webhooks(ctx, url)
        except NotImplementedError:
            return
        except ConnectorError as e:
            # The connection works; only events will not arrive. Shown on its page, not mailed.
            connection.problem_code = WEBHOOKS_NOT_REGISTERED
            connection.problem_message = (
                f"FlashFusion could not subscribe to {connector.label}'s events"
                + (f": {e.platform_message}" if e.platform_message else ".")
            )[:2000]
            connection.problem_action = (
                f"{e.action} Orders are still imported by the periodic sync; use Reconnect to "
                "try the subscription again."
            )[:2000]
            log.warning(
                "connection.webhooks_not_registered",
                connection_id=str(connection.id),
                platform=connector.name,
                error_code=e.code,
            )
            return
        connection.webhook_url = url
        self.store_webhook_secret(connection, secret)

    # --- OAuth (connector/oauth.py) ----------------------------------------------------------

    def redirect_uri(self) -> str:
        """The callback URL to register with the platform (Etsy: the app's redirect URI)."""
        return oauth.redirect_uri()

    async def start_oauth(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID,
        platform: str,
        sandbox: bool = False,
        connection: PlatformConnection | None = None,
        return_url: str | None = None,
    ) -> str:
        """The URL to send the creator to (the platform's consent page). In sandbox mode, the
        twin's consent page (on FlashFusion: the Etsy twin's is mounted at /sandbox/etsy), or
        when the twin's page is not reachable by a browser, our own callback, with the code
        FlashFusion asked the in-process twin for itself."""
        await authz.accessible_organization(
            session,
            auth_subject,
            organization_id,
            Permission.connections_manage,
            action="connection.oauth_started",
        )
        connector = _connector_for_input(platform)
        if connector.auth_kind != AuthKind.oauth_pkce:
            raise InvalidConnectionInput(
                f"platform: {connector.label} connects with a pasted token, not OAuth; use "
                "POST /api/v1/connections."
            )
        oauth.check_return_url(return_url)
        row, state, verifier = await oauth.new_state(
            session,
            auth_subject,
            organization_id=organization_id,
            platform=connector.name,
            sandbox=sandbox,
            connection_id=connection.id if connection is not None else None,
            return_url=return_url,
        )
        return await oauth.authorize_url(connector, row, state=state, verifier=verifier)

    async def finish_oauth(
        self, session: AsyncSession, *, state: str, code: str | None, error: str | None = None
    ) -> tuple[PlatformConnection, str | None]:
        """The callback: check the state (single use, ten minutes), exchange the code with
        the PKCE verifier, learn the account, create or update the connection."""
        row, verifier = await oauth.claim_state(session, state)
        if error:
            raise CredentialsRejected(
                f"The platform did not authorize FlashFusion ({error[:100]}); start again and "
                "choose Allow."
            )
        if not code:
            raise InvalidOAuthState("code: missing from the platform's redirect; start again.")
        connector = get_connector(row.platform)
        # A sandbox flow is the in-process twin's (a served twin is connected as a live one).
        target = Target(connector.name, row.sandbox)
        existing = None
        if row.connection_id is not None:
            existing = await PlatformConnectionRepository.from_session(session).get_by_id(
                row.connection_id
            )
            if existing is None or existing.organization_id != row.organization_id:
                raise InvalidOAuthState("state: the connection it was for is gone; start again.")
        from flashfusion.connector.http import client_for

        try:
            async with client_for(target, connector) as http:
                tokens = await connector.exchange_code(
                    http, code=code, code_verifier=verifier, redirect_uri=row.redirect_uri
                )
        except ConnectorError as e:
            raise translated(e) from None
        credentials = {"access_token": tokens.access_token}
        if tokens.refresh_token:
            credentials["refresh_token"] = tokens.refresh_token
        connection = await self._save(
            session,
            None,
            connector,
            target,
            organization_id=row.organization_id,
            credentials=credentials,
            tokens=tokens,
            row_id=existing.id if existing is not None else uuid.uuid4(),
            existing=existing,
            user_id=row.user_id,
        )
        return connection, row.return_url

    async def oauth_return_url(self, session: AsyncSession, state: str) -> str | None:
        """Where a web flow returns to, for a callback that failed (None: answer JSON)."""
        return await oauth.return_url_of(session, state)

    # --- changing a connection --------------------------------------------------------------------

    async def reconnect(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        connection_id: uuid.UUID,
        *,
        credentials: Mapping[str, Any] | None = None,
        return_url: str | None = None,
    ) -> ReconnectResult:
        """OAuth: the authorize URL for a new grant; API token: the token replaced (same
        account), checked with the platform first."""
        connection = await self._managed(
            session, auth_subject, connection_id, "connection.reconnected"
        )
        connector = get_connector(connection.platform)
        if connector.auth_kind == AuthKind.oauth_pkce:
            url = await self.start_oauth(
                session,
                auth_subject,
                organization_id=connection.organization_id,
                platform=connection.platform,
                sandbox=connection.sandbox,
                connection=connection,
                return_url=return_url,
            )
            return ReconnectResult(authorize_url=url)
        in_process = connection.sandbox and not connection.base_url
        cleaned = (
            {} if in_process else listing_settings.check_credentials(connector, credentials or {})
        )
        saved = await self._save(
            session,
            auth_subject,
            connector,
            Target(connector.name, connection.sandbox, connection.base_url),
            organization_id=connection.organization_id,
            credentials=cleaned,
            row_id=connection.id,
            existing=connection,
            user_id=_user_id(auth_subject),
        )
        return ReconnectResult(connection=saved)

    async def disconnect(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], connection_id: uuid.UUID
    ) -> PlatformConnection:
        """Wipe the credentials; the row stays (listings and orders keep their history)."""
        connection = await self._managed(
            session, auth_subject, connection_id, "connection.disconnected"
        )
        connection.status = ConnectionStatus.disconnected
        connection.encrypted_credentials = None
        connection.credential_hint = None
        connection.token_expires_at = None
        connection.encrypted_webhook_secret = None
        connection.webhook_url = None
        connection.token_version = (connection.token_version or 0) + 1
        connection.problem_code = connection.problem_message = connection.problem_action = None
        connection.problem_notified_at = None
        await session.flush()
        await audit_service.record(
            session,
            auth_subject,
            action="connection.disconnected",
            organization_id=connection.organization_id,
            target_type="connection",
            target_id=connection.id,
            details={"platform": connection.platform, "account_id": connection.account_id},
        )
        return connection

    async def set_link(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        connection_id: uuid.UUID,
        linked_connection_id: uuid.UUID | None,
    ) -> PlatformConnection:
        """Link a Printify shop to the Etsy connection it publishes to (None: unlink)."""
        connection = await self._managed(session, auth_subject, connection_id, "connection.linked")
        allowed = LINKABLE.get(connection.platform, set())
        if linked_connection_id is not None:
            if not allowed:
                raise InvalidLink(
                    f"linked_connection_id: a {connection.platform} connection has no channel "
                    "to link; only a Printify shop links to its Etsy connection."
                )
            ids = await authz.get_accessible_org_ids(session, auth_subject)
            linked = await PlatformConnectionRepository.from_session(session).get_for_organizations(
                linked_connection_id, ids
            )
            if linked is None or linked.organization_id != connection.organization_id:
                raise InvalidLink("linked_connection_id: no such connection in this workspace.")
            if linked.platform not in allowed:
                raise InvalidLink(
                    f"linked_connection_id: that is a {linked.platform} connection; link a "
                    f"{' or '.join(sorted(allowed))} connection."
                )
            if linked.sandbox != connection.sandbox:
                raise InvalidLink(
                    "linked_connection_id: link a sandbox connection to a sandbox one and a "
                    "live one to a live one."
                )
        connection.linked_connection_id = linked_connection_id
        await session.flush()
        await audit_service.record(
            session,
            auth_subject,
            action="connection.linked",
            organization_id=connection.organization_id,
            target_type="connection",
            target_id=connection.id,
            details={
                "linked_connection_id": str(linked_connection_id) if linked_connection_id else None
            },
        )
        return connection

    # --- listing defaults (connector/settings.py) ---------------------------------------------

    def listing_defaults(self, connection: PlatformConnection) -> dict[str, Any]:
        """The creator's listing defaults of this connection (publishing/payload.py passes
        them into every payload's options)."""
        return listing_settings.listing_defaults(connection)

    def missing_settings(
        self, connection: PlatformConnection
    ) -> builtins.list[listing_settings.MissingSetting]:
        """Required listing defaults that are neither set nor known from the account."""
        return listing_settings.missing_settings(connection)

    async def update_settings(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        connection_id: uuid.UUID,
        changes: Mapping[str, Any],
    ) -> PlatformConnection:
        """Change the connection's listing defaults (a key set to None is cleared), checked
        against what the platform accepts; audited with the values before and after."""
        connection = await self._managed(
            session, auth_subject, connection_id, "connection.settings_changed"
        )
        before = self.listing_defaults(connection)
        after = await listing_settings.changed_defaults(session, connection, before, changes)
        account = dict(connection.account or {})
        if after:
            account[LISTING_DEFAULTS] = after
        else:
            account.pop(LISTING_DEFAULTS, None)
        # A new dict: the JSON column is not mutation-tracked.
        connection.account = account
        await session.flush()
        changed = sorted(k for k in {*before, *after} if before.get(k) != after.get(k))
        await audit_service.record(
            session,
            auth_subject,
            action="connection.settings_changed",
            organization_id=connection.organization_id,
            target_type="connection",
            target_id=connection.id,
            details={
                "platform": connection.platform,
                "changed": changed,
                "before": {k: before.get(k) for k in changed},
                "after": {k: after.get(k) for k in changed},
            },
        )
        return connection

    async def settings_choices(
        self, session: AsyncSession, connection: PlatformConnection
    ) -> listing_settings.SettingsChoices:
        """The shop's profiles (Etsy) or the catalog's blueprints (Printify) for the settings
        form; anything that stops the read gives empty lists and a note."""
        return await listing_settings.settings_choices(session, connection, self.open_context)

    def platforms(self) -> dict[str, PlatformConnector]:
        return all_connectors()


connection = ConnectionService()

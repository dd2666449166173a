"""OAuth 2.0 with PKCE for platform connections: the single-use `state` (stored hashed, ten
minutes), the code verifier (encrypted, bound to its state row), the URL the creator is sent
to, and the sandbox consent.

Sandbox mode: the connector is asked for its sandbox consent URL (`authorization_url(...,
sandbox=True)`, for a connector that takes it: its twin's app keys, e.g. Etsy's keystring as
`client_id`). When that page is on FlashFusion itself (the Etsy twin is mounted at
/sandbox/etsy), the creator goes through it as through the platform's; otherwise FlashFusion
asks the in-process twin's consent page itself and sends the creator straight to the callback.
"""

import base64
import hashlib
import inspect
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.config import get_settings
from flashfusion.connector.base import PlatformConnector
from flashfusion.connector.errors import (
    InvalidConnectionInput,
    InvalidOAuthState,
    PlatformUnavailable,
)
from flashfusion.connector.repository import OAuthStateRepository
from flashfusion.kit import encryption
from flashfusion.kit.crypto import keyed_hash, random_token
from flashfusion.models import APIKey, OAuthState, User, utc_now

OAUTH_STATE_TTL = timedelta(minutes=10)
CALLBACK_PATH = "/api/v1/connections/oauth/callback"
# RFC 7636 section 4.1: a verifier is 43-128 characters of [A-Z a-z 0-9 - . _ ~].
VERIFIER_BYTES = 64  # token_urlsafe(64) is 86 characters of that set
STATE_PURPOSE = "oauth_state"


def code_challenge(verifier: str) -> str:
    """PKCE S256: base64url(sha256(verifier)) without padding (RFC 7636 section 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def new_code_verifier() -> str:
    return secrets.token_urlsafe(VERIFIER_BYTES)


def state_aad(state_id: uuid.UUID) -> bytes:
    return encryption.bound_to("oauth_states", "encrypted_code_verifier", state_id)


def redirect_uri() -> str:
    """The callback URL to register with the platform (Etsy: the app's redirect URI)."""
    return get_settings().BASE_URL + CALLBACK_PATH


def check_return_url(return_url: str | None) -> None:
    if return_url is not None and (
        not return_url.startswith("/") or return_url.startswith("//") or "\\" in return_url
    ):
        raise InvalidConnectionInput("return_url: give a path on this site, e.g. /orgs/…")


async def new_state(
    session: AsyncSession,
    auth_subject: AuthSubject[Subject],
    *,
    organization_id: uuid.UUID,
    platform: str,
    sandbox: bool,
    connection_id: uuid.UUID | None,
    return_url: str | None,
) -> tuple[OAuthState, str, str]:
    """A stored state row, and the (state, verifier) that only the creator's flow knows."""
    state = random_token(32)
    verifier = new_code_verifier()
    row = OAuthState(
        id=uuid.uuid4(),
        state_hash=keyed_hash(state, purpose=STATE_PURPOSE),
        organization_id=organization_id,
        platform=platform,
        sandbox=sandbox,
        connection_id=connection_id,
        redirect_uri=redirect_uri(),
        return_url=return_url,
        expires_at=utc_now() + OAUTH_STATE_TTL,
    )
    subject = auth_subject.subject
    if isinstance(subject, User):
        row.user_id = subject.id
    elif isinstance(subject, APIKey):
        row.api_key_id = subject.id
        row.user_id = subject.created_by_user_id
    row.encrypted_code_verifier = encryption.encrypt(verifier, aad=state_aad(row.id))
    await OAuthStateRepository.from_session(session).create(row)
    return row, state, verifier


async def authorize_url(
    connector: PlatformConnector, row: OAuthState, *, state: str, verifier: str
) -> str:
    """Where to send the creator: the platform's consent page, or in sandbox mode the twin's
    (see the module docstring)."""
    scopes = list(getattr(connector, "oauth_scopes", None) or ())
    options: dict[str, Any] = {}
    if row.sandbox and _takes_sandbox(connector):
        # The sandbox consent URL, with the twin's app keys (Etsy: its keystring as client_id;
        # without it the live keystring, empty in sandbox mode, and the twin refuses).
        options["sandbox"] = True
    url = connector.authorization_url(
        redirect_uri=row.redirect_uri,
        state=state,
        code_challenge=code_challenge(verifier),
        scopes=scopes,
        **options,
    )
    if not row.sandbox or url.startswith(get_settings().BASE_URL.rstrip("/") + "/"):
        return url  # the browser reaches it: the platform, or the twin mounted on FlashFusion
    code = await sandbox_consent(connector, url)
    return f"{row.redirect_uri}?{httpx.QueryParams({'state': state, 'code': code})}"


def _takes_sandbox(connector: PlatformConnector) -> bool:
    """Whether `authorization_url` takes `sandbox=` (by name, or through **kwargs)."""
    parameters = inspect.signature(connector.authorization_url).parameters.values()
    return any(p.name == "sandbox" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


async def sandbox_consent(connector: PlatformConnector, url: str) -> str:
    """Ask the in-process twin's consent page for a code, as the creator's browser would after
    "Allow" (`auto_approve=1`: the twins' way of saying it without a form, sandbox/etsy.py)."""
    from flashfusion.connector.http import client_for

    parts = urlsplit(url)
    query = httpx.QueryParams(parts.query).set("auto_approve", "1")
    target = Target(connector.name, sandbox=True)
    try:
        async with client_for(target, connector) as client:
            response = await client.get(parts.path, params=query, follow_redirects=False)
    except httpx.HTTPError as e:
        raise PlatformUnavailable(
            f"The {connector.label} sandbox did not answer ({type(e).__name__}); try again."
        ) from None
    location = response.headers.get("location", "")
    code = parse_qs(urlsplit(location).query).get("code", [""])[0]
    if not (300 <= response.status_code < 400) or not code:
        raise PlatformUnavailable(
            f"The {connector.label} sandbox did not grant the authorization (HTTP "
            f"{response.status_code}); try again, or connect a live account."
        )
    return code


@dataclass
class Target:
    """What `connector.http.client_for` needs before a connection row exists (a connect, the
    code exchange): no base URL on a sandbox target means the in-process twin."""

    platform: str
    sandbox: bool
    base_url: str | None = None


async def claim_state(session: AsyncSession, state: str) -> tuple[OAuthState, str]:
    """The state row of a callback, used up (single use, ten minutes), and its verifier."""
    if not state:
        raise InvalidOAuthState("state: missing; start the connection again.")
    states = OAuthStateRepository.from_session(session)
    row = await states.by_hash(keyed_hash(state, purpose=STATE_PURPOSE), lock=True)
    if row is None:
        raise InvalidOAuthState(
            "state: unknown (it was not issued by FlashFusion); start the connection again."
        )
    if row.used_at is not None:
        raise InvalidOAuthState(
            "state: already used; each authorization link works once. Start again."
        )
    if row.expires_at <= utc_now():
        raise InvalidOAuthState(
            "state: expired (an authorization must be completed within 10 minutes); "
            "start the connection again."
        )
    row.used_at = utc_now()
    verifier = (
        encryption.decrypt(row.encrypted_code_verifier, aad=state_aad(row.id))
        if row.encrypted_code_verifier
        else ""
    )
    row.encrypted_code_verifier = None
    await session.flush()
    return row, verifier


async def return_url_of(session: AsyncSession, state: str) -> str | None:
    """Where a web flow returns to, for a callback that failed (None: answer JSON)."""
    if not state:
        return None
    row = await OAuthStateRepository.from_session(session).by_hash(
        keyed_hash(state, purpose=STATE_PURPOSE)
    )
    return row.return_url if row is not None else None

"""The request function a connector gets in its `ConnectionContext`, and the HTTP client behind it.

`build_request` wraps an injected `httpx.AsyncClient`. Every call, in this order:

1. waits for the connection's per-account rate limits (`connector.rate_limits` that apply to the
   call's operation group, counted in buckets shared by every process through the database,
   connector/ratelimit.py) -- it waits, it never fails, so callers stay inside the quotas and
   see no 429 in normal operation;
2. checks the connection's circuit breaker (connector/breaker.py): open means the call is not
   sent and `RetryableConnectorError("circuit_open", retry_after=<seconds to half-open>)` is
   raised;
3. sends with the platform's auth headers and explicit timeouts;
4. classifies the outcome: network errors and timeouts, 429 and 5xx are retryable (a 429's
   `Retry-After` also pauses the account's limiter, so the next callers wait too); any other
   4xx goes through `connector.translate_error`; 2xx/3xx are returned.

Only retryable failures count against the breaker: a terminal 4xx is the caller's data problem,
not the platform being down. Logs carry the method, the path (never the query string, which may
hold a secret), the status and the duration; never headers or bodies.
"""

import email.utils
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import structlog

from flashfusion import __version__
from flashfusion.config import get_settings
from flashfusion.connector import breaker as breaker_module
from flashfusion.connector import ratelimit
from flashfusion.connector.base import (
    ConnectorError,
    PlatformConnector,
    RetryableConnectorError,
)

if TYPE_CHECKING:
    from flashfusion.models.platform_connection import PlatformConnection

log = structlog.get_logger(__name__)

RequestFn = Callable[..., Awaitable[httpx.Response]]

# FlashFusion defaults (not platform figures): connect within 5 s, each read within 30 s.
CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 30.0
DEFAULT_TIMEOUT = httpx.Timeout(
    connect=CONNECT_TIMEOUT_SECONDS,
    read=READ_TIMEOUT_SECONDS,
    write=READ_TIMEOUT_SECONDS,
    pool=CONNECT_TIMEOUT_SECONDS,
)
# Printify requires a User-Agent (research/platform-apis.md section 1, UNVERIFIED against the
# official page); every platform gets one, which is harmless.
USER_AGENT = f"FlashFusion/{__version__}"

# Printful v2 sends `X-Ratelimit-Reset: <seconds to refill one token>` (research/platform-apis.md
# section 2, "Rate limits"); used only when a 429 has no Retry-After.
_RESET_HEADER = "x-ratelimit-reset"


class _HasBaseUrl(Protocol):
    platform: str
    sandbox: bool
    base_url: str | None


ACTION_TIMEOUT = "The platform did not answer in time; FlashFusion will try again shortly."
ACTION_NETWORK = "FlashFusion could not reach the platform; it will try again shortly."
ACTION_RATE_LIMITED = (
    "The platform asked FlashFusion to slow down; the call is retried once its quota allows."
)
ACTION_SERVER_ERROR = "The platform had a temporary problem; FlashFusion will try again shortly."
ACTION_CIRCUIT_OPEN = (
    "The platform failed several times in a row; FlashFusion pauses calls to it and tries "
    "again after a cool-down."
)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value: delay-seconds or an HTTP-date (RFC 9110
    section 10.2.3). None when absent or unreadable; never negative."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


def retry_after_of(response: httpx.Response, *, now: datetime | None = None) -> float | None:
    """How long a 429 asks us to wait: `Retry-After`, else Printful's `X-Ratelimit-Reset`."""
    found = parse_retry_after(response.headers.get("retry-after"), now=now)
    if found is None:
        found = parse_retry_after(response.headers.get(_RESET_HEADER), now=now)
    return found


def _log_path(url: httpx.URL) -> str:
    # The path only: query strings may carry secrets (api_key=..., code=...).
    return url.path


def account_key_for(
    connection_id: uuid.UUID, account_key: str | None, account_id: str | None
) -> str:
    """The rate-limit key of an account: the platform account id when known, else the
    connection (two connections to one shop share its quota only when the id is known)."""
    return account_key or account_id or str(connection_id)


def build_request(
    connector: PlatformConnector,
    *,
    connection_id: uuid.UUID,
    credentials: Mapping[str, str],
    client: httpx.AsyncClient,
    account_key: str | None = None,
    sandbox: bool = False,
    account_id: str | None = None,
    base_url: str | None = None,
) -> RequestFn:
    """The `ConnectionContext.request` function of one connection.

    `account_key` keys the rate-limit buckets (with the platform name); `account_id` is
    accepted as a synonym. `base_url` is used only when `client` has none (relative paths are
    joined to it). `sandbox` divides every quota window by `settings.SANDBOX_TIME_SCALE`, as
    the twins do.
    """
    key = account_key_for(connection_id, account_key, account_id)
    time_scale = get_settings().SANDBOX_TIME_SCALE if sandbox else 1.0
    join_base = base_url.rstrip("/") if base_url and not str(client.base_url) else None
    platform = connector.name

    async def request(
        method: str, url: str, *, group: str = "default", **kwargs: Any
    ) -> httpx.Response:
        if join_base is not None and not url.startswith(("http://", "https://")):
            url = join_base + "/" + url.lstrip("/")
        # The breaker first: an open circuit spends no quota, and its first (slower) read per
        # connection must not land between the limiter's grant and the call.
        await breaker_module.before_call(connection_id)
        await ratelimit.acquire(connector, key, group, time_scale=time_scale)

        headers = httpx.Headers(kwargs.pop("headers", None))
        headers.update(connector.auth_headers(credentials))
        headers.setdefault("User-Agent", USER_AGENT)
        kwargs.setdefault("timeout", DEFAULT_TIMEOUT)
        started = time.monotonic()
        target = client.build_request(method, url, headers=headers).url
        try:
            response = await client.request(method, url, headers=headers, **kwargs)
        except httpx.TimeoutException as e:
            await _failed(method, target, started, "timeout")
            raise RetryableConnectorError(
                "timeout", ACTION_TIMEOUT, platform_message=type(e).__name__
            ) from None
        except httpx.TransportError as e:
            # ConnectError, ReadError, RemoteProtocolError (a dropped connection), ...
            await _failed(method, target, started, "network")
            raise RetryableConnectorError(
                "network", ACTION_NETWORK, platform_message=type(e).__name__
            ) from None
        duration = time.monotonic() - started
        status = response.status_code
        log.info(
            "connector.http",
            platform=platform,
            method=method,
            path=_log_path(response.request.url),
            status=status,
            duration_ms=round(duration * 1000, 1),
        )
        if status < 400:
            await breaker_module.record_success(connection_id)
            return response
        error = _classify(connector, response)
        if status == 429 and error.retry_after is not None:
            await ratelimit.pause(connector, key, error.retry_after, time_scale=time_scale)
        if isinstance(error, RetryableConnectorError):
            await breaker_module.record_failure(connection_id)
        else:
            # The platform answered: it is up, whatever it thought of our data or token.
            await breaker_module.record_success(connection_id)
        raise error

    async def _failed(method: str, url: httpx.URL, started: float, code: str) -> None:
        log.warning(
            "connector.http",
            platform=platform,
            method=method,
            path=_log_path(url),
            error=code,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        )
        await breaker_module.record_failure(connection_id)

    return request


def _classify(connector: PlatformConnector, response: httpx.Response) -> ConnectorError:
    status = response.status_code
    if status == 429:
        return RetryableConnectorError(
            "rate_limited",
            ACTION_RATE_LIMITED,
            platform_message="HTTP 429 Too Many Requests",
            status=429,
            retry_after=retry_after_of(response),
        )
    translated = connector.translate_error(response)
    if status >= 500:
        if isinstance(translated, RetryableConnectorError):
            if translated.status is None:
                translated.status = status
            return translated
        return RetryableConnectorError(
            "server_error",
            ACTION_SERVER_ERROR,
            platform_message=f"HTTP {status}",
            status=status,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )
    if translated.status is None:
        translated.status = status
    return translated


# --- clients -------------------------------------------------------------------------------


def configured_base_url(connector: PlatformConnector, connection: _HasBaseUrl) -> str:
    """The base URL set for this connection or platform ("" when none: the default applies)."""
    if connection.base_url:
        return connection.base_url
    value = getattr(get_settings(), connector.base_url_setting, "") or ""
    return str(value)


def sandbox_base_url(service: str) -> str:
    return f"http://{service}.sandbox"


def client_for(
    connection: "PlatformConnection | _HasBaseUrl",
    connector: PlatformConnector | None = None,
) -> httpx.AsyncClient:
    """An HTTP client for `connection`. A sandbox connection talks to this process's in-process
    twin unless it has a base URL of its own (e.g. a `flashfusion sandbox serve` port); the
    platform's base URL setting is for live connections only, never picked up by a sandbox
    one. A live connection goes to its own base URL, else the setting, else the platform. The
    caller closes it."""
    if connector is None:
        from flashfusion.connector.registry import get_connector

        connector = get_connector(connection.platform)
    headers = {"User-Agent": USER_AGENT}
    if connection.sandbox and not connection.base_url:
        from flashfusion.sandbox import runtime

        service = connector.sandbox_service
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=runtime.app_for(service)),
            base_url=sandbox_base_url(service),
            headers=headers,
            timeout=DEFAULT_TIMEOUT,
        )
    configured = (
        connection.base_url if connection.sandbox else configured_base_url(connector, connection)
    )
    return httpx.AsyncClient(
        base_url=configured or connector.default_base_url,
        headers=headers,
        timeout=DEFAULT_TIMEOUT,
    )

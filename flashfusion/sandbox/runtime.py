"""Sandbox twins served in-process, for connections in sandbox mode.

A sandbox connection with no base URL of its own talks to its twin through
`httpx.ASGITransport(app=app_for(service))` (connector/http.py `client_for`): no port, no
network, and this process's credentials (connector/service.py `_credentials`). The platforms'
base URL settings are for live connections; a sandbox connection with a base URL of its own (a
`flashfusion sandbox serve` port) uses its stored credentials, which that twin accepts.
Each process builds one twin per service, on first use, with credentials generated for this
process (`credentials_for`), the quota time scale of `settings.SANDBOX_TIME_SCALE`, and a
`deliver` callable that posts the twin's webhooks to the FlashFusion app set with
`set_webhook_target` (also in-process, through `httpx.ASGITransport`).

Twins are found in `flashfusion.sandbox.SERVICES` (their `factory` and `options`), or, for a
service not listed there yet, at `flashfusion.sandbox.<service>:create_app`. Their
`create_app` takes keyword arguments among `tokens=`, `api_keys=`, `time_scale=` and `deliver=`;
only those it declares are passed.
"""

import base64
import importlib
import inspect
import secrets
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog
from starlette.types import ASGIApp

from flashfusion.config import get_settings

log = structlog.get_logger(__name__)

# The origin webhooks are posted to in-process (any name works: ASGITransport never resolves it).
WEBHOOK_ORIGIN = "http://flashfusion.sandbox"

_apps: dict[str, ASGIApp] = {}
_credentials: dict[str, dict[str, str]] = {}
_webhook_target: ASGIApp | None = None


class UnknownSandboxService(LookupError):
    """No twin of that name: neither in sandbox.SERVICES nor a sandbox module."""


def credentials_for(service: str) -> dict[str, str]:
    """The credentials this process's twin of `service` accepts (random, made once)."""
    found = _credentials.get(service)
    if found is None:
        found = _credentials[service] = _generate(service)
    return dict(found)


def _generate(service: str) -> dict[str, str]:
    if service == "etsy":
        # Etsy authenticates the app with x-api-key "keystring:shared_secret" and the shop
        # with an OAuth token obtained through the (twin's) PKCE flow.
        # Etsy signs webhooks with one app-wide secret (Standard Webhooks `whsec_<base64>`,
        # research/platform-apis.md section 3): the twin is given this one.
        return {
            "keystring": secrets.token_hex(12),
            "shared_secret": secrets.token_hex(10),
            "webhook_secret": "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
        }
    if service in ("printify", "printful"):
        # Printify personal access token / Printful private token: `Authorization: Bearer`.
        return {"access_token": secrets.token_urlsafe(32)}
    return {"api_key": secrets.token_urlsafe(32)}


def _factory(service: str) -> tuple[Callable[..., ASGIApp], Mapping[str, Any]]:
    from flashfusion.sandbox import SERVICES

    registered = SERVICES.get(service)
    if registered is not None:
        path, options = registered.factory, registered.options
    else:
        path, options = f"flashfusion.sandbox.{service}:create_app", {}
    module_name, _, function = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name != module_name:
            raise
        raise UnknownSandboxService(
            f"no sandbox twin named {service!r}: not in flashfusion.sandbox.SERVICES and "
            f"no module {module_name}"
        ) from None
    return getattr(module, function), options


def _secret_values(service: str) -> set[str]:
    credentials = credentials_for(service)
    if service == "etsy":
        return {f"{credentials['keystring']}:{credentials['shared_secret']}"}
    return {next(iter(credentials.values()))}


def _build(service: str) -> ASGIApp:
    create, options = _factory(service)
    parameters = inspect.signature(create).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())

    def accepts(name: str) -> bool:
        return name in parameters or accepts_any

    kwargs: dict[str, Any] = dict(options)
    credentials = credentials_for(service)
    if service == "etsy" and "keystring" in parameters:
        kwargs["keystring"] = credentials["keystring"]
        if "shared_secret" in parameters:
            kwargs["shared_secret"] = credentials["shared_secret"]
    elif "tokens" in parameters:
        kwargs["tokens"] = _secret_values(service)
    elif "api_keys" in parameters or accepts_any:
        kwargs["api_keys"] = _secret_values(service)
    if service == "etsy" and "webhook_secret" in parameters:
        kwargs["webhook_secret"] = credentials["webhook_secret"]
    if accepts("time_scale"):
        kwargs["time_scale"] = get_settings().SANDBOX_TIME_SCALE
    if accepts("deliver"):
        kwargs["deliver"] = deliver
    return create(**kwargs)


def app_for(service: str) -> ASGIApp:
    """This process's twin of `service`, created on first use."""
    app = _apps.get(service)
    if app is None:
        app = _apps[service] = _build(service)
    return app


def set_webhook_target(asgi_app: ASGIApp | None) -> None:
    """Where in-process twins deliver their webhooks: the FlashFusion app (None: nowhere)."""
    global _webhook_target
    _webhook_target = asgi_app


def webhook_target() -> ASGIApp | None:
    """The app in-process twins post their webhooks to (and fetch its own URLs from)."""
    return _webhook_target


class WebhookNotDelivered(RuntimeError):
    """A twin's webhook found no target, or the app did not answer 2xx: the twin keeps it."""


async def deliver(url: str, headers: Mapping[str, str], body: bytes) -> httpx.Response:
    """Post one webhook delivery to the webhook target, keeping only the URL's path and query
    (the twin was given the public URL; in-process it goes straight to the app). Raises
    `WebhookNotDelivered` when no target is set or the app does not answer 2xx, which every
    twin treats as a failed delivery to try again later."""
    target = _webhook_target
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    if target is None:
        log.warning("sandbox.webhook_undelivered", path=parts.path, reason="no target set")
        raise WebhookNotDelivered("no webhook target is set (sandbox.runtime.set_webhook_target)")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=target), base_url=WEBHOOK_ORIGIN
    ) as client:
        response = await client.post(path, headers=dict(headers), content=body)
    if not response.is_success:
        raise WebhookNotDelivered(f"the app answered {response.status_code} to {parts.path}")
    return response


def reset() -> None:
    """Forget every twin, credential and the webhook target (tests)."""
    global _webhook_target
    _apps.clear()
    _credentials.clear()
    _webhook_target = None


def lazy_app(service: str) -> ASGIApp:
    """An ASGI app that forwards to this process's twin of `service`, made on first request
    (for mounting, e.g. the Etsy twin's OAuth consent page at /sandbox/etsy, which the
    creator's browser must reach)."""

    async def forward(scope: Any, receive: Any, send: Any) -> None:
        await app_for(service)(scope, receive, send)

    return forward

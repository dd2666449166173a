"""What the creator sets on a connection, checked: the connect form (credential fields, a
served twin's base URL), and the listing defaults -- what a platform needs on every listing
that FlashFusion cannot learn from the product (Etsy's who_made, shipping and processing
profiles, category; Printify's blueprint per product type; Printful's technique), chosen once
per connection, checked against what the platform accepts, with the choices the settings
form offers (read from the platform). The defaults are kept in `account["listing_defaults"]`;
publishing/payload.py passes them into every payload's options.
"""

import builtins
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.connector import token as token_health
from flashfusion.connector.base import ConnectionContext, ConnectorError, PlatformConnector
from flashfusion.connector.errors import InvalidConnectionInput, InvalidConnectionSetting
from flashfusion.connector.registry import all_connectors
from flashfusion.connector.schemas import (
    LISTING_DEFAULTS,
    PRINTIFY_PRODUCTS,
    SETTINGS,
    SettingSpec,
)
from flashfusion.models import ConnectionStatus, PlatformConnection

OpenContext = Callable[
    [AsyncSession, PlatformConnection], AbstractAsyncContextManager[ConnectionContext]
]


@dataclass
class MissingSetting:
    name: str
    message: str


@dataclass
class SettingsChoices:
    """What the settings form offers, read from the platform (empty lists: number inputs)."""

    shipping_profiles: builtins.list[tuple[int, str]] = field(default_factory=builtins.list)
    processing_profiles: builtins.list[tuple[int, str]] = field(default_factory=builtins.list)
    blueprints: builtins.list[tuple[int, str]] = field(default_factory=builtins.list)
    # Why nothing was read (shown beside the number inputs), None when it was.
    note: str | None = None


# --- the connect form -------------------------------------------------------------------------

MAX_CREDENTIAL_LENGTH = 4096


def check_credentials(
    connector: PlatformConnector, credentials: Mapping[str, Any]
) -> dict[str, str]:
    """The connect form's credential fields, each required and pasted as shown."""
    declared = {f.name for f in connector.credential_fields}
    unknown = sorted(set(credentials) - declared)
    if unknown:
        allowed = ", ".join(sorted(declared)) or "none"
        raise InvalidConnectionInput(
            f"credentials.{unknown[0]}: not a field of {connector.label} (fields: {allowed})."
        )
    cleaned: dict[str, str] = {}
    for spec in connector.credential_fields:
        value = credentials.get(spec.name)
        if not isinstance(value, str) or not value.strip():
            raise InvalidConnectionInput(
                f"credentials.{spec.name}: {spec.label} is required ({spec.help})"
            )
        value = value.strip()
        if len(value) > MAX_CREDENTIAL_LENGTH or any(c.isspace() for c in value):
            raise InvalidConnectionInput(
                f"credentials.{spec.name}: paste the {spec.label} exactly as shown, without "
                f"spaces (at most {MAX_CREDENTIAL_LENGTH} characters)."
            )
        cleaned[spec.name] = value
    return cleaned


def served_twin_url(base_url: str, sandbox: bool) -> str:
    """The base URL of a served sandbox twin, checked (only sandbox connections take one)."""
    if not sandbox:
        raise InvalidConnectionInput(
            "base_url: only a sandbox connection takes a base URL (a `flashfusion sandbox "
            "serve` port); a live one uses the platform's."
        )
    url = base_url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise InvalidConnectionInput(
            "base_url: give the twin's URL as `flashfusion sandbox serve` printed it, e.g. "
            "http://127.0.0.1:8710."
        )
    return url[:300]  # the column's length


# --- listing defaults -----------------------------------------------------------------------


def _label(platform: str) -> str:
    connector = all_connectors().get(platform)
    return connector.label if connector is not None else platform


def _choice(spec: SettingSpec, value: Any) -> str:
    if not isinstance(value, str) or value not in spec.choices:
        raise InvalidConnectionSetting(
            f"{spec.name} must be one of {', '.join(spec.choices)} ({spec.source})."
        )
    return value


# specs/etsy/baseline.json: Etsy ids are `"type": "integer", "format": "int64", "minimum": 1`.
MAX_ID = 2**63 - 1


def _platform_id(name: str, value: Any, what: str) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None or not 1 <= number <= MAX_ID:
        raise InvalidConnectionSetting(
            f"{name} must be a positive integer ({what}), or null to clear it."
        )
    return number


def _processing_label(profile: Mapping[str, Any]) -> str:
    """A processing profile as Etsy shows it: "made to order · 1-3 days"."""
    state = str(profile.get("readiness_state") or "").replace("_", " ")
    days = profile.get("processing_days_display_label")
    return " · ".join(part for part in (state, str(days) if days else "") if part)


def listing_defaults(connection: PlatformConnection) -> dict[str, Any]:
    """The creator's listing defaults of this connection (publishing/payload.py passes
    them into every payload's options)."""
    found = (connection.account or {}).get(LISTING_DEFAULTS)
    return dict(found) if isinstance(found, dict) else {}


def missing_settings(connection: PlatformConnection) -> list[MissingSetting]:
    """Required listing defaults that are neither set nor known from the account: the
    platform refuses every listing until they are."""
    defaults = listing_defaults(connection)
    account = connection.account or {}
    label = _label(connection.platform)
    return [
        MissingSetting(
            spec.name,
            f"{label} needs '{spec.label.lower()}' before publishing: set it in this "
            "connection's settings.",
        )
        for spec in SETTINGS.get(connection.platform, ())
        if spec.required
        and defaults.get(spec.name) in (None, "")
        and account.get(spec.name) in (None, "")
    ]


async def changed_defaults(
    session: AsyncSession,
    connection: PlatformConnection,
    current: Mapping[str, Any],
    changes: Mapping[str, Any],
) -> dict[str, Any]:
    """`current` with `changes` applied (a key set to None or "" is cleared), each value
    checked against what the platform accepts (InvalidConnectionSetting names the field)."""
    specs = {spec.name: spec for spec in SETTINGS.get(connection.platform, ())}
    updated = dict(current)
    for name, value in changes.items():
        spec = specs.get(name)
        if spec is None:
            allowed = ", ".join(specs) or "none"
            raise InvalidConnectionSetting(
                f"listing_defaults.{name}: not a listing default of "
                f"{_label(connection.platform)} connections (they have: {allowed})."
            )
        if name == PRINTIFY_PRODUCTS:
            chosen = await _printify_products(session, connection, updated.get(name), value)
            if chosen:
                updated[name] = chosen
            else:
                updated.pop(name, None)
        elif value is None or value == "":
            updated.pop(name, None)
        elif spec.choices:
            updated[name] = _choice(spec, value)
        else:
            updated[name] = _platform_id(name, value, spec.source)
    return updated


async def _printify_products(
    session: AsyncSession,
    connection: PlatformConnection,
    current: Any,
    value: Any,
) -> dict[str, dict[str, int]]:
    """Merge `{product type: {blueprint_id, print_provider_id} | None}` into the current
    choices; product types are the workspace catalog's keys (aliases resolved)."""
    from flashfusion.catalog.registry import UnknownProductType, resolve_key
    from flashfusion.catalog.service import catalog as catalog_service

    chosen: dict[str, dict[str, int]] = dict(current) if isinstance(current, dict) else {}
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidConnectionSetting(
            f"{PRINTIFY_PRODUCTS} must be an object of product type → "
            '{"blueprint_id": …, "print_provider_id": …}.'
        )
    catalog = await catalog_service.effective(session, connection.organization_id)
    for raw_key, entry in value.items():
        try:
            key = resolve_key(catalog, str(raw_key))
        except UnknownProductType as e:
            raise InvalidConnectionSetting(f"{PRINTIFY_PRODUCTS}.{raw_key}: {e}"[:500]) from None
        where = f"{PRINTIFY_PRODUCTS}.{key}"
        if entry is None:
            chosen.pop(key, None)
            continue
        if not isinstance(entry, Mapping):
            raise InvalidConnectionSetting(
                f'{where} must be {{"blueprint_id": …, "print_provider_id": …}} or null.'
            )
        unknown = sorted(set(entry) - {"blueprint_id", "print_provider_id"})
        if unknown:
            raise InvalidConnectionSetting(
                f"{where}.{unknown[0]}: not a Printify setting (blueprint_id, print_provider_id)."
            )
        blueprint = entry.get("blueprint_id")
        provider = entry.get("print_provider_id")
        if blueprint in (None, "") and provider in (None, ""):
            chosen.pop(key, None)
            continue
        if blueprint in (None, ""):
            raise InvalidConnectionSetting(
                f"{where}.blueprint_id: choose the blueprint too; a print provider id "
                "belongs to one blueprint."
            )
        picked = {
            "blueprint_id": _platform_id(
                f"{where}.blueprint_id", blueprint, "a Printify blueprint id"
            )
        }
        if provider not in (None, ""):
            picked["print_provider_id"] = _platform_id(
                f"{where}.print_provider_id", provider, "a Printify print provider id"
            )
        chosen[key] = picked
    return chosen


async def settings_choices(
    session: AsyncSession, connection: PlatformConnection, open_context: OpenContext
) -> SettingsChoices:
    """The shop's shipping and processing profiles (Etsy) or the catalog's blueprints
    (Printify), read through the connector for the settings form. Anything that stops
    the read gives empty lists and a note: the form falls back to number inputs."""
    from flashfusion.connector.platforms.etsy.connector import API as ETSY_API

    if connection.platform not in ("etsy", "printify"):
        return SettingsChoices()
    if connection.status != ConnectionStatus.active:
        return SettingsChoices(note="The connection is not active: enter the ids.")
    if token_health.needs_refresh(connection):
        # A refresh writes the rotated token, which a page view must not do (read-only
        # unit of work): the next publish or sync refreshes it.
        return SettingsChoices(
            note="The access token is due for a refresh: enter the ids, or reload later."
        )
    choices = SettingsChoices()
    try:
        async with open_context(session, connection) as ctx:
            if connection.platform == "etsy":
                shop = ctx.account_id or ctx.account.get("shop_id")
                shipping = await ctx.request("GET", f"{ETSY_API}/shops/{shop}/shipping-profiles")
                choices.shipping_profiles = [
                    (int(p["shipping_profile_id"]), str(p.get("title") or ""))
                    for p in shipping.json().get("results", [])
                    if not p.get("is_deleted")
                ]
                readiness = await ctx.request(
                    "GET", f"{ETSY_API}/shops/{shop}/readiness-state-definitions"
                )
                choices.processing_profiles = [
                    (int(p["readiness_state_id"]), _processing_label(p))
                    for p in readiness.json().get("results", [])
                ]
            else:
                blueprints = await ctx.request(
                    "GET", "/v1/catalog/blueprints.json", group="catalog"
                )
                choices.blueprints = [
                    (int(b["id"]), str(b.get("title") or "")) for b in blueprints.json()
                ]
    except ConnectorError as e:
        return SettingsChoices(
            note=f"{_label(connection.platform)} could not be read ({e.action}): enter the ids."
        )
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return SettingsChoices(
            note=f"{_label(connection.platform)} answered something unexpected: enter the ids."
        )
    return choices

"""The platform connectors, loaded once from the entry-point group `flashfusion.connectors`.

FlashFusion's own connectors are declared in pyproject.toml like any third party's; a package
can add one by declaring a `PlatformConnector` subclass in the same group. A connector that
fails to import or does not declare what the contract requires is skipped with a warning: one
broken plug-in must not take the app down.
"""

import importlib
from functools import cache
from importlib.metadata import EntryPoint, entry_points

import structlog

from flashfusion.connector.base import AuthKind, Capability, PlatformConnector, RateLimit
from flashfusion.exceptions import ResourceNotFound

log = structlog.get_logger(__name__)

GROUP = "flashfusion.connectors"

# The connectors FlashFusion ships (the same as pyproject.toml declares). They are loaded even
# when the installed package metadata predates them (an editable install made before they were
# added lists no entry points until it is reinstalled).
BUILTIN = {
    "printify": "flashfusion.connector.platforms.printify.connector:PrintifyConnector",
    "printful": "flashfusion.connector.platforms.printful.connector:PrintfulConnector",
    "etsy": "flashfusion.connector.platforms.etsy.connector:EtsyConnector",
}


class UnknownPlatform(ResourceNotFound):
    """No connector of that name is installed."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__("Platform")
        listed = ", ".join(known) or "none"
        self.detail = f"Unknown platform {name!r}: choose one of {listed}."
        self.args = (self.detail,)


class InvalidConnector(Exception):
    """A connector class that does not declare what the contract requires."""


def validate(cls: object) -> type[PlatformConnector]:
    """The class, if it is a complete PlatformConnector (else InvalidConnector naming what)."""
    if not isinstance(cls, type) or not issubclass(cls, PlatformConnector):
        raise InvalidConnector(f"{cls!r} is not a PlatformConnector subclass")
    problems = []
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name or not name.isidentifier():
        problems.append("name (a lower-case identifier)")
    if not isinstance(getattr(cls, "label", None), str) or not cls.label:
        problems.append("label")
    if not isinstance(getattr(cls, "auth_kind", None), AuthKind):
        problems.append("auth_kind (an AuthKind)")
    capabilities = getattr(cls, "capabilities", None)
    if not isinstance(capabilities, frozenset) or not all(
        isinstance(c, Capability) for c in capabilities
    ):
        problems.append("capabilities (a frozenset of Capability)")
    limits = getattr(cls, "rate_limits", None)
    if not isinstance(limits, tuple) or not all(isinstance(r, RateLimit) for r in limits):
        problems.append("rate_limits (a tuple of RateLimit)")
    if getattr(cls, "__abstractmethods__", None):
        problems.append("methods " + ", ".join(sorted(cls.__abstractmethods__)))
    if problems:
        raise InvalidConnector(f"{cls.__module__}.{cls.__qualname__} lacks " + "; ".join(problems))
    return cls


def _load_path(path: str) -> object:
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def _discovered() -> list[tuple[str, str, object]]:
    """(entry-point name, where from, the loader) for every declared connector."""
    found: list[tuple[str, str, object]] = []
    names = set()
    for point in entry_points(group=GROUP):
        found.append((point.name, point.value, point))
        names.add(point.name)
    for name, path in BUILTIN.items():
        if name not in names:
            found.append((name, path, path))
    return found


def _load(loader: object) -> object:
    if isinstance(loader, EntryPoint):
        return loader.load()
    if isinstance(loader, str):
        return _load_path(loader)
    return loader


@cache
def all_connectors() -> dict[str, PlatformConnector]:
    """Every usable connector by platform name (instances, loaded once)."""
    connectors: dict[str, PlatformConnector] = {}
    for entry_name, where, loader in _discovered():
        try:
            cls = validate(_load(loader))
            instance = cls()
        except Exception as e:  # noqa: BLE001 -- a broken plug-in is skipped, not fatal
            log.warning(
                "connector.skipped", entry_point=entry_name, target=where, reason=str(e)[:300]
            )
            continue
        if instance.name in connectors:
            log.warning(
                "connector.skipped",
                entry_point=entry_name,
                target=where,
                reason=f"a connector named {instance.name!r} is already registered",
            )
            continue
        connectors[instance.name] = instance
    return dict(sorted(connectors.items()))


def get_connector(platform: str) -> PlatformConnector:
    """The connector of `platform` (UnknownPlatform, a 404 listing the known ones, if none)."""
    connectors = all_connectors()
    found = connectors.get(platform)
    if found is None:
        raise UnknownPlatform(platform, list(connectors))
    return found


def reset() -> None:
    """Forget the loaded connectors (tests that register their own)."""
    all_connectors.cache_clear()

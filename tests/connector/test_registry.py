"""The connector registry: entry points of the group `flashfusion.connectors`, validated; a
broken or incomplete plug-in is skipped with a warning; unknown names are a 404 that lists the
known platforms."""

from importlib.metadata import EntryPoint
from typing import Any

import pytest
import structlog

from flashfusion.connector import registry
from flashfusion.connector.base import AuthKind, Capability
from flashfusion.connector.registry import (
    InvalidConnector,
    UnknownPlatform,
    all_connectors,
    get_connector,
    validate,
)
from tests.connector import (
    FakeOAuthConnector,
    FakeTokenConnector,
    fake_entry_points,
)


@pytest.fixture
def points(monkeypatch: pytest.MonkeyPatch) -> list[EntryPoint]:
    found: list[EntryPoint] = []
    monkeypatch.setattr(registry, "BUILTIN", {})
    monkeypatch.setattr(registry, "entry_points", lambda group: list(found))
    registry.reset()
    yield found
    registry.reset()


class MissingLimits(FakeTokenConnector):
    name = "missinglimits"
    rate_limits = None  # type: ignore[assignment]


class NoName(FakeTokenConnector):
    name = ""


def test_loads_each_entry_point_once_as_an_instance(points: list[EntryPoint]) -> None:
    points += fake_entry_points(FakeTokenConnector, FakeOAuthConnector)
    connectors = all_connectors()
    assert list(connectors) == ["fakeoauth", "faketoken"]
    assert isinstance(connectors["faketoken"], FakeTokenConnector)
    assert get_connector("faketoken") is connectors["faketoken"]
    assert get_connector("fakeoauth").auth_kind == AuthKind.oauth_pkce
    assert Capability.webhooks in get_connector("faketoken").capabilities


def test_unknown_platform_is_a_404_listing_the_known_ones(points: list[EntryPoint]) -> None:
    points += fake_entry_points(FakeTokenConnector, FakeOAuthConnector)
    with pytest.raises(UnknownPlatform) as raised:
        get_connector("shopify")
    assert raised.value.status_code == 404
    assert raised.value.detail == "Unknown platform 'shopify': choose one of fakeoauth, faketoken."


def test_broken_and_incomplete_plugins_are_skipped_with_a_warning(
    points: list[EntryPoint],
) -> None:
    points += fake_entry_points(FakeTokenConnector)
    points += [
        EntryPoint(name="gone", value="no_such_package.connector:Gone", group=registry.GROUP),
        EntryPoint(
            name="limits", value="tests.connector.test_registry:MissingLimits", group=registry.GROUP
        ),
        EntryPoint(name="dup", value="tests.connector:FakeTokenConnector", group=registry.GROUP),
    ]
    with structlog.testing.capture_logs() as logs:
        connectors = all_connectors()
    assert list(connectors) == ["faketoken"]
    skipped = {
        entry["entry_point"]: entry["reason"]
        for entry in logs
        if entry["event"] == "connector.skipped"
    }
    assert skipped == {
        "gone": "No module named 'no_such_package'",
        "limits": "tests.connector.test_registry.MissingLimits lacks rate_limits (a tuple of "
        "RateLimit)",
        "dup": "a connector named 'faketoken' is already registered",
    }


def test_builtin_connectors_load_even_when_package_metadata_is_stale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(registry, "entry_points", lambda group: [])
    monkeypatch.setattr(registry, "BUILTIN", {"faketoken": "tests.connector:FakeTokenConnector"})
    registry.reset()
    try:
        assert list(all_connectors()) == ["faketoken"]
    finally:
        registry.reset()


@pytest.mark.parametrize(
    ("cls", "problem"),
    [
        (MissingLimits, "rate_limits (a tuple of RateLimit)"),
        (NoName, "name (a lower-case identifier)"),
        (dict, "is not a PlatformConnector subclass"),
    ],
)
def test_validate_names_what_is_missing(cls: Any, problem: str) -> None:
    with pytest.raises(InvalidConnector, match=problem.replace("(", r"\(").replace(")", r"\)")):
        validate(cls)


def test_the_shipped_connectors_are_declared_in_pyproject() -> None:
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["flashfusion.connectors"] == registry.BUILTIN

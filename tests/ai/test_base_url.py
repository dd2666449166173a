"""Workspace base URLs: http(s) with a host, no credentials, and in production never an internal
address (a workspace must not make the server call its own network)."""

from types import SimpleNamespace

import pytest

from flashfusion.ai import settings_service
from flashfusion.ai.settings_service import InvalidCredential, _check_base_url
from flashfusion.config import Environment


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        settings_service, "get_settings", lambda: SimpleNamespace(ENV=Environment.production)
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:11434/v1",
        "http://localhost:8080/v1",
        "http://10.0.0.5/v1",
        "http://192.168.1.20/v1",
        "http://169.254.169.254/latest",
        "http://[::1]/v1",
        "http://ollama.internal/v1",
        "http://printer.local/v1",
    ],
)
def test_internal_addresses_are_refused_in_production(production: None, url: str) -> None:
    with pytest.raises(InvalidCredential) as caught:
        _check_base_url(url)
    assert caught.value.detail.startswith("base_url: points at a private or loopback address")
    assert "FLASHFUSION_LOCAL_AI_BASE_URL" in caught.value.detail


def test_public_addresses_are_kept_in_production(production: None) -> None:
    assert _check_base_url(" https://proxy.example.com/v1/ ") == "https://proxy.example.com/v1"
    assert _check_base_url("https://8.8.8.8/v1") == "https://8.8.8.8/v1"


def test_internal_addresses_are_allowed_outside_production() -> None:
    # Development and tests point providers at the sandbox twins on this machine.
    assert _check_base_url("http://127.0.0.1:9000/v1") == "http://127.0.0.1:9000/v1"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/v1", "base_url: must be an http:// or https:// URL with a host"),
        ("https://user:pw@example.com/v1", "base_url: must not contain a user name or password"),
    ],
)
def test_malformed_urls_name_the_field(url: str, message: str) -> None:
    with pytest.raises(InvalidCredential) as caught:
        _check_base_url(url)
    assert caught.value.detail.startswith(message)

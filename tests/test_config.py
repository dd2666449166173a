"""Settings: the secret key (generated into HOME, 0600; required in production), URLs, proxies."""

import os
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from flashfusion.app import create_app
from flashfusion.config import (
    ConfigurationError,
    Environment,
    Settings,
    get_settings,
    normalize_database_url,
    sync_database_url,
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No FLASHFUSION_* variable from the test harness leaks into the Settings under test."""
    for name in list(os.environ):
        if name.startswith("FLASHFUSION_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_development_generates_a_secret_key_file_readable_only_by_the_owner(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    settings = Settings(HOME=home)
    assert settings.ENV == Environment.development
    assert settings.SECRET_KEY is None
    key = settings.secret_key()
    path = home / "secret_key"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == key.decode() + "\n"
    # token_urlsafe(48): 64 characters, 384 bits.
    assert len(key) == 64
    # Stable across restarts: the second read returns the same key, it is not regenerated.
    assert Settings(HOME=home).secret_key() == key


def test_two_homes_get_different_keys(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first = Settings(HOME=tmp_path / "a").secret_key()
    second = Settings(HOME=tmp_path / "b").secret_key()
    assert first != second


def test_secret_key_from_the_environment_wins_and_writes_no_file(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("FLASHFUSION_SECRET_KEY", "k" * 40)
    clean_env.setenv("FLASHFUSION_HOME", str(tmp_path))
    settings = Settings()
    assert settings.secret_key() == b"k" * 40
    assert not (tmp_path / "secret_key").exists()
    assert "k" * 40 not in repr(settings)  # SecretStr: never printed


def test_production_without_a_secret_key_refuses_with_instructions(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = Settings(HOME=tmp_path, ENV="production")
    with pytest.raises(ConfigurationError) as error:
        settings.secret_key()
    message = str(error.value)
    assert message.startswith("FLASHFUSION_SECRET_KEY is not set.")
    assert "python -c 'import secrets; print(secrets.token_urlsafe(48))'" in message
    assert "keep it stable" in message
    # Production never falls back to a generated file.
    assert not (tmp_path / "secret_key").exists()


def test_production_app_fails_fast_at_startup(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError):
        create_app(Settings(HOME=tmp_path, ENV="production"), run_jobs=False)


def test_short_secret_key_is_rejected(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as error:
        Settings(HOME=tmp_path, SECRET_KEY="too-short")
    assert "FLASHFUSION_SECRET_KEY must be at least 32 characters" in str(error.value)
    assert Settings(HOME=tmp_path, SECRET_KEY="x" * 32).secret_key() == b"x" * 32


def test_secret_key_file_readable_by_others_is_refused(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "secret_key"
    path.write_text("s" * 64 + "\n")
    path.chmod(0o644)
    with pytest.raises(ConfigurationError) as error:
        Settings(HOME=tmp_path).secret_key()
    assert str(error.value) == (
        f"{path} is readable by other users (mode 0o644); run `chmod 600 {path}`."
    )
    path.chmod(0o600)
    assert Settings(HOME=tmp_path).secret_key() == b"s" * 64


def test_short_secret_key_file_is_refused(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    path.write_text("short\n")
    path.chmod(0o600)
    with pytest.raises(ConfigurationError, match="shorter than 32 characters; delete it"):
        Settings(HOME=tmp_path).secret_key()


def test_defaults(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = Settings(HOME=tmp_path)
    assert settings.SESSION_IDLE_TIMEOUT_SECONDS == 30 * 60
    assert settings.SESSION_ABSOLUTE_TIMEOUT_SECONDS == 12 * 60 * 60
    assert settings.LOGIN_MAX_FAILURES_PER_HOUR == 100
    assert settings.LOGIN_FREE_FAILURES == 5
    assert settings.TRUSTED_PROXIES == []
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'flashfusion.db'}"
    assert settings.is_sqlite
    assert not settings.https
    assert settings.log_json is False
    assert Settings(HOME=tmp_path, ENV="production", SECRET_KEY="x" * 32).log_json is True


def test_harness_settings_are_in_effect() -> None:
    settings = get_settings()
    assert settings.ENV == Environment.test
    assert settings.SECRET_KEY is not None
    assert settings.BASE_URL == "http://testserver"


def test_trusted_proxies_parse_from_a_comma_separated_variable(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("FLASHFUSION_HOME", str(tmp_path))
    clean_env.setenv("FLASHFUSION_TRUSTED_PROXIES", " 10.0.0.0/8, 192.0.2.1 ,,2001:db8::/32")
    assert Settings().TRUSTED_PROXIES == ["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"]
    clean_env.setenv("FLASHFUSION_TRUSTED_PROXIES", "10.0.0.0/8,proxy.internal")
    with pytest.raises(ValidationError) as error:
        Settings()
    assert "TRUSTED_PROXIES: 'proxy.internal' is not an IP address or CIDR" in str(error.value)


def test_base_url_needs_a_scheme_and_loses_its_trailing_slash(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = Settings(HOME=tmp_path, BASE_URL="https://flashfusion.example/")
    assert settings.BASE_URL == "https://flashfusion.example"
    assert settings.https
    with pytest.raises(ValidationError, match="BASE_URL must start with http:// or https://"):
        Settings(HOME=tmp_path, BASE_URL="flashfusion.example")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_database_urls_are_normalized_to_the_async_drivers(url: str, expected: str) -> None:
    assert normalize_database_url(url) == expected


@pytest.mark.parametrize("url", ["mysql://u@h/db", "postgresql+asyncpg://u@h/db", "db.sqlite"])
def test_unsupported_database_urls_are_refused_with_instructions(url: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        normalize_database_url(url)
    assert str(error.value) == (
        "FLASHFUSION_DATABASE_URL must be a PostgreSQL URL (postgresql://user@host/db) "
        "or a SQLite URL (sqlite:///path/to/file.db)."
    )


def test_sync_database_url() -> None:
    assert sync_database_url("sqlite+aiosqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert sync_database_url("postgresql+psycopg://u@h/db") == "postgresql://u@h/db"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("PASSWORD_HASH_MEMORY_KIB", 19455),
        ("PASSWORD_HASH_TIME_COST", 1),
        ("SESSION_IDLE_TIMEOUT_SECONDS", 0),
        ("LOGIN_MAX_FAILURES_PER_HOUR", 0),
    ],
)
def test_unsafe_values_are_refused(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, field: str, value: int
) -> None:
    with pytest.raises(ValidationError) as error:
        Settings(HOME=tmp_path, **{field: value})
    assert field in str(error.value)

"""One settings class for the whole process, read from `FLASHFUSION_*` environment variables."""

import contextlib
import ipaddress
import os
import secrets
import stat
import tempfile
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SECRET_KEY_FILE = "secret_key"
# Below this length a key gives less than 256 bits of HMAC/AES key material after derivation.
MIN_SECRET_KEY_LENGTH = 32


class Environment(StrEnum):
    development = "development"
    production = "production"
    test = "test"


class EmailBackend(StrEnum):
    file = "file"
    smtp = "smtp"


class MediaBackend(StrEnum):
    local = "local"
    s3 = "s3"


class ConfigurationError(Exception):
    """A setting is missing or invalid; the message says how to fix it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLASHFUSION_", extra="ignore")

    ENV: Environment = Environment.development
    HOME: Path = Field(
        default=Path("./.flashfusion"),
        description="Directory for the embedded database, media, mail and the secret key.",
    )
    DATABASE_URL: str = Field(
        default="",
        description="SQLAlchemy URL. Empty means a SQLite file in HOME (WAL mode).",
    )
    SECRET_KEY: SecretStr | None = Field(
        default=None,
        description="Master secret for HMACs and encryption keys. Generated into HOME when unset "
        "(development only).",
    )
    BASE_URL: str = Field(
        default="http://127.0.0.1:8000", description="Public URL used in emails and cookies."
    )
    WORKER_ID: str = Field(
        default="local",
        description="Stable, unique job-executor id of this process (DBOS executor_id).",
    )
    # Executors silent for longer than this have their running jobs resumed elsewhere.
    JANITOR_EXECUTOR_TIMEOUT_SECONDS: float = Field(default=300.0, gt=0)
    JANITOR_INTERVAL_SECONDS: float = Field(default=30.0, gt=0)
    HEARTBEAT_INTERVAL_SECONDS: float = Field(default=10.0, gt=0)
    JOBS_ENABLED: bool = Field(
        default=True, description="Run the in-process job executor inside `serve`."
    )

    # Email
    EMAIL_BACKEND: EmailBackend = EmailBackend.file
    EMAIL_FROM: str = "FlashFusion <no-reply@flashfusion.local>"
    SMTP_HOST: str = "127.0.0.1"
    SMTP_PORT: int = 25
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: SecretStr | None = None
    SMTP_STARTTLS: bool = False
    SMTP_TIMEOUT_SECONDS: float = 10.0

    # Sessions: NIST SP 800-63B section 4.2.3 (AAL2) -- reauthenticate after 12 hours,
    # and after 30 minutes of inactivity.
    SESSION_IDLE_TIMEOUT_SECONDS: int = Field(default=30 * 60, gt=0)
    SESSION_ABSOLUTE_TIMEOUT_SECONDS: int = Field(default=12 * 60 * 60, gt=0)
    MFA_CHALLENGE_TIMEOUT_SECONDS: int = Field(default=5 * 60, gt=0)

    # Tokens mailed to users.
    EMAIL_VERIFICATION_TTL_SECONDS: int = Field(default=24 * 60 * 60, gt=0)
    PASSWORD_RESET_TTL_SECONDS: int = Field(default=60 * 60, gt=0)
    INVITATION_TTL_SECONDS: int = Field(default=7 * 24 * 60 * 60, gt=0)

    # Argon2id; the floor is OWASP's Password Storage Cheat Sheet minimum (19 MiB, t=2, p=1).
    PASSWORD_HASH_MEMORY_KIB: int = Field(default=65536, ge=19456)
    PASSWORD_HASH_TIME_COST: int = Field(default=3, ge=2)
    PASSWORD_HASH_PARALLELISM: int = Field(default=4, ge=1)

    # Brute-force protection (ASVS 2.2.1: no more than 100 failed attempts per hour per account).
    LOGIN_MAX_FAILURES_PER_HOUR: int = Field(default=100, ge=1)
    LOGIN_FREE_FAILURES: int = Field(default=5, ge=0)
    LOGIN_MAX_DELAY_SECONDS: int = Field(default=36, ge=1)
    LOGIN_IP_MAX_FAILURES_PER_15_MINUTES: int = Field(default=50, ge=1)
    TRUSTED_PROXIES: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated IPs/CIDRs whose X-Forwarded-For header is trusted.",
    )

    # Media (uploads, print files, mockups): a directory under HOME, or S3-compatible storage.
    MEDIA_BACKEND: MediaBackend = MediaBackend.local
    S3_ENDPOINT_URL: str = Field(default="", description="e.g. https://s3.eu-west-1.amazonaws.com")
    S3_BUCKET: str = ""
    S3_REGION: str = "us-east-1"
    S3_ACCESS_KEY_ID: str = ""
    S3_SECRET_ACCESS_KEY: SecretStr | None = None
    # Uploads: Printful accepts print files up to 50 MB (research/platform-apis.md, section 10);
    # the smaller reading of "MB" (10^6 bytes), as flashfusion/studio/upload.py explains.
    UPLOAD_MAX_BYTES: int = Field(default=50_000_000, gt=0)
    UPLOAD_MAX_PIXELS: int = Field(default=150_000_000, gt=0)
    # Threads one render uses (Pillow and numpy release the GIL while drawing and compressing).
    RENDER_THREADS: int = Field(default=2, ge=1, le=32)

    # AI providers for the whole instance (a workspace's own keys, set in AI settings, win).
    # No key: that provider is skipped and the built-in offline provider writes the copy.
    OPENAI_API_KEY: SecretStr | None = None
    OPENAI_BASE_URL: str = ""
    ANTHROPIC_API_KEY: SecretStr | None = None
    ANTHROPIC_BASE_URL: str = ""
    GEMINI_API_KEY: SecretStr | None = None
    GEMINI_BASE_URL: str = ""
    XAI_API_KEY: SecretStr | None = None
    XAI_BASE_URL: str = ""
    PERPLEXITY_API_KEY: SecretStr | None = None
    PERPLEXITY_BASE_URL: str = ""
    # An OpenAI-compatible server on your machine (Ollama, llama.cpp, vLLM), e.g.
    # http://127.0.0.1:11434/v1; empty: not used.
    LOCAL_AI_BASE_URL: str = ""
    LOCAL_AI_MODEL: str = ""
    AI_TIMEOUT_SECONDS: float = Field(default=60.0, gt=0, le=600)
    AI_CACHE_MAX_ENTRIES: int = Field(default=2048, ge=0)

    # USPTO TSDR (optional online status lookups; safeguard/trademark/tsdr.py). No key: unused.
    USPTO_TSDR_API_KEY: SecretStr | None = None
    USPTO_TSDR_BASE_URL: str = Field(
        default="", description="Empty: https://tsdrapi.uspto.gov/ts/cd (the twin in sandbox)."
    )

    # Commerce platforms (connector/). A connection is either to the real platform (the default
    # base URLs below, empty here) or to its sandbox twin (`sandbox=True` on the connection,
    # served in-process; or a `flashfusion sandbox serve` URL set here).
    PRINTIFY_BASE_URL: str = Field(default="", description="Empty: https://api.printify.com")
    PRINTFUL_BASE_URL: str = Field(default="", description="Empty: https://api.printful.com")
    ETSY_BASE_URL: str = Field(default="", description="Empty: https://openapi.etsy.com")
    # Etsy app credentials (Developer Portal): x-api-key is "keystring:shared_secret".
    ETSY_KEYSTRING: str = ""
    ETSY_SHARED_SECRET: SecretStr | None = None
    ETSY_OAUTH_URL: str = Field(default="", description="Empty: https://www.etsy.com/oauth/connect")
    ETSY_TOKEN_URL: str = Field(
        default="", description="Empty: https://api.etsy.com/v3/public/oauth/token"
    )
    # Etsy signs webhooks with one signing secret per app, shown in its webhook portal.
    ETSY_WEBHOOK_SECRET: SecretStr | None = None
    # Sandbox-mode connections only: every platform quota window is divided by this factor, in
    # the twins and in FlashFusion's own limiter alike (benchmarks run 30-minute windows in 30 s).
    SANDBOX_TIME_SCALE: float = Field(default=1.0, gt=0, le=3600)
    # Encryption of stored secrets: the key-encryption key comes from ENCRYPTION_KEY when set,
    # else from SECRET_KEY. PREVIOUS_ENCRYPTION_KEYS (comma-separated) still decrypt, so
    # `flashfusion secrets rotate` can re-wrap every value under the current key.
    ENCRYPTION_KEY: SecretStr | None = None
    PREVIOUS_ENCRYPTION_KEYS: SecretStr | None = None

    LOG_LEVEL: str = "INFO"
    LOG_JSON: bool | None = None

    @field_validator("TRUSTED_PROXIES", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as e:
                raise ValueError(f"TRUSTED_PROXIES: {item!r} is not an IP address or CIDR") from e
        return value

    @field_validator("BASE_URL")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("BASE_URL must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _check_secret(self) -> "Settings":
        if self.SECRET_KEY is not None and len(self.SECRET_KEY.get_secret_value()) < (
            MIN_SECRET_KEY_LENGTH
        ):
            raise ValueError(
                f"FLASHFUSION_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters; "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return self

    # --- derived values -------------------------------------------------------------

    @property
    def home(self) -> Path:
        return self.HOME.expanduser().resolve()

    @property
    def database_url(self) -> str:
        if self.DATABASE_URL:
            return normalize_database_url(self.DATABASE_URL)
        return f"sqlite+aiosqlite:///{self.home / 'flashfusion.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def https(self) -> bool:
        return self.BASE_URL.startswith("https://")

    @property
    def log_json(self) -> bool:
        if self.LOG_JSON is not None:
            return self.LOG_JSON
        return self.ENV == Environment.production

    def secret_key(self) -> bytes:
        """The master secret; generated once into HOME (0600) outside production."""
        if self.SECRET_KEY is not None:
            return self.SECRET_KEY.get_secret_value().encode()
        if self.ENV == Environment.production:
            raise ConfigurationError(
                "FLASHFUSION_SECRET_KEY is not set. In production the secret key must come from "
                "the environment: generate one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'` and set "
                "FLASHFUSION_SECRET_KEY to it (keep it stable: sessions, API keys and encrypted "
                "tokens depend on it)."
            )
        return _load_or_create_secret(self.home / SECRET_KEY_FILE)


def normalize_database_url(url: str) -> str:
    """Accept the URL forms people paste and pick the async driver we ship."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite:///"):
        url = "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    if not url.startswith(("postgresql+psycopg://", "sqlite+aiosqlite://")):
        raise ConfigurationError(
            "FLASHFUSION_DATABASE_URL must be a PostgreSQL URL (postgresql://user@host/db) "
            "or a SQLite URL (sqlite:///path/to/file.db)."
        )
    return url


def sync_database_url(async_url: str) -> str:
    """The same database for synchronous drivers (DBOS, Alembic)."""
    if async_url.startswith("sqlite+aiosqlite://"):
        return "sqlite://" + async_url[len("sqlite+aiosqlite://") :]
    if async_url.startswith("postgresql+psycopg://"):
        return "postgresql://" + async_url[len("postgresql+psycopg://") :]
    return async_url


def _read_secret(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigurationError(
            f"{path} is readable by other users (mode {oct(mode)}); run `chmod 600 {path}`."
        )
    value = path.read_text().strip()
    if len(value) < MIN_SECRET_KEY_LENGTH:
        raise ConfigurationError(
            f"{path} holds a secret shorter than {MIN_SECRET_KEY_LENGTH} characters; "
            "delete it to generate a new one (existing sessions and API keys stop working)."
        )
    return value.encode()


def _load_or_create_secret(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return _read_secret(path)
    # Write the whole key to a private temporary file, then hard-link it into place: the link
    # either creates the complete file or fails because another process won the race, so no
    # process ever reads a half-written key.
    fd, temporary = tempfile.mkstemp(prefix=".secret_key.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        os.chmod(temporary, 0o600)
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return _read_secret(path)


@lru_cache
def get_settings() -> Settings:
    return Settings()


settings_cache_clear = get_settings.cache_clear

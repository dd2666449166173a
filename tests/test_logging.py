"""No secrets in logs: passwords, API keys, tokens and query strings never reach a log line."""

import contextlib
import logging
from collections.abc import Callable, Iterator

import aiosqlite
import httpcore
import httpx
import pytest
import structlog

from flashfusion.config import get_settings
from flashfusion.logging import configure
from tests.fixtures.logs import logger_levels_restored
from tests.fixtures.objects import DEFAULT_PASSWORD, Tenant, bearer
from tests.fixtures.web import csrf_in


@contextlib.contextmanager
def logging_restored() -> Iterator[None]:
    """Undo what configure() does to the process's logging (root handler and level, every
    logger's level, structlog), so that no later test runs with this test's levels."""
    try:
        with logger_levels_restored():
            yield
    finally:
        # pytest adds and removes its own capture handlers around each phase: put none back.
        logging.getLogger().handlers.clear()
        structlog.reset_defaults()


@pytest.fixture
def captured_logs(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    with logging_restored():
        configure(get_settings().model_copy(update={"LOG_LEVEL": "INFO"}))
        yield lambda: capsys.readouterr().err


async def test_request_logs_carry_request_id_and_no_secrets(
    client: httpx.AsyncClient,
    tenant: Tenant,
    captured_logs,  # type: ignore[no-untyped-def]
) -> None:
    token = tenant.tokens["owner"]  # type: ignore[index]
    page = await client.get("/login")
    await client.post(
        "/login",
        data={
            "csrf_token": csrf_in(page.text),
            "email": tenant.owner.email,
            "password": DEFAULT_PASSWORD,
        },
    )
    response = await client.get(
        "/api/v1/me", headers={**bearer(token), "X-Request-ID": "req-12345678"}
    )
    assert response.status_code == 200
    await client.get("/verify-email?token=secret-looking-token-value")
    output = captured_logs()
    assert "req-12345678" in output
    assert token not in output
    assert token[4:20] not in output
    assert DEFAULT_PASSWORD not in output
    assert "secret-looking-token-value" not in output
    # Every access line of a request names its request id.
    access_lines = [line for line in output.splitlines() if "http.request" in line]
    assert access_lines
    assert all("request_id=" in line for line in access_lines)


def test_redaction_processor_masks_secret_fields_and_keys(captured_logs) -> None:  # type: ignore[no-untyped-def]
    log = structlog.get_logger("test")
    key = "ffk_" + "A" * 43
    log.warning("probe", password="hunter2hunter2", api_key="x", note=f"leaked {key}", user="bob")
    output = captured_logs()
    assert "hunter2hunter2" not in output
    assert key not in output
    assert "ffk_[redacted]" in output
    assert "password=[redacted]" in output
    assert "user=bob" in output


# --- third-party loggers at DEBUG ------------------------------------------------------------

CODE = "oauth-code-SECRET-4f1c9a"
STATE = "oauth-state-SECRET-77d2e0"
BEARER_TOKEN = "platform-token-SECRET-b8e41d"
COOKIE = "session-cookie-SECRET-0a9c3e"
SQL_PARAM = "sql-param-SECRET-e51f02"
SECRETS = (CODE, STATE, BEARER_TOKEN, COOKIE, SQL_PARAM)


@pytest.fixture
def debug_logs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], str]]:
    """FlashFusion configured at DEBUG. Returns everything logged since: what the app's handler
    wrote to stderr, plus every record any logger handed to any handler (root or its own, e.g.
    a library that does not propagate), unformatted."""
    dispatched: list[logging.LogRecord] = []
    call_handlers = logging.Logger.callHandlers

    def record_and_call(self: logging.Logger, record: logging.LogRecord) -> None:
        dispatched.append(record)
        call_handlers(self, record)

    def output() -> str:
        raw = "\n".join(f"{r.name} {r.levelname} {r.getMessage()} {r.__dict__}" for r in dispatched)
        return capsys.readouterr().err + "\n" + raw

    with logging_restored():
        monkeypatch.setattr(logging.Logger, "callHandlers", record_and_call)
        configure(get_settings().model_copy(update={"LOG_LEVEL": "DEBUG"}))
        capsys.readouterr()
        yield output
        monkeypatch.undo()


async def test_debug_level_keeps_headers_urls_and_sql_parameters_out_of_logs(
    debug_logs: Callable[[], str],
) -> None:
    # The OAuth consent redirect as a connector's HTTP client sees it: a bearer token going out,
    # the authorization code coming back in Location, a session cookie in Set-Cookie.
    def platform(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {BEARER_TOKEN}"
        return httpx.Response(
            302,
            headers={
                "Location": f"https://app.test/callback?code={CODE}&state={STATE}",
                "Set-Cookie": f"sid={COOKIE}; HttpOnly",
            },
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(platform)) as client:
        response = await client.get(
            f"https://platform.test/oauth/authorize?state={STATE}",
            headers={"Authorization": f"Bearer {BEARER_TOKEN}", "x-api-key": BEARER_TOKEN},
        )
    assert response.headers["location"].endswith(f"state={STATE}")

    # The same answer read off the wire by httpcore (what httpx.AsyncHTTPTransport runs on).
    wire = httpcore.AsyncMockBackend(
        [
            b"HTTP/1.1 302 Found\r\n",
            f"Location: https://app.test/callback?code={CODE}&state={STATE}\r\n".encode(),
            f"Set-Cookie: sid={COOKIE}; HttpOnly\r\n".encode(),
            b"Content-Length: 0\r\n",
            b"\r\n",
        ]
    )
    async with httpcore.AsyncConnectionPool(network_backend=wire) as pool:
        raw = await pool.request(
            "GET",
            "https://platform.test/oauth/authorize",
            headers={"Authorization": f"Bearer {BEARER_TOKEN}"},
        )
    assert raw.status == 302

    async with aiosqlite.connect(":memory:") as db:
        async with db.execute("SELECT ?", (SQL_PARAM,)) as cursor:
            assert await cursor.fetchone() == (SQL_PARAM,)

    structlog.get_logger("flashfusion.probe").debug("probe.debug_line", n=7)

    output = debug_logs()
    assert "probe.debug_line" in output
    assert "n=7" in output
    leaked = [secret for secret in SECRETS if secret in output]
    assert leaked == []


@pytest.mark.parametrize(
    "name",
    [
        "httpx",
        "httpx2",
        "httpcore.http11",
        "httpcore2.http11",
        "aiosqlite",
        "sqlalchemy.engine.Engine",
        "psycopg",
        "psycopg.pool",
        "urllib3.connectionpool",
        "anthropic._base_client",
        "openai._base_client",
        "google_genai._api_client",
        "websockets.client",
        "uvicorn.asgi",
        "dbos",
    ],
)
def test_debug_level_caps_chatty_libraries_at_warning(
    debug_logs: Callable[[], str], name: str
) -> None:
    logger = logging.getLogger(name)
    assert not logger.isEnabledFor(logging.INFO)
    assert logger.isEnabledFor(logging.WARNING)


def test_debug_level_is_for_flashfusion_only(debug_logs: Callable[[], str]) -> None:
    assert logging.getLogger("flashfusion.publishing.tasks").isEnabledFor(logging.DEBUG)
    # A library nobody has read yet does not get its DEBUG lines written either.
    assert not logging.getLogger("somelibrary.internals").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("somelibrary.internals").isEnabledFor(logging.INFO)
    # (uvicorn.error's level is uvicorn's own: a server started in a test thread sets it.)


def test_redaction_covers_oauth_and_header_keys(captured_logs) -> None:  # type: ignore[no-untyped-def]
    log = structlog.get_logger("flashfusion.probe")
    fields = {
        "authorization": f"Bearer {BEARER_TOKEN}",
        "x-api-key": BEARER_TOKEN + "-k",
        "cookie": COOKIE,
        "set-cookie": COOKIE + "-set",
        "code": CODE,
        "state": STATE,
        "code_verifier": "pkce-verifier-SECRET-1",
        "refresh_token": "refresh-SECRET-2",
        "access_token": "access-SECRET-3",
        "client_secret": "client-secret-SECRET-4",
    }
    log.warning(
        "probe",
        **fields,
        headers={"Authorization": "Bearer nested-SECRET-5", "Accept": "application/json"},
        callback=f"https://app.test/callback?code={CODE}-q&state={STATE}-q&shop=demo",
        platform="etsy",
    )
    output = captured_logs()
    for key, value in fields.items():
        assert value not in output
        assert f"{key}=[redacted]" in output
    assert "nested-SECRET-5" not in output
    assert "application/json" in output
    assert f"{CODE}-q" not in output
    assert f"{STATE}-q" not in output
    assert "shop=demo" in output
    assert "platform=etsy" in output

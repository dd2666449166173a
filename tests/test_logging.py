"""No secrets in logs: passwords, API keys, tokens and query strings never reach a log line."""

import logging

import httpx
import pytest
import structlog

from flashfusion.config import get_settings
from flashfusion.logging import configure
from tests.fixtures.objects import DEFAULT_PASSWORD, Tenant, bearer
from tests.fixtures.web import csrf_in


@pytest.fixture
def captured_logs(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    configure(get_settings().model_copy(update={"LOG_LEVEL": "INFO"}))
    yield lambda: capsys.readouterr().err
    logging.getLogger().handlers.clear()
    structlog.reset_defaults()


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

"""Process endpoints, the error shape, validation messages and security headers."""

import httpx

from flashfusion.middleware import CONTENT_SECURITY_POLICY
from tests.fixtures.objects import Tenant, bearer


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": "0.1.0"}


async def test_readyz_reports_database_and_disabled_jobs(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["jobs"].startswith("disabled in this process")


async def test_metrics_exposes_request_counter(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert (
        'flashfusion_http_requests_total{method="GET",route="/healthz",status="200"}'
        in response.text
    )


async def test_unknown_api_route_is_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": "HTTPError", "detail": "Not found."}


async def test_validation_error_names_the_field(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/api/v1/invitations",
        json={"email": "not-an-email", "role": "editor"},
        headers=bearer(tenant.tokens["owner"]),  # type: ignore[index]
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "RequestValidationError"
    assert body["detail"].startswith("email: ")
    assert body["errors"][0]["loc"] == ["body", "email"]


async def test_strict_models_do_not_coerce_booleans(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.post(
        "/api/v1/api_keys",
        json={"name": "k", "scopes": ["jobs:read"], "expires_in_days": False},
        headers=bearer(tenant.tokens["owner"]),  # type: ignore[index]
    )
    assert response.status_code == 422
    assert "expires_in_days" in response.json()["detail"]


async def test_unknown_fields_are_rejected(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.patch(
        f"/api/v1/organizations/{tenant.organization.id}",
        json={"name": "New", "slug": "hijack"},
        headers=bearer(tenant.tokens["owner"]),  # type: ignore[index]
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("slug: ")


async def test_security_headers_on_pages(client: httpx.AsyncClient) -> None:
    response = await client.get("/login")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"
    # Served over http here: no HSTS (it would be ignored, and it must not pin a dev host).
    assert "strict-transport-security" not in response.headers
    assert response.headers["x-request-id"]


async def test_request_id_is_echoed_when_sane(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "abc12345-trace"})
    assert response.headers["x-request-id"] == "abc12345-trace"
    response = await client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert response.headers["x-request-id"] != "bad id\nwith newline"
    assert len(response.headers["x-request-id"]) == 32


async def test_docs_are_served_without_a_cdn(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in response.text
    assert "cdn" not in response.text.lower()
    assert "<script>" not in response.text  # no inline script under the CSP
    assets = await client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")
    assert assets.status_code == 200


async def test_openapi_has_stable_operation_ids(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    operation_ids = {
        operation["operationId"] for path in schema["paths"].values() for operation in path.values()
    }
    assert "members:list" in operation_ids
    assert "jobs:cancel" in operation_ids
    assert all(path.startswith("/api/v1/") for path in schema["paths"])
    assert schema["components"]["securitySchemes"]["api_key"]["scheme"] == "bearer"

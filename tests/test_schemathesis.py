"""Property-based API test: schemathesis over the app's own /openapi.json.

Every operation gets generated requests (valid and invalid), plus requests aimed at real objects
of the caller's workspace and of a second workspace, sent in-process as tenant A's owner key
(all scopes). Every response must be a non-5xx, with a documented status code, content type and
body schema; error responses included.

Schemathesis' own ASGI transport runs the app on a separate event loop and thread, which cannot
share the test's database connection (the transaction every test rolls back). So schemathesis
generates the cases (Hypothesis, derandomized, no shrinking), the test's httpx client sends
them, and schemathesis judges each response with its checks.
"""

from collections import Counter
from typing import Any

import httpx
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject
from flashfusion.auth.scope import ALL_SCOPES
from flashfusion.connector.service import connection as connection_service
from flashfusion.models import Role
from flashfusion.sandbox import runtime as sandbox_runtime
from tests.fixtures.objects import Tenant, create_api_key, create_tenant
from tests.fixtures.studio import png_bytes
from tests.test_tenant_isolation import Kind, create_object

BASE_URL = "http://testserver"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 8}
MIN_CALLS = 300

# Which object kind a path's `{id}` names, and the state its happy path needs.
ID_KINDS: dict[str, list[tuple[Kind, str | None]]] = {
    "/api/v1/organizations/{id}": [("organization", None)],
    "/api/v1/members/{id}": [("member", None)],
    "/api/v1/invitations/{id}": [("invitation", None)],
    "/api/v1/api_keys/{id}": [("api_key", None)],
    "/api/v1/audit_events/exports/{id}": [("audit_export", None)],
    "/api/v1/audit_events/exports/{id}/download": [("audit_export", None)],
    "/api/v1/jobs/{id}": [("job", "enqueued")],
    "/api/v1/jobs/{id}/cancel": [("job", "enqueued")],
    "/api/v1/jobs/{id}/resume": [("job", "cancelled")],
    "/api/v1/jobs/{id}/retry": [("job", "cancelled")],
    "/api/v1/designs/{id}": [("design", None)],
    "/api/v1/designs/{id}/versions": [("design", None)],
    "/api/v1/designs/{id}/versions/{number}": [("design", None)],
    "/api/v1/designs/{id}/versions/{number}/preview": [("design", None)],
    "/api/v1/designs/{id}/versions/{number}/revert": [("design", None)],
    "/api/v1/designs/{id}/validate": [("design", None)],
    "/api/v1/designs/{id}/fixes": [("design", None)],
    "/api/v1/designs/{id}/renders": [("design", None)],
    "/api/v1/renders/{id}": [("render", None)],
    "/api/v1/media/{id}": [("media", None)],
    "/api/v1/media/{id}/content": [("media", None)],
    "/api/v1/products/{id}": [("product", None)],
    "/api/v1/products/{id}/variants/{variant_key}": [("product", None)],
    "/api/v1/products/{id}/prices": [("product", None)],
    "/api/v1/pricing_rules/{id}": [("pricing_rule", None)],
    "/api/v1/ai/generations/{id}": [("ai_generation", None)],
    "/api/v1/content/listings/{id}": [("listing_copy", None)],
    "/api/v1/content/listings/{id}/versions": [("listing_copy", None)],
    "/api/v1/content/listings/{id}/versions/{number}": [("listing_copy", None)],
    "/api/v1/content/listings/{id}/revert": [("listing_copy", None)],
    "/api/v1/content/listings/{id}/diff": [("listing_copy", None)],
    "/api/v1/content/listings/{id}/translate": [("listing_copy", None)],
    "/api/v1/content/listings/{id}/seo": [("listing_copy", None)],
    "/api/v1/content/scripts/{id}": [("script", None)],
    "/api/v1/content/scripts/{id}/versions": [("script", None)],
    "/api/v1/content/scripts/{id}/versions/{number}": [("script", None)],
    "/api/v1/content/scripts/{id}/revert": [("script", None)],
    "/api/v1/content/scripts/{id}/diff": [("script", None)],
    "/api/v1/brand-voices/{id}": [("brand_voice", None)],
    "/api/v1/content/experiments/{id}": [("experiment", "draft")],
    "/api/v1/content/experiments/{id}/start": [("experiment", "draft")],
    "/api/v1/content/experiments/{id}/stop": [("experiment", "running")],
    "/api/v1/content/experiments/{id}/outcome": [("experiment", "running")],
    "/api/v1/products/{id}/safeguard-reports": [("product", None)],
    "/api/v1/products/{id}/safeguard-reports/latest": [("screened_product", None)],
    "/api/v1/safeguard-reports/{id}": [("safeguard_report", None)],
    "/api/v1/organizations/{id}/safeguard-settings": [("organization", None)],
    "/api/v1/connections/{id}": [("connection", None)],
    "/api/v1/connections/{id}/health": [("connection", None)],
    "/api/v1/connections/{id}/reconnect": [("connection", None)],
    "/api/v1/connections/{id}/link": [("connection", None)],
    "/api/v1/connections/{id}/settings": [("etsy_connection", None)],
    "/api/v1/publishing/listings/{id}": [("channel_listing", "published")],
    "/api/v1/publishing/listings/{id}/retry": [("channel_listing", "failed")],
    "/api/v1/publishing/listings/{id}/update": [("channel_listing", "published")],
    "/api/v1/publishing/listings/{id}/unpublish": [("channel_listing", "published")],
    "/api/v1/orders/{id}": [("order", None)],
}
# Path parameters besides `{id}` that the seeded requests need to reach a real object.
PATH_PARAMS: dict[str, dict[str, str]] = {
    "/api/v1/designs/{id}/versions/{number}": {"number": "1"},
    "/api/v1/designs/{id}/versions/{number}/preview": {"number": "1"},
    "/api/v1/designs/{id}/versions/{number}/revert": {"number": "1"},
    "/api/v1/products/{id}/variants/{variant_key}": {"variant_key": "white-m"},
    "/api/v1/catalog/product_types/{key}": {"key": "tshirt"},
    "/api/v1/content/listings/{id}/versions/{number}": {"number": "1"},
    "/api/v1/content/scripts/{id}/versions/{number}": {"number": "1"},
    # A provider no default text chain uses: a stored key is never called.
    "/api/v1/ai/credentials/{provider}": {"provider": "xai"},
}
# Bodies that make a seeded request valid where generated ones almost never are (a preset key,
# a catalog key, an image): the valid path must be exercised too.
SEEDED_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/designs"): {"phrase": "Stay Wild", "preset": "kawaii"},
    ("POST", "/api/v1/designs/{id}/validate"): {"product_types": {"tshirt": ["white-m"]}},
    ("POST", "/api/v1/designs/{id}/fixes"): {
        "version": 1,
        "product_type": "tshirt",
        "code": "semi_transparent_pixels",
    },
    ("POST", "/api/v1/designs/{id}/renders"): {"product_types": {"sticker": []}, "mockups": False},
    ("PATCH", "/api/v1/products/{id}/variants/{variant_key}"): {"price": 2599},
    ("POST", "/api/v1/pricing_rules"): {"name": "Seeded", "target_bps": 3000},
    ("PUT", "/api/v1/catalog/override"): {
        "product_types": {"tshirt": {"variants": {"white-s": {"enabled": False}}}}
    },
    ("PATCH", "/api/v1/ai/settings"): {
        "chains": {},
        "models": {},
        "plan_tier": "free",
        "monthly_cap_microusd": None,
        "hard_stop": True,
        "offline_fallback": True,
    },
    ("PUT", "/api/v1/ai/credentials/{provider}"): {"api_key": "xai-test-seeded-not-a-key"},
    ("PATCH", "/api/v1/content/listings/{id}"): {"title": "Seeded title"},
    ("POST", "/api/v1/content/listings/{id}/revert"): {"version": 1},
    ("POST", "/api/v1/content/listings/{id}/translate"): {"languages": ["de"]},
    ("PATCH", "/api/v1/content/scripts/{id}"): {"hook": "Seeded hook"},
    ("POST", "/api/v1/content/scripts/{id}/revert"): {"version": 1},
    ("POST", "/api/v1/content/experiments/{id}/stop"): {"winner": "A"},
    ("POST", "/api/v1/content/experiments/{id}/outcome"): {
        "variant": "A",
        "impressions": 10,
        "clicks": 1,
        "orders": 0,
    },
    ("PATCH", "/api/v1/organizations/{id}/safeguard-settings"): {"block_on_warn": True},
    ("PUT", "/api/v1/connections/{id}/link"): {"linked_connection_id": None},
    ("PATCH", "/api/v1/connections/{id}/settings"): {"listing_defaults": {"who_made": "i_did"}},
}
# Bodies of operations that name their workspace in the body: sent once per tenant.
SEEDED_WORKSPACE_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/designs"): SEEDED_BODIES[("POST", "/api/v1/designs")],
    ("POST", "/api/v1/content/listings/generate"): {
        "idea": "Stay Wild",
        "product_type": "tshirt",
        "platforms": ["etsy"],
    },
    ("POST", "/api/v1/content/scripts"): {
        "idea": "Stay Wild",
        "product_type": "tshirt",
        "platform": "tiktok",
        "seconds": 30,
    },
    ("POST", "/api/v1/brand-voices"): {"name": "Seeded voice", "tone": ["warm"]},
    ("POST", "/api/v1/safeguards/screen"): {"text": "Stay Wild", "product_type": "tshirt"},
    # Sandbox twins (in-process): no platform account needed.
    ("POST", "/api/v1/connections"): {"platform": "printful", "sandbox": True},
    ("POST", "/api/v1/connections/oauth/start"): {"platform": "etsy", "sandbox": True},
}
# Operations whose body names several objects of the workspace: body field -> the kind it names
# (a one-element list for `..._ids`).
SEEDED_REFERENCES: dict[tuple[str, str], dict[str, Kind]] = {
    ("POST", "/api/v1/publishing/publish"): {
        "product_ids": "publishable_product",
        "connection_ids": "connection",
    },
    ("POST", "/api/v1/publishing/estimate"): {
        "product_ids": "publishable_product",
        "connection_ids": "connection",
    },
    ("POST", "/api/v1/orders/sync"): {"connection_id": "connection"},
}
OAUTH_CALLBACK = ("GET", "/api/v1/connections/oauth/callback")
# Seeded first: generated requests may have set a budget of 0 without the offline fallback,
# which would refuse every seeded generation after them.
SEEDED_FIRST = {("PATCH", "/api/v1/ai/settings")}
SEEDED_UPLOADS = {("POST", "/api/v1/media")}
METHOD_ORDER = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 2, "DELETE": 3}


def generate(operation: Any, mode: GenerationMode, count: int) -> list[Case]:
    """Up to `count` cases, the same ones on every run: derandomized, never shrunk."""
    cases: list[Case] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy(generation_mode=mode))
    def collect(case: Case) -> None:
        cases.append(case)

    collect()
    return cases


async def send(client: httpx.AsyncClient, case: Case, token: str) -> httpx.Response:
    """Send exactly what schemathesis would put on the wire, through the test's client."""
    kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=bearer_header(token))
    prepared = requests.Request(
        method=kwargs["method"],
        url=kwargs["url"],
        headers=kwargs.get("headers"),
        params=kwargs.get("params"),
        json=kwargs.get("json"),
        data=kwargs.get("data"),
        files=kwargs.get("files"),
        cookies=kwargs.get("cookies"),
    ).prepare()
    assert prepared.method is not None
    assert prepared.url is not None
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    return await client.request(
        prepared.method, prepared.url, headers=dict(prepared.headers), content=body
    )


def bearer_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def seeded_cases(schema: Any, session: AsyncSession, a: Tenant, b: Tenant) -> list[Case]:
    """Requests aimed at real objects of both tenants, in an order that keeps the caller alive:
    reads first, then changes, then deletions."""
    cases: list[Case] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        body_example = None
        if operation.body:
            [body_example] = generate(operation, GenerationMode.POSITIVE, 1)
        names = {p.name for p in operation.query}
        seeded_body = SEEDED_BODIES.get((operation.method.upper(), operation.path))
        extra = PATH_PARAMS.get(operation.path, {})
        for tenant in (a, b):
            if "organization_id" in names:
                kwargs: dict[str, Any] = {"query": {"organization_id": str(tenant.organization.id)}}
                if extra:
                    kwargs["path_parameters"] = extra
                if seeded_body is not None:
                    kwargs.update(body=seeded_body, media_type="application/json")
                if (operation.method.upper(), operation.path) in SEEDED_UPLOADS:
                    kwargs.update(body={"file": png_bytes()}, media_type="multipart/form-data")
                cases.append(operation.Case(**kwargs))
            for kind, state in ID_KINDS.get(operation.path, []):
                object_id = await create_object(
                    session, tenant.organization, tenant, kind, state, "seed"
                )
                kwargs = {"path_parameters": {"id": str(object_id), **extra}}
                if seeded_body is not None:
                    kwargs.update(body=seeded_body, media_type="application/json")
                elif body_example is not None:
                    kwargs["body"] = body_example.body
                    kwargs["media_type"] = body_example.media_type
                cases.append(operation.Case(**kwargs))
            workspace_body = SEEDED_WORKSPACE_BODIES.get((operation.method.upper(), operation.path))
            if workspace_body is not None:
                cases.append(
                    operation.Case(
                        body={**workspace_body, "organization_id": str(tenant.organization.id)},
                        media_type="application/json",
                    )
                )
            references = SEEDED_REFERENCES.get((operation.method.upper(), operation.path))
            if references is not None:
                body: dict[str, Any] = {}
                for name, kind in references.items():
                    ref = str(
                        await create_object(
                            session, tenant.organization, tenant, kind, None, "seed"
                        )
                    )
                    body[name] = [ref] if name.endswith("_ids") else ref
                cases.append(operation.Case(body=body, media_type="application/json"))
            if (operation.method.upper(), operation.path) == OAUTH_CALLBACK and tenant is a:
                cases.append(operation.Case(query=await oauth_redirect(session, a)))
            if (
                operation.path == "/api/v1/content/experiments"
                and operation.method.upper() == "POST"
            ):
                copy_id = await create_object(
                    session, tenant.organization, tenant, "listing_copy", None, "seed"
                )
                cases.append(
                    operation.Case(
                        body={
                            "listing_copy_id": str(copy_id),
                            "field": "title",
                            "versions": [1, 2],
                        },
                        media_type="application/json",
                    )
                )
            if operation.path == "/api/v1/products" and operation.method.upper() == "POST":
                design_id = await create_object(
                    session, tenant.organization, tenant, "design", None, "seed"
                )
                cases.append(
                    operation.Case(
                        body={"design_id": str(design_id), "product_type": "sticker"},
                        media_type="application/json",
                    )
                )
        if operation.path == "/api/v1/members/{id}":
            # The owner, whom nobody can change or remove over the API (a documented 403).
            owner_id = str(a.members[Role.owner].id)
            kwargs = {"path_parameters": {"id": owner_id}}
            if body_example is not None:
                kwargs.update(body=body_example.body, media_type=body_example.media_type)
            cases.append(operation.Case(**kwargs))
    return sorted(
        cases,
        key=lambda c: (
            -1
            if (c.method.upper(), c.path) in SEEDED_FIRST
            else METHOD_ORDER.get(c.method.upper(), 9)
        ),
    )


async def oauth_redirect(session: AsyncSession, tenant: Tenant) -> dict[str, str]:
    """The query of the platform's redirect after the creator allowed a sandbox Etsy
    connection of `tenant`: the flow is started through the service, and the consent given on
    the in-process twin's page (mounted on the app at /sandbox/etsy)."""
    url = httpx.URL(
        await connection_service.start_oauth(
            session,
            AuthSubject(tenant.owner),
            organization_id=tenant.organization.id,
            platform="etsy",
            sandbox=True,
        )
    )
    assert url.path == "/sandbox/etsy/oauth/connect", url
    transport = httpx.ASGITransport(app=sandbox_runtime.app_for("etsy"))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as twin:
        consent = await twin.get("/oauth/connect", params={**dict(url.params), "auto_approve": "1"})
    assert consent.status_code == 302, consent.text
    return dict(httpx.URL(consent.headers["location"]).params)


async def test_api_conforms_to_its_schema(
    session: AsyncSession, app: FastAPI, tenant: Tenant
) -> None:
    # Unlike the shared `client`, this one turns an unhandled exception into the 500 a real
    # server sends, so that `not_a_server_error` judges it along with everything else.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        await run_schemathesis(session, client, tenant)


async def run_schemathesis(
    session: AsyncSession, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    other = await create_tenant(session, "B")
    # The caller's key is made for this run, so no generated or seeded request can revoke it.
    _, token = await create_api_key(
        session, organization=tenant.organization, user=tenant.owner, scopes=ALL_SCOPES
    )
    document = (await client.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)

    cases: list[tuple[str, Case]] = []
    operations = []
    for result in schema.get_all_operations():
        operation = result.ok()
        operations.append(operation.label)
        for mode, count in EXAMPLES.items():
            if mode == GenerationMode.NEGATIVE and not (
                operation.path_parameters or operation.query or operation.body
            ):
                continue  # nothing to make invalid
            cases.extend((mode.value, case) for case in generate(operation, mode, count))
    cases.extend(("seeded", case) for case in await seeded_cases(schema, session, tenant, other))

    failures: list[str] = []
    calls: Counter[str] = Counter()
    successes: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    for origin, case in cases:
        response = await send(client, case, token)
        label = case.operation.label
        calls[label] += 1
        statuses[response.status_code] += 1
        if origin != "negative":
            # Valid requests carry the owner's all-scopes key: never refused as a credential,
            # and forbidden only to change or remove the owner (seeded on purpose).
            refused = response.status_code == 401 or (
                response.status_code == 403 and not label.endswith("/members/{id}")
            )
            assert not refused, f"{origin} {label}: {response.status_code} {response.text}"
        if response.status_code < 300:
            successes[label] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            failures.append(
                f"{label} -> {response.status_code} {response.text[:200]}\n"
                f"  request: {response.request.method} {response.request.url} "
                f"{response.request.content[:200]!r}\n"
                + "\n".join(f"  {f.title}: {f.message}" for f in group.exceptions)
            )

    assert not failures, f"{len(failures)} non-conforming responses:\n" + "\n".join(failures[:25])
    assert sum(calls.values()) >= MIN_CALLS, calls
    assert set(calls) == set(operations), "some operation was never called"
    assert set(successes) == set(operations), (
        f"operations that never answered 2xx: {sorted(set(operations) - set(successes))}"
    )
    # The run covered both sides: accepted requests and refusals of invalid ones.
    assert statuses[422] > 0, statuses
    assert statuses[404] > 0, statuses


def test_generation_is_deterministic() -> None:
    """Two generations of the same operation give the same cases (derandomized, no database)."""
    document = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/items/{id}": {
                "get": {
                    "parameters": [
                        {
                            "name": "id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer"},
                        },
                        {"name": "q", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
    operation = schemathesis.openapi.from_dict(document)["/items/{id}"]["GET"]
    first = generate(operation, GenerationMode.POSITIVE, 10)
    second = generate(operation, GenerationMode.POSITIVE, 10)
    assert len(first) == 10
    assert [(c.path_parameters, c.query) for c in first] == [
        (c.path_parameters, c.query) for c in second
    ]
    assert len({str(c.path_parameters) + str(c.query) for c in first}) > 1

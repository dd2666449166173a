"""The safeguard API: screening a text, screening a product, its newest report, the report log,
and the workspace's settings. Every route: anonymous → 401, a key without the scope → 403,
another tenant → 404, a role without the permission → 403, bad input → 422 naming the field,
and nothing changes after a refusal. The checks are the stand-ins of `pipeline_fakes.py`, except
where a test says it runs the real ones."""

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject
from flashfusion.auth.scope import ALL_SCOPES, Scope
from flashfusion.models import Role
from flashfusion.safeguard.service import safeguard as safeguard_service
from flashfusion.safeguard.types import Verdict
from tests.fixtures.objects import Tenant, bearer, create_api_key
from tests.safeguard.pipeline_fakes import (
    VERSIONS,
    FakeChecks,
    FakeMark,
    add_copy,
    fake_checks,
    make_product,
)

__all__ = ["fake_checks"]

API = "/api/v1"
READ, WRITE = Scope.safeguards_read, Scope.safeguards_write
SAFEGUARD_TABLES = (
    "safeguard_reports",
    "safeguard_overrides",
    "safeguard_settings",
    "safeguard_holds",
    "products",
    "jobs",
)
REASON = "We hold the licence for this phrase (contract 2026-7)."


def headers(tenant: Tenant, role: Role = Role.owner) -> dict[str, str]:
    return bearer(tenant.tokens[role])


async def rows(session: AsyncSession, organization_id: uuid.UUID) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for table in SAFEGUARD_TABLES:
        result = await session.execute(
            text(f"SELECT * FROM {table} WHERE organization_id = :org ORDER BY id").bindparams(
                bindparam("org", type_=Uuid())
            ),
            {"org": organization_id},
        )
        found[table] = [tuple(row) for row in result.all()]
    return found


async def assert_refused(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    other: Tenant,
    method: str,
    url: str,
    *,
    scope: Scope,
    json: Any = None,
    foreign: dict[str, Any] | None = None,
) -> None:
    """Anonymous → 401, a key without `scope` → 403, the other tenant → 404; nothing changes."""
    before = (
        await rows(session, tenant.organization.id),
        await rows(session, other.organization.id),
    )
    _, no_scope = await create_api_key(
        session,
        organization=tenant.organization,
        user=tenant.owner,
        scopes=ALL_SCOPES - {scope},
        name="without the scope",
    )
    calls = (
        ("anonymous", {}, {"json": json}, 401, "Unauthorized"),
        ("key without the scope", bearer(no_scope), {"json": json}, 403, "InsufficientScope"),
        (
            "the other tenant",
            headers(other),
            {"json": json, **(foreign or {})},
            404,
            "ResourceNotFound",
        ),
    )
    for name, auth, kwargs, status, error in calls:
        response = await client.request(method, url, headers=auth, **kwargs)
        assert response.status_code == status, f"{method} {url} as {name}: {response.text}"
        assert response.json()["error"] == error, f"{method} {url} as {name}: {response.text}"
        after = (
            await rows(session, tenant.organization.id),
            await rows(session, other.organization.id),
        )
        assert after == before, f"{method} {url} as {name} changed something"


def span(field: str, start: int, end: int, text_: str) -> dict[str, Any]:
    return {"field": field, "start": start, "end": end, "text": text_}


def mark_finding(mark: FakeMark, where: dict[str, Any]) -> dict[str, Any]:
    return {
        "category": "trademark",
        "code": "trademark.exact",
        "verdict": mark.verdict.value,
        "message": f"{mark.text.upper()} is a registered trademark.",
        "span": where,
        "evidence": mark.evidence(),
        "source": f"https://tsdr.uspto.gov/#caseNumber={mark.serial}",
        "score": 1.0,
    }


# --- POST /safeguards/screen ----------------------------------------------------------------------


async def test_a_text_is_screened_and_nothing_is_kept(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    mark = FakeMark("stay wild")
    fake_checks.marks = [mark]
    before = await rows(session, tenant.organization.id)

    response = await client.post(
        f"{API}/safeguards/screen",
        json={"text": "Stay Wild forever", "product_type": "tshirt", "platforms": ["etsy"]},
        headers=headers(tenant, Role.viewer),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["verdict"] == "block"
    assert body["findings"] == [mark_finding(mark, span("phrase", 0, 9, "Stay Wild"))]
    assert body["counts"]["total"] == {"pass": 0, "warn": 0, "block": 1}
    assert body["quality_score"] == 90
    assert body["checks"]["versions"] == VERSIONS
    assert body["checks"]["workspace_checks"] is True
    assert await rows(session, tenant.organization.id) == before


async def test_the_real_checks_block_a_famous_slogan_on_a_shirt(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    response = await client.post(
        f"{API}/safeguards/screen",
        json={"text": "just do it", "product_type": "tshirt"},
        headers=headers(tenant),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    [finding] = body["findings"]
    assert (body["verdict"], finding["code"], finding["span"]) == (
        "block",
        "trademark.exact",
        span("phrase", 0, 10, "just do it"),
    )
    assert (finding["evidence"]["mark"], finding["evidence"]["owner"]) == (
        "JUST DO IT",
        "Nike, Inc.",
    )


async def test_a_text_screen_is_refused_without_a_key_the_scope_or_the_workspace(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    other_tenant: Tenant,
    fake_checks: FakeChecks,
) -> None:
    body = {
        "text": "Hello",
        "product_type": "tshirt",
        "organization_id": str(tenant.organization.id),
    }
    await assert_refused(
        client,
        session,
        tenant,
        other_tenant,
        "POST",
        f"{API}/safeguards/screen",
        scope=READ,
        json=body,
    )
    assert fake_checks.calls == []


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"product_type": "tshirt"}, "text: Field required"),
        (
            {"text": "", "product_type": "tshirt"},
            "text: String should have at least 1 character",
        ),
        (
            {"text": "x" * 20_001, "product_type": "tshirt"},
            "text: String should have at most 20000 characters",
        ),
        ({"text": "  ", "product_type": "tshirt"}, "text: is empty; give the text to screen."),
        ({"text": "Hi", "product_type": "rocket"}, "product_type: unknown product type 'rocket'; "),
        (
            {"text": "Hi", "product_type": "tshirt", "platforms": ["myspace"]},
            "platforms: 'myspace' is not a platform;",
        ),
        (
            {"text": "Hi", "product_type": "tshirt", "extra": 1},
            "extra: Extra inputs are not permitted",
        ),
    ],
    ids=["no text", "empty", "huge", "blank", "unknown product type", "unknown platform", "extra"],
)
async def test_a_bad_text_screen_is_a_422_naming_the_field(
    client: httpx.AsyncClient,
    tenant: Tenant,
    fake_checks: FakeChecks,
    body: dict[str, Any],
    detail: str,
) -> None:
    response = await client.post(f"{API}/safeguards/screen", json=body, headers=headers(tenant))
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(detail), response.json()
    assert fake_checks.calls == []


# --- POST /products/{id}/safeguard-reports ------------------------------------------------------------


async def test_an_editor_screens_a_product_and_the_report_is_kept(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    mark = FakeMark("good morning", Verdict.warn)
    fake_checks.marks = [mark]
    product, _, _ = await make_product(session, tenant.organization)

    response = await client.post(
        f"{API}/products/{product.id}/safeguard-reports", headers=headers(tenant, Role.editor)
    )

    assert response.status_code == 201, response.text
    body = response.json()
    report = await safeguard_service.latest_report(session, AuthSubject(tenant.owner), product.id)
    assert report is not None
    assert body["id"] == str(report.id)
    assert {k: body[k] for k in ("organization_id", "product_id", "verdict", "trigger")} == {
        "organization_id": str(tenant.organization.id),
        "product_id": str(product.id),
        "verdict": "warn",
        "trigger": "api",
    }
    assert body["created_by_user_id"] == str(tenant.users[Role.editor].id)
    assert body["findings"] == [mark_finding(mark, span("layer:title", 0, 12, "Good Morning"))]
    assert body["subject"] == {
        "fields": [
            {"name": "title", "text": "Sunrise tee"},
            {"name": "layer:title", "text": "Good Morning"},
        ],
        "product_type": "tshirt",
        "nice_classes": [25],
        "platforms": ["etsy"],
        "language": "en",
    }
    assert (body["quality_score"], body["override"]) == (90, None)
    assert len(body["subject_hash"]) == 64


async def test_screening_a_product_is_refused_without_a_key_the_scope_or_the_product(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    other_tenant: Tenant,
    fake_checks: FakeChecks,
) -> None:
    product, _, _ = await make_product(session, tenant.organization)
    url = f"{API}/products/{product.id}/safeguard-reports"
    await assert_refused(client, session, tenant, other_tenant, "POST", url, scope=WRITE)
    before = await rows(session, tenant.organization.id)
    response = await client.post(url, headers=headers(tenant, Role.viewer))
    assert response.status_code == 403
    assert response.json() == {
        "error": "NotPermitted",
        "detail": "This API key acts with the role of the member who created it (viewer), which "
        "does not allow 'safeguards:manage'; ask a workspace admin.",
    }
    assert await rows(session, tenant.organization.id) == before
    response = await client.post(
        f"{API}/products/not-a-uuid/safeguard-reports", headers=headers(tenant)
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("path.id: Input should be a valid UUID")


# --- GET /products/{id}/safeguard-reports/latest -------------------------------------------------


async def test_the_latest_report_says_whether_it_is_current_and_publishable(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    fake_checks.marks = [FakeMark("good morning")]
    product, _, _ = await make_product(session, tenant.organization)
    url = f"{API}/products/{product.id}/safeguard-reports/latest"

    response = await client.get(url, headers=headers(tenant, Role.viewer))
    assert response.status_code == 404
    assert response.json() == {
        "error": "ResourceNotFound",
        "detail": "Safeguard report not found.",
    }

    report = await safeguard_service.screen_product(session, AuthSubject(tenant.owner), product.id)
    body = (await client.get(url, headers=headers(tenant, Role.viewer))).json()
    assert (body["id"], body["verdict"], body["current"], body["publishable"]) == (
        str(report.id),
        "block",
        True,
        False,
    )
    assert (body["hold"], body["override"]) == (None, None)

    override = await safeguard_service.override(
        session, AuthSubject(tenant.users[Role.admin]), report.id, REASON
    )
    await add_copy(session, product)
    body = (await client.get(url, headers=headers(tenant, Role.viewer))).json()
    assert (body["current"], body["publishable"]) == (False, True)
    assert body["override"] == {
        "id": str(override.id),
        "report_id": str(report.id),
        "user_id": str(tenant.users[Role.admin].id),
        "reason": REASON,
        "created_at": override.created_at.isoformat().replace("+00:00", "Z"),
        "modified_at": None,
    }


async def test_the_latest_report_is_refused_without_a_key_the_scope_or_the_product(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    other_tenant: Tenant,
    fake_checks: FakeChecks,
) -> None:
    product, _, _ = await make_product(session, tenant.organization)
    await safeguard_service.screen_product(session, AuthSubject(tenant.owner), product.id)
    await assert_refused(
        client,
        session,
        tenant,
        other_tenant,
        "GET",
        f"{API}/products/{product.id}/safeguard-reports/latest",
        scope=READ,
    )


# --- GET /safeguard-reports, GET /safeguard-reports/{id} ----------------------------------------


async def test_reports_are_listed_with_filters_and_each_has_its_override(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    other_tenant: Tenant,
    fake_checks: FakeChecks,
) -> None:
    fake_checks.marks = [FakeMark("blocked words")]
    clean, _, _ = await make_product(session, tenant.organization)
    blocked, _, _ = await make_product(session, tenant.organization, title="blocked words tee")
    foreign, _, _ = await make_product(session, other_tenant.organization)
    owner = AuthSubject(tenant.owner)
    passed = await safeguard_service.screen_product(session, owner, clean.id)
    refused = await safeguard_service.screen_product(session, owner, blocked.id)
    await safeguard_service.screen_product(session, AuthSubject(other_tenant.owner), foreign.id)
    override = await safeguard_service.override(session, owner, refused.id, REASON)

    body = (
        await client.get(f"{API}/safeguard-reports", headers=headers(tenant, Role.viewer))
    ).json()
    assert [(r["id"], r["verdict"]) for r in body["items"]] == [
        (str(refused.id), "block"),
        (str(passed.id), "pass"),
    ]
    assert body["pagination"] == {"total_count": 2, "max_page": 1}
    assert body["items"][0]["override"]["id"] == str(override.id)
    assert body["items"][1]["override"] is None

    for params, expected in (
        ({"verdict": "pass"}, [str(passed.id)]),
        ({"product_id": str(blocked.id)}, [str(refused.id)]),
        (
            {"trigger": "manual", "organization_id": str(tenant.organization.id)},
            [str(refused.id), str(passed.id)],
        ),
        ({"trigger": "import"}, []),
    ):
        response = await client.get(
            f"{API}/safeguard-reports", params=params, headers=headers(tenant)
        )
        assert [r["id"] for r in response.json()["items"]] == expected, params

    response = await client.get(
        f"{API}/safeguard-reports", params={"verdict": "maybe"}, headers=headers(tenant)
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("query.verdict: Input should be 'pass', 'warn' or")

    one = await client.get(f"{API}/safeguard-reports/{refused.id}", headers=headers(tenant))
    assert (one.json()["id"], one.json()["override"]["reason"]) == (str(refused.id), REASON)


async def test_reports_are_refused_without_a_key_the_scope_or_the_workspace(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    other_tenant: Tenant,
    fake_checks: FakeChecks,
) -> None:
    product, _, _ = await make_product(session, tenant.organization)
    report = await safeguard_service.screen_product(session, AuthSubject(tenant.owner), product.id)
    await assert_refused(
        client,
        session,
        tenant,
        other_tenant,
        "GET",
        f"{API}/safeguard-reports/{report.id}",
        scope=READ,
    )
    await assert_refused(
        client,
        session,
        tenant,
        other_tenant,
        "GET",
        f"{API}/safeguard-reports?organization_id={tenant.organization.id}",
        scope=READ,
    )
    # The other tenant's own list does not show tenant A's reports.
    body = (await client.get(f"{API}/safeguard-reports", headers=headers(other_tenant))).json()
    assert body["items"] == []


# --- GET/PATCH /organizations/{id}/safeguard-settings ----------------------------------------------


async def test_an_admin_changes_the_settings_and_everyone_can_read_them(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, fake_checks: FakeChecks
) -> None:
    url = f"{API}/organizations/{tenant.organization.id}/safeguard-settings"
    body = (await client.get(url, headers=headers(tenant, Role.viewer))).json()
    assert body == {
        "organization_id": str(tenant.organization.id),
        "trademark_thresholds": {},
        "effective_trademark_thresholds": body["effective_trademark_thresholds"],
        "quality_warn_below": 50,
        "plagiarism_threshold": 0.8,
        "pause_on_new_mark": False,
        "block_on_warn": False,
        "modified_at": None,
    }
    assert (
        body["effective_trademark_thresholds"]["fuzzy_block"],
        body["effective_trademark_thresholds"]["fuzzy_warn"],
    ) == (0.95, 0.85)

    response = await client.patch(
        url,
        json={"trademark_thresholds": {"fuzzy_warn": 0.9}, "pause_on_new_mark": True},
        headers=headers(tenant, Role.admin),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["trademark_thresholds"], body["pause_on_new_mark"], body["block_on_warn"]) == (
        {"fuzzy_warn": 0.9},
        True,
        False,
    )
    assert body["effective_trademark_thresholds"]["fuzzy_warn"] == 0.9
    assert body["modified_at"] is not None
    again = (await client.get(url, headers=headers(tenant, Role.viewer))).json()
    assert again == body


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            {"quality_warn_below": 101},
            "quality_warn_below: Input should be less than or equal to 100",
        ),
        (
            {"plagiarism_threshold": 0.1},
            "plagiarism_threshold: Input should be greater than or equal to 0.5",
        ),
        ({"block_on_warn": "yes"}, "block_on_warn: Input should be a valid boolean"),
        (
            {"trademark_thresholds": {"fuzzy_warn": 2}},
            "trademark_thresholds: trademark threshold fuzzy_warn must be a number in (0, 1]",
        ),
        (
            {"trademark_thresholds": {"nope": 0.5}},
            "trademark_thresholds.nope: not a threshold; use one of ",
        ),
        ({"pause_on_new_mark": None}, "pause_on_new_mark: send true or false."),
    ],
)
async def test_bad_settings_are_a_422_naming_the_field_and_change_nothing(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    fake_checks: FakeChecks,
    body: dict[str, Any],
    detail: str,
) -> None:
    before = await rows(session, tenant.organization.id)
    response = await client.patch(
        f"{API}/organizations/{tenant.organization.id}/safeguard-settings",
        json=body,
        headers=headers(tenant),
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(detail), response.json()
    assert await rows(session, tenant.organization.id) == before


async def test_settings_are_refused_without_a_key_the_scope_the_role_or_the_workspace(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    other_tenant: Tenant,
    fake_checks: FakeChecks,
) -> None:
    url = f"{API}/organizations/{tenant.organization.id}/safeguard-settings"
    await assert_refused(client, session, tenant, other_tenant, "GET", url, scope=READ)
    change = {"block_on_warn": True}
    await assert_refused(
        client, session, tenant, other_tenant, "PATCH", url, scope=WRITE, json=change
    )
    before = await rows(session, tenant.organization.id)
    response = await client.patch(url, json=change, headers=headers(tenant, Role.editor))
    assert response.status_code == 403
    assert "safeguards:configure" in response.json()["detail"]
    assert await rows(session, tenant.organization.id) == before

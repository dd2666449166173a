"""Studio API: designs (from a phrase + preset, or a document), versions (save, list, revert),
previews, validation, renders, and uploads with the media they make. Every endpoint: anonymous →
401, a key without the scope → 403, the other workspace → 404, nothing changed by a refusal, and a
valid call answered with exact values."""

import io
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.scope import ALL_SCOPES, Scope
from flashfusion.catalog.registry import get_product_type
from flashfusion.config import get_settings
from flashfusion.models import (
    AuditEvent,
    Design,
    DesignVersion,
    Job,
    MediaAsset,
    Render,
    Role,
)
from flashfusion.studio import fonts, presets
from flashfusion.studio.document import DesignDocument
from flashfusion.studio.media import get_storage
from flashfusion.studio.pipeline import default_area_keys
from flashfusion.studio.service import issue_dict
from flashfusion.studio.validation import validate
from tests.conftest import count_rows
from tests.fixtures.objects import Tenant, bearer, create_api_key
from tests.fixtures.studio import (
    assert_refused,
    create_design,
    create_media,
    create_render,
    png_bytes,
    png_header_only,
    stored_files,
    studio_rows,
    text_document,
)

API = "/api/v1"
READ, WRITE = Scope.designs_read, Scope.designs_write


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def normalised(document: dict[str, Any]) -> dict[str, Any]:
    """A document as the API stores and returns it (defaults filled in, colours lower case)."""
    return DesignDocument.model_validate(document).model_dump(mode="json")


def design_body(design: Design) -> dict[str, Any]:
    return {
        "id": str(design.id),
        "created_at": iso(design.created_at),
        "modified_at": iso(design.modified_at),
        "organization_id": str(design.organization_id),
        "name": design.name,
        "phrase": design.phrase,
        "preset": design.preset,
        "latest_version": design.latest_version,
    }


async def reload(session: AsyncSession, model: type, id: uuid.UUID) -> Any:
    result = await session.execute(
        select(model).where(model.id == id).execution_options(populate_existing=True)  # type: ignore[attr-defined]
    )
    return result.scalar_one()


def owner(tenant: Tenant) -> dict[str, str]:
    return bearer(tenant.tokens[Role.owner])


# --- presets and fonts --------------------------------------------------------------------------


async def test_presets_and_fonts(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    response = await client.get(f"{API}/presets", headers=bearer(tenant.tokens[Role.viewer]))
    assert response.status_code == 200
    assert response.json() == [
        {"key": p.key, "name": p.name, "description": p.description}
        for p in presets.PRESETS.values()
    ]
    assert {"retro-sunset", "vintage-distressed", "minimalist-line", "bold-varsity"} <= {
        p["key"] for p in response.json()
    }
    response = await client.get(f"{API}/fonts", headers=bearer(tenant.tokens[Role.viewer]))
    assert response.status_code == 200
    assert response.json() == [
        {"key": f.key, "name": f"{f.family} {f.style}", "licence": f.licence}
        for f in fonts.FONTS.values()
    ]
    for path in ("presets", "fonts"):
        assert (await client.get(f"{API}/{path}")).status_code == 401


# --- designs ------------------------------------------------------------------------------------


async def test_create_a_design_from_a_phrase_and_a_preset(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    body = {"phrase": "  Stay Wild  ", "preset": "vintage-distressed"}
    await assert_refused(
        client,
        session,
        tenant,
        other_tenant,
        "POST",
        f"{API}/designs",
        scope=WRITE,
        json=body,
        foreign={"json": {**body, "organization_id": str(tenant.organization.id)}},
    )
    response = await client.post(
        f"{API}/designs", json=body, headers=bearer(tenant.tokens[Role.editor])
    )
    assert response.status_code == 201, response.text
    design = await reload(session, Design, uuid.UUID(response.json()["id"]))
    assert response.json() == design_body(design)
    assert (design.organization_id, design.name, design.phrase, design.preset) == (
        tenant.organization.id,
        "Stay Wild",
        "Stay Wild",
        "vintage-distressed",
    )
    assert design.latest_version == 1
    assert design.created_by_user_id == tenant.users[Role.editor].id
    [version] = (
        (await session.execute(select(DesignVersion).where(DesignVersion.design_id == design.id)))
        .scalars()
        .all()
    )
    assert version.number == 1
    assert version.document == presets.build_design("vintage-distressed", "Stay Wild").model_dump(
        mode="json"
    )
    [event] = (
        (
            await session.execute(
                select(AuditEvent).where(
                    AuditEvent.action == "design.created", AuditEvent.outcome == "success"
                )
            )
        )
        .scalars()
        .all()
    )
    assert (event.target_id, event.details) == (
        str(design.id),
        {"name": "Stay Wild", "preset": "vintage-distressed"},
    )


async def test_a_phrase_without_a_preset_gets_the_default_preset(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    response = await client.post(f"{API}/designs", json={"phrase": "Hello"}, headers=owner(tenant))
    assert response.status_code == 201, response.text
    assert response.json()["preset"] == "retro-sunset"


async def test_create_a_design_from_a_document(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    document = text_document("Ciao", colour="#FF0000")
    response = await client.post(
        f"{API}/designs",
        json={"name": "Greeting", "document": document},
        headers=owner(tenant),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["name"], body["phrase"], body["preset"], body["latest_version"]) == (
        "Greeting",
        "",
        None,
        1,
    )
    version = (
        await session.execute(
            select(DesignVersion).where(DesignVersion.design_id == uuid.UUID(body["id"]))
        )
    ).scalar_one()
    assert version.document == normalised(document)
    assert version.document["layers"][0]["fill"]["colours"] == ["#ff0000"]


def _with_layer(**changes: Any) -> dict[str, Any]:
    document = text_document()
    document["layers"][0].update(changes)
    return {"document": document}


@pytest.mark.parametrize(
    ("body", "error", "detail"),
    [
        (
            {"phrase": "Stay Wild", "preset": "disco"},
            "UnknownPresetError",
            "preset: preset 'disco' does not exist; use one of: retro-sunset,",
        ),
        (
            {"document": text_document(), "preset": "disco"},
            "UnknownPresetError",
            "preset: preset 'disco' does not exist",
        ),
        (
            _with_layer(font="comic-sans"),
            "InvalidDesign",
            "document.layers[0].font: font 'comic-sans' is not bundled; use one of: bebas-neue,",
        ),
        (
            _with_layer(fill={"colours": ["orange"]}),
            "RequestValidationError",
            "document.layers.0.text.fill.colours: Value error, 'orange' is not a colour; "
            "use #rrggbb or #rrggbbaa hex",
        ),
        (
            _with_layer(text="x" * 501),
            "RequestValidationError",
            "document.layers.0.text.text: String should have at most 500 characters",
        ),
        (
            {"phrase": "Stay Wild " * 21},
            "RequestValidationError",
            "phrase: String should have at most 200 characters",
        ),
        (
            {"phrase": "   "},
            "RequestValidationError",
            "phrase: String should have at least 1 character",
        ),
        (
            {"phrase": "a\n" * 13},
            "InvalidDesign",
            "phrase: phrase has 13 lines; use at most 12",
        ),
        ({}, "MissingDesignInput", "phrase: type the text to design"),
        (
            _with_layer(type="image", media_id=str(uuid.uuid4()), width=100, height=100),
            "RequestValidationError",
            "document.layers.0.image.text: Extra inputs are not permitted",
        ),
    ],
    ids=[
        "unknown preset",
        "unknown preset with a document",
        "unknown font",
        "bad colour",
        "text too long",
        "phrase too long",
        "empty phrase",
        "too many lines",
        "nothing to design",
        "wrong layer fields",
    ],
)
async def test_bad_design_input_is_refused_and_nothing_is_saved(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    body: dict[str, Any],
    error: str,
    detail: str,
) -> None:
    before = await studio_rows(session, tenant.organization.id)
    response = await client.post(f"{API}/designs", json=body, headers=owner(tenant))
    assert response.status_code == 422, response.text
    assert response.json()["error"] == error
    assert response.json()["detail"].startswith(detail), response.json()["detail"]
    assert await studio_rows(session, tenant.organization.id) == before
    assert await count_rows(session, "designs") == 0
    assert await count_rows(session, "design_versions") == 0
    assert await count_rows(session, "audit_events", "action = 'design.created'") == 0


async def test_an_image_of_another_workspace_cannot_be_used(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = await create_media(session, other_tenant.organization)
    document = {
        "canvas": {"width": 1000, "height": 1000},
        "layers": [
            {
                "type": "image",
                "id": "logo",
                "x": 500,
                "y": 500,
                "media_id": str(theirs.id),
                "width": 400,
                "height": 300,
            }
        ],
    }
    response = await client.post(
        f"{API}/designs", json={"document": document}, headers=owner(tenant)
    )
    assert response.status_code == 422
    assert response.json() == {
        "error": "InvalidDesign",
        "detail": f"document.layers[0].media_id: image '{theirs.id}' is not in this workspace's "
        "media; upload it again or remove the layer",
    }
    mine = await create_media(session, tenant.organization)
    document["layers"][0]["media_id"] = str(mine.id)
    response = await client.post(
        f"{API}/designs", json={"document": document}, headers=owner(tenant)
    )
    assert response.status_code == 201, response.text


async def test_list_search_and_paginate_designs(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    made = [
        (await create_design(session, tenant.organization, name=name))[0]
        for name in ("Stay Wild", "Coffee First", "Wild Heart")
    ]
    await create_design(session, other_tenant.organization, name="Wild Other")
    url = f"{API}/designs"
    await assert_refused(
        client,
        session,
        tenant,
        other_tenant,
        "GET",
        url,
        scope=READ,
        foreign={"params": {"organization_id": str(tenant.organization.id)}},
    )
    response = await client.get(url, headers=bearer(tenant.tokens[Role.viewer]))
    assert response.status_code == 200
    newest_first = sorted(made, key=lambda d: d.id)
    newest_first.sort(key=lambda d: d.created_at, reverse=True)
    assert response.json() == {
        "items": [design_body(d) for d in newest_first],
        "pagination": {"total_count": 3, "max_page": 1},
    }
    response = await client.get(url, params={"q": "wild"}, headers=owner(tenant))
    assert sorted(i["name"] for i in response.json()["items"]) == ["Stay Wild", "Wild Heart"]
    response = await client.get(url, params={"limit": 2, "page": 2}, headers=owner(tenant))
    assert len(response.json()["items"]) == 1
    assert response.json()["pagination"] == {"total_count": 3, "max_page": 2}


async def test_get_rename_and_delete_a_design(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    design, _ = await create_design(session, tenant.organization)
    url = f"{API}/designs/{design.id}"
    await assert_refused(client, session, tenant, other_tenant, "GET", url, scope=READ)
    await assert_refused(
        client, session, tenant, other_tenant, "PATCH", url, scope=WRITE, json={"name": "X"}
    )
    await assert_refused(client, session, tenant, other_tenant, "DELETE", url, scope=WRITE)

    response = await client.get(url, headers=bearer(tenant.tokens[Role.viewer]))
    assert response.status_code == 200
    assert response.json() == design_body(design)

    response = await client.patch(
        url, json={"name": "Renamed"}, headers=bearer(tenant.tokens[Role.viewer])
    )
    assert response.status_code == 403
    assert response.json()["error"] == "NotPermitted"
    assert (await reload(session, Design, design.id)).name == "Stay Wild"

    response = await client.patch(url, json={"name": " Renamed "}, headers=owner(tenant))
    assert response.status_code == 200
    renamed = await reload(session, Design, design.id)
    assert renamed.name == "Renamed"
    assert response.json() == design_body(renamed)

    response = await client.delete(url, headers=bearer(tenant.tokens[Role.editor]))
    assert response.status_code == 200
    assert (await reload(session, Design, design.id)).deleted_at is not None
    assert (await client.get(url, headers=owner(tenant))).status_code == 404


# --- versions -----------------------------------------------------------------------------------


def version_body(version: DesignVersion) -> dict[str, Any]:
    return {
        "id": str(version.id),
        "design_id": str(version.design_id),
        "number": version.number,
        "document": version.document,
        "note": version.note,
        "reverted_from": version.reverted_from,
        "created_at": iso(version.created_at),
    }


async def test_save_list_get_and_revert_versions(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    first = text_document("First")
    design, v1 = await create_design(session, tenant.organization, document=first)
    base = f"{API}/designs/{design.id}/versions"
    second = text_document("Second", colour="#00AA00", size=420)
    for method, url, scope, body in (
        ("POST", base, WRITE, {"document": second}),
        ("GET", base, READ, None),
        ("GET", f"{base}/1", READ, None),
        ("POST", f"{base}/1/revert", WRITE, None),
    ):
        await assert_refused(
            client, session, tenant, other_tenant, method, url, scope=scope, json=body
        )

    response = await client.post(
        base, json={"document": second, "note": "greener"}, headers=owner(tenant)
    )
    assert response.status_code == 201, response.text
    v2 = await reload(session, DesignVersion, uuid.UUID(response.json()["id"]))
    assert response.json() == version_body(v2)
    assert (v2.number, v2.note, v2.reverted_from) == (2, "greener", None)
    assert v2.document == normalised(second)

    response = await client.get(base, headers=bearer(tenant.tokens[Role.viewer]))
    assert response.status_code == 200
    assert response.json() == {
        "items": [version_body(v2), version_body(v1)],
        "pagination": {"total_count": 2, "max_page": 1},
    }
    response = await client.get(f"{base}/1", headers=owner(tenant))
    assert response.json() == version_body(v1)

    response = await client.post(f"{base}/1/revert", headers=bearer(tenant.tokens[Role.viewer]))
    assert response.status_code == 403
    response = await client.post(f"{base}/1/revert", headers=owner(tenant))
    assert response.status_code == 201, response.text
    v3 = await reload(session, DesignVersion, uuid.UUID(response.json()["id"]))
    assert response.json() == version_body(v3)
    assert (v3.number, v3.reverted_from, v3.note) == (3, 1, "Reverted to version 1")
    assert v3.document == v1.document == normalised(first)
    assert (await reload(session, Design, design.id)).latest_version == 3
    # History is kept: version 2 is still there, unchanged.
    assert (await client.get(f"{base}/2", headers=owner(tenant))).json() == version_body(v2)

    response = await client.get(f"{base}/9", headers=owner(tenant))
    assert response.status_code == 404
    assert response.json() == {"error": "ResourceNotFound", "detail": "Design version not found."}
    response = await client.get(f"{base}/0", headers=owner(tenant))
    assert response.status_code == 422
    assert response.json()["detail"] == "path.number: Input should be greater than or equal to 1"
    response = await client.post(f"{base}/9/revert", headers=owner(tenant))
    assert response.status_code == 404
    assert await count_rows(session, "design_versions") == 3


async def test_a_bad_version_is_not_saved(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    design, _ = await create_design(session, tenant.organization)
    response = await client.post(
        f"{API}/designs/{design.id}/versions",
        json={"document": text_document(font="papyrus")},
        headers=owner(tenant),
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("document.layers[0].font: font 'papyrus'")
    assert await count_rows(session, "design_versions") == 1
    assert (await reload(session, Design, design.id)).latest_version == 1


# --- previews -----------------------------------------------------------------------------------


def png_size(content: bytes) -> tuple[tuple[int, int], str]:
    image = Image.open(io.BytesIO(content))
    return image.size, image.mode


async def test_preview_a_document(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    document = text_document(width=1200, height=600)
    url = f"{API}/designs/preview"
    response = await client.post(url, json={"document": document, "size": 400})
    assert response.status_code == 401
    _, no_scope = await create_api_key(
        session, organization=tenant.organization, user=tenant.owner, scopes=ALL_SCOPES - {READ}
    )
    response = await client.post(url, json={"document": document}, headers=bearer(no_scope))
    assert response.status_code == 403
    assert response.json()["error"] == "InsufficientScope"
    # A preview is of the caller's own workspace: tenant A's images are not there for tenant B.
    mine = await create_media(session, tenant.organization)
    with_image = {
        "canvas": {"width": 400, "height": 400},
        "layers": [
            {
                "type": "image",
                "id": "i",
                "x": 200,
                "y": 200,
                "media_id": str(mine.id),
                "width": 100,
                "height": 100,
            }
        ],
    }
    response = await client.post(url, json={"document": with_image}, headers=owner(other_tenant))
    assert response.status_code == 422
    assert response.json()["detail"].startswith(f"document.layers[0].media_id: image '{mine.id}'")
    response = await client.post(
        url, json={"document": document, "size": 400}, headers=bearer(tenant.tokens[Role.viewer])
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == "no-store"
    assert png_size(response.content) == ((400, 200), "RGBA")
    # The text is drawn: some pixels are the fill colour, the corners stay transparent.
    image = Image.open(io.BytesIO(response.content))
    assert image.getpixel((0, 0))[3] == 0
    assert (255, 107, 53, 255) in {c for _, c in image.getcolors(400 * 200) or []}

    response = await client.post(
        url, json={"document": text_document(font="nope")}, headers=owner(tenant)
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("document.layers[0].font: ")
    response = await client.post(
        url, json={"document": document, "size": 5000}, headers=owner(tenant)
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "size: Input should be less than or equal to 1200"


async def test_preview_a_saved_version(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    design, _ = await create_design(session, tenant.organization)
    url = f"{API}/designs/{design.id}/versions/1/preview"
    await assert_refused(client, session, tenant, other_tenant, "GET", url, scope=READ)
    response = await client.get(url, params={"size": 300}, headers=owner(tenant))
    assert response.status_code == 200
    assert png_size(response.content) == ((300, 300), "RGBA")
    response = await client.get(url, headers=owner(tenant))
    assert png_size(response.content) == ((600, 600), "RGBA")


async def test_preview_draws_the_workspaces_images(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    logo = await create_media(
        session, tenant.organization, data=png_bytes((80, 80), (0, 0, 255, 255))
    )
    document = {
        "canvas": {"width": 400, "height": 400},
        "layers": [
            {
                "type": "image",
                "id": "logo",
                "x": 200,
                "y": 200,
                "media_id": str(logo.id),
                "width": 200,
                "height": 200,
            }
        ],
    }
    response = await client.post(
        f"{API}/designs/preview", json={"document": document, "size": 400}, headers=owner(tenant)
    )
    assert response.status_code == 200, response.text
    image = Image.open(io.BytesIO(response.content))
    assert image.getpixel((200, 200)) == (0, 0, 255, 255)
    assert image.getpixel((20, 20))[3] == 0


# --- validation and fixes -----------------------------------------------------------------------


async def test_validate_a_version_against_product_types(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    document = text_document("Tiny", size=20)
    design, _ = await create_design(session, tenant.organization, document=document)
    url = f"{API}/designs/{design.id}/validate"
    body = {"product_types": {"tshirt": ["white-m"], "mug": []}}
    await assert_refused(client, session, tenant, other_tenant, "POST", url, scope=READ, json=body)
    response = await client.post(url, json=body, headers=bearer(tenant.tokens[Role.viewer]))
    assert response.status_code == 200, response.text
    doc = DesignDocument.model_validate(document)
    expected = []
    for key, variants in (("tshirt", ["white-m"]), ("mug-11oz", None)):
        product_type = get_product_type(key)
        expected += [
            issue_dict(i, key)
            for i in validate(
                doc, product_type, area_keys=default_area_keys(product_type), variant_keys=variants
            )
        ]
    assert response.json() == expected

    response = await client.post(
        url, json={"product_types": {"spaceship": []}}, headers=owner(tenant)
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith(
        "product_types.spaceship: unknown product type 'spaceship'"
    )


async def test_apply_an_automatic_fix(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    # Half-transparent ink: DTG printers can't print it as the screen shows it.
    design, v1 = await create_design(
        session, tenant.organization, document=text_document(colour="#ff6b3580")
    )
    url = f"{API}/designs/{design.id}/fixes"
    body = {"product_type": "tshirt", "code": "semi_transparent_pixels"}
    await assert_refused(client, session, tenant, other_tenant, "POST", url, scope=WRITE, json=body)
    issues = await client.post(
        f"{API}/designs/{design.id}/validate",
        json={"product_types": {"tshirt": ["white-m"]}},
        headers=owner(tenant),
    )
    assert [(i["code"], i["severity"], i["fix"]) for i in issues.json()] == [
        ("semi_transparent_pixels", "warning", "harden_alpha")
    ]
    response = await client.post(url, json=body, headers=bearer(tenant.tokens[Role.viewer]))
    assert response.status_code == 403
    response = await client.post(url, json=body, headers=bearer(tenant.tokens[Role.editor]))
    assert response.status_code == 201, response.text
    v2 = await reload(session, DesignVersion, uuid.UUID(response.json()["id"]))
    assert (v2.number, v2.note) == (2, "Fixed semi_transparent_pixels for Unisex t-shirt")
    expected = DesignDocument.model_validate(v1.document)
    assert v2.document["layers"][0]["fill"]["colours"] == ["#ff6b35"]
    assert {k: v for k, v in v2.document.items() if k != "layers"} == {
        k: v for k, v in expected.model_dump(mode="json").items() if k != "layers"
    }
    issues = await client.post(
        f"{API}/designs/{design.id}/validate",
        json={"product_types": {"tshirt": ["white-m"]}},
        headers=owner(tenant),
    )
    assert issues.json() == []
    # The new version has nothing left to fix.
    response = await client.post(url, json=body, headers=owner(tenant))
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "code: version 2 has no 'semi_transparent_pixels' issue on tshirt to fix; "
        "validate again to see the current issues."
    )
    assert await count_rows(session, "design_versions") == 2


# --- renders ------------------------------------------------------------------------------------


async def test_start_a_render(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    design, version = await create_design(session, tenant.organization)
    url = f"{API}/designs/{design.id}/renders"
    body = {"product_types": {"tshirt": ["white-m", "black-m"], "mug": []}}
    await assert_refused(client, session, tenant, other_tenant, "POST", url, scope=WRITE, json=body)
    response = await client.post(url, json=body, headers=bearer(tenant.tokens[Role.viewer]))
    assert response.status_code == 403
    assert await count_rows(session, "renders") == 0

    response = await client.post(url, json=body, headers=bearer(tenant.tokens[Role.editor]))
    assert response.status_code == 202, response.text
    render = await reload(session, Render, uuid.UUID(response.json()["id"]))
    job = await reload(session, Job, render.job_id)
    assert response.json() == {
        "id": str(render.id),
        "created_at": iso(render.created_at),
        "modified_at": iso(render.modified_at),
        "organization_id": str(tenant.organization.id),
        "design_id": str(design.id),
        "design_version_id": str(version.id),
        "selection": {"tshirt": ["white-m", "black-m"], "mug-11oz": []},
        "mockups": True,
        "status": "queued",
        "progress_done": 0,
        # One front print file for both shirts (same size), one wrap for the mug, and a
        # mockup step for each product type.
        "progress_total": 4,
        "issues": response.json()["issues"],
        "error": None,
        "catalog_version": "2026.12.1",
        "job_id": str(job.id),
        "completed_at": None,
    }
    assert (job.kind, job.arguments, job.organization_id) == (
        "studio.render",
        [str(render.id)],
        tenant.organization.id,
    )
    assert job.summary == "Render “Stay Wild” v1 for tshirt, mug-11oz"

    listed = await client.get(url, headers=bearer(tenant.tokens[Role.viewer]))
    assert [r["id"] for r in listed.json()["items"]] == [str(render.id)]


@pytest.mark.parametrize(
    ("selection", "detail"),
    [
        ({"spaceship": []}, "product_types.spaceship: unknown product type 'spaceship'"),
        (
            {"tshirt": ["white-m", "purple-m"]},
            "product_types.tshirt: unknown variant(s) purple-m; Unisex t-shirt has: ",
        ),
    ],
    ids=["unknown product type", "unknown variant"],
)
async def test_a_bad_render_request_saves_nothing(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    selection: dict[str, list[str]],
    detail: str,
) -> None:
    design, _ = await create_design(session, tenant.organization)
    response = await client.post(
        f"{API}/designs/{design.id}/renders",
        json={"product_types": selection},
        headers=owner(tenant),
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail), response.json()
    assert await count_rows(session, "renders") == 0
    assert await count_rows(session, "jobs") == 0


async def test_a_design_that_paints_nothing_is_not_rendered(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    document = text_document()
    document["layers"][0]["visible"] = False
    design, _ = await create_design(session, tenant.organization, document=document)
    response = await client.post(
        f"{API}/designs/{design.id}/renders",
        json={"product_types": {"tshirt": []}},
        headers=owner(tenant),
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("version: The design paints nothing")
    assert await count_rows(session, "renders") == 0


async def test_get_a_render_with_its_files(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    design, version = await create_design(session, tenant.organization)
    render = await create_render(session, design, version)
    url = f"{API}/renders/{render.id}"
    await assert_refused(client, session, tenant, other_tenant, "GET", url, scope=READ)
    response = await client.get(url, headers=bearer(tenant.tokens[Role.viewer]))
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"], body["progress_done"], body["progress_total"]) == (
        str(render.id),
        "succeeded",
        1,
        1,
    )
    [file] = body["files"]
    asset = (
        await session.execute(
            select(MediaAsset).where(MediaAsset.id == uuid.UUID(file["media_asset_id"]))
        )
    ).scalar_one()
    assert file == {
        "id": file["id"],
        "kind": "print_file",
        "product_type": "tshirt",
        "area_key": "front",
        "variant_keys": [],
        "view": None,
        "colour_hex": None,
        "label": "front",
        "width": 18,
        "height": 24,
        "dpi": 150,
        "media_asset_id": str(asset.id),
    }
    content = await client.get(f"{API}/media/{asset.id}/content", headers=owner(tenant))
    assert content.status_code == 200
    assert content.content == await get_storage().get(asset.storage_key)


# --- uploads and media --------------------------------------------------------------------------


def media_body(asset: MediaAsset) -> dict[str, Any]:
    return {
        "id": str(asset.id),
        "created_at": iso(asset.created_at),
        "modified_at": iso(asset.modified_at),
        "organization_id": str(asset.organization_id),
        "kind": asset.kind.value,
        "content_type": asset.content_type,
        "byte_size": asset.byte_size,
        "width": asset.width,
        "height": asset.height,
        "dpi": asset.dpi,
        "sha256": asset.sha256,
        "filename": asset.filename,
    }


async def test_upload_a_png(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x9286] = "secret comment"  # UserComment
    data = png_bytes((120, 80), exif=exif.tobytes(), dpi=(72, 72))
    assert b"SpyCam" in data
    files = {"file": ("../../my logo.png", data, "image/png")}
    await assert_refused(
        client,
        session,
        tenant,
        other_tenant,
        "POST",
        f"{API}/media",
        scope=WRITE,
        files=files,
        foreign={"params": {"organization_id": str(tenant.organization.id)}},
    )
    response = await client.post(
        f"{API}/media", files=files, headers=bearer(tenant.tokens[Role.viewer])
    )
    assert response.status_code == 403
    assert await count_rows(session, "media_assets") == 0

    response = await client.post(
        f"{API}/media", files=files, headers=bearer(tenant.tokens[Role.editor])
    )
    assert response.status_code == 201, response.text
    asset = await reload(session, MediaAsset, uuid.UUID(response.json()["id"]))
    assert response.json() == media_body(asset)
    assert (asset.kind.value, asset.content_type, asset.width, asset.height, asset.dpi) == (
        "upload",
        "image/png",
        120,
        80,
        None,
    )
    assert asset.storage_key == f"org/{tenant.organization.id}/upload/{asset.id}.png"
    assert asset.filename == "my logo.png"
    stored = await get_storage().get(asset.storage_key)
    assert len(stored) == asset.byte_size
    assert b"SpyCam" not in stored
    assert b"secret comment" not in stored
    image = Image.open(io.BytesIO(stored))
    assert image.size == (120, 80)
    assert set(image.info) & {"exif", "dpi", "Comment"} == set()
    assert image.getpixel((5, 5)) == (200, 30, 60, 255)

    # Reading it back: the details, then the bytes.
    response = await client.get(
        f"{API}/media/{asset.id}", headers=bearer(tenant.tokens[Role.viewer])
    )
    assert response.json() == media_body(asset)
    response = await client.get(
        f"{API}/media/{asset.id}/content", headers=bearer(tenant.tokens[Role.viewer])
    )
    assert response.status_code == 200
    assert response.content == stored
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    [event] = (
        (
            await session.execute(
                select(AuditEvent).where(
                    AuditEvent.action == "media.uploaded", AuditEvent.outcome == "success"
                )
            )
        )
        .scalars()
        .all()
    )
    assert event.details == {
        "filename": "my logo.png",
        "bytes": asset.byte_size,
        "width": 120,
        "height": 80,
    }


def truncated_png() -> bytes:
    data = png_bytes((300, 300), (10, 20, 30, 255))
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("data", "status", "error", "detail"),
    [
        (
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3 not an image",
            422,
            "InvalidUpload",
            "file: The file is a PDF",
        ),
        (b"hello, this is plain text\n" * 4, 422, "InvalidUpload", "file: The file is text"),
        (
            truncated_png(),
            422,
            "InvalidUpload",
            "file: The file is truncated or corrupt; re-export it from your design tool.",
        ),
        (
            png_header_only(13_000, 13_000),
            422,
            "InvalidUpload",
            "file: The image is 13000×13000 px (169.0 megapixels); the limit is 150.0 "
            "megapixels. Scale it down and upload it again.",
        ),
        (
            png_header_only(40_000, 10),
            422,
            "InvalidUpload",
            "file: The image is 40000×10 px; no side may exceed 30,000 px.",
        ),
    ],
    ids=["pdf", "text", "truncated", "decompression bomb", "too wide"],
)
async def test_bad_uploads_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    data: bytes,
    status: int,
    error: str,
    detail: str,
) -> None:
    before = stored_files()
    response = await client.post(
        f"{API}/media", files={"file": ("art.png", data, "image/png")}, headers=owner(tenant)
    )
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.json()["detail"].startswith(detail), response.json()
    assert await count_rows(session, "media_assets") == 0
    assert stored_files() == before


async def test_an_upload_over_the_limit_is_413(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = png_bytes((200, 200))
    monkeypatch.setattr(get_settings(), "UPLOAD_MAX_BYTES", len(data) - 1)
    before = stored_files()
    response = await client.post(
        f"{API}/media", files={"file": ("big.png", data, "image/png")}, headers=owner(tenant)
    )
    assert response.status_code == 413
    assert response.json()["error"] == "UploadTooLarge"
    assert response.json()["detail"].startswith("file: ")
    assert await count_rows(session, "media_assets") == 0
    assert stored_files() == before
    monkeypatch.setattr(get_settings(), "UPLOAD_MAX_BYTES", len(data))
    response = await client.post(
        f"{API}/media", files={"file": ("big.png", data, "image/png")}, headers=owner(tenant)
    )
    assert response.status_code == 201


async def test_an_empty_upload_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    response = await client.post(
        f"{API}/media", files={"file": ("empty.png", b"", "image/png")}, headers=owner(tenant)
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "BadRequest",
        "detail": "file: the upload is empty; choose an image file.",
    }


async def test_media_of_another_workspace_is_404(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    """The issue's rule: another workspace's media URLs answer exactly like missing ones."""
    theirs = await create_media(session, other_tenant.organization)
    mine = await create_media(session, tenant.organization)
    for suffix in ("", "/content"):
        await assert_refused(
            client,
            session,
            tenant,
            other_tenant,
            "GET",
            f"{API}/media/{mine.id}{suffix}",
            scope=READ,
        )
        foreign = await client.get(f"{API}/media/{theirs.id}{suffix}", headers=owner(tenant))
        missing = await client.get(f"{API}/media/{uuid.uuid4()}{suffix}", headers=owner(tenant))
        assert foreign.status_code == missing.status_code == 404
        assert (
            foreign.json()
            == missing.json()
            == {
                "error": "ResourceNotFound",
                "detail": "Media not found.",
            }
        )
        own = await client.get(f"{API}/media/{mine.id}{suffix}", headers=owner(tenant))
        assert own.status_code == 200

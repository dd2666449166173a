"""Merch Studio pages: the preset gallery, creating a design, the editor's live preview, saving,
reverting and restyling, validation with fixes, creating products, the price table, pricing
rules, and media that another workspace can't reach."""

import base64
import html
import io
import json
import re
import uuid

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.catalog.registry import get_product_type
from flashfusion.models import (
    Design,
    DesignVersion,
    MediaAsset,
    PricingRule,
    Product,
    ProductVariant,
    Render,
    Role,
)
from flashfusion.studio.presets import PRESETS, build_design
from tests.fixtures.objects import Tenant, create_tenant
from tests.web.test_org_views import follow, post, sign_in


async def count(session: AsyncSession, model: type) -> int:
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


def data_url_image(markup: str, element_id: str) -> Image.Image:
    match = re.search(rf'id="{element_id}" src="data:image/png;base64,([^"]+)"', markup)
    assert match, markup[:2000]
    return Image.open(io.BytesIO(base64.b64decode(match.group(1))))


async def new_design(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, phrase: str = "Stay Wild"
) -> Design:
    response = await post(
        client,
        f"/orgs/{tenant.organization.id}/studio/designs",
        {"phrase": phrase, "preset": "retro-sunset"},
    )
    assert response.status_code == 303, response.text[:300]
    design = (await session.execute(select(Design).where(Design.phrase == phrase))).scalar_one()
    assert response.headers["location"] == (
        f"/orgs/{tenant.organization.id}/studio/designs/{design.id}"
    )
    return design


async def test_gallery_draws_every_preset_for_the_phrase(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    await sign_in(client, session, tenant.owner)
    org = tenant.organization
    page = await client.get(f"/orgs/{org.id}/studio")
    assert page.status_code == 200
    assert 'hx-get="/orgs/' + str(org.id) + '/studio/gallery"' in page.text
    fragment = await client.get(f"/orgs/{org.id}/studio/gallery", params={"phrase": "Good Vibes"})
    assert fragment.status_code == 200
    keys = re.findall(r'data-preset="([a-z-]+)"', fragment.text)
    assert keys == list(PRESETS)
    thumbnails = re.findall(r'src="data:image/png;base64,([^"]+)"', fragment.text)
    assert len(thumbnails) == len(PRESETS)
    sizes = {Image.open(io.BytesIO(base64.b64decode(t))).size for t in thumbnails}
    assert sizes == {(183, 220)}  # 4500 x 5400 canvas, longest side 220
    # Distinct renderings, not one picture repeated.
    assert len(set(thumbnails)) == len(PRESETS)
    empty = await client.get(f"/orgs/{org.id}/studio/gallery", params={"phrase": "  "})
    assert "The styles appear here as you type." in empty.text


async def test_create_design_from_a_preset_and_open_the_editor(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    await sign_in(client, session, tenant.owner)
    design = await new_design(client, session, tenant)
    assert (design.name, design.preset, design.latest_version) == (
        "Stay Wild",
        "retro-sunset",
        1,
    )
    version = (await session.execute(select(DesignVersion))).scalar_one()
    assert version.document == build_design("retro-sunset", "Stay Wild").model_dump(mode="json")
    editor = await client.get(f"/orgs/{tenant.organization.id}/studio/designs/{design.id}")
    assert editor.status_code == 200
    preview = data_url_image(editor.text, "preview-image")
    assert preview.size == (500, 600)
    data = json.loads(
        html.unescape(editor.text.split('id="editor-data">', 1)[1].split("</script>", 1)[0])
    )
    assert data["document"] == version.document
    assert data["editable"] is True
    assert {f["key"] for f in data["fonts"]} >= {"bebas-neue", "lobster"}
    boxes = json.loads(
        html.unescape(re.search(r'data-boxes="([^"]+)"', editor.text).group(1))  # type: ignore[union-attr]
    )
    assert [b["id"] for b in boxes] == [layer["id"] for layer in version.document["layers"]]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"phrase": "   ", "preset": "retro-sunset"}, "phrase: type the text to design first."),
        ({"phrase": "x" * 201, "preset": "retro-sunset"}, "phrase: use at most 200 characters."),
        (
            {"phrase": "Hi", "preset": "pastel-goth"},
            "preset: preset 'pastel-goth' does not exist; use one of: retro-sunset,",
        ),
    ],
)
async def test_bad_design_input_is_refused_and_nothing_saved(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    form: dict[str, str],
    message: str,
) -> None:
    await sign_in(client, session, tenant.owner)
    response = await post(client, f"/orgs/{tenant.organization.id}/studio/designs", form)
    assert response.status_code == 303
    assert message in await follow(client, response)
    assert await count(session, Design) == 0
    assert await count(session, DesignVersion) == 0


async def test_live_preview_renders_the_unsaved_document(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    await sign_in(client, session, tenant.owner)
    design = await new_design(client, session, tenant)
    document = build_design("neon-glow", "Night Owl").model_dump(mode="json")
    url = f"/orgs/{tenant.organization.id}/studio/designs/{design.id}/preview"
    response = await post(client, url, {"document": json.dumps(document)})
    assert response.status_code == 200
    image = data_url_image(response.text, "preview-image")
    assert image.size == (500, 600)
    # Nothing is saved by a preview.
    assert await count(session, DesignVersion) == 1

    document["layers"][0]["opacity"] = 7
    bad = await post(client, url, {"document": json.dumps(document)})
    assert bad.status_code == 200
    assert 'id="preview-error"' in bad.text
    assert "document.layers.0" in html.unescape(bad.text)
    assert "opacity" in bad.text


async def test_save_revert_and_restyle_make_new_versions(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    await sign_in(client, session, tenant.owner)
    org = tenant.organization
    design = await new_design(client, session, tenant)
    base = f"/orgs/{org.id}/studio/designs/{design.id}"
    original = build_design("retro-sunset", "Stay Wild").model_dump(mode="json")
    edited = json.loads(json.dumps(original))
    text = next(layer for layer in edited["layers"] if layer["type"] == "text")
    text["text"] = "STAY WILDER"
    saved = await post(
        client, f"{base}/versions", {"document": json.dumps(edited), "note": "longer"}
    )
    assert "Saved version 2." in await follow(client, saved)
    reverted = await post(client, f"{base}/revert", {"number": "1"})
    assert "Restored version 1 as version 3." in await follow(client, reverted)
    restyled = await post(client, f"{base}/restyle", {"preset": "kawaii"})
    assert "Applied kawaii as version 4." in await follow(client, restyled)
    versions = (
        (await session.execute(select(DesignVersion).order_by(DesignVersion.number)))
        .scalars()
        .all()
    )
    assert [(v.number, v.note, v.reverted_from) for v in versions] == [
        (1, "", None),
        (2, "longer", None),
        (3, "Reverted to version 1", 1),
        (4, "Style: kawaii", None),
    ]
    assert versions[1].document == edited
    assert versions[2].document == original
    assert versions[3].document == build_design("kawaii", "Stay Wild").model_dump(mode="json")


async def test_viewer_sees_the_editor_read_only_and_cannot_save(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    await sign_in(client, session, tenant.owner)
    design = await new_design(client, session, tenant)
    client.cookies.clear()
    await sign_in(client, session, tenant.users[Role.viewer])
    base = f"/orgs/{tenant.organization.id}/studio/designs/{design.id}"
    editor = await client.get(base)
    assert editor.status_code == 200
    assert 'id="save-version"' not in editor.text
    assert '"editable": false' in html.unescape(editor.text)
    document = build_design("grunge", "Nope").model_dump(mode="json")
    response = await post(client, f"{base}/versions", {"document": json.dumps(document)})
    assert "Your role does not allow 'designs:manage'" in await follow(client, response)
    assert await count(session, DesignVersion) == 1


async def test_validate_then_create_a_product_with_a_price_table(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    await sign_in(client, session, tenant.owner)
    org = tenant.organization
    design = await new_design(client, session, tenant)
    base = f"/orgs/{org.id}/studio/designs/{design.id}"
    issues = await post(client, f"{base}/validate", [("product_types", "mug-11oz")])
    assert issues.status_code == 200
    assert 'id="issues"' in issues.text
    none_ticked = await post(client, f"{base}/validate", [])
    assert "product_types: tick at least one product type." in html.unescape(none_ticked.text)

    created = await post(client, f"{base}/products", [("product_types", "tshirt")])
    product = (await session.execute(select(Product))).scalar_one()
    assert created.headers["location"] == f"/orgs/{org.id}/products/{product.id}"
    page = await follow(client, created)
    assert "Product created; print files and mockups are rendering." in page
    tshirt = get_product_type("tshirt")
    variants = (await session.execute(select(ProductVariant))).scalars().all()
    assert sorted(v.variant_key for v in variants) == sorted(v.key for v in tshirt.variants)
    render = (await session.execute(select(Render))).scalar_one()
    assert product.render_id == render.id
    assert 'id="render-status"' in page
    assert 'hx-trigger="every 1s"' in page
    fragment = await client.get(f"/orgs/{org.id}/products/{product.id}/render")
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="render-status"')
    assert 'hx-trigger="every 1s"' in fragment.text
    assert "Waiting for a worker…" in fragment.text
    rows = re.findall(r'<tr data-variant="([^"]+)">', page)
    assert sorted(rows) == sorted(v.key for v in tshirt.variants)

    # The catalog has no verified base cost: the creator enters one and the rule prices it.
    white_m = next(v for v in variants if v.variant_key == "white-m")
    updated = await post(
        client,
        f"/orgs/{org.id}/products/{product.id}/variants/white-m",
        {"cost": "12.95", "price": ""},
    )
    page = await follow(client, updated)
    assert "Variant updated." in page
    await session.refresh(white_m)
    assert white_m.cost == 1295
    assert white_m.price is not None
    assert white_m.price % 100 == 99
    manual = await post(
        client,
        f"/orgs/{org.id}/products/{product.id}/variants/white-m",
        {"cost": "", "price": "29.99"},
    )
    await follow(client, manual)
    await session.refresh(white_m)
    assert (white_m.price, white_m.price_source) == (2999, "manual")
    for bad, message in [
        ("-1", "cost: amounts can't be negative."),
        ("abc", "cost: 'abc' is not an amount; type it like 12.99."),
        ("1.234", "cost: use at most two decimals."),
        ("9999999", "cost: 9999999 is too large; check the amount."),
    ]:
        response = await post(
            client,
            f"/orgs/{org.id}/products/{product.id}/variants/white-m",
            {"cost": bad, "price": ""},
        )
        assert message in await follow(client, response)
    await session.refresh(white_m)
    assert white_m.cost == 1295


async def test_pricing_rules_page_admin_only(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    org = tenant.organization
    await sign_in(client, session, tenant.users[Role.editor])
    page = await client.get(f"/orgs/{org.id}/pricing")
    assert page.status_code == 200
    assert 'id="rule-form"' not in page.text
    denied = await post(
        client,
        f"/orgs/{org.id}/pricing",
        {
            "name": "Mine",
            "mode": "margin",
            "target_percent": "30",
            "rounding": "99",
            "min_profit": "3.00",
            "channel": "etsy",
        },
    )
    assert "Your role does not allow 'pricing:manage'" in await follow(client, denied)
    assert await count(session, PricingRule) == 0

    client.cookies.clear()
    await sign_in(client, session, tenant.owner)
    bad = await post(
        client,
        f"/orgs/{org.id}/pricing",
        {
            "name": "Bad",
            "mode": "margin",
            "target_percent": "lots",
            "rounding": "99",
            "min_profit": "3.00",
            "channel": "etsy",
        },
    )
    assert "target_percent: type a percentage like 35." in await follow(client, bad)
    created = await post(
        client,
        f"/orgs/{org.id}/pricing",
        {
            "name": "Etsy 35",
            "mode": "margin",
            "target_percent": "35",
            "rounding": "99",
            "min_profit": "4.50",
            "channel": "etsy",
            "is_default": "1",
        },
    )
    assert "Pricing rule “Etsy 35” created." in await follow(client, created)
    rule = (await session.execute(select(PricingRule))).scalar_one()
    assert (rule.mode, rule.target_bps, rule.rounding, rule.min_profit, rule.channel) == (
        "margin",
        3500,
        "99",
        450,
        "etsy",
    )
    assert rule.is_default


async def test_media_of_another_workspace_is_not_found(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    other = await create_tenant(session, "B")
    await sign_in(client, session, other.owner)
    png = io.BytesIO()
    Image.new("RGBA", (64, 48), (255, 0, 0, 255)).save(png, format="PNG")
    design = await new_design(client, session, other, phrase="Theirs")
    document = build_design("retro-sunset", "Theirs").model_dump(mode="json")
    from tests.fixtures.web import csrf

    upload = await client.post(
        f"/orgs/{other.organization.id}/studio/designs/{design.id}/images",
        data={"csrf_token": await csrf(client), "document": json.dumps(document)},
        files={"file": ("red.png", png.getvalue(), "image/png")},
    )
    assert upload.status_code == 303, upload.text[:300]
    asset = (await session.execute(select(MediaAsset))).scalar_one()
    own = await client.get(f"/orgs/{other.organization.id}/media/{asset.id}")
    assert own.status_code == 200
    assert Image.open(io.BytesIO(own.content)).size == (64, 48)

    client.cookies.clear()
    await sign_in(client, session, tenant.owner)
    for url in (
        f"/orgs/{tenant.organization.id}/media/{asset.id}",
        f"/orgs/{other.organization.id}/media/{asset.id}",
    ):
        foreign = await client.get(url)
        assert foreign.status_code == 404
    missing = await client.get(f"/orgs/{tenant.organization.id}/media/{uuid.uuid4()}")
    assert missing.status_code == 404


async def test_one_cost_for_every_variant_then_compare_channels(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    from flashfusion.product import pricing
    from flashfusion.product.pricing_rule_service import STARTER_RULE

    await sign_in(client, session, tenant.owner)
    org = tenant.organization
    design = await new_design(client, session, tenant)
    created = await post(
        client,
        f"/orgs/{org.id}/studio/designs/{design.id}/products",
        [("product_types", "mug-11oz")],
    )
    product = (await session.execute(select(Product))).scalar_one()
    await follow(client, created)
    response = await post(
        client, f"/orgs/{org.id}/products/{product.id}/costs", {"cost": "6.95", "shipping": "5.49"}
    )
    page = await follow(client, response)
    mug = get_product_type("mug-11oz")
    assert f"Cost set for {len(mug.variants)} variant(s); prices follow the pricing rule." in page
    rule = pricing.PricingRule(**STARTER_RULE)  # type: ignore[arg-type]
    expected = pricing.price_variant(
        cost=695, shipping=549, currency="USD", rule=rule, fees=pricing.load_fee_schedule("etsy")
    )
    variants = (await session.execute(select(ProductVariant))).scalars().all()
    for variant in variants:
        await session.refresh(variant)
    assert {(v.cost, v.shipping, v.price) for v in variants} == {(695, 549, expected.price)}
    assert f"{expected.price / 100:.2f}" in page
    assert f"{expected.profit / 100:.2f}" in page
    assert f"{expected.margin_bps / 100:.1f} %" in page

    amazon = await client.get(f"/orgs/{org.id}/products/{product.id}", params={"channel": "amazon"})
    assert amazon.status_code == 200
    assert "after amazon fees" in amazon.text
    fees = pricing.load_fee_schedule("amazon").with_options(category="home_and_kitchen")
    line = pricing.evaluate_price(
        price=expected.price, cost=695, shipping=549, currency="USD", rule=rule, fees=fees
    )
    assert f"{line.fees_total / 100:.2f}" in amazon.text

    missing = await post(client, f"/orgs/{org.id}/products/{product.id}/costs", {"cost": "  "})
    assert "cost: type your provider's cost for one item, like 12.95." in await follow(
        client, missing
    )

"""Merch Studio pages: designs and the editor, products with prices, pricing rules, media."""

import base64
import json
import uuid
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError

from flashfusion.authz.permission import Permission, role_has
from flashfusion.catalog.service import catalog as catalog_service
from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import AppError, BadRequest
from flashfusion.kit.pagination import PaginationParams
from flashfusion.models import RenderFileKind
from flashfusion.product.pricing_rule_service import STARTER_RULE
from flashfusion.product.pricing_rule_service import pricing_rule as pricing_rule_service
from flashfusion.product.schemas import PricingRuleCreate
from flashfusion.product.service import product as product_service
from flashfusion.studio import fonts as font_registry
from flashfusion.studio import presets as preset_registry
from flashfusion.studio.document import DesignDocument, ImageLayer
from flashfusion.studio.media import media as media_service
from flashfusion.studio.media import upload_limits
from flashfusion.studio.render import render as render_document
from flashfusion.studio.render_service import render_service
from flashfusion.studio.service import design as design_service
from flashfusion.studio.service import media_ids_of, on_checkerboard
from flashfusion.web.deps import OrgDep
from flashfusion.web.security import redirect
from flashfusion.web.templating import render

router = APIRouter()
FormStr = Annotated[str, Form()]
PageQuery = Annotated[int, Query(ge=1, le=10_000)]
GALLERY_SIZE = 220
PREVIEW_SIZE = 600


def _parse_document(raw: str) -> DesignDocument:
    """The editor's document; a bad one is a 400 naming the field (the editor keeps its state)."""
    try:
        return DesignDocument.model_validate_json(raw)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = str(first.get("msg", "")).removeprefix("Value error, ")
        raise BadRequest(f"document.{where}: {message}") from e


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


@lru_cache(maxsize=256)
def _gallery_thumbnail(preset: str, phrase: str) -> str:
    """A preset applied to a phrase, small (cached: typing the same phrase again is free)."""
    import io

    document = preset_registry.build_design(preset, phrase)
    scale = GALLERY_SIZE / max(document.canvas.width, document.canvas.height)
    image = on_checkerboard(render_document(document, scale=scale).image)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG", compress_level=1)
    return _data_url(buffer.getvalue())


def _gallery(phrase: str) -> list[dict[str, str]]:
    phrase = phrase.strip()[:200]
    if not phrase:
        return []
    return [
        {
            "key": p.key,
            "name": p.name,
            "description": p.description,
            "src": _gallery_thumbnail(p.key, phrase),
        }
        for p in preset_registry.PRESETS.values()
    ]


async def _preview(
    session: AsyncSessionDep, organization_id: uuid.UUID, document: DesignDocument
) -> dict[str, Any]:
    """The editor preview (on a checkerboard) and each layer's box in canvas px, for dragging."""
    import io

    await design_service.check(session, organization_id, document)
    loader = await media_service.loader(session, organization_id, media_ids_of(document))
    scale = PREVIEW_SIZE / max(document.canvas.width, document.canvas.height)
    result = render_document(document, scale=scale, media=loader)
    buffer = io.BytesIO()
    on_checkerboard(result.image).save(buffer, format="PNG", compress_level=1)
    boxes = [{"id": m.layer_id, "bbox": m.bbox} for m in result.layers]
    return {
        "src": _data_url(buffer.getvalue()),
        "boxes": boxes,
        "width": result.image.width,
        "height": result.image.height,
    }


# --- designs -------------------------------------------------------------------------


@router.get("/orgs/{org_id}/studio")
async def studio_page(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    page: PageQuery = 1,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    designs, total = await design_service.list(
        session,
        ctx.subject,
        organization_id=ctx.organization.id,
        query=q,
        pagination=PaginationParams(page, 24),
    )
    return render(
        request,
        "studio/index.html",
        {
            "designs": designs,
            "total": total,
            "page": page,
            "q": q or "",
            "presets": list(preset_registry.PRESETS.values()),
        },
    )


@router.get("/orgs/{org_id}/studio/gallery")
async def gallery(
    request: Request, ctx: OrgDep, phrase: Annotated[str, Query(max_length=200)] = ""
) -> Response:
    return render(request, "studio/_gallery.html", {"gallery": _gallery(phrase), "phrase": phrase})


@router.post("/orgs/{org_id}/studio/designs")
async def create_design(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    phrase: FormStr,
    preset: FormStr,
) -> Response:
    phrase = phrase.strip()
    if not phrase:
        raise BadRequest("phrase: type the text to design first.")
    if len(phrase) > 200:
        raise BadRequest("phrase: use at most 200 characters.")
    design, _ = await design_service.create(
        session,
        ctx.subject,
        organization_id=ctx.organization.id,
        name=None,
        phrase=phrase,
        preset=preset,
        document=None,
    )
    return redirect(f"/orgs/{ctx.organization.id}/studio/designs/{design.id}")


async def _editor_context(
    session: AsyncSessionDep, ctx: OrgDep, design_id: uuid.UUID, version: int | None
) -> dict[str, Any]:
    design = await design_service.get(session, ctx.subject, design_id)
    current = await design_service.get_version(session, design, version)
    versions, _ = await design_service.list_versions(session, design, PaginationParams(1, 30))
    catalog = await catalog_service.effective(session, ctx.organization.id)
    uploads = await media_service.recent_uploads(session, ctx.organization.id)
    by_category: dict[str, list[Any]] = {}
    for product_type in catalog.product_types.values():
        by_category.setdefault(product_type.category, []).append(product_type)
    document = DesignDocument.model_validate(current.document)
    try:
        preview = await _preview(session, ctx.organization.id, document)
    except AppError as e:
        # An old version may name an image deleted since: show the editor with the reason.
        preview = {"error": e.detail, "src": "", "boxes": []}
    return {
        "design": design,
        "version": current,
        "versions": versions,
        "document_json": json.dumps(current.document),
        "preview": preview,
        "fonts_json": [
            {"key": f.key, "name": f"{f.family} {f.style}".strip()}
            for f in font_registry.FONTS.values()
        ],
        "presets": list(preset_registry.PRESETS.values()),
        "by_category": by_category,
        "uploads": uploads,
        "can_edit": role_has(ctx.role, Permission.designs_manage),
    }


@router.get("/orgs/{org_id}/studio/designs/{design_id}")
async def editor(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    design_id: uuid.UUID,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    context = await _editor_context(session, ctx, design_id, version)
    return render(request, "studio/editor.html", context)


@router.post("/orgs/{org_id}/studio/designs/{design_id}/preview")
async def editor_preview(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    design_id: uuid.UUID,
    document: FormStr,
) -> Response:
    """HTMX: the editor's current (unsaved) document, re-rendered at preview size."""
    design = await design_service.get(session, ctx.subject, design_id)
    try:
        preview = await _preview(session, design.organization_id, _parse_document(document))
    except AppError as e:
        return render(request, "studio/_preview.html", {"preview": {"error": e.detail}})
    return render(request, "studio/_preview.html", {"preview": preview})


@router.post("/orgs/{org_id}/studio/designs/{design_id}/versions")
async def save_version(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    design_id: uuid.UUID,
    document: FormStr,
    note: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    design = await design_service.get(
        session,
        ctx.subject,
        design_id,
        permission=Permission.designs_manage,
        action="design.version_saved",
    )
    version = await design_service.save_version(
        session, ctx.subject, design, _parse_document(document), note=note.strip()
    )
    return redirect(
        f"/orgs/{ctx.organization.id}/studio/designs/{design.id}",
        f"Saved version {version.number}.",
    )


@router.post("/orgs/{org_id}/studio/designs/{design_id}/revert")
async def revert(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    design_id: uuid.UUID,
    number: Annotated[int, Form(ge=1)],
) -> Response:
    design = await design_service.get(
        session,
        ctx.subject,
        design_id,
        permission=Permission.designs_manage,
        action="design.reverted",
    )
    version = await design_service.revert(session, ctx.subject, design, number)
    return redirect(
        f"/orgs/{ctx.organization.id}/studio/designs/{design.id}",
        f"Restored version {number} as version {version.number}.",
    )


@router.post("/orgs/{org_id}/studio/designs/{design_id}/restyle")
async def restyle(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    design_id: uuid.UUID,
    preset: FormStr,
) -> Response:
    """Apply another preset to the design's phrase, as a new version."""
    from flashfusion.studio.service import build_from_preset

    design = await design_service.get(
        session,
        ctx.subject,
        design_id,
        permission=Permission.designs_manage,
        action="design.version_saved",
    )
    document = build_from_preset(preset, design.phrase or design.name)
    version = await design_service.save_version(
        session, ctx.subject, design, document, note=f"Style: {preset}"
    )
    return redirect(
        f"/orgs/{ctx.organization.id}/studio/designs/{design.id}",
        f"Applied {preset} as version {version.number}.",
    )


@router.post("/orgs/{org_id}/studio/designs/{design_id}/images")
async def add_image(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    design_id: uuid.UUID,
    file: UploadFile,
    document: FormStr,
) -> Response:
    """Upload an image and add it as a layer of the current document (a new version)."""
    design = await design_service.get(
        session,
        ctx.subject,
        design_id,
        permission=Permission.designs_manage,
        action="design.version_saved",
    )
    parsed = _parse_document(document)
    data = await file.read(upload_limits().max_bytes + 1)
    if not data:
        raise BadRequest("file: choose an image file to upload.")
    asset = await media_service.upload(
        session,
        ctx.subject,
        organization_id=ctx.organization.id,
        data=data,
        filename=file.filename,
    )
    canvas = parsed.canvas
    fit = min(canvas.width * 0.6 / asset.width, canvas.height * 0.6 / asset.height)
    layer = ImageLayer(
        id=f"image-{uuid.uuid4().hex[:6]}",
        name=asset.filename or "Image",
        media_id=str(asset.id),
        x=canvas.width / 2,
        y=canvas.height / 2,
        width=asset.width * fit,
        height=asset.height * fit,
    )
    updated = parsed.model_copy(update={"layers": [*parsed.layers, layer]})
    version = await design_service.save_version(
        session, ctx.subject, design, updated, note=f"Added image {asset.filename}"
    )
    return redirect(
        f"/orgs/{ctx.organization.id}/studio/designs/{design.id}",
        f"Image added (version {version.number}).",
    )


def _selection(form_values: list[str]) -> dict[str, list[str]]:
    selection: dict[str, list[str]] = {
        key: [] for key in dict.fromkeys(v.strip() for v in form_values) if key
    }
    if not selection:
        raise BadRequest("product_types: tick at least one product type.")
    return selection


@router.post("/orgs/{org_id}/studio/designs/{design_id}/validate")
async def validate(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    design_id: uuid.UUID,
    product_types: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI form default
) -> Response:
    """HTMX: validation issues of the saved version for the ticked product types."""
    design = await design_service.get(session, ctx.subject, design_id)
    version = await design_service.get_version(session, design, None)
    try:
        issues = await design_service.validate(session, design, version, _selection(product_types))
    except AppError as e:
        return render(request, "studio/_issues.html", {"error": e.detail, "design": design})
    return render(
        request, "studio/_issues.html", {"issues": issues, "design": design, "version": version}
    )


@router.post("/orgs/{org_id}/studio/designs/{design_id}/fix")
async def fix(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    design_id: uuid.UUID,
    product_type: FormStr,
    code: FormStr,
    area_key: Annotated[str, Form()] = "",
    layer_id: Annotated[str, Form()] = "",
) -> Response:
    design = await design_service.get(
        session,
        ctx.subject,
        design_id,
        permission=Permission.designs_manage,
        action="design.version_saved",
    )
    version = await design_service.get_version(session, design, None)
    fixed = await design_service.fix(
        session,
        ctx.subject,
        design,
        version,
        product_type_key=product_type,
        code=code,
        area_key=area_key or None,
        layer_id=layer_id or None,
    )
    return redirect(
        f"/orgs/{ctx.organization.id}/studio/designs/{design.id}",
        f"Fixed: saved as version {fixed.number}. Validate again to check.",
    )


@router.post("/orgs/{org_id}/studio/designs/{design_id}/products")
async def create_products(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    design_id: uuid.UUID,
    product_types: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI form default
) -> Response:
    """One product per ticked product type, all variants, priced by the default rule."""
    design = await design_service.get(session, ctx.subject, design_id)
    created = []
    for key in _selection(product_types):
        created.append(
            await product_service.create(
                session,
                ctx.subject,
                design=design,
                version_number=None,
                product_type_key=key,
                variant_keys=[],
                title=None,
                provider=None,
                pricing_rule_id=None,
                channel=None,
                render=True,
            )
        )
    if len(created) == 1:
        return redirect(
            f"/orgs/{ctx.organization.id}/products/{created[0].id}",
            "Product created; print files and mockups are rendering.",
        )
    return redirect(
        f"/orgs/{ctx.organization.id}/products?design_id={design.id}",
        f"{len(created)} products created; print files and mockups are rendering.",
    )


# --- products ------------------------------------------------------------------------


@router.get("/orgs/{org_id}/products")
async def products_page(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    page: PageQuery = 1,
    q: Annotated[str | None, Query(max_length=100)] = None,
    design_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Response:
    products, total = await product_service.list(
        session,
        ctx.subject,
        organization_id=ctx.organization.id,
        query=q,
        design_id=design_id,
        product_type=None,
        pagination=PaginationParams(page, 50),
    )
    renders = {}
    for product in products:
        if product.render_id:
            renders[product.id] = await render_service.get_by_id(session, product.render_id)
    return render(
        request,
        "studio/products.html",
        {"products": products, "renders": renders, "total": total, "page": page, "q": q or ""},
    )


async def _render_context(session: AsyncSessionDep, product: Any) -> dict[str, Any]:
    """The product's render and its files, split by kind."""
    render_ = (
        await render_service.get_by_id(session, product.render_id) if product.render_id else None
    )
    files = await render_service.files(session, render_) if render_ else []
    return {
        "product": product,
        "render": render_,
        "print_files": [f for f in files if f.kind == RenderFileKind.print_file],
        "mockups": [f for f in files if f.kind == RenderFileKind.mockup],
    }


async def _product_context(
    session: AsyncSessionDep, ctx: OrgDep, product_id: uuid.UUID, channel: str | None
) -> dict[str, Any]:
    from flashfusion.product import pricing

    product = await product_service.get(session, ctx.subject, product_id)
    fees, rows = await product_service.price_table(session, product, channel=channel)
    return {
        **await _render_context(session, product),
        "fees": fees,
        "rows": rows,
        "channels": pricing.list_channels(),
        "channel": channel or product.channel,
    }


@router.get("/orgs/{org_id}/products/{product_id}")
async def product_page(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    product_id: uuid.UUID,
    channel: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    context = await _product_context(session, ctx, product_id, channel)
    return render(request, "studio/product.html", context)


@router.get("/orgs/{org_id}/products/{product_id}/render")
async def product_render_status(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, product_id: uuid.UUID
) -> Response:
    """HTMX: the render's progress; once finished, the files (polled every second while it
    runs, so it reads only the render, not the price table)."""
    product = await product_service.get(session, ctx.subject, product_id)
    return render(request, "studio/_render_status.html", await _render_context(session, product))


@router.post("/orgs/{org_id}/products/{product_id}")
async def update_product(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    product_id: uuid.UUID,
    title: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "",
    channel: Annotated[str, Form()] = "",
) -> Response:
    product = await product_service.get(
        session,
        ctx.subject,
        product_id,
        permission=Permission.products_manage,
        action="product.updated",
    )
    if status and status not in ("draft", "ready"):
        raise BadRequest("status: choose draft or ready.")
    await product_service.update(
        session,
        ctx.subject,
        product,
        title=title.strip()[:140] or None,
        status=status or None,
        pricing_rule_id=None,
        channel=channel or None,
    )
    return redirect(f"/orgs/{ctx.organization.id}/products/{product.id}", "Product updated.")


def _money_field(raw: str, field: str) -> int | None:
    """`12.99` (major units, as people type prices) → 1299; empty → None."""
    from decimal import Decimal, InvalidOperation

    raw = raw.strip().replace(",", ".")
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation as e:
        raise BadRequest(f"{field}: {raw!r} is not an amount; type it like 12.99.") from e
    if value < 0:
        raise BadRequest(f"{field}: amounts can't be negative.")
    if value > 1_000_000:
        raise BadRequest(f"{field}: {raw} is too large; check the amount.")
    if value != value.quantize(Decimal("0.01")):
        raise BadRequest(f"{field}: use at most two decimals.")
    return int(value * 100)


@router.post("/orgs/{org_id}/products/{product_id}/variants/{variant_key}")
async def update_variant(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    product_id: uuid.UUID,
    variant_key: str,
    cost: Annotated[str, Form()] = "",
    price: Annotated[str, Form()] = "",
    use_rule: Annotated[str, Form()] = "",
) -> Response:
    product = await product_service.get(
        session,
        ctx.subject,
        product_id,
        permission=Permission.products_manage,
        action="product.variant_updated",
    )
    price_value = _money_field(price, "price")
    if price_value == 0:
        raise BadRequest("price: a price must be above zero.")
    await product_service.update_variant(
        session,
        ctx.subject,
        product,
        variant_key,
        cost=_money_field(cost, "cost"),
        shipping=None,
        price=None if use_rule else price_value,
        use_rule=bool(use_rule),
    )
    return redirect(f"/orgs/{ctx.organization.id}/products/{product.id}", "Variant updated.")


@router.post("/orgs/{org_id}/products/{product_id}/costs")
async def set_costs(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    product_id: uuid.UUID,
    cost: FormStr,
    shipping: Annotated[str, Form()] = "",
) -> Response:
    """One provider cost (and shipping) for every variant of the product."""
    product = await product_service.get(
        session,
        ctx.subject,
        product_id,
        permission=Permission.products_manage,
        action="product.costs_updated",
    )
    cost_value = _money_field(cost, "cost")
    if cost_value is None:
        raise BadRequest("cost: type your provider's cost for one item, like 12.95.")
    variants = await product_service.set_costs(
        session,
        ctx.subject,
        product,
        cost=cost_value,
        shipping=_money_field(shipping, "shipping"),
    )
    return redirect(
        f"/orgs/{ctx.organization.id}/products/{product.id}",
        f"Cost set for {len(variants)} variant(s); prices follow the pricing rule.",
    )


# --- pricing rules -------------------------------------------------------------------


@router.get("/orgs/{org_id}/pricing")
async def pricing_page(request: Request, session: AsyncSessionDep, ctx: OrgDep) -> Response:
    from flashfusion.product import pricing

    rules, _ = await pricing_rule_service.list(
        session,
        ctx.subject,
        organization_id=ctx.organization.id,
        pagination=PaginationParams(1, 100),
    )
    return render(
        request,
        "studio/pricing.html",
        {"rules": rules, "starter": STARTER_RULE, "channels": pricing.list_channels()},
    )


@router.post("/orgs/{org_id}/pricing")
async def create_rule(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    name: FormStr,
    mode: FormStr,
    target_percent: FormStr,
    rounding: FormStr,
    min_profit: FormStr,
    channel: FormStr,
    include_shipping: Annotated[str, Form()] = "",
    is_default: Annotated[str, Form()] = "",
) -> Response:
    from decimal import Decimal, InvalidOperation

    try:
        target = Decimal(target_percent.strip().rstrip("%"))
    except InvalidOperation as e:
        raise BadRequest("target_percent: type a percentage like 35.") from e
    try:
        body = PricingRuleCreate.model_validate(
            {
                "name": name,
                "mode": mode,
                "target_bps": int(target * 100),
                "rounding": rounding,
                "min_profit": _money_field(min_profit, "min_profit") or 0,
                "currency": "USD",
                "include_shipping": bool(include_shipping),
                "channel": channel,
                "is_default": bool(is_default),
            }
        )
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ()))
        raise BadRequest(f"{field}: {first.get('msg')}") from e
    await pricing_rule_service.create(session, ctx.subject, ctx.organization.id, body)
    return redirect(f"/orgs/{ctx.organization.id}/pricing", f"Pricing rule “{body.name}” created.")


@router.post("/orgs/{org_id}/pricing/{rule_id}/delete")
async def delete_rule(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, rule_id: uuid.UUID
) -> Response:
    rule = await pricing_rule_service.get(
        session,
        ctx.subject,
        rule_id,
        permission=Permission.pricing_manage,
        action="pricing_rule.deleted",
    )
    await pricing_rule_service.delete(session, ctx.subject, rule)
    return redirect(f"/orgs/{ctx.organization.id}/pricing", "Pricing rule deleted.")


# --- media ---------------------------------------------------------------------------


@router.get("/orgs/{org_id}/media/{media_id}")
async def media_file(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    media_id: uuid.UUID,
    download: Annotated[bool, Query()] = False,
) -> Response:
    """A workspace file; another workspace's id is the same 404 as a missing one."""
    asset = await media_service.get(session, ctx.subject, media_id)
    if asset.organization_id != ctx.organization.id:
        from flashfusion.exceptions import ResourceNotFound

        raise ResourceNotFound("Media")
    content = await media_service.content(asset)
    headers = {"Cache-Control": "private, max-age=3600"}
    if download:
        extension = asset.storage_key.rsplit(".", 1)[-1]
        headers["Content-Disposition"] = f'attachment; filename="{asset.id}.{extension}"'
    return Response(content, media_type=asset.content_type, headers=headers)

"""FlashFusion payloads <-> Printful shapes (sync products, orders, mockup tasks).

Printful facts used here (v1 = `../shared/specs/printful/printfulapi.json`):
- a Sync Product has `external_id`, and each Sync Variant `external_id`, `sku`, `variant_id`
  (the Printful catalog variant id), `retail_price` (a string) and `files` (print files by URL,
  `type` = placement, `filename`) (v1 schemas SyncProduct / SyncVariant / File, tag "Products
  API"); Printful downloads each URL later (tag "File Library API"), so the URLs are the app's
  signed, expiring file URLs (publishing/payload.py, public_file/service.py);
- at most 100 Sync Variants per Sync Product (tag "Products API");
- `thumbnail` maxLength 250 (schema SyncProduct);
- order statuses draft, pending, failed, canceled, inprocess, onhold, partial, fulfilled,
  archived (tag "Orders API", "Order life cycle and statuses").
"""

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import cache

from flashfusion.connector.base import (
    ImagePayload,
    PublishPayload,
    RemoteLineItem,
    RemoteListing,
    RemoteOrder,
    TerminalConnectorError,
)
from flashfusion.connector.platforms.printful import schemas

MAX_SYNC_VARIANTS = 100
MAX_THUMBNAIL_LENGTH = 250
# ISO 4217 currencies without minor units that a Printful store may use; others have 2.
_ZERO_DECIMAL = frozenset({"JPY", "KRW"})

# Printful order status -> FlashFusion normalised status (RemoteOrder.status).
# draft: not submitted (not charged: v2 "draft is free/editable") -> pending;
# pending: submitted for fulfillment, charged on confirmation -> paid;
# failed: returned for review (address, files, charge) -> pending (needs attention; the
#   platform word stays in platform_status);
# inprocess / onhold / partial (some items shipped, the rest will follow) -> in_production;
# fulfilled: all items shipped -> shipped (Printful reports no delivery);
# canceled -> canceled; archived (hidden from the UI, any prior state) -> shipped: UNVERIFIED
#   choice (archived orders are normally completed ones).
ORDER_STATUS = {
    "draft": "pending",
    "pending": "paid",
    "failed": "pending",
    "inprocess": "in_production",
    "onhold": "in_production",
    "partial": "in_production",
    "fulfilled": "shipped",
    "canceled": "canceled",
    "archived": "shipped",
}


def minor_units(currency: str) -> int:
    return 0 if currency.upper() in _ZERO_DECIMAL else 2


def price_string(amount: int, currency: str) -> str:
    """Minor units -> the decimal string v1 `retail_price` takes ("24.99")."""
    digits = minor_units(currency)
    return f"{Decimal(amount).scaleb(-digits):.{digits}f}"


def parse_price(value: str | None, currency: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int((Decimal(value).scaleb(minor_units(currency))).to_integral_value())
    except (InvalidOperation, ValueError):
        return None


def print_files(payload: PublishPayload) -> list[ImagePayload]:
    return [image for image in payload.images if image.role == "print_file"]


def sync_product_request(
    payload: PublishPayload, existing_ids: dict[str, int] | None = None
) -> schemas.SyncProductRequest:
    """The POST/PUT /store/products body for `payload`. `existing_ids` maps our variant SKU
    (the sync variant's external_id) to the Printful sync variant id, for PUT: Printful
    deletes the existing variants a PUT omits and creates those without an id."""
    files = print_files(payload)
    if not files:
        raise TerminalConnectorError(
            "printful.print_file_missing",
            "Add a print-file design to the product: Printful prints each variant from a print "
            "file and cannot create the product without one.",
        )
    refs = []
    for image in files:
        if not image.url:
            # publishing/payload.py gives every Printful image a signed URL of the app (or
            # refuses the publish saying what to set): a payload without one is a bug.
            raise TerminalConnectorError(
                "printful.print_file_url_missing",
                f"FlashFusion sent the print file {image.filename!r} without the URL Printful "
                "downloads it from; set FLASHFUSION_BASE_URL to this FlashFusion's public "
                "address and publish again, and report this problem if it persists.",
            )
        refs.append(schemas.FileRef(type=image.placement, url=image.url, filename=image.filename))
    variants = [v for v in payload.variants if v.enabled]
    if not variants:
        raise TerminalConnectorError(
            "printful.no_variants", "Enable at least one variant of the product to publish it."
        )
    if len(variants) > MAX_SYNC_VARIANTS:
        raise TerminalConnectorError(
            "printful.too_many_variants",
            f"Printful allows at most {MAX_SYNC_VARIANTS} variants per product; disable "
            f"{len(variants) - MAX_SYNC_VARIANTS} of the {len(variants)} variants.",
        )
    rows = []
    for variant in variants:
        if not variant.catalog_variant_id or not variant.catalog_variant_id.isdigit():
            label = " / ".join(filter(None, [variant.colour, variant.size])) or variant.sku
            raise TerminalConnectorError(
                "printful.variant_unmapped",
                f"Variant {label} has no Printful catalog variant id; disable it or map it in "
                "the catalog before publishing to Printful.",
            )
        rows.append(
            schemas.SyncVariantIn(
                id=(existing_ids or {}).get(variant.sku),
                external_id=variant.sku,
                variant_id=int(variant.catalog_variant_id),
                retail_price=price_string(variant.price, payload.currency),
                sku=variant.sku,
                files=refs,
            )
        )
    thumbnail = next(
        (
            image.url
            for image in payload.images
            if image.role == "mockup" and image.url and len(image.url) <= MAX_THUMBNAIL_LENGTH
        ),
        None,
    )
    return schemas.SyncProductRequest(
        sync_product=schemas.SyncProductIn(
            name=payload.title, external_id=payload.external_id, thumbnail=thumbnail
        ),
        sync_variants=rows,
    )


def listing_from_full(full: schemas.SyncProductFull, currency: str | None = None) -> RemoteListing:
    product = full.sync_product
    skus: list[str] = []
    prices: dict[str, int] = {}
    for variant in full.sync_variants:
        sku = variant.sku or variant.external_id
        if not sku:
            continue
        skus.append(sku)
        price = parse_price(variant.retail_price, variant.currency or currency or "USD")
        if price is not None:
            prices[sku] = price
    return RemoteListing(
        remote_id=str(product.id),
        url=None,  # Printful publishes no per-product URL for a Manual/API store
        state=sync_state(product),
        pending=False,
        skus=skus,
        prices=prices,
        title=product.name,
    )


def sync_state(product: schemas.SyncProduct) -> str:
    """ "synced" when every Sync Variant is linked to a Printful product (v1 `synced` counts
    them), else "unsynced" (the v1 status filter's words)."""
    if product.variants is not None and product.synced is not None:
        return "synced" if product.synced >= product.variants else "unsynced"
    return "synced"


def listing_from_created(product: schemas.SyncProduct, payload: PublishPayload) -> RemoteListing:
    variants = [v for v in payload.variants if v.enabled]
    return RemoteListing(
        remote_id=str(product.id),
        url=None,
        state=sync_state(product),
        pending=False,
        skus=[v.sku for v in variants],
        prices={v.sku: v.price for v in variants},
        title=product.name,
    )


def _epoch(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value else None


def order(row: schemas.Order) -> RemoteOrder:
    costs = row.retail_costs if row.retail_costs and row.retail_costs.total else row.costs
    currency = (costs.currency if costs else None) or "USD"
    return RemoteOrder(
        remote_id=str(row.id),
        status=ORDER_STATUS.get(row.status, "pending"),
        platform_status=row.status,
        placed_at=_epoch(row.created),
        updated_at=_epoch(row.updated),
        currency=currency,
        total=parse_price(costs.total if costs else None, currency),
        customer_name=row.recipient.name,
        customer_email=row.recipient.email,
        ship_country=row.recipient.country_code,
        line_items=[
            RemoteLineItem(
                remote_id=str(item.id) if item.id is not None else "",
                sku=item.sku or item.external_variant_id,
                title=item.name or "",
                quantity=item.quantity,
                unit_price=parse_price(item.retail_price or item.price, currency),
            )
            for item in row.items
        ],
    )


@cache
def _variant_products() -> dict[int, int]:
    """Printful catalog variant id -> product id, from the bundled catalog."""
    from flashfusion.catalog.registry import get_catalog

    found: dict[int, int] = {}
    for product_type in get_catalog().product_types.values():
        for variant in product_type.variants:
            for offer in variant.offers:
                if str(offer.provider) == "printful" and offer.product_id and offer.variant_id:
                    found[int(offer.variant_id)] = int(offer.product_id)
    return found


def mockup_task_request(
    payload: PublishPayload, *, technique: str, image_format: str = "jpg"
) -> schemas.MockupTaskRequest:
    """A v2 mockup task for the payload's variants (grouped by Printful product)."""
    files = [f for f in print_files(payload) if f.url]
    if not files:
        raise TerminalConnectorError(
            "printful.print_file_missing",
            "Add a print-file design with a public URL: Printful draws mockups from it.",
        )
    by_product: dict[int, list[int]] = {}
    for variant in payload.variants:
        if not variant.enabled or not (variant.catalog_variant_id or "").isdigit():
            continue
        vid = int(variant.catalog_variant_id or 0)
        product_id = _variant_products().get(vid)
        if product_id is None:
            raise TerminalConnectorError(
                "printful.variant_unmapped",
                f"Printful catalog variant {vid} is not in the FlashFusion catalog; map it first.",
            )
        by_product.setdefault(product_id, []).append(vid)
    if not by_product:
        raise TerminalConnectorError(
            "printful.variant_unmapped",
            "No enabled variant has a Printful catalog variant id; map the variants first.",
        )
    placements = [
        schemas.MockupPlacement(
            placement=image.placement,
            technique=technique,
            layers=[schemas.MockupLayer(url=image.url or "")],
        )
        for image in files
    ]
    return schemas.MockupTaskRequest(
        format=image_format,
        products=[
            schemas.MockupProduct(
                catalog_product_id=product_id, catalog_variant_ids=ids, placements=placements
            )
            for product_id, ids in by_product.items()
        ],
    )

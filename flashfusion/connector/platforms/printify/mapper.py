"""FlashFusion payloads to Printify bodies, and Printify objects back to contract types.

Product body (research/platform-apis.md section 1, developers.printify.com example):
`{title, description, tags, blueprint_id, print_provider_id, variants: [{id, price, is_enabled,
sku}], print_areas: [{variant_ids, placeholders: [{position, images: [{id, x, y, scale,
angle}]}]}]}`; prices are integer cents.

Our SKU goes on every variant (`variants[].sku`), which is how find-before-create recognises the
product. UNVERIFIED: that Printify keeps a caller's `sku` on create. Its API docs show `sku` only
in responses (Printify-generated numbers) and help.printify.com ("How can I set my own custom
SKU numbers") says custom SKUs are a feature Printify enables per account. Where it is not
enabled the SKUs come back as Printify's own and find-before-create cannot match: the connection
needs Printify's custom-SKU feature (said in the report; the twin keeps given SKUs).
"""

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flashfusion.connector.base import (
    ImagePayload,
    PublishPayload,
    RemoteLineItem,
    RemoteListing,
    RemoteOrder,
    TerminalConnectorError,
    VariantPayload,
)
from flashfusion.connector.platforms.printify.schemas import (
    Blueprint,
    CatalogVariant,
    Order,
    Product,
)

# What publish.json asks Printify to push (developers.printify.com example: all true).
PUBLISH_ALL: dict[str, bool] = {
    "title": True,
    "description": True,
    "images": True,
    "variants": True,
    "tags": True,
    "keyFeatures": True,
    "shipping_template": True,
}

# Printify order statuses (printify-nodejs src/types/orders.ts OrderStatus) -> ours.
ORDER_STATUS: dict[str, str] = {
    "pending": "pending",
    "payment-not-received": "pending",
    "on-hold": "paid",
    "checking-quality": "paid",
    "quality-approved": "paid",
    "quality-declined": "paid",
    "ready-for-production": "paid",
    "callback-received": "paid",
    "has-issues": "paid",
    "sending-to-production": "in_production",
    "in-production": "in_production",
    "partially-fulfilled": "shipped",
    "fulfilled": "shipped",
    "canceled": "canceled",
}


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def find_blueprint(blueprints: Iterable[Blueprint], product_type: str) -> Blueprint:
    """The blueprint whose title names `product_type` (exact words first, then containment).

    Raises `printify.blueprint_not_found` when none does."""
    wanted = _words(product_type)
    compact = "".join(wanted)
    ranked: list[tuple[int, int, Blueprint]] = []
    for blueprint in blueprints:
        words = _words(blueprint.title)
        title = "".join(words)
        if not compact:
            break
        if title == compact:
            rank = 0
        elif compact in title:
            rank = 1
        elif set(wanted) <= set(words):
            rank = 2
        else:
            continue
        ranked.append((rank, len(title), blueprint))
    if not ranked:
        raise TerminalConnectorError(
            "printify.blueprint_not_found",
            f"Pick the Printify blueprint for {product_type} in the connection's settings",
            platform_message=f"no Printify blueprint title matches {product_type!r}",
        )
    ranked.sort(key=lambda item: (item[0], item[1], item[2].id))
    return ranked[0][2]


# Tokens that only spell a size out: "8″ × 10″", '8" x 10"', "8x10 in" and "8×10" are one size.
SIZE_FILLER = frozenset({"x", "in", "inch", "inches"})
# The variant options Printify names for each of our dimensions (research/platform-apis.md
# section 1: catalog variants carry `options: {color, size}`; a product with a single colour,
# such as a white mug, or with none, such as a poster, has no `color` option at all).
DIMENSIONS = (("size", "size"), ("colour", "color"))
# A per-product-type choice in the connection's listing defaults (connector/schemas.py
# PRINTIFY_PRODUCTS): {product type key: {"blueprint_id": …, "print_provider_id": …}}.
PRODUCT_OPTIONS = "printify_products"


def _size_key(text: str) -> str:
    tokens = re.findall(r"[0-9]+(?:\.[0-9]+)?|[a-z]+", text.lower().replace("×", "x"))
    return "-".join(t for t in tokens if t not in SIZE_FILLER)


def _colour_key(text: str) -> str:
    return "".join(_words(text))


def _key(dimension: str, text: Any) -> str:
    return _size_key(str(text)) if dimension == "size" else _colour_key(str(text))


def catalog_options(options: dict[str, Any], product_type: str) -> dict[str, Any]:
    """The options with the connection's blueprint / print provider for `product_type`
    filled in (options["printify_products"][product_type]); options set directly win."""
    resolved = dict(options)
    chosen = options.get(PRODUCT_OPTIONS)
    entry = chosen.get(product_type) if isinstance(chosen, dict) else None
    if isinstance(entry, dict) and resolved.get("blueprint_id") is None:
        resolved["blueprint_id"] = entry.get("blueprint_id")
        if resolved.get("print_provider_id") is None:
            resolved["print_provider_id"] = entry.get("print_provider_id")
    return resolved


def _describe(variant: VariantPayload) -> str:
    return " / ".join(part for part in (variant.colour, variant.size) if part) or (
        "no size or colour"
    )


def _candidates(
    variant: VariantPayload, catalog: list[CatalogVariant]
) -> list[tuple[int, CatalogVariant]]:
    """(how many dimensions matched, catalog variant) for each catalog variant that agrees
    with ours on every dimension the catalog variant has. A dimension the catalog variant
    lacks (a mug's colour) does not count against it; one we leave open (no colour given)
    matches any value, which is how an ambiguous match arises."""
    found = []
    for candidate in catalog:
        options = candidate.options
        matched = 0
        agrees = True
        offered = 0
        for ours_name, theirs_name in DIMENSIONS:
            theirs = options.get(theirs_name)
            if theirs in (None, ""):
                continue
            offered += 1
            ours = getattr(variant, ours_name)
            if ours in (None, ""):
                continue
            if _key(ours_name, ours) != _key(ours_name, theirs):
                agrees = False
                break
            matched += 1
        # A catalog variant with a size or colour must match at least one of ours; one with
        # neither (a single-variant product) matches anything, at the lowest rank.
        if agrees and (matched > 0 or offered == 0):
            found.append((matched, candidate))
    return found


def match_variants(
    variants: Iterable[VariantPayload], catalog: list[CatalogVariant]
) -> list[tuple[VariantPayload, CatalogVariant]]:
    """Each of our variants with the provider's variant: by `catalog_variant_id`, else by the
    options the provider's variants actually have (size and colour, size only, colour only).
    No match is `printify.variant_not_found`; more than one equally good match is
    `printify.variant_ambiguous`, naming the candidates."""
    by_id = {str(v.id): v for v in catalog}
    matched = []
    for variant in variants:
        found: CatalogVariant | None = None
        if variant.catalog_variant_id is not None:
            found = by_id.get(str(variant.catalog_variant_id))
        else:
            candidates = _candidates(variant, catalog)
            if candidates:
                best = max(score for score, _ in candidates)
                top = [c for score, c in candidates if score == best]
                if len(top) > 1:
                    names = ", ".join(f"{c.id} ({c.title})" for c in top[:10])
                    raise TerminalConnectorError(
                        "printify.variant_ambiguous",
                        f"Give variant {variant.sku} a size and colour that pick one Printify "
                        f"variant (candidates: {names}), or choose the print provider's "
                        "variant for it in the catalog",
                        platform_message=f"variant {variant.sku} ({_describe(variant)}) "
                        f"matches {len(top)} variants of the print provider: {names}",
                    )
                found = top[0]
        if found is None:
            label = variant.catalog_variant_id or _describe(variant)
            raise TerminalConnectorError(
                "printify.variant_not_found",
                "Choose sizes and colours this Printify print provider offers, or pick another "
                "provider in the connection's settings",
                platform_message=f"variant {variant.sku} ({label}) is not offered by the print "
                "provider",
            )
        matched.append((variant, found))
    return matched


def print_files(payload: PublishPayload) -> list[ImagePayload]:
    """The designs to print. Mockups are not sent: Printify renders its own."""
    files = [image for image in payload.images if image.role == "print_file"]
    if not files:
        raise TerminalConnectorError(
            "printify.print_file_missing",
            "Add a print file (the design) to the product, then publish again",
            platform_message="no image with role print_file",
        )
    return files


def position_for(image: ImagePayload, positions: set[str]) -> str:
    """The Printify placeholder position of a print file (`default` -> `front`)."""
    if image.placement in positions:
        return image.placement
    if image.placement == "default" and "front" in positions:
        return "front"
    raise TerminalConnectorError(
        "printify.placement_unknown",
        "Move the design to a print area this Printify product has "
        f"({', '.join(sorted(positions))})",
        platform_message=f"print position {image.placement!r} does not exist for this product",
    )


def print_areas(
    matched: list[tuple[VariantPayload, CatalogVariant]],
    uploads: list[tuple[ImagePayload, str]],
) -> list[dict[str, Any]]:
    """One print area for all variants, one placeholder per print file position."""
    positions: set[str] = set.intersection(
        *({p.position for p in found.placeholders} for _, found in matched)
    )
    placeholders: dict[str, list[dict[str, Any]]] = {}
    for image, upload_id in uploads:
        position = position_for(image, positions)
        # Centred, full placeholder width (x/y relative centre, scale relative to width).
        placeholders.setdefault(position, []).append(
            {"id": upload_id, "x": 0.5, "y": 0.5, "scale": 1, "angle": 0}
        )
    return [
        {
            "variant_ids": [found.id for _, found in matched],
            "placeholders": [
                {"position": position, "images": images}
                for position, images in placeholders.items()
            ],
        }
    ]


def variant_body(variant: VariantPayload, catalog_id: int) -> dict[str, Any]:
    return {
        "id": catalog_id,
        "price": variant.price,
        "is_enabled": variant.enabled,
        "sku": variant.sku,
    }


def product_body(
    payload: PublishPayload,
    *,
    blueprint_id: int,
    print_provider_id: int,
    matched: list[tuple[VariantPayload, CatalogVariant]],
    uploads: list[tuple[ImagePayload, str]],
) -> dict[str, Any]:
    return {
        "title": payload.title,
        "description": payload.description,
        "tags": list(payload.tags),
        "blueprint_id": blueprint_id,
        "print_provider_id": print_provider_id,
        "variants": [variant_body(v, found.id) for v, found in matched],
        "print_areas": print_areas(matched, uploads),
    }


def listing_state(product: Product) -> tuple[str, bool]:
    """(state, pending): `publishing` while locked, `published` once `external` is set,
    else `draft` (created, publish not started or failed)."""
    if product.is_locked:
        return "publishing", True
    if product.external is not None:
        return "published", False
    return "draft", False


def remote_listing(product: Product) -> RemoteListing:
    state, pending = listing_state(product)
    enabled = [v for v in product.variants if v.is_enabled and v.sku]
    return RemoteListing(
        remote_id=product.id,
        url=product.external.handle if product.external else None,
        state=state,
        pending=pending,
        skus=[v.sku for v in enabled if v.sku],
        prices={v.sku: v.price for v in enabled if v.sku},
        title=product.title,
    )


def our_skus(payload: PublishPayload) -> set[str]:
    return {v.sku for v in payload.variants}


def is_ours(product: Product, skus: set[str]) -> bool:
    return any(v.sku in skus for v in product.variants if v.sku)


def _latest(*moments: datetime | None) -> datetime | None:
    present = [m for m in moments if m is not None]
    return max(present) if present else None


def remote_order(order: Order) -> RemoteOrder:
    status = ORDER_STATUS.get(order.status, "pending")
    delivered = [s.delivered_at for s in order.shipments]
    if status == "shipped" and order.shipments and all(delivered):
        status = "delivered"
    totals = [order.total_price, order.total_shipping, order.total_tax]
    total = sum(t for t in totals if t is not None) if order.total_price is not None else None
    name = " ".join(p for p in (order.address_to.first_name, order.address_to.last_name) if p)
    return RemoteOrder(
        remote_id=order.id,
        status=status,
        platform_status=order.status,
        placed_at=order.created_at,
        updated_at=_latest(
            order.created_at, order.sent_to_production_at, order.fulfilled_at, *delivered
        ),
        # Printify orders carry no currency field in any source read; its costs are in USD
        # cents (UNVERIFIED for accounts billed in another currency).
        currency="USD",
        total=total,
        customer_name=name or None,
        customer_email=order.address_to.email,
        ship_country=order.address_to.country,
        line_items=[
            RemoteLineItem(
                remote_id=f"{item.product_id}:{item.variant_id}",
                sku=item.metadata.sku,
                title=item.metadata.title or "",
                quantity=item.quantity,
                unit_price=item.metadata.price,
            )
            for item in order.line_items
        ],
    )

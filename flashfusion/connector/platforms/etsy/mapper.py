"""FlashFusion's `PublishPayload` as Etsy's request bodies, and Etsy's answers as ours.

- createDraftListing: a form (application/x-www-form-urlencoded, spec) with `quantity, title,
  description, price, who_made, when_made, taxonomy_id` (required by the spec) and, for physical
  listings, `shipping_profile_id` and `readiness_state_id` (research section 3).
- updateListingInventory: JSON `{products: [{sku, property_values, offerings: [{price, quantity,
  is_enabled, readiness_state_id}]}], price_on_property, quantity_on_property, sku_on_property}`
  (spec; `price` is "a float equal to amount divided by divisor"), one product per variant.
  Size and colour become property values only when the category's variation properties
  (getPropertiesByTaxonomyId) have one whose name says so; a variant dimension that varies but
  has no such property makes the listing impossible to express, and is refused with what to do.
"""

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flashfusion.connector.base import PublishPayload, TerminalConnectorError, VariantPayload
from flashfusion.connector.platforms.etsy.schemas import Money

# ISO 4217 currencies with no minor unit (exponent 0); every other one has 2 here.
ZERO_DECIMAL = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "PYG", "XAF", "XOF"})
# Spec enums (createDraftListing).
WHO_MADE = ("i_did", "someone_else", "collective")
WHEN_MADE_DEFAULT = "made_to_order"  # print-on-demand products are made to order by definition

ACTION_SHIPPING = "Create a shipping profile in Etsy → Settings → Shipping, then retry."
ACTION_PROCESSING = (
    "Create a processing profile in Etsy → Settings → Shipping → Processing profiles, then retry."
)
ACTION_TAXONOMY = (
    "Choose an Etsy category for this product in the channel settings (taxonomy_id), then retry."
)
ACTION_WHO_MADE = (
    "Set 'who made' (i_did, someone_else or collective) in this Etsy connection's settings: "
    "Connections → the Etsy shop → Listing settings, then retry."
)
ACTION_VARIATIONS = (
    "Choose an Etsy category whose variations include size and colour, or publish the product "
    "with fewer variants, then retry."
)
ACTION_IMAGES = "Add at least one mockup image to the product, then publish again."


def exponent(currency: str) -> int:
    return 0 if currency.upper() in ZERO_DECIMAL else 2


def price_decimal(minor: int, currency: str) -> str:
    """Minor units as the decimal string Etsy's `price` takes ("12.50")."""
    places = exponent(currency)
    value = Decimal(minor).scaleb(-places)
    return f"{value:.{places}f}"


def price_float(minor: int, currency: str) -> float:
    return float(Decimal(minor).scaleb(-exponent(currency)))


def money_minor(money: Money) -> int:
    """Etsy Money (amount / divisor) in our minor units of its currency."""
    scale = 10 ** exponent(money.currency_code)
    return int((Decimal(money.amount) * scale / Decimal(money.divisor or 1)).to_integral_value())


def clean_title(text: str) -> str:
    """The title with the characters Etsy refuses removed (spec, title: only letters, numbers,
    punctuation, mathematical symbols, spaces, ™ © ®; %, :, & and + once each)."""
    out: list[str] = []
    seen: set[str] = set()
    for ch in text:
        cat = unicodedata.category(ch)
        if not (cat[0] in "LP" or cat in ("Nd", "Sm", "Zs") or ch in "™©®"):
            continue
        if ch in "%:&+":
            if ch in seen:
                continue
            seen.add(ch)
        out.append(ch)
    return re.sub(r"\s+", " ", "".join(out)).strip()


def clean_tag(text: str) -> str:
    """spec, tags: only letters, numbers, spaces, -, ', ™, © and ®."""
    kept = "".join(
        ch
        for ch in text
        if unicodedata.category(ch)[0] == "L"
        or unicodedata.category(ch) in ("Nd", "Zs")
        or ch in "-'™©®"
    )
    return re.sub(r"\s+", " ", kept).strip()


def clean_tags(tags: list[str]) -> list[str]:
    found: list[str] = []
    for tag in tags:
        cleaned = clean_tag(tag)
        if cleaned and cleaned.lower() not in {t.lower() for t in found}:
            found.append(cleaned)
    return found


@dataclass
class ListingSettings:
    """What Etsy needs besides the content, resolved by the connector."""

    taxonomy_id: int
    shipping_profile_id: int
    readiness_state_id: int
    who_made: str
    when_made: str


def pick(
    name: str, payload: PublishPayload, account: Mapping[str, Any]
) -> Any:  # options first, then the connection's account details
    value = payload.options.get(name)
    if value in (None, ""):
        value = account.get(name)
    return None if value in (None, "") else value


def chosen_taxonomy(payload: PublishPayload, account: Mapping[str, Any]) -> int | None:
    """The Etsy category chosen for this listing: the connection's `taxonomy_id` (the
    creator's default for every listing of the connection) first, then the catalog's category
    of the product type (`etsy_taxonomy_id`, publishing/payload.py); None: match by name."""
    for name, value in (
        ("taxonomy_id", pick("taxonomy_id", payload, account)),
        ("etsy_taxonomy_id", payload.options.get("etsy_taxonomy_id")),
    ):
        if value in (None, ""):
            continue
        if isinstance(value, bool) or not str(value).strip().isdigit() or int(value) < 1:
            raise TerminalConnectorError(
                "etsy.taxonomy_invalid",
                ACTION_TAXONOMY,
                platform_message=f"{name}={value!r} is not an Etsy seller-taxonomy id",
            )
        return int(value)
    return None


def who_and_when(payload: PublishPayload, account: Mapping[str, Any]) -> tuple[str, str]:
    who = pick("who_made", payload, account)
    if who is None:
        raise TerminalConnectorError("etsy.who_made_missing", ACTION_WHO_MADE)
    if who not in WHO_MADE:
        raise TerminalConnectorError(
            "etsy.who_made_invalid", ACTION_WHO_MADE, platform_message=f"who_made={who!r}"
        )
    when = pick("when_made", payload, account) or WHEN_MADE_DEFAULT
    return str(who), str(when)


def normalise(name: str) -> str:
    word = re.sub(r"[^a-z0-9]", "", name.lower())
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def match_taxonomy(nodes: list[dict[str, Any]], product_type: str) -> int | None:
    """The deepest seller-taxonomy node whose name (or one of its "&"/","-separated parts)
    is the product type, e.g. "t-shirt" -> "T-shirts", "mug" -> "Mugs"."""
    wanted = normalise(product_type)
    if not wanted:
        return None
    best: tuple[int, int] | None = None

    def walk(node: dict[str, Any]) -> None:
        nonlocal best
        parts = [normalise(p) for p in re.split(r"[&,/]", str(node.get("name", "")))]
        if wanted in parts:
            level = int(node.get("level") or 0)
            if best is None or level > best[0]:
                best = (level, int(node["id"]))
        for child in node.get("children") or []:
            walk(child)

    for node in nodes:
        walk(node)
    return None if best is None else best[1]


def draft_form(
    payload: PublishPayload, settings: ListingSettings, *, quantity: int, price_minor: int
) -> dict[str, str]:
    """createDraftListing's form fields."""
    form = {
        "quantity": str(max(1, quantity)),  # spec: "positive non-zero"
        "title": clean_title(payload.title),
        "description": payload.description,
        "price": price_decimal(price_minor, payload.currency),
        "who_made": settings.who_made,
        "when_made": settings.when_made,
        "taxonomy_id": str(settings.taxonomy_id),
        "type": "physical",
        "shipping_profile_id": str(settings.shipping_profile_id),
        "readiness_state_id": str(settings.readiness_state_id),
        "is_supply": "false",
    }
    tags = clean_tags(payload.tags)
    if tags:
        form["tags"] = ",".join(tags)  # spec: "A comma-separated list of tag strings"
    return form


def content_form(payload: PublishPayload) -> dict[str, str]:
    """updateListing's content fields (title, description, tags)."""
    form = {"title": clean_title(payload.title), "description": payload.description}
    tags = clean_tags(payload.tags)
    if tags:
        form["tags"] = ",".join(tags)
    return form


def totals(payload: PublishPayload) -> tuple[int, int]:
    """(listing quantity, minimum price): the sum of enabled quantities and their lowest price
    (spec, createDraftListing quantity and price notes)."""
    enabled = [v for v in payload.variants if v.enabled] or payload.variants
    if not enabled:
        raise TerminalConnectorError(
            "etsy.no_variants", "Add at least one variant to the product, then publish again."
        )
    return sum(v.quantity for v in enabled), min(v.price for v in enabled)


@dataclass
class VariationProperty:
    property_id: int
    name: str
    value_ids: dict[str, int] = field(default_factory=dict)  # lower-cased value name -> id


def variation_properties(results: list[dict[str, Any]]) -> dict[str, VariationProperty]:
    """From getPropertiesByTaxonomyId: the category's size and colour variation properties."""
    found: dict[str, VariationProperty] = {}
    for prop in results:
        if not prop.get("supports_variations"):
            continue
        name = str(prop.get("name") or prop.get("display_name") or "").lower()
        kind = "size" if "size" in name else "colour" if "color" in name or "colour" in name else ""
        if not kind or kind in found:
            continue
        found[kind] = VariationProperty(
            int(prop["property_id"]),
            str(prop.get("display_name") or prop.get("name") or kind),
            {
                str(v.get("name", "")).lower(): int(v["value_id"])
                for v in prop.get("possible_values") or []
                if v.get("value_id") is not None
            },
        )
    return found


def varying_dimensions(variants: list[VariantPayload]) -> list[str]:
    dims = []
    if len({v.size for v in variants}) > 1:
        dims.append("size")
    if len({v.colour for v in variants}) > 1:
        dims.append("colour")
    return dims


def inventory_body(
    payload: PublishPayload,
    readiness_state_id: int,
    properties: Mapping[str, VariationProperty],
) -> dict[str, Any]:
    """updateListingInventory's JSON: one product per variant, with our SKU."""
    variants = payload.variants
    dims = varying_dimensions(variants)
    missing = [d for d in dims if d not in properties]
    if missing:
        raise TerminalConnectorError(
            "etsy.variation_property_missing",
            ACTION_VARIATIONS,
            platform_message=f"the Etsy category has no {' or '.join(missing)} variation",
        )
    products = []
    for variant in variants:
        values = []
        for dim in dims:
            prop = properties[dim]
            text = (variant.size if dim == "size" else variant.colour) or ""
            # spec: parenthesis characters are not allowed in values.
            text = text.replace("(", "").replace(")", "").strip()
            value_id = prop.value_ids.get(text.lower())
            # A value that is not one of the property's possible values goes as text with no
            # value id (UNVERIFIED that Etsy accepts an empty value_ids for custom values).
            values.append(
                {
                    "property_id": prop.property_id,
                    "property_name": prop.name,
                    "value_ids": [value_id] if value_id is not None else [],
                    "values": [text],
                }
            )
        products.append(
            {
                "sku": variant.sku,
                "property_values": values,
                "offerings": [
                    {
                        "price": price_float(variant.price, payload.currency),
                        "quantity": variant.quantity,
                        "is_enabled": variant.enabled,
                        "readiness_state_id": readiness_state_id,
                    }
                ],
            }
        )
    on_property = [properties[d].property_id for d in dims] if len(products) > 1 else []
    return {
        "products": products,
        "price_on_property": on_property,
        "quantity_on_property": on_property,
        "sku_on_property": on_property,
    }


def listing_images(payload: PublishPayload) -> list[Any]:
    """The listing photos: the mockups (print files are for the printer, not buyers)."""
    photos = [i for i in payload.images if i.role != "print_file"]
    if not photos:
        raise TerminalConnectorError("etsy.image_missing", ACTION_IMAGES)
    return photos

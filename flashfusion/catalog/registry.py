"""The product catalog: loaded from `data/catalog.json`, per-organization overrides, refreshes.

- `get_catalog()` validates the bundled catalog once (schema plus integrity rules) and caches it;
  `get_product_type(key)` looks a type up by key or alias (`mug` → `mug-11oz`).
- `apply_overrides(catalog, document)` returns the catalog a workspace sees after its own
  override document (own costs, disabled variants, margins, platform mappings). Every problem in
  the document is reported with its path (`product_types.tshirt.variants.white-m.offers[0]`).
- `refresh_from(source)` merges what a provider's catalog API returns (print files, costs,
  availability) into the catalog: the seam the provider connectors plug into.
"""

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from flashfusion.catalog.schemas import (
    Catalog,
    CatalogOverrides,
    Category,
    Money,
    MoneyOverride,
    OfferOverride,
    PlatformMappings,
    PrintArea,
    ProductType,
    ProductTypeOverride,
    Provider,
    ProviderOffer,
    ProviderProductData,
    ProviderVariantData,
    Variant,
)

# The mockup templates the studio draws (contract: issue 3, MOCKUP KEYS).
MOCKUP_KEYS = frozenset(
    {
        "shirt", "hoodie", "sweatshirt", "tank", "long_sleeve", "mug", "tumbler", "bottle",
        "poster", "framed_poster", "canvas", "sticker", "phone_case", "tote", "pillow",
        "blanket", "notebook", "card", "mousepad", "hat", "apron", "puzzle", "tapestry",
    }
)  # fmt: skip

# Short names people type (the CLI takes `--products tshirt,mug`).
ALIASES: dict[str, str] = {
    "mug": "mug-11oz",
    "t-shirt": "tshirt",
    "tee": "tshirt",
    "shirt": "tshirt",
    "tank": "tank-top",
    "longsleeve": "long-sleeve",
    "long-sleeve-tee": "long-sleeve",
    "crewneck": "sweatshirt",
    "tumbler": "tumbler-20oz",
    "bottle": "water-bottle",
    "sticker": "sticker-kiss-cut",
    "stickers": "sticker-kiss-cut",
    "framed": "framed-poster",
    "phonecase": "phone-case",
    "iphone-case": "phone-case",
    "tote-bag": "tote",
    "cushion": "pillow",
    "throw-blanket": "blanket",
    "puzzle": "jigsaw-puzzle",
    "card": "greeting-card",
    "cap": "hat",
    "mousepad": "mouse-pad",
}

_DATA_FILE = "catalog.json"


class UnknownProductType(LookupError):
    """A product type key (or alias) the catalog does not have."""

    def __init__(self, key: str, suggestions: Sequence[str]) -> None:
        self.key = key
        self.suggestions = list(suggestions)
        hint = (
            f"did you mean {', '.join(repr(s) for s in self.suggestions)}?"
            if self.suggestions
            else "list them with `GET /api/v1/catalog` or `flashfusion studio catalog`"
        )
        super().__init__(f"unknown product type {key!r}; {hint}")


class CatalogDataError(ValueError):
    """The bundled catalog data breaks the schema or an integrity rule (a packaging bug)."""


class CatalogOverrideError(ValueError):
    """An override document that does not fit the catalog. `errors` holds (path, message)."""

    def __init__(self, errors: Sequence[tuple[str, str]]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(f"{path}: {message}" for path, message in self.errors))


# --- Loading --------------------------------------------------------------------------------


def _default_data() -> str:
    return resources.files("flashfusion.catalog").joinpath("data", _DATA_FILE).read_text()


def load_catalog(path: Path | None = None) -> Catalog:
    """Read and validate a catalog file (the bundled one by default); not cached."""
    try:
        text = path.read_text() if path is not None else _default_data()
        catalog = Catalog.model_validate_json(text)
    except (OSError, ValidationError) as e:
        raise CatalogDataError(f"catalog data {path or _DATA_FILE} is invalid: {e}") from e
    problems = check_catalog(catalog)
    if problems:
        raise CatalogDataError(
            "catalog data breaks integrity rules: "
            + "; ".join(f"{where}: {what}" for where, what in problems)
        )
    return catalog


@cache
def get_catalog() -> Catalog:
    """The bundled catalog, validated once per process (it is immutable)."""
    return load_catalog()


def check_catalog(catalog: Catalog) -> list[tuple[str, str]]:
    """Integrity rules the schema cannot express; returns (path, problem) pairs."""
    problems: list[tuple[str, str]] = []
    for key, product_type in catalog.product_types.items():
        where = f"product_types.{key}"
        if product_type.key != key:
            problems.append((f"{where}.key", f"is {product_type.key!r}, must equal {key!r}"))
        if product_type.mockup not in MOCKUP_KEYS:
            problems.append((f"{where}.mockup", f"{product_type.mockup!r} is not a mockup key"))
        if not product_type.variants:
            problems.append((f"{where}.variants", "needs at least one variant"))
        area_keys = [a.key for a in product_type.print_areas]
        if len(set(area_keys)) != len(area_keys):
            problems.append((f"{where}.print_areas", "area keys repeat"))
        variant_keys = [v.key for v in product_type.variants]
        if len(set(variant_keys)) != len(variant_keys):
            problems.append((f"{where}.variants", "variant keys repeat"))
        required = {a.key for a in product_type.print_areas if a.required}
        for variant in product_type.variants:
            vwhere = f"{where}.variants.{variant.key}"
            extra = set(variant.print_files) - set(area_keys)
            if extra:
                problems.append((f"{vwhere}.print_files", f"unknown areas {sorted(extra)}"))
            missing = required - set(variant.print_files)
            if missing:
                problems.append((f"{vwhere}.print_files", f"no file for {sorted(missing)}"))
            if not variant.offers:
                problems.append((f"{vwhere}.offers", "needs at least one offer"))
        for area in product_type.print_areas:
            for variant in product_type.variants:
                pf = variant.print_files.get(area.key)
                if pf is None:
                    continue
                limit = min(pf.width_px, pf.height_px)
                if 2 * max(area.safe_margin_px, area.bleed_px) >= limit:
                    problems.append(
                        (
                            f"{where}.print_areas.{area.key}.safe_margin_px",
                            f"leaves no safe area in {variant.key}'s {pf.width_px}×{pf.height_px}"
                            " print file",
                        )
                    )
                    break
    return problems


# --- Lookup ---------------------------------------------------------------------------------


def _normalise(key: str) -> str:
    return key.strip().lower().replace("_", "-").replace(" ", "-")


def resolve_key(catalog: Catalog, key: str) -> str:
    """The catalog key `key` names (itself or through an alias); raises UnknownProductType."""
    wanted = _normalise(key)
    if wanted in catalog.product_types:
        return wanted
    target = ALIASES.get(wanted)
    if target is not None and target in catalog.product_types:
        return target
    names = [*catalog.product_types, *(a for a, t in ALIASES.items() if t in catalog.product_types)]
    close = difflib.get_close_matches(wanted, names, n=5, cutoff=0.6)
    # An alias suggestion is shown as the key it stands for; keep the order, drop repeats.
    suggestions = list(dict.fromkeys(ALIASES.get(name, name) for name in close))
    if not suggestions:
        suggestions = sorted(k for k in catalog.product_types if wanted and wanted in k)[:5]
    raise UnknownProductType(key, suggestions)


def get_product_type(key: str, catalog: Catalog | None = None) -> ProductType:
    """The product type for a key or alias, from `catalog` (the bundled one by default)."""
    catalog = catalog or get_catalog()
    return catalog.product_types[resolve_key(catalog, key)]


def list_product_types(
    catalog: Catalog | None = None, *, category: Category | None = None
) -> list[ProductType]:
    """Every product type, in catalog order, optionally of one category."""
    catalog = catalog or get_catalog()
    return [t for t in catalog.product_types.values() if category is None or t.category == category]


# --- Overrides ------------------------------------------------------------------------------


def _path(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


def apply_overrides(catalog: Catalog, overrides: Mapping[str, Any]) -> Catalog:
    """The catalog after a workspace's override document. Raises CatalogOverrideError listing
    every problem with its path; the input catalog is never changed.

    An offer whose `base_cost` the workspace sets counts as verified (it is the workspace's own
    figure) when its first-item shipping is also known from the override or a verified offer.
    """
    if not isinstance(overrides, Mapping):
        raise CatalogOverrideError(
            [("(document)", 'must be an object like {"product_types": {...}}')]
        )
    try:
        document = CatalogOverrides.model_validate(overrides)
    except ValidationError as e:
        raise CatalogOverrideError(
            [(_path(err["loc"]), err["msg"]) for err in e.errors(include_url=False)]
        ) from e

    errors: list[tuple[str, str]] = []
    product_types = dict(catalog.product_types)
    named_by: dict[str, str] = {}
    for raw_key, override in document.product_types.items():
        where = f"product_types.{raw_key}"
        try:
            key = resolve_key(catalog, raw_key)
        except UnknownProductType as e:
            errors.append((where, str(e)))
            continue
        if key in named_by:
            errors.append((where, f"names the same product type as {named_by[key]!r}; merge them"))
            continue
        named_by[key] = raw_key
        if not override.enabled:
            product_types.pop(key, None)
            continue
        product_types[key] = _override_type(product_types[key], override, where, errors)
    if errors:
        raise CatalogOverrideError(errors)
    if not product_types:
        raise CatalogOverrideError([("product_types", "disables every product type")])
    return catalog.model_copy(update={"product_types": product_types})


def _close(word: str, options: Iterable[str]) -> str:
    options = list(options)
    close = difflib.get_close_matches(word, options, n=3, cutoff=0.5)
    if close:
        return f"did you mean {', '.join(close)}?"
    shown = ", ".join(options[:8])
    return f"valid: {shown}{', …' if len(options) > 8 else ''}"


def _override_type(
    product_type: ProductType,
    override: ProductTypeOverride,
    where: str,
    errors: list[tuple[str, str]],
) -> ProductType:
    areas = {a.key: a for a in product_type.print_areas}
    new_areas: list[PrintArea] = []
    for area_key in override.print_areas:
        if area_key not in areas:
            errors.append(
                (
                    f"{where}.print_areas.{area_key}",
                    f"unknown print area; {_close(area_key, areas)}",
                )
            )
    for area in product_type.print_areas:
        change = override.print_areas.get(area.key)
        if change is None:
            new_areas.append(area)
            continue
        updated = area.model_copy(
            update={
                k: v
                for k, v in (
                    ("safe_margin_px", change.safe_margin_px),
                    ("bleed_px", change.bleed_px),
                )
                if v is not None
            }
            | {"source": f"{area.source}; organization override"}
        )
        inset = max(updated.safe_margin_px, updated.bleed_px)
        smallest = min(
            (
                min(v.print_files[area.key].width_px, v.print_files[area.key].height_px)
                for v in product_type.variants
                if area.key in v.print_files
            ),
            default=0,
        )
        if smallest and 2 * inset >= smallest:
            field_name = "safe_margin_px" if change.safe_margin_px is not None else "bleed_px"
            errors.append(
                (
                    f"{where}.print_areas.{area.key}.{field_name}",
                    f"{inset} px leaves no safe area in a {smallest} px side; "
                    f"use less than {smallest // 2}",
                )
            )
        new_areas.append(updated)

    variants = {v.key: v for v in product_type.variants}
    for variant_key in override.variants:
        if variant_key not in variants:
            errors.append(
                (
                    f"{where}.variants.{variant_key}",
                    f"unknown variant; {_close(variant_key, variants)}",
                )
            )
    new_variants: list[Variant] = []
    for variant in product_type.variants:
        change_v = override.variants.get(variant.key)
        if change_v is None:
            new_variants.append(variant)
            continue
        if not change_v.enabled:
            continue
        vwhere = f"{where}.variants.{variant.key}"
        new_variants.append(
            variant.model_copy(
                update={"offers": _override_offers(variant.offers, change_v.offers, vwhere, errors)}
            )
        )
    if not new_variants:
        errors.append((f"{where}.variants", "disables every variant; keep at least one enabled"))

    platforms = product_type.platforms
    if override.platforms is not None:
        changes = override.platforms.model_dump(exclude_none=True)
        if changes:
            platforms = PlatformMappings.model_validate(
                platforms.model_dump()
                | changes
                | {"source": f"{platforms.source}; organization override: {', '.join(changes)}"}
            )
    return product_type.model_copy(
        update={"print_areas": new_areas, "variants": new_variants, "platforms": platforms}
    )


def _money(value: MoneyOverride) -> Money:
    return Money(amount=value.amount, currency=value.currency)


def _override_offers(
    offers: list[ProviderOffer],
    changes: list[OfferOverride],
    where: str,
    errors: list[tuple[str, str]],
) -> list[ProviderOffer]:
    by_provider = {o.provider: o for o in offers}
    result = list(offers)
    for i, change in enumerate(changes):
        offer = by_provider.get(change.provider)
        if offer is None:
            errors.append(
                (
                    f"{where}.offers[{i}].provider",
                    f"this variant has no {change.provider} offer; offers: "
                    f"{', '.join(by_provider) or 'none'}",
                )
            )
            continue
        update: dict[str, Any] = {}
        for name in ("base_cost", "shipping_first", "shipping_additional"):
            value = getattr(change, name)
            if value is not None:
                update[name] = _money(value)
        currencies = {m.currency for m in update.values()}
        if len(currencies) > 1:
            errors.append((f"{where}.offers[{i}]", f"mixes currencies {sorted(currencies)}"))
            continue
        if not update:
            continue
        changed = ", ".join(sorted(update))
        shipping_known = "shipping_first" in update or (
            offer.verified and offer.shipping_first is not None
        )
        update["verified"] = ("base_cost" in update and shipping_known) or offer.verified
        update["source"] = f"{offer.source}; organization override: {changed}"
        new_offer = offer.model_copy(update=update)
        result[result.index(offer)] = new_offer
        by_provider[change.provider] = new_offer
    return result


# --- Provider refresh -----------------------------------------------------------------------


class CatalogSource(Protocol):
    """A provider catalog API (a connector): what it currently says about one of its products."""

    @property
    def provider(self) -> Provider: ...

    async def fetch_product(self, product_id: str) -> ProviderProductData | None:
        """The provider's product `product_id`, or None when it no longer has it."""
        ...


@dataclass
class RefreshReport:
    """What `refresh_from` changed and what it could not match, as catalog paths."""

    updated_print_files: list[str] = field(default_factory=list)
    updated_offers: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    unmapped_offers: list[str] = field(default_factory=list)  # our offers with no variant id
    missing_products: list[str] = field(default_factory=list)  # provider product ids gone
    new_provider_variants: list[str] = field(default_factory=list)  # "product:variant" ids


@dataclass
class RefreshResult:
    catalog: Catalog
    report: RefreshReport


async def refresh_from(source: CatalogSource, catalog: Catalog | None = None) -> RefreshResult:
    """Merge a provider's current catalog into `catalog` (the bundled one by default).

    Matched by the provider's variant ids: a variant whose offer has no variant id is reported,
    not guessed. Print files are replaced area by area for the areas the provider returns; costs
    and shipping replace the offer's when the provider gives them, and an offer with a cost and
    first-item shipping from the provider counts as verified. A catalog variant the provider no
    longer lists is kept but marked unavailable; provider variants the catalog has no variant for
    are listed so someone can map them. Each product is fetched once.
    """
    catalog = catalog or get_catalog()
    provider = source.provider
    report = RefreshReport()
    wanted = sorted(
        {
            o.product_id
            for t in catalog.product_types.values()
            for v in t.variants
            for o in v.offers
            if o.provider == provider
        }
    )
    fetched: dict[str, ProviderProductData | None] = {}
    for product_id in wanted:
        data = await source.fetch_product(product_id)
        if data is not None and (data.provider != provider or data.product_id != product_id):
            raise ValueError(
                f"source returned {data.provider} product {data.product_id} "
                f"when asked for {provider} product {product_id}"
            )
        fetched[product_id] = data
        if data is None:
            report.missing_products.append(product_id)

    seen: dict[str, set[str]] = {pid: set() for pid in wanted}
    product_types: dict[str, ProductType] = {}
    for key, product_type in catalog.product_types.items():
        variants = []
        for variant in product_type.variants:
            variants.append(
                _refresh_variant(product_type, variant, provider, fetched, seen, report)
            )
        product_types[key] = product_type.model_copy(update={"variants": variants})

    for product_id, data in fetched.items():
        if data is None:
            continue
        for pv in data.variants:
            if pv.variant_id not in seen[product_id]:
                report.new_provider_variants.append(f"{product_id}:{pv.variant_id}")
    return RefreshResult(catalog.model_copy(update={"product_types": product_types}), report)


def _refresh_variant(
    product_type: ProductType,
    variant: Variant,
    provider: Provider,
    fetched: Mapping[str, ProviderProductData | None],
    seen: dict[str, set[str]],
    report: RefreshReport,
) -> Variant:
    where = f"product_types.{product_type.key}.variants.{variant.key}"
    area_keys = {a.key for a in product_type.print_areas}
    print_files = dict(variant.print_files)
    offers = []
    for i, offer in enumerate(variant.offers):
        data = fetched.get(offer.product_id) if offer.provider == provider else None
        if offer.provider != provider or data is None:
            if offer.provider == provider:  # the product itself is gone
                offer = offer.model_copy(update={"available": False})
                report.unavailable.append(f"{where}.offers[{i}]")
            offers.append(offer)
            continue
        if offer.variant_id is None:
            report.unmapped_offers.append(f"{where}.offers[{i}]")
            offers.append(offer)
            continue
        pv: ProviderVariantData | None = next(
            (x for x in data.variants if x.variant_id == offer.variant_id), None
        )
        if pv is None:
            offers.append(offer.model_copy(update={"available": False}))
            report.unavailable.append(f"{where}.offers[{i}]")
            continue
        seen[offer.product_id].add(pv.variant_id)
        for area_key, pf in pv.print_files.items():
            if area_key in area_keys and print_files.get(area_key) != pf:
                print_files[area_key] = pf
                report.updated_print_files.append(f"{where}.print_files.{area_key}")
        update: dict[str, Any] = {"available": pv.available}
        for name in ("base_cost", "shipping_first", "shipping_additional"):
            value = getattr(pv, name)
            if value is not None and value != getattr(offer, name):
                update[name] = value
        if len(update) > 1:
            report.updated_offers.append(f"{where}.offers[{i}]")
        base_cost = update.get("base_cost", offer.base_cost)
        shipping = update.get("shipping_first", offer.shipping_first)
        if pv.base_cost is not None and pv.shipping_first is not None:
            update["verified"] = True
            update["source"] = f"{data.source}"
        elif len(update) > 1:
            update["verified"] = offer.verified and base_cost is not None and shipping is not None
            update["source"] = f"{offer.source}; refreshed: {data.source}"
        if not pv.available and offer.available is not False:
            report.unavailable.append(f"{where}.offers[{i}]")
        offers.append(offer.model_copy(update=update))
    return variant.model_copy(update={"print_files": print_files, "offers": offers})


def catalog_json(catalog: Catalog) -> str:
    """The catalog as the JSON document `load_catalog` reads (for saving a refreshed catalog)."""
    return json.dumps(catalog.model_dump(mode="json"), ensure_ascii=False, indent=1) + "\n"

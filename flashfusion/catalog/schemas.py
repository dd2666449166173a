"""The product catalog's shape: product types, their print areas and variants, provider offers.

The data itself is versioned JSON in `flashfusion/catalog/data/`; every figure there carries the
source it was taken from (`source`), and a figure no source gives is left empty (`None`) with
`verified: false` rather than guessed.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Provider = Literal["printful", "printify"]
FillMode = Literal["fit", "cover"]
Placement = Literal["center", "top_center", "full_bleed"]
Category = Literal[
    "apparel",
    "drinkware",
    "wall_art",
    "stickers",
    "phone_cases",
    "bags",
    "home",
    "stationery",
    "accessories",
]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PrintFile(_Data):
    """The pixel size a provider wants for one print area of one variant."""

    width_px: int = Field(gt=0, description="Print file width in pixels.")
    height_px: int = Field(gt=0, description="Print file height in pixels.")
    dpi: int = Field(gt=0, description="Dots per inch the provider prints at.")
    fill_mode: FillMode = Field(
        description="`fit`: the design must fit inside; `cover`: it must cover the area (cropped)."
    )
    can_rotate: bool = Field(default=False, description="The provider accepts it rotated 90°.")
    source: str = Field(description="Where these figures come from.")
    printfile_id: int | None = Field(
        default=None, description="The provider's print file id, where the data has one."
    )

    @property
    def width_in(self) -> float:
        return self.width_px / self.dpi

    @property
    def height_in(self) -> float:
        return self.height_px / self.dpi


class PrintArea(_Data):
    """A place on the product that takes a design (front, back, sleeve, wrap…)."""

    key: str = Field(description="Stable key, e.g. `front`, `back`, `left_sleeve`, `wrap`.")
    name: str = Field(description="Shown to the creator.")
    placement: Placement = Field(
        description="Where the design goes: centred, top-centred (chest prints) or full bleed."
    )
    safe_margin_px: int = Field(
        ge=0, description="Keep text and key artwork this far inside the edge (print-file px)."
    )
    bleed_px: int = Field(
        ge=0, description="Area past the trim line that is printed and cut off (print-file px)."
    )
    required: bool = Field(default=False, description="The product cannot be made without it.")
    source: str = Field(description="Where the margin and bleed come from, or 'unverified'.")


class Money(_Data):
    amount: int = Field(description="Minor units (cents).")
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217 code.")


class ProviderOffer(_Data):
    """One provider's version of a variant: its ids, cost and shipping."""

    provider: Provider
    product_id: str = Field(description="The provider's catalog product (or blueprint) id.")
    variant_id: str | None = Field(description="The provider's variant id, where known.")
    base_cost: Money | None = Field(description="What the provider charges to make it.")
    shipping_first: Money | None = Field(description="Shipping of the first item (US).")
    shipping_additional: Money | None = Field(description="Shipping of each further item (US).")
    verified: bool = Field(description="False where a figure is missing or unconfirmed.")
    source: str
    variant_id_source: str | None = Field(
        default=None,
        description="Where the variant id → size/colour mapping comes from; says `unverified` "
        "or `inferred` when no source confirms it.",
    )
    available: bool | None = Field(
        default=None,
        description="The provider's last reported availability; None until a catalog refresh.",
    )


class Variant(_Data):
    """A purchasable version: size × colour, with the print file of each print area."""

    key: str = Field(description="Stable key within the product type, e.g. `white-m`.")
    size: str | None = Field(description="Size label (`M`, `11 oz`, `18×24 in`), if any.")
    colour: str | None = Field(description="Colour name, if the product comes in colours.")
    colour_hex: str | None = Field(description="`#rrggbb` of the blank, for mockups.")
    print_files: dict[str, PrintFile] = Field(description="Print area key → print file.")
    offers: list[ProviderOffer] = Field(description="Who can make it, and at what cost.")
    source: str = Field(
        default="unverified",
        description="Where the size, colour and colour hex come from (`unverified` parts say so).",
    )


class PlatformMappings(_Data):
    etsy_taxonomy_id: int | None = Field(description="Etsy seller taxonomy node id.")
    shopify_product_type: str | None = Field(description="Shopify product type / category name.")
    amazon_product_type: str | None = Field(description="Amazon SP-API product type.")
    google_product_category: int | None = Field(description="Google product taxonomy id.")
    source: str = Field(description="Where each mapping comes from; 'unverified' parts say so.")


class ProductType(_Data):
    key: str = Field(description="Stable key used everywhere (`tshirt`, `mug-11oz`).")
    name: str
    category: Category
    description: str
    mockup: str = Field(description="Mockup template key (`shirt`, `mug`, `poster`, …).")
    nice_classes: list[int] = Field(description="Nice classes for trademark screening.")
    nice_source: str
    print_areas: list[PrintArea]
    variants: list[Variant]
    platforms: PlatformMappings
    upload_limit_bytes: dict[str, int] = Field(
        description="Provider → largest print-file upload it accepts, where a source states one."
    )
    sources: list[str] = Field(description="Every source this entry draws on.")

    def print_area(self, key: str) -> PrintArea | None:
        return next((a for a in self.print_areas if a.key == key), None)

    def variant(self, key: str) -> Variant | None:
        return next((v for v in self.variants if v.key == key), None)


class Catalog(_Data):
    version: str = Field(description="Data version, e.g. `2026.12.1`.")
    product_types: dict[str, ProductType]


# --- Per-organization overrides -------------------------------------------------------------
# The override document a workspace stores. Every model forbids unknown keys so a typo
# (`base_cots`) is an error that names its path instead of a silently ignored field.

# A single item above this is a typo (an extra zero or two), not a real production cost.
MAX_OVERRIDE_AMOUNT = 1_000_000


class _Override(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MoneyOverride(_Override):
    """An amount an organization enters itself (its own cost or shipping)."""

    amount: int = Field(
        ge=0,
        le=MAX_OVERRIDE_AMOUNT,
        description=f"Minor units (cents), 0 to {MAX_OVERRIDE_AMOUNT}.",
    )
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. `USD`.")


class OfferOverride(_Override):
    """Replace figures of the variant's offer from `provider`."""

    provider: Provider = Field(description="Which of the variant's offers to change.")
    base_cost: MoneyOverride | None = Field(default=None, description="Own production cost.")
    shipping_first: MoneyOverride | None = Field(
        default=None, description="Own first-item shipping."
    )
    shipping_additional: MoneyOverride | None = Field(
        default=None, description="Own additional-item shipping."
    )


class VariantOverride(_Override):
    enabled: bool = Field(
        default=True, description="`false` removes the variant for the workspace."
    )
    offers: list[OfferOverride] = Field(default_factory=list, description="Offer changes.")


class PrintAreaOverride(_Override):
    safe_margin_px: int | None = Field(default=None, ge=0, description="Own safe margin (px).")
    bleed_px: int | None = Field(default=None, ge=0, description="Own bleed (px).")


class PlatformMappingsOverride(_Override):
    """Own platform mappings; a field left out keeps the catalog's value."""

    etsy_taxonomy_id: int | None = Field(default=None, gt=0)
    shopify_product_type: str | None = Field(default=None, min_length=1, max_length=255)
    amazon_product_type: str | None = Field(
        default=None, pattern=r"^[A-Z][A-Z0-9_]*$", description="e.g. `SHIRT`."
    )
    google_product_category: int | None = Field(default=None, gt=0)


class ProductTypeOverride(_Override):
    enabled: bool = Field(default=True, description="`false` hides the product type.")
    print_areas: dict[str, PrintAreaOverride] = Field(default_factory=dict)
    variants: dict[str, VariantOverride] = Field(default_factory=dict)
    platforms: PlatformMappingsOverride | None = None


class CatalogOverrides(_Override):
    """A workspace's override document: `{"product_types": {key: ProductTypeOverride}}`."""

    product_types: dict[str, ProductTypeOverride] = Field(default_factory=dict)


# --- Provider catalog refresh ---------------------------------------------------------------
# What a provider connector returns for one of its catalog products. Keyed by the provider's
# own variant ids: the connector knows nothing of FlashFusion's variant keys.


class ProviderVariantData(_Data):
    variant_id: str = Field(description="The provider's variant id.")
    print_files: dict[str, PrintFile] = Field(
        default_factory=dict, description="Print area (placement) key → print file."
    )
    base_cost: Money | None = None
    shipping_first: Money | None = None
    shipping_additional: Money | None = None
    available: bool = True


class ProviderProductData(_Data):
    provider: Provider
    product_id: str
    source: str = Field(description="e.g. `printful GET /v2/catalog-products/71 (2027-01-05)`.")
    variants: list[ProviderVariantData]

# ruff: noqa: E501
# (the tables below are data: a source citation per figure reads better on one line)
"""Build `data/catalog.json` from the real Printful print-file data and the tables below.

Run it when the catalog definition changes (it is a developer tool, not used at runtime)::

    python -m flashfusion.catalog.build ../shared/specs/printful/printful-printfiles.json

Every pixel figure is copied from the Printful `GET /mockup-generator/printfiles/{id}` responses
in that file (never typed in here), and carries its source: product id, print file id and fetch
date. Everything else (which Printful product a type uses, variant ids, Nice classes, platform
mappings, shipping) comes from the tables below, each with the source it was read in; whatever no
source gave is `None` and says `unverified`. Safe margins and bleeds that no provider states are
FlashFusion rules and say so (`flashfusion default, not a provider figure`).
"""

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from flashfusion.catalog.registry import check_catalog
from flashfusion.catalog.schemas import Catalog, Category, FillMode, Placement

VERSION = "2026.12.1"
DEFAULT_OUT = Path(__file__).parent / "data" / "catalog.json"

# --- Sources (full citations in data/SOURCES.md) --------------------------------------------
FETCHED = "2025-10-11"
PF = "printful-printfiles.json product {pid} printfile {fid} (fetched 2025-10-11)"
NAMES = (
    "Printful catalog product names: jsmcel/elquelo lib/product-names-generated.ts "
    "(generated 2025-10-11 from the Printful catalog, same repo as the print-file data)"
)
SPEC_V1 = "Printful API v1 docs (specs/printful/printfulapi.json, copy 2024-09-05)"
SPEC_V1_MOCKUP = f"{SPEC_V1}, Mockup Generator tag"
SPEC_V1_EXAMPLES = f"{SPEC_V1}, examples/tutorials"
UPLOAD_LIMIT_SOURCE = (
    "Printful print-file image size limit 50MB (printfulapi.json Mockup Generator tag; "
    "platform-apis.md §10); read as 50,000,000 bytes, the stricter of the two readings"
)
PRINTFUL_UPLOAD_LIMIT = 50_000_000
HELP_SHIPPING = (
    "help.printful.com 'How do I calculate shipping costs for different types of orders' "
    "(stored page, date not stated)"
)
FF_DEFAULT = "flashfusion default, not a provider figure"
MOCKUP_HEX = "colour hex: flashfusion mockup approximation, not a provider colour code"

NICE_25 = (
    "Nice class 25 'clothing, footwear, headwear' (class heading; indielaw.com trademark class "
    "list; WIPO NCL class 24 information file refers clothing to Cl. 25)"
)
NICE_21 = (
    "Nice class 21 'household or kitchen utensils and containers ... glassware, porcelain and "
    "earthenware' (nclpub.wipo.int NCL 2018 class 21 heading); indielaw.com: 'drinkware and mugs'"
)
NICE_16 = (
    "Nice class 16 paper goods, printed matter, stationery, pictures (WIPO NCL class 16 "
    "information file 2013; itokomoto.com class 16 summary: pictures framed or unframed; "
    "legalclarity.org: posters, notebooks)"
)
NICE_16_CANVAS = (
    f"{NICE_16}; a printed canvas taken as a picture (framed or unframed) — this reading is "
    "unverified"
)
NICE_24 = (
    "Nice class 24 textiles, household linen (WIPO NCL class 24 information file 2019: blankets "
    "and all bed linen are in class 24)"
)
NICE_18 = "Nice class 18 luggage and carrying bags (indielaw.com: class 18 includes tote bags)"
NICE_9_PHONE = (
    "Nice class 9 (applytrademarkregistrationonline.blogspot.com: mobile accessories are class "
    "9) — third-party summary only, not confirmed against the WIPO list: unverified"
)
NICE_9_MOUSE = "Nice class 9 for mouse pads: unverified (not confirmed in a source read)"
NICE_20_PILLOW = (
    "Nice class 20 for cushions: unverified (not confirmed in a source read); class 24 for the "
    "pillow cover per WIPO NCL class 24 information file 2019 (textile covers, bed linen)"
)
NICE_28 = (
    "Nice class 28 games and toys (indielaw.com class list); jigsaw puzzles specifically not "
    "confirmed in a source read"
)
NICE_25_APRON = f"{NICE_25}; aprons specifically not confirmed in a source read"

GOOGLE = (
    "Google product taxonomy 2021-09-21 (oniks98/price-feed-pipeline taxonomy-with-ids.en-US.txt)"
)
AMAZON_SHIRT = (
    "amazon SHIRT: product type name from specs/amazon-sp-api/listingsRestrictions_2021-08-01.json "
    "(x-example); using it for this product is a FlashFusion mapping"
)
AMAZON_PILLOW = (
    "amazon PILLOW: product type from dylan-travis/amz-json-documentation PILLOW schema "
    "(Amazon product-type meta-schema v1)"
)
SHOPIFY = (
    "shopify productType is merchant-defined free text (specs/shopify/schema.graphql "
    "Product.productType): value is a FlashFusion label"
)
ETSY_UNVERIFIED = "etsy taxonomy id: unverified (no Etsy seller-taxonomy dump found in the sources)"

AreaKind = Literal["garment", "hard", "paper", "framed", "canvas", "embroidery"]


@dataclass(frozen=True)
class AreaSpec:
    key: str  # the Printful placement name
    required: bool = False
    placement: Placement | None = None  # None: derived from the fill mode and category
    bleed: tuple[int, str] | None = None  # (px, source) where a source fixes it
    safe_margin: tuple[int, str] | None = None


@dataclass(frozen=True)
class VariantSpec:
    key: str
    size: str | None
    colour: str | None
    colour_hex: str | None
    source: str
    printful_variant_id: int | None = None
    variant_id_source: str | None = None


@dataclass(frozen=True)
class Shipping:
    first: int | None
    additional: int | None
    source: str


@dataclass(frozen=True)
class Mappings:
    shopify: str
    google: int | None
    google_path: str | None
    amazon: str | None = None
    amazon_source: str | None = None


@dataclass
class TypeSpec:
    key: str
    name: str
    category: Category
    mockup: str
    printful_id: int
    kind: AreaKind
    areas: list[AreaSpec]
    nice: list[int]
    nice_source: str
    mappings: Mappings
    variants: list[VariantSpec] = field(default_factory=list)
    # Build one variant per Printful variant id, its size read off the print file (wall art).
    variants_from_data: list[int] = field(default_factory=list)
    size_labels: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (label, source)
    colour: tuple[str, str | None, str] | None = None  # (name, hex, source) for data variants
    size_suffix: str = ""
    note: str = ""
    shipping: Shipping | None = None


# --- Variant helpers ------------------------------------------------------------------------


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def inches(px: int, dpi: int) -> str:
    value = round(px / dpi, 2)
    return f"{value:g}"


# ISO 216 A-series in inches (A1 594×841 mm …): only used to name print files that match.
_A_SIZES = {"A1": (23.39, 33.11), "A2": (16.54, 23.39), "A3": (11.69, 16.54), "A5": (5.83, 8.27)}


def size_label(width: int, height: int, dpi: int) -> str:
    short, long_ = sorted((width, height))
    label = f"{inches(short, dpi)}×{inches(long_, dpi)} in"
    for name, (a, b) in _A_SIZES.items():
        if abs(short / dpi - a) < 0.02 and abs(long_ / dpi - b) < 0.02:
            return f"{label} ({name})"
    return label


def grid(
    colours: list[tuple[str, str, str]],
    sizes: list[str],
    ids: dict[tuple[str, str], tuple[int, str]],
    availability: str,
) -> list[VariantSpec]:
    """Colour × size variants; `ids` maps (colour, size) to a sourced Printful variant id."""
    out = []
    for colour, hex_, hex_source in colours:
        for size in sizes:
            known = ids.get((colour, size))
            out.append(
                VariantSpec(
                    key=f"{slug(colour)}-{slug(size)}",
                    size=size,
                    colour=colour,
                    colour_hex=hex_,
                    source=f"size/colour: {availability}; {hex_source}",
                    printful_variant_id=known[0] if known else None,
                    variant_id_source=known[1]
                    if known
                    else "unverified: Printful variant id for this colour/size not found",
                )
            )
    return out


WHITE = ("White", "#ffffff", MOCKUP_HEX)
BLACK = ("Black", "#000000", MOCKUP_HEX)
ADULT = ["S", "M", "L", "XL", "2XL"]
STANDARD_OFFER = (
    "flashfusion default offering (White and Black, S–2XL); availability at Printful unverified"
)

# Bella + Canvas 3001 (product 71): variant ids named in the Printful v1 docs.
TEE_IDS: dict[tuple[str, str], tuple[int, str]] = {
    ("White", "S"): (4011, f"{SPEC_V1_EXAMPLES}: variant 4011 '(White / S)'"),
    ("White", "M"): (
        4012,
        f"{SPEC_V1_MOCKUP}: 'white and black shirt in M, L, XL … 4012, 4013, 4014, 4017, 4018 and 4019'",
    ),
    ("White", "L"): (
        4013,
        f"{SPEC_V1_MOCKUP}: 'white and black shirt in M, L, XL … 4012, 4013, 4014, 4017, 4018 and 4019'",
    ),
    ("White", "XL"): (4014, f"{SPEC_V1_EXAMPLES}: variant 4014 '(White / XL)'"),
    ("Black", "S"): (
        4016,
        f"inferred: {SPEC_V1_MOCKUP} mockup result groups 4016 with black 4017/4018; not confirmed",
    ),
    ("Black", "M"): (4017, f"{SPEC_V1_MOCKUP}: black M/L/XL = 4017, 4018, 4019"),
    ("Black", "L"): (4018, f"{SPEC_V1_MOCKUP}: black M/L/XL = 4017, 4018, 4019"),
    ("Black", "XL"): (4019, f"{SPEC_V1_MOCKUP}: black M/L/XL = 4017, 4018, 4019"),
    ("Asphalt", "2XL"): (
        4035,
        f"{SPEC_V1_EXAMPLES}: variant 4035 '(Asphalt / 2XL)', color_code #52514f",
    ),
    ("Athletic Heather", "L"): (6950, f"{SPEC_V1_EXAMPLES}: variant 6950 '(Athletic Heather / L)'"),
}
TEE_COLOURS = [
    WHITE,
    BLACK,
    ("Asphalt", "#52514f", f"colour hex: {SPEC_V1_EXAMPLES} variant 4035 color_code"),
    ("Athletic Heather", "#a9a9a9", MOCKUP_HEX),
    ("Black Heather", "#3a3a3a", MOCKUP_HEX),
]
TEE_OFFER = (
    f"colours named in {SPEC_V1_EXAMPLES} for product 71 (White, Black, Asphalt, Athletic "
    "Heather, Black Heather); sizes S–2XL named there; each colour × size pair without a variant "
    "id is unverified at Printful"
)


def single(
    key: str, size: str | None, colour: str | None, hex_: str | None, source: str, note: str
) -> VariantSpec:
    """One variant standing for every Printful variant that shares the product's print files."""
    return VariantSpec(
        key=key,
        size=size,
        colour=colour,
        colour_hex=hex_,
        source=source,
        variant_id_source=f"unverified: {note}",
    )


# --- The product types ----------------------------------------------------------------------

FRONT = AreaSpec("front", required=True)
BACK = AreaSpec("back")
SLEEVES = [AreaSpec("sleeve_left"), AreaSpec("sleeve_right")]
DEFAULT = AreaSpec("default", required=True)

TEE_MAP = Mappings(
    "T-Shirt", 212, "Apparel & Accessories > Clothing > Shirts & Tops", "SHIRT", AMAZON_SHIRT
)
TOP_CHOICE = " (FlashFusion choice: the 2021-09-21 taxonomy has no hoodie/sweatshirt node)"

TYPES: list[TypeSpec] = [
    # Apparel ------------------------------------------------------------------------------
    TypeSpec(
        "tshirt",
        "Unisex t-shirt",
        "apparel",
        "shirt",
        71,
        "garment",
        [FRONT, BACK, *SLEEVES],
        [25],
        NICE_25,
        TEE_MAP,
        variants=grid(TEE_COLOURS, ADULT, TEE_IDS, TEE_OFFER),
        note="Unisex Staple T-Shirt | Bella + Canvas 3001 (id 71 confirmed by the v1 and v2 specs)",
        shipping=Shipping(
            475, None, f"{HELP_SHIPPING}: 'Shipping one t-shirt to the USA costs 4.75 USD'"
        ),
    ),
    TypeSpec(
        "classic-tee",
        "Classic heavy cotton tee",
        "apparel",
        "shirt",
        438,
        "garment",
        [FRONT, BACK, *SLEEVES],
        [25],
        NICE_25,
        TEE_MAP,
        variants=grid([WHITE, BLACK], ADULT, {}, STANDARD_OFFER),
        note="Unisex Classic Tee | Gildan 5000",
        shipping=Shipping(
            475, None, f"{HELP_SHIPPING}: 'Shipping one t-shirt to the USA costs 4.75 USD'"
        ),
    ),
    TypeSpec(
        "womens-tee",
        "Women's relaxed t-shirt",
        "apparel",
        "shirt",
        360,
        "garment",
        [FRONT, BACK],
        [25],
        NICE_25,
        TEE_MAP,
        variants=grid([WHITE, BLACK], ADULT, {}, STANDARD_OFFER),
        note="Women's Relaxed T-Shirt | Bella + Canvas 6400",
        shipping=Shipping(
            475, None, f"{HELP_SHIPPING}: 'Shipping one t-shirt to the USA costs 4.75 USD'"
        ),
    ),
    TypeSpec(
        "kids-tee",
        "Youth t-shirt",
        "apparel",
        "shirt",
        307,
        "garment",
        [FRONT, BACK],
        [25],
        NICE_25,
        TEE_MAP,
        variants=grid(
            [WHITE, BLACK],
            ["S", "M", "L", "XL"],
            {},
            "flashfusion default offering (White and Black, youth S–XL); availability at Printful unverified",
        ),
        note="Youth Staple Tee | Bella + Canvas 3001Y",
    ),
    TypeSpec(
        "tank-top",
        "Unisex tank top",
        "apparel",
        "tank",
        248,
        "garment",
        [FRONT, BACK],
        [25],
        NICE_25,
        Mappings(
            "Tank Top",
            212,
            "Apparel & Accessories > Clothing > Shirts & Tops",
            "SHIRT",
            AMAZON_SHIRT,
        ),
        variants=grid([WHITE, BLACK], ADULT, {}, STANDARD_OFFER),
        note="Men’s Staple Tank Top | Bella + Canvas 3480",
    ),
    TypeSpec(
        "long-sleeve",
        "Unisex long sleeve tee",
        "apparel",
        "long_sleeve",
        356,
        "garment",
        [FRONT, BACK, *SLEEVES],
        [25],
        NICE_25,
        Mappings(
            "Long Sleeve Shirt",
            212,
            "Apparel & Accessories > Clothing > Shirts & Tops",
            "SHIRT",
            AMAZON_SHIRT,
        ),
        variants=grid([WHITE, BLACK], ADULT, {}, STANDARD_OFFER),
        note="Unisex Long Sleeve Tee | Bella + Canvas 3501",
    ),
    TypeSpec(
        "hoodie",
        "Unisex heavy blend hoodie",
        "apparel",
        "hoodie",
        146,
        "garment",
        [FRONT, BACK, *SLEEVES],
        [25],
        NICE_25,
        Mappings("Hoodie", 212, "Apparel & Accessories > Clothing > Shirts & Tops" + TOP_CHOICE),
        variants=grid([WHITE, BLACK], ADULT, {}, STANDARD_OFFER),
        note="Unisex Heavy Blend Hoodie | Gildan 18500",
        shipping=Shipping(
            849, None, f"{HELP_SHIPPING}: 'Hoodie (Single product): 8.49 USD' to the USA"
        ),
    ),
    TypeSpec(
        "sweatshirt",
        "Unisex crew neck sweatshirt",
        "apparel",
        "sweatshirt",
        145,
        "garment",
        [FRONT, BACK, *SLEEVES],
        [25],
        NICE_25,
        Mappings(
            "Sweatshirt", 212, "Apparel & Accessories > Clothing > Shirts & Tops" + TOP_CHOICE
        ),
        variants=grid([WHITE, BLACK], ADULT, {}, STANDARD_OFFER),
        note="Unisex Crew Neck Sweatshirt | Gildan 18000",
    ),
    # Drinkware ----------------------------------------------------------------------------
    TypeSpec(
        "mug-11oz",
        "White glossy mug, 11 oz",
        "drinkware",
        "mug",
        19,
        "hard",
        [AreaSpec("default", required=True, placement="center")],
        [21],
        NICE_21,
        Mappings("Mug", 2169, "Home & Garden > Kitchen & Dining > Tableware > Drinkware > Mugs"),
        variants=[
            VariantSpec(
                "white",
                "11 oz",
                "White",
                "#ffffff",
                f"size/colour: product name 'White Glossy Mug' ({NAMES}); {SPEC_V1_MOCKUP}: 'variant 1320 11oz mug'; {MOCKUP_HEX}",
                1320,
                f"{SPEC_V1_MOCKUP}: 'for variant 1320 11oz mug … printfile_id 43'",
            )
        ],
        note="White Glossy Mug (id 19 confirmed by the v1 spec mockup example)",
    ),
    TypeSpec(
        "mug-15oz",
        "White glossy mug, 15 oz",
        "drinkware",
        "mug",
        19,
        "hard",
        [AreaSpec("default", required=True, placement="center")],
        [21],
        NICE_21,
        Mappings("Mug", 2169, "Home & Garden > Kitchen & Dining > Tableware > Drinkware > Mugs"),
        variants=[
            VariantSpec(
                "white",
                "15 oz",
                "White",
                "#ffffff",
                f"size: variant 4830 = 15 oz in third-party code (several repos); its print file 2700×1140 @300 = 9×3.8 in matches the 15 oz print size on Printful-fulfilled stores' mug guidelines (madprints.ca, mysticalcherry.com); {MOCKUP_HEX}",
                4830,
                "third-party code only (e.g. a Printful shortlist 'White Glossy Mug (15 oz)' variant 4830): unverified",
            )
        ],
        note="White Glossy Mug",
    ),
    TypeSpec(
        "mug-20oz",
        "White glossy mug, 20 oz",
        "drinkware",
        "mug",
        19,
        "hard",
        [AreaSpec("default", required=True, placement="center")],
        [21],
        NICE_21,
        Mappings("Mug", 2169, "Home & Garden > Kitchen & Dining > Tableware > Drinkware > Mugs"),
        variants=[
            VariantSpec(
                "white",
                "20 oz",
                "White",
                "#ffffff",
                f"size: variant 16586 = 20 oz in third-party code only: unverified; {MOCKUP_HEX}",
                16586,
                "third-party code only ('White Glossy Mug (20 oz)' variant 16586): unverified",
            )
        ],
        note="White Glossy Mug",
    ),
    TypeSpec(
        "tumbler-20oz",
        "Tapered stainless steel tumbler, 20 oz",
        "drinkware",
        "tumbler",
        909,
        "hard",
        [AreaSpec("front", required=True)],
        [21],
        NICE_21,
        Mappings(
            "Tumbler", 2951, "Home & Garden > Kitchen & Dining > Tableware > Drinkware > Tumblers"
        ),
        variants=[
            single(
                "standard",
                "20 oz",
                None,
                None,
                f"size: product name 'Tapered Stainless Steel Tumbler 20 oz' ({NAMES})",
                "the product's one Printful variant (23470) is not named in the sources",
            )
        ],
        note="Tapered Stainless Steel Tumbler 20 oz",
    ),
    TypeSpec(
        "water-bottle",
        "Stainless steel water bottle, 17 oz",
        "drinkware",
        "bottle",
        382,
        "hard",
        [AreaSpec("default", required=True, placement="center")],
        [21],
        NICE_21,
        Mappings(
            "Water Bottle",
            3809,
            "Home & Garden > Kitchen & Dining > Food & Beverage Carriers > Water Bottles",
        ),
        variants=[
            single(
                "standard",
                "17 oz",
                None,
                None,
                f"size: Printful description 'This 17-ounce, double-walled stainless steel water…' ({NAMES})",
                "2 Printful variants (16030, 10798) share the print file; their colours are not named in the sources",
            )
        ],
        note="Stainless Steel Water Bottle",
    ),
    TypeSpec(
        "pint-glass",
        "Shaker pint glass, 16 oz",
        "drinkware",
        "tumbler",
        653,
        "hard",
        [AreaSpec("default", required=True, placement="center")],
        [21],
        NICE_21,
        Mappings(
            "Pint Glass",
            7568,
            "Home & Garden > Kitchen & Dining > Tableware > Drinkware > Beer Glasses",
        ),
        variants=[
            single(
                "standard",
                "16 oz",
                None,
                None,
                f"size: product name 'Shaker Pint Glass (16 oz)' ({NAMES})",
                "the product's one Printful variant (16359) is not named in the sources",
            )
        ],
        note="Shaker Pint Glass (16 oz)",
    ),
    # Wall art -----------------------------------------------------------------------------
    TypeSpec(
        "poster",
        "Enhanced matte paper poster",
        "wall_art",
        "poster",
        1,
        "paper",
        [
            AreaSpec(
                "default",
                required=True,
                bleed=(
                    0,
                    "derived: Printful poster print files equal the nominal size (variant 1 '18×24' → 7200×5400 @300 = 24×18 in; v1 docs: '10×10 poster requires a 1500×1500 pixel print file' at 150 DPI)",
                ),
            )
        ],
        [16],
        NICE_16,
        Mappings(
            "Poster", 500044, "Home & Garden > Decor > Artwork > Posters, Prints, & Visual Artwork"
        ),
        variants_from_data=[
            16364,
            4463,
            6239,
            14125,
            4464,
            1349,
            3876,
            6240,
            4465,
            3877,
            6242,
            1,
            16365,
            2,
            19528,
            19527,
        ],
        size_labels={
            1: ("18×24 in", f"{SPEC_V1_EXAMPLES}: variant 1 'Unframed Poster 18×24'"),
            2: ("24×36 in", f"{SPEC_V1_EXAMPLES}: variant 2 'Unframed Poster 24×36'"),
        },
        note="Enhanced Matte Paper Poster (in) (id 1 confirmed by the v1 spec order examples)",
    ),
    TypeSpec(
        "framed-poster",
        "Enhanced matte paper framed poster",
        "wall_art",
        "framed_poster",
        2,
        "framed",
        [
            AreaSpec(
                "default",
                required=True,
                bleed=(
                    0,
                    "derived: same print files as the unframed poster (v1 docs: 'a 14×14 poster uses the same print file as a framed poster')",
                ),
            )
        ],
        [16],
        NICE_16,
        Mappings(
            "Framed Poster",
            500044,
            "Home & Garden > Decor > Artwork > Posters, Prints, & Visual Artwork",
        ),
        variants_from_data=[
            4651,
            4652,
            14292,
            4653,
            1350,
            4398,
            4654,
            4655,
            4399,
            4656,
            3,
            19520,
            4,
        ],
        colour=(
            "Black",
            "#000000",
            f"frame colour Black: {SPEC_V1_EXAMPLES} variants 1350 'Black/12″×16″' and 4398 'Black/12″×18″'; the other ids are the same 13-variant block of the print-file response, so Black is inferred for them; {MOCKUP_HEX}",
        ),
        size_labels={
            1350: ("12×16 in", f"{SPEC_V1_EXAMPLES}: variant 1350 '(Black/12″×16″)'"),
            4398: ("12×18 in", f"{SPEC_V1_EXAMPLES}: variant 4398 '(Black/12″×18″)'"),
        },
        note="Enhanced Matte Paper Framed Poster (in)",
    ),
    TypeSpec(
        "framed-poster-luster",
        "Premium luster photo paper framed poster",
        "wall_art",
        "framed_poster",
        172,
        "framed",
        [
            AreaSpec(
                "default",
                required=True,
                bleed=(0, "derived: poster print files equal the nominal size"),
            )
        ],
        [16],
        NICE_16,
        Mappings(
            "Framed Poster",
            500044,
            "Home & Garden > Decor > Artwork > Posters, Prints, & Visual Artwork",
        ),
        variants=[
            VariantSpec(
                "black-8x10",
                "8×10 in",
                "Black",
                "#000000",
                f"{SPEC_V1_EXAMPLES}: variant 6882 '(Black/8″×10″)'; {MOCKUP_HEX}",
                6882,
                f"{SPEC_V1_EXAMPLES}: variant 6882",
            ),
            VariantSpec(
                "black-10x10",
                "10×10 in",
                "Black",
                "#000000",
                f"{SPEC_V1_EXAMPLES}: variant 6883 '(Black/10″×10″)'; {MOCKUP_HEX}",
                6883,
                f"{SPEC_V1_EXAMPLES}: variant 6883",
            ),
            VariantSpec(
                "white-8x10",
                "8×10 in",
                "White",
                "#ffffff",
                f"{SPEC_V1_EXAMPLES}: variant 10760 '(White/8″×10″)', color_code #ffffff",
                10760,
                f"{SPEC_V1_EXAMPLES}: variant 10760",
            ),
        ],
        note="Premium Luster Photo Paper Framed Poster (in) (id 172 confirmed by the v1 spec examples)",
    ),
    TypeSpec(
        "canvas",
        "Stretched canvas",
        "wall_art",
        "canvas",
        3,
        "canvas",
        [DEFAULT],
        [16],
        NICE_16_CANVAS,
        Mappings(
            "Canvas Print",
            500044,
            "Home & Garden > Decor > Artwork > Posters, Prints, & Visual Artwork",
        ),
        variants_from_data=[19291, 19292, 19293, 19295, 823, 7],
        size_suffix=" print file incl. wrap (nominal canvas size unverified)",
        note="Canvas (in)",
    ),
    # Stickers -----------------------------------------------------------------------------
    TypeSpec(
        "sticker-kiss-cut",
        "Kiss-cut sticker",
        "stickers",
        "sticker",
        358,
        "hard",
        [DEFAULT],
        [16],
        NICE_16,
        Mappings(
            "Sticker",
            4054,
            "Arts & Entertainment > Hobbies & Creative Arts > Arts & Crafts > Art & Crafting Materials > Embellishments & Trims > Decorative Stickers",
        ),
        variants_from_data=[10163, 10164, 10165, 16362],
        note="Kiss-Cut Stickers",
    ),
    TypeSpec(
        "sticker-holographic",
        "Kiss-cut holographic sticker",
        "stickers",
        "sticker",
        673,
        "hard",
        [DEFAULT],
        [16],
        NICE_16,
        Mappings(
            "Sticker",
            4054,
            "Arts & Entertainment > Hobbies & Creative Arts > Arts & Crafts > Art & Crafting Materials > Embellishments & Trims > Decorative Stickers",
        ),
        variants_from_data=[16705, 16706, 16707],
        note="Kiss-Cut Holographic Stickers",
    ),
    TypeSpec(
        "sticker-sheet",
        "Kiss-cut sticker sheet",
        "stickers",
        "sticker",
        505,
        "paper",
        [DEFAULT, AreaSpec("background")],
        [16],
        NICE_16,
        Mappings(
            "Sticker Sheet",
            4054,
            "Arts & Entertainment > Hobbies & Creative Arts > Arts & Crafts > Art & Crafting Materials > Embellishments & Trims > Decorative Stickers",
        ),
        variants_from_data=[12917],
        note="Kiss-Cut Sticker Sheet",
    ),
    # Phone cases --------------------------------------------------------------------------
    TypeSpec(
        "phone-case",
        "Clear case for iPhone",
        "phone_cases",
        "phone_case",
        181,
        "hard",
        [DEFAULT],
        [9],
        NICE_9_PHONE,
        Mappings(
            "Phone Case",
            2353,
            "Electronics > Communications > Telephony > Mobile Phone Accessories > Mobile Phone Cases",
        ),
        variants=[
            single(
                "any-model",
                "iPhone (model chosen per order)",
                None,
                None,
                "one FlashFusion variant for every phone model: the print file is the same for all of them",
                "31 Printful variants (phone models) share print file 56; which id is which model is not in the sources",
            )
        ],
        note="Clear Case for iPhone® (id 181 confirmed by the v1 spec catalog example)",
    ),
    TypeSpec(
        "phone-case-tough",
        "Tough case for iPhone",
        "phone_cases",
        "phone_case",
        601,
        "hard",
        [DEFAULT],
        [9],
        NICE_9_PHONE,
        Mappings(
            "Phone Case",
            2353,
            "Electronics > Communications > Telephony > Mobile Phone Accessories > Mobile Phone Cases",
        ),
        variants=[
            single(
                "any-model",
                "iPhone (model chosen per order)",
                None,
                None,
                "one FlashFusion variant for every phone model: the print file is the same for all of them",
                "54 Printful variants (phone models and finishes) share print file 331; which id is which model is not in the sources",
            )
        ],
        note="Tough Case for iPhone®",
    ),
    TypeSpec(
        "phone-case-samsung",
        "Snap case for Samsung",
        "phone_cases",
        "phone_case",
        684,
        "hard",
        [DEFAULT],
        [9],
        NICE_9_PHONE,
        Mappings(
            "Phone Case",
            2353,
            "Electronics > Communications > Telephony > Mobile Phone Accessories > Mobile Phone Cases",
        ),
        variants=[
            single(
                "any-model",
                "Samsung (model chosen per order)",
                None,
                None,
                "one FlashFusion variant for every phone model: the print file is the same for all of them",
                "46 Printful variants (phone models and finishes) share print file 439; which id is which model is not in the sources",
            )
        ],
        note="Snap Case for Samsung®",
    ),
    # Bags ---------------------------------------------------------------------------------
    TypeSpec(
        "tote",
        "Eco tote bag",
        "bags",
        "tote",
        367,
        "garment",
        [
            AreaSpec("front", required=True, placement="center"),
            AreaSpec("back", placement="center"),
        ],
        [18],
        NICE_18,
        Mappings("Tote Bag", 5608, "Luggage & Bags > Shopping Totes"),
        variants=[
            single(
                "standard",
                None,
                None,
                None,
                "the bag's colours are not named in the sources",
                "2 Printful variants (10457, 10458) share the print files; their colours are not named in the sources",
            )
        ],
        note="Eco Tote Bag | Econscious EC8000",
    ),
    TypeSpec(
        "tote-aop",
        "All-over print tote bag",
        "bags",
        "tote",
        84,
        "paper",
        [DEFAULT],
        [18],
        NICE_18,
        Mappings("Tote Bag", 5608, "Luggage & Bags > Shopping Totes"),
        variants=[
            single(
                "standard",
                None,
                None,
                None,
                "handle colours not named in the sources",
                "3 Printful variants (4533, 8904, 8905) share print file 6; what tells them apart is not in the sources",
            )
        ],
        note="All-Over Print Tote Bag",
    ),
    TypeSpec(
        "drawstring-bag",
        "All-over print drawstring bag",
        "bags",
        "tote",
        262,
        "paper",
        [DEFAULT],
        [18],
        NICE_18,
        Mappings(
            "Drawstring Bag",
            100,
            "Luggage & Bags > Backpacks (FlashFusion choice for a drawstring backpack)",
        ),
        variants_from_data=[8894],
        size_suffix=" print file (bag size unverified)",
        note="All-Over Print Drawstring Bag",
    ),
    # Home ---------------------------------------------------------------------------------
    TypeSpec(
        "pillow",
        "All-over print basic pillow",
        "home",
        "pillow",
        83,
        "paper",
        [AreaSpec("front", required=True), AreaSpec("back")],
        [20, 24],
        NICE_20_PILLOW,
        Mappings(
            "Throw Pillow", 4454, "Home & Garden > Decor > Throw Pillows", "PILLOW", AMAZON_PILLOW
        ),
        variants_from_data=[4532, 9513, 11075],
        size_suffix=" print file (pillow size unverified)",
        note="All-Over Print Basic Pillow",
    ),
    TypeSpec(
        "blanket",
        "Throw blanket",
        "home",
        "blanket",
        395,
        "paper",
        [DEFAULT],
        [24],
        NICE_24,
        Mappings("Blanket", 1985, "Home & Garden > Linens & Bedding > Bedding > Blankets"),
        variants_from_data=[22609, 10986, 13222],
        size_suffix=" print file (blanket size unverified)",
        note="Throw Blanket",
    ),
    TypeSpec(
        "beach-towel",
        "Beach towel",
        "home",
        "blanket",
        259,
        "paper",
        [DEFAULT],
        [24],
        f"{NICE_24}; towels (bath linen) class 24 per blog.etaxfinance.in class 24 list — third-party",
        Mappings("Beach Towel", 4126, "Home & Garden > Linens & Bedding > Towels > Beach Towels"),
        variants_from_data=[8874, 22610],
        size_suffix=" print file (towel size unverified)",
        note="Beach Towel",
    ),
    TypeSpec(
        "jigsaw-puzzle",
        "Jigsaw puzzle",
        "home",
        "puzzle",
        534,
        "paper",
        [DEFAULT],
        [28],
        NICE_28,
        Mappings("Puzzle", 2618, "Toys & Games > Puzzles > Jigsaw Puzzles"),
        variants_from_data=[13431, 13432],
        size_suffix=" print file (puzzle size and piece count unverified)",
        note="Jigsaw Puzzle",
    ),
    # Stationery ---------------------------------------------------------------------------
    TypeSpec(
        "notebook",
        "Spiral notebook",
        "stationery",
        "notebook",
        474,
        "paper",
        [AreaSpec("front", required=True), AreaSpec("back")],
        [16],
        NICE_16,
        Mappings(
            "Notebook",
            961,
            "Office Supplies > General Office Supplies > Paper Products > Notebooks & Notepads",
        ),
        variants_from_data=[12141],
        size_suffix=" print file (notebook size unverified)",
        note="Spiral Notebook",
    ),
    TypeSpec(
        "greeting-card",
        "Greeting card",
        "stationery",
        "card",
        568,
        "paper",
        [
            AreaSpec(
                "front",
                required=True,
                bleed=(
                    20,
                    "derived from the 4×6 size: print file 226 (1842×1240 @300) is the one Printful uses for the 4″×6″ postcard (v1 docs variant 11513); (1842−1800)/2 = 21 px, (1240−1200)/2 = 20 px",
                ),
            ),
            AreaSpec("inside1", bleed=(20, "as front")),
            AreaSpec("inside2", bleed=(20, "as front")),
            AreaSpec("back", bleed=(20, "as front")),
        ],
        [16],
        NICE_16,
        Mappings("Greeting Card", None, None),
        variants_from_data=[14457, 14458, 14460],
        size_labels={
            14457: (
                "4×6 in",
                "derived: same print file (226) as the 4″×6″ postcard, v1 docs variant 11513",
            )
        },
        size_suffix=" print file incl. bleed (card size unverified)",
        note="Greeting Card",
    ),
    TypeSpec(
        "postcard",
        "Standard postcard",
        "stationery",
        "card",
        433,
        "paper",
        [
            AreaSpec(
                "default",
                required=True,
                bleed=(
                    20,
                    "derived: print file 1842×1240 @300 for the 4″×6″ postcard (v1 docs variant 11513) = 1800×1200 trim + 21/20 px per side",
                ),
            )
        ],
        [16],
        NICE_16,
        Mappings(
            "Postcard",
            3871,
            "Office Supplies > General Office Supplies > Paper Products > Post Cards",
        ),
        variants_from_data=[11513],
        size_labels={
            11513: ("4×6 in", f"{SPEC_V1_EXAMPLES}: variant 11513 'Standard Postcards (4″×6″)'")
        },
        note="Standard Postcard (id 433 confirmed by the v1 spec: variant 11513 product_id 433)",
    ),
    # Accessories --------------------------------------------------------------------------
    TypeSpec(
        "hat",
        "Classic dad hat (embroidered)",
        "accessories",
        "hat",
        206,
        "embroidery",
        [
            AreaSpec("embroidery_front_large", required=True, placement="center"),
            AreaSpec("embroidery_back", placement="center"),
            AreaSpec("embroidery_left", placement="center"),
            AreaSpec("embroidery_right", placement="center"),
        ],
        [25],
        NICE_25,
        Mappings("Hat", 173, "Apparel & Accessories > Clothing Accessories > Hats"),
        variants=[
            single(
                "standard",
                "One size",
                None,
                None,
                "hat colours not named in the sources",
                "11 Printful variants (colours) share the print files; which id is which colour is not in the sources",
            )
        ],
        note="Classic Dad Hat | Yupoong 6245CM",
    ),
    TypeSpec(
        "beanie",
        "Knit beanie (embroidered)",
        "accessories",
        "hat",
        81,
        "embroidery",
        [AreaSpec("embroidery_front", required=True, placement="center")],
        [25],
        NICE_25,
        Mappings("Beanie", 173, "Apparel & Accessories > Clothing Accessories > Hats"),
        variants=[
            single(
                "standard",
                "One size",
                None,
                None,
                "beanie colours not named in the sources",
                "6 Printful variants (colours) share the print file; which id is which colour is not in the sources",
            )
        ],
        note="Knit Beanie | Otto Cap 82-480",
    ),
    TypeSpec(
        "mouse-pad",
        "Mouse pad",
        "accessories",
        "mousepad",
        518,
        "paper",
        [DEFAULT],
        [9],
        NICE_9_MOUSE,
        Mappings(
            "Mouse Pad",
            1993,
            "Electronics > Electronics Accessories > Computer Accessories > Mouse Pads",
        ),
        variants_from_data=[13097],
        size_suffix=" print file (pad size unverified)",
        note="Mouse Pad",
    ),
    TypeSpec(
        "apron",
        "Organic cotton apron",
        "accessories",
        "apron",
        565,
        "garment",
        [AreaSpec("front", required=True, placement="center")],
        [25],
        NICE_25_APRON,
        Mappings("Apron", None, None),
        variants=[
            single(
                "standard",
                "One size",
                None,
                None,
                "apron colours not named in the sources",
                "4 Printful variants share the print file; what tells them apart is not in the sources",
            )
        ],
        note="Organic Cotton Apron | SOL'S 03569",
        shipping=Shipping(
            None, 200, f"{HELP_SHIPPING}: 'Apron (Additional product): 2.00 USD' to the USA"
        ),
    ),
]


# --- Building -------------------------------------------------------------------------------


def margins(spec: AreaSpec, kind: AreaKind, fill_mode: FillMode, dpi: int) -> tuple[int, int, str]:
    """(safe margin, bleed, source) for an area: a sourced figure where there is one, else the
    FlashFusion rule (safe margin measured from the file edge, so it includes the bleed)."""
    eighth = round(dpi / 8)
    if spec.bleed is not None:
        bleed, bleed_source = spec.bleed
    elif kind == "canvas" or fill_mode == "fit":
        bleed, bleed_source = 0, f"bleed 0: {FF_DEFAULT} (the design sits inside the area)"
    else:
        bleed, bleed_source = eighth, f"bleed 1/8 in: {FF_DEFAULT}"
    if spec.safe_margin is not None:
        safe, safe_source = spec.safe_margin
    elif kind == "canvas":
        safe = round(dpi * 1.5)
        safe_source = (
            f"safe margin 1.5 in: {FF_DEFAULT} (keeps key art off the gallery wrap; Printful canvas "
            "print files include the wrap, platform-apis.md §10, but its depth is not stated)"
        )
    elif kind == "framed":
        safe = bleed + round(dpi / 4)
        safe_source = f"safe margin bleed + 1/4 in: {FF_DEFAULT} (frame lip)"
    else:
        safe = bleed + eighth
        safe_source = f"safe margin bleed + 1/8 in: {FF_DEFAULT}"
    return safe, bleed, f"{safe_source}; {bleed_source}"


def placement_for(spec: AreaSpec, category: Category, fill_mode: FillMode) -> Placement:
    if spec.placement is not None:
        return spec.placement
    if fill_mode == "cover":
        return "full_bleed"
    if category == "apparel" and spec.key in ("front", "back"):
        return "top_center"
    return "center"


def common_print_file(product: dict[str, Any], placement: str) -> int:
    """The print file every variant of the product uses for `placement` (apparel, cases)."""
    ids = {
        v["placements"][placement]
        for v in product["variant_printfiles"]
        if placement in v["placements"]
    }
    if len(ids) != 1 or not all(
        placement in v["placements"] for v in product["variant_printfiles"]
    ):
        raise SystemExit(
            f"product {product['product_id']}: placement {placement!r} does not use one print file "
            "for every variant; list the variants explicitly"
        )
    return ids.pop()


def print_file(product: dict[str, Any], fid: int) -> dict[str, Any]:
    pid = product["product_id"]
    raw = next((f for f in product["printfiles"] if f["printfile_id"] == fid), None)
    if raw is None:
        raise SystemExit(f"product {pid}: print file {fid} is not in the data")
    return {
        "width_px": raw["width"],
        "height_px": raw["height"],
        "dpi": raw["dpi"],
        "fill_mode": raw["fill_mode"],
        "can_rotate": raw["can_rotate"],
        "source": PF.format(pid=pid, fid=fid),
        "printfile_id": fid,
    }


def variant_placements(product: dict[str, Any], variant_id: int) -> dict[str, int]:
    for v in product["variant_printfiles"]:
        if v["variant_id"] == variant_id:
            return dict(v["placements"])
    raise SystemExit(f"product {product['product_id']}: variant {variant_id} is not in the data")


def money(amount: int | None) -> dict[str, Any] | None:
    return None if amount is None else {"amount": amount, "currency": "USD"}


def offer(spec: TypeSpec, variant_id: int | None, id_source: str | None) -> dict[str, Any]:
    shipping = spec.shipping
    parts = ["base cost: unverified (no published Printful price found in the sources)"]
    if shipping is not None:
        parts.append(f"shipping: {shipping.source}")
    else:
        parts.append("shipping: unverified")
    return {
        "provider": "printful",
        "product_id": str(spec.printful_id),
        "variant_id": None if variant_id is None else str(variant_id),
        "base_cost": None,
        "shipping_first": money(shipping.first if shipping else None),
        "shipping_additional": money(shipping.additional if shipping else None),
        "verified": False,
        "source": "; ".join(parts),
        "variant_id_source": id_source,
    }


def build_type(spec: TypeSpec, products: dict[str, Any]) -> dict[str, Any]:
    product = products.get(str(spec.printful_id))
    if product is None:
        raise SystemExit(f"{spec.key}: Printful product {spec.printful_id} is not in the data")
    placements = product["available_placements"]
    for area in spec.areas:
        if area.key not in placements:
            raise SystemExit(
                f"{spec.key}: placement {area.key!r} not offered by product {spec.printful_id}"
            )

    variants: list[dict[str, Any]] = []
    if spec.variants_from_data:
        for vid in spec.variants_from_data:
            mapped = variant_placements(product, vid)
            files = {
                a.key: print_file(product, mapped[a.key]) for a in spec.areas if a.key in mapped
            }
            main = files[spec.areas[0].key]
            label, label_source = spec.size_labels.get(
                vid,
                (
                    size_label(main["width_px"], main["height_px"], main["dpi"]) + spec.size_suffix,
                    "derived from the print file (px ÷ dpi); variant id → size mapping read off "
                    "the print-file data, not a named size",
                ),
            )
            colour, hex_, colour_source = spec.colour or (None, None, "")
            iso = re.search(r"\((A\d)\)", label)
            key = slug(
                iso.group(1)
                if iso
                else label.replace("×", "x").replace(" in", "").replace(".", "-")
            )
            if spec.size_suffix and vid not in spec.size_labels:
                key = f"pf-{vid}"
            if colour:
                key = f"{slug(colour)}-{key}"
            id_source = f"printful-printfiles.json product {spec.printful_id} lists variant {vid}"
            if vid in spec.size_labels:
                id_source = spec.size_labels[vid][1]
            elif colour:
                id_source += "; colour inferred (see variant source)"
            variants.append(
                {
                    "key": key,
                    "size": label,
                    "colour": colour,
                    "colour_hex": hex_,
                    "print_files": files,
                    "offers": [offer(spec, vid, id_source)],
                    "source": "; ".join(p for p in (f"size: {label_source}", colour_source) if p),
                }
            )
    else:
        for v in spec.variants:
            if v.printful_variant_id is not None and any(
                x["variant_id"] == v.printful_variant_id for x in product["variant_printfiles"]
            ):
                mapped = variant_placements(product, v.printful_variant_id)
            else:
                mapped = {a.key: common_print_file(product, a.key) for a in spec.areas}
            files = {a.key: print_file(product, mapped[a.key]) for a in spec.areas}
            variants.append(
                {
                    "key": v.key,
                    "size": v.size,
                    "colour": v.colour,
                    "colour_hex": v.colour_hex,
                    "print_files": files,
                    "offers": [offer(spec, v.printful_variant_id, v.variant_id_source)],
                    "source": v.source,
                }
            )

    areas = []
    for a in spec.areas:
        first = next(v["print_files"][a.key] for v in variants if a.key in v["print_files"])
        dpis = {v["print_files"][a.key]["dpi"] for v in variants if a.key in v["print_files"]}
        if len(dpis) != 1:
            raise SystemExit(f"{spec.key}.{a.key}: print files differ in DPI {sorted(dpis)}")
        safe, bleed, source = margins(a, spec.kind, first["fill_mode"], first["dpi"])
        areas.append(
            {
                "key": a.key,
                "name": placements[a.key],
                "placement": placement_for(a, spec.category, first["fill_mode"]),
                "safe_margin_px": safe,
                "bleed_px": bleed,
                "required": a.required,
                "source": f"{source}; name: Printful available_placements for product {spec.printful_id}",
            }
        )

    m = spec.mappings
    platform_source = "; ".join(
        [
            ETSY_UNVERIFIED,
            SHOPIFY,
            m.amazon_source or "amazon product type: unverified",
            f"google {m.google} '{m.google_path}': {GOOGLE}"
            if m.google
            else "google category: unverified",
        ]
    )
    sources = sorted(
        {
            f"printful-printfiles.json product {spec.printful_id} (fetched {FETCHED})",
            f"Printful product {spec.printful_id} = '{spec.note}': {NAMES}",
            spec.nice_source,
            UPLOAD_LIMIT_SOURCE,
        }
    )
    return {
        "key": spec.key,
        "name": spec.name,
        "category": spec.category,
        "description": f"{spec.name}. Printful product {spec.printful_id}: {spec.note}.",
        "mockup": spec.mockup,
        "nice_classes": spec.nice,
        "nice_source": spec.nice_source,
        "print_areas": areas,
        "variants": variants,
        "platforms": {
            "etsy_taxonomy_id": None,
            "shopify_product_type": m.shopify,
            "amazon_product_type": m.amazon,
            "google_product_category": m.google,
            "source": platform_source,
        },
        "upload_limit_bytes": {"printful": PRINTFUL_UPLOAD_LIMIT},
        "sources": sources,
    }


def build(printfiles: Path) -> dict[str, Any]:
    """The catalog document, validated against the schema."""
    data = json.loads(printfiles.read_text())
    products = data["products"]
    document = {
        "version": VERSION,
        "product_types": {s.key: build_type(s, products) for s in TYPES},
    }
    problems = check_catalog(Catalog.model_validate(document))
    if problems:
        raise SystemExit("; ".join(f"{where}: {what}" for where, what in problems))
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build data/catalog.json from Printful data.")
    parser.add_argument("printfiles", type=Path, help="path to printful-printfiles.json")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if not args.printfiles.is_file():
        sys.stderr.write(
            f"printfiles: {args.printfiles} not found; pass the path to printful-printfiles.json\n"
        )
        return 2
    document = build(args.printfiles)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n")
    size = math.ceil(args.out.stat().st_size / 1024)
    sys.stdout.write(
        f"wrote {args.out} ({len(document['product_types'])} product types, {size} KiB)\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

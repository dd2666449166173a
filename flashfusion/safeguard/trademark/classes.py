"""Which Nice classes a product type falls in, and what those classes are called.

A trademark registered for clothing (class 25) matters for a shirt; one registered for mugs
(class 21) matters for a mug. The classes of a product type come from the catalog: each type
states its own `nice_classes` (with `nice_source`); a type that states none (a provider type merged
in by a refresh) falls back to the classes of its catalog category. An unknown product type has no
classes, which the matcher reads as "every class counts".

The class headings are those of WIPO's Nice Classification; each row names the page it was read
from. Where only a secondary summary was found, `wipo_verified` is False.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from flashfusion.catalog.registry import UnknownProductType, get_catalog, resolve_key
from flashfusion.catalog.schemas import Catalog

__all__ = [
    "CATEGORY_CLASSES",
    "CLASS_HEADINGS",
    "ClassHeading",
    "class_label",
    "describe_classes",
    "nice_classes_for",
]


@dataclass(frozen=True)
class ClassHeading:
    number: int
    label: str  # a short plain name for messages ("clothing")
    heading: str  # the class heading, abridged where it is long
    source: str
    wipo_verified: bool


_NCL = "https://nclpub.wipo.int/enfr"
CLASS_HEADINGS: dict[int, ClassHeading] = {
    h.number: h
    for h in (
        ClassHeading(
            9,
            "electronic apparatus and accessories",
            "Scientific, nautical, surveying, photographic, cinematographic, optical, weighing, "
            "measuring, signalling, checking, life-saving and teaching apparatus and instruments; "
            "… data processing equipment, computers; computer software (abridged, 10th edition)",
            "http://www.en.mktu.info/goods/9/",
            False,
        ),
        ClassHeading(
            16,
            "paper goods, printed matter and stationery",
            "Paper and cardboard; printed matter; bookbinding material; photographs; stationery "
            "and office requisites, except furniture; … drawing materials and materials for "
            "artists (abridged)",
            f"{_NCL}/20130101/information_files/class/16/?lang=fr",
            True,
        ),
        ClassHeading(
            18,
            "bags and leather goods",
            "Leather and imitations of leather; animal skins and hides; luggage and carrying bags; "
            "umbrellas and parasols; walking sticks; whips, harness and saddlery; collars, leashes "
            "and clothing for animals",
            "https://kaagzaat.org/trademark-class-18-in-india-leather-goods-travel-accessories",
            False,
        ),
        ClassHeading(
            20,
            "furniture, cushions and frames",
            "Furniture, mirrors, picture frames; containers, not of metal, for storage or "
            "transport; … (abridged)",
            "https://tmexpress.com/trademark-class-20/amp",
            False,
        ),
        ClassHeading(
            21,
            "housewares and drinkware",
            "Household or kitchen utensils and containers; cookware and tableware, except forks, "
            "knives and spoons; combs and sponges; brushes, except paintbrushes; brush-making "
            "materials; articles for cleaning purposes; unworked or semi-worked glass, except "
            "building glass; glassware, porcelain and earthenware",
            f"{_NCL}/?class_number=21&gors=&lang=en&menulang=en&mode=flat&notion=modifications"
            "&version=20180101",
            True,
        ),
        ClassHeading(
            24,
            "textiles and household linen",
            "Textiles and substitutes for textiles; household linen; curtains of textile or "
            "plastic",
            "https://www.wipo.int/classifications/nice/nclpub/en/fr/20190101/information_files"
            "/class/24/?lang=en",
            True,
        ),
        ClassHeading(
            25,
            "clothing",
            "Clothing, footwear, headwear",
            f"{_NCL}/20140101/information_files/class/25/?lang=en",
            True,
        ),
        ClassHeading(
            28,
            "games, toys and sporting goods",
            "Games, toys and playthings; … gymnastic and sporting articles; decorations for "
            "Christmas trees (abridged)",
            "https://www.professionalutilities.com/trademark-registration-class-28.php",
            False,
        ),
    )
}

# FlashFusion's fallback: the classes a catalog category's goods fall in (the union of the
# classes its product types state in catalog.json; `test_classes` keeps the two in step).
CATEGORY_CLASSES: dict[str, frozenset[int]] = {
    "apparel": frozenset({25}),
    "drinkware": frozenset({21}),
    "wall_art": frozenset({16}),
    "stickers": frozenset({16}),
    "phone_cases": frozenset({9}),
    "bags": frozenset({18}),
    "home": frozenset({20, 24, 28}),
    "stationery": frozenset({16}),
    "accessories": frozenset({9, 25}),
}


def nice_classes_for(
    product_type: str | None, *, catalog: Catalog | None = None, strict: bool = False
) -> frozenset[int]:
    """The Nice classes that matter for a product type key or alias (`tshirt`, `mug`).

    None, an empty key, or an unknown key give the empty set ("every class counts"); with
    `strict=True` an unknown key raises `UnknownProductType` (its message suggests keys)."""
    if product_type is None or not product_type.strip():
        return frozenset()
    catalog = catalog or get_catalog()
    try:
        key = resolve_key(catalog, product_type)
    except UnknownProductType:
        if strict:
            raise
        return frozenset()
    entry = catalog.product_types[key]
    if entry.nice_classes:
        return frozenset(entry.nice_classes)
    return CATEGORY_CLASSES.get(entry.category, frozenset())


def class_label(number: int) -> str:
    """`"clothing (class 25)"`; a class without a heading here is just `"class 7"`."""
    heading = CLASS_HEADINGS.get(number)
    return f"{heading.label} (class {number})" if heading else f"class {number}"


def describe_classes(numbers: Iterable[int]) -> str:
    """Classes for a message: `"clothing (class 25) and bags and leather goods (class 18)"`."""
    labels = [class_label(n) for n in sorted(set(numbers))]
    if not labels:
        return "no stated class"
    if len(labels) == 1:
        return labels[0]
    return ", ".join(labels[:-1]) + " and " + labels[-1]

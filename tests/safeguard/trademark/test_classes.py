"""Product type → Nice classes, and the class headings used in messages."""

import pytest

from flashfusion.catalog.registry import UnknownProductType, get_catalog
from flashfusion.safeguard.trademark.classes import (
    CATEGORY_CLASSES,
    CLASS_HEADINGS,
    class_label,
    describe_classes,
    nice_classes_for,
)


@pytest.mark.parametrize(
    ("product_type", "classes"),
    [
        ("tshirt", {25}),
        ("hoodie", {25}),
        ("hat", {25}),
        ("mug-11oz", {21}),
        ("mug", {21}),  # an alias
        ("T-Shirt", {25}),  # keys are normalised like the catalog does
        ("poster", {16}),
        ("sticker-kiss-cut", {16}),
        ("phone-case", {9}),
        ("tote", {18}),
        ("pillow", {20, 24}),
        ("blanket", {24}),
        ("jigsaw-puzzle", {28}),
    ],
)
def test_classes_of_a_product_type(product_type: str, classes: set[int]) -> None:
    assert nice_classes_for(product_type) == frozenset(classes)


@pytest.mark.parametrize("product_type", [None, "", "   ", "spaceship"])
def test_unknown_or_missing_product_type_means_every_class(product_type: str | None) -> None:
    assert nice_classes_for(product_type) == frozenset()


def test_strict_lookup_names_the_unknown_type() -> None:
    with pytest.raises(UnknownProductType, match="unknown product type 'tshrt'; did you mean"):
        nice_classes_for("tshrt", strict=True)


def test_every_catalog_type_has_classes_within_its_category() -> None:
    catalog = get_catalog()
    assert set(CATEGORY_CLASSES) == {t.category for t in catalog.product_types.values()}
    for key, product_type in catalog.product_types.items():
        assert product_type.nice_classes, key
        assert set(product_type.nice_classes) <= CATEGORY_CLASSES[product_type.category], key


def test_a_type_without_classes_falls_back_to_its_category() -> None:
    catalog = get_catalog()
    tote = catalog.product_types["tote"].model_copy(update={"nice_classes": []})
    changed = catalog.model_copy(update={"product_types": {**catalog.product_types, "tote": tote}})
    assert nice_classes_for("tote", catalog=changed) == frozenset({18})


def test_class_labels() -> None:
    assert class_label(25) == "clothing (class 25)"
    assert class_label(21) == "housewares and drinkware (class 21)"
    assert class_label(7) == "class 7"
    assert describe_classes([25]) == "clothing (class 25)"
    assert describe_classes([25, 18, 25]) == (
        "bags and leather goods (class 18) and clothing (class 25)"
    )
    assert describe_classes([9, 16, 41]) == (
        "electronic apparatus and accessories (class 9), paper goods, printed matter and "
        "stationery (class 16) and class 41"
    )
    assert describe_classes([]) == "no stated class"


def test_headings_cover_the_print_on_demand_classes_with_sources() -> None:
    assert set(CLASS_HEADINGS) == {9, 16, 18, 20, 21, 24, 25, 28}
    for number, heading in CLASS_HEADINGS.items():
        assert heading.number == number
        assert heading.source.startswith(("https://", "http://"))
        assert heading.label
        assert heading.heading
    assert CLASS_HEADINGS[25].heading == "Clothing, footwear, headwear"
    assert CLASS_HEADINGS[25].wipo_verified is True
    assert CLASS_HEADINGS[9].wipo_verified is False

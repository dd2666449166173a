"""The bundled catalog: schema, integrity, coverage, sources, lookup by key and alias."""

import json
from pathlib import Path
from typing import get_args

import pytest

from flashfusion.catalog import registry
from flashfusion.catalog.registry import (
    ALIASES,
    MOCKUP_KEYS,
    CatalogDataError,
    UnknownProductType,
    check_catalog,
    get_catalog,
    get_product_type,
    list_product_types,
    load_catalog,
    resolve_key,
)
from flashfusion.catalog.schemas import Catalog, Category, ProductType

CATALOG = get_catalog()
TYPES = list(CATALOG.product_types.values())


def test_bundled_catalog_is_versioned_validated_and_cached() -> None:
    assert CATALOG.version == "2026.12.1"
    assert get_catalog() is CATALOG
    assert load_catalog() == CATALOG
    assert check_catalog(CATALOG) == []


def test_at_least_31_types_covering_every_category() -> None:
    assert len(TYPES) == 38
    assert {t.category for t in TYPES} == set(get_args(Category))


@pytest.mark.parametrize("product_type", TYPES, ids=lambda t: t.key)
def test_every_type_validates_and_round_trips(product_type: ProductType) -> None:
    assert ProductType.model_validate(product_type.model_dump()) == product_type
    assert product_type.mockup in MOCKUP_KEYS
    assert product_type.variants
    assert product_type.upload_limit_bytes == {"printful": 50_000_000}


def test_stable_keys_named_in_the_issue_exist_with_their_mockups() -> None:
    expected = {
        "tshirt": "shirt", "hoodie": "hoodie", "sweatshirt": "sweatshirt", "tank-top": "tank",
        "long-sleeve": "long_sleeve", "kids-tee": "shirt", "mug-11oz": "mug", "mug-15oz": "mug",
        "tumbler-20oz": "tumbler", "poster": "poster", "canvas": "canvas",
        "framed-poster": "framed_poster", "sticker-kiss-cut": "sticker",
        "phone-case": "phone_case", "tote": "tote", "pillow": "pillow", "blanket": "blanket",
    }  # fmt: skip
    assert {k: CATALOG.product_types[k].mockup for k in expected} == expected


@pytest.mark.parametrize("product_type", TYPES, ids=lambda t: t.key)
def test_every_variant_has_a_print_file_for_every_required_area(
    product_type: ProductType,
) -> None:
    required = {a.key for a in product_type.print_areas if a.required}
    assert required, "each type needs at least one required area"
    area_keys = {a.key for a in product_type.print_areas}
    for variant in product_type.variants:
        assert required <= set(variant.print_files), variant.key
        assert set(variant.print_files) <= area_keys, variant.key


@pytest.mark.parametrize("product_type", TYPES, ids=lambda t: t.key)
def test_every_figure_carries_its_source(product_type: ProductType) -> None:
    for variant in product_type.variants:
        assert variant.source, variant.key
        assert variant.source != "unverified", variant.key
        for offer in variant.offers:
            for pf in variant.print_files.values():
                assert pf.source == (
                    f"printful-printfiles.json product {offer.product_id} printfile "
                    f"{pf.printfile_id} (fetched 2025-10-11)"
                )
            # No price was found in any source: every base cost is empty and says so.
            assert offer.base_cost is None
            assert offer.verified is False
            assert "base cost: unverified" in offer.source
            assert offer.variant_id_source
            if offer.variant_id is None:
                assert offer.variant_id_source.startswith("unverified"), variant.key
    for area in product_type.print_areas:
        # Margins are either derived from sourced sizes or FlashFusion rules that say so.
        assert "flashfusion default, not a provider figure" in area.source or (
            "derived" in area.source
        ), area.key
    assert product_type.nice_source
    platforms = product_type.platforms
    assert "etsy taxonomy id: unverified" in platforms.source
    assert platforms.etsy_taxonomy_id is None
    if platforms.google_product_category is None:
        assert "google category: unverified" in platforms.source
    else:
        assert f"google {platforms.google_product_category} '" in platforms.source
    if platforms.amazon_product_type is None:
        assert "amazon product type: unverified" in platforms.source
    assert f"Printful product {product_type.variants[0].offers[0].product_id} = " in " ".join(
        product_type.sources
    )


def test_tshirt_figures() -> None:
    tshirt = get_product_type("tshirt")
    front = tshirt.print_area("front")
    assert front is not None
    assert (front.placement, front.required, front.safe_margin_px, front.bleed_px) == (
        "top_center",
        True,
        19,
        0,
    )
    assert [a.key for a in tshirt.print_areas] == ["front", "back", "sleeve_left", "sleeve_right"]
    assert len(tshirt.variants) == 25
    white_m = tshirt.variant("white-m")
    assert white_m is not None
    pf = white_m.print_files["front"]
    assert (pf.width_px, pf.height_px, pf.dpi, pf.fill_mode, pf.can_rotate, pf.printfile_id) == (
        1800,
        2400,
        150,
        "fit",
        False,
        1,
    )
    assert (pf.width_in, pf.height_in) == (12.0, 16.0)
    sleeve = white_m.print_files["sleeve_left"]
    assert (sleeve.width_px, sleeve.height_px, sleeve.printfile_id) == (600, 525, 130)
    offer = white_m.offers[0]
    assert (offer.provider, offer.product_id, offer.variant_id) == ("printful", "71", "4012")
    assert offer.shipping_first is not None
    assert (offer.shipping_first.amount, offer.shipping_first.currency) == (475, "USD")
    ids = {v.key: v.offers[0].variant_id for v in tshirt.variants if v.offers[0].variant_id}
    assert ids == {
        "white-s": "4011", "white-m": "4012", "white-l": "4013", "white-xl": "4014",
        "black-s": "4016", "black-m": "4017", "black-l": "4018", "black-xl": "4019",
        "asphalt-2xl": "4035", "athletic-heather-l": "6950",
    }  # fmt: skip
    black_s = tshirt.variant("black-s")
    assert black_s is not None
    assert black_s.offers[0].variant_id_source is not None
    assert black_s.offers[0].variant_id_source.startswith("inferred")
    asphalt = tshirt.variant("asphalt-m")
    assert asphalt is not None
    assert asphalt.colour_hex == "#52514f"
    assert (tshirt.nice_classes, tshirt.platforms.google_product_category) == ([25], 212)
    assert tshirt.platforms.amazon_product_type == "SHIRT"


def test_drinkware_wall_art_and_paper_figures() -> None:
    mug = get_product_type("mug-11oz")
    (white,) = mug.variants
    pf = white.print_files["default"]
    assert (pf.width_px, pf.height_px, pf.dpi, pf.fill_mode, pf.printfile_id) == (
        2700,
        1050,
        300,
        "fit",
        43,
    )
    assert (white.size, white.offers[0].variant_id) == ("11 oz", "1320")
    assert (mug.nice_classes, mug.platforms.google_product_category) == ([21], 2169)

    poster = get_product_type("poster")
    assert [v.key for v in poster.variants] == [
        "5x7", "8x10", "10x10", "11x14", "12x12", "12x16", "12x18", "14x14", "16x16", "16x20",
        "18x18", "18x24", "20x30", "24x36", "a2", "a1",
    ]  # fmt: skip
    big = poster.variant("18x24")
    assert big is not None
    pf = big.print_files["default"]
    assert (pf.width_px, pf.height_px, pf.fill_mode, pf.can_rotate) == (7200, 5400, "cover", True)
    assert big.offers[0].variant_id == "1"
    area = poster.print_areas[0]
    assert (area.placement, area.bleed_px, area.safe_margin_px) == ("full_bleed", 0, 38)

    postcard = get_product_type("postcard")
    area = postcard.print_areas[0]
    assert (area.bleed_px, area.safe_margin_px) == (20, 58)
    assert postcard.variants[0].size == "4×6 in"

    sticker = get_product_type("sticker-kiss-cut")
    assert [(v.key, v.size) for v in sticker.variants] == [
        ("3x3", "3×3 in"),
        ("4x4", "4×4 in"),
        ("5-5x5-5", "5.5×5.5 in"),
        ("3-75x15", "3.75×15 in"),
    ]
    canvas = get_product_type("canvas")
    assert canvas.print_areas[0].safe_margin_px == 450
    assert all("nominal canvas size unverified" in (v.size or "") for v in canvas.variants)


def test_aliases_resolve_and_all_point_at_real_types() -> None:
    assert get_product_type("mug").key == "mug-11oz"
    assert get_product_type("  TSHIRT ").key == "tshirt"
    assert get_product_type("t_shirt").key == "tshirt"
    assert get_product_type("Tank Top").key == "tank-top"
    assert resolve_key(CATALOG, "sticker") == "sticker-kiss-cut"
    assert set(ALIASES.values()) <= set(CATALOG.product_types)
    assert not set(ALIASES) & set(CATALOG.product_types)


def test_unknown_key_lists_close_matches() -> None:
    with pytest.raises(UnknownProductType) as caught:
        get_product_type("hodie")
    assert isinstance(caught.value, LookupError)
    assert caught.value.key == "hodie"
    assert caught.value.suggestions == ["hoodie"]
    assert str(caught.value) == "unknown product type 'hodie'; did you mean 'hoodie'?"

    with pytest.raises(UnknownProductType) as caught:
        get_product_type("mugg")
    assert caught.value.suggestions[0] == "mug-11oz"


def test_unknown_key_without_matches_says_where_to_look() -> None:
    with pytest.raises(UnknownProductType) as caught:
        get_product_type("zzzz")
    assert caught.value.suggestions == []
    assert "`GET /api/v1/catalog` or `flashfusion studio catalog`" in str(caught.value)


def test_list_product_types_by_category() -> None:
    assert [t.key for t in list_product_types(category="drinkware")] == [
        "mug-11oz", "mug-15oz", "mug-20oz", "tumbler-20oz", "water-bottle", "pint-glass",
    ]  # fmt: skip
    assert [t.key for t in list_product_types()] == list(CATALOG.product_types)


def _broken(**changes: object) -> Catalog:
    tshirt = CATALOG.product_types["tshirt"]
    return Catalog(version="t", product_types={"tshirt": tshirt.model_copy(update=changes)})


def test_integrity_rules_name_the_path() -> None:
    tshirt = CATALOG.product_types["tshirt"]
    first = tshirt.variants[0]
    no_front = first.model_copy(
        update={"print_files": {k: v for k, v in first.print_files.items() if k != "front"}}
    )
    stray = first.model_copy(
        update={
            "key": "stray",
            "print_files": {**first.print_files, "pocket": first.print_files["front"]},
        }
    )
    assert check_catalog(_broken(key="tee")) == [
        ("product_types.tshirt.key", "is 'tee', must equal 'tshirt'")
    ]
    assert check_catalog(_broken(mockup="robe")) == [
        ("product_types.tshirt.mockup", "'robe' is not a mockup key")
    ]
    assert check_catalog(_broken(variants=[])) == [
        ("product_types.tshirt.variants", "needs at least one variant")
    ]
    assert check_catalog(_broken(variants=[no_front])) == [
        (f"product_types.tshirt.variants.{first.key}.print_files", "no file for ['front']")
    ]
    assert check_catalog(_broken(variants=[stray])) == [
        ("product_types.tshirt.variants.stray.print_files", "unknown areas ['pocket']")
    ]
    assert check_catalog(_broken(variants=[first, first])) == [
        ("product_types.tshirt.variants", "variant keys repeat")
    ]
    assert check_catalog(_broken(variants=[first.model_copy(update={"offers": []})])) == [
        (f"product_types.tshirt.variants.{first.key}.offers", "needs at least one offer")
    ]
    wide = [
        a.model_copy(update={"safe_margin_px": 300}) if a.key == "sleeve_left" else a
        for a in tshirt.print_areas
    ]
    assert check_catalog(_broken(print_areas=wide)) == [
        (
            "product_types.tshirt.print_areas.sleeve_left.safe_margin_px",
            f"leaves no safe area in {first.key}'s 600×525 print file",
        )
    ]
    doubled = [*tshirt.print_areas, tshirt.print_areas[0]]
    assert ("product_types.tshirt.print_areas", "area keys repeat") in check_catalog(
        _broken(print_areas=doubled)
    )


def test_load_catalog_rejects_bad_files(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    with pytest.raises(CatalogDataError, match="bad.json is invalid"):
        load_catalog(bad_json)

    broken = tmp_path / "broken.json"
    broken.write_text(_broken(mockup="robe").model_dump_json())
    with pytest.raises(CatalogDataError, match=r"product_types\.tshirt\.mockup: 'robe' is not"):
        load_catalog(broken)

    with pytest.raises(CatalogDataError, match="missing.json is invalid"):
        load_catalog(tmp_path / "missing.json")


def test_catalog_json_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(registry.catalog_json(CATALOG))
    assert load_catalog(path) == CATALOG
    assert json.loads(path.read_text())["version"] == "2026.12.1"

"""Every print-file figure in the catalog against the raw Printful data, and the build script.

The raw data (`printful-printfiles.json`, real `GET /mockup-generator/printfiles` responses) lives
outside the project in `../shared/specs/printful/`; set FLASHFUSION_PRINTFUL_PRINTFILES to point
elsewhere. The tests that need it skip when it is absent; it is never copied into the project.
"""

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from flashfusion.catalog import build
from flashfusion.catalog.build import AreaSpec, Mappings, TypeSpec, VariantSpec, build_type
from flashfusion.catalog.registry import get_catalog

RAW_PATH = Path(
    os.environ.get(
        "FLASHFUSION_PRINTFUL_PRINTFILES",
        Path(__file__).resolve().parents[3] / "shared/specs/printful/printful-printfiles.json",
    )
)
SOURCE = re.compile(
    r"^printful-printfiles\.json product (\d+) printfile (\d+) \(fetched 2025-10-11\)$"
)
CATALOG = get_catalog()


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    if not RAW_PATH.is_file():
        pytest.skip(
            f"raw Printful data not found at {RAW_PATH}; set FLASHFUSION_PRINTFUL_PRINTFILES to "
            "the path of printful-printfiles.json to run the cross-check"
        )
    products: dict[str, Any] = json.loads(RAW_PATH.read_text())["products"]
    return products


def raw_file(raw: dict[str, Any], product_id: int, printfile_id: int) -> dict[str, Any]:
    return next(f for f in raw[str(product_id)]["printfiles"] if f["printfile_id"] == printfile_id)


def test_every_print_file_equals_the_raw_printful_data(raw: dict[str, Any]) -> None:
    checked = 0
    for product_type in CATALOG.product_types.values():
        for variant in product_type.variants:
            for area_key, pf in variant.print_files.items():
                match = SOURCE.match(pf.source)
                assert match, f"{product_type.key}.{variant.key}.{area_key}: {pf.source}"
                product_id, printfile_id = int(match[1]), int(match[2])
                assert pf.printfile_id == printfile_id
                assert area_key in raw[str(product_id)]["available_placements"]
                expected = raw_file(raw, product_id, printfile_id)
                assert (pf.width_px, pf.height_px, pf.dpi, pf.fill_mode, pf.can_rotate) == (
                    expected["width"],
                    expected["height"],
                    expected["dpi"],
                    expected["fill_mode"],
                    expected["can_rotate"],
                ), f"{product_type.key}.{variant.key}.{area_key}"
                checked += 1
    assert checked == 411


def test_variant_ids_use_the_print_files_printful_maps_them_to(raw: dict[str, Any]) -> None:
    checked = 0
    for product_type in CATALOG.product_types.values():
        for variant in product_type.variants:
            for offer in variant.offers:
                if offer.variant_id is None:
                    continue
                mapping = next(
                    v["placements"]
                    for v in raw[offer.product_id]["variant_printfiles"]
                    if str(v["variant_id"]) == offer.variant_id
                )
                for area_key, pf in variant.print_files.items():
                    assert mapping[area_key] == pf.printfile_id, f"{product_type.key}.{variant.key}"
                checked += 1
    assert checked == 76


@pytest.mark.parametrize(
    ("key", "variant", "area", "product_id", "printfile_id", "figures"),
    [
        ("tshirt", "white-m", "front", 71, 1, (1800, 2400, 150, "fit", False)),
        ("tshirt", "white-m", "sleeve_right", 71, 130, (600, 525, 150, "fit", False)),
        ("hoodie", "black-l", "front", 146, 139, (2100, 2100, 150, "fit", False)),
        ("hoodie", "black-l", "sleeve_left", 146, 147, (450, 1800, 150, "fit", False)),
        ("mug-11oz", "white", "default", 19, 43, (2700, 1050, 300, "fit", False)),
        ("mug-15oz", "white", "default", 19, 44, (2700, 1140, 300, "fit", False)),
        ("poster", "24x36", "default", 1, 39, (10800, 7200, 300, "cover", True)),
        ("canvas", "pf-19293", "default", 3, 495, (3900, 3300, 300, "cover", True)),
        ("sticker-kiss-cut", "3-75x15", "default", 358, 423, (4500, 1125, 300, "fit", False)),
        ("phone-case", "any-model", "default", 181, 56, (879, 1830, 300, "cover", False)),
        ("postcard", "4x6", "default", 433, 226, (1842, 1240, 300, "cover", True)),
        ("hat", "standard", "embroidery_front_large", 206, 75, (1650, 600, 300, "fit", False)),
    ],
)
def test_spot_checks_against_the_raw_data(
    raw: dict[str, Any],
    key: str,
    variant: str,
    area: str,
    product_id: int,
    printfile_id: int,
    figures: tuple[int, int, int, str, bool],
) -> None:
    expected = raw_file(raw, product_id, printfile_id)
    assert (
        expected["width"],
        expected["height"],
        expected["dpi"],
        expected["fill_mode"],
        expected["can_rotate"],
    ) == figures
    found = CATALOG.product_types[key].variant(variant)
    assert found is not None
    pf = found.print_files[area]
    assert (pf.width_px, pf.height_px, pf.dpi, pf.fill_mode, pf.can_rotate) == figures
    assert pf.printfile_id == printfile_id


def test_the_build_script_reproduces_the_bundled_catalog(raw: dict[str, Any]) -> None:
    bundled = json.loads(Path(build.DEFAULT_OUT).read_text())
    assert build.build(RAW_PATH) == bundled


def test_build_cli_writes_the_catalog(
    raw: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "catalog.json"
    assert build.main([str(RAW_PATH), "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == json.loads(Path(build.DEFAULT_OUT).read_text())
    assert capsys.readouterr().out.startswith(f"wrote {out} (38 product types, ")


def test_build_cli_without_the_data_says_what_to_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert build.main([str(tmp_path / "nope.json")]) == 2
    assert capsys.readouterr().err == (
        f"printfiles: {tmp_path / 'nope.json'} not found; pass the path to printful-printfiles.json\n"
    )


# --- build_type against a tiny hand-written product (no raw data needed) --------------------

FAKE = {
    "7": {
        "product_id": 7,
        "available_placements": {"front": "Front print", "back": "Back print"},
        "printfiles": [
            {
                "printfile_id": 1,
                "width": 1800,
                "height": 2400,
                "dpi": 150,
                "fill_mode": "fit",
                "can_rotate": False,
            },
            {
                "printfile_id": 2,
                "width": 1500,
                "height": 1800,
                "dpi": 150,
                "fill_mode": "fit",
                "can_rotate": False,
            },
        ],
        "variant_printfiles": [
            {"variant_id": 70, "placements": {"front": 1, "back": 1}},
            {"variant_id": 71, "placements": {"front": 2, "back": 1}},
        ],
    }
}


def spec(**changes: Any) -> TypeSpec:
    fields: dict[str, Any] = {
        "key": "fake",
        "name": "Fake",
        "category": "apparel",
        "mockup": "shirt",
        "printful_id": 7,
        "kind": "garment",
        "areas": [AreaSpec("front", required=True), AreaSpec("back")],
        "nice": [25],
        "nice_source": "test",
        "mappings": Mappings("Fake", None, None),
        "variants": [VariantSpec("white-m", "M", "White", "#ffffff", "test", 70, "test")],
    }
    return TypeSpec(**(fields | changes))


def test_build_type_copies_figures_and_derives_rules() -> None:
    built = build_type(spec(), FAKE)
    variant = built["variants"][0]
    assert variant["print_files"]["front"] == {
        "width_px": 1800, "height_px": 2400, "dpi": 150, "fill_mode": "fit", "can_rotate": False,
        "source": "printful-printfiles.json product 7 printfile 1 (fetched 2025-10-11)",
        "printfile_id": 1,
    }  # fmt: skip
    assert [
        (a["key"], a["placement"], a["safe_margin_px"], a["bleed_px"]) for a in built["print_areas"]
    ] == [
        ("front", "top_center", 19, 0),
        ("back", "top_center", 19, 0),
    ]
    assert variant["offers"][0]["variant_id"] == "70"
    assert built["platforms"]["google_product_category"] is None


def test_build_type_refuses_data_it_cannot_source() -> None:
    with pytest.raises(SystemExit, match="Printful product 8 is not in the data"):
        build_type(spec(printful_id=8), FAKE)
    with pytest.raises(SystemExit, match="placement 'sleeve_left' not offered by product 7"):
        build_type(spec(areas=[AreaSpec("sleeve_left")]), FAKE)
    # Without a variant id the print file must be the same for every variant of the product.
    unknown = [VariantSpec("black-m", "M", "Black", "#000000", "test")]
    with pytest.raises(SystemExit, match="placement 'front' does not use one print file"):
        build_type(spec(variants=unknown), FAKE)
    with pytest.raises(SystemExit, match="variant 99 is not in the data"):
        build_type(spec(variants=[], variants_from_data=[99]), FAKE)

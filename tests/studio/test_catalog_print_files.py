"""Every print file of every catalog product type renders at exactly its pixel size, as an RGBA
PNG whose pHYs chunk carries its DPI; and the render pipeline yields every default-area print
file of a product type once, with the variants that share it."""

import io
import struct
import zlib

import pytest
from PIL import Image

from flashfusion.catalog.registry import get_catalog
from flashfusion.catalog.schemas import PrintArea, PrintFile
from flashfusion.studio import pipeline
from flashfusion.studio.document import DesignDocument
from flashfusion.studio.printfile import render_print_file

# A small mark: the cost of these renders is the file size, not the drawing.
DESIGN = DesignDocument.model_validate(
    {
        "canvas": {"width": 1000, "height": 1000},
        "layers": [
            {
                "id": "mark",
                "type": "shape",
                "shape": "ellipse",
                "x": 500,
                "y": 500,
                "width": 400,
                "height": 400,
                "fill": {"colours": ["#e11d48"]},
            }
        ],
    }
)


def distinct_print_files() -> list[tuple[str, PrintArea, PrintFile]]:
    """(product type key, area, print file) for every distinct size/DPI/mode/placement."""
    seen: dict[tuple[object, ...], tuple[str, PrintArea, PrintFile]] = {}
    for product_type in get_catalog().product_types.values():
        for variant in product_type.variants:
            for area_key, pf in variant.print_files.items():
                area = product_type.print_area(area_key)
                assert area is not None, (product_type.key, variant.key, area_key)
                key = (
                    pf.width_px,
                    pf.height_px,
                    pf.dpi,
                    pf.fill_mode,
                    area.placement,
                    area.safe_margin_px,
                    area.bleed_px,
                )
                seen.setdefault(key, (product_type.key, area, pf))
    return list(seen.values())


def png_chunks(data: bytes) -> dict[bytes, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks: dict[bytes, bytes] = {}
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks.setdefault(kind, body)
        offset += 12 + length
        if kind == b"IEND":
            break
    return chunks


def test_the_catalog_has_what_the_issue_asks_for() -> None:
    catalog = get_catalog()
    assert len(catalog.product_types) >= 31
    assert {t.category for t in catalog.product_types.values()} == {
        "apparel",
        "drinkware",
        "wall_art",
        "stickers",
        "phone_cases",
        "bags",
        "home",
        "stationery",
        "accessories",
    }


# The largest print files (a 36 x 24 in poster is 116 megapixels) are over Pillow's default
# decompression-bomb warning size; these are our own files.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(
    ("product_type", "area", "print_file"),
    distinct_print_files(),
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_print_file_has_the_exact_size_and_dpi(
    product_type: str, area: PrintArea, print_file: PrintFile
) -> None:
    rendered = render_print_file(DESIGN, area, print_file)
    assert (rendered.width_px, rendered.height_px, rendered.dpi) == (
        print_file.width_px,
        print_file.height_px,
        print_file.dpi,
    )
    chunks = png_chunks(rendered.png)
    width, height, depth, colour_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (width, height) == (print_file.width_px, print_file.height_px)
    assert (depth, colour_type) == (8, 6)  # 8-bit RGBA: transparent where nothing prints
    x_ppm, y_ppm, unit = struct.unpack(">IIB", chunks[b"pHYs"])
    assert unit == 1  # metres
    # pHYs stores whole pixels per metre: the DPI read back is within one rounding step.
    assert x_ppm == y_ppm == round(print_file.dpi / 0.0254)
    image = Image.open(io.BytesIO(rendered.png))
    assert image.size == (print_file.width_px, print_file.height_px)
    assert image.info["dpi"][0] == pytest.approx(print_file.dpi, abs=0.02)


def test_pipeline_renders_each_distinct_default_print_file_once() -> None:
    catalog = get_catalog()
    for key in ("tshirt", "mug-11oz", "sticker-kiss-cut", "phone-case"):
        product_type = catalog.product_types[key]
        task = pipeline.Task(product_type=product_type, variant_keys=[])
        outputs = list(pipeline.run(DESIGN, [task], mockups=False))
        expected: dict[tuple[str, int, int, int], list[str]] = {}
        for variant in product_type.variants:
            for area_key in pipeline.default_area_keys(product_type):
                pf = variant.print_files[area_key]
                expected.setdefault((area_key, pf.width_px, pf.height_px, pf.dpi), []).append(
                    variant.key
                )
        got = {(o.area_key, o.width, o.height, o.dpi): o.variant_keys for o in outputs}
        assert got == expected, key
        assert len(outputs) == pipeline.step_count([task], mockups=False)

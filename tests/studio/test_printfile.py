"""Print files: exact pixel size and DPI, transparency, placement rules, deduplication, errors.

Product types are built by hand from Printful's print-file figures (platform-apis.md §10), not from
the catalog data, so these tests do not move when the catalog does.
"""

import io

import numpy as np
import pytest
from PIL import Image

from flashfusion.catalog.schemas import (
    PlatformMappings,
    PrintArea,
    PrintFile,
    ProductType,
    Variant,
)
from flashfusion.studio.document import (
    Canvas,
    DesignDocument,
    Fill,
    ShapeLayer,
    TextLayer,
    Texture,
)
from flashfusion.studio.printfile import (
    EmptyDesignError,
    Placement,
    PrintFileError,
    crop_document,
    plan_for_bbox,
    plan_placement,
    render_plan,
    render_print_file,
    render_print_image,
    render_product_print_files,
)
from flashfusion.studio.render import render

SOURCE = "platform-apis.md §10 (Printful GET /mockup-generator/printfiles)"


def pf(width: int, height: int, dpi: int, fill_mode: str = "fit") -> PrintFile:
    return PrintFile(width_px=width, height_px=height, dpi=dpi, fill_mode=fill_mode, source=SOURCE)


def area(
    key: str = "front",
    placement: str = "center",
    *,
    margin: int = 0,
    bleed: int = 0,
    required: bool = False,
) -> PrintArea:
    return PrintArea(
        key=key,
        name=key.replace("_", " ").title(),
        placement=placement,
        safe_margin_px=margin,
        bleed_px=bleed,
        required=required,
        source="test figure",
    )


def variant(key: str, files: dict[str, PrintFile]) -> Variant:
    return Variant(key=key, size=None, colour=None, colour_hex=None, print_files=files, offers=[])


def product(
    key: str,
    areas: list[PrintArea],
    variants: list[Variant],
    *,
    limits: dict[str, int] | None = None,
    category: str = "apparel",
) -> ProductType:
    return ProductType(
        key=key,
        name=key.title(),
        category=category,
        description="hand-built for tests",
        mockup="shirt",
        nice_classes=[25],
        nice_source="test",
        print_areas=areas,
        variants=variants,
        platforms=PlatformMappings(
            etsy_taxonomy_id=None,
            shopify_product_type=None,
            amazon_product_type=None,
            google_product_category=None,
            source="unverified",
        ),
        upload_limit_bytes=limits or {},
        sources=[SOURCE],
    )


# Printful figures (platform-apis.md §10).
TEE_FRONT = pf(1800, 2400, 150)
TEE_SLEEVE = pf(600, 525, 150)
MUG_11OZ = pf(2700, 1050, 300)
MUG_15OZ = pf(2700, 1140, 300)
POSTER_18X12 = pf(5400, 3600, 300, "cover")
STICKER_4IN = pf(1200, 1200, 300)


def rect_doc(
    *,
    width: int = 1000,
    height: int = 1000,
    x: float = 500,
    y: float = 500,
    w: float = 400,
    h: float = 200,
    background: str | None = None,
) -> DesignDocument:
    return DesignDocument(
        canvas=Canvas(width=width, height=height, background=background),
        layers=[
            ShapeLayer(
                id="box",
                x=x,
                y=y,
                shape="rectangle",
                width=w,
                height=h,
                fill=Fill(colours=["#ff6b35"]),
            )
        ],
    )


def text_doc(text: str = "HELLO") -> DesignDocument:
    return DesignDocument(
        canvas=Canvas(width=1000, height=1000),
        layers=[
            TextLayer(
                id="t",
                x=500,
                y=500,
                text=text,
                font="bebas-neue",
                size=200,
                fill=Fill(colours=["#223344"]),
            )
        ],
    )


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def alpha(image: Image.Image) -> np.ndarray:
    return np.asarray(image.getchannel("A"))


# --- exact size and DPI -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("print_area", "print_file"),
    [
        (area("front", "top_center", margin=30), TEE_FRONT),
        (area("default", "center", margin=60), MUG_11OZ),
        (area("default", "full_bleed", margin=150), POSTER_18X12),
        (area("default", "center", margin=36), STICKER_4IN),
    ],
    ids=[
        "tee-front-1800x2400@150",
        "mug-2700x1050@300",
        "poster-5400x3600@300",
        "sticker-1200@300",
    ],
)
def test_print_file_is_exact_size_rgba_png_with_dpi(
    print_area: PrintArea, print_file: PrintFile
) -> None:
    rendered = render_print_file(text_doc(), print_area, print_file)

    image = decode(rendered.png)
    assert image.format == "PNG"
    assert image.mode == "RGBA"
    assert image.size == (print_file.width_px, print_file.height_px)
    assert (rendered.width_px, rendered.height_px, rendered.dpi) == (
        print_file.width_px,
        print_file.height_px,
        print_file.dpi,
    )
    assert rendered.area_key == print_area.key
    # pHYs stores pixels per metre as an integer, so the DPI read back is within 0.02 %.
    dpi_x, dpi_y = image.info["dpi"]
    assert dpi_x == pytest.approx(print_file.dpi, rel=2e-4)
    assert dpi_y == pytest.approx(print_file.dpi, rel=2e-4)


def test_print_image_is_the_png_before_encoding() -> None:
    image, placement = render_print_image(text_doc(), area(margin=30), STICKER_4IN)
    rendered = render_print_file(text_doc(), area(margin=30), STICKER_4IN)

    assert placement == rendered.placement
    assert image.mode == "RGBA"
    assert image.tobytes() == decode(rendered.png).tobytes()


def test_fit_print_file_background_is_transparent() -> None:
    image = decode(render_print_file(text_doc(), area("front", margin=30), TEE_FRONT).png)
    a = alpha(image)
    assert [a[0, 0], a[0, -1], a[-1, 0], a[-1, -1]] == [0, 0, 0, 0]
    # Something is painted, and only inside the safe area.
    ys, xs = np.nonzero(a)
    assert len(xs) > 0
    assert (xs.min(), ys.min()) >= (30, 30)
    assert (xs.max(), ys.max()) <= (1800 - 31, 2400 - 31)


def test_cover_print_file_with_background_covers_every_pixel() -> None:
    doc = rect_doc(width=1500, height=1000, background="#102030")
    rendered = render_print_file(doc, area("default", "full_bleed", margin=150), POSTER_18X12)

    image = decode(rendered.png)
    a = alpha(image)
    assert int(a.min()) == 255
    assert image.getpixel((0, 0)) == (16, 32, 48, 255)
    assert image.getpixel((5399, 3599)) == (16, 32, 48, 255)
    # The canvas scaled to cover: 3.6 print px per canvas px, box == the whole file.
    assert rendered.placement == Placement(box=(0, 0, 5400, 3600), scale=3.6)


# --- placement rules (pure) -------------------------------------------------------------------


def test_center_scales_to_fit_the_safe_area_on_the_limiting_side_and_centres() -> None:
    plan = plan_for_bbox(
        Canvas(width=1000, height=1000), (100, 400, 500, 600), area(margin=30), TEE_FRONT
    )

    # Safe area 1740×2340; the 400×200 box is width-limited: 1740 / 400 = 4.35.
    assert plan.scale == pytest.approx(4.35)
    assert plan.box == (30, 765, 1770, 1635)
    assert plan.box[2] - plan.box[0] == 1740
    centre_x = (plan.box[0] + plan.box[2]) / 2
    centre_y = (plan.box[1] + plan.box[3]) / 2
    assert abs(centre_x - 900) <= 1
    assert abs(centre_y - 1200) <= 1
    assert plan.rule == "center"


def test_center_height_limited_fills_the_safe_height_exactly() -> None:
    plan = plan_for_bbox(
        Canvas(width=1000, height=1000), (0, 0, 100, 500), area(margin=60), MUG_11OZ
    )

    # Safe area 2580×930, the 100×500 box is height-limited: 930 / 500.
    assert plan.scale == pytest.approx(1.86)
    assert plan.box[1] == 60
    assert plan.box[3] == 1050 - 60
    assert abs((plan.box[0] + plan.box[2]) / 2 - 1350) <= 1


def test_top_center_puts_the_content_top_on_the_safe_margin() -> None:
    plan = plan_for_bbox(
        Canvas(width=1000, height=1000),
        (100, 400, 500, 600),
        area(placement="top_center", margin=30),
        TEE_FRONT,
    )

    assert plan.box == (30, 30, 1770, 900)
    assert plan.rule == "top_center"


def test_bleed_wider_than_the_margin_keeps_content_out_of_the_bleed() -> None:
    plan = plan_for_bbox(
        Canvas(width=1000, height=1000), (0, 0, 1000, 1000), area(margin=10, bleed=40), STICKER_4IN
    )

    assert plan.safe == (40, 40, 1160, 1160)
    assert plan.trim == (40, 40, 1160, 1160)
    assert plan.box == (40, 40, 1160, 1160)


def test_cover_full_canvas_design_is_full_bleed_cropped_centrally() -> None:
    # A 4500×5400 canvas on an 18×12 in landscape poster: scale 1.2, 1080 px cropped top and bottom.
    canvas = Canvas(width=4500, height=5400, background="#ffffff")
    plan = plan_for_bbox(
        canvas, (0, 0, 4500, 5400), area("default", "full_bleed", margin=150), POSTER_18X12
    )

    assert plan.rule == "full_bleed"
    assert plan.scale == pytest.approx(1.2)
    assert plan.origin == pytest.approx((0.0, -1440.0))
    assert plan.box == (0, -1440, 5400, 5040)
    assert plan.shrunk is False


def test_cover_motif_crossing_the_safe_area_shrinks_about_the_centre() -> None:
    canvas = Canvas(width=1500, height=1000)
    # A motif touching the canvas's left edge: at cover scale 3.6 it would start at x = 0.
    plan = plan_for_bbox(
        canvas, (0, 400, 300, 600), area("default", "center", margin=150), POSTER_18X12
    )

    assert plan.rule == "canvas"
    assert plan.shrunk is True
    # Shrunk about the file centre until the left edge sits on the safe margin (x = 150).
    assert plan.scale == pytest.approx(3.6 * 2550 / 2700)
    assert plan.box[0] == 150
    assert plan.safe[0] <= plan.box[0]
    assert plan.box[1] >= plan.safe[1]


def test_cover_motif_inside_the_safe_area_keeps_the_canvas_layout() -> None:
    plan = plan_for_bbox(
        Canvas(width=1500, height=1000),
        (500, 400, 1000, 600),
        area("default", margin=150),
        POSTER_18X12,
    )

    assert plan.rule == "canvas"
    assert plan.shrunk is False
    assert plan.scale == pytest.approx(3.6)
    assert plan.box == (1800, 1440, 3600, 2160)


def test_margin_leaving_no_safe_area_is_an_error_naming_the_field() -> None:
    with pytest.raises(PrintFileError) as caught:
        plan_for_bbox(Canvas(width=100, height=100), (0, 0, 50, 50), area(margin=300), TEE_SLEEVE)

    assert caught.value.field == "print_areas[front].safe_margin_px"
    assert "use a margin below 262 px" in caught.value.message


# --- placement of real renders ----------------------------------------------------------------


def test_plan_placement_uses_the_painted_box() -> None:
    # The rectangle paints x 300..700, y 400..600; content_bbox adds one probe px each side.
    placement = plan_placement(rect_doc(), area(placement="top_center", margin=30), TEE_FRONT)

    assert placement.box[1] == 30
    assert placement.box[0] == 30
    assert placement.box[2] == 1770
    assert placement.scale == pytest.approx(1740 / 402)


def test_rendered_top_center_starts_at_the_safe_margin() -> None:
    rendered = render_print_file(rect_doc(), area(placement="top_center", margin=30), TEE_FRONT)

    ys, xs = np.nonzero(alpha(decode(rendered.png)))
    scale = rendered.placement.scale
    # The painted rectangle starts one probe px (× scale) below the box top, within a pixel.
    assert abs(ys.min() - (30 + scale)) <= 1
    assert abs(xs.min() - (30 + scale)) <= 1
    assert abs(xs.max() + 1 - (1770 - scale)) <= 1


def test_rendered_center_is_centred_within_one_pixel() -> None:
    rendered = render_print_file(rect_doc(), area(margin=30), TEE_FRONT)

    ys, xs = np.nonzero(alpha(decode(rendered.png)))
    assert abs((xs.min() + xs.max() + 1) / 2 - 900) <= 1
    assert abs((ys.min() + ys.max() + 1) / 2 - 1200) <= 1


def test_print_file_is_the_vector_render_at_final_scale() -> None:
    """Rendering only the visible region (crop_document) gives the same pixels as rendering the
    whole canvas at the placement scale, textures included."""
    doc = DesignDocument(
        canvas=Canvas(width=1000, height=1000),
        layers=[
            TextLayer(
                id="t",
                x=450,
                y=520,
                text="WORN",
                font="league-spartan",
                size=220,
                fill=Fill(colours=["#000000"]),
                texture=Texture(kind="distress", strength=0.8, seed=3),
            )
        ],
    )
    print_area = area(margin=0)
    from flashfusion.studio.printfile import painted_bbox

    bbox = painted_bbox(doc)
    assert bbox is not None
    plan = plan_for_bbox(doc.canvas, bbox, print_area, STICKER_4IN)
    ours = alpha(render_plan(doc, plan)).astype(np.int16)

    whole = render(doc, scale=plan.scale).image
    ox, oy = plan.origin
    shifted = Image.new("RGBA", (1200, 1200))
    shifted.paste(whole, (round(ox), round(oy)))
    reference = alpha(shifted).astype(np.int16)
    # Rounding of the crop origin can move the layer by a pixel; compare at the best offset.
    best = min(
        float(np.abs(ours[1:-1, 1:-1] - reference[1 + dy : 1199 + dy, 1 + dx : 1199 + dx]).mean())
        for dx in (-1, 0, 1)
        for dy in (-1, 0, 1)
    )
    assert best < 1.0  # mean alpha difference under 1/255


def test_crop_document_keeps_texture_features_the_same_size() -> None:
    doc = DesignDocument(
        canvas=Canvas(width=4000, height=2000),
        layers=[
            TextLayer(
                id="t",
                x=1000,
                y=900,
                text="A",
                font="bebas-neue",
                size=100,
                fill=Fill(colours=["#000000"]),
                texture=Texture(kind="grunge", scale=1.5),
            )
        ],
    )
    cropped = crop_document(doc, (800, 700, 1800, 1200))

    assert (cropped.canvas.width, cropped.canvas.height) == (1000, 500)
    layer = cropped.layers[0]
    assert (layer.x, layer.y) == (200, 200)
    assert layer.texture is not None
    # The renderer's texture unit is the canvas's longer side / 1000: 4000 → 1000.
    assert layer.texture.scale == pytest.approx(6.0)
    assert doc.layers[0].x == 1000  # the original is untouched


# --- deduplication ----------------------------------------------------------------------------


def test_product_print_files_are_rendered_once_per_distinct_size() -> None:
    mug = product(
        "mug",
        [area("default", margin=60)],
        [
            variant("11oz-white", {"default": MUG_11OZ}),
            variant("11oz-black", {"default": MUG_11OZ}),
            variant("15oz-white", {"default": MUG_15OZ}),
        ],
        category="drinkware",
    )

    out = render_product_print_files(text_doc(), mug)

    assert [(r.area_key, r.width_px, r.height_px, r.dpi, keys) for r, keys in out] == [
        ("default", 2700, 1050, 300, ["11oz-white", "11oz-black"]),
        ("default", 2700, 1140, 300, ["15oz-white"]),
    ]
    assert [decode(r.png).size for r, _ in out] == [(2700, 1050), (2700, 1140)]


def test_product_print_files_filter_areas_and_variants() -> None:
    tee = product(
        "tshirt",
        [area("front", "top_center", margin=30), area("sleeve_left", margin=15)],
        [
            variant("white-m", {"front": TEE_FRONT, "sleeve_left": TEE_SLEEVE}),
            variant("white-l", {"front": TEE_FRONT, "sleeve_left": TEE_SLEEVE}),
            variant("black-m", {"front": TEE_FRONT}),
        ],
    )

    everything = render_product_print_files(text_doc(), tee)
    assert [(r.area_key, keys) for r, keys in everything] == [
        ("front", ["white-m", "white-l", "black-m"]),
        ("sleeve_left", ["white-m", "white-l"]),
    ]
    some = render_product_print_files(
        text_doc(), tee, variant_keys=["black-m", "white-l"], area_keys=["front"]
    )
    assert [(r.area_key, keys) for r, keys in some] == [("front", ["white-l", "black-m"])]
    # An area no selected variant prints is skipped when not asked for by name.
    only_black = render_product_print_files(text_doc(), tee, variant_keys=["black-m"])
    assert [r.area_key for r, _ in only_black] == ["front"]


# --- bad input --------------------------------------------------------------------------------


TEE = product(
    "tshirt",
    [area("front", "top_center", margin=30), area("back", margin=30)],
    [variant("white-m", {"front": TEE_FRONT}), variant("white-l", {"front": TEE_FRONT})],
)


def test_unknown_area_key_names_the_field_and_close_matches() -> None:
    with pytest.raises(PrintFileError) as caught:
        render_product_print_files(text_doc(), TEE, area_keys=["frnt"])

    assert caught.value.field == "area_keys"
    assert caught.value.message == (
        "product type 'tshirt' has no print area 'frnt'; did you mean 'front'? valid keys: front, back"
    )


def test_unknown_variant_key_names_the_field() -> None:
    with pytest.raises(PrintFileError) as caught:
        render_product_print_files(text_doc(), TEE, variant_keys=["white-xl"])

    assert caught.value.field == "variant_keys"
    assert "has no variant 'white-xl'" in caught.value.message
    assert "valid keys: white-m, white-l" in caught.value.message


def test_empty_variant_selection_is_an_error() -> None:
    with pytest.raises(PrintFileError) as caught:
        render_product_print_files(text_doc(), TEE, variant_keys=[])

    assert caught.value.field == "variant_keys"


def test_area_asked_for_but_printed_by_no_selected_variant_is_an_error() -> None:
    with pytest.raises(PrintFileError) as caught:
        render_product_print_files(text_doc(), TEE, area_keys=["back"])

    assert caught.value.field == "area_keys"
    assert "none of the selected variants of 'tshirt' prints 'back'" in caught.value.message


def test_empty_design_cannot_be_rendered() -> None:
    doc = text_doc().model_copy(
        update={"layers": [text_doc().layers[0].model_copy(update={"visible": False})]}
    )

    with pytest.raises(EmptyDesignError) as caught:
        render_print_file(doc, area(), TEE_FRONT)
    assert caught.value.field == "layers"
    with pytest.raises(EmptyDesignError):
        plan_placement(doc, area(), TEE_FRONT)
    with pytest.raises(EmptyDesignError):
        render_product_print_files(doc, TEE)

"""Validation rules: each with a failing and a passing case, and each fix making its issue go away.

Designs use a 1000×1000 canvas. On the tee front (1800×2400 @150, no margin) a design whose painted
box is the whole canvas is placed at 1.8 print px per canvas px; `frame` (a thick square outline
around the canvas) pins the placement so other layers can change without moving it.
"""

from collections.abc import Callable

import pytest
from PIL import Image

from flashfusion.studio.document import (
    Canvas,
    DesignDocument,
    Fill,
    Glow,
    ImageLayer,
    Outline,
    Shadow,
    ShapeLayer,
    TextLayer,
)
from flashfusion.studio.printfile import PrintFileError, render_product_print_files
from flashfusion.studio.validation import (
    EMPTY_DESIGN,
    ENLARGE_TEXT,
    HARDEN_ALPHA,
    IMAGE_TOO_SMALL,
    LOW_DPI,
    MISSING_REQUIRED_AREA,
    MOVE_INSIDE_SAFE_AREA,
    OUTSIDE_SAFE_AREA,
    OVER_UPLOAD_LIMIT,
    SEMI_TRANSPARENT_PIXELS,
    SHRINK_IMAGE_TO_DPI,
    SMALL_TEXT,
    THICKEN_STROKES,
    THIN_STROKE,
    THRESHOLDS,
    Issue,
    apply_fix,
    validate,
    validate_rendered,
)
from tests.studio.test_printfile import (
    POSTER_18X12,
    TEE_FRONT,
    TEE_SLEEVE,
    area,
    pf,
    product,
    variant,
)

TEE = product(
    "tshirt",
    [area("front", margin=0)],
    [variant("white-m", {"front": TEE_FRONT})],
    limits={"printful": 50_000_000},
)
SLEEVE = product(
    "sleeve", [area("sleeve_left", margin=0)], [variant("m", {"sleeve_left": TEE_SLEEVE})]
)
# Poster 18×12 in @300, cover; the margin and bleed are test figures (0.5 in and 0.12 in).
POSTER = product(
    "poster",
    [area("default", "full_bleed", margin=150, bleed=36)],
    [variant("18x12", {"default": POSTER_18X12})],
    category="wall_art",
)


def frame() -> ShapeLayer:
    return ShapeLayer(
        id="frame",
        x=500,
        y=500,
        shape="rectangle",
        width=1000,
        height=1000,
        outline=Outline(width=20, colour="#000000"),
    )


def text(**kw: object) -> TextLayer:
    fields: dict[str, object] = {
        "id": "t",
        "x": 500,
        "y": 500,
        "text": "HELLO",
        "font": "bebas-neue",
        "size": 200,
        "fill": Fill(colours=["#223344"]),
    }
    fields.update(kw)
    return TextLayer(**fields)  # type: ignore[arg-type]


def doc(
    *layers: TextLayer | ShapeLayer | ImageLayer,
    width: int = 1000,
    height: int = 1000,
    background: str | None = None,
) -> DesignDocument:
    return DesignDocument(
        canvas=Canvas(width=width, height=height, background=background), layers=list(layers)
    )


def loader(images: dict[str, Image.Image]) -> Callable[[str], Image.Image]:
    return lambda media_id: images[media_id]


def codes(issues: list[Issue], code: str) -> list[Issue]:
    return [i for i in issues if i.code == code]


def fixed(
    design: DesignDocument,
    issue: Issue,
    product_type: object,
    media: Callable[[str], Image.Image] | None = None,
) -> DesignDocument:
    """apply_fix, checking that it leaves the input alone."""
    before = design.model_dump()
    out = apply_fix(design, issue, product_type, media=media)  # type: ignore[arg-type]
    assert design.model_dump() == before
    assert out is not design
    return out


# --- empty design / required areas ------------------------------------------------------------


def test_empty_design_is_an_error_and_stops_further_checks() -> None:
    issues = validate(doc(text(visible=False)), TEE)

    assert [(i.code, i.severity, i.area_key, i.layer_id, i.fix) for i in issues] == [
        (EMPTY_DESIGN, "error", None, None, None)
    ]
    assert "Add a text, image or shape layer" in issues[0].message


def test_painted_design_is_not_empty() -> None:
    assert validate(doc(text()), TEE) == []


def test_required_area_left_out_of_area_keys_is_reported() -> None:
    tee = product(
        "tshirt",
        [area("front", required=True), area("back")],
        [variant("white-m", {"front": TEE_FRONT, "back": TEE_FRONT})],
    )

    issues = validate(doc(text()), tee, area_keys=["back"])

    assert [(i.code, i.severity, i.area_key, i.fix) for i in issues] == [
        (MISSING_REQUIRED_AREA, "error", "front", None)
    ]
    assert "add 'front' to the selected print areas" in issues[0].message
    assert validate(doc(text()), tee, area_keys=["front"]) == []
    assert validate(doc(text()), tee) == []


def test_unknown_keys_are_errors_naming_the_field() -> None:
    with pytest.raises(PrintFileError) as caught:
        validate(doc(text()), TEE, area_keys=["bak"])
    assert caught.value.field == "area_keys"
    with pytest.raises(PrintFileError) as caught:
        validate(doc(text()), TEE, variant_keys=["nope"])
    assert caught.value.field == "variant_keys"


# --- images -----------------------------------------------------------------------------------


def photo(size: int) -> Image.Image:
    return Image.new("RGBA", (size, size), (200, 100, 50, 255))


def image_layer(drawn: float = 500) -> ImageLayer:
    return ImageLayer(id="img", x=500, y=500, media_id="m1", width=drawn, height=drawn)


def test_image_too_small_says_how_many_pixels_to_upload() -> None:
    media = loader({"m1": photo(100)})

    issues = validate(doc(frame(), image_layer()), TEE, media=media)

    [issue] = codes(issues, IMAGE_TOO_SMALL)
    assert (issue.severity, issue.area_key, issue.layer_id, issue.fix) == (
        "error",
        "front",
        "img",
        None,
    )
    # 2 in at 150 DPI; drawn 500 canvas px at 1.8 print px each.
    assert "at least 300 px on its longer side; 900×900 px for its current size" in issue.message
    assert codes(issues, LOW_DPI) == []  # one issue per image: the bigger problem


def test_large_enough_image_is_not_too_small() -> None:
    issues = validate(doc(frame(), image_layer()), TEE, media=loader({"m1": photo(300)}))

    assert codes(issues, IMAGE_TOO_SMALL) == []


def test_low_dpi_warning_and_shrink_fix() -> None:
    # 600 source px drawn over 500 × 1.8 = 900 print px: 100 DPI where 150 is needed.
    media = loader({"m1": photo(600)})
    design = doc(frame(), image_layer())

    [issue] = codes(validate(design, TEE, media=media), LOW_DPI)

    assert (issue.severity, issue.area_key, issue.layer_id, issue.fix) == (
        "warning",
        "front",
        "img",
        SHRINK_IMAGE_TO_DPI,
    )
    assert issue.message.startswith(
        "Image 'img' prints at 100 DPI on the Front (1800×2400 px @ 150 DPI), below the 150 DPI"
    )
    after = fixed(design, issue, TEE, media)
    assert codes(validate(after, TEE, media=media), LOW_DPI) == []
    shrunk = after.layer("img")
    assert isinstance(shrunk, ImageLayer)
    # Printed at most 600 px: 600 / 1.8 = 333 canvas px, less the fix's margin.
    assert 300 < shrunk.width < 600 / 1.8
    assert shrunk.width == shrunk.height


def test_low_dpi_below_half_is_an_error() -> None:
    # 400 source px over 900 print px: 67 DPI, under half of 150.
    [issue] = codes(
        validate(doc(frame(), image_layer()), TEE, media=loader({"m1": photo(400)})), LOW_DPI
    )

    assert issue.severity == "error"


def test_sharp_enough_image_passes_dpi() -> None:
    assert (
        codes(
            validate(doc(frame(), image_layer()), TEE, media=loader({"m1": photo(1000)})), LOW_DPI
        )
        == []
    )


def test_low_dpi_has_no_fix_when_the_image_sets_the_design_size() -> None:
    # Alone, the image is scaled to fill the print area whatever its drawn size.
    [issue] = codes(validate(doc(image_layer()), TEE, media=loader({"m1": photo(600)})), LOW_DPI)

    assert issue.fix is None
    # 500 canvas px (plus content_bbox's probe px each side) fill the 1800 px width: 1793 px.
    assert "upload a larger image (1793×1793 px)" in issue.message
    with pytest.raises(PrintFileError) as caught:
        apply_fix(doc(image_layer()), issue, TEE, media=loader({"m1": photo(600)}))
    assert caught.value.field == "issue.fix"


def test_missing_media_is_an_error_naming_the_layer() -> None:
    with pytest.raises(ValueError, match="not in this workspace's media") as caught:
        validate(doc(frame(), image_layer()), TEE, media=loader({}))
    assert getattr(caught.value, "field", None) == "layers[1].media_id"


# --- safe area --------------------------------------------------------------------------------


def poster_doc(x: float) -> DesignDocument:
    # 1500×1000 canvas on the 5400×3600 poster: 3.6 print px per canvas px, full bleed.
    return doc(text(x=x, y=500, size=120), width=1500, height=1000, background="#fdf0d5")


def test_text_crossing_the_safe_margin_is_a_warning_and_moves_inside() -> None:
    # The word starts ~25 canvas px from the left edge: 90 print px, inside the trim (36) but
    # not the safe margin (150).
    design = poster_doc(x=150)
    [issue] = codes(validate(design, POSTER), OUTSIDE_SAFE_AREA)

    assert (issue.severity, issue.area_key, issue.layer_id, issue.fix) == (
        "warning",
        "default",
        "t",
        MOVE_INSIDE_SAFE_AREA,
    )
    assert "reaches into the safe margin" in issue.message
    after = fixed(design, issue, POSTER)
    assert codes(validate(after, POSTER), OUTSIDE_SAFE_AREA) == []
    moved = after.layer("t")
    assert isinstance(moved, TextLayer)
    assert moved.x > 150
    assert (moved.y, moved.size) == (500, 120)


def test_text_past_the_trim_line_is_an_error() -> None:
    [issue] = codes(validate(poster_doc(x=110), POSTER), OUTSIDE_SAFE_AREA)

    assert issue.severity == "error"
    assert "past the trim line" in issue.message


def test_text_too_wide_for_the_safe_area_is_shrunk_to_fit() -> None:
    design = doc(
        text(text="A VERY LONG LINE OF TEXT", size=300),
        width=1500,
        height=1000,
        background="#ffffff",
    )
    [issue] = codes(validate(design, POSTER), OUTSIDE_SAFE_AREA)

    after = fixed(design, issue, POSTER)
    assert codes(validate(after, POSTER), OUTSIDE_SAFE_AREA) == []
    smaller = after.layer("t")
    assert isinstance(smaller, TextLayer)
    assert smaller.size < 300


def test_centred_text_is_inside_the_safe_area() -> None:
    assert codes(validate(poster_doc(x=750), POSTER), OUTSIDE_SAFE_AREA) == []


def test_fit_placement_keeps_text_inside_the_safe_area() -> None:
    # On a `fit` area the design is scaled into the safe area, so even edge-to-edge text passes.
    design = doc(text(x=100, size=150))
    assert codes(validate(design, TEE), OUTSIDE_SAFE_AREA) == []


# --- thin strokes -----------------------------------------------------------------------------


def line(height: float) -> ShapeLayer:
    return ShapeLayer(
        id="rule",
        x=500,
        y=800,
        shape="line",
        width=800,
        height=height,
        fill=Fill(colours=["#000000"]),
    )


def test_thin_line_is_reported_and_thickened() -> None:
    # 1 canvas px × 1.8 = 1.8 print px at 150 DPI = 0.86 pt, under 1 pt.
    design = doc(frame(), line(1))
    [issue] = codes(validate(design, TEE), THIN_STROKE)

    assert (issue.severity, issue.area_key, issue.layer_id, issue.fix) == (
        "warning",
        "front",
        "rule",
        THICKEN_STROKES,
    )
    assert "0.30 mm thick" in issue.message
    assert "under 1 pt (2.1 px at 150 DPI)" in issue.message
    after = fixed(design, issue, TEE)
    assert codes(validate(after, TEE), THIN_STROKE) == []
    thick = after.layer("rule")
    assert isinstance(thick, ShapeLayer)
    assert thick.height > 1
    assert thick.width == 800


def test_thick_line_passes() -> None:
    assert codes(validate(doc(frame(), line(4)), TEE), THIN_STROKE) == []


def test_thin_text_outline_is_thickened() -> None:
    design = doc(frame(), text(outline=Outline(width=0.5, colour="#ffffff")))
    [issue] = codes(validate(design, TEE), THIN_STROKE)

    after = fixed(design, issue, TEE)
    assert codes(validate(after, TEE), THIN_STROKE) == []
    layer = after.layer("t")
    assert isinstance(layer, TextLayer)
    assert layer.outline is not None
    assert layer.outline.width > 1.15  # 2.08 print px / 1.8


def test_thin_letters_are_enlarged() -> None:
    # Lato Light's stem is ~5 % of the em: 20 canvas px type has ~1 px stems, 1.7 print px.
    design = doc(frame(), text(font="lato-light", size=20, text="fine print", y=900))
    [issue] = codes(validate(design, TEE), THIN_STROKE)

    assert issue.fix == THICKEN_STROKES
    assert "letters themselves are too thin" in issue.message
    after = fixed(design, issue, TEE)
    assert codes(validate(after, TEE), THIN_STROKE) == []
    layer = after.layer("t")
    assert isinstance(layer, TextLayer)
    assert layer.size > 20


# --- small text -------------------------------------------------------------------------------


def test_small_text_is_reported_and_enlarged() -> None:
    # 8 canvas px × 1.8 = 14.4 print px at 150 DPI = 6.9 pt, under 8 pt.
    design = doc(frame(), text(size=8, y=900, text="caption"))
    [issue] = codes(validate(design, TEE), SMALL_TEXT)

    assert (issue.severity, issue.area_key, issue.layer_id, issue.fix) == (
        "warning",
        "front",
        "t",
        ENLARGE_TEXT,
    )
    assert "prints at 6.9 pt on the Front" in issue.message
    after = fixed(design, issue, TEE)
    assert codes(validate(after, TEE), SMALL_TEXT) == []
    layer = after.layer("t")
    assert isinstance(layer, TextLayer)
    assert 8 * 8 / 6.9 <= layer.size < 12


def test_readable_text_passes() -> None:
    assert codes(validate(doc(frame(), text(size=40, y=900)), TEE), SMALL_TEXT) == []


def test_small_text_that_sets_the_design_size_has_no_fix() -> None:
    # One long line on a 4×3.5 in sleeve: scaled to the sleeve's width it is still tiny.
    long_line = "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG " * 3
    [issue] = codes(validate(doc(text(text=long_line.strip(), size=20)), SLEEVE), SMALL_TEXT)

    assert issue.fix is None
    assert "shorten the text" in issue.message


# --- semi-transparent pixels ------------------------------------------------------------------


def test_glow_on_dtg_is_reported_and_hardened() -> None:
    design = doc(
        text(glow=Glow(radius=15, colour="#ff00ff"), shadow=Shadow(dx=5, dy=5, blur=6), opacity=0.9)
    )
    [issue] = codes(validate(design, TEE), SEMI_TRANSPARENT_PIXELS)

    assert (issue.severity, issue.area_key, issue.layer_id, issue.fix) == (
        "warning",
        None,
        None,
        HARDEN_ALPHA,
    )
    assert "white underbase" in issue.message
    after = fixed(design, issue, TEE)
    assert codes(validate(after, TEE), SEMI_TRANSPARENT_PIXELS) == []
    layer = after.layer("t")
    assert isinstance(layer, TextLayer)
    assert (layer.glow, layer.opacity) == (None, 1.0)
    assert layer.shadow is not None
    assert (layer.shadow.blur, layer.shadow.colour) == (0.0, "#000000")


def test_opaque_design_passes_transparency() -> None:
    assert (
        codes(
            validate(doc(text(shadow=Shadow(dx=5, dy=5, colour="#000000"))), TEE),
            SEMI_TRANSPARENT_PIXELS,
        )
        == []
    )


def test_transparency_is_not_checked_off_dtg() -> None:
    # Posters are printed at 300 DPI on paper: no white underbase.
    design = doc(text(x=750, glow=Glow(radius=15, colour="#ff00ff")), width=1500, height=1000)
    assert codes(validate(design, POSTER), SEMI_TRANSPARENT_PIXELS) == []


def test_soft_edged_upload_cannot_be_hardened_by_the_document() -> None:
    soft = Image.new("RGBA", (1000, 1000), (10, 20, 30, 128))
    [issue] = codes(
        validate(doc(image_layer()), TEE, media=loader({"m1": soft})), SEMI_TRANSPARENT_PIXELS
    )

    assert issue.fix is None
    assert "uploaded image with soft transparency ('img')" in issue.message


# --- upload limits ----------------------------------------------------------------------------


def test_file_that_cannot_reach_the_limit_is_not_estimated() -> None:
    # A 1800×2400 RGBA PNG can never pass 17.3 MB, so a 50 MB limit needs no estimate.
    assert codes(validate(doc(text()), TEE), OVER_UPLOAD_LIMIT) == []


def test_estimated_size_over_the_limit_is_a_warning() -> None:
    tiny_limit = product(
        "poster",
        POSTER.print_areas,
        POSTER.variants,
        limits={"printful": 1000},
        category="wall_art",
    )

    [issue] = codes(validate(poster_doc(x=750), tiny_limit), OVER_UPLOAD_LIMIT)

    assert (issue.severity, issue.area_key, issue.layer_id, issue.fix) == (
        "warning",
        "default",
        None,
        None,
    )
    assert "is estimated at about" in issue.message
    assert "; Printful accepts up to 1.0 kB." in issue.message


def test_rendered_files_are_checked_exactly() -> None:
    rendered = render_product_print_files(doc(text()), TEE)
    size = len(rendered[0][0].png)
    at_limit = product("tshirt", TEE.print_areas, TEE.variants, limits={"printful": size})
    under = product("tshirt", TEE.print_areas, TEE.variants, limits={"printful": size - 1})

    assert validate_rendered(rendered, at_limit) == []
    [issue] = validate_rendered([r for r, _ in rendered], under)
    assert (issue.code, issue.severity, issue.area_key, issue.fix) == (
        OVER_UPLOAD_LIMIT,
        "error",
        "front",
        None,
    )
    assert (
        f"is {size / 1000:.1f} kB; Printful accepts up to {(size - 1) / 1000:.1f} kB"
        in issue.message
    )


def test_rendered_file_of_another_product_is_an_error() -> None:
    rendered = render_product_print_files(doc(text()), TEE)
    other = product(
        "mug",
        [area("default")],
        [variant("11oz", {"default": pf(2700, 1050, 300)})],
        limits={"printful": 1},
    )

    with pytest.raises(PrintFileError) as caught:
        validate_rendered(rendered, other)
    assert caught.value.field == "print_file_renders"


# --- apply_fix errors -------------------------------------------------------------------------


def test_apply_fix_rejects_unknown_fixes_layers_and_areas() -> None:
    design = doc(frame(), line(1))
    [issue] = codes(validate(design, TEE), THIN_STROKE)

    with pytest.raises(PrintFileError) as caught:
        apply_fix(design, Issue(**{**issue.__dict__, "fix": "paint_it_blue"}), TEE)
    assert caught.value.field == "issue.fix"
    assert "known fixes:" in caught.value.message
    with pytest.raises(PrintFileError) as caught:
        apply_fix(design, Issue(**{**issue.__dict__, "layer_id": "gone"}), TEE)
    assert caught.value.field == "issue.layer_id"
    with pytest.raises(PrintFileError) as caught:
        apply_fix(design, Issue(**{**issue.__dict__, "area_key": "back"}), TEE)
    assert caught.value.field == "issue.area_key"


def test_thresholds_name_their_sources() -> None:
    assert THRESHOLDS["min_stroke"].value == 1.0
    assert "Printful help center" in THRESHOLDS["min_stroke"].source
    assert THRESHOLDS["min_text"].verified is False
    assert all(t.source for t in THRESHOLDS.values())

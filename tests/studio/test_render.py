"""The renderer: each effect changes the pixels it should, metrics match the paint, checks name
the field and the fix."""

from typing import Any

import numpy as np
import pytest
from PIL import Image

from flashfusion.studio.document import DesignDocument, TextLayer
from flashfusion.studio.fonts import UnknownFont, stem_em
from flashfusion.studio.render import (
    DocumentProblem,
    LayerMetrics,
    RenderError,
    arc_centre,
    check_document,
    content_bbox,
    render,
    text_ink_size,
    text_size,
)

Spec = dict[str, Any]


def doc(*layers: Spec, width: int = 400, height: int = 400, **canvas: Any) -> DesignDocument:
    return DesignDocument.model_validate(
        {"canvas": {"width": width, "height": height, **canvas}, "layers": list(layers)}
    )


def text(**changes: Any) -> Spec:
    spec: Spec = {
        "type": "text",
        "id": "t",
        "text": "HI",
        "font": "bebas-neue",
        "size": 100,
        "x": 200,
        "y": 200,
        "fill": {"colours": ["#ff0000"]},
    }
    return {**spec, **changes}


def shape(kind: str, **changes: Any) -> Spec:
    spec: Spec = {
        "type": "shape",
        "id": "s",
        "shape": kind,
        "x": 200,
        "y": 200,
        "width": 200,
        "height": 100,
        "fill": {"colours": ["#0000ff"]},
    }
    return {**spec, **changes}


def alpha(image: Image.Image) -> np.ndarray:
    return np.asarray(image.getchannel("A"), dtype=np.int32)


def rgba(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int32)


def px(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = image.getpixel(xy)
    assert isinstance(value, tuple)
    return value


def text_layer(spec: Spec) -> TextLayer:
    layer = doc(spec).layers[0]
    assert isinstance(layer, TextLayer)
    return layer


def only(*layers: Spec, **kwargs: Any) -> LayerMetrics:
    return render(doc(*layers), **kwargs).layers[0]


def box_of(*layers: Spec) -> tuple[float, float, float, float]:
    bbox = only(*layers).bbox
    assert bbox is not None
    return bbox


# --- text placement and metrics ---------------------------------------------------------------


def test_text_is_centred_on_its_position_and_reports_its_size() -> None:
    result = render(doc(text()))
    assert result.image.size == (400, 400)
    assert result.image.mode == "RGBA"
    assert result.scale == 1.0
    assert result.layers == [
        LayerMetrics(
            layer_id="t",
            kind="text",
            bbox=(173.0, 165.0, 227.0, 235.0),
            text_px=100,
            stroke_px=pytest.approx(stem_em("bebas-neue") * 100),  # type: ignore[arg-type]
            media_id=None,
            drawn_size=None,
        )
    ]
    # The metrics box is exactly the painted pixels.
    assert result.image.getchannel("A").getbbox() == (173, 165, 227, 235)


def test_background_stays_transparent_and_fill_colour_is_exact() -> None:
    image = render(doc(text())).image
    pixels = rgba(image)
    assert tuple(pixels[0, 0]) == (0, 0, 0, 0)
    assert tuple(pixels[200, 178]) == (255, 0, 0, 255)  # inside the H's left stem


def test_canvas_background_fills_everything() -> None:
    image = render(doc(background="#102030")).image
    assert image.getchannel("A").getextrema() == (255, 255)
    assert px(image, (5, 5)) == (16, 32, 48, 255)


def test_outline_widens_the_box_by_its_width_and_paints_its_colour() -> None:
    plain = box_of(text())
    outlined = render(doc(text(outline={"width": 10, "colour": "#00ff00"})))
    bbox = outlined.layers[0].bbox
    assert bbox is not None
    assert [round(b - p) for b, p in zip(bbox, plain, strict=True)] == [-10, -10, 10, 10]
    # Just outside the glyph edge is outline colour; the glyph inside is still the fill.
    assert px(outlined.image, (168, 200)) == (0, 255, 0, 255)
    assert px(outlined.image, (178, 200)) == (255, 0, 0, 255)
    assert outlined.layers[0].stroke_px == 10


def test_second_outline_sits_outside_the_first() -> None:
    first = box_of(text(outline={"width": 10, "colour": "#00ff00"}))
    result = render(
        doc(
            text(
                outline={"width": 10, "colour": "#00ff00"},
                outline2={"width": 6, "colour": "#0000ff"},
            )
        )
    )
    bbox = result.layers[0].bbox
    assert bbox is not None
    assert [round(b - f) for b, f in zip(bbox, first, strict=True)] == [-6, -6, 6, 6]
    assert px(result.image, (160, 200)) == (0, 0, 255, 255)
    assert result.layers[0].stroke_px == 6  # the thinnest stroke painted


def test_shadow_offset_moves_a_copy_of_the_silhouette() -> None:
    plain = box_of(text())
    result = render(doc(text(shadow={"dx": 30, "dy": 20, "colour": "#0000ffff"})))
    bbox = result.layers[0].bbox
    assert bbox is not None
    assert [round(b - p) for b, p in zip(bbox, plain, strict=True)] == [0, 0, 30, 20]
    # Where only the shadow lies it is the shadow colour; the text stays on top.
    assert px(result.image, (178 + 30, 230 + 20)) == (0, 0, 255, 255)
    assert px(result.image, (178, 200)) == (255, 0, 0, 255)


def test_shadow_blur_spreads_and_softens() -> None:
    hard = render(doc(text(shadow={"dx": 0, "dy": 40, "colour": "#000000ff"})))
    soft = render(doc(text(shadow={"dx": 0, "dy": 40, "blur": 8, "colour": "#000000ff"})))
    hard_box, soft_box = hard.layers[0].bbox, soft.layers[0].bbox
    assert hard_box is not None
    assert soft_box is not None
    assert soft_box[3] > hard_box[3] + 8
    # Blur leaves partial alpha where the hard shadow was all or nothing.
    below = (slice(236, 275), slice(170, 230))
    hard_alpha, soft_alpha = alpha(hard.image)[below], alpha(soft.image)[below]
    assert ((hard_alpha == 0) | (hard_alpha == 255)).mean() > 0.97  # only antialiased edges
    assert ((soft_alpha == 0) | (soft_alpha == 255)).mean() < 0.7


def test_shadow_keeps_its_direction_when_the_layer_turns() -> None:
    shadow = {"dx": 40, "dy": 0, "colour": "#0000ffff"}
    upright = box_of(text(shadow=shadow, rotation=90))
    plain = box_of(text(rotation=90))
    # The shadow still falls to the right on the canvas, not downwards with the text.
    assert round(upright[2] - plain[2]) == 40
    assert round(upright[3] - plain[3]) == 0


def test_glow_spreads_on_every_side_in_its_colour() -> None:
    plain = box_of(text())
    result = render(doc(text(glow={"radius": 10, "colour": "#00ff00"})))
    bbox = result.layers[0].bbox
    assert bbox is not None
    assert all(abs(b - p) > 15 for b, p in zip(bbox, plain, strict=True))
    r, g, b, a = px(result.image, (168, 200))
    assert (r, b) == (0, 0)
    assert 0 < a < 255
    assert g == 255


def test_stronger_glow_is_denser() -> None:
    weak = render(doc(text(glow={"radius": 10, "colour": "#00ff00", "strength": 1})))
    strong = render(doc(text(glow={"radius": 10, "colour": "#00ff00", "strength": 3})))
    assert alpha(strong.image)[200, 160] > alpha(weak.image)[200, 160] + 40


def test_letter_spacing_adds_its_em_share_between_letters() -> None:
    plain = box_of(text())
    spaced = box_of(text(letter_spacing=0.5))
    # One gap between two letters: half an em of a 100 px font, split either side of the centre.
    assert round((spaced[2] - spaced[0]) - (plain[2] - plain[0])) == 50
    assert (spaced[0] + spaced[2]) / 2 == pytest.approx(200, abs=1)


def test_uppercase_draws_capitals() -> None:
    lower = render(doc(text(text="hi", uppercase=True))).image
    upper = render(doc(text(text="HI"))).image
    assert lower.tobytes() == upper.tobytes()


def test_line_height_sets_the_pitch_of_lines() -> None:
    one = box_of(text(text="H"))
    two = box_of(text(text="H\nH", line_height=1.5))
    assert round((two[3] - two[1]) - (one[3] - one[1])) == 150


def test_alignment_moves_short_lines_within_the_block() -> None:
    def second_line_span(align: str) -> tuple[int, int]:
        image = render(doc(text(text="HHHH\nH", size=60, align=align))).image
        cols = np.nonzero(alpha(image)[230:260].max(axis=0))[0]
        return int(cols[0]), int(cols[-1])

    block = box_of(text(text="HHHH\nH", size=60))
    left, centre, right = (second_line_span(a) for a in ("left", "center", "right"))
    assert left[0] == pytest.approx(block[0], abs=2)
    assert right[1] + 1 == pytest.approx(block[2], abs=2)
    assert (centre[0] + centre[1] + 1) / 2 == pytest.approx(200, abs=2)


def test_linear_gradient_runs_from_the_first_to_the_last_colour() -> None:
    fill = {"kind": "linear", "colours": ["#ff0000", "#0000ff"], "angle": 90}
    image = render(doc(shape("rectangle", fill=fill))).image
    top, bottom = px(image, (200, 150)), px(image, (200, 249))
    assert top[0] > 245
    assert top[2] < 10
    assert bottom[2] > 245
    assert bottom[0] < 10
    sideways = render(doc(shape("rectangle", fill={**fill, "angle": 0}))).image
    assert px(sideways, (100, 200))[0] > 245
    assert px(sideways, (299, 200))[2] > 245


def test_text_gradient_spans_the_glyphs_not_the_canvas() -> None:
    fill = {"kind": "linear", "colours": ["#ffffff", "#000000"]}
    image = render(doc(text(text="I", size=200, fill=fill))).image
    bbox = image.getchannel("A").getbbox()
    assert bbox is not None
    x = (bbox[0] + bbox[2]) // 2
    assert px(image, (x, bbox[1] + 1))[0] > 245
    assert px(image, (x, bbox[3] - 2))[0] < 10


def test_radial_gradient_runs_from_the_centre_out() -> None:
    fill = {"kind": "radial", "colours": ["#ffff00", "#00ffff"]}
    image = render(doc(shape("rectangle", width=200, height=200, fill=fill))).image
    assert px(image, (200, 200))[:3] == pytest.approx((255, 255, 0), abs=3)
    assert px(image, (299, 200))[:3] == pytest.approx((0, 255, 255), abs=3)
    assert px(image, (101, 101))[:3] == (0, 255, 255)  # corners are past the edge stop


def test_three_stop_gradient_passes_through_the_middle_colour() -> None:
    fill = {"kind": "linear", "colours": ["#ff0000", "#00ff00", "#0000ff"]}
    image = render(doc(shape("rectangle", fill=fill))).image
    assert px(image, (200, 200))[:3] == pytest.approx((0, 255, 0), abs=6)


def test_arc_bends_the_baseline_ends_down_or_up() -> None:
    def ink_heights(arc: float) -> tuple[float, float]:
        """Mean ink row of the leftmost letters and of the middle ones."""
        a = alpha(render(doc(text(text="HHHHHHH", size=40, arc=arc))).image)
        cols = np.nonzero(a.max(axis=0))[0]
        width = cols[-1] - cols[0]
        rows = np.arange(a.shape[0])[:, None]

        def mean_row(x0: int, x1: int) -> float:
            part = a[:, x0:x1]
            return float((part * rows).sum() / part.sum())

        end = mean_row(cols[0], cols[0] + width // 7)
        middle = mean_row(200 - width // 14, 200 + width // 14)
        return end, middle

    straight_end, straight_mid = ink_heights(0)
    arch_end, arch_mid = ink_heights(90)
    smile_end, smile_mid = ink_heights(-90)
    assert straight_end == pytest.approx(straight_mid, abs=0.5)
    assert arch_end > arch_mid + 10  # an arch: the ends sit lower than the middle
    assert smile_end < smile_mid - 10  # negative: a smile, the ends curl up


def test_arc_keeps_letters_apart_along_the_baseline() -> None:
    # Each letter is centred on its own point of the arc: no two land on top of each other.
    arched = alpha(render(doc(text(text="HHHHHHH", size=40, arc=90))).image).sum()
    straight = alpha(render(doc(text(text="HHHHHHH", size=40))).image).sum()
    assert arched == pytest.approx(straight, rel=0.03)


def test_arc_turns_the_end_glyphs() -> None:
    straight = box_of(text(text="HHHHHHHHHHHHHHHH", size=20))
    arched = box_of(text(text="HHHHHHHHHHHHHHHH", size=20, arc=180))
    # Bent through a half circle the line is narrower (a diameter, not the length) and taller.
    assert arched[2] - arched[0] < 0.9 * (straight[2] - straight[0])
    assert arched[3] - arched[1] > 2 * (straight[3] - straight[1])


def test_arc_centre_points_at_the_circle_the_baseline_follows() -> None:
    centre = arc_centre(text_layer(text(text="HHHHHHH", size=40, arc=90)))
    assert centre is not None
    dx, dy = centre
    assert dx == pytest.approx(0, abs=1)
    # The line is 7 letters long; bent through 90° its circle has radius length / (π/2).
    length = text_ink_size(text_layer(text(text="HHHHHHH", size=40)))[0]
    assert dy > length / (np.pi / 2) * 0.8
    assert arc_centre(text_layer(text())) is None


def test_max_width_shrinks_text_to_fit_including_outlines() -> None:
    spec = text(
        text="HELLO WORLD", size=100, max_width=150, outline={"width": 5, "colour": "#000000"}
    )
    metrics = only(spec)
    assert metrics.bbox is not None
    assert metrics.bbox[2] - metrics.bbox[0] <= 150
    assert metrics.bbox[2] - metrics.bbox[0] > 140
    assert metrics.text_px is not None
    assert metrics.text_px < 40
    assert metrics.text_px == text_size(text_layer(spec))


def test_max_width_leaves_text_that_fits_alone() -> None:
    assert only(text(max_width=300)).text_px == 100
    assert box_of(text(max_width=300)) == box_of(text())


def test_opacity_scales_alpha() -> None:
    image = render(doc(text(opacity=0.5))).image
    assert alpha(image).max() == 128
    metrics = only(text(opacity=0))
    assert metrics.bbox is None
    assert metrics.text_px == 100


def test_hidden_layer_paints_nothing() -> None:
    result = render(doc(text(visible=False)))
    assert result.image.getbbox() is None
    assert result.layers[0].bbox is None


def test_rotation_turns_about_the_centre() -> None:
    bar = shape("rectangle", width=200, height=20)
    assert box_of(bar) == (100.0, 190.0, 300.0, 210.0)
    assert box_of({**bar, "rotation": 90}) == pytest.approx((190, 100, 210, 300), abs=1)
    turned = box_of({**bar, "rotation": 45})
    assert (turned[0] + turned[2]) / 2 == pytest.approx(200, abs=1)
    assert (turned[1] + turned[3]) / 2 == pytest.approx(200, abs=1)
    assert turned[2] - turned[0] == pytest.approx((200 + 20) / 2**0.5, abs=3)


def test_text_that_is_only_spaces_around_letters_keeps_its_centre() -> None:
    assert box_of(text(text="  HI  ")) == box_of(text())


# --- textures ---------------------------------------------------------------------------------


def _block(texture: Spec | None) -> Image.Image:
    spec = shape("rectangle", width=300, height=300, fill={"colours": ["#ff0000"]})
    if texture:
        spec["texture"] = texture
    return render(doc(spec)).image


@pytest.mark.parametrize(
    ("kind", "low", "high"),
    [
        ("distress", 0.05, 0.5),
        ("grunge", 0.05, 0.6),
        ("speckle", 0.03, 0.3),
        ("paper", 0.02, 0.3),
        ("halftone", 0.1, 0.6),
    ],
)
def test_texture_eats_into_the_paint(kind: str, low: float, high: float) -> None:
    plain = alpha(_block(None))[50:350, 50:350]
    worn = alpha(_block({"kind": kind, "strength": 0.8}))[50:350, 50:350]
    eaten = 1 - worn.sum() / plain.sum()
    assert low < eaten < high
    assert worn.max() == 255  # some paint stays whole
    outside = alpha(_block({"kind": kind, "strength": 0.8}))
    assert outside[:50].max() == 0  # and none appears outside the shape


def test_texture_is_seeded() -> None:
    first = _block({"kind": "distress", "strength": 0.8, "seed": 1})
    again = _block({"kind": "distress", "strength": 0.8, "seed": 1})
    other = _block({"kind": "distress", "strength": 0.8, "seed": 2})
    assert first.tobytes() == again.tobytes()
    assert first.tobytes() != other.tobytes()


def test_zero_strength_texture_changes_nothing() -> None:
    assert _block({"kind": "grunge", "strength": 0}).tobytes() == _block(None).tobytes()


def test_halftone_fades_into_dots_towards_the_bottom() -> None:
    a = alpha(_block({"kind": "halftone", "strength": 0.9, "scale": 2}))
    top, bottom = a[60:110, 60:340], a[290:340, 60:340]
    assert top.mean() > 2 * bottom.mean()
    # Dots, not a uniform fade: the bottom band is mostly all-or-nothing.
    assert ((bottom == 0) | (bottom == 255)).mean() > 0.6


def test_grunge_darkens_what_it_leaves() -> None:
    worn = rgba(_block({"kind": "grunge", "strength": 1}))
    kept = worn[..., 3] == 255
    assert worn[..., 0][kept].mean() < 250


def test_watercolour_bleeds_past_the_edge_unevenly() -> None:
    plain = _block(None)
    # Texture features are thousandths of the canvas; scale 8 makes them visible on 400 px.
    wash = _block({"kind": "watercolour", "strength": 0.9, "scale": 8})
    plain_box, wash_box = plain.getbbox(), wash.getbbox()
    assert plain_box == (50, 50, 350, 350)
    assert wash_box is not None
    # It blooms past the edge, by different amounts on different sides.
    spill = [50 - wash_box[0], 50 - wash_box[1], wash_box[2] - 350, wash_box[3] - 350]
    assert min(spill) >= 1
    assert max(spill) >= 3
    assert len(set(spill)) > 1
    inside = alpha(wash)[100:300, 100:300]
    assert inside.std() > 3  # mottled, not flat
    # Pigment pools at the rim: it is darker than the middle.
    pixels = rgba(wash)
    assert pixels[50:60, 100:300, 0].mean() < pixels[150:250, 150:250, 0].mean() - 10


def test_watercolour_keeps_thin_text_whole() -> None:
    plain = alpha(render(doc(text(text="hi", font="dancing-script", size=80))).image)
    wash = alpha(
        render(
            doc(
                text(
                    text="hi",
                    font="dancing-script",
                    size=80,
                    texture={"kind": "watercolour", "strength": 1},
                )
            )
        ).image
    )
    solid = plain == 255
    assert (wash[solid] > 120).mean() > 0.95


# --- shapes -----------------------------------------------------------------------------------


def test_rectangle_fills_its_box_exactly() -> None:
    result = render(doc(shape("rectangle")))
    assert result.layers[0].bbox == (100.0, 150.0, 300.0, 250.0)
    assert alpha(result.image)[150:250, 100:300].min() == 255
    assert result.layers[0].stroke_px is None


def test_rounded_rectangle_cuts_its_corners() -> None:
    image = render(doc(shape("rectangle", corner_radius=30))).image
    assert alpha(image)[151, 101] == 0
    assert alpha(image)[200, 101] == 255


def test_outline_is_drawn_inside_the_shape_edge() -> None:
    ring = shape("ellipse", fill=None, outline={"width": 10, "colour": "#00ff00"})
    result = render(doc(ring))
    assert result.layers[0].bbox == pytest.approx((100, 150, 300, 250), abs=1)
    assert px(result.image, (200, 200))[3] == 0  # hollow
    assert px(result.image, (105, 200)) == (0, 255, 0, 255)
    assert result.layers[0].stroke_px == 10


def test_outline_paints_over_the_fill() -> None:
    image = render(doc(shape("rectangle", outline={"width": 8, "colour": "#00ff00"}))).image
    assert px(image, (103, 200)) == (0, 255, 0, 255)
    assert px(image, (200, 200)) == (0, 0, 255, 255)


def test_ellipse_leaves_corners_empty() -> None:
    a = alpha(render(doc(shape("ellipse"))).image)
    assert a[152, 102] == 0
    assert a[200, 200] == 255


def test_triangle_points_up() -> None:
    a = alpha(render(doc(shape("triangle"))).image)
    top_row = np.nonzero(a[152])[0]
    bottom_row = np.nonzero(a[248])[0]
    assert top_row.size < 10
    assert bottom_row.size > 190


@pytest.mark.parametrize("points", [4, 5, 8])
def test_star_has_its_points(points: int) -> None:
    spec = shape("star", width=200, height=200, count=points, inner_ratio=0.3)
    a = alpha(render(doc(spec)).image)
    # Walk a circle between the inner and outer radius: one run of paint per point.
    angles = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    ring = a[(200 + 75 * np.sin(angles)).astype(int), (200 + 75 * np.cos(angles)).astype(int)]
    on = ring > 127
    runs = int(np.count_nonzero(on & ~np.roll(on, 1)))
    assert runs == points


def test_line_is_a_bar_whose_thickness_is_its_stroke() -> None:
    result = render(doc(shape("line", width=200, height=4)))
    assert result.layers[0].bbox == (100.0, 198.0, 300.0, 202.0)
    assert result.layers[0].stroke_px == 4


def test_stripes_paint_count_bands_with_gaps() -> None:
    spec = shape("stripes", width=200, height=200, count=5, gap=0.5)
    result = render(doc(spec))
    column = alpha(result.image)[100:300, 200] > 127
    assert int(np.count_nonzero(column & ~np.roll(column, 1))) == 5
    assert result.layers[0].stroke_px == 20  # 40 px pitch, half of it empty


def test_stripes_taper_widens_the_lower_bands() -> None:
    spec = shape("stripes", width=200, height=200, count=4, gap=0.5, taper=-0.8)
    column = alpha(render(doc(spec)).image)[100:300, 200] > 127
    bands = np.split(column, 4)
    # 50 px pitch; the gap share runs 0.9, 0.63, 0.37, 0.1 from the top band down.
    assert [int(b.sum()) for b in bands] == pytest.approx([5, 18.3, 31.7, 45], abs=1)
    assert only(spec).stroke_px == pytest.approx(5)


def test_sunburst_alternates_rays_and_gaps() -> None:
    spec = shape("sunburst", width=300, height=300, count=12)
    a = alpha(render(doc(spec)).image)
    angles = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    ring = a[(200 + 100 * np.sin(angles)).astype(int), (200 + 100 * np.cos(angles)).astype(int)]
    on = ring > 127
    assert int(np.count_nonzero(on & ~np.roll(on, 1))) == 12
    assert 0.4 < on.mean() < 0.6


def test_splatter_is_seeded_and_stays_in_its_box() -> None:
    first = render(doc(shape("splatter", width=300, height=300, count=8, seed=1))).image
    again = render(doc(shape("splatter", width=300, height=300, count=8, seed=1))).image
    other = render(doc(shape("splatter", width=300, height=300, count=8, seed=2))).image
    assert first.tobytes() == again.tobytes()
    assert first.tobytes() != other.tobytes()
    bbox = first.getbbox()
    assert bbox is not None
    assert bbox[0] >= 50
    assert bbox[2] <= 350
    assert 0.02 < (alpha(first) > 0).mean() < 0.4


def test_shape_without_fill_or_outline_paints_nothing() -> None:
    assert only(shape("rectangle", fill=None)).bbox is None


def test_shape_glow_and_shadow() -> None:
    plain = box_of(shape("rectangle"))
    glowing = box_of(shape("rectangle", glow={"radius": 8, "colour": "#00ffff"}))
    shadowed = box_of(shape("rectangle", shadow={"dx": 10, "dy": 10, "colour": "#000000ff"}))
    assert glowing[0] < plain[0] - 10
    assert glowing[3] > plain[3] + 10
    assert shadowed == (100.0, 150.0, 310.0, 260.0)


def test_erase_cuts_the_layers_below_out() -> None:
    disc = shape("rectangle", id="below", width=200, height=200)
    cut = shape("rectangle", id="cut", x=250, width=100, height=200, blend="erase")
    result = render(doc(disc, cut))
    a = alpha(result.image)
    assert a[200, 150] == 255
    assert a[200, 250] == 0
    assert result.image.getbbox() == (100, 100, 200, 300)
    assert result.layers[1].bbox == (200.0, 100.0, 300.0, 300.0)  # the area it cut


def test_layers_stack_bottom_to_top() -> None:
    red = shape("rectangle", id="a", fill={"colours": ["#ff0000"]})
    blue = shape("rectangle", id="b", width=50, fill={"colours": ["#0000ff"]})
    image = render(doc(red, blue)).image
    assert px(image, (200, 200)) == (0, 0, 255, 255)
    assert px(image, (120, 200)) == (255, 0, 0, 255)


def test_translucent_colours_composite() -> None:
    spec = shape("rectangle", fill={"colours": ["#ff000080"]})
    assert px(render(doc(spec)).image, (200, 200)) == (255, 0, 0, 128)


# --- images -----------------------------------------------------------------------------------


def _media(media_id: str) -> Image.Image:
    if media_id != "photo":
        raise KeyError(media_id)
    image = Image.new("RGBA", (40, 20), (0, 128, 0, 255))
    image.paste((255, 255, 0, 255), (20, 0, 40, 20))
    return image


def image_layer(**changes: Any) -> Spec:
    spec: Spec = {
        "type": "image",
        "id": "img",
        "media_id": "photo",
        "x": 200,
        "y": 200,
        "width": 200,
        "height": 100,
    }
    return {**spec, **changes}


def test_image_layer_is_drawn_at_its_size() -> None:
    result = render(doc(image_layer()), media=_media)
    assert result.layers[0] == LayerMetrics(
        layer_id="img",
        kind="image",
        bbox=(100.0, 150.0, 300.0, 250.0),
        text_px=None,
        stroke_px=None,
        media_id="photo",
        drawn_size=(200, 100),
    )
    assert px(result.image, (150, 200)) == (0, 128, 0, 255)
    assert px(result.image, (250, 200)) == (255, 255, 0, 255)


def test_image_layer_rotation_and_opacity() -> None:
    result = render(doc(image_layer(rotation=90, opacity=0.5)), media=_media)
    assert result.layers[0].bbox == pytest.approx((150, 100, 250, 300), abs=1)
    assert px(result.image, (200, 150))[3] == 128
    assert px(result.image, (200, 150))[:3] == (0, 128, 0)  # the left half now on top


def test_unknown_media_is_a_render_error_naming_the_field() -> None:
    with pytest.raises(RenderError) as caught:
        render(doc(text(), image_layer(media_id="gone")), media=_media)
    assert caught.value.field == "layers[1].media_id"
    assert str(caught.value) == (
        "layers[1].media_id: image 'gone' is not in this workspace's media; "
        "upload it again or remove the layer"
    )


def test_image_layer_without_a_loader_is_a_render_error() -> None:
    with pytest.raises(RenderError) as caught:
        render(doc(image_layer()))
    assert str(caught.value) == (
        "layers[0].media_id: the design has an image layer but no media loader was given"
    )


# --- scale, clipping, determinism -------------------------------------------------------------


def test_scale_sets_the_output_size_and_metrics_stay_in_canvas_px() -> None:
    design = doc(text(), width=400, height=300)
    half = render(design, scale=0.5)
    assert half.image.size == (200, 150)
    assert half.scale == 0.5
    full = render(design)
    assert half.layers[0].bbox == pytest.approx(full.layers[0].bbox, abs=2)
    assert half.layers[0].text_px == full.layers[0].text_px == 100
    odd = render(design, scale=0.333)
    assert odd.image.size == (133, 100)


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_scale_is_refused(scale: float) -> None:
    with pytest.raises(RenderError) as caught:
        render(doc(text()), scale=scale)
    assert caught.value.field == "scale"
    assert "positive number" in caught.value.message


def test_scale_that_makes_an_absurd_image_is_refused() -> None:
    with pytest.raises(RenderError) as caught:
        render(doc(text()), scale=100)
    assert caught.value.message == (
        "scale 100 makes a 40000×40000 px image; choose one that gives 1 to 24000 px per side"
    )


def test_tiny_preview_keeps_metrics_but_may_paint_nothing() -> None:
    result = render(doc(text(size=2)), scale=0.1)
    assert result.layers[0].text_px == 2
    assert result.layers[0].bbox is None


def test_bbox_is_clipped_to_the_canvas() -> None:
    metrics = only(shape("rectangle", x=20))
    assert metrics.bbox == (0.0, 150.0, 120.0, 250.0)
    assert only(shape("rectangle", x=900)).bbox is None


def test_rendering_is_deterministic() -> None:
    design = doc(
        shape("splatter", id="a", seed=3),
        text(
            id="b", texture={"kind": "grunge", "seed": 4}, glow={"radius": 5, "colour": "#ffffff"}
        ),
    )
    assert render(design).image.tobytes() == render(design).image.tobytes()


def test_unknown_font_stops_the_render_with_the_list() -> None:
    with pytest.raises(UnknownFont, match="font 'nope' is not bundled; use one of: bebas-neue"):
        render(doc(text(font="nope")))


# --- content_bbox -----------------------------------------------------------------------------


def test_content_bbox_bounds_every_painted_pixel() -> None:
    design = doc(
        text(id="a", text="HELLO", glow={"radius": 12, "colour": "#ff00ff"}, rotation=20),
        shape("star", id="b", x=80, y=320, width=60, height=60),
        width=400,
        height=400,
    )
    painted = render(design).image.getchannel("A").getbbox()
    assert painted is not None
    bbox = content_bbox(design)
    assert bbox is not None
    assert bbox[0] <= painted[0]
    assert bbox[1] <= painted[1]
    assert bbox[2] >= painted[2]
    assert bbox[3] >= painted[3]
    assert all(abs(b - p) <= 2 for b, p in zip(bbox, painted, strict=True))


def test_content_bbox_on_a_large_canvas_is_measured_small_but_still_bounds() -> None:
    design = doc(shape("ellipse", x=1000, y=3000, width=900, height=500), width=4500, height=5400)
    bbox = content_bbox(design)
    assert bbox is not None
    assert bbox[0] <= 550
    assert bbox[2] >= 1450
    assert bbox[1] <= 2750
    assert bbox[3] >= 3250
    assert bbox[2] - bbox[0] < 900 + 2 * 5400 / 1000 * 2


def test_content_bbox_of_nothing_is_none() -> None:
    assert content_bbox(doc()) is None
    assert content_bbox(doc(text(visible=False))) is None


def test_content_bbox_without_media_counts_images_as_their_box() -> None:
    assert content_bbox(doc(image_layer())) == pytest.approx((99, 149, 301, 251), abs=1)


def test_content_bbox_leaves_out_what_erase_layers_cut() -> None:
    disc = shape("rectangle", id="below", width=200, height=200)
    cut = shape("rectangle", id="cut", x=250, width=100, height=200, blend="erase")
    assert content_bbox(doc(disc, cut)) == pytest.approx((99, 99, 201, 301), abs=1)


# --- check_document ---------------------------------------------------------------------------


def test_clean_document_has_no_problems() -> None:
    design = doc(text(), shape("star", id="s"), image_layer())
    assert check_document(design, media_exists=lambda media_id: True) == []


def test_unknown_font_is_a_problem_listing_the_fonts() -> None:
    problems = check_document(doc(shape("rectangle", id="s"), text(font="papyrus")))
    assert problems == [
        DocumentProblem(
            "layers[1].font",
            "font 'papyrus' is not bundled; use one of: bebas-neue, comfortaa, courier-prime, "
            "dancing-script, kaushan-script, lato-light, league-spartan, leckerli-one, lobster, "
            "quicksand, roboto-slab, yanone-kaffeesatz",
        )
    ]


def test_text_the_font_cannot_draw_at_all_is_a_problem() -> None:
    problems = check_document(doc(text(text="✓ ✓\n☃", font="lobster")))
    assert problems == [
        DocumentProblem(
            "layers[0].text",
            "font 'lobster' has none of the characters in this text ('✓', '☃'), so it would "
            "print nothing; change the text or pick a font that has them",
        )
    ]


def test_characters_missing_from_the_font_are_a_problem_naming_fonts_that_have_them() -> None:
    problems = check_document(doc(text(text="CAFÉ Ω", font="bebas-neue")))
    assert problems == [
        DocumentProblem(
            "layers[0].text",
            "font 'bebas-neue' has no glyph for 'Ω'; they would print as empty boxes; remove "
            "them or pick a font that has them (comfortaa, courier-prime, lato-light, roboto-slab, "
            "yanone-kaffeesatz)",
        )
    ]


def test_uppercase_is_checked_as_drawn() -> None:
    # "ß".upper() is "SS", which every font has.
    assert check_document(doc(text(text="ß", font="lobster", uppercase=True))) == []


def test_unknown_media_is_a_problem_when_the_store_is_asked() -> None:
    design = doc(text(), image_layer(media_id="gone"))
    assert check_document(design) == []  # no store given: not checked
    assert check_document(design, media_exists=lambda media_id: media_id == "photo") == [
        DocumentProblem(
            "layers[1].media_id",
            "image 'gone' is not in this workspace's media; upload it again or remove the layer",
        )
    ]


def test_layer_entirely_off_the_canvas_is_a_problem() -> None:
    design = doc(
        shape("rectangle", id="right", x=600),
        shape("rectangle", id="below", y=900, width=20, height=20),
        text(id="partly", x=390),
    )
    assert check_document(design) == [
        DocumentProblem(
            "layers[0].x",
            "layer 'right' lies entirely off the 400×400 canvas (it spans x 498 to 702, y 148 "
            "to 252); move it back onto the canvas or delete it",
        ),
        DocumentProblem(
            "layers[1].y",
            "layer 'below' lies entirely off the 400×400 canvas (it spans x 188 to 212, y 888 "
            "to 912); move it back onto the canvas or delete it",
        ),
    ]


def test_off_canvas_check_counts_glow_and_rotation() -> None:
    # The box is off the canvas but its glow reaches back on: not a problem.
    glowing = shape("rectangle", x=-110, glow={"radius": 10, "colour": "#ffffff"})
    assert check_document(doc(glowing)) == []
    # A long bar just off the left edge, turned upright, still misses the canvas.
    turned = shape("rectangle", x=-60, width=200, height=10, rotation=90)
    assert [p.field for p in check_document(doc(turned))] == ["layers[0].x"]


def test_check_agrees_with_render_about_off_canvas_text() -> None:
    for x in (-150, -40, 440, 520):
        spec = text(x=x, outline={"width": 8, "colour": "#000000"})
        painted = only(spec).bbox is not None
        flagged = bool(check_document(doc(spec)))
        assert not (painted and flagged), x


# --- document compatibility -------------------------------------------------------------------


def test_documents_without_the_new_fields_still_load() -> None:
    design = DesignDocument.model_validate(
        {
            "layers": [
                {
                    "type": "shape",
                    "id": "s",
                    "shape": "star",
                    "x": 1,
                    "y": 1,
                    "width": 5,
                    "height": 5,
                }
            ]
        }
    )
    layer = design.layers[0]
    assert layer.blend == "normal"
    assert layer.type == "shape"
    assert (layer.inner_ratio, layer.taper, layer.seed, layer.shadow, layer.glow) == (
        0.45,
        0,
        0,
        None,
        None,
    )


def test_layer_too_large_to_draw_is_refused_before_allocating() -> None:
    huge = text(text="W" * 400, size=4000, x=100, y=100)
    with pytest.raises(RenderError) as caught:
        render(doc(huge, width=12000, height=12000))
    assert caught.value.field == "layers[0]"
    assert caught.value.message.endswith(
        "px image at this scale, too large to draw; make the text smaller or shorter, "
        "or set max_width"
    )
    # The same layer at preview scale is fine.
    assert render(doc(huge, width=12000, height=12000), scale=0.05).layers[0].bbox is not None

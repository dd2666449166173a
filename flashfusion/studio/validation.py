"""Design validation for print: what will print badly, what to do about it, and automatic fixes.

`validate` places the design in every distinct print file of the selected areas and variants
(exactly as `printfile.render_print_file` will) and reports `Issue`s; `apply_fix` repairs one
issue by returning a new document. One document serves every area of a product: each area
prints the same design unless `area_keys` restricts the areas, and a required area left out of
`area_keys` is `missing_required_area`.

Where a figure comes from is in `THRESHOLDS`. Provider figures are quoted; where no provider
gives one, the value is a FlashFusion default and says so (`verified=False`).

Rules (codes are stable strings):

- `empty_design` (error): nothing painted.
- `missing_required_area` (error): a required area is not among `area_keys`.
- `image_too_small` (error, no fix): the upload cannot print `MIN_IMAGE_PRINT_IN` inches across at
  the area's DPI; the message says how many pixels are needed.
- `low_dpi`: an image's effective DPI (source px ÷ printed inches, on its worse axis) below the
  print file's DPI — a warning, an error below `LOW_DPI_ERROR_SHARE` of it. Fix
  `shrink_image_to_dpi` (draw it smaller) where that can work: in a `fit` area the design is scaled
  to fill the safe area, so shrinking an image that alone sets the design's size changes nothing.
- `outside_safe_area`: a text layer's painted box crosses the safe area (a warning; an error if it
  reaches past the trim line, where it is cut off). Fix `move_inside_safe_area`.
- `thin_stroke` (warning): an outline, line shape or font stem thinner than `MIN_STROKE_PT` when
  printed. Fix `thicken_strokes`.
- `small_text` (warning): a text layer's printed font size below `MIN_TEXT_PT`. Fix `enlarge_text`
  where that can work (same caveat as `low_dpi`).
- `semi_transparent_pixels` (warning, DTG areas only: `fit` at ≤ 150 DPI): more than
  `SEMI_TRANSPARENT_MAX_SHARE` of the painted pixels are partly transparent (glows, soft
  shadows, see-through colours, soft textures). Fix `harden_alpha` edits the document: opacity to
  100 %, colours opaque, shadows hard (no blur), glows removed, a grunge texture turned into
  distress, paper and watercolour textures removed; it is offered only when that is enough (an
  uploaded image with soft edges has to be fixed at the source). It changes the design rather
  than setting a hidden render option so that the preview and the mockups show what will print,
  the change is a new design version the creator can revert, and the document format needs no
  new field.
- `over_upload_limit` (no fix): the PNG is larger than a provider accepts. `validate` estimates it
  (a warning) only when the file could exceed the limit at all; `validate_rendered` measures
  rendered files exactly (an error).
"""

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

from flashfusion.catalog.schemas import PrintArea, PrintFile, ProductType
from flashfusion.studio.document import (
    DesignDocument,
    Fill,
    ImageLayer,
    Outline,
    ShapeLayer,
    TextLayer,
    Texture,
)
from flashfusion.studio.fonts import stem_em
from flashfusion.studio.printfile import (
    PlacementPlan,
    PrintFileError,
    PrintFileRender,
    Rect,
    crop_document,
    distinct_print_files,
    encode_png,
    merge_background,
    painted_bbox,
    plan_for_bbox,
    render_plan,
    safe_inset,
    select_areas,
    select_variants,
)
from flashfusion.studio.render import CONTENT_BBOX_PX, LayerMetrics, MediaLoader, render

Severity = Literal["error", "warning"]
Layer = TextLayer | ImageLayer | ShapeLayer

EMPTY_DESIGN = "empty_design"
MISSING_REQUIRED_AREA = "missing_required_area"
IMAGE_TOO_SMALL = "image_too_small"
LOW_DPI = "low_dpi"
OUTSIDE_SAFE_AREA = "outside_safe_area"
THIN_STROKE = "thin_stroke"
SMALL_TEXT = "small_text"
SEMI_TRANSPARENT_PIXELS = "semi_transparent_pixels"
OVER_UPLOAD_LIMIT = "over_upload_limit"

SHRINK_IMAGE_TO_DPI = "shrink_image_to_dpi"
MOVE_INSIDE_SAFE_AREA = "move_inside_safe_area"
THICKEN_STROKES = "thicken_strokes"
ENLARGE_TEXT = "enlarge_text"
HARDEN_ALPHA = "harden_alpha"


@dataclass(frozen=True)
class Threshold:
    value: float
    unit: str
    source: str
    verified: bool  # True: a provider states this figure for this use


THRESHOLDS: dict[str, Threshold] = {
    "low_dpi_warning_share": Threshold(
        1.0,
        "share of the print file's DPI",
        "Printful: print files 'have to be a minimum of 150 dpi ... any lower and the print will "
        "be blurry' (printful.com/blog/"
        "everything-you-need-to-know-to-prepare-the-perfect-printfile);"
        " the print file's own DPI is the provider's requirement (platform-apis.md §10)",
        True,
    ),
    "low_dpi_error_share": Threshold(
        0.5,
        "share of the print file's DPI",
        "FlashFusion rule: below half the required DPI pixels are visible at arm's length "
        "(Printful's v1 API notes treat 150 DPI as the floor for a 300 DPI poster file)",
        False,
    ),
    "min_stroke": Threshold(
        1.0,
        "pt (1/72 in) printed",
        "Printful help center, 'Disclaimers for Printing Techniques' (DTFlex): 'Ensure all lines "
        "are a minimum of 1 pt thick ... approximately 4 px at 300 DPI'. No DTG-specific figure "
        "found; FlashFusion applies this one to every printed product",
        False,
    ),
    "min_text": Threshold(
        8.0,
        "pt font size printed",
        "FlashFusion default, following the 8 pt minimum text size for screen and pad printing "
        "in fasteditor.com 'Minimum Line Thickness and Font Size for Print'. Printful's DTFlex "
        "guideline states a font-size minimum that the stored copy cuts off: unverified",
        False,
    ),
    "min_image_print": Threshold(
        2.0,
        "inches on the image's longer side at the print file's DPI",
        "FlashFusion default: an upload that cannot print 2 in across at full DPI is too small "
        "for any useful placement",
        False,
    ),
    "semi_transparent_max_share": Threshold(
        0.02,
        "share of painted pixels partly transparent (edge anti-aliasing excluded)",
        "FlashFusion default. Printful advises against semi-transparent pixels for DTG: the white "
        "underbase shows through and looks speckled; use 100% opaque colours (Printful blog "
        "'Everything you need to know to prepare the perfect print file', 'Transparencies')",
        False,
    ),
}

LOW_DPI_ERROR_SHARE = THRESHOLDS["low_dpi_error_share"].value
MIN_STROKE_PT = THRESHOLDS["min_stroke"].value
MIN_TEXT_PT = THRESHOLDS["min_text"].value
MIN_IMAGE_PRINT_IN = THRESHOLDS["min_image_print"].value
SEMI_TRANSPARENT_MAX_SHARE = THRESHOLDS["semi_transparent_max_share"].value
# DTG: apparel print files are `fit` at 150 DPI in Printful's data (platform-apis.md §10).
DTG_MAX_DPI = 150
# Transparency is measured on the painted area rendered at about this many px (longer side).
ALPHA_SAMPLE_MAX_SIDE = 800
# Fixes aim this far past the threshold so rounding in the next render cannot undo them.
_FIX_MARGIN = 1.03
_POINTS_PER_INCH = 72.0
# A box within this many print px of the safe area's edge counts as inside (rounding).
_SAFE_TOLERANCE_PX = 1.0


@dataclass(frozen=True)
class Issue:
    """One problem: what is wrong and what to do (`message`), and the fix `apply_fix` can make.
    `area_key` is None for problems of the whole design, `layer_id` for those of no one layer."""

    code: str
    severity: Literal["error", "warning"]
    area_key: str | None
    layer_id: str | None
    message: str
    fix: str | None  # fix code if apply_fix can repair it


class _Context:
    """One design measured once: layer metrics, painted box, upload sizes."""

    def __init__(self, doc: DesignDocument, media: MediaLoader | None) -> None:
        self.doc = doc
        self.media = media
        side = max(doc.canvas.width, doc.canvas.height)
        # Metrics come back in canvas px whatever the scale; the probe size content_bbox uses
        # is precise enough and cheap.
        result = render(doc, scale=min(1.0, CONTENT_BBOX_PX / side), media=media)
        self.metrics: dict[str, LayerMetrics] = {m.layer_id: m for m in result.layers}
        # The same painted box the print files are placed by.
        self.bbox = painted_bbox(doc, media=media)
        self._sources: dict[str, tuple[int, int]] = {}

    def others_bbox(self, layer_id: str) -> Rect | None:
        """The painted box without one layer (background included)."""
        rest = _union(m.bbox for m in self.metrics.values() if m.layer_id != layer_id)
        return merge_background(self.doc, rest)

    def source_size(self, media_id: str) -> tuple[int, int]:
        if media_id not in self._sources:
            assert self.media is not None  # render() has already required a loader
            self._sources[media_id] = _load(self.media, media_id, self.doc).size
        return self._sources[media_id]


def _load(media: MediaLoader, media_id: str, doc: DesignDocument) -> Image.Image:
    try:
        return media(media_id)
    except KeyError:
        index = next(
            i for i, layer in enumerate(doc.layers) if getattr(layer, "media_id", None) == media_id
        )
        raise PrintFileError(
            f"layers[{index}].media_id",
            f"image {media_id!r} is not in this workspace's media; upload it again or remove the "
            "layer",
        ) from None


def _union(boxes: Iterable[Rect | None]) -> Rect | None:
    out: Rect | None = None
    for box in boxes:
        if box is None:
            continue
        out = (
            box
            if out is None
            else (
                min(out[0], box[0]),
                min(out[1], box[1]),
                max(out[2], box[2]),
                max(out[3], box[3]),
            )
        )
    return out


def _scaled_box(box: Rect, centre: tuple[float, float], k: float) -> Rect:
    cx, cy = centre
    return (
        cx + (box[0] - cx) * k,
        cy + (box[1] - cy) * k,
        cx + (box[2] - cx) * k,
        cy + (box[3] - cy) * k,
    )


def _fmt_bytes(size: int) -> str:
    """Decimal units, as providers state their limits (Printful: 50 MB)."""
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    if size >= 1000:
        return f"{size / 1000:.1f} kB"
    return f"{size} bytes"


def _fmt_in(value: float) -> str:
    return f"{value:.2f} in ({value * 25.4:.1f} mm)"


# --- the area being checked -------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    area: PrintArea
    print_files: list[PrintFile]
    plans: list[PlacementPlan]


def _targets(
    ctx: _Context, areas: list[PrintArea], variants_files: dict[str, list[PrintFile]]
) -> list[_Target]:
    assert ctx.bbox is not None
    out = []
    for area in areas:
        pfs = variants_files.get(area.key, [])
        if pfs:
            plans = [plan_for_bbox(ctx.doc.canvas, ctx.bbox, area, pf) for pf in pfs]
            out.append(_Target(area, pfs, plans))
    return out


def _plans_with(
    ctx: _Context, target: _Target, layer_id: str, layer_box: Rect | None
) -> list[PlacementPlan]:
    """The target's plans if one layer's painted box were `layer_box`."""
    bbox = _union([ctx.others_bbox(layer_id), layer_box])
    assert bbox is not None
    return [plan_for_bbox(ctx.doc.canvas, bbox, target.area, pf) for pf in target.print_files]


def _describe(pf: PrintFile) -> str:
    return f"{pf.width_px}×{pf.height_px} px @ {pf.dpi} DPI"


# --- the rules --------------------------------------------------------------------------------


def validate(
    doc: DesignDocument,
    product_type: ProductType,
    *,
    area_keys: list[str] | None = None,
    variant_keys: list[str] | None = None,
    media: MediaLoader | None = None,
) -> list[Issue]:
    """Every print problem of this design on this product (selected areas and variants)."""
    areas = select_areas(product_type, area_keys)
    variants = select_variants(product_type, variant_keys)
    issues: list[Issue] = []
    if area_keys is not None:
        for area in product_type.print_areas:
            if area.required and area.key not in area_keys:
                issues.append(
                    Issue(
                        MISSING_REQUIRED_AREA,
                        "error",
                        area.key,
                        None,
                        f"{product_type.name} cannot be made without a design on its "
                        f"{area.name} ({area.key!r}); add {area.key!r} to the selected print areas",
                        None,
                    )
                )
    ctx = _Context(doc, media)
    if ctx.bbox is None:
        issues.append(
            Issue(
                EMPTY_DESIGN,
                "error",
                None,
                None,
                "The design paints nothing (no visible layer, no background): providers do not "
                "print blank files. Add a text, image or shape layer, or make a hidden one "
                "visible.",
                None,
            )
        )
        return issues
    files = {area.key: [pf for pf, _ in distinct_print_files(area, variants)] for area in areas}
    targets = _targets(ctx, areas, files)
    semi = _check_semi_transparency(ctx, targets)
    if semi is not None:
        issues.append(semi)
    for target in targets:
        for layer in doc.layers:
            metrics = ctx.metrics.get(layer.id)
            if metrics is None or metrics.bbox is None:
                continue
            if isinstance(layer, ImageLayer):
                issues.extend(_check_image(ctx, target, layer, metrics))
            if isinstance(layer, TextLayer):
                issues.extend(_check_safe_area(target, layer, metrics))
                issues.extend(_check_text_size(ctx, target, layer, metrics))
            issues.extend(_check_stroke(ctx, target, layer, metrics))
        issues.extend(_check_upload_estimate(ctx, target, product_type))
    return issues


def _check_image(
    ctx: _Context, target: _Target, layer: ImageLayer, metrics: LayerMetrics
) -> list[Issue]:
    src_w, src_h = ctx.source_size(layer.media_id)
    max_dpi = max(pf.dpi for pf in target.print_files)
    need = math.ceil(MIN_IMAGE_PRINT_IN * max_dpi)
    if max(src_w, src_h) < need:
        return [
            Issue(
                IMAGE_TOO_SMALL,
                "error",
                target.area.key,
                layer.id,
                f"Image {layer.name or layer.id!r} is {src_w}×{src_h} px: at {max_dpi} DPI it "
                f"prints at most {_fmt_in(max(src_w, src_h) / max_dpi)} across, too small to use "
                f"on the {target.area.name}. Upload a larger image (at least {need} px on its "
                f"longer side; {_pixels_for(target, layer)} for its current size).",
                None,
            )
        ]
    share, pf = _worst_dpi_share(target.plans, target.print_files, layer, src_w, src_h, 1.0)
    if share >= 1.0:
        return []
    fix = (
        SHRINK_IMAGE_TO_DPI
        if _shrink_factor(ctx, target, layer, src_w, src_h) is not None
        else None
    )
    advice = (
        "Apply the fix to draw it smaller (it then prints at full resolution), or upload a "
        f"larger image ({_pixels_for(target, layer)})."
        if fix
        else "Drawing it smaller does not help here because the image sets the design's size; "
        f"upload a larger image ({_pixels_for(target, layer)})."
    )
    return [
        Issue(
            LOW_DPI,
            "error" if share < LOW_DPI_ERROR_SHARE else "warning",
            target.area.key,
            layer.id,
            f"Image {layer.name or layer.id!r} prints at {share * pf.dpi:.0f} DPI on the "
            f"{target.area.name} ({_describe(pf)}), below the {pf.dpi} DPI the print needs, so it "
            f"will look blurry. {advice}",
            fix,
        )
    ]


def _dpi_share(plan: PlacementPlan, layer: ImageLayer, src_w: int, src_h: int, k: float) -> float:
    """Effective DPI over required DPI: source px per printed px, on the worse axis."""
    printed_w = layer.width * k * plan.scale
    printed_h = layer.height * k * plan.scale
    return min(src_w / printed_w, src_h / printed_h)


def _worst_dpi_share(
    plans: list[PlacementPlan],
    pfs: list[PrintFile],
    layer: ImageLayer,
    src_w: int,
    src_h: int,
    k: float,
) -> tuple[float, PrintFile]:
    shares = [
        (_dpi_share(plan, layer, src_w, src_h, k), pf) for plan, pf in zip(plans, pfs, strict=True)
    ]
    return min(shares, key=lambda item: item[0])


def _pixels_for(target: _Target, layer: ImageLayer) -> str:
    """The source size that prints this layer at full DPI where it is now."""
    scale = max(plan.scale for plan in target.plans)
    need_w = math.ceil(layer.width * scale)
    need_h = math.ceil(layer.height * scale)
    return f"{need_w}×{need_h} px"


def _shrink_factor(
    ctx: _Context, target: _Target, layer: ImageLayer, src_w: int, src_h: int
) -> float | None:
    """How much to shrink the image so it meets the DPI once the design is placed again."""
    metrics = ctx.metrics[layer.id]
    assert metrics.bbox is not None
    box = metrics.bbox
    centre = (layer.x, layer.y)

    def ok(k: float) -> bool:
        plans = _plans_with(ctx, target, layer.id, _scaled_box(box, centre, k))
        share, _ = _worst_dpi_share(plans, target.print_files, layer, src_w, src_h, k)
        return share >= _FIX_MARGIN

    return _largest(ok, 0.02, 1.0)


def _largest(ok: Callable[[float], bool], low: float, high: float) -> float | None:
    """The largest k in [low, high] with ok(k), for ok true below some point; None if ok(low)
    is false."""
    if not ok(low):
        return None
    if ok(high):
        return high
    for _ in range(40):
        mid = (low + high) / 2
        low, high = (mid, high) if ok(mid) else (low, mid)
    return low


def _smallest(ok: Callable[[float], bool], low: float, high: float) -> float | None:
    """The smallest k in [low, high] with ok(k), for ok true above some point; None if ok(high)
    is false."""
    if not ok(high):
        return None
    if ok(low):
        return low
    for _ in range(40):
        mid = (low + high) / 2
        low, high = (low, mid) if ok(mid) else (mid, high)
    return high


def _check_safe_area(target: _Target, layer: TextLayer, metrics: LayerMetrics) -> list[Issue]:
    assert metrics.bbox is not None
    worst: tuple[bool, PrintFile] | None = None
    for plan, pf in zip(target.plans, target.print_files, strict=True):
        box = plan.to_print(metrics.bbox)
        if not _inside(box, plan.safe):
            cut = not _inside(box, plan.trim)
            if worst is None or (cut and not worst[0]):
                worst = (cut, pf)
    if worst is None:
        return []
    cut, pf = worst
    where = "past the trim line, where it is cut off" if cut else "into the safe margin"
    return [
        Issue(
            OUTSIDE_SAFE_AREA,
            "error" if cut else "warning",
            target.area.key,
            layer.id,
            f"Text {layer.text[:40]!r} reaches {where} on the {target.area.name} "
            f"({_describe(pf)}; keep it {safe_inset(target.area)} px inside the edge). Move it "
            "towards the centre or make it smaller; the fix does that for you.",
            MOVE_INSIDE_SAFE_AREA,
        )
    ]


def _inside(box: Rect, rect: tuple[int, int, int, int]) -> bool:
    t = _SAFE_TOLERANCE_PX
    return (
        box[0] >= rect[0] - t
        and box[1] >= rect[1] - t
        and box[2] <= rect[2] + t
        and box[3] <= rect[3] + t
    )


def _printed_pt(canvas_px: float, plan: PlacementPlan, pf: PrintFile) -> float:
    return canvas_px * plan.scale / pf.dpi * _POINTS_PER_INCH


def _check_text_size(
    ctx: _Context, target: _Target, layer: TextLayer, metrics: LayerMetrics
) -> list[Issue]:
    if metrics.text_px is None:
        return []
    text_px = metrics.text_px
    sizes = [
        (_printed_pt(text_px, plan, pf), pf)
        for plan, pf in zip(target.plans, target.print_files, strict=True)
    ]
    points, pf = min(sizes, key=lambda item: item[0])
    if points >= MIN_TEXT_PT:
        return []
    fix = ENLARGE_TEXT if _enlarge_factor(ctx, target, layer) is not None else None
    advice = (
        "Make it larger; the fix does that for you."
        if fix
        else "Enlarging it does not help because it sets the design's size: shorten the text or "
        "split it over more lines."
    )
    return [
        Issue(
            SMALL_TEXT,
            "warning",
            target.area.key,
            layer.id,
            f"Text {layer.text[:40]!r} prints at {points:.1f} pt on the {target.area.name} "
            f"({_describe(pf)}); below {MIN_TEXT_PT:g} pt it is hard to read and fine parts may "
            f"not print. {advice}",
            fix,
        )
    ]


def _enlarge_factor(ctx: _Context, target: _Target, layer: TextLayer) -> float | None:
    metrics = ctx.metrics[layer.id]
    assert metrics.bbox is not None
    box = metrics.bbox
    assert metrics.text_px is not None
    text_px = metrics.text_px
    centre = (layer.x, layer.y)
    # The document caps a font at 4000 canvas px.
    high = max(1.0, 4000 / layer.size)

    def ok(k: float) -> bool:
        plans = _plans_with(ctx, target, layer.id, _scaled_box(box, centre, k))
        return all(
            _printed_pt(text_px * k, plan, pf) >= MIN_TEXT_PT * _FIX_MARGIN
            for plan, pf in zip(plans, target.print_files, strict=True)
        )

    return _smallest(ok, 1.0, high)


def _check_stroke(
    ctx: _Context, target: _Target, layer: Layer, metrics: LayerMetrics
) -> list[Issue]:
    if metrics.stroke_px is None or metrics.stroke_px <= 0:
        return []
    sizes = [
        (_printed_pt(metrics.stroke_px, plan, pf), pf)
        for plan, pf in zip(target.plans, target.print_files, strict=True)
    ]
    points, pf = min(sizes, key=lambda item: item[0])
    if points >= MIN_STROKE_PT:
        return []
    printed_mm = points / _POINTS_PER_INCH * 25.4
    min_px = MIN_STROKE_PT / _POINTS_PER_INCH * pf.dpi
    stem_thin = isinstance(layer, TextLayer) and _stem_px(layer, metrics) < _need_px(target)
    fixable = not (
        isinstance(layer, TextLayer) and stem_thin and _stem_factor(ctx, target, layer) is None
    )
    if stem_thin and fixable:
        advice = (
            "The letters themselves are too thin at this size: the fix enlarges the text "
            "(and thickens any outline)."
        )
    elif stem_thin:
        advice = (
            "The letters themselves are too thin, and enlarging them does not help here (they "
            "set the design's size): pick a bolder font."
        )
    else:
        advice = "Make its outline or line thicker; the fix does that for you."
    return [
        Issue(
            THIN_STROKE,
            "warning",
            target.area.key,
            layer.id,
            f"Layer {layer.name or layer.id!r} has a line {printed_mm:.2f} mm thick when printed "
            f"on the {target.area.name} ({_describe(pf)}): lines under {MIN_STROKE_PT:g} pt "
            f"({min_px:.1f} px at {pf.dpi} DPI) may break up or vanish. {advice}",
            THICKEN_STROKES if fixable else None,
        )
    ]


def _need_px(target: _Target, plans: list[PlacementPlan] | None = None) -> float:
    """The thinnest stroke, in canvas px, that prints `MIN_STROKE_PT` in every print file."""
    return max(
        MIN_STROKE_PT / _POINTS_PER_INCH * pf.dpi / plan.scale
        for plan, pf in zip(plans or target.plans, target.print_files, strict=True)
    )


def _stem_px(layer: TextLayer, metrics: LayerMetrics) -> float:
    return stem_em(layer.font) * (metrics.text_px or layer.size)


def _stem_factor(ctx: _Context, target: _Target, layer: TextLayer) -> float | None:
    """How much to enlarge a text layer so its letters' stems print thick enough."""
    metrics = ctx.metrics[layer.id]
    assert metrics.bbox is not None
    box = metrics.bbox
    stem = _stem_px(layer, metrics)
    centre = (layer.x, layer.y)

    def ok(k: float) -> bool:
        plans = _plans_with(ctx, target, layer.id, _scaled_box(box, centre, k))
        return stem * k >= _need_px(target, plans) * _FIX_MARGIN

    return _smallest(ok, 1.0, max(1.0, 4000 / layer.size))


def _check_upload_estimate(
    ctx: _Context, target: _Target, product_type: ProductType
) -> list[Issue]:
    limits = product_type.upload_limit_bytes
    if not limits:
        return []
    smallest = min(limits.values())
    for pf in target.print_files:
        # A PNG is never much larger than its raw pixels (zlib stored blocks, one filter byte a
        # row), so most files cannot reach the limit and need no estimate.
        bound = pf.height_px * (pf.width_px * 4 + 1) * 1.001 + 4096
        if bound <= smallest:
            continue
        estimate = _estimate_png_bytes(ctx, target.area, pf)
        over = {p: lim for p, lim in limits.items() if estimate > lim}
        if over:
            return [_upload_issue(target.area, pf, estimate, over, product_type, estimated=True)]
    return []


def _estimate_png_bytes(ctx: _Context, area: PrintArea, pf: PrintFile) -> int:
    """Bytes of the print file's PNG, from a render of about two megapixels scaled up."""
    factor = min(1.0, math.sqrt(2_000_000 / (pf.width_px * pf.height_px)))
    small_pf = pf.model_copy(
        update={
            "width_px": max(16, round(pf.width_px * factor)),
            "height_px": max(16, round(pf.height_px * factor)),
        }
    )
    small_area = area.model_copy(
        update={
            "safe_margin_px": round(area.safe_margin_px * factor),
            "bleed_px": round(area.bleed_px * factor),
        }
    )
    assert ctx.bbox is not None
    plan = plan_for_bbox(ctx.doc.canvas, ctx.bbox, small_area, small_pf)
    data = encode_png(render_plan(ctx.doc, plan, media=ctx.media), pf.dpi)
    pixels = small_pf.width_px * small_pf.height_px
    return round(len(data) * (pf.width_px * pf.height_px) / pixels)


def _upload_issue(
    area: PrintArea,
    pf: PrintFile,
    size: int,
    over: dict[str, int],
    product_type: ProductType,
    *,
    estimated: bool,
) -> Issue:
    providers = ", ".join(
        f"{p.capitalize()} accepts up to {_fmt_bytes(lim)}" for p, lim in sorted(over.items())
    )
    what = f"is estimated at about {_fmt_bytes(size)}" if estimated else f"is {_fmt_bytes(size)}"
    return Issue(
        OVER_UPLOAD_LIMIT,
        "warning" if estimated else "error",
        area.key,
        None,
        f"The {product_type.name} {area.name} print file ({_describe(pf)}) {what}; {providers}. "
        "Simplify the design (flat colours compress far better than photos, gradients and "
        "textures) or choose a smaller size.",
        None,
    )


def validate_rendered(
    print_file_renders: Iterable[PrintFileRender | tuple[PrintFileRender, list[str]]],
    product_type: ProductType,
) -> list[Issue]:
    """Exact upload-size check of rendered print files (as `render_product_print_files` returns
    them, or the renders alone)."""
    issues = []
    limits = product_type.upload_limit_bytes
    for item in print_file_renders:
        rendered = item[0] if isinstance(item, tuple) else item
        over = {p: lim for p, lim in limits.items() if len(rendered.png) > lim}
        if not over:
            continue
        area = product_type.print_area(rendered.area_key)
        if area is None:
            raise PrintFileError(
                "print_file_renders",
                f"a render is for area {rendered.area_key!r}, which {product_type.key!r} does "
                "not have; pass renders of this product type",
            )
        pf = PrintFile(
            width_px=rendered.width_px,
            height_px=rendered.height_px,
            dpi=rendered.dpi,
            fill_mode="fit",
            source="rendered",
        )
        issues.append(
            _upload_issue(area, pf, len(rendered.png), over, product_type, estimated=False)
        )
    return issues


# --- transparency -----------------------------------------------------------------------------


def _semi_share(doc: DesignDocument, bbox: Rect, media: MediaLoader | None) -> float:
    """The share of painted pixels that are partly transparent, ignoring anti-aliased edges."""
    region = (
        max(0, math.floor(bbox[0])),
        max(0, math.floor(bbox[1])),
        min(doc.canvas.width, math.ceil(bbox[2])),
        min(doc.canvas.height, math.ceil(bbox[3])),
    )
    side = max(region[2] - region[0], region[3] - region[1], 1)
    scale = min(4.0, ALPHA_SAMPLE_MAX_SIDE / side)
    image = render(crop_document(doc, region), scale=scale, media=media).image
    alpha = np.asarray(image.getchannel("A"))
    painted = int(np.count_nonzero(alpha))
    if painted == 0:
        return 0.0
    semi = (alpha > 0) & (alpha < 255)
    # Anti-aliased edges are one or two pixels wide; eroding by one pixel (4-neighbourhood)
    # removes them and keeps glows, soft shadows and see-through fills.
    core = semi[1:-1, 1:-1] & semi[:-2, 1:-1] & semi[2:, 1:-1] & semi[1:-1, :-2] & semi[1:-1, 2:]
    return int(np.count_nonzero(core)) / painted


def _is_dtg(pf: PrintFile) -> bool:
    return pf.fill_mode == "fit" and pf.dpi <= DTG_MAX_DPI


def _check_semi_transparency(ctx: _Context, targets: list[_Target]) -> Issue | None:
    dtg = [t.area for t in targets if any(_is_dtg(pf) for pf in t.print_files)]
    if not dtg:
        return None
    assert ctx.bbox is not None
    share = _semi_share(ctx.doc, ctx.bbox, ctx.media)
    if share <= SEMI_TRANSPARENT_MAX_SHARE:
        return None
    hardened = harden_alpha(ctx.doc)
    fixable = _semi_share(hardened, ctx.bbox, ctx.media) <= SEMI_TRANSPARENT_MAX_SHARE
    images = [layer for layer in ctx.doc.layers if isinstance(layer, ImageLayer) and layer.visible]
    advice = (
        "Apply the fix to make every colour, shadow and layer fully opaque: glows go, shadows "
        "get a hard edge, a grunge texture becomes distress, paper and watercolour textures go."
        if fixable
        else "Part of it comes from an uploaded image with soft transparency "
        f"({', '.join(repr(i.name or i.id) for i in images) or 'an image layer'}): flatten its "
        "edges to fully opaque or fully transparent in an image editor and upload it again."
    )
    names = ", ".join(a.name for a in dtg)
    return Issue(
        SEMI_TRANSPARENT_PIXELS,
        "warning",
        None,
        None,
        f"{share:.0%} of the design is partly transparent (glows, soft shadows or see-through "
        f"colours). Direct-to-garment printing on the {names} lays a white underbase that shows "
        f"through such pixels and looks speckled. {advice}",
        HARDEN_ALPHA if fixable else None,
    )


def _opaque(colour: str) -> str:
    return colour[:7]


def _opaque_fill(fill: Fill | None) -> Fill | None:
    if fill is None:
        return None
    return fill.model_copy(update={"colours": [_opaque(c) for c in fill.colours]})


def _opaque_outline(outline: Outline | None) -> Outline | None:
    return (
        None if outline is None else outline.model_copy(update={"colour": _opaque(outline.colour)})
    )


def _hard_texture(texture: Texture | None) -> Texture | None:
    """A texture that leaves every pixel opaque or clear (measured: distress, speckle and
    halftone do; grunge wears paint away gradually, paper and watercolour tint it see-through)."""
    if texture is None or texture.kind in {"distress", "speckle", "halftone"}:
        return texture
    if texture.kind == "grunge":
        # Distress is the same worn look with hard-edged wear.
        return texture.model_copy(update={"kind": "distress"})
    return None


def harden_alpha(doc: DesignDocument) -> DesignDocument:
    """The design with nothing partly transparent that the document controls: full opacity,
    opaque colours, hard shadows, no glows, hard-edged textures."""
    layers: list[Layer] = []
    for layer in doc.layers:
        update: dict[str, object] = {"opacity": 1.0, "texture": _hard_texture(layer.texture)}
        if isinstance(layer, TextLayer | ShapeLayer):
            update["fill"] = _opaque_fill(layer.fill)
            update["outline"] = _opaque_outline(layer.outline)
            if layer.shadow is not None:
                update["shadow"] = layer.shadow.model_copy(
                    update={"blur": 0.0, "colour": _opaque(layer.shadow.colour)}
                )
            update["glow"] = None
        if isinstance(layer, TextLayer):
            update["outline2"] = _opaque_outline(layer.outline2)
        layers.append(layer.model_copy(update=update))
    canvas = doc.canvas
    if canvas.background is not None:
        canvas = canvas.model_copy(update={"background": _opaque(canvas.background)})
    return doc.model_copy(update={"layers": layers, "canvas": canvas})


# --- fixes ------------------------------------------------------------------------------------


def apply_fix(
    doc: DesignDocument,
    issue: Issue,
    product_type: ProductType,
    *,
    media: MediaLoader | None = None,
) -> DesignDocument:
    """A new document with the issue repaired (the given one is never changed)."""
    if issue.fix is None:
        raise PrintFileError(
            "issue.fix",
            f"{issue.code!r} has no automatic fix; {issue.message}",
        )
    if issue.fix == HARDEN_ALPHA:
        return harden_alpha(doc)
    fixers = {
        SHRINK_IMAGE_TO_DPI: _fix_shrink_image,
        MOVE_INSIDE_SAFE_AREA: _fix_move_inside,
        THICKEN_STROKES: _fix_thicken,
        ENLARGE_TEXT: _fix_enlarge_text,
    }
    fixer = fixers.get(issue.fix)
    if fixer is None:
        raise PrintFileError(
            "issue.fix",
            f"unknown fix {issue.fix!r}; known fixes: {', '.join([*fixers, HARDEN_ALPHA])}",
        )
    if issue.area_key is None or issue.layer_id is None:
        raise PrintFileError(
            "issue", f"a {issue.fix!r} fix needs the issue's area_key and layer_id"
        )
    area = product_type.print_area(issue.area_key)
    if area is None:
        raise PrintFileError(
            "issue.area_key",
            f"product type {product_type.key!r} has no print area {issue.area_key!r}; "
            "validate the design against this product type again",
        )
    index = next((i for i, layer in enumerate(doc.layers) if layer.id == issue.layer_id), None)
    if index is None:
        raise PrintFileError(
            "issue.layer_id",
            f"the design has no layer {issue.layer_id!r}; validate the current version again",
        )
    ctx = _Context(doc, media)
    if ctx.bbox is None:
        raise PrintFileError("layers", "the design paints nothing; add a layer before fixing it")
    files = [pf for pf, _ in distinct_print_files(area, product_type.variants)]
    if not files:
        raise PrintFileError(
            "issue.area_key", f"no variant of {product_type.key!r} prints {area.key!r}"
        )
    target = _targets(ctx, [area], {area.key: files})[0]
    new_layer = fixer(ctx, target, doc.layers[index])
    layers = list(doc.layers)
    layers[index] = new_layer
    return doc.model_copy(update={"layers": layers})


def _no_longer(issue_code: str, layer: Layer) -> PrintFileError:
    return PrintFileError(
        "issue",
        f"layer {layer.id!r} no longer has a {issue_code!r} problem that this fix can repair; "
        "validate the design again",
    )


def scale_layer(layer: Layer, k: float) -> Layer:
    """The layer drawn `k` times as large about its centre, effects included."""
    if isinstance(layer, TextLayer):
        update: dict[str, object] = {"size": layer.size * k}
        if layer.max_width is not None:
            update["max_width"] = layer.max_width * k
        for name in ("outline", "outline2"):
            outline = getattr(layer, name)
            if outline is not None:
                update[name] = outline.model_copy(update={"width": outline.width * k})
        if layer.shadow is not None:
            update["shadow"] = layer.shadow.model_copy(
                update={
                    "dx": layer.shadow.dx * k,
                    "dy": layer.shadow.dy * k,
                    "blur": layer.shadow.blur * k,
                }
            )
        if layer.glow is not None:
            update["glow"] = layer.glow.model_copy(update={"radius": layer.glow.radius * k})
        return layer.model_copy(update=update)
    update = {"width": layer.width * k, "height": layer.height * k}
    if isinstance(layer, ShapeLayer):
        update["corner_radius"] = layer.corner_radius * k
        if layer.outline is not None:
            update["outline"] = layer.outline.model_copy(update={"width": layer.outline.width * k})
    return layer.model_copy(update=update)


def _fix_shrink_image(ctx: _Context, target: _Target, layer: Layer) -> Layer:
    if not isinstance(layer, ImageLayer):
        raise _no_longer(LOW_DPI, layer)
    src_w, src_h = ctx.source_size(layer.media_id)
    k = _shrink_factor(ctx, target, layer, src_w, src_h)
    if k is None:
        raise _no_longer(LOW_DPI, layer)
    return scale_layer(layer, k)


def _fix_enlarge_text(ctx: _Context, target: _Target, layer: Layer) -> Layer:
    if not isinstance(layer, TextLayer):
        raise _no_longer(SMALL_TEXT, layer)
    k = _enlarge_factor(ctx, target, layer)
    if k is None:
        raise _no_longer(SMALL_TEXT, layer)
    return scale_layer(layer, k)


def _fix_move_inside(ctx: _Context, target: _Target, layer: Layer) -> Layer:
    # The painted box is clipped to the canvas, so text running off it looks smaller than it is:
    # move or shrink, re-measure, and repeat until it fits (a few rounds at most).
    current = layer
    for _ in range(6):
        metrics = ctx.metrics.get(layer.id)
        if metrics is None or metrics.bbox is None:
            raise _no_longer(OUTSIDE_SAFE_AREA, layer)
        if isinstance(current, TextLayer) and not _check_safe_area(target, current, metrics):
            return current
        current = _moved_inside(target, current, _unclipped_bbox(ctx, current, metrics.bbox))
        probe = ctx.doc.model_copy(
            update={"layers": [current if lyr.id == layer.id else lyr for lyr in ctx.doc.layers]}
        )
        ctx = _Context(probe, ctx.media)
        target = _targets(ctx, [target.area], {target.area.key: target.print_files})[0]
    return current


def _unclipped_bbox(ctx: _Context, layer: Layer, bbox: Rect) -> Rect:
    """The layer's painted box without the canvas clipping it: measured alone, on a canvas three
    times the size with the real one in its middle."""
    cw, ch = ctx.doc.canvas.width, ctx.doc.canvas.height
    if bbox[0] > 0 and bbox[1] > 0 and bbox[2] < cw and bbox[3] < ch:
        return bbox
    alone = ctx.doc.model_copy(update={"layers": [layer]})
    wide = crop_document(alone, (-cw, -ch, 2 * cw, 2 * ch))
    scale = min(1.0, CONTENT_BBOX_PX / (3 * max(cw, ch)))
    [metrics] = render(wide, scale=scale, media=ctx.media).layers
    if metrics.bbox is None:
        return bbox
    x0, y0, x1, y1 = metrics.bbox
    return (x0 - cw, y0 - ch, x1 - cw, y1 - ch)


def _moved_inside(target: _Target, layer: Layer, box: Rect) -> Layer:
    """The layer shrunk (if it is too big) and shifted so `box`, its painted box, lies inside
    the safe area of every print file of the target."""
    safe: Rect | None = None
    for plan in target.plans:
        rect = plan.to_canvas(plan.safe)
        safe = (
            rect
            if safe is None
            else (
                max(safe[0], rect[0]),
                max(safe[1], rect[1]),
                min(safe[2], rect[2]),
                min(safe[3], rect[3]),
            )
        )
    assert safe is not None
    # A little room inside the edge, so the next render's rounding cannot put it back outside.
    pad = 0.01 * min(safe[2] - safe[0], safe[3] - safe[1])
    sx0, sy0, sx1, sy1 = safe[0] + pad, safe[1] + pad, safe[2] - pad, safe[3] - pad
    bw, bh = box[2] - box[0], box[3] - box[1]
    k = min(1.0, (sx1 - sx0) / bw, (sy1 - sy0) / bh)
    new = layer
    if k < 1.0:
        new = scale_layer(layer, k)
        box = _scaled_box(box, (layer.x, layer.y), k)
    dx = sx0 - box[0] if box[0] < sx0 else (sx1 - box[2] if box[2] > sx1 else 0.0)
    dy = sy0 - box[1] if box[1] < sy0 else (sy1 - box[3] if box[3] > sy1 else 0.0)
    return new.model_copy(update={"x": new.x + dx, "y": new.y + dy})


def _fix_thicken(ctx: _Context, target: _Target, layer: Layer) -> Layer:
    metrics = ctx.metrics.get(layer.id)
    if metrics is None or metrics.stroke_px is None:
        raise _no_longer(THIN_STROKE, layer)
    # Thicker strokes and larger letters grow the layer, which can shrink a `fit` placement a
    # little: re-measure and repeat until the printed strokes hold (a few rounds at most).
    current = layer
    for _ in range(5):
        measured = ctx.metrics[layer.id]
        need = _need_px(target)
        if measured.stroke_px is None or measured.stroke_px >= need:
            return current
        if isinstance(current, TextLayer) and _stem_px(current, measured) < need:
            k = _stem_factor(ctx, target, current)
            if k is None:
                raise _no_longer(THIN_STROKE, layer)
            current = scale_layer(current, k)
        else:
            current = _thickened(current, need * _FIX_MARGIN)
        probe = ctx.doc.model_copy(
            update={"layers": [current if lyr.id == layer.id else lyr for lyr in ctx.doc.layers]}
        )
        ctx = _Context(probe, ctx.media)
        target = _targets(ctx, [target.area], {target.area.key: target.print_files})[0]
    return current


def _thickened(layer: Layer, need: float) -> Layer:
    """Every outline, line and stripe of the layer at least `need` canvas px thick."""

    def widened(outline: Outline | None) -> Outline | None:
        if outline is None or outline.width >= need:
            return outline
        return outline.model_copy(update={"width": min(400.0, need)})

    if isinstance(layer, TextLayer):
        return layer.model_copy(
            update={"outline": widened(layer.outline), "outline2": widened(layer.outline2)}
        )
    if not isinstance(layer, ShapeLayer):
        return layer
    update: dict[str, object] = {"outline": widened(layer.outline)}
    if layer.shape == "line" and min(layer.width, layer.height) < need:
        update["height" if layer.width >= layer.height else "width"] = need
    if layer.shape == "stripes":
        pitch = layer.height / layer.count
        if pitch * (1 - layer.gap * (1 + abs(layer.taper))) < need:
            if need <= pitch:
                update.update(gap=max(0.0, min(layer.gap, 1 - need / pitch)), taper=0.0)
            else:
                update.update(gap=0.0, taper=0.0, height=need * layer.count)
    return layer.model_copy(update=update)

"""Print files: a design rendered at a provider's exact pixel size and DPI, as a transparent PNG.

Placement rules (FlashFusion's own; the provider only fixes the file's size, DPI and fill mode):

- **Safe area.** The print file inset by `max(area.safe_margin_px, area.bleed_px)` on every side.
  The margin is measured from the file's edge (`PrintArea.safe_margin_px` says so); taking the
  larger of the two keeps key artwork out of the bleed even where the data gives a smaller margin.
- **Motif placement** (`fill_mode == "fit"`, area placement `center` or `top_center`): the design's
  painted area (the union of its layers' painted boxes, or the whole canvas when the canvas has a
  background colour) is scaled, up or down and keeping its aspect ratio, so that it fills the safe
  area exactly on its limiting side. `center` centres it in the safe area; `top_center` puts its
  top on the top of the safe area, centred across (chest prints). Whatever the design's canvas
  leaves empty around it is not printed, so a phrase is as large as the product allows.
- **Canvas placement** (`fill_mode == "cover"` — posters, canvas, phone cases — or an area whose
  placement is `full_bleed`): the whole canvas is scaled to cover the print file (`scale =
  max(W / canvas_w, H / canvas_h)`), centred and cropped centrally, which is what the provider
  expects. When the design paints the whole canvas (a background colour, or layers spanning it)
  that is the placement (`full_bleed`): text that lands outside the safe area is reported by
  `validation` (`outside_safe_area`, with a fix) rather than moved silently. When the design is a
  motif on a transparent canvas and its painted area would cross the safe area, the placement
  shrinks about the file's centre until it fits: the empty canvas around it does not have to cover
  anything, and nothing is lost to trimming.

Rendering re-draws the vector design at the final scale (never upscales a raster): only the part of
the canvas that lands in the file is rendered, then cropped and pasted once into a transparent
canvas of exactly `width_px × height_px` and encoded once, with a pHYs chunk giving the DPI.
"""

import difflib
import io
import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from PIL import Image

from flashfusion.catalog.schemas import PrintArea, PrintFile, ProductType, Variant
from flashfusion.studio.document import Canvas, DesignDocument
from flashfusion.studio.render import MediaLoader, content_bbox, render

Rect = tuple[float, float, float, float]
IntRect = tuple[int, int, int, int]

# PNG encoding, measured on this machine (5400×3600 RGBA, best of 2-3 runs): with zlib's default
# strategy, level 6 took 1.1-1.3 s on a flat-colour poster and over 9 s on a photo-like one;
# the run-length strategy (Z_RLE) took 0.7 s and 2.8 s for files the same size or within 20%
# (457 vs 469 KB, 41.5 vs 41.5 MB), and lower levels gain almost nothing with it. Size matters
# because providers cap uploads (Printful: 50 MB), so RLE at level 6 it is.
PNG_COMPRESS_LEVEL = 6
PNG_STRATEGY = zlib.Z_RLE
# A layer union within this share of the canvas edges counts as painting the whole canvas.
_FULL_CANVAS_TOLERANCE = 0.01


class PrintFileError(ValueError):
    """Bad input for a print file; `field` names what to change."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class EmptyDesignError(PrintFileError):
    """The design paints nothing, so there is nothing to print."""

    def __init__(self) -> None:
        super().__init__(
            "layers",
            "the design paints nothing (no visible layer and no background); "
            "add a text, image or shape layer before rendering print files",
        )


@dataclass(frozen=True)
class Placement:
    """Where the design's painted area lands in the print file. In full bleed the box reaches
    past the file's edges (that part is cropped off)."""

    box: tuple[int, int, int, int]  # where the design's content goes, print-file px
    scale: float  # print px per canvas px


@dataclass(frozen=True)
class PrintFileRender:
    """One encoded print file: PNG bytes exactly `width_px × height_px`, pHYs = `dpi`."""

    area_key: str
    width_px: int
    height_px: int
    dpi: int
    png: bytes
    placement: Placement


PlacementRule = Literal["center", "top_center", "full_bleed", "canvas"]


@dataclass(frozen=True)
class PlacementPlan:
    """A placement with everything validation needs to map canvas px to print-file px."""

    rule: PlacementRule  # `canvas`: cover mode, canvas layout kept (possibly shrunk), not full
    scale: float  # print px per canvas px
    origin: tuple[float, float]  # where canvas (0, 0) lands, print-file px
    box: IntRect  # the painted area in print-file px (may reach past the file in full bleed)
    safe: IntRect  # the safe area, print-file px
    trim: IntRect  # the file minus its bleed, print-file px
    size: tuple[int, int]  # the print file, px
    shrunk: bool  # cover mode: shrunk to keep a motif inside the safe area

    @property
    def placement(self) -> Placement:
        return Placement(box=self.box, scale=self.scale)

    def to_print(self, rect: Rect) -> Rect:
        """A canvas-px rectangle in print-file px."""
        s, (ox, oy) = self.scale, self.origin
        return (ox + rect[0] * s, oy + rect[1] * s, ox + rect[2] * s, oy + rect[3] * s)

    def to_canvas(self, rect: Rect) -> Rect:
        """A print-file-px rectangle in canvas px."""
        s, (ox, oy) = self.scale, self.origin
        return ((rect[0] - ox) / s, (rect[1] - oy) / s, (rect[2] - ox) / s, (rect[3] - oy) / s)


def safe_inset(area: PrintArea) -> int:
    """How far inside the file's edge key artwork must stay, print-file px."""
    return max(area.safe_margin_px, area.bleed_px)


def spans_canvas(bbox: Rect, canvas: Canvas) -> bool:
    """Whether a painted box reaches every edge of the canvas (a full-canvas design)."""
    tx = max(1.0, canvas.width * _FULL_CANVAS_TOLERANCE)
    ty = max(1.0, canvas.height * _FULL_CANVAS_TOLERANCE)
    return (
        bbox[0] <= tx
        and bbox[1] <= ty
        and bbox[2] >= canvas.width - tx
        and bbox[3] >= canvas.height - ty
    )


def painted_bbox(doc: DesignDocument, *, media: MediaLoader | None = None) -> Rect | None:
    """The design's painted area in canvas px: its layers, or the whole canvas if it has a
    background colour; clipped to the canvas (nothing outside it is rendered)."""
    return merge_background(doc, content_bbox(doc, media=media))


def merge_background(doc: DesignDocument, layers_bbox: Rect | None) -> Rect | None:
    """`layers_bbox` widened to the canvas when the canvas has a background, clipped to it."""
    cw, ch = float(doc.canvas.width), float(doc.canvas.height)
    if doc.canvas.background is not None:
        return (0.0, 0.0, cw, ch)
    if layers_bbox is None:
        return None
    x0, y0 = max(0.0, layers_bbox[0]), max(0.0, layers_bbox[1])
    x1, y1 = min(cw, layers_bbox[2]), min(ch, layers_bbox[3])
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0, y0, x1, y1)


def plan_for_bbox(
    canvas: Canvas, bbox: Rect, area: PrintArea, print_file: PrintFile
) -> PlacementPlan:
    """Place a painted area (canvas px) in a print file by the rules in the module docstring."""
    width, height = print_file.width_px, print_file.height_px
    inset = safe_inset(area)
    if 2 * inset >= width or 2 * inset >= height:
        raise PrintFileError(
            f"print_areas[{area.key}].safe_margin_px",
            f"a margin of {inset} px leaves no safe area in a {width}×{height} px print file; "
            f"use a margin below {min(width, height) // 2} px",
        )
    safe = (inset, inset, width - inset, height - inset)
    bleed = area.bleed_px
    trim = (bleed, bleed, width - bleed, height - bleed)
    bx0, by0, bx1, by1 = bbox
    bw, bh = max(bx1 - bx0, 1e-6), max(by1 - by0, 1e-6)

    if print_file.fill_mode == "cover" or area.placement == "full_bleed":
        scale = max(width / canvas.width, height / canvas.height)
        ox = (width - canvas.width * scale) / 2
        oy = (height - canvas.height * scale) / 2
        full = spans_canvas(bbox, canvas)
        shrunk = False
        if not full:
            # Shrink about the file centre so the motif sits inside the safe area.
            k = _shrink_to_fit(
                (ox + bx0 * scale, oy + by0 * scale, ox + bx1 * scale, oy + by1 * scale),
                safe,
                (width / 2, height / 2),
            )
            if k < 1.0:
                shrunk = True
                scale *= k
                ox = width / 2 + (ox - width / 2) * k
                oy = height / 2 + (oy - height / 2) * k
        box = (
            round(ox + bx0 * scale),
            round(oy + by0 * scale),
            round(ox + bx1 * scale),
            round(oy + by1 * scale),
        )
        return PlacementPlan(
            rule="full_bleed" if full else "canvas",
            scale=scale,
            origin=(ox, oy),
            box=box,
            safe=safe,
            trim=trim,
            size=(width, height),
            shrunk=shrunk,
        )

    sw, sh = width - 2 * inset, height - 2 * inset
    scale = min(sw / bw, sh / bh)
    box_w = min(sw, max(1, round(bw * scale)))
    box_h = min(sh, max(1, round(bh * scale)))
    x0 = inset + round((sw - box_w) / 2)
    y0 = inset if area.placement == "top_center" else inset + round((sh - box_h) / 2)
    return PlacementPlan(
        rule="top_center" if area.placement == "top_center" else "center",
        scale=scale,
        origin=(x0 - bx0 * scale, y0 - by0 * scale),
        box=(x0, y0, x0 + box_w, y0 + box_h),
        safe=safe,
        trim=trim,
        size=(width, height),
        shrunk=False,
    )


def _shrink_to_fit(box: Rect, safe: IntRect, centre: tuple[float, float]) -> float:
    """The largest factor ≤ 1 that, scaling `box` about `centre`, brings it inside `safe`."""
    cx, cy = centre
    k = 1.0
    for edge, limit, c in (
        (box[0], safe[0], cx),
        (box[1], safe[1], cy),
        (box[2], safe[2], cx),
        (box[3], safe[3], cy),
    ):
        reach, room = edge - c, limit - c
        # Only an edge past its limit constrains; the safe area is symmetric about the centre.
        if abs(reach) > abs(room) and reach != 0:
            k = min(k, room / reach)
    return max(k, 1e-6)


def plan_placement(
    doc: DesignDocument,
    area: PrintArea,
    print_file: PrintFile,
    *,
    media: MediaLoader | None = None,
) -> Placement:
    """Where the design's content goes in this print file, and at what scale."""
    bbox = painted_bbox(doc, media=media)
    if bbox is None:
        raise EmptyDesignError()
    return plan_for_bbox(doc.canvas, bbox, area, print_file).placement


def crop_document(doc: DesignDocument, region: IntRect) -> DesignDocument:
    """The document with its canvas cut down to `region` (canvas px): layers shift with it, so
    rendering it draws exactly that part of the original canvas."""
    x0, y0, x1, y1 = region
    # The renderer sizes texture features in thousandths of the canvas's longer side; scale each
    # texture so its features keep their size on the smaller canvas.
    texture_factor = max(doc.canvas.width, doc.canvas.height) / max(x1 - x0, y1 - y0)
    layers = []
    for layer in doc.layers:
        update: dict[str, object] = {"x": layer.x - x0, "y": layer.y - y0}
        if layer.texture is not None and texture_factor != 1:
            update["texture"] = layer.texture.model_copy(
                update={"scale": layer.texture.scale * texture_factor}
            )
        layers.append(layer.model_copy(update=update))
    # model_copy skips validation on purpose: a region may be smaller than the canvas minimum,
    # shifted centres and texture scales may leave the documented ranges; the renderer takes all.
    canvas = doc.canvas.model_copy(update={"width": x1 - x0, "height": y1 - y0})
    return doc.model_copy(update={"canvas": canvas, "layers": layers})


def render_plan(
    doc: DesignDocument,
    plan: PlacementPlan,
    *,
    media: MediaLoader | None = None,
) -> Image.Image:
    """The print-file image (RGBA, exactly the plan's size) for a plan made for this document."""
    width, height = plan.size
    # What lands in the file: the painted box, clipped to the file.
    tx0, ty0 = max(0, plan.box[0]), max(0, plan.box[1])
    tx1, ty1 = min(width, plan.box[2]), min(height, plan.box[3])
    out_of_file = tx1 <= tx0 or ty1 <= ty0
    if out_of_file:
        return Image.new("RGBA", (width, height), (0, 0, 0, 0))
    # The canvas region behind it, one canvas px wider on each side so rounding never leaves a
    # transparent seam; the render is cropped back to the exact box below.
    cx0, cy0, cx1, cy1 = plan.to_canvas((tx0, ty0, tx1, ty1))
    rx0 = max(0, math.floor(cx0) - 1)
    ry0 = max(0, math.floor(cy0) - 1)
    rx1 = min(doc.canvas.width, math.ceil(cx1) + 1)
    ry1 = min(doc.canvas.height, math.ceil(cy1) + 1)
    result = render(crop_document(doc, (rx0, ry0, rx1, ry1)), scale=plan.scale, media=media)
    image = result.image if result.image.mode == "RGBA" else result.image.convert("RGBA")
    # Where the rendered region's top-left lands in the file.
    ox = plan.origin[0] + rx0 * plan.scale
    oy = plan.origin[1] + ry0 * plan.scale
    left, top = round(tx0 - ox), round(ty0 - oy)
    tile = image.crop((left, top, left + tx1 - tx0, top + ty1 - ty0))
    if (tx0, ty0, tx1, ty1) == (0, 0, width, height):
        return tile
    canvas = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    canvas.paste(tile, (tx0, ty0))
    return canvas


def encode_png(image: Image.Image, dpi: int) -> bytes:
    """PNG bytes with a pHYs chunk saying `dpi` (what providers read as the print resolution)."""
    buffer = io.BytesIO()
    image.save(
        buffer,
        format="PNG",
        dpi=(dpi, dpi),
        compress_level=PNG_COMPRESS_LEVEL,
        compress_type=PNG_STRATEGY,
    )
    return buffer.getvalue()


def render_print_image(
    doc: DesignDocument,
    area: PrintArea,
    print_file: PrintFile,
    *,
    media: MediaLoader | None = None,
) -> tuple[Image.Image, Placement]:
    """The print file as an RGBA image (not yet encoded) and its placement: for callers that
    composite it (mockups) and would otherwise decode the PNG again."""
    bbox = painted_bbox(doc, media=media)
    if bbox is None:
        raise EmptyDesignError()
    plan = plan_for_bbox(doc.canvas, bbox, area, print_file)
    return render_plan(doc, plan, media=media), plan.placement


def render_print_file(
    doc: DesignDocument,
    area: PrintArea,
    print_file: PrintFile,
    *,
    media: MediaLoader | None = None,
) -> PrintFileRender:
    """The print file for one area: exactly `width_px × height_px`, transparent PNG, pHYs = dpi."""
    image, placement = render_print_image(doc, area, print_file, media=media)
    return _packaged(area, print_file, image, placement)


def _packaged(
    area: PrintArea, print_file: PrintFile, image: Image.Image, placement: Placement
) -> PrintFileRender:
    return PrintFileRender(
        area_key=area.key,
        width_px=print_file.width_px,
        height_px=print_file.height_px,
        dpi=print_file.dpi,
        png=encode_png(image, print_file.dpi),
        placement=placement,
    )


PrintFileKey = tuple[str, int, int, int, str]


def print_file_key(area_key: str, print_file: PrintFile) -> PrintFileKey:
    """What makes two print files the same render: area, pixel size, DPI and fill mode."""
    return (
        area_key,
        print_file.width_px,
        print_file.height_px,
        print_file.dpi,
        print_file.fill_mode,
    )


def _unknown(field: str, kind: str, key: str, valid: Sequence[str], owner: str) -> PrintFileError:
    close = difflib.get_close_matches(key, valid, n=3)
    hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
    return PrintFileError(
        field,
        f"{owner} has no {kind} {key!r}; {hint}valid keys: {', '.join(valid)}",
    )


def select_areas(product_type: ProductType, area_keys: Iterable[str] | None) -> list[PrintArea]:
    """The product's print areas, restricted to `area_keys` (product order); unknown keys raise."""
    if area_keys is None:
        return list(product_type.print_areas)
    wanted = list(dict.fromkeys(area_keys))
    valid = [a.key for a in product_type.print_areas]
    for key in wanted:
        if key not in valid:
            raise _unknown(
                "area_keys", "print area", key, valid, f"product type {product_type.key!r}"
            )
    return [a for a in product_type.print_areas if a.key in wanted]


def select_variants(product_type: ProductType, variant_keys: Iterable[str] | None) -> list[Variant]:
    """The product's variants, restricted to `variant_keys` (product order); unknown keys raise."""
    if variant_keys is None:
        return list(product_type.variants)
    wanted = list(dict.fromkeys(variant_keys))
    valid = [v.key for v in product_type.variants]
    for key in wanted:
        if key not in valid:
            raise _unknown(
                "variant_keys", "variant", key, valid, f"product type {product_type.key!r}"
            )
    if not wanted:
        raise PrintFileError(
            "variant_keys", "is empty; select at least one variant, or pass None for all"
        )
    return [v for v in product_type.variants if v.key in wanted]


def distinct_print_files(
    area: PrintArea, variants: Sequence[Variant]
) -> list[tuple[PrintFile, list[str]]]:
    """The distinct print files of one area among these variants, each with its variant keys."""
    groups: dict[PrintFileKey, tuple[PrintFile, list[str]]] = {}
    for variant in variants:
        pf = variant.print_files.get(area.key)
        if pf is None:
            continue
        key = print_file_key(area.key, pf)
        if key not in groups:
            groups[key] = (pf, [])
        groups[key][1].append(variant.key)
    return list(groups.values())


def render_product_print_files(
    doc: DesignDocument,
    product_type: ProductType,
    *,
    variant_keys: list[str] | None = None,
    area_keys: list[str] | None = None,
    media: MediaLoader | None = None,
) -> list[tuple[PrintFileRender, list[str]]]:
    """Every distinct print file of the product (area × size × DPI rendered once), each with the
    variant keys that use it. An area none of the selected variants prints is an error when asked
    for by name and skipped otherwise."""
    areas = select_areas(product_type, area_keys)
    variants = select_variants(product_type, variant_keys)
    bbox = painted_bbox(doc, media=media)
    if bbox is None:
        raise EmptyDesignError()
    out: list[tuple[PrintFileRender, list[str]]] = []
    for area in areas:
        groups = distinct_print_files(area, variants)
        if not groups and area_keys is not None:
            raise PrintFileError(
                "area_keys",
                f"none of the selected variants of {product_type.key!r} prints {area.key!r}; "
                "drop it or select a variant that has it",
            )
        for pf, keys in groups:
            plan = plan_for_bbox(doc.canvas, bbox, area, pf)
            image = render_plan(doc, plan, media=media)
            out.append((_packaged(area, pf, image, plan.placement), keys))
    return out

"""Draw a design document: its layer stack, bottom to top, on a transparent RGBA canvas.

Each layer is painted into a tile of its own (glyph or shape masks, then fill and outlines, glow and
shadow beneath them, then texture and opacity), rotated about its centre and composited onto the
canvas; `erase` layers cut their shape out of what is below instead. Every size in the document is
in canvas pixels and multiplied by `scale`, so the 600 px preview and the print file are the same
picture. The metrics each layer reports (where it painted, its type size, its thinnest stroke) are
what print-file validation checks, so they come from the painted pixels, not from the document.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw, ImageFont

from flashfusion.studio import effects
from flashfusion.studio.document import (
    DesignDocument,
    Glow,
    ImageLayer,
    Shadow,
    ShapeLayer,
    TextLayer,
    colour_rgba,
)
from flashfusion.studio.fonts import FONTS, get_font, missing_chars, stem_em

MediaLoader = Callable[[str], Image.Image]
"""media_id -> RGBA image; raises KeyError if there is no such image."""

Box = tuple[float, float, float, float]
AnyLayer = TextLayer | ImageLayer | ShapeLayer

MAX_OUTPUT_PX = 24_000  # longest output side render() accepts; print files are far smaller
MAX_TILE_PX = 120_000_000  # one layer's own image (about 480 MB as RGBA); print layers are far less
CONTENT_BBOX_PX = 1000  # long side of the probe render content_bbox() measures on
_MEASURE_PX = 200.0  # type size text is measured at before scaling (advances are linear)


@dataclass(frozen=True)
class LayerMetrics:
    """What one layer painted, in canvas px, for validation and placement."""

    layer_id: str
    kind: str  # "text" | "image" | "shape"
    # Painted pixels incl. outline/shadow/glow, clipped to the canvas: (x0, y0, x1, y1).
    # None if the layer painted nothing (hidden, fully transparent, or entirely off the canvas).
    # An `erase` layer reports the area it cut out.
    bbox: Box | None
    text_px: float | None  # text: type size after the max_width shrink
    stroke_px: float | None  # thinnest stroke painted: outlines, line/stripe bars, glyph stems
    media_id: str | None  # image layers
    drawn_size: tuple[float, float] | None  # image layers: drawn width and height


@dataclass(frozen=True)
class RenderResult:
    image: Image.Image  # RGBA, (round(canvas.width * scale), round(canvas.height * scale))
    layers: list[LayerMetrics]
    scale: float


@dataclass(frozen=True)
class DocumentProblem:
    """Something in a document that would not print as the creator expects."""

    field: str  # for example "layers[1].font"
    message: str  # what is wrong and what to do


class RenderError(ValueError):
    """The document cannot be drawn as given; `field` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class _Context:
    scale: float  # output px per canvas px
    unit: float  # texture unit: a thousandth of the canvas's long side, canvas px
    media: MediaLoader | None


@dataclass(frozen=True)
class _Tile:
    image: Image.Image  # RGBA
    anchor: tuple[float, float]  # the layer's centre (x, y), tile px


# --- text layout ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    """Glyphs drawn together: straight runs start at (x, y) on the baseline; arc glyphs
    (`centred`) have their baseline-centre pivot at (x, y) and are turned `angle` degrees
    clockwise."""

    text: str
    x: float
    y: float
    angle: float
    advance: float
    centred: bool = False


def _lines(layer: TextLayer) -> list[str]:
    text = layer.text.upper() if layer.uppercase else layer.text
    return text.split("\n")


def _layout(layer: TextLayer, font: ImageFont.FreeTypeFont, size: float) -> list[_Run]:
    """Runs in block coordinates: line 0's baseline at y = 0, the block centred on x = 0."""
    lines = _lines(layer)
    spacing = layer.letter_spacing * size
    pitch = layer.line_height * size
    per_glyph = spacing != 0 or layer.arc != 0
    # Prefix lengths keep the font's kerning while letters are placed one by one; whole runs
    # need only their length.
    offsets = [
        [font.getlength(line[:i]) for i in range(len(line) + 1)]
        if per_glyph
        else [font.getlength(line)]
        for line in lines
    ]
    widths = [
        o[-1] + spacing * max(len(line) - 1, 0) for o, line in zip(offsets, lines, strict=True)
    ]
    block = max(widths)
    runs: list[_Run] = []
    arc = math.radians(layer.arc)
    radius = block / abs(arc) if arc else 0.0
    for k, (line, prefix, width) in enumerate(zip(lines, offsets, widths, strict=True)):
        start = {"left": 0.0, "center": (block - width) / 2, "right": block - width}[layer.align]
        start -= block / 2
        baseline = k * pitch
        if not per_glyph:
            if line:
                runs.append(_Run(line, start, baseline, 0.0, width))
            continue
        for i, char in enumerate(line):
            if char.isspace():
                continue
            x = start + prefix[i] + spacing * i
            advance = prefix[i + 1] - prefix[i]
            if not arc:
                runs.append(_Run(char, x, baseline, 0.0, advance))
                continue
            along = x + advance / 2
            # Lines share the circle's centre: an arch's lower lines sit on smaller circles.
            if arc > 0:
                r = max(radius - k * pitch, size * 0.5)
                phi = along / r
                px, py = r * math.sin(phi), radius - r * math.cos(phi)
                angle = math.degrees(phi)
            else:
                r = radius + k * pitch
                phi = along / r
                px, py = r * math.sin(phi), -radius + r * math.cos(phi)
                angle = -math.degrees(phi)
            runs.append(_Run(char, px, py, angle, advance, centred=True))
    return runs


def arc_centre(layer: TextLayer) -> tuple[float, float] | None:
    """Where the circle an arched layer's first baseline follows has its centre, relative to the
    layer's (x, y) before rotation, canvas px; None for straight text. Presets use it to sit
    arched text on a badge's ring."""
    if not layer.arc:
        return None
    size = text_size(layer)
    font = get_font(layer.font, size)
    runs = _layout(layer, font, size)
    if not runs:
        return None
    lines = _lines(layer)
    spacing = layer.letter_spacing * size
    block = max(font.getlength(line) + spacing * max(len(line) - 1, 0) for line in lines)
    radius = block / abs(math.radians(layer.arc))
    ink = _union_box([_run_bounds(run, font, 0) for run in runs])
    centre_y = radius if layer.arc > 0 else -radius
    return -(ink[0] + ink[2]) / 2, centre_y - (ink[1] + ink[3]) / 2


def text_ink_size(layer: TextLayer) -> tuple[float, float]:
    """Width and height (canvas px) of the layer's glyph ink, before outlines, effects and
    rotation; the ink box is centred on the layer's (x, y)."""
    size = text_size(layer)
    font = get_font(layer.font, size)
    runs = _layout(layer, font, size)
    if not runs:
        return 0.0, 0.0
    ink = _union_box([_run_bounds(run, font, 0) for run in runs])
    return ink[2] - ink[0], ink[3] - ink[1]


def _rotate_point(x: float, y: float, degrees: float) -> tuple[float, float]:
    """Rotate clockwise on screen (y points down)."""
    t = math.radians(degrees)
    return x * math.cos(t) - y * math.sin(t), x * math.sin(t) + y * math.cos(t)


def _run_bounds(run: _Run, font: ImageFont.FreeTypeFont, stroke: float) -> Box:
    left, top, right, bottom = font.getbbox(run.text, anchor="ls", stroke_width=stroke)
    if not run.centred:
        return run.x + left, run.y + top, run.x + right, run.y + bottom
    half = run.advance / 2
    corners = [
        _rotate_point(cx - half, cy, run.angle)
        for cx, cy in ((left, top), (right, top), (left, bottom), (right, bottom))
    ]
    xs = [run.x + c[0] for c in corners]
    ys = [run.y + c[1] for c in corners]
    return min(xs), min(ys), max(xs), max(ys)


def _union_box(boxes: Sequence[Box]) -> Box:
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _stroke_widths(layer: TextLayer) -> tuple[float, float]:
    """Outer edge of the first and second outline beyond the glyph edge, canvas px."""
    first = layer.outline.width if layer.outline else 0.0
    second = first + (layer.outline2.width if layer.outline2 else 0.0)
    return first, second


def text_size(layer: TextLayer) -> float:
    """The type size (canvas px) the layer renders at, after `max_width` shrinks it."""
    size = layer.size
    if layer.max_width is None:
        return size
    font = get_font(layer.font, _MEASURE_PX)
    # An arched line is measured along its baseline, as if straight.
    flat = layer.model_copy(update={"arc": 0.0}) if layer.arc else layer
    runs = _layout(flat, font, _MEASURE_PX)
    if not runs:
        return size
    box = _union_box([_run_bounds(run, font, 0) for run in runs])
    ink = (box[2] - box[0]) * size / _MEASURE_PX
    strokes = 2 * _stroke_widths(layer)[1]
    if ink + strokes <= layer.max_width:
        return size
    room = max(layer.max_width - strokes, layer.max_width * 0.05)
    # A hair under the exact ratio, so hinting at the new size cannot push it over.
    return size * room / ink * 0.995


# --- tiles ------------------------------------------------------------------------------------


def _effect_pad(layer: AnyLayer, ctx: _Context, shadow: Shadow | None, glow: Glow | None) -> float:
    """Tile margin (output px) for what paints beyond the layer's own pixels."""
    pad = 2.0
    if shadow:
        pad += (abs(shadow.dx) + abs(shadow.dy) + 3 * shadow.blur) * ctx.scale
    if glow:
        pad = max(pad, 2 + 3 * glow.radius * ctx.scale)
    if layer.texture:
        pad += effects.texture_padding(layer.texture, ctx.scale, ctx.unit)
    return pad


def _local_offset(layer: AnyLayer, shadow: Shadow, scale: float) -> tuple[int, int]:
    """Shadow offset in the layer's own frame: light comes from the same side however it turns."""
    dx, dy = _rotate_point(shadow.dx * scale, shadow.dy * scale, -layer.rotation)
    return round(dx), round(dy)


def _finish(
    layer: AnyLayer,
    body: Image.Image,
    ctx: _Context,
    box: Box,
    shadow: Shadow | None,
    glow: Glow | None,
) -> Image.Image:
    """Put glow and shadow beneath the body, then texture and opacity over the whole tile."""
    tile = body
    if shadow or glow:
        silhouette = body.getchannel("A")
        tile = Image.new("RGBA", body.size)
        if shadow:
            dx, dy = _local_offset(layer, shadow, ctx.scale)
            tile = effects.shadow_paint(
                silhouette, colour_rgba(shadow.colour), dx, dy, shadow.blur * ctx.scale
            )
        if glow:
            halo = effects.glow_paint(
                silhouette, colour_rgba(glow.colour), glow.radius * ctx.scale, glow.strength
            )
            tile.alpha_composite(halo)
        tile.alpha_composite(body)
    if layer.texture:
        tile = effects.apply_texture(tile, layer.texture, scale=ctx.scale, unit=ctx.unit, box=box)
    if layer.opacity < 1:
        alpha = tile.getchannel("A").point(lambda v: round(v * layer.opacity))
        tile.putalpha(alpha)
    return tile


def _paste_max(target: Image.Image, piece: Image.Image, x: int, y: int) -> None:
    """Paste an L mask onto another, keeping the brighter pixel where they overlap."""
    left, top = max(0, x), max(0, y)
    right, bottom = min(target.width, x + piece.width), min(target.height, y + piece.height)
    if right <= left or bottom <= top:
        return
    crop = piece.crop((left - x, top - y, right - x, bottom - y))
    region = (left, top, right, bottom)
    target.paste(ImageChops.lighter(target.crop(region), crop), region)


def _draw_runs(
    size: tuple[int, int],
    runs: list[_Run],
    font: ImageFont.FreeTypeFont,
    stroke: float,
    origin: tuple[float, float],
) -> Image.Image:
    """The glyph coverage mask of `runs` (thickened by `stroke`) on a tile whose (0, 0) sits at
    `origin` in block coordinates."""
    mask = Image.new("L", size)
    draw = ImageDraw.Draw(mask)
    ox, oy = origin
    for run in runs:
        if not run.angle:
            start = run.x - run.advance / 2 if run.centred else run.x
            draw.text(
                (start - ox, run.y - oy),
                run.text,
                font=font,
                fill=255,
                anchor="ls",
                stroke_width=stroke,
            )
            continue
        left, top, right, bottom = font.getbbox(run.text, anchor="ls", stroke_width=stroke)
        glyph = Image.new("L", (math.ceil(right - left) + 2, math.ceil(bottom - top) + 2))
        ImageDraw.Draw(glyph).text(
            (1 - left, 1 - top), run.text, font=font, fill=255, anchor="ls", stroke_width=stroke
        )
        pivot = (1 - left + run.advance / 2, 1 - top)
        turned = glyph.rotate(-run.angle, resample=Image.Resampling.BICUBIC, expand=True)
        vx, vy = _rotate_point(pivot[0] - glyph.width / 2, pivot[1] - glyph.height / 2, run.angle)
        px, py = turned.width / 2 + vx, turned.height / 2 + vy
        _paste_max(mask, turned, round(run.x - ox - px), round(run.y - oy - py))
    return mask


def _check_tile(size: tuple[int, int], index: int, what: str) -> None:
    """Refuse a layer whose own image would not fit in memory, before allocating it."""
    if size[0] * size[1] > MAX_TILE_PX:
        raise RenderError(
            f"layers[{index}]",
            f"this layer would be a {size[0]}×{size[1]} px image at this scale, too large to "
            f"draw; {what}",
        )


def _text_tile(layer: TextLayer, size: float, ctx: _Context, index: int) -> _Tile | None:
    px = size * ctx.scale
    if px < 0.5:
        return None  # below half a pixel nothing would show; the metrics still carry the size
    font = get_font(layer.font, px)
    runs = _layout(layer, font, px)
    if not runs:
        return None
    first, second = (w * ctx.scale for w in _stroke_widths(layer))
    outer = max(first, second)
    extent = _union_box([_run_bounds(run, font, outer) for run in runs])
    pad = _effect_pad(layer, ctx, layer.shadow, layer.glow)
    origin = (math.floor(extent[0] - pad), math.floor(extent[1] - pad))
    tile_size = (
        math.ceil(extent[2] + pad) - origin[0] + 1,
        math.ceil(extent[3] + pad) - origin[1] + 1,
    )
    _check_tile(tile_size, index, "make the text smaller or shorter, or set max_width")
    fill_mask = _draw_runs(tile_size, runs, font, 0, origin)
    ink = fill_mask.getbbox()
    if ink is None:
        return None
    # Strokes are painted whole beneath the fill (not as rings) so no seam shows between them.
    paints = []
    if layer.outline2:
        mask = _draw_runs(tile_size, runs, font, second, origin)
        paints.append(effects.colour_paint(colour_rgba(layer.outline2.colour), mask))
    if layer.outline:
        mask = _draw_runs(tile_size, runs, font, first, origin)
        paints.append(effects.colour_paint(colour_rgba(layer.outline.colour), mask))
    box = (float(ink[0]), float(ink[1]), float(ink[2]), float(ink[3]))
    paints.append(effects.fill_paint(layer.fill, fill_mask, box))
    body = paints[0]
    for paint in paints[1:]:
        body.alpha_composite(paint)
    tile = _finish(layer, body, ctx, box, layer.shadow, layer.glow)
    return _Tile(tile, ((ink[0] + ink[2]) / 2, (ink[1] + ink[3]) / 2))


def _supersample(width: float, height: float) -> int:
    """Antialiasing factor for shape masks: 4× when small, less when the mask is large."""
    area = max(width * height, 1.0)
    for factor in (4, 2):
        if area * factor * factor <= 16_000_000:
            return factor
    return 1


def _star_points(box: Box, count: int, inner_ratio: float) -> list[tuple[float, float]]:
    x0, y0, x1, y1 = box
    cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    points = []
    for i in range(2 * count):
        r = 1.0 if i % 2 == 0 else inner_ratio
        theta = -math.pi / 2 + i * math.pi / count
        points.append((cx + rx * r * math.cos(theta), cy + ry * r * math.sin(theta)))
    return points


def _stripe_bands(layer: ShapeLayer, box: Box) -> list[Box]:
    x0, y0, x1, y1 = box
    pitch = (y1 - y0) / layer.count
    bands = []
    for i in range(layer.count):
        position = 2 * i / (layer.count - 1) - 1  # -1 at the top band, +1 at the bottom
        gap = min(max(layer.gap * (1 + layer.taper * position), 0.0), 0.95)
        thickness = pitch * (1 - gap)
        middle = y0 + (i + 0.5) * pitch
        bands.append((x0, middle - thickness / 2, x1, middle + thickness / 2))
    return bands


def _shape_mask(
    layer: ShapeLayer, size: tuple[int, int], box: Box, ctx: _Context, outline: bool
) -> Image.Image:
    """The shape's fill coverage, or (outline=True) the ring its outline paints inside its edge."""
    ss = _supersample(box[2] - box[0], box[3] - box[1])
    if layer.shape == "splatter":
        return effects.splatter_mask(size, box, layer.count, layer.seed, ss)
    big = Image.new("L", (size[0] * ss, size[1] * ss))
    draw = ImageDraw.Draw(big)
    x0, y0, x1, y1 = (v * ss for v in box)
    frame = [x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)]
    width = max(1, round(layer.outline.width * ctx.scale * ss)) if outline and layer.outline else 0
    # Pillow draws outlines inside the shape's edge, so a shape never outgrows its box.
    fill, line = (None, 255) if outline else (255, None)
    radius = min(layer.corner_radius * ctx.scale * ss, (x1 - x0) / 2, (y1 - y0) / 2)
    if layer.shape in {"rectangle", "line"}:
        draw.rounded_rectangle(frame, radius=radius, fill=fill, outline=line, width=width)
    elif layer.shape == "ellipse":
        draw.ellipse(frame, fill=fill, outline=line, width=width)
    elif layer.shape in {"triangle", "star"}:
        points = (
            [((x0 + x1) / 2, y0), (x1, y1), (x0, y1)]
            if layer.shape == "triangle"
            else _star_points((x0, y0, x1, y1), layer.count, layer.inner_ratio)
        )
        draw.polygon(points, fill=fill, outline=line, width=width)
    elif layer.shape == "sunburst":
        ray = 360 / layer.count
        for i in range(layer.count):
            start = -90 + i * ray - ray / 4
            draw.pieslice(frame, start, start + ray / 2, fill=fill, outline=line, width=width)
    elif layer.shape == "stripes":
        for bx0, by0, bx1, by1 in _stripe_bands(layer, (x0, y0, x1, y1)):
            band = [bx0, by0, max(bx0, bx1 - 1), max(by0, by1 - 1)]
            r = min(radius, (by1 - by0) / 2)
            draw.rounded_rectangle(band, radius=r, fill=fill, outline=line, width=width)
    return big.reduce(ss) if ss > 1 else big


def _shape_tile(layer: ShapeLayer, ctx: _Context, index: int) -> _Tile | None:
    if layer.fill is None and layer.outline is None:
        return None
    width, height = layer.width * ctx.scale, layer.height * ctx.scale
    pad = _effect_pad(layer, ctx, layer.shadow, layer.glow)
    tile_size = (math.ceil(width + 2 * pad), math.ceil(height + 2 * pad))
    _check_tile(tile_size, index, "make the shape or its glow and shadow smaller")
    box = (pad, pad, pad + width, pad + height)
    body: Image.Image | None = None
    if layer.fill is not None:
        body = effects.fill_paint(layer.fill, _shape_mask(layer, tile_size, box, ctx, False), box)
    if layer.outline is not None and layer.shape != "splatter":
        ring = _shape_mask(layer, tile_size, box, ctx, True)
        paint = effects.colour_paint(colour_rgba(layer.outline.colour), ring)
        if body is None:
            body = paint
        else:
            body.alpha_composite(paint)
    if body is None:
        return None  # a splatter with only an outline paints nothing
    tile = _finish(layer, body, ctx, box, layer.shadow, layer.glow)
    return _Tile(tile, (pad + width / 2, pad + height / 2))


def _image_tile(layer: ImageLayer, index: int, ctx: _Context) -> _Tile:
    field = f"layers[{index}].media_id"
    if ctx.media is None:
        raise RenderError(field, "the design has an image layer but no media loader was given")
    try:
        source = ctx.media(layer.media_id)
    except KeyError:
        raise RenderError(
            field,
            f"image {layer.media_id!r} is not in this workspace's media; "
            "upload it again or remove the layer",
        ) from None
    width = max(1, round(layer.width * ctx.scale))
    height = max(1, round(layer.height * ctx.scale))
    _check_tile((width, height), index, "draw the image smaller")
    drawn = source.convert("RGBA").resize(
        (width, height), Image.Resampling.LANCZOS, reducing_gap=3.0
    )
    pad = math.ceil(_effect_pad(layer, ctx, None, None))
    tile = Image.new("RGBA", (width + 2 * pad, height + 2 * pad))
    tile.paste(drawn, (pad, pad))
    box = (float(pad), float(pad), float(pad + width), float(pad + height))
    return _Tile(_finish(layer, tile, ctx, box, None, None), (pad + width / 2, pad + height / 2))


def _turn(tile: _Tile, degrees: float) -> _Tile:
    """Rotate a tile clockwise about its anchor."""
    if not degrees % 360:
        return tile
    image = tile.image
    anchor = tile.anchor
    painted = image.getchannel("A").getbbox()
    if painted is not None:
        # Padding that stayed empty need not be rotated.
        image = image.crop(painted)
        anchor = (anchor[0] - painted[0], anchor[1] - painted[1])
    # Bicubic costs about twice bilinear; on print-size tiles the difference is invisible.
    big = image.width * image.height > 4_000_000
    resample = Image.Resampling.BILINEAR if big else Image.Resampling.BICUBIC
    turned = image.rotate(-degrees, resample=resample, expand=True)
    vx, vy = _rotate_point(anchor[0] - image.width / 2, anchor[1] - image.height / 2, degrees)
    return _Tile(turned, (turned.width / 2 + vx, turned.height / 2 + vy))


# --- the stack --------------------------------------------------------------------------------


def _stroke_px(layer: AnyLayer, size: float | None) -> float | None:
    widths: list[float] = []
    if isinstance(layer, TextLayer):
        widths.append(stem_em(layer.font) * (size or layer.size))
        widths += [o.width for o in (layer.outline, layer.outline2) if o]
    elif isinstance(layer, ShapeLayer):
        if layer.outline and layer.shape != "splatter":
            widths.append(layer.outline.width)
        if layer.shape == "line" and layer.fill:
            widths.append(min(layer.width, layer.height))
        if layer.shape == "stripes" and layer.fill:
            bands = _stripe_bands(layer, (0, 0, layer.width, layer.height))
            widths.append(min(b[3] - b[1] for b in bands))
    return min(widths) if widths else None


def _check_scale(doc: DesignDocument, scale: float) -> tuple[int, int]:
    if not math.isfinite(scale) or scale <= 0:
        raise RenderError(
            "scale", f"scale must be a positive number of output px per canvas px, not {scale!r}"
        )
    size = (round(doc.canvas.width * scale), round(doc.canvas.height * scale))
    if min(size) < 1 or max(size) > MAX_OUTPUT_PX:
        raise RenderError(
            "scale",
            f"scale {scale} makes a {size[0]}×{size[1]} px image; "
            f"choose one that gives 1 to {MAX_OUTPUT_PX} px per side",
        )
    return size


def _context(doc: DesignDocument, scale: float, media: MediaLoader | None) -> _Context:
    return _Context(scale, max(doc.canvas.width, doc.canvas.height) / 1000, media)


def render(
    doc: DesignDocument, *, scale: float = 1.0, media: MediaLoader | None = None
) -> RenderResult:
    """Draw `doc` at `scale` output px per canvas px; image layers load through `media`.

    Raises RenderError for a bad scale, an image layer without a loader or a media id the loader
    does not know, and fonts.UnknownFont for a font that is not bundled (check_document reports
    both without raising).
    """
    size = _check_scale(doc, scale)
    ctx = _context(doc, scale, media)
    background = colour_rgba(doc.canvas.background) if doc.canvas.background else (0, 0, 0, 0)
    canvas = Image.new("RGBA", size, background)
    metrics: list[LayerMetrics] = []
    for index, layer in enumerate(doc.layers):
        metrics.append(_render_layer(canvas, layer, index, ctx, doc))
    return RenderResult(canvas, metrics, scale)


def _render_layer(
    canvas: Image.Image, layer: AnyLayer, index: int, ctx: _Context, doc: DesignDocument
) -> LayerMetrics:
    kind = layer.type
    media_id = layer.media_id if isinstance(layer, ImageLayer) else None
    drawn = (layer.width, layer.height) if isinstance(layer, ImageLayer) else None
    text_px = text_size(layer) if isinstance(layer, TextLayer) else None
    stroke = _stroke_px(layer, text_px)
    if not layer.visible or layer.opacity == 0:
        return LayerMetrics(layer.id, kind, None, text_px, stroke, media_id, drawn)
    tile: _Tile | None
    if isinstance(layer, TextLayer):
        tile = _text_tile(layer, text_px or layer.size, ctx, index)
    elif isinstance(layer, ShapeLayer):
        tile = _shape_tile(layer, ctx, index)
    else:
        tile = _image_tile(layer, index, ctx)
    if tile is None:
        return LayerMetrics(layer.id, kind, None, text_px, stroke, media_id, drawn)
    tile = _turn(tile, layer.rotation)
    x = round(layer.x * ctx.scale - tile.anchor[0])
    y = round(layer.y * ctx.scale - tile.anchor[1])
    painted = tile.image.getchannel("A").getbbox()
    bbox: Box | None = None
    if painted is not None:
        x0, y0 = max(painted[0] + x, 0), max(painted[1] + y, 0)
        x1, y1 = min(painted[2] + x, canvas.width), min(painted[3] + y, canvas.height)
        if x1 > x0 and y1 > y0:
            s = ctx.scale
            bbox = (
                x0 / s,
                y0 / s,
                min(x1 / s, float(doc.canvas.width)),
                min(y1 / s, float(doc.canvas.height)),
            )
            _composite(canvas, tile.image, x, y, layer.blend == "erase")
    return LayerMetrics(layer.id, kind, bbox, text_px, stroke, media_id, drawn)


def _composite(canvas: Image.Image, image: Image.Image, x: int, y: int, erase: bool) -> None:
    left, top = max(0, x), max(0, y)
    right, bottom = min(canvas.width, x + image.width), min(canvas.height, y + image.height)
    piece = image.crop((left - x, top - y, right - x, bottom - y))
    if not erase:
        canvas.alpha_composite(piece, (left, top))
        return
    region = (left, top, right, bottom)
    below = canvas.crop(region)
    keep = ImageChops.invert(piece.getchannel("A"))
    below.putalpha(ImageChops.multiply(below.getchannel("A"), keep))
    canvas.paste(below, region)


def _placeholder_media(_media_id: str) -> Image.Image:
    # An opaque stand-in bounds whatever the real image paints inside its box.
    return Image.new("RGBA", (8, 8), (128, 128, 128, 255))


def content_bbox(doc: DesignDocument, *, media: MediaLoader | None = None) -> Box | None:
    """Canvas-px box that bounds every painted pixel (None for an empty design).

    Measured on a render whose long side is CONTENT_BBOX_PX, widened by one probe pixel and
    clipped to the canvas. Without `media`, image layers count as opaque rectangles.
    """
    scale = min(1.0, CONTENT_BBOX_PX / max(doc.canvas.width, doc.canvas.height))
    result = render(doc, scale=scale, media=media or _placeholder_media)
    painted = result.image.getchannel("A").getbbox()
    if painted is None:
        return None
    return (
        max(0.0, (painted[0] - 1) / scale),
        max(0.0, (painted[1] - 1) / scale),
        min(float(doc.canvas.width), (painted[2] + 1) / scale),
        min(float(doc.canvas.height), (painted[3] + 1) / scale),
    )


# --- checks -----------------------------------------------------------------------------------


def _layer_bounds(layer: AnyLayer, ctx: _Context) -> Box:
    """A conservative canvas-px box around everything the layer could paint (no rasterising)."""
    shadow = layer.shadow if isinstance(layer, TextLayer | ShapeLayer) else None
    glow = layer.glow if isinstance(layer, TextLayer | ShapeLayer) else None
    pad = _effect_pad(layer, ctx, shadow, glow)
    if isinstance(layer, TextLayer):
        size = text_size(layer)
        font = get_font(layer.font, size)
        runs = _layout(layer, font, size) or [_Run("x", 0, 0, 0, 0)]
        ink = _union_box([_run_bounds(run, font, 0) for run in runs])
        outer = _union_box([_run_bounds(run, font, _stroke_widths(layer)[1]) for run in runs])
        cx, cy = (ink[0] + ink[2]) / 2, (ink[1] + ink[3]) / 2
        local = (outer[0] - cx - pad, outer[1] - cy - pad, outer[2] - cx + pad, outer[3] - cy + pad)
    else:
        half_w, half_h = layer.width / 2 + pad, layer.height / 2 + pad
        local = (-half_w, -half_h, half_w, half_h)
    corners = [
        _rotate_point(px, py, layer.rotation)
        for px in (local[0], local[2])
        for py in (local[1], local[3])
    ]
    return (
        layer.x + min(c[0] for c in corners),
        layer.y + min(c[1] for c in corners),
        layer.x + max(c[0] for c in corners),
        layer.y + max(c[1] for c in corners),
    )


def _text_problems(layer: TextLayer, index: int) -> list[DocumentProblem]:
    if layer.font not in FONTS:
        return [
            DocumentProblem(
                f"layers[{index}].font",
                f"font {layer.font!r} is not bundled; use one of: {', '.join(sorted(FONTS))}",
            )
        ]
    text = "\n".join(_lines(layer))
    missing = missing_chars(layer.font, text)
    if not missing:
        return []
    shown = ", ".join(repr(c) for c in missing)
    printable = {c for c in text if not c.isspace()}
    if len(printable) == len(missing):
        message = (
            f"font {layer.font!r} has none of the characters in this text ({shown}), so it "
            "would print nothing; change the text or pick a font that has them"
        )
    else:
        message = (
            f"font {layer.font!r} has no glyph for {shown}; they would print as empty boxes; "
            "remove them or pick a font that has them"
        )
    having = [key for key in sorted(FONTS) if not missing_chars(key, "".join(missing))]
    if having:
        message += f" ({', '.join(having)})"
    return [DocumentProblem(f"layers[{index}].text", message)]


def check_document(
    doc: DesignDocument, *, media_exists: Callable[[str], bool] | None = None
) -> list[DocumentProblem]:
    """What would go wrong rendering `doc`: unknown fonts, glyphs a font lacks, images that are
    not in the media store (checked when `media_exists` is given), layers entirely off the
    canvas. An empty list means it renders as written."""
    problems: list[DocumentProblem] = []
    ctx = _context(doc, 1.0, None)
    width, height = doc.canvas.width, doc.canvas.height
    for index, layer in enumerate(doc.layers):
        if isinstance(layer, TextLayer):
            found = _text_problems(layer, index)
            problems += found
            if any(p.field.endswith(".font") for p in found):
                continue
        if isinstance(layer, ImageLayer) and media_exists and not media_exists(layer.media_id):
            problems.append(
                DocumentProblem(
                    f"layers[{index}].media_id",
                    f"image {layer.media_id!r} is not in this workspace's media; "
                    "upload it again or remove the layer",
                )
            )
        x0, y0, x1, y1 = _layer_bounds(layer, ctx)
        if x1 <= 0 or x0 >= width or y1 <= 0 or y0 >= height:
            axis = "x" if x1 <= 0 or x0 >= width else "y"
            problems.append(
                DocumentProblem(
                    f"layers[{index}].{axis}",
                    f"layer {layer.id!r} lies entirely off the {width}×{height} canvas (it spans "
                    f"x {x0:.0f} to {x1:.0f}, y {y0:.0f} to {y1:.0f}); move it back onto the "
                    "canvas or delete it",
                )
            )
    return problems

"""Pixel effects the renderer composes: paints, blurs, glows, shadows and procedural textures.

Everything works on whole images with Pillow and numpy (no per-pixel Python loops), so a print-size
render stays fast. Procedural patterns are laid out in canvas pixels (`unit` is one thousandth of
the canvas's long side) and seeded, so a texture looks the same in the 600 px preview and the
5400 px print file, and the same document always renders the same pixels.
"""

import math
from functools import lru_cache

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from flashfusion.studio.document import Fill, Texture, colour_rgba

Box = tuple[float, float, float, float]
RGBA = tuple[int, int, int, int]


def _alpha_lut(alpha: int) -> list[int]:
    return [(v * alpha + 127) // 255 for v in range(256)]


def colour_paint(colour: RGBA, mask: Image.Image) -> Image.Image:
    """A solid colour whose alpha is `mask` (L) times the colour's own alpha."""
    r, g, b, a = colour
    image = Image.new("RGBA", mask.size, (r, g, b, 0))
    image.putalpha(mask if a == 255 else mask.point(_alpha_lut(a)))
    return image


@lru_cache(maxsize=64)
def _stops_lut(colours: tuple[str, ...]) -> np.ndarray:
    """A 1024-entry RGBA ramp through evenly spaced stops."""
    stops = np.array([colour_rgba(c) for c in colours], dtype=np.float32)
    positions = np.linspace(0.0, 1.0, len(colours))
    t = np.linspace(0.0, 1.0, 1024)
    channels = [np.interp(t, positions, stops[:, c]) for c in range(4)]
    return np.round(np.stack(channels, axis=1)).astype(np.uint8)


# Gradients are smooth: above this size they are computed on a grid this many times coarser
# and scaled up bilinearly, which reproduces a linear ramp exactly (and a radial one or a stop's
# kink to well under a pixel's worth of colour) at a fraction of the cost of a print-size array.
GRADIENT_STEP = 8
GRADIENT_DIRECT_MAX_SIDE = 256


def gradient_t(fill: Fill, size: tuple[int, int], box: Box, *, step: float = 1.0) -> np.ndarray:
    """Each pixel's position (0..1) along the fill's gradient, spanning `box` (tile px).

    With `step` > 1 the positions are sampled every `step` tile px (at the centres of the
    coarse cells), for a grid of size `size` / `step`."""
    width, height = size
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half_w, half_h = max((x1 - x0) / 2, 0.5), max((y1 - y0) / 2, 0.5)
    xs = np.arange(width, dtype=np.float32) + 0.5 - cx
    ys = np.arange(height, dtype=np.float32) + 0.5 - cy
    if fill.kind == "radial":
        t = np.hypot(xs[None, :] / half_w, ys[:, None] / half_h)
    else:
        angle = math.radians(fill.angle)
        dx, dy = math.cos(angle), math.sin(angle)
        # The gradient spans the box's extent along its direction, end to end.
        extent = abs(dx) * half_w + abs(dy) * half_h
        t = (xs[None, :] * dx + ys[:, None] * dy) / (2 * extent) + 0.5
    return np.clip(t, 0.0, 1.0)


def _gradient_rgba(fill: Fill, size: tuple[int, int], box: Box) -> Image.Image:
    """The fill's colours over the whole tile (RGBA, alpha from the stops)."""
    lut = _stops_lut(tuple(fill.colours))
    width, height = size
    if max(width, height) <= GRADIENT_DIRECT_MAX_SIDE:
        return Image.fromarray(lut[(gradient_t(fill, size, box) * 1023).astype(np.intp)], "RGBA")
    if fill.kind == "linear" and fill.angle % 90 == 0:
        # Axis-aligned: one exact row or column, repeated across the tile.
        # (the other axis's term is multiplied by cos 90° ≈ 0, so one strip is exact).
        vertical = fill.angle % 180 != 0
        strip = (1, height) if vertical else (width, 1)
        t = gradient_t(fill, strip, box)
        line = Image.fromarray(lut[(t * 1023).astype(np.intp)], "RGBA")
        return line.resize(size, Image.Resampling.NEAREST)
    small = (max(2, math.ceil(width / GRADIENT_STEP)), max(2, math.ceil(height / GRADIENT_STEP)))
    # The box in coarse-grid px: the bilinear upscale maps pixel centres to pixel centres, so
    # every tile pixel lands on its own position along the ramp.
    step_x, step_y = width / small[0], height / small[1]
    t = gradient_t(
        fill, small, (box[0] / step_x, box[1] / step_y, box[2] / step_x, box[3] / step_y)
    )
    coarse = Image.fromarray(lut[(t * 1023).astype(np.intp)], "RGBA")
    return coarse.resize(size, Image.Resampling.BILINEAR)


def fill_paint(fill: Fill, mask: Image.Image, box: Box) -> Image.Image:
    """`fill` painted through `mask` (L); gradients span `box` (tile px)."""
    if fill.kind == "solid":
        return colour_paint(colour_rgba(fill.colours[0]), mask)
    image = _gradient_rgba(fill, mask.size, box)
    if all(colour_rgba(c)[3] == 255 for c in fill.colours):
        image.putalpha(mask)
    else:
        image.putalpha(ImageChops.multiply(image.getchannel("A"), mask))
    return image


def blur(mask: Image.Image, radius: float) -> Image.Image:
    """Gaussian blur; radii above a pixel are blurred at reduced size, which looks the same."""
    if radius <= 0.3:
        return mask
    if radius < 12 or min(mask.size) < 64:
        return mask.filter(ImageFilter.GaussianBlur(radius))
    # A wide blur has no fine detail left, so blur a downscaled copy and scale back up.
    factor = max(1, min(int(radius / 4), min(mask.size) // 16))
    small = mask.reduce(factor)
    small = small.filter(ImageFilter.GaussianBlur(radius / factor))
    return small.resize(mask.size, Image.Resampling.BILINEAR)


def shift(mask: Image.Image, dx: int, dy: int) -> Image.Image:
    """`mask` moved by whole pixels; what leaves the frame is dropped."""
    moved = Image.new(mask.mode, mask.size)
    moved.paste(mask, (dx, dy))
    return moved


def shadow_paint(
    silhouette: Image.Image, colour: RGBA, dx: int, dy: int, radius: float
) -> Image.Image:
    """A drop shadow of `silhouette` (L), offset by (dx, dy) tile px and blurred."""
    return colour_paint(colour, blur(shift(silhouette, dx, dy), radius))


def glow_paint(
    silhouette: Image.Image, colour: RGBA, radius: float, strength: float
) -> Image.Image:
    """A soft halo: the blurred silhouette, stacked `strength` times (1 − (1 − a)^strength)."""
    halo = blur(silhouette, radius)
    a = colour[3] / 255
    lut = [round(255 * a * (1 - (1 - v / 255) ** strength)) for v in range(256)]
    r, g, b, _ = colour
    image = Image.new("RGBA", halo.size, (r, g, b, 0))
    image.putalpha(halo.point(lut))
    return image


# --- procedural noise -------------------------------------------------------------------------


def value_noise(
    size: tuple[int, int], cell_px: float, seed: int, *, stretch: float = 1.0
) -> np.ndarray:
    """Smooth random field in 0..1 with features about `cell_px` wide (`stretch` widens x)."""
    width, height = size
    cell_x, cell_y = max(cell_px * stretch, 0.5), max(cell_px, 0.5)
    grid_w, grid_h = math.ceil(width / cell_x) + 3, math.ceil(height / cell_y) + 3
    rng = np.random.default_rng(seed)
    grid = rng.random((grid_h, grid_w), dtype=np.float32)
    field = Image.fromarray(grid, "F").resize(
        (max(1, round(grid_w * cell_x)), max(1, round(grid_h * cell_y))),
        Image.Resampling.BICUBIC,
    )
    # Offset by a cell so the bicubic edge ramp at the grid border stays outside the tile.
    left, top = round(cell_x), round(cell_y)
    return np.asarray(field.crop((left, top, left + width, top + height)), dtype=np.float32)


def fbm(
    size: tuple[int, int], cell_px: float, seed: int, *, octaves: int = 3, stretch: float = 1.0
) -> np.ndarray:
    """Fractal noise (octaves of value noise), rescaled to span 0..1."""
    total = np.zeros((size[1], size[0]), dtype=np.float32)
    weight, norm = 1.0, 0.0
    for octave in range(octaves):
        total += weight * value_noise(
            size, cell_px / 2**octave, seed * 31 + octave, stretch=stretch
        )
        norm += weight
        weight /= 2
    total /= norm
    low, high = float(total.min()), float(total.max())
    return (total - low) / (high - low) if high > low else total * 0


def _top_share(field: np.ndarray, share: float) -> np.ndarray:
    """Soft mask (0..1) of the `share` of pixels where `field` is highest."""
    if share <= 0:
        return np.zeros_like(field)
    step_y, step_x = max(1, field.shape[0] // 256), max(1, field.shape[1] // 256)
    threshold = float(np.quantile(field[::step_y, ::step_x], 1 - share))
    return np.clip((field - threshold) / 0.02 + 0.5, 0.0, 1.0)


def _scratches(size: tuple[int, int], feature: float, count: int, seed: int) -> np.ndarray:
    """Thin random strokes (worn-print scratches) as a 0..1 mask; `feature` is px per unit."""
    width, height = size
    image = Image.new("L", size)
    draw = ImageDraw.Draw(image)
    rng = np.random.default_rng(seed + 7919)
    line_width = max(1, round(1.6 * feature))
    for _ in range(count):
        x, y = rng.random() * width, rng.random() * height
        length = (40 + 160 * rng.random()) * feature
        angle = rng.random() * math.pi
        dx, dy = math.cos(angle) * length / 2, math.sin(angle) * length / 2
        draw.line([(x - dx, y - dy), (x + dx, y + dy)], fill=255, width=line_width)
    return np.asarray(image, dtype=np.float32) / 255


def _halftone(alpha: np.ndarray, box: Box, strength: float, cell_px: float) -> np.ndarray:
    """Alpha screened into 45° dots, fading from solid at the top of `box` to dots below."""
    height, width = alpha.shape
    y0, y1 = box[1], box[3]
    ys = (np.arange(height, dtype=np.float32) + 0.5 - y0) / max(y1 - y0, 1.0)
    fade = np.clip(1.0 - strength * np.clip(ys, 0.0, 1.0), 0.0, 1.0).astype(np.float32)
    tone = alpha * fade[:, None]
    if cell_px < 2.5:
        return tone  # dots below a few pixels are not resolvable: keep their average cover
    # A 45° dot screen, 0.5 + (cos(x + y) + cos(x − y)) / 4, factors into cos(x)·cos(y).
    k = 2 * math.pi / (cell_px * math.sqrt(2))
    cx = np.cos(np.arange(width, dtype=np.float32) * k) * 0.5
    cy = np.cos(np.arange(height, dtype=np.float32) * k)
    # In place: print-size tiles hold tens of millions of pixels.
    tone -= cy[:, None] * cx[None, :]
    tone -= 0.5
    tone *= cell_px / 1.6
    tone += 0.5
    np.clip(tone, 0.0, 1.0, out=tone)
    tone[alpha <= 0] = 0.0
    return tone


def texture_padding(texture: Texture, scale: float, unit: float) -> float:
    """Extra tile margin (px) a texture paints beyond the layer's own pixels."""
    if texture.kind == "watercolour":
        return 14 * unit * texture.scale * scale
    return 0.0


# Textures are worked out on at most this many pixels and scaled up: their features are several
# print pixels wide, and print-size tiles would otherwise cost seconds each.
_TEXTURE_WORK_PX = 1_500_000


def _l_image(values: np.ndarray) -> Image.Image:
    scaled = np.clip(values, 0.0, 1.0)
    scaled *= 255
    scaled += 0.5
    return Image.fromarray(scaled.astype(np.uint8), "L")


def _up(values: np.ndarray, size: tuple[int, int]) -> Image.Image:
    image = _l_image(values)
    return image if image.size == size else image.resize(size, Image.Resampling.BILINEAR)


def apply_texture(
    image: Image.Image, texture: Texture, *, scale: float, unit: float, box: Box
) -> Image.Image:
    """Texture an RGBA tile: distress/grunge/speckle eat the paint, halftone screens it into dots,
    paper mottles it, watercolour bleeds its edges and pools pigment there. `box` (tile px) is the
    layer's own extent, which halftone fades across."""
    if texture.strength <= 0:
        return image
    if texture.kind == "halftone":
        alpha = np.asarray(image.getchannel("A"), dtype=np.float32) / 255
        cell = 9 * unit * texture.scale * scale
        screened = _l_image(_halftone(alpha, box, texture.strength, cell))
        out = image.copy()
        out.putalpha(screened)
        return out
    factor = max(1, math.ceil(math.sqrt(image.width * image.height / _TEXTURE_WORK_PX)))
    work = (max(1, math.ceil(image.width / factor)), max(1, math.ceil(image.height / factor)))
    feature = unit * texture.scale * scale / factor  # work px per texture unit
    if texture.kind == "watercolour":
        return _watercolour(image, work, texture.strength, feature, texture.seed)
    keep, shade = _wear(texture, work, feature)
    out = image.convert("RGB")
    if shade is not None:
        tint = _up(shade, image.size)
        out = ImageChops.multiply(out, Image.merge("RGB", (tint, tint, tint)))
    out.putalpha(ImageChops.multiply(image.getchannel("A"), _up(keep, image.size)))
    return out


def _wear(
    texture: Texture, size: tuple[int, int], feature: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """(share of paint kept, colour shade or None) for the paint-eating textures."""
    strength, seed = texture.strength, texture.seed
    if texture.kind == "distress":
        blotches = _top_share(fbm(size, 16 * feature, seed), 0.22 * strength)
        grain = _top_share(value_noise(size, 2.2 * feature, seed + 1), 0.16 * strength)
        area_units = (size[0] / max(feature, 1e-6)) * (size[1] / max(feature, 1e-6))
        count = min(int(strength * area_units / 9000), 600)
        scratches = _scratches(size, feature, count, seed)
        return 1 - np.maximum(np.maximum(blotches, grain), scratches), None
    if texture.kind == "grunge":
        streaks = fbm(size, 30 * feature, seed, stretch=3.0)
        rough = value_noise(size, 1.6 * feature, seed + 2)
        wear = np.clip((streaks - 0.35) / 0.4, 0.0, 1.0) * 0.85 * strength
        pits = _top_share(rough, 0.12 * strength)
        # Grime darkens what is left, unevenly.
        return (1 - wear) * (1 - pits), 1 - 0.3 * strength * streaks
    if texture.kind == "speckle":
        return 1 - _top_share(value_noise(size, 2.8 * feature, seed + 3), 0.14 * strength), None
    # paper
    fibres = fbm(size, 6 * feature, seed, stretch=4.0)
    shade = 1 - 0.12 * strength * fbm(size, 40 * feature, seed + 4)
    return 1 - 0.35 * strength * fibres, shade


def _watercolour(
    image: Image.Image, work: tuple[int, int], strength: float, feature: float, seed: int
) -> Image.Image:
    """Bloom, mottle and pigment rim worked out at `work` size, applied to the full tile."""
    full = image.size
    alpha_full = image.getchannel("A")
    small = image if image.size == work else image.resize(work, Image.Resampling.BOX)
    alpha = np.asarray(small.getchannel("A"), np.float32) / 255
    spread = 5 * feature
    bled = np.asarray(blur(small.getchannel("A"), spread), np.float32) / 255
    # Paint bleeds outward: the blurred paint, cut at a noisy level, gives the ragged bloom of a
    # wet edge; the paint itself stays (max with the full-size alpha), so strokes keep shape.
    level = 0.3 + 0.45 * strength * (fbm(work, 14 * feature, seed) - 0.5)
    bloom = np.clip((bled - level) / 0.16 + 0.5, 0.0, 1.0) * (bled > 0.02)
    mottle = fbm(work, 30 * feature, seed + 5)
    washed_small = np.maximum(alpha, bloom) * (1 - 0.4 * strength * mottle)
    # Pigment pools where the wash dries: darker and denser just inside the edge.
    inner = np.asarray(blur(_l_image(washed_small), 2.5 * feature), np.float32) / 255
    rim = np.clip((washed_small - inner) * 2.0, 0.0, 1.0)
    washed = ImageChops.lighter(alpha_full, _up(bloom, full))
    washed = ImageChops.multiply(washed, _up(1 - 0.4 * strength * mottle, full))
    density = ImageChops.multiply(washed, _up(np.clip(0.78 + 0.5 * rim, 0.0, 1.0), full))
    # Where the wash spread past the paint, carry its colour out there (premultiplied blur).
    premultiplied = np.asarray(small.convert("RGB"), np.float32) * alpha[..., None]
    spread_rgb = np.asarray(
        blur(Image.fromarray(np.uint8(premultiplied), "RGB"), spread), np.float32
    )
    spread_rgb = np.clip(spread_rgb / np.maximum(bled[..., None], 1 / 255), 0, 255)
    outside = Image.fromarray(spread_rgb.astype(np.uint8), "RGB").resize(
        full, Image.Resampling.BILINEAR
    )
    inside = alpha_full.point(lambda v: 255 if v > 127 else 0)
    colour = Image.composite(image.convert("RGB"), outside, inside)
    darken = _up(1 - 0.28 * strength * rim, full)
    colour = ImageChops.multiply(colour, Image.merge("RGB", (darken, darken, darken)))
    colour.putalpha(density)
    return colour


def splatter_mask(
    size: tuple[int, int], box: Box, count: int, seed: int, supersample: int
) -> Image.Image:
    """Paint drops with satellite droplets and fine spray inside `box` (an antialiased L mask)."""
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    span = min(width, height)
    ss = supersample
    big = Image.new("L", (size[0] * ss, size[1] * ss))
    draw = ImageDraw.Draw(big)
    rng = np.random.default_rng(seed)

    def dot(cx: float, cy: float, r: float) -> None:
        draw.ellipse([(cx - r) * ss, (cy - r) * ss, (cx + r) * ss, (cy + r) * ss], fill=255)

    for _ in range(count):
        # Drops cluster towards the middle like a flicked brush.
        cx = x0 + width * float(np.clip(0.5 + rng.normal(0, 0.22), 0.06, 0.94))
        cy = y0 + height * float(np.clip(0.5 + rng.normal(0, 0.22), 0.06, 0.94))
        r = span * (0.012 + 0.05 * rng.random() ** 2)
        dot(cx, cy, r)
        for _ in range(int(rng.integers(3, 8))):
            angle = rng.random() * 2 * math.pi
            dist = r * (1.1 + 1.8 * rng.random())
            dot(
                cx + math.cos(angle) * dist,
                cy + math.sin(angle) * dist,
                r * (0.12 + 0.3 * rng.random()),
            )
        direction = rng.random() * 2 * math.pi
        for step in range(int(rng.integers(2, 6))):
            dist = r * (2.2 + 1.4 * step)
            dot(
                cx + math.cos(direction) * dist,
                cy + math.sin(direction) * dist,
                r * 0.35 / (1 + 0.6 * step),
            )
    for _ in range(count * 14):
        cx, cy = x0 + width * rng.random(), y0 + height * rng.random()
        dot(cx, cy, span * (0.002 + 0.005 * rng.random()))
    mask = big.reduce(ss) if ss > 1 else big
    # Drops flung past the box edge are cut there, so the layer never paints outside its box.
    inside = Image.new("L", mask.size)
    region = (max(0, math.floor(x0)), max(0, math.floor(y0)), math.ceil(x1), math.ceil(y1))
    inside.paste(mask.crop(region), region[:2])
    return inside

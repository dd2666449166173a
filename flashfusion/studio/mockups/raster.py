"""Vectorised raster primitives for the mockup templates.

Everything here works on whole arrays (numpy) or in Pillow's C code: no per-pixel Python loops.
Coordinates given to the drawing helpers are *unit* coordinates (0..1 of the square canvas), so
one template definition draws at any output size.
"""

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageChops, ImageDraw, ImageFilter

F32 = np.float32
Array = npt.NDArray[np.float32]
Point = tuple[float, float]
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), canvas px
RGB = tuple[float, float, float]


# --- curves -------------------------------------------------------------------------------


def cubic(p0: Point, p1: Point, p2: Point, p3: Point, n: int = 24) -> list[Point]:
    """Points along a cubic Bézier (both ends included)."""
    t = np.linspace(0.0, 1.0, n)
    mt = 1.0 - t
    xs = mt**3 * p0[0] + 3 * mt**2 * t * p1[0] + 3 * mt * t**2 * p2[0] + t**3 * p3[0]
    ys = mt**3 * p0[1] + 3 * mt**2 * t * p1[1] + 3 * mt * t**2 * p2[1] + t**3 * p3[1]
    return [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]


def quad(p0: Point, p1: Point, p2: Point, n: int = 18) -> list[Point]:
    """Points along a quadratic Bézier (both ends included)."""
    t = np.linspace(0.0, 1.0, n)
    mt = 1.0 - t
    xs = mt**2 * p0[0] + 2 * mt * t * p1[0] + t**2 * p2[0]
    ys = mt**2 * p0[1] + 2 * mt * t * p1[1] + t**2 * p2[1]
    return [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]


def arc(
    cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 24
) -> list[Point]:
    """Points along an elliptical arc; angles in radians, 0 = +x, growing clockwise on screen."""
    t = np.linspace(a0, a1, n)
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in t]


def mirrored(right_half: Sequence[Point], cx: float = 0.5) -> list[Point]:
    """A symmetric outline from its right half (drawn top-centre → bottom-centre)."""
    pts = list(right_half)
    return pts + [(2 * cx - x, y) for x, y in reversed(pts)]


def offset_polyline(pts: Sequence[Point], d: float) -> list[Point]:
    """The polyline moved sideways by `d` (positive = to the left of the walking direction)."""
    arr = np.asarray(pts, dtype=np.float64)
    tangent = np.gradient(arr, axis=0)
    norm = np.linalg.norm(tangent, axis=1, keepdims=True)
    norm[norm == 0] = 1.0
    tangent /= norm
    normal = np.stack([tangent[:, 1], -tangent[:, 0]], axis=1)
    moved = arr + normal * d
    return [(float(x), float(y)) for x, y in moved]


# --- blurs and resampling -------------------------------------------------------------------


def _box_blur_axis(a: Array, r: int, axis: int) -> Array:
    if r < 1:
        return a
    n = a.shape[axis]
    pad = [(0, 0), (0, 0)]
    pad[axis] = (r + 1, r)
    c = np.cumsum(np.pad(a, pad, mode="edge"), axis=axis, dtype=np.float64)
    if axis == 0:
        out = (c[2 * r + 1 : 2 * r + 1 + n] - c[:n]) / (2 * r + 1)
    else:
        out = (c[:, 2 * r + 1 : 2 * r + 1 + n] - c[:, :n]) / (2 * r + 1)
    return out.astype(F32)


def blur(a: Array, sigma: float) -> Array:
    """Gaussian-like blur (three box passes) of a float field; `sigma` in array pixels."""
    if sigma < 0.35:
        return a
    w = math.sqrt(12.0 * sigma * sigma / 3.0 + 1.0)
    r = max(1, int((w - 1.0) / 2.0 + 0.5))
    out = a
    for _ in range(3):
        out = _box_blur_axis(_box_blur_axis(out, r, 0), r, 1)
    return out


def shift(a: Array, dx: int, dy: int) -> Array:
    """The field moved by whole pixels; vacated cells take the edge value."""
    out = np.roll(a, (dy, dx), axis=(0, 1))
    if dy > 0:
        out[:dy] = a[:1]
    elif dy < 0:
        out[dy:] = a[-1:]
    if dx > 0:
        out[:, :dx] = out[:, dx : dx + 1]
    elif dx < 0:
        out[:, dx:] = out[:, dx - 1 : dx]
    return out


def upscale(field: Array, size: int, box: Box) -> Array:
    """The region `box` (canvas px) of a coarse square field, resampled to full resolution."""
    c = field.shape[0]
    k = c / size
    x0, y0, x1, y1 = box
    img = Image.fromarray(field, mode="F")
    out = img.resize(
        (x1 - x0, y1 - y0), Image.Resampling.BILINEAR, box=(x0 * k, y0 * k, x1 * k, y1 * k)
    )
    return np.asarray(out, dtype=F32)


def smoothstep(e0: float, e1: float, x: Array) -> Array:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(F32)


def gaussian(x: Array, mu: float, width: float) -> Array:
    return np.exp(-(((x - mu) / width) ** 2)).astype(F32)


# --- masks ------------------------------------------------------------------------------------


class Shape:
    """A filled region at full resolution (for crisp edges) and coarse resolution (for shading).

    Both are 8-bit Pillow masks so set algebra runs in C.
    """

    __slots__ = ("coarse", "full")

    def __init__(self, full: Image.Image, coarse: Image.Image) -> None:
        self.full = full
        self.coarse = coarse

    def __or__(self, other: "Shape") -> "Shape":
        return Shape(
            ImageChops.lighter(self.full, other.full), ImageChops.lighter(self.coarse, other.coarse)
        )

    def __and__(self, other: "Shape") -> "Shape":
        return Shape(
            ImageChops.multiply(self.full, other.full),
            ImageChops.multiply(self.coarse, other.coarse),
        )

    def __sub__(self, other: "Shape") -> "Shape":
        return Shape(
            ImageChops.subtract(self.full, other.full),
            ImageChops.subtract(self.coarse, other.coarse),
        )

    def box(self, pad: int = 2) -> Box | None:
        bb = self.full.getbbox()
        if bb is None:
            return None
        s = self.full.size[0]
        return (max(0, bb[0] - pad), max(0, bb[1] - pad), min(s, bb[2] + pad), min(s, bb[3] + pad))

    def carr(self) -> Array:
        return np.asarray(self.coarse, dtype=F32) / 255.0


class Painter:
    """Draws unit-coordinate shapes into fresh 8-bit masks at two resolutions."""

    def __init__(self, size: int, coarse: int) -> None:
        self.size = size
        self.coarse = coarse

    def _pair(self) -> tuple[Image.Image, Image.Image]:
        return Image.new("L", (self.size, self.size), 0), Image.new(
            "L", (self.coarse, self.coarse), 0
        )

    def polygon(self, pts: Sequence[Point]) -> Shape:
        full, coarse = self._pair()
        for img, s in ((full, self.size), (coarse, self.coarse)):
            ImageDraw.Draw(img).polygon([(x * s, y * s) for x, y in pts], fill=255)
        return Shape(full, coarse)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float) -> Shape:
        full, coarse = self._pair()
        for img, s in ((full, self.size), (coarse, self.coarse)):
            ImageDraw.Draw(img).ellipse(
                [(cx - rx) * s, (cy - ry) * s, (cx + rx) * s, (cy + ry) * s], fill=255
            )
        return Shape(full, coarse)

    def rrect(self, x0: float, y0: float, x1: float, y1: float, r: float = 0.0) -> Shape:
        full, coarse = self._pair()
        for img, s in ((full, self.size), (coarse, self.coarse)):
            ImageDraw.Draw(img).rounded_rectangle(
                [x0 * s, y0 * s, x1 * s - 1, y1 * s - 1], radius=max(0.0, r * s), fill=255
            )
        return Shape(full, coarse)

    def stroke(self, pts: Sequence[Point], width: float) -> Shape:
        return self.strokes([pts], width)

    def strokes(self, lines: Sequence[Sequence[Point]], width: float) -> Shape:
        """Many polylines of one width (round ends) in one shape: one pair of masks."""
        full, coarse = self._pair()
        for img, s in ((full, self.size), (coarse, self.coarse)):
            w = max(1, round(width * s))
            r = w / 2.0
            draw = ImageDraw.Draw(img)
            for pts in lines:
                px = [(x * s, y * s) for x, y in pts]
                draw.line(px, fill=255, width=w, joint="curve")
                for x, y in (px[0], px[-1]):
                    draw.ellipse([x - r, y - r, x + r, y + r], fill=255)
        return Shape(full, coarse)

    def ellipses(self, ovals: Sequence[tuple[float, float, float, float]]) -> Shape:
        """Many ellipses (cx, cy, rx, ry) in one shape."""
        full, coarse = self._pair()
        for img, s in ((full, self.size), (coarse, self.coarse)):
            draw = ImageDraw.Draw(img)
            for cx, cy, rx, ry in ovals:
                draw.ellipse([(cx - rx) * s, (cy - ry) * s, (cx + rx) * s, (cy + ry) * s], fill=255)
        return Shape(full, coarse)


def soften(mask: Image.Image, radius: float) -> Image.Image:
    """Anti-alias a hard-edged mask (Pillow draws polygons without coverage)."""
    return mask.filter(ImageFilter.BoxBlur(radius)) if radius > 0 else mask


# --- textures -----------------------------------------------------------------------------------

TEXTURES = ("jersey", "fleece", "canvas", "paper", "plush", "twill")


TILE = 512


@lru_cache(maxsize=16)
def texture_tile(kind: str, size: int) -> Array:
    """A seamless 512 px tile of a material texture around 1.0 (multiplicative), per output
    size (weave periods scale with the image), seeded per kind.

    Periodic patterns get a whole number of periods per tile so the tile repeats seamlessly; fine
    grain does not show the repeat. One tile is 1 MB, so every material at every size can stay
    cached instead of a full-canvas texture per size.
    """
    seed = {k: i + 11 for i, k in enumerate(TEXTURES)}[kind]
    rng = np.random.default_rng(seed)
    t = TILE
    noise = rng.standard_normal((t, t), dtype=F32)
    x = np.arange(t, dtype=F32)

    def wave(period: float) -> Array:
        n = max(1, round(t / period))
        return np.sin(2 * math.pi * x * n / t).astype(F32)

    if kind == "jersey":
        # Knit wales: fine vertical ribs, plus fibre noise softened over a pixel.
        fibre = _roll_avg(noise, 1)
        tex = 1.0 + 0.035 * wave(max(2.6, size / 420.0))[None, :] + 0.05 * fibre
    elif kind == "fleece":
        soft = _wrapped_blur(noise, max(0.8, size / 1600.0))
        tex = 1.0 + 0.06 * soft + 0.015 * noise
    elif kind == "canvas":
        w = wave(max(2.8, size / 300.0))
        tex = 1.0 + 0.022 * (w[None, :] + w[:, None]) + 0.05 * _roll_avg(noise, 0)
    elif kind == "twill":
        n = max(1, round(t / max(2.8, size / 380.0)))
        diag = 2.0 * np.sin(2 * math.pi * (x[None, :] + x[:, None]) * n / t)
        tex = 1.0 + 0.022 * diag + 0.05 * _roll_avg(noise, 0)
    elif kind == "plush":
        soft = _wrapped_blur(noise, max(1.0, size / 900.0))
        tex = 1.0 + 0.16 * soft + 0.02 * noise
    else:  # paper
        tex = 1.0 + 0.012 * _roll_avg(noise, 1)
    return np.asarray(tex, dtype=F32)


def _roll_avg(a: Array, axis: int) -> Array:
    """A seamless three-tap average along one axis (fibre noise softened over a pixel)."""
    return ((a + np.roll(a, 1, axis=axis) + np.roll(a, -1, axis=axis)) / 3.0).astype(F32)


def _wrapped_blur(a: Array, sigma: float) -> Array:
    """Blur a tile as if it repeated (so the blurred tile still tiles seamlessly)."""
    pad = max(2, int(sigma * 4))
    big = np.pad(a, pad, mode="wrap")
    return blur(big, sigma)[pad:-pad, pad:-pad]


def texture(kind: str, size: int, box: Box) -> Array:
    """The texture over `box` of a `size` canvas: the tile repeated in canvas coordinates."""
    tile = texture_tile(kind, size)
    x0, y0, x1, y1 = box
    tx, ty = x0 % TILE, y0 % TILE
    reps_y = -(-(y1 - y0 + ty) // TILE)
    reps_x = -(-(x1 - x0 + tx) // TILE)
    return np.tile(tile, (reps_y, reps_x))[ty : ty + y1 - y0, tx : tx + x1 - x0]


# --- geometry helpers ---------------------------------------------------------------------------


def homography(src: Sequence[Point], dst: Sequence[Point]) -> npt.NDArray[np.float64]:
    """The 3×3 projective map sending the four `src` points to the four `dst` points."""
    a = []
    b = []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        b.append(u)
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b.append(v)
    h = np.linalg.solve(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    return np.append(h, 1.0).reshape(3, 3)


def quad_uv_at(quad: Sequence[Point], gx: Array, gy: Array) -> tuple[Array, Array]:
    """(u, v) inside the quad TL, TR, BR, BL of the points (gx, gy), same units as the quad."""
    h = homography(quad, [(0, 0), (1, 0), (1, 1), (0, 1)])
    x = gx.astype(np.float64)
    y = gy.astype(np.float64)
    w = h[2, 0] * x + h[2, 1] * y + h[2, 2]
    u = (h[0, 0] * x + h[0, 1] * y + h[0, 2]) / w
    v = (h[1, 0] * x + h[1, 1] * y + h[1, 2]) / w
    return u.astype(F32), v.astype(F32)


def rounded_rect_coverage(
    u: Array, v: Array, proportion: float, radius: float, pixel: float
) -> Array:
    """Anti-aliased coverage of a rounded rectangle in a print plane (width = proportion)."""
    px = np.abs(u * proportion - proportion / 2) - (proportion / 2 - radius)
    py = np.abs(v - 0.5) - (0.5 - radius)
    outside = np.hypot(np.clip(px, 0, None), np.clip(py, 0, None))
    inside = np.minimum(np.maximum(px, py), 0.0)
    sdf = outside + inside - radius
    return np.clip(0.5 - sdf / pixel, 0.0, 1.0).astype(F32)


def unit_grid(box: Box, size: int) -> tuple[Array, Array]:
    """Unit coordinates of the pixel centres of `box`."""
    x0, y0, x1, y1 = box
    xs = (np.arange(x0, x1, dtype=F32) + 0.5) / size
    ys = (np.arange(y0, y1, dtype=F32) + 0.5) / size
    gx, gy = np.meshgrid(xs, ys)
    return gx.astype(F32), gy.astype(F32)


# --- backdrops ----------------------------------------------------------------------------------

BACKDROPS = ("studio", "wall", "table", "white")


@lru_cache(maxsize=4)
def backdrop(kind: str, size: int) -> npt.NDArray[np.uint8]:
    """The scene behind the product: a soft neutral studio sweep, a wall, a tabletop, or white."""
    if kind == "white":
        return np.full((size, size, 3), 255, dtype=np.uint8)
    c = max(64, size // 8)
    g = (np.arange(c, dtype=F32) + 0.5) / c
    mx, my = np.meshgrid(g, g)
    gx: Array = mx.astype(F32)
    gy: Array = my.astype(F32)
    if kind == "studio":
        top = np.array([0.936, 0.930, 0.918], F32)
        bottom = np.array([0.858, 0.850, 0.836], F32)
        t = np.clip(gy, 0, 1)[..., None]
        rgb = top * (1 - t) + bottom * t
        spot = np.exp(-(((gx - 0.5) / 0.45) ** 2 + ((gy - 0.38) / 0.42) ** 2))[..., None]
        rgb = rgb * (0.955 + 0.06 * spot)
    elif kind == "wall":
        base = np.array([0.905, 0.893, 0.872], F32)
        light = 1.02 - 0.07 * np.sqrt((gx - 0.3) ** 2 + (gy - 0.15) ** 2)
        rgb = base * light[..., None]
    else:  # table: wall above a softly lit tabletop
        wall = np.array([0.900, 0.893, 0.880], F32) * (1.03 - 0.06 * gy)[..., None]
        table = np.array([0.948, 0.936, 0.915], F32) * (0.93 + 0.07 * gy)[..., None]
        t = smoothstep(0.595, 0.615, gy)[..., None]
        rgb = wall * (1 - t) + table * t
        horizon = gaussian(gy, 0.605, 0.012)[..., None]
        rgb = rgb * (1 - 0.05 * horizon)
    vignette = 1.0 - 0.10 * (((gx - 0.5) ** 2 + (gy - 0.5) ** 2) / 0.5)
    rgb = rgb * vignette[..., None]
    if kind == "wall":
        # Plaster: a faint, soft mottling at the coarse scale.
        mottle = blur(np.random.default_rng(5).standard_normal((c, c)).astype(F32), 1.2)
        rgb = rgb * (1.0 + 0.006 * mottle)[..., None]
    small = Image.fromarray(np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8), mode="RGB")
    full = np.asarray(small.resize((size, size), Image.Resampling.BILINEAR), dtype=np.int16)
    # A little grain keeps the smooth gradients from banding once JPEG-encoded.
    tile = min(TILE, size)
    reps = -(-size // tile)
    grain = np.random.default_rng(7).integers(-1, 2, size=(tile, tile, 1), dtype=np.int16)
    full = full + np.tile(grain, (reps, reps, 1))[:size, :size]
    return np.clip(full, 0, 255).astype(np.uint8)

"""Template scenes: what a template draws with, and the `Geometry` it produces.

A template draws a `Geometry` (independent of colour and artwork): parts under the print, print
zones, parts over the print, and a cast shadow; `compose` paints and prints it.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from flashfusion.studio.mockups.raster import (
    F32,
    RGB,
    Array,
    Box,
    Painter,
    Point,
    Shape,
    blur,
    shift,
    soften,
    unit_grid,
    upscale,
)

Fit = Literal["contain", "cover"]
Anchor = Literal["center", "top"]
# A shading input: a coarse (C, C) field, a function of unit coordinates (evaluated on the
# coarse grid: shading is smooth), or a constant.
FieldFn = Callable[[Array, Array], Array]
FieldSpec = Array | FieldFn | float
# A print warp: unit canvas coordinates → print-area coordinates (u, v), 0..1 inside the area.
UvFn = Callable[[Array, Array], tuple[Array, Array]]


@dataclass(frozen=True)
class Paint:
    """How a part is coloured: the blank colour (rgb None) or a fixed colour, then adjusted."""

    rgb: RGB | None = None
    factor: float = 1.0
    toward: RGB | None = None
    mix: float = 0.0

    def resolve(self, product: RGB) -> npt.NDArray[np.float32]:
        base = np.asarray(self.rgb if self.rgb is not None else product, dtype=F32) * self.factor
        if self.toward is not None and self.mix:
            base = base * (1 - self.mix) + np.asarray(self.toward, dtype=F32) * self.mix
        return np.clip(base, 0.0, 1.0).astype(F32)


PRODUCT = Paint()


def fixed(r: float, g: float, b: float, factor: float = 1.0) -> Paint:
    return Paint(rgb=(r, g, b), factor=factor)


# Cached maps are kept compact (masks as 8-bit coverage, light and gloss as half floats) and
# widened to float32 only for the region being painted: a 2500 px template stays tens of MB.
U8 = npt.NDArray[np.uint8]
F16 = npt.NDArray[np.float16]


def pack_mask(a: Array) -> U8:
    return np.clip(a * 255.0 + 0.5, 0, 255).astype(np.uint8)


def mask_f(a: U8) -> Array:
    return a.astype(F32) * np.float32(1.0 / 255.0)


def half_f(a: Array | None) -> F16 | None:
    return None if a is None else a.astype(np.float16)


def full_f(a: F16) -> Array:
    return a.astype(F32)


@dataclass
class Part:
    box: Box
    mask: U8
    paint: Paint
    light: F16
    spec: F16 | None
    tex: str | None
    tex_amp: float
    lift: float


@dataclass
class Zone:
    """Where one print area lands: a flat rectangle, or a warp sampled on a mesh of (u, v)."""

    keys: tuple[str, ...]
    box: Box
    mask: U8
    light: F16
    spec: F16 | None
    tex: str | None
    ink_tex: float
    opacity: float
    fit: Fit
    anchor: Anchor
    proportion: float  # print area width / height
    rect: tuple[float, float, float, float] | None  # flat: print-area rectangle, canvas px
    # Warp: print-area (u, v) at mesh points every `mesh_step` px over `box`, and which mesh
    # cells touch the zone (the artwork is resampled cell by cell in Pillow's C code).
    uv: tuple[Array, Array] | None
    mesh_step: int
    cells: npt.NDArray[np.bool_] | None
    src_px: tuple[float, float]  # the print area's size in screen px where it is least compressed
    diecut_border: float = 0.0  # stickers: the kiss-cut border, canvas px
    primary: bool = False


@dataclass
class Geometry:
    size: int
    backdrop: str
    shadow: Array  # coarse multiplicative factor, 1 = no shadow
    under: list[Part]
    zones: list[Zone]
    over: list[Part]
    product_box: Box
    backdrops: dict[str, npt.NDArray[np.uint8]] = field(default_factory=dict)


# --- the scene builder -------------------------------------------------------------------------


@dataclass
class Fold:
    """A soft crease: a shadow along the segment with a highlight beside it."""

    p0: Point
    p1: Point
    width: float = 0.012
    depth: float = 0.06


class Ctx:
    """What a template draws with: shapes, shading fields, detail lines, parts and zones."""

    def __init__(self, size: int, view: str, aspect: float | None, seed: int) -> None:
        self.S = size
        self.C = max(64, size // 4)
        self.view = view
        self.aspect = aspect
        self.rng = np.random.default_rng(seed)
        self.paint = Painter(size, self.C)
        g = (np.arange(self.C, dtype=F32) + 0.5) / self.C
        gx, gy = np.meshgrid(g, g)
        self.X: Array = gx.astype(F32)
        self.Y: Array = gy.astype(F32)
        self.under: list[Part] = []
        self.zones: list[Zone] = []
        self.over: list[Part] = []
        self._shadow = np.zeros((self.C, self.C), dtype=F32)
        self._detail: Image.Image | None = None
        self._boxes: list[Box] = []

    # shapes ------------------------------------------------------------------------------------
    def poly(self, pts: Sequence[Point]) -> Shape:
        return self.paint.polygon(pts)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float) -> Shape:
        return self.paint.ellipse(cx, cy, rx, ry)

    def rrect(self, x0: float, y0: float, x1: float, y1: float, r: float = 0.0) -> Shape:
        return self.paint.rrect(x0, y0, x1, y1, r)

    def stroke(self, pts: Sequence[Point], width: float) -> Shape:
        return self.paint.stroke(pts, width)

    def strokes(self, lines: Sequence[Sequence[Point]], width: float) -> Shape:
        return self.paint.strokes(lines, width)

    def ellipses(self, ovals: Sequence[tuple[float, float, float, float]]) -> Shape:
        return self.paint.ellipses(ovals)

    def shape_fn(self, within: tuple[float, float, float, float], fn: FieldFn) -> Shape:
        """A shape given by a coverage function (0..1) of unit coordinates, inside `within`."""
        s = self.S
        box = (
            max(0, math.floor(within[0] * s)),
            max(0, math.floor(within[1] * s)),
            min(s, math.ceil(within[2] * s)),
            min(s, math.ceil(within[3] * s)),
        )
        full = np.zeros((s, s), dtype=np.uint8)
        gx, gy = unit_grid(box, s)
        full[box[1] : box[3], box[0] : box[2]] = np.clip(fn(gx, gy) * 255 + 0.5, 0, 255).astype(
            np.uint8
        )
        coarse = np.clip(fn(self.X, self.Y) * 255 + 0.5, 0, 255).astype(np.uint8)
        return Shape(Image.fromarray(full, mode="L"), Image.fromarray(coarse, mode="L"))

    # shading fields (coarse) -------------------------------------------------------------------
    def ambient(self, strength: float = 1.0) -> Array:
        """Key light from the upper left."""
        return (1.0 + strength * (0.05 * (0.5 - self.X) + 0.06 * (0.45 - self.Y))).astype(F32)

    def relief(
        self,
        shape: Shape,
        sigma: float,
        strength: float = 1.0,
        ao: float = 0.25,
        gamma: float = 0.5,
    ) -> Array:
        """Shading of a soft bulge filling `shape`: lit on the upper-left, falling off at edges."""
        sig = max(0.8, sigma * self.C)
        h = blur(shape.carr(), sig)
        gy, gx = np.gradient(h)
        lam = (0.6 * gx + 0.8 * gy) * sig * 1.6
        round_ = np.power(np.clip(h, 0.0, 1.0), gamma)
        return (1.0 + strength * 0.22 * lam - ao * (1.0 - round_)).astype(F32)

    def folds(self, folds: Sequence[Fold], light: tuple[float, float] = (-0.6, -0.8)) -> Array:
        """Additive crease field (shadow ridge + highlight ridge towards the light)."""
        acc = np.zeros((self.C, self.C), dtype=F32)
        for f in folds:
            (x0, y0), (x1, y1) = f.p0, f.p1
            dx, dy = x1 - x0, y1 - y0
            length2 = dx * dx + dy * dy or 1e-9
            t = np.clip(((self.X - x0) * dx + (self.Y - y0) * dy) / length2, 0.0, 1.0)
            # Taper the crease towards both ends.
            taper = np.clip(np.sin(np.pi * t), 0.0, 1.0) ** 0.7
            px = x0 + t * dx
            py = y0 + t * dy
            nx, ny = -dy, dx
            nlen = math.hypot(nx, ny) or 1.0
            nx, ny = nx / nlen, ny / nlen
            side = 1.0 if (nx * light[0] + ny * light[1]) > 0 else -1.0
            off = f.width * 0.9 * side
            d_sh = (self.X - px) ** 2 + (self.Y - py) ** 2
            d_hi = (self.X - (px + nx * off)) ** 2 + (self.Y - (py + ny * off)) ** 2
            w2 = f.width * f.width
            acc += taper * f.depth * (0.8 * np.exp(-d_hi / w2) - np.exp(-d_sh / w2))
        return acc

    # full-resolution detail (stitches, seams) -------------------------------------------------
    def line(
        self,
        pts: Sequence[Point],
        width: float,
        value: float = 0.8,
        dash: float | None = None,
    ) -> None:
        """Darken (value < 1) or lighten (> 1, up to 1.5) along a polyline in the detail map.

        The map multiplies the light of every part and zone added afterwards where they cover
        the line (so stitching shows through a print), until `clear_detail`.
        """
        if self._detail is None:
            self._detail = Image.new("L", (self.S, self.S), 170)
        draw = ImageDraw.Draw(self._detail)
        w = max(1, round(width * self.S))
        fill = max(0, min(255, round(value * 170)))
        px = [(x * self.S, y * self.S) for x, y in pts]
        if dash is None:
            draw.line(px, fill=fill, width=w, joint="curve")
            return
        # Dashed (stitching): walk the polyline and draw every other `dash`-long piece.
        step = dash * self.S
        on = True
        carry = 0.0
        for (ax, ay), (bx, by) in zip(px, px[1:], strict=False):
            seg = math.hypot(bx - ax, by - ay)
            pos = 0.0
            while pos < seg:
                run = min(step - carry, seg - pos)
                if on:
                    t0, t1 = pos / seg, (pos + run) / seg
                    draw.line(
                        [
                            (ax + (bx - ax) * t0, ay + (by - ay) * t0),
                            (ax + (bx - ax) * t1, ay + (by - ay) * t1),
                        ],
                        fill=fill,
                        width=w,
                    )
                pos += run
                carry += run
                if carry >= step - 1e-9:
                    carry = 0.0
                    on = not on

    def clear_detail(self) -> None:
        """Forget the lines drawn so far (they belonged to parts already added)."""
        self._detail = None

    def _detail_crop(self, box: Box) -> Array | None:
        if self._detail is None:
            return None
        return np.asarray(self._detail.crop(box), dtype=F32) / 170.0

    # evaluation ---------------------------------------------------------------------------------
    def _field(self, spec: FieldSpec | None, box: Box) -> Array | None:
        if spec is None:
            return None
        w, h = box[2] - box[0], box[3] - box[1]
        if isinstance(spec, float | int):
            return np.full((h, w), float(spec), dtype=F32)
        if isinstance(spec, np.ndarray):
            return upscale(spec.astype(F32), self.S, box)
        return upscale(np.asarray(spec(self.X, self.Y), dtype=F32), self.S, box)

    def _mask(self, shape: Shape, box: Box, soft: bool) -> Array:
        img = shape.full.crop(box)
        if soft:
            img = soften(img, max(0.5, self.S / 2400.0))
        return np.asarray(img, dtype=F32) / 255.0

    def add_part(
        self,
        shape: Shape,
        paint: Paint,
        light: FieldSpec = 1.0,
        *,
        spec: FieldSpec | None = None,
        tex: str | None = None,
        tex_amp: float = 1.0,
        lift: float = 1.0,
        over: bool = False,
        detail: bool = True,
        soft: bool = True,
        alpha: FieldSpec | None = None,
    ) -> None:
        """A painted part; `alpha` (0..1) makes it translucent (glass glare, cast shadows)."""
        box = shape.box()
        if box is None:
            return
        mask = self._mask(shape, box, soft)
        a = self._field(alpha, box)
        if a is not None:
            mask = (mask * np.clip(a, 0.0, 1.0)).astype(F32)
        lit = self._field(light, box)
        assert lit is not None
        if detail:
            d = self._detail_crop(box)
            if d is not None:
                lit = lit * d
        spec_map = half_f(self._field(spec, box))
        part = Part(
            box=box,
            mask=pack_mask(mask),
            paint=paint,
            light=lit.astype(np.float16),
            spec=spec_map,
            tex=tex,
            tex_amp=tex_amp,
            lift=lift,
        )
        (self.over if over else self.under).append(part)
        self._boxes.append(box)

    def add_zone(
        self,
        keys: tuple[str, ...],
        shape: Shape,
        light: FieldSpec = 1.0,
        *,
        rect: tuple[float, float, float, float] | None = None,
        uv: UvFn | None = None,
        proportion: float | None = None,
        spec: FieldSpec | None = None,
        tex: str | None = None,
        ink_tex: float = 0.0,
        opacity: float = 1.0,
        fit: Fit = "contain",
        anchor: Anchor = "center",
        diecut_border: float = 0.0,
        primary: bool = False,
        detail: bool = True,
    ) -> None:
        """A print zone. `rect` (unit coords) for flat placement, or `uv` for warped surfaces."""
        box = shape.box()
        if box is None:
            return
        s = self.S
        rect_px = None
        if rect is not None:
            rect_px = (rect[0] * s, rect[1] * s, rect[2] * s, rect[3] * s)
            if proportion is None:
                proportion = (rect[2] - rect[0]) / (rect[3] - rect[1])
        mask = self._mask(shape, box, True)
        # Mesh cells of ~25 px at 2000 px: the warps are smooth, and Pillow warps cell by cell.
        step = max(4, round(s / 80))
        uv_grid = cells = None
        if uv is not None:
            uv_grid, cells = self._mesh(uv, box, step, mask)
        src_px = _source_px(uv_grid, step, rect_px)
        lit = self._field(light, box)
        assert lit is not None
        if detail:
            d = self._detail_crop(box)
            if d is not None:
                lit = lit * d
        self.zones.append(
            Zone(
                keys=keys,
                box=box,
                mask=pack_mask(mask),
                light=lit.astype(np.float16),
                spec=half_f(self._field(spec, box)),
                tex=tex,
                ink_tex=ink_tex,
                opacity=opacity,
                fit=fit,
                anchor=anchor,
                proportion=proportion or 1.0,
                rect=rect_px,
                uv=uv_grid,
                mesh_step=step,
                cells=cells,
                src_px=src_px,
                diecut_border=diecut_border * s,
                primary=primary,
            )
        )

    def _mesh(
        self, uv: UvFn, box: Box, step: int, mask: Array
    ) -> tuple[tuple[Array, Array], npt.NDArray[np.bool_]]:
        x0, y0, x1, y1 = box
        xs = np.append(np.arange(x0, x1, step), x1).astype(F32)
        ys = np.append(np.arange(y0, y1, step), y1).astype(F32)
        gx, gy = np.meshgrid(xs / self.S, ys / self.S)
        u, v = uv(gx.astype(F32), gy.astype(F32))
        # A cell is drawn when any of its pixels is inside the zone.
        h, w = mask.shape
        ny, nx = len(ys) - 1, len(xs) - 1
        padded = np.zeros((ny * step, nx * step), dtype=np.bool_)
        padded[:h, :w] = mask > 0.002
        cells: npt.NDArray[np.bool_] = np.asarray(
            padded.reshape(ny, step, nx, step).any(axis=(1, 3))
        )
        return (u.astype(F32), v.astype(F32)), cells

    def cast_shadow(
        self, shape: Shape, dx: float, dy: float, sigma: float, strength: float
    ) -> None:
        """A soft shadow of `shape` on the backdrop, moved by (dx, dy)."""
        m = shift(shape.carr(), round(dx * self.C), round(dy * self.C))
        self._shadow = np.maximum(self._shadow, blur(m, sigma * self.C) * strength)

    def contact_shadow(self, cx: float, cy: float, rx: float, ry: float, strength: float) -> None:
        """An elliptical occlusion shadow where an object meets the surface."""
        d = ((self.X - cx) / rx) ** 2 + ((self.Y - cy) / ry) ** 2
        self._shadow = np.maximum(self._shadow, (np.exp(-d * 2.2) * strength).astype(F32))

    def finish(self, backdrop_kind: str) -> Geometry:
        boxes = self._boxes + [z.box for z in self.zones]
        product_box = (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )
        return Geometry(
            size=self.S,
            backdrop=backdrop_kind,
            shadow=(1.0 - np.clip(self._shadow, 0.0, 0.95)).astype(F32),
            under=self.under,
            zones=self.zones,
            over=self.over,
            product_box=product_box,
        )


def _source_px(
    uv: tuple[Array, Array] | None, step: int, rect: tuple[float, float, float, float] | None
) -> tuple[float, float]:
    if rect is not None:
        return (rect[2] - rect[0], rect[3] - rect[1])
    if uv is None:
        return (1.0, 1.0)
    u, v = uv
    du = np.abs(np.diff(u, axis=1)) / step
    dv = np.abs(np.diff(v, axis=0)) / step
    du = du[(du > 0) & (du < 0.5)]
    dv = dv[(dv > 0) & (dv < 0.5)]
    # The least-compressed place sets the resolution the artwork is resampled to.
    px_u = 1.0 / float(np.percentile(du, 5)) if du.size else 1.0
    px_v = 1.0 / float(np.percentile(dv, 5)) if dv.size else 1.0
    return (px_u, px_v)

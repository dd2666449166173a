"""Drinkware: mug (front, and handle-left / handle-right views), tumbler, water bottle.

The print wraps a cylinder. For a screen column at offset x from the axis the surface angle is
θ = asin(x / R): the print's horizontal coordinate follows θ, so it is compressed towards the
silhouette edges exactly as a printed wrap is. The (u, v) index maps are computed once per
template size (cached with the geometry) and the artwork is sampled through them.
"""

import math
from dataclasses import dataclass

import numpy as np

from flashfusion.studio.mockups.raster import F32, Array, Shape, cubic, gaussian
from flashfusion.studio.mockups.scene import PRODUCT, Ctx, FieldFn, Paint, UvFn, fixed

LIGHT_ANGLE = -0.62  # radians from the view axis: key light front-left


@dataclass(frozen=True)
class Cylinder:
    cx: float
    y_top: float
    y_bot: float
    r_top: float
    r_bot: float
    b_top: float  # ellipse half-height of the top rim (camera elevation)
    b_bot: float

    def radius(self, t: Array) -> Array:
        return (self.r_top + (self.r_bot - self.r_top) * t).astype(F32)

    def surface(self, gx: Array, gy: Array) -> tuple[Array, Array, Array]:
        """(θ, t, inside) for unit-grid points: surface angle, height fraction, on the body."""
        t0 = np.clip((gy - self.y_top) / (self.y_bot - self.y_top), -0.2, 1.2)
        r = self.radius(np.clip(t0, 0, 1))
        s = (gx - self.cx) / r
        inside = np.abs(s) < 1.0
        theta = np.arcsin(np.clip(s, -1.0, 1.0))
        cos = np.cos(theta)
        top = self.y_top + self.b_top * cos
        bot = self.y_bot + self.b_bot * cos
        t = (gy - top) / (bot - top)
        inside = inside & (t >= 0) & (t <= 1)
        return theta.astype(F32), t.astype(F32), inside


def _diffuse(theta: Array, ambient: float = 0.6) -> Array:
    lam = np.clip(np.cos(theta - LIGHT_ANGLE), 0.0, 1.0)
    edge = 0.82 + 0.18 * np.sqrt(np.clip(np.cos(theta), 0.0, 1.0))
    return ((ambient + (1.0 - ambient) * lam) * edge * 1.06).astype(F32)


def _gloss(theta: Array, t: Array, strength: float, metal: bool = False) -> Array:
    """Studio reflections on a glossy cylinder: a softbox streak left, a rim light right."""
    v = np.clip(np.sin(np.clip(t, 0, 1) * math.pi) * 1.4, 0.0, 1.0)
    spec = (
        0.62 * gaussian(theta, -0.72, 0.085)
        + 0.16 * gaussian(theta, -0.72, 0.3)
        + 0.22 * gaussian(theta, 1.12, 0.1)
    )
    if metal:
        spec = spec + 0.25 * gaussian(theta, 0.35, 0.18) + 0.1 * gaussian(theta, -1.3, 0.12)
    return (spec * v * strength).astype(F32)


def _wrap_uv(cyl: Cylinder, view_angle: float, gap: float, band: tuple[float, float]) -> UvFn:
    """Print coordinates on the body: u runs around (0 and 1 meet at the handle), v down."""

    def uv(gx: Array, gy: Array) -> tuple[Array, Array]:
        # Unwrapped on purpose: each view's half turn stays inside 0..2π, and a continuous map
        # interpolates cleanly across the silhouette (the zone mask does the clipping).
        theta, t, _ = cyl.surface(gx, gy)
        phi = view_angle + theta
        u = (phi / (2 * math.pi) - gap / 2) / (1.0 - gap)
        v = (t - band[0]) / (band[1] - band[0])
        return u.astype(F32), v.astype(F32)

    return uv


def _body_shape(ctx: Ctx, cyl: Cylinder) -> Shape:
    """The silhouette: side walls plus the bottom and top ellipses."""
    pts = [(cyl.cx - cyl.r_top, cyl.y_top), (cyl.cx + cyl.r_top, cyl.y_top)]
    pts += [(cyl.cx + cyl.r_bot, cyl.y_bot)]
    pts += [
        (cyl.cx + cyl.r_bot * math.cos(a), cyl.y_bot + cyl.b_bot * math.sin(a))
        for a in np.linspace(0, math.pi, 24)
    ]
    pts += [(cyl.cx - cyl.r_bot, cyl.y_bot)]
    return ctx.poly(pts) | ctx.ellipse(cyl.cx, cyl.y_top, cyl.r_top, cyl.b_top)


def _body_fields(cyl: Cylinder, gloss: float, metal: bool = False) -> tuple[FieldFn, FieldFn]:
    def light(gx: Array, gy: Array) -> Array:
        theta, t, _ = cyl.surface(gx, gy)
        foot = 1.0 - 0.25 * np.clip((t - 0.95) / 0.05, 0, 1)
        return (_diffuse(theta) * foot).astype(F32)

    def spec(gx: Array, gy: Array) -> Array:
        theta, t, _ = cyl.surface(gx, gy)
        return _gloss(theta, t, gloss, metal)

    return light, spec


def _rim_and_inside(ctx: Ctx, cyl: Cylinder, thickness: float, paint: Paint) -> None:
    cx, yt, r, b = cyl.cx, cyl.y_top, cyl.r_top, cyl.b_top
    rim = ctx.ellipse(cx, yt, r, b)
    ctx.add_part(rim, paint, 1.06, spec=0.08)
    ri, bi = r - thickness, b - thickness * b / r
    inside = ctx.ellipse(cx, yt, ri, bi)

    def in_light(gx: Array, gy: Array) -> Array:
        # The far inner wall catches the light; the near wall's shadow falls towards us.
        depth = np.clip((gy - (yt - bi)) / (2 * bi), 0, 1)
        side = np.clip(1 - np.abs(gx - cx) / ri, 0, 1)
        return (0.82 - 0.38 * depth + 0.06 * side).astype(F32)

    ctx.add_part(inside, paint, in_light)


def mug(ctx: Ctx) -> None:
    view = ctx.view
    # Handle at print seam (angle 0). Front faces the print's centre; left/right show the handle.
    view_angle = {"front": math.pi, "right": 1.5 * math.pi, "left": 0.5 * math.pi}[view]
    cx = {"front": 0.5, "right": 0.44, "left": 0.56}[view]
    cyl = Cylinder(cx, 0.262, 0.775, 0.225, 0.225, 0.056, 0.05)
    body = _body_shape(ctx, cyl)
    if view != "front":
        sgn = 1 if view == "right" else -1
        edge = cx + sgn * (cyl.r_top - 0.012)
        handle_pts = cubic(
            (edge, cyl.y_top + 0.085),
            (edge + sgn * 0.205, cyl.y_top + 0.07),
            (edge + sgn * 0.215, cyl.y_top + 0.37),
            (edge, cyl.y_top + 0.39),
            30,
        )
        handle = ctx.stroke(handle_pts, 0.052) - body
        h_light = ctx.relief(handle, 0.012, strength=1.6, ao=0.35) * 0.98
        ctx.cast_shadow(handle, 0.02 * sgn + 0.01, 0.05, 0.02, 0.18)
        ctx.add_part(handle, PRODUCT, h_light, spec=np.clip(h_light - 1.08, 0, 1) * 2.5)
    ctx.contact_shadow(cx, cyl.y_bot + cyl.b_bot * 0.7, cyl.r_bot * 1.05, 0.028, 0.55)
    ctx.cast_shadow(body, 0.03, 0.035, 0.03, 0.18)
    light, spec = _body_fields(cyl, 1.0)
    ctx.add_part(body, PRODUCT, light, spec=spec)
    _rim_and_inside(ctx, cyl, 0.011, PRODUCT)
    # 11 oz: a 9 in print on a 10.2 in circumference leaves a gap around the handle.
    ctx.add_zone(
        ("default", "front", "wrap"),
        body - ctx.ellipse(cyl.cx, cyl.y_top, cyl.r_top, cyl.b_top),
        light,
        uv=_wrap_uv(cyl, view_angle, 0.12, (0.05, 0.95)),
        proportion=2700 / 1050,  # Printful 11 oz mug print file
        spec=spec,
        opacity=0.98,
        fit="contain",
        primary=True,
    )


def tumbler(ctx: Ctx) -> None:
    cx = 0.5
    cyl = Cylinder(cx, 0.215, 0.83, 0.118, 0.094, 0.03, 0.024)
    body = _body_shape(ctx, cyl)
    steel = fixed(0.8, 0.8, 0.8)
    # Straw first (behind the lid top), then lid.
    straw = ctx.stroke([(cx + 0.02, 0.2), (cx + 0.05, 0.045)], 0.018)
    ctx.add_part(
        straw,
        fixed(0.95, 0.95, 0.95),
        ctx.relief(straw, 0.005, strength=1.5, ao=0.3) * 0.97,
        spec=0.05,
    )
    ctx.contact_shadow(cx, cyl.y_bot + cyl.b_bot * 0.7, cyl.r_bot * 1.1, 0.022, 0.55)
    ctx.cast_shadow(body, 0.025, 0.03, 0.025, 0.18)
    light, spec = _body_fields(cyl, 1.0, metal=True)
    ctx.add_part(body, PRODUCT, light, spec=spec)
    lid_cyl = Cylinder(cx, 0.178, 0.215, 0.122, 0.12, 0.03, 0.03)
    lid = _body_shape(ctx, lid_cyl)
    l_light, l_spec = _body_fields(lid_cyl, 0.7)
    ctx.add_part(lid, fixed(0.16, 0.16, 0.17), l_light, spec=l_spec)
    top = ctx.ellipse(cx, 0.178, 0.122, 0.03)
    ctx.add_part(top, fixed(0.2, 0.2, 0.21), 1.0, spec=0.04)
    ctx.add_part(ctx.ellipse(cx + 0.02, 0.18, 0.016, 0.006), fixed(0.08, 0.08, 0.08), 1.0)
    ctx.add_part(straw & ctx.rrect(0, 0, 1, 0.18), fixed(0.95, 0.95, 0.95), 0.95, spec=0.06)
    ring = ctx.ellipse(cx, cyl.y_bot, cyl.r_bot, cyl.b_bot) - ctx.ellipse(
        cx, cyl.y_bot - 0.004, cyl.r_bot, cyl.b_bot
    )
    ctx.add_part(ring & body, steel, 0.85, spec=0.1, over=True)
    ctx.add_zone(
        ("default", "front", "wrap"),
        body,
        light,
        uv=_wrap_uv(cyl, math.pi, 0.0, (0.06, 0.94)),
        proportion=2795 / 2100,  # Printful 20 oz tumbler print file: the whole wrap
        spec=spec,
        opacity=0.98,
        primary=True,
    )


def bottle(ctx: Ctx) -> None:
    cx = 0.5
    cyl = Cylinder(cx, 0.37, 0.86, 0.105, 0.105, 0.026, 0.026)
    body = _body_shape(ctx, cyl)
    # Shoulder narrowing to the neck, then the cap with its carry loop.
    shoulder_pts = cubic(
        (cx - 0.105, 0.372), (cx - 0.105, 0.3), (cx - 0.06, 0.29), (cx - 0.052, 0.245), 16
    )
    right = [(2 * cx - x, y) for x, y in reversed(shoulder_pts)]
    shoulder = ctx.poly(shoulder_pts + right)
    loop = ctx.stroke(
        cubic((cx - 0.03, 0.13), (cx - 0.04, 0.06), (cx + 0.04, 0.06), (cx + 0.03, 0.13), 20), 0.016
    )
    cap_paint = fixed(0.18, 0.18, 0.19)
    ctx.add_part(loop, cap_paint, ctx.relief(loop, 0.005, strength=1.5, ao=0.3), spec=0.03)
    ctx.contact_shadow(cx, cyl.y_bot + cyl.b_bot * 0.7, cyl.r_bot * 1.1, 0.022, 0.55)
    ctx.cast_shadow(body | shoulder, 0.025, 0.03, 0.025, 0.18)
    light, spec = _body_fields(cyl, 0.55, metal=True)
    ctx.add_part(body, PRODUCT, light, spec=spec)

    def sh_light(gx: Array, gy: Array) -> Array:
        theta = np.arcsin(np.clip((gx - cx) / 0.106, -1, 1))
        return (_diffuse(theta) * (0.92 + 0.1 * np.clip((gy - 0.25) / 0.12, 0, 1))).astype(F32)

    def sh_spec(gx: Array, _gy: Array) -> Array:
        theta = np.arcsin(np.clip((gx - cx) / 0.106, -1, 1))
        return (_gloss(theta, np.full_like(theta, 0.5), 0.5, True) * 0.8).astype(F32)

    ctx.add_part(shoulder, PRODUCT, sh_light, spec=sh_spec)
    cap_cyl = Cylinder(cx, 0.13, 0.25, 0.066, 0.066, 0.016, 0.016)
    cap = _body_shape(ctx, cap_cyl)
    for i in range(-5, 6):
        x = cx + 0.06 * math.sin(i / 6 * math.pi / 2)
        ctx.line([(x, 0.15), (x, 0.24)], 0.0025, 0.7)
    c_light, c_spec = _body_fields(cap_cyl, 0.5)
    ctx.add_part(cap, cap_paint, c_light, spec=c_spec)
    ctx.add_zone(
        ("default", "front", "wrap"),
        body - ctx.ellipse(cx, cyl.y_top, cyl.r_top, cyl.b_top),
        light,
        uv=_wrap_uv(cyl, math.pi, 0.0, (0.08, 0.92)),
        proportion=2557 / 1582,  # Printful water bottle print file: the whole wrap
        spec=spec,
        opacity=0.98,
        primary=True,
    )

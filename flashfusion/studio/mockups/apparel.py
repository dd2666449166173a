"""Apparel and wearables: tee, tank, long sleeve, sweatshirt, hoodie (front and back), apron, cap.

The garments share one parameterised ghost-mannequin silhouette (sleeves, collar, hood, rib
bands, pocket) so each reads as its product while the drawing code stays in one place.
"""

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from flashfusion.studio.mockups.raster import (
    F32,
    Array,
    Point,
    cubic,
    mirrored,
    offset_polyline,
    quad,
)
from flashfusion.studio.mockups.scene import PRODUCT, Ctx, Fold, Paint, fixed

Sleeve = Literal["short", "long", "none"]

# Ink on fabric: nearly opaque (DTG with underbase), with the weave showing through.
INK_OPACITY = 0.97
INK_TEXTURE = 0.85


@dataclass(frozen=True)
class GarmentStyle:
    sleeve: Sleeve
    half_width: float  # body half-width (unit coords)
    hem: float  # hem line y
    texture: str
    collar: float = 0.016  # crew rib width
    cuffs: bool = False
    waistband: bool = False
    hood: bool = False
    pocket: bool = False
    tank: bool = False
    front_zone: tuple[float, float, float] = (0.235, 0.27, 0.36)  # top y, width, height
    back_zone: tuple[float, float, float] = (0.21, 0.27, 0.36)


SHIRT = GarmentStyle(sleeve="short", half_width=0.235, hem=0.86, texture="jersey")
LONG_SLEEVE = GarmentStyle(sleeve="long", half_width=0.228, hem=0.86, texture="jersey", cuffs=True)
TANK = GarmentStyle(
    sleeve="none",
    half_width=0.222,
    hem=0.87,
    texture="jersey",
    tank=True,
    front_zone=(0.29, 0.26, 0.347),
    back_zone=(0.25, 0.26, 0.347),
)
SWEATSHIRT = GarmentStyle(
    sleeve="long",
    half_width=0.24,
    hem=0.85,
    texture="fleece",
    collar=0.022,
    cuffs=True,
    waistband=True,
    front_zone=(0.25, 0.27, 0.36),
    back_zone=(0.22, 0.27, 0.36),
)
HOODIE = GarmentStyle(
    sleeve="long",
    half_width=0.24,
    hem=0.85,
    texture="fleece",
    collar=0.0,
    cuffs=True,
    waistband=True,
    hood=True,
    pocket=True,
    front_zone=(0.295, 0.27, 0.30),
    back_zone=(0.35, 0.27, 0.36),
)


def _outline(st: GarmentStyle, back: bool) -> tuple[list[Point], list[Point]]:
    """The garment's right half (neck centre → hem centre) and its front neckline curve."""
    hw = st.half_width
    cx = 0.5
    side_x = cx + hw
    neck_hw = 0.075
    neck_y = 0.155
    dip = 0.175 if back else 0.215
    if st.hood:
        dip = 0.175 if back else 0.195
    if st.tank:
        neck_hw, neck_y = 0.097, 0.138
        dip = 0.225 if back else 0.262
    neck = cubic(
        (cx, dip),
        (cx + neck_hw * 0.55, dip),
        (cx + neck_hw, neck_y + 0.02),
        (cx + neck_hw, neck_y),
        14,
    )
    pts: list[Point] = list(neck)
    shoulder = (side_x - 0.004, 0.19)
    if st.tank:
        strap_out = (cx + 0.158, 0.134)
        pts.append(strap_out)
        pts += cubic(strap_out, (cx + 0.16, 0.25), (side_x - 0.05, 0.36), (side_x, 0.395), 18)[1:]
        under = (side_x, 0.395)
    elif st.sleeve == "short":
        pts.append(shoulder)
        pts += cubic(
            shoulder, (side_x + 0.06, 0.215), (side_x + 0.105, 0.27), (side_x + 0.128, 0.335), 14
        )[1:]
        pts.append((side_x + 0.078, 0.408))
        under = (side_x + 0.002, 0.362)
        pts += quad((side_x + 0.078, 0.408), (side_x + 0.03, 0.375), under, 8)[1:]
    else:  # long
        pts.append(shoulder)
        pts += cubic(
            shoulder, (side_x + 0.075, 0.22), (side_x + 0.115, 0.42), (side_x + 0.128, 0.79), 22
        )[1:]
        cuff_in = (side_x + 0.062, 0.80)
        pts.append((side_x + 0.126, 0.805))
        pts.append(cuff_in)
        under = (side_x + 0.004, 0.375)
        pts += cubic(cuff_in, (side_x + 0.052, 0.63), (side_x + 0.035, 0.46), under, 18)[1:]
    hem_side = side_x - (0.012 if st.waistband else -0.004)
    band_top = st.hem - 0.055
    if st.waistband:
        pts += cubic(
            under,
            (side_x + 0.004, 0.55),
            (side_x + 0.006, band_top - 0.05),
            (side_x + 0.003, band_top),
            14,
        )[1:]
        pts.append((hem_side, st.hem))
    else:
        pts += cubic(under, (side_x - 0.008, 0.5), (side_x - 0.01, 0.7), (hem_side, st.hem), 16)[1:]
    pts += quad((hem_side, st.hem), (cx + hw * 0.5, st.hem + 0.006), (cx, st.hem + 0.004), 8)[1:]
    return pts, neck


def _garment(ctx: Ctx, st: GarmentStyle, *, sleeve_zones: bool) -> None:
    back = ctx.view == "back"
    cx = 0.5
    hw = st.half_width
    right, neck = _outline(st, back)
    body = ctx.poly(mirrored(right))
    full_neck = [(2 * cx - x, y) for x, y in reversed(neck)] + neck[1:]
    tex = st.texture

    # Light: key light, a rounded torso (ghost mannequin) and creases.
    torso = 0.93 + 0.09 * np.cos(np.clip((ctx.X - cx) / (hw + 0.05), -1, 1) * math.pi / 2)
    folds = _folds(st, back)
    light = ctx.ambient() * ctx.relief(body, 0.022, strength=0.9, ao=0.22) * torso
    light = light + 1.6 * ctx.folds(folds)

    # Seams and stitching into the detail map (applied to the blank and the print alike).
    _stitches(ctx, st, back)
    if st.collar > 0 and not st.tank:
        # The rib's seam to the body, its cover stitch, and its fold at the neck edge.
        ctx.line(offset_polyline(full_neck, -st.collar), 0.0022, 0.8)
        ctx.line(offset_polyline(full_neck, -st.collar * 1.25), 0.0013, 0.86, dash=0.004)
        ctx.line(offset_polyline(full_neck, -st.collar * 0.15), 0.0016, 0.9)

    ctx.cast_shadow(body, 0.006, 0.012, 0.014, 0.30)
    ctx.cast_shadow(body, 0.0, 0.004, 0.004, 0.22)

    if st.hood and not back:
        hood = ctx.poly(
            cubic(
                (cx - 0.115, 0.215), (cx - 0.13, 0.05), (cx + 0.13, 0.05), (cx + 0.115, 0.215), 28
            )
        )
        hood_light = ctx.ambient() * ctx.relief(hood, 0.02, strength=1.0, ao=0.2)
        ctx.add_part(hood, PRODUCT, hood_light * 0.93, tex=tex, detail=False)

    if not back and not st.hood:
        # The inside of the back neck, seen through the front neckline, with the back rib.
        back_y = 0.17 if not st.tank else 0.19
        back_neck = cubic(
            full_neck[-1],
            (cx + 0.05, back_y - 0.012),
            (cx - 0.05, back_y - 0.012),
            full_neck[0],
            12,
        )
        inner = ctx.poly(full_neck + back_neck[1:])
        in_light = np.clip(0.56 + 0.5 * (ctx.Y - back_y), 0.5, 0.75).astype(F32)
        ctx.add_part(inner, PRODUCT, in_light, tex=tex, detail=False, lift=0.6)
        band = ctx.stroke(back_neck, (st.collar or 0.011) * 0.9) & inner
        ctx.add_part(band, Paint(factor=0.95), 0.74, tex="canvas", tex_amp=0.7, detail=False)

    ctx.add_part(body, PRODUCT, light, tex=tex, lift=1.0)

    rib = Paint(factor=0.97)
    if st.collar > 0 and not st.tank:
        collar = ctx.stroke(offset_polyline(full_neck, -st.collar / 2), st.collar)
        ctx.add_part(collar & body, rib, light * 0.96, tex="canvas", tex_amp=0.7, lift=1.0)
    if st.tank:
        ctx.add_part(ctx.stroke(full_neck, 0.011) & body, rib, light * 0.97, tex=tex)
    if st.waistband:
        band = ctx.rrect(cx - hw - 0.02, st.hem - 0.055, cx + hw + 0.02, st.hem + 0.02) & body
        ctx.add_part(band, rib, light * 0.95, tex="canvas", tex_amp=0.9)
    if st.cuffs:
        for sgn in (1, -1):
            cx_cuff = cx + sgn * (hw + 0.095)
            cuff = ctx.rrect(cx_cuff - 0.05, 0.75, cx_cuff + 0.05, 0.82) & body
            ctx.add_part(cuff, rib, light * 0.95, tex="canvas", tex_amp=0.9)
    if st.hood:
        _hood_parts(ctx, st, back)

    # Print zones: chest (or back) print, and sleeve prints on the front view.
    zy, zw, zh = st.back_zone if back else st.front_zone
    rect = (cx - zw / 2, zy, cx + zw / 2, zy + zh)
    printable = body
    if st.pocket and not back:
        printable = body - ctx.rrect(cx - 0.2, 0.612, cx + 0.2, 0.9)
    ctx.add_zone(
        ("back",) if back else ("front",),
        printable & ctx.rrect(*rect),
        light,
        rect=rect,
        tex=tex,
        ink_tex=INK_TEXTURE,
        opacity=INK_OPACITY,
        anchor="top",
    )
    if sleeve_zones and not back and st.sleeve != "none":
        for key, sgn in (("sleeve_left", 1), ("sleeve_right", -1)):
            if st.sleeve == "short":
                scx, scy, sw, sh = cx + sgn * (hw + 0.065), 0.318, 0.062, 0.052
            else:
                scx, scy, sw, sh = cx + sgn * (hw + 0.07), 0.5, 0.045, 0.16
            srect = (scx - sw / 2, scy - sh / 2, scx + sw / 2, scy + sh / 2)
            ctx.add_zone(
                (key,),
                body & ctx.rrect(*srect),
                light,
                rect=srect,
                tex=tex,
                ink_tex=INK_TEXTURE,
                opacity=INK_OPACITY,
            )
    if st.hood and not back:
        _drawstrings(ctx)


def _folds(st: GarmentStyle, back: bool) -> list[Fold]:
    cx, hw = 0.5, st.half_width
    folds = [
        Fold((cx + hw - 0.01, 0.40), (cx + 0.10, 0.47), 0.010, 0.05),
        Fold((cx - hw + 0.01, 0.41), (cx - 0.11, 0.49), 0.010, 0.05),
        Fold((cx + 0.13, st.hem - 0.01), (cx + 0.10, st.hem - 0.17), 0.012, 0.045),
        Fold((cx - 0.09, st.hem - 0.01), (cx - 0.07, st.hem - 0.13), 0.011, 0.04),
        Fold((cx + hw - 0.02, 0.62), (cx + hw - 0.07, 0.74), 0.012, 0.035),
    ]
    if st.sleeve == "short":
        folds += [
            Fold((cx + hw + 0.03, 0.25), (cx + hw + 0.075, 0.37), 0.009, 0.05),
            Fold((cx - hw - 0.035, 0.26), (cx - hw - 0.07, 0.36), 0.009, 0.045),
        ]
    elif st.sleeve == "long":
        for sgn in (1, -1):
            x = cx + sgn * (hw + 0.09)
            folds += [
                Fold((x - sgn * 0.02, 0.52), (x + sgn * 0.02, 0.55), 0.008, 0.06),
                Fold((x - sgn * 0.02, 0.64), (x + sgn * 0.025, 0.665), 0.008, 0.06),
                Fold((x - sgn * 0.015, 0.40), (x + sgn * 0.02, 0.43), 0.008, 0.045),
            ]
    if back:
        folds.append(Fold((cx - 0.02, 0.25), (cx + 0.03, 0.36), 0.014, 0.025))
    return folds


def _stitches(ctx: Ctx, st: GarmentStyle, back: bool) -> None:
    cx, hw = 0.5, st.half_width
    w = 0.0016
    gap = 0.005
    if not st.waistband:
        hem_y = st.hem - 0.014
        for dy in (0.0, 0.006):
            ctx.line(
                [(cx - hw + 0.004, hem_y - dy), (cx + hw - 0.004, hem_y - dy)], w, 0.84, dash=gap
            )
    if st.sleeve == "short":
        for sgn in (1, -1):
            a = (cx + sgn * (hw + 0.127), 0.330)
            b = (cx + sgn * (hw + 0.076), 0.398)
            ctx.line([a, b], w, 0.84, dash=gap)
    # Shoulder seams run from the neck to the shoulder point.
    for sgn in (1, -1):
        ctx.line([(cx + sgn * 0.078, 0.158), (cx + sgn * (hw - 0.006), 0.192)], 0.0022, 0.88)
        if st.sleeve != "none":
            ctx.line(
                cubic(
                    (cx + sgn * (hw - 0.006), 0.192),
                    (cx + sgn * (hw - 0.018), 0.25),
                    (cx + sgn * (hw - 0.012), 0.32),
                    (cx + sgn * (hw + 0.002), 0.37),
                    12,
                ),
                0.0022,
                0.9,
            )
    if st.waistband:
        for i in range(int(2 * hw / 0.006)):
            x = cx - hw + 0.003 + i * 0.006
            ctx.line([(x, st.hem - 0.053), (x, st.hem - 0.002)], 0.0015, 0.93)
        ctx.line([(cx - hw, st.hem - 0.055), (cx + hw, st.hem - 0.055)], 0.0022, 0.82)
    if st.cuffs:
        for sgn in (1, -1):
            x0 = cx + sgn * (hw + 0.062)
            x1 = cx + sgn * (hw + 0.128)
            ctx.line([(x0, 0.758), (x1, 0.748)], 0.0022, 0.82)
            for i in range(12):
                x = x0 + (x1 - x0) * (i + 0.5) / 12
                ctx.line([(x, 0.758 - 0.01 * (i + 0.5) / 12), (x, 0.80)], 0.0014, 0.93)
    if st.pocket and not back:
        top, bot = 0.615, 0.79
        pts = [
            (cx - 0.12, top),
            (cx + 0.12, top),
            (cx + 0.155, 0.72),
            (cx + 0.16, bot),
            (cx - 0.16, bot),
            (cx - 0.155, 0.72),
            (cx - 0.12, top),
        ]
        ctx.line(pts, 0.0022, 0.78)
        for sgn in (1, -1):
            ctx.line(
                quad(
                    (cx + sgn * 0.12, top), (cx + sgn * 0.118, 0.69), (cx + sgn * 0.155, 0.72), 10
                ),
                0.004,
                0.62,
            )
        ctx.line([(cx - 0.118, top + 0.007), (cx + 0.118, top + 0.007)], 0.0015, 0.86, dash=gap)


def _hood_parts(ctx: Ctx, st: GarmentStyle, back: bool) -> None:
    cx = 0.5
    if back:
        # The hood lies flat on the back, with its centre seam.
        pts = cubic(
            (cx - 0.125, 0.172), (cx - 0.13, 0.33), (cx + 0.13, 0.33), (cx + 0.125, 0.172), 24
        )
        hood = ctx.poly(pts)
        hood_light = ctx.ambient() * ctx.relief(hood, 0.012, strength=1.2, ao=0.18)
        ctx.line([(cx, 0.175), (cx, 0.29)], 0.002, 0.82)
        ctx.add_part(hood, PRODUCT, hood_light, tex=st.texture)
        return
    # The lining seen through the face opening, in the hood's own shadow.
    oy, orx, ory = 0.172, 0.068, 0.098
    lining = ctx.ellipse(cx, oy, orx, ory)
    in_light = (
        0.5
        + 0.28 * np.clip((ctx.Y - (oy - ory)) / (2 * ory), 0, 1)
        - 0.1 * np.abs(ctx.X - cx) / orx
    ).astype(F32)
    ctx.add_part(lining, Paint(factor=0.9), in_light, tex=st.texture, detail=False, lift=0.5)
    # The hood's rolled front edge around the opening; below it the two edges cross at the neck.
    rim = ctx.ellipse(cx, oy, orx + 0.017, ory + 0.017) - lining
    flap_r = ctx.stroke([(cx + orx * 0.8, oy + ory * 0.72), (cx - 0.014, 0.298)], 0.022)
    flap_l = ctx.stroke([(cx - orx * 0.8, oy + ory * 0.72), (cx + 0.014, 0.298)], 0.022)
    for shape in (rim | flap_r, flap_l):
        edge_light = ctx.ambient() * ctx.relief(shape, 0.006, strength=1.6, ao=0.12)
        ctx.add_part(shape, PRODUCT, edge_light, tex=st.texture, detail=False)
        ctx.cast_shadow(shape, 0.003, 0.006, 0.005, 0.15)


def _drawstrings(ctx: Ctx) -> None:
    cx = 0.5
    cord = Paint(toward=(0.97, 0.96, 0.94), mix=0.35)
    metal = fixed(0.78, 0.77, 0.74)
    for sgn in (1, -1):
        pts = cubic(
            (cx + sgn * 0.03, 0.262),
            (cx + sgn * 0.032, 0.31),
            (cx + sgn * 0.025, 0.36),
            (cx + sgn * 0.034, 0.405),
            14,
        )
        cord_shape = ctx.stroke(pts, 0.0085)
        ctx.add_part(
            cord_shape, cord, ctx.relief(cord_shape, 0.003, strength=1.5, ao=0.3), over=True
        )
        ctx.cast_shadow(cord_shape, 0.004, 0.004, 0.003, 0.25)
        tip = ctx.stroke([(cx + sgn * 0.034, 0.40), (cx + sgn * 0.036, 0.425)], 0.0095)
        ctx.add_part(tip, metal, ctx.relief(tip, 0.003, strength=2.0, ao=0.2), spec=0.05, over=True)
        eyelet = ctx.ellipse(cx + sgn * 0.03, 0.262, 0.0075, 0.0075)
        ctx.add_part(eyelet, metal, 0.9, spec=0.08, over=True)


def shirt(ctx: Ctx) -> None:
    _garment(ctx, SHIRT, sleeve_zones=True)


def long_sleeve(ctx: Ctx) -> None:
    _garment(ctx, LONG_SLEEVE, sleeve_zones=True)


def tank(ctx: Ctx) -> None:
    _garment(ctx, TANK, sleeve_zones=False)


def sweatshirt(ctx: Ctx) -> None:
    _garment(ctx, SWEATSHIRT, sleeve_zones=True)


def hoodie(ctx: Ctx) -> None:
    _garment(ctx, HOODIE, sleeve_zones=True)


# --- apron ---------------------------------------------------------------------------------------


def apron(ctx: Ctx) -> None:
    cx = 0.5
    right: list[Point] = [(cx, 0.12), (cx + 0.1, 0.12)]
    right += cubic((cx + 0.1, 0.12), (cx + 0.11, 0.26), (cx + 0.17, 0.36), (cx + 0.19, 0.40), 16)[
        1:
    ]
    right += cubic((cx + 0.19, 0.40), (cx + 0.2, 0.6), (cx + 0.205, 0.8), (cx + 0.21, 0.9), 12)[1:]
    right.append((cx, 0.905))
    body = ctx.poly(mirrored(right))
    light = ctx.ambient() * ctx.relief(body, 0.018, strength=0.8, ao=0.2) + ctx.folds(
        [
            Fold((cx + 0.12, 0.5), (cx + 0.14, 0.88), 0.014, 0.04),
            Fold((cx - 0.1, 0.52), (cx - 0.13, 0.88), 0.013, 0.04),
            Fold((cx + 0.02, 0.8), (cx + 0.03, 0.9), 0.012, 0.03),
        ]
    )
    # Hems and the front pocket.
    for pts in (
        [(cx - 0.093, 0.128), (cx + 0.093, 0.128)],
        [(cx - 0.2, 0.893), (cx + 0.2, 0.893)],
    ):
        ctx.line(pts, 0.0016, 0.82, dash=0.005)
    pocket = [
        (cx - 0.15, 0.6),
        (cx + 0.15, 0.6),
        (cx + 0.15, 0.75),
        (cx - 0.15, 0.75),
        (cx - 0.15, 0.6),
    ]
    ctx.line(pocket, 0.0016, 0.8, dash=0.005)
    ctx.line([(cx, 0.6), (cx, 0.75)], 0.0016, 0.8, dash=0.005)
    ctx.line([(cx - 0.15, 0.6), (cx + 0.15, 0.6)], 0.003, 0.75)
    strap_paint = Paint(factor=0.9)
    neck = ctx.stroke(
        cubic((cx - 0.085, 0.125), (cx - 0.09, 0.02), (cx + 0.09, 0.02), (cx + 0.085, 0.125), 24),
        0.022,
    )
    ctx.add_part(
        neck, strap_paint, ctx.relief(neck, 0.006, strength=1.0), tex="canvas", tex_amp=0.9
    )
    for sgn in (1, -1):
        tie = ctx.stroke(
            cubic(
                (cx + sgn * 0.185, 0.405),
                (cx + sgn * 0.26, 0.41),
                (cx + sgn * 0.28, 0.5),
                (cx + sgn * 0.265, 0.66),
                16,
            ),
            0.022,
        )
        ctx.add_part(
            tie, strap_paint, ctx.relief(tie, 0.006, strength=1.0), tex="canvas", tex_amp=0.9
        )
        ctx.cast_shadow(tie, 0.006, 0.01, 0.01, 0.25)
    ctx.cast_shadow(body, 0.006, 0.012, 0.014, 0.30)
    ctx.add_part(body, PRODUCT, light, tex="canvas", lift=1.0)
    rect = (cx - 0.12, 0.2, cx + 0.12, 0.52)
    ctx.add_zone(
        ("front", "default"),
        body & ctx.rrect(*rect),
        light,
        rect=rect,
        tex="canvas",
        ink_tex=0.8,
        opacity=0.96,
        primary=True,
    )


# --- baseball cap --------------------------------------------------------------------------------


def hat(ctx: Ctx) -> None:
    cx = 0.5
    side_y, mid_y = 0.565, 0.6  # the crown's lower edge: lower in the middle (nearer to us)
    crown_right = cubic(
        (cx, 0.255), (cx + 0.17, 0.255), (cx + 0.255, 0.35), (cx + 0.262, side_y), 20
    )
    crown_pts = mirrored(
        crown_right + quad((cx + 0.262, side_y), (cx + 0.13, mid_y + 0.012), (cx, mid_y), 10)[1:]
    )
    crown = ctx.poly(crown_pts)
    dome = 1.08 - 0.45 * ((ctx.X - 0.44) ** 2 / 0.08 + (ctx.Y - 0.36) ** 2 / 0.2)
    light = ctx.relief(crown, 0.03, strength=0.9, ao=0.25) * np.clip(dome, 0.72, 1.1).astype(F32)
    # Panel seams and stitching from the button down.
    ctx.line([(cx, 0.262), (cx, mid_y)], 0.0028, 0.72)
    ctx.line([(cx - 0.007, 0.27), (cx - 0.007, mid_y)], 0.0012, 0.86, dash=0.004)
    ctx.line([(cx + 0.007, 0.27), (cx + 0.007, mid_y)], 0.0012, 0.86, dash=0.004)
    for sgn in (1, -1):
        seam = cubic(
            (cx, 0.26),
            (cx + sgn * 0.13, 0.275),
            (cx + sgn * 0.2, 0.4),
            (cx + sgn * 0.212, 0.585),
            14,
        )
        ctx.line(seam, 0.0026, 0.75)
        ctx.line([(x - sgn * 0.007, y) for x, y in seam[2:]], 0.0012, 0.86, dash=0.004)
    # A sweatband line just above the bill.
    ctx.line(
        quad((cx - 0.255, side_y - 0.012), (cx, mid_y + 0.0), (cx + 0.255, side_y - 0.012), 20),
        0.0014,
        0.85,
        dash=0.004,
    )
    ctx.cast_shadow(crown, 0.006, 0.02, 0.02, 0.3)
    ctx.add_part(crown, PRODUCT, light, tex="twill")
    for sgn in (1, -1):
        eyelet = ctx.ellipse(cx + sgn * 0.135, 0.33, 0.0075, 0.0065)
        ctx.add_part(eyelet, Paint(factor=0.5), 1.0, tex="twill", over=True)
    button = ctx.ellipse(cx, 0.256, 0.022, 0.011)
    ctx.add_part(button, PRODUCT, ctx.relief(button, 0.004, strength=1.5), tex="twill", over=True)
    # The bill, seen from slightly above: it curves down towards its front edge.
    top = quad((cx - 0.268, side_y - 0.008), (cx, mid_y + 0.075), (cx + 0.268, side_y - 0.008), 24)
    bottom = quad((cx + 0.29, side_y + 0.03), (cx, mid_y + 0.21), (cx - 0.29, side_y + 0.03), 24)
    bill = ctx.poly(top + bottom)
    for k in (0.018, 0.034, 0.05, 0.066):
        ctx.line(
            quad(
                (cx - 0.285 + k * 0.5, side_y + 0.03 - k * 0.2),
                (cx, mid_y + 0.21 - k * 2.0),
                (cx + 0.285 - k * 0.5, side_y + 0.03 - k * 0.2),
                24,
            ),
            0.0012,
            0.86,
            dash=0.004,
        )
    bill_light = (
        ctx.ambient()
        * ctx.relief(bill, 0.01, strength=1.2, ao=0.2)
        * (1.04 - 0.2 * np.clip((ctx.Y - mid_y) / 0.12, 0, 1))
    )
    ctx.cast_shadow(bill, 0.004, 0.025, 0.018, 0.4)
    ctx.add_part(bill, Paint(factor=0.97), bill_light, tex="twill")
    # The bill's shadow falls on the crown's lower edge.
    under = (
        ctx.stroke(
            quad((cx - 0.25, side_y - 0.004), (cx, mid_y + 0.02), (cx + 0.25, side_y - 0.004), 20),
            0.008,
        )
        & crown
    )
    ctx.add_part(under, Paint(factor=0.6), 0.8, tex="twill", detail=False)

    zx0, zx1, zy0, zy1 = cx - 0.135, cx + 0.135, 0.375, 0.51
    reach = zx1 - cx + 0.07

    def uv(gx: Array, gy: Array) -> tuple[Array, Array]:
        # The front panels curve away: compress the print towards its sides.
        k = 0.85
        t = np.arcsin(np.clip((gx - cx) / reach * k, -1, 1)) / math.asin(k) * reach
        u = 0.5 + t / (zx1 - zx0)
        bow = 0.014 * (1 - ((gx - cx) / 0.22) ** 2)
        v = (gy - zy0 - bow) / (zy1 - zy0)
        return u.astype(F32), v.astype(F32)

    ctx.add_zone(
        ("embroidery_front", "front", "embroidery_front_large", "default"),
        crown & ctx.rrect(zx0 - 0.03, zy0 - 0.01, zx1 + 0.03, zy1 + 0.03),
        light,
        uv=uv,
        proportion=(zx1 - zx0) / (zy1 - zy0),
        tex="twill",
        ink_tex=0.9,
        opacity=0.97,
        primary=True,
    )

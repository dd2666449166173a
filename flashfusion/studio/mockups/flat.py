"""Small goods and flat lays: sticker, phone case, tote, pillow, notebook, card, mouse pad and
jigsaw puzzle."""

import math

import numpy as np

from flashfusion.studio.mockups.raster import (
    F32,
    Array,
    Point,
    arc,
    cubic,
    quad,
    quad_uv_at,
    rounded_rect_coverage,
)
from flashfusion.studio.mockups.scene import PRODUCT, Ctx, Fold, Paint, fixed

WHITE_PAPER = (0.975, 0.972, 0.962)


def sticker(ctx: Ctx) -> None:
    # The die-cut shape follows the artwork, so the sticker itself is drawn at print time.
    x0, y0, x1, y1 = 0.2, 0.18, 0.8, 0.78
    zone = ctx.rrect(x0 - 0.04, y0 - 0.04, x1 + 0.06, y1 + 0.07)
    light = ctx.ambient(0.6)
    sheen = (0.09 * np.exp(-(((ctx.X + ctx.Y) - 0.78) ** 2) / 0.006)).astype(F32)
    ctx.add_zone(
        ("default", "front"),
        zone,
        light,
        rect=(x0 + 0.025, y0 + 0.025, x1 - 0.025, y1 - 0.025),
        spec=sheen,
        diecut_border=0.024,
        primary=True,
    )


def phone_case(ctx: Ctx) -> None:
    x0, y0, x1, y1 = 0.325, 0.135, 0.675, 0.855
    r = 0.058
    rim = ctx.rrect(x0 + 0.002, y0 + 0.004, x1 + 0.008, y1 + 0.01, r)
    back = ctx.rrect(x0, y0, x1, y1, r)
    ctx.cast_shadow(rim, 0.012, 0.02, 0.016, 0.38)
    ctx.add_part(
        rim - back, Paint(factor=0.72), ctx.relief(rim, 0.004, strength=1.0, ao=0.2), spec=0.04
    )
    light = ctx.ambient(0.8) * ctx.relief(back, 0.012, strength=1.0, ao=0.18)
    gloss = (
        0.12 * np.exp(-(((ctx.X * 0.9 + ctx.Y * 0.45) - 0.58) ** 2) / 0.0015)
        + 0.05 * np.exp(-(((ctx.X * 0.9 + ctx.Y * 0.45) - 0.66) ** 2) / 0.006)
    ).astype(F32)
    ctx.add_part(back, PRODUCT, light, spec=gloss)
    # Camera cutout, top left: the phone's camera bump shows through the case.
    cx0, cy0, cx1, cy1 = x0 + 0.026, y0 + 0.026, x0 + 0.152, y0 + 0.152
    lip = ctx.rrect(cx0 - 0.006, cy0 - 0.006, cx1 + 0.006, cy1 + 0.006, 0.036)
    hole = ctx.rrect(cx0, cy0, cx1, cy1, 0.03)
    ctx.add_zone(
        ("default", "front", "back"),
        back - lip,
        light,
        rect=(x0, y0, x1, y1),
        spec=gloss,
        opacity=1.0,
        fit="cover",
        primary=True,
    )
    ctx.add_part(
        lip - hole,
        Paint(factor=0.85),
        ctx.relief(lip - hole, 0.003, strength=1.6, ao=0.1),
        spec=0.05,
        over=True,
    )
    ctx.add_part(
        hole,
        fixed(0.16, 0.16, 0.175),
        ctx.relief(hole, 0.006, strength=1.2, ao=0.3),
        spec=0.03,
        over=True,
    )
    ring = fixed(0.5, 0.5, 0.52)
    glass = fixed(0.03, 0.03, 0.04)
    for lx, ly in (
        (cx0 + 0.034, cy0 + 0.034),
        (cx0 + 0.034, cy1 - 0.034),
        (cx1 - 0.034, (cy0 + cy1) / 2),
    ):
        outer = ctx.ellipse(lx, ly, 0.026, 0.026)
        ctx.add_part(
            outer, ring, ctx.relief(outer, 0.004, strength=1.5, ao=0.15), spec=0.08, over=True
        )
        lens = ctx.ellipse(lx, ly, 0.018, 0.018)
        ctx.add_part(lens, glass, 1.0, spec=0.02, over=True)
        glint = ctx.ellipse(lx - 0.006, ly - 0.006, 0.004, 0.004)
        ctx.add_part(glint, fixed(0.9, 0.92, 1.0), 1.0, over=True, alpha=0.8)
    flash = ctx.ellipse(cx1 - 0.02, cy0 + 0.018, 0.007, 0.007)
    ctx.add_part(flash, fixed(0.95, 0.9, 0.78), 1.0, over=True)


def tote(ctx: Ctx) -> None:
    back = ctx.view == "back"
    cx = 0.5
    top, bottom = 0.35, 0.89
    body = ctx.poly(
        [
            (0.25, top),
            (0.75, top),
            (0.756, bottom - 0.01),
            (0.745, bottom),
            (0.255, bottom),
            (0.244, bottom - 0.01),
        ]
    )
    strap_w = 0.034
    far = ctx.stroke(
        cubic((0.40, top + 0.01), (0.39, 0.03), (0.61, 0.03), (0.60, top + 0.01), 30), strap_w
    )
    near = ctx.stroke(
        cubic((0.37, top + 0.03), (0.355, -0.01), (0.645, -0.01), (0.63, top + 0.03), 30), strap_w
    )
    ctx.add_part(
        far - body, Paint(factor=0.78), ctx.relief(far, 0.006, strength=1.0, ao=0.2), tex="canvas"
    )
    folds = [
        Fold((0.33, 0.4), (0.31, 0.86), 0.014, 0.05),
        Fold((0.66, 0.42), (0.69, 0.85), 0.014, 0.05),
        Fold((0.45, 0.8), (0.52, 0.88), 0.012, 0.04),
    ]
    light = ctx.ambient() * ctx.relief(body, 0.02, strength=0.8, ao=0.2) + ctx.folds(folds)
    ctx.line([(0.252, top + 0.028), (0.748, top + 0.028)], 0.0016, 0.82, dash=0.005)
    ctx.line([(0.251, top + 0.034), (0.749, top + 0.034)], 0.0022, 0.86)
    ctx.cast_shadow(body, 0.008, 0.016, 0.016, 0.32)
    ctx.add_part(body, PRODUCT, light, tex="canvas", tex_amp=1.3)
    rect = (cx - 0.18, 0.42, cx + 0.18, 0.78)
    ctx.add_zone(
        ("back",) if back else ("front", "default"),
        body - ctx.rrect(0, 0, 1, top + 0.04),
        light,
        rect=rect,
        tex="canvas",
        ink_tex=1.0,
        opacity=0.95,
        primary=not back,
    )
    # The near strap is sewn onto the bag: box-and-cross stitched tabs.
    strap_light = ctx.relief(near, 0.006, strength=1.0, ao=0.2) * ctx.ambient()
    ctx.add_part(near, PRODUCT, strap_light, tex="canvas", tex_amp=1.3, over=True)
    for sx in (0.37, 0.63):
        tab = ctx.rrect(sx - strap_w / 2, top + 0.004, sx + strap_w / 2, top + 0.05)
        ctx.add_part(tab, PRODUCT, 0.97, tex="canvas", tex_amp=1.3, over=True)
        d = strap_w / 2 - 0.004
        stitch = [
            (sx - d, top + 0.01),
            (sx + d, top + 0.01),
            (sx + d, top + 0.044),
            (sx - d, top + 0.044),
            (sx - d, top + 0.01),
            (sx + d, top + 0.044),
        ]
        box = ctx.stroke(stitch, 0.0015)
        ctx.add_part(box, Paint(factor=0.72), 1.0, over=True, detail=False)


def pillow(ctx: Ctx) -> None:
    back = ctx.view == "back"
    x0, y0, x1, y1 = 0.175, 0.17, 0.825, 0.82
    bow = 0.024
    cxm, cym = (x0 + x1) / 2, (y0 + y1) / 2
    pts: list[Point] = []
    pts += quad((x0, y0), (cxm, y0 + 2 * bow), (x1, y0), 20)
    pts += quad((x1, y0), (x1 - 2 * bow, cym), (x1, y1), 20)[1:]
    pts += quad((x1, y1), (cxm, y1 - 2 * bow), (x0, y1), 20)[1:]
    pts += quad((x0, y1), (x0 + 2 * bow, cym), (x0, y0), 20)[1:]
    shape = ctx.poly(pts)
    rx = (ctx.X - cxm) / ((x1 - x0) / 2)
    ry = (ctx.Y - cym) / ((y1 - y0) / 2)
    puff = np.clip(1.06 - 0.16 * (rx**2 + ry**2) - 0.1 * (rx + ry) * 0.5, 0.6, 1.12).astype(F32)
    folds = []
    for kx, ky in ((x0, y0), (x1, y0), (x1, y1), (x0, y1)):
        folds.append(
            Fold(
                (kx + (cxm - kx) * 0.04, ky + (cym - ky) * 0.04),
                (kx + (cxm - kx) * 0.28, ky + (cym - ky) * 0.2),
                0.01,
                0.07,
            )
        )
        folds.append(
            Fold(
                (kx + (cxm - kx) * 0.04, ky + (cym - ky) * 0.06),
                (kx + (cxm - kx) * 0.18, ky + (cym - ky) * 0.3),
                0.009,
                0.05,
            )
        )
    light = puff * ctx.relief(shape, 0.05, strength=1.1, ao=0.3, gamma=0.7) + ctx.folds(folds)
    seam = pts[::2]
    ctx.line(seam, 0.002, 0.8)
    ctx.cast_shadow(shape, 0.01, 0.02, 0.02, 0.4)
    ctx.add_part(shape, PRODUCT, light, tex="plush", tex_amp=0.35)

    def uv(gx: Array, gy: Array) -> tuple[Array, Array]:
        # The pinched edges pull the print in; the bulge compresses it towards the seams.
        tx = (gx - x0) / (x1 - x0)
        ty = (gy - y0) / (y1 - y0)
        top_e = y0 + bow * (1 - (2 * tx - 1) ** 2) * 2 * 0.5
        bot_e = y1 - bow * (1 - (2 * tx - 1) ** 2) * 2 * 0.5
        left_e = x0 + bow * (1 - (2 * ty - 1) ** 2) * 2 * 0.5
        right_e = x1 - bow * (1 - (2 * ty - 1) ** 2) * 2 * 0.5
        lx = np.clip((gx - left_e) / (right_e - left_e), 0, 1) * 2 - 1
        ly = np.clip((gy - top_e) / (bot_e - top_e), 0, 1) * 2 - 1
        k = 0.7
        u = 0.5 + np.arcsin(lx * k) / (2 * math.asin(k))
        v = 0.5 + np.arcsin(ly * k) / (2 * math.asin(k))
        return u.astype(F32), v.astype(F32)

    ctx.add_zone(
        ("back",) if back else ("front", "default"),
        shape,
        light,
        uv=uv,
        proportion=1.0,
        tex="plush",
        ink_tex=0.35,
        fit="cover",
        primary=not back,
    )


def notebook(ctx: Ctx) -> None:
    x0, y0, x1, y1 = 0.31, 0.19, 0.71, 0.81
    back_cover = ctx.rrect(x0 + 0.004, y0 + 0.01, x1 + 0.012, y1 + 0.014, 0.008)
    pages = ctx.rrect(x0 + 0.002, y0 + 0.005, x1 + 0.007, y1 + 0.008, 0.006)
    cover = ctx.rrect(x0, y0, x1, y1, 0.008)
    ctx.cast_shadow(back_cover, 0.008, 0.016, 0.014, 0.35)
    ctx.add_part(back_cover - pages, Paint(factor=0.7), 0.9)
    for i in range(5):
        ctx.line(
            [(x1 + 0.0015 + i * 0.0011, y0 + 0.02), (x1 + 0.0015 + i * 0.0011, y1 + 0.004)],
            0.0007,
            0.9,
        )
        ctx.line(
            [(x0 + 0.02, y1 + 0.0015 + i * 0.0013), (x1 + 0.004, y1 + 0.0015 + i * 0.0013)],
            0.0007,
            0.9,
        )
    ctx.add_part(pages - cover, fixed(*WHITE_PAPER), 0.96)
    light = ctx.ambient(0.7) * ctx.relief(cover, 0.004, strength=0.8, ao=0.06)
    ctx.add_part(cover, PRODUCT, light, tex="paper", spec=0.015)
    ctx.add_zone(
        ("cover", "front", "default"),
        cover,
        light,
        rect=(x0, y0, x1, y1),
        tex="paper",
        ink_tex=0.6,
        spec=0.015,
        fit="cover",
        primary=True,
    )
    # Punched holes and the wire coil over the spine edge.
    metal = fixed(0.72, 0.72, 0.74)
    n = 19
    ys = [y0 + 0.028 + i * (y1 - y0 - 0.056) / (n - 1) for i in range(n)]
    holes = ctx.ellipses([(x0 + 0.018, y, 0.0055, 0.0055) for y in ys])
    ctx.add_part(holes, fixed(0.12, 0.12, 0.12), 1.0, over=True)
    coils = ctx.strokes(
        [arc(x0 + 0.004, y - 0.002, 0.016, 0.0085, math.pi * 0.55, math.pi * 1.95, 14) for y in ys],
        0.0042,
    )
    ctx.add_part(coils, metal, ctx.relief(coils, 0.002, strength=2.0, ao=0.2), spec=0.12, over=True)


def card(ctx: Ctx) -> None:
    # Proportions follow the artwork: portrait greeting cards and landscape cards or postcards.
    aspect = ctx.aspect or 5 / 7
    if aspect >= 1:
        w, h = min(0.5, 0.42 * aspect), min(0.5, 0.42 * aspect) / aspect
    else:
        w, h = 0.54 * aspect, 0.54
    x0, y0 = 0.47 - w / 2, 0.47 - h / 2
    x1, y1 = x0 + w, y0 + h
    d = 0.05 * h  # the card stands open: its free edge turns slightly away from us
    kraft = fixed(0.84, 0.74, 0.58)
    ex0, ey0, ex1, ey1 = x0 - 0.16 * w, y0 + 0.45 * h, x1 + 0.02, y1 + 0.08
    env_pts: list[Point] = [
        (ex0, ey0),
        (ex1 - 0.04, ey0 - 0.05),
        (ex1, ey1 - 0.04),
        (ex0 + 0.04, ey1),
    ]
    env = ctx.poly(env_pts)
    ctx.cast_shadow(env, 0.006, 0.012, 0.012, 0.3)
    ctx.line([env_pts[0], ((ex0 + ex1) / 2, (ey0 + ey1) / 2 - 0.01), env_pts[1]], 0.002, 0.82)
    ctx.add_part(env, kraft, ctx.ambient(0.8), tex="paper", tex_amp=3.0)
    ctx.clear_detail()  # the flap's fold is the envelope's, not the card's
    front: list[Point] = [(x0, y0), (x1, y0 + d), (x1, y1 - d), (x0, y1)]
    inside: list[Point] = [
        (x1, y0 + d),
        (x1 + 0.28 * w, y0 - d),
        (x1 + 0.28 * w, y1 - 2.2 * d),
        (x1, y1 - d),
    ]
    in_shape = ctx.poly(inside)
    f_shape = ctx.poly(front)
    ctx.cast_shadow(f_shape | in_shape, 0.012, 0.02, 0.016, 0.35)
    in_light = (0.86 + 0.1 * np.clip((ctx.X - x1) / (0.28 * w), 0, 1)).astype(F32)
    ctx.add_part(in_shape, fixed(*WHITE_PAPER), in_light, tex="paper")
    light = ctx.ambient(0.6) * (1.0 - 0.06 * np.clip((ctx.X - x0) / w, 0, 1)).astype(F32)
    ctx.add_part(f_shape, PRODUCT, light, tex="paper")
    ctx.add_zone(
        ("default", "front"),
        f_shape,
        light,
        uv=lambda gx, gy: quad_uv_at(front, gx, gy),
        proportion=aspect,
        tex="paper",
        ink_tex=0.6,
        fit="cover",
        primary=True,
    )


def mousepad(ctx: Ctx) -> None:
    quad_pts: list[Point] = [(0.21, 0.33), (0.79, 0.33), (0.85, 0.725), (0.15, 0.725)]
    s = ctx.S
    prop = 9.25 / 7.75  # a 9.25 × 7.75 in pad
    radius = 0.05
    pixel = 1.0 / (0.4 * s)

    def coverage(gx: Array, gy: Array, drop: float = 0.0) -> Array:
        # The rounded outline is drawn in the pad's own plane, so it follows the perspective.
        u, v = quad_uv_at([(x, y + drop) for x, y in quad_pts], gx, gy)
        return rounded_rect_coverage(u, v, prop, radius, pixel)

    top = ctx.shape_fn((0.14, 0.32, 0.86, 0.74), coverage)
    # The rubber base shows as a dark edge below the front of the pad.
    base = ctx.shape_fn((0.14, 0.32, 0.86, 0.76), lambda gx, gy: coverage(gx, gy, 0.014))
    ctx.cast_shadow(base | top, 0.006, 0.014, 0.012, 0.38)
    ctx.add_part(base - top, fixed(0.1, 0.1, 0.11), 0.9)
    light = ctx.ambient(0.8) * (0.97 + 0.05 * (ctx.Y - 0.33) / 0.4).astype(F32)
    sheen = (0.05 * np.exp(-((ctx.Y - 0.45) ** 2) / 0.01)).astype(F32)
    ctx.add_part(top, PRODUCT, light, tex="jersey", tex_amp=0.5, spec=sheen)
    ctx.add_zone(
        ("default", "front"),
        top,
        light,
        uv=lambda gx, gy: quad_uv_at(quad_pts, gx, gy),
        proportion=prop,
        tex="jersey",
        ink_tex=0.5,
        spec=sheen,
        fit="cover",
        primary=True,
    )


def puzzle(ctx: Ctx) -> None:
    x0, y0, x1, y1 = 0.16, 0.23, 0.84, 0.765
    board = ctx.rrect(x0, y0, x1, y1)
    edge = ctx.rrect(x0 + 0.002, y0 + 0.006, x1 + 0.003, y1 + 0.008) - board
    ctx.cast_shadow(board, 0.008, 0.016, 0.014, 0.35)
    ctx.add_part(edge, fixed(0.62, 0.6, 0.58), 0.85)
    light = ctx.ambient(0.7)
    ctx.add_part(board, PRODUCT, light, tex="paper")
    ctx.add_zone(
        ("default", "front"),
        board,
        light,
        rect=(x0, y0, x1, y1),
        tex="paper",
        ink_tex=0.5,
        spec=0.02,
        fit="cover",
        primary=True,
    )
    cols, rows = 10, 8
    pw, ph = (x1 - x0) / cols, (y1 - y0) / rows
    # Seeded knob directions: the same puzzle every render.
    flip = ctx.rng.choice([-1.0, 1.0], size=2 * cols * rows)
    edges = [
        ((x0 + c * pw, y0 + r * ph), (x0 + c * pw, y0 + (r + 1) * ph))
        for c in range(1, cols)
        for r in range(rows)
    ]
    edges += [
        ((x0 + c * pw, y0 + r * ph), (x0 + (c + 1) * pw, y0 + r * ph))
        for r in range(1, rows)
        for c in range(cols)
    ]
    cuts = [_knob_edge(a, b, float(flip[i])) for i, (a, b) in enumerate(edges)]
    dark = ctx.strokes(cuts, 0.0016)
    lite = ctx.strokes([[(x + 0.0012, y + 0.0012) for x, y in pts] for pts in cuts], 0.0012)
    ctx.add_part(lite - dark, fixed(1.0, 1.0, 1.0), 1.0, over=True, detail=False, alpha=0.35)
    ctx.add_part(dark, fixed(0.05, 0.05, 0.05), 1.0, over=True, detail=False, alpha=0.5)


def _knob_edge(a: Point, b: Point, side: float) -> list[Point]:
    """One jigsaw edge from a to b with a knob bulging to `side` (±1)."""
    ax, ay = a
    dx, dy = b[0] - a[0], b[1] - a[1]
    nx, ny = -dy * side, dx * side

    def at(t: float, o: float) -> Point:
        return (ax + dx * t + nx * o, ay + dy * t + ny * o)

    pts = [at(0, 0), at(0.36, 0)]
    pts += cubic(at(0.36, 0), at(0.42, 0.02), at(0.38, 0.12), at(0.40, 0.17), 8)[1:]
    pts += cubic(at(0.40, 0.17), at(0.42, 0.26), at(0.58, 0.26), at(0.60, 0.17), 10)[1:]
    pts += cubic(at(0.60, 0.17), at(0.62, 0.12), at(0.58, 0.02), at(0.64, 0), 8)[1:]
    pts.append(at(1, 0))
    return pts

"""Wall art and large textiles: poster, framed poster, canvas, tapestry, blanket.

These take their proportions from the artwork (an 18×24 poster is not a 24×36 one), so the
template geometry is cached per aspect ratio as well as per size.
"""

import math

import numpy as np

from flashfusion.studio.mockups.raster import F32, Array, Point, quad, quad_uv_at
from flashfusion.studio.mockups.scene import PRODUCT, Ctx, Fold, Paint, fixed

MAT = (0.965, 0.96, 0.948)


def _fit_box(
    aspect: float, max_w: float, max_h: float, cx: float, cy: float
) -> tuple[float, float, float, float]:
    if aspect >= max_w / max_h:
        w, h = max_w, max_w / aspect
    else:
        w, h = max_h * aspect, max_h
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def _aspect(ctx: Ctx, default: float) -> float:
    return ctx.aspect if ctx.aspect else default


def poster(ctx: Ctx) -> None:
    x0, y0, x1, y1 = _fit_box(_aspect(ctx, 0.75), 0.6, 0.72, 0.5, 0.47)
    paper = ctx.rrect(x0, y0, x1, y1)
    ctx.cast_shadow(paper, 0.012, 0.02, 0.016, 0.3)
    ctx.cast_shadow(paper, 0.002, 0.004, 0.003, 0.25)
    # Satin paper: an even light with a faint curl at the lower corners.
    curl = 1.0 - 0.05 * np.clip((ctx.Y - (y1 - 0.08)) / 0.08, 0, 1) * np.clip(
        np.abs(ctx.X - 0.5) / ((x1 - x0) / 2), 0, 1
    )
    light = ctx.ambient(0.6) * curl * ctx.relief(paper, 0.003, strength=0.6, ao=0.05)
    sheen = 0.035 * np.exp(-(((ctx.X - ctx.Y) - (x0 - y0) - 0.1) ** 2) / 0.02).astype(F32)
    ctx.add_part(paper, PRODUCT, light, spec=sheen, tex="paper")
    ctx.add_zone(
        ("default", "front"),
        paper,
        light,
        rect=(x0, y0, x1, y1),
        spec=sheen,
        tex="paper",
        ink_tex=0.6,
        fit="cover",
        primary=True,
    )


def framed_poster(ctx: Ctx) -> None:
    frame_w, mat_w = 0.03, 0.05
    ox0, oy0, ox1, oy1 = _fit_box(
        _aspect(ctx, 0.75), 0.66 - 2 * (frame_w + mat_w), 0.78 - 2 * (frame_w + mat_w), 0.5, 0.47
    )
    mx0, my0, mx1, my1 = ox0 - mat_w, oy0 - mat_w, ox1 + mat_w, oy1 + mat_w
    fx0, fy0, fx1, fy1 = mx0 - frame_w, my0 - frame_w, mx1 + frame_w, my1 + frame_w
    outer = ctx.rrect(fx0, fy0, fx1, fy1)
    mat_shape = ctx.rrect(mx0, my0, mx1, my1)
    opening = ctx.rrect(ox0, oy0, ox1, oy1)
    ctx.cast_shadow(outer, 0.012, 0.022, 0.018, 0.4)
    ctx.cast_shadow(outer, 0.002, 0.005, 0.004, 0.3)
    frame = outer - mat_shape
    # A moulding profile: bevelled towards the inside, lit from the upper left.
    f_light = ctx.ambient() * ctx.relief(frame, 0.006, strength=2.2, ao=0.2)
    ctx.add_part(
        frame, PRODUCT, f_light, spec=np.clip(f_light - 1.1, 0, 1) * 0.8, tex="paper", tex_amp=2.0
    )
    # The frame's lip shades the mat along its top and left edges.
    lip = np.clip(
        1.0
        - np.maximum(
            np.exp(-np.clip(ctx.Y - my0, 0, None) / 0.012),
            np.exp(-np.clip(ctx.X - mx0, 0, None) / 0.012),
        )
        * 0.25,
        0,
        1,
    ).astype(F32)
    mat_light = ctx.ambient(0.5) * lip
    ctx.add_part(mat_shape - opening, fixed(*MAT), mat_light, tex="paper", tex_amp=1.5)
    # The bevel cut of the mat: a thin bright core around the opening (light on top/left).
    bevel = ctx.rrect(ox0 - 0.004, oy0 - 0.004, ox1 + 0.004, oy1 + 0.004) - opening
    ctx.add_part(bevel, fixed(0.99, 0.985, 0.975), 1.0)
    inner_shadow = np.clip(
        1.0
        - np.maximum(
            np.exp(-np.clip(ctx.Y - oy0, 0, None) / 0.006),
            np.exp(-np.clip(ctx.X - ox0, 0, None) / 0.006),
        )
        * 0.18,
        0,
        1,
    ).astype(F32)
    art_light = ctx.ambient(0.5) * inner_shadow
    ctx.add_part(opening, fixed(1.0, 1.0, 1.0), art_light, tex="paper")
    ctx.add_zone(
        ("default", "front"),
        opening,
        art_light,
        rect=(ox0, oy0, ox1, oy1),
        tex="paper",
        ink_tex=0.5,
        fit="cover",
        primary=True,
    )
    # Glass: a broad diagonal reflection over mat and print.
    glare = (
        0.07 * np.exp(-(((ctx.X + 0.6 * ctx.Y) - (mx0 + 0.6 * my0) - 0.18) ** 2) / 0.004)
        + 0.03 * np.exp(-(((ctx.X + 0.6 * ctx.Y) - (mx0 + 0.6 * my0) - 0.3) ** 2) / 0.02)
    ).astype(F32)
    ctx.add_part(mat_shape, fixed(1.0, 1.0, 1.0), 1.0, over=True, detail=False, alpha=glare)


def canvas(ctx: Ctx) -> None:
    depth, persp = 0.03, 0.008
    x0, y0, x1, y1 = _fit_box(_aspect(ctx, 0.8), 0.58, 0.68, 0.485, 0.47)
    face = ctx.rrect(x0, y0, x1, y1)
    side_quad: list[Point] = [
        (x1, y0),
        (x1 + depth, y0 + persp),
        (x1 + depth, y1 - persp),
        (x1, y1),
    ]
    side = ctx.poly(side_quad)
    ctx.cast_shadow(face | side, 0.02, 0.022, 0.022, 0.42)
    ctx.cast_shadow(face | side, 0.004, 0.006, 0.005, 0.3)
    light = ctx.ambient(0.7) * ctx.relief(face, 0.004, strength=0.5, ao=0.05)
    ctx.add_part(face, PRODUCT, light, tex="canvas", tex_amp=1.2)
    side_light = (0.7 - 0.12 * (ctx.X - x1) / depth).astype(F32)
    ctx.add_part(side, PRODUCT, side_light, tex="canvas", tex_amp=1.2)
    ctx.add_zone(
        ("default", "front"),
        face,
        light,
        rect=(x0, y0, x1, y1),
        tex="canvas",
        ink_tex=1.0,
        fit="cover",
        primary=True,
    )
    wrap = depth / (x1 - x0)

    def side_uv(gx: Array, gy: Array) -> tuple[Array, Array]:
        # Mirror wrap: the side shows the image's last columns reflected around the edge.
        u, v = quad_uv_at(side_quad, gx, gy)
        return (1.0 - u * wrap).astype(F32), v

    ctx.add_zone(
        ("default", "front"),
        side,
        side_light,
        uv=side_uv,
        proportion=(x1 - x0) / (y1 - y0),
        tex="canvas",
        ink_tex=1.0,
        fit="cover",
        primary=True,
    )


def tapestry(ctx: Ctx) -> None:
    x0, y0, x1, y1 = _fit_box(_aspect(ctx, 0.8), 0.66, 0.72, 0.5, 0.5)
    w = x1 - x0
    waves = 5.0

    def bottom_edge(x: float) -> float:
        return y1 + 0.006 * math.sin((x - x0) / w * waves * 2 * math.pi + 0.7)

    xs = np.linspace(x0, x1, 48)
    outline: list[Point] = [(x0, y0), (x1, y0)] + [
        (float(x), bottom_edge(float(x))) for x in xs[::-1]
    ]
    cloth = ctx.poly(outline)
    # Hanging fabric ripples: vertical waves that deepen towards the free bottom edge.
    phase = (ctx.X - x0) / w * waves * 2 * math.pi
    depth = 0.25 + 0.75 * np.clip((ctx.Y - y0) / (y1 - y0), 0, 1)
    ripple = (
        1.0 + 0.07 * np.sin(phase) * depth + 0.025 * np.sin(2.3 * phase + 1.0) * depth
    ).astype(F32)
    light = ctx.ambient(0.7) * ripple * ctx.relief(cloth, 0.004, strength=0.6, ao=0.05)
    ctx.cast_shadow(cloth, 0.008, 0.014, 0.012, 0.28)
    ctx.line([(x0, y0 + 0.018), (x1, y0 + 0.018)], 0.0014, 0.85, dash=0.004)
    ctx.add_part(cloth, PRODUCT, light, tex="twill", tex_amp=0.8)
    # A hanging rod with end caps.
    rod = ctx.rrect(x0 - 0.03, y0 - 0.012, x1 + 0.03, y0 + 0.004, 0.008)
    wood = fixed(0.55, 0.4, 0.27)
    ctx.add_part(rod, wood, ctx.relief(rod, 0.004, strength=2.0, ao=0.2), spec=0.03, over=True)
    ctx.cast_shadow(rod, 0.004, 0.01, 0.006, 0.3)

    def uv(gx: Array, gy: Array) -> tuple[Array, Array]:
        # Ripples shift the weave sideways a little: the print moves with the cloth.
        d = 0.25 + 0.75 * np.clip((gy - y0) / (y1 - y0), 0, 1)
        shift = 0.0025 * np.cos((gx - x0) / w * waves * 2 * math.pi) * d
        return ((gx - x0 + shift) / w).astype(F32), ((gy - y0) / (y1 - y0)).astype(F32)

    ctx.add_zone(
        ("default", "front"),
        cloth,
        light,
        uv=uv,
        proportion=w / (y1 - y0),
        tex="twill",
        ink_tex=0.8,
        fit="cover",
        primary=True,
    )


def blanket(ctx: Ctx) -> None:
    x0, y0, x1, y1 = _fit_box(_aspect(ctx, 0.8), 0.68, 0.74, 0.5, 0.49)
    w, h = x1 - x0, y1 - y0
    f = 0.2 * min(w, h)
    body = ctx.rrect(x0, y0, x1, y1, 0.018)
    # The bottom-right corner is turned over, showing the sherpa back.
    corner = ctx.poly([(x1 - f, y1 + 0.01), (x1 + 0.01, y1 + 0.01), (x1 + 0.01, y1 - f)])
    face = body - corner
    flap_pts: list[Point] = quad(
        (x1 - f, y1), (x1 - f * 0.95, y1 - f * 0.6), (x1 - f * 0.92, y1 - f * 0.92), 8
    )
    flap_pts += quad(
        (x1 - f * 0.92, y1 - f * 0.92), (x1 - f * 0.6, y1 - f * 0.95), (x1, y1 - f), 8
    )[1:]
    flap = ctx.poly(flap_pts)
    folds = [
        Fold((x0 + w * 0.15, y0 + h * 0.2), (x0 + w * 0.45, y0 + h * 0.45), 0.02, 0.07),
        Fold((x0 + w * 0.55, y0 + h * 0.6), (x0 + w * 0.85, y0 + h * 0.72), 0.022, 0.06),
        Fold((x0 + w * 0.2, y0 + h * 0.75), (x0 + w * 0.35, y0 + h * 0.95), 0.02, 0.05),
        Fold((x0 + w * 0.7, y0 + h * 0.1), (x0 + w * 0.6, y0 + h * 0.35), 0.02, 0.05),
    ]
    light = ctx.ambient(0.8) * ctx.relief(face, 0.012, strength=0.9, ao=0.12) + ctx.folds(folds)
    ctx.line(
        [(x0 + 0.012, y0 + 0.012), (x1 - 0.012, y0 + 0.012), (x1 - 0.012, y1 - f - 0.01)],
        0.0015,
        0.85,
        dash=0.005,
    )
    ctx.line(
        [(x0 + 0.012, y0 + 0.012), (x0 + 0.012, y1 - 0.012), (x1 - f - 0.01, y1 - 0.012)],
        0.0015,
        0.85,
        dash=0.005,
    )
    ctx.cast_shadow(face, 0.008, 0.014, 0.014, 0.3)
    ctx.add_part(face, PRODUCT, light, tex="plush", tex_amp=0.6)
    ctx.add_zone(
        ("default", "front"),
        face,
        light,
        rect=(x0, y0, x1, y1),
        tex="plush",
        ink_tex=0.5,
        fit="cover",
        primary=True,
    )
    sherpa = fixed(0.955, 0.945, 0.925)
    flap_light = (ctx.relief(flap, 0.01, strength=1.2, ao=0.25) * 0.97).astype(F32)
    # The turned-over corner casts a soft shadow onto the print.
    flap_shadow = ctx.poly([(x - 0.006, y - 0.008) for x, y in flap_pts])
    ctx.add_part(
        flap_shadow - flap, Paint(rgb=(0.0, 0.0, 0.0)), 0.0, over=True, detail=False, alpha=0.22
    )
    ctx.add_part(flap, sherpa, flap_light, tex="fleece", tex_amp=2.5, over=True, detail=False)

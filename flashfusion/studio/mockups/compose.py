"""The compositor: paints a template `Geometry` in a blank colour, then prints artwork into it.

`build_blank` paints the geometry on its backdrop; `render_blank` lays each artwork into its zone.
Artwork is shaded with the same light, fabric texture and specular maps as the blank, so a print
follows folds, shows the weave through the ink and takes the mug's glaze highlight.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter

from flashfusion.studio.mockups.raster import (
    F32,
    RGB,
    Array,
    Box,
    backdrop,
    blur,
    shift,
    smoothstep,
    texture,
    upscale,
)
from flashfusion.studio.mockups.scene import Anchor, Fit, Geometry, Zone, full_f, mask_f


@dataclass
class Blank:
    """A template painted in one colour: ready to take artwork."""

    base: npt.NDArray[np.uint8]
    zones: list[Zone]
    over: list[tuple[Box, Image.Image]]  # RGBA layers laid over the print (straight alpha)
    product_box: Box


def hex_rgb(colour_hex: str) -> RGB:
    h = colour_hex.lstrip("#")
    return (int(h[0:2], 16) / 255.0, int(h[2:4], 16) / 255.0, int(h[4:6], 16) / 255.0)


# --- painting ------------------------------------------------------------------------------------


def _shade_into(
    region: Array,
    mask: Array,
    rgb: npt.NDArray[np.float32],
    light: Array,
    tex: Array | None,
    spec: Array | None,
    lift: float,
) -> None:
    """Paint a colour under the part's light into `region` through `mask`, in place.

    The colour is multiplied by light and texture; highlights are screened in, and on dark
    colours the upper range of the light is screened in too, so that folds and weave still read
    on a black garment (a multiply alone leaves black flat).
    """
    lit = light * tex if tex is not None else light.copy()
    dark = lift * 0.9 * (1.0 - float(rgb.mean()))
    hi = np.clip(lit - 0.88, 0.0, None)
    hi *= dark
    if spec is not None:
        hi += spec
    np.clip(hi, 0.0, 1.0, out=hi)
    np.subtract(1.0, hi, out=hi)  # 1 - highlight
    v = np.empty_like(lit)
    for c in range(3):
        np.multiply(lit, float(rgb[c]), out=v)
        np.subtract(1.0, v, out=v)
        v *= hi
        np.subtract(1.0, v, out=v)
        ch = region[..., c]
        v -= ch
        v *= mask
        ch += v


def _texture_factor(kind: str | None, amp: float, size: int, box: Box) -> Array | None:
    if kind is None or amp == 0:
        return None
    t = texture(kind, size, box)
    return (1.0 + amp * (t - 1.0)).astype(F32)


def backdrop_base(geom: Geometry, kind: str) -> npt.NDArray[np.uint8]:
    """The backdrop with the product's cast shadow: independent of the blank colour."""
    cached = geom.backdrops.get(kind)
    if cached is not None:
        return cached
    s = geom.size
    img = backdrop(kind, s).astype(F32)
    shadow = upscale(geom.shadow, s, (0, 0, s, s))
    if kind == "white":
        # Marketplaces that want a white main image still accept a light contact shadow.
        shadow = 1.0 - (1.0 - shadow) * 0.5
    img *= shadow[..., None]
    img += 0.5
    out = img.astype(np.uint8)
    geom.backdrops[kind] = out
    return out


def build_blank(geom: Geometry, colour: RGB, backdrop_kind: str | None = None) -> Blank:
    """Paint the geometry in `colour` on its backdrop (or `backdrop_kind`, e.g. white)."""
    s = geom.size
    out = backdrop_base(geom, backdrop_kind or geom.backdrop).copy()
    for part in geom.under:
        x0, y0, x1, y1 = part.box
        region = out[y0:y1, x0:x1].astype(F32) / 255.0
        _shade_into(
            region,
            mask_f(part.mask),
            part.paint.resolve(colour),
            full_f(part.light),
            _texture_factor(part.tex, part.tex_amp, s, part.box),
            None if part.spec is None else full_f(part.spec),
            part.lift,
        )
        out[y0:y1, x0:x1] = _to_u8(region)
    over = []
    for part in geom.over:
        h, w = part.mask.shape
        layer = np.zeros((h, w, 3), dtype=F32)
        _shade_into(
            layer,
            np.ones((h, w), dtype=F32),
            part.paint.resolve(colour),
            full_f(part.light),
            _texture_factor(part.tex, part.tex_amp, s, part.box),
            None if part.spec is None else full_f(part.spec),
            part.lift,
        )
        rgba = np.dstack([_to_u8(layer), part.mask])
        over.append((part.box, Image.fromarray(rgba, mode="RGBA")))
    return Blank(base=out, zones=geom.zones, over=over, product_box=geom.product_box)


def _to_u8(region: Array) -> npt.NDArray[np.uint8]:
    region *= 255.0
    region += 0.5
    np.clip(region, 0.0, 255.0, out=region)
    return region.astype(np.uint8)


# --- printing -----------------------------------------------------------------------------------


def _premultiplied_image(art: Image.Image, width: int, height: int) -> Image.Image:
    """The artwork resized to (width, height), premultiplied ("RGBa") so edges resample cleanly."""
    im = art if art.mode == "RGBA" else art.convert("RGBA")
    im = im.convert("RGBa")
    if im.size != (width, height):
        im = im.resize((width, height), Image.Resampling.BICUBIC, reducing_gap=2.0)
    return im


def _fit(
    rect: tuple[float, float, float, float], aspect: float, fit: Fit, anchor: Anchor
) -> tuple[float, float, float, float]:
    """The artwork's rectangle (x, y, w, h) inside the print area, aspect preserved."""
    rx0, ry0, rx1, ry1 = rect
    rw, rh = rx1 - rx0, ry1 - ry0
    wider = aspect > rw / rh
    if (fit == "contain") == wider:
        w, h = rw, rw / aspect
    else:
        w, h = rh * aspect, rh
    x = rx0 + (rw - w) / 2
    y = ry0 if anchor == "top" and h <= rh else ry0 + (rh - h) / 2
    return x, y, w, h


def _ink_flat(zone: Zone, art: Image.Image) -> Image.Image:
    """The artwork placed into the zone's box (premultiplied RGBA, flat zones)."""
    assert zone.rect is not None
    bx0, by0, bx1, by1 = zone.box
    ink = Image.new("RGBa", (bx1 - bx0, by1 - by0))
    x, y, w, h = _fit(zone.rect, art.width / art.height, zone.fit, zone.anchor)
    iw, ih = max(1, round(w)), max(1, round(h))
    ax0, ay0 = round(x), round(y)
    # Only what falls inside both the print area and the box is ever visible.
    rx0, ry0, rx1, ry1 = zone.rect
    cx0, cy0 = max(ax0, math.floor(rx0), bx0), max(ay0, math.floor(ry0), by0)
    cx1, cy1 = min(ax0 + iw, math.ceil(rx1), bx1), min(ay0 + ih, math.ceil(ry1), by1)
    if cx1 <= cx0 or cy1 <= cy0:
        return ink
    src = _premultiplied_image(art, iw, ih)
    if (cx0, cy0, cx1, cy1) != (ax0, ay0, ax0 + iw, ay0 + ih):
        src = src.crop((cx0 - ax0, cy0 - ay0, cx1 - ax0, cy1 - ay0))
    ink.paste(src, (cx0 - bx0, cy0 - by0))
    return ink


def _ink_warped(zone: Zone, art: Image.Image) -> Image.Image:
    """The artwork resampled through the zone's mesh (cylinders, perspective, bulges)."""
    assert zone.uv is not None
    assert zone.cells is not None
    u, v = zone.uv
    aspect = art.width / art.height
    prop = zone.proportion
    # Fit the artwork inside the unit print area (aspect preserved), as for flat zones.
    x, y, w, h = _fit((0.0, 0.0, prop, 1.0), aspect, zone.fit, zone.anchor)
    su, sv = w / prop, h
    ou, ov = x / prop, y
    tw = max(8, min(art.width, math.ceil(zone.src_px[0] * su * 1.1)))
    th = max(8, min(art.height, math.ceil(zone.src_px[1] * sv * 1.1)))
    src = _premultiplied_image(art, tw, th)
    sx = ((u - ou) / su * tw).astype(np.float64)
    sy = ((v - ov) / sv * th).astype(np.float64)
    bx0, by0, bx1, by1 = zone.box
    bw, bh = bx1 - bx0, by1 - by0
    step = zone.mesh_step
    js, is_ = np.nonzero(zone.cells)
    x0c, y0c = is_ * step, js * step
    boxes = np.stack(
        [x0c, y0c, np.minimum(x0c + step, bw), np.minimum(y0c + step, bh)], axis=1
    ).tolist()
    # Pillow's quad order: upper-left, lower-left, lower-right, upper-right.
    quads = np.stack(
        [
            sx[js, is_], sy[js, is_],
            sx[js + 1, is_], sy[js + 1, is_],
            sx[js + 1, is_ + 1], sy[js + 1, is_ + 1],
            sx[js, is_ + 1], sy[js, is_ + 1],
        ],
        axis=1,
    ).tolist()  # fmt: skip
    mesh = [(tuple(b), tuple(q)) for b, q in zip(boxes, quads, strict=True)]
    return src.transform((bw, bh), Image.Transform.MESH, mesh, Image.Resampling.BILINEAR)


def _apply_ink(out: npt.NDArray[np.uint8], ink_img: Image.Image, zone: Zone, size: int) -> None:
    """Print the ink into the image: shaded by the zone's light, texture and gloss, in place."""
    bbox = ink_img.getbbox()
    if bbox is None:
        return
    ix0, iy0, ix1, iy1 = bbox
    bx0, by0 = zone.box[0], zone.box[1]
    ink = np.asarray(ink_img.crop(bbox), dtype=F32) / 255.0
    cover = mask_f(zone.mask[iy0:iy1, ix0:ix1]) * zone.opacity
    light = full_f(zone.light[iy0:iy1, ix0:ix1]) * cover
    box = (bx0 + ix0, by0 + iy0, bx0 + ix1, by0 + iy1)
    texf = _texture_factor(zone.tex, zone.ink_tex, size, box)
    if texf is not None:
        light = light * texf
    a = ink[..., 3] * cover
    spec = full_f(zone.spec[iy0:iy1, ix0:ix1]) if zone.spec is not None else None
    region = out[box[1] : box[3], box[0] : box[2]].astype(F32) / 255.0
    keep = 1.0 - a
    for c in range(3):
        lit = ink[..., c] * light
        if spec is not None:
            lit += spec * (a - lit)
        ch = region[..., c]
        ch *= keep
        ch += lit
    out[box[1] : box[3], box[0] : box[2]] = _to_u8(region)


def _up_l(field: Array, size: tuple[int, int]) -> Array:
    """Resample a small 0..1 field to `size` through an 8-bit image (fast in Pillow)."""
    img = Image.fromarray(np.clip(field * 255.0 + 0.5, 0, 255).astype(np.uint8), mode="L")
    return np.asarray(img.resize(size, Image.Resampling.BILINEAR), dtype=F32) / 255.0


def _diecut(
    out: npt.NDArray[np.uint8], ink_img: Image.Image, zone: Zone, paint_rgb: npt.NDArray[np.float32]
) -> None:
    """A kiss-cut sticker: the artwork on a rounded white border that follows its outline."""
    x0, y0, x1, y1 = zone.box
    wid, hgt = ink_img.size
    k = 4 if min(hgt, wid) > 200 else 2
    small = ink_img.getchannel(3).reduce(k)
    # Any coverage counts (thin strokes survive), then grow by the border width and round it.
    solid = small.point(lambda p: 255 if p > 6 else 0).filter(ImageFilter.MaxFilter(3))
    border = zone.diecut_border / k
    grown = blur(np.asarray(solid, dtype=F32) / 255.0, max(0.8, border / 1.645))
    cut_small = smoothstep(0.03, 0.08, grown)
    shadow_small = blur(shift(cut_small, round(border * 0.25), round(border * 0.5)), border * 0.6)
    cut = _up_l(cut_small, (wid, hgt)) * mask_f(zone.mask)
    shadow = _up_l(shadow_small, (wid, hgt))
    bbox = Image.fromarray((np.maximum(cut, shadow) * 255).astype(np.uint8), mode="L").getbbox()
    if bbox is None:
        return
    bx0, by0, bx1, by1 = bbox
    cut, shadow = cut[by0:by1, bx0:bx1], shadow[by0:by1, bx0:bx1]
    ink = np.asarray(ink_img.crop(bbox), dtype=F32) / 255.0
    light = full_f(zone.light[by0:by1, bx0:bx1])
    spec = full_f(zone.spec[by0:by1, bx0:bx1]) if zone.spec is not None else None
    region = out[y0 + by0 : y0 + by1, x0 + bx0 : x0 + bx1].astype(F32) / 255.0
    keep = (1.0 - 0.32 * shadow) * (1.0 - cut)
    paper_a = 1.0 - ink[..., 3]
    for c in range(3):
        sticker: Array = (float(paint_rgb[c]) * paper_a + ink[..., c]) * light
        if spec is not None:
            sticker = (1.0 - (1.0 - sticker) * (1.0 - spec)).astype(F32)
        ch = region[..., c]
        ch *= keep
        ch += sticker * cut
    out[y0 + by0 : y0 + by1, x0 + bx0 : x0 + bx1] = _to_u8(region)


@dataclass
class Placed:
    zone: Zone
    image: Image.Image


def render_blank(blank: Blank, placed: Sequence[Placed], colour: RGB) -> Image.Image:
    """The blank with each artwork printed into its zone, then the over-print parts on top."""
    out = blank.base.copy()
    s = out.shape[0]
    for p in placed:
        zone = p.zone
        ink = _ink_warped(zone, p.image) if zone.uv is not None else _ink_flat(zone, p.image)
        if zone.diecut_border > 0:
            _diecut(out, ink, zone, np.asarray(colour, dtype=F32))
        else:
            _apply_ink(out, ink, zone, s)
    for (x0, y0, x1, y1), layer in blank.over:
        region = Image.fromarray(out[y0:y1, x0:x1], mode="RGB").convert("RGBA")
        region.alpha_composite(layer)
        out[y0:y1, x0:x1] = np.asarray(region.convert("RGB"))
    return Image.fromarray(out, mode="RGB")

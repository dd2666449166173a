"""Listing images: artwork composited onto procedurally drawn product templates.

`render_mockup` prints the artwork (print-area key → print-file image) onto one template in one
blank colour and view. `listing_images` turns that into the set a sales channel wants (sizes,
aspect ratios, count, format) from one source render per colour and view.

A template's drawing does not depend on the artwork, so it is cached: the geometry per
(template, view, size, proportions) and the painted blank per colour on top of that.
"""

import io
import math
import re
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageCms

from flashfusion.studio.mockup_platforms import (
    PLATFORM_IMAGE_SPECS,
    ImageOutput,
    PlatformImageSpec,
)
from flashfusion.studio.mockup_templates import MOCKUP_KEYS, TEMPLATES, MockupTemplate
from flashfusion.studio.mockups.compose import Blank, Placed, build_blank, hex_rgb, render_blank
from flashfusion.studio.mockups.raster import BACKDROPS, Box
from flashfusion.studio.mockups.scene import Ctx, Geometry, Zone

__all__ = [
    "MOCKUP_KEYS",
    "PLATFORM_IMAGE_SPECS",
    "ImageOutput",
    "ListingImage",
    "MockupError",
    "PlatformImageSpec",
    "PrintZone",
    "listing_images",
    "print_zones",
    "render_mockup",
    "template_views",
]

MIN_SIZE = 64
MAX_SIZE = 5000
JPEG_QUALITY = 90
_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


class MockupError(ValueError):
    """Bad input to the mockup renderer; `field` names the argument to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ListingImage:
    """One encoded listing image (JPEG bytes) with what it shows."""

    name: str
    width: int
    height: int
    content_type: str
    data: bytes
    colour_hex: str
    view: str


@dataclass(frozen=True)
class PrintZone:
    """Where a print area shows on a template view: canvas px box (x0, y0, x1, y1)."""

    area_keys: tuple[str, ...]
    box: Box
    print_area: tuple[float, float, float, float] | None  # flat zones: the print rectangle


# --- validation --------------------------------------------------------------------------------


def _template(template: str) -> MockupTemplate:
    found = TEMPLATES.get(template) if isinstance(template, str) else None
    if found is None:
        raise MockupError(
            "template",
            f"unknown mockup template {template!r}; use one of: {', '.join(MOCKUP_KEYS)}",
        )
    return found


def _view(tpl: MockupTemplate, view: str) -> str:
    if view not in tpl.views:
        raise MockupError(
            "view", f"{tpl.key!r} has no view {view!r}; use one of: {', '.join(tpl.views)}"
        )
    return view


def normalise_colour(colour_hex: str, field: str = "colour_hex") -> str:
    """`#rrggbb` (lower case) from `#rrggbb`, `rrggbb` or `#rgb`; MockupError otherwise."""
    m = _HEX.match(colour_hex.strip()) if isinstance(colour_hex, str) else None
    if m is None:
        raise MockupError(
            field, f"{colour_hex!r} is not a colour; give a hex colour like '#1a1a1a' or '#fff'"
        )
    digits = m.group(1).lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return f"#{digits}"


def _size(size: int) -> int:
    if not isinstance(size, int) or isinstance(size, bool) or not MIN_SIZE <= size <= MAX_SIZE:
        raise MockupError(
            "size", f"{size!r} is not a size; give whole pixels from {MIN_SIZE} to {MAX_SIZE}"
        )
    return size


def _backdrop(backdrop: str | None) -> str | None:
    if backdrop is not None and backdrop not in BACKDROPS:
        raise MockupError(
            "backdrop", f"unknown backdrop {backdrop!r}; use one of: {', '.join(BACKDROPS)}"
        )
    return backdrop


def _artwork(tpl: MockupTemplate, artwork: dict[str, Image.Image]) -> dict[str, Image.Image]:
    if not isinstance(artwork, dict):
        raise MockupError("artwork", "give a dict of print-area key → image")
    for key, img in artwork.items():
        if not isinstance(img, Image.Image):
            raise MockupError(f"artwork[{key!r}]", "is not an image; pass a PIL image (RGBA)")
        if img.width < 1 or img.height < 1:
            raise MockupError(f"artwork[{key!r}]", "is empty; pass an image at least 1×1 px")
    if artwork and _primary_key(tpl, artwork) is None and not set(artwork) & set(tpl.area_keys):
        raise MockupError(
            "artwork",
            f"none of {sorted(artwork)} is a print area of {tpl.key!r}; "
            f"use one of: {', '.join(tpl.area_keys)}",
        )
    return artwork


def _primary_key(tpl: MockupTemplate, artwork: dict[str, Image.Image]) -> str | None:
    """The artwork for the template's main print area: by key, or the only one given."""
    for key in tpl.area_keys:
        if key in artwork:
            return key
    if len(artwork) == 1 and not tpl.multi_area:
        return next(iter(artwork))
    return None


def _aspect_key(tpl: MockupTemplate, artwork: dict[str, Image.Image]) -> float | None:
    """Wall art and blankets take their proportions from the artwork (rounded for caching)."""
    if not tpl.adaptive:
        return None
    key = _primary_key(tpl, artwork)
    if key is None:
        return tpl.default_aspect
    img = artwork[key]
    return round(min(2.5, max(0.4, img.width / img.height)), 2)


# --- caches --------------------------------------------------------------------------------------


@lru_cache(maxsize=2)
def _geometry(template: str, view: str, size: int, aspect: float | None) -> Geometry:
    tpl = TEMPLATES[template]
    ctx = Ctx(size, view, aspect, seed=sum(map(ord, template)))
    tpl.draw(ctx)
    return ctx.finish(tpl.backdrop)


@lru_cache(maxsize=4)
def _blank(
    template: str, view: str, size: int, aspect: float | None, colour_hex: str, backdrop: str | None
) -> Blank:
    """The template drawn and painted in one colour: independent of the artwork."""
    return build_blank(_geometry(template, view, size, aspect), hex_rgb(colour_hex), backdrop)


def _placements(
    tpl: MockupTemplate, zones: list[Zone], artwork: dict[str, Image.Image]
) -> list[Placed]:
    primary = _primary_key(tpl, artwork)
    placed = []
    for zone in zones:
        key = next((k for k in zone.keys if k in artwork), None)
        if key is None and zone.primary and primary is not None:
            key = primary
        if key is not None:
            placed.append(Placed(zone, artwork[key]))
    return placed


def _render(
    tpl: MockupTemplate,
    artwork: dict[str, Image.Image],
    colour_hex: str,
    view: str,
    size: int,
    backdrop: str | None,
) -> tuple[Image.Image, Box]:
    aspect = _aspect_key(tpl, artwork)
    blank = _blank(tpl.key, view, size, aspect, colour_hex, backdrop)
    image = render_blank(blank, _placements(tpl, blank.zones, artwork), hex_rgb(colour_hex))
    return image, blank.product_box


# --- public API ----------------------------------------------------------------------------------


def render_mockup(
    template: str,
    artwork: dict[str, Image.Image],
    *,
    colour_hex: str,
    view: str = "front",
    size: int = 2000,
    backdrop: str | None = None,
) -> Image.Image:
    """The artwork printed on `template` in the blank colour `colour_hex`: an RGB square.

    `artwork` maps print-area keys (`front`, `back`, `default`, `sleeve_left`, …) to print-file
    images of any size; each is fitted into its print zone with its aspect ratio kept. A view
    whose area has no artwork shows the plain blank (e.g. a plain back). `backdrop` replaces the
    template's own (studio, wall or table) with another, e.g. `white`.
    """
    tpl = _template(template)
    view = _view(tpl, view)
    colour = normalise_colour(colour_hex)
    size = _size(size)
    backdrop = _backdrop(backdrop)
    art = _artwork(tpl, artwork)
    image, _ = _render(tpl, art, colour, view, size, backdrop)
    return image


def template_views(template: str) -> tuple[str, ...]:
    """The views a template offers (`front`, `back`, `left`, `right`)."""
    return _template(template).views


def print_zones(
    template: str, *, view: str = "front", size: int = 2000, artwork_aspect: float | None = None
) -> list[PrintZone]:
    """Where each print area lands on a template view (for previews, guides and tests)."""
    tpl = _template(template)
    view = _view(tpl, view)
    size = _size(size)
    aspect = None
    if tpl.adaptive:
        aspect = (
            round(min(2.5, max(0.4, artwork_aspect)), 2) if artwork_aspect else tpl.default_aspect
        )
    geom = _geometry(tpl.key, view, size, aspect)
    return [PrintZone(z.keys, z.box, z.rect) for z in geom.zones]


def listing_images(
    template: str,
    artwork: dict[str, Image.Image],
    *,
    colours: list[str],
    platform: str,
) -> list[ListingImage]:
    """The platform's listing-image set, hero first, capped at its image limit.

    Each colour and view is rendered once, at the largest size any of the platform's shapes
    needs, then cropped and resized to each shape (square, 4:5, …).
    """
    tpl = _template(template)
    spec = PLATFORM_IMAGE_SPECS.get(platform) if isinstance(platform, str) else None
    if spec is None:
        raise MockupError(
            "platform",
            f"unknown platform {platform!r}; use one of: {', '.join(PLATFORM_IMAGE_SPECS)}",
        )
    if not isinstance(colours, list | tuple) or not colours:
        raise MockupError("colours", "give at least one blank colour, e.g. ['#ffffff']")
    palette: list[str] = []
    for i, c in enumerate(colours):
        hex_ = normalise_colour(c, f"colours[{i}]")
        if hex_ not in palette:
            palette.append(hex_)
    art = _artwork(tpl, artwork)
    views = _listing_views(tpl, art)

    plan = [(view, colour, out) for view in views for colour in palette for out in spec.outputs]
    if spec.max_images is not None:
        plan = plan[: spec.max_images]
    # One source render per (view, colour, backdrop), big enough for every shape cut from it.
    jobs: dict[tuple[str, str, str], list[tuple[int, ImageOutput]]] = {}
    for i, (view, colour, out) in enumerate(plan):
        backdrop = spec.hero_backdrop if i == 0 else spec.backdrop
        jobs.setdefault((view, colour, backdrop), []).append((i, out))
    results: dict[int, ListingImage] = {}
    for (view, colour, backdrop), outs in jobs.items():
        hero = any(i == 0 for i, _ in outs)
        fill = spec.hero_fill if hero else None
        source_size = _source_size(tpl, art, view, [o for _, o in outs], fill)
        image, product_box = _render(tpl, art, colour, view, source_size, backdrop)
        for i, out in outs:
            frame = _frame(source_size, product_box, out, spec.hero_fill if i == 0 else None)
            shot = image.crop(frame)
            if shot.size != (out.width, out.height):
                shot = shot.resize(
                    (out.width, out.height), Image.Resampling.LANCZOS, reducing_gap=3.0
                )
            data = _encode_jpeg(shot, spec.max_file_bytes)
            results[i] = ListingImage(
                name=f"{tpl.key}-{view}-{colour.lstrip('#')}-{out.label}.jpg",
                width=out.width,
                height=out.height,
                content_type=spec.content_type,
                data=data,
                colour_hex=colour,
                view=view,
            )
    return [results[i] for i in range(len(plan))]


# --- framing and encoding ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Probe:
    spans: float  # how much of the square frame the product spans (size-independent)
    keys: frozenset[str]  # print areas the view shows
    primary: bool  # the view has the product's main print zone


@lru_cache(maxsize=128)
def _probe(template: str, view: str, aspect: float | None) -> _Probe:
    """Facts about a template view that do not depend on size, from a small drawing."""
    probe = 256
    ctx = Ctx(probe, view, aspect, seed=0)
    TEMPLATES[template].draw(ctx)
    geom = ctx.finish("white")
    x0, y0, x1, y1 = geom.product_box
    return _Probe(
        spans=max(x1 - x0, y1 - y0) / probe,
        keys=frozenset(k for z in geom.zones for k in z.keys),
        primary=any(z.primary for z in geom.zones),
    )


def _listing_views(tpl: MockupTemplate, art: dict[str, Image.Image]) -> tuple[str, ...]:
    """The views worth a listing image: those that show some of the artwork (a plain back is
    not); the product's first view when none does."""
    aspect = _aspect_key(tpl, art)
    primary = _primary_key(tpl, art) is not None
    views = tuple(
        v
        for v in tpl.views
        if (p := _probe(tpl.key, v, aspect)).keys & set(art) or (p.primary and primary)
    )
    return views or tpl.views[:1]


def _source_size(
    tpl: MockupTemplate,
    art: dict[str, Image.Image],
    view: str,
    outs: list[ImageOutput],
    fill: float | None,
) -> int:
    need = max(max(o.width, o.height) for o in outs)
    if fill is not None:
        # Zooming in on the product for the main image needs a proportionally bigger render.
        spans = _probe(tpl.key, view, _aspect_key(tpl, art)).spans
        need = math.ceil(need / min(1.0, spans / fill))
    return min(MAX_SIZE, need)


def _frame(size: int, product_box: Box, out: ImageOutput, fill: float | None) -> Box:
    """The crop of the square source for one output shape, centred on the product."""
    aspect = out.width / out.height
    if fill is not None:
        x0, y0, x1, y1 = product_box
        side = min(size, round(max(x1 - x0, y1 - y0) / fill))
        w, h = (side, round(side / aspect)) if aspect >= 1 else (round(side * aspect), side)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    else:
        w, h = (size, round(size / aspect)) if aspect >= 1 else (round(size * aspect), size)
        cx, cy = size / 2, size / 2
    left = int(min(max(0, round(cx - w / 2)), size - w))
    top = int(min(max(0, round(cy - h / 2)), size - h))
    return (left, top, left + w, top + h)


def _encode_jpeg(image: Image.Image, max_bytes: int | None) -> bytes:
    """Baseline JPEG, sRGB profile embedded, no EXIF; quality stepped down only to fit a limit."""
    for quality in (JPEG_QUALITY, 85, 80, 75, 70):
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality, subsampling=0, icc_profile=_SRGB)
        data = buffer.getvalue()
        if max_bytes is None or len(data) <= max_bytes:
            return data
    return data

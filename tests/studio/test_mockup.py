"""Mockup templates and listing images: pixel checks at small sizes, exact sizes for platforms."""

import dataclasses
import io

import numpy as np
import pytest
from PIL import Image

from flashfusion.studio import mockup
from flashfusion.studio.mockup import (
    MOCKUP_KEYS,
    PLATFORM_IMAGE_SPECS,
    ImageOutput,
    MockupError,
    listing_images,
    print_zones,
    render_mockup,
    template_views,
)
from flashfusion.studio.mockup_templates import TEMPLATES

SIZE = 400
RED = (230, 30, 30, 255)
BLUE = (30, 60, 220, 255)
GREEN = (30, 190, 60, 255)
# The MOCKUP KEYS of the contract (notes/issue3-contracts.md, item 4), in its order.
CONTRACT_KEYS = [
    "shirt", "hoodie", "sweatshirt", "tank", "long_sleeve", "mug", "tumbler", "bottle", "poster",
    "framed_poster", "canvas", "sticker", "phone_case", "tote", "pillow", "blanket", "notebook",
    "card", "mousepad", "hat", "apron", "puzzle", "tapestry",
]  # fmt: skip


def solid(colour: tuple[int, int, int, int], w: int = 300, h: int = 400) -> Image.Image:
    return Image.new("RGBA", (w, h), colour)


def patch(img: Image.Image, x: float, y: float, r: int = 3) -> tuple[int, int, int]:
    """Median colour of a small square around (x, y): robust to a seam or cut line."""
    arr = np.asarray(img)
    xi, yi = round(x), round(y)
    block = arr[max(0, yi - r) : yi + r + 1, max(0, xi - r) : xi + r + 1].reshape(-1, 3)
    med = np.median(block, axis=0)
    return int(med[0]), int(med[1]), int(med[2])


def is_red(rgb: tuple[int, int, int]) -> bool:
    r, g, b = rgb
    return r > 110 and r - g > 60 and r - b > 60


def is_blue(rgb: tuple[int, int, int]) -> bool:
    r, g, b = rgb
    return b > 110 and b - r > 60 and b - g > 40


def is_green(rgb: tuple[int, int, int]) -> bool:
    r, g, b = rgb
    return g > 100 and g - r > 50 and g - b > 50


def centre(zone: mockup.PrintZone) -> tuple[float, float]:
    x0, y0, x1, y1 = zone.print_area if zone.print_area else zone.box
    return (x0 + x1) / 2, (y0 + y1) / 2


def test_every_contract_key_has_a_template() -> None:
    assert list(MOCKUP_KEYS) == CONTRACT_KEYS
    assert set(TEMPLATES) == set(CONTRACT_KEYS)


@pytest.mark.parametrize("colour", ["#ffffff", "#111111"])
@pytest.mark.parametrize("template", CONTRACT_KEYS)
def test_artwork_lands_in_the_print_zone_only(template: str, colour: str) -> None:
    key = TEMPLATES[template].area_keys[0]
    img = render_mockup(template, {key: solid(RED)}, colour_hex=colour, size=SIZE)
    assert img.mode == "RGB"
    assert img.size == (SIZE, SIZE)
    zones = print_zones(template, size=SIZE, artwork_aspect=300 / 400)
    main = zones[0]
    assert is_red(patch(img, *centre(main))), (template, patch(img, *centre(main)))
    # Nothing red outside the union of the zones: left of it, above it, and in the corners.
    x0 = min(z.box[0] for z in zones)
    y0 = min(z.box[1] for z in zones)
    cx, cy = centre(main)
    outside: list[tuple[float, float]] = [
        (2, 2),
        (SIZE - 3, 2),
        (2, SIZE - 3),
        (SIZE - 3, SIZE - 3),
    ]
    if x0 >= 8:
        outside.append((x0 - 5, cy))
    if y0 >= 8:
        outside.append((cx, y0 - 5))
    for x, y in outside:
        assert not is_red(patch(img, x, y, r=1)), (template, (x, y), patch(img, x, y, r=1))


@pytest.mark.parametrize("template", ["shirt", "hoodie", "tank", "tote"])
def test_blank_colour_reads_on_white_and_black(template: str) -> None:
    # A point on the product outside the print zone, just above the hem or bag bottom.
    zone = print_zones(template, size=SIZE)[0]
    x = (zone.box[0] + zone.box[2]) / 2 + 0.1 * SIZE
    y = 0.84 * SIZE if template != "hoodie" else 0.8 * SIZE
    white = render_mockup(template, {}, colour_hex="#ffffff", size=SIZE)
    black = render_mockup(template, {}, colour_hex="#111111", size=SIZE)
    assert sum(patch(white, x, y)) / 3 > 200
    assert sum(patch(black, x, y)) / 3 < 90
    # Shading on black is not flat: folds and weave vary the tone across the body.
    region = np.asarray(black)[int(0.5 * SIZE) : int(0.8 * SIZE), int(0.4 * SIZE) : int(0.6 * SIZE)]
    assert region.std() > 2.0


def test_back_view_uses_the_back_artwork() -> None:
    art = {"front": solid(RED), "back": solid(BLUE)}
    front = render_mockup("shirt", art, colour_hex="#ffffff", view="front", size=SIZE)
    back = render_mockup("shirt", art, colour_hex="#ffffff", view="back", size=SIZE)
    fz = print_zones("shirt", view="front", size=SIZE)[0]
    bz = print_zones("shirt", view="back", size=SIZE)[0]
    assert fz.area_keys == ("front",)
    assert bz.area_keys == ("back",)
    assert is_red(patch(front, *centre(fz)))
    assert is_blue(patch(back, *centre(bz)))
    # Without back artwork the back is plain: the garment's own white shows in the zone.
    plain = render_mockup(
        "shirt", {"front": solid(RED)}, colour_hex="#ffffff", view="back", size=SIZE
    )
    assert min(patch(plain, *centre(bz))) > 190


def test_sleeve_artwork_prints_on_the_wearers_left_sleeve() -> None:
    img = render_mockup(
        "shirt", {"sleeve_left": solid(GREEN, 200, 160)}, colour_hex="#ffffff", size=SIZE
    )
    zone = next(z for z in print_zones("shirt", size=SIZE) if z.area_keys == ("sleeve_left",))
    cx, cy = centre(zone)
    # Facing the shirt, the wearer's left sleeve is on the viewer's right.
    assert cx > SIZE / 2
    assert is_green(patch(img, cx, cy, r=2))
    assert not is_green(patch(img, SIZE - cx, cy, r=2))


def test_artwork_keeps_its_aspect_ratio_in_the_zone() -> None:
    # A 4:1 banner in a 3:4 chest area: it fills the top of the area, not the whole of it.
    img = render_mockup("shirt", {"front": solid(RED, 400, 100)}, colour_hex="#ffffff", size=SIZE)
    zone = print_zones("shirt", size=SIZE)[0]
    assert zone.print_area is not None
    x0, y0, x1, y1 = zone.print_area
    assert (x1 - x0) / (y1 - y0) == pytest.approx(0.75, abs=0.01)
    banner_h = (x1 - x0) / 4
    assert is_red(patch(img, (x0 + x1) / 2, y0 + banner_h / 2, r=1))
    assert not is_red(patch(img, (x0 + x1) / 2, y0 + banner_h * 2.5, r=1))


def test_wall_art_takes_the_artworks_proportions() -> None:
    portrait = print_zones("poster", size=SIZE, artwork_aspect=18 / 24)[0]
    landscape = print_zones("poster", size=SIZE, artwork_aspect=1.5)[0]
    for zone, aspect in ((portrait, 0.75), (landscape, 1.5)):
        assert zone.print_area is not None
        x0, y0, x1, y1 = zone.print_area
        assert (x1 - x0) / (y1 - y0) == pytest.approx(aspect, abs=0.01)
    img = render_mockup(
        "poster", {"default": solid(RED, 900, 600)}, colour_hex="#ffffff", size=SIZE
    )
    x0, y0, x1, y1 = landscape.box
    assert is_red(patch(img, x0 + 6, (y0 + y1) / 2, r=1))
    assert is_red(patch(img, x1 - 6, (y0 + y1) / 2, r=1))


def stripes(n: int = 36, w: int = 1440, h: int = 560) -> Image.Image:
    arr = np.zeros((h, w, 4), dtype=np.uint8)
    arr[..., 3] = 255
    for i in range(n):
        colour = RED if i % 2 == 0 else BLUE
        arr[:, i * w // n : (i + 1) * w // n] = colour
    return Image.fromarray(arr, mode="RGBA")


def runs(row: np.ndarray) -> list[int]:
    """Lengths of consecutive red / blue runs along a pixel row (redder vs bluer, so the glaze
    highlight does not split a stripe)."""
    labels = np.where(row[:, 0] > row[:, 2], 1, 2)
    out: list[int] = []
    count, prev = 0, 0
    for lab in labels:
        if lab == prev and lab:
            count += 1
            continue
        if prev:
            out.append(count)
        count, prev = (1, lab) if lab else (0, 0)
    if prev:
        out.append(count)
    return out


def test_mug_wrap_is_compressed_towards_the_edges() -> None:
    size = 600
    img = render_mockup("mug", {"default": stripes()}, colour_hex="#ffffff", size=size)
    zone = print_zones("mug", size=size)[0]
    assert zone.print_area is None  # a warped zone, not a flat rectangle
    y = (zone.box[1] + zone.box[3]) // 2
    widths = runs(np.asarray(img)[y, zone.box[0] : zone.box[2]].astype(int))
    inner = widths[1:-1]  # the outermost runs may be cut by the silhouette
    assert len(inner) >= 10
    middle = inner[len(inner) // 2]
    assert middle >= 2 * inner[0]
    assert middle >= 2 * inner[-1]
    # Stripes of equal width in the print get narrower monotonically from the centre out.
    half = inner[: len(inner) // 2]
    assert all(a <= b + 1 for a, b in zip(half, half[1:], strict=False))


def test_mug_offers_handle_views() -> None:
    assert template_views("mug") == ("front", "right", "left")
    right = render_mockup("mug", {}, colour_hex="#1a1a1a", view="right", size=SIZE)
    left = render_mockup("mug", {}, colour_hex="#1a1a1a", view="left", size=SIZE)
    # The dark handle sticks out to the right in one view, to the left in the other.
    y = int(0.5 * SIZE)

    def darkest(img: Image.Image, x0: float, x1: float) -> float:
        row = np.asarray(img)[y, int(x0 * SIZE) : int(x1 * SIZE)].astype(int)
        return float(row.sum(axis=1).min() / 3)

    assert darkest(right, 0.72, 0.88) < 110
    assert darkest(left, 0.12, 0.28) < 110
    assert darkest(right, 0.05, 0.2) > 150
    assert darkest(left, 0.8, 0.95) > 150


def test_render_is_deterministic_and_cached() -> None:
    art = {"front": solid(RED)}
    a = render_mockup("hoodie", art, colour_hex="#334455", size=SIZE)
    hits = mockup._blank.cache_info().hits
    b = render_mockup("hoodie", art, colour_hex="#334455", size=SIZE)
    assert mockup._blank.cache_info().hits == hits + 1
    assert a.tobytes() == b.tobytes()


def jpeg_info(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def test_etsy_listing_set() -> None:
    art = {"front": solid(RED, 600, 800), "back": solid(BLUE, 600, 800)}
    colours = ["#ffffff", "#111111", "#2B3A55"]
    images = listing_images("shirt", art, colours=colours, platform="etsy")
    # 2 views × 3 colours × (square, 4:5) = 12 candidates, capped at Etsy's 10.
    assert len(images) == 10
    expected = [
        (view, colour, size)
        for view in ("front", "back")
        for colour in ("#ffffff", "#111111", "#2b3a55")
        for size in ((2000, 2000), (2000, 2500))
    ][:10]
    assert [(i.view, i.colour_hex, (i.width, i.height)) for i in images] == expected
    assert images[0].name == "shirt-front-ffffff-square.jpg"
    assert len({i.name for i in images}) == 10
    for item in images:
        assert item.content_type == "image/jpeg"
        img = jpeg_info(item.data)
        assert img.format == "JPEG"
        assert img.mode == "RGB"
        assert img.size == (item.width, item.height)
        assert min(img.size) >= 2000
        assert img.width / img.height in (1.0, 0.8)
        assert len(img.getexif()) == 0
        assert b"Exif" not in item.data[:4096]
        assert img.info.get("icc_profile")  # sRGB, declared
        assert len(item.data) <= 10 * 1024 * 1024
    # The print is in the picture: the chest of the hero is red.
    hero = jpeg_info(images[0].data).convert("RGB")
    assert is_red(patch(hero, 1000, 830, r=4))


def test_listing_views_follow_the_artwork(monkeypatch: pytest.MonkeyPatch) -> None:
    small("etsy", monkeypatch, ImageOutput("square", 120, 120))
    back_only = listing_images("shirt", {"back": solid(BLUE)}, colours=["#ffffff"], platform="etsy")
    assert [i.view for i in back_only] == ["back"]
    blank = listing_images("shirt", {}, colours=["#ffffff"], platform="etsy")
    assert [i.view for i in blank] == ["front"]
    mug = listing_images("mug", {"default": stripes()}, colours=["#ffffff"], platform="etsy")
    assert [i.view for i in mug] == ["front", "right", "left"]


def small(platform: str, monkeypatch: pytest.MonkeyPatch, *outputs: ImageOutput) -> None:
    spec = dataclasses.replace(PLATFORM_IMAGE_SPECS[platform], outputs=outputs)
    monkeypatch.setitem(PLATFORM_IMAGE_SPECS, platform, spec)


def test_amazon_main_image_is_white_and_fills_the_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    small("amazon", monkeypatch, ImageOutput("square", 300, 300))
    images = listing_images(
        "mug", {"default": stripes()}, colours=["#ffffff", "#000000"], platform="amazon"
    )
    # 3 views × 2 colours × 1 shape = 6 (under Amazon's 9).
    assert len(images) == 6
    assert [i.view for i in images] == ["front", "front", "right", "right", "left", "left"]
    hero = jpeg_info(images[0].data).convert("RGB")
    assert patch(hero, 3, 3, r=2) == (255, 255, 255)
    arr = np.asarray(hero).astype(int)
    product = np.argwhere(arr.sum(axis=2) < 600)
    extent = max(np.ptp(product[:, 0]), np.ptp(product[:, 1])) / 300
    assert extent >= 0.8
    # The other images keep the studio backdrop.
    other = jpeg_info(images[1].data).convert("RGB")
    assert patch(other, 3, 3, r=2) != (255, 255, 255)


def test_tiktok_shop_set_has_square_and_3x4(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = PLATFORM_IMAGE_SPECS["tiktok_shop"]
    assert [(o.width, o.height) for o in spec.outputs] == [(2000, 2000), (1500, 2000)]
    small("tiktok_shop", monkeypatch, ImageOutput("square", 200, 200), ImageOutput("3x4", 150, 200))
    images = listing_images(
        "tote", {"front": solid(RED)}, colours=["#f0e6d2"], platform="tiktok_shop"
    )
    assert [(i.width, i.height) for i in images] == [(200, 200), (150, 200)]
    assert all(jpeg_info(i.data).size == (i.width, i.height) for i in images)


def test_platform_specs_cite_their_figures() -> None:
    assert set(PLATFORM_IMAGE_SPECS) == {"etsy", "shopify", "amazon", "tiktok_shop"}
    etsy = PLATFORM_IMAGE_SPECS["etsy"]
    assert etsy.max_images == 10
    assert [(o.width, o.height) for o in etsy.outputs] == [(2000, 2000), (2000, 2500)]
    assert "up to 20 images" in etsy.sources["max_images"]  # the spec's conflicting figure
    assert PLATFORM_IMAGE_SPECS["shopify"].outputs[0] == ImageOutput("square", 2048, 2048)
    assert PLATFORM_IMAGE_SPECS["tiktok_shop"].max_images == 9
    assert PLATFORM_IMAGE_SPECS["amazon"].hero_fill == 0.85
    for spec in PLATFORM_IMAGE_SPECS.values():
        for name in ("outputs", "max_images", "max_file_bytes", "min_side_px", "max_side_px"):
            if getattr(spec, name) is not None:
                assert spec.sources.get(name), (spec.key, name)
        assert set(spec.unverified) <= set(spec.sources)


# --- bad input ----------------------------------------------------------------------------------


def test_unknown_template() -> None:
    with pytest.raises(
        ValueError, match=r"^template: unknown mockup template 'tshirt'; use one of: shirt, hoodie"
    ):
        render_mockup("tshirt", {}, colour_hex="#ffffff", size=SIZE)


def test_unknown_view() -> None:
    with pytest.raises(
        MockupError, match=r"^view: 'mug' has no view 'back'; use one of: front, right, left$"
    ) as err:
        render_mockup("mug", {}, colour_hex="#ffffff", view="back", size=SIZE)
    assert err.value.field == "view"


@pytest.mark.parametrize("bad", ["red", "#12345", "#gggggg", "", "#1234567"])
def test_bad_colour(bad: str) -> None:
    with pytest.raises(
        ValueError, match=r"^colour_hex: .* is not a colour; give a hex colour like '#1a1a1a'"
    ):
        render_mockup("shirt", {}, colour_hex=bad, size=SIZE)


def test_colour_forms_are_normalised() -> None:
    assert mockup.normalise_colour("FFF") == "#ffffff"
    assert mockup.normalise_colour(" #1A1a1A ") == "#1a1a1a"


@pytest.mark.parametrize("size", [10, 0, 100_000, 400.0, True])
def test_bad_size(size: object) -> None:
    with pytest.raises(ValueError, match=r"^size: .* give whole pixels from 64 to 5000$"):
        render_mockup("shirt", {}, colour_hex="#ffffff", size=size)  # type: ignore[arg-type]


def test_bad_backdrop() -> None:
    with pytest.raises(
        ValueError,
        match=r"^backdrop: unknown backdrop 'beach'; use one of: studio, wall, table, white$",
    ):
        render_mockup("shirt", {}, colour_hex="#ffffff", size=SIZE, backdrop="beach")


def test_artwork_that_is_not_an_image() -> None:
    with pytest.raises(ValueError, match=r"^artwork\['front'\]: is not an image"):
        render_mockup("shirt", {"front": b"png"}, colour_hex="#ffffff", size=SIZE)  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"^artwork: give a dict"):
        render_mockup("shirt", [solid(RED)], colour_hex="#ffffff", size=SIZE)  # type: ignore[arg-type]


def test_artwork_for_no_print_area_of_the_template() -> None:
    with pytest.raises(
        ValueError,
        match=r"^artwork: none of \['wrap'\] is a print area of 'shirt'; use one of: front, back, sleeve_left, sleeve_right$",
    ):
        render_mockup("shirt", {"wrap": solid(RED)}, colour_hex="#ffffff", size=SIZE)


def test_single_area_products_take_any_single_artwork() -> None:
    # A catalog key this template does not name (a provider's own placement) still prints.
    img = render_mockup("notebook", {"print_file": solid(RED)}, colour_hex="#ffffff", size=SIZE)
    assert is_red(patch(img, *centre(print_zones("notebook", size=SIZE)[0])))


def test_unknown_platform() -> None:
    with pytest.raises(
        ValueError,
        match=r"^platform: unknown platform 'ebay'; use one of: etsy, shopify, amazon, tiktok_shop$",
    ):
        listing_images("shirt", {"front": solid(RED)}, colours=["#ffffff"], platform="ebay")


def test_listing_colours_are_checked() -> None:
    with pytest.raises(ValueError, match=r"^colours: give at least one blank colour"):
        listing_images("shirt", {"front": solid(RED)}, colours=[], platform="etsy")
    with pytest.raises(ValueError, match=r"^colours\[1\]: 'navy' is not a colour"):
        listing_images("shirt", {"front": solid(RED)}, colours=["#ffffff", "navy"], platform="etsy")


def test_listing_unknown_template() -> None:
    with pytest.raises(ValueError, match=r"^template: unknown mockup template 'cup'"):
        listing_images("cup", {}, colours=["#ffffff"], platform="etsy")

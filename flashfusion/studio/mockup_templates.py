"""The mockup templates: one per MOCKUP KEY (what `ProductType.mockup` names).

Each template is drawn procedurally (no bundled photographs) by a function in
`flashfusion.studio.mockups`; this module says which views it has, which print areas it shows,
what it stands on, and whether its proportions follow the artwork.
"""

from collections.abc import Callable
from dataclasses import dataclass

from flashfusion.studio.mockups import apparel, drinkware, flat, wall
from flashfusion.studio.mockups.scene import Ctx

APPAREL_VIEWS = ("front", "back")


@dataclass(frozen=True)
class MockupTemplate:
    key: str
    name: str
    draw: Callable[[Ctx], None]
    views: tuple[str, ...]
    area_keys: tuple[str, ...]  # print areas it shows, most important first
    backdrop: str  # studio | wall | table
    adaptive: bool = False  # proportions follow the artwork (wall art, blankets, cards)
    default_aspect: float | None = None  # width / height when the artwork gives none
    # Several print areas (garments, totes, pillows): artwork is matched by key only, never by
    # "the only image given", so an unknown key is not silently printed on the chest.
    multi_area: bool = False


_GARMENT_AREAS = ("front", "back", "sleeve_left", "sleeve_right")

TEMPLATES: dict[str, MockupTemplate] = {
    t.key: t
    for t in (
        MockupTemplate(
            "shirt",
            "T-shirt",
            apparel.shirt,
            APPAREL_VIEWS,
            _GARMENT_AREAS,
            "studio",
            multi_area=True,
        ),
        MockupTemplate(
            "hoodie",
            "Hoodie",
            apparel.hoodie,
            APPAREL_VIEWS,
            _GARMENT_AREAS,
            "studio",
            multi_area=True,
        ),
        MockupTemplate(
            "sweatshirt",
            "Sweatshirt",
            apparel.sweatshirt,
            APPAREL_VIEWS,
            _GARMENT_AREAS,
            "studio",
            multi_area=True,
        ),
        MockupTemplate(
            "tank",
            "Tank top",
            apparel.tank,
            APPAREL_VIEWS,
            ("front", "back"),
            "studio",
            multi_area=True,
        ),
        MockupTemplate(
            "long_sleeve",
            "Long sleeve tee",
            apparel.long_sleeve,
            APPAREL_VIEWS,
            _GARMENT_AREAS,
            "studio",
            multi_area=True,
        ),
        MockupTemplate(
            "mug",
            "Mug",
            drinkware.mug,
            ("front", "right", "left"),
            ("default", "front", "wrap"),
            "table",
        ),
        MockupTemplate(
            "tumbler",
            "Tumbler",
            drinkware.tumbler,
            ("front",),
            ("default", "front", "wrap"),
            "table",
        ),
        MockupTemplate(
            "bottle",
            "Water bottle",
            drinkware.bottle,
            ("front",),
            ("default", "front", "wrap"),
            "table",
        ),
        MockupTemplate(
            "poster",
            "Poster",
            wall.poster,
            ("front",),
            ("default", "front"),
            "wall",
            adaptive=True,
            default_aspect=0.75,
        ),
        MockupTemplate(
            "framed_poster",
            "Framed poster",
            wall.framed_poster,
            ("front",),
            ("default", "front"),
            "wall",
            adaptive=True,
            default_aspect=0.75,
        ),
        MockupTemplate(
            "canvas",
            "Canvas print",
            wall.canvas,
            ("front",),
            ("default", "front"),
            "wall",
            adaptive=True,
            default_aspect=0.8,
        ),
        MockupTemplate(
            "sticker", "Sticker", flat.sticker, ("front",), ("default", "front"), "studio"
        ),
        MockupTemplate(
            "phone_case",
            "Phone case",
            flat.phone_case,
            ("front",),
            ("default", "front", "back"),
            "studio",
        ),
        MockupTemplate(
            "tote",
            "Tote bag",
            flat.tote,
            ("front", "back"),
            ("front", "default", "back"),
            "studio",
            multi_area=True,
        ),
        MockupTemplate(
            "pillow",
            "Throw pillow",
            flat.pillow,
            ("front", "back"),
            ("front", "default", "back"),
            "studio",
            multi_area=True,
        ),
        MockupTemplate(
            "blanket",
            "Blanket",
            wall.blanket,
            ("front",),
            ("default", "front"),
            "studio",
            adaptive=True,
            default_aspect=0.8,
        ),
        MockupTemplate(
            "notebook",
            "Notebook",
            flat.notebook,
            ("front",),
            ("cover", "front", "default"),
            "studio",
        ),
        MockupTemplate(
            "card",
            "Greeting card",
            flat.card,
            ("front",),
            ("default", "front"),
            "studio",
            adaptive=True,
            default_aspect=5 / 7,
        ),
        MockupTemplate(
            "mousepad", "Mouse pad", flat.mousepad, ("front",), ("default", "front"), "studio"
        ),
        MockupTemplate(
            "hat",
            "Cap",
            apparel.hat,
            ("front",),
            ("embroidery_front", "front", "embroidery_front_large", "default"),
            "studio",
        ),
        MockupTemplate("apron", "Apron", apparel.apron, ("front",), ("front", "default"), "studio"),
        MockupTemplate(
            "puzzle", "Jigsaw puzzle", flat.puzzle, ("front",), ("default", "front"), "studio"
        ),
        MockupTemplate(
            "tapestry",
            "Tapestry",
            wall.tapestry,
            ("front",),
            ("default", "front"),
            "wall",
            adaptive=True,
            default_aspect=1.25,
        ),
    )
}

MOCKUP_KEYS: tuple[str, ...] = tuple(TEMPLATES)

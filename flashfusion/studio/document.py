"""The design document: a canvas and a stack of layers, stored as JSON on each design version.

Coordinates are canvas pixels (the canvas is the design's own resolution, independent of any
product); `x`, `y` are a layer's centre. The renderer draws the stack bottom to top. Every field is
validated here (shape, ranges, colour syntax); whether a font or a media id exists is checked by
`flashfusion.studio.render.check_document`, which knows the bundled fonts and the media store.
"""

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_CANVAS_PX = 12_000
MAX_LAYERS = 50
MAX_TEXT_CHARS = 500
MAX_TEXT_LINES = 12

_HEX = re.compile(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")


def normalise_colour(value: str) -> str:
    """`#rrggbb` or `#rrggbbaa`, lower case; anything else is a ValueError saying what to send."""
    if not isinstance(value, str) or not _HEX.match(value.strip()):
        raise ValueError(
            f"{value!r} is not a colour; use #rrggbb or #rrggbbaa hex, for example #ff6b35"
        )
    return value.strip().lower()


def colour_rgba(value: str) -> tuple[int, int, int, int]:
    """A normalised colour as an RGBA tuple."""
    v = value.lstrip("#")
    alpha = int(v[6:8], 16) if len(v) == 8 else 255
    return int(v[0:2], 16), int(v[2:4], 16), int(v[4:6], 16), alpha


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


Colour = Annotated[str, Field(description="`#rrggbb` or `#rrggbbaa`.", examples=["#ff6b35"])]


class Fill(_Part):
    """How a text or shape is painted."""

    kind: Literal["solid", "linear", "radial"] = Field(
        default="solid", description="Solid colour, linear gradient or radial gradient."
    )
    colours: list[Colour] = Field(
        min_length=1,
        max_length=8,
        description="One colour for `solid`; the gradient's stops, evenly spaced, otherwise.",
    )
    angle: float = Field(
        default=90.0,
        ge=-360,
        le=360,
        description="Linear gradient direction in degrees (90: top to bottom).",
    )

    @field_validator("colours")
    @classmethod
    def _colours(cls, value: list[str]) -> list[str]:
        return [normalise_colour(v) for v in value]

    @model_validator(mode="after")
    def _stops(self) -> "Fill":
        if self.kind != "solid" and len(self.colours) < 2:
            raise ValueError("a gradient needs at least two colours")
        return self


class Outline(_Part):
    width: float = Field(gt=0, le=400, description="Stroke width in canvas px.")
    colour: Colour

    @field_validator("colour")
    @classmethod
    def _colour(cls, value: str) -> str:
        return normalise_colour(value)


class Shadow(_Part):
    dx: float = Field(default=0, ge=-2000, le=2000, description="Offset right, canvas px.")
    dy: float = Field(default=0, ge=-2000, le=2000, description="Offset down, canvas px.")
    blur: float = Field(default=0, ge=0, le=400, description="Gaussian blur radius, canvas px.")
    colour: Colour = "#00000080"

    @field_validator("colour")
    @classmethod
    def _colour(cls, value: str) -> str:
        return normalise_colour(value)


class Glow(_Part):
    radius: float = Field(gt=0, le=600, description="Blur radius of the glow, canvas px.")
    colour: Colour
    strength: float = Field(default=1.0, gt=0, le=4, description="How many glow passes to stack.")

    @field_validator("colour")
    @classmethod
    def _colour(cls, value: str) -> str:
        return normalise_colour(value)


class Texture(_Part):
    """A procedural texture that eats into (distress) or tints (paper, watercolour) a layer."""

    kind: Literal["distress", "grunge", "halftone", "paper", "watercolour", "speckle"]
    strength: float = Field(default=0.5, ge=0, le=1, description="0: none, 1: strongest.")
    scale: float = Field(default=1.0, gt=0, le=20, description="Feature size multiplier.")
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="Makes the texture repeatable.")


class _Layer(_Part):
    id: str = Field(
        min_length=1,
        max_length=40,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Unique within the design.",
    )
    name: str = Field(default="", max_length=80, description="Shown in the layer list.")
    x: float = Field(ge=-MAX_CANVAS_PX, le=2 * MAX_CANVAS_PX, description="Centre x, canvas px.")
    y: float = Field(ge=-MAX_CANVAS_PX, le=2 * MAX_CANVAS_PX, description="Centre y, canvas px.")
    rotation: float = Field(default=0, ge=-360, le=360, description="Degrees, clockwise.")
    opacity: float = Field(default=1.0, ge=0, le=1)
    visible: bool = True
    texture: Texture | None = None
    blend: Literal["normal", "erase"] = Field(
        default="normal",
        description="`erase` cuts this layer's shape out of the layers below (a knockout), "
        "leaving transparency; it paints nothing itself.",
    )


class TextLayer(_Layer):
    type: Literal["text"] = "text"
    text: str = Field(
        min_length=1, max_length=MAX_TEXT_CHARS, description="Lines separated by \\n."
    )
    font: str = Field(min_length=1, max_length=60, description="A bundled font's key.")
    size: float = Field(gt=0, le=4000, description="Font size (em height) in canvas px.")
    fill: Fill
    letter_spacing: float = Field(
        default=0, ge=-0.5, le=2, description="Extra space per letter, in em."
    )
    line_height: float = Field(default=1.15, ge=0.5, le=4, description="Line pitch, in em.")
    align: Literal["left", "center", "right"] = "center"
    arc: float = Field(
        default=0,
        ge=-360,
        le=360,
        description="Bend the baseline through this many degrees (positive: an arch, ends down).",
    )
    uppercase: bool = False
    outline: Outline | None = None
    outline2: Outline | None = Field(default=None, description="A second stroke outside the first.")
    shadow: Shadow | None = None
    glow: Glow | None = None
    max_width: float | None = Field(
        default=None, gt=0, le=MAX_CANVAS_PX, description="Shrink the text to fit this width."
    )

    @field_validator("text")
    @classmethod
    def _lines(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is empty; type at least one letter")
        if value.count("\n") + 1 > MAX_TEXT_LINES:
            raise ValueError(f"at most {MAX_TEXT_LINES} lines")
        return value


class ImageLayer(_Layer):
    type: Literal["image"] = "image"
    media_id: str = Field(
        min_length=1, max_length=64, description="An uploaded image of this workspace."
    )
    width: float = Field(gt=0, le=2 * MAX_CANVAS_PX, description="Drawn width, canvas px.")
    height: float = Field(gt=0, le=2 * MAX_CANVAS_PX, description="Drawn height, canvas px.")


class ShapeLayer(_Layer):
    type: Literal["shape"] = "shape"
    shape: Literal[
        "rectangle", "ellipse", "triangle", "star", "line", "sunburst", "stripes", "splatter"
    ] = Field(
        description="`line` is a bar `width` long and `height` thick; `stripes` are `count` "
        "horizontal bands; `splatter` is `count` paint drops with spray, seeded by `seed`."
    )
    width: float = Field(gt=0, le=2 * MAX_CANVAS_PX)
    height: float = Field(gt=0, le=2 * MAX_CANVAS_PX)
    fill: Fill | None = None
    outline: Outline | None = None
    corner_radius: float = Field(default=0, ge=0, le=MAX_CANVAS_PX)
    count: int = Field(
        default=5, ge=2, le=64, description="Points of a star, rays of a sunburst, stripes."
    )
    gap: float = Field(
        default=0.35, ge=0, le=0.9, description="Stripes: share of each band left empty."
    )
    taper: float = Field(
        default=0,
        ge=-1,
        le=1,
        description="Stripes: the gap grows from gap×(1−taper) in the top band to "
        "gap×(1+taper) in the bottom one (negative: shrinks).",
    )
    inner_ratio: float = Field(
        default=0.45,
        ge=0.05,
        le=0.95,
        description="Star: inner radius as a share of the outer one (low values: sparkles).",
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="Splatter: makes it repeatable.")
    shadow: Shadow | None = None
    glow: Glow | None = None


Layer = Annotated[TextLayer | ImageLayer | ShapeLayer, Field(discriminator="type")]


class Canvas(_Part):
    width: int = Field(default=4500, ge=16, le=MAX_CANVAS_PX, description="Design width, px.")
    height: int = Field(default=5400, ge=16, le=MAX_CANVAS_PX, description="Design height, px.")
    background: Colour | None = Field(
        default=None, description="None keeps the background transparent (what print files need)."
    )

    @field_validator("background")
    @classmethod
    def _bg(cls, value: str | None) -> str | None:
        return None if value is None else normalise_colour(value)


class DesignDocument(_Part):
    """What a design version stores and the renderer draws."""

    format: Literal[1] = Field(default=1, description="Document format version.")
    canvas: Canvas = Field(default_factory=Canvas)
    preset: str | None = Field(
        default=None, max_length=40, description="The style preset it came from."
    )
    layers: list[Layer] = Field(max_length=MAX_LAYERS)

    @model_validator(mode="after")
    def _unique_ids(self) -> "DesignDocument":
        seen: set[str] = set()
        for layer in self.layers:
            if layer.id in seen:
                raise ValueError(f"layer id {layer.id!r} is used twice; layer ids must be unique")
            seen.add(layer.id)
        return self

    def layer(self, layer_id: str) -> TextLayer | ImageLayer | ShapeLayer | None:
        return next((layer for layer in self.layers if layer.id == layer_id), None)

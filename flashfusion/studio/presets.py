"""Style presets: a phrase in, an editable design document out.

Each preset composes ordinary layers (text, shapes, textures) the creator can then move and edit;
nothing a preset draws is baked in. Layouts are worked out against the canvas (sizes relative to
its short side) and measured with the real fonts, so a phrase of any length fits: short phrases
run big on one line, long ones wrap into balanced lines. Building is deterministic: the same
phrase and canvas always give the same document.
"""

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flashfusion.studio.document import (
    MAX_TEXT_CHARS,
    MAX_TEXT_LINES,
    Canvas,
    DesignDocument,
    TextLayer,
)
from flashfusion.studio.fonts import get_font
from flashfusion.studio.render import arc_centre, text_ink_size

Spec = dict[str, Any]
_MEASURE = 200.0


@dataclass(frozen=True)
class Preset:
    key: str
    name: str
    description: str
    build: Callable[[str, Canvas], list[Spec]]


class UnknownPreset(LookupError):
    """A preset key that does not exist; the message lists the valid keys."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"preset {key!r} does not exist; use one of: {', '.join(PRESETS)}")

    def __str__(self) -> str:
        return str(self.args[0])


class InvalidPhrase(ValueError):
    """The phrase cannot be set as a design; the message says why and what to send."""

    field = "phrase"


# --- text helpers -----------------------------------------------------------------------------


def normalise_phrase(phrase: str) -> str:
    """Collapse runs of spaces, keep explicit line breaks; raise InvalidPhrase if unusable."""
    if not isinstance(phrase, str):
        raise InvalidPhrase("phrase must be text, for example 'Stay Wild'")
    lines = [re.sub(r"\s+", " ", line).strip() for line in phrase.replace("\r", "").split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        raise InvalidPhrase("phrase is empty; type at least one word")
    text = "\n".join(lines)
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidPhrase(
            f"phrase is {len(text)} characters; shorten it to at most {MAX_TEXT_CHARS}"
        )
    if len(lines) > MAX_TEXT_LINES:
        raise InvalidPhrase(f"phrase has {len(lines)} lines; use at most {MAX_TEXT_LINES}")
    return text


def _balanced(words: list[str], count: int) -> list[str]:
    """Split words into `count` lines as evenly as possible (least sum of squared lengths)."""
    n = len(words)
    lengths = [len(w) for w in words]

    def span(i: int, j: int) -> int:
        return sum(lengths[i:j]) + (j - i - 1)

    inf = float("inf")
    best = [[inf] * (n + 1) for _ in range(count + 1)]
    cut = [[0] * (n + 1) for _ in range(count + 1)]
    best[0][0] = 0.0
    for k in range(1, count + 1):
        for j in range(k, n + 1):
            for i in range(k - 1, j):
                cost = best[k - 1][i] + span(i, j) ** 2
                # Ties go to the later cut, which keeps top lines no longer than bottom ones.
                if cost <= best[k][j]:
                    best[k][j], cut[k][j] = cost, i
    lines, j = [], n
    for k in range(count, 0, -1):
        i = cut[k][j]
        lines.append(" ".join(words[i:j]))
        j = i
    return lines[::-1]


def split_lines(phrase: str, *, ideal: int, max_lines: int = 4) -> list[str]:
    """Lines for a phrase: explicit breaks are kept; otherwise the fewest balanced lines whose
    longest is at most `ideal` characters (longer phrases get more lines, up to the limit)."""
    if "\n" in phrase:
        return phrase.split("\n")
    words = phrase.split(" ")
    limit = min(len(words), max(max_lines, math.ceil(len(phrase) / (ideal * 1.6))), MAX_TEXT_LINES)
    for count in range(1, limit + 1):
        lines = _balanced(words, count)
        if max(len(line) for line in lines) <= ideal:
            return lines
    return _balanced(words, limit)


def _halves(phrase: str) -> tuple[str, str]:
    """(top, rest) for arched-over-straight layouts: the first half of the words goes on top."""
    words = phrase.replace("\n", " ").split(" ")
    if len(words) < 2:
        return "", phrase.replace("\n", " ")
    top = max(1, len(words) // 2)
    return " ".join(words[:top]), " ".join(words[top:])


@dataclass(frozen=True)
class _Measure:
    width: float  # longest line, em
    height: float  # ink height of the block, em


def _measure(
    font: str, lines: list[str], *, spacing: float = 0.0, line_height: float = 1.15
) -> _Measure:
    face = get_font(font, _MEASURE)
    widths = [face.getlength(line) + spacing * _MEASURE * max(len(line) - 1, 0) for line in lines]
    top = face.getbbox(lines[0], anchor="ls")[1]
    bottom = face.getbbox(lines[-1], anchor="ls")[3]
    height = (len(lines) - 1) * line_height * _MEASURE + bottom - top
    return _Measure(max(widths) / _MEASURE, height / _MEASURE)


def _fit(measure: _Measure, width: float, height: float, *, stroke_em: float = 0.0) -> float:
    """The type size that fits the block (plus strokes on both sides) into width × height."""
    return min(width / (measure.width + 2 * stroke_em), height / (measure.height + 2 * stroke_em))


def _fill(*colours: str, angle: float = 90.0) -> Spec:
    if len(colours) == 1:
        return {"kind": "solid", "colours": list(colours)}
    return {"kind": "linear", "colours": list(colours), "angle": angle}


def _r(value: float) -> float:
    return round(value, 2)


def _clamp(offset: float, limit: float) -> float:
    """Keep an offset from the centre within ±limit (decorations stay on the canvas)."""
    return max(-limit, min(limit, offset))


# --- presets ----------------------------------------------------------------------------------


def _retro_sunset(phrase: str, canvas: Canvas) -> list[Spec]:
    w, h = canvas.width, canvas.height
    s = min(w, h)
    cx, cy = w / 2, h / 2
    disc = 0.64 * s
    disc_y = cy - 0.1 * s
    lines = split_lines(phrase.upper(), ideal=11, max_lines=3)
    m = _measure("bebas-neue", lines, spacing=0.03, line_height=0.95)
    size = _fit(m, 0.86 * s, 0.4 * s, stroke_em=0.05)
    text_h = m.height * size
    text_y = min(disc_y + disc * 0.32 + text_h / 2, cy + 0.45 * s - text_h / 2)
    cut_h = 0.44 * disc
    return [
        {
            "type": "shape",
            "id": "sun",
            "name": "Sun",
            "shape": "ellipse",
            "x": _r(cx),
            "y": _r(disc_y),
            "width": _r(disc),
            "height": _r(disc),
            "fill": _fill("#ffe066", "#ffa84c", "#f4606c", "#b83b8c"),
        },
        {
            "type": "shape",
            "id": "sun-cuts",
            "name": "Sun stripes (cut out)",
            "shape": "stripes",
            "blend": "erase",
            "x": _r(cx),
            "y": _r(disc_y + disc * 0.04 + cut_h / 2),
            "width": _r(disc * 1.04),
            "height": _r(cut_h),
            "count": 6,
            "gap": 0.55,
            "taper": -0.75,
            "fill": _fill("#000000"),
        },
        {
            "type": "text",
            "id": "title",
            "name": "Title",
            "text": "\n".join(lines),
            "font": "bebas-neue",
            "size": _r(size),
            "x": _r(cx),
            "y": _r(text_y),
            "uppercase": True,
            "letter_spacing": 0.03,
            "line_height": 0.95,
            "fill": _fill("#fff3c4", "#ffc15e", "#ff7a3d"),
            "outline": {"width": _r(0.035 * size), "colour": "#2b193d"},
            "shadow": {"dx": _r(0.05 * size), "dy": _r(0.05 * size), "colour": "#2b193d"},
            "max_width": _r(0.92 * s),
        },
    ]


_VINTAGE = {"ink": "#4a3426", "rust": "#a4492b", "cream": "#f1e3c6", "sage": "#6f7d5c"}


def _distress(seed: int, strength: float = 0.55) -> Spec:
    return {"kind": "distress", "strength": strength, "scale": 1.0, "seed": seed}


def _arched(
    text: str,
    font: str,
    *,
    centre: tuple[float, float],
    radius: float,
    size: float,
    max_degrees: float,
    spacing: float,
    extra: Spec,
    layer_id: str,
) -> Spec:
    """A text layer whose baseline follows the circle of `radius` around `centre` (an arch)."""
    face = get_font(font, _MEASURE)
    width = (face.getlength(text) + spacing * _MEASURE * (len(text) - 1)) / _MEASURE
    degrees = math.degrees(width * size / radius)
    if degrees > max_degrees:
        size *= max_degrees / degrees
        degrees = max_degrees
    spec: Spec = {
        "type": "text",
        "id": layer_id,
        "text": text,
        "font": font,
        "size": _r(size),
        "x": 0.0,
        "y": 0.0,
        "arc": _r(degrees),
        "letter_spacing": spacing,
        **extra,
    }
    # Place the layer so its arc's circle lands on `centre`.
    offset = arc_centre(TextLayer.model_validate(spec)) or (0.0, 0.0)
    spec["x"], spec["y"] = _r(centre[0] - offset[0]), _r(centre[1] - offset[1])
    return spec


def _vintage_distressed(phrase: str, canvas: Canvas) -> list[Spec]:
    w, h = canvas.width, canvas.height
    s = min(w, h)
    cx, cy = w / 2, h / 2
    outer, inner = 0.88 * s, 0.64 * s
    top, rest = _halves(phrase.upper())
    layers: list[Spec] = [
        {
            "type": "shape",
            "id": "ring",
            "name": "Outer ring",
            "shape": "ellipse",
            "x": _r(cx),
            "y": _r(cy),
            "width": _r(outer),
            "height": _r(outer),
            "outline": {"width": _r(0.022 * s), "colour": _VINTAGE["ink"]},
            "texture": _distress(11),
        },
        {
            "type": "shape",
            "id": "inner-ring",
            "name": "Inner ring",
            "shape": "ellipse",
            "x": _r(cx),
            "y": _r(cy),
            "width": _r(inner),
            "height": _r(inner),
            "outline": {"width": _r(0.008 * s), "colour": _VINTAGE["ink"]},
            "texture": _distress(12),
        },
    ]
    lines = split_lines(rest, ideal=10, max_lines=3)
    m = _measure("lobster", lines, line_height=1.0)
    size = _fit(m, 0.74 * s, 0.3 * s, stroke_em=0.02)
    ribbon_h = m.height * size + 0.08 * s
    band_radius = (outer + inner) / 4  # middle of the band between the rings
    if top:
        arc_size = 0.085 * s
        layers.append(
            _arched(
                top,
                "roboto-slab",
                centre=(cx, cy),
                radius=band_radius - 0.3 * arc_size,
                size=arc_size,
                # The arch ends where it would run under the ribbon.
                max_degrees=2
                * math.degrees(math.acos(min(1.0, (ribbon_h / 2 + 0.5 * arc_size) / band_radius))),
                spacing=0.12,
                layer_id="arch",
                extra={
                    "name": "Arched text",
                    "uppercase": True,
                    "fill": _fill(_VINTAGE["ink"]),
                    "texture": _distress(13),
                },
            )
        )
    # Stars fill the lower band, and the upper one too when there is no arched text.
    angles = [65, 90, 115] + ([] if top else [-115, -90, -65])
    for i, angle in enumerate(angles):
        rad = math.radians(angle)
        star = (0.075 if angle == 90 else 0.05) * s
        layers.append(
            {
                "type": "shape",
                "id": f"star-{i + 1}",
                "name": "Star",
                "shape": "star",
                "x": _r(cx + band_radius * math.cos(rad)),
                "y": _r(cy + band_radius * math.sin(rad)),
                "width": _r(star),
                "height": _r(star),
                "fill": _fill(_VINTAGE["rust"]),
                "texture": _distress(20 + i),
            }
        )
    layers += [
        {
            "type": "shape",
            "id": "ribbon",
            "name": "Ribbon",
            "shape": "rectangle",
            "x": _r(cx),
            "y": _r(cy),
            "width": _r(0.96 * s),
            "height": _r(ribbon_h),
            "corner_radius": _r(0.012 * s),
            "fill": _fill(_VINTAGE["ink"]),
            "texture": _distress(14, 0.4),
        },
        {
            "type": "text",
            "id": "title",
            "name": "Title",
            "text": "\n".join(lines),
            "font": "lobster",
            "size": _r(size),
            "x": _r(cx),
            "y": _r(cy),
            "line_height": 1.0,
            "fill": _fill(_VINTAGE["cream"]),
            "outline": {"width": _r(0.02 * size), "colour": _VINTAGE["rust"]},
            "texture": _distress(15, 0.3),
            "max_width": _r(0.84 * s),
        },
    ]
    return layers


def _minimalist_line(phrase: str, canvas: Canvas) -> list[Spec]:
    w, h = canvas.width, canvas.height
    s = min(w, h)
    cx, cy = w / 2, h / 2
    ink = "#22272e"
    spacing = 0.32
    lines = split_lines(phrase.upper(), ideal=14, max_lines=4)
    m = _measure("lato-light", lines, spacing=spacing, line_height=1.6)
    size = min(_fit(m, 0.7 * s, 0.32 * s), 0.11 * s)
    text_w, text_h = m.width * size, m.height * size
    rule = max(0.0035 * s, 2.0)
    gap = 0.07 * s
    line_w = max(0.5 * text_w, 0.18 * s)
    circle = 0.09 * s
    return [
        {
            "type": "shape",
            "id": "sun",
            "name": "Circle",
            "shape": "ellipse",
            "x": _r(cx),
            "y": _r(cy - text_h / 2 - gap - rule - 0.04 * s - circle / 2),
            "width": _r(circle),
            "height": _r(circle),
            "outline": {"width": _r(rule), "colour": ink},
        },
        {
            "type": "shape",
            "id": "rule-top",
            "name": "Top rule",
            "shape": "line",
            "x": _r(cx),
            "y": _r(cy - text_h / 2 - gap),
            "width": _r(line_w),
            "height": _r(rule),
            "fill": _fill(ink),
        },
        {
            "type": "text",
            "id": "title",
            "name": "Title",
            "text": "\n".join(lines),
            "font": "lato-light",
            "size": _r(size),
            "x": _r(cx + spacing * size / 2),  # tracking adds space after the last letter too
            "y": _r(cy),
            "uppercase": True,
            "letter_spacing": spacing,
            "line_height": 1.6,
            "fill": _fill(ink),
            "max_width": _r(max(0.8 * s, text_w)),
        },
        {
            "type": "shape",
            "id": "rule-bottom",
            "name": "Bottom rule",
            "shape": "line",
            "x": _r(cx),
            "y": _r(cy + text_h / 2 + gap),
            "width": _r(line_w),
            "height": _r(rule),
            "fill": _fill(ink),
        },
    ]


def _bold_varsity(phrase: str, canvas: Canvas) -> list[Spec]:
    w, h = canvas.width, canvas.height
    s = min(w, h)
    cx, cy = w / 2, h / 2
    red, white, navy = "#c8102e", "#ffffff", "#0b2545"
    top, rest = _halves(phrase.upper())
    layers: list[Spec] = []
    lines = split_lines(rest, ideal=9, max_lines=3)
    m = _measure("roboto-slab", lines, line_height=1.0)
    size = _fit(m, 0.86 * s, 0.34 * s, stroke_em=0.12)
    text_h = m.height * size
    outlines = {
        "outline": {"width": _r(0.055 * size), "colour": white},
        "outline2": {"width": _r(0.06 * size), "colour": navy},
    }
    rest_y = cy + (0.1 * s if top else 0.0)
    if top:
        arc_size = min(size * 0.75, 0.16 * s)
        arch = _arched(
            top,
            "roboto-slab",
            centre=(cx, 0.0),
            radius=0.62 * s,
            size=arc_size,
            max_degrees=70,
            spacing=0.04,
            layer_id="arch",
            extra={
                "name": "Arched text",
                "uppercase": True,
                "fill": _fill(red),
                "outline": {"width": _r(0.055 * arc_size), "colour": white},
                "outline2": {"width": _r(0.06 * arc_size), "colour": navy},
            },
        )
        # Sit the arch's lowest ink (the ends) a little above the straight lines' strokes.
        _, arch_h = text_ink_size(TextLayer.model_validate(arch))
        strokes = 0.115 * (size + arc_size)
        arch["y"] = _r(rest_y - text_h / 2 - strokes - 0.005 * s - arch_h / 2)
        layers.append(arch)
    layers.append(
        {
            "type": "text",
            "id": "title",
            "name": "Title",
            "text": "\n".join(lines),
            "font": "roboto-slab",
            "size": _r(size),
            "x": _r(cx),
            "y": _r(rest_y),
            "uppercase": True,
            "line_height": 1.0,
            "fill": _fill(red),
            **outlines,
            "max_width": _r(0.92 * s),
        }
    )
    bar_y = rest_y + text_h / 2 + 0.075 * s
    layers.append(
        {
            "type": "shape",
            "id": "stripes",
            "name": "Athletic stripes",
            "shape": "stripes",
            "x": _r(cx),
            "y": _r(bar_y),
            "width": _r(0.62 * s),
            "height": _r(0.05 * s),
            "count": 2,
            "gap": 0.35,
            "fill": _fill(navy),
        }
    )
    for i, side in enumerate((-1, 1)):
        layers.append(
            {
                "type": "shape",
                "id": f"star-{i + 1}",
                "name": "Star",
                "shape": "star",
                "x": _r(cx + side * 0.39 * s),
                "y": _r(bar_y),
                "width": _r(0.075 * s),
                "height": _r(0.075 * s),
                "fill": _fill(red),
                "outline": {"width": _r(0.006 * s), "colour": navy},
            }
        )
    return layers


def _kawaii(phrase: str, canvas: Canvas) -> list[Spec]:
    w, h = canvas.width, canvas.height
    s = min(w, h)
    cx, cy = w / 2, h / 2
    lines = split_lines(phrase, ideal=10, max_lines=4)
    m = _measure("comfortaa", lines, line_height=1.1)
    size = _fit(m, 0.74 * s, 0.42 * s, stroke_em=0.14)
    tw, th = m.width * size, m.height * size
    layers: list[Spec] = [
        {
            "type": "text",
            "id": "title",
            "name": "Title",
            "text": "\n".join(lines),
            "font": "comfortaa",
            "size": _r(size),
            "x": _r(cx),
            "y": _r(cy),
            "line_height": 1.1,
            "fill": _fill("#ff9ec7", "#ff6fa8"),
            "outline": {"width": _r(0.07 * size), "colour": "#ffffff"},
            "outline2": {"width": _r(0.05 * size), "colour": "#ffc8dd"},
            "shadow": {
                "dx": 0.0,
                "dy": _r(0.05 * size),
                "blur": _r(0.05 * size),
                "colour": "#d45d8c66",
            },
            "max_width": _r(0.9 * s),
        }
    ]
    # Sparkles hug the text block's corners, sized to it; dots fill the gaps.
    pastel = ["#9ee6cf", "#c3b1e1", "#ffe29a", "#a0d8ff"]
    half_w, half_h = tw / 2 + 0.06 * s, th / 2 + 0.06 * s
    sparkles = [
        (-1.0, -1.0, 0.11),
        (1.0, -0.7, 0.08),
        (1.05, 0.95, 0.12),
        (-0.95, 0.85, 0.07),
        (0.15, -1.25, 0.05),
    ]
    for i, (fx, fy, k) in enumerate(sparkles):
        layers.insert(
            0,
            {
                "type": "shape",
                "id": f"sparkle-{i + 1}",
                "name": "Sparkle",
                "shape": "star",
                "count": 4,
                "inner_ratio": 0.28,
                "x": _r(cx + _clamp(fx * half_w, 0.45 * s - k * s / 2)),
                "y": _r(cy + _clamp(fy * half_h, 0.45 * s - k * s / 2)),
                "width": _r(k * s),
                "height": _r(k * s),
                "fill": _fill(pastel[i % len(pastel)]),
                "outline": {"width": _r(0.006 * s), "colour": "#ffffff"},
            },
        )
    for i, (fx, fy) in enumerate(((-1.15, -0.1), (1.2, 0.15), (-0.35, 1.25), (0.55, -1.2))):
        layers.insert(
            0,
            {
                "type": "shape",
                "id": f"dot-{i + 1}",
                "name": "Dot",
                "shape": "ellipse",
                "x": _r(cx + _clamp(fx * half_w, 0.45 * s)),
                "y": _r(cy + _clamp(fy * half_h, 0.45 * s)),
                "width": _r(0.028 * s),
                "height": _r(0.028 * s),
                "fill": _fill(pastel[(i + 2) % len(pastel)]),
            },
        )
    return layers


def _grunge(phrase: str, canvas: Canvas) -> list[Spec]:
    w, h = canvas.width, canvas.height
    s = min(w, h)
    cx, cy = w / 2, h / 2
    lines = split_lines(phrase.upper(), ideal=9, max_lines=4)
    m = _measure("league-spartan", lines, line_height=0.95)
    size = _fit(m, 0.78 * s, 0.46 * s)
    tw, th = m.width * size, m.height * size
    grunge = {"kind": "grunge", "strength": 0.75, "scale": 1.0}
    return [
        {
            "type": "shape",
            "id": "splatter",
            "name": "Splatter",
            "shape": "splatter",
            "x": _r(cx),
            "y": _r(cy),
            "width": _r(0.95 * s),
            "height": _r(0.95 * s),
            "count": 14,
            "seed": 7,
            "fill": _fill("#111111"),
        },
        {
            "type": "shape",
            "id": "block",
            "name": "Paint block",
            "shape": "rectangle",
            "x": _r(cx),
            "y": _r(cy),
            "rotation": -4.0,
            "width": _r(tw + 0.12 * s),
            "height": _r(th + 0.1 * s),
            "fill": _fill("#9b1c1c"),
            "texture": {**grunge, "seed": 3},
        },
        {
            "type": "shape",
            "id": "splatter-red",
            "name": "Red splatter",
            "shape": "splatter",
            "x": _r(cx + 0.2 * s),
            "y": _r(cy - 0.22 * s),
            "width": _r(0.5 * s),
            "height": _r(0.5 * s),
            "count": 6,
            "seed": 21,
            "fill": _fill("#c0392b"),
        },
        {
            "type": "text",
            "id": "title",
            "name": "Title",
            "text": "\n".join(lines),
            "font": "league-spartan",
            "size": _r(size),
            "x": _r(cx),
            "y": _r(cy),
            "rotation": -6.0,
            "uppercase": True,
            "line_height": 0.95,
            "fill": _fill("#efe9da"),
            "texture": {**grunge, "seed": 5},
            "max_width": _r(0.86 * s),
        },
    ]


def _neon_glow(phrase: str, canvas: Canvas) -> list[Spec]:
    w, h = canvas.width, canvas.height
    s = min(w, h)
    cx, cy = w / 2, h / 2
    pink, cyan = "#ff2bd6", "#22d3ee"
    words = phrase.replace("\n", " ").split(" ")
    script = words[-1] if len(words) >= 2 else ""
    head = " ".join(words[:-1]) if script else phrase
    lines = split_lines(head, ideal=10, max_lines=3)
    m = _measure("quicksand", lines, line_height=1.05)
    size = _fit(m, 0.74 * s, (0.3 if script else 0.46) * s, stroke_em=0.1)
    th = m.height * size
    layers: list[Spec] = []
    script_size, script_h = 0.0, 0.0
    if script:
        sm = _measure("kaushan-script", [script])
        script_size = _fit(sm, 0.7 * s, 0.2 * s, stroke_em=0.1)
        script_h = sm.height * script_size
    gap = 0.04 * s if script else 0.0
    block_h = th + gap + script_h
    top = cy - block_h / 2
    frame_w = max(m.width * size, 0.5 * s) + 0.16 * s
    layers.append(
        {
            "type": "shape",
            "id": "frame",
            "name": "Neon frame",
            "shape": "rectangle",
            "x": _r(cx),
            "y": _r(cy),
            "width": _r(min(frame_w, 0.94 * s)),
            "height": _r(block_h + 0.18 * s),
            "corner_radius": _r(0.07 * s),
            "outline": {"width": _r(0.012 * s), "colour": "#e9fdff"},
            "glow": {"radius": _r(0.022 * s), "colour": cyan, "strength": 2.5},
        }
    )
    layers.append(
        {
            "type": "text",
            "id": "title",
            "name": "Title",
            "text": "\n".join(lines),
            "font": "quicksand",
            "size": _r(size),
            "x": _r(cx),
            "y": _r(top + th / 2),
            "line_height": 1.05,
            "fill": _fill("#fff4fd"),
            "outline": {"width": _r(0.035 * size), "colour": pink},
            "glow": {"radius": _r(0.14 * size), "colour": pink, "strength": 2.2},
            "max_width": _r(0.86 * s),
        }
    )
    if script:
        layers.append(
            {
                "type": "text",
                "id": "script",
                "name": "Script line",
                "text": script,
                "font": "kaushan-script",
                "size": _r(script_size),
                "x": _r(cx),
                "y": _r(top + th + gap + script_h / 2),
                "rotation": -4.0,
                "fill": _fill("#effdff"),
                "outline": {"width": _r(0.03 * script_size), "colour": cyan},
                "glow": {"radius": _r(0.14 * script_size), "colour": cyan, "strength": 2.2},
                "max_width": _r(0.8 * s),
            }
        )
    return layers


def _watercolour(phrase: str, canvas: Canvas) -> list[Spec]:
    w, h = canvas.width, canvas.height
    s = min(w, h)
    cx, cy = w / 2, h / 2
    lines = split_lines(phrase, ideal=12, max_lines=4)
    m = _measure("dancing-script", lines, line_height=1.05)
    size = _fit(m, 0.8 * s, 0.42 * s)
    washes = [
        ("wash-blue", "#8ecae6", -0.12, -0.05, 0.58, 0.5, 31),
        ("wash-peach", "#ffb4a2", 0.14, 0.06, 0.52, 0.46, 32),
        ("wash-lilac", "#cdb4db", 0.0, 0.16, 0.44, 0.34, 33),
    ]
    layers: list[Spec] = [
        {
            "type": "shape",
            "id": key,
            "name": "Watercolour wash",
            "shape": "ellipse",
            "x": _r(cx + fx * s),
            "y": _r(cy + fy * s),
            "width": _r(fw * s),
            "height": _r(fh * s),
            "fill": _fill(colour),
            "texture": {"kind": "watercolour", "strength": 0.85, "scale": 2.0, "seed": seed},
        }
        for key, colour, fx, fy, fw, fh, seed in washes
    ]
    layers.append(
        {
            "type": "text",
            "id": "title",
            "name": "Title",
            "text": "\n".join(lines),
            "font": "dancing-script",
            "size": _r(size),
            "x": _r(cx),
            "y": _r(cy),
            "line_height": 1.05,
            "fill": _fill("#2d2a4a"),
            "texture": {"kind": "paper", "strength": 0.5, "scale": 1.0, "seed": 34},
            "max_width": _r(0.88 * s),
        }
    )
    return layers


def _halftone_pop(phrase: str, canvas: Canvas) -> list[Spec]:
    w, h = canvas.width, canvas.height
    s = min(w, h)
    cx, cy = w / 2, h / 2
    lines = split_lines(phrase.upper(), ideal=10, max_lines=4)
    m = _measure("league-spartan", lines, line_height=1.0)
    size = _fit(m, 0.66 * s, 0.36 * s, stroke_em=0.08)
    return [
        {
            "type": "shape",
            "id": "dots",
            "name": "Halftone dots",
            "shape": "ellipse",
            "x": _r(cx + 0.03 * s),
            "y": _r(cy + 0.03 * s),
            "width": _r(0.88 * s),
            "height": _r(0.88 * s),
            "fill": _fill("#00b4d8"),
            "texture": {"kind": "halftone", "strength": 0.9, "scale": 2.5, "seed": 0},
        },
        {
            "type": "shape",
            "id": "burst",
            "name": "Burst",
            "shape": "star",
            "count": 18,
            "inner_ratio": 0.8,
            "x": _r(cx),
            "y": _r(cy),
            "width": _r(0.86 * s),
            "height": _r(0.78 * s),
            "fill": _fill("#ffd60a"),
            "outline": {"width": _r(0.012 * s), "colour": "#111111"},
        },
        {
            "type": "text",
            "id": "title",
            "name": "Title",
            "text": "\n".join(lines),
            "font": "league-spartan",
            "size": _r(size),
            "x": _r(cx),
            "y": _r(cy),
            "rotation": -5.0,
            "uppercase": True,
            "line_height": 1.0,
            "fill": _fill("#ff4d5a", "#d62839"),
            "outline": {"width": _r(0.04 * size), "colour": "#111111"},
            "shadow": {"dx": _r(0.06 * size), "dy": _r(0.06 * size), "colour": "#111111"},
            "max_width": _r(0.74 * s),
        },
    ]


def _typewriter(phrase: str, canvas: Canvas) -> list[Spec]:
    w, h = canvas.width, canvas.height
    s = min(w, h)
    cx, cy = w / 2, h / 2
    ink = "#1c1c1c"
    lines = split_lines(phrase.lower(), ideal=16, max_lines=5)
    m = _measure("courier-prime", lines, line_height=1.3)
    size = _fit(m, 0.7 * s, 0.4 * s)
    tw, th = m.width * size, m.height * size
    speckle = {"kind": "speckle", "strength": 0.7, "scale": 1.0}
    return [
        {
            "type": "shape",
            "id": "label",
            "name": "Label",
            "shape": "rectangle",
            "x": _r(cx),
            "y": _r(cy),
            "width": _r(tw + 0.14 * s),
            "height": _r(th + 0.14 * s),
            "outline": {"width": _r(0.008 * s), "colour": ink},
            "texture": {**speckle, "seed": 41},
        },
        {
            "type": "text",
            "id": "title",
            "name": "Title",
            "text": "\n".join(lines),
            "font": "courier-prime",
            "size": _r(size),
            "x": _r(cx),
            "y": _r(cy),
            "align": "left",
            "line_height": 1.3,
            "fill": _fill(ink),
            "texture": {**speckle, "seed": 42},
            "max_width": _r(0.8 * s),
        },
    ]


PRESETS: dict[str, Preset] = {
    preset.key: preset
    for preset in (
        Preset(
            "retro-sunset",
            "Retro sunset",
            "A gradient sun cut by widening stripes behind heavy condensed type with a gradient "
            "fill, dark outline and hard drop shadow.",
            _retro_sunset,
        ),
        Preset(
            "vintage-distressed",
            "Vintage distressed",
            "A worn badge: rings, arched slab lettering, stars and a ribbon with script, all eaten "
            "by a distress texture in a muted palette.",
            _vintage_distressed,
        ),
        Preset(
            "minimalist-line",
            "Minimalist line",
            "Light, widely tracked capitals between thin rules under a monoline circle.",
            _minimalist_line,
        ),
        Preset(
            "bold-varsity",
            "Bold varsity",
            "Collegiate slab lettering, arched on top, with a double outline, athletic stripes "
            "and stars.",
            _bold_varsity,
        ),
        Preset(
            "kawaii",
            "Kawaii",
            "Rounded pastel lettering with a puffy double outline and soft shadow among sparkles "
            "and dots.",
            _kawaii,
        ),
        Preset(
            "grunge",
            "Grunge",
            "Tilted bone-white capitals worn by a grunge texture on a rough red paint block with "
            "ink splatter.",
            _grunge,
        ),
        Preset(
            "neon-glow",
            "Neon glow",
            "Rounded tube lettering with coloured outlines and glow, a script last word, in a "
            "glowing frame.",
            _neon_glow,
        ),
        Preset(
            "watercolour",
            "Watercolour",
            "Script lettering on overlapping watercolour washes with bloomed, pigment-rimmed "
            "edges.",
            _watercolour,
        ),
        Preset(
            "halftone-pop",
            "Halftone pop",
            "Comic-book capitals on a starburst over a halftone dot field.",
            _halftone_pop,
        ),
        Preset(
            "typewriter",
            "Typewriter",
            "Lower-case typewriter lines in a speckled, ink-worn label.",
            _typewriter,
        ),
    )
}


def build_design(preset_key: str, phrase: str, *, canvas: Canvas | None = None) -> DesignDocument:
    """A design document of `phrase` in the preset's style, on `canvas` (default 4500×5400).

    Raises UnknownPreset for a key that is not in PRESETS and InvalidPhrase for an empty or
    over-long phrase.
    """
    preset = PRESETS.get(preset_key)
    if preset is None:
        raise UnknownPreset(preset_key)
    text = normalise_phrase(phrase)
    canvas = canvas or Canvas()
    layers = preset.build(text, canvas)
    return DesignDocument.model_validate(
        {"canvas": canvas.model_dump(), "preset": preset.key, "layers": layers}
    )

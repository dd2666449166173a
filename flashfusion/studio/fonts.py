"""The fonts bundled with FlashFusion, and cached access to them.

Every font here is an unmodified file from a Debian package, shipped beside its licence (see
`fonts/SOURCES.md`). A design names fonts by key (`bebas-neue`), never by path, so documents stay
portable and the renderer can refuse anything that is not bundled.
"""

import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path(__file__).parent / "fonts"

Role = Literal["display", "condensed", "sans", "rounded", "script", "slab", "mono"]


@dataclass(frozen=True)
class FontInfo:
    """One bundled font file and where it came from."""

    key: str
    family: str  # as the file's own name table spells it
    style: str
    file: str  # file name inside FONT_DIR
    role: Role
    licence: str  # SPDX identifier
    licence_files: tuple[str, ...]  # file names inside FONT_DIR
    source: str  # Debian package and version the file was copied from

    @property
    def path(self) -> Path:
        return FONT_DIR / self.file

    @property
    def licence_paths(self) -> tuple[Path, ...]:
        return tuple(FONT_DIR / name for name in self.licence_files)


def _ofl(
    key: str,
    family: str,
    style: str,
    file: str,
    role: Role,
    stem: str,
    source: str,
    *extra_licence_files: str,
) -> FontInfo:
    """An OFL font; its licence is the Debian package's copyright file (the OFL text inside)."""
    licence_files = (f"{stem}-COPYRIGHT.txt", *extra_licence_files)
    return FontInfo(key, family, style, file, role, "OFL-1.1", licence_files, source)


FONTS: dict[str, FontInfo] = {
    info.key: info
    for info in (
        _ofl(
            "bebas-neue",
            "Bebas Neue",
            "Bold",
            "BebasNeue-Bold.otf",
            "condensed",
            "BebasNeue",
            "Debian fonts-bebas-neue 3.0-2",
        ),
        _ofl(
            "league-spartan",
            "League Spartan",
            "Black",
            "LeagueSpartan-Black.otf",
            "display",
            "LeagueSpartan",
            "Debian fonts-league-spartan 2.210-1",
        ),
        _ofl(
            "yanone-kaffeesatz",
            "Yanone Kaffeesatz",
            "Bold",
            "YanoneKaffeesatz-Bold.otf",
            "condensed",
            "YanoneKaffeesatz",
            "Debian fonts-yanone-kaffeesatz 2.0+git20211102+ds-1",
        ),
        _ofl(
            "lato-light",
            "Lato",
            "Light",
            "Lato-Light.ttf",
            "sans",
            "Lato",
            "Debian fonts-lato 2.0-2.1",
        ),
        _ofl(
            "comfortaa",
            "Comfortaa",
            "Bold",
            "Comfortaa-Bold.ttf",
            "rounded",
            "Comfortaa",
            "Debian fonts-comfortaa 3.001-3",
            "Comfortaa-OFL.txt",  # the package also ships the upstream OFL.txt
        ),
        _ofl(
            "quicksand",
            "Quicksand Medium",
            "Regular",
            "Quicksand-Medium.ttf",
            "rounded",
            "Quicksand",
            "Debian fonts-quicksand 0.2016-2.1",
        ),
        # The Debian file's name table calls itself "Lobster Two Bold Italic", but the glyphs
        # are Lobster 2.0 (the package's own description); we keep the name table's spelling.
        _ofl(
            "lobster",
            "Lobster Two",
            "Bold Italic",
            "Lobster.otf",
            "script",
            "Lobster",
            "Debian fonts-lobster 2.0-2.1",
        ),
        _ofl(
            "dancing-script",
            "Dancing Script",
            "Bold",
            "DancingScript-Bold.otf",
            "script",
            "DancingScript",
            "Debian fonts-dancingscript 1.2-2",
        ),
        _ofl(
            "kaushan-script",
            "Kaushan Script",
            "Regular",
            "KaushanScript-Regular.otf",
            "script",
            "KaushanScript",
            "Debian fonts-kaushanscript 1.02-2.1",
        ),
        _ofl(
            "leckerli-one",
            "Leckerli One",
            "Regular",
            "LeckerliOne-Regular.ttf",
            "script",
            "LeckerliOne",
            "Debian fonts-leckerli-one 20120409-1",
        ),
        FontInfo(
            "roboto-slab",
            "Roboto Slab",
            "Bold",
            "RobotoSlab-Bold.otf",
            "slab",
            "Apache-2.0",
            ("RobotoSlab-COPYRIGHT.txt", "RobotoSlab-Apache-2.0.txt"),
            "Debian fonts-roboto-slab 1.100263+20170512-2",
        ),
        # The file's name table says "Light" although it is the package's Bold cut.
        _ofl(
            "courier-prime",
            "Courier Prime",
            "Light",
            "CourierPrime-Bold.otf",
            "mono",
            "CourierPrime",
            "Debian fonts-courier-prime 0+git20190115-3",
        ),
    )
}


class UnknownFont(LookupError):
    """A font key that is not bundled; the message lists the ones that are."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"font {key!r} is not bundled; use one of: {', '.join(sorted(FONTS))}")

    def __str__(self) -> str:
        return str(self.args[0])


def font_info(key: str) -> FontInfo:
    """The bundled font with this key, or `UnknownFont`."""
    try:
        return FONTS[key]
    except KeyError:
        raise UnknownFont(key) from None


@lru_cache(maxsize=512)
def _load(key: str, size_centi: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS[key].path), size_centi / 100)


def get_font(key: str, size_px: float) -> ImageFont.FreeTypeFont:
    """The font at `size_px` (em height in output pixels), cached per 1/100 px."""
    font_info(key)
    # FreeType needs at least a pixel; sub-pixel text is skipped by the renderer anyway.
    return _load(key, max(100, round(size_px * 100)))


def _cmap_codepoints(data: bytes) -> frozenset[int]:
    """Code points mapped by an sfnt (TTF/OTF) file's best Unicode cmap subtable."""
    num_tables = struct.unpack_from(">H", data, 4)[0]
    cmap_offset = None
    for i in range(num_tables):
        tag, _checksum, offset, _length = struct.unpack_from(">4sIII", data, 12 + 16 * i)
        if tag == b"cmap":
            cmap_offset = offset
    if cmap_offset is None:
        return frozenset()
    _version, count = struct.unpack_from(">HH", data, cmap_offset)
    subtables: dict[int, int] = {}
    for i in range(count):
        platform, encoding, offset = struct.unpack_from(">HHI", data, cmap_offset + 4 + 8 * i)
        if (platform, encoding) in {(3, 10), (0, 4), (0, 6)}:
            subtables.setdefault(12, cmap_offset + offset)
        elif (platform, encoding) in {(3, 1), (0, 3), (0, 1), (0, 0)}:
            subtables.setdefault(4, cmap_offset + offset)
    for wanted in (12, 4):
        start = subtables.get(wanted)
        if start is None:
            continue
        fmt = struct.unpack_from(">H", data, start)[0]
        if fmt == 12:
            return _cmap12(data, start)
        if fmt == 4:
            return _cmap4(data, start)
    return frozenset()


def _cmap4(data: bytes, start: int) -> frozenset[int]:
    seg_x2 = struct.unpack_from(">H", data, start + 6)[0]
    segs = seg_x2 // 2
    ends = struct.unpack_from(f">{segs}H", data, start + 14)
    starts = struct.unpack_from(f">{segs}H", data, start + 16 + seg_x2)
    deltas = struct.unpack_from(f">{segs}h", data, start + 16 + 2 * seg_x2)
    range_base = start + 16 + 3 * seg_x2
    offsets = struct.unpack_from(f">{segs}H", data, range_base)
    points: set[int] = set()
    for i in range(segs):
        for code in range(starts[i], ends[i] + 1):
            if code == 0xFFFF:
                continue
            if offsets[i] == 0:
                glyph = (code + deltas[i]) & 0xFFFF
            else:
                at = range_base + 2 * i + offsets[i] + 2 * (code - starts[i])
                glyph = struct.unpack_from(">H", data, at)[0]
                if glyph:
                    glyph = (glyph + deltas[i]) & 0xFFFF
            if glyph:
                points.add(code)
    return frozenset(points)


def _cmap12(data: bytes, start: int) -> frozenset[int]:
    groups = struct.unpack_from(">I", data, start + 12)[0]
    points: set[int] = set()
    for i in range(groups):
        first, last, glyph = struct.unpack_from(">III", data, start + 16 + 12 * i)
        points.update(range(first, last + 1) if glyph else range(first + 1, last + 1))
    return frozenset(points)


@lru_cache(maxsize=64)
def codepoints(key: str) -> frozenset[int]:
    """Every character the font has a glyph for."""
    return _cmap_codepoints(font_info(key).path.read_bytes())


def missing_chars(key: str, text: str) -> list[str]:
    """The distinct printable characters of `text` the font has no glyph for, in text order."""
    have = codepoints(key)
    missing: list[str] = []
    for char in text:
        if char.isspace() or ord(char) in have or char in missing:
            continue
        missing.append(char)
    return missing


@lru_cache(maxsize=64)
def stem_em(key: str) -> float:
    """Thickness of the font's vertical stem ("l", else "I"), as a share of the em.

    Print validation needs the thinnest stroke a text layer paints; the stem is a fair proxy
    for the font's strokes without tracing every outline.
    """
    size = 400
    font = get_font(key, size)
    have = codepoints(key)
    char = "l" if ord("l") in have else "I"
    left, top, right, bottom = font.getbbox(char, anchor="ls")
    width, height = int(right - left) + 4, int(bottom - top) + 4
    image = Image.new("L", (width, height))
    ImageDraw.Draw(image).text((2 - left, 2 - top), char, font=font, fill=255, anchor="ls")
    row = image.crop((0, height // 2, width, height // 2 + 1)).tobytes()
    ink = sum(value for value in row) / 255
    return ink / size

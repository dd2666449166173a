"""The bundled fonts: each loads, renders A–Z, and travels with its licence and its source."""

from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from flashfusion.studio import fonts
from flashfusion.studio.fonts import FONT_DIR, FONTS, UnknownFont, get_font, missing_chars

UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ROLES_NEEDED = {"condensed", "display", "script", "rounded", "sans", "slab", "mono"}


def test_between_eight_and_twelve_fonts_cover_every_role() -> None:
    assert 8 <= len(FONTS) <= 12
    assert {info.role for info in FONTS.values()} == ROLES_NEEDED
    assert all(key == info.key for key, info in FONTS.items())


def test_no_font_file_is_bundled_without_an_entry() -> None:
    files = {p.name for p in FONT_DIR.iterdir() if p.suffix in {".ttf", ".otf"}}
    assert files == {info.file for info in FONTS.values()}


def test_total_size_is_modest() -> None:
    total = sum(p.stat().st_size for p in FONT_DIR.iterdir())
    assert total < 3_000_000


@pytest.mark.parametrize("key", sorted(FONTS))
def test_font_loads_with_its_own_family_name(key: str) -> None:
    info = FONTS[key]
    font = get_font(key, 64)
    assert font.getname() == (info.family, info.style)


@pytest.mark.parametrize("key", sorted(FONTS))
def test_font_renders_every_capital(key: str) -> None:
    assert missing_chars(key, UPPER + UPPER.lower() + "0123456789") == []
    font = get_font(key, 48)
    for letter in UPPER:
        image = Image.new("L", (120, 120))
        ImageDraw.Draw(image).text((20, 90), letter, font=font, fill=255, anchor="ls")
        assert image.getbbox() is not None, letter


@pytest.mark.parametrize("key", sorted(FONTS))
def test_font_has_its_licence_and_source(key: str) -> None:
    info = FONTS[key]
    assert info.licence in {"OFL-1.1", "Apache-2.0"}
    assert info.licence_paths
    texts = [p.read_text(encoding="utf-8") for p in info.licence_paths]
    if info.licence == "OFL-1.1":
        # The Debian copyright file names the licence and carries its full text.
        assert any(
            "License: OFL-1.1" in t
            and "Open Font License (OFL)" in t
            and "PERMISSION & CONDITIONS" in t
            for t in texts
        )
    else:
        assert any("Apache License" in t and "Version 2.0" in t for t in texts)
    assert info.source.startswith("Debian fonts-")
    sources = (FONT_DIR / "SOURCES.md").read_text(encoding="utf-8")
    package, version = info.source.removeprefix("Debian ").split(" ")
    assert f"`{info.file}`" in sources
    assert f"`{package}` {version}" in sources
    for name in info.licence_files:
        assert f"`{name}`" in sources


def test_every_licence_file_belongs_to_a_font() -> None:
    listed = {name for info in FONTS.values() for name in info.licence_files}
    present = {p.name for p in FONT_DIR.iterdir() if p.suffix == ".txt"}
    assert present == listed


def test_get_font_is_cached_per_hundredth_of_a_pixel() -> None:
    assert get_font("lobster", 40) is get_font("lobster", 40.001)
    assert get_font("lobster", 40) is not get_font("lobster", 41)
    assert get_font("lobster", 40.5).size == 40.5


def test_get_font_clamps_sub_pixel_sizes_to_one_pixel() -> None:
    assert get_font("lato-light", 0.01).size == 1


def test_unknown_font_lists_the_bundled_ones() -> None:
    with pytest.raises(UnknownFont) as caught:
        get_font("comic-sans", 20)
    assert str(caught.value) == (
        "font 'comic-sans' is not bundled; use one of: bebas-neue, comfortaa, courier-prime, "
        "dancing-script, kaushan-script, lato-light, league-spartan, leckerli-one, lobster, "
        "quicksand, roboto-slab, yanone-kaffeesatz"
    )
    assert isinstance(caught.value, LookupError)


def test_missing_chars_lists_each_absent_character_once_in_order() -> None:
    assert missing_chars("bebas-neue", "✓ ok ✓ ☃ é") == ["✓", "☃"]
    assert missing_chars("bebas-neue", "  \n\t") == []


def test_cmap_reader_agrees_with_the_rasteriser() -> None:
    # A character the cmap lacks draws FreeType's .notdef box; one it has draws its own glyph.
    font = get_font("dancing-script", 40)

    def drawn(char: str) -> bytes:
        image = Image.new("L", (80, 80))
        ImageDraw.Draw(image).text((10, 60), char, font=font, fill=255, anchor="ls")
        return image.tobytes()

    assert ord("\u2603") not in fonts.codepoints("dancing-script")
    notdef = drawn("\u2603")
    assert drawn("\u2604") == notdef  # every absent character draws the same box
    for char in "Aé€":
        assert ord(char) in fonts.codepoints("dancing-script")
        assert drawn(char) != notdef


def test_stem_thickness_tracks_weight() -> None:
    light, black = fonts.stem_em("lato-light"), fonts.stem_em("league-spartan")
    assert 0.02 < light < 0.08
    assert 0.15 < black < 0.3
    assert light < black


def test_font_paths_point_inside_the_package() -> None:
    for info in FONTS.values():
        assert info.path.parent == FONT_DIR
        assert Path(info.path).is_file()

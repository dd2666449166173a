"""Style presets: editable, deterministic documents; distinct looks; golden images."""

import itertools
import os
import re

import numpy as np
import pytest
from PIL import Image

from flashfusion.studio.document import Canvas, DesignDocument, ShapeLayer, TextLayer
from flashfusion.studio.presets import (
    PRESETS,
    InvalidPhrase,
    UnknownPreset,
    build_design,
    normalise_phrase,
    split_lines,
)
from flashfusion.studio.render import check_document, content_bbox, render
from tests.studio.regen_golden import GOLDEN_PHRASE, golden_path, golden_render

REQUIRED = [
    "retro-sunset",
    "vintage-distressed",
    "minimalist-line",
    "bold-varsity",
    "kawaii",
    "grunge",
    "neon-glow",
    "watercolour",
]
PHRASES = ["Hi", GOLDEN_PHRASE, "Life is better when you are laughing with friends at the beach"]
REGEN = os.environ.get("FLASHFUSION_REGEN_GOLDEN") == "1"

# Mean absolute difference per channel (0-255) a golden image may drift by: room for FreeType or
# zlib builds that antialias a little differently, far below any visible change.
GOLDEN_TOLERANCE = 1.5


def _words(doc: DesignDocument) -> list[str]:
    return [
        word
        for layer in doc.layers
        if isinstance(layer, TextLayer)
        for word in re.split(r"\s+", layer.text.strip())
    ]


def test_presets_include_the_eight_the_studio_promises() -> None:
    assert list(PRESETS)[:8] == REQUIRED
    assert len(PRESETS) >= 8
    for key, preset in PRESETS.items():
        assert preset.key == key
        assert preset.name
        assert len(preset.description) > 30


@pytest.mark.parametrize("key", list(PRESETS))
@pytest.mark.parametrize("phrase", PHRASES)
def test_preset_builds_a_valid_document_that_uses_the_phrase(key: str, phrase: str) -> None:
    doc = build_design(key, phrase)
    assert doc.preset == key
    assert (doc.canvas.width, doc.canvas.height) == (4500, 5400)
    assert doc.canvas.background is None
    # Every word of the phrase appears, in order, and nothing is made up.
    assert [w.lower() for w in _words(doc)] == phrase.lower().split()
    assert check_document(doc) == []
    # Round-trips through JSON like a stored design version.
    assert DesignDocument.model_validate_json(doc.model_dump_json()) == doc


@pytest.mark.parametrize("key", list(PRESETS))
def test_preset_design_sits_inside_the_canvas_with_a_margin(key: str) -> None:
    for phrase in PHRASES:
        doc = build_design(key, phrase)
        bbox = content_bbox(doc)
        assert bbox is not None
        x0, y0, x1, y1 = bbox
        assert x0 > 20, phrase
        assert y0 > 20, phrase
        assert x1 < 4480, phrase
        assert y1 < 5380, phrase


@pytest.mark.parametrize("key", list(PRESETS))
def test_preset_text_layers_fit_their_max_width(key: str) -> None:
    doc = build_design(key, "Supercalifragilistic expialidocious adventures")
    result = render(doc, scale=0.1)
    for layer, metrics in zip(doc.layers, result.layers, strict=True):
        if isinstance(layer, TextLayer):
            assert metrics.bbox is not None
            assert metrics.text_px is not None
            assert metrics.text_px <= layer.size


@pytest.mark.parametrize("key", list(PRESETS))
def test_preset_is_deterministic(key: str) -> None:
    assert build_design(key, GOLDEN_PHRASE) == build_design(key, GOLDEN_PHRASE)
    first, second = golden_render(key), golden_render(key)
    assert np.abs(np.asarray(first, np.int32) - np.asarray(second, np.int32)).max() == 0


@pytest.mark.parametrize("key", list(PRESETS))
def test_preset_matches_its_golden_image(key: str) -> None:
    path = golden_path(key)
    image = golden_render(key)
    if REGEN:
        image.save(path, optimize=True)
    assert path.is_file(), f"missing {path}; run python tests/studio/regen_golden.py"
    golden = Image.open(path)
    assert golden.mode == "RGBA"
    assert golden.size == image.size == (240, 288)
    diff = np.abs(np.asarray(image, np.int32) - np.asarray(golden, np.int32))
    assert diff.mean() < GOLDEN_TOLERANCE, (
        f"{key} drifted from its golden image (mean diff {diff.mean():.2f}); if the change is "
        "intended, run python tests/studio/regen_golden.py and look at the new images"
    )


def test_presets_render_distinctly_different_images() -> None:
    flattened = {}
    for key in PRESETS:
        image = golden_render(key)
        grey = Image.new("RGBA", image.size, (128, 128, 128, 255))
        grey.alpha_composite(image)
        painted = np.asarray(image.getchannel("A")) > 0
        flattened[key] = (np.asarray(grey.convert("RGB"), np.int32), painted)
    for a, b in itertools.combinations(PRESETS, 2):
        (pixels_a, painted_a), (pixels_b, painted_b) = flattened[a], flattened[b]
        union = painted_a | painted_b
        # Compared where either paints, so sparse styles are not "similar" by sharing blank space.
        difference = np.abs(pixels_a - pixels_b)[union].mean()
        assert difference > 30, (a, b, difference)


def test_presets_are_not_colour_swaps() -> None:
    # Distinct structure: the set of (layer kind, font or shape, texture) differs for every pair.
    def structure(key: str) -> frozenset[tuple[str, str, str]]:
        doc = build_design(key, GOLDEN_PHRASE)
        parts = set()
        for layer in doc.layers:
            what = layer.font if isinstance(layer, TextLayer) else getattr(layer, "shape", "")
            parts.add((layer.type, what, layer.texture.kind if layer.texture else ""))
        return frozenset(parts)

    shapes = {key: structure(key) for key in PRESETS}
    for a, b in itertools.combinations(PRESETS, 2):
        assert shapes[a] != shapes[b], (a, b)


def test_presets_use_the_effects_they_promise() -> None:
    def layers(key: str) -> list[TextLayer | ShapeLayer]:
        return [
            layer
            for layer in build_design(key, GOLDEN_PHRASE).layers
            if isinstance(layer, TextLayer | ShapeLayer)
        ]

    sunset = layers("retro-sunset")
    assert any(
        isinstance(la, ShapeLayer) and la.shape == "stripes" and la.blend == "erase"
        for la in sunset
    )
    assert any(
        isinstance(la, TextLayer) and la.fill.kind == "linear" and la.outline for la in sunset
    )
    vintage = layers("vintage-distressed")
    assert any(isinstance(la, TextLayer) and la.arc > 0 for la in vintage)
    assert all(la.texture and la.texture.kind == "distress" for la in vintage)
    varsity = [la for la in layers("bold-varsity") if isinstance(la, TextLayer)]
    assert all(la.outline and la.outline2 for la in varsity)
    assert any(la.arc > 0 for la in varsity)
    kawaii = layers("kawaii")
    assert any(isinstance(la, ShapeLayer) and la.shape == "star" and la.count == 4 for la in kawaii)
    assert any(isinstance(la, TextLayer) and la.font == "comfortaa" and la.shadow for la in kawaii)
    grunge = layers("grunge")
    assert any(isinstance(la, ShapeLayer) and la.shape == "splatter" for la in grunge)
    assert any(isinstance(la, TextLayer) and la.rotation and la.texture for la in grunge)
    neon = layers("neon-glow")
    assert all(la.glow for la in neon)
    watercolour = layers("watercolour")
    assert sum(1 for la in watercolour if la.texture and la.texture.kind == "watercolour") >= 2
    minimal = layers("minimalist-line")
    assert any(isinstance(la, ShapeLayer) and la.shape == "line" for la in minimal)
    assert any(isinstance(la, TextLayer) and la.letter_spacing >= 0.2 for la in minimal)


def test_short_phrases_run_bigger_than_long_ones() -> None:
    for key in PRESETS:
        short = [la for la in build_design(key, "Hi").layers if isinstance(la, TextLayer)]
        long = [la for la in build_design(key, PHRASES[2]).layers if isinstance(la, TextLayer)]
        assert max(la.size for la in short) > max(la.size for la in long), key


def test_presets_adapt_to_other_canvases() -> None:
    canvas = Canvas(width=3000, height=3000)
    for key in PRESETS:
        doc = build_design(key, GOLDEN_PHRASE, canvas=canvas)
        assert doc.canvas == canvas
        bbox = content_bbox(doc)
        assert bbox is not None
        assert bbox[0] > 0, key
        assert bbox[2] < 3000, key
        assert (bbox[0] + bbox[2]) / 2 == pytest.approx(1500, abs=150), key


def test_unknown_preset_lists_the_valid_keys() -> None:
    with pytest.raises(UnknownPreset) as caught:
        build_design("vaporwave", "hello")
    assert str(caught.value) == (
        "preset 'vaporwave' does not exist; use one of: retro-sunset, vintage-distressed, "
        "minimalist-line, bold-varsity, kawaii, grunge, neon-glow, watercolour, halftone-pop, "
        "typewriter"
    )
    assert isinstance(caught.value, LookupError)


@pytest.mark.parametrize(
    ("phrase", "message"),
    [
        ("", "phrase is empty; type at least one word"),
        ("  \n \t ", "phrase is empty; type at least one word"),
        ("x" * 501, "phrase is 501 characters; shorten it to at most 500"),
        ("\n".join("ab" for _ in range(13)), "phrase has 13 lines; use at most 12"),
    ],
)
def test_bad_phrases_are_refused_with_the_fix(phrase: str, message: str) -> None:
    with pytest.raises(InvalidPhrase) as caught:
        build_design("kawaii", phrase)
    assert str(caught.value) == message
    assert caught.value.field == "phrase"


def test_phrase_that_is_not_text_is_refused() -> None:
    with pytest.raises(InvalidPhrase, match="phrase must be text"):
        normalise_phrase(42)  # type: ignore[arg-type]


def test_phrase_whitespace_is_tidied_and_line_breaks_kept() -> None:
    assert normalise_phrase("  stay   wild \r\n\n  moon  child ") == "stay wild\nmoon child"
    doc = build_design("minimalist-line", "stay\nwild moon child")
    title = doc.layer("title")
    assert isinstance(title, TextLayer)
    assert title.text == "STAY\nWILD MOON CHILD"


@pytest.mark.parametrize(
    ("phrase", "ideal", "lines"),
    [
        ("Hi", 10, ["Hi"]),
        ("Good vibes", 10, ["Good vibes"]),
        ("Stay Wild Moon Child", 11, ["Stay Wild", "Moon Child"]),
        ("Good vibes only", 10, ["Good vibes", "only"]),
        (
            "Life is better when you are laughing with friends at the beach",
            11,
            ["Life is better when", "you are laughing", "with friends", "at the beach"],
        ),
        ("Supercalifragilistic", 8, ["Supercalifragilistic"]),
        ("one\ntwo three", 3, ["one", "two three"]),
    ],
)
def test_split_lines_balances_and_wraps(phrase: str, ideal: int, lines: list[str]) -> None:
    assert split_lines(phrase, ideal=ideal, max_lines=3) == lines

"""Rewrite the preset golden images: `python tests/studio/regen_golden.py` (or run the preset tests
with FLASHFUSION_REGEN_GOLDEN=1). Do it only when a preset or the renderer changed on purpose, and
look at the new images before committing them."""

import sys
from pathlib import Path

from PIL import Image

if __package__ in {None, ""}:  # run as a script: make `flashfusion` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from flashfusion.studio.presets import PRESETS, build_design
from flashfusion.studio.render import render

GOLDEN_DIR = Path(__file__).parent / "golden"
GOLDEN_PHRASE = "Stay Wild Moon Child"
GOLDEN_WIDTH = 240  # of the default 4500 × 5400 canvas: 240 × 288 px


def golden_render(key: str) -> Image.Image:
    """The preset's design of GOLDEN_PHRASE, rendered small."""
    doc = build_design(key, GOLDEN_PHRASE)
    return render(doc, scale=GOLDEN_WIDTH / doc.canvas.width).image


def golden_path(key: str) -> Path:
    return GOLDEN_DIR / f"{key}.png"


def regenerate() -> list[Path]:
    """Write every preset's golden image; returns the paths written."""
    GOLDEN_DIR.mkdir(exist_ok=True)
    written = []
    for key in PRESETS:
        path = golden_path(key)
        golden_render(key).save(path, optimize=True)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in regenerate():
        sys.stdout.write(f"wrote {path} ({path.stat().st_size} bytes)\n")

"""`flashfusion studio …`: print files and mockups from a phrase, offline. Every failure is one
`Error: …` line that says what to do, exit code 1, never a traceback."""

import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from flashfusion.catalog.registry import get_product_type
from flashfusion.cli import app
from flashfusion.studio.presets import PRESETS, build_design

runner = CliRunner()
WIDE = {"COLUMNS": "250"}


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["studio", *args], env=WIDE)
    return result.exit_code, result.stdout, result.stderr


def failed(*args: str) -> str:
    code, stdout, stderr = run(*args)
    assert code == 1, (code, stdout, stderr)
    assert "Traceback" not in stdout + stderr
    assert stderr.startswith("Error: "), stderr
    return " ".join(stderr.split())


def test_render_writes_exact_print_files_and_mockups(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = run(
        "render",
        "--phrase",
        "Stay Wild",
        "--preset",
        "retro-sunset",
        "--products",
        "tshirt,mug",
        "--out",
        str(out),
    )
    assert code == 0, (stdout, stderr)
    assert "Traceback" not in stdout + stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["phrase"], manifest["preset"]) == ("Stay Wild", "retro-sunset")
    prints = sorted(
        (m["file"], m["product_type"], m["area"], m["width"], m["height"], m["dpi"])
        for m in manifest["files"]
        if m["kind"] == "print_file"
    )
    # Every shirt variant shares the front print file; the 11 oz mug (the `mug` alias) its wrap.
    assert prints == [
        ("mug-11oz/default-2700x1050.png", "mug-11oz", "default", 2700, 1050, 300),
        ("tshirt/front-1800x2400.png", "tshirt", "front", 1800, 2400, 150),
    ]
    tshirt = get_product_type("tshirt")
    [front] = [m for m in manifest["files"] if m["file"] == "tshirt/front-1800x2400.png"]
    assert front["variants"] == [v.key for v in tshirt.variants]
    for file, _, _, width, height, dpi in prints:
        image = Image.open(out / file)
        assert (image.format, image.mode, image.size) == ("PNG", "RGBA", (width, height))
        assert tuple(round(v) for v in image.info["dpi"]) == (dpi, dpi)
        assert image.getpixel((0, 0))[3] == 0
    mockups = [m for m in manifest["files"] if m["kind"] == "mockup"]
    assert {m["product_type"] for m in mockups} == {"tshirt", "mug-11oz"}
    for m in mockups:
        image = Image.open(out / m["file"])
        assert image.size == (m["width"], m["height"])
        assert m["file"].split("/")[1] == "mockups"
    # Nothing else was written.
    written = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert written == {m["file"] for m in manifest["files"]} | {"manifest.json", "design.json"}
    assert json.loads((out / "design.json").read_text()) == build_design(
        "retro-sunset", "Stay Wild"
    ).model_dump(mode="json")
    assert f"Wrote 2 print files and {len(mockups)} mockups to {out}" in " ".join(stdout.split())


def test_render_without_mockups(tmp_path: Path) -> None:
    code, stdout, stderr = run(
        "render", "--phrase", "Hi", "--products", "sticker", "--no-mockups", "--out", str(tmp_path)
    )
    assert code == 0, (stdout, stderr)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert {m["kind"] for m in manifest["files"]} == {"print_file"}
    sticker = get_product_type("sticker-kiss-cut")
    sizes = {
        (v.print_files["default"].width_px, v.print_files["default"].height_px)
        for v in sticker.variants
    }
    assert {(m["width"], m["height"]) for m in manifest["files"]} == sizes
    for m in manifest["files"]:
        assert Image.open(tmp_path / m["file"]).size == (m["width"], m["height"])
    # More render threads, the same files byte for byte, in the same order.
    threaded = tmp_path / "threaded"
    code, stdout, stderr = run(
        "render",
        "--phrase",
        "Hi",
        "--products",
        "sticker",
        "--no-mockups",
        "--threads",
        "2",
        "--out",
        str(threaded),
    )
    assert code == 0, (stdout, stderr)
    assert json.loads((threaded / "manifest.json").read_text())["files"] == manifest["files"]
    for m in manifest["files"]:
        assert (threaded / m["file"]).read_bytes() == (tmp_path / m["file"]).read_bytes()


def test_presets_and_catalog_are_listed() -> None:
    code, stdout, _ = run("presets")
    assert code == 0
    for preset in PRESETS.values():
        assert preset.key in stdout
    code, stdout, _ = run("catalog", "--category", "drinkware")
    assert code == 0
    assert "mug-11oz" in stdout
    assert "tshirt" not in stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--phrase", "Hi", "--preset", "disco"],
            "Error: --preset: preset 'disco' does not exist; use one of: retro-sunset,",
        ),
        (
            ["--phrase", "Hi", "--products", "tshirt,spaceship"],
            "Error: --products: unknown product type 'spaceship'",
        ),
        (["--phrase", "Hi", "--products", "t-shrit"], "did you mean 'tshirt'?"),
        (
            ["--phrase", "   "],
            'Error: --phrase is empty; type the text to design, e.g. --phrase "Stay Wild".',
        ),
        (["--phrase", "x" * 201], "Error: --phrase has 201 characters; use at most 200."),
        (
            ["--phrase", "Hi", "--products", " , "],
            "Error: --products is empty; give product type keys",
        ),
        (
            ["--phrase", "Hi", "--platform", "myspace"],
            "Error: --platform 'myspace' is unknown; use one of etsy, shopify, amazon, tiktok_shop.",
        ),
    ],
    ids=[
        "bad preset",
        "bad product",
        "typo",
        "empty phrase",
        "long phrase",
        "no products",
        "bad platform",
    ],
)
def test_bad_input_is_one_clear_error(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "out"
    assert message in failed("render", *args, "--out", str(out))
    assert not out.exists()


def test_out_must_be_a_directory(tmp_path: Path) -> None:
    file = tmp_path / "file.txt"
    file.write_text("x")
    message = failed("render", "--phrase", "Hi", "--products", "sticker", "--out", str(file))
    assert message == f"Error: --out {file} is a file; give a directory (it is created if missing)."

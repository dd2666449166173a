"""benchmarks/api_overhead.py end to end, tiny: it sets up, checks both servers return the same
body, measures, and prints every figure the docs quote."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "api_overhead.py"


@pytest.mark.slow
def test_api_overhead_prints_its_figures() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHFUSION_")}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--database", "sqlite", "--duration", "1", "--rounds", "1"]
        + ["--closed-loop", "python", "--rate", "20"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    assert "responses: identical JSON bodies (20 items, total_count 50 of 50 seeded)" in out
    for name in ("real", "bare", "orm"):
        assert re.search(
            rf"round 1  {name} +\d+\.\d req/s  p50 [\d.]+ ms  p99 [\d.]+ ms  errors 0  "
            r"server CPU [\d.]+ ms/request",
            out,
        ), out
    assert re.search(r"ratio real/bare \d\.\d\d \(per round: \d\.\d\d\)", out), out
    for name in ("real", "bare"):
        # 20 requests/s for 1 s: exactly 20 sent, all answered.
        assert re.search(rf"  {name}  sent 20  ok 20  errors 0  p50 [\d.]+ ms", out), out
    assert re.search(
        r"targets: throughput ratio >= 0\.7: (MET|MISSED) \(\d\.\d\d\); "
        r"real p99 < 50 ms at 20 req/s: (MET|MISSED) \([\d.]+ ms\); errors: 0",
        out,
    ), out
    assert re.search(r"sqlite +throughput real \d+ / bare \d+ req/s = \d\.\d\d", out), out


RENDER_SCRIPT = SCRIPT.parent / "render_catalog.py"


@pytest.mark.slow
def test_render_catalog_prints_its_figures() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHFUSION_")}
    done = subprocess.run(
        [sys.executable, str(RENDER_SCRIPT), "--products", "tshirt,sticker-kiss-cut"]
        + ["--preview-runs", "1", "--threads", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    assert "design: preset retro-sunset, phrase 'Stay Wild'; 2 product types" in out
    assert re.search(r"  tshirt +\d+ files +\d+ ms", out), out
    assert re.search(r"files: \d+ print files \+ \d+ mockups = \d+, [\d.]+ megapixels", out), out
    assert re.search(r"pipeline: total [\d.]+ s, per file \d+ ms", out), out
    assert re.search(
        r"floor \(Pillow PNG/JPEG encode of the same images, 2 thread\(s\)\): [\d.]+ s", out
    ), out
    assert re.search(r"ratio pipeline/floor \d+\.\d\d \(target <= 2\.0: (meets|misses)\)", out), out
    assert re.search(
        r"preview 600 px, \d+ presets x 1: p50 \d+ ms  p95 \d+ ms  max \d+ ms "
        r"\(target p95 < 300 ms: (meets|misses)\)",
        out,
    ), out


BATCH_SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "batch_generation.py"


@pytest.mark.slow
def test_batch_generation_prints_its_figures() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHFUSION_")}
    done = subprocess.run(
        [sys.executable, str(BATCH_SCRIPT), "--items", "16", "--latency", "0.02"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    assert "batch_generation: 16 listings, sandbox latency 20 ms, concurrency 8, SQLite" in out
    # 16 ideas: 16 provider requests (the warm-up's is not counted), all succeeded.
    assert re.search(
        r"first run   wall [\d.]+ s  ideal 0\.04 s  ratio [\d.]+ \(target >= 0\.85\)  "
        r"provider requests 16  status succeeded done 16 failed 0",
        out,
    ), out
    assert re.search(r"cached run  wall [\d.]+ s  [\d.]+ ms/item .* status succeeded done 16", out)
    assert re.search(r"AI layer cache hit [\d.]+ ms/request over 16 requests \(12 hits", out), out
    assert re.search(r"mean cost per listing \$0\.\d{6} over 17 generations", out), out

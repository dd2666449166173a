"""Render one design to every catalog product type's print files plus mockups.

    .venv/bin/python benchmarks/render_catalog.py [--preset retro-sunset] [--phrase "Stay Wild"]
                                                   [--products all] [--preview-runs 20]

Measures, in one run on this machine:

1. the pipeline: every distinct print file of every product type (exact pixel size, PNG with
   DPI) and each product type's listing images — total and per-file wall time;
2. the floor: Pillow encoding exactly the same images again as PNG with the same settings
   (the print files decoded from the pipeline's own output, so the pixels and their
   compressibility are identical) — what the pipeline would cost if drawing were free;
3. ratio = pipeline / floor (target <= 2.0);
4. preview renders: each preset re-rendered at the editor's preview size (600 px) --preview-runs
   times; p50 / p95 / max (target p95 < 300 ms).

Both are measured in the same process, one after the other, so machine noise hits both alike.
"""

import argparse
import io
import platform
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image  # noqa: E402

# The benchmark decodes its own (trusted, up to 116-megapixel) print files.
Image.MAX_IMAGE_PIXELS = None

from flashfusion.catalog.registry import get_catalog, get_product_type  # noqa: E402
from flashfusion.studio import pipeline  # noqa: E402
from flashfusion.studio.presets import PRESETS, build_design  # noqa: E402
from flashfusion.studio.printfile import encode_png  # noqa: E402
from flashfusion.studio.render import render  # noqa: E402

RATIO_TARGET = 2.0
PREVIEW_P95_TARGET_MS = 300.0
PREVIEW_SIZE = 600


def _encode(output: pipeline.OutputFile) -> float:
    image = Image.open(io.BytesIO(output.data))
    image.load()
    started = time.perf_counter()
    if output.content_type == "image/png":
        # The pipeline's own encoder settings (level, strategy, pHYs).
        encode_png(image, output.dpi or 72)
    else:
        image.save(io.BytesIO(), format="JPEG", quality=90, subsampling=0)
    return time.perf_counter() - started


def encode_floor(outputs: list[pipeline.OutputFile], threads: int) -> float:
    """Wall seconds Pillow needs to encode the same images in the same formats, on as many
    threads as the pipeline used (decoding is not counted; images are decoded one per thread
    at a time, since the whole catalog's pixels would not fit in memory at once)."""
    if threads <= 1:
        return sum(_encode(o) for o in outputs)
    # Wall time of encoding alone: each thread sums its own encode times, and the busiest
    # thread's sum is the least wall time the encodes could take side by side (a floor that
    # flatters nobody: it can only make the ratio larger).
    busy: dict[int, float] = {}
    lock = threading.Lock()

    def work(output: pipeline.OutputFile) -> None:
        spent = _encode(output)
        with lock:
            ident = threading.get_ident()
            busy[ident] = busy.get(ident, 0.0) + spent

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(work, outputs))
    return max(busy.values())


def preview_times(runs: int, phrase: str) -> list[float]:
    times = []
    for preset in PRESETS:
        document = build_design(preset, phrase)
        scale = PREVIEW_SIZE / max(document.canvas.width, document.canvas.height)
        render(document, scale=scale)  # warm the font and texture caches once
        for _ in range(runs):
            started = time.perf_counter()
            render(document, scale=scale)
            times.append((time.perf_counter() - started) * 1000)
    return times


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="retro-sunset")
    parser.add_argument("--phrase", default="Stay Wild")
    parser.add_argument("--products", default="all", help="comma-separated keys, or all")
    parser.add_argument("--no-mockups", action="store_true")
    parser.add_argument("--preview-runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2, help="render threads (and floor's)")
    args = parser.parse_args()

    catalog = get_catalog()
    keys = (
        list(catalog.product_types)
        if args.products == "all"
        else [get_product_type(k.strip()).key for k in args.products.split(",")]
    )
    document = build_design(args.preset, args.phrase)
    tasks = [pipeline.Task(product_type=catalog.product_types[k], variant_keys=[]) for k in keys]
    print(
        f"machine: {platform.machine()} {platform.python_implementation()} "
        f"{platform.python_version()}, catalog {catalog.version}"
    )
    print(f"design: preset {args.preset}, phrase {args.phrase!r}; {len(keys)} product types")

    per_type: dict[str, float] = {}
    outputs: list[pipeline.OutputFile] = []
    started = time.perf_counter()
    for task in tasks:
        type_started = time.perf_counter()
        outputs.extend(
            pipeline.run(document, [task], mockups=not args.no_mockups, threads=args.threads)
        )
        per_type[task.product_type.key] = time.perf_counter() - type_started
    total = time.perf_counter() - started

    prints = [o for o in outputs if o.kind == "print_file"]
    mockups = [o for o in outputs if o.kind == "mockup"]
    megapixels = sum(o.width * o.height for o in outputs) / 1e6
    for key, seconds in per_type.items():
        count = sum(1 for o in outputs if o.product_type == key)
        print(f"  {key:24s} {count:3d} files  {seconds * 1000:8.0f} ms")
    print(
        f"files: {len(prints)} print files + {len(mockups)} mockups = {len(outputs)}, "
        f"{megapixels:.1f} megapixels"
    )
    print(f"pipeline: total {total:.2f} s, per file {total / len(outputs) * 1000:.0f} ms")

    floor = encode_floor(outputs, args.threads)
    ratio = total / floor
    print(
        f"floor (Pillow PNG/JPEG encode of the same images, {args.threads} thread(s)): "
        f"{floor:.2f} s"
    )
    verdict = "meets" if ratio <= RATIO_TARGET else "misses"
    print(f"ratio pipeline/floor {ratio:.2f} (target <= {RATIO_TARGET:.1f}: {verdict})")

    times = preview_times(args.preview_runs, args.phrase)
    p95 = percentile(times, 0.95)
    print(
        f"preview {PREVIEW_SIZE} px, {len(PRESETS)} presets x {args.preview_runs}: "
        f"p50 {statistics.median(times):.0f} ms  p95 {p95:.0f} ms  max {max(times):.0f} ms "
        f"(target p95 < {PREVIEW_P95_TARGET_MS:.0f} ms: "
        f"{'meets' if p95 < PREVIEW_P95_TARGET_MS else 'misses'})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""From one design to every file a product needs: print files per area, then listing images.

Pure (no database): the render job, the CLI and the benchmark all run this.
"""

import io
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from PIL import Image

from flashfusion.catalog.schemas import PrintArea, PrintFile, ProductType
from flashfusion.studio.document import DesignDocument
from flashfusion.studio.mockup import listing_images
from flashfusion.studio.printfile import (
    EmptyDesignError,
    PlacementPlan,
    distinct_print_files,
    encode_png,
    painted_bbox,
    plan_for_bbox,
    render_plan,
    render_print_file,
    select_areas,
    select_variants,
)
from flashfusion.studio.render import MediaLoader

# Artwork for mockups is rendered small: a 2000 px listing image shows the print zone at well
# under 1200 px, and re-rendering beats decoding a 10,000 px print file.
MOCKUP_ARTWORK_MAX_SIDE = 1200
# Colours shown in listing images: the first few selected blanks (Etsy allows 10 images).
MAX_MOCKUP_COLOURS = 4
DEFAULT_MOCKUP_PLATFORM = "etsy"


@dataclass(frozen=True)
class OutputFile:
    kind: str  # "print_file" | "mockup"
    product_type: str
    area_key: str | None
    variant_keys: list[str]
    view: str | None
    colour_hex: str | None
    label: str
    width: int
    height: int
    dpi: int | None
    content_type: str
    data: bytes


def default_area_keys(product_type: ProductType) -> list[str]:
    """The print areas a design goes on unless the creator picks others: the product's required
    placement (the front of a shirt, the wrap of a mug). Printing the same artwork on the back and
    both sleeves too is a choice, not a default: each placement costs extra at the provider."""
    required = [a.key for a in product_type.print_areas if a.required]
    return required or [product_type.print_areas[0].key]


@dataclass(frozen=True)
class Task:
    product_type: ProductType
    variant_keys: list[str]  # empty: every variant
    area_keys: list[str] | None = None  # None: default_area_keys(product_type)

    @property
    def areas(self) -> list[str]:
        return self.area_keys or default_area_keys(self.product_type)


def selected_variants(task: Task) -> list[str]:
    keys = task.variant_keys or [v.key for v in task.product_type.variants]
    return keys


def print_file_count(task: Task) -> int:
    """Distinct print files the task renders (variants that share a size share a file)."""
    seen: set[tuple[str, int, int, int, str]] = set()
    areas = set(task.areas)
    for key in selected_variants(task):
        variant = task.product_type.variant(key)
        if variant is None:
            continue
        for area_key, pf in variant.print_files.items():
            if area_key in areas:
                seen.add((area_key, pf.width_px, pf.height_px, pf.dpi, pf.fill_mode))
    return len(seen)


def step_count(tasks: list[Task], *, mockups: bool) -> int:
    return sum(print_file_count(t) + (1 if mockups else 0) for t in tasks)


def _scaled(area: PrintArea, pf: PrintFile, max_side: int) -> tuple[PrintArea, PrintFile]:
    factor = min(1.0, max_side / max(pf.width_px, pf.height_px))
    scaled_pf = pf.model_copy(
        update={
            "width_px": max(1, round(pf.width_px * factor)),
            "height_px": max(1, round(pf.height_px * factor)),
        }
    )
    scaled_area = area.model_copy(
        update={
            "safe_margin_px": round(area.safe_margin_px * factor),
            "bleed_px": round(area.bleed_px * factor),
        }
    )
    return scaled_area, scaled_pf


def mockup_artwork(
    document: DesignDocument, task: Task, *, media: MediaLoader | None
) -> dict[str, Image.Image]:
    """Each print area of the first selected variant, rendered small for the mockups."""
    product_type = task.product_type
    variant = product_type.variant(selected_variants(task)[0])
    assert variant is not None
    artwork: dict[str, Image.Image] = {}
    for area_key, pf in variant.print_files.items():
        area = product_type.print_area(area_key)
        if area is None or area_key not in task.areas:
            continue
        scaled_area, scaled_pf = _scaled(area, pf, MOCKUP_ARTWORK_MAX_SIDE)
        rendered = render_print_file(document, scaled_area, scaled_pf, media=media)
        artwork[area_key] = Image.open(io.BytesIO(rendered.png)).convert("RGBA")
    return artwork


def mockup_colours(task: Task) -> list[str]:
    colours: list[str] = []
    for key in selected_variants(task):
        variant = task.product_type.variant(key)
        hex_ = variant.colour_hex if variant else None
        if hex_ and hex_ not in colours:
            colours.append(hex_)
    return colours[:MAX_MOCKUP_COLOURS] or ["#ffffff"]


def _print_jobs(
    document: DesignDocument, task: Task, *, media: MediaLoader | None
) -> list[tuple[PrintArea, PrintFile, list[str], PlacementPlan]]:
    """Every distinct print file of the task with its placement, planned up front (the design's
    painted box is measured once per product type, not once per file)."""
    product_type = task.product_type
    areas = select_areas(product_type, task.areas)
    variants = select_variants(product_type, selected_variants(task))
    bbox = painted_bbox(document, media=media)
    if bbox is None:
        raise EmptyDesignError()
    jobs = []
    for area in areas:
        for pf, keys in distinct_print_files(area, variants):
            jobs.append((area, pf, keys, plan_for_bbox(document.canvas, bbox, area, pf)))
    return jobs


def _print_output(
    document: DesignDocument,
    product_type: ProductType,
    job: tuple[PrintArea, PrintFile, list[str], PlacementPlan],
    media: MediaLoader | None,
) -> OutputFile:
    area, pf, keys, plan = job
    png = encode_png(render_plan(document, plan, media=media), pf.dpi)
    return OutputFile(
        kind="print_file",
        product_type=product_type.key,
        area_key=area.key,
        variant_keys=keys,
        view=None,
        colour_hex=None,
        label=f"{product_type.name} — {area.name} {pf.width_px}×{pf.height_px}",
        width=pf.width_px,
        height=pf.height_px,
        dpi=pf.dpi,
        content_type="image/png",
        data=png,
    )


def _mockup_outputs(
    document: DesignDocument, task: Task, platform: str, media: MediaLoader | None
) -> list[OutputFile]:
    product_type = task.product_type
    artwork = mockup_artwork(document, task, media=media)
    return [
        OutputFile(
            kind="mockup",
            product_type=product_type.key,
            area_key=None,
            variant_keys=[],
            view=image.view,
            colour_hex=image.colour_hex,
            label=f"{product_type.name} — {image.name}",
            width=image.width,
            height=image.height,
            dpi=None,
            content_type=image.content_type,
            data=image.data,
        )
        for image in listing_images(
            product_type.mockup, artwork, colours=mockup_colours(task), platform=platform
        )
    ]


def run(
    document: DesignDocument,
    tasks: list[Task],
    *,
    media: MediaLoader | None = None,
    mockups: bool = True,
    platform: str = DEFAULT_MOCKUP_PLATFORM,
    on_step: Callable[[str], None] | None = None,
    threads: int = 1,
) -> Iterator[OutputFile]:
    """Yield every file in a stable order, calling `on_step(label)` after each step.

    With `threads` > 1 the steps run on a thread pool: Pillow and numpy release the GIL while
    they draw, composite and compress, so a second core nearly halves the wall time. Results
    still come out in order (a step's files are yielded once it and every earlier one are done).
    """
    steps: list[tuple[str, Callable[[], list[OutputFile]]]] = []
    for task in tasks:
        product_type = task.product_type
        for job in _print_jobs(document, task, media=media):
            area, pf = job[0], job[1]
            label = f"{product_type.name} — {area.name} {pf.width_px}×{pf.height_px}"
            steps.append(
                (
                    label,
                    partial(
                        lambda pt, j: [_print_output(document, pt, j, media)], product_type, job
                    ),
                )
            )
        if mockups:
            steps.append(
                (
                    f"{product_type.name} — mockups",
                    partial(_mockup_outputs, document, task, platform, media),
                )
            )
    if threads <= 1:
        for label, step in steps:
            yield from step()
            if on_step:
                on_step(label)
        return
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="render") as pool:
        futures = [(label, pool.submit(step)) for label, step in steps]
        try:
            for label, future in futures:
                yield from future.result()
                if on_step:
                    on_step(label)
        finally:
            for _, future in futures:
                future.cancel()

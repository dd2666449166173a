"""`flashfusion studio …`: render print files and mockups from a phrase, offline (no database)."""

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

studio_app = typer.Typer(
    help="Merch Studio: presets, catalog, and print files + mockups from a phrase.",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)


def _fail(message: str) -> None:
    err.print(f"[bold red]Error:[/] {message}")
    raise typer.Exit(1)


@studio_app.command("presets")
def list_presets() -> None:
    """List the style presets."""
    from flashfusion.studio.presets import PRESETS

    table = Table("key", "name", "looks like")
    for preset in PRESETS.values():
        table.add_row(preset.key, preset.name, preset.description)
    console.print(table)


@studio_app.command("catalog")
def list_catalog(
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
) -> None:
    """List the catalog's product types and their print areas."""
    from flashfusion.catalog.registry import get_catalog

    catalog = get_catalog()
    table = Table("key", "name", "category", "print areas", "variants", title=catalog.version)
    for product_type in catalog.product_types.values():
        if category and product_type.category != category:
            continue
        table.add_row(
            product_type.key,
            product_type.name,
            product_type.category,
            ", ".join(a.key for a in product_type.print_areas),
            str(len(product_type.variants)),
        )
    console.print(table)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text.lower()).strip("-")


@studio_app.command("render")
def render_command(
    phrase: Annotated[str, typer.Option(help="The text to design.")],
    out: Annotated[Path, typer.Option(help="Directory to write the files to.")],
    preset: Annotated[str, typer.Option(help="Style preset (see `studio presets`).")] = (
        "retro-sunset"
    ),
    products: Annotated[
        str, typer.Option(help="Comma-separated product type keys (see `studio catalog`).")
    ] = "tshirt",
    mockups: Annotated[bool, typer.Option(help="Also make listing images.")] = True,
    platform: Annotated[str, typer.Option(help="Listing image sizes for this platform.")] = "etsy",
    threads: Annotated[
        int | None,
        typer.Option(min=1, max=32, help="Render threads (default: FLASHFUSION_RENDER_THREADS)."),
    ] = None,
) -> None:
    """Design a phrase with a preset and write print files (+ mockups) for each product type."""
    from pydantic import ValidationError

    from flashfusion.catalog.registry import UnknownProductType, get_product_type
    from flashfusion.config import get_settings
    from flashfusion.studio import pipeline
    from flashfusion.studio.mockup import PLATFORM_IMAGE_SPECS
    from flashfusion.studio.presets import UnknownPreset, build_design
    from flashfusion.studio.validation import validate

    phrase = phrase.strip()
    if not phrase:
        _fail('--phrase is empty; type the text to design, e.g. --phrase "Stay Wild".')
    if len(phrase) > 200:
        _fail(f"--phrase has {len(phrase)} characters; use at most 200.")
    if platform not in PLATFORM_IMAGE_SPECS:
        _fail(f"--platform {platform!r} is unknown; use one of {', '.join(PLATFORM_IMAGE_SPECS)}.")
    keys = [k.strip() for k in products.split(",") if k.strip()]
    if not keys:
        _fail("--products is empty; give product type keys, e.g. --products tshirt,mug.")
    try:
        product_types = [get_product_type(k) for k in keys]
    except UnknownProductType as e:
        _fail(f"--products: {e}")
    try:
        document = build_design(preset, phrase)
    except UnknownPreset as e:
        _fail(f"--preset: {e}")
    except (ValueError, ValidationError) as e:
        _fail(f"--phrase: {e}")
    if out.exists() and not out.is_dir():
        _fail(f"--out {out} is a file; give a directory (it is created if missing).")
    out.mkdir(parents=True, exist_ok=True)

    tasks = [pipeline.Task(product_type=t, variant_keys=[]) for t in product_types]
    total = pipeline.step_count(tasks, mockups=mockups)
    manifest: list[dict[str, object]] = []
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        bar = progress.add_task("Rendering", total=total)
        for output in pipeline.run(
            document,
            tasks,
            mockups=mockups,
            platform=platform,
            threads=threads or get_settings().RENDER_THREADS,
            on_step=lambda label: progress.update(bar, advance=1, description=label[:60]),
        ):
            folder = out / output.product_type
            if output.kind == "mockup":
                folder = folder / "mockups"
                ext = "jpg" if output.content_type == "image/jpeg" else "png"
                stem = output.label.split("—")[-1].strip().rsplit(".", 1)[0]
                name = f"{_slug(stem)}.{ext}"
            else:
                name = f"{output.area_key}-{output.width}x{output.height}.png"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(output.data)
            manifest.append(
                {
                    "file": str((folder / name).relative_to(out)),
                    "kind": output.kind,
                    "product_type": output.product_type,
                    "area": output.area_key,
                    "variants": output.variant_keys,
                    "width": output.width,
                    "height": output.height,
                    "dpi": output.dpi,
                }
            )
        progress.update(bar, description="Done")

    issues = {
        t.key: validate(document, t, area_keys=pipeline.default_area_keys(t)) for t in product_types
    }
    (out / "design.json").write_text(document.model_dump_json(indent=2))
    (out / "manifest.json").write_text(
        json.dumps(
            {
                "phrase": phrase,
                "preset": preset,
                "files": manifest,
                "issues": {
                    key: [
                        {
                            "code": i.code,
                            "severity": i.severity,
                            "area": i.area_key,
                            "message": i.message,
                        }
                        for i in found
                    ]
                    for key, found in issues.items()
                },
            },
            indent=2,
        )
    )
    prints = sum(1 for m in manifest if m["kind"] == "print_file")
    console.print(
        f"[green]Wrote {prints} print files and {len(manifest) - prints} mockups to {out}[/]"
    )
    for key, found in issues.items():
        for issue in found:
            colour = "red" if issue.severity == "error" else "yellow"
            console.print(f"[{colour}]{key} {issue.area_key or ''}: {issue.message}[/]")

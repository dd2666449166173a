"""`flashfusion generate --from ideas.csv …`: listing copy for many ideas as a durable batch.

The batch is queued like one from the API and run by an executor: by default this process starts
one (`--run-here`), so nothing else needs to be running; with `--no-run-here` a running
`flashfusion serve` / `worker` picks it up. A progress bar follows the batch either way.
"""

import asyncio
import csv
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()
err = Console(stderr=True)


def _fail(message: str) -> None:
    err.print(f"[bold red]Error:[/] {message}")
    raise typer.Exit(1)


def generate(
    source: Annotated[
        Path,
        typer.Option(
            "--from",
            help="CSV of ideas: one 'idea,product_type[,keywords]' per line "
            "(keywords separated by ';'); a header row is optional.",
        ),
    ],
    org: Annotated[str, typer.Option(help="Workspace slug (see the web UI's URL).")],
    as_user: Annotated[
        str, typer.Option("--as", help="Email of the member the batch is generated as.")
    ],
    platform: Annotated[
        list[str] | None, typer.Option(help="Target platform (default etsy); repeat for several.")
    ] = None,
    language: Annotated[
        list[str] | None,
        typer.Option(help="Language code (default en; en es fr de it pt nl ja ko zh); repeatable."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the results (one row per listing) to this CSV.")
    ] = None,
    run_here: Annotated[
        bool, typer.Option(help="Run the job in this process (else wait for an executor).")
    ] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the batch.")] = 3600.0,
) -> None:
    """Generate listing copy for every idea in a CSV, with a progress bar."""
    from flashfusion.cli import _check_settings, _ensure_migrated, _run
    from flashfusion.config import get_settings

    platform = platform or ["etsy"]
    language = language or ["en"]
    if not source.is_file():
        _fail(f"{source}: no such file; give a CSV with one 'idea,product_type' per line.")
    try:
        text = source.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        _fail(f"{source}: is not UTF-8 text; save the CSV as UTF-8 and try again.")
        return
    _check_settings()
    _ensure_migrated(auto=True)
    settings = get_settings()

    async def _main() -> tuple[int, list[list[str]]]:
        from flashfusion.auth.models import AuthSubject
        from flashfusion.content.batch_service import content_batch, parse_csv
        from flashfusion.db import unit_of_work
        from flashfusion.exceptions import AppError
        from flashfusion.jobs import engine, janitor
        from flashfusion.organization.repository import OrganizationRepository
        from flashfusion.user.service import user as user_service

        try:
            items = parse_csv(text)
            async with unit_of_work() as session:
                user = await user_service.get_by_email(session, as_user)
                if user is None:
                    _fail(f"No user {as_user}; create one with `flashfusion admin create-user`.")
                    raise AssertionError
                organization = await OrganizationRepository.from_session(session).get_by_slug(org)
                if organization is None:
                    _fail(f"No workspace with slug {org!r}; check the slug in the web UI's URL.")
                    raise AssertionError
                batch = await content_batch.create(
                    session,
                    AuthSubject(user),
                    organization_id=organization.id,
                    items=items,
                    platforms=platform,
                    languages=language,
                    brand_voice_id=None,
                )
                batch_id, total = batch.id, batch.total
        except AppError as e:
            _fail(e.detail)
            raise AssertionError from e
        console.print(
            f"Batch [bold]{batch_id}[/]: {total} ideas × {len(platform)} platform(s) × "
            f"{len(language)} language(s)."
        )
        launched = False
        if run_here:
            try:
                await janitor.register("cli")
            except janitor.DuplicateExecutorError as e:
                _fail(f"{e} Or pass --no-run-here to let the running executor do it.")
            await asyncio.to_thread(engine.launch, settings)
            launched = True
        try:
            return await _follow(batch_id, total, timeout)
        finally:
            if launched:
                await asyncio.to_thread(engine.shutdown)

    status_code, rows = _run(_main)
    if out is not None:
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                [
                    "position",
                    "idea",
                    "product_type",
                    "platform",
                    "language",
                    "status",
                    "provider",
                    "title",
                    "tags",
                    "cost_usd",
                    "error",
                ]
            )
            writer.writerows(rows)
        console.print(f"Results written to [bold]{out}[/].")
    raise typer.Exit(status_code)


async def _follow(batch_id: uuid.UUID, total: int, timeout: float) -> tuple[int, list[list[str]]]:
    from flashfusion.content.repository import ContentBatchItemRepository
    from flashfusion.content.service import content as content_service
    from flashfusion.db import unit_of_work
    from flashfusion.models import AIGeneration, BatchStatus, ContentBatch, ListingCopy

    deadline = asyncio.get_running_loop().time() + timeout
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("generating listing copy", total=total)
        while True:
            async with unit_of_work() as session:
                batch = await session.get(ContentBatch, batch_id)
                assert batch is not None
                done, failed, status = batch.done, batch.failed, batch.status
            progress.update(
                task,
                completed=done + failed,
                description=f"generating listing copy · {failed} failed"
                if failed
                else "generating listing copy",
            )
            if status in (BatchStatus.succeeded, BatchStatus.partial, BatchStatus.failed):
                break
            if asyncio.get_running_loop().time() > deadline:
                err.print("Timed out waiting; the batch goes on — see `flashfusion jobs list`.")
                return 1, []
            await asyncio.sleep(0.3)
    rows: list[list[str]] = []
    async with unit_of_work() as session:
        items = await ContentBatchItemRepository.from_session(session).for_batch(batch_id)
        for item in items:
            if not item.listing_copy_ids:
                rows.append(
                    [
                        str(item.position + 1),
                        item.idea,
                        item.product_type,
                        "",
                        "",
                        "failed",
                        "",
                        "",
                        "",
                        "",
                        item.error or "",
                    ]
                )
            for copy_id in item.listing_copy_ids:
                copy = await session.get(ListingCopy, uuid.UUID(copy_id))
                assert copy is not None
                version = await content_service.version(session, copy)
                # This listing's own generation, not the item's total over its listings.
                generation = (
                    await session.get(AIGeneration, version.generation_id)
                    if version.generation_id
                    else None
                )
                cost = generation.cost_microusd if generation else None
                rows.append(
                    [
                        str(item.position + 1),
                        item.idea,
                        item.product_type,
                        copy.platform,
                        copy.language,
                        copy.status.value,
                        version.provider or "",
                        version.fields.get("title", ""),
                        "; ".join(version.fields.get("tags") or []),
                        "" if cost is None else f"{cost / 1e6:.6f}",
                        item.error or "",
                    ]
                )
    table = Table("status", "count")
    table.add_row("succeeded", str(done))
    table.add_row("failed", str(failed))
    console.print(table)
    if failed:
        err.print(
            f"{failed} item(s) failed; retry them with POST /api/v1/content/batches/"
            f"{batch_id}/retry or from the batch page."
        )
    return (0 if not failed else 2), rows

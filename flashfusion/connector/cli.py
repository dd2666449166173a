"""`flashfusion secrets …`: re-wrap every encrypted value under the current key.

Rotation: set FLASHFUSION_ENCRYPTION_KEY to the new key and list the old one (the old
ENCRYPTION_KEY, or the SECRET_KEY if none was set) in FLASHFUSION_PREVIOUS_ENCRYPTION_KEYS;
restart; run `flashfusion secrets rotate`; then remove the old key. Only the 48-byte wrapped
data key of each value changes (envelope encryption), so a rotation is quick, and running it
again is harmless: values already under the current key are counted and left as they are.
"""

import uuid
from dataclasses import dataclass, field
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

secrets_app = typer.Typer(
    help="Encrypted secrets at rest: re-wrap them under a new key.", no_args_is_help=True
)
console = Console()
err = Console(stderr=True)


@dataclass
class ColumnReport:
    label: str
    total: int = 0
    rewrapped: int = 0
    current: int = 0
    failed: list[uuid.UUID] = field(default_factory=list)


async def rotate_all(batch_size: int, progress: Progress | None = None) -> list[ColumnReport]:
    """Re-wrap every encrypted column, one committed transaction per batch."""
    from flashfusion.db import unit_of_work
    from flashfusion.kit import encrypted_columns

    reports = []
    for spec in encrypted_columns.ENCRYPTED_COLUMNS:
        async with unit_of_work(read_only=True) as session:
            total = await encrypted_columns.count(session, spec)
        report = ColumnReport(spec.label, total)
        bar = progress.add_task(spec.label, total=total or 1) if progress else None
        after: uuid.UUID | None = None
        while True:
            async with unit_of_work() as session:
                batch = await encrypted_columns.rewrap_batch(
                    session, spec, after=after, limit=batch_size
                )
            report.rewrapped += batch.rewrapped
            report.current += batch.current
            report.failed += batch.failed
            if progress is not None and bar is not None:
                progress.advance(bar, batch.rewrapped + batch.current + len(batch.failed))
            if batch.last_id is None:
                break
            after = batch.last_id
        if progress is not None and bar is not None and not total:
            progress.update(bar, completed=1)
        reports.append(report)
    return reports


@secrets_app.callback()
def secrets_group() -> None:
    """Encrypted secrets at rest: re-wrap them under a new key."""


@secrets_app.command("rotate")
def rotate(
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Values per committed batch.")
    ] = 500,
) -> None:
    """Re-wrap every encrypted value (tokens, keys, 2FA secrets) under the current key."""
    from flashfusion.cli import _check_settings, _ensure_migrated, _run
    from flashfusion.config import ConfigurationError
    from flashfusion.kit import encryption

    _check_settings()
    try:
        previous = encryption.previous_raw_keys()
        encryption.current_key_id()
    except ConfigurationError as e:
        err.print(f"[bold red]Error:[/] {e}")
        raise typer.Exit(2) from None
    _ensure_migrated(auto=True)

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        reports = _run(lambda: rotate_all(batch_size, progress))

    table = Table("column", "values", "re-wrapped", "already current", "failed")
    for r in reports:
        table.add_row(r.label, str(r.total), str(r.rewrapped), str(r.current), str(len(r.failed)))
    console.print(table)
    failed = [(r.label, row_id) for r in reports for row_id in r.failed]
    if failed:
        err.print(
            f"[bold red]{len(failed)} value(s) decrypt under no known key[/] (written under a "
            "key that is not in FLASHFUSION_ENCRYPTION_KEY or FLASHFUSION_PREVIOUS_ENCRYPTION_KEYS,"
            " moved to another row, or damaged):"
        )
        for label, row_id in failed:
            table_name, _, column = label.partition(".")
            err.print(f"  table {table_name}, column {column}, row {row_id}")
        err.print(
            "Add the key they were written under to FLASHFUSION_PREVIOUS_ENCRYPTION_KEYS and run "
            "this again; keep the old keys until it reports no failure. A value nobody can "
            "decrypt must be entered again (reconnect the connection, re-enter the AI key)."
        )
        raise typer.Exit(1)
    done = sum(r.rewrapped for r in reports)
    console.print(f"Done: {done} value(s) re-wrapped, every value is under the current key.")
    if previous:
        console.print(
            "Next: remove the old key(s) from FLASHFUSION_PREVIOUS_ENCRYPTION_KEYS and restart; "
            "keep a copy somewhere safe until your backups made before today have expired."
        )
    else:
        console.print("No previous keys are configured: nothing more to do.")

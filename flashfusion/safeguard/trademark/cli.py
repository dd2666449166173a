"""`flashfusion trademarks …`: import register bulk files, show the marks database, look a mark up.

`import` runs the import in this process (no executor needed) with a progress bar; the import is
recorded like one run by the job, and a re-screen is queued for the executors when marks were
added or changed. Bad paths and files that are not the office's format exit with code 2.
"""

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from flashfusion.safeguard.trademark.types import Office

trademarks_app = typer.Typer(
    help="Trademark register data: import USPTO / EUIPO bulk files, status, lookups.",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)

# Exit code for input the command cannot use (a bad path, a file of the wrong format).
BAD_INPUT = 2


class OfficeOption(StrEnum):
    uspto = "uspto"
    euipo = "euipo"


class KindOption(StrEnum):
    daily = "daily"
    annual = "annual"
    euipo_full = "euipo_full"
    euipo_diff = "euipo_diff"


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]Error:[/] {message}")
    raise typer.Exit(code)


@trademarks_app.command("import")
def import_command(
    path: Annotated[
        Path,
        typer.Argument(help="The bulk file: .xml, or the .zip / .gz it was downloaded as."),
    ],
    office: Annotated[OfficeOption, typer.Option(help="Whose register the file is from.")],
    kind: Annotated[
        KindOption | None,
        typer.Option(
            help="USPTO: daily (default) or annual; EUIPO: euipo_full (default) or euipo_diff."
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="Records per committed batch.")
    ] = 1000,
) -> None:
    """Import a USPTO daily/annual applications XML file or an EUIPO trade mark file."""
    from flashfusion.cli import _check_settings, _ensure_migrated, _run

    if not path.exists():
        _fail(f"{path}: no such file; give the path of a downloaded bulk file.", BAD_INPUT)
    if not path.is_file():
        _fail(f"{path} is a directory; give one bulk file (.xml, .zip or .gz).", BAD_INPUT)
    _check_settings()
    _ensure_migrated(auto=True)

    async def _main() -> int:
        from flashfusion.db import unit_of_work
        from flashfusion.models import ImportKind
        from flashfusion.safeguard.trademark.imports import (
            ImportFailed,
            InvalidImport,
            trademark_import,
        )
        from flashfusion.safeguard.trademark.imports import (
            Progress as ImportProgress,
        )

        try:
            async with unit_of_work() as session:
                row = await trademark_import.create(
                    session,
                    path=path,
                    office=Office(office.value),
                    kind=ImportKind(kind.value) if kind else None,
                )
                import_id, total, name = row.id, row.bytes_total, row.file_name
        except InvalidImport as e:
            _fail(e.detail, BAD_INPUT)
            raise AssertionError from e
        console.print(f"Import [bold]{import_id}[/]: {name} ({office.value}).")
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        ) as progress:
            bar = progress.add_task("reading", total=total or None)

            def show(step: ImportProgress) -> None:
                progress.update(
                    bar,
                    completed=step.bytes_done,
                    description=(
                        f"{step.records_done} records · {step.inserted} new · "
                        f"{step.updated} updated · {step.skipped} skipped"
                    ),
                )

            try:
                summary = await trademark_import.run(
                    import_id, batch_size=batch_size, on_progress=show
                )
            except ImportFailed as e:
                progress.stop()
                _fail(e.detail, BAD_INPUT)
                raise AssertionError from e
            progress.update(bar, completed=total)
        table = Table("records", "new", "updated", "unchanged", "deleted", "skipped")
        table.add_row(
            str(summary.records_read),
            str(summary.inserted),
            str(summary.updated),
            str(summary.unchanged),
            str(summary.deleted),
            str(summary.skipped),
        )
        console.print(table)
        for reason, count in sorted(summary.skip_reasons.items()):
            console.print(f"skipped {count}: {reason}")
        if summary.unverified_status:
            console.print(
                f"{summary.unverified_status} mark(s) have a status code without a sourced "
                "meaning; they are treated as pending."
            )
        if summary.rescreen_job_id:
            console.print(
                f"{summary.changed} new or changed mark(s): re-screen job "
                f"{summary.rescreen_job_id} queued (a running `flashfusion serve` or `worker` "
                "runs it)."
            )
        return 0

    raise typer.Exit(_run(_main))


@trademarks_app.command("status")
def status_command(
    limit: Annotated[int, typer.Option(min=1, max=100, help="Imports to list.")] = 10,
) -> None:
    """Marks in the database per office and status, and the latest imports."""
    from flashfusion.cli import _check_settings, _ensure_migrated, _run

    _check_settings()
    _ensure_migrated(auto=False)

    async def _main() -> None:
        from flashfusion.db import unit_of_work
        from flashfusion.safeguard.trademark.repository import (
            TrademarkImportRepository,
            TrademarkRepository,
        )
        from flashfusion.safeguard.trademark.types import MarkStatus

        async with unit_of_work(read_only=True) as session:
            counts = await TrademarkRepository.from_session(session).counts()
            imports = await TrademarkImportRepository.from_session(session).latest(limit)
            marks = Table("office", "live", "pending", "dead", "total", title="Marks")
            for office in Office:
                row = [counts.get((office, s), 0) for s in MarkStatus]
                marks.add_row(office.value, *(str(n) for n in row), str(sum(row)))
            console.print(marks)
            if not imports:
                console.print(
                    "No imports yet: download a bulk file and run "
                    "`flashfusion trademarks import PATH --office uspto` (see docs/operations.md)."
                )
                return
            table = Table(
                "id", "office", "kind", "file", "status", "records", "new", "updated", "skipped",
                "finished", title="Latest imports",
            )  # fmt: skip
            for item in imports:
                table.add_row(
                    str(item.id)[:8],
                    item.office.value,
                    item.kind.value,
                    item.file_name,
                    item.status.value,
                    str(item.records_read),
                    str(item.inserted),
                    str(item.updated),
                    str(item.skipped),
                    item.finished_at.strftime("%Y-%m-%d %H:%M") if item.finished_at else "—",
                )
            console.print(table)
            for item in imports:
                if item.error:
                    console.print(f"[red]{str(item.id)[:8]} failed:[/] {item.error}")

    _run(_main)


@trademarks_app.command("lookup")
def lookup_command(
    serial: Annotated[str, typer.Argument(help="USPTO serial number (8 digits).")],
    online: Annotated[
        bool, typer.Option(help="Also ask USPTO TSDR (needs FLASHFUSION_USPTO_TSDR_API_KEY).")
    ] = False,
) -> None:
    """A USPTO mark by serial number: the marks database's record, and TSDR's with --online."""
    from flashfusion.cli import _check_settings, _ensure_migrated, _run
    from flashfusion.config import get_settings

    serial = serial.strip()
    if not (serial.isdigit() and len(serial) == 8):
        _fail(f"{serial!r} is not a USPTO serial number; give its 8 digits, e.g. 78787878.", 2)
    settings = get_settings()
    if online and settings.USPTO_TSDR_API_KEY is None:
        _fail(
            "--online needs a TSDR API key: get one at https://account.uspto.gov/api-manager/ "
            "and set FLASHFUSION_USPTO_TSDR_API_KEY."
        )
    _check_settings()
    _ensure_migrated(auto=False)

    async def _main() -> int:
        import httpx

        from flashfusion.db import unit_of_work
        from flashfusion.safeguard.trademark.repository import TrademarkRepository, to_record
        from flashfusion.safeguard.trademark.tsdr import TSDRClient, TSDRError

        records = []
        async with unit_of_work(read_only=True) as session:
            mark = await TrademarkRepository.from_session(session).get(Office.uspto, serial)
            if mark is not None and mark.deleted_at is None:
                records.append(("marks database", to_record(mark)))
        if online:
            key = settings.USPTO_TSDR_API_KEY
            assert key is not None
            async with httpx.AsyncClient() as http:
                client = TSDRClient(
                    http, api_key=key.get_secret_value(), base_url=settings.USPTO_TSDR_BASE_URL
                )
                try:
                    records.append(("TSDR", await client.case_status(serial)))
                except TSDRError as e:
                    err.print(f"[bold red]TSDR:[/] {e}")
        if not records:
            err.print(
                f"No mark {serial} in the marks database"
                + ("." if online else "; try --online to ask USPTO TSDR.")
            )
            return 1
        table = Table("source", "mark", "status", "code", "classes", "owner", "registration")
        for where, record in records:
            table.add_row(
                where,
                record.mark_text,
                record.status.value,
                record.status_code or "—",
                ", ".join(str(c) for c in sorted(record.nice_classes)) or "—",
                record.owner or "—",
                record.registration_number or "—",
            )
        console.print(table)
        if records[0][1].source:
            console.print(records[0][1].source)
        return 0

    raise typer.Exit(_run(_main))

"""`flashfusion publishing …`: operator repairs of the publish ledger.

`after-restore`, run after restoring a database backup and before publishing again: every
listing with no remote id and no create sent is marked so that its next create looks itself up
on the platform first (see `flashfusion.publishing.restore`). `--dry-run` shows the counts and
changes nothing; running it again marks nothing.
"""

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from flashfusion.publishing.restore import MarkedListings

publishing_app = typer.Typer(
    help="Publishing (operators): repair the publish ledger after a restore.",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)


@publishing_app.callback()
def publishing_group() -> None:
    """Publishing (operators): repair the publish ledger after a restore."""


def _table(marked: "MarkedListings", title: str) -> Table:
    table = Table("workspace", "platform", "listings", title=title)
    for row in marked.rows:
        table.add_row(row.workspace, row.platform, str(row.listings))
    return table


@publishing_app.command("after-restore")
def after_restore(
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Only show how many listings would be marked; change nothing."
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Mark without asking first.")] = False,
) -> None:
    """After restoring a backup: make every listing without a platform id look itself up first."""
    from flashfusion.cli import _check_settings, _ensure_migrated, _run
    from flashfusion.config import get_settings
    from flashfusion.logging import configure
    from flashfusion.publishing import restore
    from flashfusion.publishing.restore import SECOND_STEP

    _check_settings()
    configure(get_settings())
    # Never migrated on the fly: a restored database may be older than this version, and the
    # operator upgrades it deliberately (after backing it up), as `db upgrade` says.
    _ensure_migrated(auto=False)

    if dry_run or not yes:
        preview = _run(lambda: restore.after_restore(dry_run=True))
        if preview.rows:
            console.print(_table(preview, "Listings to mark"))
        if dry_run:
            console.print(
                f"Dry run: {preview.total} listing(s) would be marked to look themselves up on "
                "the platform before their next create. Nothing was changed."
            )
            console.print(SECOND_STEP)
            return
        if preview.total and not typer.confirm(f"Mark these {preview.total} listing(s)?"):
            err.print("Nothing was changed. Run it again with --yes to mark them.")
            raise typer.Exit(1)

    marked = _run(lambda: restore.after_restore(dry_run=False))
    if marked.rows:
        console.print(_table(marked, "Listings marked"))
    console.print(
        f"Marked {marked.total} listing(s): each looks itself up on the platform before its next "
        "create."
    )
    console.print(SECOND_STEP)

"""`flashfusion publishing after-restore` (publishing/restore.py): after a database restore,
every listing with no remote id and no create sent is marked, so that its next create looks
itself up on the platform first instead of making a second item of one published after the
backup was taken. Listings with a remote id, or already marked, are left exactly as they are;
a dry run changes nothing; a second run marks nothing."""

import logging
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.testing import capture_logs
from typer.testing import CliRunner

from flashfusion.auth.models import AuthSubject
from flashfusion.config import get_settings
from flashfusion.logging import _QUIET_LOGGERS
from flashfusion.models import (
    ChannelListing,
    ListingState,
    Organization,
    PlatformConnection,
    Product,
    PublishIntent,
    Role,
)
from flashfusion.publishing import restore, tasks
from flashfusion.publishing.cli import publishing_app
from flashfusion.publishing.service import publishing
from tests.fixtures.objects import Tenant, create_organization
from tests.fixtures.processes import deployment
from tests.publishing.fakes import (
    FakeClock,
    Item,
    World,
    create_connection,
    publishable,
    run_jobs,
    world,
)
from tests.safeguard.pipeline_fakes import FakeChecks, fake_checks, make_product

__all__ = ["fake_checks", "world"]

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
OLD = datetime(2026, 11, 2, 8, 30, tzinfo=UTC)


def _listing(
    product: Product,
    connection: PlatformConnection,
    *,
    remote_id: str | None = None,
    create_sent_at: datetime | None = None,
) -> ChannelListing:
    listing_id = uuid.uuid4()
    return ChannelListing(
        id=listing_id,
        organization_id=product.organization_id,
        product_id=product.id,
        connection_id=connection.id,
        platform=connection.platform,
        external_id=f"ff-{listing_id.hex}",
        state=ListingState.published if remote_id else ListingState.queued,
        desired_version=1,
        remote_id=remote_id,
        create_sent_at=create_sent_at,
    )


async def _reload(session: AsyncSession, listing_id: uuid.UUID) -> ChannelListing:
    result = await session.execute(
        select(ChannelListing)
        .where(ChannelListing.id == listing_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one()


async def _seed(session: AsyncSession, a: Organization, b: Organization) -> dict[str, Any]:
    """Workspace A: a published listing (remote id, no create_sent_at), one marked before, and
    two unmarked (Etsy, Printify); workspace B: one unmarked Etsy listing."""
    first, _, _ = await make_product(session, a, title="First tee")
    second, _, _ = await make_product(session, a, title="Second tee")
    third, _, _ = await make_product(session, b, title="Third tee")
    a_etsy = await create_connection(session, a.id, "etsy")
    a_printify = await create_connection(session, a.id, "printify")
    b_etsy = await create_connection(session, b.id, "etsy")
    rows = {
        "published": _listing(first, a_etsy, remote_id="etsy-77"),
        "marked": _listing(first, a_printify, create_sent_at=OLD),
        "a_etsy": _listing(second, a_etsy),
        "a_printify": _listing(second, a_printify),
        "b_etsy": _listing(third, b_etsy),
    }
    session.add_all(rows.values())
    await session.flush()
    return rows


async def test_marks_only_listings_with_no_remote_id_and_no_create_sent(
    session: AsyncSession,
) -> None:
    a = await create_organization(session, name="Alpha prints")
    b = await create_organization(session, name="Beta prints")
    rows = await _seed(session, a, b)
    modified = {name: row.modified_at for name, row in rows.items()}

    marked = await restore.mark_unconfirmed(session, now=NOW)

    assert marked.rows == [
        restore.MarkedRow(a.id, "Alpha prints", "etsy", 1),
        restore.MarkedRow(a.id, "Alpha prints", "printify", 1),
        restore.MarkedRow(b.id, "Beta prints", "etsy", 1),
    ]
    assert marked.total == 3
    assert marked.per_platform() == {"etsy": 2, "printify": 1}
    after = {name: await _reload(session, row.id) for name, row in rows.items()}
    assert {name: row.create_sent_at for name, row in after.items()} == {
        "published": None,
        "marked": OLD,
        "a_etsy": NOW,
        "a_printify": NOW,
        "b_etsy": NOW,
    }
    assert after["published"].remote_id == "etsy-77"
    assert after["published"].modified_at == modified["published"]
    assert after["marked"].modified_at == modified["marked"]
    assert after["a_etsy"].modified_at == NOW

    # Idempotent: nothing is left to mark, and the marks keep their time.
    again = await restore.mark_unconfirmed(session, now=datetime(2026, 12, 7, tzinfo=UTC))
    assert (again.rows, again.total) == ([], 0)
    assert (await _reload(session, rows["a_etsy"].id)).create_sent_at == NOW


async def test_dry_run_changes_nothing_and_a_run_logs_its_count_after_the_commit(
    session: AsyncSession,
) -> None:
    a = await create_organization(session, name="Alpha prints")
    b = await create_organization(session, name="Beta prints")
    rows = await _seed(session, a, b)
    await session.commit()  # the test's savepoint: seen by the command's own unit of work

    with capture_logs() as logs:
        preview = await restore.after_restore(dry_run=True)
    assert [(r.workspace, r.platform, r.listings) for r in preview.rows] == [
        ("Alpha prints", "etsy", 1),
        ("Alpha prints", "printify", 1),
        ("Beta prints", "etsy", 1),
    ]
    assert logs == []
    for name in ("a_etsy", "a_printify", "b_etsy"):
        assert (await _reload(session, rows[name].id)).create_sent_at is None

    with capture_logs() as logs:
        marked = await restore.after_restore(dry_run=False)
    assert marked.rows == preview.rows
    assert logs == [
        {
            "event": "publishing.listings_marked_after_restore",
            "log_level": "info",
            "marked": 3,
            "workspaces": 2,
            "platforms": {"etsy": 2, "printify": 1},
        }
    ]
    for name in ("a_etsy", "a_printify", "b_etsy"):
        assert (await _reload(session, rows[name].id)).create_sent_at is not None
    assert (await _reload(session, rows["marked"].id)).create_sent_at == OLD
    assert (await restore.after_restore(dry_run=False)).total == 0


async def test_a_marked_listing_looks_itself_up_and_finds_the_item_published_after_the_backup(
    session: AsyncSession, tenant: Tenant, world: World, fake_checks: FakeChecks
) -> None:
    # The backup was taken while this publish was queued; after it the item went live. The
    # restored listing has no remote id and no create_sent_at, just as when it was queued.
    product = await publishable(session, tenant.organization)
    etsy = await create_connection(session, tenant.organization.id)
    await publishing.publish(
        session, AuthSubject(tenant.users[Role.owner]), product_ids=[product.id],
        connection_ids=[etsy.id],
    )  # fmt: skip
    [intent] = (await session.execute(select(PublishIntent))).scalars()
    listing = await _reload(session, intent.listing_id)
    world.platform.items["etsy-900"] = Item(
        remote_id="etsy-900",
        external_id=listing.external_id,
        title="Sunrise tee for Etsy",
        skus=[],
        prices={},
        quantities={},
        state="active",
        url="https://etsy.example/listing/etsy-900",
    )

    # The check as the job's first attempt makes it (`attempts` counted first).
    intent.attempts = 1
    assert await tasks._first_create(session, intent, listing, etsy) is True
    marked = await restore.mark_unconfirmed(session, now=NOW)
    assert [(r.workspace, r.platform, r.listings) for r in marked.rows] == [
        (tenant.organization.name, "etsy", 1)
    ]
    listing = await _reload(session, listing.id)
    assert listing.create_sent_at == NOW
    assert await tasks._first_create(session, intent, listing, etsy) is False
    intent.attempts = 0
    await session.flush()

    assert await run_jobs(session, FakeClock()) == ["succeeded"]
    assert world.platform.calls == ["find", "update"]
    assert world.platform.created["etsy"] == 0
    assert [o.get("create_sent_at") for o in world.platform.find_options] == [NOW.timestamp()]
    listing = await _reload(session, listing.id)
    assert (listing.remote_id, listing.state) == ("etsy-900", ListingState.published)


# --- the command ----------------------------------------------------------------------------------


@pytest.fixture
def info_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The command configures logging for the process: at INFO for this test, and put back
    afterwards (settings are cached: patch the live object)."""
    monkeypatch.setattr(get_settings(), "LOG_LEVEL", "INFO")
    configured = structlog.is_configured()
    config = structlog.get_config()
    root = logging.getLogger()
    handlers, root_level = root.handlers[:], root.level
    names = ("flashfusion", "uvicorn.access", *_QUIET_LOGGERS)
    levels = {
        name: (logging.getLogger(name).level, logging.getLogger(name).disabled) for name in names
    }
    yield
    if configured:
        structlog.configure(**config)
    else:
        structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(root_level)
    for name, (level, disabled) in levels.items():
        logging.getLogger(name).setLevel(level)
        logging.getLogger(name).disabled = disabled


def _table(output: str) -> list[tuple[str, ...]]:
    """The data rows of the printed table."""
    rows = []
    for line in output.splitlines():
        cells = tuple(cell.strip() for cell in line.strip().strip("│").split("│"))
        if len(cells) == 3 and cells[0] != "workspace":
            rows.append(cells)
    return rows


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_cli_dry_run_then_yes_then_nothing_left(info_logs: None) -> None:
    """Through the command itself, on committed rows (removed afterwards)."""
    from flashfusion.cli import _run
    from flashfusion.db import unit_of_work

    name = f"Restore {uuid.uuid4().hex[:6]}"
    ids: dict[str, Any] = {}

    async def seed() -> None:
        async with unit_of_work() as session:
            organization = await create_organization(session, name=name)
            other = await create_organization(session, name=f"{name} B")
            ids["organizations"] = [organization.id, other.id]
            ids["rows"] = {k: v.id for k, v in (await _seed(session, organization, other)).items()}

    async def stamps() -> dict[str, datetime | None]:
        async with unit_of_work(read_only=True) as session:
            return {
                key: (await _reload(session, listing_id)).create_sent_at
                for key, listing_id in ids["rows"].items()
            }

    async def remove() -> None:
        async with unit_of_work() as session:
            await session.execute(
                delete(Organization).where(Organization.id.in_(ids["organizations"]))
            )

    runner = CliRunner()
    _run(seed)
    try:
        before = _run(stamps)
        expected = [(name, "etsy", "1"), (name, "printify", "1"), (f"{name} B", "etsy", "1")]

        result = runner.invoke(publishing_app, ["after-restore", "--dry-run"])
        assert result.exit_code == 0, result.output
        assert _table(result.stdout) == expected
        output = _flat(result.stdout)
        assert "Dry run: 3 listing(s) would be marked" in output
        assert "Nothing was changed." in output
        assert _flat(restore.SECOND_STEP) in output
        assert "listings_marked_after_restore" not in result.stderr
        assert _run(stamps) == before

        # Without --yes it asks; declined, nothing changes.
        result = runner.invoke(publishing_app, ["after-restore"], input="n\n")
        assert result.exit_code == 1, result.output
        assert _table(result.stdout) == expected
        assert "Mark these 3 listing(s)? [y/N]" in result.stdout
        assert "Nothing was changed. Run it again with --yes to mark them." in _flat(result.stderr)
        assert _run(stamps) == before

        result = runner.invoke(publishing_app, ["after-restore", "--yes"])
        assert result.exit_code == 0, result.output
        assert _table(result.stdout) == expected
        output = _flat(result.stdout)
        assert "Marked 3 listing(s): each looks itself up on the platform" in output
        assert _flat(restore.SECOND_STEP) in output
        [line] = [s for s in result.stderr.splitlines() if "listings_marked_after_restore" in s]
        assert re.search(r"\bmarked=3\b", line), line
        assert "workspaces=2" in line
        after = _run(stamps)
        assert after["published"] is None
        assert after["marked"] == OLD
        assert all(after[k] is not None for k in ("a_etsy", "a_printify", "b_etsy"))

        result = runner.invoke(publishing_app, ["after-restore", "--yes"])
        assert result.exit_code == 0, result.output
        assert _table(result.stdout) == []
        assert "Marked 0 listing(s)" in _flat(result.stdout)
        assert _run(stamps) == after
    finally:
        _run(remove)


def test_cli_an_unknown_option_is_refused_by_name() -> None:
    result = CliRunner().invoke(publishing_app, ["after-restore", "--all"])
    assert result.exit_code == 2
    assert "No such option: --all" in result.output


def test_cli_on_a_database_not_migrated_says_what_to_run(tmp_path: Path) -> None:
    from flashfusion.migrate import head_revision

    with deployment(tmp_path / "home", COLUMNS="250") as installation:
        result = installation.cli("publishing", "after-restore", "--dry-run")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert _flat(result.stderr) == (
        f"Error: The database is at migration none but this version needs {head_revision()}. "
        "Run `flashfusion db upgrade` first (back the database up before upgrading)."
    )

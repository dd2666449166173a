"""After a database restore: make every listing that may already be on a platform look itself up
there before its next create.

A listing's first create skips find-before-create while its `create_sent_at` is unset
(`tasks._first_create`), because until then no create of it was ever sent. A restored backup
breaks that: items published after the backup was taken are on the platforms, but their restored
listings have no remote id and no `create_sent_at`, so publishing them again would make second
items. Setting `create_sent_at` on every such listing makes its next create look first (and find
the item by its external id or SKUs). Listings the backup does not hold at all cannot be marked:
the operator deletes their items on the platforms (`SECOND_STEP`).
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.db import after_commit, unit_of_work
from flashfusion.models import utc_now
from flashfusion.organization.repository import OrganizationRepository
from flashfusion.publishing.repository import ChannelListingRepository

log = structlog.get_logger(__name__)

SECOND_STEP = (
    "Still to do by hand: on each platform, delete the items whose listing the backup does not "
    "hold at all (listings first published after the backup was taken). FlashFusion has no row "
    "of them to mark, and publishing their product again would create a second item."
)


@dataclass(frozen=True)
class MarkedRow:
    organization_id: uuid.UUID
    # The workspace's name, or its id when the workspace is deleted.
    workspace: str
    platform: str
    listings: int


@dataclass(frozen=True)
class MarkedListings:
    """What a run marked (or, in a dry run, would mark), per workspace and platform, sorted by
    workspace name, workspace id and platform."""

    rows: list[MarkedRow]

    @property
    def total(self) -> int:
        return sum(row.listings for row in self.rows)

    def per_platform(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row.platform] = counts.get(row.platform, 0) + row.listings
        return dict(sorted(counts.items()))


async def mark_unconfirmed(session: AsyncSession, *, now: datetime | None = None) -> MarkedListings:
    """Mark every listing, of every workspace, with no remote id and no create sent: its next
    create looks itself up on the platform first. An operator's repair, so there is no subject;
    running it again marks nothing."""
    counts = await ChannelListingRepository.from_session(session).mark_all_unconfirmed(
        now or utc_now()
    )
    organization_ids = {organization_id for organization_id, _ in counts}
    organizations = OrganizationRepository.from_session(session)
    names = {
        organization.id: organization.name
        for organization in await organizations.get_all(
            organizations.statement_for_ids(organization_ids)
        )
    }
    rows = [
        MarkedRow(organization_id, names.get(organization_id, str(organization_id)), platform, n)
        for (organization_id, platform), n in counts.items()
    ]
    rows.sort(key=lambda row: (row.workspace, str(row.organization_id), row.platform))
    return MarkedListings(rows)


async def after_restore(*, dry_run: bool) -> MarkedListings:
    """`mark_unconfirmed` in a unit of work of its own. A dry run runs the same UPDATE and rolls
    it back, so what it reports is what a real run would mark, and it changes nothing.

    No audit event can be written (there is no user); one log line records a real run, after
    its commit."""
    async with unit_of_work() as session:
        marked = await mark_unconfirmed(session)
        if dry_run:
            await session.rollback()
        else:

            async def record() -> None:
                log.info(
                    "publishing.listings_marked_after_restore",
                    marked=marked.total,
                    workspaces=len({row.organization_id for row in marked.rows}),
                    platforms=marked.per_platform(),
                )

            after_commit(session, record)
    return marked

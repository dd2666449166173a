"""Every SQL statement of publishing: listings, intents, and the reads of products, copy,
renders and connections a payload or a publish request needs."""

import contextlib
import uuid
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, select, tuple_, update
from sqlalchemy.orm.attributes import set_committed_value

from flashfusion.kit.repository import TenantRepository, dialect_insert
from flashfusion.models import (
    Job,
    ListingCopy,
    ListingCopyVersion,
    MediaAsset,
    Product,
    ProductVariant,
    Render,
    RenderFile,
    utc_now,
)
from flashfusion.models.channel_listing import ChannelListing, ListingState
from flashfusion.models.platform_connection import ConnectionStatus, PlatformConnection
from flashfusion.models.publish_intent import IntentAction, IntentState, PublishIntent

# Rows per multi-row INSERT / CASE UPDATE of a bulk request: with ~10 bound values a row this
# stays far below SQLite's 32,766 variables per statement (sqlite.org/limits.html, "Maximum
# Number Of Host Parameters") and PostgreSQL's 65,535.
CHUNK = 500


def _chunks(rows: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def _new_listing(
    organization_id: uuid.UUID,
    product_id: uuid.UUID,
    connection_id: uuid.UUID,
    platform: str,
    now: datetime,
) -> dict[str, Any]:
    """The values of a new listing row (its id and our external id with it)."""
    listing_id = uuid.uuid4()
    return {
        "id": listing_id,
        "organization_id": organization_id,
        "product_id": product_id,
        "connection_id": connection_id,
        "platform": platform,
        "external_id": f"ff-{listing_id.hex}",
        "state": ListingState.queued.value,
        "desired_version": 0,
        "created_at": now,
    }


def _new_intent(
    organization_id: uuid.UUID,
    listing_id: uuid.UUID,
    action: IntentAction,
    version: int,
    payload_hash: str,
    now: datetime,
) -> dict[str, Any]:
    """The values of a new (queued) intent row."""
    return {
        "id": uuid.uuid4(),
        "organization_id": organization_id,
        "listing_id": listing_id,
        "action": action.value,
        "version": version,
        "payload_hash": payload_hash,
        "state": IntentState.queued.value,
        "attempts": 0,
        "created_at": now,
    }


class ChannelListingRepository(TenantRepository[ChannelListing]):
    model = ChannelListing

    async def get_or_create(
        self,
        *,
        organization_id: uuid.UUID,
        product_id: uuid.UUID,
        connection_id: uuid.UUID,
        platform: str,
    ) -> tuple[ChannelListing, bool]:
        """The listing of this product on this connection, locked for the caller's
        transaction (FOR UPDATE on PostgreSQL; SQLite's writer lock serialises anyway), and
        whether this call created it. Race-free: INSERT … ON CONFLICT DO NOTHING."""
        statement = (
            dialect_insert(self.session, ChannelListing)
            .values(_new_listing(organization_id, product_id, connection_id, platform, utc_now()))
            .on_conflict_do_nothing(index_elements=["product_id", "connection_id"])
            .returning(ChannelListing.id)
        )
        created = (await self.session.execute(statement)).scalar_one_or_none() is not None
        listing = await self.get_one_or_none(
            self.get_base_statement()
            .where(
                ChannelListing.product_id == product_id,
                ChannelListing.connection_id == connection_id,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        assert listing is not None
        return listing, created

    async def lock(self, listing_id: uuid.UUID) -> ChannelListing | None:
        return await self.get_one_or_none(
            self.get_base_statement()
            .where(ChannelListing.id == listing_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def bump_desired(self, listing: ChannelListing, payload_hash: str) -> int | None:
        """Move the listing to its next desired version for this payload; None if another
        request bumped it since `listing` was read (the caller reads it again)."""
        seen = listing.desired_version
        result: Any = await self.session.execute(
            update(ChannelListing)
            .where(ChannelListing.id == listing.id, ChannelListing.desired_version == seen)
            .values(desired_version=seen + 1, payload_hash=payload_hash, modified_at=utc_now())
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return None
        listing.desired_version = seen + 1
        listing.payload_hash = payload_hash
        return seen + 1

    async def get_or_create_many(
        self, rows: Sequence[tuple[uuid.UUID, uuid.UUID, uuid.UUID, str]]
    ) -> dict[tuple[uuid.UUID, uuid.UUID], ChannelListing]:
        """`get_or_create` for many (organization_id, product_id, connection_id, platform) at
        once: one multi-row INSERT … ON CONFLICT DO NOTHING per chunk, then one SELECT … FOR
        UPDATE of them all (in id order, so two bulk requests lock in the same order). Keyed
        by (product_id, connection_id)."""
        if not rows:
            return {}
        now = utc_now()
        # Inserted in key order too: two requests inserting the same new pairs wait on each
        # other's unique-index entries in one order, not crosswise.
        rows = sorted(rows, key=lambda row: (row[1], row[2]))
        for chunk in _chunks(rows):
            values = [
                _new_listing(organization_id, product_id, connection_id, platform, now)
                for organization_id, product_id, connection_id, platform in chunk
            ]
            await self.session.execute(
                dialect_insert(self.session, ChannelListing)
                .values(values)
                .on_conflict_do_nothing(index_elements=["product_id", "connection_id"])
            )
        found: dict[tuple[uuid.UUID, uuid.UUID], ChannelListing] = {}
        for chunk in _chunks(rows):
            pairs = [(product_id, connection_id) for _, product_id, connection_id, _ in chunk]
            for listing in await self.get_all(
                self.get_base_statement()
                .where(tuple_(ChannelListing.product_id, ChannelListing.connection_id).in_(pairs))
                .order_by(ChannelListing.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ):
                found[(listing.product_id, listing.connection_id)] = listing
        assert len(found) == len(rows)
        return found

    async def bump_desired_many(self, wanted: Sequence[tuple[ChannelListing, str]]) -> bool:
        """`bump_desired` for many (locked) listings, one UPDATE per chunk; False if any was
        bumped by someone else since it was read (then none of that chunk is)."""
        now = utc_now()
        for chunk in _chunks(wanted):
            ids = [listing.id for listing, _ in chunk]
            seen = {listing.id: listing.desired_version for listing, _ in chunk}
            hashes = {listing.id: digest for listing, digest in chunk}
            result: Any = await self.session.execute(
                update(ChannelListing)
                .where(
                    ChannelListing.id.in_(ids),
                    ChannelListing.desired_version == case(seen, value=ChannelListing.id),
                )
                .values(
                    desired_version=ChannelListing.desired_version + 1,
                    payload_hash=case(hashes, value=ChannelListing.id),
                    modified_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != len(chunk):
                return False
            for listing, digest in chunk:
                # What the row now holds: set as loaded, so the flush does not write it again.
                set_committed_value(listing, "desired_version", listing.desired_version + 1)
                set_committed_value(listing, "payload_hash", digest)
                set_committed_value(listing, "modified_at", now)
        return True

    def search_statement(
        self,
        organization_ids: AbstractSet[uuid.UUID],
        *,
        product_id: uuid.UUID | None,
        connection_id: uuid.UUID | None,
        state: ListingState | None,
    ) -> Select[ChannelListing]:
        statement = self.statement_for_organizations(organization_ids)
        if product_id is not None:
            statement = statement.where(ChannelListing.product_id == product_id)
        if connection_id is not None:
            statement = statement.where(ChannelListing.connection_id == connection_id)
        if state is not None:
            statement = statement.where(ChannelListing.state == state.value)
        return statement.order_by(ChannelListing.created_at.desc(), ChannelListing.id)

    async def for_products(
        self, organization_id: uuid.UUID, product_ids: Sequence[uuid.UUID] | None
    ) -> Sequence[ChannelListing]:
        statement = self.statement_for_organizations({organization_id})
        if product_ids is not None:
            statement = statement.where(ChannelListing.product_id.in_(list(product_ids)))
        return await self.get_all(
            statement.order_by(ChannelListing.product_id, ChannelListing.platform)
        )

    async def for_product_and_connection(
        self, product_id: uuid.UUID, connection_id: uuid.UUID
    ) -> ChannelListing | None:
        return await self.get_one_or_none(
            self.get_base_statement().where(
                ChannelListing.product_id == product_id,
                ChannelListing.connection_id == connection_id,
            )
        )

    async def published_on(
        self, connection_id: uuid.UUID, limit: int | None = None
    ) -> Sequence[ChannelListing]:
        """The connection's published listings, the least recently checked first (never
        checked before any), at most `limit` of them."""
        statement = (
            self.get_base_statement()
            .where(
                ChannelListing.connection_id == connection_id,
                ChannelListing.state == ListingState.published.value,
                ChannelListing.remote_id.is_not(None),
            )
            .order_by(ChannelListing.checked_at.asc().nulls_first(), ChannelListing.id)
        )
        if limit is not None:
            statement = statement.limit(limit)
        return await self.get_all(statement)

    async def mark_all_unconfirmed(self, now: datetime) -> dict[tuple[uuid.UUID, str], int]:
        """Set `create_sent_at` to `now` on every listing, of every workspace, with neither a
        remote id nor a create sent, so that its next create looks itself up on the platform
        first (after a restore: see `publishing.restore`). One UPDATE; how many it marked per
        (organization_id, platform). Listings already marked keep their time."""
        result = await self.session.execute(
            update(ChannelListing)
            .where(ChannelListing.remote_id.is_(None), ChannelListing.create_sent_at.is_(None))
            .values(create_sent_at=now, modified_at=now)
            .returning(ChannelListing.organization_id, ChannelListing.platform)
            .execution_options(synchronize_session=False)
        )
        marked: dict[tuple[uuid.UUID, str], int] = {}
        for organization_id, platform in result.all():
            marked[(organization_id, platform)] = marked.get((organization_id, platform), 0) + 1
        return marked

    async def by_remote_id(self, connection_id: uuid.UUID, remote_id: str) -> ChannelListing | None:
        return await self.get_one_or_none(
            self.get_base_statement()
            .where(
                ChannelListing.connection_id == connection_id,
                ChannelListing.remote_id == remote_id,
            )
            .execution_options(populate_existing=True)
        )


class PublishIntentRepository(TenantRepository[PublishIntent]):
    model = PublishIntent

    async def insert_once(
        self,
        *,
        organization_id: uuid.UUID,
        listing_id: uuid.UUID,
        action: IntentAction,
        version: int,
        payload_hash: str,
    ) -> tuple[PublishIntent, bool]:
        """The intent for (listing, action, version) and whether this call created it.
        INSERT … ON CONFLICT DO NOTHING: two requests at once end with one row."""
        statement = (
            dialect_insert(self.session, PublishIntent)
            .values(
                _new_intent(organization_id, listing_id, action, version, payload_hash, utc_now())
            )
            .on_conflict_do_nothing(index_elements=["listing_id", "action", "version"])
            .returning(PublishIntent.id)
        )
        created = (await self.session.execute(statement)).scalar_one_or_none() is not None
        intent = await self.get_one_or_none(
            self.get_base_statement()
            .where(
                PublishIntent.listing_id == listing_id,
                PublishIntent.action == action.value,
                PublishIntent.version == version,
            )
            .execution_options(populate_existing=True)
        )
        assert intent is not None
        return intent, created

    async def insert_many(
        self, rows: Sequence[tuple[uuid.UUID, uuid.UUID, IntentAction, int, str]]
    ) -> list[tuple[PublishIntent, bool]]:
        """`insert_once` for many (organization_id, listing_id, action, version, payload_hash)
        at once, in their order: a multi-row INSERT … ON CONFLICT DO NOTHING per chunk and one
        SELECT of what it made; a row that already existed is read as `insert_once` does."""
        out: list[tuple[PublishIntent, bool]] = []
        now = utc_now()
        for chunk in _chunks(rows):
            values = [
                _new_intent(organization_id, listing_id, action, version, payload_hash, now)
                for organization_id, listing_id, action, version, payload_hash in chunk
            ]
            result = await self.session.execute(
                dialect_insert(self.session, PublishIntent)
                .values(values)
                .on_conflict_do_nothing(index_elements=["listing_id", "action", "version"])
                .returning(PublishIntent.id)
            )
            created = set(result.scalars())
            made = {
                intent.id: intent
                for intent in await self.get_all(
                    self.get_base_statement()
                    .where(PublishIntent.id.in_(created))
                    .execution_options(populate_existing=True)
                )
            }
            for value, (organization_id, listing_id, action, version, payload_hash) in zip(
                values, chunk, strict=True
            ):
                if value["id"] in made:
                    out.append((made[value["id"]], True))
                else:  # another request made this (listing, action, version) first
                    out.append(
                        await self.insert_once(
                            organization_id=organization_id,
                            listing_id=listing_id,
                            action=action,
                            version=version,
                            payload_hash=payload_hash,
                        )
                    )
        return out

    async def open_for_many(
        self, listing_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, PublishIntent]:
        """`open_for` (any action) of many listings: each one's newest queued or running
        intent."""
        found: dict[uuid.UUID, PublishIntent] = {}
        for chunk in _chunks(listing_ids):
            rows = await self.get_all(
                self.get_base_statement()
                .where(
                    PublishIntent.listing_id.in_(list(chunk)),
                    PublishIntent.state.in_([IntentState.queued.value, IntentState.running.value]),
                )
                .order_by(PublishIntent.created_at.desc(), PublishIntent.version.desc())
                .execution_options(populate_existing=True)
            )
            for row in rows:
                found.setdefault(row.listing_id, row)
        return found

    async def newest_many(self, listing_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, PublishIntent]:
        """`newest` of many listings."""
        found: dict[uuid.UUID, PublishIntent] = {}
        for chunk in _chunks(listing_ids):
            rows = await self.get_all(
                self.get_base_statement()
                .where(PublishIntent.listing_id.in_(list(chunk)))
                .order_by(PublishIntent.created_at.desc(), PublishIntent.version.desc())
            )
            for row in rows:
                found.setdefault(row.listing_id, row)
        return found

    async def lock(self, intent_id: uuid.UUID) -> PublishIntent | None:
        return await self.get_one_or_none(
            self.get_base_statement()
            .where(PublishIntent.id == intent_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def history(self, listing_id: uuid.UUID) -> Sequence[PublishIntent]:
        return await self.get_all(
            self.get_base_statement()
            .where(PublishIntent.listing_id == listing_id)
            .order_by(PublishIntent.created_at.desc(), PublishIntent.version.desc())
        )

    async def latest_for(self, listing_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, PublishIntent]:
        """Each listing's newest intent."""
        if not listing_ids:
            return {}
        rows = await self.get_all(
            self.get_base_statement()
            .where(PublishIntent.listing_id.in_(list(listing_ids)))
            .order_by(PublishIntent.created_at, PublishIntent.version)
        )
        return {row.listing_id: row for row in rows}

    async def open_for(
        self, listing_id: uuid.UUID, action: IntentAction | None = None
    ) -> PublishIntent | None:
        """The newest queued or running intent of the listing."""
        statement = self.get_base_statement().where(
            PublishIntent.listing_id == listing_id,
            PublishIntent.state.in_([IntentState.queued.value, IntentState.running.value]),
        )
        if action is not None:
            statement = statement.where(PublishIntent.action == action.value)
        return await self.get_one_or_none(
            statement.order_by(PublishIntent.created_at.desc(), PublishIntent.version.desc())
            .limit(1)
            .execution_options(populate_existing=True)
        )

    async def newest(self, listing_id: uuid.UUID) -> PublishIntent | None:
        return await self.get_one_or_none(
            self.get_base_statement()
            .where(PublishIntent.listing_id == listing_id)
            .order_by(PublishIntent.created_at.desc(), PublishIntent.version.desc())
            .limit(1)
        )

    async def creating_connection(self, intent_id: uuid.UUID) -> uuid.UUID | None:
        """The connection a publish (create) intent goes to; None for an update, an
        unpublish, or an intent that is gone."""
        result = await self.session.execute(
            select(ChannelListing.connection_id)
            .join(PublishIntent, PublishIntent.listing_id == ChannelListing.id)
            .where(PublishIntent.id == intent_id, PublishIntent.action == IntentAction.publish)
        )
        return result.scalar_one_or_none()

    async def workflow_id(self, intent: PublishIntent) -> str | None:
        if intent.job_id is None:
            return None
        result = await self.session.execute(select(Job.workflow_id).where(Job.id == intent.job_id))
        return result.scalar_one_or_none()


# session.info key of the rows a bulk request preloaded for its payloads (`preloaded`).
PRELOADED = "publishing.preloaded_sources"


@dataclass
class Preloaded:
    """What `build_payload` reads through this repository, for many products at once."""

    variants: dict[uuid.UUID, list[ProductVariant]] = field(default_factory=dict)
    copies: dict[tuple[uuid.UUID, str], tuple[ListingCopy, ListingCopyVersion] | None] = field(
        default_factory=dict
    )
    render_ids: set[uuid.UUID] = field(default_factory=set)
    renders: dict[uuid.UUID, Render] = field(default_factory=dict)
    render_files: dict[tuple[uuid.UUID, str], list[tuple[RenderFile, MediaAsset]]] = field(
        default_factory=dict
    )


class PublishSourceRepository:
    """Reads of other domains' rows that a payload or a request needs (products, variants,
    listing copy, render files, connections); no writes."""

    def __init__(self, session: Any) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: Any) -> "PublishSourceRepository":
        return cls(session)

    def _preloaded(self) -> Preloaded | None:
        found: Preloaded | None = self.session.info.get(PRELOADED)
        return found

    @contextlib.asynccontextmanager
    async def preloaded(self, products: Sequence[Product], platforms: AbstractSet[str]) -> Any:
        """Within the block, `variants`, `newest_copy` (for `platforms`), `render` and
        `render_files` of these products are answered from a few queries made here, with
        exactly what their own queries would return: a bulk request builds hundreds of
        payloads, and reads nothing of these that the block could change."""
        if not products or self._preloaded() is not None:
            yield
            return
        preload = Preloaded()
        by_id = {p.id: p for p in products}
        organizations = {p.organization_id for p in products}
        for chunk in _chunks(list(by_id)):
            result = await self.session.execute(
                select(ProductVariant)
                .where(
                    ProductVariant.product_id.in_(list(chunk)),
                    ProductVariant.organization_id.in_(organizations),
                    ProductVariant.deleted_at.is_(None),
                )
                .order_by(ProductVariant.sku)
            )
            for product_id in chunk:
                preload.variants[product_id] = []
            for variant in result.scalars():
                if variant.organization_id == by_id[variant.product_id].organization_id:
                    preload.variants[variant.product_id].append(variant)
            if platforms:
                rows = await self.session.execute(
                    self._newest_copy_statement()
                    .where(
                        ListingCopy.product_id.in_(list(chunk)),
                        ListingCopy.organization_id.in_(organizations),
                        ListingCopy.platform.in_(sorted(platforms)),
                    )
                    .order_by(ListingCopyVersion.created_at.desc(), ListingCopy.id)
                )
                for product_id in chunk:
                    for platform in platforms:
                        preload.copies[(product_id, platform)] = None
                for copy, version in rows.all():
                    key = (copy.product_id, copy.platform)
                    owner = by_id[copy.product_id]
                    if (
                        preload.copies[key] is None
                        and copy.organization_id == owner.organization_id
                    ):
                        preload.copies[key] = (copy, version)
        preload.render_ids = {p.render_id for p in products if p.render_id is not None}
        types = {p.product_type for p in products}
        for chunk in _chunks(sorted(preload.render_ids)):
            result = await self.session.execute(
                select(Render).where(
                    Render.id.in_(list(chunk)), Render.organization_id.in_(organizations)
                )
            )
            for render in result.scalars():
                preload.renders[render.id] = render
                for product_type in types:
                    preload.render_files[(render.id, product_type)] = []
            files = await self.session.execute(
                select(RenderFile, MediaAsset)
                .join(MediaAsset, MediaAsset.id == RenderFile.media_asset_id)
                .where(
                    RenderFile.render_id.in_(list(chunk)),
                    RenderFile.organization_id.in_(organizations),
                    RenderFile.product_type.in_(sorted(types)),
                    RenderFile.deleted_at.is_(None),
                )
                .order_by(RenderFile.kind, RenderFile.label, RenderFile.id)
            )
            for render_file, asset in files.all():
                render = preload.renders.get(render_file.render_id)
                if render is not None and render_file.organization_id == render.organization_id:
                    preload.render_files[(render.id, render_file.product_type)].append(
                        (render_file, asset)
                    )
        self.session.info[PRELOADED] = preload
        try:
            yield
        finally:
            self.session.info.pop(PRELOADED, None)

    async def products(
        self, ids: Sequence[uuid.UUID], organization_ids: AbstractSet[uuid.UUID]
    ) -> dict[uuid.UUID, Product]:
        result = await self.session.execute(
            select(Product).where(
                Product.id.in_(list(ids)),
                Product.organization_id.in_(organization_ids),
                Product.deleted_at.is_(None),
            )
        )
        return {p.id: p for p in result.scalars()}

    async def product(self, id: uuid.UUID) -> Product | None:
        result = await self.session.execute(
            select(Product).where(Product.id == id, Product.deleted_at.is_(None))
        )
        product: Product | None = result.scalar_one_or_none()
        return product

    async def connections(
        self, ids: Sequence[uuid.UUID], organization_ids: AbstractSet[uuid.UUID]
    ) -> dict[uuid.UUID, PlatformConnection]:
        result = await self.session.execute(
            select(PlatformConnection).where(
                PlatformConnection.id.in_(list(ids)),
                PlatformConnection.organization_id.in_(organization_ids),
                PlatformConnection.deleted_at.is_(None),
            )
        )
        return {c.id: c for c in result.scalars()}

    async def connection(self, id: uuid.UUID) -> PlatformConnection | None:
        result = await self.session.execute(
            select(PlatformConnection).where(PlatformConnection.id == id)
        )
        connection: PlatformConnection | None = result.scalar_one_or_none()
        return connection

    async def connections_of(
        self, organization_id: uuid.UUID
    ) -> dict[uuid.UUID, PlatformConnection]:
        result = await self.session.execute(
            select(PlatformConnection).where(PlatformConnection.organization_id == organization_id)
        )
        return {c.id: c for c in result.scalars()}

    async def variants(self, product: Product) -> Sequence[ProductVariant]:
        preload = self._preloaded()
        if preload is not None and product.id in preload.variants:
            return list(preload.variants[product.id])
        result = await self.session.execute(
            select(ProductVariant)
            .where(
                ProductVariant.product_id == product.id,
                ProductVariant.organization_id == product.organization_id,
                ProductVariant.deleted_at.is_(None),
            )
            .order_by(ProductVariant.sku)
        )
        return list(result.scalars())

    async def newest_copy(
        self, product: Product, platform: str
    ) -> tuple[ListingCopy, ListingCopyVersion] | None:
        """The product's most recently written listing copy for `platform` (any language),
        with its newest version."""
        preload = self._preloaded()
        if preload is not None and (product.id, platform) in preload.copies:
            return preload.copies[(product.id, platform)]
        result = await self.session.execute(
            self._newest_copy_statement()
            .where(
                ListingCopy.product_id == product.id,
                ListingCopy.organization_id == product.organization_id,
                ListingCopy.platform == platform,
            )
            .order_by(ListingCopyVersion.created_at.desc(), ListingCopy.id)
            .limit(1)
        )
        row = result.first()
        return (row[0], row[1]) if row else None

    @staticmethod
    def _newest_copy_statement() -> Any:
        return (
            select(ListingCopy, ListingCopyVersion)
            .join(
                ListingCopyVersion,
                (ListingCopyVersion.listing_copy_id == ListingCopy.id)
                & (ListingCopyVersion.version == ListingCopy.latest_version),
            )
            .where(ListingCopy.latest_version > 0, ListingCopy.deleted_at.is_(None))
        )

    async def render(self, product: Product) -> Render | None:
        if product.render_id is None:
            return None
        preload = self._preloaded()
        if preload is not None and product.render_id in preload.render_ids:
            found = preload.renders.get(product.render_id)
            return (
                found
                if found is not None and found.organization_id == product.organization_id
                else None
            )
        result = await self.session.execute(
            select(Render).where(
                Render.id == product.render_id,
                Render.organization_id == product.organization_id,
            )
        )
        render: Render | None = result.scalar_one_or_none()
        return render

    async def render_files(
        self, render: Render, product_type: str
    ) -> list[tuple[RenderFile, MediaAsset]]:
        preload = self._preloaded()
        if preload is not None and (render.id, product_type) in preload.render_files:
            return list(preload.render_files[(render.id, product_type)])
        result = await self.session.execute(
            select(RenderFile, MediaAsset)
            .join(MediaAsset, MediaAsset.id == RenderFile.media_asset_id)
            .where(
                RenderFile.render_id == render.id,
                RenderFile.organization_id == render.organization_id,
                RenderFile.product_type == product_type,
                RenderFile.deleted_at.is_(None),
            )
            .order_by(RenderFile.kind, RenderFile.label, RenderFile.id)
        )
        return [(row[0], row[1]) for row in result.all()]

    async def connections_with_published(self) -> Sequence[PlatformConnection]:
        """Every active connection, of any workspace, holding at least one published listing
        with a remote id (what `ChannelListingRepository.published_on` checks), in id order:
        the scheduled drift check's fan-out (a worker's read, no subject)."""
        has_published = (
            select(ChannelListing.id)
            .where(
                ChannelListing.connection_id == PlatformConnection.id,
                ChannelListing.state == ListingState.published.value,
                ChannelListing.remote_id.is_not(None),
                ChannelListing.deleted_at.is_(None),
            )
            .exists()
        )
        result = await self.session.execute(
            select(PlatformConnection)
            .where(
                PlatformConnection.status == ConnectionStatus.active,
                PlatformConnection.deleted_at.is_(None),
                has_published,
            )
            .order_by(PlatformConnection.id)
        )
        return list(result.scalars())

import uuid
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from sqlalchemy import Select, func, select, update

from flashfusion.kit.repository import TenantRepository, dialect_insert
from flashfusion.models import (
    BatchItemStatus,
    BrandVoice,
    ContentBatch,
    ContentBatchItem,
    ContentExperiment,
    ListingCopy,
    ListingCopyStatus,
    ListingCopyVersion,
)


class ListingCopyRepository(TenantRepository[ListingCopy]):
    model = ListingCopy

    def search_statement(
        self,
        organization_ids: AbstractSet[uuid.UUID],
        *,
        product_id: uuid.UUID | None,
        platform: str | None,
        language: str | None,
    ) -> Select[ListingCopy]:
        # A copy without a version yet (its first generation failed) is not in the library.
        statement = self.statement_for_organizations(organization_ids).where(
            ListingCopy.latest_version > 0
        )
        if product_id is not None:
            statement = statement.where(ListingCopy.product_id == product_id)
        if platform:
            statement = statement.where(ListingCopy.platform == platform)
        if language:
            statement = statement.where(ListingCopy.language == language)
        return statement.order_by(ListingCopy.created_at.desc(), ListingCopy.id)

    async def upsert(
        self,
        *,
        organization_id: uuid.UUID,
        subject: str,
        platform: str,
        language: str,
        values: dict[str, Any],
    ) -> ListingCopy:
        """The copy for (subject, platform, language), created from `values` if new: an insert
        that does nothing on conflict, then a read, so two writers never make two copies."""
        await self.session.execute(
            dialect_insert(self.session, ListingCopy)
            .values(
                id=uuid.uuid4(),
                organization_id=organization_id,
                subject=subject,
                platform=platform,
                language=language,
                status=ListingCopyStatus.draft.value,
                latest_version=0,
                created_at=func.now(),
                **values,
            )
            .on_conflict_do_nothing(
                index_elements=["organization_id", "subject", "platform", "language"]
            )
        )
        result = await self.session.execute(
            select(ListingCopy)
            .where(
                ListingCopy.organization_id == organization_id,
                ListingCopy.subject == subject,
                ListingCopy.platform == platform,
                ListingCopy.language == language,
            )
            .execution_options(populate_existing=True)
        )
        return result.scalar_one()

    async def next_version(self, copy: ListingCopy) -> int:
        # SET n = n + 1 in the database: two writers never get the same version number.
        result = await self.session.execute(
            update(ListingCopy)
            .where(ListingCopy.id == copy.id)
            .values(latest_version=ListingCopy.latest_version + 1)
            .returning(ListingCopy.latest_version)
        )
        return int(result.scalar_one())


class ListingCopyVersionRepository(TenantRepository[ListingCopyVersion]):
    model = ListingCopyVersion

    async def for_copy(self, copy: ListingCopy) -> list[ListingCopyVersion]:
        return list(
            await self.get_all(
                self.get_base_statement()
                .where(ListingCopyVersion.listing_copy_id == copy.id)
                .order_by(ListingCopyVersion.version.desc())
            )
        )

    async def number(self, copy: ListingCopy, number: int) -> ListingCopyVersion | None:
        return await self.get_one_or_none(
            self.get_base_statement().where(
                ListingCopyVersion.listing_copy_id == copy.id,
                ListingCopyVersion.version == number,
            )
        )

    async def latest_for(
        self, copies: Sequence[ListingCopy]
    ) -> dict[uuid.UUID, ListingCopyVersion]:
        """Each copy's newest version, by copy id."""
        if not copies:
            return {}
        versions = await self.get_all(
            self.get_base_statement().where(
                ListingCopyVersion.listing_copy_id.in_([c.id for c in copies])
            )
        )
        latest = {c.id: c.latest_version for c in copies}
        return {
            v.listing_copy_id: v for v in versions if v.version == latest.get(v.listing_copy_id)
        }


class BrandVoiceRepository(TenantRepository[BrandVoice]):
    model = BrandVoice

    def ordered(self, organization_ids: AbstractSet[uuid.UUID]) -> Select[BrandVoice]:
        return self.statement_for_organizations(organization_ids).order_by(
            BrandVoice.is_default.desc(), BrandVoice.name, BrandVoice.id
        )

    async def default_for(self, organization_id: uuid.UUID) -> BrandVoice | None:
        return await self.get_one_or_none(
            self.statement_for_organizations({organization_id}).where(
                BrandVoice.is_default.is_(True)
            )
        )

    async def clear_default(self, organization_id: uuid.UUID) -> None:
        await self.session.execute(
            update(BrandVoice)
            .where(BrandVoice.organization_id == organization_id, BrandVoice.is_default)
            .values(is_default=False)
        )


class ContentExperimentRepository(TenantRepository[ContentExperiment]):
    model = ContentExperiment

    def search_statement(
        self,
        organization_ids: AbstractSet[uuid.UUID],
        *,
        listing_copy_id: uuid.UUID | None,
        status: str | None,
    ) -> Select[ContentExperiment]:
        statement = self.statement_for_organizations(organization_ids)
        if listing_copy_id is not None:
            statement = statement.where(ContentExperiment.listing_copy_id == listing_copy_id)
        if status:
            statement = statement.where(ContentExperiment.status == status)
        return statement.order_by(ContentExperiment.created_at.desc(), ContentExperiment.id)

    async def running_for(
        self, copy: ListingCopy, field: str, *, excluding: uuid.UUID
    ) -> ContentExperiment | None:
        return await self.get_one_or_none(
            self.statement_for_organizations({copy.organization_id})
            .where(
                ContentExperiment.listing_copy_id == copy.id,
                ContentExperiment.field == field,
                ContentExperiment.status == "running",
                ContentExperiment.id != excluding,
            )
            .limit(1)
        )


class ContentBatchRepository(TenantRepository[ContentBatch]):
    model = ContentBatch

    def ordered(self, organization_ids: AbstractSet[uuid.UUID]) -> Select[ContentBatch]:
        return self.statement_for_organizations(organization_ids).order_by(
            ContentBatch.created_at.desc(), ContentBatch.id
        )

    async def count_item(self, batch_id: uuid.UUID, *, failed: bool) -> None:
        """One more item done (or failed), counted in the database: chunks save concurrently."""
        column = ContentBatch.failed if failed else ContentBatch.done
        await self.session.execute(
            update(ContentBatch).where(ContentBatch.id == batch_id).values({column.key: column + 1})
        )


class ContentBatchItemRepository(TenantRepository[ContentBatchItem]):
    model = ContentBatchItem

    async def for_batch(self, batch_id: uuid.UUID) -> list[ContentBatchItem]:
        return list(
            await self.get_all(
                self.get_base_statement()
                .where(ContentBatchItem.batch_id == batch_id)
                .order_by(ContentBatchItem.position)
            )
        )

    async def pending_ids(self, batch_id: uuid.UUID) -> list[uuid.UUID]:
        result = await self.session.execute(
            select(ContentBatchItem.id)
            .where(
                ContentBatchItem.batch_id == batch_id,
                ContentBatchItem.status == BatchItemStatus.pending,
            )
            .order_by(ContentBatchItem.position)
        )
        return list(result.scalars())

    async def pending_among(self, item_ids: Sequence[uuid.UUID]) -> Sequence[ContentBatchItem]:
        """The items of `item_ids` still pending (a re-run step skips the ones saved)."""
        return await self.get_all(
            select(ContentBatchItem)
            .where(
                ContentBatchItem.id.in_(item_ids),
                ContentBatchItem.status == BatchItemStatus.pending,
            )
            .order_by(ContentBatchItem.position)
        )

    async def reset_failed(self, batch_id: uuid.UUID) -> int:
        """Mark the batch's failed items pending again; how many there were."""
        result = await self.session.execute(
            update(ContentBatchItem)
            .where(
                ContentBatchItem.batch_id == batch_id,
                ContentBatchItem.status == BatchItemStatus.failed,
            )
            .values(status=BatchItemStatus.pending, error=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)

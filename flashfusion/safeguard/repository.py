import uuid
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from flashfusion.content.repository import SCRIPT_PREFIX
from flashfusion.kit.repository import TenantRepository, dialect_insert
from flashfusion.models import (
    BrandVoice,
    DesignVersion,
    ListingCopy,
    Product,
    SafeguardHold,
    SafeguardOverride,
    SafeguardReport,
    SafeguardSettings,
    TrademarkMark,
)
from flashfusion.safeguard.types import Verdict


class SafeguardReportRepository(TenantRepository[SafeguardReport]):
    model = SafeguardReport

    def _newest_first(self, statement: Select[SafeguardReport]) -> Select[SafeguardReport]:
        return statement.order_by(SafeguardReport.created_at.desc(), SafeguardReport.id.desc())

    async def latest_for_product(self, product_id: uuid.UUID) -> SafeguardReport | None:
        return await self.get_one_or_none(
            self._newest_first(
                self.get_base_statement().where(SafeguardReport.product_id == product_id)
            ).limit(1)
        )

    async def latest_for_products(
        self, product_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, SafeguardReport]:
        """The newest report of each product that has one, by product id, in one statement
        (newest as `latest_for_product` orders them)."""
        if not product_ids:
            return {}
        ranked = (
            select(
                SafeguardReport.id,
                func.row_number()
                .over(
                    partition_by=SafeguardReport.product_id,
                    order_by=(SafeguardReport.created_at.desc(), SafeguardReport.id.desc()),
                )
                .label("rank"),
            )
            .where(
                SafeguardReport.product_id.in_(product_ids), SafeguardReport.deleted_at.is_(None)
            )
            .subquery()
        )
        rows = await self.get_all(
            self.get_base_statement()
            .join(ranked, ranked.c.id == SafeguardReport.id)
            .where(ranked.c.rank == 1)
        )
        return {row.product_id: row for row in rows if row.product_id is not None}

    def search_statement(
        self,
        organization_ids: AbstractSet[uuid.UUID],
        *,
        product_id: uuid.UUID | None,
        verdict: Verdict | None,
        trigger: str | None,
    ) -> Select[SafeguardReport]:
        statement = self.statement_for_organizations(organization_ids)
        if product_id is not None:
            statement = statement.where(SafeguardReport.product_id == product_id)
        if verdict is not None:
            statement = statement.where(SafeguardReport.verdict == verdict)
        if trigger is not None:
            statement = statement.where(SafeguardReport.trigger == trigger)
        return self._newest_first(statement)

    async def latest_page(
        self, *, after_product_id: uuid.UUID | None, limit: int
    ) -> Sequence[SafeguardReport]:
        """The newest report of each live product, across every workspace, in product-id
        order from `after_product_id` (keyset pages: a re-screen streams them, never loads
        them all). For system jobs only: it is not filtered by tenant."""
        newer = aliased(SafeguardReport)
        statement = (
            select(SafeguardReport)
            .join(Product, Product.id == SafeguardReport.product_id)
            .where(
                Product.deleted_at.is_(None),
                SafeguardReport.deleted_at.is_(None),
                ~select(newer.id)
                .where(
                    newer.product_id == SafeguardReport.product_id,
                    newer.deleted_at.is_(None),
                    (newer.created_at > SafeguardReport.created_at)
                    | (
                        (newer.created_at == SafeguardReport.created_at)
                        & (newer.id > SafeguardReport.id)
                    ),
                )
                .exists(),
            )
            .order_by(SafeguardReport.product_id)
            .limit(limit)
        )
        if after_product_id is not None:
            statement = statement.where(SafeguardReport.product_id > after_product_id)
        return await self.get_all(statement)


class SafeguardOverrideRepository(TenantRepository[SafeguardOverride]):
    model = SafeguardOverride

    async def for_report(self, report_id: uuid.UUID) -> SafeguardOverride | None:
        return await self.get_one_or_none(
            self.get_base_statement().where(SafeguardOverride.report_id == report_id)
        )

    async def for_reports(
        self, report_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, SafeguardOverride]:
        if not report_ids:
            return {}
        rows = await self.get_all(
            self.get_base_statement().where(SafeguardOverride.report_id.in_(report_ids))
        )
        return {row.report_id: row for row in rows}

    async def insert_once(
        self,
        *,
        organization_id: uuid.UUID,
        report_id: uuid.UUID,
        user_id: uuid.UUID | None,
        reason: str,
    ) -> SafeguardOverride | None:
        """The new override, or None when the report has one already (two admins deciding at
        the same moment get one override and one 409, never two rows)."""
        override_id = uuid.uuid4()
        result = await self.session.execute(
            dialect_insert(self.session, SafeguardOverride)
            .values(
                id=override_id,
                organization_id=organization_id,
                report_id=report_id,
                user_id=user_id,
                reason=reason,
                created_at=func.now(),
            )
            .on_conflict_do_nothing(index_elements=["report_id"])
            .returning(SafeguardOverride.id)
        )
        if result.scalar_one_or_none() is None:
            return None
        return await self.session.get(SafeguardOverride, override_id, populate_existing=True)


class SafeguardSettingsRepository(TenantRepository[SafeguardSettings]):
    model = SafeguardSettings

    async def for_organization(self, organization_id: uuid.UUID) -> SafeguardSettings | None:
        return await self.get_one_or_none(
            self.get_base_statement().where(SafeguardSettings.organization_id == organization_id)
        )

    async def for_organizations(
        self, organization_ids: AbstractSet[uuid.UUID]
    ) -> dict[uuid.UUID, SafeguardSettings]:
        if not organization_ids:
            return {}
        rows = await self.get_all(self.statement_for_organizations(organization_ids))
        return {row.organization_id: row for row in rows}

    async def ensure(self, organization_id: uuid.UUID, values: dict[str, Any]) -> SafeguardSettings:
        """The workspace's row, inserted with `values` if it has none (race-free)."""
        await self.session.execute(
            dialect_insert(self.session, SafeguardSettings)
            .values(
                id=uuid.uuid4(), organization_id=organization_id, created_at=func.now(), **values
            )
            .on_conflict_do_nothing(index_elements=["organization_id"])
        )
        row = await self.get_one_or_none(
            self.get_base_statement()
            .where(SafeguardSettings.organization_id == organization_id)
            .execution_options(populate_existing=True)
        )
        assert row is not None
        return row


class SafeguardHoldRepository(TenantRepository[SafeguardHold]):
    model = SafeguardHold

    async def active_for_product(self, product_id: uuid.UUID) -> SafeguardHold | None:
        return await self.get_one_or_none(
            self.get_base_statement().where(
                SafeguardHold.product_id == product_id, SafeguardHold.released_at.is_(None)
            )
        )

    async def active_for_products(
        self, product_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, SafeguardHold]:
        """The active hold of each product that has one, by product id."""
        if not product_ids:
            return {}
        rows = await self.get_all(
            self.get_base_statement().where(
                SafeguardHold.product_id.in_(product_ids), SafeguardHold.released_at.is_(None)
            )
        )
        return {row.product_id: row for row in rows}

    async def hold(
        self,
        *,
        organization_id: uuid.UUID,
        product_id: uuid.UUID,
        report_id: uuid.UUID,
        import_id: str | None,
        marks: list[dict[str, Any]],
    ) -> SafeguardHold:
        """Put the product on hold (one row per product: a new hold replaces a released one)."""
        values = {
            "report_id": report_id,
            "import_id": import_id,
            "marks": marks,
            "released_at": None,
            "released_by_user_id": None,
            "release_reason": None,
        }
        await self.session.execute(
            dialect_insert(self.session, SafeguardHold)
            .values(
                id=uuid.uuid4(),
                organization_id=organization_id,
                product_id=product_id,
                created_at=func.now(),
                **values,
            )
            .on_conflict_do_update(
                index_elements=["product_id"], set_={**values, "modified_at": func.now()}
            )
        )
        row = await self.get_one_or_none(
            self.get_base_statement()
            .where(SafeguardHold.product_id == product_id)
            .execution_options(populate_existing=True)
        )
        assert row is not None
        return row

    async def release(
        self,
        product_id: uuid.UUID,
        *,
        at: datetime,
        user_id: uuid.UUID | None,
        reason: str,
    ) -> bool:
        """Release the product's active hold; False if it had none."""
        result = await self.session.execute(
            update(SafeguardHold)
            .where(SafeguardHold.product_id == product_id, SafeguardHold.released_at.is_(None))
            .values(released_at=at, released_by_user_id=user_id, release_reason=reason[:200])
        )
        return bool(getattr(result, "rowcount", 0))


class ProductCopyRepository(TenantRepository[ListingCopy]):
    """The listing copy a product is sold with (read by the screen). Video scripts of the
    product are not listings: they are never published with it, so they are left out."""

    model = ListingCopy

    async def for_products(self, products: Sequence[Product]) -> dict[uuid.UUID, list[ListingCopy]]:
        """The listing copies of each product (every product has an entry, maybe empty), with a
        version, by platform and language, in one statement."""
        found: dict[uuid.UUID, list[ListingCopy]] = {p.id: [] for p in products}
        if not products:
            return found
        rows = await self.get_all(
            self.statement_for_organizations({p.organization_id for p in products})
            .where(
                ListingCopy.product_id.in_(list(found)),
                ListingCopy.latest_version > 0,
                ~ListingCopy.platform.startswith(SCRIPT_PREFIX),
            )
            .order_by(ListingCopy.platform, ListingCopy.language, ListingCopy.id)
        )
        for row in rows:
            if row.product_id in found:
                found[row.product_id].append(row)
        return found


class ScreenSourceRepository:
    """Rows a screen reads by the id a product or a listing copy names: a product's design
    version, a copy's brand voice. Like `session.get` (what a one-product screen used), a
    soft-deleted row is still read: the product or copy was made with it. Only rows of the
    given workspaces are read."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> "ScreenSourceRepository":
        return cls(session)

    async def design_versions(
        self, ids: AbstractSet[uuid.UUID], organization_ids: AbstractSet[uuid.UUID]
    ) -> dict[uuid.UUID, DesignVersion]:
        if not ids:
            return {}
        result = await self.session.execute(
            select(DesignVersion).where(
                DesignVersion.id.in_(ids), DesignVersion.organization_id.in_(organization_ids)
            )
        )
        return {row.id: row for row in result.scalars()}

    async def brand_voices(
        self, ids: AbstractSet[uuid.UUID], organization_ids: AbstractSet[uuid.UUID]
    ) -> dict[uuid.UUID, BrandVoice]:
        if not ids:
            return {}
        result = await self.session.execute(
            select(BrandVoice).where(
                BrandVoice.id.in_(ids), BrandVoice.organization_id.in_(organization_ids)
            )
        )
        return {row.id: row for row in result.scalars()}


class MarkChangeRepository:
    """Reads of the marks database the re-screen needs and the trademark repository does not
    offer: which rows an import touched."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> "MarkChangeRepository":
        return cls(session)

    async def changed_among(self, import_id: uuid.UUID, mark_ids: AbstractSet[str]) -> set[str]:
        ids = [uuid.UUID(i) for i in mark_ids]
        result = await self.session.execute(
            select(TrademarkMark.id).where(
                TrademarkMark.id.in_(ids), TrademarkMark.last_import_id == import_id
            )
        )
        return {str(i) for i in result.scalars()}

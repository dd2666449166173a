import uuid
from collections.abc import Sequence
from collections.abc import Set as AbstractSet

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from flashfusion.kit.repository import TenantRepository
from flashfusion.models import Design, DesignVersion, MediaAsset, MediaKind, Render, RenderFile


class DesignRepository(TenantRepository[Design]):
    model = Design

    def search_statement(
        self, organization_ids: AbstractSet[uuid.UUID], *, query: str | None
    ) -> Select[Design]:
        statement = self.statement_for_organizations(organization_ids)
        if query:
            pattern = f"%{query.lower()}%"
            statement = statement.where(
                or_(func.lower(Design.name).like(pattern), func.lower(Design.phrase).like(pattern))
            )
        return statement.order_by(Design.created_at.desc(), Design.id)

    async def next_version_number(self, design: Design) -> int:
        """Claim the next version number with one atomic increment (no check-then-insert)."""
        result = await self.session.execute(
            update(Design)
            .where(Design.id == design.id)
            .values(latest_version=Design.latest_version + 1)
            .returning(Design.latest_version, Design.modified_at)
            .execution_options(synchronize_session=False)
        )
        number, modified_at = result.one()
        # The UPDATE bypassed the identity map: keep the loaded design what the row now says.
        set_committed_value(design, "latest_version", int(number))
        set_committed_value(design, "modified_at", modified_at)
        return int(number)


class DesignVersionRepository(TenantRepository[DesignVersion]):
    model = DesignVersion

    def statement_for_design(self, design: Design) -> Select[DesignVersion]:
        return (
            self.get_base_statement()
            .where(
                DesignVersion.design_id == design.id,
                DesignVersion.organization_id == design.organization_id,
            )
            .order_by(DesignVersion.number.desc())
        )

    async def get_number(self, design: Design, number: int) -> DesignVersion | None:
        return await self.get_one_or_none(
            self.statement_for_design(design).where(DesignVersion.number == number)
        )


class MediaAssetRepository(TenantRepository[MediaAsset]):
    model = MediaAsset

    async def get_by_ids(self, ids: Sequence[uuid.UUID]) -> Sequence[MediaAsset]:
        """Internal read by id (a job holding the render that owns them)."""
        if not ids:
            return []
        return await self.get_all(self.get_base_statement().where(MediaAsset.id.in_(ids)))

    async def get_many(
        self, ids: Sequence[uuid.UUID], organization_ids: AbstractSet[uuid.UUID]
    ) -> Sequence[MediaAsset]:
        if not ids:
            return []
        return await self.get_all(
            self.statement_for_organizations(organization_ids).where(MediaAsset.id.in_(ids))
        )

    async def recent(
        self, organization_ids: AbstractSet[uuid.UUID], *, kind: MediaKind, limit: int
    ) -> Sequence[MediaAsset]:
        return await self.get_all(
            self.statement_for_organizations(organization_ids)
            .where(MediaAsset.kind == kind)
            .order_by(MediaAsset.created_at.desc(), MediaAsset.id)
            .limit(limit)
        )


class RenderRepository(TenantRepository[Render]):
    model = Render

    def statement_for_design(self, design: Design) -> Select[Render]:
        return (
            self.get_base_statement()
            .where(Render.design_id == design.id, Render.organization_id == design.organization_id)
            .order_by(Render.created_at.desc(), Render.id)
        )


class RenderFileRepository(TenantRepository[RenderFile]):
    model = RenderFile

    async def for_render(self, render: Render) -> Sequence[RenderFile]:
        return await self.get_all(
            self.get_base_statement()
            .where(
                RenderFile.render_id == render.id,
                RenderFile.organization_id == render.organization_id,
            )
            .order_by(RenderFile.kind, RenderFile.product_type, RenderFile.label, RenderFile.id)
        )

    async def media_ids_of_render(self, render: Render) -> list[uuid.UUID]:
        result = await self.session.execute(
            select(RenderFile.media_asset_id).where(RenderFile.render_id == render.id)
        )
        return list(result.scalars())

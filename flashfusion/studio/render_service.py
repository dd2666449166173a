"""Renders: print files and mockups of a design version, produced by a durable job."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.audit.service import audit as audit_service
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.authz.permission import Permission
from flashfusion.authz.service import authz
from flashfusion.catalog.schemas import Catalog
from flashfusion.catalog.service import catalog as catalog_service
from flashfusion.exceptions import ResourceNotFound, UnprocessableEntity
from flashfusion.jobs.enqueue import enqueue
from flashfusion.kit.pagination import PaginationParams
from flashfusion.models import Design, DesignVersion, Render, RenderFile, RenderStatus
from flashfusion.studio import pipeline
from flashfusion.studio.media import _creator_id
from flashfusion.studio.repository import RenderFileRepository, RenderRepository
from flashfusion.studio.service import design as design_service
from flashfusion.studio.validation import EMPTY_DESIGN

RENDER_JOB = "studio.render"


class UnknownVariantError(UnprocessableEntity):
    """A variant key that the product type does not have."""


def resolve_selection(catalog: Catalog, selection: dict[str, list[str]]) -> dict[str, list[str]]:
    """Canonical product type keys and checked variant keys; 422 naming the bad entry."""
    resolved: dict[str, list[str]] = {}
    for key, variant_keys in selection.items():
        product_type = catalog_service.product_type(catalog, key, field=f"product_types.{key}")
        known = {v.key for v in product_type.variants}
        unknown = [v for v in variant_keys if v not in known]
        if unknown:
            sample = ", ".join(sorted(known)[:12])
            raise UnknownVariantError(
                f"product_types.{key}: unknown variant(s) {', '.join(unknown)}; "
                f"{product_type.name} has: {sample}{'…' if len(known) > 12 else ''}"
            )
        resolved[product_type.key] = sorted(set(variant_keys), key=variant_keys.index)
    return resolved


def tasks_for(catalog: Catalog, selection: dict[str, Any]) -> list[pipeline.Task]:
    return [
        pipeline.Task(product_type=catalog.product_types[key], variant_keys=list(keys))
        for key, keys in selection.items()
    ]


class RenderService:
    async def create(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        design: Design,
        version: DesignVersion,
        selection: dict[str, list[str]],
        *,
        mockups: bool,
    ) -> Render:
        """Check the selection, record the render and enqueue its job in one transaction."""
        await authz.require(
            session,
            auth_subject,
            design.organization_id,
            Permission.designs_manage,
            action="render.created",
            target_type="design",
            target_id=design.id,
        )
        catalog = await catalog_service.effective(session, design.organization_id)
        resolved = resolve_selection(catalog, selection)
        issues = await design_service.validate(session, design, version, resolved)
        empty = next((i for i in issues if i["code"] == EMPTY_DESIGN), None)
        if empty is not None:
            # The job could only fail: providers do not print blank files.
            raise UnprocessableEntity(f"version: {empty['message']}")
        render = Render(
            organization_id=design.organization_id,
            design_id=design.id,
            design_version_id=version.id,
            selection=resolved,
            mockups=mockups,
            status=RenderStatus.queued,
            progress_done=0,
            progress_total=pipeline.step_count(tasks_for(catalog, resolved), mockups=mockups),
            issues=issues,
            catalog_version=catalog.version,
            created_by_user_id=_creator_id(auth_subject),
        )
        await RenderRepository.from_session(session).create(render)
        job = await enqueue(
            session,
            RENDER_JOB,
            str(render.id),
            organization_id=design.organization_id,
            summary=f"Render “{design.name}” v{version.number} for {', '.join(resolved)}",
            created_by=auth_subject,
        )
        render.job_id = job.id
        await session.flush()
        await audit_service.record(
            session,
            auth_subject,
            action="render.created",
            organization_id=design.organization_id,
            target_type="render",
            target_id=render.id,
            details={"design": str(design.id), "version": version.number, "products": resolved},
        )
        return render

    async def get(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], id: uuid.UUID
    ) -> Render:
        ids = await authz.get_accessible_org_ids(session, auth_subject)
        render = await RenderRepository.from_session(session).get_for_organizations(id, ids)
        if render is None:
            raise ResourceNotFound("Render")
        await authz.require(
            session,
            auth_subject,
            render.organization_id,
            Permission.designs_read,
            action="render.read",
            target_type="render",
            target_id=render.id,
        )
        return render

    async def get_by_id(self, session: AsyncSession, id: uuid.UUID) -> Render | None:
        """Internal read for a caller that already holds the owning object."""
        return await RenderRepository.from_session(session).get_by_id(id)

    async def files(self, session: AsyncSession, render: Render) -> list[RenderFile]:
        return list(await RenderFileRepository.from_session(session).for_render(render))

    async def list_for_design(
        self, session: AsyncSession, design: Design, pagination: PaginationParams
    ) -> tuple[list[Render], int]:
        repository = RenderRepository.from_session(session)
        return await repository.paginate(repository.statement_for_design(design), pagination)


render_service = RenderService()

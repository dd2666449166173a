"""The catalog a workspace sees: the bundled, versioned catalog plus its own overrides."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.audit.service import audit as audit_service
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.authz.permission import Permission
from flashfusion.authz.service import authz
from flashfusion.catalog.registry import (
    UnknownProductType,
    apply_overrides,
    get_catalog,
    resolve_key,
)
from flashfusion.catalog.repository import CatalogOverrideRepository
from flashfusion.catalog.schemas import Catalog, ProductType
from flashfusion.exceptions import ResourceNotFound, UnprocessableEntity
from flashfusion.models import CatalogOverride


class UnknownProductTypeError(UnprocessableEntity):
    """A product type key that is not in the catalog."""


class InvalidCatalogOverride(UnprocessableEntity):
    """The override document does not fit the catalog."""


class CatalogService:
    async def effective(self, session: AsyncSession, organization_id: uuid.UUID) -> Catalog:
        """The bundled catalog with the workspace's overrides applied (no permission check:
        callers have already resolved the organization through authz)."""
        override = await CatalogOverrideRepository.from_session(session).for_organization(
            organization_id
        )
        catalog = get_catalog()
        if override is None or not override.document:
            return catalog
        return apply_overrides(catalog, override.document)

    def product_type(
        self, catalog: Catalog, key: str, *, field: str = "product_type"
    ) -> ProductType:
        try:
            return catalog.product_types[resolve_key(catalog, key)]
        except UnknownProductType as e:
            raise UnknownProductTypeError(f"{field}: {e}") from e

    async def for_subject(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        organization_id: uuid.UUID,
        *,
        permission: Permission = Permission.products_read,
        action: str = "catalog.read",
    ) -> Catalog:
        ids = await authz.get_accessible_org_ids(session, auth_subject)
        if organization_id not in ids:
            raise ResourceNotFound("Organization")
        await authz.require(session, auth_subject, organization_id, permission, action=action)
        return await self.effective(session, organization_id)

    async def get_override(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], organization_id: uuid.UUID
    ) -> dict[str, Any]:
        await self.for_subject(session, auth_subject, organization_id)
        override = await CatalogOverrideRepository.from_session(session).for_organization(
            organization_id
        )
        return override.document if override else {}

    async def set_override(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        organization_id: uuid.UUID,
        document: dict[str, Any],
    ) -> dict[str, Any]:
        """Replace the workspace's override document after checking that it applies."""
        await self.for_subject(
            session,
            auth_subject,
            organization_id,
            permission=Permission.catalog_manage,
            action="catalog.override_updated",
        )
        try:
            apply_overrides(get_catalog(), document)
        except ValueError as e:
            raise InvalidCatalogOverride(str(e)) from e
        repository = CatalogOverrideRepository.from_session(session)
        override = await repository.for_organization(organization_id)
        if override is None:
            override = CatalogOverride(organization_id=organization_id, document=document)
            await repository.create(override)
        else:
            await repository.update(override, values={"document": document})
        await audit_service.record(
            session,
            auth_subject,
            action="catalog.override_updated",
            organization_id=organization_id,
            target_type="catalog_override",
            target_id=override.id,
            details={"product_types": sorted(document.get("product_types", {}))},
        )
        return document


catalog = CatalogService()

"""Designs and their versions: create from a phrase and a preset, save, revert, preview, check."""

import builtins
import io
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.audit.service import audit as audit_service
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.authz.permission import Permission
from flashfusion.authz.service import authz
from flashfusion.catalog.service import catalog as catalog_service
from flashfusion.exceptions import ResourceNotFound, UnprocessableEntity
from flashfusion.kit.pagination import PaginationParams
from flashfusion.models import Design, DesignVersion
from flashfusion.studio import presets as preset_registry
from flashfusion.studio.document import DesignDocument, ImageLayer
from flashfusion.studio.media import _creator_id
from flashfusion.studio.media import media as media_service
from flashfusion.studio.pipeline import default_area_keys
from flashfusion.studio.printfile import PrintFileError
from flashfusion.studio.render import check_document, render
from flashfusion.studio.repository import DesignRepository, DesignVersionRepository
from flashfusion.studio.validation import Issue, apply_fix, validate


class UnknownPresetError(UnprocessableEntity):
    """The preset key is not one of the style presets."""


class InvalidDesign(UnprocessableEntity):
    """The document names a font, image or layer that does not work."""


class MissingDesignInput(UnprocessableEntity):
    """Neither a document nor a phrase was given."""


def media_ids_of(document: DesignDocument) -> list[str]:
    return [layer.media_id for layer in document.layers if isinstance(layer, ImageLayer)]


def check_preset(preset: str) -> None:
    """422 naming `preset` unless it is one of the style presets."""
    if preset not in preset_registry.PRESETS:
        raise UnknownPresetError(f"preset: {preset_registry.UnknownPreset(preset)}")


def build_from_preset(preset: str, phrase: str) -> DesignDocument:
    check_preset(preset)
    try:
        return preset_registry.build_design(preset, phrase)
    except preset_registry.InvalidPhrase as e:
        raise InvalidDesign(f"phrase: {e}") from e


class DesignService:
    async def check(
        self, session: AsyncSession, organization_id: uuid.UUID, document: DesignDocument
    ) -> None:
        """Refuse a document whose fonts, images or layers don't work (422 naming the field)."""
        existing = await media_service.existing_ids(
            session, organization_id, media_ids_of(document)
        )
        problems = check_document(document, media_exists=lambda media_id: media_id in existing)
        if problems:
            raise InvalidDesign("; ".join(f"document.{p.field}: {p.message}" for p in problems))

    async def list(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID | None,
        query: str | None,
        pagination: PaginationParams,
    ) -> tuple[builtins.list[Design], int]:
        readable = await authz.get_readable_org_ids(
            session,
            auth_subject,
            Permission.designs_read,
            organization_id=organization_id,
            action="design.list",
        )
        repository = DesignRepository.from_session(session)
        return await repository.paginate(
            repository.search_statement(readable, query=query), pagination
        )

    async def get(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        id: uuid.UUID,
        *,
        permission: Permission = Permission.designs_read,
        action: str = "design.read",
    ) -> Design:
        ids = await authz.get_accessible_org_ids(session, auth_subject)
        design = await DesignRepository.from_session(session).get_for_organizations(id, ids)
        if design is None:
            raise ResourceNotFound("Design")
        await authz.require(
            session,
            auth_subject,
            design.organization_id,
            permission,
            action=action,
            target_type="design",
            target_id=design.id,
        )
        return design

    async def create(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID,
        name: str | None,
        phrase: str | None,
        preset: str | None,
        document: DesignDocument | None,
    ) -> tuple[Design, DesignVersion]:
        """A new design and its version 1, from a document or from phrase + preset."""
        await authz.accessible_organization(
            session,
            auth_subject,
            organization_id,
            Permission.designs_manage,
            action="design.created",
        )
        if document is None:
            if not phrase:
                raise MissingDesignInput(
                    "phrase: type the text to design (or send a full `document`)."
                )
            document = build_from_preset(preset or "retro-sunset", phrase)
        elif preset is not None:
            check_preset(preset)  # the key must exist even though the document is used as is
        await self.check(session, organization_id, document)
        design = Design(
            organization_id=organization_id,
            name=(name or phrase or "Untitled design")[:100],
            phrase=phrase or "",
            preset=preset or document.preset,
            latest_version=1,
            created_by_user_id=_creator_id(auth_subject),
        )
        await DesignRepository.from_session(session).create(design)
        version = await self._add_version(
            session, auth_subject, design, document, note="", number=1
        )
        await audit_service.record(
            session,
            auth_subject,
            action="design.created",
            organization_id=organization_id,
            target_type="design",
            target_id=design.id,
            details={"name": design.name, "preset": design.preset},
        )
        return design, version

    async def _add_version(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        design: Design,
        document: DesignDocument,
        *,
        note: str,
        reverted_from: int | None = None,
        number: int | None = None,
    ) -> DesignVersion:
        """Save `document` as the design's next version (`number` only for a new design)."""
        if number is None:
            number = await DesignRepository.from_session(session).next_version_number(design)
        version = DesignVersion(
            organization_id=design.organization_id,
            design_id=design.id,
            number=number,
            document=document.model_dump(mode="json"),
            note=note,
            reverted_from=reverted_from,
            created_by_user_id=_creator_id(auth_subject),
        )
        return await DesignVersionRepository.from_session(session).create(version)

    async def rename(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], design: Design, name: str
    ) -> Design:
        await DesignRepository.from_session(session).update(design, values={"name": name})
        await audit_service.record(
            session,
            auth_subject,
            action="design.updated",
            organization_id=design.organization_id,
            target_type="design",
            target_id=design.id,
            details={"name": name},
        )
        return design

    async def delete(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], design: Design
    ) -> Design:
        design.set_deleted_at()
        await session.flush()
        await audit_service.record(
            session,
            auth_subject,
            action="design.deleted",
            organization_id=design.organization_id,
            target_type="design",
            target_id=design.id,
        )
        return design

    async def save_version(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        design: Design,
        document: DesignDocument,
        *,
        note: str = "",
    ) -> DesignVersion:
        """Every save is a new, immutable version."""
        await self.check(session, design.organization_id, document)
        version = await self._add_version(session, auth_subject, design, document, note=note)
        await audit_service.record(
            session,
            auth_subject,
            action="design.version_saved",
            organization_id=design.organization_id,
            target_type="design",
            target_id=design.id,
            details={"version": version.number},
        )
        return version

    async def list_versions(
        self, session: AsyncSession, design: Design, pagination: PaginationParams
    ) -> tuple[builtins.list[DesignVersion], int]:
        repository = DesignVersionRepository.from_session(session)
        return await repository.paginate(repository.statement_for_design(design), pagination)

    async def get_version(
        self, session: AsyncSession, design: Design, number: int | None
    ) -> DesignVersion:
        repository = DesignVersionRepository.from_session(session)
        version = await repository.get_number(
            design, design.latest_version if number is None else number
        )
        if version is None:
            raise ResourceNotFound("Design version")
        return version

    async def revert(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        design: Design,
        number: int,
    ) -> DesignVersion:
        """Restore an earlier version by saving a copy of it as the newest version."""
        old = await self.get_version(session, design, number)
        document = DesignDocument.model_validate(old.document)
        version = await self._add_version(
            session,
            auth_subject,
            design,
            document,
            note=f"Reverted to version {number}",
            reverted_from=number,
        )
        await audit_service.record(
            session,
            auth_subject,
            action="design.reverted",
            organization_id=design.organization_id,
            target_type="design",
            target_id=design.id,
            details={"to_version": number, "version": version.number},
        )
        return version

    async def preview(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        organization_id: uuid.UUID,
        document: DesignDocument,
        *,
        size: int,
    ) -> bytes:
        """An unsaved document rendered for the editor, with the workspace's images."""
        await authz.accessible_organization(
            session, auth_subject, organization_id, Permission.designs_read, action="design.preview"
        )
        return await self.preview_png(session, organization_id, document, size=size)

    async def preview_png(
        self,
        session: AsyncSession,
        organization_id: uuid.UUID,
        document: DesignDocument,
        *,
        size: int,
        checkerboard: bool = False,
    ) -> bytes:
        """The document rendered with its longest side `size` px (what the editor shows)."""
        await self.check(session, organization_id, document)
        loader = await media_service.loader(session, organization_id, media_ids_of(document))
        scale = size / max(document.canvas.width, document.canvas.height)
        image = render(document, scale=scale, media=loader).image
        if checkerboard:
            image = on_checkerboard(image)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=1)
        return buffer.getvalue()

    async def validate(
        self,
        session: AsyncSession,
        design: Design,
        version: DesignVersion,
        selection: dict[str, builtins.list[str]],
    ) -> builtins.list[dict[str, Any]]:
        """Validation issues for each selected product type, as API dicts."""
        document = DesignDocument.model_validate(version.document)
        catalog = await catalog_service.effective(session, design.organization_id)
        loader = await media_service.loader(session, design.organization_id, media_ids_of(document))
        results: list[dict[str, Any]] = []
        for key, variant_keys in selection.items():
            product_type = catalog_service.product_type(catalog, key, field=f"product_types.{key}")
            for issue in validate(
                document,
                product_type,
                area_keys=default_area_keys(product_type),
                variant_keys=variant_keys or None,
                media=loader,
            ):
                results.append(issue_dict(issue, product_type.key))
        return results

    async def fix(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        design: Design,
        version: DesignVersion,
        *,
        product_type_key: str,
        code: str,
        area_key: str | None,
        layer_id: str | None,
    ) -> DesignVersion:
        """Apply an automatic fix and save the result as a new version."""
        document = DesignDocument.model_validate(version.document)
        catalog = await catalog_service.effective(session, design.organization_id)
        product_type = catalog_service.product_type(catalog, product_type_key)
        loader = await media_service.loader(session, design.organization_id, media_ids_of(document))
        issues = validate(
            document, product_type, area_keys=default_area_keys(product_type), media=loader
        )
        match = next(
            (
                i
                for i in issues
                if i.code == code
                and (area_key is None or i.area_key == area_key)
                and (layer_id is None or i.layer_id == layer_id)
            ),
            None,
        )
        if match is None:
            raise UnprocessableEntity(
                f"code: version {version.number} has no '{code}' issue on {product_type.key}"
                " to fix; validate again to see the current issues."
            )
        if match.fix is None:
            raise UnprocessableEntity(f"code: '{code}' has no automatic fix; {match.message}")
        try:
            fixed = apply_fix(document, match, product_type, media=loader)
        except PrintFileError as e:
            raise UnprocessableEntity(f"code: {e}") from e
        return await self.save_version(
            session, auth_subject, design, fixed, note=f"Fixed {code} for {product_type.name}"
        )


def issue_dict(issue: Issue, product_type: str) -> dict[str, Any]:
    return {
        "code": issue.code,
        "severity": issue.severity,
        "product_type": product_type,
        "area_key": issue.area_key,
        "layer_id": issue.layer_id,
        "message": issue.message,
        "fix": issue.fix,
    }


def on_checkerboard(image: Any, cell: int = 12) -> Any:
    """Show transparency the way image editors do (preview only, never in print files)."""
    from PIL import Image, ImageDraw

    board = Image.new("RGBA", image.size, (255, 255, 255, 255))
    draw = ImageDraw.Draw(board)
    for y in range(0, image.size[1], cell):
        for x in range((y // cell) % 2 * cell, image.size[0], cell * 2):
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=(228, 228, 228, 255))
    board.alpha_composite(image)
    return board


design = DesignService()

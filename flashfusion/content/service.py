"""Listing copy: generate for a product or an idea, per platform and language; edit, revert, diff,
translate. Every change is a new immutable version (the content library). Short-video scripts
share the library's tables and live in `script_service`."""

import builtins
import difflib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.ai.types import TaskType
from flashfusion.audit.service import audit as audit_service
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.authz.permission import Permission
from flashfusion.authz.service import authz
from flashfusion.catalog.service import catalog as catalog_service
from flashfusion.content import rules as platform_rules
from flashfusion.content.draft import BrandVoiceProfile, ListingDraft, Platform
from flashfusion.content.repository import (
    SCRIPT_PREFIX,
    BrandVoiceRepository,
    ListingCopyRepository,
    ListingCopyVersionRepository,
)
from flashfusion.content.writer import (
    Checked,
    InvalidContentRequest,
    Written,
    brief_for,
    check,
    check_idea,
    check_language,
    check_platform,
    profile_of,
    writer,
)
from flashfusion.exceptions import ResourceNotFound
from flashfusion.kit.pagination import PaginationParams
from flashfusion.models import BrandVoice, Design, ListingCopy, ListingCopyVersion, Product
from flashfusion.studio.media import _creator_id

MAX_TARGETS = 40  # platforms × languages in one request
DIFF_FIELDS = platform_rules.ALL_FIELDS


class ContentService:
    # --- resolving inputs --------------------------------------------------------------------

    async def brand_voice(
        self, session: AsyncSession, organization_id: uuid.UUID, brand_voice_id: uuid.UUID | None
    ) -> BrandVoice | None:
        repository = BrandVoiceRepository.from_session(session)
        if brand_voice_id is not None:
            found = await repository.get_for_organizations(brand_voice_id, {organization_id})
            if found is None:
                raise InvalidContentRequest(
                    "brand_voice_id: no such brand voice in this workspace; list them at "
                    "/api/v1/brand-voices."
                )
            return found
        return await repository.default_for(organization_id)

    def targets(
        self, platforms: builtins.list[str], languages: builtins.list[str]
    ) -> builtins.list[tuple[Platform, str]]:
        if not platforms:
            raise InvalidContentRequest("platforms: choose at least one platform.")
        chosen = list(dict.fromkeys(check_platform(p) for p in platforms))
        codes = list(dict.fromkeys(check_language(code) for code in (languages or ["en"])))
        if len(chosen) * len(codes) > MAX_TARGETS:
            raise InvalidContentRequest(
                f"platforms × languages: {len(chosen) * len(codes)} listings in one request; "
                f"ask for at most {MAX_TARGETS} (use a batch for more)."
            )
        return [(p, code) for p in chosen for code in codes]

    async def product_idea(self, session: AsyncSession, product: Product) -> str:
        design = await session.get(Design, product.design_id)
        phrase = design.phrase if design is not None else ""
        return check_idea(phrase or product.title)

    # --- generate ----------------------------------------------------------------------------

    async def generate(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID,
        product: Product | None,
        idea: str | None,
        product_type: str | None,
        platforms: builtins.list[str],
        languages: builtins.list[str],
        brand_voice_id: uuid.UUID | None,
        keywords: builtins.list[str],
        audience: str | None,
        occasion: str | None,
        seed: int = 0,
    ) -> builtins.list[Written]:
        """Write listing copy for each platform × language; every piece is a new version."""
        await authz.require(
            session,
            auth_subject,
            organization_id,
            Permission.content_manage,
            action="content.generated",
            target_type="product" if product else None,
            target_id=product.id if product else None,
        )
        if product is not None:
            the_idea = check_idea(idea) if idea else await self.product_idea(session, product)
            type_key = product.product_type
            variant_keys: builtins.list[str] = []
        else:
            if idea is None:
                raise InvalidContentRequest("idea: give an idea, or a product_id to write for.")
            the_idea = check_idea(idea)
            if not product_type:
                raise InvalidContentRequest(
                    "product_type: say which product the idea goes on (e.g. 'tshirt', 'mug')."
                )
            type_key = product_type
            variant_keys = []
        catalog = await catalog_service.effective(session, organization_id)
        voice_row = await self.brand_voice(session, organization_id, brand_voice_id)
        profile = profile_of(voice_row)
        user_id = _creator_id(auth_subject)
        written: builtins.list[Written] = []
        for platform, language in self.targets(platforms, languages):
            brief = brief_for(
                catalog,
                idea=the_idea,
                product_type_key=type_key,
                platform=platform,
                language=language,
                brand_voice=profile,
                keywords=keywords,
                audience=audience,
                occasion=occasion,
                variant_keys=variant_keys,
                seed=seed,
            )
            written.append(
                await writer.write(
                    session,
                    organization_id=organization_id,
                    user_id=user_id,
                    brief=brief,
                    product_id=product.id if product else None,
                    brand_voice_id=voice_row.id if voice_row else None,
                )
            )
        await audit_service.record(
            session,
            auth_subject,
            action="content.generated",
            organization_id=organization_id,
            target_type="product" if product else "idea",
            target_id=product.id if product else None,
            details={
                "listings": len(written),
                "platforms": sorted({w.copy.platform for w in written}),
                "languages": sorted({w.copy.language for w in written}),
            },
        )
        return written

    # --- the library -------------------------------------------------------------------------

    async def list(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID | None,
        product_id: uuid.UUID | None,
        platform: str | None,
        language: str | None,
        pagination: PaginationParams,
        kind: "CopyKind | None" = None,
    ) -> tuple[builtins.list[ListingCopy], int]:
        kind = kind or LISTING
        readable = await authz.get_readable_org_ids(
            session,
            auth_subject,
            Permission.content_read,
            organization_id=organization_id,
            action=kind.action + "list",
        )
        repository = ListingCopyRepository.from_session(session)
        statement = repository.search_statement(
            readable,
            product_id=product_id,
            platform=kind.platform_filter(platform) if platform else None,
            language=check_language(language, field="language") if language else None,
            scripts=kind.scripts,
        )
        return await repository.paginate(statement, pagination)

    async def get(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        id: uuid.UUID,
        *,
        permission: Permission = Permission.content_read,
        action: str | None = None,
        kind: "CopyKind | None" = None,
    ) -> ListingCopy:
        kind = kind or LISTING
        ids = await authz.get_accessible_org_ids(session, auth_subject)
        copy = await ListingCopyRepository.from_session(session).get_for_organizations(id, ids)
        # Scripts and listing copy share a table; each kind's endpoints read only their own.
        if (
            copy is None
            or copy.latest_version == 0
            or copy.platform.startswith(SCRIPT_PREFIX) != kind.scripts
        ):
            raise ResourceNotFound(kind.label)
        await authz.require(
            session,
            auth_subject,
            copy.organization_id,
            permission,
            action=action or kind.action + "read",
            target_type="listing_copy",
            target_id=copy.id,
        )
        return copy

    async def versions(
        self, session: AsyncSession, copy: ListingCopy
    ) -> builtins.list[ListingCopyVersion]:
        return await ListingCopyVersionRepository.from_session(session).for_copy(copy)

    async def version(
        self,
        session: AsyncSession,
        copy: ListingCopy,
        number: int | None = None,
        *,
        kind: "CopyKind | None" = None,
    ) -> ListingCopyVersion:
        found = await ListingCopyVersionRepository.from_session(session).number(
            copy, copy.latest_version if number is None else number
        )
        if found is None:
            raise ResourceNotFound(f"{(kind or LISTING).label} version")
        return found

    async def latest_versions(
        self, session: AsyncSession, copies: builtins.list[ListingCopy]
    ) -> dict[uuid.UUID, ListingCopyVersion]:
        return await ListingCopyVersionRepository.from_session(session).latest_for(copies)

    async def edit(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        copy: ListingCopy,
        changes: dict[str, Any],
        *,
        note: str | None,
        kind: "CopyKind | None" = None,
    ) -> ListingCopyVersion:
        """Save the creator's edit as a new version; it is ready only if it obeys every limit
        (a listing's platform limits, a script's rules: see `kind`)."""
        kind = kind or LISTING
        action = kind.action + "edited"
        await authz.require(
            session,
            auth_subject,
            copy.organization_id,
            Permission.content_manage,
            action=action,
            target_type="listing_copy",
            target_id=copy.id,
        )
        if kind.empty_edit is not None and not any(v is not None for v in changes.values()):
            raise InvalidContentRequest(kind.empty_edit)
        current = await self.version(session, copy, kind=kind)
        merged = {**current.fields, **{k: v for k, v in changes.items() if v is not None}}
        try:
            parsed = kind.model.model_validate(merged)
        except ValidationError as e:
            first = e.errors()[0]
            raise InvalidContentRequest(
                f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
            ) from None
        checked, violations = await kind.check(session, copy, parsed)
        version = await writer.add_version(
            session,
            copy,
            fields=kind.dump(parsed),
            source="edited",
            checked=checked,
            violations=violations,
            provider=None,
            generation_id=None,
            user_id=_creator_id(auth_subject),
            note=note,
        )
        await audit_service.record(
            session,
            auth_subject,
            action=action,
            organization_id=copy.organization_id,
            target_type="listing_copy",
            target_id=copy.id,
            details={"version": version.version, "violations": len(violations)},
        )
        return version

    async def revert(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        copy: ListingCopy,
        number: int,
        *,
        kind: "CopyKind | None" = None,
    ) -> ListingCopyVersion:
        """Save version `number` again as the newest version (history is never rewritten)."""
        kind = kind or LISTING
        action = kind.action + "reverted"
        await authz.require(
            session,
            auth_subject,
            copy.organization_id,
            Permission.content_manage,
            action=action,
            target_type="listing_copy",
            target_id=copy.id,
        )
        old = await self.version(session, copy, number, kind=kind)
        parsed = kind.model.model_validate(old.fields)
        checked, violations = await kind.check(session, copy, parsed)
        version = await writer.add_version(
            session,
            copy,
            fields=kind.dump(parsed) if kind.revert_redumps else dict(old.fields),
            source="reverted",
            checked=checked,
            violations=violations,
            provider=old.provider,
            generation_id=old.generation_id,
            user_id=_creator_id(auth_subject),
            note=f"reverted to version {number}",
        )
        await audit_service.record(
            session,
            auth_subject,
            action=action,
            organization_id=copy.organization_id,
            target_type="listing_copy",
            target_id=copy.id,
            details={"to_version": number, "version": version.version},
        )
        return version

    async def diff(
        self,
        session: AsyncSession,
        copy: ListingCopy,
        a: int,
        b: int,
        *,
        kind: "CopyKind | None" = None,
    ) -> builtins.list[dict[str, Any]]:
        """Per field: what changed from version a to version b (unified diff lines)."""
        kind = kind or LISTING
        old = await self.version(session, copy, a, kind=kind)
        new = await self.version(session, copy, b, kind=kind)
        changes = []
        for name in kind.diff_fields:
            before, after = old.fields.get(name), new.fields.get(name)
            if before == after:
                continue
            lines_a = kind.lines(before)
            lines_b = kind.lines(after)
            changes.append(
                {
                    "field": name,
                    "before": before,
                    "after": after,
                    "diff": list(difflib.unified_diff(lines_a, lines_b, lineterm="", n=1))[2:],
                }
            )
        return changes

    async def _check(
        self, session: AsyncSession, copy: ListingCopy, draft: ListingDraft, *, fix: bool
    ) -> Any:
        catalog = await catalog_service.effective(session, copy.organization_id)
        brief = writer.brief_from_copy(catalog, copy, await self.copy_voice(session, copy))
        return check(draft, brief, platform_rules.get_rules(copy.platform), fix=fix)

    async def copy_voice(self, session: AsyncSession, copy: ListingCopy) -> BrandVoiceProfile:
        voice_row = (
            await session.get(BrandVoice, copy.brand_voice_id) if copy.brand_voice_id else None
        )
        return profile_of(voice_row)

    # --- translation and scripts -------------------------------------------------------------

    async def translate(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        copy: ListingCopy,
        languages: builtins.list[str],
    ) -> builtins.list[Written]:
        """Write this copy in other languages (translation chain), with each language's rules."""
        await authz.require(
            session,
            auth_subject,
            copy.organization_id,
            Permission.content_manage,
            action="content.translated",
            target_type="listing_copy",
            target_id=copy.id,
        )
        codes = [check_language(code) for code in languages]
        if not codes:
            raise InvalidContentRequest("languages: choose at least one language to translate to.")
        catalog = await catalog_service.effective(session, copy.organization_id)
        profile = await self.copy_voice(session, copy)
        # The source copy's tags are words of its language: not keywords for another one.
        written = []
        for code in dict.fromkeys(codes):
            if code == copy.language:
                continue
            brief = writer.brief_from_copy(catalog, copy, profile, language=code)
            written.append(
                await writer.write(
                    session,
                    organization_id=copy.organization_id,
                    user_id=_creator_id(auth_subject),
                    brief=brief,
                    product_id=copy.product_id,
                    brand_voice_id=copy.brand_voice_id,
                    task=TaskType.translation,
                )
            )
        return written


def _lines(value: Any) -> builtins.list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value).splitlines() or [""]


@dataclass(frozen=True)
class CopyKind:
    """What the shared version-history code (edit, revert, diff) needs to know about a kind of
    library row: listing copy here, a short-video script in `script_service`."""

    label: str  # names the row in errors: "Listing copy version not found"
    action: str  # prefix of the authz and audit actions: "content." + "edited"
    model: type[BaseModel]
    # The violations of a parsed version, and the `Checked` of a listing (None for a script).
    check: Callable[
        [AsyncSession, ListingCopy, Any],
        Awaitable[tuple[Checked | None, builtins.list[dict[str, Any]]]],
    ]
    dump: Callable[[Any], dict[str, Any]]
    diff_fields: Sequence[str]
    lines: Callable[[Any], builtins.list[str]]
    # The stored platform for a platform filter of the library, validated ("etsy" -> "etsy").
    platform_filter: Callable[[str], str]
    empty_edit: str | None = None  # the error for an edit that changes nothing (None: allowed)
    revert_redumps: bool = False  # save the parsed old version (True) or its stored fields
    scripts: bool = False  # rows whose platform starts with SCRIPT_PREFIX (else all others)


async def _check_listing(
    session: AsyncSession, copy: ListingCopy, draft: ListingDraft
) -> tuple[Checked, builtins.list[dict[str, Any]]]:
    checked = await content._check(session, copy, draft, fix=False)
    return checked, checked.violations


LISTING = CopyKind(
    label="Listing copy",
    action="content.",
    model=ListingDraft,
    check=_check_listing,
    dump=lambda draft: draft.model_dump(),
    diff_fields=DIFF_FIELDS,
    lines=_lines,
    platform_filter=lambda platform: check_platform(platform, field="platform").value,
)

content = ContentService()

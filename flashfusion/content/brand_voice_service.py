"""Brand voices: how a workspace's copy should sound. One of them may be the default, which
generation uses when no brand voice is named."""

import builtins
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.audit.service import audit as audit_service
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.authz.permission import Permission
from flashfusion.authz.service import authz
from flashfusion.content.repository import BrandVoiceRepository
from flashfusion.exceptions import ResourceNotFound, UnprocessableEntity
from flashfusion.kit.pagination import PaginationParams
from flashfusion.models import BrandVoice

NAME_MAX = 100
AUDIENCE_MAX = 300  # the column's size
TONE_MAX_ITEMS, TONE_ITEM_MAX = 8, 30
WORDS_MAX_ITEMS, WORD_MAX = 100, 40
EXAMPLE_COPY_MAX = 5000
FIELDS = ("name", "tone", "audience", "vocabulary", "banned_words", "example_copy", "is_default")


class InvalidBrandVoice(UnprocessableEntity):
    """A brand voice field breaks a limit; the message names the field."""


async def accessible_workspace(
    session: AsyncSession,
    auth_subject: AuthSubject[Subject],
    organization_id: uuid.UUID,
    permission: Permission,
    *,
    action: str,
) -> uuid.UUID:
    """`organization_id` if the subject belongs to it (else 404) and holds `permission` (else
    403): the check before acting on a workspace rather than on one of its objects."""
    await authz.accessible_organization(
        session, auth_subject, organization_id, permission, action=action
    )
    return organization_id


def _text(field: str, value: Any, limit: int, *, required: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidBrandVoice(f"{field}: must be text.")
    text = " ".join(value.split()) if field != "example_copy" else value.strip()
    if required and not text:
        raise InvalidBrandVoice(f"{field}: is empty; give the brand voice a name.")
    if len(text) > limit:
        raise InvalidBrandVoice(f"{field}: is {len(text)} characters; keep it to {limit}.")
    return text


def _words(field: str, values: Any, max_items: int, max_length: int) -> list[str]:
    if not isinstance(values, list):
        raise InvalidBrandVoice(f"{field}: must be a list of words.")
    words: list[str] = []
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            raise InvalidBrandVoice(f"{field}[{i}]: is empty; remove it or type a word.")
        word = " ".join(value.split())
        if len(word) > max_length:
            raise InvalidBrandVoice(
                f"{field}[{i}]: is {len(word)} characters; keep each to {max_length}."
            )
        # The same word twice (in any case) adds nothing: keep the first.
        if word.lower() not in {w.lower() for w in words}:
            words.append(word)
    if len(words) > max_items:
        raise InvalidBrandVoice(f"{field}: has {len(words)} entries; keep it to {max_items}.")
    return words


def check_voice(values: dict[str, Any]) -> dict[str, Any]:
    """The values cleaned (whitespace, duplicates), or InvalidBrandVoice naming the field."""
    checked: dict[str, Any] = {}
    for field, value in values.items():
        if field == "is_default":
            if not isinstance(value, bool):
                raise InvalidBrandVoice("is_default: send true or false.")
            checked[field] = value
        elif value is None:
            raise InvalidBrandVoice(f"{field}: must not be null.")
        elif field == "name":
            checked[field] = _text(field, value, NAME_MAX, required=True)
        elif field == "audience":
            checked[field] = _text(field, value, AUDIENCE_MAX)
        elif field == "example_copy":
            checked[field] = _text(field, value, EXAMPLE_COPY_MAX)
        elif field == "tone":
            checked[field] = _words(field, value, TONE_MAX_ITEMS, TONE_ITEM_MAX)
        elif field in ("vocabulary", "banned_words"):
            checked[field] = _words(field, value, WORDS_MAX_ITEMS, WORD_MAX)
        else:
            raise InvalidBrandVoice(f"{field}: is not a brand voice field.")
    return checked


class BrandVoiceService:
    async def list(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID | None,
        pagination: PaginationParams,
    ) -> tuple[builtins.list[BrandVoice], int]:
        readable = await authz.get_readable_org_ids(
            session,
            auth_subject,
            Permission.content_read,
            organization_id=organization_id,
            action="brand_voice.list",
        )
        repository = BrandVoiceRepository.from_session(session)
        return await repository.paginate(repository.ordered(readable), pagination)

    async def get(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        id: uuid.UUID,
        *,
        permission: Permission = Permission.content_read,
        action: str = "brand_voice.read",
    ) -> BrandVoice:
        ids = await authz.get_accessible_org_ids(session, auth_subject)
        voice = await BrandVoiceRepository.from_session(session).get_for_organizations(id, ids)
        if voice is None:
            raise ResourceNotFound("Brand voice")
        await authz.require(
            session,
            auth_subject,
            voice.organization_id,
            permission,
            action=action,
            target_type="brand_voice",
            target_id=voice.id,
        )
        return voice

    async def create(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        organization_id: uuid.UUID,
        values: dict[str, Any],
    ) -> BrandVoice:
        await accessible_workspace(
            session,
            auth_subject,
            organization_id,
            Permission.content_manage,
            action="brand_voice.created",
        )
        checked = check_voice({k: v for k, v in values.items() if k in FIELDS})
        if "name" not in checked:
            raise InvalidBrandVoice("name: is empty; give the brand voice a name.")
        repository = BrandVoiceRepository.from_session(session)
        if checked.get("is_default"):
            await repository.clear_default(organization_id)
        voice = BrandVoice(
            organization_id=organization_id,
            **{
                "tone": [],
                "audience": "",
                "vocabulary": [],
                "banned_words": [],
                "example_copy": "",
                "is_default": False,
                **checked,
            },
        )
        await repository.create(voice)
        await audit_service.record(
            session,
            auth_subject,
            action="brand_voice.created",
            organization_id=organization_id,
            target_type="brand_voice",
            target_id=voice.id,
            details={"name": voice.name, "is_default": voice.is_default},
        )
        return voice

    async def update(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        voice: BrandVoice,
        changes: dict[str, Any],
    ) -> BrandVoice:
        checked = check_voice(changes)
        repository = BrandVoiceRepository.from_session(session)
        if checked.get("is_default"):
            await repository.clear_default(voice.organization_id)
        await repository.update(voice, values=checked)
        await audit_service.record(
            session,
            auth_subject,
            action="brand_voice.updated",
            organization_id=voice.organization_id,
            target_type="brand_voice",
            target_id=voice.id,
            details={"fields": sorted(checked)},
        )
        return voice

    async def delete(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], voice: BrandVoice
    ) -> BrandVoice:
        voice.set_deleted_at()
        voice.is_default = False
        await session.flush()
        await audit_service.record(
            session,
            auth_subject,
            action="brand_voice.deleted",
            organization_id=voice.organization_id,
            target_type="brand_voice",
            target_id=voice.id,
            details={"name": voice.name},
        )
        return voice


brand_voice = BrandVoiceService()

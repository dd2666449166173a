"""Short-video and voice-over scripts (TikTok, YouTube Shorts, Instagram Reels) in the library.

Each generated script is saved like listing copy: a `ListingCopy` row per product (or idea) ×
video platform × language, whose platform is `script:<video platform>` (e.g. `script:tiktok`),
with immutable `ListingCopyVersion`s holding the script. Regenerating or editing adds a version,
reverting saves an old one again as the newest, so history and diff work as for listings. The
listing endpoints never see these rows (see `ListingCopyRepository.search_statement`).
"""

import builtins
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.ai import prompts
from flashfusion.ai.service import Generation
from flashfusion.ai.service import ai as ai_service
from flashfusion.ai.types import AIRequest, TaskType
from flashfusion.audit.service import audit as audit_service
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.authz.permission import Permission
from flashfusion.authz.service import authz
from flashfusion.catalog.service import catalog as catalog_service
from flashfusion.content import rules as platform_rules
from flashfusion.content.compose import VideoScript
from flashfusion.content.draft import LANGUAGES, BrandVoiceProfile, Platform
from flashfusion.content.repository import (
    SCRIPT_PREFIX,
    ListingCopyRepository,
)
from flashfusion.content.service import CopyKind
from flashfusion.content.service import content as content_service
from flashfusion.content.writer import (
    InvalidContentRequest,
    brief_for,
    check_idea,
    check_language,
    profile_of,
    subject_of,
    writer,
)
from flashfusion.kit.pagination import PaginationParams
from flashfusion.models import (
    ListingCopy,
    ListingCopyVersion,
    Product,
)
from flashfusion.studio.media import _creator_id

VIDEO_PLATFORMS = ("tiktok", "youtube_shorts", "instagram_reels")
# FlashFusion's range for a short video (its own choice, not a platform limit).
MIN_SECONDS, MAX_SECONDS = 10, 180
LENGTH_SOURCE = "FlashFusion's script length range (10–180 seconds)"
SCRIPT_FIELDS = ("hook", "scenes", "call_to_action", "hashtags")


@dataclass(frozen=True)
class WrittenScript:
    copy: ListingCopy
    version: ListingCopyVersion
    script: VideoScript
    generation: Generation


def is_script(copy: ListingCopy) -> bool:
    return copy.platform.startswith(SCRIPT_PREFIX)


def video_platform(copy: ListingCopy) -> str:
    """The video platform of a script copy (`tiktok`, …), without the library's prefix."""
    return copy.platform.removeprefix(SCRIPT_PREFIX)


def check_video_platform(platform: str, *, field: str = "platform") -> str:
    name = platform.strip().lower()
    if name not in VIDEO_PLATFORMS:
        raise InvalidContentRequest(
            f"{field}: {platform!r} is not a video platform; use one of "
            + ", ".join(VIDEO_PLATFORMS)
        )
    return name


def seconds_of(fields: dict[str, Any]) -> int:
    return sum(int(scene.get("seconds", 0)) for scene in fields.get("scenes") or [])


def _violation(
    field: str, code: str, message: str, *, limit: int | None = None, source: str | None = None
) -> dict[str, Any]:
    """A broken script rule, in the shape of a listing's violations."""
    return {"field": field, "code": code, "message": message, "limit": limit, "source": source}


def violations_of(
    script: VideoScript, voice: BrandVoiceProfile, language: str
) -> builtins.list[dict[str, Any]]:
    """What keeps a script from being ready: a length outside FlashFusion's range, an empty
    hook or call to action, a word the brand voice bans."""
    out: builtins.list[dict[str, Any]] = []
    total = sum(scene.seconds for scene in script.scenes)
    if total > MAX_SECONDS:
        out.append(
            _violation(
                "scenes",
                "too_long",
                f"the scenes add up to {total} seconds; keep the video to {MAX_SECONDS} or fewer",
                limit=MAX_SECONDS,
                source=LENGTH_SOURCE,
            )
        )
    elif total < MIN_SECONDS:
        out.append(
            _violation(
                "scenes",
                "too_short",
                f"the scenes add up to {total} seconds; make the video at least {MIN_SECONDS}",
                limit=MIN_SECONDS,
                source=LENGTH_SOURCE,
            )
        )
    for name in ("hook", "call_to_action"):
        if not getattr(script, name).strip():
            out.append(_violation(name, "required", f"{name} is empty"))
    texts = [("hook", script.hook), ("call_to_action", script.call_to_action)]
    for i, scene in enumerate(script.scenes):
        texts += [
            (f"scenes[{i}].shot", scene.shot),
            (f"scenes[{i}].voice_over", scene.voice_over),
            (f"scenes[{i}].on_screen_text", scene.on_screen_text),
        ]
    texts += [(f"hashtags[{i}]", tag) for i, tag in enumerate(script.hashtags)]
    for word in dict.fromkeys(voice.banned_words):
        pattern = platform_rules.banned_word_pattern(word, language)
        if pattern is None:
            continue
        for field, text in texts:
            if pattern.search(text):
                out.append(
                    _violation(
                        field,
                        "banned_word",
                        f"{field} contains {word!r}, banned by brand voice {voice.name!r}",
                    )
                )
    return out


def _scene_lines(value: Any) -> builtins.list[str]:
    if not value:
        return []
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return [
            f"{s.get('seconds')}s | {s.get('shot')} | {s.get('voice_over')} | "
            f"{s.get('on_screen_text')}"
            for s in value
        ]
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value).splitlines() or [""]


class ScriptService:
    async def generate(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID,
        product: Product | None,
        idea: str | None,
        product_type: str | None,
        platform: str,
        seconds: int,
        language: str,
        brand_voice_id: uuid.UUID | None,
    ) -> WrittenScript:
        """Write a script for a product or idea and save it as the newest version of its
        script in the library (one per product or idea × video platform × language)."""
        await authz.require(
            session,
            auth_subject,
            organization_id,
            Permission.content_manage,
            action="content.script",
            target_type="product" if product else None,
            target_id=product.id if product else None,
        )
        name = check_video_platform(platform)
        if not MIN_SECONDS <= seconds <= MAX_SECONDS:
            raise InvalidContentRequest(
                f"seconds: choose a length from {MIN_SECONDS} to {MAX_SECONDS} seconds."
            )
        code = check_language(language, field="language")
        if product is not None:
            the_idea = (
                check_idea(idea) if idea else await content_service.product_idea(session, product)
            )
            type_key = product.product_type
        else:
            if not idea or not product_type:
                raise InvalidContentRequest(
                    "idea and product_type: give both, or a product_id to write for."
                )
            the_idea, type_key = check_idea(idea), product_type
        catalog = await catalog_service.effective(session, organization_id)
        voice_row = await content_service.brand_voice(session, organization_id, brand_voice_id)
        profile = profile_of(voice_row)
        brief = brief_for(
            catalog,
            idea=the_idea,
            product_type_key=type_key,
            platform=Platform.instagram,
            language=code,
            brand_voice=profile,
            keywords=[],
            audience=None,
            occasion=None,
        )
        user_id = _creator_id(auth_subject)
        copy = await ListingCopyRepository.from_session(session).upsert(
            organization_id=organization_id,
            subject=subject_of(product.id if product else None, brief.idea, brief.product_type),
            platform=SCRIPT_PREFIX + name,
            language=code,
            values={
                "product_id": product.id if product else None,
                "idea": brief.idea,
                "product_type": brief.product_type,
                "brand_voice_id": voice_row.id if voice_row else None,
                "created_by_user_id": user_id,
            },
        )
        template = prompts.load("script")
        request = AIRequest(
            task=TaskType.script,
            messages=template.render(
                {
                    "language_name": LANGUAGES[code],
                    "idea": brief.idea,
                    "product_type_name": brief.product_type_name,
                    "category": brief.category,
                    "platform": name,
                    "seconds": seconds,
                    "voice": brief.brand_voice.model_dump(),
                }
            ),
            context={
                "brief": brief.model_dump(mode="json"),
                "script_platform": name,
                "seconds": seconds,
            },
        )
        generation = await ai_service.generate(
            session,
            organization_id=organization_id,
            user_id=user_id,
            request=request,
            output=VideoScript,
            prompt=template,
            product_id=product.id if product else None,
            listing_copy_id=copy.id,
        )
        assert isinstance(generation.parsed, VideoScript)
        script = generation.parsed
        version = await writer.add_version(
            session,
            copy,
            fields=script.model_dump(mode="json"),
            source="generated",
            checked=None,
            violations=violations_of(script, profile, copy.language),
            provider=generation.response.provider,
            generation_id=generation.record.id,
            user_id=user_id,
        )
        await audit_service.record(
            session,
            auth_subject,
            action="content.script_generated",
            organization_id=organization_id,
            target_type="listing_copy",
            target_id=copy.id,
            details={"version": version.version, "platform": name, "language": code},
        )
        return WrittenScript(copy, version, script, generation)

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
    ) -> tuple[builtins.list[ListingCopy], int]:
        return await content_service.list(
            session,
            auth_subject,
            organization_id=organization_id,
            product_id=product_id,
            platform=platform,
            language=language,
            pagination=pagination,
            kind=SCRIPT,
        )

    async def get(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        id: uuid.UUID,
        *,
        permission: Permission = Permission.content_read,
        action: str | None = None,
    ) -> ListingCopy:
        return await content_service.get(
            session, auth_subject, id, permission=permission, action=action, kind=SCRIPT
        )

    async def versions(
        self, session: AsyncSession, copy: ListingCopy
    ) -> builtins.list[ListingCopyVersion]:
        return await content_service.versions(session, copy)

    async def version(
        self, session: AsyncSession, copy: ListingCopy, number: int | None = None
    ) -> ListingCopyVersion:
        return await content_service.version(session, copy, number, kind=SCRIPT)

    async def latest_versions(
        self, session: AsyncSession, copies: builtins.list[ListingCopy]
    ) -> dict[uuid.UUID, ListingCopyVersion]:
        return await content_service.latest_versions(session, copies)

    async def edit(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        copy: ListingCopy,
        changes: dict[str, Any],
        *,
        note: str | None,
    ) -> ListingCopyVersion:
        """Save the creator's edit as a new version (a draft if it breaks a script rule)."""
        return await content_service.edit(
            session, auth_subject, copy, changes, note=note, kind=SCRIPT
        )

    async def revert(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        copy: ListingCopy,
        number: int,
    ) -> ListingCopyVersion:
        """Save version `number` again as the newest version (history is never rewritten)."""
        return await content_service.revert(session, auth_subject, copy, number, kind=SCRIPT)

    async def diff(
        self, session: AsyncSession, copy: ListingCopy, a: int, b: int
    ) -> builtins.list[dict[str, Any]]:
        """Per field: what changed from version a to version b (scenes one line each)."""
        return await content_service.diff(session, copy, a, b, kind=SCRIPT)


async def _check_script(
    session: AsyncSession, copy: ListingCopy, script: VideoScript
) -> tuple[None, builtins.list[dict[str, Any]]]:
    voice = await content_service.copy_voice(session, copy)
    return None, violations_of(script, voice, copy.language)


SCRIPT = CopyKind(
    label="Script",
    action="content.script_",
    model=VideoScript,
    check=_check_script,
    dump=lambda script: script.model_dump(mode="json"),
    diff_fields=SCRIPT_FIELDS,
    lines=_scene_lines,
    platform_filter=lambda platform: SCRIPT_PREFIX + check_video_platform(platform),
    empty_edit="body: change at least one of " + ", ".join(SCRIPT_FIELDS) + ".",
    revert_redumps=True,
    scripts=True,
)

script = ScriptService()

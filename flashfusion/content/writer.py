"""Write one listing: brief → prompt → AI (with fallback) → auto-fix → checks → a saved version.

Used by the API, the web UI, the CLI and the batch job alike. Authorisation happens before this
module is called; everything here takes an organization id the caller has already checked.
"""

import asyncio
import builtins
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.ai import prompts
from flashfusion.ai.service import Generation
from flashfusion.ai.service import ai as ai_service
from flashfusion.ai.types import AIRequest, TaskType
from flashfusion.catalog.schemas import Catalog
from flashfusion.catalog.service import catalog as catalog_service
from flashfusion.content import rules as platform_rules
from flashfusion.content import seo, voice
from flashfusion.content.draft import (
    LANGUAGES,
    BrandVoiceProfile,
    ListingBrief,
    ListingDraft,
    Platform,
)
from flashfusion.content.repository import SCRIPT_PREFIX, ListingCopyRepository
from flashfusion.content.rules.base import PlatformRules
from flashfusion.exceptions import AppError, UnprocessableEntity
from flashfusion.models import (
    BrandVoice,
    ListingCopy,
    ListingCopyStatus,
    ListingCopyVersion,
    Product,
)

MAX_IDEA_LENGTH = 200


class InvalidContentRequest(UnprocessableEntity):
    """The idea, product type, platform or language is not usable; the message names the field."""


@dataclass(frozen=True)
class Written:
    copy: ListingCopy
    version: ListingCopyVersion
    budget_warning: str | None
    cost_microusd: int | None
    cache_hit: bool


def check_language(language: str, *, field: str = "languages") -> str:
    code = language.strip().lower()
    if code not in LANGUAGES:
        raise InvalidContentRequest(
            f"{field}: {language!r} is not a supported language; use one of " + ", ".join(LANGUAGES)
        )
    return code


def check_platform(platform: str, *, field: str = "platforms") -> Platform:
    try:
        return Platform(platform.strip().lower())
    except ValueError:
        raise InvalidContentRequest(
            f"{field}: {platform!r} is not a platform; use one of "
            + ", ".join(p.value for p in Platform)
        ) from None


def check_idea(idea: str) -> str:
    cleaned = " ".join(idea.split())
    if not cleaned:
        raise InvalidContentRequest(
            "idea: is empty; type the phrase or idea the listing is about (e.g. 'Coffee first')."
        )
    if len(cleaned) > MAX_IDEA_LENGTH:
        raise InvalidContentRequest(
            f"idea: is {len(cleaned)} characters; keep it to {MAX_IDEA_LENGTH} or fewer."
        )
    return cleaned


def profile_of(brand_voice: BrandVoice | None) -> BrandVoiceProfile:
    if brand_voice is None:
        return BrandVoiceProfile()
    return BrandVoiceProfile(
        name=brand_voice.name,
        tone=list(brand_voice.tone),
        audience=brand_voice.audience,
        vocabulary=list(brand_voice.vocabulary),
        banned_words=list(brand_voice.banned_words),
        example_copy=brand_voice.example_copy,
    )


def attributes_of(
    catalog: Catalog, product_type_key: str, variant_keys: builtins.list[str]
) -> dict[str, Any]:
    """What the catalog says about a product type, for the copy: sizes, colours, print areas."""
    product_type = catalog.product_types[product_type_key]
    variants = [v for v in product_type.variants if not variant_keys or v.key in variant_keys]
    sizes = list(dict.fromkeys(v.size for v in variants if v.size))
    colours = list(dict.fromkeys(v.colour for v in variants if v.colour))
    attributes: dict[str, Any] = {}
    if sizes:
        attributes["sizes"] = ", ".join(sizes)
    if colours:
        attributes["colours"] = ", ".join(colours)
    # Only the areas every product prints: the copy must not promise a back or sleeve print.
    required = [a.name for a in product_type.print_areas if a.required]
    if required:
        attributes["print areas"] = ", ".join(required)
    return attributes


def brief_for(
    catalog: Catalog,
    *,
    idea: str,
    product_type_key: str,
    platform: Platform,
    language: str,
    brand_voice: BrandVoiceProfile,
    keywords: builtins.list[str],
    audience: str | None,
    occasion: str | None,
    variant_keys: builtins.list[str] | None = None,
    seed: int = 0,
) -> ListingBrief:
    product_type = catalog_service.product_type(catalog, product_type_key)
    key = product_type.key
    return ListingBrief(
        idea=idea,
        product_type=key,
        product_type_name=product_type.name,
        category=product_type.category,
        platform=platform,
        language=language,
        attributes=attributes_of(catalog, key, variant_keys or []),
        keywords=[k.strip() for k in keywords if k.strip()][:20],
        audience=audience,
        occasion=occasion,
        brand_voice=brand_voice,
        seed=seed,
    )


def limit_lines(rules: PlatformRules) -> builtins.list[str]:
    lines = []
    for label, limit in (
        ("title: at most {} characters", rules.title_max),
        ("description: at most {} characters", rules.description_max),
        ("tags: at most {}", rules.tags_max),
        ("each tag: at most {} characters", rules.tag_max_length),
        ("bullet points: at most {}", rules.bullets_max),
        ("each bullet point: at most {} characters", rules.bullet_max_length),
        ("SEO title: at most {} characters", rules.seo_title_max),
        ("meta description: at most {} characters", rules.meta_description_max),
        ("hashtags: at most {}", rules.hashtags_max),
    ):
        if limit is not None:
            unit = label if rules.length_unit == "chars" else label.replace("characters", "bytes")
            lines.append(unit.format(limit.value))
    return lines


def prompt_variables(brief: ListingBrief, rules: PlatformRules) -> dict[str, Any]:
    return {
        "language_name": LANGUAGES[brief.language],
        "platform_label": rules.label,
        "limits": limit_lines(rules),
        "voice": brief.brand_voice.model_dump(),
        "idea": brief.idea,
        "product_type_name": brief.product_type_name,
        "category": brief.category,
        "attributes": brief.attributes,
        "keywords": brief.keywords,
        "audience": brief.audience,
        "occasion": brief.occasion,
        "fields": sorted(rules.fields),
    }


def subject_of(product_id: uuid.UUID | None, idea: str, product_type: str) -> str:
    if product_id is not None:
        return str(product_id)
    digest = hashlib.sha256(f"{product_type}\n{idea.lower()}".encode()).hexdigest()[:32]
    return f"idea:{digest}"


@dataclass(frozen=True)
class Checked:
    draft: ListingDraft
    fixes: builtins.list[dict[str, Any]]
    violations: builtins.list[dict[str, Any]]
    seo_score: int
    voice_score: int | None


def check(
    draft: ListingDraft, brief: ListingBrief, rules: PlatformRules, *, fix: bool = True
) -> Checked:
    """Auto-fix (for generated copy) and score a draft; violations left mean it is not ready."""
    fixes: builtins.list[dict[str, Any]] = []
    if fix:
        draft, applied = platform_rules.autofix(
            draft, rules, language=brief.language, brand_voice=brief.brand_voice
        )
        fixes = [f.model_dump() for f in applied]
    violations = platform_rules.validate(
        draft, rules, language=brief.language, brand_voice=brief.brand_voice
    )
    report = seo.analyse(
        draft, keywords=brief.keywords or [brief.idea], rules=rules, language=brief.language
    )
    has_voice = bool(
        brief.brand_voice.tone
        or brief.brand_voice.vocabulary
        or brief.brand_voice.banned_words
        or brief.brand_voice.example_copy
    )
    voice_score = (
        voice.consistency_score(draft, brief.brand_voice, language=brief.language).score
        if has_voice
        else None
    )
    return Checked(draft, fixes, [v.model_dump() for v in violations], report.score, voice_score)


class ListingWriter:
    async def upsert_copy(
        self,
        session: AsyncSession,
        *,
        organization_id: uuid.UUID,
        brief: ListingBrief,
        product_id: uuid.UUID | None,
        brand_voice_id: uuid.UUID | None,
        user_id: uuid.UUID | None,
    ) -> ListingCopy:
        """The copy for (subject, platform, language), created if new (race-free upsert)."""
        return await ListingCopyRepository.from_session(session).upsert(
            organization_id=organization_id,
            subject=subject_of(product_id, brief.idea, brief.product_type),
            platform=brief.platform.value,
            language=brief.language,
            values={
                "product_id": product_id,
                "idea": brief.idea,
                "product_type": brief.product_type,
                "brand_voice_id": brand_voice_id,
                "created_by_user_id": user_id,
            },
        )

    async def add_version(
        self,
        session: AsyncSession,
        copy: ListingCopy,
        *,
        fields: dict[str, Any],
        source: str,
        checked: Checked | None,
        provider: str | None,
        generation_id: uuid.UUID | None,
        user_id: uuid.UUID | None,
        note: str | None = None,
        violations: builtins.list[dict[str, Any]] | None = None,
    ) -> ListingCopyVersion:
        """Save `fields` as the copy's newest version. `checked` holds a listing's fixes, scores
        and violations; a script has no `Checked`, only `violations`."""
        number = await ListingCopyRepository.from_session(session).next_version(copy)
        violations = checked.violations if checked else (violations or [])
        version = ListingCopyVersion(
            organization_id=copy.organization_id,
            listing_copy_id=copy.id,
            version=number,
            fields=fields,
            source=source,
            violations=violations,
            fixes=checked.fixes if checked else [],
            seo_score=checked.seo_score if checked else None,
            voice_score=checked.voice_score if checked else None,
            provider=provider,
            generation_id=generation_id,
            note=note,
            created_by_user_id=user_id,
        )
        session.add(version)
        copy.latest_version = number
        copy.status = ListingCopyStatus.draft if violations else ListingCopyStatus.ready
        await session.flush()
        if copy.product_id is not None and not copy.platform.startswith(SCRIPT_PREFIX):
            # The product's screened text changed: its safeguard report must follow.
            from flashfusion.safeguard.service import safeguard as safeguard_service  # cycle

            await safeguard_service.enqueue_screen_once(
                session, copy.product_id, copy.organization_id
            )
        return version

    async def write(
        self,
        session: AsyncSession,
        *,
        organization_id: uuid.UUID,
        user_id: uuid.UUID | None,
        brief: ListingBrief,
        product_id: uuid.UUID | None,
        brand_voice_id: uuid.UUID | None,
        limits: Mapping[str, asyncio.Semaphore] | None = None,
        use_cache: bool = True,
        task: TaskType = TaskType.listing_copy,
    ) -> Written:
        rules = platform_rules.get_rules(brief.platform)
        copy = await self.upsert_copy(
            session,
            organization_id=organization_id,
            brief=brief,
            product_id=product_id,
            brand_voice_id=brand_voice_id,
            user_id=user_id,
        )
        request, template = self.request_for(brief, rules, task=task)
        generation = await ai_service.generate(
            session,
            organization_id=organization_id,
            user_id=user_id,
            request=request,
            output=ListingDraft,
            prompt=template,
            product_id=product_id,
            listing_copy_id=copy.id,
            use_cache=use_cache,
            limits=limits,
        )
        return await self.save(session, copy, brief, generation, user_id=user_id)

    def request_for(
        self, brief: ListingBrief, rules: PlatformRules, *, task: TaskType = TaskType.listing_copy
    ) -> tuple[AIRequest, prompts.PromptTemplate]:
        template = prompts.load("listing_copy")
        request = AIRequest(
            task=task,
            messages=template.render(prompt_variables(brief, rules)),
            context={
                "brief": brief.model_dump(mode="json"),
                "rules_platform": brief.platform.value,
            },
            timeout_seconds=60.0,
        )
        return request, template

    async def save(
        self,
        session: AsyncSession,
        copy: ListingCopy,
        brief: ListingBrief,
        generation: Generation,
        *,
        user_id: uuid.UUID | None,
    ) -> Written:
        """Auto-fix and check the generated draft and save it as the copy's newest version."""
        assert isinstance(generation.parsed, ListingDraft)
        checked = check(generation.parsed, brief, platform_rules.get_rules(brief.platform))
        version = await self.add_version(
            session,
            copy,
            fields=checked.draft.model_dump(),
            source="generated",
            checked=checked,
            provider=generation.response.provider,
            generation_id=generation.record.id,
            user_id=user_id,
        )
        return Written(
            copy,
            version,
            generation.budget_warning,
            generation.record.cost_microusd,
            generation.cache_hit,
        )

    def brief_from_copy(
        self,
        catalog: Catalog,
        copy: ListingCopy,
        brand_voice: BrandVoiceProfile,
        *,
        language: str | None = None,
    ) -> ListingBrief:
        """The brief `copy` was written from, in its own language or in `language`."""
        return brief_for(
            catalog,
            idea=copy.idea,
            product_type_key=copy.product_type,
            platform=Platform(copy.platform),
            language=language or copy.language,
            brand_voice=brand_voice,
            keywords=[],
            audience=None,
            occasion=None,
        )

    @staticmethod
    def product_brief_inputs(product: Product) -> dict[str, Any]:
        return {"product_type_key": product.product_type, "idea": product.title}


writer = ListingWriter()


async def stream_listing(
    *,
    organization_id: uuid.UUID,
    user_id: uuid.UUID | None,
    brief: ListingBrief,
    product_id: uuid.UUID | None,
    brand_voice_id: uuid.UUID | None,
) -> AsyncIterator[tuple[str, str]]:
    """Server-sent events for one listing: ("delta", text)…, then ("done", copy id) or
    ("error", message). The provider streams outside any unit of work."""
    from flashfusion.ai.router import AllProvidersFailed, Attempt, RouterResult, parse_output
    from flashfusion.db import unit_of_work

    rules = platform_rules.get_rules(brief.platform)
    try:
        async with unit_of_work() as session:
            copy = await writer.upsert_copy(
                session,
                organization_id=organization_id,
                brief=brief,
                product_id=product_id,
                brand_voice_id=brand_voice_id,
                user_id=user_id,
            )
            copy_id = copy.id
            request, template = writer.request_for(brief, rules)
            prepared = await ai_service.prepare(
                session,
                organization_id=organization_id,
                user_id=user_id,
                request=request,
                output=ListingDraft,
                prompt=template,
                product_id=product_id,
                listing_copy_id=copy_id,
            )
    except AppError as e:
        yield "error", e.detail
        return
    result: RouterResult | None = None
    failure: AllProvidersFailed | None = None
    if prepared.cached is None:
        attempts: list[Attempt] = []
        started = time.perf_counter()
        try:
            async for event in ai_service.router.stream(
                prepared.request, prepared.steps, attempts=attempts
            ):
                if event.type == "delta" and event.text:
                    yield "delta", event.text
                elif event.type == "done" and event.response is not None:
                    parsed, problem = parse_output(ListingDraft, event.response.text)
                    if parsed is None:
                        response = event.response
                        attempts.append(
                            Attempt(
                                response.provider,
                                response.model,
                                "invalid_output",
                                f"the streamed answer is not a valid listing ({problem}); "
                                "generate without streaming, which repairs and falls back",
                            )
                        )
                        failure = AllProvidersFailed(attempts)
                    else:
                        result = RouterResult(event.response, parsed, attempts)
        except AllProvidersFailed as e:
            failure = e
        prepared.latency_ms = round((time.perf_counter() - started) * 1000)
    else:
        yield "delta", prepared.cached[0].text
    try:
        async with unit_of_work() as session:
            generation = await ai_service.finish(session, prepared, result, failure)
            saved = await session.get(ListingCopy, copy_id)
            assert saved is not None
            await writer.save(session, saved, brief, generation, user_id=user_id)
    except AppError as e:
        yield "error", e.detail
        return
    yield "done", str(copy_id)

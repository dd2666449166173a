"""The checks the pipeline runs, each behind one function with the pipeline's own shape.

This is the only module that knows the check modules' signatures (trademark, moderation,
quality, plagiarism, AI moderation); `pipeline.run_checks` calls these, and tests replace them
one by one.
"""

import dataclasses
import functools
import json
import uuid
from importlib import resources
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.authz.types import AccessibleOrganizationID
from flashfusion.content.draft import Platform
from flashfusion.safeguard import plagiarism as plagiarism_check
from flashfusion.safeguard import quality as quality_check
from flashfusion.safeguard.moderation import ai as ai_check
from flashfusion.safeguard.moderation import engine as moderation_engine
from flashfusion.safeguard.pipeline import ListingContext, mark_key, prefixed, sub_subject
from flashfusion.safeguard.repository import MarkChangeRepository
from flashfusion.safeguard.trademark import matcher, normalize
from flashfusion.safeguard.trademark.matcher import InvalidThresholds, Thresholds
from flashfusion.safeguard.trademark.repository import (
    TrademarkImportRepository,
    TrademarkRepository,
)
from flashfusion.safeguard.trademark.starter import StarterIndex, get_starter_index
from flashfusion.safeguard.trademark.types import MarkRecord
from flashfusion.safeguard.types import Finding, ScreenSubject, Span

# The marks the database contributes per screen, best candidates first (the repository's cap).
DB_CANDIDATES = 200
PLATFORMS = frozenset(p.value for p in Platform)

__all__ = ["InvalidThresholds"]


def versions() -> dict[str, Any]:
    """What a report's findings depend on besides the text: when these change, an old report
    is stale."""
    return {
        "rule_packs": dict(moderation_engine.pack_versions()),
        "starter_set": starter_version(),
    }


@functools.cache
def starter_version() -> str | None:
    """The bundled starter set's `version` (the index does not carry it)."""
    resource = resources.files("flashfusion.safeguard.trademark").joinpath(
        "data", "starter_marks.json"
    )
    if not resource.is_file():
        return None
    version = json.loads(resource.read_text(encoding="utf-8")).get("version")
    return str(version) if version is not None else None


def thresholds_of(overrides: dict[str, Any]) -> Thresholds:
    """The matcher's Thresholds with a workspace's overrides applied (names this version no
    longer knows are ignored); raises InvalidThresholds for values it can't use."""
    known = {f.name for f in dataclasses.fields(Thresholds)}
    return Thresholds().with_overrides({k: v for k, v in overrides.items() if k in known})


def threshold_fields() -> dict[str, Any]:
    """The trademark thresholds a workspace may set, with their defaults."""
    return dataclasses.asdict(Thresholds())


async def trademark(
    session: AsyncSession | None, subject: ScreenSubject, overrides: dict[str, Any]
) -> tuple[list[Finding], dict[str, Any]]:
    """Candidates from the starter set and (with a session) the marks database, scored by the
    matcher. Returns the findings and what was looked at."""
    keys = normalize.candidate_keys(subject)
    starter = get_starter_index()
    marks: list[MarkRecord] = list(starter.candidates(keys))
    from_db = 0
    if session is not None:
        stored = await TrademarkRepository.from_session(session).candidates(
            keys, limit=DB_CANDIDATES
        )
        from_db = len(stored)
        marks += stored
    thresholds = thresholds_of(overrides)
    findings = matcher.match(subject, marks, thresholds)
    return findings, {
        "starter_marks": len(starter),
        "candidates": len(marks),
        "from_database": from_db,
        "thresholds": dataclasses.asdict(thresholds),
    }


def moderation(subject: ScreenSubject, listings: tuple[ListingContext, ...] = ()) -> list[Finding]:
    """Policy, IP and claims rules. The product's own text (title, design layers) goes to every
    platform, so it gets every platform's pack; a listing's fields get its platform's only."""
    prefixes = tuple(listing.prefix for listing in listings)
    shared = tuple(f for f in subject.fields if not (prefixes and f.name.startswith(prefixes)))
    findings: list[Finding] = []
    if shared:
        findings += moderation_engine.check(dataclasses.replace(subject, fields=shared))
    for listing in listings:
        part = sub_subject(subject, listing)
        if part.fields:
            findings += [prefixed(f, listing.prefix) for f in moderation_engine.check(part)]
    return findings


async def ai_moderation(
    session: AsyncSession, organization_id: uuid.UUID, subject: ScreenSubject
) -> list[Finding]:
    """The providers layer's moderation, when the workspace's chain has a provider for it."""
    return await ai_check.ai_moderation(session, organization_id, subject)


def quality(
    subject: ScreenSubject, listings: tuple[ListingContext, ...], *, warn_below: int
) -> tuple[list[Finding], int | None, dict[str, Any]]:
    """The quality score: per listing with its platform, keywords and brand voice (a product's
    score is its weakest listing's), or of the whole subject when it has no listing copy (then
    without platform limits: a phrase or a title is not a listing)."""
    findings: list[Finding] = []
    scores: dict[str, int] = {}
    reasons: dict[str, list[dict[str, object]]] = {}
    targets: list[tuple[ListingContext | None, ScreenSubject]] = [
        (listing, sub_subject(subject, listing)) for listing in listings
    ]
    if not targets:
        targets = [(None, subject)]
    for listing, part in targets:
        if not part.fields:
            continue
        platform = listing.platform if listing and listing.platform in PLATFORMS else None
        result = quality_check.score(
            part,
            platform=platform,
            keywords=list(listing.keywords) if listing else [],
            brand_voice=listing.brand_voice if listing else None,
            warn_threshold=warn_below,
        )
        label = listing.prefix.rstrip(":") if listing else "all"
        scores[label] = result.score
        reasons[label] = [r.as_dict() for r in result.reasons]
        findings += [prefixed(f, listing.prefix) if listing else f for f in result.findings]
    details: dict[str, Any] = {"scores": scores, "reasons": reasons, "warn_below": warn_below}
    return findings, (min(scores.values()) if scores else None), details


# The listing field compared for duplicates: long enough for shingle similarity to mean
# something (titles and tags of one niche are alike by nature).
PLAGIARISM_FIELD = "description"


async def plagiarism(
    session: AsyncSession,
    organization_id: uuid.UUID,
    subject: ScreenSubject,
    listings: tuple[ListingContext, ...],
    *,
    threshold: float,
) -> list[Finding]:
    """Each listing's description against the workspace's library and the platform's listings
    (never revealing another workspace's text); a bare text is compared as a description. A
    screened listing's fingerprint is recorded, so later listings are compared with it."""
    workspace = AccessibleOrganizationID(organization_id)
    targets: list[tuple[str, ListingContext | None]] = (
        [(listing.prefix + PLAGIARISM_FIELD, listing) for listing in listings]
        if listings
        else [(f.name, None) for f in subject.fields]
    )
    siblings = {str(listing.listing_copy_id) for listing in listings if listing.listing_copy_id}
    findings: list[Finding] = []
    for name, listing in targets:
        text_field = subject.field(name)
        if text_field is None or not text_field.text.strip():
            continue
        fingerprint = plagiarism_check.fingerprint(text_field.text)
        if listing is not None and listing.listing_copy_id and listing.version:
            await plagiarism_check.record(
                session,
                workspace,
                listing.listing_copy_id,
                listing.version,
                PLAGIARISM_FIELD,
                fingerprint,
            )
        found = await plagiarism_check.check(
            session,
            workspace,
            fingerprint,
            field=PLAGIARISM_FIELD,
            exclude_listing_copy_id=listing.listing_copy_id if listing else None,
            threshold=threshold,
        )
        span = Span(field=name, start=0, end=len(text_field.text), text=text_field.text)
        findings += [
            f if f.span else dataclasses.replace(f, span=span)
            for f in found
            # The product's copy for another platform says the same on purpose.
            if f.evidence.get("listing_copy_id") not in siblings
        ]
    return findings


# --- re-matching after a marks import -------------------------------------------------------


def import_key(import_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(import_id)
    except ValueError:
        return None


async def changed_count(session: AsyncSession, import_id: str) -> int:
    """How many marks the import added or changed (its summary); 0 for an unknown import."""
    key = import_key(import_id)
    row = await TrademarkImportRepository.from_session(session).get(key) if key else None
    return row.changed if row is not None else 0


async def changed_marks(session: AsyncSession, import_id: str) -> list[MarkRecord]:
    """The marks a register import added or changed; none for an id that is not a UUID."""
    key = import_key(import_id)
    if key is None:
        return []
    return await TrademarkRepository.from_session(session).changed_by_import(key)


async def changed_among(session: AsyncSession, import_id: str, mark_ids: set[str]) -> set[str]:
    """Which of the marks-database rows `mark_ids` the import added or changed."""
    key = import_key(import_id)
    if key is None or not mark_ids:
        return set()
    return await MarkChangeRepository.from_session(session).changed_among(key, mark_ids)


def mark_index(marks: list[MarkRecord]) -> StarterIndex:
    """An in-memory index of `marks` answering `candidates(keys)`, like the starter set's."""
    return StarterIndex.build(marks)


def match_marks(
    subject: ScreenSubject, index: StarterIndex, overrides: dict[str, Any]
) -> list[Finding]:
    """The matcher's findings for `subject` against the marks of `index` only."""
    candidates = index.candidates(normalize.candidate_keys(subject))
    if not candidates:
        return []
    return matcher.match(subject, candidates, thresholds_of(overrides))


def mark_keys_of(marks: list[MarkRecord]) -> set[str]:
    """The identities (`pipeline.mark_key`) of mark records, as their findings carry them."""
    keys: set[str] = set()
    for mark in marks:
        key = mark_key(
            {
                "office": mark.office,
                "serial_number": mark.serial_number,
                "registration_number": mark.registration_number,
                "mark": mark.mark_text,
            }
        )
        if key is not None:
            keys.add(key)
    return keys

"""The screening pipeline: one subject through every check, merged into one verdict.

`run_checks` is the whole of it. Each check is a function of the subject (a few also read the
database: marks, the workspace's own copy for plagiarism, its AI provider keys); the verdict is
the worst finding's. A check that fails with an error never turns into a silent PASS: the
trademark and policy checks become a WARN finding saying the check could not run, and every
failure is listed in the report's `checks.errors`.
"""

import dataclasses
import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.exceptions import UnprocessableEntity
from flashfusion.safeguard.types import (
    Category,
    Finding,
    ScreenSubject,
    Span,
    TextField,
    Verdict,
    worst,
)

logger = logging.getLogger(__name__)

# Bounds of what one screen reads (FlashFusion's): a text screen takes 20,000 characters
# (`subject.MAX_TEXT`); a product's fields are bounded by what the content library stores (a
# description of 20,000 characters, 100 tags of up to 1,000 joined into one field).
MAX_FIELD_CHARS = 100_000
MAX_SUBJECT_CHARS = 500_000
MAX_FIELDS = 2_000

# FlashFusion's defaults (heuristics, not anyone's rule): a quality score under 50 of 100 is
# worth a warning; a listing 80 % similar to another of the workspace's is a near duplicate.
DEFAULT_QUALITY_WARN_BELOW = 50
DEFAULT_PLAGIARISM_THRESHOLD = 0.8


class InvalidScreen(UnprocessableEntity):
    """The text, product type or platform can't be screened; the message names the field."""


@dataclass(frozen=True)
class ScreenSettings:
    """The thresholds one screen uses: a workspace's settings, or the defaults."""

    trademark_thresholds: dict[str, Any] = field(default_factory=dict)
    quality_warn_below: int = DEFAULT_QUALITY_WARN_BELOW
    plagiarism_threshold: float = DEFAULT_PLAGIARISM_THRESHOLD
    pause_on_new_mark: bool = False
    block_on_warn: bool = False

    @classmethod
    def of(cls, row: Any | None) -> "ScreenSettings":
        """From a `SafeguardSettings` row (None: the defaults)."""
        if row is None:
            return cls()
        return cls(
            trademark_thresholds=dict(row.trademark_thresholds or {}),
            quality_warn_below=row.quality_warn_below,
            plagiarism_threshold=row.plagiarism_threshold,
            pause_on_new_mark=row.pause_on_new_mark,
            block_on_warn=row.block_on_warn,
        )


@dataclass(frozen=True)
class ListingContext:
    """What the quality and plagiarism checks need to know about one listing copy whose fields
    are in the subject under `prefix` (e.g. "etsy:en:"): its platform, target keywords, brand
    voice, and the copy itself (so it is never compared with itself)."""

    prefix: str
    platform: str
    language: str
    listing_copy_id: uuid.UUID | None = None
    version: int | None = None
    keywords: tuple[str, ...] = ()
    brand_voice: Any | None = None


@dataclass
class ScreenResult:
    verdict: Verdict
    findings: list[Finding]
    quality_score: int | None
    checks: dict[str, Any]

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        return count_findings(self.findings)

    def blocking(self, *, block_on_warn: bool = False) -> list[Finding]:
        """The findings that stop publishing."""
        stops = {Verdict.block, Verdict.warn} if block_on_warn else {Verdict.block}
        return [f for f in self.findings if f.verdict in stops]


# --- the subject -------------------------------------------------------------------------------


def check_subject(subject: ScreenSubject, *, field_name: str = "text") -> None:
    """Refuse what cannot be screened: nothing to read, or more than any listing holds."""
    if not any(f.text.strip() for f in subject.fields):
        raise InvalidScreen(f"{field_name}: is empty; give the text to screen.")
    if len(subject.fields) > MAX_FIELDS:
        raise InvalidScreen(
            f"{field_name}: {len(subject.fields)} text fields; screen at most {MAX_FIELDS}."
        )
    for text_field in subject.fields:
        if len(text_field.text) > MAX_FIELD_CHARS:
            raise InvalidScreen(
                f"{field_name}: {text_field.name} is {len(text_field.text):,} characters; "
                f"screen at most {MAX_FIELD_CHARS:,} per field."
            )
    total = sum(len(f.text) for f in subject.fields)
    if total > MAX_SUBJECT_CHARS:
        raise InvalidScreen(
            f"{field_name}: {total:,} characters in all; screen at most {MAX_SUBJECT_CHARS:,}."
        )


def subject_hash(subject: ScreenSubject) -> str:
    """SHA-256 of what was screened: the text fields, the product type and the platforms.
    Equal hashes mean the same product version (the order of fields does not matter)."""
    canonical = json.dumps(
        {
            "fields": sorted([f.name, f.text] for f in subject.fields),
            "product_type": subject.product_type,
            "platforms": sorted(set(subject.platforms)),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def subject_to_json(subject: ScreenSubject) -> dict[str, Any]:
    return {
        "fields": [{"name": f.name, "text": f.text} for f in subject.fields],
        "product_type": subject.product_type,
        "nice_classes": sorted(subject.nice_classes),
        "platforms": list(subject.platforms),
        "language": subject.language,
    }


def subject_from_json(data: dict[str, Any]) -> ScreenSubject:
    return ScreenSubject(
        fields=tuple(TextField(f["name"], f["text"]) for f in data.get("fields", [])),
        product_type=data.get("product_type"),
        nice_classes=frozenset(int(c) for c in data.get("nice_classes", [])),
        platforms=tuple(data.get("platforms", [])),
        language=data.get("language", "en"),
    )


def sub_subject(subject: ScreenSubject, listing: ListingContext) -> ScreenSubject:
    """The fields of one listing under their plain names ("title", "tags", …), with that
    listing's platform: what the per-platform quality score reads."""
    fields = tuple(
        TextField(f.name[len(listing.prefix) :], f.text)
        for f in subject.fields
        if f.name.startswith(listing.prefix)
    )
    return dataclasses.replace(
        subject, fields=fields, platforms=(listing.platform,), language=listing.language
    )


def prefixed(finding: Finding, prefix: str) -> Finding:
    """A finding of a sub-subject, pointed back at the field of the whole subject."""
    if finding.span is None or not prefix:
        return finding
    span = Span(
        field=prefix + finding.span.field,
        start=finding.span.start,
        end=finding.span.end,
        text=finding.span.text,
    )
    return dataclasses.replace(finding, span=span)


# --- findings ----------------------------------------------------------------------------------


def count_findings(findings: list[Finding]) -> dict[str, dict[str, int]]:
    """Per category and in total: how many findings of each verdict."""
    counts: dict[str, dict[str, int]] = {c.value: {v.value: 0 for v in Verdict} for c in Category}
    total = {v.value: 0 for v in Verdict}
    for finding in findings:
        counts[finding.category.value][finding.verdict.value] += 1
        total[finding.verdict.value] += 1
    counts["total"] = total
    return counts


def mark_key(evidence: dict[str, Any]) -> str | None:
    """A mark's identity across findings and records: its office and number (serial, else
    registration), else its office and text."""
    number = evidence.get("serial_number") or evidence.get("registration_number")
    text = evidence.get("mark")
    if not number and not text:
        return None
    office = evidence.get("office") or ""
    return f"{getattr(office, 'value', office)}:{number or str(text).strip().lower()}"


def finding_from_json(data: dict[str, Any]) -> Finding:
    """The inverse of `Finding.as_dict` (reports store findings as JSON)."""
    span = data.get("span")
    return Finding(
        category=Category(data["category"]),
        code=data["code"],
        verdict=Verdict(data["verdict"]),
        message=data["message"],
        span=None
        if span is None
        else Span(span["field"], span["start"], span["end"], span["text"]),
        evidence=dict(data.get("evidence") or {}),
        source=data.get("source"),
        score=data.get("score"),
    )


def _order(findings: list[Finding], fields: list[str]) -> list[Finding]:
    """Worst first, then by category and where they sit (in the subject's field order), so a
    report reads the same every time."""
    position = {name: i for i, name in enumerate(fields)}
    categories = list(Category)
    return sorted(
        findings,
        key=lambda f: (
            -f.verdict.rank,
            categories.index(f.category),
            position.get(f.span.field, len(position)) if f.span else -1,
            f.span.start if f.span else -1,
            f.code,
        ),
    )


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per (code, span, evidence): the rule engine and the AI moderation may say the
    same thing about the same words."""
    seen: set[str] = set()
    kept: list[Finding] = []
    for finding in findings:
        key = json.dumps(finding.as_dict(), sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            kept.append(finding)
    return kept


def check_failed(category: Category, name: str) -> Finding:
    return Finding(
        category=category,
        code=f"{category.value}.check_failed",
        verdict=Verdict.warn,
        message=(
            f"The {name} check could not run, so this screen can't vouch for it; screen again "
            "in a minute, and tell the workspace admin if it keeps failing."
        ),
        evidence={"check": name},
    )


Check = Callable[[], Awaitable[list[Finding]]]


async def _guarded(
    checks: dict[str, Any], name: str, run: Check, *, category: Category | None
) -> list[Finding]:
    """Run one check; a crash is recorded (and, for the core checks, is a WARN finding)."""
    try:
        return list(await run())
    except Exception as e:  # noqa: BLE001 -- one failing check must not lose the others' findings
        logger.exception("safeguard check %s failed", name)
        checks.setdefault("errors", {})[name] = f"{type(e).__name__}: {e}"[:300]
        return [check_failed(category, name)] if category is not None else []


def merge(
    findings: list[Finding],
    quality_score: int | None,
    checks: dict[str, Any],
    subject: ScreenSubject,
) -> ScreenResult:
    ordered = _order(_dedupe(findings), [f.name for f in subject.fields])
    return ScreenResult(
        verdict=worst([f.verdict for f in ordered]),
        findings=ordered,
        quality_score=quality_score,
        checks=checks,
    )


# --- running every check -------------------------------------------------------------------------


async def run_checks(
    session: AsyncSession | None,
    subject: ScreenSubject,
    *,
    organization_id: uuid.UUID | None,
    settings: ScreenSettings,
    listings: tuple[ListingContext, ...] = (),
) -> ScreenResult:
    """Every check on `subject`, merged. Without a session only the bundled data is used
    (starter marks, rule packs); without a workspace there is no plagiarism or AI moderation
    (both read the workspace's own data or keys)."""
    # `checks` builds on this module's shapes: imported here, not at the top, to avoid a cycle.
    from flashfusion.safeguard import checks as check

    info: dict[str, Any] = {"versions": check.versions()}
    findings: list[Finding] = []

    async def trademark() -> list[Finding]:
        found, details = await check.trademark(session, subject, settings.trademark_thresholds)
        info["trademark"] = details
        return found

    async def policy() -> list[Finding]:
        return check.moderation(subject, listings)

    findings += await _guarded(info, "trademark", trademark, category=Category.trademark)
    findings += await _guarded(info, "policy", policy, category=Category.policy)

    quality_score: int | None = None

    async def quality() -> list[Finding]:
        nonlocal quality_score
        found, quality_score, details = check.quality(
            subject, listings, warn_below=settings.quality_warn_below
        )
        info["quality"] = details
        return found

    findings += await _guarded(info, "quality", quality, category=None)

    if organization_id is not None and session is not None:

        async def plagiarism() -> list[Finding]:
            return await check.plagiarism(
                session,
                organization_id,
                subject,
                listings,
                threshold=settings.plagiarism_threshold,
            )

        async def ai_moderation() -> list[Finding]:
            return await check.ai_moderation(session, organization_id, subject)

        findings += await _guarded(info, "plagiarism", plagiarism, category=None)
        findings += await _guarded(info, "ai_moderation", ai_moderation, category=None)
        info["workspace_checks"] = True
    else:
        info["workspace_checks"] = False
    return merge(findings, quality_score, info, subject)

"""Stand-ins for the check modules, for the pipeline's own tests (storing, gating, overriding):
each finds exactly what a test tells it to, so a test asserts the pipeline's behaviour, not a
matcher's. The tests that run the real checks live next to these (`test_real_checks` cases)."""

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.models import (
    Design,
    DesignVersion,
    ImportKind,
    ImportStatus,
    ListingCopy,
    ListingCopyStatus,
    ListingCopyVersion,
    Organization,
    Product,
    TrademarkImport,
    utc_now,
)
from flashfusion.safeguard import checks, tasks
from flashfusion.safeguard.pipeline import ListingContext, mark_key
from flashfusion.safeguard.trademark.importers import ParsedMark
from flashfusion.safeguard.trademark.repository import TrademarkRepository
from flashfusion.safeguard.trademark.types import MarkRecord, MarkStatus, Office
from flashfusion.safeguard.types import Category, Finding, ScreenSubject, Span, Verdict
from tests.fixtures.studio import create_design, create_product, text_document

VERSIONS = {"rule_packs": {"generic": "2026.12.1"}, "starter_set": "test-1"}


@dataclass
class FakeMark:
    text: str
    verdict: Verdict = Verdict.block
    serial: str = "90000001"
    office: str = "uspto"
    status: str = "live"

    def evidence(self) -> dict[str, Any]:
        return {
            "mark": self.text.upper(),
            "serial_number": self.serial,
            "registration_number": None,
            "status": self.status,
            "classes": [25],
            "owner": "Example Owner LLC",
            "office": self.office,
            "match_type": "exact",
            "score": 1.0,
        }

    def record(self) -> MarkRecord:
        return MarkRecord(
            office=Office(self.office),
            mark_text=self.text.upper(),
            status=MarkStatus(self.status),
            nice_classes=frozenset({25}),
            serial_number=self.serial,
            owner="Example Owner LLC",
        )


@dataclass
class FakeChecks:
    """What each fake check finds. `marks` are found wherever their text appears (any case);
    `rules` (phrase -> verdict) are policy findings; `quality_score` is every listing's score."""

    marks: list[FakeMark] = field(default_factory=list)
    rules: dict[str, Verdict] = field(default_factory=dict)
    quality_score: int = 90
    versions: dict[str, Any] = field(default_factory=lambda: dict(VERSIONS))
    failing: set[str] = field(default_factory=set)
    # Marks a fake import changed, by import id.
    imports: dict[str, list[FakeMark]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    thresholds_seen: list[dict[str, Any]] = field(default_factory=list)

    def _fail(self, name: str) -> None:
        self.calls.append(name)
        if name in self.failing:
            raise RuntimeError(f"{name} is down")

    def find(self, subject: ScreenSubject, marks: list[FakeMark]) -> list[Finding]:
        found = []
        for mark in marks:
            for text_field in subject.fields:
                for m in re.finditer(re.escape(mark.text), text_field.text, re.IGNORECASE):
                    found.append(
                        Finding(
                            category=Category.trademark,
                            code="trademark.exact",
                            verdict=mark.verdict,
                            message=f"{mark.text.upper()} is a registered trademark.",
                            span=Span(text_field.name, m.start(), m.end(), m.group(0)),
                            evidence=mark.evidence(),
                            source=f"https://tsdr.uspto.gov/#caseNumber={mark.serial}",
                            score=1.0,
                        )
                    )
        return found


def _policy(fake: FakeChecks, subject: ScreenSubject) -> list[Finding]:
    found = []
    for phrase, verdict in fake.rules.items():
        for text_field in subject.fields:
            for m in re.finditer(re.escape(phrase), text_field.text, re.IGNORECASE):
                found.append(
                    Finding(
                        category=Category.claims,
                        code="claims.medical",
                        verdict=verdict,
                        message=f"'{m.group(0)}' is a medical claim.",
                        span=Span(text_field.name, m.start(), m.end(), m.group(0)),
                        evidence={"pack": "claims", "pack_version": "1", "rule": "cures"},
                    )
                )
    return found


@pytest.fixture
def fake_checks(monkeypatch: pytest.MonkeyPatch) -> FakeChecks:
    fake = FakeChecks()

    async def trademark(
        session: AsyncSession | None, subject: ScreenSubject, overrides: dict[str, Any]
    ) -> tuple[list[Finding], dict[str, Any]]:
        fake._fail("trademark")
        fake.thresholds_seen.append(dict(overrides))
        return fake.find(subject, fake.marks), {"candidates": len(fake.marks)}

    def moderation(
        subject: ScreenSubject, listings: tuple[ListingContext, ...] = ()
    ) -> list[Finding]:
        fake._fail("policy")
        return _policy(fake, subject)

    def quality(
        subject: ScreenSubject, listings: tuple[ListingContext, ...], *, warn_below: int
    ) -> tuple[list[Finding], int | None, dict[str, Any]]:
        fake._fail("quality")
        found = []
        if fake.quality_score < warn_below:
            found.append(
                Finding(
                    category=Category.quality,
                    code="quality.low_score",
                    verdict=Verdict.warn,
                    message=f"Quality score {fake.quality_score}/100.",
                    evidence={"score": fake.quality_score, "threshold": warn_below},
                )
            )
        return found, fake.quality_score, {"warn_below": warn_below}

    async def plagiarism(
        session: AsyncSession,
        organization_id: uuid.UUID,
        subject: ScreenSubject,
        listings: tuple[ListingContext, ...],
        *,
        threshold: float,
    ) -> list[Finding]:
        fake._fail("plagiarism")
        return []

    async def ai_moderation(
        session: AsyncSession, organization_id: uuid.UUID, subject: ScreenSubject
    ) -> list[Finding]:
        fake._fail("ai_moderation")
        return []

    async def changed_marks(session: AsyncSession, import_id: str) -> list[Any]:
        return [m.record() for m in fake.imports.get(import_id, [])]

    def mark_index(records: list[Any]) -> Any:
        return records

    def match_marks(subject: ScreenSubject, index: Any, overrides: dict[str, Any]) -> list[Finding]:
        wanted = {mark_key({"office": r.office, "serial_number": r.serial_number}) for r in index}
        return [
            f
            for f in fake.find(subject, [m for ms in fake.imports.values() for m in ms])
            if mark_key(f.evidence) in wanted
        ]

    monkeypatch.setattr(checks, "trademark", trademark)
    monkeypatch.setattr(checks, "moderation", moderation)
    monkeypatch.setattr(checks, "quality", quality)
    monkeypatch.setattr(checks, "plagiarism", plagiarism)
    monkeypatch.setattr(checks, "ai_moderation", ai_moderation)
    monkeypatch.setattr(checks, "versions", lambda: dict(fake.versions))

    async def changed_count(session: AsyncSession, import_id: str) -> int:
        return len(fake.imports.get(import_id, []))

    monkeypatch.setattr(checks, "changed_count", changed_count)
    monkeypatch.setattr(checks, "changed_marks", changed_marks)
    # Each test's imports are its own: nothing indexed by an earlier test.
    monkeypatch.setattr(tasks, "_indexes", {})
    monkeypatch.setattr(checks, "mark_index", mark_index)
    monkeypatch.setattr(checks, "match_marks", match_marks)
    return fake


# --- marks in the marks database (as a register import leaves them) ---------------------------


async def import_marks(
    session: AsyncSession,
    marks: list[tuple[str, str, MarkStatus]],
    *,
    classes: tuple[int, ...] = (25,),
) -> uuid.UUID:
    """A finished USPTO import of (serial, text, status) marks; its id."""
    row = TrademarkImport(
        office=Office.uspto,
        kind=ImportKind.daily,
        file_name="apc261202.zip",
        file_path="/dev/null",
        file_sha256="0" * 64,
        file_size=0,
        status=ImportStatus.done,
        skip_reasons={},
        skip_examples=[],
        records_read=len(marks),
        inserted=len(marks),
        changed=len(marks),
    )
    session.add(row)
    await session.flush()
    parsed = [
        ParsedMark(
            office=Office.uspto,
            serial_number=serial,
            mark_text=text,
            status=status,
            nice_classes=classes,
            line=line,
            owner="Example Owner LLC",
        )
        for line, (serial, text, status) in enumerate(marks, start=1)
    ]
    await TrademarkRepository.from_session(session).upsert_batch(row.id, parsed, now=utc_now())
    return row.id


# --- products with design text and listing copy ----------------------------------------------


def document(*layers: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    """A design document with text layers (id, text, extra fields)."""
    base = text_document("placeholder")
    template = base["layers"][0]
    base["layers"] = [{**template, "id": lid, "text": text, **extra} for lid, text, extra in layers]
    return base


async def make_product(
    session: AsyncSession,
    organization: Organization,
    *,
    title: str = "Sunrise tee",
    layers: tuple[tuple[str, str, dict[str, Any]], ...] = (("title", "Good Morning", {}),),
    product_type: str = "tshirt",
) -> tuple[Product, Design, DesignVersion]:
    design, version = await create_design(
        session, organization, name=title, document=document(*layers)
    )
    product = await create_product(session, design, version, title=title, product_type=product_type)
    return product, design, version


async def add_copy(
    session: AsyncSession,
    product: Product,
    *,
    platform: str = "etsy",
    language: str = "en",
    versions: list[dict[str, Any]] | None = None,
) -> ListingCopy:
    """Listing copy of the product with the given versions' fields (the last is the newest)."""
    versions = versions or [{"title": "Sunrise tee", "description": "A soft tee."}]
    copy = ListingCopy(
        organization_id=product.organization_id,
        subject=str(product.id),
        product_id=product.id,
        idea=product.title,
        product_type=product.product_type,
        platform=platform,
        language=language,
        status=ListingCopyStatus.ready,
        latest_version=len(versions),
    )
    session.add(copy)
    await session.flush()
    for number, values in enumerate(versions, start=1):
        session.add(
            ListingCopyVersion(
                organization_id=product.organization_id,
                listing_copy_id=copy.id,
                version=number,
                fields={
                    "title": "",
                    "description": "",
                    "tags": [],
                    "bullets": [],
                    "seo_title": None,
                    "meta_description": None,
                    "hashtags": [],
                    "alt_text": None,
                    **values,
                },
                source="generated",
            )
        )
    await session.flush()
    return copy


__all__ = ["FakeChecks", "FakeMark", "add_copy", "fake_checks", "import_marks", "make_product"]

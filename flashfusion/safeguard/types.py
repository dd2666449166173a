"""The contracts every safeguard check speaks: what is screened, what a check finds.

A check is a plain function `check(subject: ScreenSubject, …) -> list[Finding]`. It never touches
the database itself unless its module says so, never raises for odd text (a finding or nothing),
and every finding says what matched, where, why it matters and what the creator can do next.
The pipeline (`safeguard/service.py`) merges the findings of every check into one report whose
verdict is the worst finding's verdict.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    passed = "pass"
    warn = "warn"
    block = "block"

    @property
    def rank(self) -> int:
        return _VERDICT_RANK[self]


_VERDICT_RANK = {Verdict.passed: 0, Verdict.warn: 1, Verdict.block: 2}


def worst(verdicts: "list[Verdict] | tuple[Verdict, ...]") -> Verdict:
    """The most severe verdict; PASS for none."""
    return max(verdicts, key=lambda v: v.rank, default=Verdict.passed)


class Category(StrEnum):
    trademark = "trademark"
    policy = "policy"
    ip = "ip"
    claims = "claims"
    quality = "quality"
    plagiarism = "plagiarism"


@dataclass(frozen=True)
class TextField:
    """One piece of screened text. `name` is stable and shown to the user:
    "title", "description", "tags" (one field, tags joined by ", "), "bullet:1", "seo_title",
    "meta_description", "alt_text", "caption", "layer:<layer id>" (a design text layer),
    "phrase" (a bare idea)."""

    name: str
    text: str


@dataclass(frozen=True)
class Span:
    """Where a finding sits: `text[start:end]` of the field named `field` (character offsets into
    the original, un-normalised text, so the UI can highlight it)."""

    field: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class ScreenSubject:
    """Everything one screen looks at. `nice_classes` come from the product type (see
    `safeguard/trademark/classes.py`); empty means "unknown product": every class counts."""

    fields: tuple[TextField, ...]
    product_type: str | None = None
    nice_classes: frozenset[int] = frozenset()
    platforms: tuple[str, ...] = ()
    language: str = "en"

    def field(self, name: str) -> TextField | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class Finding:
    """One thing a check found.

    - `code`: stable machine name, "<category>.<kind>", e.g. "trademark.exact",
      "trademark.phonetic", "policy.weapons", "ip.character", "claims.medical",
      "quality.low_score", "plagiarism.near_duplicate".
    - `message`: one or two sentences for the creator: what matched and what to do next.
    - `evidence`: JSON-serialisable facts behind it (for a mark: mark, serial_number,
      registration_number, status, classes, owner, office, match_type, score; for a rule: rule id,
      pack id and version). Never another workspace's text.
    - `source`: a URL (register entry, policy page) where the user can check it, or None.
    - `score`: the match strength 0..1 where the check has one.
    """

    category: Category
    code: str
    verdict: Verdict
    message: str
    span: Span | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    score: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "category": self.category.value,
            "code": self.code,
            "verdict": self.verdict.value,
            "message": self.message,
            "span": None
            if self.span is None
            else {
                "field": self.span.field,
                "start": self.span.start,
                "end": self.span.end,
                "text": self.span.text,
            },
            "evidence": self.evidence,
            "source": self.source,
            "score": self.score,
        }

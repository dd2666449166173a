"""The policy, IP and claims rules engine over the bundled rule packs.

`check(subject)` runs the packs that apply to the listing: the pack of every platform in
`subject.platforms` that has one (etsy, amazon, tiktok_shop; shopify, pinterest, instagram and
facebook have no platform pack yet) plus the packs every listing gets (generic, ip, claims).
Each match becomes a `Finding` whose span points into the original text and whose evidence names
the pack, its version, the rule and the matched text. When a platform pack and a base pack find
the same thing at the same place (same field, span and code), the report keeps the more severe
finding (the platform's on a tie, it carries a real policy page) and lists the other under
`evidence["also_matched"]`; so does a finding inside a larger one of the same category that is
at least as severe.

Packs load once per process (`engine()`); a broken pack raises `PackError` on first use.
"""

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flashfusion.safeguard.moderation.pack import Pack, Rule, bounded, load_packs
from flashfusion.safeguard.moderation.text import Folded, fold
from flashfusion.safeguard.types import Category, Finding, ScreenSubject, Span, Verdict

PACKS_DIR = Path(__file__).parent / "packs"

# Platform (as in content.draft.Platform) -> its rule pack. Platforms without a pack get the
# base packs only.
PLATFORM_PACKS: dict[str, str] = {
    "etsy": "etsy",
    "amazon": "amazon",
    "tiktok_shop": "tiktok_shop",
}
BASE_PACKS: tuple[str, ...] = ("generic", "ip", "claims")


class UnknownPack(ValueError):
    """`check(packs=[…])` named a pack that is not loaded."""


@dataclass(frozen=True)
class Match:
    start: int  # original offsets
    end: int
    lang: str


@dataclass(frozen=True)
class CompiledRule:
    pack: Pack
    rule: Rule
    patterns: tuple[tuple[re.Pattern[str], str], ...]
    exceptions: tuple[re.Pattern[str], ...]
    # Words one of which every match contains (None: a regex pattern, always run the rule).
    anchors: tuple[str, ...] | None

    @classmethod
    def build(cls, pack: Pack, rule: Rule) -> "CompiledRule":
        """One alternation per language (and one for the exceptions), so the text is scanned once
        per rule rather than once per phrase; longer alternatives come first, so at one place
        "baby yoda" wins over "yoda"."""
        by_lang: dict[str, list[str]] = {}
        for pattern in rule.patterns:
            by_lang.setdefault(pattern.lang, []).extend(pattern.sources())
        patterns = tuple(
            (re.compile(bounded(_alternation(bodies))), lang) for lang, bodies in by_lang.items()
        )
        exception_bodies = rule.exception_sources()
        exceptions = (
            (re.compile(bounded(_alternation(exception_bodies))),) if exception_bodies else ()
        )
        anchors: list[str] | None = []
        for pattern in rule.patterns:
            words = pattern.anchors()
            anchors = None if words is None or anchors is None else anchors + words
        return cls(pack, rule, patterns, exceptions, None if anchors is None else tuple(anchors))

    def matches(self, folded: Folded) -> list[Match]:
        """Non-overlapping matches in `folded`, minus those an exception covers."""
        if self.anchors is not None and not any(word in folded.text for word in self.anchors):
            return []
        excepted = [m.span() for e in self.exceptions for m in e.finditer(folded.text)]
        found: list[tuple[int, int, str]] = []
        for regex, lang in self.patterns:
            for m in regex.finditer(folded.text):
                if m.end() == m.start():
                    continue
                if any(m.start() < end and start < m.end() for start, end in excepted):
                    continue
                found.append((m.start(), m.end(), lang))
        # Longest first at each start, then drop matches inside an earlier one.
        found.sort(key=lambda item: (item[0], -item[1]))
        kept: list[Match] = []
        last_end = -1
        for start, end, lang in found:
            if start < last_end:
                continue
            original_start, original_end = folded.original_span(start, end)
            kept.append(Match(original_start, original_end, lang))
            last_end = end
        return kept


def _alternation(bodies: list[str]) -> str:
    unique = sorted(dict.fromkeys(bodies), key=len, reverse=True)
    return "|".join(f"(?:{body})" for body in unique)


class ModerationEngine:
    def __init__(self, packs: Mapping[str, Pack]) -> None:
        self.packs = dict(packs)
        self._rules: dict[str, tuple[CompiledRule, ...]] = {
            pack_id: tuple(CompiledRule.build(pack, rule) for rule in pack.rules)
            for pack_id, pack in self.packs.items()
        }

    @classmethod
    def from_directory(cls, directory: Path) -> "ModerationEngine":
        return cls(load_packs(directory))

    def pack_versions(self) -> dict[str, str]:
        """Pack id -> version, for the safeguard report."""
        return {pack_id: pack.version for pack_id, pack in sorted(self.packs.items())}

    def packs_for(self, platforms: Iterable[str]) -> list[str]:
        """The packs a listing for `platforms` gets: platform packs first, then the base packs."""
        chosen: list[str] = []
        for platform in platforms:
            pack_id = PLATFORM_PACKS.get(platform)
            if pack_id in self.packs and pack_id not in chosen:
                chosen.append(pack_id)
        chosen += [pack_id for pack_id in BASE_PACKS if pack_id in self.packs]
        return chosen

    def check(self, subject: ScreenSubject, *, packs: Sequence[str] | None = None) -> list[Finding]:
        """Findings of the rules in `packs` (default: `packs_for(subject.platforms)`)."""
        if packs is None:
            chosen = self.packs_for(subject.platforms)
        else:
            missing = [pack_id for pack_id in packs if pack_id not in self.packs]
            if missing:
                raise UnknownPack(
                    f"unknown rule pack(s) {', '.join(missing)}; loaded: {', '.join(self.packs)}"
                )
            chosen = list(dict.fromkeys(packs))
        findings: list[Finding] = []
        for field in subject.fields:
            if not field.text:
                continue
            folded = fold(field.text)
            found: list[Finding] = []
            for pack_id in chosen:
                for compiled in self._rules[pack_id]:
                    for match in compiled.matches(folded):
                        found.append(
                            self._finding(compiled, field.name, field.text, match, subject)
                        )
            findings += _merge(found)
        return findings

    @staticmethod
    def _finding(
        compiled: CompiledRule, field: str, text: str, match: Match, subject: ScreenSubject
    ) -> Finding:
        rule, pack = compiled.rule, compiled.pack
        matched = text[match.start : match.end]
        verdict = Verdict(rule.verdict)
        source = rule.source
        message = rule.message
        platform_verdicts: dict[str, str] = {}
        for platform in subject.platforms:
            override = rule.platforms.get(platform)
            if override is None:
                continue
            platform_verdicts[platform] = override.verdict
            stricter = Verdict(override.verdict)
            if stricter.rank > verdict.rank:
                verdict, source = stricter, override.source
                message = override.message or message
        evidence: dict[str, Any] = {
            "pack": pack.id,
            "pack_version": pack.version,
            "rule": rule.id,
            "title": rule.title,
            "matched": matched,
            "lang": match.lang,
        }
        if rule.reason:
            evidence["reason"] = rule.reason
        if rule.label:
            evidence["label"] = rule.label
        if platform_verdicts:
            evidence["platform_verdicts"] = platform_verdicts
        return Finding(
            category=Category(rule.category),
            code=f"{rule.category}.{rule.kind}",
            verdict=verdict,
            message=message.replace("{matched}", matched),
            span=Span(field=field, start=match.start, end=match.end, text=matched),
            evidence=evidence,
            source=source,
        )


def _merge(found: list[Finding]) -> list[Finding]:
    """One finding per place: for the same span and code the most severe wins (the first, a
    platform pack's, on a tie); a finding inside another of the same category that is at least as
    severe ("k1ll" inside "k1ll all cops") folds into it. What folds is kept in the winner's
    `evidence["also_matched"]`."""
    ordered = sorted(
        enumerate(found),
        key=lambda item: (
            -(_span(item[1])[1] - _span(item[1])[0]),
            -item[1].verdict.rank,
            item[0],
        ),
    )
    kept: list[tuple[int, Finding, list[dict[str, str]]]] = []
    for index, finding in ordered:
        start, end = _span(finding)
        for _, winner, also in kept:
            w_start, w_end = _span(winner)
            same_place = (start, end, finding.code) == (w_start, w_end, winner.code)
            inside = (
                w_start <= start
                and end <= w_end
                and winner.category == finding.category
                and winner.verdict.rank >= finding.verdict.rank
            )
            if same_place or inside:
                also.append({"pack": finding.evidence["pack"], "rule": finding.evidence["rule"]})
                break
        else:
            kept.append((index, finding, []))
    merged = [
        finding
        if not also
        else Finding(
            category=finding.category,
            code=finding.code,
            verdict=finding.verdict,
            message=finding.message,
            span=finding.span,
            evidence={**finding.evidence, "also_matched": also},
            source=finding.source,
            score=finding.score,
        )
        for _, finding, also in kept
    ]
    merged.sort(key=lambda f: (_span(f)[0], -f.verdict.rank, f.code))
    return merged


def _span(finding: Finding) -> tuple[int, int]:
    assert finding.span is not None  # every rule finding has one
    return finding.span.start, finding.span.end


@functools.cache
def engine() -> ModerationEngine:
    """The engine over the bundled packs, loaded and compiled once per process."""
    return ModerationEngine.from_directory(PACKS_DIR)


def check(subject: ScreenSubject, *, packs: list[str] | None = None) -> list[Finding]:
    """Policy, IP and claims findings for `subject` from the bundled rule packs."""
    return engine().check(subject, packs=packs)


def pack_versions() -> dict[str, str]:
    """Bundled pack id -> version (recorded in every safeguard report)."""
    return engine().pack_versions()

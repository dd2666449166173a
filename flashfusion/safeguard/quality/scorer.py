"""Listing quality score, 0–100, with the reasons it lost points.

The score starts at 100 and each component takes off points, up to its weight (FlashFusion's
weighting, sum 100). A component that cannot be judged (no platform, no keywords, no brand
voice, no prose) takes off nothing: the score says what is wrong, not what is unknown.

| component        | weight | points lost (all thresholds are FlashFusion heuristics)          |
|------------------|--------|------------------------------------------------------------------|
| readability      | 20     | en: Flesch reading ease F of the prose (description, bullets,    |
|                  |        | caption) below 60 costs ceil((60 - F) / 3). Other languages:     |
|                  |        | sentences over 20 words cost ceil(average - 20), at most 12, and |
|                  |        | words over 8 letters on average ceil(2 * (average - 8)), at most |
|                  |        | 8; ja/zh sentences over 40 characters ceil((average - 40) / 2).  |
| platform_limits  | 20     | 10 per broken platform limit (content.rules.validate: too long,  |
|                  |        | too short, too many, forbidden characters, empty)                |
| keywords         | 15     | round(15 * missing / given) for target keywords the copy lacks   |
| repetition       | 15     | 5 each: a word repeated in the title, a 3-word phrase used 3+    |
|                  |        | times in the prose, duplicate tags                               |
| spelling         | 15     | double spaces 2, ALL CAPS shouting (2+ all-caps words of 4+      |
|                  |        | letters in one field) 4, repeated punctuation ("!!", "??", "....")|
|                  |        | 3, a sentence starting lowercase 3, a doubled function word      |
|                  |        | ("the the", en) 3, 3 per known misspelling (en, misspellings.py) |
| brand_voice      | 15     | round(15 * (100 - consistency) / 100), content.voice score       |

Points are whole numbers and `score == 100 - sum(reason.points_lost)`; when a component's
reasons add up to more than its weight, the later ones are cut so the component loses exactly
its weight. A subject with no text at all scores 0.

Findings: "quality.low_score" (WARN) when the score is below the warn threshold (default 50),
naming the biggest losses; "quality.platform_limit" (WARN) for each broken platform limit,
naming the field and the limit. Quality never blocks.
"""

import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from flashfusion.content.draft import UNSPACED_LANGUAGES, BrandVoiceProfile, ListingDraft
from flashfusion.content.rules import PlatformRules, get_rules, validate
from flashfusion.content.seo import (
    average_sentence_length,
    contains,
    flesch_reading_ease,
    normalise,
    tokens,
)
from flashfusion.content.voice import consistency_score
from flashfusion.safeguard.quality.misspellings import MISSPELLINGS
from flashfusion.safeguard.types import Category, Finding, ScreenSubject, Span, Verdict

WEIGHTS: dict[str, int] = {
    "readability": 20,
    "platform_limits": 20,
    "keywords": 15,
    "repetition": 15,
    "spelling": 15,
    "brand_voice": 15,
}
DEFAULT_WARN_THRESHOLD = 50
# FlashFusion heuristics.
FLESCH_MIN = 60.0
FLESCH_POINTS_STEP = 3.0
SENTENCE_WORDS_MAX = 20
SENTENCE_POINTS_MAX = 12
WORD_LETTERS_MAX = 8.0
WORD_POINTS_MAX = 8
SENTENCE_CHARS_MAX_UNSPACED = 40
PLATFORM_VIOLATION_POINTS = 10
REPETITION_POINTS = 5
PHRASE_SIZE = 3
PHRASE_REPEATS = 3
SHOUTING_WORDS = 2
SHOUTING_LETTERS = 4
SPELLING_POINTS = {
    "spelling.double_space": 2,
    "spelling.shouting": 4,
    "spelling.repeated_punctuation": 3,
    "spelling.sentence_capital": 3,
    "spelling.doubled_word": 3,
    "spelling.misspelling": 3,
}
TOP_REASONS = 3
# Violations of content.rules that are platform limits; duplicates count under repetition and
# fields the platform ignores are no quality issue.
PLATFORM_LIMIT_CODES = frozenset(
    {"too_long", "too_short", "too_many", "forbidden_characters", "required"}
)
# FlashFusion lists (English): too common to count as a repeated title word or phrase, and the
# only words whose doubling ("the the") is flagged: "ho ho ho" or "bye bye" are often meant.
_STOPWORDS = frozenset(
    "a an and are as at be but by for from in is it its of on or so that the this to was "
    "were will with you your our we i my".split()
)
_DOUBLED_WORDS = frozenset(
    "a an and are as at be but by for from in is it of on or the to was with".split()
)
# Abbreviations after which a lowercase word does not start a sentence (FlashFusion list).
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "approx.", "incl.", "oz.", "lbs.", "no.")
_SCALARS = ("title", "description", "seo_title", "meta_description", "alt_text")
_PROSE_FIELDS = frozenset({"description", "caption", "meta_description"})
_COPY_FIELDS = frozenset({*_SCALARS, "caption"})


@dataclass(frozen=True)
class Reason:
    """Why the score lost points. `code` is "<component>.<kind>"; `span` is the first place it
    happens, for the UI to highlight."""

    code: str
    points_lost: int
    message: str
    span: Span | None = None

    @property
    def component(self) -> str:
        return self.code.split(".", 1)[0]

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "points_lost": self.points_lost, "message": self.message}


@dataclass(frozen=True)
class QualityResult:
    """The score, every reason it lost points (costliest first) and the findings."""

    score: int
    reasons: list[Reason]
    findings: list[Finding] = field(default_factory=list)


# --- the subject as a listing draft ---------------------------------------------------------


@dataclass
class _Listing:
    """The subject's listing fields as a ListingDraft, and where each draft field sits in the
    subject: draft field ("title", "tags[2]", "bullets[0]") -> (subject field, offset)."""

    draft: ListingDraft
    present: set[str]
    where: dict[str, tuple[str, int]]
    texts: dict[str, str]


def _bullet_order(name: str) -> tuple[int, str]:
    number = name.split(":", 1)[1]
    return (int(number), "") if number.isdigit() else (1 << 30, number)


def _listing(subject: ScreenSubject) -> _Listing:
    values: dict[str, object] = {"title": "", "description": ""}
    present: set[str] = set()
    where: dict[str, tuple[str, int]] = {}
    texts = {f.name: f.text for f in subject.fields}
    for name in _SCALARS:
        if name in texts:
            values[name] = texts[name]
            present.add(name)
            where[name] = (name, 0)
    if "description" not in texts and "caption" in texts:
        values["description"] = texts["caption"]
        present.add("description")
        where["description"] = ("caption", 0)
    if "tags" in texts:
        tags: list[str] = []
        offset = 0
        for i, tag in enumerate(texts["tags"].split(", ") if texts["tags"] else []):
            tags.append(tag)
            where[f"tags[{i}]"] = ("tags", offset)
            offset += len(tag) + 2
        values["tags"] = tags
        present.add("tags")
        where["tags"] = ("tags", 0)
    bullets = sorted((n for n in texts if n.startswith("bullet:")), key=_bullet_order)
    if bullets:
        values["bullets"] = [texts[n] for n in bullets]
        present.add("bullets")
        for i, name in enumerate(bullets):
            where[f"bullets[{i}]"] = (name, 0)
    return _Listing(ListingDraft.model_validate(values), present, where, texts)


def _field_text(listing: _Listing, draft_field: str) -> str:
    """The text of one draft field: a tag, a bullet or a whole scalar field."""
    if draft_field.startswith("tags["):
        return listing.draft.tags[int(draft_field[5:-1])]
    name, _ = listing.where[draft_field]
    return listing.texts[name]


def _char_index(text: str, limit: int, rules: PlatformRules) -> int:
    """The index of the first character past `limit` as the platform counts."""
    if rules.length_unit != "bytes":
        return min(limit, len(text))
    used = 0
    for i, ch in enumerate(text):
        used += len(ch.encode("utf-8"))
        if used > limit:
            return i
    return len(text)


def _violation_span(
    listing: _Listing, draft_field: str, code: str, limit: int | None, rules: PlatformRules
) -> Span | None:
    if draft_field not in listing.where:
        return None
    name, offset = listing.where[draft_field]
    whole = listing.texts[name]
    if draft_field == "tags" and code == "too_many" and limit is not None:
        start = listing.where.get(f"tags[{limit}]", ("tags", len(whole)))[1]
        return Span(name, start, len(whole), whole[start:])
    if draft_field == "bullets":
        return None
    text = _field_text(listing, draft_field)
    start, end = offset, offset + len(text)
    if code == "too_long" and limit is not None:
        start = offset + _char_index(text, limit, rules)
    return Span(name, start, end, whole[start:end])


# --- components ------------------------------------------------------------------------------


def _ceil(value: float) -> int:
    # Rounded first, so that float noise (5.000000001) does not cost an extra point.
    return math.ceil(round(value, 9))


def _half_up(value: float) -> int:
    return math.floor(value + 0.5)


def _prose(listing: _Listing) -> str:
    """The running text readability and phrase repetition look at."""
    parts = [listing.draft.description] if "description" in listing.present else []
    parts += listing.draft.bullets
    if "meta_description" in listing.texts and not parts:
        parts.append(listing.texts["meta_description"])
    return "\n".join(p for p in parts if p.strip())


def _readability(prose: str, language: str) -> list[Reason]:
    if not prose.strip():
        return []
    if language == "en":
        flesch = flesch_reading_ease(prose)
        if flesch is None or flesch >= FLESCH_MIN:
            return []
        lost = _ceil((FLESCH_MIN - flesch) / FLESCH_POINTS_STEP)
        return [
            Reason(
                "readability.flesch",
                lost,
                f"Flesch reading ease is {flesch:.1f} (FlashFusion aims for {FLESCH_MIN:.0f} or "
                "more): use shorter sentences and shorter words.",
            )
        ]
    average = average_sentence_length(prose, language)
    if language in UNSPACED_LANGUAGES:
        if average <= SENTENCE_CHARS_MAX_UNSPACED:
            return []
        lost = _ceil((average - SENTENCE_CHARS_MAX_UNSPACED) / 2)
        return [
            Reason(
                "readability.sentence_length",
                lost,
                f"Sentences average {average:.1f} characters (FlashFusion aims for "
                f"{SENTENCE_CHARS_MAX_UNSPACED} or fewer): split the long ones.",
            )
        ]
    out = []
    if average > SENTENCE_WORDS_MAX:
        out.append(
            Reason(
                "readability.sentence_length",
                min(SENTENCE_POINTS_MAX, _ceil(average - SENTENCE_WORDS_MAX)),
                f"Sentences average {average:.1f} words (FlashFusion aims for "
                f"{SENTENCE_WORDS_MAX} or fewer): split the long ones.",
            )
        )
    words = [t for t in tokens(prose, language) if not t.isdigit()]
    letters = sum(len(w) for w in words) / len(words) if words else 0.0
    if letters > WORD_LETTERS_MAX:
        out.append(
            Reason(
                "readability.word_length",
                min(WORD_POINTS_MAX, _ceil(2 * (letters - WORD_LETTERS_MAX))),
                f"Words average {letters:.1f} letters (FlashFusion aims for "
                f"{WORD_LETTERS_MAX:.0f} or fewer): prefer shorter, everyday words.",
            )
        )
    return out


def _platform(
    listing: _Listing, rules: PlatformRules, language: str
) -> tuple[list[Reason], list[Finding]]:
    reasons: list[Reason] = []
    findings: list[Finding] = []
    unit = "bytes" if rules.length_unit == "bytes" else "characters"
    for violation in validate(listing.draft, rules, language=language):
        base = violation.field.split("[", 1)[0]
        if violation.code not in PLATFORM_LIMIT_CODES or base not in listing.present:
            continue
        span = _violation_span(listing, violation.field, violation.code, violation.limit, rules)
        shown = span.field if span is not None else violation.field
        if violation.field.startswith("tags["):
            shown = violation.field
        limit_text = (
            f"{violation.limit} {'tags' if violation.code == 'too_many' else unit}"
            if violation.limit is not None
            else "the platform's allowed characters"
            if violation.code == "forbidden_characters"
            else "a non-empty value"
        )
        advice = {
            "too_long": "Shorten it to fit.",
            "too_short": "Add to it.",
            "too_many": "Remove the extra ones.",
            "forbidden_characters": "Remove those characters.",
            "required": "Fill it in.",
        }[violation.code]
        reasons.append(
            Reason(
                f"platform_limits.{violation.code}",
                PLATFORM_VIOLATION_POINTS,
                f"{violation.message}.",
                span,
            )
        )
        url = _URL.search(violation.source or "")
        findings.append(
            Finding(
                category=Category.quality,
                code="quality.platform_limit",
                verdict=Verdict.warn,
                message=f"{rules.label}: {violation.message} (limit: {limit_text}). {advice}",
                span=span,
                evidence={
                    "platform": rules.platform,
                    "field": shown,
                    "rule": violation.code,
                    "limit": violation.limit,
                    "unit": unit if violation.code in ("too_long", "too_short") else None,
                    "limit_source": violation.source,
                },
                source=url.group() if url else None,
            )
        )
    return reasons, findings


def _clean_keywords(keywords: Sequence[str]) -> list[str]:
    out: dict[str, str] = {}
    for keyword in keywords:
        text = " ".join(keyword.split())
        if text and normalise(text) not in out:
            out[normalise(text)] = text
    return list(out.values())


def _keywords(text: str, keywords: Sequence[str], language: str) -> list[Reason]:
    wanted = _clean_keywords(keywords)
    if not wanted:
        return []
    missing = [kw for kw in wanted if not contains(text, kw, language)]
    if not missing:
        return []
    lost = _half_up(WEIGHTS["keywords"] * len(missing) / len(wanted))
    listed = ", ".join(repr(kw) for kw in missing[:5])
    return [
        Reason(
            "keywords.missing",
            lost,
            f"{len(missing)} of {len(wanted)} target keywords are not in the copy: {listed}. "
            "Work them into the title, tags or description.",
        )
    ]


def _counted(token: str, language: str) -> bool:
    if token.isdigit():
        return False
    if language in UNSPACED_LANGUAGES:
        return True
    return len(token) >= 3 and token not in _STOPWORDS and (language == "en" or len(token) >= 4)


def _repetition(listing: _Listing, prose: str, language: str) -> list[Reason]:
    out = []
    if "title" in listing.present:
        counts = Counter(t for t in tokens(listing.draft.title, language) if _counted(t, language))
        repeated = [t for t, n in counts.items() if n > 1]
        if repeated:
            out.append(
                Reason(
                    "repetition.title_words",
                    REPETITION_POINTS,
                    "The title repeats "
                    + ", ".join(repr(t) for t in repeated[:5])
                    + ": use the room for another keyword.",
                    _first_word(listing.texts[listing.where["title"][0]], repeated[0], "title"),
                )
            )
    words = tokens(prose, language)
    grams = Counter(
        tuple(words[i : i + PHRASE_SIZE])
        for i in range(len(words) - PHRASE_SIZE + 1)
        if not all(w in _STOPWORDS for w in words[i : i + PHRASE_SIZE])
    )
    phrases = [" ".join(g) for g, n in grams.items() if n >= PHRASE_REPEATS]
    if phrases:
        out.append(
            Reason(
                "repetition.phrase",
                REPETITION_POINTS,
                "The description repeats "
                + ", ".join(repr(p) for p in phrases[:3])
                + f" {PHRASE_REPEATS} or more times: say it once and use the space for details.",
            )
        )
    if "tags" in listing.present:
        seen: dict[str, int] = {}
        duplicates: list[tuple[int, str]] = []
        for i, tag in enumerate(listing.draft.tags):
            key = normalise(tag)
            if not key:
                continue
            if key in seen:
                duplicates.append((i, tag))
            else:
                seen[key] = i
        if duplicates:
            first, tag = duplicates[0]
            name, offset = listing.where[f"tags[{first}]"]
            out.append(
                Reason(
                    "repetition.duplicate_tags",
                    REPETITION_POINTS,
                    f"{len(duplicates)} duplicate {'tag' if len(duplicates) == 1 else 'tags'} ("
                    + ", ".join(repr(t) for _, t in duplicates[:5])
                    + "): each tag slot should be a different search phrase.",
                    Span(name, offset, offset + len(tag), tag),
                )
            )
    return out


def _first_word(text: str, word: str, name: str) -> Span | None:
    match = re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE)
    return Span(name, match.start(), match.end(), match.group()) if match else None


def _span(name: str, match: re.Match[str], group: int = 0) -> Span:
    return Span(name, match.start(group), match.end(group), match.group(group))


def _is_copy(name: str) -> bool:
    return name in _COPY_FIELDS or name.startswith("bullet:")


def _is_prose(name: str) -> bool:
    return name in _PROSE_FIELDS or name.startswith("bullet:")


_URL = re.compile(r"https?://[^\s'\")(]+")
_DOUBLE_SPACE = re.compile(r"(?<=\S) {2,}(?=\S)")
_REPEATED_PUNCTUATION = re.compile(r"[!?]{2,}|\.{4,}|,{2,}")
_CAPS_WORD = re.compile(rf"(?<!\w)[^\W\d_]{{{SHOUTING_LETTERS},}}(?!\w)")
_SENTENCE_START = re.compile(r"(?:\A|(?<=[.!?])\s+|\n)[ \t\"'“‘(]*([^\W\d_])")
_ENGLISH_WORD = re.compile(r"(?<![\w'])[A-Za-z]+(?![\w'])")
_DOUBLED = re.compile(r"(?<!\w)([A-Za-z]+)\s+(\1)(?!\w)", re.IGNORECASE)


def _spelling_hits(subject: ScreenSubject) -> Iterator[tuple[str, Span, str]]:
    """(reason code, where, what) for every heuristic hit, fields in subject order."""
    english = subject.language == "en"
    for f in subject.fields:
        text = f.text
        if _is_copy(f.name):
            for m in _DOUBLE_SPACE.finditer(text):
                yield "spelling.double_space", _span(f.name, m), "double space"
            caps = [m for m in _CAPS_WORD.finditer(text) if m.group().isupper()]
            if len(caps) >= SHOUTING_WORDS:
                yield "spelling.shouting", _span(f.name, caps[0]), caps[0].group()
            for m in _REPEATED_PUNCTUATION.finditer(text):
                yield "spelling.repeated_punctuation", _span(f.name, m), m.group()
        if _is_prose(f.name):
            for m in _SENTENCE_START.finditer(text):
                letter = m.group(1)
                before = text[: m.start(1)].rstrip(" \t\"'“‘(").casefold()
                if not letter.islower() or before.endswith(".."):
                    continue
                if any(before.endswith(a) for a in _ABBREVIATIONS):
                    continue
                end = re.match(r"[^\W\d_]+", text[m.start(1) :])
                word_end = m.start(1) + (end.end() if end else 1)
                yield (
                    "spelling.sentence_capital",
                    Span(f.name, m.start(1), word_end, text[m.start(1) : word_end]),
                    text[m.start(1) : word_end],
                )
        if english and f.name != "tags":
            for m in _DOUBLED.finditer(text):
                if m.group(1).casefold() in _DOUBLED_WORDS:
                    yield "spelling.doubled_word", _span(f.name, m), m.group()
        if english:
            for m in _ENGLISH_WORD.finditer(text):
                if m.group().casefold() in MISSPELLINGS:
                    yield "spelling.misspelling", _span(f.name, m), m.group().casefold()


def _spelling(subject: ScreenSubject) -> list[Reason]:
    first: dict[tuple[str, str], tuple[Span, int]] = {}
    for code, span, what in _spelling_hits(subject):
        # One reason per kind; misspellings one per distinct word.
        key = (code, what if code == "spelling.misspelling" else "")
        seen = first.get(key)
        first[key] = (seen[0], seen[1] + 1) if seen else (span, 1)
    out = []
    for (code, word), (span, count) in first.items():
        times = "" if count == 1 else f" ({count} times)"
        message = {
            "spelling.double_space": f"Double spaces between words{times}: use one space.",
            "spelling.shouting": f"ALL CAPS words in the {span.field} read as shouting "
            f"(such as {span.text!r}): use normal case.",
            "spelling.repeated_punctuation": f"Repeated punctuation such as {span.text!r}"
            f"{times}: one mark is enough.",
            "spelling.sentence_capital": f"A sentence starts in lowercase ({span.text!r}"
            f"{', and more' if count > 1 else ''}): capitalise the first word.",
            "spelling.doubled_word": f"Doubled word {span.text!r}{times}: remove one.",
            "spelling.misspelling": f"{word!r} is a common misspelling of "
            f"{MISSPELLINGS.get(word, '')!r}{times} (codespell's list).",
        }[code]
        out.append(Reason(code, SPELLING_POINTS[code], message, span))
    return out


def _voice(listing: _Listing, subject: ScreenSubject, voice: BrandVoiceProfile) -> list[Reason]:
    draft = listing.draft
    if not listing.present:
        draft = ListingDraft(title="", description="\n".join(f.text for f in subject.fields))
    result = consistency_score(draft, voice, language=subject.language)
    lost = _half_up(WEIGHTS["brand_voice"] * (100 - result.score) / 100)
    if lost == 0:
        return []
    notes = " ".join(result.notes[:2])
    return [
        Reason(
            "brand_voice.inconsistent",
            lost,
            f"Brand-voice consistency with {voice.name!r} is {result.score}/100. {notes}",
        )
    ]


def _capped(component: str, reasons: list[Reason]) -> list[Reason]:
    """The reasons with their points cut so that together they lose at most the weight."""
    room = WEIGHTS[component]
    out = []
    for reason in reasons:
        points = min(reason.points_lost, room)
        room -= points
        out.append(
            reason
            if points == reason.points_lost
            else Reason(reason.code, points, reason.message, reason.span)
        )
    return out


# --- the score -------------------------------------------------------------------------------


def score(
    subject: ScreenSubject,
    *,
    platform: str | None,
    keywords: Sequence[str] = (),
    brand_voice: BrandVoiceProfile | None,
    warn_threshold: int = DEFAULT_WARN_THRESHOLD,
) -> QualityResult:
    """Score the subject's copy 0–100 and say why; see the module docstring for the weights.

    `platform` (a content.draft.Platform value) enables the platform-limit checks; an unknown
    name raises ValueError listing the valid ones."""
    if isinstance(warn_threshold, bool) or not 0 <= warn_threshold <= 100:
        raise ValueError(f"warn_threshold must be an integer 0–100, got {warn_threshold!r}")
    rules = get_rules(platform) if platform is not None else None
    if not any(f.text.strip() for f in subject.fields):
        reason = Reason(
            "content.empty", 100, "There is no text to score: add a title and a description."
        )
        return QualityResult(0, [reason], [_low_score(0, [reason], warn_threshold)])

    language = subject.language
    listing = _listing(subject)
    prose = _prose(listing)
    copy_text = (
        "\n".join(
            listing.texts[n]
            for n in listing.texts
            if n in _COPY_FIELDS or n == "tags" or n.startswith("bullet:")
        )
        if listing.present
        else "\n".join(f.text for f in subject.fields)
    )
    findings: list[Finding] = []
    by_component: dict[str, list[Reason]] = {c: [] for c in WEIGHTS}
    by_component["readability"] = _readability(prose, language)
    if rules is not None:
        by_component["platform_limits"], findings = _platform(listing, rules, language)
    by_component["keywords"] = _keywords(copy_text, keywords, language)
    by_component["repetition"] = _repetition(listing, prose, language)
    by_component["spelling"] = _spelling(subject)
    if brand_voice is not None:
        by_component["brand_voice"] = _voice(listing, subject, brand_voice)

    # Within a component the costliest reasons keep their points; the cap cuts the rest.
    reasons = [
        r
        for c in WEIGHTS
        for r in _capped(c, sorted(by_component[c], key=lambda r: -r.points_lost))
    ]
    reasons.sort(key=lambda r: -r.points_lost)  # stable: component order among equals
    total = 100 - sum(r.points_lost for r in reasons)
    if total < warn_threshold:
        findings.insert(0, _low_score(total, reasons, warn_threshold))
    return QualityResult(total, reasons, findings)


def _low_score(total: int, reasons: list[Reason], threshold: int) -> Finding:
    top = [r for r in reasons if r.points_lost > 0][:TOP_REASONS]
    listed = "; ".join(f"{r.message} (−{r.points_lost})" for r in top)
    return Finding(
        category=Category.quality,
        code="quality.low_score",
        verdict=Verdict.warn,
        message=f"Quality score {total}/100, below this workspace's threshold of {threshold}. "
        f"Biggest losses: {listed}",
        span=top[0].span if top else None,
        evidence={"score": total, "threshold": threshold, "reasons": [r.as_dict() for r in top]},
        score=total / 100,
    )

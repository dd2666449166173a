"""Listing SEO analyser: a 0–100 score from weighted checks, with concrete suggestions.

All thresholds here are FlashFusion heuristics, not platform facts; platform limits come from
`flashfusion.content.rules`. The score is the share of applicable weight whose check passed:
`round(100 * sum(weight of passed checks) / sum(weight of applicable checks))`. A check that does
not apply (no keywords given, the platform has no tags, ...) is reported with weight 0.

Weights (sum 100): keyword in title 20, front-loaded 10, no repeated title words 5, keyword
coverage in tags 15, tag slots used 10, tags not just repeating the title 5, multi-word tags 10,
keyword in the first sentence 10, readability 10, description length 5.
"""

import re
import unicodedata
from collections import Counter

from pydantic import BaseModel, Field

from flashfusion.content.draft import UNSPACED_LANGUAGES, ListingDraft
from flashfusion.content.rules.base import PlatformRules

WEIGHTS: dict[str, int] = {
    "keyword_in_title": 20,
    "keyword_front_loaded": 10,
    "title_repeated_words": 5,
    "tag_keyword_coverage": 15,
    "tag_slots_used": 10,
    "tags_repeat_title": 5,
    "multi_word_tags": 10,
    "keyword_in_first_sentence": 10,
    "readability": 10,
    "description_length": 5,
}
# FlashFusion heuristics (not platform facts). The keyword should end within the first N
# characters of the title; ja/zh pack more meaning into a character, hence the smaller N.
FRONT_LOAD_CHARS = 40
FRONT_LOAD_CHARS_UNSPACED = 15
TAG_COVERAGE_SHARE = 0.8
MULTI_WORD_TAG_SHARE = 0.5
TAG_TITLE_REPEAT_SHARE = 0.5
SENTENCE_WORDS_MAX = 20
SENTENCE_CHARS_MAX_UNSPACED = 40
FLESCH_READING_EASE_MIN = 60.0
DESCRIPTION_WORDS = (80, 300)
DESCRIPTION_CHARS_UNSPACED = (160, 600)
# Too common to count as a repeated title word.
_EN_STOPWORDS = frozenset(
    "a an and are as at be but by for from in is it of on or the to with your you".split()
)

# Above this many tags, a platform's tag limit is a ceiling rather than slots to fill.
TAG_SLOT_CEILING = 30


class SeoCheck(BaseModel):
    name: str = Field(description="Check identifier, e.g. `keyword_in_title`.")
    passed: bool = Field(description="Whether the draft passes this check.")
    weight: int = Field(description="Points the check carries; 0 when it does not apply.")
    detail: str = Field(description="What was measured, in words.")


class SeoReport(BaseModel):
    score: int = Field(ge=0, le=100, description="Weighted share of passed checks, 0–100.")
    checks: list[SeoCheck] = Field(description="Every check, passed or not.")
    suggestions: list[str] = Field(description="Concrete edits that would raise the score.")


# --- language-aware text helpers (also used by flashfusion.content.voice) --------------------


def normalise(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed: the form all matching is done in."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (
        0x3040 <= code <= 0x30FF
        or 0x3400 <= code <= 0x4DBF
        or 0x4E00 <= code <= 0x9FFF
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x3FFFF
    )


def _is_hangul(ch: str) -> bool:
    return 0xAC00 <= ord(ch) <= 0xD7A3


def tokens(text: str, language: str) -> list[str]:
    """Words; for ja/zh, runs of Han/kana become character bigrams (no spaces to split on)."""
    out: list[str] = []
    for run in re.findall(r"[^\W_]+(?:['’][^\W_]+)*", normalise(text)):
        if language in UNSPACED_LANGUAGES and any(_is_cjk(ch) for ch in run):
            out.extend(run[i : i + 2] for i in range(max(1, len(run) - 1)))
        else:
            out.append(run)
    return out


def word_count(text: str, language: str) -> int:
    """Words (spaced languages) or letters/digits (ja/zh) in `text`."""
    if language in UNSPACED_LANGUAGES:
        return sum(1 for ch in normalise(text) if ch.isalnum())
    return len(re.findall(r"[^\W_]+(?:['’][^\W_]+)*", normalise(text)))


def sentences(text: str) -> list[str]:
    """Sentences split on . ! ? 。 ！ ？ and line breaks."""
    parts = re.split(r"(?<=[.!?。！？])\s*|\n+", unicodedata.normalize("NFKC", text))
    return [p.strip() for p in parts if p and any(ch.isalnum() for ch in p)]


def _phrase_regex(phrase: str, language: str) -> re.Pattern[str] | None:
    norm = normalise(phrase)
    if not norm:
        return None
    if language in UNSPACED_LANGUAGES:
        # Spaces are optional between characters, so 猫 マグ matches 猫マグ.
        chars = [ch for ch in norm if not ch.isspace()]
        return re.compile(r"\s*".join(re.escape(ch) for ch in chars))
    body = r"[\W_]+".join(re.escape(part) for part in norm.split())
    left = r"(?<!\w)"
    # A Korean word may carry a particle (고양이를), so it needs no boundary after it.
    right = "" if language == "ko" and _is_hangul(norm[-1]) else r"(?!\w)"
    return re.compile(left + body + right)


def find(text: str, phrase: str, language: str) -> re.Match[str] | None:
    """Where `phrase` occurs in `text` (in normalised form), as a whole word in spaced
    languages."""
    regex = _phrase_regex(phrase, language)
    return regex.search(normalise(text)) if regex else None


def _bigrams(text: str, *, skip: bool = False) -> set[str]:
    """Character bigrams; with `skip`, also pairs one character apart, so a particle between
    two characters (猫のマグ) still yields the pair 猫マ."""
    chars = "".join(ch for ch in normalise(text) if ch.isalnum())
    grams = {chars[i : i + 2] for i in range(len(chars) - 1)}
    if skip:
        grams |= {chars[i] + chars[i + 2] for i in range(len(chars) - 2)}
    return grams or ({chars} if chars else set())


def contains(text: str, phrase: str, language: str) -> bool:
    """Whether `text` mentions `phrase`; for ja/zh also when 80% of its character bigrams occur
    (particles and word order vary: 猫のマグ ~ 猫マグ)."""
    if find(text, phrase, language):
        return True
    if language in UNSPACED_LANGUAGES:
        wanted = _bigrams(phrase)
        return bool(wanted) and len(wanted & _bigrams(text, skip=True)) >= 0.8 * len(wanted)
    return False


def _syllables(word: str) -> int:
    groups = re.findall(r"[aeiouy]+", word)
    count = len(groups)
    if word.endswith("e") and not word.endswith("le") and count > 1:
        count -= 1
    return max(1, count)


def flesch_reading_ease(text: str) -> float | None:
    """Flesch reading ease (Flesch 1948) for English text; None when there are no words."""
    words = re.findall(r"[a-z]+(?:'[a-z]+)?", normalise(text))
    count = len(sentences(text)) or 1
    if not words:
        return None
    syllables = sum(_syllables(w) for w in words)
    return 206.835 - 1.015 * (len(words) / count) - 84.6 * (syllables / len(words))


def average_sentence_length(text: str, language: str) -> float:
    """Mean words per sentence (characters per sentence for ja/zh)."""
    parts = sentences(text)
    if not parts:
        return 0.0
    return sum(word_count(p, language) for p in parts) / len(parts)


# --- the analyser ----------------------------------------------------------------------------


def _check(name: str, passed: bool, detail: str, applies: bool = True) -> SeoCheck:
    return SeoCheck(name=name, passed=passed, weight=WEIGHTS[name] if applies else 0, detail=detail)


def _not_applicable(name: str, why: str) -> SeoCheck:
    return _check(name, True, "not applicable: " + why, applies=False)


def _clean_keywords(keywords: list[str]) -> list[str]:
    out: dict[str, str] = {}
    for keyword in keywords:
        text = " ".join(keyword.split())
        if text and normalise(text) not in out:
            out[normalise(text)] = text
    return list(out.values())


def analyse(
    draft: ListingDraft, *, keywords: list[str], rules: PlatformRules, language: str = "en"
) -> SeoReport:
    """Score a draft's search-readiness for one platform and say how to improve it."""
    checks: list[SeoCheck] = []
    suggestions: list[str] = []
    unspaced = language in UNSPACED_LANGUAGES
    keywords = _clean_keywords(keywords)
    primary = keywords[0] if keywords else None
    uses_title = "title" in rules.fields
    lines = [line for line in draft.description.split("\n") if line.strip()]
    headline = draft.title if uses_title else (lines[0] if lines else "")
    headline_name = "title" if uses_title else "first line of the caption"
    uses_tags = "tags" in rules.fields
    tags = [t for t in draft.tags if t.strip()] if uses_tags else []
    no_keywords = "no target keywords were given"

    # 1–2. Primary keyword in the title, near its start.
    front = FRONT_LOAD_CHARS_UNSPACED if unspaced else FRONT_LOAD_CHARS
    if primary is None:
        checks.append(_not_applicable("keyword_in_title", no_keywords))
        checks.append(_not_applicable("keyword_front_loaded", no_keywords))
        suggestions.append("Add target keywords (best first) so FlashFusion can check placement.")
    else:
        match = find(headline, primary, language)
        present = match is not None or contains(headline, primary, language)
        checks.append(
            _check(
                "keyword_in_title",
                present,
                f"{primary!r} {'appears' if present else 'does not appear'} in the {headline_name}",
            )
        )
        if not present:
            suggestions.append(
                f"Add {primary!r} to the {headline_name}: it is your primary keyword and the "
                f"{headline_name} does not mention it yet."
            )
        front_ok = match is not None and (match.end() <= front or match.start() == 0)
        where = f"ends at character {match.end()}" if match else "not found"
        checks.append(
            _check(
                "keyword_front_loaded",
                front_ok,
                f"{primary!r} {where}; FlashFusion heuristic: within the first {front}",
            )
        )
        if present and not front_ok:
            suggestions.append(
                f"Move {primary!r} to the start of the {headline_name}: FlashFusion checks that "
                f"it ends within the first {front} characters, the part shoppers see first when "
                "titles are cut short."
            )

    # 3. Repeated words in the title.
    counts = Counter(
        tok
        for tok in tokens(headline, language)
        if (unspaced or (len(tok) >= 3 and tok not in _EN_STOPWORDS)) and not tok.isdigit()
    )
    repeated = [tok for tok, n in counts.items() if n > 1]
    checks.append(
        _check(
            "title_repeated_words",
            not repeated,
            "repeated in the "
            + headline_name
            + ": "
            + (", ".join(repr(t) for t in repeated) if repeated else "nothing"),
        )
    )
    if repeated:
        suggestions.append(
            f"Remove the repeated {'word' if len(repeated) == 1 else 'words'} "
            + ", ".join(repr(t) for t in repeated[:5])
            + f" from the {headline_name} to make room for another keyword."
        )

    # 4. Keyword coverage in tags.
    if not uses_tags:
        for name in ("tag_keyword_coverage", "tag_slots_used", "tags_repeat_title"):
            checks.append(_not_applicable(name, f"{rules.label} listings have no tags"))
        checks.append(_not_applicable("multi_word_tags", f"{rules.label} listings have no tags"))
    else:
        tag_tokens = {tok for tag in tags for tok in tokens(tag, language)}
        if not keywords:
            checks.append(_not_applicable("tag_keyword_coverage", no_keywords))
        else:
            missing = [
                kw
                for kw in keywords
                if not any(contains(tag, kw, language) for tag in tags)
                and not (set(tokens(kw, language)) <= tag_tokens and tokens(kw, language))
            ]
            share = 1 - len(missing) / len(keywords)
            checks.append(
                _check(
                    "tag_keyword_coverage",
                    share >= TAG_COVERAGE_SHARE,
                    f"{len(keywords) - len(missing)} of {len(keywords)} keywords are covered by "
                    f"tags (FlashFusion target {TAG_COVERAGE_SHARE:.0%})",
                )
            )
            if share < TAG_COVERAGE_SHARE:
                room = rules.tag_max_length.value if rules.tag_max_length else None
                fitting = [kw for kw in missing if room is None or len(kw) <= room]
                listed = ", ".join(repr(kw) for kw in (fitting or missing)[:5])
                noun = "keyword" if len(fitting or missing) == 1 else "keywords"
                suggestions.append(f"Add tags for the {noun} {listed}: no tag covers them yet.")

        # 5. Tag slot usage. Only a short, fixed set of slots (Etsy's 13) is meant to be filled;
        # a ceiling like Shopify's 250 tags is a hard limit, not a target (FlashFusion's rule).
        if rules.tags_max is None:
            checks.append(
                _not_applicable("tag_slots_used", f"{rules.label} publishes no tag count limit")
            )
        elif rules.tags_max.value > TAG_SLOT_CEILING:
            checks.append(
                _not_applicable(
                    "tag_slots_used",
                    f"{rules.label} allows up to {rules.tags_max.value} tags: a ceiling, not "
                    "slots to fill",
                )
            )
        else:
            slots = rules.tags_max.value
            full = len(tags) >= slots
            checks.append(_check("tag_slots_used", full, f"{len(tags)} of {slots} tag slots used"))
            if not full:
                ideas = [
                    kw
                    for kw in keywords
                    if not any(normalise(kw) == normalise(t) for t in tags)
                    and (rules.tag_max_length is None or len(kw) <= rules.tag_max_length.value)
                ][: slots - len(tags)]
                example = (" such as " + ", ".join(repr(i) for i in ideas)) if ideas else ""
                suggestions.append(
                    f"Use all {slots} tag slots: add {slots - len(tags)} more tags{example}; "
                    "an empty slot is a search phrase the listing cannot match."
                )

        # 6. Tags that only repeat title words.
        title_tokens = set(tokens(headline, language))
        repeats = [
            t for t in tags if tokens(t, language) and set(tokens(t, language)) <= title_tokens
        ]
        if not tags:
            checks.append(_not_applicable("tags_repeat_title", "the draft has no tags"))
        else:
            share = len(repeats) / len(tags)
            checks.append(
                _check(
                    "tags_repeat_title",
                    share <= TAG_TITLE_REPEAT_SHARE,
                    f"{len(repeats)} of {len(tags)} tags use only words already in the "
                    f"{headline_name} (FlashFusion limit {TAG_TITLE_REPEAT_SHARE:.0%})",
                )
            )
            if share > TAG_TITLE_REPEAT_SHARE:
                listed = ", ".join(repr(t) for t in repeats[:5])
                suggestions.append(
                    f"Replace tags that only repeat {headline_name} words ({listed}) with "
                    "synonyms, materials, occasions or recipients the title does not mention."
                )

        # 7. Multi-word tags.
        if unspaced:
            checks.append(_not_applicable("multi_word_tags", "ja/zh tags have no word spaces"))
        elif not tags:
            checks.append(_not_applicable("multi_word_tags", "the draft has no tags"))
        else:
            single = [t for t in tags if len(t.split()) < 2]
            share = 1 - len(single) / len(tags)
            checks.append(
                _check(
                    "multi_word_tags",
                    share >= MULTI_WORD_TAG_SHARE,
                    f"{len(tags) - len(single)} of {len(tags)} tags are phrases of two or more "
                    f"words (FlashFusion target {MULTI_WORD_TAG_SHARE:.0%})",
                )
            )
            if share < MULTI_WORD_TAG_SHARE:
                listed = ", ".join(repr(t) for t in single[:5])
                phrase = next((kw for kw in keywords if len(kw.split()) >= 2), None)
                example = f", like {phrase!r}" if phrase else ""
                suggestions.append(
                    f"Turn single-word tags ({listed}) into 2–3 word phrases shoppers type"
                    f"{example}."
                )

    # 8. Keyword in the first sentence of the description.
    parts = sentences(draft.description)
    first = parts[0] if parts else ""
    if primary is None:
        checks.append(_not_applicable("keyword_in_first_sentence", no_keywords))
    else:
        ok = contains(first, primary, language)
        checks.append(
            _check(
                "keyword_in_first_sentence",
                ok,
                f"first sentence {'mentions' if ok else 'does not mention'} {primary!r}",
            )
        )
        if not ok:
            opening = first[:60] + ("…" if len(first) > 60 else "")
            suggestions.append(
                f"Mention {primary!r} in the first sentence of the description; it now opens "
                f"with {opening!r}."
            )

    # 9. Readability.
    average = average_sentence_length(draft.description, language)
    limit = SENTENCE_CHARS_MAX_UNSPACED if unspaced else SENTENCE_WORDS_MAX
    unit = "characters" if unspaced else "words"
    readable = bool(parts) and average <= limit
    detail = f"sentences average {average:.1f} {unit} (FlashFusion limit {limit})"
    flesch = flesch_reading_ease(draft.description) if language == "en" else None
    if flesch is not None:
        detail += f"; Flesch reading ease {flesch:.0f} (FlashFusion minimum "
        detail += f"{FLESCH_READING_EASE_MIN:.0f})"
        readable = readable and flesch >= FLESCH_READING_EASE_MIN
    checks.append(_check("readability", readable, detail))
    if parts and average > limit:
        suggestions.append(
            f"Shorten sentences: they average {average:.0f} {unit}; aim for {limit} or fewer."
        )
    if flesch is not None and flesch < FLESCH_READING_EASE_MIN:
        suggestions.append(
            f"Use shorter words and sentences: the Flesch reading ease is {flesch:.0f}, aim for "
            f"{FLESCH_READING_EASE_MIN:.0f} or more."
        )

    # 10. Description length sweet spot.
    low, high = DESCRIPTION_CHARS_UNSPACED if unspaced else DESCRIPTION_WORDS
    size = word_count(draft.description, language)
    in_range = low <= size <= high
    checks.append(
        _check(
            "description_length",
            in_range,
            f"description has {size} {unit} (FlashFusion sweet spot {low}–{high})",
        )
    )
    if size < low:
        suggestions.append(
            f"Lengthen the description to at least {low} {unit} (now {size}): add materials, "
            "sizes, care and who it is for."
        )
    elif size > high:
        suggestions.append(
            f"Tighten the description to at most {high} {unit} (now {size}); keep the first "
            "paragraph about the product."
        )

    applicable = sum(c.weight for c in checks)
    earned = sum(c.weight for c in checks if c.passed)
    score = round(100 * earned / applicable) if applicable else 100
    return SeoReport(score=score, checks=checks, suggestions=suggestions)

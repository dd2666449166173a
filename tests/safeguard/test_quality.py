"""Quality score: exact scores for fixed inputs (worked out by hand from the weights in
`safeguard/quality/scorer.py`), every reason, the findings, and bad arguments."""

import json
import string

import pytest

from flashfusion.content.draft import BrandVoiceProfile
from flashfusion.content.rules import get_rules
from flashfusion.safeguard.quality import WEIGHTS, QualityResult, score
from flashfusion.safeguard.types import Finding, ScreenSubject, Span, TextField, Verdict

# Flesch 100.2 (10 words, 2 sentences, 12 syllables): readable, no other issue.
CLEAN_DESCRIPTION = "A cozy mug for cat people. It holds hot tea."


def subject(language: str = "en", **fields: str) -> ScreenSubject:
    """A subject from keyword fields; `bullet_1=` becomes the field "bullet:1"."""
    return ScreenSubject(
        fields=tuple(
            TextField(name.replace("_", ":", 1) if name.startswith("bullet_") else name, text)
            for name, text in fields.items()
        ),
        language=language,
    )


def run(
    s: ScreenSubject,
    *,
    platform: str | None = None,
    keywords: list[str] | None = None,
    brand_voice: BrandVoiceProfile | None = None,
    warn_threshold: int = 50,
) -> QualityResult:
    result = score(
        s,
        platform=platform,
        keywords=keywords or [],
        brand_voice=brand_voice,
        warn_threshold=warn_threshold,
    )
    # The invariant every result keeps: the reasons account for every lost point.
    assert result.score == 100 - sum(r.points_lost for r in result.reasons)
    assert 0 <= result.score <= 100
    assert all(f.verdict == Verdict.warn for f in result.findings)
    return result


def codes(result: QualityResult) -> dict[str, int]:
    return {r.code: r.points_lost for r in result.reasons}


def test_weights_sum_to_100() -> None:
    assert sum(WEIGHTS.values()) == 100


def test_a_clean_listing_scores_100_with_nothing_to_report() -> None:
    result = run(
        subject(title="Cozy Cat Mug", description=CLEAN_DESCRIPTION, tags="cat mug, tea gift"),
        platform="etsy",
        keywords=["cat mug", "tea gift"],
        brand_voice=BrandVoiceProfile(vocabulary=["cozy"]),
    )
    assert result == QualityResult(100, [], [])


# --- readability -----------------------------------------------------------------------------


def test_flesch_below_60_costs_a_point_per_3() -> None:
    # 7 words, 1 sentence, 16 syllables: F = 206.835 - 1.015*7 - 84.6*16/7 = 6.36;
    # ceil((60 - 6.36) / 3) = ceil(17.88) = 18.
    result = run(subject(description="Beautiful ceramic mug, dishwasher safe, microwave friendly."))
    assert result.score == 82
    assert codes(result) == {"readability.flesch": 18}
    assert "6.4" in result.reasons[0].message


def test_flesch_loss_is_capped_at_the_weight() -> None:
    # 3 words of 5 syllables: F = 206.835 - 3.045 - 423 = -219.2; ceil(93.07) = 94 -> 20.
    result = run(subject(description="Extraordinary international communication."))
    assert result.score == 80
    assert codes(result) == {"readability.flesch": 20}


def _words(count: int, letters: int) -> list[str]:
    """Distinct lowercase words of `letters` letters (no repeated phrase, no stopword)."""
    alphabet = string.ascii_lowercase
    return [alphabet[i // 26 % 26] + alphabet[i % 26] + "q" * (letters - 2) for i in range(count)]


def test_long_sentences_in_other_languages() -> None:
    # 25 words of 4 letters in one sentence: ceil(25 - 20) = 5; word length 4 <= 8.
    words = _words(25, 4)
    text = words[0].capitalize() + " " + " ".join(words[1:]) + "."
    result = run(subject("de", description=text))
    assert codes(result) == {"readability.sentence_length": 5}
    assert result.score == 95


def test_long_words_in_other_languages() -> None:
    # 10 words of 11 letters: ceil(2 * (11 - 8)) = 6; 10 words a sentence is fine.
    words = _words(10, 11)
    text = words[0].capitalize() + " " + " ".join(words[1:]) + "."
    result = run(subject("fr", description=text))
    assert codes(result) == {"readability.word_length": 6}
    assert result.score == 94


def test_long_sentences_in_japanese_count_characters() -> None:
    # 50 distinct Han characters in one sentence: ceil((50 - 40) / 2) = 5.
    text = "".join(chr(0x4E00 + i) for i in range(50)) + "。"
    result = run(subject("ja", description=text))
    assert codes(result) == {"readability.sentence_length": 5}
    assert result.score == 95


def test_no_prose_means_no_readability_judgement() -> None:
    result = run(subject(title="Extraordinary international communication"))
    assert result.score == 100


# --- platform limits -------------------------------------------------------------------------


def test_etsy_title_too_long_is_a_reason_and_a_finding_naming_field_and_limit() -> None:
    title = "Cat mug " + "z" * 142  # 150 characters; Etsy allows 140
    result = run(subject(title=title, description=CLEAN_DESCRIPTION), platform="etsy")
    assert codes(result) == {"platform_limits.too_long": 10}
    assert result.score == 90
    [finding] = result.findings
    rules = get_rules("etsy")
    assert rules.title_max is not None
    assert finding.as_dict() == {
        "category": "quality",
        "code": "quality.platform_limit",
        "verdict": "warn",
        "message": "Etsy: title is 150 characters; Etsy allows 140 (limit: 140 characters). "
        "Shorten it to fit.",
        "span": {"field": "title", "start": 140, "end": 150, "text": "z" * 10},
        "evidence": {
            "platform": "etsy",
            "field": "title",
            "rule": "too_long",
            "limit": 140,
            "unit": "characters",
            "limit_source": rules.title_max.source,
        },
        "source": "https://www.skills.sh/jacob-balslev/skills/etsy",
        "score": None,
    }


def test_platform_limit_points_are_capped_at_20() -> None:
    # Title too long, 14 tags (13 allowed), one tag of 25 characters (20 allowed): 3 x 10 -> 20.
    tags = [f"tag {string.ascii_lowercase[i]}" for i in range(13)] + ["a" * 25]
    result = run(
        subject(title="Cat mug " + "z" * 142, description=CLEAN_DESCRIPTION, tags=", ".join(tags)),
        platform="etsy",
    )
    assert sorted(r.points_lost for r in result.reasons) == [0, 10, 10]
    assert {r.code for r in result.reasons} == {
        "platform_limits.too_long",
        "platform_limits.too_many",
    }
    assert result.score == 80
    fields = {
        (f.evidence["field"], f.evidence["rule"], f.evidence["limit"]) for f in result.findings
    }
    assert fields == {
        ("title", "too_long", 140),
        ("tags", "too_many", 13),
        ("tags[13]", "too_long", 20),
    }
    too_many = next(f for f in result.findings if f.evidence["rule"] == "too_many")
    assert too_many.span is not None
    assert too_many.span.text == "a" * 25  # the tags past the 13th
    long_tag = next(f for f in result.findings if f.evidence["field"] == "tags[13]")
    assert long_tag.span == Span(
        "tags", too_many.span.start + 20, too_many.span.start + 25, "aaaaa"
    )


def test_caption_platform_checks_the_caption_field() -> None:
    caption = "Cat mug. " * 250  # 2,250 characters; Instagram allows 2,200
    result = run(subject(caption=caption.strip()), platform="instagram")
    [finding] = [f for f in result.findings if f.code == "quality.platform_limit"]
    assert finding.evidence["field"] == "caption"
    assert finding.evidence["limit"] == 2200
    assert finding.span is not None
    assert finding.span.field == "caption"
    assert finding.span.start == 2200


def test_fields_not_screened_are_not_reported_missing() -> None:
    # A bare phrase has no title or description; the platform does not make them "required".
    result = run(subject(phrase="Coffee first"), platform="etsy")
    assert result.findings == []
    assert result.score == 100


def test_an_empty_screened_title_is_reported() -> None:
    result = run(subject(title=" ", description=CLEAN_DESCRIPTION), platform="etsy")
    assert codes(result) == {"platform_limits.required": 10}
    assert [f.evidence["rule"] for f in result.findings] == ["required"]


# --- keywords --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keywords", "lost"),
    [
        (["cat mug", "tea gift", "dog bowl"], 5),  # round(15 * 1/3) = 5
        (["cat mug", "dog bowl", "bird cage"], 10),  # round(15 * 2/3) = 10
        (["cat mug", "dog bowl"], 8),  # 15 * 1/2 = 7.5 -> 8 (half up)
        (["dog bowl"], 15),
        (["Cat  Mug", "cat mug"], 0),  # duplicates after normalising count once
    ],
)
def test_keyword_coverage(keywords: list[str], lost: int) -> None:
    result = run(
        subject(title="Cozy Cat Mug", description=CLEAN_DESCRIPTION, tags="tea gift"),
        keywords=keywords,
    )
    assert codes(result) == ({"keywords.missing": lost} if lost else {})
    assert result.score == 100 - lost


# --- repetition ------------------------------------------------------------------------------


def test_repeated_title_word() -> None:
    result = run(subject(title="Cat Mug for Cat Lovers", description=CLEAN_DESCRIPTION))
    assert codes(result) == {"repetition.title_words": 5}
    assert result.reasons[0].span == Span("title", 0, 3, "Cat")


def test_phrase_used_three_times() -> None:
    text = "Strong black coffee. Strong black coffee. Strong black coffee."
    result = run(subject(description=text))
    assert codes(result) == {"repetition.phrase": 5}
    assert "'strong black coffee'" in result.reasons[0].message
    # Twice is fine.
    assert run(subject(description="Strong black coffee. Strong black coffee.")).score == 100


def test_duplicate_tags() -> None:
    result = run(subject(title="Cozy Cat Mug", tags="cat mug, tea gift, Cat  Mug"))
    assert codes(result) == {"repetition.duplicate_tags": 5}
    assert result.reasons[0].span == Span("tags", 19, 27, "Cat  Mug")


def test_repetition_adds_up() -> None:
    result = run(
        subject(
            title="Cat Mug Cat",
            description="Strong black coffee. Strong black coffee. Strong black coffee.",
            tags="mug, mug",
        )
    )
    assert codes(result) == {
        "repetition.title_words": 5,
        "repetition.phrase": 5,
        "repetition.duplicate_tags": 5,
    }
    assert result.score == 85


# --- spelling and grammar heuristics ---------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "code", "lost", "span"),
    [
        ({"title": "Cozy  Cat Mug"}, "spelling.double_space", 2, Span("title", 4, 6, "  ")),
        ({"title": "FUNNY CAT SHIRT"}, "spelling.shouting", 4, Span("title", 0, 5, "FUNNY")),
        (
            {"title": "Cozy Cat Mug!!!"},
            "spelling.repeated_punctuation",
            3,
            Span("title", 12, 15, "!!!"),
        ),
        (
            {"description": "Hot tea. it is cozy."},
            "spelling.sentence_capital",
            3,
            Span("description", 9, 11, "it"),
        ),
        (
            {"bullet_1": "soft cotton"},
            "spelling.sentence_capital",
            3,
            Span("bullet:1", 0, 4, "soft"),
        ),
        (
            {"description": "A mug for the the cat."},
            "spelling.doubled_word",
            3,
            Span("description", 10, 17, "the the"),
        ),
        # A design text layer is checked for misspellings too (a typo on a shirt is the worst).
        (
            {"layer:abc": "Love my cotten"},
            "spelling.misspelling",
            3,
            Span("layer:abc", 8, 14, "cotten"),
        ),
    ],
)
def test_each_spelling_reason(fields: dict[str, str], code: str, lost: int, span: Span) -> None:
    result = run(subject(**fields))
    assert codes(result) == {code: lost}
    assert result.reasons[0].span == span
    assert result.score == 100 - lost


def test_each_distinct_misspelling_costs_and_the_spelling_total_is_capped() -> None:
    result = run(subject(description="A desgin in soft cotten. Cotten and desgin, diffrent."))
    # One reason per distinct misspelling, 3 points each: 100 - 9 = 91.
    assert sorted(
        (r.code, r.points_lost, r.span.text if r.span else "") for r in result.reasons
    ) == [
        ("spelling.misspelling", 3, "cotten"),
        ("spelling.misspelling", 3, "desgin"),
        ("spelling.misspelling", 3, "diffrent"),
    ]
    assert result.score == 91
    first = next(r for r in result.reasons if r.span and r.span.text == "cotten")
    assert (
        first.message
        == "'cotten' is a common misspelling of 'cotton' (2 times) (codespell's list)."
    )

    # 4 + 3 + 3 + 3 + 3 + 2 = 18 > 15: the cheapest reason is cut to what is left.
    capped = run(
        subject(
            title="FUNNY CAT SHIRT!!",
            description="this is  the the best desgin.",
        )
    )
    assert codes(capped) == {
        "spelling.shouting": 4,
        "spelling.repeated_punctuation": 3,
        "spelling.sentence_capital": 3,
        "spelling.doubled_word": 3,
        "spelling.misspelling": 2,
        "spelling.double_space": 0,
    }
    assert capped.score == 85


@pytest.mark.parametrize(
    "text",
    [
        "Made in the USA. Soft, e.g. cotton. Ho ho ho!",  # 3-letter caps, abbreviation, chant
        "NASA fans. Wait... what a mug.",  # one caps word; ellipsis
        "A mug. (Hot tea inside.) Price: 3.5 oz. cups.",
    ],
)
def test_spelling_heuristics_leave_ordinary_copy_alone(text: str) -> None:
    assert codes(run(subject(description=text))) == {}


def test_english_only_checks_do_not_run_for_other_languages() -> None:
    # "cotten" and "the the" are English slips; a German text is not judged by them.
    assert codes(run(subject("de", title="Tasse cotten the the Tasse"))) == {
        "repetition.title_words": 5
    }


# --- brand voice -----------------------------------------------------------------------------


def test_brand_voice_consistency() -> None:
    s = subject(title="Cozy Cat Mug", description=CLEAN_DESCRIPTION)
    # The only brand word is used: consistency 100, nothing lost.
    assert run(s, brand_voice=BrandVoiceProfile(vocabulary=["cozy"])).score == 100
    # Not used: vocabulary 0/1 -> consistency 0 -> round(15 * 100 / 100) = 15.
    result = run(s, brand_voice=BrandVoiceProfile(name="Warm", vocabulary=["snug"]))
    assert codes(result) == {"brand_voice.inconsistent": 15}
    assert result.reasons[0].message.startswith("Brand-voice consistency with 'Warm' is 0/100.")
    # Used, plus a banned word: 100 - 30 = 70 -> 15 * 30 / 100 = 4.5 -> 5.
    banned = BrandVoiceProfile(vocabulary=["cozy"], banned_words=["tea"])
    assert codes(run(s, brand_voice=banned)) == {"brand_voice.inconsistent": 5}


def test_brand_voice_applies_to_a_bare_phrase() -> None:
    result = run(
        subject(phrase="Snug mornings"), brand_voice=BrandVoiceProfile(vocabulary=["snug"])
    )
    assert result.score == 100


# --- findings --------------------------------------------------------------------------------


def test_low_score_finding_names_the_biggest_losses() -> None:
    result = run(
        subject(
            title="Cat Mug Cat " + "z" * 140,
            description="Extraordinary international communication.",
            tags="cat, cat",
        ),
        platform="etsy",
        keywords=["dog bowl"],
        brand_voice=BrandVoiceProfile(vocabulary=["snug"]),
    )
    # readability 20, platform 10, keywords 15, repetition 5 + 5, voice 15: 100 - 70 = 30.
    assert result.score == 30
    low = result.findings[0]
    assert low.code == "quality.low_score"
    assert low.verdict == Verdict.warn
    assert low.evidence["score"] == 30
    assert low.evidence["threshold"] == 50
    assert [r["code"] for r in low.evidence["reasons"]] == [
        "readability.flesch",
        "keywords.missing",
        "brand_voice.inconsistent",
    ]
    assert low.message.startswith("Quality score 30/100, below this workspace's threshold of 50.")
    assert [f.code for f in result.findings] == ["quality.low_score", "quality.platform_limit"]
    json.dumps([f.as_dict() for f in result.findings])  # JSON-serialisable evidence


def test_warn_threshold_is_configurable() -> None:
    s = subject(description="Extraordinary international communication.")  # scores 80
    assert [f.code for f in run(s, warn_threshold=81).findings] == ["quality.low_score"]
    assert run(s, warn_threshold=80).findings == []
    assert run(s, warn_threshold=0).findings == []


def test_no_text_scores_zero() -> None:
    result = run(subject(title="  ", description=""))
    assert result.score == 0
    assert codes(result) == {"content.empty": 100}
    assert [f.code for f in result.findings] == ["quality.low_score"]
    assert run(ScreenSubject(fields=())).score == 0


def test_bad_arguments_name_the_parameter() -> None:
    s = subject(title="Cozy Cat Mug")
    with pytest.raises(ValueError, match="warn_threshold"):
        score(s, platform=None, brand_voice=None, warn_threshold=101)
    with pytest.raises(ValueError, match="Unknown platform 'ebay'; valid platforms: etsy"):
        score(s, platform="ebay", brand_voice=None)


def test_finding_type_is_the_shared_contract() -> None:
    result = run(subject(title="Cat mug " + "z" * 142), platform="etsy")
    assert all(isinstance(f, Finding) for f in result.findings)

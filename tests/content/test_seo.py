"""SEO analyser: each check, the weighted score, suggestions and language-aware matching."""

import pytest

from flashfusion.content.draft import ListingDraft, Platform
from flashfusion.content.rules import RULES
from flashfusion.content.seo import (
    WEIGHTS,
    analyse,
    average_sentence_length,
    contains,
    find,
    flesch_reading_ease,
    sentences,
    tokens,
)

ETSY = RULES[Platform.etsy]
# 85 plain words in short sentences: passes readability and the length sweet spot.
GOOD_DESCRIPTION = (
    "This cat mom mug holds your morning tea. It is white and glossy. "
    + "The print will not fade. It is safe in the dishwasher. " * 9
    + "It makes a sweet gift for a friend."
)
GOOD_TAGS = [
    "cat mom",
    "cat lover gift",
    "kitten tea cup",
    "pet owner present",
    "white coffee cup",
    "glossy tea mug",
    "gift for her",
    "crazy cat lady",
    "cat dad gift",
    "birthday present",
    "kitchen decor",
    "tea lover gift",
    "feline fan",
]


def report_checks(report):  # type: ignore[no-untyped-def]
    return {c.name: c for c in report.checks}


def test_weights_sum_to_100() -> None:
    assert sum(WEIGHTS.values()) == 100


def test_perfect_listing_scores_100() -> None:
    listing = ListingDraft(
        title="Cat Mom Mug, White Tea Cup", description=GOOD_DESCRIPTION, tags=GOOD_TAGS
    )
    report = analyse(listing, keywords=["cat mom", "cat lover gift"], rules=ETSY)
    failed = [c.name for c in report.checks if not c.passed]
    assert failed == []
    assert report.score == 100
    assert report.suggestions == []
    assert [c.name for c in report.checks] == list(WEIGHTS)
    assert {c.name: c.weight for c in report.checks} == WEIGHTS


def test_keyword_missing_from_title() -> None:
    listing = ListingDraft(title="White Tea Cup", description=GOOD_DESCRIPTION, tags=GOOD_TAGS)
    report = analyse(listing, keywords=["cat mom"], rules=ETSY)
    checks = report_checks(report)
    assert not checks["keyword_in_title"].passed
    assert not checks["keyword_front_loaded"].passed
    assert report.score == 70
    assert report.suggestions[0] == (
        "Add 'cat mom' to the title: it is your primary keyword and the title does not mention "
        "it yet."
    )


def test_keyword_not_front_loaded() -> None:
    title = "White Glossy Ceramic Tea Cup and Coffee Mug for the Cat Mom"
    listing = ListingDraft(title=title, description=GOOD_DESCRIPTION, tags=GOOD_TAGS)
    report = analyse(listing, keywords=["cat mom"], rules=ETSY)
    check = report_checks(report)["keyword_front_loaded"]
    assert not check.passed
    assert (
        check.detail == "'cat mom' ends at character 59; FlashFusion heuristic: within the first 40"
    )
    assert report.score == 90
    assert report.suggestions == [
        "Move 'cat mom' to the start of the title: FlashFusion checks that it ends within the "
        "first 40 characters, the part shoppers see first when titles are cut short."
    ]


def test_tag_checks_fail_with_few_single_word_title_tags() -> None:
    listing = ListingDraft(
        title="Cat Mom Mug", description=GOOD_DESCRIPTION, tags=["cat", "mug", "mom"]
    )
    report = analyse(listing, keywords=["cat mom", "kitten tea cup"], rules=ETSY)
    checks = report_checks(report)
    assert not checks["tag_keyword_coverage"].passed
    assert checks["tag_keyword_coverage"].detail == (
        "1 of 2 keywords are covered by tags (FlashFusion target 80%)"
    )
    assert not checks["tag_slots_used"].passed
    assert checks["tag_slots_used"].detail == "3 of 13 tag slots used"
    assert not checks["tags_repeat_title"].passed
    assert not checks["multi_word_tags"].passed
    assert report.score == 60
    assert (
        "Add tags for the keyword 'kitten tea cup': no tag covers them yet." in report.suggestions
    )
    assert (
        "Use all 13 tag slots: add 10 more tags such as 'cat mom', 'kitten tea cup'; an empty "
        "slot is a search phrase the listing cannot match." in report.suggestions
    )
    assert (
        "Turn single-word tags ('cat', 'mug', 'mom') into 2–3 word phrases shoppers type, like "
        "'cat mom'." in report.suggestions
    )


def test_repeated_title_words() -> None:
    listing = ListingDraft(
        title="Cat Mom Mug, Cat Mug for the Cat Lover", description=GOOD_DESCRIPTION, tags=GOOD_TAGS
    )
    report = analyse(listing, keywords=["cat mom"], rules=ETSY)
    check = report_checks(report)["title_repeated_words"]
    assert not check.passed
    assert check.detail == "repeated in the title: 'cat', 'mug'"
    assert (
        "Remove the repeated words 'cat', 'mug' from the title to make room for another keyword."
        in report.suggestions
    )


def test_keyword_in_first_sentence() -> None:
    description = "A white tea cup for mornings. " + GOOD_DESCRIPTION
    listing = ListingDraft(title="Cat Mom Mug", description=description, tags=GOOD_TAGS)
    report = analyse(listing, keywords=["cat mom"], rules=ETSY)
    assert not report_checks(report)["keyword_in_first_sentence"].passed
    assert (
        "Mention 'cat mom' in the first sentence of the description; it now opens with "
        "'A white tea cup for mornings.'." in report.suggestions
    )


def test_readability_long_sentences_and_flesch() -> None:
    long_sentence = (
        "This extraordinarily sophisticated ceramic drinking vessel, manufactured using "
        "traditional methodologies, accommodates approximately three hundred fifty milliliters "
        "of whichever beverage you particularly prefer during comfortable mornings"
    )
    listing = ListingDraft(
        title="Cat Mom Mug", description=(long_sentence + ". ") * 3, tags=GOOD_TAGS
    )
    check = report_checks(analyse(listing, keywords=["cat mom"], rules=ETSY))["readability"]
    assert not check.passed
    assert check.detail.startswith(
        "sentences average 25.0 words (FlashFusion limit 20); Flesch reading ease"
    )


def test_flesch_reading_ease_value() -> None:
    # 6 words, 6 syllables, 1 sentence: 206.835 - 1.015*6 - 84.6*1
    assert flesch_reading_ease("The cat sat on the mat.") == pytest.approx(116.145)
    assert flesch_reading_ease("") is None


def test_flesch_only_for_english() -> None:
    listing = ListingDraft(
        title="Taza gato", description="Una taza para gatos. Es blanca.", tags=[]
    )
    check = report_checks(analyse(listing, keywords=["taza"], rules=ETSY, language="es"))[
        "readability"
    ]
    assert "Flesch" not in check.detail
    assert check.passed


def test_description_length_sweet_spot() -> None:
    short = ListingDraft(title="Cat Mom Mug", description="A cat mom mug.", tags=GOOD_TAGS)
    report = analyse(short, keywords=["cat mom"], rules=ETSY)
    assert report_checks(report)["description_length"].detail == (
        "description has 4 words (FlashFusion sweet spot 80–300)"
    )
    assert (
        "Lengthen the description to at least 80 words (now 4): add materials, sizes, care and "
        "who it is for." in report.suggestions
    )


def test_checks_that_do_not_apply_weigh_nothing() -> None:
    # Pinterest has no tags; with no keywords the keyword checks drop out too.
    listing = ListingDraft(title="Cat Mom Mug", description=GOOD_DESCRIPTION)
    report = analyse(listing, keywords=[], rules=RULES[Platform.pinterest])
    checks = report_checks(report)
    for name in (
        "keyword_in_title",
        "keyword_front_loaded",
        "tag_keyword_coverage",
        "tag_slots_used",
        "tags_repeat_title",
        "multi_word_tags",
        "keyword_in_first_sentence",
    ):
        assert checks[name].weight == 0
        assert checks[name].detail.startswith("not applicable: ")
    assert report.score == 100
    assert report.suggestions == [
        "Add target keywords (best first) so FlashFusion can check placement."
    ]


def test_shopify_tag_ceiling_is_not_slots_to_fill() -> None:
    listing = ListingDraft(title="Cat Mom Mug", description=GOOD_DESCRIPTION, tags=["cat mom"])
    check = report_checks(analyse(listing, keywords=["cat mom"], rules=RULES[Platform.shopify]))[
        "tag_slots_used"
    ]
    assert check.weight == 0
    assert check.detail == (
        "not applicable: Shopify allows up to 250 tags: a ceiling, not slots to fill"
    )


def test_instagram_uses_the_first_caption_line_as_headline() -> None:
    listing = ListingDraft(
        title="", description="Cat mom mug for slow mornings.\n" + GOOD_DESCRIPTION
    )
    report = analyse(listing, keywords=["cat mom"], rules=RULES[Platform.instagram])
    assert report_checks(report)["keyword_in_title"].detail == (
        "'cat mom' appears in the first line of the caption"
    )


def test_japanese_uses_character_ngrams() -> None:
    assert tokens("猫のマグ", "ja") == ["猫の", "のマ", "マグ"]
    assert contains("かわいい猫のマグカップ", "猫マグ", "ja")
    assert find("猫 マグ", "猫マグ", "ja") is not None
    listing = ListingDraft(
        title="猫マグカップ 白",
        description="猫マグです。毎朝のお茶にどうぞ。",
        tags=["猫マグ", "猫 好き"],
    )
    report = analyse(listing, keywords=["猫マグ"], rules=ETSY, language="ja")
    checks = report_checks(report)
    assert checks["keyword_in_title"].passed
    assert checks["keyword_front_loaded"].detail == (
        "'猫マグ' ends at character 3; FlashFusion heuristic: within the first 15"
    )
    assert checks["multi_word_tags"].weight == 0
    assert checks["keyword_in_first_sentence"].passed
    assert checks["description_length"].detail == (
        "description has 14 characters (FlashFusion sweet spot 160–600)"
    )


def test_korean_keyword_with_particle_and_english_whole_words() -> None:
    assert contains("고양이를 위한 머그컵", "고양이", "ko")
    assert not contains("concatenate", "cat", "en")
    assert contains("Cat-mom mug", "cat mom", "en")


def test_sentences_and_average_length() -> None:
    assert sentences("One two. Three!\nFour? 五。") == ["One two.", "Three!", "Four?", "五。"]
    assert average_sentence_length("One two. Three four five.", "en") == 2.5
    assert average_sentence_length("猫です。犬。", "ja") == 2.0

"""Platform rules: sourced limits, every violation code, every fix, cutting, and the guarantee that
validate(autofix(draft)) leaves nothing but missing content."""

import dataclasses
import json
import unicodedata
from pathlib import Path
from typing import get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flashfusion.content.draft import (
    LANGUAGES,
    BrandVoiceProfile,
    ListingDraft,
    Platform,
)
from flashfusion.content.rules import (
    RULES,
    autofix,
    caption,
    cut,
    get_rules,
    measure,
    validate,
)
from flashfusion.content.rules.base import Limit, PlatformRules

SPECS = Path("/work/shared/specs")

# (platform, attribute, value): every number the rules hold.
LIMITS = [
    ("etsy", "title_max", 140),
    ("etsy", "tags_max", 13),
    ("etsy", "tag_max_length", 20),
    ("etsy", "alt_text_max", 500),
    ("amazon", "title_max", 200),
    ("amazon", "bullets_max", 5),
    ("shopify", "title_max", 255),
    ("shopify", "tags_max", 250),
    ("shopify", "seo_title_max", 70),
    ("shopify", "meta_description_max", 320),
    ("shopify", "alt_text_max", 512),
    ("tiktok_shop", "title_max", 255),
    ("tiktok_shop", "title_min", 25),
    ("tiktok_shop", "description_max", 10000),
    ("pinterest", "title_max", 100),
    ("pinterest", "description_max", 800),
    ("pinterest", "alt_text_max", 500),
    ("instagram", "description_max", 2200),
    ("instagram", "hashtags_max", 5),
    ("facebook", "title_max", 200),
    ("facebook", "description_max", 9999),
]
LIMIT_ATTRIBUTES = [f.name for f in dataclasses.fields(PlatformRules) if Limit in get_args(f.type)]


def draft(**fields: object) -> ListingDraft:
    values: dict[str, object] = {"title": "Cat mom mug", "description": "A mug for cat people."}
    values.update(fields)
    return ListingDraft.model_validate(values)


def codes(violations: list) -> list[tuple[str, str]]:
    return [(v.field, v.code) for v in violations]


# --- limits and their sources ----------------------------------------------------------------


@pytest.mark.parametrize(("platform", "attribute", "value"), LIMITS)
def test_limit_value_and_source(platform: str, attribute: str, value: int) -> None:
    limit = getattr(RULES[Platform(platform)], attribute)
    assert isinstance(limit, Limit)
    assert limit.value == value
    assert len(limit.source) > 20


def test_every_set_limit_is_listed_above() -> None:
    listed = {(p, a) for p, a, _ in LIMITS}
    present = {
        (rules.platform, attribute)
        for rules in RULES.values()
        for attribute in LIMIT_ATTRIBUTES
        if getattr(rules, attribute) is not None
    }
    assert present == listed


@pytest.mark.parametrize("platform", list(Platform))
def test_rules_are_complete_and_unverified_gaps_are_noted(platform: Platform) -> None:
    rules = RULES[platform]
    assert rules.platform == platform.value
    assert rules.length_unit == "chars"
    assert rules.fields <= {
        "title",
        "description",
        "tags",
        "bullets",
        "seo_title",
        "meta_description",
        "hashtags",
        "alt_text",
    }
    if rules.tag_forbidden_pattern:
        assert rules.tag_forbidden_source
    if rules.title_forbidden_pattern:
        assert rules.title_forbidden_source


def test_unverified_limits_are_left_empty() -> None:
    assert RULES[Platform.etsy].description_max is None
    assert RULES[Platform.amazon].bullet_max_length is None
    assert RULES[Platform.amazon].description_max is None
    assert RULES[Platform.instagram].alt_text_max is None
    assert any("unverified" in n for n in RULES[Platform.etsy].notes)
    assert any("unverified" in n for n in RULES[Platform.amazon].notes)
    assert any("unverified" in n for n in RULES[Platform.shopify].notes)


def test_fields_per_platform() -> None:
    assert RULES[Platform.etsy].fields == {"title", "description", "tags", "alt_text"}
    assert RULES[Platform.amazon].fields == {"title", "description", "bullets"}
    assert RULES[Platform.instagram].fields == {"description", "hashtags", "alt_text"}
    assert RULES[Platform.tiktok_shop].fields == {"title", "description"}
    assert "seo_title" in RULES[Platform.shopify].fields


@pytest.mark.skipif(not SPECS.exists(), reason="shared specs not mounted")
def test_pinterest_limits_match_the_spec() -> None:
    spec = json.loads((SPECS / "pinterest/openapi.json").read_text())
    pin = spec["components"]["schemas"]["PinCreate"]["properties"]
    rules = RULES[Platform.pinterest]
    assert rules.title_max is not None
    assert rules.description_max is not None
    assert rules.alt_text_max is not None
    assert pin["title"]["maxLength"] == rules.title_max.value
    assert pin["description"]["maxLength"] == rules.description_max.value
    assert pin["alt_text"]["maxLength"] == rules.alt_text_max.value


@pytest.mark.skipif(not SPECS.exists(), reason="shared specs not mounted")
def test_etsy_patterns_match_the_spec() -> None:
    spec = json.loads((SPECS / "etsy/baseline.json").read_text())
    body = spec["paths"]["/v3/application/shops/{shop_id}/listings"]["post"]["requestBody"]
    props = body["content"]["application/x-www-form-urlencoded"]["schema"]["properties"]
    rules = RULES[Platform.etsy]
    assert f"(regex: /{rules.tag_forbidden_pattern}/u)" in props["tags"]["description"]
    assert f"(regex: /{rules.title_forbidden_pattern}/u)" in props["title"]["description"]


# --- look-up and measuring -------------------------------------------------------------------


def test_get_rules_accepts_enum_and_string() -> None:
    assert get_rules(Platform.etsy) is RULES[Platform.etsy]
    assert get_rules("pinterest") is RULES[Platform.pinterest]


def test_get_rules_unknown_names_the_valid_platforms() -> None:
    with pytest.raises(ValueError, match="Unknown platform 'ebay'") as error:
        get_rules("ebay")
    assert "etsy, amazon, shopify, tiktok_shop, pinterest, instagram, facebook" in str(error.value)


def test_measure_counts_code_points_or_bytes() -> None:
    rules = RULES[Platform.etsy]
    as_bytes = dataclasses.replace(rules, length_unit="bytes")
    assert measure("猫é😺", rules) == 3
    assert measure("猫é😺", as_bytes) == 3 + 2 + 4


# --- violations ------------------------------------------------------------------------------


def test_clean_draft_has_no_violations() -> None:
    ok = draft(tags=["cat mom", "cat mug"], alt_text="A white mug")
    assert validate(ok, RULES[Platform.etsy]) == []


def test_too_long_title_with_limit_and_source() -> None:
    rules = RULES[Platform.etsy]
    [violation] = validate(draft(title="a" * 141), rules)
    assert violation.code == "too_long"
    assert violation.field == "title"
    assert violation.limit == 140
    assert violation.source == rules.title_max.source if rules.title_max else False
    assert violation.message == "title is 141 characters; Etsy allows 140"
    assert validate(draft(title="a" * 140), rules) == []


def test_too_short_title_on_tiktok() -> None:
    rules = RULES[Platform.tiktok_shop]
    [violation] = validate(draft(title="Cat mom mug"), rules)
    assert (violation.field, violation.code, violation.limit) == ("title", "too_short", 25)
    assert validate(draft(title="Cat mom mug for cat people"), rules) == []


def test_too_many_tags_bullets_hashtags() -> None:
    etsy = validate(draft(tags=[f"tag {i}" for i in range(14)]), RULES[Platform.etsy])
    assert codes(etsy) == [("tags", "too_many")]
    assert etsy[0].message == "14 tags; Etsy allows 13"
    amazon = validate(draft(bullets=[f"Point {i}" for i in range(6)]), RULES[Platform.amazon])
    assert codes(amazon) == [("bullets", "too_many")]
    instagram = validate(
        draft(title="", hashtags=[f"tag{i}" for i in range(6)]), RULES[Platform.instagram]
    )
    assert codes(instagram) == [("hashtags", "too_many")]


def test_too_long_tag_and_pinterest_alt_text() -> None:
    assert codes(validate(draft(tags=["a" * 21]), RULES[Platform.etsy])) == [
        ("tags[0]", "too_long")
    ]
    pinterest = validate(draft(alt_text="a" * 501), RULES[Platform.pinterest])
    assert codes(pinterest) == [("alt_text", "too_long")]


def test_forbidden_characters_in_etsy_tags() -> None:
    [violation] = validate(draft(tags=["cat mom!", "it's ok™", "ねこ マグ"]), RULES[Platform.etsy])
    assert (violation.field, violation.code) == ("tags[0]", "forbidden_characters")
    assert violation.message == "tags[0] contains characters the platform rejects: '!'"


def test_forbidden_characters_in_etsy_title() -> None:
    rules = RULES[Platform.etsy]
    [emoji] = validate(draft(title="Cat mom mug 😺"), rules)
    assert (emoji.field, emoji.code) == ("title", "forbidden_characters")
    assert emoji.source == rules.title_forbidden_source
    # Punctuation and maths symbols are allowed; currency and modifier symbols are not.
    assert validate(draft(title="Cat mom mug (11 oz) + lid = 2"), rules) == []
    assert codes(validate(draft(title="Cat mug $5"), rules)) == [("title", "forbidden_characters")]


def test_etsy_title_single_use_characters() -> None:
    [violation] = validate(draft(title="Cat & mom & mug: 100%"), RULES[Platform.etsy])
    assert violation.code == "forbidden_characters"
    assert violation.message == "title may use each of & only once on Etsy"


def test_forbidden_characters_in_amazon_title() -> None:
    [violation] = validate(draft(title="Cat Mom Mug!"), RULES[Platform.amazon])
    assert (violation.field, violation.code) == ("title", "forbidden_characters")


def test_forbidden_comma_in_shopify_tag_and_hash_in_hashtag() -> None:
    shopify = validate(draft(tags=["cats, dogs"]), RULES[Platform.shopify])
    assert codes(shopify) == [("tags[0]", "forbidden_characters")]
    instagram = validate(
        draft(title="", hashtags=["#catmom", "cat mom"]), RULES[Platform.instagram]
    )
    assert codes(instagram) == [
        ("hashtags[0]", "forbidden_characters"),
        ("hashtags[1]", "forbidden_characters"),
    ]


def test_required_title_description_and_empty_tag() -> None:
    violations = validate(draft(title=" ", description="", tags=["ok", " "]), RULES[Platform.etsy])
    assert codes(violations) == [
        ("title", "required"),
        ("description", "required"),
        ("tags[1]", "required"),
    ]


def test_duplicate_tags_case_insensitive() -> None:
    [violation] = validate(draft(tags=["Cat Mom", "cat  mom"]), RULES[Platform.etsy])
    assert (violation.field, violation.code) == ("tags[1]", "duplicate")
    assert violation.message == "tags[1] repeats tags[0] ('cat  mom')"


def test_banned_word_anywhere_whole_word_case_insensitive() -> None:
    voice = BrandVoiceProfile(name="Purr", banned_words=["cheap"])
    violations = validate(
        draft(description="Not CHEAP at all.", tags=["cheapest mug", "cheap mug"]),
        RULES[Platform.etsy],
        brand_voice=voice,
    )
    assert codes(violations) == [("description", "banned_word"), ("tags[1]", "banned_word")]
    assert violations[0].message == "description contains 'cheap', banned by brand voice 'Purr'"


def test_banned_word_in_japanese_and_korean() -> None:
    voice = BrandVoiceProfile(banned_words=["安い", "싸구려"])
    ja = validate(
        draft(description="とても安いマグです。"),
        RULES[Platform.etsy],
        language="ja",
        brand_voice=voice,
    )
    assert codes(ja) == [("description", "banned_word")]
    ko = validate(
        draft(description="싸구려를 팔지 않아요."),
        RULES[Platform.etsy],
        language="ko",
        brand_voice=voice,
    )
    assert codes(ko) == [("description", "banned_word")]


def test_unused_fields() -> None:
    violations = validate(
        draft(bullets=["Point"], seo_title="SEO", hashtags=["cats"]), RULES[Platform.etsy]
    )
    assert codes(violations) == [
        ("bullets", "unused_field"),
        ("seo_title", "unused_field"),
        ("hashtags", "unused_field"),
    ]
    assert codes(validate(draft(), RULES[Platform.instagram])) == [("title", "unused_field")]


def test_instagram_caption_counts_hashtags() -> None:
    rules = RULES[Platform.instagram]
    post = draft(title="", description="a" * 2190, hashtags=["catmom", "mugs"])
    assert caption(post, rules) == "a" * 2190 + "\n\n#catmom #mugs"
    [violation] = validate(post, rules)
    assert (violation.field, violation.code) == ("description", "too_long")
    assert violation.message == (
        "caption (description and hashtags) is 2205 characters; Instagram allows 2200"
    )
    assert caption(post, RULES[Platform.etsy]) == post.description


# --- cutting ---------------------------------------------------------------------------------


def test_cut_at_word_boundary_without_dangling_punctuation() -> None:
    rules = RULES[Platform.etsy]
    assert cut("Funny cat mom mug, gift for her", 19, rules) == "Funny cat mom mug"
    assert cut("Funny cat mom mug - gift", 20, rules) == "Funny cat mom mug"
    assert cut("Cat mug (white) for tea", 10, rules) == "Cat mug"
    assert cut("short", 10, rules) == "short"
    # A single word longer than the limit is cut at a character.
    assert cut("Supercalifragilistic", 5, rules) == "Super"


def test_cut_japanese_and_chinese_at_character_boundary() -> None:
    rules = RULES[Platform.etsy]
    assert (
        cut("猫好きのための猫マグカップ、白", 12, rules, language="ja")
        == "猫好きのための猫マグカップ"[:12]
    )
    assert cut("猫咪马克杯，送给猫奴的礼物", 6, rules, language="zh") == "猫咪马克杯"
    assert cut("「猫マグ」です", 1, rules, language="ja") == ""


def test_cut_korean_at_word_boundary() -> None:
    rules = RULES[Platform.etsy]
    assert cut("고양이 엄마 머그컵 선물", 8, rules, language="ko") == "고양이 엄마"


def test_cut_never_splits_combining_marks_or_emoji() -> None:
    rules = RULES[Platform.etsy]
    assert cut("Cafe\u0301 au lait", 4, rules) == "Caf"
    assert cut("ab👩‍👧", 4, rules, language="ja") == "ab"
    assert cut("🇯🇵🇺🇸", 3, rules, language="ja") == "🇯🇵"
    assert cut("ok👍🏽", 3, rules, language="ja") == "ok"


# --- fixes -----------------------------------------------------------------------------------


def fix_codes(fixes: list) -> list[tuple[str, str]]:
    return [(f.field, f.code) for f in fixes]


def test_autofix_whitespace_and_normalisation() -> None:
    fixed, fixes = autofix(
        draft(title="  Cafe\u0301  mug ", description="One.\r\n\r\n\r\n  Two  "),
        RULES[Platform.pinterest],
    )
    assert fixed.title == "Café mug"
    assert fixed.description == "One.\n\nTwo"
    assert fix_codes(fixes) == [("title", "whitespace"), ("description", "whitespace")]
    assert fixes[0].before == "  Cafe\u0301  mug "
    assert fixes[0].after == "Café mug"


def test_autofix_forbidden_characters_and_single_use() -> None:
    fixed, fixes = autofix(
        draft(title="Cat & mom & mug 😺", tags=["cat mom!", "cat\nmug"]), RULES[Platform.etsy]
    )
    assert fixed.title == "Cat & mom mug"
    assert fixed.tags == ["cat mom", "cat mug"]
    assert fix_codes(fixes) == [
        ("title", "forbidden_characters"),
        ("title", "forbidden_characters"),
        ("tags[0]", "forbidden_characters"),
        ("tags[1]", "whitespace"),
    ]


def test_autofix_amazon_title_symbols() -> None:
    fixed, _ = autofix(draft(title="Cat Mom Mug! {Gift}"), RULES[Platform.amazon])
    assert fixed.title == "Cat Mom Mug Gift"


def test_autofix_removes_banned_words() -> None:
    voice = BrandVoiceProfile(banned_words=["cheap", "best ever"])
    fixed, fixes = autofix(
        draft(description="Cheap, cute and the BEST   EVER mug.", tags=["cheap", "cute mug"]),
        RULES[Platform.etsy],
        brand_voice=voice,
    )
    assert fixed.description == ", cute and the mug."
    assert fixed.tags == ["cute mug"]
    assert ("description", "banned_word") in fix_codes(fixes)
    assert ("tags[0]", "banned_word") in fix_codes(fixes)
    assert ("tags[0]", "empty") in fix_codes(fixes)
    assert validate(fixed, RULES[Platform.etsy], brand_voice=voice) == []


def test_autofix_cuts_to_limits() -> None:
    rules = RULES[Platform.etsy]
    long_title = "Cat mom mug " * 20
    fixed, fixes = autofix(draft(title=long_title, tags=["a very long tag about cats"]), rules)
    # 140 characters end inside "mug", so the cut goes back to the space before it.
    assert fixed.title == "Cat mom mug " * 11 + "Cat mom"
    assert fixed.tags == ["a very long tag"]
    assert ("title", "too_long") in fix_codes(fixes)
    assert ("tags[0]", "too_long") in fix_codes(fixes)


def test_autofix_dedupes_drops_empty_and_limits_tag_count() -> None:
    tags = ["Cat mom", "cat MOM", "", *[f"tag {i}" for i in range(15)]]
    fixed, fixes = autofix(draft(tags=tags), RULES[Platform.etsy])
    assert fixed.tags == ["Cat mom", *[f"tag {i}" for i in range(12)]]
    assert ("tags[1]", "duplicate") in fix_codes(fixes)
    assert ("tags[2]", "empty") in fix_codes(fixes)
    too_many = next(f for f in fixes if f.code == "too_many")
    assert too_many.field == "tags"
    assert too_many.after == ", ".join(fixed.tags)


def test_autofix_cuts_bullets_to_count() -> None:
    fixed, _ = autofix(draft(bullets=[f"Point {i}" for i in range(7)]), RULES[Platform.amazon])
    assert fixed.bullets == [f"Point {i}" for i in range(5)]


def test_autofix_hashtags_and_caption_budget() -> None:
    rules = RULES[Platform.instagram]
    fixed, fixes = autofix(
        draft(title="Cat mug", description="a " * 1200, hashtags=["#cat mom", "##mugs", "CatMom"]),
        rules,
    )
    assert fixed.title == ""
    assert fixed.hashtags == ["catmom", "mugs"]
    assert measure(caption(fixed, rules), rules) <= 2200
    assert ("title", "unused_field") in fix_codes(fixes)
    assert ("hashtags[0]", "hashtag_format") in fix_codes(fixes)
    assert ("hashtags[2]", "duplicate") in fix_codes(fixes)
    assert ("description", "too_long") in fix_codes(fixes)
    assert validate(fixed, rules) == []


def test_autofix_clears_unused_fields() -> None:
    fixed, fixes = autofix(
        draft(bullets=["One"], seo_title="SEO", hashtags=["cats"], alt_text="alt"),
        RULES[Platform.facebook],
    )
    assert (fixed.bullets, fixed.seo_title, fixed.hashtags, fixed.alt_text) == ([], None, [], None)
    assert [f for f in fixes if f.code == "unused_field"][0].before == "One"
    assert fix_codes(fixes) == [
        ("bullets", "unused_field"),
        ("seo_title", "unused_field"),
        ("hashtags", "unused_field"),
        ("alt_text", "unused_field"),
    ]


def test_autofix_fills_seo_fields_on_shopify() -> None:
    rules = RULES[Platform.shopify]
    description = "A sturdy mug for cat people.\nDishwasher safe. " + "Lovely. " * 60
    fixed, fixes = autofix(draft(title="Cat mom mug", description=description), rules)
    assert fixed.seo_title == "Cat mom mug"
    assert fixed.meta_description is not None
    assert fixed.meta_description.startswith("A sturdy mug for cat people. Dishwasher safe.")
    assert len(fixed.meta_description) <= 320
    assert ("seo_title", "filled") in fix_codes(fixes)
    assert ("meta_description", "filled") in fix_codes(fixes)
    kept, _ = autofix(draft(seo_title="Own SEO title"), rules)
    assert kept.seo_title == "Own SEO title"


def test_autofix_cuts_japanese_title_at_character_boundary() -> None:
    fixed, _ = autofix(draft(title="猫" * 150), RULES[Platform.etsy], language="ja")
    assert fixed.title == "猫" * 140


def test_autofix_is_idempotent_and_keeps_clean_drafts() -> None:
    clean = draft(tags=["cat mom"], alt_text="White mug")
    fixed, fixes = autofix(clean, RULES[Platform.etsy])
    assert fixed == clean
    assert fixes == []


# --- the guarantee ---------------------------------------------------------------------------

_ALPHABET = "abc XYZ,.!?#%:&+-'\"()\n\t😺👩‍👧🇯🇵👍🏽日本語の猫マグ한국어고양이ÉéßⅫ½$^™\u0301\u200d\ufe0f\u3000"
# Very long strings are built by repetition: drawing thousands of characters one by one is slow.
_long = st.builds(
    lambda unit, times: unit * times,
    st.text(alphabet=_ALPHABET, min_size=1, max_size=12),
    st.integers(min_value=100, max_value=1500),
)
_text = st.text(alphabet=_ALPHABET, max_size=300) | st.text(max_size=60) | _long
_items = st.lists(st.text(alphabet=_ALPHABET, max_size=40), max_size=30)
_drafts = st.builds(
    ListingDraft,
    title=_text,
    description=_text,
    tags=_items,
    bullets=_items,
    seo_title=st.none() | _text,
    meta_description=st.none() | _text,
    hashtags=_items,
    alt_text=st.none() | _text,
)
_voices = st.none() | st.builds(
    BrandVoiceProfile,
    banned_words=st.lists(st.text(alphabet="ab c猫고양", min_size=1, max_size=4), max_size=3),
)


def _has_letter(text: str) -> bool:
    return any(unicodedata.category(ch).startswith("L") for ch in text)


@pytest.mark.parametrize("language", sorted(LANGUAGES))
@pytest.mark.parametrize("platform", list(Platform))
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(listing=_drafts, voice=_voices)
def test_validate_after_autofix_is_clean(
    platform: Platform, language: str, listing: ListingDraft, voice: BrandVoiceProfile | None
) -> None:
    rules = RULES[platform]
    fixed, _ = autofix(listing, rules, language=language, brand_voice=voice)
    left = validate(fixed, rules, language=language, brand_voice=voice)
    assert [v for v in left if v.code not in ("required", "too_short")] == []
    for v in left:
        if v.code == "required" and v.field in ("title", "description"):
            assert not _has_letter(getattr(fixed, v.field))
    # Fixing a fixed draft changes nothing.
    again, fixes = autofix(fixed, rules, language=language, brand_voice=voice)
    assert again == fixed
    assert fixes == []

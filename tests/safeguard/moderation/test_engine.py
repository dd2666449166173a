"""The rules engine end to end over the bundled packs: which packs a listing gets, exact spans in
the original text, verdicts per platform, evidence, merging, and the benign-phrase false-positive
rate."""

import json
from pathlib import Path

import pytest

from flashfusion.safeguard.moderation import check
from flashfusion.safeguard.moderation.engine import UnknownPack, engine
from flashfusion.safeguard.types import Category, Finding, ScreenSubject, TextField, Verdict

BENIGN = Path(__file__).parent / "data" / "benign_pod_phrases.txt"


def subject(text: str, *platforms: str, name: str = "title") -> ScreenSubject:
    return ScreenSubject(fields=(TextField(name, text),), platforms=platforms)


def only(findings: list[Finding], code: str) -> Finding:
    matching = [f for f in findings if f.code == code]
    assert len(matching) == 1, [(f.code, f.span) for f in findings]
    return matching[0]


# --- pack selection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platforms", "expected"),
    [
        ((), ["generic", "ip", "claims"]),
        (("etsy",), ["etsy", "generic", "ip", "claims"]),
        (("amazon", "etsy"), ["amazon", "etsy", "generic", "ip", "claims"]),
        (("tiktok_shop",), ["tiktok_shop", "generic", "ip", "claims"]),
        (("shopify", "pinterest", "instagram", "facebook"), ["generic", "ip", "claims"]),
        (("etsy", "etsy", "ebay"), ["etsy", "generic", "ip", "claims"]),
    ],
)
def test_packs_follow_the_platforms(platforms: tuple[str, ...], expected: list[str]) -> None:
    assert engine().packs_for(platforms) == expected


def test_a_platform_pack_applies_only_when_listing_there() -> None:
    text = "Glass bong for sale"
    assert only(check(subject(text, "etsy")), "policy.drugs").evidence["pack"] == "etsy"
    assert only(check(subject(text, "shopify")), "policy.drugs").evidence["pack"] == "generic"
    paraphernalia = subject("Rolling papers case")
    assert check(paraphernalia) == []
    assert only(check(subject("Rolling papers case", "etsy")), "policy.drugs").source == (
        "https://openapi-f.etsy.com/legal/policy/prohibited-items-policy-effective/1276269214054"
    )


def test_explicit_packs_replace_the_selection() -> None:
    text = subject("Cures cancer. Baby Yoda.", "etsy")
    assert [f.code for f in check(text, packs=["ip"])] == ["ip.character"]
    assert [f.code for f in check(text, packs=["claims", "claims"])] == ["claims.medical"]
    with pytest.raises(UnknownPack, match="unknown rule pack\\(s\\) nope; loaded: "):
        check(text, packs=["ip", "nope"])


# --- spans and evidence ---------------------------------------------------------------------


def test_spans_point_into_the_original_text() -> None:
    text = "Ünïcode tee — Pokémon fans, CURES Cancer fast"
    findings = check(subject(text, name="description"))
    pokemon = only(findings, "ip.character")
    assert pokemon.span is not None
    assert (pokemon.span.field, pokemon.span.start, pokemon.span.end) == ("description", 14, 21)
    assert text[14:21] == pokemon.span.text == "Pokémon"
    cancer = only(findings, "claims.medical")
    assert cancer.span is not None
    assert (cancer.span.start, cancer.span.end, cancer.span.text) == (28, 40, "CURES Cancer")


def test_leetspeak_and_expanding_characters_keep_exact_offsets() -> None:
    text = "Straße K1LL every cop"
    finding = only(check(subject(text)), "policy.violence")
    assert finding.span is not None
    assert (finding.span.start, finding.span.end) == (7, 21)
    assert text[7:21] == finding.span.text == "K1LL every cop"
    assert finding.verdict is Verdict.block


def test_evidence_names_pack_version_rule_and_match() -> None:
    finding = only(check(subject("Hypoallergenic earrings")), "claims.hypoallergenic")
    assert finding.evidence == {
        "pack": "claims",
        "pack_version": "1.0.0",
        "rule": "claims.hypoallergenic",
        "title": "\u201cHypoallergenic\u201d",
        "matched": "Hypoallergenic",
        "lang": "en",
    }
    assert finding.category is Category.claims
    assert (
        finding.source
        == "https://www.fda.gov/cosmetics/cosmetics-labeling-claims/hypoallergenic-cosmetics"
    )
    assert finding.message.startswith("\u201cHypoallergenic\u201d has no federal definition")
    json.dumps(finding.as_dict())  # JSON-serialisable for the report


def test_every_field_is_screened_and_empty_fields_are_skipped() -> None:
    screened = ScreenSubject(
        fields=(
            TextField("title", ""),
            TextField("tags", "gift, eco-friendly, mug"),
            TextField("layer:3f2a", "Hello Kitty"),
        )
    )
    found = [(f.span.field, f.code, f.span.text) for f in check(screened) if f.span]
    assert found == [
        ("tags", "claims.environmental", "eco-friendly"),
        ("layer:3f2a", "ip.character", "Hello Kitty"),
    ]


def test_non_english_patterns_match_whatever_the_declared_language() -> None:
    finding = only(check(subject("Ausländer raus")), "policy.hate")
    assert finding.evidence["lang"] == "de"
    assert finding.verdict is Verdict.block


# --- verdicts per platform ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platforms", "verdict", "source_start"),
    [
        ((), Verdict.warn, "https://advertisinglaw.fkks.com/"),
        (("shopify",), Verdict.warn, "https://advertisinglaw.fkks.com/"),
        (("etsy",), Verdict.block, "https://www.etsy.com/legal/policy/medical-claims/"),
        (("amazon",), Verdict.block, "https://sellercentral.amazon.com/gp/help/external/202024200"),
        (("tiktok_shop",), Verdict.block, "https://seller-us.tiktok.com/university/"),
    ],
)
def test_serious_disease_claims_block_where_the_platform_prohibits_them(
    platforms: tuple[str, ...], verdict: Verdict, source_start: str
) -> None:
    finding = only(check(subject("Cures cancer naturally", *platforms)), "claims.medical")
    assert finding.verdict is verdict
    assert finding.source is not None
    assert finding.source.startswith(source_start)


def test_minor_condition_claims_stay_warnings_on_etsy_but_block_on_amazon() -> None:
    text = "Treats acne overnight"
    etsy = only(check(subject(text, "etsy")), "claims.medical")
    assert etsy.verdict is Verdict.warn
    both = only(check(subject(text, "etsy", "amazon")), "claims.medical")
    assert both.verdict is Verdict.block
    assert both.evidence["platform_verdicts"] == {"amazon": "block"}
    assert both.message.startswith("Amazon prohibits products that claim to cure")


@pytest.mark.parametrize(
    ("text", "code", "verdicts"),
    [
        ("FDA approved mug", "claims.fda", {"": "warn", "etsy": "block", "amazon": "warn"}),
        (
            "Kills coronavirus",
            "claims.covid",
            {"": "warn", "etsy": "block", "tiktok_shop": "block"},
        ),
        (
            "Fat burning tea",
            "claims.weight_loss",
            {"": "warn", "amazon": "warn", "tiktok_shop": "block"},
        ),
        (
            "100% organic cotton",
            "claims.organic",
            {"": "warn", "etsy": "warn", "tiktok_shop": "warn"},
        ),
        ("Eco-friendly tote", "claims.environmental", {"": "warn", "amazon": "warn"}),
        ("Antiviral face mask", "claims.medical", {"": "warn", "etsy": "block"}),
    ],
)
def test_claims_verdict_per_platform(text: str, code: str, verdicts: dict[str, str]) -> None:
    for platform, verdict in verdicts.items():
        platforms = (platform,) if platform else ()
        assert only(check(subject(text, *platforms)), code).verdict == verdict, platform


def test_disclaimers_are_not_claims() -> None:
    assert check(subject("These statements have not been evaluated by the FDA", "etsy")) == []


# --- IP: characters, celebrities, lyrics, quotes --------------------------------------------


def test_a_character_warns_with_its_owner() -> None:
    finding = only(check(subject("Pikachu birthday shirt", "amazon")), "ip.character")
    assert finding.verdict is Verdict.warn
    assert finding.category is Category.ip
    assert finding.evidence["reason"] == (
        "character owned by The Pokémon Company (Nintendo, Game Freak, Creatures)"
    )
    assert finding.message.startswith("\u201cPikachu\u201d is a character or franchise owned by")
    assert finding.source == "https://funlife78.wordpress.com/2016/09/09/pokemon/"


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("spider-man dad", "spider-man"),
        ("Spiderman dad", "Spiderman"),
        ("SPIDER MAN dad", "SPIDER MAN"),
        ("Baby Yoda's mug", "Baby Yoda's"),
        ("Lilo ok, Hufflepuffs unite", "Hufflepuffs"),
    ],
)
def test_character_names_match_spelling_variants(text: str, matched: str) -> None:
    assert only(check(subject(text)), "ip.character").span.text == matched  # type: ignore[union-attr]


def test_lyrics_and_attributed_quotes_warn_with_their_reason() -> None:
    lyric = only(check(subject("Lyrics to Bohemian Rhapsody wall art")), "ip.lyrics")
    assert lyric.evidence["reason"] == "song lyrics are copyrighted"
    assert lyric.span is not None
    assert lyric.span.text == "Lyrics to Bohemian"
    text = "Poster: \u201cStay hungry, stay foolish\u201d \u2014 Steve Jobs"
    quote = only(check(subject(text)), "ip.quote")
    assert quote.span is not None
    assert quote.span.text == "\u201cStay hungry, stay foolish\u201d \u2014 Steve Jobs"
    assert text[quote.span.start : quote.span.end] == quote.span.text
    assert check(subject("\u201cCoffee first\u201d \u2014 Anonymous")) == []


def test_a_celebrity_inside_an_attributed_quote_folds_into_the_quote() -> None:
    findings = check(subject('"Be the change" - Taylor Swift'))
    assert [f.code for f in findings] == ["ip.quote"]
    assert findings[0].evidence["also_matched"] == [{"pack": "ip", "rule": "ip.celebrity_name"}]


# --- merging --------------------------------------------------------------------------------


def test_the_same_hit_from_several_packs_is_one_finding_citing_the_platform() -> None:
    finding = only(check(subject("Sieg heil", "etsy", "amazon")), "policy.hate")
    assert finding.evidence["pack"] == "etsy"
    assert finding.evidence["also_matched"] == [
        {"pack": "amazon", "rule": "amazon.offensive"},
        {"pack": "generic", "rule": "generic.hate_ideology"},
    ]


def test_a_weaker_finding_inside_a_stronger_one_folds_into_it() -> None:
    findings = check(subject("k1ll all cops"))
    assert [(f.code, f.verdict) for f in findings] == [("policy.violence", Verdict.block)]
    assert findings[0].evidence["also_matched"] == [
        {"pack": "generic", "rule": "generic.violent_language"}
    ]


def test_findings_come_in_text_order_most_severe_first() -> None:
    findings = check(subject("Hello Kitty vibes, cures cancer", "etsy"))
    assert [(f.code, f.verdict) for f in findings] == [
        ("ip.character", Verdict.warn),
        ("claims.medical", Verdict.block),
    ]


# --- benign corpus --------------------------------------------------------------------------


def benign_phrases() -> list[str]:
    lines = BENIGN.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def test_benign_pod_phrases_rarely_trip_a_rule() -> None:
    """FlashFusion's target: at most 5 % of ordinary phrases get any finding, on every platform."""
    phrases = benign_phrases()
    assert len(phrases) >= 100
    flagged = {
        phrase: [f.code for f in check(subject(phrase, "etsy", "amazon", "tiktok_shop"))]
        for phrase in phrases
    }
    tripped = {phrase: codes for phrase, codes in flagged.items() if codes}
    assert len(tripped) / len(phrases) <= 0.05, tripped


def test_the_benign_corpus_contains_the_near_misses_it_claims() -> None:
    phrases = set(benign_phrases())
    for near_miss in ("Kill it at the gym", "Hot glue gun queen", "I'd rather be pulling weeds"):
        assert near_miss in phrases

"""Brand-voice consistency score: each component, the banned-word penalty, determinism."""

import pytest

from flashfusion.content.draft import BrandVoiceProfile, ListingDraft
from flashfusion.content.voice import TONE_LEXICON, consistency_score, ngram_cosine

NOTHING = "The profile has no vocabulary, known tone or example copy to compare with."


def listing(description: str, title: str = "") -> ListingDraft:
    return ListingDraft(title=title, description=description)


def test_empty_profile_scores_100() -> None:
    result = consistency_score(listing("A mug."), BrandVoiceProfile())
    assert result.score == 100
    assert result.notes == [NOTHING]


@pytest.mark.parametrize(
    ("banned", "expected"),
    [(["cheap"], 70), (["cheap", "deal"], 40), (["cheap", "deal", "sale", "buy"], 0)],
)
def test_banned_words_cost_30_each(banned: list[str], expected: int) -> None:
    draft = listing("A cheap mug, a great deal: sale, buy now.")
    result = consistency_score(draft, BrandVoiceProfile(banned_words=banned))
    assert result.score == expected
    assert f"Banned word {banned[0]!r} appears (−30)." in result.notes


def test_banned_word_must_be_a_whole_word() -> None:
    result = consistency_score(
        listing("The cheapest mug."), BrandVoiceProfile(banned_words=["cheap"])
    )
    assert result.score == 100


def test_vocabulary_use() -> None:
    voice = BrandVoiceProfile(vocabulary=["cozy", "soft", "handmade", "gift"])
    result = consistency_score(listing("A cozy, soft mug.", title="Cozy mug"), voice)
    assert result.score == 67  # 2 of the 3 words targeted
    assert result.notes == ["Uses 2 of 4 brand words (cozy, soft); try 'handmade'."]
    full = consistency_score(listing("Cozy, soft, handmade."), voice)
    assert full.score == 100


def test_tone_markers() -> None:
    voice = BrandVoiceProfile(tone=["Playful", "luxury", "sassy"])
    result = consistency_score(listing("So much fun!"), voice)
    assert result.score == 50
    assert result.notes == [
        "Tone 'playful': found 'fun', '!'.",
        "Tone 'luxury': no markers found; words like 'luxe', 'luxurious', 'luxury', 'premium' "
        "signal it (FlashFusion lexicon).",
        "No tone lexicon for 'sassy'.",
    ]


def test_tone_is_english_only() -> None:
    result = consistency_score(
        listing("Sehr lustig!"), BrandVoiceProfile(tone=["playful"]), language="de"
    )
    assert result.score == 100
    assert result.notes == [
        "Tone markers not scored: the FlashFusion tone lexicon is English-only.",
        NOTHING,
    ]


def test_lexicon_covers_the_documented_tones() -> None:
    assert set(TONE_LEXICON) == {
        "playful",
        "warm",
        "bold",
        "minimal",
        "luxury",
        "funny",
        "professional",
    }


def test_identical_example_copy_scores_100() -> None:
    copy = "Soft tees for cat people. Made to order in small batches."
    result = consistency_score(listing(copy), BrandVoiceProfile(example_copy=copy))
    assert result.score == 100
    assert result.notes == [
        "Similarity to the example copy: 1.00 (character 3-gram cosine).",
        "Sentences average 6 words against 6 in the example copy.",
    ]


def test_unrelated_example_copy() -> None:
    result = consistency_score(listing("Cat mug."), BrandVoiceProfile(example_copy="zzzz qqqq"))
    # similarity 0 (weight 30), same sentence length (weight 20): 20 / 50
    assert result.score == 40


def test_sentence_length_mismatch_lowers_the_score() -> None:
    example = "Short. Tiny. Brief."
    long = listing("This sentence has quite a few more words than any sentence in the example.")
    result = consistency_score(long, BrandVoiceProfile(example_copy=example))
    assert "Sentences average 14 words against 1 in the example copy." in result.notes
    assert result.score < 20


def test_japanese_uses_character_bigrams() -> None:
    copy = "猫が好きな人へ。かわいいマグです。"
    result = consistency_score(listing(copy), BrandVoiceProfile(example_copy=copy), language="ja")
    assert result.score == 100
    assert result.notes[0] == "Similarity to the example copy: 1.00 (character 2-gram cosine)."


def test_ngram_cosine() -> None:
    assert ngram_cosine("abcd", "abcd") == pytest.approx(1.0)
    assert ngram_cosine("abc", "xyz") == 0.0
    assert ngram_cosine("ab", "ab") == 0.0
    assert ngram_cosine("ABC", "abc") == pytest.approx(1.0)


def test_score_is_deterministic() -> None:
    voice = BrandVoiceProfile(
        tone=["warm"],
        vocabulary=["cozy"],
        banned_words=["cheap"],
        example_copy="A cozy mug for you.",
    )
    draft = listing("A cozy mug for slow mornings at home.", title="Cozy cat mug")
    first = consistency_score(draft, voice)
    assert all(consistency_score(draft, voice) == first for _ in range(5))

"""Normalisation for trademark matching: tokens with original offsets, mark keys, n-grams."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flashfusion.safeguard.trademark.normalize import (
    candidate_keys,
    common_words,
    mark_keys,
    ngrams,
    phonetic,
    singularize,
    tokens,
)
from flashfusion.safeguard.trademark.types import MarkKeys
from flashfusion.safeguard.types import ScreenSubject, TextField


def norms(text: str) -> list[str]:
    return [t.norm for t in tokens(text)]


def spans(text: str) -> list[str]:
    return [text[t.start : t.end] for t in tokens(text)]


def test_case_punctuation_and_spacing_split_words_with_offsets_into_the_original() -> None:
    text = "Buy: Just-Do-It!"
    toks = tokens(text)
    assert [(t.norm, t.start, t.end) for t in toks] == [
        ("buy", 0, 3),
        ("just", 5, 9),
        ("do", 10, 12),
        ("it", 13, 15),
    ]
    assert norms("just.do.it") == ["just", "do", "it"]
    assert norms("JUST   DO\tIT") == ["just", "do", "it"]


def test_spelled_out_letters_join_into_one_word() -> None:
    text = "J U S T do it"
    assert norms(text) == ["just", "do", "it"]
    assert spans(text) == ["J U S T", "do", "it"]
    assert norms("N.I.K.E. shoes") == ["nike", "shoe"]
    assert norms("J.U.S.T. D.O. I.T.") == ["just", "do", "it"]
    # Two single letters without full stops stay apart ("plan B a winner").
    assert norms("plan b a winner") == ["plan", "b", "a", "winner"]


def test_accents_and_ligatures_fold() -> None:
    assert norms("Pokémon Straße ﬁre") == ["pokemon", "strasse", "fire"]
    assert spans("Pokémon") == ["Pokémon"]


def test_leetspeak_folds_inside_words() -> None:
    assert norms("N1KE H3LL0 g00gle $upreme c@t N!KE") == [
        "nike",
        "hello",
        "google",
        "supreme",
        "cat",
        "nike",
    ]
    nike = tokens("N1KE")[0]
    assert nike.alts == ("nlke",)  # "1" may also stand for "l"
    assert tokens("app1e")[0].readings == ("appy", "apple")


def test_real_numbers_survive_leetspeak() -> None:
    assert norms("2024 49ers 90s 11oz 3m 7up covid19 team10 $20") == [
        "2024",
        "49ers",
        "90s",
        "11oz",
        "3m",
        "7up",
        "covid19",
        "team10",
        "20",
    ]
    toks = tokens("2024 49ers")
    assert all(t.numeric for t in toks)
    assert toks[1].alts == ()


def test_numbers_and_ordinals_also_read_as_words() -> None:
    three, peat = tokens("3-peat")
    assert (three.norm, three.alts, peat.norm) == ("3", ("three",), "peat")
    assert tokens("4th")[0].readings == ("4th", "fourth")
    # A leading number is kept; its leet reading is an alternative.
    assert tokens("3peat")[0].readings == ("3peat", "epeat")
    assert tokens("1T")[0].readings == ("1t", "it")


def test_plurals_are_singularised_with_exceptions() -> None:
    assert norms("shirts dresses boxes churches hoodies cookies men feet") == [
        "shirt",
        "dress",
        "box",
        "church",
        "hoody",
        "cooky",
        "man",
        "foot",
    ]
    # Words that only look plural.
    assert norms("yes this bus gas status tennis jeans christmas its") == [
        "yes",
        "this",
        "bus",
        "gas",
        "status",
        "tennis",
        "jeans",
        "christmas",
        "its",
    ]
    assert singularize("headaches") == ("headach", ("headache",))
    assert singularize("jedis") == ("jedis", ("jedi",))
    assert norms("cookie hoodie") == norms("cookies hoodies")


def test_repeated_letters_collapse() -> None:
    assert tokens("Niiike")[0].readings == ("nike", "niike")
    assert norms("OKURRRRR") == norms("okurrr") == ["okur"]
    assert norms("apple coffee") == ["apple", "coffee"]  # doubles are not emphasis


def test_possessives_drop_but_contractions_keep_their_s() -> None:
    assert norms("Levi's Barbie’s") == ["levi", "barby"]  # "-ie" reads "-y" (cookie/cookies)
    assert norms("That's it's let's") == ["thats", "its", "lets"]


def test_symbols_that_stand_for_words() -> None:
    text = "M&M I ♥ NY"
    assert norms(text) == ["m", "and", "m", "i", "love", "ny"]
    assert spans(text) == ["M", "&", "M", "I", "♥", "NY"]


def test_empty_and_symbol_only_text_has_no_tokens() -> None:
    assert tokens("") == []
    assert tokens("!!! --- ... ♦") == []


def test_mark_keys() -> None:
    assert mark_keys("JUST DO IT.") == MarkKeys(
        normalized="just do it",
        compact="justdoit",
        phonetic="JST T IT",
        sorted_tokens="do it just",
    )
    assert mark_keys("Just-Do-It").normalized == mark_keys("JUST DO IT").normalized
    assert mark_keys("").compact == ""


def test_phonetic_merges_repeated_codes() -> None:
    assert phonetic("chewbacca") == phonetic("chewbaka") == "XBK"
    assert phonetic("2024") == "2024"


def test_ngrams_stop_at_phrase_breaks() -> None:
    text = "nike air, just do it. go"
    grams = [g.normalized for g in ngrams(tokens(text), 3, text)]
    assert "nike air" in grams
    assert "air just" not in grams  # the comma separates tags
    assert "just do it" in grams
    assert "it go" not in grams  # a full stop before a space ends a sentence
    assert [g.normalized for g in ngrams(tokens("just.do.it"), 3, "just.do.it")][-1] == "it"
    assert len(ngrams(tokens("aa bb cc dd"), 2)) == 4 + 3
    with pytest.raises(ValueError, match="max_n"):
        ngrams([], 0)


def test_ngram_span_covers_its_tokens() -> None:
    text = "Hakuna Matata tee"
    gram = ngrams(tokens(text), 2)[1]
    assert (gram.normalized, text[gram.start : gram.end]) == ("hakuna matata", "Hakuna Matata")


def test_candidate_keys_let_spacing_variants_meet() -> None:
    subject = ScreenSubject(
        fields=(TextField("title", "JUSTDOIT tee"), TextField("tags", "just do it, gym"))
    )
    keys = candidate_keys(subject)
    assert mark_keys("Just Do It").compact in keys.compact
    assert "justdoit" in keys.normalized  # the one-word spelling as its own n-gram
    assert "just do it" in keys.normalized
    assert "do it just" in keys.sorted_tokens
    assert "JST T IT" in keys.phonetic
    assert "gym" not in keys.fuzzy  # too short for a similarity lookup
    assert "justdoit tee" in keys.fuzzy


def test_common_words() -> None:
    words = common_words()
    assert {"apple", "dove", "gap", "monster", "shirt"} <= words
    assert "nike" not in words
    assert "batman" not in words  # removed by FlashFusion's judgement (see the list's header)
    assert common_words(2.5) > words


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_tokens_never_crash_and_spans_slice_the_original(text: str) -> None:
    toks = tokens(text)
    previous_end = 0
    for t in toks:
        assert 0 <= previous_end <= t.start < t.end <= len(text)
        assert t.norm
        assert text[t.start : t.end].strip()
        previous_end = t.end


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_mark_keys_are_consistent(text: str) -> None:
    keys = mark_keys(text)
    assert keys.compact == keys.normalized.replace(" ", "")
    assert sorted(keys.sorted_tokens.split()) == sorted(keys.normalized.split())
    assert len(keys.phonetic.split()) == len(keys.normalized.split())

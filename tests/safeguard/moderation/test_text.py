"""Folding for matching keeps a map back to the original characters."""

import pytest

from flashfusion.safeguard.moderation.text import fold


@pytest.mark.parametrize(
    ("original", "folded"),
    [
        ("K1LL it", "kill it"),
        ("Pokémon", "pokemon"),
        ("Straße", "strasse"),
        ("\u201cHi\u201d \u2014 Ann\u2019s", '"hi" - ann\'s'),
        ("h3ll0 b@stard wow!", "hell0 bastard wow!"),
        ("ﬁne ½", "fine 1/2"),
        # Digits at a word's edge stay digits: years, sizes, percentages, "covid19".
        ("covid19 4ever 100% 5ft 2026", "covid19 4ever 100% 5ft 2026"),
    ],
)
def test_fold(original: str, folded: str) -> None:
    assert fold(original).text == folded


def test_every_folded_character_maps_to_its_original() -> None:
    original = "aß é"
    result = fold(original)
    assert result.text == "ass e"
    assert result.origin == (0, 1, 1, 2, 3)
    # "ss" came from one character: a span over it is that one character.
    assert result.original_span(1, 3) == (1, 2)
    assert result.original_span(0, 5) == (0, 4)

"""Text folding for rule matching, with a map back to the original characters.

Rules match the folded text; findings report spans in the original (the UI highlights them), so
every folded character remembers the index of the original character it came from. Folding is
deliberately small (FlashFusion's choice): Unicode compatibility decomposition with accents
dropped, case folding, typographic quotes and dashes to ASCII, and leetspeak digits or symbols
*inside* a word ("k1ll", "b@stard") read as letters. A digit at the edge of a word stays a digit,
so "4ever", "covid19", "100%" and "5ft" keep their meaning.
"""

import functools
import re
import unicodedata
from dataclasses import dataclass

# Typographic marks that writers (and word processors) substitute for ASCII ones.
_PUNCTUATION = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u00b4": "'",
    "`": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2033": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\u2044": "/",
    "\u00a0": " ",
}

# Leetspeak substitutions, applied only between letters of one word.
LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
_WORD_CHAR = r"[^\s\"'(),.:;?/\\\-\[\]{}<>*&+=#%^~|]"
# Only words that contain a leet character can change.
_LEETY_WORD = re.compile(rf"{_WORD_CHAR}*[013457@$!]{_WORD_CHAR}*")
_ASCII_FOLD = str.maketrans({"`": "'"})


@dataclass(frozen=True)
class Folded:
    """`text` is the folded string; `origin[i]` is the index in the original of `text[i]`."""

    text: str
    origin: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original `[start, end)` covering folded `[start, end)` (end > start)."""
        return self.origin[start], self.origin[end - 1] + 1


@functools.lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    decomposed = unicodedata.normalize("NFKD", _PUNCTUATION.get(char, char).casefold())
    return "".join(_PUNCTUATION.get(c, c) for c in decomposed if not unicodedata.combining(c))


def _unleet(text: list[str]) -> None:
    joined = "".join(text)
    for word in _LEETY_WORD.finditer(joined):
        token = word.group()
        letters = [i for i, c in enumerate(token) if c.isalpha()]
        if not letters:
            continue
        first, last = letters[0], letters[-1]
        for i in range(first + 1, last):
            replacement = LEET.get(token[i])
            if replacement is not None:
                text[word.start() + i] = replacement


def fold(original: str) -> Folded:
    """Fold `original` for matching; see the module docstring for what changes."""
    if original.isascii():
        # Fast path (most listings): one character in, one out.
        chars = list(original.lower().translate(_ASCII_FOLD))
        origin: tuple[int, ...] = tuple(range(len(original)))
    else:
        chars = []
        positions: list[int] = []
        for index, char in enumerate(original):
            for folded in _fold_char(char):
                chars.append(folded)
                positions.append(index)
        origin = tuple(positions)
    _unleet(chars)
    return Folded("".join(chars), origin)


def fold_phrase(phrase: str) -> str:
    """A pack phrase folded the same way as the text it is matched against."""
    return fold(phrase).text

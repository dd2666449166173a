"""Text normalisation for trademark matching: tokens with original offsets, mark keys, n-grams.

Both sides of a match go through the same functions: a mark's text (`mark_keys`, used by the
starter index and the marks database) and the screened listing (`tokens`, `ngrams`,
`candidate_keys`). A token's `norm` is its canonical form:

- case folded, accents stripped (NFKD, combining marks dropped), ligatures expanded;
- punctuation and spacing split words ("Just-Do-It", "just.do.it" -> just / do / it), a run of
  three or more single letters is joined ("J U S T" -> just), "&" is the word "and", a heart
  ("I ♥ NY") the word "love"; small numbers and ordinals also read as words ("3" / three);
- leetspeak folded (0->o, 1->i, 3->e, 4->a, 5->s, 7->t, @->a, $->s, "!"/"|" inside a word -> i);
  real numbers survive (the rule is in `_is_numeric`);
- letters repeated three or more times collapsed ("Niiike" -> nike);
- a possessive "'s" dropped and plurals singularised by simple English rules with exceptions.

Where a folding is ambiguous (1 is also l, "Appple" may mean "apple", "boxes"/"headaches" drop
"es" or "s") the token carries the other readings in `alts`; the matcher tries them too.
"""

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache
from importlib import resources
from itertools import product

import jellyfish

from flashfusion.safeguard.trademark.types import CandidateKeys, MarkKeys
from flashfusion.safeguard.types import ScreenSubject

__all__ = [
    "NGram",
    "Token",
    "candidate_keys",
    "common_words",
    "mark_keys",
    "ngrams",
    "nysiis",
    "phonetic",
    "tokens",
]

# FlashFusion's leetspeak table (the common substitutions; "1" is read as "i" with "l" as an alt).
_LEET_DIGITS = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t"}
_LEET_SYMBOLS = {"@": "a", "$": "s", "!": "i", "|": "i"}
_APOSTROPHES = frozenset("'\u2019\u02bc")
# Separators that may sit between the letters of a spelled-out word ("J U S T", "N.I.K.E").
_LETTER_GAPS = frozenset(" .-_\u00b7*")
# Between two tokens, these end a phrase: an n-gram does not run across them.
_PHRASE_BREAK = re.compile(r"[,;|\n\r\t!?\u2022/]|[.:]\s")

# A number with a unit or ordinal stays a number: "2024", "49ers", "1st", "90s", "11oz", "3m".
_NUMERIC = re.compile(
    r"\d+(?:st|nd|rd|th|ers?|s|k|m|g|x|d|p|v|w|l|oz|ml|cm|mm|in|ft|lbs?|kg|pm|am|yo|hrs?|mb|gb|tb"
    r"|hz|mph|yrs?)?|\d{2,}[a-z]+"
)

# Plural rules (FlashFusion's, simple English). Words the "-s" rule must leave alone:
_NOT_PLURAL = frozenset(
    """
    yes this his hers its ours yours theirs was has does is us as always sometimes perhaps
    besides towards afterwards news series species physics mathematics ethics politics economics
    athletics gymnastics aerobics mumps measles diabetes herpes lens iris tennis chaos cosmos
    texas christmas xmas canvas atlas bias alias vegas kansas arkansas thomas lucas douglas
    nicholas judas midas adidas paris athens mars venus jesus zeus moses hades ares
    plus thus gas bus yes bonus status virus campus cactus octopus genius focus circus
    chorus corpus census fungus walrus hippopotamus citrus lotus sinus abacus mucus
    basis crisis analysis thesis oasis axis
    pants jeans shorts leggings trousers scissors glasses goggles binoculars pajamas pyjamas
    overalls clothes thanks cheers congrats
    thats whats hes shes theres heres wheres whos hows lets
    """.split()
)  # fmt: skip
_IRREGULAR = {
    "men": "man", "women": "woman", "children": "child", "feet": "foot", "teeth": "tooth",
    "mice": "mouse", "geese": "goose", "people": "person", "oxen": "ox", "dice": "die",
    "leaves": "leaf", "wolves": "wolf", "knives": "knife", "wives": "wife", "lives": "life",
    "halves": "half", "selves": "self", "shelves": "shelf", "loaves": "loaf",
    "thieves": "thief", "calves": "calf", "elves": "elf", "scarves": "scarf",
    "cacti": "cactus", "fungi": "fungus", "alumni": "alumnus",
}  # fmt: skip
# "'s" after these is "is"/"us" ("that's hot", "let's go"), not a possessive.
_CONTRACTED = frozenset("that what it he she there here where who how let".split())
# Symbols that stand for a word ("I ♥ NY", "M&M's").
_SYMBOL_WORDS = {"&": "and", "\u2665": "love", "\u2764": "love", "\u2661": "love"}
# Small numbers and ordinals also read as words ("3-peat" / "three-peat", "4th" / "fourth").
_NUMBER_WORDS = dict(enumerate("zero one two three four five six seven eight nine ten".split()))
_ORDINAL_WORDS = {
    "1st": "first", "2nd": "second", "3rd": "third", "4th": "fourth", "5th": "fifth",
    "6th": "sixth", "7th": "seventh", "8th": "eighth", "9th": "ninth", "10th": "tenth",
}  # fmt: skip
_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th)")
_PLURAL_MIN_LENGTH = 4  # "bus", "gas", "yes", "its": three letters or fewer are never plurals here


@dataclass(frozen=True)
class Token:
    """One word of a text: its canonical form and where it sits (`text[start:end]`)."""

    norm: str
    start: int
    end: int
    # Other readings of an ambiguous folding ("app1e" -> norm "appie", alts ("apple",)).
    alts: tuple[str, ...] = field(default=(), compare=False)
    # True when the token is a number ("2024", "49ers"): never leet-folded or singularised.
    numeric: bool = field(default=False, compare=False)

    @property
    def readings(self) -> tuple[str, ...]:
        return (self.norm, *self.alts)


@dataclass(frozen=True)
class NGram:
    """A run of adjacent tokens of one text, with its span in the original text."""

    tokens: tuple[Token, ...]

    @property
    def start(self) -> int:
        return self.tokens[0].start

    @property
    def end(self) -> int:
        return self.tokens[-1].end

    @cached_property
    def norms(self) -> tuple[str, ...]:
        return tuple(t.norm for t in self.tokens)

    @cached_property
    def normalized(self) -> str:
        return " ".join(self.norms)

    @cached_property
    def compact(self) -> str:
        return "".join(self.norms)

    def readings(self, limit: int = 8) -> list[tuple[str, ...]]:
        """The token tuples this n-gram can be read as: the main reading first, then the
        alternatives (every combination while few, otherwise one token swapped at a time)."""
        if limit == 8:
            return self._readings
        return self._compute_readings(limit)

    @cached_property
    def _readings(self) -> list[tuple[str, ...]]:
        return self._compute_readings(8)

    def _compute_readings(self, limit: int) -> list[tuple[str, ...]]:
        if not any(t.alts for t in self.tokens):
            return [self.norms]
        options = [t.readings for t in self.tokens]
        combos = 1
        for o in options:
            combos *= len(o)
        if combos <= limit:
            return [tuple(c) for c in product(*options)]
        out = [self.norms]
        for i, o in enumerate(options):
            for alt in o[1:]:
                out.append((*self.norms[:i], alt, *self.norms[i + 1 :]))
                if len(out) >= limit:
                    return out
        return out


# --------------------------------------------------------------------------------------------
# Character folding


def _fold_char(c: str) -> str:
    """One original character in its folded form (may be empty or several characters)."""
    if c.isascii():
        return c.lower()
    decomposed = unicodedata.normalize("NFKD", c)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFKD", stripped.casefold())


def _is_word_char(c: str) -> bool:
    if c.isalnum():
        return True
    cat = unicodedata.category(c)
    return cat.startswith("M")  # combining marks belong to the letter before them


def _raw_spans(text: str) -> list[tuple[int, int]]:
    """Spans of raw words: alphanumeric runs, joined by an apostrophe between letters and by
    "@", "$", "!", "|" where they stand for a letter."""
    spans: list[tuple[int, int]] = []
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        starts_word = _is_word_char(c) or (
            c == "$" and i + 1 < n and text[i + 1].isalpha()  # "$upreme"; "$20" is a price
        )
        if not starts_word:
            i += 1
            continue
        j = i + 1
        while j < n:
            d = text[j]
            if _is_word_char(d):
                j += 1
                continue
            if j + 1 < n and _is_word_char(text[j + 1]):
                prev_alpha = text[j - 1].isalpha()
                if d in _APOSTROPHES and prev_alpha and text[j + 1].isalpha():
                    j += 1  # "don't", "levi's"
                    continue
                if d in "@$" or (d in "!|" and prev_alpha and text[j + 1].isalpha()):
                    j += 1  # "c@t", "ke$ha", "n!ke"
                    continue
            if d == "$" and text[j - 1].isalpha():
                j += 1  # trailing "$" after letters: "ca$h" handled above, "bo$" here
                continue
            break
        spans.append((i, j))
        i = j
    return spans


def _merge_spelled(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join runs of three or more one-character words ("J U S T", "N.I.K.E") into one span."""
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(spans):
        j = i
        while (
            j + 1 < len(spans)
            and spans[j][1] - spans[j][0] == 1
            and spans[j + 1][1] - spans[j + 1][0] == 1
            and spans[j + 1][0] - spans[j][1] == 1
            and text[spans[j][1]] in _LETTER_GAPS
        ):
            j += 1
        run = spans[i : j + 1]
        letters = sum(1 for s, _ in run if text[s].isalpha())
        # "U.S." / "D.O.": two letters each closed by a full stop are an abbreviation too.
        dotted = all(text[e : e + 1] == "." for _, e in run)
        if letters >= 2 and (len(run) >= 3 or (dotted and len(run) == letters)):
            out.append((run[0][0], run[-1][1]))
        else:
            out.extend(run)
        i = j + 1
    return out


def _is_numeric(folded: str) -> bool:
    return bool(folded) and folded[0].isdigit() and bool(_NUMERIC.fullmatch(folded))


def _number_alts(number: str) -> tuple[str, ...]:
    if number in _ORDINAL_WORDS:
        return (_ORDINAL_WORDS[number],)
    if number.isdigit() and int(number) in _NUMBER_WORDS and len(number) <= 2:
        return (_NUMBER_WORDS[int(number)],)
    return ()


def _fold_leet(folded: str, one: str = "i") -> tuple[str, bool]:
    """Leet characters as letters. A digit run is folded when every digit has a letter reading
    and it is one digit long or sits between letters ("h3ll0", "g00gle"); "covid19" and "team10"
    keep their numbers. `one` is the letter "1", "!" and "|" stand for. Returns the folded text
    and whether one of those was folded."""
    out: list[str] = []
    had_one = False
    n = len(folded)
    i = 0
    while i < n:
        c = folded[i]
        if c in _LEET_SYMBOLS:
            out.append(one if c in "!|" else _LEET_SYMBOLS[c])
            had_one = had_one or c in "!|"
            i += 1
            continue
        if c.isdigit():
            j = i
            while j < n and folded[j].isdigit():
                j += 1
            run = folded[i:j]
            left = i > 0 and folded[i - 1].isalpha()
            right = j < n and folded[j].isalpha()
            if (
                all(d in _LEET_DIGITS for d in run)
                and (left or right)
                and (len(run) == 1 or (left and right))
            ):
                out.append("".join(one if d == "1" else _LEET_DIGITS[d] for d in run))
                had_one = had_one or "1" in run
            else:
                out.append(run)
            i = j
            continue
        out.append(c)
        i += 1
    return "".join(out), had_one


_REPEAT3 = re.compile(r"([^\W\d_])\1{2,}")


def singularize(word: str) -> tuple[str, tuple[str, ...]]:
    """A word's singular by FlashFusion's simple English rules: (main reading, other readings).
    "-ie" endings and "-ies" plurals both end in "y" so "cookie"/"cookies" and "hoody"/"hoodies"
    meet."""
    if word in _IRREGULAR:
        return _IRREGULAR[word], ()
    if len(word) < _PLURAL_MIN_LENGTH or word in _NOT_PLURAL or not word.isalpha():
        return word, ()
    if word.endswith("ies") and len(word) >= 5:
        return word[:-3] + "y", ()
    if word.endswith("ie") and len(word) >= 5:
        return word[:-2] + "y", ()
    if word.endswith("is") and len(word) >= 5:
        return word, (word[:-1],)  # "tennis" stays; "jedis", "taxis" may be plurals: an alt
    if word.endswith(("ss", "us", "ous")):
        return word, ()
    if word.endswith("sses"):
        return word[:-2], ()
    if word.endswith(("ches", "shes", "xes", "zzes")):
        return word[:-2], (word[:-1],)  # "boxes" -> box; "headaches" -> headache as an alt
    if word.endswith("oes") and len(word) >= 5:
        return word[:-1], (word[:-2],)  # "shoes" -> shoe; "heroes" -> hero as an alt
    if word.endswith("s") and not word.endswith("'s"):
        return word[:-1], ()
    return word, ()


def _word_readings(folded: str) -> list[str]:
    """Possessive dropped, apostrophes removed, repeats collapsed, singularised: every reading."""
    if folded.endswith("'s") and len(folded) > 2 and folded[:-2] not in _CONTRACTED:
        folded = folded[:-2]  # possessive: "levi's" -> levi; "that's" stays "thats"
    folded = folded.replace("'", "")
    bases = [_REPEAT3.sub(r"\1", folded)]
    if _REPEAT3.search(folded):
        bases.append(_REPEAT3.sub(r"\1\1", folded))
    readings: list[str] = []
    for b in bases:
        main, others = singularize(b)
        for r in (main, *others):
            if r and r not in readings:
                readings.append(r)
    return readings


def _normalize_word(raw: str) -> tuple[str, tuple[str, ...], bool]:
    """(norm, alts, numeric) of one raw word."""
    folded = "".join(_fold_char(c) for c in raw)
    folded = folded.replace("\u2019", "'").replace("\u02bc", "'")
    folded = "".join(ch for ch in folded if ch.isalnum() or ch in _LEET_SYMBOLS or ch == "'")
    bare = folded.replace("'", "")
    if not bare:
        return "", (), False
    if _is_numeric(bare):
        alts = list(_number_alts(bare))
        leet, _ = _fold_leet(bare)
        if leet != bare and leet.isalpha() and not _ORDINAL.fullmatch(bare):
            alts.append(leet)  # "1s" in "L1FE 1S G00D" reads "is"; "4th" is only an ordinal
        return bare, tuple(alts), True
    if bare[0].isdigit():
        # "3peat", "4ever", "2pac": a leading number is kept; the leet reading is an alt.
        leet, _ = _fold_leet(bare)
        return bare, tuple(r for r in _word_readings(leet) if r != bare), False
    readings = _word_readings(_fold_leet(folded)[0])
    leet_l, had_one = _fold_leet(folded, one="l")
    if had_one:
        readings += [r for r in _word_readings(leet_l) if r not in readings]
    if not readings:
        return bare, (), False
    return readings[0], tuple(readings[1:]), False


def tokens(text: str) -> list[Token]:
    """The words of `text` in canonical form, each with its offsets into the original text."""
    if not text:
        return []
    out: list[Token] = []
    spans = _merge_spelled(text, _raw_spans(text))
    symbols = [(i, i + 1) for i, c in enumerate(text) if c in _SYMBOL_WORDS]
    spans = sorted(spans + symbols)
    for start, end in spans:
        raw = text[start:end]
        if raw in _SYMBOL_WORDS:
            out.append(Token(_SYMBOL_WORDS[raw], start, end))
            continue
        if end - start == 1 and not raw.isalnum():
            continue  # a lone "$", "@" or mark
        if _is_spelled(raw):
            raw = "".join(c for c in raw if _is_word_char(c))
        norm, alts, numeric = _normalize_word(raw)
        if not norm:
            continue
        out.append(Token(norm, start, end, alts, numeric))
    return out


def _is_spelled(raw: str) -> bool:
    return any(c in _LETTER_GAPS for c in raw)


# --------------------------------------------------------------------------------------------
# Keys


_REPEATED_CODE = re.compile(r"(.)\1+")


@lru_cache(maxsize=131072)
def phonetic(norm: str) -> str:
    """Metaphone code of one normalized token, repeated code letters merged ("chewbacca" XBKK ->
    XBK, as "chewbaka" sounds); a token without one (a number) is its own code."""
    if not norm.isascii() or not norm.isalpha():
        return norm
    return _REPEATED_CODE.sub(r"\1", jellyfish.metaphone(norm)) or norm


@lru_cache(maxsize=131072)
def nysiis(norm: str) -> str:
    """NYSIIS code of one normalized token (a second phonetic opinion for the matcher)."""
    if not norm.isascii() or not norm.isalpha():
        return norm
    return jellyfish.nysiis(norm) or norm


def keys_of(norms: Sequence[str]) -> MarkKeys:
    """The index keys of a sequence of normalized tokens."""
    return MarkKeys(
        normalized=" ".join(norms),
        compact="".join(norms),
        phonetic=" ".join(phonetic(n) for n in norms),
        sorted_tokens=" ".join(sorted(norms)),
    )


def mark_keys(mark_text: str) -> MarkKeys:
    """The index keys of a mark's text ("Just Do It." -> just do it / justdoit / JST T IT / …)."""
    return keys_of([t.norm for t in tokens(mark_text)])


def ngrams(tokens: Sequence[Token], max_n: int = 6, text: str | None = None) -> list[NGram]:
    """Every run of 1..max_n adjacent tokens. With `text` (the tokens' source), a run does not
    cross a phrase break (a comma, semicolon, line break, "!", "?", or a full stop before a
    space), so separate tags or sentences do not join into one phrase."""
    if max_n < 1:
        raise ValueError("max_n must be at least 1")
    breaks = [False] * len(tokens)
    if text is not None:
        for i in range(1, len(tokens)):
            gap = text[tokens[i - 1].end : tokens[i].start]
            if gap.startswith(".") and "." in text[tokens[i - 1].start : tokens[i - 1].end]:
                gap = gap[1:]  # the closing stop of "J.U.S.T." ends an abbreviation, not a sentence
            breaks[i] = bool(_PHRASE_BREAK.search(gap))
    out: list[NGram] = []
    for i in range(len(tokens)):
        for n in range(1, max_n + 1):
            j = i + n
            if j > len(tokens) or (n > 1 and breaks[j - 1]):
                break
            out.append(NGram(tuple(tokens[i:j])))
    return out


# The shortest compact n-gram worth a similarity lookup (FlashFusion's choice: below this a
# one-letter edit is a different word).
FUZZY_MIN_LENGTH = 4


def subject_ngrams(subject: ScreenSubject, max_n: int = 6) -> list[tuple[str, NGram]]:
    """(field name, n-gram) for every field of the subject."""
    out: list[tuple[str, NGram]] = []
    for f in subject.fields:
        toks = tokens(f.text)
        out.extend((f.name, g) for g in ngrams(toks, max_n, f.text))
    return out


def candidate_keys(subject: ScreenSubject, max_n: int = 6) -> CandidateKeys:
    """The lookup keys of every n-gram (and every reading of it) in every field of `subject`."""
    return keys_for_ngrams(g for _, g in subject_ngrams(subject, max_n))


def keys_for_ngrams(grams: Iterable[NGram]) -> CandidateKeys:
    normalized: set[str] = set()
    compact: set[str] = set()
    phon: set[str] = set()
    sorted_tokens: set[str] = set()
    fuzzy: set[str] = set()
    for g in grams:
        for reading in g.readings():
            k = keys_of(reading)
            normalized.add(k.normalized)
            compact.add(k.compact)
            phon.add(k.phonetic)
            if len(reading) > 1:
                phon.add(phonetic(k.compact))  # "lite saber" sounds like LIGHTSABER
            sorted_tokens.add(k.sorted_tokens)
            if len(k.compact) >= FUZZY_MIN_LENGTH:
                fuzzy.add(k.normalized)
    return CandidateKeys(
        normalized=frozenset(normalized),
        compact=frozenset(compact),
        phonetic=frozenset(phon),
        sorted_tokens=frozenset(sorted_tokens),
        fuzzy=frozenset(fuzzy),
    )


# FlashFusion's tiers: a one-word mark is "an ordinary word" from COMMON_ZIPF; a token that tells
# a near-miss apart from a mark ("dally" in "dilly dally") counts as a word from WORD_ZIPF.
COMMON_ZIPF = 3.0
WORD_ZIPF = 2.5


@cache
def _word_frequencies() -> dict[str, float]:
    text = (
        resources.files("flashfusion.safeguard.trademark")
        .joinpath("data", "common_words.txt")
        .read_text(encoding="utf-8")
    )
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        word, _, zipf = line.partition("\t")
        word = word.strip()
        # The list holds plain lower-case words: only repeats and plurals can change them.
        norm = _word_readings(word)[0] if word.isalpha() else _normalize_word(word)[0]
        if norm:
            out[norm] = max(out.get(norm, 0.0), float(zipf or 0))
    return out


@cache
def common_words(min_zipf: float = COMMON_ZIPF) -> frozenset[str]:
    """Normalized ordinary English words at least `min_zipf` frequent (`data/common_words.txt`;
    how the list was made is in its header)."""
    return frozenset(w for w, z in _word_frequencies().items() if z >= min_zipf)

"""Score marks against a screened listing: which mark, where, how it matched, and the verdict.

`match(subject, marks)` looks at every field of the subject (title, tags, description, design
text layers…) through the n-grams of its normalized tokens (`normalize.py`) and reports, per mark
and span, the strongest of these match types:

- exact: the n-gram's tokens equal the mark's, the raw text differing only in case, spacing,
  accents or punctuation ("Just-Do-It" for JUST DO IT);
- compact: the same letters with different spacing ("JUSTDOIT", "#beastmode…");
- variant: equal after leetspeak, plural, repeated-letter or number-word folding ("N1KES");
- word_order: the same tokens in another order;
- phonetic: every token sounds the same (Metaphone, repeated codes merged), or the words run
  together do ("lite saber"), with a spelling similarity of at least `phonetic_warn`;
- fuzzy: rapidfuzz similarity of n-grams of about the mark's length.

FlashFusion's verdict policy (thresholds in `Thresholds`, which a workspace may override):

- a live or pending mark whose classes meet the product's (`subject.nice_classes`; empty means
  every class counts): exact / compact / variant → BLOCK; word_order / phonetic → WARN; fuzzy →
  BLOCK from `fuzzy_block`, WARN from `fuzzy_warn`;
- a mark whose classes the record does not state: at most WARN (check the register);
- a live mark outside the product's classes: WARN for an exact-type match of a mark flagged
  famous, otherwise an informational PASS;
- a dead mark: an informational PASS for exact-type matches only;
- a one-word mark that is also an ordinary English word (APPLE, DOVE, GAP) and not famous only
  counts where the listing also points at the brand (the owner's name, a ™/® sign, or a brand
  word such as "logo" or "official" next to it); otherwise it is an informational PASS.
"""

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz, process

from flashfusion.exceptions import BadRequest
from flashfusion.safeguard.trademark.classes import describe_classes
from flashfusion.safeguard.trademark.normalize import (
    WORD_ZIPF,
    NGram,
    common_words,
    ngrams,
    nysiis,
    phonetic,
    tokens,
)
from flashfusion.safeguard.trademark.types import MarkRecord, MarkStatus, Office
from flashfusion.safeguard.types import (
    Category,
    Finding,
    ScreenSubject,
    Span,
    TextField,
    Verdict,
)

__all__ = [
    "DEFAULT",
    "InvalidThresholds",
    "MATCH_TYPES",
    "Thresholds",
    "match",
    "tsdr_url",
    "warm_up",
]

MATCH_TYPES = ("exact", "compact", "variant", "fuzzy", "word_order", "phonetic")
_EXACT_TYPES = frozenset({"exact", "compact", "variant"})
_TYPE_RANK = {t: len(MATCH_TYPES) - i for i, t in enumerate(MATCH_TYPES)}
_MAX_N = 12  # the longest mark (in tokens) the n-grams reach for


class InvalidThresholds(BadRequest):
    """A workspace's trademark threshold settings that cannot be used."""


@dataclass(frozen=True)
class Thresholds:
    """FlashFusion's trademark thresholds (similarities are 0..1, lengths count letters of the
    mark without spaces)."""

    fuzzy_block: float = 0.95  # fuzzy similarity that blocks like an exact match
    fuzzy_warn: float = 0.85  # fuzzy similarity that warns
    phonetic_warn: float = 0.6  # spelling similarity a sound-alike needs besides Metaphone
    min_token_length: int = 2  # marks shorter than this are never matched
    min_compact_length: int = 4  # spacing variants ("j u s t") of marks at least this long
    min_contained_length: int = 8  # a mark inside a longer word ("#beastmodeon")
    min_phonetic_length: int = 4
    min_fuzzy_length: int = 6
    block_unknown_class: bool = False  # BLOCK exact matches of marks with no stated class
    report_informational: bool = True  # keep PASS findings (dead, other classes, plain words)

    def __post_init__(self) -> None:
        for name in ("fuzzy_block", "fuzzy_warn", "phonetic_warn"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 1:
                raise InvalidThresholds(f"trademark threshold {name} must be a number in (0, 1]")
        if self.fuzzy_warn > self.fuzzy_block:
            raise InvalidThresholds("trademark threshold fuzzy_warn must not be above fuzzy_block")
        for name in (
            "min_token_length",
            "min_compact_length",
            "min_contained_length",
            "min_phonetic_length",
            "min_fuzzy_length",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 50:
                raise InvalidThresholds(f"trademark threshold {name} must be an integer 1-50")
        for name in ("block_unknown_class", "report_informational"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidThresholds(f"trademark threshold {name} must be true or false")

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> "Thresholds":
        """These thresholds with a workspace's settings applied; unknown names are an error."""
        if not overrides:
            return self
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise InvalidThresholds(
                f"unknown trademark threshold {unknown[0]!r}; known: {', '.join(sorted(known))}"
            )
        return replace(self, **dict(overrides))


DEFAULT = Thresholds()

# Words next to a plain-word mark that show the brand is meant (FlashFusion's list).
_BRAND_CUES = frozenset(
    """
    brand brands logo logos official authentic genuine licensed licence license inspired dupe
    replica knockoff counterfeit parody trademark trademarked tm
    """.split()
)
_BRAND_SIGNS = frozenset("\u2122\u00ae\u2120")  # ™ ® ℠
# Words in owner names that say nothing about the brand.
_OWNER_NOISE = frozenset(
    """
    inc incorporated llc ltd limited co corp corporation company companies gmbh ag sa bv nv plc
    lp llp partnership holding holdings group international enterprise enterprises trust the
    and of a an de dba brand juris operations club baseball entertainment
    """.split()
)


@dataclass(frozen=True)
class _MarkInfo:
    norms: tuple[str, ...]
    compact: str
    sorted_tokens: tuple[str, ...]
    metaphone: tuple[str, ...]
    letters: str
    normalized: str
    readings: tuple[tuple[str, ...], ...]  # the main reading and its alternatives ("3" / three)


@lru_cache(maxsize=65536)
def _mark_info(mark_text: str) -> _MarkInfo:
    toks = tokens(mark_text)
    norms = tuple(t.norm for t in toks)
    return _MarkInfo(
        readings=tuple(NGram(tuple(toks)).readings()) if toks else (),
        norms=norms,
        compact="".join(norms),
        sorted_tokens=tuple(sorted(norms)),
        metaphone=tuple(phonetic(n) for n in norms),
        letters=_letters(mark_text),
        normalized=" ".join(norms),
    )


def _letters(text: str) -> str:
    """Letters and digits only, case and accents folded: what "differs beyond case" compares."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c)).casefold()


_KEYS: dict[str, Callable[[tuple[str, ...]], Any]] = {
    "reading": lambda r: r,
    "compact": "".join,
    "sorted": lambda r: tuple(sorted(r)),
    "metaphone": lambda r: tuple(phonetic(t) for t in r),
    "compact_metaphone": lambda r: phonetic("".join(r)),
}


class _Field:
    """One screened field: its tokens and n-grams, with lookups per n-gram length."""

    def __init__(self, name: str, text: str, max_n: int) -> None:
        self.name = name
        self.text = text
        self.tokens = tokens(text)
        self.by_length: defaultdict[int, list[NGram]] = defaultdict(list)
        for g in ngrams(self.tokens, max_n, text):
            self.by_length[len(g.tokens)].append(g)
        self._indexes: dict[tuple[str, int], dict[Any, list[NGram]]] = {}
        self._letters: dict[tuple[int, int], str] = {}
        self._singles_by_letters: dict[str, list[NGram]] | None = None
        self._affixes: dict[int, dict[str, list[tuple[NGram, tuple[str, ...], int]]]] = {}

    def singles_by_letters(self) -> dict[str, list[NGram]]:
        """One-word n-grams by their raw letters ("HOTGIRLSREAD" -> hotgirlsread)."""
        if self._singles_by_letters is None:
            out: defaultdict[str, list[NGram]] = defaultdict(list)
            for g in self.by_length.get(1, ()):
                out[self.raw_letters(g)].append(g)
            self._singles_by_letters = dict(out)
        return self._singles_by_letters

    def affixes(self, min_length: int) -> dict[str, list[tuple[NGram, tuple[str, ...], int]]]:
        """Prefixes and suffixes (at least `min_length` letters) of one-word n-grams, each with
        the word's reading and length: how a mark inside a longer word ("#beastmodeon") is found."""
        found = self._affixes.get(min_length)
        if found is not None:
            return found
        out: defaultdict[str, list[tuple[NGram, tuple[str, ...], int]]] = defaultdict(list)
        for g in self.by_length.get(1, ()):
            for reading in g.readings():
                word = reading[0]
                for cut in range(min_length, len(word)):
                    out[word[:cut]].append((g, reading, len(word)))
                    out[word[-cut:]].append((g, reading, len(word)))
        self._affixes[min_length] = found = dict(out)
        return found

    def index(self, kind: str, length: int) -> dict[Any, list[NGram]]:
        """The field's n-grams of one length by one key (built on first use): "reading" (token
        tuple), "compact", "sorted" (sorted tokens), "metaphone" (code per token) or
        "compact_metaphone" (code of the words run together); every reading counts."""
        key = (kind, length)
        found = self._indexes.get(key)
        if found is not None:
            return found
        make = _KEYS[kind]
        out: defaultdict[Any, list[NGram]] = defaultdict(list)
        for g in self.by_length.get(length, ()):
            for reading in g.readings():
                out[make(reading)].append(g)
        self._indexes[key] = found = dict(out)
        return found

    def strings(self, length: int) -> tuple[list[str], list[str]]:
        """Normalized and compact texts of the n-grams of one length, in `by_length` order."""
        grams = self.by_length.get(length, ())
        return [g.normalized for g in grams], [g.compact for g in grams]

    def raw_letters(self, g: NGram) -> str:
        key = (g.start, g.end)
        value = self._letters.get(key)
        if value is None:
            value = self._letters[key] = _letters(self.text[g.start : g.end])
        return value


@dataclass(frozen=True)
class _Hit:
    field: str
    start: int
    end: int
    match_type: str
    score: float
    reading: tuple[str, ...]


def _unique(grams: Iterable[NGram]) -> list[NGram]:
    seen: dict[tuple[int, int], NGram] = {}
    for g in grams:
        seen.setdefault((g.start, g.end), g)
    return list(seen.values())


def _differs_only_by_common_words(reading: tuple[str, ...], mark: _MarkInfo) -> bool:
    """True when the n-gram is a phrase of its own rather than a spelling of the mark: the tokens
    that are not the mark's are ordinary words that do not sound like the mark's word in their
    place. "red bowl" is a bowl, not RED BULL, and "three peas" are peas, not THREE-PEAT; "john
    dear" still sounds like JOHN DEERE. Where most of the mark's words are there ("just due it",
    "just do the"), sounding alike in consonants is enough; otherwise the vowel and the spelling
    must be close too."""
    words = common_words(WORD_ZIPF)
    mark_set = set(mark.norms)
    differing = [i for i, t in enumerate(reading) if t not in mark_set]
    if not differing or not all(reading[i] in words for i in differing):
        return False
    shared = sum((Counter(mark.norms) & Counter(reading)).values())
    mostly_there = shared >= 2 and 2 * shared >= len(mark.norms)
    if len(reading) != len(mark.norms):
        return not mostly_there
    for i in differing:
        theirs, ours = reading[i], mark.norms[i]
        same_code = phonetic(theirs) == phonetic(ours)
        if mostly_there:
            # NYSIIS hears "gurl" as "girl", which Metaphone (soft g before i) does not.
            sound_alike = same_code or nysiis(theirs) == nysiis(ours)
        else:
            sound_alike = (
                same_code
                and _vowel_sound(theirs) == _vowel_sound(ours)
                and fuzz.ratio(theirs, ours) >= 60
            )
        if sound_alike:
            return False
    return True


# FlashFusion's rough reading of a word's first vowel: Metaphone drops vowels, so "dally" and
# "dilly" (or "bowl" and "bull") share a code although nobody hears them alike.
_VOWEL_GROUP = re.compile(r"[aeiou]+|(?<=[^aeiou])y")
_VOWEL_SOUNDS = {
    "a": "A", "ai": "A", "ay": "A", "au": "O", "aw": "O",
    "e": "E", "ee": "E", "ea": "E", "ei": "E", "ey": "E", "ie": "E",
    "i": "I", "y": "I",
    "o": "O", "oa": "O", "ow": "O", "oe": "O",
    "oo": "U", "ou": "U", "u": "U", "ue": "U", "ew": "U", "ui": "U",
}  # fmt: skip


def _vowel_sound(word: str) -> str:
    m = _VOWEL_GROUP.search(word)
    if m is None:
        return ""
    group = m.group(0)
    return _VOWEL_SOUNDS.get(group, _VOWEL_SOUNDS.get(group[:2], group[0].upper()))


def _fuzzy_scores(
    f: _Field, marks: Iterable[_MarkInfo], th: Thresholds
) -> dict[str, list[tuple[NGram, float]]]:
    """For each mark long enough, the field's n-grams of about its length (one word fewer to one
    more) whose normalized or compact text is at least `fuzzy_warn` similar (scores 0..100). All
    marks of a length are scored against all n-grams of that length in one rapidfuzz batch."""
    cutoff = th.fuzzy_warn * 100
    wanted: defaultdict[int, dict[str, _MarkInfo]] = defaultdict(dict)
    for m in marks:
        if len(m.compact) >= th.min_fuzzy_length:
            for length in (len(m.norms) - 1, len(m.norms), len(m.norms) + 1):
                if length in f.by_length:
                    wanted[length][m.normalized] = m
    out: defaultdict[str, dict[int, tuple[NGram, float]]] = defaultdict(dict)
    for length, by_text in wanted.items():
        grams = f.by_length[length]
        normalized, compact = f.strings(length)
        infos = list(by_text.values())
        for queries, choices in (
            ([m.normalized for m in infos], normalized),
            ([m.compact for m in infos], compact),
        ):
            matrix = process.cdist(queries, choices, scorer=fuzz.ratio, score_cutoff=cutoff)
            for row, col in zip(*matrix.nonzero(), strict=True):
                key, g = infos[row].normalized, grams[col]
                score = float(matrix[row, col])
                old = out[key].get(id(g))
                if old is None or score > old[1]:
                    out[key][id(g)] = (g, score)
    return {k: list(v.values()) for k, v in out.items()}


def _hits_for(
    mark: _MarkInfo, f: _Field, th: Thresholds, fuzzy: dict[str, list[tuple[NGram, float]]]
) -> list[_Hit]:
    """Every way `mark` occurs in field `f` (one hit per n-gram, its best match type);
    `fuzzy` holds the field's similarity scores from `_fuzzy_scores`."""
    best: dict[tuple[int, int], _Hit] = {}
    n = len(mark.norms)

    def add(g: NGram, match_type: str, score: float, reading: tuple[str, ...]) -> None:
        hit = _Hit(f.name, g.start, g.end, match_type, score, reading)
        key = (g.start, g.end)
        old = best.get(key)
        if old is None or (_TYPE_RANK[match_type], score) > (_TYPE_RANK[old.match_type], old.score):
            best[key] = hit

    for mark_reading in mark.readings:
        for g in _unique(f.index("reading", len(mark_reading)).get(mark_reading, ())):
            kind = "exact" if f.raw_letters(g) == mark.letters else "variant"
            add(g, kind, 1.0, mark_reading)
        compact = "".join(mark_reading)
        if len(compact) >= th.min_compact_length:
            # Spacing variants: any run of up to one word more than the mark has.
            for length in range(1, min(len(compact), n + 1) + 1):
                for g in _unique(f.index("compact", length).get(compact, ())):
                    kind = "compact" if f.raw_letters(g) == mark.letters else "variant"
                    add(g, kind, 1.0, g.norms)
    if len(mark.letters) >= th.min_compact_length and n > 1:
        # The mark's letters as one word, before plurals fold: "HOTGIRLSREAD".
        for g in f.singles_by_letters().get(mark.letters, ()):
            add(g, "compact", 1.0, g.norms)
    if len(mark.compact) >= th.min_contained_length:
        for g, reading, length in f.affixes(th.min_contained_length).get(mark.compact, ()):
            add(g, "compact", round(len(mark.compact) / length, 3), reading)
    if n > 1:
        for g in _unique(f.index("sorted", n).get(mark.sorted_tokens, ())):
            add(g, "word_order", 0.9, g.norms)
    words = common_words(WORD_ZIPF)
    if len(mark.compact) >= th.min_phonetic_length:
        for g in _unique(f.index("metaphone", n).get(mark.metaphone, ())):
            for reading in g.readings():
                if tuple(phonetic(t) for t in reading) != mark.metaphone:
                    continue
                if len(reading) == 1 and reading[0] in words:
                    continue  # "neck" is a word of its own, not a way to spell NIKE
                if _differs_only_by_common_words(reading, mark):
                    continue
                similarity = fuzz.ratio("".join(reading), mark.compact) / 100
                if similarity >= th.phonetic_warn:
                    add(g, "phonetic", round(similarity, 3), reading)
                    break
        # Sound-alikes spaced differently: "lite saber" for LIGHTSABER.
        code = phonetic(mark.compact)
        for length in (n - 1, n + 1):
            if length < 1:
                continue
            for g in _unique(f.index("compact_metaphone", length).get(code, ())):
                reading = g.norms
                if len(reading) < n and set(reading) <= set(mark.norms):
                    continue  # "just do" is part of JUST DO IT, not a way to say it
                similarity = fuzz.ratio("".join(reading), mark.compact) / 100
                # Ordinary words run together only count when they also look like the mark.
                if similarity >= max(th.phonetic_warn, 0.75):
                    add(g, "phonetic", round(similarity, 3), reading)
    if len(mark.compact) >= th.min_fuzzy_length:
        slack = max(2, len(mark.compact) // 4)
        for g, score in fuzzy.get(mark.normalized, ()):
            if abs(len(g.compact) - len(mark.compact)) > slack:
                continue
            if _differs_only_by_common_words(g.norms, mark):
                continue
            if len(g.norms) < n and set(g.norms) <= set(mark.norms):
                continue  # "sweet sixteen" lacks NCAA SWEET SIXTEEN's "ncaa": not the mark
            if len(g.norms) == 1 and g.norms[0] in words:
                continue  # "mobster" is a word, not a misspelt MONSTER
            add(g, "fuzzy", round(score / 100, 3), g.norms)
    return list(best.values())


def warm_up() -> None:
    """Load what the first screen would otherwise wait for (the word lists, the starter set)."""
    from flashfusion.safeguard.trademark.starter import get_starter_index

    common_words()
    common_words(WORD_ZIPF)
    index = get_starter_index()
    sample = ScreenSubject(fields=(TextField("title", "Just Due It tee"),))
    match(sample, index.records[:5], famous=index.famous)  # the scorers' first call is slow


def tsdr_url(record: MarkRecord) -> str | None:
    """The USPTO TSDR status page of a record (by serial number, else registration number)."""
    if record.office is not Office.uspto:
        return None
    if record.serial_number:
        return (
            f"https://tsdr.uspto.gov/#caseNumber={record.serial_number}"
            "&caseType=SERIAL_NO&searchType=statusSearch"
        )
    if record.registration_number:
        return (
            f"https://tsdr.uspto.gov/#caseNumber={record.registration_number}"
            "&caseType=US_REGISTRATION_NO&searchType=statusSearch"
        )
    return None


def _brand_context(
    hit: _Hit, field: _Field, record: MarkRecord, subject_words: frozenset[str]
) -> bool:
    """Whether the listing points at the brand behind a plain-word mark."""
    after = field.text[hit.end : hit.end + 4]
    before = field.text[max(0, hit.start - 2) : hit.start]
    if any(c in _BRAND_SIGNS for c in after + before) or after.lower().startswith(("(tm)", "(r)")):
        return True
    positions = [i for i, t in enumerate(field.tokens) if hit.start <= t.start < hit.end]
    if positions:
        lo, hi = max(0, positions[0] - 3), min(len(field.tokens), positions[-1] + 4)
        near = {t.norm for t in field.tokens[lo:hi]} - set(hit.reading)
        if near & _BRAND_CUES:
            return True
    if record.owner:
        owner = {t.norm for t in tokens(record.owner)} - _OWNER_NOISE - set(hit.reading)
        owner = {w for w in owner if len(w) > 2}
        if owner & subject_words:
            return True
    return False


@dataclass
class _Candidate:
    record: MarkRecord
    info: _MarkInfo
    hit: _Hit
    verdict: Verdict
    relevant: bool | None
    reason: str  # "relevant", "unknown_class", "other_class", "famous_other_class", "dead",
    # "plain_word"
    famous: bool


def _verdict(
    record: MarkRecord,
    hit: _Hit,
    relevant: bool | None,
    famous: bool,
    th: Thresholds,
) -> tuple[Verdict, str] | None:
    exactish = hit.match_type in _EXACT_TYPES
    if record.status is MarkStatus.dead:
        return (Verdict.passed, "dead") if exactish else None
    if relevant is False:
        if exactish and famous:
            return Verdict.warn, "famous_other_class"
        return (Verdict.passed, "other_class") if exactish else None
    if exactish:
        strong = Verdict.block
    elif hit.match_type == "fuzzy":
        strong = Verdict.block if hit.score >= th.fuzzy_block else Verdict.warn
    else:
        strong = Verdict.warn
    if relevant is None:
        if strong is Verdict.block and not (exactish and th.block_unknown_class):
            strong = Verdict.warn
        return strong, "unknown_class"
    return strong, "relevant"


def match(
    subject: ScreenSubject,
    marks: Iterable[MarkRecord],
    thresholds: Thresholds = DEFAULT,
    *,
    famous: Collection[str] | None = None,
) -> list[Finding]:
    """Trademark findings for `subject` against `marks` (typically a source's `candidates`).

    `famous` holds normalized mark texts that count outside their classes; None takes the
    starter set's flags. Findings come sorted by verdict (worst first), then field and offset."""
    if famous is None:
        from flashfusion.safeguard.trademark.starter import get_starter_index

        famous = get_starter_index().famous
    records = [m for m in marks if m.mark_text]
    infos = {id(r): _mark_info(r.mark_text) for r in records}
    records = [r for r in records if len(infos[id(r)].compact) >= thresholds.min_token_length]
    if not records or not subject.fields:
        return []
    max_n = min(_MAX_N, max(len(infos[id(r)].norms) for r in records) + 1)
    indexed = [_Field(f.name, f.text, max_n) for f in subject.fields if f.text]
    fields_by_name = {f.name: f for f in indexed}
    subject_words = frozenset(t.norm for f in indexed for t in f.tokens)
    words = common_words()
    wanted = subject.nice_classes

    distinct = {info.normalized: info for info in infos.values()}.values()
    fuzzy_by_field = {f.name: _fuzzy_scores(f, distinct, thresholds) for f in indexed}
    hits_cache: dict[str, list[_Hit]] = {}
    candidates: list[_Candidate] = []
    for record in records:
        info = infos[id(record)]
        if info.normalized not in hits_cache:
            hits_cache[info.normalized] = [
                h for f in indexed for h in _hits_for(info, f, thresholds, fuzzy_by_field[f.name])
            ]
        hits = hits_cache[info.normalized]
        if not hits:
            continue
        is_famous = info.normalized in famous
        if not record.nice_classes:
            relevant: bool | None = None
        else:
            relevant = not wanted or bool(record.nice_classes & wanted)
        plain_word = len(info.norms) == 1 and info.norms[0] in words and not is_famous
        for hit in hits:
            decided = _verdict(record, hit, relevant, is_famous, thresholds)
            if decided is None:
                continue
            verdict, reason = decided
            if (
                plain_word
                and verdict is not Verdict.passed
                and not _brand_context(hit, fields_by_name[hit.field], record, subject_words)
            ):
                verdict, reason = Verdict.passed, "plain_word"
            candidates.append(_Candidate(record, info, hit, verdict, relevant, reason, is_famous))

    kept = _dedupe(candidates)
    if not thresholds.report_informational:
        kept = [c for c in kept if c.verdict is not Verdict.passed]
    others = _registrations_by_mark(candidates)
    findings = [_finding(c, subject, fields_by_name[c.hit.field], others) for c in kept]
    order = {f.name: i for i, f in enumerate(subject.fields)}
    findings.sort(
        key=lambda f: (
            -f.verdict.rank,
            order.get(f.span.field if f.span else "", 0),
            f.span.start if f.span else 0,
            f.evidence.get("mark", ""),
        )
    )
    return findings


def _strength(c: _Candidate) -> tuple[int, int, int, float, int, int]:
    status_rank = 0 if c.record.status is MarkStatus.dead else 1
    relevance = {True: 2, None: 1, False: 0}[c.relevant]
    return (
        c.verdict.rank,
        status_rank,
        _TYPE_RANK[c.hit.match_type],
        c.hit.score,
        relevance,
        c.hit.end - c.hit.start,
    )


def _dedupe(candidates: list[_Candidate]) -> list[_Candidate]:
    """One finding per mark and span: the strongest record for each span, then of overlapping
    spans of the same mark in one field only the strongest."""
    by_mark: defaultdict[str, list[_Candidate]] = defaultdict(list)
    for c in candidates:
        by_mark[c.info.normalized].append(c)
    kept: list[_Candidate] = []
    for group in by_mark.values():
        group.sort(key=_strength, reverse=True)
        chosen: list[_Candidate] = []
        for c in group:
            if any(
                o.hit.field == c.hit.field and o.hit.start < c.hit.end and c.hit.start < o.hit.end
                for o in chosen
            ):
                continue
            chosen.append(c)
        kept.extend(chosen)
    return kept


def _registrations_by_mark(candidates: list[_Candidate]) -> dict[str, list[MarkRecord]]:
    out: defaultdict[str, dict[int, MarkRecord]] = defaultdict(dict)
    for c in candidates:
        out[c.info.normalized].setdefault(id(c.record), c.record)
    return {k: list(v.values()) for k, v in out.items()}


_TYPE_WORDS = {
    "exact": "is",
    "compact": "is, with different spacing,",
    "variant": "is a spelling variant of",
    "word_order": "has the words of",
    "phonetic": "sounds like",
    "fuzzy": "looks like",
}


def _finding(
    c: _Candidate, subject: ScreenSubject, field: _Field, others: dict[str, list[MarkRecord]]
) -> Finding:
    record, hit = c.record, c.hit
    matched = field.text[hit.start : hit.end]
    classes = describe_classes(record.nice_classes)
    owner = record.owner or "an unnamed owner"
    office = record.office.value.upper()
    number = (
        f"registration {record.registration_number}"
        if record.registration_number
        else f"serial {record.serial_number}"
        if record.serial_number
        else "number not stated"
    )
    relation = _TYPE_WORDS[hit.match_type]
    what = f"'{matched}' {relation} the mark {record.mark_text}"
    if hit.match_type == "exact":
        what = f"'{matched}' is the mark {record.mark_text}"
    status_word = {"live": "registered", "pending": "applied for", "dead": "dead"}[
        record.status.value
    ]
    product = describe_classes(subject.nice_classes) if subject.nice_classes else "any product"
    if c.reason == "dead":
        message = (
            f"{what} ({owner}, {office} {number}), but that registration is dead; "
            "informational only, no change needed."
        )
    elif c.reason == "other_class":
        message = (
            f"{what} ({owner}, {office} {number}), {status_word} for {classes}, which does not "
            f"cover this product ({product}); fine here, but do not use it on such goods."
        )
    elif c.reason == "plain_word":
        message = (
            f"{what} ({owner}, {office} {number}), {status_word} for {classes}; here it reads as "
            "the ordinary word, so no change is needed unless you mean the brand."
        )
    elif c.reason == "unknown_class":
        message = (
            f"{what} ({owner}, {office} {number}), {status_word}; the record states no classes, "
            f"so check the register, or remove or replace '{matched}'."
        )
    elif c.reason == "famous_other_class":
        message = (
            f"{what}, a famous mark of {owner} ({office} {number}) {status_word} for {classes}; "
            f"famous marks are protected beyond their classes: remove or replace '{matched}'."
        )
    else:
        action = (
            f"remove or replace '{matched}'"
            if c.verdict is Verdict.block
            else f"check it and consider rewording '{matched}'"
        )
        message = (
            f"{what} ({owner}, {office} {number}), {status_word} for {classes}, which covers "
            f"this product: {action}."
        )
    source = (
        (tsdr_url(record) if record.office is Office.uspto and record.serial_number else None)
        or record.source
        or tsdr_url(record)
    )
    also = [
        {
            "serial_number": r.serial_number,
            "registration_number": r.registration_number,
            "status": r.status.value,
            "classes": sorted(r.nice_classes),
            "owner": r.owner,
            "office": r.office.value,
        }
        for r in others.get(c.info.normalized, [])
        if r is not record
    ]
    evidence: dict[str, Any] = {
        "mark": record.mark_text,
        "serial_number": record.serial_number,
        "registration_number": record.registration_number,
        "status": record.status.value,
        "status_code": record.status_code,
        "classes": sorted(record.nice_classes),
        "owner": record.owner,
        "office": record.office.value,
        "match_type": hit.match_type,
        "score": hit.score,
        "matched_text": matched,
        "relevant_class": c.relevant,
        "reason": c.reason,
        "famous": c.famous,
        "register_url": tsdr_url(record),
    }
    if record.id is not None:
        evidence["mark_id"] = record.id
    if also:
        evidence["other_registrations"] = also
    return Finding(
        category=Category.trademark,
        code=f"trademark.{hit.match_type}",
        verdict=c.verdict,
        message=message,
        span=Span(field=hit.field, start=hit.start, end=hit.end, text=matched),
        evidence=evidence,
        source=source,
        score=hit.score,
    )

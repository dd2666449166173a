"""The trademark matcher (and the starter-set index it is fed from), on in-test fixture marks."""

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flashfusion.safeguard.trademark.matcher import (
    DEFAULT,
    InvalidThresholds,
    Thresholds,
    match,
    tsdr_url,
)
from flashfusion.safeguard.trademark.normalize import candidate_keys, mark_keys
from flashfusion.safeguard.trademark.starter import (
    StarterDataError,
    StarterIndex,
    get_starter_index,
    load_starter,
)
from flashfusion.safeguard.trademark.types import MarkRecord, MarkStatus, Office
from flashfusion.safeguard.types import Category, Finding, ScreenSubject, TextField, Verdict

JUST_DO_IT = MarkRecord(
    office=Office.uspto,
    mark_text="JUST DO IT",
    status=MarkStatus.live,
    nice_classes=frozenset({25}),
    serial_number="74170000",
    registration_number="1875307",
    status_code="800",
    owner="Nike, Inc.",
    source="https://example.org/just-do-it",
)
BEAST_MODE = MarkRecord(
    office=Office.uspto,
    mark_text="BEAST MODE",
    status=MarkStatus.live,
    nice_classes=frozenset({25}),
    registration_number="3650781",
    owner="Marshawn Lynch",
    source="https://example.org/beast-mode",
)
HAKUNA = MarkRecord(
    office=Office.uspto,
    mark_text="HAKUNA MATATA",
    status=MarkStatus.live,
    nice_classes=frozenset({25}),
    owner="Disney",
    source="https://example.org/hakuna",
)
APPLE = MarkRecord(
    office=Office.uspto,
    mark_text="APPLE",
    status=MarkStatus.live,
    nice_classes=frozenset({9}),
    owner="Apple Inc.",
    source="https://example.org/apple",
)
TACO = MarkRecord(
    office=Office.uspto,
    mark_text="TACO TUESDAY",
    status=MarkStatus.dead,
    nice_classes=frozenset({25}),
    serial_number="73000001",
    owner="Spicy Seasonings, LLC",
    source="https://example.org/taco",
)
JEDI = MarkRecord(
    office=Office.euipo,
    mark_text="JEDI",
    status=MarkStatus.live,
    nice_classes=frozenset(),
    owner="Lucasfilm",
    source="https://example.org/jedi",
)
LEGO = MarkRecord(
    office=Office.uspto,
    mark_text="LEGO",
    status=MarkStatus.pending,
    nice_classes=frozenset({28}),
    owner="LEGO Juris A/S",
    source="https://example.org/lego",
)
MARKS = [JUST_DO_IT, BEAST_MODE, HAKUNA, APPLE, TACO, JEDI, LEGO]


def subject(text: str, classes: set[int] | None = None, field: str = "title") -> ScreenSubject:
    return ScreenSubject(
        fields=(TextField(field, text),),
        product_type="tshirt" if classes == {25} else None,
        nice_classes=frozenset(classes or ()),
    )


def screen(
    text: str,
    classes: set[int] | None = None,
    marks: list[MarkRecord] | None = None,
    thresholds: Thresholds = DEFAULT,
    famous: frozenset[str] = frozenset(),
) -> list[Finding]:
    return match(subject(text, classes), marks or MARKS, thresholds, famous=famous)


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, [f.as_dict() for f in findings]
    return findings[0]


def test_exact_match_with_span_offsets_evidence_and_source() -> None:
    text = "Buy the Just Do It tee"
    f = only(screen(text, {25}))
    assert f.category is Category.trademark
    assert f.code == "trademark.exact"
    assert f.verdict is Verdict.block
    assert f.span is not None
    assert (f.span.field, f.span.start, f.span.end, f.span.text) == ("title", 8, 18, "Just Do It")
    assert text[f.span.start : f.span.end] == "Just Do It"
    assert f.score == 1.0
    assert f.source == (
        "https://tsdr.uspto.gov/#caseNumber=74170000&caseType=SERIAL_NO&searchType=statusSearch"
    )
    assert f.evidence == {
        "mark": "JUST DO IT",
        "serial_number": "74170000",
        "registration_number": "1875307",
        "status": "live",
        "status_code": "800",
        "classes": [25],
        "owner": "Nike, Inc.",
        "office": "uspto",
        "match_type": "exact",
        "score": 1.0,
        "matched_text": "Just Do It",
        "relevant_class": True,
        "reason": "relevant",
        "famous": False,
        "register_url": f.source,
    }
    assert f.message == (
        "'Just Do It' is the mark JUST DO IT (Nike, Inc., USPTO registration 1875307), "
        "registered for clothing (class 25), which covers this product: remove or replace "
        "'Just Do It'."
    )
    json.dumps(f.as_dict())  # evidence is JSON-serialisable


def test_one_word_mark_inside_a_phrase_is_exact() -> None:
    f = only(screen("vintage lego brick shirt", {28}))
    assert (f.code, f.verdict, f.span and f.span.text) == ("trademark.exact", Verdict.block, "lego")
    assert f.source == "https://example.org/lego"  # no serial: the record's own source


@pytest.mark.parametrize(
    ("text", "code", "matched"),
    [
        ("just do it", "trademark.exact", "just do it"),
        ("JUST-DO-IT!", "trademark.exact", "JUST-DO-IT"),
        ("J U S T DO IT", "trademark.exact", "J U S T DO IT"),
        ("JUSTDOIT", "trademark.compact", "JUSTDOIT"),
        ("#beastmodeon", "trademark.compact", "beastmodeon"),
        ("JU5T D0 1T", "trademark.variant", "JU5T D0 1T"),
        ("Beast Modes", "trademark.variant", "Beast Modes"),
        ("B3ASTM0DE", "trademark.variant", "B3ASTM0DE"),
    ],
)
def test_exact_type_matches_block(text: str, code: str, matched: str) -> None:
    f = only(screen(text, {25}))
    assert (f.code, f.verdict, f.span and f.span.text) == (code, Verdict.block, matched)


def test_word_order_phonetic_and_fuzzy_warn() -> None:
    order = only(screen("do it just", {25}))
    assert (order.code, order.verdict, order.score) == ("trademark.word_order", Verdict.warn, 0.9)
    sound = only(screen("Beest Moad", {25}))
    assert (sound.code, sound.verdict) == ("trademark.phonetic", Verdict.warn)
    assert sound.score == pytest.approx(0.778, abs=0.001)
    # Spelled closely enough, a sound-alike is reported as the stronger fuzzy match.
    assert only(screen("Beest Mode", {25})).code == "trademark.fuzzy"
    near = only(screen("Just Due It", {25}))
    assert (near.code, near.verdict) == ("trademark.fuzzy", Verdict.warn)
    assert near.score == pytest.approx(0.857, abs=0.001)


def test_fuzzy_blocks_above_fuzzy_block() -> None:
    f = only(screen("Hakuna Matatta", {25}))
    assert (f.code, f.verdict) == ("trademark.fuzzy", Verdict.block)
    assert f.score == pytest.approx(0.963, abs=0.001)
    strict = Thresholds(fuzzy_block=0.99)
    assert only(screen("Hakuna Matatta", {25}, thresholds=strict)).verdict is Verdict.warn
    # Below fuzzy_warn it is still a sound-alike: a phonetic warning.
    loose = Thresholds(fuzzy_warn=0.97, fuzzy_block=0.99)
    assert only(screen("Hakuna Matatta", {25}, thresholds=loose)).code == "trademark.phonetic"
    deaf = Thresholds(fuzzy_warn=0.97, fuzzy_block=0.99, phonetic_warn=0.97)
    assert screen("Hakuna Matatta", {25}, thresholds=deaf) == []


def test_near_misses_that_are_ordinary_phrases_do_not_fire() -> None:
    assert screen("beast mood", {25}) == []  # "mood" is a word that does not sound like "mode"
    assert screen("just do the dishes", {25}) == []
    assert screen("just do", {25}) == []  # part of the mark is not the mark


def test_class_relevance() -> None:
    other = only(screen("Beast Mode mug", {21}))
    assert (other.verdict, other.evidence["reason"], other.evidence["relevant_class"]) == (
        Verdict.passed,
        "other_class",
        False,
    )
    assert "does not cover this product (housewares and drinkware (class 21))" in other.message
    # No product classes: every class counts.
    assert only(screen("Beast Mode mug")).verdict is Verdict.block
    # Outside its classes a fuzzy match is not reported at all.
    assert screen("Beest Mode mug", {21}) == []


def test_famous_marks_warn_outside_their_classes() -> None:
    famous = frozenset({mark_keys("BEAST MODE").normalized})
    f = only(screen("Beast Mode mug", {21}, famous=famous))
    assert (f.verdict, f.evidence["reason"], f.evidence["famous"]) == (
        Verdict.warn,
        "famous_other_class",
        True,
    )


def test_marks_without_stated_classes_warn_unless_configured_to_block() -> None:
    f = only(screen("Jedi master mug", {21}))
    assert (f.verdict, f.evidence["reason"], f.evidence["relevant_class"]) == (
        Verdict.warn,
        "unknown_class",
        None,
    )
    assert f.source == "https://example.org/jedi"
    assert f.evidence["register_url"] is None  # an EUIPO record has no TSDR link
    blocking = Thresholds(block_unknown_class=True)
    assert only(screen("Jedi master mug", {21}, thresholds=blocking)).verdict is Verdict.block


def test_dead_marks_are_informational() -> None:
    f = only(screen("Taco Tuesday tee", {25}))
    assert (f.verdict, f.code, f.evidence["status"]) == (Verdict.passed, "trademark.exact", "dead")
    assert "registration is dead; informational only" in f.message
    assert screen("Taco Toosday tee", {25}) == []  # near misses of dead marks say nothing
    quiet = Thresholds(report_informational=False)
    assert screen("Taco Tuesday tee", {25}, thresholds=quiet) == []


def test_plain_word_marks_need_brand_context() -> None:
    plain = only(screen("apple picking season phone case", {9}))
    assert (plain.verdict, plain.evidence["reason"]) == (Verdict.passed, "plain_word")
    assert "reads as the ordinary word" in plain.message
    for text in ("Apple logo phone case", "Apple™ phone case", "official apple case"):
        assert only(screen(text, {9})).verdict is Verdict.block, text
    owned = MarkRecord(
        office=Office.uspto,
        mark_text="MONSTER",
        status=MarkStatus.live,
        nice_classes=frozenset({21}),
        owner="Monster Energy Company",
    )
    assert only(screen("monster truck mug", {21}, [owned])).verdict is Verdict.passed
    assert only(screen("Monster Energy mug", {21}, [owned])).verdict is Verdict.block
    famous = frozenset({"apple"})
    assert only(screen("apple picking case", {9}, famous=famous)).verdict is Verdict.block


def test_one_finding_per_mark_and_span_with_the_other_registrations() -> None:
    second = MarkRecord(
        office=Office.uspto,
        mark_text="Just Do It",
        status=MarkStatus.live,
        nice_classes=frozenset({18, 25}),
        registration_number="4764071",
        owner="Nike, Inc.",
    )
    dead = MarkRecord(
        office=Office.uspto,
        mark_text="JUST DO IT",
        status=MarkStatus.dead,
        nice_classes=frozenset({9}),
        serial_number="70000000",
    )
    f = only(screen("Just Do It tee", {25}, [dead, second, JUST_DO_IT]))
    assert f.verdict is Verdict.block
    assert f.evidence["registration_number"] == "4764071"  # the first strongest record
    assert f.evidence["other_registrations"] == [
        {
            "serial_number": "70000000",
            "registration_number": None,
            "status": "dead",
            "classes": [9],
            "owner": None,
            "office": "uspto",
        },
        {
            "serial_number": "74170000",
            "registration_number": "1875307",
            "status": "live",
            "classes": [25],
            "owner": "Nike, Inc.",
            "office": "uspto",
        },
    ]


def test_overlapping_spans_keep_the_strongest() -> None:
    loose = Thresholds(fuzzy_warn=0.6, fuzzy_block=0.99)
    findings = screen("just do it now", {25}, [JUST_DO_IT], thresholds=loose)
    f = only(findings)
    assert (f.code, f.span and f.span.text) == ("trademark.exact", "just do it")
    twice = screen("just do it, then JUSTDOIT again", {25}, [JUST_DO_IT])
    assert [(x.code, x.span and x.span.start) for x in twice] == [
        ("trademark.exact", 0),
        ("trademark.compact", 17),
    ]


def test_every_field_is_screened_and_findings_sort_worst_first() -> None:
    s = ScreenSubject(
        fields=(
            TextField("title", "Summer tee"),
            TextField("tags", "gym, taco tuesday, beast mode"),
            TextField("layer:front", "HAKUNA MATATA"),
        ),
        nice_classes=frozenset({25}),
    )
    findings = match(s, MARKS, famous=frozenset())
    assert [(f.verdict, f.span and f.span.field, f.evidence["mark"]) for f in findings] == [
        (Verdict.block, "tags", "BEAST MODE"),
        (Verdict.block, "layer:front", "HAKUNA MATATA"),
        (Verdict.passed, "tags", "TACO TUESDAY"),
    ]


def test_short_marks_and_empty_input() -> None:
    tiny = MarkRecord(
        office=Office.uspto, mark_text="X", status=MarkStatus.live, nice_classes=frozenset({25})
    )
    assert screen("x marks the spot", {25}, [tiny]) == []
    assert screen("", {25}) == []
    assert match(ScreenSubject(fields=()), MARKS, famous=frozenset()) == []
    assert match(subject("Just Do It"), [], famous=frozenset()) == []


def test_thresholds_overrides_are_validated() -> None:
    assert DEFAULT.with_overrides({"fuzzy_warn": 0.9}).fuzzy_warn == 0.9
    assert DEFAULT.with_overrides(None) is DEFAULT
    with pytest.raises(InvalidThresholds, match="unknown trademark threshold 'fuzzy'"):
        DEFAULT.with_overrides({"fuzzy": 0.9})
    with pytest.raises(InvalidThresholds, match="fuzzy_warn must not be above fuzzy_block"):
        DEFAULT.with_overrides({"fuzzy_warn": 0.99, "fuzzy_block": 0.95})
    with pytest.raises(InvalidThresholds, match=r"fuzzy_block must be a number in \(0, 1\]"):
        Thresholds(fuzzy_block=1.5)
    with pytest.raises(InvalidThresholds, match="min_fuzzy_length must be an integer 1-50"):
        Thresholds(min_fuzzy_length=0)
    with pytest.raises(InvalidThresholds, match="report_informational must be true or false"):
        Thresholds(report_informational="yes")  # type: ignore[arg-type]
    assert InvalidThresholds.status_code == 400


def test_tsdr_urls() -> None:
    assert tsdr_url(JUST_DO_IT) == (
        "https://tsdr.uspto.gov/#caseNumber=74170000&caseType=SERIAL_NO&searchType=statusSearch"
    )
    assert tsdr_url(BEAST_MODE) == (
        "https://tsdr.uspto.gov/#caseNumber=3650781&caseType=US_REGISTRATION_NO"
        "&searchType=statusSearch"
    )
    assert tsdr_url(HAKUNA) is None
    assert tsdr_url(JEDI) is None


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=120), st.sets(st.integers(1, 45), max_size=3))
def test_match_never_crashes_and_spans_slice_the_original(text: str, classes: set[int]) -> None:
    findings = match(subject(text, classes), MARKS, famous=frozenset())
    for f in findings:
        assert f.span is not None
        assert text[f.span.start : f.span.end] == f.span.text
        assert f.span.text


# --- the starter-set index ------------------------------------------------------------------


def write_starter(tmp_path: Path, marks: list[dict[str, object]]) -> Path:
    path = tmp_path / "starter.json"
    path.write_text(json.dumps({"marks": marks}), encoding="utf-8")
    return path


def entry(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "office": "uspto",
        "mark_text": "BEAST MODE",
        "status": "live",
        "nice_classes": [25],
        "serial_number": None,
        "registration_number": "3650781",
        "owner": "Marshawn Lynch",
        "source": "https://example.org/beast-mode",
        "verified": True,
        "phrase": True,
    }
    base.update(overrides)
    return base


def test_starter_index_finds_candidates_by_every_key(tmp_path: Path) -> None:
    path = write_starter(
        tmp_path,
        [entry(), entry(mark_text="LEGO", nice_classes=[28], famous=True), entry(mark_text="JEDI")],
    )
    index = load_starter(path)
    assert len(index) == 3
    assert index.famous == frozenset({"lego"})
    beast = index.records[0]
    assert beast == MarkRecord(
        office=Office.uspto,
        mark_text="BEAST MODE",
        status=MarkStatus.live,
        nice_classes=frozenset({25}),
        registration_number="3650781",
        owner="Marshawn Lynch",
        source="https://example.org/beast-mode",
    )

    def found(text: str) -> list[str]:
        keys = candidate_keys(ScreenSubject(fields=(TextField("title", text),)))
        return [r.mark_text for r in index.candidates(keys)]

    assert found("beast mode tee") == ["BEAST MODE"]
    assert found("BEASTMODE") == ["BEAST MODE"]
    assert found("mode beast") == ["BEAST MODE"]
    assert found("Beest Mode") == ["BEAST MODE"]
    assert found("beast modee tee") == ["BEAST MODE"]  # by similarity
    assert found("lego and jedi") == ["LEGO", "JEDI"]
    assert found("summer tee") == []


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (entry(office="ukipo"), r"marks\[0\].office must be one of \['uspto', 'euipo'\]"),
        (entry(status="alive"), r"marks\[0\].status must be one of"),
        (entry(nice_classes=[25, 46]), r"marks\[0\].nice_classes must be a list of integers"),
        (entry(mark_text=""), r"marks\[0\].mark_text is required"),
        (entry(owner=7), r"marks\[0\].owner must be a string"),
        (entry(famous="yes"), r"marks\[0\].famous must be true or false"),
    ],
)
def test_starter_data_errors_name_the_entry(
    tmp_path: Path, bad: dict[str, object], message: str
) -> None:
    with pytest.raises(StarterDataError, match=message):
        load_starter(write_starter(tmp_path, [bad]))


def test_starter_file_problems(tmp_path: Path) -> None:
    with pytest.raises(StarterDataError, match="cannot be read"):
        load_starter(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(StarterDataError, match="cannot be read"):
        load_starter(broken)
    broken.write_text("[]", encoding="utf-8")
    with pytest.raises(StarterDataError, match='needs a "marks" list'):
        load_starter(broken)
    assert len(StarterIndex.build([])) == 0


def test_bundled_starter_set_is_indexed_once() -> None:
    index = get_starter_index()
    assert index is get_starter_index()
    assert len(index) >= 50
    keys = candidate_keys(ScreenSubject(fields=(TextField("title", "Just Do It"),)))
    assert {r.mark_text for r in index.candidates(keys)} == {"JUST DO IT"}

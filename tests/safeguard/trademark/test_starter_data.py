"""The bundled starter set of marks (flashfusion/safeguard/trademark/data/starter_marks.json):
well-formed, sourced, unique and broad enough for offline screening on day one."""

import json
import re
from datetime import date
from importlib import resources
from typing import Any

import pytest

from flashfusion.safeguard.trademark.types import MarkStatus, Office

REQUIRED_KEYS = {
    "office",
    "mark_text",
    "status",
    "nice_classes",
    "serial_number",
    "registration_number",
    "owner",
    "source",
    "source_excerpt",
    "verified",
    "note",
    "phrase",
    "famous",
    "famous_source",
    "famous_excerpt",
}
# Marks flagged famous: only where a cited TTAB decision, court opinion or news page says so
# (see SOURCES.md). Every other entry is famous: false.
FAMOUS_MARKS = {"JUST DO IT", "SUPERMAN", "BATMAN", "BARBIE"}
# The Nice classes that matter for print-on-demand products (see issue 5).
POD_CLASSES = (9, 16, 18, 20, 21, 24, 25, 28)


def _load() -> dict[str, Any]:
    path = resources.files("flashfusion.safeguard.trademark") / "data" / "starter_marks.json"
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return _load()


@pytest.fixture(scope="module")
def marks(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["marks"]


def test_file_loads_with_version_and_compile_date(doc: dict[str, Any]) -> None:
    assert doc["version"] == "2026.12.1"
    assert date.fromisoformat(doc["compiled"]) == date(2026, 12, 2)
    assert isinstance(doc["note"], str)
    assert "not legal advice" in doc["note"]
    assert isinstance(doc["marks"], list)


def test_sources_file_is_bundled_next_to_the_data() -> None:
    sources = resources.files("flashfusion.safeguard.trademark") / "data" / "SOURCES.md"
    text = sources.read_text(encoding="utf-8")
    assert "not legal advice" in text
    assert "2026-12-02" in text


def test_at_least_sixty_marks_and_fifteen_phrases(marks: list[dict[str, Any]]) -> None:
    assert len(marks) >= 60
    assert sum(1 for m in marks if m["phrase"] is True) >= 15


def test_every_entry_has_the_required_keys_and_types(marks: list[dict[str, Any]]) -> None:
    offices = {o.value for o in Office}
    statuses = {s.value for s in MarkStatus}
    for i, m in enumerate(marks):
        where = f"marks[{i}] ({m.get('mark_text')!r})"
        assert set(m) == REQUIRED_KEYS, where
        assert m["office"] in offices, where
        assert m["status"] in statuses, where
        assert isinstance(m["mark_text"], str), where
        assert m["mark_text"], where
        assert m["mark_text"] == m["mark_text"].strip(), where
        classes = m["nice_classes"]
        assert isinstance(classes, list), where
        assert all(type(c) is int and 1 <= c <= 45 for c in classes), where
        assert classes == sorted(set(classes)), where
        assert type(m["verified"]) is bool, where
        assert type(m["phrase"]) is bool, where
        assert m["owner"] is None or (isinstance(m["owner"], str) and m["owner"].strip()), where
        assert isinstance(m["note"], str), where


def test_every_entry_cites_a_page_and_a_short_excerpt(marks: list[dict[str, Any]]) -> None:
    for i, m in enumerate(marks):
        where = f"marks[{i}] ({m['mark_text']!r})"
        assert re.match(r"^https?://[^\s/]+\.[^\s]+$", m["source"]), where
        excerpt = m["source_excerpt"]
        assert isinstance(excerpt, str), where
        assert excerpt.strip(), where
        assert len(excerpt) <= 200, where


def test_numbers_are_digit_strings_of_the_register_format(marks: list[dict[str, Any]]) -> None:
    for i, m in enumerate(marks):
        where = f"marks[{i}] ({m['mark_text']!r})"
        for key in ("serial_number", "registration_number"):
            value = m[key]
            assert value is None or (isinstance(value, str) and value.isdigit()), where
        if m["office"] == Office.uspto and m["serial_number"] is not None:
            assert len(m["serial_number"]) == 8, where  # USPTO serials: 2-digit series + 6
        if m["office"] == Office.uspto and m["registration_number"] is not None:
            assert 6 <= len(m["registration_number"]) <= 7, where


def test_verified_entries_carry_a_serial_or_registration_number(
    marks: list[dict[str, Any]],
) -> None:
    verified = [m for m in marks if m["verified"]]
    assert verified, "the starter set has verified entries"
    for m in verified:
        assert m["serial_number"] or m["registration_number"], m["mark_text"]


def test_no_duplicate_office_number_and_mark_text(marks: list[dict[str, Any]]) -> None:
    seen: set[tuple[str, str, str]] = set()
    for m in marks:
        key = (
            m["office"],
            m["serial_number"] or m["registration_number"] or "",
            m["mark_text"].casefold(),
        )
        assert key not in seen, key
        seen.add(key)


def test_every_print_on_demand_class_has_a_live_or_pending_mark(
    marks: list[dict[str, Any]],
) -> None:
    enforceable = [m for m in marks if m["status"] in (MarkStatus.live, MarkStatus.pending)]
    for nice_class in POD_CLASSES:
        assert any(nice_class in m["nice_classes"] for m in enforceable), nice_class


def test_dead_marks_are_kept_as_information(marks: list[dict[str, Any]]) -> None:
    dead = {m["mark_text"] for m in marks if m["status"] == MarkStatus.dead}
    assert {"TACO TUESDAY", "TEAM JESUS"} <= dead


def test_the_first_entries_are_verified_facts(marks: list[dict[str, Any]]) -> None:
    """Consumers (the evaluation set) weigh the head of the list most: verified entries first."""
    flags = [m["verified"] for m in marks]
    first_unverified = flags.index(False) if False in flags else len(flags)
    assert first_unverified >= 40
    assert all(not f for f in flags[first_unverified:])


def test_just_do_it_class_25_fact_matches_its_source(marks: list[dict[str, Any]]) -> None:
    hits = [m for m in marks if m["registration_number"] == "1875307"]
    assert len(hits) == 1
    mark = hits[0]
    assert (mark["office"], mark["mark_text"], mark["status"]) == ("uspto", "JUST DO IT", "live")
    assert mark["nice_classes"] == [25]
    assert mark["owner"] == "Nike, Inc."
    assert "1875307" in mark["source_excerpt"]
    assert mark["verified"] is True


def test_famous_flags_are_sourced_and_limited_to_the_cited_marks(
    marks: list[dict[str, Any]],
) -> None:
    for i, m in enumerate(marks):
        where = f"marks[{i}] ({m['mark_text']!r})"
        assert type(m["famous"]) is bool, where
        if m["famous"]:
            assert re.match(r"^https?://[^\s/]+\.[^\s]+$", m["famous_source"]), where
            excerpt = m["famous_excerpt"]
            assert isinstance(excerpt, str), where
            assert "famous" in excerpt.casefold(), where
            assert len(excerpt) <= 200, where
        else:
            assert (m["famous_source"], m["famous_excerpt"]) == (None, None), where
    assert {m["mark_text"] for m in marks if m["famous"]} == FAMOUS_MARKS
    # a mark is famous as a whole: every entry of a famous mark text carries the flag
    for m in marks:
        assert m["famous"] is (m["mark_text"] in FAMOUS_MARKS), m["mark_text"]


def test_the_loader_exposes_the_famous_marks() -> None:
    from flashfusion.safeguard.trademark.normalize import mark_keys
    from flashfusion.safeguard.trademark.starter import load_starter

    assert load_starter().famous == frozenset(mark_keys(t).normalized for t in FAMOUS_MARKS)


def test_ordinary_word_marks_are_present_and_not_famous(marks: list[dict[str, Any]]) -> None:
    by_text = {m["mark_text"]: m for m in marks if m["mark_text"] in {"APPLE", "GAP", "JAGUAR"}}
    assert set(by_text) == {"APPLE", "GAP", "JAGUAR"}
    apple, gap, jaguar = by_text["APPLE"], by_text["GAP"], by_text["JAGUAR"]
    assert (apple["registration_number"], apple["owner"], apple["verified"]) == (
        "1078312",
        "Apple Inc.",
        True,
    )
    assert "1,078,312" in apple["source_excerpt"]
    assert apple["nice_classes"] == []  # the cited page names no goods: classes unknown
    assert (gap["owner"], gap["nice_classes"], gap["verified"]) == (
        "Gap (Apparel), LLC",
        [25],
        False,
    )
    assert (jaguar["owner"], jaguar["nice_classes"], jaguar["verified"]) == (
        "Jaguar Land Rover Limited",
        [12],
        False,
    )
    for m in (gap, jaguar):
        assert (m["serial_number"], m["registration_number"]) == (None, None), m["mark_text"]
    assert not any(m["famous"] for m in by_text.values())

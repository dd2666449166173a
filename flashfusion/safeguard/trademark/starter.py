"""The bundled starter set of marks, so screening works offline before any register import.

`data/starter_marks.json` holds well-known marks as facts, each with its source (see
`data/SOURCES.md`). This module loads it once per process into an in-memory index keyed like the
marks database (normalized, compact, phonetic and sorted-token keys from `normalize.mark_keys`)
and answers `candidates(keys)` with the `MarkRecord`s worth scoring for a screened subject.
"""

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from flashfusion.safeguard.trademark.normalize import mark_keys
from flashfusion.safeguard.trademark.types import (
    CandidateKeys,
    MarkKeys,
    MarkRecord,
    MarkStatus,
    Office,
)

__all__ = ["StarterDataError", "StarterIndex", "get_starter_index", "load_starter"]

_DATA_FILE = "starter_marks.json"
# Candidate lookups by similarity keep marks at least this close (0..100); the matcher applies its
# own, stricter thresholds afterwards (FlashFusion's choice: a little below fuzzy_warn).
DEFAULT_FUZZY_CUTOFF = 80.0


class StarterDataError(ValueError):
    """The starter-set file is not what this module expects (a packaging or editing bug)."""


@dataclass
class StarterIndex:
    """Marks in memory, looked up by the same keys as the marks database."""

    records: list[MarkRecord] = field(default_factory=list)
    # Normalized mark texts the starter set flags as famous: they count even outside their classes.
    famous: frozenset[str] = frozenset()
    _by_normalized: dict[str, list[MarkRecord]] = field(default_factory=dict)
    _by_compact: dict[str, list[MarkRecord]] = field(default_factory=dict)
    _by_phonetic: dict[str, list[MarkRecord]] = field(default_factory=dict)
    _by_sorted: dict[str, list[MarkRecord]] = field(default_factory=dict)
    _keys: dict[int, MarkKeys] = field(default_factory=dict)

    @classmethod
    def build(cls, records: Iterable[MarkRecord], famous: Iterable[str] = ()) -> "StarterIndex":
        index = cls(records=list(records), famous=frozenset(famous))
        maps: dict[str, defaultdict[str, list[MarkRecord]]] = {
            name: defaultdict(list) for name in ("normalized", "compact", "phonetic", "sorted")
        }
        for i, record in enumerate(index.records):
            keys = mark_keys(record.mark_text)
            index._keys[i] = keys
            if not keys.compact:
                continue
            maps["normalized"][keys.normalized].append(record)
            maps["compact"][keys.compact].append(record)
            maps["phonetic"][keys.phonetic].append(record)
            maps["sorted"][keys.sorted_tokens].append(record)
        index._by_normalized = dict(maps["normalized"])
        index._by_compact = dict(maps["compact"])
        index._by_phonetic = dict(maps["phonetic"])
        index._by_sorted = dict(maps["sorted"])
        return index

    def __len__(self) -> int:
        return len(self.records)

    def candidates(
        self, keys: CandidateKeys, *, fuzzy_cutoff: float = DEFAULT_FUZZY_CUTOFF
    ) -> list[MarkRecord]:
        """Every mark sharing a key with the subject, plus marks whose normalized text is within
        `fuzzy_cutoff` (rapidfuzz ratio, 0..100) of one of the subject's fuzzy n-grams. Each
        record once, in index order."""
        found: dict[int, MarkRecord] = {}

        def add(records: Iterable[MarkRecord]) -> None:
            for r in records:
                found.setdefault(id(r), r)

        for table, wanted in (
            (self._by_normalized, keys.normalized),
            (self._by_compact, keys.compact),
            (self._by_phonetic, keys.phonetic),
            (self._by_sorted, keys.sorted_tokens),
        ):
            for key in wanted:
                add(table.get(key, ()))
        if keys.fuzzy and self._by_normalized:
            choices = list(self._by_normalized)
            for gram in keys.fuzzy:
                for choice, _score, _ in process.extract(
                    gram, choices, scorer=fuzz.ratio, score_cutoff=fuzzy_cutoff, limit=None
                ):
                    add(self._by_normalized[choice])
        order = {id(r): i for i, r in enumerate(self.records)}
        return sorted(found.values(), key=lambda r: order[id(r)])


def _record_from(entry: Mapping[str, Any], where: str) -> tuple[MarkRecord, bool]:
    def text(name: str, *, required: bool = False) -> str | None:
        value = entry.get(name)
        if value is None or value == "":
            if required:
                raise StarterDataError(f"{where}.{name} is required")
            return None
        if not isinstance(value, str):
            raise StarterDataError(f"{where}.{name} must be a string, got {value!r}")
        return value.strip()

    try:
        office = Office(str(entry.get("office")))
    except ValueError:
        offices = [o.value for o in Office]
        raise StarterDataError(
            f"{where}.office must be one of {offices}, got {entry.get('office')!r}"
        ) from None
    try:
        status = MarkStatus(str(entry.get("status")))
    except ValueError:
        raise StarterDataError(
            f"{where}.status must be one of {[s.value for s in MarkStatus]}, "
            f"got {entry.get('status')!r}"
        ) from None
    classes = entry.get("nice_classes", [])
    if not isinstance(classes, list) or not all(
        isinstance(c, int) and not isinstance(c, bool) and 1 <= c <= 45 for c in classes
    ):
        raise StarterDataError(f"{where}.nice_classes must be a list of integers 1-45")
    famous = entry.get("famous", False)
    if not isinstance(famous, bool):
        raise StarterDataError(f"{where}.famous must be true or false")
    record = MarkRecord(
        office=office,
        mark_text=text("mark_text", required=True) or "",
        status=status,
        nice_classes=frozenset(classes),
        serial_number=text("serial_number"),
        registration_number=text("registration_number"),
        status_code=text("status_code"),
        owner=text("owner"),
        source=text("source"),
    )
    return record, famous


def load_starter(path: Path | None = None) -> StarterIndex:
    """Read and index a starter-set file (the bundled one by default); not cached. A missing
    bundled file gives an empty index; a broken one raises StarterDataError naming the entry."""
    try:
        if path is not None:
            raw = path.read_text(encoding="utf-8")
        else:
            resource = resources.files("flashfusion.safeguard.trademark").joinpath(
                "data", _DATA_FILE
            )
            if not resource.is_file():
                return StarterIndex.build([])
            raw = resource.read_text(encoding="utf-8")
        document = json.loads(raw)
    except (OSError, json.JSONDecodeError) as e:
        raise StarterDataError(f"starter set {path or _DATA_FILE} cannot be read: {e}") from e
    entries = document.get("marks") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise StarterDataError(f'starter set {path or _DATA_FILE} needs a "marks" list')
    records: list[MarkRecord] = []
    famous: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"marks[{i}]"
        if not isinstance(entry, dict):
            raise StarterDataError(f"{where} must be an object")
        record, is_famous = _record_from(entry, where)
        records.append(record)
        if is_famous:
            famous.add(mark_keys(record.mark_text).normalized)
    return StarterIndex.build(records, famous)


@cache
def get_starter_index() -> StarterIndex:
    """The bundled starter set, loaded and indexed once per process."""
    return load_starter()

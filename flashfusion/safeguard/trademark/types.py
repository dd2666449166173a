"""What the trademark matcher works on: mark records from any source, and the lookup keys.

Two sources feed the matcher: the bundled starter set (`starter.py`, in memory) and the marks
database filled by the register importers (`repository.py`). Both answer `candidates(keys)` with
`MarkRecord`s; the matcher (`matcher.py`) scores them against the screened text.
"""

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class MarkStatus(StrEnum):
    live = "live"  # registered and in force
    pending = "pending"  # applied for, not yet registered or refused
    dead = "dead"  # abandoned, cancelled, expired: informational only


class Office(StrEnum):
    uspto = "uspto"
    euipo = "euipo"


@dataclass(frozen=True)
class MarkRecord:
    """One trademark as the register states it. `status_code` is the office's own code (USPTO
    three-digit status, EUIPO status word); `status` is its mapping. `source` is where a user can
    check the record (a TSDR or eSearch URL, or the page the starter-set fact came from)."""

    office: Office
    mark_text: str
    status: MarkStatus
    nice_classes: frozenset[int]
    serial_number: str | None = None
    registration_number: str | None = None
    status_code: str | None = None
    owner: str | None = None
    filing_date: date | None = None
    registration_date: date | None = None
    source: str | None = None
    # The marks-database row id (as a string) when the record came from the database.
    id: str | None = None


@dataclass(frozen=True)
class MarkKeys:
    """The index keys of one mark text (or one n-gram of a listing), from `normalize.mark_keys`.

    - normalized: tokens folded (case, accents, punctuation, leetspeak, plurals), joined by " "
    - compact: `normalized` without spaces ("just do it" -> "justdoit")
    - phonetic: one phonetic code per token, joined by " "
    - sorted_tokens: the normalized tokens sorted, joined by " " (word-order variants)
    """

    normalized: str
    compact: str
    phonetic: str
    sorted_tokens: str


@dataclass(frozen=True)
class CandidateKeys:
    """Everything a source needs to find candidate marks for one screened subject: the key sets
    of all of the subject's n-grams. `fuzzy` holds the normalized n-grams long enough to look up
    by similarity (trigram / rapidfuzz), not just equality."""

    normalized: frozenset[str] = field(default_factory=frozenset)
    compact: frozenset[str] = field(default_factory=frozenset)
    phonetic: frozenset[str] = field(default_factory=frozenset)
    sorted_tokens: frozenset[str] = field(default_factory=frozenset)
    fuzzy: frozenset[str] = field(default_factory=frozenset)

"""The marks database: batch upserts from the register importers, candidate lookup for the
matcher, and the import records.

Lookup is equality on the four key columns (`normalize.mark_keys`) plus similarity on
`CandidateKeys.fuzzy`: pg_trgm's `%` operator on PostgreSQL (GIN trigram index), and on SQLite
the `trademark_marks_fts` FTS5 table (trigram tokenizer), re-ranked here with the pg_trgm
similarity formula so both dialects keep the same candidates.

`trademark_marks_fts` holds each distinct normalized text once (rowid: a 63-bit hash of the
text), written only here: `upsert_batch` adds new texts and drops texts no mark uses any more.
"""

import hashlib
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self

from sqlalchemy import bindparam, case, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.kit.repository import dialect_insert
from flashfusion.models import ImportStatus, TrademarkImport, TrademarkMark
from flashfusion.safeguard.trademark.importers import ParsedMark, Skipped
from flashfusion.safeguard.trademark.normalize import mark_keys
from flashfusion.safeguard.trademark.types import CandidateKeys, MarkRecord, MarkStatus, Office

# pg_trgm's default `pg_trgm.similarity_threshold`, 0.3 (https://www.postgresql.org/docs/current/
# pgtrgm.html, "GUC Parameters"), applied to the SQLite results too so both dialects agree.
SIMILARITY_THRESHOLD = 0.3
# FlashFusion's cap on similar texts fetched per fuzzy n-gram before ranking.
FUZZY_PER_KEY = 20
# Trigram lookups need at least one trigram (FTS5's trigram tokenizer ignores shorter text).
MIN_FUZZY_LENGTH = 3
# Keep IN lists well under SQLite's 32,766 bound parameters.
IN_CHUNK = 900

_STATUS_RANK = case(
    (TrademarkMark.status == MarkStatus.live, 0),
    (TrademarkMark.status == MarkStatus.pending, 1),
    else_=2,
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def trigrams(value: str) -> set[str]:
    """pg_trgm's trigram set: "pg_trgm ignores non-word characters (non-alphanumerics) ... Each
    word is considered to have two spaces prefixed and one space suffixed" (PostgreSQL docs,
    pgtrgm.html, "Trigram (or Trigraph) Concepts"); lower-cased as pg_trgm does."""
    grams: set[str] = set()
    for word in _WORD.findall(value.lower()):
        padded = f"  {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return grams


def similarity(a: str, b: str) -> float:
    """pg_trgm's `similarity()`: shared trigrams over all trigrams of both."""
    ta, tb = trigrams(a), trigrams(b)
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


def fts_rowid(normalized: str) -> int:
    """The FTS row of a normalized text: a stable 63-bit hash (FTS5 rowids are signed 64-bit)."""
    digest = hashlib.blake2b(normalized.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def _fts_query(value: str) -> str:
    """An FTS5 MATCH expression: any of the value's 3-character substrings, each a phrase."""
    grams = {value[i : i + 3] for i in range(len(value) - 2)}
    return " OR ".join('"' + g.replace('"', '""') + '"' for g in sorted(grams))


def _chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def to_record(mark: TrademarkMark) -> MarkRecord:
    return MarkRecord(
        office=mark.office,
        mark_text=mark.mark_text,
        status=mark.status,
        nice_classes=frozenset(int(c) for c in mark.nice_classes),
        serial_number=mark.serial_number,
        registration_number=mark.registration_number,
        status_code=mark.status_code,
        owner=mark.owner,
        filing_date=mark.filing_date,
        registration_date=mark.registration_date,
        source=mark.source_url,
        id=str(mark.id),
    )


@dataclass
class BatchResult:
    """What one batch did. `changed`: inserted, or changed in text, status or classes."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    changed: int = 0
    deleted: int = 0
    skipped: list[Skipped] = field(default_factory=list)


# Columns an import writes; "significant" ones decide `last_import_id` (a re-screen matters).
_DATA_COLUMNS = (
    "registration_number",
    "mark_text",
    "normalized",
    "compact",
    "phonetic",
    "sorted_tokens",
    "status",
    "status_code",
    "owner",
    "nice_classes",
    "filing_date",
    "registration_date",
    "status_date",
    "source_url",
)
_SIGNIFICANT = ("mark_text", "status", "nice_classes")


def _values(mark: ParsedMark) -> dict[str, Any] | None:
    keys = mark_keys(mark.mark_text)
    if not keys.normalized:
        return None
    return {
        "registration_number": mark.registration_number,
        "mark_text": mark.mark_text,
        "normalized": keys.normalized,
        "compact": keys.compact,
        "phonetic": keys.phonetic,
        "sorted_tokens": keys.sorted_tokens,
        "status": mark.status,
        "status_code": mark.status_code,
        "owner": mark.owner,
        "nice_classes": list(mark.nice_classes),
        "filing_date": mark.filing_date,
        "registration_date": mark.registration_date,
        "status_date": mark.status_date,
        "source_url": mark.source_url,
    }


class TrademarkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> Self:
        return cls(session)

    @property
    def _sqlite(self) -> bool:
        return self.session.get_bind().dialect.name == "sqlite"

    # --- writes -------------------------------------------------------------------------

    async def _existing(self, office: Office, serials: Sequence[str]) -> dict[str, TrademarkMark]:
        found: dict[str, TrademarkMark] = {}
        for chunk in _chunks(serials):
            rows = await self.session.execute(
                select(TrademarkMark).where(
                    TrademarkMark.office == office, TrademarkMark.serial_number.in_(chunk)
                )
            )
            found.update({m.serial_number: m for m in rows.scalars()})
        return found

    async def upsert_batch(
        self, import_id: uuid.UUID, marks: Sequence[ParsedMark], *, now: datetime
    ) -> BatchResult:
        """Insert new marks, update changed ones, soft-delete the ones the office deleted.

        A mark repeated within the batch counts once (its last record wins). Rows whose data is
        identical are not touched at all; `last_import_id` moves only when text, status or
        classes change (or the mark is new, deleted, or restored).
        """
        result = BatchResult()
        latest: dict[tuple[Office, str], ParsedMark] = {}
        for mark in marks:
            key = (mark.office, mark.serial_number)
            if key in latest:
                result.skipped.append(
                    Skipped(
                        "repeated later in the file (the later record was used)",
                        latest[key].line,
                        mark.serial_number,
                    )
                )
            latest[key] = mark
        by_office: dict[Office, list[ParsedMark]] = {}
        for mark in latest.values():
            by_office.setdefault(mark.office, []).append(mark)

        inserts: list[dict[str, Any]] = []
        texts_added: set[str] = set()
        texts_dropped: set[str] = set()
        for office, group in by_office.items():
            existing = await self._existing(office, [m.serial_number for m in group])
            for mark in group:
                row = existing.get(mark.serial_number)
                if mark.deleted:
                    if row is None:
                        result.skipped.append(
                            Skipped(
                                "deleted by the office, not in the database",
                                mark.line,
                                mark.serial_number,
                            )
                        )
                    elif row.deleted_at is not None:
                        result.unchanged += 1
                    else:
                        row.deleted_at = now
                        row.last_import_id = import_id
                        row.imported_at = now
                        texts_dropped.add(row.normalized)
                        result.deleted += 1
                    continue
                values = _values(mark)
                if values is None:
                    result.skipped.append(
                        Skipped("mark text has no letters or digits", mark.line, mark.serial_number)
                    )
                    continue
                if row is None:
                    inserts.append(
                        {
                            "id": uuid.uuid4(),
                            "office": office,
                            "serial_number": mark.serial_number,
                            "created_at": now,
                            "last_import_id": import_id,
                            "imported_at": now,
                            **values,
                        }
                    )
                    texts_added.add(values["normalized"])
                    result.inserted += 1
                    result.changed += 1
                    continue
                current = {column: getattr(row, column) for column in _DATA_COLUMNS}
                current["status"] = MarkStatus(current["status"])
                current["nice_classes"] = sorted(int(c) for c in current["nice_classes"])
                restored = row.deleted_at is not None
                if current == values and not restored:
                    result.unchanged += 1
                    continue
                significant = restored or any(current[c] != values[c] for c in _SIGNIFICANT)
                if current["normalized"] != values["normalized"]:
                    texts_dropped.add(current["normalized"])
                if current["normalized"] != values["normalized"] or restored:
                    texts_added.add(values["normalized"])
                for column, value in values.items():
                    setattr(row, column, value)
                row.deleted_at = None
                result.updated += 1
                if significant:
                    row.last_import_id = import_id
                    row.imported_at = now
                    result.changed += 1

        if inserts:
            statement = dialect_insert(self.session, TrademarkMark)
            # Race-free: a row another writer inserted meanwhile is overwritten with this data.
            statement = statement.on_conflict_do_update(
                index_elements=["office", "serial_number"],
                set_={c: statement.excluded[c] for c in (*_DATA_COLUMNS, "last_import_id")},
            )
            await self.session.execute(statement, inserts)
        await self.session.flush()
        if self._sqlite:
            await self._fts_sync(texts_added, texts_dropped - texts_added)
        return result

    async def _fts_sync(self, added: set[str], dropped: set[str]) -> None:
        added = {t for t in added if len(t) >= MIN_FUZZY_LENGTH}
        if added:
            wanted = {fts_rowid(t): t for t in added}
            present: set[int] = set()
            for chunk in _chunks(list(wanted)):
                rows = await self.session.execute(
                    text("SELECT rowid FROM trademark_marks_fts WHERE rowid IN :ids").bindparams(
                        bindparam("ids", expanding=True)
                    ),
                    {"ids": list(chunk)},
                )
                present.update(r[0] for r in rows)
            missing = [{"rowid": k, "normalized": t} for k, t in wanted.items() if k not in present]
            if missing:
                await self.session.execute(
                    text(
                        "INSERT INTO trademark_marks_fts (rowid, normalized) "
                        "VALUES (:rowid, :normalized)"
                    ),
                    missing,
                )
        dropped = {t for t in dropped if len(t) >= MIN_FUZZY_LENGTH}
        if dropped:
            in_use: set[str] = set()
            for chunk in _chunks(sorted(dropped)):
                rows = await self.session.execute(
                    select(TrademarkMark.normalized)
                    .where(TrademarkMark.normalized.in_(chunk), TrademarkMark.deleted_at.is_(None))
                    .distinct()
                )
                in_use.update(rows.scalars())
            orphans = [{"rowid": fts_rowid(t)} for t in dropped - in_use]
            if orphans:
                await self.session.execute(
                    text("DELETE FROM trademark_marks_fts WHERE rowid = :rowid"), orphans
                )

    # --- reads --------------------------------------------------------------------------

    async def get(self, office: Office, serial_number: str) -> TrademarkMark | None:
        """A mark by its office and serial number, soft-deleted ones included."""
        result = await self.session.execute(
            select(TrademarkMark).where(
                TrademarkMark.office == office, TrademarkMark.serial_number == serial_number
            )
        )
        return result.scalar_one_or_none()

    async def candidates(self, keys: CandidateKeys, *, limit: int = 200) -> list[MarkRecord]:
        """Marks whose keys equal one of `keys`, then marks similar to one of `keys.fuzzy`;
        live before pending before dead, at most `limit`."""
        if limit <= 0:
            return []
        marks: dict[uuid.UUID, TrademarkMark] = {}
        conditions = [
            column.in_(sorted(values))
            for column, values in (
                (TrademarkMark.normalized, keys.normalized),
                (TrademarkMark.compact, keys.compact),
                (TrademarkMark.phonetic, keys.phonetic),
                (TrademarkMark.sorted_tokens, keys.sorted_tokens),
            )
            if values
        ]
        if conditions:
            rows = await self.session.execute(
                select(TrademarkMark)
                .where(TrademarkMark.deleted_at.is_(None), or_(*conditions))
                .order_by(_STATUS_RANK, TrademarkMark.office, TrademarkMark.serial_number)
                .limit(limit)
            )
            marks.update({m.id: m for m in rows.scalars()})
        fuzzy = sorted(q for q in keys.fuzzy if len(q) >= MIN_FUZZY_LENGTH)
        if fuzzy and len(marks) < limit:
            scored = await (
                self._similar_sqlite(fuzzy) if self._sqlite else self._similar_postgres(fuzzy)
            )
            ranked = sorted(scored.items(), key=lambda item: (-item[1], item[0]))
            texts = [t for t, _ in ranked]
            found: list[TrademarkMark] = []
            for chunk in _chunks(texts):
                rows = await self.session.execute(
                    select(TrademarkMark).where(
                        TrademarkMark.deleted_at.is_(None), TrademarkMark.normalized.in_(chunk)
                    )
                )
                found.extend(m for m in rows.scalars() if m.id not in marks)
            status_rank = {MarkStatus.live: 0, MarkStatus.pending: 1, MarkStatus.dead: 2}
            found.sort(
                key=lambda m: (
                    -scored[m.normalized],
                    status_rank[MarkStatus(m.status)],
                    m.office,
                    m.serial_number,
                )
            )
            for mark in found[: limit - len(marks)]:
                marks[mark.id] = mark
        return [to_record(m) for m in marks.values()]

    async def _similar_sqlite(self, queries: Sequence[str]) -> dict[str, float]:
        best: dict[str, float] = {}
        for query in queries:
            rows = await self.session.execute(
                text(
                    "SELECT normalized FROM trademark_marks_fts WHERE trademark_marks_fts MATCH :q "
                    "ORDER BY rank LIMIT :k"
                ),
                {"q": _fts_query(query), "k": FUZZY_PER_KEY * 5},
            )
            scored = sorted(
                ((similarity(query, t), t) for (t,) in rows), key=lambda s: (-s[0], s[1])
            )
            for score, normalized in scored[:FUZZY_PER_KEY]:
                if score >= SIMILARITY_THRESHOLD and score > best.get(normalized, 0.0):
                    best[normalized] = score
        return best

    async def _similar_postgres(self, queries: Sequence[str]) -> dict[str, float]:
        rows = await self.session.execute(
            text(
                "SELECT m.normalized, m.score FROM unnest(CAST(:queries AS text[])) AS q(value) "
                "CROSS JOIN LATERAL ("
                "  SELECT DISTINCT normalized, similarity(normalized, q.value) AS score"
                "  FROM trademark_marks"
                "  WHERE normalized % q.value AND deleted_at IS NULL"
                "  ORDER BY score DESC, normalized LIMIT :k"
                ") AS m"
            ),
            {"queries": list(queries), "k": FUZZY_PER_KEY},
        )
        best: dict[str, float] = {}
        for normalized, score in rows:
            score = float(score)
            if score >= SIMILARITY_THRESHOLD and score > best.get(normalized, 0.0):
                best[normalized] = score
        return best

    async def changed_by_import(self, import_id: uuid.UUID) -> list[MarkRecord]:
        """The marks an import inserted or changed (text, status or classes), not deleted."""
        rows = await self.session.execute(
            select(TrademarkMark)
            .where(TrademarkMark.last_import_id == import_id, TrademarkMark.deleted_at.is_(None))
            .order_by(TrademarkMark.office, TrademarkMark.serial_number)
        )
        return [to_record(m) for m in rows.scalars()]

    async def counts(self) -> dict[tuple[Office, MarkStatus], int]:
        """Marks in the database per office and status (deleted ones left out)."""
        rows = await self.session.execute(
            select(TrademarkMark.office, TrademarkMark.status, func.count())
            .where(TrademarkMark.deleted_at.is_(None))
            .group_by(TrademarkMark.office, TrademarkMark.status)
        )
        return {(Office(o), MarkStatus(s)): int(n) for o, s, n in rows}

    async def count_status(self) -> Counter[MarkStatus]:
        """Marks per status over all offices."""
        totals: Counter[MarkStatus] = Counter()
        for (_, status), n in (await self.counts()).items():
            totals[status] += n
        return totals


class TrademarkImportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> Self:
        return cls(session)

    async def get(self, import_id: uuid.UUID) -> TrademarkImport | None:
        return await self.session.get(TrademarkImport, import_id)

    async def latest(self, limit: int = 10) -> list[TrademarkImport]:
        rows = await self.session.execute(
            select(TrademarkImport)
            .where(TrademarkImport.deleted_at.is_(None))
            .order_by(TrademarkImport.created_at.desc(), TrademarkImport.id)
            .limit(limit)
        )
        return list(rows.scalars())

    async def running(self) -> list[TrademarkImport]:
        rows = await self.session.execute(
            select(TrademarkImport).where(TrademarkImport.status == ImportStatus.running)
        )
        return list(rows.scalars())

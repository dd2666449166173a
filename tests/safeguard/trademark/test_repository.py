"""The marks database repository on SQLite and PostgreSQL: batch upserts, candidate lookup by
equal keys and by trigram similarity, the FTS table kept in step, per-import and per-status reads."""

import uuid
from datetime import date

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.models import ImportKind, ImportStatus, TrademarkImport, TrademarkMark, utc_now
from flashfusion.safeguard.trademark.importers import ParsedMark
from flashfusion.safeguard.trademark.normalize import mark_keys
from flashfusion.safeguard.trademark.repository import (
    TrademarkImportRepository,
    TrademarkRepository,
    fts_rowid,
    similarity,
    trigrams,
)
from flashfusion.safeguard.trademark.types import CandidateKeys, MarkRecord, MarkStatus, Office


def mark(
    serial: str,
    text_: str,
    status: MarkStatus = MarkStatus.live,
    classes: tuple[int, ...] = (25,),
    office: Office = Office.uspto,
    **extra: object,
) -> ParsedMark:
    return ParsedMark(
        office=office,
        serial_number=serial,
        mark_text=text_,
        status=status,
        nice_classes=classes,
        line=1,
        status_code={"live": "700", "pending": "630", "dead": "602"}[status.value],
        source_url=f"https://tsdr.uspto.gov/statusview/sn{serial}",
        **extra,  # type: ignore[arg-type]
    )


async def new_import(session: AsyncSession) -> uuid.UUID:
    row = TrademarkImport(
        office=Office.uspto,
        kind=ImportKind.daily,
        file_name="test.xml",
        file_path="/dev/null",
        file_sha256="0" * 64,
        file_size=0,
        status=ImportStatus.running,
        skip_reasons={},
        skip_examples=[],
    )
    session.add(row)
    await session.flush()
    return row.id


SEED = [
    mark(
        "91000001", "SUNNY FOX BREW", owner="Sunny Fox Trading LLC", filing_date=date(2024, 1, 15)
    ),
    mark("91000002", "Sunny Fox", MarkStatus.pending, (21,)),
    mark("91000003", "OLD MILL ROAD", MarkStatus.dead, (16,)),
    mark("91000004", "MOONLIGHT PAWS", MarkStatus.pending),
    mark("91000005", "Blue Heron & Co.", MarkStatus.live, (25, 18), registration_number="5999999"),
    mark("91000006", "FOX", MarkStatus.live, (9,)),
]


@pytest.fixture
async def seeded(session: AsyncSession) -> tuple[TrademarkRepository, uuid.UUID]:
    repository = TrademarkRepository.from_session(session)
    import_id = await new_import(session)
    result = await repository.upsert_batch(import_id, SEED, now=utc_now())
    assert (result.inserted, result.changed, result.updated, result.unchanged) == (6, 6, 0, 0)
    return repository, import_id


def keys_of(*texts: str, fuzzy: tuple[str, ...] = ()) -> CandidateKeys:
    mk = [mark_keys(t) for t in texts]
    return CandidateKeys(
        normalized=frozenset(k.normalized for k in mk),
        compact=frozenset(k.compact for k in mk),
        phonetic=frozenset(k.phonetic for k in mk),
        sorted_tokens=frozenset(k.sorted_tokens for k in mk),
        fuzzy=frozenset(fuzzy),
    )


def serials(records: list[MarkRecord]) -> list[str | None]:
    return [r.serial_number for r in records]


def test_trigram_similarity_is_pg_trgms() -> None:
    # PostgreSQL docs F.35.1: show_trgm('cat') = {"  c"," ca","cat","at "}
    assert trigrams("cat") == {"  c", " ca", "cat", "at "}
    assert similarity("cat", "cat") == 1.0
    assert similarity("sunny fox", "zebra") == 0.0
    assert round(similarity("sunny foxx brew", "sunny fox brew"), 3) == 0.824


async def test_python_similarity_equals_postgres_similarity(
    session: AsyncSession, database_kind: str
) -> None:
    if database_kind != "postgresql":
        pytest.skip("pg_trgm's own similarity() exists only on PostgreSQL")
    pairs = [
        ("sunny foxx brew", "sunny fox brew"),
        ("moonlite paws", "moonlight paw"),
        ("blue heron and co", "heron blue"),
        ("just do it", "justdoit"),
        ("zebra", "sunny fox"),
    ]
    for a, b in pairs:
        row = await session.execute(text("SELECT similarity(:a, :b)"), {"a": a, "b": b})
        assert row.scalar_one() == pytest.approx(similarity(a, b), abs=1e-6), (a, b)


async def test_candidates_by_each_key(seeded: tuple[TrademarkRepository, uuid.UUID]) -> None:
    repository, import_id = seeded

    (exact,) = await repository.candidates(CandidateKeys(normalized=frozenset({"sunny fox brew"})))
    assert exact == MarkRecord(
        office=Office.uspto,
        mark_text="SUNNY FOX BREW",
        status=MarkStatus.live,
        nice_classes=frozenset({25}),
        serial_number="91000001",
        registration_number=None,
        status_code="700",
        owner="Sunny Fox Trading LLC",
        filing_date=date(2024, 1, 15),
        registration_date=None,
        source="https://tsdr.uspto.gov/statusview/sn91000001",
        id=exact.id,
    )
    assert uuid.UUID(exact.id or "")

    by_compact = await repository.candidates(CandidateKeys(compact=frozenset({"sunnyfox"})))
    assert serials(by_compact) == ["91000002"]
    by_order = await repository.candidates(
        CandidateKeys(sorted_tokens=frozenset({"brew fox sunny"}))
    )
    assert serials(by_order) == ["91000001"]
    by_sound = await repository.candidates(
        CandidateKeys(phonetic=frozenset({mark_keys("Moonlite Paw").phonetic}))
    )
    assert serials(by_sound) == ["91000004"]
    assert await repository.candidates(CandidateKeys(normalized=frozenset({"zebra"}))) == []
    assert await repository.candidates(CandidateKeys()) == []


async def test_candidates_by_similarity(seeded: tuple[TrademarkRepository, uuid.UUID]) -> None:
    repository, _ = seeded

    near = await repository.candidates(CandidateKeys(fuzzy=frozenset({"sunny foxx brew"})))
    # "sunny fox brew" 0.82, "sunny fox" 0.56; "fox" (0.29) is under pg_trgm's 0.3.
    assert serials(near) == ["91000001", "91000002"]
    moon = await repository.candidates(CandidateKeys(fuzzy=frozenset({"moonlite paws"})))
    assert serials(moon) == ["91000004"]
    assert await repository.candidates(CandidateKeys(fuzzy=frozenset({"zebra crossing"}))) == []
    # Shorter than a trigram: no similarity lookup.
    assert await repository.candidates(CandidateKeys(fuzzy=frozenset({"fo"}))) == []


async def test_equal_keys_come_first_then_similar_live_before_dead(
    seeded: tuple[TrademarkRepository, uuid.UUID],
) -> None:
    repository, _ = seeded

    found = await repository.candidates(keys_of("old mill road", "fox", fuzzy=("sunny fox bre",)))
    # Equal keys: FOX (live) before OLD MILL ROAD (dead); then the similar ones.
    assert serials(found) == ["91000006", "91000003", "91000001", "91000002"]
    assert serials(await repository.candidates(keys_of("old mill road", "fox"), limit=1)) == [
        "91000006"
    ]
    assert await repository.candidates(keys_of("fox"), limit=0) == []


async def test_updates_move_the_keys_and_the_similarity_index(
    seeded: tuple[TrademarkRepository, uuid.UUID], session: AsyncSession, database_kind: str
) -> None:
    repository, first = seeded
    second = await new_import(session)
    moonlight = CandidateKeys(fuzzy=frozenset({"moonlight"}))
    assert serials(await repository.candidates(moonlight)) == ["91000004"]

    result = await repository.upsert_batch(
        second,
        [
            mark("91000004", "MOONBEAM PAWS", MarkStatus.pending),  # text changed
            mark(
                "91000001", "SUNNY FOX BREW", owner="New Owner Inc.", filing_date=date(2024, 1, 15)
            ),
            mark("91000006", "FOX", MarkStatus.live, (9,)),  # identical
        ],
        now=utc_now(),
    )

    assert (result.inserted, result.updated, result.unchanged, result.changed) == (0, 2, 1, 1)
    assert await repository.candidates(moonlight) == []
    beam = await repository.candidates(CandidateKeys(fuzzy=frozenset({"moonbeam paw"})))
    assert [(r.serial_number, r.mark_text) for r in beam] == [("91000004", "MOONBEAM PAWS")]
    assert serials(await repository.changed_by_import(second)) == ["91000004"]
    assert serials(await repository.changed_by_import(first)) == [
        "91000001",
        "91000002",
        "91000003",
        "91000005",
        "91000006",
    ]
    if database_kind == "sqlite":
        rows = await session.execute(text("SELECT rowid, normalized FROM trademark_marks_fts"))
        fts = dict(rows.all())
        assert fts_rowid("moonlight paw") not in fts
        assert fts[fts_rowid("moonbeam paw")] == "moonbeam paw"
        assert len(fts) == 6


async def test_deleted_marks_are_not_candidates_and_can_return(
    seeded: tuple[TrademarkRepository, uuid.UUID], session: AsyncSession
) -> None:
    repository, _ = seeded
    later = await new_import(session)
    gone = ParsedMark(
        office=Office.uspto,
        serial_number="91000003",
        mark_text="",
        status=MarkStatus.dead,
        nice_classes=(),
        line=9,
        deleted=True,
    )
    missing = ParsedMark(
        office=Office.uspto, serial_number="99999999", mark_text="", status=MarkStatus.dead,
        nice_classes=(), line=10, deleted=True,
    )  # fmt: skip

    result = await repository.upsert_batch(later, [gone, missing], now=utc_now())

    assert (result.deleted, result.changed) == (1, 0)
    assert [(s.reason, s.line, s.serial_number) for s in result.skipped] == [
        ("deleted by the office, not in the database", 10, "99999999")
    ]
    assert await repository.candidates(keys_of("old mill road")) == []
    assert await repository.candidates(CandidateKeys(fuzzy=frozenset({"old mill road"}))) == []
    assert (Office.uspto, MarkStatus.dead) not in await repository.counts()
    stored = await repository.get(Office.uspto, "91000003")
    assert stored is not None
    assert stored.deleted_at is not None

    back = await repository.upsert_batch(
        later, [mark("91000003", "OLD MILL ROAD", MarkStatus.dead, (16,))], now=utc_now()
    )
    assert (back.updated, back.changed) == (1, 1)
    assert serials(await repository.candidates(keys_of("old mill road"))) == ["91000003"]


async def test_repeated_serial_in_a_batch_keeps_the_last(session: AsyncSession) -> None:
    repository = TrademarkRepository.from_session(session)
    import_id = await new_import(session)

    result = await repository.upsert_batch(
        import_id,
        [mark("93000001", "FIRST TEXT"), mark("93000001", "SECOND TEXT"), mark("93000002", "!!!")],
        now=utc_now(),
    )

    assert result.inserted == 1
    assert [s.reason for s in result.skipped] == [
        "repeated later in the file (the later record was used)",
        "mark text has no letters or digits",
    ]
    stored = await repository.get(Office.uspto, "93000001")
    assert stored is not None
    assert stored.mark_text == "SECOND TEXT"


async def test_counts_per_office_and_status(
    seeded: tuple[TrademarkRepository, uuid.UUID], session: AsyncSession
) -> None:
    repository, import_id = seeded
    await repository.upsert_batch(
        import_id, [mark("018900001", "Lumen Goat", office=Office.euipo)], now=utc_now()
    )

    assert await repository.counts() == {
        (Office.uspto, MarkStatus.live): 3,
        (Office.uspto, MarkStatus.pending): 2,
        (Office.uspto, MarkStatus.dead): 1,
        (Office.euipo, MarkStatus.live): 1,
    }
    assert await repository.count_status() == {
        MarkStatus.live: 4,
        MarkStatus.pending: 2,
        MarkStatus.dead: 1,
    }
    imports = await TrademarkImportRepository.from_session(session).latest()
    assert [i.id for i in imports] == [import_id]
    rows = await session.execute(select(TrademarkMark.id))
    assert len(rows.all()) == 7

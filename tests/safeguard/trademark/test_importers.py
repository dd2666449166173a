"""Register file readers (USPTO TDXF daily/annual, EUIPO) and imports into the marks database:
exact records from the sample files, status mapping, incremental updates, bad files."""

import gzip
import shutil
import uuid
import zipfile
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.models import ImportKind, ImportStatus, TrademarkImport, TrademarkMark
from flashfusion.safeguard.trademark.importers import (
    ImportFileError,
    ParsedMark,
    Skipped,
    document_element,
    euipo,
    open_source,
    uspto,
)
from flashfusion.safeguard.trademark.importers.uspto_status import map_status
from flashfusion.safeguard.trademark.imports import (
    ImportFailed,
    InvalidImport,
    Progress,
)
from flashfusion.safeguard.trademark.imports import trademark_import as import_service
from flashfusion.safeguard.trademark.types import MarkStatus, Office

DATA = Path(__file__).parent / "data"
DAILY = DATA / "uspto_daily_sample.xml"
UPDATE = DATA / "uspto_daily_update_sample.xml"
ANNUAL = DATA / "uspto_annual_sample.xml"
TRUNCATED = DATA / "uspto_truncated_sample.xml"
EUIPO_FULL = DATA / "euipo_full_sample.xml"
EUIPO_DIFF = DATA / "euipo_diff_sample.xml"


def parse(path: Path, office: Office) -> list[ParsedMark | Skipped]:
    source = open_source(path)
    try:
        return list((uspto.parse if office is Office.uspto else euipo.parse)(source))
    finally:
        source.close()


# --- parsing ------------------------------------------------------------------------------


def test_uspto_daily_sample_records() -> None:
    records = parse(DAILY, Office.uspto)

    assert records == [
        ParsedMark(
            office=Office.uspto,
            serial_number="90000001",
            mark_text="SUNNY FOX BREW",
            status=MarkStatus.live,
            nice_classes=(21, 25),
            line=18,
            registration_number="6000001",
            status_code="700",
            owner="Sunny Fox Trading LLC",
            filing_date=date(2024, 1, 15),
            registration_date=date(2025, 6, 10),
            status_date=date(2025, 6, 10),
            source_url="https://tsdr.uspto.gov/statusview/sn90000001",
        ),
        ParsedMark(
            office=Office.uspto,
            serial_number="90000002",
            mark_text="MOONLIGHT PAWS",
            status=MarkStatus.pending,
            nice_classes=(25,),
            line=48,
            registration_number=None,  # "0000000"
            status_code="630",
            owner="Paws & Whiskers Inc.",
            filing_date=date(2026, 3, 1),
            registration_date=None,  # "00000000"
            status_date=date(2026, 3, 5),
            source_url="https://tsdr.uspto.gov/statusview/sn90000002",
        ),
        ParsedMark(
            office=Office.uspto,
            serial_number="90000003",
            mark_text="OLD MILL ROAD",
            status=MarkStatus.dead,
            nice_classes=(16,),
            line=69,
            status_code="602",
            owner="Old Mill Paper Co.",
            filing_date=date(2019, 8, 20),
            status_date=date(2020, 9, 11),
            source_url="https://tsdr.uspto.gov/statusview/sn90000003",
        ),
        Skipped("no word mark (<mark-identification> empty)", 88, "90000004"),
        ParsedMark(
            office=Office.uspto,
            serial_number="90000005",
            mark_text="CRIMSON KITE",  # runs of spaces collapsed
            status=MarkStatus.pending,
            status_verified=False,  # 625: "status unclear"
            nice_classes=(9, 18),
            line=96,
            status_code="625",
            filing_date=date(2001, 5, 5),
            source_url="https://tsdr.uspto.gov/statusview/sn90000005",
        ),
        Skipped("missing <serial-number>", 112),
        ParsedMark(
            office=Office.uspto,
            serial_number="90000006",
            mark_text="BLUE HERON & CO.",
            status=MarkStatus.live,
            nice_classes=(25,),  # "A" is not a Nice class
            line=118,
            registration_number="5999999",
            status_code="800",
            owner="Heron Goods Ltd.",  # the first owner listed
            filing_date=date(2005, 2, 2),
            registration_date=date(2006, 3, 3),
            status_date=date(2016, 4, 4),
            source_url="https://tsdr.uspto.gov/statusview/sn90000006",
        ),
    ]


@pytest.mark.parametrize(
    ("code", "status", "verified"),
    [
        ("700", MarkStatus.live, True),
        ("0700", MarkStatus.live, True),
        ("800", MarkStatus.live, True),
        ("717", MarkStatus.live, True),
        ("630", MarkStatus.pending, True),
        ("686", MarkStatus.pending, True),
        ("612", MarkStatus.pending, True),
        ("602", MarkStatus.dead, True),
        ("710", MarkStatus.dead, True),
        ("626", MarkStatus.dead, True),
        ("900", MarkStatus.dead, True),
        ("401", MarkStatus.dead, True),
        ("625", MarkStatus.pending, False),
        ("790", MarkStatus.pending, False),
        ("999", MarkStatus.pending, False),
        ("", MarkStatus.pending, False),
        (None, MarkStatus.pending, False),
    ],
)
def test_uspto_status_codes_map_to_live_pending_dead(
    code: str | None, status: MarkStatus, verified: bool
) -> None:
    mapping = map_status(code)
    assert (mapping.status, mapping.verified) == (status, verified)


def test_uspto_annual_sample_reads_from_zip_and_gzip(tmp_path: Path) -> None:
    expected = parse(ANNUAL, Office.uspto)
    archive = tmp_path / "apc251231-01.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(ANNUAL, "apc251231-01.xml")
    gz = tmp_path / "apc251231-01.xml.gz"
    gz.write_bytes(gzip.compress(ANNUAL.read_bytes()))

    assert [
        (r.serial_number, r.mark_text, r.status, r.status_code, r.nice_classes, r.status_verified)
        for r in expected
        if isinstance(r, ParsedMark)
    ] == [
        ("71000001", "GRANITE OWL", MarkStatus.live, "800", (28,), True),
        ("71000002", "VELVET ANCHOR", MarkStatus.dead, "710", (24,), True),
        ("71000003", "PAPER LANTERN CLUB", MarkStatus.pending, "999", (16,), False),
    ]
    assert parse(archive, Office.uspto) == expected
    assert parse(gz, Office.uspto) == expected
    source = open_source(archive)
    source.close()
    assert (source.name, source.size) == ("apc251231-01.xml", ANNUAL.stat().st_size)


def test_euipo_full_and_diff_samples() -> None:
    full = parse(EUIPO_FULL, Office.euipo)
    assert [
        (
            r.serial_number,
            r.mark_text,
            r.status,
            r.status_code,
            r.nice_classes,
            r.owner,
            r.registration_number,
            r.status_verified,
        )
        if isinstance(r, ParsedMark)
        else r
        for r in full
    ] == [
        (
            "018900001",
            "Lumen Goat",
            MarkStatus.live,
            "Registered",
            (18, 25),
            "Lumen Goat Textiles S.L.",
            "018900001",  # registered without a RegistrationNumber: the filing number
            True,
        ),
        (
            "018900002",
            "Nebelkatze",
            MarkStatus.pending,
            "Application published",
            (21,),
            "Nebel Haushalt GmbH",
            None,
            True,
        ),
        (
            "018900003",
            "Papillon Rouge",
            MarkStatus.dead,
            "Registration cancelled",
            (16,),
            None,
            None,
            True,
        ),
        Skipped("no word mark (<MarkVerbalElementText> empty)", 110, "018900004"),
        (
            "018900005",
            "Gatto Blu",
            MarkStatus.pending,
            "Awaiting something new",
            (9,),
            None,
            None,
            False,
        ),
    ]
    first = full[0]
    assert isinstance(first, ParsedMark)
    assert (first.filing_date, first.registration_date, first.source_url) == (
        date(2023, 4, 3),
        date(2023, 8, 21),
        "https://euipo.europa.eu/eSearch/#details/trademarks/018900001",
    )

    diff = parse(EUIPO_DIFF, Office.euipo)
    assert [(r.serial_number, r.status, r.deleted) for r in diff if isinstance(r, ParsedMark)] == [
        ("018900002", MarkStatus.live, False),
        ("018900003", MarkStatus.dead, True),
        ("018900006", MarkStatus.pending, False),
    ]


def test_truncated_file_yields_the_complete_records_then_names_the_line() -> None:
    source = open_source(TRUNCATED)
    records = uspto.parse(source)
    first, second = next(records), next(records)
    assert [first.serial_number, second.serial_number] == ["92000001", "92000002"]  # type: ignore[union-attr]
    with pytest.raises(ImportFileError) as raised:
        next(records)
    source.close()
    assert str(raised.value) == (
        "uspto_truncated_sample.xml: malformed XML at line 32, column 43: mismatched tag"
    )


def test_wrong_office_and_non_xml_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match=r"document element is <Transaction>.*--office euipo"):
        parse(EUIPO_FULL, Office.uspto)
    with pytest.raises(ImportFileError, match=r"no <TradeMark> records.*--office uspto"):
        parse(DAILY, Office.euipo)

    text = tmp_path / "notes.txt"
    text.write_text("this is not XML\n")
    with pytest.raises(ImportFileError, match=r"notes.txt: not an XML file \(line 1, column 1"):
        document_element(text)
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"")
    with pytest.raises(ImportFileError, match="the file is empty"):
        document_element(empty)
    with pytest.raises(ImportFileError, match="no such file"):
        open_source(tmp_path / "missing.zip")
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as zf:
        zf.writestr("a.xml", "<a/>")
        zf.writestr("b.xml", "<b/>")
    with pytest.raises(ImportFileError, match="exactly one .xml file; this one holds a.xml, b.xml"):
        open_source(two)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ImportFileError, match="not a readable zip archive"):
        open_source(broken)


# --- importing into the database ----------------------------------------------------------


async def import_file(
    session: AsyncSession,
    path: Path,
    office: Office = Office.uspto,
    kind: ImportKind | None = None,
    **run: object,
) -> TrademarkImport:
    row = await import_service.create(session, path=path, office=office, kind=kind)
    await session.commit()
    await import_service.run(row.id, **run)  # type: ignore[arg-type]
    await session.refresh(row)
    return row


async def marks(session: AsyncSession, office: Office = Office.uspto) -> dict[str, TrademarkMark]:
    rows = await session.execute(
        select(TrademarkMark)
        .where(TrademarkMark.office == office)
        .execution_options(populate_existing=True)
    )
    return {m.serial_number: m for m in rows.scalars()}


async def test_import_daily_sample_counts_and_rows(session: AsyncSession) -> None:
    row = await import_file(session, DAILY)

    assert row.status == ImportStatus.done
    assert row.kind == ImportKind.daily
    assert (row.records_read, row.inserted, row.updated, row.unchanged, row.changed) == (
        7,
        5,
        0,
        0,
        5,
    )
    assert (row.skipped, row.deleted, row.unverified_status) == (2, 0, 1)
    assert row.skip_reasons == {
        "no word mark (<mark-identification> empty)": 1,
        "missing <serial-number>": 1,
    }
    assert row.skip_examples == [
        {"line": 88, "serial": "90000004", "reason": "no word mark (<mark-identification> empty)"},
        {"line": 112, "serial": None, "reason": "missing <serial-number>"},
    ]
    assert row.bytes_done == row.bytes_total == DAILY.stat().st_size
    assert row.file_name == "uspto_daily_sample.xml"
    assert len(row.file_sha256) == 64
    assert row.started_at is not None
    assert row.finished_at is not None

    stored = await marks(session)
    assert sorted(stored) == ["90000001", "90000002", "90000003", "90000005", "90000006"]
    fox = stored["90000001"]
    assert (fox.mark_text, fox.normalized, fox.compact, fox.phonetic, fox.sorted_tokens) == (
        "SUNNY FOX BREW",
        "sunny fox brew",
        "sunnyfoxbrew",
        "SN FKS BR",
        "brew fox sunny",
    )
    assert (fox.status, fox.status_code, fox.nice_classes, fox.owner) == (
        MarkStatus.live,
        "700",
        [21, 25],
        "Sunny Fox Trading LLC",
    )
    assert (fox.filing_date, fox.registration_date, fox.status_date) == (
        date(2024, 1, 15),
        date(2025, 6, 10),
        date(2025, 6, 10),
    )
    assert fox.registration_number == "6000001"
    assert fox.last_import_id == row.id
    assert stored["90000003"].status == MarkStatus.dead
    assert stored["90000006"].normalized == "blue heron and co"


async def test_daily_update_changes_only_what_changed(session: AsyncSession) -> None:
    first = await import_file(session, DAILY)
    before = await marks(session)
    untouched = {s: (m.modified_at, m.imported_at) for s, m in before.items()}

    second = await import_file(session, UPDATE)

    assert (second.records_read, second.inserted, second.updated, second.unchanged) == (4, 1, 2, 1)
    assert (second.changed, second.skipped) == (2, 0)
    after = await marks(session)
    # 90000001: identical record, row not written at all.
    assert after["90000001"].last_import_id == first.id
    assert (after["90000001"].modified_at, after["90000001"].imported_at) == untouched["90000001"]
    # 90000002: now registered -> changed, re-screen relevant.
    paws = after["90000002"]
    assert (paws.status, paws.status_code, paws.registration_number) == (
        MarkStatus.live,
        "700",
        "6100002",
    )
    assert paws.registration_date == date(2026, 12, 1)
    assert paws.last_import_id == second.id
    # 90000003: only the owner changed -> updated, but not a change a re-screen needs.
    mill = after["90000003"]
    assert mill.owner == "Old Mill Stationers Co."
    assert mill.last_import_id == first.id
    assert mill.modified_at is not None
    # 90000008 is new; 90000005/6 were not in the daily file and stay as they were.
    assert after["90000008"].last_import_id == second.id
    assert after["90000005"].last_import_id == first.id
    assert len(after) == 6


async def test_reimporting_the_same_file_changes_nothing(session: AsyncSession) -> None:
    await import_file(session, DAILY)
    again = await import_file(session, DAILY)

    assert (again.inserted, again.updated, again.unchanged, again.changed) == (0, 0, 5, 0)
    assert again.rescreen_job_id is None
    assert len(await marks(session)) == 5


async def test_truncated_file_keeps_committed_batches_and_fails_naming_the_line(
    session: AsyncSession,
) -> None:
    row = await import_service.create(session, path=TRUNCATED, office=Office.uspto)
    await session.commit()
    with pytest.raises(ImportFailed) as raised:
        await import_service.run(row.id, batch_size=1)
    await session.refresh(row)

    message = (
        "uspto_truncated_sample.xml: malformed XML at line 32, column 43: mismatched tag. Import "
        "stopped there: 2 records before it were imported, the batch in progress was not "
        "written. Download the file again (it may be truncated) and import it again."
    )
    assert raised.value.detail == message
    assert (row.status, row.error, row.records_done, row.inserted) == (
        ImportStatus.failed,
        message,
        2,
        2,
    )
    assert sorted(await marks(session)) == ["92000001", "92000002"]


async def test_bad_file_writes_nothing_of_the_batch_in_progress(session: AsyncSession) -> None:
    row = await import_service.create(session, path=TRUNCATED, office=Office.uspto)
    await session.commit()
    with pytest.raises(ImportFailed, match="0 records before it were imported"):
        await import_service.run(row.id)  # one batch of 1000: the two good records are dropped
    await session.refresh(row)

    assert (row.status, row.records_done, row.inserted) == (ImportStatus.failed, 0, 0)
    assert await marks(session) == {}


async def test_interrupted_import_resumes_after_the_committed_batches(
    session: AsyncSession,
) -> None:
    row = await import_service.create(session, path=DAILY, office=Office.uspto)
    await session.commit()

    def crash(progress: Progress) -> None:
        raise RuntimeError("executor killed")

    with pytest.raises(RuntimeError):
        await import_service.run(row.id, batch_size=3, on_progress=crash)
    await session.refresh(row)
    assert (row.status, row.records_done, row.inserted, row.skipped) == (
        ImportStatus.running,
        3,
        3,
        0,
    )

    seen: list[Progress] = []
    summary = await import_service.run(row.id, batch_size=3, on_progress=seen.append)

    assert [p.records_done for p in seen] == [6, 7]
    assert (summary.status, summary.records_read, summary.inserted, summary.skipped) == (
        ImportStatus.done,
        7,
        5,
        2,
    )
    assert len(await marks(session)) == 5
    # A finished import is not run again.
    assert await import_service.run(row.id) == summary


async def test_resume_refuses_a_file_that_changed(session: AsyncSession, tmp_path: Path) -> None:
    path = tmp_path / "apc261201.xml"
    shutil.copy(DAILY, path)
    row = await import_service.create(session, path=path, office=Office.uspto)
    await session.commit()

    def crash(progress: Progress) -> None:
        raise RuntimeError("executor killed")

    with pytest.raises(RuntimeError):
        await import_service.run(row.id, batch_size=3, on_progress=crash)
    shutil.copy(UPDATE, path)
    with pytest.raises(ImportFailed, match="the file changed since this import started"):
        await import_service.run(row.id)
    await session.refresh(row)
    assert row.status == ImportStatus.failed


async def test_euipo_full_then_diff_deletes_and_updates(session: AsyncSession) -> None:
    full = await import_file(session, EUIPO_FULL, Office.euipo)
    assert full.kind == ImportKind.euipo_full
    assert (full.records_read, full.inserted, full.skipped, full.unverified_status) == (5, 4, 1, 1)

    diff = await import_file(session, EUIPO_DIFF, Office.euipo, ImportKind.euipo_diff)

    assert (diff.inserted, diff.updated, diff.deleted, diff.changed) == (1, 1, 1, 2)
    stored = await marks(session, Office.euipo)
    assert stored["018900003"].deleted_at is not None
    assert stored["018900003"].last_import_id == diff.id
    assert stored["018900002"].status == MarkStatus.live
    assert stored["018900006"].mark_text == "Sunny Fox"


async def test_create_refuses_bad_paths_kinds_and_formats(
    session: AsyncSession, tmp_path: Path
) -> None:
    with pytest.raises(InvalidImport, match="no such file"):
        await import_service.create(session, path=tmp_path / "nope.xml", office=Office.uspto)
    with pytest.raises(
        InvalidImport, match="kind: euipo_full is not a uspto file kind; use daily, annual"
    ):
        await import_service.create(
            session, path=DAILY, office=Office.uspto, kind=ImportKind.euipo_full
        )
    with pytest.raises(InvalidImport, match="use --office euipo"):
        await import_service.create(session, path=EUIPO_FULL, office=Office.uspto)
    with pytest.raises(InvalidImport, match="use --office uspto"):
        await import_service.create(session, path=DAILY, office=Office.euipo)
    rows = await session.execute(select(TrademarkImport.id))
    assert rows.all() == []


async def test_unknown_import_id(session: AsyncSession) -> None:
    from flashfusion.exceptions import ResourceNotFound

    with pytest.raises(ResourceNotFound):
        await import_service.run(uuid.uuid4())

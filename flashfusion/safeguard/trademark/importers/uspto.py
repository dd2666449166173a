"""USPTO trademark applications XML: the Trademark Daily XML file (TDXF) and the annual back file.

Format (DTD "-//USPTO//DTD TRADEMARK-APPLICATIONS-DAILY V2.0 2005-04-01//EN", copied in
github.com/mattown/PatentZephyr, schema_documents/DTD/tradeapp2005-04-01.dtd):

    <trademark-applications-daily>
      <version>…</version> <creation-datetime>…</creation-datetime>
      <application-information>
        <file-segments> <file-segment>…</file-segment>
          <action-keys> <action-key>…</action-key>
            <case-file>
              <serial-number/> <registration-number/> <transaction-date/>
              <case-file-header> <filing-date/> <registration-date/> <status-code/>
                <status-date/> <mark-identification/> <mark-drawing-code/> … </case-file-header>
              <classifications> <classification> <international-code/>* <us-code/>*
                <status-code/> … </classification> </classifications>
              <case-file-owners> <case-file-owner> <entry-number/> <party-type/>
                <party-name/> … </case-file-owner> </case-file-owners>

Dates are "an 8-position numeric in the format YYYYMMDD" (USPTO Trademark Applications Daily XML
DTD element documentation V2.0, https://vdocuments.net/trademark-applications-daily-xml-dtd-1-
trademark-applications-daily-xml.html). The annual back-file parts (apcYYMMDD-NN.zip) use the same
`trademark-applications-daily` document element: USPTO's own splitter reads both with one pattern
(github.com/USPTO/TrademarkPublicData, TMProcessing/tm_splitter.py and README.md, which also names
the files: daily apcYYMMDD.zip, annual apcYYMMDD-NN.zip, one XML file in each zip). Files:
https://bulkdata.uspto.gov/data/trademark/dailyxml/applications/.

Choices of FlashFusion's (not stated by a source): the owner is the first `<party-name>` listed
(the meaning of the `<party-type>` codes was not verified); registration numbers and dates that
are all zeros mean "none"; a case file without `<mark-identification>` (a design-only mark) is
skipped, since it has no words to match. Only the header's `<status-code>` is used, never the one
inside `<classification>` (a per-class code).
"""

from collections.abc import Iterator

from flashfusion.safeguard.trademark.importers import (
    ImportFileError,
    Parsed,
    ParsedMark,
    Record,
    RecordReader,
    Skipped,
    Source,
    nice_classes,
    parse_date,
)
from flashfusion.safeguard.trademark.importers.uspto_status import map_status
from flashfusion.safeguard.trademark.types import Office

ROOT = "trademark-applications-daily"
RECORD = "case-file"
DATE_FORMATS = ("%Y%m%d",)
# TSDR's status page of a case, in the form third-party reports link to (e.g.
# https://tsdr.uspto.gov/statusview/sn97313509); not checked against a USPTO document.
TSDR_URL = "https://tsdr.uspto.gov/statusview/sn{serial}"


def _check_root(source: Source, root: str | None) -> None:
    if root is not None and root != ROOT:
        hint = (
            " It looks like an EUIPO file: import it with --office euipo."
            if root in ("Transaction", "TradeMark", "TradeMarks")
            else ""
        )
        raise ImportFileError(
            f"{source.name}: not a USPTO trademark applications file: its document element is "
            f"<{root}>, expected <{ROOT}>.{hint} Download the daily or annual applications "
            "XML from https://bulkdata.uspto.gov/data/trademark/dailyxml/applications/."
        )


def parse(source: Source) -> Iterator[Parsed]:
    """Every `<case-file>` of a USPTO applications file, as a mark or a skip."""
    reader = RecordReader(source, RECORD)
    for record in reader:
        _check_root(source, reader.root)
        yield _case_file(record)
    _check_root(source, reader.root)
    if reader.root is None:
        raise ImportFileError(f"{source.name}: the file is empty; download it again.")


def _case_file(record: Record) -> Parsed:
    serial = record.value("serial-number")
    if serial is None:
        return Skipped("missing <serial-number>", record.line)
    if not serial.isdigit():
        return Skipped("<serial-number> is not a number", record.line, serial)
    header = record.find("case-file-header")
    text = header.value("mark-identification") if header is not None else None
    if text is None:
        return Skipped("no word mark (<mark-identification> empty)", record.line, serial)
    code = header.value("status-code") if header is not None else None
    mapping = map_status(code)
    owner = next(
        (
            name
            for owner in record.find_all("case-file-owners/case-file-owner")
            if (name := owner.value("party-name"))
        ),
        None,
    )
    registration = record.value("registration-number")
    return ParsedMark(
        office=Office.uspto,
        serial_number=serial,
        mark_text=" ".join(text.split()),
        status=mapping.status,
        status_verified=mapping.verified,
        status_code=code,
        nice_classes=nice_classes(
            [c.text for c in record.find_all("classifications/classification/international-code")]
        ),
        line=record.line,
        registration_number=registration if registration and registration.strip("0") else None,
        owner=" ".join(owner.split()) if owner else None,
        filing_date=parse_date(header.value("filing-date"), formats=DATE_FORMATS)
        if header is not None
        else None,
        registration_date=parse_date(header.value("registration-date"), formats=DATE_FORMATS)
        if header is not None
        else None,
        status_date=parse_date(header.value("status-date"), formats=DATE_FORMATS)
        if header is not None
        else None,
        source_url=TSDR_URL.format(serial=serial),
    )

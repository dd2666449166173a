"""EUIPO open-data trade mark files (EUTM bulk download: full set and differential files).

The files are ST.66-style XML in the namespace http://www.euipo.europa.eu/EUTM/EUTM_Download,
one `<TradeMark operationCode="…">` per mark under
Transaction/TradeMarkTransactionBody/TransactionContentDetails/TransactionData/TradeMarkDetails
(the paths read by WIPO's Global Brand Database loaders, `gbdtransformation` EM filters and the
`pypers` EM extractors, which iterparse `TradeMark` / `Applicant` elements of that namespace and
honour operationCode="Delete"). Elements read, as in those loaders and in published ST.66
records: ApplicationNumber, ApplicationDate, RegistrationNumber, RegistrationDate,
MarkCurrentStatusCode, MarkCurrentStatusDate, WordMarkSpecification/MarkVerbalElementText,
GoodsServicesDetails/GoodsServices/ClassDescriptionDetails/ClassDescription/ClassNumber and
ApplicantDetails/Applicant/ApplicantAddressBook/FormattedNameAddress/Name (FreeFormatName lines,
or FormattedName OrganizationName / FirstName LastName). Dates are ISO (YYYY-MM-DD).

Status: WIPO GBD's EM `translate_status` maps "Application filed", "Application published",
"Application under examination", "Registration pending", "Appeal pending", "Registration
cancellation pending", "Filed" to Pending; "Application refused", "Application withdrawn",
"Application opposed", "Registration cancelled", "Registration surrendered", "Ended" to Ended;
"Registered" to Registered; "Registration expired", "Expired" to Expired. Here Ended and Expired
are dead, Registered is live; any other text is pending and unverified.

Unverified: the EUIPO download usually names applicants by key only (their names come in
separate Applicant files, not read here), so `owner` is often empty for EUIPO marks. When a
registered mark has no RegistrationNumber the application number is used, as GBD does (the EUTM
registration keeps its filing number). Open data: https://euipo.europa.eu/ohimportal/en/open-data;
record pages: https://euipo.europa.eu/eSearch/#details/trademarks/{number}.
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
from flashfusion.safeguard.trademark.types import MarkStatus, Office

RECORD = "TradeMark"
DATE_FORMATS = ("%Y-%m-%d",)
ESEARCH_URL = "https://euipo.europa.eu/eSearch/#details/trademarks/{number}"

STATUSES: dict[str, MarkStatus] = {
    **dict.fromkeys(
        (
            "Application filed",
            "Application published",
            "Application under examination",
            "Registration pending",
            "Appeal pending",
            "Registration cancellation pending",
            "Filed",
        ),
        MarkStatus.pending,
    ),
    **dict.fromkeys(
        (
            "Application refused",
            "Application withdrawn",
            "Application opposed",
            "Registration cancelled",
            "Registration surrendered",
            "Ended",
            "Registration expired",
            "Expired",
        ),
        MarkStatus.dead,
    ),
    "Registered": MarkStatus.live,
}


def parse(source: Source) -> Iterator[Parsed]:
    """Every `<TradeMark>` of an EUIPO file, as a mark or a skip."""
    reader = RecordReader(source, RECORD)
    count = 0
    for record in reader:
        count += 1
        yield _trade_mark(record)
    if reader.root is None:
        raise ImportFileError(f"{source.name}: the file is empty; download it again.")
    if count == 0:
        hint = (
            " It looks like a USPTO file: import it with --office uspto."
            if reader.root.startswith("trademark-applications")
            else ""
        )
        raise ImportFileError(
            f"{source.name}: no <TradeMark> records (document element <{reader.root}>); this is "
            f"not an EUIPO trade mark file.{hint} Download the trade mark files from "
            "https://euipo.europa.eu/ohimportal/en/open-data."
        )


def _owner(record: Record) -> str | None:
    names = record.find_all(
        "ApplicantDetails/Applicant/ApplicantAddressBook/FormattedNameAddress/Name"
    )
    for name in names:
        lines = [
            line.text.strip()
            for line in name.find_all("FreeFormatName/FreeFormatNameDetails/FreeFormatNameLine")
            if line.text.strip()
        ]
        if lines:
            return " ".join(lines)
        organization = name.value("FormattedName/OrganizationName")
        if organization:
            return organization
        parts = (name.value("FormattedName/FirstName"), name.value("FormattedName/LastName"))
        person = " ".join(part for part in parts if part)
        if person:
            return person
    return None


def _trade_mark(record: Record) -> Parsed:
    number = record.value("ApplicationNumber")
    if number is None:
        return Skipped("missing <ApplicationNumber>", record.line)
    if record.attrs.get("operationCode") == "Delete":
        return ParsedMark(
            office=Office.euipo,
            serial_number=number,
            mark_text="",
            status=MarkStatus.dead,
            nice_classes=(),
            line=record.line,
            deleted=True,
        )
    text = next(
        (
            " ".join(node.text.split())
            for node in record.find_all("WordMarkSpecification/MarkVerbalElementText")
            if node.text.strip()
        ),
        None,
    )
    if text is None:
        return Skipped("no word mark (<MarkVerbalElementText> empty)", record.line, number)
    code = record.value("MarkCurrentStatusCode")
    status = STATUSES.get(code or "")
    registration = record.value("RegistrationNumber")
    if registration is None and status is MarkStatus.live:
        registration = number
    return ParsedMark(
        office=Office.euipo,
        serial_number=number,
        mark_text=text,
        status=status or MarkStatus.pending,
        status_verified=status is not None,
        status_code=code,
        nice_classes=nice_classes(
            [
                c.text
                for c in record.find_all(
                    "GoodsServicesDetails/GoodsServices/ClassDescriptionDetails/"
                    "ClassDescription/ClassNumber"
                )
            ]
        ),
        line=record.line,
        registration_number=registration,
        owner=_owner(record),
        filing_date=parse_date(record.value("ApplicationDate"), formats=DATE_FORMATS),
        registration_date=parse_date(record.value("RegistrationDate"), formats=DATE_FORMATS),
        status_date=parse_date(record.value("MarkCurrentStatusDate"), formats=DATE_FORMATS),
        source_url=ESEARCH_URL.format(number=number),
    )

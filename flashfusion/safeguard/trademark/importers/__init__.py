"""Register bulk-file readers: stream a file (XML, or XML inside a .zip / .gz) record by record.

Each office module turns its records into `ParsedMark`s (or `Skipped` with a reason). Nothing
here touches the database: `safeguard/trademark/imports.py` writes the batches.

Streaming: a file is fed to expat in 1 MiB chunks and only the record element being read is
kept as a tree (`Record`), so a 3 GB annual file needs a few MB of memory. expat (2.4.1+) refuses
entity-expansion bombs, and external entities (the DTD a file may name) are never fetched.
"""

import gzip
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, cast
from xml.parsers import expat

from flashfusion.safeguard.trademark.types import MarkStatus, Office

CHUNK = 1 << 20


class ImportFileError(ValueError):
    """The file cannot be imported (not found, not the format, malformed XML). The message
    names the file, the line or element, and what to do."""


@dataclass
class Record:
    """One record element as a small tree, local names only (namespaces dropped)."""

    tag: str
    line: int
    attrs: dict[str, str] = field(default_factory=dict)
    children: list["Record"] = field(default_factory=list)
    text: str = ""

    def find(self, path: str) -> "Record | None":
        """The first element at a '/'-separated path of child names."""
        node: Record | None = self
        for name in path.split("/"):
            if node is None:
                return None
            node = next((c for c in node.children if c.tag == name), None)
        return node

    def find_all(self, path: str) -> list["Record"]:
        """Every element at a '/'-separated path of child names."""
        nodes = [self]
        for name in path.split("/"):
            nodes = [c for n in nodes for c in n.children if c.tag == name]
        return nodes

    def value(self, path: str) -> str | None:
        """The stripped text at `path`; None when the element is absent or empty."""
        node = self.find(path)
        if node is None:
            return None
        text = node.text.strip()
        return text or None


@dataclass(frozen=True)
class ParsedMark:
    """One mark as the file states it, ready to be written."""

    office: Office
    serial_number: str
    mark_text: str
    status: MarkStatus
    nice_classes: tuple[int, ...]
    line: int
    registration_number: str | None = None
    status_code: str | None = None
    owner: str | None = None
    filing_date: date | None = None
    registration_date: date | None = None
    status_date: date | None = None
    source_url: str | None = None
    # False: the office's status is not in a sourced table, or its meaning is unclear; the
    # mark is then treated as pending (see uspto_status.py) and counted in the summary.
    status_verified: bool = True
    # The office removed the record from its register (EUIPO operationCode="Delete").
    deleted: bool = False


@dataclass(frozen=True)
class Skipped:
    """A record that was read but not imported, and why (counted in the import summary)."""

    reason: str
    line: int
    serial_number: str | None = None


Parsed = ParsedMark | Skipped


@dataclass
class Source:
    """An opened bulk file: the XML byte stream, its member name and uncompressed size."""

    stream: IO[bytes]
    name: str
    size: int
    closers: list[IO[bytes] | zipfile.ZipFile] = field(default_factory=list)
    # Bytes of the XML consumed so far (progress).
    position: int = 0

    def close(self) -> None:
        for closer in reversed(self.closers):
            closer.close()


def open_source(path: Path) -> Source:
    """Open `path` as XML: a plain .xml, the single .xml member of a .zip, or a .gz."""
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file; give the path of a downloaded bulk file.")
    raw = path.open("rb")
    head = raw.read(4)
    raw.seek(0)
    if head.startswith(b"PK\x03\x04"):
        try:
            archive = zipfile.ZipFile(raw)
        except zipfile.BadZipFile as e:
            raw.close()
            raise ImportFileError(
                f"{path.name}: not a readable zip archive ({e}); download the file again."
            ) from e
        members = [i for i in archive.infolist() if i.filename.lower().endswith(".xml")]
        if len(members) != 1:
            names = ", ".join(i.filename for i in archive.infolist()[:5]) or "nothing"
            archive.close()
            raw.close()
            raise ImportFileError(
                f"{path.name}: a bulk zip holds exactly one .xml file; this one holds {names}. "
                "Unzip it and import the XML file itself."
            )
        member = members[0]
        stream = archive.open(member)
        return Source(stream, member.filename, member.file_size, [raw, archive, stream])
    if head.startswith(b"\x1f\x8b"):
        stream_gz = cast(IO[bytes], gzip.open(raw))
        # gzip keeps the uncompressed size modulo 2**32 in its last four bytes (RFC 1952).
        raw.seek(-4, io.SEEK_END)
        size = int.from_bytes(raw.read(4), "little")
        raw.seek(0)
        return Source(stream_gz, path.name.removesuffix(".gz"), size, [raw, stream_gz])
    return Source(raw, path.name, path.stat().st_size, [raw])


def _local(name: str) -> str:
    # expat with a namespace separator reports "uri}local"; keep the local name.
    return name.rsplit("}", 1)[-1]


class RecordReader:
    """Stream the elements named `record_tag` out of an XML byte stream.

    `root` is the document element's local name once the first start tag was read; `position`
    the bytes consumed so far (for progress). A malformed document raises ImportFileError naming
    the line and column.
    """

    def __init__(self, source: Source, record_tag: str) -> None:
        self.source = source
        self.record_tag = record_tag
        self.root: str | None = None
        self.position = 0
        self._stack: list[Record] = []
        self._done: list[Record] = []
        self._parser = expat.ParserCreate(namespace_separator="}")
        self._parser.buffer_text = True
        # Never read the DTD or other external entities a file names.
        self._parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self._parser.StartElementHandler = self._start
        self._parser.EndElementHandler = self._end
        self._parser.CharacterDataHandler = self._text

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        tag = _local(name)
        if self.root is None:
            self.root = tag
        if self._stack or tag == self.record_tag:
            node = Record(
                tag, self._parser.CurrentLineNumber, {_local(k): v for k, v in attrs.items()}
            )
            if self._stack:
                self._stack[-1].children.append(node)
            self._stack.append(node)

    def _end(self, name: str) -> None:
        if not self._stack:
            return
        node = self._stack.pop()
        if not self._stack:
            self._done.append(node)

    def _text(self, data: str) -> None:
        if self._stack:
            self._stack[-1].text += data

    def _error(self, e: expat.ExpatError) -> ImportFileError:
        return ImportFileError(
            f"{self.source.name}: malformed XML at line {e.lineno}, column {e.offset + 1}: "
            f"{expat.errors.messages[e.code]}"
        )

    def __iter__(self) -> Iterator[Record]:
        stream = self.source.stream
        while True:
            try:
                chunk = stream.read(CHUNK)
            except (OSError, EOFError, zipfile.BadZipFile) as e:
                raise ImportFileError(
                    f"{self.source.name}: the file could not be read after byte {self.position} "
                    f"({e}); download it again."
                ) from e
            self.position += len(chunk)
            self.source.position = self.position
            try:
                self._parser.Parse(chunk, not chunk)
            except expat.ExpatError as e:
                # Records finished before the error in this chunk are still good.
                yield from self._drain()
                raise self._error(e) from e
            yield from self._drain()
            if not chunk:
                return

    def _drain(self) -> Iterator[Record]:
        while self._done:
            yield self._done.pop(0)


def parse_date(value: str | None, *, formats: tuple[str, ...]) -> date | None:
    """A date from the office's text; None for empty, all-zero or unparseable values."""
    from datetime import datetime

    if not value or not value.strip("0- "):
        return None
    for fmt in formats:
        try:
            return datetime.strptime(value.strip()[:10], fmt).date()
        except ValueError:
            continue
    return None


def nice_classes(values: list[str]) -> tuple[int, ...]:
    """Nice class numbers from class texts like "025" or "9"; others are ignored.

    "The Nice Classification divides goods and services into 45 classes. Classes 1 to 34 relate
    to goods, while Classes 35 to 45 relate to services" (IPOS, digitalhub.ipos.gov.sg,
    MN_TmIcgsSearch page).
    """
    classes: set[int] = set()
    for value in values:
        text = value.strip()
        if text.isdigit() and 1 <= int(text) <= 45:
            classes.add(int(text))
    return tuple(sorted(classes))


Parser = Callable[[Source], Iterator[Parsed]]


def document_element(path: Path) -> str:
    """The local name of the file's document element, reading no more than needed."""
    source = open_source(path)
    root: str | None = None

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal root
        if root is None:
            root = _local(name)

    parser = expat.ParserCreate(namespace_separator="}")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler = start
    seen = 0
    try:
        while root is None:
            chunk = source.stream.read(1 << 16)
            seen += len(chunk)
            try:
                parser.Parse(chunk, not chunk)
            except expat.ExpatError as e:
                if root is not None:
                    break
                if not seen:
                    raise ImportFileError(
                        f"{source.name}: the file is empty; download it again."
                    ) from e
                raise ImportFileError(
                    f"{source.name}: not an XML file (line {e.lineno}, column {e.offset + 1}: "
                    f"{expat.errors.messages[e.code]}); give the .xml or .zip bulk file."
                ) from e
            if not chunk:
                break
    finally:
        source.close()
    if root is None:
        raise ImportFileError(f"{source.name}: the file is empty; download it again.")
    return root

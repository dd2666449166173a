import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import JSONType, RecordModel, StringEnum
from flashfusion.safeguard.trademark.types import MarkStatus, Office


class TrademarkMark(RecordModel):
    """One mark of a public register (USPTO, EUIPO), as its latest imported file states it.

    Global reference data, not tenant-owned: every workspace screens against the same register.
    The four key columns hold `normalize.mark_keys(mark_text)` and are what the matcher looks up;
    `last_import_id` names the import that last inserted the mark or changed its text, status or
    classes (re-screens follow those, not every touched row). A mark the office deleted from its
    register is soft-deleted (`deleted_at`).
    """

    __tablename__ = "trademark_marks"
    __table_args__ = (
        UniqueConstraint("office", "serial_number"),
        # One index on `normalized`, the right kind per dialect: on PostgreSQL a GIN trigram
        # index (pg_trgm), which serves similarity (`%`) and equality / IN too (its index scan
        # checked with EXPLAIN on PostgreSQL 15); on SQLite a plain B-tree for equality, with the
        # trademark_marks_fts table (migration 0005) for similarity.
        Index(
            "trademark_marks_normalized_idx",
            "normalized",
            postgresql_using="gin",
            postgresql_ops={"normalized": "gin_trgm_ops"},
        ),
    )

    office: Mapped[Office] = mapped_column(StringEnum(Office, 16), nullable=False)
    # The office's application number (USPTO serial number, EUIPO filing number).
    serial_number: Mapped[str] = mapped_column(String(32), nullable=False)
    registration_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    mark_text: Mapped[str] = mapped_column(Text, nullable=False)
    normalized: Mapped[str] = mapped_column(Text, nullable=False)
    compact: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    phonetic: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    sorted_tokens: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    status: Mapped[MarkStatus] = mapped_column(StringEnum(MarkStatus, 16), nullable=False)
    # The office's own status: USPTO three-digit code, EUIPO status text.
    status_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    owner: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Nice classes, ascending, as ints.
    nice_classes: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)
    filing_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    registration_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    status_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    source_url: Mapped[str | None] = mapped_column(String(300), nullable=True)
    last_import_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("trademark_imports.id", ondelete="set null"), nullable=True, index=True
    )
    # When the register data of this row last changed (an import's write), for operators.
    imported_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)

"""trademark marks and imports

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 03:05:00

Similarity lookup over `trademark_marks.normalized`: on PostgreSQL a GIN trigram index
(pg_trgm, https://www.postgresql.org/docs/current/pgtrgm.html); on SQLite an FTS5 table with
the trigram tokenizer (SQLite >= 3.34, https://www.sqlite.org/fts5.html#the_trigram_tokenizer)
holding each distinct normalized text once, keyed by a hash of it. The repository
(`safeguard/trademark/repository.py`) keeps it in step with the marks; no triggers, so that
the table's rowid scheme lives in one place.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("SET LOCAL lock_timeout = '5s'")
        # IF NOT EXISTS: an operator may have installed it already. pg_trgm is "trusted": a
        # non-superuser with CREATE on the database may install it (pgtrgm.html).
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "trademark_imports",
        sa.Column("office", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("file_path", sa.Text(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("bytes_total", sa.BigInteger(), nullable=False),
        sa.Column("bytes_done", sa.BigInteger(), nullable=False),
        sa.Column("records_done", sa.Integer(), nullable=False),
        sa.Column("records_read", sa.Integer(), nullable=False),
        sa.Column("inserted", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("unverified_status", sa.Integer(), nullable=False),
        sa.Column("skip_reasons", JSON, nullable=False),
        sa.Column("skip_examples", JSON, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("rescreen_job_id", sa.Uuid(), nullable=True),
        sa.Column("created_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("trademark_imports_created_by_user_id_fkey"),
            ondelete="set null",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("trademark_imports_job_id_fkey"), ondelete="set null"
        ),
        sa.ForeignKeyConstraint(
            ["rescreen_job_id"],
            ["jobs.id"],
            name=op.f("trademark_imports_rescreen_job_id_fkey"),
            ondelete="set null",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("trademark_imports_pkey")),
    )
    with op.batch_alter_table("trademark_imports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("trademark_imports_file_sha256_idx"), ["file_sha256"], unique=False
        )

    op.create_table(
        "trademark_marks",
        sa.Column("office", sa.String(length=16), nullable=False),
        sa.Column("serial_number", sa.String(length=32), nullable=False),
        sa.Column("registration_number", sa.String(length=32), nullable=True),
        sa.Column("mark_text", sa.Text(), nullable=False),
        sa.Column("normalized", sa.Text(), nullable=False),
        sa.Column("compact", sa.Text(), nullable=False),
        sa.Column("phonetic", sa.Text(), nullable=False),
        sa.Column("sorted_tokens", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_code", sa.String(length=64), nullable=True),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("nice_classes", JSON, nullable=False),
        sa.Column("filing_date", sa.Date(), nullable=True),
        sa.Column("registration_date", sa.Date(), nullable=True),
        sa.Column("status_date", sa.Date(), nullable=True),
        sa.Column("source_url", sa.String(length=300), nullable=True),
        sa.Column("last_import_id", sa.Uuid(), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["last_import_id"],
            ["trademark_imports.id"],
            name=op.f("trademark_marks_last_import_id_fkey"),
            ondelete="set null",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("trademark_marks_pkey")),
        sa.UniqueConstraint(
            "office", "serial_number", name=op.f("trademark_marks_office_serial_number_key")
        ),
    )
    with op.batch_alter_table("trademark_marks", schema=None) as batch_op:
        for column in ("compact", "phonetic", "sorted_tokens", "last_import_id"):
            batch_op.create_index(
                batch_op.f(f"trademark_marks_{column}_idx"), [column], unique=False
            )
        # GIN trigram on PostgreSQL (similarity and equality); a plain B-tree on SQLite.
        batch_op.create_index(
            batch_op.f("trademark_marks_normalized_idx"),
            ["normalized"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"normalized": "gin_trgm_ops"},
        )
    if dialect != "postgresql":
        op.execute(
            "CREATE VIRTUAL TABLE trademark_marks_fts USING fts5(normalized, tokenize='trigram')"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("SET LOCAL lock_timeout = '5s'")
    else:
        op.execute("DROP TABLE IF EXISTS trademark_marks_fts")
    with op.batch_alter_table("trademark_marks", schema=None) as batch_op:
        for column in ("normalized", "last_import_id", "sorted_tokens", "phonetic", "compact"):
            batch_op.drop_index(batch_op.f(f"trademark_marks_{column}_idx"))
    op.drop_table("trademark_marks")
    with op.batch_alter_table("trademark_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("trademark_imports_file_sha256_idx"))
    op.drop_table("trademark_imports")
    # pg_trgm stays: it may have been there before this migration, and other schemas may use it.

"""content fingerprints for duplicate detection

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 03:06:00

MinHash fingerprints of listing copy fields and their LSH band buckets
(`safeguard/plagiarism/`). Plain B-tree indexes only, the same on SQLite and PostgreSQL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table(
        "content_fingerprints",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("listing_copy_id", sa.Uuid(), nullable=False),
        sa.Column("listing_copy_version", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_copy_id"],
            ["listing_copies.id"],
            name=op.f("content_fingerprints_listing_copy_id_fkey"),
            ondelete="cascade",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("content_fingerprints_organization_id_fkey"),
            ondelete="cascade",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("content_fingerprints_pkey")),
        sa.UniqueConstraint(
            "listing_copy_id", "field", name=op.f("content_fingerprints_listing_copy_id_field_key")
        ),
    )
    with op.batch_alter_table("content_fingerprints", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("content_fingerprints_organization_id_idx"),
            ["organization_id"],
            unique=False,
        )

    op.create_table(
        "content_fingerprint_bands",
        sa.Column("fingerprint_id", sa.Uuid(), nullable=False),
        sa.Column("band", sa.SmallInteger(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["fingerprint_id"],
            ["content_fingerprints.id"],
            name=op.f("content_fingerprint_bands_fingerprint_id_fkey"),
            ondelete="cascade",
        ),
        sa.PrimaryKeyConstraint(
            "fingerprint_id", "band", name=op.f("content_fingerprint_bands_pkey")
        ),
    )
    with op.batch_alter_table("content_fingerprint_bands", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("content_fingerprint_bands_band_bucket_idx"),
            ["band", "bucket"],
            unique=False,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SET LOCAL lock_timeout = '5s'")
    with op.batch_alter_table("content_fingerprint_bands", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("content_fingerprint_bands_band_bucket_idx"))

    op.drop_table("content_fingerprint_bands")
    with op.batch_alter_table("content_fingerprints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("content_fingerprints_organization_id_idx"))

    op.drop_table("content_fingerprints")

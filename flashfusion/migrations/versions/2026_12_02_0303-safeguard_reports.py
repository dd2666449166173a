"""safeguard reports, overrides and settings

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 03:07:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table(
        "safeguard_settings",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column(
            "trademark_thresholds",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("quality_warn_below", sa.Integer(), nullable=False),
        sa.Column("plagiarism_threshold", sa.Float(), nullable=False),
        sa.Column("pause_on_new_mark", sa.Boolean(), nullable=False),
        sa.Column("block_on_warn", sa.Boolean(), nullable=False),
        sa.Column("modified_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["modified_by_user_id"],
            ["users.id"],
            name=op.f("safeguard_settings_modified_by_user_id_fkey"),
            ondelete="set null",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("safeguard_settings_organization_id_fkey"),
            ondelete="cascade",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("safeguard_settings_pkey")),
        sa.UniqueConstraint("organization_id", name=op.f("safeguard_settings_organization_id_key")),
    )
    op.create_table(
        "safeguard_reports",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=True),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "subject",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("verdict", sa.String(length=8), nullable=False),
        sa.Column(
            "findings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "counts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("quality_score", sa.Integer(), nullable=True),
        sa.Column(
            "checks",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("created_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("safeguard_reports_created_by_user_id_fkey"),
            ondelete="set null",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("safeguard_reports_organization_id_fkey"),
            ondelete="cascade",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("safeguard_reports_product_id_fkey"),
            ondelete="cascade",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("safeguard_reports_pkey")),
    )
    with op.batch_alter_table("safeguard_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("safeguard_reports_organization_id_created_at_idx"),
            ["organization_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("safeguard_reports_organization_id_idx"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("safeguard_reports_product_id_created_at_idx"),
            ["product_id", "created_at"],
            unique=False,
        )

    op.create_table(
        "safeguard_holds",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=True),
        sa.Column("import_id", sa.String(length=64), nullable=True),
        sa.Column(
            "marks",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("release_reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("safeguard_holds_organization_id_fkey"),
            ondelete="cascade",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("safeguard_holds_product_id_fkey"),
            ondelete="cascade",
        ),
        sa.ForeignKeyConstraint(
            ["released_by_user_id"],
            ["users.id"],
            name=op.f("safeguard_holds_released_by_user_id_fkey"),
            ondelete="set null",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["safeguard_reports.id"],
            name=op.f("safeguard_holds_report_id_fkey"),
            ondelete="set null",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("safeguard_holds_pkey")),
        sa.UniqueConstraint("product_id", name=op.f("safeguard_holds_product_id_key")),
    )
    with op.batch_alter_table("safeguard_holds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("safeguard_holds_organization_id_idx"), ["organization_id"], unique=False
        )

    op.create_table(
        "safeguard_overrides",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("safeguard_overrides_organization_id_fkey"),
            ondelete="cascade",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["safeguard_reports.id"],
            name=op.f("safeguard_overrides_report_id_fkey"),
            ondelete="cascade",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("safeguard_overrides_user_id_fkey"),
            ondelete="set null",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("safeguard_overrides_pkey")),
        sa.UniqueConstraint("report_id", name=op.f("safeguard_overrides_report_id_key")),
    )
    with op.batch_alter_table("safeguard_overrides", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("safeguard_overrides_organization_id_idx"), ["organization_id"], unique=False
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SET LOCAL lock_timeout = '5s'")
    with op.batch_alter_table("safeguard_overrides", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("safeguard_overrides_organization_id_idx"))

    op.drop_table("safeguard_overrides")
    with op.batch_alter_table("safeguard_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("safeguard_holds_organization_id_idx"))

    op.drop_table("safeguard_holds")
    with op.batch_alter_table("safeguard_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("safeguard_reports_product_id_created_at_idx"))
        batch_op.drop_index(batch_op.f("safeguard_reports_organization_id_idx"))
        batch_op.drop_index(batch_op.f("safeguard_reports_organization_id_created_at_idx"))

    op.drop_table("safeguard_reports")
    op.drop_table("safeguard_settings")

"""channel listings and the publish ledger

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 15:09:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table(
        "channel_listings",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("remote_id", sa.String(length=100), nullable=True),
        sa.Column("remote_url", sa.String(length=500), nullable=True),
        sa.Column("published_version", sa.Integer(), nullable=True),
        sa.Column("desired_version", sa.Integer(), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=True),
        sa.Column("error_code", sa.String(length=80), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_action", sa.Text(), nullable=True),
        sa.Column("error_kind", sa.String(length=16), nullable=True),
        sa.Column(
            "drift",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["platform_connections.id"],
            name=op.f("channel_listings_connection_id_fkey"),
            ondelete="cascade",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("channel_listings_organization_id_fkey"),
            ondelete="cascade",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("channel_listings_product_id_fkey"),
            ondelete="cascade",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("channel_listings_pkey")),
        sa.UniqueConstraint("external_id", name=op.f("channel_listings_external_id_key")),
        sa.UniqueConstraint(
            "product_id",
            "connection_id",
            name=op.f("channel_listings_product_id_connection_id_key"),
        ),
    )
    with op.batch_alter_table("channel_listings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("channel_listings_connection_id_state_idx"),
            ["connection_id", "state"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("channel_listings_organization_id_idx"), ["organization_id"], unique=False
        )

    op.create_table(
        "publish_intents",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("remote_id", sa.String(length=100), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error_code", sa.String(length=80), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_action", sa.Text(), nullable=True),
        sa.Column("error_kind", sa.String(length=16), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("publish_intents_job_id_fkey"), ondelete="set null"
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["channel_listings.id"],
            name=op.f("publish_intents_listing_id_fkey"),
            ondelete="cascade",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("publish_intents_organization_id_fkey"),
            ondelete="cascade",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("publish_intents_pkey")),
        sa.UniqueConstraint(
            "listing_id",
            "action",
            "version",
            name=op.f("publish_intents_listing_id_action_version_key"),
        ),
    )
    with op.batch_alter_table("publish_intents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("publish_intents_listing_id_idx"), ["listing_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("publish_intents_organization_id_idx"), ["organization_id"], unique=False
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SET LOCAL lock_timeout = '5s'")
    with op.batch_alter_table("publish_intents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("publish_intents_organization_id_idx"))
        batch_op.drop_index(batch_op.f("publish_intents_listing_id_idx"))

    op.drop_table("publish_intents")
    with op.batch_alter_table("channel_listings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("channel_listings_organization_id_idx"))
        batch_op.drop_index(batch_op.f("channel_listings_connection_id_state_idx"))

    op.drop_table("channel_listings")

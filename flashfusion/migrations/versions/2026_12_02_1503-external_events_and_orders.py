"""inbound webhook events and orders

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _record_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
    ]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table(
        "external_events",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=True),
        sa.Column("resource_id", sa.String(length=200), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        *_record_columns(),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["platform_connections.id"],
            name=op.f("external_events_connection_id_fkey"),
            ondelete="cascade",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("external_events_organization_id_fkey"),
            ondelete="cascade",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("external_events_pkey")),
        sa.UniqueConstraint(
            "connection_id", "event_id", name=op.f("external_events_connection_id_event_id_key")
        ),
    )
    with op.batch_alter_table("external_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("external_events_organization_id_idx"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("external_events_organization_id_received_at_idx"),
            ["organization_id", "received_at"],
            unique=False,
        )

    op.create_table(
        "orders",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("remote_id", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("platform_status", sa.String(length=64), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("remote_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("subtotal", sa.Integer(), nullable=True),
        sa.Column("shipping", sa.Integer(), nullable=True),
        sa.Column("customer_name", sa.String(length=200), nullable=True),
        sa.Column("customer_email", sa.String(length=320), nullable=True),
        sa.Column("ship_country", sa.String(length=2), nullable=True),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=False),
        *_record_columns(),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["platform_connections.id"],
            name=op.f("orders_connection_id_fkey"),
            ondelete="cascade",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("orders_organization_id_fkey"),
            ondelete="cascade",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("orders_pkey")),
        sa.UniqueConstraint(
            "connection_id", "remote_id", name=op.f("orders_connection_id_remote_id_key")
        ),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("orders_organization_id_idx"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("orders_organization_id_placed_at_idx"),
            ["organization_id", "placed_at"],
            unique=False,
        )

    op.create_table(
        "order_line_items",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("remote_id", sa.String(length=100), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Integer(), nullable=True),
        sa.Column("listing_id", sa.Uuid(), nullable=True),
        sa.Column("product_id", sa.Uuid(), nullable=True),
        *_record_columns(),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["channel_listings.id"],
            name=op.f("order_line_items_listing_id_fkey"),
            ondelete="set null",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("order_line_items_order_id_fkey"),
            ondelete="cascade",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("order_line_items_organization_id_fkey"),
            ondelete="cascade",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("order_line_items_product_id_fkey"),
            ondelete="set null",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("order_line_items_pkey")),
        sa.UniqueConstraint(
            "order_id", "remote_id", name=op.f("order_line_items_order_id_remote_id_key")
        ),
    )
    with op.batch_alter_table("order_line_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("order_line_items_listing_id_idx"), ["listing_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("order_line_items_organization_id_idx"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("order_line_items_product_id_idx"), ["product_id"], unique=False
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SET LOCAL lock_timeout = '5s'")
    with op.batch_alter_table("order_line_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("order_line_items_product_id_idx"))
        batch_op.drop_index(batch_op.f("order_line_items_organization_id_idx"))
        batch_op.drop_index(batch_op.f("order_line_items_listing_id_idx"))

    op.drop_table("order_line_items")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("orders_organization_id_placed_at_idx"))
        batch_op.drop_index(batch_op.f("orders_organization_id_idx"))

    op.drop_table("orders")
    with op.batch_alter_table("external_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("external_events_organization_id_received_at_idx"))
        batch_op.drop_index(batch_op.f("external_events_organization_id_idx"))

    op.drop_table("external_events")

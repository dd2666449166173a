"""connector rate-limit buckets and circuit breakers

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 15:04:00

The rate-limit buckets are not here: pyrate-limiter creates one table per bucket, on SQLite in
<FLASHFUSION_HOME>/ratelimit.sqlite and on PostgreSQL in the `flashfusion_ratelimit` schema
(connector/ratelimit.py), so they stay out of the migrated schema.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table(
        "connector_breakers",
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("cooldown_seconds", sa.Float(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("trial_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["platform_connections.id"],
            name=op.f("connector_breakers_connection_id_fkey"),
            ondelete="cascade",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("connector_breakers_organization_id_fkey"),
            ondelete="cascade",
        ),
        sa.PrimaryKeyConstraint("connection_id", name=op.f("connector_breakers_pkey")),
    )
    with op.batch_alter_table("connector_breakers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("connector_breakers_organization_id_idx"), ["organization_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("connector_breakers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("connector_breakers_organization_id_idx"))
    op.drop_table("connector_breakers")

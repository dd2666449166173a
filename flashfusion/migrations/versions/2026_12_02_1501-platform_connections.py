"""platform connections and OAuth states

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 15:08:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table(
        "platform_connections",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sandbox", sa.Boolean(), nullable=False),
        sa.Column("base_url", sa.String(length=300), nullable=True),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("account_name", sa.String(length=200), nullable=True),
        sa.Column(
            "account",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("encrypted_credentials", sa.LargeBinary(), nullable=True),
        sa.Column("credential_hint", sa.String(length=8), nullable=True),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("encrypted_webhook_secret", sa.LargeBinary(), nullable=True),
        sa.Column("webhook_url", sa.String(length=500), nullable=True),
        sa.Column("problem_code", sa.String(length=64), nullable=True),
        sa.Column("problem_message", sa.Text(), nullable=True),
        sa.Column("problem_action", sa.Text(), nullable=True),
        sa.Column("problem_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("linked_connection_id", sa.Uuid(), nullable=True),
        sa.Column("created_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("platform_connections_created_by_user_id_fkey"),
            ondelete="set null",
        ),
        sa.ForeignKeyConstraint(
            ["linked_connection_id"],
            ["platform_connections.id"],
            name=op.f("platform_connections_linked_connection_id_fkey"),
            ondelete="set null",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("platform_connections_organization_id_fkey"),
            ondelete="cascade",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("platform_connections_pkey")),
        sa.UniqueConstraint(
            "organization_id",
            "platform",
            "account_id",
            "sandbox",
            name=op.f("platform_connections_organization_id_platform_account_id_sandbox_key"),
        ),
    )
    with op.batch_alter_table("platform_connections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("platform_connections_organization_id_idx"),
            ["organization_id"],
            unique=False,
        )

    op.create_table(
        "oauth_states",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("sandbox", sa.Boolean(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=True),
        sa.Column("encrypted_code_verifier", sa.LargeBinary(), nullable=True),
        sa.Column("redirect_uri", sa.String(length=500), nullable=False),
        sa.Column("return_url", sa.String(length=500), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("oauth_states_api_key_id_fkey"),
            ondelete="cascade",
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["platform_connections.id"],
            name=op.f("oauth_states_connection_id_fkey"),
            ondelete="cascade",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("oauth_states_organization_id_fkey"),
            ondelete="cascade",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("oauth_states_user_id_fkey"), ondelete="cascade"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("oauth_states_pkey")),
        sa.UniqueConstraint("state_hash", name=op.f("oauth_states_state_hash_key")),
    )
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("oauth_states_organization_id_idx"), ["organization_id"], unique=False
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SET LOCAL lock_timeout = '5s'")
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("oauth_states_organization_id_idx"))

    op.drop_table("oauth_states")
    with op.batch_alter_table("platform_connections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("platform_connections_organization_id_idx"))

    op.drop_table("platform_connections")

"""channel_listings.create_sent_at: when a create was first sent without a known remote id

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 15:05:00

Find-before-create uses it: an item on the platform without our marker (an Etsy draft whose
inventory, and so whose SKUs, was never set) can be ours only if a create was sent for the
listing and its answer lost, and only if the item was made after that.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SET LOCAL lock_timeout = '5s'")
    with op.batch_alter_table("channel_listings") as batch:
        batch.add_column(sa.Column("create_sent_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("channel_listings") as batch:
        batch.drop_column("create_sent_at")

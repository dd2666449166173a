"""audit_events: refuse TRUNCATE as well as UPDATE and DELETE (PostgreSQL)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 23:59:00

Row triggers do not fire on TRUNCATE; a statement trigger does. SQLite has no TRUNCATE (its
`DELETE FROM` without WHERE runs the row triggers, which refuse it).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")

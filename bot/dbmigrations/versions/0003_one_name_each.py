"""One name per concept: `approvals.via` becomes `interface` (where a decision was made: slack
or cli; "via" names the replicator in the start grammar), and `migrations.note` becomes
`waiting_for` (what the current step waits for; a "notification" is something else). Rows are
kept (SQLite >= 3.25 and PostgreSQL rename a column in place).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RENAMED = (("approvals", "via", "interface"), ("migrations", "note", "waiting_for"))


def upgrade() -> None:
    for table, old, new in RENAMED:
        op.execute(f"ALTER TABLE {table} RENAME COLUMN {old} TO {new}")


def downgrade() -> None:
    for table, old, new in RENAMED:
        op.execute(f"ALTER TABLE {table} RENAME COLUMN {new} TO {old}")

"""One name for the migration's version: `approvals.state_version` and
`gate_messages.state_version` become `version`, as on `migrations` (the version the approver
was shown; the version a gate request was posted at). Rows are kept; the unique constraint on
approvals follows the renamed column (SQLite >= 3.25 and PostgreSQL rename it in place).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("approvals", "gate_messages")


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RENAME COLUMN state_version TO version")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RENAME COLUMN version TO state_version")

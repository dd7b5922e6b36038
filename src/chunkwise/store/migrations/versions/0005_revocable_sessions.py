"""Sessions that end at once: each account's session generation, which a password change
or an admin's revoke moves on, and the signed-out sessions whose tokens have not expired.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, as in 0002: no batch copy of the users table (its tokens would go
    # with it through ON DELETE CASCADE).
    op.add_column(
        "users",
        sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_table(
        "ended_sessions",
        sa.Column("session_id", sa.String(32), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ended_sessions_expires_at", "ended_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_ended_sessions_expires_at", table_name="ended_sessions")
    op.drop_table("ended_sessions")
    # SQLite drops a column in place since 3.35; no batch copy, for the reason above.
    op.drop_column("users", "session_generation")

"""Accounts and API tokens, jobs owned and prioritised, idempotency keys, the seed
surfaces' request and task tables, and each chunk's start time.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)
FALSE = sa.false()


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN and CREATE INDEX, which SQLite does in place: a
    # batch operation would copy the jobs table and drop the old one, and with foreign
    # keys on, dropping it deletes every chunk through ON DELETE CASCADE.
    op.add_column("jobs", sa.Column("owner_id", sa.Uuid(), nullable=True))
    op.add_column("jobs", sa.Column("demo", sa.Boolean(), nullable=False, server_default=FALSE))
    op.add_column("jobs", sa.Column("priority", sa.String(8), nullable=True))
    op.create_index("ix_jobs_owner_id", "jobs", ["owner_id"])
    op.add_column("chunks", sa.Column("started_at", UTC_TIME, nullable=True))
    op.create_index("ix_chunks_finished_at", "chunks", ["finished_at"])
    op.add_column("expired_jobs", sa.Column("owner_id", sa.Uuid(), nullable=True))
    op.add_column(
        "expired_jobs", sa.Column("demo", sa.Boolean(), nullable=False, server_default=FALSE)
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("revoked_at", UTC_TIME, nullable=True),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(320), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])
    op.create_table(
        "compat_requests",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
    )
    op.create_table(
        "compat_tasks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("task_type", sa.String(64), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
    )
    op.create_index("ix_compat_tasks_job_id", "compat_tasks", ["job_id"])


def downgrade() -> None:
    for table in ("compat_tasks", "compat_requests", "idempotency_keys", "api_tokens", "users"):
        op.drop_table(table)
    for column in ("demo", "owner_id"):
        op.drop_column("expired_jobs", column)
    op.drop_index("ix_chunks_finished_at", "chunks")
    op.drop_column("chunks", "started_at")
    op.drop_index("ix_jobs_owner_id", "jobs")
    for column in ("priority", "demo", "owner_id"):
        op.drop_column("jobs", column)

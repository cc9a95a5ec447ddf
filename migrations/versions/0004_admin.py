"""The admin app: the inspector's request log and the standalone admin's command queue.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "request_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("host", sa.String(), nullable=False),
        sa.Column("method", sa.String(), nullable=False),
        sa.Column("path", sa.String(), nullable=False),
        sa.Column("template", sa.String(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("session", sa.String(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_index("ix_request_log_endpoint", "request_log", ["host", "method", "template"])
    op.create_index("ix_request_log_session", "request_log", ["session"])
    op.create_index("ix_request_log_status", "request_log", ["status"])
    op.create_index("ix_request_log_source", "request_log", ["source"])
    op.create_table(
        "admin_commands",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("command", sa.String(), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("result", sa.String(), nullable=True),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
    )
    op.create_index("ix_admin_commands_state", "admin_commands", ["state"])
    # the explorer sorts endpoints by request count and last sighting, a page at a time
    op.create_index("ix_endpoints_sample_count", "endpoints", ["sample_count"])
    op.create_index("ix_endpoints_last_seen", "endpoints", ["last_seen"])


def downgrade() -> None:
    op.drop_index("ix_endpoints_last_seen", table_name="endpoints")
    op.drop_index("ix_endpoints_sample_count", table_name="endpoints")
    op.drop_index("ix_admin_commands_state", table_name="admin_commands")
    op.drop_table("admin_commands")
    for name in ("ix_request_log_source", "ix_request_log_status", "ix_request_log_session", "ix_request_log_endpoint"):
        op.drop_index(name, table_name="request_log")
    op.drop_table("request_log")

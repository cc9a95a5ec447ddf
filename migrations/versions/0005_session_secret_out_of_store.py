"""The session-signing secret leaves the store: whoever could read it could forge admin sessions.

Sessions are now signed with a key derived from a master key outside the store (a 0600 key file beside
it, or MIMIC_ADMIN_SESSION_SECRET) and an epoch kept in the store (admin_app/auth/secrets_store.py).
The old plain secret is deleted: sessions signed with it end (everyone logs in again once).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEGACY_SECRET_KEY = "admin.session_secret"


def upgrade() -> None:
    settings = sa.table("settings", sa.column("key", sa.String))
    op.execute(settings.delete().where(settings.c.key == LEGACY_SECRET_KEY))


def downgrade() -> None:
    pass  # the secret is gone for good: an older version makes itself a new one

"""Persistence of the learned API model (SQLite or PostgreSQL, Alembic-migrated)."""
from __future__ import annotations

from mimic_addon.store.store import Store, StoreError

__all__ = ["Store", "StoreError"]

"""Persistence of the learned API model (SQLite or PostgreSQL, Alembic-migrated)."""
from __future__ import annotations

import logging

# (alembic tells at INFO what it sets up, when imported, and what it assumes of each database, at every
# start: noise in the proxy's log; its warnings and errors still show)
if logging.getLogger("alembic").level == logging.NOTSET:  # (a level the user set stays)
    logging.getLogger("alembic").setLevel(logging.WARNING)

from mimic_addon.store.store import Store, StoreError  # noqa: E402

__all__ = ["Store", "StoreError"]

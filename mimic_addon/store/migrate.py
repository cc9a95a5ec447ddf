"""Bring a database schema to the newest Alembic revision, from code."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine


def migrations_dir() -> Path:
    """Folder of the Alembic scripts (``migrations/``, installed as ``mimic_addon.migrations``).

    Falls back to the source checkout's folder when the project is run
    without being installed.
    """
    try:
        return Path(str(resources.files("mimic_addon.migrations")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "migrations"


def upgrade(engine_or_url: Engine | str) -> None:
    """Run every pending migration up to ``head`` in one transaction.

    The Config is built in code, so no ``alembic.ini`` is read and
    ``logging.config.fileConfig`` is never called: that would detach the
    log handlers of mitmproxy.
    """
    engine = create_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    try:
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "heads")
    finally:
        if engine is not engine_or_url:
            engine.dispose()

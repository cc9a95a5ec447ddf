"""Turn the user's ``db`` option into a SQLAlchemy URL."""
from __future__ import annotations

from pathlib import Path

PRIVATE_DIR = 0o700


def database_url(db: str) -> str:
    """A file path becomes an absolute ``sqlite:///`` URL; a URL is used as is.

    ``postgresql://`` URLs get the psycopg 3 driver, the one installed. The
    parent directory of a SQLite file is created (private to its owner) when missing.
    """
    if db.startswith("postgresql://") or db.startswith("postgres://"):
        return "postgresql+psycopg://" + db.split("://", 1)[1]
    file = sqlite_path(db)
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    return db if "://" in db else f"sqlite:///{file}"


def sqlite_file(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL; None for an in-memory database or another database."""
    if not url.startswith("sqlite:///"):
        return None
    file = url.removeprefix("sqlite:///").split("?", 1)[0]
    return Path(file) if file and file != ":memory:" else None


def sqlite_path(db: str) -> Path | None:
    """The SQLite file the user's ``db`` option names (a path or a ``sqlite:///`` URL), creating
    nothing; None for another database or an in-memory one."""
    if "://" not in db:
        return Path(db).expanduser().resolve()
    return sqlite_file(db)

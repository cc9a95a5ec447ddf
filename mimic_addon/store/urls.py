"""Turn the user's ``db`` option into a SQLAlchemy URL."""
from __future__ import annotations

from pathlib import Path


def database_url(db: str) -> str:
    """A file path becomes an absolute ``sqlite:///`` URL; a URL is used as is.

    ``postgresql://`` URLs get the psycopg 3 driver, the one installed. The
    parent directory of a SQLite file is created when missing.
    """
    if "://" not in db:
        path = Path(db).expanduser().resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    if db.startswith("postgresql://") or db.startswith("postgres://"):
        return "postgresql+psycopg://" + db.split("://", 1)[1]
    if db.startswith("sqlite:///"):
        file = db.removeprefix("sqlite:///").split("?", 1)[0]
        if file and file != ":memory:":
            Path(file).parent.mkdir(parents=True, exist_ok=True)
    return db

"""Turn the user's ``db`` option into a SQLAlchemy URL."""
from __future__ import annotations

import urllib.parse
from pathlib import Path

from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

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
    """The database file of a ``sqlite:///`` URL, as SQLite will open it; None for an in-memory
    database or another database. With ``uri=true`` the name is an SQLite URI
    (``sqlite:///file:/data/mimic.db?mode=ro&uri=true`` opens ``/data/mimic.db``), or, without the
    ``file:`` scheme, a plain name that keeps the URL's other options (``mimic.db?mode=ro``): the file
    SQLite would create."""
    if not url.startswith("sqlite:///"):
        return None
    try:
        (name,), options = SQLiteDialect_pysqlite().create_connect_args(make_url(url))
    except (ArgumentError, ValueError):  # (options SQLite refuses: opening it says so; the name is the path's)
        file = url.removeprefix("sqlite:///").split("?", 1)[0]
        return Path(file) if file and file != ":memory:" else None
    if options.get("uri") and name.startswith("file:"):
        parts = urllib.parse.urlsplit(name)
        if "memory" in urllib.parse.parse_qs(parts.query).get("mode", ()):
            return None
        name = urllib.parse.unquote(parts.path)
    return Path(name) if name and name != ":memory:" else None


def sqlite_path(db: str) -> Path | None:
    """The SQLite file the user's ``db`` option names (a path or a ``sqlite:///`` URL), creating
    nothing; None for another database or an in-memory one."""
    if "://" not in db:
        return Path(db).expanduser().resolve()
    return sqlite_file(db)


def shown(db: str) -> str:
    """The store as it may be printed or logged: a database URL without its password."""
    if "://" not in db:
        return db
    try:
        url = make_url(db)
        secret = {k: "***" for k in url.query if "password" in k.lower()}  # (`?password=`, `?sslpassword=`)
        shown_url = (url.update_query_dict(secret) if secret else url).render_as_string(hide_password=True)
        return shown_url.replace("=%2A%2A%2A", "=***")
    except (ArgumentError, ValueError):  # (not a URL SQLAlchemy reads: nothing of it is shown but its scheme)
        return db.split("://", 1)[0] + "://..."

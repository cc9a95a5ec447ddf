"""Files only their owner may read: the SQLite store (with its -wal, -shm and -journal files) and key files.

SQLite creates a database's -wal, -shm and -journal files with the database file's own permissions, so
creating the database 0600 keeps them private too; sidecars left by an older, more open store are
tightened when the store is opened.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

PRIVATE = 0o600
SIDECARS = ("-wal", "-shm", "-journal")


def ensure_private_file(path: Path) -> None:
    """Create `path` empty and 0600 when missing; make it and its SQLite sidecars 0600 when they are not."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE))
    for file in (path, *(path.with_name(path.name + s) for s in SIDECARS)):
        tighten(file)


def tighten(path: Path) -> None:
    """Take group and other permissions off `path` (if it exists and is ours to change)."""
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            path.chmod(stat.S_IMODE(mode) & ~(stat.S_IRWXG | stat.S_IRWXO))
    except (FileNotFoundError, PermissionError):
        pass


def read_or_create_key(path: Path) -> str:
    """The secret in the key file at `path`, made (0600, 256 random bits) on first use.

    Two processes starting together agree: the key is written to a private temporary file first and
    linked into place, which fails when the other was quicker; then its key is read. Raises ValueError
    for a key file too short to be a key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(secrets.token_urlsafe(32) + "\n")
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    tighten(path)
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < 32:
        raise ValueError(f"the key file {path} holds no usable key (fewer than 32 characters): "
                         "delete it to have a new one made")
    return key

"""The admin token and the session-signing key.

The token is kept only as a salted scrypt hash in the store's settings table. Sessions are signed with a
key derived (HMAC-SHA256) from a master key the store never holds and a random epoch it does hold:

- the master key comes from MIMIC_ADMIN_SESSION_SECRET when set, else from a 0600 key file: next to a
  SQLite store (`<store>.key`), or for PostgreSQL in ~/.mimic/ (one per database). Whoever can only
  read the store (or a backup of it) sees the epoch, which forges nothing;
- the epoch is what rotates: a new one (token change, `--reset-token`) ends every session on every
  admin app sharing the store, within its re-read interval (core.STORE_CACHE_S).

Admin apps on one SQLite store (the embedded and the standalone one) share its key file. Proxies on
several machines sharing a PostgreSQL store accept each other's sessions only with the same
MIMIC_ADMIN_SESSION_SECRET; without it each machine signs with its own key file, and a session is
good on the machine that opened it.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from mimic_addon.store.private import read_or_create_key

TOKEN_KEY = "admin.token_hash"
EPOCH_KEY = "admin.session_epoch"
LEGACY_SECRET_KEY = "admin.session_secret"  # the plain signing secret of stores before revision 0005
MIN_SECRET_LENGTH = 32
SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # ~16 MiB and a few tens of ms per check: cheap here, costly in bulk

log = logging.getLogger("mimic.admin")


def hash_token(token: str, salt: bytes | None = None) -> dict[str, Any]:
    """A JSON-able record of `token`'s salted scrypt hash."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(token.encode(), salt=salt, dklen=32, **SCRYPT)
    return {"alg": "scrypt", **SCRYPT, "salt": salt.hex(), "hash": digest.hex()}


def token_matches(token: str, record: dict[str, Any] | None) -> bool:
    """Whether `token` is the one `record` was made from (constant-time comparison)."""
    if not record or not token or record.get("alg") != "scrypt":
        return False
    try:
        salt = bytes.fromhex(record["salt"])
        digest = hashlib.scrypt(token.encode(), salt=salt, dklen=32,
                                n=int(record["n"]), r=int(record["r"]), p=int(record["p"]))
        return hmac.compare_digest(digest.hex(), record["hash"])
    except (KeyError, ValueError, TypeError):
        return False


def new_token() -> str:
    return secrets.token_urlsafe(24)


def ensure_token(store: Any, explicit: str | None) -> str | None:
    """Make sure the store holds the admin token's hash.

    An explicit token (option / environment) replaces the stored hash when it differs, and then
    rotates the session-signing secret: sessions opened with the old token end. With none and
    nothing stored yet, a token is generated: it is returned (once, to be shown to the user) and
    only its hash is kept. Returns None when no new token was generated now.
    """
    record = store.get_setting(TOKEN_KEY, None)
    if explicit:
        if not token_matches(explicit, record):
            store.put_setting(TOKEN_KEY, hash_token(explicit))
            if record:
                rotate_secret(store)
        return None
    if record:
        return None
    token = new_token()
    store.put_setting(TOKEN_KEY, hash_token(token))
    return token


def reset_token(store: Any) -> str:
    """Rotate: a new token (returned once) and a new signing secret, which ends every session."""
    token = new_token()
    store.put_setting(TOKEN_KEY, hash_token(token))
    rotate_secret(store)
    return token


def rotate_secret(store: Any) -> None:
    """A new signing epoch: every session and pre-session cookie signed before stops working (on every
    admin app sharing the store, within its re-read interval, core.STORE_CACHE_S)."""
    store.put_setting(EPOCH_KEY, secrets.token_urlsafe(16))


def session_epoch(store: Any) -> str:
    """The signing epoch, made on first use; if two processes race, both end up with whichever was
    stored last (read back after writing)."""
    epoch = store.get_setting(EPOCH_KEY, None)
    if not epoch:
        rotate_secret(store)
        epoch = store.get_setting(EPOCH_KEY, None)
    return str(epoch)


def signing_key(master: str, epoch: str) -> str:
    """The key sessions are signed with: neither the master key nor the epoch alone gives it."""
    return hmac.new(master.encode(), f"mimic.admin.session:{epoch}".encode(), hashlib.sha256).hexdigest()


def key_file(store: Any) -> Path | None:
    """Where the master key of `store` is kept: beside a SQLite file, else in ~/.mimic/ per database
    (None for an in-memory SQLite store: nothing outlives the process there)."""
    path: Path | None = getattr(store, "path", None)
    if path is not None:
        return path.with_name(path.name + ".key")
    url = make_url(store.url)
    if url.get_backend_name() == "sqlite":
        return None
    where = f"{url.get_backend_name()}://{url.host or ''}:{url.port or ''}/{url.database or ''}"
    return Path("~/.mimic").expanduser() / f"admin-session-{hashlib.sha256(where.encode()).hexdigest()[:16]}.key"


def master_key(store: Any, explicit: str | None) -> str:
    """The master signing key: `explicit` (MIMIC_ADMIN_SESSION_SECRET) when given, else the store's
    key file, made on first use. Raises ValueError for a short explicit secret or a broken key file."""
    if explicit:
        if len(explicit) < MIN_SECRET_LENGTH:
            raise ValueError(f"MIMIC_ADMIN_SESSION_SECRET is too short ({len(explicit)} characters): anyone who "
                             f"guesses it can forge sessions; use at least {MIN_SECRET_LENGTH} random characters")
        return explicit
    path = key_file(store)
    return read_or_create_key(path) if path is not None else _PROCESS_KEY


_PROCESS_KEY = secrets.token_urlsafe(32)

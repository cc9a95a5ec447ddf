"""The admin token and the session-signing secret, kept in the store's settings table.

The token is stored only as a salted scrypt hash. The signing secret is stored as is: anyone who
can read the store can already change everything the admin app controls, and sharing it lets the
embedded and the standalone admin (one store, two processes) accept each other's sessions and
keeps users logged in across restarts.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from typing import Any

TOKEN_KEY = "admin.token_hash"
SECRET_KEY = "admin.session_secret"
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
    """A new session-signing secret: every session and pre-session cookie signed before stops working
    (on every admin app sharing the store, within its re-read interval, core.STORE_CACHE_S)."""
    store.put_setting(SECRET_KEY, secrets.token_urlsafe(32))


def session_secret(store: Any) -> str:
    """The session-signing secret, generated on first use; if two processes race, both end up
    with whichever was stored last (read back after writing)."""
    secret = store.get_setting(SECRET_KEY, None)
    if not secret:
        store.put_setting(SECRET_KEY, secrets.token_urlsafe(32))
        secret = store.get_setting(SECRET_KEY, None)
    return str(secret)

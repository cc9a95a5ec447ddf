"""The authentication state one admin app shares between its middleware and its routes."""
from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ..settings import AdminSettings
from . import secrets_store
from .firebase import FirebaseLogin, check_emulator_guard
from .sessions import SessionCodec

log = logging.getLogger("mimic.admin")
_MAX_REMEMBERED = 256
MIN_TOKEN_LENGTH = 16


class Auth:
    def __init__(self, settings: AdminSettings, store: Any, clock: Callable[[], float] = time.time) -> None:
        check_emulator_guard(settings)
        self.settings = settings
        self.store = store
        if settings.token and len(settings.token) < MIN_TOKEN_LENGTH:
            log.warning("Mimic admin: the configured admin token is short (%d characters): anyone who guesses it "
                        "controls the proxy; use at least %d random characters", len(settings.token), MIN_TOKEN_LENGTH)
        generated = secrets_store.ensure_token(store, settings.token)
        if generated:  # normally the admin server called ensure_token first and showed the token already
            log.warning("Mimic admin: generated an admin token (shown once): %s", generated)
        self.codec = SessionCodec(secrets_store.session_secret(store), settings.session_max_age, clock)
        self.firebase = FirebaseLogin(settings) if settings.firebase_project else None
        if self.firebase and not (settings.allowed_emails or settings.allowed_domains):
            log.warning("Mimic admin: every user of Firebase project %s may sign in (no allowed emails or domains "
                        "configured)", settings.firebase_project)
        # digest of a token -> (stored hash it was checked against, verdict): scrypt once per token and
        # stored hash, not per request; one hash at a time, so wrong tokens cannot keep every core busy
        self._checked: OrderedDict[str, tuple[str, bool]] = OrderedDict()
        self._hashing = threading.Lock()

    @property
    def firebase_csp(self) -> tuple[str, str] | None:
        return (self.firebase.web.auth_domain, self.firebase.web.emulator) if self.firebase else None

    async def check_token(self, token: str) -> bool:
        """Whether `token` is the admin token stored now (the store is the truth: another process may
        have rotated it). Hashing runs in a worker thread."""
        if not token:
            return False
        record = await asyncio.to_thread(self.store.get_setting, secrets_store.TOKEN_KEY, None)
        if not record:
            return False
        digest = hashlib.sha256(token.encode()).hexdigest()
        known = self._checked.get(digest)
        if known is not None and known[0] == record.get("hash"):
            return known[1]
        verdict = await asyncio.to_thread(self._match, token, record)
        self._checked[digest] = (record.get("hash"), verdict)
        while len(self._checked) > _MAX_REMEMBERED:
            self._checked.popitem(last=False)
        return verdict

    def _match(self, token: str, record: dict[str, Any]) -> bool:
        with self._hashing:
            return secrets_store.token_matches(token, record)

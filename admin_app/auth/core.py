"""The authentication state one admin app shares between its middleware and its routes."""
from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..settings import AdminSettings
from . import secrets_store
from .firebase import FirebaseLogin, check_emulator_guard
from .policy import HostCheck
from .sessions import SessionCodec

log = logging.getLogger("mimic.admin")
_MAX_REMEMBERED = 256
MIN_TOKEN_LENGTH = 16
STORE_CACHE_S = 1.0  # the token hash and the signing secret are re-read from the store this often at most


class TokenCheckBusy(Exception):
    """Another token is being hashed right now: the caller refuses the request (429) instead of queueing."""


class Auth:
    def __init__(self, settings: AdminSettings, store: Any, clock: Callable[[], float] = time.time) -> None:
        check_emulator_guard(settings)
        self.settings = settings
        self.store = store
        self.clock = clock
        self.now: Callable[[], float] = time.monotonic  # for the store cache; tests replace it
        if settings.token and len(settings.token) < MIN_TOKEN_LENGTH:
            log.warning("Mimic admin: the configured admin token is short (%d characters): anyone who guesses it "
                        "controls the proxy; use at least %d random characters", len(settings.token), MIN_TOKEN_LENGTH)
        self.hosts = HostCheck(*settings.host_port, settings.allowed_hosts)
        self.firebase = FirebaseLogin(settings) if settings.firebase_project else None
        generated = secrets_store.ensure_token(store, settings.token)
        if generated:  # normally the admin server called ensure_token first and showed the token already
            log.warning("Mimic admin: generated an admin token (shown once): %s", generated)
        self._record: dict[str, Any] | None = store.get_setting(secrets_store.TOKEN_KEY, None)
        self._secret = secrets_store.session_secret(store)
        self.codec = SessionCodec(self._secret, settings.session_max_age, clock)
        self._fresh_until = self.now() + STORE_CACHE_S
        # digest of a token -> (stored hash it was checked against, verdict): scrypt once per token and
        # stored hash, not per request. One hash at a time, on a thread of our own (never the default
        # executor, which the proxy's event loop needs for DNS); a token arriving while one is hashed is
        # refused at once (TokenCheckBusy), so a flood of wrong tokens queues nowhere.
        self._checked: OrderedDict[str, tuple[str, bool]] = OrderedDict()
        self._hashing = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mimic-admin-token")

    @property
    def firebase_csp(self) -> tuple[str, str] | None:
        return (self.firebase.web.auth_domain, self.firebase.web.emulator) if self.firebase else None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self.firebase is not None:
            self.firebase.close()

    async def refresh(self) -> None:
        """Re-read the token hash and the signing secret when the cached ones are older than STORE_CACHE_S:
        another process (`mimic admin --reset-token`, an admin restarted with a new token) may have rotated
        them, which ends every session signed with the old secret."""
        if self.now() < self._fresh_until:
            return
        self._fresh_until = self.now() + STORE_CACHE_S  # one reader; the others use the values at hand
        try:
            record, secret = await asyncio.to_thread(self._read)
        except Exception as e:  # the store gone for a moment: keep the last values, try again later  # noqa: BLE001
            log.warning("Mimic admin: cannot re-read the admin token and session secret: %s", e)
            return
        self._record = record
        if secret != self._secret:
            self._secret = secret
            self.codec = SessionCodec(secret, self.settings.session_max_age, self.clock)

    def forget(self) -> None:
        """Re-read the store on the next request (after this process rotated the token or secret itself)."""
        self._fresh_until = float("-inf")

    def _read(self) -> tuple[dict[str, Any] | None, str]:
        return self.store.get_setting(secrets_store.TOKEN_KEY, None), secrets_store.session_secret(self.store)

    async def check_token(self, token: str) -> bool:
        """Whether `token` is the admin token stored now (the store is the truth: another process may have
        rotated it; re-read at most every STORE_CACHE_S). Raises TokenCheckBusy when another token is being
        hashed."""
        if not token:
            return False
        await self.refresh()
        record = self._record
        if not record:
            return False
        digest = hashlib.sha256(token.encode()).hexdigest()
        known = self._checked.get(digest)
        if known is not None and known[0] == record.get("hash"):
            return known[1]
        if not self._hashing.acquire(blocking=False):
            raise TokenCheckBusy
        try:
            job = self._executor.submit(secrets_store.token_matches, token, record)
        except BaseException:
            self._hashing.release()
            raise
        # released when the hash is done (or never started), even if this request has gone meanwhile
        job.add_done_callback(lambda _: self._hashing.release())
        verdict = await asyncio.wrap_future(job)
        self._checked[digest] = (record.get("hash"), verdict)
        while len(self._checked) > _MAX_REMEMBERED:
            self._checked.popitem(last=False)
        return verdict

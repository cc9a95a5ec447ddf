"""The authentication state one admin app shares between its middleware and its routes."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..settings import AdminSettings
from . import secrets_store
from .firebase import AuthConfigError, FirebaseLogin, FirebaseLoginError, check_emulator_guard
from .limits import FailureLimiter, TooManyFailures
from .policy import HostCheck
from .sessions import Session, SessionCodec, User

log = logging.getLogger("mimic.admin")
_MAX_REMEMBERED = 256
MIN_TOKEN_LENGTH = 16
STORE_CACHE_S = 1.0  # the token hash, the signing epoch and the ended sessions are re-read this often at most
ENDED_KEY = "admin.ended_sessions"  # store setting: digest of a logged-out session's CSRF token -> until when
MAX_ENDED = 10_000  # ended sessions remembered (the oldest first forgotten; each only until it would expire)
MAX_WAITING_CHECKS = 32  # token hashes / Firebase verifications waiting at once, all clients together


class CheckSlots:
    """Admission to a costly check: one at a time per client, MAX_WAITING_CHECKS in all; beyond, the
    caller is refused at once (TooManyFailures, 429) instead of queueing. A slot is released when its
    check is done, even if the request that asked has gone."""

    def __init__(self, limit: int = MAX_WAITING_CHECKS) -> None:
        self.limit = limit
        self._clients: set[str] = set()
        self._lock = threading.Lock()

    def run(self, executor: ThreadPoolExecutor, client: str, work: Callable[..., Any], *args: Any) -> Future:
        with self._lock:
            if client in self._clients or len(self._clients) >= self.limit:
                raise TooManyFailures(1)
            self._clients.add(client)
        try:
            job = executor.submit(work, *args)
        except BaseException:
            self._release(client)
            raise
        job.add_done_callback(lambda _: self._release(client))
        return job

    def _release(self, client: str) -> None:
        with self._lock:
            self._clients.discard(client)


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
        try:
            self._master = secrets_store.master_key(store, settings.session_secret)
        except (ValueError, OSError) as e:
            raise AuthConfigError(f"no session-signing key: {e}") from e
        self.firebase = FirebaseLogin(settings) if settings.firebase_project else None
        generated = secrets_store.ensure_token(store, settings.token)
        if generated:  # normally the admin server called ensure_token first and showed the token already
            log.warning("Mimic admin: generated an admin token (shown once): %s", generated)
        self._record: dict[str, Any] | None = store.get_setting(secrets_store.TOKEN_KEY, None)
        self._epoch = secrets_store.session_epoch(store)
        self._ended: dict[str, float] = _ended(store.get_setting(ENDED_KEY, None))
        self._ending = threading.Lock()  # one read-modify-write of the ended sessions at a time in this process
        self.codec = self._codec()
        self._fresh_until = self.now() + STORE_CACHE_S
        # The right token is always let in at the cost of a SHA-256 and a constant-time comparison, before any
        # limit: the configured one, or the one a hash check proved right (for the stored hash it was checked
        # against). Only other tokens meet the per-client failure limit, then scrypt: one hash at a time on a
        # thread of our own (never the default executor, which the proxy's event loop needs for DNS), one
        # check at a time per client.
        self._good: tuple[str, str] | None = None
        if settings.token and self._record and secrets_store.token_matches(settings.token, self._record):
            self._good = (self._record["hash"], _digest(settings.token))
        self._wrong: OrderedDict[str, str] = OrderedDict()  # digest of a wrong token -> stored hash it failed
        self.limiter = FailureLimiter()
        self._slots = CheckSlots()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mimic-admin-token")
        self._firebase_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mimic-admin-firebase")

    @property
    def firebase_csp(self) -> tuple[str, str] | None:
        return (self.firebase.web.auth_domain, self.firebase.web.emulator) if self.firebase else None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._firebase_executor.shutdown(wait=False, cancel_futures=True)
        if self.firebase is not None:
            self.firebase.close()

    def _codec(self) -> SessionCodec:
        key = secrets_store.signing_key(self._master, self._epoch)
        return SessionCodec(key, self.settings.session_max_age, self.clock)

    async def refresh(self) -> None:
        """Re-read the token hash and the signing epoch when the cached ones are older than STORE_CACHE_S:
        another process (`mimic admin --reset-token`, an admin restarted with a new token) may have rotated
        them, which ends every session signed before."""
        if self.now() < self._fresh_until:
            return
        self._fresh_until = self.now() + STORE_CACHE_S  # one reader; the others use the values at hand
        try:
            record, epoch, ended = await asyncio.to_thread(self._read)
        except Exception as e:  # the store gone for a moment: keep the last values, try again later  # noqa: BLE001
            log.warning("Mimic admin: cannot re-read the admin token and session epoch: %s", e)
            return
        self._record = record
        now = self.clock()
        self._ended = {d: t for d, t in {**self._ended, **ended}.items() if t > now}  # (expired: refused anyway)
        if epoch != self._epoch:
            self._epoch = epoch
            self.codec = self._codec()

    def forget(self) -> None:
        """Re-read the store on the next request (after this process rotated the token or epoch itself)."""
        self._fresh_until = float("-inf")

    def _read(self) -> tuple[dict[str, Any] | None, str, dict[str, float]]:
        return (self.store.get_setting(secrets_store.TOKEN_KEY, None), secrets_store.session_epoch(self.store),
                _ended(self.store.get_setting(ENDED_KEY, None)))

    def session(self, cookie: str | None) -> Session | None:
        """The session a cookie holds, unless forged, expired or ended by a logout (here or in another admin
        app on the store, within STORE_CACHE_S)."""
        session = self.codec.load(cookie)
        if session is None or _digest(session.csrf) in self._ended:
            return None
        return session

    async def end_session(self, session: Session) -> None:
        """Log a session out for good: its cookie, even kept elsewhere, is refused from now on by this app
        and, through the store, by every admin app on it, until it would have expired anyway."""
        digest = _digest(session.csrf)
        self._ended[digest] = self.clock() + self.codec.max_age
        try:
            await asyncio.to_thread(self._save_ended, digest, self._ended[digest])
        except Exception as e:  # the store down: ended here only  # noqa: BLE001
            log.warning("Mimic admin: the logout could not be saved to the store (other admin apps on it still "
                        "accept that session until it expires): %s", e)

    def _save_ended(self, digest: str, until: float) -> None:
        """Add one ended session to the store's list. (Two admin apps logging out at the same instant may
        still each write their own list: the other's logout then holds in its own app and for its cookie's
        browser, not in the first app. Within one app the writes are in turn.)"""
        with self._ending:
            now = self.clock()
            ended = {d: t for d, t in _ended(self.store.get_setting(ENDED_KEY, None)).items() if t > now}
            ended.update({d: t for d, t in dict(self._ended).items() if t > now})  # (what this app ended: kept)
            ended[digest] = until
            if len(ended) > MAX_ENDED:
                ended = dict(sorted(ended.items(), key=lambda kv: kv[1])[-MAX_ENDED:])
            self.store.put_setting(ENDED_KEY, ended)

    async def check_token(self, token: str, client: str) -> bool:
        """Whether `token` is the admin token stored now (the store is the truth: another process may have
        rotated it; re-read at most every STORE_CACHE_S). `client` is the asker's limits.client_key.

        The right token, once known, passes at once. Other tokens raise TooManyFailures while their client
        must wait after failing too often, or while the client has a check running already."""
        if not token:
            return False
        await self.refresh()
        record = self._record
        if not record:
            return False
        stored, digest = record.get("hash"), _digest(token)
        good = self._good
        if good is not None and good[0] == stored and hmac.compare_digest(good[1], digest):
            return True
        self.limiter.check(client)
        if self._wrong.get(digest) == stored:
            verdict = False
        else:
            job = self._slots.run(self._executor, client, secrets_store.token_matches, token, record)
            verdict = await asyncio.wrap_future(job)
        if verdict:
            self._good = (str(stored), digest)
            self.limiter.succeeded(client)
            return True
        self._wrong[digest] = str(stored)
        while len(self._wrong) > _MAX_REMEMBERED:
            self._wrong.popitem(last=False)
        self.limiter.failed(client)
        return False

    async def firebase_user(self, id_token: Any, client: str) -> User:
        """The user of a valid, allowed Firebase ID token (FirebaseLoginError otherwise), verified on a thread
        of our own. A client failing too often waits (TooManyFailures); nobody else is held up."""
        assert self.firebase is not None
        self.limiter.check(client)
        job = self._slots.run(self._firebase_executor, client, self.firebase.verify, id_token)
        try:
            user = await asyncio.wrap_future(job)
        except FirebaseLoginError as e:
            if e.status in (401, 403):
                self.limiter.failed(client)
            raise
        self.limiter.succeeded(client)
        return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _ended(saved: Any) -> dict[str, float]:
    """The ended sessions a store setting holds (anything else in it ignored)."""
    if not isinstance(saved, dict):
        return {}
    return {str(d): float(t) for d, t in saved.items() if isinstance(t, (int, float))}

"""`mimic admin --db DB`: the admin app in its own process, over the store a running proxy uses.

Commands go through the store's queue (admin_app/control.py QueuedControl; the proxy's CommandQueue runs
them within a second); the live stream is fed by polling the inspector's request log every `POLL`
seconds; uvicorn runs in the foreground with its own signal handling (Ctrl-C stops it).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from typing import Any

from .admin_server import GRACEFUL_S, Bind, listen, parse_bind, stored_token_hint
from .entries import event_of
from ..store.urls import shown

logger = logging.getLogger(__name__)

POLL = 0.5
HEALTH_EVERY = 2.0


async def feed_hub(store: Any, hub: Any, brains: Any, *, poll: float = POLL) -> None:
    """Publish every request the proxy logs from now on to `hub`, with its endpoint's health band."""
    newest = await asyncio.to_thread(store.recent_requests, limit=1)
    last = newest[0]["id"] if newest else 0
    bands: dict[tuple[str, str, str], str] = {}
    bands_at = 0.0
    while True:
        try:
            rows = await asyncio.to_thread(store.recent_requests, after_id=last, limit=1000)
            if rows and time.monotonic() - bands_at > HEALTH_EVERY:
                brain = await brains.get()
                health = await asyncio.to_thread(brain.health)
                bands = {(e["host"], e["method"], e["template"]): e["status"] for e in health["endpoints"]}
                bands_at = time.monotonic()
            for row in reversed(rows):  # oldest first, like the proxy publishes them
                hub.publish(event_of(row, bands.get((row["host"], row["method"], row["template"]))))
            if rows:
                last = rows[0]["id"]
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the database gone for a moment: try again next tick
            logger.warning(f"mimic admin: live stream: {e}")
        await asyncio.sleep(poll)  # polling another process's writes to the shared store


def reset(db: str) -> int:
    """`mimic admin --reset-token`: a new admin token (printed once on stdout) and a new session-signing
    secret, which logs everyone out of every admin app on the store within a second."""
    import os

    from admin_app.auth import reset_token

    from ..store import StoreError
    from ..store.store import open_store

    try:
        store = open_store(db)
    except StoreError as e:
        print(f"mimic admin: {e}", file=sys.stderr)
        return 1
    try:
        token = reset_token(store)
    finally:
        store.close()
    print("Mimic admin: new admin token (shown once, stored hashed); every session has ended:", file=sys.stderr,
          flush=True)
    print(token, flush=True)
    if os.environ.get("MIMIC_ADMIN_TOKEN"):
        print("mimic admin: MIMIC_ADMIN_TOKEN is set: an admin app started with it replaces this token again",
              file=sys.stderr)
    return 0


def run(db: str, bind_spec: str, token: str | None, secure_cookies: bool = False) -> int:
    """Serve the admin app for the store at `db` until interrupted; returns the exit status."""
    import uvicorn

    from admin_app.app import create_app
    from admin_app.auth import AuthConfigError, ensure_token
    from admin_app.control import QueuedControl
    from admin_app.live import LiveHub
    from admin_app.settings import AdminSettings

    from ..store import StoreError
    from ..store.store import open_store

    try:
        bind = parse_bind(bind_spec)
    except ValueError as e:
        print(f"mimic admin: --bind: {e}", file=sys.stderr)
        return 2
    if bind is None:
        print("mimic admin: --bind needs HOST:PORT", file=sys.stderr)
        return 2
    try:
        store = open_store(db)
    except StoreError as e:
        print(f"mimic admin: {e}", file=sys.stderr)
        return 1
    try:
        settings = AdminSettings.from_env(bind=f"{bind.host}:{bind.port}", token=token or None,
                                          secure_cookies=secure_cookies or None)
        generated = ensure_token(store, settings.token)
        hub = LiveHub()
        try:
            app = create_app(settings, store, QueuedControl(store), hub)
        except AuthConfigError as e:
            print(f"mimic admin: {e}", file=sys.stderr)
            if generated:  # stored already: show it, or nobody ever could
                print(f"Mimic admin: generated admin token (shown once, stored hashed): {generated}", file=sys.stderr)
            return 2
        try:
            sock = listen(bind)
        except OSError as e:
            print(f"mimic admin: cannot listen on {bind.host}:{bind.port}: {e.strerror or e} "
                  f"(choose another with --bind 127.0.0.1:PORT)", file=sys.stderr)
            return 1
        _announce(bind, store.url, generated, None if settings.token else db)
        config = uvicorn.Config(app, log_level="warning", ws="wsproto", lifespan="off", access_log=False,
                                timeout_graceful_shutdown=GRACEFUL_S)
        try:
            asyncio.run(_serve(uvicorn.Server(config), sock, store, hub, app.state.ctx.brains))
        finally:
            app.state.auth.close()
        return 0
    finally:
        store.close()


async def _serve(server: Any, sock: Any, store: Any, hub: Any, brains: Any) -> None:
    feeder = asyncio.create_task(feed_hub(store, hub, brains))
    try:
        await server.serve(sockets=[sock])
    finally:
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feeder
        sock.close()


def _announce(bind: Bind, store_url: str, generated: str | None, stored_token_of: str | None) -> None:
    """The dashboard's address, and the token generated now (shown once) or, when the one generated
    before is in use, how to get a new one (`stored_token_of`: the store as the user named it)."""
    print(f"Mimic admin: dashboard at {bind.url}/ over {shown(store_url)}", file=sys.stderr, flush=True)
    if generated:
        print(f"Mimic admin: generated admin token (shown once, stored hashed): {generated}", file=sys.stderr,
              flush=True)
    elif stored_token_of is not None:
        print(stored_token_hint(stored_token_of), file=sys.stderr, flush=True)

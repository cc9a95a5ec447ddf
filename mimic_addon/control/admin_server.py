"""AdminServer: the admin web app inside the proxy, served by uvicorn on mitmproxy's own event loop.

Started in `running` (option `mimic_admin`, default 127.0.0.1:8081, `off` to disable), restarted when
its options or the store change, stopped in `done`. The app changes the proxy through mitmproxy's own
commands (admin_app/control.py EmbeddedControl) and streams the live events the inspector publishes to
the shared LiveHub. A port already in use is reported in the log; the proxy keeps running without the
dashboard. uvicorn's signal handling is turned off: mitmproxy keeps its own.
"""
from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from mitmproxy import ctx, exceptions
from mitmproxy.log import ALERT

from ..store.urls import shown

logger = logging.getLogger(__name__)

DEFAULT_BIND = "127.0.0.1:8081"
OFF = ("off", "none", "")
OPTIONS = frozenset({"mimic_admin", "mimic_admin_token", "mimic_firebase_project", "mimic_admin_allowed",
                     "mimic_admin_secure_cookies"})
GRACEFUL_S = 2
BIND_ATTEMPTS, BIND_RETRY_S = 20, 0.1  # a port in use is asked for again for 2 s before the dashboard is off


class Bind(NamedTuple):
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def parse_bind(spec: str) -> Bind | None:
    """"127.0.0.1:8081" -> Bind; "8081" -> Bind on 127.0.0.1; "off" -> None; ValueError otherwise."""
    spec = spec.strip()
    if spec.lower() in OFF:
        return None
    host, sep, port = spec.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", spec
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT or off, not {spec!r}")
    return Bind(host, int(port))


def parse_allowed(spec: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """"ada@example.com, @example.org" -> (("ada@example.com",), ("example.org",))."""
    items = [x.strip().lower() for x in spec.split(",") if x.strip()]
    return tuple(x for x in items if not x.startswith("@")), tuple(x[1:] for x in items if x.startswith("@"))


def listen(bind: Bind) -> socket.socket:
    """A listening socket on `bind` (OSError, e.g. address in use, before anything starts)."""
    family = socket.AF_INET6 if ":" in bind.host else socket.AF_INET
    return socket.create_server((bind.host, bind.port), family=family)


class EmbeddedServer:
    """A uvicorn server on a socket we opened, without uvicorn's signal handlers."""

    def __init__(self, app: Any, sock: socket.socket) -> None:
        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:  # mitmproxy handles SIGINT/SIGTERM
                yield

        config = uvicorn.Config(app, log_level="warning", ws="wsproto", lifespan="off", log_config=None,
                                access_log=False, timeout_graceful_shutdown=GRACEFUL_S)
        self.server = Server(config)
        self.app = app
        self.sock = sock
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._serve())

    async def _serve(self) -> None:
        try:
            await self.server.serve(sockets=[self.sock])
        except (SystemExit, Exception) as e:  # uvicorn exits the process on a startup failure: not ours
            logger.warning(f"Mimic admin: the dashboard stopped: {e!r}")
        finally:
            self.sock.close()
            auth = getattr(getattr(self.app, "state", None), "auth", None)
            if auth is not None:
                auth.close()

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


class AdminServer:
    def __init__(self, store: Callable[[], Any] = lambda: None, hub: Any = None,
                 status: Callable[[], dict[str, Any]] = dict) -> None:
        self._store = store
        self.hub = hub
        self._status = status
        self.server: EmbeddedServer | None = None
        self.bind: Bind | None = None
        self._store_seen: Any = None
        self._running = False
        self.starting: asyncio.Task | None = None

    def load(self, loader) -> None:
        loader.add_option("mimic_admin", str, DEFAULT_BIND,
                          "Where the admin web app (control deck, explorer, inspector, chaos, state) listens: "
                          "HOST:PORT, or off. It binds to 127.0.0.1 by default: only this machine can reach it.")
        loader.add_option("mimic_admin_token", str, "",
                          "The admin token to log in with (also env MIMIC_ADMIN_TOKEN). Empty: one is generated on "
                          "first start, printed once to the log, and stored hashed.")
        loader.add_option("mimic_firebase_project", str, "",
                          "Firebase project id: users sign in with Firebase instead of the token (the token still "
                          "works for scripts). Also env MIMIC_FIREBASE_PROJECT.")
        loader.add_option("mimic_admin_allowed", str, "",
                          "With Firebase (required): who may sign in, comma-separated e-mails and @domains "
                          "(ada@example.com,@example.org), or * for any user of the project whose e-mail is "
                          "verified (anyone can sign up with the public API key). Listed accounts need a verified "
                          "e-mail too. Also env MIMIC_ADMIN_ALLOWED_EMAILS / MIMIC_ADMIN_ALLOWED_DOMAINS. Empty "
                          "with Firebase: the dashboard refuses to start.")
        loader.add_option("mimic_admin_secure_cookies", bool, False,
                          "Mark the admin app's cookies Secure (send them over HTTPS only): turn on when the "
                          "dashboard is reached through HTTPS, e.g. behind a TLS reverse proxy. Also env "
                          "MIMIC_ADMIN_SECURE_COOKIES=1.")

    def configure(self, updated: set[str]) -> None:
        if "mimic_admin" in updated:
            try:
                parse_bind(ctx.options.mimic_admin)
            except ValueError as e:
                raise exceptions.OptionsError(f"mimic_admin: {e}") from None
        store_changed = self._store() is not self._store_seen
        if self._running and (updated & OPTIONS or store_changed):
            self._restart()

    def running(self) -> None:
        if not self._running:
            self._running = True
            self.starting = asyncio.get_running_loop().create_task(self._start())

    def done(self) -> None:
        self._running = False
        if self.starting is not None:
            self.starting.cancel()
            self.starting = None
        if self.server is not None:
            self.server.server.should_exit = True
            self.server = None

    # -- lifecycle -------------------------------------------------------------------------------------------------
    def _restart(self) -> None:
        old_task, old, self.server = self.starting, self.server, None

        async def restart() -> None:
            if old_task is not None and not old_task.done():
                old_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await old_task
            if old is not None:
                await old.stop()
            if self._running:
                await self._start()

        self.starting = asyncio.get_running_loop().create_task(restart())

    async def _start(self) -> None:
        """Listen, build the app (imports and the token check run in a worker thread, off the proxy's
        event loop), serve."""
        store = self._store_seen = self._store()
        self.bind = bind = parse_bind(ctx.options.mimic_admin)
        if bind is None:
            logger.info("Mimic admin: the dashboard is off (mimic_admin=off)")
            return
        if store is None:
            logger.warning("Mimic admin: no store open, the dashboard is off")
            return
        for attempt in range(BIND_ATTEMPTS):
            try:
                sock = listen(bind)
                break
            except OSError as e:
                if e.errno == errno.EADDRINUSE and attempt + 1 < BIND_ATTEMPTS:
                    # a dashboard this process is closing (the addon reloaded: mitmproxy starts the new
                    # one as the old one is told to stop) frees the port within uvicorn's next tick
                    await asyncio.sleep(BIND_RETRY_S)
                    continue
                logger.warning(f"Mimic admin: cannot listen on {bind.host}:{bind.port} ({e.strerror or e}); the "
                               f"dashboard is off, the proxy runs on. Choose another port with "
                               f"--set mimic_admin=127.0.0.1:PORT (or off).")
                return
        options = (ctx.options.mimic_admin_token, ctx.options.mimic_firebase_project, ctx.options.mimic_admin_allowed,
                   ctx.options.mimic_admin_secure_cookies)
        try:
            app, generated, explicit = await asyncio.to_thread(self._build, store, bind, *options)
        except asyncio.CancelledError:
            sock.close()
            raise
        except Exception as e:  # an admin app that cannot start must not take the proxy down
            sock.close()
            logger.warning(f"Mimic admin: the dashboard cannot start: {type(e).__name__}: {e}")
            return
        if not self._running:
            sock.close()
            return
        self.server = EmbeddedServer(app, sock)
        self.server.start()
        logger.log(ALERT, f"Mimic admin: dashboard at {bind.url}/")
        if generated:
            logger.log(ALERT, f"Mimic admin: generated admin token (shown once, stored hashed): {generated}")
        elif not explicit:
            logger.info(stored_token_hint(ctx.options.mimic_db))

    def _build(self, store: Any, bind: Bind, token: str, firebase: str, allowed: str,
               secure_cookies: bool) -> tuple[Any, str | None, bool]:
        """The app, the admin token generated now (to show once) and whether one was given."""
        from admin_app.app import create_app
        from admin_app.auth import ensure_token
        from admin_app.control import EmbeddedControl

        settings = self.settings(bind, token, firebase, allowed, secure_cookies)
        generated = ensure_token(store, settings.token)
        app = create_app(settings, store, EmbeddedControl(ctx.master, self._status), self.hub)
        return app, generated, bool(settings.token)

    @staticmethod
    def settings(bind: Bind, token: str, firebase: str, allowed: str, secure_cookies: bool = False) -> Any:
        """AdminSettings from the options (empty / off ones leave the MIMIC_ADMIN_* / MIMIC_FIREBASE_* environment)."""
        from admin_app.settings import AdminSettings

        emails, domains = parse_allowed(allowed)
        return AdminSettings.from_env(bind=f"{bind.host}:{bind.port}", token=token or None,
                                      firebase_project=firebase or None, allowed_emails=emails or None,
                                      allowed_domains=domains or None, secure_cookies=secure_cookies or None)


def stored_token_hint(db: str) -> str:
    """Said on a start that logs in with the token generated on an earlier one (it is shown once);
    a database URL's password is not repeated."""
    return ("Mimic admin: log in with the admin token shown when it was generated "
            f"(lost it? `mimic admin --db {shown(db)} --reset-token` prints a new one)")

"""Mimic as a mitmproxy addon: `mitmdump -s mimic_addon/addon.py`.

A thin adapter: it declares the `mimic_*` options, copies each finished exchange into an
Observation for the learner thread, and flushes everything learned when mitmproxy stops.
"""
from __future__ import annotations

import logging
import os
import time

from mitmproxy import command, ctx, exceptions, http

from admin_app.live import LiveHub
from mimic_addon.control.admin_server import AdminServer
from mimic_addon.control.command_queue import CommandQueue
from mimic_addon.control.inspector_log import InspectorLog
from mimic_addon.control.status import status_fn
from mimic_addon.control.target import TargetAddon
from mimic_addon.learn.brain import Brain
from mimic_addon.learn.learner import Learner
from mimic_addon.learn.observation import from_flow
from mimic_addon.learn.watchdog import DEFAULT_DRIFT_AFTER
from mimic_addon.model.plural import plural
from mimic_addon.serve.chaos_addon import ChaosAddon
from mimic_addon.serve.replay_addon import ReplayAddon
from mimic_addon.serve.serve_addon import ServeAddon
from mimic_addon.serve.twins_addon import ServeExtras
from mimic_addon.store import Store, StoreError
from mimic_addon.store.store import OPEN_ERRORS, cannot_open
from mimic_addon.store.urls import shown

logger = logging.getLogger(__name__)

MODES = ("learn", "mock", "failover", "record", "replay", "passthrough")
DEFAULT_DB = os.path.join("~", ".mimic", "mimic.db")


class Mimic:
    def __init__(self) -> None:
        self.brain = Brain()
        self.store: Store | None = None
        self.learner: Learner | None = None

    def load(self, loader) -> None:
        loader.add_option("mimic_db", str, DEFAULT_DB,
                          "Where Mimic keeps what it learned: a SQLite file path or a SQLAlchemy URL "
                          "(postgresql://user@host/db for teams running several proxies).")
        loader.add_option("mimic_mode", str, "learn",
                          "Global mode: learn (proxy and learn), mock (answer from the learned model, never "
                          "contact the backend), failover (proxy and learn; answer from the model when the "
                          "backend fails), record (learn, and store exact exchanges), replay (answer with the "
                          "recorded exchange that matches) or passthrough (plain proxy, learn nothing).",
                          choices=MODES)
        loader.add_option("mimic_seed", int, 0,
                          "Seed for every random choice Mimic makes, so runs can be repeated.")
        loader.add_option("mimic_max_body", int, 1024 * 1024,
                          "Bodies larger than this many bytes are learned by size and content type only.")
        # mitmproxy options cannot be floats (`--set` only parses str/int/bool): seconds as a string.
        loader.add_option("mimic_flush_interval", str, "0.5",
                          "Seconds between write-behind saves of what was learned (e.g. 0.5).")
        loader.add_option("mimic_queue_size", int, 10_000,
                          "Observations waiting for the learner; beyond this they are dropped and counted.")
        loader.add_option("mimic_watch", bool, True,
                          "Watch the real backend: contract drift alerts, anomaly detection and health scores.")
        loader.add_option("mimic_drift_after", int, DEFAULT_DRIFT_AFTER,
                          "Evidence: answers in which a place of a response (a field, a list's items) was seen "
                          "before it is checked for contract drift.")

    def configure(self, updated: set[str]) -> None:
        if "mimic_mode" in updated and ctx.options.mimic_mode not in MODES:
            raise exceptions.OptionsError(f"mimic_mode must be one of {', '.join(MODES)}")
        if "mimic_max_body" in updated and ctx.options.mimic_max_body < 0:
            raise exceptions.OptionsError("mimic_max_body must be >= 0")
        if "mimic_flush_interval" in updated:
            interval = _flush_interval()
            if self.learner is not None:
                self.learner.flush_interval = interval
        if "mimic_drift_after" in updated and ctx.options.mimic_drift_after < 1:
            raise exceptions.OptionsError("mimic_drift_after must be >= 1")
        if "mimic_db" in updated or self.learner is None:
            self._open(ctx.options.mimic_db)
        self.brain.watch.enabled = ctx.options.mimic_watch
        self.brain.watch.drift_after = ctx.options.mimic_drift_after

    def _open(self, db: str) -> None:
        """Open (migrating) the store, reload the model, and start a learner on it."""
        try:
            store = Store(db)
            snapshot = store.load()
            snapshot["alerts"] = store.load_alerts()
        except StoreError as e:
            raise exceptions.OptionsError(f"mimic_db {shown(db)!r}: {e}") from None
        except OPEN_ERRORS as e:  # (a server down, a store of a newer Mimic...: one line, not a traceback)
            raise exceptions.OptionsError(f"mimic_db: {cannot_open(db, e)}") from None
        self._close()
        self.store = store
        self.brain = Brain()
        self.brain.load(snapshot)
        self.learner = Learner(self.brain, store, flush_interval=_flush_interval(),
                               queue_size=ctx.options.mimic_queue_size)
        self.learner.start()
        logger.info(f"Mimic: {plural(len(self.brain.endpoints()), 'endpoint')} loaded from {shown(store.url)}")

    def _close(self) -> None:
        if self.learner is not None:
            self.learner.stop()
            self.learner = None
        if self.store is not None:
            self.store.close()
            self.store = None

    def response(self, flow: http.HTTPFlow) -> None:
        if self.learner is None or flow.metadata.get("mimic_mode", ctx.options.mimic_mode) == "passthrough":
            return
        if flow.metadata.get("mimic_chaos_fault"):
            return  # injected by the chaos engine: the backend never said this
        if flow.metadata.get("mimic_source", "upstream") != "upstream":
            return  # answered from the model (mock, failover): nothing new about the backend
        obs = from_flow(flow, ctx.options.mimic_max_body)
        if obs is not None:
            injected = flow.metadata.get("mimic_chaos_delay_ms")
            if injected and obs.latency_ms is not None:
                obs.latency_ms = max(0.0, obs.latency_ms - injected)
            self.learner.submit(obs)

    def done(self) -> None:
        if self.learner is not None:
            logger.info(f"Mimic: saving what {plural(self.brain.observed, 'observation')} taught")
        self._close()

    @command.command("mimic.flush")
    def flush(self) -> None:
        """Learn everything queued and save it to the store now."""
        if self.learner is None:
            raise exceptions.CommandError("Mimic has no store open")
        self.learner.stop(final=False)
        self.learner.start()

    @command.command("mimic.stats")
    def stats(self) -> str:
        """Observations learned, queued, dropped and failed, and endpoints known."""
        lr = self.learner
        return (f"observed={self.brain.observed} endpoints={len(self.brain.endpoints())} "
                f"queued={lr.queue.qsize() if lr else 0} dropped={lr.dropped if lr else 0} "
                f"failed={lr.failed if lr else 0}")

    @command.command("mimic.drift")
    def drift(self) -> str:
        """Unresolved contract drift alerts, worst first, with their narration."""
        from mimic_addon.watch.report import alerts_text

        return alerts_text(self.brain.alert_list(unresolved=True))

    @command.command("mimic.drift.resolve")
    def drift_resolve(self, alert_id: str, resolution: str) -> str:
        """Resolve a drift alert: "expected" (the learned schema moves on) or "fixed" (the backend was fixed)."""
        try:
            alert = self.brain.resolve_alert(alert_id, resolution, time.time())
        except (KeyError, ValueError) as e:
            raise exceptions.CommandError(str(e).strip("'\"")) from None
        return f"alert {alert['id']} resolved as {resolution}"

    @command.command("mimic.health")
    def health(self) -> str:
        """Health score per endpoint and globally (anomalies and unresolved breaking drift)."""
        from mimic_addon.watch.report import health_text

        return health_text(self.brain.health())


def _flush_interval() -> float:
    value = ctx.options.mimic_flush_interval
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise exceptions.OptionsError(f"mimic_flush_interval must be a number of seconds, not {value!r}") from None
    if not seconds > 0 or seconds == float("inf"):
        raise exceptions.OptionsError("mimic_flush_interval must be > 0")
    return seconds


def _addons() -> list:
    """The addons `mitmdump -s` loads; they share the Mimic addon's Brain and Store."""
    mimic = Mimic()
    brain, store = (lambda: mimic.brain), (lambda: mimic.store)
    serve, extras = ServeAddon(brain=brain, store=store), ServeExtras(brain=brain, store=store)
    serve.extras = extras
    chaos = ChaosAddon(brain=brain, store=store)
    hub = LiveHub()  # the admin app's live stream
    inspector = InspectorLog(brain=brain, store=store, hub=hub)
    status = status_fn(brain, chaos, hub, inspector)  # the deck shows it (a standalone admin: from the store)
    # extras first: its `done` saves the twins' state while Mimic's store is still open
    # target before chaos and serve: they (and the learner) see the request as it goes upstream
    # replay after serve: it acts on the mode serve decided, reusing its matching and mock answers
    # the inspector last: it logs the answer as the client gets it, whoever made it
    return [extras, mimic, TargetAddon(), chaos, serve, ReplayAddon(serve, brain=brain, store=store),
            inspector, CommandQueue(store=store, status=status),
            AdminServer(store=store, hub=hub, status=status)]


addons = _addons()

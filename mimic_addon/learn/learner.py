"""The Learner: drains observations off the proxy's hot path, in batches, in a worker thread.

It feeds the Brain and persists what changed write-behind to the store every `flush_interval`
seconds. A failed save keeps the changes pending (nothing is lost); `stop()` drains the queue
and flushes everything before returning.
"""
from __future__ import annotations

import logging
import time
from typing import Callable, Iterable

from sqlalchemy.exc import SQLAlchemyError

from ..store import Store, StoreError
from ..store.retry_log import recovered, warn_retrying
from .brain import Brain
from .observation import Observation
from .worker import BatchWorker
from ..watch.alerts import Alert
from ..watch.drift import Change

logger = logging.getLogger(__name__)

HEALTH_EVERY = 60.0  # seconds between health snapshots kept for charts
GIL_SLICE = 0.001  # seconds of learning between GIL hand-backs


class Learner(BatchWorker):
    thread_name = "mimic-learner"

    def __init__(self, brain: Brain, store: Store | None, *, flush_interval: float = 2.0,
                 queue_size: int = 10_000) -> None:
        super().__init__(flush_interval=flush_interval, queue_size=queue_size)
        self.brain = brain
        self.store = store
        self.failed = 0
        self.report: Callable[[Alert, list[Change], bool], None] = log_alert  # new drift, as it is found
        self.health_every = HEALTH_EVERY
        self._last_health: float | None = None
        self._told_gone = False

    def process(self, batch: list[Observation]) -> None:
        held = time.perf_counter()
        for obs in batch:
            self.learn_batch((obs,))
            # Hand the GIL back every millisecond of work: the proxy's event loop would
            # otherwise wait for it up to a whole switch interval (5 ms), visible in its p99.
            if time.perf_counter() - held > GIL_SLICE:
                time.sleep(0)
                held = time.perf_counter()

    def learn_batch(self, batch: Iterable[Observation]) -> None:
        for obs in batch:
            try:
                self.brain.learn(obs)
            except Exception:  # one bad exchange must not stop learning
                self.failed += 1
                logger.exception("could not learn from %s %s", obs.method, obs.path)
        if self.brain.watch.reports:
            with self.brain.lock:
                reports = self.brain.watch.take_reports()
            for alert, new, opened in reports:
                self.report(alert, new, opened)

    def finish(self) -> None:
        """Learning stops: settle the path templates with everything seen (`Brain.settle`); the
        next save records the finished model's health, however recent the last snapshot."""
        self.brain.settle()
        self._last_health = None

    def flush(self) -> bool:
        """Persist what changed. False (changes kept for the next try) if the store refused."""
        store = self.store
        if store is None:
            return True
        if not self._told_gone and store.file_gone():
            self._told_gone = True
            logger.warning(f"Mimic: the store file {store.path} was deleted or moved while Mimic runs: what is saved "
                         "from now on goes to the deleted file and is lost when Mimic stops (the model in memory "
                         "still serves); restart Mimic to begin a new store there")
        if not self._flush_watch(store):
            return False
        trees, eps, deleted = self.brain.take_changes()
        if not (trees or eps or deleted):
            return True
        try:
            store.save(trees, eps, deleted)
        except StoreError as e:
            self.brain.restore_changes(trees, eps, deleted)
            warn_retrying(logger, "what was learned", e, store)
            return False
        recovered("what was learned", store)
        return True

    def _flush_watch(self, store: Store) -> bool:
        """Persist changed drift alerts and, every `health_every` seconds, a health snapshot."""
        self._pick_up_resolutions(store)
        with self.brain.lock:
            alerts, gone = self.brain.watch.alerts.take_changes()
        try:
            store.save_alerts(alerts, gone)
        except StoreError as e:
            with self.brain.lock:
                self.brain.watch.alerts.restore_changes(alerts, gone)
            warn_retrying(logger, "drift alerts", e, store)
            return False
        recovered("drift alerts", store)
        now = time.time()
        if self._last_health is None or now - self._last_health >= self.health_every:
            self._last_health = now
            health = self.brain.health()
            snap = self.brain.watch.history.add(now, health["score"], {
                f"{e['method']} {e['host']}{e['template']}": e["score"] for e in health["endpoints"]})
            try:
                store.add_health(snap)
            except StoreError as e:
                logger.warning("Mimic could not save a health snapshot: %s", e)
        return True

    def _pick_up_resolutions(self, store: Store) -> None:
        """Alerts open here but resolved in the store (`mimic drift resolve` from another process,
        or another proxy on the same database) are resolved here too, "expected" ones moving the
        learned schema on, so that the next save does not bring them back."""
        with self.brain.lock:
            open_ids = [a.id for a in self.brain.watch.alerts.open.values()]
        if not open_ids:
            return
        try:
            resolved = store.resolved_alerts(open_ids)
        except SQLAlchemyError as e:
            logger.warning("Mimic could not read drift alert resolutions (will retry): %s", e)
            return
        for alert_id, data in resolved.items():
            resolution = data.get("resolution") or "fixed"
            try:
                self.brain.resolve_alert(alert_id, resolution, data.get("resolved_at") or time.time())
            except (KeyError, ValueError):
                continue  # resolved here meanwhile
            logger.info("Mimic drift alert %s resolved as %s (from the store)", alert_id, data.get("resolution"))


def log_alert(alert: Alert, new: list[Change], opened: bool) -> None:
    """Tell the user about new drift in mitmproxy's log (WARNING: an ERROR at start-up stops mitmdump)."""
    from ..watch.narrator import narrate

    if opened:
        logger.warning(f"Mimic drift alert {alert.id}: {alert.narration()}")
    else:
        lines = "\n".join("  - " + narrate(c)["text"] for c in new)
        logger.warning(f"Mimic drift alert {alert.id} ({alert.method} {alert.template}) has new changes:\n{lines}")

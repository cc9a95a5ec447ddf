"""InspectorLog: every answered request, whoever answered it, into the inspector's log and the live stream.

The `response` / `error` hooks copy references into a `Captured` (microseconds: bench/inspector_hook.py)
and queue it. The `RequestLogWriter` thread resolves the endpoint's template and health band, builds
the redacted row (entries.py), appends the batch to the store's bounded `request_log` and hands the
live events (with the rows' ids, so the deck can link to the inspector) to the LiveHub on the proxy's
event loop. Under overload the queue drops (and counts) entries rather than slow traffic; a slow viewer
drops its own messages in the hub. Rows the store cannot take now (a locked SQLite file, PostgreSQL
gone for a moment) wait in a bounded buffer and are saved first on the next try, as the learner keeps
its unsaved changes; only when the buffer is full are the oldest lost, and counted (`stats()`).
"""
from __future__ import annotations

import asyncio
import logging
import queue
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from mitmproxy import ctx, http

from ..learn.worker import BatchWorker
from ..model.paths import split_path
from ..store import StoreError
from ..store.retry_log import recovered, warn_retrying
from ..watch.health import endpoint_health
from .entries import CAPTURE_LIMIT, Captured, answered_template, build_row, clip, event_of, host_of

logger = logging.getLogger(__name__)

KEEP_DEFAULT = 5000
QUEUE_MAX = 5000
ROWS_PER_S = 250  # entries logged per second (notable ones: twice as many); beyond, live stream only
BODIES_PER_S = 100  # bodies decoded, redacted and kept per second; beyond, entries keep their headers only
HEALTH_TTL = 2.0  # seconds an endpoint's template and health band are reused
UNNAMED_MAX, NAME_FOR, NAME_EVERY = 1000, 10.0, 0.5  # rows saved before their endpoint was learned: looked up
                                                   # again for NAME_FOR seconds, at most every NAME_EVERY
PENDING_MAX = 5000  # rows kept for the next try while the store cannot take them (at most `keep`: no more are kept)


class PerSecond:
    """A budget renewed every second: `take(limit, at)` is True while fewer than `limit` were taken in the
    second of `at` (a timestamp; now by `clock` when None)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.second = 0
        self.used = 0

    def take(self, limit: int, at: float | None = None) -> bool:
        now = int(self.clock() if at is None else at)
        if now != self.second:
            self.second, self.used = now, 0
        if self.used >= limit:
            return False
        self.used += 1
        return True


class EndpointLookup:
    """Template and health band of a request's endpoint, from the Brain, cached per endpoint for a moment
    (health is never computed per request). Runs in the writer thread."""

    def __init__(self, brain: Callable[[], Any], ttl: float = HEALTH_TTL) -> None:
        self._brain = brain
        self.ttl = ttl
        self._cache: dict[tuple[str, str, str], tuple[float, str, str | None]] = {}

    def lookup(self, host: str, method: str, path: str) -> tuple[str | None, str | None]:
        """(named template, health band) of the learned endpoint matching this request, else (None, None)."""
        brain = self._brain()
        if brain is None:
            return None, None
        parts = [urllib.parse.unquote(p) for p in split_path(path)]
        now = time.monotonic()
        with brain.lock:
            model = brain.hosts.get(host)
            if model is None:
                return None, None
            skeleton = model.tree.match(method, parts)
            if skeleton is None:
                return None, None
            key = (host, method, skeleton)
            hit = self._cache.get(key)
            if hit is not None and hit[0] > now:
                return hit[1], hit[2]
            ep = model.endpoints.get((method, skeleton))
            template = model.tree.named(skeleton)
            band = None
            if ep is not None:
                breaking = brain.watch.alerts.unresolved_breaking(host, method, skeleton)
                band = endpoint_health(ep.monitor.flags, breaking).status
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (now + self.ttl, template, band)
        return template, band


class RequestLogWriter(BatchWorker):
    """Builds redacted rows in a worker thread, saves each batch, publishes the live events."""

    thread_name = "mimic-inspector"

    def __init__(self, store: Any, brain: Callable[[], Any], publish: Callable[[list[dict[str, Any]]], None], *,
                 keep: int = KEEP_DEFAULT, flush_interval: float = 2.0, queue_size: int = QUEUE_MAX) -> None:
        super().__init__(flush_interval=flush_interval, queue_size=queue_size)
        self.queue = queue.SimpleQueue()  # type: ignore[assignment]  # get/put/qsize like queue.Queue
        self.limit = queue_size
        self.store = store
        self.keep = keep
        self.lookup = EndpointLookup(brain)
        self.publish = publish
        self.failed = 0
        self.logged = 0
        self.rows_per_s = ROWS_PER_S
        self.bodies_per_s = BODIES_PER_S
        self.skipped = 0  # entries over the rate: streamed, not logged
        self.pending: list[dict[str, Any]] = []  # rows the store could not take yet, oldest first
        self.unsaved = 0  # rows lost because more than the buffer waited for the store
        # rows saved without a template, as their endpoint was not learned yet (the learner's thread had not
        # got to its first answer): row id -> (host, method, path, until when to look again)
        self.unnamed: dict[int, tuple[str, str, str, float]] = {}
        self._named_at = 0.0
        self._rows, self._bodies = PerSecond(), PerSecond()

    def submit(self, item: Any) -> bool:
        """Queue an item (a C-level SimpleQueue: a fraction of a microsecond); drop and count under overload."""
        if self.queue.qsize() >= self.limit:
            self.dropped += 1
            return False
        self.queue.put(item)
        return True

    def process(self, batch: list[tuple]) -> None:
        self._name_later()
        rows, bands, kept = [], [], []
        logging_on = self.keep > 0 and self.store is not None
        for raw in batch:
            c = None
            try:
                c = Captured.from_raw(raw)
                host, method = host_of(c), c.method.upper()
                template, band = self.lookup.lookup(host, method, c.target.split("?", 1)[0])
                named = answered_template(c)
                if named is not None and named != template:  # a mock answer names its endpoint itself
                    template, band = named, None  # (of a host never learned under this name: no health)
                # budgets per second of the requests' own time, not of the writer's: a backlog (the thread
                # held up by a locked store) is logged as its traffic came, not cut to one second's worth
                keep = logging_on and self._rows.take(self.rows_per_s * (2 if _notable(c) else 1), c.ts or None)
                if keep:
                    rows.append(build_row(c, template, self._bodies.take(self.bodies_per_s, c.ts or None)))
                else:  # not logged: the live stream needs the summary only
                    self.skipped += logging_on
                    rows.append(build_row(c, template, details=False))
                bands.append(band)
                kept.append(keep)
            except Exception:  # one odd exchange must not stop the log
                self.failed += 1
                what = f"{c.method} {c.target[:200]}" if c is not None else "a request"
                logger.exception(f"Mimic inspector: cannot log {what}")
        saving = [row for row, k in zip(rows, kept, strict=True) if k]
        ids = self._save(saving)
        for row_id, row in zip(ids, saving):
            if row["template"] is None and row["source"] == "upstream" and len(self.unnamed) < UNNAMED_MAX:
                self.unnamed[row_id] = (row["host"], row["method"], row["path"], time.monotonic() + NAME_FOR)
        if rows:
            saved = iter(ids)
            self.publish([event_of({**row, "id": next(saved, None) if k else None}, band)
                          for row, band, k in zip(rows, bands, kept, strict=True)])

    def _save(self, rows: list[dict[str, Any]]) -> list[int]:
        """Save the waiting rows, then `rows`; the ids of `rows` ([] when the store cannot take them now:
        they wait, and the live stream goes on without ids)."""
        batch = self.pending + rows
        if not batch or self.store is None:
            return []
        try:
            ids = self.store.add_requests(batch, keep=self.keep)
        except StoreError as e:  # locked or unreachable: keep the rows for the next try
            self._defer(batch)
            warn_retrying(logger, "the inspector's log entries", e, self.store)
            return []
        except Exception as e:  # rows the database refuses: retrying would refuse them again
            self.pending = []
            self.failed += len(batch)
            logger.warning(f"Mimic inspector: could not save {len(batch)} log entries: {e}")
            return []
        self.pending = []
        recovered("the inspector's log entries", self.store)
        self.logged += len(ids)
        return ids[len(ids) - len(rows):]

    def _name_later(self) -> None:
        """Look the rows saved without a template up again: their endpoint is learned by now, most likely."""
        now = time.monotonic()
        if not self.unnamed or self.store is None or now - self._named_at < NAME_EVERY:
            return
        self._named_at = now
        named: dict[int, str] = {}
        for row_id, (host, method, path, until) in list(self.unnamed.items()):
            template, _ = self.lookup.lookup(host, method, path)
            if template is not None:
                named[row_id] = template
            if template is not None or now >= until:
                del self.unnamed[row_id]
        try:
            self.store.name_requests(named)
        except Exception as e:  # (a store refusing: the rows stay unnamed, as they were)
            logger.debug(f"Mimic inspector: could not name {len(named)} log entries: {e}")
            return

    def _defer(self, batch: list[dict[str, Any]]) -> None:
        room = max(0, min(self.keep, PENDING_MAX))
        lost = max(0, len(batch) - room)
        self.unsaved += lost
        self.pending = batch[lost:]

    def flush(self) -> bool:
        """Retry the rows waiting for the store (each batch is saved as it is processed otherwise), and
        name the rows saved before their endpoint was learned."""
        if self.pending:
            self._save([])
        self._name_later()
        return not self.pending

    def stats(self) -> dict[str, int]:
        """What became of the entries: logged; waiting for the writer (queued) or for the store (pending);
        lost (queue full: dropped, buffer full: unsaved, odd exchanges: failed); streamed only (over the rate:
        skipped)."""
        return {"logged": self.logged, "queued": self.queue.qsize(), "pending": len(self.pending),
                "dropped": self.dropped, "unsaved": self.unsaved, "failed": self.failed, "skipped": self.skipped}


class InspectorLog:
    def __init__(self, brain: Callable[[], Any] = lambda: None, store: Callable[[], Any] = lambda: None,
                 hub: Any = None) -> None:
        self._brain = brain
        self._store = store
        self._store_seen: Any = object()
        self.hub = hub  # admin_app.live.LiveHub (or None: log only)
        self.writer: RequestLogWriter | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def load(self, loader) -> None:
        loader.add_option("mimic_request_log", int, KEEP_DEFAULT,
                          "Requests kept in the admin inspector's log (redacted, bodies truncated; the oldest go "
                          "first); 0 keeps none (the live stream still works).")
        loader.add_option("mimic_request_log_rate", int, ROWS_PER_S,
                          "Requests logged per second at most (errors and answers the backend did not make: twice "
                          "as many); beyond, requests still appear in the live stream. Logging shares the proxy's "
                          "CPU: this bounds its cost under load.")

    def configure(self, updated: set[str]) -> None:
        from mitmproxy import exceptions

        keep, rate = ctx.options.mimic_request_log, ctx.options.mimic_request_log_rate
        if keep < 0 or rate < 0:
            raise exceptions.OptionsError("mimic_request_log and mimic_request_log_rate must be >= 0")
        store = self._store()
        if store is not self._store_seen or self.writer is None:
            self._store_seen = store
            self._stop()
            queue = min(getattr(ctx.options, "mimic_queue_size", QUEUE_MAX), QUEUE_MAX)
            self.writer = RequestLogWriter(store, self._brain, self._publish_threadsafe, keep=keep,
                                           flush_interval=_interval(), queue_size=max(queue, 1))
            self.writer.start()
        self.writer.keep, self.writer.rows_per_s = keep, rate

    def running(self) -> None:
        self.loop = asyncio.get_running_loop()

    def stats(self) -> dict[str, int]:
        """The request log's counters (RequestLogWriter.stats), zeros without a writer."""
        writer = self.writer
        if writer is None:
            return dict.fromkeys(("logged", "queued", "pending", "dropped", "unsaved", "failed", "skipped"), 0)
        return writer.stats()

    def done(self) -> None:
        self._stop()

    def _stop(self) -> None:
        if self.writer is not None:
            self.writer.stop()
            self.writer = None

    # -- hot path: copy references, queue, return (decoding and everything else: the writer thread) ----------
    def response(self, flow: http.HTTPFlow) -> None:
        writer = self.writer
        if writer is None or flow.response is None or not flow.live:  # not live: read from a file (-nr)
            return
        rd, sd = flow.request.data, flow.response.data
        c, r = rd.content, sd.content
        meta = flow.metadata
        writer.submit((rd.timestamp_start, rd.scheme, rd.host, rd.port, rd.method, rd.path, rd.headers.fields,
                       c if c is None or len(c) <= CAPTURE_LIMIT else len(c), sd.status_code, sd.headers.fields,
                       r if r is None or len(r) <= CAPTURE_LIMIT else len(r), sd.timestamp_end or sd.timestamp_start,
                       meta, flow.client_conn.peername, None))
        meta["mimic_logged"] = True

    def error(self, flow: http.HTTPFlow) -> None:
        writer = self.writer
        meta = flow.metadata
        if writer is None or meta.get("mimic_logged") or not (flow.live or meta.get("mimic_chaos_fault")):
            return  # (a flow the chaos engine killed is not live any more)
        rd, err = flow.request.data, flow.error
        writer.submit((rd.timestamp_start, rd.scheme, rd.host, rd.port, rd.method, rd.path, rd.headers.fields,
                       clip(rd.content), None, (), None, err.timestamp if err else None, meta,
                       flow.client_conn.peername, err.msg if err else "no response"))
        meta["mimic_logged"] = True

    # -- the live stream ---------------------------------------------------------------------------------------
    def _publish_threadsafe(self, events: list[dict[str, Any]]) -> None:
        loop = self.loop
        if self.hub is None or loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._publish, events)
        except RuntimeError:  # the loop closed meanwhile (shutting down)
            pass

    def _publish(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self.hub.publish(event)


def _notable(c: Captured) -> bool:
    """Worth logging first: an error, or an answer the backend did not make."""
    return c.status is None or c.status >= 400 or c.source != "upstream"


def _interval() -> float:
    try:
        return max(0.05, float(ctx.options.mimic_flush_interval))
    except (AttributeError, TypeError, ValueError):
        return 2.0

"""One worker thread behind a bounded queue: the shape shared by the learner and the recorder.

The proxy's hooks only `submit` (dropping and counting under overload rather than slowing traffic);
the thread takes batches, `process`es them, and calls `flush` every `flush_interval` seconds
(write-behind); `stop()` drains what is queued and flushes before returning.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from abc import ABC, abstractmethod
from typing import Any

BATCH = 256
_STOP = object()

logger = logging.getLogger(__name__)


class BatchWorker(ABC):
    thread_name = "mimic-worker"

    def __init__(self, *, flush_interval: float = 2.0, queue_size: int = 10_000) -> None:
        self.flush_interval = flush_interval
        self.queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self.dropped = 0
        self.errors = 0  # unexpected failures of process/flush, contained (logged and counted)
        self._thread: threading.Thread | None = None

    @abstractmethod
    def process(self, batch: list[Any]) -> None:
        """Handle a batch of submitted items (in the worker thread, or in `stop` without one)."""

    @abstractmethod
    def flush(self) -> bool:
        """Persist what changed; False keeps it pending for the next call."""

    def finish(self) -> None:
        """Last work once everything queued is processed, before the final flush (none by default)."""

    def submit(self, item: Any) -> bool:
        """Queue an item; under overload drop it (and count) rather than slow traffic."""
        try:
            self.queue.put_nowait(item)
            return True
        except queue.Full:
            self.dropped += 1
            return False

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()

    def stop(self, final: bool = True) -> None:
        """Process everything queued, flush, and end the thread. `final`: nothing will run after it (not
        a flush asked for now, after which the thread starts again and retries a refused save)."""
        thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            self.queue.put(_STOP)
            thread.join()
        else:
            self._guarded(self.process, self._drain_now())
        self._guarded(self.finish)
        if self._guarded(self.flush) is False and final:  # (no retry comes: say what it means)
            logger.error("%s: the store refused the last save at exit: what was not saved before is lost",
                         self.thread_name)

    def _guarded(self, work: Any, *args: Any) -> Any:
        """Run `work` and return what it returns, containing any error (None then): one poisoned item or save
        must never stop the worker (nor, with it, the draining of the queue that shutdown waits for)."""
        try:
            return work(*args)
        except Exception:
            self.errors += 1
            logger.exception("%s: %s failed; the worker goes on", self.thread_name, getattr(work, "__name__", work))
            return None

    def _drain_now(self) -> list[Any]:
        items: list[Any] = []
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                return items
            if item is not _STOP:
                items.append(item)

    def _run(self) -> None:
        last_flush = time.monotonic()
        while True:
            batch: list[Any] = []
            stop = False
            try:
                item = self.queue.get(timeout=self.flush_interval)
                while True:
                    if item is _STOP:
                        stop = True
                        break
                    batch.append(item)
                    if len(batch) >= BATCH:
                        break
                    item = self.queue.get_nowait()
            except queue.Empty:
                pass
            if batch:
                self._guarded(self.process, batch)
            if stop:
                return
            if time.monotonic() - last_flush >= self.flush_interval:
                self._guarded(self.flush)
                last_flush = time.monotonic()

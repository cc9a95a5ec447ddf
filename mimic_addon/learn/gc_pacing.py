"""Keeping Python's cycle collector off the model while `mimic learn` builds it.

The model only grows while a capture is learned (hundreds of thousands of schema and path nodes), and
each collection walks every object allocated since the last one that is still alive: the growing
model, once more. With Python's default thresholds that was close to 30% of `mimic learn`'s CPU on the
25 corpus files. Two ways to spare it:

* The learner itself leaves no cyclic garbage (`gc.collect()` every 32 batches over the 25 files,
  75,000 exchanges with the drift watch on, found 0 unreachable objects; a test keeps it so), so when
  the capture is parsed in another process (`readahead`), the collector stays off while learning and
  what lives after each batch is frozen (`gc.freeze`: a collection some library starts does not walk
  it either). That spares the last 0.6-0.9 s of the 25 files' ~16 s of learning.
* When the capture is parsed in this process, the parser's garbage has cycles (mitmproxy's flows of a
  HAR file): every `EVERY` batches the young garbage is collected and the survivors frozen; young
  collections run far less often than by default (`YOUNG`), since between two freezes they would only
  walk the same new objects once more.

Frozen objects are still freed by reference counting; collector, thresholds and freeze are restored
when learning ends. Saving, which copies the whole model into plain dicts and JSON (no cycles), runs
with the collector off (`collector_off`).
"""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

YOUNG = 100_000  # allocations between young collections (Python's default: 700): most die young anyway
EVERY = 1  # batches of observations between collections (readahead.BATCH = 256 each)


class FrozenModel:
    """`with FrozenModel(collect) as pace:` ... `pace()` after each batch learned. `collect`: garbage
    with cycles may come along (the capture is parsed in this process)."""

    def __init__(self, collect: bool = True, every: int = EVERY) -> None:
        self.collect = collect
        self.every = every
        self.batches = 0
        self.thresholds = gc.get_threshold()  # restored on exit
        self.was_enabled = gc.isenabled()

    def __enter__(self) -> FrozenModel:
        self.thresholds, self.was_enabled = gc.get_threshold(), gc.isenabled()
        if self.collect:
            gc.set_threshold(YOUNG, *self.thresholds[1:])
        else:
            gc.disable()
        return self

    def __call__(self) -> None:
        self.batches += 1
        if not self.collect:
            gc.freeze()  # (a list splice: nothing is walked)
        elif self.batches % self.every == 0:
            gc.collect()  # the garbage since the last freeze only: frozen objects are not walked
            gc.freeze()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        gc.unfreeze()
        gc.set_threshold(*self.thresholds)
        if self.was_enabled:
            gc.enable()


@contextmanager
def collector_off() -> Iterator[None]:
    """No automatic cycle collection inside (restored as it was after)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()

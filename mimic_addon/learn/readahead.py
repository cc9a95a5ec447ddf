"""Reading a capture in a second process while this one learns from it.

Parsing a flow file and learning from it are both pure Python, so with a spare core `mimic learn`
reads ahead in a forked child, which can also compute each exchange's digest (parsed and redacted
bodies, shape, echoes: `digest.py`, a pure function of the exchange) and leave the learner only the
model's updates. It does while the learner uses them (it does not when it mostly only counts:
stable endpoints, no body sample due) and while it keeps ahead of the learner (reading a file of
small, quickly learned exchanges is the slower part already). Batches arrive in file order, and a
digest is the same wherever it is computed, so what is learned does not change. Without fork or a
second core the file is read in-process, and the learner digests as it goes.
"""
from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import queue
import signal
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable, Iterator

from .capture import CaptureError, CaptureReader
from .digest import digest
from .observation import Observation

BATCH = 256
DIGEST_DEMAND = 0.25  # share of a batch the learner learned fully (not only counted) that asks for digests
AHEAD = 4  # batches the reader may have ready beyond the one being sent
LEAD = 2  # batches ready ahead of the learner that the share of digests aims at
SHARE_STEP = 10  # percent of the exchanges the reader digests, more or fewer after each batch
_STOPS = {signal.SIGINT, signal.SIGTERM}  # the learner's to handle (`_reader`)

# Observations, and how many bytes of the file were consumed once they were read.
Batch = tuple[list[Observation], int]


def reads_apart() -> bool:
    """Are captures parsed in a child process (a spare core, and fork)?"""
    return (os.cpu_count() or 1) >= 2 and "fork" in multiprocessing.get_all_start_methods()


def batches(path: Path, max_body: int, problem: Callable[[str], None] = lambda text: None,
            demand: Callable[[], tuple[int, int]] | None = None) -> Iterator[Batch]:
    """The observations of a capture file in order, in batches. What had to be skipped is told to
    `problem`, one line each, once the file was read. Raises CaptureError when nothing could be read.
    `demand`: the learner's running counts (exchanges learned fully, exchanges seen), read after
    each batch; with it, a reader process digests the exchanges while the learner needs that (the
    observations then carry their `digest`). Without it, none does: the caller may change them."""
    if not reads_apart():
        yield from _read(path, max_body, problem)
        return
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    # the percentage of exchanges the reader digests (a hint: a digest teaches the same from either side)
    share = ctx.RawValue(ctypes.c_byte, 100 if demand is not None else 0)
    produced = ctx.RawValue(ctypes.c_long, 0)  # batches the reader has read so far
    child = ctx.Process(target=_reader, args=(path, max_body, sender, share, receiver, produced),
                        name="mimic-reader", daemon=True)
    # (blocked across the fork, so that none reaches the child before it set its own handling)
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)
    try:
        child.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    sender.close()
    finished = False
    used = demand is not None  # (the learner uses digests: it learns enough exchanges fully)
    before = demand() if demand is not None else (0, 0)
    received = 0
    try:
        while True:
            try:
                kind, payload = receiver.recv()
            except EOFError:
                raise CaptureError(f"{path}: the reader process stopped unexpectedly") from None
            if kind == "error":
                raise CaptureError(payload)
            if kind == "problem":
                problem(payload)
                continue
            if kind == "done":
                finished = True
                return
            received += 1
            yield payload
            if demand is not None:
                now = demand()
                learned, seen = now[0] - before[0], now[1] - before[1]
                used = learned >= DIGEST_DEMAND * seen
                before = now
            share.value = next_share(share.value, produced.value - received, used)
    finally:
        receiver.close()
        if not finished:  # the consumer gave up (or the file is broken): do not wait for the rest
            child.kill()
        child.join()


def next_share(share: int, ready: int, used: bool) -> int:
    """The percentage of exchanges the reader is to digest next, given the batches it has `ready`
    ahead of the learner: digests while the learner uses them, as many as keep the reader LEAD
    batches ahead. The batches ready tell at once whether it reads faster than the learner learns
    (the share changes the batches it reads next, so a target below its queue's size leaves both
    sides a margin); whether one batch is ready would not: the queue fills while the learner
    consolidates, and would keep raising the share after the reader fell behind."""
    if not used:
        return 0
    if ready > LEAD:
        return min(100, share + SHARE_STEP)
    if ready < LEAD:
        return max(0, share - SHARE_STEP)
    return share


def _read(path: Path, max_body: int, problem: Callable[[str], None]) -> Iterator[Batch]:
    reader = CaptureReader(path, max_body)
    batch: list[Observation] = []
    for obs in reader:
        batch.append(obs)
        if len(batch) >= BATCH:
            yield batch, reader.offset
            batch = []
    yield batch, reader.offset
    for text in reader.problems:
        problem(text)


def _reader(*args: Any) -> None:
    """The reader process: `_produce`. Ctrl-C reaches every process of the terminal's group, SIGTERM
    every process of a service: the learner handles them (saving what it learned) and ends this one,
    which does not take over the handlers it was forked with."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPS)
    _produce(*args)


def _produce(path: Path, max_body: int, sender: Connection, share: ctypes.c_byte,
             inherited: Connection | None = None, produced: ctypes.c_long | None = None) -> None:
    if inherited is not None:  # the learner's end, forked along: closed, a learner gone breaks the pipe
        inherited.close()
    gc.enable()  # (forked from a learner that may keep it off: parsing leaves cyclic garbage)
    # a thread sends what is ready while this one reads on: the reader may run a few batches
    # ahead of the learner, so that a slow stretch of either side does not stall the other
    outbox: queue.Queue[tuple[str, object] | None] = queue.Queue(maxsize=AHEAD)
    failed = threading.Event()
    courier = threading.Thread(target=_send_all, args=(outbox, sender, failed), name="mimic-reader-send")
    courier.start()
    try:
        for i, batch in enumerate(_read(path, max_body, lambda text: outbox.put(("problem", text)))):
            if failed.is_set():
                return  # nobody to send to, or nothing that can be sent: reading on is useless
            if i:  # (the first batch goes as soon as read: the learner waits for it)
                _digest(batch[0], share)
            if produced is not None:
                produced.value += 1
            outbox.put(("batch", batch))
        outbox.put(("done", None))
    except CaptureError as e:
        outbox.put(("error", str(e)))
    finally:
        outbox.put(None)
        courier.join()
        sender.close()


def _send_all(outbox: queue.Queue[tuple[str, object] | None], sender: Connection, failed: threading.Event) -> None:
    """Send what the reader puts in `outbox` until None. When a send fails (the learner is gone,
    a message cannot be pickled), the pipe is closed, so that a learner still there hears of it,
    and the rest is taken off the queue unsent, so that the reader never waits on a full one."""
    try:
        while (message := outbox.get()) is not None:
            sender.send(message)
    except Exception:
        failed.set()
        sender.close()
        while outbox.get() is not None:
            pass


def _digest(observations: list[Observation], share: ctypes.c_byte | None = None) -> None:
    """Digest the observations: all of them, or `share.value` percent (a shared figure, read for each)."""
    owed = 0
    for obs in observations:
        if share is not None:
            owed += share.value
            if owed < 100:
                continue
            owed -= 100
        try:
            obs.digest = digest(obs).redact()
        except Exception:  # (never expected) the learner digests it again, and reports the failure
            obs.digest = None

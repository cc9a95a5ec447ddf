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
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Callable, Iterator

from .capture import CaptureError, CaptureReader
from .digest import digest
from .observation import Observation

BATCH = 256
DIGEST_DEMAND = 0.25  # share of a batch the learner learned fully (not only counted) that asks for digests

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
    wanted = ctx.RawValue("b", 0)  # (a hint, read for each exchange: a digest teaches the same from either side)
    child = ctx.Process(target=_produce, args=(path, max_body, sender, wanted), name="mimic-reader", daemon=True)
    child.start()
    sender.close()
    finished = False
    before, used = demand() if demand is not None else (0, 0), demand is not None
    try:
        while True:
            # digests while the learner uses them and the reader keeps ahead: a reader that has no
            # batch ready is behind, and leaves them to the learner until it catches up
            wanted.value = used and receiver.poll()
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
            yield payload
            if demand is not None:
                now = demand()
                learned, seen = now[0] - before[0], now[1] - before[1]
                used = learned >= DIGEST_DEMAND * seen
                before = now
    finally:
        receiver.close()
        if not finished:  # the consumer gave up (or the file is broken): do not wait for the rest
            child.kill()
        child.join()


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


def _produce(path: Path, max_body: int, sender: Connection, wanted: ctypes.c_byte) -> None:
    gc.enable()  # (forked from a learner that may keep it off: parsing leaves cyclic garbage)
    try:
        for batch in _read(path, max_body, lambda text: sender.send(("problem", text))):
            _digest(batch[0], wanted)
            sender.send(("batch", batch))
        sender.send(("done", None))
    except CaptureError as e:
        sender.send(("error", str(e)))
    finally:
        sender.close()


def _digest(observations: list[Observation], wanted: ctypes.c_byte | None = None) -> None:
    """Digest each observation while `wanted.value` (a shared flag) is true, or when there is no flag."""
    for obs in observations:
        if wanted is not None and not wanted.value:
            continue
        try:
            obs.digest = digest(obs)
        except Exception:  # (never expected) the learner digests it again, and reports the failure
            obs.digest = None

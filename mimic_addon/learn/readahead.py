"""Reading a capture in a second process while this one learns from it.

Parsing a flow file costs about as much as learning from it and both are pure Python, so with a
spare core `mimic learn` reads ahead in a forked child. Batches arrive in file order, so what is
learned does not change. Without fork or a second core the file is read in-process.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Callable, Iterator

from .capture import CaptureError, CaptureReader
from .observation import Observation

BATCH = 256

# Observations, and how many bytes of the file were consumed once they were read.
Batch = tuple[list[Observation], int]


def reads_apart() -> bool:
    """Are captures parsed in a child process (a spare core, and fork)?"""
    return (os.cpu_count() or 1) >= 2 and "fork" in multiprocessing.get_all_start_methods()


def batches(path: Path, max_body: int, problem: Callable[[str], None] = lambda text: None) -> Iterator[Batch]:
    """The observations of a capture file in order, in batches. What had to be skipped is told to
    `problem`, one line each, once the file was read. Raises CaptureError when nothing could be read."""
    if not reads_apart():
        yield from _read(path, max_body, problem)
        return
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_produce, args=(path, max_body, sender), name="mimic-reader", daemon=True)
    child.start()
    sender.close()
    finished = False
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
            yield payload
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


def _produce(path: Path, max_body: int, sender: Connection) -> None:
    gc.enable()  # (forked from a learner that may keep it off: parsing leaves cyclic garbage)
    try:
        for batch in _read(path, max_body, lambda text: sender.send(("problem", text))):
            sender.send(("batch", batch))
        sender.send(("done", None))
    except CaptureError as e:
        sender.send(("error", str(e)))
    finally:
        sender.close()

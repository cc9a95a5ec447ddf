"""`kill -9` of the proxy in the middle of a stream of requests: how many seconds of learning (and of the
inspector's request log) are lost. Learning is write-behind (saved every `mimic_flush_interval`, 0.5 s by
default), so up to about one interval may go (issue 16's goal: 1 s); the rest must be in the store, intact, after a restart."""
from __future__ import annotations

import random
import threading
import time
from pathlib import Path

from harness import Proxy, Row, mitmdump
from probes.locked_store import learned, wait_for


NAME = "kill9"
TITLE = "kill -9 mid-stream"
RATE = 50  # requests a second
FLUSH_S = 0.5  # mimic_flush_interval's default
GOAL_S = 1.0   # seconds of learning a kill -9 may cost


def stream(proxy: Proxy, stop: threading.Event, answered: list[float]) -> None:
    start, i = time.monotonic(), 0
    while not stop.is_set():
        time.sleep(max(0.0, start + i / RATE - time.monotonic()))  # the client's pace
        try:
            if proxy.get(f"/orders/{i % 50}", timeout=10).status == 200:
                answered.append(time.monotonic())
        except OSError:
            return  # the proxy is gone
        i += 1


def one_round(workdir: Path, upstream: str, n: int) -> tuple[int, int, int, float, float]:
    """(answered, learned, logged, seconds of learning lost, of the log lost) of one proxy killed 3 to 6 s
    into a stream. What is lost is the newest: the seconds from the first answered request missing in the
    store to the kill."""
    answered: list[float] = []
    with mitmdump(workdir, upstream, name=f"kill9-{n}") as proxy:
        proxy.get("/orders/0")
        answered.append(time.monotonic())
        assert wait_for(lambda: learned(proxy.db)[0] >= 1, 30), "nothing was ever saved"
        stop = threading.Event()
        sender = threading.Thread(target=stream, args=(proxy, stop, answered))
        sender.start()
        time.sleep(random.uniform(3.0, 6.0))  # the fault comes at a moment nobody chose
        killed_at = time.monotonic()
        proxy.kill9()
        stop.set()
        sender.join()
    samples, rows = learned(proxy.db)  # the store as a restart finds it
    lost = lambda kept: killed_at - answered[kept] if kept < len(answered) else 0.0  # noqa: E731
    return len(answered), samples, rows, lost(samples), lost(rows)


def run(workdir: Path, upstream: str, quick: bool) -> list[Row]:
    rounds = [one_round(workdir, upstream, n) for n in range(1 if quick else 3)]
    lost_learning = [r[3] for r in rounds]
    lost_log = [r[4] for r in rounds]
    detail = "; ".join(f"{s}/{a} learned, {r} logged" for a, s, r, _, _ in rounds)
    return [
        Row(NAME, f"kill -9 mid-stream ({RATE} req/s, flush every {FLUSH_S:g} s), {len(rounds)} rounds",
            f"at most {GOAL_S:g} s of learning lost",
            f"{max(lost_learning):.1f} s lost at worst ({detail})", max(lost_learning) <= GOAL_S),
        Row(NAME, "the inspector's request log after kill -9", f"at most {GOAL_S:g} s lost",
            f"{max(lost_log):.1f} s lost at worst", max(lost_log) <= GOAL_S),
    ]

#!/usr/bin/env python3
"""Inspector hook cost: what the admin inspector adds to every answered request on the proxy's hot path.

    /path/to/venv/bin/python bench/inspector_hook.py [--flows 20000] [--repeat 5]

Times `InspectorLog.response` (copy references into a `Captured`, queue it) on realistic flows (a JSON
API exchange with a dozen headers each way), with the writer thread stopped so only the hook is
measured; then the writer's cost per entry off the hot path (template and health lookup, redaction,
truncation, SQLite batch inserts of 256 into a log kept at 5,000 rows): logged with bodies, logged with
headers only (over the body budget), and over the log rate (summary for the live stream only).
Reports CPU µs per flow (thread time: other processes on the machine do not count; best of --repeat).
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mitmproxy.test import taddons, tflow, tutils  # noqa: E402

from mimic_addon.control.inspector_log import InspectorLog, PerSecond, RequestLogWriter  # noqa: E402
from mimic_addon.learn.brain import Brain  # noqa: E402
from mimic_addon.store import Store  # noqa: E402

REQ_HEADERS = [(b"Host", b"api.example.com"), (b"User-Agent", b"bench/1.0"), (b"Accept", b"application/json"),
               (b"Accept-Encoding", b"gzip, deflate"), (b"Authorization", b"Bearer abc.def.ghi"),
               (b"Cookie", b"sid=123; theme=dark"), (b"X-Request-Id", b"7f1c"), (b"Content-Type", b"application/json")]
RESP_HEADERS = [(b"Content-Type", b"application/json"), (b"Date", b"Mon, 01 Jan 2026 00:00:00 GMT"),
                (b"Server", b"bench"), (b"Cache-Control", b"no-cache"), (b"X-Mimic-Source", b"upstream"),
                (b"Set-Cookie", b"sid=456; Path=/; HttpOnly"), (b"Vary", b"Accept"), (b"ETag", b'"abc"')]
BODY = json.dumps({"id": 42, "name": "Ada", "email": "ada@example.com", "password": "x", "tags": ["a", "b"] * 20,
                   "profile": {"bio": "hello " * 50, "token": "secret"}}).encode()


def learned_brain() -> Brain:
    """A Brain that knows GET /users/{user_id}, so the writer resolves templates and health bands."""
    from mimic_addon.learn.observation import Body, Observation

    brain = Brain()
    for i in range(1, 30):
        brain.learn(Observation(host="api.example.com", scheme="https", method="GET", target=f"/users/{i}",
                                request=Body(b"", "", "", 0), status=200,
                                response=Body(BODY, "", "application/json", len(BODY)), latency_ms=10.0,
                                ts=1_700_000_000.0 + i))
    return brain


def noop(flow) -> None:
    return None


def make_flows(n: int) -> list:
    flows = []
    for i in range(n):
        f = tflow.tflow(req=tutils.treq(host="api.example.com", port=443, scheme=b"https", path=f"/users/{i}?x=1",
                                        content=b""),
                        resp=tutils.tresp(content=BODY))
        f.request.headers.fields = tuple(REQ_HEADERS)
        f.response.headers.fields = tuple(RESP_HEADERS)
        f.metadata["mimic_source"] = "upstream"
        flows.append(f)
    return flows


async def main(args: argparse.Namespace) -> None:
    flows = make_flows(args.flows)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(str(Path(tmp) / "bench.db"))
        brain = learned_brain()
        addon = InspectorLog(brain=lambda: brain, store=lambda: store)
        with taddons.context(addon) as tctx:
            tctx.configure(addon, mimic_request_log=5000)
            addon.running()
            best = base = float("inf")
            for _ in range(args.repeat):
                addon._stop()  # no writer thread: measure the hook alone
                addon.writer = RequestLogWriter(store, lambda: None, lambda events: None, keep=5000,
                                                queue_size=args.flows + 10)
                gc.collect()
                t0 = time.thread_time()
                for f in flows:
                    f.metadata.pop("mimic_logged", None)
                    addon.response(f)
                best = min(best, (time.thread_time() - t0) / len(flows))
                t0 = time.thread_time()
                for f in flows:  # the same loop around a hook that does nothing: the harness's own cost
                    f.metadata.pop("mimic_logged", None)
                    noop(f)
                base = min(base, (time.thread_time() - t0) / len(flows))
            print(f"hook (response): {best * 1e6:.2f} µs CPU per flow, of which {base * 1e6:.2f} µs is the "
                  f"benchmark loop  [{args.flows} flows, best of {args.repeat}]")
            writer = addon.writer
            writer.lookup._brain = lambda: brain
            items = writer._drain_now()
            third = len(items) // 3
            for label, batch, rows, bodies in (
                    ("logged with bodies", items[:third], 10**9, 10**9),
                    ("logged, over the body budget: headers only", items[third:2 * third], 10**9, 0),
                    ("over the log rate: live stream only", items[2 * third:], 0, 0)):
                writer.rows_per_s, writer.bodies_per_s, writer._bodies = rows, bodies, PerSecond()
                t0, c0 = time.perf_counter(), time.thread_time()
                for i in range(0, len(batch), 256):  # the worker's batch size
                    writer.process(batch[i:i + 256])
                wall, cpu = (time.perf_counter() - t0) / len(batch), (time.thread_time() - c0) / len(batch)
                print(f"writer, off the hot path ({label}): {cpu * 1e6:.0f} µs CPU, {wall * 1e6:.0f} µs wall "
                      f"per entry")
            addon.writer = None
            addon.writer = None
        store.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flows", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5)
    asyncio.run(main(ap.parse_args()))

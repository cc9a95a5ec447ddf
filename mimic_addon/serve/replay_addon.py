"""ReplayAddon: the record and replay modes.

- record (like learn, and more): every exchange answered by the backend is copied off the hot path
  into a queue; the `Recorder` thread redacts it (`replay.make_recording`), adds it to the in-memory
  `ReplayIndex` and saves it to the store in batches every `mimic_flush_interval`.
- replay: the request is answered with the matching recording (exact, then the closest of the same
  template), else by `mimic_replay_fallback`: mock (the learned model), upstream (the backend) or
  404. Answers carry `X-Mimic-Source: replay` (and `X-Mimic-Replay: exact|near`); a near one tells the
  asked path's values where the recording told its own (`replay.echo_path_values`).

The mode of a flow is decided by ServeAddon (`flow.metadata["mimic_mode"]`), which runs before this
addon; its matching and mock answers are reused for the template and the mock fallback.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from mitmproxy import command, ctx, exceptions, http

from ..learn.observation import host_key, latency_ms
from ..learn.worker import BatchWorker
from ..store import StoreError
from ..store.retry_log import recovered, warn_retrying
from .replay import (FALLBACKS, MIMIC_HEADERS, REPEAT, Recording, ReplayIndex, Rules, echo_path_values,
                     make_recording, request_parts)
from .mock import echo_field
from .synth import request_seed

logger = logging.getLogger(__name__)

SOURCE = "X-Mimic-Source"


class Recorder(BatchWorker):
    """Turns captured exchanges into recordings in a worker thread; saves them write-behind."""

    thread_name = "mimic-recorder"

    def __init__(self, index: ReplayIndex, store: Any, *, flush_interval: float = 2.0,
                 queue_size: int = 10_000) -> None:
        super().__init__(flush_interval=flush_interval, queue_size=queue_size)
        self.index = index
        self.store = store
        self.failed = 0
        self._pending: list[dict[str, Any]] = []

    def process(self, items: list[dict[str, Any]]) -> None:
        recs: list[Recording] = []
        for item in items:
            try:
                recs.append(make_recording(**item))
            except Exception:  # one odd exchange must not stop recording
                self.failed += 1
                logger.exception("Mimic could not record %s %s", item.get("method"), item.get("target"))
        if recs:
            self.index.extend(recs)
            self._pending += [r.to_row() for r in recs]
            del self._pending[:-self.index.total]

    def flush(self) -> bool:
        if self.store is None or not self._pending:
            self._pending = [] if self.store is None else self._pending
            return True
        rows, self._pending = self._pending, []
        try:
            self.store.add_recordings(rows, keep=self.index.total)
        except StoreError as e:
            self._pending = rows + self._pending
            warn_retrying(logger, "recordings", e, self.store)
            return False
        recovered("recordings", self.store)
        return True


class ReplayAddon:
    def __init__(self, serve: Any, brain: Callable[[], Any] = lambda: None,
                 store: Callable[[], Any] = lambda: None) -> None:
        self._serve = serve
        self._brain = brain
        self._store = store
        self._store_seen: Any = object()
        self.index = ReplayIndex()
        self.recorder: Recorder | None = None

    # -- options ---------------------------------------------------------------------------------------
    def load(self, loader) -> None:
        loader.add_option("mimic_replay_fallback", str, "mock",
                          "In replay mode, a request no recording matches is answered by: mock (the learned "
                          "model), upstream (the real backend) or 404.", choices=FALLBACKS)
        loader.add_option("mimic_replay_repeat", str, "sequence",
                          "In replay mode, repeated recordings of one request replay in their recorded order "
                          "(sequence; the last one repeats once they run out) or always the newest (last).",
                          choices=REPEAT)
        loader.add_option("mimic_replay_latency", bool, False,
                          "In replay mode, wait as long as the backend took when the exchange was recorded.")
        loader.add_option("mimic_replay_ignore_params", Sequence[str], [],
                          "Query parameters ignored when matching a request to a recording.")
        loader.add_option("mimic_replay_ignore_content", bool, False,
                          "Ignore request bodies when matching a request to a recording.")
        loader.add_option("mimic_replay_ignore_payload_params", Sequence[str], [],
                          "Request body fields (top-level JSON keys, form fields) ignored when matching.")
        loader.add_option("mimic_replay_use_headers", Sequence[str], [],
                          "Request headers that must agree for a recording to match.")
        loader.add_option("mimic_record_max_per_request", int, 50,
                          "Recordings kept per distinct request (the oldest go first).")
        loader.add_option("mimic_record_max_total", int, 10_000,
                          "Recordings kept in all (the oldest go first); `mimic.replay.clear` deletes them all.")

    def configure(self, updated: set[str]) -> None:
        o = ctx.options
        if o.mimic_replay_fallback not in FALLBACKS:
            raise exceptions.OptionsError(f"mimic_replay_fallback must be one of {', '.join(FALLBACKS)}")
        if o.mimic_replay_repeat not in REPEAT:
            raise exceptions.OptionsError(f"mimic_replay_repeat must be one of {', '.join(REPEAT)}")
        if o.mimic_record_max_per_request < 1 or o.mimic_record_max_total < 1:
            raise exceptions.OptionsError("mimic_record_max_per_request and mimic_record_max_total must be >= 1")
        rules = Rules(ignore_params=frozenset(o.mimic_replay_ignore_params),
                      ignore_content=o.mimic_replay_ignore_content,
                      ignore_payload_params=frozenset(o.mimic_replay_ignore_payload_params),
                      use_headers=tuple(h.lower() for h in o.mimic_replay_use_headers))
        bounds = (o.mimic_record_max_per_request, o.mimic_record_max_total)
        if (rules, bounds) != (self.index.rules, (self.index.per_key, self.index.total)):
            self.index.reconfigure(rules, *bounds)
        store = self._store()
        if store is not self._store_seen:
            self._store_seen = store
            self._stop()
            self.index.clear()
            if store is not None:
                try:
                    self.index.extend(Recording.from_row(r) for r in store.load_recordings(self.index.total))
                except Exception as e:  # SQLAlchemyError / bad rows: replay what arrives from now on
                    logger.warning(f"Mimic could not load recordings: {e}")
            self.recorder = Recorder(self.index, store, flush_interval=_interval(),
                                     queue_size=getattr(o, "mimic_queue_size", 10_000))
            self.recorder.start()
        elif self.recorder is not None and "mimic_flush_interval" in updated:
            self.recorder.flush_interval = _interval()

    def _stop(self) -> None:
        if self.recorder is not None:
            self.recorder.stop()
            self.recorder = None

    def done(self) -> None:
        self._stop()

    # -- hooks -----------------------------------------------------------------------------------------
    def response(self, flow: http.HTTPFlow) -> None:
        """Record mode: copy the backend's answer for the recorder thread."""
        if self.recorder is None or flow.response is None or flow.metadata.get("mimic_chaos_fault"):
            return
        if flow.metadata.get("mimic_mode", ctx.options.mimic_mode) != "record":
            return
        if flow.metadata.get("mimic_source", "upstream") != "upstream":
            return
        req, resp = flow.request, flow.response
        end = resp.timestamp_end or resp.timestamp_start
        latency = latency_ms(req.timestamp_start, end)
        injected = flow.metadata.get("mimic_chaos_delay_ms")
        if injected and latency is not None:
            latency = max(0.0, latency - injected)
        self.recorder.submit({
            "host": host_key(req.scheme, req.host, req.port), "method": req.method, "target": req.path,
            "request_fields": req.headers.fields, "request_raw": req.raw_content, "status": resp.status_code,
            "response_fields": resp.headers.fields, "response_raw": resp.raw_content, "latency_ms": latency,
            "ts": req.timestamp_start or time.time(), "max_body": ctx.options.mimic_max_body,
        })

    async def request(self, flow: http.HTTPFlow) -> None:
        """Replay mode: answer with a recording, or fall back."""
        if flow.response or flow.error or not flow.live or flow.metadata.get("mimic_mode") != "replay":
            return
        req = flow.request
        host, ep, template, parts = self._serve._match(req)
        parsed = request_parts(req.method, req.path, req.headers.fields, req.raw_content, ctx.options.mimic_max_body)
        found = None
        name = self._host(req, host)
        if name is not None:
            found = self.index.find(name, parsed, template, ctx.options.mimic_replay_repeat)
        cut = found is not None and found.recording.response_cut
        if found is None or cut:  # (an answer whose body was not kept cannot be told again: as no recording)
            fallback = ctx.options.mimic_replay_fallback
            if fallback == "mock":
                await self._serve._mock(flow, host, ep, template, parts, "mock")
            elif fallback == "404":
                flow.response = http.Response.make(404, json.dumps({
                    "error": "the recorded answer's body was over mimic_max_body and was not kept" if cut
                    else "Mimic has no recording of this request", "method": req.method.upper(),
                    "path": req.path.split("?", 1)[0]}).encode(),
                    {"Content-Type": "application/json", SOURCE: "replay"})
                flow.metadata["mimic_source"] = "replay"
            return  # upstream: mitmproxy forwards it
        assert found is not None
        rec = found.recording
        if ctx.options.mimic_replay_latency and rec.latency_ms:
            await asyncio.sleep(rec.latency_ms / 1000.0)
            if not flow.live or flow.error:
                return
        status, body = rec.status, rec.response_body or b""
        headers = [(k.encode("utf-8", "surrogateescape"), v.encode("utf-8", "surrogateescape"))
                   for k, v in rec.response_headers if k.lower() not in MIMIC_HEADERS]
        twin = self._twin(flow, host, template, parts, status, body)
        if twin is None and found.how == "near":  # another resource's recording: told as the asked one
            body = echo_path_values(body, template, rec.path, req.path, self._echo_key(host, ep))
        if twin is not None:  # a mutated resource: the twin's state, not the stale recording
            status, body, told = twin
            replaced = {b"content-length", b"content-type", *(k.lower().encode() for k in told)}
            headers = [(k, v) for k, v in headers if k.lower() not in replaced]
            headers += [(b"Content-Type", b"application/json"),
                        *((k.encode(), v.encode("utf-8", "surrogateescape")) for k, v in told.items())]
        headers += [(SOURCE.encode(), b"replay"), (b"X-Mimic-Replay", found.how.encode())]
        flow.response = http.Response.make(status, body, headers)
        flow.metadata["mimic_source"] = "replay"
        flow.is_replay = "response"

    def _echo_key(self, host: Any, ep: Any) -> str | None:
        """The body field the endpoint's last path parameter came back under in learned traffic."""
        brain = self._brain()
        if host is None or ep is None or brain is None:
            return None
        with brain.lock:
            return echo_field(host.tree, ep.skeleton)

    def _twin(self, flow: http.HTTPFlow, host: Any, template: str | None, parts: list[str],
              status: int, body: bytes) -> tuple[int, bytes, dict[str, str]] | None:
        extras = getattr(self._serve, "extras", None)
        if extras is None:
            return None
        req = flow.request
        seed = request_seed(ctx.options.mimic_seed, req.method, req.path.split("?", 1)[0],
                            req.path.partition("?")[2], req.raw_content)
        return extras.twin_answer(flow, host, template, parts, status, body, seed)

    def _host(self, req: http.Request, host: Any) -> str | None:
        """The recorded host a request is replayed from: its own, else `mimic_host`, else the
        learned host it was matched to, else the only recorded one."""
        hosts = self.index.hosts()
        for name in (host_key(req.scheme, req.host, req.port), ctx.options.mimic_host, getattr(host, "name", None)):
            if name and name in hosts:
                return name
        return next(iter(hosts)) if len(hosts) == 1 else None

    # -- commands --------------------------------------------------------------------------------------
    @command.command("mimic.replay.flush")
    def flush(self) -> None:
        """Record everything queued and save it to the store now."""
        if self.recorder is not None:
            self.recorder.stop(final=False)
            self.recorder.start()

    @command.command("mimic.replay.rewind")
    def rewind(self) -> None:
        """Replay sequences start again from their first recording."""
        self.index.rewind()

    @command.command("mimic.replay.clear")
    def clear(self) -> str:
        """Delete every recording (memory and store)."""
        self.flush()
        self.index.clear()
        store = self._store()
        n = store.clear_recordings() if store is not None else 0
        return f"{n} recordings deleted"

    @command.command("mimic.replay.stats")
    def stats(self) -> str:
        """Recordings in memory, queued, dropped and failed."""
        r = self.recorder
        return (f"recordings={len(self.index)} queued={r.queue.qsize() if r else 0} "
                f"dropped={r.dropped if r else 0} failed={r.failed if r else 0}")


def _interval() -> float:
    try:
        seconds = float(ctx.options.mimic_flush_interval)
    except (AttributeError, TypeError, ValueError):
        return 2.0
    return seconds if 0 < seconds < float("inf") else 2.0

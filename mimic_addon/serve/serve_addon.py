"""ServeAddon: serve what was learned — mock, failover, and the mode switches that pick them.

The `request` hook decides the mode of one flow (header `X-Mimic-Mode` / `X-Mock-Enabled: true` >
per-endpoint mode > `mimic_mode`), records it in `flow.metadata["mimic_mode"]`, and:
- mock: answers from the learned model and never contacts the backend (a JSON request body that breaks
  the endpoint's request schema is answered 422: `request_check.py`, `mimic_mock_validate`);
- failover: forwards the request itself (mitmproxy would answer 502 itself after the `error` hook,
  too late to step in), and answers from the model when the backend is unreachable, times out or
  answers 5xx (`mimic_failover_on`);
- learn / passthrough: lets mitmproxy forward as usual.
Every answer gets `X-Mimic-Source` (upstream | mock | failover); the learner only learns upstream
answers. `connection_strategy` is set to lazy so a dead backend cannot close a client connection
before any hook runs.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from mitmproxy import command, ctx, exceptions, http

from ..learn.observation import host_key
from ..model.paths import PARAM, split_path
from ..model.wire_text import clean_text
from .endpoint_keys import endpoint_key, setting_for
from .mock import REALISM, MockAnswer, Mocker, closest, context_for, echo_field
from .request_check import MODES as REQUEST_CHECKS
from .request_check import RequestCheck
from .request_input import MAX_BODY, decoded_body, forward_url, json_body, path_part
from .synth import request_seed

logger = logging.getLogger(__name__)

MODES = ("learn", "mock", "failover", "record", "replay", "passthrough")  # record/replay: replay_addon.py
FAILOVER_REASONS = ("5xx", "timeout", "unreachable")
# Methods a backend may be sent twice without harm (RFC 9110, 9.2.2): the others fail over only when the
# request never reached it. httpx errors raised before a request went out:
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_NEVER_SENT = frozenset({"ConnectError", "ConnectTimeout", "PoolTimeout"})
SOURCE = "X-Mimic-Source"
MODE_HEADER = "X-Mimic-Mode"
MAX_COUNTED_REQUESTS = 10_000  # realistic mode: distinct requests whose calls are counted (least recent dropped)
MAX_TEMPLATE_HEADER = 1024  # characters of X-Mimic-Template: a path can be far longer than clients take in a header
MOCK_HEADER = "X-Mock-Enabled"
KEY_ENDPOINT_MODES = "serve.endpoint_modes"
MAX_ECHO_BODY = 64 * 1024
_HOP = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"proxy-connection", b"upgrade", b"te"})


def parse_failover_on(spec: str) -> frozenset[str]:
    """"5xx,timeout" -> {"5xx", "timeout"}; ValueError for an unknown reason."""
    reasons = frozenset(r.strip().lower() for r in spec.split(",") if r.strip())
    unknown = reasons - set(FAILOVER_REASONS)
    if unknown:
        raise ValueError(f"unknown failover reason(s) {', '.join(sorted(unknown))} "
                         f"(known: {', '.join(FAILOVER_REASONS)})")
    return reasons


def parse_timeout(value: str) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"not a number of seconds: {value!r}") from None
    if not 0 < seconds < float("inf"):
        raise ValueError("must be > 0")
    return seconds


def header_mode(headers: http.Headers) -> str | None:
    """The mode a request asks for (and removes the switch headers); ValueError for an unknown one."""
    mode = headers.pop(MODE_HEADER, None)
    mock = headers.pop(MOCK_HEADER, None)
    if mode is not None:
        mode = mode.strip().lower()
        if mode not in MODES:
            raise ValueError(f"{MODE_HEADER} must be one of {', '.join(MODES)}, not {mode!r}")
        return mode
    if mock is not None and mock.strip().lower() in ("true", "1", "yes"):
        return "mock"
    return None


def _json_response(status: int, obj: Any, source: str) -> http.Response:
    return http.Response.make(status, json.dumps(obj).encode(),
                              {"Content-Type": "application/json", SOURCE: source})


class ServeAddon:
    def __init__(self, brain: Callable[[], Any] = lambda: None, store: Callable[[], Any] = lambda: None) -> None:
        self._brain = brain
        self._store = store
        self._store_seen: Any = None
        self.mocker = Mocker()
        self.checks = RequestCheck()
        self.endpoint_modes: dict[str, str] = {}
        self.failover_on = frozenset(FAILOVER_REASONS)
        self.timeout = 5.0
        self._client: Any = None
        self._names: dict[tuple[str, str], tuple[int, str]] = {}
        self._fallback: tuple[tuple[int, int], Any] | None = None
        self._closing: set[asyncio.Task] = set()
        self.extras: Any = None  # twins_addon.ServeExtras: overrides and stateful twins
        self._calls: OrderedDict[int, int] = OrderedDict()  # realistic: request seed -> times it came

    # -- options ---------------------------------------------------------------------------------------
    def load(self, loader) -> None:
        loader.add_option("mimic_host", str, "",
                          "Learned API host that answers requests for hosts never learned (e.g. api.example.com "
                          "behind a reverse proxy on localhost). Empty: the only learned API host, if there is one.")
        loader.add_option("mimic_realism", str, "happy",
                          "Mock realism: happy (the dominant 2xx, no added latency) or realistic (statuses, "
                          "error bodies and latency sampled from what was learned).", choices=REALISM)
        loader.add_option("mimic_mock_validate", str, "spec",
                          "Mock mode checks JSON request bodies against the endpoint's request schema and answers "
                          "422 (400 for broken JSON) when they break it: spec (endpoints imported from a spec), "
                          "learned (also those learned from traffic) or off.", choices=REQUEST_CHECKS)
        loader.add_option("mimic_failover_on", str, ",".join(FAILOVER_REASONS),
                          "In failover mode, answer from the model when the backend fails this way: "
                          "comma-separated 5xx, timeout, unreachable.")
        loader.add_option("mimic_failover_timeout", str, "5",
                          "In failover mode, seconds to wait for the backend before answering from the model.")

    def configure(self, updated: set[str]) -> None:
        if "mimic_realism" in updated and ctx.options.mimic_realism not in REALISM:
            raise exceptions.OptionsError(f"mimic_realism must be one of {', '.join(REALISM)}")
        if "mimic_mock_validate" in updated and ctx.options.mimic_mock_validate not in REQUEST_CHECKS:
            raise exceptions.OptionsError(f"mimic_mock_validate must be one of {', '.join(REQUEST_CHECKS)}")
        if updated & {"mimic_realism", "mimic_seed", "mimic_db"}:
            self._calls.clear()  # (the same calls in order give the same answers: counted from here)
        if "mimic_failover_on" in updated:
            try:
                self.failover_on = parse_failover_on(ctx.options.mimic_failover_on)
            except ValueError as e:
                raise exceptions.OptionsError(f"mimic_failover_on: {e}") from None
        if "mimic_failover_timeout" in updated:
            try:
                self.timeout = parse_timeout(ctx.options.mimic_failover_timeout)
            except ValueError as e:
                raise exceptions.OptionsError(f"mimic_failover_timeout: {e}") from None
            self._drop_client()
        store = self._store()
        if store is not self._store_seen:
            self._store_seen = store
            self.endpoint_modes = dict(store.get_setting(KEY_ENDPOINT_MODES) or {}) if store is not None else {}
        # With the default eager strategy a reverse proxy whose backend is down closes the client
        # connection before any hook runs: mock and failover could never answer.
        if getattr(ctx.options, "connection_strategy", "lazy") != "lazy":
            ctx.options.update(connection_strategy="lazy")

    # -- hooks -----------------------------------------------------------------------------------------
    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or not flow.live:
            return
        req = flow.request
        try:
            asked = header_mode(req.headers)
        except ValueError as e:
            flow.response = _json_response(400, {"error": str(e)}, "mock")
            flow.metadata["mimic_source"] = "mock"
            return
        mode = asked or ctx.options.mimic_mode
        if mode == "passthrough" and not self.endpoint_modes:
            flow.metadata["mimic_mode"] = mode
            return
        if mode in ("learn", "record") and not self.endpoint_modes:  # record: replay_addon.py
            flow.metadata["mimic_mode"] = mode
            return
        host, ep, template, parts = self._match(req, head_as_get=True)
        if asked is None and self.endpoint_modes:
            found = setting_for(self.endpoint_modes, req.method, getattr(host, "name", None), template)
            if found is not None:
                mode = found[1]
        flow.metadata["mimic_mode"] = mode
        if mode == "mock":
            await self._mock(flow, host, ep, template, parts, "mock")
        elif mode == "failover":
            await self._failover(flow, host, ep, template, parts)

    def response(self, flow: http.HTTPFlow) -> None:
        resp = flow.response
        if resp is None:
            return
        fault = flow.metadata.get("mimic_chaos_fault")
        if fault or flow.metadata.get("mimic_source", "upstream") != "upstream":
            allow_cors(flow.request, resp)  # (an answer of Mimic's own: the backend's CORS never reached it)
        if fault or SOURCE in resp.headers:
            return
        resp.headers[SOURCE] = "upstream"
        flow.metadata.setdefault("mimic_source", "upstream")

    # -- matching --------------------------------------------------------------------------------------
    def _match(self, req: http.Request, head_as_get: bool = False) -> tuple[Any, Any, str | None, list[str]]:
        """(host model, endpoint or None, named template or None, decoded path parts).

        `head_as_get`: a HEAD never learned is answered as the learned GET (without its body)."""
        brain = self._brain()
        parts = [path_part(p) for p in split_path(req.path.split("?", 1)[0])]
        if brain is None:
            return None, None, None, parts
        method = req.method.upper()
        with brain.lock:
            host = brain.hosts.get(host_key(req.scheme, req.host, req.port)) or self._fallback_host(brain)
            if host is None:
                return None, None, None, parts
            skeleton = host.tree.match(method, parts)
            if skeleton is None and method == "HEAD" and head_as_get:
                method, skeleton = "GET", host.tree.match("GET", parts)
            if len(parts) > 1 and parts[-1] == "" and (skeleton is None or skeleton.endswith("/" + PARAM)):
                # a trailing slash never learned is the path without it (`POST /items/` is `POST /items`),
                # not an item whose id is empty
                bare = host.tree.match(method, parts[:-1])
                if bare is not None:
                    skeleton, parts = bare, parts[:-1]
            ep = host.endpoints.get((method, skeleton)) if skeleton is not None else None
            if ep is None:
                return host, None, None, parts
            key = (host.name, skeleton)
            named = self._names.get(key)
            if named is None or named[0] != brain.observed:
                named = self._names[key] = (brain.observed, host.tree.named(skeleton))
            return host, ep, named[1], parts

    def _fallback_host(self, brain: Any) -> Any:
        name = ctx.options.mimic_host
        if name:
            return brain.hosts.get(name)
        version = (len(brain.hosts), brain.observed)
        if self._fallback is None or self._fallback[0] != version:
            apis = [h for h in brain.hosts.values() if any(ep.responses for ep in h.endpoints.values())]
            self._fallback = (version, apis[0] if len(apis) == 1 else None)
        return self._fallback[1]

    # -- mock ------------------------------------------------------------------------------------------
    async def _mock(self, flow: http.HTTPFlow, host: Any, ep: Any, template: str | None,
                    parts: list[str], source: str) -> None:
        req = flow.request
        preflight = _is_preflight(req)
        if ep is None or preflight:  # (a preflight is Mimic's to answer, a learned OPTIONS's too)
            allowed = self._allowed(host, parts)
            if (allowed and req.method.upper() not in allowed) or preflight:
                # (a preflight of a path never learned passes, so that the app can read the 404 that follows)
                flow.response = _not_allowed(req, allowed, source)
            else:
                flow.response = _json_response(404, self._unknown(host, req), source)
            flow.metadata["mimic_source"] = source
            return
        if source == "mock" and req.raw_content:
            refused = self._refused(ep, req)
            if refused is not None:
                flow.response = _json_response(*refused, source)
                flow.response.headers["X-Mimic-Template"] = _capped(f"{ep.method} {template}")
                flow.metadata["mimic_source"] = source
                return
        seed = request_seed(ctx.options.mimic_seed, ep.method, req.path.split("?", 1)[0],  # (HEAD: as its GET)
                            req.path.partition("?")[2], req.raw_content)
        draw = self._nth_call(seed) if ctx.options.mimic_realism == "realistic" else None
        brain = self._brain()
        with brain.lock:
            ctx_ = context_for(template or "", parts, _query(req), json_body(req, MAX_ECHO_BODY), echo_field(host.tree, ep.skeleton))
            answer = self.mocker.answer(ep, ctx_, ctx.options.mimic_realism, seed, host.endpoints.values(), draw)
        extra: dict[str, str] = {}
        if self.extras is not None:
            path = req.path.split("?", 1)[0].rstrip("/")
            if ep.method == "GET":  # (a listing's items as reading each says: `_read_item`)
                answer = self.extras.listed_as_read(flow, host, template, parts, answer,
                                                    lambda rid: self._read_item(host, path, parts, rid))
            parent = path.rsplit("/", 1)[0]

            def missing() -> bytes | None:
                with brain.lock:
                    return self.mocker.body_of(ep, 404, ctx_, seed, host.endpoints.values())

            answer, extra = self.extras.adjust(
                flow, host, ep, template, parts, answer, seed,
                (lambda: self._read_item(host, parent, parts[:-1], parts[-1])) if parts else None, missing)
        if answer.delay_s > 0:
            await asyncio.sleep(answer.delay_s)
            if not flow.live or flow.error:
                return
        # (a HEAD never learned is the GET's answer: the template named is the GET's, and the length
        # told is the body's the GET would get, as a server answers HEAD)
        headers = {SOURCE: source, "X-Mimic-Template": _capped(f"{ep.method} {template}"), **extra}
        if answer.status in _BODILESS or answer.status < 200:  # (HTTP allows them no body: an override's is dropped)
            answer = MockAnswer(answer.status, b"", "", answer.delay_s)
            headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        if answer.content_type:
            headers["Content-Type"] = answer.content_type
        head = req.method.upper() == "HEAD"
        flow.response = http.Response.make(answer.status, b"" if head else answer.body, headers)
        if head:
            flow.response.headers["Content-Length"] = str(len(answer.body))
        flow.metadata["mimic_source"] = source
        flow.is_replay = "response"

    def _read_item(self, host: Any, path: str, parts: list[str], rid: str) -> Any:
        """The JSON body the model answers to `GET path/rid` (as a request of its own would get it, in
        happy realism), or None."""
        brain = self._brain()
        item_parts = [*parts, rid]
        with brain.lock:
            skeleton = host.tree.match("GET", item_parts)
            ep = host.endpoints.get(("GET", skeleton)) if skeleton is not None else None
            if ep is None:
                return None
            template = host.tree.named(skeleton)
            seed = request_seed(ctx.options.mimic_seed, "GET", f"{path}/{urllib.parse.quote(rid, safe='')}", "", b"")
            ctx_ = context_for(template, item_parts, {}, None, echo_field(host.tree, ep.skeleton))
            answer = self.mocker.answer(ep, ctx_, "happy", seed, host.endpoints.values())
        if not answer.body or not 200 <= answer.status < 300:
            return None
        try:
            return json.loads(answer.body)
        except ValueError:
            return None

    def _refused(self, ep: Any, req: http.Request) -> tuple[int, dict] | None:
        """(status, answer) when the request's body breaks the endpoint's request schema
        (`mimic_mock_validate`, `request_check.py`)."""
        mode = ctx.options.mimic_mock_validate
        if mode == "off":
            return None
        body = decoded_body(req, MAX_BODY)
        brain = self._brain()
        with brain.lock:  # (the schema may be learning in another thread)
            return self.checks.problems(ep, mode, body, req.headers.get("content-type", ""))

    def _nth_call(self, seed: int) -> int:
        """The seed of a realistic answer's draws (its status and latency, sampled from what was
        learned: a retry may succeed), anew each time a request comes: from the request and how many
        times it came, so that the same requests in the same order get the same answers. The body of a
        status stays the request's own (`Mocker.answer`)."""
        n = self._calls.pop(seed, 0) + 1
        self._calls[seed] = n
        if len(self._calls) > MAX_COUNTED_REQUESTS:
            self._calls.popitem(last=False)
        return seed if n == 1 else (seed * 0x9E3779B97F4A7C15 + n) % (1 << 64)

    def _allowed(self, host: Any, parts: list[str]) -> list[str]:
        """The methods learned for a path, when it is known but not with the request's method."""
        brain = self._brain()
        if host is None or brain is None:
            return []
        with brain.lock:
            return sorted(_methods_at(host.tree.root, parts))

    def _unknown(self, host: Any, req: http.Request) -> dict:
        brain = self._brain()
        templates: list[tuple[str, str, str | None]] = []
        if brain is not None:
            with brain.lock:
                hosts = [host] if host is not None else list(brain.hosts.values())
                for h in hosts:
                    origin = f"{h.scheme}://{h.name}" if len(hosts) > 1 else None  # tell the hosts apart
                    templates += [(m, named, origin) for m, _, named in h.tree.templates()]
        path = clean_text(req.path.split("?", 1)[0])
        return {"error": "Mimic has not learned this endpoint", "method": req.method.upper(), "path": path,
                "closest": closest(req.method.upper(), path, templates)}

    # -- failover --------------------------------------------------------------------------------------
    async def _failover(self, flow: http.HTTPFlow, host: Any, ep: Any, template: str | None,
                        parts: list[str]) -> None:
        upstream: http.Response | None = None
        sent = True  # (whether the backend may have got the request, and acted on it)
        try:
            upstream = await self._forward(flow.request)
            reason = "5xx" if upstream.status_code >= 500 else None
        except asyncio.TimeoutError:
            reason = "timeout"
        except Exception as e:  # httpx.TimeoutException / HTTPError / OSError
            reason = "timeout" if "Timeout" in type(e).__name__ else "unreachable"
            sent = type(e).__name__ not in _NEVER_SENT
            logger.debug(f"Mimic failover: {flow.request.url}: {type(e).__name__}: {e}")
        if not flow.live:
            return
        method = flow.request.method.upper()
        # a POST or PATCH the backend got is never answered in its place: it may have acted on it (created
        # the order), and a made-up answer would hide what it did; only one that never reached it is
        acted = sent and method not in _IDEMPOTENT
        if reason is None or reason not in self.failover_on or ep is None or acted:
            if upstream is not None:  # the backend's own answer (a 5xx of an endpoint never learned too)
                upstream.headers[SOURCE] = "upstream"
                flow.response = upstream
                flow.metadata["mimic_source"] = "upstream"
            else:
                status = 504 if reason == "timeout" else 502
                what = "did not answer in time" if reason == "timeout" else \
                    "dropped the connection before its answer was whole" if sent else "could not be reached"
                if acted and ep is not None:
                    why = (f"the backend {what} after it got this {method}: a {method} is not failed over (the "
                           "backend may have acted on it)")
                elif ep is None:
                    why = f"the backend {what}, and Mimic has learned no answer of this endpoint"
                else:
                    why = f"the backend {what}, and mimic_failover_on does not name {reason}"
                flow.response = _json_response(status, {"error": why, "method": method,
                                                        "path": clean_text(flow.request.path.split("?", 1)[0])},
                                                 "failover")
                flow.metadata["mimic_source"] = "failover"
            return
        flow.metadata["mimic_failover"] = reason
        await self._mock(flow, host, ep, template, parts, "failover")

    async def _forward(self, req: http.Request) -> http.Response:
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(verify=not ctx.options.ssl_insecure, trust_env=False,
                                             timeout=httpx.Timeout(self.timeout), follow_redirects=False)
        headers = [(k, v) for k, v in req.headers.fields if k.lower() not in _HOP and k.lower() != b"content-length"]
        start = time.time()
        r = await self._client.send(
            self._client.build_request(req.method, forward_url(req), headers=headers,
                                       content=req.raw_content or b""),
            stream=True)
        try:
            raw = b"".join([chunk async for chunk in r.aiter_raw()])
        finally:
            await r.aclose()
        fields = [(k, v) for k, v in r.headers.raw if k.lower() not in _HOP and k.lower() != b"content-length"]
        fields.append((b"content-length", str(len(raw)).encode()))
        return http.Response(b"HTTP/1.1", r.status_code, r.reason_phrase.encode(), http.Headers(fields),
                             raw, None, start, time.time())

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            task = asyncio.get_running_loop().create_task(client.aclose())
        except RuntimeError:
            return
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def done(self) -> None:
        self._drop_client()

    # -- commands --------------------------------------------------------------------------------------
    @command.command("mimic.mode.set")
    def set_mode(self, mode: str) -> None:
        """Set the global mode: learn, mock, failover, record, replay or passthrough (no restart)."""
        if mode not in MODES:
            raise exceptions.CommandError(f"mode must be one of {', '.join(MODES)}")
        ctx.options.update(mimic_mode=mode)

    @command.command("mimic.mode.endpoint")
    def set_endpoint_mode(self, method: str, template: str, mode: str) -> None:
        """Set the mode of one endpoint (METHOD /template, e.g. GET /users/{user_id}, on every host; or of
        one host's, GET api.example.com/users/{user_id}); "inherit" removes it. Remembered across restarts."""
        key = endpoint_key(method, template)
        if mode == "inherit":
            self.endpoint_modes.pop(key, None)
        elif mode in MODES:
            self.endpoint_modes[key] = mode
        else:
            raise exceptions.CommandError(f"mode must be one of {', '.join(MODES)} or inherit")
        store = self._store()
        if store is not None:
            try:
                store.put_setting(KEY_ENDPOINT_MODES, self.endpoint_modes)
            except Exception as e:  # StoreError: keep it in memory, say so
                logger.warning(f"Mimic: could not save endpoint modes: {e}")

    @command.command("mimic.mode.show")
    def show_modes(self) -> str:
        """The global mode and every per-endpoint mode."""
        lines = [f"global: {ctx.options.mimic_mode}"]
        lines += [f"{key}: {mode}" for key, mode in sorted(self.endpoint_modes.items())]
        return "\n".join(lines)


def _methods_at(node: Any, parts: list[str], i: int = 0) -> set[str]:
    """Every method learned at a template the path fits (literal or parameter, at each segment)."""
    if i == len(parts):
        return set(node.ends)
    found: set[str] = set()
    child = node.literals.get(parts[i])
    if child is not None:
        found |= _methods_at(child, parts, i + 1)
    if node.param is not None:
        found |= _methods_at(node.param, parts, i + 1)
    return found


def _not_allowed(req: http.Request, allowed: list[str], source: str) -> http.Response:
    """OPTIONS: 204 with `Allow` (and the CORS answer to a preflight); another method never learned
    on a known path: 405 with `Allow`, as a real server (or Prism) answers. HEAD is allowed with GET."""
    allow = ", ".join(sorted(set(allowed) | {"OPTIONS"} | ({"HEAD"} if "GET" in allowed else set())))
    if req.method.upper() == "OPTIONS":
        headers = {"Allow": allow, SOURCE: source}
        if _is_preflight(req):
            asked_method = req.headers["Access-Control-Request-Method"].strip().upper()
            # (the method asked passes too: the page then reads the 404 or 405 that follows, as it would a backend's)
            methods = allow if asked_method in allow.split(", ") else f"{allow}, {asked_method}"
            headers |= {"Access-Control-Allow-Origin": req.headers["Origin"], "Access-Control-Allow-Methods": methods,
                        "Access-Control-Allow-Credentials": "true", "Access-Control-Max-Age": "600",
                        "Vary": "Origin"}
            asked = req.headers.get("Access-Control-Request-Headers")
            if asked:
                headers["Access-Control-Allow-Headers"] = asked
        return http.Response.make(204, b"", headers)
    body = {"error": "Mimic has not learned this method for this path", "method": req.method.upper(),
            "path": req.path.split("?", 1)[0], "allow": allow.split(", ")}
    return http.Response.make(405, json.dumps(body).encode(),
                              {"Content-Type": "application/json", "Allow": allow, SOURCE: source})


_BODILESS = frozenset((204, 205, 304))


def _is_preflight(req: http.Request) -> bool:
    return req.method.upper() == "OPTIONS" and "Origin" in req.headers and "Access-Control-Request-Method" in req.headers


_SAFELISTED = frozenset(("cache-control", "content-language", "content-length", "content-type", "expires",
                         "last-modified", "pragma"))


def allow_cors(req: http.Request, resp: http.Response) -> None:
    """An answer Mimic made (mock, failover, replay, a chaos fault) to a browser's cross-origin request
    carries what lets the page read it, as Prism's answers do: the asking origin allowed (with
    credentials), and its headers exposed (`Location`, `X-Mimic-*`). An answer that says already
    is left as it is (a recorded one)."""
    origin = req.headers.get("Origin")
    if not origin or "Access-Control-Allow-Origin" in resp.headers:
        return
    resp.headers["Access-Control-Allow-Origin"] = origin
    resp.headers["Access-Control-Allow-Credentials"] = "true"
    exposed = sorted({k for k in resp.headers if k.lower() not in _SAFELISTED and not k.lower().startswith("access-control-")})
    if exposed:
        resp.headers["Access-Control-Expose-Headers"] = ", ".join(exposed)
    vary = resp.headers.get("Vary")
    if not vary:
        resp.headers["Vary"] = "Origin"
    elif vary.strip() != "*" and "origin" not in {v.strip().lower() for v in vary.split(",")}:
        resp.headers["Vary"] = f"{vary}, Origin"


def _query(req: http.Request) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in req.query.items(multi=True):
        out.setdefault(k, v)
    return out


def _capped(value: str) -> str:
    """A header value cut to MAX_TEMPLATE_HEADER characters (a 60 KB path made a header line that HTTP clients
    refuse, e.g. Python's http.client stops at 64 KB)."""
    return value if len(value) <= MAX_TEMPLATE_HEADER else value[: MAX_TEMPLATE_HEADER - 3] + "..."

"""ServeExtras: overrides, variants and stateful twins on top of the model's answers.

`ServeAddon` hands each answer it makes from the model (mock and failover) to `adjust`, which
returns the answer to send instead: the endpoint's override when one is set, else the stateful
twin's when the request falls in a learned collection, else the model's own. `twin_answer` is the
same twin step for other callers (replay). Overrides are saved in the store at once (setting
`serve.overrides`); twin state is kept per scope (`X-Mimic-Session`, else the client address) in
`serve.twins.<scope>` settings, written by a background task every `FLUSH_INTERVAL` seconds and
on `done`, never on the request path.

This addon must come before the `Mimic` addon in the addon list, so that its `done` still finds
the store open.
"""
from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

from faker import Faker
from mitmproxy import command, exceptions, http

from ..model import safe_json
from ..model.paths import aligned, param_name
from ..model.redact import redact_json
from ..store.retry_log import recovered, warn_retrying
from .endpoint_keys import endpoint_key, setting_for
from .mock import MockAnswer
from .overrides import Override, OverrideError, parse_spec, parse_text, render
from .request_input import first_values, json_body, path_part, text_body
from .twins import Collection, TwinState, apply, find_collection, hide, id_field_for, id_kind_of, list_key_for

logger = logging.getLogger(__name__)

_OBJ, _STR, _INT, _NUM = 0, 2, 3, 4  # SchemaNode type slots (model/schema.py order)
KEY_OVERRIDES = "serve.overrides"
KEY_SCOPES = "serve.twins"
KEY_SCOPE = "serve.twins."
SESSION = "X-Mimic-Session"
OVERRIDE = "X-Mimic-Override"
TWIN = "X-Mimic-Twin"
FLUSH_INTERVAL = 0.5


MAX_LISTED_READ = 100  # listed items made to agree with their reads (a page of a listing, at most)


def scope_of(flow: http.HTTPFlow) -> str:
    session = flow.request.headers.get(SESSION)
    if session:
        return "session:" + session.strip()[:200]
    peer = flow.client_conn.peername
    return "client:" + (str(peer[0]) if peer else "unknown")


class ServeExtras:
    def __init__(self, brain: Callable[[], Any] = lambda: None, store: Callable[[], Any] = lambda: None) -> None:
        self._brain = brain
        self._store = store
        self._store_seen: Any = None
        self.overrides: dict[str, Override] = {}
        self.twins = TwinState()
        self.calls: dict[str, int] = {}
        self.fake = Faker()
        self._collections: dict[tuple, Collection | None] = {}
        self._task: asyncio.Task | None = None

    # -- store ----------------------------------------------------------------------------------------
    def _sync(self) -> Any:
        """The store, (re)loading overrides and twin state when it changed."""
        store = self._store()
        if store is not self._store_seen:
            self._store_seen = store
            self.overrides, self.twins, self._collections = {}, TwinState(), {}
            if store is not None:
                try:
                    for key, spec in (store.get_setting(KEY_OVERRIDES) or {}).items():
                        try:
                            self.overrides[key] = parse_spec(spec)
                        except OverrideError as e:
                            logger.warning(f"Mimic: ignoring stored override {key}: {e}")
                    for scope in store.get_setting(KEY_SCOPES) or []:
                        self.twins.load_scope(scope, store.get_setting(KEY_SCOPE + scope))
                except Exception as e:  # StoreError
                    logger.warning(f"Mimic: could not load overrides / twin state: {e}")
        return store

    def flush(self) -> None:
        store = self._sync()
        changed, dropped = self.twins.take_changes()
        if store is None or not (changed or dropped):
            return
        if not self._write(store, changed, dropped, list(self.twins.scopes)):
            self.twins.give_back(changed, dropped)

    _write_lock = threading.Lock()  # a write in flight on the flusher's thread finishes before done's

    @classmethod
    def _write(cls, store: Any, changed: dict, dropped: set, scopes: list[str]) -> bool:
        with cls._write_lock:
            return cls._put(store, changed, dropped, scopes)

    @staticmethod
    def _put(store: Any, changed: dict, dropped: set, scopes: list[str]) -> bool:
        """Save the changed scopes; False when the store refused (they are to be tried again)."""
        try:
            for scope in dropped - set(changed):
                store.put_setting(KEY_SCOPE + scope, None)
            for scope, data in changed.items():  # secrets clients sent stay in memory, never stored
                store.put_setting(KEY_SCOPE + scope, redact_json(data))
            store.put_setting(KEY_SCOPES, scopes)
        except Exception as e:  # StoreError: keep serving from memory
            warn_retrying(logger, "twin state", e, store)
            return False
        recovered("twin state", store)
        return True

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)  # write-behind period, not synchronisation
            store = self._sync()
            changed, dropped = self.twins.take_changes()
            if store is not None and (changed or dropped):
                if not await asyncio.to_thread(self._write, store, changed, dropped, list(self.twins.scopes)):
                    self.twins.give_back(changed, dropped)

    def running(self) -> None:
        self._sync()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._flusher())

    def done(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.flush()

    # -- answers --------------------------------------------------------------------------------------
    def adjust(self, flow: http.HTTPFlow, host: Any, ep: Any, template: str | None, parts: list[str],
               answer: MockAnswer, seed: int, read: Callable[[], Any] | None = None,
               missing: Callable[[], bytes | None] | None = None) -> tuple[MockAnswer, dict[str, str]]:
        """The answer to send for a model answer: override > twin > the model's. `read`: the model's
        `GET` of the item the request is about (what a PUT or PATCH of an item the twin lacks changes);
        `missing`: the model's 404 body of the endpoint, for an item the twin deleted."""
        self._sync()
        req = flow.request
        found = setting_for(self.overrides, req.method, getattr(host, "name", None), template)
        if found is not None:
            key, ov = found
            n = self.calls[key] = self.calls.get(key, 0) + 1
            rng = random.Random(f"{seed}:{n}")
            r = render(ov, key, request_view(flow, template or "", parts), self.twins.kv(scope_of(flow)),
                       rng, self.fake)
            return MockAnswer(r.status, r.body, r.content_type, answer.delay_s), {**r.headers, OVERRIDE: r.name}
        twin = self.twin_answer(flow, host, template, parts, answer.status, answer.body, seed, read, missing)
        if twin is None:
            return answer, {}
        status, body, headers = twin
        return MockAnswer(status, body, "application/json" if body else "", answer.delay_s), headers

    def listed_as_read(self, flow: http.HTTPFlow, host: Any, template: str | None, parts: list[str],
                       answer: MockAnswer, read: Callable[[str], Any]) -> MockAnswer:
        """A collection's listing whose items say what reading each one says (`GET /items` then
        `GET /items/1` show item 1 alike): every field a listed item shares with the item read, in the
        same JSON type, takes the read item's value: the twin's stored item when this scope has one,
        else the model's answer to `GET` of that item (`read(id)`, its parsed body or None)."""
        if host is None or template is None or not 200 <= answer.status < 300 or not answer.body:
            return answer
        coll, is_item = self._collection(host, template, parts)
        if coll is None or is_item:
            return answer
        try:
            listing = json.loads(answer.body)
        except ValueError:
            return answer
        key = self._list_key(host, coll, listing) if isinstance(listing, dict) else None
        items = listing if isinstance(listing, list) else listing.get(key) if key is not None else None
        if not isinstance(items, list):
            return answer
        scope = scope_of(flow)
        changed = False
        for item in items[:MAX_LISTED_READ]:
            rid = item.get(coll.id_field) if isinstance(item, dict) else None
            if rid is None or isinstance(rid, (dict, list, bool)):
                continue
            found, stored = self.twins.get(scope, coll, str(rid))
            detail = hide(stored, coll.hidden) if found == "item" else read(str(rid))
            if not isinstance(detail, dict):
                continue
            for k in item:
                if k != coll.id_field and k in detail and type(detail[k]) is type(item[k]) and detail[k] != item[k]:
                    item[k] = detail[k]
                    changed = True
        if not changed:
            return answer
        body = safe_json.dumps(listing, ensure_ascii=False, separators=(",", ":")).encode()
        return MockAnswer(answer.status, body, answer.content_type, answer.delay_s)

    def twin_answer(self, flow: http.HTTPFlow, host: Any, template: str | None, parts: list[str],
                    status: int, body: bytes, seed: int, read: Callable[[], Any] | None = None,
                    missing: Callable[[], bytes | None] | None = None) -> tuple[int, bytes, dict[str, str]] | None:
        """(status, body, headers) of the stateful twin for a request whose other answer is status/body,
        or None when the request is not in a learned collection (or the twin has nothing to say). The
        headers say what the twin did (`X-Mimic-Twin`) and, for a 201, where the new item is (`Location`)."""
        if host is None or template is None:
            return None
        coll, is_item = self._collection(host, template, parts)
        if coll is None:
            return None
        req = flow.request
        method = "GET" if req.method.upper() == "HEAD" else req.method.upper()  # (HEAD: the GET's answer, bodiless)
        scope = scope_of(flow)
        if method == "GET" and scope not in self.twins.scopes:
            return None  # nothing created, changed or deleted in this scope: the model's answer stands
        try:
            synth = json.loads(body) if body else None
        except ValueError:
            synth = None
        req_body = json_body(req)
        query = first_values(req.query.fields)
        list_key = None
        if not is_item and method == "GET":
            list_key = self._list_key(host, coll, synth)
        rng = random.Random(f"twin:{seed}")
        current = read() if read is not None and is_item and method in ("PUT", "PATCH") else None
        ans = apply(self.twins, scope, coll, method, is_item, parts[-1] if is_item else None,
                    req_body, query, status, synth, rng, list_key, current)
        if ans is None:
            return None
        shown = hide(ans.body, coll.hidden)
        out = b"" if shown is None else safe_json.dumps(shown, separators=(",", ":")).encode()
        if ans.op == "missing" and missing is not None:  # (the shape the endpoint's own 404s had)
            out = missing() or out
        headers = {TWIN: ans.op}
        if ans.created is not None and ans.status == 201:
            headers["Location"] = req.path.split("?", 1)[0].rstrip("/") + "/" + urllib.parse.quote(ans.created, safe="")
        return ans.status, out, headers

    def _collection(self, host: Any, template: str, parts: list[str]) -> tuple[Collection | None, bool]:
        brain = self._brain()
        cache_key = (host.name, template, getattr(brain, "observed", 0))
        hit = self._collections.get(cache_key)
        if hit is None and cache_key not in self._collections:
            if len(self._collections) > 10_000:
                self._collections.clear()
            hit = self._collections[cache_key] = self._recognise(brain, host, template, parts)
        if hit is None:
            return None, False
        return hit, template == hit.item

    def _recognise(self, brain: Any, host: Any, template: str, parts: list[str]) -> Collection | None:
        with brain.lock:
            learned = [(m, named, skel) for m, skel, named in host.tree.templates()]
            found = find_collection([(m, n) for m, n, _ in learned], _template_parts(template, parts))
            if found is None:
                return None
            base, item, _ = found
            param = item.rsplit("{", 1)[1].rstrip("}")
            eps = {(m, n): host.endpoints.get((m, s)) for m, n, s in learned if n in (base, item)}
            schema = _ok_schema(eps.get(("GET", item))) or _ok_schema(eps.get(("POST", base)))
            props = getattr(schema, "props", None) or {}
            skeleton = next(s for _, n, s in learned if n == item)
            echo_keys = dict(getattr(host.tree.node_at(skeleton), "echo_keys", None) or {})
            id_field = id_field_for(param, list(props), echo_keys)
            node = props.get(id_field)
            values: list[Any] = []
            for ep in eps.values():
                for code, ex in (getattr(ep, "examples", None) or {}).items():
                    if not str(code).startswith("2"):  # (a 404's `{"id": 999}` is no item that was)
                        continue
                    for x in (ex if isinstance(ex, list) else [ex] + [v for vs in (ex.values() if isinstance(ex, dict) else [])
                                                                      if isinstance(vs, list) for v in vs]):
                        if isinstance(x, dict) and id_field in x:
                            values.append(x[id_field])
            fmt = node.string_format() if node is not None else None
            types = getattr(node, "types", None) or [0] * 7
            is_string = bool(types[_STR]) and not (types[_INT] or types[_NUM])
            kind, top, prefix = id_kind_of(values, fmt, getattr(node, "num_max", None), is_string)
            writers = [ep for (m, n), ep in eps.items() if m in ("POST", "PUT", "PATCH") and ep is not None]
            sent = frozenset(k for ep in writers for k in (getattr(ep.request, "props", None) or {}))
            hidden = frozenset(k for ep in writers for k in ((ep.imported or {}).get("write_only") or ()))
            # kept by the backend: in every learned answer to a PUT, though some learned PUT left it out
            put_ep = eps.get(("PUT", item))
            put = _ok_schema(put_ep)
            total = put.types[_OBJ] if put is not None else 0
            put_sent = getattr(put_ep, "request", None)
            sent_props = getattr(put_sent, "props", None) or {}
            sent_total = put_sent.types[_OBJ] if put_sent is not None else 0
            kept = frozenset(k for k, child in (getattr(put, "props", None) or {}).items()
                             if total and child.count >= total
                             and (k not in sent_props or sent_props[k].count < sent_total))
        return Collection(f"{host.name} {base}", base, item, id_field, kind, top, prefix, sent, hidden, kept)

    def _list_key(self, host: Any, coll: Collection, synth: Any) -> str | None:
        if not isinstance(synth, dict):
            return None
        brain = self._brain()
        with brain.lock:
            eps = {(m, host.tree.named(s)): ep for (m, s), ep in host.endpoints.items()}
            item_schema = _ok_schema(eps.get(("GET", coll.item))) or _ok_schema(eps.get(("POST", coll.base)))
            item_keys = set(getattr(item_schema, "props", None) or {})
            list_schema = _ok_schema(eps.get(("GET", coll.base)))
            arrays: dict[str, set[str]] = {}
            for k, child in (getattr(list_schema, "props", None) or {}).items():
                items = getattr(child, "items", None)
                arrays[k] = set(getattr(items, "props", None) or {})
        return list_key_for(synth, item_keys or {coll.id_field}, arrays)

    # -- commands -------------------------------------------------------------------------------------
    @command.command("mimic.override.set")
    def override_set(self, method: str, template: str, spec: str) -> str:
        """Pin the answer of one endpoint (METHOD /template on every host, or METHOD host/template on one):
        a JSON/YAML spec with body, template (sandboxed Jinja2) or weighted variants. Remembered across
        restarts."""
        try:
            ov = parse_text(spec)
        except OverrideError as e:
            raise exceptions.CommandError(str(e)) from None
        key = endpoint_key(method, template)
        store = self._sync()
        self.overrides[key] = ov
        self.calls.pop(key, None)
        self._save_overrides(store)
        return f"override set: {key}"

    @command.command("mimic.override.clear")
    def override_clear(self, method: str, template: str) -> str:
        """Remove the override of one endpoint (METHOD /template, or METHOD host/template)."""
        key = endpoint_key(method, template)
        store = self._sync()
        if self.overrides.pop(key, None) is None:
            raise exceptions.CommandError(f"no override for {key}")
        self._save_overrides(store)
        return f"override cleared: {key}"

    @command.command("mimic.override.list")
    def override_list(self) -> str:
        """Every override, as METHOD /template: spec."""
        self._sync()
        return "\n".join(f"{k}: {json.dumps(ov.spec)}" for k, ov in sorted(self.overrides.items()))

    @command.command("mimic.state.reset")
    def state_reset(self, scope: str = "") -> str:
        """Forget the stateful twins' state: of one scope (session:NAME or client:ADDRESS), or all."""
        self._sync()
        names = self.twins.reset(scope or None)
        self.flush()
        return f"reset {len(names)} scope(s)"

    def _save_overrides(self, store: Any) -> None:
        if store is None:
            return
        try:
            store.put_setting(KEY_OVERRIDES, {k: ov.spec for k, ov in self.overrides.items()})
        except Exception as e:  # StoreError: keep it in memory, say so
            logger.warning(f"Mimic: could not save overrides: {e}")


def _ok_schema(ep: Any) -> Any:
    if ep is None:
        return None
    for code in sorted(ep.responses):
        if code.startswith("2") and ep.responses[code].count:
            return ep.responses[code]
    return None


def _template_parts(template: str, parts: list[str]) -> list[str]:
    return parts if len(parts) == len([p for p in template.split("/") if p]) else [p for p in template.split("/") if p]


def request_view(flow: http.HTTPFlow, template: str, parts: list[str]) -> dict[str, Any]:
    """What templates see as `request`."""
    req = flow.request
    params = {name: path_part(v) for n, v in aligned(template, parts) if (name := param_name(n)) is not None}
    text = text_body(req)
    return {"method": req.method.upper(), "path": req.path.split("?", 1)[0], "params": params,
            "query": first_values(req.query.fields),
            "headers": {k.lower(): v for k, v in req.headers.items()},
            "body": json_body(req), "text": text}

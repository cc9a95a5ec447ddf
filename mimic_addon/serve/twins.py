"""Stateful twins: a learned collection behaves like a small CRUD service. Pure, no I/O.

A collection is recognised from the learned templates: `/x` with POST and a sibling `/x/{param}`
(`find_collection`). `TwinState` keeps, per scope (a session or a client address), the items
created, updated or deleted in each collection and a small key/value store for templates, bounded
in items per collection and in scopes (least recently used scopes go first). `apply` turns one
request plus the synthetic answer the model would give into the twin's answer (or None: keep the
synthetic one). `to_dict` / `load_scope` are what the store keeps, one setting per scope.
"""
from __future__ import annotations

import copy
import json
import random
import re
import uuid as _uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

MAX_ITEMS = 500          # per collection and scope
MAX_SCOPES = 200
MAX_KV = 200
_COUNT_NAMES = frozenset({"total", "total_count", "count", "total_results", "total_items", "num_results"})
_PER_PAGE_NAMES = frozenset({"per_page", "page_size", "limit", "pagesize", "perpage"})
_PAGE_NAMES = frozenset({"page", "current_page", "page_number"})


@dataclass(slots=True)
class Collection:
    key: str              # "host /base" : identifies the collection in the state
    base: str             # named template of the collection: /users
    item: str             # named template of one item: /users/{user_id}
    id_field: str         # the property the item's path segment names: id, username
    id_kind: str          # int | digits (a string of digits) | uuid | str
    id_max: int = 0       # int: the largest learned id
    id_prefix: str = ""   # str: the prefix every learned id shared
    client_fields: frozenset[str] = frozenset()  # fields clients sent in learned POST/PUT/PATCH bodies: what a
                                                 # PUT may replace; the others (created_at...) are the server's
    hidden: frozenset[str] = frozenset()  # fields a spec declared writeOnly (a password): stored, never told
    kept: frozenset[str] = frozenset()  # fields in every learned answer to a PUT: the backend keeps them whatever
                                        # a PUT leaves out


def hide(body: Any, hidden: frozenset[str]) -> Any:
    """An answer without the collection's hidden fields: an item's, or its items' in a listing."""
    if not hidden:
        return body
    if isinstance(body, dict):
        return {k: hide(v, hidden) if isinstance(v, list) else v for k, v in body.items() if k not in hidden}
    if isinstance(body, list):
        return [hide(x, hidden) if isinstance(x, dict) else x for x in body]
    return body


def _parts(t: str) -> list[str]:
    return [p for p in t.split("/") if p]


def _fits(template: list[str], parts: list[str]) -> bool:
    return len(template) == len(parts) and all(t.startswith("{") or t == p for t, p in zip(template, parts))


def find_collection(templates: list[tuple[str, str]], parts: list[str]) -> tuple[str, str, bool] | None:
    """(base, item template, is the item) for a request path inside a learned collection, else None.

    `templates` are learned (METHOD, named template) pairs; a collection needs POST on the base and
    at least one method on `base/{param}`."""
    posts = {t for m, t in templates if m == "POST"}
    items = {t for _, t in templates}
    for t in sorted(items):
        tp = _parts(t)
        if not tp or not (tp[-1].startswith("{") and tp[-1].endswith("}")) or tp[-1].startswith("{+"):
            continue  # (no item: a parameter taking the rest of the path names files, not items)
        base = "/" + "/".join(tp[:-1])
        if base not in posts:
            continue
        if _fits(tp, parts):
            return base, t, True
        if _fits(tp[:-1], parts):
            return base, t, False
    return None


def id_field_for(param: str, props: list[str], echo_keys: dict[str, int]) -> str:
    """The property a collection's path segment names: the body key whose values equalled the path
    values in learned traffic (most often first), else the parameter's own name (`{username}`,
    `{user_id}` for `userId`), else `id`, else a property ending in `id`."""
    for key, _ in sorted(echo_keys.items(), key=lambda kv: -kv[1]):
        if key in props:
            return key
    if param in props:
        return param
    wanted = folded_name(param)
    folded = next((p for p in props if folded_name(p) == wanted), None)
    if folded is not None:
        return folded
    return "id" if "id" in props or not props else next((k for k in props if k.lower().endswith("id")), "id")


def folded_name(name: str) -> str:
    """`user_id`, `userId`, `UserID` -> `userid`: a name as field and parameter names are compared."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def id_kind_of(values: list[Any], schema_kind: str | None, schema_max: Any,
               is_string: bool = False) -> tuple[str, int, str]:
    """(kind, max int, shared prefix) from learned id values and the id property's schema.

    `is_string`: the property was only ever a string, so ids made of digits stay strings (`digits`)."""
    ints = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
    ints += [int(v) for v in values if isinstance(v, str) and v.isdigit() and len(v) < 16]
    strs = [v for v in values if isinstance(v, str) and not v.isdigit()]
    if schema_kind == "uuid" or (strs and all(_is_uuid(s) for s in strs)):
        return "uuid", 0, ""
    if strs or (is_string and not ints):
        return "str", 0, _prefix(strs) if strs else ""
    top = max(ints + ([int(schema_max)] if isinstance(schema_max, (int, float)) else []), default=0)
    return ("digits" if is_string else "int"), int(top), ""


def _is_uuid(s: str) -> bool:
    try:
        _uuid.UUID(s)
        return len(s) == 36
    except ValueError:
        return False


def _prefix(strs: list[str]) -> str:
    """The non-alphanumeric-terminated prefix every value shares (`usr_`, `ord-`), or ''."""
    if not strs:
        return ""
    common = strs[0]
    for s in strs[1:]:
        while not s.startswith(common):
            common = common[:-1]
    m = re.match(r"^(.*[^A-Za-z0-9])", common)
    if m:
        return m.group(1)
    m = re.match(r"^([A-Za-z]+)", common)
    return m.group(1) if m and all(re.fullmatch(re.escape(m.group(1)) + r"\d+", s) for s in strs) else ""


class TwinState:
    def __init__(self) -> None:
        self.scopes: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.dirty: set[str] = set()
        self.dropped: set[str] = set()

    # -- scopes ---------------------------------------------------------------------------------------
    def scope(self, name: str) -> dict[str, Any]:
        s = self.scopes.get(name)
        if s is None:
            s = self.scopes[name] = {"c": {}, "kv": {}}
            while len(self.scopes) > MAX_SCOPES:
                old, _ = self.scopes.popitem(last=False)
                self.dirty.discard(old)
                self.dropped.add(old)
        else:
            self.scopes.move_to_end(name)
        return s

    def load_scope(self, name: str, data: Any) -> None:
        if isinstance(data, dict) and isinstance(data.get("c"), dict):
            self.scopes[name] = {"c": data["c"], "kv": data.get("kv") or {}}

    def reset(self, name: str | None = None) -> list[str]:
        names = list(self.scopes) if name is None else ([name] if name in self.scopes else [])
        for n in names:
            del self.scopes[n]
            self.dirty.discard(n)
            self.dropped.add(n)
        return names

    def take_changes(self) -> tuple[dict[str, Any], set[str]]:
        """Deep copies of the scopes changed since the last call, and the scopes dropped."""
        changed = {n: copy.deepcopy(self.scopes[n]) for n in self.dirty if n in self.scopes}
        dropped = set(self.dropped)
        self.dirty.clear()
        self.dropped.clear()
        return changed, dropped

    def give_back(self, changed: dict[str, Any], dropped: set[str]) -> None:
        """Changes `take_changes` gave that the store refused: the next one gives them again (a scope
        dropped meanwhile is no longer changed)."""
        self.dirty.update(n for n in changed if n in self.scopes)
        self.dropped.update(dropped)

    def kv(self, name: str) -> KV:
        return KV(self, name)

    def _coll(self, scope: str, c: Collection) -> dict[str, Any]:
        s = self.scope(scope)
        coll = s["c"].get(c.key)
        if coll is None:
            coll = s["c"][c.key] = {"items": {}, "gone": [], "next": 0, "made": []}
        return coll

    # -- CRUD -----------------------------------------------------------------------------------------
    def new_id(self, scope: str, c: Collection, rng: random.Random) -> Any:
        coll = self._coll(scope, c)
        coll["next"] = coll.get("next", 0) + 1
        rng = random.Random(f"{rng.getrandbits(64)}:{scope}:{coll['next']}")  # same body twice: two ids
        if c.id_kind == "int":
            return c.id_max + coll["next"]
        if c.id_kind == "digits":
            return str(c.id_max + coll["next"])
        if c.id_kind == "uuid":
            return str(_uuid.UUID(int=rng.getrandbits(128), version=4))
        return f"{c.id_prefix}{''.join(rng.choice('abcdefghijklmnopqrstuvwxyz0123456789') for _ in range(10))}"

    def get(self, scope: str, c: Collection, rid: str) -> tuple[str, Any]:
        """("item", item) | ("gone", None) | ("unknown", None)."""
        s = self.scopes.get(scope)
        coll = s["c"].get(c.key) if s is not None else None
        if coll is None:
            return "unknown", None
        if rid in coll["items"]:
            return "item", coll["items"][rid]
        if rid in coll["gone"]:
            return "gone", None
        return "unknown", None

    def put(self, scope: str, c: Collection, rid: str, item: Any, made: bool = False) -> None:
        """Store an item; `made`: created here (a listing puts it first), not an update of one the
        model already lists (which stays in its place)."""
        coll = self._coll(scope, c)
        items = coll["items"]
        items.pop(rid, None)
        items[rid] = item
        if rid in coll["gone"]:
            coll["gone"].remove(rid)
        if made and rid not in coll.setdefault("made", []):
            coll["made"].append(rid)
        while len(items) > MAX_ITEMS:
            items.pop(next(iter(items)))
        if "made" in coll and len(coll["made"]) > MAX_ITEMS:
            coll["made"] = [k for k in coll["made"] if k in items]
        self.dirty.add(scope)

    def delete(self, scope: str, c: Collection, rid: str) -> bool:
        coll = self._coll(scope, c)
        existed = coll["items"].pop(rid, None) is not None
        if rid in coll.get("made", ()):
            coll["made"].remove(rid)
        if rid not in coll["gone"]:
            coll["gone"].append(rid)
            del coll["gone"][:-MAX_ITEMS]
        self.dirty.add(scope)
        return existed

    def items(self, scope: str, c: Collection) -> tuple[list[Any], set[str]]:
        s = self.scopes.get(scope)
        coll = s["c"].get(c.key) if s is not None else None
        if coll is None:
            return [], set()
        made = coll.get("made")  # (a state saved before it was kept: every item counts as created)
        created = list(coll["items"].values()) if made is None else [coll["items"][k] for k in made if k in coll["items"]]
        return created, set(coll["gone"])


class KV:
    """The per-scope key/value store templates see as `state` (get / set / delete)."""

    def __init__(self, twins: TwinState, scope: str) -> None:
        self._twins = twins
        self._scope = scope

    def get(self, key: str, default: Any = None) -> Any:
        s = self._twins.scopes.get(self._scope)
        return default if s is None else s["kv"].get(str(key), default)

    def set(self, key: str, value: Any) -> str:
        kv = self._twins.scope(self._scope)["kv"]
        json.dumps(value)  # only JSON values are kept
        kv[str(key)] = value
        if len(kv) > MAX_KV:
            kv.pop(next(iter(kv)))
        self._twins.dirty.add(self._scope)
        return ""

    def delete(self, key: str) -> str:
        s = self._twins.scopes.get(self._scope)
        if s is not None and s["kv"].pop(str(key), None) is not None:
            self._twins.dirty.add(self._scope)
        return ""


# -- answers ------------------------------------------------------------------------------------------
@dataclass(slots=True)
class TwinAnswer:
    status: int
    body: Any            # JSON value, or None for an empty body
    op: str              # create | read | update | delete | list | missing | conflict
    created: str | None = None  # create: the new item's id, as its path segment names it


def apply(state: TwinState, scope: str, c: Collection, method: str, is_item: bool, rid: str | None,
          body: Any, query: dict[str, str], synth_status: int, synth_body: Any, rng: random.Random,
          list_key: str | None = None, current: Any = None) -> TwinAnswer | None:
    """The twin's answer to one request in collection `c` (None: answer as the model would).

    `synth_status` / `synth_body` are the model's synthetic answer to this request (`synth_body`
    None when it is not JSON). Only 2xx synthetic answers mutate: a sampled error stays an error.
    `current`: the item as the model reads it (`GET` of it), what a PUT or PATCH of an item the twin
    does not hold yet changes."""
    ok = 200 <= synth_status < 300
    method = method.upper()
    if not is_item:
        if method == "POST" and ok:
            item = dict(synth_body) if isinstance(synth_body, dict) else {}
            if isinstance(body, dict):
                item.update(body)
            new = _given_id(body, c)  # `POST /user {"username": "pblake"}` is then `/user/pblake`
            if new is None:
                new = state.new_id(scope, c, rng)
            elif state.get(scope, c, str(new))[0] == "item":  # (as a database refuses a second row of one key)
                return TwinAnswer(409, {"error": "an item with this id exists", "id": new}, "conflict")
            item[c.id_field] = new
            state.put(scope, c, str(new), item, made=True)
            return TwinAnswer(synth_status, item, "create", str(new))
        if method == "GET" and ok:
            created, gone = state.items(scope, c)
            if not created and not gone:
                return None
            return TwinAnswer(synth_status, splice(synth_body, created, gone, c.id_field, query, list_key), "list")
        return None
    assert rid is not None
    found, item = state.get(scope, c, rid)
    if found == "gone":
        return TwinAnswer(404, {"error": "not found", "id": rid}, "missing")
    if method == "GET":
        return TwinAnswer(200 if not ok else synth_status, item, "read") if found == "item" else None
    if method in ("PUT", "PATCH") and ok:
        if found == "item":
            base = item
        else:
            base = current if isinstance(current, dict) else synth_body if isinstance(synth_body, dict) else {}
        if method == "PATCH":
            new_item = dict(base)
            if isinstance(body, dict):
                new_item.update(body)
        else:  # a PUT replaces what clients send; what only the server writes stays (`client_fields`), and so
            # does what every learned answer to a PUT held (`kept`: the backend did not drop it when a PUT left it out)
            if isinstance(body, dict):
                new_item = {k: v for k, v in (base or {}).items()
                            if (c.client_fields and k not in c.client_fields) or k in c.kept}
                new_item.update(body)
            else:
                new_item = dict(base or {})
        typed = _typed_id(rid, c, item)
        if typed is not None:
            new_item[c.id_field] = typed
        state.put(scope, c, rid, new_item)
        return TwinAnswer(synth_status, None if synth_status == 204 else new_item, "update")
    if method == "DELETE" and ok:
        state.delete(scope, c, rid)
        return TwinAnswer(synth_status, None if synth_status == 204 else synth_body, "delete")
    return None


def _given_id(body: Any, c: Collection) -> Any:
    """The id a create request names itself, when it has the id's type (else None: allocate one)."""
    value = body.get(c.id_field) if isinstance(body, dict) else None
    if isinstance(value, bool) or value is None or value == "":
        return None
    if c.id_kind == "int":
        return value if isinstance(value, int) else None
    return value if isinstance(value, str) else None


def _typed_id(rid: str, c: Collection, item: Any) -> Any:
    """The path's id as the item's id property holds it; None when it cannot be of that type
    (a word in the path of an integer id: the property is left as the body had it)."""
    if isinstance(item, dict) and c.id_field in item:
        return item[c.id_field]
    if c.id_kind == "int":
        return int(rid) if rid.lstrip("-").isdigit() and len(rid) < 19 else None
    return rid


def splice(listing: Any, created: list[Any], gone: set[str], id_field: str, query: dict[str, str],
           list_key: str | None) -> Any:
    """The synthetic list with the created items first and deleted ones out; counts stay consistent."""
    def keep(x: Any) -> bool:
        ids = {str(i.get(id_field)) for i in created if isinstance(i, dict)}
        return not (isinstance(x, dict) and (str(x.get(id_field)) in gone or str(x.get(id_field)) in ids))

    page = _qint(query, _PAGE_NAMES)
    first = page is None or page <= 1
    per_page = _qint(query, _PER_PAGE_NAMES)

    def merged(old: list[Any]) -> list[Any]:
        rest = [x for x in old if keep(x)]
        if per_page is None or per_page <= 0:
            return (list(created) + rest) if first else rest
        # the created items come first in the whole listing: a page holds its share of them, then the
        # model's items of the page fill it
        offset = (max(page or 1, 1) - 1) * per_page
        return (list(created)[offset:offset + per_page] + rest)[:per_page]

    if isinstance(listing, list):
        return merged(listing)
    if not isinstance(listing, dict) or list_key is None or not isinstance(listing.get(list_key), list):
        return listing
    old = listing[list_key]
    out = dict(listing)
    new = merged(old)
    out[list_key] = new
    delta = len(created) - (len(old) - len([x for x in old if keep(x)]))
    for k, v in listing.items():
        if not isinstance(v, int) or isinstance(v, bool):
            continue
        low = k.lower()
        if low in _COUNT_NAMES:
            out[k] = max(v + delta, len(new))
        elif low in _PER_PAGE_NAMES and per_page is None and v == max(len(old), 1):
            out[k] = max(len(new), 1)
    return out


def _qint(query: dict[str, str], names: frozenset[str]) -> int | None:
    for k, v in query.items():
        if k.lower() in names and v.isdigit():
            return int(v)
    return None


def list_key_for(listing: Any, item_keys: set[str], schema_props: dict[str, set[str]]) -> str | None:
    """Which array property of a list body holds the items: the one whose item schema best matches."""
    if not isinstance(listing, dict):
        return None
    best, score = None, -1.0
    for k, v in listing.items():
        if not isinstance(v, list):
            continue
        keys = set(schema_props.get(k) or ())
        for x in v[:3]:
            if isinstance(x, dict):
                keys |= set(x)
        s = len(keys & item_keys) / max(len(keys | item_keys), 1) if keys or item_keys else 0.0
        if s > score:
            best, score = k, s
    return best

"""Record & replay, the pure part: recorded exchanges, their redaction, and the matching cascade.

A `Recording` is one exchange as stored (redacted like learning: path segments, headers, query, JSON
bodies; form and other text bodies redacted as text; other bodies kept as bytes up to `mimic_max_body`). A
`ReplayIndex` holds the recordings in memory, bounded per request key and in total, and answers a
request through a cascade:

1. exact: method, path, query, body and the chosen headers, with ignore lists like mitmproxy's
   server replay (`Rules`); repeated recordings of one request replay in their recorded order
   (`sequence`, the last one repeating once they run out) or always the newest (`last`);
2. near: a recording of the same template (or path) with the closest query and body;
3. nothing: the caller falls back (mock, upstream or 404).
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import urllib.parse
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mitmproxy.net.http import url

from ..model import bounded_decode, safe_json
from ..model.paths import aligned, param_name
from ..model.redact import is_textual, redact_headers, redact_json, redact_path, redact_query, redact_text_body
from ..model.wire_text import percent_escape_bad_bytes
from .twins import folded_name

REPEAT = ("sequence", "last")
FALLBACKS = ("mock", "upstream", "404")
# Not replayed as recorded: the proxy frames the replayed body itself.
_DROP_RESPONSE = frozenset({"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te",
                            "content-length", "content-encoding"})
# Mimic's own, not the backend's: never recorded, replayed nor exported (a recording made before kept them)
MIMIC_HEADERS = frozenset({"x-mimic-source", "x-mimic-replay"})


@dataclass(frozen=True, slots=True)
class Rules:
    """What must agree for an exact match (like mitmproxy's `server_replay_*` options)."""
    ignore_params: frozenset[str] = frozenset()          # query parameters left out of the key
    ignore_content: bool = False                         # request bodies left out of the key
    ignore_payload_params: frozenset[str] = frozenset()  # JSON / form body fields left out of the key
    use_headers: tuple[str, ...] = ()                    # request headers (lower case) that must agree


@dataclass(slots=True)
class Recording:
    host: str
    method: str
    path: str                          # as on the wire, without the query
    query: list[tuple[str, str]]       # redacted
    headers: list[tuple[str, str]]     # request headers, redacted
    body: Any                          # request body: JSON value (redacted), bytes, or None
    body_json: bool
    body_hash: str                     # sha256 of the redacted request body (raw when over the size cap)
    status: int
    response_headers: list[tuple[str, str]]  # redacted, without framing / encoding headers
    response_body: bytes | None        # decoded, JSON and text redacted; None when over the size cap
    latency_ms: float | None
    ts: float
    id: int = 0
    response_cut: bool = False         # the answer had a body over the size cap: not kept (no replay of it)
    parts: tuple[str, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if not self.parts:
            self.parts = _parts(self.path)

    # -- storage -----------------------------------------------------------------------------------
    def to_row(self) -> dict[str, Any]:
        data = {
            "query": self.query, "headers": self.headers, "body_json": self.body_json, "body_hash": self.body_hash,
            "body": self.body if self.body_json else _b64(self.body),
            "status": self.status, "response_headers": self.response_headers,
            "response_body": _b64(self.response_body), "latency_ms": self.latency_ms,
            **({"response_cut": True} if self.response_cut else {}),
        }
        return {"host": self.host, "method": self.method, "path": self.path, "ts": self.ts, "data": data}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Recording:
        d = row["data"]
        rec = cls(host=row["host"], method=row["method"], path=row["path"],
                  query=[tuple(p) for p in d["query"]], headers=[tuple(h) for h in d["headers"]],
                  body=d["body"] if d["body_json"] else _unb64(d["body"]), body_json=d["body_json"],
                  body_hash=d["body_hash"], status=d["status"],
                  response_headers=[tuple(h) for h in d["response_headers"]],
                  response_body=_unb64(d["response_body"]), latency_ms=d["latency_ms"], ts=row["ts"],
                  id=row.get("id", 0), response_cut=bool(d.get("response_cut")))
        path = redact_path(rec.path)  # stored before path segments were redacted
        if path is not rec.path:
            rec.path, rec.parts = path, _parts(path)
        if not rec.body_json and rec.body:
            # stored before text bodies were redacted: redact (and re-hash) them now, as they would be today
            body = redact_bytes(rec.body, _header(rec.headers, "content-type"))
            rec.body, rec.body_hash = body, _redacted_digest(body, False, rec.body, rec.body_hash)
        return rec


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def _parts(path: str) -> tuple[str, ...]:
    return tuple(urllib.parse.unquote(p) for p in path.split("?", 1)[0].split("/") if p)


def _str_fields(fields: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(k.decode("utf-8", "surrogateescape"), v.decode("utf-8", "surrogateescape")) for k, v in fields]


def _header(fields: list[tuple[str, str]], name: str) -> str:
    return ", ".join(v for k, v in fields if k.lower() == name)


def _decoded(raw: bytes | None, content_encoding: str, max_body: int) -> bytes | None:
    """The decoded body, or None when it cannot be decoded or is over `max_body` once decoded (decoding
    stops there: a compressed bomb is never inflated whole)."""
    if raw is None or len(raw) > max_body:
        return None
    try:
        return bounded_decode.decode(raw, content_encoding, max_body)
    except ValueError:
        return None


def _json(raw: bytes, content_type: str) -> tuple[Any, bool]:
    """(the parsed JSON, True), or (None, False) for a body that is not JSON."""
    first = raw[:64].lstrip()[:1]
    if "json" in content_type.lower() or first in (b"{", b"["):
        try:
            return safe_json.loads(raw), True
        except ValueError:  # malformed, or nested too deep: kept as bytes
            pass
    return None, False


def parse_body(raw: bytes | None, content_type: str) -> tuple[Any, bool]:
    """(redacted JSON value, True) for a JSON body; (bytes, False) otherwise: redacted for a text one
    (`redact_bytes`), as they are for a binary one."""
    if not raw:
        return None, False
    value, is_json = _json(raw, content_type)
    return (redact_json(value), True) if is_json else (redact_bytes(raw, content_type), False)


def redact_bytes(raw: bytes, content_type: str) -> bytes:
    """A non-JSON body with its secrets redacted when it is UTF-8 text: form fields as query parameters are,
    other text by masking secret-named fields (`password=`, `<token>`, ...); the very same bytes when
    nothing was redacted or the body is binary."""
    if not (is_textual(content_type) or "json" in content_type.lower()):  # malformed JSON is text too
        return raw
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    redacted = redact_text_body(text, content_type)
    return raw if redacted == text else redacted.encode("utf-8")


def _redacted_digest(body: Any, is_json: bool, original: bytes, digest: str) -> str:
    """The body hash to store: that of the redacted body when redaction may have changed it, so no hash
    of a secret is kept and a request with other secrets (redacted alike) still matches exactly. JSON
    bodies match on their (redacted) value; their hash is of its canonical form."""
    if is_json:
        return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    if body is None or body is original:
        return digest
    return hashlib.sha256(body).hexdigest()


def request_parts(method: str, target: str, header_fields: Iterable[tuple[bytes, bytes]], raw: bytes | None,
                  max_body: int) -> dict[str, Any]:
    """The request side of a recording (also what a live request is compared as)."""
    headers = redact_headers(_str_fields(header_fields))
    query_string = target.split("#", 1)[0].partition("?")[2]
    query = redact_query(url.decode(query_string)) if query_string else []
    raw = raw or b""
    digest = hashlib.sha256(raw).hexdigest() if raw else ""
    decoded = _decoded(raw, _header(headers, "content-encoding"), max_body)
    body, is_json = (None, False)
    if decoded is not None:
        body, is_json = parse_body(decoded, _header(headers, "content-type"))
        digest = _redacted_digest(body, is_json, decoded, digest)
    path = redact_path(percent_escape_bad_bytes(target.split("?", 1)[0]))  # storable: raw non-UTF-8 bytes as %XX
    return {"method": method.upper(), "path": path, "query": query, "headers": headers,
            "body": body, "body_json": is_json, "body_hash": digest}


def make_recording(*, host: str, method: str, target: str, request_fields, request_raw: bytes | None,
                   status: int, response_fields, response_raw: bytes | None, latency_ms: float | None,
                   ts: float, max_body: int) -> Recording:
    """Build a recording from an exchange's raw parts (runs in the recorder thread, not on the hot path)."""
    req = request_parts(method, target, request_fields, request_raw, max_body)
    resp_headers = redact_headers(_str_fields(response_fields))
    raw = response_raw or b""
    body: bytes | None = None
    cut = len(raw) > max_body
    if not cut:
        try:
            body = bounded_decode.decode(raw, _header(resp_headers, "content-encoding"), max_body)
        except bounded_decode.TooLarge:  # (a compressed body inflating past the cap: not inflated whole)
            cut = True
        except ValueError:  # sent with a Content-Encoding it does not have: kept as it came, as clients got it
            body = raw
    if body:
        value, is_json = _json(body, _header(resp_headers, "content-type"))
        if is_json:
            redacted = redact_json(value)
            if redacted is not value:  # copy-on-write: something was redacted
                body = json.dumps(redacted).encode()
        else:
            body = redact_bytes(body, _header(resp_headers, "content-type"))
    resp_headers = [(k, v) for k, v in resp_headers if k.lower() not in _DROP_RESPONSE and k.lower() not in MIMIC_HEADERS]
    return Recording(host=host, status=status, response_headers=resp_headers, response_body=body,
                     latency_ms=latency_ms, ts=ts, response_cut=cut, **req)


# -- matching ------------------------------------------------------------------------------------------
def _body_key(body: Any, is_json: bool, digest: str, rules: Rules) -> Any:
    if rules.ignore_content:
        return None
    if is_json:
        if isinstance(body, dict) and rules.ignore_payload_params:
            body = {k: v for k, v in body.items() if k not in rules.ignore_payload_params}
        return "j:" + json.dumps(body, sort_keys=True, separators=(",", ":"))
    if isinstance(body, bytes) and rules.ignore_payload_params:
        try:
            pairs = url.decode(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            pairs = None
        if pairs:
            return "f:" + repr(sorted((k, v) for k, v in pairs if k not in rules.ignore_payload_params))
    return "b:" + digest


def request_key(req: dict[str, Any], rules: Rules) -> tuple:
    """The exact-match key of a request (a recording's or a live one's, as built by `request_parts`)."""
    query = tuple(sorted((k, v) for k, v in req["query"] if k not in rules.ignore_params))
    headers = tuple(_header(req["headers"], name) for name in rules.use_headers)
    return (req["method"], req["path"], query, _body_key(req["body"], req["body_json"], req["body_hash"], rules),
            headers)


def _recording_key(rec: Recording, rules: Rules) -> tuple:
    return request_key({"method": rec.method, "path": rec.path, "query": rec.query, "headers": rec.headers,
                        "body": rec.body, "body_json": rec.body_json, "body_hash": rec.body_hash}, rules)


def _leaves(value: Any, prefix: str = "") -> set[tuple[str, str]]:
    if isinstance(value, dict):
        out: set[tuple[str, str]] = set()
        for k, v in value.items():
            out |= _leaves(v, f"{prefix}.{k}")
        return out or {(prefix, "{}")}
    if isinstance(value, list):
        out = set()
        for i, v in enumerate(value):
            out |= _leaves(v, f"{prefix}[{i}]")
        return out or {(prefix, "[]")}
    return {(prefix, json.dumps(value))}


def _jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def similarity(req: dict[str, Any], rec: Recording, rules: Rules) -> float:
    """How close a recording is to a request of the same template: query, body, then path."""
    q1 = {(k, v) for k, v in req["query"] if k not in rules.ignore_params}
    q2 = {(k, v) for k, v in rec.query if k not in rules.ignore_params}
    score = _jaccard(q1, q2) + 0.5 * _jaccard({k for k, _ in q1}, {k for k, _ in q2})
    if not rules.ignore_content:
        if req["body_json"] and rec.body_json:
            score += _jaccard(_leaves(req["body"]), _leaves(rec.body))
        elif req["body_hash"] == rec.body_hash:
            score += 1.0
    if req["path"] == rec.path:
        score += 0.25
    return score


def fits(parts: tuple[str, ...], template: str) -> bool:
    """Does a concrete path fit a named template (`/users/{user_id}`, `/files/{+file_path}`)?"""
    names = [p for p in template.split("/") if p]
    tail = bool(names) and names[-1].startswith("{+")
    if not (len(parts) == len(names) or (tail and len(parts) > len(names))):
        return False
    return all(n == p or param_name(n) is not None for n, p in aligned(template, parts))


def echo_path_values(body: bytes, template: str | None, recorded_path: str, asked_path: str,
                     echo_key: str | None = None) -> bytes:
    """A near match's JSON answer, telling the asked path's values where the recording told its own
    (`GET /users/43` answered from the recording of `/users/42`): a field named for a path parameter
    (`user_id`, `userId` for `{user_id}`), or at the top level the last one's `id` or the field its values
    came back under in learned traffic (`echo_key`: `login` for `/users/{name}`), holding the recorded
    value (a number only for a number asked), and links holding the recorded path (`"href":
    "/users/42/posts"`). Other fields, nested ones that happen to hold the value, and free text stay as
    recorded. The very same bytes when nothing differs or the body is not JSON."""
    if template is None:
        return body
    pairs = list(zip(aligned(template, _parts(recorded_path)), aligned(template, _parts(asked_path))))
    params = [(param_name(name) or "", old, new) for (name, old), (_, new) in pairs if param_name(name) is not None]
    if not any(old != new for _, old, new in params) or body[:64].lstrip()[:1] not in (b"{", b"["):
        return body
    try:
        doc = safe_json.loads(body)
    except ValueError:
        return body
    by_field = {folded_name(name): (old, new) for name, old, new in params if old != new and folded_name(name)}
    _, last_old, last_new = params[-1]
    top_fields = set()
    if last_old != last_new and pairs[-1][0][0].startswith("{"):  # the resource itself: its own `id` too
        for name in ("id", folded_name(echo_key or "")):
            if name and name not in by_field:
                by_field[name] = (last_old, last_new)
                top_fields.add(name)
    # every prefix of the recorded path ending at a parameter, longest first, in one pass (no value is
    # rewritten twice): `/users/1/posts/2` and `/users/1` -> the asked ones
    links: dict[str, str] = {}
    for i, ((name, _), _) in enumerate(pairs):
        if param_name(name) is not None:
            old_prefix = "/" + "/".join(urllib.parse.quote(o, safe="") for (_, o), _ in pairs[: i + 1])
            new_prefix = "/" + "/".join(urllib.parse.quote(n, safe="") for _, (_, n) in pairs[: i + 1])
            if old_prefix != new_prefix:
                links[old_prefix] = new_prefix
    link_re = re.compile("(" + "|".join(re.escape(k) for k in sorted(links, key=len, reverse=True)) + r")(?=$|[/?#.\"])") \
        if links else None
    changed = False

    def swap(value: Any, key: str, top: bool) -> Any:
        nonlocal changed
        if isinstance(value, dict):
            return {k: swap(v, k, False) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v, key, False) for v in value]
        field = by_field.get(folded_name(key)) if key else None
        if field is not None and (folded_name(key) not in top_fields or top):
            old, new = field
            if type(value) is str and value == old:
                changed = True
                return new
            if type(value) is int and str(value) == old and new.isascii() and new.isdigit():
                changed = True
                return int(new)
        if type(value) is str and link_re is not None and (value.startswith("/") or "://" in value):
            linked = link_re.sub(lambda m: links[m.group(1)], value)
            changed = changed or linked != value
            return linked
        return value

    if isinstance(doc, dict):
        doc = {k: swap(v, k, True) for k, v in doc.items()}
    else:
        doc = swap(doc, "", False)
    return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogateescape") if changed else body


@dataclass(slots=True)
class Match:
    recording: Recording
    how: str          # "exact" or "near"


class ReplayIndex:
    """Recordings in memory, bounded per request key and in total; thread-safe (the recorder thread
    adds while the event loop looks up)."""

    def __init__(self, rules: Rules = Rules(), *, per_key: int = 50, total: int = 10_000) -> None:
        self.rules = rules
        self.per_key = max(1, per_key)
        self.total = max(1, total)
        self.lock = threading.Lock()
        self._all: OrderedDict[int, Recording] = OrderedDict()
        self._by_key: dict[tuple, list[Recording]] = {}
        self._by_shape: dict[tuple, list[Recording]] = {}   # (host, method, segments) -> recordings
        self._cursor: dict[tuple, int] = {}
        self._hosts: dict[str, int] = {}
        self._next = 1

    def __len__(self) -> int:
        return len(self._all)

    def hosts(self) -> set[str]:
        with self.lock:
            return set(self._hosts)

    def add(self, rec: Recording) -> None:
        with self.lock:
            self._add(rec)

    def extend(self, recs: Iterable[Recording]) -> None:
        with self.lock:
            for rec in recs:
                self._add(rec)

    def _add(self, rec: Recording) -> None:
        rec.id = self._next
        self._next += 1
        self._all[rec.id] = rec
        self._hosts[rec.host] = self._hosts.get(rec.host, 0) + 1
        key = (rec.host, _recording_key(rec, self.rules))
        same = self._by_key.setdefault(key, [])
        same.append(rec)
        self._by_shape.setdefault((rec.host, rec.method, len(rec.parts)), []).append(rec)
        if len(same) > self.per_key:
            self._drop(same[0])
        while len(self._all) > self.total:
            self._drop(next(iter(self._all.values())))

    def _drop(self, rec: Recording) -> None:
        if self._all.pop(rec.id, None) is not None:
            self._hosts[rec.host] -= 1
            if not self._hosts[rec.host]:
                del self._hosts[rec.host]
        key = (rec.host, _recording_key(rec, self.rules))
        for table, k in ((self._by_key, key), (self._by_shape, (rec.host, rec.method, len(rec.parts)))):
            lst = table.get(k)
            if lst is not None:
                lst.remove(rec)
                if not lst:
                    del table[k]
        if key in self._cursor and key not in self._by_key:
            del self._cursor[key]

    def reconfigure(self, rules: Rules, per_key: int, total: int) -> None:
        """New matching rules or bounds: the keys are rebuilt, replay positions start over."""
        with self.lock:
            recs = list(self._all.values())
            self.rules, self.per_key, self.total = rules, max(1, per_key), max(1, total)
            self._all.clear()
            self._by_key.clear()
            self._by_shape.clear()
            self._cursor.clear()
            self._hosts.clear()
            for rec in recs:
                self._add(rec)

    def clear(self) -> None:
        with self.lock:
            self._all.clear()
            self._by_key.clear()
            self._by_shape.clear()
            self._cursor.clear()
            self._hosts.clear()

    def rewind(self) -> None:
        """Sequences start again from their first recording."""
        with self.lock:
            self._cursor.clear()

    def find(self, host: str, req: dict[str, Any], template: str | None, repeat: str = "sequence") -> Match | None:
        """The recording answering `req` (built by `request_parts`) of `host`, or None."""
        with self.lock:
            key = (host, request_key(req, self.rules))
            same = self._by_key.get(key)
            if same:
                if repeat == "last":
                    return Match(same[-1], "exact")
                i = self._cursor.get(key, 0)
                self._cursor[key] = i + 1
                return Match(same[min(i, len(same) - 1)], "exact")
            parts = _parts(req["path"])
            shape = self._by_shape.get((host, req["method"], len(parts)), ())
            if template is not None:
                candidates = [r for r in shape if fits(r.parts, template)]
            else:
                candidates = [r for r in shape if r.path == req["path"]]
            if not candidates:
                return None
            best = max(candidates, key=lambda r: (similarity(req, r, self.rules), r.id))
            return Match(best, "near")

"""One JSON Schema 2020-12 document of every learned body: a `$defs` entry per endpoint part.

Names derive from the endpoint like the OpenAPI operationIds (`GET /users/{user_id}` ->
`GetUsersByUserId`) plus the part: `Params` (path parameters), `Query`, `Request` (JSON request
body), `Response200` (JSON response body of one status). The TypeScript and Pydantic exports are
generated from this document, so the three always agree. Which definitions belong to which endpoint
is told by the `x-mimic-endpoints` index (2020-12 treats unknown keywords as annotations).
"""
from __future__ import annotations

import json
import re
from collections import Counter
from typing import TYPE_CHECKING, Any

from ..learn.endpoint import Endpoint
from ..model.contract import schema_of
from .openapi import _PARAM_SCHEMAS, _operation_id, bodiless, param_kinds

if TYPE_CHECKING:
    from . import ExportRequest, ExportResult

DIALECT = "https://json-schema.org/draft/2020-12/schema"
INDEX = "x-mimic-endpoints"
TITLE = "Bodies learned by Mimic"

Row = tuple[Endpoint, str, list[str]]  # endpoint, named template, kind of each path parameter


def type_name(method: str, named: str, taken: set[str]) -> str:
    """`GET /users/{user_id}` -> `GetUsersByUserId`: the operationId, capitalised, ASCII letters and
    digits only (any method token is allowed), unique within `taken`."""
    op = re.sub(r"[^0-9A-Za-z]", "", _operation_id(method, named, set()))
    base = op[:1].upper() + op[1:]
    if not base[:1].isalpha():
        base = "Op" + base
    name, n = base, 2
    while name in taken:
        name, n = f"{base}{n}", n + 1
    taken.add(name)
    return name


def _params_schema(named: str, kinds: list[str]) -> dict[str, Any] | None:
    names = list(dict.fromkeys(n.lstrip("+") for n in re.findall(r"\{([^}/]+)\}", named)))
    if not names:
        return None
    props = {name: dict(_PARAM_SCHEMAS.get(kind, {"type": "string"})) for name, kind in zip(names, kinds)}
    props.update((name, {"type": "string"}) for name in names if name not in props)
    return {"type": "object", "properties": props, "required": sorted(props)}


def _query_schema(ep: Endpoint) -> dict[str, Any] | None:
    if not ep.query:
        return None
    total = ep.stats.count
    props = {name: schema_of(ep.query[name], ep.imported is not None) for name in sorted(ep.query)}
    schema: dict[str, Any] = {"type": "object", "properties": props}
    required = [name for name in props if ep.query[name].count >= total]
    if required:
        schema["required"] = required
    return schema


def _status_key(code: str) -> tuple[int, str]:
    return (int(code), code) if code.isdigit() else (1000, code)


def _keys(rows: list[Row]) -> list[tuple[str, str]]:
    """(key, path its name is made of) of each row: `GET /users/{user_id}`, or when several hosts have
    that endpoint `GET api.example.com/users/{user_id}`, named as if the host were the first segment."""
    plain = [f"{ep.method} {named}" for ep, named, _ in rows]
    clash = {k for k, n in Counter(plain).items() if n > 1}
    return [(f"{ep.method} {ep.host}{named}", f"/{ep.host}{named}") if k in clash else (k, named)
            for k, (ep, named, _) in zip(plain, rows)]


def build(rows: list[Row], title: str = TITLE) -> dict[str, Any]:
    """The document for these endpoints (any order: they are sorted here, so output is stable)."""
    rows = sorted(rows, key=lambda r: (r[1], r[0].method, r[0].host))
    defs: dict[str, Any] = {}
    index: dict[str, Any] = {}
    taken: set[str] = set()
    for (key, naming), (ep, named, kinds) in zip(_keys(rows), rows):
        name = type_name(ep.method, naming, taken)
        entry: dict[str, Any] = {"host": ep.host, "method": ep.method, "path": named, "name": name}
        for part, schema in (("params", _params_schema(named, kinds)), ("query", _query_schema(ep))):
            entry[part] = None
            if schema is not None:
                entry[part] = f"{name}{part.title()}"
                defs[entry[part]] = schema
        entry["request"] = None
        if ep.request is not None:
            entry["request"] = f"{name}Request"
            defs[entry["request"]] = schema_of(ep.request, ep.imported is not None)
        entry["request_media"] = sorted(ep.request_types)
        responses: dict[str, Any] = {}
        for code in sorted({str(s) for s in ep.stats.statuses} | set(ep.responses), key=_status_key):
            node = None if bodiless(code) else ep.responses.get(code)  # a 304's cached body is not its own
            ref = None
            if node is not None:
                ref = f"{name}Response{code}"
                defs[ref] = schema_of(node, ep.imported is not None)
            media = [] if bodiless(code) else sorted(ep.response_types.get(code, {}))
            responses[code] = {"schema": ref, "media": media}
        entry["responses"] = responses
        index[key] = entry
    return {"$schema": DIALECT, "title": title, "$defs": defs, INDEX: index}


def rows_of(brain, host: str | None = None) -> list[Row]:
    """Every endpoint of the brain (or of one host); call with `brain.lock` held."""
    rows = []
    for name, model in brain.hosts.items():
        if host is None or name == host:
            for ep in model.endpoints.values():
                rows.append((ep, model.tree.named(ep.skeleton), param_kinds(model.tree, ep.skeleton)))
    return rows


def from_brain(brain, host: str | None = None) -> dict[str, Any]:
    with brain.lock:
        return build(rows_of(brain, host))


def dumps(doc: dict[str, Any]) -> str:
    """Stable, ASCII-only JSON text (learned names may hold lone surrogates, which UTF-8 cannot)."""
    return json.dumps(doc, indent=2, ensure_ascii=True) + "\n"


def summary(doc: dict[str, Any]) -> str:
    return f"{len(doc[INDEX])} endpoints, {len(doc['$defs'])} definitions"


def export(req: ExportRequest) -> ExportResult:
    from . import ExportResult

    doc = from_brain(req.brain, req.host)
    return ExportResult(dumps(doc), summary(doc), "application/schema+json", "schemas.json")

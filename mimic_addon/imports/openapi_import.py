"""`mimic import openapi SPEC --db DB`: seed the model from an OpenAPI 3.0 / 3.1 (or Swagger 2) document.

Every operation becomes an endpoint before any traffic was seen: its path template goes into the
host's path tree with the spec's parameter names (declared: kept as the spec says), its query
parameters, request body and JSON responses become schema summaries (`model.from_jsonschema`), and
it is marked as imported (`Endpoint.imported`: the spec's file, title, version, operationId and the
statuses whose schema it declared). Mock mode answers from it at once; traffic learned later
refines it, and the drift watch compares traffic with the imported schemas from the first response
on (they are the contract's baseline, no learning phase).

The host is `servers[0].url`'s (Swagger 2: `host`, `basePath`, `schemes`), whose path prefixes every
template; `--host` names another one (`127.0.0.1:8001`, `http://localhost:8001`). The spec is JSON or
YAML; `$ref`s must point into the document. Nothing is saved unless the whole spec imports.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
import urllib.parse
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..learn.endpoint import Endpoint, redacted_example
from ..learn.observation import DEFAULT_PORTS, host_key
from ..model.from_jsonschema import SPEC_COUNT, Options, Refs, SchemaImportError, is_marked, to_schema_node
from ..model.paths import MULTI_SEGMENT, PARAM, TAIL, split_path
from ..store.urls import shown
from .request_contract import declared_request_schema

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_PARAM_IN_SEGMENT = re.compile(r"\{([^{}/]+)\}")


class SpecError(Exception):
    """The document cannot be imported: unreadable, not OpenAPI, or a schema that cannot be modelled."""


@dataclass
class Declared:
    """One operation of the spec, ready for `Brain.declare`."""
    endpoint: Endpoint
    parts: list[str]                 # template segments, PARAM for parameters
    names: list[str | None]          # parameter names (None for literals)
    template: str                    # as written: base path + paths key


@dataclass
class ImportPlan:
    host: str
    scheme: str
    base_path: str
    title: str
    operations: list[Declared] = field(default_factory=list)

    @property
    def with_schemas(self) -> int:
        return sum(1 for d in self.operations if d.endpoint.responses)


# -- reading ------------------------------------------------------------------------------------------
def load_spec(path: Path) -> dict[str, Any]:
    """The parsed document (JSON or YAML). SpecError when missing, unparsable or not OpenAPI."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"cannot read {path}: {e}") from None
    if path.suffix.lower() == ".json" or text.lstrip()[:1] in ("{", "["):
        try:
            doc = json.loads(text)
        except ValueError as e:
            raise SpecError(f"{path}: not valid JSON: {e}") from None
    else:
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            doc = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
        except yaml.YAMLError as e:
            raise SpecError(f"{path}: not valid YAML: {e}") from None
    check_spec(doc, str(path))
    return doc


def check_spec(doc: Any, name: str = "spec") -> None:
    """The minimal shape every import needs; SpecError says what is wrong."""
    if not isinstance(doc, dict):
        raise SpecError(f"{name}: an OpenAPI document is an object, not {type(doc).__name__}")
    version = str(doc.get("openapi") or "")
    if not (version.startswith("3.") or str(doc.get("swagger")) == "2.0"):
        raise SpecError(f"{name}: not an OpenAPI 3.x or Swagger 2.0 document (no `openapi: 3.x` / `swagger: '2.0'`)")
    if not isinstance(doc.get("paths"), dict):
        raise SpecError(f"{name}: `paths` is missing or not an object")


# -- planning (pure) ----------------------------------------------------------------------------------
def plan_import(doc: dict[str, Any], host: str | None = None, source: str = "") -> ImportPlan:
    """Every operation of the spec as endpoints of one host. SpecError on anything not importable."""
    check_spec(doc)
    swagger2 = str(doc.get("swagger")) == "2.0"
    scheme, host_name, base = _server(doc, host, swagger2)
    info = doc["info"] if isinstance(doc.get("info"), dict) else {}
    plan = ImportPlan(host_name, scheme, base, str(info.get("title") or source))
    refs = Refs(doc)
    stamp = {"source": source, "title": info.get("title"), "version": info.get("version")}
    now = time.time()
    for key, item in doc["paths"].items():
        if not isinstance(key, str) or not key.startswith("/"):
            raise SpecError(f"paths: {key!r} is not a path (must start with '/')")
        item = _deref(item, refs, f"paths {key}")
        if not isinstance(item, dict):
            raise SpecError(f"paths {key}: a path item is an object")
        shared = item.get("parameters") or []
        # other methods (PURGE, PROPFIND...): OpenAPI 3.2's `additionalOperations`, or the
        # `x-additionalOperations` Mimic's own export writes in 3.1 documents
        extra: dict[str, Any] = {}
        for field in ("additionalOperations", "x-additionalOperations"):
            if isinstance(item.get(field), dict):
                extra.update({m: op for m, op in item[field].items() if isinstance(m, str) and m.isalpha()})
        operations = [(m, item.get(m)) for m in METHODS] + [(m.lower(), op) for m, op in extra.items()
                                                            if m.lower() not in METHODS]
        for method, op in operations:
            if op is None:
                continue
            where = f"{method.upper()} {key}"
            if not isinstance(op, dict):
                raise SpecError(f"{where}: an operation is an object")
            try:
                plan.operations.append(_operation(doc, refs, swagger2, host_name, base, key, method, op, shared,
                                                  {**stamp, "operation_id": op.get("operationId"), "at": now}))
            except SchemaImportError as e:
                raise SpecError(f"{where}: {e}") from None
    _no_hidden_templates(plan.operations)
    return plan


def _no_hidden_templates(operations: list[Declared]) -> None:
    """A parameter taking the rest of the path would hide the spec's longer templates through the
    same parameter (`/files/{+path}` beside `/files/{id}/meta`), or one of one segment there
    (`/files/{id}`): such a one takes one segment."""
    def same(a: str, b: str) -> bool:
        return a == b or (a in (PARAM, TAIL) and b in (PARAM, TAIL))

    for d in operations:
        n = len(d.parts)
        if n and d.parts[-1] == TAIL and any(
                (len(o.parts) > n or (len(o.parts) == n and o.parts[-1] == PARAM))
                and all(same(a, b) for a, b in zip(d.parts, o.parts)) for o in operations):
            d.parts[-1] = PARAM


def _server(doc: dict[str, Any], host: str | None, swagger2: bool) -> tuple[str, str, str]:
    """(scheme, host key, base path) from the spec, `host` overriding its host."""
    if swagger2:
        schemes = doc.get("schemes") or ["https"]
        scheme = str(schemes[0]) if isinstance(schemes, list) and schemes else "https"
        url = f"{scheme}://{doc['host']}" if doc.get("host") else ""
        base = str(doc.get("basePath") or "")
    else:
        servers = doc.get("servers")
        server = servers[0] if isinstance(servers, list) and servers and isinstance(servers[0], dict) else {}
        url = str(server.get("url") or "")
        for name, var in (server.get("variables") or {}).items():
            if isinstance(var, dict) and "default" in var:
                url = url.replace("{" + str(name) + "}", str(var["default"]))
        parsed = urllib.parse.urlsplit(url)
        base = parsed.path if parsed.netloc else url.split("?", 1)[0]
        url = url if parsed.netloc else ""
        scheme = parsed.scheme or "https"
    base = "/" + base.strip("/") if base.strip("/") else ""
    target = host or url
    if not target:
        raise SpecError("the spec names no server host (servers[0].url / host): pass --host")
    if "://" not in target:
        target = f"{scheme}://{target}"
    parsed = urllib.parse.urlsplit(target)
    if not parsed.hostname:
        raise SpecError(f"not a host: {host or url!r}")
    scheme = parsed.scheme.lower()
    try:
        port = parsed.port or DEFAULT_PORTS.get(scheme, 443)
    except ValueError:
        raise SpecError(f"bad port in {host or url!r}") from None
    return scheme, host_key(scheme, parsed.hostname, port), base


def _template(base: str, key: str) -> tuple[list[str], list[str | None]]:
    parts: list[str] = []
    names: list[str | None] = []
    for segment in split_path(base + key):
        params = _PARAM_IN_SEGMENT.findall(segment)
        if params:  # `{id}`, also `{name}.json` / `{owner}:{repo}`: one parameter segment, the first name
            name = params[0].strip()
            parts.append(TAIL if name.startswith("+") else PARAM)  # (`{+path}`: the rest of the path, if last)
            names.append(name.lstrip("+"))
        else:
            parts.append(urllib.parse.unquote(segment))
            names.append(None)
    parts[:-1] = [PARAM if p == TAIL else p for p in parts[:-1]]  # (`/v1/{+parent}/instances`: one segment)
    return parts, names


def _operation(doc: dict[str, Any], refs: Refs, swagger2: bool, host: str, base: str, key: str, method: str,
               op: dict[str, Any], shared: list[Any], stamp: dict[str, Any]) -> Declared:
    parts, names = _template(base, key)
    ep = Endpoint(host, method.upper(), "")
    write_only: list[str] = []
    declared_request: dict[str, Any] | None = None
    options = Options()
    request_options = replace(options, leave_out="readOnly")
    params: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in list(shared) + list(op.get("parameters") or []):
        p = _deref(raw, refs, "parameters")
        if isinstance(p, dict) and isinstance(p.get("name"), str):
            params[(str(p.get("in")), p["name"])] = p
    multi = {name for (where, name), p in params.items() if where == "path" and p.get(MULTI_SEGMENT) is True}
    if parts and parts[-1] == PARAM and names[-1] in multi:
        parts[-1] = TAIL
    for (where, name), p in params.items():
        if where == "query":
            schema = p if swagger2 else _param_schema(p)
            count = SPEC_COUNT if p.get("required") is True else SPEC_COUNT - 1
            ep.query[name] = to_schema_node(_scalar_only(schema), doc, count=count, options=options)
        elif where == "body" and swagger2:
            ep.request = to_schema_node(p.get("schema", {}), doc, options=request_options)
            declared_request = declared_request_schema(p.get("schema", {}), refs, legacy=True)
    if not swagger2 and op.get("requestBody") is not None:
        body = _deref(op["requestBody"], refs, "requestBody")
        media = _json_media(body.get("content") if isinstance(body, dict) else None)
        if media is not None and "schema" in media:
            ep.request = to_schema_node(media["schema"], doc, options=request_options)
            ep.request_example = redacted_example(_media_example(media))
            write_only = _write_only(media["schema"], refs)
            declared_request = declared_request_schema(media["schema"], refs, legacy=_is_legacy(doc))
    responses = op.get("responses") or {}
    if not isinstance(responses, dict):
        raise SpecError(f"{method.upper()} {key}: responses must be an object")
    declared = _responses(doc, refs, swagger2, responses, ep, options)
    ep.imported = {**stamp, "path": key, "statuses": declared,  # (the codes with a JSON schema; `codes`: all)
                   "codes": sorted({int(c) for c in map(str, responses) if c.isdigit() and 100 <= int(c) <= 599})}
    if write_only:  # (a twin's answers never tell them: `twins.Collection.hidden`)
        ep.imported["write_only"] = write_only
    if declared_request is not None:  # what mock mode checks bodies against, whatever traffic adds later
        ep.imported["request_schema"] = declared_request
    return Declared(ep, parts, names, base + key)


def _is_legacy(doc: dict[str, Any]) -> bool:
    """OpenAPI 3.0 (or Swagger 2): its schemas are not JSON Schema 2020-12 (`nullable`, boolean bounds)."""
    return not str(doc.get("openapi", "")).startswith("3.1")


def _responses(doc: dict[str, Any], refs: Refs, swagger2: bool, responses: dict[Any, Any], ep: Endpoint,
               options: Options) -> list[str]:
    """Fill `ep.responses` / `ep.examples` with the JSON responses; the codes that got a schema."""
    codes: dict[str, Any] = {}
    for raw_code, resp in responses.items():
        code = str(raw_code).upper()
        if re.fullmatch(r"[1-5]\d\d", code):
            codes.setdefault(code, resp)
        elif re.fullmatch(r"[1-5]XX", code):
            codes.setdefault(code[0] + "00", resp)
    if not any(c.startswith("2") for c in codes) and "default" in responses:
        codes["200"] = responses["default"]  # only a default answer: it is what success looks like
    declared = []
    for code, resp in sorted(codes.items()):
        resp = _deref(resp, refs, f"responses {code}")
        if not isinstance(resp, dict):
            continue
        if swagger2:
            schema = resp.get("schema")
            media = {"schema": schema, "examples": resp.get("examples")} if schema is not None else None
            example = (resp.get("examples") or {}).get("application/json") if isinstance(resp.get("examples"), dict) else None
        else:
            media = _json_media(resp.get("content"))
            schema = media.get("schema") if media is not None else None
            example = _media_example(media) if media is not None else None
        if schema is None:
            continue
        ep.responses[code] = to_schema_node(schema, doc, options=replace(options, leave_out="writeOnly"))
        if example is not None:
            safe = redacted_example(example)
            if safe is not None:
                ep.examples[code] = safe
        declared.append(code)
    return declared


def _write_only(schema: Any, refs: Refs) -> list[str]:
    """The top-level properties of a request body schema marked `writeOnly` (a password): clients send
    them, answers never tell them."""
    seen: set[str] = set()
    names: list[str] = []

    def walk(s: Any) -> None:
        while isinstance(s, dict) and isinstance(s.get("$ref"), str) and s["$ref"] not in seen:
            seen.add(s["$ref"])
            try:
                s = refs.resolve(s["$ref"])
            except SchemaImportError:
                return
        if not isinstance(s, dict):
            return
        for name, prop in (s.get("properties") or {}).items() if isinstance(s.get("properties"), dict) else ():
            if is_marked(prop, "writeOnly", refs) and name not in names:
                names.append(str(name))
        for part in s.get("allOf") or () if isinstance(s.get("allOf"), list) else ():
            walk(part)

    walk(schema)
    return names


def _deref(value: Any, refs: Refs, where: str) -> Any:
    """Follow `$ref`s of non-schema objects (parameters, responses, request bodies, path items)."""
    seen = set()
    while isinstance(value, dict) and "$ref" in value:
        ref = value["$ref"]
        if ref in seen:
            raise SpecError(f"{where}: $ref loop at {ref!r}")
        seen.add(ref)
        try:
            value = refs.resolve(ref)
        except SchemaImportError as e:
            raise SpecError(f"{where}: {e}") from None
    return value


def _param_schema(p: dict[str, Any]) -> Any:
    if "schema" in p:
        return p["schema"]
    media = _json_media(p.get("content")) or next(iter((p.get("content") or {}).values()), None)
    return media.get("schema", {}) if isinstance(media, dict) else {}


def _scalar_only(schema: Any) -> Any:
    """Swagger 2 parameters carry their schema keywords themselves, among others (`in`, `name`, ...)."""
    if isinstance(schema, dict) and "in" in schema:
        return {k: v for k, v in schema.items() if k not in ("in", "name", "required", "description",
                                                             "collectionFormat", "allowEmptyValue")}
    return schema


def _json_media(content: Any) -> dict[str, Any] | None:
    """The JSON entry of a `content` map (`application/json`, `application/problem+json`, `*/*`)."""
    if not isinstance(content, dict):
        return None
    for media, entry in content.items():
        if "json" in str(media).lower() and isinstance(entry, dict):
            return entry
    entry = content.get("*/*")
    return entry if isinstance(entry, dict) else None


def _media_example(media: dict[str, Any]) -> Any:
    if "example" in media:
        return media["example"]
    examples = media.get("examples")
    if isinstance(examples, dict):
        first = next(iter(examples.values()), None)
        if isinstance(first, dict) and "value" in first:
            return first["value"]
    return None


# -- applying -----------------------------------------------------------------------------------------
def apply_plan(brain: Any, plan: ImportPlan) -> list[Endpoint]:
    """Declare every operation in the Brain (templates, endpoints); returns the endpoints in the model."""
    out = [brain.declare(d.endpoint, plan.scheme, d.parts, d.names) for d in plan.operations]
    brain.fold_declared(plan.host)
    return out


def cmd_import(args: argparse.Namespace) -> int:
    """`mimic import openapi SPEC --db DB [--host HOST]`."""
    from ..learn.brain import Brain
    from ..learn.learner import Learner
    from ..store import StoreError
    from ..store.store import open_store

    path = Path(args.spec)
    try:
        plan = plan_import(load_spec(path), host=args.host, source=path.name)
    except SpecError as e:
        print(f"mimic import {args.kind}: {e}", file=sys.stderr)
        return 1
    if not plan.operations:
        print(f"mimic import {args.kind}: {path}: no operations under `paths`", file=sys.stderr)
        return 1
    try:
        store = open_store(args.db)
    except StoreError as e:
        print(f"mimic import {args.kind}: {e}", file=sys.stderr)
        return 1
    try:
        brain = Brain()
        snapshot = store.load()
        snapshot["alerts"] = store.load_alerts()
        brain.load(snapshot)
        apply_plan(brain, plan)
        ok = Learner(brain, store).flush()
    finally:
        store.close()
    print(f"imported {len(plan.operations)} operations ({plan.with_schemas} with JSON response schemas) "
          f"of {plan.title!r} as {plan.scheme}://{plan.host}{plan.base_path} -> {shown(store.url)}", file=sys.stderr)
    return 0 if ok else 1

"""OpenAPI 3.1 document of everything learned (pure: endpoints and templates in, dict out)."""
from __future__ import annotations

import copy
import re
from http import HTTPStatus
from typing import Any, Iterable

from ..learn.endpoint import Endpoint
from ..model import segments as seg
from ..model.paths import MULTI_SEGMENT, PARAM, TAIL, skeleton_parts, split_path
from ..model.stats import EndpointStats
from ..model.contract import schema_of

_PARAM_SCHEMAS = {
    seg.INT: {"type": "integer"},
    seg.UUID: {"type": "string", "format": "uuid"},
    seg.DATE: {"type": "string", "format": "date"},
    seg.EMAIL: {"type": "string", "format": "email"},
}


def _operation_id(method: str, named: str, taken: set[str]) -> str:
    words = [method.lower()]
    for part in split_path(named):
        if part.startswith("{"):
            words.append("by")
            part = part[1:].replace("}", " ")
        words.extend(w for w in re.split(r"[^0-9A-Za-z]+", part) if w)
    base = words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])
    op, n = base, 2
    while op in taken:
        op, n = f"{base}{n}", n + 1
    taken.add(op)
    return op


METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")  # OpenAPI 3.1 path item fields
# Operations of other methods (PURGE, PROPFIND...): OpenAPI 3.2 has `additionalOperations` on the path
# item; this 3.1 document keeps them under the extension of the same name, keyed by the method as sent.
ADDITIONAL_OPERATIONS = "x-additionalOperations"


def openapi_path(named: str) -> str:
    """A named template as an OpenAPI path: `{+file_path}` -> `{file_path}`, a parameter marked
    MULTI_SEGMENT (OpenAPI has no parameter taking several segments)."""
    return named.replace("{+", "{")


def bodiless(code: str) -> bool:
    """Statuses that never have a body (RFC 9110): 1xx, 204, 304. A HAR entry of a 304 often carries
    the browser's cached body; it is not the answer's."""
    return code in ("204", "304") or (len(code) == 3 and code.startswith("1"))


def _description(code: str) -> str:
    try:
        return HTTPStatus(int(code)).phrase
    except ValueError:
        return f"Status {code}"


def _content(types: dict[str, int], schema: dict | None, example) -> dict:
    content = {}
    for media in sorted(types, key=lambda m: -types[m]):
        if schema is not None and "json" in media:
            entry: dict = {"schema": schema}
            if example is not None:
                entry["example"] = example
        else:
            entry = {"schema": {"type": "string"}}
        content[media] = entry
    if not content and schema is not None:
        content["application/json"] = {"schema": schema}
    return content


def _operation(ep: Endpoint, named: str, param_kinds: list[str]) -> dict:
    """The operation of one endpoint (one host), without its operationId."""
    op: dict = {"parameters": []}
    names = re.findall(r"\{([^}/]+)\}", named)
    for name, kind in zip(names, param_kinds):
        param = {"name": name.lstrip("+"), "in": "path", "required": True,
                 "schema": _PARAM_SCHEMAS.get(kind, {"type": "string"})}
        if name.startswith("+"):  # the rest of the path, slashes and all (`{+file_path}`)
            param[MULTI_SEGMENT] = True
        op["parameters"].append(param)
    total = ep.stats.count
    for name in sorted(ep.query):
        node = ep.query[name]
        op["parameters"].append({"name": name, "in": "query", "required": node.count >= total,
                                 "schema": schema_of(node, ep.imported is not None)})
    if not op["parameters"]:
        del op["parameters"]
    if ep.request is not None or ep.request_types:
        schema = schema_of(ep.request, ep.imported is not None) if ep.request is not None else None
        op["requestBody"] = {"content": _content(dict(ep.request_types), schema, ep.request_example)}
    responses = {}
    for code in sorted({str(s) for s in ep.stats.statuses} | set(ep.responses)):
        resp: dict = {"description": _description(code)}
        answer = ep.responses.get(code)
        schema = schema_of(answer, ep.imported is not None) if answer else None
        content = None if bodiless(code) else _content(dict(ep.response_types.get(code, {})), schema,
                                                       ep.examples.get(code))
        if content:
            resp["content"] = content
        responses[code] = resp
    op["responses"] = responses or {"default": {"description": "No response observed"}}
    return op


def _stats(stats: EndpointStats) -> dict:
    summary = stats.summary()
    return {k: summary[k] for k in ("count", "error_rate", "latency", "first_seen", "last_seen")}


def _union(schemas: list[dict]) -> dict:
    """One schema for values of any of `schemas`: itself when they agree, else their `anyOf`
    (not `oneOf`: two hosts' learned schemas often both accept a value, which `oneOf` would reject)."""
    branches: list[dict] = []
    for schema in schemas:
        for branch in schema["anyOf"] if set(schema) == {"anyOf"} else [schema]:
            if branch not in branches:
                branches.append(branch)
    if {} in branches:
        return {}
    return branches[0] if len(branches) == 1 else {"anyOf": branches}


def _merge_content(contents: list[dict]) -> dict:
    """Media type -> entry over several operations' `content`; the first example found is kept
    (it is valid against the union)."""
    out: dict = {}
    for content in contents:
        for media, entry in content.items():
            out.setdefault(media, []).append(entry)
    merged = {}
    for media, entries in out.items():
        entry = {"schema": _union([e["schema"] for e in entries])}
        example = next((e["example"] for e in entries if "example" in e), None)
        if example is not None:
            entry["example"] = example
        merged[media] = entry
    return merged


def _merge_operations(ops: list[dict]) -> dict:
    """One operation for the same method and template on several hosts (busiest first): every
    parameter, body and status any of them has, schemas united."""
    if len(ops) == 1:
        return ops[0]
    params: dict[tuple[str, str], list[dict]] = {}
    for op in ops:
        for p in op.get("parameters", ()):
            params.setdefault((p["in"], p["name"]), []).append(p)
    merged: dict = {}
    if params:
        merged["parameters"] = [{"name": name, "in": where,
                                 "required": len(ps) == len(ops) and all(p["required"] for p in ps),
                                 "schema": _union([p["schema"] for p in ps]),
                                 **({MULTI_SEGMENT: True} if any(p.get(MULTI_SEGMENT) for p in ps) else {})}
                                for (where, name), ps in params.items()]
    bodies = [op["requestBody"]["content"] for op in ops if "requestBody" in op]
    if bodies:
        merged["requestBody"] = {"content": _merge_content(bodies)}
    responses: dict = {}
    for op in ops:
        for code, resp in op["responses"].items():
            responses.setdefault(code, []).append(resp)
    if len(responses) > 1:
        responses.pop("default", None)
    merged["responses"] = {}
    for code in sorted(responses):
        resp = {"description": responses[code][0]["description"]}
        content = _merge_content([r["content"] for r in responses[code] if "content" in r])
        if content:
            resp["content"] = content
        merged["responses"][code] = resp
    return merged


def _server(host: str, schemes: dict[str, str]) -> dict:
    return {"url": f"{schemes.get(host, 'https')}://{host}"}


def build(endpoints: Iterable[tuple[Endpoint, str, list[str]]], schemes: dict[str, str],
          title: str = "API learned by Mimic") -> dict:
    """`endpoints`: (endpoint, named template, kind of each path parameter).

    The same method and template learned on several hosts is one operation (a path holds one
    operation per method): its schemas are the union of the hosts', its `servers` those hosts."""
    groups: dict[tuple[str, str], list[tuple[Endpoint, list[str]]]] = {}
    for ep, named, kinds in sorted(endpoints, key=lambda r: (r[1], r[0].method, -r[0].stats.count, r[0].host)):
        groups.setdefault((named, ep.method), []).append((ep, kinds))
    paths: dict[str, dict] = {}
    hosts: dict[str, int] = {}
    path_ops: dict[str, list[tuple[dict, list[str]]]] = {}  # per path: (operation, its hosts)
    taken: set[str] = set()
    for (named, method), members in groups.items():
        op = {"operationId": _operation_id(method, named, taken),
              **_merge_operations([_operation(ep, named, kinds) for ep, kinds in members])}
        stats = copy.deepcopy(members[0][0].stats)
        for ep, _ in members[1:]:
            stats.merge(ep.stats)
        op["x-mimic-stats"] = _stats(stats)
        item = paths.setdefault(openapi_path(named), {})
        if method.lower() in METHODS:
            item[method.lower()] = op
        else:
            item.setdefault(ADDITIONAL_OPERATIONS, {})[method] = op
        path_ops.setdefault(openapi_path(named), []).append((op, sorted(ep.host for ep, _ in members)))
        for ep, _ in members:
            hosts[ep.host] = hosts.get(ep.host, 0) + ep.stats.count
    ordered_hosts = sorted(hosts, key=lambda h: -hosts[h])
    if len(ordered_hosts) > 1:
        for named, ops in path_ops.items():
            path_hosts = sorted({h for _, hs in ops for h in hs})
            paths[named]["servers"] = [_server(h, schemes) for h in path_hosts]
            for op, hs in ops:
                if hs != path_hosts:
                    op["servers"] = [_server(h, schemes) for h in hs]
    doc: dict[str, Any] = {"openapi": "3.1.0", "info": {"title": title, "version": "1.0.0"},
                           "paths": dict(sorted(paths.items()))}
    if ordered_hosts:
        doc["servers"] = [_server(h, schemes) for h in ordered_hosts]
    return doc


def param_kinds(tree, skeleton: str) -> list[str]:
    """The dominant detector kind of each parameter of a skeleton (drives its schema)."""
    kinds = []
    node = tree.root
    for part in skeleton_parts(skeleton):
        if node is None:
            break
        if part in (PARAM, TAIL) and node.param is not None:
            node = node.param
            top = node.kinds.most_common(1)
            kinds.append(top[0][0] if top and sum(node.kinds.values()) == top[0][1] else seg.WORD)
        else:
            node = node.literals.get(part)
    return kinds


def from_brain(brain, host: str | None = None) -> dict:
    """The document for every learned host (or one of them)."""
    with brain.lock:
        rows = []
        schemes = {}
        for name, model in brain.hosts.items():
            if host is not None and name != host:
                continue
            schemes[name] = model.scheme
            for ep in model.endpoints.values():
                rows.append((ep, model.tree.named(ep.skeleton), param_kinds(model.tree, ep.skeleton)))
        return build(rows, schemes)

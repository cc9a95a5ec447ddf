"""OpenAPI 3.1 document of everything learned (pure: endpoints and templates in, dict out)."""
from __future__ import annotations

import re
from http import HTTPStatus
from typing import Iterable

from ..learn.endpoint import Endpoint
from ..model import segments as seg
from ..model.paths import PARAM, split_path

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


def _operation(ep: Endpoint, named: str, param_kinds: list[str], taken: set[str]) -> dict:
    op: dict = {"operationId": _operation_id(ep.method, named, taken), "parameters": []}
    names = re.findall(r"\{([^}/]+)\}", named)
    for name, kind in zip(names, param_kinds):
        op["parameters"].append({"name": name, "in": "path", "required": True,
                                 "schema": _PARAM_SCHEMAS.get(kind, {"type": "string"})})
    total = ep.stats.count
    for name in sorted(ep.query):
        node = ep.query[name]
        op["parameters"].append({"name": name, "in": "query", "required": node.count >= total,
                                 "schema": node.to_json_schema()})
    if not op["parameters"]:
        del op["parameters"]
    if ep.request is not None or ep.request_types:
        schema = ep.request.to_json_schema() if ep.request is not None else None
        op["requestBody"] = {"content": _content(dict(ep.request_types), schema, ep.request_example)}
    responses = {}
    for code in sorted({str(s) for s in ep.stats.statuses} | set(ep.responses)):
        resp: dict = {"description": _description(code)}
        node = ep.responses.get(code)
        content = _content(dict(ep.response_types.get(code, {})), node.to_json_schema() if node else None,
                           ep.examples.get(code))
        if content:
            resp["content"] = content
        responses[code] = resp
    op["responses"] = responses or {"default": {"description": "No response observed"}}
    summary = ep.stats.summary()
    op["x-mimic-stats"] = {k: summary[k] for k in ("count", "error_rate", "latency", "first_seen", "last_seen")}
    return op


def build(endpoints: Iterable[tuple[Endpoint, str, list[str]]], schemes: dict[str, str],
          title: str = "API learned by Mimic") -> dict:
    """`endpoints`: (endpoint, named template, kind of each path parameter)."""
    paths: dict[str, dict] = {}
    hosts: dict[str, int] = {}
    path_hosts: dict[str, set[str]] = {}
    taken: set[str] = set()
    rows = sorted(endpoints, key=lambda r: (r[1], r[0].method, -r[0].stats.count))
    for ep, named, kinds in rows:
        key = named
        item = paths.setdefault(key, {})
        method = ep.method.lower()
        if method in item or method not in ("get", "put", "post", "delete", "options", "head", "patch", "trace"):
            continue
        item[method] = _operation(ep, named, kinds, taken)
        hosts[ep.host] = hosts.get(ep.host, 0) + ep.stats.count
        path_hosts.setdefault(key, set()).add(ep.host)
    ordered_hosts = sorted(hosts, key=lambda h: -hosts[h])
    servers = [{"url": f"{schemes.get(h, 'https')}://{h}"} for h in ordered_hosts]
    if len(ordered_hosts) > 1:
        for key, hs in path_hosts.items():
            paths[key]["servers"] = [{"url": f"{schemes.get(h, 'https')}://{h}"} for h in sorted(hs)]
    doc = {"openapi": "3.1.0", "info": {"title": title, "version": "1.0.0"}, "paths": dict(sorted(paths.items()))}
    if servers:
        doc["servers"] = servers
    return doc


def param_kinds(tree, skeleton: str) -> list[str]:
    """The dominant detector kind of each parameter of a skeleton (drives its schema)."""
    kinds = []
    node = tree.root
    for part in split_path(skeleton):
        if node is None:
            break
        if part == PARAM and node.param is not None:
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

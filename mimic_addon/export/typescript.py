"""TypeScript declarations of every learned body, from the JSON Schema export (no node needed).

One exported interface or type per `$defs` entry, then `Endpoints`: a map from `"GET /users/{id}"`
to its params, query, request and responses, for typing a fetch wrapper. Learned keys and values
are strangers' input: every property name that is not a plain identifier and every literal is
written as a JSON string (a valid TypeScript string literal, ASCII only), and nothing learned ever
goes into a comment.
"""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from .jsonschema_doc import INDEX

if TYPE_CHECKING:
    from . import ExportRequest, ExportResult

_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_SIMPLE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$.]*(<[^<>]*>)?")  # needs no parentheses before `[]`
_PRIMITIVES = {"string": "string", "integer": "number", "number": "number", "boolean": "boolean", "null": "null"}
HEADER = ("// Types learned by Mimic from observed traffic (`mimic export typescript`).\n"
          "// Generated: do not edit. Optional properties were absent from some observed bodies.\n")
NO_FIELDS = "Record<string, never>"


def literal(value: Any) -> str:
    """A TypeScript literal type for a JSON scalar."""
    return json.dumps(value, ensure_ascii=True)


def prop_name(key: str) -> str:
    return key if _IDENT.fullmatch(key) else literal(key)


def _union(parts: list[str]) -> str:
    seen = list(dict.fromkeys(parts))
    if "unknown" in seen:
        return "unknown"
    if "null" in seen:  # nullable last: `string | null`
        seen.remove("null")
        seen.append("null")
    return " | ".join(seen) if seen else "never"


def _array(items: str) -> str:
    return f"{items}[]" if _SIMPLE.fullmatch(items) else f"Array<{items}>"


class Emitter:
    """Renders JSON Schema (the subset Mimic emits, and some more) as TypeScript type expressions."""

    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs

    def type_of(self, schema: Any, indent: str = "") -> str:
        if schema is True or schema == {}:
            return "unknown"
        if schema is False:
            return "never"
        if not isinstance(schema, dict):
            return "unknown"
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in self.defs:
            return ref[8:]
        if "const" in schema:
            return literal(schema["const"])
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return _union([literal(v) for v in schema["enum"]])
        for key in ("oneOf", "anyOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                return _union([self.type_of(branch, indent) for branch in schema[key]])
        types = schema.get("type")
        if isinstance(types, str):
            types = [types]
        elif not isinstance(types, list):
            types = ["object"] if "properties" in schema or "additionalProperties" in schema else []
            types += ["array"] if "items" in schema else []
        if not types:
            return "unknown"
        return _union([self._one_type(t, schema, indent) for t in types])

    def _one_type(self, name: str, schema: dict[str, Any], indent: str) -> str:
        if name in _PRIMITIVES:
            return _PRIMITIVES[name]
        if name == "array":
            items = schema.get("items")
            return _array(self.type_of(items, indent) if items is not None else "unknown")
        if name == "object":
            return self.object_type(schema, indent)
        return "unknown"

    def object_type(self, schema: dict[str, Any], indent: str) -> str:
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        if not isinstance(props, dict) or not props:
            if extra is False:
                return NO_FIELDS
            return f"Record<string, {self.type_of(extra, indent) if extra is not None else 'unknown'}>"
        body = "{\n" + self.members(schema, indent + "  ") + indent + "}"
        if extra is None or extra is False:
            return body
        return f"{body} & {{ [key: string]: {self.type_of(extra, indent)} }}"

    def members(self, schema: dict[str, Any], indent: str) -> str:
        """The property lines of an object schema, each ending in a newline."""
        required = set(schema.get("required") or ())
        lines = []
        for key, sub in schema["properties"].items():
            mark = "" if key in required else "?"
            lines.append(f"{indent}{prop_name(key)}{mark}: {self.type_of(sub, indent)};\n")
        return "".join(lines)

    def declaration(self, name: str, schema: Any) -> str:
        """`export interface Name {...}` for objects with properties, else `export type Name = ...;`."""
        if (isinstance(schema, dict) and schema.get("type") == "object" and schema.get("properties")
                and "additionalProperties" not in schema and not {"oneOf", "anyOf", "enum", "const"} & schema.keys()):
            return f"export interface {name} {{\n{self.members(schema, '  ')}}}\n"
        return f"export type {name} = {self.type_of(schema)};\n"


def _body(ref: str | None, media: list[str]) -> str:
    """A body's type: its definition, `unknown` for a body that is not JSON, `undefined` for none."""
    return ref if ref else "unknown" if media else "undefined"


def _endpoint(entry: dict[str, Any]) -> str:
    lines = [f"    params: {entry['params'] or NO_FIELDS};", f"    query: {entry['query'] or NO_FIELDS};",
             f"    request: {_body(entry['request'], entry['request_media'])};", "    responses: {"]
    for code, resp in entry["responses"].items():
        key = code if code.isdigit() else literal(code)
        lines.append(f"      {key}: {_body(resp['schema'], resp['media'])};")
    lines.append("    };")
    return "\n".join(lines)


def from_document(doc: dict[str, Any]) -> str:
    """The TypeScript module for a document built by `jsonschema_doc.build`."""
    defs = doc.get("$defs", {})
    emitter = Emitter(defs)
    out = [HEADER]
    for name, schema in defs.items():
        out.append("\n" + emitter.declaration(name, schema))
    entries = doc.get(INDEX, {})
    out.append("\n/** Every learned endpoint: path parameters, query, request body and response body by status. */\n")
    if entries:
        out.append("export interface Endpoints {\n")
        for key, entry in entries.items():
            out.append(f"  {literal(key)}: {{\n{_endpoint(entry)}\n  }};\n")
        out.append("}\n")
    else:
        out.append(f"export type Endpoints = {NO_FIELDS};\n")
    out.append("\nexport type EndpointKey = keyof Endpoints;\n")
    return "".join(out)


def export(req: ExportRequest) -> ExportResult:
    from . import ExportResult
    from .jsonschema_doc import from_brain, summary

    doc = from_brain(req.brain, req.host)
    return ExportResult(from_document(doc), summary(doc), "application/typescript", "api.ts")

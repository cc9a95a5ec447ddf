"""Pydantic v2 models of every learned body: datamodel-code-generator run on the JSON Schema export.

One model per `$defs` entry (same names), nested models prefixed with their parent's name, then
`ENDPOINTS`, mapping `"GET /users/{id}"` to its models. The schema is adapted first so the models
accept everything Mimic learned: observed ranges (`maxLength`, `minimum`, ...) describe traffic, not
a contract, and string formats whose Python types are stricter than Mimic's detectors (a date-time
on 31 February, an e-mail address `email-validator` would refuse) become plain strings.
"""
from __future__ import annotations

import ast
import json
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .jsonschema_doc import INDEX

if TYPE_CHECKING:
    from . import ExportRequest, ExportResult

_OBSERVED_RANGES = frozenset({"minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems"})
_OBJECT_KEYWORDS = frozenset({"properties", "required", "additionalProperties", "patternProperties", "oneOf",
                              "minProperties", "maxProperties", "propertyNames"})
_ABOUT_KEYWORDS = frozenset({"title", "description", "examples", "$comment"})
_EXACT_FORMATS = frozenset({"uuid", "ipv4"})  # Mimic's detector accepts exactly what Python's type does
HEADER = ("# Pydantic v2 models learned by Mimic from observed traffic (`mimic export pydantic`),\n"
          "# generated with datamodel-code-generator. Do not edit.")


class GenerationError(Exception):
    """datamodel-code-generator failed or renamed a definition."""


def _encodable(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _adapt(schema: Any) -> Any:
    """A copy of the schema without observed ranges, with only exactly-detected formats, and without
    properties whose names hold lone surrogates (pydantic-core cannot take them as aliases; such
    keys are then ignored like any unknown key)."""
    if isinstance(schema, list):
        return [_adapt(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _OBSERVED_RANGES or (key == "format" and value not in _EXACT_FORMATS):
            continue
        if key == "properties":  # a map of names to schemas: the names stay as they are
            out[key] = {name: _adapt(sub) for name, sub in value.items() if _encodable(name)}
        elif key == "required":
            out[key] = [name for name in value if _encodable(name)]
        elif key in ("items", "additionalProperties", "oneOf", "anyOf", "allOf"):
            out[key] = _adapt(value)
        else:
            out[key] = value
    return out


def _pascal(text: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in re.split(r"[^0-9A-Za-z]+", text) if w)


def _tag(branch: dict[str, Any]) -> str:
    """The discriminator value of a variant (`{"type": {"const": "text"}}` -> `Text`), or ""."""
    for prop in (branch.get("properties") or {}).values():
        if isinstance(prop, dict) and isinstance(prop.get("const"), str):
            return _pascal(prop["const"])
    return ""


class _Hoister:
    """Moves the variants and array items at the top of each definition into definitions of their
    own, named after it (`GetEventsResponse200Item`, `...ItemText`): left in place, the generator
    would name their models after the parent twice (`GetEventsResponse200GetEventsResponse2001`)."""

    def __init__(self, defs: dict[str, Any]) -> None:
        self.taken = set(defs)
        self.defs: dict[str, Any] = {}
        for name, schema in defs.items():
            self.defs[name] = self.hoist(name, schema)

    def _new(self, base: str, schema: dict[str, Any]) -> dict[str, str]:
        name, n = base, 2
        while name in self.taken:
            name, n = f"{base}{n}", n + 1
        self.taken.add(name)
        self.defs[name] = self.hoist(name, schema)
        return {"$ref": f"#/$defs/{name}"}

    def hoist(self, name: str, schema: Any) -> Any:
        if not isinstance(schema, dict):
            return schema
        types = schema.get("type")
        if isinstance(types, list) and "object" in types and set(types) - {"object", "null"} and \
                any(k in schema for k in _OBJECT_KEYWORDS):
            # an object or another type (`{...} | string`): the generator would name the object model after
            # the definition and the union after it with a "1", so ENDPOINTS would name the object alone
            obj = {k: v for k, v in schema.items() if k in _OBJECT_KEYWORDS}
            said = {k: v for k, v in schema.items() if k in _ABOUT_KEYWORDS}  # (of the whole: on the union)
            rest = {k: v for k, v in schema.items() if k not in _OBJECT_KEYWORDS | _ABOUT_KEYWORDS and k != "type"}
            others = [t for t in types if t != "object"]
            other = self.hoist(f"{name}Other", {**rest, "type": others[0] if len(others) == 1 else others})
            return {**said, "anyOf": [self._new(f"{name}Object", {"type": "object", **obj}), other]}
        if isinstance(schema.get("oneOf"), list):
            schema = {**schema, "oneOf": [
                self._new(name + (_tag(b) or f"Variant{i}"), b) if isinstance(b, dict) and "properties" in b else b
                for i, b in enumerate(schema["oneOf"], 1)]}
        items = schema.get("items")
        if isinstance(items, dict) and ("properties" in items or "oneOf" in items):
            schema = {**schema, "items": self._new(f"{name}Item", items)}
        return schema


def _generator_input(doc: dict[str, Any]) -> str:
    """The `$defs` only, longest names first: a nested model is named after its parent definition
    (`GetPetResponse200Tag`), so it can only clash with a longer definition name, and the generator
    gives a name to whichever it reads first."""
    defs = _Hoister(doc.get("$defs", {})).defs
    ordered = {name: _adapt(defs[name]) for name in sorted(defs, key=lambda n: (-len(n), n))}
    return json.dumps({"$schema": doc.get("$schema"), "$defs": ordered}, ensure_ascii=True)


def _generate(text: str) -> str:
    from datamodel_code_generator import DataModelType, InputFileType, LiteralType, NamingStrategy, generate
    from datamodel_code_generator.format import Formatter, PythonVersion

    with tempfile.TemporaryDirectory(prefix="mimic-pydantic-") as tmp:  # no pyproject.toml: fixed style
        code = generate(
            text, input_file_type=InputFileType.JsonSchema, output_model_type=DataModelType.PydanticV2BaseModel,
            target_python_version=PythonVersion.PY_312, naming_strategy=NamingStrategy.ParentPrefixed,
            enum_field_as_literal=LiteralType.All, skip_root_model=True, disable_timestamp=True,
            custom_file_header=HEADER, keep_model_order=True, formatters=[Formatter.BUILTIN],
            builtin_format_line_length=100, settings_path=Path(tmp),
        )
    if not isinstance(code, str):
        raise GenerationError(f"datamodel-code-generator returned {type(code).__name__}, not one module")
    return code


def _model(name: str | None) -> str:
    return name or "None"


def _endpoints(entries: dict[str, Any]) -> str:
    lines = ["", "", "# Every learned endpoint and its models (None: no JSON body was learned there).",
             "ENDPOINTS: dict[str, dict[str, object]] = {"]
    for key, entry in entries.items():
        lines += [f"    {key!a}: {{",
                  f"        'params': {_model(entry['params'])},",
                  f"        'query': {_model(entry['query'])},",
                  f"        'request': {_model(entry['request'])},",
                  "        'responses': {"]
        lines += [f"            {int(code) if code.isdigit() else ascii(code)}: {_model(r['schema'])},"
                  for code, r in entry["responses"].items()]
        lines += ["        },", "    },"]
    lines.append("}")
    return "\n".join(lines) + "\n"


def from_document(doc: dict[str, Any]) -> str:
    """The Python module for a document built by `jsonschema_doc.build`."""
    defs = doc.get("$defs", {})
    code = _generate(_generator_input(doc)).rstrip("\n") + "\n" if defs else f"{HEADER}\n"
    classes = {node.name for node in ast.parse(code).body if isinstance(node, ast.ClassDef)}
    missing = sorted(set(defs) - classes)
    if missing:
        raise GenerationError(f"no model generated for {', '.join(missing[:5])}")
    return code + _endpoints(doc.get(INDEX, {}))


def export(req: ExportRequest) -> ExportResult:
    from . import ExportError, ExportResult
    from .jsonschema_doc import from_brain, summary

    doc = from_brain(req.brain, req.host)
    try:
        code = from_document(doc)
    except GenerationError as e:
        raise ExportError(str(e)) from e
    except Exception as e:  # the generator's own errors: report them as a failed export
        raise ExportError(f"datamodel-code-generator failed: {type(e).__name__}: {e}") from e
    return ExportResult(code, summary(doc), "text/x-python", "models.py")

"""JSON Schema -> `SchemaNode`: the summary a learner would hold after observing `SPEC_COUNT` values
that follow the schema (OpenAPI 3.0 / 3.1 and Swagger 2 dialects).

Pure: a schema and the document its local `$ref`s point into go in, a `SchemaNode` comes out. The
node is built in `SchemaNode`'s storage form (`to_dict` / `from_dict`), so it is exactly what a
stored model holds, and learning from traffic merges into it like into any learned node:

- every place the schema describes was "seen" about `SPEC_COUNT` times (so the drift watch judges
  it at once); a required property was seen in every object, an optional one in all but one (so
  it stays optional and mocks usually show it);
- type unions (`type: [..]`, `oneOf`, `anyOf`, 3.0 `nullable`, Swagger `x-nullable`) share the
  count between their types, a null type getting a single observation (mocks prefer values);
- alternatives of objects are merged property by property (required where every alternative
  requires it); when each alternative carries its own tag on a discriminator property
  (`{"type": {"const": "text"}}`, or an OpenAPI `discriminator` mapping) they become the node's
  variants, so mocks generate one alternative at a time;
- `allOf` is merged (properties, required, tighter bounds, type intersection);
- strings without an `enum` are marked as open (never an enum), strings without a format as
  having none: traffic cannot turn them into a closed set later; but `examples` marked
  `x-mimic-observed-values` (a Mimic export's values seen too rarely for an enum) are restored as
  observed values that mocks replay, still open (no enum, no drift on a new value);
- a declared `enum` is a contract however many values it lists (up to `DECLARED_ENUM_MAX`);
- bounds the schema leaves out (lengths, item counts, one side of a range) get defaults for mocks,
  flagged as such (`HINT_*`) so that an export does not state them;
- recursive `$ref`s are expanded `RECURSION` times, then cut: an optional recursive property is
  left out, a recursive array item leaves the array empty.

A `$ref` outside the document, or one that does not resolve, raises `SchemaImportError`.
"""
from __future__ import annotations

import itertools
import math
import urllib.parse
from dataclasses import dataclass
from typing import Any

from .pattern_shape import pattern_compiles, pattern_shape
from .schema import (
    DECLARED_ENUM_MAX,
    DISCRIMINATORS,
    HINT_ARR_MAX,
    HINT_CLOSED,
    HINT_ARR_MIN,
    HINT_DECLARED_ENUM,
    HINT_NUM_MAX,
    HINT_NUM_MIN,
    HINT_OPEN_VALUES,
    HINT_STR_MAX,
    HINT_STR_MIN,
    MAX_DEPTH,
    MAX_ENUM_TRACKED,
    MAX_PROPERTIES,
    MAX_VARIANTS,
    OBSERVED_VALUES_KEY,
    VARIANT_NESTING,
    SchemaNode,
)

SPEC_COUNT = 1000       # observations an imported schema stands for
RECURSION = 2           # times one $ref may be expanded inside itself
MAX_ALTERNATIVES = 16   # alternatives kept per place (allOf x oneOf products are cut here)
DEFAULT_MAX_LENGTH = 64
DEFAULT_EXTRA_ITEMS = 4
DEFAULT_NUMBER_SPAN = 100
_EPSILON = 0.01         # mocks round numbers to two decimals
_FORMATS = {"uuid": "uuid", "email": "email", "date-time": "date-time", "date": "date", "uri": "uri",
            "url": "uri", "ipv4": "ipv4"}
_CODES = {"object": "o", "array": "a", "string": "s", "integer": "i", "number": "f", "boolean": "b", "null": "z"}
_ORDER = ("object", "array", "string", "integer", "number", "boolean")
_OBJECT_KEYS = ("properties", "additionalProperties", "required", "minProperties", "maxProperties")
_STRING_KEYS = ("minLength", "maxLength", "pattern", "format")
_NUMBER_KEYS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
_OBSERVED_KEYS = ("examples", OBSERVED_VALUES_KEY)  # a Mimic export's observed values (`_observed_values`)
# A Mimic export's observed bounds (model/contract.py): no contract, but what mocks should stay within.
OBSERVED_BOUNDS_KEY = "x-mimic-observed-bounds"
OBSERVED_BOUNDS = ("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems")
_OBSERVED_MARK = "\x00observed-bounds"  # (internal) which of a schema's bounds came from OBSERVED_BOUNDS_KEY


class SchemaImportError(ValueError):
    """The schema cannot be turned into a model (an external or unresolvable `$ref`, a bad keyword)."""


class Refs:
    """Local `$ref` resolution (`#/components/schemas/Pet`, `#/definitions/Pet`) in one document."""

    def __init__(self, document: Any) -> None:
        self.document = document

    def resolve(self, ref: str) -> Any:
        if not isinstance(ref, str):
            raise SchemaImportError(f"$ref must be a string, not {ref!r}")
        if not ref.startswith("#"):
            raise SchemaImportError(f"external $ref not supported: {ref!r} (only refs inside the document, '#/...')")
        target = self.document
        pointer = urllib.parse.unquote(ref[1:])
        if pointer in ("", "/"):
            return target
        for raw in pointer.lstrip("/").split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(target, dict) and part in target:
                target = target[part]
            elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
            else:
                raise SchemaImportError(f"$ref does not resolve: {ref!r}")
        return target


def is_marked(schema: Any, keyword: str, refs: Refs) -> bool:
    """Is `keyword` (`readOnly`, `writeOnly`) true on this schema, itself (beside a `$ref` too, as OpenAPI 3.1
    writes it) or where its `$ref` points?"""
    if not isinstance(schema, dict):
        return False
    if schema.get(keyword) is True:
        return True
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return False
    try:
        target = refs.resolve(ref)
    except SchemaImportError:
        return False
    return isinstance(target, dict) and target.get(keyword) is True


@dataclass(frozen=True)
class Options:
    nullable_keyword: bool = True   # OpenAPI 3.0 `nullable` / Swagger `x-nullable` add a null type
    leave_out: str | None = None    # "readOnly" in a request body, "writeOnly" in an answer: properties
                                    # marked so are not part of that side's schema (as Prism reads them)


@dataclass
class _Alt:
    """One alternative of a place: a schema without `$ref`, `allOf`, `oneOf` or `anyOf`."""
    schema: dict[str, Any]
    refs: tuple[str, ...] = ()        # $refs expanded on the way (recursion guard)
    disc_key: str | None = None       # OpenAPI discriminator of the oneOf / anyOf it came from
    disc_tag: str | None = None       # ... and the tag its mapping gives this alternative


def to_schema_node(schema: Any, document: Any = None, *, count: int = SPEC_COUNT,
                   options: Options = Options()) -> SchemaNode:
    """The `SchemaNode` of one JSON Schema; `document` is what `#/...` refs point into."""
    return SchemaNode.from_dict(to_node_dict(schema, document, count=count, options=options))


def to_node_dict(schema: Any, document: Any = None, *, count: int = SPEC_COUNT,
                 options: Options = Options()) -> dict[str, Any]:
    """The same, in `SchemaNode.to_dict` form."""
    builder = _Builder(Refs(document if document is not None else schema), options)
    return builder.build(builder.flatten(schema, ()), count, 0, VARIANT_NESTING)


class _Builder:
    def __init__(self, refs: Refs, options: Options) -> None:
        self.refs = refs
        self.options = options

    # -- alternatives ---------------------------------------------------------------------------
    def flatten(self, schema: Any, refs: tuple[str, ...]) -> list[_Alt]:
        """The alternatives a schema allows (empty: nothing, e.g. a recursion cut or `false`)."""
        if schema is True or schema is None:
            return [_Alt({}, refs)]
        if schema is False:
            return []
        if not isinstance(schema, dict):
            raise SchemaImportError(f"a schema must be an object, not {type(schema).__name__}: {schema!r:.80}")
        nullable = self.options.nullable_keyword and (schema.get("nullable") is True or schema.get("x-nullable") is True)
        if "$ref" in schema:
            ref = schema["$ref"]
            if refs.count(ref) >= RECURSION:
                return []
            target = self.refs.resolve(ref)
            siblings = {k: v for k, v in schema.items() if k != "$ref" and _meaningful(k)}
            alts = self.flatten({"allOf": [target, siblings]} if siblings else target, refs + (ref,))
        else:
            base = {k: v for k, v in schema.items()
                    if (_meaningful(k) or k in _OBSERVED_KEYS) and k not in ("allOf", "oneOf", "anyOf")}
            if "const" in base:
                base["enum"] = [base.pop("const")]
            observed = schema.get(OBSERVED_BOUNDS_KEY)
            if isinstance(observed, dict):
                taken = tuple(k for k in OBSERVED_BOUNDS if k in observed and k not in base)
                base.update((k, observed[k]) for k in taken)
                base[_OBSERVED_MARK] = taken
            if isinstance(base.get("items"), list) and "type" not in base:
                # A typeless `items: [A, B]` (Swagger-era specs, Slack's among them) says nothing about
                # a non-array value, yet that is what such specs describe: read it as "A or B".
                alternatives = base.pop("items")
                alts = _product([[_Alt(base, refs)], [a for part in alternatives for a in self.flatten(part, refs)]])
            else:
                alts = [_Alt(base, refs)]
            if "allOf" in schema:
                alts = _product([alts] + [self.flatten(part, refs) for part in _list(schema["allOf"], "allOf")])
            for key in ("oneOf", "anyOf"):
                if key in schema:
                    alts = _product([alts, self._choices(schema, key, refs)])
        if nullable:
            alts = alts + [_Alt({"type": "null"}, refs)]
        return alts[:MAX_ALTERNATIVES]

    def _choices(self, schema: dict[str, Any], key: str, refs: tuple[str, ...]) -> list[_Alt]:
        """The alternatives of a oneOf / anyOf, tagged through its discriminator's mapping."""
        disc = schema.get("discriminator")
        prop = disc.get("propertyName") if isinstance(disc, dict) else None
        mapping = disc["mapping"] if isinstance(disc, dict) and isinstance(disc.get("mapping"), dict) else {}
        choices = []
        for part in _list(schema[key], key):
            alts = self.flatten(part, refs)
            if isinstance(prop, str) and isinstance(part, dict) and isinstance(part.get("$ref"), str):
                ref = part["$ref"]
                name = ref.rsplit("/", 1)[-1]
                tag = next((str(t) for t, target in mapping.items() if target in (ref, name)), name)
                for alt in alts:
                    if alt.disc_key is None:
                        alt.disc_key, alt.disc_tag = prop, tag
            choices.extend(alts)
        return choices

    # -- nodes ----------------------------------------------------------------------------------
    def build(self, alts: list[_Alt], n: int, depth: int, vlevel: int, flat: bool = False) -> dict[str, Any]:
        """The stored form of a node that saw `n` values, each following one of the alternatives.
        `depth` and `vlevel` (variants within variants still allowed) follow `SchemaNode`'s own
        bounds, so nothing is built that a stored node would drop; a `flat` node is a variant."""
        typed = [(alt, _types(alt.schema)) for alt in alts]
        names: list[str] = []
        nullable = False
        for _, types in typed:
            for name in types or ():
                if name == "null":
                    nullable = True
                elif name not in names:
                    names.append(name)
        names.sort(key=_ORDER.index)
        counts = _split(n, names, nullable)
        d: dict[str, Any] = {"n": n, "t": {_CODES[name]: c for name, c in counts.items()}}
        of = {name: [alt for alt, types in typed if types is not None and name in types] for name in names}
        if "object" in counts and depth < MAX_DEPTH:
            self._object(d, of["object"], counts["object"], depth, vlevel, flat)
        if "array" in counts:
            self._array(d, of["array"], counts["array"], depth, vlevel)
        if "string" in counts:
            _string(d, [alt.schema for alt in of["string"]])
        numeric = [alt.schema for name in ("integer", "number") if name in counts for alt in of[name]]
        if numeric:
            _numbers(d, numeric, integer="number" not in counts)
        return d

    def _object(self, d: dict[str, Any], alts: list[_Alt], objects: int, depth: int, vlevel: int, flat: bool) -> None:
        schemas = [alt.schema for alt in alts]
        maps = [s.get("additionalProperties") for s in schemas]
        if all(not s.get("properties") and isinstance(m, dict) and any(map(_meaningful, m))
               for s, m in zip(schemas, maps)):
            children = [a for alt, m in zip(alts, maps) for a in self.flatten(m, alt.refs)]
            d["ap"] = self.build(children, objects, depth + 1, vlevel)
            return
        props = self._properties(alts, objects, depth, vlevel)
        if props:
            d["p"] = props
            if all(s.get("additionalProperties") is False and "patternProperties" not in s
                   and "unevaluatedProperties" not in s for s in schemas):
                _hint(d, HINT_CLOSED)  # (beside patternProperties more names are allowed: not closed)
        variants = None if flat or vlevel <= 0 else self._variants(alts, objects, depth, vlevel)
        if variants is not None:
            d["vk"], d["v"] = variants

    def _properties(self, alts: list[_Alt], objects: int, depth: int, vlevel: int) -> dict[str, Any]:
        order: list[str] = []
        for alt in alts:
            for name in list(_dict(alt.schema.get("properties"), "properties")) + _required(alt.schema):
                if isinstance(name, str) and name not in order:
                    order.append(name)
        props: dict[str, Any] = {}
        for name in order[:MAX_PROPERTIES]:
            required = all(name in _required(alt.schema) for alt in alts)
            children = []
            subs = []
            for alt in alts:
                sub = _dict(alt.schema.get("properties"), "properties").get(name)
                if sub is not None:
                    subs.append(sub)
                    children.extend(self.flatten(sub, alt.refs))
                elif name in _required(alt.schema):
                    children.append(_Alt({}, alt.refs))
            if subs and len(subs) == len(alts) and all(self._left_out(sub) for sub in subs):
                continue  # (`id: {readOnly: true}` of a schema shared by requests and answers, in a request)
            if not children:
                if not required:
                    continue  # a recursion cut: an optional property is simply left out
                children = [_Alt({}, ())]
            props[name] = self.build(children, objects if required else max(objects - 1, 0), depth + 1, vlevel)
        return props

    def _left_out(self, sub: Any) -> bool:
        """Is this property marked as not of this side (`Options.leave_out`)?"""
        marked = self.options.leave_out
        return marked is not None and is_marked(sub, marked, self.refs)

    def _variants(self, alts: list[_Alt], objects: int, depth: int, vlevel: int) -> tuple[str, dict[str, Any]] | None:
        """(discriminator, {tag: variant node}) when each object alternative has its own tag."""
        if len(alts) < 2 or len(alts) > MAX_VARIANTS:
            return None
        for key in _discriminator_candidates(alts):
            tags = [self._tag(alt, key) for alt in alts]
            if any(t is None for t in tags) or len(set(tags)) != len(tags):
                continue
            variants = {}
            for alt, tag in zip(alts, tags):
                schema = dict(alt.schema)
                schema["properties"] = {**_dict(schema.get("properties"), "properties"),
                                        key: {"type": "string", "enum": [tag]}}
                variants[tag] = self.build([_Alt(schema, alt.refs)], objects, depth, vlevel - 1, flat=True)
            return key, variants  # type: ignore[return-value]  # no None among the tags: skipped above
        return None

    def _tag(self, alt: _Alt, key: str) -> str | None:
        """The value naming this alternative on `key`: a const / one-value enum, else the tag the
        discriminator mapping gives it (explicitly, or by the referenced schema's name)."""
        prop = _dict(alt.schema.get("properties"), "properties").get(key)
        if prop is None:
            return None
        flat = self.flatten(prop, alt.refs)
        if len(flat) == 1:
            values = flat[0].schema.get("enum")
            if isinstance(values, list) and len(values) == 1 and isinstance(values[0], str):
                return values[0]
        return alt.disc_tag if alt.disc_key == key else None

    def _array(self, d: dict[str, Any], alts: list[_Alt], arrays: int, depth: int, vlevel: int) -> None:
        lo, hi = math.inf, 0
        children: list[_Alt] = []
        cut = False
        hints = 0
        for alt in alts:
            s = alt.schema
            items = s.get("items", s.get("prefixItems"))
            if isinstance(items, list):  # tuples (draft 4 `items: [..]`, 2020-12 `prefixItems`)
                flat = [a for part in items for a in self.flatten(part, alt.refs)]
            else:
                flat = self.flatten(items, alt.refs) if "items" in s else [_Alt({}, alt.refs)]
            cut = cut or not flat
            children.extend(flat)
            if _int(s.get("minItems"), -1) < 0 or _observed(s, "minItems"):  # not to be exported as a contract
                hints |= HINT_ARR_MIN
            if _int(s.get("maxItems"), -1) < 0 or _observed(s, "maxItems"):
                hints |= HINT_ARR_MAX
            a_lo = _int(s.get("minItems"), 1 if "maxItems" not in s or _int(s.get("maxItems"), 1) > 0 else 0)
            a_hi = _int(s.get("maxItems"), a_lo + DEFAULT_EXTRA_ITEMS)
            lo, hi = min(lo, a_lo), max(hi, a_hi, a_lo)
        lo = 0 if lo is math.inf else int(lo)
        if cut and not children:  # recursion cut: only the empty array is sure to be valid
            d["al"] = [0, 0]
            return
        d["al"] = [lo, max(hi, lo)]
        _hint(d, hints)
        if depth + 1 <= MAX_DEPTH and children:
            d["it"] = self.build(children, arrays, depth + 1, vlevel)


def _product(groups: list[list[_Alt]]) -> list[_Alt]:
    """Every combination of one alternative per group, each merged into one schema (allOf)."""
    out = []
    for combo in itertools.islice(itertools.product(*groups), MAX_ALTERNATIVES):
        merged: dict[str, Any] = {}
        for alt in combo:
            merged = _merge(merged, alt.schema)
        refs = max((alt.refs for alt in combo), key=len)
        tagged = next((alt for alt in combo if alt.disc_key is not None), None)
        out.append(_Alt(merged, refs, *((tagged.disc_key, tagged.disc_tag) if tagged else (None, None))))
    return out


# -- facets -------------------------------------------------------------------------------------------
def _string(d: dict[str, Any], schemas: list[dict[str, Any]]) -> None:
    hints = 0
    enums = [s.get("enum") for s in schemas]
    if all(isinstance(e, list) for e in enums):
        # (all lists: checked just above)
        values = sorted({v for e in enums for v in e if isinstance(v, str)})  # type: ignore[union-attr]
        if len(values) > DECLARED_ENUM_MAX:
            d["eo"] = 1
        elif values:
            d["ev"] = values
            hints |= HINT_DECLARED_ENUM  # a contract, however many values it lists
        else:
            d["eo"] = 1
    elif (observed := _observed_values(schemas)) is not None:
        d["ev"] = observed  # mocks replay them; still open text: no enum, no drift on a new value
        hints |= HINT_OPEN_VALUES
    else:
        d["eo"] = 1  # free text: never an enum, whatever traffic shows
    formats = {_FORMATS.get(f) if isinstance(f := s.get("format"), str) else None for s in schemas}
    d["fm"] = sorted(formats) if len(formats) == 1 and None not in formats else []
    lo = min(_int(s.get("minLength"), 0) for s in schemas)
    hi = max(_int(s.get("maxLength"), max(_int(s.get("minLength"), 0), DEFAULT_MAX_LENGTH)) for s in schemas)
    emitted = d.get("ev")
    if emitted:
        lo, hi = min(lo, min(map(len, emitted))), max(hi, max(map(len, emitted)))
    if any(_int(s.get("minLength"), -1) < 0 or _observed(s, "minLength") for s in schemas):  # never exported
        hints |= HINT_STR_MIN
    if any(_int(s.get("maxLength"), -1) < 0 or _observed(s, "maxLength") for s in schemas):
        hints |= HINT_STR_MAX
    patterns = {s.get("pattern") for s in schemas}
    pattern = patterns.pop() if len(patterns) == 1 and not emitted and not d["fm"] else None
    shape = pattern_shape(pattern) if pattern is not None else None
    if isinstance(pattern, str) and pattern_compiles(pattern):
        d["pt"] = pattern  # mocks generate from it (model/pattern_shape.sample)
    if shape is not None and shape.min_length <= hi and (shape.max_length is None or shape.max_length >= lo):
        d["cc"], d["fc"] = shape.chars, shape.firsts
        if shape.min_length > lo:
            hints &= ~HINT_STR_MIN
        lo = max(lo, shape.min_length)
        if shape.max_length is not None and shape.max_length <= hi:
            hints &= ~HINT_STR_MAX
        hi = min(hi, shape.max_length) if shape.max_length is not None else max(hi, lo)
    d["sl"] = [lo, max(lo, hi)]
    _hint(d, hints)


def _observed_values(schemas: list[dict[str, Any]]) -> list[str] | None:
    """The string values a Mimic export saw at this place (`examples` marked as observed values), when
    every alternative has them; None otherwise."""
    values: set[str] = set()
    for s in schemas:
        examples = s.get("examples")
        if s.get(OBSERVED_VALUES_KEY) is not True or not isinstance(examples, list):
            return None
        values.update(v for v in examples if isinstance(v, str))
    return sorted(values) if values and len(values) <= MAX_ENUM_TRACKED else None


def _observed(schema: dict[str, Any], key: str) -> bool:
    """Whether the schema's `key` bound is one a Mimic export observed, not one a spec declared."""
    return key in schema.get(_OBSERVED_MARK, ())


def _hint(d: dict[str, Any], hints: int) -> None:
    if hints | d.get("h", 0):
        d["h"] = hints | d.get("h", 0)


def _numbers(d: dict[str, Any], schemas: list[dict[str, Any]], integer: bool) -> None:
    """The value range: the union of the alternatives' ranges; a single `const` / `enum` value pins it."""
    los: list[float | None] = []
    his: list[float | None] = []
    step = 1 if integer else _EPSILON
    for s in schemas:
        enum = [v for v in s.get("enum") or () if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if enum:
            los.append(min(enum))
            his.append(max(enum))
            continue
        lo, hi = _num(s.get("minimum")), _num(s.get("maximum"))
        ex_lo, ex_hi = s.get("exclusiveMinimum"), s.get("exclusiveMaximum")
        if ex_lo is True and lo is not None:  # OpenAPI 3.0 / draft 4: a flag on minimum
            lo += step
        elif (ex := _num(ex_lo)) is not None:
            lo = max(lo, ex + step) if lo is not None else ex + step
        if ex_hi is True and hi is not None:
            hi -= step
        elif (ex := _num(ex_hi)) is not None:
            hi = min(hi, ex - step) if hi is not None else ex - step
        los.append(lo)
        his.append(hi)
    lo = None if any(v is None for v in los) else min(los)  # type: ignore[type-var]  # no None in them: checked first
    hi = None if any(v is None for v in his) else max(his)  # type: ignore[type-var]  # no None in them: checked first
    if lo is None and hi is None:
        return
    _hint(d, (HINT_NUM_MIN if lo is None or any(_observed(s, "minimum") for s in schemas) else 0)
          | (HINT_NUM_MAX if hi is None or any(_observed(s, "maximum") for s in schemas) else 0))
    if lo is None:
        lo = 0 if hi >= 0 else hi - DEFAULT_NUMBER_SPAN  # type: ignore[operator]  # not both None: returned above
    if hi is None:
        hi = max(lo, 0) + DEFAULT_NUMBER_SPAN
    if integer:
        lo, hi = math.ceil(lo), math.floor(hi)
    d["nr"] = [lo, max(lo, hi)]


# -- helpers ------------------------------------------------------------------------------------------
def _meaningful(key: str) -> bool:
    return not key.startswith("x-") and key not in (
        "description", "title", "example", "examples", "default", "xml", "externalDocs", "deprecated",
        "readOnly", "writeOnly", "nullable", "$comment", "$schema", "$id", "not", "discriminator")


def _list(value: Any, keyword: str) -> list[Any]:
    if not isinstance(value, list):
        raise SchemaImportError(f"{keyword} must be a list, not {type(value).__name__}")
    return value


def _dict(value: Any, keyword: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SchemaImportError(f"{keyword} must be an object, not {type(value).__name__}")
    return value


def _required(schema: dict[str, Any]) -> list[Any]:
    """The required property names (a malformed `required`, e.g. `true`, requires nothing)."""
    required = schema.get("required")
    return required if isinstance(required, list) else []


def _int(value: Any, default: int) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 else default


def _num(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) else None


def _types(schema: dict[str, Any]) -> set[str] | None:
    """The JSON types a flattened schema allows; None for any value."""
    t = schema.get("type")
    if isinstance(t, str):
        types = {t}
    elif isinstance(t, list) and all(isinstance(x, str) for x in t):
        types = set(t)
    elif t is not None:
        raise SchemaImportError(f"type must be a string or a list of strings, not {t!r}")
    elif "enum" in schema and isinstance(schema["enum"], list):
        types = {_json_type(v) for v in schema["enum"]}
    elif any(k in schema for k in _OBJECT_KEYS):
        types = {"object"}
    elif "items" in schema or "prefixItems" in schema:
        types = {"array"}
    elif any(k in schema for k in _STRING_KEYS):
        types = {"string"}
    elif any(k in schema for k in _NUMBER_KEYS):
        types = {"number"}
    else:
        return None
    unknown = types - set(_CODES)
    if unknown - {"file"}:
        raise SchemaImportError(f"unknown type {sorted(unknown)[0]!r}")
    types.discard("file")  # Swagger 2 uploads: not JSON
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        allowed = {_json_type(v) for v in schema["enum"]}
        if "number" in allowed:
            allowed.add("integer")
        types &= allowed
    return types


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _split(n: int, names: list[str], nullable: bool) -> dict[str, int]:
    """Share `n` observations between the types (a null type gets one, when there are others)."""
    if not names:
        return {"null": n} if nullable else {}
    null = 1 if nullable and n > len(names) else 0
    rest = n - null
    share, extra = divmod(rest, len(names))
    counts = {name: share + (1 if i < extra else 0) for i, name in enumerate(names)}
    counts = {k: c for k, c in counts.items() if c}
    if null:
        counts["null"] = null
    return counts


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """allOf of two flattened schemas, as one schema (simple cases exactly, conflicts: the first wins)."""
    out = dict(a)
    for k, v in b.items():
        if k not in out:
            out[k] = v
            continue
        mine = out[k]
        if k == "properties" and isinstance(mine, dict) and isinstance(v, dict):
            merged = dict(mine)
            for name, sub in v.items():
                merged[name] = {"allOf": [merged[name], sub]} if name in merged else sub
            out[k] = merged
        elif k == "required" and isinstance(mine, list) and isinstance(v, list):
            out[k] = mine + [r for r in v if r not in mine]
        elif k == "type":
            x = {mine} if isinstance(mine, str) else set(mine)
            y = {v} if isinstance(v, str) else set(v)
            both = x & y
            if not both and {"integer", "number"} <= x | y:
                both = {"integer"}  # an integer is a number
            if both:
                out[k] = next(iter(both)) if len(both) == 1 else sorted(both, key=_type_rank)
        elif k == "enum" and isinstance(mine, list) and isinstance(v, list):
            common = [x for x in mine if x in v]
            if common:
                out[k] = common
        elif k in ("minimum", "minLength", "minItems", "minProperties") and _num(mine) is not None and _num(v) is not None:
            out[k] = max(mine, v)
        elif k in ("maximum", "maxLength", "maxItems", "maxProperties") and _num(mine) is not None and _num(v) is not None:
            out[k] = min(mine, v)
        elif k == "items" and isinstance(mine, dict) and isinstance(v, dict):
            out[k] = {"allOf": [mine, v]}
        elif k == "additionalProperties":
            if mine is False or v is False:
                out[k] = False
            elif isinstance(mine, dict) and isinstance(v, dict):
                out[k] = {"allOf": [mine, v]}
    return out


def _type_rank(name: str) -> int:
    return (_ORDER + ("null",)).index(name) if name in _ORDER or name == "null" else 99


def _discriminator_candidates(alts: list[_Alt]) -> list[str]:
    """Properties that may tag the alternatives: the declared discriminator first (when a learner
    could track it: one of `schema.DISCRIMINATORS`), then the others by their priority."""
    declared = next((alt.disc_key for alt in alts if alt.disc_key is not None), None)
    keys = [declared] if declared in DISCRIMINATORS else []
    return keys + [k for k in DISCRIMINATORS if k not in keys]

"""What an export states as a contract, out of what was observed.

A learned schema (`SchemaNode.to_json_schema`) describes the traffic seen: `minimum`/`maximum` are
the smallest and largest numbers seen, `maxLength` the longest string, a word seen three times an
`enum`. Mocks and the drift watchdog want exactly that; a client generated from an exported
contract does not (`state: enum ["open"]` rejects the first closed issue). So the exports say less:

- an `enum` only for a closed set the evidence supports: at least ENUM_MIN_VALUES distinct values
  and at least ENUM_MIN_SAMPLES strings, ENUM_SAMPLES_PER_VALUE per value on average (or an enum an
  imported spec declared). Other observed values stay `examples` marked `x-mimic-observed-values`,
  which `mimic import openapi` restores as values for mocks to replay;
- no bounds taken from samples (`minimum`, `maximum`, `minLength`, `maxLength`, `minItems`,
  `maxItems`) as keywords, except on an endpoint imported from a spec, whose bounds were declared.
  They are kept under the `x-mimic-observed-bounds` annotation, which `mimic import openapi` reads
  back as the range mocks stay within (never as a contract, so never exported as one).

The learned model is not changed: only what the export writes.
"""
from __future__ import annotations

from typing import Any

from .from_jsonschema import OBSERVED_BOUNDS, OBSERVED_BOUNDS_KEY
from .schema import HINT_DECLARED_ENUM, MAX_EXAMPLES, OBSERVED_VALUES_KEY, SchemaNode

ENUM_MIN_VALUES = 2
ENUM_MIN_SAMPLES = 20
ENUM_SAMPLES_PER_VALUE = 5


def schema_of(node: SchemaNode, declared: bool = False) -> dict[str, Any]:
    """The contract schema of a learned node; `declared`: its bounds come from an imported spec."""
    return _contract(node, node.to_json_schema(), declared)


def closed_set(node: SchemaNode) -> bool:
    """Whether the node's string values are evidence of a closed set (an enum)."""
    if node.hints & HINT_DECLARED_ENUM:
        return True
    values = node.enum_values() or []
    strings = node.type_counts().get("string", 0)
    return (len(values) >= ENUM_MIN_VALUES
            and strings >= max(ENUM_MIN_SAMPLES, ENUM_SAMPLES_PER_VALUE * len(values)))


def _contract(node: SchemaNode | None, schema: Any, declared: bool) -> Any:
    if node is None or not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if not declared:
        bounds = {key: out.pop(key) for key in OBSERVED_BOUNDS if key in out}
        if bounds:
            out[OBSERVED_BOUNDS_KEY] = bounds
    if "enum" in out and not closed_set(node):
        values = [v for v in out.pop("enum") if v is not None]
        out["examples"] = values[:MAX_EXAMPLES]
        out[OBSERVED_VALUES_KEY] = True
    props = node.properties()
    if isinstance(out.get("properties"), dict) and props:
        out["properties"] = {k: _contract(props.get(k), v, declared) for k, v in out["properties"].items()}
    if "items" in out:
        out["items"] = _contract(node.item_node, out["items"], declared)
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = _contract(node.additional, out["additionalProperties"], declared)
    variants = node.active_variants() if isinstance(out.get("oneOf"), list) else None
    if variants:
        branches = list(out["oneOf"])
        for i, (_, variant) in enumerate(variants):
            branches[i] = _contract(variant, branches[i], declared)
        out["oneOf"] = branches
    return out

"""Kin: objects of the same kind elsewhere in the API's answers, as evidence for an optional place.

A field present in every one of the few objects one endpoint showed looks required, and its
absence from the next answers like a removal. But an API's documents reuse their objects: the
object held under a field of one name (`owner`, `shipping`) is, as a rule, the same kind of object
wherever it appears, in this endpoint's answers and in the other endpoints' of the host. When the
same-named objects elsewhere, with (mostly) the same keys, already went without the field (or had it
null), the API's own answers show the place is optional (nullable): its absence here is no news.

Pure: the candidate change, the schema it was judged against and the host's other learned response
schemas in; the change as the pooled evidence weighs it out. Only places inside a named object are
concerned: a top-level object (or a top-level list's items) has no name to find its kin by.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from ..model.schema import TYPE_NAMES, SchemaNode
from .drift import ALMOST_ALWAYS, Change, grade_of

KIN_KINDS = ("missing_field", "null_value")
MAX_NODES_VISITED = 100_000  # per answer, over all its changes about to alert: bounded work
_NULL_SLOT, _OBJ_SLOT = TYPE_NAMES.index("null"), TYPE_NAMES.index("object")
_SEGMENT = re.compile(r"\.([^.\[\]]+)|(\[\])")


def _segments(path: str) -> list[str] | None:
    """`$.a[].b` -> ["a", "[]", "b"]; None when the path cannot be read back unambiguously."""
    if not path.startswith("$"):
        return None
    rest = path[1:]
    parts = [m.group(1) or m.group(2) for m in _SEGMENT.finditer(rest)]
    return parts if "".join(p if p == "[]" else "." + p for p in parts) == rest else None


def _place(root: SchemaNode, parts: list[str]) -> SchemaNode | None:
    node: SchemaNode | None = root
    for part in parts:
        if node is None:
            return None
        node = node.items if part == "[]" else (node.props or {}).get(part)
    return node


def _objects(node: SchemaNode) -> int:
    return node.types[_OBJ_SLOT] - node.empty


def _named(roots: Iterable[SchemaNode], name: str, budget: list[int]):
    """Every object node held under a field called `name` (or the items of a list so called).
    Every node met counts against `budget`; only those holding others are gone into."""
    stack = list(roots)
    budget[0] -= len(stack)
    while stack and budget[0] > 0:
        node = stack.pop()
        if (items := node.items) is not None:
            budget[0] -= 1
            if items.props or items.items is not None:
                stack.append(items)
        props = node.props
        if not props:
            continue
        budget[0] -= len(props)
        for key, child in props.items():
            if key == name:
                held = child if child.props else child.items
                if held is not None and held.props:
                    yield held
            if child.props or child.items is not None:
                stack.append(child)


def _alike(keys: set[str], other: SchemaNode) -> bool:
    """The same kind of object: at least half of the keys either had are keys both had."""
    assert other.props is not None  # `_named` yields only objects with properties
    theirs = other.props.keys()
    both = len(keys & theirs)
    return 2 * both >= len(keys | theirs)


def weigh_with_kin(change: Change, root: SchemaNode, roots: Iterable[SchemaNode],
                   budget: list[int] | None = None) -> Change | None:
    """`change` (a field missing or null that never was before) weighed with its kin's evidence:
    unchanged when no kin of its object went without it (or had it null); None when they did often
    (an optional place: nothing to report); else the change with the kin's deviations as its
    exceptions, one label lower if they deviated more than once, as for a field almost always present
    (`drift.py`). `budget`: the schema nodes still to visit, shared by the changes of one answer
    (MAX_NODES_VISITED if None)."""
    if change.kind not in KIN_KINDS or change.exceptions:
        return change
    parts = _segments(change.path)
    if not parts or len(parts) < 2 or parts[-1] == "[]":
        return change
    field, holder = parts[-1], parts[:-1]
    names = [p for p in holder if p != "[]"]
    if not names:  # a top-level object: no name to know its kind by
        return change
    mine = _place(root, holder)
    if mine is None or not mine.props or field not in mine.props:
        return change
    keys = set(mine.props)
    seen, deviated = change.seen, 0
    if budget is None:
        budget = [MAX_NODES_VISITED]
    for other in _named(roots, names[-1], budget):
        if other is mine or field not in other.props or not _alike(keys, other):
            continue
        child = other.props[field]
        if change.kind == "missing_field":
            objects = _objects(other)
            seen += objects
            deviated += max(0, objects - child.count)
        else:
            seen += child.count
            deviated += child.types[_NULL_SLOT]
    if not deviated:
        return change
    if deviated > (1 - ALMOST_ALWAYS) * seen:
        return None
    return Change(change.path, change.kind, change.expected, change.actual, change.example, seen, deviated,
                  change.confidence, grade=grade_of(deviated))

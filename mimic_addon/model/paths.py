"""Learn path templates (`/users/42` -> `/users/{user_id}`) from the traffic of one host.

A prefix tree of path segments, shared by all methods of a host. Each node has literal
children and at most one parameter child. A segment becomes a parameter value when

* a detector recognises it as a value (number, UUID, hash, prefixed id, token, date, e-mail), or
* it *echoes*: the same string appears as a value in the request or response body
  (`GET /users/alice` answers `{"login": "alice"}`) -- names in paths are values when the API
  talks about them, while literals (`/user/login`, `/chat.postMessage`) are not echoed, or
* its position already holds a parameter and the request looks like the parameter's other
  requests (same operation, same kind of body), or
* its siblings form a family: several non-leaf children under one parent that lead to the same
  literal continuation (`/checkpoints/a/permissions`, `/checkpoints/b/permissions`, ...) with the
  same shape of answer.

A segment stays literal when its answers look different from the parameter's (a list where the
parameter answers an object, other query parameters, another operation). When a parameter is
discovered late, earlier literal children are folded into it (`regroup`) and the caller is told
which templates moved, so it can merge what it learned about them.

Templates are handled in two forms: a *skeleton* with anonymous `{}` (stable keys for storage)
and a display form with names (`{user_id}`) computed from the evidence.
"""
from __future__ import annotations

import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator

from . import segments as seg

PARAM = "{}"
MAX_SEGMENTS = 32
MAX_LITERALS = 400          # literal children per node before the rest is folded into a parameter
MAX_SHAPE_KEYS = 64         # shape tokens remembered per (operation, suffix)
MAX_SHAPES = 48             # distinct (operation, suffix) keys remembered per node
SIMILAR = 0.5               # Jaccard similarity of shapes that counts as "the same kind of answer"
FAMILY_MIN = 3              # non-leaf siblings with one continuation that make a parameter
ECHO_MIN = 2                # echoed sightings before a segment alone counts as a value
ECHOING = 0.8               # share of a parameter's answers echoing its value that makes it "echoing"
ECHOING_MIN = 5             # ... once it has at least this many informative sightings
GENERIC_ECHO_KEYS = frozenset({"id", "name", "slug", "key", "value", "code", "title", "url", "href", "type"})


@dataclass(frozen=True, slots=True)
class Shape:
    """What one exchange looked like, reduced to tokens compared between sibling segments.

    `tokens` is empty when the exchange tells nothing (an error status, no body): such a segment
    is compatible with anything.
    """

    tokens: frozenset[str] = frozenset()


UNKNOWN = Shape()


@dataclass(slots=True)
class Node:
    literals: dict[str, Node] = field(default_factory=dict)
    param: Node | None = None
    count: int = 0
    ends: Counter = field(default_factory=Counter)          # method -> requests ending here
    shapes: dict[str, set[str]] = field(default_factory=dict)  # "METHOD suffix" -> tokens
    evidence: int = 0                                        # detector hits (literal nodes)
    echoes: int = 0                                          # echoed in a body (literal nodes)
    informative: int = 0                                     # sightings whose body could echo
    kinds: Counter = field(default_factory=Counter)          # segment kinds (parameter nodes)
    echo_keys: Counter = field(default_factory=Counter)      # body keys that echoed the value
    declared: str | None = None  # from an imported spec: a parameter's name, or a literal's own value

    # -- recording -----------------------------------------------------------------------
    def record(self, key: str, shape: Shape) -> None:
        self.count += 1
        if not shape.tokens:
            return
        known = self.shapes.get(key)
        if known is None:
            if len(self.shapes) >= MAX_SHAPES:
                return
            known = self.shapes[key] = set()
        if len(known) < MAX_SHAPE_KEYS:
            known.update(shape.tokens)

    def merge(self, other: Node) -> None:
        """Fold `other` (a subtree) into this one."""
        self.count += other.count
        self.ends.update(other.ends)
        self.evidence += other.evidence
        self.echoes += other.echoes
        self.informative += other.informative
        self.kinds.update(other.kinds)
        self.echo_keys.update(other.echo_keys)
        if self.declared is None:
            self.declared = other.declared
        for key, tokens in other.shapes.items():
            mine = self.shapes.setdefault(key, set()) if len(self.shapes) < MAX_SHAPES or key in self.shapes else None
            if mine is not None and len(mine) < MAX_SHAPE_KEYS:
                mine.update(tokens)
        for value, child in other.literals.items():
            if value in self.literals:
                self.literals[value].merge(child)
            elif self.param is not None and not _keeps_literal(child, self.param):
                self.param.merge(child)
            else:
                self.literals[value] = child
        if other.param is not None:
            if self.param is None:
                self.param = other.param
            else:
                self.param.merge(other.param)

    # -- persistence -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        d: dict = {"n": self.count}
        if self.ends:
            d["e"] = dict(self.ends)
        if self.shapes:
            d["s"] = {k: sorted(v) for k, v in self.shapes.items()}
        if self.evidence:
            d["v"] = self.evidence
        if self.echoes:
            d["o"] = self.echoes
        if self.informative:
            d["i"] = self.informative
        if self.kinds:
            d["k"] = dict(self.kinds)
        if self.echo_keys:
            d["x"] = dict(self.echo_keys.most_common(8))
        if self.declared is not None:
            d["d"] = self.declared
        if self.literals:
            d["l"] = {k: c.to_dict() for k, c in self.literals.items()}
        if self.param is not None:
            d["p"] = self.param.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Node:
        node = cls(count=d.get("n", 0), evidence=d.get("v", 0), echoes=d.get("o", 0), informative=d.get("i", 0),
                   declared=d.get("d"))
        node.ends.update(d.get("e", {}))
        node.shapes = {k: set(v) for k, v in d.get("s", {}).items()}
        node.kinds.update(d.get("k", {}))
        node.echo_keys.update(d.get("x", {}))
        node.literals = {k: cls.from_dict(c) for k, c in d.get("l", {}).items()}
        if "p" in d:
            node.param = cls.from_dict(d["p"])
        return node

    @property
    def echoing(self) -> bool:
        """A parameter whose values nearly always come back in the body (`GET /users/42` -> `"id": 42`)."""
        return self.informative >= ECHOING_MIN and self.echoes >= ECHOING * self.informative

    @property
    def value_like(self) -> bool:
        """Detected as a value, or echoed by most of the answers that could echo it."""
        return self.evidence > 0 or (self.echoes >= ECHO_MIN and 2 * self.echoes >= self.informative)


def similarity(a: dict[str, set[str]], b: dict[str, set[str]]) -> float | None:
    """Mean Jaccard similarity over the operations both have; None when they share none."""
    common = a.keys() & b.keys()
    if not common:
        return None
    total = 0.0
    for key in common:
        x, y = a[key], b[key]
        total += len(x & y) / len(x | y) if x or y else 1.0
    return total / len(common)


def _keeps_literal(child: Node, param: Node) -> bool:
    """Should a segment without value evidence stay literal beside this parameter?"""
    if child.declared is not None:
        return True  # an imported spec has it
    if child.value_like:
        return False
    if not child.shapes:
        return False  # nothing but errors seen: no reason to believe it is a different resource
    sim = similarity(child.shapes, param.shapes)
    return sim is None or sim < SIMILAR


_WIRE_SAFE = "-._~!$&'()*+,;=:@"


def wire(value: str) -> str:
    """A literal segment as it goes on the wire (`{` in traffic must never read as a parameter)."""
    return urllib.parse.quote(value, safe=_WIRE_SAFE)


def _is_version(value: str) -> bool:
    return seg.classify(value) == seg.VERSION


def split_path(path: str) -> list[str]:
    """`/a/b/` -> ['a', 'b', '']; at most MAX_SEGMENTS (the tail is kept as one segment)."""
    parts = path.split("?", 1)[0].split("/")[1:] if path.startswith("/") else path.split("/")
    if len(parts) > MAX_SEGMENTS:
        parts = parts[: MAX_SEGMENTS - 1] + ["/".join(parts[MAX_SEGMENTS - 1 :])]
    return parts


def _unique(name: str, taken: set[str]) -> str:
    unique, n = name, 2
    while unique in taken:
        unique, n = f"{name}{n}", n + 1
    return unique


def skeleton_of(parts: list[str]) -> str:
    return "/" + "/".join(parts)


def _suffix(masked: list[str], start: int) -> str:
    """The (masked) path after position `start`: the context a segment is learned in."""
    return "/" + "/".join(masked[start:]) if start < len(masked) else ""


@dataclass(slots=True)
class Learned:
    """Result of learning one path: its skeleton, and whether templates were re-grouped on the way."""

    skeleton: str
    moved: bool = False


class PathTree:
    """The path templates of one host."""

    def __init__(self, root: Node | None = None) -> None:
        self.root = root or Node()

    # -- learning ----------------------------------------------------------------------------
    def learn(self, method: str, parts: list[str], echo: dict[str, str], shape: Shape) -> Learned:
        """Record one request (already split, percent-decoded) and return its skeleton.

        `echo` maps string values found in the request/response bodies to the key they were under.
        """
        node = self.root
        out: list[str] = []
        touched: list[Node] = []
        n = len(parts)
        kinds = [seg.classify(value) for value in parts]
        masked = self._masked(parts, kinds, echo)
        for i, value in enumerate(parts):
            key = method + " " + _suffix(masked, i + 1)
            kind = kinds[i]
            echoed = echo.get(value) if kind != seg.VERSION else None
            chance = bool(shape.tokens) and bool(echo)  # a body that could have named the value
            evidence = kind != seg.VERSION and (seg.is_strong(kind) or (echoed is not None and len(value) >= 3))
            child = node.literals.get(value)
            if child is not None:
                out.append(value)
            elif node.param is not None and (node.param.declared is not None or kind != seg.VERSION and (
                    evidence or self._fits(node.param, key, shape, chance))):
                child = node.param
                out.append(PARAM)
            else:
                child = node.literals[value] = Node()
                out.append(value)
                touched.append(node)
            if chance:
                child.informative += 1
            if child is node.param:
                child.kinds[kind] += 1
                if echoed is not None and chance:
                    child.echoes += 1
                    child.echo_keys[echoed] += 1
            elif evidence and node.param is not None and node not in touched:
                touched.append(node)  # a literal beside a parameter showed evidence: reconsider it
            child.record(key, shape)
            if child is not node.param and evidence:
                was = child.value_like
                if seg.is_strong(kind):
                    child.evidence += 1
                else:
                    child.echoes += 1
                child.kinds[kind] += 1
                if echoed:
                    child.echo_keys[echoed] += 1
                if not was and child.value_like and node not in touched:
                    touched.append(node)
            if i == n - 1:
                child.ends[method] += 1
            node = child
        moved = False
        for parent in touched:
            if self._regroup(parent):
                moved = True
        if moved:
            return Learned(self.match(method, parts) or skeleton_of(out), True)
        return Learned(skeleton_of(out))

    @staticmethod
    def _masked(parts: list[str], kinds: list[str], echo: dict[str, str]) -> list[str]:
        """`parts` with value-like segments (strong kinds or echoed in a body) replaced by PARAM."""
        return [PARAM if seg.is_strong(kind) or value in echo else value for value, kind in zip(parts, kinds)]

    @staticmethod
    def _fits(param: Node, key: str, shape: Shape, chance: bool) -> bool:
        """Does an unremarkable value (no detector, no echo) look like the parameter's others?"""
        if not shape.tokens:
            return True
        if param.echoing and chance:
            return False  # its siblings name themselves in such answers; this one did not
        known = param.shapes.get(key)
        if not known:
            return False
        return len(known & shape.tokens) / len(known | shape.tokens) >= SIMILAR

    def _regroup(self, node: Node) -> bool:
        """Create or grow the parameter of `node` from its literal children. True if anything moved."""
        if node.param is not None:  # beside a parameter, any evidence is enough
            movers = [v for v, c in node.literals.items() if (c.evidence or c.echoes) and c.declared is None]
        else:
            movers = [v for v, c in node.literals.items() if c.value_like and c.declared is None]
            if len(movers) == 1 and not node.literals[movers[0]].evidence:
                movers = []  # one echoing value is a coincidence (`GET /gzip` -> `"encoding": "gzip"`), two a pattern
        if node.param is None and not movers:
            movers = self._family(node)
            if not movers and len(node.literals) > MAX_LITERALS:
                movers = [v for v, c in sorted(node.literals.items(), key=lambda kv: kv[1].count)
                          if c.declared is None][: len(node.literals) - MAX_LITERALS // 2]
        if not movers and node.param is None:
            return False
        param = node.param or Node()
        for v in movers:
            param.merge(node.literals.pop(v))
        # literals without evidence that look like the parameter's requests join it -- except a
        # lone word beside values that name themselves (`/users/me` beside `/users/42` -> "id": 42)
        alike = [v for v, c in node.literals.items() if not _keeps_literal(c, param) and not _is_version(v)]
        if param.echoing and len(alike) == 1 and node.literals[alike[0]].informative:
            alike = []
        for v in alike:
            param.merge(node.literals.pop(v))
            movers.append(v)
        node.param = param
        return bool(movers)

    @staticmethod
    def _family(node: Node) -> list[str]:
        """Non-leaf siblings without parameters of their own that continue the same way."""
        groups: dict[frozenset[str], list[str]] = {}
        for v, c in node.literals.items():
            if c.declared is not None or _is_version(v) or c.param is not None or c.ends or not c.literals or any(g.value_like for g in c.literals.values()):
                continue
            if "" in c.literals and c.literals[""].ends:
                continue  # `/things/` answers by itself: a collection, not a value
            cont = frozenset(k for k in c.literals if k)
            if cont:
                groups.setdefault(cont, []).append(v)
        best = max(groups.values(), key=len, default=[])
        if len(best) < FAMILY_MIN:
            return []
        base = node.literals[best[0]].shapes
        alike = [v for v in best if (s := similarity(node.literals[v].shapes, base)) is None or s >= SIMILAR]
        return alike if len(alike) >= FAMILY_MIN else []

    # -- lookup ----------------------------------------------------------------------------
    def known(self, method: str, parts: list[str]) -> str | None:
        """Skeleton of a path that holds nothing new: every segment is a known literal or a detected
        value at a parameter, and the endpoint exists. None means "learn it properly"."""
        node = self.root
        out: list[str] = []
        for value in parts:
            child = node.literals.get(value)
            if child is not None:
                out.append(value)
            elif node.param is not None and (node.param.declared is not None or seg.is_strong(seg.classify(value))):
                child = node.param
                out.append(PARAM)
            else:
                return None
            node = child
        return skeleton_of(out) if method in node.ends else None

    def match(self, method: str | None, parts: list[str]) -> str | None:
        """Skeleton for a concrete path (or a skeleton's parts), literal segments first."""
        out: list[str] = []

        def walk(node: Node, i: int) -> bool:
            if i == len(parts):
                return method is None or method in node.ends
            value = parts[i]
            if value != PARAM:
                child = node.literals.get(value)
                if child is not None:
                    out.append(value)
                    if walk(child, i + 1):
                        return True
                    out.pop()
            if node.param is not None:
                out.append(PARAM)
                if walk(node.param, i + 1):
                    return True
                out.pop()
            return False

        return skeleton_of(out) if walk(self.root, 0) else None

    def templates(self) -> Iterator[tuple[str, str, str]]:
        """(method, skeleton, named template) of every learned endpoint."""
        def walk(node: Node, parts: list[str], names: list[str]) -> Iterator[tuple[str, str, str]]:
            for method in sorted(node.ends):
                yield method, skeleton_of(parts), skeleton_of(names)
            for v in sorted(node.literals):
                yield from walk(node.literals[v], parts + [v], names + [wire(v)])
            if node.param is not None:
                name = self._name(node.param, names)
                yield from walk(node.param, parts + [PARAM], names + ["{" + name + "}"])

        yield from walk(self.root, [], [])

    def named(self, skeleton: str) -> str:
        """Display form of a skeleton: `/users/{}` -> `/users/{user_id}`."""
        node = self.root
        names: list[str] = []
        for value in split_path(skeleton):
            if value == PARAM and node is not None and node.param is not None:
                names.append("{" + self._name(node.param, names) + "}")
                node = node.param
            else:
                names.append(wire(value))
                node = node.literals.get(value) if node is not None else None
        return skeleton_of(names)

    @staticmethod
    def _name(param: Node, before: list[str]) -> str:
        taken = {b[1:-1] for b in before if b.startswith("{")}
        if param.declared:
            return _unique(param.declared, taken)
        prev = urllib.parse.unquote(next((b for b in reversed(before) if b and not b.startswith("{")), ""))
        base = seg.identifier(seg.singular(prev)) if prev and seg.classify(prev) in (seg.WORD, seg.SLUG) else ""
        kinds = param.kinds
        top_kind = kinds.most_common(1)[0][0] if kinds else seg.WORD
        specific = [k for k, _ in param.echo_keys.most_common() if k.lower() not in GENERIC_ECHO_KEYS]
        if kinds.get(seg.INT, 0) + kinds.get(seg.UUID, 0) + kinds.get(seg.PREFIXED, 0) >= sum(kinds.values()) / 2:
            name = f"{base}_id" if base else "id"
        elif top_kind == seg.HEX:
            name = f"{base}_hash" if base else "hash"
        elif top_kind == seg.TOKEN:
            name = f"{base}_token" if base else "token"
        elif specific and seg.identifier(specific[0]):
            name = seg.identifier(specific[0])
        elif top_kind == seg.SLUG:
            name = f"{base}_slug" if base else "slug"
        else:
            name = f"{base}_name" if base else "name"
        return _unique(name, taken)

    # -- templates from a specification --------------------------------------------------------
    def declare(self, method: str, parts: list[str], names: list[str | None]) -> str:
        """Put one template of an imported spec into the tree and return its skeleton: `parts` are its
        segments (PARAM for a parameter), `names` the parameter names (None for literals). Declared
        nodes are kept as the spec says: a declared parameter takes every value no literal claims
        and keeps its name; a declared literal is never folded into a parameter. Call
        `fold_declared` once every template is declared."""
        node = self.root
        for value, name in zip(parts, names):
            if value == PARAM:
                if node.param is None:
                    node.param = Node()
                node = node.param
                if node.declared is None:
                    node.declared = name or "param"
            else:
                node = node.literals.setdefault(value, Node())
                node.declared = value
        node.ends[method] += 0  # an endpoint, not seen yet
        return skeleton_of(parts)

    def fold_declared(self) -> bool:
        """Fold literals learned from traffic (not declared) into the declared parameter beside them
        (`/users/alice` into a declared `/users/{username}`). True if anything moved."""
        moved = False
        stack = [self.root]
        while stack:
            node = stack.pop()
            param = node.param
            if param is not None and param.declared is not None:
                for v in [v for v, c in node.literals.items() if c.declared is None]:
                    param.merge(node.literals.pop(v))
                    moved = True
            stack.extend(node.literals.values())
            if param is not None:
                stack.append(param)
        return moved

    # -- persistence ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return self.root.to_dict()

    @classmethod
    def from_dict(cls, d: dict) -> PathTree:
        return cls(Node.from_dict(d))

"""Path templates (`/users/42` -> `/users/{user_id}`) of one host: the tree and its online part.

A prefix tree of path segments, shared by all methods of a host. Each node has literal
children and at most one parameter child. Learning a request (`PathTree.learn`) is cheap and
only takes the decisions that need no context:

* a position becomes a parameter once it has held two distinct values that a detector
  recognises (number, UUID, hash, prefixed id, token, date, e-mail); one is enough where no
  API would use the value as a fixed name (a UUID, hash, prefixed id, token, e-mail, or a number
  of three digits or more), while a date or a small number alone is a literal however often seen
  (`/2010-04-01/`, `/1/boards`);
* a recognised value joins the parameter of its position.

Everything that needs the whole traffic -- names used as ids, two parameters in a row,
collections that must stay apart -- is decided by `consolidate.consolidate`, which the Brain
runs at fixed observation counts, so the same flows always give the same templates. Nodes
keep what that pass weighs: counts, methods, echoes of the value in bodies, and the shape of
the answers at each endpoint.

Templates are handled in two forms: a *skeleton* with anonymous `{}` (stable keys for storage)
and a display form with names (`{user_id}`) computed from the evidence. A parameter that takes
the rest of the path, slashes and all (a file's path: `/files/{+file_path}`), is `{+}` in a
skeleton; only the consolidation makes one (`consolidate`).
"""
from __future__ import annotations

import re
import urllib.parse
import zlib
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterator, Sequence

from . import segments as seg

PARAM = "{}"
TAIL = "{+}"  # a parameter taking the rest of the path, slashes and all (RFC 6570's `{+path}`)
MULTI_SEGMENT = "x-multi-segment"  # how an OpenAPI document marks such a parameter (an extension)
MAX_SEGMENTS = 32
MAX_LITERALS = 400          # literal children per node before the rest is folded into a parameter
MAX_NODES = 20_000          # nodes per host's tree: beyond, new names go to their position's parameter
                            # (created if need be, so a tree holds at most twice this)
MAX_ROUTES = 8              # skeletons `PathTree.routes` lists for one path
RECOUNT_EVERY = 1024        # requests turned away by a full tree between two counts of its nodes
MAX_SHAPE_KEYS = 128        # shape tokens remembered per endpoint method
MAX_SHAPES = 48             # distinct shape keys remembered per node
ECHO_MIN = 2                # echoed sightings before a segment alone counts as a value
SERIAL_DIGITS = 3           # a number this long is an id even alone: no API numbers its versions so high
MAX_CONTEXTS = 4            # distinct preceding segments remembered per node (1 vs several is what counts)
ECHOING = 0.8               # share of a parameter's answers echoing its value that makes it "echoing"
ECHOING_MIN = 5             # ... once it has at least this many informative sightings
# keys whose value names a resource's kind (`"type": "builds"`, GraphQL's `__typename`): a path
# segment found there is a collection's name, not a value
KIND_KEYS = frozenset({"type", "kind", "object", "resource", "resourcetype", "@type", "__typename", "_type"})
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
    contexts: set[int] = field(default_factory=set)          # checksums of the segments seen before it
    words: bool = False     # a parameter that took plain words as values (names used as ids)
    tail: bool = False      # a parameter taking the rest of the path (TAIL): it has no children
    ext: str | None = None  # file extension of every value ending a path here (`.json`), "" if they differ
    declared: str | None = None  # from an imported spec: a parameter's name, or a literal's own value

    # -- recording -----------------------------------------------------------------------
    def record(self, key: str, shape: Shape) -> None:
        """Remember the answer's shape under `key` ("METHOD " at an endpoint's node)."""
        if not shape.tokens:
            return
        known = self.shapes.get(key)
        if known is None:
            if len(self.shapes) >= MAX_SHAPES:
                return
            known = self.shapes[key] = set()
        if len(known) < MAX_SHAPE_KEYS:
            known.update(shape.tokens)

    def merge(self, other: Node, adopt: bool = True) -> None:
        """Fold `other` (a subtree) into this one. Its nodes this one lacks are adopted as they are,
        or copied (`adopt=False`: `other` stays apart, without a deep copy of what is merged)."""
        self.count += other.count
        _add_counts(self.ends, other.ends)
        self.evidence += other.evidence
        self.echoes += other.echoes
        self.informative += other.informative
        _add_counts(self.kinds, other.kinds)
        _add_counts(self.echo_keys, other.echo_keys)
        self.add_contexts(other.contexts)
        self.note_ext(other.ext)
        self.words |= other.words
        self.tail |= other.tail
        if self.declared is None:
            self.declared = other.declared
        self._add_shapes(other.shapes)
        if self.tail:  # what lay below either is the rest of a path: its endpoints end here
            self.absorb(self)
            self.absorb(other)
            return
        if other.param is not None:
            if self.param is None:
                self.param = other.param if adopt else other.param.copy()
            else:
                self.param.merge(other.param, adopt)
        for value, child in other.literals.items():
            if value in self.literals:
                self.literals[value].merge(child, adopt)
            elif self.param is not None and child.evidence and child.declared is None:
                self.param.merge(child, adopt)  # a detected value beside a parameter is one of its values
            else:
                self.literals[value] = child if adopt else child.copy()

    def _add_shapes(self, shapes: dict[str, set[str]]) -> None:
        for key, tokens in shapes.items():
            mine = self.shapes.setdefault(key, set()) if len(self.shapes) < MAX_SHAPES or key in self.shapes else None
            if mine is not None and len(mine) < MAX_SHAPE_KEYS:
                mine.update(tokens)

    def absorb(self, sub: Node) -> None:
        """Make this node a parameter taking the rest of the path (TAIL) and fold what lies below
        `sub` (its children, not `sub` itself) into it: their endpoints end here now."""
        self.tail = True
        below = list(sub.literals.values()) + ([sub.param] if sub.param is not None else [])
        if sub is self:
            self.literals, self.param = {}, None
        for child in below:
            for node in child.walk():
                _add_counts(self.ends, node.ends)
                self._add_shapes(node.shapes)

    def note_ext(self, ext: str | None) -> None:
        if ext is not None and self.ext != "":
            self.ext = ext if self.ext is None or self.ext == ext else ""

    def copy(self) -> Node:
        """A deep copy of this subtree."""
        twin = Node(count=self.count, evidence=self.evidence, echoes=self.echoes, informative=self.informative,
                    declared=self.declared, words=self.words, tail=self.tail, ext=self.ext)
        # dict.update skips Counter.update's counting path: copies are the consolidation's hot loop
        if self.ends:
            dict.update(twin.ends, self.ends)
        if self.kinds:
            dict.update(twin.kinds, self.kinds)
        if self.echo_keys:
            dict.update(twin.echo_keys, self.echo_keys)
        twin.contexts = set(self.contexts)
        twin.shapes = {k: set(v) for k, v in self.shapes.items()}
        twin.literals = {k: c.copy() for k, c in self.literals.items()}
        if self.param is not None:
            twin.param = self.param.copy()
        return twin

    def walk(self) -> Iterator[Node]:
        """Every node of this subtree. A node's children are taken after it is yielded, so the
        caller may fold them first."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(node.literals.values())
            if node.param is not None:
                stack.append(node.param)

    def add_contexts(self, contexts: set[int]) -> None:
        for c in contexts:
            if len(self.contexts) >= MAX_CONTEXTS:
                return
            self.contexts.add(c)

    @property
    def recurring(self) -> bool:
        """Seen after several different segments (`/cards/a1/list`, `/cards/b2/list`): a name the API
        uses under each of its resources, where a value (`/repos/alice/blog`) belongs to one."""
        return len(self.contexts) > 1

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
        if self.contexts:
            d["c"] = sorted(self.contexts)
        if self.ext is not None:
            d["t"] = self.ext
        if self.words:
            d["w"] = 1
        if self.tail:
            d["r"] = 1
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
        node.contexts = set(d.get("c", ()))
        node.ext = d.get("t")
        node.words = bool(d.get("w"))
        node.tail = bool(d.get("r"))
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


_MATRIX = re.compile(r";[^;=/]*=[^/]*$")  # `;key=value` and all that follows in the segment
_WIRE_SAFE = "-._~!$&'()*+,;=:@"


def wire(value: str) -> str:
    """A literal segment as it goes on the wire (`{` in traffic must never read as a parameter)."""
    return urllib.parse.quote(value, safe=_WIRE_SAFE)


_EXT = re.compile(r".(\.[A-Za-z][A-Za-z0-9]{0,4})")


def extension(value: str) -> str:
    """`RE12ab.json` -> `.json`: a parameter whose values all end so is rendered `{sid}.json`."""
    m = _EXT.search(value) if "." in value else None
    return m.group(1) if m is not None and m.end() == len(value) else ""


def _unmistakable(value: str, node: Node) -> bool:
    """Values no API uses as a fixed name (UUIDs, hashes, prefixed ids, tokens, e-mails, numbers of
    three digits or more): one is enough to make a parameter. Dates and small numbers need a second
    value: API versions (`/1/`, `/v2/`) and release dates (`/2010-04-01/`) are fixed names."""
    if not node.kinds:
        return False
    if all(k in seg.UNMISTAKABLE for k in node.kinds):
        return True
    return kind_of(value) == seg.INT and sum(c.isdigit() for c in value) >= SERIAL_DIGITS


def _continues(node: Node, method: str, parts: list[str], start: int) -> bool:
    """Is `parts[start:]` with `method` an endpoint below `node` (a literal, or any value at a
    parameter)? A new word at a parameter of words is one of its values when the rest of its path
    is the parameter's, as a new owner's `/repos/{owner}/{repo}/issues` is. A path ending at the word
    says too little (`POST /plugins/pull` beside `POST /plugins/{name}`): the consolidation decides it."""
    if start >= len(parts):
        return False
    for i, value in enumerate(parts[start:], start):
        child = node.literals.get(value)
        if child is None:
            child = node.param
            if child is None:
                return False
            if child.tail:
                return _tail_takes(parts, i) and method in child.ends
        node = child
    return method in node.ends


def _add_counts(mine: Counter, theirs: Counter) -> None:
    """`mine.update(theirs)` for two Counters, without `Counter.update`'s type checks (merging
    subtrees is the consolidation's hot loop)."""
    get = mine.get
    for key, n in theirs.items():
        mine[key] = get(key, 0) + n


@lru_cache(maxsize=8192)  # (segments repeat a lot: every request asks for each of its own)
def kind_of(value: str) -> str:
    """The detector kind of a segment, judged without a file extension (`RE12ab34cd.json`)."""
    ext = extension(value)
    return seg.classify(value[: -len(ext)] if ext else value)


def _is_version(value: str) -> bool:
    return seg.classify(value) == seg.VERSION


def split_path(path: str) -> list[str]:
    """`/a/b/` -> ['a', 'b', '']; at most MAX_SEGMENTS (the tail is kept as one segment). Matrix
    parameters are arguments, not part of the segment: `/ads/view;src=1;ord=2` -> ['ads', 'view']."""
    parts = path.split("?", 1)[0].split("/")[1:] if path.startswith("/") else path.split("/")
    if ";" in path:
        parts = [_MATRIX.sub("", p) for p in parts]
    if len(parts) > MAX_SEGMENTS:
        parts = parts[: MAX_SEGMENTS - 1] + ["/".join(parts[MAX_SEGMENTS - 1 :])]
    return parts


def _tail_takes(parts: Sequence[str], i: int) -> bool:
    """Does a parameter taking the rest of the path take `parts[i:]`? Not an empty last segment
    alone: `/files/` is the listing (a trailing slash), not a file."""
    return i < len(parts) - 1 or (i < len(parts) and parts[i] != "")


def aligned(named: str, parts: Sequence[str]) -> list[tuple[str, str]]:
    """(template segment, concrete segment) pairs of a named template (`/files/{+file_path}`) and a
    concrete path, the last parameter taking the rest of the path when it is written `{+name}`;
    as many pairs as the shorter has segments otherwise."""
    names = [p for p in named.split("/") if p]
    values = list(parts)
    if names and names[-1].startswith("{+") and len(values) > len(names):
        values[len(names) - 1:] = ["/".join(values[len(names) - 1:])]
    return list(zip(names, values))


def param_name(segment: str) -> str | None:
    """`{user_id}` -> `user_id`, `{+file_path}` -> `file_path`; None for a literal segment."""
    return segment[1:-1].lstrip("+") if segment.startswith("{") and segment.endswith("}") else None


def _routes(node: Node, method: str | None, parts: list[str], i: int, out: list[str], found: list[str],
            limit: int) -> None:
    """The skeletons `parts[i:]` routes to below `node` (with `method` there; None: any), literals
    first, into `found` until it holds `limit`. `parts` may be a skeleton's (PARAM goes to parameters).
    (A module function, not a closure: a recursive closure is a reference cycle per call.)"""
    if i == len(parts):
        if method is None or method in node.ends:
            found.append(skeleton_of(out))
        return
    value = parts[i]
    child = node.literals.get(value) if value not in (PARAM, TAIL) else None
    if child is not None:
        out.append(value)
        _routes(child, method, parts, i + 1, out, found, limit)
        out.pop()
    param = node.param
    if param is not None and len(found) < limit:
        tail = param.tail
        if tail and not _tail_takes(parts, i):
            return
        out.append(TAIL if tail else PARAM)
        _routes(param, method, parts, len(parts) if tail else i + 1, out, found, limit)
        out.pop()


def _rarest(node: Node, keep: int, besides: frozenset[str] = frozenset()) -> list[str]:
    """The rarest literal children of `node` (not declared, not in `besides`) beyond the `keep` most used."""
    rare = [v for v, c in sorted(node.literals.items(), key=lambda kv: kv[1].count)
            if c.declared is None and v not in besides]
    return rare[: len(node.literals) - len(besides) - keep]


def _cap(node: Node) -> None:
    """Fold the rarest literals of every position below `node` beyond MAX_LITERALS into its parameter."""
    for n in node.walk():
        if len(n.literals) > MAX_LITERALS:
            param = n.param or Node()
            for v in _rarest(n, MAX_LITERALS // 2):
                param.merge(n.literals.pop(v))
            n.param = param


def _size(node: Node) -> int:
    """Nodes in the subtree."""
    return sum(1 for _ in node.walk())


def _unique(name: str, taken: set[str]) -> str:
    unique, n = name, 2
    while unique in taken:
        unique, n = f"{name}{n}", n + 1
    return unique


def skeleton_of(parts: list[str]) -> str:
    """`/users/{}`: a segment's own `/` (a `%2F` in traffic, `/files/a%2Fb/meta`) written `%2F`, and
    so its `%` written `%25`, so that the skeleton reads back as the same segments (`skeleton_parts`)."""
    text = "/" + "/".join(parts)
    if "%" in text or text.count("/") != len(parts) or not parts:
        text = "/" + "/".join(p.replace("%", "%25").replace("/", "%2F") for p in parts)
    return text


_SKELETON_ESCAPE = re.compile("%(?:2F|25)")


def skeleton_parts(skeleton: str) -> list[str]:
    """The segments of a skeleton (`skeleton_of` read back)."""
    parts = split_path(skeleton)
    if "%" not in skeleton:
        return parts
    return [_SKELETON_ESCAPE.sub(lambda m: "/" if m.group(0) == "%2F" else "%", p) for p in parts]


@dataclass(slots=True)
class Learned:
    """Result of learning one path: its skeleton, and whether templates were re-grouped on the way,
    with the skeletons of the positions whose children moved (only skeletons below one of them can
    have changed; "/" for the root)."""

    skeleton: str
    moved: bool = False
    under: tuple[str, ...] = ()


class PathTree:
    """The path templates of one host."""

    def __init__(self, root: Node | None = None) -> None:
        self.root = root or Node()
        self.nodes = _size(self.root)   # an upper bound: folds and merges only ever lower it
        self._turned_away = 0
        self._absorbed = False  # a declared parameter took the rest of the path in (`declare`)

    # -- learning ----------------------------------------------------------------------------
    def learn(self, method: str, parts: list[str], echo: dict[str, str], shape: Shape) -> Learned:
        """Record one request (already split, percent-decoded) and return its skeleton.

        `echo` maps the path's segments found as values in the request/response bodies to the key they
        were under; it is true when the bodies held any value that could have echoed one
        (`learn.features.Echoes`).
        """
        node = self.root
        out: list[str] = []
        touched: list[tuple[Node, int]] = []  # positions to regroup, and their depth
        n = len(parts)
        chance = bool(shape.tokens) and bool(echo)  # a body that could have named the value
        for i, value in enumerate(parts):
            kind = kind_of(value)
            strong = seg.is_strong(kind)
            echoed = echo.get(value) if kind != seg.VERSION else None
            if echoed is not None and echoed.lower() in KIND_KEYS:
                echoed = None
            child = node.literals.get(value)
            if child is not None:
                out.append(value)
            elif node.param is not None and node.param.tail and _tail_takes(parts, i):
                child = node.param
                out.append(TAIL)
                value = "/".join(parts[i:])
                n = i + 1  # (the rest of the path is its value)
            elif node.param is not None and (node.param.declared is not None or strong or (
                    node.param.words and _continues(node.param, method, parts, i + 1))):
                child = node.param
                out.append(PARAM)
            elif not self._room():  # the tree is full (hostile or endless names): the value is a parameter's
                if node.param is None:
                    node.param = Node(words=True)
                    self.nodes += 1
                child = node.param
                out.append(PARAM)
            else:
                child = node.literals[value] = Node()
                self.nodes += 1
                out.append(value)
                if (strong or len(node.literals) > MAX_LITERALS) and all(node is not t for t, _ in touched):
                    touched.append((node, i))
            child.count += 1
            child.kinds[kind] += 1
            if len(child.contexts) < MAX_CONTEXTS:
                child.contexts.add(zlib.crc32(parts[i - 1].encode("utf-8", "surrogatepass")) if i else 0)
            if chance:
                child.informative += 1
                # short values (`1`, `en`) echo by chance: they count as echoes only at a parameter
                if echoed is not None and (child is node.param or strong or len(value) >= 3):
                    child.echoes += 1
                    child.echo_keys[echoed] += 1
            if strong and child is not node.param:
                child.evidence += 1
            if i == n - 1:
                child.note_ext(extension(value))  # `/queues/{sid}.json`, while `/queues/{sid}/members` has none
                child.ends[method] += 1
                child.record(method + " ", shape)
                break
            node = child
        under = tuple(skeleton_of(out[:depth]) for parent, depth in touched if self._regroup(parent))
        if under:
            return Learned(self.match(method, parts) or skeleton_of(out), True, under)
        return Learned(skeleton_of(out))

    @staticmethod
    def _regroup(node: Node) -> bool:
        """Fold detected values among the literal children of `node` into its parameter: at once beside
        a parameter, from the second distinct value without one. True if anything moved."""
        movers = [v for v, c in node.literals.items() if c.evidence and c.declared is None]
        if node.param is None and len(movers) < 2 and not (movers and _unmistakable(movers[0], node.literals[movers[0]])):
            movers = []
        hostile = len(node.literals) - len(movers) > MAX_LITERALS
        if hostile:  # hostile cardinality: the rarest are folded
            movers += _rarest(node, MAX_LITERALS // 2, frozenset(movers))
        if not movers:
            return False
        param = node.param or Node()
        for v in movers:
            param.merge(node.literals.pop(v))
        node.param = param
        if hostile:  # the folded subtrees met in the parameter: its own positions may be over the cap now
            _cap(param)
        return True

    def _room(self) -> bool:
        """May the tree grow by one node? Its count is only an upper bound (consolidation folds
        nodes away), so a full tree counts itself again now and then."""
        if self.nodes < MAX_NODES:
            return True
        self._turned_away += 1
        if self._turned_away % RECOUNT_EVERY == 1:
            self.nodes = _size(self.root)
        return self.nodes < MAX_NODES

    # -- lookup ----------------------------------------------------------------------------
    def known(self, method: str, parts: list[str]) -> str | None:
        """Skeleton of a path that holds nothing new: every segment is a known literal or a detected
        value at a parameter, and the endpoint exists. None means "learn it properly"."""
        node = self.root
        out: list[str] = []
        for i, value in enumerate(parts):
            child = node.literals.get(value)
            if child is not None:
                out.append(value)
            elif node.param is not None and node.param.tail and _tail_takes(parts, i):
                out.append(TAIL)
                node = node.param
                break
            elif node.param is not None and (node.param.declared is not None or seg.is_strong(kind_of(value)) or (
                    node.param.words and _continues(node.param, method, parts, i + 1))):
                child = node.param
                out.append(PARAM)
            else:
                return None
            node = child
        return skeleton_of(out) if method in node.ends else None

    def node_at(self, skeleton: str) -> Node | None:
        """The node a skeleton names, segment for segment (no re-routing)."""
        node = self.root
        for value in skeleton_parts(skeleton):
            child = node.param if value in (PARAM, TAIL) else node.literals.get(value)
            if child is None or child.tail != (value == TAIL):
                return None
            node = child
        return node

    def holds(self, method: str, skeleton: str) -> bool:
        """Is this skeleton still a learned endpoint, segment for segment (no re-routing)?"""
        node = self.node_at(skeleton)
        return node is not None and method in node.ends

    def answer_tokens(self, method: str, skeleton: str) -> set[str]:
        """The shape tokens remembered for an endpoint's answers (empty if none or no such endpoint)."""
        node = self.node_at(skeleton)
        return node.shapes.get(method + " ", set()) if node is not None else set()

    def match(self, method: str | None, parts: list[str]) -> str | None:
        """Skeleton for a concrete path (or a skeleton's parts), literal segments first."""
        found: list[str] = []
        _routes(self.root, method, parts, 0, [], found, 1)
        return found[0] if found else None

    def routes(self, method: str, parts: list[str]) -> list[str]:
        """Every skeleton this path matches (`/users/me` -> `/users/me` and `/users/{}`), at most MAX_ROUTES."""
        found: list[str] = []
        _routes(self.root, method, parts, 0, [], found, MAX_ROUTES)
        return found

    def templates(self) -> Iterator[tuple[str, str, str]]:
        """(method, skeleton, named template) of every learned endpoint."""
        def walk(node: Node, parts: list[str], names: list[str], ext: str) -> Iterator[tuple[str, str, str]]:
            shown = names[:-1] + [names[-1] + ext] if ext else names
            for method in sorted(node.ends):
                yield method, skeleton_of(parts), "/" + "/".join(shown)  # (shown: wire form already)
            for v in sorted(node.literals):
                yield from walk(node.literals[v], parts + [v], names + [wire(v)], "")
            if node.param is not None:
                tail = node.param.tail
                name = "{" + ("+" if tail else "") + self._name(node.param, names) + "}"
                yield from walk(node.param, parts + [TAIL if tail else PARAM], names + [name],
                                "" if tail else node.param.ext or "")

        yield from walk(self.root, [], [], "")

    def named(self, skeleton: str) -> str:
        """Display form of a skeleton: `/users/{}` -> `/users/{user_id}`."""
        node: Node | None = self.root
        names: list[str] = []
        parts = skeleton_parts(skeleton)
        for i, value in enumerate(parts):
            if value in (PARAM, TAIL) and node is not None and node.param is not None:
                names.append(self._display(node.param, names, i == len(parts) - 1))
                node = node.param
            else:
                names.append(wire(value))
                node = node.literals.get(value) if node is not None else None
        return "/" + "/".join(names)  # (wire form: escaped by `wire`)

    @classmethod
    def _display(cls, param: Node, before: list[str], last: bool) -> str:
        if param.tail:
            return "{+" + cls._name(param, before) + "}"
        return "{" + cls._name(param, before) + "}" + (param.ext or "" if last else "")

    @staticmethod
    def _name(param: Node, before: list[str]) -> str:
        """Two parameters of names in a row after a collection's name are an item named within its
        owner's namespace: `/repos/{owner}/{repo}`."""
        taken = {b[1:b.index("}")] for b in before if b.startswith("{") and "}" in b}
        if param.declared:
            return _unique(param.declared, taken)
        prev = urllib.parse.unquote(next((b for b in reversed(before) if b and not b.startswith("{")), ""))
        base = seg.identifier(seg.singular(prev)) if prev and seg.classify(prev) in (seg.WORD, seg.SLUG) else ""
        kinds = param.kinds
        top_kind = kinds.most_common(1)[0][0] if kinds else seg.WORD
        words = top_kind in (seg.WORD, seg.SLUG)
        follower = param.param.kinds.most_common(1)[0][0] if param.param is not None and param.param.kinds else None
        if words and base and follower in (seg.WORD, seg.SLUG) and not (before and before[-1].startswith("{")):
            return _unique("owner", taken)
        if words and base and before and before[-1].startswith("{") and len(before) >= 2 and \
                urllib.parse.unquote(before[-2]) == prev:
            return _unique(base, taken)  # the item named within its owner's namespace
        specific = [k for k, _ in param.echo_keys.most_common() if k.lower() not in GENERIC_ECHO_KEYS]
        if param.tail:
            name = f"{base}_path" if base else "path"
        elif kinds.get(seg.INT, 0) + kinds.get(seg.UUID, 0) + kinds.get(seg.PREFIXED, 0) >= sum(kinds.values()) / 2:
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
        parts = list(parts)
        last = len(parts) - 1
        for i, (value, name) in enumerate(zip(parts, names)):
            if value in (PARAM, TAIL):
                if node.param is None:
                    node.param = Node()
                if value == TAIL and any(n.declared is not None for n in node.param.walk() if n is not node.param):
                    value = parts[i] = PARAM  # (the spec's own longer templates through it would be hidden)
                if (value == PARAM or i < last) and node.param.tail:
                    node.param.tail = False  # a declared template of one segment here: the spec decides
                    self._absorbed = True    # (what was learned under the tail is re-keyed: `fold_declared`)
                node = node.param
                if value == TAIL and not node.tail:
                    self._absorbed |= bool(node.literals) or node.param is not None
                    node.absorb(node)  # (what traffic learned below it ends here now: `fold_declared`)
                if node.declared is None:
                    node.declared = name or "param"
            else:
                node = node.literals.setdefault(value, Node())
                node.declared = value
        node.ends[method] += 0  # an endpoint, not seen yet
        return skeleton_of(parts)

    def fold_declared(self) -> bool:
        """Fold literals learned from traffic (not declared) into the declared parameter beside them
        (`/users/alice` into a declared `/users/{username}`). True if anything moved (a declared
        parameter taking the rest of the path included)."""
        moved, self._absorbed = self._absorbed, False
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

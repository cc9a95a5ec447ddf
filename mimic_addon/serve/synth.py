"""Synthetic JSON bodies from a learned `SchemaNode`: pure, seeded, compiled once per schema version.

`compile_plan(node)` turns a learned schema into a `Plan` (types with their weights, properties
with their presence frequency, formats, enums, ranges, lengths and the Faker heuristic of each
property name). `generate(plan, ctx, rng, fake)` makes one value from it: correct types, required
properties always present (and those of nearly all objects: NEARLY_ALL, counted among the objects
that had any key), optional ones with their learned frequency, words of a closed set replayed
rather than invented, tagged objects built from one variant, values from Faker through
the property names, and echo of the request (path parameters and body fields flow into the root
object's properties of the same name; pagination fields agree with the list they describe).

Randomness comes only from the `random.Random` and the seeded Faker handed in, so the same request
with the same seed gives the same body (`request_seed`).
"""
from __future__ import annotations

import hashlib
import math
import random
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..model.pattern_shape import pattern_matches, sample
from ..model.redact import is_personal_name
from ..model.schema import (CHAR_DIGIT, CHAR_LOWER, CHAR_OTHER, CHAR_UPPER, HINT_DECLARED_ENUM, SchemaNode,
                            char_classes, string_skeleton)
from .faker_fields import KINDS, PII, field_kind, recent, today

# SchemaNode type slots (model/schema.py order)
_OBJ, _ARR, _STR, _INT, _NUM, _BOOL, _NULL = range(7)
ARRAY_EXTRA = 8          # generated arrays are at most this much longer than the shortest one seen
MAP_KEYS = 3             # keys generated for a map-like object
NEARLY_ALL = 0.9         # properties of at least this share of the (non-empty) objects are always generated
_COUNT_NAMES = frozenset({"total", "total_count", "count", "total_results", "total_items", "num_results"})
_PER_PAGE_NAMES = frozenset({"per_page", "page_size", "limit", "pagesize", "perpage"})
_PAGE_NAMES = frozenset({"page", "current_page", "page_number"})
_PAGING_NAMES = _PER_PAGE_NAMES | _PAGE_NAMES | {"offset", "cursor", "after", "before", "start", "skip"}
_LETTERS = string.ascii_lowercase
# Fields only a person's object has (its `name` is then a person's): not an address or an ip, which
# stores and servers have too.
_PERSON_FIELD = re.compile(r"e.?mail|phone|mobile|user.?name|first.?name|last.?name|full.?name|birth|surname")
_VOCABULARY_KINDS = frozenset({"type", "status"})  # names of fields that hold a closed set's words


@dataclass(slots=True)
class Context:
    """What the request says: path parameters by template name, query values, parsed JSON body."""
    params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None
    resource_id: str | None = None   # the last path parameter when the template ends with one
    resource_field: str = "id"       # the property that value names (learned echoes: `username`)
    resource_learned: bool = False   # ... known from the learned traffic, not guessed


@dataclass(slots=True)
class Plan:
    weights: list[tuple[int, int]]            # (type slot, count)
    total: int
    props: list[tuple[str, Plan, float]]      # name, plan, presence (1.0 = required)
    additional: Plan | None
    items: Plan | None
    arr: tuple[int, int]
    num: tuple[float, float] | None
    length: tuple[int, int] | None
    fmt: str | None
    enum: list[str] | None
    kind: str | None
    chars: int = 0                 # character classes of the observed strings (schema.CHAR_*)
    firsts: str | None = None      # their first characters, when few
    variants: list[tuple[Plan, int]] | None = None  # discriminated object variants, with their counts
    declared_enum: bool = False    # the enum is an imported contract, not only the values seen
    pattern: str | None = None     # an imported `pattern` strings are generated from
    never_empty: bool = False      # every object seen had some property: a mock is never `{}`
    skeletons: list[str] | None = None  # the layouts of the observed strings (`x-x`), when few
    keysets: list[tuple[frozenset[str], int]] | None = None  # the objects' key sets, with their counts
    true_share: float = 0.5        # booleans: the share seen true (one half when not known)


def compile_plan(node: SchemaNode, name: str | None = None, namesakes: _Namesakes | None = None,
                 elsewhere: NameIndex | None = None, parent: str | None = None, person: bool = False) -> Plan:
    """Precompute everything `generate` needs from a learned schema node (`name`: its property's,
    `parent`: the name of the object holding it, `person`: that object has fields of a person's,
    an e-mail, a phone, a user name..., so its `name` is a person's too).

    Fields of the same name stand in for string values never seen unredacted (a field of an object
    under a secret's name: `"auth": {"state": ...}`): in the same body first, else in the bodies
    `elsewhere` indexes (the other answers of the API); one in an object of the same name first
    (`rationale.code` rather than any `code`)."""
    if namesakes is None:
        namesakes = _Namesakes(NameIndex([node]), elsewhere)
    t = node.types
    weights = [(slot, c) for slot, c in enumerate(t) if c]
    if t[_NULL] and 2 * t[_NULL] <= sum(t):
        # a mostly-present value: mocks show it (null stays valid, but UIs want something to render)
        weights = [(slot, c) for slot, c in weights if slot != _NULL]
    kind = field_kind(name) if name else None
    props: list[tuple[str, Plan, float]] = []
    of_person = any(_PERSON_FIELD.search(key.lower()) for key in node.props or ())
    for key, child in (node.props or {}).items():
        # among the objects that had any key: `{}` items say nothing about which fields go together
        presence = node.presence(key)
        plan = compile_plan(child, key, namesakes, parent=name, person=of_person)
        props.append((key, plan, 1.0 if presence >= NEARLY_ALL else presence))
    strings = node
    if t[_STR] and node.str_min is None:  # only `[REDACTED]` strings seen here
        namesake = namesakes.get(name, parent) if name else None
        if namesake is not None:
            strings = namesake  # the same field elsewhere tells what its values are
        elif any(slot not in (_STR, _NULL) for slot, _ in weights):  # else show what else it was (4096)
            weights = [(slot, c) for slot, c in weights if slot != _STR]
    enum = strings.enum_values() or strings.closed_values(kind in _VOCABULARY_KINDS)
    if kind in PII and (kind != "name" or is_personal_name(name or "") or (person and (name or "").lower() == "name")):
        # never replay observed values of PII-like fields; `*_name` is a person's only when the model
        # says so (`display_name`, not `sticker_name`), a plain `name` when its object is a person's
        enum = None
    variants = None
    active = node.active_variants(mixed=True, alike=True)  # only objects are made from them
    if active is not None:
        variants = [(_variant_plan(vnode, name, node.variant_key, tag, namesakes, parent), vnode.count)
                    for tag, vnode in active]
    return Plan(
        weights=weights, total=sum(c for _, c in weights), props=props,
        additional=compile_plan(node.additional, None, namesakes) if node.additional is not None else None,
        items=compile_plan(node.items, _singular(name), namesakes, parent=parent)
        if node.items is not None and node.items.count else None,
        arr=(node.arr_min or 0, node.arr_max or 0),
        # (a summary's minimum and maximum are set together)
        num=(node.num_min, node.num_max) if node.num_min is not None and node.num_max is not None else None,
        length=(strings.str_min, strings.str_max)
        if strings.str_min is not None and strings.str_max is not None else None,
        fmt=strings.string_format(), enum=enum, kind=kind,
        true_share=node.trues / t[_BOOL] if t[_BOOL] and node.trues is not None else 0.5,
        chars=strings.chars, firsts="".join(sorted(strings.firsts)) if strings.firsts else None,
        variants=variants, declared_enum=bool(enum) and bool(strings.hints & HINT_DECLARED_ENUM),
        pattern=strings.pattern, skeletons=sorted(strings.skeletons) if strings.skeletons else None,
        never_empty=bool(t[_OBJ]) and not node.empty and bool(props),
        keysets=node.key_sets(),
    )


class NameIndex:
    """(object name, property name) and property name -> the node of that name with the most strings
    seen unredacted (their lengths are known), under `roots`; indexed on the first question (rarely
    asked: only for a field never seen unredacted)."""

    def __init__(self, roots: Iterable[SchemaNode]) -> None:
        self.roots: Iterable[SchemaNode] | None = roots
        self.index: dict[Any, SchemaNode] = {}

    def get(self, key: Any) -> SchemaNode | None:
        if self.roots is not None:
            self.index, self.roots = _index_names(self.roots), None
        return self.index.get(key)


class _Namesakes:
    """The namesakes of a plan's fields: in its own body first, else in the others."""

    def __init__(self, own: NameIndex, elsewhere: NameIndex | None) -> None:
        self.sources = [own] if elsewhere is None else [own, elsewhere]

    def get(self, name: str, parent: str | None) -> SchemaNode | None:
        for key in ((parent, name), name):
            for source in self.sources:
                node = source.get(key)
                if node is not None:
                    return node
        return None


def _index_names(roots: Iterable[SchemaNode]) -> dict[Any, SchemaNode]:
    """Names as `compile_plan` gives them: an array's items are named for it, in the singular."""
    best: dict[Any, SchemaNode] = {}
    stack: list[tuple[SchemaNode, str | None]] = [(root, None) for root in roots]
    while stack:
        node, name = stack.pop()
        for key, child in (node.props or {}).items():
            if child.str_min is not None:
                for k in (key, (name, key)):
                    if child.types[_STR] > (best[k].types[_STR] if k in best else 0):
                        best[k] = child
            stack.append((child, key))
        if node.items is not None:
            stack.append((node.items, _singular(name)))
        if node.additional is not None:
            stack.append((node.additional, None))
        stack.extend((n, name) for n in (node.variants or {}).values() if n is not None)
    return best


def _variant_plan(node: SchemaNode, name: str | None, key: str | None, tag: str,
                  namesakes: _Namesakes, parent: str | None) -> Plan:
    """The plan of one variant: its own properties, the discriminator fixed to its tag."""
    plan = compile_plan(node, name, namesakes, parent=parent)
    for prop, child, _ in plan.props:
        if prop == key:
            child.weights, child.total = [(_STR, 1)], 1
            child.enum, child.fmt = [tag], None
    return plan


def _singular(name: str | None) -> str | None:
    if not name:
        return None
    return name[:-1] if name.endswith("s") and not name.endswith("ss") else name


def request_seed(seed: int, method: str, path: str, query: str, body: bytes | None) -> int:
    """A 64-bit seed for one request: the same request and `mimic_seed` give the same mock."""
    h = hashlib.blake2b(digest_size=8)
    for part in (str(seed).encode(), method.upper().encode(), path.encode("utf-8", "surrogateescape"),
                 query.encode("utf-8", "surrogateescape"), body or b""):
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return int.from_bytes(h.digest(), "little")


def generate(plan: Plan, ctx: Context, rng: random.Random, fake: Any) -> Any:
    """One JSON value for the plan (the root of a response body)."""
    return _value(plan, rng, fake, ctx, root=True)


def _pick_type(plan: Plan, rng: random.Random) -> int:
    if len(plan.weights) == 1:
        return plan.weights[0][0]
    x = rng.random() * plan.total
    for slot, c in plan.weights:
        x -= c
        if x < 0:
            return slot
    return plan.weights[-1][0]


def _value(plan: Plan, rng: random.Random, fake: Any, ctx: Context | None = None, root: bool = False) -> Any:
    if not plan.weights:
        return None
    slot = _pick_type(plan, rng)
    if slot == _OBJ:
        return _object(plan, rng, fake, ctx if root else None)
    if slot == _ARR:
        return _array(plan, rng, fake, _query_int(ctx, _PER_PAGE_NAMES) if root and ctx is not None else None)
    if slot == _STR:
        return _string(plan, rng, fake)
    if slot == _INT:
        return int(_number(plan, rng, fake, integer=True))
    if slot == _NUM:
        return _number(plan, rng, fake, integer=False)
    if slot == _BOOL:
        # (`ok`, `success`: true; else as often true as seen: `active` true in every answer seen stays true)
        return True if plan.kind == "true" else rng.random() < plan.true_share
    return None


def _object(plan: Plan, rng: random.Random, fake: Any, ctx: Context | None) -> dict[str, Any]:
    if plan.variants is not None:
        plan = _pick_weighted(plan.variants, rng)
    if plan.additional is not None:
        n = rng.randint(1, MAP_KEYS)
        return {str(rng.randint(1, 99_999)): _value(plan.additional, rng, fake) for _ in range(n)}
    echo = _echo_values(ctx) if ctx is not None else {}
    out: dict[str, Any] = {}
    # optional keys come as they were seen together (`{created, valid}` or `{deleted}`, not a mix)
    keys = _pick_weighted(plan.keysets, rng) if plan.keysets else None
    for name, child, presence in plan.props:
        present = presence >= 1.0 or (name in keys if keys is not None else rng.random() < presence)
        if name in echo:
            value = _fit_echo(child, *echo[name])
            if value is not _NO:
                out[name] = value
                continue
        if not present:
            continue
        if ctx is not None and child.weights and _pick_type(child, rng) == _ARR and child.items is not None:
            out[name] = _array(child, rng, fake, _query_int(ctx, _PER_PAGE_NAMES))
        else:
            out[name] = _value(child, rng, fake)
    if not out and plan.never_empty:
        # only optional properties, none drawn: one of them, by how often each was seen
        x = rng.random() * sum(p for _, _, p in plan.props)
        for name, child, presence in plan.props:
            x -= presence
            if x < 0:
                break
        out[name] = _value(child, rng, fake)
    if ctx is not None:
        _paginate(plan, out, ctx)
    return out


def _pick_weighted[T](choices: list[tuple[T, int]], rng: random.Random) -> T:
    """One of `choices` (thing, count), drawn as often as it was seen."""
    return rng.choices([thing for thing, _ in choices], [c for _, c in choices])[0]


def _array(plan: Plan, rng: random.Random, fake: Any, wanted: int | None) -> list[Any]:
    lo, hi = plan.arr
    if plan.items is None:
        return [None] * lo if lo else []
    if wanted is not None:  # (?per_page=: no more than asked, no more than lists were seen holding)
        n = max(0, min(wanted, hi))
    else:
        n = rng.randint(lo, min(hi, lo + ARRAY_EXTRA))
    items = plan.items
    if items.enum is not None and items.fmt is None and items.weights == [(_STR, items.total)] and n > 1:
        # a list of words from a closed set (scopes, tags, roles) names each one once: no longer than
        # the set when the lists seen allow it (`["US"]` seen, three wanted: one)
        if n > len(items.enum) and lo <= len(items.enum):
            n = len(items.enum)
        if n <= len(items.enum):
            return rng.sample(items.enum, n)
    out = [_value(items, rng, fake) for _ in range(n)]
    return _distinct_ids(out, items, rng, fake) if n > 1 and items.props else out


UNIQUE_TRIES = 8  # draws of a listed object's id before a number id is picked among the unused ones


def _id_key(value: Any) -> tuple[bool, Any]:
    """How listed ids are told apart: `True` is no `1` (an id is data, not a truth value)."""
    return type(value) is bool, value


def _distinct_ids(objects: list[Any], plan: Plan, rng: random.Random, fake: Any) -> list[Any]:
    """A list of objects names each by its own `id` (a listing holding one resource twice is no listing):
    a repeated id is drawn again; a number id that keeps repeating is picked among the unused ones of the
    learned range while it has room, else below the smallest listed (never past the largest: a twin gives
    its new items the ids past the largest learned), else past the largest. Objects without an `id`, or
    whose draws keep repeating another kind of id, as they are."""
    id_plan = next((p for name, p, _ in plan.props if name == "id"), None)
    if id_plan is None:
        return objects
    seen: set[tuple[bool, Any]] = set()
    ints: list[int] = []  # (the number ids listed, for the free ones)
    for obj in objects:
        if not isinstance(obj, dict) or "id" not in obj or isinstance(obj["id"], (dict, list)):
            continue
        value = obj["id"]
        for _ in range(UNIQUE_TRIES):
            if _id_key(value) not in seen:
                break
            drawn = _value(id_plan, rng, fake)
            if isinstance(drawn, (dict, list)):
                break
            value = drawn
        if _id_key(value) in seen and int in (type(value), type(obj["id"])):
            value = _unused_int(id_plan, seen, ints, rng)
        if _id_key(value) not in seen:
            obj["id"] = value
        seen.add(_id_key(obj["id"]))
        if type(obj["id"]) is int:
            ints.append(obj["id"])
    return objects


def _unused_int(plan: Plan, seen: set[tuple[bool, Any]], ints: list[int], rng: random.Random) -> int:
    if plan.num is not None:
        lo, hi = math.ceil(plan.num[0]), math.floor(plan.num[1])
        if hi - lo + 1 > 2 * len(ints):
            for _ in range(4 * UNIQUE_TRIES):
                value = rng.randint(lo, hi)
                if (False, value) not in seen:
                    return value
    numbers = ints or [int(v) for b, v in seen if not b and isinstance(v, (int, float))]  # (`1.0` listed)
    low = min(numbers) - 1
    while low >= 0 and (False, low) in seen:
        low -= 1
    if low >= 0:
        return low
    high = max(numbers) + 1
    while (False, high) in seen:
        high += 1
    return high


def _number(plan: Plan, rng: random.Random, fake: Any, integer: bool) -> float:
    lo, hi = plan.num if plan.num is not None else (0, 100)
    value: Any = None
    gen = KINDS.get(plan.kind) if plan.kind else None
    if gen is not None:
        v = gen(fake, rng)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v <= hi:
            value = v
    if integer:
        ilo, ihi = math.ceil(lo), math.floor(hi)
        if ilo > ihi:
            return lo
        return int(value) if value is not None and ilo <= int(value) <= ihi else rng.randint(ilo, ihi)
    if value is None:
        value = rng.uniform(lo, hi)
    return min(max(round(value, 2), lo), hi)


def _string(plan: Plan, rng: random.Random, fake: Any) -> str:
    lo, hi = plan.length if plan.length is not None else (0, 64)
    if plan.fmt is not None:
        return _formatted(plan.fmt, lo, hi, rng, fake)
    if plan.enum is not None:
        return rng.choice(plan.enum)
    if plan.pattern is not None:
        text = sample(plan.pattern, rng, lo, hi if plan.length is not None else None)
        if text is not None:
            return text
    gen = KINDS.get(plan.kind) if plan.kind else None
    text = None
    if gen is not None:
        v = gen(fake, rng)
        if not isinstance(v, (dict, list)):
            text = str(v).lower() if isinstance(v, bool) else str(v)
    if text is None:
        text = fake.word() if hi < 40 else fake.sentence()
    text = _fit(text, lo, hi, rng)
    return text if _has_shape(text, plan) else _shaped(plan, lo, hi, rng)


_CLASS_ALPHABETS = ((CHAR_LOWER, string.ascii_lowercase), (CHAR_UPPER, string.ascii_uppercase),
                    (CHAR_DIGIT, string.digits), (CHAR_OTHER, "-_"))


def _has_shape(text: str, plan: Plan) -> bool:
    """Does a value look like the observed ones (same character classes, a seen first character)?"""
    if not plan.chars:
        return True
    if char_classes(text) & ~plan.chars:
        return False
    if plan.skeletons is not None and string_skeleton(text) not in plan.skeletons:
        return False
    return plan.firsts is None or not text or text[0] in plan.firsts


def _shaped(plan: Plan, lo: int, hi: int, rng: random.Random) -> str:
    """A random string with the observed shape: `U024BE7LH`-like ids stay uppercase alphanumerics,
    `123-456`-like ones keep their one dash between digits (the observed skeletons)."""
    if plan.skeletons:
        return _from_skeleton(plan, rng.choice(plan.skeletons), lo, hi, rng)
    others = "".join(c for c in plan.firsts or "" if not c.isalnum())  # the only punctuation known seen
    alphabet = "".join((others or chars) if cls == CHAR_OTHER else chars
                       for cls, chars in _CLASS_ALPHABETS if plan.chars & cls) or _LETTERS
    n = rng.randint(max(lo, 1), max(lo, 1, min(hi, 32)))
    head = rng.choice(plan.firsts) if plan.firsts else rng.choice(alphabet)
    return head + "".join(rng.choice(alphabet) for _ in range(n - 1))


def _from_skeleton(plan: Plan, skeleton: str, lo: int, hi: int, rng: random.Random) -> str:
    """A string laid out like `skeleton` (`x-x`): its punctuation kept, each `x` a run of the observed
    letters and digits, `lo`..`hi` long in all when the skeleton allows."""
    alphabet = "".join(chars for cls, chars in _CLASS_ALPHABETS if cls != CHAR_OTHER and plan.chars & cls) or _LETTERS
    slots = skeleton.count("x")
    fixed = len(skeleton) - slots
    if not slots:
        return skeleton
    n = rng.randint(max(lo, len(skeleton)), max(lo, len(skeleton), min(hi, 32)))
    runs = [1] * slots
    for _ in range(n - fixed - slots):
        runs[rng.randrange(slots)] += 1
    out, i = [], 0
    for c in skeleton:
        if c != "x":
            out.append(c)
            continue
        run = [rng.choice(alphabet) for _ in range(runs[i])]
        if not out and plan.firsts:
            heads = [h for h in plan.firsts if h.isalnum()]
            if heads:
                run[0] = rng.choice(heads)
        out.extend(run)
        i += 1
    return "".join(out)


def _fit(text: str, lo: int, hi: int, rng: random.Random) -> str:
    if len(text) > hi:
        text = text[:hi].rstrip() if hi else ""
        if len(text) < lo:
            text = text.ljust(lo, "x")
    while len(text) < lo:
        text += rng.choice(_LETTERS)
    return text


def _formatted(fmt: str, lo: int, hi: int, rng: random.Random, fake: Any) -> str:
    """A value of the format whose length is within [lo, hi] when the format allows it."""
    if fmt == "uuid":
        return str(fake.uuid4())
    if fmt == "date":
        return fake.date(end_datetime=today())
    if fmt == "date-time":
        base = recent(fake).strftime("%Y-%m-%dT%H:%M:%S")
        top = max(20, min(hi, 40))
        length = rng.randint(min(max(20, lo), top), top)
        if length == 21:
            length = 22 if top >= 22 else 20
        # 20: "...Z"; 22 and up: "...." + fraction digits + "Z"
        return base + "Z" if length == 20 else base + "." + "".join(rng.choice("0123456789") for _ in range(length - 21)) + "Z"
    if fmt == "email":
        local, domain = fake.user_name(), "example.com"
        text = f"{local}@{domain}"
        if len(text) > hi:
            local = local[: max(1, hi - len(domain) - 1)]
            if len(local) + len(domain) + 1 > hi:
                domain = "ex.io"
            text = f"{local}@{domain}"
        while len(text) < lo:
            text = rng.choice(_LETTERS) + text
        return text
    if fmt == "uri":
        text = f"https://example.com/{fake.slug()}"
        if len(text) > hi:
            text = "https://ex.io/" + "a" * max(0, hi - 14)
        while len(text) < lo:
            text += rng.choice(_LETTERS)
        return text[: max(hi, 10)] if len(text) > hi >= 10 else text
    if fmt == "ipv4":
        octets = [rng.randint(1, 254) for _ in range(4)]
        text = ".".join(map(str, octets))
        if not lo <= len(text) <= hi:
            width = min(max(lo, 7), 15)
            digits = [1, 1, 1, 1]
            i = 0
            while sum(digits) + 3 < width:
                digits[i % 4] += 1
                i += 1
            spans = {1: (0, 9), 2: (10, 99), 3: (100, 255)}
            text = ".".join(str(rng.randint(*spans[d])) for d in digits)
        return text
    return fake.word()


_NO = object()


def _echo_values(ctx: Context) -> dict[str, tuple[Any, bool]]:
    """Field name -> (value, strict): body fields and a path value the learned traffic echoed into
    that field come back as sent; a path value guessed into a field by name only must also look like
    the field's learned values (strict)."""
    echo: dict[str, tuple[Any, bool]] = {}
    if isinstance(ctx.body, dict):
        for k, v in ctx.body.items():
            if not isinstance(v, (dict, list)):
                echo[k] = (v, False)
    for k, v in ctx.params.items():
        echo[k] = (v, not (ctx.resource_learned and k == ctx.resource_field and v == ctx.resource_id))
    if ctx.resource_id is not None:
        if ctx.resource_learned or ctx.resource_field not in echo:
            echo[ctx.resource_field] = (ctx.resource_id, not ctx.resource_learned)
    return echo


def _fit_echo(plan: Plan, value: Any, strict: bool = False) -> Any:
    """The echoed value in a type the learned schema allows, else _NO.

    What the client sent comes back as it was, like a backend that stores it: the learned string
    lengths are not enforced, and a value outside a learned enum is echoed too (the enum is only what
    was seen). Only a declared enum, format or pattern (an imported contract) is kept. `strict` (a
    path value put into a field by its name alone): only into a field without an enum, within the
    learned lengths."""
    slots = {s for s, _ in plan.weights}
    if value is None:
        return None if _NULL in slots else _NO
    if isinstance(value, bool):
        return value if _BOOL in slots else _NO
    if isinstance(value, (int, float)):
        if _INT in slots and isinstance(value, int) or _NUM in slots:
            return value
        return _fit_echo(plan, str(value), strict) if _STR in slots else _NO
    if isinstance(value, str):
        if _INT in slots and value.isascii() and value.lstrip("-").isdigit() and len(value) < 16:
            return int(value)
        if _STR not in slots or (plan.fmt is not None and not _has_format(value, plan.fmt)):
            return _NO
        if plan.enum is not None and (strict or plan.declared_enum and value not in plan.enum):
            return _NO
        if strict and plan.length is not None and not plan.length[0] <= len(value) <= plan.length[1]:
            return _NO
        if plan.pattern is not None and not pattern_matches(plan.pattern, value):
            return _NO
        return value
    return _NO


def _has_format(value: str, fmt: str) -> bool:
    from ..model.schema import has_format

    return has_format(value, fmt)


def _query_int(ctx: Context, names: frozenset[str]) -> int | None:
    for k, v in ctx.query.items():
        if k.lower() in names and v.isascii() and v.isdigit() and len(v) <= 18:  # (`²`, 5,000 digits: not a page)
            return int(v)
    return None


def _paginate(plan: Plan, out: dict[str, Any], ctx: Context) -> None:
    """Page fields agree with the list beside them and with ?page= / ?per_page= when given: those are
    echoed as asked (like a path value: learned ranges are what was seen, not limits), the list holds
    no more than ?per_page= asks, a page not asked for is the first, and a count is the same on every
    page of one listing (drawn from the request without its paging parameters), at least what the pages
    before and this one hold, and exactly that when a page asked for with ?per_page= comes out shorter
    (the last one)."""
    key = next((k for k, v in out.items() if isinstance(v, list)), None)
    if key is None:
        return
    ranges = {name: child for name, child, _ in plan.props}

    def put(name: str, value: int, clamp: bool = True) -> None:
        child = ranges[name]
        if not isinstance(out.get(name), int) or isinstance(out.get(name), bool):
            return
        if clamp and child.num is not None:
            value = int(min(max(value, child.num[0]), child.num[1]))
        out[name] = value

    page = _query_int(ctx, _PAGE_NAMES)
    per_page = _query_int(ctx, _PER_PAGE_NAMES)
    if per_page is not None and per_page >= 0 and len(out[key]) > per_page:
        out[key] = out[key][:per_page]
    n = len(out[key])
    for name in list(out):
        low = name.lower()
        if low in _PER_PAGE_NAMES:
            if per_page is not None:
                put(name, per_page, clamp=False)
            else:
                put(name, max(n, 1))
        elif low in _PAGE_NAMES:
            if page is not None:
                put(name, page, clamp=False)
            else:  # (no page asked: the first, 0 where the pages seen started at 0, never below those seen)
                child = ranges[name]
                put(name, 0 if child.num is not None and child.num[0] == 0 else 1)
    per = per_page if per_page is not None else next(
        (out[k] for k in out if k.lower() in _PER_PAGE_NAMES and isinstance(out[k], int)), max(n, 1))
    pg = next((out[k] for k in out if k.lower() in _PAGE_NAMES and isinstance(out[k], int)), 1)
    least = max(pg - 1, 0) * per + n  # (items on the pages before this one, and this one's)
    longest = ranges[key].arr[1] if key in ranges else n
    last = per_page is not None and n < per_page and n < longest  # (shorter only as lists seen were: not the last)
    for name in list(out):
        if name.lower() in _COUNT_NAMES and isinstance(out[name], int) and not isinstance(out[name], bool):
            child = ranges[name]
            if child.num is not None:  # (one total for a listing, asked with or without its paging)
                put(name, _listing_draw(ctx, int(child.num[0]), int(child.num[1])))
            if out[name] < least or last:
                put(name, least, clamp=False)


def _listing_draw(ctx: Context, low: int, high: int) -> int:
    """A number in [low, high] that every page of one listing draws alike: from the request's path values
    and query without its paging parameters."""
    asked = sorted((k, v) for k, v in ctx.query.items() if k.lower() not in _PAGING_NAMES)
    digest = hashlib.sha256(repr((sorted(ctx.params.items()), asked)).encode()).digest()
    return low + int.from_bytes(digest[:8], "big") % max(high - low + 1, 1)

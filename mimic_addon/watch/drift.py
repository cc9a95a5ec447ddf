"""Contract drift: compare one upstream response with the schema learned for it.

Pure: a parsed body and a `SchemaNode` in, a list of candidate `Change`s out, each with the
evidence its place in the document had (how often it was seen, how often it deviated before).
What counts as drift:

- BREAKING: a field present in every observation is missing; a type changed; a response that
  was always JSON is not JSON; an error status for a request shape that always succeeded.
- WARNING: a never-null field is null; a string format changed (uuid -> free text, date-time ->
  epoch number); a value outside a learned enum.
- INFO: a field never seen before.

A place is judged once it was seen `min_count` times, each place on its own evidence (at most
one sighting per answer counts, so fifty items of one list are not fifty answers). Objects are
judged against the variant they belong to (their tag's summary, `SchemaNode.variant_for`); an
object of a kind not seen yet (an unknown tag, or one that lacks several always-present fields,
a third of them at least, and brings fields never seen or is one of objects that vary) only
counts as evidence (`Change.shaky`). Optional fields (seen in only
some observations) being absent are not drift, unless they were almost always there: then a long
run of absences is needed, reported one label lower if the field went missing more than once
before (`ONE_OFF`), and likewise for a field rarely null arriving null; an optional field arriving
null is reported one label lower. Whether
a candidate is surprising enough to alert on is `evidence.py`'s business.
"""
from __future__ import annotations

import functools
import json
import re
from collections.abc import Container
from dataclasses import dataclass, replace
from typing import Any

from ..model.redact import REDACTED, is_sensitive_name, redact_json
from ..model.schema import TYPE_NAMES, SchemaNode, has_format, json_type

BREAKING, WARNING, INFO = "BREAKING", "WARNING", "INFO"
LABEL_RANK = {BREAKING: 3, WARNING: 2, INFO: 1}

# kind -> label
KINDS = {
    "missing_field": BREAKING,
    "type_changed": BREAKING,
    "not_json": BREAKING,
    "error_status": BREAKING,
    "null_value": WARNING,
    "format_changed": WARNING,
    "new_enum_value": WARNING,
    "new_field": INFO,
}

MAX_CHANGES = 50          # per response: a totally different body is one alert, not a novel
MAX_ITEMS_CHECKED = 3     # array items compared per array (first, middle and last): a
                          # change of a list's items shows in all of them
MAX_EXAMPLE_CHARS = 120
MAX_OBJECTS_LOOKED_INTO = 48  # per answer (objects and lists, depth first): bounded work per answer
_NUMERIC = frozenset(("integer", "number"))
_TYPE_SLOT = {name: i for i, name in enumerate(TYPE_NAMES)}  # index into SchemaNode.types
_JSON_TYPES = {dict: "object", list: "array", str: "string", int: "integer", float: "number", bool: "boolean",
               type(None): "null"}
_NULL_SLOT, _INT_SLOT, _NUM_SLOT = _TYPE_SLOT["null"], _TYPE_SLOT["integer"], _TYPE_SLOT["number"]
_BOOL_SLOT, _STR_SLOT, _OBJ_SLOT = _TYPE_SLOT["boolean"], _TYPE_SLOT["string"], _TYPE_SLOT["object"]
_ARR_SLOT = _TYPE_SLOT["array"]
_DATES = frozenset(("date-time", "date"))
ENUM_MIN_RATIO = 5        # observations per enum value before an unseen value is news
# Names of fields whose values are data, not a closed set, even when few were seen.
_OPEN_VALUE_WORDS = frozenset(("id", "ids", "uuid", "name", "username", "login", "email", "slug", "key", "title",
                               "code", "token", "url", "href", "uri", "path", "label", "description", "text",
                               "message", "nickname", "handle", "phone", "address", "firstname", "lastname"))


def _open_valued(key: str) -> bool:
    words = [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", key)]
    return bool(words) and (words[-1] in _OPEN_VALUE_WORDS or "".join(words) in _OPEN_VALUE_WORDS)


LABELS = (INFO, WARNING, BREAKING)


@dataclass(frozen=True, slots=True)
class Change:
    path: str        # JSON path: $.user.avatar_url, $.items[].id
    kind: str        # a key of KINDS
    expected: str    # what the learned schema says ("string", "string (uuid)", "present", ...)
    actual: str      # what arrived
    example: Any = None  # redacted, shortened example of the new value
    seen: int = 0        # the evidence: answers in which the place was learned ...
    exceptions: int = 0  # ... and how many of them already deviated this way (0: it never did)
    confidence: float = 1.0  # how sure the alert is that this is a change (evidence.py)
    grade: int = 0       # labels below the kind's: a field missing now and then before, gone, is a WARNING
    shaky: bool = False  # found in an object that looks like another kind of object: it counts as
                         # evidence (the answer is held back, the place's run goes on) but only a far
                         # longer run alerts on it alone (evidence.py)

    @property
    def label(self) -> str:
        return LABELS[max(0, LABELS.index(KINDS[self.kind]) - self.grade)]

    @property
    def key(self) -> tuple[str, str]:
        return self.path, self.kind

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "label": self.label,
                "expected": self.expected, "actual": self.actual, "example": self.example,
                "confidence": round(self.confidence, 4), "seen": self.seen, "exceptions": self.exceptions}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Change:
        kind = d["kind"]
        label = d.get("label", KINDS[kind])
        grade = LABELS.index(KINDS[kind]) - LABELS.index(label) if label in LABELS else 0
        return cls(d["path"], kind, d.get("expected", ""), d.get("actual", ""), d.get("example"),
                   d.get("seen", 0), d.get("exceptions", 0), d.get("confidence", 1.0), max(0, grade))


def example_of(value: Any, key: str = "") -> Any:
    """A redacted example small enough for a log line."""
    if key and is_sensitive_name(key) and value is not None and not isinstance(value, bool):
        return REDACTED
    safe = redact_json(value)
    if isinstance(safe, (dict, list)):
        text = json.dumps(safe, separators=(",", ":"), default=str)
        return safe if len(text) <= MAX_EXAMPLE_CHARS else text[:MAX_EXAMPLE_CHARS] + "…"
    if isinstance(safe, str) and len(safe) > MAX_EXAMPLE_CHARS:
        return safe[:MAX_EXAMPLE_CHARS] + "…"
    return safe


def _expected_types(counts: dict[str, int]) -> str:
    names = [n for n in counts if n != "null"]
    return " | ".join(names) or "null"


ALMOST_ALWAYS = 0.9   # an optional field present this often is watched (a far longer run) when it goes
ONE_OFF = 1           # deviations a place may have had and keep its label: once is an accident (a partial
                      # answer, one of another kind), not a habit its readers had to handle
UNKNOWN_KIND_MISSING = 2  # always-present fields lacking at once (and a third of them): maybe another shape of object


def compare(node: SchemaNode, value: Any, path: str = "$", min_count: int = 1) -> list[Change]:
    """The candidate changes of one parsed JSON body against what `node` learned (bounded work)."""
    return inspect(node, value, path, min_count)[0]


class _Everywhere:
    """A `watched` set holding every path."""

    def __contains__(self, path: object) -> bool:
        return True


EVERYWHERE = _Everywhere()
NOWHERE: frozenset[str] = frozenset()


def inspect(node: SchemaNode, value: Any, path: str = "$", min_count: int = 1,
            watched: Container[str] = EVERYWHERE) -> tuple[list[Change], set[str]]:
    """(candidate changes, the `watched` places this body had and that were judged as usual).

    Places observed fewer than `min_count` times (in as many answers) are still learning: they
    are not judged. The second part lets the caller drop a suspicion an answer contradicts (it
    names the places it follows: collecting every path would cost every answer dearly).
    """
    out: dict[tuple[str, str], Change] = {}
    fine: set[str] = set()
    watched, under = _watching(watched)
    _walk(node, value, path, "", out, fine, min_count, max(node.count, 1), watched, under, [MAX_OBJECTS_LOOKED_INTO])
    return list(out.values()), fine


def _watching(watched: Container[str]) -> tuple[Container[str], Container[str]]:
    """`watched` and the places holding a watched place further down (a subtree holding none is
    walked without looking its paths up): NOWHERE for an empty set, EVERYWHERE for any other
    container than a set."""
    if isinstance(watched, (set, frozenset)):
        return (watched, _ancestors(frozenset(watched))) if watched else (NOWHERE, NOWHERE)
    return watched, EVERYWHERE


@functools.lru_cache(maxsize=256)  # (the same places are followed answer after answer)
def _ancestors(paths: frozenset[str]) -> frozenset[str]:
    """Every path a place in `paths` lies under (`$.a[].b` lies under `$.a[]`, `$.a` and `$`).
    A name holding "." or "[" only adds paths that are no ancestors: harmless, they prune less."""
    out: set[str] = set()
    for p in paths:
        i = len(p)
        while (i := max(p.rfind(".", 0, i), p.rfind("[", 0, i))) > 0:
            q = p[:i]
            if q in out:  # (its own ancestors are in already)
                break
            out.add(q)
    return frozenset(out)


def grade_of(deviations: int) -> int:
    """Labels below its kind's for a change on a place that deviated `deviations` times before (as
    answers): one from two on, none for once (`ONE_OFF`)."""
    return 1 if deviations > ONE_OFF else 0


def per_answer(deviations: int, seen: int, sightings: int) -> int:
    """Deviations counted per sighting (list items: many per answer) as answers, the unit of `seen`
    (`evidence.chance` needs both in one unit): at least one if any."""
    if not deviations or sightings <= seen:
        return deviations
    return max(1, round(deviations * seen / sightings))


def _add(out: dict[tuple[str, str], Change], change: Change) -> None:
    if len(out) < MAX_CHANGES:
        out.setdefault(change.key, change)


def _walk(node: SchemaNode, value: Any, path: str, key: str, out: dict, fine: set[str], min_count: int,
          answers: int, watched: Container[str], under: Container[str], budget: list[int]) -> None:
    """Judge one place (and, bounded by `budget`, what it holds). `under`: the places holding a
    watched one (`_watching`); below a place not in it nothing is watched."""
    seen = node.count if node.count < answers else answers  # one sighting per answer at most (list items)
    if seen < min_count:
        return
    types = node.types  # counts per type slot, in _TYPE_SLOT order (read directly: this runs per place)
    t = _JSON_TYPES.get(type(value))
    if t is None:
        try:
            t = json_type(value)
        except TypeError:
            return
    if t == "null":
        nulls = types[_NULL_SLOT]
        if not nulls:
            _add(out, Change(path, "null_value", _expected_types(node.type_counts()), "null", None, seen, 0))
        elif nulls <= (1 - ALMOST_ALWAYS) * node.count:
            nulls = per_answer(nulls, seen, node.count)
            _add(out, Change(path, "null_value", _expected_types(node.type_counts()), "null", None, seen, nulls,
                             grade=grade_of(nulls)))
        elif path in watched:
            fine.add(path)
        return
    if not types[_TYPE_SLOT[t]] and not (t in _NUMERIC and (types[_INT_SLOT] or types[_NUM_SLOT])):
        counts = node.type_counts()
        if not counts:
            return
        fmt = node.string_format() if "string" in counts else None
        if fmt in _DATES and t in _NUMERIC:
            _add(out, Change(path, "format_changed", f"string ({fmt})", t, example_of(value, key), seen, 0))
        else:
            _add(out, Change(path, "type_changed", _expected_types(counts), t, example_of(value, key), seen, 0))
        return
    if t == "string":
        formats, enum = node.formats, node.enum
        if not formats and (not enum or value in enum):  # (what `_judge_string` finds of it, at once)
            if watched is not NOWHERE and path in watched:
                fine.add(path)
        else:
            _judge_string(node, value, path, key, out, fine, seen, watched)
        return
    if watched is not NOWHERE:
        if path in watched:
            fine.add(path)
        if path not in under:  # nothing watched below here
            watched = under = NOWHERE
    # the way to a followed place is walked past the budget: a run ends only where its place is
    # seen as usual, and a run not ended by the answers that had the place is no run in a row
    # (`under` is a set of paths, not NOWHERE nor EVERYWHERE, only on that way)
    if budget[0] <= 0 and (under is NOWHERE or not isinstance(under, frozenset)):
        return
    if t == "object":
        budget[0] -= 1
        _walk_object(node, value, path, out, fine, min_count, answers, watched, under, budget)
    elif t == "array":
        budget[0] -= 1
        _walk_array(node, value, path, key, out, fine, min_count, answers, watched, under, budget)


def _walk_object(node: SchemaNode, value: dict, path: str, out: dict, fine: set[str], min_count: int,
                 answers: int, watched: Container[str], under: Container[str], budget: list[int]) -> None:
    # (SchemaNode's slots are read directly below: this runs for every object of every answer)
    if node.additional is not None:  # a map: its keys are data
        return
    shaky_from = -1  # another kind of object: what is found in it from `out`'s length then is shaky
    if node.variants:
        summary = node.variant_for(value)
        if summary is None:  # a kind of object not seen before: judged against them all
            shaky_from = len(out)
        elif summary.object_count >= min_count:
            node = summary
    props = node.props or {}  # none: every object so far was {}
    total = node.types[_OBJ_SLOT]
    objects = total if total < answers else answers
    if objects < min_count:
        return
    if value.keys() != props.keys():
        mark = len(out)
        if _judge_keys(node, props, value, path, out, total, objects) and shaky_from < 0:
            shaky_from = mark
    get = props.get
    for name, v in value.items():
        child = get(name)
        if child is None or child.count < min_count:  # (answers >= objects >= min_count here)
            continue  # unknown (reported by _judge_keys), or still learning
        # the common values, inline: a number, boolean or plain string of a type seen here is
        # fine, an object or list of a type seen here is entered (`_walk`'s steps for them)
        tv = type(v)
        types = child.types
        if tv is str:
            if types[_STR_SLOT] and ((not child.formats and (not (enum := child.enum) or v in enum))
                                     or child.string_fits(v)):
                if watched is not NOWHERE and (p := f"{path}.{name}") in watched:
                    fine.add(p)
                continue
        elif tv is int or tv is float:
            if types[_INT_SLOT] or types[_NUM_SLOT]:
                if watched is not NOWHERE and (p := f"{path}.{name}") in watched:
                    fine.add(p)
                continue
        elif tv is dict:
            if types[_OBJ_SLOT] and watched is NOWHERE:
                if budget[0] > 0:
                    budget[0] -= 1
                    _walk_object(child, v, f"{path}.{name}", out, fine, min_count, answers, NOWHERE, NOWHERE, budget)
                continue
        elif tv is list:
            if types[_ARR_SLOT] and watched is NOWHERE:
                if budget[0] > 0:
                    budget[0] -= 1
                    _walk_array(child, v, f"{path}.{name}", name, out, fine, min_count, answers, NOWHERE, NOWHERE,
                                budget)
                continue
        elif tv is bool:
            if types[_BOOL_SLOT]:
                if watched is not NOWHERE and (p := f"{path}.{name}") in watched:
                    fine.add(p)
                continue
        elif v is None:
            nulls = types[_NULL_SLOT]
            if nulls > (1 - ALMOST_ALWAYS) * child.count:  # null as often before (`_walk`'s verdict)
                if watched is not NOWHERE and (p := f"{path}.{name}") in watched:
                    fine.add(p)
                continue
            if child.count < ALMOST_ALWAYS * total:
                # an optional field arriving null: its readers already handle it missing (one label lower)
                seen = min(child.count, answers)
                _add(out, Change(f"{path}.{name}", "null_value", _expected_types(child.type_counts()), "null", None,
                                 seen, per_answer(nulls, seen, child.count), grade=1))
                continue
        _walk(child, v, f"{path}.{name}", name, out, fine, min_count, answers, watched, under, budget)
    if shaky_from >= 0:
        for k in list(out)[shaky_from:]:
            c = out[k]
            if not c.shaky:  # (found deeper in another object of another kind: marked already)
                out[k] = replace(c, shaky=True)


def _judge_keys(node: SchemaNode, props: dict[str, SchemaNode], value: dict, path: str, out: dict, total: int,
                objects: int) -> bool:
    """Fields gone from and new to one object (whose keys differ from the learned ones); True
    when the object looks like another kind of object (or a sparser shape of it): what was
    found in it is then only evidence (shaky, marked by the caller)."""
    floor = ALMOST_ALWAYS * total
    missing = [(name, present) for name in _near_always(node, props, total)
               if name not in value and (present := props[name].count) >= floor]  # (in learned order)
    new = [name for name in value.keys() - props.keys() if isinstance(name, str)] \
        if not value.keys() <= props.keys() else ()
    if not missing and not new:
        return False
    # several always-present fields gone at once (a third of them at least), where objects already
    # varied in shape (some fields optional) or with fields never seen: maybe another kind or a
    # sparser shape of the object (a summary), not fields removed; two of many gone are two changes
    # (or a removal beside an optional field that only looked always present)
    gone_always = sum(1 for _, present in missing if present >= total)
    other_kind = False
    if gone_always >= UNKNOWN_KIND_MISSING:
        always = sum(1 for child in props.values() if child.count >= total)
        other_kind = (bool(new) or always < len(props)) and 3 * gone_always >= always
    for name, present in missing:
        if len(out) >= MAX_CHANGES:  # (as `_add` would: only so as not to build what it drops)
            return other_kind
        lacked = per_answer(total - present, objects, total) if present < total else 0  # (went without it)
        _add(out, Change(f"{path}.{name}", "missing_field", "present", "missing", None, objects, lacked,
                         grade=grade_of(lacked)))
    for name in new:
        if len(out) >= MAX_CHANGES:
            break
        v = value[name]
        _add(out, Change(f"{path}.{name}", "new_field", "absent", _type_name(v), example_of(v, name), objects, 0))
    return other_kind


def _near_always(node: SchemaNode, props: dict[str, SchemaNode], total: int) -> tuple[str, ...]:
    """The fields of `node`'s objects (`props`, learned order) that may be in ALMOST_ALWAYS of
    them (`total`): a superset, worked out once for the next quarter more objects, during which a
    field's count grows by at most as many as the objects do. Judging an object then looks at
    these few, not at every optional field its kind ever had (`_judge_keys`)."""
    memo = node.watch_memo
    if memo is not None and memo[0] is props and memo[1] == len(props) and memo[2] <= total <= memo[3]:
        return memo[4]
    until = total + total // 4 + 4
    least = total - (1 - ALMOST_ALWAYS) * until - 1  # (a count below it cannot reach the floor by `until`)
    names = tuple(name for name, child in props.items() if child.count >= least)
    node.watch_memo = (props, len(props), total, until, names)
    return names


def _walk_array(node: SchemaNode, value: list, path: str, key: str, out: dict, fine: set[str], min_count: int,
                answers: int, watched: Container[str], under: Container[str], budget: list[int]) -> None:
    items = node.items
    if items is None or not value:
        return
    n = len(value)
    picks = range(n) if n <= MAX_ITEMS_CHECKED else \
        tuple(i * (n - 1) // (MAX_ITEMS_CHECKED - 1) for i in range(MAX_ITEMS_CHECKED))  # (spread: each differs)
    if budget[0] <= 0:  # past the budget, on the way to a followed place (`_walk`): one item per list
        picks = picks[:1]
    within = min(answers, node.types[_ARR_SLOT])  # answers that had this list at most
    prefix = path + "[]"
    before = len(out)
    if (items.count if items.count < within else within) < min_count:
        return  # (the items are still learning)
    types = items.types
    objects = types[_OBJ_SLOT] and watched is NOWHERE
    words = types[_STR_SLOT] and not items.formats and watched is NOWHERE
    enum = items.enum
    starts = []  # per pick, the candidates in `out` before it (those after it, up to the next one's: its finds)
    for i in picks:
        v = value[i]
        tv = type(v)
        starts.append(len(out))
        if objects and tv is dict:  # (`_walk`'s steps for it, inline)
            if budget[0] > 0:
                budget[0] -= 1
                _walk_object(items, v, prefix, out, fine, min_count, within, NOWHERE, NOWHERE, budget)
        elif words and tv is str and (not enum or v in enum):
            continue  # (nothing to say of it, as in `_walk`)
        else:
            _walk(items, v, prefix, key, out, fine, min_count, within, watched, under, budget)
    if len(out) > before and len(picks) > 1:  # (rare: only when a candidate turned up)
        # a place some items had as usual and others not varies within one answer: no change
        keys = list(out)
        found = [k for k in keys[before:] if k[1] != "new_field" and k[0].startswith(prefix)]
        usual: set[str] = set()
        starts.append(len(keys))
        for j, i in enumerate(picks):
            # an item's own finds are not looked for again in it: its nested lists settled them (a
            # key holding "." or "[" that gives two of its places one path is the exception: the
            # other place as usual no longer drops the change)
            own = set(keys[starts[j]:starts[j + 1]])
            paths = frozenset(k[0] for k in found if k not in own)
            if paths:
                _walk(items, value[i], prefix, key, {}, usual, min_count, within, paths, _ancestors(paths),
                      [MAX_OBJECTS_LOOKED_INTO])
        for k in found:
            if k[0] in usual:
                del out[k]
        fine.update(p for p in usual if p in watched)


def _judge_string(node: SchemaNode, value: str, path: str, key: str, out: dict, fine: set[str], seen: int,
                  watched: Container[str]) -> None:
    fmt = node.string_format()
    if fmt and not has_format(value, fmt):
        _add(out, Change(path, "format_changed", f"string ({fmt})", "string", example_of(value, key), seen, 0))
        return
    enum = None if node.value_seen(value) else node.enum_values()
    if enum and value not in enum and node.types[_STR_SLOT] >= ENUM_MIN_RATIO * len(enum) \
            and not _open_valued(key):
        _add(out, Change(path, "new_enum_value", "one of " + ", ".join(enum), "string", example_of(value, key),
                         seen, 0))
        return
    if path in watched:
        fine.add(path)


def _type_name(value: Any) -> str:
    try:
        return json_type(value)
    except TypeError:
        return "unknown"


def check_response(schema: SchemaNode | None, always_json: bool, body: Any, is_json: bool,
                   status: int, shape_successes: int, min_count: int = 1,
                   watched: Container[str] = EVERYWHERE) -> tuple[list[Change], set[str]]:
    """Every candidate change of one response (the status, then JSON-ness, then the body's
    fields) and the places it had as usual (see `inspect`).

    `schema` is the learned schema of this status (None: nothing to compare yet); `always_json`:
    every body learned for this status was JSON; `shape_successes`: how often this request shape
    was answered with 2xx while it never failed before this run of errors (0: not applicable).
    """
    changes: list[Change] = []
    if status >= 400 and shape_successes:
        changes.append(Change("$", "error_status", "2xx", str(status), None, shape_successes, 0))
    if schema is None:
        return changes, set()
    if not is_json:
        if always_json:
            changes.append(Change("$", "not_json", "JSON", "not JSON", None, schema.count, 0))
        return changes, set()
    found, fine = inspect(schema, body, min_count=min_count, watched=watched)
    changes.extend(found)
    return changes, fine


def label_of(changes: list[Change]) -> str | None:
    """The worst label among the changes (None when there are none)."""
    return max((c.label for c in changes), key=LABEL_RANK.__getitem__, default=None)


def summary(changes: list[Change]) -> str:
    """One line: "2 breaking, 1 warning"."""
    parts = []
    for label in (BREAKING, WARNING, INFO):
        n = sum(1 for c in changes if c.label == label)
        if n:
            parts.append(f"{n} {label.lower()}")
    return ", ".join(parts) or "no changes"


def score(changes: list[Change]) -> int:
    """Drift score 0-100: breaking changes weigh most; a few of them saturate it."""
    weights = {BREAKING: 40, WARNING: 15, INFO: 3}
    return min(100, sum(weights[c.label] for c in changes))

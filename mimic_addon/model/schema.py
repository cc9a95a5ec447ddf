"""Mergeable JSON-schema inference: a bounded summary of every JSON value seen at one place.

A `SchemaNode` counts types and keeps per-type facets (ranges, lengths, formats, enum
candidates, object properties, array items).  Every facet is a monotone function of the
multiset of observed values, so merging two summaries equals observing both streams.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, TypeGuard, cast

from .redact import REDACTED, is_personal_name

MAX_DEPTH = 12
MAX_PROPERTIES = 200
MAX_ENUM_TRACKED = 64
# A set of values may grow past MAX_ENUM_TRACKED while they keep coming back (at least one sighting in
# GROWN_MIN_REPEATS repeats a value seen before), up to MAX_ENUM_GROWN: a vocabulary of product categories
# does, ids and names do not. Uniform draws from 100 words repeat a third of the time by the 65th word.
MAX_ENUM_GROWN = 256
GROWN_MIN_REPEATS = 4
# Values of a closed set that are not words (`Gift Card`, `818`, `pay on delivery`): tracked
# beside the words (for mocks only: no enum, no drift), this many before repeats must vouch for more.
MAX_LOOSE = 4
MAX_ARRAY_ITEMS = 50  # items sampled per array value; the rest only count towards its length
ENUM_EMIT_MAX = 10
ENUM_MAX_LEN = 64  # long dotted or underscored names of object kinds are still words of a closed set
ENUM_MIN_RATIO = 3
MAX_EXAMPLES = 64  # observed values exported as `examples` (a closed set not emitted as an enum)
DECLARED_ENUM_MAX = 256  # values a declared (imported) enum may keep
OBSERVED_VALUES_KEY = "x-mimic-observed-values"  # marks `examples` as every value observed, not a contract
# Hints: how a node's facets came about when not (only) from observation (an imported schema).
HINT_STR_MIN, HINT_STR_MAX = 1, 2      # length bounds are defaults, never declared nor observed
HINT_ARR_MIN, HINT_ARR_MAX = 4, 8      # item count bounds likewise
HINT_NUM_MIN, HINT_NUM_MAX = 16, 32    # value range likewise
HINT_OPEN_VALUES = 64                  # the string values are samples of an open set: never an enum
HINT_DECLARED_ENUM = 128               # the string values are a declared enum: emitted however often seen
HINT_CLOSED = 256                      # a declared object taking no other property (`additionalProperties:
                                       # false`), until traffic shows one
MAX_FIRSTS = 16   # distinct first characters of strings remembered (their shape)
MAX_SKELETONS = 4  # distinct skeletons of strings remembered (`123-456` -> `x-x`), None once more
SKELETON_MAX_LEN = 8  # a longer skeleton is text, not an identifier's layout
_ALNUM_RUNS = re.compile(r"[A-Za-z0-9]+")
SHAPE_MAX_LEN = 64
MAX_VARIANTS = 32  # discriminated variants kept per object node
MAX_KEYSETS = 8    # distinct sets of keys remembered per object node (which optional keys come together)
VARIANT_NESTING = 3  # variants within variants: at most this many levels
VARIANT_MIN_OBJECTS = 2  # objects a node must have seen before its variants are emitted
# Properties that may tag an object with its variant (`{"type": "text", ...}`), by priority: an
# object's discriminator is the first of them it has with an identifier-like string value.
DISCRIMINATORS = ("type", "object", "kind", "event", "__typename", "@type", "role", "status")
_DISC_RANK = {name: i for i, name in enumerate(DISCRIMINATORS)}
# Else a property named for the kind of a small object (`{"rule_type": "range", "field", "op", "value"}`)
# may tag it: mocks keep each kind's fields and values together. In a larger record such a property is
# more often one attribute among many (a file's `mime_type`); and a schema describes these variants as
# one object (they are not `active_variants` unless `alike`).
_TYPE_KEY = re.compile(r".+(?:[_.\-][Tt]ype|[a-z0-9]Type)")
TYPE_KEY_MAX_KEYS = 8

# Character classes of strings, so that synthetic values can keep their shape (`U024BE7LH`).
CHAR_LOWER, CHAR_UPPER, CHAR_DIGIT, CHAR_OTHER = 1, 2, 4, 8
CHAR_ALL = 15
_DIGIT = re.compile(r"\d")


def _matches(pattern: str, value: str) -> bool:
    """Does a string satisfy a JSON Schema `pattern`? (pattern_shape imports this module.)"""
    from .pattern_shape import pattern_matches

    return pattern_matches(pattern, value)


def char_classes(s: str) -> int:
    """Bitmask of the CHAR_* classes in `s` (all of them for text)."""
    if len(s) > SHAPE_MAX_LEN or " " in s:  # text: its shape is no format
        return CHAR_ALL
    if s.isalpha():  # the common cases first, each a single C call
        return CHAR_LOWER if s.islower() else CHAR_UPPER if s.isupper() else CHAR_LOWER | CHAR_UPPER
    if s.isdigit():
        return CHAR_DIGIT
    mask = 0 if s.isalnum() or not s else CHAR_OTHER
    if s.upper() != s:
        mask |= CHAR_LOWER
    if s.lower() != s:
        mask |= CHAR_UPPER
    if _DIGIT.search(s):
        mask |= CHAR_DIGIT
    return mask

# Type slots, in the order a union type is emitted.
_OBJ, _ARR, _STR, _INT, _NUM, _BOOL, _NULL = range(7)
_TYPE_NAMES = ("object", "array", "string", "integer", "number", "boolean", "null")
TYPE_NAMES = _TYPE_NAMES  # the type of each slot of `SchemaNode.types` (for readers that count fast)
_TYPE_CODES = ("o", "a", "s", "i", "f", "b", "z")  # compact keys for to_dict
_CODE_SLOT = {c: i for i, c in enumerate(_TYPE_CODES)}

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_DATE = re.compile(r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])")
_DATE_TIME = re.compile(
    r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)"
    r"(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)"
)
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s/?#]+[^\s]*")
_ENUM_VALUE = re.compile(r"[A-Za-z][A-Za-z0-9_.:/+\-]*")
# Enum words may also start with a digit when a letter follows (`1024x1024`, `4g`, `24h`, `2xl`); not
# numbers, dates, times or versions (`42`, `2024-05-01`, `10:30`, `1.2.3`), which have no letter or a `:`.
# Two or three plain words, lower case after the first, are a value of a closed set too (`not ready`,
# `in store`, `Uploaded by`); a sentence (more words, punctuation) or a person's name (`Ann Smith`) is not.
# A leading underscore is a reserved word's (`_blank`, `_self`).
_ENUM_WORD = re.compile(r"_?[A-Za-z][A-Za-z0-9_.:/+\-]*|\d[0-9_.\-]*[A-Za-z][A-Za-z0-9_.\-]*"
                        r"|[A-Za-z][A-Za-z0-9_\-]*(?: [a-z0-9][a-z0-9_\-]*){1,2}")
_LONG_DIGITS = re.compile(r"\d{5}")
_HEX = frozenset("0123456789abcdefABCDEF")
_NUMBER_TEXT = re.compile(r"-?(0|[1-9]\d{0,14})(\.\d+)?([eE][+-]?\d{1,3})?")


def _is_uuid(s: str) -> bool:
    return len(s) == 36 and s[8] == "-" and _UUID.fullmatch(s) is not None


def _is_email(s: str) -> bool:
    return "@" in s and len(s) <= 254 and _EMAIL.fullmatch(s) is not None


def _is_date(s: str) -> bool:
    return len(s) == 10 and s[4] == "-" and _DATE.fullmatch(s) is not None


def _is_date_time(s: str) -> bool:
    return 20 <= len(s) <= 40 and s[4] == "-" and _DATE_TIME.fullmatch(s) is not None


def _is_uri(s: str) -> bool:
    return "://" in s and len(s) <= 2048 and _URI.fullmatch(s) is not None


def _is_ipv4(s: str) -> bool:
    if not 7 <= len(s) <= 15 or not s[0].isdigit() or s.count(".") != 3:
        return False
    parts = s.split(".")
    return len(parts) == 4 and all(
        p.isascii() and p.isdigit() and len(p) <= 3 and (p == "0" or p[0] != "0") and int(p) <= 255
        for p in parts
    )


# Emission priority when several formats survive (they are practically disjoint).
_FORMAT_CHECKS = {
    "uuid": _is_uuid,
    "email": _is_email,
    "date-time": _is_date_time,
    "date": _is_date,
    "uri": _is_uri,
    "ipv4": _is_ipv4,
}
_ALL_FORMATS = frozenset(_FORMAT_CHECKS)
_NO_FORMATS: frozenset[str] = frozenset()


_FIRST_FORMAT: dict[frozenset[str], str] = {}


def _first_format(formats: frozenset[str]) -> str:
    """The format emitted for a non-empty set of surviving ones (by `_FORMAT_CHECKS` priority)."""
    name = _FIRST_FORMAT.get(formats)
    if name is None:  # (at most 63 subsets of the six formats)
        name = _FIRST_FORMAT[formats] = next(f for f in _FORMAT_CHECKS if f in formats)
    return name


def has_format(s: str, name: str) -> bool:
    """Does the string have this format (a name `SchemaNode.string_format` returns)?"""
    return _FORMAT_CHECKS[name](s)


def _surviving_formats(s: str, candidates: frozenset[str]) -> frozenset[str]:
    if len(candidates) == 1:
        (name,) = candidates
        return candidates if _FORMAT_CHECKS[name](s) else _NO_FORMATS
    return frozenset(name for name in candidates if _FORMAT_CHECKS[name](s))


def string_skeleton(s: str) -> str:
    """The layout of a string: each run of letters and digits as `x`, the rest kept (`123-456` -> `x-x`)."""
    return _ALNUM_RUNS.sub("x", s)


def _enum_candidate(s: str) -> bool:
    """Short identifier-like words (or ""): not free text, ids, numbers or addresses."""
    return not s or (
        len(s) <= ENUM_MAX_LEN
        and _ENUM_WORD.fullmatch(s) is not None
        and _LONG_DIGITS.search(s) is None
    )


TAG_MAX_LEN = 64


def _tag_candidate(s: object) -> TypeGuard[str]:
    """Could this value name an object's variant (`"text"`, `"organization.usage.images.result"`)?"""
    return (type(s) is str and 0 < len(s) <= TAG_MAX_LEN
            and _ENUM_VALUE.fullmatch(s) is not None and _LONG_DIGITS.search(s) is None)


def _id_like_key(key: str) -> bool:
    """Keys that are data (numeric ids, UUIDs, hashes) mark an object as a map."""
    if key.isascii() and key.isdigit():
        return True
    if len(key) == 36:
        return _is_uuid(key)
    return len(key) >= 16 and all(c in _HEX for c in key) and any(c.isdigit() for c in key)


def json_type(value: object) -> str:
    """The JSON Schema type name of a decoded JSON value (bool before int; float is number)."""
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
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def coerce_scalar(text: str) -> object:
    """Interpret a query-string value: "42" -> 42, "3.5" -> 3.5, "true" -> True, else the text.

    Numbers with leading zeros ("007") or more than 15 integer digits stay strings: they are
    codes or ids, not quantities.
    """
    if text == "true":
        return True
    if text == "false":
        return False
    if not text or text[0] not in "-0123456789" or _NUMBER_TEXT.fullmatch(text) is None:
        return text
    if "." in text or "e" in text or "E" in text:
        number = float(text)
        return number if math.isfinite(number) else text
    return int(text)


@dataclass(frozen=True, slots=True)
class _Limits:
    max_depth: int
    max_properties: int
    max_enum: int
    max_array_items: int


_PLAIN_TYPES = {"boolean": bool, "integer": int, "number": float, "string": str, "array": list, "object": dict}


def _plain(value: object) -> object:
    """The plain JSON value behind a subclass (IntEnum, OrderedDict, tuple); TypeError otherwise."""
    return _PLAIN_TYPES[json_type(value)](value)


class SchemaNode:
    """Summary of every JSON value observed at one place in a document."""

    __slots__ = (
        "count", "types", "depth", "limits", "empty",
        "props", "additional", "items", "arr_min", "arr_max",
        "num_min", "num_max", "str_min", "str_max", "formats", "enum", "loose", "enum_overflow",
        "chars", "firsts", "skeletons", "flat", "vlevel", "vdead", "vkey", "variants", "hints", "pattern",
        "keysets", "watch_memo", "trues",
    )

    def __init__(
        self,
        *,
        max_depth: int = MAX_DEPTH,
        max_properties: int = MAX_PROPERTIES,
        max_enum: int = MAX_ENUM_TRACKED,
        max_array_items: int = MAX_ARRAY_ITEMS,
    ) -> None:
        self._reset(0, _Limits(max_depth, max_properties, max_enum, max_array_items))

    def _reset(self, depth: int, limits: _Limits, vlevel: int = VARIANT_NESTING, flat: bool = False) -> None:
        self.count = 0
        self.types = [0] * 7
        self.trues: int | None = 0  # booleans seen true, among types[_BOOL] (None: not known, a store before)
        self.empty = 0  # objects seen without any key (`{}`), among types[_OBJ]
        self.depth = depth
        self.limits = limits
        self.props: dict[str, SchemaNode] | None = None
        # the objects' sets of keys and how often each came (`{created, valid}` vs `{deleted}`: the
        # optional keys that come together); None once more than MAX_KEYSETS, or for a map
        self.keysets: dict[frozenset[str], int] | None = {}
        self.additional: SchemaNode | None = None  # set once the object is treated as a map
        self.items: SchemaNode | None = None
        self.arr_min: int | None = None
        self.arr_max: int | None = None
        self.num_min: int | float | None = None
        self.num_max: int | float | None = None
        self.str_min: int | None = None
        self.str_max: int | None = None
        self.formats: frozenset[str] | None = None  # formats every string had; None: no strings
        self.enum: set[str] | None = None
        self.loose: set[str] | None = None  # values of the set that are not words (see MAX_LOOSE)
        self.enum_overflow = False
        self.hints = 0                       # HINT_* bits (imported nodes)
        self.chars = 0                       # CHAR_* classes seen in strings (their shape)
        self.firsts: set[str] | None = set() # first characters seen, None once too many
        self.skeletons: set[str] | None = set()  # layouts of the strings (`x-x`), None once too many
        self.pattern: str | None = None      # an imported `pattern` every string matched (mocks follow it)
        # Discriminated variants: every object seen had the discriminator `vkey`; one summary per
        # value.  `vdead` once an object had none (or another), or there were too many values.
        # A variant summary is `flat` (it tracks no variants itself); below it, objects may have
        # variants again, down to `vlevel` levels of variants within variants.
        self.flat = flat = flat or vlevel <= 0
        self.vlevel = vlevel
        self.vdead = flat
        self.vkey: str | None = None
        self.variants: dict[str, SchemaNode | None] | None = None
        # what the drift watch worked out of this node's properties, and holds them (`drift._near_always`)
        self.watch_memo: Any = None

    def _child(self) -> SchemaNode:
        node = SchemaNode.__new__(SchemaNode)
        node._reset(self.depth + 1, self.limits, self.vlevel)
        return node

    def _variant_node(self) -> SchemaNode:
        node = SchemaNode.__new__(SchemaNode)
        node._reset(self.depth, self.limits, self.vlevel - 1, True)
        return node

    def _objects_copy(self, source: SchemaNode, objects: int) -> SchemaNode:
        """A variant summary of the `objects` objects `source` has seen (all with one tag)."""
        node = self._variant_node()
        node.count = node.types[_OBJ] = objects
        node._merge_object(source)
        return node

    def _kill_variants(self) -> None:
        self.vdead = True
        self.vkey = self.variants = None

    # -- observing ---------------------------------------------------------------------------

    def observe(self, value: Any) -> None:
        """Add one decoded JSON value to the summary."""
        # Hot path: exact-type dispatch, string handling inlined (it runs on every sampled body).
        t = type(value)
        if t is str:
            self.count += 1
            self.types[_STR] += 1
            if value == REDACTED:
                return  # a secret's placeholder says nothing of the values' length, format or shape
            enum = self.enum
            if enum is not None and value in enum and not self.hints and self.pattern is None:
                return  # seen here before: its length, format and shape are in the summary already
            n = len(value)
            if self.str_min is None:
                self.str_min = self.str_max = n
            elif n < self.str_min:
                self.str_min = n
            elif n > self.str_max:  # type: ignore[operator]  # set together with str_min
                self.str_max = n
            formats = self.formats
            if formats is None:
                self.formats = _surviving_formats(value, _ALL_FORMATS)
            elif formats:
                self.formats = _surviving_formats(value, formats)
            if not self.enum_overflow:
                self._track_enum(value)
            if self.chars != CHAR_ALL or self.firsts is not None or self.skeletons is not None:
                self._track_shape(value)
            if self.pattern is not None and not _matches(self.pattern, value):
                self.pattern = None
        elif t is dict:
            self.count += 1
            self.types[_OBJ] += 1
            if not value:
                self.empty += 1
            if self.depth < self.limits.max_depth:
                self._observe_obj(value)
        elif t is int or t is float:
            self.count += 1
            if t is int:
                self.types[_INT] += 1
            else:
                self.types[_NUM] += 1
                if not math.isfinite(value):
                    return
            if self.num_min is None:
                self.num_min = self.num_max = value
            elif value < self.num_min:
                self.num_min = value
            elif value > self.num_max:
                self.num_max = value
        elif t is list:
            self.count += 1
            self.types[_ARR] += 1
            self._observe_arr(value)
        elif t is bool:
            self.count += 1
            self.types[_BOOL] += 1
            if value and self.trues is not None:
                self.trues += 1
        elif value is None:
            self.count += 1
            self.types[_NULL] += 1
        else:
            self.observe(_plain(value))

    def _track_shape(self, value: str) -> None:
        if self.chars != CHAR_ALL:
            self.chars |= char_classes(value)
        firsts = self.firsts
        if value and firsts is not None and value[0] not in firsts:
            firsts.add(value[0])
            if len(firsts) > MAX_FIRSTS:
                self.firsts = None
        skeletons = self.skeletons
        if skeletons is not None:
            skeleton = "x" if value.isalnum() and value.isascii() else string_skeleton(value)
            if skeleton not in skeletons:
                skeletons.add(skeleton)
                if len(skeletons) > MAX_SKELETONS or len(skeleton) > SKELETON_MAX_LEN:
                    self.skeletons = None

    def _track_enum(self, value: str) -> None:
        enum = self.enum
        if enum is None:
            enum = self.enum = set()
        if value in enum:
            return
        loose = self.loose
        if loose is None:
            size = len(enum)
        elif value in loose:
            return
        else:
            size = len(enum) + len(loose)
        if size >= self.limits.max_enum and not self._grows(size + 1):
            self._overflow()
        elif _enum_candidate(value):
            enum.add(value)
        elif self._loose_candidate(value) and (loose is None or len(loose) < MAX_LOOSE or self._grows(size + 1)):
            if loose is None:
                loose = self.loose = set()
            loose.add(value)
        else:
            self._overflow()

    def _grows(self, distinct: int) -> bool:
        """May the tracked set hold `distinct` values: do the strings seen here keep coming back (see
        GROWN_MIN_REPEATS), as the words of a closed set do and ids or names do not?"""
        seen = self.types[_STR]
        return distinct <= MAX_ENUM_GROWN and (seen - distinct) * GROWN_MIN_REPEATS >= seen

    def _loose_candidate(self, value: str) -> bool:
        """A short one-line value that may belong to a closed set without being a word: not a formatted
        value (date, UUID, ...) nor an id with long digit runs."""
        return (len(value) <= ENUM_MAX_LEN and not self.formats and "\n" not in value
                and _LONG_DIGITS.search(value) is None)

    def _overflow(self) -> None:
        self.enum = self.loose = None
        self.enum_overflow = True

    def _observe_variant(self, value: dict[str, Any]) -> None:
        vkey = self.vkey
        tag = value.get(vkey) if vkey is not None else None
        if _tag_candidate(tag):
            # the object's discriminator is vkey unless it has a valid one of higher priority
            # (vkey is not None here: the tag was read from it)
            for name in DISCRIMINATORS[:_DISC_RANK.get(vkey, len(DISCRIMINATORS))]:  # type: ignore[arg-type]
                other = value.get(name)
                if _tag_candidate(other):
                    self._kill_variants()
                    return
        else:
            for name in DISCRIMINATORS:
                tag = value.get(name)
                if _tag_candidate(tag):
                    break
            else:
                typed = next((k for k, v in value.items() if _TYPE_KEY.fullmatch(k) and _tag_candidate(v)), None) \
                    if len(value) <= TYPE_KEY_MAX_KEYS else None
                if typed is None:
                    self._kill_variants()
                    return
                name = typed
                tag = value[name]
            if vkey is not None:  # a different discriminator
                self._kill_variants()
                return
            self.vkey, self.variants = name, {}
        variants = self.variants
        assert variants is not None  # set together with vkey, which is set by now
        if tag in variants:
            node = variants[tag]
            if node is None:  # the only tag so far: this node's own properties are its summary
                return
        elif not variants:
            variants[tag] = None
            return
        else:
            if len(variants) >= MAX_VARIANTS:
                self._kill_variants()
                return
            if len(variants) == 1:  # a second tag: the first one gets its own summary now
                (first,) = variants
                variants[first] = self._objects_copy(self, self.types[_OBJ] - 1)
            node = variants[tag] = self._variant_node()
        node.count += 1
        node.types[_OBJ] += 1
        node._observe_obj(value)

    def _observe_obj(self, value: dict[str, Any]) -> None:
        if not self.vdead:
            self._observe_variant(value)
        keysets = self.keysets
        if keysets is not None:
            keys = frozenset(value)
            if keys in keysets:
                keysets[keys] += 1
            elif len(keysets) < MAX_KEYSETS:
                keysets[keys] = 1
            else:
                self.keysets = None
        if self.additional is not None:
            additional = self.additional
            for v in value.values():
                additional.observe(v)
            return
        props = self.props
        if props is None:
            props = self.props = {}
        entries = iter(value.items())
        for key, v in entries:
            child = props.get(key)
            if child is None:
                if len(props) >= self.limits.max_properties or _id_like_key(key):
                    additional = self._become_map()
                    additional.observe(v)
                    for _, rest in entries:
                        additional.observe(rest)
                    return
                child = props[key] = self._child()
                self.hints &= ~HINT_CLOSED  # (a property the declared object was closed to: it is not)
            # the plainest values inline (`observe`'s steps for them): this loop runs for every field
            t = type(v)
            if t is bool:
                child.count += 1
                child.types[_BOOL] += 1
                if v and child.trues is not None:
                    child.trues += 1
            elif v is None:
                child.count += 1
                child.types[_NULL] += 1
            elif t is str and (enum := child.enum) is not None and v in enum and not child.hints \
                    and child.pattern is None:  # a word of the set seen here: nothing new but its count
                child.count += 1
                child.types[_STR] += 1
            else:
                child.observe(v)

    def _observe_arr(self, value: list[Any]) -> None:
        n = len(value)
        if self.arr_min is None:
            self.arr_min = self.arr_max = n
        elif n < self.arr_min:
            self.arr_min = n
        elif n > self.arr_max:  # type: ignore[operator]  # set together with arr_min
            self.arr_max = n
        if self.depth >= self.limits.max_depth or not n:
            return
        items = self.items
        if items is None:
            items = self.items = self._child()
        cap = self.limits.max_array_items
        if n <= cap:
            for v in value:
                items.observe(v)
            return
        # Evenly spaced sample from first to last item: sorted data keeps its range.
        last, span = n - 1, max(cap - 1, 1)
        for i in range(cap):
            items.observe(value[i * last // span])

    def _become_map(self) -> SchemaNode:
        """Fold every property into one `additionalProperties` node."""
        if not self.flat:
            self._kill_variants()
        additional = self._child()
        for child in (self.props or {}).values():
            additional.merge(child)
        self.props = None
        self.keysets = None
        self.watch_memo = None  # (it holds the properties: a map's keys are never judged)
        self.additional = additional
        return additional

    # -- merging -----------------------------------------------------------------------------

    def merge(self, other: SchemaNode) -> None:
        """Fold `other` into this node; `other` is left unchanged and shares nothing with it."""
        self.count += other.count
        self.types = [a + b for a, b in zip(self.types, other.types)]
        self.trues = None if self.trues is None or other.trues is None else self.trues + other.trues
        self.empty += other.empty
        self.arr_min, self.arr_max = _merge_range(self.arr_min, self.arr_max, other.arr_min, other.arr_max)
        self.num_min, self.num_max = _merge_range(self.num_min, self.num_max, other.num_min, other.num_max)
        self.str_min, self.str_max = _merge_range(self.str_min, self.str_max, other.str_min, other.str_max)
        if other.formats is not None:
            self.formats = other.formats if self.formats is None else self.formats & other.formats
        self._merge_enum(other)
        closed = True
        if (self.hints | other.hints) & HINT_CLOSED:  # closed still when the other side adds no property
            mine, theirs = set(self.props or ()), set(other.props or ())
            closed = bool(self.hints & HINT_CLOSED and theirs <= mine or other.hints & HINT_CLOSED and mine <= theirs)
        self.hints |= other.hints
        if self.hints & HINT_CLOSED and not closed:
            self.hints &= ~HINT_CLOSED
        if not other.types[_STR]:
            pass
        elif not self.types[_STR] - other.types[_STR]:
            self.pattern = other.pattern
        elif self.pattern != other.pattern:
            self.pattern = None
        self.chars |= other.chars
        if self.skeletons is not None:
            self.skeletons = None if other.skeletons is None else self.skeletons | other.skeletons
            if self.skeletons is not None and len(self.skeletons) > MAX_SKELETONS:
                self.skeletons = None
        if self.firsts is not None:
            self.firsts = None if other.firsts is None else self.firsts | other.firsts
            if self.firsts is not None and len(self.firsts) > MAX_FIRSTS:
                self.firsts = None
        if self.depth >= self.limits.max_depth:
            return
        self._merge_variants(other)
        self._merge_object(other)
        if other.items is not None:
            if self.items is None:
                self.items = self._child()
            self.items.merge(other.items)

    def _merge_enum(self, other: SchemaNode) -> None:
        if self.enum_overflow:
            return
        if other.enum_overflow:
            self._overflow()
        elif other.enum or other.loose:
            union = (self.enum or set()) | (other.enum or set())
            loose = ((self.loose or set()) | (other.loose or set())) - union
            size = len(union) + len(loose)
            # a declared enum may hold more values than tracking would: only new ones overflow it
            mine, theirs = len(self.enum or ()) + len(self.loose or ()), len(other.enum or ()) + len(other.loose or ())
            if size > max(self.limits.max_enum, mine, theirs) and not self._grows(size) or (
                    len(loose) > max(MAX_LOOSE, len(self.loose or ()), len(other.loose or ()))
                    and not self._grows(size)):
                self._overflow()
            else:
                self.enum, self.loose = union, loose or None

    def _merge_variants(self, other: SchemaNode) -> None:
        if self.vdead:
            return
        if other.vdead:
            self._kill_variants()
            return
        if other.vkey is None:
            return
        if self.vkey is None:
            self.vkey, self.variants = other.vkey, {}
        elif self.vkey != other.vkey:
            self._kill_variants()
            return
        variants, theirs = self.variants, other.variants
        assert variants is not None and theirs is not None  # set together with vkey
        tags = variants.keys() | theirs.keys()
        if len(tags) > MAX_VARIANTS:
            self._kill_variants()
            return
        if len(tags) == 1:  # one tag on both sides: the properties are its summary
            variants.update(theirs)
            return
        # called after the type counts were added up, before the properties are merged
        own_objects = self.types[_OBJ] - other.types[_OBJ]
        for tag, node in variants.items():
            if node is None:
                variants[tag] = self._objects_copy(self, own_objects)
        for tag, node in theirs.items():
            mine = variants.get(tag)
            if node is None:  # their only tag: a copy of their objects
                node = self._objects_copy(other, other.types[_OBJ])
                if mine is None:
                    variants[tag] = node
                    continue
            elif mine is None:
                mine = variants[tag] = self._variant_node()
            mine.merge(node)

    def _merge_object(self, other: SchemaNode) -> None:
        self._merge_keysets(other)
        if other.additional is not None:
            additional = self.additional or self._become_map()
            additional.merge(other.additional)
            return
        if not other.props:
            return
        if self.additional is not None:
            for child in other.props.values():
                self.additional.merge(child)
            return
        props = self.props
        if props is None:
            props = self.props = {}
        for key, theirs in other.props.items():
            mine = props.get(key)
            if mine is None:
                mine = props[key] = self._child()
            mine.merge(theirs)
        if len(props) > self.limits.max_properties:
            self._become_map()

    def _merge_keysets(self, other: SchemaNode) -> None:
        if self.keysets is None or not other.types[_OBJ]:
            return
        if other.keysets is None:
            self.keysets = None
            return
        merged = dict(self.keysets)
        for keys, c in other.keysets.items():
            merged[keys] = merged.get(keys, 0) + c
        self.keysets = merged if len(merged) <= MAX_KEYSETS else None

    # -- storage -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Compact JSON-serialisable state; `from_dict` restores it exactly."""
        d: dict[str, Any] = {"n": self.count}
        d["t"] = {code: c for code, c in zip(_TYPE_CODES, self.types) if c}
        if self.types[_BOOL]:
            d["bt"] = self.trues
        if self.empty:
            d["oz"] = self.empty
        if self.props:
            d["p"] = {k: child.to_dict() for k, child in self.props.items()}
        if self.keysets:
            d["ks"] = sorted([sorted(keys), c] for keys, c in self.keysets.items())
        if self.additional is not None:
            d["ap"] = self.additional.to_dict()
        if self.items is not None:
            d["it"] = self.items.to_dict()
        if self.arr_min is not None:
            d["al"] = [self.arr_min, self.arr_max]
        if self.num_min is not None:
            d["nr"] = [self.num_min, self.num_max]
        if self.str_min is not None:
            d["sl"] = [self.str_min, self.str_max]
        if self.formats is not None:
            d["fm"] = sorted(self.formats)
        if self.chars:
            d["cc"] = self.chars
            d["fc"] = "".join(sorted(self.firsts)) if self.firsts is not None else None
            d["sk"] = sorted(self.skeletons) if self.skeletons is not None else None
        if self.pattern is not None:
            d["pt"] = self.pattern
        if self.enum_overflow:
            d["eo"] = 1
        elif self.enum is not None:
            d["ev"] = sorted(self.enum)
            if self.loose:
                d["el"] = sorted(self.loose)
        if self.hints:
            d["h"] = self.hints
        if not self.flat:
            if self.vdead:
                d["vx"] = 1
            elif self.vkey is not None:
                d["vk"] = self.vkey
                assert self.variants is not None  # set together with vkey
                d["v"] = {tag: None if node is None else node.to_dict()
                          for tag, node in sorted(self.variants.items())}
        return d

    @classmethod
    def from_dict(
        cls,
        d: dict[str, Any],
        *,
        max_depth: int = MAX_DEPTH,
        max_properties: int = MAX_PROPERTIES,
        max_enum: int = MAX_ENUM_TRACKED,
        max_array_items: int = MAX_ARRAY_ITEMS,
    ) -> SchemaNode:
        node = cls(
            max_depth=max_depth,
            max_properties=max_properties,
            max_enum=max_enum,
            max_array_items=max_array_items,
        )
        node._load(d)
        return node

    def _load(self, d: dict[str, Any]) -> None:
        self.count = d["n"]
        for code, c in d.get("t", {}).items():
            self.types[_CODE_SLOT[code]] = c
        self.trues = d["bt"] if "bt" in d else (None if self.types[_BOOL] else 0)  # (not stored before: unknown)
        self.empty = d.get("oz", 0)  # not stored before empty objects were counted
        # not stored before they were counted, nor once too many: unknown
        self.keysets = {frozenset(keys): c for keys, c in d["ks"]} if "ks" in d else (
            None if self.types[_OBJ] else {})
        if self.depth < self.limits.max_depth:  # stored state cannot exceed the depth bound
            if "p" in d:
                self.props = {k: self._loaded_child(v) for k, v in d["p"].items()}
            if "ap" in d:
                self.additional = self._loaded_child(d["ap"])
            if "it" in d:
                self.items = self._loaded_child(d["it"])
        if "al" in d:
            self.arr_min, self.arr_max = d["al"]
        if "nr" in d:
            self.num_min, self.num_max = d["nr"]
        if "sl" in d:
            self.str_min, self.str_max = d["sl"]
        if "fm" in d:
            self.formats = frozenset(d["fm"]) & _ALL_FORMATS
        if "cc" in d:
            self.chars = d["cc"]
            self.firsts = set(d["fc"]) if d.get("fc") is not None else None
            self.skeletons = set(d["sk"]) if d.get("sk") is not None else None  # not stored before: unknown
        self.pattern = d["pt"] if isinstance(d.get("pt"), str) else None
        self.enum_overflow = bool(d.get("eo"))
        if "ev" in d:
            self.enum = set(d["ev"])
            self.loose = set(d["el"]) if d.get("el") else None
        self.hints = d.get("h", 0)
        if not self.flat:
            if d.get("vx"):
                self._kill_variants()
            elif "vk" in d and self.depth < self.limits.max_depth:
                self.vkey = d["vk"]
                self.variants = {}
                for tag, vd in d["v"].items():
                    node = self.variants[tag] = None if vd is None else self._variant_node()
                    if node is not None:
                        node._load(vd)

    def _loaded_child(self, d: dict[str, Any]) -> SchemaNode:
        child = self._child()
        child._load(d)
        return child

    # -- output ------------------------------------------------------------------------------

    def to_json_schema(self) -> dict[str, Any]:
        """JSON Schema 2020-12 (the OpenAPI 3.1 dialect) describing every observed value."""
        t = self.types
        names = [name for name, c in zip(_TYPE_NAMES[:_NULL], t) if c]
        if t[_INT] and t[_NUM]:
            names.remove("integer")
        nullable = t[_NULL] > 0
        if not names and not nullable:
            return {}
        if nullable:
            names.append("null")
        schema: dict[str, Any] = {"type": names[0] if len(names) == 1 else names}
        variants = self.active_variants()
        if variants is not None:
            branches = []
            for tag, node in variants:
                branch = node.to_json_schema()
                branch.setdefault("properties", {})[self.vkey] = {"type": "string", "const": tag}
                branches.append(branch)
            if nullable:
                branches.append({"type": "null"})
            schema["oneOf"] = branches
            return schema
        if t[_OBJ]:
            self._object_keywords(schema)
        if t[_ARR]:
            if self.items is not None and self.items.count:
                schema["items"] = self.items.to_json_schema()
            self._bounds(schema, "minItems", self.arr_min, HINT_ARR_MIN, "maxItems", self.arr_max, HINT_ARR_MAX)
        if t[_INT] or t[_NUM]:
            self._bounds(schema, "minimum", self.num_min, HINT_NUM_MIN, "maximum", self.num_max, HINT_NUM_MAX)
        if t[_STR]:
            self._bounds(schema, "minLength", self.str_min, HINT_STR_MIN, "maxLength", self.str_max, HINT_STR_MAX)
            if self.formats:
                schema["format"] = _first_format(self.formats)
            elif names[0] == "string" and names[-1] in ("string", "null") and len(names) <= 2:
                enum = self._emitted_enum()
                if enum is not None:
                    schema["enum"] = enum + [None] if nullable else enum
            if "enum" not in schema:
                values = self.enum_observed()
                if values is not None and len(values) <= MAX_EXAMPLES:
                    # a closed set mocks replay, too rarely seen (or too large) for a contract
                    schema["examples"] = values[:MAX_EXAMPLES]
                    schema[OBSERVED_VALUES_KEY] = True
        return schema

    def _bounds(self, schema: dict[str, Any], lo_key: str, lo: Any, lo_hint: int,
                hi_key: str, hi: Any, hi_hint: int) -> None:
        """The bounds that were observed or declared (not an importer's defaults)."""
        if lo is not None and not self.hints & lo_hint:
            schema[lo_key] = lo
        if hi is not None and not self.hints & hi_hint:
            schema[hi_key] = hi

    def _object_keywords(self, schema: dict[str, Any]) -> None:
        if self.additional is not None:
            schema["additionalProperties"] = self.additional.to_json_schema()
        elif self.props:
            schema["properties"] = {k: _without_enum(child.to_json_schema()) if is_personal_name(k)
                                    else child.to_json_schema() for k, child in self.props.items()}
            objects = self.types[_OBJ]
            required = sorted(k for k, child in self.props.items() if child.count >= objects)
            if required:
                schema["required"] = required
            if self.hints & HINT_CLOSED:
                schema["additionalProperties"] = False

    def active_variants(self, mixed: bool = False, alike: bool = False) -> list[tuple[str, SchemaNode]] | None:
        """The discriminated variants (tag, summary) of this object node, sorted by tag, when it
        should be described as a `oneOf` of them: only objects (or null) were seen, often enough,
        all with the same discriminator property, and the variants have clearly different keys
        (some variant always has a property another never had).  Else None.

        `mixed`: the variants of the objects even when values of other types were seen beside
        them (`"auto"` or `{"type": "function", ...}`), as a synthesizer making an object wants.
        `alike`: even when the variants have the same keys (their values still differ: a rule of one
        kind names fields and operators of its own), as a synthesizer keeping each object's values
        together wants."""
        if not self.variants or len(self.variants) < 2 or self.additional is not None:
            return None
        # only the first and only tag goes without a summary of its own (None): with two, both have one
        variants = cast(dict[str, SchemaNode], self.variants)
        t = self.types
        if t[_OBJ] < VARIANT_MIN_OBJECTS or (not mixed and t[_OBJ] + t[_NULL] != self.count):
            return None
        if alike:
            return sorted(variants.items())
        if self.vkey not in _DISC_RANK:
            return None
        keysets = [set(node.props or ()) for node in variants.values()]
        for node in variants.values():
            if not node.props:
                continue
            always = {k for k, child in node.props.items() if child.count >= node.count}
            if any(always - keys for keys in keysets):
                return sorted(variants.items())
        return None

    def variant_for(self, value: dict[str, Any]) -> SchemaNode | None:
        """The summary to judge one object against: its variant's, when this node's objects come
        in structurally distinct variants (`active_variants`) and the object's tag is one of
        them; None when its tag is new there (a kind of object not seen yet); else this node."""
        variants = self.variants
        if not variants or len(variants) < 2 or self.vkey is None:
            return self
        tag = value.get(self.vkey)
        if not _tag_candidate(tag) or self.active_variants(mixed=True) is None:
            return self
        if tag not in variants:
            return None
        return variants[tag] or self

    @property
    def variant_key(self) -> str | None:
        """The discriminator property of the variants (see `active_variants`)."""
        return self.vkey

    def _emitted_enum(self) -> list[str] | None:
        enum = self.enum
        if self.enum_overflow or not enum or self.formats or self.loose or self.hints & HINT_OPEN_VALUES:
            return None
        if self.hints & HINT_DECLARED_ENUM:
            return sorted(enum)
        if len(enum) > ENUM_EMIT_MAX or self.types[_STR] < ENUM_MIN_RATIO * len(enum):
            return None
        return sorted(enum)

    # -- reading (for the drift watchdog) ------------------------------------------------------

    def type_counts(self) -> dict[str, int]:
        """How many observed values had each JSON type ("integer", "null", ...), non-zero only."""
        return {name: c for name, c in zip(_TYPE_NAMES, self.types) if c}

    def properties(self) -> dict[str, SchemaNode] | None:
        """Named properties of observed objects (None when the object is a map or never had keys)."""
        return self.props

    @property
    def object_count(self) -> int:
        return self.types[_OBJ]

    @property
    def empty_object_count(self) -> int:
        """How many of the observed objects were `{}` (0 for summaries stored before they were counted)."""
        return self.empty

    def key_sets(self) -> list[tuple[frozenset[str], int]] | None:
        """The sets of keys the objects came with and how often, when a few different ones were seen
        (which optional keys come together); None when all had the same keys, or too many kinds.
        Empty objects are left out: they say nothing of which keys come together."""
        sets = [(keys, c) for keys, c in (self.keysets or {}).items() if keys]
        if len(sets) < 2:
            return None
        return sorted(sets, key=lambda kc: (-kc[1], sorted(kc[0])))

    def presence(self, key: str) -> float:
        """The share of the non-empty observed objects that had property `key` (0.0 when none had)."""
        child = (self.props or {}).get(key)
        objects = self.types[_OBJ] - self.empty
        if child is None or objects <= 0:
            return 0.0
        return min(child.count / objects, 1.0)

    @property
    def is_map(self) -> bool:
        return self.additional is not None

    @property
    def item_node(self) -> SchemaNode | None:
        return self.items

    def string_format(self) -> str | None:
        """The format every observed string had (uuid, date-time, ...), if any."""
        if self.formats:
            return _first_format(self.formats)
        return None

    def string_fits(self, value: str) -> bool:
        """Cheap: does this string raise no format or enum question here (it has the format every
        string had, if any, and is a known word or no closed set of words is learned)?"""
        formats = self.formats
        if formats and not _FORMAT_CHECKS[_first_format(formats)](value):
            return False
        return self.enum_overflow or not self.enum or value in self.enum or self._emitted_enum() is None

    def value_seen(self, value: str) -> bool:
        """Was this string seen here, among a closed set of words still tracked? (cheap)"""
        return self.enum is not None and not self.loose and value in self.enum

    def enum_values(self) -> list[str] | None:
        """The enum the schema would emit (a small, well-observed set of words), else None."""
        return self._emitted_enum()

    def enum_seen(self) -> list[str] | None:
        """Every string value seen, when they were few identifier-like words (not emitted as an enum
        until observed often enough), else None."""
        if self.enum_overflow or not self.enum or self.loose or len(self.enum) > ENUM_EMIT_MAX:
            return None
        return sorted(self.enum)

    def enum_observed(self) -> list[str] | None:
        """The string values a mock may pick from: every value seen, when they were identifier-like
        words (up to the tracked maximum); else None. Replaying a seen word is always as valid as the
        traffic was, while a word invented from the values' shape breaks any closed set the API has,
        even one seen only once per value (an event's `action` among a hundred)."""
        enum = self.enum
        if self.enum_overflow or not enum or self.formats or self.loose:
            return None
        return sorted(enum)

    def closed_values(self, vocabulary: bool = False) -> list[str] | None:
        """What `enum_observed` gives, and also the values that are not words (`Gift Card`, `818`,
        `pay on delivery`) when the evidence says the set is closed all the same: they are no more than its
        words (odd members of a vocabulary), or every value keeps coming back (ENUM_MIN_RATIO sightings per
        distinct value, as names of people do not), or the field is named for a vocabulary (`vocabulary`:
        its name says a type or a status). For mocks only: no enum, no drift is drawn from them."""
        loose = self.loose
        if not loose:
            return self.enum_observed()
        if self.enum_overflow or self.formats:
            return None
        words = self.enum or set()
        if vocabulary or len(loose) <= len(words) or self.types[_STR] >= ENUM_MIN_RATIO * (len(words) + len(loose)):
            return sorted(words | loose)
        return None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SchemaNode) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value: unhashable

    def __repr__(self) -> str:
        return f"SchemaNode(count={self.count}, types={self.types})"


def _merge_range(
    lo: Any, hi: Any, other_lo: Any, other_hi: Any
) -> tuple[Any, Any]:
    if other_lo is None:
        return lo, hi
    if lo is None:
        return other_lo, other_hi
    return min(lo, other_lo), max(hi, other_hi)


def _without_enum(schema: dict[str, Any]) -> dict[str, Any]:
    """A personal field's observed values are data about people, not a contract: never an enum."""
    schema.pop("enum", None)
    if schema.pop(OBSERVED_VALUES_KEY, None):
        schema.pop("examples", None)
    return schema

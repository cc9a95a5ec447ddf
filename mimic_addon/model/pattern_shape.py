"""The shape of the strings a regular expression matches, in `SchemaNode` terms: character classes
(schema.CHAR_*), the possible first characters when they are few, and the length range.

Used when importing a JSON Schema `pattern` (`^[UW][A-Z0-9]{8,}$` -> uppercase and digits, starting
with U or W, 9 characters or more). An approximation: only the classes, the first character and the
length are kept. Patterns that cannot be summarised this way (negated sets, `.`, back references,
lookarounds) give None.

`sample(pattern, rng, lo, hi)` makes a string from the pattern itself (`^Rm[A-Z0-9]{8,}$` ->
`RmQ7K2ZD0A`), walking the same parse: literals, sets (ranges, digit, word and space classes,
negated), `.`, repeats, groups, alternatives and back references; each candidate is checked with
`re.fullmatch`, and None (the caller falls back to the shape) when no candidate matched.
"""
from __future__ import annotations

import functools
import random
import re
import string
from dataclasses import dataclass

from .schema import CHAR_DIGIT, CHAR_LOWER, CHAR_OTHER, CHAR_UPPER, MAX_FIRSTS

try:  # the standard library's own regex parser (the public `sre_parse` alias is deprecated)
    from re import _constants as C  # type: ignore[attr-defined]  # private: typeshed has no stubs for it
    from re import _parser as P  # type: ignore[attr-defined]  # private: typeshed has no stubs for it
except ImportError:  # pragma: no cover - an interpreter without it: no shapes, nothing else changes
    P = C = None

_UNBOUNDED = 1 << 32
_RANGES = ((48, 57, CHAR_DIGIT), (65, 90, CHAR_UPPER), (97, 122, CHAR_LOWER))


class _Unknown(Exception):
    """The pattern uses something this summary cannot describe."""


@dataclass(frozen=True)
class Shape:
    chars: int                 # CHAR_* bitmask of every character the pattern can produce
    firsts: str | None         # the possible first characters, when at most MAX_FIRSTS
    min_length: int
    max_length: int | None     # None: unbounded


def pattern_shape(pattern: str) -> Shape | None:
    """The shape of a pattern's matches, or None when it cannot be summarised."""
    if P is None or not isinstance(pattern, str):
        return None
    try:
        items = _main(list(P.parse(pattern)))
        chars = _chars(items)
        lo, hi = _width(items)
        firsts = _firsts(items)
    except (_Unknown, re.error, RecursionError, OverflowError, ValueError, TypeError):
        return None
    if not chars:
        return None
    return Shape(chars, "".join(sorted(firsts)) if firsts else None, lo, hi if hi < _UNBOUNDED else None)


def _main(items: list) -> list:
    """The part that describes the strings: anchors dropped, the first non-empty alternative of a
    top-level `a|b`, the inside of an optional wrapper `^(...)?$`."""
    items = [it for it in items if it[0] is not C.AT]
    if len(items) == 1 and items[0][0] is C.BRANCH:
        alternatives = [[it for it in alt if it[0] is not C.AT] for alt in items[0][1][1]]
        items = next((alt for alt in alternatives if _width(alt)[1] > 0), alternatives[0])
    if len(items) == 1 and items[0][0] in (C.MAX_REPEAT, C.MIN_REPEAT) and items[0][1][:2] == (0, 1):
        items = _unwrap(list(items[0][1][2]))
    return items


def _unwrap(items: list) -> list:
    while len(items) == 1 and items[0][0] is C.SUBPATTERN:
        items = list(items[0][1][-1])
    return items


def _code_class(code: int) -> int:
    return next((cls for lo, hi, cls in _RANGES if lo <= code <= hi), CHAR_OTHER)


def _set_chars(entries: list) -> int:
    mask = 0
    for op, arg in entries:
        if op is C.LITERAL:
            mask |= _code_class(arg)
        elif op is C.RANGE:
            lo, hi = arg
            covered = 0
            for rlo, rhi, cls in _RANGES:
                overlap = min(hi, rhi) - max(lo, rlo) + 1
                if overlap > 0:
                    mask |= cls
                    covered += overlap
            if covered < hi - lo + 1:  # some of it is neither a letter nor a digit
                mask |= CHAR_OTHER
        elif op is C.CATEGORY:
            if arg is C.CATEGORY_DIGIT:
                mask |= CHAR_DIGIT
            elif arg is C.CATEGORY_WORD:
                mask |= CHAR_LOWER | CHAR_UPPER | CHAR_DIGIT | CHAR_OTHER
            elif arg is C.CATEGORY_SPACE:
                mask |= CHAR_OTHER
            else:
                raise _Unknown
        else:  # NEGATE and the like
            raise _Unknown
    return mask


def _chars(items: list) -> int:
    mask = 0
    for op, arg in items:
        if op is C.LITERAL:
            mask |= _code_class(arg)
        elif op is C.IN:
            mask |= _set_chars(arg)
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
            mask |= _chars(list(arg[2]))
        elif op is C.SUBPATTERN:
            mask |= _chars(list(arg[-1]))
        elif op is C.BRANCH:
            for alt in arg[1]:
                mask |= _chars(list(alt))
        elif op is C.AT:
            continue
        else:  # ANY, NOT_LITERAL, GROUPREF, ASSERT, ...
            raise _Unknown
    return mask


def _width(items: list) -> tuple[int, int]:
    lo = hi = 0
    for op, arg in items:
        if op in (C.LITERAL, C.IN, C.ANY, C.NOT_LITERAL):
            a, b = 1, 1
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
            sub_lo, sub_hi = _width(list(arg[2]))
            a = arg[0] * sub_lo
            b = _UNBOUNDED if arg[1] is C.MAXREPEAT else arg[1] * sub_hi
        elif op is C.SUBPATTERN:
            a, b = _width(list(arg[-1]))
        elif op is C.BRANCH:
            widths = [_width(list(alt)) for alt in arg[1]]
            a, b = min(w[0] for w in widths), max(w[1] for w in widths)
        elif op is C.AT:
            continue
        else:
            raise _Unknown
        lo, hi = lo + a, min(hi + b, _UNBOUNDED)
    return lo, hi


def _firsts(items: list) -> set[str] | None:
    """The characters a match can start with, when they are few and certain."""
    if not items:
        return None
    op, arg = items[0]
    if op is C.LITERAL:
        return {chr(arg)}
    if op is C.IN:
        chars: set[str] = set()
        for sub_op, sub_arg in arg:
            if sub_op is C.LITERAL:
                chars.add(chr(sub_arg))
            elif sub_op is C.RANGE and sub_arg[1] - sub_arg[0] < MAX_FIRSTS:
                chars.update(chr(c) for c in range(sub_arg[0], sub_arg[1] + 1))
            elif sub_op is C.CATEGORY and sub_arg is C.CATEGORY_DIGIT:
                chars.update("0123456789")
            else:
                return None
        return chars if len(chars) <= MAX_FIRSTS else None
    if op in (C.MAX_REPEAT, C.MIN_REPEAT) and arg[0] >= 1:
        return _firsts(list(arg[2]))
    if op is C.SUBPATTERN:
        return _firsts(list(arg[-1]))
    return None


# -- strings from a pattern ------------------------------------------------------------------------------
SAMPLE_TRIES = 8
SAMPLE_EXTRA = 16             # characters an unbounded repeat may add beyond its minimum, by default
_PLAIN = string.ascii_letters + string.digits
_PRINTABLE = [chr(c) for c in range(33, 127)] + [" "]


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except (re.error, RecursionError, OverflowError, ValueError):
        return None


@functools.lru_cache(maxsize=256)
def _parsed(pattern: str) -> tuple[list, int] | None:
    """The parse of a pattern and the least width of a match, or None."""
    if P is None:
        return None
    try:
        items = list(P.parse(pattern))
        return items, min(_least(items), _UNBOUNDED)
    except (re.error, RecursionError, OverflowError, ValueError, TypeError):
        return None


def pattern_compiles(pattern: str) -> bool:
    return isinstance(pattern, str) and _compiled(pattern) is not None


def pattern_matches(pattern: str, value: str) -> bool:
    """JSON Schema's reading of `pattern`: a search, anchored only where the pattern says so."""
    compiled = _compiled(pattern)
    return compiled is not None and compiled.search(value) is not None


def sample(pattern: str, rng: random.Random, min_length: int = 0, max_length: int | None = None) -> str | None:
    """A string that `re.fullmatch`es the pattern, of a length within [min_length, max_length] when
    the pattern allows one; None when no candidate matched."""
    compiled, parsed = _compiled(pattern), _parsed(pattern)
    if compiled is None or parsed is None:
        return None
    items, least = parsed
    top = max_length if max_length is not None else max(min_length, least) + SAMPLE_EXTRA
    fallback = None
    for attempt in range(SAMPLE_TRIES):
        target = rng.randint(max(min_length, least), max(min_length, least, top))
        try:
            text = _emit(items, rng, [max(target - least, 0)], {})
        except (_Unknown, RecursionError, OverflowError, ValueError):
            return None
        if compiled.fullmatch(text) is None:
            continue
        if min_length <= len(text) and (max_length is None or len(text) <= max_length):
            return text
        fallback = fallback or text
    return fallback


def _least(items: list) -> int:
    """The least width of a match (what `_width` gives, lookarounds and back references as 0)."""
    total = 0
    for op, arg in items:
        if op in (C.LITERAL, C.IN, C.ANY, C.NOT_LITERAL):
            total += 1
        elif op in _REPEATS:
            total += arg[0] * _least(list(arg[2]))
        elif op is C.SUBPATTERN:
            total += _least(list(arg[-1]))
        elif op is _ATOMIC:
            total += _least(list(arg))
        elif op is C.BRANCH:
            total += min(_least(list(alt)) for alt in arg[1])
    return total


_REPEATS = tuple(op for op in (getattr(C, "MAX_REPEAT", None), getattr(C, "MIN_REPEAT", None),
                               getattr(C, "POSSESSIVE_REPEAT", None)) if op is not None)
_ATOMIC = getattr(C, "ATOMIC_GROUP", object())


def _emit(items: list, rng: random.Random, slack: list[int], groups: dict[int, str]) -> str:
    """One string for parsed items; `slack` is how many characters repeats may still add."""
    out: list[str] = []
    for op, arg in items:
        if op is C.LITERAL:
            out.append(chr(arg))
        elif op is C.NOT_LITERAL:
            out.append(rng.choice([c for c in _PLAIN if ord(c) != arg]))
        elif op is C.ANY:
            out.append(rng.choice(_PLAIN))
        elif op is C.IN:
            out.append(rng.choice(_set_pool(arg)))
        elif op in _REPEATS:
            lo, hi, sub = arg[0], arg[1], list(arg[2])
            width = max(_least(sub), 1)
            room = slack[0] // width
            top = lo + (room if hi is C.MAXREPEAT else min(hi - lo, room))
            n = rng.randint(lo, max(lo, top))
            slack[0] = max(slack[0] - (n - lo) * width, 0)
            out.extend(_emit(sub, rng, slack, groups) for _ in range(n))
        elif op is C.SUBPATTERN:
            text = _emit(list(arg[-1]), rng, slack, groups)
            if arg[0] is not None:
                groups[arg[0]] = text
            out.append(text)
        elif op is _ATOMIC:
            out.append(_emit(list(arg), rng, slack, groups))
        elif op is C.BRANCH:
            out.append(_emit(list(rng.choice(arg[1])), rng, slack, groups))
        elif op is C.GROUPREF:
            out.append(groups.get(arg, ""))
        elif op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            continue  # anchors and lookarounds: the fullmatch check decides
        else:
            raise _Unknown
    return "".join(out)


def _set_pool(entries: list) -> list[str]:
    """The characters of a set (`[A-Z0-9]`, `[^,]`, `\\d`), preferring plain printable ones."""
    negate = any(op is C.NEGATE for op, _ in entries)
    if negate:
        pool = [c for c in _PRINTABLE if not _in_set(entries, c)]
        return [c for c in pool if c in _PLAIN] or pool or ["\x00"]
    chars: list[str] = []
    for op, arg in entries:
        if op is C.LITERAL:
            chars.append(chr(arg))
        elif op is C.RANGE:
            lo, hi = arg
            chars.extend(chr(c) for c in range(lo, min(hi, lo + 256) + 1))
        elif op is C.CATEGORY:
            chars.extend(c for c in _PRINTABLE if _in_category(arg, c))
    if not chars:
        raise _Unknown
    return chars


def _in_set(entries: list, c: str) -> bool:
    code = ord(c)
    for op, arg in entries:
        if op is C.LITERAL and arg == code:
            return True
        if op is C.RANGE and arg[0] <= code <= arg[1]:
            return True
        if op is C.CATEGORY and _in_category(arg, c):
            return True
    return False


def _in_category(category: object, c: str) -> bool:
    checks = {C.CATEGORY_DIGIT: c.isdigit(), C.CATEGORY_NOT_DIGIT: not c.isdigit(),
              C.CATEGORY_WORD: c.isalnum() or c == "_", C.CATEGORY_NOT_WORD: not (c.isalnum() or c == "_"),
              C.CATEGORY_SPACE: c.isspace(), C.CATEGORY_NOT_SPACE: not c.isspace()}
    return checks.get(category, False)

"""The shape of the strings a regular expression matches, in `SchemaNode` terms: character classes
(schema.CHAR_*), the possible first characters when they are few, and the length range.

Used when importing a JSON Schema `pattern` (`^[UW][A-Z0-9]{8,}$` -> uppercase and digits, starting
with U or W, 9 characters or more), so mocks can make strings that look like the pattern asks. An
approximation: only the classes, the first character and the length are kept. Patterns that cannot
be summarised this way (negated sets, `.`, back references, lookarounds) give None.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .schema import CHAR_DIGIT, CHAR_LOWER, CHAR_OTHER, CHAR_UPPER, MAX_FIRSTS

try:  # the standard library's own regex parser (the public `sre_parse` alias is deprecated)
    from re import _constants as C  # type: ignore[attr-defined]
    from re import _parser as P  # type: ignore[attr-defined]
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

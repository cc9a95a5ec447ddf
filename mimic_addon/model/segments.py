"""Classify one path segment: does it look like a value (an id, a hash, a token) or a name?

The detectors are only the first signal the path learner uses; a segment that none of them
recognises can still be learned as a parameter from how the traffic varies (see `paths.py`).
"""
from __future__ import annotations

import re
from functools import lru_cache

from .redact import REDACTED

INT = "int"
UUID = "uuid"
HEX = "hex"
TOKEN = "token"
PREFIXED = "prefixed"
EMAIL = "email"
DATE = "date"
SLUG = "slug"
WORD = "word"
VERSION = "version"
DOTTED = "dotted"   # three numbers or more joined by dots: release tags (`v3.18.1`), IPv4 addresses
OPAQUE = "opaque"   # holds characters no path name has (braces, spaces, quotes): template leftovers, free text

#: kinds that on their own make a segment a parameter value
STRONG_KINDS = frozenset({INT, UUID, HEX, TOKEN, PREFIXED, EMAIL, DATE, DOTTED, OPAQUE})
#: kinds no API uses for a fixed path name: one such value makes a parameter
UNMISTAKABLE = frozenset({UUID, HEX, TOKEN, PREFIXED, EMAIL})
_UNSAFE = frozenset(' {}<>|\\^`"')

_INT = re.compile(r"-?\d+(?:\.\d+)?")
_COMPOUND_INT = re.compile(r"\d{3,}(?:[-_:]\d{3,})+")  # `183107052-746889683`: numbers joined, an id
_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
# a UUID inside a longer segment, standing apart (`urn:vcloud:vdc:550e8400-e29b-...`)
_UUID_IN = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![0-9A-Za-z])")
_HEX = re.compile(r"[0-9a-fA-F]{10,}")
_JWT = re.compile(r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
_B64 = re.compile(r"[A-Za-z0-9+/_=~.-]{24,}")
_PREFIXED = re.compile(r"[A-Za-z]{1,16}(?:[_-][A-Za-z]{1,16})*[_:-]+([A-Za-z0-9]{6,})")
_RANDOM = re.compile(r"[A-Za-z0-9]{8,}")
_EMAIL = re.compile(r"[^@/\s]+@[^@/\s]+\.[A-Za-z]{2,}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ].*)?")
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+){2,}")
# an API's version has one or two numbers (`v1`, `v1.33`, `2.0`); three or more are a release or an address
_DOTTED = re.compile(r"v?\d+(?:\.\d+){2,}(?:[-+][0-9A-Za-z.-]+)?")
_VERSION = re.compile(r"v\d+(?:\.\d+)*(?:(?:alpha|beta|rc)\d*)?|\d+\.\d+(?:\.\d+)?")


# a lowercase word numbered with one or two digits (`alice27`, `sample10`, `oauth2`): how people
# and programmers number names; generated ids scatter their digits
_NUMBERED = re.compile(r"[a-z]{3,}\d{1,2}")
_HUMPS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?=[A-Z][a-z]|\d|$)|\d+")


def is_identifier(text: str) -> bool:
    """camelCase or PascalCase made of words (`latencyStats`, `l7FirewallRules`, `GetNavigationMenu2`):
    how programmers name fields, methods and resources. Random ids have no such humps of words."""
    humps = _HUMPS.findall(text)
    if len(humps) < 2 or "".join(humps) != text or not any(c.isupper() for c in text):
        return False
    words = sum(1 for h in humps if len(h) >= 3 and h[1:].islower())
    digits = sum(len(h) for h in humps if h.isdigit())
    return words >= 2 and 2 * words >= len(humps) and digits <= 2


def is_numbered(text: str) -> bool:
    """A word with a number (`alice27`, `sample10`): a user's name as often as a fixed one, so no
    detector's value -- whether it is one depends on its neighbours (`consolidate`)."""
    return _NUMBERED.fullmatch(text) is not None


def _looks_random(text: str) -> bool:
    """Mixed letters and digits, or mixed case: what generated ids look like, unlike words."""
    if is_identifier(text) or is_numbered(text):
        return False
    has_digit = any(c.isdigit() for c in text)
    has_alpha = any(c.isalpha() for c in text)
    if has_digit and has_alpha:
        digits = sum(c.isdigit() for c in text)
        return digits >= 2 or len(text) >= 12
    if has_alpha and not has_digit:
        uppers = sum(c.isupper() for c in text)
        # camelCase words have few capitals; base62 ids have many, scattered
        return len(text) >= 12 and 0.25 <= uppers / len(text) <= 0.75
    return False


@lru_cache(maxsize=8192)
def classify(segment: str) -> str:
    """Return the kind of a (percent-decoded) segment. Cached: segments repeat a lot."""
    if not segment:
        return WORD
    if segment == REDACTED:  # a credential was there (`redact.redact_path`): a value, never a name
        return TOKEN
    if not _UNSAFE.isdisjoint(segment):
        return OPAQUE
    if _DOTTED.fullmatch(segment):
        return DOTTED
    if _VERSION.fullmatch(segment):
        return VERSION
    if _INT.fullmatch(segment):
        return INT
    if _DATE.fullmatch(segment):
        return DATE
    if _COMPOUND_INT.fullmatch(segment):
        return INT
    if _UUID.fullmatch(segment) or (len(segment) > 36 and _UUID_IN.search(segment)):
        return UUID
    if _HEX.fullmatch(segment) and any(c.isdigit() for c in segment) and any(c.isalpha() for c in segment):
        return HEX
    if "@" in segment and _EMAIL.fullmatch(segment):
        return EMAIL
    if _JWT.fullmatch(segment):
        return TOKEN
    m = _PREFIXED.fullmatch(segment)
    if m and _looks_random(m.group(1)):
        return PREFIXED
    if _RANDOM.fullmatch(segment) and _looks_random(segment):
        return TOKEN
    if _B64.fullmatch(segment) and _looks_random(segment.replace("-", "").replace("_", "")):
        return TOKEN
    if _SLUG.fullmatch(segment):
        return SLUG
    return WORD


def is_strong(kind: str) -> bool:
    return kind in STRONG_KINDS


_IRREGULAR = {"people": "person", "children": "child", "men": "man", "women": "woman", "data": "data", "media": "media"}


def singular(word: str) -> str:
    """Cheap English singular of a collection name (`users` -> `user`, `categories` -> `category`)."""
    low = word.lower()
    if low in _IRREGULAR:
        return _IRREGULAR[low]
    if low.endswith("ies") and len(low) > 4:
        return low[:-3] + "y"
    if low.endswith(("sses", "xes", "ches", "shes", "zes")):
        return low[:-2]
    if low.endswith("s") and not low.endswith(("ss", "us", "is")) and len(low) > 2:
        return low[:-1]
    return low


def identifier(text: str) -> str:
    """`pal-park-area` -> `pal_park_area`; empty when nothing identifier-like is left."""
    out = re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_")
    out = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", out).lower()
    if out and out[0].isdigit():
        out = "p_" + out
    return out

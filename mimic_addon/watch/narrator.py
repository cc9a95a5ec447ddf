"""The narrator: each contract change explained in plain English, for the people writing the frontend.

Deterministic and local: the field's meaning is inferred from its name and path with keyword
rules; impact and recommended action come from the kind of change (and, for a few kinds, the
field's meaning). Same change in, same words out.
"""
from __future__ import annotations

import json
import re
from typing import Any

from .drift import Change, summary

# (topic, keywords matched against the field name's words; first match wins)
_TOPICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("an authentication token or secret", ("token", "secret", "password", "passwd", "session", "auth",
                                            "apikey", "credential", "jwt", "bearer")),
    ("a user profile image", ("avatar", "gravatar", "profileimage", "profilepic", "headshot")),
    ("an image URL", ("image", "img", "photo", "picture", "thumbnail", "thumb", "icon", "logo", "banner", "sprite")),
    ("a money amount", ("price", "amount", "cost", "total", "balance", "fee", "subtotal", "tax", "payment",
                        "salary", "revenue", "currency", "cents")),
    ("a timestamp", ("created", "updated", "deleted", "modified", "timestamp", "date", "time", "expires",
                     "expiry", "at", "since", "until", "birthday", "dob")),
    ("an identifier", ("id", "uuid", "guid", "key", "slug", "ref", "sku")),
    ("an e-mail address", ("email", "mail")),
    ("a phone number", ("phone", "mobile", "tel")),
    ("a link", ("url", "uri", "href", "link", "website", "homepage")),
    ("a status or category", ("status", "state", "type", "kind", "category", "role", "level", "tier", "mode")),
    ("a count or quantity", ("count", "qty", "quantity", "size", "length", "number", "num", "limit", "offset",
                             "page", "pages", "score", "rank")),
    ("an on/off flag", ("is", "has", "enabled", "disabled", "active", "visible", "verified", "flag")),
    ("a location", ("lat", "lng", "lon", "latitude", "longitude", "address", "city", "country", "zip")),
    ("a display name or text", ("name", "title", "label", "description", "text", "message", "body", "content",
                                "summary", "bio", "comment")),
    ("a list of items", ("items", "results", "data", "list", "entries", "records", "children")),
)
_USER_WORDS = ("user", "profile", "author", "owner", "account", "member", "customer", "person")
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def _words(name: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(name)]


def field_name(path: str) -> str:
    """Last named segment of a JSON path ($.user.avatar_url -> avatar_url, $[] -> the response)."""
    for segment in reversed(path.replace("[]", "").split(".")):
        if segment and segment != "$":
            return segment
    return ""


def topic(path: str) -> str:
    """What the field is about, from its name (and its parents' names)."""
    name = field_name(path)
    if not name:
        return "the whole response"
    words = _words(name)
    joined = "".join(words)
    for label, keys in _TOPICS:
        if any(k in words for k in keys) or any(len(k) > 4 and k in joined for k in keys):
            if label == "an image URL" and any(u in path.lower() for u in _USER_WORDS):
                return "a user profile image"
            return label
    return "a data field"


_JS_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_JS_STEP = re.compile(r"\.([^.\[]*)|\[\]")


def _js(path: str) -> str:
    """The path as frontend code would read it: $.user.avatar_url -> data.user.avatar_url; a key that is
    no JavaScript name in brackets (`data["x-id"]`, never code of a key from traffic)."""
    out = "data"
    for m in _JS_STEP.finditer(path, 1):
        key = m.group(1)
        if key is None:
            out += "[i]"
        elif _JS_NAME.fullmatch(key):
            out += "." + key
        else:
            out += "[" + json.dumps(key) + "]"
    return out


def _what(c: Change) -> str:
    if c.kind == "missing_field":
        if c.exceptions:
            return "was almost always present and is now missing"
        return "was present in every response and is now missing"
    if c.kind == "type_changed":
        return f"changed type from {c.expected} to {c.actual}"
    if c.kind == "null_value":
        return f"was {'almost ' if c.exceptions else ''}never null ({c.expected}) and now arrives null"
    if c.kind == "format_changed":
        return f"changed format from {c.expected} to {c.actual}" + (f" ({_short(c.example)})" if c.example is not None else "")
    if c.kind == "new_enum_value":
        return f"has a value never seen before: {_short(c.example)} (known: {c.expected[7:]})"
    if c.kind == "new_field":
        return f"is a new field ({c.actual})"
    if c.kind == "not_json":
        return "used to be JSON and is no longer JSON"
    if c.kind == "error_status":
        return f"used to succeed for this request shape and now answers {c.actual}"
    return f"changed ({c.kind})"


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 60 else text[:57] + "..."


def impact(c: Change, about: str) -> str:
    js = _js(c.path)
    if c.kind == "missing_field":
        if about == "an authentication token or secret":
            return f"{js} is undefined: sign-in or authenticated requests that rely on it will fail."
        if about in ("a user profile image", "an image URL"):
            return f"{js} is undefined: images render broken (<img src=undefined>)."
        return f"{js} is undefined: code reading it shows blank values, and nested access ({js}.x) throws TypeError."
    if c.kind == "type_changed":
        if {c.expected, c.actual} & {"array", "object"}:
            return f"{js} changed shape: .map()/.length or property access on it will throw or return undefined."
        if about == "a money amount":
            return f"arithmetic on {js} will concatenate or produce NaN, and strict comparisons (===) fail silently."
        return f"strict comparisons (===) on {js} will fail silently, and formatting code may throw."
    if c.kind == "null_value":
        return f"{js} is null: method calls on it (.toLowerCase(), .length) throw TypeError and templates print 'null'."
    if c.kind == "format_changed":
        if c.expected.startswith("string (date") and c.actual in ("integer", "number"):
            return f"new Date({js}) reads numbers as milliseconds: epoch seconds show dates in 1970."
        return f"parsing or validating {js} (new Date(), UUID checks, links) may reject it or show garbage."
    if c.kind == "new_enum_value":
        return f"switch statements and lookup tables on {js} without a default branch will show nothing or crash."
    if c.kind == "new_field":
        return "none for existing code: unknown fields are ignored (it may be a renamed field, though)."
    if c.kind == "not_json":
        return "response.json() throws: the page shows its generic error state."
    if c.kind == "error_status":
        return "calls that used to work now fail: the page shows error states or empty data."
    return "unknown."


def action(c: Change, about: str) -> str:
    if c.kind == "missing_field":
        return "add optional chaining (?.) and a fallback for this field, and ask the backend team whether the removal is intended."
    if c.kind == "type_changed":
        return f"normalise the value where it enters the app (e.g. Number()/String()), update its type ({c.expected} -> {c.actual})."
    if c.kind == "null_value":
        return "treat the field as nullable: use ?? with a default and update its type to allow null."
    if c.kind == "format_changed":
        return "parse the value defensively and confirm the new format with the backend team."
    if c.kind == "new_enum_value":
        return "add a default branch / fallback label for unknown values and add this value to the type."
    if c.kind == "new_field":
        return "no action needed; check whether it replaces a field that went missing."
    if c.kind == "not_json":
        return "check the backend (error page, gateway, maintenance mode) and guard response.json() with a content-type check."
    if c.kind == "error_status":
        return "check the backend logs for this endpoint and whether the request now needs something new."
    return "investigate."


def evidence(c: Change) -> str:
    """How sure the alert is, and on what: "98% sure: present in all 8 answers learned"."""
    sure = f"{c.confidence:.0%} sure" if c.confidence < 0.99 else f"{min(c.confidence, 0.9999):.2%} sure"
    if not c.seen:
        return sure
    if c.kind == "missing_field":
        basis = (f"present in all {c.seen} answers learned" if not c.exceptions
                 else f"present in {c.seen - c.exceptions} of {c.seen} answers learned")
    elif c.kind == "null_value":
        basis = (f"never null in {c.seen} answers learned" if not c.exceptions
                 else f"null in {c.exceptions} of {c.seen} answers learned")
    elif c.kind == "error_status":
        basis = f"{c.seen} successes before"
    elif c.kind == "new_field":
        basis = f"absent from {c.seen} answers learned"
    else:
        basis = f"{c.seen} answers learned"
    return f"{sure}: {basis}"


def narrate(c: Change) -> dict[str, str]:
    """label, topic, evidence, impact, action and one sentence `text` for one change."""
    about = topic(c.path)
    what = _what(c)
    imp, act = impact(c, about), action(c, about)
    why = evidence(c)
    text = f"{c.label}: {c.path} ({about}) {what} ({why}). Impact: {imp} Action: {act}"
    return {"label": c.label, "topic": about, "evidence": why, "impact": imp, "action": act, "text": text}


def alert_paragraph(method: str, template: str, status: int, changes: list[Change]) -> str:
    """A short summary paragraph for one alert."""
    if not changes:
        return f"{method} {template} ({status}): no changes."
    first = changes[0]
    worst = max(changes, key=lambda c: ("INFO", "WARNING", "BREAKING").index(c.label))
    head = f"{method} {template} ({status}) no longer matches its learned contract: {summary(changes)}."
    if worst.kind == "new_field" and len(changes) == 1:
        head = f"{method} {template} ({status}) returns a new field: {first.path}."
    most = narrate(worst)
    return (f"{head} Most serious: {worst.path} ({most['topic']}) {_what(worst)} ({most['evidence']}). "
            f"Recommended: {most['action']}")


def narration(method: str, template: str, status: int, changes: list[Change]) -> str:
    """The paragraph and one line per change, as logged when an alert opens."""
    lines = [alert_paragraph(method, template, status, changes)]
    lines += ["  - " + narrate(c)["text"] for c in changes]
    return "\n".join(lines)

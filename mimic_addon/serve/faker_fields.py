"""Field-name heuristics: which Faker generator fits a JSON property called `name`.

`field_kind(name)` maps a property name (snake_case, camelCase, kebab-case) to a kind;
`KINDS[kind]` makes a value from a seeded Faker and a `random.Random`. Kinds marked PII are the
fields whose observed values Mimic never copies into a mock (not even from a learned enum).
The synthesizer fits the result to the learned type, format and length afterwards.
"""
from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

Gen = Callable[[Any, random.Random], Any]

_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")


def tokens(name: str) -> list[str]:
    """`createdAt` / `created_at` / `Created-At` -> ["created", "at"]."""
    return [t.lower() for t in _WORD_SPLIT.split(name) if t]


def today() -> datetime:
    """The start of today (UTC): the end of the span mock dates and times are drawn from.

    Faker's default end is "now", which moves every second, so the same seed gave another
    timestamp a second later; from a fixed end the same request gets the same answer all day.
    """
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)


def recent(fake: Any) -> datetime:
    """A moment in the two years before today."""
    end = today()
    return fake.date_time_between(end - timedelta(days=730), end)


def _iso(fake: Any, rng: random.Random) -> str:
    return recent(fake).strftime("%Y-%m-%dT%H:%M:%SZ")


KINDS: dict[str, Gen] = {
    "id": lambda f, r: r.randint(1, 99_999),
    "uuid": lambda f, r: f.uuid4(),
    "email": lambda f, r: f.email(),
    "first_name": lambda f, r: f.first_name(),
    "last_name": lambda f, r: f.last_name(),
    "full_name": lambda f, r: f.name(),
    "username": lambda f, r: f.user_name(),
    "password": lambda f, r: f.password(length=12),
    "phone": lambda f, r: f.phone_number(),
    "address": lambda f, r: f.address().replace("\n", ", "),
    "street": lambda f, r: f.street_address(),
    "city": lambda f, r: f.city(),
    "state": lambda f, r: f.state(),
    "country": lambda f, r: f.country(),
    "country_code": lambda f, r: f.country_code(),
    "zip": lambda f, r: f.postcode(),
    "latitude": lambda f, r: float(f.latitude()),
    "longitude": lambda f, r: float(f.longitude()),
    "url": lambda f, r: f.url(),
    "image": lambda f, r: f"https://picsum.photos/seed/{r.randint(1, 10_000)}/200/200",
    "domain": lambda f, r: f.domain_name(),
    "company": lambda f, r: f.company(),
    "job": lambda f, r: f.job(),
    "title": lambda f, r: f.sentence(nb_words=4).rstrip("."),
    "description": lambda f, r: f.paragraph(nb_sentences=2),
    "text": lambda f, r: f.sentence(),
    "slug": lambda f, r: f.slug(),
    "name": lambda f, r: f.word().capitalize(),
    "price": lambda f, r: round(r.uniform(1, 500), 2),
    "currency": lambda f, r: f.currency_code(),
    "datetime": _iso,
    "date": lambda f, r: f.date(end_datetime=today()),
    "time": lambda f, r: f.time(end_datetime=today()),
    "timestamp": lambda f, r: r.randint(1_600_000_000, 1_760_000_000),
    "status": lambda f, r: r.choice(["active", "pending", "inactive"]),
    "type": lambda f, r: r.choice(["default", "standard", "custom"]),
    "ip": lambda f, r: f.ipv4_public(),
    "ipv6": lambda f, r: f.ipv6(),
    "mac": lambda f, r: f.mac_address(),
    "user_agent": lambda f, r: f.user_agent(),
    "color": lambda f, r: f.hex_color(),
    "token": lambda f, r: f.uuid4(),  # never seen (redacted): the commonest opaque token format
    "hash": lambda f, r: f.sha1(),
    "count": lambda f, r: r.randint(0, 500),
    "page": lambda f, r: r.randint(1, 5),
    "per_page": lambda f, r: r.choice([10, 20, 25, 50]),
    "age": lambda f, r: r.randint(18, 90),
    "quantity": lambda f, r: r.randint(1, 10),
    "rating": lambda f, r: round(r.uniform(1, 5), 1),
    "percent": lambda f, r: round(r.uniform(0, 100), 1),
    "boolean": lambda f, r: r.random() < 0.5,
    "true": lambda f, r: True,
    "language": lambda f, r: f.language_code(),
    "locale": lambda f, r: f.locale(),
    "timezone": lambda f, r: f.timezone(),
    "iban": lambda f, r: f.iban(),
    "card": lambda f, r: f.credit_card_number(),
    "version": lambda f, r: f"{r.randint(0, 9)}.{r.randint(0, 20)}.{r.randint(0, 50)}",
    "mime": lambda f, r: f.mime_type(),
    "filename": lambda f, r: f.file_name(),
    "tag": lambda f, r: f.word(),
    "word": lambda f, r: f.word(),
}

# PII-like kinds: their observed values are never reused (not even as a learned enum).
PII = frozenset({"email", "first_name", "last_name", "full_name", "username", "password", "phone",
                 "address", "street", "zip", "latitude", "longitude", "ip", "ipv6", "mac", "user_agent",
                 "token", "hash", "iban", "card", "name"})

# Whole names (tokens joined by "_"), checked first.
_EXACT = {
    "id": "id", "uuid": "uuid", "guid": "uuid", "email": "email", "email_address": "email", "mail": "email",
    "first_name": "first_name", "firstname": "first_name", "given_name": "first_name",
    "last_name": "last_name", "lastname": "last_name", "family_name": "last_name", "surname": "last_name",
    "full_name": "full_name", "fullname": "full_name", "display_name": "full_name", "real_name": "full_name",
    "username": "username", "user_name": "username", "login": "username", "handle": "username",
    "nickname": "username", "screen_name": "username",
    "password": "password", "phone": "phone", "phone_number": "phone", "mobile": "phone", "telephone": "phone",
    "address": "address", "street": "street", "street_address": "street", "address_line1": "street",
    "city": "city", "town": "city", "state": "state", "province": "state", "region": "state",
    "country": "country", "country_code": "country_code", "zip": "zip", "zipcode": "zip", "zip_code": "zip",
    "postcode": "zip", "postal_code": "zip", "lat": "latitude", "latitude": "latitude",
    "lng": "longitude", "lon": "longitude", "long": "longitude", "longitude": "longitude",
    "url": "url", "uri": "url", "link": "url", "href": "url", "website": "url", "homepage": "url",
    "avatar": "image", "avatar_url": "image", "image": "image", "image_url": "image", "photo": "image",
    "photo_url": "image", "picture": "image", "thumbnail": "image", "icon": "image", "logo": "image",
    "domain": "domain", "hostname": "domain", "host": "domain",
    "company": "company", "company_name": "company", "organization": "company", "org": "company",
    "job": "job", "job_title": "job", "occupation": "job", "title": "title", "subject": "title",
    "headline": "title", "description": "description", "bio": "description", "summary": "description",
    "about": "description", "body": "text", "content": "text", "message": "text", "comment": "text",
    "text": "text", "note": "text", "notes": "text", "slug": "slug", "name": "name", "label": "name",
    "price": "price", "amount": "price", "cost": "price", "total_price": "price", "balance": "price",
    "subtotal": "price", "fee": "price", "currency": "currency", "currency_code": "currency",
    "date": "date", "birthday": "date", "birth_date": "date", "dob": "date", "time": "time",
    "timestamp": "timestamp", "ts": "timestamp",
    "status": "status", "state_code": "state", "type": "type", "kind": "type", "category": "type",
    "ip": "ip", "ip_address": "ip", "ipv4": "ip", "ipv6": "ipv6", "mac": "mac", "mac_address": "mac",
    "user_agent": "user_agent", "color": "color", "colour": "color", "hex_color": "color",
    "token": "token", "access_token": "token", "refresh_token": "token", "api_key": "token",
    "secret": "token", "hash": "hash", "sha": "hash", "checksum": "hash", "etag": "hash",
    "count": "count", "total": "count", "total_count": "count", "size": "count", "length": "count",
    "num": "count", "number": "count", "page": "page", "page_number": "page", "current_page": "page",
    "per_page": "per_page", "page_size": "per_page", "limit": "per_page", "pagesize": "per_page",
    "perpage": "per_page", "offset": "count", "total_pages": "page", "pages": "page",
    "age": "age", "quantity": "quantity", "qty": "quantity", "rating": "rating", "score": "rating",
    "stars": "rating", "percent": "percent", "percentage": "percent", "progress": "percent",
    "language": "language", "lang": "language", "locale": "locale", "timezone": "timezone", "tz": "timezone",
    "iban": "iban", "card_number": "card", "credit_card": "card", "version": "version",
    "mime_type": "mime", "content_type": "mime", "filename": "filename", "file_name": "filename",
    "tag": "tag", "tags": "tag", "keyword": "word", "keywords": "word", "ok": "true", "success": "true",
}

# Last-token (suffix) rules, checked when no exact name matched.
_SUFFIX = {
    "id": "id", "uuid": "uuid", "guid": "uuid", "email": "email", "name": "name", "username": "username",
    "phone": "phone", "address": "address", "city": "city", "country": "country", "zip": "zip",
    "url": "url", "uri": "url", "link": "url", "href": "url", "avatar": "image", "image": "image",
    "photo": "image", "thumbnail": "image", "at": "datetime", "date": "date", "time": "datetime",
    "on": "date", "timestamp": "timestamp", "count": "count", "total": "count", "price": "price",
    "amount": "price", "cost": "price", "status": "status", "state": "status", "type": "type",
    "ip": "ip", "color": "color", "token": "token", "key": "word", "hash": "hash", "title": "title",
    "description": "description", "code": "word", "number": "count", "size": "count", "version": "version",
    "percent": "percent", "rate": "percent", "score": "rating", "lat": "latitude", "lng": "longitude",
    "tags": "tag", "message": "text", "text": "text", "is": "boolean", "has": "boolean", "enabled": "boolean",
}
_BOOL_PREFIX = ("is", "has", "can", "should", "allow", "enable")


def field_kind(name: str) -> str | None:
    """The heuristic kind of a property name, or None (the generic generator for its type)."""
    parts = tokens(name)
    if not parts:
        return None
    joined = "_".join(parts)
    kind = _EXACT.get(joined) or _EXACT.get(joined.replace("_", ""))
    if kind is not None:
        return kind
    if parts[0] in _BOOL_PREFIX and len(parts) > 1:
        return "boolean"
    if len(parts) > 1 and parts[-1] == "name":
        return {"first": "first_name", "last": "last_name", "full": "full_name", "user": "username",
                "display": "full_name", "company": "company", "file": "filename"}.get(parts[-2], "name")
    return _SUFFIX.get(parts[-1])

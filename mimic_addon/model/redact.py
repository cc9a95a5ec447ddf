"""Secrets redaction, applied to paths, headers, query strings and bodies before anything is stored.

Two rules. By name: names are compared after normalisation (lower case, separators removed), so
`X-API-Key`, `api_key` and `apiKey` are the same name. Exact secret names are always redacted; names
that merely contain a secret word (`next_page_token`, `max_tokens`) are redacted only when the value is
a string, so numeric counters keep their values. By shape: whatever its name, a value that looks like a
well-known credential is redacted, alone or inside longer text (`_SHAPES`: JWTs, AWS access key ids,
GitHub, GitLab, Slack, Stripe, Google, OpenAI, Anthropic and npm keys, Slack and Discord webhook URLs,
PEM private keys, Bearer and Basic credentials, and card numbers that pass the Luhn check). A small table of published formats rather than a scanner library: it runs on every
stored string, so it has to cost next to nothing on text that holds none.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from functools import lru_cache
from typing import Any

REDACTED = "[REDACTED]"

_EXACT_NAMES = frozenset({
    "password", "passwd", "pwd", "pass", "passphrase", "secret", "token",
    "accesstoken", "refreshtoken", "idtoken", "authtoken", "xauthtoken", "sessiontoken",
    "apikey", "xapikey", "clientsecret", "privatekey", "secretkey",
    "accesskeyid", "awsaccesskeyid", "secretaccesskey", "awssecretaccesskey", "awssessiontoken",
    "auth", "authorization", "proxyauthorization", "cookie", "setcookie",
    "sessionid", "sid", "signature", "sig",
    "ssn", "cardnumber", "creditcard", "creditcardnumber", "ccnumber", "cvv", "cvv2", "cvc",
    "pin", "otp", "jwt",
})
_NAME_FRAGMENTS = (
    "password", "passwd", "secret", "token", "apikey", "privatekey", "credential",
    "session", "signature", "cookie", "accesskey",
)
# Headers also treat anything with "auth" in the name as secret; JSON keys do not ("author").
_HEADER_FRAGMENTS = _NAME_FRAGMENTS + ("auth",)
# (X-Mimic-Session names a twin's scope, shown as such in the admin app: `alice`, no secret)
_HARMLESS_HEADERS = frozenset({"wwwauthenticate", "proxyauthenticate", "xmimicsession"})
# Too generic for JSON keys, but in a query string they carry credentials.
_QUERY_NAMES = frozenset({"key", "code"})
# ... also in a query string inside other text: a `Location` or `Referer` header, a link in a body
# (`https://app.example/callback?code=...`: an OAuth authorization code; `?key=...`: an API key)
_QUERY_NAME_PAIR = re.compile(r"(?i)((?:[?&]|&amp;)(?:" + "|".join(sorted(_QUERY_NAMES)) +
                              r")=)[^&#\s\"'<>,;]+")  # (`&amp;`: in HTML)

_NAME_SEPARATORS = str.maketrans("", "", "-_ .")
# Credentials recognised by their shape (published formats), wherever they appear.
_SHAPES = re.compile("|".join((
    r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*",           # JWT (header.payload.signature)
    r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9])",  # AWS access key id
    r"(?<![A-Za-z0-9])gh[pousr]_[A-Za-z0-9]{36,255}",                       # GitHub tokens
    r"(?<![A-Za-z0-9])github_pat_[A-Za-z0-9_]{22,255}",                     # GitHub fine-grained token
    r"(?<![A-Za-z0-9])xox[abposrec]-[A-Za-z0-9-]{10,}",                     # Slack tokens
    r"(?<![A-Za-z0-9])(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}",            # Stripe secret / restricted keys
    r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_-]{35}",                               # Google API key
    # (random keys hold a digit or a capital: `sk-admin-panel-user-guide`, a slug, holds neither)
    r"(?<![A-Za-z0-9])sk-(?:proj|svcacct|admin|ant-(?:api|admin)\d\d)-(?=[A-Za-z0-9_-]*[0-9A-Z])[A-Za-z0-9_-]{32,}",
    r"(?<![A-Za-z0-9-])sk-(?=[A-Za-z0-9]*[0-9A-Z])[A-Za-z0-9]{32,}(?![A-Za-z0-9])",  # OpenAI keys (first format)
    r"(?<![A-Za-z0-9])gl(?:pat|dt|rt|ptt|ft|cbt|oas|soat|agent)-(?=[A-Za-z0-9_-]*[0-9A-Z])[A-Za-z0-9_-]{20,}",  # GitLab
    r"(?<![A-Za-z0-9])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])",                  # npm access token
    r"-----BEGIN[A-Z ]{0,40} PRIVATE KEY( BLOCK)?-----.*?(?:-----END[A-Z ]{0,40} PRIVATE KEY( BLOCK)?-----|$)",
)), re.DOTALL)
# Every secret name (_EXACT_NAMES, _NAME_FRAGMENTS) holds one of these: text without any has no secret field.
# (Searched in lower-cased text: a case-insensitive alternation costs several times more.)
_SECRET_WORD_HINT = re.compile(r"pass|pwd|secret|token|key|auth|sess|sid|sig|cookie|credential|ssn|cv[vc]|card"
                               r"|cc|pin|otp|jwt")
_AWS_KEY_ID = re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9])")
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])")
# One quick search before the costlier patterns run: almost no text holds any of these.
_SHAPE_HINTS = re.compile("eyJ|A(?:KIA|SIA|BIA|CCA|3T|Iza)|gh[pousr]_|github_pat_|xox|k_(?:live|test)_|PRIVATE KEY"
                          "|sk-(?:proj-|svcacct-|admin-|ant-|[A-Za-z0-9]{32})|gl(?:pat|dt|rt|ptt|ft|cbt|oas|soat|agent)-"
                          "|npm_|earer|EARER")  # (alternatives sharing a start are one: the search tries fewer)
# Webhook URLs whose path is the secret (Slack's `/services/T.../B.../<secret>`, Discord's
# `/api/webhooks/<id>/<secret>`), in a URL in any text or in the request's own path: the secret goes
_WEBHOOK = re.compile(r"(/services/T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/)[A-Za-z0-9]{16,}"
                      r"|(/api(?:/v\d+)?/webhooks/\d{5,}/)[A-Za-z0-9_-]{20,}")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/-]+=*(?=$|[\s,;])")  # RFC 6750 b64token
# `Basic <base64 of user:password>` (RFC 7617) in any text: redacted when it decodes to such a pair,
# so that "basic information" stays
_BASIC = re.compile(r"(?i)\b(basic)\s+([A-Za-z0-9+/]{8,}={0,2})(?=$|[\s,;\"'.)\]}])")
# Card numbers: 13 to 19 digits (spaces or dashes between groups) with a known issuer prefix
# (`_ISSUER`: Visa, Mastercard, Amex, Diners, JCB, Discover, UnionPay), Luhn-valid. The pattern starts
# with a character set so the regex engine skips fast over text without such digits. A card number
# glued to a word (`card_4111...`, `PAN4111...`) is still one, but digits inside a UUID are not
# (`adbcb155-a659-0755-9197-39c1dcf87d70`: its digit groups may pass the Luhn check).
_CARD = re.compile(r"[2-6](?<![\d.-][2-6])\d(?:[ -]?\d){11,17}(?![\d-])")
_UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ISSUER = re.compile(r"4|5[1-5]|2[2-7]|3[04-9]|6")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,19}")
# a URL's `user:password@` (the password runs to the last `@` before the host, as URL parsers read it)
_USERINFO = re.compile(r"""([A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s"'<>,{}]*:)[^\s"'<>,{}]+@(?=[^\s@"'<>,{}/]+)""")
_SHORT_NUMBER = re.compile(r"-?\d{1,12}(\.\d+)?")


def _normalise(name: str) -> str:
    return name.lower().translate(_NAME_SEPARATORS)


def _is_exact_secret(normalised: str) -> bool:
    return normalised in _EXACT_NAMES


def _has_fragment(normalised: str, fragments: tuple[str, ...]) -> bool:
    return any(f in normalised for f in fragments)


def is_sensitive_name(name: str) -> bool:
    """True for names that hold or contain a secret word (password, token, api key, ...)."""
    n = _normalise(name)
    return _is_exact_secret(n) or _has_fragment(n, _NAME_FRAGMENTS)


# Personal data: kept as values in examples (they are samples), but never learned as an enum.
_PERSONAL_FRAGMENTS = ("firstname", "lastname", "fullname", "givenname", "familyname", "surname",
                       "displayname", "realname", "username", "nickname", "screenname", "email", "phone",
                       "mobile", "telephone", "address", "street", "zip", "postcode", "postalcode",
                       "birth", "dob", "ssn", "iban", "cardnumber")
_PERSONAL_EXACT = frozenset({"login", "handle", "ip", "ipaddress"})


def is_personal_name(name: str) -> bool:
    """True for field names that hold personal data (names of people, contacts, addresses, ...)."""
    n = _normalise(name)
    return n in _PERSONAL_EXACT or _has_fragment(n, _PERSONAL_FRAGMENTS)


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of card numbers holds for `digits`."""
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = ord(c) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(m: re.Match[str]) -> str:
    digits = m.group(0).replace(" ", "").replace("-", "")
    return REDACTED if _is_card(digits) and not _in_uuid(m) else m.group(0)


def _in_uuid(m: re.Match[str]) -> bool:
    """Is the match part of a UUID written in the text (the 36 characters around it)?"""
    text, start, end = m.string, m.start(), m.end()
    return any(_UUID_TEXT.fullmatch(text, i, i + 36) for i in range(max(0, end - 36), min(start, len(text) - 36) + 1))


def _is_card(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and _ISSUER.match(digits) is not None and luhn_valid(digits)


def is_card_number(value: int) -> bool:
    """A JSON number that is a payment card number (issuer prefix, 13-19 digits, Luhn-valid)."""
    return 10**12 <= value < 10**19 and _is_card(str(value))


_SCRUB_MIN = 10  # shorter text holds no credential of a known shape


def _scrub(text: str) -> str:
    """Redact credentials recognised by their shape inside free text (`_SHAPES`, `Bearer <token>`, card
    numbers); the very same string when there is none."""
    if len(text) < _SCRUB_MIN:
        return text
    if "=" in text:
        if _SECRET_WORD_HINT.search(text.lower()) is not None:  # `?access_token=...` in a URL, a form...
            text = _EQUALS_PAIR.sub(_mask_match, text)
        if "?" in text or "&" in text:
            text = _QUERY_NAME_PAIR.sub(lambda m: m.group(1) + REDACTED, text)
    if _SHAPE_HINTS.search(text) is not None:
        aws_pair = _AWS_KEY_ID.search(text) is not None
        text = _SHAPES.sub(REDACTED, text)
        if aws_pair:  # beside an access key id, 40 characters of base64 are its secret access key
            text = _AWS_SECRET.sub(REDACTED, text)
        if "earer" in text or "EARER" in text:
            text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    if "asic" in text or "ASIC" in text:
        text = _BASIC.sub(_basic, text)
    if "/services/" in text or "/webhooks/" in text:
        text = _WEBHOOK.sub(_webhook, text)
    if "@" in text and "://" in text:  # `https://user:password@host/`: the password goes
        text = _USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
    if _CARD.search(text) is not None:
        text = _CARD.sub(_card, text)
    return text


def _basic(m: re.Match[str]) -> str:
    """`Basic [REDACTED]` when the credential decodes to `user:password`, else the text as it was."""
    try:
        pair = base64.b64decode(m.group(2), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return m.group(0)
    return f"{m.group(1)} {REDACTED}" if ":" in pair and pair.isprintable() else m.group(0)


def _webhook(m: re.Match[str]) -> str:
    return (m.group(1) or m.group(2)) + REDACTED


def redact_path(path: str) -> str:
    """A URL path (query string kept as it is) with each segment that holds a credential (a JWT, an API
    key, a card number, ...: `_scrub`) replaced by `[REDACTED]`, and a webhook's secret segment (a
    request posting to Slack or Discord through the proxy); the very same string when there is none."""
    path_part, sep, query = path.partition("?")
    if len(path_part) < 13:
        return path
    if "/services/" in path_part or "/webhooks/" in path_part:
        hooked = _WEBHOOK.sub(_webhook, path_part)
        if hooked != path_part:
            return redact_path(hooked + sep + query)
    segments = path_part.split("/")
    changed = False
    for i, segment in enumerate(segments):
        if len(segment) >= 13:
            plain = urllib.parse.unquote(segment, errors="surrogateescape")
            if _scrub(plain) != plain:
                segments[i] = REDACTED
                changed = True
    return "/".join(segments) + sep + query if changed else path


def _redact_authorization(value: str) -> str:
    scheme, sep, _ = value.strip().partition(" ")
    return f"{scheme} {REDACTED}" if sep and _SCHEME.fullmatch(scheme) else REDACTED


def _redact_cookie(value: str) -> str:
    """Keep cookie names, drop their values: `sid=[REDACTED]; theme=[REDACTED]`."""
    out = []
    for part in value.split(";"):
        name, sep, _ = part.strip().partition("=")
        out.append(f"{name}={REDACTED}" if sep else REDACTED)
    return "; ".join(out)


def _redact_set_cookie(value: str) -> str:
    """Redact the cookie's value but keep its attributes (Path, Expires, HttpOnly, ...)."""
    first, sep, attributes = value.partition(";")
    name, eq, _ = first.strip().partition("=")
    redacted = f"{name}={REDACTED}" if eq else REDACTED
    return f"{redacted};{attributes}" if sep else redacted


def redact_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out = []
    for name, value in headers:
        n = _normalise(name)
        if n in ("authorization", "proxyauthorization"):
            value = _redact_authorization(value)
        elif n == "cookie":
            value = _redact_cookie(value)
        elif n == "setcookie":
            value = _redact_set_cookie(value)
        elif n not in _HARMLESS_HEADERS and (_is_exact_secret(n) or _has_fragment(n, _HEADER_FRAGMENTS)):
            value = REDACTED
        else:
            value = _scrub(value)
        out.append((name, value))
    return out


def redact_query(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Redact credential parameters (`_is_secret_value`, and `key`, `code`)."""
    out = []
    for name, value in pairs:
        if _is_secret_value(name, value) or _normalise(name) in _QUERY_NAMES:
            value = REDACTED
        else:
            value = _scrub(value)
        out.append((name, value))
    return out


def _is_secret_value(name: str, value: str) -> bool:
    """Is `value` of the parameter or field `name` a secret? Secret names always; names with a secret
    word unless the value is a plain short number (`max_tokens=100`) or describes the secret
    (`token_type=bearer`, `describes_a_secret`)."""
    n = _normalise(name)
    if _is_exact_secret(n):
        return True
    return _has_fragment(n, _NAME_FRAGMENTS) and _SHORT_NUMBER.fullmatch(value) is None \
        and not describes_a_secret(name, value)


def redact_json(value: Any, max_depth: int = 32) -> Any:
    """`value` (decoded JSON) with its secrets redacted; anything nested deeper than `max_depth` is
    replaced wholesale, since it was not inspected.

    Copy-on-write: containers are copied only along paths where something was redacted, so a
    document without secrets comes back as the very same object (most do, and copying every
    body cost more than observing it). Callers must not mutate what they pass or get back.
    """
    if isinstance(value, str):
        return _scrub(value)
    if isinstance(value, dict):
        if max_depth <= 0:
            return REDACTED
        out = value
        for k, v in value.items():
            t = type(v)
            if v is None or t is bool:
                continue
            if isinstance(k, str) and (kind := _key_class(k)) and (kind == 2 or isinstance(v, str)):
                if kind == 1 and t is str and describes_a_secret(k, v):
                    continue
                new = _blank(v, max_depth - 1) if t is dict or t is list else REDACTED
            elif t is str:  # the common cases inline: this loop runs over every sampled body
                if len(v) < _SCRUB_MIN:
                    continue
                new = _scrub(v)
            elif t is int:
                if v < 10**12 or not is_card_number(v):
                    continue
                new = REDACTED
            elif t is float:
                continue
            else:
                new = redact_json(v, max_depth - 1)
            if new is not v:
                if out is value:
                    out = dict(value)
                out[k] = new
        return out
    if isinstance(value, (list, tuple)):
        if max_depth <= 0:
            return REDACTED
        items = value if isinstance(value, list) else list(value)
        seq = items
        for i, v in enumerate(items):
            t = type(v)
            if v is None or t is float or t is bool or (t is int and (v < 10**12 or not is_card_number(v))) or (
                    t is str and len(v) < _SCRUB_MIN):
                continue
            new = REDACTED if t is int else _scrub(v) if t is str else redact_json(v, max_depth - 1)
            if new is not v:
                if seq is value:
                    seq = list(value)
                seq[i] = new
        return seq
    return value


# Inside a secret container only what describes the secret survives: dates, and plain words under
# keys that name a kind or a state (`"object": "project.api_key"`, `"status": "HEALTHY"`). Any other
# string -- a list item, a `value`, a word that may well be a password -- is `[REDACTED]`.
_PLAIN_WORDS = re.compile(r"[a-z]{3,20}(?:[._ -][a-z]{3,20}){0,5}|[A-Z]{3,20}(?:_[A-Z]{3,20}){0,5}")
_DATE_TEXT = re.compile(r"\d{4}-\d\d-\d\d(?:[Tt ]\d\d:\d\d(?::\d\d(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d\d:?\d\d)?)?")
_DESCRIBING_KEYS = frozenset({"object", "type", "kind", "status", "state", "scope", "mode", "usage",
                              "token_type", "algorithm", "alg", "environment", "category"})


def _blank(value: Any, max_depth: int, key: str | None = None) -> Any:
    """A container under a secret name with its values blanked but its shape kept: strings are
    `[REDACTED]` unless dates or plain words under a describing key, numbers 0, keys, booleans and
    nulls stay (`"client_secret": {"value": "[REDACTED]", "expires_at": 0, "object": "secret"}`),
    so what is learned from it still says it is an object, and of which fields."""
    if max_depth <= 0:
        return REDACTED
    if isinstance(value, dict):
        return {k: REDACTED if isinstance(v, str) and isinstance(k, str) and _key_class(k)
                else _blank(v, max_depth - 1, k if isinstance(k, str) else None) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_blank(v, max_depth - 1) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return 0
    if isinstance(value, float):
        return 0.0
    if isinstance(value, str) and (_DATE_TEXT.fullmatch(value) or (
            key is not None and key.lower() in _DESCRIBING_KEYS and _PLAIN_WORDS.fullmatch(value))):
        return value
    return REDACTED


# The last word of a name with a secret word in it (not a secret's own name) that makes it a time
# (`password_changed_at`, `token_expiration_time`).
_TIME_ENDS = ("at", "on", "date", "time", "expires", "expiry", "expiration", "changed", "created", "updated",
              "issued")
# One plain word (`bearer`, `active`, `API_KEY`): a passphrase of several words is not kept.
_DESCRIBING_WORD = re.compile(r"[a-z]{3,20}(?:[._-][a-z]{2,20}){0,2}|[A-Z]{3,20}(?:_[A-Z]{2,20}){0,2}")
# ... or the name of something said about the secret, not the secret: `token_type`, `session_status`.
_DESCRIBING_ENDS = ("type", "types", "algorithm", "algorithms", "kind", "status", "scope", "scopes", "mode",
                    "category", "method")


def describes_a_secret(key: str, value: str) -> bool:
    """Is this string, under a key holding a secret word but no secret's own name (`_key_class` 1),
    something said about the secret rather than the secret: a date (`password_changed_at`,
    `token_expiration_time`) or plain words under a describing name (`"token_type": "bearer"`)? Kept
    as they are, they keep their format and their set of values for the schema and the mocks."""
    n = _normalise(key)
    if _DATE_TEXT.fullmatch(value):
        return n.endswith(_TIME_ENDS)  # (`secret_answer: "1990-05-12"` is a secret that looks like a date)
    return n.endswith(_DESCRIBING_ENDS) and _DESCRIBING_WORD.fullmatch(value) is not None


@lru_cache(maxsize=4096)
def _key_class(key: str) -> int:
    """0: harmless, 1: redact string values, 2: redact any value. Cached: keys repeat a lot."""
    n = _normalise(key)
    if _is_exact_secret(n):
        return 2
    return 1 if _has_fragment(n, _NAME_FRAGMENTS) else 0


# -- text bodies ---------------------------------------------------------------------------------------
# Content types whose bodies are text (and so shown / masked rather than treated as binary).
TEXTUAL = ("text/", "xml", "javascript", "html", "csv", "yaml", "graphql", "x-www-form-urlencoded")
_FORM_SHAPE = re.compile(r"[^=&\s]+=[^&\s]*(?:&[^=&\s]+(?:=[^&\s]*)?)*&?")
# `<password>v</password>`, `<ns:Token attr="x"><![CDATA[v]]></ns:Token>`: the element's text is masked.
_XML_ELEMENT = re.compile(
    r"<(?P<tag>(?:[\w.\-]+:)?(?P<name>[A-Za-z_][\w.\-]*))(?:\s[^<>]*)?>"
    r"(?P<value>(?:<!\[CDATA\[.*?\]\]>|[^<])*)</(?P=tag)\s*>", re.DOTALL)
_NAME = r"""(?<![\w.\-])(?P<q>["']?)(?P<name>[A-Za-z_][\w.\-]*)(?P=q)"""
_QUOTED = r""""(?:[^"\\\r\n]|\\.)*"|'(?:[^'\\\r\n]|\\.)*'"""
# `"name": value`, `name: value` (the value runs to the end of the line or the next , ; & } ])
_COLON_PAIR = re.compile(_NAME + r"(?P<sep>[ \t]*:[ \t]*)"
                         r"(?P<value>" + _QUOTED + r"""|[^\s,;&"'<>{}]+(?:[ \t]+[^\s,;&"'<>{}]+)*)""")
# `name=value`, `name = "value"` (the value runs to the next blank or &)
_EQUALS_PAIR = re.compile(_NAME + r"(?P<sep>[ \t]*=[ \t]*)(?P<value>" + _QUOTED + r"""|[^\s&"'<>]+)""")


def _mask_match(m: re.Match[str]) -> str:
    """A `name: value` or `name=value` in free text, its value masked when a query's would be."""
    value = m.group("value")
    if not _is_secret_value(m.group("name"), value.strip("\"'").strip()):
        return m.group(0)
    if value[:1] in ("'", '"') and m.re is not _XML_ELEMENT:
        masked = value[0] + REDACTED + value[0]
    else:
        masked = REDACTED
    start, end = m.start("value") - m.start(), m.end("value") - m.start()
    return m.group(0)[:start] + masked + m.group(0)[end:]


def redact_text(text: str) -> str:
    """Free text (plain, XML, YAML, logfmt, malformed JSON, ...) with the values of secret-named fields
    masked -- `name=value`, `"name": value`, `name: value`, `<name>value</name>` -- and embedded JWTs and
    Bearer credentials scrubbed. Idempotent; the very same string when nothing was masked."""
    if "<" in text:
        text = _XML_ELEMENT.sub(_mask_match, text)
    if ":" in text:
        text = _COLON_PAIR.sub(_mask_match, text)
    if "=" in text:
        text = _EQUALS_PAIR.sub(_mask_match, text)
    return _scrub(text)


def is_form_body(text: str, content_type: str) -> bool:
    """An application/x-www-form-urlencoded body: by its content type, or by its shape (`a=1&b=2`) when the
    type is missing or text/*."""
    ctype = content_type.lower()
    if "x-www-form-urlencoded" in ctype:
        return True
    return (not ctype.strip() or ctype.startswith("text/")) and _FORM_SHAPE.fullmatch(text.strip()) is not None


def redact_form(text: str) -> str:
    """A form-encoded body with its fields redacted as query parameters are (`redact_query`); the very same
    string when nothing was redacted (so its original encoding is kept)."""
    pairs = urllib.parse.parse_qsl(text.strip(), keep_blank_values=True, errors="surrogateescape")
    redacted = redact_query(pairs)
    if redacted == pairs:
        return text
    return urllib.parse.urlencode(redacted, safe="[]", errors="surrogateescape")


def redact_text_body(text: str, content_type: str) -> str:
    """A textual (non-JSON) body, redacted: form-encoded ones field by field, others by `redact_text`."""
    return redact_form(text) if is_form_body(text, content_type) else redact_text(text)


def is_textual(content_type: str) -> bool:
    """Is a body of this content type text (a missing type counts: it may well be)?"""
    ctype = content_type.lower()
    return not ctype.strip() or any(t in ctype for t in TEXTUAL)

"""Per-endpoint overrides: a pinned body, a sandboxed Jinja2 template, or weighted variants.

An override spec (JSON or YAML, validated by `parse_spec`) is one of
- `{"body": <any JSON>, "status": 200, "headers": {...}}`: a fixed answer;
- `{"template": "<jinja2>", "status": 200, "content_type": "...", "headers": {...}}`: rendered per
  request in a `SandboxedEnvironment` (no attribute escapes such as `''.__class__`);
- `{"variants": [{"weight": 80, "status": 200, "body": ...}, {"weight": 20, "status": 500, ...}]}`
  (or the bare list): one variant picked by weight, each a body or a template.

Templates see `request` (method, path, params, query, headers, body), `state` (the per-session
key/value store of the stateful twins) and helpers: `fake` (seeded Faker), `random_int`, `uuid`,
`choice`, `seq`, `md5`/`sha1`/`sha256`, `b64encode`/`b64decode` (also as filters).
Everything random comes from the `random.Random` handed in, so answers follow `mimic_seed` (Faker's dates
and times without an end given still end at the clock's now).
"""
from __future__ import annotations

import base64
import hashlib
import json
import random
import uuid as _uuid
from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

MAX_TEMPLATE = 64 * 1024
_KEYS = {"body", "template", "status", "headers", "content_type", "weight", "name"}


class OverrideError(ValueError):
    pass


@dataclass(slots=True)
class Variant:
    weight: float = 1.0
    status: int = 200
    body: Any = None
    has_body: bool = False
    template: str | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    name: str | None = None


@dataclass(slots=True)
class Override:
    spec: Any
    variants: list[Variant]

    def pick(self, rng: random.Random) -> tuple[int, Variant]:
        if len(self.variants) == 1:
            return 0, self.variants[0]
        x = rng.random() * sum(v.weight for v in self.variants)
        for i, v in enumerate(self.variants):
            x -= v.weight
            if x < 0:
                return i, v
        return len(self.variants) - 1, self.variants[-1]


@dataclass(slots=True)
class Rendered:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str]
    name: str


def _b64encode(s: Any) -> str:
    data = s if isinstance(s, bytes) else str(s).encode()
    return base64.b64encode(data).decode()


def _b64decode(s: Any) -> str:
    return base64.b64decode(str(s)).decode(errors="replace")


def _hash(algo: str):
    def h(s: Any) -> str:
        data = s if isinstance(s, bytes) else (json.dumps(s, sort_keys=True) if not isinstance(s, str) else s).encode()
        return hashlib.new(algo, data).hexdigest()
    return h


_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
for _name, _fn in (("b64encode", _b64encode), ("b64decode", _b64decode), ("md5", _hash("md5")),
                   ("sha1", _hash("sha1")), ("sha256", _hash("sha256"))):
    _env.filters[_name] = _fn
    _env.globals[_name] = _fn


def _variant(d: Any, where: str) -> Variant:
    if not isinstance(d, dict):
        raise OverrideError(f"{where}: expected a mapping with body or template")
    unknown = set(d) - _KEYS
    if unknown:
        raise OverrideError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    if ("body" in d) == ("template" in d):
        raise OverrideError(f"{where}: give exactly one of body or template")
    status = d.get("status", 200)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise OverrideError(f"{where}: status must be an HTTP status code")
    weight = d.get("weight", 1)
    if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight < 0:
        raise OverrideError(f"{where}: weight must be a number >= 0")
    headers = d.get("headers") or {}
    if not isinstance(headers, dict):
        raise OverrideError(f"{where}: headers must be a mapping")
    template = d.get("template")
    if template is not None:
        if not isinstance(template, str) or len(template) > MAX_TEMPLATE:
            raise OverrideError(f"{where}: template must be a string of at most {MAX_TEMPLATE} characters")
        try:
            _env.from_string(template)
        except TemplateError as e:
            raise OverrideError(f"{where}: template: {e}") from None
    ctype = d.get("content_type")
    if ctype is not None and not isinstance(ctype, str):
        raise OverrideError(f"{where}: content_type must be a string")
    return Variant(weight=float(weight), status=status, body=d.get("body"), has_body="body" in d,
                   template=template, content_type=ctype,
                   headers={str(k): str(v) for k, v in headers.items()},
                   name=str(d["name"]) if d.get("name") is not None else None)


def parse_spec(spec: Any) -> Override:
    """A validated Override from a spec (already parsed from JSON/YAML); OverrideError otherwise."""
    if isinstance(spec, dict) and "variants" in spec:
        if set(spec) - {"variants"}:
            raise OverrideError("a variants override has only the key variants")
        items = spec["variants"]
    elif isinstance(spec, list):
        items = spec
    else:
        return Override(spec, [_variant(spec, "override")])
    if not isinstance(items, list) or not items:
        raise OverrideError("variants must be a non-empty list")
    variants = [_variant(v, f"variant {i}") for i, v in enumerate(items)]
    if sum(v.weight for v in variants) <= 0:
        raise OverrideError("the variants' weights add up to 0")
    return Override(spec, variants)


def parse_text(text: str) -> Override:
    """Parse a JSON or YAML spec string."""
    import yaml

    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise OverrideError(f"not JSON or YAML: {e}") from None
    return parse_spec(spec)


class _Seq:
    def __init__(self, state: Any) -> None:
        self.state = state

    def __call__(self, name: str = "default", start: int = 1) -> int:
        key = f"seq:{name}"
        value = self.state.get(key)
        value = start if not isinstance(value, int) else value + 1
        self.state.set(key, value)
        return value


def render(ov: Override, label: str, request: dict[str, Any], state: Any, rng: random.Random,
           fake: Any) -> Rendered:
    """The answer of an override for one request. Template errors become a 500 naming the error."""
    i, v = ov.pick(rng)
    name = v.name or (label if len(ov.variants) == 1 else f"{label}#{i}")
    headers = dict(v.headers)
    if v.has_body:
        if isinstance(v.body, (bytes, str)) and not (v.content_type or "").endswith("json"):
            body = v.body.encode() if isinstance(v.body, str) else v.body
            return Rendered(v.status, body, v.content_type or "text/plain; charset=utf-8", headers, name)
        return Rendered(v.status, json.dumps(v.body).encode(), v.content_type or "application/json", headers, name)
    fake.seed_instance(rng.getrandbits(64))
    helpers = {
        "request": request, "state": state, "fake": fake,
        "random_int": lambda a=0, b=100: rng.randint(int(a), int(b)),
        "uuid": lambda: str(_uuid.UUID(int=rng.getrandbits(128), version=4)),
        "choice": lambda seq: rng.choice(list(seq)),
        "seq": _Seq(state),
    }
    try:
        text = _env.from_string(v.template or "").render(**helpers)
    except Exception as e:  # TemplateError, SecurityError, errors raised by helpers
        err = {"error": "Mimic override template failed", "override": name, "detail": f"{type(e).__name__}: {e}"}
        return Rendered(500, json.dumps(err).encode(), "application/json", {}, name)
    ctype = v.content_type
    if ctype is None:
        try:
            json.loads(text)
            ctype = "application/json"
        except ValueError:
            ctype = "text/plain; charset=utf-8"
    return Rendered(v.status, text.encode(), ctype, headers, name)

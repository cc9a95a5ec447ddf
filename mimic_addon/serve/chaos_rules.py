"""Chaos rules and profiles: the data model and its parser (YAML / dicts), pure.

A rule is a scope (host, method, path glob or template, headers), a probability (uniform or in
Markov bursts) and one action. A profile is a named list of rules. The parser turns the YAML
format documented in the README into frozen dataclasses and reports mistakes with the path of
the offending key (`profiles.ci.rules[2].error.status: must be an integer 100-599`).
"""
from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Union, overload

QUANTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}
ACTIONS = ("latency", "error", "reset", "timeout", "rate_limit", "slow_body", "observed")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


class ChaosError(ValueError):
    """A rule, profile or chaos file is invalid; the message names the offending key."""


# -- actions ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Latency:
    """Delay before the request goes on: fixed, uniform in [min, max], or a learned quantile × factor."""

    fixed_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    learned: str | None = None       # "p50", "p90", "p95" or "p99" of the endpoint's latency
    factor: float = 1.0


@dataclass(frozen=True)
class Error:
    """Answer with `status` and an RFC 9457 problem body (or `body`, used as given)."""

    status: int = 503
    title: str = ""
    detail: str = ""
    type: str = "about:blank"
    headers: tuple[tuple[str, str], ...] = ()
    body: Any = None


@dataclass(frozen=True)
class Reset:
    """Drop the client connection without an answer."""


@dataclass(frozen=True)
class Timeout:
    """Hold the request `after_ms`, then drop the connection or answer 504."""

    after_ms: float = 30_000.0
    then: str = "504"               # "504" or "drop"


@dataclass(frozen=True)
class RateLimit:
    """Token bucket of `burst` tokens refilled at `rate` per second, one bucket per key."""

    rate: float = 10.0
    burst: int = 10
    key: str = "client"             # "client" (address) or "header:<name>"


@dataclass(frozen=True)
class SlowBody:
    """Deliver the response body at `bytes_per_second`."""

    bytes_per_second: int = 50_000


@dataclass(frozen=True)
class Observed:
    """Reproduce the endpoint's own learned failures and latency, scaled by `factor`."""

    factor: float = 1.0
    min_status: int = 400           # learned statuses >= this count as errors
    latency: bool = True
    errors: bool = True


Action = Union[Latency, Error, Reset, Timeout, RateLimit, SlowBody, Observed]


# -- scope, rule, profile ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Scope:
    host: str | None = None                          # glob, case-insensitive ("*.example.com")
    methods: frozenset[str] | None = None            # upper-case
    path: str | None = None                          # "/users/*", "/users/{user_id}", "/api/**"
    headers: tuple[tuple[str, str], ...] = ()        # (lower-case name, value glob)

    @property
    def path_parts(self) -> tuple[str, ...] | None:
        return None if self.path is None else tuple(_split(self.path))

    @property
    def uses_template(self) -> bool:
        return self.path is not None and any(_is_placeholder(p) for p in _split(self.path))


@dataclass(frozen=True)
class Burst:
    """Two-state good/bad Markov chain: faults come in runs of `mean_length` on average."""

    mean_length: float


@dataclass(frozen=True)
class Rule:
    name: str
    action: Action
    scope: Scope = field(default_factory=Scope)
    probability: float = 1.0
    burst: Burst | None = None

    @property
    def kind(self) -> str:
        return _KIND[type(self.action)]


@dataclass(frozen=True)
class Profile:
    name: str
    rules: tuple[Rule, ...]
    description: str = ""
    builtin: bool = False


_KIND = {Latency: "latency", Error: "error", Reset: "reset", Timeout: "timeout",
         RateLimit: "rate_limit", SlowBody: "slow_body", Observed: "observed"}


# -- path scope ----------------------------------------------------------------------------------------
def _split(path: str) -> list[str]:
    return path.split("?", 1)[0].lstrip("/").split("/")


def _is_placeholder(segment: str) -> bool:
    return len(segment) > 2 and segment.startswith("{") and segment.endswith("}")


def path_matches(pattern: tuple[str, ...], parts: list[str], template: list[str] | None = None) -> bool:
    """Does a concrete path (split, decoded) match a scope pattern?

    Segments are globs (`*`, `?`, `[ab]`); `**` matches any number of segments; `{name}` matches
    one segment — and when the learned template of the path is known (`template`, same length as
    `parts`), only a segment that is a parameter there, so `/users/{user_id}` leaves the learned
    literal `/users/me` alone.
    """
    def walk(i: int, j: int) -> bool:
        if i == len(pattern):
            return j == len(parts)
        seg = pattern[i]
        if seg == "**":
            return any(walk(i + 1, k) for k in range(j, len(parts) + 1))
        if j == len(parts):
            return False
        if _is_placeholder(seg):
            ok = template is None or _is_placeholder(template[j])
        else:
            ok = fnmatch.fnmatchcase(parts[j], seg)
        return ok and walk(i + 1, j + 1)

    return walk(0, 0)


# -- parsing ---------------------------------------------------------------------------------------------
def _fail(where: str, msg: str) -> ChaosError:
    return ChaosError(f"{where}: {msg}" if where else msg)


def _mapping(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(where, f"must be a mapping, not {type(value).__name__}")
    return value


def _known(d: dict, allowed: tuple[str, ...], where: str) -> None:
    extra = sorted(str(k) for k in d if k not in allowed)
    if extra:
        raise _fail(where, f"unknown key {extra[0]!r} (expected one of {', '.join(allowed)})")


@overload
def _number(d: dict, key: str, where: str, default: float, *, lo: float = 0.0,
            hi: float = math.inf, required: bool = False) -> float: ...


@overload
def _number(d: dict, key: str, where: str, default: None = None, *, lo: float = 0.0,
            hi: float = math.inf, required: Literal[True]) -> float: ...


@overload
def _number(d: dict, key: str, where: str, default: float | None = None, *, lo: float = 0.0,
            hi: float = math.inf, required: bool = False) -> float | None: ...


def _number(d: dict, key: str, where: str, default: float | None = None, *, lo: float = 0.0,
            hi: float = math.inf, required: bool = False) -> float | None:
    if key not in d or d[key] is None:
        if required:
            raise _fail(f"{where}.{key}", "is required")
        return default
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
        bounds = f"{lo:g}-{hi:g}" if hi != math.inf else f">= {lo:g}"
        raise _fail(f"{where}.{key}", f"must be a number {bounds}, not {v!r}")
    return float(v)


def _int(d: dict, key: str, where: str, default: int, *, lo: int, hi: int) -> int:
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise _fail(f"{where}.{key}", f"must be an integer {lo}-{hi}, not {v!r}")
    return v


def _str(d: dict, key: str, where: str, default: str = "") -> str:
    v = d.get(key, default)
    if v is None:
        return default
    if not isinstance(v, (str, int, float)) or isinstance(v, bool):
        raise _fail(f"{where}.{key}", f"must be a string, not {type(v).__name__}")
    return str(v)


def _headers(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    d = _mapping(value, where)
    out = []
    for k, v in d.items():
        if not isinstance(k, str) or not k or isinstance(v, (dict, list)) or v is None:
            raise _fail(f"{where}.{k}", "headers are name: value pairs of strings")
        out.append((k, str(v).lower() if isinstance(v, bool) else str(v)))
    return tuple(out)


def parse_scope(value: Any, where: str = "match") -> Scope:
    d = _mapping(value, where)
    _known(d, ("host", "method", "path", "header", "headers"), where)
    host = _str(d, "host", where) or None
    methods = d.get("method")
    if methods is not None:
        items = [methods] if isinstance(methods, str) else methods
        if not isinstance(items, list) or not items or not all(isinstance(m, str) and m for m in items):
            raise _fail(f"{where}.method", "must be a method or a list of methods")
        methods = frozenset(m.upper() for m in items)
    path = _str(d, "path", where) or None
    if path is not None and not path.startswith("/"):
        raise _fail(f"{where}.path", f"must start with '/', not {path!r}")
    headers = _headers(d.get("header", d.get("headers")), f"{where}.header")
    return Scope(host=host.lower() if host else None, methods=methods, path=path,
                 headers=tuple((k.lower(), v) for k, v in headers))


def parse_action(kind: str, value: Any, where: str) -> Action:
    d = _mapping(value, where)
    if kind == "latency":
        _known(d, ("fixed_ms", "min_ms", "max_ms", "learned", "factor"), where)
        fixed = _number(d, "fixed_ms", where)
        lo, hi = _number(d, "min_ms", where), _number(d, "max_ms", where)
        learned = _str(d, "learned", where) or None
        chosen = [fixed is not None, lo is not None or hi is not None, learned is not None]
        if sum(chosen) != 1:
            raise _fail(where, "give exactly one of fixed_ms, min_ms/max_ms, learned")
        if chosen[1]:
            if lo is None or hi is None or lo > hi:
                raise _fail(where, "min_ms and max_ms are both needed, min_ms <= max_ms")
        if learned is not None and learned not in QUANTILES:
            raise _fail(f"{where}.learned", f"must be one of {', '.join(QUANTILES)}, not {learned!r}")
        factor = _number(d, "factor", where, 1.0)
        if fixed == 0 or hi == 0 or (learned is not None and factor == 0):
            raise _fail(where, "a latency of 0 ms delays nothing: give how long (fixed_ms, min_ms/max_ms, "
                               "or a factor above 0)")
        return Latency(fixed, lo, hi, learned, factor)
    if kind == "error":
        _known(d, ("status", "title", "detail", "type", "headers", "body"), where)
        return Error(status=_int(d, "status", where, 503, lo=100, hi=599), title=_str(d, "title", where),
                     detail=_str(d, "detail", where), type=_str(d, "type", where, "about:blank"),
                     headers=_headers(d.get("headers"), f"{where}.headers"), body=d.get("body"))
    if kind == "reset":
        _known(d, (), where)
        return Reset()
    if kind == "timeout":
        _known(d, ("after_ms", "then"), where)
        then = _str(d, "then", where, "504")
        if then not in ("504", "drop"):
            raise _fail(f"{where}.then", f"must be 504 or drop, not {then!r}")
        return Timeout(_number(d, "after_ms", where, 30_000.0), then)
    if kind == "rate_limit":
        _known(d, ("rate", "burst", "key"), where)
        rate = _number(d, "rate", where, 10.0, lo=1e-6)
        burst = _int(d, "burst", where, max(1, math.ceil(rate)), lo=1, hi=1_000_000)
        key = _str(d, "key", where, "client")
        if key != "client" and not (key.startswith("header:") and len(key) > 7):
            raise _fail(f"{where}.key", f"must be client or header:<name>, not {key!r}")
        return RateLimit(rate, burst, key if key == "client" else "header:" + key[7:].strip().lower())
    if kind == "slow_body":
        _known(d, ("bytes_per_second",), where)
        return SlowBody(int(_number(d, "bytes_per_second", where, lo=1, required=True)))
    if kind == "observed":
        _known(d, ("factor", "min_status", "latency", "errors"), where)
        flags = {}
        for flag in ("latency", "errors"):
            v = d.get(flag, True)
            if not isinstance(v, bool):
                raise _fail(f"{where}.{flag}", "must be true or false")
            flags[flag] = v
        return Observed(_number(d, "factor", where, 1.0), _int(d, "min_status", where, 400, lo=100, hi=599),
                        **flags)
    raise _fail(where, f"unknown action {kind!r}")


def parse_rule(value: Any, where: str = "rule") -> Rule:
    d = _mapping(value, where)
    _known(d, ("name", "match", "probability", "burst", *ACTIONS), where)
    name = d.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(f"{where}.name", "a rule needs a name: letters, digits, '-', '_', '.' (up to 64)")
    where = f"{where}({name})"
    actions = [k for k in ACTIONS if k in d]
    if len(actions) != 1:
        raise _fail(where, f"needs exactly one action of {', '.join(ACTIONS)}, got {actions or 'none'}")
    action = parse_action(actions[0], d[actions[0]], f"{where}.{actions[0]}")
    probability = _number(d, "probability", where, 1.0, hi=1.0)
    burst = None
    if d.get("burst") is not None:
        b = _mapping(d["burst"], f"{where}.burst")
        _known(b, ("mean_length",), f"{where}.burst")
        length = _number(b, "mean_length", f"{where}.burst", lo=1.0, required=True)
        assert length is not None and probability is not None
        if 0 < probability < 1 and probability / (length * (1 - probability)) > 1:
            raise _fail(f"{where}.burst.mean_length",
                        f"too short for probability {probability:g}: at least {probability / (1 - probability):.3g}")
        burst = Burst(length)
    return Rule(name=name, action=action, scope=parse_scope(d.get("match"), f"{where}.match"),
                probability=probability, burst=burst)


def parse_profile(name: str, value: Any, where: str = "") -> Profile:
    where = where or f"profiles.{name}"
    if not isinstance(name, str) or not _NAME.match(name) or name in ("off", "none"):
        raise _fail(where, f"invalid profile name {name!r}")
    d = {"rules": value} if isinstance(value, list) else _mapping(value, where)
    _known(d, ("description", "rules"), where)
    items = d.get("rules") or []
    if not isinstance(items, list):
        raise _fail(f"{where}.rules", "must be a list of rules")
    rules = tuple(parse_rule(r, f"{where}.rules[{i}]") for i, r in enumerate(items))
    names = [r.name for r in rules]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise _fail(f"{where}.rules", f"rule name {dupes[0]!r} is used twice")
    return Profile(name, rules, _str(d, "description", where))


@dataclass(frozen=True)
class ChaosFile:
    profiles: dict[str, Profile]
    active: str | None


def parse_file(data: Any) -> ChaosFile:
    """The top level of a chaos YAML file: `profiles: {name: {description, rules}}`, `active: name`."""
    d = _mapping(data, "chaos file")
    _known(d, ("profiles", "active"), "chaos file")
    profiles = {}
    for name, value in _mapping(d.get("profiles"), "profiles").items():
        if name in BUILTIN_NAMES:
            raise _fail(f"profiles.{name}", "is a built-in profile; choose another name")
        profiles[name] = parse_profile(name, value)
    active = d.get("active")
    if active is not None and not isinstance(active, str):
        raise _fail("active", "must be a profile name")
    return ChaosFile(profiles, active or None)


def load_yaml(text: str) -> ChaosFile:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ChaosError(f"not valid YAML: {e}") from e
    return parse_file(data)


# -- back to dicts (for the store and the `rules` command) ----------------------------------------------
def rule_to_dict(rule: Rule) -> dict:
    d: dict[str, Any] = {"name": rule.name}
    s = rule.scope
    match: dict[str, Any] = {}
    if s.host:
        match["host"] = s.host
    if s.methods:
        match["method"] = sorted(s.methods)
    if s.path:
        match["path"] = s.path
    if s.headers:
        match["header"] = dict(s.headers)
    if match:
        d["match"] = match
    if rule.probability != 1.0:
        d["probability"] = rule.probability
    if rule.burst is not None:
        d["burst"] = {"mean_length": rule.burst.mean_length}
    a = rule.action
    body: dict[str, Any] = {}
    for k, default in _DEFAULTS[type(a)].items():
        v = getattr(a, k)
        if v != default:
            body[k] = dict(v) if k == "headers" else v
    d[rule.kind] = body
    return d


_DEFAULTS = {cls: {f: getattr(cls(), f) for f in cls.__dataclass_fields__}
             for cls in (Latency, Error, Reset, Timeout, RateLimit, SlowBody, Observed)}


def profile_to_dict(profile: Profile) -> dict:
    out: dict[str, Any] = {"rules": [rule_to_dict(r) for r in profile.rules]}
    if profile.description:
        out["description"] = profile.description
    return out


# -- built-in profiles ------------------------------------------------------------------------------------
BUILTIN_SPECS: dict[str, dict] = {
    "flaky": {"description": "5% of requests answer 503, every request gets 0-200 ms of jitter",
              "rules": [{"name": "flaky-503", "probability": 0.05, "error": {"status": 503}},
                        {"name": "flaky-jitter", "latency": {"min_ms": 0, "max_ms": 200}}]},
    "slow": {"description": "every request waits 3 x its endpoint's learned p99 latency",
             "rules": [{"name": "slow-p99x3", "latency": {"learned": "p99", "factor": 3}}]},
    "outage": {"description": "every request answers 503",
               "rules": [{"name": "outage-503", "error": {"status": 503, "headers": {"Retry-After": "30"}}}]},
    "rate-limited": {"description": "10 requests/s per client address (burst 10), then 429",
                     "rules": [{"name": "rate-limit-10rps", "rate_limit": {"rate": 10, "burst": 10, "key": "client"}}]},
    "mobile-3g": {"description": "300-500 ms of latency and 50 kB/s of bandwidth",
                  "rules": [{"name": "3g-latency", "latency": {"min_ms": 300, "max_ms": 500}},
                            {"name": "3g-bandwidth", "slow_body": {"bytes_per_second": 50_000}}]},
    "observed": {"description": "each endpoint's own learned error rate, error bodies and latency (x1)",
                 "rules": [{"name": "observed", "observed": {"factor": 1}}]},
}
BUILTIN_NAMES = frozenset(BUILTIN_SPECS)


def builtin_profiles() -> dict[str, Profile]:
    out = {}
    for name, spec in BUILTIN_SPECS.items():
        p = parse_profile(name, spec)
        out[name] = Profile(p.name, p.rules, p.description, builtin=True)
    return out

"""Chaos rules: parsing the YAML format, clear errors, path scopes, built-in profiles."""
from __future__ import annotations

from pathlib import Path

import pytest

from mimic_addon.serve.chaos_rules import (BUILTIN_NAMES, ChaosError, Error, Latency, Observed, RateLimit,
                                           Reset, SlowBody, Timeout, builtin_profiles, load_yaml,
                                           parse_profile, parse_rule, path_matches, rule_to_dict)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "chaos.yaml"


def test_the_shipped_example_file_parses():
    parsed = load_yaml(EXAMPLE.read_text())
    assert parsed.active in parsed.profiles
    assert all(p.rules for p in parsed.profiles.values())


@pytest.mark.parametrize("spec, action", [
    ({"latency": {"fixed_ms": 100}}, Latency(fixed_ms=100.0)),
    ({"latency": {"min_ms": 10, "max_ms": 50}}, Latency(min_ms=10.0, max_ms=50.0)),
    ({"latency": {"learned": "p99", "factor": 3}}, Latency(learned="p99", factor=3.0)),
    ({"error": {"status": 500, "headers": {"Retry-After": 5}}}, Error(500, headers=(("Retry-After", "5"),))),
    ({"reset": {}}, Reset()),
    ({"reset": None}, Reset()),
    ({"timeout": {"after_ms": 2000, "then": "drop"}}, Timeout(2000.0, "drop")),
    ({"rate_limit": {"rate": 5, "key": "header:X-Api-Key"}}, RateLimit(5.0, 5, "header:x-api-key")),
    ({"slow_body": {"bytes_per_second": 1000}}, SlowBody(1000)),
    ({"observed": {"factor": 5}}, Observed(factor=5.0)),
])
def test_actions(spec, action):
    rule = parse_rule({"name": "r", **spec})
    assert rule.action == action
    assert parse_rule(rule_to_dict(rule)) == rule  # round trip through the stored form


@pytest.mark.parametrize("spec, message", [
    ({"error": {}}, "rule.name"),
    ({"name": "r"}, "exactly one action"),
    ({"name": "r", "error": {}, "reset": {}}, "exactly one action"),
    ({"name": "r", "error": {"status": 700}}, "rule(r).error.status: must be an integer 100-599"),
    ({"name": "r", "error": {}, "probability": 1.5}, "rule(r).probability: must be a number 0-1"),
    ({"name": "r", "latency": {"fixed_ms": 1, "min_ms": 1, "max_ms": 2}}, "exactly one of"),
    ({"name": "r", "latency": {"min_ms": 5, "max_ms": 1}}, "min_ms <= max_ms"),
    ({"name": "r", "latency": {"learned": "p42"}}, "rule(r).latency.learned"),
    ({"name": "r", "latency": {"min_ms": 0, "max_ms": 0}}, "a latency of 0 ms delays nothing"),  # (an empty form)
    ({"name": "r", "latency": {"fixed_ms": 0}}, "a latency of 0 ms delays nothing"),
    ({"name": "r", "timeout": {"then": "explode"}}, "must be 504 or drop"),
    ({"name": "r", "rate_limit": {"key": "cookie"}}, "client or header:"),
    ({"name": "r", "slow_body": {}}, "bytes_per_second: is required"),
    ({"name": "r", "error": {}, "match": {"path": "users"}}, "must start with '/'"),
    ({"name": "r", "error": {}, "match": {"verb": "GET"}}, "unknown key 'verb'"),
    ({"name": "r", "error": {}, "probability": 0.5, "burst": {"mean_length": 0.5}}, "burst.mean_length"),
    ({"name": "r", "error": {}, "probability": 0.9, "burst": {"mean_length": 2}}, "too short"),
])
def test_errors_name_the_key(spec, message):
    with pytest.raises(ChaosError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_rule(spec)


def test_profile_rejects_duplicate_rule_names_and_builtin_clashes():
    with pytest.raises(ChaosError, match="used twice"):
        parse_profile("p", [{"name": "a", "reset": {}}, {"name": "a", "reset": {}}])
    with pytest.raises(ChaosError, match="built-in"):
        load_yaml("profiles:\n  flaky:\n    rules: []\n")
    with pytest.raises(ChaosError, match="not valid YAML"):
        load_yaml("profiles: [")


def test_scope_parsing():
    r = parse_rule({"name": "r", "error": {}, "match": {"host": "API.example.com", "method": ["get", "post"],
                                                        "path": "/users/*", "header": {"X-Env": "stag*"}}})
    assert r.scope.host == "api.example.com"
    assert r.scope.methods == {"GET", "POST"}
    assert r.scope.headers == (("x-env", "stag*"),)


@pytest.mark.parametrize("pattern, path, template, expected", [
    ("/users/*", "/users/42", None, True),
    ("/users/*", "/users/42/orders", None, False),
    ("/users/*", "/users", None, False),
    ("/users/{user_id}", "/users/42", None, True),
    ("/users/{user_id}", "/users/me", "/users/me", False),          # the learned literal stays out
    ("/users/{user_id}", "/users/42", "/users/{user_id}", True),
    ("/api/**", "/api/v1/users/3", None, True),
    ("/api/**", "/api", None, True),
    ("/**/orders", "/a/b/orders", None, True),
    ("/files/*.png", "/files/a.png", None, True),
    ("/files/*.png", "/files/a.jpg", None, False),
])
def test_path_matches(pattern, path, template, expected):
    parts = path.lstrip("/").split("/")
    tparts = template.lstrip("/").split("/") if template else None
    assert path_matches(tuple(pattern.lstrip("/").split("/")), parts, tparts) is expected


def test_builtin_profiles():
    profiles = builtin_profiles()
    assert set(profiles) == BUILTIN_NAMES == {"flaky", "slow", "outage", "rate-limited", "mobile-3g", "observed"}
    assert all(p.builtin for p in profiles.values())
    flaky = profiles["flaky"].rules
    assert flaky[0].probability == 0.05 and flaky[0].action.status == 503
    assert profiles["slow"].rules[0].action == Latency(learned="p99", factor=3.0)
    assert profiles["rate-limited"].rules[0].action == RateLimit(10.0, 10, "client")


def test_a_stored_profile_keeps_its_other_rules_when_one_latency_rule_was_0_ms():
    from mimic_addon.serve.chaos_addon import _without_idle_latency

    spec = {"rules": [{"name": "idle", "latency": {"min_ms": 0, "max_ms": 0}}, {"name": "boom", "error": {"status": 503}}]}
    assert [r.name for r in parse_profile("p", _without_idle_latency("p", spec)).rules] == ["boom"]

"""Chaos engine: seeded draws, bursts, token buckets on a fake clock, learned and observed chaos."""
from __future__ import annotations

import json
import statistics

import pytest

from mimic_addon.learn.brain import Brain
from mitmproxy.test import tflow, tutils

from mimic_addon.learn.observation import Observation, from_flow
from mimic_addon.serve.chaos_engine import ChaosEngine, ChaosRequest, Counts, endpoint_view
from mimic_addon.serve.chaos_rules import builtin_profiles, parse_profile

HOST = "api.example.com"


def req(path: str = "/users/1", method: str = "GET", client: str = "10.0.0.1", **headers: str) -> ChaosRequest:
    return ChaosRequest(HOST, method, path, {k.lower().replace("_", "-"): v for k, v in headers.items()}, client)


def engine(*rules: dict, seed: int = 0, clock=None) -> ChaosEngine:
    return ChaosEngine(parse_profile("p", list(rules)), seed=seed, clock=clock)


def statuses(e: ChaosEngine, n: int, path: str = "/users/1") -> list[int | None]:
    out = []
    for _ in range(n):
        plan = e.decide(req(path))
        out.append(plan.answer.status if plan.answer else None)
    return out


def test_error_probability_is_respected():
    e = engine({"name": "e", "probability": 0.2, "error": {"status": 500}})
    seq = statuses(e, 5000)
    assert abs(seq.count(500) / 5000 - 0.2) < 0.02


def test_same_seed_same_sequence_other_seed_other_sequence():
    rule = {"name": "e", "probability": 0.3, "error": {"status": 500}}
    assert statuses(engine(rule, seed=7), 300) == statuses(engine(rule, seed=7), 300)
    assert statuses(engine(rule, seed=7), 300) != statuses(engine(rule, seed=8), 300)


def test_adding_a_rule_does_not_shift_another_rules_sequence():
    a = {"name": "a", "probability": 0.3, "error": {"status": 500}}
    other = {"name": "b", "probability": 0.5, "error": {"status": 502}}
    alone = statuses(engine(a, seed=3), 400)
    # b comes first and answers half the requests: a keeps drawing the same sequence underneath
    both = statuses(engine(other, a, seed=3), 400)
    assert [s for s, x in zip(alone, both) if x != 502] == [x for x in both if x != 502]


def test_markov_bursts_keep_the_rate_and_lengthen_runs():
    def runs(seq):
        lengths, n = [], 0
        for s in seq:
            if s:
                n += 1
            elif n:
                lengths.append(n)
                n = 0
        return lengths

    uniform = statuses(engine({"name": "e", "probability": 0.1, "error": {}}, seed=1), 20000)
    bursty = statuses(engine({"name": "e", "probability": 0.1, "burst": {"mean_length": 8}, "error": {}}, seed=1), 20000)
    assert abs(bursty.count(503) / 20000 - 0.1) < 0.02
    assert statistics.mean(runs(uniform)) < 1.3
    assert 6.5 < statistics.mean(runs(bursty)) < 9.5


def test_scope_leaves_other_requests_alone():
    e = engine({"name": "e", "match": {"method": "GET", "path": "/users/*", "header": {"X-Env": "stag*"}},
                "error": {"status": 500}})
    assert e.decide(req("/users/1", X_Env="staging")).answer.status == 500
    assert not e.decide(req("/users/1"))
    assert not e.decide(req("/users/1", X_Env="prod"))
    assert not e.decide(req("/users/1", method="POST", X_Env="staging"))
    assert not e.decide(req("/orders/1", X_Env="staging"))
    assert not engine({"name": "h", "match": {"host": "other.com"}, "reset": {}}).decide(req())
    assert engine({"name": "h", "match": {"host": "*.example.com"}, "reset": {}}).decide(req()).reset


def test_error_answer_is_a_problem_document_with_headers():
    e = engine({"name": "e", "error": {"status": 503, "title": "Down", "headers": {"Retry-After": "7"}}})
    a = e.decide(req()).answer
    headers = dict(a.headers)
    assert headers == {"Content-Type": "application/problem+json", "Retry-After": "7"}
    assert json.loads(a.body) == {"type": "about:blank", "title": "Down", "status": 503,
                                  "detail": "Injected by Mimic chaos rule 'e'"}


def test_latency_kinds_and_accumulation():
    fixed = engine({"name": "a", "latency": {"fixed_ms": 100}}, {"name": "b", "latency": {"fixed_ms": 50}})
    plan = fixed.decide(req())
    assert plan.delay_s == pytest.approx(0.15) and plan.rules == ["a", "b"] and not plan.fault
    uni = engine({"name": "u", "latency": {"min_ms": 10, "max_ms": 20}})
    delays = [uni.decide(req()).delay_s for _ in range(500)]
    assert 0.010 <= min(delays) and max(delays) <= 0.020
    assert statistics.mean(delays) == pytest.approx(0.015, abs=0.001)


def test_timeout_and_reset():
    t = engine({"name": "t", "timeout": {"after_ms": 1500}}).decide(req())
    assert t.delay_s == 1.5 and t.answer.status == 504
    d = engine({"name": "t", "timeout": {"after_ms": 10, "then": "drop"}}).decide(req())
    assert d.reset and d.answer is None and d.fault


def test_first_answer_wins_but_latency_adds():
    e = engine({"name": "slow", "latency": {"fixed_ms": 10}}, {"name": "down", "error": {"status": 500}},
               {"name": "gone", "reset": {}})
    plan = e.decide(req())
    assert plan.rules == ["slow", "down"] and plan.answer.status == 500 and not plan.reset


def test_token_bucket_on_a_fake_clock():
    now = [0.0]
    e = engine({"name": "rl", "rate_limit": {"rate": 2, "burst": 3}}, clock=lambda: now[0])
    got = [e.decide(req()).answer for _ in range(5)]
    assert [a is None for a in got] == [True, True, True, False, False]
    limited = dict(got[3].headers)
    assert got[3].status == 429 and limited["Retry-After"] == "1"
    assert limited["RateLimit-Limit"] == "3" and limited["RateLimit-Remaining"] == "0"
    assert e.decide(req(client="10.0.0.2")).answer is None          # another client, another bucket
    now[0] = 0.5                                                     # one token back at 2/s
    assert e.decide(req()).answer is None
    assert e.decide(req()).answer.status == 429
    now[0] = 100.0                                                   # refilled, capped at burst
    assert [e.decide(req()).answer is None for _ in range(4)] == [True, True, True, False]
    # passing requests carry the RateLimit-* headers too
    now[0] = 200.0
    assert dict(e.decide(req()).headers)["RateLimit-Remaining"] == "2"


def test_rate_limit_per_header_value():
    e = engine({"name": "rl", "rate_limit": {"rate": 1, "burst": 1, "key": "header:X-Api-Key"}}, clock=lambda: 0.0)
    assert e.decide(req(X_Api_Key="a")).answer is None
    assert e.decide(req(X_Api_Key="a")).answer.status == 429
    assert e.decide(req(X_Api_Key="b", client="10.9.9.9")).answer is None


def observation(path: str, status: int, latency_ms: float, body: dict) -> Observation:
    """Through `from_flow`, as the addon builds them (so this test follows the Observation type)."""
    req = tutils.treq(host=HOST, port=443, scheme=b"https", path=path.encode(), content=b"",
                      timestamp_start=1.0)
    resp = tutils.tresp(status_code=status, content=json.dumps(body).encode(),
                        timestamp_start=1.0 + latency_ms / 1000, timestamp_end=1.0 + latency_ms / 1000)
    resp.headers["content-type"] = "application/json"
    obs = from_flow(tflow.tflow(req=req, resp=resp), 1 << 20)
    assert obs is not None
    return obs


@pytest.fixture
def brain() -> Brain:
    """An endpoint that fails 10% of the time (8% 500, 2% 404) with latencies 10-100 ms."""
    b = Brain()
    for i in range(1000):
        status = 500 if i % 50 < 4 else 404 if i % 50 == 4 else 200
        body = {"id": i, "name": f"u{i}"} if status == 200 else {"error": f"E{status}", "code": status}
        b.learn(observation(f"/users/{i}", status, 10.0 + (i % 10) * 10.0, body))
    for i in range(50):
        b.learn(observation("/health", 200, 1.0, {"ok": True}))
    return b


def test_endpoint_view_uses_the_learned_template(brain):
    v = endpoint_view(brain, HOST, "GET", "/users/12345")
    assert v.template == "/users/{user_id}" and v.count == 1000
    assert v.quantile(0.5) == pytest.approx(50, rel=0.1)
    assert endpoint_view(brain, HOST, "GET", "/nope/1/2") is None
    assert endpoint_view(brain, "other.host", "GET", "/users/1") is None


@pytest.mark.parametrize("factor, expected", [(1, 0.10), (5, 0.50)])
def test_observed_profile_replays_learned_failures(brain, factor, expected):
    e = engine({"name": "obs", "observed": {"factor": factor}}, seed=2)
    view = lambda: endpoint_view(brain, HOST, "GET", "/users/77")  # noqa: E731
    plans = [e.decide(req("/users/77"), view) for _ in range(4000)]
    answers = [p.answer for p in plans if p.answer]
    assert abs(len(answers) / 4000 - expected) < 0.03
    by_status = {s: sum(a.status == s for a in answers) for s in (404, 500)}
    assert by_status[500] / len(answers) == pytest.approx(0.8, abs=0.06)
    assert json.loads(next(a for a in answers if a.status == 500).body) == {"error": "E500", "code": 500}
    delays = sorted(p.delay_s * 1000 / factor for p in plans)
    assert delays[0] == pytest.approx(10, abs=0.5) and delays[-1] == pytest.approx(100, abs=0.5)
    assert statistics.median(delays) == pytest.approx(50, rel=0.25)
    # an endpoint that never failed only gets its latency
    health = [e.decide(req("/health"), lambda: endpoint_view(brain, HOST, "GET", "/health")) for _ in range(200)]
    assert not any(p.answer for p in health)


def test_learned_latency_multiple(brain):
    e = builtin_profiles()["slow"]
    eng = ChaosEngine(e, seed=0)
    plan = eng.decide(req("/users/5"), lambda: endpoint_view(brain, HOST, "GET", "/users/5"))
    p99 = endpoint_view(brain, HOST, "GET", "/users/5").quantile(0.99)
    assert plan.delay_s == pytest.approx(3 * p99 / 1000)
    assert not eng.decide(req("/unknown"), lambda: None)  # nothing learned: nothing injected


def test_template_scope_uses_the_learned_tree(brain):
    for i in range(30):
        brain.learn(observation("/users/me", 200, 5.0, {"me": True, "roles": ["admin"], "x": i}))
    e = engine({"name": "e", "match": {"path": "/users/{user_id}"}, "error": {"status": 500}})
    view = lambda path: lambda: endpoint_view(brain, HOST, "GET", path)  # noqa: E731
    assert e.decide(req("/users/9"), view("/users/9")).answer.status == 500
    assert endpoint_view(brain, HOST, "GET", "/users/me").template == "/users/me"
    assert not e.decide(req("/users/me"), view("/users/me"))


def test_counts_are_bounded_and_round_trip():
    c = Counts()
    c.add("a", "GET x/users/{id}")
    c.add("a", "GET x/users/{id}")
    c.add("b", "GET x/y")
    again = Counts.from_dict(json.loads(json.dumps(c.to_dict())))
    assert again.to_dict() == {"a": {"GET x/users/{id}": 2}, "b": {"GET x/y": 1}}
    assert again.per_rule() == {"a": 2, "b": 1}

"""Overrides: pinned bodies, sandboxed templates and their helpers, weighted variants."""
from __future__ import annotations

import base64
import hashlib
import json
import random
from collections import Counter

import pytest
from faker import Faker

from mimic_addon.serve.overrides import OverrideError, parse_spec, parse_text, render
from mimic_addon.serve.twins import TwinState

REQ = {"method": "GET", "path": "/users/42", "params": {"user_id": "42"}, "query": {"q": "x"},
       "headers": {"x-token": "t"}, "body": {"name": "Ada"}, "text": '{"name": "Ada"}'}


def run(spec, seed=1, state=None):
    state = state if state is not None else TwinState().kv("s")
    return render(parse_spec(spec), "GET /users/{user_id}", REQ, state, random.Random(seed), Faker())


def test_pinned_body_and_status():
    r = run({"body": {"pinned": True}, "status": 201, "headers": {"X-A": "1"}})
    assert (r.status, json.loads(r.body), r.content_type, r.headers) == (201, {"pinned": True}, "application/json", {"X-A": "1"})
    assert r.name == "GET /users/{user_id}"


def test_template_sees_the_request_and_helpers():
    tpl = ('{"id": {{ request.params.user_id }}, "q": "{{ request.query.q }}", "tok": "{{ request.headers["x-token"] }}",'
           ' "name": "{{ request.body.name }}", "b64": "{{ "hi" | b64encode }}", "sha": "{{ sha256("hi") }}",'
           ' "n": {{ random_int(5, 5) }}, "c": "{{ choice(["a"]) }}", "u": "{{ uuid() }}", "f": "{{ fake.first_name() }}"}')
    r = run({"template": tpl})
    body = json.loads(r.body)
    assert r.content_type == "application/json"
    assert body["id"] == 42 and body["q"] == "x" and body["tok"] == "t" and body["name"] == "Ada"
    assert body["b64"] == base64.b64encode(b"hi").decode() and body["sha"] == hashlib.sha256(b"hi").hexdigest()
    assert body["n"] == 5 and body["c"] == "a" and len(body["u"]) == 36 and body["f"]
    assert run({"template": tpl}).body == r.body  # deterministic with the same seed


def test_sequences_and_state_persist_in_the_scope_store():
    state = TwinState().kv("s")
    spec = {"template": '{{ seq("orders") }}-{{ state.set("k", "v") }}{{ state.get("k") }}'}
    assert [run(spec, state=state).body for _ in range(3)] == [b"1-v", b"2-v", b"3-v"]


@pytest.mark.parametrize("tpl", ["{{ ''.__class__ }}", "{{ ''.__class__.__mro__[1].__subclasses__() }}",
                                 "{{ request.__class__ }}", "{{ fake.__init__.__globals__ }}"])
def test_the_sandbox_refuses_attribute_escapes(tpl):
    r = run({"template": tpl})
    assert r.status == 500 and b"override template failed" in r.body
    assert b"<class" not in r.body


def test_weighted_variants_follow_their_weights_deterministically():
    spec = [{"weight": 80, "status": 200, "body": {"ok": True}}, {"weight": 20, "status": 500, "body": {"err": 1}}]
    statuses = Counter(run(spec, seed=i).status for i in range(2000))
    assert 0.75 < statuses[200] / 2000 < 0.85 and statuses[500] + statuses[200] == 2000
    assert [run(spec, seed=i).status for i in range(50)] == [run(spec, seed=i).status for i in range(50)]
    assert run({"variants": spec}, seed=3).name.startswith("GET /users/{user_id}#")


def test_specs_are_validated():
    for bad in ({"status": 200}, {"body": 1, "template": "x"}, {"body": 1, "status": 99}, [], {"body": 1, "nope": 1},
                [{"weight": 0, "body": 1}], {"template": "{% if %}"}, "just a string"):
        with pytest.raises(OverrideError):
            parse_spec(bad)
    assert parse_text("body: {a: 1}\nstatus: 202").variants[0].status == 202
    with pytest.raises(OverrideError):
        parse_text("{unclosed")

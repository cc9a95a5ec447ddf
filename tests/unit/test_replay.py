"""The record & replay matching cascade (serve/replay.py): keys, ignore lists, sequences, near misses, bounds."""
from __future__ import annotations

import gzip
import json

from mimic_addon.model.redact import REDACTED
from mimic_addon.serve.replay import Recording, ReplayIndex, Rules, fits, make_recording, request_parts

HOST = "api.example.com"
JSON = [(b"content-type", b"application/json")]


def rec(target: str, body: bytes = b"", answer: object = None, method: str = "GET", status: int = 200,
        headers=(), ts: float = 0.0, max_body: int = 1 << 20, latency: float | None = 10.0) -> Recording:
    return make_recording(host=HOST, method=method, target=target, request_fields=list(JSON) + list(headers),
                          request_raw=body, status=status, response_fields=JSON,
                          response_raw=json.dumps(answer).encode(), latency_ms=latency, ts=ts, max_body=max_body)


def ask(target: str, body: bytes = b"", method: str = "GET", headers=()) -> dict:
    return request_parts(method, target, list(JSON) + list(headers), body, 1 << 20)


def answer(m) -> object:
    return json.loads(m.recording.response_body)


def test_exact_matches_replay_in_recorded_order_then_repeat_the_last():
    index = ReplayIndex()
    index.extend([rec("/users?page=1", answer=n) for n in (1, 2, 3)] + [rec("/users?page=2", answer=9)])
    got = [index.find(HOST, ask("/users?page=1"), "/users") for _ in range(4)]
    assert [answer(m) for m in got] == [1, 2, 3, 3] and {m.how for m in got} == {"exact"}
    assert answer(index.find(HOST, ask("/users?page=2"), "/users")) == 9
    index.rewind()
    assert answer(index.find(HOST, ask("/users?page=1"), "/users")) == 1
    assert answer(index.find(HOST, ask("/users?page=1"), "/users", repeat="last")) == 3


def test_query_order_does_not_matter_and_ignore_lists_apply():
    index = ReplayIndex(Rules(ignore_params=frozenset({"ts"}), ignore_payload_params=frozenset({"nonce"})))
    index.add(rec("/search?a=1&b=2&ts=5", answer="q"))
    index.add(rec("/items", json.dumps({"x": 1, "nonce": "abc"}).encode(), answer="p", method="POST"))
    assert index.find(HOST, ask("/search?b=2&a=1&ts=99"), None).how == "exact"
    m = index.find(HOST, ask("/items", json.dumps({"nonce": "zzz", "x": 1}).encode(), "POST"), None)
    assert m.how == "exact" and answer(m) == "p"
    other = index.find(HOST, ask("/items", json.dumps({"x": 2}).encode(), "POST"), None)
    assert other.how == "near"


def test_ignore_content_and_use_headers():
    index = ReplayIndex(Rules(ignore_content=True, use_headers=("accept-language",)))
    index.add(rec("/hello", b"one", answer="en", method="POST", headers=[(b"Accept-Language", b"en")]))
    index.add(rec("/hello", b"two", answer="fr", method="POST", headers=[(b"Accept-Language", b"fr")]))
    m = index.find(HOST, ask("/hello", b"three", "POST", [(b"accept-language", b"fr")]), None)
    assert m.how == "exact" and answer(m) == "fr"


def test_near_miss_picks_the_closest_recording_of_the_same_template():
    index = ReplayIndex()
    index.add(rec("/users?limit=3&page=1", answer="p1"))
    index.add(rec("/users?limit=3&page=2", answer="p2"))
    index.add(rec("/users?sort=name", answer="sorted"))
    index.add(rec("/users/7", answer="u7"))
    index.add(rec("/users/8", answer="u8"))
    m = index.find(HOST, ask("/users?limit=3&page=2&extra=1"), "/users")
    assert m.how == "near" and answer(m) == "p2"
    m = index.find(HOST, ask("/users/42"), "/users/{user_id}")
    assert m.how == "near" and answer(m) in ("u7", "u8")
    assert index.find(HOST, ask("/users/42"), None) is None  # no template: the path must agree
    assert index.find(HOST, ask("/orders/1"), "/orders/{id}") is None
    assert index.find("other.example.com", ask("/users/7"), "/users/{user_id}") is None


def test_near_miss_on_json_bodies():
    index = ReplayIndex()
    index.add(rec("/users", json.dumps({"name": "Ada", "role": "admin"}).encode(), answer="ada", method="POST"))
    index.add(rec("/users", json.dumps({"name": "Bob", "role": "user"}).encode(), answer="bob", method="POST"))
    m = index.find(HOST, ask("/users", json.dumps({"name": "Cy", "role": "user"}).encode(), "POST"), "/users")
    assert m.how == "near" and answer(m) == "bob"


def test_redaction_and_matching_of_redacted_requests():
    r = rec("/login?api_key=s3cret&page=1", json.dumps({"user": "ada", "password": "hunter2"}).encode(),
            answer={"token": "abc", "ok": True}, method="POST", headers=[(b"Authorization", b"Bearer xyz")])
    assert ("api_key", REDACTED) in r.query and ("page", "1") in r.query
    assert r.body == {"user": "ada", "password": REDACTED}
    assert ("Authorization", f"Bearer {REDACTED}") in r.headers
    assert json.loads(r.response_body) == {"token": REDACTED, "ok": True}
    index = ReplayIndex()
    index.add(r)
    # a later request with other secrets redacts to the same key: it matches exactly
    m = index.find(HOST, ask("/login?api_key=other&page=1", json.dumps({"user": "ada", "password": "x"}).encode(),
                             "POST"), None)
    assert m.how == "exact"


def test_bodies_kept_as_bytes_up_to_the_cap_and_decoded():
    png = bytes(range(256))
    r = make_recording(host=HOST, method="GET", target="/img", request_fields=[], request_raw=b"", status=200,
                       response_fields=[(b"Content-Type", b"image/png")], response_raw=png, latency_ms=None, ts=0,
                       max_body=1024)
    assert r.response_body == png
    big = make_recording(host=HOST, method="POST", target="/up", request_fields=[], request_raw=b"x" * 2000,
                         status=200, response_fields=[], response_raw=b"y" * 2000, latency_ms=None, ts=0,
                         max_body=1024)
    assert big.body is None and big.response_body is None and big.body_hash
    index = ReplayIndex()
    index.add(big)
    assert index.find(HOST, request_parts("POST", "/up", [], b"x" * 2000, 1024), None).how == "exact"
    gz = make_recording(host=HOST, method="GET", target="/gz", request_fields=[], request_raw=b"", status=200,
                        response_fields=[(b"Content-Encoding", b"gzip"), (b"Content-Type", b"application/json")],
                        response_raw=gzip.compress(b'{"a": 1}'), latency_ms=None, ts=0, max_body=1024)
    assert gz.response_body == b'{"a": 1}'
    assert all(k.lower() != "content-encoding" for k, _ in gz.response_headers)


def test_bounds_per_request_and_total_and_row_round_trip():
    index = ReplayIndex(per_key=2, total=3)
    index.extend([rec("/a", answer=n) for n in range(5)])
    assert len(index) == 2
    assert [answer(index.find(HOST, ask("/a"), None)) for _ in range(3)] == [3, 4, 4]
    index.extend([rec("/b", answer="b"), rec("/c", answer="c")])
    assert len(index) == 3 and index.find(HOST, ask("/c"), None) is not None
    assert answer(index.find(HOST, ask("/a"), None)) == 4  # the total cap dropped the oldest, 3
    index.extend([rec("/c", answer="c2")])
    index.reconfigure(Rules(), per_key=1, total=10)
    assert len(index) == 2 and answer(index.find(HOST, ask("/c"), None)) == "c2"  # /b and the newest /c
    r = rec("/users?x=1", json.dumps({"k": [1, 2]}).encode(), answer={"ok": 1}, method="POST", latency=12.5)
    back = Recording.from_row({**json.loads(json.dumps(r.to_row())), "id": 7})
    assert (back.query, back.body, back.response_body, back.latency_ms, back.headers) == \
        (r.query, r.body, r.response_body, r.latency_ms, r.headers)


def test_fits():
    assert fits(("users", "42"), "/users/{user_id}")
    assert not fits(("users",), "/users/{user_id}")
    assert not fits(("orders", "1"), "/users/{user_id}")

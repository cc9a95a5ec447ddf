"""The record & replay matching cascade (serve/replay.py): keys, ignore lists, sequences, near misses, bounds."""
from __future__ import annotations

import base64
import gzip
import hashlib
import json

from mimic_addon.model.redact import REDACTED
from mimic_addon.serve.replay import (Recording, ReplayIndex, Rules, echo_path_values, fits, make_recording,
                                      request_parts)

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


FORM = [(b"content-type", b"application/x-www-form-urlencoded")]
LOGIN = b"username=ada&password=hunter2"


def form_rec(body: bytes, fields=FORM, answer: object = "ok") -> Recording:
    return make_recording(host=HOST, method="POST", target="/login", request_fields=list(fields), request_raw=body,
                          status=200, response_fields=JSON, response_raw=json.dumps(answer).encode(),
                          latency_ms=None, ts=0, max_body=1 << 20)


def form_ask(body: bytes, fields=FORM) -> dict:
    return request_parts("POST", "/login", list(fields), body, 1 << 20)


def test_form_and_text_request_bodies_are_stored_redacted():
    r = form_rec(LOGIN)
    assert r.body == f"username=ada&password={REDACTED}".encode()
    assert r.body_hash != hashlib.sha256(LOGIN).hexdigest()  # no hash of the secret kept either
    assert b"hunter2" not in base64.b64decode(r.to_row()["data"]["body"])
    bare = form_rec(b"client_id=x&client_secret=s3cr3t&password=hunter2", fields=[])  # a form by its shape
    assert bare.body == f"client_id=x&client_secret={REDACTED}&password={REDACTED}".encode()
    xml = form_rec(b"<login><password>hunter2</password></login>", fields=[(b"content-type", b"text/xml")])
    assert xml.body == f"<login><password>{REDACTED}</password></login>".encode()
    plain = form_rec(b"hello, nothing secret", fields=[(b"content-type", b"text/plain")])
    assert plain.body == b"hello, nothing secret" and plain.body_hash == hashlib.sha256(plain.body).hexdigest()
    binary = bytes(range(256)) + b"password=hunter2"
    assert form_rec(binary, fields=[(b"content-type", b"application/octet-stream")]).body == binary


def test_redacted_form_bodies_still_match():
    index = ReplayIndex()
    index.add(form_rec(LOGIN, answer="ada"))
    index.add(form_rec(b"username=bob&password=pw", answer="bob"))
    # the live request is redacted alike: the same body, or one with another secret, matches exactly
    for body in (LOGIN, b"username=ada&password=other"):
        m = index.find(HOST, form_ask(body), None)
        assert m.how == "exact" and answer(m) == "ada"
    assert index.find(HOST, form_ask(b"username=cy&password=hunter2"), "/login").how == "near"
    xml = [(b"content-type", b"text/xml")]
    index.add(form_rec(b"<password>hunter2</password>", fields=xml, answer="xml"))
    m = index.find(HOST, form_ask(b"<password>other</password>", fields=xml), None)
    assert m.how == "exact" and answer(m) == "xml"
    ignoring = ReplayIndex(Rules(ignore_payload_params=frozenset({"nonce"})))
    ignoring.add(form_rec(b"username=ada&password=hunter2&nonce=1", answer="n"))
    m = ignoring.find(HOST, form_ask(b"nonce=2&username=ada&password=zzz"), None)
    assert m.how == "exact" and answer(m) == "n"


def test_recordings_stored_before_text_redaction_are_redacted_when_loaded_and_still_match():
    row = json.loads(json.dumps(form_rec(b"x=1", answer="old").to_row()))
    row["data"]["body"] = base64.b64encode(LOGIN).decode()  # as stored raw by an earlier version
    row["data"]["body_hash"] = hashlib.sha256(LOGIN).hexdigest()
    old = Recording.from_row(row)
    assert old.body == f"username=ada&password={REDACTED}".encode()
    assert old.body_hash != hashlib.sha256(LOGIN).hexdigest()
    index = ReplayIndex()
    index.add(old)
    m = index.find(HOST, form_ask(LOGIN), None)
    assert m.how == "exact" and answer(m) == "old"


def test_fits():
    assert fits(("users", "42"), "/users/{user_id}")
    assert not fits(("users",), "/users/{user_id}")
    assert not fits(("orders", "1"), "/users/{user_id}")


def test_recordings_stored_before_path_redaction_are_redacted_on_load() -> None:
    from mimic_addon.serve.replay import Recording

    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    row = {"host": "api.test", "method": "GET", "path": f"/sessions/{jwt}", "ts": 1.0,
           "data": {"query": [], "headers": [], "body_json": False, "body": None, "body_hash": "", "status": 200,
                    "response_headers": [], "response_body": None, "latency_ms": 1.0}}
    rec = Recording.from_row(row)
    assert rec.path == "/sessions/[REDACTED]" and rec.parts == ("sessions", "[REDACTED]")


def test_a_near_answer_tells_the_asked_resource():
    """`/users/43` answered from `/users/42`'s recording: the fields named for the parameter, the top-level
    `id` and links holding the recorded path hold 43; a count of 42, a nested id, free text and dates
    stay as recorded, and a number where a name was asked too."""
    body = json.dumps({"id": 42, "count": 42, "user_id": "42", "userId": 42, "note": "user 42",
                       "href": "https://api.example/users/42/posts?page=1", "other": "/users/421",
                       "plan": {"id": 42, "name": "42"}, "day": "2024/42/6",
                       "items": [{"user_id": 42}]}).encode()
    out = json.loads(echo_path_values(body, "/users/{user_id}", "/users/42", "/users/43"))
    assert out == {"id": 43, "count": 42, "user_id": "43", "userId": 43, "note": "user 42",
                   "href": "https://api.example/users/43/posts?page=1", "other": "/users/421",
                   "plan": {"id": 42, "name": "42"}, "day": "2024/42/6", "items": [{"user_id": 43}]}
    by_name = json.loads(echo_path_values(body, "/users/{user_id}", "/users/42", "/users/bob"))
    assert by_name["id"] == 42 and by_name["user_id"] == "bob" and by_name["href"].endswith("/users/bob/posts?page=1")
    # two parameters: each field its own, links rewritten once (not /users/3/posts/3), equal recorded values apart
    nested = json.dumps({"user_id": 1, "post_id": 1, "self": "/users/1/posts/1", "author": "/users/1"}).encode()
    assert json.loads(echo_path_values(nested, "/users/{user_id}/posts/{post_id}", "/users/1/posts/1",
                                       "/users/2/posts/3")) == {
        "user_id": 2, "post_id": 3, "self": "/users/2/posts/3", "author": "/users/2"}
    # the field learned traffic echoed the value under (`echo_key`), at the top level
    repo = json.dumps({"full_name": "ada/mimic", "owner": {"login": "ada", "name": "mimic"}, "name": "mimic"}).encode()
    assert json.loads(echo_path_values(repo, "/repos/{owner}/{repo}", "/repos/ada/mimic", "/repos/ada/mirror",
                                       "name")) == {"full_name": "ada/mimic", "owner": {"login": "ada", "name": "mimic"},
                                                    "name": "mirror"}
    assert echo_path_values(body, "/users/{user_id}", "/users/42", "/users/42") is body
    assert echo_path_values(b"user 42", "/users/{user_id}", "/users/42", "/users/43") == b"user 42"
    assert echo_path_values(b'{"id": 42', "/users/{user_id}", "/users/42", "/users/43") == b'{"id": 42'
    assert echo_path_values(body, None, "/users/42", "/users/43") is body

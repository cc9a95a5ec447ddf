"""Inspector section: the request log as the proxy writes it (rows built by the proxy's own
control/entries.py), filtered, keyset-paged, and each exchange shown as escaped text."""
from __future__ import annotations

import dataclasses
import json
import re

import pytest
from admin.conftest import HOSTILE

from admin_app.inspector import pretty_body
from mimic_addon.control.entries import Captured, build_row


def captured(i: int, *, method: str = "GET", path: str = "/v1/users/1", status: int | None = 200,
             source: str = "upstream", session: str | None = None, body: object = None,
             request_body: object = None) -> Captured:
    raw = json.dumps(body).encode() if body is not None else b""
    req_raw = json.dumps(request_body).encode() if request_body is not None else b""
    req_headers = [(b"Host", b"api.example.com"), (b"Authorization", b"Bearer s3cr3t-token-value")]
    if session:
        req_headers.append((b"X-Mimic-Session", session.encode()))
    if req_raw:
        req_headers.append((b"Content-Type", b"application/json"))
    return Captured(ts=1_700_000_000.0 + i, scheme="https", host="api.example.com", port=443, method=method,
                    target=path + ("?q=" + str(i) if i % 2 else ""), request_fields=tuple(req_headers),
                    request_raw=req_raw, request_size=len(req_raw), status=status,
                    response_fields=((b"Content-Type", b"application/json"), (b"X-Custom", HOSTILE.encode())),
                    response_raw=raw if status is not None else None, response_size=len(raw),
                    latency_ms=10.0 + i, source=source, peer=("127.0.0.1", 50000), meta=None)


@pytest.fixture
def logged(admin_env) -> list[int]:
    """Twelve logged exchanges: users (upstream, mock), a 404, a 500 by chaos, one hostile, sessions a/b."""
    rows = []
    for i in range(1, 7):
        rows.append(build_row(captured(i, path=f"/v1/users/{i}", body={"id": i, "name": "Ada"}), "/v1/users/{user_id}"))
    rows.append(build_row(captured(7, path="/v1/users/99", status=404, body={"error": "not found"}), "/v1/users/{user_id}"))
    rows.append(build_row(captured(8, path="/v1/users/5", status=500, source="chaos", body={"type": "about:blank"}),
                          "/v1/users/{user_id}"))
    rows.append(build_row(captured(9, method="POST", path="/v1/users", status=201, session="a",
                                   request_body={"name": HOSTILE, "password": "hunter2"},
                                   body={"id": 1000, "name": HOSTILE}), "/v1/users"))
    rows.append(build_row(captured(10, path="/v1/users/2", source="mock", session="b", body={"id": 2}),
                          "/v1/users/{user_id}"))
    rows.append(build_row(captured(11, path="/v1/" + HOSTILE, status=404, body={"error": HOSTILE}), None))
    rows.append(build_row(captured(12, path="/v1/users/3", status=None), "/v1/users/{user_id}"))
    return admin_env.store.add_requests(rows)


def paths(body: dict) -> list[str]:
    return [r["path"] for r in body["items"]]


# -- list ----------------------------------------------------------------------------------------------------
def test_list_newest_first_with_summary_fields(client, logged):
    body = client.get("/api/inspector").json()
    assert [r["id"] for r in body["items"]] == sorted(logged, reverse=True)
    first = body["items"][0]
    assert set(first) == {"id", "ts", "host", "method", "path", "template", "status", "latency_ms", "source", "session"}
    assert first["path"] == "/v1/users/3" and first["status"] is None
    assert body["next_before_id"] is None


@pytest.mark.parametrize("query, expected", [
    ({"template": "/v1/users"}, ["/v1/users"]),
    ({"status": "201"}, ["/v1/users"]),
    ({"status": "4xx"}, ["/v1/" + HOSTILE, "/v1/users/99"]),
    ({"status": "5XX"}, ["/v1/users/5"]),
    ({"source": "chaos"}, ["/v1/users/5"]),
    ({"source": "mock"}, ["/v1/users/2"]),
    ({"session": "session:a"}, ["/v1/users"]),
    ({"method": "post"}, ["/v1/users"]),
    ({"template": "/v1/users/{user_id}", "status": "4xx"}, ["/v1/users/99"]),
    ({"host": "other.example.com"}, []),
])
def test_filters(client, logged, query, expected):
    assert paths(client.get("/api/inspector", params=query).json()) == expected


def test_older_pages_follow_next_before_id(client, logged):
    first = client.get("/api/inspector?limit=5").json()
    assert len(first["items"]) == 5 and first["next_before_id"] == first["items"][-1]["id"]
    seen = [r["id"] for r in first["items"]]
    cursor = first["next_before_id"]
    while cursor is not None:
        page = client.get("/api/inspector", params={"limit": 5, "before_id": cursor}).json()
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_before_id"]
    assert seen == sorted(logged, reverse=True)  # every entry once, in order
    newer = client.get("/api/inspector", params={"after_id": logged[-3]}).json()
    assert [r["id"] for r in newer["items"]] == [logged[-1], logged[-2]]


@pytest.mark.parametrize("query", ["status=abc", "status=6xx", "status=99", "limit=0", "limit=501", "limit=x",
                                   "before_id=-1", "after_id=z"])
def test_bad_filters_are_400(client, logged, query):
    r = client.get("/api/inspector?" + query)
    assert r.status_code == 400 and r.json()["error"]


# -- one entry -----------------------------------------------------------------------------------------------
def test_entry_api_has_redacted_details(client, logged):
    entry = client.get(f"/api/inspector/{logged[8]}").json()
    assert entry["method"] == "POST" and entry["session"] == "session:a"
    request = entry["data"]["request"]
    assert "s3cr3t-token-value" not in json.dumps(entry) and "hunter2" not in json.dumps(entry)
    assert json.loads(request["body"])["name"] == HOSTILE


def test_unknown_entry_is_404(client, logged):
    r = client.get("/api/inspector/999999")
    assert r.status_code == 404 and r.json()["error"]
    assert client.get("/inspector/999999").status_code == 404


def test_entry_page_shows_headers_and_pretty_json_as_escaped_text(client, logged):
    r = client.get(f"/inspector/{logged[8]}")
    assert r.status_code == 200
    html = r.text
    assert HOSTILE not in html
    assert '<code id="entry-path">/v1/users</code>' in html
    response = html[html.index('id="entry-response"'):]
    body = re.search(r'<pre class="entry-body" id="entry-response-body">(.*?)</pre>', response, re.DOTALL).group(1)
    assert body == '{\n  &#34;id&#34;: 1000,\n  &#34;name&#34;: &#34;&lt;img src=x onerror=alert(1)&gt;&#34;\n}'
    assert "<th scope=\"row\">X-Custom</th><td><code>&lt;img src=x onerror=alert(1)&gt;</code>" in html
    assert "[REDACTED]" in html and "s3cr3t" not in html and "hunter2" not in html
    assert 'class="badge source source-upstream"' in html


def test_entry_without_a_response(client, logged):
    html = client.get(f"/inspector/{logged[11]}").text
    assert "the exchange ended without an answer" in html and "no answer" in html


def test_pretty_body_keeps_text_that_is_not_json():
    assert pretty_body('{"a": [1,2]}') == ('{\n  "a": [\n    1,\n    2\n  ]\n}', True)
    assert pretty_body('{"a": [1, 2') == ('{"a": [1, 2', False)  # cut short by the log: shown as it is
    assert pretty_body("plain <b>text</b>", "text/html") == ("plain <b>text</b>", False)
    assert pretty_body(None) == ("", False)


# -- page ----------------------------------------------------------------------------------------------------
def test_page_lists_filters_and_escapes(client, logged):
    html = client.get("/inspector").text
    assert HOSTILE not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.count('class="inspector-row"') == 12
    assert '<option value="session:a">session:a</option>' in html  # sessions seen, offered as a filter
    assert f'href="/inspector/{logged[0]}"' in html


def test_page_filters_and_pages_older(client, logged):
    html = client.get("/inspector", params={"template": "/v1/users/{user_id}", "limit": 3}).text
    assert html.count('class="inspector-row"') == 3
    older = re.search(r'href="/inspector\?([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
    assert "template=%2Fv1%2Fusers%2F%7Buser_id%7D" in older and "before_id=" in older
    html = client.get("/inspector?" + older).text
    assert 'class="inspector-row"' in html and ">Newest</a>" in html


def test_page_with_a_bad_filter_says_so(client, logged):
    r = client.get("/inspector?status=banana")
    assert r.status_code == 400 and "status must be" in r.text


def test_an_exchange_with_bytes_that_are_no_utf8_in_its_query_is_shown(client, admin_env):
    """`?q=caf%E9` (Latin-1) and a raw 0xFF decode to lone surrogates: the record and its page show
    them as `%E9` / `%FF` instead of failing to encode (a 500 on every look before)."""
    row = build_row(dataclasses.replace(captured(2), target="/v1/users/1?q=caf%E9&caf%E9=1&r=\udcff"),
                    "/v1/users/{user_id}")
    [rid] = admin_env.store.add_requests([row])
    entry = client.get(f"/api/inspector/{rid}")
    assert entry.status_code == 200
    assert entry.json()["data"]["query"] == [["q", "caf%E9"], ["caf%E9", "1"], ["r", "%FF"]]
    page = client.get(f"/inspector/{rid}")
    assert page.status_code == 200 and "caf%E9" in page.text

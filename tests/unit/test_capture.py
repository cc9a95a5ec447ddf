"""Reading capture files: the fast flow-file path must see exactly what mitmproxy's FlowReader sees."""
from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path

import pytest
from mitmproxy import http, io
from mitmproxy.io import tnetstring
from mitmproxy.test import tflow, tutils

from mimic_addon.learn import capture
from mimic_addon.learn.capture import CaptureError, CaptureReader
from mimic_addon.learn.observation import from_flow, from_state

MAX_BODY = 1 << 20
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "traffic"


def _flow(path: bytes = b"/path", *, method: bytes = b"GET", scheme: bytes = b"https", port: int = 443,
          headers: tuple = (), content: bytes = b"", response: bool = True,
          response_headers: tuple = ((b"Content-Type", b"application/json"),),
          response_content: bytes = b'{"id": 1}') -> http.HTTPFlow:
    req = tutils.treq(method=method, scheme=scheme, host="api.example.com", port=port, path=path,
                      headers=http.Headers(headers), content=content)
    resp = tutils.tresp(headers=http.Headers(response_headers), content=response_content) if response else False
    return tflow.tflow(req=req, resp=resp)


FLOWS = [
    _flow(),
    _flow(b"/search?q=a%20b&q=c+d&empty=&flag&x=%2B%26%3D", port=8443),
    _flow(b"/items?page=2&page=3&name=%C3%A9t%C3%A9&bad=%ff", scheme=b"http", port=80),
    _flow(b"/odd?a=1#frag", scheme=b"http", port=8080),
    _flow(b"/v1/things", method=b"post",
          headers=((b"content-type", b"application/json"), (b"Content-Encoding", b"gzip")),
          content=gzip.compress(b'{"name": "x"}')),
    _flow(b"/folded", response_headers=((b"Content-Type", b"text/plain"), (b"content-type", b"charset=utf-8"))),
    _flow(b"/big", response_content=b"x" * (MAX_BODY + 1)),
    _flow(b"/no-response", response=False),
    _flow(b"*", method=b"OPTIONS"),
    _flow(b"/tunnel?x=1", method=b"CONNECT"),
]


def _asdicts(observations) -> list[dict]:
    return [dataclasses.asdict(o) for o in observations if o is not None]


def _reference(path: Path) -> list[dict]:
    with path.open("rb") as f:
        return _asdicts(from_flow(f, MAX_BODY) for f in io.FlowReader(f).stream() if isinstance(f, http.HTTPFlow))


def _write(path: Path, flows) -> Path:
    with path.open("wb") as f:
        writer = io.FlowWriter(f)
        for flow in flows:
            writer.add(flow)
    return path


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f"{f.request.method} {f.request.path}")
def test_from_state_is_from_flow(flow):
    assert _asdicts([from_state(flow.get_state(), MAX_BODY)]) == _asdicts([from_flow(flow, MAX_BODY)])


def test_flow_file_reads_like_flowreader(tmp_path):
    path = _write(tmp_path / "flows.mitm", [*FLOWS, tflow.ttcpflow(), tflow.tdnsflow()])
    reader = CaptureReader(path, MAX_BODY)
    got = _asdicts(reader)
    assert got == _reference(path)
    assert len(got) == len(FLOWS) - 1  # the flow without a response teaches nothing
    assert reader.offset == path.stat().st_size


def test_records_larger_than_the_read_chunk(tmp_path, monkeypatch):
    monkeypatch.setattr(capture, "CHUNK", 7)
    path = _write(tmp_path / "flows.mitm", FLOWS)
    assert _asdicts(CaptureReader(path, MAX_BODY)) == _reference(path)


def test_older_flow_format_is_migrated(tmp_path):
    state = FLOWS[1].get_state()
    state["version"] = 20
    state["client_conn"]["tls_version"] = "QUIC"
    path = tmp_path / "old.mitm"
    path.write_bytes(tnetstring.dumps(state))
    assert _asdicts(CaptureReader(path, MAX_BODY)) == _asdicts([from_flow(FLOWS[1], MAX_BODY)])


def test_har_file(tmp_path):
    entry = {
        "startedDateTime": "2024-01-01T00:00:00.000Z", "time": 12,
        "request": {"method": "GET", "url": "https://api.example.com/users/7?expand=a%20b", "httpVersion": "HTTP/1.1",
                    "headers": [{"name": "Accept", "value": "application/json"}], "queryString": [],
                    "headersSize": -1, "bodySize": 0},
        "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1",
                     "headers": [{"name": "Content-Type", "value": "application/json"}],
                     "content": {"size": 9, "mimeType": "application/json", "text": '{"id": 7}'},
                     "redirectURL": "", "headersSize": -1, "bodySize": 9},
        "cache": {}, "timings": {"send": 1, "wait": 10, "receive": 1},
    }
    path = tmp_path / "capture.har"
    path.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "t", "version": "1"},
                                        "entries": [entry]}}))
    [obs] = CaptureReader(path, MAX_BODY)
    assert (obs.host, obs.path, obs.query, obs.status) == ("api.example.com", "/users/7", [("expand", "a b")], 200)
    assert obs.response.raw == b'{"id": 7}'
    assert _asdicts([obs]) == _reference(path)


@pytest.mark.parametrize("data", [
    b"12:not a flow!", b"99999:}", b"5:abc", b"3:1:x}", b"x" * 20,
], ids=["not-a-dict", "truncated", "bad-prefix", "bad-inner", "garbage"])
def test_broken_files_raise_capture_error(tmp_path, data):
    path = tmp_path / "broken.mitm"
    path.write_bytes(data)
    with pytest.raises(CaptureError, match="broken.mitm"):
        list(CaptureReader(path, MAX_BODY))


def test_truncated_after_good_flows(tmp_path):
    """An interrupted capture: everything before the cut is read, the cut is told with its offset."""
    path = _write(tmp_path / "flows.mitm", FLOWS[:2])
    size = len(tnetstring.dumps(FLOWS[0].get_state()))
    path.write_bytes(path.read_bytes()[:-10])
    reader = CaptureReader(path, MAX_BODY)
    assert _asdicts(reader) == _asdicts([from_flow(FLOWS[0], MAX_BODY)])
    [problem] = reader.problems
    assert problem.startswith(f"invalid flow data at byte {size}: the file ends inside a record")


def test_a_record_that_is_not_a_flow_is_skipped(tmp_path):
    path = _write(tmp_path / "flows.mitm", FLOWS[:1])
    second = _write(tmp_path / "second.mitm", FLOWS[1:2]).read_bytes()
    odd = tnetstring.dumps([b"not", b"a", b"flow"])
    path.write_bytes(path.read_bytes() + odd + second)
    reader = CaptureReader(path, MAX_BODY)
    assert _asdicts(reader) == _asdicts([from_flow(FLOWS[0], MAX_BODY), from_flow(FLOWS[1], MAX_BODY)])
    [problem] = reader.problems
    assert problem.startswith(f"record at byte {len(tnetstring.dumps(FLOWS[0].get_state()))} skipped")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mitm"
    path.write_bytes(b"")
    assert list(CaptureReader(path, MAX_BODY)) == []


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no traffic corpus at {CORPUS}")
def test_corpus_file_reads_like_flowreader():
    path = CORPUS / "openai" / "flows.mitm"
    with path.open("rb") as f:
        flows = [flow for flow in io.FlowReader(f).stream() if isinstance(flow, http.HTTPFlow)]
    expected = _asdicts(from_flow(flow, MAX_BODY) for flow in flows)
    assert _asdicts(from_state(flow.get_state(), MAX_BODY) for flow in flows) == expected
    assert _asdicts(CaptureReader(path, MAX_BODY)) == expected


def test_har_entries_without_an_answer_are_not_learned(tmp_path):
    """Chrome writes `status: 0` for a blocked or failed request: nothing answered, so nothing is
    learned from it, and the exported document stays valid OpenAPI."""
    from openapi_spec_validator import validate

    from mimic_addon import cli

    def entry(status: int) -> dict:
        body = '{"id": 7}' if status else ""
        return {"startedDateTime": "2024-01-01T00:00:00.000Z", "time": 12,
                "request": {"method": "GET", "url": "https://api.example.com/users", "httpVersion": "HTTP/1.1",
                            "headers": [], "queryString": [], "headersSize": -1, "bodySize": 0},
                "response": {"status": status, "statusText": "", "httpVersion": "HTTP/1.1",
                             "headers": [{"name": "Content-Type", "value": "application/json"}] if status else [],
                             "content": {"size": len(body), "mimeType": "application/json", "text": body},
                             "redirectURL": "", "headersSize": -1, "bodySize": len(body)},
                "cache": {}, "timings": {"send": 1, "wait": 10, "receive": 1}}

    har = tmp_path / "capture.har"
    har.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "t", "version": "1"},
                                       "entries": [entry(200), entry(200), entry(0)]}}))
    assert [o.status for o in CaptureReader(har, MAX_BODY)] == [200, 200]
    db, out = str(tmp_path / "m.db"), tmp_path / "api.json"
    assert cli.main(["learn", str(har), "--db", db, "-q"]) == 0
    assert cli.main(["export", "openapi", "--db", db, "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    validate(doc)
    assert list(doc["paths"]["/users"]["get"]["responses"]) == ["200"]


def _browser_har(tmp_path: Path, entries: list[dict]) -> Path:
    path = tmp_path / "browser.har"
    path.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "t", "version": "1"},
                                        "entries": entries}}, ensure_ascii=False), encoding="utf-8")
    return path


def test_what_browsers_write_beside_api_calls_is_read_or_left_out(tmp_path):
    """WebSocket handshakes are HTTP requests of their host; `data:`/`blob:` entries are no API traffic and
    are left out without a word; a URL written with raw non-ASCII characters is read as its escaped form;
    a body the HAR file holds decoded is read whatever `Content-Encoding` the answer had (even one
    mitmproxy could not encode again); the entry's `mimeType` stands for a `Content-Type` header missing."""
    from captures import har_entry

    def with_headers(entry: dict, *headers: tuple[str, str]) -> dict:
        entry["response"]["headers"] += [{"name": k, "value": v} for k, v in headers]
        return entry

    posted = har_entry("POST", "https://api.example.com/items", 201, {"id": 1})
    posted["request"]["postData"] = {"mimeType": "application/json", "text": '{"name": "n"}'}
    entries = [
        har_entry("GET", "wss://api.example.com/socket", 101, None),
        har_entry("GET", "data:image/png;base64,iVBORw0KGgo=", 200, None),
        har_entry("GET", "blob:https://api.example.com/0b5d6c1e", 200, None),
        har_entry("GET", "https://api.example.com/tags/naïve", 200, {"tag": "naïve"}),
        har_entry("GET", "https://bücher.example/api/x", 200, {"ok": True}),
        with_headers(har_entry("GET", "https://api.example.com/a", 200, {"a": 1}), ("Content-Encoding", "x-gzip")),
        with_headers(har_entry("GET", "https://api.example.com/b", 200, {"b": 1}), ("Content-Encoding", "gzip, br")),
        posted,
    ]
    reader = CaptureReader(_browser_har(tmp_path, entries), MAX_BODY)
    got = list(reader)
    assert reader.problems == []
    assert [(o.host, o.path, o.status) for o in got] == [
        ("api.example.com", "/socket", 101), ("api.example.com", "/tags/na%C3%AFve", 200),
        ("bücher.example", "/api/x", 200),  # (sent as xn--bcher-kva.example; mitmproxy names it so)
        ("api.example.com", "/a", 200), ("api.example.com", "/b", 200), ("api.example.com", "/items", 201)]
    assert [o.response.raw for o in got[3:5]] == [b'{"a": 1}', b'{"b": 1}']
    assert got[5].request.content_type == "application/json" and got[5].request.raw == b'{"name": "n"}'


def test_json_in_the_charset_its_content_type_declares(tmp_path):
    from captures import har_entry

    from mimic_addon.learn.observation import decode_body

    entry = har_entry("GET", "https://api.example.com/greet", 200, None)
    entry["response"]["headers"] = [{"name": "Content-Type", "value": "application/json; charset=ISO-8859-1"}]
    entry["response"]["content"]["text"] = '{"msg": "Grüße"}'  # (a HAR holds text as UTF-8 whatever the wire's)
    [obs] = CaptureReader(_browser_har(tmp_path, [entry]), MAX_BODY)
    assert obs.response.raw == '{"msg": "Grüße"}'.encode("latin-1")  # (as the wire had it)
    assert decode_body(obs.response) == ({"msg": "Grüße"}, True)


def test_a_cut_in_a_har_file_with_a_byte_order_mark_is_told_in_bytes(tmp_path):
    from captures import har_entry

    whole = json.dumps({"log": {"entries": [har_entry("GET", "https://a.example/é", 200, {"é": 1})] * 3}},
                       ensure_ascii=False).encode()
    path = tmp_path / "cut.har"
    path.write_bytes(b"\xef\xbb\xbf" + whole[:-30])
    reader = CaptureReader(path, MAX_BODY)
    assert len(list(reader)) == 2
    [told] = reader.problems
    assert f"byte {len(whole) - 30 + 3}" in told


def test_an_ipv6_host_is_written_in_brackets():
    from mimic_addon.learn.observation import host_key

    assert host_key("http", "::1", 8080) == "[::1]:8080" and host_key("https", "2001:db8::1", 443) == "[2001:db8::1]"
    assert host_key("http", "127.0.0.1", 80) == "127.0.0.1"


def test_a_utf16_har_and_a_proxys_connect_entries(tmp_path):
    """PowerShell saves text as UTF-16 with a byte order mark; Fiddler and Charles log their tunnels as
    CONNECT entries, which are no API requests (what went through them is logged on its own)."""
    from captures import har_entry

    doc = {"log": {"entries": [har_entry("CONNECT", "https://api.example.com:443", 200, None),
                               har_entry("GET", "https://api.example.com/users/1", 200, {"id": 1})]}}
    path = tmp_path / "saved.har"
    path.write_bytes(json.dumps(doc).encode("utf-16"))
    reader = CaptureReader(path, MAX_BODY)
    assert [(o.method, o.path) for o in reader] == [("GET", "/users/1")] and reader.problems == []

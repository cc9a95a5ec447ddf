"""`mimic export har` / `mimic export flows`: recorded exchanges rebuilt as mitmproxy flows, written by
mitmproxy's own HAR exporter and flow writer, and read back by mitmproxy and by `mimic learn`."""
from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import pytest
from mitmproxy import io as mitmio

from mimic_addon import cli
from mimic_addon.export import EXPORTERS, ExportError, ExportRequest
from mimic_addon.export.recordings_export import NOTHING_RECORDED, split_host
from mimic_addon.learn.brain import Brain, HostModel
from mimic_addon.learn.capture import CaptureReader
from mimic_addon.serve.replay import make_recording
from mimic_addon.store import Store

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(32)) * 16 + bytes(range(256))


def recordings():
    common = {"max_body": 1 << 20, "latency_ms": 12.5}
    return [
        make_recording(host="127.0.0.1:8001", method="GET", target="/users/1?limit=2&token=s3cret",
                       request_fields=[(b"Host", b"127.0.0.1:8001"), (b"Authorization", b"Bearer abc.def")],
                       request_raw=b"", status=200,
                       response_fields=[(b"Content-Type", b"application/json"), (b"Content-Encoding", b"gzip")],
                       response_raw=gzip.compress(b'{"id": 1, "name": "Ann"}'), ts=1_700_000_000.0, **common),
        make_recording(host="127.0.0.1:8001", method="POST", target="/users",
                       request_fields=[(b"Content-Type", b"application/json")],
                       request_raw=b'{"name": "Bob", "password": "hunter2"}', status=201,
                       response_fields=[(b"Content-Type", b"application/json")], response_raw=b'{"id": 2}',
                       ts=1_700_000_001.0, **common),
        make_recording(host="cdn.example.com", method="GET", target="/logo.png", request_fields=[],
                       request_raw=b"", status=200, response_fields=[(b"Content-Type", b"image/png")],
                       response_raw=PNG, ts=1_700_000_002.0, **common),
    ]


@pytest.fixture
def store(tmp_path: Path):
    s = Store(str(tmp_path / "rec.db"))
    s.add_recordings([r.to_row() for r in recordings()])
    yield s
    s.close()


def export(store, kind: str, host: str | None = None, brain: Brain | None = None):
    return EXPORTERS[kind](ExportRequest(store=store, brain=brain or Brain(), host=host))


def read_flows(data: bytes, tmp_path: Path):
    path = tmp_path / "out.mitm"
    path.write_bytes(data)
    with path.open("rb") as f:
        return list(mitmio.FlowReader(f).stream())


def test_flows_are_the_recorded_exchanges_redacted(store, tmp_path: Path):
    result = export(store, "flows")
    assert result.summary == "3 recorded exchanges" and result.filename.endswith(".mitm")
    flows = read_flows(result.content, tmp_path)
    get, post, png = flows
    assert get.request.url == "http://127.0.0.1:8001/users/1?limit=2&token=%5BREDACTED%5D"
    assert "abc.def" not in get.request.headers["Authorization"]
    assert get.response.status_code == 200 and get.response.content == b'{"id": 1, "name": "Ann"}'
    assert "content-encoding" not in get.response.headers  # stored decoded
    assert int(get.response.headers["content-length"]) == len(get.response.raw_content)
    assert get.request.timestamp_start == 1_700_000_000.0
    assert get.response.timestamp_end == pytest.approx(1_700_000_000.0125)
    assert json.loads(post.request.content) == {"name": "Bob", "password": "[REDACTED]"}
    assert post.response.status_code == 201 and post.response.reason == "Created"
    assert png.request.url == "https://cdn.example.com/logo.png" and png.response.content == PNG


def test_form_and_text_request_bodies_are_exported_redacted(tmp_path: Path):
    s = Store(str(tmp_path / "form.db"))
    common = {"host": "api.example.com", "method": "POST", "status": 200, "response_fields": [],
              "response_raw": b"", "latency_ms": None, "ts": 1.0, "max_body": 1 << 20}
    s.add_recordings([
        make_recording(target="/login", request_fields=[(b"Content-Type", b"application/x-www-form-urlencoded")],
                       request_raw=b"username=ada&password=hunter2", **common).to_row(),
        make_recording(target="/soap", request_fields=[(b"Content-Type", b"text/xml")],
                       request_raw=b"<auth><password>hunter2</password></auth>", **common).to_row(),
    ])
    try:
        form, xml = read_flows(export(s, "flows").content, tmp_path)
        assert form.request.content == b"username=ada&password=[REDACTED]"
        assert xml.request.content == b"<auth><password>[REDACTED]</password></auth>"
        har = export(s, "har").content
        assert "hunter2" not in har and "password=[REDACTED]" in har
    finally:
        s.close()


def test_har_is_mitmproxys_har_of_the_same_flows(store):
    result = export(store, "har")
    doc = json.loads(result.content)
    assert doc["log"]["version"] == "1.2" and doc["log"]["creator"]["name"] == "mitmproxy"
    get, post, png = doc["log"]["entries"]
    assert get["request"]["url"].endswith("token=%5BREDACTED%5D")
    assert json.loads(get["response"]["content"]["text"]) == {"id": 1, "name": "Ann"}
    assert get["time"] == pytest.approx(12.5, abs=0.01)
    assert json.loads(post["request"]["postData"]["text"])["password"] == "[REDACTED]"
    assert png["response"]["content"]["encoding"] == "base64"
    assert base64.b64decode(png["response"]["content"]["text"]) == PNG


def test_har_is_read_back_by_mitmproxy_and_mimic_learn(store, tmp_path: Path, capsys):
    har = tmp_path / "rec.har"
    har.write_text(export(store, "har").content)
    observations = list(CaptureReader(har, 1 << 20))
    assert [(o.method, o.target, o.status) for o in observations] == [
        ("GET", "/users/1?limit=2&token=%5BREDACTED%5D", 200), ("POST", "/users", 201), ("GET", "/logo.png", 200)]
    db = str(tmp_path / "learned.db")
    assert cli.main(["learn", str(har), "--db", db, "-q"]) == 0
    assert cli.main(["endpoints", "--db", db]) == 0
    table = capsys.readouterr().out
    # one number seen once may be a name (`/1/boards`): it stays literal until a second one comes
    assert "127.0.0.1:8001" in table and "GET     /users/1 " in table and "/logo.png" in table


def test_host_filter_and_scheme_from_the_model(store, tmp_path: Path):
    brain = Brain()
    brain.hosts["127.0.0.1:8001"] = HostModel("127.0.0.1:8001", "https")  # learned: it was TLS
    flows = read_flows(export(store, "flows", host="127.0.0.1:8001", brain=brain).content, tmp_path)
    assert [f.request.scheme for f in flows] == ["https", "https"]
    with pytest.raises(ExportError, match="nothing recorded for host nowhere"):
        export(store, "flows", host="nowhere")


def test_nothing_recorded_says_how_to_record(tmp_path: Path, capsys):
    empty = Store(str(tmp_path / "empty.db"))
    with pytest.raises(ExportError, match="^" + NOTHING_RECORDED):
        export(empty, "har")
    empty.close()
    assert cli.main(["export", "flows", "--db", str(tmp_path / "empty.db")]) == 1
    assert NOTHING_RECORDED in capsys.readouterr().err


def test_cli_writes_the_files(store, tmp_path: Path, capsys):
    db = str(store.url).removeprefix("sqlite:///")
    out = tmp_path / "x.mitm"
    assert cli.main(["export", "flows", "--db", db, "-o", str(out)]) == 0
    assert "wrote 3 recorded exchanges" in capsys.readouterr().err
    assert len(read_flows(out.read_bytes(), tmp_path)) == 3


@pytest.mark.parametrize("key, scheme, expected", [
    ("api.example.com", None, ("api.example.com", 443, "https")),
    ("api.example.com", "http", ("api.example.com", 80, "http")),
    ("127.0.0.1:8001", None, ("127.0.0.1", 8001, "http")),
    ("127.0.0.1:8443", "https", ("127.0.0.1", 8443, "https")),
    ("[::1]:8080", None, ("::1", 8080, "http")),
    ("::1", None, ("::1", 443, "https")),
])
def test_split_host(key, scheme, expected):
    assert split_host(key, scheme) == expected


def test_mimics_own_headers_are_not_the_backends(tmp_path: Path):
    """`X-Mimic-Source: upstream` (added by the proxy before the recorder saw the answer) is neither recorded
    nor exported: a plain `mitmdump --server-replay` of the export would say "upstream" on its replays."""
    fields = [(b"Content-Type", b"application/json"), (b"X-Mimic-Source", b"upstream"), (b"X-Request-Id", b"r1")]
    rec = make_recording(host="127.0.0.1:8001", method="GET", target="/a", request_fields=[], request_raw=b"",
                         status=200, response_fields=fields, response_raw=b"{}", ts=1_700_000_000.0,
                         max_body=1 << 20, latency_ms=1.0)
    assert [k for k, _ in rec.response_headers] == ["Content-Type", "X-Request-Id"]
    old = rec.to_row()  # as a recording made before this was stored
    old["data"]["response_headers"].append(["X-Mimic-Source", "upstream"])
    s = Store(str(tmp_path / "old.db"))
    try:
        s.add_recordings([old])
        [flow] = read_flows(export(s, "flows").content, tmp_path)
    finally:
        s.close()
    assert "x-mimic-source" not in flow.response.headers and flow.response.headers["x-request-id"] == "r1"


def test_an_answer_recorded_without_its_body_says_so_in_the_exports(tmp_path: Path) -> None:
    s = Store(str(tmp_path / "cut.db"))
    try:
        big = make_recording(host="api.example.com", method="GET", target="/big", request_fields=[], request_raw=b"",
                             status=200, response_fields=[(b"Content-Type", b"application/json")],
                             response_raw=b"[" + b"1," * 600 + b"1]", ts=1_700_000_000.0, max_body=1000,
                             latency_ms=1.0)
        assert big.response_cut and big.response_body is None
        s.add_recordings([big.to_row()])
        har = export(s, "har")
        [entry] = json.loads(har.content)["log"]["entries"]
        assert "over mimic_max_body" in entry["comment"] and "1 without the answer's body" in har.summary
        flows = export(s, "flows")
        assert "over mimic_max_body" in read_flows(flows.content, tmp_path)[0].comment
    finally:
        s.close()

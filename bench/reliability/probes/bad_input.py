"""Hostile and broken input in both directions, through a real mitmdump in front of a real loopback backend:
malformed, truncated, huge and deeply nested JSON, binary, lying `Content-Encoding` and charsets, invalid
UTF-8, lone surrogates, NUL bytes, very long paths, thousands of query parameters, header floods, markup in
paths, keys and values. Every input goes once through plain mitmdump (what the client gets without Mimic),
then through Mimic learning (requests on one proxy, answers on another) and through Mimic mocking from what
was learned. Counted: answers that differ from plain mitmdump's (learn) or that fail (mock: 5xx or no
answer where plain mitmdump answered), tracebacks in the mitmdump log, and exchanges the backend answered
that the store does not count afterwards."""
from __future__ import annotations

import gzip
import http.client
import json
import os
import shutil
import socket
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from harness import Row, backend, free_port, mitmdump, tracebacks
from probes.locked_store import learned

NAME = "bad_input"
TITLE = "bad input, both directions, learn and mock"
MARK = "X-Hostile-Backend"  # on every answer the backend itself gave
HUGE = json.dumps([{"id": i, "name": f"item-{i}", "tags": ["a", "b"]} for i in range(120_000)]).encode()  # ~5 MB
DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJ = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
BINARY = bytes(range(256)) * 64
SCRIPT = "<script>alert(1)</script>"
HOSTILE_KEYS = json.dumps({SCRIPT: "<img src=x onerror=alert(1)>", "__proto__": {"admin": True},
                           "constructor": {"prototype": 1}, "'; DROP TABLE endpoints; --": "x",
                           "{{7*7}}": "${7*7}", "": "empty key", "a.b[0]": 1}).encode()


def _json_head(extra: str = "", ctype: str = "application/json") -> str:
    return f"Content-Type: {ctype}\r\n{extra}"


# -- answers: the backend sends these raw bytes for GET /r/<name> ---------------------------------------------
def _answer(body: bytes, headers: str = _json_head(), status: str = "200 OK", length: int | None = None) -> bytes:
    n = len(body) if length is None else length
    return f"HTTP/1.1 {status}\r\n{MARK}: 1\r\n{headers}Content-Length: {n}\r\n\r\n".encode() + body


ANSWERS: dict[str, bytes] = {
    "malformed-json": _answer(b'{"broken": [1, 2, '),
    "truncated": _answer(b'{"items": [' + b'{"id": 1}, ' * 10, length=10_000),
    "huge": _answer(HUGE),
    "deep-array": _answer(DEEP),
    "deep-object": _answer(DEEP_OBJ),
    "binary-as-json": _answer(BINARY),
    "gzip-that-is-not": _answer(b'{"plain": true}', _json_head("Content-Encoding: gzip\r\n")),
    "br-that-is-not": _answer(BINARY[:500], _json_head("Content-Encoding: br\r\n")),
    "zstd-that-is-not": _answer(b'{"plain": true}', _json_head("Content-Encoding: zstd\r\n")),
    "gzip-truncated": _answer(gzip.compress(HUGE)[:2000], _json_head("Content-Encoding: gzip\r\n")),
    "unknown-encoding": _answer(b'{"a": 1}', _json_head("Content-Encoding: x-made-up, gzip\r\n")),
    "charset-lie-utf16": _answer(b'{"name": "caf\xc3\xa9"}', _json_head(ctype="application/json; charset=utf-16")),
    "charset-unknown": _answer(b'{"name": "x"}', _json_head(ctype="application/json; charset=no-such-charset")),
    "utf16-with-bom": _answer('{"name": "x"}'.encode("utf-16"), _json_head(ctype="application/json; charset=utf-16")),
    "invalid-utf8": _answer(b'{"name": "\xff\xfe\xc3(", "\xc0\xaf": 1}'),
    "lone-surrogate-escaped": _answer(b'{"s": "\\ud800", "\\udfff": "\\udc00x"}'),
    "lone-surrogate-raw": _answer(b'{"s": "\xed\xa0\x80"}'),
    "nul-bytes": _answer(b'{"s": "a\\u0000b", "k\\u0000": 1}'),
    "raw-nul-in-body": _answer(b'{"s": "a\x00b"}'),
    "text-with-nul": _answer(b"hello\x00world", _json_head(ctype="text/plain")),
    "header-flood": _answer(b'{"a": 1}', _json_head("".join(f"X-Flood-{i}: {i}\r\n" for i in range(2000)))),
    "huge-header": _answer(b'{"a": 1}', _json_head(f"X-Big: {'v' * 60_000}\r\n")),
    "hostile-keys": _answer(HOSTILE_KEYS),
    "html-as-json": _answer(f"<html><body>{SCRIPT}</body></html>".encode()),
    "json-with-script-values": _answer(json.dumps({"name": SCRIPT, "bio": "</textarea><svg onload=alert(1)>"})
                                       .encode()),
    "empty-json": _answer(b"", ),
    "status-204-with-body": _answer(b'{"a": 1}', status="204 No Content"),
    "bad-content-type": _answer(b'{"a": 1}', _json_head(ctype="application/json; ;;; charset")),
}


class HostileBackend(BaseHTTPRequestHandler):
    """GET /r/<name>: the raw answer ANSWERS[name]; anything else: its body is read and a small JSON answer
    says how many bytes arrived."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def _any(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while (size := int(self.rfile.readline().split(b";")[0] or b"0", 16)) > 0:
                body += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        name = self.path.split("?", 1)[0].removeprefix("/r/")
        if self.path.startswith("/r/") and name in ANSWERS:
            self.wfile.write(ANSWERS[name])
            self.close_connection = True
            return
        answer = json.dumps({"received": len(body)}).encode()
        self.wfile.write(_answer(answer))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any


# -- requests: raw bytes sent to the proxy ------------------------------------------------------------------------
def _request(method: str, target: bytes | str, body: bytes = b"", headers: str = "", length: int | None = None,
             ctype: str = "application/json") -> bytes:
    t = target.encode() if isinstance(target, str) else target
    n = len(body) if length is None else length
    head = f"Host: api.test\r\nContent-Type: {ctype}\r\n{headers}" + (f"Content-Length: {n}\r\n" if body or
                                                                       length else "")
    return method.encode() + b" " + t + b" HTTP/1.1\r\n" + head.encode() + b"Connection: close\r\n\r\n" + body


REQUESTS: dict[str, bytes] = {
    "malformed-json": _request("POST", "/q/items", b'{"broken": [1, 2, '),
    "truncated-body": _request("POST", "/q/items", b'{"items": [1, 2, 3', length=5_000),
    "huge-body": _request("POST", "/q/items", HUGE),
    "deep-array": _request("POST", "/q/items", DEEP),
    "deep-object": _request("PUT", "/q/items/1", DEEP_OBJ),
    "binary-as-json": _request("POST", "/q/items", BINARY),
    "gzip-that-is-not": _request("POST", "/q/items", b'{"plain": true}', "Content-Encoding: gzip\r\n"),
    "br-that-is-not": _request("POST", "/q/items", BINARY[:500], "Content-Encoding: br\r\n"),
    "deflate-that-is-not": _request("POST", "/q/items", b'{"plain": true}', "Content-Encoding: deflate\r\n"),
    "unknown-encoding": _request("POST", "/q/items", b'{"a": 1}', "Content-Encoding: x-made-up\r\n"),
    "gzip-bomb-ish": _request("POST", "/q/items", gzip.compress(b"[" + b"0," * 3_000_000 + b"0]"),
                              "Content-Encoding: gzip\r\n"),
    "charset-lie-utf16": _request("POST", "/q/items", b'{"name": "caf\xc3\xa9"}', ctype="application/json; charset=utf-16"),
    "charset-unknown": _request("POST", "/q/items", b'{"name": "x"}', ctype="text/plain; charset=no-such-charset"),
    "invalid-utf8-body": _request("POST", "/q/items", b'{"name": "\xff\xfe\xc3("}'),
    "lone-surrogate-escaped": _request("POST", "/q/items", b'{"s": "\\ud800", "\\udfff": 1}'),
    "lone-surrogate-raw": _request("POST", "/q/items", b'{"s": "\xed\xa0\x80"}'),
    "nul-in-json": _request("POST", "/q/items", b'{"s": "a\\u0000b", "k\\u0000": 1}'),
    "raw-nul-in-body": _request("POST", "/q/items", b"a=1\x00&b=\x00", ctype="application/x-www-form-urlencoded"),
    "nul-in-path": _request("GET", "/q/items/a%00b"),
    "nul-in-query": _request("GET", "/q/items?x=a%00b&%00=1"),
    "invalid-utf8-path": _request("GET", b"/q/files/\xff\xfe\xc3("),
    "invalid-utf8-path-escaped": _request("GET", "/q/files/%ff%fe%c3%28"),
    "lone-surrogate-path": _request("GET", "/q/files/%ed%a0%80"),
    "invalid-utf8-query": _request("GET", b"/q/items?name=\xff\xfe&\xc3(=1"),
    "long-path-8k": _request("GET", "/q/" + "a" * 8_000),
    "long-path-60k": _request("GET", "/q/" + "/".join(["seg"] * 15_000)),
    "many-segments": _request("GET", "/q" + "/x" * 5_000),
    "query-5000-params": _request("GET", "/q/items?" + "&".join(f"p{i}={i}" for i in range(5_000))),
    "query-5000-same": _request("GET", "/q/items?" + "&".join(f"p={i}" for i in range(5_000))),
    "header-flood": _request("GET", "/q/items", headers="".join(f"X-Flood-{i}: {i}\r\n" for i in range(1_000))),
    "huge-header": _request("GET", "/q/items", headers=f"X-Big: {'v' * 60_000}\r\n"),
    "cookie-flood": _request("GET", "/q/items", headers="Cookie: " + "; ".join(f"c{i}={i}" for i in range(3_000))
                             + "\r\n"),
    "script-in-path": _request("GET", "/q/%3Cscript%3Ealert(1)%3C%2Fscript%3E/items"),
    "script-in-path-raw": _request("GET", "/q/<script>alert(1)</script>/items"),
    "script-in-query": _request("GET", "/q/items?%3Csvg%20onload%3Dalert(1)%3E=%3Cimg%20src%3Dx%3E"),
    "hostile-json-keys": _request("POST", "/q/items", HOSTILE_KEYS),
    "hostile-header-values": _request("GET", "/q/items", headers=f"X-Name: {SCRIPT}\r\nUser-Agent: {SCRIPT}\r\n"),
    "html-as-json": _request("POST", "/q/items", f"<html>{SCRIPT}</html>".encode()),
    "chunked-garbage": b"POST /q/items HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: chunked\r\n"
                       b"Connection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "bad-method": _request("FROB", "/q/items"),
    "empty-json-body": _request("POST", "/q/items", b"", length=0),
    "traversal-path": _request("GET", "/q/../../../etc/passwd"),
}


def send_raw(port: int, raw: bytes, half_close: bool = False, timeout: float = 10) -> tuple[int, bytes, dict[str, str]]:
    """(status, body, headers) of one raw request on a fresh connection; status 0 when no answer came.
    `half_close`: the client stops sending (a truncated body ends there) and waits for the answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(raw)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
            resp = http.client.HTTPResponse(sock, method=raw.split(b" ", 1)[0].decode())
            resp.begin()
            return resp.status, resp.read(), {k.lower(): v for k, v in resp.getheaders()}
    except (OSError, http.client.HTTPException):
        return 0, b"", {}


def exchange_all(port: int, cases: dict[str, bytes]) -> dict[str, tuple[int, bytes, dict[str, str], float]]:
    """name -> (status, body, headers, seconds to answer) of every case, one after the other."""
    out = {}
    for name, raw in cases.items():
        t0 = time.monotonic()
        status, body, headers = send_raw(port, raw, half_close=name.startswith("truncated"))
        out[name] = (status, body, headers, time.monotonic() - t0)
    return out


def slowest(answers: dict) -> str:
    name = max(answers, key=lambda n: answers[n][3])
    return f"{answers[name][3]:.2f} s ({name})"


def answer_cases() -> dict[str, bytes]:
    return {name: _request("GET", f"/r/{name}") for name in ANSWERS}


def compare(plain: dict, mimic: dict) -> list[str]:
    """The inputs where Mimic's answer is not plain mitmdump's (status or body)."""
    return [name for name, (status, body, *_) in mimic.items() if (status, body) != plain[name][:2]]


def failed(plain: dict, mock: dict) -> list[str]:
    """Mock failures: no answer, or a 5xx, where plain mitmdump in front of the backend got a good answer."""
    return [name for name, (status, *_) in mock.items()
            if (status == 0 and plain[name][0] != 0) or (status >= 500 and 0 < plain[name][0] < 500)]


def run_direction(workdir: Path, upstream: str, label: str, cases: dict[str, bytes]) -> tuple[Row, Row, Path]:
    with mitmdump(workdir, upstream, name=f"plain-{label}", plain=True) as plain_proxy:
        plain = exchange_all(plain_proxy.port, cases)
    with mitmdump(workdir, upstream, name=f"learn-{label}") as proxy:
        learnt = exchange_all(proxy.port, cases)
        proxy.stop()
    by_backend = sum(1 for _, _, headers, _ in learnt.values() if MARK.lower() in headers)
    counted, _ = learned(proxy.db)
    differ = compare(plain, learnt)
    learn_tb = tracebacks(proxy.log)
    mock_db = workdir / f"mock-{label}.db"
    shutil.copy(proxy.db, mock_db)
    with mitmdump(workdir, upstream, "mimic_mode=mock", name=f"mock-{label}", db=mock_db) as mock_proxy:
        mocked = exchange_all(mock_proxy.port, cases)
        mock_proxy.stop()
    broken = failed(plain, mocked)
    mock_tb = tracebacks(mock_proxy.log)
    (workdir / f"{label}.json").write_text(json.dumps({
        name: {"plain": plain[name][0], "learn": learnt[name][0], "mock": mocked[name][0]} for name in cases},
        indent=1))
    learn_row = Row(NAME, f"{len(cases)} bad {label}, learn mode", "0 / 0 / 0",
                    f"{len(differ)} answers unlike plain mitmdump's{_names(differ)}, {learn_tb} tracebacks, "
                    f"{max(0, by_backend - counted)}/{by_backend} exchanges not learned; slowest {slowest(learnt)}, "
                    f"plain mitmdump's {slowest(plain)}",
                    not differ and learn_tb == 0 and counted >= by_backend)
    mock_row = Row(NAME, f"the same {len(cases)} {label}, mock mode (model learned from them)", "0 / 0",
                   f"{len(broken)} failed{_names(broken)}, {mock_tb} tracebacks; slowest {slowest(mocked)}", not broken and mock_tb == 0)
    return learn_row, mock_row, proxy.db


def _names(names: list[str]) -> str:
    return f" ({', '.join(names)})" if names else ""


def run(workdir: Path, upstream: str, quick: bool) -> list[Row]:
    with backend(HostileBackend) as hostile:
        req_learn, req_mock, _ = run_direction(workdir, hostile, "requests", REQUESTS)
        ans_learn, ans_mock, _ = run_direction(workdir, hostile, "answers", answer_cases())
    return [req_learn, ans_learn, req_mock, ans_mock]

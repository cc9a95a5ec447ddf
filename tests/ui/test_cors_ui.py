"""A single-page app on another origin reads Mimic's mock answers, in real headless Chromium: the page
(served from its own loopback origin) fetches through a real mitmdump + Mimic in mock mode, with headers
that make the browser ask a preflight first, and reads the answers' bodies and headers. Only the preflight
carried CORS headers before, so the browser blocked every answer."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

PAGE = b"<!doctype html><title>spa</title><p>app</p>"


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args: Any) -> None:
        pass


def test_an_app_on_another_origin_reads_mock_answers(browser, live_proxy):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    assert live_proxy.api("PUT", "/api/mode", json={"mode": "mock"}).status_code == 200
    try:
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        got = page.evaluate("""async (base) => {
            const ask = async (path, init) => {
                try {
                    const r = await fetch(base + path, init);
                    return {status: r.status, source: r.headers.get("X-Mimic-Source"),
                            location: r.headers.get("Location"), body: await r.json()};
                } catch (e) { return {error: String(e)}; }
            };
            const mock = {"X-Mimic-Session": "spa"};  // (a header no browser sends alone: a preflight first)
            return {
                read: await ask("/users/7", {headers: mock}),
                made: await ask("/users", {method: "POST", headers: {...mock, "Content-Type": "application/json"},
                                           body: JSON.stringify({name: "Ada", email: "ada@example.com"})}),
                unknown: await ask("/nothing/here", {headers: mock}),
            };
        }""", live_proxy.proxy_url)
        context.close()
    finally:
        live_proxy.api("PUT", "/api/mode", json={"mode": "learn"})
        server.shutdown()
        server.server_close()
    assert got["read"]["status"] == 200 and got["read"]["source"] == "mock" and "id" in got["read"]["body"], got
    assert got["made"]["status"] == 201 and got["made"]["location"].startswith("/users/"), got
    assert got["unknown"]["status"] == 404 and "closest" in got["unknown"]["body"], got

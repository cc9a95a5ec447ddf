"""The control deck and the inspector in real headless Chromium, against a real mitmdump + Mimic.

The issue's end-to-end checks: a request through the proxy shows up in the deck's live stream; switching
the mode to mock on the deck makes the next proxied request a mock (the backend is gone by then); and a
hostile string the backend sent renders as text in the inspector (no dialog, no img element).
"""
from __future__ import annotations

import time
from typing import Any, ClassVar

import pytest
from e2e.conftest import _Handler, serve_http

from ui.conftest import HOSTILE

pytestmark = pytest.mark.e2e

WAIT_MS = 15_000


def expect(*args: Any, **kw: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(*args, **kw)


def open_deck(page: Any, live_proxy: Any) -> None:
    page.goto(f"{live_proxy.admin_url}/deck")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=WAIT_MS)


def wait_logged(live_proxy: Any, timeout: float = 20.0, **filters: str) -> list[dict[str, Any]]:
    """The inspector entries matching `filters`, once the proxy's log writer has stored at least one."""
    deadline = time.monotonic() + timeout
    while True:
        items = live_proxy.api("GET", "/api/inspector", params=filters).json()["items"]
        if items:
            return items
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing logged for {filters}")
        time.sleep(0.1)  # poll interval while the proxy's writer catches up, bounded by the deadline


def test_a_request_appears_in_the_live_stream(page, live_proxy, screenshot):
    open_deck(page, live_proxy)
    for uid in (11, 12):
        assert live_proxy.request("GET", f"/users/{uid}").status_code == 200
    assert live_proxy.request("GET", "/orders/not-a-uuid").status_code == 404
    row = page.locator("tr.live-row", has_text="/users/12")
    expect(row).to_be_visible(timeout=WAIT_MS)
    expect(row.locator("td.method")).to_have_text("GET")
    expect(row.locator("td.status")).to_have_text("200")
    expect(row.locator(".badge.source")).to_have_text("upstream")
    expect(row.locator("td.template")).to_have_text("/users/{user_id}")
    expect(page.locator("tr.live-row", has_text="/orders/not-a-uuid").locator("td.status")).to_have_text("404")
    # newest first
    expect(page.locator("tr.live-row").first).to_contain_text("/orders/not-a-uuid")
    assert page.js_errors == []
    screenshot(page, "deck")


def test_bidirectional_controls_from_traffic_are_written_out(page, live_proxy):
    """A body value holding U+202E (right-to-left override: "\u202eevil\u202c" reads "live") shows its
    controls as `<U+202E>` and `<U+202C>` in the inspector, never as the reordering characters."""
    sent = {"name": "\u202eevil\u202c", "email": "rtl@example.com"}
    assert live_proxy.request("PUT", "/users/5", json=sent).status_code in (200, 404, 405, 501)
    [entry] = wait_logged(live_proxy, method="PUT")
    page.goto(f"{live_proxy.admin_url}/inspector/{entry['id']}")
    body = page.locator("#entry-request-body")
    expect(body).to_contain_text("<U+202E>evil<U+202C>")
    assert "\u202e" not in page.locator("main").inner_text() and page.js_errors == []


def test_pause_holds_the_stream_and_resume_continues(page, live_proxy):
    open_deck(page, live_proxy)
    page.click("#live-pause")
    assert live_proxy.request("GET", "/users/21").status_code == 200
    expect(page.locator("#live-missed")).to_contain_text("1 not shown while paused", timeout=WAIT_MS)
    expect(page.locator("tr.live-row", has_text="/users/21")).to_have_count(0)
    page.click("#live-pause")
    assert live_proxy.request("GET", "/users/22").status_code == 200
    expect(page.locator("tr.live-row", has_text="/users/22")).to_be_visible(timeout=WAIT_MS)


def test_inspector_shows_the_hostile_string_as_text(page, live_proxy, screenshot):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    [entry, *_] = wait_logged(live_proxy, method="POST", template="/users")

    page.goto(f"{live_proxy.admin_url}/inspector")
    row = page.locator(f"tr.inspector-row[data-id='{entry['id']}']")
    expect(row).to_contain_text("POST")
    expect(row).to_contain_text("201")
    screenshot(page, "inspector")

    page.goto(f"{live_proxy.admin_url}/inspector?method=POST&template=/users")
    page.locator(f"tr.inspector-row[data-id='{entry['id']}'] a").first.click()
    page.wait_for_url(f"**/inspector/{entry['id']}")
    body = page.locator("#entry-response-body")
    expect(body).to_contain_text(HOSTILE)  # the markup arrives as text...
    expect(page.locator("#entry-request-body")).to_contain_text(HOSTILE)
    assert page.locator("main img").count() == 0  # ...and never as an element
    assert dialogs == [] and page.js_errors == []


class CountingHandler(_Handler):
    """The e2e backend, remembering the paths it was asked for."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        CountingHandler.seen.append(self.path)
        super().do_GET()


def test_the_reverse_target_changes_at_run_time_from_the_deck(page, live_proxy):
    open_deck(page, live_proxy)
    with serve_http(CountingHandler) as second:
        page.fill("#target-url", second.url)
        page.click("#target-form button[type=submit]")
        expect(page.locator("#status-target")).to_have_text(second.url, timeout=WAIT_MS)
        assert live_proxy.request("GET", "/users/31").status_code == 200
        assert CountingHandler.seen == ["/users/31"]  # the next request went to the new target

        page.click("#target-clear")
        expect(page.locator("#deck-flash")).to_contain_text("Back to the target of --mode")
        assert live_proxy.request("GET", "/users/32").status_code == 200
        assert CountingHandler.seen == ["/users/31"]  # and back to the first backend

        page.fill("#target-url", "ftp://nope")
        page.click("#target-form button[type=submit]")
        expect(page.locator("#deck-flash.error")).to_contain_text("http:// or https://")
    assert page.js_errors == []


def test_switching_to_mock_on_the_deck_answers_the_next_request_from_the_model(page, live_proxy):
    open_deck(page, live_proxy)
    page.check("input[name=mode][value=mock]")
    page.click("#mode-form button[type=submit]")
    expect(page.locator("#status-mode")).to_have_text("mock", timeout=WAIT_MS)
    expect(page.locator("#deck-flash")).to_contain_text("Mode is now mock")

    live_proxy.stop_backend()  # from here on, only a mock can answer
    r = live_proxy.request("GET", "/users/7")
    assert r.status_code == 200 and r.headers["X-Mimic-Source"] == "mock"
    assert set(r.json()) >= {"id", "name", "email"}
    row = page.locator("tr.live-row", has_text="/users/7")
    expect(row.first.locator(".badge.source")).to_have_text("mock", timeout=WAIT_MS)
    assert live_proxy.api("GET", "/api/status").json()["mode"] == "mock"
    assert page.js_errors == []

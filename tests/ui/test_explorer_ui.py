"""The Explorer in real headless Chromium, over what a real proxy learned from real traffic: search,
an endpoint's schema, a hostile learned string rendered as text, the override preview and the
per-endpoint mode changing how the proxy answers."""
from __future__ import annotations

import re

import pytest

from .conftest import HOSTILE

pytestmark = pytest.mark.e2e


def test_search_open_schema_and_hostile_string_is_text(page, live_proxy, screenshot):
    from playwright.sync_api import expect

    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{live_proxy.admin_url}/explorer")
    rows = page.locator("#endpoint-table tbody tr")
    expect(rows.first.locator("td.template a")).to_be_visible()
    assert rows.count() >= 4
    screenshot(page, "explorer")

    page.fill("input[name=q]", "POST users")
    page.press("input[name=q]", "Enter")
    expect(page.locator("#explorer-total")).to_have_text("1 endpoint")
    link = page.locator("#endpoint-table td.template a")
    expect(link).to_have_text("/users")
    link.click()

    expect(page.locator("h1 .method")).to_have_text("POST")
    expect(page.locator(".field-name", has_text=re.compile(r"^email$")).first).to_be_visible()  # learned from traffic
    hostile = page.locator(".field-name").filter(has_text="onerror")
    expect(hostile.first).to_be_visible()
    assert {hostile.nth(i).text_content() for i in range(hostile.count())} == {HOSTILE}
    page.locator("details", has_text="Example (redacted)").first.locator("summary").click()
    example = page.locator("details", has_text="Example (redacted)").first.locator("pre").text_content()
    assert f'"{HOSTILE}": "{HOSTILE}"' in example     # the learned value, shown as text too
    assert page.locator("img").count() == 0          # nothing turned into an element
    assert dialogs == [] and page.js_errors == []    # and no script ran: alert(1) never fired
    expect(page.locator("svg.chart").first).to_be_visible()
    screenshot(page, "endpoint")


def test_override_preview_follows_the_editor(page, live_proxy):
    from playwright.sync_api import expect

    page.goto(f"{live_proxy.admin_url}/explorer?q=users%20{{user_id}}&method=GET")
    page.locator("#endpoint-table td.template a").first.click()
    out = page.locator("#preview-out")
    expect(out).to_contain_text('"path": "/users/1"')  # the starter template, rendered on load
    page.fill("#override-text", "template: '{\"hello\": \"{{ request.params.user_id }}\", \"x\": \"" + HOSTILE + "\"}'")
    expect(out).to_contain_text('"hello": "1"')
    assert HOSTILE in out.text_content() and page.locator("img").count() == 0
    page.fill("#override-text", "template: '{{ nope.field }}'")
    expect(out).to_contain_text("template error")
    expect(out).to_contain_text("nope")

    page.click(".tabs .tab[data-kind=typescript]")  # the type-export panel, generated on demand
    expect(page.locator("#types-out")).to_contain_text("export interface GetUsersByUserIdResponse200")
    expect(page.locator("#types-download")).to_have_attribute("href", re.compile(r"/types/typescript\?download=1$"))
    assert page.js_errors == []


def test_the_override_badge_follows_save_and_clear(page, live_proxy):
    """The "override active" badge showed only after a reload, and stayed after Clear override."""
    from playwright.sync_api import expect

    page.goto(f"{live_proxy.admin_url}/explorer?q=users%20{{user_id}}&method=GET")
    page.locator("#endpoint-table td.template a").first.click()
    badge = page.locator("#override-badge")
    expect(badge).to_be_hidden()
    page.fill("#override-text", 'status: 200\nbody: {"pinned": true}\n')
    page.click("#override-save")
    expect(page.locator("#override-msg")).to_contain_text("saved")
    expect(badge).to_be_visible()
    page.on("dialog", lambda d: d.accept())
    page.click("#override-clear")
    expect(page.locator("#override-msg")).to_contain_text("cleared")
    expect(badge).to_be_hidden()
    assert page.js_errors == []


def test_per_endpoint_mode_changes_how_the_proxy_answers(page, live_proxy):
    from playwright.sync_api import expect

    assert live_proxy.request("GET", "/users/7").headers.get("X-Mimic-Source") == "upstream"
    page.goto(f"{live_proxy.admin_url}/explorer?q=users%20{{user_id}}&method=GET")
    page.locator("#endpoint-table td.template a").first.click()
    page.select_option("#mode-select", "mock")
    expect(page.locator("#mode-msg")).to_have_text("now mock")
    try:
        r = live_proxy.request("GET", "/users/7")
        assert r.status_code == 200 and r.headers.get("X-Mimic-Source") == "mock"
        assert live_proxy.request("GET", "/users").headers.get("X-Mimic-Source") == "upstream"  # only this one
        page.goto(f"{live_proxy.admin_url}/explorer?q=users")
        expect(page.locator("#endpoint-table tbody tr", has_text="{user_id}").locator(".badge")).to_have_text("mock")
    finally:
        live_proxy.api("PUT", f"/api/endpoints/{_id_of(live_proxy, 'GET', '/users/{user_id}')}/mode",
                       json={"mode": "inherit"})
    assert live_proxy.request("GET", "/users/7").headers.get("X-Mimic-Source") == "upstream"


def _id_of(live_proxy, method: str, template: str) -> int:
    items = live_proxy.api("GET", "/api/endpoints", params={"method": method, "q": template}).json()["items"]
    return next(e["id"] for e in items if e["template"] == template)


def test_drift_alert_narrated_and_resolved_from_the_page(page, live_proxy):
    """Real drift through the real proxy: POST /users answered its usual shape 50 times, then twice
    without `email` (and the hostile field). The page narrates the alert and resolves it as expected."""
    from playwright.sync_api import expect

    for n in range(50):  # evidence: `email` in all 50 answers
        body = {"name": f"N{n}", "email": f"n{n}@example.com", HOSTILE: HOSTILE}
        assert live_proxy.request("POST", "/users", json=body).status_code == 201
    for _ in range(2):  # missing from two answers in a row: a change (one alone may be optional)
        assert live_proxy.request("POST", "/users", json={"name": "Eve"}).status_code == 201
    alert = _wait_for(lambda: next(iter(live_proxy.api("GET", "/api/drift?unresolved=1").json()["items"]), None))
    assert alert["template"] == "/users" and alert["label"] == "BREAKING"

    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{live_proxy.admin_url}/explorer/{alert['endpoint_id']}")
    article = page.locator(f"article.alert[data-alert-id='{alert['id']}']")
    expect(article.locator(".narration")).to_contain_text("email")
    expect(article.locator(".changes")).to_contain_text(HOSTILE)  # the hostile field's path, as text
    assert page.locator("img").count() == 0 and dialogs == []
    article.locator("button[data-resolution=expected]").click()
    expect(article.locator(".state")).to_have_text("resolved (expected)")
    expect(article.locator("button.resolve")).to_have_count(0)
    # the proxy resolved it: the store says so after its next flush, and `email` became optional
    _wait_for(lambda: live_proxy.api("GET", "/api/drift?unresolved=1").json()["total"] == 0 or None)
    ep = _wait_for(lambda: (e := live_proxy.api("GET", f"/api/endpoints/{alert['endpoint_id']}").json())
                   and "email" not in e["responses"]["201"]["schema"].get("required", ["email"]) and e or None)
    assert ep["health"]["status"] == "HEALTHY" and page.js_errors == []


def _wait_for(probe, timeout: float = 10.0):
    """Poll `probe` until it returns something truthy (the proxy saves every 0.2 s here), bounded by a deadline."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the proxy to save")
        time.sleep(0.05)  # poll interval, bounded by the deadline

"""Chaos and State in real headless Chromium, against a real mitmdump + Mimic.

Chaos: a rule made with the page's form, activated on the page, fires on the next proxied request and
its fire count shows up on the page. State: an item a client creates through the proxy (mock mode,
its own session) is on the State page, and the page's reset forgets it.
"""
from __future__ import annotations

import time
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

WAIT_MS = 15_000
SESSION = "ui-state"


def expect(*args: Any, **kw: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(*args, **kw)


def test_chaos_rule_made_on_the_page_fires_and_is_counted(page, live_proxy, screenshot):
    page.goto(f"{live_proxy.admin_url}/chaos")
    form = page.locator("#rule-form")
    form.locator("input[name=profile]").fill("ui-chaos")
    form.locator("input[name=name]").fill("users-teapot")
    form.locator("input[name=path]").fill("/users/{user_id}")
    form.locator("input[name=method]").fill("get")
    form.locator("select[name=action]").select_option("error")
    form.locator("input[name=error_status]").fill("418")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()  # saved, then the page reloads

    profile = page.locator("#profile-ui-chaos")
    expect(profile).to_contain_text("users-teapot")
    expect(profile).to_contain_text("error 418")
    expect(profile).to_contain_text("GET /users/{user_id}")
    with page.expect_navigation():
        profile.locator("button.activate").click()
    expect(page.locator("#chaos-active")).to_have_text("ui-chaos")

    r = live_proxy.request("GET", "/users/3")
    assert r.status_code == 418 and r.headers["X-Mimic-Chaos"] == "users-teapot"
    assert live_proxy.request("GET", "/users").status_code == 200  # outside the rule's scope
    # the page refreshes its counts from the running proxy
    expect(page.locator('[data-fired="users-teapot"]')).to_have_text("1", timeout=WAIT_MS)
    expect(page.locator("#counts-body")).to_contain_text("users-teapot")
    expect(page.locator("#counts-body")).to_contain_text("/users/{user_id}")
    screenshot(page, "chaos")

    # edit: the form is filled from the rule, and saving replaces it
    profile.locator("button.edit").click()
    expect(form.locator("input[name=name]")).to_have_value("users-teapot")
    expect(form.locator("input[name=path]")).to_have_value("/users/{user_id}")
    form.locator("input[name=error_status]").fill("429")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    expect(page.locator("#profile-ui-chaos")).to_contain_text("error 429")
    expect(page.locator("#profile-ui-chaos tr.rule")).to_have_count(1)
    assert live_proxy.request("GET", "/users/3").status_code == 429

    # a broken rule is refused with the parser's message, and nothing changes
    yaml_form = page.locator("#yaml-form")
    yaml_form.locator("input[name=profile]").fill("ui-chaos")
    yaml_form.locator("textarea").fill("name: bad\nerror: {status: 999}\n")
    yaml_form.locator("button[type=submit]").click()
    expect(page.locator("#chaos-flash")).to_contain_text("must be an integer 100-599")

    with page.expect_navigation():
        page.click("#chaos-off")
    expect(page.locator("#chaos-active")).to_have_text("off")
    assert live_proxy.request("GET", "/users/3").status_code == 200
    assert page.js_errors == []


def wait_twin_item(live_proxy: Any, name: str, timeout: float = 20.0) -> None:
    """Wait until the proxy has written the session's twin state to the store (write-behind, 0.5 s)."""
    deadline = time.monotonic() + timeout
    while True:
        body = live_proxy.api("GET", "/api/state", params={"scope": "session:" + SESSION}).json()
        items = [i for s in body["items"] for c in s["collections"] for i in c["items"]]
        if any(i.get("name") == name for i in items):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"no twin item {name!r} stored: {body}")
        time.sleep(0.1)  # poll interval while the proxy's twin flusher runs, bounded by the deadline


def test_state_page_shows_a_twin_item_and_reset_clears_it(page, live_proxy, screenshot):
    assert live_proxy.api("PUT", "/api/mode", json={"mode": "mock"}).status_code == 200
    try:
        r = live_proxy.request("POST", "/users", json={"name": "Twin Ada", "email": "ada@example.com"},
                               headers={"X-Mimic-Session": SESSION})
        assert r.status_code == 201 and r.headers["X-Mimic-Source"] == "mock"
        created = r.json()
        assert created["name"] == "Twin Ada"
        got = live_proxy.request("GET", f"/users/{created['id']}", headers={"X-Mimic-Session": SESSION})
        assert got.json()["name"] == "Twin Ada"  # the twin answers with what was created
        wait_twin_item(live_proxy, "Twin Ada")

        page.goto(f"{live_proxy.admin_url}/state")
        scope = page.locator(f'section.scope[data-scope="session:{SESSION}"]')
        expect(scope).to_contain_text("Twin Ada")
        expect(scope).to_contain_text("/users")
        expect(scope.locator("pre.item").first).to_contain_text('"name": "Twin Ada"')
        screenshot(page, "state")

        with page.expect_navigation():
            scope.locator("button.reset-scope").click()
        expect(page.locator(f'section.scope[data-scope="session:{SESSION}"]')).to_have_count(0)
        again = live_proxy.request("GET", f"/users/{created['id']}", headers={"X-Mimic-Session": SESSION})
        assert again.json().get("name") != "Twin Ada"  # forgotten: the model answers again
        assert page.js_errors == []
    finally:
        live_proxy.api("PUT", "/api/mode", json={"mode": "learn"})

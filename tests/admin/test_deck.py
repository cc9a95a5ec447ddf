"""Control deck: the page, the status / mode / target API (which proxy command runs with which argument),
errors as JSON, and the live WebSocket stream."""
from __future__ import annotations

import re

import pytest
from admin.conftest import HOSTILE, RecordingControl
from starlette.websockets import WebSocketDisconnect

from admin_app.deck import check_target, summarize_health


def not_running(control: RecordingControl) -> None:
    """Make the control answer like a standalone admin with no proxy on its store."""
    async def status() -> dict:
        return {**control.state, "proxy": "not running", "alive": False}

    control.status = status  # type: ignore[method-assign]


def assert_csp_clean(html: str) -> None:
    """Nothing a strict Content-Security-Policy would block: no inline script, handler or style."""
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", html, re.IGNORECASE), "inline event handler"
    assert not re.search(r"<[^>]*\sstyle\s*=", html, re.IGNORECASE), "style attribute"
    assert not re.search(r'(src|href)="(https?:)?//', html), "an asset from another origin"


# -- page --------------------------------------------------------------------------------------------------
def test_deck_page_shows_status_switches_health_and_live_table(client, admin_env):
    admin_env.control.state.update(mode="failover", target="http://127.0.0.1:9001", chaos_profile="slow")
    r = client.get("/deck")
    assert r.status_code == 200
    html = r.text
    assert '<input type="radio" name="mode" value="failover" checked>' in html
    for mode in ("learn", "mock", "record", "replay", "passthrough"):
        assert f'value="{mode}"' in html
    assert 'id="status-target">http://127.0.0.1:9001<' in html
    assert '<option value="slow" selected>slow</option>' in html  # built-in profiles offered, active one selected
    assert 'id="status-proxy"' in html and ">embedded<" in html
    assert re.search(r'id="health-score">\d+\.\d<', html)
    assert 'id="live-rows"' in html and "/static/deck.js" in html
    assert_csp_clean(html)


def test_deck_needs_a_session(anon):
    r = anon.get("/deck", follow_redirects=False)
    assert r.status_code in (302, 303, 401, 403)
    assert 'id="live-rows"' not in r.text


def test_health_summary_counts_bands_and_lists_the_worst_first():
    health = {"score": 71.5, "status": "DEGRADED", "endpoints": [
        {"host": "a", "method": "GET", "template": "/x", "score": 40.0, "status": "CRITICAL", "reasons": ["error spike"]},
        {"host": "a", "method": "GET", "template": "/y", "score": 75.0, "status": "DEGRADED", "reasons": []},
        {"host": "a", "method": "GET", "template": "/z", "score": 100.0, "status": "HEALTHY", "reasons": []}]}
    s = summarize_health(health)
    assert s["status"] == "DEGRADED" and s["score"] == 71.5 and s["endpoints"] == 3
    assert s["by_status"] == {"CRITICAL": 1, "DEGRADED": 1, "HEALTHY": 1}
    assert [e["template"] for e in s["worst"]] == ["/x", "/y"]


# -- status ------------------------------------------------------------------------------------------------
def test_status_reports_the_control_status(client, admin_env):
    admin_env.control.state.update(mode="mock", target="http://10.0.0.1:8000", chaos_profile="flaky")
    body = client.get("/api/status").json()
    assert body["mode"] == "mock" and body["target"] == "http://10.0.0.1:8000" and body["chaos_profile"] == "flaky"
    assert body["proxy"] == "embedded" and body["alive"] is True


def test_status_needs_a_session(anon):
    assert anon.get("/api/status").status_code in (401, 403)


# -- mode --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["learn", "mock", "failover", "record", "replay", "passthrough"])
def test_put_mode_runs_the_mode_command(client, admin_env, mode):
    r = client.put("/api/mode", json={"mode": mode})
    assert r.status_code == 200 and r.json() == {"mode": mode}
    assert admin_env.control.calls == [("mimic.mode.set", mode)]


@pytest.mark.parametrize("body", [{"mode": "chaos"}, {"mode": None}, {}, ["mock"], "mock"])
def test_put_mode_refuses_what_is_not_a_mode(client, admin_env, body):
    r = client.put("/api/mode", json=body)
    assert r.status_code == 400 and r.json()["error"]
    assert admin_env.control.calls == []


def test_put_mode_refuses_a_body_that_is_not_json(client, admin_env):
    r = client.put("/api/mode", content=b"mode=mock", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and "JSON" in r.json()["error"]
    assert admin_env.control.calls == []


def test_a_refused_command_is_409_with_its_message(client, admin_env):
    admin_env.control.fail = "mode must be one of learn, mock"
    r = client.put("/api/mode", json={"mode": "mock"})
    assert r.status_code == 409
    assert r.json() == {"error": "mode must be one of learn, mock"}


def test_no_proxy_to_run_the_command_is_503(client, admin_env):
    not_running(admin_env.control)
    admin_env.control.fail = "no proxy picked the command up: is a Mimic proxy running on this store?"
    r = client.put("/api/mode", json={"mode": "mock"})
    assert r.status_code == 503 and "no proxy" in r.json()["error"]


def test_put_mode_without_csrf_token_changes_nothing(client, admin_env):
    r = client.put("/api/mode", json={"mode": "mock"}, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    assert admin_env.control.calls == []


# -- target ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("url, sent", [("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
                                       ("https://api.example.com/", "https://api.example.com"),
                                       ("  http://[::1]:8001  ", "http://[::1]:8001"),
                                       ("", ""), (None, "")])
def test_put_target_runs_the_target_command(client, admin_env, url, sent):
    r = client.put("/api/target", json={"url": url})
    assert r.status_code == 200 and r.json() == {"target": sent}
    assert admin_env.control.calls == [("mimic.target.set", sent)]


@pytest.mark.parametrize("url", ["ftp://example.com", "example.com:80", "http://", "http://h:99999",
                                 "http://h/api/v1", "http://h?x=1", "http://user:pw@h", 42])
def test_put_target_refuses_what_is_not_a_target(client, admin_env, url):
    r = client.put("/api/target", json={"url": url})
    assert r.status_code == 400 and r.json()["error"]
    assert admin_env.control.calls == []


def test_check_target_keeps_the_port():
    assert check_target("http://127.0.0.1:8001/") == "http://127.0.0.1:8001"


# -- live stream -------------------------------------------------------------------------------------------
LIVE = "ws://127.0.0.1:8081/ws/live"
EVENT = {"id": 7, "ts": 1_700_000_000.5, "method": "GET", "host": "api.example.com", "path": "/v1/users/3",
         "template": "/v1/users/{user_id}", "status": 200, "latency_ms": 12.5, "source": "mock",
         "health": "HEALTHY", "session": "client:127.0.0.1"}


def test_live_socket_sends_every_event_as_json_and_unsubscribes_on_close(client, admin_env):
    hub = admin_env.hub
    with client.websocket_connect(LIVE, headers={"Origin": "http://127.0.0.1:8081"}) as ws:
        assert len(hub.viewers) == 1  # subscribed before the socket opened: nothing published now is lost
        hostile = {**EVENT, "id": 8, "path": "/v1/" + HOSTILE, "source": "upstream"}
        ws.portal.call(hub.publish, EVENT)
        ws.portal.call(hub.publish, hostile)
        assert ws.receive_json() == EVENT
        assert ws.receive_json() == hostile  # sent as data; deck.js renders it as text
    assert len(hub.viewers) == 0


def test_live_socket_needs_a_session(anon, admin_env):
    with pytest.raises(WebSocketDisconnect), anon.websocket_connect(LIVE, headers={"Origin": "http://127.0.0.1:8081"}) as ws:
        ws.receive_json()
    assert len(admin_env.hub.viewers) == 0


@pytest.mark.parametrize("path", ["/deck", "/inspector", "/chaos", "/state", "/inspector/1"])
def test_section_pages_need_nothing_a_strict_csp_blocks(client, path):
    r = client.get(path)
    assert r.status_code in (200, 404) and "<main>" in r.text
    assert_csp_clean(r.text)

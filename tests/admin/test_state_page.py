"""State section: twin data read from the store in the format the proxy writes (made here by the real
TwinState), shown as escaped JSON text, paged, and reset through `mimic.state.reset`."""
from __future__ import annotations

import random

import pytest
from admin.conftest import HOSTILE

from mimic_addon.serve.twins import Collection, TwinState, apply
from mimic_addon.serve.twins_addon import KEY_SCOPE, KEY_SCOPES

USERS = Collection("api.example.com /v1/users", "/v1/users", "/v1/users/{user_id}", "id", "int", id_max=7)


def write_twins(store, state: TwinState) -> None:
    """Save twin state the way ServeExtras does: one setting per scope, and the list of scopes."""
    changed, dropped = state.take_changes()
    for scope in dropped - set(changed):
        store.put_setting(KEY_SCOPE + scope, None)
    for scope, data in changed.items():
        store.put_setting(KEY_SCOPE + scope, data)
    store.put_setting(KEY_SCOPES, list(state.scopes))


@pytest.fixture
def twins(admin_env) -> TwinState:
    state = TwinState()
    rng = random.Random(0)
    created = apply(state, "session:alice", USERS, "POST", False, None, {"name": HOSTILE}, {}, 201,
                    {"id": 1, "name": "Ada"}, rng)
    assert created is not None and created.op == "create"
    apply(state, "session:alice", USERS, "DELETE", True, "3", None, {}, 204, None, rng)
    state.kv("session:alice").set("greeting", HOSTILE)
    apply(state, "client:127.0.0.1", USERS, "POST", False, None, {"name": "Bob"}, {}, 201, {"id": 1}, rng)
    write_twins(admin_env.store, state)
    return state


def test_api_lists_scopes_most_recent_first_with_items_deleted_ids_and_kv(client, twins):
    body = client.get("/api/state").json()
    assert body["total"] == 2 and body["offset"] == 0
    client_scope, alice = body["items"]
    assert client_scope["scope"] == "client:127.0.0.1" and client_scope["kind"] == "client"
    assert alice["scope"] == "session:alice" and alice["kind"] == "session" and alice["name"] == "alice"
    [users] = alice["collections"]
    assert users["host"] == "api.example.com" and users["base"] == "/v1/users"
    assert users["items"] == [{"id": 8, "name": HOSTILE}] and users["ids"] == ["8"]  # ids after the learned max 7
    assert users["deleted"] == ["3"] and users["created"] == 1
    assert alice["kv"] == {"greeting": HOSTILE}


def test_api_pages_and_filters(client, twins):
    page = client.get("/api/state?offset=1&limit=1").json()
    assert page["total"] == 2 and [s["scope"] for s in page["items"]] == ["session:alice"]
    one = client.get("/api/state", params={"scope": "client:127.0.0.1"}).json()
    assert one["total"] == 1 and one["items"][0]["collections"][0]["items"] == [{"id": 8, "name": "Bob"}]


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "offset=-1", "limit=x"])
def test_api_refuses_bad_paging(client, query):
    r = client.get("/api/state?" + query)
    assert r.status_code == 400 and r.json()["error"]


def test_empty_state(client):
    assert client.get("/api/state").json() == {"items": [], "total": 0, "offset": 0, "limit": 20}
    html = client.get("/state").text
    assert 'id="state-empty"' in html and 'id="reset-all"' not in html


def test_page_shows_items_as_escaped_json_text(client, twins):
    r = client.get("/state")
    assert r.status_code == 200
    html = r.text
    assert HOSTILE not in html
    assert "&#34;name&#34;: &#34;&lt;img src=x onerror=alert(1)&gt;&#34;" in html  # the item, as JSON text
    assert "&#34;greeting&#34;: &#34;&lt;img src=x onerror=alert(1)&gt;&#34;" in html  # the key/value store
    assert 'data-scope="session:alice"' in html and 'data-scope="client:127.0.0.1"' in html
    assert "Deleted ids: <code>3</code>" in html
    assert 'id="reset-all"' in html and "/static/state.js" in html


@pytest.mark.parametrize("session, args", [("session:alice", ("session:alice",)), ("alice", ("session:alice",)),
                                           ("client:10.0.0.2", ("client:10.0.0.2",)), (None, ())])
def test_reset_sends_the_scope(client, admin_env, session, args):
    r = client.post("/api/state/reset", json={"session": session})
    assert r.status_code == 200 and r.json()["reset"] == (args[0] if args else None)
    assert admin_env.control.calls == [("mimic.state.reset", *args)]


@pytest.mark.parametrize("body", [{"session": 3}, {"session": "  "}, {"session": "x" * 300}, ["alice"]])
def test_reset_refuses_what_is_not_a_scope(client, admin_env, body):
    r = client.post("/api/state/reset", json=body)
    assert r.status_code == 400
    assert admin_env.control.calls == []


def test_reset_refused_by_the_proxy_is_409(client, admin_env):
    admin_env.control.fail = "boom"
    r = client.post("/api/state/reset", json={"session": None})
    assert r.status_code == 409 and r.json() == {"error": "boom"}


def test_state_after_a_reset_written_by_the_proxy(client, admin_env, twins):
    twins.reset("session:alice")
    write_twins(admin_env.store, twins)
    assert [s["scope"] for s in client.get("/api/state").json()["items"]] == ["client:127.0.0.1"]

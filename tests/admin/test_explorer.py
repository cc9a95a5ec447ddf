"""Explorer pages and the JSON API for endpoints, overrides, per-endpoint mode, drift, health and exports."""
from __future__ import annotations

import json

import pytest
from admin.conftest import HOSTILE, TOKEN, obs

from admin_app.control import ControlError
from mimic_addon.learn.brain import Brain
from mimic_addon.learn.learner import Learner
from mimic_addon.store import Store

USER = "/v1/users/{user_id}"
HOSTED = f"api.example.com{USER}"  # the key of this host's endpoint (endpoint_keys)
ORDER = "/v1/orders/{order_id}"


def ids(client) -> dict[str, int]:
    """`METHOD /template` -> endpoint id."""
    return {f"{e['method']} {e['template']}": e["id"] for e in client.get("/api/endpoints?limit=500").json()["items"]}


def learn_more(db: str, batch: list) -> None:
    """Learn more traffic into the fixture's store, on top of what it holds (as a proxy restarted on it would)."""
    store = Store(db)
    brain = Brain()
    snapshot = store.load()
    snapshot["alerts"] = store.load_alerts()
    brain.load(snapshot)
    learner = Learner(brain, store)
    learner.report = lambda *a: None
    learner.learn_batch(batch)
    assert learner.flush()
    store.close()


@pytest.fixture
def drifted(admin_env) -> str:
    """Orders whose `total` was a number 60 times, then arrives as a string: one open BREAKING alert."""
    ok = [obs("GET", f"/v1/orders/{i}", 200, {"id": i, "total": 1.5 + i, "currency": "EUR"}) for i in range(1, 61)]
    bad = [obs("GET", f"/v1/orders/{i}", 200, {"id": i, "total": "12.50", "currency": "EUR"}) for i in range(61, 64)]
    learn_more(admin_env.db, ok + bad)
    alerts = admin_env.store.load_alerts()
    assert len(alerts) == 1 and alerts[0]["label"] == "BREAKING"
    return alerts[0]["id"]


class NoProxy:
    """A control with no proxy behind it (standalone admin, nothing running on the store)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    async def call(self, command: str, *args: str) -> str:
        self.calls.append((command, *args))
        raise ControlError("no proxy picked the command up: is a Mimic proxy running on this store?")

    async def status(self) -> dict:
        return {"mode": None, "proxy": "not running", "alive": False}


@pytest.fixture
def offline(admin_env) -> NoProxy:
    control = NoProxy()
    admin_env.app.state.ctx.control = control
    return control


# -- list, search, pagination -----------------------------------------------------------------------------
def test_list_has_every_endpoint_with_display_templates(client):
    page = client.get("/api/endpoints").json()
    assert page["total"] == 3 and page["offset"] == 0 and page["limit"] == 50
    by_key = {f"{e['method']} {e['template']}": e for e in page["items"]}
    assert set(by_key) == {"GET /v1/users", "POST /v1/users", f"GET {USER}"}
    user = by_key[f"GET {USER}"]
    assert user["count"] == 8 and user["skeleton"] == "/v1/users/{}" and user["host"] == "api.example.com"
    assert user["health"]["status"] == "HEALTHY" and user["alerts_open"] == 0 and user["mode"] is None


SEARCHES = [
    ("q={user_id}", {f"GET {USER}"}),                  # a named parameter matches the stored {}
    ("q=post", {"POST /v1/users"}),                    # a method word matches the method
    ("q=GET users", {"GET /v1/users", f"GET {USER}"}),  # every word must match
    ("q=EXAMPLE.COM", {"GET /v1/users", "POST /v1/users", f"GET {USER}"}),  # host, case-insensitive
    ("method=post", {"POST /v1/users"}),
    ("host=api.example.com&q=users/", {f"GET {USER}"}),
    ("q=users%25", set()),                             # LIKE wildcards are literal: % and _
    ("q=v_", set()),
    ("q=nothing-like-this", set()),
    ("host=other.example.com", set()),
]


def test_search(client):
    for params, expected in SEARCHES:
        page = client.get(f"/api/endpoints?{params}").json()
        assert {f"{e['method']} {e['template']}" for e in page["items"]} == expected, params
        assert page["total"] == len(expected), params


def test_pagination_pages_and_sorts(client, admin_env):
    first = client.get("/api/endpoints?limit=2").json()
    last = client.get("/api/endpoints?limit=2&offset=2").json()
    beyond = client.get("/api/endpoints?limit=2&offset=10").json()
    assert [len(first["items"]), len(last["items"]), len(beyond["items"])] == [2, 1, 0]
    assert first["total"] == last["total"] == beyond["total"] == 3
    assert len({e["id"] for e in first["items"] + last["items"]}) == 3
    by_count = client.get("/api/endpoints?sort=count").json()["items"]
    assert by_count[0]["template"] == USER and by_count[0]["count"] == 8


def test_bad_list_parameters_are_400(client):
    for params in ("limit=0", "limit=501", "limit=ten", "offset=-1", "offset=1.5", "sort=random", "method=G%20T"):
        r = client.get(f"/api/endpoints?{params}")
        assert r.status_code == 400 and r.json()["error"], params


def test_list_page(client):
    html = client.get("/explorer?q=users").text
    assert 'href="/explorer/' in html and "/v1/users/{user_id}" in html and "3 endpoints" in html
    empty = client.get("/explorer?q=nothing-like-this")
    assert empty.status_code == 200 and "No endpoint matches" in empty.text
    bad = client.get("/explorer?limit=0")
    assert bad.status_code == 400 and "limit must be between 1 and 500" in bad.text


def test_list_page_paginates_with_links_keeping_the_search(client):
    html = client.get("/explorer?q=users&limit=2").text
    assert "page 1 of 2" in html and 'href="/explorer?q=users&amp;offset=2&amp;limit=2"' in html
    assert "page 2 of 2" in client.get("/explorer?q=users&limit=2&offset=2").text


def test_everything_needs_a_session(anon, admin_env):
    assert anon.get("/api/endpoints").status_code == 401
    assert anon.get("/api/health").status_code == 401
    assert anon.get("/api/exports/openapi").status_code == 401
    assert anon.get("/explorer", follow_redirects=False).status_code in (302, 303, 307)
    assert anon.put("/api/endpoints/1/mode", json={"mode": "mock"}).status_code in (401, 403)
    assert admin_env.control.calls == []


def test_a_state_change_without_the_csrf_token_is_refused(client, admin_env):
    eid = ids(client)[f"GET {USER}"]
    r = client.put(f"/api/endpoints/{eid}/mode", json={"mode": "mock"}, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403 and admin_env.control.calls == []


# -- one endpoint -----------------------------------------------------------------------------------------
def test_detail(client):
    eid = ids(client)[f"GET {USER}"]
    ep = client.get(f"/api/endpoints/{eid}").json()
    assert (ep["method"], ep["template"], ep["host"]) == ("GET", USER, "api.example.com")
    assert ep["params"] == [{"name": "user_id", "kind": "int", "schema": {"type": "integer"}}]
    ok = ep["responses"]["200"]["schema"]
    assert ok["properties"]["email"]["format"] == "email" and "id" in ok["required"]
    assert ep["responses"]["404"]["example"] == {"error": "not found"}
    stats = ep["stats"]
    assert stats["statuses"] == {"200": 7, "404": 1} and stats["count"] == 8
    assert sum(b["count"] for b in stats["histogram"]) == 8 and stats["latency"]["p50"] is not None
    assert ep["health"]["status"] == "HEALTHY" and ep["alerts"] == [] and ep["mode"] is None
    assert ep["sample_request"]["path"] == "/v1/users/1" and ep["sample_request"]["params"] == {"user_id": "1"}


def test_detail_of_a_request_body(client):
    ep = client.get(f"/api/endpoints/{ids(client)['POST /v1/users']}").json()
    assert ep["request"]["schema"]["properties"]["name"]["type"] == "string"
    assert ep["sample_request"]["body"] == {"name": "Ada"}


def test_unknown_endpoint_is_404(client):
    assert client.get("/api/endpoints/999999").status_code == 404
    assert client.get("/explorer/999999").status_code == 404
    page = client.get("/explorer/abc<b>x</b>")  # (not a number: the explorer's page too, the value as text)
    assert page.status_code == 404 and "No such endpoint" in page.text and "<b>x</b>" not in page.text


def test_endpoint_page_shows_schema_charts_and_escapes_learned_strings(client):
    eid = ids(client)[f"GET {USER}"]
    r = client.get(f"/explorer/{eid}")
    assert r.status_code == 200
    html = r.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in html   # the hostile key and value, as text
    assert "<img src=x" not in html and "onerror=alert(1)>" not in html
    assert 'class="field-name"' in html and ">email<" in html   # the field table
    assert '<svg class="chart"' in html and "<title>200: 7</title>" in html  # status mix
    assert "Latency histogram" in html and "style=" not in html and "<script>" not in html


def test_a_latency_spike_shows_on_the_page_and_in_the_health(client, admin_env):
    learn_more(admin_env.db, [obs("GET", "/v1/slow", 200, {"ok": True}, latency=10.0 + i % 3) for i in range(60)]
               + [obs("GET", "/v1/slow", 200, {"ok": True}, latency=200.0) for _ in range(9)])
    eid = ids(client)["GET /v1/slow"]
    ep = client.get(f"/api/endpoints/{eid}").json()
    flags = ep["health"]["flags"]
    assert flags["latency"] and flags["latency_ratio"] == pytest.approx(200 / 11, rel=0.05)  # (histogram buckets)
    ratio = flags["latency_ratio"]
    note = f"recent median {ratio:.3g}x the usual; threshold 1.5x"
    assert ep["health"]["reasons"] == [f"latency spike ({note})"] and ep["health"]["checks"]["latency"] == note
    assert f"<td>{note}</td>" in client.get(f"/explorer/{eid}").text


def test_a_size_drift_shows_on_the_page_and_in_the_health(client, admin_env):
    learn_more(admin_env.db, [obs("GET", "/v1/page", 200, {"items": ["x" * 60] * (20 + i % 3)}) for i in range(60)]
               + [obs("GET", "/v1/page", 200, {"items": []}) for _ in range(9)])
    eid = ids(client)["GET /v1/page"]
    health = client.get(f"/api/endpoints/{eid}").json()["health"]
    flags = health["flags"]
    assert flags["size"] and 0.005 < flags["size_ratio"] < 0.02 and flags["size_threshold"] == 3.0
    ratio = flags["size_ratio"]
    note = f"recent median {ratio:.3g}x the usual; threshold 3.0x either way"
    assert health["reasons"] == [f"response size: {note}"] and health["checks"]["size"] == note
    assert f"<td>{note}</td>" in client.get(f"/explorer/{eid}").text


def test_the_checks_show_on_the_page_while_nothing_drifts(client, admin_env):
    learn_more(admin_env.db, [obs("GET", "/v1/steady", 200, {"items": ["x" * 60] * (20 + i % 3)}) for i in range(60)])
    eid = ids(client)["GET /v1/steady"]
    health = client.get(f"/api/endpoints/{eid}").json()["health"]
    assert not health["flags"]["size"] and health["flags"]["size_window"] == 0
    page = client.get(f"/explorer/{eid}").text
    assert f"<td>{health['checks']['size']}</td>" in page and "the usual; threshold 3.0x either way (or 5" in page
    assert f"<td>{health['checks']['latency']}</td>" in page and "the usual; threshold 1.5x (or 5" in page


def test_lone_surrogates_in_learned_data_do_not_break_pages(client, admin_env):
    learn_more(admin_env.db, [obs("GET", "/v1/odd", 200, {"\ud800key": "value\udfff"})])
    eid = ids(client)["GET /v1/odd"]
    assert client.get(f"/api/endpoints/{eid}").status_code == 200
    page = client.get(f"/explorer/{eid}")
    assert page.status_code == 200 and "\ufffdkey" in page.text


# -- per-endpoint mode ------------------------------------------------------------------------------------
def test_mode_change_runs_the_proxy_command(client, admin_env):
    eid = ids(client)[f"GET {USER}"]
    r = client.put(f"/api/endpoints/{eid}/mode", json={"mode": "mock"})
    assert r.status_code == 200 and r.json()["applied"] == "proxy"
    assert admin_env.control.calls == [("mimic.mode.endpoint", "GET", HOSTED, "mock")]  # this host's only
    client.put(f"/api/endpoints/{eid}/mode", json={"mode": "inherit"})
    assert admin_env.control.calls[-1] == ("mimic.mode.endpoint", "GET", HOSTED, "inherit")


def test_bad_mode_is_400_and_a_refusal_409(client, admin_env):
    eid = ids(client)[f"GET {USER}"]
    assert client.put(f"/api/endpoints/{eid}/mode", json={"mode": "teleport"}).status_code == 400
    assert client.put(f"/api/endpoints/{eid}/mode", json={}).status_code == 400
    assert client.put(f"/api/endpoints/{eid}/mode", content=b"not json").status_code == 400
    assert admin_env.control.calls == []
    admin_env.control.fail = "mode must be one of ..."
    r = client.put(f"/api/endpoints/{eid}/mode", json={"mode": "mock"})
    assert r.status_code == 409 and r.json()["error"] == "mode must be one of ..."


def test_mode_without_a_proxy_is_saved_in_the_store(client, admin_env, offline):
    eid = ids(client)[f"GET {USER}"]
    r = client.put(f"/api/endpoints/{eid}/mode", json={"mode": "failover"})
    assert r.status_code == 200 and r.json()["applied"] == "store" and "no proxy" in r.json()["message"]
    assert offline.calls == []  # not even tried: status said nobody runs it
    assert admin_env.store.get_setting("serve.endpoint_modes") == {f"GET {HOSTED}": "failover"}
    row = next(e for e in client.get("/api/endpoints").json()["items"] if e["id"] == eid)
    assert row["mode"] == "failover"
    client.put(f"/api/endpoints/{eid}/mode", json={"mode": "inherit"})
    assert admin_env.store.get_setting("serve.endpoint_modes") == {}


# -- overrides --------------------------------------------------------------------------------------------
def test_override_set_runs_the_proxy_command_with_the_spec(client, admin_env):
    eid = ids(client)[f"GET {USER}"]
    text = "status: 201\ntemplate: '{\"id\": {{ request.params.user_id }}}'\n"
    r = client.put(f"/api/endpoints/{eid}/override", json={"text": text})
    assert r.status_code == 200, r.text
    command, method, template, spec = admin_env.control.calls[-1]
    assert (command, method, template) == ("mimic.override.set", "GET", HOSTED)
    assert json.loads(spec) == {"status": 201, "template": '{"id": {{ request.params.user_id }}}'}


def test_invalid_override_is_400_and_not_sent(client, admin_env):
    eid = ids(client)[f"GET {USER}"]
    for body in ({"text": "status: 200"}, {"spec": {"body": 1, "template": "x"}}, {"spec": {"template": "{% if %}"}},
                 {"text": "{ not: [yaml"}, {}):
        r = client.put(f"/api/endpoints/{eid}/override", json=body)
        assert r.status_code == 400 and r.json()["error"], body
    assert admin_env.control.calls == []


def test_override_offline_get_and_clear(client, admin_env, offline):
    eid = ids(client)[f"GET {USER}"]
    assert client.get(f"/api/endpoints/{eid}/override").json() == {"key": f"GET {HOSTED}", "spec": None}
    assert client.delete(f"/api/endpoints/{eid}/override").status_code == 404
    r = client.put(f"/api/endpoints/{eid}/override", json={"spec": {"body": {"pinned": True}}})
    assert r.json()["applied"] == "store"
    assert client.get(f"/api/endpoints/{eid}/override").json()["spec"] == {"body": {"pinned": True}}
    assert client.get(f"/api/endpoints/{eid}").json()["override"] == {"body": {"pinned": True}}
    assert client.delete(f"/api/endpoints/{eid}/override").json()["applied"] == "store"
    assert admin_env.store.get_setting("serve.overrides") == {}


def test_clear_override_runs_the_proxy_command(client, admin_env):
    eid = ids(client)[f"GET {USER}"]
    admin_env.store.put_setting("serve.overrides", {f"GET {USER}": {"body": 1}})  # every host's (a command's)
    assert client.delete(f"/api/endpoints/{eid}/override").status_code == 200
    assert admin_env.control.calls == [("mimic.override.clear", "GET", USER)]  # the one in effect goes


def test_override_preview_renders_against_a_sample_request(client, admin_env):
    eid = ids(client)[f"GET {USER}"]
    spec = {"status": 202, "template": '{"id": {{ request.params.user_id }}, "path": "{{ request.path }}", '
                                       '"n": {{ random_int(1, 1) }}, "name": {{ fake.name() | tojson }}}'}
    r = client.post(f"/api/endpoints/{eid}/override/preview", json={"spec": spec})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["ok"] and out["error"] is None and out["status"] == 202 and out["content_type"] == "application/json"
    body = json.loads(out["body"])
    assert body["id"] == 1 and body["path"] == "/v1/users/1" and body["n"] == 1 and body["name"]
    again = client.post(f"/api/endpoints/{eid}/override/preview", json={"spec": spec}).json()
    assert again["body"] == out["body"]  # seeded like the proxy: same request, same answer
    mine = client.post(f"/api/endpoints/{eid}/override/preview",
                       json={"spec": spec, "request": {"params": {"user_id": "42"}, "path": "/v1/users/42"}}).json()
    assert json.loads(mine["body"])["id"] == 42
    assert admin_env.control.calls == []  # previews never touch the proxy


def test_override_preview_reports_template_errors(client):
    eid = ids(client)[f"GET {USER}"]
    undefined = client.post(f"/api/endpoints/{eid}/override/preview", json={"text": "template: '{{ nope.x }}'"}).json()
    assert undefined["ok"] is False and "nope" in undefined["error"] and undefined["status"] == 500
    escape = client.post(f"/api/endpoints/{eid}/override/preview",
                         json={"spec": {"template": "{{ ''.__class__.__mro__ }}"}}).json()
    assert escape["ok"] is False and "SecurityError" in escape["error"]
    syntax = client.post(f"/api/endpoints/{eid}/override/preview", json={"spec": {"template": "{% for %}"}})
    assert syntax.status_code == 400 and "template" in syntax.json()["error"]


def test_override_preview_of_variants_and_bodies(client):
    eid = ids(client)[f"GET {USER}"]
    body = client.post(f"/api/endpoints/{eid}/override/preview",
                       json={"spec": {"body": {"x": HOSTILE}, "headers": {"X-Test": "1"}}}).json()
    assert body["ok"] and json.loads(body["body"]) == {"x": HOSTILE} and body["headers"] == {"X-Test": "1"}
    variants = client.post(f"/api/endpoints/{eid}/override/preview",
                           json={"spec": {"variants": [{"weight": 0, "status": 500, "body": "down"},
                                                       {"weight": 1, "status": 200, "body": {"ok": True}}]}}).json()
    assert variants["status"] == 200 and variants["variant"].endswith("#1")


# -- drift ------------------------------------------------------------------------------------------------
def test_drift_list_with_narration(client, drifted):
    page = client.get("/api/drift?unresolved=1").json()
    assert page["total"] == 1
    alert = page["items"][0]
    assert alert["id"] == drifted and alert["label"] == "BREAKING" and alert["template"] == ORDER
    assert "total" in alert["narration"] and alert["changes"][0]["impact"] and "pending" not in alert
    assert alert["endpoint_id"] == ids(client)[f"GET {ORDER}"]
    assert client.get("/api/drift?limit=0").status_code == 400


def test_drift_shows_on_the_list_detail_health_and_page(client, drifted):
    eid = ids(client)[f"GET {ORDER}"]
    row = next(e for e in client.get("/api/endpoints?q=orders").json()["items"] if e["id"] == eid)
    assert row["alerts_open"] == 1 and row["health"]["score"] == 80.0  # -20: unresolved breaking drift
    ep = client.get(f"/api/endpoints/{eid}").json()
    assert [a["id"] for a in ep["alerts"]] == [drifted] and "unresolved breaking drift" in ep["health"]["reasons"]
    html = client.get(f"/explorer/{eid}").text
    assert f'data-alert-id="{drifted}"' in html and 'data-resolution="expected"' in html and "Raw alert" in html


def test_resolve_runs_the_proxy_command(client, admin_env, drifted):
    r = client.post(f"/api/drift/{drifted}/resolve", json={"resolution": "fixed"})
    assert r.status_code == 200 and r.json()["applied"] == "proxy"
    assert admin_env.control.calls == [("mimic.drift.resolve", drifted, "fixed")]


def test_resolve_errors(client, admin_env, drifted):
    assert client.post(f"/api/drift/{drifted}/resolve", json={"resolution": "ignored"}).status_code == 400
    assert client.post("/api/drift/nope/resolve", json={"resolution": "fixed"}).status_code == 404
    assert admin_env.control.calls == []


def test_resolve_without_a_proxy_resolves_in_the_store(client, admin_env, drifted, offline):
    r = client.post(f"/api/drift/{drifted}/resolve", json={"resolution": "expected"})
    assert r.status_code == 200 and r.json()["applied"] == "store"
    alert = next(a for a in admin_env.store.load_alerts() if a["id"] == drifted)
    assert alert["resolved"] and alert["resolution"] == "expected"
    # "expected": what was withheld joined the learned schema, so `total` may now be a string too
    ep = client.get(f"/api/endpoints/{ids(client)[f'GET {ORDER}']}").json()
    assert "string" in ep["responses"]["200"]["schema"]["properties"]["total"]["type"]
    assert ep["health"]["status"] == "HEALTHY"
    again = client.post(f"/api/drift/{drifted}/resolve", json={"resolution": "fixed"})
    assert again.status_code == 409 and "already resolved" in again.json()["error"]
    assert client.get("/api/drift?unresolved=1").json()["total"] == 0


# -- health -----------------------------------------------------------------------------------------------
def test_health_is_what_the_brain_says(client, admin_env, drifted):
    health = client.get("/api/health").json()
    store = Store(admin_env.db)
    brain = Brain()
    snapshot = store.load()
    snapshot["alerts"] = store.load_alerts()
    brain.load(snapshot)
    store.close()
    expected = brain.health()
    assert (health["score"], health["status"], health["band"]) == (expected["score"], expected["status"],
                                                                    expected["status"])
    assert [(e["method"], e["template"], e["score"], e["reasons"], e["alerts"]) for e in health["endpoints"]] == \
        [(e["method"], e["template"], e["score"], e["reasons"], e["alerts"]) for e in expected["endpoints"]]
    assert health["endpoints"][0]["template"] == ORDER  # worst first
    assert len(client.get("/api/health?limit=1").json()["endpoints"]) == 1
    assert client.get("/api/health?limit=x").status_code == 400


# -- types and exports ------------------------------------------------------------------------------------
def test_endpoint_types(client):
    eid = ids(client)[f"GET {USER}"]
    schema = client.get(f"/api/endpoints/{eid}/types/jsonschema")
    assert schema.status_code == 200 and "GetV1UsersByUserIdResponse200" in json.loads(schema.text)["$defs"]
    ts = client.get(f"/api/endpoints/{eid}/types/typescript?download=1")
    assert ts.status_code == 200 and "export interface" in ts.text
    assert ts.headers["content-disposition"] == 'attachment; filename="get_v1_users_user_id.ts"'
    assert client.get(f"/api/endpoints/{eid}/types/cobol").status_code == 404


def test_endpoint_page_shows_its_json_schema_in_the_types_panel(client):
    html = client.get(f"/explorer/{ids(client)[f'GET {USER}']}").text
    assert 'id="types-out"' in html and "GetV1UsersByUserIdResponse200" in html
    assert 'data-kind="typescript"' in html and 'data-kind="pydantic"' in html


def test_exports_list_and_download(client):
    listing = client.get("/api/exports").json()
    assert {"openapi", "jsonschema", "typescript"} <= set(listing["kinds"]) and listing["hosts"] == ["api.example.com"]
    r = client.get("/api/exports/openapi")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.headers["content-disposition"] == 'attachment; filename="openapi.json"'
    assert USER in r.json()["paths"]
    yml = client.get("/api/exports/openapi?yaml=1&host=api.example.com")
    assert yml.headers["content-type"].startswith("application/yaml") and "openapi.yaml" in yml.headers["content-disposition"]
    ts = client.get("/api/exports/typescript")
    assert ts.status_code == 200 and "export interface" in ts.text


def test_export_errors(client):
    assert client.get("/api/exports/cobol").status_code == 404
    assert client.get("/api/exports/openapi?host=nowhere.example").status_code == 404


def test_bearer_token_scripts_need_no_csrf(anon, admin_env):
    r = anon.put("/api/endpoints/3/mode", json={"mode": "mock"}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code in (200, 404)


def test_api_routes_are_in_the_admin_openapi(client):
    doc = client.get("/api/openapi.json").json()
    paths = doc["paths"]
    for path, method in (("/api/endpoints", "get"), ("/api/endpoints/{id}", "get"), ("/api/endpoints/{id}/mode", "put"),
                         ("/api/endpoints/{id}/override", "delete"), ("/api/endpoints/{id}/override/preview", "post"),
                         ("/api/drift/{alert_id}/resolve", "post"), ("/api/health", "get"),
                         ("/api/exports/{kind}", "get")):
        assert paths[path][method]["summary"], (path, method)


# -- PostgreSQL: the same queries on the teams' store ---------------------------------------------------------
@pytest.mark.postgres
def test_explorer_api_on_postgresql(pg_url):
    from admin.conftest import RecordingControl, seed
    from starlette.testclient import TestClient

    from admin_app.app import create_app
    from admin_app.settings import AdminSettings

    seed(pg_url)
    store = Store(pg_url)
    try:
        app = create_app(AdminSettings(token=TOKEN), store, RecordingControl())
        with TestClient(app, base_url="http://127.0.0.1:8081", headers={"Authorization": f"Bearer {TOKEN}"}) as c:
            for params, expected in SEARCHES:  # ILIKE there: case-insensitive, wildcards literal
                got = {f"{e['method']} {e['template']}" for e in c.get(f"/api/endpoints?{params}").json()["items"]}
                assert got == expected, params
            learn_more(pg_url, [obs("GET", f"/v1/orders/{i}", 200, {"id": i, "total": 1.5 + i}) for i in range(1, 61)]
                       + [obs("GET", f"/v1/orders/{i}", 200, {"id": i, "total": "12.50"}) for i in (98, 99)])
            eid = ids(c)[f"GET {ORDER}"]
            ep = c.get(f"/api/endpoints/{eid}").json()
            assert len(ep["alerts"]) == 1 and "unresolved breaking drift" in ep["health"]["reasons"]
            assert c.get("/api/health").json()["endpoints"][0]["template"] == ORDER
            assert c.get("/api/drift?unresolved=1").json()["items"][0]["endpoint_id"] == eid
            assert "&lt;img" in c.get(f"/explorer/{ids(c)[f'GET {USER}']}").text
    finally:
        store.close()

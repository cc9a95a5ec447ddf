"""Chaos section: the API validates rules with the proxy's own parser and sends the right commands; the view
combines built-in, stored and chaos-file profiles and the fire counts. The second half drives a real
ChaosAddon (in mitmproxy's test harness) through the admin app, so the command output formats the
view parses are the real ones."""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import yaml
from admin.conftest import HOSTILE, TOKEN, login, seed
from mitmproxy.test import taddons, tflow, tutils
from starlette.testclient import TestClient

from admin_app.app import create_app
from admin_app.chaos import parse_active_rules, parse_counts, parse_listing
from admin_app.control import ControlError, EmbeddedControl
from admin_app.live import LiveHub
from admin_app.settings import AdminSettings
from mimic_addon.addon import Mimic
from mimic_addon.serve.chaos_addon import KEY_COUNTS, KEY_PROFILES, ChaosAddon
from mimic_addon.store import Store

MINE = {"description": "mine", "rules": [
    {"name": "users-500", "match": {"path": "/v1/users/*", "method": ["GET"]}, "probability": 0.25,
     "error": {"status": 500}},
    {"name": "hostile", "match": {"path": "/" + HOSTILE}, "latency": {"fixed_ms": 5}}]}


def canned(control: Any, outputs: dict[str, str | Exception]) -> None:
    """Answer the listing commands with these outputs (an Exception: the command fails), record the rest."""
    record = control.call

    async def call(command: str, *args: str) -> str:
        if command in outputs:
            control.calls.append((command, *args))
            out = outputs[command]
            if isinstance(out, Exception):
                raise out
            return out
        return await record(command, *args)

    control.call = call


def changes(control: Any) -> list[tuple[str, ...]]:
    """The commands that change something (the view's own listing commands left out)."""
    reads = {"mimic.chaos.profiles", "mimic.chaos.rules", "mimic.chaos.counts"}
    return [c for c in control.calls if c[0] not in reads]


# -- reading the view ---------------------------------------------------------------------------------------
def test_view_from_the_store_when_the_proxy_cannot_answer(client, admin_env):
    admin_env.store.put_setting(KEY_PROFILES, {"mine": MINE})
    admin_env.store.put_setting(KEY_COUNTS, {"users-500": {"GET api.example.com/v1/users/{user_id}": 3}})
    canned(admin_env.control, {c: ControlError("down") for c in
                               ("mimic.chaos.profiles", "mimic.chaos.rules", "mimic.chaos.counts")})
    admin_env.control.state["chaos_profile"] = "mine"
    view = client.get("/api/chaos").json()
    names = [(p["name"], p["origin"]) for p in view["profiles"]]
    assert ("flaky", "built-in") in names and ("outage", "built-in") in names and ("mine", "stored") in names
    mine = next(p for p in view["profiles"] if p["name"] == "mine")
    assert mine["editable"] and [r["name"] for r in mine["rules"]] == ["users-500", "hostile"]
    assert mine["rules"][0]["probability"] == 0.25 and mine["rules"][0]["error"] == {"status": 500}
    assert not next(p for p in view["profiles"] if p["name"] == "flaky")["editable"]
    assert view["active"] == "mine"
    assert view["counts"] == {"users-500": {"GET api.example.com/v1/users/{user_id}": 3}}
    assert view["totals"] == {"users-500": 3} and view["counts_live"] is False


def test_view_uses_what_the_running_proxy_says(client, admin_env):
    admin_env.store.put_setting(KEY_COUNTS, {"old": {"x": 1}})  # saved a while ago: the proxy's are fresher
    canned(admin_env.control, {
        "mimic.chaos.profiles": "  flaky (built-in, 2 rules): 5% of requests\n* ci (file, 1 rules): from CI",
        "mimic.chaos.rules": 'profile ci\n{"name": "ci-503", "error": {"status": 503}}',
        "mimic.chaos.counts": "ci-503: 4\n  GET api.example.com/v1/users: 3\n  POST api.example.com/v1/users: 1",
    })
    view = client.get("/api/chaos").json()
    ci = next(p for p in view["profiles"] if p["name"] == "ci")
    assert ci["origin"] == "file" and not ci["editable"] and ci["rules"] == [{"name": "ci-503", "error": {"status": 503}}]
    assert view["active"] == "ci"
    assert view["counts"] == {"ci-503": {"GET api.example.com/v1/users": 3, "POST api.example.com/v1/users": 1}}
    assert view["totals"] == {"ci-503": 4} and view["counts_live"] is True


def test_parsers_ignore_what_they_do_not_know():
    assert parse_listing("no such thing\n") == []
    assert parse_counts("no faults injected") == {}
    assert parse_active_rules("no chaos profile active") == (None, [])
    # an endpoint label may hold ": " itself; the count is what follows the last one
    assert parse_counts("r: 2\n  GET h/a: b: 2") == {"r": {"GET h/a: b": 2}}


def test_chaos_page_lists_profiles_rules_counts_and_escapes_them(client, admin_env):
    admin_env.store.put_setting(KEY_PROFILES, {"mine": MINE})
    admin_env.store.put_setting(KEY_COUNTS, {"hostile": {"GET api.example.com/" + HOSTILE: 2}})
    canned(admin_env.control, {c: ControlError("down") for c in
                               ("mimic.chaos.profiles", "mimic.chaos.rules", "mimic.chaos.counts")})
    html = client.get("/chaos").text
    assert 'id="profile-mine"' in html and 'id="profile-flaky"' in html
    assert "error 500" in html and "latency 5 ms" in html and "GET /v1/users/*" in html
    assert 'class="secondary edit" data-profile="mine"' in html and 'data-name="users-500"' in html
    assert html.count('class="danger delete"') == 2  # stored rules only: built-ins are read-only
    assert HOSTILE not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert '<td class="fired" data-fired="hostile">2</td>' in html


# -- changing rules -----------------------------------------------------------------------------------------
def test_add_rule_as_json_sends_the_normalised_rule(client, admin_env):
    rule = {"name": "slow-users", "match": {"path": "/v1/users/{user_id}", "method": "get"},
            "probability": 0.5, "latency": {"min_ms": 10, "max_ms": 50}}
    r = client.post("/api/chaos/profiles/mine/rules", json=rule)
    assert r.status_code == 201
    sent = {"name": "slow-users", "match": {"method": ["GET"], "path": "/v1/users/{user_id}"}, "probability": 0.5,
            "latency": {"min_ms": 10.0, "max_ms": 50.0}}
    assert r.json() == {"profile": "mine", "rule": sent}
    command, profile, text = admin_env.control.calls[-1]
    assert (command, profile) == ("mimic.chaos.add", "mine") and json.loads(text) == sent


def test_add_rule_as_yaml_text_or_yaml_field(client, admin_env):
    text = "name: drop-deletes\nmatch: {method: DELETE}\nreset: {}\n"
    r = client.post("/api/chaos/profiles/mine/rules", content=text, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201 and r.json()["rule"] == {"name": "drop-deletes", "match": {"method": ["DELETE"]},
                                                         "reset": {}}
    r = client.post("/api/chaos/profiles/mine/rules", json={"yaml": "name: t\ntimeout: {after_ms: 100, then: drop}"})
    assert r.status_code == 201 and r.json()["rule"] == {"name": "t", "timeout": {"after_ms": 100.0, "then": "drop"}}
    assert [c[:2] for c in admin_env.control.calls] == [("mimic.chaos.add", "mine")] * 2


def test_renaming_a_rule_adds_the_new_one_then_removes_the_old(client, admin_env):
    r = client.post("/api/chaos/profiles/mine/rules?replaces=old-name", json={"name": "new-name", "reset": {}})
    assert r.status_code == 201
    assert [c[:3] if c[0] == "mimic.chaos.remove" else c[:2] for c in admin_env.control.calls] == [
        ("mimic.chaos.add", "mine"), ("mimic.chaos.remove", "mine", "old-name")]


@pytest.mark.parametrize("body, message", [
    ({"name": "x", "error": {"status": 999}}, "must be an integer 100-599"),
    ({"name": "x"}, "needs exactly one action"),
    ({"name": "x", "error": {}, "reset": {}}, "needs exactly one action"),
    ({"error": {}}, "a rule needs a name"),
    ({"name": "x", "match": {"path": "users"}, "reset": {}}, "must start with '/'"),
    ({"name": "x", "probability": 2, "reset": {}}, "probability"),
    ({"name": "x", "explode": {}}, "unknown key 'explode'"),
    ({"yaml": "name: [unclosed"}, "not valid YAML"),
    ({"yaml": 3}, "yaml must be a string"),
    ([1, 2], "must be a mapping"),
])
def test_invalid_rules_are_400_with_the_parsers_message(client, admin_env, body, message):
    r = client.post("/api/chaos/profiles/mine/rules", json=body)
    assert r.status_code == 400 and message in r.json()["error"]
    assert admin_env.control.calls == []


@pytest.mark.parametrize("profile, message", [("flaky", "built-in"), ("off", "invalid profile name"),
                                              ("-bad", "invalid profile name")])
def test_rules_go_to_profiles_of_your_own(client, admin_env, profile, message):
    r = client.post(f"/api/chaos/profiles/{profile}/rules", json={"name": "x", "reset": {}})
    assert r.status_code == 400 and message in r.json()["error"]
    assert admin_env.control.calls == []


def test_a_refusal_by_the_proxy_is_409(client, admin_env):
    admin_env.control.fail = "profile 'ci' is from the chaos file; add rules to a profile of your own"
    r = client.post("/api/chaos/profiles/ci/rules", json={"name": "x", "reset": {}})
    assert r.status_code == 409 and "chaos file" in r.json()["error"]


def test_delete_rule_of_a_stored_profile(client, admin_env):
    admin_env.store.put_setting(KEY_PROFILES, {"mine": MINE})
    r = client.delete("/api/chaos/profiles/mine/rules/users-500")
    assert r.status_code == 200 and r.json() == {"profile": "mine", "deleted": "users-500"}
    assert admin_env.control.calls == [("mimic.chaos.remove", "mine", "users-500")]


@pytest.mark.parametrize("path", ["/api/chaos/profiles/mine/rules/nope", "/api/chaos/profiles/flaky/rules/flaky-503"])
def test_delete_unknown_rule_is_404(client, admin_env, path):
    admin_env.store.put_setting(KEY_PROFILES, {"mine": MINE})
    r = client.delete(path)
    assert r.status_code == 404 and r.json()["error"]
    assert admin_env.control.calls == []


# -- activation ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("profile, sent, active", [("flaky", "flaky", "flaky"), (None, "off", None),
                                                   ("off", "off", None), ("mine", "mine", "mine")])
def test_activate_and_deactivate(client, admin_env, profile, sent, active):
    admin_env.store.put_setting(KEY_PROFILES, {"mine": MINE})
    r = client.put("/api/chaos/active", json={"profile": profile})
    assert r.status_code == 200 and r.json() == {"active": active}
    assert changes(admin_env.control) == [("mimic.chaos.profile", sent)]


@pytest.mark.parametrize("body", [{"profile": "nope"}, {"profile": 3}, [1]])
def test_activate_unknown_profile_is_400(client, admin_env, body):
    r = client.put("/api/chaos/active", json=body)
    assert r.status_code == 400
    assert changes(admin_env.control) == []


# -- against the real ChaosAddon --------------------------------------------------------------------------------
CHAOS_FILE = """
profiles:
  ci:
    description: from the CI file
    rules:
      - {name: ci-503, match: {path: "/v1/users/*"}, error: {status: 503}}
"""


@contextmanager
def real_proxy(tmp_path) -> Iterator[tuple[TestClient, ChaosAddon, Any]]:
    """The admin app over a real ChaosAddon (mitmproxy's command manager runs the commands)."""
    db = str(tmp_path / "mimic.db")
    seed(db)
    chaos_file = tmp_path / "chaos.yaml"
    chaos_file.write_text(CHAOS_FILE)
    m = Mimic()
    c = ChaosAddon(brain=lambda: m.brain, store=lambda: m.store)
    with taddons.context(m, c) as tctx:
        tctx.configure(m, mimic_db=db, mimic_chaos_file=str(chaos_file))
        control = EmbeddedControl(tctx.master, lambda: {
            "mode": tctx.options.mimic_mode, "target": "",
            "chaos_profile": c.engine.profile.name if c.engine else ""})
        store = Store(db)
        try:
            with TestClient(create_app(AdminSettings(token=TOKEN), store, control, LiveHub()),
                            base_url="http://127.0.0.1:8081") as client:
                login(client)
                client.headers["X-CSRF-Token"] = client.get("/api/session").json()["csrf_token"]
                yield client, c, tctx
        finally:
            store.close()


async def test_rules_made_in_the_admin_app_fire_and_are_counted(tmp_path):
    with real_proxy(tmp_path) as (client, chaos, _tctx):
        r = client.post("/api/chaos/profiles/mine/rules", json={"name": "users-418", "match": {"path": "/v1/users/*"},
                                                                "error": {"status": 418}})
        assert r.status_code == 201, r.text
        assert client.put("/api/chaos/active", json={"profile": "mine"}).json() == {"active": "mine"}
        assert chaos.engine is not None and chaos.engine.profile.name == "mine"

        f = tflow.tflow(req=tutils.treq(path=b"/v1/users/3"))
        await chaos.request(f)
        assert f.response.status_code == 418

        view = client.get("/api/chaos").json()
        assert view["active"] == "mine" and view["counts_live"] is True
        assert view["totals"] == {"users-418": 1}
        assert list(view["counts"]["users-418"].values()) == [1]
        origins = {p["name"]: p["origin"] for p in view["profiles"]}
        assert origins["mine"] == "stored" and origins["ci"] == "file" and origins["flaky"] == "built-in"
        ci = next(p for p in view["profiles"] if p["name"] == "ci")
        assert ci["rules"] is None and ci["rule_count"] == 1  # not active: the proxy lists it, its rules stay there

        # a file profile's rules are shown while it is active; it cannot be edited here
        assert client.put("/api/chaos/active", json={"profile": "ci"}).status_code == 200
        ci = next(p for p in client.get("/api/chaos").json()["profiles"] if p["name"] == "ci")
        assert ci["rules"] == [{"name": "ci-503", "match": {"path": "/v1/users/*"}, "error": {}}]  # 503: the default
        r = client.post("/api/chaos/profiles/ci/rules", json={"name": "x", "reset": {}})
        assert r.status_code == 409 and "chaos file" in r.json()["error"]

        # edit as YAML, then delete: the stored profile goes with its last rule, and chaos goes off with it
        client.put("/api/chaos/active", json={"profile": "mine"})
        text = yaml.safe_dump({"name": "users-418", "match": {"path": "/v1/users/*"}, "error": {"status": 503}})
        assert client.post("/api/chaos/profiles/mine/rules", json={"yaml": text}).status_code == 201
        f = tflow.tflow(req=tutils.treq(path=b"/v1/users/4"))
        await chaos.request(f)
        assert f.response.status_code == 503
        assert client.delete("/api/chaos/profiles/mine/rules/users-418").status_code == 200
        view = client.get("/api/chaos").json()
        assert "mine" not in {p["name"] for p in view["profiles"]} and view["active"] is None


def test_a_body_nested_too_deep_is_400_not_a_crash(client, admin_env):
    r = client.post("/api/chaos/profiles/mine/rules", content=b"[" * 10_000 + b"]" * 10_000,
                    headers={"content-type": "application/json"})
    assert r.status_code == 400 and "nested deeper" in r.json()["error"]
    assert admin_env.control.calls == []

"""Answers of an endpoint no consolidation has judged yet are watched with the history of the
template their path also matches (a new realm, a value the last pass folded)."""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest

from mitmproxy.test import tflow, tutils

from mimic_addon.learn.brain import Brain
from mimic_addon.learn.observation import Observation, from_flow
from mimic_addon.learn.watchdog import Watchdog
from mimic_addon.watch.evidence import Suspicion

HOST = "sso.example.com"
REALMS = ["north", "harbor", "meadow", "quartz", "ember", "willow", "cobalt", "saffron"]


def answer(method: str, path: str, body: object, status: int = 200, ts: float = 0.0) -> Observation:
    req = tutils.treq(host=HOST, port=443, scheme=b"https", method=method.encode(), path=path.encode(),
                      content=b"", timestamp_start=ts)
    resp = tutils.tresp(status_code=status, content=json.dumps(body).encode(), timestamp_start=ts + 0.01,
                        timestamp_end=ts + 0.01)
    resp.headers["content-type"] = "application/json"
    obs = from_flow(tflow.tflow(req=req, resp=resp), 1 << 20)
    assert obs is not None
    return obs


def user(i: int) -> dict:
    return {"id": str(uuid.UUID(int=i)), "username": f"user{i}", "enabled": True, "createdTimestamp": 1700000000 + i}


def realms_answering(path: Callable[[str, int], str], body: Callable[[int], object], answers: int = 32,
                     status: int = 200, saved: dict | None = None) -> Brain:
    """`answers` answers of `path(realm, i)` (realm names used as ids, taken in turn) beside each
    realm's `/groups`, consolidated (`saved` takes what a store would hold of them)."""
    brain = Brain(Watchdog())
    for i in range(1, answers + 1):
        realm = REALMS[(i - 1) % len(REALMS)]
        brain.learn(answer("GET", path(realm, i), body(i), status=status, ts=i))
        brain.learn(answer("GET", f"/{realm}/groups", [{"id": str(uuid.UUID(int=i)), "name": "g"}], ts=i))
    brain.settle()
    if saved is not None:
        save(brain, saved)
    return brain


def realms_brain() -> Brain:
    """Realm names used as ids, consolidated into `/{realm}/users/{id}` and `/{realm}/groups`."""
    brain = realms_answering(lambda realm, i: f"/{realm}/users/{uuid.UUID(int=i)}", user)
    assert {ep.skeleton for ep in brain.endpoints()} == {"/{}/users/{}", "/{}/groups"}
    return brain


def test_a_new_realm_first_seen_on_a_new_endpoint_is_watched_as_a_realm() -> None:
    brain = realms_brain()
    brain.learn(answer("GET", "/acme/events", [], ts=100))  # new to every realm: `acme` stays literal for now
    body = user(500)
    del body["username"]
    for n in range(2):
        ep = brain.learn(answer("GET", f"/acme/users/{uuid.UUID(int=500 + n)}", body, ts=101 + n))
        assert ep.skeleton == "/acme/users/{}" and brain.judged is not None
        assert brain.judged.skeleton == "/{}/users/{}"
    [alert] = brain.alert_list()
    assert (alert["skeleton"], alert["label"]) == ("/{}/users/{}", "BREAKING")
    assert [c["path"] for c in alert["changes"]] == ["$.username"]


def permissions(realm: str, i: int) -> str:
    return f"/{realm}/clients/{uuid.UUID(int=i)}/permissions"


def permissions_brain(answers: int = 32) -> Brain:
    """Realms whose clients' permissions always answer one field, consolidated."""
    brain = realms_answering(permissions, lambda i: {"scopePermissions": {"view": "p1"}}, answers)
    assert {ep.skeleton for ep in brain.endpoints()} == {"/{}/clients/{}/permissions", "/{}/groups"}
    return brain


def test_empty_answers_of_new_realms_in_a_row_are_watched_as_the_realms_answers() -> None:
    """An object left with no field at all (`{}`: the one field its answers always had removed)
    has no keys to tell which resource answered: the path decides, unvouched (never alone)."""
    brain = permissions_brain()
    for n, realm in enumerate(("acme", "globex")):  # new realms, each a young endpoint of its own
        brain.learn(answer("GET", f"/{realm}/events", [], ts=100 + n))  # `{realm}` stays literal for now
        ep = brain.learn(answer("GET", f"/{realm}/clients/{uuid.UUID(int=500 + n)}/permissions", {}, ts=101 + n))
        assert ep.skeleton == f"/{realm}/clients/{{}}/permissions"
        assert brain.judged is not None and brain.judged.skeleton == "/{}/clients/{}/permissions"
        if n == 0:
            assert brain.alert_list() == []  # one answer alone, vouched by its path only: evidence
    [alert] = brain.alert_list()
    assert (alert["skeleton"], alert["label"]) == ("/{}/clients/{}/permissions", "BREAKING")
    assert [c["path"] for c in alert["changes"]] == ["$.scopePermissions"]


def test_one_new_tenants_empty_answer_is_no_change() -> None:
    brain = permissions_brain()
    elder = brain.hosts[HOST].endpoints[("GET", "/{}/clients/{}/permissions")]
    brain.learn(answer("GET", "/acme/events", [], ts=100))
    brain.learn(answer("GET", f"/acme/clients/{uuid.UUID(int=500)}/permissions", {}, ts=101))
    assert brain.judged is elder and brain.alert_list() == []
    for n in range(3):  # the same young endpoint again: its own repeats are its own history
        brain.learn(answer("GET", f"/acme/clients/{uuid.UUID(int=501 + n)}/permissions", {}, ts=102 + n))
        assert brain.judged is not elder
    brain.learn(answer("GET", f"/north/clients/{uuid.UUID(int=600)}/permissions",
                       {"scopePermissions": {"view": "p1"}}, ts=110))  # the realms answer as usual
    assert brain.alert_list() == []
    suspicion = brain.watch.suspicions.get((HOST, "GET", "/{}/clients/{}/permissions", 200))
    assert suspicion is None or not suspicion.runs


def test_an_empty_answer_where_the_path_ends_at_a_new_word_is_judged_on_its_own() -> None:
    """`/items/reindex` beside `/items/{slug}`: nothing below the new word says it is a value."""
    brain = Brain(Watchdog())
    for i in range(1, 40):
        brain.learn(answer("POST", f"/items/{1000 + i}", {"id": 1000 + i, "name": f"item{i}"}, ts=i))
    brain.settle()
    for n in range(4):
        ep = brain.learn(answer("POST", "/items/reindex", {}, ts=50 + n))
        assert ep.skeleton == "/items/reindex" and brain.judged is ep
    assert brain.alert_list() == []


def test_only_an_empty_object_is_judged_by_its_path() -> None:
    brain = permissions_brain()
    brain.learn(answer("GET", "/acme/events", [], ts=100))
    for n, body in enumerate(([], 0, None)):  # no object at all: another resource, or none
        ep = brain.learn(answer("GET", f"/acme/clients/{uuid.UUID(int=500 + n)}/permissions", body, ts=101 + n))
        assert brain.judged is ep
    brain.learn(answer("GET", f"/acme/clients/{uuid.UUID(int=600)}/missing", {}, status=404, ts=200))
    assert brain.judged is not None and brain.judged.skeleton == "/acme/clients/{}/missing"
    assert brain.alert_list() == []


def test_an_empty_answer_where_a_trailing_slash_follows_the_new_word_is_judged_on_its_own() -> None:
    brain = Brain(Watchdog())
    for i in range(1, 40):
        brain.learn(answer("POST", f"/items/{1000 + i}/", {"id": 1000 + i, "name": f"item{i}"}, ts=i))
    brain.settle()
    for n, action in enumerate(("reindex", "rebuild")):
        ep = brain.learn(answer("POST", f"/items/{action}/", {}, ts=50 + n))
        assert brain.judged is ep
    assert brain.alert_list() == []


def realms_preferring(preferences: dict, saved: dict | None = None) -> Brain:
    """Realms whose users' preferences always answer `preferences`, consolidated."""
    return realms_answering(lambda realm, i: f"/{realm}/users/{100 + i}/preferences", lambda i: preferences,
                            saved=saved)


def preferences_brain(saved: dict | None = None) -> Brain:
    """`realms_preferring` a `locale`; then a new realm answers `{}` once."""
    brain = realms_preferring({"locale": "en"}, saved)
    brain.learn(answer("GET", "/acme/events", [], ts=1000))
    brain.learn(answer("GET", "/acme/users/501/preferences", {}, ts=1001))
    assert brain.judged is not None and brain.judged.skeleton == "/{}/users/{}/preferences"
    return brain


def test_a_young_endpoint_kept_apart_takes_back_the_evidence_its_answers_gave_the_template() -> None:
    """Its answers were not the template's after all: the template's runs they lengthened are
    shortened again, so one more empty answer is one answer alone (a review found it alerting)."""
    for later in ("/globex/users/601/preferences", "/north/users/777/preferences"):
        brain = preferences_brain()
        brain.settle()
        assert ("GET", "/acme/users/{}/preferences") in brain.hosts[HOST].endpoints  # kept apart
        assert not brain.watch.suspicions.get((HOST, "GET", "/{}/users/{}/preferences", 200), Suspicion()).runs
        brain.learn(answer("GET", "/globex/events", [], ts=5000))
        brain.learn(answer("GET", later, {}, ts=5001))
        assert brain.judged is not None and brain.judged.skeleton == "/{}/users/{}/preferences"
        assert brain.alert_list() == []


def test_a_young_endpoint_kept_apart_takes_back_what_its_answers_with_keys_gave_the_template() -> None:
    brain = realms_preferring({"locale": "en", "tz": "UTC"})
    brain.learn(answer("GET", "/acme/events", [], ts=1000))
    brain.learn(answer("GET", "/acme/users/501/preferences", {"tz": "UTC"}, ts=1001))
    assert brain.judged is not None and brain.judged.skeleton == "/{}/users/{}/preferences"
    brain.settle()  # kept apart
    brain.learn(answer("GET", "/north/users/777/preferences", {"tz": "UTC"}, ts=5000))
    assert brain.alert_list() == []  # one answer of the template's own without `locale`: evidence, no more


def save(brain: Brain, store: dict) -> None:
    """What the store keeps of the brain's changes since the last save."""
    trees, rows, deleted = brain.take_changes()
    store.setdefault("trees", {}).update(trees)
    endpoints = store.setdefault("endpoints", {})
    endpoints.update({(r["host"], r["method"], r["template"]): r for r in rows})
    for key in deleted:
        endpoints.pop(tuple(key), None)


def test_the_evidence_an_empty_answer_gave_its_template_is_saved_with_the_template() -> None:
    store: dict = {}
    brain = preferences_brain(store)
    save(brain, store)
    reloaded = Brain(Watchdog())
    reloaded.load({"trees": store["trees"], "endpoints": list(store["endpoints"].values()),
                   "alerts": brain.alert_list()})
    reloaded.learn(answer("GET", "/globex/events", [], ts=1003))
    reloaded.learn(answer("GET", "/globex/users/601/preferences", {}, ts=1004))  # a second new realm in a row
    [alert] = reloaded.alert_list()
    assert (alert["skeleton"], [c["path"] for c in alert["changes"]]) == ("/{}/users/{}/preferences", ["$.locale"])


@pytest.mark.parametrize("restart", [False, True])
def test_taking_back_a_young_endpoints_evidence_leaves_a_later_run_of_the_templates_own_alone(restart: bool) -> None:
    store: dict = {}
    brain = realms_preferring({"locale": "en", "tz": "UTC"}, store)
    brain.learn(answer("GET", "/acme/events", [], ts=1000))
    brain.learn(answer("GET", "/acme/users/501/preferences", {"tz": "UTC"}, ts=1001))  # lends the template 1
    save(brain, store)
    brain.learn(answer("GET", "/north/users/700/preferences", {"locale": "en", "tz": "UTC"}, ts=1002))  # run over
    brain.learn(answer("GET", "/north/users/701/preferences", {"tz": "UTC"}, ts=1003))  # the change starts
    if restart:  # (what the young endpoint lent, forgotten since, is saved forgotten)
        save(brain, store)
        brain = Brain(Watchdog())
        brain.load({"trees": store["trees"], "endpoints": list(store["endpoints"].values()), "alerts": []})
    brain.settle()  # `acme` kept apart: what it lent is no longer in the run
    assert brain.alert_list() == []
    brain.learn(answer("GET", "/north/users/710/preferences", {"tz": "UTC"}, ts=1010))
    [alert] = brain.alert_list()
    assert [c["path"] for c in alert["changes"]] == ["$.locale"]


def test_evidence_taken_back_is_saved() -> None:
    store: dict = {}
    brain = preferences_brain(store)
    save(brain, store)  # the template saved with the run the young endpoint's answer lent it
    brain.settle()  # kept apart: taken back
    save(brain, store)
    reloaded = Brain(Watchdog())
    reloaded.load({"trees": store["trees"], "endpoints": list(store["endpoints"].values()),
                   "alerts": brain.alert_list()})
    reloaded.learn(answer("GET", "/globex/events", [], ts=5000))
    reloaded.learn(answer("GET", "/globex/users/601/preferences", {}, ts=5001))
    assert reloaded.alert_list() == []


def test_an_unvouched_empty_answer_never_alerts_alone_even_beside_a_long_history() -> None:
    """One answer alone alerts only on strong evidence (a place stable in ~250 answers): an
    unvouched one, whose keys cannot say it is the template's, never does."""
    brain = permissions_brain(320)
    brain.learn(answer("GET", "/acme/events", [], ts=1000))
    brain.learn(answer("GET", f"/acme/clients/{uuid.UUID(int=900)}/permissions", {}, ts=1001))
    assert brain.judged is not None and brain.judged.skeleton == "/{}/clients/{}/permissions"
    assert brain.alert_list() == []
    brain.learn(answer("GET", f"/north/clients/{uuid.UUID(int=901)}/permissions", {}, ts=1002))  # the run goes on
    [alert] = brain.alert_list()
    assert [c["path"] for c in alert["changes"]] == ["$.scopePermissions"]


def test_an_empty_error_answer_is_not_judged_by_its_path() -> None:
    brain = realms_answering(permissions, lambda i: {"error": "gone"}, status=404)
    brain.learn(answer("GET", "/acme/events", [], ts=100))
    ep = brain.learn(answer("GET", f"/acme/clients/{uuid.UUID(int=500)}/permissions", {}, status=404, ts=101))
    assert brain.judged is ep


def test_what_a_young_endpoint_lent_its_judge_follows_a_judge_renamed_and_stays_once_they_are_one() -> None:
    watch = Watchdog()
    judge, young = (HOST, "GET", "/{}/a", 200), (HOST, "GET", "/x/a", 200)
    watch.suspicions[judge] = Suspicion(runs={("$.f", "missing_field"): (2, True)})
    lent = Suspicion(runs={("$.f", "missing_field"): (1, False)})
    watch.held_young[young] = (judge, lent)
    watch.rekey(HOST, "GET", "/{}/a", "/{}/{}")  # the judge's template renamed
    assert watch.held_young[young][0] == (HOST, "GET", "/{}/{}", 200)
    watch.rekey(HOST, "GET", "/x/a", "/{}/{}")  # the young endpoint now the judge's own
    watch.settled(HOST, {})
    assert watch.suspicions[(HOST, "GET", "/{}/{}", 200)].runs == {("$.f", "missing_field"): (2, True)}


def test_a_young_endpoint_judged_by_another_history_takes_back_only_what_it_lent_that_one() -> None:
    watch = Watchdog()
    first, second, young = (HOST, "GET", "/{}/a", 200), (HOST, "GET", "/x/{}", 200), (HOST, "GET", "/x/a", 200)
    watch.suspicions[second] = Suspicion(runs={("$.f", "missing_field"): (2, True)})  # one of them the young's
    watch._held_for(young, first).runs[("$.f", "missing_field")] = (1, False)
    watch._held_for(young, second).runs[("$.f", "missing_field")] = (1, False)
    watch.settled(HOST, {})
    assert watch.suspicions[second].runs == {("$.f", "missing_field"): (1, True)}


def test_after_the_next_consolidation_an_endpoint_is_watched_on_its_own_history() -> None:
    brain = realms_brain()
    brain.learn(answer("GET", "/acme/events", [], ts=100))
    brain.learn(answer("GET", f"/acme/users/{uuid.UUID(int=600)}", user(600), ts=101))
    brain.settle()
    for n in range(2):
        ep = brain.learn(answer("GET", f"/acme/users/{uuid.UUID(int=601 + n)}", user(601 + n), ts=102 + n))
        assert brain.judged is ep  # no longer young: its own history judges it
    assert brain.alert_list() == []


def test_a_new_word_answering_another_shape_is_judged_on_its_own() -> None:
    brain = Brain(Watchdog())
    for i in range(1, 40):
        brain.learn(answer("GET", f"/pets/{1000 + i}", {"id": 1000 + i, "name": f"pet{i}", "status": "sold"}, ts=i))
    brain.settle()
    for n in range(3):  # a search beside the pets: a list, not a pet that lost its fields
        ep = brain.learn(answer("GET", "/pets/search", [{"id": n, "name": "p", "status": "sold"}], ts=50 + n))
        assert ep.skeleton == "/pets/search" and brain.judged is ep
    assert brain.alert_list() == []


def test_a_young_endpoints_doubtful_answer_is_held_for_it_not_for_the_template_judging_it() -> None:
    brain = realms_brain()
    elder = brain.hosts[HOST].endpoints[("GET", "/{}/users/{}")]
    before = elder.responses["200"].count
    brain.learn(answer("GET", "/acme/events", [], ts=100))
    body = user(700)
    del body["username"]  # one answer without it: a suspicion, not yet a change
    ep = brain.learn(answer("GET", f"/acme/users/{uuid.UUID(int=700)}", body, ts=101))
    assert brain.judged is elder and ep is not elder
    for n in range(2):  # the realms answer as usual: the suspicion comes to nothing
        brain.learn(answer("GET", f"/north/users/{uuid.UUID(int=710 + n)}", user(710 + n), ts=102 + n))
    assert elder.responses["200"].count == before + 2
    assert "200" not in ep.responses and ep.stats.count == 1  # counted; its body held for it
    brain.settle()  # `acme` is a realm: its held answer is learned with the realm's users
    assert ("GET", "/acme/users/{}") not in brain.hosts[HOST].endpoints
    brain.learn(answer("GET", f"/north/users/{uuid.UUID(int=720)}", user(720), ts=110))
    assert elder.responses["200"].count == before + 4
    assert elder.responses["200"].props["username"].count == before + 3


def test_what_a_young_endpoint_kept_apart_had_held_for_it_is_learned_when_it_grows_up() -> None:
    brain = realms_brain()
    elder = brain.hosts[HOST].endpoints[("GET", "/{}/users/{}")]
    me = user(900)  # the caller itself
    first = {k: v for k, v in me.items() if k != "createdTimestamp"}  # a suspicion on the template
    ep = brain.learn(answer("GET", "/north/users/me", first, ts=100))
    assert ep.skeleton == "/{}/users/me" and brain.judged is elder
    for n in range(3):  # asked for again and again beside the ids: an alias, kept apart
        brain.learn(answer("GET", "/north/users/me", me, ts=101 + n))
    assert ep.responses["200"].count == 3
    brain.settle()
    assert brain.hosts[HOST].endpoints[("GET", "/{}/users/me")] is ep
    assert ep.responses["200"].count == 4 and (HOST, "GET", "/{}/users/me", 200) not in brain.watch.suspicions
    assert brain.alert_list() == []


def test_a_change_first_seen_on_a_young_endpoint_still_alerts_once_it_is_folded() -> None:
    """The young endpoint's first changed answer, learned by it, came into the template with it at
    the next consolidation: the change then looked learned, and its alert was withdrawn."""
    brain = realms_brain()
    changed = [dict(user(800 + n), enabled="mimic") for n in range(8)]
    brain.learn(answer("GET", "/acme/events", [], ts=99))  # `acme` stays literal until the next pass
    ep = brain.learn(answer("GET", f"/acme/users/{uuid.UUID(int=800)}", changed[0], ts=100))
    assert ep.skeleton == "/acme/users/{}" and brain.judged.skeleton == "/{}/users/{}"
    for n in range(1, 4):
        brain.learn(answer("GET", f"/{REALMS[n]}/users/{uuid.UUID(int=800 + n)}", changed[n], ts=100 + n))
    brain.settle()
    assert ("GET", "/acme/users/{}") not in brain.hosts[HOST].endpoints  # folded into the template
    for n in range(4, 8):
        brain.learn(answer("GET", f"/{REALMS[n]}/users/{uuid.UUID(int=800 + n)}", changed[n], ts=100 + n))
    [alert] = brain.alert_list()
    assert (alert["skeleton"], alert["label"], alert["resolved"]) == ("/{}/users/{}", "BREAKING", False)
    assert [(c["path"], c["kind"]) for c in alert["changes"]] == [("$.enabled", "type_changed")]


def test_an_answer_the_young_endpoint_judges_itself_does_not_release_what_was_held_for_it() -> None:
    brain = realms_brain()
    brain.learn(answer("GET", "/acme/events", [], ts=99))
    changed = [dict(user(800 + n), enabled="mimic") for n in range(8)]
    ep = brain.learn(answer("GET", f"/acme/users/{uuid.UUID(int=800)}", changed[0], ts=100))
    other = brain.learn(answer("GET", f"/acme/users/{uuid.UUID(int=899)}", {"error": "gone"}, ts=100.5))
    assert other is ep and brain.judged is ep  # another shape: its own history judges it
    assert "enabled" not in ep.responses["200"].props
    for n in range(1, 4):
        brain.learn(answer("GET", f"/{REALMS[n]}/users/{uuid.UUID(int=800 + n)}", changed[n], ts=100 + n))
    brain.settle()
    for n in range(4, 8):
        brain.learn(answer("GET", f"/{REALMS[n]}/users/{uuid.UUID(int=800 + n)}", changed[n], ts=100 + n))
    [alert] = brain.alert_list()
    assert (alert["label"], alert["resolved"]) == ("BREAKING", False)


def groups(i: int, name: object) -> list[dict]:
    return [{"id": str(uuid.UUID(int=i)), "name": name}]


def test_what_was_held_for_a_young_endpoint_waits_with_the_open_alert_of_the_template_it_joins() -> None:
    brain = realms_brain()
    brain.learn(answer("GET", "/acme/events", [], ts=99))
    brain.learn(answer("GET", "/acme/groups", groups(800, 5), ts=100))  # held for `/acme/groups`
    brain.learn(answer("GET", f"/{REALMS[1]}/groups", groups(801, 6), ts=101))  # the template's alert opens
    brain.settle()  # `acme` is a realm: `/acme/groups` joins `/{}/groups`, the open alert withholds its answer
    elder = brain.hosts[HOST].endpoints[("GET", "/{}/groups")]
    brain.learn(answer("GET", f"/{REALMS[2]}/groups", [], ts=102))  # says nothing either way
    assert elder.responses["200"].items.props["name"].type_counts() == {"string": 32}
    for n in range(4, 8):
        brain.learn(answer("GET", f"/{REALMS[n]}/groups", groups(810 + n, 7 + n), ts=110 + n))
    [alert] = brain.alert_list()
    assert (alert["label"], alert["resolved"]) == ("BREAKING", False)
    assert [(c["path"], c["kind"]) for c in alert["changes"]] == [("$[].name", "type_changed")]


def test_a_young_endpoint_moved_to_a_new_template_learns_what_was_held_for_it() -> None:
    brain = realms_brain()
    brain.learn(answer("GET", "/acme/events", [], ts=99))
    me = user(900)
    ep = brain.learn(answer("GET", "/acme/users/me", {k: v for k, v in me.items() if k != "createdTimestamp"}, ts=100))
    assert brain.judged.skeleton == "/{}/users/{}" and "200" not in ep.responses
    brain.learn(answer("GET", f"/acme/users/{uuid.UUID(int=950)}", user(950), ts=101))
    brain.settle()
    assert ep.skeleton == "/{}/users/me" and ep.responses["200"].count == 1 and not brain.watch.held_young


def test_what_is_held_for_a_young_endpoint_is_saved_with_it() -> None:
    brain = realms_brain()
    brain.learn(answer("GET", "/acme/events", [], ts=99))
    ep = brain.learn(answer("GET", "/acme/users/me", {"id": str(uuid.UUID(int=900)), "enabled": True}, ts=100))
    saved = brain.row(ep)["data"]["watch"]["suspicions"]
    assert saved["200"]["young"]["held"] is not None
    other = Watchdog()
    other.load_suspicions(ep, saved)
    assert other.held_young[(HOST, "GET", ep.skeleton, 200)][1].held_count() == 1
    assert (HOST, "GET", ep.skeleton, 200) not in other.suspicions


def test_an_alert_resolved_as_fixed_drops_what_was_held_for_young_endpoints_it_judged() -> None:
    brain = realms_brain()
    changed = [dict(user(800 + n), enabled="mimic") for n in range(8)]
    brain.learn(answer("GET", "/acme/events", [], ts=99))
    brain.learn(answer("GET", f"/acme/users/{uuid.UUID(int=800)}", changed[0], ts=100))  # held for the young one
    brain.learn(answer("GET", f"/{REALMS[1]}/users/{uuid.UUID(int=801)}", changed[1], ts=101))
    [alert] = brain.alert_list()
    assert alert["count"] == 2 and not brain.watch.held_young  # the held answer waits with the alert
    brain.resolve_alert(alert["id"], "fixed", 102)  # the backend was put right: what drifted is dropped
    brain.settle()
    brain.learn(answer("GET", f"/{REALMS[2]}/users/{uuid.UUID(int=850)}", user(850), ts=103))
    elder = brain.hosts[HOST].endpoints[("GET", "/{}/users/{}")]
    assert elder.responses["200"].props["enabled"].type_counts() == {"boolean": 33}
    for n in range(4, 6):  # the regression comes back: it alerts again
        brain.learn(answer("GET", f"/{REALMS[n]}/users/{uuid.UUID(int=800 + n)}", changed[n], ts=110 + n))
    [again] = [a for a in brain.alert_list() if not a["resolved"]]
    assert again["label"] == "BREAKING"


def test_a_reloaded_store_keeps_its_young_endpoints_young() -> None:
    brain = realms_brain()
    brain.take_changes()
    brain.learn(answer("GET", "/acme/events", [], ts=99))
    brain.learn(answer("GET", f"/acme/users/{uuid.UUID(int=800)}", dict(user(800), enabled="mimic"), ts=100))
    trees, rows, _ = brain.take_changes()
    assert sorted(trees[HOST]["young"]) == [["GET", "/acme/events"], ["GET", "/acme/users/{}"]]
    full = {"trees": {HOST: Brain._tree_row(brain.hosts[HOST])}, "endpoints": [brain.row(e) for e in brain.endpoints()]}
    reloaded = Brain(Watchdog())
    reloaded.load(full)
    assert reloaded.hosts[HOST].young == {("GET", "/acme/events"), ("GET", "/acme/users/{}")}
    key = (HOST, "GET", "/acme/users/{}", 200)
    assert reloaded.watch.held_young[key][1].held_count() == 1
    assert reloaded.watch.held_young[key][0] == (HOST, "GET", "/{}/users/{}", 200)
    reloaded.learn(answer("GET", f"/acme/users/{uuid.UUID(int=801)}", dict(user(801), enabled="mimic"), ts=101))
    assert reloaded.judged is not None and reloaded.judged.skeleton == "/{}/users/{}"
    [alert] = reloaded.alert_list()
    assert (alert["label"], alert["count"]) == ("BREAKING", 2)

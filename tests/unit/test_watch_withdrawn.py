"""An alert withdrawn (its place seen as learned again) learns the answers it withheld, but not
while those answers may bring another change being weighed: learned, they would make it look usual."""
from __future__ import annotations

import json

from mitmproxy.test import tflow, tutils

from mimic_addon.learn.brain import Brain
from mimic_addon.learn.observation import Observation, from_flow
from mimic_addon.learn.watchdog import Watchdog

HOST = "api.example.com"


def answer(i: int, body: dict) -> Observation:
    req = tutils.treq(host=HOST, port=443, scheme=b"https", method=b"GET", path=f"/items/{1000 + i}".encode(),
                      content=b"", timestamp_start=float(i))
    resp = tutils.tresp(status_code=200, content=json.dumps(body).encode(), timestamp_start=i + 0.01,
                        timestamp_end=i + 0.01)
    resp.headers["content-type"] = "application/json"
    obs = from_flow(tflow.tflow(req=req, resp=resp), 1 << 20)
    assert obs is not None
    return obs


def item(i: int, created: bool = True, data: object = None) -> dict:
    body: dict = {"id": 1000 + i, "name": f"item {i}", "data": data}
    if created:
        body["created"] = f"2024-01-{i % 28 + 1:02d}T10:00:00Z"
    return body


def test_a_change_in_the_answers_a_withdrawn_alert_withheld_still_alerts() -> None:
    brain = Brain(Watchdog())
    for i in range(12):
        brain.learn(answer(i, item(i)))
    brain.settle()
    brain.learn(answer(20, item(20, created=False)))  # `created` missing: a suspicion
    brain.learn(answer(21, item(21, created=False, data=True)))  # again: an alert, withholding this answer
    [first] = brain.alert_list()
    assert [c["path"] for c in first["changes"]] == ["$.created"]
    for i in range(22, 26):  # `created` is back (it was optional): that alert is withdrawn; `data` changed
        brain.learn(answer(i, item(i, data=True)))
    [ep] = brain.endpoints()
    assert ep.responses["200"].props["data"].type_counts() == {"null": 12}
    [alert] = [a for a in brain.alert_list() if not a["resolved"]]
    assert (alert["label"], [(c["path"], c["kind"]) for c in alert["changes"]]) == \
        ("BREAKING", [("$.data", "type_changed")])
    assert alert["count"] >= 4


def test_a_withdrawn_alert_learns_what_it_withheld_when_nothing_else_is_weighed() -> None:
    brain = Brain(Watchdog())
    for i in range(12):
        brain.learn(answer(i, item(i)))
    brain.settle()
    brain.learn(answer(20, item(20, created=False)))
    brain.learn(answer(21, item(21, created=False)))
    brain.learn(answer(22, item(22)))  # back: withdrawn, and the two answers without it are learned
    [ep] = brain.endpoints()
    assert ep.responses["200"].props["created"].count == 13 and ep.responses["200"].count == 15
    [alert] = brain.alert_list()
    assert alert["resolved"] and alert["resolution"] == "withdrawn"


def test_answers_an_open_alert_gives_up_to_a_suspicion_are_not_counted_twice() -> None:
    brain = Brain(Watchdog())
    for i in range(12):
        brain.learn(answer(i, item(i)))
    brain.settle()
    brain.learn(answer(19, dict(item(19), extra=1)))  # a new field: an INFO alert, open
    brain.learn(answer(20, item(20, created=False)))
    brain.learn(answer(21, item(21, created=False)))  # BREAKING: both withheld
    brain.learn(answer(22, item(22, data=True)))  # `created` back (withdrawn); `data` changed, not sure yet
    brain.learn(answer(23, item(23, data=True)))  # sure
    [alert] = brain.alert_list()
    assert alert["label"] == "BREAKING" and alert["count"] == 5  # 19 to 23, each once
    assert [c["path"] for c in alert["changes"]] == ["$.extra", "$.data"]


def test_a_run_on_a_place_that_deviated_before_holds_its_answers_back() -> None:
    # `created` in 53 of 54 answers: the answers of a run without it are held back, not learned, so
    # the field stays almost always there and the run grows until it is long enough to alert
    brain = Brain(Watchdog())
    for i in range(54):
        brain.learn(answer(i, item(i, created=i != 5)))
    brain.settle()
    node = brain.endpoints()[0].responses["200"]
    assert (node.count, node.props["created"].count) == (54, 53)
    for i in range(60, 80):
        brain.learn(answer(i, item(i, created=False)))
    assert (node.count, node.props["created"].count) == (54, 53)  # nothing of the run learned
    [alert] = brain.alert_list()
    assert (alert["label"], [(c["path"], c["kind"], c["exceptions"]) for c in alert["changes"]]) == \
        ("BREAKING", [("$.created", "missing_field", 1)])
    assert alert["count"] == 20  # every answer of the run, the ones held back before it alerted too


def test_a_run_whose_place_is_gone_with_its_parent_ends_and_learns_what_it_held() -> None:
    from mimic_addon.watch.evidence import MAX_IDLE

    brain = Brain(Watchdog())
    for i in range(20):  # `meta` optional (in half the answers), `b` always in it
        brain.learn(answer(i, {**item(i), "meta": {"a": 1, "b": 2}} if i % 2 else item(i)))
    brain.settle()
    brain.learn(answer(20, {**item(20), "meta": {"a": 1}}))  # `meta.b` missing: a run, the answer held
    node = brain.endpoints()[0].responses["200"]
    assert node.count == 20
    for i in range(21, 20 + MAX_IDLE):  # no `meta` at all: the run's place is neither usual nor changed
        brain.learn(answer(i, item(i)))
    assert node.count == 19 + MAX_IDLE  # held still (the run waits), the others learned
    brain.learn(answer(60, item(60)))  # the MAX_IDLE-th
    assert node.count == 21 + MAX_IDLE  # the run ended: the answer it held is learned too
    assert brain.alert_list() == []

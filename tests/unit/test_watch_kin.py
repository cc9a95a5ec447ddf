"""A field absent from a named object is weighed with the same-named objects elsewhere (`watch/kin.py`)."""
from __future__ import annotations

import json

from mitmproxy.test import tflow, tutils

from mimic_addon.learn.brain import Brain
from mimic_addon.learn.observation import from_flow
from mimic_addon.learn.watchdog import Watchdog
from mimic_addon.model.schema import SchemaNode
from mimic_addon.watch import evidence
from mimic_addon.watch.drift import Change
from mimic_addon.watch.kin import weigh_with_kin


def widget(i: int, shade: bool = True) -> dict:
    colour = {"name": f"c{i}", "hex": f"#{i:06x}"}
    if shade:
        colour["shade"] = "dark" if i % 2 else "light"
    return {"id": i, "label": f"w{i}", "colour": colour}


def learned(bodies) -> SchemaNode:
    node = SchemaNode()
    for b in bodies:
        node.observe(b)
    return node


def gone(path: str = "$.colour.shade", seen: int = 8) -> Change:
    return Change(path, "missing_field", "present", "missing", None, seen, 0)


def test_a_field_optional_in_same_named_objects_elsewhere_is_no_change() -> None:
    mine = learned(widget(i) for i in range(8))
    palette = learned({"colours": [widget(i, shade=i % 3 != 0)["colour"]]} for i in range(12))
    assert weigh_with_kin(gone(), mine, [mine, palette]) is not None  # ("colours" is another name)
    elsewhere = learned({"owner": "x", "colour": widget(i, shade=i % 3 != 0)["colour"]} for i in range(12))
    assert weigh_with_kin(gone(), mine, [mine, elsewhere]) is None  # absent from 4 of 12: optional


def test_a_field_rarely_absent_elsewhere_needs_far_more_evidence() -> None:
    mine = learned(widget(i) for i in range(8))
    elsewhere = learned({"colour": widget(i, shade=i != 0)["colour"]} for i in range(40))
    change = weigh_with_kin(gone(), mine, [elsewhere])  # absent once elsewhere: an accident, the label stays
    assert change is not None and (change.seen, change.exceptions, change.label) == (48, 1, "BREAKING")
    assert evidence.threshold(change) == evidence.ALPHA_GRADED
    twice = learned({"colour": widget(i, shade=i > 1)["colour"]} for i in range(40))
    change = weigh_with_kin(gone(), mine, [twice])  # absent twice: optional now and then, one label lower
    assert change is not None and (change.seen, change.exceptions, change.label) == (48, 2, "WARNING")


def test_no_kin_evidence_leaves_the_change_as_it_was() -> None:
    mine = learned(widget(i) for i in range(8))
    always = learned({"colour": widget(i)["colour"]} for i in range(12))
    other_kind = learned({"colour": {"shade": "dark" if i % 2 else None, "gloss": i, "tone": 1, "ink": 2}}
                         for i in range(12))  # shares too few keys: another kind of object
    other_kind.observe({"colour": {"gloss": 1, "tone": 1, "ink": 2}})
    for roots in ([always], [other_kind], [mine]):
        assert weigh_with_kin(gone(), mine, roots) == gone()
    top = gone("$.label")  # a top-level object has no name to find its kin by
    assert weigh_with_kin(top, mine, [learned({"label": "x"} if i % 2 else {} for i in range(9))]) is top


def _obs(path: str, i: int, body: dict):
    req = tutils.treq(host="api.example.com", port=443, scheme=b"https", path=path.encode(), content=b"",
                      timestamp_start=float(i))
    resp = tutils.tresp(status_code=200, content=json.dumps(body).encode(), timestamp_start=i + 0.01,
                        timestamp_end=i + 0.01)
    resp.headers["content-type"] = "application/json"
    return from_flow(tflow.tflow(req=req, resp=resp), 1 << 20)


def _brain(kin_optional: bool) -> Brain:
    brain = Brain(Watchdog())
    t = 0
    for i in range(1, 13):  # another endpoint's colours: shade absent from a third of them (or never)
        t += 1
        shade = not kin_optional or i % 3 != 0
        brain.learn(_obs(f"/paints/{100 + i}", t, {"id": 100 + i, "colour": widget(i, shade)["colour"]}))
    for i in range(1, 9):
        t += 1
        brain.learn(_obs(f"/widgets/{i}", t, widget(i)))
    for i in (9, 10, 11):  # shade gone three times in a row from the widgets' colours
        t += 1
        brain.learn(_obs(f"/widgets/{i}", t, widget(i, shade=False)))
    return brain


def test_the_watchdog_weighs_a_missing_field_with_its_kin() -> None:
    [alert] = _brain(kin_optional=False).alert_list()  # nothing says it is optional: a removal
    assert [(c["path"], c["label"]) for c in alert["changes"]] == [("$.colour.shade", "BREAKING")]
    brain = _brain(kin_optional=True)  # the API's own colours go without it: optional, learned as such
    assert brain.alert_list() == []
    widgets = [ep for ep in brain.endpoints() if "paints" not in brain.template(ep)]
    assert [ep.responses["200"].properties()["colour"].properties()["shade"].count for ep in widgets] == [8]


def test_the_search_stops_when_the_answers_budget_is_spent() -> None:
    mine = learned(widget(i) for i in range(8))
    elsewhere = learned({"owner": "x", "colour": widget(i, shade=i % 3 != 0)["colour"]} for i in range(12))
    budget = [0]  # (spent by the answer's earlier changes)
    assert weigh_with_kin(gone(), mine, [elsewhere], budget) == gone()
    budget = [50]
    assert weigh_with_kin(gone(), mine, [elsewhere], budget) is None and budget[0] < 50


def _colour_gone_once(path: str, **extra) -> tuple[Brain, int]:
    """A brain that learned 8 answers of `path` with a colour, then one without it (held back)."""
    brain, t = Brain(Watchdog()), 0
    for i in range(8):
        t += 1
        brain.learn(_obs(path, t, {"id": i, **extra, "colour": "red"}))
    t += 1
    brain.learn(_obs(path, t, {"id": 99, **extra}))
    return brain, t


def test_answers_held_back_follow_their_endpoint_when_templates_change() -> None:
    brain, t = _colour_gone_once("/widgets/alpha", name="alpha")
    assert [s.held_count() for s in brain.watch.suspicions.values()] == [1]
    for name in ("bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo"):
        for i in range(2):
            t += 1
            brain.learn(_obs(f"/widgets/{name}", t, {"id": i, "name": name, "colour": "blue"}))
    brain.settle()  # the names become one parameter: /widgets/alpha's answers join /widgets/{}
    [ep] = brain.endpoints()
    assert [key[2] for key in brain.watch.suspicions] == [ep.skeleton]  # the held answer went along
    t += 1
    brain.learn(_obs("/widgets/alpha", t, {"id": 100, "name": "alpha", "colour": "red"}))  # colour is back
    assert not brain.watch.suspicions  # contradicted: the held answer is learned, none is lost
    assert sum(e.responses["200"].count for e in brain.endpoints()) == t
    assert ep.responses["200"].count == t - 1 and ep.responses["200"].properties()["colour"].count == t - 2


def test_answers_held_back_and_their_evidence_survive_a_save_and_load() -> None:
    brain, t = _colour_gone_once("/widgets/7", token="s3cr3t")
    _, rows, _ = brain.take_changes()
    assert "s3cr3t" not in json.dumps(rows)  # (held bodies are saved summarised and redacted)
    again = Brain(Watchdog())
    again.load({"trees": {"api.example.com": {"scheme": "https", "tree": brain.hosts["api.example.com"].tree.to_dict()}},
                "endpoints": rows})
    [ep] = again.endpoints()
    assert ep.responses["200"].count == 8
    t += 1
    again.learn(_obs("/widgets/7", t, {"id": 9, "token": "s3cr3t"}))  # gone again: the run goes on
    [alert] = again.alert_list()
    assert [(c["path"], c["label"]) for c in alert["changes"]] == [("$.colour", "BREAKING")]
    assert alert["pending"]["n"] == 2  # the answer held before the restart is in the alert's evidence

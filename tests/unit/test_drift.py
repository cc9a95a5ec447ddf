"""The drift detector: one body against a learned schema -> labelled changes with JSON paths."""
from __future__ import annotations

import json

import pytest

from mimic_addon.model.schema import SchemaNode
from mimic_addon.watch.alerts import AlertBook
from mimic_addon.watch.drift import Change, check_response, compare, label_of, score, summary


def learned(bodies) -> SchemaNode:
    node = SchemaNode()
    for b in bodies:
        node.observe(b)
    return node


def user(i: int, **extra) -> dict:
    body = {"id": i, "name": f"user {i}", "avatar_url": f"https://img.example.com/{i}.png",
            "uid": f"7d2f1c3e-0b4a-4c1d-9e8f-{i:012d}", "created_at": "2024-05-01T10:00:00Z",
            "status": ["active", "banned", "pending"][i % 3], "tags": [{"k": "a", "v": i}]}
    if i % 2:
        body["nickname"] = "nick"  # optional: present in half
    body.update(extra)
    return body


SCHEMA = learned([user(i) for i in range(60)])


def kinds(changes: list[Change]) -> set[tuple[str, str, str]]:
    return {(c.path, c.kind, c.label) for c in changes}


def test_unchanged_and_optional_absent_are_not_drift() -> None:
    assert compare(SCHEMA, user(3)) == []
    body = user(1)
    del body["nickname"]  # optional field absent: not drift
    assert compare(SCHEMA, body) == []


@pytest.mark.parametrize("mutate, expected", [
    (lambda b: b.pop("avatar_url"), ("$.avatar_url", "missing_field", "BREAKING")),
    (lambda b: b.update(id="3"), ("$.id", "type_changed", "BREAKING")),
    (lambda b: b.update(tags={"k": "a"}), ("$.tags", "type_changed", "BREAKING")),
    (lambda b: b["tags"][0].pop("v"), ("$.tags[].v", "missing_field", "BREAKING")),
    (lambda b: b.update(name=None), ("$.name", "null_value", "WARNING")),
    (lambda b: b.update(uid="not a uuid"), ("$.uid", "format_changed", "WARNING")),
    (lambda b: b.update(created_at=1714557600), ("$.created_at", "format_changed", "WARNING")),
    (lambda b: b.update(status="deleted"), ("$.status", "new_enum_value", "WARNING")),
    (lambda b: b.update(email="x@example.com"), ("$.email", "new_field", "INFO")),
])
def test_each_kind_of_change(mutate, expected) -> None:
    body = user(3)
    body["tags"] = [dict(t) for t in body["tags"]]
    mutate(body)
    assert kinds(compare(SCHEMA, body)) == {expected}


def test_integer_and_number_are_compatible() -> None:
    node = learned([{"price": i} for i in range(60)])
    assert compare(node, {"price": 12.5}) == []


def test_rarely_seen_places_are_not_judged() -> None:
    node = learned([{"a": 1, **({"rare": {"x": 1}} if i == 0 else {})} for i in range(60)])
    assert compare(node, {"a": 1, "rare": {"y": 2}}, min_count=50) == []
    assert kinds(compare(node, {"a": 1, "rare": {"y": 2}})) == {("$.rare.x", "missing_field", "BREAKING"),
                                                                ("$.rare.y", "new_field", "INFO")}


def test_examples_are_redacted() -> None:
    [change] = compare(SCHEMA, user(3, access_token="s3cr3t-value"))
    assert change.kind == "new_field" and change.example == "[REDACTED]"


def test_not_json_and_error_status() -> None:
    assert kinds(check_response(SCHEMA, True, None, False, 200, 0)[0]) == {("$", "not_json", "BREAKING")}
    assert check_response(SCHEMA, False, None, False, 200, 0)[0] == []  # was not always JSON
    [change], _ = check_response(None, False, None, False, 500, 30)
    assert (change.kind, change.label, change.seen) == ("error_status", "BREAKING", 30)
    assert check_response(None, False, None, False, 500, 0)[0] == []


# -- evidence per place (issue 14) ---------------------------------------------------------------

def test_each_place_is_armed_on_its_own_evidence() -> None:
    # a sub-object first seen late (3 times) is still learning while the rest of the body is judged
    node = learned([{"a": 1, "b": "x", **({"late": {"x": 1}} if i >= 57 else {})} for i in range(60)])
    assert kinds(compare(node, {"a": 1, "late": {"y": 2}}, min_count=8)) == {("$.b", "missing_field", "BREAKING")}
    [change] = compare(node, {"a": 1, "late": {"y": 2}}, min_count=8)
    assert (change.seen, change.exceptions) == (60, 0)


def test_items_of_a_list_are_not_answers() -> None:
    # 5 answers with 40 items each: 200 items, but only 5 answers of evidence, below 8
    node = learned([{"items": [{"id": j, "v": "x"} for j in range(40)]} for _ in range(5)])
    assert compare(node, {"items": [{"id": 1}]}, min_count=8) == []
    node = learned([{"items": [{"id": j, "v": "x"} for j in range(40)]} for _ in range(9)])
    assert kinds(compare(node, {"items": [{"id": 1}]}, min_count=8)) == {("$.items[].v", "missing_field", "BREAKING")}


def test_a_place_that_varies_within_one_answer_is_no_change() -> None:
    node = learned([{"items": [{"id": j, "v": "x"} for j in range(4)]} for _ in range(20)])
    assert compare(node, {"items": [{"id": 1}, {"id": 2, "v": "x"}]}) == []  # one item had it as usual
    assert kinds(compare(node, {"items": [{"id": 1}, {"id": 2}]})) == {("$.items[].v", "missing_field", "BREAKING")}


def test_objects_are_judged_against_their_variant() -> None:
    text = [{"type": "text", "text": f"t{i}", "id": i} for i in range(20)]
    image = [{"type": "image", "url": f"https://x/{i}.png", "id": i} for i in range(20)]
    node = learned([{"blocks": [t, im]} for t, im in zip(text, image)])
    assert compare(node, {"blocks": [{"type": "text", "text": "a", "id": 1}]}) == []
    # against the union, an image block lacks `text`; against its variant it lacks its own `url`
    assert kinds(compare(node, {"blocks": [{"type": "image", "id": 1}]})) == {
        ("$.blocks[].url", "missing_field", "BREAKING")}
    # a kind never seen is still learning, not a body that lost every field: only evidence
    assert all(c.shaky for c in compare(node, {"blocks": [{"type": "video", "src": "v.mp4", "id": 2}]}))


def test_an_object_of_another_shape_only_counts_as_evidence() -> None:
    node = learned([{"id": i, "name": "n", "email": "e@x.io", "role": "r"} for i in range(20)])
    other = compare(node, {"id": 1, "title": "other kind", "size": 3})  # lacks 3, brings new ones
    assert {c.path for c in other} == {"$.name", "$.email", "$.role", "$.title", "$.size"}
    assert all(c.shaky for c in other)  # (another kind of object, or a change: evidence for the run)
    [role] = compare(node, {"id": 1, "name": "n", "email": "e@x.io"})
    assert (role.path, role.kind, role.label, role.shaky) == ("$.role", "missing_field", "BREAKING", False)


def test_two_of_many_always_present_fields_gone_are_changes_not_another_shape() -> None:
    fields = {f"f{k}": k for k in range(7)}  # seven always there, two optional
    node = learned([{**fields, **({"tier": "gold"} if i % 2 else {}), **({"note": "n"} if i % 3 else {})}
                    for i in range(20)])
    two = compare(node, {k: v for k, v in fields.items() if k not in ("f1", "f2")})
    assert {c.path for c in two} == {"$.f1", "$.f2"} and not any(c.shaky for c in two)
    three = compare(node, {k: v for k, v in fields.items() if k not in ("f1", "f2", "f3")})
    assert len(three) == 3 and all(c.shaky for c in three)  # a third of them: maybe a sparser shape
    six = learned([{k: v for k, v in fields.items() if k != "f6"} for _ in range(20)])  # six always there
    exactly = compare(six, {"f0": 0, "f3": 3, "f4": 4, "f5": 5, "src": "s"})  # two of six, and a new field
    assert {c.path for c in exactly} == {"$.f1", "$.f2", "$.src"} and all(c.shaky for c in exactly)


def test_an_object_with_a_tag_never_seen_is_judged_against_all_kinds_as_evidence() -> None:
    text = [{"type": "text", "text": f"t{i}", "size": i} for i in range(20)]
    image = [{"type": "image", "url": f"https://x/{i}.png", "size": i} for i in range(20)]
    node = learned(text + image)
    found = compare(node, {"type": "video", "src": "v.mp4", "size": True})
    assert ("$.size", "type_changed", "BREAKING") in kinds(found) and all(c.shaky for c in found)


def test_an_almost_always_present_field_is_graded_one_label_lower() -> None:
    node = learned([{"id": i, **({"note": "n"} if i % 50 else {})} for i in range(100)])
    [change] = compare(node, {"id": 1})
    assert (change.kind, change.label, change.exceptions) == ("missing_field", "WARNING", 2)
    rare = learned([{"id": i, **({"note": "n"} if i % 2 else {})} for i in range(100)])
    assert compare(rare, {"id": 1}) == []  # optional: absent is no drift


def test_a_place_that_deviated_once_keeps_its_label() -> None:
    # once in a hundred answers is an accident its readers never had to handle: the label stays,
    # though the evidence needed is that of a place that deviated (`evidence.threshold`)
    once = learned([{"id": i, **({"note": "n"} if i else {})} for i in range(100)])
    [change] = compare(once, {"id": 1})
    assert (change.kind, change.label, change.exceptions) == ("missing_field", "BREAKING", 1)
    nulls = learned([{"id": i, "note": "n" if i else None} for i in range(100)])
    [change] = compare(nulls, {"id": 1, "note": None})
    assert (change.kind, change.label, change.exceptions) == ("null_value", "WARNING", 1)
    twice = learned([{"id": i, "note": "n" if i % 50 else None} for i in range(100)])
    [change] = compare(twice, {"id": 1, "note": None})
    assert (change.kind, change.label, change.exceptions) == ("null_value", "INFO", 2)


def test_confidence_grows_with_the_run_and_the_sightings() -> None:
    from mimic_addon.watch.evidence import chance, weighed

    change = Change("$.a", "missing_field", "present", "missing", None, 8, 0)
    assert chance(8, 0, 1) == pytest.approx(0.1)
    assert weighed(change, 1) == (change.__class__(*[*vars_of(change)[:7], 0.9]), False)  # may be optional
    sure_change, sure = weighed(change, 2)
    assert sure and sure_change.confidence == pytest.approx(1 - 1 / 10 * 2 / 11)
    assert weighed(Change("$.a", "missing_field", "present", "missing", None, 100, 0), 1)[1] is False
    assert weighed(Change("$.a", "missing_field", "present", "missing", None, 500, 0), 1)[1] is True
    assert weighed(Change("$.a", "missing_field", "present", "missing", None, 500, 0), 2)[1] is True
    # unvouched (only the path says whose answer it is): never on one answer alone
    assert weighed(Change("$.a", "missing_field", "present", "missing", None, 500, 0), 1, vouched=False)[1] is False
    assert weighed(Change("$.a", "missing_field", "present", "missing", None, 500, 0), 2, vouched=False)[1] is True
    assert weighed(Change("$.b", "new_field", "absent", "string", None, 8, 0), 1)[1] is True  # INFO at once
    graded = Change("$.a", "missing_field", "present", "missing", None, 100, 2, grade=1)
    assert not weighed(graded, 2)[1] and weighed(graded, 6)[1]
    assert Change.from_dict(sure_change.to_dict()) == change.__class__(*[*vars_of(change)[:7], round(sure_change.confidence, 4)])
    assert Change.from_dict(graded.to_dict()).label == "WARNING"


def vars_of(c: Change) -> list:
    return [c.path, c.kind, c.expected, c.actual, c.example, c.seen, c.exceptions, c.confidence, c.grade]


def test_summary_score_and_label() -> None:
    body = user(3, name=None, extra=1)
    del body["avatar_url"]
    changes = compare(SCHEMA, body)
    assert summary(changes) == "1 breaking, 1 warning, 1 info"
    assert label_of(changes) == "BREAKING"
    assert 0 < score(changes) <= 100
    assert score([]) == 0 and label_of([]) is None


def test_same_change_is_one_alert_with_a_count() -> None:
    book = AlertBook()
    body = user(3)
    del body["avatar_url"]
    changes = compare(SCHEMA, body)
    first, new = book.record("h", "GET", "/u/{}", "/v1/u/{id}", 200, changes, 10.0)
    assert new == changes
    for ts in range(11, 1000):
        again, new = book.record("h", "GET", "/u/{}", "/v1/u/{id}", 200, changes, float(ts))
        assert again is first and new == []
    assert len(book.alerts) == 1 and first.count == 990
    d = first.to_dict()
    assert (d["first_seen"], d["last_seen"], d["label"], d["template"]) == (10.0, 999.0, "BREAKING", "/v1/u/{id}")
    assert d["changes"][0]["path"] == "$.avatar_url" and d["changes"][0]["count"] == 990
    book.resolve(first.id, "fixed", 1000.0)
    assert book.listing(unresolved=True) == []
    reopened, _ = book.record("h", "GET", "/u/{}", "/v1/u/{id}", 200, changes, 1001.0)
    assert reopened is not first
    assert [a.id for a in book.listing(unresolved=True)] == [reopened.id]


def test_alert_round_trip() -> None:
    book = AlertBook()
    alert, _ = book.record("h", "GET", "/u/{}", "/u/{id}", 200, compare(SCHEMA, user(3, name=None)), 1.0)
    book.withhold(alert, user(3, name=None), True)
    rows, _ = book.take_changes()
    other = AlertBook()
    other.load(rows)
    assert other.alerts[alert.id].to_dict() == alert.to_dict()
    assert other.open[alert.key].pending.count == 1


def test_an_alert_keeps_a_bounded_number_of_changes() -> None:
    from mimic_addon.watch.alerts import MAX_CHANGES_PER_ALERT

    book = AlertBook()
    for i in range(3 * MAX_CHANGES_PER_ALERT):   # random keys in every body: new fields without end
        alert, _ = book.record("h", "GET", "/u/{}", "/u/{id}", 200,
                               [Change(f"$.k{i}", "new_field", "absent", "string")], float(i))
    assert len(alert.changes) == MAX_CHANGES_PER_ALERT and alert.count == 3 * MAX_CHANGES_PER_ALERT


# -- the watchdog: answers held while a change is only suspected --------------------------------

def _brain_with(n: int):
    from mimic_addon.learn.brain import Brain
    from mimic_addon.learn.watchdog import Watchdog
    from tests.unit.test_watch_resolve import observation

    brain = Brain(Watchdog())
    for i in range(1, n + 1):
        brain.learn(observation(i))
    return brain, observation


def test_a_suspected_change_holds_its_answer_and_a_contradiction_releases_it() -> None:
    brain, observation = _brain_with(8)
    ep = brain.endpoints()[0]
    brain.learn(observation(9, body={"id": 9, "name": "u9"}))  # avatar_url absent once: may be optional
    assert brain.alert_list() == [] and ep.responses["200"].count == 8  # held back, not learned yet
    brain.learn(observation(10))  # present again: it was optional after all
    assert brain.alert_list() == []
    node = ep.responses["200"]
    assert node.count == 10 and node.properties()["avatar_url"].count == 9  # the held answer is learned
    assert not brain.watch.suspicions


def test_a_confirmed_change_takes_its_held_answers_and_expected_learns_them() -> None:
    brain, observation = _brain_with(8)
    ep = brain.endpoints()[0]
    for i in (9, 10, 11):
        brain.learn(observation(i, body={"id": i, "name": f"u{i}"}))
    [alert] = brain.alert_list()
    assert alert["count"] == 3 and alert["changes"][0]["count"] == 3 and alert["label"] == "BREAKING"
    assert alert["pending"]["n"] == 3 and ep.responses["200"].count == 8
    assert not brain.watch.suspicions  # (nothing is suspected any more: the alert has it)
    brain.resolve_alert(alert["id"], "expected", 1.0)
    assert ep.responses["200"].count == 11


def _feed(i: int, body: dict | None = None, status: int = 200):
    """An answer of `GET /feed`, one endpoint from the start."""
    from mitmproxy.test import tflow, tutils

    from mimic_addon.learn.observation import from_flow

    if body is None:
        body = {"id": i, "name": f"u{i}", "avatar_url": f"https://x/{i}.png"}
    req = tutils.treq(host="api.example.com", port=443, scheme=b"https", path=b"/feed", content=b"",
                      timestamp_start=float(i))
    resp = tutils.tresp(status_code=status, content=json.dumps(body).encode(), timestamp_start=i + 0.01,
                        timestamp_end=i + 0.01)
    resp.headers["content-type"] = "application/json"
    return from_flow(tflow.tflow(req=req, resp=resp), 1 << 20)


def test_a_busy_endpoint_is_judged_on_the_answers_it_learns_then_on_every_one() -> None:
    from mimic_addon.learn.brain import Brain
    from mimic_addon.learn.watchdog import JUDGE_THIRD_UNTIL, Watchdog, judged_one_in

    brain = Brain(Watchdog())
    for i in range(JUDGE_THIRD_UNTIL + 1):  # past them, one answer in ten is judged while nothing is suspected
        brain.learn(_feed(i))
    brain.settle()
    [ep] = brain.endpoints()
    changed = range(JUDGE_THIRD_UNTIL + 1, JUDGE_THIRD_UNTIL + 31)
    for i in changed:  # avatar_url gone from each; the next one judged is the 10th of them
        brain.learn(_feed(i, {"id": i, "name": f"u{i}"}))
    [alert] = brain.alert_list()
    first_judged = JUDGE_THIRD_UNTIL + 10  # (the status' count is a multiple of ten)
    assert judged_one_in(first_judged) == 10
    assert alert["changes"][0]["path"] == "$.avatar_url" and alert["label"] == "BREAKING"
    assert alert["changes"][0]["count"] == changed[-1] - first_judged + 1  # every answer from then on
    assert ep.stats.count == changed[-1] + 1  # each one counted all the same


def test_every_answer_is_judged_while_the_learner_learns_every_body() -> None:
    from mimic_addon.learn.brain import SAMPLE_ALL_UNTIL
    from mimic_addon.learn.watchdog import JUDGE_ALL_UNTIL

    assert JUDGE_ALL_UNTIL == SAMPLE_ALL_UNTIL  # (the watchdog cannot import the brain, which imports it)


def test_between_the_bands_one_answer_in_three_is_judged() -> None:
    from mimic_addon.learn.brain import Brain
    from mimic_addon.learn.watchdog import JUDGE_ALL_UNTIL, JUDGE_THIRD_UNTIL, Watchdog, judged_one_in

    brain = Brain(Watchdog())
    warm = JUDGE_ALL_UNTIL + 101
    for i in range(warm):
        brain.learn(_feed(i))
    brain.settle()
    changed = range(warm, warm + 20)
    for i in changed:
        brain.learn(_feed(i, {"id": i, "name": f"u{i}"}))
    [alert] = brain.alert_list()
    first_judged = next(i for i in changed if i % 3 == 0 or i % 10 == 0)  # (or sampled by the learner)
    assert judged_one_in(first_judged) == 3 and first_judged < JUDGE_THIRD_UNTIL
    assert alert["changes"][0]["count"] == changed[-1] - first_judged + 1


def test_a_busy_status_never_sampled_by_the_learner_is_judged_on_its_own_answers() -> None:
    from mimic_addon.learn.brain import Brain
    from mimic_addon.learn.watchdog import JUDGE_THIRD_UNTIL, Watchdog

    brain = Brain(Watchdog())

    def step(i: int, gone: bool) -> None:  # a poller: four found, one gone (never on a tenth answer)
        if i % 5 == 4:
            brain.learn(_feed(i, {"message": "nf"} if gone else {"error": "nf", "code": 404}, status=404))
        else:
            brain.learn(_feed(i))

    warm = 5 * JUDGE_THIRD_UNTIL + 10  # past them for the 404s too
    for i in range(warm):
        step(i, False)
    brain.settle()
    for i in range(warm, warm + 100):
        step(i, True)
    [alert] = brain.alert_list()
    assert alert["status"] == 404 and alert["label"] == "BREAKING"
    assert {c["path"] for c in alert["changes"] if c["kind"] == "missing_field"} == {"$.error", "$.code"}


def _varied(i: int, **drop) -> dict:
    """An object with optional fields (`tier`, `note`) beside always-present ones."""
    body = {"id": i, "name": f"u{i}", "avatar_url": f"https://img/{i}.png", "email": f"u{i}@x.io"}
    if i % 2:
        body["tier"] = "gold"
    if i % 3:
        body["note"] = "n"
    for name in drop:
        body.pop(name, None)
    return body


def test_an_answer_of_another_shape_holds_its_evidence_instead_of_being_learned() -> None:
    brain, observation = _brain_with(0)
    for i in range(1, 11):
        brain.learn(observation(i, body=_varied(i)))
    ep = brain.endpoints()[0]
    # avatar_url removed; the first answer also lacks email (two always-present fields at once, in
    # an object whose fields vary: maybe another shape of it) -- it is held, not learned
    brain.learn(observation(11, body=_varied(11, avatar_url=1, email=1)))
    assert brain.alert_list() == [] and ep.responses["200"].count == 10
    brain.learn(observation(12, body=_varied(12, avatar_url=1)))
    [alert] = brain.alert_list()
    assert [(c["path"], c["label"]) for c in alert["changes"]] == [("$.avatar_url", "BREAKING")]
    assert ep.responses["200"].properties()["avatar_url"].count == 10  # nothing made it optional


def test_answers_of_another_shape_alone_alert_only_on_a_long_run() -> None:
    brain, observation = _brain_with(0)
    for i in range(1, 11):
        brain.learn(observation(i, body=_varied(i)))
    ep = brain.endpoints()[0]
    for i in range(11, 31):  # a sparser shape from now on
        brain.learn(observation(i, body=_varied(i, avatar_url=1, email=1)))
        if i == 18:  # (two in a row would do for a place that never deviated)
            assert brain.alert_list() == [] and ep.responses["200"].count == 10  # held back meanwhile
    [alert] = brain.alert_list()
    assert {c["path"] for c in alert["changes"]} == {"$.avatar_url", "$.email"} and alert["label"] == "BREAKING"
    assert alert["pending"]["n"] == 20 and ep.responses["200"].count == 10


def _item(i: int, kind: str, **extra) -> dict:
    """An answer whose objects come in kinds tagged by `type`, each with fields of its own."""
    own = {"text": {"text": f"t{i}", "lang": "en"}, "image": {"url": f"https://x/{i}.png", "width": i},
           "audio": {"seconds": i, "codec": "opus"}}
    return {"id": i, "type": kind, **own.get(kind, {}), **extra}


def test_a_new_field_first_seen_in_another_kind_of_object_is_still_reported_when_the_usual_kind_brings_it() -> None:
    brain, observation = _brain_with(0)
    kinds_seen = ("text", "image", "audio")  # (too few answers of each to judge an unseen `type` as news)
    for i in range(1, 15):  # kinds too young to be judged apart: judged against them all
        brain.learn(observation(i, body=_item(i, kinds_seen[i % 3])))
    ep = brain.endpoints()[0]
    # a field added to every answer; the first to bring it is of a kind never seen (its fields: evidence)
    brain.learn(observation(15, body=_item(15, "video", src="v.mp4", rating=1)))
    assert brain.alert_list() == [] and ep.responses["200"].count == 14  # held back, not learned yet
    brain.learn(observation(16, body=_item(16, "text", rating=1)))
    [alert] = brain.alert_list()
    assert [(c["path"], c["label"]) for c in alert["changes"]] == [("$.rating", "INFO")]
    assert ep.responses["200"].count == 16  # (the video's `src` ended its run: both are learned)


def test_a_new_field_of_another_kind_holds_its_answers_for_a_few_answers_only() -> None:
    from mimic_addon.watch.evidence import MAX_SHAKY_NEW_HELD, Suspicion

    src = Change("$.src", "new_field", "absent", "string", None, 14, 0, shaky=True)
    suspicion = Suspicion()
    for run in range(1, MAX_SHAKY_NEW_HELD + 1):  # a kind never seen, again and again
        assert suspicion.update([src], set(), True) == {src.key: run} and suspicion.holding()
        suspicion.hold({"src": "v.mp4"}, True)
    suspicion.update([src], set(), True)  # it keeps coming: a kind of its own, learned from now on
    assert not suspicion.holding()
    suspicion = Suspicion()
    suspicion.update([src], set(), True)
    suspicion.update([], set(), True)  # an answer without it: its run ends
    assert not suspicion.runs and not suspicion.holding()
    plain = Change("$.src", "new_field", "absent", "string", None, 14, 0)  # in a usual object: INFO at once
    suspicion.update([plain], set(), True)
    assert not suspicion.holding()


def _learn_items(kinds_after: list[str]):
    brain, observation = _brain_with(0)
    kinds_seen = ("text", "image", "audio")
    for i in range(1, 15):
        brain.learn(observation(i, body=_item(i, kinds_seen[i % 3])))
    extra = {"video": {"src": "v.mp4"}, "poll": {"options": ["a", "b"]}}
    for i, kind in enumerate(kinds_after, start=15):
        brain.learn(observation(i, body=_item(i, kind, **extra[kind])))
    return brain, brain.endpoints()[0]


def test_new_kinds_of_object_that_keep_coming_are_learned_after_a_few_answers() -> None:
    for kinds_after in (["video"] * 4, ["video", "poll"] * 2):  # one new kind, or two taking turns
        brain, ep = _learn_items(kinds_after)
        assert brain.alert_list() == [] and ep.responses["200"].count == 18, kinds_after
        assert {"src", "options"} & set(ep.responses["200"].properties()) == {
            {"video": "src", "poll": "options"}[k] for k in kinds_after}
        assert not brain.watch.suspicions or not next(iter(brain.watch.suspicions.values())).held
    brain, ep = _learn_items(["video", "poll", "video"])  # still few: held back for now
    assert ep.responses["200"].count == 14


def _answer(i: int, status: int):
    import json as _json

    from mitmproxy.test import tflow, tutils

    from mimic_addon.learn.observation import from_flow

    body = {"id": i, "name": f"u{i}"} if status < 400 else {"error": "boom"}
    req = tutils.treq(host="api.example.com", port=443, scheme=b"https", path=f"/users/{i}".encode(),
                      content=b"", timestamp_start=float(i))
    resp = tutils.tresp(status_code=status, content=_json.dumps(body).encode(),
                        timestamp_start=i + 0.01, timestamp_end=i + 0.01)
    resp.headers["content-type"] = "application/json"
    return from_flow(tflow.tflow(req=req, resp=resp), 1 << 20)


def test_errors_on_a_shape_that_always_succeeded_are_drift_only_a_few_in_a_row() -> None:
    from mimic_addon.learn.brain import Brain
    from mimic_addon.learn.watchdog import Watchdog

    brain = Brain(Watchdog())
    for i in range(1, 31):
        brain.learn(_answer(i, 200))
    for i in range(31, 34):  # 3 errors in a row after 30 successes: P = 1/32 * 2/33 * 3/34 > 1e-4
        brain.learn(_answer(i, 500))
    assert brain.alert_list() == []
    brain.learn(_answer(34, 500))  # the 4th: P < 1e-4
    [alert] = brain.alert_list()
    [change] = alert["changes"]
    assert (alert["status"], change["kind"], change["label"], change["seen"]) == (500, "error_status", "BREAKING", 30)


def test_an_isolated_error_is_no_drift_and_makes_the_shape_no_longer_always_successful() -> None:
    from mimic_addon.learn.brain import Brain
    from mimic_addon.learn.watchdog import Watchdog

    brain = Brain(Watchdog())
    for i in range(1, 31):
        brain.learn(_answer(i, 200))
    brain.learn(_answer(31, 404))
    brain.learn(_answer(32, 200))
    for i in range(33, 40):
        brain.learn(_answer(i, 500))
    assert brain.alert_list() == []


def test_a_field_that_comes_back_withdraws_its_alert_and_learns_what_was_withheld() -> None:
    brain, observation = _brain_with(8)
    ep = brain.endpoints()[0]
    for i in (9, 10):  # avatar_url absent twice in a row after 8 of 8: a change, as far as one can tell
        brain.learn(observation(i, body={"id": i, "name": f"u{i}"}))
    [alert] = brain.alert_list()
    assert alert["label"] == "BREAKING" and not alert["resolved"]
    brain.learn(observation(11))  # back as learned: it was optional, not removed
    [alert] = brain.alert_list()
    assert alert["resolved"] and alert["resolution"] == "withdrawn" and alert["changes"] == []
    assert [c["path"] for c in alert["withdrawn"]] == ["$.avatar_url"]
    node = ep.responses["200"]
    assert node.count == 11 and node.properties()["avatar_url"].count == 9  # now optional
    for i in (12, 13):  # optional now: two more absences are no alert
        brain.learn(observation(i, body={"id": i, "name": f"u{i}"}))
    assert [a["resolved"] for a in brain.alert_list()] == [True]


def test_a_withdrawn_change_leaves_the_others_of_its_alert_standing() -> None:
    brain, observation = _brain_with(8)
    for i in (9, 10):  # avatar_url gone and id a string
        brain.learn(observation(i, body={"id": str(i), "name": f"u{i}"}))
    brain.learn(observation(11, body={"id": "11", "name": "u11", "avatar_url": "https://x/11.png"}))
    [alert] = brain.alert_list()
    assert not alert["resolved"] and alert["label"] == "BREAKING"
    assert [c["path"] for c in alert["changes"]] == ["$.id"]
    assert [c["path"] for c in alert["withdrawn"]] == ["$.avatar_url"]
    assert _round_trips(alert)


def _round_trips(d: dict) -> bool:
    from mimic_addon.watch.alerts import Alert
    back = Alert.from_dict(d).to_dict()
    return back["changes"] == d["changes"] and back["withdrawn"] == d["withdrawn"]


def test_an_optional_field_arriving_null_is_graded_one_label_lower() -> None:
    body = user(1, nickname=None)  # nickname: present in half the answers, never null
    [change] = compare(SCHEMA, body)
    assert (change.path, change.kind, change.label, change.exceptions) == ("$.nickname", "null_value", "INFO", 0)
    assert kinds(compare(SCHEMA, user(1, name=None))) == {("$.name", "null_value", "WARNING")}  # always there


def test_a_long_confirmed_change_is_not_withdrawn_when_its_place_comes_back() -> None:
    brain, observation = _brain_with(8)
    for i in range(9, 29):  # missing from 20 answers in a row: no optional field does that
        brain.learn(observation(i, body={"id": i, "name": f"u{i}"}))
    brain.learn(observation(29))  # back: a rollback or a mixed rollout, the alert stands
    [alert] = brain.alert_list()
    assert not alert["resolved"] and [c["path"] for c in alert["changes"]] == ["$.avatar_url"]


# -- the walk follows only the watched places ----------------------------------------------------

def test_places_under_watched_ones() -> None:
    from mimic_addon.watch.drift import _ancestors

    assert _ancestors(frozenset({"$.a[].b", "$.a[][]", "$"})) == {"$", "$.a", "$.a[]"}
    assert _ancestors(frozenset({"$.x.y"})) == {"$", "$.x"}


def test_watched_places_had_as_usual_are_found_wherever_they_are() -> None:
    from mimic_addon.watch.drift import EVERYWHERE, inspect

    body = user(3, nickname=None)
    body["tags"] = [{"k": "a", "v": 1}, {"k": "b"}]
    everywhere = inspect(SCHEMA, body, watched=EVERYWHERE)[1]
    assert {"$.id", "$.tags[].k", "$.tags", "$.status"} <= everywhere
    for watched in ({"$.tags[].k"}, {"$.id", "$.tags[].v"}, {"$.status", "$.nickname", "$.nowhere[].x"}, {"$"}):
        changes, fine = inspect(SCHEMA, body, watched=watched)
        assert fine == everywhere & watched
        assert changes == inspect(SCHEMA, body)[0]


def test_fields_followed_for_absence_are_worked_out_ahead_without_changing_a_verdict() -> None:
    """`_near_always` lists, once for the next objects, the fields that may reach the floor by then;
    judged after each object learned or merged in, with that list and worked out afresh, answers agree."""
    import random

    rng = random.Random(7)
    presence = {f"f{i}": p for i, p in enumerate((1.0, 0.97, 0.93, 0.92, 0.91, 0.9, 0.89, 0.88, 0.85, 0.3))}

    def item(often: float = 1.0) -> dict:
        return {name: 1 for name, p in presence.items() if rng.random() < p * often}

    def body(often: float = 1.0) -> dict:
        return {**item(often), "items": [item(often) for _ in range(rng.randint(1, 5))]}

    def forget(node: SchemaNode) -> None:
        node.watch_memo = None
        for child in (node.props or {}).values():
            forget(child)
        if node.items is not None:
            forget(node.items)

    node = SchemaNode()
    disagreements, judged = 0, 0
    for step in range(400):
        if step % 25 == 24:  # (several objects at once: a field's count grows by as many at most)
            node.merge(learned([body() for _ in range(rng.randint(1, 30))]))
        else:
            node.observe(body())
        probe = body(0.5)  # (many fields absent at once)
        kept = compare(node, probe)
        forget(node)  # (worked out afresh)
        fresh = compare(node, probe)
        judged += bool(fresh)
        disagreements += kinds(kept) != kinds(fresh)
    assert judged > 20  # (absences were judged, some reported)
    assert disagreements == 0


def test_a_map_lets_go_of_the_fields_it_had() -> None:
    node = learned([{"name": "a", "size": 1}] * 10)
    compare(node, {"name": "a"})  # (the fields followed are worked out and kept on the node)
    assert node.watch_memo is not None
    node.observe({f"key{i}": i for i in range(300)})  # (too many keys: the object becomes a map)
    assert node.is_map and node.watch_memo is None


def test_a_followed_place_past_the_budget_is_still_seen_as_usual() -> None:
    # sixty objects come first in each answer: a followed place after them is walked to all the
    # same, so an answer that has it as usual ends its run (a run it does not end is no run in a row)
    from mimic_addon.watch.drift import MAX_OBJECTS_LOOKED_INTO, inspect

    def answer(i: int) -> dict:
        return {**{f"o{k}": {"v": k} for k in range(MAX_OBJECTS_LOOKED_INTO + 12)}, "z": {"a": i}}

    node = learned([answer(i) for i in range(10)])
    changes, fine = inspect(node, answer(11), min_count=8, watched={"$.z.a"})
    assert changes == [] and fine == {"$.z.a"}
    gone = answer(12)
    del gone["z"]["a"]
    assert [c.path for c in inspect(node, gone, min_count=8, watched={"$.z.a"})[0]] == ["$.z.a"]
    assert inspect(node, gone, min_count=8)[0] == []  # not followed: the budget bounds the walk


def test_deviations_of_list_items_count_per_answer() -> None:
    # 20 answers of 10 items each, `x` missing from 15 of the 200 items: as answers, 15 * 20 / 200
    # = 2 (seen is 20 answers), so the evidence P can still fall as the run grows
    bodies = [{"items": [{"id": k, **({} if a * 10 + k < 15 else {"x": 1})} for k in range(10)]} for a in range(20)]
    [change] = compare(learned(bodies), {"items": [{"id": 1}]})
    assert (change.path, change.seen, change.exceptions, change.label) == ("$.items[].x", 20, 2, "WARNING")


def test_an_optional_field_null_once_before_is_still_one_label_lower() -> None:
    node = learned([{"id": i, **({"nick": None if i == 1 else "n"} if i % 2 else {})} for i in range(100)])
    [change] = compare(node, {"id": 3, "nick": None})
    assert (change.kind, change.label, change.exceptions) == ("null_value", "INFO", 1)


def test_past_the_budget_only_one_item_of_a_list_is_followed() -> None:
    from mimic_addon.watch import drift

    node = learned([{"a": [{"b": [{"c": [{"d": i}] * 3}] * 3}] * 3} for i in range(10)])
    calls = []
    walk = drift._walk

    def counted(*args, **kwargs):
        calls.append(args[2])
        return walk(*args, **kwargs)

    drift._walk = counted
    try:
        budget = [0]
        out, fine = {}, set()
        watched = frozenset({"$.a[].b[].c[].d"})
        counted(node, {"a": [{"b": [{"c": [{"d": 1}] * 3}] * 3}] * 3}, "$", "", out, fine, 8, 10, watched,
                drift._ancestors(watched), budget)
    finally:
        drift._walk = walk
    # one item per list on the way (3 ** 3 = 27 items of the innermost list otherwise)
    assert fine == {"$.a[].b[].c[].d"} and calls.count("$.a[].b[].c[]") == 1


def test_only_breaking_and_warning_candidates_hold_their_answers() -> None:
    from mimic_addon.watch.evidence import Suspicion, holds

    graded_null = Change("$.a", "null_value", "string", "null", None, 100, 3, grade=1)  # INFO
    assert graded_null.label == "INFO" and not holds(graded_null, 1, 0)
    graded_gone = Change("$.a", "missing_field", "present", "missing", None, 100, 3, grade=1)  # WARNING
    assert holds(graded_gone, 1, 0) and holds(Change("$.a", "null_value", "string", "null", None, 100, 1), 1, 0)
    # a run's idle count starts again with a new run of the same place (an ended one leaves nothing)
    suspicion = Suspicion()
    suspicion.update([graded_gone], set(), True)
    suspicion.idle[graded_gone.key] = 30
    del suspicion.runs[graded_gone.key]  # (ended elsewhere: taken back, say)
    suspicion.update([graded_gone], set(), True)
    suspicion.update([], set(), True)
    assert suspicion.runs[graded_gone.key] == (1, True) and suspicion.idle[graded_gone.key] == 1


def test_not_found_on_a_path_with_a_parameter_is_no_drift() -> None:
    """Five GETs of unknown ids after thirty found opened a BREAKING "used to succeed" alert: a 404 of an
    item path says the item is not there, which clients ask for all the time."""
    from mimic_addon.learn.brain import Brain
    from mimic_addon.learn.watchdog import Watchdog

    brain = Brain(Watchdog())
    for i in range(1, 31):
        brain.learn(_answer(i, 200))
    for i in range(9000, 9010):
        brain.learn(_answer(i, 404))
    assert brain.alert_list() == []


def test_an_item_route_answering_only_404_for_long_is_drift_again() -> None:
    from mimic_addon.learn.brain import Brain
    from mimic_addon.learn.watchdog import NOT_FOUND_RUN, Watchdog

    brain = Brain(Watchdog())
    for i in range(1, 31):
        brain.learn(_answer(i, 200))
    for i in range(NOT_FOUND_RUN + 10):  # every id not found, none found between: the route is gone
        brain.learn(_answer(9000 + i, 404))
    [alert] = brain.alert_list()
    assert (alert["status"], alert["changes"][0]["kind"]) == (404, "error_status")

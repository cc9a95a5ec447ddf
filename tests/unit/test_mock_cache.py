"""Mock answers are generated once per distinct request and learned state, then served from a cache."""
from __future__ import annotations

import json

from mimic_addon.learn.brain import Brain
from mimic_addon.learn.observation import Body, Observation
from mimic_addon.serve.mock import MAX_CACHED_ANSWERS, Mocker
from mimic_addon.serve.synth import Context

BODY = json.dumps({"id": 1, "name": "Ada", "active": True}).encode()


def learn(brain: Brain, n: int) -> None:
    for i in range(n):
        brain.learn(Observation("api.test", "http", "GET", f"/users/{i}", Body(b"", "", "", 0), 200,
                                Body(BODY, "", "application/json", len(BODY)), 5.0, 1.0))


def test_repeated_requests_are_served_from_the_cache() -> None:
    brain = Brain()
    learn(brain, 5)
    (ep,) = brain.endpoints()
    mocker = Mocker()
    first = mocker.answer(ep, Context(), "happy", 42)
    assert mocker.answer(ep, Context(), "happy", 42) is first
    assert mocker.answer(ep, Context(), "happy", 43) is not first
    learn(brain, 1)  # the model moved on: answers are generated anew
    assert mocker.answer(ep, Context(), "happy", 42) is not first
    assert json.loads(mocker.answer(ep, Context(), "happy", 42).body).keys() == {"id", "name", "active"}


def test_the_cache_is_bounded() -> None:
    brain = Brain()
    learn(brain, 3)
    (ep,) = brain.endpoints()
    mocker = Mocker()
    for seed in range(MAX_CACHED_ANSWERS + 10):
        mocker.answer(ep, Context(), "happy", seed)
    assert len(mocker._answers) == MAX_CACHED_ANSWERS


def test_a_plan_is_compiled_again_when_another_endpoint_learns_what_it_reads() -> None:
    brain = Brain()

    def answer(path: str, body: dict) -> None:
        raw = json.dumps(body).encode()
        brain.learn(Observation("api.test", "http", "GET", path, Body(b"", "", "", 0), 200,
                                Body(raw, "", "application/json", len(raw)), 5.0, 1.0))

    for _ in range(3):
        answer("/gate", {"auth": {"state": "[REDACTED]"}})  # only ever seen redacted here
    mocker = Mocker()
    gate = next(ep for ep in brain.endpoints() if ep.skeleton == "/gate")
    first = mocker.plan(gate, "200", brain.endpoints())
    for state in ("open", "closed", "open", "closed"):
        answer("/doors", {"state": state})  # another endpoint learns the field's values
    again = mocker.plan(gate, "200", brain.endpoints())
    assert again is not first
    assert {json.loads(mocker.answer(gate, Context(), "happy", seed, brain.endpoints()).body)["auth"]["state"]
            for seed in range(20)} <= {"open", "closed"}


def answer_after(path: str, body: bytes, content_type: str):
    """The mock's answer to `GET path` once three answers `body` were learned."""
    brain = Brain()
    for _ in range(3):
        brain.learn(Observation("api.test", "http", "GET", path, Body(b"", "", "", 0), 200,
                                Body(body, "", content_type, len(body)), 5.0, 1.0))
    (ep,) = brain.endpoints()
    return Mocker().answer(ep, Context(), "happy", 42)


def test_an_endpoint_whose_json_was_never_readable_is_not_answered_with_an_empty_json_body() -> None:
    """Bodies sent as JSON that were not (malformed, over the size cap, a wrong Content-Encoding): an empty
    body labelled application/json broke every client's JSON.parse; the mock says what it cannot do."""
    answer = answer_after("/broken", b'{"id": 1, "name": ', "application/json")
    assert answer.status == 501 and answer.content_type == "application/json"
    assert "not readable" in json.loads(answer.body)["error"]


def test_a_stream_of_json_documents_is_not_taken_for_one() -> None:
    answer = answer_after("/events", b'{"a": 1}\n{"a": 2}\n', "application/x-ndjson")
    assert (answer.status, answer.content_type) == (200, "application/x-ndjson")


def test_booleans_are_as_often_true_as_they_were_seen() -> None:
    """`active` was true in every learned answer and mocked false a third of the time."""
    brain = Brain()
    for i in range(30):
        body = json.dumps({"id": i, "active": True, "deleted": False, "flag": i % 2 == 0}).encode()
        brain.learn(Observation("api.test", "http", "GET", f"/things/{i}", Body(b"", "", "", 0), 200,
                                Body(body, "", "application/json", len(body)), 5.0, 1.0))
    (ep,) = brain.endpoints()
    mocker = Mocker()
    answers = [json.loads(mocker.answer(ep, Context(), "happy", seed).body) for seed in range(60)]
    assert all(a["active"] is True and a["deleted"] is False for a in answers)
    assert 10 < sum(a["flag"] for a in answers) < 50

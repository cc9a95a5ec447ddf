"""The drift detector: one body against a learned schema -> labelled changes with JSON paths."""
from __future__ import annotations

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
    assert kinds(check_response(SCHEMA, True, None, False, 200, False)) == {("$", "not_json", "BREAKING")}
    assert check_response(SCHEMA, False, None, False, 200, False) == []  # was not always JSON
    assert kinds(check_response(None, False, None, False, 500, True)) == {("$", "error_status", "BREAKING")}
    assert check_response(None, False, None, False, 500, False) == []


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

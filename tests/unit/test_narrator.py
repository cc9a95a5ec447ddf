"""The narrator: deterministic plain-English explanations of contract changes."""
from __future__ import annotations

import pytest

from mimic_addon.watch.drift import Change
from mimic_addon.watch.narrator import alert_paragraph, narrate, narration, topic


@pytest.mark.parametrize("path, about", [
    ("$.id", "an identifier"),
    ("$.data[].user_id", "an identifier"),
    ("$.user.avatar_url", "a user profile image"),
    ("$.author.profileImage", "a user profile image"),
    ("$.access_token", "an authentication token or secret"),
    ("$.order.total_price", "a money amount"),
    ("$.created_at", "a timestamp"),
    ("$.updatedAt", "a timestamp"),
    ("$.email", "an e-mail address"),
    ("$.status", "a status or category"),
    ("$.is_active", "an on/off flag"),
    ("$.frobnicator", "a data field"),
    ("$", "the whole response"),
])
def test_topic_from_name_and_path(path: str, about: str) -> None:
    assert topic(path) == about


def test_missing_field_narration() -> None:
    n = narrate(Change("$.user.avatar_url", "missing_field", "present", "missing"))
    assert n["label"] == "BREAKING"
    assert "optional chaining (?.)" in n["action"]
    assert "images render broken" in n["impact"]
    assert n["text"].startswith("BREAKING: $.user.avatar_url (a user profile image) was present in every response")


def test_type_change_mentions_strict_comparisons() -> None:
    n = narrate(Change("$.id", "type_changed", "integer", "string", "42"))
    assert "strict comparisons (===)" in n["impact"] and "silently" in n["impact"]
    assert n["label"] == "BREAKING"


@pytest.mark.parametrize("change, label, words", [
    (Change("$.name", "null_value", "string", "null"), "WARNING", "??"),
    (Change("$.created_at", "format_changed", "string (date-time)", "integer", 1700000000), "WARNING", "1970"),
    (Change("$.status", "new_enum_value", "one of a, b", "string", "c"), "WARNING", "default branch"),
    (Change("$.nickname", "new_field", "absent", "string", "x"), "INFO", "no action needed"),
    (Change("$", "not_json", "JSON", "not JSON"), "BREAKING", "response.json()"),
])
def test_each_kind_has_label_impact_and_action(change: Change, label: str, words: str) -> None:
    n = narrate(change)
    assert n["label"] == label and n["impact"] and n["action"]
    assert words in n["text"]


def test_deterministic_paragraph() -> None:
    changes = [Change("$.avatar_url", "missing_field", "present", "missing"),
               Change("$.name", "null_value", "string", "null")]
    p = alert_paragraph("GET", "/v1/users/{user_id}", 200, changes)
    assert p == alert_paragraph("GET", "/v1/users/{user_id}", 200, list(changes))
    assert p.startswith("GET /v1/users/{user_id} (200) no longer matches its learned contract: 1 breaking, 1 warning.")
    assert len(narration("GET", "/v1/users/{user_id}", 200, changes).splitlines()) == 3


def test_the_code_in_a_narration_is_javascript_whatever_the_key() -> None:
    """Keys from traffic that are no JavaScript names are read in brackets (`data["x-id"]`): the impact
    never shows code built from a hostile key (`data."><img ...> is undefined`)."""
    hostile = '"><img src=x onerror=alert(1)>'
    n = narrate(Change(f"$.items[].{hostile}", "missing_field", "present", "missing"))
    assert 'data.items[i]["\\"><img src=x onerror=alert(1)>"] is undefined' in n["impact"]
    assert "data.items[i].x_id" in narrate(Change("$.items[].x_id", "missing_field", "present", "missing"))["impact"]
    assert 'data["x-id"]' in narrate(Change("$.x-id", "missing_field", "present", "missing"))["impact"]

from __future__ import annotations

import json
import time

import pytest
from jsonschema import Draft202012Validator

from mimic_addon.model.schema import SchemaNode, coerce_scalar, json_type


def observed(*values: object, **limits: int) -> SchemaNode:
    node = SchemaNode(**limits)
    for v in values:
        node.observe(v)
    return node


USERS = [
    {"id": "6f1c2d3e-1a2b-4c3d-8e9f-0a1b2c3d4e5f", "email": "ann@example.com", "age": 31,
     "status": "active", "created": "2024-05-01T10:00:00Z", "tags": ["a", "b"], "score": 1.5},
    {"id": "7f1c2d3e-1a2b-4c3d-8e9f-0a1b2c3d4e5f", "email": "bob@example.org", "age": 40,
     "status": "inactive", "created": "2024-05-02T11:30:00.123+02:00", "tags": [], "nick": None},
    {"id": "8f1c2d3e-1a2b-4c3d-8e9f-0a1b2c3d4e5f", "email": "cy@example.net", "age": None,
     "status": "active", "created": "2024-06-01T00:00:00Z", "tags": ["c"], "nick": "cy"},
]
REALISTIC_BODIES = [
    USERS,
    [{"data": USERS, "page": {"next": "https://api.example.com/users?page=2", "size": 3}},
     {"data": [], "page": {"next": None, "size": 0}, "warnings": ["slow"]}],
    [{"ok": True, "ip": "10.0.0.1", "day": "2024-01-31"}, {"ok": False, "ip": "192.168.1.20", "day": "2023-12-01"}],
    [1, 2.5, "x", None, [1, [2, {"a": 3}]], {"b": False}],
    [{"items": [{"sku": f"SKU-{i}", "qty": i, "price": i * 1.25} for i in range(80)]}],
]


@pytest.mark.parametrize("values", REALISTIC_BODIES)
def test_every_observed_value_validates_against_the_emitted_schema(values):
    schema = observed(*values).to_json_schema()
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for v in values:
        validator.validate(v)


@pytest.mark.parametrize("values", REALISTIC_BODIES)
def test_merge_equals_observing_everything(values):
    whole = observed(*values)
    for cut in range(len(values) + 1):
        left, right = observed(*values[:cut]), observed(*values[cut:])
        right.merge(left)  # order must not matter either
        assert right.to_json_schema() == whole.to_json_schema()
        assert right.to_dict() == whole.to_dict()


@pytest.mark.parametrize("values", REALISTIC_BODIES)
def test_to_dict_round_trips_exactly_through_json(values):
    node = observed(*values)
    stored = json.loads(json.dumps(node.to_dict()))
    restored = SchemaNode.from_dict(stored)
    assert restored == node
    assert restored.to_dict() == node.to_dict()
    assert restored.to_json_schema() == node.to_json_schema()
    assert restored.count == node.count == len(values)


def test_merge_leaves_the_other_node_independent():
    a, b = observed({"x": 1}), observed({"x": "s", "y": [1]})
    before = b.to_dict()
    a.merge(b)
    a.observe({"x": None, "y": [2, 3]})
    assert b.to_dict() == before


def test_required_versus_optional_properties():
    schema = observed({"a": 1, "b": 2}, {"a": 3}, {"a": 4, "c": "x"}).to_json_schema()
    assert schema["required"] == ["a"]
    assert set(schema["properties"]) == {"a", "b", "c"}


def test_required_list_is_sorted():
    schema = observed({"z": 1, "m": 1, "a": 1}).to_json_schema()
    assert schema["required"] == ["a", "m", "z"]


@pytest.mark.parametrize(
    ("values", "expected_type"),
    [
        ([1, 2], "integer"),
        ([1, 2.5], "number"),
        ([1.0], "number"),
        ([True, False], "boolean"),
        (["a", None], ["string", "null"]),
        ([1, "a"], ["string", "integer"]),
        ([1, 2.5, "a", None], ["string", "number", "null"]),
        ([None, None], "null"),
        ([{}, []], ["object", "array"]),
    ],
)
def test_type_unions_and_nullability(values, expected_type):
    assert observed(*values).to_json_schema()["type"] == expected_type


def test_nothing_observed_gives_the_empty_schema():
    assert SchemaNode().to_json_schema() == {}
    assert SchemaNode().count == 0


def test_ranges_and_lengths():
    schema = observed({"n": 3, "s": "abc", "l": [1]}, {"n": -1.5, "s": "a", "l": [1, 2, 3]}).to_json_schema()
    props = schema["properties"]
    assert (props["n"]["minimum"], props["n"]["maximum"]) == (-1.5, 3)
    assert (props["s"]["minLength"], props["s"]["maxLength"]) == (1, 3)
    assert (props["l"]["minItems"], props["l"]["maxItems"]) == (1, 3)


def test_non_finite_numbers_do_not_become_bounds():
    schema = observed(1, float("nan"), float("inf"), 5).to_json_schema()
    assert (schema["minimum"], schema["maximum"]) == (1, 5)


@pytest.mark.parametrize(
    ("values", "fmt"),
    [
        (["6f1c2d3e-1a2b-4c3d-8e9f-0a1b2c3d4e5f", "00000000-0000-0000-0000-000000000000"], "uuid"),
        (["a@b.io", "first.last+tag@example.co.uk"], "email"),
        (["2024-05-01T10:00:00Z", "2024-05-01t10:00:00.5-07:00"], "date-time"),
        (["2024-05-01", "1999-12-31"], "date"),
        (["https://example.com/a?b=c", "ftp://host/file"], "uri"),
        (["10.0.0.1", "255.255.255.255"], "ipv4"),
        (["a@b.io", None], "email"),
    ],
)
def test_formats_are_detected(values, fmt):
    assert observed(*values).to_json_schema()["format"] == fmt


@pytest.mark.parametrize(
    "values",
    [
        ["a@b.io", "not an email"],
        ["2024-05-01", "2024-13-01"],
        ["2024-05-01", "2024-05-01T10:00:00Z"],
        ["10.0.0.1", "10.0.0.256"],
        ["01.2.3.4"],
        ["example.com"],
        ["6f1c2d3e-1a2b-4c3d-8e9f-0a1b2c3d4e5g"],
    ],
)
def test_format_needs_every_string_to_match(values):
    assert "format" not in observed(*values).to_json_schema()


def test_enum_for_low_cardinality_status_field():
    schema = observed(*(["active", "inactive", "pending"] * 3)).to_json_schema()
    assert schema["enum"] == ["active", "inactive", "pending"]


def test_nullable_enum_includes_null():
    schema = observed("on", "off", "on", "off", "on", "off", None).to_json_schema()
    assert schema["enum"] == ["off", "on", None]
    Draft202012Validator(schema).validate(None)


@pytest.mark.parametrize(
    "values",
    [
        ["active", "inactive", "pending"] * 2 + ["active"] * 2,  # 8 < 3 x 3 observations
        [f"state{i}" for i in range(11)] * 5,  # too many distinct values
        ["Ann Smith", "Bob Jones"] * 10,  # people's names / free text
        ["this is some free text", "and another sentence"] * 10,
        ["a@b.io", "c@d.io"] * 10,  # emails have a format instead
        ["6f1c2d3e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"] * 10,
        ["usr_1234567", "usr_7654321"] * 10,  # ids
        ["12345", "67890"] * 10,
        ["x" * 65, "y"] * 10,  # long values
        [f"v{i}" for i in range(40)] + ["v1"] * 200,  # overflowed the tracker once
    ],
)
def test_enum_not_emitted(values):
    assert "enum" not in observed(*values).to_json_schema()


def test_enum_not_emitted_when_other_types_are_mixed_in():
    assert "enum" not in observed(*(["a", "b"] * 5), 1).to_json_schema()


def test_enum_overflow_survives_merge_and_storage():
    a = observed(*[f"v{i}" for i in range(40)])
    b = observed(*[f"w{i}" for i in range(40)])
    a.merge(b)
    assert a.to_dict()["eo"] == 1
    assert "ev" not in a.to_dict()
    assert SchemaNode.from_dict(a.to_dict()).to_dict() == a.to_dict()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42), ("-7", -7), ("0", 0), ("3.5", 3.5), ("1e3", 1000.0), ("true", True), ("false", False),
        ("007", "007"), ("abc", "abc"), ("", ""), ("1.2.3", "1.2.3"), ("True", "True"),
        ("12345678901234567890", "12345678901234567890"), ("nan", "nan"), ("1e999", "1e999"), ("+5", "+5"),
    ],
)
def test_coerce_scalar(text, expected):
    result = coerce_scalar(text)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "name"),
    [(None, "null"), (True, "boolean"), (1, "integer"), (1.0, "number"), ("s", "string"),
     ([], "array"), ((), "array"), ({}, "object")],
)
def test_json_type(value, name):
    assert json_type(value) == name


def test_json_type_rejects_non_json():
    with pytest.raises(TypeError):
        json_type(object())
    with pytest.raises(TypeError):
        SchemaNode().observe({1, 2})


def test_query_parameters_learn_coerced_types():
    node = observed(*(coerce_scalar(t) for t in ["1", "20", "3"]))
    assert node.to_json_schema() == {"type": "integer", "minimum": 1, "maximum": 20}


# -- hostile input ------------------------------------------------------------------------


def test_many_distinct_keys_fold_into_a_map():
    body = {f"key{i}": {"v": i} for i in range(10_000)}
    node = observed(body)
    schema = node.to_json_schema()
    assert "properties" not in schema
    assert schema["additionalProperties"]["properties"]["v"]["type"] == "integer"
    assert schema["additionalProperties"]["required"] == ["v"]
    assert len(json.dumps(node.to_dict())) < 1000
    Draft202012Validator(schema).validate(body)


def test_property_cap_is_configurable_and_merge_consistent():
    a = observed({f"k{i}": i for i in range(3)}, max_properties=4)
    b = observed({f"k{i}": i for i in range(3, 6)}, max_properties=4)
    assert "properties" in a.to_json_schema()
    a.merge(b)
    whole = observed({f"k{i}": i for i in range(3)}, {f"k{i}": i for i in range(3, 6)}, max_properties=4)
    assert a.to_json_schema() == whole.to_json_schema() == {
        "type": "object", "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 5}
    }


@pytest.mark.parametrize(
    "keys",
    [["1", "2", "3"], ["6f1c2d3e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"], ["5f2b9c1d3e4a5b6c7d8e9f00"]],
)
def test_id_like_keys_make_a_map(keys):
    schema = observed({k: {"name": "x"} for k in keys}).to_json_schema()
    assert "additionalProperties" in schema and "properties" not in schema


def test_map_conversion_midway_keeps_earlier_values():
    schema = observed({"name": "x", "count": 2}, {"name": "y", "123": True}).to_json_schema()
    assert schema["additionalProperties"]["type"] == ["string", "integer", "boolean"]


def test_deep_nesting_is_bounded_and_does_not_recurse_forever():
    deep: object = 1
    for _ in range(5000):
        deep = {"a": [deep]}
    node = observed(deep, deep)
    schema = node.to_json_schema()
    depth = 0
    while "properties" in schema or "items" in schema:
        schema = schema["properties"]["a"] if "properties" in schema else schema["items"]
        depth += 1
    assert depth == 12
    assert schema["type"] in ("object", "array")
    restored = SchemaNode.from_dict(json.loads(json.dumps(node.to_dict())))
    restored.merge(node)
    assert restored.count == 4


def test_depth_limit_is_configurable():
    schema = observed({"a": {"b": {"c": 1}}}, max_depth=1).to_json_schema()
    assert schema["properties"]["a"] == {"type": "object"}


def test_huge_array_is_fast_and_only_samples_items():
    body = list(range(100_000)) + ["last"]
    start = time.perf_counter()
    node = observed(body)
    elapsed = time.perf_counter() - start
    schema = node.to_json_schema()
    assert schema["minItems"] == schema["maxItems"] == 100_001
    assert node.items is not None and node.items.count == 50
    assert schema["items"]["type"] == ["string", "integer"]  # first and last item are sampled
    assert schema["items"]["minimum"] == 0
    assert elapsed < 0.05


@pytest.mark.parametrize(("length", "sampled"), [(4, 2), (5, 2), (3, 3), (100, 2)])
def test_array_item_cap_is_configurable(length, sampled):
    node = observed(list(range(length)), max_array_items=2 if length > 3 else 3)
    assert node.items is not None and node.items.count == sampled
    assert node.items.num_max == length - 1


def test_personal_fields_never_become_enums() -> None:
    node = SchemaNode()
    for _ in range(30):
        for first in ("Ada", "Grace"):
            node.observe({"firstName": first, "status": "active" if first == "Ada" else "away"})
    props = node.to_json_schema()["properties"]
    assert "enum" not in props["firstName"]
    assert props["status"]["enum"] == ["active", "away"]


PARTS = [
    {"type": "text", "text": "hello"},
    {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}},
    {"type": "text", "text": "bye", "annotations": []},
    {"type": "image_url", "image_url": {"url": "https://example.com/b.png", "detail": "high"}},
    {"type": "file", "file": {"id": "f1", "content": [{"kind": "a", "x": 1}, {"kind": "b", "y": "z"}]}},
]


def test_discriminated_variants_become_a_one_of():
    schema = observed(*PARTS).to_json_schema()
    branches = {b["properties"]["type"]["const"]: b for b in schema["oneOf"]}
    assert set(branches) == {"file", "image_url", "text"}
    assert branches["text"]["required"] == ["text", "type"]
    assert "image_url" not in branches["text"]["properties"]
    assert branches["image_url"]["required"] == ["image_url", "type"]
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for v in PARTS:
        validator.validate(v)
    assert not validator.is_valid({"type": "text", "image_url": {"url": "https://example.com/a.png"}})


def test_variants_merge_and_round_trip_exactly():
    values = PARTS * 3 + [{"type": "text", "text": "more"}]
    whole = observed(*values)
    for cut in range(len(values) + 1):
        left, right = observed(*values[:cut]), observed(*values[cut:])
        right.merge(left)
        assert right.to_dict() == whole.to_dict()
        assert right.to_json_schema() == whole.to_json_schema()
    restored = SchemaNode.from_dict(json.loads(json.dumps(whole.to_dict())))
    assert restored.to_dict() == whole.to_dict() and restored.to_json_schema() == whole.to_json_schema()


@pytest.mark.parametrize("values", [
    [{"type": "a", "x": 1}, {"type": "b", "x": 2}, {"type": "a", "x": 3}],  # same keys: no oneOf
    [{"type": "a", "x": 1}, {"y": 2}],                                    # one object untagged
    [{"type": "a", "x": 1}, {"kind": "b", "y": 2}],                       # different tag names
    [{"type": f"t{i}", f"k{i}": i} for i in range(33)],                   # too many variants (> 32)
    [{"type": "a", "x": 1}, {"type": "b", "y": 2}, "text"],               # not only objects
])
def test_no_variants_without_a_clear_discriminator(values):
    node = observed(*values)
    assert node.active_variants() is None
    assert "oneOf" not in node.to_json_schema()


def test_merged_properties_are_still_kept_for_drift():
    node = observed(*PARTS)
    assert set(node.properties()) == {"type", "text", "annotations", "image_url", "file"}


# -- closed sets of words, empty objects, deeper variants (mock validity against original specs) ---------


@pytest.mark.parametrize("values", [
    ["1024x1024", "512x512", "256x256"],  # sizes start with a digit
    ["1g", "4g", "16g"],
    ["in_memory", "24h"],
    ["organization.project.service_account.api_key"],  # a long dotted constant
    ["_blank", "_self", "_parent"],  # reserved words start with an underscore
])
def test_enum_words_may_start_with_a_digit_or_be_long(values):
    node = observed(*(values * 3))
    assert node.to_json_schema()["enum"] == sorted(values)
    assert node.enum_values() == sorted(values)


@pytest.mark.parametrize("values", [
    ["42", "17", "3"],                          # numbers in strings are data
    ["2024-05-01", "2024-06-01"],               # dates
    ["10:30", "11:45"],                         # times
    ["1.2.3", "2.0.1"],                         # versions
    ["12345abc", "67890xyz"],                   # ids with long digit runs
    ["1b4e28ba-2fa1-11d2-883f-0016d3cca427"],   # a uuid has its format, not an enum
])
def test_digit_led_values_without_a_letter_or_with_a_format_are_no_enum(values):
    node = observed(*(values * 5))
    assert "enum" not in node.to_json_schema()
    assert node.enum_values() is None


def test_empty_objects_are_counted_and_stored_compatibly():
    full = {"id": "a", "status": "ok"}
    node = observed(*([full] * 9 + [{}]))
    assert node.empty_object_count == 1 and node.object_count == 10
    assert node.presence("id") == 1.0 and node.presence("missing") == 0.0
    assert node.to_json_schema().get("required") is None  # `{}` lacked them: the schema still says so
    d = node.to_dict()
    assert d["oz"] == 1
    assert SchemaNode.from_dict(json.loads(json.dumps(d))).to_dict() == d
    old = dict(d)
    del old["oz"]  # stored before empty objects were counted
    assert SchemaNode.from_dict(old).empty_object_count == 0
    other = observed({}, {}, full)
    other.merge(node)
    assert other.empty_object_count == 3 and "oz" not in observed(full).to_dict()


def test_enum_observed_keeps_a_larger_closed_set_for_mocks():
    words = [f"REGION_{c}" for c in "ABCDEFGHIJKL"]  # 12 words: too many to emit as an enum
    node = observed(*(words * 2))
    assert node.enum_values() is None and node.enum_seen() is None
    assert node.enum_observed() == sorted(words)
    # each seen once: still the values mocks replay (inventing one would break a closed set)
    assert observed(*words).enum_observed() == sorted(words)
    assert observed(*words, "a free sentence, with punctuation.").enum_observed() is None


def test_mixed_variants_for_objects_beside_other_types():
    values = ["auto", {"type": "a", "x": 1}, {"type": "b", "y": 2}, {"type": "a", "x": 3}]
    node = observed(*values)
    assert node.active_variants() is None
    assert [tag for tag, _ in node.active_variants(mixed=True)] == ["a", "b"]


def test_variants_three_levels_deep():
    """Tagged unions in tagged unions in tagged unions (items > content parts > annotations)."""
    notes = [{"type": "cite", "url": "https://a.io"}, {"type": "path", "file": "f"}]
    message = {"type": "message", "content": [{"type": "text", "text": "hi", "notes": notes},
                                              {"type": "refusal", "refusal": "no"}]}
    node = observed(*([message, {"type": "call", "name": "f"}] * 3))
    content = dict(node.active_variants())["message"].properties()["content"].item_node
    text = dict(content.active_variants())["text"]
    assert [tag for tag, _ in text.properties()["notes"].item_node.active_variants()] == ["cite", "path"]


def test_observed_values_not_emitted_as_an_enum_are_exported_as_marked_examples():
    rare = observed("alpha", "beta", "gamma")  # each seen once: too few sightings for an enum
    schema = rare.to_json_schema()
    assert "enum" not in schema
    assert schema["examples"] == ["alpha", "beta", "gamma"]
    assert schema["x-mimic-observed-values"] is True
    words = [f"REGION_{c}" for c in "ABCDEFGHIJKL"] * 2  # 12 words seen twice: a closed set, too large for an enum
    many = observed(*words).to_json_schema()
    assert "enum" not in many and many["examples"] == sorted(set(words))
    assert "examples" not in observed(*(["on", "off"] * 5)).to_json_schema()  # an enum says it already
    assert "examples" not in observed("a sentence of text", "another one").to_json_schema()


def test_personal_fields_never_export_observed_values():
    node = observed({"firstName": "Ada", "status": "away"}, {"firstName": "Bob", "status": "active"})
    props = node.to_json_schema()["properties"]
    assert "examples" not in props["firstName"] and "x-mimic-observed-values" not in props["firstName"]
    assert props["status"]["examples"] == ["active", "away"]


def test_hinted_bounds_are_not_exported_and_hints_survive_merge_and_storage():
    from mimic_addon.model.schema import HINT_ARR_MAX, HINT_STR_MAX
    node = SchemaNode.from_dict({"n": 4, "t": {"a": 2, "s": 2}, "al": [1, 5], "sl": [0, 64], "eo": 1,
                                 "it": {"n": 3, "t": {"i": 3}, "nr": [1, 9]}, "h": HINT_ARR_MAX | HINT_STR_MAX})
    schema = node.to_json_schema()
    assert schema["minItems"] == 1 and "maxItems" not in schema
    assert schema["minLength"] == 0 and "maxLength" not in schema
    merged = observed(["x"], "abc")
    merged.merge(node)
    assert "maxItems" not in merged.to_json_schema()
    assert SchemaNode.from_dict(json.loads(json.dumps(merged.to_dict()))) == merged
    assert "maxLength" in observed("abc").to_json_schema()  # observed bounds are still exported


# -- closed sets for mocks beyond the words of an enum (issue 14) -----------------------------------------


def test_values_that_are_not_words_are_kept_for_mocks_only():
    words = ["oak", "birch", "red pine", "maple"]
    node = observed(*words, "818", *words)
    assert node.closed_values() == sorted(words + ["818"])
    # exports and drift see no closed set of words, as before
    assert node.enum_observed() is None and node.enum_values() is None and node.enum_seen() is None
    assert not node.value_seen("checking") and "examples" not in node.to_json_schema()
    again = SchemaNode.from_dict(json.loads(json.dumps(node.to_dict())))
    assert again.to_dict() == node.to_dict() and again.closed_values() == node.closed_values()


def test_loose_values_need_evidence_of_a_closed_set():
    names = [f"Ann Lee{i}" for i in range(4)]
    assert observed(*names).closed_values() is None  # names of people, each seen once
    assert observed(*names).closed_values(vocabulary=True) == sorted(names)  # ... unless named a type
    assert observed(*(names * 3)).closed_values() == sorted(names)  # every one back again and again
    many = observed(*[f"Ann Lee{i}" for i in range(20)])  # an open set: not tracked for long
    assert many.closed_values(vocabulary=True) is None and many.to_dict()["eo"] == 1


def test_loose_values_merge_as_one_stream():
    a, b = observed("x", "Gold Plan", "Gold Plan"), observed("y", "Free Plan", "Free Plan")
    a.merge(b)
    both = observed("x", "Gold Plan", "Gold Plan", "y", "Free Plan", "Free Plan")
    assert a.to_dict() == both.to_dict() and a.closed_values() == ["Free Plan", "Gold Plan", "x", "y"]


def test_a_set_grows_past_64_values_while_they_keep_coming_back():
    import random

    words = [f"kind_{i}" for i in range(90)]
    rng = random.Random(5)
    node = observed(*[rng.choice(words) for _ in range(600)])
    assert node.closed_values() == sorted(words)
    assert "examples" not in node.to_json_schema()  # more than an export lists as every value seen
    ids = observed(*[f"acct_{i}x" for i in range(70)])  # every one new: ids, not a vocabulary
    assert ids.closed_values() is None and ids.to_dict()["eo"] == 1


def test_a_grown_set_survives_merges_and_the_store():
    import random

    words = [f"kind_{i}" for i in range(90)]
    rng = random.Random(7)
    stream = [rng.choice(words) for _ in range(600)]
    a, b = observed(*stream[:300]), observed(*stream[300:])
    a.merge(b)
    seen = sorted(set(stream))
    assert len(seen) > 80 and a.closed_values() == observed(*stream).closed_values() == seen
    assert SchemaNode.from_dict(json.loads(json.dumps(a.to_dict()))).closed_values() == seen
    ids = observed(*[f"acct_{i}x" for i in range(40)])
    ids.merge(observed(*[f"acct_{i}y" for i in range(40)]))  # 80 values, none seen twice
    assert ids.closed_values() is None and ids.to_dict()["eo"] == 1


def test_booleans_seen_true_are_counted_and_kept() -> None:
    node = SchemaNode()
    for v in (True, True, False):
        node.observe({"on": v})
    on = node.props["on"]
    assert on.trues == 2
    again = SchemaNode.from_dict(node.to_dict())
    assert again.props["on"].trues == 2
    merged = SchemaNode.from_dict(node.to_dict())
    merged.merge(node)
    assert merged.props["on"].trues == 4
    saved = node.to_dict()
    del saved["p"]["on"]["bt"]  # a store written before they were counted: not known
    assert SchemaNode.from_dict(saved).props["on"].trues is None

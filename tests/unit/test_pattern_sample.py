"""Strings generated from a JSON Schema `pattern`, and mocks of imported patterned fields."""
from __future__ import annotations

import random
import re

import pytest
from faker import Faker

from mimic_addon.model.from_jsonschema import to_schema_node
from mimic_addon.model.pattern_shape import pattern_matches, sample
from mimic_addon.model.schema import SchemaNode
from mimic_addon.serve.synth import Context, compile_plan, generate

PATTERNS = [r"^Rm[A-Z0-9]{8,}$", r"^[UW][A-Z0-9]{2,}$", r"^\d{10}\.\d{6}$", r"[a-z]+", r"^(ab|cd)-\1$",
            r"^[^,]{3}$", r"^.{2,4}$", r"^\w+@\w+\.com$", r"^(?:\+?1)?\d{10}$", r"^[\u4e00-\u9fff]{2}$",
            r"^(?=x)x\d$", r"(?i)^abc$", r"^sk-[A-Za-z0-9_-]{20,40}$", r"^v\d+(\.\d+){2}$"]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_samples_fully_match_their_pattern(pattern):
    rng = random.Random(7)
    for _ in range(30):
        text = sample(pattern, rng)
        assert text is not None and re.fullmatch(pattern, text)


def test_lengths_are_kept_when_the_pattern_allows():
    rng = random.Random(1)
    assert all(10 <= len(sample(r"^Rm[A-Z0-9]{8,}$", rng, 10, 14)) <= 14 for _ in range(30))
    assert sample(r"^a{3}$", rng, 5, 9) == "aaa"  # the pattern wins over impossible lengths
    assert sample("(", rng) is None and sample(r"^x\b\d$", rng) is None  # broken / never matched: fall back


def test_imported_patterns_are_mocked_from_the_regex():
    schema = {"type": "object", "required": ["id", "ts"], "properties": {
        "id": {"type": "string", "pattern": "^Rm[A-Z0-9]{8,}$"},
        "ts": {"type": "string", "pattern": r"^\d{10}\.\d{6}$", "maxLength": 17}}}
    node = SchemaNode.from_dict(to_schema_node(schema).to_dict())  # kept in the store
    plan, fake = compile_plan(node), Faker()
    for seed in range(40):
        v = generate(plan, Context(), random.Random(seed), fake)
        assert re.fullmatch("Rm[A-Z0-9]{8,}", v["id"]) and re.fullmatch(r"\d{10}\.\d{6}", v["ts"])
    # an echoed value outside the pattern is not sent back; one inside it is
    assert generate(plan, Context(body={"id": "RmABCDEFGH"}), random.Random(1), fake)["id"] == "RmABCDEFGH"
    assert generate(plan, Context(body={"id": "nope"}), random.Random(1), fake)["id"] != "nope"


def test_traffic_that_breaks_the_pattern_drops_it():
    node = to_schema_node({"type": "string", "pattern": "^Rm[A-Z0-9]{8,}$"})
    node.observe("RmABCDEFGH")
    assert node.pattern == "^Rm[A-Z0-9]{8,}$" and pattern_matches(node.pattern, "xRmABCDEFGH") is False
    node.observe("other")
    assert node.pattern is None

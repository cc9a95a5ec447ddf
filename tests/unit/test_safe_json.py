"""Depth-safe JSON parsing (issue 16): a document nested deeper than the bound is refused up front,
never parsed into a value whose walk overflows the stack."""
from __future__ import annotations

import json

import pytest

from mimic_addon.learn.observation import Body, decode_body
from mimic_addon.model import safe_json
from mimic_addon.model.safe_json import MAX_DEPTH, TooDeep, nested_deeper_than


def nest(n: int, open_: str = '{"a":', close: str = "}") -> str:
    return open_ * n + "1" + close * n


@pytest.mark.parametrize("doc, depth", [
    (nest(5), 5), (nest(99, "[", "]"), 99), ("[" * 50 + "{}" + "]" * 50, 51), ('{"a": "[[[[[[[[[["}', 1),
    ('["\\"[[[[", "\\\\", {"b": ["]]]"]}]', 3), ("[1, [2, [3]], {}, []]", 3), ('"[[["', 0),
    ("[" + ",".join(["[[[]]]"] * 1000) + "]", 4), (nest(MAX_DEPTH), MAX_DEPTH),
])
def test_depth_is_measured_outside_strings(doc: str, depth: int) -> None:
    json.loads(doc)  # every case is valid JSON
    assert not nested_deeper_than(doc, depth)
    assert nested_deeper_than(doc, depth - 1) == (depth > 0)
    assert safe_json.loads(doc.encode()) == json.loads(doc)


@pytest.mark.parametrize("doc", [
    nest(MAX_DEPTH + 1), nest(10_000), "[" * 10_000 + "]" * 10_000, '["]", ' * 2000 + "1" + "]" * 2000,
    "[{" * 1500 + "}]" * 1500,
])
def test_too_deep_is_refused(doc: str) -> None:
    with pytest.raises(TooDeep):
        safe_json.loads(doc)
    with pytest.raises(ValueError):  # what callers catch for any body that is not (usable) JSON
        safe_json.loads(doc.encode())


def test_malformed_is_a_value_error_never_a_recursion_error() -> None:
    for doc in ("[" * 100_000, "{" * 100_000, '{"a": [1, 2', "]]]]"):
        with pytest.raises(ValueError):
            safe_json.loads(doc)


def test_the_learner_learns_deep_bodies_as_opaque() -> None:
    for n in (2_000, 10_000):  # 2,000 deep parses with json.loads: every later walk would overflow
        raw = nest(n).encode()
        assert decode_body(Body(raw, "", "application/json", len(raw))) == (None, False)
    ok = nest(20).encode()
    assert decode_body(Body(ok, "", "application/json", len(ok)))[1] is True


def test_nan_and_infinity_read_as_null() -> None:
    """`NaN`/`Infinity` are no JSON, yet Python and other encoders write them: kept, they made every store
    row, admin answer and export holding one invalid JSON. They read as null, as JavaScript writes them."""
    raw = b'{"a": NaN, "b": Infinity, "c": [-Infinity], "x": 1.5e300, "n": 2}'
    assert safe_json.loads(raw) == {"a": None, "b": None, "c": [None], "x": 1.5e300, "n": 2}
    assert safe_json.loads('{"s": "NaN"}') == {"s": "NaN"}


def test_dumps_writes_a_number_too_large_for_a_float_as_null() -> None:
    value = safe_json.loads(b'{"big": 1e400, "n": [1.5, 2]}')
    assert value["big"] == float("inf")  # (read as Python reads it)
    assert safe_json.dumps(value) == '{"big": null, "n": [1.5, 2]}'

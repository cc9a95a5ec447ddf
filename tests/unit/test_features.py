"""Echoes of path segments in bodies (learn/features.py)."""
from __future__ import annotations

import gc
import json
import weakref

import pytest

from mimic_addon.learn.features import echo_candidates, echo_values
from mimic_addon.learn.gc_pacing import FrozenModel, collector_off


def test_segments_echoed_as_strings_or_integers_name_their_key():
    doc = {"user": {"id": 42, "login": "gtanaka"}, "repo": "mimic"}
    echo = echo_values(["users", "gtanaka", "42"], doc)
    assert echo.get("gtanaka") == "login"
    assert echo.get("42") == "id"
    assert echo.get("users") is None


def test_an_integer_echoes_only_its_own_text():
    echo = echo_values(["042", "-0", "7"], {"n": 42, "z": 0, "x": 7})
    assert echo.get("042") is None and echo.get("-0") is None
    assert echo.get("7") == "x"


def test_the_first_occurrence_in_walk_order_wins():
    # the walk is depth-first from the last entry: "b" is looked at before "a"
    assert echo_values(["abc"], {"a": "abc", "b": "abc"}).get("abc") == "b"
    assert echo_values(["abc"], {"a": "abc"}, {"b": "abc"}).get("abc") == "b"


def test_true_when_the_bodies_hold_any_value_that_could_echo():
    assert echo_values(["x"], {"name": "something"})  # nothing echoed, yet a body that could have
    assert echo_values([], [1])
    assert not echo_values(["abc"], {"a": "ab", "b": True, "c": None, "d": 1.5})
    assert not echo_values(["abc"], None)


def test_strings_echo_from_3_to_200_characters():
    long = "x" * 201
    echo = echo_values(["ab", long, "abc"], ["ab", long, "abc"])
    assert echo.get("ab") is None and echo.get(long) is None
    assert echo.get("abc") == ""


def test_the_walk_is_bounded():
    doc = [{"k": "v%03d" % i} for i in range(50)]
    assert echo_values(["v040"], doc).get("v040") == "k"
    assert echo_values(["v040"], doc, limit=10).get("v040") is None  # (popped last-first: v049 .. v045)


class _Node:
    pass


def test_frozen_model_collects_cycles_before_freezing_and_unfreezes():
    thresholds = gc.get_threshold()
    with FrozenModel(every=2) as pace:
        node = _Node()
        node.self = node  # a cycle: only the collector frees it
        gone = weakref.ref(node)
        del node
        pace()
        assert gc.get_freeze_count() == 0  # not yet: every second batch
        pace()
        assert gone() is None  # collected, not frozen with the model
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == thresholds


def test_frozen_model_without_cycles_keeps_the_collector_off_and_freezes_what_lives():
    assert gc.isenabled()
    with FrozenModel(collect=False) as pace:
        assert not gc.isenabled()
        model = [_Node() for _ in range(10)]
        pace()
        assert gc.get_freeze_count() >= len(model)  # frozen: no collection walks them
    assert gc.get_freeze_count() == 0
    assert gc.isenabled()


def test_collector_off_restores_the_collector():
    with collector_off():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_only_segments_written_as_values_are_looked_for():
    text = json.dumps({"orders": [{"id": 42, "owner": "alice"}], "note": "by alice2"}).encode()
    # a key is no value, a word inside a longer string neither; an integer is found by its digits
    assert echo_candidates(["orders", "alice", "42", "bob", "4"], [text]) == ["alice", "42", "4"]
    assert echo_candidates(["orders"], [b"", b'["orders"]']) == ["orders"]  # (the request's body or the answer's)
    assert echo_candidates(["alice"], [b""]) == []
    # a key however spaced before its colon is no value; each segment is looked for once
    assert echo_candidates(["orders", "orders"], [b'{"orders"  \n\t  : [], "k": "orders"}']) == ["orders"]
    assert echo_candidates(["orders"], [b'{"orders" : [], "a": {"orders":\t1}}']) == []
    # past MAX_KEY_HITS occurrences as a key the search stops and keeps the segment (bounded work;
    # keeping one too many only costs the walk)
    many = b"{" + b",".join([b'"orders":0'] * 1000) + b"}"
    assert echo_candidates(["orders"], [many]) == ["orders"]


def test_segments_that_may_be_written_with_escapes_are_kept_when_a_text_has_some():
    text = json.dumps({"city": "café", "path": "a/b", "name": "plain"}).encode()  # "caf\u00e9"
    assert echo_candidates(["café", "plain", "other"], [text]) == ["café", "plain"]
    assert echo_candidates(["a:b"], [b'{"path": "a\\/b"}', b'{"k": "a:b"}']) == ["a:b"]
    assert echo_candidates(["café"], [json.dumps({"city": "café"}, ensure_ascii=False).encode()]) == ["café"]
    assert echo_candidates(["café"], [b'{"city": "caf"}']) == []
    utf16 = json.dumps({"owner": "alice"}).encode("utf-16")
    assert echo_candidates(["alice", "x"], [utf16]) == ["alice", "x"]


def test_the_candidates_find_what_the_full_walk_finds():
    doc = {"a": [{"name": "team-one", "n": 7}, {"name": "team-two"}], "team-one": {"k": "x"}}
    wanted = ["teams", "team-one", "7", "team-two", "nothing"]
    full = echo_values(wanted, doc)
    assert echo_values(echo_candidates(wanted, [json.dumps(doc).encode()]), doc) == full
    assert dict(full) == {"team-one": "name", "7": "n", "team-two": "name"}


def test_learning_leaves_no_cyclic_garbage():
    """What lets `FrozenModel` keep the collector off: the learner frees everything it drops by
    reference counting, through consolidations, regroups, variants and drift alerts alike."""
    from mimic_addon.learn.brain import Brain
    from mimic_addon.learn.observation import Body, Observation

    def answer(method: str, path: str, body: object, status: int = 200, ts: float = 0.0) -> Observation:
        raw = json.dumps(body).encode()  # (built as the flow-file reader builds them: a test flow has cycles)
        return Observation("api.example.com", "https", method, path, Body(b"", "", "", 0), status,
                           Body(raw, "", "application/json", len(raw)), 10.0, ts)

    gc.collect()
    brain = Brain()
    with FrozenModel(collect=False):  # (no collection before the one asserted on)
        for i in range(1, 1500):
            kind = ("circle", "square", "line")[i % 3]
            shape = {"id": i, "kind": kind, "size": i % 7, "tags": [{"name": f"t{i % 5}"}]}
            if i > 1200:
                shape.pop("size")  # a field gone: drift alerts are opened and narrated
            brain.learn(answer("GET", f"/boards/{i % 40}/shapes/{i}", shape, ts=i))
            brain.learn(answer("GET", f"/boards/{i % 40}", {"id": i % 40, "shapes": [shape]}, ts=i))
            brain.learn(answer("POST", f"/{('alpha', 'beta', 'gamma', 'delta')[i % 4]}/items", {"ok": True}, 201, ts=i))
        brain.settle()
        assert brain.watch.alerts.alerts  # (the story reached the watch's alerts)
        assert gc.collect() == 0

"""Latencies come from two timestamps; when they cannot both be true, no latency is learned."""
from __future__ import annotations

import json

import pytest

from captures import flow, har_entry, write_flows, write_har
from mimic_addon import cli
from mimic_addon.learn.observation import latency_ms


def _latency(tmp_path, capsys, capture) -> dict:
    db = str(tmp_path / "m.db")
    assert cli.main(["learn", "-q", str(capture), "--db", db]) == 0
    capsys.readouterr()
    assert cli.main(["endpoints", "--db", db, "--json"]) == 0
    [ep] = json.loads(capsys.readouterr().out)
    return ep["latency_ms"]


def test_impossible_latencies_are_not_learned(tmp_path, capsys):
    good = flow("GET", "https://api.example.com/ping", 200, {"ok": True}, latency=0.012)
    zeroed = flow("GET", "https://api.example.com/ping", 200, {"ok": True})
    zeroed.request.timestamp_start = 1.0  # a tool that starts its clock at zero
    missing = flow("GET", "https://api.example.com/ping", 200, {"ok": True})
    missing.request.timestamp_start = 0.0
    backwards = flow("GET", "https://api.example.com/ping", 200, {"ok": True})
    backwards.response.timestamp_start = backwards.response.timestamp_end = backwards.request.timestamp_start - 5
    capture = write_flows(tmp_path / "clocks.mitm", [good, zeroed, missing, backwards])
    assert _latency(tmp_path, capsys, capture) == {"p50": 12.0, "p95": 12.0, "p99": 12.0}


def test_an_absurd_har_time_is_not_a_latency(tmp_path, capsys):
    har = write_har(tmp_path / "times.har", [
        har_entry("GET", "https://api.example.com/ping", 200, {"ok": True}),
        har_entry("GET", "https://api.example.com/ping", 200, {"ok": True}, time=1_700_000_000_000),  # epoch ms
    ])
    assert _latency(tmp_path, capsys, har) == {"p50": 12.0, "p95": 12.0, "p99": 12.0}


@pytest.mark.parametrize(("start", "end", "expected"), [
    (100.0, 100.25, 250.0), (None, 5.0, None), (0.0, 5.0, None), (5.0, 0.0, None), (5.0, 4.0, None),
    (-3.0, 1.0, None), (1.0, 1_700_000_000.0, None), (float("nan"), 1.0, None), (1.0, float("inf"), None),
])
def test_latency_ms(start, end, expected):
    assert latency_ms(start, end) == (expected if expected is None else pytest.approx(expected))

"""`mimic drift resolve` from another process while a proxy runs on the same database: the running
proxy picks the resolution up from the store instead of overwriting it with its open alert."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from mitmproxy.test import tflow, tutils

from mimic_addon.learn.brain import Brain
from mimic_addon.learn.learner import Learner
from mimic_addon.learn.observation import Observation, from_flow
from mimic_addon.learn.watchdog import Watchdog
from mimic_addon.store import Store

HOST = "api.example.com"


def observation(i: int, v2: bool = False, body: dict | None = None) -> Observation:
    if body is None:
        body = {"id": str(i), "name": f"u{i}"} if v2 else {"id": i, "name": f"u{i}", "avatar_url": f"https://x/{i}.png"}
    req = tutils.treq(host=HOST, port=443, scheme=b"https", path=f"/users/{i}".encode(), content=b"",
                      timestamp_start=float(i))
    resp = tutils.tresp(status_code=200, content=json.dumps(body).encode(),
                        timestamp_start=i + 0.01, timestamp_end=i + 0.01)
    resp.headers["content-type"] = "application/json"
    obs = from_flow(tflow.tflow(req=req, resp=resp), 1 << 20)
    assert obs is not None
    return obs


def open_brain(db: str) -> tuple[Store, Brain, Learner]:
    """What the proxy and `mimic drift` both do: a store, a Brain loaded from it, a Learner."""
    store = Store(db)
    brain = Brain(Watchdog(drift_after=10))
    snapshot = store.load()
    snapshot["alerts"] = store.load_alerts()
    brain.load(snapshot)
    learner = Learner(brain, store)
    learner.report = lambda *a: None
    return store, brain, learner


def proxy_with_alert(db: str):
    """A proxy's store, brain and learner after 30 answers and 3 that drifted: one open alert."""
    store, proxy, proxy_learner = open_brain(db)
    proxy_learner.learn_batch([observation(i) for i in range(1, 31)])
    proxy_learner.learn_batch([observation(i, v2=True) for i in range(31, 34)])
    assert proxy_learner.flush()
    [alert] = proxy.alert_list()
    return store, proxy, proxy_learner, alert


@pytest.mark.parametrize("resolution", ["expected", "fixed"])
def test_resolution_from_another_process_survives_the_proxys_next_save(tmp_path: Path, resolution: str) -> None:
    db = str(tmp_path / "m.db")
    store, proxy, proxy_learner, alert = proxy_with_alert(db)
    assert alert["label"] == "BREAKING" and not alert["resolved"]

    # `mimic drift resolve ID ...` in another process
    cli_store, cli, cli_learner = open_brain(db)
    cli.resolve_alert(alert["id"], resolution, 1234.0)
    assert cli_learner.flush()
    cli_store.close()

    # the proxy goes on: its alert is dirty again, and its save must not reopen the stored one
    proxy_learner.learn_batch([observation(i, v2=True) for i in range(34, 36)])
    assert proxy_learner.flush()
    [stored] = store.load_alerts()
    assert stored["resolved"] and stored["resolution"] == resolution
    [mine] = proxy.alert_list()
    assert mine["resolved"] and mine["resolution"] == resolution and mine["resolved_at"] == 1234.0
    assert proxy.alert_list(unresolved=True) == []
    [row] = proxy.health()["endpoints"]
    assert row["reasons"] == [] and row["alerts"] == {"open": 0, "total": 1}   # no unresolved breaking drift

    # after the pick-up, new drift is judged against the right schema
    proxy_learner.learn_batch([observation(i, v2=True) for i in range(36, 40)])
    assert proxy_learner.flush()
    unresolved = proxy.alert_list(unresolved=True)
    if resolution == "expected":
        assert unresolved == []                  # the schema moved on to the new contract
    else:
        assert len(unresolved) == 1              # "fixed", yet still drifting: a new alert
    assert len(store.load_alerts()) == 1 + len(unresolved)
    assert proxy.health()["endpoints"][0]["alerts"] == {"open": len(unresolved), "total": 1 + len(unresolved)}
    store.close()


def test_an_open_copy_never_overwrites_a_resolved_alert(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "m.db"))
    row = {"id": "a1", "host": HOST, "method": "GET", "template": "/x", "status": 200, "label": "INFO",
           "score": 3, "first_seen": 1.0, "last_seen": 2.0, "resolved": False, "count": 1}
    store.save_alerts([row])
    store.save_alerts([{**row, "resolved": True, "resolution": "fixed"}])
    store.save_alerts([{**row, "count": 9}])                       # a stale open copy
    [kept] = store.load_alerts()
    assert kept["resolved"] and kept["count"] == 1
    assert store.resolved_alerts(["a1", "nope"]) == {"a1": kept}
    store.close()


def test_cli_output_survives_hostile_strings_from_traffic(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Field names and values come from traffic: JSON output stays parseable (a lone surrogate,
    quotes, newlines, ANSI escapes), and the text output escapes control characters."""
    from mimic_addon.cli import main

    db = str(tmp_path / "m.db")
    store, brain, learner = open_brain(db)
    learner.learn_batch([observation(i) for i in range(1, 31)])
    bad = 'x"\n\x1b[31m\ud800</script>'
    learner.learn_batch([observation(31, body={"id": 31, "name": "u31", "avatar_url": "https://x/31.png", bad: bad})])
    assert learner.flush()
    store.close()
    capsys.readouterr()
    assert main(["drift", "--db", db, "--json"]) == 0
    [alert] = json.loads(capsys.readouterr().out)
    assert {(c["path"], c["kind"], c["label"]) for c in alert["changes"]} == {(f"$.{bad}", "new_field", "INFO")}
    assert main(["drift", "--db", db]) == 0
    text = capsys.readouterr().out
    assert "\x1b" not in text and '$.x"\\x0a\\x1b[31m' in text


def test_an_alert_withdrawn_by_another_proxy_is_closed_here_and_learns_what_it_withheld(tmp_path: Path) -> None:
    db = str(tmp_path / "m.db")
    store, proxy, proxy_learner, alert = proxy_with_alert(db)
    other_store, other, other_learner = open_brain(db)  # another proxy on the same database ...
    other.watch.alerts.close_withdrawn(other.watch.alerts.find(alert["id"]), 1234.0)  # ... withdrew it
    assert other_learner.flush()
    other_store.close()
    proxy_learner.flush()
    [alert] = proxy.alert_list()
    assert alert["resolved"] and not proxy.watch.alerts.open
    assert alert["resolution"] == "withdrawn"  # not taken for a user's "expected"
    ep = proxy.endpoints()[0]
    assert ep.responses["200"].count == 33  # what it withheld was learned
    assert proxy_learner.flush()
    [stored] = [a for a in store.load_alerts() if a["id"] == alert["id"]]
    assert stored["resolution"] == "withdrawn"  # the next save keeps the record
    store.close()

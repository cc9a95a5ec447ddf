"""Path templates are settled at fixed observation counts and when learning ends: the same flows give
the same templates whether they arrive live (the learner thread) or from a file (`mimic learn`)."""
from __future__ import annotations

import json

from mimic_addon.learn.brain import SETTLE_FIRST, Brain
from mimic_addon.learn.learner import Learner
from mimic_addon.learn.observation import Body, Observation

OWNERS = ["amara57", "kivanova", "spatel", "pli", "grace34", "oscar", "dave-novak", "liam89"]


def observations(n: int) -> list[Observation]:
    out = []
    for i in range(n):
        owner = OWNERS[i % len(OWNERS)]
        repo = f"repo{i % 5}-{owner}"
        if i % 3:
            path, body = f"/repos/{owner}/{repo}/issues/{i % 40 + 1}", {"id": i, "number": i % 40, "title": "t", "state": "open"}
        else:
            path, body = f"/repos/{owner}/{repo}", {"id": i, "name": repo, "full_name": f"{owner}/{repo}", "private": False}
        raw = json.dumps(body).encode()
        out.append(Observation(host="git.example", scheme="https", method="GET", target=path,
                               request=Body(b"", "", "", 0), status=200,
                               response=Body(raw, "", "application/json", len(raw)), latency_ms=5.0, ts=1.7e9 + i))
    return out


def templates(brain: Brain) -> set[str]:
    return {f"{ep.method} {brain.template(ep)}" for ep in brain.endpoints()}


def test_live_and_file_learning_give_the_same_templates() -> None:
    flows = observations(SETTLE_FIRST + 300)  # crosses one scheduled consolidation, then ends

    from_file = Brain()
    learner = Learner(from_file, None)
    learner.learn_batch(flows)  # what `mimic learn` does, batch by batch ...
    learner.finish()            # ... and when the files end

    live = Brain()
    worker = Learner(live, None, flush_interval=0.05)
    worker.start()
    for obs in flows:
        worker.submit(obs)
    worker.stop()               # the proxy stopping

    assert templates(from_file) == templates(live)
    assert templates(live) == {"GET /repos/{owner}/{repo}", "GET /repos/{owner}/{repo}/issues/{issue_id}"}
    ep_counts = sorted(ep.stats.count for ep in live.endpoints())
    assert sum(ep_counts) == len(flows)  # every observation kept through the folds


def test_regrouping_only_below_the_moved_positions_learns_what_regrouping_everything_does(monkeypatch) -> None:
    flows = observations(SETTLE_FIRST + 300)
    # ids detected late (`/files/a`, `/files/b`, then UUIDs) move endpoints at several positions
    for i in range(60):
        target = f"/orgs/o{i % 3}/files/{'%08x-0000-4000-8000-%012x' % (i, i) if i % 2 else f'name{i}'}"
        raw = json.dumps({"id": i, "org": f"o{i % 3}"}).encode()
        flows.insert(i * 7, Observation(host="git.example", scheme="https", method="GET", target=target,
                                        request=Body(b"", "", "", 0), status=200,
                                        response=Body(raw, "", "application/json", len(raw)), latency_ms=5.0,
                                        ts=1.7e9 + i))
    restricted = Brain()
    Learner(restricted, None).learn_batch(flows)
    everything = Brain()
    monkeypatch.setattr(Brain, "_regroup_candidates", staticmethod(lambda host, under: list(host.endpoints.items())))
    Learner(everything, None).learn_batch(flows)
    assert [ep.to_dict() for ep in restricted.endpoints()] == [ep.to_dict() for ep in everything.endpoints()]
    assert ({h: m.tree.to_dict() for h, m in restricted.hosts.items()}
            == {h: m.tree.to_dict() for h, m in everything.hosts.items()})

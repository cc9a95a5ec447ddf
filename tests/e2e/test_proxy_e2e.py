"""Mimic inside a real mitmdump, in front of a real backend: learn, persist, redact, export, reload."""
from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path

import pytest

from mimic_addon.store import Store

from .conftest import (ADDON, DEEP, GZIP_PAYLOAD, GZIPPED, HUGE, MALFORMED, MITMDUMP, PNG, Backend, ProxyFactory,
                       fetch, run_cli)

pytestmark = pytest.mark.e2e

TOKEN = "Bearer e2e-SECRET-token-4f9a1c7d2b"
COOKIE_VALUE = "e2e-COOKIE-value-8d3e5a91"
PASSWORD = "e2e-PASSWORD-hunter2-77c1"
QUERY_TOKEN = "e2e-QUERY-apikey-5b2f0e"
SECRETS = (TOKEN.split()[1], COOKIE_VALUE, PASSWORD, QUERY_TOKEN)
MAX_BODY = 64 * 1024

USER_IDS = list(range(1, 21))
ORDER_IDS = [str(uuid.UUID(int=i * 7919 + 1)) for i in range(5)]

# (method, path) -> (expected status, expected raw body or None to only check the status)
EDGE = {
    "/gzip": (200, GZIPPED),
    "/image.png": (200, PNG),
    "/malformed": (200, MALFORMED),
    "/deep": (200, DEEP),
    "/huge": (200, HUGE),
}


def send_traffic(port: int, backend: Backend) -> Counter:
    """The standard traffic; returns how many requests each (method, store template) got."""
    auth = {"Authorization": TOKEN, "Cookie": f"session={COOKIE_VALUE}; theme=dark"}
    sent: Counter = Counter()
    for uid in USER_IDS:
        status, _, body = fetch(port, "GET", f"/users/{uid}", headers=auth)
        assert status == 200 and json.loads(body)["id"] == uid
        sent["GET", "/users/{}"] += 1
    status, _, _ = fetch(port, "GET", f"/users/3?api_key={QUERY_TOKEN}", headers=auth)
    assert status == 200
    sent["GET", "/users/{}"] += 1
    for _ in range(3):
        status, _, body = fetch(port, "GET", "/users/me", headers=auth)
        assert status == 200 and json.loads(body)["name"] == "Me"
        sent["GET", "/users/me"] += 1
    for page in range(1, 5):
        status, _, body = fetch(port, "GET", f"/users?limit=2&page={page}", headers=auth)
        assert status == 200 and len(json.loads(body)) == 2
        sent["GET", "/users"] += 1
    for i in range(3):
        payload = {"name": f"New {i}", "email": f"new{i}@example.com", "password": PASSWORD}
        status, _, body = fetch(port, "POST", "/users", body=json.dumps(payload).encode(),
                                headers={**auth, "Content-Type": "application/json"})
        assert status == 201 and json.loads(body)["password"] == PASSWORD  # the backend echoes it
        sent["POST", "/users"] += 1
    for oid in ORDER_IDS:
        status, _, body = fetch(port, "GET", f"/orders/{oid}", headers=auth)
        assert status == 200 and json.loads(body)["id"] == oid
        sent["GET", "/orders/{}"] += 1
    for path, (want_status, want_body) in EDGE.items():
        direct = fetch(backend.port, "GET", path)
        proxied = fetch(port, "GET", path)
        assert direct[0] == proxied[0] == want_status, path
        assert proxied[2] == direct[2] == want_body, f"{path}: body changed by the proxy"
        assert proxied[1].get("content-type") == direct[1].get("content-type")
        assert proxied[1].get("content-encoding") == direct[1].get("content-encoding")
        sent["GET", path] += 1
    return sent


def endpoints(db: str) -> dict[tuple[str, str], dict]:
    store = Store(db)
    try:
        return {(e["method"], e["template"]): e for e in store.load()["endpoints"]}
    finally:
        store.close()


def counts(db: str) -> dict[tuple[str, str], int]:
    return {k: e["count"] for k, e in endpoints(db).items()}


def assert_clean(output: str) -> None:
    assert "Traceback" not in output, output
    assert "could not learn" not in output, output
    assert "could not save" not in output, output


@pytest.fixture(scope="module")
def learned(tmp_path_factory: pytest.TempPathFactory, backend: Backend):
    """One proxy run with the standard traffic, recording a flow file and a HAR file as well."""
    tmp = tmp_path_factory.mktemp("learned")
    db = str(tmp / "mimic.db")
    factory = ProxyFactory(tmp, backend)
    try:
        proxy = factory.start(db, "-w", str(tmp / "capture.mitm"), "--set", f"hardump={tmp / 'capture.har'}",
                              max_body=MAX_BODY)
        sent = send_traffic(proxy.port, backend)
        output = proxy.stop()
    finally:
        factory.cleanup()
    assert proxy.returncode == 0, output
    return {"tmp": tmp, "db": db, "sent": sent, "output": output}


def test_endpoints_and_counts(learned) -> None:
    assert_clean(learned["output"])
    got = counts(learned["db"])
    sent = learned["sent"]
    for key, n in sent.items():
        assert got.get(key) == n, f"{key}: stored {got.get(key)}, sent {n}; store has {sorted(got)}"
    assert set(got) == set(sent)
    assert not any(t.startswith("/users/") and t[7:].isdigit() for _, t in got), got


def test_secrets_never_reach_the_database(learned) -> None:
    db = Path(learned["db"])
    files = [p for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-journal")) if p.exists()]
    assert db in files
    blob = b"".join(p.read_bytes() for p in files)
    for secret in SECRETS:
        assert secret.encode() not in blob, f"{secret!r} is stored in {db}"
    # the capture files (written by mitmproxy itself, not Mimic) do contain them: the check is meaningful
    assert PASSWORD.encode() in (learned["tmp"] / "capture.mitm").read_bytes()


def test_gzip_schema_learned_decoded(learned) -> None:
    ep = endpoints(learned["db"])["GET", "/gzip"]
    dumped = json.dumps(ep["data"]["responses"])
    for key in GZIP_PAYLOAD["meta"]:
        assert key in dumped, dumped
    assert "compressed" in dumped


def test_odd_bodies_recorded_by_type_and_size(learned) -> None:
    eps = endpoints(learned["db"])
    sizes = {"/image.png": len(PNG), "/malformed": len(MALFORMED), "/deep": len(DEEP), "/huge": len(HUGE)}
    media = {"/image.png": "image/png"}
    for path, size in sizes.items():
        ep = eps["GET", path]
        assert ep["count"] == 1
        types = ep["data"]["response_types"]["200"]
        assert types == {media.get(path, "application/json"): 1}, (path, types)
        assert ep["data"]["stats"]["rs"] == [1, size, size, size], (path, ep["data"]["stats"]["rs"])
    # nothing was learned from the bodies that are not JSON, broken JSON, or too big to look at
    for path in ("/image.png", "/malformed", "/huge"):
        assert not eps["GET", path]["data"]["responses"], path


def test_export_openapi_valid(learned) -> None:
    from openapi_spec_validator import validate

    out = learned["tmp"] / "out.json"
    run_cli("export", "openapi", "--db", learned["db"], "-o", str(out))
    doc = json.loads(out.read_text())
    validate(doc)
    paths = doc["paths"]
    users = [p for p in paths if p.startswith("/users/{") and p.endswith("}") and p.count("/") == 2]
    assert len(users) == 1, sorted(paths)
    assert "/users" in paths
    op = paths[users[0]]["get"]
    assert any(p["in"] == "path" for p in op.get("parameters", [])), op
    ok = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(ok.get("properties", {})) >= {"id", "name", "email"}, ok
    listing = paths["/users"]["get"]
    assert {p["name"] for p in listing.get("parameters", []) if p["in"] == "query"} >= {"limit", "page"}
    assert "schema" in listing["responses"]["200"]["content"]["application/json"]
    assert "requestBody" in paths["/users"]["post"]
    assert [p for p in paths if p.startswith("/orders/{")], sorted(paths)


def test_restart_accumulates(tmp_path: Path, backend: Backend, proxies: ProxyFactory) -> None:
    db = str(tmp_path / "acc.db")
    first = proxies.start(db)
    sent = send_traffic(first.port, backend)
    assert_clean(first.stop())
    before = counts(db)
    assert sum(before.values()) == sum(sent.values()), before
    second = proxies.start(db)
    again = send_traffic(second.port, backend)
    assert again == sent
    assert_clean(second.stop())
    after = counts(db)
    assert set(after) == set(before)
    for key, n in before.items():
        assert after[key] == 2 * n, (key, n, after[key])  # reloaded on restart, nothing lost


def test_flow_file_and_har_learn_the_same(learned, tmp_path: Path) -> None:
    capture = learned["tmp"] / "capture.mitm"
    har = learned["tmp"] / "capture.har"
    assert capture.stat().st_size and har.stat().st_size
    replay_db = str(tmp_path / "replay.db")
    cp = run_cli("-nr", str(capture), "-s", str(ADDON), "--set", f"mimic_db={replay_db}",
                 "--set", f"mimic_max_body={MAX_BODY}", "-q", exe=MITMDUMP)
    assert_clean(cp.stdout + cp.stderr)
    har_db = str(tmp_path / "har.db")
    run_cli("learn", str(har), "--db", har_db, "-q", "--max-body", str(MAX_BODY))
    live = counts(learned["db"])
    assert counts(replay_db) == live
    assert set(counts(har_db)) == set(live)
    assert counts(har_db) == live

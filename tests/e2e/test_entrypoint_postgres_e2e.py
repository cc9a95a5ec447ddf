"""The `mimic` console script as a proxy, and the proxy on the PostgreSQL store."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import MIMIC, Backend, ProxyFactory, fetch
from .test_proxy_e2e import counts

pytestmark = pytest.mark.e2e


def _small_traffic(port: int) -> None:
    for uid in range(1, 13):
        status, _, body = fetch(port, "GET", f"/users/{uid}")
        assert status == 200 and json.loads(body)["id"] == uid
    status, _, _ = fetch(port, "POST", "/users", body=b'{"name": "x", "email": "x@example.com"}',
                         headers={"Content-Type": "application/json"})
    assert status == 201


def _assert_learned(db: str) -> None:
    got = counts(db)
    assert got == {("GET", "/users/{}"): 12, ("POST", "/users"): 1}, got


def test_mimic_command_proxies_and_learns(tmp_path: Path, proxies: ProxyFactory) -> None:
    db = str(tmp_path / "cli.db")
    proxy = proxies.start(db, exe=MIMIC, addon=False)  # `mimic [mitmdump args]` loads the addon itself
    _small_traffic(proxy.port)
    output = proxy.stop()
    assert proxy.returncode == 0, output
    assert "Traceback" not in output, output
    _assert_learned(db)


@pytest.mark.postgres
def test_proxy_learns_into_postgres(pg_url: str, proxies: ProxyFactory, backend: Backend) -> None:
    proxy = proxies.start(pg_url)
    _small_traffic(proxy.port)
    output = proxy.stop()
    assert proxy.returncode == 0, output
    assert "Traceback" not in output, output
    _assert_learned(pg_url)
    again = proxies.start(pg_url)  # restart on the same database: reloaded, then accumulated
    _small_traffic(again.port)
    assert again.stop() is not None and again.returncode == 0
    got = counts(pg_url)
    assert got == {("GET", "/users/{}"): 24, ("POST", "/users"): 2}, got

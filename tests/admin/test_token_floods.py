"""Floods of wrong credentials slow down the client that sends them, and nobody else: the right admin token is
always let in (a SHA-256 and a constant-time comparison, before any limit), and failures are counted per
remote address (admin_app/auth/limits.py)."""
from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from admin.conftest import TOKEN, RecordingControl, csrf_of

from admin_app.app import create_app
from admin_app.auth import secrets_store
from admin_app.auth.limits import FREE_FAILURES, FailureLimiter, TooManyFailures, client_key
from admin_app.live import LiveHub
from admin_app.settings import AdminSettings

BASE = "http://127.0.0.1:8081"
FLOODER, OTHER, THIRD = "10.0.0.66", "10.0.0.7", "192.168.1.9"

Clients = Callable[[str], httpx.AsyncClient]


@pytest.fixture
async def clients(admin_env) -> AsyncIterator[Clients]:
    """HTTP clients of the admin app, one per remote address asked for."""
    made: dict[str, httpx.AsyncClient] = {}

    def client(address: str, app=None) -> httpx.AsyncClient:
        if address not in made:
            transport = httpx.ASGITransport(app=app or admin_env.app, client=(address, 40000))
            made[address] = httpx.AsyncClient(transport=transport, base_url=BASE)
        return made[address]

    yield client
    for c in made.values():
        await c.aclose()


async def session(c: httpx.AsyncClient, token: str) -> httpx.Response:
    return await c.get("/api/session", headers={"Authorization": f"Bearer {token}"})


async def flood(c: httpx.AsyncClient, n: int) -> list[httpx.Response]:
    return [await session(c, f"wrong-token-{i}") for i in range(n)]


async def test_a_flood_of_wrong_tokens_locks_out_the_flooder_only(clients):
    """Issue 16: 300 wrong tokens (more than any cache of checked tokens) from one client; then the right
    token from that client, from another and from a third is accepted; the flooder's guesses get 429."""
    assert (await session(clients(OTHER), TOKEN)).status_code == 200
    answers = await flood(clients(FLOODER), 300)
    codes = [r.status_code for r in answers]
    assert codes[:FREE_FAILURES] == [401] * FREE_FAILURES  # a few honest mistakes are just wrong
    assert set(codes[FREE_FAILURES:]) == {429}, codes  # then the flooder must wait
    assert all(int(r.headers["retry-after"]) >= 1 and "try again" in r.json()["error"]
               for r in answers[FREE_FAILURES:])
    for address in (FLOODER, OTHER, THIRD):
        assert (await session(clients(address), TOKEN)).status_code == 200, address
    assert (await session(clients(OTHER), "wrong-token-x")).status_code == 401  # not the flooder's penalty
    assert (await session(clients(FLOODER), "wrong-token-y")).status_code == 429


async def test_the_login_form_shares_the_limit_and_lets_the_right_token_in(clients):
    c = clients(FLOODER)
    await flood(c, FREE_FAILURES)
    page = await c.get("/login")
    r = await c.post("/login", data={"token": "wrong", "csrf_token": csrf_of(page.text)}, cookies=dict(page.cookies))
    assert r.status_code == 429 and "try again" in r.text and int(r.headers["retry-after"]) >= 1
    page = await c.get("/login")
    r = await c.post("/login", data={"token": TOKEN, "csrf_token": csrf_of(page.text)}, cookies=dict(page.cookies))
    assert r.status_code == 303


async def test_a_token_known_only_by_its_hash_is_let_in_once_checked(admin_env, clients, monkeypatch):
    """A generated token (nothing configured: only its hash is stored) costs one scrypt check; from then on
    no number of wrong tokens checked since (here 300, from 300 addresses) makes it wait for a hash."""
    monkeypatch.setattr(secrets_store, "SCRYPT", {"n": 2**4, "r": 8, "p": 1})  # fast hashes: many are made
    token = secrets_store.reset_token(admin_env.store)
    app = create_app(AdminSettings(), admin_env.store, RecordingControl(), LiveHub())
    try:
        assert (await session(clients(OTHER, app), token)).status_code == 200
        for i in range(300):
            assert (await session(clients(f"10.2.{i // 200}.{i % 200}", app), f"wrong-{i}")).status_code == 401
        started, release = threading.Event(), threading.Event()
        real = secrets_store.token_matches

        def slow(token, record):
            started.set()
            release.wait(10)
            return real(token, record)

        monkeypatch.setattr(secrets_store, "token_matches", slow)
        hashing = asyncio.create_task(session(clients(THIRD, app), "wrong-while-hashing"))
        assert await asyncio.to_thread(started.wait, 10)
        for address in (OTHER, FLOODER):  # while a hash runs: the right token does not wait for it
            assert (await session(clients(address, app), token)).status_code == 200, address
        release.set()
        assert (await hashing).status_code == 401
    finally:
        app.state.auth.close()


def test_token_hashing_runs_on_the_auths_own_thread(admin_env, anon, monkeypatch):
    threads: list[str] = []
    real = secrets_store.token_matches

    def spy(token, record):
        threads.append(threading.current_thread().name)
        return real(token, record)

    monkeypatch.setattr(secrets_store, "token_matches", spy)
    assert anon.get("/api/session", headers={"Authorization": "Bearer wrong-token"}).status_code == 401
    assert threads and all(name.startswith("mimic-admin-token") for name in threads), threads


async def test_one_check_at_a_time_per_client_and_others_take_their_turn(clients, monkeypatch):
    """While a client's token is being hashed, its further guesses are refused at once (they never queue);
    another client's token waits its turn and is checked; the right token passes at once."""
    started, release = threading.Event(), threading.Event()
    real = secrets_store.token_matches

    def slow(token, record):
        started.set()
        release.wait(10)
        return real(token, record)

    monkeypatch.setattr(secrets_store, "token_matches", slow)
    flooder, other = clients(FLOODER), clients(OTHER)
    first = asyncio.create_task(session(flooder, "wrong-1"))
    assert await asyncio.to_thread(started.wait, 10)
    more = [await session(flooder, f"wrong-{i}") for i in range(2, 12)]
    assert {r.status_code for r in more} == {429} and all(r.headers["retry-after"] == "1" for r in more)
    others = asyncio.create_task(session(other, "wrong-of-another"))  # queued behind the hash running
    assert (await session(flooder, TOKEN)).status_code == 200  # the right token is not held up
    assert (await session(other, TOKEN)).status_code == 200
    release.set()
    assert (await first).status_code == 401
    assert (await others).status_code == 401  # checked, not refused
    assert (await session(flooder, "wrong-13")).status_code == 401  # free again (2 failures so far)


# -- the limiter itself -------------------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_waits_double_after_the_free_failures_and_a_success_clears_them():
    clock = Clock()
    limiter = FailureLimiter(free=3, max_wait=10, clock=clock)
    for _ in range(2):
        limiter.failed("a")
        limiter.check("a")
    limiter.failed("a")  # the third failure: wait 1 s
    with pytest.raises(TooManyFailures) as e:
        limiter.check("a")
    assert e.value.retry_after == 1
    limiter.check("b")  # nobody else waits
    clock.t += 1.01
    limiter.check("a")
    limiter.failed("a")  # the fourth: 2 s
    with pytest.raises(TooManyFailures) as e:
        limiter.check("a")
    assert e.value.retry_after == 2
    for _ in range(10):
        limiter.failed("a")
    with pytest.raises(TooManyFailures) as e:
        limiter.check("a")
    assert e.value.retry_after == 10  # capped
    limiter.succeeded("a")
    limiter.check("a")


def test_the_table_is_bounded_and_quiet_clients_are_forgotten():
    clock = Clock()
    limiter = FailureLimiter(free=1, max_wait=60, size=100, clock=clock)
    for i in range(1000):
        limiter.failed(f"10.1.{i // 256}.{i % 256}")
    assert len(limiter) == 100
    limiter.failed("x")
    with pytest.raises(TooManyFailures):
        limiter.check("x")
    clock.t += 3600
    limiter.check("x")


@pytest.mark.parametrize("address,key", [
    ("127.0.0.1", "127.0.0.1"), ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:db8:1:2::99", "2001:db8:1:2::/64"), ("::ffff:10.0.0.1", "10.0.0.1"), (None, "?"), ("testclient", "testclient"),
])
def test_clients_are_remote_addresses_and_ipv6_hosts_their_64_networks(address, key):
    assert client_key(address) == key

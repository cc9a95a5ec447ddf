"""Failed sign-ins counted per client, so one client's guessing slows that client down and nobody else.

A client is its remote address (an IPv6 address by its /64 network: one host usually holds all of it).
After FREE_FAILURES failures in a row, each further attempt must wait, twice as long after every new
failure (1 s, 2 s, 4 s ... up to MAX_WAIT_S); a success clears the client's count, and so do
FORGET_S quiet seconds. The table is bounded (the least recently failing clients are forgotten first),
so a flood from many addresses costs memory only up to MAX_CLIENTS entries.
"""
from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

FREE_FAILURES = 5
MAX_WAIT_S = 60.0
FORGET_S = 900.0
MAX_CLIENTS = 4096


class TooManyFailures(Exception):
    """The client failed too often: it may try again in `retry_after` seconds (the answer is 429)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed attempts: try again in {retry_after:g} s")
        self.retry_after = max(1, math.ceil(retry_after))


@dataclass
class _Record:
    failures: int
    until: float  # may not try before this time
    last: float


def client_key(host: str | None) -> str:
    """The rate-limited unit of a remote address: the address itself, an IPv6 address's /64 network."""
    if not host:
        return "?"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class FailureLimiter:
    def __init__(self, free: int = FREE_FAILURES, max_wait: float = MAX_WAIT_S, size: int = MAX_CLIENTS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.free, self.max_wait, self.size, self.clock = free, max_wait, size, clock
        self._clients: OrderedDict[str, _Record] = OrderedDict()

    def check(self, client: str) -> None:
        """Raise TooManyFailures while `client` must wait."""
        record = self._clients.get(client)
        if record is None:
            return
        now = self.clock()
        if now - record.last > FORGET_S:
            del self._clients[client]
        elif record.until > now:
            raise TooManyFailures(record.until - now)

    def failed(self, client: str) -> None:
        now = self.clock()
        record = self._clients.pop(client, None)
        if record is None or now - record.last > FORGET_S:
            record = _Record(0, 0.0, now)
        record.failures += 1
        record.last = now
        if record.failures >= self.free:
            record.until = now + min(self.max_wait, 2.0 ** (record.failures - self.free))
        self._clients[client] = record  # the most recent failure last: eviction takes the quietest first
        while len(self._clients) > self.size:
            self._clients.popitem(last=False)

    def succeeded(self, client: str) -> None:
        self._clients.pop(client, None)

    def __len__(self) -> int:
        return len(self._clients)

"""The reliability probes, run in this order by bench/reliability/run.py.

A probe is a module with `NAME` (what `--only` selects), `TITLE` and `run(workdir: Path, upstream: str,
quick: bool) -> list[harness.Row]`; it starts whatever proxies it needs. To add one, write the module and
list it here.
"""
from __future__ import annotations

from . import admin_auth, bad_input, kill9, locked_store, rss_growth, secrets_leak

PROBES = [admin_auth, locked_store, kill9, bad_input, secrets_leak, rss_growth]

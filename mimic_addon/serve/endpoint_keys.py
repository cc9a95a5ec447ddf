"""How per-endpoint settings (modes, overrides) are keyed: `GET /users/{user_id}` holds for that
endpoint on every host, `GET api.example.com/users/{user_id}` for one host's only, and wins there.

A template always starts with `/` and a host name never holds one, so the two forms cannot be taken
for each other. The commands (`mimic.mode.endpoint`, `mimic.override.set`) take either as their
template; the admin app sets the form of the endpoint's own host.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

V = TypeVar("V")


def endpoint_key(method: str, template: str, host: str | None = None) -> str:
    """`GET /users/{user_id}`, or with a host `GET api.example.com/users/{user_id}`."""
    return f"{method.upper()} {host or ''}{template}"


def setting_for(table: Mapping[str, V], method: str, host: str | None, template: str | None) -> tuple[str, V] | None:
    """The (key, value) of `table` in effect for an endpoint: its host's own, else every host's."""
    if not table or template is None:
        return None
    for key in ((endpoint_key(method, template, host),) if host else ()) + (endpoint_key(method, template),):
        value = table.get(key)
        if value is not None:
            return key, value
    return None

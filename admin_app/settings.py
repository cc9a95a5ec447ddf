"""How the admin app is configured: bind address, authentication, session lifetime."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

DEFAULT_BIND = "127.0.0.1:8081"
TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class AdminSettings:
    """Everything the app needs to know besides the store.

    With no Firebase project configured, the local admin token is the way in: `token` when given
    (option `mimic_admin_token` or env MIMIC_ADMIN_TOKEN), else one generated on first start and
    stored hashed. With `firebase_project` set, users sign in with Firebase, restricted to
    `allowed_emails` / `allowed_domains` (required: `*` in either admits any user of the project whose
    email is verified) and the token still works for scripts (Bearer).

    Requests must name the app in their Host header: the bind address, localhost / 127.0.0.1 / ::1 on
    the bind port, or one of `allowed_hosts` (env MIMIC_ADMIN_ALLOWED_HOSTS: `host` for any port,
    `host:port`, `*` for any; e.g. the public name behind a reverse proxy). This blocks DNS rebinding.

    `session_secret` (env MIMIC_ADMIN_SESSION_SECRET, never an option: those show in `ps`) is the master
    key sessions are signed with; without it a 0600 key file beside the store is used (auth/secrets_store.py).
    """

    bind: str = DEFAULT_BIND
    token: str | None = None
    firebase_project: str | None = None
    firebase_api_key: str | None = None
    firebase_auth_domain: str | None = None
    allowed_emails: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()
    session_max_age: int = 12 * 3600
    secure_cookies: bool = False
    allowed_hosts: tuple[str, ...] = ()
    session_secret: str | None = field(default=None, repr=False)
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.bind.rpartition(":")
        return host or "127.0.0.1", int(port)

    @classmethod
    def from_env(cls, **overrides: object) -> AdminSettings:
        """Settings from MIMIC_ADMIN_* / MIMIC_FIREBASE_* environment variables, then explicit overrides
        (None values in overrides are ignored)."""
        env = os.environ
        split = lambda v: tuple(x.strip().lower() for x in (v or "").split(",") if x.strip())
        values: dict[str, Any] = {  # (Any: the overrides are the caller's, unchecked)
            "token": env.get("MIMIC_ADMIN_TOKEN") or None,
            "firebase_project": env.get("MIMIC_FIREBASE_PROJECT") or None,
            "firebase_api_key": env.get("MIMIC_FIREBASE_API_KEY") or None,
            "firebase_auth_domain": env.get("MIMIC_FIREBASE_AUTH_DOMAIN") or None,
            "allowed_emails": split(env.get("MIMIC_ADMIN_ALLOWED_EMAILS")),
            "allowed_domains": split(env.get("MIMIC_ADMIN_ALLOWED_DOMAINS")),
            "allowed_hosts": split(env.get("MIMIC_ADMIN_ALLOWED_HOSTS")),
            "secure_cookies": env.get("MIMIC_ADMIN_SECURE_COOKIES", "").strip().lower() in TRUE,
            "session_secret": env.get("MIMIC_ADMIN_SESSION_SECRET") or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

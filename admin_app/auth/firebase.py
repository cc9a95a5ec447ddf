"""Firebase sign-in: verify an ID token with firebase-admin and decide whether its user may enter.

Verification-only: the firebase-admin app gets an anonymous credential and the project id, no
service account. Verifying fetches Google's signing certificates over HTTP (cached per their
Cache-Control), so `verify` blocks: call it in a worker thread.
"""
from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from typing import Any

import firebase_admin
from firebase_admin import auth as fb_auth
from firebase_admin import credentials
from google.auth.credentials import AnonymousCredentials

from ..settings import AdminSettings
from .sessions import User

EMULATOR_ENV = "FIREBASE_AUTH_EMULATOR_HOST"
ANY = "*"  # in the allow-list: any user of the project whose email is verified
_apps = itertools.count(1)


class AuthConfigError(RuntimeError):
    """The admin app's authentication is configured in a way it refuses to run with."""


class FirebaseLoginError(Exception):
    """A sign-in refused: `status` 401 (bad token), 403 (not allowed), 503 (certificates unreachable)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _AnonymousCredential(credentials.Base):
    """No Google credential at all: enough to verify ID tokens, which needs only public certificates."""

    def get_credential(self) -> AnonymousCredentials:
        return AnonymousCredentials()


def emulator_host() -> str | None:
    return os.environ.get(EMULATOR_ENV) or None


def check_emulator_guard(settings: AdminSettings) -> None:
    """With the Auth Emulator variable set, firebase-admin skips signature and expiry checks: accept
    that only for `demo-` projects, which exist only in emulators."""
    host = emulator_host()
    if host and settings.firebase_project and not settings.firebase_project.startswith("demo-"):
        raise AuthConfigError(
            f"{EMULATOR_ENV}={host} is set, which turns off Firebase ID token signature checks, but the "
            f"Firebase project {settings.firebase_project!r} is not a demo project: unset {EMULATOR_ENV} "
            "or use a project id starting with 'demo-'")


@dataclass(frozen=True)
class WebConfig:
    """What the login page's JS SDK needs (all public)."""

    api_key: str
    auth_domain: str
    project_id: str
    emulator: str  # "http://host:port" of the Auth Emulator, or ""


class FirebaseLogin:
    def __init__(self, settings: AdminSettings) -> None:
        assert settings.firebase_project
        check_emulator_guard(settings)
        self.project = settings.firebase_project
        emails = frozenset(e.lower() for e in settings.allowed_emails)
        domains = frozenset(d.lower().lstrip("@") for d in settings.allowed_domains)
        # anyone holding the project's public web API key can create an account: never admit them all
        # by default. "*" says so explicitly (any user whose email is verified).
        self.any_verified = ANY in emails or ANY in domains
        self.allowed_emails, self.allowed_domains = emails - {ANY}, domains - {ANY}
        if not (self.any_verified or self.allowed_emails or self.allowed_domains):
            raise AuthConfigError(
                f"Firebase project {self.project!r} is configured without an allow-list, which would let anyone "
                "who signs up to the project in: set who may sign in with --set mimic_admin_allowed="
                "'ada@example.com,@example.org' (or MIMIC_ADMIN_ALLOWED_EMAILS / MIMIC_ADMIN_ALLOWED_DOMAINS), "
                "or '*' to admit every user of the project whose email is verified")
        host = emulator_host()
        api_key = settings.firebase_api_key or ("demo-api-key" if host else "")
        if not api_key:
            raise AuthConfigError(
                f"Firebase project {self.project!r} is configured without its web API key: set "
                "MIMIC_FIREBASE_API_KEY (the apiKey of the project's web app config)")
        self.web = WebConfig(api_key, settings.firebase_auth_domain or f"{self.project}.firebaseapp.com",
                             self.project, f"http://{host}" if host else "")
        # an app of our own (unique name): never the process's default app, which its owner configures
        self.app = firebase_admin.initialize_app(_AnonymousCredential(), {"projectId": self.project},
                                                 name=f"mimic-admin-{next(_apps)}")

    def close(self) -> None:
        firebase_admin.delete_app(self.app)

    def verify(self, id_token: str) -> User:
        """The user of a valid, allowed ID token; else FirebaseLoginError (blocking: run in a thread)."""
        if not isinstance(id_token, str) or not id_token:
            raise FirebaseLoginError(401, "no Firebase ID token was sent")
        try:
            claims = fb_auth.verify_id_token(id_token, app=self.app)
        except fb_auth.ExpiredIdTokenError:
            raise FirebaseLoginError(401, "the Firebase ID token has expired: sign in again") from None
        except fb_auth.CertificateFetchError as e:
            raise FirebaseLoginError(503, f"cannot fetch Firebase's signing certificates to check the sign-in: {e}") \
                from None
        except (fb_auth.InvalidIdTokenError, ValueError) as e:
            raise FirebaseLoginError(401, f"the Firebase ID token is not valid: {e}") from None
        return self.admit(claims)

    def admit(self, claims: dict[str, Any]) -> User:
        """Apply the allow-lists to verified claims. The email must always be verified: anyone can sign
        up with an address they do not own."""
        email = str(claims.get("email") or "").lower()
        name = str(claims.get("name") or email or claims.get("uid") or claims.get("sub") or "firebase user")
        if not email:
            raise FirebaseLoginError(403, "this Firebase account has no email address, and only accounts with "
                                          "a verified email may sign in")
        if claims.get("email_verified") is not True:
            raise FirebaseLoginError(403, f"the email address {email} is not verified yet")
        domain = email.rpartition("@")[2]
        if not self.any_verified and email not in self.allowed_emails and domain not in self.allowed_domains:
            raise FirebaseLoginError(403, f"{email} is not allowed to use this Mimic admin")
        return User(name=name, email=email, method="firebase")

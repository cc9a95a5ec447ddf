"""Firebase sign-in, verified for real and offline: firebase-admin's own RS256 verification of ID tokens
signed by a key of ours, whose certificate a loopback HTTP server publishes the way Google does
({kid: PEM certificate}, with Cache-Control). Only the certificate URL is redirected, in the test setup.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from admin.conftest import csrf_of
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from firebase_admin import _token_gen
from starlette.testclient import TestClient

from admin_app.app import create_app
from admin_app.auth import SESSION_COOKIE, AuthConfigError
from admin_app.auth.firebase import EMULATOR_ENV, FirebaseLogin, FirebaseLoginError
from admin_app.live import LiveHub
from admin_app.settings import AdminSettings

PROJECT = "mimic-verify-test"
BASE = "http://127.0.0.1:8081"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def self_signed(key: rsa.RSAPrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "securetoken.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class CertServer:
    url: str
    key: rsa.RSAPrivateKey
    kid: str
    fetches: list[str]

    def token(self, *, key: rsa.RSAPrivateKey | None = None, kid: str | None = None, **claims: Any) -> str:
        """An ID token as Firebase Auth would issue it for PROJECT, with `claims` overriding the defaults."""
        now = int(time.time())
        payload = {"iss": f"https://securetoken.google.com/{PROJECT}", "aud": PROJECT, "sub": "uid-ada",
                   "iat": now - 10, "exp": now + 3600, "auth_time": now - 10, "email": "ada@example.com",
                   "email_verified": True, "name": "Ada Lovelace",
                   "firebase": {"sign_in_provider": "password", "identities": {}}}
        payload.update(claims)
        pem = (key or self.key).private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())
        return jwt.encode(payload, pem, algorithm="RS256", headers={"kid": kid or self.kid})


@pytest.fixture
def certs(monkeypatch) -> Iterator[CertServer]:
    """Publishes our signing certificate on loopback and points firebase-admin's ID-token certificate URL
    at it (read when a firebase-admin app first verifies a token)."""
    key, kid = rsa_key(), "test-kid-1"
    body = json.dumps({kid: self_signed(key)}).encode()
    fetches: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetches.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Cache-Control", "public, max-age=3600")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", EMULATOR_ENV):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(_token_gen, "ID_TOKEN_CERT_URI", url)
    try:
        yield CertServer(url, key, kid, fetches)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def verifier(**settings: Any) -> FirebaseLogin:
    """A verifier for PROJECT; unless told otherwise any verified user may enter (allow-list `*`)."""
    if "allowed_emails" not in settings and "allowed_domains" not in settings:
        settings["allowed_emails"] = ("*",)
    return FirebaseLogin(AdminSettings(firebase_project=PROJECT, firebase_api_key="web-key", **settings))


def refusal(login: FirebaseLogin, token: str) -> FirebaseLoginError:
    with pytest.raises(FirebaseLoginError) as e:
        login.verify(token)
    return e.value


# -- firebase-admin's verification, against our certificates ------------------------------------------------
def test_a_valid_token_is_verified_with_the_published_certificate(certs):
    login = verifier()
    user = login.verify(certs.token())
    assert (user.name, user.email, user.method) == ("Ada Lovelace", "ada@example.com", "firebase")
    assert certs.fetches  # the signature really was checked against what the server published
    login.verify(certs.token(sub="uid-grace", email="grace@example.com"))
    assert len(certs.fetches) == 1  # and its Cache-Control honoured: fetched once


def test_an_expired_token_is_refused(certs):
    now = int(time.time())
    e = refusal(verifier(), certs.token(iat=now - 7200, auth_time=now - 7200, exp=now - 3600))
    assert e.status == 401 and "expired" in e.message


def test_a_forged_signature_is_refused(certs):
    e = refusal(verifier(), certs.token(key=rsa_key()))  # same kid, someone else's key
    assert e.status == 401 and "not valid" in e.message
    good = certs.token()
    header, _, signature = good.split(".")
    tampered = jwt.utils.base64url_encode(json.dumps({**jwt.decode(good, options={"verify_signature": False}),
                                                      "email": "mallory@example.com"}).encode()).decode()
    assert refusal(verifier(), f"{header}.{tampered}.{signature}").status == 401


def test_a_wrong_audience_is_refused(certs):
    e = refusal(verifier(), certs.token(aud="another-project"))
    assert e.status == 401 and "audience" in e.message


def test_a_wrong_issuer_is_refused(certs):
    e = refusal(verifier(), certs.token(iss="https://securetoken.google.com/another-project"))
    assert e.status == 401 and "issuer" in e.message


def test_an_unknown_key_id_is_refused(certs):
    e = refusal(verifier(), certs.token(kid="some-other-kid"))
    assert e.status == 401 and "not valid" in e.message


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c"])
def test_garbage_is_refused(certs, token):
    assert refusal(verifier(), token).status == 401


def test_an_unreachable_certificate_server_is_a_503(certs, monkeypatch):
    import socket
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(_token_gen, "ID_TOKEN_CERT_URI", f"http://127.0.0.1:{port}/certs")
    e = refusal(verifier(), certs.token())
    assert e.status == 503 and "certificates" in e.message


# -- who may enter -------------------------------------------------------------------------------------------
def test_allowed_emails_and_domains(certs):
    login = verifier(allowed_emails=("ada@example.com",), allowed_domains=("team.example",))
    assert login.verify(certs.token(email="Ada@Example.com")).email == "ada@example.com"
    assert login.verify(certs.token(email="bob@team.example")).email == "bob@team.example"
    for email in ("eve@example.com", "bob@sub.team.example", "bob@team.example.evil"):
        e = refusal(login, certs.token(email=email))
        assert e.status == 403 and "not allowed" in e.message, email


def test_with_allow_lists_the_email_must_be_verified(certs):
    login = verifier(allowed_domains=("example.com",))
    e = refusal(login, certs.token(email_verified=False))
    assert e.status == 403 and "not verified" in e.message
    e = refusal(login, certs.token(email=None, firebase={"sign_in_provider": "phone"}))
    assert e.status == 403 and "no email" in e.message


def test_without_an_allow_list_firebase_refuses_to_start(admin_env, monkeypatch):
    """Anyone with the project's public web API key can sign up: an empty allow-list admits nobody's guess."""
    monkeypatch.delenv(EMULATOR_ENV, raising=False)
    for var in ("MIMIC_ADMIN_ALLOWED_EMAILS", "MIMIC_ADMIN_ALLOWED_DOMAINS"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(AuthConfigError, match=r"without an allow-list.*mimic_admin_allowed.*'\*'"):
        verifier(allowed_emails=(), allowed_domains=())
    settings = AdminSettings.from_env(token="t" * 20, firebase_project=PROJECT, firebase_api_key="k")
    with pytest.raises(AuthConfigError, match="allow-list"):
        create_app(settings, admin_env.store, admin_env.control, LiveHub())


@pytest.mark.parametrize("how", ["option", "env emails", "env domains"])
def test_star_admits_any_verified_user_of_the_project(certs, monkeypatch, how):
    from mimic_addon.control.admin_server import AdminServer, Bind

    for var in ("MIMIC_ADMIN_ALLOWED_EMAILS", "MIMIC_ADMIN_ALLOWED_DOMAINS"):
        monkeypatch.delenv(var, raising=False)
    if how == "option":  # --set mimic_admin_allowed=*
        settings = AdminServer.settings(Bind("127.0.0.1", 8081), "", PROJECT, "*")
    else:
        monkeypatch.setenv("MIMIC_ADMIN_ALLOWED_" + how.split()[1].upper(), "*")
        settings = AdminSettings.from_env(firebase_project=PROJECT)
    login = FirebaseLogin(AdminSettings(**{**settings.__dict__, "firebase_api_key": "web-key"}))
    assert login.verify(certs.token(email="anyone@anywhere.example")).email == "anyone@anywhere.example"
    e = refusal(login, certs.token(email_verified=False))
    assert e.status == 403 and "not verified" in e.message
    e = refusal(login, certs.token(email=None, firebase={"sign_in_provider": "phone"}))
    assert e.status == 403 and "no email" in e.message


# -- through the app -----------------------------------------------------------------------------------------
@pytest.fixture
def firebase_app(admin_env, certs) -> Iterator[TestClient]:
    settings = AdminSettings(token="unused-token-0123456789", firebase_project=PROJECT, firebase_api_key="web-key",
                             allowed_domains=("example.com",))
    app = create_app(settings, admin_env.store, admin_env.control, LiveHub())
    with TestClient(app, base_url=BASE) as c:
        yield c


def sign_in(c: TestClient, token: str, **extra: Any):
    csrf = csrf_of(c.get("/login").text)
    return c.post("/auth/firebase", json={"id_token": token, **extra}, headers={"X-CSRF-Token": csrf})


def test_the_login_page_offers_firebase_with_its_config_and_a_csp_for_it(firebase_app):
    page = firebase_app.get("/login")
    assert 'id="firebase-login"' in page.text and 'data-project-id="mimic-verify-test"' in page.text
    assert 'data-api-key="web-key"' in page.text and 'data-emulator=""' in page.text
    assert '/static/vendor/firebase-auth-compat.js' in page.text and "gstatic" not in page.text
    csp = page.headers["content-security-policy"]
    assert "https://identitytoolkit.googleapis.com" in csp and "https://securetoken.googleapis.com" in csp
    other = firebase_app.get("/")  # the other pages do not open up for Firebase
    assert "googleapis" not in other.headers["content-security-policy"]


def test_a_firebase_sign_in_opens_a_session(firebase_app, certs):
    r = sign_in(firebase_app, certs.token(), next="/explorer")
    assert r.status_code == 200, r.text
    assert r.json() == {"user": {"name": "Ada Lovelace", "email": "ada@example.com", "method": "firebase"},
                        "next": "/explorer"}
    assert SESSION_COOKIE in r.headers["set-cookie"]
    assert firebase_app.get("/api/session").json()["user"] == r.json()["user"]
    assert firebase_app.get("/deck").status_code == 200


@pytest.mark.parametrize("case,status", [("expired", 401), ("forged", 401), ("outsider", 403), ("no csrf", 403)])
def test_refused_firebase_sign_ins_open_no_session(firebase_app, certs, case, status):
    now = int(time.time())
    if case == "no csrf":
        firebase_app.get("/login")
        r = firebase_app.post("/auth/firebase", json={"id_token": certs.token()})
    else:
        token = {"expired": lambda: certs.token(iat=now - 7200, auth_time=now - 7200, exp=now - 1),
                 "forged": lambda: certs.token(key=rsa_key()),
                 "outsider": lambda: certs.token(email="eve@elsewhere.example")}[case]()
        r = sign_in(firebase_app, token)
    assert r.status_code == status and r.json()["error"]
    assert SESSION_COOKIE not in r.headers.get("set-cookie", "")
    assert firebase_app.get("/api/session").status_code == 401


def test_certificate_server_down_answers_503_through_the_app(admin_env, certs, monkeypatch):
    monkeypatch.setattr(_token_gen, "ID_TOKEN_CERT_URI", "http://127.0.0.1:9/certs")  # discard port: refused
    settings = AdminSettings(token="unused-token-0123456789", firebase_project=PROJECT, firebase_api_key="k",
                             allowed_emails=("*",))
    with TestClient(create_app(settings, admin_env.store, admin_env.control, LiveHub()), base_url=BASE) as c:
        r = sign_in(c, certs.token())
        assert r.status_code == 503 and "certificates" in r.json()["error"]


def test_verification_runs_in_a_worker_thread(firebase_app, certs, monkeypatch):
    """Fetching certificates blocks: it must never run on the event loop."""
    seen: list[bool] = []
    original = FirebaseLogin.verify

    def spy(self: FirebaseLogin, token: str):
        try:
            asyncio.get_running_loop()
            seen.append(True)
        except RuntimeError:
            seen.append(False)
        return original(self, token)

    monkeypatch.setattr(FirebaseLogin, "verify", spy)
    assert sign_in(firebase_app, certs.token()).status_code == 200
    assert seen == [False]


# -- configuration ---------------------------------------------------------------------------------------------
def test_the_emulator_variable_is_refused_for_a_real_project(admin_env, monkeypatch):
    monkeypatch.setenv(EMULATOR_ENV, "127.0.0.1:9099")
    settings = AdminSettings(token="t" * 20, firebase_project="my-real-project", firebase_api_key="k")
    with pytest.raises(AuthConfigError, match="demo-"):
        create_app(settings, admin_env.store, admin_env.control, LiveHub())


def test_the_emulator_is_fine_for_a_demo_project_and_the_page_learns_its_host(admin_env, monkeypatch):
    monkeypatch.setenv(EMULATOR_ENV, "127.0.0.1:9099")
    settings = AdminSettings(token="t" * 20, firebase_project="demo-mimic", allowed_emails=("*",))
    with TestClient(create_app(settings, admin_env.store, admin_env.control, LiveHub()), base_url=BASE) as c:
        page = c.get("/login")
        assert 'data-emulator="http://127.0.0.1:9099"' in page.text and "Auth Emulator" in page.text
        assert "http://127.0.0.1:9099" in page.headers["content-security-policy"]


def test_a_real_project_needs_its_web_api_key(admin_env, monkeypatch):
    monkeypatch.delenv(EMULATOR_ENV, raising=False)
    with pytest.raises(AuthConfigError, match="MIMIC_FIREBASE_API_KEY"):
        create_app(AdminSettings(token="t" * 20, firebase_project="my-real-project", allowed_emails=("*",)),
                   admin_env.store, admin_env.control, LiveHub())


def test_a_flood_of_bad_id_tokens_holds_up_its_sender_only(admin_env, certs):
    """Issue 16: one client sends forged ID tokens; it must wait (429, Retry-After), and a valid sign-in from
    another client is verified and admitted meanwhile."""
    settings = AdminSettings(token="unused-token-0123456789", firebase_project=PROJECT, firebase_api_key="web-key",
                             allowed_domains=("example.com",))
    app = create_app(settings, admin_env.store, admin_env.control, LiveHub())
    forged = certs.token(key=rsa_key())
    with TestClient(app, base_url=BASE, client=("10.0.0.66", 1)) as flooder, \
            TestClient(app, base_url=BASE, client=("10.0.0.7", 1)) as other:
        codes = [sign_in(flooder, forged).status_code for _ in range(20)]
        assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}, codes
        r = sign_in(flooder, forged)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and "try again" in r.json()["error"]
        r = sign_in(other, certs.token())
        assert r.status_code == 200, r.text
        assert other.get("/api/session").json()["user"]["email"] == "ada@example.com"
